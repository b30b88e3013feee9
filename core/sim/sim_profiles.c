/* Simulator profiles (design.md 5) and the USB descriptors built from them. */
#include <stdio.h>
#include <string.h>

#include "sim/sim_int.h"

/* Little-endian 32-bit word in a byte-array initializer. */
#define W32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)
/* A 32-bit option word followed by its complement (flash-resident option bytes). */
#define WC(v) W32(v), W32(~(uint32_t)(v))

#define KB(n) ((uint32_t)(n)*1024u)

/* ---- option-byte blocks (protocol.md 6, the codecs in scripts/stm32 and scripts/gd32) ---- */

/*
 * STM32H7 register image from FLASH_OPTSR_CUR (0x5200201C): CUR/PRG pairs of OPTSR (RDP in
 * bits 15:8), PRAR, SCAR, WPSN, BOOT; OPTCCR at +8 reads 0. H7A3/B3 (RM0455) keeps the same
 * order and adds the bank-2 registers further up (PRAR_CUR2 +268, SCAR_CUR2 +276,
 * WPSGN_CUR2 +284) in its 297-byte block.
 */
static const uint8_t h7_ob_defaults[128] = {
    [0] = W32(0x0006AAD0),  W32(0x0006AAD0), /* IWDG sw, nRST_STOP/STBY, RDP 0xAA */
    [12] = W32(0x000000FF), W32(0x000000FF), /* PRAR: start > end, no PCROP area */
    [20] = W32(0x000000FF), W32(0x000000FF), /* SCAR: no secure area */
    [28] = W32(0x000000FF), W32(0x000000FF), /* WPSN: no bank-1 sector protected */
    [36] = W32(0x1FF00800), W32(0x1FF00800), /* BOOT_ADD0 0x0800, BOOT_ADD1 0x1FF0 (ROM) */
};
static const uint16_t h7_pairs[] = {0, 12, 20, 28, 36, 0xFFFF};

static const struct sim_ob_model h7_ob = {
    .zone = {{0x5200201C, 128, h7_ob_defaults}},
    .nzones = 1,
    .rdp_off = 1,
    .rdp_mirror = 5,
    .rdp_compl = -1,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_BITS, 0, {28}, 8, 0, 1, 0, 0}},
    .write = SIM_OBW_CUR_PRG,
    .pairs = h7_pairs,
    .clear_off = 8,
    .boot = SIM_BOOT_H7,
    .boot_off = 36,
    .addr_off = -1,
    .layout_off = -1,
};

static const uint8_t h7a3_ob_defaults[297] = {
    [0] = W32(0x0006AAD0),   W32(0x0006AAD0), [12] = W32(0x000000FF),  W32(0x000000FF),
    [20] = W32(0x000000FF),  W32(0x000000FF), [28] = W32(0xFFFFFFFF),  W32(0xFFFFFFFF),
    [36] = W32(0x1FF00800),  W32(0x1FF00800), [268] = W32(0x000000FF), W32(0x000000FF),
    [276] = W32(0x000000FF), W32(0x000000FF), [284] = W32(0xFFFFFFFF), W32(0xFFFFFFFF),
};
static const uint16_t h7a3_pairs[] = {0, 12, 20, 28, 36, 268, 276, 284, 0xFFFF};

static const struct sim_ob_model h7a3_ob = {
    .zone = {{0x5200201C, 297, h7a3_ob_defaults}},
    .nzones = 1,
    .rdp_off = 1,
    .rdp_mirror = 5,
    .rdp_compl = -1,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    /* WPSGN: one bit per group of four 8 KiB sectors, bank 1 then bank 2 (sector 128 on) */
    .wrp = {{SIM_WRP_BITS, 0, {28, 29, 30, 31}, 32, 0, 4, 0, 0},
            {SIM_WRP_BITS, 0, {284, 285, 286, 287}, 32, 0, 4, 128, 0}},
    .write = SIM_OBW_CUR_PRG,
    .pairs = h7a3_pairs,
    .clear_off = 8,
    .boot = SIM_BOOT_H7,
    .boot_off = 36,
    .addr_off = -1,
    .layout_off = -1,
};

/* STM32F2/F4 16-byte block at 0x1FFFC000: USER, RDP, their complements, nWRP (12 sectors on
 * the F405, 8 on the F411). */
static const uint8_t f4_ob_defaults[16] = {0xEC, 0xAA, 0x13, 0x55, 0xFF, 0xFF, 0xFF, 0xFF,
                                           0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF};

static const struct sim_ob_model f405_ob = {
    .zone = {{0x1FFFC000, 16, f4_ob_defaults}},
    .nzones = 1,
    .rdp_off = 1,
    .rdp_mirror = -1,
    .rdp_compl = 3,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_BITS, 0, {8, 9}, 12, 0, 1, 0, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_PIN,
    .addr_off = -1,
    .layout_off = -1,
};

static const struct sim_ob_model f411_ob = {
    .zone = {{0x1FFFC000, 16, f4_ob_defaults}},
    .nzones = 1,
    .rdp_off = 1,
    .rdp_mirror = -1,
    .rdp_compl = 3,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_BITS, 0, {8}, 8, 0, 1, 0, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_PIN,
    .addr_off = -1,
    .layout_off = -1,
};

/* STM32F0 (RM0091) and GD32VF103: 16 bytes at 0x1FFFF800, each byte followed by its
 * complement: RDP (GD32: SPC), USER, DATA0, DATA1, WRP0-3. F07x: one WRP bit per 2 pages
 * of 2 KiB; GD32VF103: per 4 pages of 1 KiB. */
static const uint8_t f0_ob_defaults[16] = {0xAA, 0x55, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
                                           0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00};
static const uint8_t gd32_ob_defaults[16] = {0xA5, 0x5A, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
                                             0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00};

static const struct sim_ob_model f0_ob = {
    .zone = {{0x1FFFF800, 16, f0_ob_defaults}},
    .nzones = 1,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = 1,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_BITS, 0, {8, 10, 12, 14}, 32, 0, 2, 0, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_PIN,
    .addr_off = -1,
    .layout_off = -1,
};

