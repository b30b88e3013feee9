/*
 * Malformed input: every reader fails with DFU_E_FORMAT and a message naming the file and the
 * line or byte offset, or (where the format allows) parses a valid prefix. Never a crash.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfu/image.h"
#include "t.h"

static uint8_t *slurp(const char *file, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DFU_FIXTURES, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static int parse(const char *text, const char *name, dfu_image **img, struct dfu_err *e)
{
    struct dfu_load_opts o = {0};
    o.name = name;
    dfu_err_clear(e);
    *img = NULL;
    return dfu_image_parse((const uint8_t *)text, strlen(text), &o, img, e);
}

/* Parse @text and expect a FORMAT error whose message is exactly @msg. */
static int expect_msg(const char *text, const char *msg, unsigned line)
{
    dfu_image *img;
    struct dfu_err e;
    int rc = parse(text, "t.hex", &img, &e);
    if (rc != DFU_E_FORMAT)
        T_FAIL_("expected FORMAT for %s, got %d (%s)", msg, rc, e.msg);
    T_ASSERT(img == NULL);
    T_EQ_STR(e.msg, msg);
    T_EQ_INT(e.line, line);
    return 0;
}

static int test_ihex_errors(void)
{
    int f = 0;
    f |= expect_msg(":020000040800F2\n:0400000001020304F3\n:00000001FF\n",
                    "t.hex:2: checksum 0xf3, expected 0xf2", 2);
    f |= expect_msg(":020000040800F2\n:0400000001020304\n",
                    "t.hex:2: length field says 4 data "
                    "bytes but the record has 3",
                    2);
    f |= expect_msg(":020000040800F2\n:04000000010203XXF2\n:00000001FF\n",
                    "t.hex:2: invalid hex digit 'X' at column 16", 2);
    f |= expect_msg(":020000040800F2\n:0400000001020304F2\n",
                    "t.hex:2: missing end-of-file "
                    "record (type 01)",
                    2);
    f |= expect_msg(":00000001FF\n:0400000001020304F2\n",
                    "t.hex:2: data after the end-of-file record", 2);
    f |= expect_msg(":020000040800F2\r\n\r\n;comment\r\n",
                    "t.hex:3: record does not start with "
                    "':' (found 0x3b)",
                    3);
    f |= expect_msg(":0400000601020304EC\n:00000001FF\n", "t.hex:1: unknown record type 0x06", 1);
    f |= expect_msg(":03000004080000F1\n:00000001FF\n",
                    "t.hex:1: type 04 record needs 2 data bytes, has 3", 1);
    return f;
}

/* Start address records that disagree, and extended address records with an address field
 * other than 0000, are refused naming the lines; repeats that agree are accepted. */
static int test_ihex_strict(void)
{
    dfu_image *img;
    struct dfu_err e;
    int f = 0;

    f |= expect_msg(":020000040800F2\n:0400000001020304F2\n:0400000508000001EE\n"
                    ":0400000508000101ED\n:00000001FF\n",
                    "t.hex:4: start address 0x08000101 disagrees with the one on line 3 "
                    "(0x08000001)",
                    4);
    /* CS:IP 0000:8001 is 0x00008001 */
    f |= expect_msg(":040000030000800178\n:0400000508000101ED\n:00000001FF\n",
                    "t.hex:2: start address 0x08000101 disagrees with the one on line 1 "
                    "(0x00008001)",
                    2);
    f |= expect_msg(":020010040800E2\n:0400000001020304F2\n:00000001FF\n",
                    "t.hex:1: type 04 record with address field 0010 (must be 0000)", 1);
    f |= expect_msg(":020000040800F2\n:020001041000E9\n:00000001FF\n",
                    "t.hex:2: type 04 record with address field 0001 (must be 0000)", 2);
    f |= expect_msg(":020010021000DC\n:00000001FF\n",
                    "t.hex:1: type 02 record with address field 0010 (must be 0000)", 1);
    if (f)
        return f;

    /* the same start address again, also once as CS:IP and once linear, is fine */
    T_OK(parse(":020000040800F2\n:0400000001020304F2\n:0400000508000001EE\n"
               ":0400000508000001EE\n:00000001FF\n",
               "t.hex", &img, &e),
         e);
    T_EQ_INT(dfu_image_entry(img), 0x08000001);
    dfu_image_free(img);
    T_OK(parse(":040000030000800178\n:040000050000800176\n:00000001FF\n", "t.hex", &img, &e), e);
    T_ASSERT(dfu_image_has_entry(img));
    T_EQ_INT(dfu_image_entry(img), 0x8001);
    dfu_image_free(img);
    /* only the end record: an empty image (dfush image info shows it; flash refuses it) */
    T_OK(parse(":00000001FF\n", "t.hex", &img, &e), e);
    T_EQ_INT(dfu_image_count(img), 0);
    T_EQ_INT(dfu_image_size(img), 0);
    dfu_image_free(img);
    return 0;
}

