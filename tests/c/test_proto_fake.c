/*
 * Protocol core against a scripted fake device (cases the simulator cannot produce cheaply):
 * wBlockNum wrap, poll policies and their ceilings, stalled early polls, recovery, leave,
 * plain DFU 1.1 download/upload, cancellation.
 */
#include <stdlib.h>

#include "dfu/device.h"
#include "internal.h"
#include "t.h"

#define MEM_BASE 0x08000000u
#define MEM_SIZE (1024u * 1024u)

struct rec {
    uint8_t req;
    uint16_t value, len;
    uint8_t state; /* device state when the request arrived */
};

struct fdev {
    struct dfu_transport t;
    uint64_t now;   /* us */
    uint64_t slept; /* us slept by the host */
    uint8_t state, status;
    int dfuse;
    uint16_t xfer;
    uint32_t ptr;
    uint8_t *mem;
    /* job */
    uint8_t job[4096];
    size_t joblen;
    uint16_t jobblock;
    uint64_t busy_until;
    uint32_t poll_ms;    /* reported bwPollTimeout for writes/commands */
    uint64_t busy_us;    /* real busy time of a job */
    int hold;            /* GETSTATUS while busy waits for the job (ST ROM) */
    int stall_busy;      /* GETSTATUS while busy is stalled (STM32L4) */
    int busy_forever;    /* stays dfuDNBUSY */
    uint8_t fail_status; /* next job fails with this bStatus */
    int fail_job;        /* which job (1-based count) fails */
    int jobs;
    /* plain DFU manifestation */
    int tolerant, drop_in_manifest;
    int gone;
    int vanish_on_leave; /* drops off the bus right after the zero-length DNLOAD */
    int manifest_polls;
    /* upload size for plain DFU */
    size_t upload_size;
    /* record */
    struct rec *log;
    size_t nlog, caplog;
    unsigned count[8];
    unsigned bad_clrstatus;
    unsigned stalls;
    volatile sig_atomic_t *cancel_after_flag;
    unsigned cancel_after;
};

static void record(struct fdev *f, const struct dfu_ctrl *req)
{
    if (f->nlog == f->caplog) {
        f->caplog = f->caplog ? f->caplog * 2 : 1024;
        f->log = realloc(f->log, f->caplog * sizeof *f->log);
    }
    f->log[f->nlog].req = req->bRequest;
    f->log[f->nlog].value = req->wValue;
    f->log[f->nlog].len = req->wLength;
    f->log[f->nlog].state = f->state;
    f->nlog++;
    if (req->bRequest < 8)
        f->count[req->bRequest]++;
}

static uint8_t run_job(struct fdev *f)
{
    f->jobs++;
    if (f->fail_status && f->jobs == f->fail_job)
        return f->fail_status;
    if (!f->dfuse) {
        size_t off = (size_t)f->jobblock * f->xfer;

        if (off + f->joblen > MEM_SIZE)
            return DFU_STATUS_ERR_ADDRESS;
        memcpy(f->mem + off, f->job, f->joblen);
        return 0;
    }
    if (f->jobblock == 0) {
        if (f->joblen == 5 && f->job[0] == 0x21) {
            f->ptr = (uint32_t)f->job[1] | (uint32_t)f->job[2] << 8 | (uint32_t)f->job[3] << 16 |
                     (uint32_t)f->job[4] << 24;
            return 0;
        }
        if (f->job[0] == 0x41) {
            if (f->joblen == 1)
                memset(f->mem, 0xFF, MEM_SIZE);
            return 0;
        }
        return DFU_STATUS_ERR_TARGET;
    }
    {
        uint64_t addr = f->ptr + (uint64_t)(f->jobblock - 2) * f->xfer;

        if (addr < MEM_BASE || addr + f->joblen > (uint64_t)MEM_BASE + MEM_SIZE)
            return DFU_STATUS_ERR_TARGET;
        memcpy(f->mem + (addr - MEM_BASE), f->job, f->joblen);
        return 0;
    }
}

static void status_reply(struct fdev *f, uint8_t *data, uint32_t poll)
{
    data[0] = f->status;
    data[1] = (uint8_t)poll;
    data[2] = (uint8_t)(poll >> 8);
    data[3] = (uint8_t)(poll >> 16);
    data[4] = f->state;
    data[5] = 0;
}

static int stall(struct fdev *f, struct dfu_err *err)
{
    f->stalls++;
    if (f->state != DFU_STATE_DNBUSY) {
        f->state = DFU_STATE_ERROR;
        f->status = DFU_STATUS_ERR_STALLEDPKT;
    }
    return dfu_err_set(err, DFU_E_PIPE, "stall");
}

