/* Simulator EP0: DFU state machine (protocol.md 1.5/1.8), descriptors, DfuSe commands. */
#include "test_sim_util.h"

enum { R_DETACH, R_DNLOAD, R_DNLOAD0, R_UPLOAD, R_GETSTATUS, R_CLRSTATUS, R_GETSTATE, R_ABORT };

static int send(dfu_sim *s, int r)
{
    uint8_t buf[2048] = {0x21, 0x00, 0x00, 0x00, 0x08}, st[6];
    size_t n;

    switch (r) {
    case R_DETACH:
        return ctrl(s, 0x21, 0, 1000, 0, 0, NULL, NULL);
    case R_DNLOAD:
        return dnload(s, 0, buf, 5);
    case R_DNLOAD0:
        return dnload(s, 0, NULL, 0);
    case R_UPLOAD:
        return upload(s, 2, buf, 1024, &n);
    case R_GETSTATUS:
        return getstatus(s, st);
    case R_CLRSTATUS:
        return clrstatus(s);
    case R_GETSTATE:
        return getstate(s) < 0 ? -1 : 0;
    default:
        return abort_req(s);
    }
}

/* Drive a fresh device into @state (for dfu11 the "set address" is a 5-byte data block). */
static int reach(dfu_sim *s, int state)
{
    uint8_t b[5] = {0x21, 0x00, 0x00, 0x00, 0x08}, buf[1024];
    size_t n;

    switch (state) {
    case DFU_STATE_IDLE:
        return 0;
    case DFU_STATE_DNLOAD_SYNC:
        return dnload(s, 0, b, 5);
    case DFU_STATE_DNLOAD_IDLE:
        return set_address(s, 0x08000000);
    case DFU_STATE_MANIFEST_SYNC:
        if (strcmp(dfu_sim_profile(s), "dfu11") == 0 && set_address(s, 0x08000000) != 0)
            return -1;
        return dnload(s, 0, NULL, 0);
    case DFU_STATE_DNBUSY: /* only observable with the busy fault */
        dfu_sim_inject(s, "busy:DNLOAD:1", &e_);
        return job(s, 0, b, 5, NULL) == -201 ? 0 : -1;
    case DFU_STATE_UPLOAD_IDLE:
        return upload(s, 2, buf, 1024, &n);
    case DFU_STATE_ERROR:
        return clrstatus(s);
    default:
        return -1;
    }
}

struct row {
    int state, req, stall, after;
};

