/* DfuSe layout strings (protocol.md 4.1), checked against every real string of protocol.md 4.2. */
#include <stdlib.h>

#include "dfu/layout.h"
#include "t.h"

#define K 1024u
#define G 7u /* readable + erasable + writable */
#define E 5u /* readable + writable */

struct want {
    const char *s;
    const char *name;
    size_t n;
    struct dfu_sector_run runs[6];
};

/* Every string of protocol.md 4.2 (and the simulator profiles of design.md 5). */
static const struct want real[] = {
    /* F105/F107 */
    {"@Internal Flash  /0x08000000/128*002Kg", "Internal Flash", 1, {{0x08000000, 128, 2 * K, G}}},
    {"@Option Bytes  /0x1FFFF800/01*016 g", "Option Bytes", 1, {{0x1FFFF800, 1, 16, G}}},
    /* F0x2 */
    {"@Internal Flash  /0x08000000/064*0002Kg", "Internal Flash", 1, {{0x08000000, 64, 2 * K, G}}},
    {"@Option Bytes  /0x1FFFF800/01*016 e", "Option Bytes", 1, {{0x1FFFF800, 1, 16, E}}},
    /* F303 */
    {"@Internal Flash  /0x08000000/128*0002Kg", "Internal Flash", 1, {{0x08000000, 128, 2 * K, G}}},
    /* F405/F407 V2.1 */
    {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
     "Internal Flash",
     3,
     {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 7, 128 * K, G}}},
    {"@Option Bytes  /0x1FFFC000/01*016 g", "Option Bytes", 1, {{0x1FFFC000, 1, 16, G}}},
    {"@OTP Memory /0x1FFF7800/01*512 g,01*016 g",
     "OTP Memory",
     2,
     {{0x1FFF7800, 1, 512, G}, {0x1FFF7A00, 1, 16, G}}},
    /* "Device Feature" is forced to 'e' even when the ROM says 'g' */
    {"@Device Feature/0xFFFF0000/01*004 g", "Device Feature", 1, {{0xFFFF0000, 1, 4, E}}},
    /* F401/F411 */
    {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg",
     "Internal Flash",
     3,
     {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 3, 128 * K, G}}},
    {"@Option Bytes  /0x1FFFC000/01*016 e", "Option Bytes", 1, {{0x1FFFC000, 1, 16, E}}},
    {"@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
     "OTP Memory",
     2,
     {{0x1FFF7800, 1, 512, E}, {0x1FFF7A00, 1, 16, E}}},
    {"@Device Feature/0xFFFF0000/01*004 e", "Device Feature", 1, {{0xFFFF0000, 1, 4, E}}},
    /* F42x/F43x dual bank */
    {"@Internal Flash /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,07*128Kg",
     "Internal Flash",
     6,
     {{0x08000000, 4, 16 * K, G},
      {0x08010000, 1, 64 * K, G},
      {0x08020000, 7, 128 * K, G},
      {0x08100000, 4, 16 * K, G},
      {0x08110000, 1, 64 * K, G},
      {0x08120000, 7, 128 * K, G}}},
    {"@Option Bytes  /0x1FFFC000/01*016 e/0x1FFEC000/01*016 e",
     "Option Bytes",
     2,
     {{0x1FFFC000, 1, 16, E}, {0x1FFEC000, 1, 16, E}}},
    {"@OTP Memory /0x1FFF7800/01*512 e,01*016 e/0x1FFE7800/01*512 e,01*016 e",
     "OTP Memory",
     4,
     {{0x1FFF7800, 1, 512, E},
      {0x1FFF7A00, 1, 16, E},
      {0x1FFE7800, 1, 512, E},
      {0x1FFE7A00, 1, 16, E}}},
    /* F72x, F74x/F75x, F76x/F77x */
    {"@Internal Flash  /0x08000000/04*016Kg,01*64Kg,03*128Kg",
     "Internal Flash",
     3,
     {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 3, 128 * K, G}}},
    {"@Internal Flash  /0x08000000/04*032Kg,01*128Kg,03*256Kg",
     "Internal Flash",
     3,
     {{0x08000000, 4, 32 * K, G}, {0x08020000, 1, 128 * K, G}, {0x08040000, 3, 256 * K, G}}},
    {"@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg",
     "Internal Flash",
     3,
     {{0x08000000, 4, 32 * K, G}, {0x08020000, 1, 128 * K, G}, {0x08040000, 7, 256 * K, G}}},
    /* H743/H753/H750 */
    {"@Internal Flash   /0x08000000/16*128Kg", "Internal Flash", 1, {{0x08000000, 16, 128 * K, G}}},
    {"@Option Bytes   /0x5200201C/01*128 e", "Option Bytes", 1, {{0x5200201C, 1, 128, E}}},
    /* H72x/73x */
    {"@Internal Flash /0x08000000/16*128Kg", "Internal Flash", 1, {{0x08000000, 16, 128 * K, G}}},
    {"@Option Bytes /0x5200201C/01*128 e", "Option Bytes", 1, {{0x5200201C, 1, 128, E}}},
    {"@OTP Memory /0x08FFF000/01*1024 e", "OTP Memory", 1, {{0x08FFF000, 1, 1024, E}}},
    /* H7A3/B3/B0 */
    {"@Internal Flash   /0x08000000/256*08Kg", "Internal Flash", 1, {{0x08000000, 256, 8 * K, G}}},
    {"@Option Bytes   /0x5200201C/01*297 e", "Option Bytes", 1, {{0x5200201C, 1, 297, E}}},
    {"@OTP Memory   /0x08FFF000/01*1024 e", "OTP Memory", 1, {{0x08FFF000, 1, 1024, E}}},
    /* L4 */
    {"@Internal Flash  /0x08000000/0256*0002Kg",
     "Internal Flash",
     1,
     {{0x08000000, 256, 2 * K, G}}},
    {"@Option Bytes  /0x1FFF7800/01*040 e", "Option Bytes", 1, {{0x1FFF7800, 1, 40, E}}},
    {"@OTP Memory /0x1FFF7000/01*0001Ke", "OTP Memory", 1, {{0x1FFF7000, 1, 1 * K, E}}},
    /* L452 */
    {"@Internal Flash  /0x08000000/512*0002Kg", "Internal Flash", 1, {{0x08000000, 512, 2 * K, G}}},
    /* G0B1, G474 */
    {"@Internal Flash   /0x08000000/256*02Kg", "Internal Flash", 1, {{0x08000000, 256, 2 * K, G}}},
    {"@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e",
     "Option Bytes",
     2,
     {{0x1FFF7800, 1, 48, E}, {0x1FFFF800, 1, 48, E}}},
    {"@OTP Memory   /0x1FFF7000/01*1024 e", "OTP Memory", 1, {{0x1FFF7000, 1, 1024, E}}},
    /* U575/U585 (2 MiB and 1 MiB), H563 */
    {"@Internal Flash   /0x08000000/256*08Kg", "Internal Flash", 1, {{0x08000000, 256, 8 * K, G}}},
    {"@Internal Flash   /0x08000000/128*08Kg", "Internal Flash", 1, {{0x08000000, 128, 8 * K, G}}},
    {"@Option Bytes   /0x40022040/01*64 e", "Option Bytes", 1, {{0x40022040, 1, 64, E}}},
    {"@OTP Memory   /0x0BFA0000/01*512 e", "OTP Memory", 1, {{0x0BFA0000, 1, 512, E}}},
    /* GD32VF103 */
    {"@Internal Flash  /0x08000000/512*002Kg", "Internal Flash", 1, {{0x08000000, 512, 2 * K, G}}},
    {"@Internal Flash  /0x08000000/128*001Kg", "Internal Flash", 1, {{0x08000000, 128, 1 * K, G}}},
    /* simulator profiles (design.md 5) */
    {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
     "Internal Flash",
     3,
     {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 7, 128 * K, G}}},
};

