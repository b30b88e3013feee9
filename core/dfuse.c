/*
 * ST DfuSe extensions (AN3156, protocol.md 2): commands with their two-GETSTATUS
 * confirmation, block streaming with the address pointer set once per contiguous run, and
 * the leave sequence (protocol.md 2.7, design.md 6).
 */
#include <string.h>

#include "bytes.h"
#include "internal.h"

#define DFUSE_CMD_SET_ADDRESS 0x21
#define DFUSE_CMD_ERASE 0x41
#define DFUSE_CMD_READ_UNPROTECT 0x92

/* Last wBlockNum usable before the address pointer must be set again. */
#define DFUSE_LAST_BLOCK 0xFFFFu

void dfuse_stream_reset(dfu_dev *d)
{
    memset(&d->stream, 0, sizeof d->stream);
}

/* Before a DfuSe job: recover from an earlier failure, and leave dfuUPLOAD-IDLE (DNLOAD is not
 * accepted there). */
static int prepare(dfu_dev *d, struct dfu_err *err)
{
    int rc = dfui_check_cancel(d, err);

    if (rc != 0)
        return rc;
    if (d->recover) {
        dfuse_stream_reset(d);
        return dfu_abort_to_idle(d, err);
    }
    if (d->in_upload) {
        dfuse_stream_reset(d);
        rc = dfui_abort(d, err);
        if (rc != 0)
            d->recover = 1;
    }
    return rc;
}

static void set_addr(struct dfu_err *err, uint32_t addr)
{
    if (err != NULL) {
        err->addr = addr;
        err->has_addr = 1;
    }
}

/* DNLOAD(0, cmd), GETSTATUS (must be dfuDNBUSY: this starts the job), then poll until
 * dfuDNLOAD-IDLE/OK. */
static int command(dfu_dev *d, const uint8_t *cmd, size_t len, unsigned ceiling_ms,
                   struct dfu_err *err)
{
    struct dfu_status st;
    uint64_t start;
    int rc;

    rc = prepare(d, err);
    if (rc != 0)
        return rc;
    d->op = len > 0 && cmd[0] == DFUSE_CMD_ERASE ? DFUI_OP_ERASE : DFUI_OP_CMD;
    start = dfu_transport_now_us(d->t);
    rc = dfui_dnload(d, 0, cmd, len, err);
    if (rc == 0)
        rc = dfui_getstatus(d, &st, DFUI_CTRL_TIMEOUT_MS, err);
    if (rc == 0 && st.state != DFU_STATE_DNBUSY) {
        rc = dfui_status_error(&st, err);
        if (rc == DFU_E_PROTOCOL)
            dfu_err_set(err, rc, "expected dfuDNBUSY after the command, device is in %s",
                        dfu_state_name(st.state));
    }
    if (rc == 0)
        rc = dfui_poll(d, &st, start, ceiling_ms, 0, err);
    d->op = DFUI_OP_DATA;
    if (rc == 0 && (st.status != DFU_STATUS_OK || st.state != DFU_STATE_DNLOAD_IDLE))
        rc = dfui_status_error(&st, err);
    if (rc != 0)
        d->recover = 1;
    return rc;
}

int dfuse_command(dfu_dev *d, const uint8_t *cmd, size_t len, unsigned ceiling_ms,
                  struct dfu_err *err)
{
    int rc;

    dfuse_stream_reset(d);
    rc = command(d, cmd, len, ceiling_ms, err);
    if (rc != 0)
        return dfu_err_prefix(err, "command 0x%02x", len > 0 ? cmd[0] : 0);
    return 0;
}

static int set_address(dfu_dev *d, uint32_t addr, struct dfu_err *err)
{
    uint8_t cmd[5] = {DFUSE_CMD_SET_ADDRESS};
    int rc;

    dfui_put32(cmd + 1, addr);
    rc = command(d, cmd, sizeof cmd, DFUSE_CEIL_SET_ADDRESS_MS, err);
    if (rc != 0) {
        set_addr(err, addr);
        return dfu_err_prefix(err, "set address 0x%08x", (unsigned)addr);
    }
    return 0;
}

int dfuse_set_address(dfu_dev *d, uint32_t addr, struct dfu_err *err)
{
    dfuse_stream_reset(d);
    return set_address(d, addr, err);
}

int dfuse_erase_page(dfu_dev *d, uint32_t addr, struct dfu_err *err)
{
    uint8_t cmd[5] = {DFUSE_CMD_ERASE};
    int rc;

    dfuse_stream_reset(d);
    dfui_put32(cmd + 1, addr);
    rc = command(d, cmd, sizeof cmd, DFUSE_CEIL_ERASE_MS, err);
    if (rc != 0) {
        set_addr(err, addr);
        return dfu_err_prefix(err, "erase 0x%08x", (unsigned)addr);
    }
    return 0;
}

