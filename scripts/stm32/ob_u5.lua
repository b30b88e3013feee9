-- STM32U575/585 option bytes over DfuSe: alt "@Option Bytes /0x40022040/01*64 e" (dfu-util
-- listings of U5 boards: Zephyr steval_stwinbx1, inertial-sense SDK): the ROM exposes the
-- option *registers* from FLASH_OPTR, 64 bytes read and written whole; the ROM programs them
-- and the chip resets.
--
-- Layout (RM0456 flash register map, offsets from 0x40022040): +0x00 OPTR, +0x04 NSBOOTADD0R,
-- +0x08 NSBOOTADD1R, +0x0C SECBOOTADD0R, +0x10/+0x14 SECWM1R1/R2, +0x18 WRP1AR, +0x1C WRP1BR,
-- +0x20/+0x24 SECWM2R1/R2, +0x28 WRP2AR, +0x2C WRP2BR, +0x30.. OEM key registers (write-only).
-- OPTR bits: 7:0 RDP (0xAA level 0, 0x55 level 0.5, 0xCC level 2), 10:8 BOR_LEV, 12-14
-- nRST_STOP/STDBY/SHDW, 15 SRAM1345_RST, 16-19 watchdogs, 20 SWAP_BANK, 21 DUALBANK,
-- 22 BKPRAM_ECC, 23 SRAM3_ECC, 24 SRAM2_ECC, 25 SRAM2_RST, 26 nSWBOOT0, 27 nBOOT0,
-- 28 PA15_PUPEN, 29 IO_VDD_HSLV, 30 IO_VDDIO2_HSLV, 31 TZEN. NSBOOTADDxR: address bits 31:7.
-- WRPxyR: first page in bits 6:0, last page in 22:16, bit 31 UNLOCK (128 pages of 8 KiB per
-- bank on a 2 MiB part).
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4 }

local fields = F.append(C.optr(f, 0, "l4"), {
  f("SRAM1345_RST", 0, 15, 1, "SRAM1/3/4/5 erase on a system reset", F.ERASED_KEPT),
  f("SWAP_BANK", 0, 20, 1, "bank swap", {
    values = { [0] = "bank 1 at 0x08000000", [1] = "bank 2 at 0x08000000" },
    force = { [1] = "SWAP_BANK=1 maps bank 2 at 0x08000000 after the reset" } }),
  f("DUALBANK", 0, 21, 1, "dual bank (on 1 MiB parts)", { values = { [0] = "single", [1] = "dual" } }),
  f("SRAM2_RST", 0, 25, 1, "SRAM2 erase on a system reset", F.ERASED_KEPT),
}, C.swboot0(f, { "NSBOOTADD0", "NSBOOTADD1 (the ROM)" }), {
  f("PA15_PUPEN", 0, 28, 1, "PA15 pull-up", F.OFF_ON),
  f("TZEN", 0, 31, 1, "TrustZone", {
    values = { [0] = "off", [1] = "on" },
    force = { [1] = "TZEN=1 enables TrustZone; the ROM then no longer starts a non-secure " ..
                    "application with a jump (AN2606 boot model V3_1), and turning it off needs an RDP " ..
                    "regression" } }),
  f("NSBOOTADD0", 4, 7, 25, "boot address with BOOT0 low, bits 31:7 (0x100000 = 0x08000000)",
    F.boot_address("NSBOOTADD0 away from the flash (0x08000000) makes the chip boot from that address",
                   { 0x100000 })),
  f("NSBOOTADD1", 8, 7, 25, "boot address with BOOT0 high, bits 31:7 (0x17F200 = ROM 0x0BF90000)",
    F.boot_address("NSBOOTADD1 away from the ROM (0x0BF90000) means BOOT0 high no longer starts the " ..
                   "bootloader", { 0x17F200 })),
})

return {
  name = "STM32U575/585", address = 0x40022040, size = 64,
  source = "RM0456 flash option registers (STM32U575/585)",
  fields = fields,
  rdp = { level0 = 0xAA, names = { [0x55] = "level 0.5: secure areas protected (TrustZone)" } },
  wrp = { ranges = C.wrp_areas(f, fields, { 0x18, 0x1C, 0x28, 0x2C }, 7, 128, { "_PSTRT", "_PEND" }),
          sectors = 256 },
}
