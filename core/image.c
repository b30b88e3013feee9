/*
 * The image model: a sorted list of coalesced, non-overlapping segments, an optional entry
 * point, DfuSe targets, and the format/suffix the image was read from.
 *
 * Segments own their bytes. Each segment buffer has spare capacity so that the common case
 * of a reader appending record after record to the last segment is amortised O(1) per byte; the
 * buffer grows by doubling (realloc), so a large image is built in place without a second copy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_internal.h"

struct target {
    uint8_t alt;
    char *name;
    dfu_image *img;
};

struct dfu_image {
    struct dfu_segment *segs;
    size_t *caps; /* allocated bytes behind segs[i].data */
    size_t n, cap;
    int has_entry;
    uint32_t entry;
    struct target *targets;
    size_t ntargets;
    enum dfu_format fmt;
    int has_suffix;
    struct dfu_suffix sfx;
};

#define ADDR_LIMIT ((uint64_t)1 << 32)

static uint64_t seg_end(const struct dfu_segment *s)
{
    return (uint64_t)s->addr + s->size;
}

const char *dfu_format_name(enum dfu_format f)
{
    switch (f) {
    case DFU_FMT_ELF:
        return "elf";
    case DFU_FMT_IHEX:
        return "ihex";
    case DFU_FMT_SREC:
        return "srec";
    case DFU_FMT_DFUSE:
        return "dfuse";
    case DFU_FMT_BIN:
        return "bin";
    case DFU_FMT_UNKNOWN:
        break;
    }
    return "unknown";
}

dfu_image *dfu_image_new(void)
{
    return calloc(1, sizeof(dfu_image));
}

static void clear_segments(dfu_image *img)
{
    for (size_t i = 0; i < img->n; i++)
        free(img->segs[i].data);
    free(img->segs);
    free(img->caps);
    img->segs = NULL;
    img->caps = NULL;
    img->n = img->cap = 0;
}

void dfu_image_free(dfu_image *img)
{
    if (img == NULL)
        return;
    clear_segments(img);
    for (size_t i = 0; i < img->ntargets; i++) {
        free(img->targets[i].name);
        dfu_image_free(img->targets[i].img);
    }
    free(img->targets);
    free(img);
}

size_t dfu_image_count(const dfu_image *img)
{
    return img->n;
}

const struct dfu_segment *dfu_image_segment(const dfu_image *img, size_t i)
{
    return i < img->n ? &img->segs[i] : NULL;
}

uint64_t dfu_image_size(const dfu_image *img)
{
    uint64_t t = 0;
    for (size_t i = 0; i < img->n; i++)
        t += img->segs[i].size;
    return t;
}

int dfu_image_has_entry(const dfu_image *img)
{
    return img->has_entry;
}

uint32_t dfu_image_entry(const dfu_image *img)
{
    return img->entry;
}

void dfu_image_set_entry(dfu_image *img, int has, uint32_t entry)
{
    img->has_entry = has != 0;
    img->entry = has ? entry : 0;
}

enum dfu_format dfu_image_format(const dfu_image *img)
{
    return img->fmt;
}

void dfu_image_set_format(dfu_image *img, enum dfu_format f)
{
    img->fmt = f;
}

const struct dfu_suffix *dfu_image_suffix(const dfu_image *img)
{
    return img->has_suffix ? &img->sfx : NULL;
}

void dfu_image_set_suffix(dfu_image *img, const struct dfu_suffix *sfx)
{
    img->has_suffix = sfx != NULL;
    if (sfx != NULL)
        img->sfx = *sfx;
    else
        memset(&img->sfx, 0, sizeof img->sfx);
}

/* ---- segment array ---- */

static int reserve_slots(dfu_image *img, size_t want)
{
    if (want <= img->cap)
        return 0;
    size_t ncap = img->cap ? img->cap * 2 : 8;
    while (ncap < want)
        ncap *= 2;
    struct dfu_segment *s = realloc(img->segs, ncap * sizeof *s);
    if (s == NULL)
        return DFU_E_NOMEM;
    img->segs = s;
    size_t *c = realloc(img->caps, ncap * sizeof *c);
    if (c == NULL)
        return DFU_E_NOMEM;
    img->caps = c;
    img->cap = ncap;
    return 0;
}

