/*
 * DfuSe files (UM0391, protocol.md 5.2): an 11-byte prefix, targets (one per alternate
 * setting) made of elements (address, size, data), and a DFU suffix with bcdDFU 0x011A.
 */
#include <stdlib.h>
#include <string.h>

#include "img_internal.h"

#define PREFIX_LEN 11
#define TARGET_LEN 274
#define SUFFIX_LEN 16
#define NAME_LEN 255

/* Top-level segments are the union of the targets. Targets for different alt settings may
 * describe different memories at the same addresses (rare); then only the first target's
 * data is shown at the top level and the targets stay authoritative. */
static int fill_top(dfu_image *img)
{
    dfu_image *top = dfu_image_new();
    if (top == NULL)
        return DFU_E_NOMEM;
    for (size_t i = 0; i < dfu_image_target_count(img); i++) {
        dfu_image *t = dfu_image_target(img, i, NULL, NULL);
        if (dfu_image_merge(top, t, NULL) != 0) {
            dfu_image_free(top);
            top = dfu_image_clone(dfu_image_target(img, 0, NULL, NULL));
            if (top == NULL)
                return DFU_E_NOMEM;
            break;
        }
    }
    dfui_image_move_segments(img, top);
    dfu_image_free(top);
    return 0;
}

int dfu_image_parse_dfuse(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                          struct dfu_err *err)
{
    struct dfu_suffix sfx;
    int found, rc;
    dfu_image *img = NULL, *t = NULL;

    *out = NULL;
    if (len < 5 || memcmp(buf, "DfuSe", 5) != 0)
        return dfui_err_off(err, name, 0, "no \"DfuSe\" signature");
    if (len < PREFIX_LEN + SUFFIX_LEN)
        return dfui_err_off(err, name, len, "truncated: %zu bytes is too short for a DfuSe file",
                            len);
    if (buf[5] != 0x01)
        return dfui_err_off(err, name, 5, "unsupported DfuSe version 0x%02x", buf[5]);
    rc = dfui_suffix_read(buf, len, name, &sfx, &found, err);
    if (rc != 0)
        return rc;
    if (!found)
        return dfui_err_off(err, name, len - SUFFIX_LEN,
                            "no DFU suffix (file truncated or not a DfuSe file)");
    if (sfx.length != SUFFIX_LEN)
        return dfui_err_off(err, name, len - SUFFIX_LEN + 11,
                            "DFU suffix length %u, a DfuSe file has 16", sfx.length);
    /* DFUImageSize: UM0391 says the whole file; dfuse-pack before 2020 (dfu-util ticket 95)
     * and other old writers left the suffix out. Both are accepted. */
    uint32_t isize = dfui_le32(buf + 6);
    if (isize != len && isize != len - SUFFIX_LEN)
        return dfui_err_off(err, name, 6,
                            "DFUImageSize %u matches neither the file size %zu nor %zu without "
                            "the suffix",
                            (unsigned)isize, len, len - SUFFIX_LEN);
    unsigned ntargets = buf[10];
    if (ntargets == 0)
        return dfui_err_off(err, name, 10, "no targets");

    img = dfu_image_new();
    if (img == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    size_t off = PREFIX_LEN, limit = len - SUFFIX_LEN;
    for (unsigned ti = 0; ti < ntargets; ti++) {
        if (limit - off < TARGET_LEN) {
            rc =
                dfui_err_off(err, name, off, "truncated: target %u prefix needs %d bytes, %zu left",
                             ti, TARGET_LEN, limit - off);
            goto fail;
        }
        const uint8_t *tp = buf + off;
        if (memcmp(tp, "Target", 6) != 0) {
            rc = dfui_err_off(err, name, off, "target %u: no \"Target\" signature", ti);
            goto fail;
        }
        uint8_t alt = tp[6];
        uint32_t named = dfui_le32(tp + 7);
        char tname[NAME_LEN + 1];
        memcpy(tname, tp + 11, NAME_LEN);
        tname[NAME_LEN] = '\0';
        uint32_t tsize = dfui_le32(tp + 266);
        uint32_t nelem = dfui_le32(tp + 270);
        off += TARGET_LEN;
        size_t tstart = off;
        if (tsize > limit - off) {
            rc = dfui_err_off(err, name, tstart - 8,
                              "truncated: target %u size %u, only %zu bytes before the suffix", ti,
                              (unsigned)tsize, limit - off);
            goto fail;
        }
        size_t tend = off + tsize;
        t = dfu_image_new();
        if (t == NULL) {
            rc = dfu_err_set(err, DFU_E_NOMEM, "out of memory");
            goto fail;
        }
        dfu_image_set_format(t, DFU_FMT_DFUSE);
        for (uint32_t ei = 0; ei < nelem; ei++) {
            if (tend - off < 8) {
                rc = dfui_err_off(err, name, off,
                                  "target %u element %u: header runs past the target size", ti,
                                  (unsigned)ei);
                goto fail;
            }
            uint32_t ea = dfui_le32(buf + off), es = dfui_le32(buf + off + 4);
            if (es > tend - off - 8) {
                rc = dfui_err_off(err, name, off + 4,
                                  "target %u element %u: size %u runs past the target size", ti,
                                  (unsigned)ei, (unsigned)es);
                goto fail;
            }
            rc = dfu_image_add(t, ea, buf + off + 8, es, err);
            if (rc != 0) {
                if (err != NULL)
                    err->offset = (long)off;
                dfu_err_prefix(err, "%s: offset %zu: target %u element %u", dfui_name(name), off,
                               ti, (unsigned)ei);
                if (rc == DFU_E_RANGE && err != NULL)
                    err->code = rc = DFU_E_FORMAT;
                goto fail;
            }
            off += 8 + (size_t)es;
        }
        if (off != tend) {
            rc = dfui_err_off(err, name, off,
                              "target %u: elements end %zu bytes before the target size", ti,
                              tend - off);
            goto fail;
        }
        rc = dfu_image_add_target(img, alt, named ? tname : NULL, t, err);
        t = NULL;
        if (rc != 0)
            goto fail;
    }
    if (off != limit) {
        rc = dfui_err_off(err, name, off, "%zu bytes of unexpected data after the last target",
                          limit - off);
        goto fail;
    }
    if (fill_top(img) != 0) {
        rc = dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        goto fail;
    }
    dfu_image_set_format(img, DFU_FMT_DFUSE);
    dfu_image_set_suffix(img, &sfx);
    *out = img;
    return 0;
fail:
    dfu_image_free(t);
    dfu_image_free(img);
    return rc;
}

/* One target: prefix then one element per segment. */
static void put_target(struct dfui_buf *b, uint8_t alt, const char *tname, const dfu_image *t)
{
    uint8_t *p = dfui_buf_room(b, TARGET_LEN);
    if (p == NULL)
        return;
    memset(p, 0, TARGET_LEN);
    memcpy(p, "Target", 6);
    p[6] = alt;
    dfui_put32(p + 7, 1);
    size_t nl = strlen(tname);
    memcpy(p + 11, tname, nl < NAME_LEN ? nl : NAME_LEN);
    uint64_t tsize = 0;
    for (size_t i = 0; i < dfu_image_count(t); i++)
        tsize += 8 + (uint64_t)dfu_image_segment(t, i)->size;
    dfui_put32(p + 266, (uint32_t)tsize);
    dfui_put32(p + 270, (uint32_t)dfu_image_count(t));
    b->n += TARGET_LEN;
    for (size_t i = 0; i < dfu_image_count(t); i++) {
        const struct dfu_segment *s = dfu_image_segment(t, i);
        uint8_t hdr[8];
        dfui_put32(hdr, s->addr);
        dfui_put32(hdr + 4, s->size);
        dfui_buf_put(b, hdr, 8);
        dfui_buf_put(b, s->data, s->size);
    }
}

int dfui_emit_dfuse(const dfu_image *img, struct dfu_write_opts *opts, struct dfui_buf *b,
                    struct dfu_err *err)
{
    struct dfu_write_opts def;

    if (opts == NULL) {
        dfu_write_opts_init(&def);
        opts = &def;
    }
    opts->warning[0] = '\0';
    size_t nt = dfu_image_target_count(img);
    if (nt > 255)
        return dfu_err_set(err, DFU_E_RANGE, "DfuSe files hold at most 255 targets, image has %zu",
                           nt);
    /* The file's sizes are 32-bit: refuse what cannot be described. */
    uint64_t total = PREFIX_LEN + SUFFIX_LEN;
    if (nt == 0) {
        total += TARGET_LEN + dfu_image_size(img) + 8 * (uint64_t)dfu_image_count(img);
    } else {
        for (size_t i = 0; i < nt; i++) {
            dfu_image *t = dfu_image_target(img, i, NULL, NULL);
            total += TARGET_LEN + dfu_image_size(t) + 8 * (uint64_t)dfu_image_count(t);
        }
    }
    if (total > UINT32_MAX)
        return dfu_err_set(err, DFU_E_RANGE, "image too large for a DfuSe file");

    b->crc_on = 1;
    uint8_t *p = dfui_buf_room(b, PREFIX_LEN);
    if (p != NULL) {
        memcpy(p, "DfuSe", 5);
        p[5] = 0x01;
        dfui_put32(p + 6, (uint32_t)total); /* whole file, suffix included (UM0391) */
        p[10] = (uint8_t)(nt == 0 ? 1 : nt);
        b->n += PREFIX_LEN;
    }
    if (nt == 0) {
        put_target(b, opts->alt, opts->target_name ? opts->target_name : "ST...", img);
    } else {
        for (size_t i = 0; i < nt; i++) {
            uint8_t alt;
            const char *tname;
            dfu_image *t = dfu_image_target(img, i, &alt, &tname);
            put_target(b, alt, tname ? tname : "ST...", t);
        }
    }
    uint16_t vid = opts->vid, pid = opts->pid, bcd = opts->bcd_device;
    if (vid == 0 && pid == 0 && bcd == 0) {
        vid = 0x0483;
        pid = 0xdf11;
        bcd = 0xFFFF;
    }
    dfui_suffix_emit(b, bcd, pid, vid, 0x011A);
    return dfui_buf_status(b, err);
}

int dfu_image_write_dfuse(const dfu_image *img, struct dfu_write_opts *opts, uint8_t **out,
                          size_t *outlen, struct dfu_err *err)
{
    struct dfui_buf b = {0};
    int rc = dfui_emit_dfuse(img, opts, &b, err);

    return dfui_buf_finish(&b, rc, out, outlen, err);
}
