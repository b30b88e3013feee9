/*
 * Files read in chunks and written in chunks: dfu_image_load() parses text while reading it, so
 * lines, records and line ends fall on chunk boundaries; it must give exactly what
 * dfu_image_parse() gives for the same bytes in memory (image, or error with its message, line
 * and offset). dfu_image_save() streams its output; the file must hold exactly the bytes
 * dfu_image_write() returns.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfu/image.h"
#include "img_internal.h"
#include "t.h"

/* Chunk sizes that put boundaries everywhere in a short line, and around one HEX line (43
 * characters with "\r\n"). */
static const size_t chunks[] = {1, 2, 3, 5, 7, 16, 42, 43, 44, 45, 64, 4096, 64 * 1024};
#define NCHUNKS (sizeof chunks / sizeof chunks[0])

static char tmpdir[64];

/* Remove the scratch directory and whatever a failed test left in it. */
static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[256];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

/* "TMPDIR/name" in a scratch directory made on first use. */
static const char *tmp_path(char *buf, size_t n, const char *name)
{
    if (tmpdir[0] == '\0') {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/dfush-stream-XXXXXX");
        if (mkdtemp(tmpdir) == NULL)
            abort();
        atexit(remove_tmpdir);
    }
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static uint8_t *read_all(const char *path, size_t *len)
{
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

static int same_image(const dfu_image *a, const dfu_image *b)
{
    T_EQ_INT(dfu_image_format(a), dfu_image_format(b));
    T_EQ_INT(dfu_image_has_entry(a), dfu_image_has_entry(b));
    T_EQ_INT(dfu_image_entry(a), dfu_image_entry(b));
    T_EQ_INT(dfu_image_count(a), dfu_image_count(b));
    for (size_t i = 0; i < dfu_image_count(a); i++) {
        const struct dfu_segment *x = dfu_image_segment(a, i), *y = dfu_image_segment(b, i);
        T_EQ_INT(x->addr, y->addr);
        T_EQ_INT(x->size, y->size);
        T_EQ_MEM(x->data, y->data, x->size);
    }
    return 0;
}

/* Load @len bytes of @data from a file with every chunk size and compare with parsing them in
 * memory. Returns the result code of the parse (the same for every load), or 1000 on a
 * mismatch. */
static int load_matches_parse(const void *data, size_t len, const char *name)
{
    char path[128];
    struct dfu_load_opts o = {0};
    struct dfu_err pe, le;
    dfu_image *pimg = NULL;

    tmp_path(path, sizeof path, name);
    if (write_file(path, data, len) != 0)
        T_FAIL_("cannot write %s", path);
    o.name = name;
    dfu_err_clear(&pe);
    int prc = dfu_image_parse(data, len, &o, &pimg, &pe);
    for (size_t c = 0; c < NCHUNKS; c++) {
        dfu_image *limg = NULL;
        dfui_read_chunk = chunks[c];
        dfu_err_clear(&le);
        int lrc = dfu_image_load(path, &o, &limg, &le);
        if (lrc != prc || strcmp(le.msg, pe.msg) != 0 || le.line != pe.line ||
            le.offset != pe.offset || le.has_addr != pe.has_addr || le.addr != pe.addr) {
            fprintf(stderr, "%s, chunk %zu: load %d '%s' line %u, parse %d '%s' line %u\n", name,
                    chunks[c], lrc, le.msg, le.line, prc, pe.msg, pe.line);
            dfui_read_chunk = 64 * 1024;
            dfu_image_free(limg);
            dfu_image_free(pimg);
            return 1000;
        }
        if (lrc == 0 && same_image(limg, pimg) != 0) {
            fprintf(stderr, "%s, chunk %zu: images differ\n", name, chunks[c]);
            dfui_read_chunk = 64 * 1024;
            return 1000;
        }
        dfu_image_free(limg);
    }
    dfui_read_chunk = 64 * 1024;
    dfu_image_free(pimg);
    unlink(path);
    return prc;
}

/* An image of two segments with an entry point, as Intel HEX text with "\r\n" line ends. */
static char *hex_text(size_t *len)
{
    struct dfu_err e;
    uint8_t data[700], *buf;
    size_t n;
    dfu_image *img = dfu_image_new();

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    dfu_err_clear(&e);
    if (dfu_image_add(img, 0x0800FF00, data, 600, &e) != 0 ||
        dfu_image_add(img, 0x08020000, data + 600, 100, &e) != 0 ||
        dfu_image_write_ihex(img, &buf, &n, &e) != 0) {
        dfu_image_free(img);
        return NULL;
    }
    dfu_image_free(img);
    char *out = malloc(2 * n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            out[o++] = '\r';
        out[o++] = (char)buf[i];
    }
    out[o] = '\0';
    free(buf);
    *len = o;
    return out;
}

/* Line ends on chunk boundaries: LF, CRLF, a byte order mark, no newline at the end, blank and
 * indented lines, and a line longer than a chunk. */
static int test_hex_line_ends(void)
{
    size_t len;
    char *crlf = hex_text(&len);
    T_ASSERT(crlf != NULL);
    T_EQ_INT(load_matches_parse(crlf, len, "crlf.hex"), 0);
    T_EQ_INT(load_matches_parse(crlf, len - 2, "nonl.hex"), 0);
    T_EQ_INT(load_matches_parse(crlf, len - 1, "cr_at_end.hex"), 0);

    /* LF only */
    char *lf = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (crlf[i] != '\r')
            lf[n++] = crlf[i];
    T_EQ_INT(load_matches_parse(lf, n, "lf.hex"), 0);

    /* byte order mark, blank lines, indentation, and a line of 10000 spaces */
    size_t cap = len + 20000;
    char *odd = malloc(cap);
    size_t o = 0;
    memcpy(odd, "\xEF\xBB\xBF\r\n  \t\n", 9);
    o = 9;
    for (size_t i = 0; i < n; i++) {
        odd[o++] = lf[i];
        if (lf[i] == '\n' && i > n / 2 && i < n / 2 + 50) {
            memset(odd + o, ' ', 10000);
            o += 10000;
        } else if (lf[i] == '\n') {
            odd[o++] = '\t';
        }
    }
    T_EQ_INT(load_matches_parse(odd, o, "odd.hex"), 0);
    /* many blank lines first: the format is decided after them */
    char *lead = malloc(n + 300);
    memset(lead, '\n', 300);
    memcpy(lead + 300, lf, n);
    T_EQ_INT(load_matches_parse(lead, n + 300, "lead.hex"), 0);
    free(lead);
    free(odd);
    free(lf);
    free(crlf);
    return 0;
}

/* Errors after many chunks name the right line, and the column within a line that straddles
 * a boundary. */
static int test_hex_error_lines(void)
{
    size_t len;
    char *text = hex_text(&len);
    T_ASSERT(text != NULL);

    /* line 30: a bad checksum; line 31: a bad digit in the middle */
    char *p = text;
    for (int l = 1; l < 30; l++)
        p = strchr(p, '\n') + 1;
    char *eol = strchr(p, '\r');
    char save = eol[-1];
    eol[-1] = eol[-1] == '0' ? '1' : '0';
    T_EQ_INT(load_matches_parse(text, len, "sum.hex"), DFU_E_FORMAT);
    struct dfu_err e;
    dfu_image *img = NULL;
    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_parse_ihex((const uint8_t *)text, len, "sum.hex", &img, &e), DFU_E_FORMAT);
    T_EQ_INT(e.line, 30);
    T_ASSERT(strncmp(e.msg, "sum.hex:30: checksum", 20) == 0);
    eol[-1] = save;

    char *q = strchr(p, '\n') + 1;
    q[20] = 'g';
    T_EQ_INT(load_matches_parse(text, len, "digit.hex"), DFU_E_FORMAT);
    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_parse_ihex((const uint8_t *)text, len, "digit.hex", &img, &e), DFU_E_FORMAT);
    T_EQ_STR(e.msg, "digit.hex:31: invalid hex digit 'g' at column 21");

    /* the end record missing: the message names the last line */
    char *last = strstr(text, ":00000001FF");
    T_ASSERT(last != NULL);
    T_EQ_INT(load_matches_parse(text, (size_t)(last - text), "noend.hex"), DFU_E_FORMAT);
    free(text);
    return 0;
}

