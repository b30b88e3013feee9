/*
 * Cross-file internals of the DFU protocol core (never installed).
 */
#ifndef DFU_INTERNAL_H
#define DFU_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dfu/device.h"

/* USB control timeout for requests the device answers at once. */
#define DFUI_CTRL_TIMEOUT_MS 5000u
/* Extra time granted to a held GETSTATUS beyond the remaining operation ceiling. */
#define DFUI_HOLD_MARGIN_MS 1000u
/* Stalled GETSTATUS polls tolerated per operation before giving up (STM32L4 stalls EP0 when
 * polled before a page erase ends). */
#define DFUI_MAX_POLL_STALLS 8
/* Ceiling for waiting out a busy state in dfu_abort_to_idle and manifestation. */
#define DFUI_CEIL_IDLE_MS 10000u

/* Quirk flags (core/quirks.c). */
#define DFUI_QUIRK_EARLY_POLL 0x01u  /* answers a GETSTATUS only when the job is done */
#define DFUI_QUIRK_POLLTIMEOUT 0x02u /* bwPollTimeout is meaningless: use 5 ms */
#define DFUI_QUIRK_FORCE_DFU11 0x04u /* reports a wrong bcdDFU; treat as DFU 1.1 */
#define DFUI_QUIRK_UTF8_SERIAL 0x08u /* the serial string descriptor holds bytes, not UTF-16 */
#define DFUI_QUIRK_DFUSE_LEAVE 0x10u /* leaves on the zero-length DNLOAD (GETSTATUS optional) */

/* DFU class requests (protocol.md 1.2). */
enum {
    DFUI_REQ_DETACH = 0x00,
    DFUI_REQ_DNLOAD = 0x01,
    DFUI_REQ_UPLOAD = 0x02,
    DFUI_REQ_GETSTATUS = 0x03,
    DFUI_REQ_CLRSTATUS = 0x04,
    DFUI_REQ_GETSTATE = 0x05,
    DFUI_REQ_ABORT = 0x06,
};

enum dfui_stream_dir { DFUI_STREAM_NONE = 0, DFUI_STREAM_WRITE, DFUI_STREAM_READ };

/* A DfuSe block stream: the address pointer was set to @base and blocks 2..next_block-1 have
 * been transferred, each of wTransferSize bytes, ending at @next_addr. */
struct dfui_stream {
    enum dfui_stream_dir dir;
    uint32_t base;
    uint32_t next_addr;
    uint32_t next_block;
};

/* Kinds of DfuSe jobs, polled separately: a device (STM32L4) may stall the polls of its page
 * erases while it answers those of its data blocks and of its other commands (SET_ADDRESS). */
#define DFUI_OP_DATA 1u
#define DFUI_OP_CMD 2u
#define DFUI_OP_ERASE 4u

/* What the host learned about a job that took longer than the bwPollTimeout the device
 * reported (poll): it was still busy lo us after its first status and done by hi us. */
struct dfui_learned {
    uint32_t poll;
    unsigned op;
    uint64_t lo, hi;
};
#define DFUI_LEARNED 4

struct dfu_dev {
    struct dfu_transport *t;
    struct dfu_devinfo info;
    struct dfu_alt *alts;
    size_t nalts;
    uint8_t alt;
    struct dfu_log log;
    enum dfu_poll_policy poll;
    unsigned early_stalled; /* DFUI_OP_* kinds whose early polls were stalled: spec polling for
                             * them until dfu_dev_set_poll */
    unsigned op;            /* the kind of job being polled: DFUI_OP_* */
    struct dfui_learned learned[DFUI_LEARNED];
    unsigned quirks;
    volatile sig_atomic_t *cancel;
    uint64_t transfers;
    int recover;   /* a request failed: bring the device to dfuIDLE before the next DfuSe job */
    int in_upload; /* the device may sit in dfuUPLOAD-IDLE: ABORT before any DNLOAD */
    struct dfui_stream stream;
};

/* ---- core/dfu.c ---- */

/** One counted, logged control transfer through the device's transport. */
int dfui_control(dfu_dev *d, const struct dfu_ctrl *req, uint8_t *data, size_t *len,
                 unsigned timeout_ms, struct dfu_err *err);
/** Raw requests that leave the DfuSe stream alone. */
int dfui_dnload(dfu_dev *d, uint16_t block, const uint8_t *data, size_t len, struct dfu_err *err);
int dfui_upload(dfu_dev *d, uint16_t block, uint8_t *buf, size_t len, size_t *got,
                struct dfu_err *err);
int dfui_getstatus(dfu_dev *d, struct dfu_status *st, unsigned timeout_ms, struct dfu_err *err);
int dfui_abort(dfu_dev *d, struct dfu_err *err);
/** Continue polling after @st (a status just received) while the device is dfuDNBUSY or
 *  dfuDNLOAD-SYNC (and dfuMANIFEST when @manifest), per the poll policy, until
 *  @start_us + @ceiling_ms on the transport clock. Leaves the final status in @st; does not
 *  judge bStatus. */
int dfui_poll(dfu_dev *d, struct dfu_status *st, uint64_t start_us, unsigned ceiling_ms,
              int manifest, struct dfu_err *err);
/** DFU_E_INTERRUPTED when the cancel flag is set. */
int dfui_check_cancel(dfu_dev *d, struct dfu_err *err);
/** Fill @err from a status with bStatus != OK (or an unexpected state) and return the code. */
int dfui_status_error(const struct dfu_status *st, struct dfu_err *err);
/** Effective poll policy. */
int dfui_poll_early(const dfu_dev *d);
/** Fill @a (zeroed or from an earlier call) with @alt and @name, and the layout parsed from
 *  the name when it is one (free with dfu_layout_free). */
void dfui_alt_init(struct dfu_alt *a, uint8_t alt, const char *name);

/* ---- core/open.c ---- */

/** Open the one device @spec matches, through its backend; with @dfu_mode, the first DFU-mode
 *  interface (protocol 2) among the matches. */
int dfui_open_spec(const struct dfu_devspec *spec, int dfu_mode, dfu_dev **out,
                   struct dfu_err *err);

/* ---- core/quirks.c ---- */

unsigned dfui_quirks(uint16_t vid, uint16_t pid, uint16_t bcd_device);

/* ---- core/desc.c ---- */

/** Standard GET_DESCRIPTOR (0x80/0x06) through @t; counts into @counter when non-NULL. */
int dfui_get_descriptor(struct dfu_transport *t, uint64_t *counter, uint8_t type, uint8_t index,
                        uint16_t lang, uint8_t *buf, size_t cap, size_t *got, struct dfu_err *err);
/** The whole configuration descriptor 0 (malloc'd, free with free()). */
int dfui_get_config(struct dfu_transport *t, uint64_t *counter, uint8_t **cfg, size_t *len,
                    struct dfu_err *err);
/** First language id from string descriptor 0 (0x0409 when the device has none). */
uint16_t dfui_get_langid(struct dfu_transport *t, uint64_t *counter);
/** String descriptor @index decoded to UTF-8; "" for index 0. */
int dfui_get_string(struct dfu_transport *t, uint64_t *counter, uint8_t index, uint16_t lang,
                    char *out, size_t cap, struct dfu_err *err);

#endif
