/*
 * The dfush simulator on a real USB bus: a Linux raw_gadget frontend that forwards every
 * EP0 SETUP to the project's device model (dfu_sim_control) and drives the bus side of what
 * the model does (leaving DFU, resets, re-enumeration as the ROM).
 *
 * Runs in the test VM (tests/usb/run) with dummy_hcd + raw_gadget loaded:
 *     gadget [-u DRIVER,DEVICE] [-w READYFILE] [-r] [-v] 'stm32h753,boot0=1,events=/tmp/ev.jsonl'
 *
 * With -r the device first enumerates as the chip's application with a DFU run-time
 * interface (0483:5740, same serial); DFU_DETACH hands over to the ROM.
 *
 * Time: the model's virtual clock follows the real clock scaled by DFUSH_USB_SCALE (default
 * 0.02): before each request the model is advanced by elapsed_real / scale; when answering
 * took the model virtual time (a request held while the chip is busy), the answer is delayed
 * by that time * scale. A device busy for 1.1 s of virtual time answers after 22 ms.
 *
 * Limits of raw_gadget in Linux 6.1: no bus reset / disconnect events reach the gadget, so a
 * host-side USB reset does not reset the model; and the data stage of an OUT request is read
 * before the model sees the request, so the gadget predicts the STALL of a DNLOAD from the DFU
 * state; a STALL the model decides otherwise (an injected stall fault on a DNLOAD with data)
 * cannot be sent: the host learns of the error from the next GETSTATUS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/usb/ch9.h>
#include <linux/usb/raw_gadget.h>

#include "dfu/sim.h"

#define EP0_MAX 4096 /* usbfs caps a control transfer at 4 KiB */
#define HOST_TIMEOUT_MS 5000u
#define OFFBUS_MIN_US 50000u /* long enough for the host to see the unplug */
#define TICK_US 50000u       /* clock/mode check while waiting for a SETUP */
#define SYNC_STEP_US 5000u   /* virtual time per model step when catching up */

static const char *udc_driver = "dummy_udc", *udc_device = "dummy_udc.0";
static const char *ready_file;
static int verbose;
static double scale = 0.02;
static int rg = -1;
static int enumerations;
static volatile sig_atomic_t stop;
static int left_rom;  /* the model left the ROM since the gadget last looked */
static int app_front; /* -r: serving the chip's application (DFU run-time) before DETACH */
static int app_detach;
static uint8_t app_serial[256]; /* the model's serial string descriptor, served as is */
static dfu_sim *sim;
static uint64_t last_real_us; /* real time the model's clock was last synchronised to */

static uint64_t real_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_us(uint64_t us)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop)
        ;
}

