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

/* What the CPU does with the leave address and the boot address (design.md 6). */
enum sim_core {
    SIM_CORE_CM,    /* Cortex-M: vector table (initial MSP, then the Thumb reset vector) */
    SIM_CORE_RISCV, /* RISC-V (GD32VF103): code starts at the address itself, no stack word */
};

/* How the ROM interprets the leave address (sim key jump=). */
enum sim_jump {
    SIM_JUMP_VECTOR, /* AN3156: MSP = [A], PC = [A+4]; no RAM address at A: system reset */
    SIM_JUMP_BRANCH, /* PC = A, MSP left as the ROM's */
    SIM_JUMP_RESET,  /* any leave resets the chip (the boot pins decide what runs) */
};

enum sim_kind {
    SIM_K_FLASH,
    SIM_K_RAM,
    SIM_K_SYS,  /* system memory (ROM code, ID byte, UID): read-only */
    SIM_K_OB,   /* option-byte block (one region per zone of the option-byte alt) */
    SIM_K_OTP,  /* one-time programmable bytes */
    SIM_K_FEAT, /* F2/F4/F7 "Device Feature" (ROM variable, not persisted) */
};

struct sim_sector_run {
    unsigned count;
    uint32_t size;
};

/* One organisation of the flash: the string the ROM reports for alt 0 and the sectors behind it
 * (the F76x has two, chosen by the nDBANK option bit). */
struct sim_layout {
    const char *alt;                  /* NULL: the profile's alts[0] */
    struct sim_sector_run sectors[6]; /* terminated by count 0 */
};

/* Busy time of a sector erase: the first entry whose size is >= the sector's; size 0 ends the
 * table (and gives the time of any larger sector). us_feat: with the Device Feature at x32. */
struct sim_erase_time {
    uint32_t size, us, us_feat;
};

struct sim_ram {
    uint32_t base, size, rom; /* rom: bytes at base that the ROM uses (writes refused) */
};

/* Known ROM defects by bootloader ID (rom_id in [lo, hi]). */
enum sim_bug_kind {
    SIM_BUG_NONE,
    SIM_BUG_SP_MARGIN,   /* a vector jump fails when MSP > end of its RAM block - arg */
    SIM_BUG_GO_BROKEN,   /* no vector jump works; only the reset path starts the application */
    SIM_BUG_ERASE_BUSY,  /* after erasing sector >= arg the ROM keeps answering dfuDNBUSY */
    SIM_BUG_ERASE_SHIFT, /* in layout 1, an erase of sector i >= arg erases sector i + arg2 */
    SIM_BUG_ROM_RAM,     /* the ROM uses arg bytes at the RAM block starting at arg2 */
    SIM_BUG_RAM_WRITE,   /* data written to RAM is corrupted */
    SIM_BUG_WRITE_LEN8,  /* a flash write longer than 256 bytes, length not a multiple of 8,
                          * leaves its last partial double-word corrupted */
};

struct sim_bug {
    uint8_t lo, hi;
    enum sim_bug_kind kind;
    uint32_t arg, arg2;
};

/* Write protection read from the option bytes. */
enum sim_wrp_kind {
    SIM_WRP_NONE,
    SIM_WRP_BITS,  /* one bit per group of sectors, 0 = protected */
    SIM_WRP_RANGE, /* a 32-bit word: first page in bits [width-1:0], last page at end_shift;
                    * protected when first <= page <= last */
};

struct sim_wrp {
    enum sim_wrp_kind kind;
    uint8_t zone;
    uint16_t off[4]; /* BITS: byte offsets holding bits 0-7, 8-15, ...; RANGE: off[0] */
    uint8_t nbits;   /* BITS: number of bits; RANGE: width of the page fields */
    uint8_t end_shift;
    uint16_t per_bit; /* BITS: sectors per bit */
    uint16_t first;   /* sector index of the first sector the field covers */
    uint8_t layouts;  /* bit mask of the layouts it applies in (0: all) */
};

