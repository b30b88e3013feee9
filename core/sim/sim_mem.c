/* Simulator memory: regions, flash erase/program rules, and the state= file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

static uint32_t flash_size(const struct sim_profile *p)
{
    uint32_t n = 0;

    for (unsigned i = 0; p->sectors[i].count != 0; i++)
        n += p->sectors[i].count * p->sectors[i].size;
    return n;
}

static int add_region(dfu_sim *s, uint32_t base, uint32_t size, enum sim_kind kind, int alt,
                      uint8_t fill, uint32_t reserved)
{
    struct sim_region *r;

    if (s->nreg >= SIM_MAX_REGIONS)
        return DFU_E_OVERFLOW;
    r = &s->reg[s->nreg];
    r->mem = malloc(size);
    if (r->mem == NULL)
        return DFU_E_NOMEM;
    memset(r->mem, fill, size);
    r->base = base;
    r->size = size;
    r->kind = kind;
    r->alt = alt;
    r->fill = fill;
    r->rom_reserved = reserved;
    s->nreg++;
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int simi_mem_init(dfu_sim *s, struct dfu_err *err)
{
    const struct sim_profile *p = s->p;
    uint32_t fsize = flash_size(p);
    int rc = add_region(s, p->flash_base, fsize, SIM_K_FLASH, 0, 0xFF, 0);

    for (unsigned i = 0; rc == 0 && i < p->nram; i++) {
        uint32_t rom = p->ram_rom[i];
        /* STM32H74x/75x: V9.0 uses 208 KiB of AXI SRAM, V9.1 and later 20 KiB (AN2606). */
        if (p->fam == SIM_FAM_H7 && p->ram_base[i] == 0x24000000 && s->rom_id >= 0x91 &&
            s->rom_id <= 0x9F)
            rom = 20 * 1024;
        rc = add_region(s, p->ram_base[i], p->ram_size[i], SIM_K_RAM, 0, 0x00, rom);
    }
    if (rc == 0 && p->sys_size != 0)
        rc = add_region(s, p->sys_base, p->sys_size, SIM_K_SYS, 0, 0x00, 0);
    if (rc == 0 && p->uid_addr != 0 &&
        !(p->uid_addr >= p->sys_base && p->uid_addr - p->sys_base < p->sys_size))
        rc = add_region(s, p->uid_addr, 0x20, SIM_K_SYS, 0, 0xFF, 0);
    if (rc == 0 && p->ob_size != 0)
        rc = add_region(s, p->ob_base, p->ob_size, SIM_K_OB, 1, 0xFF, 0);
    if (rc == 0 && p->otp_size != 0)
        rc = add_region(s, p->otp_base, p->otp_size, SIM_K_OTP, 2, 0xFF, 0);
    if (rc == 0 && p->feat_size != 0)
        rc = add_region(s, p->feat_base, p->feat_size, SIM_K_FEAT, 3, 0x00, 0);
    if (rc == 0 && p->fam == SIM_FAM_H7) {
        s->wmask = calloc(fsize / p->prog_unit / 8 + 1, 1);
        if (s->wmask == NULL)
            rc = DFU_E_NOMEM;
    }
    if (rc != 0)
        return dfu_err_set(err, rc, "sim:%s: cannot allocate device memory", p->name);

    /* System memory content: the ID byte, the UID and the flash size (KiB) after it. */
    if (p->uid_addr != 0) {
        struct sim_region *r = simi_region(s, p->uid_addr);
        uint32_t o = p->uid_addr - r->base;
        for (unsigned i = 0; i < 3; i++)
            put32(r->mem + o + 4 * i, p->uid[i]);
        uint32_t fo = p->fam == SIM_FAM_H7 ? 0x80 : 0x12; /* 0x1FF1E880 / 0x1FFF7A22 */
        r->mem[o + fo] = (uint8_t)(fsize / 1024);
        r->mem[o + fo + 1] = (uint8_t)(fsize / 1024 >> 8);
    }
    if (p->id_addr != 0)
        simi_region(s, p->id_addr)->mem[p->id_addr - p->sys_base] = (uint8_t)s->rom_id;
    simi_ob_defaults(s);
    return 0;
}

void simi_mem_free(dfu_sim *s)
{
    for (unsigned i = 0; i < s->nreg; i++)
        free(s->reg[i].mem);
    s->nreg = 0;
    free(s->wmask);
    s->wmask = NULL;
}

