/*
 * Private interface of the device simulator (core/sim/). Not installed.
 *
 * One struct dfu_sim holds the chip (memory regions, option bytes), the USB/EP0 state, the DFU
 * state machine, the virtual clock, the fault table and the event log. Files:
 *   sim.c           spec parsing, EP0 (standard + DFU class requests), clock, transport
 *   sim_dfuse.c     the DfuSe ROM job model (commands, writes, uploads) and the plain DFU 1.1 model
 *   sim_profiles.c  the profile tables and the descriptors built from them
 *   sim_mem.c       memory regions, erase/program rules
 *   sim_state.c     the state= file: its format, the lock, the journal of changes
 *   sim_ob.c        option bytes, RDP, write protection
 *   sim_leave.c     what happens when the device leaves DFU or resets
 *   sim_faults.c    fault parsing and matching
 *   sim_events.c    the JSON-lines event log
 */
#ifndef DFU_SIM_INT_H
#define DFU_SIM_INT_H

#include <stdio.h>

#include "../bytes.h"
#include "dfu/sim.h"

enum sim_family { SIM_FAM_H7, SIM_FAM_F4, SIM_FAM_PLAIN };

enum sim_kind {
    SIM_K_FLASH,
    SIM_K_RAM,
    SIM_K_SYS,  /* system memory (ROM code, ID byte, UID): read-only */
    SIM_K_OB,   /* option-byte block */
    SIM_K_OTP,  /* one-time programmable bytes */
    SIM_K_FEAT, /* F2/F4 "Device Feature" (ROM variable, not persisted) */
};

struct sim_sector_run {
    unsigned count;
    uint32_t size;
};

struct sim_profile {
    const char *name;
    enum sim_family fam;
    uint16_t vid, pid, bcd_device, bcd_dfu, transfer_size, detach_ms;
    uint8_t attrs;
    const char *manufacturer, *product;
    const char *alts[4];
    unsigned nalts;
    uint32_t flash_base;
    struct sim_sector_run sectors[4];              /* terminated by count 0 */
    uint32_t ram_base[2], ram_size[2], ram_rom[2]; /* ram_rom: bytes the ROM uses at the base */
    unsigned nram;
    uint32_t sys_base, sys_size;
    uint32_t id_addr;
    uint8_t id;
    uint32_t uid_addr; /* 12-byte unique ID, also the source of the serial string */
    uint32_t uid[3];
    uint32_t ob_base, ob_size;
    uint32_t otp_base, otp_size;
    uint32_t feat_base, feat_size;
    unsigned prog_unit; /* bytes per program operation (H7 flash word 32, F4 x8 1) */
    unsigned align;     /* required flash write address alignment */
    unsigned poll_setaddr, poll_erase, poll_write, poll_mass; /* reported bwPollTimeout, ms */
    uint32_t prog_us;                                         /* busy time per program unit */
    uint32_t mass_us;                                         /* mass erase busy time */
    uint32_t ob_us;      /* option-byte programming busy time */
    uint32_t connect_ms; /* ROM USB connection time after a reset (protocol.md 7.5) */
    uint32_t rom_msp;    /* the ROM's own stack pointer (jump=branch keeps it) */
};

struct sim_region {
    uint32_t base, size;
    enum sim_kind kind;
    uint32_t rom_reserved; /* RAM: bytes at base owned by the ROM */
    int alt;               /* alt setting whose media this is */
    uint8_t fill;          /* erased value */
    uint8_t *mem;
    uint8_t *dirty; /* state=: SIM_PAGE pages changed since the file last had them, 1 bit each */
};

/* Granularity of the state= file: memory is stored and journaled in pages of this size. */
#define SIM_PAGE 256u

#define SIM_MAX_REGIONS 8
#define SIM_MAX_FAULTS 32

enum sim_fault_kind {
    SIM_F_STALL,
    SIM_F_TIMEOUT,
    SIM_F_DISCONNECT,
    SIM_F_STATUS, /* a bStatus error, status in .status */
    SIM_F_BUSY,
};

/* Device-wide fault flags. */
#define SIM_FF_POLL0 0x01u
#define SIM_FF_EARLYSTALL 0x02u
#define SIM_FF_SLOWMASS 0x04u
#define SIM_FF_BOOTERR 0x08u
#define SIM_FF_RDP1 0x10u
#define SIM_FF_XFER0 0x20u /* the DFU functional descriptor reports wTransferSize 0 */

