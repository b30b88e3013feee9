/* Simulator fault injection (design.md 7). */
#include "test_sim_util.h"

static int test_stall(void)
{
    dfu_sim *s = mk("stm32h753,faults=stall:DNLOAD:2");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_EQ_INT(set_address(s, 0x08000000), 0);
    T_EQ_INT(set_address(s, 0x08000000), DFU_E_PIPE);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_ERROR);
    T_EQ_INT(st[0], DFU_STATUS_ERR_STALLEDPKT);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(set_address(s, 0x08000000), 0); /* only the 2nd */
    T_ASSERT(last_event(s, "\"req\":\"DNLOAD\",\"wValue\":0,\"len\":0,\"state\":\"dfuERROR\","
                           "\"result\":\"stall\"") != NULL);
    dfu_sim_free(s);
    return 0;
}

/* dfu_sim_out_stalls sees an injected stall coming, and does not consume it. */
static int test_out_stalls_prediction(void)
{
    dfu_sim *s = mk("stm32h753,faults=stall:DNLOAD:2;timeout:DNLOAD:3");
    struct dfu_ctrl dn = {0x21, 1, 2, 0, 16};
    uint8_t d[16] = {0};

    T_ASSERT(s != NULL);
    T_EQ_INT(dfu_sim_out_stalls(s, &dn), 0);
    T_EQ_INT(set_address(s, 0x24040000), 0); /* DNLOAD 1 */
    T_EQ_INT(dfu_sim_out_stalls(s, &dn), 1);
    T_EQ_INT(dfu_sim_out_stalls(s, &dn), 1);
    T_EQ_INT(dnload(s, 2, d, 16), DFU_E_PIPE); /* DNLOAD 2 */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(dfu_sim_out_stalls(s, &dn), 0); /* a timeout is not a stall */
    dfu_sim_free(s);
    s = mk("stm32h753");
    dn.wLength = 2048;
    T_EQ_INT(dfu_sim_out_stalls(s, &dn), 1); /* more than wTransferSize */
    T_EQ_INT(dnload(s, 2, d, 16), 0);
    dn.wLength = 16;
    T_EQ_INT(dfu_sim_out_stalls(s, &dn), 1); /* dfuDNLOAD-SYNC */
    dfu_sim_free(s);
    return 0;
}

static int test_timeout(void)
{
    dfu_sim *s = mk("stm32f405,faults=timeout:GETSTATUS:2");
    uint8_t st[6];
    uint64_t t0;

    T_ASSERT(s != NULL);
    T_OK(getstatus(s, st), e_);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(getstatus(s, st), DFU_E_TIMEOUT);
    T_EQ_INT(dfu_sim_now_us(s) - t0, 5000000); /* the helper's 5 s timeout */
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    dfu_sim_free(s);
    return 0;
}

static int test_disconnect(void)
{
    dfu_sim *s = mk("stm32f405,faults=disconnect:GETSTATUS:3");
    struct dfu_transport *t = NULL;
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    T_OK(getstatus(s, st), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
    T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
    T_EQ_INT(dfu_transport_wait_reenumerate(t, 3000, &e_), DFU_E_TIMEOUT);
    t->ops->close(t);

    /* on the 2nd executed write: the device drops off as that job starts */
    s = mk("stm32f405,faults=disconnect:WRITE:2");
    T_ASSERT(s != NULL);
    uint8_t d[4] = {1, 2, 3, 4};
    T_EQ_INT(write_at(s, 0x08000000, d, 4), 0);
    T_EQ_INT(write_at(s, 0x08000004, d, 4), DFU_E_NO_DEVICE);
    T_EQ_INT(dfu_sim_mode(s), DFU_SIM_GONE);
    T_ASSERT(last_event(s, "\"ev\":\"disconnect\"") != NULL);
    dfu_sim_free(s);

    s = mk("stm32f405,faults=disconnect:DNLOAD:1:reappear=200");
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    T_EQ_INT(set_address(s, 0x08000000), DFU_E_NO_DEVICE);
    T_EQ_INT(dfu_transport_wait_reenumerate(t, 100, &e_), DFU_E_TIMEOUT);
    T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
    dfu_sim_advance(s, 300000);
    T_EQ_INT(dfu_sim_mode(s), DFU_SIM_ROM);
    T_OK(getstatus(s, st), e_); /* the model (as the gadget sees it) is back */
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    /* the host's old handle stays dead until it re-attaches */
    struct dfu_ctrl gs = {0xA1, 3, 0, 0, 6};
    size_t n;
    T_EQ_INT(t->ops->control(t, &gs, st, &n, 1000, &e_), DFU_E_NO_DEVICE);
    T_OK(dfu_transport_wait_reenumerate(t, 500, &e_), e_);
    T_OK(t->ops->control(t, &gs, st, &n, 1000, &e_), e_);
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    T_EQ_INT(set_address(s, 0x08000000), 0);
    t->ops->close(t);
    return 0;
}

/* bStatus faults: on the Nth DNLOAD, or on the Nth executed write / erase. */
static int test_status_faults(void)
{
    static const char *names[] = {"errPROG", "errVERIFY", "errTARGET", "errVENDOR", "errERASE"};
    uint8_t d[32];
    char spec[128];

    memset(d, 0x77, sizeof d);
    for (unsigned i = 0; i < 5; i++) {
        int st = dfu_status_from_name(names[i]);
        snprintf(spec, sizeof spec, "stm32h753,faults=%s:DNLOAD:3", names[i]);
        dfu_sim *s = mk(spec);
        T_ASSERT(s != NULL);
        T_EQ_INT(set_address(s, 0x08000000), 0);
        T_EQ_INT(erase_page(s, 0x08000000), 0);
        T_EQ_INT(job(s, 2, d, 32, NULL), st);
        /* nothing was written */
        uint8_t b[4];
        T_OK(dfu_sim_read_mem(s, 0x08000000, b, 4, &e_), e_);
        T_EQ_INT(b[0], 0xFF);
        T_OK(clrstatus(s), e_);
        T_EQ_INT(write_at(s, 0x08000000, d, 32), 0);
        dfu_sim_free(s);
    }
    dfu_sim *s = mk("stm32h753,faults=errVERIFY:WRITE:2;errERASE:ERASE:1");
    T_ASSERT(s != NULL);
    T_EQ_INT(erase_page(s, 0x08020000), DFU_STATUS_ERR_ERASE);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(erase_page(s, 0x08020000), 0);
    T_EQ_INT(write_at(s, 0x08020000, d, 32), 0);
    T_EQ_INT(write_at(s, 0x08020020, d, 32), DFU_STATUS_ERR_VERIFY);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x08020020, d, 32), 0);
    dfu_sim_free(s);
    return 0;
}

