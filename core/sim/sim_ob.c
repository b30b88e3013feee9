/*
 * Option bytes, read protection and write protection (protocol.md 6), driven by the profile's
 * option-byte model (struct sim_ob_model in sim_int.h): where RDP lives (and its mirror and
 * complement), which bits or page ranges protect which sectors, how a write of the block is
 * applied, what the block says about booting and about the flash layout.
 *
 * STM32H7 (SIM_OBW_CUR_PRG): the block is an image of the flash option registers; on a write
 * each CUR/PRG pair takes the PRG word if the host changed it, else the CUR word (a host may
 * edit either copy), and after the reset both copies read the new value; the clear register
 * reads 0. Every other model stores the block as written. Reserved bytes and complements are
 * kept as given.
 */
#include <string.h>

#include "sim/sim_int.h"

static uint32_t rd(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The memory of option-byte zone @z, or NULL. */
static uint8_t *zone(const dfu_sim *s, unsigned z)
{
    if (s->ob == NULL || z >= s->ob->nzones)
        return NULL;
    for (unsigned i = 0; i < s->nreg; i++)
        if (s->reg[i].kind == SIM_K_OB && s->reg[i].base == s->ob->zone[z].base)
            return s->reg[i].mem;
    return NULL;
}

static struct sim_region *zone_region(dfu_sim *s, unsigned z)
{
    for (unsigned i = 0; i < s->nreg; i++)
        if (s->reg[i].kind == SIM_K_OB && s->reg[i].base == s->ob->zone[z].base)
            return &s->reg[i];
    return NULL;
}

void simi_ob_defaults(dfu_sim *s)
{
    for (unsigned z = 0; s->ob != NULL && z < s->ob->nzones; z++) {
        uint8_t *o = zone(s, z);
        if (o != NULL && s->ob->zone[z].defaults != NULL)
            memcpy(o, s->ob->zone[z].defaults, s->ob->zone[z].size);
    }
}

uint8_t simi_rdp(const dfu_sim *s)
{
    const uint8_t *o = zone(s, 0);

    if (o == NULL)
        return s->ob != NULL ? s->ob->rdp_l0 : 0xAA;
    return o[s->ob->rdp_off];
}

int simi_rdp_level(const dfu_sim *s)
{
    uint8_t r = simi_rdp(s);

    if (s->ob == NULL || r == s->ob->rdp_l0)
        return 0;
    return s->ob->has_l2 && r == 0xCC ? 2 : 1;
}

void simi_set_rdp(dfu_sim *s, uint8_t rdp)
{
    uint8_t *o = zone(s, 0);
    const struct sim_ob_model *m = s->ob;

    if (o == NULL)
        return;
    simi_touch(s, zone_region(s, 0), 0, m->zone[0].size);
    o[m->rdp_off] = rdp;
    if (m->rdp_mirror >= 0)
        o[m->rdp_mirror] = rdp;
    if (m->rdp_compl >= 0)
        o[m->rdp_compl] = (uint8_t)~rdp;
}

unsigned simi_ob_layout(const dfu_sim *s)
{
    const uint8_t *o = zone(s, 0);
    const struct sim_ob_model *m = s->ob;

    if (o == NULL || m->layout_off < 0 || s->p->nlayouts < 2)
        return 0;
    return ((o[m->layout_off] >> m->layout_bit) & 1u) == m->layout_val ? 1u : 0u;
}

static int wrp_covers(const dfu_sim *s, const struct sim_wrp *w, unsigned idx)
{
    const uint8_t *o = zone(s, w->zone);

    if (o == NULL || idx < w->first)
        return 0;
    if (w->layouts != 0 && !((w->layouts >> s->layout) & 1u))
        return 0;
    unsigned k = idx - w->first;
    if (w->kind == SIM_WRP_BITS) {
        unsigned bit = k / (w->per_bit ? w->per_bit : 1u);
        if (bit >= w->nbits)
            return 0;
        return !((o[w->off[bit / 8]] >> (bit % 8)) & 1u); /* 0 = protected */
    }
    if (w->kind == SIM_WRP_RANGE) {
        uint32_t v = rd(o + w->off[0]), mask = (1u << w->nbits) - 1u;
        uint32_t start = v & mask, end = (v >> w->end_shift) & mask;
        return k <= mask && start <= end && k >= start && k <= end;
    }
    return 0;
}

int simi_sector_protected(const dfu_sim *s, unsigned idx)
{
    if (s->ob == NULL)
        return 0;
    for (unsigned i = 0; i < sizeof s->ob->wrp / sizeof s->ob->wrp[0]; i++)
        if (s->ob->wrp[i].kind != SIM_WRP_NONE && wrp_covers(s, &s->ob->wrp[i], idx))
            return 1;
    return 0;
}

uint8_t simi_ob_write(dfu_sim *s, unsigned z, const uint8_t *data, size_t len)
{
    const struct sim_ob_model *m = s->ob;
    uint8_t *o = zone(s, z);
    int old_level = simi_rdp_level(s);

    if (o == NULL || len != m->zone[z].size)
        return DFU_STATUS_ERR_TARGET;
    simi_touch(s, zone_region(s, z), 0, m->zone[z].size);
    if (m->write == SIM_OBW_CUR_PRG) {
        for (unsigned i = 0; m->pairs[i] != 0xFFFF; i++) {
            unsigned off = m->pairs[i];
            uint32_t cur = rd(data + off), prg = rd(data + off + 4);
            uint32_t v = prg != rd(o + off + 4) ? prg : cur;
            wr(o + off, v);
            wr(o + off + 4, v);
        }
        if (m->clear_off >= 0)
            wr(o + m->clear_off, 0); /* write-only clear register: reads 0 */
    } else {
        memcpy(o, data, len);
    }
    simi_event(s, "\"ev\":\"ob_write\",\"address\":%u,\"size\":%u,\"rdp\":%u",
               (unsigned)m->zone[z].base, (unsigned)len, (unsigned)simi_rdp(s));
    /* RDP level 1 -> 0 regression erases the whole flash (protocol.md 6). */
    if (old_level == 1 && simi_rdp_level(s) == 0) {
        struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);
        memset(f->mem, 0xFF, f->size);
        simi_touch(s, f, 0, f->size);
        if (s->wmask != NULL)
            memset(s->wmask, 0, f->size / s->p->prog_unit / 8 + 1);
        simi_event(s, "\"ev\":\"erase\",\"address\":%u,\"size\":%u,\"mass\":true",
                   (unsigned)f->base, (unsigned)f->size);
    }
    return DFU_STATUS_OK;
}

