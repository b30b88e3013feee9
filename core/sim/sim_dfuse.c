/*
 * The DFU class requests: the DFU 1.1 state machine (protocol.md 1.5) with the ST USB device
 * library semantics of the ROM (1.8), the DfuSe commands and addressing (2.2-2.5), and the
 * plain DFU 1.1 download/upload model of the dfu11 profile.
 */
#include <string.h>

#include "sim/sim_int.h"

static int dfuse(const dfu_sim *s)
{
    return s->p->bcd_dfu == 0x011A;
}

static int rdp1(const dfu_sim *s)
{
    return simi_rdp_level(s) == 1;
}

/* An illegal request in DFU mode: EP0 STALL and dfuERROR. */
static int stall_error(dfu_sim *s, uint8_t status)
{
    s->state = DFU_STATE_ERROR;
    s->status = status;
    return DFU_E_PIPE;
}

void simi_dfu_reset_state(dfu_sim *s)
{
    s->state = DFU_STATE_IDLE;
    s->status = DFU_STATUS_OK;
    if ((s->fflags & SIM_FF_BOOTERR) || (s->p->quirks & SIM_Q_BOOT_ERROR)) {
        /* some F4 ROMs (F411: dfu-util ticket 140) and the GD32VF103 enumerate like this */
        s->state = DFU_STATE_ERROR;
        s->status = DFU_STATUS_ERR_FIRMWARE;
    }
    s->ptr = s->p->flash_base;
    s->alt = 0;
    s->job = SIM_JOB_NONE;
    s->job_status = 0;
    s->job_busy = 0;
    s->stuck_busy = 0;
    s->xlen = 0;
    s->busy_until = 0;
    s->pending_busy = 0;
    s->job_pending = 0;
    s->after_reply = SIM_AFTER_NONE;
    s->reset_at = 0;
    s->addr_fresh = 0;
    s->busy_stalls = 0;
}

static void status_reply(dfu_sim *s, uint8_t *data, size_t *len, uint16_t wlength, unsigned poll)
{
    uint8_t st[6] = {
        s->status, (uint8_t)poll, (uint8_t)(poll >> 8), (uint8_t)(poll >> 16), s->state, 0};

    if (s->fflags & SIM_FF_POLL0) /* Black Magic Probe style: bwPollTimeout 0 forever */
        st[1] = st[2] = st[3] = 0;
    *len = wlength < 6 ? wlength : 6;
    memcpy(data, st, *len);
}

/* ---- DfuSe jobs ---- */

struct job_result {
    uint8_t status;
    uint64_t busy_us;
    unsigned poll_ms; /* what the ROM reports in the dfuDNBUSY status */
    uint64_t reset_after_us;
    const char *reset_cause;
};

/* A fault on the Nth executed write/erase: returns 1 if it decides the job's outcome. */
static int pseudo_fault(dfu_sim *s, enum sim_req r, struct job_result *jr)
{
    struct sim_fault *f = simi_fault_hit(s, r);

    if (f == NULL)
        return 0;
    if (f->kind == SIM_F_STATUS) {
        jr->status = f->status;
        return 1;
    }
    if (f->kind == SIM_F_BUSY)
        s->job_busy = 1;
    if (f->kind == SIM_F_DISCONNECT) { /* the device drops off the bus as the job starts */
        s->after_reply = SIM_AFTER_DISCONNECT;
        s->disc_reappear_ms = f->reappear_ms;
        return 1;
    }
    return 0;
}

