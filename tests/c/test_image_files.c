/*
 * Every fixture against tests/fixtures/truth.json, round trips through our writers, and
 * dfu-util's own tools (dfuse-pack, dfu-suffix) reading what we write.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfu/image.h"
#include "t.h"

/* ---- a tiny JSON reader, enough for truth.json ---- */

enum { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    int type;
    double num;
    char *str;
    size_t n;
    char **keys;      /* objects */
    struct jv *items; /* arrays and object values */
};

static const char *jp;

static void jws(void)
{
    while (*jp == ' ' || *jp == '\n' || *jp == '\r' || *jp == '\t')
        jp++;
}

static int jparse(struct jv *v);

static char *jstring(void)
{
    if (*jp != '"')
        return NULL;
    const char *s = ++jp;
    while (*jp && *jp != '"')
        jp += (*jp == '\\' && jp[1]) ? 2 : 1;
    if (*jp != '"')
        return NULL;
    char *r = malloc((size_t)(jp - s) + 1);
    memcpy(r, s, (size_t)(jp - s));
    r[jp - s] = '\0';
    jp++;
    return r;
}

static int jparse(struct jv *v)
{
    memset(v, 0, sizeof *v);
    jws();
    if (*jp == '{' || *jp == '[') {
        int obj = *jp == '{';
        char close = obj ? '}' : ']';
        v->type = obj ? J_OBJ : J_ARR;
        jp++;
        jws();
        if (*jp == close) {
            jp++;
            return 0;
        }
        for (;;) {
            v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
            v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
            v->keys[v->n] = NULL;
            if (obj) {
                jws();
                v->keys[v->n] = jstring();
                jws();
                if (v->keys[v->n] == NULL || *jp++ != ':')
                    return -1;
            }
            if (jparse(&v->items[v->n]) != 0)
                return -1;
            v->n++;
            jws();
            if (*jp == ',') {
                jp++;
                continue;
            }
            if (*jp++ != close)
                return -1;
            return 0;
        }
    }
    if (*jp == '"') {
        v->type = J_STR;
        v->str = jstring();
        return v->str ? 0 : -1;
    }
    if (strncmp(jp, "null", 4) == 0) {
        v->type = J_NULL;
        jp += 4;
        return 0;
    }
    char *e;
    v->type = J_NUM;
    v->num = strtod(jp, &e);
    if (e == jp)
        return -1;
    jp = e;
    return 0;
}

