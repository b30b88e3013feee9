/* The image model: add/coalesce/overlap, merge, slice, clone, fill, pad, sectors, CRC. */
#include <stdlib.h>
#include <string.h>

#include "dfu/image.h"
#include "t.h"

static const uint8_t *pattern(uint32_t addr, size_t n)
{
    static uint8_t buf[1 << 16];
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)((addr + i) * 7 + ((addr + i) >> 8));
    return buf;
}

static int add_pat(dfu_image *img, uint32_t addr, size_t n, struct dfu_err *e)
{
    return dfu_image_add(img, addr, pattern(addr, n), n, e);
}

/* Segment @i is [addr, addr+size) and holds the pattern. */
static int seg_is(const dfu_image *img, size_t i, uint32_t addr, uint32_t size)
{
    const struct dfu_segment *s = dfu_image_segment(img, i);
    T_ASSERT(s != NULL);
    T_EQ_INT(s->addr, addr);
    T_EQ_INT(s->size, size);
    T_EQ_MEM(s->data, pattern(addr, size), size);
    return 0;
}

static int test_crc32(void)
{
    T_EQ_INT(dfu_crc32(0, "123456789", 9), 0xCBF43926u);
    T_EQ_INT(dfu_crc32(0, "", 0), 0);
    /* incremental equals one shot */
    uint32_t c = dfu_crc32(0, "12345", 5);
    T_EQ_INT(dfu_crc32(c, "6789", 4), 0xCBF43926u);
    return 0;
}

static int test_add_coalesce(void)
{
    struct dfu_err e;
    dfu_image *img = dfu_image_new();
    dfu_err_clear(&e);
    T_OK(add_pat(img, 0x1000, 16, &e), e);
    T_OK(add_pat(img, 0x1010, 16, &e), e); /* append */
    T_OK(add_pat(img, 0x2000, 8, &e), e);  /* new segment after */
    T_OK(add_pat(img, 0x0800, 8, &e), e);  /* new segment before */
    T_EQ_INT(dfu_image_count(img), 3);
    T_OK(add_pat(img, 0x0FF0, 16, &e), e); /* prepend, touches 0x1000 */
    T_EQ_INT(dfu_image_count(img), 3);
    if (seg_is(img, 1, 0x0FF0, 48))
        return 1;
    T_OK(add_pat(img, 0x0808, 0x1000 - 0x808 - 0x10, &e), e); /* bridges 0x808..0xFF0 */
    T_EQ_INT(dfu_image_count(img), 2);
    if (seg_is(img, 0, 0x0800, 0x1020 - 0x800) || seg_is(img, 1, 0x2000, 8))
        return 1;
    /* identical overlap is fine, and spanning several segments coalesces them */
    T_OK(add_pat(img, 0x1010, 0x1000, &e), e);
    T_EQ_INT(dfu_image_count(img), 1);
    if (seg_is(img, 0, 0x0800, 0x2010 - 0x800))
        return 1;
    T_EQ_INT(dfu_image_size(img), 0x2010 - 0x800);
    /* empty add is a no-op */
    T_OK(dfu_image_add(img, 0x9000, NULL, 0, &e), e);
    T_EQ_INT(dfu_image_count(img), 1);
    dfu_image_free(img);
    return 0;
}

static int test_overlap_disagrees(void)
{
    struct dfu_err e;
    dfu_image *img = dfu_image_new();
    dfu_err_clear(&e);
    T_OK(add_pat(img, 0x08000000, 64, &e), e);
    uint8_t bad[16];
    memcpy(bad, pattern(0x08000020, 16), 16);
    bad[5] ^= 0xFF;
    T_EQ_INT(dfu_image_add(img, 0x08000020, bad, 16, &e), DFU_E_RANGE);
    T_ASSERT(strstr(e.msg, "0x08000025") != NULL);
    T_ASSERT(e.has_addr && e.addr == 0x08000025);
    /* the image is unchanged */
    T_EQ_INT(dfu_image_count(img), 1);
    if (seg_is(img, 0, 0x08000000, 64))
        return 1;
    /* past the 4 GiB boundary */
    T_EQ_INT(dfu_image_add(img, 0xFFFFFFF0u, pattern(0, 32), 32, &e), DFU_E_RANGE);
    T_OK(dfu_image_add(img, 0xFFFFFFF0u, pattern(0xFFFFFFF0u, 16), 16, &e), e);
    dfu_image_free(img);
    return 0;
}

