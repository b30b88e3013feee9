/*
 * Internals shared by the image readers and writers (core/image.c, core/img_*.c). Never
 * installed.
 */
#ifndef DFU_IMG_INTERNAL_H
#define DFU_IMG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dfu/image.h"

/* Name used in messages when the caller gave none. */
#define DFUI_NONAME "<input>"

static inline const char *dfui_name(const char *name)
{
    return name != NULL ? name : DFUI_NONAME;
}

/*
 * Records collected by the text readers before they go into the image. Files are usually in
 * address order, in which case every record extends the last segment; other orders are sorted
 * first so that building the image stays O(n log n) whatever order the records come in.
 */
struct dfui_rec {
    uint32_t addr;
    uint32_t len;
    size_t off;    /* into dfui_recs.data */
    unsigned line; /* source line, for messages */
};

struct dfui_recs {
    struct dfui_rec *v;
    size_t n, cap;
    uint8_t *data;
    size_t dlen, dcap;
    int sorted; /* still in ascending address order */
};

void dfui_recs_init(struct dfui_recs *r);
void dfui_recs_free(struct dfui_recs *r);
/** Append a record; DFU_E_NOMEM on allocation failure. */
int dfui_recs_push(struct dfui_recs *r, uint32_t addr, const uint8_t *data, uint32_t len,
                   unsigned line);
/** Add all records to @img; an overlap that disagrees is a DFU_E_RANGE naming the file and the
 *  line of the later record. */
/* Sort the records into a new image with its format and entry point; frees the records, also on
 * failure. Disagreeing overlaps are DFU_E_FORMAT at the later line. */
int dfui_recs_to_image(struct dfui_recs *r, const char *name, enum dfu_format fmt, int has_entry,
                       uint32_t entry, dfu_image **out, struct dfu_err *err);

/* Text helpers shared by the Intel HEX and S-record readers. */
extern const signed char dfui_hexval[256]; /* digit value + 1, 0 for a non-digit */
/** Decode @n hex digit pairs from @s into @out; returns the index of the first bad character or
 *  -1 when all are digits. */
long dfui_hex_decode(const unsigned char *s, size_t n, uint8_t *out);
/** The data of one text record: decode @nbytes digit pairs at @s into @out (@cap bytes). A
 *  FORMAT error names line @line and the column (from the line start @ls) of a bad digit, or a
 *  record longer than @cap. */
int dfui_hex_record(struct dfu_err *err, const char *name, unsigned line, const unsigned char *ls,
                    const unsigned char *s, size_t nbytes, uint8_t *out, size_t cap);
static inline int dfui_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Growable output buffer for the writers; @oom latches an allocation failure. */
struct dfui_buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
};
/** Make room for @extra more bytes; returns a pointer to the free space or NULL (and sets
 *  oom). */
uint8_t *dfui_buf_room(struct dfui_buf *b, size_t extra);
void dfui_buf_put(struct dfui_buf *b, const void *data, size_t len);
/** Hand the bytes to the caller (*out, *outlen) or free them and report NOMEM. */
int dfui_buf_finish(struct dfui_buf *b, uint8_t **out, size_t *outlen, struct dfu_err *err);

/* Writers with a record size (data bytes per line; 0 = 16). */
int dfui_write_ihex(const dfu_image *img, unsigned recsize, uint8_t **out, size_t *outlen,
                    struct dfu_err *err);
int dfui_write_srec(const dfu_image *img, unsigned recsize, uint8_t **out, size_t *outlen,
                    struct dfu_err *err);

/* Little-endian helpers. */
static inline uint32_t dfui_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint16_t dfui_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline void dfui_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void dfui_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/** Parse the 16-byte DFU suffix at the end of @buf if its signature is there. Returns 0 and
 *  sets *@found = 0 when there is none, 0 with *@found = 1 and @sfx filled when it is valid,
 *  DFU_E_FORMAT when it is damaged (bad CRC, bad length). */
int dfui_suffix_read(const uint8_t *buf, size_t len, const char *name, struct dfu_suffix *sfx,
                     int *found, struct dfu_err *err);
/** Write a DFU suffix at @p (16 bytes) for the @len bytes before it (buffer @buf). */
void dfui_suffix_put(uint8_t *buf, size_t len, uint16_t bcd_device, uint16_t pid, uint16_t vid,
                     uint16_t bcd_dfu);

/** Format error at a text line: "NAME:LINE: msg". Sets err->line. Returns DFU_E_FORMAT. */
int dfui_err_line(struct dfu_err *err, const char *name, unsigned line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/** Format error at a byte offset: "NAME: offset N: msg". Sets err->offset. */
int dfui_err_off(struct dfu_err *err, const char *name, size_t off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
