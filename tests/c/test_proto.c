/*
 * The protocol core against the simulator (stm32h753, stm32f405 at x8 and x32): DfuSe
 * command confirmation, streamed write + read-back, poll policies on the virtual clock,
 * fallback from stalled early polls, recovery to dfuIDLE, leave, opening by device string.
 * Prints the 256 KiB write table (virtual time, transfers, physical limit).
 */
#include <stdlib.h>
#include <unistd.h>

#include "dfu/device.h"
#include "dfu/sim.h"
#include "internal.h"
#include "t.h"

#define FLASH 0x08000000u
#define KIB 1024u

/* ---- a recording proxy in front of the simulator transport ---- */

struct proxy {
    struct dfu_transport t;
    struct dfu_transport *in;
    dfu_sim *sim;
    unsigned count[8]; /* DFU class requests by bRequest */
    unsigned setaddr;  /* DfuSe SET_ADDRESS commands */
    unsigned stalls;
    uint8_t last_state; /* last bState the host saw */
    unsigned bad_clrstatus;
    uint32_t last_setaddr;
};

static int px_control(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data,
                      size_t *len, unsigned timeout_ms, struct dfu_err *err)
{
    struct proxy *p = (struct proxy *)t;
    int rc;

    if ((req->bmRequestType & 0x7F) == 0x21 && req->bRequest < 8) {
        p->count[req->bRequest]++;
        if (req->bRequest == DFUI_REQ_DNLOAD && req->wValue == 0 && req->wLength == 5 &&
            data[0] == 0x21) {
            p->setaddr++;
            p->last_setaddr = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                              (uint32_t)data[4] << 24;
        }
        if (req->bRequest == DFUI_REQ_CLRSTATUS && p->last_state != DFU_STATE_ERROR)
            p->bad_clrstatus++;
    }
    rc = p->in->ops->control(p->in, req, data, len, timeout_ms, err);
    if (rc == DFU_E_PIPE)
        p->stalls++;
    if (rc == 0 && req->bmRequestType == 0xA1 && req->bRequest == DFUI_REQ_GETSTATUS && *len >= 6)
        p->last_state = data[4];
    if (rc == 0 && req->bmRequestType == 0xA1 && req->bRequest == DFUI_REQ_GETSTATE && *len >= 1)
        p->last_state = data[0];
    return rc;
}

static int px_claim(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err)
{
    struct proxy *p = (struct proxy *)t;

    return p->in->ops->claim(p->in, intf, alt, err);
}

static void px_close(struct dfu_transport *t)
{
    struct proxy *p = (struct proxy *)t;

    p->in->ops->close(p->in);
    free(p);
}

static uint64_t px_now(struct dfu_transport *t)
{
    return dfu_transport_now_us(((struct proxy *)t)->in);
}

static void px_sleep(struct dfu_transport *t, uint64_t us)
{
    dfu_transport_sleep_us(((struct proxy *)t)->in, us);
}

static int px_wait(struct dfu_transport *t, unsigned timeout_ms, struct dfu_err *err)
{
    return dfu_transport_wait_reenumerate(((struct proxy *)t)->in, timeout_ms, err);
}

static const struct dfu_transport_ops px_ops = {
    .version = DFU_TRANSPORT_OPS_VERSION,
    .name = "proxy",
    .control = px_control,
    .claim = px_claim,
    .close = px_close,
    .now_us = px_now,
    .sleep_us = px_sleep,
    .wait_reenumerate = px_wait,
};