static const struct sim_ob_model gd32_ob = {
    .zone = {{0x1FFFF800, 16, gd32_ob_defaults}},
    .nzones = 1,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = 1,
    .rdp_l0 = 0xA5,
    .has_l2 = 0,
    .wrp = {{SIM_WRP_BITS, 0, {8, 10, 12, 14}, 32, 0, 4, 0, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_PIN,
    .addr_off = -1,
    .layout_off = -1,
};

/* STM32F76x/77x (RM0410) 32 bytes at 0x1FFF0000: USER, RDP (+complements); the upper half of
 * OPTCR: nWRP[11:0], nDBOOT, nDBANK, IWDG_STDBY, IWDG_STOP (+complements); BOOT_ADD0 and
 * BOOT_ADD1 (address bits 29:14, +complements). nDBANK = 0 selects the dual-bank layout, in
 * which nWRP bit i protects sector i of each bank. */
static const uint8_t f7_ob_defaults[32] = {
    0xFC, 0xAA, 0x03, 0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
    0x80, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x40, 0x00, 0xBF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

static const struct sim_ob_model f7_ob = {
    .zone = {{0x1FFF0000, 32, f7_ob_defaults}},
    .nzones = 1,
    .rdp_off = 1,
    .rdp_mirror = -1,
    .rdp_compl = 3,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_BITS, 0, {8, 9}, 12, 0, 1, 0, 0},
            {SIM_WRP_BITS, 0, {8, 9}, 12, 0, 1, 12, 0x2}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_F7,
    .boot_off = 16,
    .addr_off = -1,
    .layout_off = 9,
    .layout_bit = 5,
    .layout_val = 0,
};

/*
 * Flash-resident option words, each followed by its complement (L4, G4, G0, C0). Zone 0 at
 * 0x1FFF7800 starts with FLASH_OPTR (RDP in bits 7:0); the write-protection areas are
 * WRPxyR words (first page in the low bits, last page from bit 16). Dual-bank parts have a
 * second zone at 0x1FFFF800 for bank 2.
 */
static const uint8_t l4_ob_zone1[40] = {WC(0xFFEFF8AA), WC(0xFFFF), WC(0x0000), WC(0x000000FF),
                                        WC(0x000000FF)};
static const uint8_t l4_ob_zone2[40] = {WC(0xFFFFFFFF), WC(0xFFFF), WC(0x0000), WC(0x000000FF),
                                        WC(0x000000FF)};

static const struct sim_ob_model l476_ob = {
    .zone = {{0x1FFF7800, 40, l4_ob_zone1}, {0x1FFFF800, 40, l4_ob_zone2}},
    .nzones = 2,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = 4,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_RANGE, 0, {0x18}, 8, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 0, {0x20}, 8, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 1, {0x18}, 8, 16, 0, 256, 0},
            {SIM_WRP_RANGE, 1, {0x20}, 8, 16, 0, 256, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_PIN,
    .addr_off = -1,
    .layout_off = -1,
};

static const uint8_t g4_ob_zone1[48] = {WC(0xFFEFF8AA), WC(0x00007FFF), WC(0x0000),
                                        WC(0x0000007F), WC(0x0000007F), WC(0x00000000)};
static const uint8_t g4_ob_zone2[48] = {WC(0xFFFFFFFF), WC(0x00007FFF), WC(0x0000),
                                        WC(0x0000007F), WC(0x0000007F), WC(0x00000000)};

static const struct sim_ob_model g474_ob = {
    .zone = {{0x1FFF7800, 48, g4_ob_zone1}, {0x1FFFF800, 48, g4_ob_zone2}},
    .nzones = 2,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = 4,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_RANGE, 0, {0x18}, 7, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 0, {0x20}, 7, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 1, {0x18}, 7, 16, 0, 128, 0},
            {SIM_WRP_RANGE, 1, {0x20}, 7, 16, 0, 128, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_OPTR,
    .boot_off = 0,
    .sel_bit = 26, /* nSWBOOT0 = 1: the BOOT0 pin decides */
    .sel_pin = 1,
    .nboot0_bit = 27,
    .addr_off = -1,
    .layout_off = -1,
};

/* G0B1/G0C1 and C0: 128 bytes at 0x1FFF7800 (OPTR, PCROP/WRP areas of both banks, SECR at
 * +0x70). nBOOT_SEL = 1 (the default) ignores the BOOT0 pin; an erased flash boots the ROM. */
static const uint8_t g0_ob_defaults[128] = {
    WC(0xDFFFE1AA), WC(0x000000FF), WC(0x00000000), WC(0x0000007F), WC(0x0000007F), WC(0x000000FF),
    WC(0x00000000), WC(0x000000FF), WC(0x00000000), WC(0x0000007F), WC(0x0000007F), WC(0x000000FF),
    WC(0x00000000), WC(0xFFFFFFFF), WC(0x00000000), WC(0xFFFFFFFF),
};

static const struct sim_ob_model g0_ob = {
    .zone = {{0x1FFF7800, 128, g0_ob_defaults}},
    .nzones = 1,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = 4,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_RANGE, 0, {0x18}, 7, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 0, {0x20}, 7, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 0, {0x48}, 7, 16, 0, 128, 0},
            {SIM_WRP_RANGE, 0, {0x50}, 7, 16, 0, 128, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_OPTR,
    .boot_off = 0,
    .sel_bit = 24, /* nBOOT_SEL = 0: the BOOT0 pin decides */
    .sel_pin = 0,
    .nboot0_bit = 26,
    .addr_off = -1,
    .empty_check = 1,
    .layout_off = -1,
};

static const struct sim_ob_model c0_ob = {
    .zone = {{0x1FFF7800, 128, g0_ob_defaults}},
    .nzones = 1,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = 4,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_RANGE, 0, {0x18}, 7, 16, 0, 0, 0}, {SIM_WRP_RANGE, 0, {0x20}, 7, 16, 0, 0, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_OPTR,
    .boot_off = 0,
    .sel_bit = 24,
    .sel_pin = 0,
    .nboot0_bit = 26,
    .addr_off = -1,
    .empty_check = 1,
    .layout_off = -1,
};

/* STM32U5 (RM0456): the 64-byte register image from FLASH_OPTR (0x40022040): OPTR,
 * NSBOOTADD0R/1R, SECBOOTADD0R, SECWM1R1/2, WRP1AR/BR, SECWM2R1/2, WRP2AR/BR, OEM keys. */
static const uint8_t u5_ob_defaults[64] = {
    W32(0x1FEFF8AA), W32(0x0800007F), W32(0x0BF9007F), W32(0x0C00007C),
    W32(0x0000007F), W32(0x0000FF00), W32(0x8000007F), W32(0x8000007F),
    W32(0x0000007F), W32(0x0000FF00), W32(0x8000007F), W32(0x8000007F),
};

static const struct sim_ob_model u5_ob = {
    .zone = {{0x40022040, 64, u5_ob_defaults}},
    .nzones = 1,
    .rdp_off = 0,
    .rdp_mirror = -1,
    .rdp_compl = -1,
    .rdp_l0 = 0xAA,
    .has_l2 = 1,
    .wrp = {{SIM_WRP_RANGE, 0, {0x18}, 7, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 0, {0x1C}, 7, 16, 0, 0, 0},
            {SIM_WRP_RANGE, 0, {0x28}, 7, 16, 0, 128, 0},
            {SIM_WRP_RANGE, 0, {0x2C}, 7, 16, 0, 128, 0}},
    .write = SIM_OBW_COPY,
    .clear_off = -1,
    .boot = SIM_BOOT_OPTR,
    .boot_off = 0,
    .sel_bit = 26,
    .sel_pin = 1,
    .nboot0_bit = 27,
    .addr_off = 4,
    .layout_off = -1,
};

/* ---- profiles (design.md 5; the facts and their sources: doc/families.md) ---- */

/* The USB identity every ST ROM in DFU mode reports (AN3156): 0483:df11, DfuSe, detach
 * timeout 255 ms, attributes 0x0B. */
#define ST_ROM_USB                                                                                 \
    .vid = 0x0483, .pid = 0xDF11, .bcd_dfu = 0x011A, .detach_ms = 255, .attrs = 0x0B,              \
    .manufacturer = "STMicroelectronics"

/*
 * STM32H753, ROM V9.0 (ID 0x90). System memory 0x1FF00000-0x1FF1FFFF holds the ID byte at
 * 0x1FF1E7FE and the UID at 0x1FF1E800. Mass erase: both banks, about twice the worst-case
 * bank erase (inferred).
 */
static const struct sim_profile h753 = {
    .name = "stm32h753",
    ST_ROM_USB,
    .bcd_device = 0x0200,
    .transfer_size = 1024,
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/16*128Kg", "@Option Bytes   /0x5200201C/01*128 e"},
    .nalts = 2,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{16, KB(128)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, 0x20000, KB(16)}, {0x24000000, 0x80000, KB(208)}},
    .nram = 2,
    .sys_base = 0x1FF00000,
    .sys_size = 0x20000,
    .id_addr = 0x1FF1E7FE,
    .id = 0x90,
    .uid_addr = 0x1FF1E800,
    .uid = {0x00320041, 0x3138510B, 0x33373836},
    .flash_kib_off = 0x80,
    .ob = &h7_ob,
    .prog_unit = 32,
    .align = 8,
    .prog_once = 1,
    .prog_us = 16,
    .erase = {{0, 1100000, 1100000}},
    .poll_setaddr = 1,
    .poll_erase = 1100,
    .poll_write = 5,
    .poll_mass = 1100,
    .poll_manifest = 1,
    .mass_us = 4400000,
    .ob_us = 200000,
    .connect_ms = 54,
    .rom_msp = 0x20003FE0,
    .bugs = {{0x90, 0x92, SIM_BUG_SP_MARGIN, 16, 0},
             {0xD2, 0xD2, SIM_BUG_GO_BROKEN, 0, 0},
             {0x91, 0x91, SIM_BUG_ERASE_BUSY, 8, 0},
             {0x91, 0x9F, SIM_BUG_ROM_RAM, KB(20), 0x24000000}},
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32F405, ROM V3.1 (ID 0x31). "Device Feature" byte 0 = 0x03 switches the ROM from x8 to
 * x32 parallelism. UID at 0x1FFF7A10 (outside system memory; own read-only region).
 */
static const struct sim_profile f405 = {
    .name = "stm32f405",
    ST_ROM_USB,
    .bcd_device = 0x2200,
    .transfer_size = 2048,
    .product = "STM32  BOOTLOADER",
    .alts = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
             "@Option Bytes  /0x1FFFC000/01*016 e", "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
             "@Device Feature/0xFFFF0000/01*004 e"},
    .nalts = 4,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{4, KB(16)}, {1, KB(64)}, {7, KB(128)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, 0x20000, KB(12)}},
    .nram = 1,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7800,
    .id_addr = 0x1FFF77DE,
    .id = 0x31,
    .uid_addr = 0x1FFF7A10,
    .uid = {0x003A0027, 0x3436470F, 0x36383133},
    .flash_kib_off = 0x12,
    .ob = &f405_ob,
    .otp_base = 0x1FFF7800,
    .otp_size = 528,
    .feat_base = 0xFFFF0000,
    .feat_size = 4,
    .prog_unit = 1,
    .unit_feat = 4,
    .align = 4,
    .prog_us = 16,
    .erase = {{KB(16), 400000, 250000}, {KB(64), 1200000, 550000}, {0, 2000000, 1000000}},
    .poll_setaddr = 100,
    .poll_erase = 100,
    .poll_write = 104,
    .poll_mass = 100,
    .poll_manifest = 104,
    .mass_us = 16000000,
    .ob_us = 100000,
    .connect_ms = 250,
    .rom_msp = 0x20002FE0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32F07x, ROM V10.1 (ID 0xA1 at 0x1FFFF6A6). Cortex-M0: half-word programming, 64 pages
 * of 2 KiB, 16 KiB of RAM of which the ROM uses 6 KiB. System memory 0x1FFFC800-0x1FFFF7FF.
 */
static const struct sim_profile f072 = {
    .name = "stm32f072",
    ST_ROM_USB,
    .bcd_device = 0x2200,
    .transfer_size = 2048,
    .product = "STM32  BOOTLOADER",
    .alts = {"@Internal Flash  /0x08000000/064*0002Kg", "@Option Bytes  /0x1FFFF800/01*016 e"},
    .nalts = 2,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{64, KB(2)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(16), KB(6)}},
    .nram = 1,
    .sys_base = 0x1FFFC800,
    .sys_size = 0x3000,
    .id_addr = 0x1FFFF6A6,
    .id = 0xA1,
    .uid_addr = 0x1FFFF7AC,
    .uid = {0x0043002D, 0x3236510A, 0x20333634},
    .flash_kib_off = 0x20,
    .ob = &f0_ob,
    .prog_unit = 2,
    .align = 4,
    .prog_us = 53,
    .erase = {{0, 20000, 20000}},
    .poll_setaddr = 100,
    .poll_erase = 100,
    .poll_write = 104,
    .poll_mass = 100,
    .poll_manifest = 104,
    .mass_us = 20000,
    .ob_us = 40000,
    .connect_ms = 350,
    .rom_msp = 0x200017F0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32F411, ROM V13.0 (ID 0xD0 at 0x1FFF76DE). F4 sectors 4x16K, 64K, 3x128K; byte writes
 * until Device Feature selects x32. It enumerates in dfuERROR/errFIRMWARE (dfu-util ticket
 * 140); dnload_stall=N reproduces its stalled DNLOADs.
 */
static const struct sim_profile f411 = {
    .name = "stm32f411",
    ST_ROM_USB,
    .bcd_device = 0x2200,
    .transfer_size = 2048,
    .product = "STM32  BOOTLOADER",
    .alts = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg",
             "@Option Bytes  /0x1FFFC000/01*016 e", "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
             "@Device Feature/0xFFFF0000/01*004 e"},
    .nalts = 4,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{4, KB(16)}, {1, KB(64)}, {3, KB(128)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, 0x20000, KB(12)}},
    .nram = 1,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7800,
    .id_addr = 0x1FFF76DE,
    .id = 0xD0,
    .uid_addr = 0x1FFF7A10,
    .uid = {0x003F0036, 0x3134330A, 0x37353834},
    .flash_kib_off = 0x12,
    .ob = &f411_ob,
    .otp_base = 0x1FFF7800,
    .otp_size = 528,
    .feat_base = 0xFFFF0000,
    .feat_size = 4,
    .prog_unit = 1,
    .unit_feat = 4,
    .align = 4,
    .prog_us = 16,
    .erase = {{KB(16), 400000, 250000}, {KB(64), 1200000, 550000}, {0, 2000000, 1000000}},
    .poll_setaddr = 100,
    .poll_erase = 100,
    .poll_write = 104,
    .poll_mass = 100,
    .poll_manifest = 104,
    .mass_us = 8000000,
    .ob_us = 100000,
    .connect_ms = 250,
    .rom_msp = 0x20002FE0,
    .quirks = SIM_Q_BOOT_ERROR,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32F76x/77x, ROM V9.3 (ID 0x93 at 0x1FF0EDBE). 2 MiB as one bank (4x32K, 128K, 7x256K)
 * or, with nDBANK = 0, as two banks of 4x16K, 64K, 7x128K numbered 0-11 and 12-23. V9.3
 * erases sector i+4 when asked for bank-2 sector i (AN2606).
 */