static void jfree(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

static const struct jv *jget(const struct jv *o, const char *key)
{
    if (o->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = '\0';
    if (len)
        *len = got;
    return b;
}

static int load_truth(struct jv *truth)
{
    char *text = slurp(DFU_FIXTURES "/truth.json", NULL);
    if (text == NULL)
        return -1;
    jp = text;
    int rc = jparse(truth);
    free(text);
    return rc;
}

/* ---- comparisons ---- */

/* Segments of @img equal the truth array @segs (address, size, crc32). */
static int check_segments(const char *what, const dfu_image *img, const struct jv *segs)
{
    if (segs == NULL || segs->type != J_ARR)
        T_FAIL_("%s: truth has no segment list", what);
    if (dfu_image_count(img) != segs->n)
        T_FAIL_("%s: %zu segments, truth has %zu", what, dfu_image_count(img), segs->n);
    for (size_t i = 0; i < segs->n; i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);
        uint32_t a = (uint32_t)jget(&segs->items[i], "address")->num;
        uint32_t n = (uint32_t)jget(&segs->items[i], "size")->num;
        uint32_t c = (uint32_t)jget(&segs->items[i], "crc32")->num;
        uint32_t got = dfu_crc32(0, s->data, s->size);
        if (s->addr != a || s->size != n || got != c)
            T_FAIL_("%s segment %zu: 0x%08x+%u crc 0x%08x, truth 0x%08x+%u crc 0x%08x", what, i,
                    s->addr, s->size, got, a, n, c);
    }
    return 0;
}

static int same_segments(const dfu_image *a, const dfu_image *b)
{
    T_EQ_INT(dfu_image_count(a), dfu_image_count(b));
    for (size_t i = 0; i < dfu_image_count(a); i++) {
        const struct dfu_segment *x = dfu_image_segment(a, i), *y = dfu_image_segment(b, i);
        T_EQ_INT(x->addr, y->addr);
        T_EQ_INT(x->size, y->size);
        T_EQ_MEM(x->data, y->data, x->size);
    }
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int load_fixture(const char *file, const struct jv *t, dfu_image **img, struct dfu_err *e)
{
    char path[512];
    struct dfu_load_opts o = {0};
    const struct jv *base = t ? jget(t, "base") : NULL;

    snprintf(path, sizeof path, "%s/%s", DFU_FIXTURES, file);
    o.name = file;
    if (base != NULL) {
        o.has_base = 1;
        o.base = (uint32_t)base->num;
    }
    dfu_err_clear(e);
    return dfu_image_load(path, &o, img, e);
}

/* ---- tests ---- */

static int test_truth(void)
{
    struct jv truth;
    struct dfu_err e;
    T_ASSERT(load_truth(&truth) == 0);
    T_ASSERT(truth.type == J_OBJ && truth.n >= 16);
    for (size_t i = 0; i < truth.n; i++) {
        const char *file = truth.keys[i];
        const struct jv *t = &truth.items[i];
        dfu_image *img = NULL;
        T_OK(load_fixture(file, t, &img, &e), e);

        enum dfu_format want = ends_with(file, ".elf")   ? DFU_FMT_ELF
                               : ends_with(file, ".hex") ? DFU_FMT_IHEX
                               : ends_with(file, ".s19") ? DFU_FMT_SREC
                               : ends_with(file, ".dfu") ? DFU_FMT_DFUSE
                                                         : DFU_FMT_BIN;
        if (dfu_image_format(img) != want)
            T_FAIL_("%s: format %s", file, dfu_format_name(dfu_image_format(img)));

        const struct jv *entry = jget(t, "entry");
        if (entry != NULL) {
            if (entry->type == J_NULL && dfu_image_has_entry(img))
                T_FAIL_("%s: unexpected entry 0x%08x", file, dfu_image_entry(img));
            if (entry->type == J_NUM &&
                (!dfu_image_has_entry(img) || dfu_image_entry(img) != (uint32_t)entry->num))
                T_FAIL_("%s: entry 0x%08x, truth 0x%08x", file, dfu_image_entry(img),
                        (uint32_t)entry->num);
        }
        const struct jv *segs = jget(t, "segments");
        if (segs != NULL && check_segments(file, img, segs) != 0)
            return 1;
        const struct jv *targets = jget(t, "targets");
        if (targets != NULL) {
            T_EQ_INT(dfu_image_target_count(img), targets->n);
            for (size_t k = 0; k < targets->n; k++) {
                uint8_t alt;
                const char *name;
                dfu_image *ti = dfu_image_target(img, k, &alt, &name);
                T_EQ_INT(alt, jget(&targets->items[k], "alt")->num);
                if (check_segments(file, ti, jget(&targets->items[k], "segments")) != 0)
                    return 1;
            }
        } else {
            T_EQ_INT(dfu_image_target_count(img), 0);
        }
        if (strstr(file, ".suffix.bin") != NULL) {
            const struct dfu_suffix *s = dfu_image_suffix(img);
            T_ASSERT(s != NULL);
            T_EQ_INT(s->vid, 0x0483);
            T_EQ_INT(s->pid, 0xdf11);
            T_EQ_INT(s->bcd_dfu, 0x0100);
            T_EQ_INT(s->length, 16);
        } else if (want == DFU_FMT_BIN) {
            T_ASSERT(dfu_image_suffix(img) == NULL);
        }
        dfu_image_free(img);
    }
    jfree(&truth);
    return 0;
}

/* Every fixture file is described by truth.json (nothing silently untested). */
static int test_all_fixtures_covered(void)
{
    struct jv truth;
    T_ASSERT(load_truth(&truth) == 0);
    DIR *d = opendir(DFU_FIXTURES);
    T_ASSERT(d != NULL);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "truth.json") == 0)
            continue;
        if (jget(&truth, de->d_name) == NULL) {
            closedir(d);
            T_FAIL_("fixture %s is not in truth.json", de->d_name);
        }
        n++;
    }
    closedir(d);
    T_EQ_INT(n, truth.n);
    jfree(&truth);
    return 0;
}