#define PIPE DFU_E_PIPE
#define GONE DFU_E_NO_DEVICE
static const struct row table[] = {
    {DFU_STATE_IDLE, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_IDLE, R_DNLOAD, 0, DFU_STATE_DNLOAD_SYNC},
    {DFU_STATE_IDLE, R_DNLOAD0, 0, DFU_STATE_MANIFEST_SYNC},
    {DFU_STATE_IDLE, R_UPLOAD, 0, DFU_STATE_UPLOAD_IDLE},
    {DFU_STATE_IDLE, R_GETSTATUS, 0, DFU_STATE_IDLE},
    {DFU_STATE_IDLE, R_CLRSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_IDLE, R_GETSTATE, 0, DFU_STATE_IDLE},
    {DFU_STATE_IDLE, R_ABORT, 0, DFU_STATE_IDLE},
    {DFU_STATE_DNLOAD_SYNC, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_SYNC, R_DNLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_SYNC, R_DNLOAD0, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_SYNC, R_UPLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_SYNC, R_GETSTATUS, 0, DFU_STATE_DNLOAD_SYNC}, /* reported DNBUSY */
    {DFU_STATE_DNLOAD_SYNC, R_CLRSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_SYNC, R_GETSTATE, 0, DFU_STATE_DNLOAD_SYNC},
    {DFU_STATE_DNLOAD_SYNC, R_ABORT, 0, DFU_STATE_IDLE},
    {DFU_STATE_DNLOAD_IDLE, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_IDLE, R_DNLOAD, 0, DFU_STATE_DNLOAD_SYNC},
    {DFU_STATE_DNLOAD_IDLE, R_DNLOAD0, 0, DFU_STATE_MANIFEST_SYNC},
    {DFU_STATE_DNLOAD_IDLE, R_UPLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_IDLE, R_GETSTATUS, 0, DFU_STATE_DNLOAD_IDLE},
    {DFU_STATE_DNLOAD_IDLE, R_CLRSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_DNLOAD_IDLE, R_GETSTATE, 0, DFU_STATE_DNLOAD_IDLE},
    {DFU_STATE_DNLOAD_IDLE, R_ABORT, 0, DFU_STATE_IDLE},
    {DFU_STATE_MANIFEST_SYNC, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_MANIFEST_SYNC, R_DNLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_MANIFEST_SYNC, R_DNLOAD0, 1, DFU_STATE_ERROR},
    {DFU_STATE_MANIFEST_SYNC, R_UPLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_MANIFEST_SYNC, R_GETSTATUS, 0, GONE}, /* dfuMANIFEST, then the ROM leaves */
    {DFU_STATE_MANIFEST_SYNC, R_CLRSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_MANIFEST_SYNC, R_GETSTATE, 0, DFU_STATE_MANIFEST_SYNC},
    {DFU_STATE_MANIFEST_SYNC, R_ABORT, 0, DFU_STATE_IDLE},
    {DFU_STATE_UPLOAD_IDLE, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_UPLOAD_IDLE, R_DNLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_UPLOAD_IDLE, R_DNLOAD0, 1, DFU_STATE_ERROR},
    {DFU_STATE_UPLOAD_IDLE, R_UPLOAD, 0, DFU_STATE_UPLOAD_IDLE},
    {DFU_STATE_UPLOAD_IDLE, R_GETSTATUS, 0, DFU_STATE_UPLOAD_IDLE},
    {DFU_STATE_UPLOAD_IDLE, R_CLRSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_UPLOAD_IDLE, R_GETSTATE, 0, DFU_STATE_UPLOAD_IDLE},
    {DFU_STATE_UPLOAD_IDLE, R_ABORT, 0, DFU_STATE_IDLE},
    {DFU_STATE_ERROR, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_ERROR, R_DNLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_ERROR, R_DNLOAD0, 1, DFU_STATE_ERROR},
    {DFU_STATE_ERROR, R_UPLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_ERROR, R_GETSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_ERROR, R_CLRSTATUS, 0, DFU_STATE_IDLE},
    {DFU_STATE_ERROR, R_GETSTATE, 0, DFU_STATE_ERROR},
    {DFU_STATE_ERROR, R_ABORT, 1, DFU_STATE_ERROR},
    /* dfuDNBUSY seen by the host (a ROM that reports done too late): only GETSTATUS/GETSTATE,
     * and the ST CLRSTATUS rule */
    {DFU_STATE_DNBUSY, R_DETACH, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNBUSY, R_DNLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNBUSY, R_DNLOAD0, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNBUSY, R_UPLOAD, 1, DFU_STATE_ERROR},
    {DFU_STATE_DNBUSY, R_GETSTATUS, 0, DFU_STATE_DNBUSY},
    {DFU_STATE_DNBUSY, R_CLRSTATUS, 0, DFU_STATE_ERROR},
    {DFU_STATE_DNBUSY, R_GETSTATE, 0, DFU_STATE_DNBUSY},
    {DFU_STATE_DNBUSY, R_ABORT, 1, DFU_STATE_ERROR},
};

/* Plain DFU 1.1 differs from DfuSe in two cells. */
static const struct row plain_diff[] = {
    {DFU_STATE_IDLE, R_DNLOAD0, 1, DFU_STATE_ERROR},
    {DFU_STATE_MANIFEST_SYNC, R_GETSTATUS, 0, DFU_STATE_MANIFEST_SYNC}, /* dfuMANIFEST, done */
};

