/*
 * The libusb-1.0 backend: enumeration of DFU interfaces, the transport vtable over a
 * libusb device handle, and re-enumeration after the device drops off the bus. The
 * descriptors it fetches are parsed by core/desc.c. The only file that includes libusb.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libusb.h>

#include "backend.h"
#include "internal.h"

#define USB_DT_DFU_FUNCTIONAL 0x21
#define USB_CLASS_APP_SPEC 0xFE
#define USB_SUBCLASS_DFU 0x01
#define CTRL_DEFAULT_TIMEOUT_MS 5000u
#define REENUM_POLL_MS 100u
#define UDEV_RULES_HINT                                                                            \
    "no permission: install 60-dfush.rules (cmake --install, or copy udev/60-dfush.rules "         \
    "to /etc/udev/rules.d), run 'udevadm control --reload; udevadm trigger' as root, join group "  \
    "plugdev and replug"

struct usb_tr {
    struct dfu_transport base;
    libusb_context *ctx;
    libusb_device_handle *h;
    struct dfu_devinfo info; /* the device as last (re-)opened */
    uint8_t devnum;          /* USB address of the opened device, to tell a new enumeration */
    int claimed;
    uint8_t intf, alt;
    int reset_in_place; /* a bus reset kept the device (and the handle) */
};

/* ---- errors ---- */

static int map_libusb(int rc)
{
    switch (rc) {
    case LIBUSB_SUCCESS:
        return DFU_E_OK;
    case LIBUSB_ERROR_INVALID_PARAM:
        return DFU_E_INVALID;
    case LIBUSB_ERROR_ACCESS:
        return DFU_E_ACCESS;
    case LIBUSB_ERROR_NO_DEVICE:
        return DFU_E_NO_DEVICE;
    case LIBUSB_ERROR_NOT_FOUND:
        return DFU_E_NOT_FOUND;
    case LIBUSB_ERROR_BUSY:
        return DFU_E_BUSY;
    case LIBUSB_ERROR_TIMEOUT:
        return DFU_E_TIMEOUT;
    case LIBUSB_ERROR_OVERFLOW:
        return DFU_E_OVERFLOW;
    case LIBUSB_ERROR_PIPE:
        return DFU_E_PIPE;
    case LIBUSB_ERROR_INTERRUPTED:
        return DFU_E_INTERRUPTED;
    case LIBUSB_ERROR_NO_MEM:
        return DFU_E_NOMEM;
    case LIBUSB_ERROR_NOT_SUPPORTED:
        return DFU_E_NOT_SUPPORTED;
    default:
        return DFU_E_IO;
    }
}

/* Fill @err from a libusb error code; keeps the libusb code in err->sys. */
static int usb_fail(struct dfu_err *err, int rc, const char *what)
{
    int code = map_libusb(rc);

    if (err != NULL)
        err->sys = rc;
    if (code == DFU_E_ACCESS)
        return dfu_err_set(err, code, "%s: %s", what, UDEV_RULES_HINT);
    return dfu_err_set(err, code, "%s: %s", what, libusb_error_name(rc));
}

/* ---- descriptors ---- */

static void read_string_as(libusb_device_handle *h, uint8_t idx, char *out, size_t cap, int raw)
{
    uint8_t buf[255], lang[4];
    int n;

    out[0] = '\0';
    if (h == NULL || idx == 0)
        return;
    n = libusb_get_string_descriptor(h, 0, 0, lang, sizeof lang);
    n = libusb_get_string_descriptor(h, idx, dfu_desc_langid(lang, n > 0 ? (size_t)n : 0), buf,
                                     sizeof buf);
    if (n > 0 && raw)
        dfui_desc_string_bytes(buf, (size_t)n, out, cap);
    else if (n > 0)
        dfu_desc_string(buf, (size_t)n, out, cap);
}

static void read_string(libusb_device_handle *h, uint8_t idx, char *out, size_t cap)
{
    read_string_as(h, idx, out, cap, 0);
}

