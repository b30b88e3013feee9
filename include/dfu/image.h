/*
 * The image model (design.md 3): sorted, coalesced, non-overlapping segments with their bytes,
 * an optional entry point, and for DfuSe files the targets (alt setting, name).
 */
#ifndef DFU_IMAGE_H
#define DFU_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "dfu/err.h"
#include "dfu/layout.h"

struct dfu_segment {
    uint32_t addr;
    uint32_t size;
    uint8_t *data; /* owned by the image */
};

typedef struct dfu_image dfu_image;

enum dfu_format {
    DFU_FMT_UNKNOWN = 0,
    DFU_FMT_ELF,
    DFU_FMT_IHEX,
    DFU_FMT_SREC,
    DFU_FMT_DFUSE,
    DFU_FMT_BIN,
};
/** "elf", "ihex", "srec", "dfuse", "bin" (the JSON "format" values). */
const char *dfu_format_name(enum dfu_format f);

struct dfu_suffix {
    uint16_t bcd_device, pid, vid, bcd_dfu;
    uint8_t length;
    uint32_t crc;
};

dfu_image *dfu_image_new(void);
void dfu_image_free(dfu_image *img);
dfu_image *dfu_image_clone(const dfu_image *img);

/** Add bytes at @addr. Adjacent data coalesces; overlapping data must agree (else
 *  DFU_E_RANGE naming the address). */
int dfu_image_add(dfu_image *img, uint32_t addr, const uint8_t *data, size_t len,
                  struct dfu_err *err);
size_t dfu_image_count(const dfu_image *img);
const struct dfu_segment *dfu_image_segment(const dfu_image *img, size_t i);
uint64_t dfu_image_size(const dfu_image *img); /* sum of segment sizes */

int dfu_image_has_entry(const dfu_image *img);
uint32_t dfu_image_entry(const dfu_image *img);
void dfu_image_set_entry(dfu_image *img, int has, uint32_t entry);

/* DfuSe targets; a non-DfuSe image has none. Target images are owned by @img. */
size_t dfu_image_target_count(const dfu_image *img);
dfu_image *dfu_image_target(const dfu_image *img, size_t i, uint8_t *alt, const char **name);
int dfu_image_add_target(dfu_image *img, uint8_t alt, const char *name, dfu_image *target,
                         struct dfu_err *err); /* takes ownership of @target */

/* Format and suffix the image was read from. */
enum dfu_format dfu_image_format(const dfu_image *img);
void dfu_image_set_format(dfu_image *img, enum dfu_format f);
const struct dfu_suffix *dfu_image_suffix(const dfu_image *img); /* NULL if none */
void dfu_image_set_suffix(dfu_image *img, const struct dfu_suffix *sfx);

/* Operations a flasher needs. */
int dfu_image_merge(dfu_image *dst, const dfu_image *src, struct dfu_err *err);
dfu_image *dfu_image_slice(const dfu_image *img, uint32_t addr, uint64_t len);
/** Fill gaps between segments with @fill, making one segment. */
int dfu_image_fill_gaps(dfu_image *img, uint8_t fill, struct dfu_err *err);
/** Extend every segment to @align boundaries with @fill, merging neighbours that then touch
 *  or share a unit. */
int dfu_image_pad(dfu_image *img, uint32_t align, uint8_t fill, struct dfu_err *err);
/** Sectors of @layout touched by the image: calls @fn(ud, start, size, type) once per sector in
 *  address order. DFU_E_RANGE (naming the first address) if a byte lies outside the layout. */
int dfu_image_sectors(const dfu_image *img, const struct dfu_layout *layout,
                      int (*fn)(void *ud, uint32_t start, uint32_t size, uint8_t type), void *ud,
                      struct dfu_err *err);

/** zlib-compatible CRC-32 (crc = 0 to start). */
uint32_t dfu_crc32(uint32_t crc, const void *buf, size_t len);

/* ---- readers ---- */

struct dfu_load_opts {
    int has_base;
    uint32_t base;    /* for raw binaries (FILE@ADDR) */
    const char *name; /* file name used in messages */
};

/* The largest file dfu_image_load() reads: 256 MiB, far above any flash it could go to (the
 * biggest STM32 parts have a few MiB), so that a mistaken path (a disk image, a growing log)
 * is refused instead of being read into memory. */
#define DFU_IMAGE_MAX_FILE (256u * 1024 * 1024)

