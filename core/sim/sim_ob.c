/*
 * Option bytes, read protection and write protection (protocol.md 6).
 *
 * F405: the 16-byte block at 0x1FFFC000: byte 0 USER, byte 1 RDP, bytes 8-9 nWRP[11:0]
 * (1 = sector not protected). The other bytes are reserved; the simulator keeps complement
 * values there (bytes 2-3 of USER/RDP, 10-11 of nWRP) and writes them back as given.
 *
 * H753: the 128-byte image at 0x5200201C of the flash option registers, 32-bit LE words:
 *   +0 OPTSR_CUR (RDP in bits 15:8)  +4 OPTSR_PRG   +8 OPTCCR
 *   +12 PRAR_CUR1 +16 PRAR_PRG1      +20 SCAR_CUR1  +24 SCAR_PRG1
 *   +28 WPSN_CUR1 (bits 7:0 = bank-1 sectors, 1 = not protected) +32 WPSN_PRG1
 *   +36 BOOT_CURR (BOOT_ADD0 bits 15:0, BOOT_ADD1 bits 31:16) +40 BOOT_PRGR
 *   +44.. other registers (CRC, ECC) and reserved words: read as stored, never changed by a write.
 * On a write, each CUR/PRG pair takes the PRG word if the host changed it, else the CUR word (a
 * host may edit either copy), and after the reset both copies read the new value. The bank-2
 * registers (WPSN_CUR2 etc., 0x52002100+) are outside the block: bank-2 sectors are never
 * write-protected in the model.
 */
#include <string.h>

#include "sim/sim_int.h"

#define H7_OPTSR 0
#define H7_OPTCCR 8
#define H7_WPSN 28
#define H7_BOOT 36

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

static uint8_t *ob(const dfu_sim *s)
{
    for (unsigned i = 0; i < s->nreg; i++)
        if (s->reg[i].kind == SIM_K_OB)
            return s->reg[i].mem;
    return NULL;
}

void simi_ob_defaults(dfu_sim *s)
{
    uint8_t *o = ob(s);

    if (o == NULL)
        return;
    if (s->p->fam == SIM_FAM_F4) {
        /* USER: nRST_STDBY, nRST_STOP, WDG_SW set, BOR off; RDP level 0; no sector protected. */
        static const uint8_t f4[16] = {0xEC, 0xAA, 0x13, 0x55, 0xFF, 0xFF, 0xFF, 0xFF,
                                       0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF};
        memcpy(o, f4, sizeof f4);
    } else if (s->p->fam == SIM_FAM_H7) {
        memset(o, 0, s->p->ob_size);
        for (unsigned i = 0; i < 2; i++) {
            wr(o + H7_OPTSR + 4 * i, 0x0006AAD0); /* IWDG sw, nRST_STOP/STBY, RDP 0xAA */
            wr(o + 12 + 4 * i, 0x000000FF);       /* PRAR: start > end = no PCROP area */
            wr(o + 20 + 4 * i, 0x000000FF);       /* SCAR: no secure area */
            wr(o + H7_WPSN + 4 * i, 0x000000FF);  /* no bank-1 sector write protected */
            wr(o + H7_BOOT + 4 * i, 0x1FF00800);  /* BOOT_ADD0 0x0800, BOOT_ADD1 0x1FF0 (ROM) */
        }
    }
}

uint8_t simi_rdp(const dfu_sim *s)
{
    const uint8_t *o = ob(s);

    if (o == NULL)
        return 0xAA;
    if (s->p->fam == SIM_FAM_F4)
        return o[1];
    return (uint8_t)(rd(o + H7_OPTSR) >> 8);
}

void simi_set_rdp(dfu_sim *s, uint8_t rdp)
{
    uint8_t *o = ob(s);

    if (o == NULL)
        return;
    simi_touch(s, simi_region_kind(s, SIM_K_OB), 0, s->p->ob_size);
    if (s->p->fam == SIM_FAM_F4) {
        o[1] = rdp;
        o[3] = (uint8_t)~rdp;
        return;
    }
    for (unsigned i = 0; i < 2; i++) {
        uint32_t v = rd(o + H7_OPTSR + 4 * i);
        wr(o + H7_OPTSR + 4 * i, (v & ~0xFF00u) | (uint32_t)rdp << 8);
    }
}

int simi_sector_protected(const dfu_sim *s, unsigned idx)
{
    const uint8_t *o = ob(s);

    if (o == NULL)
        return 0;
    if (s->p->fam == SIM_FAM_F4) {
        uint16_t nwrp = (uint16_t)(o[8] | o[9] << 8);
        return idx < 12 && !((nwrp >> idx) & 1u);
    }
    if (s->p->fam == SIM_FAM_H7)
        return idx < 8 && !((rd(o + H7_WPSN) >> idx) & 1u);
    return 0;
}

uint8_t simi_ob_write(dfu_sim *s, const uint8_t *data, size_t len)
{
    uint8_t *o = ob(s);
    uint8_t old_rdp = simi_rdp(s);

    if (o == NULL || len != s->p->ob_size)
        return DFU_STATUS_ERR_TARGET;
    simi_touch(s, simi_region_kind(s, SIM_K_OB), 0, s->p->ob_size);
    if (s->p->fam == SIM_FAM_F4) {
        memcpy(o, data, len);
    } else {
        static const unsigned pairs[] = {H7_OPTSR, 12, 20, H7_WPSN, H7_BOOT};
        for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            unsigned off = pairs[i];
            uint32_t cur = rd(data + off), prg = rd(data + off + 4);
            uint32_t v = prg != rd(o + off + 4) ? prg : cur;
            wr(o + off, v);
            wr(o + off + 4, v);
        }
        wr(o + H7_OPTCCR, 0); /* write-only clear register: reads 0 */
    }
    simi_event(s, "\"ev\":\"ob_write\",\"address\":%u,\"size\":%u,\"rdp\":%u",
               (unsigned)s->p->ob_base, (unsigned)len, (unsigned)simi_rdp(s));
    /* RDP level 1 -> 0 regression erases the whole flash (protocol.md 6). */
    if (old_rdp != 0xAA && old_rdp != 0xCC && simi_rdp(s) == 0xAA) {
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

uint32_t simi_boot_address(const dfu_sim *s, int boot0)
{
    const uint8_t *o = ob(s);

    if (s->p->fam == SIM_FAM_H7 && o != NULL) {
        uint32_t b = rd(o + H7_BOOT);
        return (boot0 ? b >> 16 : b & 0xFFFFu) << 16;
    }
    return boot0 ? s->p->sys_base : s->p->flash_base;
}