static int check(const struct want *w)
{
    struct dfu_layout l;
    struct dfu_err e;

    dfu_err_clear(&e);
    if (dfu_layout_parse(w->s, &l, &e) != 0)
        T_FAIL_("\"%s\": %s", w->s, e.msg);
    if (strcmp(l.name, w->name) != 0 || l.nruns != w->n) {
        dfu_layout_free(&l);
        T_FAIL_("\"%s\": name \"%s\" runs %zu", w->s, l.name, l.nruns);
    }
    for (size_t i = 0; i < w->n; i++) {
        const struct dfu_sector_run *a = &l.runs[i], *b = &w->runs[i];

        if (a->addr != b->addr || a->count != b->count || a->size != b->size ||
            a->type != b->type) {
            fprintf(stderr, "run %zu: %08x %u*%u type %u, want %08x %u*%u type %u\n", i,
                    (unsigned)a->addr, (unsigned)a->count, (unsigned)a->size, a->type,
                    (unsigned)b->addr, (unsigned)b->count, (unsigned)b->size, b->type);
            dfu_layout_free(&l);
            T_FAIL_("\"%s\": run %zu differs", w->s, i);
        }
    }
    dfu_layout_free(&l);
    return 0;
}

static int test_real_strings(void)
{
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        if (check(&real[i]) != 0)
            return 1;
    }
    return 0;
}

