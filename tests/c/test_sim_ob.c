/* Simulator option bytes, read protection and write protection (protocol.md 6). */
#include <stdio.h>
#include <unistd.h>

#include "test_sim_util.h"

static uint32_t r32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void w32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Write the OB block: DNBUSY, then the device resets (the second GETSTATUS finds no device),
 * then it comes back per boot0. Returns 0 when all of that happened. */
static int ob_write(dfu_sim *s, struct dfu_transport *t, uint32_t base, const uint8_t *blk,
                    uint16_t len, unsigned reenum_ms)
{
    uint8_t st[6];

    if (set_alt(s, 1) != 0 || set_address(s, base) != 0 || dnload(s, 2, blk, len) != 0)
        return 1;
    if (getstatus(s, st) != 0 || st[4] != DFU_STATE_DNBUSY)
        return 2;
    if (getstatus(s, st) != DFU_E_NO_DEVICE)
        return 3;
    if (last_event(s, "\"ev\":\"reset\",\"cause\":\"ob_write\"") == NULL ||
        last_event(s, "\"ev\":\"ob_write\"") == NULL)
        return 4;
    if (reenum_ms == 0)
        return 0;
    if (dfu_transport_wait_reenumerate(t, reenum_ms, &e_) != 0)
        return 5;
    return set_alt(s, 1) != 0 ? 6 : 0;
}

static int test_f4_ob_read(void)
{
    dfu_sim *s = mk("stm32f405");
    uint8_t ob[16];
    size_t n;

    T_ASSERT(s != NULL);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), DFU_E_PIPE); /* alt 0 is the flash */
    T_OK(clrstatus(s), e_);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 8, &n), DFU_E_PIPE); /* whole block only */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_EQ_INT(n, 16);
    T_EQ_INT(ob[1], 0xAA);
    T_EQ_INT(ob[8] | ob[9] << 8, 0x0FFF);
    /* partial writes are refused */
    T_OK(abort_req(s), e_);
    T_EQ_INT(write_at(s, 0x1FFFC000, ob, 8), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x1FFFC008, ob, 8), DFU_STATUS_ERR_TARGET);
    dfu_sim_free(s);
    return 0;
}

/* nWRP bit 0 cleared: sector 0 is silently neither erased nor written (AN3156). */
static int test_f4_wrp(void)
{
    dfu_sim *s = mk("stm32f405");
    struct dfu_transport *t = NULL;
    uint8_t ob[16], d[16], back[16];
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    memset(d, 0x12, sizeof d);
    T_EQ_INT(write_at(s, 0x08000000, d, 16), 0);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_OK(abort_req(s), e_);
    ob[8] &= (uint8_t)~0x01u;
    uint64_t t0 = dfu_sim_now_us(s);
    T_EQ_INT(ob_write(s, t, 0x1FFFC000, ob, 16, 1000), 0);
    /* 100 ms programming, then 250 ms to enumerate; the write took 3 transfers before */
    T_ASSERT(dfu_sim_now_us(s) - t0 >= 350000 && dfu_sim_now_us(s) - t0 < 360000);
    T_EQ_INT(read_at(s, 0x1FFFC000, back, 16, &n), 0);
    T_EQ_MEM(back, ob, 16);
    T_OK(abort_req(s), e_);
    T_OK(set_alt(s, 0), e_);
    T_EQ_INT(erase_page(s, 0x08000000), 0);
    T_OK(dfu_sim_read_mem(s, 0x08000000, back, 16, &e_), e_);
    T_EQ_MEM(back, d, 16);
    T_EQ_INT(write_at(s, 0x08000100, d, 16), 0);
    T_OK(dfu_sim_read_mem(s, 0x08000100, back, 16, &e_), e_);
    T_EQ_INT(back[0], 0xFF);
    /* sector 1 is not protected */
    T_EQ_INT(write_at(s, 0x08004000, d, 16), 0);
    T_OK(dfu_sim_read_mem(s, 0x08004000, back, 16, &e_), e_);
    T_EQ_MEM(back, d, 16);
    t->ops->close(t);
    return 0;
}

/* RDP 0 -> 1 by OB write, then READ_UNPROTECT: level 0 with flash and RAM erased, reset. */
static int test_f4_rdp1_unprotect(void)
{
    dfu_sim *s = mk("stm32f405");
    struct dfu_transport *t = NULL;
    uint8_t ob[16], d[16], back[16], st[6], cmd = 0x92;
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    memset(d, 0x34, sizeof d);
    T_EQ_INT(write_at(s, 0x08020000, d, 16), 0);
    T_EQ_INT(write_at(s, 0x20008000, d, 16), 0);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_OK(abort_req(s), e_);
    ob[1] = 0xBB;
    T_EQ_INT(ob_write(s, t, 0x1FFFC000, ob, 16, 1000), 0);
    T_OK(set_alt(s, 0), e_);
    T_EQ_INT(read_at(s, 0x08020000, back, 16, &n), DFU_E_PIPE);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[0], DFU_STATUS_ERR_VENDOR);
    T_OK(clrstatus(s), e_);
    /* READ_UNPROTECT: DNBUSY, then erase + reset; the second GETSTATUS fails */
    T_OK(dnload(s, 0, &cmd, 1), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    T_EQ_INT(getstatus(s, st), DFU_E_TIMEOUT); /* 16 s erase > 5 s */
    T_OK(dfu_transport_wait_reenumerate(t, 30000, &e_), e_);
    T_ASSERT(last_event(s, "\"ev\":\"reset\",\"cause\":\"unprotect\"") != NULL);
    T_EQ_INT(read_at(s, 0x08020000, back, 16, &n), 0);
    T_EQ_INT(back[0], 0xFF);
    T_OK(abort_req(s), e_);
    T_EQ_INT(read_at(s, 0x20008000, back, 16, &n), 0);
    T_EQ_INT(back[0], 0x00);
    T_OK(abort_req(s), e_);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_EQ_INT(ob[1], 0xAA);
    t->ops->close(t);
    return 0;
}

