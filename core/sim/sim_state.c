/*
 * The state= file: the persisted memory of a simulated chip (design.md 2), used by one process
 * at a time and kept current after every request, so that a process that dies leaves what the
 * chip would hold.
 *
 * Format (all integers little-endian):
 *   snapshot:
 *     "DFUSIMST"  magic, 8 bytes
 *     u32 version (1), char profile[16] (NUL padded), u32 record count
 *     records:  u32 tag (region base address; 0xFFFFFFFF = the H7 flash-word programmed mask)
 *               u32 size, u32 fill byte, u32 page count
 *               pages: u32 page index, then the page's bytes (256, or less for the last page)
 *               u32 CRC-32 of the record from its tag up to here
 *     "END\n"
 *   journal: zero or more entries after the snapshot, one per request that changed memory:
 *     "DFUJ"  magic, u32 entry length (magic to CRC), u32 page count
 *     pages:  u32 tag, u32 page index, u32 byte count (0: every byte of the page is the fill
 *             byte), then the bytes (the whole page)
 *     u32 CRC-32 of the entry from its magic up to here
 * Only pages that differ from the fill byte are stored in the snapshot, so an erased 2 MiB flash
 * costs a few bytes. Flash, RAM, option bytes and OTP are stored; system memory is constant.
 * A zero-length file is treated like a missing one (a fresh, erased device).
 *
 * Loading applies the snapshot, then the journal entries in order. The last entry may be cut
 * short or fail its CRC (the process died while writing it, or the disk filled up): it is
 * dropped, as the request it records never completed. Any other damage is DFU_E_FORMAT.
 *
 * Lifetime of a simulator over FILE:
 * - open: FILE is resolved to a path without symbolic links (realpath), so that a link named in
 *   state= keeps pointing at the file it names and every write replaces that file. A link to a
 *   missing file is refused. The process then takes an exclusive fcntl() lock on the sibling
 *   FILE.lock (created if missing) and holds it until the simulator is freed; a second process
 *   gets DFU_E_BUSY. The holder removes FILE.lock before it lets go; a process that locked a
 *   FILE.lock the name no longer refers to tries again, so there is never more than one holder
 *   (a killed process leaves FILE.lock behind, unlocked). Simulators of one process share the lock
 * (the list below), so a process re-opening a file it already has open does not fail against
 * itself. Then FILE is loaded. A missing FILE is created at once (erased); one with a journal is
 * rewritten as a snapshot, so that appends follow a clean end.
 * - after every request (and every backdoor write) the pages changed by it are appended to the
 *   journal with one write(). That survives the death of the process; there is no fsync per
 *   request, so an operating system crash can lose the last entries (dropped on load).
 * - when the journal grows past the snapshot size plus 4 MiB, on dfu_sim_save, and when the
 *   last simulator of the process over FILE is freed, FILE is rewritten as a snapshot: into a
 *   new file in the same directory (mkstemp: O_CREAT|O_EXCL, a unique name, no link followed),
 *   fsync'd, then renamed over FILE. On failure the temporary file is removed and FILE is left
 *   as it was.
 *
 * Simulators of one process over one file each keep their own memory; each appends only the
 * pages it changed, and a rewrite folds the file's own journal (rather than writing one
 * simulator's memory) when another has written since, so the file holds the last write to
 * every page. The list of open files is per process and not guarded: simulators are created
 * and freed by one thread at a time.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfu/image.h"
#include "sim/sim_int.h"

#define JOURNAL_SLACK (4u << 20) /* journal bytes beyond the snapshot size before a rewrite */
#define TAG_WMASK 0xFFFFFFFFu
#define ENTRY_MIN 16u /* magic, length, page count, CRC */

