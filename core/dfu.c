/*
 * DFU 1.1 requests (protocol.md 1.2), GETSTATUS decoding, the poll loop with its per-device
 * policy, state recovery, the plain DFU 1.1 download/upload flows (protocol.md 1.7), the device
 * object with its alternate settings, and the run-time -> DFU mode detach.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "internal.h"

static const char *req_name(uint8_t r)
{
    static const char *const names[] = {"DETACH",    "DNLOAD",   "UPLOAD", "GETSTATUS",
                                        "CLRSTATUS", "GETSTATE", "ABORT"};

    return r < 7 ? names[r] : "REQ";
}

int dfui_check_cancel(dfu_dev *d, struct dfu_err *err)
{
    if (d->cancel != NULL && *d->cancel != 0)
        return dfu_err_set(err, DFU_E_INTERRUPTED, "interrupted");
    return 0;
}

int dfui_control(dfu_dev *d, const struct dfu_ctrl *req, uint8_t *data, size_t *len,
                 unsigned timeout_ms, struct dfu_err *err)
{
    size_t n = 0;
    int rc;

    d->transfers++;
    rc = d->t->ops->control(d->t, req, data, &n, timeout_ms, err);
    if (len != NULL)
        *len = n;
    if (rc == 0 && req->bmRequestType == 0xA1 && req->bRequest == DFUI_REQ_GETSTATUS) {
        /* logged by dfui_getstatus with the decoded status, still one line */
    } else if (req->bmRequestType == 0x21 || req->bmRequestType == 0xA1) {
        dfu_log_msg(&d->log, DFU_LOG_IO, "%s wValue=%u wLength=%u -> %s%s%zu",
                    req_name(req->bRequest), req->wValue, req->wLength,
                    rc == 0 ? "" : dfu_err_name(rc), rc == 0 ? "" : " ", n);
    } else {
        dfu_log_msg(&d->log, DFU_LOG_IO, "ctrl %02x/%02x wValue=0x%04x wIndex=%u wLength=%u -> %s",
                    req->bmRequestType, req->bRequest, req->wValue, req->wIndex, req->wLength,
                    dfu_err_name(rc));
    }
    if (rc != 0 && err != NULL && err->code != rc)
        err->code = rc;
    return rc;
}

static int class_out(dfu_dev *d, uint8_t req, uint16_t value, const uint8_t *data, size_t len,
                     struct dfu_err *err)
{
    struct dfu_ctrl c = {0x21, req, value, d->info.intf, (uint16_t)len};
    size_t n = 0;
    int rc;

    if (len > 0xFFFF)
        return dfu_err_set(err, DFU_E_INVALID, "%s: %zu bytes is too long", req_name(req), len);
    rc = dfui_control(d, &c, (uint8_t *)(uintptr_t)data, &n, DFUI_CTRL_TIMEOUT_MS, err);
    if (rc != 0)
        return dfu_err_prefix(err, "%s", req_name(req));
    if (n != len)
        return dfu_err_set(err, DFU_E_IO, "%s: sent %zu of %zu bytes", req_name(req), n, len);
    return 0;
}

static int class_in(dfu_dev *d, uint8_t req, uint16_t value, uint8_t *buf, size_t len, size_t *got,
                    unsigned timeout_ms, struct dfu_err *err)
{
    struct dfu_ctrl c = {0xA1, req, value, d->info.intf, (uint16_t)len};
    int rc;

    if (len > 0xFFFF)
        return dfu_err_set(err, DFU_E_INVALID, "%s: %zu bytes is too long", req_name(req), len);
    rc = dfui_control(d, &c, buf, got, timeout_ms, err);
    if (rc != 0)
        return dfu_err_prefix(err, "%s", req_name(req));
    return 0;
}

/* ---- raw requests ---- */

int dfui_dnload(dfu_dev *d, uint16_t block, const uint8_t *data, size_t len, struct dfu_err *err)
{
    return class_out(d, DFUI_REQ_DNLOAD, block, data, len, err);
}

int dfui_upload(dfu_dev *d, uint16_t block, uint8_t *buf, size_t len, size_t *got,
                struct dfu_err *err)
{
    return class_in(d, DFUI_REQ_UPLOAD, block, buf, len, got, DFUI_CTRL_TIMEOUT_MS, err);
}