static void finish_job(struct fdev *f)
{
    uint8_t st = run_job(f);

    if (st != 0) {
        f->state = DFU_STATE_ERROR;
        f->status = st;
    } else {
        f->state = DFU_STATE_DNLOAD_IDLE;
    }
}

static int fake_control(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data,
                        size_t *len, unsigned timeout_ms, struct dfu_err *err)
{
    struct fdev *f = (struct fdev *)t;

    record(f, req);
    if (f->gone)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "gone");
    f->now += 1000 + req->wLength;
    if (f->cancel_after_flag != NULL && f->nlog >= f->cancel_after)
        *f->cancel_after_flag = 1;
    *len = 0;
    if ((req->bmRequestType & 0x7F) != 0x21 || req->wIndex != 0)
        return dfu_err_set(err, DFU_E_PIPE, "no descriptors here"); /* EP0 stall, no DFU change */
    switch (req->bRequest) {
    case DFUI_REQ_DNLOAD:
        if (f->state != DFU_STATE_IDLE && f->state != DFU_STATE_DNLOAD_IDLE)
            return stall(f, err);
        if (req->wLength == 0) {
            f->state = DFU_STATE_MANIFEST_SYNC;
            f->gone = f->vanish_on_leave;
            return 0;
        }
        memcpy(f->job, data, req->wLength);
        f->joblen = req->wLength;
        f->jobblock = req->wValue;
        f->state = DFU_STATE_DNLOAD_SYNC;
        *len = req->wLength;
        return 0;
    case DFUI_REQ_GETSTATUS:
        if (req->wLength != 6)
            return stall(f, err);
        *len = 6;
        switch (f->state) {
        case DFU_STATE_DNLOAD_SYNC:
            f->state = DFU_STATE_DNBUSY;
            f->busy_until = f->now + f->busy_us;
            status_reply(f, data, f->poll_ms);
            return 0;
        case DFU_STATE_DNBUSY:
            if (f->busy_forever) {
                status_reply(f, data, f->poll_ms);
                return 0;
            }
            if (f->now < f->busy_until) {
                if (f->stall_busy)
                    return stall(f, err);
                if (f->hold) {
                    if (f->busy_until - f->now > (uint64_t)timeout_ms * 1000u) {
                        f->now += (uint64_t)timeout_ms * 1000u;
                        return dfu_err_set(err, DFU_E_TIMEOUT, "timeout");
                    }
                    f->now = f->busy_until;
                } else {
                    status_reply(f, data, f->poll_ms);
                    return 0;
                }
            }
            finish_job(f);
            status_reply(f, data, 0);
            return 0;
        case DFU_STATE_MANIFEST_SYNC:
            if (f->dfuse) {
                f->state = DFU_STATE_MANIFEST;
                status_reply(f, data, 1);
                f->gone = 1;
                return 0;
            }
            f->state = DFU_STATE_MANIFEST;
            status_reply(f, data, 10);
            return 0;
        case DFU_STATE_MANIFEST:
            f->manifest_polls++;
            if (f->drop_in_manifest) {
                f->gone = 1;
                return dfu_err_set(err, DFU_E_IO, "gone");
            }
            f->state = f->tolerant ? DFU_STATE_IDLE : DFU_STATE_MANIFEST_WAIT_RESET;
            status_reply(f, data, 0);
            return 0;
        default:
            status_reply(f, data, 0);
            return 0;
        }
    case DFUI_REQ_GETSTATE:
        data[0] = f->state;
        *len = 1;
        return 0;
    case DFUI_REQ_CLRSTATUS:
        if (f->state != DFU_STATE_ERROR) {
            /* ST semantics: CLRSTATUS outside dfuERROR is an error. */
            f->bad_clrstatus++;
            f->state = DFU_STATE_ERROR;
            f->status = DFU_STATUS_ERR_UNKNOWN;
            return 0;
        }
        f->state = DFU_STATE_IDLE;
        f->status = 0;
        return 0;
    case DFUI_REQ_ABORT:
        if (f->state == DFU_STATE_IDLE || f->state == DFU_STATE_DNLOAD_IDLE ||
            f->state == DFU_STATE_UPLOAD_IDLE || f->state == DFU_STATE_DNLOAD_SYNC ||
            f->state == DFU_STATE_MANIFEST_SYNC) {
            f->state = DFU_STATE_IDLE;
            return 0;
        }
        return stall(f, err);
    case DFUI_REQ_UPLOAD:
        if (f->state != DFU_STATE_IDLE && f->state != DFU_STATE_UPLOAD_IDLE)
            return stall(f, err);
        if (f->dfuse) {
            uint64_t addr;

            if (req->wValue == 0) {
                static const uint8_t cmds[] = {0x00, 0x21, 0x41, 0x92};

                memcpy(data, cmds, sizeof cmds);
                *len = sizeof cmds;
                f->state = DFU_STATE_IDLE;
                return 0;
            }
            if (req->wValue == 1)
                return stall(f, err);
            addr = f->ptr + (uint64_t)(req->wValue - 2) * f->xfer;
            if (addr < MEM_BASE || addr + req->wLength > (uint64_t)MEM_BASE + MEM_SIZE)
                return stall(f, err);
            memcpy(data, f->mem + (addr - MEM_BASE), req->wLength);
            *len = req->wLength;
            f->state = DFU_STATE_UPLOAD_IDLE;
            return 0;
        } else {
            size_t off = (size_t)req->wValue * f->xfer, n = req->wLength;

            if (off > f->upload_size)
                off = f->upload_size;
            if (n > f->upload_size - off)
                n = f->upload_size - off;
            memcpy(data, f->mem + off, n);
            *len = n;
            f->state = n < f->xfer ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
            return 0;
        }
    default:
        return stall(f, err);
    }
}