/* Records in reverse and in shuffled order produce the same image as in-order records. */
static int test_any_order(void)
{
    struct dfu_err e;
    dfu_image *a = dfu_image_new(), *b = dfu_image_new();
    dfu_err_clear(&e);
    for (uint32_t i = 0; i < 512; i++)
        T_OK(add_pat(a, 0x100 + i * 16, 16, &e), e);
    for (uint32_t i = 0; i < 512; i++) {
        uint32_t k = (i * 167) % 512; /* a permutation */
        T_OK(add_pat(b, 0x100 + k * 16, 16, &e), e);
    }
    T_EQ_INT(dfu_image_count(a), 1);
    T_EQ_INT(dfu_image_count(b), 1);
    if (seg_is(b, 0, 0x100, 512 * 16))
        return 1;
    dfu_image_free(a);
    dfu_image_free(b);
    return 0;
}

static int test_clone_merge_slice(void)
{
    struct dfu_err e;
    dfu_image *a = dfu_image_new(), *b = dfu_image_new();
    dfu_err_clear(&e);
    T_OK(add_pat(a, 0x100, 0x100, &e), e);
    T_OK(add_pat(a, 0x400, 0x100, &e), e);
    dfu_image_set_entry(a, 1, 0x101);
    dfu_image_set_format(a, DFU_FMT_IHEX);
    T_OK(add_pat(b, 0x200, 0x200, &e), e);
    T_OK(dfu_image_add_target(b, 1, "Option Bytes", dfu_image_new(), &e), e);

    dfu_image *c = dfu_image_clone(a);
    T_ASSERT(c != NULL);
    T_EQ_INT(dfu_image_format(c), DFU_FMT_IHEX);
    T_EQ_INT(dfu_image_entry(c), 0x101);
    T_OK(dfu_image_merge(c, b, &e), e);
    T_EQ_INT(dfu_image_count(c), 1);
    if (seg_is(c, 0, 0x100, 0x400))
        return 1;
    T_EQ_INT(dfu_image_target_count(c), 1);
    uint8_t alt;
    const char *name;
    T_ASSERT(dfu_image_target(c, 0, &alt, &name) != NULL);
    T_EQ_INT(alt, 1);
    T_EQ_STR(name, "Option Bytes");
    /* the source is untouched */
    T_EQ_INT(dfu_image_count(a), 2);

    dfu_image *s = dfu_image_slice(c, 0x180, 0x100);
    T_EQ_INT(dfu_image_count(s), 1);
    if (seg_is(s, 0, 0x180, 0x100))
        return 1;
    dfu_image_free(s);
    s = dfu_image_slice(a, 0x180, 0x300); /* spans the gap */
    T_EQ_INT(dfu_image_count(s), 2);
    if (seg_is(s, 0, 0x180, 0x80) || seg_is(s, 1, 0x400, 0x80))
        return 1;
    dfu_image_free(s);
    s = dfu_image_slice(a, 0x300, 0x100); /* only the gap */
    T_EQ_INT(dfu_image_count(s), 0);
    dfu_image_free(s);

    /* merging conflicting data fails */
    dfu_image *d = dfu_image_new();
    uint8_t x = 0x42 ^ pattern(0x150, 1)[0];
    T_OK(dfu_image_add(d, 0x150, &x, 1, &e), e);
    T_EQ_INT(dfu_image_merge(d, a, &e), DFU_E_RANGE);
    dfu_image_free(d);
    dfu_image_free(a);
    dfu_image_free(b);
    dfu_image_free(c);
    return 0;
}

static int test_fill_gaps(void)
{
    struct dfu_err e;
    dfu_image *a = dfu_image_new();
    dfu_err_clear(&e);
    T_OK(add_pat(a, 0x100, 0x10, &e), e);
    T_OK(add_pat(a, 0x200, 0x10, &e), e);
    T_OK(dfu_image_fill_gaps(a, 0xFF, &e), e);
    T_EQ_INT(dfu_image_count(a), 1);
    const struct dfu_segment *s = dfu_image_segment(a, 0);
    T_EQ_INT(s->addr, 0x100);
    T_EQ_INT(s->size, 0x110);
    T_EQ_MEM(s->data, pattern(0x100, 0x10), 0x10);
    T_EQ_INT(s->data[0x10], 0xFF);
    T_EQ_INT(s->data[0xFF], 0xFF);
    T_EQ_MEM(s->data + 0x100, pattern(0x200, 0x10), 0x10);
    dfu_image_free(a);
    return 0;
}

/* STM32H7: 32-byte flash words are programmed once, so two pieces in one word must be one
 * write. */
