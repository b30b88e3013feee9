/*
 * The device simulator (design.md 5): an STM32 ROM bootloader model and a plain DFU 1.1
 * device, on a virtual clock, with an event log and fault injection.
 *
 * The model answers the whole of EP0 (standard GET_DESCRIPTOR / SET_INTERFACE as well as the
 * DFU class requests), so the same model serves the in-process transport and the real-USB
 * gadget in tests/usb/.
 */
#ifndef DFU_SIM_H
#define DFU_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "dfu/err.h"
#include "dfu/transport.h"

typedef struct dfu_sim dfu_sim;

/** Names of the built-in profiles ("stm32h753", "stm32f405", "dfu11"), NULL-terminated. */
const char *const *dfu_sim_profiles(void);

/** Create a simulator from "[sim:]PROFILE[,key=value...]" (keys of design.md 2: state, events,
 *  boot0, rom, jump, faults). The device starts in the ROM, enumerated (boot0 is sampled at
 *  later resets), except with RDP level 2 in the state file. faults= takes
 *  "KIND:REQUEST:N[:reappear=MS];KIND..." (see core/sim/sim_faults.c): REQUEST is a ctrl event
 *  name (DNLOAD, GETSTATUS, ...) or WRITE / ERASE (the Nth executed data write / erase);
 *  "disconnect:GETSTATUS:40:reappear=200" brings the device back as a fresh ROM 200 ms later.
 *  A missing or empty state= file is a fresh erased device; a damaged one is DFU_E_FORMAT. The
 *  state= file is locked until dfu_sim_free: another process gets DFU_E_BUSY (simulators of one
 *  process share the lock). */
int dfu_sim_new(const char *spec, dfu_sim **out, struct dfu_err *err);
void dfu_sim_free(dfu_sim *s);

/** Serve one control transfer at the model's current virtual time. Same contract as
 *  dfu_transport_ops.control (DFU_E_NO_DEVICE while the device is off the bus; the transport
 *  additionally fails requests on a handle from before the last re-enumeration). Advances the clock
 * by the USB cost (1 ms + 1 us/byte) and, for a request that arrives while the device is busy, by
 * the remaining busy time (or @timeout_ms, then DFU_E_TIMEOUT). */
int dfu_sim_control(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len,
                    unsigned timeout_ms, struct dfu_err *err);

/** A transport over @s. With @own the transport frees the simulator when closed. */
int dfu_sim_transport(dfu_sim *s, int own, struct dfu_transport **out, struct dfu_err *err);

/** The simulator behind a transport made by dfu_sim_transport, or NULL for other transports. */
dfu_sim *dfu_sim_from_transport(struct dfu_transport *t);

/** Enumeration info of the device as it is now (fails with DFU_E_NO_DEVICE when off the bus
 *  or not in DFU mode). */
int dfu_sim_devinfo(dfu_sim *s, struct dfu_devinfo *info, struct dfu_err *err);

/* Virtual clock, microseconds since simulated power-on. */
uint64_t dfu_sim_now_us(const dfu_sim *s);
void dfu_sim_advance(dfu_sim *s, uint64_t us);

/* What the chip is doing. */
enum dfu_sim_mode {
    DFU_SIM_ROM = 0,  /* in the DFU bootloader, enumerated */
    DFU_SIM_GONE = 1, /* off the bus (between disconnect and re-enumeration, or dead) */
    DFU_SIM_APP = 2,  /* running the application */
    DFU_SIM_HANG = 3, /* not running anything useful (failed jump, hard fault) */
};
enum dfu_sim_mode dfu_sim_mode(const dfu_sim *s);
/** Microseconds of virtual time after which the device re-enumerates as the ROM
 *  (0 = not pending). Transport wait_reenumerate uses it. */
uint64_t dfu_sim_reenumerate_at(const dfu_sim *s);

/* Backdoor memory access (no events, no timing): flash, RAM, system memory, option bytes. */
int dfu_sim_read_mem(dfu_sim *s, uint32_t addr, uint8_t *buf, size_t len, struct dfu_err *err);
int dfu_sim_write_mem(dfu_sim *s, uint32_t addr, const uint8_t *buf, size_t len,
                      struct dfu_err *err);

/** Add faults ("KIND:REQUEST:N;KIND..." as in design.md 7). */
int dfu_sim_inject(dfu_sim *s, const char *faults, struct dfu_err *err);

/** Event log kept in memory as JSON lines (the same lines written to events=FILE). */
size_t dfu_sim_event_count(const dfu_sim *s);
const char *dfu_sim_event(const dfu_sim *s, size_t i);

/** Rewrite the state= file as one compact snapshot now (also done on free). Every request and
 *  backdoor write that changes memory is in the file when it returns already; a failure to write
 *  it fails that call with DFU_E_IO. */
int dfu_sim_save(dfu_sim *s, struct dfu_err *err);

/** USB bus reset (what the transport's reset does): the ROM re-initialises its DFU class
 *  (dfuIDLE, address pointer 0x08000000, alt 0); the MCU is not reset. */
int dfu_sim_bus_reset(dfu_sim *s, struct dfu_err *err);

/** 1 if dfu_sim_control would STALL the host-to-device request @req whatever its data (DFU
 *  state, wLength, wIndex, an injected fault), so a USB frontend that must decide a STALL before
 *  the data stage (raw_gadget) can do so; 0 otherwise. Does not change the model. */
int dfu_sim_out_stalls(const dfu_sim *s, const struct dfu_ctrl *req);

/** Current bState of the DFU state machine (DFU_STATE_*), for inspection. */
uint8_t dfu_sim_dfu_state(const dfu_sim *s);

/** Outcome of the last leave or reset ("app_running", "hang", "hardfault", "rom"), or NULL. */
const char *dfu_sim_leave_outcome(const dfu_sim *s);

/** Profile name of @s. */
const char *dfu_sim_profile(const dfu_sim *s);

#endif