struct sim_fault {
    enum sim_fault_kind kind;
    char req[16]; /* request name (GETSTATUS, ...) or WRITE / ERASE */
    unsigned n;   /* hits the Nth such request, counting from 1 */
    uint8_t status;
    uint32_t reappear_ms; /* disconnect: 0 = gone for good */
    int used;
};

/* Request kinds counted for faults. */
enum sim_req {
    SIM_R_DETACH,
    SIM_R_DNLOAD,
    SIM_R_UPLOAD,
    SIM_R_GETSTATUS,
    SIM_R_CLRSTATUS,
    SIM_R_GETSTATE,
    SIM_R_ABORT,
    SIM_R_GET_STATUS,
    SIM_R_CLEAR_FEATURE,
    SIM_R_SET_FEATURE,
    SIM_R_SET_ADDRESS,
    SIM_R_GET_DESCRIPTOR,
    SIM_R_GET_CONFIGURATION,
    SIM_R_SET_CONFIGURATION,
    SIM_R_GET_INTERFACE,
    SIM_R_SET_INTERFACE,
    SIM_R_OTHER,
    SIM_R_WRITE, /* pseudo requests: data writes and erases executed */
    SIM_R_ERASE,
    SIM_R_COUNT
};

/* The pending DfuSe job (the data of the last DNLOAD, run after the first GETSTATUS). */
enum sim_job {
    SIM_JOB_NONE,
    SIM_JOB_IGNORE, /* wBlockNum 1 */
    SIM_JOB_CMD,
    SIM_JOB_WRITE,
};

struct dfu_sim {
    const struct sim_profile *p;
    struct sim_region reg[SIM_MAX_REGIONS];
    unsigned nreg;
    uint8_t *wmask;       /* flash words programmed since their erase, 1 bit per prog_unit (H7) */
    uint8_t *wmask_dirty; /* state=: pages of wmask changed, as sim_region.dirty */
    int dirty;            /* state=: some page is marked dirty */

    /* options */
    char *state_path, *events_path;
    struct sim_file *sf;   /* the open state= file (sim_state.c) */
    unsigned long sf_seen; /* journal entries of the file this simulator's memory includes */
    int boot0, jump_branch;
    int rom_id; /* ID byte (profile default unless rom=) */

    /* USB */
    enum dfu_sim_mode mode;
    unsigned generation; /* counts enumerations; a transport handle is valid for one */
    uint64_t reenum_at;
    uint8_t configured, alt;

    /* DFU */
    uint8_t state, status;
    uint32_t ptr;
    uint8_t *xbuf;
    size_t xlen;
    uint16_t xblock;
    enum sim_job job;
    uint8_t job_status;         /* a fault's forced status for the pending job, 0 = none */
    int job_busy;               /* a fault keeps the device in dfuDNBUSY after this job */
    int stuck_busy;             /* device stays dfuDNBUSY */
    int manifest_done;          /* plain DFU: manifestation finished */
    uint32_t plain_erased_upto; /* plain DFU: bytes of the download area erased this session */
    uint8_t feat0;              /* F4 Device Feature byte 0 (0x03 = x32) */
    int prog_locked;            /* a misaligned write failed: flash programming refused */

    /* clock */
    uint64_t now, busy_until;
    uint64_t pending_busy; /* busy time of the job started by the reply being sent */
    enum { SIM_AFTER_NONE, SIM_AFTER_LEAVE, SIM_AFTER_RESET, SIM_AFTER_DISCONNECT } after_reply;
    uint32_t disc_reappear_ms;      /* SIM_AFTER_DISCONNECT: a disconnect fault hit a job */
    uint64_t reset_at, reset_delay; /* a chip reset scheduled at the end of a job */
    const char *reset_cause;
    unsigned last_poll;
    uint8_t next_state, next_status; /* state once the running job ends */
    int job_pending;                 /* next_state applies at busy_until */

    /* faults */
    struct sim_fault faults[SIM_MAX_FAULTS];
    unsigned nfaults;
    unsigned fflags;
    unsigned counters[SIM_R_COUNT];

    /* events */
    char **ev;
    size_t nev, evcap;
    FILE *evf;

    /* last leave, for inspection */
    char leave_outcome[16];
};

