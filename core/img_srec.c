/*
 * Motorola S-record reader: S0 header, S1/S2/S3 data with 16/24/32-bit addresses, S5/S6 record
 * counts (checked), S7/S8/S9 termination with the entry point. Any record order.
 */
#include <string.h>

#include "img_internal.h"

int dfui_srec_pass(struct dfui_text *t, const char *name, int collect, dfu_image **out,
                   struct dfu_err *err)
{
    struct dfui_sink sink;
    const unsigned char *ls, *s, *q;
    unsigned line = 0;
    int terminated = 0, has_entry = 0;
    uint32_t entry = 0;
    unsigned long ndata = 0, nrec = 0;
    uint8_t b[256];
    int rc;

    rc = dfui_sink_init(&sink, collect, err);
    if (rc != 0)
        goto fail;
    while ((rc = dfui_text_record(t, &ls, &s, &q, err)) == 1) {
        line = t->line;
        if (terminated) {
            rc = dfui_err_line(err, name, line, "record after the termination record");
            goto fail;
        }
        if (*s != 'S' && *s != 's') {
            rc =
                dfui_err_line(err, name, line, "record does not start with 'S' (found 0x%02x)", *s);
            goto fail;
        }
        if (q - s < 2 || s[1] < '0' || s[1] > '9') {
            rc = dfui_err_line(err, name, line, "missing record type digit after 'S'");
            goto fail;
        }
        int type = s[1] - '0';
        s += 2;
        nrec++;
        size_t nchars = (size_t)(q - s);
        if (nchars < 4 || nchars % 2 != 0) {
            rc = dfui_err_line(err, name, line, "record has %zu hex digits after the type", nchars);
            goto fail;
        }
        size_t nbytes = nchars / 2;
        rc = dfui_hex_record(err, name, line, ls, s, nbytes, b, sizeof b);
        if (rc != 0)
            goto fail;
        unsigned count = b[0];
        if (count != nbytes - 1) {
            rc = dfui_err_line(err, name, line, "count field says %u bytes but the record has %zu",
                               count, nbytes - 1);
            goto fail;
        }
        unsigned sum = 0;
        for (size_t i = 0; i + 1 < nbytes; i++)
            sum += b[i];
        uint8_t want = (uint8_t)~sum;
        if (b[nbytes - 1] != want) {
            rc = dfui_err_line(err, name, line, "checksum 0x%02x, expected 0x%02x", b[nbytes - 1],
                               want);
            goto fail;
        }
        static const unsigned alen_of[10] = {2, 2, 3, 4, 0, 2, 3, 4, 3, 2};
        if (type == 4) {
            rc = dfui_err_line(err, name, line, "S4 is a reserved record type");
            goto fail;
        }
        unsigned alen = alen_of[type];
        if (count < alen + 1) {
            rc = dfui_err_line(err, name, line, "S%d record needs a %u-byte address", type, alen);
            goto fail;
        }
        uint32_t a = 0;
        for (unsigned i = 0; i < alen; i++)
            a = a << 8 | b[1 + i];
        const uint8_t *d = b + 1 + alen;
        unsigned dlen = count - alen - 1;
        switch (type) {
        case 0:
            break; /* header: free text, not part of the image */
        case 1:
        case 2:
        case 3:
            if ((uint64_t)a + dlen > ((uint64_t)1 << 32)) {
                rc = dfui_err_line(err, name, line, "data runs past the 4 GiB address space");
                goto fail;
            }
            ndata++;
            if (dlen > 0) {
                rc = dfui_sink_put(&sink, a, d, dlen, line, name, err);
                if (rc != 0)
                    goto fail;
            }
            break;
        case 5:
        case 6:
            if (dlen != 0) {
                rc = dfui_err_line(err, name, line, "S%d count record has %u data bytes", type,
                                   dlen);
                goto fail;
            }
            if (a != ndata) {
                rc = dfui_err_line(err, name, line,
                                   "S%d record count %lu, but %lu data records precede it", type,
                                   (unsigned long)a, ndata);
                goto fail;
            }
            break;
        default: /* 7, 8, 9 */
            if (dlen != 0) {
                rc = dfui_err_line(err, name, line, "S%d termination record has %u data bytes",
                                   type, dlen);
                goto fail;
            }
            /* Address 0 is how writers (ours, objcopy) terminate a file that has no start
             * address; a Cortex-M image never starts there. */
            entry = a;
            has_entry = a != 0;
            terminated = 1;
            break;
        }
    }
    if (rc == 0 && nrec == 0)
        rc = dfui_err_line(err, name, line ? line : 1, "no records");
fail:
    return dfui_sink_finish(&sink, rc, name, DFU_FMT_SREC, has_entry, entry, out, err);
}

