/*
 * The DFU/DfuSe protocol core against a device whose every answer comes from the fuzz input:
 * a fake transport's control op decides per request between success (with IN data taken from
 * the input), STALL, timeout (the virtual clock moves on by the timeout), a device that is
 * gone, and an I/O error. The input also picks the operations: dfu_wait_status,
 * dfuse_command (set address, erase, mass erase), dfuse_write, dfuse_read, dfu_abort_to_idle,
 * dfuse_leave, dfu_getstatus, dfuse_get_commands.
 *
 * Input layout: byte 0 configures the device (bit 0 DfuSe, bit 1 early polling, bits 2-3 the
 * transfer size 8/16/64/1024); then operation records (one op byte plus arguments) and the
 * device's answers, read from the same stream in the order the core asks for them. Once the
 * input is used up the device is gone (every request fails with DFU_E_NO_DEVICE).
 *
 * Invariants: no operation hangs (a bounded number of requests and of sleeps after the device
 * is gone; the virtual time of one operation stays within its ceilings), results are 0 or a
 * DFU_E_* code with a NUL-terminated message, a successful wait reports bStatus OK in a
 * settled state, a successful read fills exactly the bytes asked for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu/device.h"
#include "dfu/err.h"
#include "dfu/transport.h"
#include "fuzz_common.h"

#define MAX_LEN 600u              /* bytes per write/read operation */
#define DEAD_CALLS 512u           /* requests an op may make after the device is gone */
#define HARD_CAP_US 7200000000ull /* 2 h virtual: past this the device is gone for good */
#define OP_BOUND_US 1800000000ull /* 30 min virtual per operation */

struct fz {
    struct dfu_transport t;
    const uint8_t *p;
    size_t n, off;
    uint64_t now;
    unsigned dead_calls, dead_sleeps;
    int opening; /* descriptors during dfu_dev_open: always STALL */
};

static int take(struct fz *f, uint8_t *b)
{
    if (f->off >= f->n)
        return 0;
    *b = f->p[f->off++];
    return 1;
}

static unsigned take_u(struct fz *f, unsigned nbytes)
{
    unsigned v = 0;
    uint8_t b;

    for (unsigned i = 0; i < nbytes; i++)
        v = (v << 8) | (take(f, &b) ? b : 0u);
    return v;
}

static int dead(struct fz *f)
{
    return f->off >= f->n || f->now >= HARD_CAP_US;
}

static int fz_control(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data,
                      size_t *len, unsigned timeout_ms, struct dfu_err *err)
{
    struct fz *f = (struct fz *)t;
    int in = (req->bmRequestType & 0x80u) != 0;
    uint8_t r, b;

    *len = 0;
    f->now += 1000;
    if (f->opening)
        return dfu_err_set(err, DFU_E_PIPE, "fuzz: stall during open");
    if (dead(f) || !take(f, &r)) {
        f->dead_calls++;
        FUZZ_CHECK(f->dead_calls <= DEAD_CALLS);
        return dfu_err_set(err, DFU_E_NO_DEVICE, "fuzz: no device");
    }
    switch (r >> 5) {
    case 5:
        return dfu_err_set(err, DFU_E_PIPE, "fuzz: stall");
    case 6:
        f->now += (uint64_t)(timeout_ms ? timeout_ms : 5000u) * 1000u;
        return dfu_err_set(err, DFU_E_TIMEOUT, "fuzz: timeout");
    case 7:
        return dfu_err_set(err, (r & 1) ? DFU_E_NO_DEVICE : DFU_E_IO, "fuzz: gone");
    default:
        break;
    }
    if (!in) {
        *len = req->wLength;
        f->now += req->wLength;
        return 0;
    }
    /* IN: r & 0x1F picks the length: 31 = all asked for, else that many (capped) */
    size_t want = (r & 0x1Fu) == 0x1Fu ? req->wLength : (size_t)(r & 0x1Fu);
    if (want > req->wLength)
        want = req->wLength;
    for (size_t i = 0; i < want; i++)
        data[i] = take(f, &b) ? b : 0;
    *len = want;
    f->now += want;
    return 0;
}

static int fz_claim(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err)
{
    (void)t;
    (void)intf;
    (void)alt;
    (void)err;
    return 0;
}

static void fz_close(struct dfu_transport *t)
{
    (void)t;
}

static uint64_t fz_now(struct dfu_transport *t)
{
    return ((struct fz *)t)->now;
}

static void fz_sleep(struct dfu_transport *t, uint64_t us)
{
    struct fz *f = (struct fz *)t;

    if (dead(f)) {
        f->dead_sleeps++;
        FUZZ_CHECK(f->dead_sleeps <= DEAD_CALLS);
    }
    f->now += us;
}

static int fz_reenum(struct dfu_transport *t, unsigned timeout_ms, struct dfu_err *err)
{
    struct fz *f = (struct fz *)t;

    f->now += (uint64_t)timeout_ms * 1000u;
    return dfu_err_set(err, DFU_E_TIMEOUT, "fuzz: did not come back");
}