/* sim_profiles.c */
const struct sim_profile *simi_profile_find(const char *name);
/** Copy descriptor @type/@index into @buf (up to @cap); returns its full length or -1. */
int simi_descriptor(const dfu_sim *s, uint8_t type, uint8_t index, uint16_t langid, uint8_t *buf,
                    size_t cap);
void simi_serial(const struct sim_profile *p, char *buf, size_t cap);
const char *simi_req_name(enum sim_req r);
int simi_req_from_name(const char *name);

/* sim_mem.c */
int simi_mem_init(dfu_sim *s, struct dfu_err *err);
void simi_mem_free(dfu_sim *s);
/** Mark @len bytes at offset @off of region @r as changed, for the state= file. Every change to
 *  persisted memory (flash and its programmed-word mask, RAM, option bytes, OTP) goes through
 *  here. */
void simi_touch(dfu_sim *s, const struct sim_region *r, uint32_t off, uint32_t len);
struct sim_region *simi_region(dfu_sim *s, uint32_t addr);
struct sim_region *simi_region_kind(dfu_sim *s, enum sim_kind kind);
int simi_is_ram(const dfu_sim *s, uint32_t addr, int allow_end);
/** Flash sector containing @addr: index, base, size; -1 if not flash. */
int simi_sector(const dfu_sim *s, uint32_t addr, uint32_t *base, uint32_t *size);
unsigned simi_sector_count(const dfu_sim *s);
uint32_t simi_sector_erase_us(const dfu_sim *s, uint32_t size);
/** Erase one sector (honouring write protection); emits the erase event. */
void simi_erase_sector(dfu_sim *s, unsigned idx);
void simi_mass_erase(dfu_sim *s);
/** Program flash per the profile's rules. Returns a DFU_STATUS_* and the busy time. */
uint8_t simi_program(dfu_sim *s, uint32_t addr, const uint8_t *data, size_t len, uint64_t *busy);
int simi_flash_programmed(const dfu_sim *s, uint32_t addr);
uint32_t simi_rd32(dfu_sim *s, uint32_t addr);

/* sim_state.c */
/** Lock the state= file for the life of @s and load it (creating it erased if missing). */
int simi_state_open(dfu_sim *s, struct dfu_err *err);
/** Put the pages changed since the last call into the file (a no-op when none changed). */
int simi_state_sync(dfu_sim *s, struct dfu_err *err);
/** simi_state_sync, then rewrite the file as one compact snapshot. */
int simi_state_save(dfu_sim *s, struct dfu_err *err);
/** Sync, compact when the last user in this process goes, and release the lock. */
void simi_state_close(dfu_sim *s);

/* sim_ob.c */
void simi_ob_defaults(dfu_sim *s);
/** RDP byte as stored (0xAA level 0, 0xCC level 2, else level 1). */
uint8_t simi_rdp(const dfu_sim *s);
void simi_set_rdp(dfu_sim *s, uint8_t rdp);
int simi_sector_protected(const dfu_sim *s, unsigned idx);
/** Write the OB block (whole block only); returns a DFU_STATUS_*. */
uint8_t simi_ob_write(dfu_sim *s, const uint8_t *data, size_t len);
uint32_t simi_boot_address(const dfu_sim *s, int boot0);

/* sim_leave.c */
/** The ROM leaves DFU with the address pointer @addr (after the dfuMANIFEST status). */
void simi_leave(dfu_sim *s, uint32_t addr);
/** System reset of the chip now (cause for the event); boots per boot0 and RDP. */
void simi_reset(dfu_sim *s, const char *cause, uint64_t delay_us);
/** Enter the ROM (fresh DFU state), the device enumerates. */
void simi_enter_rom(dfu_sim *s);

/* sim_faults.c */
int simi_faults_parse(dfu_sim *s, const char *spec, struct dfu_err *err);
/** Count request @r and return the fault that hits it, or NULL. */
struct sim_fault *simi_fault_hit(dfu_sim *s, enum sim_req r);

/* sim_events.c */
void simi_event(dfu_sim *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void simi_events_free(dfu_sim *s);

/* sim_dfuse.c */
/** DFU class request (bmRequestType 0x21/0xA1). Returns 0, DFU_E_PIPE (stall). */
int simi_dfu_request(dfu_sim *s, const struct dfu_ctrl *req, uint8_t *data, size_t *len);
void simi_dfu_reset_state(dfu_sim *s);

#endif
