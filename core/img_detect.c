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

/* The first @n bytes of a file decide what dfu_image_detect() says about all of it: the
 * signatures fit, and after any byte order mark and white space there are four bytes to look
 * at. */
static int head_decides(const uint8_t *b, size_t n)
{
    if (n < 5)
        return 0;
    size_t i = memcmp(b, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n && (dfui_is_space(b[i]) || b[i] == '\n'))
        i++;
    return i + 3 < n;
}

/* Read the rest of the file into the buffer of @t and take it over: *@out (@cap bytes
 * allocated, *@outlen used). A file that grows past DFU_IMAGE_MAX_FILE while it is read is
 * refused. */
static int read_rest(struct dfui_text *t, size_t size, uint8_t **out, size_t *outlen,
                     size_t *outcap, struct dfu_err *err)
{
    size_t len = t->end; /* nothing was consumed: the bytes read so far are buf[0, end) */
    int rc = 0;

    size_t cap = size + 1; /* room to see the end of the file without growing */
    if (cap < len + 1)
        cap = len + 1;
    uint8_t *buf = dfui_alloc(cap);
    if (buf == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "%s: out of memory", t->path);
    memcpy(buf, t->buf, len);
    free(t->buf);
    t->buf = buf;
    t->cap = cap;
    while (!t->eof) {
        if (len == cap) {
            if (cap > DFU_IMAGE_MAX_FILE) {
                rc = dfu_err_set(err, DFU_E_FORMAT,
                                 "%s: over the %u MiB limit for an image file (it grew while "
                                 "being read)",
                                 t->path, DFU_IMAGE_MAX_FILE >> 20);
                break;
            }
            size_t nc = cap < DFU_IMAGE_MAX_FILE / 2 ? cap * 2 : (size_t)DFU_IMAGE_MAX_FILE + 1;
            buf = realloc(t->buf, nc);
            if (buf == NULL) {
                rc = dfu_err_set(err, DFU_E_NOMEM, "%s: out of memory", t->path);
                break;
            }
            t->buf = buf;
            cap = t->cap = nc;
        }
        ssize_t r = read(t->fd, t->buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            if (err != NULL)
                err->sys = e;
            rc = dfu_err_set(err, DFU_E_IO, "%s: %s", t->path, strerror(e));
            break;
        }
        if (r == 0)
            t->eof = 1;
        len += (size_t)r;
    }
    if (rc != 0)
        return rc;
    *out = t->buf;
    *outlen = len;
    *outcap = t->cap;
    t->buf = NULL;
    t->cap = t->pos = t->end = t->scan = 0;
    return 0;
}

/* Parse the open regular file @fd of @size bytes. Text formats are parsed as they are read and
 * ELF files read as needed; the other formats are read whole, and a raw binary's buffer becomes
 * the image's segment. */
static int load_fd(int fd, const char *path, size_t size, const struct dfu_load_opts *o,
                   dfu_image **out, struct dfu_err *err)
{
    struct dfui_text t;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n = 0;
    const uint8_t *head;
    int rc;

    dfui_text_fd(&t, fd, path);
    do {
        rc = dfui_text_fill(&t, n + 1, err);
        head = dfui_text_peek(&t, &n);
    } while (rc == 0 && !t.eof && !head_decides(head, n));
    if (rc != 0)
        goto done;
    switch (n == 0 ? DFU_FMT_UNKNOWN : dfu_image_detect(head, n)) {
    case DFU_FMT_IHEX:
        rc = dfui_read_text(&t, o->name, dfui_ihex_pass, out, err);
        break;
    case DFU_FMT_SREC:
        rc = dfui_read_text(&t, o->name, dfui_srec_pass, out, err);
        break;
    case DFU_FMT_ELF:
        rc = dfui_load_elf(fd, size, path, o->name, out, err);
        break;
    case DFU_FMT_BIN:
        rc = read_rest(&t, size, &buf, &len, &cap, err);
        if (rc != 0)
            break;
        if (!o->has_base) {
            rc = dfu_image_parse(buf, len, o, out, err); /* the message asking for a base */
            break;
        }
        rc = dfui_parse_bin_owned(buf, len, cap, o->base, o->name, out, err);
        buf = NULL;
        break;
    case DFU_FMT_DFUSE:
    case DFU_FMT_UNKNOWN:
        rc = read_rest(&t, size, &buf, &len, &cap, err);
        if (rc == 0)
            rc = dfu_image_parse(buf, len, o, out, err);
        break;
    }
done:
    free(buf);
    dfui_text_free(&t);
    return rc;
}

int dfu_image_load(const char *path, const struct dfu_load_opts *opts, dfu_image **out,
                   struct dfu_err *err)
{
    struct dfu_load_opts o = {0};
    struct stat st;
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
        rc = load_fd(fd, path, (size_t)st.st_size, &o, out, err);
    }
    close(fd);
    return rc;
ioerr:
    if (err != NULL)
        err->sys = e;
    return dfu_err_set(err, DFU_E_IO, "%s: %s", path, strerror(e));
}
