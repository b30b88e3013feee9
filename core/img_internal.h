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

/* A buffer for image data allocated at its full size (core/img_mem.c): from DFUI_LARGE bytes
 * up, aligned and marked so that the system can back it with huge pages, where it offers that.
 * Freed with free(), grown with realloc(). */
#define DFUI_LARGE ((size_t)4 << 20)
void *dfui_alloc(size_t len);

/* Bytes dfu_image_load() reads from a file at a time (also the first read that decides the
 * format). Tests lower it to put line ends and records on chunk boundaries. */
extern size_t dfui_read_chunk;

/*
 * Lines of a text file, from a buffer or read from a file descriptor in chunks of
 * dfui_read_chunk bytes. From a descriptor only the unread part of the current chunk is held,
 * plus one line: a line longer than a chunk grows the buffer to hold it.
 */
struct dfui_text {
    const uint8_t *mem; /* buffer source: the whole text; NULL when reading @fd */
    size_t memlen;
    int fd;           /* file source */
    const char *path; /* for I/O messages */
    uint8_t *buf;     /* file source: buf[pos, end) is read but not yet handed out */
    size_t cap, pos, end;
    size_t scan; /* buf[pos, scan) is known to hold no '\n' */
    int eof;
    uint64_t nread; /* bytes read from @fd since the start */
    unsigned line;  /* lines handed out */
};

/** Lines of the @len bytes at @buf. */
void dfui_text_mem(struct dfui_text *t, const uint8_t *buf, size_t len);
/** Lines read from @fd (a regular file, opened at its start; @path names it in
 *  messages). dfui_text_free() releases the buffer; the descriptor stays open. */
void dfui_text_fd(struct dfui_text *t, int fd, const char *path);
void dfui_text_free(struct dfui_text *t);
/** Read until at least @want unread bytes are held or the file ends. DFU_E_IO (err->sys set),
 *  DFU_E_NOMEM, or DFU_E_FORMAT for a file that grows past DFU_IMAGE_MAX_FILE. */
int dfui_text_fill(struct dfui_text *t, size_t want, struct dfu_err *err);
/** Held unread bytes (*len of them); from a buffer source, the rest of the buffer. */
const uint8_t *dfui_text_peek(const struct dfui_text *t, size_t *len);
/** Start reading lines: skips a UTF-8 byte order mark at the start of the text. */
int dfui_text_begin(struct dfui_text *t, struct dfu_err *err);
/** The next line, [*ls, *le) without its '\n' (a '\r' before it stays). Returns 1 with a line
 *  (t->line is its number), 0 at the end of the text, or a negative DFU_E_* code. */
int dfui_text_line(struct dfui_text *t, const unsigned char **ls, const unsigned char **le,
                   struct dfu_err *err);
/** Back to the start of the text (the file is read again), then dfui_text_begin(). */
int dfui_text_rewind(struct dfui_text *t, struct dfu_err *err);

/*
 * Records collected by the text readers before they go into the image, for files whose
 * records are not in address order: they are sorted first so that building the image stays
 * O(n log n) whatever order the records come in, and an overlap is judged in address order.
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
/* Sort the records into a new image with its format and entry point; frees the records, also on
 * failure. Disagreeing overlaps are DFU_E_FORMAT at the later line. */
int dfui_recs_to_image(struct dfui_recs *r, const char *name, enum dfu_format fmt, int has_entry,
                       uint32_t entry, dfu_image **out, struct dfu_err *err);

/* Returned by a text reader's pass (dfui_sink_put) when a record goes below the one before it:
 * the pass that builds the image directly gives up, and dfui_read_text() starts over collecting
 * records. */
#define DFUI_RESTART 1

/*
 * Where a text reader's data records go. While they come in address order (the usual case)
 * each one goes straight into the image: appended to the last segment, nothing else held. A
 * pass with @collect set keeps them in a dfui_recs instead (see above). An overlap that
 * disagrees is kept and reported by dfui_sink_finish(), so that a later syntax error in the file
 * is reported first, as when all records are collected.
 */