static void run_cmd(dfu_sim *s, struct job_result *jr)
{
    const struct sim_profile *p = s->p;
    uint8_t c = s->xbuf[0];
    uint32_t a = s->xlen >= 5 ? (uint32_t)s->xbuf[1] | (uint32_t)s->xbuf[2] << 8 |
                                    (uint32_t)s->xbuf[3] << 16 | (uint32_t)s->xbuf[4] << 24
                              : 0;
    uint32_t base, size;

    jr->poll_ms = p->poll_erase;
    if (c == 0x21 && s->xlen == 5) {
        jr->poll_ms = p->poll_setaddr;
        /* Valid for flash, RAM, system memory and option bytes, even with RDP active. */
        if (simi_region(s, a) == NULL) {
            jr->status = DFU_STATUS_ERR_TARGET;
            return;
        }
        s->ptr = a;
        s->addr_fresh = 1;
        return;
    }
    if (c == 0x41 && s->xlen == 5) {
        int idx = simi_sector(s, a, &base, &size);
        if (idx < 0) {
            jr->status = DFU_STATUS_ERR_TARGET;
            return;
        }
        if (rdp1(s)) {
            jr->status = DFU_STATUS_ERR_VENDOR;
            return;
        }
        if (pseudo_fault(s, SIM_R_ERASE, jr))
            return;
        {
            /* STM32F76x ROM V9.3 in dual-bank mode: "Erasing a sector from bank2 with index
             * (i) leads to erase sector (i+4)" (AN2606); past the last sector nothing is
             * erased (inferred). The busy time is the erased sector's. */
            const struct sim_bug *b = simi_bug(s, SIM_BUG_ERASE_SHIFT);
            unsigned target = (unsigned)idx;
            if (b != NULL && s->layout == 1 && (unsigned)idx >= b->arg)
                target += b->arg2;
            if (target < simi_sector_count(s)) {
                uint32_t tbase, tsize;
                for (uint32_t at = s->p->flash_base;; at += tsize)
                    if (simi_sector(s, at, &tbase, &tsize) == (int)target)
                        break;
                jr->busy_us = simi_sector_erase_us(s, tsize);
                simi_erase_sector(s, target);
            }
        }
        /* STM32H74x/75x ROM V9.1: "Erase on bank2 not working as expected" - the ROM reports
         * the erase while the flash is still busy; it keeps answering dfuDNBUSY. */
        {
            const struct sim_bug *b = simi_bug(s, SIM_BUG_ERASE_BUSY);
            if (b != NULL && (unsigned)idx >= b->arg)
                s->job_busy = 1;
        }
        /* STM32L4: too short a bwPollTimeout for a page erase, EP0 STALLed until it ends. */
        if (p->quirks & SIM_Q_ERASE_STALL) {
            jr->poll_ms = (unsigned)(jr->busy_us / 2000);
            s->busy_stalls = 1;
        }
        return;
    }
    if (c == 0x41 && s->xlen == 1) {
        jr->poll_ms = p->poll_mass;
        if (rdp1(s)) {
            jr->status = DFU_STATUS_ERR_VENDOR;
            return;
        }
        if (pseudo_fault(s, SIM_R_ERASE, jr))
            return;
        /* STM32F405: reports 100 ms and can take about 30 s (the slowmasserase fault). */
        jr->busy_us = (s->fflags & SIM_FF_SLOWMASS) ? 30000000u : p->mass_us;
        simi_mass_erase(s);
        return;
    }
    if (c == 0x92 && s->xlen == 1) {
        /* Read unprotect: RDP back to level 0 with a full flash and RAM erase, then reset. */
        jr->poll_ms = p->poll_mass;
        jr->busy_us = p->mass_us;
        struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);
        memset(f->mem, 0xFF, f->size);
        simi_touch(s, f, 0, f->size);
        if (s->wmask != NULL)
            memset(s->wmask, 0, f->size / p->prog_unit / 8 + 1);
        for (unsigned i = 0; i < s->nreg; i++) {
            if (s->reg[i].kind == SIM_K_RAM) {
                memset(s->reg[i].mem, 0, s->reg[i].size);
                simi_touch(s, &s->reg[i], 0, s->reg[i].size);
            }
        }
        simi_set_rdp(s, 0xAA);
        s->fflags &= ~SIM_FF_RDP1;
        simi_event(s, "\"ev\":\"erase\",\"address\":%u,\"size\":%u,\"mass\":true",
                   (unsigned)f->base, (unsigned)f->size);
        jr->reset_after_us = jr->busy_us;
        jr->reset_cause = "unprotect";
        return;
    }
    /* Unknown command or wrong length: refused as an unsupported target (inferred). */
    jr->status = DFU_STATUS_ERR_TARGET;
}