/* What a write of the option-byte block does with the bytes. */
enum sim_ob_write {
    SIM_OBW_COPY,    /* the block is stored as written */
    SIM_OBW_CUR_PRG, /* STM32H7: CUR/PRG register pairs; the PRG word wins when it changed */
};

/* Where the chip boots after a reset. */
enum sim_boot {
    SIM_BOOT_PIN,  /* BOOT0 high: system memory, low: flash */
    SIM_BOOT_H7,   /* BOOT_ADD0/1 (upper 16 address bits) in a 32-bit word at boot_off */
    SIM_BOOT_F7,   /* BOOT_ADD0 / BOOT_ADD1 half-words at boot_off / boot_off + 8, address >> 14 */
    SIM_BOOT_OPTR, /* option bits in the 32-bit word at boot_off: sel_bit chooses between the
                    * BOOT0 pin and the nBOOT0 bit; addr_off: NSBOOTADD0R/1R (U5) or flash/ROM */
};

/* The option-byte block: where it is, where RDP and write protection live, how it is written,
 * and what it decides about booting and the flash layout. */
struct sim_ob_model {
    struct {
        uint32_t base;
        uint16_t size;
        const uint8_t *defaults;
    } zone[2];
    unsigned nzones;
    uint16_t rdp_off;   /* byte offset of RDP in zone 0 */
    int16_t rdp_mirror; /* a second copy (H7 OPTSR_PRG), -1: none */
    int16_t rdp_compl;  /* the complement byte, -1: none */
    uint8_t rdp_l0;     /* level-0 value: 0xAA (ST), 0xA5 (GigaDevice) */
    uint8_t has_l2;     /* 0xCC is level 2 */
    struct sim_wrp wrp[4];
    enum sim_ob_write write;
    const uint16_t *pairs; /* SIM_OBW_CUR_PRG: offsets of the CUR words, 0xFFFF ends */
    int16_t clear_off;     /* a write-only clear register that reads 0 after a write, -1: none */
    enum sim_boot boot;
    uint16_t boot_off;
    uint8_t sel_bit, sel_pin, nboot0_bit; /* SIM_BOOT_OPTR: pin used when bit sel_bit == sel_pin */
    int16_t addr_off;                     /* SIM_BOOT_OPTR: boot address registers, -1: none */
    uint8_t empty_check;                  /* boots the ROM when the flash start reads erased */
    int16_t layout_off;                   /* byte of zone 0 that selects the layout, -1: fixed */
    uint8_t layout_bit, layout_val;       /* layout 1 when that bit equals layout_val */
};

/* ROM behaviour (profile quirks). */
#define SIM_Q_BOOT_ERROR 0x01u /* enumerates in dfuERROR/errFIRMWARE */
#define SIM_Q_ERASE_STALL                                                                          \
    0x02u /* reports half the page-erase time and STALLs EP0 while it runs                         \
           */
#define SIM_Q_LEAVE_SETADDR                                                                        \
    0x04u                          /* refuses the leave unless SET_ADDRESS followed the last write \
                                    */
#define SIM_Q_LEAVE_NOSTATUS 0x08u /* leaves on the zero-length DNLOAD, no GETSTATUS needed */
#define SIM_Q_RAW_SERIAL 0x10u     /* the serial string descriptor holds raw bytes, not UTF-16 */
#define SIM_Q_PLAIN_DFU 0x20u      /* DFU 1.1 device (not DfuSe) */

/* A ROM build of a profile selected with rom= that changes the descriptors (GD32VF103). */
struct sim_variant {
    uint8_t id;
    uint16_t bcd_device;
    const char *alts[4];
    unsigned nalts;
    uint8_t no_ob;
};

