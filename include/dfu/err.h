/*
 * dfush error model: negative DFU_E_* codes plus an optional detail struct.
 *
 * Every core function returns 0 on success or a negative DFU_E_* code, and
 * fills the optional struct dfu_err (which may be NULL) with the detail.
 */
#ifndef DFU_ERR_H
#define DFU_ERR_H

#include <stdint.h>

/* X(name, value, description); names are stable and used by scripts. */
#define DFU_ERR_LIST(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(IO, -1, "input/output error")                                                                \
    X(INVALID, -2, "invalid argument")                                                             \
    X(ACCESS, -3, "access denied")                                                                 \
    X(NO_DEVICE, -4, "no such device (it may have been disconnected)")                             \
    X(NOT_FOUND, -5, "not found")                                                                  \
    X(BUSY, -6, "resource busy")                                                                   \
    X(TIMEOUT, -7, "operation timed out")                                                          \
    X(OVERFLOW, -8, "overflow")                                                                    \
    X(PIPE, -9, "pipe error (request stalled)")                                                    \
    X(INTERRUPTED, -10, "interrupted")                                                             \
    X(NOMEM, -11, "out of memory")                                                                 \
    X(NOT_SUPPORTED, -12, "operation not supported")                                               \
    X(AMBIGUOUS, -13, "more than one device matches")                                              \
    X(PROTOCOL, -20, "unexpected device state")                                                    \
    X(STATUS, -21, "device reported an error status")                                              \
    X(FORMAT, -30, "bad file format")                                                              \
    X(RANGE, -31, "address out of range")

enum dfu_errcode {
#define DFU_X_(n, v, d) DFU_E_##n = v,
    DFU_ERR_LIST(DFU_X_)
#undef DFU_X_
};
#define DFU_OK DFU_E_OK

/* DFU 1.1 bStatus values (protocol.md 1.3). X(name, value, spec name) */
#define DFU_STATUS_LIST(X)                                                                         \
    X(OK, 0x00, "OK")                                                                              \
    X(ERR_TARGET, 0x01, "errTARGET")                                                               \
    X(ERR_FILE, 0x02, "errFILE")                                                                   \
    X(ERR_WRITE, 0x03, "errWRITE")                                                                 \
    X(ERR_ERASE, 0x04, "errERASE")                                                                 \
    X(ERR_CHECK_ERASED, 0x05, "errCHECK_ERASED")                                                   \
    X(ERR_PROG, 0x06, "errPROG")                                                                   \
    X(ERR_VERIFY, 0x07, "errVERIFY")                                                               \
    X(ERR_ADDRESS, 0x08, "errADDRESS")                                                             \
    X(ERR_NOTDONE, 0x09, "errNOTDONE")                                                             \
    X(ERR_FIRMWARE, 0x0A, "errFIRMWARE")                                                           \
    X(ERR_VENDOR, 0x0B, "errVENDOR")                                                               \
    X(ERR_USBR, 0x0C, "errUSBR")                                                                   \
    X(ERR_POR, 0x0D, "errPOR")                                                                     \
    X(ERR_UNKNOWN, 0x0E, "errUNKNOWN")                                                             \
    X(ERR_STALLEDPKT, 0x0F, "errSTALLEDPKT")

enum dfu_status_code {
#define DFU_X_(n, v, s) DFU_STATUS_##n = v,
    DFU_STATUS_LIST(DFU_X_)
#undef DFU_X_
};

/* DFU 1.1 bState values (protocol.md 1.4). X(name, value, spec name) */
#define DFU_STATE_LIST(X)                                                                          \
    X(APP_IDLE, 0, "appIDLE")                                                                      \
    X(APP_DETACH, 1, "appDETACH")                                                                  \
    X(IDLE, 2, "dfuIDLE")                                                                          \
    X(DNLOAD_SYNC, 3, "dfuDNLOAD-SYNC")                                                            \
    X(DNBUSY, 4, "dfuDNBUSY")                                                                      \
    X(DNLOAD_IDLE, 5, "dfuDNLOAD-IDLE")                                                            \
    X(MANIFEST_SYNC, 6, "dfuMANIFEST-SYNC")                                                        \
    X(MANIFEST, 7, "dfuMANIFEST")                                                                  \
    X(MANIFEST_WAIT_RESET, 8, "dfuMANIFEST-WAIT-RESET")                                            \
    X(UPLOAD_IDLE, 9, "dfuUPLOAD-IDLE")                                                            \
    X(ERROR, 10, "dfuERROR")

enum dfu_state_code {
#define DFU_X_(n, v, s) DFU_STATE_##n = v,
    DFU_STATE_LIST(DFU_X_)
#undef DFU_X_
};

#define DFU_ERR_MSG_MAX 256

struct dfu_err {
    int code;           /* DFU_E_* */
    int sys;            /* backend code (libusb_error) or errno, 0 if none */
    uint8_t dfu_status; /* last bStatus (DFU_STATUS_*), 0 if none */
    uint8_t dfu_state;  /* last bState (DFU_STATE_*), 0xFF if unknown */
    uint32_t addr;      /* address in flight; valid when has_addr */
    int has_addr;
    unsigned line;             /* 1-based source line for text parse errors, 0 if none */
    long offset;               /* byte offset for binary parse errors, -1 if none */
    char msg[DFU_ERR_MSG_MAX]; /* "erase 0x08004000: device status errERASE" */
};

/** Reset @e to "no error". @e may be NULL. */
void dfu_err_clear(struct dfu_err *e);

/** Set code and printf-style message; returns @code so callers can `return dfu_err_set(...)`.
 *  Other fields are left as they are. @e may be NULL. */
int dfu_err_set(struct dfu_err *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** Prepend "<prefix>: " to the message (like g_prefix_error); returns e->code (or DFU_E_IO
 *  if @e is NULL). */
int dfu_err_prefix(struct dfu_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** Stable upper-case name of a DFU_E_* code ("TIMEOUT"), "UNKNOWN" if not a code. */
const char *dfu_err_name(int code);
/** Human description of a DFU_E_* code. */
const char *dfu_err_str(int code);
/** Spec name of a bStatus ("errVERIFY"), or "status 0xNN" style "unknown". */
const char *dfu_status_name(uint8_t status);
/** Spec name of a bState ("dfuDNBUSY"), or "unknown". */
const char *dfu_state_name(uint8_t state);
/** Parse a spec status/state name back into its number; -1 if unknown. */
int dfu_status_from_name(const char *name);
int dfu_state_from_name(const char *name);

#endif
