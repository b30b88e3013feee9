/* libFuzzer: DfuSe .dfu reader; whatever parses must survive a write/parse round trip. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dfu_image *img = NULL;
    struct dfu_err e;

    dfu_err_clear(&e);
    if (dfu_image_parse_dfuse(data, size, "fuzz.dfu", &img, &e) == 0) {
        FUZZ_CHECK(dfu_image_suffix(img) != NULL);
        for (size_t i = 0; i < dfu_image_target_count(img); i++)
            fuzz_check_sorted(dfu_image_target(img, i, NULL, NULL));
        fuzz_round_trip(img, DFU_FMT_DFUSE);
        dfu_image_free(img);
    } else {
        FUZZ_CHECK(img == NULL);
        FUZZ_CHECK(e.code != DFU_E_FORMAT || e.offset >= 0);
    }
    return 0;
}
