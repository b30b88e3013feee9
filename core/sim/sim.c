/*
 * The device simulator: creation from a spec string, EP0 (standard requests and the DFU class
 * requests), the virtual clock and USB cost model, and the transport over it.
 *
 * Timing (design.md 5): every control transfer costs 1.0 ms plus 1.0 us per data byte. A job
 * (erase, program) starts when the first GETSTATUS reply has been sent; while it runs the ROM
 * does not serve EP0, so a request arriving then is answered when the job ends (or times out):
 * the host's SETUP is on the wire and its IN stage is NAKed until then, so the transfer's fixed
 * cost runs alongside the wait and the answer comes at max(sent + 1 ms, job end) + data time.
 *
 * Choices where the documents are silent (all marked "inferred" where they are made):
 * - illegal DFU requests set bStatus errSTALLEDPKT; an unknown DfuSe command gives errTARGET;
 * - a misaligned flash write gives errTARGET, later flash writes errPROG (AN2606 4.6);
 * - UPLOAD past the end of a region returns a short frame; outside any region, or on another
 *   alt's memory, it stalls with errTARGET; flash reads under RDP level 1 stall with errVENDOR;
 * - a disconnect fault that re-appears, and every reset that enters the ROM, give a fresh DFU
 *   state (dfuIDLE, pointer 0x08000000, alt 0, Device Feature x8); memory is kept;
 * - a USB bus reset re-initialises the DFU class only (the ROM keeps running).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

static void tick(dfu_sim *s)
{
    if (s->job_pending && s->now >= s->busy_until) {
        s->job_pending = 0;
        s->state = s->next_state;
        s->status = s->next_status;
    }
    if (s->reset_at != 0 && s->now >= s->reset_at) {
        uint64_t t = s->now;
        s->now = s->reset_at;
        s->reset_at = 0;
        simi_reset(s, s->reset_cause, 0);
        s->now = t;
    }
    if (s->reenum_at != 0 && s->now >= s->reenum_at) {
        uint64_t t = s->now;
        s->now = s->reenum_at;
        simi_enter_rom(s);
        simi_event(s, "\"ev\":\"enumerate\"");
        s->now = t;
    }
}

static int set_opt(dfu_sim *s, const char *key, const char *val, struct dfu_err *err)
{
    char *end = NULL;

    if (strcmp(key, "state") == 0 || strcmp(key, "events") == 0) {
        char **dst = key[0] == 's' ? &s->state_path : &s->events_path;
        free(*dst);
        *dst = malloc(strlen(val) + 1);
        if (*dst == NULL)
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        strcpy(*dst, val);
        return 0;
    }
    if (strcmp(key, "boot0") == 0) {
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
            return dfu_err_set(err, DFU_E_INVALID, "sim: boot0 must be 0 or 1, not '%s'", val);
        s->boot0 = val[0] - '0';
        return 0;
    }
    if (strcmp(key, "rom") == 0) {
        unsigned long v = strtoul(val, &end, 0);
        if (*val == '\0' || *end != '\0' || v > 0xFF)
            return dfu_err_set(err, DFU_E_INVALID, "sim: rom must be a byte like 0x91, not '%s'",
                               val);
        s->rom_id = (int)v;
        return 0;
    }
    if (strcmp(key, "jump") == 0) {
        if (strcmp(val, "vector") == 0)
            s->jump = SIM_JUMP_VECTOR;
        else if (strcmp(val, "branch") == 0)
            s->jump = SIM_JUMP_BRANCH;
        else if (strcmp(val, "reset") == 0)
            s->jump = SIM_JUMP_RESET;
        else
            return dfu_err_set(err, DFU_E_INVALID,
                               "sim: jump must be vector, branch or reset, not '%s'", val);
        if (s->jump == SIM_JUMP_VECTOR && s->p->core == SIM_CORE_RISCV)
            return dfu_err_set(err, DFU_E_INVALID,
                               "sim:%s: a RISC-V ROM has no vector table; jump must be branch "
                               "or reset",
                               s->p->name);
        return 0;
    }
    if (strcmp(key, "dnload_stall") == 0) {
        unsigned long v = strtoul(val, &end, 0);
        if (*val == '\0' || *end != '\0' || v > 1000000)
            return dfu_err_set(err, DFU_E_INVALID,
                               "sim: dnload_stall must be a block count like 37, not '%s'", val);
        s->dnload_stall = (unsigned)v;
        return 0;
    }
    if (strcmp(key, "runtime") == 0) {
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
            return dfu_err_set(err, DFU_E_INVALID, "sim: runtime must be 0 or 1, not '%s'", val);
        s->runtime = val[0] - '0';
        s->rt_state = DFU_STATE_APP_IDLE;
        return 0;
    }
    if (strcmp(key, "faults") == 0)
        return simi_faults_parse(s, val, err);
    return dfu_err_set(err, DFU_E_INVALID,
                       "sim: unknown key '%s' (state, events, boot0, rom, jump, faults, "
                       "dnload_stall, runtime)",
                       key);
}

static int parse_spec(dfu_sim *s, const char *spec, struct dfu_err *err)
{
    const char *p = strchr(spec, ',');
    char name[32];
    size_t n = p ? (size_t)(p - spec) : strlen(spec);

    if (strncmp(spec, "sim:", 4) == 0) {
        spec += 4;
        n -= 4;
    }
    if (n >= sizeof name)
        n = sizeof name - 1;
    memcpy(name, spec, n);
    name[n] = '\0';
    s->p = simi_profile_find(name);
    if (s->p == NULL) {
        char list[256];
        size_t o = 0;
        for (const char *const *nm = dfu_sim_profiles(); *nm != NULL && o < sizeof list; nm++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", *nm);
        return dfu_err_set(err, DFU_E_INVALID, "sim: unknown profile '%s' (%s)", name, list);
    }
    s->rom_id = s->p->id;
    s->jump = s->p->jumps[0];
    while (p != NULL) {
        const char *item = p + 1, *eq;
        char key[32], *val;
        int rc;
        p = strchr(item, ',');
        n = p ? (size_t)(p - item) : strlen(item);
        if (n == 0)
            continue;
        eq = memchr(item, '=', n);
        if (eq == NULL || (size_t)(eq - item) >= sizeof key)
            return dfu_err_set(err, DFU_E_INVALID, "sim: '%.*s' is not key=value", (int)n, item);
        memcpy(key, item, (size_t)(eq - item));
        key[eq - item] = '\0';
        val = malloc(n - (size_t)(eq - item));
        if (val == NULL)
            return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        memcpy(val, eq + 1, n - (size_t)(eq - item) - 1);
        val[n - (size_t)(eq - item) - 1] = '\0';
        rc = set_opt(s, key, val, err);
        free(val);
        if (rc != 0)
            return rc;
    }
    /* what the host sees: the profile, or the ROM build rom= names */
    s->alts[0] = s->alts[1] = s->alts[2] = s->alts[3] = NULL;
    for (unsigned i = 0; i < s->p->nalts; i++)
        s->alts[i] = s->p->alts[i];
    s->nalts = s->p->nalts;
    s->bcd_device = s->p->bcd_device;
    s->ob = s->p->ob;
    for (const struct sim_variant *v = s->p->variants; v != NULL && v->nalts != 0; v++) {
        if (v->id == s->rom_id) {
            s->variant = v;
            for (unsigned i = 0; i < v->nalts; i++)
                s->alts[i] = v->alts[i];
            s->nalts = v->nalts;
            s->bcd_device = v->bcd_device;
            if (v->no_ob)
                s->ob = NULL;
        }
    }
    return 0;
}