static int run_table(const char *profile)
{
    int plain = strcmp(profile, "dfu11") == 0;

    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct row rr = table[i];
        const struct row *r = &rr;
        for (size_t k = 0; plain && k < sizeof plain_diff / sizeof plain_diff[0]; k++)
            if (plain_diff[k].state == rr.state && plain_diff[k].req == rr.req)
                rr = plain_diff[k];
        dfu_sim *s = mk(profile);
        T_ASSERT(s != NULL);
        T_EQ_INT(reach(s, r->state), 0);
        T_EQ_INT(getstate(s), r->state);
        static const struct dfu_ctrl out[] = {[R_DETACH] = {0x21, 0, 1000, 0, 0},
                                              [R_DNLOAD] = {0x21, 1, 0, 0, 5},
                                              [R_DNLOAD0] = {0x21, 1, 0, 0, 0},
                                              [R_CLRSTATUS] = {0x21, 4, 0, 0, 0},
                                              [R_ABORT] = {0x21, 6, 0, 0, 0}};
        int pred = -1;
        if (r->req != R_UPLOAD && r->req != R_GETSTATUS && r->req != R_GETSTATE)
            pred = dfu_sim_out_stalls(s, &out[r->req]);
        int rc = send(s, r->req);
        if (pred >= 0 && pred != (rc == PIPE))
            T_FAIL_("state %d request %d: predicted stall %d, rc %d", r->state, r->req, pred, rc);
        if (rc != (r->stall ? PIPE : 0))
            T_FAIL_("state %d request %d: rc %d (%s)", r->state, r->req, rc, e_.msg);
        if (r->after == GONE) {
            T_EQ_INT(getstate(s), GONE);
            dfu_sim_free(s);
            continue;
        }
        if (getstate(s) != r->after)
            T_FAIL_("state %d request %d: now %d, want %d", r->state, r->req, getstate(s),
                    r->after);
        if (r->stall) {
            uint8_t st[6];
            T_OK(getstatus(s, st), e_);
            /* a stall in dfuERROR keeps dfuERROR; in any other state it reports STALLEDPKT */
            if (r->state != DFU_STATE_ERROR)
                T_EQ_INT(st[0], DFU_STATUS_ERR_STALLEDPKT);
        }
        dfu_sim_free(s);
    }
    return 0;
}

static int test_state_table(void)
{
    return run_table("stm32h753") || run_table("stm32f405") || run_table("dfu11");
}