struct dfui_sink {
    int collect;
    dfu_image *img;
    struct dfui_recs recs;
    int any;       /* a record was put */
    uint32_t last; /* address of the last record put */
    int conflict;  /* an overlap disagreed: @cerr is the error to report */
    struct dfu_err cerr;
};

/** Start a sink; DFU_E_NOMEM if the image cannot be allocated. */
int dfui_sink_init(struct dfui_sink *s, int collect, struct dfu_err *err);
void dfui_sink_free(struct dfui_sink *s);
/** A data record of @len > 0 bytes from line @line: 0, DFUI_RESTART, or DFU_E_NOMEM. */
int dfui_sink_put(struct dfui_sink *s, uint32_t addr, const uint8_t *data, uint32_t len,
                  unsigned line, const char *name, struct dfu_err *err);
/** The end of a pass that returned @rc: the image with its format and entry point, or the
 *  overlap error, or @rc itself when it is not 0; frees the sink. */
int dfui_sink_finish(struct dfui_sink *s, int rc, const char *name, enum dfu_format fmt,
                     int has_entry, uint32_t entry, dfu_image **out, struct dfu_err *err);

/** One pass of a text reader over @t into a sink (collecting if @collect). */
typedef int (*dfui_text_pass)(struct dfui_text *t, const char *name, int collect, dfu_image **out,
                              struct dfu_err *err);
/** Run @pass directly into the image; if it returns DFUI_RESTART, read the text again with a
 *  collecting pass. */
int dfui_read_text(struct dfui_text *t, const char *name, dfui_text_pass pass, dfu_image **out,
                   struct dfu_err *err);
int dfui_ihex_pass(struct dfui_text *t, const char *name, int collect, dfu_image **out,
                   struct dfu_err *err);
int dfui_srec_pass(struct dfui_text *t, const char *name, int collect, dfu_image **out,
                   struct dfu_err *err);

/** End address of the last segment, 0 for an empty image. */
uint64_t dfui_image_end(const dfu_image *img);
/** Room for @len > 0 new bytes at @addr, at or after dfui_image_end(): appended to the last
 *  segment when @addr is its end, else a new segment. *@where receives the bytes to fill in;
 *  they are part of the image at once. DFU_E_RANGE past 4 GiB (as dfu_image_add()),
 *  DFU_E_NOMEM. */
int dfui_image_extend(dfu_image *img, uint32_t addr, size_t len, uint8_t **where,
                      struct dfu_err *err);
/** Add the @len bytes of the malloc'd block @data (@cap bytes allocated) at @addr. An empty
 *  image takes the block over as its segment; otherwise it is added as by dfu_image_add().
 *  @data is freed or owned by @img in every case. */
int dfui_image_take(dfu_image *img, uint32_t addr, uint8_t *data, size_t len, size_t cap,
                    struct dfu_err *err);
/** Move all segments of @src into the segment-less @dst, leaving @src without any. */
void dfui_image_move_segments(dfu_image *dst, dfu_image *src);

/** Raw binary in the malloc'd @buf (@cap bytes allocated, @len used), which is freed or handed
 *  to the image in every case: as dfu_image_parse_bin() without copying the data. */
int dfui_parse_bin_owned(uint8_t *buf, size_t len, size_t cap, uint32_t base, const char *name,
                         dfu_image **out, struct dfu_err *err);
/** ELF from the regular file @fd of @size bytes (@path for I/O messages, @name for the rest):
 *  as dfu_image_parse_elf(), but the headers are read as needed and segment data straight into
 *  the image. */
int dfui_load_elf(int fd, size_t size, const char *path, const char *name, dfu_image **out,
                  struct dfu_err *err);

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

