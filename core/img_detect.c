/* Format detection from content (never from the file name), and loading files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    return "a special file";
}

/* Refuse anything but a regular file of at most DFU_IMAGE_MAX_FILE bytes. */
static int check_file(const char *path, const struct stat *st, struct dfu_err *err)
{
    if (!S_ISREG(st->st_mode))
        return dfu_err_set(err, DFU_E_INVALID, "%s: not a regular file (%s); give an image file",
                           path, file_kind(st->st_mode));
    if (st->st_size > (off_t)DFU_IMAGE_MAX_FILE)
        return dfu_err_set(err, DFU_E_FORMAT,
                           "%s: %lld bytes, over the %u MiB limit for an image file", path,
                           (long long)st->st_size, DFU_IMAGE_MAX_FILE >> 20);
    return 0;
}

/* Read the whole of the regular file @fd (@size bytes when it was opened) into a malloc'd
 * buffer; a file that grows past DFU_IMAGE_MAX_FILE while it is read is refused. */
static int read_file(int fd, const char *path, size_t size, uint8_t **out, size_t *outlen,
                     struct dfu_err *err)
{
    size_t cap = size + 1, len = 0; /* room to see the end of the file without growing */
    uint8_t *buf = malloc(cap);
    int rc = 0;

    while (buf != NULL) {
        if (len == cap) {
            if (cap > DFU_IMAGE_MAX_FILE) {
                rc = dfu_err_set(err, DFU_E_FORMAT,
                                 "%s: over the %u MiB limit for an image file (it grew while "
                                 "being read)",
                                 path, DFU_IMAGE_MAX_FILE >> 20);
                break;
            }
            size_t nc = cap < DFU_IMAGE_MAX_FILE / 2 ? cap * 2 : (size_t)DFU_IMAGE_MAX_FILE + 1;
            uint8_t *p = realloc(buf, nc);
            if (p == NULL)
                break;
            buf = p;
            cap = nc;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            if (err != NULL)
                err->sys = e;
            rc = dfu_err_set(err, DFU_E_IO, "%s: %s", path, strerror(e));
            break;
        }
        if (r == 0) {
            *out = buf;
            *outlen = len;
            return 0;
        }
        len += (size_t)r;
    }
    free(buf);
    return rc != 0 ? rc : dfu_err_set(err, DFU_E_NOMEM, "%s: out of memory", path);
}

int dfu_image_load(const char *path, const struct dfu_load_opts *opts, dfu_image **out,
                   struct dfu_err *err)
{
    struct dfu_load_opts o = {0};
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;
    int fd, rc, e;

    *out = NULL;
    if (opts != NULL)
        o = *opts;
    if (o.name == NULL)
        o.name = path;
    /* Look before opening, so that a device is never opened at all; look again at what was
     * opened, in case the name now points elsewhere. O_NONBLOCK: opening a FIFO does not wait
     * for a writer (it is refused right after). */
    if (stat(path, &st) != 0) {
        e = errno;
        goto ioerr;
    }
    rc = check_file(path, &st, err);
    if (rc != 0)
        return rc;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        goto ioerr;
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        goto ioerr;
    }
    rc = check_file(path, &st, err);
    if (rc == 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl != -1)
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        rc = read_file(fd, path, (size_t)st.st_size, &buf, &len, err);
    }
    close(fd);
    if (rc != 0)
        return rc;
    rc = dfu_image_parse(buf, len, &o, out, err);
    free(buf);
    return rc;
ioerr:
    if (err != NULL)
        err->sys = e;
    return dfu_err_set(err, DFU_E_IO, "%s: %s", path, strerror(e));
}