/* ST stack: CLRSTATUS outside dfuERROR gives dfuERROR/errUNKNOWN, a second one dfuIDLE. */
static int test_clrstatus_twice(void)
{
    dfu_sim *s = mk("stm32f405");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_OK(clrstatus(s), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_ERROR);
    T_EQ_INT(st[0], DFU_STATUS_ERR_UNKNOWN);
    T_OK(clrstatus(s), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    T_EQ_INT(st[0], DFU_STATUS_OK);
    dfu_sim_free(s);
    return 0;
}

/* GETSTATUS in dfuMANIFEST-SYNC answers dfuMANIFEST and the device is gone afterwards. */
static int test_manifest_leaves(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_OK(dnload(s, 0, NULL, 0), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_MANIFEST);
    T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
    T_ASSERT(dfu_sim_mode(s) != DFU_SIM_ROM);
    dfu_sim_free(s);
    return 0;
}

/* Plain DFU 1.1: zero-length DNLOAD in dfuIDLE is an error; manifestation-tolerant. */
static int test_plain_state_machine(void)
{
    dfu_sim *s = mk("dfu11");
    uint8_t st[6], blk[1024], back[1024];
    size_t n;

    T_ASSERT(s != NULL);
    T_EQ_INT(dnload(s, 0, NULL, 0), PIPE);
    T_EQ_INT(getstate(s), DFU_STATE_ERROR);
    T_OK(clrstatus(s), e_);
    for (int i = 0; i < 1024; i++)
        blk[i] = (uint8_t)(i * 7);
    T_OK(dnload(s, 0, blk, 1024), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    T_ASSERT(poll_of(st) >= 20); /* first page erase: 20 ms, reported honestly */
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE);
    T_OK(dnload(s, 1, blk, 100), e_);
    T_OK(getstatus(s, st), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE);
    T_OK(dnload(s, 2, NULL, 0), e_);
    T_EQ_INT(getstate(s), DFU_STATE_MANIFEST_SYNC);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_MANIFEST);
    T_EQ_INT(getstate(s), DFU_STATE_MANIFEST_SYNC);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    /* upload from block 0 until a short frame */
    T_OK(upload(s, 0, back, 1024, &n), e_);
    T_EQ_INT(n, 1024);
    T_EQ_MEM(back, blk, 1024);
    T_EQ_INT(getstate(s), DFU_STATE_UPLOAD_IDLE);
    T_OK(upload(s, 1, back, 1024, &n), e_);
    T_EQ_MEM(back, blk, 100);
    T_EQ_INT(back[100], 0xFF);
    unsigned blocks = 2;
    while (n == 1024 && blocks < 200)
        T_OK(upload(s, (uint16_t)blocks++, back, 1024, &n), e_);
    T_EQ_INT(blocks, 113); /* 112 KiB area: blocks 0..111 full, block 112 empty */
    T_EQ_INT(n, 0);
    T_EQ_INT(getstate(s), DFU_STATE_IDLE);
    dfu_sim_free(s);
    return 0;
}

static int get_desc(dfu_sim *s, uint8_t type, uint8_t idx, uint16_t lang, uint8_t *buf, size_t *n)
{
    return ctrl(s, 0x80, 6, (uint16_t)(type << 8 | idx), lang, 255, buf, n);
}

static void ascii(const uint8_t *d, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 2; i + 1 < n && i < d[0]; i += 2)
        out[k++] = (char)d[i];
    out[k] = '\0';
}