/* One state file open in this process. */
struct sim_file {
    struct sim_file *next;
    char *path;     /* the file, symbolic links resolved */
    char *lock;     /* FILE.lock */
    dev_t lock_dev; /* its identity */
    ino_t lock_ino;
    int lock_fd; /* holds the lock */
    int fd;      /* the file open for appending, -1 until needed */
    unsigned users;
    off_t size;            /* bytes in the file */
    off_t snapshot;        /* bytes of them before the journal */
    int cut;               /* an append failed part-way and could not be undone: rewrite first */
    unsigned long appends; /* journal entries written by the simulators of this process */
};

static struct sim_file *open_files;

/* A memory image as the file sees it: persisted regions and the H7 programmed-word mask. */
struct target {
    uint32_t tag, size;
    uint8_t fill;
    uint8_t *mem, *dirty;
};

#define MAX_TARGETS (SIM_MAX_REGIONS + 1)

static int persisted(enum sim_kind k)
{
    return k == SIM_K_FLASH || k == SIM_K_RAM || k == SIM_K_OB || k == SIM_K_OTP;
}

static uint32_t wmask_size(dfu_sim *s)
{
    return simi_region_kind(s, SIM_K_FLASH)->size / s->p->prog_unit / 8 + 1;
}

static unsigned targets_of(dfu_sim *s, struct target *t)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->nreg; i++) {
        struct sim_region *r = &s->reg[i];
        if (persisted(r->kind))
            t[n++] = (struct target){r->base, r->size, r->fill, r->mem, r->dirty};
    }
    if (s->wmask != NULL)
        t[n++] = (struct target){TAG_WMASK, wmask_size(s), 0, s->wmask, s->wmask_dirty};
    return n;
}

static struct target *find_target(struct target *t, unsigned n, uint32_t tag)
{
    for (unsigned i = 0; i < n; i++)
        if (t[i].tag == tag)
            return &t[i];
    return NULL;
}

static uint32_t page_len(const struct target *t, uint32_t pg)
{
    return t->size - pg * SIM_PAGE < SIM_PAGE ? t->size - pg * SIM_PAGE : SIM_PAGE;
}

static int page_blank(const struct target *t, uint32_t pg)
{
    const uint8_t *m = t->mem + pg * SIM_PAGE;
    uint32_t n = page_len(t, pg);

    for (uint32_t i = 0; i < n; i++)
        if (m[i] != t->fill)
            return 0;
    return 1;
}

/* ---- building the bytes ---- */

struct blob {
    uint8_t *p;
    size_t n, cap;
};

static int blob_put(struct blob *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            return DFU_E_NOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    return 0;
}

static int blob_u32(struct blob *b, uint32_t v)
{
    uint8_t x[4];

    dfui_put32(x, v);
    return blob_put(b, x, 4);
}

static int snapshot_record(struct blob *b, const struct target *t)
{
    size_t start = b->n, cnt_at;
    uint32_t npages = 0;
    int rc = blob_u32(b, t->tag) || blob_u32(b, t->size) || blob_u32(b, t->fill);

    cnt_at = b->n;
    rc = rc || blob_u32(b, 0);
    for (uint32_t pg = 0; rc == 0 && pg * SIM_PAGE < t->size; pg++) {
        if (page_blank(t, pg))
            continue;
        rc = blob_u32(b, pg) || blob_put(b, t->mem + pg * SIM_PAGE, page_len(t, pg));
        npages++;
    }
    if (rc != 0)
        return DFU_E_NOMEM;
    dfui_put32(b->p + cnt_at, npages);
    return blob_u32(b, dfu_crc32(0, b->p + start, b->n - start)) ? DFU_E_NOMEM : 0;
}

static int snapshot(struct blob *b, const char *profile, const struct target *t, unsigned nt)
{
    char name[16] = {0};
    int rc;

    strncpy(name, profile, sizeof name - 1);
    rc = blob_put(b, "DFUSIMST", 8) || blob_u32(b, 1) || blob_put(b, name, 16) || blob_u32(b, nt);
    for (unsigned i = 0; rc == 0 && i < nt; i++)
        rc = snapshot_record(b, &t[i]);
    return rc || blob_put(b, "END\n", 4) ? DFU_E_NOMEM : 0;
}

