/*
 * dfu_image_save() replaces the destination atomically: a failed write (here a file size limit,
 * as on a full disk) leaves the old file as it was and no temporary file behind; a good write
 * replaces it whole, with the permissions a plain fopen() would give a new file.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfu/image.h"
#include "t.h"

static const char OLD[] = "old contents, must survive\n";

static int make_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/dfush-save-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static void rm_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[1024];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in @dir other than . and .., and whether one of them is not @only. */
static int dir_entries(const char *dir, const char *only, int *others)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    *others = 0;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        if (strcmp(de->d_name, only) != 0) {
            fprintf(stderr, "unexpected entry: %s\n", de->d_name);
            (*others)++;
        }
    }
    closedir(d);
    return n;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *b = malloc(1 << 20);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

/* An image whose HEX text is several KiB. */
static dfu_image *big_image(void)
{
    static uint8_t data[4096];
    struct dfu_err e;
    dfu_image *img = dfu_image_new();

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    if (img == NULL || dfu_image_add(img, 0x08000000, data, sizeof data, &e) != 0) {
        dfu_image_free(img);
        return NULL;
    }
    return img;
}

/* Writes stop at 1 KiB: dfu_image_save() fails, the old file is untouched, no temp remains. */
static int test_write_fails_keeps_old(void)
{
    char dir[256], path[512];
    struct dfu_err e;
    struct rlimit old, lim;
    size_t len = 0;
    int others = 0;

    T_ASSERT(make_tmpdir(dir, sizeof dir) == 0);
    snprintf(path, sizeof path, "%s/out.hex", dir);
    T_ASSERT(write_file(path, OLD, sizeof OLD - 1) == 0);
    dfu_image *img = big_image();
    T_ASSERT(img != NULL);

    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
    T_ASSERT(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = 1024;
    T_ASSERT(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    dfu_err_clear(&e);
    int rc = dfu_image_save(img, path, NULL, &e);
    int sys = e.sys;
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);

    T_EQ_INT(rc, DFU_E_IO);
    T_EQ_INT(sys, EFBIG);
    T_ASSERT(strstr(e.msg, path) != NULL);
    T_ASSERT(strstr(e.msg, strerror(EFBIG)) != NULL);
    char *back = read_file(path, &len);
    T_ASSERT(back != NULL);
    T_EQ_INT(len, sizeof OLD - 1);
    T_EQ_MEM(back, OLD, sizeof OLD - 1);
    free(back);
    T_EQ_INT(dir_entries(dir, "out.hex", &others), 1);
    T_EQ_INT(others, 0);

    /* the same without an old file: nothing at all is left */
    T_ASSERT(unlink(path) == 0);
    T_ASSERT(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    signal(SIGXFSZ, SIG_IGN);
    rc = dfu_image_save(img, path, NULL, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    T_EQ_INT(rc, DFU_E_IO);
    T_EQ_INT(dir_entries(dir, "out.hex", &others), 0);

    dfu_image_free(img);
    rm_tmpdir(dir);
    return 0;
}

/* A good save replaces the old file whole; a new file gets 0666 & ~umask, an existing file
 * keeps its permission bits. */
static int test_write_replaces(void)
{
    char dir[256], path[512];
    struct dfu_err e;
    struct stat st;
    size_t len = 0;
    int others = 0;
    uint8_t *want = NULL;
    size_t wantlen = 0;

    T_ASSERT(make_tmpdir(dir, sizeof dir) == 0);
    snprintf(path, sizeof path, "%s/out.hex", dir);
    dfu_image *img = big_image();
    T_ASSERT(img != NULL);
    T_OK(dfu_image_write(img, DFU_FMT_IHEX, NULL, &want, &wantlen, &e), e);

    mode_t mask = umask(022);
    T_OK(dfu_image_save(img, path, NULL, &e), e);
    T_ASSERT(stat(path, &st) == 0);
    T_EQ_INT(st.st_mode & 07777, 0644);
    umask(027);
    T_ASSERT(unlink(path) == 0);
    T_OK(dfu_image_save(img, path, NULL, &e), e);
    T_ASSERT(stat(path, &st) == 0);
    T_EQ_INT(st.st_mode & 07777, 0640);
    umask(mask);

    T_ASSERT(write_file(path, OLD, sizeof OLD - 1) == 0);
    T_ASSERT(chmod(path, 0600) == 0);
    T_OK(dfu_image_save(img, path, NULL, &e), e);
    T_ASSERT(stat(path, &st) == 0);
    T_EQ_INT(st.st_mode & 07777, 0600);
    char *back = read_file(path, &len);
    T_ASSERT(back != NULL);
    T_EQ_INT(len, wantlen);
    T_EQ_MEM(back, want, wantlen);
    free(back);
    T_EQ_INT(dir_entries(dir, "out.hex", &others), 1);
    T_EQ_INT(others, 0);

    free(want);
    dfu_image_free(img);
    rm_tmpdir(dir);
    return 0;
}

/* A name planted where a temporary file could go is never written through. */
static int test_symlink_not_followed(void)
{
    char dir[256], path[512], victim[512], link[600];
    struct dfu_err e;
    size_t len = 0;

    T_ASSERT(make_tmpdir(dir, sizeof dir) == 0);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    T_ASSERT(write_file(victim, OLD, sizeof OLD - 1) == 0);
    /* the fixed names a naive writer would use */
    snprintf(link, sizeof link, "%s.tmp", path);
    T_ASSERT(symlink(victim, link) == 0);
    snprintf(link, sizeof link, "%s/.out.bin.tmp", dir);
    T_ASSERT(symlink(victim, link) == 0);
    dfu_image *img = big_image();
    T_ASSERT(img != NULL);
    T_OK(dfu_image_save(img, path, NULL, &e), e);
    char *back = read_file(victim, &len);
    T_ASSERT(back != NULL);
    T_EQ_INT(len, sizeof OLD - 1);
    T_EQ_MEM(back, OLD, sizeof OLD - 1);
    free(back);
    back = read_file(path, &len);
    T_ASSERT(back != NULL);
    T_EQ_INT(len, 4096);
    free(back);
    dfu_image_free(img);
    rm_tmpdir(dir);
    return 0;
}

/* A directory that does not exist: an I/O error naming the path and the system error. */
static int test_no_directory(void)
{
    struct dfu_err e;
    dfu_image *img = big_image();
    T_ASSERT(img != NULL);
    dfu_err_clear(&e);
    T_EQ_INT(dfu_image_save(img, "/nonexistent-dfush-dir/out.bin", NULL, &e), DFU_E_IO);
    T_ASSERT(strstr(e.msg, "/nonexistent-dfush-dir/out.bin") != NULL);
    T_ASSERT(strstr(e.msg, strerror(ENOENT)) != NULL);
    T_EQ_INT(e.sys, ENOENT);
    dfu_image_free(img);
    return 0;
}

static const struct t_case cases[] = {
    {"write_fails_keeps_old", test_write_fails_keeps_old},
    {"write_replaces", test_write_replaces},
    {"symlink_not_followed", test_symlink_not_followed},
    {"no_directory", test_no_directory},
    {NULL, NULL},
};
T_MAIN(cases)