static void say(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "[gadget %9.3f v=%9.3f] ", (double)real_us() / 1e6,
            sim != NULL ? (double)dfu_sim_now_us(sim) / 1e6 : 0.0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void write_ready(const char *what)
{
    FILE *f;

    if (ready_file == NULL)
        return;
    f = fopen(ready_file, "w");
    if (f == NULL)
        return;
    fprintf(f, "%s %d\n", what, enumerations);
    fclose(f);
}

/*
 * Advance the model by the real time elapsed since the last sync, divided by the scale, in
 * small steps: a chip that resets and comes back within one sync interval must still be
 * seen leaving the bus. Returns 1 when the model left the ROM during the advance (the rest
 * of the elapsed time is left for the next sync).
 */
static int sync_clock(void)
{
    uint64_t now = real_us(), v;
    int was_rom = dfu_sim_mode(sim) == DFU_SIM_ROM;

    if (now <= last_real_us)
        return 0;
    v = (uint64_t)((double)(now - last_real_us) / scale);
    while (v > 0) {
        uint64_t step = v < SYNC_STEP_US ? v : SYNC_STEP_US;
        dfu_sim_advance(sim, step);
        v -= step;
        if (was_rom && dfu_sim_mode(sim) != DFU_SIM_ROM) {
            last_real_us = now - (uint64_t)((double)v * scale);
            return 1;
        }
    }
    last_real_us = now;
    return 0;
}

/* ---- raw_gadget ---- */

/* struct usb_raw_ep_io ends in a flexible array: keep the header and the data in one
 * suitably aligned buffer. */
struct ep0_buf {
    union {
        struct usb_raw_ep_io io;
        uint64_t align;
        uint8_t bytes[sizeof(struct usb_raw_ep_io) + EP0_MAX];
    } u;
};
#define EP0_IO(b) (&(b)->u.io)
#define EP0_DATA(b) ((b)->u.io.data)

static int connect_bus(void)
{
    struct usb_raw_init init;

    rg = open("/dev/raw-gadget", O_RDWR);
    if (rg < 0) {
        say("open /dev/raw-gadget: %s (is raw_gadget loaded?)", strerror(errno));
        return -1;
    }
    memset(&init, 0, sizeof init);
    snprintf((char *)init.driver_name, UDC_NAME_LENGTH_MAX, "%s", udc_driver);
    snprintf((char *)init.device_name, UDC_NAME_LENGTH_MAX, "%s", udc_device);
    init.speed = USB_SPEED_FULL; /* STM32 ROMs are full-speed devices */
    if (ioctl(rg, USB_RAW_IOCTL_INIT, &init) < 0 || ioctl(rg, USB_RAW_IOCTL_RUN, 0) < 0) {
        say("raw_gadget init/run on %s: %s", udc_device, strerror(errno));
        close(rg);
        rg = -1;
        return -1;
    }
    say("on the bus (%s)", udc_device);
    return 0;
}

/* Closing the raw_gadget file unbinds the gadget: the pull-up goes away and the host sees
 * an unplug, as when the chip resets or jumps to the application. */
static void disconnect_bus(const char *why)
{
    if (rg < 0)
        return;
    close(rg);
    rg = -1;
    say("off the bus (%s)", why);
    write_ready("gone");
}

static void ep0_stall(void)
{
    if (ioctl(rg, USB_RAW_IOCTL_EP0_STALL, 0) < 0)
        say("ep0 stall: %s", strerror(errno));
}

static void ep0_ack(void)
{
    struct usb_raw_ep_io io;

    memset(&io, 0, sizeof io);
    if (ioctl(rg, USB_RAW_IOCTL_EP0_READ, &io) < 0)
        say("ep0 status stage: %s", strerror(errno));
}

static void ep0_in(struct ep0_buf *b, size_t len, uint16_t wLength)
{
    EP0_IO(b)->ep = 0;
    EP0_IO(b)->length = (uint32_t)len;
    /* a short answer whose length is a multiple of the packet size needs a ZLP */
    EP0_IO(b)->flags = len < wLength ? USB_RAW_IO_FLAGS_ZERO : 0;
    if (ioctl(rg, USB_RAW_IOCTL_EP0_WRITE, EP0_IO(b)) < 0) /* returns once the host has it */
        say("ep0 IN (%zu bytes): %s", len, strerror(errno));
}

static int ep0_out_data(struct ep0_buf *b, uint16_t wLength)
{
    int r;

    EP0_IO(b)->ep = 0;
    EP0_IO(b)->flags = 0;
    EP0_IO(b)->length = wLength;
    r = ioctl(rg, USB_RAW_IOCTL_EP0_READ, EP0_IO(b));
    if (r < 0)
        say("ep0 OUT data: %s", strerror(errno));
    return r;
}

/* ---- one SETUP ---- */

static const char *mode_name(enum dfu_sim_mode m)
{
    switch (m) {
    case DFU_SIM_ROM:
        return "rom";
    case DFU_SIM_GONE:
        return "gone";
    case DFU_SIM_APP:
        return "app";
    case DFU_SIM_HANG:
        return "hang";
    }
    return "?";
}

static void handle_setup(const struct usb_ctrlrequest *s)
{
    static struct ep0_buf b;
    struct dfu_ctrl req;
    struct dfu_err err;
    size_t len = 0;
    uint64_t v0, dv;
    int in = (s->bRequestType & USB_DIR_IN) != 0, rc, stall_out = 0;
    unsigned timeout_ms = (unsigned)((double)HOST_TIMEOUT_MS / scale);

    req.bmRequestType = s->bRequestType;
    req.bRequest = s->bRequest;
    req.wValue = s->wValue;
    req.wIndex = s->wIndex;
    req.wLength = s->wLength;
    if (req.wLength > EP0_MAX) {
        ep0_stall();
        return;
    }
    if ((s->bRequestType & USB_TYPE_MASK) == USB_TYPE_STANDARD &&
        s->bRequest == USB_REQ_SET_CONFIGURATION && (s->wValue & 0xff) != 0) {
        if (ioctl(rg, USB_RAW_IOCTL_VBUS_DRAW, 50) < 0 || ioctl(rg, USB_RAW_IOCTL_CONFIGURE, 0) < 0)
            say("configure: %s", strerror(errno));
    }
    if (sync_clock()) {
        /* the chip reset itself before this request arrived: it is not there to answer */
        left_rom = 1;
        return;
    }
    if (!in && req.wLength > 0) {
        /* A STALL has to be decided before the data stage is read. The DFU state machine
         * stalls DNLOAD outside dfuIDLE / dfuDNLOAD-IDLE whatever the data; such a request
         * reaches the model with zeroed data (it only changes state) and is stalled here. */
        uint8_t st = dfu_sim_dfu_state(sim);
        if ((s->bRequestType & USB_TYPE_MASK) == USB_TYPE_CLASS && s->bRequest == 1 &&
            st != DFU_STATE_IDLE && st != DFU_STATE_DNLOAD_IDLE) {
            stall_out = 1;
            memset(EP0_DATA(&b), 0, req.wLength);
        } else if (ep0_out_data(&b, req.wLength) < 0) {
            return;
        }
    }
    dfu_err_clear(&err);
    v0 = dfu_sim_now_us(sim);
    rc = dfu_sim_control(sim, &req, EP0_DATA(&b), &len, timeout_ms, &err);
    dv = dfu_sim_now_us(sim) - v0;
    if (verbose)
        say("SETUP %02x %02x %04x %04x %u -> %s len %zu (+%.3f ms virtual)", s->bRequestType,
            s->bRequest, s->wValue, s->wIndex, s->wLength, rc == 0 ? "ok" : dfu_err_name(rc), len,
            (double)dv / 1000.0);
    /* the model was busy for dv: hold the answer for the scaled time */
    if (dv > 0) {
        sleep_us((uint64_t)((double)dv * scale));
        last_real_us = real_us();
    }

    if ((s->bRequestType & USB_TYPE_MASK) == USB_TYPE_STANDARD &&
        s->bRequest == USB_REQ_SET_CONFIGURATION) {
        /* the configuration is the gadget's as much as the model's: always accept it */
        ep0_ack();
        if ((s->wValue & 0xff) != 0) {
            enumerations++;
            say("configured by the host (enumeration %d)", enumerations);
            write_ready("rom");
        }
        return;
    }
    if (stall_out) {
        if (rc == 0)
            say("the model accepted a DNLOAD in a state that stalls it");
        ep0_stall();
        return;
    }
    switch (rc) {
    case 0:
        if (in)
            ep0_in(&b, len, req.wLength);
        else if (req.wLength == 0)
            ep0_ack();
        /* an OUT data stage was completed when it was read */
        break;
    case DFU_E_NO_DEVICE:
        /* the model dropped off the bus in the middle of the request: say nothing */
        disconnect_bus("device disconnected during a request");
        break;
    default:
        /* PIPE, and a request the model held beyond the host's timeout */
        if (in || req.wLength == 0)
            ep0_stall();
        else
            say("cannot STALL an OUT request after its data stage (%s)", dfu_err_name(rc));
        break;
    }
}

/* ---- the application in front of the ROM (-r) ---- */

/* Copy the model's serial string descriptor: the application reports the same serial as the
 * ROM, as STM32 applications that use the chip's unique ID do. */
static void app_fetch_serial(void)
{
    struct dfu_ctrl req = {0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_DEVICE << 8, 0, 18};
    uint8_t dd[18];
    size_t n = 0;

    if (dfu_sim_control(sim, &req, dd, &n, 1000, NULL) != 0 || n < 18 || dd[16] == 0)
        return;
    req.wValue = (uint16_t)(USB_DT_STRING << 8 | dd[16]);
    req.wIndex = 0x0409;
    req.wLength = sizeof app_serial;
    if (dfu_sim_control(sim, &req, app_serial, &n, 1000, NULL) != 0 || n < 2)
        app_serial[0] = 0;
}

static size_t app_string(uint8_t *d, unsigned idx)
{
    static const char *const str[] = {NULL, "STMicroelectronics", "Emulated STM32 application",
                                      NULL, "DFU run-time"};
    size_t n = 2;
    const char *t;

    if (idx == 0) {
        d[0] = 4;
        d[1] = USB_DT_STRING;
        d[2] = 0x09; /* en-US */
        d[3] = 0x04;
        return 4;
    }
    if (idx == 3 && app_serial[0] >= 2) {
        memcpy(d, app_serial, app_serial[0]);
        return app_serial[0];
    }
    if (idx >= sizeof str / sizeof str[0] || str[idx] == NULL)
        return 0;
    for (t = str[idx]; *t != '\0' && n < 254; t++) {
        d[n++] = (uint8_t)*t;
        d[n++] = 0;
    }
    d[0] = (uint8_t)n;
    d[1] = USB_DT_STRING;
    return n;
}

/*
 * The chip's application: 0483:5740 with one DFU run-time interface (protocol 1) whose
 * functional descriptor sets bitWillDetach, so on DFU_DETACH the device leaves the bus by
 * itself and comes back as the ROM (the model). No host bus reset is needed: raw_gadget in
 * Linux 6.1 could not see one.
 */
static void app_setup(const struct usb_ctrlrequest *s)
{
    static const uint8_t dev[18] = {18,   USB_DT_DEVICE, 0x00, 0x02, 0,    0, 0, 64, 0x83,
                                    0x04, 0x40,          0x57, 0x00, 0x02, 1, 2, 3,  1};
    static const uint8_t cfg[27] = {9,
                                    USB_DT_CONFIG,
                                    27,
                                    0,
                                    1,
                                    1,
                                    0,
                                    0xC0,
                                    50,
                                    9,
                                    USB_DT_INTERFACE,
                                    0,
                                    0,
                                    0,
                                    0xFE,
                                    0x01,
                                    0x01,
                                    4,
                                    9,
                                    0x21,
                                    0x0B,
                                    0xFF,
                                    0x00,
                                    0x00,
                                    0x04,
                                    0x10,
                                    0x01};
    static struct ep0_buf b;
    uint8_t *d = EP0_DATA(&b);
    size_t n = 0;
    unsigned type = s->bRequestType & USB_TYPE_MASK;
    int in = (s->bRequestType & USB_DIR_IN) != 0;

    if (type == USB_TYPE_STANDARD && in && s->bRequest == USB_REQ_GET_DESCRIPTOR) {
        switch (s->wValue >> 8) {
        case USB_DT_DEVICE:
            memcpy(d, dev, n = sizeof dev);
            break;
        case USB_DT_CONFIG:
            memcpy(d, cfg, n = sizeof cfg);
            break;
        case USB_DT_STRING:
            n = app_string(d, s->wValue & 0xff);
            break;
        }
        if (n == 0) {
            ep0_stall();
            return;
        }
        ep0_in(&b, n < s->wLength ? n : s->wLength, s->wLength);
        return;
    }
    if (type == USB_TYPE_STANDARD && !in && s->bRequest == USB_REQ_SET_CONFIGURATION) {
        if ((s->wValue & 0xff) != 0 && (ioctl(rg, USB_RAW_IOCTL_VBUS_DRAW, 50) < 0 ||
                                        ioctl(rg, USB_RAW_IOCTL_CONFIGURE, 0) < 0))
            say("configure: %s", strerror(errno));
        ep0_ack();
        if ((s->wValue & 0xff) != 0) {
            enumerations++;
            say("application configured by the host (enumeration %d)", enumerations);
            write_ready("app");
        }
        return;
    }
    if (type == USB_TYPE_STANDARD && !in && s->bRequest == USB_REQ_SET_INTERFACE) {
        ep0_ack();
        return;
    }
    if (type == USB_TYPE_CLASS && s->wIndex == 0) {
        switch (s->bRequest) {
        case 3: /* DFU_GETSTATUS: OK, appIDLE */
            if (!in)
                break;
            memset(d, 0, 6);
            ep0_in(&b, 6 < s->wLength ? 6 : s->wLength, s->wLength);
            return;
        case 5: /* DFU_GETSTATE: appIDLE */
            if (!in)
                break;
            d[0] = 0;
            ep0_in(&b, 1, s->wLength);
            return;
        case 0: /* DFU_DETACH */
            if (in || s->wLength != 0)
                break;
            ep0_ack();
            say("DFU_DETACH (wDetachTimeOut %u ms): the application hands over to the ROM",
                s->wValue);
            app_detach = 1;
            return;
        }
    }
    ep0_stall();
}

/* ---- main loop ---- */

static void on_signal(int sig)
{
    if (sig != SIGALRM)
        stop = 1;
}

/* One-shot timer that interrupts the blocking EVENT_FETCH so the loop can follow the
 * model's clock; armed only around EVENT_FETCH (an interrupted ep0 transfer is lost). */
static void arm_tick(unsigned us)
{
    struct itimerval it;

    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = (suseconds_t)us;
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Off the bus: wait until the model is back in the ROM, keeping its clock in step. */
static int wait_offbus(void)
{
    uint64_t since = real_us();

    while (!stop) {
        enum dfu_sim_mode m;
        uint64_t at, now;

        (void)sync_clock();
        m = dfu_sim_mode(sim);
        at = dfu_sim_reenumerate_at(sim);
        if (m == DFU_SIM_ROM && real_us() - since >= OFFBUS_MIN_US)
            return 0;
        now = dfu_sim_now_us(sim);
        if (m != DFU_SIM_ROM && at > now) {
            uint64_t wait = (uint64_t)((double)(at - now) * scale);
            sleep_us(wait < TICK_US ? wait + 1 : TICK_US);
        } else {
            sleep_us(TICK_US / 5);
        }
    }
    return -1;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-u DRIVER,DEVICE] [-w READYFILE] [-s SCALE] [-r] [-v] "
            "PROFILE[,key=value...]\n",
            argv0);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    struct dfu_err err;
    const char *env;
    int c, rc = 0;

    while ((c = getopt(argc, argv, "u:w:s:rv")) != -1) {
        char *comma;
        switch (c) {
        case 'u':
            udc_driver = optarg;
            comma = strchr(optarg, ',');
            if (comma != NULL) {
                *comma = '\0';
                udc_device = comma + 1;
            }
            break;
        case 'w':
            ready_file = optarg;
            break;
        case 's':
            scale = atof(optarg);
            break;
        case 'r':
            app_front = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(argv[0]);
        return 2;
    }
    env = getenv("DFUSH_USB_SCALE");
    if (env != NULL && *env != '\0')
        scale = atof(env);
    if (!(scale > 0.0) || scale > 1000.0) {
        fprintf(stderr, "bad time scale %g\n", scale);
        return 2;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    dfu_err_clear(&err);
    if (dfu_sim_new(argv[optind], &sim, &err) != 0) {
        fprintf(stderr, "gadget: %s: %s\n", argv[optind], err.msg);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: EVENT_FETCH returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    say("serving %s (profile %s), time scale %g", argv[optind], dfu_sim_profile(sim), scale);
    if (app_front)
        app_fetch_serial();
    last_real_us = real_us();

    while (!stop) {
        union {
            struct usb_raw_event ev;
            uint8_t bytes[sizeof(struct usb_raw_event) + sizeof(struct usb_ctrlrequest)];
        } e;
        struct usb_ctrlrequest ctrl;
        enum dfu_sim_mode m;
        int r;

        if (sync_clock())
            left_rom = 1;
        if (app_detach) {
            app_detach = 0;
            app_front = 0;
            sleep_us(20000);
            disconnect_bus("detach");
            sleep_us(OFFBUS_MIN_US);
            continue;
        }
        m = dfu_sim_mode(sim);
        if (!app_front && (m != DFU_SIM_ROM || left_rom)) {
            left_rom = 0;
            if (rg >= 0) {
                /* let the status stage of the last request settle on the host */
                sleep_us(20000);
                disconnect_bus(m == DFU_SIM_ROM ? "reset" : mode_name(m));
            }
            if (wait_offbus() != 0)
                break;
            continue;
        }
        if (rg < 0 && connect_bus() != 0) {
            rc = 1;
            break;
        }
        memset(&e, 0, sizeof e);
        e.ev.length = sizeof ctrl;
        arm_tick(TICK_US);
        r = ioctl(rg, USB_RAW_IOCTL_EVENT_FETCH, &e);
        arm_tick(0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            say("event fetch: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (e.ev.type == USB_RAW_EVENT_CONTROL && app_front) {
            memcpy(&ctrl, e.ev.data, sizeof ctrl);
            app_setup(&ctrl);
        } else if (e.ev.type == USB_RAW_EVENT_CONTROL) {
            memcpy(&ctrl, e.ev.data, sizeof ctrl);
            handle_setup(&ctrl);
            if (dfu_sim_mode(sim) != DFU_SIM_ROM)
                left_rom = 1;
        } else if (verbose)
            say("raw_gadget event %u", e.ev.type);
    }
    disconnect_bus("exit");
    say("exit; model mode %s", mode_name(dfu_sim_mode(sim)));
    dfu_sim_free(sim);
    return rc;
}