static dfu_dev *open_sim(const char *spec, struct proxy **out)
{
    struct dfu_devinfo info;
    struct dfu_transport *in = NULL;
    struct proxy *p;
    dfu_sim *sim = NULL;
    dfu_dev *d = NULL;
    struct dfu_err e;

    dfu_err_clear(&e);
    if (dfu_sim_new(spec, &sim, &e) != 0 || dfu_sim_devinfo(sim, &info, &e) != 0 ||
        dfu_sim_transport(sim, 1, &in, &e) != 0) {
        fprintf(stderr, "sim %s: %s\n", spec, e.msg);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    p->t.ops = &px_ops;
    p->in = in;
    p->sim = sim;
    p->last_state = 0xFF;
    if (dfu_dev_open(&p->t, &info, &d, &e) != 0) {
        fprintf(stderr, "open %s: %s\n", spec, e.msg);
        return NULL;
    }
    *out = p;
    return d;
}

static void px_reset(struct proxy *p)
{
    memset(p->count, 0, sizeof p->count);
    p->setaddr = 0;
    p->stalls = 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 7;

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static const char *const profiles[] = {"stm32h753", "stm32f405"};

/* ---- command confirmation ---- */

static int test_command_confirmation(void)
{
    for (size_t i = 0; i < 2; i++) {
        struct proxy *p;
        dfu_dev *d = open_sim(profiles[i], &p);
        struct dfu_status st;
        struct dfu_err e;
        uint8_t cmds[16];
        size_t n = 0;

        T_ASSERT(d != NULL);
        dfu_err_clear(&e);
        T_EQ_INT(dfu_dev_poll(d), DFU_POLL_EARLY); /* ST ROM default */
        T_EQ_INT(dfu_dev_is_dfuse(d), 1);
        px_reset(p);
        T_OK(dfuse_set_address(d, FLASH + 0x100, &e), e);
        /* DNLOAD(0, 21 xx xx xx xx), GETSTATUS -> dfuDNBUSY, GETSTATUS -> dfuDNLOAD-IDLE */
        T_EQ_INT(p->count[DFUI_REQ_DNLOAD], 1);
        T_EQ_INT(p->count[DFUI_REQ_GETSTATUS], 2);
        T_EQ_INT(p->last_setaddr, FLASH + 0x100);
        T_EQ_INT(p->last_state, DFU_STATE_DNLOAD_IDLE);
        T_OK(dfu_getstatus(d, &st, &e), e);
        T_EQ_INT(st.state, DFU_STATE_DNLOAD_IDLE);
        T_EQ_INT(st.status, DFU_STATUS_OK);

        /* a bad address: errTARGET with the address and a readable message */
        T_EQ_INT(dfuse_erase_page(d, 0x00000000, &e), DFU_E_STATUS);
        T_EQ_INT(e.dfu_state, DFU_STATE_ERROR);
        T_EQ_INT(e.has_addr, 1);
        T_EQ_INT(e.addr, 0);
        T_ASSERT(strncmp(e.msg, "erase 0x00000000: device reported err", 37) == 0);
        /* recovery on the next command: one CLRSTATUS, sent in dfuERROR */
        px_reset(p);
        T_OK(dfuse_get_commands(d, cmds, sizeof cmds, &n, &e), e);
        T_EQ_INT(p->count[DFUI_REQ_CLRSTATUS], 1);
        T_EQ_INT(p->bad_clrstatus, 0);
        T_ASSERT(n >= 3);
        T_EQ_INT(cmds[0], 0x00);
        T_EQ_INT(cmds[1], 0x21);
        T_EQ_INT(cmds[2], 0x41);
        dfu_dev_close(d);
    }
    return 0;
}

/* An injected errERASE: DFU_E_STATUS with status, state and address. */
static int test_erase_fault(void)
{
    struct proxy *p;
    dfu_dev *d = open_sim("stm32f405,faults=errERASE:ERASE:2", &p);
    struct dfu_err e;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    T_OK(dfuse_erase_page(d, 0x08000000, &e), e);
    T_EQ_INT(dfuse_erase_page(d, 0x08004000, &e), DFU_E_STATUS);
    T_EQ_STR(e.msg, "erase 0x08004000: device reported errERASE (dfuERROR)");
    T_EQ_INT(e.dfu_status, DFU_STATUS_ERR_ERASE);
    T_EQ_INT(e.dfu_state, DFU_STATE_ERROR);
    T_EQ_INT(e.addr, 0x08004000);
    T_OK(dfuse_erase_page(d, 0x08004000, &e), e);
    T_EQ_INT(p->bad_clrstatus, 0);
    dfu_dev_close(d);
    return 0;
}

/* ---- 256 KiB write + read-back, timing table ---- */

struct phys {
    const char *label;
    const char *spec;
    int x32;
    uint32_t erase_us_16k, erase_us_64k, erase_us_128k; /* design.md 5, busy time */
    unsigned unit;                                      /* bytes per program operation */
    unsigned prog_us;
};

static const struct phys phys[] = {
    {"stm32h753", "stm32h753", 0, 0, 0, 1100000, 32, 16},
    {"stm32f405 x8", "stm32f405", 0, 400000, 1200000, 2000000, 1, 16},
    {"stm32f405 x32", "stm32f405", 1, 250000, 550000, 1000000, 4, 16},
};

static uint32_t erase_us(const struct phys *ph, uint32_t size)
{
    return size == 16 * KIB   ? ph->erase_us_16k
           : size == 64 * KIB ? ph->erase_us_64k
                              : ph->erase_us_128k;
}

struct result {
    double seconds, limit;
    uint64_t transfers;
    unsigned erases;
};

/* @naive: the dfu-util strategy for comparison (SET_ADDRESS before every block). */
static int roundtrip(const struct phys *ph, enum dfu_poll_policy poll, int naive, struct result *r)
{
    const size_t len = 256 * KIB;
    size_t chunk = 16 * KIB;
    uint8_t *data = malloc(len), *back = malloc(len), *mem = malloc(len);
    const struct dfu_alt *alts;
    struct proxy *p;
    dfu_dev *d = open_sim(ph->spec, &p);
    struct dfu_err e;
    uint64_t t0, n0, limit_us;
    size_t nalts = 0;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    dfu_dev_set_poll(d, poll);
    fill(data, len, 42);
    if (ph->x32) {
        /* Device Feature byte 0 = 0x03: 2.7-3.6 V, x32 parallelism */
        static const uint8_t feat[4] = {0x03, 0xFF, 0xFF, 0xFF};
        uint8_t rb[4];

        alts = dfu_dev_alts(d, &nalts);
        T_ASSERT(nalts >= 4);
        T_EQ_STR(alts[3].layout.name, "Device Feature");
        T_OK(dfu_dev_set_alt(d, 3, &e), e);
        T_OK(dfuse_write(d, 0xFFFF0000, feat, sizeof feat, NULL, &e), e);
        T_OK(dfu_sim_read_mem(p->sim, 0xFFFF0000, rb, sizeof rb, &e), e);
        T_EQ_INT(rb[0], 0x03);
        T_OK(dfu_dev_set_alt(d, 0, &e), e);
    }
    alts = dfu_dev_alts(d, &nalts);
    T_ASSERT(alts[0].has_layout);
    px_reset(p);
    t0 = dfu_dev_now_us(d);
    n0 = dfu_dev_transfers(d);
    limit_us = len; /* 1 us per byte on the wire */
    r->erases = 0;
    for (uint32_t a = FLASH; a < FLASH + len;) {
        uint32_t start = 0, size = 0;
        uint8_t type = 0;

        T_EQ_INT(dfu_layout_find(&alts[0].layout, a, &start, &size, &type), 0);
        T_ASSERT(type & DFU_MEM_ERASABLE);
        T_OK(dfuse_erase_page(d, start, &e), e);
        limit_us += erase_us(ph, size);
        r->erases++;
        a = start + size;
    }
    limit_us += (uint64_t)len / ph->unit * ph->prog_us;
    px_reset(p);
    /* streamed in 16 KiB calls: one run, one SET_ADDRESS */
    if (naive)
        chunk = dfu_dev_info(d)->transfer_size;
    for (size_t off = 0; off < len; off += chunk) {
        if (naive)
            dfuse_stream_reset(d);
        T_OK(dfuse_write(d, FLASH + (uint32_t)off, data + off, chunk, NULL, &e), e);
    }
    T_EQ_INT(p->setaddr, naive ? len / chunk : 1);
    T_EQ_INT(p->count[DFUI_REQ_DNLOAD], p->setaddr + len / dfu_dev_info(d)->transfer_size);
    T_EQ_INT(p->count[DFUI_REQ_CLRSTATUS], 0);
    T_EQ_INT(p->stalls, 0);
    r->seconds = (double)(dfu_dev_now_us(d) - t0) / 1e6;
    r->transfers = dfu_dev_transfers(d) - n0;
    r->limit = (double)limit_us / 1e6;

    /* read back in four calls: one run */
    px_reset(p);
    for (size_t off = 0; off < len; off += len / 4)
        T_OK(dfuse_read(d, FLASH + (uint32_t)off, back + off, len / 4, NULL, &e), e);
    T_EQ_INT(p->setaddr, 1);
    T_EQ_INT(p->count[DFUI_REQ_ABORT], 1);
    T_EQ_MEM(back, data, len);
    T_OK(dfu_sim_read_mem(p->sim, FLASH, mem, len, &e), e);
    T_EQ_MEM(mem, data, len);
    /* the sector after the image is untouched (erased state) */
    T_OK(dfuse_read(d, FLASH + (uint32_t)len, back, 64, NULL, &e), e);
    for (size_t i = 0; i < 64; i++)
        T_EQ_INT(back[i], 0xFF);
    /* and back to writing: ABORT out of dfuUPLOAD-IDLE first */
    T_OK(dfuse_set_address(d, FLASH, &e), e);
    T_EQ_INT(p->stalls, 0);
    T_EQ_INT(p->bad_clrstatus, 0);
    dfu_dev_close(d);
    free(data);
    free(back);
    free(mem);
    return 0;
}

static int test_roundtrip_256k(void)
{
    printf("# 256 KiB to freshly erased flash (erase touched sectors + streamed write)\n");
    printf("# %-14s %-6s %9s %9s %10s %7s\n", "profile", "poll", "virtual s", "limit s",
           "transfers", "erases");
    for (size_t i = 0; i < sizeof phys / sizeof phys[0]; i++) {
        struct result early, spec, naive;

        if (roundtrip(&phys[i], DFU_POLL_EARLY, 0, &early) != 0)
            return 1;
        if (roundtrip(&phys[i], DFU_POLL_SPEC, 0, &spec) != 0)
            return 1;
        if (roundtrip(&phys[i], DFU_POLL_SPEC, 1, &naive) != 0)
            return 1;
        printf("# %-14s %-6s %9.3f %9.3f %10llu %7u\n", phys[i].label, "early", early.seconds,
               early.limit, (unsigned long long)early.transfers, early.erases);
        printf("# %-14s %-6s %9.3f %9.3f %10llu %7u\n", phys[i].label, "spec", spec.seconds,
               spec.limit, (unsigned long long)spec.transfers, spec.erases);
        printf("# %-14s %-6s %9.3f %9.3f %10llu %7u  (SET_ADDRESS per block, as dfu-util)\n",
               phys[i].label, "spec", naive.seconds, naive.limit,
               (unsigned long long)naive.transfers, naive.erases);
        /* nothing beats the physics; early polling is not slower than spec polling and stays
         * within the per-transfer USB overhead of the limit */
        T_ASSERT(early.seconds >= early.limit);
        T_ASSERT(early.seconds <= spec.seconds);
        T_ASSERT(early.seconds <= early.limit + (double)early.transfers * 0.0011);
        T_EQ_INT(early.transfers, spec.transfers);
        T_ASSERT(spec.seconds < naive.seconds);
    }
    return 0;
}

/* ---- poll policy fallback, lying devices ---- */

/* STM32L4-like: too short a bwPollTimeout and a STALL when polled early. */
static int test_earlystall(void)
{
    const size_t len = 8 * KIB;
    uint8_t data[8 * KIB], back[8 * KIB];
    struct proxy *p;
    dfu_dev *d = open_sim("stm32f405,faults=earlystall", &p);
    struct dfu_err e;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    fill(data, len, 9);
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_EARLY);
    T_OK(dfuse_erase_page(d, FLASH, &e), e);
    T_ASSERT(p->stalls >= 1);
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_SPEC); /* fell back */
    T_OK(dfuse_write(d, FLASH, data, len, NULL, &e), e);
    T_OK(dfuse_read(d, FLASH, back, len, NULL, &e), e);
    T_EQ_MEM(back, data, len);
    T_EQ_INT(p->bad_clrstatus, 0);
    dfu_dev_close(d);
    return 0;
}