static int check_profile_desc(const char *spec, uint16_t bcd_device, const char *product,
                              unsigned nalts, uint8_t attrs, uint16_t xfer, uint16_t bcd_dfu,
                              const char *alt0)
{
    dfu_sim *s = mk(spec);
    uint8_t d[256];
    char str[128];
    size_t n;
    struct dfu_devinfo info;

    T_ASSERT(s != NULL);
    T_OK(get_desc(s, 1, 0, 0, d, &n), e_);
    T_EQ_INT(n, 18);
    T_EQ_INT(d[0], 18);
    T_EQ_INT(d[1], 1);
    T_EQ_INT(d[7], 64);
    T_EQ_INT(d[12] | d[13] << 8, bcd_device);
    T_EQ_INT(d[17], 1);
    T_OK(dfu_sim_devinfo(s, &info, &e_), e_);
    T_EQ_INT(d[8] | d[9] << 8, info.vid);
    T_EQ_INT(d[10] | d[11] << 8, info.pid);
    /* configuration: 9 + 9 per alt + 9-byte functional descriptor */
    T_OK(get_desc(s, 2, 0, 0, d, &n), e_);
    T_EQ_INT(n, 9 + 9 * nalts + 9);
    T_EQ_INT(d[2] | d[3] << 8, n);
    T_EQ_INT(d[4], 1);
    for (unsigned a = 0; a < nalts; a++) {
        const uint8_t *itf = d + 9 + 9 * a;
        T_EQ_INT(itf[1], 4);
        T_EQ_INT(itf[3], a);
        T_EQ_INT(itf[4], 0);
        T_EQ_INT(itf[5], 0xFE);
        T_EQ_INT(itf[6], 0x01);
        T_EQ_INT(itf[7], 0x02);
    }
    const uint8_t *fd = d + 9 + 9 * nalts;
    T_EQ_INT(fd[0], 9);
    T_EQ_INT(fd[1], 0x21);
    T_EQ_INT(fd[2], attrs);
    T_EQ_INT(fd[5] | fd[6] << 8, xfer);
    T_EQ_INT(fd[7] | fd[8] << 8, bcd_dfu);
    /* truncated read returns the first bytes */
    T_OK(ctrl(s, 0x80, 6, 0x0200, 0, 9, d, &n), e_);
    T_EQ_INT(n, 9);
    /* strings */
    T_OK(get_desc(s, 3, 0, 0, d, &n), e_);
    T_EQ_INT(n, 4);
    T_EQ_INT(d[2] | d[3] << 8, 0x0409);
    T_OK(get_desc(s, 3, 2, 0x0409, d, &n), e_);
    ascii(d, n, str);
    T_EQ_STR(str, product);
    T_OK(get_desc(s, 3, 3, 0x0409, d, &n), e_);
    ascii(d, n, str);
    T_EQ_STR(str, info.serial);
    T_EQ_INT(strlen(str), 12);
    uint8_t first_alt_idx = d[0] ? (uint8_t)(9 + 8) : 0; /* iInterface of alt 0 */
    (void)first_alt_idx;
    T_OK(get_desc(s, 2, 0, 0, d, &n), e_);
    uint8_t iif = d[9 + 8];
    T_OK(get_desc(s, 3, iif, 0x0409, d, &n), e_);
    ascii(d, n, str);
    T_EQ_STR(str, alt0);
    T_EQ_STR(info.alt_name, alt0);
    /* functional descriptor directly, from the interface */
    T_OK(ctrl(s, 0x81, 6, 0x2100, 0, 9, d, &n), e_);
    T_EQ_INT(n, 9);
    T_EQ_INT(d[2], attrs);
    /* device qualifier: a full-speed-only device stalls */
    T_EQ_INT(get_desc(s, 6, 0, 0, d, &n), PIPE);
    T_EQ_INT(get_desc(s, 3, 99, 0x0409, d, &n), PIPE);
    /* alt selection */
    T_OK(set_alt(s, (uint16_t)(nalts - 1)), e_);
    T_OK(ctrl(s, 0x81, 10, 0, 0, 1, d, &n), e_);
    T_EQ_INT(d[0], nalts - 1);
    T_EQ_INT(set_alt(s, (uint16_t)nalts), PIPE);
    T_EQ_INT(getstate(s), DFU_STATE_IDLE); /* standard stalls do not touch the DFU state */
    T_OK(ctrl(s, 0x80, 0, 0, 0, 2, d, &n), e_);
    T_EQ_INT(n, 2);
    T_OK(ctrl(s, 0x80, 8, 0, 0, 1, d, &n), e_);
    T_EQ_INT(d[0], 1);
    dfu_sim_free(s);
    return 0;
}

static int test_descriptors(void)
{
    if (check_profile_desc("stm32h753", 0x0200, "DFU in FS Mode", 2, 0x0B, 1024, 0x011A,
                           "@Internal Flash   /0x08000000/16*128Kg"))
        return 1;
    if (check_profile_desc("stm32f405", 0x2200, "STM32  BOOTLOADER", 4, 0x0B, 2048, 0x011A,
                           "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"))
        return 1;
    return check_profile_desc("dfu11", 0x0100, "DFU 1.1 test bootloader", 1, 0x07, 1024, 0x0110,
                              "Application");
}