static int fake_claim(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err)
{
    return 0;
}

static void fake_close(struct dfu_transport *t)
{
}

static uint64_t fake_now(struct dfu_transport *t)
{
    return ((struct fdev *)t)->now;
}

static void fake_sleep(struct dfu_transport *t, uint64_t us)
{
    ((struct fdev *)t)->now += us;
    ((struct fdev *)t)->slept += us;
}

static const struct dfu_transport_ops fake_ops = {
    .version = DFU_TRANSPORT_OPS_VERSION,
    .name = "fake",
    .control = fake_control,
    .claim = fake_claim,
    .close = fake_close,
    .now_us = fake_now,
    .sleep_us = fake_sleep,
};

static struct fdev *fake_new(int dfuse, uint16_t xfer)
{
    struct fdev *f = calloc(1, sizeof *f);

    f->t.ops = &fake_ops;
    f->state = DFU_STATE_IDLE;
    f->dfuse = dfuse;
    f->xfer = xfer;
    f->mem = malloc(MEM_SIZE);
    memset(f->mem, 0xFF, MEM_SIZE);
    f->ptr = MEM_BASE;
    f->poll_ms = 100;
    f->busy_us = 30000;
    f->hold = 1;
    return f;
}

static void fake_free(struct fdev *f)
{
    free(f->mem);
    free(f->log);
    free(f);
}

static dfu_dev *open_fake(struct fdev *f, enum dfu_poll_policy poll)
{
    struct dfu_devinfo info;
    struct dfu_err e;
    dfu_dev *d = NULL;

    memset(&info, 0, sizeof info);
    strcpy(info.backend, "fake");
    info.vid = 0x1209;
    info.pid = 0x0001;
    info.bcd_dfu = f->dfuse ? 0x011A : 0x0110;
    info.transfer_size = f->xfer;
    info.attributes = 0x0B;
    strcpy(info.alt_name, "@Internal Flash  /0x08000000/08*128Kg");
    if (dfu_dev_open(&f->t, &info, &d, &e) != 0) {
        fprintf(stderr, "open: %s\n", e.msg);
        return NULL;
    }
    dfu_dev_set_poll(d, poll);
    f->nlog = 0;
    f->stalls = 0;
    memset(f->count, 0, sizeof f->count);
    return d;
}