/* STM32L476 profile: its page erases report too short a bwPollTimeout and stall early polls,
 * its SET_ADDRESS and data blocks do not. The host falls back for erases only, learns when an
 * erase ends (no more stalls after a few) and still polls a SET_ADDRESS at once. */
static int test_poll_kinds(void)
{
    uint8_t data[2048];
    struct proxy *p;
    dfu_dev *d = open_sim("stm32l476", &p);
    struct dfu_err e;
    unsigned stalls;
    uint64_t t0;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    for (uint32_t i = 0; i < 10; i++)
        T_OK(dfuse_erase_page(d, FLASH + i * 2048u, &e), e);
    stalls = p->stalls;
    T_ASSERT(stalls >= 1);
    for (uint32_t i = 10; i < 20; i++)
        T_OK(dfuse_erase_page(d, FLASH + i * 2048u, &e), e);
    T_EQ_INT(p->stalls, stalls); /* learned: each erase polled once, when it has ended */
    t0 = dfu_dev_now_us(d);
    T_OK(dfuse_set_address(d, FLASH, &e), e);
    T_ASSERT(dfu_dev_now_us(d) - t0 < 10000u); /* not its 100 ms bwPollTimeout */
    fill(data, sizeof data, 12);
    T_OK(dfuse_write(d, FLASH, data, sizeof data, NULL, &e), e);
    T_EQ_INT(p->stalls, stalls);
    dfu_dev_close(d);
    return 0;
}

