/*
 * DFU 1.1 and DfuSe primitives over a transport, device strings, enumeration.
 */
#ifndef DFU_DEVICE_H
#define DFU_DEVICE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dfu/err.h"
#include "dfu/layout.h"
#include "dfu/log.h"
#include "dfu/transport.h"

/* ---- device strings (design.md 2) ---- */

struct dfu_devspec {
    char backend[8]; /* the registry's name for it: "usb", "sim" */
    char target[64]; /* the text after "BACKEND:", e.g. "0483:df11" or "stm32h753" */
    int has_vid, has_pid;
    uint16_t vid, pid; /* from the target of "usb:VID:PID" */
    char serial[128];  /* "" = any */
    char path[64];     /* "" = any */
    int alt;           /* -1 = not given */
    char alt_name[128];
    char opts[1024]; /* the backend's own keys as given: "boot0=0,events=/tmp/e.jsonl" */
};

/** Parse "usb", "usb:0483:df11,serial=X,path=1-2.3,alt=1", "sim:stm32h753,boot0=0,...": the
 *  backend name, the common keys, and the keys the backend declares, which are checked by the
 *  backend and passed to it in @out->opts. NULL or "" means "usb". */
int dfu_devspec_parse(const char *s, struct dfu_devspec *out, struct dfu_err *err);

/* ---- status ---- */

struct dfu_status {
    uint8_t status;        /* bStatus */
    uint32_t poll_timeout; /* bwPollTimeout, ms */
    uint8_t state;         /* bState */
    uint8_t istring;       /* iString */
};

enum dfu_poll_policy {
    DFU_POLL_SPEC = 0,  /* sleep bwPollTimeout before the next GETSTATUS while dfuDNBUSY */
    DFU_POLL_EARLY = 1, /* send the next GETSTATUS at once; the device holds the answer */
};

/* ---- the device ---- */

typedef struct dfu_dev dfu_dev;

/* One alternate setting of the DFU interface. */
struct dfu_alt {
    uint8_t alt;
    char name[256]; /* raw iInterface string */
    int has_layout; /* name parsed as a DfuSe layout */
    struct dfu_layout layout;
};

/** Pick the alternate setting @want names: a decimal number is a bAlternateSetting; anything
 *  else is a case-insensitive prefix of an alt's name (with or without its leading '@') or of
 *  its parsed layout name, and a name equal to @want wins over names it only begins. Sets
 *  *@index to the position in @alts. DFU_E_NOT_FOUND lists every alt, DFU_E_AMBIGUOUS the
 *  candidates, by their full names. */
int dfu_alt_match(const struct dfu_alt *alts, size_t n, const char *want, size_t *index,
                  struct dfu_err *err);

/** List the DFU devices of @spec's backend that match it (NULL = all USB devices). Calls @found
 *  once per DFU interface (alt 0 info; dfu_dev_alts has the alt names of an open device). */
int dfu_list(const struct dfu_devspec *spec, int (*found)(void *ud, const struct dfu_devinfo *info),
             void *ud, struct dfu_err *err);

/** Open the one device matching @devstr. DFU_E_NOT_FOUND if none, DFU_E_AMBIGUOUS if several
 *  (the message lists them), DFU_E_ACCESS without permission. Selects the alt from the spec
 *  (alt=N or alt=NAME prefix), else alt 0. */
int dfu_open(const char *devstr, dfu_dev **out, struct dfu_err *err);

/** Wrap an open transport (ownership moves to the device) with its enumeration info. Reads the
 *  alternate-setting names and parses layouts, claims info->intf/info->alt. */
int dfu_dev_open(struct dfu_transport *t, const struct dfu_devinfo *info, dfu_dev **out,
                 struct dfu_err *err);

/** Release the interface and close the transport. NULL-safe, idempotent per pointer. */
void dfu_dev_close(dfu_dev *d);

const struct dfu_devinfo *dfu_dev_info(const dfu_dev *d);
struct dfu_transport *dfu_dev_transport(dfu_dev *d);
/** Alternate settings; array valid until close. */
const struct dfu_alt *dfu_dev_alts(const dfu_dev *d, size_t *n);
/** The current alt, and select another (SET_INTERFACE); forgets the DfuSe address stream. */
uint8_t dfu_dev_alt(const dfu_dev *d);
int dfu_dev_set_alt(dfu_dev *d, uint8_t alt, struct dfu_err *err);
/** The alt @want names (dfu_alt_match over the device's alternate settings). */
int dfu_dev_find_alt(const dfu_dev *d, const char *want, uint8_t *alt, struct dfu_err *err);
/** Whether the device speaks DfuSe (bcdDFU 0x011A). */
int dfu_dev_is_dfuse(const dfu_dev *d);

