/* Raw EP0 helpers for the simulator tests: control transfers straight into dfu_sim_control. */
#ifndef TEST_SIM_UTIL_H
#define TEST_SIM_UTIL_H

#include <stdlib.h>

#include "dfu/sim.h"
#include "t.h"

static struct dfu_err e_;

static inline dfu_sim *mk(const char *spec)
{
    dfu_sim *s = NULL;

    if (dfu_sim_new(spec, &s, &e_) != 0) {
        fprintf(stderr, "dfu_sim_new(%s): %s\n", spec, e_.msg);
        return NULL;
    }
    return s;
}

static inline int ctrl(dfu_sim *s, uint8_t rt, uint8_t rq, uint16_t wv, uint16_t wi, uint16_t wl,
                       uint8_t *data, size_t *n)
{
    struct dfu_ctrl c = {rt, rq, wv, wi, wl};
    uint8_t dummy[4096];
    size_t nn = 0;

    return dfu_sim_control(s, &c, data ? data : dummy, n ? n : &nn, 5000, &e_);
}

static inline int dnload(dfu_sim *s, uint16_t wv, const uint8_t *data, uint16_t len)
{
    uint8_t buf[4096];

    if (len)
        memcpy(buf, data, len);
    return ctrl(s, 0x21, 1, wv, 0, len, buf, NULL);
}

/* GETSTATUS; returns the transfer result, fills st[6]. */
static inline int getstatus(dfu_sim *s, uint8_t st[6])
{
    size_t n = 0;
    int rc = ctrl(s, 0xA1, 3, 0, 0, 6, st, &n);

    if (rc == 0 && n != 6)
        return -100;
    return rc;
}

static inline unsigned poll_of(const uint8_t st[6])
{
    return (unsigned)st[1] | (unsigned)st[2] << 8 | (unsigned)st[3] << 16;
}

static inline int getstate(dfu_sim *s)
{
    uint8_t b[1];
    size_t n = 0;
    int rc = ctrl(s, 0xA1, 5, 0, 0, 1, b, &n);

    return rc != 0 ? rc : b[0];
}

static inline int clrstatus(dfu_sim *s)
{
    return ctrl(s, 0x21, 4, 0, 0, 0, NULL, NULL);
}

static inline int abort_req(dfu_sim *s)
{
    return ctrl(s, 0x21, 6, 0, 0, 0, NULL, NULL);
}

static inline int upload(dfu_sim *s, uint16_t wv, uint8_t *buf, uint16_t wl, size_t *n)
{
    return ctrl(s, 0xA1, 2, wv, 0, wl, buf, n);
}

static inline int set_alt(dfu_sim *s, uint16_t alt)
{
    return ctrl(s, 0x01, 11, alt, 0, 0, NULL, NULL);
}

/* DNLOAD + GETSTATUS (must say dfuDNBUSY) + GETSTATUS. Returns the final bStatus (0 = OK and
 * dfuDNLOAD-IDLE), or a negative transfer error, or -200 if the first status was not DNBUSY. */
static inline int job(dfu_sim *s, uint16_t wv, const uint8_t *data, uint16_t len, unsigned *poll)
{
    uint8_t st[6];
    int rc = dnload(s, wv, data, len);

    if (rc != 0)
        return rc;
    rc = getstatus(s, st);
    if (rc != 0)
        return rc;
    if (st[4] != DFU_STATE_DNBUSY)
        return -200;
    if (poll != NULL)
        *poll = poll_of(st);
    rc = getstatus(s, st);
    if (rc != 0)
        return rc;
    if (st[0] == 0 && st[4] != DFU_STATE_DNLOAD_IDLE)
        return -201;
    if (st[0] != 0 && st[4] != DFU_STATE_ERROR)
        return -202;
    return st[0];
}

static inline int cmd5(dfu_sim *s, uint8_t c, uint32_t a)
{
    uint8_t b[5] = {c, (uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16), (uint8_t)(a >> 24)};

    return job(s, 0, b, 5, NULL);
}

static inline int set_address(dfu_sim *s, uint32_t a)
{
    return cmd5(s, 0x21, a);
}

static inline int erase_page(dfu_sim *s, uint32_t a)
{
    return cmd5(s, 0x41, a);
}

/* SET_ADDRESS + one block at wValue 2. */
static inline int write_at(dfu_sim *s, uint32_t a, const uint8_t *data, uint16_t len)
{
    int rc = set_address(s, a);

    return rc != 0 ? rc : job(s, 2, data, len, NULL);
}

/* SET_ADDRESS, ABORT, UPLOAD wValue 2. */
static inline int read_at(dfu_sim *s, uint32_t a, uint8_t *buf, uint16_t len, size_t *n)
{
    int rc = set_address(s, a);

    if (rc == 0)
        rc = abort_req(s);
    return rc != 0 ? rc : upload(s, 2, buf, len, n);
}

static inline int count_events(dfu_sim *s, const char *needle)
{
    int n = 0;

    for (size_t i = 0; i < dfu_sim_event_count(s); i++)
        if (strstr(dfu_sim_event(s, i), needle) != NULL)
            n++;
    return n;
}

static inline const char *last_event(dfu_sim *s, const char *needle)
{
    const char *r = NULL;

    for (size_t i = 0; i < dfu_sim_event_count(s); i++)
        if (strstr(dfu_sim_event(s, i), needle) != NULL)
            r = dfu_sim_event(s, i);
    return r;
}

#endif