/* bwPollTimeout 0 (Black Magic style) and the F405 mass-erase lie. */
static int test_lying_devices(void)
{
    struct dfu_err e;

    dfu_err_clear(&e);
    for (int early = 0; early < 2; early++) {
        struct proxy *p;
        dfu_dev *d = open_sim("stm32f405,faults=poll0", &p);
        uint8_t data[4096];

        T_ASSERT(d != NULL);
        dfu_dev_set_poll(d, early ? DFU_POLL_EARLY : DFU_POLL_SPEC);
        fill(data, sizeof data, 11);
        T_OK(dfuse_erase_page(d, FLASH, &e), e);
        T_OK(dfuse_write(d, FLASH, data, sizeof data, NULL, &e), e);
        dfu_dev_close(d);
    }
    for (int early = 0; early < 2; early++) {
        struct proxy *p;
        dfu_dev *d = open_sim("stm32f405,faults=slowmasserase", &p);
        uint64_t t0;

        T_ASSERT(d != NULL);
        dfu_dev_set_poll(d, early ? DFU_POLL_EARLY : DFU_POLL_SPEC);
        t0 = dfu_dev_now_us(d);
        T_OK(dfuse_mass_erase(d, &e), e);
        T_ASSERT(dfu_dev_now_us(d) - t0 > 10000000u);
        T_ASSERT(dfu_dev_now_us(d) - t0 < (uint64_t)DFUSE_CEIL_MASS_ERASE_MS * 1000u);
        dfu_dev_close(d);
    }
    {
        /* stays dfuDNBUSY: stopped at the ceiling */
        struct proxy *p;
        dfu_dev *d = open_sim("stm32h753,faults=busy:DNLOAD:1", &p);
        uint64_t t0;

        T_ASSERT(d != NULL);
        t0 = dfu_dev_now_us(d);
        T_EQ_INT(dfuse_set_address(d, FLASH, &e), DFU_E_TIMEOUT);
        T_ASSERT(dfu_dev_now_us(d) - t0 >= (uint64_t)DFUSE_CEIL_SET_ADDRESS_MS * 1000u);
        T_ASSERT(dfu_dev_now_us(d) - t0 <
                 (uint64_t)(DFUSE_CEIL_SET_ADDRESS_MS + DFUI_HOLD_MARGIN_MS) * 1000u + 500000u);
        dfu_dev_close(d);
    }
    return 0;
}