int dfu_sim_new(const char *spec, dfu_sim **out, struct dfu_err *err)
{
    dfu_sim *s = calloc(1, sizeof *s);
    int rc;

    *out = NULL;
    if (s == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    s->boot0 = 1;
    rc = parse_spec(s, spec != NULL ? spec : "", err);
    if (rc != 0)
        goto fail;
    s->xbuf = malloc(s->p->transfer_size);
    if (s->xbuf == NULL) {
        rc = dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        goto fail;
    }
    rc = simi_mem_init(s, err);
    if (rc == 0 && s->state_path != NULL)
        rc = simi_state_open(s, err);
    if (rc != 0)
        goto fail;
    if ((s->fflags & SIM_FF_RDP1) && simi_rdp_level(s) == 0)
        simi_set_rdp(s, 0xBB);
    rc = simi_state_sync(s, err);
    if (rc != 0)
        goto fail;
    if (s->events_path != NULL) {
        s->evf = fopen(s->events_path, "a");
        if (s->evf == NULL) {
            rc = dfu_err_set(err, DFU_E_IO, "sim: cannot open events file %s", s->events_path);
            goto fail;
        }
    }
    /* Power-on: the device starts in the ROM (boot0 is sampled at later resets), except that
     * RDP level 2 never lets the ROM run. */
    simi_event(s, "\"ev\":\"reset\",\"cause\":\"power_on\"");
    if (simi_rdp_level(s) == 2) {
        simi_reset(s, "rdp2", 0);
    } else {
        simi_enter_rom(s);
    }
    *out = s;
    return 0;
fail:
    dfu_sim_free(s); /* a state file that failed to load was never opened: it stays as it is */
    return rc;
}

void dfu_sim_free(dfu_sim *s)
{
    if (s == NULL)
        return;
    simi_state_close(s);
    simi_mem_free(s);
    simi_events_free(s);
    free(s->state_path);
    free(s->events_path);
    free(s->xbuf);
    free(s);
}

int dfu_sim_save(dfu_sim *s, struct dfu_err *err)
{
    if (s->state_path == NULL)
        return dfu_err_set(err, DFU_E_INVALID, "sim: no state= file given");
    return simi_state_save(s, err);
}

const char *dfu_sim_profile(const dfu_sim *s)
{
    return s->p->name;
}

uint64_t dfu_sim_now_us(const dfu_sim *s)
{
    return s->now;
}

void dfu_sim_advance(dfu_sim *s, uint64_t us)
{
    s->now += us;
    tick(s);
}

enum dfu_sim_mode dfu_sim_mode(const dfu_sim *s)
{
    return s->mode;
}

uint64_t dfu_sim_reenumerate_at(const dfu_sim *s)
{
    return s->reenum_at;
}

uint8_t dfu_sim_dfu_state(const dfu_sim *s)
{
    return s->state;
}

const char *dfu_sim_leave_outcome(const dfu_sim *s)
{
    return s->leave_outcome[0] ? s->leave_outcome : NULL;
}

/* ---- EP0 ---- */

static enum sim_req classify(const struct dfu_ctrl *req)
{
    static const enum sim_req std[12] = {
        SIM_R_GET_STATUS,        SIM_R_CLEAR_FEATURE, SIM_R_OTHER,
        SIM_R_SET_FEATURE,       SIM_R_OTHER,         SIM_R_SET_ADDRESS,
        SIM_R_GET_DESCRIPTOR,    SIM_R_OTHER,         SIM_R_GET_CONFIGURATION,
        SIM_R_SET_CONFIGURATION, SIM_R_GET_INTERFACE, SIM_R_SET_INTERFACE};
    unsigned type = req->bmRequestType & 0x60u;

    if (type == 0x00 && req->bRequest < 12)
        return std[req->bRequest];
    if (type == 0x20 && req->bRequest <= 6)
        return (enum sim_req)(SIM_R_DETACH + req->bRequest);
    return SIM_R_OTHER;
}

static int is_dfu(const struct dfu_ctrl *req)
{
    return (req->bmRequestType & 0x60u) == 0x20 && (req->bmRequestType & 0x1Fu) == 1;
}

static int standard(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len)
{
    unsigned rcpt = req->bmRequestType & 0x1Fu, in = req->bmRequestType & 0x80u;

    *len = 0;
    if ((req->bmRequestType & 0x60u) != 0)
        return DFU_E_PIPE; /* vendor requests: none */
    switch (req->bRequest) {
    case 0: /* GET_STATUS: self-powered device, nothing halted */
        if (!in || req->wLength < 2)
            return DFU_E_PIPE;
        data[0] = rcpt == 0 ? 0x01 : 0x00;
        data[1] = 0;
        *len = 2;
        return 0;
    case 1: /* CLEAR_FEATURE */
    case 3: /* SET_FEATURE */
    case 5: /* SET_ADDRESS (the gadget's UDC normally handles it) */
        return in ? DFU_E_PIPE : 0;
    case 6: { /* GET_DESCRIPTOR */
        int n;
        if (!in || (rcpt != 0 && rcpt != 1))
            return DFU_E_PIPE;
        if (rcpt == 1 && (req->wValue >> 8) != 0x21)
            return DFU_E_PIPE;
        n = simi_descriptor(s, (uint8_t)(req->wValue >> 8), (uint8_t)req->wValue, req->wIndex, data,
                            req->wLength);
        if (n < 0)
            return DFU_E_PIPE;
        *len = (size_t)n < req->wLength ? (size_t)n : req->wLength;
        return 0;
    }
    case 8: /* GET_CONFIGURATION */
        if (!in || req->wLength < 1)
            return DFU_E_PIPE;
        data[0] = s->configured;
        *len = 1;
        return 0;
    case 9: /* SET_CONFIGURATION */
        if (in || req->wValue > 1)
            return DFU_E_PIPE;
        s->configured = (uint8_t)req->wValue;
        s->alt = 0;
        return 0;
    case 10: /* GET_INTERFACE */
        if (!in || req->wIndex != 0 || !s->configured || req->wLength < 1)
            return DFU_E_PIPE;
        data[0] = s->alt;
        *len = 1;
        return 0;
    case 11: /* SET_INTERFACE: selects the memory the DfuSe requests act on */
        if (in || req->wIndex != 0 || !s->configured || req->wValue >= s->nalts)
            return DFU_E_PIPE;
        s->alt = (uint8_t)req->wValue;
        return 0;
    default:
        return DFU_E_PIPE;
    }
}

static void log_ctrl(dfu_sim *s, enum sim_req r, const struct dfu_ctrl *req, size_t n,
                     const char *result)
{
    if (result == NULL)
        simi_event(s, "\"ev\":\"ctrl\",\"req\":\"%s\",\"wValue\":%u,\"len\":%u,\"state\":\"%s\"",
                   simi_req_name(r), (unsigned)req->wValue, (unsigned)n, dfu_state_name(s->state));
    else
        simi_event(s,
                   "\"ev\":\"ctrl\",\"req\":\"%s\",\"wValue\":%u,\"len\":%u,\"state\":\"%s\","
                   "\"result\":\"%s\"",
                   simi_req_name(r), (unsigned)req->wValue, (unsigned)n, dfu_state_name(s->state),
                   result);
}

static void disconnect(dfu_sim *s, uint32_t reappear_ms)
{
    s->mode = DFU_SIM_GONE;
    s->busy_until = 0;
    s->reset_at = 0;
    s->reenum_at = reappear_ms ? s->now + (uint64_t)reappear_ms * 1000u : 0;
    simi_event(s, "\"ev\":\"disconnect\",\"reappear_ms\":%u", (unsigned)reappear_ms);
}

/* The DFU requests of a run-time interface (protocol.md 1.5-1.6, DFU 1.1 Appendix A): DETACH
 * in appIDLE starts appDETACH, which lasts wValue ms (at most wDetachTimeOut), and a device
 * with bitWillDetach leaves the bus at once to come back in DFU mode; GETSTATUS and GETSTATE
 * answer; anything else stalls without a state change (there is no dfuERROR in run-time). The
 * bus reset that follows DETACH otherwise is in dfu_sim_bus_reset. */
static int runtime_request(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *n)
{
    int in = (req->bmRequestType & 0x80u) != 0;

    if (s->rt_state == DFU_STATE_APP_DETACH && s->now > s->detach_until)
        s->rt_state = DFU_STATE_APP_IDLE; /* no reset in time: back to normal operation */
    switch (req->bRequest) {
    case 0x00: /* DETACH */
        if (in || s->rt_state != DFU_STATE_APP_IDLE)
            return DFU_E_PIPE;
        s->rt_state = DFU_STATE_APP_DETACH;
        s->detach_until =
            s->now +
            (uint64_t)(req->wValue < s->p->detach_ms ? req->wValue : s->p->detach_ms) * 1000u;
        simi_event(s, "\"ev\":\"detach\",\"timeout_ms\":%u", (unsigned)req->wValue);
        if (s->p->attrs & 0x08u) { /* bitWillDetach: it leaves the bus by itself */
            s->runtime = 0;
            s->after_reply = SIM_AFTER_DISCONNECT;
            s->disc_reappear_ms = s->p->connect_ms;
        }
        return 0;
    case 0x03: /* GETSTATUS */
        if (!in || req->wLength < 6)
            return DFU_E_PIPE;
        memset(data, 0, 6);
        data[4] = s->rt_state;
        *n = 6;
        return 0;
    case 0x05: /* GETSTATE */
        if (!in || req->wLength < 1)
            return DFU_E_PIPE;
        data[0] = s->rt_state;
        *n = 1;
        return 0;
    default:
        return DFU_E_PIPE;
    }
}

int dfu_sim_control(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len,
                    unsigned timeout_ms, struct dfu_err *err)
{
    enum sim_req r = classify(req);
    uint64_t tmo = timeout_ms ? (uint64_t)timeout_ms * 1000u : UINT64_MAX / 4;
    int in = (req->bmRequestType & 0x80u) != 0, rc;
    struct sim_fault *f;
    size_t n = 0;

    *len = 0;
    tick(s);
    uint64_t sent = s->now;
    if (s->mode != DFU_SIM_ROM) {
        s->now += 1000;
        tick(s);
        return dfu_err_set(err, DFU_E_NO_DEVICE, "sim:%s: no device (it left the bus)", s->p->name);
    }
    if (s->now < s->busy_until) {
        if ((s->fflags & SIM_FF_EARLYSTALL) || s->busy_stalls) {
            /* STM32L4: EP0 stalls while the flash job runs; the DFU state is not changed. */
            s->now += 1000;
            log_ctrl(s, r, req, 0, "stall");
            return dfu_err_set(err, DFU_E_PIPE, "sim: %s stalled (device busy)", simi_req_name(r));
        }
        if (s->busy_until - s->now > tmo) {
            s->now += tmo;
            log_ctrl(s, r, req, 0, "timeout"); /* NAKed until the host gave up */
            return dfu_err_set(err, DFU_E_TIMEOUT, "sim: %s timed out (device busy)",
                               simi_req_name(r));
        }
        s->now = s->busy_until;
        tick(s);
        if (s->mode != DFU_SIM_ROM)
            return dfu_err_set(err, DFU_E_NO_DEVICE, "sim:%s: device reset while busy", s->p->name);
    }
    f = simi_fault_hit(s, r);
    if (f != NULL && f->kind == SIM_F_TIMEOUT) {
        s->now += timeout_ms ? tmo : 5000000u; /* an unlimited wait: count dfu-util's 5 s */
        log_ctrl(s, r, req, 0, "timeout");
        return dfu_err_set(err, DFU_E_TIMEOUT, "sim: %s timed out (injected)", simi_req_name(r));
    }
    if (f != NULL && f->kind == SIM_F_DISCONNECT) {
        s->now += 1000;
        log_ctrl(s, r, req, 0, "disconnect");
        disconnect(s, f->reappear_ms);
        return dfu_err_set(err, DFU_E_NO_DEVICE, "sim: device disconnected at %s (injected)",
                           simi_req_name(r));
    }
    if (f != NULL && f->kind == SIM_F_STATUS && r == SIM_R_GETSTATUS) {
        /* the job this GETSTATUS starts fails with it, or the status record reports it */
        if (s->state == DFU_STATE_DNLOAD_SYNC && s->job != SIM_JOB_NONE) {
            s->job_status = f->status;
        } else {
            s->state = DFU_STATE_ERROR;
            s->status = f->status;
        }
        f = NULL;
    }
    if (f != NULL &&
        (f->kind == SIM_F_STALL || (f->kind == SIM_F_STATUS && r != SIM_R_DNLOAD && is_dfu(req)))) {
        if (is_dfu(req)) {
            s->state = DFU_STATE_ERROR;
            s->status = f->kind == SIM_F_STATUS ? f->status : DFU_STATUS_ERR_STALLEDPKT;
        }
        rc = DFU_E_PIPE;
    } else if (is_dfu(req) && req->wIndex == 0 && s->runtime) {
        rc = runtime_request(s, req, data, &n);
    } else if (is_dfu(req) && req->wIndex == 0) {
        rc = simi_dfu_request(s, req, data, &n);
        if (rc == 0 && r == SIM_R_DNLOAD && f != NULL && s->job != SIM_JOB_NONE) {
            if (f->kind == SIM_F_STATUS)
                s->job_status = f->status;
            else if (f->kind == SIM_F_BUSY)
                s->job_busy = 1;
        }
    } else if (is_dfu(req)) {
        rc = DFU_E_PIPE; /* not our interface */
    } else {
        rc = standard(s, req, data, &n);
    }
    if (!in && rc == 0)
        n = req->wLength;
    if (s->now < sent + 1000)
        s->now = sent + 1000; /* a held answer: the fixed cost overlapped the wait */
    s->now += in ? n : req->wLength;
    log_ctrl(s, r, req, n, rc == 0 ? NULL : "stall");
    if (s->pending_busy != 0) {
        s->busy_until = s->now + s->pending_busy;
        s->pending_busy = 0;
    }
    if (s->after_reply == SIM_AFTER_LEAVE) {
        s->after_reply = SIM_AFTER_NONE;
        simi_leave(s, s->ptr);
    } else if (s->after_reply == SIM_AFTER_DISCONNECT) {
        s->after_reply = SIM_AFTER_NONE;
        disconnect(s, s->disc_reappear_ms);
    } else if (s->after_reply == SIM_AFTER_RESET) {
        s->after_reply = SIM_AFTER_NONE;
        s->reset_at = s->now + s->reset_delay;
        if (s->reset_at == s->now)
            tick(s);
    }
    /* what the request changed is in the state= file before the host sees the answer */
    int src = simi_state_sync(s, err);
    if (src != 0)
        return src;
    if (rc != 0)
        return dfu_err_set(err, rc, "sim: %s stalled", simi_req_name(r));
    *len = n;
    return 0;
}

int dfu_sim_out_stalls(const dfu_sim *s, const struct dfu_ctrl *req)
{
    enum sim_req r = classify(req);
    unsigned n = s->counters[r] + 1;
    uint8_t state = s->job_pending ? s->next_state : s->state; /* when it will be served */

    if ((req->bmRequestType & 0x80u) || s->mode != DFU_SIM_ROM)
        return 0;
    if (s->now < s->busy_until && ((s->fflags & SIM_FF_EARLYSTALL) || s->busy_stalls))
        return 1;
    for (unsigned i = 0; i < s->nfaults; i++) {
        const struct sim_fault *f = &s->faults[i];
        if (!f->used && f->n == n && strcmp(f->req, simi_req_name(r)) == 0)
            return f->kind == SIM_F_STALL ||
                   (f->kind == SIM_F_STATUS && r != SIM_R_DNLOAD && is_dfu(req));
    }
    if (!is_dfu(req))
        return 0; /* standard OUT requests carry no data stage */
    if (req->wIndex != 0 || req->bRequest == 0x00 || req->bRequest > 0x06 ||
        req->bRequest == 0x02 || req->bRequest == 0x03 || req->bRequest == 0x05)
        return 1;
    if (req->bRequest == 0x06) /* ABORT */
        return state != DFU_STATE_IDLE && state != DFU_STATE_DNLOAD_SYNC &&
               state != DFU_STATE_DNLOAD_IDLE && state != DFU_STATE_MANIFEST_SYNC &&
               state != DFU_STATE_UPLOAD_IDLE;
    if (req->bRequest != 0x01)
        return 0;
    if (state != DFU_STATE_IDLE && state != DFU_STATE_DNLOAD_IDLE)
        return 1;
    if (req->wLength > s->p->transfer_size)
        return 1;
    if (s->p->bcd_dfu == 0x011A && req->wValue >= 2 && req->wLength > 0 && s->dnload_stall != 0 &&
        (s->dnload_count + 1) % s->dnload_stall == 0)
        return 1;
    return req->wLength == 0 && s->p->bcd_dfu != 0x011A && state == DFU_STATE_IDLE;
}

int dfu_sim_bus_reset(dfu_sim *s, struct dfu_err *err)
{
    tick(s);
    if (s->mode != DFU_SIM_ROM)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "sim:%s: no device to reset", s->p->name);
    if (s->now < s->busy_until)
        s->now = s->busy_until;
    s->now += 10000;
    tick(s);
    if (s->mode != DFU_SIM_ROM)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "sim:%s: device left during reset", s->p->name);
    if (s->runtime) {
        simi_event(s, "\"ev\":\"bus_reset\"");
        if (s->rt_state == DFU_STATE_APP_DETACH && s->now <= s->detach_until) {
            /* appDETACH and a reset in time: the device comes back in DFU mode */
            s->runtime = 0;
            disconnect(s, s->p->connect_ms);
        }
        s->rt_state = DFU_STATE_APP_IDLE;
        return 0;
    }
    /* A USB reset does not reset the MCU: the ROM re-initialises its DFU class only. */
    simi_event(s, "\"ev\":\"bus_reset\"");
    simi_dfu_reset_state(s);
    s->configured = 1;
    return 0;
}