static unsigned count_setaddr(const struct fdev *f, uint32_t *first, uint32_t *last)
{
    unsigned n = 0;

    (void)first;
    (void)last;
    for (size_t i = 0; i < f->nlog; i++) {
        if (f->log[i].req == DFUI_REQ_DNLOAD && f->log[i].value == 0 && f->log[i].len == 5)
            n++;
    }
    return n;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* ---- tests ---- */

/* More than 65534 blocks in one run: the address pointer is set again before wBlockNum would
 * pass 0xFFFF, and every byte lands where it belongs. */
static int test_block_wrap(void)
{
    struct fdev *f = fake_new(1, 8);
    size_t len = 70000u * 8u;
    uint8_t *data = malloc(len);
    uint16_t maxblock = 0;
    unsigned setaddr = 0;
    struct dfu_err e;
    dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

    T_ASSERT(d != NULL);
    f->busy_us = 10;
    fill(data, len, 1);
    dfu_err_clear(&e);
    T_OK(dfuse_write(d, MEM_BASE + 64, data, len, NULL, &e), e);
    T_EQ_MEM(f->mem + 64, data, len);
    for (size_t i = 0; i < f->nlog; i++) {
        if (f->log[i].req != DFUI_REQ_DNLOAD)
            continue;
        if (f->log[i].value == 0) {
            setaddr++;
            continue;
        }
        if (f->log[i].value > maxblock)
            maxblock = f->log[i].value;
        T_ASSERT(f->log[i].value >= 2);
    }
    T_EQ_INT(setaddr, 2);
    T_EQ_INT(maxblock, 0xFFFF);
    /* the second run starts right after block 0xFFFF of the first */
    T_EQ_INT(f->ptr, MEM_BASE + 64 + 65534u * 8u);
    dfu_dev_close(d);
    free(data);
    fake_free(f);
    return 0;
}

/* Streaming across calls: continuation without SET_ADDRESS on a full-block boundary; a new
 * SET_ADDRESS after a gap, after a partial block, after another request, after an error. */
static int test_stream_continuation(void)
{
    struct fdev *f = fake_new(1, 256);
    uint8_t data[4096], back[4096];
    struct dfu_err e;
    dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

    T_ASSERT(d != NULL);
    fill(data, sizeof data, 2);
    dfu_err_clear(&e);
    T_OK(dfuse_write(d, MEM_BASE, data, 1024, NULL, &e), e);
    T_OK(dfuse_write(d, MEM_BASE + 1024, data + 1024, 1024, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 1);
    /* a write that does not start where the last ended */
    T_OK(dfuse_write(d, MEM_BASE + 4096, data, 512, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 2);
    /* a partial block ends the run */
    T_OK(dfuse_write(d, MEM_BASE + 4608, data, 100, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 2);
    T_OK(dfuse_write(d, MEM_BASE + 4708, data, 256, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 3);
    /* any other request ends the run */
    T_OK(dfuse_write(d, MEM_BASE + 8192, data, 256, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 4);
    T_OK(dfuse_erase_page(d, MEM_BASE + 65536, &e), e);
    T_OK(dfuse_write(d, MEM_BASE + 8448, data + 256, 256, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 6);
    T_OK(dfu_abort(d, &e), e);
    T_OK(dfuse_write(d, MEM_BASE + 8704, data + 512, 256, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 7);
    T_OK(dfu_dev_set_alt(d, 0, &e), e);
    T_OK(dfuse_write(d, MEM_BASE + 8960, data + 768, 256, NULL, &e), e);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 8);
    T_EQ_MEM(f->mem + 8192, data, 1024);
    T_EQ_MEM(f->mem, data, 2048);

    /* a failed block: the next write recovers (CLRSTATUS in dfuERROR) and sets the address */
    f->fail_status = DFU_STATUS_ERR_PROG;
    f->fail_job = f->jobs + 2;
    T_EQ_INT(dfuse_write(d, MEM_BASE + 12288, data, 1024, NULL, &e), DFU_E_STATUS);
    T_EQ_INT(e.dfu_status, DFU_STATUS_ERR_PROG);
    T_EQ_INT(e.dfu_state, DFU_STATE_ERROR);
    T_EQ_INT(e.has_addr, 1);
    T_EQ_INT(e.addr, MEM_BASE + 12288);
    T_EQ_STR(e.msg, "write 0x08003000: device reported errPROG (dfuERROR)");
    f->fail_status = 0;
    T_OK(dfuse_write(d, MEM_BASE + 12288, data, 1024, NULL, &e), e);
    T_EQ_INT(f->count[DFUI_REQ_CLRSTATUS], 1);
    T_EQ_INT(f->bad_clrstatus, 0);
    T_EQ_MEM(f->mem + 12288, data, 1024);

    /* reads stream the same way: SET_ADDRESS, ABORT, UPLOAD 2, 3, ... */
    f->nlog = 0;
    memset(f->count, 0, sizeof f->count);
    T_OK(dfuse_read(d, MEM_BASE, back, 512, NULL, &e), e);
    T_OK(dfuse_read(d, MEM_BASE + 512, back + 512, 1536, NULL, &e), e);
    T_EQ_MEM(back, data, 2048);
    T_EQ_INT(count_setaddr(f, NULL, NULL), 1);
    T_EQ_INT(f->count[DFUI_REQ_ABORT], 1);
    T_EQ_INT(f->count[DFUI_REQ_UPLOAD], 8);
    T_EQ_INT(f->log[f->nlog - 1].value, 9);
    /* direction change: ABORT out of dfuUPLOAD-IDLE before the next DNLOAD */
    T_OK(dfuse_write(d, MEM_BASE + 16384, data, 256, NULL, &e), e);
    T_EQ_INT(f->count[DFUI_REQ_ABORT], 2);
    T_EQ_INT(f->stalls, 0);
    dfu_dev_close(d);
    fake_free(f);
    return 0;
}

/* Progress is reported per block, the cancel flag is checked between transfers. */
static void on_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    unsigned *calls = ud;

    (void)phase;
    (void)total;
    calls[0]++;
    calls[1] = (unsigned)done;
}

static int test_progress_cancel(void)
{
    struct fdev *f = fake_new(1, 1024);
    static volatile sig_atomic_t flag;
    unsigned calls[2] = {0, 0};
    struct dfu_progress p = {on_progress, calls};
    uint8_t data[8192];
    struct dfu_err e;
    size_t before;
    dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

    T_ASSERT(d != NULL);
    fill(data, sizeof data, 3);
    dfu_err_clear(&e);
    T_OK(dfuse_write(d, MEM_BASE, data, 5000, &p, &e), e);
    T_EQ_INT(calls[0], 5);
    T_EQ_INT(calls[1], 5000);
    dfu_dev_set_cancel(d, &flag);
    f->cancel_after_flag = &flag;
    f->cancel_after = (unsigned)f->nlog + 4;
    T_EQ_INT(dfuse_write(d, MEM_BASE + 8192, data, sizeof data, &p, &e), DFU_E_INTERRUPTED);
    before = f->nlog;
    T_ASSERT(before <= f->cancel_after + 3);
    /* still set: the next job stops before its first transfer */
    T_EQ_INT(dfuse_set_address(d, MEM_BASE, &e), DFU_E_INTERRUPTED);
    T_EQ_INT(f->nlog, before);
    flag = 0;
    f->cancel_after_flag = NULL;
    T_OK(dfuse_write(d, MEM_BASE + 8192, data, sizeof data, &p, &e), e);
    T_EQ_MEM(f->mem + 8192, data, sizeof data);
    dfu_dev_close(d);
    fake_free(f);
    return 0;
}

/* Spec policy sleeps bwPollTimeout while dfuDNBUSY and never otherwise; early policy does not
 * sleep and is not slower. */
static int test_policies(void)
{
    uint64_t t_spec = 0, t_early = 0;
    uint8_t data[4096];
    struct dfu_err e;

    fill(data, sizeof data, 4);
    dfu_err_clear(&e);
    for (int early = 0; early < 2; early++) {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, early ? DFU_POLL_EARLY : DFU_POLL_SPEC);
        uint64_t t0;

        T_ASSERT(d != NULL);
        f->poll_ms = 104;
        f->busy_us = 33000;
        t0 = f->now;
        T_OK(dfuse_write(d, MEM_BASE, data, sizeof data, NULL, &e), e);
        /* set address + 4 blocks, each: DNLOAD, GETSTATUS (busy), GETSTATUS */
        T_EQ_INT(f->count[DFUI_REQ_GETSTATUS], 10);
        if (early) {
            T_EQ_INT(f->slept, 0);
            t_early = f->now - t0;
        } else {
            T_EQ_INT(f->slept, 5 * 104000);
            t_spec = f->now - t0;
        }
        T_EQ_MEM(f->mem, data, sizeof data);
        dfu_dev_close(d);
        fake_free(f);
    }
    T_ASSERT(t_early < t_spec);
    /* a device that does not hold its answer: early keeps asking until it is done */
    {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

        f->hold = 0;
        f->busy_us = 20000;
        T_OK(dfuse_set_address(d, MEM_BASE, &e), e);
        T_ASSERT(f->count[DFUI_REQ_GETSTATUS] > 5);
        T_EQ_INT(f->slept, 0);
        dfu_dev_close(d);
        fake_free(f);
    }
    return 0;
}

/* The STM32L4 case: early polls are stalled while the device is busy. The host falls back to
 * spec polling, retries, and completes; stalls are bounded. */
static int test_early_stall(void)
{
    struct fdev *f = fake_new(1, 1024);
    struct dfu_status st;
    struct dfu_err e;
    dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

    T_ASSERT(d != NULL);
    f->stall_busy = 1;
    f->poll_ms = 10;
    f->busy_us = 25000;
    dfu_err_clear(&e);
    T_OK(dfuse_erase_page(d, MEM_BASE, &e), e);
    T_ASSERT(f->stalls >= 1);
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_SPEC);
    T_EQ_INT(f->bad_clrstatus, 0);
    /* the next command polls per bwPollTimeout from the start */
    f->stalls = 0;
    f->busy_us = 5000;
    T_OK(dfuse_erase_page(d, MEM_BASE + 0x20000, &e), e);
    T_EQ_INT(f->stalls, 0);
    /* choosing early again re-enables it */
    dfu_dev_set_poll(d, DFU_POLL_EARLY);
    T_EQ_INT(dfu_dev_poll(d), DFU_POLL_EARLY);
    /* a device that stalls for ever: bounded */
    f->busy_us = 60u * 1000000u;
    f->stalls = 0;
    T_EQ_INT(dfuse_erase_page(d, MEM_BASE, &e), DFU_E_PIPE);
    T_EQ_INT(f->stalls, DFUI_MAX_POLL_STALLS + 1);
    (void)st;
    dfu_dev_close(d);
    fake_free(f);
    return 0;
}

/* Black Magic Probe: bwPollTimeout 0 while dfuDNBUSY forever -> bounded by the ceiling.
 * STM32F405 mass erase: reports 100 ms, takes ~30 s -> within the 40 s ceiling in both
 * policies. */
static int test_ceilings(void)
{
    struct dfu_err e;

    dfu_err_clear(&e);
    for (int early = 0; early < 2; early++) {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, early ? DFU_POLL_EARLY : DFU_POLL_SPEC);
        uint64_t t0 = f->now;

        f->busy_forever = 1;
        f->poll_ms = 0;
        T_EQ_INT(dfuse_erase_page(d, MEM_BASE, &e), DFU_E_TIMEOUT);
        T_ASSERT(strstr(e.msg, "erase 0x08000000") != NULL);
        T_ASSERT(strstr(e.msg, "dfuDNBUSY") != NULL);
        T_ASSERT(f->now - t0 >= (uint64_t)DFUSE_CEIL_ERASE_MS * 1000u);
        T_ASSERT(f->now - t0 < (uint64_t)DFUSE_CEIL_ERASE_MS * 1000u + 100000u);
        dfu_dev_close(d);
        fake_free(f);
    }
    for (int early = 0; early < 2; early++) {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, early ? DFU_POLL_EARLY : DFU_POLL_SPEC);
        uint64_t t0 = f->now;

        f->poll_ms = 100;
        f->busy_us = 30u * 1000000u;
        T_OK(dfuse_mass_erase(d, &e), e);
        T_ASSERT(f->now - t0 >= 30u * 1000000u);
        /* a held early GETSTATUS got a USB timeout covering the remaining ceiling */
        if (early)
            T_EQ_INT(f->count[DFUI_REQ_GETSTATUS], 2);
        dfu_dev_close(d);
        fake_free(f);
    }
    /* busier than the ceiling while holding the answer: TIMEOUT at the ceiling */
    {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_EARLY);
        uint64_t t0 = f->now;

        f->busy_us = 60u * 1000000u;
        T_EQ_INT(dfuse_mass_erase(d, &e), DFU_E_TIMEOUT);
        T_ASSERT(f->now - t0 <=
                 (uint64_t)(DFUSE_CEIL_MASS_ERASE_MS + DFUI_HOLD_MARGIN_MS) * 1000u + 10000u);
        dfu_dev_close(d);
        fake_free(f);
    }
    return 0;
}

/* Command confirmation: first GETSTATUS must be dfuDNBUSY; errors carry status/state/address. */
static int test_command_errors(void)
{
    struct fdev *f = fake_new(1, 1024);
    uint8_t cmds[8];
    size_t n = 0;
    struct dfu_err e;
    dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

    T_ASSERT(d != NULL);
    dfu_err_clear(&e);
    f->fail_status = DFU_STATUS_ERR_ERASE;
    f->fail_job = f->jobs + 1;
    T_EQ_INT(dfuse_erase_page(d, 0x08004000, &e), DFU_E_STATUS);
    T_EQ_STR(e.msg, "erase 0x08004000: device reported errERASE (dfuERROR)");
    T_EQ_INT(e.dfu_status, DFU_STATUS_ERR_ERASE);
    T_EQ_INT(e.dfu_state, DFU_STATE_ERROR);
    T_EQ_INT(e.addr, 0x08004000);
    T_EQ_INT(e.has_addr, 1);
    f->fail_status = 0;
    /* next command recovers first: exactly one CLRSTATUS, sent in dfuERROR */
    T_OK(dfuse_set_address(d, MEM_BASE, &e), e);
    T_EQ_INT(f->count[DFUI_REQ_CLRSTATUS], 1);
    T_EQ_INT(f->bad_clrstatus, 0);
    /* an unknown command: errTARGET */
    {
        uint8_t bad[1] = {0x55};

        T_EQ_INT(dfuse_command(d, bad, 1, 1000, &e), DFU_E_STATUS);
        T_ASSERT(strstr(e.msg, "command 0x55") != NULL);
        T_ASSERT(strstr(e.msg, "errTARGET") != NULL);
    }
    /* GET_COMMANDS from dfuIDLE */
    T_OK(dfuse_get_commands(d, cmds, sizeof cmds, &n, &e), e);
    T_EQ_INT(n, 4);
    T_EQ_INT(cmds[1], 0x21);
    T_EQ_INT(f->log[f->nlog - 1].req, DFUI_REQ_UPLOAD);
    T_EQ_INT(f->log[f->nlog - 1].value, 0);
    T_EQ_INT(f->log[f->nlog - 1].state, DFU_STATE_IDLE);
    /* first status not dfuDNBUSY (a device that finishes at once) is a protocol error */
    f->busy_us = 0;
    {
        struct dfu_status st;

        T_OK(dfu_dnload(d, 0, (const uint8_t *)"\x21\x00\x00\x00\x08", 5, &e), e);
        T_OK(dfu_getstatus(d, &st, &e), e);
        T_EQ_INT(st.state, DFU_STATE_DNBUSY);
        T_OK(dfu_getstatus(d, &st, &e), e);
        T_EQ_INT(st.state, DFU_STATE_DNLOAD_IDLE);
    }
    T_EQ_INT(f->bad_clrstatus, 0);
    dfu_dev_close(d);
    fake_free(f);
    return 0;
}

/* abort_to_idle from every reachable state; CLRSTATUS only in dfuERROR. */
static int test_abort_to_idle(void)
{
    static const uint8_t states[] = {
        DFU_STATE_IDLE,        DFU_STATE_DNLOAD_SYNC, DFU_STATE_DNBUSY,       DFU_STATE_DNLOAD_IDLE,
        DFU_STATE_UPLOAD_IDLE, DFU_STATE_ERROR,       DFU_STATE_MANIFEST_SYNC};
    struct dfu_err e;

    dfu_err_clear(&e);
    for (size_t i = 0; i < sizeof states; i++) {
        for (int early = 0; early < 2; early++) {
            struct fdev *f = fake_new(1, 1024);
            dfu_dev *d = open_fake(f, early ? DFU_POLL_EARLY : DFU_POLL_SPEC);

            f->state = states[i];
            if (states[i] == DFU_STATE_DNBUSY)
                f->busy_until = f->now + 50000;
            if (states[i] == DFU_STATE_DNLOAD_SYNC || states[i] == DFU_STATE_DNBUSY) {
                f->job[0] = 0x41;
                f->joblen = 5;
            }
            if (states[i] == DFU_STATE_ERROR)
                f->status = DFU_STATUS_ERR_TARGET;
            T_OK(dfu_abort_to_idle(d, &e), e);
            if (f->count[DFUI_REQ_CLRSTATUS] != (states[i] == DFU_STATE_ERROR))
                fprintf(stderr, "from %s (%s polling)\n", dfu_state_name(states[i]),
                        early ? "early" : "spec");
            T_EQ_INT(f->state, DFU_STATE_IDLE);
            T_EQ_INT(f->status, 0);
            T_EQ_INT(f->bad_clrstatus, 0);
            T_EQ_INT(f->count[DFUI_REQ_CLRSTATUS], states[i] == DFU_STATE_ERROR ? 1 : 0);
            for (size_t k = 0; k < f->nlog; k++) {
                if (f->log[k].req == DFUI_REQ_CLRSTATUS)
                    T_EQ_INT(f->log[k].state, DFU_STATE_ERROR);
                if (f->log[k].req == DFUI_REQ_ABORT)
                    T_ASSERT(f->log[k].state != DFU_STATE_ERROR);
            }
            T_EQ_INT(f->stalls, 0);
            dfu_dev_close(d);
            fake_free(f);
        }
    }
    /* a device stuck in a state it cannot leave */
    {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_SPEC);

        f->state = DFU_STATE_APP_IDLE;
        T_EQ_INT(dfu_abort_to_idle(d, &e), DFU_E_PROTOCOL);
        T_ASSERT(strstr(e.msg, "appIDLE") != NULL);
        dfu_dev_close(d);
        fake_free(f);
    }
    return 0;
}

