/*
 * DfuSe memory-layout strings (protocol.md 4.1):
 *   '@' name ( '/' 0xADDR '/' count '*' size multiplier type ( ',' ... )* )+
 * Counts and sizes of any digit count, multipliers ' ', 'B', 'K', 'M', type letters a-g
 * (letter & 7); a lone letter after the size is the type with byte units. Anything after the
 * last complete segment is ignored (custom bootloaders append junk, e.g. a BTT Octopus Pro
 * F429 appends UTF-16 garbage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu/layout.h"

struct parser {
    const char *s; /* whole string */
    const char *p; /* cursor */
    struct dfu_sector_run *runs;
    size_t n, cap;
    struct dfu_err *err;
};

static int fail(struct parser *ps, const char *fmt, const char *what)
{
    char buf[160];

    snprintf(buf, sizeof buf, fmt, what);
    return dfu_err_set(ps->err, DFU_E_FORMAT, "layout \"%.60s\": %s (at offset %ld)", ps->s, buf,
                       (long)(ps->p - ps->s));
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_type(char c)
{
    return (c >= 'a' && c <= 'g') || (c >= 'A' && c <= 'G');
}

static int parse_dec(struct parser *ps, uint64_t *v, const char *what)
{
    uint64_t x = 0;

    if (!is_digit(*ps->p))
        return fail(ps, "expected a decimal %s", what);
    while (is_digit(*ps->p)) {
        x = x * 10u + (uint64_t)(*ps->p - '0');
        if (x > 0xFFFFFFFFu)
            return fail(ps, "%s too large", what);
        ps->p++;
    }
    *v = x;
    return 0;
}

static int parse_addr(struct parser *ps, uint32_t *addr)
{
    uint64_t x = 0;
    int digits = 0;

    if (ps->p[0] != '0' || (ps->p[1] != 'x' && ps->p[1] != 'X'))
        return fail(ps, "expected a zone address \"0x...\"%s", "");
    ps->p += 2;
    for (;; ps->p++, digits++) {
        char c = *ps->p;
        unsigned d;

        if (is_digit(c))
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            break;
        x = x * 16u + d;
        if (x > 0xFFFFFFFFu)
            return fail(ps, "zone address too large%s", "");
    }
    if (digits == 0)
        return fail(ps, "expected hex digits after \"0x\"%s", "");
    *addr = (uint32_t)x;
    return 0;
}

static int add_run(struct parser *ps, uint32_t addr, uint32_t count, uint32_t size, uint8_t type)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        struct dfu_sector_run *r = realloc(ps->runs, cap * sizeof *r);

        if (r == NULL)
            return dfu_err_set(ps->err, DFU_E_NOMEM, "out of memory");
        ps->runs = r;
        ps->cap = cap;
    }
    ps->runs[ps->n].addr = addr;
    ps->runs[ps->n].count = count;
    ps->runs[ps->n].size = size;
    ps->runs[ps->n].type = type;
    ps->n++;
    return 0;
}

/* count '*' size multiplier type; advances *addr past the segment. */
static int parse_segment(struct parser *ps, uint64_t *addr)
{
    uint64_t count = 0, size = 0, mult = 1;
    uint8_t type;
    int rc;

    rc = parse_dec(ps, &count, "sector count");
    if (rc != 0)
        return rc;
    if (*ps->p != '*')
        return fail(ps, "expected '*' after the sector count%s", "");
    ps->p++;
    rc = parse_dec(ps, &size, "sector size");
    if (rc != 0)
        return rc;
    switch (*ps->p) {
    case 'K':
        mult = 1024u;
        ps->p++;
        break;
    case 'M':
        mult = 1024u * 1024u;
        ps->p++;
        break;
    case 'B':
        if (is_type(ps->p[1]))
            ps->p++; /* byte multiplier; else 'B' is the type letter itself */
        break;
    case ' ':
        ps->p++;
        break;
    default:
        if (is_type(*ps->p)) {
            /* A lone type letter right after the size: byte units. */
            break;
        }
        return fail(ps, "expected a multiplier (' ', B, K, M) or type letter after the size%s", "");
    }
    if (!is_type(*ps->p))
        return fail(ps, "expected a type letter a-g after the size%s", "");
    type = (uint8_t)(*ps->p & 7);
    ps->p++;
    if (count == 0 || size == 0)
        return fail(ps, "empty segment (count or size 0)%s", "");
    size *= mult;
    if (size > 0xFFFFFFFFu || count * size > 0x100000000ull - *addr)
        return fail(ps, "segment runs past the 32-bit address space%s", "");
    rc = add_run(ps, (uint32_t)*addr, (uint32_t)count, (uint32_t)size, type);
    *addr += count * size;
    return rc;
}

