/* libFuzzer: raw binary with an optional DFU suffix, at an address taken from the input (so
 * the 4 GiB limit is reached too), then written back as a .bin with a suffix. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dfu_image *img = NULL;
    struct dfu_err e;
    uint32_t base = 0x08000000;

    if (size > 0 && data[0] == 0xFF)
        base = 0xFFFFFFFFu - (uint32_t)size + 2; /* one byte too far for the whole buffer */
    dfu_err_clear(&e);
    if (dfu_image_parse_bin(data, size, base, "fuzz.bin", &img, &e) != 0) {
        FUZZ_CHECK(img == NULL);
        return 0;
    }
    fuzz_check_sorted(img);
    const struct dfu_suffix *s = dfu_image_suffix(img);
    FUZZ_CHECK(dfu_image_size(img) == size - (s ? s->length : 0));
    struct dfu_write_opts wo;
    dfu_write_opts_init(&wo);
    wo.suffix = 1;
    if (s != NULL) {
        wo.vid = s->vid;
        wo.pid = s->pid;
        wo.bcd_device = s->bcd_device;
    }
    uint8_t *buf;
    size_t len;
    FUZZ_CHECK(dfu_image_write_bin(img, &wo, &buf, &len, &e) == 0);
    dfu_image *back = NULL;
    FUZZ_CHECK(dfu_image_parse_bin(buf, len, base, "rt.bin", &back, &e) == 0);
    FUZZ_CHECK(dfu_image_suffix(back) != NULL);
    fuzz_check_same(img, back);
    free(buf);
    dfu_image_free(back);
    dfu_image_free(img);
    return 0;
}