void dfu_dev_set_log(dfu_dev *d, const struct dfu_log *log);
/** Poll policy; the default comes from the quirk table (early for ST ROMs, spec otherwise). */
void dfu_dev_set_poll(dfu_dev *d, enum dfu_poll_policy p);
enum dfu_poll_policy dfu_dev_poll(const dfu_dev *d);
/** Checked between transfers; when *flag becomes non-zero, loops return DFU_E_INTERRUPTED. */
void dfu_dev_set_cancel(dfu_dev *d, volatile sig_atomic_t *flag);
/* Route every wait of this device's requests through @wait (struct dfu_waiter in
 * dfu/transport.h); NULL restores the transport's own sleep. */
void dfu_dev_set_waiter(dfu_dev *d,
                        void (*wait)(void *ud, struct dfu_transport *t, uint64_t until_us),
                        void *ud);
/** Transport clock (virtual for the simulator). */
uint64_t dfu_dev_now_us(dfu_dev *d);

/** Count of control transfers issued through this device (for benchmarks and specs). */
uint64_t dfu_dev_transfers(const dfu_dev *d);

/* ---- DFU 1.1 requests (one control transfer each) ---- */

int dfu_detach(dfu_dev *d, uint16_t timeout_ms, struct dfu_err *err);
int dfu_dnload(dfu_dev *d, uint16_t block, const uint8_t *data, size_t len, struct dfu_err *err);
int dfu_upload(dfu_dev *d, uint16_t block, uint8_t *buf, size_t len, size_t *got,
               struct dfu_err *err);
int dfu_getstatus(dfu_dev *d, struct dfu_status *st, struct dfu_err *err);
int dfu_clrstatus(dfu_dev *d, struct dfu_err *err);
int dfu_getstate(dfu_dev *d, uint8_t *state, struct dfu_err *err);
int dfu_abort(dfu_dev *d, struct dfu_err *err);

/* ---- state handling ---- */

/** Bring the device to dfuIDLE: CLRSTATUS only in dfuERROR, ABORT in the *-IDLE states, wait
 *  out busy states. */
int dfu_abort_to_idle(dfu_dev *d, struct dfu_err *err);

/** After a DNLOAD: poll GETSTATUS per the poll policy until the device leaves dfuDNBUSY /
 *  dfuDNLOAD-SYNC, at most @ceiling_ms of (virtual) time. Returns the last status in @st.
 *  bStatus != OK -> DFU_E_STATUS (err->dfu_status/state set). Falls back from early to spec
 *  polling when the device stalls an early poll. */
int dfu_wait_status(dfu_dev *d, struct dfu_status *st, unsigned ceiling_ms, struct dfu_err *err);

/* ---- DfuSe (AN3156) ---- */

/* Per-operation ceilings on the time a command may stay busy. */
#define DFUSE_CEIL_SET_ADDRESS_MS 2000u
#define DFUSE_CEIL_WRITE_MS 5000u
#define DFUSE_CEIL_ERASE_MS 10000u
#define DFUSE_CEIL_MASS_ERASE_MS 40000u

int dfuse_get_commands(dfu_dev *d, uint8_t *cmds, size_t cap, size_t *n, struct dfu_err *err);
/** DNLOAD(0, cmd) + the two-GETSTATUS confirmation (dfuDNBUSY, then dfuDNLOAD-IDLE/OK). */
int dfuse_command(dfu_dev *d, const uint8_t *cmd, size_t len, unsigned ceiling_ms,
                  struct dfu_err *err);
int dfuse_set_address(dfu_dev *d, uint32_t addr, struct dfu_err *err);
int dfuse_erase_page(dfu_dev *d, uint32_t addr, struct dfu_err *err);
int dfuse_mass_erase(dfu_dev *d, struct dfu_err *err);
/** Sends 0x92 and the first GETSTATUS; the device erases and resets (no second status). */
int dfuse_read_unprotect(dfu_dev *d, struct dfu_err *err);