struct sim_profile {
    const char *name;
    enum sim_core core;
    uint16_t vid, pid, bcd_device, bcd_dfu, transfer_size, detach_ms;
    uint8_t attrs;
    const char *manufacturer, *product;
    const char *serial; /* a fixed serial string; NULL: derived from the UID */
    const char *alts[4];
    unsigned nalts;
    uint32_t flash_base;
    struct sim_layout layouts[2];
    unsigned nlayouts;
    struct sim_ram ram[3];
    unsigned nram;
    uint32_t sys_base, sys_size;
    uint32_t id_addr; /* 0: no ID byte in system memory */
    uint8_t id;
    uint32_t uid_addr; /* 12-byte unique ID, also the source of the serial string */
    uint32_t uid[3];
    uint16_t flash_kib_off; /* flash size register (KiB, 16 bits) at uid_addr + this; 0: none */
    const struct sim_ob_model *ob;
    uint32_t otp_base, otp_size;
    uint32_t feat_base, feat_size;
    unsigned prog_unit; /* bytes per program operation */
    unsigned unit_feat; /* the unit once Device Feature selects x32; 0: no Device Feature */
    unsigned align;     /* required flash write address alignment (AN2606 Table 7) */
    uint8_t prog_once;  /* a unit may be programmed once per erase (ECC flash words) */
    uint32_t prog_us;   /* busy time per program unit */
    struct sim_erase_time erase[5];
    unsigned poll_setaddr, poll_erase, poll_write, poll_mass, poll_manifest; /* ms reported */
    uint32_t mass_us;    /* mass erase busy time */
    uint32_t ob_us;      /* option-byte programming busy time (then the chip resets) */
    uint32_t connect_ms; /* ROM USB connection time after a reset (AN2606 Table 229) */
    uint32_t rom_msp;    /* the ROM's own stack pointer (jump=branch keeps it) */
    unsigned quirks;     /* SIM_Q_* */
    struct sim_bug bugs[4];
    enum sim_jump jumps[2]; /* the two readings of the leave address to test; [0] is the default */
    const struct sim_variant *variants;
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

#define SIM_MAX_REGIONS 12
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
    int boot0;
    enum sim_jump jump;
    int rom_id;                        /* ID byte (profile default unless rom=) */
    unsigned dnload_stall;             /* dnload_stall=N: every Nth data DNLOAD is STALLed */
    unsigned dnload_count;             /* data DNLOADs seen, for dnload_stall */
    const struct sim_variant *variant; /* the ROM build chosen by rom=, or NULL */

    /* what the profile (and variant) look like to the host */
    const char *alts[4];
    unsigned nalts;
    uint16_t bcd_device;
    const struct sim_ob_model *ob; /* NULL: no option-byte alt */
    unsigned layout;               /* index into p->layouts, from the option bytes at reset */

    /* USB */
    int runtime;           /* runtime=1: the application's DFU run-time interface (protocol 1) */
    uint8_t rt_state;      /* appIDLE or appDETACH while runtime */
    uint64_t detach_until; /* appDETACH: a bus reset before this enters DFU mode */
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
    int addr_fresh;             /* SET_ADDRESS came after the last data write */
    int busy_stalls;            /* the running job STALLs EP0 (SIM_Q_ERASE_STALL) */

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
/** The sector runs of the current flash layout. */
const struct sim_sector_run *simi_sectors(const dfu_sim *s);
/** The string of alt setting @alt as the ROM reports it now. */
const char *simi_alt_string(const dfu_sim *s, unsigned alt);
/** The known bug of @kind that applies to this ROM, or NULL. */
const struct sim_bug *simi_bug(const dfu_sim *s, enum sim_bug_kind kind);
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
/** Read protection level 0, 1 or 2 per the option-byte model. */
int simi_rdp_level(const dfu_sim *s);
/** The flash layout the option bytes select (index into p->layouts). */
unsigned simi_ob_layout(const dfu_sim *s);
void simi_set_rdp(dfu_sim *s, uint8_t rdp);
int simi_sector_protected(const dfu_sim *s, unsigned idx);
/** Write zone @zone of the OB block (whole zone only); returns a DFU_STATUS_*. */
uint8_t simi_ob_write(dfu_sim *s, unsigned zone, const uint8_t *data, size_t len);
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
