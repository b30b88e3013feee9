/* libFuzzer: Intel HEX reader; whatever parses must survive a write/parse round trip. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dfu_image *img = NULL;
    struct dfu_err e;

    dfu_err_clear(&e);
    if (dfu_image_parse_ihex(data, size, "fuzz.hex", &img, &e) == 0) {
        fuzz_round_trip(img, DFU_FMT_IHEX);
        dfu_image_free(img);
    } else {
        FUZZ_CHECK(img == NULL);
        FUZZ_CHECK(e.code == DFU_E_FORMAT || e.code == DFU_E_NOMEM);
        FUZZ_CHECK(e.code != DFU_E_FORMAT || e.line > 0 || e.offset >= 0);
    }
    return 0;
}
