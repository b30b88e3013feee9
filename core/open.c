/*
 * Enumeration and opening through the backend registry: device strings to transports,
 * matching the common keys, and the alternate setting a device string asks for. The device
 * object over a transport (dfu_dev_open) lives in dfu.c.
 */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "internal.h"

#ifndef DFU_WITH_LIBUSB
/* Built without libusb: "usb" device strings still parse, and say so when used. */
static int usb_nothing(const struct dfu_devspec *spec, dfui_found_fn found, void *ud,
                       struct dfu_err *err)
{
    return dfu_err_set(err, DFU_E_NOT_SUPPORTED,
                       "built without USB support (try -d sim:stm32h753)");
}

const struct dfu_backend dfui_usb_backend = {
    .name = "usb",
    .syntax = "usb, usb:VID:PID",
    .ids_head = 1,
    .enumerate = usb_nothing,
    .none = "no USB DFU device found (try -d sim:stm32h753)",
};
#endif

const struct dfu_backend *const dfui_backends[] = {
    &dfui_usb_backend,
    &dfui_sim_backend,
    NULL,
};

const struct dfu_backend *dfui_backend(const char *name, size_t len)
{
    for (const struct dfu_backend *const *be = dfui_backends; *be != NULL; be++) {
        if (strlen((*be)->name) == len && memcmp((*be)->name, name, len) == 0)
            return *be;
    }
    return NULL;
}

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

static void release(const struct dfu_backend *be, void *ref)
{
    if (ref != NULL && be->release != NULL)
        be->release(ref);
}

/* One enumeration through a backend: every match goes to @cb (dfu_list), or the first one is
 * kept with its backend reference and all are listed (opening). With @dfu_mode only DFU-mode
 * interfaces match. */
struct walk {
    const struct dfu_backend *be;
    const struct dfu_devspec *spec;
    int dfu_mode;
    int (*cb)(void *ud, const struct dfu_devinfo *info);
    void *ud;
    size_t total;
    struct dfu_devinfo first;
    void *ref;
    char list[DFU_ERR_MSG_MAX];
};

static int walk_found(void *ud, const struct dfu_devinfo *info, void *ref)
{
    struct walk *w = ud;
    int match = info_matches(w->spec, info) && (!w->dfu_mode || info->protocol == 2);
    size_t used = strlen(w->list);

    if (!match || w->cb != NULL || w->total > 0)
        release(w->be, ref);
    if (!match)
        return 0;
    if (w->cb != NULL)
        return w->cb(w->ud, info);
    if (w->total++ == 0) {
        w->first = *info;
        w->ref = ref;
    }
    snprintf(w->list + used, sizeof w->list - used, "%s%04x:%04x serial=%s path=%s",
             used > 0 ? "; " : "", info->vid, info->pid, info->serial[0] ? info->serial : "?",
             info->path);
    return 0;
}

static int walk(const struct dfu_devspec *spec, struct walk *w, struct dfu_err *err)
{
    w->spec = spec;
    w->be = spec == NULL ? &dfui_usb_backend : dfui_backend(spec->backend, strlen(spec->backend));
    if (w->be == NULL)
        return dfu_err_set(err, DFU_E_INVALID, "no backend called \"%s\"", spec->backend);
    return w->be->enumerate(spec, walk_found, w, err);
}

int dfu_list(const struct dfu_devspec *spec, int (*found)(void *ud, const struct dfu_devinfo *info),
             void *ud, struct dfu_err *err)
{
    struct walk w;

    memset(&w, 0, sizeof w);
    w.cb = found;
    w.ud = ud;
    return walk(spec, &w, err);
}

int dfui_open_spec(const struct dfu_devspec *spec, int dfu_mode, dfu_dev **out, struct dfu_err *err)
{
    struct dfu_transport *t = NULL;
    struct walk w;
    int rc;

    *out = NULL;
    memset(&w, 0, sizeof w);
    w.dfu_mode = dfu_mode;
    rc = walk(spec, &w, err);
    if (rc == 0 && w.total == 0)
        rc = dfu_err_set(err, DFU_E_NOT_FOUND, w.be->none, spec->target);
    else if (rc == 0 && w.total > 1 && !dfu_mode)
        rc = dfu_err_set(err, DFU_E_AMBIGUOUS,
                         "%zu DFU devices match (narrow with serial= or path=): %s", w.total,
                         w.list);
    if (rc != 0) {
        release(w.be, w.ref);
        return rc;
    }
    rc = w.be->open(&w.first, w.ref, &t, err);
    return rc != 0 ? rc : dfu_dev_open(t, &w.first, out, err);
}

int dfu_open(const char *devstr, dfu_dev **out, struct dfu_err *err)
{
    struct dfu_devspec spec;
    const char *want;
    char num[4];
    int rc;

    *out = NULL;
    rc = dfu_devspec_parse(devstr, &spec, err);
    if (rc == 0)
        rc = dfui_open_spec(&spec, 0, out, err);
    if (rc != 0)
        return rc;
    want = dfui_devspec_alt(&spec, num, sizeof num);
    if (want != NULL) {
        uint8_t alt = 0;

        rc = dfu_dev_find_alt(*out, want, &alt, err);
        if (rc == 0 && alt != dfu_dev_alt(*out))
            rc = dfu_dev_set_alt(*out, alt, err);
        if (rc == DFU_E_NOT_FOUND || rc == DFU_E_AMBIGUOUS) {
            /* the device is there; its alt= names no alt setting: bad input, as --alt 7 */
            rc = DFU_E_INVALID;
            if (err != NULL)
                err->code = rc;
        }
        if (rc != 0) {
            dfu_dev_close(*out);
            *out = NULL;
        }
    }
    return rc;
}