static const struct sim_profile f767 = {
    .name = "stm32f767",
    ST_ROM_USB,
    .bcd_device = 0x2200,
    .transfer_size = 1024,
    .product = "STM32  BOOTLOADER",
    .alts = {"@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg",
             "@Option Bytes  /0x1FFF0000/01*032 e", "@OTP Memory /0x1FF0F000/01*1056 e",
             "@Device Feature/0xFFFF0000/01*004 e"},
    .nalts = 4,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{4, KB(32)}, {1, KB(128)}, {7, KB(256)}}},
                {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,"
                 "07*128Kg",
                 {{4, KB(16)}, {1, KB(64)}, {7, KB(128)}, {4, KB(16)}, {1, KB(64)}, {7, KB(128)}}}},
    .nlayouts = 2,
    .ram = {{0x20000000, 0x80000, KB(16)}},
    .nram = 1,
    .sys_base = 0x1FF00000,
    .sys_size = 0xEDC0,
    .id_addr = 0x1FF0EDBE,
    .id = 0x93,
    .uid_addr = 0x1FF0F420,
    .uid = {0x00290048, 0x3337510E, 0x31373037},
    .flash_kib_off = 0x22,
    .ob = &f7_ob,
    .otp_base = 0x1FF0F000,
    .otp_size = 1056,
    .feat_base = 0xFFFF0000,
    .feat_size = 4,
    .prog_unit = 1,
    .unit_feat = 4,
    .align = 8,
    .prog_us = 16,
    .erase = {{KB(16), 400000, 250000},
              {KB(32), 600000, 375000},
              {KB(64), 1200000, 550000},
              {KB(128), 2000000, 1000000},
              {0, 4000000, 2000000}},
    .poll_setaddr = 100,
    .poll_erase = 100,
    .poll_write = 104,
    .poll_mass = 100,
    .poll_manifest = 104,
    .mass_us = 32000000,
    .ob_us = 100000,
    .connect_ms = 230,
    .rom_msp = 0x20003FE0,
    .bugs = {{0x93, 0x93, SIM_BUG_ERASE_SHIFT, 12, 4}},
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32G0B1, ROM V9.2 (ID 0x92 at 0x1FFF9FFE, in the second part of system memory). 64-bit
 * programming, 256 pages of 2 KiB in two banks. Every alt setting reports the flash string
 * (the option bytes and OTP are still behind alts 1 and 2).
 */