/** Write @len bytes at @addr in wTransferSize blocks. Sets the address once per contiguous
 *  run and counts wBlockNum up from 2; a call that starts where the previous write ended
 *  (on a block boundary) continues the run without a new SET_ADDRESS. Re-issues SET_ADDRESS
 *  after an error, when the run changes, and before wBlockNum would wrap. */
int dfuse_write(dfu_dev *d, uint32_t addr, const uint8_t *data, size_t len,
                const struct dfu_progress *progress, struct dfu_err *err);
/** Read @len bytes from @addr (SET_ADDRESS, ABORT, UPLOAD 2,3,..., ABORT); continues a
 *  previous read run the same way dfuse_write does. */
int dfuse_read(dfu_dev *d, uint32_t addr, uint8_t *buf, size_t len,
               const struct dfu_progress *progress, struct dfu_err *err);
/** SET_ADDRESS(@addr), DNLOAD length 0, one GETSTATUS. @st receives that status when it
 *  arrived (*@answered = 1); a failing final GETSTATUS (PIPE/IO/NO_DEVICE) is the expected
 *  end and returns 0 with *@answered = 0. */
int dfuse_leave(dfu_dev *d, uint32_t addr, struct dfu_status *st, int *answered,
                struct dfu_err *err);
/** Forget the address stream (next write/read sends SET_ADDRESS). */
void dfuse_stream_reset(dfu_dev *d);

/* ---- plain DFU 1.1 transfers ---- */

/** Download a whole image (blocks from 0, final zero-length DNLOAD, manifestation). */
int dfu_download(dfu_dev *d, const uint8_t *data, size_t len, const struct dfu_progress *progress,
                 struct dfu_err *err);
/** Upload until a short frame or @cap bytes; *@got = bytes read. */
int dfu_upload_all(dfu_dev *d, uint8_t *buf, size_t cap, size_t *got,
                   const struct dfu_progress *progress, struct dfu_err *err);

/** Run-time -> DFU mode for a device opened in run-time mode (protocol 1): GETSTATUS,
 *  DFU_DETACH, a bus reset unless the device sets bitWillDetach, then wait up to @timeout_ms
 *  for the DFU-mode device (same backend, same serial, else same port path) and open it. *@d
 *  is closed and replaced by the new device (NULL on failure). A device already in DFU mode is
 *  left as is. */
int dfu_dev_detach_and_reopen(dfu_dev **d, unsigned timeout_ms, struct dfu_err *err);

/* ---- descriptors ---- */

struct dfu_func_desc {
    uint8_t attributes;
    uint16_t detach_timeout, transfer_size, bcd_dfu; /* bcd_dfu 0x0100 when bLength 7 */
    uint8_t length;
};

/** Find a DFU functional descriptor (type 0x21) anywhere in a descriptor blob. */
int dfu_desc_find_functional(const uint8_t *buf, size_t len, struct dfu_func_desc *out);

struct dfu_desc_alt {
    uint8_t intf, alt, protocol, iinterface;
};

/** Walk a raw configuration descriptor: DFU interfaces (class 0xFE/0x01) and their alternate
 *  settings (up to @max), and the functional descriptor wherever it sits (after the
 *  interface, or at config level). */
int dfu_desc_parse_config(const uint8_t *cfg, size_t len, struct dfu_desc_alt *alts, size_t max,
                          size_t *n, struct dfu_func_desc *func, struct dfu_err *err);

/** The DFU mode of an interface from its bInterfaceProtocol, with the deviations dfu-util knows
 *  (protocol.md 1.1): 2 DFU mode, 1 run-time. @ninterfaces is the configuration's. */
uint8_t dfu_desc_mode(uint16_t vid, uint16_t pid, uint8_t protocol, uint16_t bcd_dfu,
                      uint8_t ninterfaces);

/** Decode a USB string descriptor (UTF-16LE) into UTF-8 @out. */
int dfu_desc_string(const uint8_t *buf, size_t len, char *out, size_t cap);
/** The first language id of string descriptor 0 (0x0409 when it names none). */
uint16_t dfu_desc_langid(const uint8_t *buf, size_t len);

/** Read device, configuration and string descriptors through @t with control transfers and
 *  fill @info (vid, pid, bcd, functional descriptor, serial, product, alt 0 name). */
int dfu_probe(struct dfu_transport *t, struct dfu_devinfo *info, struct dfu_err *err);

#endif