int dfui_getstatus(dfu_dev *d, struct dfu_status *st, unsigned timeout_ms, struct dfu_err *err)
{
    uint8_t b[6];
    size_t got = 0;
    int rc;

    rc = class_in(d, DFUI_REQ_GETSTATUS, 0, b, sizeof b, &got, timeout_ms, err);
    if (rc != 0)
        return rc;
    if (got < sizeof b) {
        dfu_log_msg(&d->log, DFU_LOG_IO, "GETSTATUS -> short reply %zu", got);
        return dfu_err_set(err, DFU_E_IO, "GETSTATUS: short reply (%zu of 6 bytes)", got);
    }
    st->status = b[0];
    st->poll_timeout = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16;
    st->state = b[4];
    st->istring = b[5];
    if (d->quirks & DFUI_QUIRK_POLLTIMEOUT)
        st->poll_timeout = 5;
    if (err != NULL) {
        err->dfu_status = st->status;
        err->dfu_state = st->state;
    }
    dfu_log_msg(&d->log, DFU_LOG_IO, "GETSTATUS -> %s %s poll %u ms", dfu_status_name(st->status),
                dfu_state_name(st->state), (unsigned)st->poll_timeout);
    return 0;
}

int dfui_abort(dfu_dev *d, struct dfu_err *err)
{
    int rc = class_out(d, DFUI_REQ_ABORT, 0, NULL, 0, err);

    if (rc == 0)
        d->in_upload = 0;
    return rc;
}

/* ---- public requests: everything but GETSTATUS/GETSTATE ends a DfuSe stream ---- */

int dfu_detach(dfu_dev *d, uint16_t timeout_ms, struct dfu_err *err)
{
    dfuse_stream_reset(d);
    return class_out(d, DFUI_REQ_DETACH, timeout_ms, NULL, 0, err);
}

int dfu_dnload(dfu_dev *d, uint16_t block, const uint8_t *data, size_t len, struct dfu_err *err)
{
    dfuse_stream_reset(d);
    return dfui_dnload(d, block, data, len, err);
}

int dfu_upload(dfu_dev *d, uint16_t block, uint8_t *buf, size_t len, size_t *got,
               struct dfu_err *err)
{
    size_t n = 0;
    int rc;

    dfuse_stream_reset(d);
    rc = dfui_upload(d, block, buf, len, &n, err);
    if (got != NULL)
        *got = n;
    if (rc == 0)
        d->in_upload = 1;
    return rc;
}

int dfu_getstatus(dfu_dev *d, struct dfu_status *st, struct dfu_err *err)
{
    return dfui_getstatus(d, st, DFUI_CTRL_TIMEOUT_MS, err);
}

int dfu_clrstatus(dfu_dev *d, struct dfu_err *err)
{
    dfuse_stream_reset(d);
    return class_out(d, DFUI_REQ_CLRSTATUS, 0, NULL, 0, err);
}

int dfu_getstate(dfu_dev *d, uint8_t *state, struct dfu_err *err)
{
    size_t got = 0;
    int rc = class_in(d, DFUI_REQ_GETSTATE, 0, state, 1, &got, DFUI_CTRL_TIMEOUT_MS, err);

    if (rc == 0 && got != 1)
        return dfu_err_set(err, DFU_E_IO, "GETSTATE: empty reply");
    return rc;
}

int dfu_abort(dfu_dev *d, struct dfu_err *err)
{
    dfuse_stream_reset(d);
    return dfui_abort(d, err);
}

/* ---- status judgement and polling ---- */

int dfui_status_error(const struct dfu_status *st, struct dfu_err *err)
{
    if (err != NULL) {
        err->dfu_status = st->status;
        err->dfu_state = st->state;
    }
    if (st->status != DFU_STATUS_OK)
        return dfu_err_set(err, DFU_E_STATUS, "device reported %s (%s)",
                           dfu_status_name(st->status), dfu_state_name(st->state));
    return dfu_err_set(err, DFU_E_PROTOCOL, "unexpected state %s", dfu_state_name(st->state));
}

int dfui_poll_early(const dfu_dev *d)
{
    return d->poll == DFU_POLL_EARLY && !(d->early_stalled & (d->op ? d->op : DFUI_OP_DATA));
}

/* The learned record for jobs of the current kind that report @poll, or NULL. @make: create
 * one (replacing the oldest) when missing. */
static struct dfui_learned *learned_for(dfu_dev *d, uint32_t poll, int make)
{
    unsigned op = d->op ? d->op : DFUI_OP_DATA;