static const struct sim_profile g0b1 = {
    .name = "stm32g0b1",
    ST_ROM_USB,
    .bcd_device = 0x0200,
    .transfer_size = 1024,
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/256*02Kg", "@Internal Flash   /0x08000000/256*02Kg",
             "@Internal Flash   /0x08000000/256*02Kg"},
    .nalts = 3,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{256, KB(2)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(144), KB(16)}},
    .nram = 1,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7000,
    .id_addr = 0x1FFF9FFE,
    .id = 0x92,
    .uid_addr = 0x1FFF7590,
    .uid = {0x00210041, 0x3134500C, 0x20373630},
    .flash_kib_off = 0x50,
    .ob = &g0_ob,
    .otp_base = 0x1FFF7000,
    .otp_size = 1024,
    .prog_unit = 8,
    .align = 4,
    .prog_once = 1,
    .prog_us = 85,
    .erase = {{0, 22000, 22000}},
    .poll_setaddr = 1,
    .poll_erase = 22,
    .poll_write = 5,
    .poll_mass = 44,
    .poll_manifest = 1,
    .mass_us = 44000,
    .ob_us = 30000,
    .connect_ms = 300,
    .rom_msp = 0x20003FE0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32G474, ROM V13.5 (ID 0xD5 at 0x1FFF6FFE). 64-bit programming, 256 pages of 2 KiB in
 * two banks (DBANK = 1); the option-byte alt lists two zones of 48 bytes.
 */