/* RDP level 2: the ROM is gone for good, also for the next process. */
static int test_rdp2(void)
{
    char path[128], spec[200];
    struct dfu_transport *t = NULL;
    uint8_t ob[16];
    size_t n;

    snprintf(path, sizeof path, "/tmp/dfush_test_sim_%ld_rdp2", (long)getpid());
    remove(path);
    snprintf(spec, sizeof spec, "stm32f405,state=%s", path);
    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_OK(abort_req(s), e_);
    ob[1] = 0xCC;
    T_EQ_INT(ob_write(s, t, 0x1FFFC000, ob, 16, 0), 0);
    T_EQ_INT(dfu_transport_wait_reenumerate(t, 5000, &e_), DFU_E_TIMEOUT);
    T_ASSERT(dfu_sim_mode(s) == DFU_SIM_HANG || dfu_sim_mode(s) == DFU_SIM_APP);
    t->ops->close(t);
    s = mk(spec);
    T_ASSERT(s != NULL);
    struct dfu_devinfo info;
    T_EQ_INT(dfu_sim_devinfo(s, &info, &e_), DFU_E_NO_DEVICE);
    dfu_sim_free(s);
    remove(path);
    return 0;
}

/* H753 register image: RDP in OPTSR bits 15:8, BOOT_ADD0/1, WPSN; PRG edits take effect. */
static int test_h7_ob(void)
{
    dfu_sim *s = mk("stm32h753");
    struct dfu_transport *t = NULL;
    uint8_t ob[128], back[128], d[32];
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    memset(d, 0x56, sizeof d);
    T_EQ_INT(write_at(s, 0x08000000, d, 32), 0);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x5200201C, ob, 1024, &n), 0);
    T_EQ_INT(n, 128);
    T_EQ_INT(getstate(s), DFU_STATE_IDLE); /* short frame */
    T_EQ_INT((r32(ob) >> 8) & 0xFF, 0xAA);
    T_EQ_INT(r32(ob + 36), 0x1FF00800);
    T_EQ_INT(r32(ob + 28) & 0xFF, 0xFF);
    w32(ob + 40, 0x1FF01FF0);         /* BOOT_PRGR: BOOT_ADD0 = ROM */
    w32(ob + 28, r32(ob + 28) & ~1u); /* WPSN_CUR1: protect sector 0 */
    T_EQ_INT(ob_write(s, t, 0x5200201C, ob, 128, 300), 0);
    T_EQ_INT(read_at(s, 0x5200201C, back, 128, &n), 0);
    T_EQ_INT(r32(back + 36), 0x1FF01FF0);
    T_EQ_INT(r32(back + 40), 0x1FF01FF0);
    T_EQ_INT(r32(back + 28) & 1u, 0);
    T_EQ_INT(r32(back + 32) & 1u, 0);
    T_OK(abort_req(s), e_);
    T_OK(set_alt(s, 0), e_);
    T_EQ_INT(erase_page(s, 0x08000000), 0); /* write-protected: silently kept */
    uint8_t b[4];
    T_OK(dfu_sim_read_mem(s, 0x08000000, b, 4, &e_), e_);
    T_EQ_INT(b[0], 0x56);
    t->ops->close(t);

    /* with BOOT_ADD0 = 0x1FF0 a reset boots the ROM even with boot0=0 */
    s = mk("stm32h753,boot0=0");
    T_OK(dfu_sim_write_mem(s, 0x5200201C + 36, (const uint8_t *)"\xF0\x1F\xF0\x1F", 4, &e_), e_);
    T_EQ_INT(set_address(s, 0x08000000), 0);
    T_OK(dnload(s, 0, NULL, 0), e_);
    uint8_t st[6];
    T_OK(getstatus(s, st), e_);
    T_EQ_STR(dfu_sim_leave_outcome(s), "rom");
    dfu_sim_free(s);
    return 0;
}

static const struct t_case cases[] = {
    {"f4_ob_read", test_f4_ob_read},
    {"f4_wrp", test_f4_wrp},
    {"f4_rdp1_unprotect", test_f4_rdp1_unprotect},
    {"rdp2", test_rdp2},
    {"h7_ob", test_h7_ob},
    {NULL, NULL},
};
T_MAIN(cases)