static void port_path(libusb_device *dev, struct dfu_devinfo *info)
{
    uint8_t ports[DFU_MAX_PORT_DEPTH];
    int n = libusb_get_port_numbers(dev, ports, DFU_MAX_PORT_DEPTH);
    size_t o;
    int i;

    info->bus = libusb_get_bus_number(dev);
    info->port_depth = n > 0 ? (uint8_t)n : 0;
    o = (size_t)snprintf(info->path, sizeof info->path, "%u", (unsigned)info->bus);
    for (i = 0; i < n && o < sizeof info->path; i++) {
        info->port_path[i] = ports[i];
        o += (size_t)snprintf(info->path + o, sizeof info->path - o, "%c%u", i == 0 ? '-' : '.',
                              (unsigned)ports[i]);
    }
}

/* One DFU interface of one device, as found by the walk. */
struct found_intf {
    struct dfu_devinfo info;
    uint8_t alts[32];
    uint8_t ialts[32];
    int nalts;
};

/* Whether the interface has the alt @want names (dfu_alt_match's rule; an ambiguous name
 * counts: opening the device reports it). Names are read only for a name. */
static int has_alt(libusb_device_handle *h, const struct found_intf *fi, const char *want)
{
    struct dfu_alt *alts = calloc((size_t)fi->nalts + 1, sizeof *alts);
    int named = strspn(want, "0123456789") != strlen(want), i, rc;
    size_t pick;

    if (alts == NULL)
        return 0;
    for (i = 0; i < fi->nalts; i++) {
        char name[256] = "";

        if (named)
            read_string(h, fi->ialts[i], name, sizeof name);
        dfui_alt_init(&alts[i], fi->alts[i], name);
    }
    rc = dfu_alt_match(alts, (size_t)fi->nalts, want, &pick, NULL);
    for (i = 0; i < fi->nalts; i++)
        dfu_layout_free(&alts[i].layout);
    free(alts);
    return rc == 0 || rc == DFU_E_AMBIGUOUS;
}

/*
 * Walk every device of @ctx and call @cb for each DFU interface matching @spec. Devices that
 * cannot be opened are reported with empty strings (unless the spec needs a string to match);
 * *@denied counts them.
 */
typedef int (*walk_cb)(void *ud, const struct dfu_devinfo *info, libusb_device *dev);