/* ---- transport ---- */

/* The host's handle: like a libusb handle it is valid for one enumeration of the device;
 * after the device left the bus, requests fail with NO_DEVICE until wait_reenumerate re-attaches
 * it to the device that came back. */
struct sim_tp {
    struct dfu_transport base;
    dfu_sim *s;
    int own;
    unsigned generation;
};

static int tp_stale(struct sim_tp *tp, struct dfu_err *err)
{
    dfu_sim *s = tp->s;

    tick(s);
    if (s->mode == DFU_SIM_ROM && s->generation == tp->generation)
        return 0;
    s->now += 1000;
    tick(s);
    return dfu_err_set(err, DFU_E_NO_DEVICE, "sim:%s: no device (%s)", s->p->name,
                       s->mode == DFU_SIM_ROM ? "it re-enumerated" : "it left the bus");
}

static int tp_control(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data,
                      size_t *len, unsigned timeout_ms, struct dfu_err *err)
{
    struct sim_tp *tp = (struct sim_tp *)t;
    int rc = tp_stale(tp, err);

    if (rc != 0) {
        *len = 0;
        return rc;
    }
    return dfu_sim_control(tp->s, req, data, len, timeout_ms, err);
}

static int tp_claim(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err)
{
    struct dfu_ctrl req = {0x01, 11, alt, intf, 0};
    size_t n;

    if (intf != 0)
        return dfu_err_set(err, DFU_E_NOT_FOUND, "sim: no interface %u", (unsigned)intf);
    return tp_control(t, &req, NULL, &n, 1000, err);
}