/*
 * Output of the writers. Without @sink, a buffer that grows to hold everything (the
 * dfu_image_write_*() functions). With @sink, a window of DFUI_OUT_CHUNK bytes handed to
 * @sink(@ud, bytes, n) each time it fills and by dfui_buf_flush(); large blocks (segment data)
 * go to @sink directly (dfu_image_save() writes a file this way). @oom latches an allocation
 * failure, @fail a failed @sink (which returns nonzero).
 */
#define DFUI_OUT_CHUNK (64u * 1024)
struct dfui_buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
    int (*sink)(void *ud, const uint8_t *data, size_t len);
    void *ud;
    int fail;
    int crc_on;   /* keep @crc (set it before any output) */
    uint32_t crc; /* CRC-32 of the bytes already handed to @sink */
};
/** Without a sink: allocate exactly @size bytes for an empty buffer (a writer that knows its
 *  output size). DFU_E_NOMEM. */
int dfui_buf_reserve(struct dfui_buf *b, size_t size);
/** Make room for @extra more bytes; returns a pointer to the free space or NULL (and sets
 *  oom, or @fail when a flush failed). */
uint8_t *dfui_buf_room(struct dfui_buf *b, size_t extra);
void dfui_buf_put(struct dfui_buf *b, const void *data, size_t len);
/** @len bytes of value @c. */
void dfui_buf_fill(struct dfui_buf *b, uint8_t c, size_t len);
/** Hand the buffered bytes to the sink. */
void dfui_buf_flush(struct dfui_buf *b);
/** CRC-32 of all output so far (needs crc_on with a sink). */
uint32_t dfui_buf_crc(const struct dfui_buf *b);
/** 0, or DFU_E_NOMEM / DFU_E_IO for a latched failure (without a message for DFU_E_IO: the
 *  sink's owner knows what failed). */
int dfui_buf_status(const struct dfui_buf *b, struct dfu_err *err);
/** Hand the bytes to the caller (*out, *outlen), or free them and return @rc when it is not 0,
 *  or NOMEM. */
int dfui_buf_finish(struct dfui_buf *b, int rc, uint8_t **out, size_t *outlen, struct dfu_err *err);

/* Writers into @b; errors that depend on the image (too large for the format) come before any
 * output. Record size: data bytes per line, 0 = 16. */
void dfui_emit_ihex(const dfu_image *img, unsigned recsize, struct dfui_buf *b);
void dfui_emit_srec(const dfu_image *img, unsigned recsize, struct dfui_buf *b);
int dfui_emit_bin(const dfu_image *img, struct dfu_write_opts *opts, struct dfui_buf *b,
                  struct dfu_err *err);
int dfui_emit_dfuse(const dfu_image *img, struct dfu_write_opts *opts, struct dfui_buf *b,
                    struct dfu_err *err);

#include "bytes.h"

/* Two upper-case hex digits of v at p; returns the position after them. */
static inline uint8_t *dfui_put_hex(uint8_t *p, unsigned v)
{
    static const char digits[] = "0123456789ABCDEF";

    p[0] = (uint8_t)digits[(v >> 4) & 15];
    p[1] = (uint8_t)digits[v & 15];
    return p + 2;
}

/* The next line that is not blank: *ls its start, *s..*q the text without surrounding white
 * space. 1, 0 at the end of the text, or an error (as dfui_text_line). */
int dfui_text_record(struct dfui_text *t, const unsigned char **ls, const unsigned char **s,
                     const unsigned char **q, struct dfu_err *err);

/* Parse text in memory with one of the record passes (Intel HEX, S-record). */
int dfui_parse_text_mem(const uint8_t *buf, size_t len, const char *name, dfui_text_pass pass,
                        dfu_image **out, struct dfu_err *err);
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
/** Append a DFU suffix for all output so far (@b needs crc_on when it has a sink). */
void dfui_suffix_emit(struct dfui_buf *b, uint16_t bcd_device, uint16_t pid, uint16_t vid,
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