/* A bStatus on a GETSTATUS: fails the job it starts, or shows up in the status record. */
static int test_status_on_getstatus(void)
{
    dfu_sim *s = mk("stm32f405,faults=errWRITE:GETSTATUS:1;errVERIFY:GETSTATUS:3");
    uint8_t d[4] = {1, 2, 3, 4}, st[6];

    T_ASSERT(s != NULL);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_ERROR);
    T_EQ_INT(st[0], DFU_STATUS_ERR_WRITE);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(set_address(s, 0x08000000), DFU_STATUS_ERR_VERIFY); /* GETSTATUS 2 and 3 */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x08000000, d, 4), 0);
    dfu_sim_free(s);
    return 0;
}

/* busy: the device stays dfuDNBUSY; CLRSTATUS twice gets it back (H743 rev V trick). */
static int test_busy(void)
{
    dfu_sim *s = mk("stm32h753,faults=busy:DNLOAD:2");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_EQ_INT(set_address(s, 0x08000000), 0);
    T_EQ_INT(erase_page(s, 0x08000000), -201); /* second GETSTATUS still dfuDNBUSY */
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    dfu_sim_free(s);

    s = mk("stm32h753,faults=busy:DNLOAD:1");
    uint8_t b[5] = {0x41, 0, 0, 0, 0x08};
    T_OK(dnload(s, 0, b, 5), e_);
    for (int i = 0; i < 5; i++) {
        T_OK(getstatus(s, st), e_);
        T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    }
    T_ASSERT(dfu_sim_now_us(s) > 1100000); /* the erase itself did run */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(getstate(s), DFU_STATE_ERROR);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(getstate(s), DFU_STATE_IDLE);
    dfu_sim_free(s);
    return 0;
}

static int test_poll0(void)
{
    dfu_sim *s = mk("stm32h753,faults=poll0");
    unsigned poll = 99;
    uint64_t t0;

    T_ASSERT(s != NULL);
    t0 = dfu_sim_now_us(s);
    uint8_t b[5] = {0x41, 0, 0, 0, 0x08};
    T_EQ_INT(job(s, 0, b, 5, &poll), 0);
    T_EQ_INT(poll, 0);
    T_ASSERT(dfu_sim_now_us(s) - t0 >= 1100000); /* still held until the erase ended */
    dfu_sim_free(s);
    return 0;
}

/* earlystall (STM32L4): poll timeout shorter than the job, EP0 STALL when polled early. */
static int test_earlystall(void)
{
    dfu_sim *s = mk("stm32h753,faults=earlystall");
    uint8_t b[5] = {0x41, 0, 0, 0, 0x08}, st[6];

    T_ASSERT(s != NULL);
    T_OK(dnload(s, 0, b, 5), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    unsigned poll = poll_of(st);
    T_EQ_INT(poll, 550);
    T_EQ_INT(getstatus(s, st), DFU_E_PIPE);
    dfu_sim_advance(s, (uint64_t)poll * 1000);
    T_EQ_INT(getstatus(s, st), DFU_E_PIPE);
    dfu_sim_advance(s, (uint64_t)poll * 1000);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE); /* the stalls did not move it to dfuERROR */
    T_EQ_INT(st[0], 0);
    dfu_sim_free(s);
    return 0;
}

