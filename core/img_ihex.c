/*
 * Intel HEX reader: record types 00-05, CR/LF or LF line ends, upper or lower case digits, any
 * record order. Every check has its own message naming the line. Extended address records (02,
 * 04) must have the address field 0000, and start address records (03, 05) may repeat only with
 * the same address.
 */
#include <string.h>

#include "img_internal.h"

/* Hex digit values, -1 for anything else. */
const signed char dfui_hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
}; /* stored +1 so that the zero default means "not a digit" */

long dfui_hex_decode(const unsigned char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = dfui_hexval[s[2 * i]], lo = dfui_hexval[s[2 * i + 1]];
        if (hi == 0 || lo == 0)
            return (long)(hi == 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return -1;
}

int dfui_hex_record(struct dfu_err *err, const char *name, unsigned line, const unsigned char *ls,
                    const unsigned char *s, size_t nbytes, uint8_t *out, size_t cap)
{
    if (nbytes > cap)
        return dfui_err_line(err, name, line, "record too long (%zu bytes)", nbytes);
    long bad = dfui_hex_decode(s, nbytes, out);
    if (bad >= 0)
        return dfui_err_line(err, name, line, "invalid hex digit '%c' at column %ld",
                             s[bad] >= 0x20 && s[bad] < 0x7F ? s[bad] : '?',
                             (long)(s - ls) + bad + 1);
    return 0;
}

int dfui_ihex_pass(struct dfui_text *t, const char *name, int collect, dfu_image **out,
                   struct dfu_err *err)
{
    struct dfui_sink sink;
    const unsigned char *ls, *s, *q;
    unsigned line = 0;
    uint32_t base = 0;
    int seen_eof = 0, has_entry = 0;
    uint32_t entry = 0;
    unsigned entry_line = 0;
    uint8_t b[5 + 255];
    int rc;

    rc = dfui_sink_init(&sink, collect, err);
    if (rc != 0)
        goto fail;
    while ((rc = dfui_text_record(t, &ls, &s, &q, err)) == 1) {
        line = t->line;
        if (seen_eof) {
            rc = dfui_err_line(err, name, line, "data after the end-of-file record");
            goto fail;
        }
        if (*s != ':') {
            rc =
                dfui_err_line(err, name, line, "record does not start with ':' (found 0x%02x)", *s);
            goto fail;
        }
        s++;
        size_t nchars = (size_t)(q - s);
        if (nchars < 10) {
            rc = dfui_err_line(err, name, line, "record too short (%zu characters after ':')",
                               nchars);
            goto fail;
        }
        if (nchars % 2 != 0) {
            rc = dfui_err_line(err, name, line, "odd number of hex digits (%zu)", nchars);
            goto fail;
        }
        size_t nbytes = nchars / 2;
        rc = dfui_hex_record(err, name, line, ls, s, nbytes, b, sizeof b);
        if (rc != 0)
            goto fail;
        unsigned ll = b[0];
        if (nbytes != ll + 5u) {
            rc = dfui_err_line(err, name, line,
                               "length field says %u data bytes but the record has %zu", ll,
                               nbytes >= 5 ? nbytes - 5 : 0);
            goto fail;
        }
        unsigned sum = 0;
        for (size_t i = 0; i + 1 < nbytes; i++)
            sum += b[i];
        uint8_t want = (uint8_t)(0x100 - (sum & 0xFF));
        if (b[nbytes - 1] != want) {
            rc = dfui_err_line(err, name, line, "checksum 0x%02x, expected 0x%02x", b[nbytes - 1],
                               want);
            goto fail;
        }
        uint16_t off = (uint16_t)(b[1] << 8 | b[2]);
        uint8_t type = b[3];
        const uint8_t *d = b + 4;
        switch (type) {
        case 0x00: {
            uint64_t a = (uint64_t)base + off;
            if (a + ll > ((uint64_t)1 << 32)) {
                rc = dfui_err_line(err, name, line, "data runs past the 4 GiB address space");
                goto fail;
            }
            if (ll > 0) {
                rc = dfui_sink_put(&sink, (uint32_t)a, d, ll, line, name, err);
                if (rc != 0)
                    goto fail;
            }
            break;
        }
        case 0x01:
            if (ll != 0) {
                rc = dfui_err_line(err, name, line, "end-of-file record with %u data bytes", ll);
                goto fail;
            }
            seen_eof = 1;
            break;
        case 0x02:
        case 0x04:
            if (ll != 2) {
                rc = dfui_err_line(err, name, line, "type %02X record needs 2 data bytes, has %u",
                                   type, ll);
                goto fail;
            }
            if (off != 0) {
                rc = dfui_err_line(err, name, line,
                                   "type %02X record with address field %04X (must be 0000)", type,
                                   off);
                goto fail;
            }
            base = (uint32_t)(d[0] << 8 | d[1]) << (type == 0x02 ? 4 : 16);
            break;
        case 0x03:
        case 0x05: {
            if (ll != 4) {
                rc = dfui_err_line(err, name, line, "type %02X record needs 4 data bytes, has %u",
                                   type, ll);
                goto fail;
            }
            uint32_t a;
            if (type == 0x03) /* CS:IP, real-mode segment:offset */
                a = ((uint32_t)(d[0] << 8 | d[1]) << 4) + (uint32_t)(d[2] << 8 | d[3]);
            else
                a = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
            /* a repeat that agrees is harmless; two different entry points are a broken file */
            if (has_entry && a != entry) {
                rc = dfui_err_line(err, name, line,
                                   "start address 0x%08x disagrees with the one on line %u "
                                   "(0x%08x)",
                                   (unsigned)a, entry_line, (unsigned)entry);
                goto fail;
            }
            if (!has_entry)
                entry_line = line;
            entry = a;
            has_entry = 1;
            break;
        }
        default:
            rc = dfui_err_line(err, name, line, "unknown record type 0x%02x", type);
            goto fail;
        }
    }
    if (rc == 0 && !seen_eof)
        rc = dfui_err_line(err, name, line ? line : 1, "missing end-of-file record (type 01)");
fail:
    return dfui_sink_finish(&sink, rc, name, DFU_FMT_IHEX, has_entry, entry, out, err);
}

int dfu_image_parse_ihex(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                         struct dfu_err *err)
{
    return dfui_parse_text_mem(buf, len, name, dfui_ihex_pass, out, err);
}

/* One ":LLAAAATT...CC" line from @rec (length, address, type, data). */
static void put_hex_record(struct dfui_buf *b, const uint8_t *rec, size_t n)
{
    uint8_t *p = dfui_buf_room(b, 1 + 2 * (n + 1) + 1);
    if (p == NULL)
        return;
    unsigned sum = 0;
    *p++ = ':';
    for (size_t i = 0; i < n; i++) {
        sum += rec[i];
        p = dfui_put_hex(p, rec[i]);
    }
    p = dfui_put_hex(p, (0x100 - (sum & 0xFF)) & 0xFF);
    *p = '\n';
    b->n += 1 + 2 * (n + 1) + 1;
}

void dfui_emit_ihex(const dfu_image *img, unsigned recsize, struct dfui_buf *b)
{
    uint8_t rec[4 + 255];
    long upper = -1;

    if (recsize == 0 || recsize > 255)
        recsize = 16;
    for (size_t i = 0; i < dfu_image_count(img); i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);
        uint64_t a = s->addr, e = (uint64_t)s->addr + s->size;
        const uint8_t *d = s->data;
        while (a < e && !b->oom && !b->fail) {
            if ((long)(a >> 16) != upper) {
                upper = (long)(a >> 16);
                uint8_t r[6] = {2, 0, 0, 4, (uint8_t)(upper >> 8), (uint8_t)upper};
                put_hex_record(b, r, 6);
            }
            /* records never cross a 64 KiB boundary: the offset field is 16 bits */
            uint64_t n = 0x10000 - (a & 0xFFFF);
            if (n > recsize)
                n = recsize;
            if (n > e - a)
                n = e - a;
            rec[0] = (uint8_t)n;
            rec[1] = (uint8_t)(a >> 8);
            rec[2] = (uint8_t)a;
            rec[3] = 0;
            memcpy(rec + 4, d, (size_t)n);
            put_hex_record(b, rec, 4 + (size_t)n);
            a += n;
            d += n;
        }
    }
    if (dfu_image_has_entry(img)) {
        uint32_t en = dfu_image_entry(img);
        uint8_t r[8] = {
            4, 0, 0, 5, (uint8_t)(en >> 24), (uint8_t)(en >> 16), (uint8_t)(en >> 8), (uint8_t)en};
        put_hex_record(b, r, 8);
    }
    uint8_t eof[4] = {0, 0, 0, 1};
    put_hex_record(b, eof, 4);
}

int dfu_image_write_ihex(const dfu_image *img, uint8_t **out, size_t *outlen, struct dfu_err *err)
{
    struct dfui_buf b = {0};
    dfui_emit_ihex(img, 16, &b);
    return dfui_buf_finish(&b, 0, out, outlen, err);
}