/* Leave: SET_ADDRESS, DNLOAD length 0, exactly one GETSTATUS, whatever happens to it. */
static int test_leave(void)
{
    struct dfu_status st;
    struct dfu_err e;
    int answered = -1;

    dfu_err_clear(&e);
    {
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

        T_OK(dfuse_leave(d, 0x08000000, &st, &answered, &e), e);
        T_EQ_INT(answered, 1);
        T_EQ_INT(st.state, DFU_STATE_MANIFEST);
        T_EQ_INT(f->ptr, 0x08000000);
        T_EQ_INT(f->nlog, 5);
        T_EQ_INT(f->log[3].req, DFUI_REQ_DNLOAD);
        T_EQ_INT(f->log[3].len, 0);
        T_EQ_INT(f->log[4].req, DFUI_REQ_GETSTATUS);
        T_EQ_INT(f->count[DFUI_REQ_DETACH], 0);
        dfu_dev_close(d);
        fake_free(f);
    }
    {
        /* the device is gone before the final status: expected end */
        struct fdev *f = fake_new(1, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_EARLY);

        T_OK(dfuse_set_address(d, 0x08001000, &e), e);
        f->nlog = 0;
        memset(f->count, 0, sizeof f->count);
        f->vanish_on_leave = 1;
        answered = -1;
        T_OK(dfuse_leave(d, 0x0800ba65, &st, &answered, &e), e);
        T_EQ_INT(answered, 0);
        T_EQ_INT(f->ptr, 0x0800ba65);
        /* two for SET_ADDRESS, exactly one after the zero-length DNLOAD */
        T_EQ_INT(f->count[DFUI_REQ_GETSTATUS], 3);
        T_EQ_INT(f->log[f->nlog - 1].req, DFUI_REQ_GETSTATUS);
        T_EQ_INT(f->log[f->nlog - 2].req, DFUI_REQ_DNLOAD);
        T_EQ_INT(f->log[f->nlog - 2].len, 0);
        dfu_dev_close(d);
        fake_free(f);
    }
    return 0;
}