/* X -> fmt -> X keeps segments (and the entry where the format carries one). */
static int round_trip(const char *file, const dfu_image *img, enum dfu_format fmt,
                      uint8_t record_size)
{
    struct dfu_write_opts wo;
    struct dfu_err e;
    uint8_t *buf = NULL;
    size_t len = 0;
    dfu_image *back = NULL;

    dfu_write_opts_init(&wo);
    wo.record_size = record_size;
    dfu_err_clear(&e);
    T_OK(dfu_image_write(img, fmt, &wo, &buf, &len, &e), e);
    T_EQ_INT(dfu_image_detect(buf, len), fmt);
    struct dfu_load_opts lo = {0};
    lo.name = file;
    T_OK(dfu_image_parse(buf, len, &lo, &back, &e), e);
    free(buf);
    if (fmt == DFU_FMT_DFUSE) {
        T_EQ_INT(dfu_image_target_count(back),
                 dfu_image_target_count(img) ? dfu_image_target_count(img) : 1);
        if (dfu_image_target_count(img) == 0 &&
            same_segments(img, dfu_image_target(back, 0, NULL, NULL)) != 0)
            T_FAIL_("%s: dfu round trip differs", file);
    } else {
        T_EQ_INT(dfu_image_has_entry(back), dfu_image_has_entry(img));
        T_EQ_INT(dfu_image_entry(back), dfu_image_entry(img));
    }
    if (same_segments(img, back) != 0)
        T_FAIL_("%s: %s round trip differs", file, dfu_format_name(fmt));
    dfu_image_free(back);
    return 0;
}

static int test_round_trips(void)
{
    static const char *files[] = {"h7_seed.elf", "h7_seed.hex",     "f4_config.s19",
                                  "h7_seed.dfu", "h7_dualbank.elf", "f4_config.elf"};
    struct dfu_err e;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        dfu_image *img = NULL;
        T_OK(load_fixture(files[i], NULL, &img, &e), e);
        if (round_trip(files[i], img, DFU_FMT_IHEX, 16) ||
            round_trip(files[i], img, DFU_FMT_IHEX, 32) ||
            round_trip(files[i], img, DFU_FMT_SREC, 0) ||
            round_trip(files[i], img, DFU_FMT_DFUSE, 0))
            return 1;
        /* raw binary: gaps filled with 0xFF, loaded back at the first address */
        struct dfu_write_opts wo;
        dfu_write_opts_init(&wo);
        uint8_t *buf;
        size_t len;
        T_OK(dfu_image_write_bin(img, &wo, &buf, &len, &e), e);
        dfu_image *filled = dfu_image_clone(img), *back = NULL;
        T_OK(dfu_image_fill_gaps(filled, 0xFF, &e), e);
        T_OK(dfu_image_parse_bin(buf, len, dfu_image_segment(img, 0)->addr, files[i], &back, &e),
             e);
        if (same_segments(filled, back) != 0)
            T_FAIL_("%s: bin round trip differs", files[i]);
        free(buf);
        dfu_image_free(back);
        dfu_image_free(filled);
        dfu_image_free(img);
    }
    return 0;
}

/* Records in reverse order (each HEX data record with its own type 04 record before it) load
 * to the same image as the file in order. */