static int test_alt_strings(void)
{
    static const char *f4[] = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
                               "@Option Bytes  /0x1FFFC000/01*016 e",
                               "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
                               "@Device Feature/0xFFFF0000/01*004 e"};
    dfu_sim *s = mk("stm32f405");
    dfu_sim *h = mk("stm32h753");
    uint8_t d[256];
    char str[128];
    size_t n;

    T_ASSERT(s != NULL && h != NULL);
    for (unsigned a = 0; a < 4; a++) {
        T_OK(get_desc(s, 3, (uint8_t)(4 + a), 0x0409, d, &n), e_);
        ascii(d, n, str);
        T_EQ_STR(str, f4[a]);
    }
    T_OK(get_desc(h, 3, 5, 0x0409, d, &n), e_);
    ascii(d, n, str);
    T_EQ_STR(str, "@Option Bytes   /0x5200201C/01*128 e");
    /* serial strings are stable and differ between profiles */
    struct dfu_devinfo a, b;
    T_OK(dfu_sim_devinfo(s, &a, &e_), e_);
    T_OK(dfu_sim_devinfo(h, &b, &e_), e_);
    T_ASSERT(strcmp(a.serial, b.serial) != 0);
    dfu_sim_free(s);
    s = mk("stm32f405");
    T_OK(dfu_sim_devinfo(s, &b, &e_), e_);
    T_EQ_STR(a.serial, b.serial);
    dfu_sim_free(s);
    dfu_sim_free(h);
    return 0;
}

/* AN3156 confirmation: DNLOAD -> GETSTATUS (dfuDNBUSY, starts the job) -> GETSTATUS. */
static int test_dfuse_confirmation(void)
{
    dfu_sim *s = mk("stm32f405");
    uint8_t b[5] = {0x21, 0x00, 0x40, 0x00, 0x20}, st[6], buf[64];
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(dnload(s, 0, b, 5), e_);
    T_EQ_INT(getstate(s), DFU_STATE_DNLOAD_SYNC);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    T_EQ_INT(poll_of(st), 100);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE);
    T_EQ_INT(st[0], 0);
    T_EQ_INT(poll_of(st), 0);
    /* the pointer was set: UPLOAD 2 reads 0x20004000 (RAM, zero) */
    T_OK(dfu_sim_write_mem(s, 0x20004000, (const uint8_t *)"abcd", 4, &e_), e_);
    T_OK(abort_req(s), e_);
    T_OK(upload(s, 2, buf, 4, &n), e_);
    T_EQ_MEM(buf, "abcd", 4);
    /* GET_COMMANDS */
    T_OK(abort_req(s), e_);
    T_OK(upload(s, 0, buf, 64, &n), e_);
    T_EQ_INT(n, 4);
    T_EQ_MEM(buf, "\x00\x21\x41\x92", 4);
    T_EQ_INT(getstate(s), DFU_STATE_IDLE);
    /* UPLOAD wValue 1 stalls */
    T_EQ_INT(upload(s, 1, buf, 64, &n), PIPE);
    T_OK(clrstatus(s), e_);
    /* bad addresses */
    T_EQ_INT(set_address(s, 0x30000000), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(erase_page(s, 0x20004000), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(erase_page(s, 0x08100000), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    /* SET_ADDRESS valid for system memory and option bytes */
    T_EQ_INT(set_address(s, 0x1FFF0000), 0);
    T_EQ_INT(set_address(s, 0x1FFFC000), 0);
    dfu_sim_free(s);
    return 0;
}

/* address = pointer + (wValue - 2) * wTransferSize; wValue 1 ignored. */
static int test_block_addressing(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t blk[1024], back[1024];

    T_ASSERT(s != NULL);
    memset(blk, 0x5A, sizeof blk);
    T_EQ_INT(set_address(s, 0x24040000), 0);
    T_EQ_INT(job(s, 3, blk, 1024, NULL), 0);
    T_OK(dfu_sim_read_mem(s, 0x24040400, back, 1024, &e_), e_);
    T_EQ_MEM(back, blk, 1024);
    T_OK(dfu_sim_read_mem(s, 0x24040000, back, 4, &e_), e_);
    T_EQ_INT(back[0], 0);
    /* wValue 1: accepted, nothing written */
    T_EQ_INT(job(s, 1, blk, 16, NULL), 0);
    T_OK(dfu_sim_read_mem(s, 0x24040000, back, 16, &e_), e_);
    T_EQ_INT(back[0], 0);
    /* the ROM's RAM is refused, system memory is read-only, region end overflow */
    T_EQ_INT(write_at(s, 0x24000000, blk, 16), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x20001000, blk, 16), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x1FF10000, blk, 16), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x2407FF00, blk, 1024), DFU_STATUS_ERR_ADDRESS);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x20004000, blk, 16), 0);
    dfu_sim_free(s);
    return 0;
}