/* ---- recovery to dfuIDLE from each state ---- */

static int reach(dfu_dev *d, uint8_t state, struct dfu_err *e)
{
    static const uint8_t setaddr[5] = {0x21, 0x00, 0x00, 0x00, 0x08};
    struct dfu_status st;
    uint8_t buf[64];
    size_t got;

    switch (state) {
    case DFU_STATE_IDLE:
        return 0;
    case DFU_STATE_DNLOAD_SYNC:
        return dfu_dnload(d, 0, setaddr, sizeof setaddr, e);
    case DFU_STATE_DNBUSY: /* an erase in progress */
        if (dfu_dnload(d, 0, (const uint8_t *)"\x41\x00\x00\x00\x08", 5, e) != 0)
            return -1;
        return dfu_getstatus(d, &st, e);
    case DFU_STATE_DNLOAD_IDLE:
        return dfuse_set_address(d, FLASH, e);
    case DFU_STATE_UPLOAD_IDLE:
        if (dfuse_set_address(d, FLASH, e) != 0 || dfu_abort(d, e) != 0)
            return -1;
        return dfu_upload(d, 2, buf, sizeof buf, &got, e);
    case DFU_STATE_MANIFEST_SYNC: /* a zero-length DNLOAD not yet confirmed (a leave) */
        if (dfuse_set_address(d, FLASH, e) != 0)
            return -1;
        return dfu_dnload(d, 2, NULL, 0, e);
    case DFU_STATE_ERROR: /* wBlockNum 1 is reserved: the ROM stalls it */
        dfu_upload(d, 1, buf, sizeof buf, &got, e);
        return 0;
    default:
        return -1;
    }
}