/* One journal entry with every dirty page of @t; *count is its page count (0: nothing). */
static int journal_entry(struct blob *b, const struct target *t, unsigned nt, uint32_t *count)
{
    int rc = blob_put(b, "DFUJ", 4) || blob_u32(b, 0) || blob_u32(b, 0);

    *count = 0;
    for (unsigned i = 0; rc == 0 && i < nt; i++) {
        uint32_t npages = (t[i].size + SIM_PAGE - 1) / SIM_PAGE;
        if (t[i].dirty == NULL)
            continue;
        for (uint32_t pg = 0; rc == 0 && pg < npages; pg++) {
            if (t[i].dirty[pg / 8] == 0) {
                pg |= 7u; /* the whole byte of the bitmap is clear */
                continue;
            }
            if (!((t[i].dirty[pg / 8] >> (pg % 8)) & 1u))
                continue;
            uint32_t n = page_blank(&t[i], pg) ? 0 : page_len(&t[i], pg);
            rc = blob_u32(b, t[i].tag) || blob_u32(b, pg) || blob_u32(b, n) ||
                 blob_put(b, t[i].mem + pg * SIM_PAGE, n);
            ++*count;
        }
    }
    if (rc != 0)
        return DFU_E_NOMEM;
    dfui_put32(b->p + 4, (uint32_t)b->n + 4);
    dfui_put32(b->p + 8, *count);
    return blob_u32(b, dfu_crc32(0, b->p, b->n)) ? DFU_E_NOMEM : 0;
}

/* ---- reading the bytes ---- */

struct parsed {
    size_t snapshot; /* bytes of the snapshot */
    unsigned entries;
    int cut; /* a last entry was dropped */
};

static int parse_snapshot(const uint8_t *d, size_t n, const char *profile, struct target *t,
                          unsigned nt, const char *path, size_t *end, struct dfu_err *err)
{
    size_t off = 0;

#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n - off < (size_t)(k))                                                                 \
            return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s is truncated at byte %zu",   \
                               path, n);                                                           \
    } while (0)
    NEED(32);
    if (memcmp(d, "DFUSIMST", 8) != 0 || dfui_le32(d + 8) != 1)
        return dfu_err_set(err, DFU_E_FORMAT, "sim: %s is not a simulator state file", path);
    if (strncmp((const char *)d + 12, profile, 16) != 0)
        return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s belongs to profile %.16s, not %s",
                           path, (const char *)d + 12, profile);
    uint32_t nrec = dfui_le32(d + 28);
    off = 32;
    for (uint32_t r = 0; r < nrec; r++) {
        size_t start = off;
        NEED(16);
        uint32_t tag = dfui_le32(d + off), size = dfui_le32(d + off + 4),
                 fill = dfui_le32(d + off + 8);
        uint32_t npages = dfui_le32(d + off + 12);
        struct target *tg = find_target(t, nt, tag);
        off += 16;
        if (tg == NULL || tg->size != size || fill > 0xFF)
            return dfu_err_set(err, DFU_E_FORMAT,
                               "sim: state file %s: record 0x%08x (%u bytes) does not match the "
                               "device",
                               path, (unsigned)tag, (unsigned)size);
        /* Check the whole record before touching memory. */
        size_t scan = off;
        for (uint32_t i = 0; i < npages; i++) {
            if (scan > n || n - scan < 4) {
                scan = n + 1;
                break;
            }
            uint32_t pg = dfui_le32(d + scan);
            if ((uint64_t)pg * SIM_PAGE >= size)
                return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: bad page %u in 0x%08x",
                                   path, (unsigned)pg, (unsigned)tag);
            scan += 4 + page_len(tg, pg);
        }
        off = scan > n ? n : scan;
        NEED((scan - off) + 4);
        if (dfu_crc32(0, d + start, off - start) != dfui_le32(d + off))
            return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: CRC mismatch in 0x%08x",
                               path, (unsigned)tag);
        memset(tg->mem, (int)fill, size);
        for (size_t q = start + 16; q < off;) {
            uint32_t pg = dfui_le32(d + q), m = page_len(tg, pg);
            memcpy(tg->mem + pg * SIM_PAGE, d + q + 4, m);
            q += 4 + m;
        }
        off += 4;
    }
    NEED(4);
    if (memcmp(d + off, "END\n", 4) != 0)
        return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: bad trailer", path);