static int test_ihex_overlap(void)
{
    dfu_image *img;
    struct dfu_err e;
    const char *text = ":020000040800F2\n"
                       ":0400000001020304F2\n"
                       ":0400020003FF0708E9\n"
                       ":00000001FF\n";
    T_EQ_INT(parse(text, "o.hex", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(e.line, 3);
    T_ASSERT(strncmp(e.msg, "o.hex:3: ", 9) == 0);
    T_ASSERT(strstr(e.msg, "0x08000003") != NULL);
    /* agreeing overlap is accepted */
    text = ":020000040800F2\n"
           ":0400000001020304F2\n"
           ":0400020003040708E4\n"
           ":00000001FF\n";
    T_OK(parse(text, "o.hex", &img, &e), e);
    T_EQ_INT(dfu_image_count(img), 1);
    T_EQ_INT(dfu_image_segment(img, 0)->size, 6);
    dfu_image_free(img);
    return 0;
}

/* Lower case, CRLF, reverse order, 02 segment and 03 CS:IP entry. */
static int test_ihex_variants(void)
{
    dfu_image *img;
    struct dfu_err e;
    const char *text = ":020000021000ec\r\n"
                       ":020010000304e7\r\n"
                       ":020000000102fb\r\n"
                       ":0400000310000020c9\r\n"
                       ":00000001ff\r\n";
    T_OK(parse(text, "v.hex", &img, &e), e);
    T_EQ_INT(dfu_image_format(img), DFU_FMT_IHEX);
    T_EQ_INT(dfu_image_count(img), 2);
    T_EQ_INT(dfu_image_segment(img, 0)->addr, 0x10000);
    T_EQ_INT(dfu_image_segment(img, 1)->addr, 0x10010);
    T_EQ_INT(dfu_image_segment(img, 1)->data[1], 4);
    T_ASSERT(dfu_image_has_entry(img));
    T_EQ_INT(dfu_image_entry(img), 0x10020);
    dfu_image_free(img);
    return 0;
}

static int test_srec_errors(void)
{
    dfu_image *img;
    struct dfu_err e;
    T_EQ_INT(parse("S00600004844521B\nS1070000010203047F\n", "t.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_STR(e.msg, "t.s19:2: checksum 0x7f, expected 0xee");
    T_EQ_INT(e.line, 2);
    T_EQ_INT(parse("S1070000010203040EE\n", "t.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(parse("S1070000010203EE\n", "t.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_STR(e.msg, "t.s19:1: count field says 7 bytes but the record has 6");
    T_EQ_INT(parse("S107000001020304EE\nS5030002FA\n", "t.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_STR(e.msg, "t.s19:2: S5 record count 2, but 1 data records precede it");
    T_EQ_INT(parse("S107000001020304EE\nS9030000FC\nS107000001020304EE\n", "t.s19", &img, &e),
             DFU_E_FORMAT);
    T_EQ_STR(e.msg, "t.s19:3: record after the termination record");
    T_EQ_INT(parse("S107000001020304EE\nS4030000FC\n", "t.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(e.line, 2);
    /* disagreeing overlap */
    T_EQ_INT(parse("S107000001020304EE\nS1050002FF00F9\n", "t.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(e.line, 2);
    T_ASSERT(strstr(e.msg, "0x00000002") != NULL);
    /* good: S3 + S7 entry + S5 count, lower case */
    T_OK(parse("s00600004844521b\nS3090800000001020304E4\nS5030001FB\nS70508000001F1\n", "g.s19",
               &img, &e),
         e);
    T_EQ_INT(dfu_image_count(img), 1);
    T_EQ_INT(dfu_image_segment(img, 0)->addr, 0x08000000);
    T_EQ_INT(dfu_image_entry(img), 0x08000001);
    dfu_image_free(img);
    return 0;
}

static int test_empty(void)
{
    dfu_image *img;
    struct dfu_err e;
    struct dfu_load_opts o = {1, 0x08000000, "empty.bin"};
    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_parse((const uint8_t *)"", 0, &o, &img, &e), DFU_E_FORMAT);
    T_EQ_STR(e.msg, "empty.bin: offset 0: empty file");
    T_EQ_INT(e.offset, 0);
    /* through a real file, the path names it */
    char path[] = "/tmp/dfush-empty-XXXXXX";
    int fd = mkstemp(path);
    T_ASSERT(fd >= 0);
    close(fd);
    T_EQ_INT(dfu_image_load(path, NULL, &img, &e), DFU_E_FORMAT);
    T_ASSERT(strncmp(e.msg, path, strlen(path)) == 0);
    unlink(path);
    /* no file at all is an I/O error */
    T_EQ_INT(dfu_image_load("/nonexistent/x.hex", NULL, &img, &e), DFU_E_IO);
    T_ASSERT(strstr(e.msg, "/nonexistent/x.hex") != NULL);
    /* empty per format */
    T_EQ_INT(dfu_image_parse_ihex((const uint8_t *)"", 0, "e.hex", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(dfu_image_parse_srec((const uint8_t *)"\n", 1, "e.s19", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(dfu_image_parse_dfuse((const uint8_t *)"", 0, "e.dfu", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(dfu_image_parse_bin((const uint8_t *)"", 0, 0, "e.bin", &img, &e), DFU_E_FORMAT);
#ifdef DFU_WITH_LIBELF
    T_EQ_INT(dfu_image_parse_elf((const uint8_t *)"", 0, "e.elf", &img, &e), DFU_E_FORMAT);
#endif
    /* a raw binary without a base address is a usage error */
    o.has_base = 0;
    T_EQ_INT(dfu_image_parse((const uint8_t *)"\0\1", 2, &o, &img, &e), DFU_E_INVALID);
    return 0;
}

/* Only regular files are images: a device, a FIFO or a directory is refused at once with a
 * message naming what it is (a FIFO must not block, a device like /dev/zero must not be read
 * until memory runs out), and so is a file over the size limit. */
static int test_not_regular(void)
{
    dfu_image *img = NULL;
    struct dfu_err e;
    struct dfu_load_opts o = {1, 0x08000000, NULL};
    char dir[] = "/tmp/dfush-input-XXXXXX", path[64];

    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_load("/dev/null", &o, &img, &e), DFU_E_INVALID);
    T_EQ_STR(e.msg, "/dev/null: not a regular file (a character device); give an image file");
    T_ASSERT(img == NULL);
    T_ASSERT(mkdtemp(dir) != NULL);
    T_EQ_INT(dfu_image_load(dir, &o, &img, &e), DFU_E_INVALID);
    T_ASSERT(strncmp(e.msg, dir, strlen(dir)) == 0);
    T_ASSERT(strstr(e.msg, ": not a regular file (a directory); give an image file") != NULL);
    /* a FIFO with no writer: refused, not waited on (the alarm ends a hung test) */
    snprintf(path, sizeof path, "%s/fifo", dir);
    T_ASSERT(mkfifo(path, 0600) == 0);
    alarm(20);
    int rc = dfu_image_load(path, &o, &img, &e);
    alarm(0);
    unlink(path);
    T_EQ_INT(rc, DFU_E_INVALID);
    T_ASSERT(strstr(e.msg, "fifo: not a regular file (a FIFO); give an image file") != NULL);
    /* one byte over the limit (a sparse file: nothing is written or read) */
    snprintf(path, sizeof path, "%s/big.bin", dir);
    FILE *f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    T_ASSERT(ftruncate(fileno(f), (off_t)256 * 1024 * 1024 + 1) == 0);
    fclose(f);
    rc = dfu_image_load(path, &o, &img, &e);
    unlink(path);
    rmdir(dir);
    T_EQ_INT(rc, DFU_E_FORMAT);
    T_ASSERT(strstr(e.msg, "big.bin: 268435457 bytes, over the 256 MiB limit for an image file") !=
             NULL);
    T_ASSERT(img == NULL);
    return 0;
}

static void fix_suffix_crc(uint8_t *b, size_t len)
{
    uint32_t c = ~dfu_crc32(0, b, len - 4);
    b[len - 4] = (uint8_t)c;
    b[len - 3] = (uint8_t)(c >> 8);
    b[len - 2] = (uint8_t)(c >> 16);
    b[len - 1] = (uint8_t)(c >> 24);
}

static int test_suffix_crc(void)
{
    size_t len;
    uint8_t *b = slurp("h7_seed.suffix.bin", &len);
    dfu_image *img;
    struct dfu_err e;
    T_ASSERT(b != NULL);
    dfu_err_clear(&e);
    b[1000] ^= 1;
    T_EQ_INT(dfu_image_parse_bin(b, len, 0x08000000, "s.bin", &img, &e), DFU_E_FORMAT);
    T_ASSERT(strncmp(e.msg, "s.bin: offset 57036: DFU suffix CRC 0x738ab219, expected", 56) == 0);
    T_EQ_INT(e.offset, (long)len - 4);
    b[1000] ^= 1;
    b[len - 5] = 8; /* bLength below 16 */
    fix_suffix_crc(b, len);
    T_EQ_INT(dfu_image_parse_bin(b, len, 0x08000000, "s.bin", &img, &e), DFU_E_FORMAT);
    T_ASSERT(strstr(e.msg, "suffix length 8") != NULL);
    free(b);

    b = slurp("h7_seed.dfu", &len);
    T_ASSERT(b != NULL);
    b[400] ^= 0x80;
    T_EQ_INT(dfu_image_parse_dfuse(b, len, "s.dfu", &img, &e), DFU_E_FORMAT);
    T_ASSERT(strstr(e.msg, "s.dfu: offset") == e.msg && strstr(e.msg, "CRC") != NULL);
    free(b);
    return 0;
}

/* DFUImageSize: whole file (UM0391) and without the suffix (old dfuse-pack) are both fine. */
static int test_dfuse_image_size(void)
{
    size_t len;
    uint8_t *b = slurp("h7_seed.dfu", &len);
    dfu_image *img;
    struct dfu_err e;
    T_ASSERT(b != NULL);
    dfu_err_clear(&e);
    uint32_t sizes[] = {(uint32_t)len, (uint32_t)len - 16, (uint32_t)len - 1};
    for (int i = 0; i < 3; i++) {
        b[6] = (uint8_t)sizes[i];
        b[7] = (uint8_t)(sizes[i] >> 8);
        b[8] = (uint8_t)(sizes[i] >> 16);
        b[9] = (uint8_t)(sizes[i] >> 24);
        fix_suffix_crc(b, len);
        int rc = dfu_image_parse_dfuse(b, len, "z.dfu", &img, &e);
        if (i < 2) {
            T_OK(rc, e);
            T_EQ_INT(dfu_image_target_count(img), 1);
            T_EQ_INT(dfu_image_count(img), 2);
            dfu_image_free(img);
        } else {
            T_EQ_INT(rc, DFU_E_FORMAT);
            T_EQ_INT(e.offset, 6);
            T_ASSERT(strstr(e.msg, "DFUImageSize") != NULL);
        }
    }
    /* target signature damaged */
    b[11] = 't';
    b[6] = (uint8_t)len;
    b[7] = (uint8_t)(len >> 8);
    b[8] = b[9] = 0;
    fix_suffix_crc(b, len);
    T_EQ_INT(dfu_image_parse_dfuse(b, len, "z.dfu", &img, &e), DFU_E_FORMAT);
    T_EQ_STR(e.msg, "z.dfu: offset 11: target 0: no \"Target\" signature");
    free(b);
    return 0;
}

#ifdef DFU_WITH_LIBELF
static int elf_expect(const uint8_t *b, size_t len, const char *want)
{
    dfu_image *img = NULL;
    struct dfu_err e;
    dfu_err_clear(&e);
    int rc = dfu_image_parse_elf(b, len, "x.elf", &img, &e);
    if (rc != DFU_E_FORMAT || strstr(e.msg, want) == NULL || strncmp(e.msg, "x.elf: ", 7) != 0)
        T_FAIL_("want '%s', got %d '%s'", want, rc, e.msg);
    T_ASSERT(img == NULL);
    return 0;
}

static int test_elf_refusals(void)
{
    size_t len;
    uint8_t *orig = slurp("h7_seed.elf", &len);
    uint8_t *b = malloc(len);
    int f = 0;
    T_ASSERT(orig != NULL);
    memcpy(b, orig, len);
    b[4] = 2; /* ELFCLASS64 */
    f |= elf_expect(b, len, "not a 32-bit ELF file");
    memcpy(b, orig, len);
    b[18] = 3; /* EM_386 (little endian) */
    f |= elf_expect(b, len, "not an ARM ELF file");
    memcpy(b, orig, len);
    b[16] = 1; /* ET_REL */
    f |= elf_expect(b, len, "relocatable object");
    memcpy(b, orig, len);
    for (int i = 0; i < 3; i++) /* three program headers at 52: make them PT_NULL */
        memset(b + 52 + 32 * i, 0, 4);
    f |= elf_expect(b, len, "no loadable data");
    f |= elf_expect(orig, 0x1200, "truncated");
    f |= elf_expect(orig, 40, "truncated");
    free(b);
    free(orig);
    return f;
}
#endif

/* The image @part holds only bytes that @whole has at the same addresses. */
static int is_subset(const dfu_image *part, const dfu_image *whole)
{
    for (size_t i = 0; i < dfu_image_count(part); i++) {
        const struct dfu_segment *s = dfu_image_segment(part, i);
        dfu_image *w = dfu_image_slice(whole, s->addr, s->size);
        T_EQ_INT(dfu_image_count(w), 1);
        T_EQ_INT(dfu_image_segment(w, 0)->size, s->size);
        T_EQ_MEM(dfu_image_segment(w, 0)->data, s->data, s->size);
        dfu_image_free(w);
    }
    return 0;
}

/* Parse every prefix of @buf: a FORMAT error naming the file and a line/offset, or (where the
 * format allows) an image that is part of the whole. Returns the number of prefixes that
 * parsed. */
typedef int (*parser_fn)(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                         struct dfu_err *err);

static long truncations(const uint8_t *buf, size_t len, const char *name, parser_fn parse_fn,
                        const dfu_image *whole, int text)
{
    long ok = 0;
    size_t nl = strlen(name);
    for (size_t k = 0; k < len; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size, so ASan sees any over-read */
        memcpy(copy, buf, k);
        dfu_image *img = NULL;
        struct dfu_err e;
        dfu_err_clear(&e);
        int rc = parse_fn(copy, k, name, &img, &e);
        free(copy);
        if (rc == 0) {
            if (is_subset(img, whole) != 0) {
                fprintf(stderr, "%s truncated at %zu: not a prefix\n", name, k);
                return -1;
            }
            dfu_image_free(img);
            ok++;
            continue;
        }
        if (rc != DFU_E_FORMAT || img != NULL || strncmp(e.msg, name, nl) != 0 ||
            (text ? e.line == 0 && !(k == 0 && e.offset == 0) : e.offset < 0)) {
            fprintf(stderr, "%s truncated at %zu: rc %d '%s' line %u offset %ld\n", name, k, rc,
                    e.msg, e.line, e.offset);
            return -1;
        }
    }
    return ok;
}

static int test_truncation(void)
{
    struct dfu_err e;
    dfu_image *whole = dfu_image_new();
    uint8_t data[200];
    dfu_err_clear(&e);
    for (int i = 0; i < 200; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    T_OK(dfu_image_add(whole, 0x0800FFC0, data, 120, &e), e); /* crosses a 64K boundary */
    T_OK(dfu_image_add(whole, 0x08020000, data + 120, 80, &e), e);
    dfu_image_set_entry(whole, 1, 0x08000101);

    struct dfu_write_opts wo;
    dfu_write_opts_init(&wo);
    uint8_t *buf;
    size_t len;
    long ok;

    T_OK(dfu_image_write_ihex(whole, &buf, &len, &e), e);
    ok = truncations(buf, len, "t.hex", dfu_image_parse_ihex, whole, 1);
    T_ASSERT(ok >= 0);
    T_EQ_INT(ok, 1); /* only the file without its last newline is a complete HEX file */
    free(buf);

    T_OK(dfu_image_write_srec(whole, &buf, &len, &e), e);
    ok = truncations(buf, len, "t.s19", dfu_image_parse_srec, whole, 1);
    T_ASSERT(ok > 0); /* every whole line is a valid S-record prefix */
    free(buf);

    T_OK(dfu_image_write_dfuse(whole, &wo, &buf, &len, &e), e);
    ok = truncations(buf, len, "t.dfu", dfu_image_parse_dfuse, whole, 0);
    T_ASSERT(ok >= 0);
    free(buf);

    /* a raw binary with a suffix: a cut suffix leaves raw bytes, loaded as such */
    wo.suffix = 1;
    dfu_image *filled = dfu_image_slice(whole, 0x08020000, 80);
    T_OK(dfu_image_write_bin(filled, &wo, &buf, &len, &e), e);
    T_EQ_INT(len, 96);
    dfu_image *self = NULL;
    T_OK(dfu_image_parse_bin(buf, len, 0x08020000, "t.bin", &self, &e), e);
    T_ASSERT(dfu_image_suffix(self) != NULL);
    dfu_image_free(self);
    dfu_image_free(filled);
    free(buf);

#ifdef DFU_WITH_LIBELF
    uint8_t *elf = slurp("h7_seed.elf", &len);
    dfu_image *ewhole = NULL;
    T_OK(dfu_image_parse_elf(elf, len, "h7_seed.elf", &ewhole, &e), e);
    ok = truncations(elf, len, "h7_seed.elf", dfu_image_parse_elf, ewhole, 0);
    T_EQ_INT(ok, 0); /* the section header table is last: any cut is detected */
    dfu_image_free(ewhole);
    free(elf);
#endif
    dfu_image_free(whole);
    return 0;
}

/* Damage every byte of a small HEX file in turn: no crash, and errors carry a line. */
static int test_ihex_byte_flips(void)
{
    struct dfu_err e;
    dfu_image *whole = dfu_image_new();
    uint8_t data[64];
    dfu_err_clear(&e);
    for (int i = 0; i < 64; i++)
        data[i] = (uint8_t)i;
    T_OK(dfu_image_add(whole, 0x08000000, data, 64, &e), e);
    uint8_t *buf;
    size_t len;
    T_OK(dfu_image_write_ihex(whole, &buf, &len, &e), e);
    for (size_t k = 0; k < len; k++) {
        uint8_t save = buf[k];
        buf[k] = buf[k] == '1' ? '2' : '1';
        dfu_image *img = NULL;
        struct dfu_err e2;
        dfu_err_clear(&e2);
        int rc = dfu_image_parse_ihex(buf, len, "f.hex", &img, &e2);
        if (rc == 0)
            dfu_image_free(img);
        else if (rc != DFU_E_FORMAT || e2.line == 0 || strncmp(e2.msg, "f.hex:", 6) != 0)
            T_FAIL_("flip at %zu: rc %d '%s'", k, rc, e2.msg);
        buf[k] = save;
    }
    free(buf);
    dfu_image_free(whole);
    return 0;
}

static const struct t_case cases[] = {
    {"ihex_errors", test_ihex_errors},
    {"ihex_strict", test_ihex_strict},
    {"ihex_overlap", test_ihex_overlap},
    {"ihex_variants", test_ihex_variants},
    {"srec_errors", test_srec_errors},
    {"empty", test_empty},
    {"not_regular", test_not_regular},
    {"suffix_crc", test_suffix_crc},
    {"dfuse_image_size", test_dfuse_image_size},
#ifdef DFU_WITH_LIBELF
    {"elf_refusals", test_elf_refusals},
#endif
    {"truncation", test_truncation},
    {"ihex_byte_flips", test_ihex_byte_flips},
    {NULL, NULL},
};
T_MAIN(cases)