static int test_abort_to_idle(void)
{
    static const uint8_t states[] = {
        DFU_STATE_IDLE,        DFU_STATE_DNLOAD_SYNC, DFU_STATE_DNBUSY,       DFU_STATE_DNLOAD_IDLE,
        DFU_STATE_UPLOAD_IDLE, DFU_STATE_ERROR,       DFU_STATE_MANIFEST_SYNC};

    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < sizeof states; k++) {
            struct proxy *p;
            dfu_dev *d = open_sim(profiles[i], &p);
            struct dfu_status st;
            struct dfu_err e;
            uint8_t state = 0xFF;

            T_ASSERT(d != NULL);
            dfu_err_clear(&e);
            if (reach(d, states[k], &e) != 0)
                T_FAIL_("%s: cannot reach %s: %s", profiles[i], dfu_state_name(states[k]), e.msg);
            T_OK(dfu_getstate(d, &state, &e), e);
            if (states[k] == DFU_STATE_DNBUSY) /* GETSTATE is held until the job ends */
                T_ASSERT(state == DFU_STATE_DNLOAD_SYNC || state == DFU_STATE_DNLOAD_IDLE ||
                         state == DFU_STATE_DNBUSY);
            else
                T_EQ_INT(state, states[k]);
            px_reset(p);
            T_OK(dfu_abort_to_idle(d, &e), e);
            T_OK(dfu_getstatus(d, &st, &e), e);
            T_EQ_INT(st.state, DFU_STATE_IDLE);
            T_EQ_INT(st.status, DFU_STATUS_OK);
            T_EQ_INT(p->count[DFUI_REQ_CLRSTATUS], states[k] == DFU_STATE_ERROR ? 1 : 0);
            T_EQ_INT(p->bad_clrstatus, 0);
            /* still in the ROM: a GETSTATUS in dfuMANIFEST-SYNC would have been a leave */
            T_EQ_INT(dfu_sim_mode(p->sim), DFU_SIM_ROM);
            dfu_dev_close(d);
        }
    }
    return 0;
}

/* ---- leave ---- */

static int test_leave(void)
{
    static const uint8_t vec[8] = {0x00, 0x00, 0x02, 0x20, 0x01, 0x01, 0x00, 0x08};
    struct proxy *p;
    dfu_dev *d = open_sim("stm32f405,boot0=1", &p);
    struct dfu_status st;
    struct dfu_err e;
    uint8_t code[256];
    int answered = -1;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    memset(code, 0x00, sizeof code);
    memcpy(code, vec, sizeof vec);
    T_OK(dfuse_erase_page(d, FLASH, &e), e);
    T_OK(dfuse_write(d, FLASH, code, sizeof code, NULL, &e), e);
    px_reset(p);
    T_OK(dfuse_leave(d, FLASH, &st, &answered, &e), e);
    T_EQ_INT(p->setaddr, 1);
    T_EQ_INT(p->last_setaddr, FLASH);
    T_EQ_INT(p->count[DFUI_REQ_DETACH], 0);
    /* SET_ADDRESS's two, then exactly one after the zero-length DNLOAD */
    T_EQ_INT(p->count[DFUI_REQ_GETSTATUS], 3);
    T_EQ_INT(p->count[DFUI_REQ_DNLOAD], 2);
    if (answered)
        T_EQ_INT(st.state, DFU_STATE_MANIFEST);
    T_ASSERT(dfu_sim_mode(p->sim) != DFU_SIM_ROM || dfu_sim_reenumerate_at(p->sim) != 0);
    dfu_dev_close(d);
    return 0;
}

/* ---- opening by device string ---- */

static int found_cb(void *ud, const struct dfu_devinfo *info)
{
    int *n = ud;

    (*n)++;
    return info->vid == 0x0483 ? 0 : -1;
}

