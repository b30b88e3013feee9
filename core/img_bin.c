/*
 * Raw binaries and the DFU suffix (DFU 1.1 Appendix B, protocol.md 5.1): the last 16 bytes,
 * little endian, ending with "UFD", bLength and a CRC over everything before the CRC field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_internal.h"

#define SUFFIX_LEN 16

int dfui_suffix_read(const uint8_t *buf, size_t len, const char *name, struct dfu_suffix *sfx,
                     int *found, struct dfu_err *err)
{
    *found = 0;
    if (len < SUFFIX_LEN)
        return 0;
    const uint8_t *s = buf + len - SUFFIX_LEN;
    if (memcmp(s + 8, "UFD", 3) != 0)
        return 0;
    uint8_t blen = s[11];
    if (blen < SUFFIX_LEN || blen > len)
        return dfui_err_off(err, name, len - SUFFIX_LEN + 11,
                            "DFU suffix length %u is invalid (16..%zu)", blen,
                            len < 255 ? len : (size_t)255);
    uint32_t stored = dfui_le32(s + 12);
    uint32_t crc = ~dfu_crc32(0, buf, len - 4);
    if (stored != crc)
        return dfui_err_off(err, name, len - 4, "DFU suffix CRC 0x%08x, expected 0x%08x",
                            (unsigned)stored, (unsigned)crc);
    sfx->bcd_device = dfui_le16(s);
    sfx->pid = dfui_le16(s + 2);
    sfx->vid = dfui_le16(s + 4);
    sfx->bcd_dfu = dfui_le16(s + 6);
    sfx->length = blen;
    sfx->crc = stored;
    *found = 1;
    return 0;
}

void dfui_suffix_emit(struct dfui_buf *b, uint16_t bcd_device, uint16_t pid, uint16_t vid,
                      uint16_t bcd_dfu)
{
    uint8_t *s = dfui_buf_room(b, SUFFIX_LEN);
    if (s == NULL)
        return;
    dfui_put16(s, bcd_device);
    dfui_put16(s + 2, pid);
    dfui_put16(s + 4, vid);
    dfui_put16(s + 6, bcd_dfu);
    memcpy(s + 8, "UFD", 3);
    s[11] = SUFFIX_LEN;
    b->n += 12;
    dfui_put32(s + 12, ~dfui_buf_crc(b)); /* the CRC covers everything before it */
    b->n += 4;
}

/* The suffix of a raw binary, and how many bytes come before it. */
static int bin_suffix(const uint8_t *buf, size_t len, const char *name, struct dfu_suffix *sfx,
                      int *found, size_t *n, struct dfu_err *err)
{
    if (len == 0)
        return dfui_err_off(err, name, 0, "empty file");
    int rc = dfui_suffix_read(buf, len, name, sfx, found, err);
    if (rc != 0)
        return rc;
    *n = *found ? len - sfx->length : len;
    return 0;
}

int dfu_image_parse_bin(const uint8_t *buf, size_t len, uint32_t base, const char *name,
                        dfu_image **out, struct dfu_err *err)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);

    *out = NULL;
    if (copy == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    if (len > 0)
        memcpy(copy, buf, len);
    return dfui_parse_bin_owned(copy, len, len > 0 ? len : 1, base, name, out, err);
}

int dfui_parse_bin_owned(uint8_t *buf, size_t len, size_t cap, uint32_t base, const char *name,
                         dfu_image **out, struct dfu_err *err)
{
    struct dfu_suffix sfx;
    int found;
    size_t n = 0;

    *out = NULL;
    int rc = bin_suffix(buf, len, name, &sfx, &found, &n, err);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    dfu_image *img = dfu_image_new();
    if (img == NULL) {
        free(buf);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    rc = dfui_image_take(img, base, buf, n, cap, err);
    if (rc != 0) {
        dfu_image_free(img);
        return dfu_err_prefix(err, "%s", dfui_name(name));
    }
    dfu_image_set_format(img, DFU_FMT_BIN);
    if (found)
        dfu_image_set_suffix(img, &sfx);
    *out = img;
    return 0;
}

int dfui_emit_bin(const dfu_image *img, struct dfu_write_opts *opts, struct dfui_buf *b,
                  struct dfu_err *err)
{
    struct dfu_write_opts def;
    size_t n = dfu_image_count(img);

    if (opts == NULL) {
        dfu_write_opts_init(&def);
        opts = &def;
    }
    opts->warning[0] = '\0';
    uint64_t span = 0;
    if (n > 0) {
        const struct dfu_segment *f = dfu_image_segment(img, 0), *l = dfu_image_segment(img, n - 1);
        span = (uint64_t)l->addr + l->size - f->addr;
    }
    uint64_t total = span + (opts->suffix ? SUFFIX_LEN : 0);
    if (total > SIZE_MAX - 1)
        return dfu_err_set(err, DFU_E_RANGE, "image too large for a raw binary");
    uint32_t gap_warn = opts->gap_warn ? opts->gap_warn : 64 * 1024;
    uint64_t biggest = 0;
    uint32_t gap_at = 0;
    for (size_t i = 1; i < n; i++) {
        const struct dfu_segment *p = dfu_image_segment(img, i - 1), *s = dfu_image_segment(img, i);
        uint64_t gap = s->addr - ((uint64_t)p->addr + p->size);
        if (gap > biggest) {
            biggest = gap;
            gap_at = p->addr + p->size;
        }
    }
    if (biggest > gap_warn)
        snprintf(opts->warning, sizeof opts->warning,
                 "gap of %llu bytes at 0x%08x filled with 0xFF (output is %llu bytes)",
                 (unsigned long long)biggest, (unsigned)gap_at, (unsigned long long)span);
    if (b->sink == NULL && dfui_buf_reserve(b, (size_t)total + 1) != 0)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory (%llu bytes)",
                           (unsigned long long)total);
    b->crc_on = opts->suffix;
    uint64_t at = n > 0 ? dfu_image_segment(img, 0)->addr : 0;
    for (size_t i = 0; i < n && !b->oom && !b->fail; i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);
        dfui_buf_fill(b, 0xFF, (size_t)(s->addr - at));
        dfui_buf_put(b, s->data, s->size);
        at = (uint64_t)s->addr + s->size;
    }
    if (opts->suffix) {
        uint16_t vid = opts->vid, pid = opts->pid, bcd = opts->bcd_device;
        if (vid == 0 && pid == 0 && bcd == 0)
            vid = pid = bcd = 0xFFFF; /* plain DFU file for any device */
        dfui_suffix_emit(b, bcd, pid, vid, opts->bcd_dfu ? opts->bcd_dfu : 0x0100);
    }
    return dfui_buf_status(b, err);
}

int dfu_image_write_bin(const dfu_image *img, struct dfu_write_opts *opts, uint8_t **out,
                        size_t *outlen, struct dfu_err *err)
{
    struct dfui_buf b = {0};
    int rc = dfui_emit_bin(img, opts, &b, err);

    return dfui_buf_finish(&b, rc, out, outlen, err);
}