static int test_any_record_order(void)
{
    struct dfu_err e;
    dfu_image *img = NULL, *back = NULL;
    T_OK(load_fixture("h7_dualbank.hex", NULL, &img, &e), e);
    size_t len;
    char *text = slurp(DFU_FIXTURES "/h7_dualbank.hex", &len);
    T_ASSERT(text != NULL);
    /* split into lines, remember the 04 record in force for each data record */
    size_t nlines = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    char **ext = malloc(cap * sizeof *ext);
    char *cur_ext = NULL;
    for (char *p = strtok(text, "\r\n"); p != NULL; p = strtok(NULL, "\r\n")) {
        if (strncmp(p, ":02000004", 9) == 0) {
            cur_ext = p;
            continue;
        }
        if (nlines == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            ext = realloc(ext, cap * sizeof *ext);
        }
        ext[nlines] = cur_ext;
        lines[nlines++] = p;
    }
    /* reversed: EOF stays last */
    size_t outcap = len * 2, o = 0;
    char *out = malloc(outcap);
    for (size_t i = nlines - 1; i-- > 0;) {
        if (ext[i] != NULL)
            o += (size_t)sprintf(out + o, "%s\n", ext[i]);
        o += (size_t)sprintf(out + o, "%s\n", lines[i]);
    }
    o += (size_t)sprintf(out + o, "%s\n", lines[nlines - 1]);
    T_OK(dfu_image_parse_ihex((const uint8_t *)out, o, "rev.hex", &back, &e), e);
    if (same_segments(img, back) != 0)
        return 1;
    T_EQ_INT(dfu_image_entry(back), dfu_image_entry(img));
    dfu_image_free(back);
    free(out);
    free(lines);
    free(ext);
    free(text);

    /* S-records need no context: reverse the data lines outright */
    text = slurp(DFU_FIXTURES "/h7_dualbank.s19", &len);
    T_ASSERT(text != NULL);
    nlines = 0;
    lines = malloc((len / 8 + 1) * sizeof *lines);
    for (char *p = strtok(text, "\r\n"); p != NULL; p = strtok(NULL, "\r\n"))
        lines[nlines++] = p;
    T_ASSERT(nlines > 2);
    out = malloc(len * 2);
    o = (size_t)sprintf(out, "%s\n", lines[0]);
    for (size_t i = nlines - 1; i-- > 1;)
        if (lines[i][1] >= '1' && lines[i][1] <= '3')
            o += (size_t)sprintf(out + o, "%s\n", lines[i]);
    o += (size_t)sprintf(out + o, "%s\n", lines[nlines - 1]);
    T_OK(dfu_image_parse_srec((const uint8_t *)out, o, "rev.s19", &back, &e), e);
    if (same_segments(img, back) != 0)
        return 1;
    dfu_image_free(back);
    free(out);
    free(lines);
    free(text);
    dfu_image_free(img);
    return 0;
}

/* The .dfu fixture's bytes come back identical when rewritten from its targets. */
static int test_dfuse_rewrite_identical(void)
{
    struct dfu_err e;
    dfu_image *img = NULL;
    size_t flen;
    char *orig = slurp(DFU_FIXTURES "/h7_seed.dfu", &flen);
    T_ASSERT(orig != NULL);
    T_OK(load_fixture("h7_seed.dfu", NULL, &img, &e), e);
    struct dfu_write_opts wo;
    dfu_write_opts_init(&wo);
    const struct dfu_suffix *s = dfu_image_suffix(img);
    wo.vid = s->vid;
    wo.pid = s->pid;
    wo.bcd_device = s->bcd_device;
    uint8_t *buf;
    size_t len;
    T_OK(dfu_image_write_dfuse(img, &wo, &buf, &len, &e), e);
    T_EQ_INT(len, flen);
    T_EQ_MEM(buf, orig, len);
    free(buf);
    free(orig);
    dfu_image_free(img);
    return 0;
}

static int have_tool(const char *tool)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static int make_tmpdir(char *dir, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, cap, "%s/dfush-img-XXXXXX", t ? t : "/tmp");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static void rm_tmpdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* dfuse-pack -d lists the elements of our .dfu exactly as our image has them, and dumps the
 * element bytes, which must equal ours. */
