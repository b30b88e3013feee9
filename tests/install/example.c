/*
 * A program built against an installed libdfush (tests/install/run): load an image, open a
 * device and list its alternate settings.
 *   example IMAGE DEVICE      e.g. example h7_seed.elf sim:stm32h753
 */
#include <stdio.h>

#include <dfu/device.h>
#include <dfu/image.h>

int main(int argc, char **argv)
{
    struct dfu_err err;
    dfu_image *img = NULL;
    dfu_dev *dev = NULL;
    const struct dfu_alt *alts;
    size_t nalts;

    if (argc != 3) {
        fprintf(stderr, "usage: example IMAGE DEVICE\n");
        return 2;
    }
    dfu_err_clear(&err);
    if (dfu_image_load(argv[1], NULL, &img, &err) != 0) {
        fprintf(stderr, "example: %s\n", err.msg);
        return 1;
    }
    printf("%s: %s, %zu segment(s), %llu bytes, first at 0x%08x\n", argv[1],
           dfu_format_name(dfu_image_format(img)), dfu_image_count(img),
           (unsigned long long)dfu_image_size(img), (unsigned)dfu_image_segment(img, 0)->addr);
    dfu_image_free(img);
    if (dfu_open(argv[2], &dev, &err) != 0) {
        fprintf(stderr, "example: %s: %s (%s)\n", argv[2], err.msg, dfu_err_name(err.code));
        return 1;
    }
    printf("%s: %04x:%04x\n", argv[2], dfu_dev_info(dev)->vid, dfu_dev_info(dev)->pid);
    alts = dfu_dev_alts(dev, &nalts);
    for (size_t i = 0; i < nalts; i++)
        printf("alt %u %s\n", alts[i].alt, alts[i].name);
    dfu_dev_close(dev);
    return 0;
}