static void run_write(dfu_sim *s, struct job_result *jr)
{
    const struct sim_profile *p = s->p;
    uint32_t addr = s->ptr + (uint32_t)(s->xblock - 2) * p->transfer_size;
    struct sim_region *r = simi_region(s, addr);
    size_t n = s->xlen;

    jr->poll_ms = p->poll_write;
    if (r == NULL || r->alt != s->alt) {
        jr->status = DFU_STATUS_ERR_TARGET;
        return;
    }
    if ((uint64_t)addr + n > (uint64_t)r->base + r->size) {
        jr->status = DFU_STATUS_ERR_ADDRESS;
        return;
    }
    switch (r->kind) {
    case SIM_K_FLASH:
        if (rdp1(s)) {
            jr->status = DFU_STATUS_ERR_VENDOR;
            return;
        }
        /* AN2606 4.6: "If the address is not aligned, the operation fails, and all following
         * program operations fail as well" (until the ROM restarts). */
        if (addr % p->align != 0) {
            s->prog_locked = 1;
            jr->status = DFU_STATUS_ERR_TARGET;
            return;
        }
        if (s->prog_locked) {
            jr->status = DFU_STATUS_ERR_PROG;
            return;
        }
        if (pseudo_fault(s, SIM_R_WRITE, jr))
            return;
        jr->status = simi_program(s, addr, s->xbuf, n, &jr->busy_us);
        s->addr_fresh = 0;
        return;
    case SIM_K_RAM:
        if (addr - r->base < r->rom_reserved) { /* the ROM's own variables and stack */
            jr->status = DFU_STATUS_ERR_TARGET;
            return;
        }
        if (pseudo_fault(s, SIM_R_WRITE, jr))
            return;
        memcpy(r->mem + (addr - r->base), s->xbuf, n);
        /* STM32L47x ROM V9.0: "RAM data get corrupted when written" (UM1879) */
        if (simi_bug(s, SIM_BUG_RAM_WRITE) != NULL && n > 0)
            r->mem[addr - r->base] ^= 0xFF;
        simi_touch(s, r, addr - r->base, (uint32_t)n);
        s->addr_fresh = 0;
        return;
    case SIM_K_OB:
        jr->poll_ms = p->poll_erase;
        if (addr != r->base || n != r->size) {
            jr->status = DFU_STATUS_ERR_TARGET;
            return;
        }
        if (pseudo_fault(s, SIM_R_WRITE, jr)) /* an option-byte write is a WRITE too */
            return;
        for (unsigned z = 0; z < s->ob->nzones; z++)
            if (s->ob->zone[z].base == r->base)
                jr->status = simi_ob_write(s, z, s->xbuf, n);
        if (jr->status == DFU_STATUS_OK) {
            jr->busy_us = p->ob_us;
            jr->reset_after_us = p->ob_us;
            jr->reset_cause = "ob_write";
        }
        return;
    case SIM_K_OTP:
        if (rdp1(s)) {
            jr->status = DFU_STATUS_ERR_VENDOR;
            return;
        }
        if (pseudo_fault(s, SIM_R_WRITE, jr))
            return;
        simi_touch(s, r, addr - r->base, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            uint8_t *m = r->mem + (addr - r->base) + i;
            jr->busy_us += p->prog_us;
            *m &= s->xbuf[i];
            if (*m != s->xbuf[i]) {
                jr->status = DFU_STATUS_ERR_PROG;
                break;
            }
        }
        simi_event(s, "\"ev\":\"program\",\"address\":%u,\"size\":%u", (unsigned)addr, (unsigned)n);
        return;
    case SIM_K_FEAT:
        memcpy(r->mem + (addr - r->base), s->xbuf, n);
        if (addr == r->base)
            s->feat0 = s->xbuf[0];
        return;
    default: /* system memory is read-only */
        jr->status = DFU_STATUS_ERR_TARGET;
        return;
    }
}

/* Plain DFU: block N lands at area + N * wTransferSize; pages are erased as reached. */
static void run_plain(dfu_sim *s, struct job_result *jr)
{
    struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);
    uint32_t off = (uint32_t)s->xblock * s->p->transfer_size, page = simi_sectors(s)[0].size;
    uint64_t prog = 0;

    if ((uint64_t)off + s->xlen > f->size) {
        jr->status = DFU_STATUS_ERR_ADDRESS;
        return;
    }
    if (pseudo_fault(s, SIM_R_WRITE, jr))
        return;
    while (s->plain_erased_upto < off + s->xlen) {
        simi_erase_sector(s, s->plain_erased_upto / page);
        jr->busy_us += simi_sector_erase_us(s, page);
        s->plain_erased_upto += page;
    }
    jr->status = simi_program(s, f->base + off, s->xbuf, s->xlen, &prog);
    jr->busy_us += prog;
}

/* First GETSTATUS in dfuDNLOAD-SYNC: answer dfuDNBUSY, then run the job (ST: in the EP0
 * TX-complete callback); the device is busy (does not serve EP0) for the job's time. */