static int walk_devices(libusb_context *ctx, const struct dfu_devspec *spec, walk_cb cb, void *ud,
                        int *denied, struct dfu_err *err)
{
    libusb_device **list = NULL;
    ssize_t n, i;
    int rc = 0;

    n = libusb_get_device_list(ctx, &list);
    if (n < 0)
        return usb_fail(err, (int)n, "listing USB devices");
    for (i = 0; i < n && rc == 0; i++) {
        libusb_device *dev = list[i];
        struct libusb_device_descriptor dd;
        struct libusb_config_descriptor *cfg = NULL;
        libusb_device_handle *h = NULL;
        int opened = 0, j;

        if (libusb_get_device_descriptor(dev, &dd) != 0)
            continue;
        if (spec != NULL && ((spec->has_vid && dd.idVendor != spec->vid) ||
                             (spec->has_pid && dd.idProduct != spec->pid)))
            continue;
        if (libusb_get_active_config_descriptor(dev, &cfg) != 0 &&
            libusb_get_config_descriptor(dev, 0, &cfg) != 0)
            continue;
        for (j = 0; j < cfg->bNumInterfaces && rc == 0; j++) {
            const struct libusb_interface *itf = &cfg->interface[j];
            struct found_intf fi;
            struct dfu_func_desc fd;
            int k, have_fd = 0, first = -1;
            uint8_t proto = 0;

            memset(&fi, 0, sizeof fi);
            for (k = 0; k < itf->num_altsetting; k++) {
                const struct libusb_interface_descriptor *a = &itf->altsetting[k];
                if (a->bInterfaceClass != USB_CLASS_APP_SPEC ||
                    a->bInterfaceSubClass != USB_SUBCLASS_DFU)
                    continue;
                if (first < 0) {
                    first = k;
                    proto = a->bInterfaceProtocol;
                }
                if (fi.nalts < (int)sizeof fi.alts) {
                    fi.alts[fi.nalts] = a->bAlternateSetting;
                    fi.ialts[fi.nalts] = a->iInterface;
                    fi.nalts++;
                }
                if (!have_fd)
                    have_fd = dfu_desc_find_functional(a->extra, (size_t)a->extra_length, &fd) == 0;
            }
            if (first < 0)
                continue;
            if (!have_fd)
                have_fd = dfu_desc_find_functional(cfg->extra, (size_t)cfg->extra_length, &fd) == 0;
            if (spec != NULL && spec->path[0] != '\0') {
                struct dfu_devinfo tmp;
                memset(&tmp, 0, sizeof tmp);
                port_path(dev, &tmp);
                if (strcmp(tmp.path, spec->path) != 0)
                    continue;
            }
            if (!opened) {
                int orc = libusb_open(dev, &h);
                opened = 1;
                if (orc != 0) {
                    h = NULL;
                    if (orc == LIBUSB_ERROR_ACCESS && denied != NULL)
                        (*denied)++;
                }
            }
            if (!have_fd && h != NULL) {
                uint8_t buf[16];
                int got = libusb_get_descriptor(h, USB_DT_DFU_FUNCTIONAL, 0, buf, sizeof buf);
                if (got < 7) /* some devices want the interface as the recipient */
                    got = libusb_control_transfer(
                        h, LIBUSB_ENDPOINT_IN | LIBUSB_RECIPIENT_INTERFACE,
                        LIBUSB_REQUEST_GET_DESCRIPTOR, USB_DT_DFU_FUNCTIONAL << 8,
                        itf->altsetting[first].bInterfaceNumber, buf, sizeof buf, 1000);
                if (got >= 7)
                    have_fd = dfu_desc_find_functional(buf, (size_t)got, &fd) == 0;
            }
            if (!have_fd) { /* as dfu-util: assume DFU 1.0 with unknown transfer size */
                memset(&fd, 0, sizeof fd);
                fd.bcd_dfu = 0x0100;
            }
            snprintf(fi.info.backend, sizeof fi.info.backend, "usb");
            fi.info.vid = dd.idVendor;
            fi.info.pid = dd.idProduct;
            fi.info.bcd_device = dd.bcdDevice;
            fi.info.max_packet0 = dd.bMaxPacketSize0;
            fi.info.bcd_dfu = fd.bcd_dfu;
            fi.info.transfer_size = fd.transfer_size;
            fi.info.detach_timeout = fd.detach_timeout;
            fi.info.attributes = fd.attributes;
            fi.info.intf = itf->altsetting[first].bInterfaceNumber;
            fi.info.alt = itf->altsetting[first].bAlternateSetting;
            fi.info.protocol =
                dfu_desc_mode(dd.idVendor, dd.idProduct, proto, fd.bcd_dfu, cfg->bNumInterfaces);
            port_path(dev, &fi.info);
            /* GD32VF103: the serial descriptor is not UTF-16 (quirks.c) */
            read_string_as(h, dd.iSerialNumber, fi.info.serial, sizeof fi.info.serial,
                           dfui_serial_is_raw(dd.idVendor, dd.idProduct));
            read_string(h, dd.iProduct, fi.info.product, sizeof fi.info.product);
            read_string(h, itf->altsetting[first].iInterface, fi.info.alt_name,
                        sizeof fi.info.alt_name);
            if (spec != NULL) {
                char num[4];
                const char *want = dfui_devspec_alt(spec, num, sizeof num);

                if (spec->serial[0] != '\0' && strcmp(fi.info.serial, spec->serial) != 0)
                    continue;
                if (want != NULL && !has_alt(h, &fi, want))
                    continue;
            }
            rc = cb(ud, &fi.info, dev);
        }
        if (h != NULL)
            libusb_close(h);
        libusb_free_config_descriptor(cfg);
    }
    libusb_free_device_list(list, 1);
    return rc;
}

/* ---- listing ---- */

struct list_ctx {
    dfui_found_fn found;
    void *ud;
    int count;
};

