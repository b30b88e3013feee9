/*
 * USB descriptors: the DFU functional descriptor, DFU interfaces in a configuration
 * descriptor, string descriptors, and probing a device through a transport with standard
 * GET_DESCRIPTOR requests (protocol.md 1.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "internal.h"

#define USB_DT_DEVICE 0x01
#define USB_DT_CONFIG 0x02
#define USB_DT_STRING 0x03
#define USB_DT_INTERFACE 0x04
#define USB_DT_DFU 0x21

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void fill_func(const uint8_t *p, struct dfu_func_desc *out)
{
    out->length = p[0];
    out->attributes = p[2];
    out->detach_timeout = le16(p + 3);
    out->transfer_size = le16(p + 5);
    /* DFU 1.0 descriptors have 7 bytes and no bcdDFUVersion. */
    out->bcd_dfu = p[0] >= 9 ? le16(p + 7) : 0x0100;
}

int dfu_desc_find_functional(const uint8_t *buf, size_t len, struct dfu_func_desc *out)
{
    size_t i = 0;

    while (i + 2 <= len) {
        size_t bl = buf[i];

        if (bl < 2 || i + bl > len)
            break;
        if (buf[i + 1] == USB_DT_DFU && bl >= 7) {
            fill_func(buf + i, out);
            return 0;
        }
        i += bl;
    }
    return DFU_E_NOT_FOUND;
}

int dfu_desc_parse_config(const uint8_t *cfg, size_t len, struct dfu_desc_alt *alts, size_t max,
                          size_t *n, struct dfu_func_desc *func, struct dfu_err *err)
{
    struct dfu_func_desc f = {0, 0, 0, 0x0100, 0};
    int have_func = 0, in_intf = 0, in_dfu = 0;
    size_t i, found = 0, kept = 0;

    *n = 0;
    if (len < 9 || cfg[0] < 9 || cfg[1] != USB_DT_CONFIG)
        return dfu_err_set(err, DFU_E_FORMAT, "not a configuration descriptor");
    if (le16(cfg + 2) < len)
        len = le16(cfg + 2);
    for (i = cfg[0]; i + 2 <= len;) {
        size_t bl = cfg[i];
        const uint8_t *p = cfg + i;

        if (bl < 2)
            return dfu_err_set(err, DFU_E_FORMAT, "descriptor with bLength %zu at offset %zu", bl,
                               i);
        if (i + bl > len)
            return dfu_err_set(err, DFU_E_FORMAT, "descriptor at offset %zu runs past the end", i);
        if (p[1] == USB_DT_INTERFACE && bl >= 9) {
            in_intf = 1;
            in_dfu = p[5] == 0xFE && p[6] == 0x01;
            if (in_dfu && found < max) {
                alts[found].intf = p[2];
                alts[found].alt = p[3];
                alts[found].protocol = p[7];
                alts[found].iinterface = p[8];
            }
            if (in_dfu)
                found++;
        } else if (p[1] == USB_DT_DFU && bl >= 7 && !have_func && (!in_intf || in_dfu)) {
            /* After a DFU interface, or at configuration level before any interface. (A 0x21
             * descriptor after another class's interface is that class's, e.g. HID.) */
            fill_func(p, &f);
            have_func = 1;
        }
        i += bl;
    }
    if (found > max)
        found = max;
    /* Keep DFU-mode and run-time interfaces; protocol 0 only for DfuSe devices (DSO Nano). */
    for (i = 0; i < found; i++) {
        uint8_t proto = alts[i].protocol;

        if (proto == 1 || proto == 2 || (proto == 0 && f.bcd_dfu == 0x011A))
            alts[kept++] = alts[i];
    }
    *n = kept;
    if (func != NULL)
        *func = f;
    if (kept == 0)
        return dfu_err_set(err, DFU_E_NOT_FOUND, "no DFU interface in the configuration");
    return 0;
}