    for (unsigned i = 0; i < DFUI_LEARNED; i++)
        if (d->learned[i].hi != 0 && d->learned[i].poll == poll && d->learned[i].op == op)
            return &d->learned[i];
    if (!make)
        return NULL;
    memmove(&d->learned[1], &d->learned[0], (DFUI_LEARNED - 1) * sizeof d->learned[0]);
    d->learned[0] = (struct dfui_learned){poll, op, 0, UINT64_MAX};
    return &d->learned[0];
}

static int still_busy(const struct dfu_status *st, int manifest)
{
    if (st->state == DFU_STATE_DNBUSY || st->state == DFU_STATE_DNLOAD_SYNC)
        return 1;
    return manifest && (st->state == DFU_STATE_MANIFEST || st->state == DFU_STATE_MANIFEST_SYNC);
}

int dfui_poll(dfu_dev *d, struct dfu_status *st, uint64_t start_us, unsigned ceiling_ms,
              int manifest, struct dfu_err *err)
{
    uint64_t deadline = start_us + (uint64_t)ceiling_ms * 1000u;
    /* Safety net for a clock that does not advance (a device answering dfuDNBUSY with
     * bwPollTimeout 0 forever, as the Black Magic Probe bootloader does, is otherwise bounded
     * by the ceiling on the transport clock). */
    uint64_t max_polls = (uint64_t)ceiling_ms * 16u + 1000u, polls = 0;
    uint32_t last_poll = st->poll_timeout, reported = st->poll_timeout;
    /* the job started when its first dfuDNBUSY status came back (now) */
    uint64_t t0 = dfu_transport_now_us(d->t);
    struct dfui_learned *lr = st->state == DFU_STATE_DNBUSY ? learned_for(d, reported, 0) : NULL;
    int stalls = 0, late = 0, resumed = 0;

    while (still_busy(st, manifest)) {
        struct dfu_status next;
        uint64_t now, sent;
        int rc;

        rc = dfui_check_cancel(d, err);
        if (rc != 0)
            return rc;
        now = dfu_transport_now_us(d->t);
        if (now >= deadline || ++polls > max_polls) {
            if (err != NULL) {
                err->dfu_status = st->status;
                err->dfu_state = st->state;
            }
            return dfu_err_set(err, DFU_E_TIMEOUT, "device still %s after %u ms",
                               dfu_state_name(st->state), ceiling_ms);
        }
        /* Spec policy: wait bwPollTimeout before asking again while the device is busy. Early
         * policy: ask at once; a device such as the STM32 ROM holds the answer until the job
         * ends. dfuDNLOAD-SYNC asks for a GETSTATUS without delay in either policy;
         * dfuMANIFEST is always waited out (the device may be about to drop off the bus).
         * A job of a kind whose bwPollTimeout proved too short is waited out for the time it
         * took before (halving the uncertainty each time), not the time reported.
         * The wait is cut at the ceiling, where one last GETSTATUS is sent. */
        if (resumed) {
            resumed = 0; /* the wait after a stalled poll is done */
        } else if (!(dfui_poll_early(d) && st->state == DFU_STATE_DNBUSY) &&
                   st->state != DFU_STATE_DNLOAD_SYNC && st->state != DFU_STATE_MANIFEST_SYNC) {
            uint64_t us = (uint64_t)st->poll_timeout * 1000u;

            if (lr != NULL && lr->hi != UINT64_MAX && st->state == DFU_STATE_DNBUSY) {
                uint64_t at = lr->hi - lr->lo > 200u ? lr->lo + (lr->hi - lr->lo) / 2u : lr->hi;
                if (at <= lr->lo || now - t0 >= at)
                    at = lr->hi > now - t0 ? lr->hi : now - t0;
                us = at - (now - t0);
            }
            if (us > deadline - now)
                us = deadline - now;
            if (us > 0)
                dfu_transport_sleep_us(d->t, us);
            now = dfu_transport_now_us(d->t);
        }
        sent = now;
        rc = dfui_getstatus(d, &next,
                            (unsigned)((now < deadline ? deadline - now + 999u : 0) / 1000u) +
                                DFUI_HOLD_MARGIN_MS,
                            err);
        if (rc == DFU_E_PIPE && stalls < DFUI_MAX_POLL_STALLS) {
            /* STM32L4: reports too short a bwPollTimeout for a page erase and stalls EP0 when
             * polled before it ends. Fall back to spec polling for this kind of job, wait and
             * ask again; remember that it was still busy. */
            uint64_t us = (uint64_t)(last_poll > 5 ? last_poll : 5) * 1000u
                          << (stalls < 4 ? stalls : 4);
            unsigned op = d->op ? d->op : DFUI_OP_DATA;

            stalls++;
            late = 1;
            if (reported != 0) {
                if (lr == NULL)
                    lr = learned_for(d, reported, 1);
                if (sent - t0 > lr->lo)
                    lr->lo = sent - t0;
            }
            if (d->poll == DFU_POLL_EARLY && !(d->early_stalled & op)) {
                d->early_stalled |= op;
                dfu_log_msg(&d->log, DFU_LOG_WARN,
                            "device stalled an early GETSTATUS; polling per bwPollTimeout");
            }
            now = dfu_transport_now_us(d->t);
            if (lr != NULL && lr->hi != UINT64_MAX) {
                if (lr->lo >= lr->hi)
                    lr->hi = UINT64_MAX; /* this one outlasted it: learn again */
                else
                    us = lr->hi > now - t0 ? lr->hi - (now - t0) : 0; /* done by then before */
            }
            if (us > (now < deadline ? deadline - now : 0))
                us = now < deadline ? deadline - now : 0;
            if (us > 0)
                dfu_transport_sleep_us(d->t, us);
            resumed = 1;
            continue;
        }
        if (rc != 0)
            return rc;
        if (next.state == DFU_STATE_DNBUSY && st->state == DFU_STATE_DNBUSY && late == 0 &&
            !dfui_poll_early(d) && reported != 0 && sent - t0 >= (uint64_t)reported * 1000u)
            late = 1; /* still busy after the time it asked for */
        if (lr != NULL && next.state == DFU_STATE_DNBUSY && sent - t0 > lr->lo)
            lr->lo = sent - t0;
        *st = next;
        if (st->poll_timeout > 0)
            last_poll = st->poll_timeout;
        if (!still_busy(st, manifest) && (late || lr != NULL) && reported != 0) {
            if (lr == NULL)
                lr = learned_for(d, reported, 1);
            if (sent - t0 < lr->hi)
                lr->hi = sent - t0;
        }
    }
    return 0;
}