static void start_job(dfu_sim *s)
{
    struct job_result jr = {DFU_STATUS_OK, 0, 0, 0, NULL};

    s->busy_stalls = 0;
    if (s->job_status != 0) { /* an injected bStatus for this DNLOAD: nothing is done */
        jr.status = s->job_status;
        jr.poll_ms = s->job == SIM_JOB_CMD ? s->p->poll_erase : s->p->poll_write;
    } else if (s->job == SIM_JOB_CMD) {
        run_cmd(s, &jr);
    } else if (s->job == SIM_JOB_WRITE && dfuse(s)) {
        run_write(s, &jr);
    } else if (s->job == SIM_JOB_WRITE) {
        run_plain(s, &jr);
    }
    if (!dfuse(s))
        jr.poll_ms = (unsigned)((jr.busy_us + 999) / 1000);
    if (s->fflags & SIM_FF_EARLYSTALL) /* STM32L4: reports less than it needs */
        jr.poll_ms = (unsigned)(jr.busy_us / 2000);
    s->last_poll = jr.poll_ms;
    s->pending_busy = jr.busy_us;
    s->job = SIM_JOB_NONE;
    s->job_status = 0;
    if (jr.reset_cause != NULL) {
        s->reset_delay = jr.reset_after_us;
        s->reset_cause = jr.reset_cause;
        s->after_reply = SIM_AFTER_RESET;
    }
    if (s->job_busy) {
        s->stuck_busy = 1;
        s->job_busy = 0;
    }
    if (jr.status != DFU_STATUS_OK) {
        s->next_state = DFU_STATE_ERROR;
        s->next_status = jr.status;
    } else {
        s->next_state = s->stuck_busy ? DFU_STATE_DNBUSY : DFU_STATE_DNLOAD_SYNC;
        s->next_status = DFU_STATUS_OK;
    }
}

static int do_getstatus(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len)
{
    unsigned poll = 0;

    switch (s->state) {
    case DFU_STATE_DNLOAD_SYNC:
        if (s->job != SIM_JOB_NONE) {
            start_job(s);
            s->state = DFU_STATE_DNBUSY; /* until the job ends (sim.c applies next_state) */
            status_reply(s, data, len, req->wLength, s->last_poll);
            s->job_pending = 1;
            return 0;
        }
        s->state = DFU_STATE_DNLOAD_IDLE;
        break;
    case DFU_STATE_DNBUSY: /* only with the busy fault: the ROM keeps saying dfuDNBUSY */
        poll = s->last_poll;
        break;
    case DFU_STATE_MANIFEST_SYNC:
        if (dfuse(s)) {
            /* ST: dfuMANIFEST, then the ROM tears USB down and leaves. */
            /* STM32C071: without a SET_ADDRESS since the last write the ROM refuses the leave
             * (LibUsbDfu issue 13; the status is inferred). */
            if ((s->p->quirks & SIM_Q_LEAVE_SETADDR) && !s->addr_fresh) {
                s->state = DFU_STATE_ERROR;
                s->status = DFU_STATUS_ERR_TARGET;
                break;
            }
            s->state = DFU_STATE_MANIFEST;
            poll = s->p->poll_manifest;
            s->after_reply = SIM_AFTER_LEAVE;
            break;
        }
        if (!s->manifest_done) { /* tolerant: manifest, then back to dfuMANIFEST-SYNC */
            s->state = DFU_STATE_MANIFEST;
            poll = 10;
            status_reply(s, data, len, req->wLength, poll);
            s->pending_busy = 10000;
            s->manifest_done = 1;
            s->next_state = DFU_STATE_MANIFEST_SYNC;
            s->next_status = s->status;
            s->job_pending = 1;
            return 0;
        }
        s->state = DFU_STATE_IDLE;
        break;
    default:
        break;
    }
    status_reply(s, data, len, req->wLength, poll);
    return 0;
}

static int do_upload(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len)
{
    const struct sim_profile *p = s->p;
    uint32_t addr;
    struct sim_region *r;
    size_t n;

    if (req->wLength > p->transfer_size)
        return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
    if (!dfuse(s)) {
        r = simi_region_kind(s, SIM_K_FLASH);
        uint64_t off = (uint64_t)req->wValue * p->transfer_size;
        n = off >= r->size ? 0 : (r->size - off < req->wLength ? r->size - off : req->wLength);
        memcpy(data, r->mem + off, n);
        *len = n;
        s->state = n < req->wLength ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
        return 0;
    }
    if (req->wValue == 0) { /* GET_COMMANDS */
        static const uint8_t cmds[4] = {0x00, 0x21, 0x41, 0x92};
        n = req->wLength < 4 ? req->wLength : 4;
        memcpy(data, cmds, n);
        *len = n;
        s->state = req->wLength > 3 ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
        return 0;
    }
    if (req->wValue == 1)
        return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
    addr = s->ptr + (uint32_t)(req->wValue - 2) * p->transfer_size;
    r = simi_region(s, addr);
    if (r == NULL || r->alt != s->alt)
        return stall_error(s, DFU_STATUS_ERR_TARGET);
    if (r->kind == SIM_K_FLASH && rdp1(s))
        return stall_error(s, DFU_STATUS_ERR_VENDOR);
    if (r->kind == SIM_K_OB && (addr != r->base || req->wLength < r->size))
        return stall_error(s, DFU_STATUS_ERR_TARGET); /* whole block only */
    n = r->base + r->size - addr;
    if (n > req->wLength)
        n = req->wLength;
    memcpy(data, r->mem + (addr - r->base), n);
    if (r->kind == SIM_K_FEAT && addr == r->base && n > 0)
        data[0] = s->feat0;
    *len = n;
    s->state = n < req->wLength ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
    return 0;
}

