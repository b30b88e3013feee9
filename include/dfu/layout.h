/* DfuSe memory-layout strings: "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg". */
#ifndef DFU_LAYOUT_H
#define DFU_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "dfu/err.h"

/* Type letter bits (protocol.md 4.1): letter & 7. */
#define DFU_MEM_READABLE 1u
#define DFU_MEM_ERASABLE 2u
#define DFU_MEM_WRITABLE 4u

/* One run of equal sectors, expanded to absolute addresses. */
struct dfu_sector_run {
    uint32_t addr;  /* first sector */
    uint32_t count; /* number of sectors */
    uint32_t size;  /* bytes per sector */
    uint8_t type;   /* DFU_MEM_* mask */
};

struct dfu_layout {
    char name[128]; /* trimmed, e.g. "Internal Flash" */
    size_t nruns;
    struct dfu_sector_run *runs; /* sorted as in the string; zones are consecutive runs */
};

/** Parse @s (the iInterface string). Accepts several zones, any digit counts, space/B/K/M
 *  multipliers, and ignores trailing garbage after the last segment. On success fills @out
 *  (free with dfu_layout_free). */
int dfu_layout_parse(const char *s, struct dfu_layout *out, struct dfu_err *err);
void dfu_layout_free(struct dfu_layout *l);

/** Find the sector containing @addr. Returns 0 and fills the sector start/size/type, or
 *  DFU_E_RANGE when no sector contains it. */
int dfu_layout_find(const struct dfu_layout *l, uint32_t addr, uint32_t *start, uint32_t *size,
                    uint8_t *type);

/** Total bytes described. */
uint64_t dfu_layout_total(const struct dfu_layout *l);

#endif