/* Plain DFU 1.1: blocks from 0, zero-length DNLOAD with the next number, manifestation. */
static int test_plain_download(void)
{
    uint8_t data[5000], back[8192];
    struct dfu_err e;

    fill(data, sizeof data, 5);
    dfu_err_clear(&e);
    for (int mode = 0; mode < 3; mode++) {
        struct fdev *f = fake_new(0, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_SPEC);
        size_t got = 0;

        f->poll_ms = 5;
        f->busy_us = 3000;
        f->tolerant = mode == 0;
        f->drop_in_manifest = mode == 2;
        T_OK(dfu_download(d, data, sizeof data, NULL, &e), e);
        T_EQ_MEM(f->mem, data, sizeof data);
        /* blocks 0..4 with data, then block 5 with no data */
        {
            unsigned blk = 0;

            for (size_t i = 0; i < f->nlog; i++) {
                if (f->log[i].req != DFUI_REQ_DNLOAD)
                    continue;
                T_EQ_INT(f->log[i].value, blk);
                T_EQ_INT(f->log[i].len, blk < 4 ? 1024 : blk == 4 ? 904 : 0);
                blk++;
            }
            T_EQ_INT(blk, 6);
        }
        T_EQ_INT(f->manifest_polls, 1);
        T_EQ_INT(f->state, mode == 0   ? DFU_STATE_IDLE
                           : mode == 1 ? DFU_STATE_MANIFEST_WAIT_RESET
                                       : DFU_STATE_MANIFEST);
        T_EQ_INT(f->gone, mode == 2);
        if (mode == 0) {
            /* upload until a short frame */
            f->upload_size = sizeof data;
            T_OK(dfu_upload_all(d, back, sizeof back, &got, NULL, &e), e);
            T_EQ_INT(got, sizeof data);
            T_EQ_MEM(back, data, sizeof data);
            T_EQ_INT(f->state, DFU_STATE_IDLE);
            /* a cap below the image: stops there and aborts */
            T_OK(dfu_upload_all(d, back, 2048, &got, NULL, &e), e);
            T_EQ_INT(got, 2048);
            T_EQ_INT(f->state, DFU_STATE_IDLE);
            T_EQ_INT(f->stalls, 0);
        }
        dfu_dev_close(d);
        fake_free(f);
    }
    /* a failing block is reported with its offset */
    {
        struct fdev *f = fake_new(0, 1024);
        dfu_dev *d = open_fake(f, DFU_POLL_SPEC);

        f->fail_status = DFU_STATUS_ERR_WRITE;
        f->fail_job = 3;
        T_EQ_INT(dfu_download(d, data, sizeof data, NULL, &e), DFU_E_STATUS);
        T_ASSERT(strstr(e.msg, "block 2") != NULL);
        T_ASSERT(strstr(e.msg, "errWRITE") != NULL);
        dfu_dev_close(d);
        fake_free(f);
    }
    return 0;
}

static const struct t_case cases[] = {
    {"block_wrap", test_block_wrap},
    {"stream_continuation", test_stream_continuation},
    {"progress_cancel", test_progress_cancel},
    {"policies", test_policies},
    {"early_stall", test_early_stall},
    {"ceilings", test_ceilings},
    {"command_errors", test_command_errors},
    {"abort_to_idle", test_abort_to_idle},
    {"leave", test_leave},
    {"plain_download", test_plain_download},
    {NULL, NULL},
};
T_MAIN(cases)