uint8_t dfu_desc_mode(uint16_t vid, uint16_t pid, uint8_t protocol, uint16_t bcd_dfu,
                      uint8_t ninterfaces)
{
    if (protocol == 2)
        return 2;
    /* DfuSe devices with protocol 0 (DSO Nano) are in DFU mode */
    if (protocol == 0 && bcd_dfu == 0x011A)
        return 2;
    /* the NXP LPC bootloader reports run-time protocol while in DFU mode */
    if (vid == 0x1fc9 && pid == 0x000c && protocol == 1)
        return 2;
    /* old Jabra devices: protocol 0, DFU mode when the DFU interface is the only one */
    if (vid == 0x0b0e && protocol == 0 && ninterfaces == 1)
        return 2;
    return 1;
}

static size_t put_utf8(char *out, size_t cap, size_t o, uint32_t cp)
{
    char b[4];
    size_t k;

    if (cp < 0x80) {
        b[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18);
        b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (o + k >= cap)
        return (size_t)-1; /* no room: stop at a character boundary */
    memcpy(out + o, b, k);
    return o + k;
}

int dfu_desc_string(const uint8_t *buf, size_t len, char *out, size_t cap)
{
    size_t bl, o = 0, k;

    if (cap == 0)
        return DFU_E_INVALID;
    out[0] = '\0';
    if (len < 2 || buf[1] != USB_DT_STRING || buf[0] < 2)
        return DFU_E_FORMAT;
    bl = buf[0] < len ? buf[0] : len;
    for (size_t i = 2; i + 1 < bl; i += 2) {
        uint32_t cp = le16(buf + i);

        if (cp >= 0xD800 && cp < 0xDC00 && i + 3 < bl) {
            uint32_t lo = le16(buf + i + 2);

            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        if (cp == 0)
            break;
        k = put_utf8(out, cap, o, cp);
        if (k == (size_t)-1)
            break;
        o = k;
    }
    out[o] = '\0';
    return 0;
}

/* ---- reading descriptors through a transport ---- */

int dfui_get_descriptor(struct dfu_transport *t, uint64_t *counter, uint8_t type, uint8_t index,
                        uint16_t lang, uint8_t *buf, size_t cap, size_t *got, struct dfu_err *err)
{
    struct dfu_ctrl c = {0x80, 0x06, (uint16_t)(type << 8 | index), lang,
                         (uint16_t)(cap > 0xFFFF ? 0xFFFF : cap)};
    size_t n = 0;
    int rc;

    if (counter != NULL)
        (*counter)++;
    rc = t->ops->control(t, &c, buf, &n, DFUI_CTRL_TIMEOUT_MS, err);
    *got = n;
    if (rc != 0)
        return dfu_err_prefix(err, "GET_DESCRIPTOR 0x%02x/%u", type, index);
    return 0;
}

int dfui_get_config(struct dfu_transport *t, uint64_t *counter, uint8_t **cfg, size_t *len,
                    struct dfu_err *err)
{
    uint8_t head[9];
    size_t got = 0, total;
    uint8_t *buf;
    int rc;

    *cfg = NULL;
    *len = 0;
    rc = dfui_get_descriptor(t, counter, USB_DT_CONFIG, 0, 0, head, sizeof head, &got, err);
    if (rc != 0)
        return rc;
    if (got < 4 || head[1] != USB_DT_CONFIG)
        return dfu_err_set(err, DFU_E_FORMAT, "bad configuration descriptor header");
    total = le16(head + 2);
    if (total < 9)
        return dfu_err_set(err, DFU_E_FORMAT, "configuration descriptor of %zu bytes", total);
    buf = malloc(total);
    if (buf == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    rc = dfui_get_descriptor(t, counter, USB_DT_CONFIG, 0, 0, buf, total, &got, err);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *cfg = buf;
    *len = got;
    return 0;
}

uint16_t dfu_desc_langid(const uint8_t *buf, size_t len)
{
    return len >= 4 && buf[1] == USB_DT_STRING ? le16(buf + 2) : 0x0409;
}

uint16_t dfui_get_langid(struct dfu_transport *t, uint64_t *counter)
{
    uint8_t buf[255];
    size_t got = 0;

    if (dfui_get_descriptor(t, counter, USB_DT_STRING, 0, 0, buf, sizeof buf, &got, NULL) != 0)
        got = 0;
    return dfu_desc_langid(buf, got);
}

int dfui_get_string(struct dfu_transport *t, uint64_t *counter, uint8_t index, uint16_t lang,
                    char *out, size_t cap, struct dfu_err *err)
{
    uint8_t buf[255];
    size_t got = 0;
    int rc;

    if (cap > 0)
        out[0] = '\0';
    if (index == 0)
        return 0;
    rc = dfui_get_descriptor(t, counter, USB_DT_STRING, index, lang, buf, sizeof buf, &got, err);
    if (rc != 0)
        return rc;
    rc = dfu_desc_string(buf, got, out, cap);
    if (rc != 0)
        return dfu_err_set(err, rc, "string descriptor %u is malformed", index);
    return 0;
}

int dfu_probe(struct dfu_transport *t, struct dfu_devinfo *info, struct dfu_err *err)
{
    uint8_t dev[18];
    uint8_t *cfg = NULL;
    size_t got = 0, cfglen = 0, n = 0, pick = 0;
    struct dfu_desc_alt alts[32];
    struct dfu_func_desc func;
    uint16_t lang;
    int rc;

    rc = dfui_get_descriptor(t, NULL, USB_DT_DEVICE, 0, 0, dev, sizeof dev, &got, err);
    if (rc != 0)
        return rc;
    if (got < sizeof dev || dev[1] != USB_DT_DEVICE)
        return dfu_err_set(err, DFU_E_FORMAT, "short or bad device descriptor (%zu bytes)", got);
    info->max_packet0 = dev[7];
    info->vid = le16(dev + 8);
    info->pid = le16(dev + 10);
    info->bcd_device = le16(dev + 12);

    rc = dfui_get_config(t, NULL, &cfg, &cfglen, err);
    if (rc != 0)
        return rc;
    rc = dfu_desc_parse_config(cfg, cfglen, alts, sizeof alts / sizeof alts[0], &n, &func, err);
    free(cfg);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (alts[i].protocol == 2) {
            pick = i;
            break;
        }
    }
    if (func.length == 0) {
        /* Not in the configuration: ask for it directly (dfu-util's last resort). */
        uint8_t fd[9];

        if (dfui_get_descriptor(t, NULL, USB_DT_DFU, 0, 0, fd, sizeof fd, &got, NULL) == 0 &&
            got >= 7 && fd[1] == USB_DT_DFU)
            fill_func(fd, &func);
    }
    info->intf = alts[pick].intf;
    info->alt = alts[pick].alt;
    info->protocol = alts[pick].protocol;
    info->attributes = func.attributes;
    info->detach_timeout = func.detach_timeout;
    info->transfer_size = func.transfer_size;
    info->bcd_dfu = func.bcd_dfu;

    lang = dfui_get_langid(t, NULL);
    if (dfui_get_string(t, NULL, dev[15], lang, info->product, sizeof info->product, NULL) != 0)
        info->product[0] = '\0';
    if (dfui_serial_is_raw(info->vid, info->pid)) {
        /* GD32VF103: the serial descriptor holds the part code as bytes, not UTF-16 */
        uint8_t sb[255];
        size_t sn = 0;
        info->serial[0] = '\0';
        if (dev[16] != 0 && dfui_get_descriptor(t, NULL, USB_DT_STRING, dev[16], lang, sb,
                                                sizeof sb, &sn, NULL) == 0)
            dfui_desc_string_bytes(sb, sn, info->serial, sizeof info->serial);
    } else if (dfui_get_string(t, NULL, dev[16], lang, info->serial, sizeof info->serial, NULL) !=
               0) {
        info->serial[0] = '\0';
    }
    if (dfui_get_string(t, NULL, alts[pick].iinterface, lang, info->alt_name, sizeof info->alt_name,
                        NULL) != 0)
        info->alt_name[0] = '\0';
    return 0;
}