static const struct sim_profile g474 = {
    .name = "stm32g474",
    ST_ROM_USB,
    .bcd_device = 0x0200,
    .transfer_size = 1024,
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/256*02Kg",
             "@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e",
             "@OTP Memory   /0x1FFF7000/01*1024 e"},
    .nalts = 3,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{256, KB(2)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(128), KB(16)}, {0x10000000, KB(32), 0}},
    .nram = 2,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7000,
    .id_addr = 0x1FFF6FFE,
    .id = 0xD5,
    .uid_addr = 0x1FFF7590,
    .uid = {0x00400022, 0x3359500E, 0x20363835},
    .flash_kib_off = 0x50,
    .ob = &g474_ob,
    .otp_base = 0x1FFF7000,
    .otp_size = 1024,
    .prog_unit = 8,
    .align = 8,
    .prog_once = 1,
    .prog_us = 82,
    .erase = {{0, 22020, 22020}},
    .poll_setaddr = 1,
    .poll_erase = 25,
    .poll_write = 5,
    .poll_mass = 45,
    .poll_manifest = 1,
    .mass_us = 44260,
    .ob_us = 30000,
    .connect_ms = 300,
    .rom_msp = 0x20003FE0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32L476, ROM V9.2 (ID 0x92 at 0x1FFF6FFE; 0x90 on parts up to week 22 of 2015, 0xA3 on
 * V10.3). 64-bit programming, 512 pages of 2 KiB in two banks. RAM: SRAM1 96 KiB with the
 * SRAM2 alias behind it (0x20000000-0x2001FFFF), SRAM2 at 0x10000000. A page erase reports too
 * short a bwPollTimeout and STALLs EP0 until it ends (dfu-util's workaround).
 */
static const struct sim_profile l476 = {
    .name = "stm32l476",
    ST_ROM_USB,
    .bcd_device = 0x2200,
    .transfer_size = 2048,
    .product = "STM32  BOOTLOADER",
    .alts = {"@Internal Flash  /0x08000000/0512*0002Kg",
             "@Option Bytes  /0x1FFF7800/01*040 e/0x1FFFF800/01*040 e",
             "@OTP Memory /0x1FFF7000/01*0001Ke", "@Device Feature/0xFFFF0000/01*004 e"},
    .nalts = 4,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{512, KB(2)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(128), KB(12)}, {0x10000000, KB(32), 0}},
    .nram = 2,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7000,
    .id_addr = 0x1FFF6FFE,
    .id = 0x92,
    .uid_addr = 0x1FFF7590,
    .uid = {0x00300045, 0x3436510C, 0x20333936},
    .flash_kib_off = 0x50,
    .ob = &l476_ob,
    .otp_base = 0x1FFF7000,
    .otp_size = 1024,
    .feat_base = 0xFFFF0000,
    .feat_size = 4,
    .prog_unit = 8,
    .align = 8,
    .prog_once = 1,
    .prog_us = 82,
    .erase = {{0, 22020, 22020}},
    .poll_setaddr = 100,
    .poll_erase = 11,
    .poll_write = 104,
    .poll_mass = 100,
    .poll_manifest = 104,
    .mass_us = 44260,
    .ob_us = 30000,
    .connect_ms = 300,
    .rom_msp = 0x20002FE0,
    .quirks = SIM_Q_ERASE_STALL,
    .bugs = {{0x90, 0x90, SIM_BUG_RAM_WRITE, 0, 0},
             {0x90, 0x92, SIM_BUG_WRITE_LEN8, 0, 0},
             {0xA1, 0xA3, SIM_BUG_WRITE_LEN8, 0, 0}},
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/* STM32H7A3 ROM V9.0: the flash string says 2 KiB sectors, no OTP alt (AN2606). */
static const struct sim_variant h7a3_variants[] = {
    {0x90,
     0x0200,
     {"@Internal Flash   /0x08000000/256*02Kg", "@Option Bytes   /0x5200201C/01*297 e"},
     2,
     0},
    {0, 0, {NULL}, 0, 0},
};

/*
 * STM32H7A3/B3/B0, ROM V9.2 (ID 0x92 at 0x1FF13FFE). 16-byte flash words programmed once per
 * erase, 2 MiB in 256 sectors of 8 KiB (two banks).
 */
static const struct sim_profile h7a3 = {
    .name = "stm32h7a3",
    ST_ROM_USB,
    .bcd_device = 0x0200,
    .transfer_size = 1024,
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/256*08Kg", "@Option Bytes   /0x5200201C/01*297 e",
             "@OTP Memory   /0x08FFF000/01*1024 e"},
    .nalts = 3,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{256, KB(8)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(128), 0x4100},
            {0x24000000, KB(1024), 0x34000},
            {0x30000000, KB(128), 0}},
    .nram = 3,
    .sys_base = 0x1FF00000,
    .sys_size = 0x20000,
    .id_addr = 0x1FF13FFE,
    .id = 0x92,
    .uid_addr = 0x08FFF800,
    .uid = {0x00380031, 0x3339510D, 0x33303435},
    .flash_kib_off = 0x0C,
    .ob = &h7a3_ob,
    .otp_base = 0x08FFF000,
    .otp_size = 1024,
    .prog_unit = 16,
    .align = 8,
    .prog_once = 1,
    .prog_us = 16,
    .erase = {{0, 2000, 2000}},
    .poll_setaddr = 1,
    .poll_erase = 2,
    .poll_write = 5,
    .poll_mass = 1000,
    .poll_manifest = 1,
    .mass_us = 1000000,
    .ob_us = 200000,
    .connect_ms = 54,
    .rom_msp = 0x24003FE0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
    .variants = h7a3_variants,
};

