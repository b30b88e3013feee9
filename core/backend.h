/*
 * Built-in backends behind dfu_list()/dfu_open(). Internal: not installed.
 */
#ifndef DFU_BACKEND_H
#define DFU_BACKEND_H

#include "dfu/device.h"
#include "dfu/transport.h"

/** 1 if the device's serial string descriptor holds bytes rather than UTF-16 (quirks.c). */
int dfui_serial_is_raw(uint16_t vid, uint16_t pid);
/** The payload of a string descriptor as bytes (printable ASCII kept, others as '?'). */
void dfui_desc_string_bytes(const uint8_t *buf, size_t len, char *out, size_t cap);

#ifdef DFU_WITH_LIBUSB
/** Enumerate USB DFU interfaces (one call per device+interface, alt 0 info) matching @spec. */
int dfui_usb_list(const struct dfu_devspec *spec,
                  int (*found)(void *ud, const struct dfu_devinfo *info), void *ud,
                  struct dfu_err *err);
/** Open the device described by @which (as reported by dfui_usb_list). The returned transport
 *  re-opens the same device (by serial, else port path) in wait_reenumerate. */
int dfui_usb_open(const struct dfu_devinfo *which, struct dfu_transport **out, struct dfu_err *err);
#endif

#endif
