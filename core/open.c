/*
 * Enumeration and opening: device strings to transports (simulator or USB backend), matching,
 * and the alternate setting a device string asks for. The device object over a transport
 * (dfu_dev_open) lives in dfu.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dfu/sim.h"
#include "internal.h"

#define MAX_MATCHES 16

/* ---- matching ---- */

static int info_matches(const struct dfu_devspec *spec, const struct dfu_devinfo *info)
{
    if (spec == NULL)
        return 1;
    if (spec->has_vid && spec->vid != info->vid)
        return 0;
    if (spec->has_pid && spec->pid != info->pid)
        return 0;
    if (spec->serial[0] != '\0' && strcmp(spec->serial, info->serial) != 0)
        return 0;
    if (spec->path[0] != '\0' && strcmp(spec->path, info->path) != 0)
        return 0;
    return 1;
}

/* "alt=NAME": a prefix of the name with or without the leading '@', or of the layout name. */
static int alt_name_matches(const struct dfu_alt *a, const char *want)
{
    size_t n = strlen(want);
    const char *name = a->name[0] == '@' ? a->name + 1 : a->name;

    if (strncmp(a->name, want, n) == 0 || strncmp(name, want, n) == 0)
        return 1;
    return a->has_layout && strncmp(a->layout.name, want, n) == 0;
}

static int select_alt(dfu_dev *d, const struct dfu_devspec *spec, struct dfu_err *err)
{
    const struct dfu_alt *pick = NULL;
    char list[200] = "";

    for (size_t i = 0; i < d->nalts && pick == NULL; i++) {
        const struct dfu_alt *a = &d->alts[i];

        if (spec->alt >= 0 ? a->alt == spec->alt : alt_name_matches(a, spec->alt_name))
            pick = a;
    }
    if (pick == NULL) {
        for (size_t i = 0; i < d->nalts; i++) {
            size_t used = strlen(list);

            snprintf(list + used, sizeof list - used, "%s%u \"%.40s\"", i ? ", " : "",
                     d->alts[i].alt, d->alts[i].name);
        }
        if (spec->alt >= 0)
            return dfu_err_set(err, DFU_E_NOT_FOUND, "no alternate setting %d (device has %s)",
                               spec->alt, list);
        return dfu_err_set(err, DFU_E_NOT_FOUND,
                           "no alternate setting named \"%s\" (device has %s)", spec->alt_name,
                           list);
    }
    if (pick->alt == d->alt)
        return 0;
    return dfu_dev_set_alt(d, pick->alt, err);
}

/* ---- simulator ---- */

static int sim_create(const struct dfu_devspec *spec, dfu_sim **sim, struct dfu_devinfo *info,
                      struct dfu_err *err)
{
    char s[sizeof spec->sim_profile + sizeof spec->sim_opts + 2];
    int rc;

    snprintf(s, sizeof s, "%s%s%s", spec->sim_profile, spec->sim_opts[0] ? "," : "",
             spec->sim_opts);
    rc = dfu_sim_new(s, sim, err);
    if (rc != 0)
        return rc;
    memset(info, 0, sizeof *info);
    rc = dfu_sim_devinfo(*sim, info, err);
    if (rc != 0) {
        dfu_sim_free(*sim);
        *sim = NULL;
    }
    return rc;
}

/* ---- USB ---- */

struct collect {
    const struct dfu_devspec *spec;
    struct dfu_devinfo found[MAX_MATCHES];
    size_t n, total;
    int (*cb)(void *ud, const struct dfu_devinfo *info);
    void *ud;
};

#ifdef DFU_WITH_LIBUSB
static int collect_one(void *ud, const struct dfu_devinfo *info)
{
    struct collect *c = ud;

    if (!info_matches(c->spec, info))
        return 0;
    if (c->cb != NULL)
        return c->cb(c->ud, info);
    if (c->n < MAX_MATCHES)
        c->found[c->n++] = *info;
    c->total++;
    return 0;
}
#endif

