/* The error model: codes, names, prefixing. */
#include "dfu/err.h"
#include "t.h"

static int test_names(void)
{
    T_EQ_STR(dfu_err_name(DFU_E_TIMEOUT), "TIMEOUT");
    T_EQ_STR(dfu_err_name(DFU_E_STATUS), "STATUS");
    T_EQ_STR(dfu_err_name(12345), "UNKNOWN");
    T_EQ_STR(dfu_status_name(DFU_STATUS_ERR_VENDOR), "errVENDOR");
    T_EQ_STR(dfu_state_name(DFU_STATE_DNBUSY), "dfuDNBUSY");
    T_EQ_INT(dfu_status_from_name("errPROG"), 6);
    T_EQ_INT(dfu_state_from_name("dfuMANIFEST-WAIT-RESET"), 8);
    T_EQ_INT(dfu_state_from_name("nope"), -1);
    return 0;
}

static int test_set_prefix(void)
{
    struct dfu_err e;

    dfu_err_clear(&e);
    T_EQ_INT(e.dfu_state, 0xFF);
    T_EQ_INT(dfu_err_set(&e, DFU_E_STATUS, "device status %s", "errERASE"), DFU_E_STATUS);
    T_EQ_INT(dfu_err_prefix(&e, "erase 0x%08x", 0x08004000u), DFU_E_STATUS);
    T_EQ_STR(e.msg, "erase 0x08004000: device status errERASE");
    T_EQ_INT(dfu_err_set(NULL, DFU_E_IO, "x"), DFU_E_IO);
    return 0;
}

static const struct t_case cases[] = {
    {"names", test_names},
    {"set_prefix", test_set_prefix},
    {NULL, NULL},
};
T_MAIN(cases)
