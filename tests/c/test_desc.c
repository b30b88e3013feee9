/* USB descriptors: functional descriptor, configuration walk, strings, probing. */
#include <stdlib.h>

#include "dfu/device.h"
#include "t.h"

/* An ST-ROM-like configuration: one DFU interface with two alts, the functional descriptor
 * after them, then a HID interface whose class descriptor also has type 0x21. */
static const uint8_t cfg_st[] = {
    9, 2,    54,   0,    2,    1,    0,    0x80, 50,   /* configuration, wTotalLength 54 */
    9, 4,    0,    0,    0,    0xFE, 0x01, 0x02, 4,    /* intf 0 alt 0, DFU mode, iInterface 4 */
    9, 4,    0,    1,    0,    0xFE, 0x01, 0x02, 5,    /* intf 0 alt 1, iInterface 5 */
    9, 0x21, 0x0B, 0xFF, 0x00, 0x00, 0x08, 0x1A, 0x01, /* DFU: attrs 0x0B, 255 ms, 2048, 1.1a */
    9, 4,    1,    0,    1,    0x03, 0x00, 0x00, 0,    /* intf 1: HID */
    9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x3F, 0x00, /* HID class descriptor, also 0x21 */
};

static int test_functional(void)
{
    static const uint8_t dfu10[] = {9, 4, 0,    0,    0,    0xFE, 1,    2,
                                    0, 7, 0x21, 0x03, 0x10, 0x00, 0x40, 0x00};
    static const uint8_t none[] = {9, 4, 0, 0, 0, 0xFE, 1, 2, 0};
    static const uint8_t broken[] = {9, 4, 0, 0, 0, 0xFE, 1, 2, 0, 0, 0x21, 1, 2, 3, 4, 5, 6};
    struct dfu_func_desc f;

    T_EQ_INT(dfu_desc_find_functional(cfg_st, sizeof cfg_st, &f), 0);
    T_EQ_INT(f.length, 9);
    T_EQ_INT(f.attributes, 0x0B);
    T_EQ_INT(f.detach_timeout, 255);
    T_EQ_INT(f.transfer_size, 2048);
    T_EQ_INT(f.bcd_dfu, 0x011A);
    /* bLength 7: DFU 1.0, no bcdDFUVersion */
    T_EQ_INT(dfu_desc_find_functional(dfu10, sizeof dfu10, &f), 0);
    T_EQ_INT(f.length, 7);
    T_EQ_INT(f.bcd_dfu, 0x0100);
    T_EQ_INT(f.transfer_size, 64);
    T_EQ_INT(f.detach_timeout, 16);
    T_EQ_INT(dfu_desc_find_functional(none, sizeof none, &f), DFU_E_NOT_FOUND);
    T_EQ_INT(dfu_desc_find_functional(broken, sizeof broken, &f), DFU_E_NOT_FOUND);
    /* truncated: the functional descriptor claims more bytes than there are */
    T_EQ_INT(dfu_desc_find_functional(cfg_st, 9 + 18 + 5, &f), DFU_E_NOT_FOUND);
    return 0;
}