/* Make room for @need bytes in segment @i, growing geometrically. */
static int grow_seg(dfu_image *img, size_t i, size_t need)
{
    if (need <= img->caps[i])
        return 0;
    size_t ncap = img->caps[i] < 64 ? 64 : img->caps[i];
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    uint8_t *d = realloc(img->segs[i].data, ncap);
    if (d == NULL)
        return DFU_E_NOMEM;
    img->segs[i].data = d;
    img->caps[i] = ncap;
    return 0;
}

/* Insert a new segment at index @at made of the malloc'd block @d (@cap bytes, @len used). */
static int insert_block(dfu_image *img, size_t at, uint32_t addr, uint8_t *d, size_t len,
                        size_t cap)
{
    if (reserve_slots(img, img->n + 1) != 0)
        return DFU_E_NOMEM;
    memmove(&img->segs[at + 1], &img->segs[at], (img->n - at) * sizeof img->segs[0]);
    memmove(&img->caps[at + 1], &img->caps[at], (img->n - at) * sizeof img->caps[0]);
    img->segs[at].addr = addr;
    img->segs[at].size = (uint32_t)len;
    img->segs[at].data = d;
    img->caps[at] = cap;
    img->n++;
    return 0;
}

/* Insert a new segment at index @at holding a copy of @data. */
static int insert_seg(dfu_image *img, size_t at, uint32_t addr, const uint8_t *data, size_t len)
{
    uint8_t *d = dfui_alloc(len);
    if (d == NULL)
        return DFU_E_NOMEM;
    memcpy(d, data, len);
    if (insert_block(img, at, addr, d, len, len) != 0) {
        free(d);
        return DFU_E_NOMEM;
    }
    return 0;
}

