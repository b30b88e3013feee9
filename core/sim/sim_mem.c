/* Simulator memory: regions and the flash erase/program rules of the profile. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

static uint32_t layout_size(const struct sim_layout *l)
{
    uint32_t n = 0;

    for (unsigned i = 0; l->sectors[i].count != 0; i++)
        n += l->sectors[i].count * l->sectors[i].size;
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

const struct sim_bug *simi_bug(const dfu_sim *s, enum sim_bug_kind kind)
{
    for (unsigned i = 0; i < sizeof s->p->bugs / sizeof s->p->bugs[0]; i++) {
        const struct sim_bug *b = &s->p->bugs[i];
        if (b->kind == kind && s->rom_id >= b->lo && s->rom_id <= b->hi)
            return b;
    }
    return NULL;
}

const struct sim_sector_run *simi_sectors(const dfu_sim *s)
{
    return s->p->layouts[s->layout < s->p->nlayouts ? s->layout : 0].sectors;
}

const char *simi_alt_string(const dfu_sim *s, unsigned alt)
{
    if (alt == 0 && s->variant == NULL && s->p->layouts[s->layout].alt != NULL)
        return s->p->layouts[s->layout].alt;
    return alt < s->nalts ? s->alts[alt] : "";
}

/* A read-only region for bytes of system memory outside its main block (UID, ID byte). */
static int add_sys_block(dfu_sim *s, uint32_t addr, uint32_t size)
{
    const struct sim_profile *p = s->p;

    if (addr >= p->sys_base && addr + size - p->sys_base <= p->sys_size)
        return 0;
    if (simi_region(s, addr) != NULL && simi_region(s, addr + size - 1) != NULL)
        return 0;
    return add_region(s, addr, size, SIM_K_SYS, 0, 0xFF, 0);
}

int simi_mem_init(dfu_sim *s, struct dfu_err *err)
{
    const struct sim_profile *p = s->p;
    uint32_t fsize = layout_size(&p->layouts[0]);
    int rc = add_region(s, p->flash_base, fsize, SIM_K_FLASH, 0, 0xFF, 0);
    const struct sim_bug *romram = simi_bug(s, SIM_BUG_ROM_RAM);

    for (unsigned i = 0; rc == 0 && i < p->nram; i++) {
        uint32_t rom = p->ram[i].rom;
        /* a ROM version that uses a different part of this RAM block (AN2606) */
        if (romram != NULL && romram->arg2 == p->ram[i].base)
            rom = romram->arg;
        rc = add_region(s, p->ram[i].base, p->ram[i].size, SIM_K_RAM, 0, 0x00, rom);
    }
    if (rc == 0 && p->sys_size != 0)
        rc = add_region(s, p->sys_base, p->sys_size, SIM_K_SYS, 0, 0x00, 0);
    if (rc == 0 && s->ob != NULL)
        for (unsigned z = 0; rc == 0 && z < s->ob->nzones; z++)
            rc = add_region(s, s->ob->zone[z].base, s->ob->zone[z].size, SIM_K_OB, 1, 0xFF, 0);
    if (rc == 0 && p->otp_size != 0 && (s->variant == NULL || s->nalts > 2))
        rc = add_region(s, p->otp_base, p->otp_size, SIM_K_OTP, 2, 0xFF, 0);
    if (rc == 0 && p->feat_size != 0)
        rc = add_region(s, p->feat_base, p->feat_size, SIM_K_FEAT, 3, 0x00, 0);
    if (rc == 0 && p->uid_addr != 0)
        rc = add_sys_block(s, p->uid_addr,
                           p->flash_kib_off == 0      ? 12u
                           : p->flash_kib_off >= 0x1E ? p->flash_kib_off + 2u
                                                      : 0x20u);
    if (rc == 0 && p->id_addr != 0)
        rc = add_sys_block(s, p->id_addr & ~0xFFu, 0x100);
    if (rc == 0 && p->prog_once) {
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
            dfui_put32(r->mem + o + 4 * i, p->uid[i]);
        if (p->flash_kib_off != 0) {
            r->mem[o + p->flash_kib_off] = (uint8_t)(fsize / 1024);
            r->mem[o + p->flash_kib_off + 1] = (uint8_t)(fsize / 1024 >> 8);
        }
    }
    if (p->id_addr != 0) {
        struct sim_region *r = simi_region(s, p->id_addr);
        r->mem[p->id_addr - r->base] = (uint8_t)s->rom_id;
    }
    simi_ob_defaults(s);
    s->layout = simi_ob_layout(s);
    return 0;
}

void simi_mem_free(dfu_sim *s)
{
    for (unsigned i = 0; i < s->nreg; i++) {
        free(s->reg[i].mem);
        free(s->reg[i].dirty);
    }
    s->nreg = 0;
    free(s->wmask);
    free(s->wmask_dirty);
    s->wmask = s->wmask_dirty = NULL;
}