/*
 * STM32U585, ROM V9.3 (ID 0x93 at 0x0BF99EFE). 16-byte quad-words, 256 pages of 8 KiB in two
 * banks; the option bytes are the FLASH_OPTR register image at 0x40022040; OTP at 0x0BFA0000.
 */
static const struct sim_profile u585 = {
    .name = "stm32u585",
    ST_ROM_USB,
    .bcd_device = 0x0200,
    .transfer_size = 1024,
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/256*08Kg", "@Option Bytes   /0x40022040/01*64 e",
             "@OTP Memory   /0x0BFA0000/01*512 e"},
    .nalts = 3,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{256, KB(8)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(768), KB(16)}, {0x28000000, KB(16), 0}},
    .nram = 2,
    .sys_base = 0x0BF90000,
    .sys_size = 0x10000,
    .id_addr = 0x0BF99EFE,
    .id = 0x93,
    .uid_addr = 0x0BFA0700,
    .uid = {0x00470026, 0x3130510F, 0x20363035},
    .flash_kib_off = 0xA0,
    .ob = &u5_ob,
    .otp_base = 0x0BFA0000,
    .otp_size = 512,
    .prog_unit = 16,
    .align = 16,
    .prog_once = 1,
    .prog_us = 118,
    .erase = {{0, 1500, 1500}},
    .poll_setaddr = 1,
    .poll_erase = 2,
    .poll_write = 5,
    .poll_mass = 30,
    .poll_manifest = 1,
    .mass_us = 30000,
    .ob_us = 30000,
    .connect_ms = 300,
    .rom_msp = 0x20003FE0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/*
 * STM32C071, ROM V13.1 (ID 0xD1 at 0x1FFF67FE). 64-bit programming, 64 pages of 2 KiB, 24 KiB
 * of RAM (the ROM uses 8.75 KiB). The ROM refuses the leave unless SET_ADDRESS came after the
 * last write (LibUsbDfu issue 13).
 */
static const struct sim_profile c071 = {
    .name = "stm32c071",
    ST_ROM_USB,
    .bcd_device = 0x0200,
    .transfer_size = 1024,
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/64*02Kg", "@Option Bytes   /0x1FFF7800/01*128 e",
             "@OTP Memory   /0x1FFF7000/01*1024 e"},
    .nalts = 3,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{64, KB(2)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(24), 0x2300}},
    .nram = 1,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7000,
    .id_addr = 0x1FFF67FE,
    .id = 0xD1,
    .uid_addr = 0x1FFF7550,
    .uid = {0x0024003A, 0x3234500D, 0x20313736},
    .flash_kib_off = 0x50,
    .ob = &c0_ob,
    .otp_base = 0x1FFF7000,
    .otp_size = 1024,
    .prog_unit = 8,
    .align = 8,
    .prog_once = 1,
    .prog_us = 85,
    .erase = {{0, 22000, 22000}},
    .poll_setaddr = 1,
    .poll_erase = 22,
    .poll_write = 5,
    .poll_mass = 22,
    .poll_manifest = 1,
    .mass_us = 22000,
    .ob_us = 30000,
    .connect_ms = 552,
    .rom_msp = 0x200022F0,
    .quirks = SIM_Q_LEAVE_SETADDR,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

/* GD32VF103 bare chips ("ver=0100"): a correct flash string and no option-byte alt. */
static const struct sim_variant gd32_variants[] = {
    {0x01, 0x0100, {"@Internal Flash  /0x08000000/128*001Kg"}, 1, 1},
    {0, 0, {NULL}, 0, 0},
};

/*
 * GigaDevice GD32VF103CB (28e9:0189), RISC-V: the DfuSe-like ROM of the Longan Nano
 * ("ver=1000"). Its flash string claims 512 pages of 2 KiB (the part has 128 of 1 KiB), the
 * serial descriptor holds the part code "3CBJ" as raw bytes, it enumerates in dfuERROR and
 * leaves on the zero-length DNLOAD without a GETSTATUS. rom=0x01 gives the bare-chip ROM.
 */