static int test_forms(void)
{
    static const struct want forms[] = {
        /* a lone type letter after the size: bytes */
        {"@RAM/0x20000000/01*016e", "RAM", 1, {{0x20000000, 1, 16, E}}},
        /* B and M multipliers, upper-case type letters (letter & 7) */
        {"@X/0x20000000/02*512Bg,01*001MG",
         "X",
         2,
         {{0x20000000, 2, 512, G}, {0x20000400, 1, 1024 * K, G}}},
        /* 'B' alone after the size is the type letter with byte units */
        {"@X/0x00000010/3*4B", "X", 1, {{0x10, 3, 4, 2}}},
        /* each type letter */
        {"@T/0x0/1*1a,1*1b,1*1c,1*1d,1*1e,1*1f",
         "T",
         6,
         {{0, 1, 1, 1}, {1, 1, 1, 2}, {2, 1, 1, 3}, {3, 1, 1, 4}, {4, 1, 1, 5}, {5, 1, 1, 6}}},
        /* name trimmed, lower-case hex */
        {"@   Padded name \t /0x0800abcd/1*1Kg", "Padded name", 1, {{0x0800abcd, 1, K, G}}},
        /* trailing garbage after the last segment: non-printables, UTF-16 junk, a stray
         * separator, a '/' that does not start a zone */
        {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg\x01\x02\x7f",
         "Internal Flash",
         3,
         {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 7, 128 * K, G}}},
        {"@Internal Flash  /0x08000000/16*128Kg\xff\xfe"
         "A\x01"
         "B\x01\xc3\x28",
         "Internal Flash",
         1,
         {{0x08000000, 16, 128 * K, G}}},
        {"@Internal Flash  /0x08000000/16*128Kg,",
         "Internal Flash",
         1,
         {{0x08000000, 16, 128 * K, G}}},
        {"@Internal Flash  /0x08000000/16*128Kg/junk",
         "Internal Flash",
         1,
         {{0x08000000, 16, 128 * K, G}}},
        {"@Internal Flash  /0x08000000/16*128Kg   ",
         "Internal Flash",
         1,
         {{0x08000000, 16, 128 * K, G}}},
    };

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (check(&forms[i]) != 0)
            return 1;
    }
    return 0;
}

static int expect_error(const char *s, const char *needle)
{
    struct dfu_layout l;
    struct dfu_err e;
    int rc;

    dfu_err_clear(&e);
    rc = dfu_layout_parse(s, &l, &e);
    if (rc != DFU_E_FORMAT)
        T_FAIL_("\"%s\" -> %d, want FORMAT", s ? s : "(null)", rc);
    if (strstr(e.msg, needle) == NULL)
        T_FAIL_("\"%s\": message \"%s\" lacks \"%s\"", s ? s : "(null)", e.msg, needle);
    T_ASSERT(l.runs == NULL && l.nruns == 0);
    return 0;
}

static int test_errors(void)
{
    return expect_error("Internal Flash", "no leading '@'") || expect_error("", "no leading '@'") ||
           expect_error(NULL, "no leading '@'") || expect_error("@Internal Flash", "no zone") ||
           expect_error("@Flash/08000000/01*016Kg", "0x") ||
           expect_error("@Flash/0x/01*016Kg", "hex digits") ||
           expect_error("@Flash/0x123456789/01*016Kg", "too large") ||
           expect_error("@Flash/0x08000000", "'/' after the zone address") ||
           expect_error("@Flash/0x08000000/", "sector count") ||
           expect_error("@Flash/0x08000000/xx", "sector count") ||
           expect_error("@Flash/0x08000000/04x016Kg", "'*'") ||
           expect_error("@Flash/0x08000000/04*Kg", "sector size") ||
           expect_error("@Flash/0x08000000/04*016Kz", "type letter") ||
           expect_error("@Flash/0x08000000/04*016K", "type letter") ||
           expect_error("@Flash/0x08000000/04*016Q", "multiplier") ||
           expect_error("@Flash/0x08000000/00*016Kg", "empty segment") ||
           expect_error("@Flash/0x08000000/04*000Kg", "empty segment") ||
           expect_error("@Flash/0xFFFF0000/02*64Kg", "32-bit") ||
           expect_error("@Flash/0x08000000/99999999999*1Kg", "too large") ||
           expect_error("@Flash/0x08000000/04*016Kg,01*", "sector size");
}