struct sim_region *simi_region(dfu_sim *s, uint32_t addr)
{
    for (unsigned i = 0; i < s->nreg; i++)
        if (addr >= s->reg[i].base && addr - s->reg[i].base < s->reg[i].size)
            return &s->reg[i];
    return NULL;
}

struct sim_region *simi_region_kind(dfu_sim *s, enum sim_kind kind)
{
    for (unsigned i = 0; i < s->nreg; i++)
        if (s->reg[i].kind == kind)
            return &s->reg[i];
    return NULL;
}

int simi_is_ram(const dfu_sim *s, uint32_t addr, int allow_end)
{
    const struct sim_profile *p = s->p;

    for (unsigned i = 0; i < p->nram; i++) {
        uint64_t end = (uint64_t)p->ram_base[i] + p->ram_size[i];
        if (addr >= p->ram_base[i] && (addr < end || (allow_end && addr == end)))
            return 1;
    }
    return 0;
}

int simi_sector(const dfu_sim *s, uint32_t addr, uint32_t *base, uint32_t *size)
{
    const struct sim_profile *p = s->p;
    uint32_t b = p->flash_base;
    int idx = 0;

    if (addr < b)
        return -1;
    for (unsigned i = 0; p->sectors[i].count != 0; i++) {
        for (unsigned j = 0; j < p->sectors[i].count; j++, idx++) {
            if (addr - b < p->sectors[i].size) {
                *base = b;
                *size = p->sectors[i].size;
                return idx;
            }
            b += p->sectors[i].size;
        }
    }
    return -1;
}

unsigned simi_sector_count(const dfu_sim *s)
{
    unsigned n = 0;

    for (unsigned i = 0; s->p->sectors[i].count != 0; i++)
        n += s->p->sectors[i].count;
    return n;
}

/* Busy time of a sector erase: H7 1.1 s per 128 KiB; F4 per DS8626 at x8 or x32; the plain
 * DFU device 20 ms per page. */
uint32_t simi_sector_erase_us(const dfu_sim *s, uint32_t size)
{
    int x32 = s->feat0 == 0x03;

    switch (s->p->fam) {
    case SIM_FAM_H7:
        return 1100000;
    case SIM_FAM_F4:
        if (size <= 16 * 1024)
            return x32 ? 250000 : 400000;
        if (size <= 64 * 1024)
            return x32 ? 550000 : 1200000;
        return x32 ? 1000000 : 2000000;
    default:
        return 20000;
    }
}

static uint32_t sector_base(const dfu_sim *s, unsigned idx, uint32_t *size)
{
    const struct sim_profile *p = s->p;
    uint32_t b = p->flash_base;
    unsigned k = 0;

    for (unsigned i = 0; p->sectors[i].count != 0; i++)
        for (unsigned j = 0; j < p->sectors[i].count; j++, k++) {
            if (k == idx) {
                *size = p->sectors[i].size;
                return b;
            }
            b += p->sectors[i].size;
        }
    *size = 0;
    return 0;
}

static void erase_range(dfu_sim *s, uint32_t base, uint32_t size)
{
    struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);

    memset(f->mem + (base - f->base), 0xFF, size);
    if (s->wmask != NULL)
        for (uint32_t w = (base - f->base) / s->p->prog_unit;
             w < (base - f->base + size) / s->p->prog_unit; w++)
            s->wmask[w / 8] &= (uint8_t) ~(1u << (w % 8));
}

void simi_erase_sector(dfu_sim *s, unsigned idx)
{
    uint32_t size, base = sector_base(s, idx, &size);

    /* AN3156: no error is reported for write-protected sectors; they stay as they are. */
    if (size == 0 || simi_sector_protected(s, idx))
        return;
    erase_range(s, base, size);
    simi_event(s, "\"ev\":\"erase\",\"address\":%u,\"size\":%u", (unsigned)base, (unsigned)size);
}

void simi_mass_erase(dfu_sim *s)
{
    unsigned n = simi_sector_count(s), prot = 0;
    struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);

    for (unsigned i = 0; i < n; i++)
        prot += simi_sector_protected(s, i) ? 1u : 0u;
    if (prot == 0) {
        erase_range(s, f->base, f->size);
        simi_event(s, "\"ev\":\"erase\",\"address\":%u,\"size\":%u,\"mass\":true",
                   (unsigned)f->base, (unsigned)f->size);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        simi_erase_sector(s, i);
}

