/* Device strings (design.md 2). */
#include "dfu/device.h"
#include "t.h"

static int test_usb(void)
{
    struct dfu_devspec s;
    struct dfu_err e;

    dfu_err_clear(&e);
    T_OK(dfu_devspec_parse(NULL, &s, &e), e);
    T_EQ_STR(s.backend, "usb");
    T_EQ_INT(s.has_vid, 0);
    T_EQ_INT(s.alt, -1);
    T_OK(dfu_devspec_parse("", &s, &e), e);
    T_EQ_STR(s.backend, "usb");
    T_OK(dfu_devspec_parse("usb", &s, &e), e);
    T_EQ_STR(s.backend, "usb");
    T_EQ_INT(s.has_pid, 0);

    T_OK(dfu_devspec_parse("usb:0483:df11", &s, &e), e);
    T_EQ_INT(s.has_vid, 1);
    T_EQ_INT(s.has_pid, 1);
    T_EQ_INT(s.vid, 0x0483);
    T_EQ_INT(s.pid, 0xdf11);
    T_EQ_STR(s.serial, "");
    T_EQ_STR(s.path, "");

    T_OK(dfu_devspec_parse("usb:0483:DF11,serial=3276389A3133,path=1-2.3,alt=1", &s, &e), e);
    T_EQ_INT(s.pid, 0xdf11);
    T_EQ_STR(s.serial, "3276389A3133");
    T_EQ_STR(s.path, "1-2.3");
    T_EQ_INT(s.alt, 1);
    T_EQ_STR(s.alt_name, "");

    T_OK(dfu_devspec_parse("usb,alt=Option Bytes", &s, &e), e);
    T_EQ_INT(s.has_vid, 0);
    T_EQ_INT(s.alt, -1);
    T_EQ_STR(s.alt_name, "Option Bytes");

    T_OK(dfu_devspec_parse("usb:1d50", &s, &e), e);
    T_EQ_INT(s.has_vid, 1);
    T_EQ_INT(s.has_pid, 0);
    T_EQ_INT(s.vid, 0x1d50);
    T_OK(dfu_devspec_parse("usb:0x0483:0xdf11,alt=255", &s, &e), e);
    T_EQ_INT(s.vid, 0x0483);
    T_EQ_INT(s.alt, 255);

    /* keys without VID:PID (what dfu.devstr{path=...} builds) */
    T_OK(dfu_devspec_parse("usb:path=1-2.3", &s, &e), e);
    T_EQ_STR(s.backend, "usb");
    T_EQ_INT(s.has_vid, 0);
    T_EQ_STR(s.target, "");
    T_EQ_STR(s.path, "1-2.3");
    T_OK(dfu_devspec_parse("usb:serial=ABC,alt=1", &s, &e), e);
    T_EQ_STR(s.serial, "ABC");
    T_EQ_INT(s.alt, 1);

    /* dfu-util's -d VID:PID: a USB device */
    T_OK(dfu_devspec_parse("0483:df11", &s, &e), e);
    T_EQ_STR(s.backend, "usb");
    T_EQ_INT(s.vid, 0x0483);
    T_EQ_INT(s.pid, 0xdf11);
    T_OK(dfu_devspec_parse("0483:DF11,alt=1", &s, &e), e);
    T_EQ_INT(s.pid, 0xdf11);
    T_EQ_INT(s.alt, 1);
    return 0;
}

static int test_sim(void)
{
    struct dfu_devspec s;
    struct dfu_err e;

    dfu_err_clear(&e);
    T_OK(dfu_devspec_parse("sim:stm32h753", &s, &e), e);
    T_EQ_STR(s.backend, "sim");
    T_EQ_STR(s.target, "stm32h753");
    T_EQ_STR(s.opts, "");
    T_EQ_INT(s.alt, -1);

    T_OK(dfu_devspec_parse("sim:stm32f405,boot0=0,events=/tmp/e.jsonl,alt=3,rom=0x31,"
                           "jump=branch,state=/tmp/s.bin,"
                           "faults=stall:DNLOAD:5;errPROG:DNLOAD:9;disconnect:GETSTATUS:40",
                           &s, &e),
         e);
    T_EQ_STR(s.target, "stm32f405");
    T_EQ_INT(s.alt, 3);
    T_EQ_STR(s.opts, "boot0=0,events=/tmp/e.jsonl,rom=0x31,jump=branch,state=/tmp/s.bin,"
                     "faults=stall:DNLOAD:5;errPROG:DNLOAD:9;disconnect:GETSTATUS:40");

    T_OK(dfu_devspec_parse("sim:dfu11,alt=Internal", &s, &e), e);
    T_EQ_STR(s.alt_name, "Internal");
    T_EQ_INT(s.alt, -1);
    return 0;
}

static int expect_error(const char *str, const char *needle)
{
    struct dfu_devspec s;
    struct dfu_err e;
    int rc;

    dfu_err_clear(&e);
    rc = dfu_devspec_parse(str, &s, &e);
    if (rc != DFU_E_INVALID)
        T_FAIL_("\"%s\" -> %d, want INVALID", str, rc);
    if (strstr(e.msg, needle) == NULL)
        T_FAIL_("\"%s\": message \"%s\" lacks \"%s\"", str, e.msg, needle);
    return 0;
}

static int test_errors(void)
{
    return expect_error("usb:0483:df11,colour=red", "unknown key 'colour'") ||
           expect_error("sim:stm32h753,speed=fast", "unknown key 'speed'") ||
           expect_error("usb,boot0=0", "key 'boot0' applies only to sim") ||
           expect_error("usb:0483:xyz1", "hex digits") ||
           expect_error("usb:12345:df11", "hex digits") ||
           expect_error("usb0483", "expected usb") || expect_error("12345:df11", "expected usb") ||
           expect_error("usb:path=", "empty value for key 'path'") ||
           expect_error("hid:1234", "expected usb") || expect_error("sim", "profile") ||
           expect_error("sim:", "profile") ||
           expect_error("usb,serial=", "empty value for key 'serial'") ||
           expect_error("usb,alt=256", "alt=256") ||
           expect_error("usb,alt", "'alt' is not key=value") ||
           expect_error("usb,,alt=1", "empty key") ||
           expect_error("sim:stm32h753,faults=", "empty value for key 'faults'");
}

static const struct t_case cases[] = {
    {"usb", test_usb},
    {"sim", test_sim},
    {"errors", test_errors},
    {NULL, NULL},
};
T_MAIN(cases)
