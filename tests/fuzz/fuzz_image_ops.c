/* libFuzzer: the image model against a flat reference memory. The input is a list of
 * operations (add, pad, fill); after each one the segments must equal the reference. */
#include "fuzz_common.h"

#define SPACE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mem[SPACE];
static uint8_t used[SPACE];

static void compare(const dfu_image *img)
{
    fuzz_check_sorted(img);
    size_t k = 0;
    for (uint32_t a = 0; a < SPACE;) {
        if (!used[a]) {
            a++;
            continue;
        }
        uint32_t b = a;
        while (b < SPACE && used[b])
            b++;
        const struct dfu_segment *s = dfu_image_segment(img, k++);
        FUZZ_CHECK(s != NULL && s->addr == a && s->size == b - a);
        FUZZ_CHECK(memcmp(s->data, mem + a, b - a) == 0);
        a = b;
    }
    FUZZ_CHECK(k == dfu_image_count(img));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dfu_image *img = dfu_image_new();
    struct dfu_err e;
    size_t i = 0;

    memset(mem, 0, sizeof mem);
    memset(used, 0, sizeof used);
    dfu_err_clear(&e);
    while (i + 4 <= size) {
        uint8_t op = data[i] & 7;
        uint32_t addr = (uint32_t)(data[i + 1] | data[i + 2] << 8) % SPACE;
        uint32_t len = data[i + 3] % 200;
        i += 4;
        if (op == 6) { /* pad to a power of two up to 64 */
            uint32_t align = 1u << (data[i - 1] % 7);
            dfu_image_pad(img, align, 0xFF, &e);
            int any = 0;
            for (uint32_t a = 0; a < SPACE; a += align) {
                int hit = 0;
                for (uint32_t j = a; j < a + align; j++)
                    hit |= used[j];
                if (hit)
                    for (uint32_t j = a; j < a + align; j++)
                        if (!used[j]) {
                            used[j] = 1;
                            mem[j] = 0xFF;
                        }
                any |= hit;
            }
            (void)any;
            compare(img);
            continue;
        }
        if (op == 7) { /* slice then merge back: no change */
            dfu_image *s = dfu_image_slice(img, addr, len * 16);
            FUZZ_CHECK(s != NULL);
            fuzz_check_sorted(s);
            FUZZ_CHECK(dfu_image_merge(img, s, &e) == 0);
            dfu_image_free(s);
            compare(img);
            continue;
        }
        if (len > size - i)
            len = (uint32_t)(size - i);
        if (addr + len > SPACE)
            len = SPACE - addr;
        const uint8_t *d = data + i;
        i += len;
        int conflict = 0;
        for (uint32_t j = 0; j < len; j++)
            if (used[addr + j] && mem[addr + j] != d[j])
                conflict = 1;
        int rc = dfu_image_add(img, addr, d, len, &e);
        FUZZ_CHECK(conflict ? rc == DFU_E_RANGE : rc == 0);
        if (!conflict)
            for (uint32_t j = 0; j < len; j++) {
                used[addr + j] = 1;
                mem[addr + j] = d[j];
            }
        compare(img);
    }
    dfu_image *c = dfu_image_clone(img);
    compare(c);
    dfu_image_free(c);
    dfu_image_free(img);
    return 0;
}