int dfu_wait_status(dfu_dev *d, struct dfu_status *st, unsigned ceiling_ms, struct dfu_err *err)
{
    uint64_t start = dfu_transport_now_us(d->t);
    int rc;

    rc = dfui_getstatus(d, st, DFUI_CTRL_TIMEOUT_MS, err);
    if (rc == 0)
        rc = dfui_poll(d, st, start, ceiling_ms, 0, err);
    if (rc == 0 && st->status != DFU_STATUS_OK)
        rc = dfui_status_error(st, err);
    return rc;
}

int dfu_abort_to_idle(dfu_dev *d, struct dfu_err *err)
{
    struct dfu_status st;
    int rc;

    if (dfu_dev_is_dfuse(d)) {
        uint8_t state = 0;

        /* On a DfuSe ROM a GETSTATUS in dfuMANIFEST-SYNC is the leave command: look first
         * (GETSTATE has no side effects) and ABORT instead. */
        if (dfu_getstate(d, &state, NULL) == 0 && state == DFU_STATE_MANIFEST_SYNC) {
            rc = dfu_abort(d, err);
            if (rc != 0)
                return dfu_err_prefix(err, "abort to idle");
        }
    }
    for (int round = 0; round < 8; round++) {
        rc = dfu_getstatus(d, &st, err);
        if (rc != 0)
            return rc;
        switch (st.state) {
        case DFU_STATE_IDLE:
            d->recover = 0;
            d->in_upload = 0;
            return 0;
        case DFU_STATE_ERROR:
            /* The only state where CLRSTATUS is legal: ST's stack turns a CLRSTATUS in any
             * other state into errUNKNOWN/dfuERROR. */
            rc = dfu_clrstatus(d, err);
            break;
        case DFU_STATE_DNLOAD_IDLE:
        case DFU_STATE_UPLOAD_IDLE:
            rc = dfu_abort(d, err);
            break;
        case DFU_STATE_DNLOAD_SYNC:
        case DFU_STATE_DNBUSY:
        case DFU_STATE_MANIFEST_SYNC:
        case DFU_STATE_MANIFEST:
            rc = dfui_poll(d, &st, dfu_transport_now_us(d->t), DFUI_CEIL_IDLE_MS, 1, err);
            break;
        default:
            return dfu_err_set(err, DFU_E_PROTOCOL, "cannot bring the device to dfuIDLE from %s",
                               dfu_state_name(st.state));
        }
        if (rc != 0)
            return dfu_err_prefix(err, "abort to idle");
    }
    return dfu_err_set(err, DFU_E_PROTOCOL, "device does not reach dfuIDLE (last state %s)",
                       dfu_state_name(st.state));
}