int simi_flash_programmed(const dfu_sim *s, uint32_t addr)
{
    const struct sim_region *f = NULL;

    for (unsigned i = 0; i < s->nreg; i++)
        if (s->reg[i].kind == SIM_K_FLASH)
            f = &s->reg[i];
    if (f == NULL || addr < f->base || addr - f->base >= f->size - 1)
        return 0;
    uint32_t o = addr - f->base;
    if (s->wmask != NULL) {
        uint32_t w = o / s->p->prog_unit;
        return (s->wmask[w / 8] >> (w % 8)) & 1u;
    }
    return f->mem[o] != 0xFF || f->mem[o + 1] != 0xFF;
}

/*
 * Flash programming as the chip does it:
 * - H7: 32-byte flash words with ECC, each programmable once after an erase; a partial word is
 *   padded with 0xFF and counts as programmed; a second write to a word fails with errPROG.
 * - F4 / plain: bits can only go from 1 to 0; a byte whose programmed result differs from the
 *   data (it was not erased) fails with errPROG. F4 programs per byte at x8, per word at x32.
 * Write-protected sectors are silently skipped (AN3156). Programming stops at the first error.
 */
uint8_t simi_program(dfu_sim *s, uint32_t addr, const uint8_t *data, size_t len, uint64_t *busy)
{
    const struct sim_profile *p = s->p;
    struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);
    unsigned unit = p->prog_unit;
    uint32_t o = addr - f->base;
    uint8_t st = DFU_STATUS_OK;
    uint32_t sbase, ssize;

    if (p->fam == SIM_FAM_F4 && s->feat0 == 0x03)
        unit = 4;
    *busy = 0;
    if (len == 0)
        return DFU_STATUS_OK;
    if (p->fam == SIM_FAM_H7) {
        uint32_t w0 = o / unit, w1 = (uint32_t)((o + len - 1) / unit);
        for (uint32_t w = w0; w <= w1; w++) {
            int idx = simi_sector(s, f->base + w * unit, &sbase, &ssize);
            *busy += p->prog_us;
            if (simi_sector_protected(s, (unsigned)idx))
                continue;
            if ((s->wmask[w / 8] >> (w % 8)) & 1u) {
                st = DFU_STATUS_ERR_PROG;
                break;
            }
            for (uint32_t b = w * unit; b < (w + 1) * unit; b++)
                if (b >= o && b < o + len)
                    f->mem[b] &= data[b - o];
            s->wmask[w / 8] |= (uint8_t)(1u << (w % 8));
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            if (i % unit == 0)
                *busy += p->prog_us;
            int idx = simi_sector(s, addr + (uint32_t)i, &sbase, &ssize);
            if (simi_sector_protected(s, (unsigned)idx))
                continue;
            f->mem[o + i] &= data[i];
            if (f->mem[o + i] != data[i]) {
                st = DFU_STATUS_ERR_PROG;
                break;
            }
        }
    }
    simi_event(s, "\"ev\":\"program\",\"address\":%u,\"size\":%u", (unsigned)addr, (unsigned)len);
    return st;
}

uint32_t simi_rd32(dfu_sim *s, uint32_t addr)
{
    uint8_t b[4];

    for (unsigned i = 0; i < 4; i++) {
        struct sim_region *r = simi_region(s, addr + i);
        b[i] = r != NULL ? r->mem[addr + i - r->base] : 0xFF;
    }
    return get32(b);
}

int dfu_sim_read_mem(dfu_sim *s, uint32_t addr, uint8_t *buf, size_t len, struct dfu_err *err)
{
    for (size_t i = 0; i < len; i++) {
        struct sim_region *r = simi_region(s, addr + (uint32_t)i);
        if (r == NULL)
            return dfu_err_set(err, DFU_E_RANGE, "sim: address 0x%08x is not mapped",
                               (unsigned)(addr + i));
        buf[i] =
            r->kind == SIM_K_FEAT && addr + i == r->base ? s->feat0 : r->mem[addr + i - r->base];
    }
    return 0;
}

int dfu_sim_write_mem(dfu_sim *s, uint32_t addr, const uint8_t *buf, size_t len,
                      struct dfu_err *err)
{
    for (size_t i = 0; i < len; i++) {
        struct sim_region *r = simi_region(s, addr + (uint32_t)i);
        if (r == NULL)
            return dfu_err_set(err, DFU_E_RANGE, "sim: address 0x%08x is not mapped",
                               (unsigned)(addr + i));
        r->mem[addr + i - r->base] = buf[i];
        if (r->kind == SIM_K_FLASH && s->wmask != NULL) {
            uint32_t w = (uint32_t)(addr + i - r->base) / s->p->prog_unit;
            s->wmask[w / 8] |= (uint8_t)(1u << (w % 8));
        }
        if (r->kind == SIM_K_FEAT && addr + i == r->base)
            s->feat0 = buf[i];
    }
    return 0;
}