int dfu_image_parse_srec(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                         struct dfu_err *err)
{
    return dfui_parse_text_mem(buf, len, name, dfui_srec_pass, out, err);
}

/* "S<type><count><address+data><checksum>" from @body (address and data). */
static void put_srec(struct dfui_buf *b, char type, const uint8_t *body, size_t n)
{
    size_t chars = 2 + 2 * (n + 2) + 1;
    uint8_t *p = dfui_buf_room(b, chars);
    if (p == NULL)
        return;
    unsigned sum = (unsigned)(n + 1);
    *p++ = 'S';
    *p++ = (uint8_t)type;
    p = dfui_put_hex(p, (unsigned)(n + 1));
    for (size_t i = 0; i < n; i++) {
        sum += body[i];
        p = dfui_put_hex(p, body[i]);
    }
    p = dfui_put_hex(p, ~sum & 0xFF);
    *p = '\n';
    b->n += chars;
}

void dfui_emit_srec(const dfu_image *img, unsigned recsize, struct dfui_buf *b)
{
    uint8_t body[4 + 250];
    unsigned long nrec = 0;

    if (recsize == 0 || recsize > 250)
        recsize = 16;
    static const uint8_t hdr[] = {0, 0, 'd', 'f', 'u', 's', 'h'};
    put_srec(b, '0', hdr, sizeof hdr);
    for (size_t i = 0; i < dfu_image_count(img); i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);
        uint64_t a = s->addr, e = (uint64_t)s->addr + s->size;
        const uint8_t *d = s->data;
        while (a < e && !b->oom && !b->fail) {
            uint64_t n = e - a < recsize ? e - a : recsize;
            dfui_put32(body, 0);
            body[0] = (uint8_t)(a >> 24);
            body[1] = (uint8_t)(a >> 16);
            body[2] = (uint8_t)(a >> 8);
            body[3] = (uint8_t)a;
            memcpy(body + 4, d, (size_t)n);
            put_srec(b, '3', body, 4 + (size_t)n);
            nrec++;
            a += n;
            d += n;
        }
    }
    if (nrec <= 0xFFFF) {
        uint8_t c[2] = {(uint8_t)(nrec >> 8), (uint8_t)nrec};
        put_srec(b, '5', c, 2);
    } else if (nrec <= 0xFFFFFF) {
        uint8_t c[3] = {(uint8_t)(nrec >> 16), (uint8_t)(nrec >> 8), (uint8_t)nrec};
        put_srec(b, '6', c, 3);
    }
    /* Always terminate (S7); with no entry point its address is 0. */
    uint32_t en = dfu_image_has_entry(img) ? dfu_image_entry(img) : 0;
    uint8_t r[4] = {(uint8_t)(en >> 24), (uint8_t)(en >> 16), (uint8_t)(en >> 8), (uint8_t)en};
    put_srec(b, '7', r, 4);
}

int dfu_image_write_srec(const dfu_image *img, uint8_t **out, size_t *outlen, struct dfu_err *err)
{
    struct dfui_buf b = {0};
    dfui_emit_srec(img, 16, &b);
    return dfui_buf_finish(&b, 0, out, outlen, err);
}