static int test_config(void)
{
    /* HID first: its 0x21 descriptor must not be taken for the DFU one; functional descriptor at
     * configuration level is also accepted. */
    static const uint8_t cfg_hid_first[] = {
        9,    2,    45,   0,    2,    1,    0,    0x80, 50,   9,    4,    0,
        0,    1,    0x03, 0x00, 0x00, 0,    9,    0x21, 0x11, 0x01, 0x00, 0x01,
        0x22, 0x3F, 0x00, 9,    4,    1,    0,    0,    0xFE, 0x01, 0x01, 7, /* run-time DFU */
        9,    0x21, 0x0D, 0xE8, 0x03, 0x00, 0x04, 0x10, 0x01,
    };
    static const uint8_t cfg_level[] = {
        9, 2,    36,   0,    1,    1,    0,    0x80, 50,
        9, 0x21, 0x07, 0x64, 0x00, 0x00, 0x02, 0x1A, 0x01, /* before any interface */
        9, 4,    0,    0,    0,    0xFE, 0x01, 0x00, 4,    /* protocol 0 (DSO Nano) */
        9, 4,    0,    1,    0,    0xFE, 0x01, 0x00, 5,
    };
    static const uint8_t cfg_proto0_plain[] = {
        9,    2,    27,   0, 1, 1,    0,    0x80, 50,   9,    4,    0,    0,    0,
        0xFE, 0x01, 0x00, 4, 9, 0x21, 0x07, 0x64, 0x00, 0x00, 0x02, 0x10, 0x01,
    };
    static const uint8_t cfg_bad_len[] = {9, 2, 20, 0, 1,    1, 0, 0x80, 50, 9,
                                          4, 0, 0,  0, 0xFE, 1, 2, 0,    0,  0};
    struct dfu_desc_alt alts[8];
    struct dfu_func_desc f;
    struct dfu_err e;
    size_t n = 99;

    dfu_err_clear(&e);
    T_OK(dfu_desc_parse_config(cfg_st, sizeof cfg_st, alts, 8, &n, &f, &e), e);
    T_EQ_INT(n, 2);
    T_EQ_INT(alts[0].intf, 0);
    T_EQ_INT(alts[0].alt, 0);
    T_EQ_INT(alts[0].protocol, 2);
    T_EQ_INT(alts[0].iinterface, 4);
    T_EQ_INT(alts[1].alt, 1);
    T_EQ_INT(alts[1].iinterface, 5);
    T_EQ_INT(f.transfer_size, 2048);
    T_EQ_INT(f.bcd_dfu, 0x011A);
    /* room for one only */
    T_OK(dfu_desc_parse_config(cfg_st, sizeof cfg_st, alts, 1, &n, &f, &e), e);
    T_EQ_INT(n, 1);

    T_OK(dfu_desc_parse_config(cfg_hid_first, sizeof cfg_hid_first, alts, 8, &n, &f, &e), e);
    T_EQ_INT(n, 1);
    T_EQ_INT(alts[0].intf, 1);
    T_EQ_INT(alts[0].protocol, 1);
    T_EQ_INT(f.attributes, 0x0D);
    T_EQ_INT(f.detach_timeout, 1000);
    T_EQ_INT(f.transfer_size, 1024);
    T_EQ_INT(f.bcd_dfu, 0x0110);

    T_OK(dfu_desc_parse_config(cfg_level, sizeof cfg_level, alts, 8, &n, &f, &e), e);
    T_EQ_INT(n, 2);
    T_EQ_INT(alts[1].alt, 1);
    T_EQ_INT(alts[1].protocol, 0);
    T_EQ_INT(f.transfer_size, 512);

    /* protocol 0 counts only for DfuSe */
    T_EQ_INT(dfu_desc_parse_config(cfg_proto0_plain, sizeof cfg_proto0_plain, alts, 8, &n, &f, &e),
             DFU_E_NOT_FOUND);
    T_EQ_INT(n, 0);

    T_EQ_INT(dfu_desc_parse_config(cfg_bad_len, sizeof cfg_bad_len, alts, 8, &n, &f, &e),
             DFU_E_FORMAT);
    T_ASSERT(strstr(e.msg, "bLength 0") != NULL);
    T_EQ_INT(dfu_desc_parse_config(cfg_st + 9, sizeof cfg_st - 9, alts, 8, &n, &f, &e),
             DFU_E_FORMAT);
    /* wTotalLength shorter than the buffer: only the first interface */
    {
        uint8_t c[sizeof cfg_st];

        memcpy(c, cfg_st, sizeof c);
        c[2] = 18;
        T_EQ_INT(dfu_desc_parse_config(c, sizeof c, alts, 8, &n, &f, &e), 0);
        T_EQ_INT(n, 1);
        T_EQ_INT(f.length, 0);
        T_EQ_INT(f.bcd_dfu, 0x0100);
        /* a descriptor running past the end */
        c[2] = 30;
        T_EQ_INT(dfu_desc_parse_config(c, sizeof c, alts, 8, &n, &f, &e), DFU_E_FORMAT);
    }
    return 0;
}