static const char *const unsorted_hex[] = {
    /* reversed, agreeing: loads the same as in order */
    ":020000040800F2\n:0400100005060708D2\n:0400000001020304F2\n:00000001FF\n",
    /* a disagreeing overlap after the order breaks: judged in address order, so the record on
     * line 4 (lower address) is there first and line 2 is blamed */
    ":020000040800F2\n:0400100005060708D2\n:0400000001020304F2\n:02000F00FF00F0\n:00000001FF\n",
    /* a disagreeing overlap in order, then a record going backwards */
    ":020000040800F2\n:0400000001020304F2\n:0400020003FF0708E9\n:0100000001FE\n:00000001FF\n",
    /* a disagreeing overlap in order, then a syntax error: the syntax error is reported */
    ":020000040800F2\n:0400000001020304F2\n:0400020003FF0708E9\n:0100Z00001FE\n:00000001FF\n",
    /* a disagreeing overlap in order, and no end record */
    ":020000040800F2\n:0400000001020304F2\n:0400020003FF0708E9\n",
    NULL,
};

/* Records out of address order: read again from the start, collecting them. */
static int test_hex_unsorted(void)
{
    char name[32];
    static const int want[] = {0, DFU_E_FORMAT, DFU_E_FORMAT, DFU_E_FORMAT, DFU_E_FORMAT};
    for (int i = 0; unsorted_hex[i] != NULL; i++) {
        snprintf(name, sizeof name, "u%d.hex", i);
        T_EQ_INT(load_matches_parse(unsorted_hex[i], strlen(unsorted_hex[i]), name), want[i]);
    }
    struct dfu_err e;
    dfu_image *img = NULL;
    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_parse_ihex((const uint8_t *)unsorted_hex[1], strlen(unsorted_hex[1]),
                                  "u.hex", &img, &e),
             DFU_E_FORMAT);
    T_EQ_STR(e.msg, "u.hex:2: overlapping data disagrees at 0x08000010 (0x00 already there, 0x05 "
                    "new)");
    T_EQ_INT(e.line, 2);
    T_ASSERT(e.has_addr);
    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_parse_ihex((const uint8_t *)unsorted_hex[3], strlen(unsorted_hex[3]),
                                  "u.hex", &img, &e),
             DFU_E_FORMAT);
    T_EQ_STR(e.msg, "u.hex:4: invalid hex digit 'Z' at column 6");
    T_ASSERT(!e.has_addr);
    return 0;
}

