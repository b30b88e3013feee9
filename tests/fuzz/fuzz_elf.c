/* libFuzzer: ELF reader (libelf underneath); loaded images must be well formed. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dfu_image *img = NULL;
    struct dfu_err e;

    dfu_err_clear(&e);
    int rc = dfu_image_parse_elf(data, size, "fuzz.elf", &img, &e);
    if (rc == 0) {
        FUZZ_CHECK(dfu_image_count(img) > 0);
        fuzz_check_sorted(img);
        dfu_image_free(img);
    } else {
        FUZZ_CHECK(img == NULL);
    }
    return 0;
}
