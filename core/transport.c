/* Transport helpers: optional-op defaults and the real clock. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>

#include "dfu/transport.h"

uint64_t dfu_clock_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void dfu_clock_sleep_us(uint64_t us)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint64_t dfu_transport_now_us(struct dfu_transport *t)
{
    if (t->ops->now_us != NULL)
        return t->ops->now_us(t);
    return dfu_clock_now_us();
}

void dfu_transport_sleep_us(struct dfu_transport *t, uint64_t us)
{
    if (t->waiter.wait != NULL)
        t->waiter.wait(t->waiter.ud, t, dfu_transport_now_us(t) + us);
    else if (t->ops->sleep_us != NULL)
        t->ops->sleep_us(t, us);
    else
        dfu_clock_sleep_us(us);
}

int dfu_transport_reset(struct dfu_transport *t, struct dfu_err *err)
{
    if (t->ops->reset == NULL)
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "%s transport cannot reset the device",
                           t->ops->name);
    return t->ops->reset(t, err);
}

int dfu_transport_wait_reenumerate(struct dfu_transport *t, unsigned timeout_ms,
                                   struct dfu_err *err)
{
    if (t->ops->wait_reenumerate == NULL)
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "%s transport cannot wait for re-enumeration",
                           t->ops->name);
    return t->ops->wait_reenumerate(t, timeout_ms, err);
}