static int list_cb(void *ud, const struct dfu_devinfo *info, libusb_device *dev)
{
    struct list_ctx *lc = ud;

    (void)dev;
    lc->count++;
    return lc->found(lc->ud, info, NULL);
}

static int usb_init(libusb_context **ctx, struct dfu_err *err)
{
    int rc = libusb_init(ctx);

    if (rc != 0) {
        *ctx = NULL;
        return usb_fail(err, rc, "initialising libusb");
    }
    return 0;
}

static int usb_enumerate(const struct dfu_devspec *spec, dfui_found_fn found, void *ud,
                         struct dfu_err *err)
{
    libusb_context *ctx;
    struct list_ctx lc;
    int rc, denied = 0;

    rc = usb_init(&ctx, err);
    if (rc != 0)
        return rc;
    lc.found = found;
    lc.ud = ud;
    lc.count = 0;
    rc = walk_devices(ctx, spec, list_cb, &lc, &denied, err);
    libusb_exit(ctx);
    if (rc == 0 && lc.count == 0 && denied > 0 && spec != NULL &&
        (spec->serial[0] != '\0' || spec->alt_name[0] != '\0')) {
        if (err != NULL)
            err->sys = LIBUSB_ERROR_ACCESS;
        return dfu_err_set(err, DFU_E_ACCESS, "%d USB device(s) could not be inspected: %s", denied,
                           UDEV_RULES_HINT);
    }
    return rc;
}

/* ---- the transport ---- */

static struct usb_tr *tr_of(struct dfu_transport *t)
{
    return (struct usb_tr *)t;
}

static int tr_control(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data,
                      size_t *len, unsigned timeout_ms, struct dfu_err *err)
{
    struct usb_tr *u = tr_of(t);
    int rc;

    if (len != NULL)
        *len = 0;
    if (u->h == NULL)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "USB device %s is gone", u->info.path);
    rc = libusb_control_transfer(u->h, req->bmRequestType, req->bRequest, req->wValue, req->wIndex,
                                 data, req->wLength,
                                 timeout_ms != 0 ? timeout_ms : CTRL_DEFAULT_TIMEOUT_MS);
    if (rc < 0) {
        char what[64];
        snprintf(what, sizeof what, "control request 0x%02x/0x%02x", req->bmRequestType,
                 req->bRequest);
        return usb_fail(err, rc, what);
    }
    if (len != NULL)
        *len = (size_t)rc;
    return 0;
}

static int tr_claim(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err)
{
    struct usb_tr *u = tr_of(t);
    int rc;

    if (u->h == NULL)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "USB device %s is gone", u->info.path);
    if (u->claimed && u->intf != intf) {
        libusb_release_interface(u->h, u->intf);
        u->claimed = 0;
    }
    if (!u->claimed) {
        rc = libusb_claim_interface(u->h, intf);
        if (rc != 0) {
            usb_fail(err, rc, "claiming the DFU interface");
            if (rc == LIBUSB_ERROR_BUSY)
                dfu_err_prefix(err, "another program holds the device");
            return err != NULL ? err->code : map_libusb(rc);
        }
        u->claimed = 1;
        u->intf = intf;
    }
    rc = libusb_set_interface_alt_setting(u->h, intf, alt);
    /* devices with a single alternate setting may stall SET_INTERFACE(0) */
    if (rc != 0 && !(rc == LIBUSB_ERROR_PIPE && alt == 0))
        return usb_fail(err, rc, "selecting the alternate setting");
    u->alt = alt;
    return 0;
}

static void drop_handle(struct usb_tr *u)
{
    if (u->h != NULL) {
        if (u->claimed)
            libusb_release_interface(u->h, u->intf);
        libusb_close(u->h);
        u->h = NULL;
    }
}

static void tr_close(struct dfu_transport *t)
{
    struct usb_tr *u = tr_of(t);

    if (u == NULL)
        return;
    drop_handle(u);
    if (u->ctx != NULL)
        libusb_exit(u->ctx);
    free(u);
}

