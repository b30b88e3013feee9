/* The one wait point: every wait of a device's requests goes through its waiter when one is
 * installed (dfu_dev_set_waiter), and nowhere else. */
#include <stdint.h>

#include "dfu/device.h"
#include "dfu/transport.h"
#include "t.h"

struct calls {
    int n;
    uint64_t total_us;
};

/* A waiter that keeps count and lets the time pass the way the transport would. */
static void counting_wait(void *ud, struct dfu_transport *t, uint64_t until_us)
{
    struct calls *c = ud;
    uint64_t now = dfu_transport_now_us(t);

    c->n++;
    if (until_us > now) {
        c->total_us += until_us - now;
        t->ops->sleep_us(t, until_us - now);
    }
}

static int test_poll_waits_go_through_the_waiter(void)
{
    struct dfu_err e;
    dfu_dev *d = NULL;
    struct calls c = {0, 0};

    dfu_err_clear(&e);
    T_OK(dfu_open("sim:stm32f405", &d, &e), e);
    /* spec polling: the host sleeps each reported bwPollTimeout (100 ms on the F405 ROM) */
    dfu_dev_set_poll(d, DFU_POLL_SPEC);
    dfu_dev_set_waiter(d, counting_wait, &c);
    T_OK(dfuse_erase_page(d, 0x08000000, &e), e);
    T_ASSERT(c.n >= 1);
    T_ASSERT(c.total_us >= 100000);
    /* without the waiter the same wait happens, and the waiter sees nothing */
    dfu_dev_set_waiter(d, NULL, NULL);
    int before = c.n;
    T_OK(dfuse_erase_page(d, 0x08004000, &e), e);
    T_EQ_INT(c.n, before);
    dfu_dev_close(d);
    return 0;
}

static const struct t_case cases[] = {
    {"poll_waits_go_through_the_waiter", test_poll_waits_go_through_the_waiter},
    {NULL, NULL},
};
T_MAIN(cases)