static int test_string(void)
{
    static const uint8_t ascii[] = {10, 3, 'D', 0, 'F', 0, 'U', 0, '!', 0};
    static const uint8_t intl[] = {12, 3, 0xE9, 0x00, 0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE, 'x', 0};
    static const uint8_t lone[] = {6, 3, 0x00, 0xDC, 'a', 0};
    static const uint8_t odd[] = {5, 3, 'a', 0, 'b'};
    static const uint8_t notstr[] = {4, 2, 'a', 0};
    char out[32];

    T_EQ_INT(dfu_desc_string(ascii, sizeof ascii, out, sizeof out), 0);
    T_EQ_STR(out, "DFU!");
    T_EQ_INT(dfu_desc_string(intl, sizeof intl, out, sizeof out), 0);
    T_EQ_STR(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x");
    T_EQ_INT(dfu_desc_string(lone, sizeof lone, out, sizeof out), 0);
    T_EQ_STR(out, "\xef\xbf\xbd"
                  "a");
    T_EQ_INT(dfu_desc_string(odd, sizeof odd, out, sizeof out), 0);
    T_EQ_STR(out, "a");
    /* bLength beyond the buffer: decode what is there */
    T_EQ_INT(dfu_desc_string(ascii, 6, out, sizeof out), 0);
    T_EQ_STR(out, "DF");
    /* truncation keeps whole characters */
    T_EQ_INT(dfu_desc_string(intl, sizeof intl, out, 5), 0);
    T_EQ_STR(out, "\xc3\xa9");
    T_EQ_INT(dfu_desc_string(notstr, sizeof notstr, out, sizeof out), DFU_E_FORMAT);
    T_EQ_STR(out, "");
    T_EQ_INT(dfu_desc_string(ascii, 1, out, sizeof out), DFU_E_FORMAT);
    return 0;
}

/* ---- dfu_probe over a fake transport serving descriptors ---- */

struct fake {
    struct dfu_transport t;
    int requests;
    int bad_type;
};

static int put_string(const char *s, uint8_t *data, size_t cap)
{
    size_t n = strlen(s), len = 2 + 2 * n;

    if (len > cap)
        len = cap;
    data[0] = (uint8_t)(2 + 2 * n);
    data[1] = 3;
    for (size_t i = 0; 2 + 2 * i + 1 < len; i++) {
        data[2 + 2 * i] = (uint8_t)s[i];
        data[3 + 2 * i] = 0;
    }
    return (int)len;
}

static int fake_control(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data,
                        size_t *len, unsigned timeout_ms, struct dfu_err *err)
{
    static const uint8_t dev[18] = {18,   1,    0x00, 0x02, 0,    0, 0, 64, 0x83,
                                    0x04, 0x11, 0xdf, 0x00, 0x22, 1, 2, 3,  1};
    struct fake *f = (struct fake *)t;
    uint8_t type = (uint8_t)(req->wValue >> 8), idx = (uint8_t)req->wValue;
    const char *s = NULL;
    size_t n = 0;

    f->requests++;
    if (req->bmRequestType != 0x80 || req->bRequest != 0x06)
        return dfu_err_set(err, DFU_E_PIPE, "stall");
    if (type == 1) {
        n = sizeof dev;
        memcpy(data, dev, n < req->wLength ? n : req->wLength);
    } else if (type == 2) {
        n = sizeof cfg_st;
        memcpy(data, cfg_st, n < req->wLength ? n : req->wLength);
    } else if (type == 3 && idx == 0) {
        const uint8_t langs[4] = {4, 3, 0x09, 0x04};

        n = 4;
        memcpy(data, langs, n);
    } else if (type == 3) {
        if (req->wIndex != 0x0409)
            return dfu_err_set(err, DFU_E_PIPE, "bad language");
        s = idx == 2   ? "STM32  BOOTLOADER"
            : idx == 3 ? "3276389A3133"
            : idx == 4 ? "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
            : idx == 5 ? "@Option Bytes  /0x1FFFC000/01*016 e"
                       : NULL;
        if (s == NULL)
            return dfu_err_set(err, DFU_E_PIPE, "no string %u", idx);
        n = (size_t)put_string(s, data, req->wLength);
    } else {
        return dfu_err_set(err, DFU_E_PIPE, "stall");
    }
    *len = n < req->wLength ? n : req->wLength;
    return 0;
}

static int fake_claim(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err)
{
    return 0;
}

static void fake_close(struct dfu_transport *t)
{
}

static const struct dfu_transport_ops fake_ops = {
    .version = DFU_TRANSPORT_OPS_VERSION,
    .name = "fake",
    .control = fake_control,
    .claim = fake_claim,
    .close = fake_close,
};

static int test_probe(void)
{
    struct fake f = {{&fake_ops, {NULL, NULL}}, 0, 0};
    struct dfu_devinfo info;
    struct dfu_err e;

    memset(&info, 0, sizeof info);
    dfu_err_clear(&e);
    T_OK(dfu_probe(&f.t, &info, &e), e);
    T_EQ_INT(info.vid, 0x0483);
    T_EQ_INT(info.pid, 0xdf11);
    T_EQ_INT(info.bcd_device, 0x2200);
    T_EQ_INT(info.max_packet0, 64);
    T_EQ_INT(info.bcd_dfu, 0x011A);
    T_EQ_INT(info.transfer_size, 2048);
    T_EQ_INT(info.detach_timeout, 255);
    T_EQ_INT(info.attributes, 0x0B);
    T_EQ_INT(info.intf, 0);
    T_EQ_INT(info.alt, 0);
    T_EQ_INT(info.protocol, 2);
    T_EQ_STR(info.product, "STM32  BOOTLOADER");
    T_EQ_STR(info.serial, "3276389A3133");
    T_EQ_STR(info.alt_name, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg");
    T_ASSERT(f.requests >= 5);
    return 0;
}

static int test_dev_open_alts(void)
{
    struct fake f = {{&fake_ops, {NULL, NULL}}, 0, 0};
    struct dfu_devinfo info;
    const struct dfu_alt *alts;
    struct dfu_err e;
    dfu_dev *d = NULL;
    size_t n = 0;

    memset(&info, 0, sizeof info);
    dfu_err_clear(&e);
    T_OK(dfu_probe(&f.t, &info, &e), e);
    T_OK(dfu_dev_open(&f.t, &info, &d, &e), e);
    alts = dfu_dev_alts(d, &n);
    T_EQ_INT(n, 2);
    T_EQ_INT(alts[1].alt, 1);
    T_EQ_STR(alts[1].name, "@Option Bytes  /0x1FFFC000/01*016 e");
    T_ASSERT(alts[0].has_layout && alts[1].has_layout);
    T_EQ_STR(alts[1].layout.name, "Option Bytes");
    T_EQ_INT(alts[0].layout.nruns, 3);
    T_EQ_INT(dfu_dev_is_dfuse(d), 1);
    /* ST ROM: early polling by default */
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_EARLY);
    T_ASSERT(dfu_dev_transfers(d) >= 4);
    dfu_dev_close(d);
    return 0;
}

/* Random and mutated configuration descriptors: bounded reads (ASan), sane results. */
static int test_config_mutations(void)
{
    uint8_t buf[sizeof cfg_st];
    uint32_t x = 777;

    for (unsigned iter = 0; iter < 100000; iter++) {
        struct dfu_desc_alt alts[4];
        struct dfu_func_desc f;
        size_t n = 0, len = sizeof buf;
        int rc;

        memcpy(buf, cfg_st, sizeof buf);
        for (int k = 0; k < 1 + (int)(iter % 3); k++) {
            x = x * 1103515245u + 12345u;
            buf[(x >> 8) % sizeof buf] = (uint8_t)(x >> 24);
        }
        x = x * 1103515245u + 12345u;
        if (iter % 5 == 0)
            len = (x >> 8) % (sizeof buf + 1);
        /* exact-size copy so that any over-read is caught */
        {
            uint8_t *copy = malloc(len ? len : 1);

            memcpy(copy, buf, len);
            rc = dfu_desc_parse_config(copy, len, alts, 4, &n, &f, NULL);
            T_ASSERT(n <= 4);
            T_ASSERT(rc == 0 || n == 0);
            if (rc == 0) {
                for (size_t i = 0; i < n; i++)
                    T_ASSERT(alts[i].protocol <= 2);
            }
            (void)dfu_desc_find_functional(copy, len, &f);
            {
                char out[64];

                (void)dfu_desc_string(copy, len, out, sizeof out);
                T_ASSERT(strlen(out) < sizeof out);
            }
            free(copy);
        }
    }
    return 0;
}

/* The DFU mode of an interface and the language id, as the libusb backend asks for them. */
static int test_mode_langid(void)
{
    static const uint8_t langs[] = {6, 0x03, 0x07, 0x04, 0x09, 0x04};
    static const uint8_t none[] = {2, 0x03};

    T_EQ_INT(dfu_desc_mode(0x0483, 0xdf11, 2, 0x011A, 1), 2);
    T_EQ_INT(dfu_desc_mode(0x1d50, 0x6017, 1, 0x0110, 2), 1);
    T_EQ_INT(dfu_desc_mode(0x0483, 0x5740, 0, 0x011A, 3), 2); /* DfuSe, protocol 0 */
    T_EQ_INT(dfu_desc_mode(0x1fc9, 0x000c, 1, 0x0100, 1), 2); /* NXP LPC */
    T_EQ_INT(dfu_desc_mode(0x0b0e, 0x0001, 0, 0x0100, 1), 2); /* Jabra, DFU only */
    T_EQ_INT(dfu_desc_mode(0x0b0e, 0x0001, 0, 0x0100, 2), 1);
    T_EQ_INT(dfu_desc_langid(langs, sizeof langs), 0x0407);
    T_EQ_INT(dfu_desc_langid(none, sizeof none), 0x0409);
    T_EQ_INT(dfu_desc_langid(langs, 3), 0x0409);
    return 0;
}

static const struct t_case cases[] = {
    {"mode_langid", test_mode_langid},
    {"functional", test_functional},
    {"config", test_config},
    {"string", test_string},
    {"config_mutations", test_config_mutations},
    {"probe", test_probe},
    {"dev_open_alts", test_dev_open_alts},
    {NULL, NULL},
};
T_MAIN(cases)