static int tr_reset(struct dfu_transport *t, struct dfu_err *err)
{
    struct usb_tr *u = tr_of(t);
    int rc;

    if (u->h == NULL)
        return dfu_err_set(err, DFU_E_NO_DEVICE, "USB device %s is gone", u->info.path);
    rc = libusb_reset_device(u->h);
    if (rc == 0) {
        u->reset_in_place = 1;
        return 0;
    }
    /* the device re-enumerated as something else: the handle is stale */
    if (rc == LIBUSB_ERROR_NOT_FOUND || rc == LIBUSB_ERROR_NO_DEVICE) {
        drop_handle(u);
        return 0;
    }
    return usb_fail(err, rc, "USB reset");
}

/* Whether a device found during re-enumeration is the one we are waiting for. */
struct reenum_ctx {
    const struct usb_tr *u;
    int found;
    struct dfu_devinfo info;
    libusb_device *dev;
};

static int reenum_cb(void *ud, const struct dfu_devinfo *info, libusb_device *dev)
{
    struct reenum_ctx *rx = ud;
    const struct usb_tr *u = rx->u;
    int by_serial = u->info.serial[0] != '\0';

    if (info->bus == u->info.bus && libusb_get_device_address(dev) == u->devnum)
        return 0; /* the old device, still listed */
    if (info->protocol != 2 || strcmp(by_serial ? info->serial : info->path,
                                      by_serial ? u->info.serial : u->info.path) != 0)
        return 0;
    rx->found = 1;
    rx->info = *info;
    rx->dev = libusb_ref_device(dev);
    return 1;
}

static int attach(struct usb_tr *u, libusb_device *dev, const struct dfu_devinfo *info,
                  struct dfu_err *err)
{
    int rc = libusb_open(dev, &u->h);

    if (rc != 0) {
        u->h = NULL;
        return usb_fail(err, rc, "opening the USB device");
    }
    u->info = *info;
    u->devnum = libusb_get_device_address(dev);
    libusb_set_auto_detach_kernel_driver(u->h, 1);
    if (u->claimed) {
        u->claimed = 0;
        rc = tr_claim(&u->base, u->intf, u->alt, err);
        if (rc != 0) {
            drop_handle(u);
            return rc;
        }
    }
    return 0;
}

static int LIBUSB_CALL hotplug_arrived(libusb_context *ctx, libusb_device *dev,
                                       libusb_hotplug_event ev, void *ud)
{
    (void)ctx;
    (void)dev;
    (void)ev;
    *(int *)ud = 1;
    return 0;
}