/* ---- the device over a transport ---- */

#define MAX_ALTS 64

static void free_alts(dfu_dev *d)
{
    for (size_t i = 0; i < d->nalts; i++)
        dfu_layout_free(&d->alts[i].layout);
    free(d->alts);
    d->alts = NULL;
    d->nalts = 0;
}

void dfui_alt_init(struct dfu_alt *a, uint8_t alt, const char *name)
{
    a->alt = alt;
    snprintf(a->name, sizeof a->name, "%s", name);
    dfu_layout_free(&a->layout);
    a->has_layout = dfu_layout_parse(a->name, &a->layout, NULL) == 0;
}

/* Alternate settings of the claimed interface from the configuration descriptor, each with
 * its iInterface string. Falls back to the enumeration info alone when the transport cannot
 * serve descriptors. */
static int load_alts(dfu_dev *d, struct dfu_err *err)
{
    struct dfu_desc_alt da[MAX_ALTS];
    struct dfu_func_desc func;
    uint8_t *cfg = NULL;
    size_t cfglen = 0, n = 0, k = 0;
    uint16_t lang;

    if (dfui_get_config(d->t, &d->transfers, &cfg, &cfglen, NULL) != 0 ||
        dfu_desc_parse_config(cfg, cfglen, da, MAX_ALTS, &n, &func, NULL) != 0)
        n = 0;
    free(cfg);
    d->alts = calloc(n > 0 ? n : 1, sizeof *d->alts);
    if (d->alts == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    if (n == 0) {
        dfui_alt_init(&d->alts[0], d->info.alt, d->info.alt_name);
        d->nalts = 1;
        return 0;
    }
    if (d->info.transfer_size == 0 && func.length > 0) {
        d->info.transfer_size = func.transfer_size;
        d->info.bcd_dfu = func.bcd_dfu;
        d->info.attributes = func.attributes;
        d->info.detach_timeout = func.detach_timeout;
    }
    lang = dfui_get_langid(d->t, &d->transfers);
    for (size_t i = 0; i < n; i++) {
        char name[256];

        if (da[i].intf != d->info.intf)
            continue;
        if (dfui_get_string(d->t, &d->transfers, da[i].iinterface, lang, name, sizeof name, NULL) !=
            0)
            snprintf(name, sizeof name, "%s", da[i].alt == d->info.alt ? d->info.alt_name : "");
        dfui_alt_init(&d->alts[k], da[i].alt, name);
        k++;
    }
    d->nalts = k;
    return 0;
}

int dfu_dev_open(struct dfu_transport *t, const struct dfu_devinfo *info, dfu_dev **out,
                 struct dfu_err *err)
{
    dfu_dev *d;
    int rc;

    *out = NULL;
    d = calloc(1, sizeof *d);
    if (d == NULL) {
        t->ops->close(t);
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    }
    d->t = t;
    d->info = *info;
    d->alt = info->alt;
    d->quirks = dfui_quirks(info->vid, info->pid, info->bcd_device);
    d->poll = (d->quirks & DFUI_QUIRK_EARLY_POLL) ? DFU_POLL_EARLY : DFU_POLL_SPEC;
    if ((d->quirks & DFUI_QUIRK_FORCE_DFU11) && d->info.bcd_dfu != 0x011A)
        d->info.bcd_dfu = 0x0110;
    rc = load_alts(d, err);
    if (rc == 0) {
        d->transfers++;
        rc = t->ops->claim(t, info->intf, info->alt, err);
        if (rc != 0)
            dfu_err_prefix(err, "claim interface %u alt %u", info->intf, info->alt);
    }
    if (rc != 0) {
        dfu_dev_close(d);
        return rc;
    }
    for (size_t i = 0; i < d->nalts; i++) {
        if (d->alts[i].alt == d->alt && d->alts[i].name[0] != '\0')
            snprintf(d->info.alt_name, sizeof d->info.alt_name, "%s", d->alts[i].name);
    }
    *out = d;
    return 0;
}

void dfu_dev_close(dfu_dev *d)
{
    if (d == NULL)
        return;
    free_alts(d);
    if (d->t != NULL)
        d->t->ops->close(d->t);
    d->t = NULL;
    free(d);
}

/* ---- device accessors ---- */

const struct dfu_devinfo *dfu_dev_info(const dfu_dev *d)
{
    return &d->info;
}

struct dfu_transport *dfu_dev_transport(dfu_dev *d)
{
    return d->t;
}

const struct dfu_alt *dfu_dev_alts(const dfu_dev *d, size_t *n)
{
    if (n != NULL)
        *n = d->nalts;
    return d->alts;
}

uint8_t dfu_dev_alt(const dfu_dev *d)
{
    return d->alt;
}

int dfu_dev_set_alt(dfu_dev *d, uint8_t alt, struct dfu_err *err)
{
    int rc;

    /* SET_INTERFACE does not change the DFU state: a pending dfuUPLOAD-IDLE still needs its
     * ABORT before the next download. */
    dfuse_stream_reset(d);
    rc = d->t->ops->claim(d->t, d->info.intf, alt, err);
    d->transfers++;
    if (rc != 0)
        return dfu_err_prefix(err, "select alt %u", alt);
    d->alt = alt;
    d->info.alt = alt;
    for (size_t i = 0; i < d->nalts; i++) {
        if (d->alts[i].alt == alt)
            snprintf(d->info.alt_name, sizeof d->info.alt_name, "%s", d->alts[i].name);
    }
    return 0;
}

/* ---- alternate settings by number or name ---- */

/* How well @want names @a: 2 its number, or equal to its name or layout name; 1 a prefix of
 * one of those; 0 not at all. A leading '@' counts on neither side. */
static int alt_rank(const struct dfu_alt *a, const char *want, int num)
{
    const char *names[2] = {a->name + (a->name[0] == '@'), a->has_layout ? a->layout.name : ""};
    size_t n;
    int best = 0;

    if (num >= 0)
        return a->alt == num ? 2 : 0;
    want += want[0] == '@';
    n = strlen(want);
    for (int i = 0; i < 2; i++) {
        if (names[i][0] != '\0' && strncasecmp(names[i], want, n) == 0)
            best = names[i][n] == '\0' ? 2 : best > 1 ? best : 1;
    }
    return best;
}

int dfu_alt_match(const struct dfu_alt *alts, size_t n, const char *want, size_t *index,
                  struct dfu_err *err)
{
    char list[DFU_ERR_MSG_MAX] = "";
    size_t used = 0, count = 0;
    int num = -1, best = 0;

    if (want[0] != '\0' && strspn(want, "0123456789") == strlen(want))
        num = strlen(want) > 3 ? 256 : atoi(want);
    for (size_t i = 0; i < n; i++)
        if (alt_rank(&alts[i], want, num) > best)
            best = alt_rank(&alts[i], want, num);
    for (size_t i = 0; i < n; i++) {
        if (best > 0 && alt_rank(&alts[i], want, num) != best)
            continue;
        if (count++ == 0)
            *index = i;
        if (used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%u (%s)",
                                     used > 0 ? ", " : "", (unsigned)alts[i].alt, alts[i].name);
    }
    if (best == 0)
        return dfu_err_set(err, DFU_E_NOT_FOUND, "no alt setting '%s' on this device; it has: %s",
                           want, n > 0 ? list : "none");
    if (count > 1)
        return dfu_err_set(err, DFU_E_AMBIGUOUS, "alt setting '%s' is ambiguous: %s", want, list);
    return 0;
}

int dfu_dev_find_alt(const dfu_dev *d, const char *want, uint8_t *alt, struct dfu_err *err)
{
    size_t i = 0;
    int rc = dfu_alt_match(d->alts, d->nalts, want, &i, err);

    if (rc == 0)
        *alt = d->alts[i].alt;
    return rc;
}

int dfu_dev_is_dfuse(const dfu_dev *d)
{
    return d->info.bcd_dfu == 0x011A;
}

void dfu_dev_set_log(dfu_dev *d, const struct dfu_log *log)
{
    if (log != NULL)
        d->log = *log;
    else
        memset(&d->log, 0, sizeof d->log);
}

void dfu_dev_set_poll(dfu_dev *d, enum dfu_poll_policy p)
{
    d->poll = p;
    d->early_stalled = 0;
}

enum dfu_poll_policy dfu_dev_poll(const dfu_dev *d)
{
    return d->poll == DFU_POLL_EARLY && d->early_stalled == 0 ? DFU_POLL_EARLY : DFU_POLL_SPEC;
}

void dfu_dev_set_waiter(dfu_dev *d,
                        void (*wait)(void *ud, struct dfu_transport *t, uint64_t until_us),
                        void *ud)
{
    d->t->waiter.wait = wait;
    d->t->waiter.ud = ud;
}

void dfu_dev_set_cancel(dfu_dev *d, volatile sig_atomic_t *flag)
{
    d->cancel = flag;
}

uint64_t dfu_dev_now_us(dfu_dev *d)
{
    return dfu_transport_now_us(d->t);
}

uint64_t dfu_dev_transfers(const dfu_dev *d)
{
    return d->transfers;
}

/* ---- plain DFU 1.1 flows ---- */

static int transfer_size(dfu_dev *d, struct dfu_err *err)
{
    /* On a DfuSe device block 0 is a command and block 1 is reserved: plain block numbering
     * would send the image as commands. */
    if (dfu_dev_is_dfuse(d))
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED,
                           "DfuSe device: use the DfuSe write/read (address-based) transfers");
    if (d->info.transfer_size == 0)
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "device reports wTransferSize 0");
    return d->info.transfer_size;
}

