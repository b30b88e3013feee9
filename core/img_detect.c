/* Format detection from content (never from the file name), and loading files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_internal.h"

enum dfu_format dfu_image_detect(const uint8_t *buf, size_t len)
{
    if (len >= 4 && memcmp(buf,
                           "\x7f"
                           "ELF",
                           4) == 0)
        return DFU_FMT_ELF;
    if (len >= 5 && memcmp(buf, "DfuSe", 5) == 0)
        return DFU_FMT_DFUSE;
    size_t i = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (dfui_is_space(buf[i]) || buf[i] == '\n'))
        i++;
    /* A text format needs its start character followed by hex digits, so that a binary that
     * happens to start with ':' or 'S' is still treated as binary. */
    if (i + 2 < len && buf[i] == ':' && dfui_hexval[buf[i + 1]] && dfui_hexval[buf[i + 2]])
        return DFU_FMT_IHEX;
    if (i + 3 < len && (buf[i] == 'S' || buf[i] == 's') && buf[i + 1] >= '0' && buf[i + 1] <= '9' &&
        dfui_hexval[buf[i + 2]] && dfui_hexval[buf[i + 3]])
        return DFU_FMT_SREC;
    return len > 0 ? DFU_FMT_BIN : DFU_FMT_UNKNOWN;
}

int dfu_image_parse(const uint8_t *buf, size_t len, const struct dfu_load_opts *opts,
                    dfu_image **out, struct dfu_err *err)
{
    const char *name = opts != NULL ? opts->name : NULL;

    *out = NULL;
    if (len == 0)
        return dfui_err_off(err, name, 0, "empty file");
    switch (dfu_image_detect(buf, len)) {
    case DFU_FMT_ELF:
        return dfu_image_parse_elf(buf, len, name, out, err);
    case DFU_FMT_DFUSE:
        return dfu_image_parse_dfuse(buf, len, name, out, err);
    case DFU_FMT_IHEX:
        return dfu_image_parse_ihex(buf, len, name, out, err);
    case DFU_FMT_SREC:
        return dfu_image_parse_srec(buf, len, name, out, err);
    case DFU_FMT_BIN:
    case DFU_FMT_UNKNOWN:
        break;
    }
    if (opts == NULL || !opts->has_base)
        return dfu_err_set(err, DFU_E_INVALID,
                           "%s: raw binary needs a base address (FILE@ADDR, e.g. @0x08000000)",
                           dfui_name(name));
    return dfu_image_parse_bin(buf, len, opts->base, name, out, err);
}

int dfu_image_load(const char *path, const struct dfu_load_opts *opts, dfu_image **out,
                   struct dfu_err *err)
{
    struct dfu_load_opts o = {0};
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int e;

    *out = NULL;
    if (opts != NULL)
        o = *opts;
    if (o.name == NULL)
        o.name = path;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        e = errno;
        goto ioerr;
    }
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 64 * 1024;
            uint8_t *p = realloc(buf, nc);
            if (p == NULL) {
                fclose(f);
                free(buf);
                return dfu_err_set(err, DFU_E_NOMEM, "%s: out of memory", path);
            }
            buf = p;
            cap = nc;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        e = errno;
        fclose(f);
        free(buf);
        goto ioerr;
    }
    fclose(f);
    int rc = dfu_image_parse(buf, len, &o, out, err);
    free(buf);
    return rc;
ioerr:
    if (err != NULL)
        err->sys = e;
    return dfu_err_set(err, DFU_E_IO, "%s: %s", path, strerror(e));
}