#undef NEED
    *end = off + 4;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    return n == 0;
}

/* Check one complete, CRC-valid entry at @e against the device, then apply it. */
static int apply_entry(const uint8_t *e, uint32_t len, struct target *t, unsigned nt,
                       const char *path, size_t at, struct dfu_err *err)
{
    uint32_t count = dfui_le32(e + 8), q;
    int pass;

    for (pass = 0; pass < 2; pass++) { /* check, then apply */
        q = 12;
        for (uint32_t i = 0; i < count; i++) {
            if (len - 4 - q < 12)
                goto bad;
            struct target *tg = find_target(t, nt, dfui_le32(e + q));
            uint32_t pg = dfui_le32(e + q + 4), m = dfui_le32(e + q + 8);
            if (tg == NULL || (uint64_t)pg * SIM_PAGE >= tg->size ||
                (m != 0 && m != page_len(tg, pg)) || len - 4 - q - 12 < m)
                goto bad;
            if (pass == 1 && m == 0)
                memset(tg->mem + pg * SIM_PAGE, tg->fill, page_len(tg, pg));
            else if (pass == 1)
                memcpy(tg->mem + pg * SIM_PAGE, e + q + 12, m);
            q += 12 + m;
        }
        if (q != len - 4)
            goto bad;
    }
    return 0;
bad:
    return dfu_err_set(err, DFU_E_FORMAT,
                       "sim: state file %s: the change at byte %zu does not match the device", path,
                       at);
}

static int parse(const uint8_t *d, size_t n, const char *profile, struct target *t, unsigned nt,
                 const char *path, struct parsed *pr, struct dfu_err *err)
{
    size_t off = 0;
    int rc = parse_snapshot(d, n, profile, t, nt, path, &off, err);

    pr->snapshot = off;
    pr->entries = 0;
    pr->cut = 0;
    while (rc == 0 && off < n) {
        size_t rest = n - off;
        uint32_t len;

        if (rest < 8 || (memcmp(d + off, "DFUJ", 4) != 0 && all_zero(d + off, rest))) {
            pr->cut = 1; /* a cut header, or the zeros a crash can leave past the end */
            break;
        }
        len = dfui_le32(d + off + 4);
        if (memcmp(d + off, "DFUJ", 4) != 0 || len < ENTRY_MIN)
            return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: bad data at byte %zu", path,
                               off);
        if (len > rest) {
            pr->cut = 1;
            break;
        }
        if (dfu_crc32(0, d + off, len - 4) != dfui_le32(d + off + len - 4)) {
            if (len == rest) {
                pr->cut = 1;
                break;
            }
            return dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: CRC mismatch at byte %zu",
                               path, off);
        }
        rc = apply_entry(d + off, len, t, nt, path, off, err);
        pr->entries++;
        off += len;
    }
    return rc;
}