/* CRC-32 (IEEE, reflected, as zlib). */
uint32_t simi_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/*
 * The state= file (all integers little-endian):
 *   "DFUSIMST"  magic, 8 bytes
 *   u32 version (1), char profile[16] (NUL padded), u32 record count
 *   records:  u32 tag (region base address; 0xFFFFFFFF = the H7 flash-word programmed mask)
 *             u32 size, u32 fill byte, u32 page count
 *             pages: u32 page index, then the page's bytes (256, or less for the last page)
 *             u32 CRC-32 of the record from its tag up to here
 *   "END\n"
 * Only 256-byte pages that differ from the fill byte are stored, so an erased 2 MiB flash
 * costs a few bytes. Flash, RAM, option bytes and OTP are stored; system memory is constant.
 * A zero-length file is treated like a missing one (a fresh, erased device).
 */
#define PAGE 256u

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

    put32(x, v);
    return blob_put(b, x, 4);
}

static int save_record(struct blob *b, uint32_t tag, const uint8_t *mem, uint32_t size,
                       uint8_t fill)
{
    size_t start = b->n, cnt_at;
    uint32_t npages = 0;
    int rc = blob_u32(b, tag) || blob_u32(b, size) || blob_u32(b, fill);

    cnt_at = b->n;
    rc = rc || blob_u32(b, 0);
    for (uint32_t pg = 0; rc == 0 && pg * PAGE < size; pg++) {
        uint32_t n = size - pg * PAGE < PAGE ? size - pg * PAGE : PAGE;
        int blank = 1;
        for (uint32_t i = 0; i < n && blank; i++)
            blank = mem[pg * PAGE + i] == fill;
        if (blank)
            continue;
        rc = blob_u32(b, pg) || blob_put(b, mem + pg * PAGE, n);
        npages++;
    }
    if (rc != 0)
        return DFU_E_NOMEM;
    put32(b->p + cnt_at, npages);
    return blob_u32(b, simi_crc32(0, b->p + start, b->n - start)) ? DFU_E_NOMEM : 0;
}

static int persisted(enum sim_kind k)
{
    return k == SIM_K_FLASH || k == SIM_K_RAM || k == SIM_K_OB || k == SIM_K_OTP;
}