static int test_dfuse_pack_reads_ours(void)
{
    if (!have_tool("dfuse-pack"))
        return T_SKIP;
    static const char *files[] = {"h7_dualbank.elf", "f4_config.hex", "h7_seed.s19"};
    struct dfu_err e;
    char dir[256];
    T_ASSERT(make_tmpdir(dir, sizeof dir) == 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        dfu_image *img = NULL;
        T_OK(load_fixture(files[i], NULL, &img, &e), e);
        char out[512], cmd[700], line[512];
        snprintf(out, sizeof out, "%s/ours%zu.dfu", dir, i);
        struct dfu_write_opts wo;
        dfu_write_opts_init(&wo);
        wo.alt = (uint8_t)i;
        T_OK(dfu_image_save(img, out, &wo, &e), e);
        struct stat st;
        T_ASSERT(stat(out, &st) == 0);
        snprintf(cmd, sizeof cmd, "dfuse-pack -d '%s' 2>&1", out);
        FILE *p = popen(cmd, "r");
        T_ASSERT(p != NULL);
        size_t nel = 0;
        int saw_prefix = 0, saw_target = 0, saw_suffix = 0, bad = 0;
        while (fgets(line, sizeof line, p) != NULL) {
            unsigned idx, addr, size, ntg, isize, alt;
            if (sscanf(line, "b'DfuSe' v1, image size: %u, targets: %u", &isize, &ntg) == 2) {
                saw_prefix = 1;
                if (isize != (unsigned)st.st_size || ntg != 1)
                    bad = 1;
            } else if (sscanf(line, "b'Target' 0, alt setting: %u", &alt) == 1) {
                saw_target = 1;
                if (alt != i)
                    bad = 1;
            } else if (sscanf(line, " %u, address: 0x%x, size: %u", &idx, &addr, &size) == 3) {
                const struct dfu_segment *s = dfu_image_segment(img, nel);
                if (s == NULL || idx != nel || s->addr != addr || s->size != size)
                    bad = 1;
                nel++;
            } else if (strstr(line, "usb: 0483:df11, device: 0xffff, dfu: 0x011a,") == line) {
                saw_suffix = 1;
            }
        }
        int rc = pclose(p);
        if (rc != 0 || bad || !saw_prefix || !saw_target || !saw_suffix ||
            nel != dfu_image_count(img))
            T_FAIL_("dfuse-pack -d disagrees on %s (rc %d, %zu elements)", files[i], rc, nel);
        for (size_t k = 0; k < nel; k++) {
            char dump[600];
            size_t dlen;
            snprintf(dump, sizeof dump, "%s.target0.image%zu.bin", out, k);
            char *d = slurp(dump, &dlen);
            T_ASSERT(d != NULL);
            T_EQ_INT(dlen, dfu_image_segment(img, k)->size);
            T_EQ_MEM(d, dfu_image_segment(img, k)->data, dlen);
            free(d);
        }
        dfu_image_free(img);
    }
    rm_tmpdir(dir);
    return 0;
}

/* dfu-suffix -c accepts the suffix we write on a .bin, with our ids. */
static int test_dfu_suffix_reads_ours(void)
{
    if (!have_tool("dfu-suffix"))
        return T_SKIP;
    struct dfu_err e;
    char dir[256], out[512], cmd[700], line[512];
    T_ASSERT(make_tmpdir(dir, sizeof dir) == 0);
    dfu_image *img = NULL;
    T_OK(load_fixture("h7_seed.elf", NULL, &img, &e), e);
    struct dfu_write_opts wo;
    dfu_write_opts_init(&wo);
    wo.suffix = 1;
    wo.vid = 0x1209;
    wo.pid = 0x70b1;
    wo.bcd_device = 0x0203;
    snprintf(out, sizeof out, "%s/ours.bin", dir);
    T_OK(dfu_image_save(img, out, &wo, &e), e);
    snprintf(cmd, sizeof cmd, "dfu-suffix -c '%s' 2>&1", out);
    FILE *p = popen(cmd, "r");
    T_ASSERT(p != NULL);
    int ids = 0;
    while (fgets(line, sizeof line, p) != NULL) {
        ids += strstr(line, "Vendor ID:\t0x1209") != NULL;
        ids += strstr(line, "Product ID:\t0x70B1") != NULL;
        ids += strstr(line, "BCD device:\t0x0203") != NULL;
        ids += strstr(line, "BCD DFU:\t0x0100") != NULL;
    }
    int rc = pclose(p);
    T_EQ_INT(rc, 0);
    T_EQ_INT(ids, 4);
    /* and we read it back with the suffix stripped */
    dfu_image *back = NULL;
    struct dfu_load_opts lo = {1, dfu_image_segment(img, 0)->addr, NULL};
    T_OK(dfu_image_load(out, &lo, &back, &e), e);
    T_ASSERT(dfu_image_suffix(back) != NULL);
    T_EQ_INT(dfu_image_suffix(back)->vid, 0x1209);
    dfu_image *filled = dfu_image_clone(img);
    T_OK(dfu_image_fill_gaps(filled, 0xFF, &e), e);
    if (same_segments(filled, back) != 0)
        return 1;
    /* dfu-suffix -c also rejects a file whose CRC we damage (the check is real) */
    FILE *f = fopen(out, "r+b");
    T_ASSERT(f != NULL);
    fseek(f, 100, SEEK_SET);
    fputc(0x5A ^ dfu_image_segment(filled, 0)->data[100], f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "dfu-suffix -c '%s' >/dev/null 2>&1", out);
    T_ASSERT(system(cmd) != 0);
    dfu_image_free(filled);
    dfu_image_free(back);
    dfu_image_free(img);
    rm_tmpdir(dir);
    return 0;
}

