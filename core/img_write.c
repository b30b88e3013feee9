/* Writer dispatch, output buffers, and saving an image to a file chosen by its extension. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "img_internal.h"

void dfu_write_opts_init(struct dfu_write_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->vid = 0x0483;
    opts->pid = 0xdf11;
    opts->bcd_device = 0xFFFF;
    opts->gap_warn = 64 * 1024;
}

void dfui_buf_flush(struct dfui_buf *b)
{
    if (b->sink == NULL || b->n == 0 || b->fail)
        return;
    if (b->crc_on)
        b->crc = dfu_crc32(b->crc, b->p, b->n);
    if (b->sink(b->ud, b->p, b->n) != 0)
        b->fail = 1;
    b->n = 0;
}

int dfui_buf_reserve(struct dfui_buf *b, size_t size)
{
    if (b->p != NULL || b->sink != NULL)
        return 0;
    b->p = malloc(size ? size : 1);
    if (b->p == NULL) {
        b->oom = 1;
        return DFU_E_NOMEM;
    }
    b->cap = size ? size : 1;
    return 0;
}

uint8_t *dfui_buf_room(struct dfui_buf *b, size_t extra)
{
    if (b->oom || b->fail)
        return NULL;
    if (b->sink != NULL && b->n + extra > b->cap && b->n > 0) {
        dfui_buf_flush(b);
        if (b->fail)
            return NULL;
    }
    if (extra > SIZE_MAX - b->n) {
        b->oom = 1;
        return NULL;
    }
    if (b->n + extra > b->cap) {
        size_t nc = b->cap ? b->cap : b->sink != NULL ? DFUI_OUT_CHUNK : 4096;
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
    if (b->sink != NULL && len >= DFUI_OUT_CHUNK / 2 && !b->oom && !b->fail) {
        /* A large block goes to the sink as it is, after what is buffered. */
        dfui_buf_flush(b);
        if (b->fail)
            return;
        if (b->crc_on)
            b->crc = dfu_crc32(b->crc, data, len);
        if (b->sink(b->ud, data, len) != 0)
            b->fail = 1;
        return;
    }
    uint8_t *p = dfui_buf_room(b, len);
    if (p == NULL)
        return;
    if (len > 0)
        memcpy(p, data, len);
    b->n += len;
}

void dfui_buf_fill(struct dfui_buf *b, uint8_t c, size_t len)
{
    while (len > 0) {
        size_t k = len < DFUI_OUT_CHUNK ? len : DFUI_OUT_CHUNK;
        uint8_t *p = dfui_buf_room(b, k);
        if (p == NULL)
            return;
        memset(p, c, k);
        b->n += k;
        len -= k;
    }
}

uint32_t dfui_buf_crc(const struct dfui_buf *b)
{
    return dfu_crc32(b->crc, b->p, b->n);
}

int dfui_buf_status(const struct dfui_buf *b, struct dfu_err *err)
{
    if (b->oom)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    return b->fail ? DFU_E_IO : 0;
}

int dfui_buf_finish(struct dfui_buf *b, int rc, uint8_t **out, size_t *outlen, struct dfu_err *err)
{
    if (rc != 0) {
        free(b->p);
        return rc;
    }
    if (b->oom || dfui_buf_room(b, 1) == NULL) { /* room for 1 so an empty output is non-NULL */
        free(b->p);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    *out = b->p;
    *outlen = b->n;
    return 0;
}

/* Write @img as @fmt into @b. */
static int emit(const dfu_image *img, enum dfu_format fmt, struct dfu_write_opts *opts,
                struct dfui_buf *b, struct dfu_err *err)
{
    unsigned rs = opts != NULL ? opts->record_size : 0;
    if (opts != NULL)
        opts->warning[0] = '\0';
    switch (fmt) {
    case DFU_FMT_IHEX:
        dfui_emit_ihex(img, rs, b);
        return dfui_buf_status(b, err);
    case DFU_FMT_SREC:
        dfui_emit_srec(img, rs, b);
        return dfui_buf_status(b, err);
    case DFU_FMT_BIN:
        return dfui_emit_bin(img, opts, b, err);
    case DFU_FMT_DFUSE:
        return dfui_emit_dfuse(img, opts, b, err);
    case DFU_FMT_ELF:
    case DFU_FMT_UNKNOWN:
        break;
    }
    return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "cannot write %s files", dfu_format_name(fmt));
}