void simi_touch(dfu_sim *s, const struct sim_region *r, uint32_t off, uint32_t len)
{
    if (r->dirty == NULL || len == 0)
        return;
    for (uint32_t pg = off / SIM_PAGE; pg <= (off + len - 1) / SIM_PAGE; pg++)
        r->dirty[pg / 8] |= (uint8_t)(1u << (pg % 8));
    if (r->kind == SIM_K_FLASH && s->wmask_dirty != NULL) {
        uint32_t span = s->p->prog_unit * 8u * SIM_PAGE; /* flash bytes per page of wmask */
        for (uint32_t pg = off / span; pg <= (off + len - 1) / span; pg++)
            s->wmask_dirty[pg / 8] |= (uint8_t)(1u << (pg % 8));
    }
    s->dirty = 1;
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
        uint64_t end = (uint64_t)p->ram[i].base + p->ram[i].size;
        if (addr >= p->ram[i].base && (addr < end || (allow_end && addr == end)))
            return 1;
    }
    return 0;
}

int simi_sector(const dfu_sim *s, uint32_t addr, uint32_t *base, uint32_t *size)
{
    const struct sim_sector_run *r = simi_sectors(s);
    uint32_t b = s->p->flash_base;
    int idx = 0;

    if (addr < b)
        return -1;
    for (unsigned i = 0; r[i].count != 0; i++) {
        for (unsigned j = 0; j < r[i].count; j++, idx++) {
            if (addr - b < r[i].size) {
                *base = b;
                *size = r[i].size;
                return idx;
            }
            b += r[i].size;
        }
    }
    return -1;
}

unsigned simi_sector_count(const dfu_sim *s)
{
    const struct sim_sector_run *r = simi_sectors(s);
    unsigned n = 0;

    for (unsigned i = 0; r[i].count != 0; i++)
        n += r[i].count;
    return n;
}

/* Busy time of a sector erase, from the profile's table (at x32 once the Device Feature
 * selects it). */
uint32_t simi_sector_erase_us(const dfu_sim *s, uint32_t size)
{
    int feat = s->p->unit_feat != 0 && s->feat0 == 0x03;

    for (unsigned i = 0; i < sizeof s->p->erase / sizeof s->p->erase[0]; i++) {
        const struct sim_erase_time *e = &s->p->erase[i];
        if (e->size == 0 || size <= e->size)
            return feat ? e->us_feat : e->us;
    }
    return 0;
}

static uint32_t sector_base(const dfu_sim *s, unsigned idx, uint32_t *size)
{
    const struct sim_sector_run *r = simi_sectors(s);
    uint32_t b = s->p->flash_base;
    unsigned k = 0;

    for (unsigned i = 0; r[i].count != 0; i++)
        for (unsigned j = 0; j < r[i].count; j++, k++) {
            if (k == idx) {
                *size = r[i].size;
                return b;
            }
            b += r[i].size;
        }
    *size = 0;
    return 0;
}

static void erase_range(dfu_sim *s, uint32_t base, uint32_t size)
{
    struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);

    memset(f->mem + (base - f->base), 0xFF, size);
    simi_touch(s, f, base - f->base, size);
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
    simi_event(s, "\"ev\":\"erase\",\"address\":%u,\"size\":%u,\"busy_us\":%u", (unsigned)base,
               (unsigned)size, (unsigned)simi_sector_erase_us(s, size));
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
 * - prog_once (ECC flash words: H7 32 bytes, H7A3/U5 16, L4/G0/G4/C0 8): each unit is
 *   programmable once after an erase; a partial unit is padded with 0xFF and counts as
 *   programmed; a second write to a unit fails with errPROG.
 * - otherwise bits can only go from 1 to 0; a byte whose programmed result differs from the
 *   data (it was not erased) fails with errPROG. The busy time is charged per program unit (F4:
 *   byte at x8, word once Device Feature selects x32).
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

    if (p->unit_feat != 0 && s->feat0 == 0x03)
        unit = p->unit_feat;
    *busy = 0;
    if (len == 0)
        return DFU_STATUS_OK;
    if (p->prog_once) {
        uint32_t w0 = o / unit, w1 = (uint32_t)((o + len - 1) / unit);
        simi_touch(s, f, w0 * unit, (w1 - w0 + 1) * unit);
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
        /* STM32L47x V9.x/V10.x: a DFU write longer than 256 bytes whose length is not a
         * multiple of 8 leaves its last double-word corrupted (AN2606). */
        if (st == DFU_STATUS_OK && len > 256 && len % 8 != 0 && simi_bug(s, SIM_BUG_WRITE_LEN8))
            f->mem[o + len - 1] = 0x00;
    } else {
        simi_touch(s, f, o, (uint32_t)len);
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
    simi_event(s, "\"ev\":\"program\",\"address\":%u,\"size\":%u,\"busy_us\":%u", (unsigned)addr,
               (unsigned)len, (unsigned)*busy);
    return st;
}

uint32_t simi_rd32(dfu_sim *s, uint32_t addr)
{
    uint8_t b[4];

    for (unsigned i = 0; i < 4; i++) {
        struct sim_region *r = simi_region(s, addr + i);
        b[i] = r != NULL ? r->mem[addr + i - r->base] : 0xFF;
    }
    return dfui_le32(b);
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
        simi_touch(s, r, (uint32_t)(addr + i - r->base), 1);
        if (r->kind == SIM_K_FLASH && s->wmask != NULL) {
            uint32_t w = (uint32_t)(addr + i - r->base) / s->p->prog_unit;
            s->wmask[w / 8] |= (uint8_t)(1u << (w % 8));
        }
        if (r->kind == SIM_K_FEAT && addr + i == r->base)
            s->feat0 = buf[i];
    }
    return simi_state_sync(s, err);
}
