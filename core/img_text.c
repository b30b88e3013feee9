/*
 * Input side of the text readers (Intel HEX, S-records): lines from a buffer or from a file read
 * in chunks, and the sink that puts data records into the image as they are read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_internal.h"

size_t dfui_read_chunk = 64 * 1024;

void dfui_text_mem(struct dfui_text *t, const uint8_t *buf, size_t len)
{
    memset(t, 0, sizeof *t);
    t->mem = buf;
    t->memlen = len;
    t->fd = -1;
}

void dfui_text_fd(struct dfui_text *t, int fd, const char *path)
{
    memset(t, 0, sizeof *t);
    t->fd = fd;
    t->path = path;
}

void dfui_text_free(struct dfui_text *t)
{
    free(t->buf);
    t->buf = NULL;
    t->cap = t->pos = t->end = t->scan = 0;
}

static int text_io_err(struct dfui_text *t, int e, struct dfu_err *err)
{
    if (err != NULL)
        err->sys = e;
    return dfu_err_set(err, DFU_E_IO, "%s: %s", t->path, strerror(e));
}

/* One read() after buf[end]. When less than a chunk is free there, the unread bytes (part of a
 * line) move to the front first, and if that is not enough the buffer doubles. */
static int text_read(struct dfui_text *t, struct dfu_err *err)
{
    size_t chunk = dfui_read_chunk > 0 ? dfui_read_chunk : 1;

    if (t->cap - t->end < chunk && t->pos > 0) {
        memmove(t->buf, t->buf + t->pos, t->end - t->pos);
        t->end -= t->pos;
        t->scan -= t->pos;
        t->pos = 0;
    }
    if (t->cap - t->end < chunk) {
        size_t nc = t->cap > 0 ? t->cap * 2 : chunk;
        if (nc < t->cap || nc - t->end < chunk)
            nc = t->end + chunk;
        uint8_t *p = realloc(t->buf, nc);
        if (p == NULL)
            return dfu_err_set(err, DFU_E_NOMEM, "%s: out of memory", t->path);
        t->buf = p;
        t->cap = nc;
    }
    for (;;) {
        ssize_t r = read(t->fd, t->buf + t->end, t->cap - t->end);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return text_io_err(t, errno, err);
        if (r == 0) {
            t->eof = 1;
            return 0;
        }
        t->end += (size_t)r;
        t->nread += (uint64_t)r;
        if (t->nread > DFU_IMAGE_MAX_FILE)
            return dfu_err_set(err, DFU_E_FORMAT,
                               "%s: over the %u MiB limit for an image file (it grew while being "
                               "read)",
                               t->path, DFU_IMAGE_MAX_FILE >> 20);
        return 0;
    }
}

