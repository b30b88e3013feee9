/* Writer dispatch, output buffers, and saving an image to a file chosen by its extension. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_internal.h"

void dfu_write_opts_init(struct dfu_write_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->vid = 0x0483;
    opts->pid = 0xdf11;
    opts->bcd_device = 0xFFFF;
    opts->gap_warn = 64 * 1024;
}

uint8_t *dfui_buf_room(struct dfui_buf *b, size_t extra)
{
    if (b->oom)
        return NULL;
    if (extra > SIZE_MAX - b->n) {
        b->oom = 1;
        return NULL;
    }
    if (b->n + extra > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + extra)
            nc = nc > SIZE_MAX / 2 ? b->n + extra : nc * 2;
        uint8_t *p = realloc(b->p, nc);
        if (p == NULL) {
            b->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = nc;
    }
    return b->p + b->n;
}

void dfui_buf_put(struct dfui_buf *b, const void *data, size_t len)
{
    uint8_t *p = dfui_buf_room(b, len);
    if (p == NULL)
        return;
    if (len > 0)
        memcpy(p, data, len);
    b->n += len;
}

int dfui_buf_finish(struct dfui_buf *b, uint8_t **out, size_t *outlen, struct dfu_err *err)
{
    if (b->oom || dfui_buf_room(b, 1) == NULL) { /* room for 1 so an empty output is non-NULL */
        free(b->p);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    *out = b->p;
    *outlen = b->n;
    return 0;
}

int dfu_image_write(const dfu_image *img, enum dfu_format fmt, struct dfu_write_opts *opts,
                    uint8_t **out, size_t *outlen, struct dfu_err *err)
{
    unsigned rs = opts != NULL ? opts->record_size : 0;
    if (opts != NULL)
        opts->warning[0] = '\0';
    switch (fmt) {
    case DFU_FMT_IHEX:
        return dfui_write_ihex(img, rs, out, outlen, err);
    case DFU_FMT_SREC:
        return dfui_write_srec(img, rs, out, outlen, err);
    case DFU_FMT_BIN:
        return dfu_image_write_bin(img, opts, out, outlen, err);
    case DFU_FMT_DFUSE:
        return dfu_image_write_dfuse(img, opts, out, outlen, err);
    case DFU_FMT_ELF:
    case DFU_FMT_UNKNOWN:
        break;
    }
    return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "cannot write %s files", dfu_format_name(fmt));
}

static int ext_is(const char *ext, const char *want)
{
    for (; *ext != '\0' && *want != '\0'; ext++, want++) {
        char c = *ext >= 'A' && *ext <= 'Z' ? (char)(*ext - 'A' + 'a') : *ext;
        if (c != *want)
            return 0;
    }
    return *ext == '\0' && *want == '\0';
}

enum dfu_format dfu_format_from_ext(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash))
        return DFU_FMT_UNKNOWN;
    dot++;
    if (ext_is(dot, "bin"))
        return DFU_FMT_BIN;
    if (ext_is(dot, "hex") || ext_is(dot, "ihex") || ext_is(dot, "ihx"))
        return DFU_FMT_IHEX;
    if (ext_is(dot, "s19") || ext_is(dot, "srec") || ext_is(dot, "s28") || ext_is(dot, "s37") ||
        ext_is(dot, "mot"))
        return DFU_FMT_SREC;
    if (ext_is(dot, "dfu"))
        return DFU_FMT_DFUSE;
    return DFU_FMT_UNKNOWN;
}

int dfu_image_save(const dfu_image *img, const char *path, struct dfu_write_opts *opts,
                   struct dfu_err *err)
{
    enum dfu_format fmt = dfu_format_from_ext(path);
    uint8_t *buf = NULL;
    size_t len = 0;

    if (fmt == DFU_FMT_UNKNOWN)
        return dfu_err_set(err, DFU_E_INVALID,
                           "%s: unknown output format (use .bin, .hex, .s19, .srec or .dfu)", path);
    int rc = dfu_image_write(img, fmt, opts, &buf, &len, err);
    if (rc != 0)
        return dfu_err_prefix(err, "%s", path);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        int e = errno;
        free(buf);
        if (err != NULL)
            err->sys = e;
        return dfu_err_set(err, DFU_E_IO, "%s: %s", path, strerror(e));
    }
    size_t w = fwrite(buf, 1, len, f);
    int e = errno;
    int bad = w != len || ferror(f);
    if (fclose(f) != 0 && !bad) {
        e = errno;
        bad = 1;
    }
    free(buf);
    if (bad) {
        if (err != NULL)
            err->sys = e;
        return dfu_err_set(err, DFU_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}
