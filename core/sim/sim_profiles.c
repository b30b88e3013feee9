/* Simulator profiles (design.md 5) and the USB descriptors built from them. */
#include <stdio.h>
#include <string.h>

#include "sim/sim_int.h"

/*
 * STM32H753, ROM V9.0 (ID 0x90). Values from design.md 5 and protocol.md 2.1, 6, 7.
 * System memory 0x1FF00000-0x1FF1FFFF holds the ID byte at 0x1FF1E7FE and the UID at
 * 0x1FF1E800. Mass erase: both banks, about twice the worst-case bank erase (inferred).
 */
static const struct sim_profile h753 = {
    .name = "stm32h753",
    .fam = SIM_FAM_H7,
    .vid = 0x0483,
    .pid = 0xDF11,
    .bcd_device = 0x0200,
    .bcd_dfu = 0x011A,
    .transfer_size = 1024,
    .detach_ms = 255,
    .attrs = 0x0B,
    .manufacturer = "STMicroelectronics",
    .product = "DFU in FS Mode",
    .alts = {"@Internal Flash   /0x08000000/16*128Kg", "@Option Bytes   /0x5200201C/01*128 e"},
    .nalts = 2,
    .flash_base = 0x08000000,
    .sectors = {{16, 128 * 1024}},
    .ram_base = {0x20000000, 0x24000000},
    .ram_size = {0x20000, 0x80000},
    .ram_rom = {16 * 1024, 208 * 1024},
    .nram = 2,
    .sys_base = 0x1FF00000,
    .sys_size = 0x20000,
    .id_addr = 0x1FF1E7FE,
    .id = 0x90,
    .uid_addr = 0x1FF1E800,
    .uid = {0x00320041, 0x3138510B, 0x33373836},
    .ob_base = 0x5200201C,
    .ob_size = 128,
    .prog_unit = 32,
    .align = 8,
    .poll_setaddr = 1,
    .poll_erase = 1100,
    .poll_write = 5,
    .poll_mass = 1100,
    .prog_us = 16,
    .mass_us = 4400000,
    .ob_us = 200000,
    .connect_ms = 54,
    .rom_msp = 0x20003FE0,
};

/*
 * STM32F405, ROM V3.1 (ID 0x31). "Device Feature" byte 0 = 0x03 switches the ROM from x8 to
 * x32 parallelism. UID at 0x1FFF7A10 (outside system memory; own read-only region).
 */
static const struct sim_profile f405 = {
    .name = "stm32f405",
    .fam = SIM_FAM_F4,
    .vid = 0x0483,
    .pid = 0xDF11,
    .bcd_device = 0x2200,
    .bcd_dfu = 0x011A,
    .transfer_size = 2048,
    .detach_ms = 255,
    .attrs = 0x0B,
    .manufacturer = "STMicroelectronics",
    .product = "STM32  BOOTLOADER",
    .alts = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
             "@Option Bytes  /0x1FFFC000/01*016 e", "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
             "@Device Feature/0xFFFF0000/01*004 e"},
    .nalts = 4,
    .flash_base = 0x08000000,
    .sectors = {{4, 16 * 1024}, {1, 64 * 1024}, {7, 128 * 1024}},
    .ram_base = {0x20000000},
    .ram_size = {0x20000},
    .ram_rom = {12 * 1024},
    .nram = 1,
    .sys_base = 0x1FFF0000,
    .sys_size = 0x7800,
    .id_addr = 0x1FFF77DE,
    .id = 0x31,
    .uid_addr = 0x1FFF7A10,
    .uid = {0x003A0027, 0x3436470F, 0x36383133},
    .ob_base = 0x1FFFC000,
    .ob_size = 16,
    .otp_base = 0x1FFF7800,
    .otp_size = 528,
    .feat_base = 0xFFFF0000,
    .feat_size = 4,
    .prog_unit = 1,
    .align = 4,
    .poll_setaddr = 100,
    .poll_erase = 100,
    .poll_write = 104,
    .poll_mass = 100,
    .prog_us = 16,
    .mass_us = 16000000,
    .ob_us = 100000,
    .connect_ms = 250,
    .rom_msp = 0x20002FE0,
};

/*
 * A plain DFU 1.1 application bootloader (non-DfuSe, manifestation tolerant): one alt, the
 * download goes from block 0 into the application area 0x08004000 (112 KiB of 1 KiB pages),
 * pages are erased as the download reaches them; upload returns the whole area.
 */
static const struct sim_profile dfu11 = {
    .name = "dfu11",
    .fam = SIM_FAM_PLAIN,
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
    .sectors = {{112, 1024}},
    .ram_base = {0x20000000},
    .ram_size = {0x5000},
    .ram_rom = {0x5000},
    .nram = 1,
    .uid = {0x12345678, 0x9ABCDEF0, 0x0F1E2D3C},
    .prog_unit = 4,
    .align = 4,
    .poll_write = 0, /* computed from the real busy time: an honest device */
    .prog_us = 16,
    .connect_ms = 100,
    .rom_msp = 0x20004FF0,
};

static const struct sim_profile *const profiles[] = {&h753, &f405, &dfu11, NULL};
static const char *const profile_names[] = {"stm32h753", "stm32f405", "dfu11", NULL};

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
                                     (uint8_t)p->bcd_device,
                                     (uint8_t)(p->bcd_device >> 8),
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
        unsigned total = 9 + 9 * p->nalts + 9;
        const uint8_t cfg[9] = {9, 2, (uint8_t)total, (uint8_t)(total >> 8), 1, 1, 0, 0xC0, 0x32};
        off = put(buf, cap, off, cfg, 9);
        for (unsigned a = 0; a < p->nalts; a++) {
            const uint8_t itf[9] = {9, 4, 0, (uint8_t)a, 0, 0xFE, 0x01, 0x02, (uint8_t)(4 + a)};
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
            return string_desc(serial, buf, cap);
        }
        if (index >= 4 && index < 4 + p->nalts)
            return string_desc(p->alts[index - 4], buf, cap);
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
    info->bcd_device = p->bcd_device;
    info->bcd_dfu = p->bcd_dfu;
    info->transfer_size = reported_xfer(s);
    info->detach_timeout = p->detach_ms;
    info->attributes = p->attrs;
    info->intf = 0;
    info->alt = 0;
    info->protocol = 2;
    info->max_packet0 = 64;
    simi_serial(p, info->serial, sizeof info->serial);
    snprintf(info->product, sizeof info->product, "%s", p->product);
    snprintf(info->alt_name, sizeof info->alt_name, "%s", p->alts[0]);
    snprintf(info->path, sizeof info->path, "sim:%s", p->name);
    return 0;
}