int dfui_text_fill(struct dfui_text *t, size_t want, struct dfu_err *err)
{
    if (t->mem != NULL || t->fd < 0)
        return 0;
    while (!t->eof && t->end - t->pos < want) {
        int rc = text_read(t, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

const uint8_t *dfui_text_peek(const struct dfui_text *t, size_t *len)
{
    if (t->fd < 0) {
        *len = t->memlen - t->pos;
        return t->mem + t->pos;
    }
    *len = t->end - t->pos;
    return t->buf != NULL ? t->buf + t->pos : (const uint8_t *)"";
}

int dfui_text_begin(struct dfui_text *t, struct dfu_err *err)
{
    size_t n;
    int rc = dfui_text_fill(t, 3, err);
    if (rc != 0)
        return rc;
    const uint8_t *p = dfui_text_peek(t, &n);
    if (t->line == 0 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        t->pos += 3; /* UTF-8 byte order mark written by some Windows editors */
        if (t->scan < t->pos)
            t->scan = t->pos;
    }
    return 0;
}

int dfui_text_line(struct dfui_text *t, const unsigned char **ls, const unsigned char **le,
                   struct dfu_err *err)
{
    if (t->fd < 0) {
        if (t->pos >= t->memlen)
            return 0;
        const unsigned char *p = t->mem + t->pos, *end = t->mem + t->memlen;
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        *ls = p;
        *le = nl != NULL ? nl : end;
        t->pos = nl != NULL ? (size_t)(nl + 1 - t->mem) : t->memlen;
        t->line++;
        return 1;
    }
    for (;;) {
        if (t->scan < t->pos)
            t->scan = t->pos;
        const unsigned char *nl =
            t->end > t->scan ? memchr(t->buf + t->scan, '\n', t->end - t->scan) : NULL;
        if (nl != NULL) {
            *ls = t->buf + t->pos;
            *le = nl;
            t->pos = t->scan = (size_t)(nl + 1 - t->buf);
            t->line++;
            return 1;
        }
        t->scan = t->end;
        if (t->eof) {
            if (t->pos == t->end)
                return 0;
            *ls = t->buf + t->pos;
            *le = t->buf + t->end;
            t->pos = t->scan = t->end;
            t->line++;
            return 1;
        }
        int rc = text_read(t, err);
        if (rc != 0)
            return rc;
    }
}

int dfui_text_rewind(struct dfui_text *t, struct dfu_err *err)
{
    t->line = 0;
    t->pos = t->scan = 0;
    if (t->fd >= 0) {
        if (lseek(t->fd, 0, SEEK_SET) != 0)
            return text_io_err(t, errno, err);
        t->end = 0;
        t->eof = 0;
        t->nread = 0;
    }
    return dfui_text_begin(t, err);
}

int dfui_read_text(struct dfui_text *t, const char *name, dfui_text_pass pass, dfu_image **out,
                   struct dfu_err *err)
{
    *out = NULL;
    int rc = dfui_text_begin(t, err);
    if (rc != 0)
        return rc;
    rc = pass(t, name, 0, out, err);
    if (rc != DFUI_RESTART)
        return rc;
    rc = dfui_text_rewind(t, err);
    if (rc != 0)
        return rc;
    return pass(t, name, 1, out, err);
}

/* ---- sink ---- */

int dfui_sink_init(struct dfui_sink *s, int collect, struct dfu_err *err)
{
    memset(s, 0, sizeof *s);
    s->collect = collect;
    dfui_recs_init(&s->recs);
    if (!collect) {
        s->img = dfu_image_new();
        if (s->img == NULL)
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    return 0;
}

void dfui_sink_free(struct dfui_sink *s)
{
    dfu_image_free(s->img);
    s->img = NULL;
    dfui_recs_free(&s->recs);
}

int dfui_sink_put(struct dfui_sink *s, uint32_t addr, const uint8_t *data, uint32_t len,
                  unsigned line, const char *name, struct dfu_err *err)
{
    if (s->collect) {
        if (dfui_recs_push(&s->recs, addr, data, len, line) != 0)
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        return 0;
    }
    if (s->any && addr < s->last)
        return DFUI_RESTART;
    s->any = 1;
    s->last = addr;
    if (s->conflict)
        return 0; /* the file is only checked from here on */

    /* The error goes to a copy of *err, reported only if the rest of the file parses. */
    struct dfu_err e;
    if (err != NULL)
        e = *err;
    else
        dfu_err_clear(&e);
    int rc = dfu_image_add(s->img, addr, data, len, &e);
    if (rc == DFU_E_RANGE) {
        /* In a file, disagreeing records are a format error at the later line. */
        e.line = line;
        e.code = DFU_E_FORMAT;
        dfu_err_prefix(&e, "%s:%u", dfui_name(name), line);
        s->conflict = 1;
        s->cerr = e;
        return 0;
    }
    if (rc != 0 && err != NULL)
        *err = e;
    return rc;
}

int dfui_sink_finish(struct dfui_sink *s, int rc, const char *name, enum dfu_format fmt,
                     int has_entry, uint32_t entry, dfu_image **out, struct dfu_err *err)
{
    if (rc != 0) {
        dfui_sink_free(s);
        return rc;
    }
    if (s->collect)
        return dfui_recs_to_image(&s->recs, name, fmt, has_entry, entry, out, err);
    if (s->conflict) {
        if (err != NULL)
            *err = s->cerr;
        dfui_sink_free(s);
        return DFU_E_FORMAT;
    }
    dfu_image_set_entry(s->img, has_entry, entry);
    dfu_image_set_format(s->img, fmt);
    *out = s->img;
    s->img = NULL;
    dfui_sink_free(s);
    return 0;
}

int dfui_parse_text_mem(const uint8_t *buf, size_t len, const char *name, dfui_text_pass pass,
                        dfu_image **out, struct dfu_err *err)
{
    struct dfui_text t;

    dfui_text_mem(&t, buf, len);
    return dfui_read_text(&t, name, pass, out, err);
}

int dfui_text_record(struct dfui_text *t, const unsigned char **ls, const unsigned char **s,
                     const unsigned char **q, struct dfu_err *err)
{
    int rc;

    while ((rc = dfui_text_line(t, ls, q, err)) == 1) {
        while (*q > *ls && dfui_is_space((*q)[-1]))
            (*q)--;
        *s = *ls;
        while (*s < *q && dfui_is_space(**s))
            (*s)++;
        if (*s < *q)
            return 1;
    }
    return rc;
}
