/*
 * dfu_dev_detach_and_reopen over real USB, run in the test VM by suite.sh:
 *     usb-detach-check DEVSTRING
 * Opens the run-time device, detaches it, and reads the flash through the DFU-mode device
 * that comes back in its place.
 */
#include <stdio.h>

#include "dfu/device.h"

int main(int argc, char **argv)
{
    const struct dfu_devinfo *in;
    struct dfu_err err;
    dfu_dev *d = NULL;
    uint8_t buf[64];

    dfu_err_clear(&err);
    if (dfu_open(argc > 1 ? argv[1] : "usb", &d, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    in = dfu_dev_info(d);
    printf("opened %04x:%04x at %s, protocol %u, serial %s\n", in->vid, in->pid, in->path,
           in->protocol, in->serial);
    if (in->protocol != 1) {
        fprintf(stderr, "not a run-time mode device\n");
        dfu_dev_close(d);
        return 1;
    }
    if (dfu_dev_detach_and_reopen(&d, 10000, &err) != 0) {
        fprintf(stderr, "detach: %s\n", err.msg);
        return 1;
    }
    in = dfu_dev_info(d);
    printf("now %04x:%04x at %s, protocol %u, serial %s, alt 0 \"%s\"\n", in->vid, in->pid,
           in->path, in->protocol, in->serial, in->alt_name);
    if (in->protocol != 2 || dfu_abort_to_idle(d, &err) != 0 ||
        dfuse_read(d, 0x08000000, buf, sizeof buf, NULL, &err) != 0) {
        fprintf(stderr, "DFU mode device: %s\n", in->protocol != 2 ? "wrong protocol" : err.msg);
        dfu_dev_close(d);
        return 1;
    }
    printf("read %zu bytes at 0x08000000 in DFU mode\n", sizeof buf);
    dfu_dev_close(d);
    return 0;
}