static int test_srec_chunks(void)
{
    static const char *const texts[] = {
        "S00600004844521B\r\nS3090800000001020304E4\r\nS5030001FB\r\nS70508000001F1",
        "S3090800000401020304E0\nS3090800000001020304E4\nS5030002FA\nS70508000001F1\n",
        "S3090800000001020304E4\nS30708000002FF00ED\nS70508000001F1\n",
        "S3090800000001020304E4\nS5030002FA\nS70508000001F1\n",
        NULL,
    };
    static const int want[] = {0, 0, DFU_E_FORMAT, DFU_E_FORMAT};
    char name[32];
    for (int i = 0; texts[i] != NULL; i++) {
        snprintf(name, sizeof name, "s%d.s19", i);
        T_EQ_INT(load_matches_parse(texts[i], strlen(texts[i]), name), want[i]);
    }
    return 0;
}

/* ELF from a file: headers read as needed, segments straight into the image; also segments out
 * of order and overlapping, which take the other path. */
static int test_elf_from_file(void)
{
#ifdef DFU_WITH_LIBELF
    size_t len;
    uint8_t *elf = read_all(DFU_FIXTURES "/h7_dualbank.elf", &len);
    T_ASSERT(elf != NULL);
    T_EQ_INT(load_matches_parse(elf, len, "dual.elf"), 0);
    uint8_t ph[32];
    memcpy(ph, elf + 52, 32); /* program headers 0 and 2 swapped */
    memcpy(elf + 52, elf + 52 + 64, 32);
    memcpy(elf + 52 + 64, ph, 32);
    T_EQ_INT(load_matches_parse(elf, len, "swapped.elf"), 0);
    /* header 0 (now the 256 bytes for 0x08100000) moved to 0x08000000: overlaps disagree */
    elf[52 + 12 + 2] = 0x00;
    elf[52 + 12 + 3] = 0x08;
    T_EQ_INT(load_matches_parse(elf, len, "overlap.elf"), DFU_E_FORMAT);
    T_EQ_INT(load_matches_parse(elf, 0x1200, "cut.elf"), DFU_E_FORMAT);
    free(elf);
    return 0;
#else
    return T_SKIP;
#endif
}

/* dfu_image_save() streams; the file holds what dfu_image_write() returns, for outputs larger
 * than the output chunk, gaps larger than it (raw binary) and the suffix CRCs. */