static const struct sim_profile gd32vf103 = {
    .name = "gd32vf103",
    .core = SIM_CORE_RISCV,
    .vid = 0x28E9,
    .pid = 0x0189,
    .bcd_device = 0x1000,
    .bcd_dfu = 0x011A,
    .transfer_size = 2048,
    .detach_ms = 255,
    .attrs = 0x0B,
    .manufacturer = "GigaDevice",
    .product = "GD32 Device in DFU Mode",
    .serial = "3CBJ",
    .alts = {"@Internal Flash  /0x08000000/512*002Kg", "@Option Bytes  /0x1FFFF800/01*016 g"},
    .nalts = 2,
    .flash_base = 0x08000000,
    .layouts = {{NULL, {{128, KB(1)}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, KB(32), 0}},
    .nram = 1,
    .sys_base = 0x1FFFB000,
    .sys_size = 0x4800,
    .id = 0x10,
    .uid_addr = 0x1FFFF7E8,
    .uid = {0x12345678, 0x9ABCDEF0, 0x0F1E2D3C},
    .ob = &gd32_ob,
    .prog_unit = 4,
    .align = 4,
    .prog_us = 38,
    .erase = {{0, 30000, 30000}},
    .poll_setaddr = 100,
    .poll_erase = 100,
    .poll_write = 104,
    .poll_mass = 100,
    .poll_manifest = 104,
    .mass_us = 600000,
    .ob_us = 100000,
    .connect_ms = 300,
    .quirks = SIM_Q_BOOT_ERROR | SIM_Q_LEAVE_NOSTATUS | SIM_Q_RAW_SERIAL,
    .jumps = {SIM_JUMP_BRANCH, SIM_JUMP_RESET},
    .variants = gd32_variants,
};

/*
 * A plain DFU 1.1 application bootloader (non-DfuSe, manifestation tolerant): one alt, the
 * download goes from block 0 into the application area 0x08004000 (112 KiB of 1 KiB pages),
 * pages are erased as the download reaches them; upload returns the whole area.
 */
static const struct sim_profile dfu11 = {
    .name = "dfu11",
    .vid = 0x1209,
    .pid = 0x0010,
    .bcd_device = 0x0100,
    .bcd_dfu = 0x0110,
    .transfer_size = 1024,
    .detach_ms = 1000,
    .attrs = 0x07,
    .manufacturer = "dfush",
    .product = "DFU 1.1 test bootloader",
    .alts = {"Application"},
    .nalts = 1,
    .flash_base = 0x08004000,
    .layouts = {{NULL, {{112, 1024}}}},
    .nlayouts = 1,
    .ram = {{0x20000000, 0x5000, 0x5000}},
    .nram = 1,
    .uid = {0x12345678, 0x9ABCDEF0, 0x0F1E2D3C},
    .prog_unit = 4,
    .align = 4,
    .prog_us = 16,
    .erase = {{0, 20000, 20000}},
    .poll_write = 0, /* computed from the real busy time: an honest device */
    .connect_ms = 100,
    .rom_msp = 0x20004FF0,
    .jumps = {SIM_JUMP_VECTOR, SIM_JUMP_BRANCH},
};

static const struct sim_profile *const profiles[] = {&h753, &f405,      &f072,  &f411, &f767,
                                                     &g0b1, &g474,      &l476,  &h7a3, &u585,
                                                     &c071, &gd32vf103, &dfu11, NULL};
static const char *const profile_names[] = {
    "stm32h753", "stm32f405", "stm32f072", "stm32f411", "stm32f767", "stm32g0b1", "stm32g474",
    "stm32l476", "stm32h7a3", "stm32u585", "stm32c071", "gd32vf103", "dfu11",     NULL};

const char *const *dfu_sim_profiles(void)
{
    return profile_names;
}

const struct sim_profile *simi_profile_find(const char *name)
{
    for (unsigned i = 0; profiles[i] != NULL; i++)
        if (strcmp(profiles[i]->name, name) == 0)
            return profiles[i];
    return NULL;
}

/* ST ROMs derive the serial string from the UID words: (UID0 + UID2) then UID1's upper half. */
void simi_serial(const struct sim_profile *p, char *buf, size_t cap)
{
    if (p->serial != NULL) {
        snprintf(buf, cap, "%s", p->serial);
        return;
    }
    snprintf(buf, cap, "%08X%04X", (unsigned)(p->uid[0] + p->uid[2]), (unsigned)(p->uid[1] >> 16));
}

static const char *const req_names[SIM_R_COUNT] = {
    [SIM_R_DETACH] = "DETACH",
    [SIM_R_DNLOAD] = "DNLOAD",
    [SIM_R_UPLOAD] = "UPLOAD",
    [SIM_R_GETSTATUS] = "GETSTATUS",
    [SIM_R_CLRSTATUS] = "CLRSTATUS",
    [SIM_R_GETSTATE] = "GETSTATE",
    [SIM_R_ABORT] = "ABORT",
    [SIM_R_GET_STATUS] = "GET_STATUS",
    [SIM_R_CLEAR_FEATURE] = "CLEAR_FEATURE",
    [SIM_R_SET_FEATURE] = "SET_FEATURE",
    [SIM_R_SET_ADDRESS] = "SET_ADDRESS",
    [SIM_R_GET_DESCRIPTOR] = "GET_DESCRIPTOR",
    [SIM_R_GET_CONFIGURATION] = "GET_CONFIGURATION",
    [SIM_R_SET_CONFIGURATION] = "SET_CONFIGURATION",
    [SIM_R_GET_INTERFACE] = "GET_INTERFACE",
    [SIM_R_SET_INTERFACE] = "SET_INTERFACE",
    [SIM_R_OTHER] = "OTHER",
    [SIM_R_WRITE] = "WRITE",
    [SIM_R_ERASE] = "ERASE",
};

const char *simi_req_name(enum sim_req r)
{
    return (unsigned)r < SIM_R_COUNT ? req_names[r] : "OTHER";
}

int simi_req_from_name(const char *name)
{
    for (int i = 0; i < SIM_R_COUNT; i++)
        if (strcmp(req_names[i], name) == 0)
            return i;
    return -1;
}

static size_t put(uint8_t *buf, size_t cap, size_t off, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (off + i < cap)
            buf[off + i] = src[i];
    return off + n;
}

/* A broken descriptor (fault xfer0) reports wTransferSize 0; the device itself keeps its own. */
static unsigned reported_xfer(const dfu_sim *s)
{
    return (s->fflags & SIM_FF_XFER0) != 0 ? 0u : s->p->transfer_size;
}

static size_t func_desc(const dfu_sim *s, uint8_t *d)
{
    const struct sim_profile *p = s->p;

    d[0] = 9;
    d[1] = 0x21;
    d[2] = p->attrs;
    d[3] = (uint8_t)p->detach_ms;
    d[4] = (uint8_t)(p->detach_ms >> 8);
    d[5] = (uint8_t)reported_xfer(s);
    d[6] = (uint8_t)(reported_xfer(s) >> 8);
    d[7] = (uint8_t)p->bcd_dfu;
    d[8] = (uint8_t)(p->bcd_dfu >> 8);
    return 9;
}

static int string_desc(const char *s, uint8_t *buf, size_t cap)
{
    size_t n = strlen(s);
    uint8_t hdr[2];

    if (n > 126)
        n = 126;
    hdr[0] = (uint8_t)(2 + 2 * n);
    hdr[1] = 3;
    put(buf, cap, 0, hdr, 2);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch[2] = {(uint8_t)s[i], 0};
        put(buf, cap, 2 + 2 * i, ch, 2);
    }
    return (int)(2 + 2 * n);
}