static int test_find_total(void)
{
    struct dfu_layout l;
    struct dfu_err e;
    uint32_t start = 0, size = 0;
    uint8_t type = 0;

    T_OK(dfu_layout_parse("@Option Bytes  /0x1FFFC000/01*016 e/0x1FFEC000/01*016 e", &l, &e), e);
    T_EQ_INT(dfu_layout_total(&l), 32);
    T_EQ_INT(dfu_layout_find(&l, 0x1FFEC00F, &start, &size, &type), 0);
    T_EQ_INT(start, 0x1FFEC000);
    T_EQ_INT(dfu_layout_find(&l, 0x1FFEC010, NULL, NULL, NULL), DFU_E_RANGE);
    T_EQ_INT(dfu_layout_find(&l, 0x1FFFBFFF, NULL, NULL, NULL), DFU_E_RANGE);
    dfu_layout_free(&l);

    T_OK(dfu_layout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", &l, &e), e);
    T_EQ_INT(dfu_layout_total(&l), 1024 * K);
    T_EQ_INT(dfu_layout_find(&l, 0x08000000, &start, &size, &type), 0);
    T_EQ_INT(start, 0x08000000);
    T_EQ_INT(size, 16 * K);
    T_EQ_INT(type, DFU_MEM_READABLE | DFU_MEM_ERASABLE | DFU_MEM_WRITABLE);
    T_EQ_INT(dfu_layout_find(&l, 0x08004001, &start, &size, &type), 0);
    T_EQ_INT(start, 0x08004000);
    T_EQ_INT(dfu_layout_find(&l, 0x0801FFFF, &start, &size, &type), 0);
    T_EQ_INT(start, 0x08010000);
    T_EQ_INT(size, 64 * K);
    T_EQ_INT(dfu_layout_find(&l, 0x080FFFFF, &start, &size, &type), 0);
    T_EQ_INT(start, 0x080E0000);
    T_EQ_INT(size, 128 * K);
    T_EQ_INT(dfu_layout_find(&l, 0x08100000, &start, &size, &type), DFU_E_RANGE);
    T_EQ_INT(dfu_layout_find(&l, 0x07FFFFFF, &start, &size, &type), DFU_E_RANGE);
    dfu_layout_free(&l);
    dfu_layout_free(&l); /* idempotent */
    return 0;
}

/* Mutated real strings: never a crash or an out-of-bounds read (run under ASan in CI), and
 * every accepted layout is well formed. */
static int test_mutations(void)
{
    uint32_t x = 12345;
    char buf[160];

    for (unsigned iter = 0; iter < 200000; iter++) {
        const char *src = real[iter % (sizeof real / sizeof real[0])].s;
        size_t n = strlen(src);
        struct dfu_layout l;
        int rc;

        memcpy(buf, src, n + 1);
        for (int k = 0; k < 1 + (int)(iter % 4); k++) {
            x = x * 1103515245u + 12345u;
            size_t pos = (x >> 8) % (n + 1);
            x = x * 1103515245u + 12345u;
            switch ((x >> 16) % 4) {
            case 0: /* replace a byte */
                buf[pos < n ? pos : 0] = (char)(x >> 24 ? x >> 24 : '/');
                break;
            case 1: /* truncate */
                buf[pos] = '\0';
                n = pos;
                break;
            case 2: /* a digit somewhere */
                buf[pos < n ? pos : 0] = (char)('0' + (x >> 24) % 10);
                break;
            default: /* a separator somewhere */
                buf[pos < n ? pos : 0] = "/,*@ Kx"[(x >> 24) % 7];
                break;
            }
            n = strlen(buf);
        }
        rc = dfu_layout_parse(buf, &l, NULL);
        if (rc != 0) {
            T_EQ_INT(rc, DFU_E_FORMAT);
            T_ASSERT(l.runs == NULL && l.nruns == 0);
            continue;
        }
        T_ASSERT(l.nruns >= 1);
        for (size_t i = 0; i < l.nruns; i++) {
            T_ASSERT(l.runs[i].count > 0 && l.runs[i].size > 0);
            T_ASSERT((uint64_t)l.runs[i].addr + (uint64_t)l.runs[i].count * l.runs[i].size <=
                     0x100000000ull);
            T_ASSERT(l.runs[i].type <= 7);
        }
        dfu_layout_free(&l);
    }
    return 0;
}

static const struct t_case cases[] = {
    {"real_strings", test_real_strings}, {"forms", test_forms},         {"errors", test_errors},
    {"find_total", test_find_total},     {"mutations", test_mutations}, {NULL, NULL},
};
T_MAIN(cases)
