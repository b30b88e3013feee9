/* libFuzzer: DfuSe layout strings (dfu_layout_parse on a NUL-terminated copy), then the sectors
 * an image spanning the layout touches. */
#include "dfu/layout.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_sector(void *ud, uint32_t start, uint32_t size, uint8_t type)
{
    uint32_t *last = ud;
    (void)type;
    FUZZ_CHECK(size > 0);
    FUZZ_CHECK(last[1] == 0 || start > last[0]); /* strictly increasing */
    last[0] = start;
    last[1] = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct dfu_layout l;
    struct dfu_err e;

    memcpy(s, data, size);
    s[size] = '\0';
    dfu_err_clear(&e);
    memset(&l, 0, sizeof l);
    if (dfu_layout_parse(s, &l, &e) == 0) {
        (void)dfu_layout_total(&l);
        dfu_image *img = dfu_image_new();
        uint8_t b[4] = {1, 2, 3, 4};
        for (size_t i = 0; i < l.nruns && i < 8; i++) {
            uint32_t start, sz;
            uint8_t type;
            if (dfu_layout_find(&l, l.runs[i].addr, &start, &sz, &type) == 0) {
                FUZZ_CHECK(start <= l.runs[i].addr);
                FUZZ_CHECK((uint64_t)start + sz > l.runs[i].addr);
            }
            (void)dfu_image_add(img, l.runs[i].addr, b, sizeof b, NULL);
        }
        uint32_t last[2] = {0, 0};
        (void)dfu_image_sectors(img, &l, count_sector, last, &e);
        dfu_image_free(img);
        dfu_layout_free(&l);
    }
    free(s);
    return 0;
}
