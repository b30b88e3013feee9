/*
 * Faults addressed as WRITE (design.md 7: "a bStatus error on the Nth write") hit every kind of
 * executed write, not only flash: the option-byte block and OTP bytes count too, and a fault
 * there decides the job as it does for flash (the option bytes stay as they were).
 */
#include "test_sim_util.h"

static int ob_now(dfu_sim *s, uint8_t ob[16])
{
    return dfu_sim_read_mem(s, 0x1FFFC000, ob, 16, &e_);
}

/* errPROG on the option-byte write: the job fails with it, nothing changes, no reset. */
static int test_ob_status(void)
{
    dfu_sim *s = mk("stm32f405,faults=errPROG:WRITE:1");
    uint8_t ob[16], before[16], after[16];
    size_t n = 0;

    T_ASSERT(s != NULL);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_OK(abort_req(s), e_);
    T_OK(ob_now(s, before), e_);
    ob[8] &= (uint8_t)~0x01u; /* write-protect sector 0 */
    T_EQ_INT(write_at(s, 0x1FFFC000, ob, 16), DFU_STATUS_ERR_PROG);
    T_OK(ob_now(s, after), e_);
    T_EQ_MEM(after, before, 16);
    T_EQ_INT(count_events(s, "\"ev\":\"ob_write\""), 0);
    T_EQ_INT(count_events(s, "\"cause\":\"ob_write\""), 0);
    T_EQ_INT(dfu_sim_mode(s), DFU_SIM_ROM);
    /* the fault was used up: the same write now lands */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(dnload(s, 2, ob, 16), 0);
    uint8_t st[6];
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[0], 0);
    T_ASSERT(last_event(s, "\"ev\":\"ob_write\"") != NULL);
    dfu_sim_free(s);
    return 0;
}

/* disconnect on the option-byte write: the device drops off the bus before writing. */
static int test_ob_disconnect(void)
{
    dfu_sim *s = mk("stm32h753,faults=disconnect:WRITE:1");
    uint8_t ob[128], before[128], after[128];
    size_t n = 0;

    T_ASSERT(s != NULL);
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x5200201C, ob, 128, &n), 0);
    T_OK(abort_req(s), e_);
    T_OK(dfu_sim_read_mem(s, 0x5200201C, before, 128, &e_), e_);
    ob[4] ^= 0x0C; /* BOR_LEV */
    T_OK(set_address(s, 0x5200201C), e_);
    T_EQ_INT(dnload(s, 2, ob, 128), 0);
    uint8_t st[6];
    T_EQ_INT(getstatus(s, st), 0); /* the reply goes out, then the device is gone */
    T_EQ_INT(getstatus(s, st), DFU_E_NO_DEVICE);
    T_EQ_INT(dfu_sim_mode(s), DFU_SIM_GONE);
    T_OK(dfu_sim_read_mem(s, 0x5200201C, after, 128, &e_), e_);
    T_EQ_MEM(after, before, 128);
    dfu_sim_free(s);
    return 0;
}

/* errVERIFY on an OTP write: the byte is not programmed. */
static int test_otp_status(void)
{
    dfu_sim *s = mk("stm32f405,faults=errVERIFY:WRITE:1");
    uint8_t d[4] = {0x12, 0x34, 0x56, 0x78}, back[4];

    T_ASSERT(s != NULL);
    T_OK(set_alt(s, 2), e_);
    T_EQ_INT(write_at(s, 0x1FFF7800, d, 4), DFU_STATUS_ERR_VERIFY);
    T_OK(dfu_sim_read_mem(s, 0x1FFF7800, back, 4, &e_), e_);
    T_EQ_MEM(back, "\xFF\xFF\xFF\xFF", 4);
    dfu_sim_free(s);
    return 0;
}

static const struct t_case cases[] = {
    {"ob_status", test_ob_status},
    {"ob_disconnect", test_ob_disconnect},
    {"otp_status", test_otp_status},
    {NULL, NULL},
};
T_MAIN(cases)