static int test_open_strings(void)
{
    struct dfu_devspec spec;
    struct dfu_err e;
    dfu_dev *d = NULL;
    int n = 0;

    dfu_err_clear(&e);
    T_OK(dfu_open("sim:stm32f405,alt=Device Feature", &d, &e), e);
    T_EQ_INT(dfu_dev_alt(d), 3);
    T_EQ_STR(dfu_dev_info(d)->alt_name, "@Device Feature/0xFFFF0000/01*004 e");
    T_OK(dfu_dev_set_alt(d, 1, &e), e);
    T_EQ_INT(dfu_dev_alt(d), 1);
    T_ASSERT(strncmp(dfu_dev_info(d)->alt_name, "@Option Bytes", 13) == 0);
    dfu_dev_close(d);

    T_OK(dfu_open("sim:stm32h753,alt=1", &d, &e), e);
    T_EQ_INT(dfu_dev_alt(d), 1);
    T_EQ_INT(dfu_dev_info(d)->transfer_size, 1024);
    T_EQ_INT(dfu_dev_info(d)->bcd_dfu, 0x011A);
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_EARLY);
    {
        size_t na = 0;
        const struct dfu_alt *a = dfu_dev_alts(d, &na);

        T_EQ_INT(na, 2);
        T_EQ_STR(a[0].layout.name, "Internal Flash");
        T_EQ_INT(a[0].layout.runs[0].count, 16);
        T_EQ_INT(a[1].layout.runs[0].addr, 0x5200201C);
    }
    dfu_dev_close(d);

    /* the device is there and alt= names none of its alts: bad input, as an unknown --alt */
    T_EQ_INT(dfu_open("sim:stm32h753,alt=7", &d, &e), DFU_E_INVALID);
    T_ASSERT(d == NULL);
    T_ASSERT(strstr(e.msg, "Internal Flash") != NULL);
    T_EQ_INT(dfu_open("sim:stm32h753,alt=Nope", &d, &e), DFU_E_INVALID);
    T_EQ_INT(dfu_open("sim:nosuchchip", &d, &e), DFU_E_INVALID);
    T_ASSERT(d == NULL);
    T_EQ_INT(dfu_open("sim:stm32h753,colour=red", &d, &e), DFU_E_INVALID);
    T_ASSERT(strstr(e.msg, "colour") != NULL);

    T_OK(dfu_devspec_parse("sim:stm32h753", &spec, &e), e);
    T_OK(dfu_list(&spec, found_cb, &n, &e), e);
    T_EQ_INT(n, 1);
    return 0;
}

/* Opening through the registry: the simulator made while enumerating is the one opened (one
 * power-on in its event log), alt= follows dfu_alt_match, a DFU-mode device needs no detach. */
static int test_open_registry(void)
{
    char events[] = "/tmp/dfush-open-XXXXXX", s[64], line[512];
    struct dfu_err e;
    dfu_dev *d = NULL, *same;
    int fd = mkstemp(events), power_on = 0;
    FILE *f;

    T_ASSERT(fd >= 0);
    close(fd);
    dfu_err_clear(&e);
    snprintf(s, sizeof s, "sim:stm32f405,events=%s,alt=OPT", events);
    T_OK(dfu_open(s, &d, &e), e);
    T_EQ_INT(dfu_dev_alt(d), 1);
    same = d;
    T_OK(dfu_dev_detach_and_reopen(&d, 100, &e), e);
    T_ASSERT(d == same);
    dfu_dev_close(d);
    f = fopen(events, "r");
    T_ASSERT(f != NULL);
    while (fgets(line, sizeof line, f) != NULL)
        power_on += strstr(line, "power_on") != NULL;
    fclose(f);
    remove(events);
    T_EQ_INT(power_on, 1);

    T_EQ_INT(dfu_open("sim:stm32f405,alt=o", &d, &e), DFU_E_INVALID);
    T_ASSERT(strstr(e.msg, "@OTP Memory /0x1FFF7800/01*512 e,01*016 e") != NULL);
    T_ASSERT(d == NULL);

    /* a run-time device (sim runtime=1): DETACH, bus reset, the same simulator in DFU mode */
    T_OK(dfu_open("sim:dfu11,runtime=1", &d, &e), e);
    T_EQ_INT(dfu_dev_info(d)->protocol, 1);
    T_OK(dfu_dev_detach_and_reopen(&d, 1000, &e), e);
    T_ASSERT(d != NULL);
    T_EQ_INT(dfu_dev_info(d)->protocol, 2);
    T_EQ_INT(dfu_sim_dfu_state(dfu_sim_from_transport(dfu_dev_transport(d))), DFU_STATE_IDLE);
    dfu_dev_close(d);
    return 0;
}

/* ---- plain DFU 1.1 (dfu11 profile: manifestation tolerant) ---- */

static int test_plain_dfu11(void)
{
    const size_t len = 10000;
    uint8_t data[10000], mem[10000];
    uint8_t *back = malloc(128 * KIB);
    struct proxy *p;
    dfu_dev *d = open_sim("dfu11", &p);
    struct dfu_status st;
    struct dfu_err e;
    size_t got = 0;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    T_EQ_INT(dfu_dev_is_dfuse(d), 0);
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_SPEC); /* not an ST ROM */
    fill(data, len, 21);
    px_reset(p);
    T_OK(dfu_download(d, data, len, NULL, &e), e);
    /* 10 data blocks (0..9) and the zero-length block 10 */
    T_EQ_INT(p->count[DFUI_REQ_DNLOAD], 11);
    T_EQ_INT(p->count[DFUI_REQ_CLRSTATUS], 0);
    T_OK(dfu_getstatus(d, &st, &e), e);
    T_EQ_INT(st.state, DFU_STATE_IDLE);
    T_OK(dfu_sim_read_mem(p->sim, 0x08004000, mem, len, &e), e);
    T_EQ_MEM(mem, data, len);
    T_OK(dfu_upload_all(d, back, 128 * KIB, &got, NULL, &e), e);
    T_ASSERT(got >= len);
    T_EQ_MEM(back, data, len);
    T_OK(dfu_getstatus(d, &st, &e), e);
    T_EQ_INT(st.state, DFU_STATE_IDLE);
    T_EQ_INT(p->stalls, 0);
    dfu_dev_close(d);
    free(back);
    return 0;
}

