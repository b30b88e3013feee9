/* Simulator leave model (design.md 6): vector/branch, ROM SP bug, reset and boot0. */
#include <stdio.h>

#include "test_sim_util.h"

static void w32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Program an application: vector table (SP, reset) at 0x08000000, code around 0x0800BA64. */
static int flash_app(dfu_sim *s, uint32_t sp, uint32_t reset)
{
    uint8_t blk[1024];
    int rc;

    memset(blk, 0x00, sizeof blk);
    w32(blk, sp);
    w32(blk + 4, reset);
    rc = write_at(s, 0x08000000, blk, 1024);
    if (rc == 0) {
        memset(blk, 0x00, sizeof blk);
        rc = write_at(s, 0x0800B800, blk, 1024);
    }
    return rc;
}

/* SET_ADDRESS, zero-length DNLOAD, one GETSTATUS (dfuMANIFEST). */
static int leave(dfu_sim *s, uint32_t addr)
{
    uint8_t st[6];
    int rc = set_address(s, addr);

    if (rc == 0)
        rc = dnload(s, 0, NULL, 0);
    if (rc == 0)
        rc = getstatus(s, st);
    if (rc == 0 && st[4] != DFU_STATE_MANIFEST)
        rc = -300;
    return rc;
}

struct lcase {
    const char *spec;
    uint32_t sp, reset, addr;
    const char *outcome, *via;
    enum dfu_sim_mode mode;
    uint32_t pc, msp; /* expected in the leave event */
};

static const struct lcase matrix[] = {
    /* H753 ROM 0x90-0x92: SP > RAM end - 16 -> device gone, app not running */
    {"stm32h753", 0x24080000, 0x08000199, 0x08000000, "hang", "jump", DFU_SIM_HANG, 0x08000199,
     0x24080000},
    {"stm32h753,rom=0x92", 0x20020000, 0x08000199, 0x08000000, "hang", "jump", DFU_SIM_HANG,
     0x08000199, 0x20020000},
    {"stm32h753", 0x2407FFF0, 0x08000199, 0x08000000, "app_running", "jump", DFU_SIM_APP,
     0x08000199, 0x2407FFF0},
    {"stm32h753,rom=0xd3", 0x24080000, 0x08000199, 0x08000000, "app_running", "jump", DFU_SIM_APP,
     0x08000199, 0x24080000},
    /* [ADDR] is code, not a RAM address: the ROM resets the chip */
    {"stm32h753,boot0=0", 0x24080000, 0x08000199, 0x0800BA65, "app_running", "reset", DFU_SIM_APP,
     0x08000199, 0x24080000},
    {"stm32h753,boot0=1", 0x24080000, 0x08000199, 0x0800BA65, "rom", "reset", DFU_SIM_GONE,
     0x1FF00000, 0x20003FE0},
    {"stm32h753,boot0=0", 0x00000000, 0x08000199, 0x0800BA65, "hardfault", "reset", DFU_SIM_HANG,
     0x08000199, 0x00000000},
    /* rev Y ROM V13.2: "Go command is not working", the reset path still starts the app */
    {"stm32h753,rom=0xd2", 0x2407FF00, 0x08000199, 0x08000000, "hang", "jump", DFU_SIM_HANG,
     0x08000199, 0x2407FF00},
    {"stm32h753,rom=0xd2,boot0=0", 0x2407FF00, 0x08000199, 0x0800BA65, "app_running", "reset",
     DFU_SIM_APP, 0x08000199, 0x2407FF00},
    /* jump=branch: PC = ADDR, MSP stays the ROM's */
    {"stm32h753,jump=branch", 0x24080000, 0x08000199, 0x0800BA65, "app_running", "jump",
     DFU_SIM_APP, 0x0800BA65, 0x20003FE0},
    {"stm32h753,jump=branch", 0x24080000, 0x08000199, 0x08000000, "hardfault", "jump", DFU_SIM_HANG,
     0x08000000, 0x20003FE0},
    {"stm32h753,jump=branch", 0x24080000, 0x08000199, 0x08100001, "hardfault", "jump", DFU_SIM_HANG,
     0x08100001, 0x20003FE0},
    /* PC even, PC in erased flash */
    {"stm32h753", 0x2407FF00, 0x08000198, 0x08000000, "hardfault", "jump", DFU_SIM_HANG, 0x08000198,
     0x2407FF00},
    {"stm32h753", 0x2407FF00, 0x08100001, 0x08000000, "hardfault", "jump", DFU_SIM_HANG, 0x08100001,
     0x2407FF00},
    /* F405: no SP bug; SP = RAM end is normal */
    {"stm32f405", 0x20020000, 0x08000199, 0x08000000, "app_running", "jump", DFU_SIM_APP,
     0x08000199, 0x20020000},
    {"stm32f405,boot0=1", 0x20020000, 0x08000199, 0x0800BA65, "rom", "reset", DFU_SIM_GONE,
     0x1FFF0000, 0x20002FE0},
    /* G0B1 and C071 as shipped (nBOOT_SEL = 1, nBOOT0 = 1): the BOOT0 pin is ignored and a
     * reset boots the flash, which is not empty */
    {"stm32g0b1,boot0=1", 0x20020000, 0x08000199, 0x0800BA65, "app_running", "reset", DFU_SIM_APP,
     0x08000199, 0x20020000},
    {"stm32c071,boot0=1", 0x20006000, 0x08000199, 0x0800BA65, "app_running", "reset", DFU_SIM_APP,
     0x08000199, 0x20006000},
    /* G474 (nSWBOOT0 = 1), L476, U585: the pin decides; U585 boots NSBOOTADD1 = the ROM */
    {"stm32g474,boot0=1", 0x20020000, 0x08000199, 0x0800BA65, "rom", "reset", DFU_SIM_GONE,
     0x1FFF0000, 0x20003FE0},
    {"stm32l476,boot0=1", 0x20020000, 0x08000199, 0x0800BA65, "rom", "reset", DFU_SIM_GONE,
     0x1FFF0000, 0x20002FE0},
    {"stm32u585,boot0=1", 0x200C0000, 0x08000199, 0x0800BA65, "rom", "reset", DFU_SIM_GONE,
     0x0BF90000, 0x20003FE0},
    {"stm32u585", 0x200C0000, 0x08000199, 0x08000000, "app_running", "jump", DFU_SIM_APP,
     0x08000199, 0x200C0000},
    /* an SP in the second RAM block (H7A3 AXI SRAM end) is a RAM address */
    {"stm32h7a3", 0x24100000, 0x08000199, 0x08000000, "app_running", "jump", DFU_SIM_APP,
     0x08000199, 0x24100000},
};

