/* libFuzzer: USB descriptor walkers (configuration descriptor, functional descriptor, string
 * descriptor). */
#include <stdlib.h>
#include <string.h>

#include "dfu/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dfu_desc_alt alts[8];
    struct dfu_func_desc func;
    struct dfu_err e;
    size_t n = 0;
    char str[128];

    /* an exact-size copy so that any read past the end is caught */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    dfu_err_clear(&e);
    memset(&func, 0, sizeof func);
    if (dfu_desc_parse_config(copy, size, alts, 8, &n, &func, &e) == 0 && n > 8)
        abort(); /* more alternate settings reported than there is room for */
    (void)dfu_desc_find_functional(copy, size, &func);
    (void)dfu_desc_string(copy, size, str, sizeof str);
    (void)dfu_desc_string(copy, size, str, 3);
    free(copy);
    return 0;
}