/* slowmasserase (STM32F405): reports 100 ms, takes 30 s. */
static int test_slowmasserase(void)
{
    dfu_sim *s = mk("stm32f405,faults=slowmasserase");
    uint8_t b[1] = {0x41}, st[6];
    struct dfu_ctrl gs = {0xA1, 3, 0, 0, 6};
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(dnload(s, 0, b, 1), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(poll_of(st), 100);
    uint64_t t0 = dfu_sim_now_us(s);
    T_EQ_INT(getstatus(s, st), DFU_E_TIMEOUT);
    T_OK(dfu_sim_control(s, &gs, st, &n, 35000, &e_), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE);
    T_ASSERT(dfu_sim_now_us(s) - t0 >= 30000000 - 2000);
    dfu_sim_free(s);

    s = mk("stm32f405"); /* without the fault: 16 s */
    T_OK(dnload(s, 0, b, 1), e_);
    T_OK(getstatus(s, st), e_);
    t0 = dfu_sim_now_us(s);
    T_OK(dfu_sim_control(s, &gs, st, &n, 35000, &e_), e_);
    T_EQ_INT(dfu_sim_now_us(s) - t0, 16000000 + 6); /* held, answered as the erase ends */
    dfu_sim_free(s);
    return 0;
}

static int test_bootinerror(void)
{
    dfu_sim *s = mk("stm32f405,faults=bootinerror");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_ERROR);
    T_EQ_INT(st[0], DFU_STATUS_ERR_FIRMWARE);
    T_OK(clrstatus(s), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    dfu_sim_free(s);
    return 0;
}

static int test_rdp1(void)
{
    dfu_sim *s = mk("stm32f405,faults=rdp1");
    uint8_t buf[16], d[4] = {1, 2, 3, 4}, st[6];
    size_t n;

    T_ASSERT(s != NULL);
    T_EQ_INT(set_address(s, 0x08000000), 0); /* allowed with RDP */
    T_OK(abort_req(s), e_);
    T_EQ_INT(upload(s, 2, buf, 16, &n), DFU_E_PIPE);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[0], DFU_STATUS_ERR_VENDOR);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(erase_page(s, 0x08000000), DFU_STATUS_ERR_VENDOR);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x08000000, d, 4), DFU_STATUS_ERR_VENDOR);
    T_OK(clrstatus(s), e_);
    T_OK(set_alt(s, 1), e_);
    T_OK(read_at(s, 0x1FFFC000, buf, 16, &n), e_);
    T_EQ_INT(n, 16);
    T_ASSERT(buf[1] != 0xAA && buf[1] != 0xCC);
    dfu_sim_free(s);
    return 0;
}

static int test_inject_and_parse(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_inject(s, "stall:GETSTATE:1;poll0", &e_), e_);
    T_EQ_INT(getstate(s), DFU_E_PIPE);
    T_EQ_INT(getstate(s), DFU_STATE_ERROR);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(dfu_sim_inject(s, "melt:DNLOAD:1", &e_), DFU_E_INVALID);
    T_EQ_INT(dfu_sim_inject(s, "stall:FOO:1", &e_), DFU_E_INVALID);
    T_EQ_INT(dfu_sim_inject(s, "stall:DNLOAD:0", &e_), DFU_E_INVALID);
    T_EQ_INT(dfu_sim_inject(s, "stall:DNLOAD", &e_), DFU_E_INVALID);
    T_EQ_INT(dfu_sim_inject(s, "stall:DNLOAD:1:reappear=5", &e_), DFU_E_INVALID);
    T_EQ_INT(dfu_sim_inject(s, "frobnicate", &e_), DFU_E_INVALID);
    T_EQ_INT(dfu_sim_inject(s, "stall:WRITE:1", &e_), DFU_E_INVALID);
    dfu_sim_free(s);
    /* the example of design.md 7 */
    s = mk("stm32h753,faults=stall:DNLOAD:5;errPROG:DNLOAD:9;disconnect:GETSTATUS:40");
    T_ASSERT(s != NULL);
    dfu_sim_free(s);
    return 0;
}

static const struct t_case cases[] = {
    {"stall", test_stall},
    {"out_stalls_prediction", test_out_stalls_prediction},
    {"timeout", test_timeout},
    {"disconnect", test_disconnect},
    {"status_faults", test_status_faults},
    {"status_on_getstatus", test_status_on_getstatus},
    {"busy", test_busy},
    {"poll0", test_poll0},
    {"earlystall", test_earlystall},
    {"slowmasserase", test_slowmasserase},
    {"bootinerror", test_bootinerror},
    {"rdp1", test_rdp1},
    {"inject_and_parse", test_inject_and_parse},
    {NULL, NULL},
};
T_MAIN(cases)
