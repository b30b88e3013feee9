/* Helpers shared by the libFuzzer targets: comparisons that abort on a broken invariant. */
#ifndef DFU_FUZZ_COMMON_H
#define DFU_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu/image.h"

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Segments are sorted, non-empty, non-overlapping and not touching (coalesced). */
static inline void fuzz_check_sorted(const dfu_image *img)
{
    for (size_t i = 0; i < dfu_image_count(img); i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);
        FUZZ_CHECK(s->size > 0);
        FUZZ_CHECK((uint64_t)s->addr + s->size <= ((uint64_t)1 << 32));
        if (i > 0) {
            const struct dfu_segment *p = dfu_image_segment(img, i - 1);
            FUZZ_CHECK((uint64_t)p->addr + p->size < s->addr);
        }
    }
}

static inline void fuzz_check_same(const dfu_image *a, const dfu_image *b)
{
    FUZZ_CHECK(dfu_image_count(a) == dfu_image_count(b));
    for (size_t i = 0; i < dfu_image_count(a); i++) {
        const struct dfu_segment *x = dfu_image_segment(a, i), *y = dfu_image_segment(b, i);
        FUZZ_CHECK(x->addr == y->addr && x->size == y->size);
        FUZZ_CHECK(memcmp(x->data, y->data, x->size) == 0);
    }
}

/* A parsed image survives write + parse in @fmt unchanged (entry too, except for DfuSe). */
static inline void fuzz_round_trip(const dfu_image *img, enum dfu_format fmt)
{
    struct dfu_write_opts wo;
    struct dfu_err e;
    uint8_t *buf = NULL;
    size_t len = 0;
    dfu_image *back = NULL;
    int rc;

    fuzz_check_sorted(img);
    if (dfu_image_size(img) > (1u << 20))
        return; /* keep iterations fast */
    dfu_write_opts_init(&wo);
    dfu_err_clear(&e);
    FUZZ_CHECK(dfu_image_write(img, fmt, &wo, &buf, &len, &e) == 0);
    switch (fmt) {
    case DFU_FMT_IHEX:
        rc = dfu_image_parse_ihex(buf, len, "rt", &back, &e);
        break;
    case DFU_FMT_SREC:
        rc = dfu_image_parse_srec(buf, len, "rt", &back, &e);
        break;
    default:
        rc = dfu_image_parse_dfuse(buf, len, "rt", &back, &e);
        break;
    }
    if (rc != 0)
        fprintf(stderr, "round trip: %s\n", e.msg);
    FUZZ_CHECK(rc == 0);
    free(buf);
    if (fmt == DFU_FMT_DFUSE) {
        size_t nt = dfu_image_target_count(img);
        FUZZ_CHECK(dfu_image_target_count(back) == (nt ? nt : 1));
        for (size_t i = 0; i < nt; i++) {
            uint8_t a1, a2;
            fuzz_check_same(dfu_image_target(img, i, &a1, NULL),
                            dfu_image_target(back, i, &a2, NULL));
            FUZZ_CHECK(a1 == a2);
        }
    } else {
        FUZZ_CHECK(dfu_image_has_entry(back) == dfu_image_has_entry(img));
        FUZZ_CHECK(dfu_image_entry(back) == dfu_image_entry(img));
    }
    fuzz_check_same(img, back);
    dfu_image_free(back);
}

#endif