static int usb_list(struct collect *c, struct dfu_err *err)
{
#ifdef DFU_WITH_LIBUSB
    return dfui_usb_list(c->spec, collect_one, c, err);
#else
    (void)c;
    return dfu_err_set(err, DFU_E_NOT_SUPPORTED,
                       "built without USB support (try -d sim:stm32h753)");
#endif
}

int dfu_list(const struct dfu_devspec *spec, int (*found)(void *ud, const struct dfu_devinfo *info),
             void *ud, struct dfu_err *err)
{
    struct collect *c;
    int rc;

    if (spec != NULL && strcmp(spec->backend, "sim") == 0) {
        struct dfu_devinfo info;
        dfu_sim *sim = NULL;

        rc = sim_create(spec, &sim, &info, err);
        if (rc != 0)
            return rc;
        if (info_matches(spec, &info))
            rc = found(ud, &info);
        dfu_sim_free(sim);
        return rc;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    c->spec = spec;
    c->cb = found;
    c->ud = ud;
    rc = usb_list(c, err);
    free(c);
    return rc;
}

static int open_sim(const struct dfu_devspec *spec, dfu_dev **out, struct dfu_err *err)
{
    struct dfu_transport *t = NULL;
    struct dfu_devinfo info;
    dfu_sim *sim = NULL;
    int rc;

    rc = sim_create(spec, &sim, &info, err);
    if (rc != 0)
        return rc;
    if (!info_matches(spec, &info)) {
        dfu_sim_free(sim);
        return dfu_err_set(err, DFU_E_NOT_FOUND, "simulated device %s does not match",
                           spec->sim_profile);
    }
    rc = dfu_sim_transport(sim, 1, &t, err);
    if (rc != 0) {
        dfu_sim_free(sim);
        return rc;
    }
    return dfu_dev_open(t, &info, out, err);
}

static int open_usb(const struct dfu_devspec *spec, dfu_dev **out, struct dfu_err *err)
{
    struct collect *c = calloc(1, sizeof *c);
    int rc;

    if (c == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    c->spec = spec;
    rc = usb_list(c, err);
    if (rc != 0)
        goto done;
    if (c->total == 0) {
        rc = dfu_err_set(err, DFU_E_NOT_FOUND, "no USB DFU device found (try -d sim:stm32h753)");
        goto done;
    }
    if (c->total > 1) {
        char list[DFU_ERR_MSG_MAX] = "";

        for (size_t i = 0; i < c->n; i++) {
            size_t used = strlen(list);

            snprintf(list + used, sizeof list - used, "%s%04x:%04x serial=%s path=%s",
                     i ? "; " : "", c->found[i].vid, c->found[i].pid,
                     c->found[i].serial[0] ? c->found[i].serial : "?", c->found[i].path);
        }
        rc =
            dfu_err_set(err, DFU_E_AMBIGUOUS,
                        "%zu DFU devices match (narrow with serial= or path=): %s", c->total, list);
        goto done;
    }
#ifdef DFU_WITH_LIBUSB
    {
        struct dfu_transport *t = NULL;

        rc = dfui_usb_open(&c->found[0], &t, err);
        if (rc == 0)
            rc = dfu_dev_open(t, &c->found[0], out, err);
    }
#endif
done:
    free(c);
    return rc;
}

int dfu_open(const char *devstr, dfu_dev **out, struct dfu_err *err)
{
    struct dfu_devspec spec;
    int rc;

    *out = NULL;
    rc = dfu_devspec_parse(devstr, &spec, err);
    if (rc != 0)
        return rc;
    if (strcmp(spec.backend, "sim") == 0)
        rc = open_sim(&spec, out, err);
    else
        rc = open_usb(&spec, out, err);
    if (rc != 0)
        return rc;
    if (spec.alt >= 0 || spec.alt_name[0] != '\0') {
        rc = select_alt(*out, &spec, err);
        if (rc != 0) {
            dfu_dev_close(*out);
            *out = NULL;
        }
    }
    return rc;
}