static int test_matrix(void)
{
    for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
        const struct lcase *c = &matrix[i];
        char want[256];
        dfu_sim *s = mk(c->spec);
        T_ASSERT(s != NULL);
        T_EQ_INT(flash_app(s, c->sp, c->reset), 0);
        T_EQ_INT(leave(s, c->addr), 0);
        if (strcmp(dfu_sim_leave_outcome(s), c->outcome) != 0)
            T_FAIL_("case %zu (%s at 0x%08x): outcome %s, want %s", i, c->spec, (unsigned)c->addr,
                    dfu_sim_leave_outcome(s), c->outcome);
        T_EQ_INT(dfu_sim_mode(s), c->mode);
        snprintf(want, sizeof want,
                 "\"ev\":\"leave\",\"address\":%u,\"outcome\":\"%s\",\"pc\":%u,\"msp\":%u,"
                 "\"via\":\"%s\"}",
                 (unsigned)c->addr, c->outcome, (unsigned)c->pc, (unsigned)c->msp, c->via);
        if (last_event(s, want) == NULL)
            T_FAIL_("case %zu: no event %s; last: %s", i, want,
                    dfu_sim_event(s, dfu_sim_event_count(s) - 1));
        if (strcmp(c->via, "reset") == 0)
            T_ASSERT(last_event(s, "\"ev\":\"reset\",\"cause\":\"leave\"") != NULL);
        /* off the bus in every case */
        uint8_t st[6];
        T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
        dfu_sim_free(s);
    }
    return 0;
}

/* boot0=1 reset: the ROM re-enumerates after its USB connection time (H7 54 ms, F4 250 ms). */
static int check_reenumerate(const char *spec, unsigned connect_ms)
{
    dfu_sim *s = mk(spec);
    struct dfu_transport *t = NULL;
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    T_EQ_INT(leave(s, 0x08000000), 0); /* erased flash: [ADDR] = 0xFFFFFFFF -> reset */
    T_EQ_STR(dfu_sim_leave_outcome(s), "rom");
    uint64_t t0 = dfu_sim_now_us(s);
    T_EQ_INT(dfu_sim_reenumerate_at(s), t0 + connect_ms * 1000u);
    T_EQ_INT(dfu_transport_wait_reenumerate(t, connect_ms - 10, &e_), DFU_E_TIMEOUT);
    T_EQ_INT(dfu_sim_now_us(s) - t0, (connect_ms - 10) * 1000u);
    T_OK(dfu_transport_wait_reenumerate(t, 1000, &e_), e_);
    T_EQ_INT(dfu_sim_now_us(s) - t0, connect_ms * 1000u);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_IDLE);
    T_ASSERT(last_event(s, "\"ev\":\"enumerate\"") != NULL);
    t->ops->close(t);
    return 0;
}

static int test_reenumerate(void)
{
    if (check_reenumerate("stm32h753", 54))
        return 1;
    return check_reenumerate("stm32f405", 250);
}