/* arm-none-eabi-objcopy turns our HEX and S-record files into the same raw binary as ours. */
static int test_objcopy_reads_ours(void)
{
    if (!have_tool("arm-none-eabi-objcopy"))
        return T_SKIP;
    struct dfu_err e;
    char dir[256], in[512], out[512], cmd[1200];
    T_ASSERT(make_tmpdir(dir, sizeof dir) == 0);
    dfu_image *img = NULL;
    T_OK(load_fixture("h7_dualbank.elf", NULL, &img, &e), e);
    dfu_image *filled = dfu_image_clone(img);
    T_OK(dfu_image_fill_gaps(filled, 0xFF, &e), e);
    static const char *exts[] = {"hex", "s19"};
    static const char *bfd[] = {"ihex", "srec"};
    for (int i = 0; i < 2; i++) {
        struct dfu_write_opts wo;
        dfu_write_opts_init(&wo);
        wo.record_size = (uint8_t)(i == 0 ? 32 : 16);
        snprintf(in, sizeof in, "%s/ours.%s", dir, exts[i]);
        snprintf(out, sizeof out, "%s/objcopy%d.bin", dir, i);
        T_OK(dfu_image_save(img, in, &wo, &e), e);
        snprintf(cmd, sizeof cmd, "arm-none-eabi-objcopy -I %s -O binary --gap-fill 0xff '%s' '%s'",
                 bfd[i], in, out);
        T_EQ_INT(system(cmd), 0);
        size_t len;
        char *b = slurp(out, &len);
        T_ASSERT(b != NULL);
        T_EQ_INT(len, dfu_image_segment(filled, 0)->size);
        T_EQ_MEM(b, dfu_image_segment(filled, 0)->data, len);
        free(b);
    }
    dfu_image_free(filled);
    dfu_image_free(img);
    rm_tmpdir(dir);
    return 0;
}

/* An S-record file always ends with a termination record; with no entry point it is S7 with
 * address 0, which reads back as "no entry". */
static int test_srec_terminated(void)
{
    struct dfu_err e;
    dfu_image *img = dfu_image_new();
    T_ASSERT(img != NULL);
    static const uint8_t data[5] = {1, 2, 3, 4, 5};
    T_OK(dfu_image_add(img, 0x08000000, data, sizeof data, &e), e);
    for (int with_entry = 0; with_entry < 2; with_entry++) {
        dfu_image_set_entry(img, with_entry, 0x08000101);
        uint8_t *buf;
        size_t len;
        T_OK(dfu_image_write_srec(img, &buf, &len, &e), e);
        T_ASSERT(len > 16);
        const char *want = with_entry ? "S70508000101F0\n" : "S70500000000FA\n";
        T_EQ_MEM(buf + len - strlen(want), want, strlen(want));
        dfu_image *back = NULL;
        T_OK(dfu_image_parse_srec(buf, len, "t.s19", &back, &e), e);
        T_EQ_INT(dfu_image_has_entry(back), with_entry);
        if (with_entry)
            T_EQ_INT(dfu_image_entry(back), 0x08000101);
        dfu_image_free(back);
        free(buf);
    }
    dfu_image_free(img);
    return 0;
}

static const struct t_case cases[] = {
    {"truth", test_truth},
    {"all_fixtures_covered", test_all_fixtures_covered},
    {"round_trips", test_round_trips},
    {"any_record_order", test_any_record_order},
    {"dfuse_rewrite_identical", test_dfuse_rewrite_identical},
    {"dfuse_pack_reads_ours", test_dfuse_pack_reads_ours},
    {"dfu_suffix_reads_ours", test_dfu_suffix_reads_ours},
    {"objcopy_reads_ours", test_objcopy_reads_ours},
    {"srec_terminated", test_srec_terminated},
    {NULL, NULL},
};
T_MAIN(cases)
