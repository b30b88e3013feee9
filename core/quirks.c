/*
 * Device quirks that must act inside the protocol loops, keyed by VID/PID/bcdDevice
 * (protocol.md 8). Everything family-specific beyond this lives in the Lua scripts.
 */
#include <stddef.h>

#include "backend.h"
#include "internal.h"

struct quirk {
    uint16_t vid, pid;
    uint16_t bcd_lo, bcd_hi; /* bcdDevice range, inclusive */
    unsigned flags;
};

static const struct quirk quirks[] = {
    /* STM32 ROM bootloaders (all families): the ROM runs flash jobs in the EP0 callback and
     * answers the next GETSTATUS only when the job is done, so polling at once is safe and
     * saves the (often overstated) bwPollTimeout, e.g. 104 ms per 2 KiB block on F4. */
    {0x0483, 0xdf11, 0x0000, 0xffff, DFUI_QUIRK_EARLY_POLL},
    /* Openmoko Freerunner and friends: bwPollTimeout values are meaningless (dfu-util
     * QUIRK_POLLTIMEOUT). */
    {0x1d50, 0x5117, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5118, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5119, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x511a, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x511b, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x511c, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x511d, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x511e, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x511f, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5120, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5121, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5122, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5123, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5124, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5125, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1d50, 0x5126, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    {0x1457, 0x5117, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    /* M-Audio Transit. */
    {0x0763, 0x2806, 0x0000, 0xffff, DFUI_QUIRK_POLLTIMEOUT},
    /* GigaDevice GD32VF103 (dfu-util 0.11 quirks.c, fwupd dfu.quirk "gd32"): the serial
     * descriptor is not UTF-16, the ROM leaves on the zero-length DNLOAD (with or without a
     * status stage); like the ST ROM it copies it is polled at once. */
    {0x28e9, 0x0189, 0x0000, 0xffff,
     DFUI_QUIRK_EARLY_POLL | DFUI_QUIRK_UTF8_SERIAL | DFUI_QUIRK_DFUSE_LEAVE},
    /* LeafLabs Maple rev 3/5: reports a wrong DFU version. */
    {0x1eaf, 0x0003, 0x0200, 0x0200, DFUI_QUIRK_FORCE_DFU11},
};

unsigned dfui_quirks(uint16_t vid, uint16_t pid, uint16_t bcd_device)
{
    unsigned flags = 0;

    for (size_t i = 0; i < sizeof quirks / sizeof quirks[0]; i++) {
        const struct quirk *q = &quirks[i];

        if (q->vid == vid && q->pid == pid && bcd_device >= q->bcd_lo && bcd_device <= q->bcd_hi)
            flags |= q->flags;
    }
    return flags;
}

int dfui_serial_is_raw(uint16_t vid, uint16_t pid)
{
    return (dfui_quirks(vid, pid, 0) & DFUI_QUIRK_UTF8_SERIAL) != 0;
}

void dfui_desc_string_bytes(const uint8_t *buf, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return;
    if (len >= 2 && buf[1] == 3) {
        size_t bl = buf[0] < len ? buf[0] : len;
        for (size_t i = 2; i < bl && o + 1 < cap; i++)
            out[o++] = buf[i] >= 0x20 && buf[i] < 0x7F ? (char)buf[i] : '?';
    }
    out[o] = '\0';
}