int dfuse_mass_erase(dfu_dev *d, struct dfu_err *err)
{
    uint8_t cmd[1] = {DFUSE_CMD_ERASE};
    int rc;

    dfuse_stream_reset(d);
    /* STM32F405: reports bwPollTimeout 100 ms for a mass erase that takes up to ~32 s; the
     * ceiling covers the real duration. */
    rc = command(d, cmd, sizeof cmd, DFUSE_CEIL_MASS_ERASE_MS, err);
    if (rc != 0)
        return dfu_err_prefix(err, "mass erase");
    return 0;
}

int dfuse_read_unprotect(dfu_dev *d, struct dfu_err *err)
{
    uint8_t cmd[1] = {DFUSE_CMD_READ_UNPROTECT};
    struct dfu_status st;
    int rc;

    dfuse_stream_reset(d);
    rc = prepare(d, err);
    if (rc == 0)
        rc = dfui_dnload(d, 0, cmd, sizeof cmd, err);
    if (rc == 0)
        rc = dfui_getstatus(d, &st, DFUI_CTRL_TIMEOUT_MS, err);
    if (rc == 0 && st.state != DFU_STATE_DNBUSY)
        rc = dfui_status_error(&st, err);
    if (rc != 0) {
        d->recover = 1;
        return dfu_err_prefix(err, "read unprotect");
    }
    /* The device now erases everything and resets; no further status comes. */
    d->recover = 1;
    return 0;
}

int dfuse_get_commands(dfu_dev *d, uint8_t *cmds, size_t cap, size_t *n, struct dfu_err *err)
{
    size_t got = 0;
    int rc;

    *n = 0;
    dfuse_stream_reset(d);
    rc = dfui_check_cancel(d, err);
    if (rc == 0)
        rc = dfu_abort_to_idle(d, err);
    if (rc == 0)
        rc = dfui_upload(d, 0, cmds, cap, &got, err);
    if (rc != 0) {
        d->recover = 1;
        return dfu_err_prefix(err, "get commands");
    }
    d->in_upload = 1;
    *n = got;
    return 0;
}

/* Whether the block at @addr continues the stream in direction @dir. */
static int continues(const dfu_dev *d, enum dfui_stream_dir dir, uint32_t addr)
{
    return d->stream.dir == dir && d->stream.next_addr == addr &&
           d->stream.next_block <= DFUSE_LAST_BLOCK;
}

static void stream_advance(dfu_dev *d, size_t n, size_t xfer)
{
    d->stream.next_block++;
    d->stream.next_addr += (uint32_t)n;
    /* Block addresses are pointer + (block - 2) * wTransferSize: only full blocks can be
     * followed by another block of the same run. */
    if (n != xfer)
        dfuse_stream_reset(d);
}

/* A streamed transfer that stopped at @at: the next one starts with a SET_ADDRESS, and the
 * error names the address. */
static int stream_stopped(dfu_dev *d, struct dfu_err *err, const char *what, uint32_t at)
{
    dfuse_stream_reset(d);
    set_addr(err, at);
    return dfu_err_prefix(err, "%s 0x%08x", what, (unsigned)at);
}

static int check_args(dfu_dev *d, uint32_t addr, size_t len, const char *what, struct dfu_err *err)
{
    if (d->info.transfer_size == 0)
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "%s: device reports wTransferSize 0", what);
    if (len > 0xFFFFFFFFu || (uint64_t)addr + len > 0x100000000ull)
        return dfu_err_set(err, DFU_E_RANGE, "%s 0x%08x: %zu bytes run past the 32-bit space", what,
                           (unsigned)addr, len);
    return 0;
}

int dfuse_write(dfu_dev *d, uint32_t addr, const uint8_t *data, size_t len,
                const struct dfu_progress *progress, struct dfu_err *err)
{
    size_t xfer = d->info.transfer_size, done = 0;
    int rc = check_args(d, addr, len, "write", err);

    if (rc != 0)
        return rc;
    while (done < len) {
        uint32_t cur = addr + (uint32_t)done;
        size_t n = len - done < xfer ? len - done : xfer;
        struct dfu_status st;

        rc = prepare(d, err);
        if (rc != 0)
            break;
        if (!continues(d, DFUI_STREAM_WRITE, cur)) {
            dfuse_stream_reset(d);
            rc = set_address(d, cur, err);
            if (rc != 0)
                return rc;
            d->stream.dir = DFUI_STREAM_WRITE;
            d->stream.base = cur;
            d->stream.next_addr = cur;
            d->stream.next_block = 2;
        }
        rc = dfui_dnload(d, (uint16_t)d->stream.next_block, data + done, n, err);
        if (rc == 0)
            rc = dfu_wait_status(d, &st, DFUSE_CEIL_WRITE_MS, err);
        if (rc == 0 && st.state != DFU_STATE_DNLOAD_IDLE)
            rc = dfui_status_error(&st, err);
        if (rc != 0) {
            d->recover = 1;
            break;
        }
        stream_advance(d, n, xfer);
        done += n;
        dfu_progress_report(progress, "write", done, len);
    }
    return rc != 0 ? stream_stopped(d, err, "write", addr + (uint32_t)done) : 0;
}

