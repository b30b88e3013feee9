/*
 * The simulator in the backend registry, "sim:PROFILE[,key=value...]" (design.md 2): enumerating
 * creates the simulator the string describes; opening gives it to a transport that owns it.
 */
#include <stdio.h>

#include "backend.h"
#include "dfu/sim.h"

static int sim_parse_opts(const char *s, const struct dfu_devspec *spec, struct dfu_err *err)
{
    if (spec->target[0] == '\0')
        return dfu_err_set(err, DFU_E_INVALID,
                           "device string \"%s\": sim needs a profile (sim:stm32h753)", s);
    return 0;
}

static int sim_enumerate(const struct dfu_devspec *spec, dfui_found_fn found, void *ud,
                         struct dfu_err *err)
{
    char s[sizeof spec->target + sizeof spec->opts + 1];
    struct dfu_devinfo info;
    dfu_sim *sim = NULL;
    int rc;

    snprintf(s, sizeof s, "%s%s%s", spec->target, spec->opts[0] ? "," : "", spec->opts);
    rc = dfu_sim_new(s, &sim, err);
    if (rc == 0)
        rc = dfu_sim_devinfo(sim, &info, err);
    if (rc != 0) {
        dfu_sim_free(sim);
        return rc;
    }
    return found(ud, &info, sim);
}

static int sim_open(const struct dfu_devinfo *which, void *ref, struct dfu_transport **out,
                    struct dfu_err *err)
{
    int rc = dfu_sim_transport(ref, 1, out, err);

    if (rc != 0)
        dfu_sim_free(ref);
    return rc;
}

static void sim_release(void *ref)
{
    dfu_sim_free(ref);
}

static int sim_refind(struct dfu_transport *t, unsigned timeout_ms, struct dfu_devinfo *info,
                      struct dfu_err *err)
{
    int rc = dfu_transport_wait_reenumerate(t, timeout_ms, err);

    return rc != 0 ? rc : dfu_sim_devinfo(dfu_sim_from_transport(t), info, err);
}

const struct dfu_backend dfui_sim_backend = {
    .name = "sim",
    .syntax = "sim:PROFILE",
    .keys = "state, events, boot0, rom, jump, faults, dnload_stall, runtime",
    .parse_opts = sim_parse_opts,
    .enumerate = sim_enumerate,
    .open = sim_open,
    .release = sim_release,
    .refind = sim_refind,
    .none = "simulated device %s does not match",
};