int simi_state_save(dfu_sim *s, struct dfu_err *err)
{
    struct blob b = {NULL, 0, 0};
    char name[16] = {0}, *tmp = NULL;
    uint32_t nrec = 0;
    int rc;
    FILE *f = NULL;

    if (s->state_path == NULL)
        return 0;
    for (unsigned i = 0; i < s->nreg; i++)
        nrec += persisted(s->reg[i].kind) ? 1u : 0u;
    nrec += s->wmask != NULL ? 1u : 0u;
    strncpy(name, s->p->name, sizeof name - 1);
    rc = blob_put(&b, "DFUSIMST", 8) || blob_u32(&b, 1) || blob_put(&b, name, 16) ||
         blob_u32(&b, nrec);
    for (unsigned i = 0; rc == 0 && i < s->nreg; i++)
        if (persisted(s->reg[i].kind))
            rc = save_record(&b, s->reg[i].base, s->reg[i].mem, s->reg[i].size, s->reg[i].fill);
    if (rc == 0 && s->wmask != NULL) {
        struct sim_region *fl = simi_region_kind(s, SIM_K_FLASH);
        rc = save_record(&b, 0xFFFFFFFFu, s->wmask, fl->size / s->p->prog_unit / 8 + 1, 0);
    }
    rc = rc || blob_put(&b, "END\n", 4);
    if (rc != 0) {
        rc = dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory saving state");
        goto out;
    }
    tmp = malloc(strlen(s->state_path) + 8);
    if (tmp == NULL) {
        rc = dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory saving state");
        goto out;
    }
    sprintf(tmp, "%s.tmp", s->state_path);
    f = fopen(tmp, "wb");
    if (f == NULL || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0) {
        int e = errno;
        f = NULL;
        rc = dfu_err_set(err, DFU_E_IO, "sim: cannot write state file %s: %s", tmp, strerror(e));
        goto out;
    }
    if (rename(tmp, s->state_path) != 0) {
        rc = dfu_err_set(err, DFU_E_IO, "sim: cannot rename %s to %s: %s", tmp, s->state_path,
                         strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(b.p);
    return rc;
}

static uint8_t *load_target(dfu_sim *s, uint32_t tag, uint32_t *size)
{
    if (tag == 0xFFFFFFFFu) {
        if (s->wmask == NULL)
            return NULL;
        *size = simi_region_kind(s, SIM_K_FLASH)->size / s->p->prog_unit / 8 + 1;
        return s->wmask;
    }
    for (unsigned i = 0; i < s->nreg; i++)
        if (s->reg[i].base == tag && persisted(s->reg[i].kind)) {
            *size = s->reg[i].size;
            return s->reg[i].mem;
        }
    return NULL;
}

int simi_state_load(dfu_sim *s, struct dfu_err *err)
{
    const char *path = s->state_path;
    FILE *f = fopen(path, "rb");
    uint8_t *d = NULL;
    size_t n = 0, cap = 0, off;
    int rc = 0;

    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        return dfu_err_set(err, DFU_E_IO, "sim: cannot open state file %s: %s", path,
                           strerror(errno));
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *q = realloc(d, cap);
            if (q == NULL) {
                rc = dfu_err_set(err, DFU_E_NOMEM, "sim: out of memory reading %s", path);
                goto out;
            }
            d = q;
        }
        size_t got = fread(d + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (n == 0)
        goto out;
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n - off < (size_t)(k)) {                                                               \
            rc = dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s is truncated at byte %zu",     \
                             path, n);                                                             \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
    off = 0;
    NEED(32);
    if (memcmp(d, "DFUSIMST", 8) != 0 || get32(d + 8) != 1) {
        rc = dfu_err_set(err, DFU_E_FORMAT, "sim: %s is not a simulator state file", path);
        goto out;
    }
    if (strncmp((const char *)d + 12, s->p->name, 16) != 0) {
        rc = dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s belongs to profile %.16s, not %s",
                         path, (const char *)d + 12, s->p->name);
        goto out;
    }
    uint32_t nrec = get32(d + 28);
    off = 32;
    for (uint32_t r = 0; r < nrec; r++) {
        size_t start = off;
        NEED(16);
        uint32_t tag = get32(d + off), size = get32(d + off + 4), fill = get32(d + off + 8);
        uint32_t npages = get32(d + off + 12), have = 0;
        uint8_t *mem = load_target(s, tag, &have);
        off += 16;
        if (mem == NULL || have != size || fill > 0xFF) {
            rc = dfu_err_set(err, DFU_E_FORMAT,
                             "sim: state file %s: record 0x%08x (%u bytes) does not match the "
                             "device",
                             path, (unsigned)tag, (unsigned)size);
            goto out;
        }
        /* Check the whole record before touching memory. */
        size_t scan = off;
        for (uint32_t i = 0; i < npages; i++) {
            if (scan > n || n - scan < 4) {
                scan = n + 1;
                break;
            }
            uint32_t pg = get32(d + scan);
            if ((uint64_t)pg * PAGE >= size) {
                rc = dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: bad page %u in 0x%08x",
                                 path, (unsigned)pg, (unsigned)tag);
                goto out;
            }
            scan += 4 + (size - pg * PAGE < PAGE ? size - pg * PAGE : PAGE);
        }
        off = scan > n ? n : scan;
        NEED((scan - off) + 4);
        if (simi_crc32(0, d + start, off - start) != get32(d + off)) {
            rc = dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: CRC mismatch in 0x%08x", path,
                             (unsigned)tag);
            goto out;
        }
        memset(mem, (int)fill, size);
        for (size_t q = start + 16; q < off;) {
            uint32_t pg = get32(d + q), m = size - pg * PAGE < PAGE ? size - pg * PAGE : PAGE;
            memcpy(mem + pg * PAGE, d + q + 4, m);
            q += 4 + m;
        }
        off += 4;
    }
    NEED(4);
    if (memcmp(d + off, "END\n", 4) != 0) {
        rc = dfu_err_set(err, DFU_E_FORMAT, "sim: state file %s: bad trailer", path);
        goto out;
    }
#undef NEED
out:
    fclose(f);
    free(d);
    return rc;
}