static int test_pad_flash_word(void)
{
    struct dfu_err e;
    dfu_image *a = dfu_image_new();
    dfu_err_clear(&e);
    T_OK(add_pat(a, 0x08000004, 4, &e), e);  /* word 0x08000000 */
    T_OK(add_pat(a, 0x08000018, 12, &e), e); /* same word, and spills into the next */
    T_OK(add_pat(a, 0x08000100, 32, &e), e); /* aligned already */
    T_OK(add_pat(a, 0x0800013F, 1, &e), e);  /* last byte of the next word */
    T_EQ_INT(dfu_image_count(a), 4);
    T_OK(dfu_image_pad(a, 32, 0xFF, &e), e);
    T_EQ_INT(dfu_image_count(a), 2);
    const struct dfu_segment *s = dfu_image_segment(a, 0);
    T_EQ_INT(s->addr, 0x08000000);
    T_EQ_INT(s->size, 64);
    T_EQ_INT(s->data[0], 0xFF);
    T_EQ_MEM(s->data + 4, pattern(0x08000004, 4), 4);
    T_EQ_INT(s->data[8], 0xFF);
    T_EQ_MEM(s->data + 0x18, pattern(0x08000018, 12), 12);
    T_EQ_INT(s->data[0x24], 0xFF);
    s = dfu_image_segment(a, 1);
    T_EQ_INT(s->addr, 0x08000100);
    T_EQ_INT(s->size, 64);
    T_EQ_MEM(s->data, pattern(0x08000100, 32), 32);
    T_EQ_INT(s->data[0x20], 0xFF);
    T_EQ_INT(s->data[0x3F], pattern(0x0800013F, 1)[0]);
    /* padding to 1 changes nothing */
    T_OK(dfu_image_pad(a, 1, 0, &e), e);
    T_EQ_INT(dfu_image_count(a), 2);
    dfu_image_free(a);
    return 0;
}

struct sect_log {
    uint32_t start[32], size[32];
    uint8_t type[32];
    int n;
};

static int log_sector(void *ud, uint32_t start, uint32_t size, uint8_t type)
{
    struct sect_log *l = ud;
    if (l->n < 32) {
        l->start[l->n] = start;
        l->size[l->n] = size;
        l->type[l->n] = type;
    }
    l->n++;
    return 0;
}

static int stop_at_two(void *ud, uint32_t start, uint32_t size, uint8_t type)
{
    (void)start;
    (void)size;
    (void)type;
    return ++*(int *)ud == 2 ? 99 : 0;
}

static int test_sectors(void)
{
    /* F4: @Internal Flash /0x08000000/04*016Kg,01*064Kg,07*128Kg, written out by hand */
    struct dfu_sector_run runs[] = {
        {0x08000000, 4, 16 * 1024, 7},
        {0x08010000, 1, 64 * 1024, 7},
        {0x08020000, 7, 128 * 1024, 7},
    };
    struct dfu_layout l = {"Internal Flash", 3, runs};
    struct dfu_err e;
    struct sect_log log = {{0}, {0}, {0}, 0};
    dfu_image *a = dfu_image_new();
    dfu_err_clear(&e);
    T_OK(add_pat(a, 0x08000000, 100, &e), e);    /* sector 0 */
    T_OK(add_pat(a, 0x08003F00, 0x200, &e), e);  /* end of 0, start of 1 */
    T_OK(add_pat(a, 0x08007000, 16, &e), e);     /* sector 1 again: not repeated */
    T_OK(add_pat(a, 0x0800FFF0, 0x20, &e), e);   /* 3 and the 64K sector */
    T_OK(add_pat(a, 0x08040000 - 8, 16, &e), e); /* 128K sectors 5 and 6 */
    T_OK(dfu_image_sectors(a, &l, log_sector, &log, &e), e);
    T_EQ_INT(log.n, 6);
    uint32_t want[] = {0x08000000, 0x08004000, 0x0800C000, 0x08010000, 0x08020000, 0x08040000};
    for (int i = 0; i < 6; i++)
        T_EQ_INT(log.start[i], want[i]);
    T_EQ_INT(log.size[3], 64 * 1024);
    T_EQ_INT(log.size[5], 128 * 1024);
    T_EQ_INT(log.type[0], 7);
    /* the callback can stop the walk */
    int count = 0;
    T_EQ_INT(dfu_image_sectors(a, &l, stop_at_two, &count, &e), 99);
    /* a byte past the layout is a RANGE error naming it */
    T_OK(add_pat(a, 0x08100000 - 4, 8, &e), e);
    log.n = 0;
    T_EQ_INT(dfu_image_sectors(a, &l, log_sector, &log, &e), DFU_E_RANGE);
    T_ASSERT(strstr(e.msg, "0x08100000") != NULL);
    T_EQ_INT(e.addr, 0x08100000);
    dfu_image_free(a);
    return 0;
}