/* First segment whose end is >= @addr (i.e. that overlaps or touches data starting there). */
static size_t lower_touch(const dfu_image *img, uint32_t addr)
{
    size_t lo = 0, hi = img->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg_end(&img->segs[mid]) < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Compare new data with segment @s where they overlap; on a difference report the address. */
static int check_agree(const struct dfu_segment *s, uint32_t addr, const uint8_t *data,
                       uint64_t end, struct dfu_err *err)
{
    uint64_t a = addr > s->addr ? addr : s->addr;
    uint64_t b = end < seg_end(s) ? end : seg_end(s);
    if (a >= b)
        return 0;
    const uint8_t *old = s->data + (a - s->addr);
    const uint8_t *nw = data + (a - addr);
    size_t n = (size_t)(b - a);
    if (memcmp(old, nw, n) == 0)
        return 0;
    size_t k = 0;
    while (old[k] == nw[k])
        k++;
    uint32_t bad = (uint32_t)(a + k);
    if (err != NULL) {
        err->addr = bad;
        err->has_addr = 1;
    }
    return dfu_err_set(err, DFU_E_RANGE,
                       "overlapping data disagrees at 0x%08x (0x%02x already there, 0x%02x new)",
                       (unsigned)bad, old[k], nw[k]);
}

/* @len bytes at @addr must end within the 4 GiB address space. */
static int check_span(uint32_t addr, size_t len, struct dfu_err *err)
{
    uint64_t end = (uint64_t)addr + len;
    if (len > UINT32_MAX || end > ADDR_LIMIT) {
        if (err != NULL) {
            err->addr = addr;
            err->has_addr = 1;
        }
        return dfu_err_set(err, DFU_E_RANGE, "%zu bytes at 0x%08x run past the 4 GiB address space",
                           len, (unsigned)addr);
    }
    return 0;
}

int dfu_image_add(dfu_image *img, uint32_t addr, const uint8_t *data, size_t len,
                  struct dfu_err *err)
{
    if (len == 0)
        return 0;
    int rc = check_span(addr, len, err);
    if (rc != 0)
        return rc;
    uint64_t end = (uint64_t)addr + len;

    /* Fast paths: data after, or right at the end of, the last segment. */
    if (img->n > 0) {
        struct dfu_segment *last = &img->segs[img->n - 1];
        uint64_t lend = seg_end(last);
        if (addr == lend) {
            if (grow_seg(img, img->n - 1, (size_t)last->size + len) != 0)
                return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
            last = &img->segs[img->n - 1];
            memcpy(last->data + last->size, data, len);
            last->size += (uint32_t)len;
            return 0;
        }
        if (addr > lend)
            return insert_seg(img, img->n, addr, data, len) == 0
                       ? 0
                       : dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }

    size_t lo = lower_touch(img, addr);
    size_t hi = lo; /* one past the last segment that overlaps or touches [addr, end] */
    while (hi < img->n && img->segs[hi].addr <= end)
        hi++;
    if (lo == hi)
        return insert_seg(img, lo, addr, data, len) == 0
                   ? 0
                   : dfu_err_set(err, DFU_E_NOMEM, "out of memory");

    for (size_t i = lo; i < hi; i++) {
        rc = check_agree(&img->segs[i], addr, data, end, err);
        if (rc != 0)
            return rc;
    }

    struct dfu_segment *first = &img->segs[lo];
    if (hi - lo == 1 && first->addr <= addr) {
        /* Within or extending one segment: only the tail beyond it is new. */
        if (end <= seg_end(first))
            return 0;
        size_t nsize = (size_t)(end - first->addr);
        if (grow_seg(img, lo, nsize) != 0)
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        first = &img->segs[lo];
        size_t skip = (size_t)(seg_end(first) - addr);
        memcpy(first->data + first->size, data + skip, len - skip);
        first->size = (uint32_t)nsize;
        return 0;
    }

    /* General case: replace segments lo..hi-1 and the new data by one segment. */
    uint32_t nstart = first->addr < addr ? first->addr : addr;
    uint64_t lastend = seg_end(&img->segs[hi - 1]);
    uint64_t nend = lastend > end ? lastend : end;
    size_t nsize = (size_t)(nend - nstart);
    uint8_t *d = dfui_alloc(nsize);
    if (d == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    memcpy(d + (addr - nstart), data, len);
    for (size_t i = lo; i < hi; i++) {
        memcpy(d + (img->segs[i].addr - nstart), img->segs[i].data, img->segs[i].size);
        free(img->segs[i].data);
    }
    img->segs[lo].addr = nstart;
    img->segs[lo].size = (uint32_t)nsize;
    img->segs[lo].data = d;
    img->caps[lo] = nsize;
    size_t gone = hi - lo - 1;
    memmove(&img->segs[lo + 1], &img->segs[hi], (img->n - hi) * sizeof img->segs[0]);
    memmove(&img->caps[lo + 1], &img->caps[hi], (img->n - hi) * sizeof img->caps[0]);
    img->n -= gone;
    return 0;
}

uint64_t dfui_image_end(const dfu_image *img)
{
    return img->n > 0 ? seg_end(&img->segs[img->n - 1]) : 0;
}

int dfui_image_extend(dfu_image *img, uint32_t addr, size_t len, uint8_t **where,
                      struct dfu_err *err)
{
    int rc = check_span(addr, len, err);
    if (rc != 0)
        return rc;
    if (len == 0 || addr < dfui_image_end(img))
        return dfu_err_set(err, DFU_E_INVALID, "no room for %zu bytes at 0x%08x", len,
                           (unsigned)addr);
    if (img->n > 0 && addr == dfui_image_end(img)) {
        struct dfu_segment *last = &img->segs[img->n - 1];
        if (grow_seg(img, img->n - 1, (size_t)last->size + len) != 0)
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        last = &img->segs[img->n - 1];
        *where = last->data + last->size;
        last->size += (uint32_t)len;
        return 0;
    }
    uint8_t *d = dfui_alloc(len);
    if (d == NULL || insert_block(img, img->n, addr, d, len, len) != 0) {
        free(d);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    *where = d;
    return 0;
}

int dfui_image_take(dfu_image *img, uint32_t addr, uint8_t *data, size_t len, size_t cap,
                    struct dfu_err *err)
{
    int rc = 0;

    if (len == 0 || img->n > 0) {
        rc = dfu_image_add(img, addr, data, len, err);
        free(data);
        return rc;
    }
    rc = check_span(addr, len, err);
    if (rc == 0 && insert_block(img, 0, addr, data, len, cap) != 0)
        rc = dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    if (rc != 0)
        free(data);
    return rc;
}

void dfui_image_move_segments(dfu_image *dst, dfu_image *src)
{
    clear_segments(dst);
    dst->segs = src->segs;
    dst->caps = src->caps;
    dst->n = src->n;
    dst->cap = src->cap;
    src->segs = NULL;
    src->caps = NULL;
    src->n = src->cap = 0;
}

/* ---- targets ---- */

size_t dfu_image_target_count(const dfu_image *img)
{
    return img->ntargets;
}

dfu_image *dfu_image_target(const dfu_image *img, size_t i, uint8_t *alt, const char **name)
{
    if (i >= img->ntargets)
        return NULL;
    if (alt != NULL)
        *alt = img->targets[i].alt;
    if (name != NULL)
        *name = img->targets[i].name;
    return img->targets[i].img;
}

int dfu_image_add_target(dfu_image *img, uint8_t alt, const char *name, dfu_image *target,
                         struct dfu_err *err)
{
    if (target == NULL)
        return dfu_err_set(err, DFU_E_INVALID, "no target image");
    struct target *t = realloc(img->targets, (img->ntargets + 1) * sizeof *t);
    if (t == NULL) {
        dfu_image_free(target);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    img->targets = t;
    char *nm = NULL;
    if (name != NULL) {
        size_t n = strlen(name);
        nm = malloc(n + 1);
        if (nm == NULL) {
            dfu_image_free(target);
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        }
        memcpy(nm, name, n + 1);
    }
    t[img->ntargets].alt = alt;
    t[img->ntargets].name = nm;
    t[img->ntargets].img = target;
    img->ntargets++;
    return 0;
}

/* ---- whole-image operations ---- */

/* Copy segments, exactly sized. */
static int copy_segments(dfu_image *dst, const dfu_image *src)
{
    if (reserve_slots(dst, src->n) != 0)
        return DFU_E_NOMEM;
    for (size_t i = 0; i < src->n; i++) {
        const struct dfu_segment *s = &src->segs[i];
        uint8_t *d = dfui_alloc(s->size ? s->size : 1);
        if (d == NULL)
            return DFU_E_NOMEM;
        memcpy(d, s->data, s->size);
        dst->segs[dst->n].addr = s->addr;
        dst->segs[dst->n].size = s->size;
        dst->segs[dst->n].data = d;
        dst->caps[dst->n] = s->size;
        dst->n++;
    }
    return 0;
}

dfu_image *dfu_image_clone(const dfu_image *img)
{
    dfu_image *c = dfu_image_new();
    if (c == NULL)
        return NULL;
    if (copy_segments(c, img) != 0)
        goto fail;
    c->has_entry = img->has_entry;
    c->entry = img->entry;
    c->fmt = img->fmt;
    c->has_suffix = img->has_suffix;
    c->sfx = img->sfx;
    for (size_t i = 0; i < img->ntargets; i++) {
        dfu_image *t = dfu_image_clone(img->targets[i].img);
        if (t == NULL)
            goto fail;
        if (dfu_image_add_target(c, img->targets[i].alt, img->targets[i].name, t, NULL) != 0)
            goto fail;
    }
    return c;
fail:
    dfu_image_free(c);
    return NULL;
}

int dfu_image_merge(dfu_image *dst, const dfu_image *src, struct dfu_err *err)
{
    for (size_t i = 0; i < src->n; i++) {
        int rc = dfu_image_add(dst, src->segs[i].addr, src->segs[i].data, src->segs[i].size, err);
        if (rc != 0)
            return rc;
    }
    if (src->has_entry && !dst->has_entry)
        dfu_image_set_entry(dst, 1, src->entry);
    /* Targets merge by alt setting; a new alt is appended. */
    for (size_t i = 0; i < src->ntargets; i++) {
        const struct target *st = &src->targets[i];
        size_t j = 0;
        while (j < dst->ntargets && dst->targets[j].alt != st->alt)
            j++;
        if (j < dst->ntargets) {
            int rc = dfu_image_merge(dst->targets[j].img, st->img, err);
            if (rc != 0)
                return dfu_err_prefix(err, "alt %u", st->alt);
        } else {
            dfu_image *t = dfu_image_clone(st->img);
            if (t == NULL)
                return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
            int rc = dfu_image_add_target(dst, st->alt, st->name, t, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

dfu_image *dfu_image_slice(const dfu_image *img, uint32_t addr, uint64_t len)
{
    dfu_image *s = dfu_image_new();
    if (s == NULL)
        return NULL;
    uint64_t end = (uint64_t)addr + len;
    if (end > ADDR_LIMIT)
        end = ADDR_LIMIT;
    for (size_t i = lower_touch(img, addr); i < img->n; i++) {
        const struct dfu_segment *g = &img->segs[i];
        if (g->addr >= end)
            break;
        uint64_t a = g->addr > addr ? g->addr : addr;
        uint64_t b = seg_end(g) < end ? seg_end(g) : end;
        if (a >= b)
            continue;
        if (insert_seg(s, s->n, (uint32_t)a, g->data + (a - g->addr), (size_t)(b - a)) != 0) {
            dfu_image_free(s);
            return NULL;
        }
    }
    s->has_entry = img->has_entry;
    s->entry = img->entry;
    s->fmt = img->fmt;
    return s;
}

/* Replace the segments by @n new ones covering [start[k], end[k]) filled with @fill and the
 * old bytes. The ranges are sorted, disjoint, and cover all old data. */
static int rebuild(dfu_image *img, const uint64_t *start, const uint64_t *end, size_t n,
                   uint8_t fill, struct dfu_err *err)
{
    struct dfu_segment *segs = calloc(n ? n : 1, sizeof *segs);
    size_t *caps = calloc(n ? n : 1, sizeof *caps);
    if (segs == NULL || caps == NULL)
        goto nomem;
    size_t j = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t size = end[k] - start[k];
        if (size > UINT32_MAX || size > SIZE_MAX) {
            for (size_t m = 0; m < k; m++)
                free(segs[m].data);
            free(segs);
            free(caps);
            return dfu_err_set(err, DFU_E_RANGE, "segment at 0x%08x would be too large",
                               (unsigned)start[k]);
        }
        segs[k].addr = (uint32_t)start[k];
        segs[k].size = (uint32_t)size;
        segs[k].data = dfui_alloc(size ? (size_t)size : 1);
        caps[k] = (size_t)size;
        if (segs[k].data == NULL) {
            for (size_t m = 0; m < k; m++)
                free(segs[m].data);
            goto nomem;
        }
        memset(segs[k].data, fill, (size_t)size);
        while (j < img->n && seg_end(&img->segs[j]) <= end[k]) {
            memcpy(segs[k].data + (img->segs[j].addr - start[k]), img->segs[j].data,
                   img->segs[j].size);
            j++;
        }
    }
    clear_segments(img);
    img->segs = segs;
    img->caps = caps;
    img->n = img->cap = n;
    return 0;
nomem:
    free(segs);
    free(caps);
    return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
}

int dfu_image_fill_gaps(dfu_image *img, uint8_t fill, struct dfu_err *err)
{
    if (img->n <= 1)
        return 0;
    uint64_t s = img->segs[0].addr, e = seg_end(&img->segs[img->n - 1]);
    return rebuild(img, &s, &e, 1, fill, err);
}

int dfu_image_pad(dfu_image *img, uint32_t align, uint8_t fill, struct dfu_err *err)
{
    if (align <= 1 || img->n == 0)
        return 0;
    uint64_t *st = malloc(img->n * sizeof *st);
    uint64_t *en = malloc(img->n * sizeof *en);
    if (st == NULL || en == NULL) {
        free(st);
        free(en);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < img->n; i++) {
        uint64_t a = img->segs[i].addr / align * (uint64_t)align;
        uint64_t b = (seg_end(&img->segs[i]) + align - 1) / align * (uint64_t)align;
        if (b > ADDR_LIMIT)
            b = ADDR_LIMIT;
        /* Neighbours that now touch or share an alignment unit become one segment: an
         * STM32H7 flash word (32 bytes) can be programmed only once. */
        if (n > 0 && a <= en[n - 1]) {
            if (b > en[n - 1])
                en[n - 1] = b;
        } else {
            st[n] = a;
            en[n] = b;
            n++;
        }
    }
    int rc = rebuild(img, st, en, n, fill, err);
    free(st);
    free(en);
    return rc;
}

/* Sector of @l containing @addr; 0 if found. */
static int find_sector(const struct dfu_layout *l, uint32_t addr, uint32_t *start, uint32_t *size,
                       uint8_t *type)
{
    for (size_t r = 0; r < l->nruns; r++) {
        const struct dfu_sector_run *run = &l->runs[r];
        if (run->size == 0 || run->count == 0 || addr < run->addr)
            continue;
        uint64_t idx = (addr - run->addr) / run->size;
        if (idx >= run->count)
            continue;
        uint64_t s = run->addr + idx * run->size;
        if (s + run->size > ADDR_LIMIT)
            *size = (uint32_t)(ADDR_LIMIT - s);
        else
            *size = run->size;
        *start = (uint32_t)s;
        *type = run->type;
        return 0;
    }
    return DFU_E_RANGE;
}

int dfu_image_sectors(const dfu_image *img, const struct dfu_layout *layout,
                      int (*fn)(void *ud, uint32_t start, uint32_t size, uint8_t type), void *ud,
                      struct dfu_err *err)
{
    int have_last = 0;
    uint32_t last = 0;
    uint64_t last_end = 0;
    for (size_t i = 0; i < img->n; i++) {
        uint64_t a = img->segs[i].addr, e = seg_end(&img->segs[i]);
        while (a < e) {
            uint32_t start, size;
            uint8_t type;
            if (find_sector(layout, (uint32_t)a, &start, &size, &type) != 0) {
                if (err != NULL) {
                    err->addr = (uint32_t)a;
                    err->has_addr = 1;
                }
                return dfu_err_set(err, DFU_E_RANGE, "address 0x%08x is outside the layout '%s'",
                                   (unsigned)a, layout->name);
            }
            if (have_last && start != last && start < last_end) {
                /* only a malformed layout (zones overlapping each other) gets here */
                if (err != NULL) {
                    err->addr = (uint32_t)a;
                    err->has_addr = 1;
                }
                return dfu_err_set(err, DFU_E_RANGE,
                                   "layout '%s' has overlapping sectors at 0x%08x", layout->name,
                                   (unsigned)start);
            }
            if (!have_last || start != last) {
                int rc = fn(ud, start, size, type);
                if (rc != 0)
                    return rc;
                have_last = 1;
                last = start;
                last_end = (uint64_t)start + size;
            }
            a = (uint64_t)start + size;
        }
    }
    return 0;
}

/* ---- record collector for the text readers ---- */

void dfui_recs_init(struct dfui_recs *r)
{
    memset(r, 0, sizeof *r);
    r->sorted = 1;
}

void dfui_recs_free(struct dfui_recs *r)
{
    free(r->v);
    free(r->data);
    memset(r, 0, sizeof *r);
}

int dfui_recs_push(struct dfui_recs *r, uint32_t addr, const uint8_t *data, uint32_t len,
                   unsigned line)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        struct dfui_rec *v = realloc(r->v, nc * sizeof *v);
        if (v == NULL)
            return DFU_E_NOMEM;
        r->v = v;
        r->cap = nc;
    }
    if (r->dlen + len > r->dcap) {
        size_t nc = r->dcap ? r->dcap * 2 : 4096;
        while (nc < r->dlen + len)
            nc *= 2;
        uint8_t *d = realloc(r->data, nc);
        if (d == NULL)
            return DFU_E_NOMEM;
        r->data = d;
        r->dcap = nc;
    }
    if (r->n > 0 && addr < r->v[r->n - 1].addr)
        r->sorted = 0;
    memcpy(r->data + r->dlen, data, len);
    r->v[r->n].addr = addr;
    r->v[r->n].len = len;
    r->v[r->n].off = r->dlen;
    r->v[r->n].line = line;
    r->dlen += len;
    r->n++;
    return 0;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct dfui_rec *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    /* equal addresses: keep file order, so the later line is the one blamed */
    return x->line < y->line ? -1 : (x->line > y->line);
}

static int recs_apply(struct dfui_recs *r, dfu_image *img, const char *name, struct dfu_err *err)
{
    if (!r->sorted)
        qsort(r->v, r->n, sizeof r->v[0], rec_cmp);
    for (size_t i = 0; i < r->n; i++) {
        const struct dfui_rec *rec = &r->v[i];
        int rc = dfu_image_add(img, rec->addr, r->data + rec->off, rec->len, err);
        if (rc == DFU_E_RANGE) {
            /* In a file, disagreeing records are a format error at the later line. */
            if (err != NULL) {
                err->line = rec->line;
                err->code = DFU_E_FORMAT;
            }
            dfu_err_prefix(err, "%s:%u", dfui_name(name), rec->line);
            return DFU_E_FORMAT;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int dfui_recs_to_image(struct dfui_recs *r, const char *name, enum dfu_format fmt, int has_entry,
                       uint32_t entry, dfu_image **out, struct dfu_err *err)
{
    dfu_image *img = dfu_image_new();
    int rc = img == NULL ? dfu_err_set(err, DFU_E_NOMEM, "out of memory")
                         : recs_apply(r, img, name, err);

    dfui_recs_free(r);
    if (rc != 0) {
        dfu_image_free(img);
        return rc;
    }
    dfu_image_set_entry(img, has_entry, entry);
    dfu_image_set_format(img, fmt);
    *out = img;
    return 0;
}

/* ---- messages ---- */

/* A FORMAT error "NAME:LINE: msg" (line != 0) or "NAME: offset N: msg". */
static int vformat_error(struct dfu_err *err, const char *name, unsigned line, size_t off,
                         const char *fmt, va_list ap)
{
    char msg[DFU_ERR_MSG_MAX];

    if (err == NULL)
        return DFU_E_FORMAT;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (line != 0) {
        err->line = line;
        return dfu_err_set(err, DFU_E_FORMAT, "%s:%u: %s", dfui_name(name), line, msg);
    }
    err->offset = (long)off;
    return dfu_err_set(err, DFU_E_FORMAT, "%s: offset %zu: %s", dfui_name(name), off, msg);
}

int dfui_err_line(struct dfu_err *err, const char *name, unsigned line, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vformat_error(err, name, line != 0 ? line : 1, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int dfui_err_off(struct dfu_err *err, const char *name, size_t off, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vformat_error(err, name, 0, off, fmt, ap);
    va_end(ap);
    return rc;
}

#ifndef DFU_WITH_LIBELF
int dfu_image_parse_elf(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                        struct dfu_err *err)
{
    (void)buf;
    (void)len;
    *out = NULL;
    return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "%s: ELF support not built (libelf missing)",
                       dfui_name(name));
}

int dfui_load_elf(int fd, size_t size, const char *path, const char *name, dfu_image **out,
                  struct dfu_err *err)
{
    (void)fd;
    (void)path;
    return dfu_image_parse_elf(NULL, size, name, out, err);
}
#endif