/* An app that runs never brings the ROM back: wait_reenumerate times out. */
static int test_app_does_not_return(void)
{
    dfu_sim *s = mk("stm32f405");
    struct dfu_transport *t = NULL;

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    T_EQ_INT(flash_app(s, 0x20020000, 0x08000199), 0);
    T_EQ_INT(leave(s, 0x08000000), 0);
    T_EQ_INT(dfu_sim_mode(s), DFU_SIM_APP);
    T_EQ_INT(dfu_transport_wait_reenumerate(t, 2000, &e_), DFU_E_TIMEOUT);
    T_EQ_INT(dfu_sim_devinfo(s, &(struct dfu_devinfo){0}, &e_), DFU_E_NO_DEVICE);
    t->ops->close(t);
    return 0;
}

/* Without SET_ADDRESS the ROM jumps to the last pointer (here the last written block). */
static int test_leave_uses_pointer(void)
{
    dfu_sim *s = mk("stm32f405");

    T_ASSERT(s != NULL);
    T_EQ_INT(flash_app(s, 0x20010000, 0x08000199), 0);
    T_EQ_INT(set_address(s, 0x08000000), 0);
    T_EQ_INT(dnload(s, 2, NULL, 0), 0);
    uint8_t st[6];
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_MANIFEST);
    T_EQ_STR(dfu_sim_leave_outcome(s), "app_running");
    dfu_sim_free(s);
    return 0;
}

/* STM32C071: the manifest (leave) fails with errTARGET unless SET_ADDRESS came after the last
 * write (LibUsbDfu issue 13); with it, the application starts. */
static int test_c071_leave_needs_set_address(void)
{
    dfu_sim *s = mk("stm32c071,boot0=0");
    uint8_t st[6];

    T_ASSERT(s != NULL);
    T_EQ_INT(flash_app(s, 0x20006000, 0x08000199), 0);
    T_EQ_INT(dnload(s, 0, NULL, 0), 0);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_ERROR);
    T_EQ_INT(st[0], DFU_STATUS_ERR_TARGET);
    T_EQ_INT(dfu_sim_mode(s), DFU_SIM_ROM);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(leave(s, 0x08000000), 0);
    T_EQ_STR(dfu_sim_leave_outcome(s), "app_running");
    dfu_sim_free(s);
    return 0;
}

/* GD32VF103 (RISC-V): no vector table, the ROM leaves on the zero-length DNLOAD without a status
 * stage. branch: the code at the address runs; reset: the chip boots per BOOT0; an odd address
 * is no RISC-V code; jump=vector is refused. */
static int gd32_leave(const char *spec, uint32_t addr, const char *outcome, const char *via,
                      uint32_t pc)
{
    dfu_sim *s = mk(spec);
    uint8_t st[6], code[1024];
    char want[200];

    T_ASSERT(s != NULL);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_ERROR); /* enumerates in dfuERROR */
    T_OK(clrstatus(s), e_);
    memset(code, 0x13, sizeof code); /* addi x0, x0, 0 (nop) words */
    T_EQ_INT(write_at(s, 0x08000000, code, sizeof code), 0);
    T_EQ_INT(set_address(s, addr), 0);
    T_EQ_INT(dnload(s, 0, NULL, 0), 0); /* it leaves here */
    T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
    T_EQ_STR(dfu_sim_leave_outcome(s), outcome);
    snprintf(want, sizeof want, "\"outcome\":\"%s\",\"pc\":%u,\"msp\":0,\"via\":\"%s\"", outcome,
             (unsigned)pc, via);
    if (last_event(s, want) == NULL)
        T_FAIL_("%s at 0x%08x: no event %s; last: %s", spec, (unsigned)addr, want,
                dfu_sim_event(s, dfu_sim_event_count(s) - 1));
    dfu_sim_free(s);
    return 0;
}

static int test_gd32_leave(void)
{
    dfu_sim *s = NULL;

    if (gd32_leave("gd32vf103", 0x08000000, "app_running", "jump", 0x08000000) ||
        gd32_leave("gd32vf103", 0x08000001, "hardfault", "jump", 0x08000001) ||
        gd32_leave("gd32vf103", 0x08000400, "hardfault", "jump", 0x08000400) ||
        gd32_leave("gd32vf103,jump=reset,boot0=0", 0x08000100, "app_running", "reset",
                   0x08000000) ||
        gd32_leave("gd32vf103,jump=reset,boot0=1", 0x08000000, "rom", "reset", 0x1FFFB000))
        return 1;
    T_EQ_INT(dfu_sim_new("gd32vf103,jump=vector", &s, &e_), DFU_E_INVALID);
    return 0;
}

static const struct t_case cases[] = {
    {"matrix", test_matrix},
    {"reenumerate", test_reenumerate},
    {"app_does_not_return", test_app_does_not_return},
    {"leave_uses_pointer", test_leave_uses_pointer},
    {"c071_leave_needs_set_address", test_c071_leave_needs_set_address},
    {"gd32_leave", test_gd32_leave},
    {NULL, NULL},
};
T_MAIN(cases)
