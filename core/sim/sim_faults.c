/*
 * Fault injection (design.md 7). A spec is a ';'-separated list of
 *   KIND:REQUEST:N[:reappear=MS]   the Nth REQUEST (counting from 1 in this process)
 *   KIND                           device-wide
 * KIND: stall, timeout, disconnect (":reappear=MS" brings the device back as a freshly started
 * ROM MS milliseconds later; without it the device is gone for good), the bStatus names
 * errTARGET, errPROG, errVERIFY, errVENDOR, errERASE, errWRITE... (the job of that request, or
 * the request itself, fails with that status), busy (the job runs but the device then stays in
 * dfuDNBUSY). Device-wide: poll0, earlystall, slowmasserase, bootinerror, rdp1, xfer0.
 * REQUEST: a request name as in the ctrl events (DNLOAD, GETSTATUS, UPLOAD, CLRSTATUS, GETSTATE,
 * ABORT, DETACH, GET_DESCRIPTOR, SET_INTERFACE, ...) or WRITE / ERASE (the Nth data write block
 * or erase / mass erase actually executed; kinds there: a bStatus, busy, disconnect).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

static int parse_one(dfu_sim *s, char *item, struct dfu_err *err)
{
    char *f[5] = {NULL};
    unsigned nf = 0;
    struct sim_fault *ft;
    char *save = NULL;

    for (char *tok = strtok_r(item, ":", &save); tok != NULL && nf < 5;
         tok = strtok_r(NULL, ":", &save))
        f[nf++] = tok;
    if (nf == 0)
        return 0;
    if (nf == 1) {
        static const struct {
            const char *name;
            unsigned flag;
        } wide[] = {{"poll0", SIM_FF_POLL0},
                    {"earlystall", SIM_FF_EARLYSTALL},
                    {"slowmasserase", SIM_FF_SLOWMASS},
                    {"bootinerror", SIM_FF_BOOTERR},
                    {"rdp1", SIM_FF_RDP1},
                    {"xfer0", SIM_FF_XFER0}};
        for (unsigned i = 0; i < sizeof wide / sizeof wide[0]; i++)
            if (strcmp(f[0], wide[i].name) == 0) {
                s->fflags |= wide[i].flag;
                return 0;
            }
        return dfu_err_set(err, DFU_E_INVALID, "sim faults: unknown device-wide fault '%s'", f[0]);
    }
    if (nf < 3 || nf > 4)
        return dfu_err_set(err, DFU_E_INVALID, "sim faults: '%s' is not KIND:REQUEST:N", f[0]);
    if (s->nfaults >= SIM_MAX_FAULTS)
        return dfu_err_set(err, DFU_E_OVERFLOW, "sim faults: more than %d", SIM_MAX_FAULTS);
    ft = &s->faults[s->nfaults];
    memset(ft, 0, sizeof *ft);
    if (strcmp(f[0], "stall") == 0) {
        ft->kind = SIM_F_STALL;
    } else if (strcmp(f[0], "timeout") == 0) {
        ft->kind = SIM_F_TIMEOUT;
    } else if (strcmp(f[0], "disconnect") == 0) {
        ft->kind = SIM_F_DISCONNECT;
    } else if (strcmp(f[0], "busy") == 0) {
        ft->kind = SIM_F_BUSY;
    } else {
        int st = dfu_status_from_name(f[0]);
        if (st <= 0)
            return dfu_err_set(err, DFU_E_INVALID, "sim faults: unknown fault kind '%s'", f[0]);
        ft->kind = SIM_F_STATUS;
        ft->status = (uint8_t)st;
    }
    if (simi_req_from_name(f[1]) < 0)
        return dfu_err_set(err, DFU_E_INVALID, "sim faults: unknown request '%s'", f[1]);
    if ((strcmp(f[1], "WRITE") == 0 || strcmp(f[1], "ERASE") == 0) &&
        (ft->kind == SIM_F_STALL || ft->kind == SIM_F_TIMEOUT))
        return dfu_err_set(err, DFU_E_INVALID,
                           "sim faults: %s:%s: a write or erase fails with a status, busy or a "
                           "disconnect, not a %s",
                           f[0], f[1], f[0]);
    snprintf(ft->req, sizeof ft->req, "%s", f[1]);
    char *end = NULL;
    unsigned long n = strtoul(f[2], &end, 10);
    if (*f[2] == '\0' || *end != '\0' || n == 0 || n > 0xFFFFFFFFul)
        return dfu_err_set(err, DFU_E_INVALID, "sim faults: bad count '%s' (1, 2, ...)", f[2]);
    ft->n = (unsigned)n;
    if (nf == 4) {
        if (ft->kind != SIM_F_DISCONNECT || strncmp(f[3], "reappear=", 9) != 0)
            return dfu_err_set(err, DFU_E_INVALID, "sim faults: unknown option '%s'", f[3]);
        unsigned long ms = strtoul(f[3] + 9, &end, 10);
        if (f[3][9] == '\0' || *end != '\0' || ms == 0 || ms > 3600000ul)
            return dfu_err_set(err, DFU_E_INVALID, "sim faults: bad reappear time '%s'", f[3]);
        ft->reappear_ms = (uint32_t)ms;
    }
    s->nfaults++;
    return 0;
}

int simi_faults_parse(dfu_sim *s, const char *spec, struct dfu_err *err)
{
    char *copy = malloc(strlen(spec) + 1), *save = NULL;
    int rc = 0;

    if (copy == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    strcpy(copy, spec);
    for (char *item = strtok_r(copy, ";", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ";", &save))
        rc = parse_one(s, item, err);
    free(copy);
    return rc;
}

struct sim_fault *simi_fault_hit(dfu_sim *s, enum sim_req r)
{
    const char *name = simi_req_name(r);
    unsigned n = ++s->counters[r];

    for (unsigned i = 0; i < s->nfaults; i++) {
        struct sim_fault *f = &s->faults[i];
        if (!f->used && f->n == n && strcmp(f->req, name) == 0) {
            f->used = 1;
            return f;
        }
    }
    return NULL;
}

int dfu_sim_inject(dfu_sim *s, const char *faults, struct dfu_err *err)
{
    unsigned old = s->fflags;
    int rc = simi_faults_parse(s, faults, err);

    if (rc == 0 && !(old & SIM_FF_RDP1) && (s->fflags & SIM_FF_RDP1) && simi_rdp_level(s) == 0)
        simi_set_rdp(s, 0xBB);
    return rc != 0 ? rc : simi_state_sync(s, err);
}
