/*
 * The transport vtable: everything the DFU protocol code needs from a USB
 * device. Backends: the in-process simulator (core/sim/) and libusb
 * (core/usb_libusb.c). Third parties can register their own.
 */
#ifndef DFU_TRANSPORT_H
#define DFU_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "dfu/err.h"

/* A USB SETUP packet, host byte order. */
struct dfu_ctrl {
    uint8_t bmRequestType, bRequest;
    uint16_t wValue, wIndex, wLength;
};

struct dfu_transport;

#define DFU_TRANSPORT_OPS_VERSION 1

struct dfu_transport_ops {
    int version;      /* DFU_TRANSPORT_OPS_VERSION; append ops only */
    const char *name; /* "libusb", "sim" */

    /* mandatory */

    /** One control transfer. For IN requests @data receives up to req->wLength bytes and *@len
     *  is set to the count received; for OUT requests @data holds req->wLength bytes and *@len
     *  is set to the count sent. Returns DFU_E_PIPE for a STALL, DFU_E_TIMEOUT, DFU_E_NO_DEVICE
     *  when the device is gone. */
    int (*control)(struct dfu_transport *t, const struct dfu_ctrl *req, uint8_t *data, size_t *len,
                   unsigned timeout_ms, struct dfu_err *err);
    /** Claim interface @intf and select alternate setting @alt. */
    int (*claim)(struct dfu_transport *t, uint8_t intf, uint8_t alt, struct dfu_err *err);
    /** Release and free everything; idempotent, cannot fail; @t is invalid afterwards. */
    void (*close)(struct dfu_transport *t);

    /* optional: NULL means DFU_E_NOT_SUPPORTED (or the default noted) */

    /** Monotonic time in microseconds. Default: CLOCK_MONOTONIC. The simulator returns its
     *  virtual clock. */
    uint64_t (*now_us)(struct dfu_transport *t);
    /** Sleep. Default: nanosleep. The simulator advances its virtual clock instead. */
    void (*sleep_us)(struct dfu_transport *t, uint64_t us);
    /** USB bus reset of the device. */
    int (*reset)(struct dfu_transport *t, struct dfu_err *err);
    /** After the device dropped off the bus (leave, reset, option-byte write): wait up to
     *  @timeout_ms for a DFU device with the same serial (or port path) to enumerate again and
     *  re-attach this transport to it. DFU_E_TIMEOUT if it did not come back. */
    int (*wait_reenumerate)(struct dfu_transport *t, unsigned timeout_ms, struct dfu_err *err);
};

/* The one place a request waits (a device's poll timeout, a busy device, polling for a device
 * that re-enumerates): dfu_transport_sleep_us() calls @wait when it is set, else the
 * transport's own sleep. A scheduler that runs several devices in one process installs it
 * (dfu_dev_set_waiter) to run other work until @until_us on the transport's clock. */
struct dfu_waiter {
    void (*wait)(void *ud, struct dfu_transport *t, uint64_t until_us);
    void *ud;
};

struct dfu_transport {
    const struct dfu_transport_ops *ops;
    struct dfu_waiter waiter; /* zero: the transport sleeps by itself */
};

/* What enumeration reports about one DFU interface alternate setting; plain data. */
#define DFU_MAX_PORT_DEPTH 8
struct dfu_devinfo {
    char backend[16]; /* "usb", "sim" */
    uint16_t vid, pid, bcd_device;
    uint16_t bcd_dfu;       /* from the functional descriptor; 0x011A = DfuSe */
    uint16_t transfer_size; /* wTransferSize */
    uint16_t detach_timeout;
    uint8_t attributes; /* bmAttributes of the functional descriptor */
    uint8_t bus, port_path[DFU_MAX_PORT_DEPTH], port_depth;
    uint8_t intf, alt, protocol; /* bInterfaceProtocol: 1 run-time, 2 DFU mode */
    uint8_t max_packet0;
    char serial[128];
    char product[128];
    char alt_name[256]; /* iInterface string: the DfuSe layout for ST ROMs */
    char path[64];      /* "B-P.P.P" for usb; "sim:PROFILE" for sim */
};

/* Transport helpers with the optional-op defaults applied. */
uint64_t dfu_transport_now_us(struct dfu_transport *t);
void dfu_transport_sleep_us(struct dfu_transport *t, uint64_t us);
int dfu_transport_reset(struct dfu_transport *t, struct dfu_err *err);
int dfu_transport_wait_reenumerate(struct dfu_transport *t, unsigned timeout_ms,
                                   struct dfu_err *err);

/* Real clock helpers used as the defaults. */
uint64_t dfu_clock_now_us(void);
void dfu_clock_sleep_us(uint64_t us);

#endif