/* The whole file; *missing when it does not exist. */
static int read_file(const char *path, const char *shown, uint8_t **data, size_t *n, int *missing,
                     struct dfu_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    uint8_t *d = NULL;
    size_t got = 0, cap = 0;

    *data = NULL;
    *n = 0;
    *missing = 0;
    if (fd < 0 && errno == ENOENT) {
        *missing = 1;
        return 0;
    }
    if (fd < 0)
        return dfu_err_set(err, DFU_E_IO, "sim: cannot open state file %s: %s", shown,
                           strerror(errno));
    for (;;) {
        if (got == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *q = realloc(d, cap);
            if (q == NULL) {
                free(d);
                close(fd);
                return dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory reading %s", shown);
            }
            d = q;
        }
        ssize_t r = read(fd, d + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(d);
            close(fd);
            return dfu_err_set(err, DFU_E_IO, "sim: cannot read state file %s: %s", shown,
                               strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *data = d;
    *n = got;
    return 0;
}

/* ---- writing ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    errno = 0;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Replace the file by @b: a new file next to it, fsync'd, renamed over it. */
static int replace_file(struct sim_file *sf, const char *shown, const struct blob *b,
                        struct dfu_err *err)
{
    size_t n = strlen(sf->path);
    char *tmp = malloc(n + 8);
    struct stat st;
    mode_t mode;
    int fd, e = 0;

    if (tmp == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory saving state");
    memcpy(tmp, sf->path, n);
    memcpy(tmp + n, ".XXXXXX", 8);
    fd = mkstemp(tmp);
    if (fd < 0) {
        e = errno;
        free(tmp);
        return dfu_err_set(err, DFU_E_IO, "sim: cannot write state file %s: %s", shown,
                           strerror(e));
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* mkstemp makes the file 0600: keep the mode of the file it replaces, or give a new one
     * what fopen() would */
    if (stat(sf->path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode = umask(0);
        umask(mode);
        mode = 0666 & ~mode;
    }
    if (fchmod(fd, mode) != 0)
        e = errno;
    else if (write_all(fd, b->p, b->n) != 0)
        e = errno != 0 ? errno : EIO;
    else if (fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, sf->path) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        free(tmp);
        return dfu_err_set(err, DFU_E_IO, "sim: cannot write state file %s: %s", shown,
                           strerror(e));
    }
    free(tmp);
    /* the rename itself reaches the disk with the directory */
    char *slash = strrchr(sf->path, '/');
    if (slash != NULL) {
        *slash = '\0';
        int dfd = open(slash == sf->path ? "/" : sf->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    if (sf->fd >= 0) { /* it points at the replaced file */
        close(sf->fd);
        sf->fd = -1;
    }
    sf->size = sf->snapshot = (off_t)b->n;
    sf->cut = 0;
    return 0;
}

/* Whether @s's memory is what the file holds: it has written all its changes, and no other
 * simulator of this process has written any since @s loaded the file. */
static int memory_is_file(const dfu_sim *s)
{
    return !s->dirty && !s->sf->cut && s->sf_seen == s->sf->appends;
}

/* Rewrite the file as a snapshot of what it holds: of @s's memory when that is the file's
 * content, else of the file folded with its own journal. */
static int rewrite(dfu_sim *s, int from_memory, struct dfu_err *err)
{
    struct sim_file *sf = s->sf;
    struct target mine[MAX_TARGETS], t[MAX_TARGETS];
    unsigned nt = targets_of(s, mine);
    struct blob b = {NULL, 0, 0};
    struct parsed pr;
    uint8_t *d = NULL;
    size_t n = 0;
    int missing = 0, rc = 0;

    if (from_memory) {
        rc = snapshot(&b, s->p->name, mine, nt);
    } else {
        memset(t, 0, sizeof t);
        for (unsigned i = 0; i < nt && rc == 0; i++) {
            t[i] = mine[i];
            t[i].dirty = NULL;
            t[i].mem = malloc(t[i].size);
            if (t[i].mem == NULL)
                rc = dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory saving state");
            else
                memset(t[i].mem, t[i].fill, t[i].size);
        }
        if (rc == 0)
            rc = read_file(sf->path, s->state_path, &d, &n, &missing, err);
        if (rc == 0 && !missing && n > 0)
            rc = parse(d, n, s->p->name, t, nt, s->state_path, &pr, err);
        if (rc == 0)
            rc = snapshot(&b, s->p->name, t, nt);
        for (unsigned i = 0; i < nt; i++)
            free(t[i].mem);
        free(d);
    }
    if (rc == DFU_E_NOMEM)
        rc = dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory saving state");
    if (rc == 0)
        rc = replace_file(sf, s->state_path, &b, err);
    free(b.p);
    return rc;
}

/* A new file for a fresh device. There is no file to keep, so it is written in place: O_EXCL
 * follows no link and replaces nothing, and a process that dies before the write leaves an
 * empty file, which is a fresh device too. */
static int create_file(dfu_sim *s, struct dfu_err *err)
{
    struct sim_file *sf = s->sf;
    struct target t[MAX_TARGETS];
    unsigned nt = targets_of(s, t);
    struct blob b = {NULL, 0, 0};
    int fd, e = 0;

    if (snapshot(&b, s->p->name, t, nt) != 0) {
        free(b.p);
        return dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory saving state");
    }
    fd = open(sf->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) { /* made by something else meanwhile: replace it */
        int rc = replace_file(sf, s->state_path, &b, err);
        free(b.p);
        return rc;
    }
    if (fd < 0 || write_all(fd, b.p, b.n) != 0)
        e = errno != 0 ? errno : EIO;
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = errno;
    if (e != 0) {
        if (fd >= 0)
            unlink(sf->path);
        free(b.p);
        return dfu_err_set(err, DFU_E_IO, "sim: cannot write state file %s: %s", s->state_path,
                           strerror(e));
    }
    sf->size = sf->snapshot = (off_t)b.n;
    free(b.p);
    return 0;
}

int simi_state_sync(dfu_sim *s, struct dfu_err *err)
{
    struct sim_file *sf = s->sf;
    struct target t[MAX_TARGETS];
    unsigned nt;
    struct blob b = {NULL, 0, 0};
    uint32_t count = 0;
    int rc;

    if (sf == NULL || !s->dirty)
        return 0;
    if (sf->cut) {
        rc = rewrite(s, 0, err);
        if (rc != 0)
            return rc;
    }
    nt = targets_of(s, t);
    rc = journal_entry(&b, t, nt, &count);
    if (rc != 0) {
        free(b.p);
        return dfu_err_set(err, rc, "sim: out of memory saving state");
    }
    if (count > 0 && sf->fd < 0) {
        sf->fd = open(sf->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (sf->fd < 0) {
            free(b.p);
            return dfu_err_set(err, DFU_E_IO, "sim: cannot write state file %s: %s", s->state_path,
                               strerror(errno));
        }
    }
    if (count > 0 && write_all(sf->fd, b.p, b.n) != 0) {
        int e = errno != 0 ? errno : EIO;
        if (ftruncate(sf->fd, sf->size) != 0)
            sf->cut = 1;
        free(b.p);
        return dfu_err_set(err, DFU_E_IO, "sim: cannot write state file %s: %s", s->state_path,
                           strerror(e));
    }
    if (count > 0) {
        sf->size += (off_t)b.n;
        sf->appends++;
        s->sf_seen++;
    }
    free(b.p);
    for (unsigned i = 0; i < nt; i++)
        if (t[i].dirty != NULL)
            memset(t[i].dirty, 0, (t[i].size + SIM_PAGE - 1) / SIM_PAGE / 8 + 1);
    s->dirty = 0;
    if (sf->size - sf->snapshot > sf->snapshot + (off_t)JOURNAL_SLACK)
        return rewrite(s, memory_is_file(s), err);
    return 0;
}

int simi_state_save(dfu_sim *s, struct dfu_err *err)
{
    int rc = simi_state_sync(s, err);

    return rc != 0 ? rc : rewrite(s, memory_is_file(s), err);
}

/* ---- opening and closing ---- */

/* @given without symbolic links: realpath of the file, or of its directory when the file does
 * not exist yet. */
static int resolve(const char *given, char **out, struct dfu_err *err)
{
    const char *slash = strrchr(given, '/'), *base = slash ? slash + 1 : given;
    struct stat st;
    char *dir, *real;

    *out = realpath(given, NULL);
    if (*out != NULL)
        return 0;
    if (errno != ENOENT)
        return dfu_err_set(err, DFU_E_IO, "sim: cannot use state file %s: %s", given,
                           strerror(errno));
    if (lstat(given, &st) == 0)
        return dfu_err_set(err, DFU_E_IO, "sim: state file %s is a symbolic link to a missing file",
                           given);
    if (*base == '\0')
        return dfu_err_set(err, DFU_E_INVALID, "sim: state file %s is a directory", given);
    dir = malloc(slash ? (size_t)(slash - given) + 2 : 2);
    if (dir == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == given) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, given, (size_t)(slash - given));
        dir[slash - given] = '\0';
    }
    real = realpath(dir, NULL);
    free(dir);
    if (real == NULL)
        return dfu_err_set(err, DFU_E_IO, "sim: cannot use state file %s: %s", given,
                           strerror(errno));
    *out = malloc(strlen(real) + strlen(base) + 2);
    if (*out == NULL) {
        free(real);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    strcpy(*out, real);
    if (strcmp(real, "/") != 0)
        strcat(*out, "/");
    strcat(*out, base);
    free(real);
    return 0;
}

/* Lock FILE.lock at @lock: the descriptor holding the lock, or -1 with @err set. The file is
 * removed by the holder when it is done, so a process that locks a file the name no longer
 * refers to (removed, or replaced by a new one, between its open and its lock) tries again. */
static int take_lock(const char *lock, const char *shown, struct stat *st, struct dfu_err *err)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct flock fl;
        struct stat now;
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);

        if (fd < 0 || fstat(fd, st) != 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            dfu_err_set(err, DFU_E_IO, "sim: cannot lock state file %s: %s: %s", shown, lock,
                        strerror(e));
            return -1;
        }
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            int e = errno;
            struct flock who = fl;
            if (e != EACCES && e != EAGAIN)
                dfu_err_set(err, DFU_E_IO, "sim: cannot lock state file %s: %s", shown,
                            strerror(e));
            else if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0)
                dfu_err_set(err, DFU_E_BUSY,
                            "sim: state file %s is in use by another process (pid %ld)", shown,
                            (long)who.l_pid);
            else
                dfu_err_set(err, DFU_E_BUSY, "sim: state file %s is in use by another process",
                            shown);
            close(fd);
            return -1;
        }
        if (stat(lock, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
            return fd;
        close(fd);
    }
    dfu_err_set(err, DFU_E_BUSY, "sim: state file %s is in use by another process", shown);
    return -1;
}

/* The process's entry for @path (resolved), taking the lock when it is new. */
static int lock_file(char *path, const char *shown, struct sim_file **out, struct dfu_err *err)
{
    size_t n = strlen(path);
    char *lock = malloc(n + 6);
    struct sim_file *sf;
    struct stat st;
    int fd;

    *out = NULL;
    if (lock == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    memcpy(lock, path, n);
    memcpy(lock + n, ".lock", 6);
    if (stat(lock, &st) == 0) {
        for (sf = open_files; sf != NULL; sf = sf->next) {
            if (sf->lock_dev == st.st_dev && sf->lock_ino == st.st_ino) {
                free(lock);
                sf->users++;
                *out = sf;
                return 0;
            }
        }
    }
    /* Not ours: another descriptor of a file this process has locked would drop that lock when
     * closed (fcntl locks belong to the process), which the lookup above rules out. */
    fd = take_lock(lock, shown, &st, err);
    if (fd < 0) {
        free(lock);
        return err != NULL ? err->code : DFU_E_BUSY;
    }
    sf = calloc(1, sizeof *sf);
    if (sf == NULL) {
        unlink(lock);
        close(fd);
        free(lock);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    sf->path = path;
    sf->lock = lock;
    sf->lock_dev = st.st_dev;
    sf->lock_ino = st.st_ino;
    sf->lock_fd = fd;
    sf->fd = -1;
    sf->users = 1;
    sf->next = open_files;
    open_files = sf;
    *out = sf;
    return 0;
}

static void unlock_file(struct sim_file *sf)
{
    struct sim_file **pp;

    if (--sf->users > 0)
        return;
    for (pp = &open_files; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == sf) {
            *pp = sf->next;
            break;
        }
    }
    if (sf->fd >= 0)
        close(sf->fd);
    unlink(sf->lock);   /* while still holding it: see take_lock */
    close(sf->lock_fd); /* releases the lock */
    free(sf->lock);
    free(sf->path);
    free(sf);
}

static int alloc_dirty(dfu_sim *s)
{
    for (unsigned i = 0; i < s->nreg; i++) {
        struct sim_region *r = &s->reg[i];
        if (persisted(r->kind) && r->dirty == NULL) {
            r->dirty = calloc((r->size + SIM_PAGE - 1) / SIM_PAGE / 8 + 1, 1);
            if (r->dirty == NULL)
                return DFU_E_NOMEM;
        }
    }
    if (s->wmask != NULL && s->wmask_dirty == NULL) {
        s->wmask_dirty = calloc((wmask_size(s) + SIM_PAGE - 1) / SIM_PAGE / 8 + 1, 1);
        if (s->wmask_dirty == NULL)
            return DFU_E_NOMEM;
    }
    return 0;
}

int simi_state_open(dfu_sim *s, struct dfu_err *err)
{
    struct target t[MAX_TARGETS];
    unsigned nt;
    struct parsed pr = {0, 0, 0};
    struct sim_file *sf;
    char *path = NULL;
    uint8_t *d = NULL;
    size_t n = 0;
    int missing = 0, rc;

    rc = resolve(s->state_path, &path, err);
    if (rc != 0)
        return rc;
    rc = lock_file(path, s->state_path, &sf, err);
    if (rc != 0 || sf->path != path)
        free(path); /* failed, or the entry has its own copy */
    if (rc != 0)
        return rc;
    s->sf = sf;
    if (alloc_dirty(s) != 0) {
        rc = dfu_err_set(err, DFU_E_NOMEM, "sim:%s: cannot allocate device memory", s->p->name);
        goto fail;
    }
    nt = targets_of(s, t);
    rc = read_file(sf->path, s->state_path, &d, &n, &missing, err);
    if (rc == 0 && n > 0)
        rc = parse(d, n, s->p->name, t, nt, s->state_path, &pr, err);
    free(d);
    if (rc != 0)
        goto fail;
    sf->size = (off_t)n;
    sf->snapshot = (off_t)pr.snapshot;
    s->sf_seen = sf->appends;
    /* created erased if missing; a journal is folded in now, so appends follow a clean end */
    if (missing)
        rc = create_file(s, err);
    else if (n == 0 || pr.entries > 0 || pr.cut)
        rc = rewrite(s, 1, err);
    if (rc != 0)
        goto fail;
    return 0;
fail:
    unlock_file(sf);
    s->sf = NULL;
    return rc;
}

void simi_state_close(dfu_sim *s)
{
    struct sim_file *sf = s->sf;

    if (sf == NULL)
        return;
    (void)simi_state_sync(s, NULL);
    if (sf->users == 1 && (sf->size > sf->snapshot || sf->cut))
        (void)rewrite(s, memory_is_file(s), NULL);
    unlock_file(sf);
    s->sf = NULL;
}