/* ---- read unprotect: dfuDNBUSY, then the device erases, resets and comes back ---- */

static int test_read_unprotect(void)
{
    struct proxy *p;
    dfu_dev *d = open_sim("stm32f405,faults=rdp1", &p);
    uint8_t buf[16];
    struct dfu_err e;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    /* plain DFU transfers are refused on a DfuSe device before anything is sent */
    px_reset(p);
    T_EQ_INT(dfu_download(d, buf, sizeof buf, NULL, &e), DFU_E_NOT_SUPPORTED);
    T_EQ_INT(p->count[DFUI_REQ_DNLOAD] + p->count[DFUI_REQ_GETSTATUS], 0);
    /* protected: reading flash fails with errVENDOR (or a stall) */
    T_ASSERT(dfuse_read(d, FLASH, buf, sizeof buf, NULL, &e) != 0);
    px_reset(p);
    T_OK(dfuse_read_unprotect(d, &e), e);
    T_EQ_INT(p->count[DFUI_REQ_DNLOAD], 1);
    T_EQ_INT(p->last_state, DFU_STATE_DNBUSY);
    /* the device erases everything, resets and enumerates again */
    T_OK(dfu_transport_wait_reenumerate(dfu_dev_transport(d), 60000, &e), e);
    T_OK(dfuse_read(d, FLASH, buf, sizeof buf, NULL, &e), e);
    for (size_t i = 0; i < sizeof buf; i++)
        T_EQ_INT(buf[i], 0xFF);
    dfu_dev_close(d);
    return 0;
}

/* ---- one IO log line per control transfer ---- */

struct logcount {
    unsigned io, other;
    char last[128];
};

static void count_log(void *ud, int level, const char *msg)
{
    struct logcount *c = ud;

    if (level == DFU_LOG_IO)
        c->io++;
    else
        c->other++;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

static int test_io_log(void)
{
    struct logcount c = {0, 0, ""};
    struct dfu_log log = {count_log, &c, DFU_LOG_IO};
    struct proxy *p;
    dfu_dev *d = open_sim("stm32h753", &p);
    uint8_t data[4096];
    struct dfu_err e;
    uint64_t n0;

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    fill(data, sizeof data, 5);
    dfu_dev_set_log(d, &log);
    n0 = dfu_dev_transfers(d);
    px_reset(p);
    T_OK(dfuse_write(d, FLASH, data, sizeof data, NULL, &e), e);
    /* one line per transfer (GETSTATUS lines carry the decoded status) */
    T_EQ_INT(c.io, dfu_dev_transfers(d) - n0);
    T_ASSERT(strstr(c.last, "GETSTATUS -> OK dfuDNLOAD-IDLE") != NULL);
    /* at INFO, nothing per transfer */
    log.level = DFU_LOG_INFO;
    dfu_dev_set_log(d, &log);
    c.io = 0;
    T_OK(dfuse_read(d, FLASH, data, sizeof data, NULL, &e), e);
    T_EQ_INT(c.io, 0);
    dfu_dev_close(d);
    return 0;
}

static const struct t_case cases[] = {
    {"command_confirmation", test_command_confirmation},
    {"erase_fault", test_erase_fault},
    {"roundtrip_256k", test_roundtrip_256k},
    {"earlystall", test_earlystall},
    {"poll_kinds", test_poll_kinds},
    {"lying_devices", test_lying_devices},
    {"abort_to_idle", test_abort_to_idle},
    {"leave", test_leave},
    {"open_strings", test_open_strings},
    {"open_registry", test_open_registry},
    {"plain_dfu11", test_plain_dfu11},
    {"read_unprotect", test_read_unprotect},
    {"io_log", test_io_log},
    {NULL, NULL},
};
T_MAIN(cases)