/** Read the file at @path, detect the format from content and parse. A raw binary needs
 *  opts->has_base. Only regular files of at most DFU_IMAGE_MAX_FILE bytes are read: anything
 *  else (a device, a FIFO, a directory) is DFU_E_INVALID "PATH: not a regular file (a
 *  directory); ...", a larger file DFU_E_FORMAT; neither is read nor waited on. A file that
 *  cannot be opened or read is DFU_E_IO with err->sys = errno. Parse errors name the file and
 *  the line (text) or offset (binary). The result is the same as dfu_image_parse() of the
 *  file's bytes, but Intel HEX and S-record files are parsed as they are read (a read error
 *  comes after any format error before it), ELF files are read as far as needed, and a raw
 *  binary's bytes become the image without a copy: memory holds the image, not the file. */
int dfu_image_load(const char *path, const struct dfu_load_opts *opts, dfu_image **out,
                   struct dfu_err *err);
int dfu_image_parse(const uint8_t *buf, size_t len, const struct dfu_load_opts *opts,
                    dfu_image **out, struct dfu_err *err);
enum dfu_format dfu_image_detect(const uint8_t *buf, size_t len);

int dfu_image_parse_ihex(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                         struct dfu_err *err);
int dfu_image_parse_srec(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                         struct dfu_err *err);
int dfu_image_parse_dfuse(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                          struct dfu_err *err);
int dfu_image_parse_elf(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                        struct dfu_err *err);
/** Raw binary at @base; a valid DFU suffix is stripped and recorded, a damaged one is an
 *  error. */
int dfu_image_parse_bin(const uint8_t *buf, size_t len, uint32_t base, const char *name,
                        dfu_image **out, struct dfu_err *err);

/* ---- writers: output in a malloc'd buffer (*out, *outlen), caller frees ---- */

struct dfu_write_opts {
    uint16_t vid, pid, bcd_device; /* suffix ids; 0xFFFF = any */
    uint8_t alt;                   /* DfuSe target alt when the image has no targets */
    const char *target_name;
    uint32_t gap_warn; /* bin: gaps above this many bytes produce a warning */
    char warning[256]; /* out: warning text, "" if none */
    /* Added after the first version; a zeroed field keeps the old behaviour. */
    int suffix;          /* bin: append a DFU suffix (vid/pid/bcd_device above) */
    uint16_t bcd_dfu;    /* bin suffix bcdDFU; 0 = 0x0100 (DfuSe files always use 0x011A) */
    uint8_t record_size; /* hex/srec data bytes per record: 16 (default, also for 0) or 32 */
};

/** Defaults: vid 0x0483, pid 0xdf11, bcd_device 0xFFFF, alt 0, gap_warn 64 KiB, no suffix.
 *  The writers also treat opts == NULL, and vid == pid == bcd_device == 0, as these ids. */
void dfu_write_opts_init(struct dfu_write_opts *opts);

int dfu_image_write_ihex(const dfu_image *img, uint8_t **out, size_t *outlen, struct dfu_err *err);
int dfu_image_write_srec(const dfu_image *img, uint8_t **out, size_t *outlen, struct dfu_err *err);
int dfu_image_write_bin(const dfu_image *img, struct dfu_write_opts *opts, uint8_t **out,
                        size_t *outlen, struct dfu_err *err);
int dfu_image_write_dfuse(const dfu_image *img, struct dfu_write_opts *opts, uint8_t **out,
                          size_t *outlen, struct dfu_err *err);
/** Write @img in format @fmt (ELF is not writable: DFU_E_NOT_SUPPORTED). */
int dfu_image_write(const dfu_image *img, enum dfu_format fmt, struct dfu_write_opts *opts,
                    uint8_t **out, size_t *outlen, struct dfu_err *err);
/** Output format for a file name: .bin, .hex/.ihex, .s19/.srec/.s28/.s37/.mot, .dfu (case
 *  insensitive); DFU_FMT_UNKNOWN otherwise. */
enum dfu_format dfu_format_from_ext(const char *path);
/** Format by extension: .bin .hex .s19/.srec .dfu; writes the file. The contents are written
 *  as they are produced (segment data straight from the image, text in chunks) to a temporary
 *  file in the same directory that is renamed over @path once written and synced, so
 *  a failed save (DFU_E_IO naming @path and the system error, err->sys = errno) leaves an
 *  existing file as it was and no temporary behind. A new file gets 0666 less the umask; a file
 *  that is replaced keeps its permission bits. A symlink at @path is replaced, not followed. */
int dfu_image_save(const dfu_image *img, const char *path, struct dfu_write_opts *opts,
                   struct dfu_err *err);

#endif