static int run_after(const char *p)
{
    return is_digit(*p);
}

int dfu_layout_parse(const char *s, struct dfu_layout *out, struct dfu_err *err)
{
    struct parser ps = {s, s, NULL, 0, 0, err};
    const char *name, *name_end;
    size_t nlen;
    int rc;

    memset(out, 0, sizeof *out);
    if (s == NULL || s[0] != '@')
        return dfu_err_set(err, DFU_E_FORMAT, "not a DfuSe layout (no leading '@'): \"%.60s\"",
                           s ? s : "");
    ps.p = s + 1;
    name = ps.p;
    while (*ps.p != '\0' && *ps.p != '/')
        ps.p++;
    name_end = ps.p;
    if (*ps.p != '/')
        return fail(&ps, "no zone after the name%s", "");
    while (name < name_end && (unsigned char)*name <= ' ')
        name++;
    while (name_end > name && (unsigned char)name_end[-1] <= ' ')
        name_end--;
    nlen = (size_t)(name_end - name);
    if (nlen >= sizeof out->name)
        nlen = sizeof out->name - 1;
    memcpy(out->name, name, nlen);
    out->name[nlen] = '\0';

    /* zones: '/' 0xADDR '/' segment (',' segment)* */
    while (*ps.p == '/') {
        uint32_t zone = 0;
        uint64_t addr;

        if (ps.n > 0 && (ps.p[1] != '0' || (ps.p[2] != 'x' && ps.p[2] != 'X')))
            break; /* trailing text after a complete zone */
        ps.p++;
        rc = parse_addr(&ps, &zone);
        if (rc != 0)
            goto fail;
        if (*ps.p != '/') {
            rc = fail(&ps, "expected '/' after the zone address%s", "");
            goto fail;
        }
        ps.p++;
        addr = zone;
        rc = parse_segment(&ps, &addr);
        if (rc != 0)
            goto fail;
        while (*ps.p == ',' && run_after(ps.p + 1)) {
            ps.p++;
            rc = parse_segment(&ps, &addr);
            if (rc != 0)
                goto fail;
        }
    }
    /* Whatever follows the last segment (padding, a stray ',', junk) is ignored. */

    if (strcmp(out->name, "Device Feature") == 0) {
        /* STM32F4 ROM V3.0 advertises Device Feature as 'g'; it is readable + writable only. */
        for (size_t i = 0; i < ps.n; i++)
            ps.runs[i].type = DFU_MEM_READABLE | DFU_MEM_WRITABLE;
    }
    out->runs = ps.runs;
    out->nruns = ps.n;
    return 0;

fail:
    free(ps.runs);
    memset(out, 0, sizeof *out);
    return rc;
}

void dfu_layout_free(struct dfu_layout *l)
{
    if (l == NULL)
        return;
    free(l->runs);
    l->runs = NULL;
    l->nruns = 0;
}

int dfu_layout_find(const struct dfu_layout *l, uint32_t addr, uint32_t *start, uint32_t *size,
                    uint8_t *type)
{
    for (size_t i = 0; i < l->nruns; i++) {
        const struct dfu_sector_run *r = &l->runs[i];
        uint64_t off = (uint64_t)addr - r->addr;

        if (addr < r->addr || off >= (uint64_t)r->count * r->size)
            continue;
        if (start != NULL)
            *start = r->addr + (uint32_t)(off / r->size) * r->size;
        if (size != NULL)
            *size = r->size;
        if (type != NULL)
            *type = r->type;
        return 0;
    }
    return DFU_E_RANGE;
}

uint64_t dfu_layout_total(const struct dfu_layout *l)
{
    uint64_t t = 0;

    for (size_t i = 0; i < l->nruns; i++)
        t += (uint64_t)l->runs[i].count * l->runs[i].size;
    return t;
}