static int tr_wait_reenumerate(struct dfu_transport *t, unsigned timeout_ms, struct dfu_err *err)
{
    struct usb_tr *u = tr_of(t);
    uint64_t deadline = dfu_clock_now_us() + (uint64_t)timeout_ms * 1000u;
    libusb_hotplug_callback_handle hp = 0;
    int have_hp = 0, arrived = 0, rc = DFU_E_TIMEOUT;
    struct dfu_devspec spec;

    if (u->reset_in_place && u->h != NULL) {
        /* the bus reset kept the device: re-select what was selected */
        u->reset_in_place = 0;
        if (u->claimed) {
            int r = libusb_set_interface_alt_setting(u->h, u->intf, u->alt);
            if (r != 0 && !(r == LIBUSB_ERROR_PIPE && u->alt == 0))
                return usb_fail(err, r, "selecting the alternate setting after reset");
        }
        return 0;
    }
    /* handles to the old device must be closed before it comes back */
    drop_handle(u);
    memset(&spec, 0, sizeof spec);
    spec.alt = -1;
    if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
        libusb_hotplug_register_callback(u->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, 0,
                                         LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                                         LIBUSB_HOTPLUG_MATCH_ANY, hotplug_arrived, &arrived,
                                         &hp) == 0)
        have_hp = 1;
    for (;;) {
        struct reenum_ctx rx;
        libusb_context *scan = NULL;
        int fresh;

        memset(&rx, 0, sizeof rx);
        rx.u = u;
        /* The hotplug-driven list of our context misses devices when no udev daemon
         * runs; a fresh context scans sysfs. Use the event when there is one, and a
         * fresh scan otherwise. */
        fresh = !(have_hp && arrived);
        arrived = 0;
        if (fresh && libusb_init(&scan) != 0)
            scan = NULL;
        walk_devices(fresh && scan != NULL ? scan : u->ctx, &spec, reenum_cb, &rx, NULL, NULL);
        if (rx.found) {
            rc = attach(u, rx.dev, &rx.info, err);
            libusb_unref_device(rx.dev);
            if (rc == 0 && scan != NULL) {
                /* the new handle belongs to the scan context: keep that one */
                if (have_hp)
                    libusb_hotplug_deregister_callback(u->ctx, hp);
                have_hp = 0;
                libusb_exit(u->ctx);
                u->ctx = scan;
                scan = NULL;
            }
            if (rc == 0) {
                if (scan != NULL)
                    libusb_exit(scan);
                break;
            }
        }
        if (scan != NULL)
            libusb_exit(scan);
        if (dfu_clock_now_us() >= deadline) {
            rc = dfu_err_set(err, DFU_E_TIMEOUT,
                             "the DFU device (%s%s) did not come back within %u ms",
                             u->info.serial[0] ? "serial " : "path ",
                             u->info.serial[0] ? u->info.serial : u->info.path, timeout_ms);
            break;
        }
        if (have_hp) {
            struct timeval tv = {0, (long)REENUM_POLL_MS * 1000};
            libusb_handle_events_timeout_completed(u->ctx, &tv, NULL);
        } else {
            dfu_transport_sleep_us(t, REENUM_POLL_MS * 1000u);
        }
    }
    if (have_hp)
        libusb_hotplug_deregister_callback(u->ctx, hp);
    return rc;
}

static const struct dfu_transport_ops usb_ops = {
    .version = DFU_TRANSPORT_OPS_VERSION,
    .name = "libusb",
    .control = tr_control,
    .claim = tr_claim,
    .close = tr_close,
    .reset = tr_reset,
    .wait_reenumerate = tr_wait_reenumerate,
};

/* Open @which (found again by port path, VID and PID) in a context of its own; the transport
 * re-opens the same device (by serial, else port path) in wait_reenumerate. */
static int usb_open(const struct dfu_devinfo *which, void *ref, struct dfu_transport **out,
                    struct dfu_err *err)
{
    struct usb_tr *u = calloc(1, sizeof *u);
    libusb_device **list = NULL, *dev = NULL;
    ssize_t n;
    int rc;

    *out = NULL;
    if (u == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    u->base.ops = &usb_ops;
    rc = usb_init(&u->ctx, err);
    if (rc != 0) {
        free(u);
        return rc;
    }
    n = libusb_get_device_list(u->ctx, &list);
    for (ssize_t i = 0; i < n && dev == NULL; i++) {
        struct libusb_device_descriptor dd;

        memset(&u->info, 0, sizeof u->info);
        port_path(list[i], &u->info);
        if (strcmp(u->info.path, which->path) == 0 &&
            libusb_get_device_descriptor(list[i], &dd) == 0 && dd.idVendor == which->vid &&
            dd.idProduct == which->pid)
            dev = list[i];
    }
    if (dev == NULL)
        rc = dfu_err_set(err, DFU_E_NO_DEVICE, "USB device %04x:%04x at %s is gone", which->vid,
                         which->pid, which->path);
    else
        rc = attach(u, dev, which, err);
    libusb_free_device_list(list, 1);
    if (rc != 0) {
        if (dev != NULL)
            dfu_err_prefix(err, "%04x:%04x at %s", which->vid, which->pid, which->path);
        tr_close(&u->base);
        return rc;
    }
    *out = &u->base;
    return 0;
}

const struct dfu_backend dfui_usb_backend = {
    .name = "usb",
    .syntax = "usb, usb:VID:PID",
    .ids_head = 1,
    .enumerate = usb_enumerate,
    .open = usb_open,
    .none = "no USB DFU device found (try -d sim:stm32h753)",
};