/* F7 BOOT_ADDx are address bits 29:14 on the ITCM/AXIM map: the flash seen on ITCM (0x0020
 * 0000) and the system memory (0x0010 0000) are the AXIM 0x0800 0000 and 0x1FF0 0000. */
static uint32_t f7_address(uint32_t v)
{
    uint32_t a = v << 14;

    if (a >= 0x00200000 && a < 0x00400000)
        return a - 0x00200000 + 0x08000000;
    if (a >= 0x00100000 && a < 0x00110000)
        return a - 0x00100000 + 0x1FF00000;
    return a;
}

uint32_t simi_boot_address(const dfu_sim *s, int boot0)
{
    const uint8_t *o = zone(s, 0);
    const struct sim_ob_model *m = s->ob;
    uint32_t a;

    if (o == NULL)
        return boot0 ? s->p->sys_base : s->p->flash_base;
    switch (m->boot) {
    case SIM_BOOT_H7: {
        uint32_t b = rd(o + m->boot_off);
        return (boot0 ? b >> 16 : b & 0xFFFFu) << 16;
    }
    case SIM_BOOT_F7:
        a = o[m->boot_off + (boot0 ? 8 : 0)] | (uint32_t)o[m->boot_off + (boot0 ? 9 : 1)] << 8;
        return f7_address(a);
    case SIM_BOOT_OPTR: {
        uint32_t optr = rd(o + m->boot_off);
        if (((optr >> m->sel_bit) & 1u) != m->sel_pin)
            boot0 = !((optr >> m->nboot0_bit) & 1u); /* the option bit, not the pin */
        if (m->addr_off >= 0)
            a = rd(o + m->addr_off + (boot0 ? 4 : 0)) & ~0x7Fu;
        else
            a = boot0 ? s->p->sys_base : s->p->flash_base;
        break;
    }
    default:
        a = boot0 ? s->p->sys_base : s->p->flash_base;
        break;
    }
    /* Empty check (G0, C0): an erased flash start boots the ROM whatever the pins say. */
    if (m->empty_check && a == s->p->flash_base && simi_rd32((dfu_sim *)s, a) == 0xFFFFFFFFu)
        a = s->p->sys_base;
    return a;
}