/* Appending 130k records (a 2 MiB HEX file) must be fast: the append path is O(1) per byte. */
static int test_many_records(void)
{
    struct dfu_err e;
    dfu_image *a = dfu_image_new();
    uint8_t rec[16];
    dfu_err_clear(&e);
    memset(rec, 0x5A, sizeof rec);
    for (uint32_t i = 0; i < 131072; i++)
        T_OK(dfu_image_add(a, 0x08000000 + i * 16, rec, 16, &e), e);
    T_EQ_INT(dfu_image_count(a), 1);
    T_EQ_INT(dfu_image_size(a), 2 * 1024 * 1024);
    dfu_image_free(a);
    return 0;
}

static int test_names_and_ext(void)
{
    T_EQ_STR(dfu_format_name(DFU_FMT_ELF), "elf");
    T_EQ_STR(dfu_format_name(DFU_FMT_IHEX), "ihex");
    T_EQ_STR(dfu_format_name(DFU_FMT_SREC), "srec");
    T_EQ_STR(dfu_format_name(DFU_FMT_DFUSE), "dfuse");
    T_EQ_STR(dfu_format_name(DFU_FMT_BIN), "bin");
    T_EQ_INT(dfu_format_from_ext("a/b.HEX"), DFU_FMT_IHEX);
    T_EQ_INT(dfu_format_from_ext("x.s19"), DFU_FMT_SREC);
    T_EQ_INT(dfu_format_from_ext("x.srec"), DFU_FMT_SREC);
    T_EQ_INT(dfu_format_from_ext("x.dfu"), DFU_FMT_DFUSE);
    T_EQ_INT(dfu_format_from_ext("x.bin"), DFU_FMT_BIN);
    T_EQ_INT(dfu_format_from_ext("x.elf"), DFU_FMT_UNKNOWN);
    T_EQ_INT(dfu_format_from_ext("dir.hex/x"), DFU_FMT_UNKNOWN);
    /* detection looks at content only */
    T_EQ_INT(dfu_image_detect((const uint8_t *)":020000040800F2\n", 16), DFU_FMT_IHEX);
    T_EQ_INT(dfu_image_detect((const uint8_t *)"\r\n S00600004844521B", 19), DFU_FMT_SREC);
    T_EQ_INT(dfu_image_detect((const uint8_t *)":)binary", 8), DFU_FMT_BIN);
    T_EQ_INT(dfu_image_detect((const uint8_t *)"DfuSe\x01", 6), DFU_FMT_DFUSE);
    T_EQ_INT(dfu_image_detect((const uint8_t *)"\x7f"
                                               "ELF",
                              4),
             DFU_FMT_ELF);
    return 0;
}

static int test_write_bin_gap_warning(void)
{
    struct dfu_err e;
    struct dfu_write_opts wo;
    uint8_t *out;
    size_t len;
    dfu_image *a = dfu_image_new();
    dfu_err_clear(&e);
    dfu_write_opts_init(&wo);
    T_OK(add_pat(a, 0x08000000, 16, &e), e);
    T_OK(add_pat(a, 0x08000000 + 16 + 0x10000, 16, &e), e); /* gap exactly 64 KiB: no warning */
    T_OK(dfu_image_write_bin(a, &wo, &out, &len, &e), e);
    T_EQ_INT(len, 32 + 0x10000);
    T_EQ_STR(wo.warning, "");
    T_EQ_INT(out[16], 0xFF);
    free(out);
    wo.gap_warn = 0x1000;
    T_OK(dfu_image_write_bin(a, &wo, &out, &len, &e), e);
    T_ASSERT(strstr(wo.warning, "65536") != NULL);
    T_ASSERT(strstr(wo.warning, "0x08000010") != NULL);
    free(out);
    dfu_image_free(a);
    return 0;
}

static const struct t_case cases[] = {
    {"crc32", test_crc32},
    {"add_coalesce", test_add_coalesce},
    {"overlap_disagrees", test_overlap_disagrees},
    {"any_order", test_any_order},
    {"clone_merge_slice", test_clone_merge_slice},
    {"fill_gaps", test_fill_gaps},
    {"pad_flash_word", test_pad_flash_word},
    {"sectors", test_sectors},
    {"many_records", test_many_records},
    {"names_and_ext", test_names_and_ext},
    {"write_bin_gap_warning", test_write_bin_gap_warning},
    {NULL, NULL},
};
T_MAIN(cases)