static int test_save_streams(void)
{
    static const enum dfu_format fmts[] = {DFU_FMT_IHEX, DFU_FMT_SREC, DFU_FMT_BIN, DFU_FMT_DFUSE};
    static const char *const ext[] = {"hex", "s19", "bin", "dfu"};
    struct dfu_err e;
    dfu_image *img = dfu_image_new();
    size_t big = 3 * DFUI_OUT_CHUNK + 123;
    uint8_t *data = malloc(big);
    char path[128];

    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    dfu_err_clear(&e);
    T_OK(dfu_image_add(img, 0x08000000, data, 1000, &e), e);
    T_OK(
        dfu_image_add(img, 0x08000000 + 1000 + 2 * DFUI_OUT_CHUNK + 5, data + 1000, big - 1000, &e),
        e);
    dfu_image_set_entry(img, 1, 0x08000101);
    for (int suffix = 0; suffix < 2; suffix++) {
        for (size_t k = 0; k < 4; k++) {
            struct dfu_write_opts wo;
            uint8_t *want, *got;
            size_t wlen, glen;
            dfu_write_opts_init(&wo);
            wo.suffix = suffix;
            wo.record_size = suffix ? 32 : 0;
            T_OK(dfu_image_write(img, fmts[k], &wo, &want, &wlen, &e), e);
            char file[16];
            snprintf(file, sizeof file, "out.%s", ext[k]);
            tmp_path(path, sizeof path, file);
            T_OK(dfu_image_save(img, path, &wo, &e), e);
            got = read_all(path, &glen);
            T_ASSERT(got != NULL);
            if (glen != wlen || memcmp(got, want, wlen) != 0)
                T_FAIL_("%s (suffix %d): saved %zu bytes differ from the %zu written", ext[k],
                        suffix, glen, wlen);
            if (fmts[k] == DFU_FMT_BIN)
                T_ASSERT(wo.warning[0] != '\0'); /* the gap is over 64 KiB */
            free(want);
            free(got);
            unlink(path);
        }
    }
    /* an empty image still makes a (empty) raw binary */
    dfu_image *none = dfu_image_new();
    tmp_path(path, sizeof path, "empty.bin");
    T_OK(dfu_image_save(none, path, NULL, &e), e);
    size_t glen = 99;
    uint8_t *got = read_all(path, &glen);
    T_ASSERT(got != NULL);
    T_EQ_INT(glen, 0);
    free(got);
    unlink(path);
    dfu_image_free(none);
    dfu_image_free(img);
    free(data);
    return 0;
}

/* A raw binary loaded from a file becomes the image without a copy; with a DFU suffix the
 * segment stops before it. */
static int test_bin_from_file(void)
{
    size_t len;
    uint8_t *b = read_all(DFU_FIXTURES "/h7_seed.suffix.bin", &len);
    T_ASSERT(b != NULL);
    struct dfu_load_opts o = {1, 0x08000000, "s.bin"};
    char path[128];
    struct dfu_err e;
    dfu_image *img = NULL, *ref = NULL;
    tmp_path(path, sizeof path, "s.bin");
    T_ASSERT(write_file(path, b, len) == 0);
    dfu_err_clear(&e);
    T_OK(dfu_image_load(path, &o, &img, &e), e);
    T_OK(dfu_image_parse(b, len, &o, &ref, &e), e);
    if (same_image(img, ref) != 0)
        return 1;
    T_ASSERT(dfu_image_suffix(img) != NULL);
    T_EQ_INT(dfu_image_size(img), len - 16);
    /* more data added after the loaded block */
    T_OK(dfu_image_add(img, 0x08000000 + (uint32_t)len - 16, b, 16, &e), e);
    T_EQ_INT(dfu_image_count(img), 1);
    dfu_image_free(img);
    dfu_image_free(ref);
    /* only a suffix: an empty image */
    T_EQ_INT(load_matches_parse(b + len - 16, 16, "sfx.bin") == 1000, 0);
    unlink(path);
    free(b);
    return 0;
}

static const struct t_case cases[] = {
    {"hex_line_ends", test_hex_line_ends}, {"hex_error_lines", test_hex_error_lines},
    {"hex_unsorted", test_hex_unsorted},   {"srec_chunks", test_srec_chunks},
    {"elf_from_file", test_elf_from_file}, {"save_streams", test_save_streams},
    {"bin_from_file", test_bin_from_file}, {NULL, NULL},
};
T_MAIN(cases)