static int test_bootloader_id(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t b[2];
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(read_at(s, 0x1FF1E7FE, b, 2, &n), e_);
    T_EQ_INT(n, 2);
    T_EQ_INT(b[0], 0x90);
    dfu_sim_free(s);
    s = mk("stm32h753,rom=0x92");
    T_OK(read_at(s, 0x1FF1E7FE, b, 2, &n), e_);
    T_EQ_INT(b[0], 0x92);
    dfu_sim_free(s);
    s = mk("stm32f405");
    T_OK(read_at(s, 0x1FFF77DE, b, 2, &n), e_);
    T_EQ_INT(b[0], 0x31);
    dfu_sim_free(s);
    T_ASSERT(mk("stm32h753,rom=0x100") == NULL);
    T_ASSERT(mk("stm32h753,bogus=1") == NULL);
    T_ASSERT(mk("nosuchchip") == NULL);
    return 0;
}

/* ROM version specifics of the H74x/75x (AN2606): RAM used by the ROM, bank-2 erase on V9.1. */
static int test_h7_rom_versions(void)
{
    uint8_t d[16] = {0}, st[6];
    dfu_sim *s = mk("stm32h753");

    T_ASSERT(s != NULL);
    T_EQ_INT(write_at(s, 0x24006000, d, 16), DFU_STATUS_ERR_TARGET); /* V9.0: 208 KiB */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x24034000, d, 16), 0);
    T_EQ_INT(erase_page(s, 0x08100000), 0);
    dfu_sim_free(s);
    s = mk("stm32h753,rom=0x91");
    T_EQ_INT(write_at(s, 0x24004000, d, 16), DFU_STATUS_ERR_TARGET); /* V9.1: 20 KiB */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x24005000, d, 16), 0);
    T_EQ_INT(erase_page(s, 0x080E0000), 0);    /* bank 1 fine */
    T_EQ_INT(erase_page(s, 0x08100000), -201); /* bank 2: still dfuDNBUSY afterwards */
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    T_OK(clrstatus(s), e_); /* the CubeProgrammer double CLRSTATUS */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(getstate(s), DFU_STATE_IDLE);
    dfu_sim_free(s);
    return 0;
}

/* Random EP0 traffic (fixed seed), mostly plausible DFU requests at interesting addresses:
 * every answer keeps to the transport contract and the DFU state stays a valid bState; run
 * under the sanitizers this also checks memory safety. */