static const struct dfu_transport_ops fz_ops = {
    .version = DFU_TRANSPORT_OPS_VERSION,
    .name = "fuzz",
    .control = fz_control,
    .claim = fz_claim,
    .close = fz_close,
    .now_us = fz_now,
    .sleep_us = fz_sleep,
    .wait_reenumerate = fz_reenum,
};

static void check_result(int rc, const struct dfu_err *e)
{
    FUZZ_CHECK(rc <= 0);
    if (rc != 0) {
        FUZZ_CHECK(e->code == rc);
        FUZZ_CHECK(memchr(e->msg, '\0', sizeof e->msg) != NULL);
        FUZZ_CHECK(strcmp(dfu_err_name(rc), "UNKNOWN") != 0);
    }
}

static int settled(uint8_t state)
{
    return state != DFU_STATE_DNBUSY && state != DFU_STATE_DNLOAD_SYNC;
}

static void run_op(struct fz *f, dfu_dev *d, uint8_t op, uint8_t *buf)
{
    struct dfu_err e;
    struct dfu_status st;
    uint64_t t0 = f->now;
    uint32_t addr;
    size_t len;
    int rc = 0, answered = 0;

    dfu_err_clear(&e);
    memset(&st, 0, sizeof st);
    switch (op % 10) {
    case 0:
        rc = dfu_wait_status(d, &st, 1 + take_u(f, 2) % 60000u, &e);
        if (rc == 0)
            FUZZ_CHECK(st.status == DFU_STATUS_OK && settled(st.state));
        break;
    case 1:
        rc = dfu_abort_to_idle(d, &e);
        break;
    case 2:
        rc = dfuse_set_address(d, take_u(f, 4), &e);
        break;
    case 3:
        rc = dfuse_erase_page(d, take_u(f, 4), &e);
        break;
    case 4:
        rc = dfuse_mass_erase(d, &e);
        break;
    case 5: {
        uint8_t cmd[5] = {0};
        size_t n = 1 + take_u(f, 1) % 5;
        for (size_t i = 0; i < n; i++)
            cmd[i] = (uint8_t)take_u(f, 1);
        rc = dfuse_command(d, cmd, n, 1 + take_u(f, 2) % 60000u, &e);
        break;
    }
    case 6:
        addr = take_u(f, 4);
        len = take_u(f, 2) % MAX_LEN;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(i * 7u);
        rc = dfuse_write(d, addr, buf, len, NULL, &e);
        break;
    case 7:
        addr = take_u(f, 4);
        len = take_u(f, 2) % MAX_LEN;
        memset(buf, 0xA5, MAX_LEN + 16);
        rc = dfuse_read(d, addr, buf, len, NULL, &e);
        for (size_t i = len; i < MAX_LEN + 16; i++) /* nothing past the requested length */
            FUZZ_CHECK(buf[i] == 0xA5);
        break;
    case 8:
        rc = dfuse_leave(d, take_u(f, 4), &st, &answered, &e);
        if (rc == 0)
            FUZZ_CHECK(answered == 0 || answered == 1);
        break;
    default: {
        uint8_t cmds[32];
        size_t n = 99;
        if (op & 0x10) {
            rc = dfuse_get_commands(d, cmds, sizeof cmds, &n, &e);
            if (rc == 0)
                FUZZ_CHECK(n <= sizeof cmds);
        } else {
            rc = dfu_getstatus(d, &st, &e);
        }
        break;
    }
    }
    check_result(rc, &e);
    if (f->now < HARD_CAP_US)
        FUZZ_CHECK(f->now - t0 <= OP_BOUND_US);
    f->dead_calls = 0;
    f->dead_sleeps = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t xfers[4] = {8, 16, 64, 1024};
    struct fz *f;
    struct dfu_devinfo info;
    struct dfu_err e;
    dfu_dev *d = NULL;
    uint8_t *buf;
    uint8_t cfg, op;

    if (size < 1 || size > 16384)
        return 0;
    f = calloc(1, sizeof *f);
    buf = malloc(MAX_LEN + 16);
    FUZZ_CHECK(f != NULL && buf != NULL);
    f->t.ops = &fz_ops;
    f->p = data;
    f->n = size;
    cfg = data[0];
    f->off = 1;
    memset(&info, 0, sizeof info);
    strcpy(info.backend, "fuzz");
    info.vid = 0x1209; /* not in the quirk table: the poll policy comes from the input */
    info.pid = 0x0001;
    info.bcd_dfu = (cfg & 1) ? 0x011A : 0x0110;
    info.transfer_size = xfers[(cfg >> 2) & 3];
    info.attributes = 0x0B;
    info.protocol = 2;
    strcpy(info.alt_name, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg");
    f->opening = 1;
    if (dfu_dev_open(&f->t, &info, &d, &e) != 0) {
        free(buf);
        free(f);
        return 0;
    }
    f->opening = 0;
    dfu_dev_set_poll(d, (cfg & 2) ? DFU_POLL_EARLY : DFU_POLL_SPEC);
    for (unsigned k = 0; k < 64 && take(f, &op); k++)
        run_op(f, d, op, buf);
    dfu_dev_close(d);
    free(buf);
    free(f);
    return 0;
}