int dfuse_read(dfu_dev *d, uint32_t addr, uint8_t *buf, size_t len,
               const struct dfu_progress *progress, struct dfu_err *err)
{
    size_t xfer = d->info.transfer_size, done = 0;
    int rc = check_args(d, addr, len, "read", err);

    if (rc != 0)
        return rc;
    while (done < len) {
        uint32_t cur = addr + (uint32_t)done;
        size_t n = len - done < xfer ? len - done : xfer, got = 0;

        rc = dfui_check_cancel(d, err);
        if (rc != 0)
            break;
        if (!continues(d, DFUI_STREAM_READ, cur) || d->recover) {
            dfuse_stream_reset(d);
            rc = set_address(d, cur, err);
            if (rc != 0)
                return rc;
            /* dfuDNLOAD-IDLE -> dfuIDLE: UPLOAD is accepted only there. */
            rc = dfui_abort(d, err);
            if (rc != 0) {
                d->recover = 1;
                break;
            }
            d->stream.dir = DFUI_STREAM_READ;
            d->stream.base = cur;
            d->stream.next_addr = cur;
            d->stream.next_block = 2;
        }
        rc = dfui_upload(d, (uint16_t)d->stream.next_block, buf + done, n, &got, err);
        if (rc == 0)
            d->in_upload = 1;
        if (rc == 0 && got != n)
            rc = dfu_err_set(err, DFU_E_IO, "short read: %zu of %zu bytes", got, n);
        if (rc != 0) {
            d->recover = 1;
            break;
        }
        stream_advance(d, n, xfer);
        done += n;
        dfu_progress_report(progress, "read", done, len);
    }
    return rc != 0 ? stream_stopped(d, err, "read", addr + (uint32_t)done) : 0;
}

int dfuse_leave(dfu_dev *d, uint32_t addr, struct dfu_status *st, int *answered,
                struct dfu_err *err)
{
    struct dfu_status s;
    int rc;

    *answered = 0;
    dfuse_stream_reset(d);
    /* Always set the pointer: without it the ROM jumps to the start of the last block
     * written. */
    rc = set_address(d, addr, err);
    if (rc != 0)
        return dfu_err_prefix(err, "leave");
    rc = dfui_dnload(d, 2, NULL, 0, err);
    if (rc != 0 && (d->quirks & DFUI_QUIRK_DFUSE_LEAVE) &&
        (rc == DFU_E_PIPE || rc == DFU_E_IO || rc == DFU_E_NO_DEVICE || rc == DFU_E_TIMEOUT)) {
        /* GD32VF103: the device may leave on the zero-length DNLOAD before its status stage
         * (dfu-util QUIRK_DFUSE_LEAVE) */
        dfu_log_msg(&d->log, DFU_LOG_DEBUG, "leave: zero-length DNLOAD ended with %s (expected)",
                    dfu_err_name(rc));
        dfu_err_clear(err);
        d->recover = 1;
        return 0;
    }
    if (rc != 0) {
        d->recover = 1;
        set_addr(err, addr);
        return dfu_err_prefix(err, "leave 0x%08x", (unsigned)addr);
    }
    /* Exactly one GETSTATUS: the ROM tears USB down right after answering it (or before the
     * status stage completes), so a failure here is the expected end of the session. */
    rc = dfui_getstatus(d, &s, DFUI_CTRL_TIMEOUT_MS, err);
    d->recover = 1;
    if (rc == DFU_E_PIPE || rc == DFU_E_IO || rc == DFU_E_NO_DEVICE || rc == DFU_E_TIMEOUT) {
        dfu_log_msg(&d->log, DFU_LOG_DEBUG, "leave: final GETSTATUS ended with %s (expected)",
                    dfu_err_name(rc));
        dfu_err_clear(err);
        return 0;
    }
    if (rc != 0)
        return dfu_err_prefix(err, "leave 0x%08x", (unsigned)addr);
    *answered = 1;
    if (st != NULL)
        *st = s;
    if (s.status != DFU_STATUS_OK ||
        (s.state != DFU_STATE_MANIFEST && s.state != DFU_STATE_MANIFEST_SYNC &&
         s.state != DFU_STATE_MANIFEST_WAIT_RESET)) {
        rc = dfui_status_error(&s, err);
        set_addr(err, addr);
        return dfu_err_prefix(err, "leave 0x%08x refused", (unsigned)addr);
    }
    return 0;
}