/* A string descriptor whose payload is the string's bytes (GD32VF103 serial number). */
static int raw_string_desc(const char *s, uint8_t *buf, size_t cap)
{
    size_t n = strlen(s);
    uint8_t hdr[2];

    if (n > 253)
        n = 253;
    hdr[0] = (uint8_t)(2 + n);
    hdr[1] = 3;
    put(buf, cap, 0, hdr, 2);
    put(buf, cap, 2, (const uint8_t *)s, n);
    return (int)(2 + n);
}

int simi_descriptor(const dfu_sim *s, uint8_t type, uint8_t index, uint16_t langid, uint8_t *buf,
                    size_t cap)
{
    const struct sim_profile *p = s->p;
    uint8_t d[32];
    size_t off = 0;

    switch (type) {
    case 1: /* device */
        if (index != 0)
            return -1;
        {
            const uint8_t dev[18] = {18,
                                     1,
                                     0x00,
                                     0x02, /* bcdUSB 2.00 */
                                     0,
                                     0,
                                     0, /* class in the interface */
                                     64,
                                     (uint8_t)p->vid,
                                     (uint8_t)(p->vid >> 8),
                                     (uint8_t)p->pid,
                                     (uint8_t)(p->pid >> 8),
                                     (uint8_t)s->bcd_device,
                                     (uint8_t)(s->bcd_device >> 8),
                                     1,
                                     2,
                                     3,
                                     1};
            put(buf, cap, 0, dev, 18);
            return 18;
        }
    case 2: { /* configuration: one interface with nalts alt settings, then the DFU descriptor */
        if (index != 0)
            return -1;
        unsigned nalts = s->runtime ? 1 : s->nalts; /* run-time: one DFU interface, protocol 1 */
        unsigned total = 9 + 9 * nalts + 9;
        const uint8_t cfg[9] = {9, 2, (uint8_t)total, (uint8_t)(total >> 8), 1, 1, 0, 0xC0, 0x32};
        off = put(buf, cap, off, cfg, 9);
        for (unsigned a = 0; a < nalts; a++) {
            const uint8_t itf[9] = {
                9, 4, 0, (uint8_t)a, 0, 0xFE, 0x01, s->runtime ? 0x01 : 0x02, (uint8_t)(4 + a)};
            off = put(buf, cap, off, itf, 9);
        }
        off = put(buf, cap, off, d, func_desc(s, d));
        return (int)off;
    }
    case 3: /* string */
        if (index == 0) {
            const uint8_t lang[4] = {4, 3, 0x09, 0x04};
            put(buf, cap, 0, lang, 4);
            return 4;
        }
        if (langid != 0x0409)
            return -1;
        if (index == 1)
            return string_desc(p->manufacturer, buf, cap);
        if (index == 2)
            return string_desc(p->product, buf, cap);
        if (index == 3) {
            char serial[32];
            simi_serial(p, serial, sizeof serial);
            if (p->quirks & SIM_Q_RAW_SERIAL) /* the bytes of the string, not UTF-16 */
                return raw_string_desc(serial, buf, cap);
            return string_desc(serial, buf, cap);
        }
        if (index >= 4 && index < 4 + s->nalts)
            return string_desc(simi_alt_string(s, index - 4u), buf, cap);
        return -1;
    case 0x21: /* DFU functional */
        put(buf, cap, 0, d, func_desc(s, d));
        return 9;
    default: /* device qualifier, BOS, other speed: a full-speed-only USB 2.0 device stalls */
        return -1;
    }
}

int dfu_sim_devinfo(dfu_sim *s, struct dfu_devinfo *info, struct dfu_err *err)
{
    const struct sim_profile *p = s->p;

    dfu_sim_advance(s, 0); /* a due reset or re-enumeration happens now */
    if (s->mode != DFU_SIM_ROM)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "sim:%s: device is not on the bus", p->name);
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "sim");
    info->vid = p->vid;
    info->pid = p->pid;
    info->bcd_device = s->bcd_device;
    info->bcd_dfu = p->bcd_dfu;
    info->transfer_size = reported_xfer(s);
    info->detach_timeout = p->detach_ms;
    info->attributes = p->attrs;
    info->intf = 0;
    info->alt = 0;
    info->protocol = s->runtime ? 1 : 2;
    info->max_packet0 = 64;
    simi_serial(p, info->serial, sizeof info->serial);
    snprintf(info->product, sizeof info->product, "%s", p->product);
    snprintf(info->alt_name, sizeof info->alt_name, "%s", simi_alt_string(s, 0));
    snprintf(info->path, sizeof info->path, "sim:%s", p->name);
    return 0;
}