static uint32_t rnd(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

static int test_random_requests(void)
{
    static const char *specs[] = {"stm32h753,faults=poll0", "stm32f405,faults=earlystall", "dfu11",
                                  "stm32h753,jump=branch,boot0=0,rom=0x91"};
    static const struct dfu_ctrl tpl[] = {
        {0x21, 1, 0, 0, 5},
        {0x21, 1, 2, 0, 64},
        {0xA1, 3, 0, 0, 6},
        {0xA1, 3, 0, 0, 6},
        {0xA1, 3, 0, 0, 6},
        {0x21, 4, 0, 0, 0},
        {0x21, 6, 0, 0, 0},
        {0xA1, 2, 2, 0, 64},
        {0xA1, 5, 0, 0, 1},
        {0x01, 11, 1, 0, 0},
        {0x80, 6, 0x0300, 0x0409, 255},
        {0x21, 1, 0, 0, 1},
        {0x21, 1, 3, 0, 0},
        {0x21, 0, 0, 0, 0},
        {0xC0, 1, 0, 0, 8},
    };
    static const uint32_t addrs[] = {0x08000000, 0x08020000, 0x08100000, 0x24040000,
                                     0x20000000, 0x1FFFC000, 0x5200201C, 0x1FF1E7FE,
                                     0xFFFF0000, 0x1FFF7800, 0x30000000, 0x08000001};
    static uint8_t data[4096];
    uint32_t seed = 12345;
    unsigned ok = 0, jobs = 0;

    for (unsigned k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        dfu_sim *s = mk(specs[k]);
        T_ASSERT(s != NULL);
        for (unsigned i = 0; i < 5000; i++) {
            struct dfu_ctrl c = tpl[rnd(&seed) % (sizeof tpl / sizeof tpl[0])];
            size_t n = 9999;
            uint32_t a = addrs[rnd(&seed) % (sizeof addrs / sizeof addrs[0])];
            if (rnd(&seed) % 8 == 0)
                c.wValue = (uint16_t)rnd(&seed);
            if (rnd(&seed) % 8 == 0)
                c.wLength = (uint16_t)(rnd(&seed) % 4097);
            if (c.bRequest == 11)
                c.wValue = (uint16_t)(rnd(&seed) % 5);
            memset(data, (int)(rnd(&seed) & 0xFF), sizeof data);
            data[0] = rnd(&seed) % 2 ? 0x21 : (rnd(&seed) % 2 ? 0x41 : 0x92);
            data[1] = (uint8_t)a;
            data[2] = (uint8_t)(a >> 8);
            data[3] = (uint8_t)(a >> 16);
            data[4] = (uint8_t)(a >> 24);
            int rc = dfu_sim_control(s, &c, data, &n, rnd(&seed) % 4 ? 5000 : 50, &e_);
            if (rc != 0 && rc != DFU_E_PIPE && rc != DFU_E_TIMEOUT && rc != DFU_E_NO_DEVICE)
                T_FAIL_("request %u: rc %d", i, rc);
            ok += rc == 0;
            T_ASSERT(n <= c.wLength);
            T_ASSERT(rc == 0 || n == 0);
            T_ASSERT(dfu_sim_dfu_state(s) <= DFU_STATE_ERROR);
            if (dfu_sim_mode(s) != DFU_SIM_ROM) {
                dfu_sim_advance(s, 60000000);
                if (dfu_sim_mode(s) != DFU_SIM_ROM) {
                    jobs += count_events(s, "\"ev\":\"erase\"");
                    jobs += count_events(s, "\"ev\":\"program\"");
                    dfu_sim_free(s);
                    s = mk(specs[k]);
                    T_ASSERT(s != NULL);
                }
            }
        }
        jobs += count_events(s, "\"ev\":\"erase\"") + count_events(s, "\"ev\":\"program\"");
        dfu_sim_free(s);
    }
    T_ASSERT(ok > 5000); /* most of the traffic was served, not stalled */
    T_ASSERT(jobs > 50); /* and erased or programmed now and then */
    return 0;
}

static const struct t_case cases[] = {
    {"random_requests", test_random_requests},
    {"h7_rom_versions", test_h7_rom_versions},
    {"state_table", test_state_table},
    {"clrstatus_twice", test_clrstatus_twice},
    {"manifest_leaves", test_manifest_leaves},
    {"plain_state_machine", test_plain_state_machine},
    {"descriptors", test_descriptors},
    {"alt_strings", test_alt_strings},
    {"dfuse_confirmation", test_dfuse_confirmation},
    {"block_addressing", test_block_addressing},
    {"bootloader_id", test_bootloader_id},
    {NULL, NULL},
};
T_MAIN(cases)