static void tp_close(struct dfu_transport *t)
{
    struct sim_tp *tp = (struct sim_tp *)t;

    if (tp->own)
        dfu_sim_free(tp->s);
    free(tp);
}

static uint64_t tp_now(struct dfu_transport *t)
{
    return ((struct sim_tp *)t)->s->now;
}

static void tp_sleep(struct dfu_transport *t, uint64_t us)
{
    dfu_sim_advance(((struct sim_tp *)t)->s, us);
}

static int tp_reset(struct dfu_transport *t, struct dfu_err *err)
{
    int rc = tp_stale((struct sim_tp *)t, err);

    return rc != 0 ? rc : dfu_sim_bus_reset(((struct sim_tp *)t)->s, err);
}

static int tp_wait(struct dfu_transport *t, unsigned timeout_ms, struct dfu_err *err)
{
    struct sim_tp *tp = (struct sim_tp *)t;
    dfu_sim *s = tp->s;
    uint64_t limit = s->now + (uint64_t)timeout_ms * 1000u;

    tick(s);
    if (s->reset_at != 0 && s->reset_at <= limit) { /* a reset is pending at the end of a job */
        s->now = s->reset_at;
        tick(s);
    }
    if (s->mode != DFU_SIM_ROM && s->reenum_at != 0 && s->reenum_at <= limit) {
        s->now = s->reenum_at;
        tick(s);
    }
    if (s->mode == DFU_SIM_ROM && s->reset_at == 0) {
        tp->generation = s->generation;
        return 0;
    }
    s->now = limit;
    tick(s);
    if (s->mode == DFU_SIM_ROM) {
        tp->generation = s->generation;
        return 0;
    }
    return dfu_err_set(err, DFU_E_TIMEOUT, "sim:%s: device did not come back within %u ms",
                       s->p->name, timeout_ms);
}

static const struct dfu_transport_ops sim_ops = {
    .version = DFU_TRANSPORT_OPS_VERSION,
    .name = "sim",
    .control = tp_control,
    .claim = tp_claim,
    .close = tp_close,
    .now_us = tp_now,
    .sleep_us = tp_sleep,
    .reset = tp_reset,
    .wait_reenumerate = tp_wait,
};

int dfu_sim_transport(dfu_sim *s, int own, struct dfu_transport **out, struct dfu_err *err)
{
    struct sim_tp *tp = calloc(1, sizeof *tp);

    *out = NULL;
    if (tp == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    tp->base.ops = &sim_ops;
    tp->s = s;
    tp->own = own;
    tp->generation = s->generation;
    *out = &tp->base;
    return 0;
}

dfu_sim *dfu_sim_from_transport(struct dfu_transport *t)
{
    if (t == NULL || t->ops != &sim_ops)
        return NULL;
    return ((struct sim_tp *)t)->s;
}