/* After the zero-length DNLOAD: wait for manifestation. A device that drops off the bus here
 * after a good data phase has finished (dfu-util: "unable to read DFU status after
 * completion"). */
static int manifest(dfu_dev *d, struct dfu_err *err)
{
    struct dfu_status st;
    uint64_t start = dfu_transport_now_us(d->t);
    int rc;

    rc = dfui_getstatus(d, &st, DFUI_CTRL_TIMEOUT_MS, err);
    if (rc == 0)
        rc = dfui_poll(d, &st, start, DFUI_CEIL_IDLE_MS, 1, err);
    if (rc == DFU_E_PIPE || rc == DFU_E_IO || rc == DFU_E_NO_DEVICE || rc == DFU_E_TIMEOUT) {
        dfu_log_msg(&d->log, DFU_LOG_INFO, "device left during manifestation (%s)",
                    dfu_err_name(rc));
        dfu_err_clear(err);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (st.status == DFU_STATUS_OK &&
        (st.state == DFU_STATE_IDLE || st.state == DFU_STATE_MANIFEST_WAIT_RESET))
        return 0;
    dfui_status_error(&st, err);
    return dfu_err_prefix(err, "manifestation");
}

/* Start a plain DFU download or upload: the transfer size (or a negative error), with the
 * DfuSe stream state forgotten and the device in dfuIDLE. */
static int begin_stream(dfu_dev *d, struct dfu_err *err)
{
    int xfer = transfer_size(d, err);
    int rc;

    if (xfer < 0)
        return xfer;
    dfuse_stream_reset(d);
    rc = dfu_abort_to_idle(d, err);
    return rc != 0 ? rc : xfer;
}

int dfu_download(dfu_dev *d, const uint8_t *data, size_t len, const struct dfu_progress *progress,
                 struct dfu_err *err)
{
    int xfer = begin_stream(d, err);
    uint16_t block = 0;
    size_t done = 0;
    int rc;

    if (xfer < 0)
        return xfer;
    while (done < len) {
        size_t n = len - done < (size_t)xfer ? len - done : (size_t)xfer;
        struct dfu_status st;

        rc = dfui_check_cancel(d, err);
        if (rc == 0)
            rc = dfui_dnload(d, block, data + done, n, err);
        if (rc == 0)
            rc = dfu_wait_status(d, &st, DFUSE_CEIL_ERASE_MS, err);
        if (rc == 0 && st.state != DFU_STATE_DNLOAD_IDLE)
            rc = dfui_status_error(&st, err);
        if (rc != 0) {
            d->recover = 1;
            return dfu_err_prefix(err, "download block %u (offset %zu)", block, done);
        }
        done += n;
        block++;
        dfu_progress_report(progress, "write", done, len);
    }
    rc = dfui_dnload(d, block, NULL, 0, err);
    if (rc == 0)
        rc = manifest(d, err);
    if (rc != 0) {
        d->recover = 1;
        return dfu_err_prefix(err, "end of download");
    }
    return 0;
}

int dfu_upload_all(dfu_dev *d, uint8_t *buf, size_t cap, size_t *got,
                   const struct dfu_progress *progress, struct dfu_err *err)
{
    int xfer;
    uint16_t block = 0;
    size_t done = 0;
    int rc;

    *got = 0;
    xfer = begin_stream(d, err);
    if (xfer < 0)
        return xfer;
    for (;;) {
        size_t want = cap - done < (size_t)xfer ? cap - done : (size_t)xfer;
        size_t n = 0;

        if (want == 0) {
            /* Stopped by the caller's limit, not by a short frame: leave dfuUPLOAD-IDLE. */
            rc = dfui_abort(d, err);
            break;
        }
        rc = dfui_check_cancel(d, err);
        if (rc == 0)
            rc = dfui_upload(d, block, buf + done, want, &n, err);
        if (rc != 0)
            break;
        d->in_upload = 1;
        done += n;
        block++;
        dfu_progress_report(progress, "read", done, cap);
        if (n < (size_t)xfer) {
            if (n == want && want < (size_t)xfer)
                rc = dfui_abort(d, err); /* our buffer, not the device, ended the frame */
            else
                d->in_upload = 0; /* a short frame ends the upload: dfuIDLE */
            break;
        }
    }
    *got = done;
    if (rc != 0) {
        d->recover = 1;
        return dfu_err_prefix(err, "upload at offset %zu", done);
    }
    return 0;
}

/* ---- run-time mode -> DFU mode ---- */

#define ATTR_WILL_DETACH 0x08u /* bmAttributes: the device detaches itself after DFU_DETACH */
#define REOPEN_POLL_MS 100u

int dfu_dev_detach_and_reopen(dfu_dev **d, unsigned timeout_ms, struct dfu_err *err)
{
    struct dfu_devinfo old = (*d)->info;
    uint16_t wait = old.detach_timeout != 0 ? old.detach_timeout : 1000;
    struct dfu_ctrl detach = {0x21, DFUI_REQ_DETACH, wait, old.intf, 0};
    struct dfu_devspec same; /* the device again: same backend, serial (else port path) */
    struct dfu_status st;
    const struct dfu_backend *be;
    uint64_t deadline;
    int rc;

    if (old.protocol == 2)
        return 0; /* already in DFU mode */
    /* GETSTATUS first; run-time devices may stall it (then they are in appIDLE) */
    (void)dfui_getstatus(*d, &st, 1000, NULL);
    rc = dfui_control(*d, &detach, NULL, NULL, 1000, err);
    if (rc != 0 && rc != DFU_E_NO_DEVICE && rc != DFU_E_IO && rc != DFU_E_PIPE)
        return dfu_err_prefix(err, "DFU_DETACH");
    /* without bitWillDetach the host resets the bus within wDetachTimeOut */
    if (!(old.attributes & ATTR_WILL_DETACH))
        dfu_transport_reset((*d)->t, NULL);
    be = dfui_backend(old.backend, strlen(old.backend));
    if (be != NULL && be->refind != NULL) {
        /* a device no device string finds again: follow it on its own transport */
        struct dfu_transport *t = (*d)->t;
        struct dfu_devinfo info;

        rc = be->refind(t, timeout_ms, &info, err);
        if (rc != 0)
            return rc;
        (*d)->t = NULL;
        dfu_dev_close(*d);
        return dfu_dev_open(t, &info, d, err);
    }
    dfu_dev_close(*d);
    memset(&same, 0, sizeof same);
    same.alt = -1;
    snprintf(same.backend, sizeof same.backend, "%s", old.backend);
    if (old.serial[0] != '\0')
        snprintf(same.serial, sizeof same.serial, "%s", old.serial);
    else
        snprintf(same.path, sizeof same.path, "%s", old.path);
    deadline = dfu_clock_now_us() + (uint64_t)timeout_ms * 1000u;
    while (dfui_open_spec(&same, 1, d, NULL) != 0) {
        if (dfu_clock_now_us() >= deadline)
            return dfu_err_set(err, DFU_E_TIMEOUT,
                               "%04x:%04x at %s did not come back in DFU mode within %u ms",
                               old.vid, old.pid, old.path, timeout_ms);
        dfu_clock_sleep_us(REOPEN_POLL_MS * 1000u);
    }
    return 0;
}