static int do_dnload(dfu_sim *s, const struct dfu_ctrl *req, const uint8_t *data, size_t *len)
{
    if (s->state != DFU_STATE_IDLE && s->state != DFU_STATE_DNLOAD_IDLE)
        return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
    if (req->wLength > s->p->transfer_size)
        return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
    *len = req->wLength;
    if (req->wLength == 0) {
        /* DfuSe: leave request; plain DFU: end of download, only after some data. */
        if (!dfuse(s) && s->state == DFU_STATE_IDLE)
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        s->state = DFU_STATE_MANIFEST_SYNC;
        s->manifest_done = 0;
        /* GD32VF103: the zero-length DNLOAD itself is the leave; no GETSTATUS follows
         * (dfu-util QUIRK_DFUSE_LEAVE). */
        if (dfuse(s) && (s->p->quirks & SIM_Q_LEAVE_NOSTATUS)) {
            s->state = DFU_STATE_MANIFEST;
            s->after_reply = SIM_AFTER_LEAVE;
        }
        return 0;
    }
    if (!dfuse(s) && s->state == DFU_STATE_IDLE)
        s->plain_erased_upto = 0; /* a new download session */
    /* dnload_stall=N: every Nth data block is STALLed, as the STM32F411 ROM does at random
     * points of a download (dfu-util tickets 140, 141). */
    if (dfuse(s) && req->wValue >= 2 && s->dnload_stall != 0 &&
        ++s->dnload_count % s->dnload_stall == 0)
        return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
    memcpy(s->xbuf, data, req->wLength);
    s->xlen = req->wLength;
    s->xblock = req->wValue;
    if (dfuse(s) && req->wValue == 0)
        s->job = SIM_JOB_CMD;
    else if (dfuse(s) && req->wValue == 1)
        s->job = SIM_JOB_IGNORE; /* ST: wBlockNum 1 is silently ignored */
    else
        s->job = SIM_JOB_WRITE;
    s->state = DFU_STATE_DNLOAD_SYNC;
    return 0;
}

int simi_dfu_request(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len)
{
    int in = (req->bmRequestType & 0x80) != 0;

    *len = 0;
    switch (req->bRequest) {
    case 0x01: /* DNLOAD */
        if (in)
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        return do_dnload(s, req, data, len);
    case 0x02: /* UPLOAD */
        if (!in || (s->state != DFU_STATE_IDLE && s->state != DFU_STATE_UPLOAD_IDLE))
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        return do_upload(s, req, data, len);
    case 0x03: /* GETSTATUS */
        if (!in)
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        return do_getstatus(s, req, data, len);
    case 0x04: /* CLRSTATUS: ST turns it into errUNKNOWN outside dfuERROR */
        if (in)
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        if (s->state == DFU_STATE_ERROR) {
            s->state = DFU_STATE_IDLE;
            s->status = DFU_STATUS_OK;
        } else {
            s->state = DFU_STATE_ERROR;
            s->status = DFU_STATUS_ERR_UNKNOWN;
        }
        s->stuck_busy = 0;
        s->job = SIM_JOB_NONE;
        return 0;
    case 0x05: /* GETSTATE */
        if (!in)
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        if (req->wLength > 0) {
            data[0] = s->state;
            *len = 1;
        }
        return 0;
    case 0x06: /* ABORT */
        if (in)
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        switch (s->state) {
        case DFU_STATE_IDLE:
        case DFU_STATE_DNLOAD_SYNC:
        case DFU_STATE_DNLOAD_IDLE:
        case DFU_STATE_MANIFEST_SYNC:
        case DFU_STATE_UPLOAD_IDLE:
            s->state = DFU_STATE_IDLE;
            s->status = DFU_STATUS_OK;
            s->job = SIM_JOB_NONE;
            return 0;
        default:
            return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
        }
    default: /* DETACH: the ROM stalls it (AN3156 2); so does the dfu11 device in DFU mode */
        return stall_error(s, DFU_STATUS_ERR_STALLEDPKT);
    }
}
