/*
 * The backend registry behind dfu_devspec_parse(), dfu_list() and dfu_open(), in the shape of
 * libusb's usbi_os_backend: a new backend is one file defining its const struct dfu_backend plus
 * one line in dfui_backends (core/open.c). Internal: not installed.
 */
#ifndef DFU_BACKEND_H
#define DFU_BACKEND_H

#include "dfu/device.h"
#include "dfu/transport.h"

/* A device found by a backend's enumerate: its info (alt 0) and the backend's handle on it, @ref
 * (NULL if the backend finds the device again from the info), which the callee passes to the
 * backend's open or release. A non-zero return stops the enumeration and is returned by it. */
typedef int (*dfui_found_fn)(void *ud, const struct dfu_devinfo *info, void *ref);

struct dfu_backend {
    const char *name;   /* device-string prefix and dfu_devinfo.backend: "usb", "sim" */
    const char *syntax; /* how a device string names it, for messages: "sim:PROFILE" */
    const char *keys;   /* its own keys, "a, b, c" (or NULL), passed on in dfu_devspec.opts */
    int ids_head;       /* the target is VID:PID (a common key), as in "usb:0483:df11" */

    /** Optional. Check the backend's part of the parsed device string @s (spec->target,
     *  spec->opts); DFU_E_INVALID with a message naming @s. */
    int (*parse_opts)(const char *s, const struct dfu_devspec *spec, struct dfu_err *err);
    /** Call @found for each DFU interface @spec may mean. May skip devices the common keys
     *  rule out; the caller checks those keys on every info again. */
    int (*enumerate)(const struct dfu_devspec *spec, dfui_found_fn found, void *ud,
                     struct dfu_err *err);
    /** Open the device enumerate reported as @which with @ref; takes @ref, also on failure. */
    int (*open)(const struct dfu_devinfo *which, void *ref, struct dfu_transport **out,
                struct dfu_err *err);
    /** Free a @ref that is not opened. Optional when enumerate reports only NULL refs. */
    void (*release)(void *ref);
    /** Optional, for devices a device string cannot find again (the simulator): wait up to
     *  @timeout_ms for the device behind @t to come back on the bus after a detach, re-attach
     *  @t to it and fill @info with what it reports now. */
    int (*refind)(struct dfu_transport *t, unsigned timeout_ms, struct dfu_devinfo *info,
                  struct dfu_err *err);
    /** The DFU_E_NOT_FOUND message for a device string that matches no device: a printf
     *  format given the target ("simulated device %s does not match"). */
    const char *none;
};

/** The registry, NULL-terminated. */
extern const struct dfu_backend *const dfui_backends[];
/** The backend called by the @len bytes at @name, or NULL. */
const struct dfu_backend *dfui_backend(const char *name, size_t len);

extern const struct dfu_backend dfui_usb_backend; /* core/usb_libusb.c */
extern const struct dfu_backend dfui_sim_backend; /* core/sim/sim_backend.c */

/** What alt= asks for, as dfu_alt_match takes it (@buf holds a number); NULL without alt=. */
const char *dfui_devspec_alt(const struct dfu_devspec *spec, char *buf, size_t cap);

/** 1 if the device's serial string descriptor holds bytes rather than UTF-16 (quirks.c). */
int dfui_serial_is_raw(uint16_t vid, uint16_t pid);
/** The payload of a string descriptor as bytes (printable ASCII kept, others as '?'). */
void dfui_desc_string_bytes(const uint8_t *buf, size_t len, char *out, size_t cap);

#endif