int dfu_image_write(const dfu_image *img, enum dfu_format fmt, struct dfu_write_opts *opts,
                    uint8_t **out, size_t *outlen, struct dfu_err *err)
{
    struct dfui_buf b = {0};
    int rc = emit(img, fmt, opts, &b, err);

    return dfui_buf_finish(&b, rc, out, outlen, err);
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

/* ---- saving: a temporary file next to the destination, renamed over it when complete ---- */

/* Set err->sys and an I/O error "PATH: WHAT: strerror". */
static int save_err(struct dfu_err *err, const char *path, const char *what, int e)
{
    if (err != NULL)
        err->sys = e;
    return dfu_err_set(err, DFU_E_IO, "%s: %s: %s", path, what, strerror(e));
}

/* Create a new file "DIR/.NAME.XXXXXX" next to @path: a fresh name each try, O_EXCL so that
 * nothing already there (a file, a symlink planted by someone else) is opened, mode 0666 less
 * the umask. Returns the descriptor and the malloc'd name in *@tmp, or -1 with errno set. */
static int open_temp(const char *path, char **tmp)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static unsigned long counter;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    size_t baselen = strlen(path + dirlen);
    struct timespec ts = {0, 0};

    if (baselen > 200)
        baselen = 200; /* room for the suffix within NAME_MAX */
    char *t = malloc(dirlen + baselen + 10);
    if (t == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(t, path, dirlen);
    t[dirlen] = '.';
    memcpy(t + dirlen + 1, path + dirlen, baselen);
    char *x = t + dirlen + 1 + baselen;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 20;
    for (int tries = 0; tries < 100; tries++) {
        uint64_t v = seed + ++counter * 0x9E3779B97F4A7C15u; /* splitmix64 */
        v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9u;
        v = (v ^ (v >> 27)) * 0x94D049BB133111EBu;
        v ^= v >> 31;
        x[0] = '.';
        for (int i = 1; i <= 6; i++, v /= sizeof digits - 1)
            x[i] = digits[v % (sizeof digits - 1)];
        x[7] = '\0';
        int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp = t;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(t);
    errno = e;
    return -1;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Flush a directory entry change to disk where the system allows it; errors are ignored (some
 * file systems cannot sync a directory, and the rename itself has already happened). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    int fd;

    if (slash == NULL) {
        fd = open(".", O_RDONLY | O_CLOEXEC);
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir == NULL)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
        fd = open(dir, O_RDONLY | O_CLOEXEC);
        free(dir);
    }
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The file being written by dfu_image_save(): a temporary file next to @path, created when
 * the first bytes are ready, so that an image the format cannot hold leaves nothing behind. */
struct save {
    const char *path;
    char *tmp;
    int fd;
    const char *what; /* what failed, with @e the errno */
    int e;
};

static int save_open(struct save *sv)
{
    struct stat st;

    sv->fd = open_temp(sv->path, &sv->tmp);
    if (sv->fd < 0) {
        sv->what = "cannot create a file in its directory";
        sv->e = errno;
        return -1;
    }
    if (stat(sv->path, &st) == 0 && S_ISREG(st.st_mode) && fchmod(sv->fd, st.st_mode & 0777) != 0) {
        sv->what = "cannot set the permissions";
        sv->e = errno;
        return -1;
    }
    return 0;
}

static int save_sink(void *ud, const uint8_t *data, size_t len)
{
    struct save *sv = ud;

    if (sv->fd < 0 && save_open(sv) != 0)
        return -1;
    if (write_all(sv->fd, data, len) != 0) {
        sv->what = "write failed";
        sv->e = errno;
        return -1;
    }
    return 0;
}

/* Sync, close and rename the temporary file over the destination; on failure (@ok == 0 or a
 * step failing) remove it. Returns 0 or the DFU_E_IO of the failed step. */
static int save_end(struct save *sv, int ok, struct dfu_err *err)
{
    if (ok && sv->fd < 0 && save_open(sv) != 0) /* empty output */
        ok = 0;
    if (ok && fsync(sv->fd) != 0) {
        sv->what = "write failed";
        sv->e = errno;
        ok = 0;
    }
    if (sv->fd >= 0 && close(sv->fd) != 0 && ok) {
        sv->what = "write failed";
        sv->e = errno;
        ok = 0;
    }
    sv->fd = -1;
    if (ok && rename(sv->tmp, sv->path) != 0) {
        sv->what = "cannot replace it";
        sv->e = errno;
        ok = 0;
    }
    if (!ok && sv->tmp != NULL)
        unlink(sv->tmp);
    free(sv->tmp);
    sv->tmp = NULL;
    if (!ok)
        return sv->what != NULL ? save_err(err, sv->path, sv->what, sv->e) : DFU_E_IO;
    sync_dir(sv->path);
    return 0;
}

int dfu_image_save(const dfu_image *img, const char *path, struct dfu_write_opts *opts,
                   struct dfu_err *err)
{
    enum dfu_format fmt = dfu_format_from_ext(path);
    struct save sv = {path, NULL, -1, NULL, 0};
    struct dfui_buf b = {0};

    if (fmt == DFU_FMT_UNKNOWN)
        return dfu_err_set(err, DFU_E_INVALID,
                           "%s: unknown output format (use .bin, .hex, .s19, .srec or .dfu)", path);
    b.sink = save_sink;
    b.ud = &sv;
    int rc = emit(img, fmt, opts, &b, err);
    if (rc == 0) {
        dfui_buf_flush(&b);
        rc = dfui_buf_status(&b, err);
    }
    free(b.p);
    if (rc != 0 && !b.fail) {
        save_end(&sv, 0, NULL);
        return dfu_err_prefix(err, "%s", path);
    }
    return save_end(&sv, rc == 0, err);
}
