/*
 * Intel HEX parser benchmark helper (driven by bench_ihex.sh; not a ctest test).
 *
 *   bench_ihex gen OUT.hex BYTES          random data at 0x08000000 written by our writer
 *   bench_ihex convert IN.hex OUT.bin     load + save as raw binary (what objcopy -O binary does)
 *   bench_ihex parse IN.hex RUNS          in-process parse only, median CPU seconds
 *   bench_ihex time RUNS CMD [ARGS...]    run CMD RUNS times, median child CPU seconds (user+sys)
 *   bench_ihex stat RUNS CMD [ARGS...]    run CMD RUNS times (its stdout to /dev/null): "CPU RSS",
 *                                         the medians of its CPU seconds (user+sys) and of its
 *                                         peak RSS in KiB
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dfu/image.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen(const char *out, long bytes)
{
    struct dfu_err e;
    uint8_t *d = malloc((size_t)bytes);
    dfu_image *img = dfu_image_new();
    unsigned x = 12345;
    for (long i = 0; i < bytes; i++) {
        x = x * 1103515245u + 12345u;
        d[i] = (uint8_t)(x >> 16);
    }
    dfu_err_clear(&e);
    if (dfu_image_add(img, 0x08000000, d, (size_t)bytes, &e) != 0 ||
        dfu_image_save(img, out, NULL, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    dfu_image_free(img);
    free(d);
    return 0;
}

static int convert(const char *in, const char *out)
{
    struct dfu_err e;
    dfu_image *img;
    dfu_err_clear(&e);
    if (dfu_image_load(in, NULL, &img, &e) != 0 || dfu_image_save(img, out, NULL, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    dfu_image_free(img);
    return 0;
}

static int parse(const char *in, int runs)
{
    FILE *f = fopen(in, "rb");
    if (f == NULL)
        return 1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        return 1;
    fclose(f);
    double *t = calloc((size_t)runs, sizeof *t);
    for (int r = 0; r < runs; r++) {
        struct dfu_err e;
        dfu_image *img;
        double t0 = cpu_now();
        if (dfu_image_parse_ihex(buf, (size_t)n, in, &img, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        t[r] = cpu_now() - t0;
        dfu_image_free(img);
    }
    printf("%.6f\n", median(t, runs));
    free(t);
    free(buf);
    return 0;
}

static int time_cmd(int runs, char **argv)
{
    double *t = calloc((size_t)runs, sizeof *t);
    for (int r = 0; r < runs; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            execvp(argv[0], argv);
            _exit(127);
        }
        int st;
        struct rusage before, ru;
        getrusage(RUSAGE_CHILDREN, &before);
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "%s failed\n", argv[0]);
            return 1;
        }
        getrusage(RUSAGE_CHILDREN, &ru);
        ru.ru_utime.tv_sec -= before.ru_utime.tv_sec;
        ru.ru_utime.tv_usec -= before.ru_utime.tv_usec;
        ru.ru_stime.tv_sec -= before.ru_stime.tv_sec;
        ru.ru_stime.tv_usec -= before.ru_stime.tv_usec;
        t[r] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    printf("%.6f\n", median(t, runs));
    free(t);
    return 0;
}

/* Each run is waited for with wait4(), which gives that child's own peak RSS (RUSAGE_CHILDREN
 * only keeps the largest of all children). */
static int stat_cmd(int runs, char **argv)
{
    double *t = calloc((size_t)runs, sizeof *t), *m = calloc((size_t)runs, sizeof *m);
    for (int r = 0; r < runs; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, STDOUT_FILENO);
            execvp(argv[0], argv);
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "%s failed\n", argv[0]);
            return 1;
        }
        t[r] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        m[r] = (double)ru.ru_maxrss;
    }
    printf("%.6f %.0f\n", median(t, runs), median(m, runs));
    free(t);
    free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "convert") == 0)
        return convert(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "parse") == 0)
        return parse(argv[2], atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "time") == 0)
        return time_cmd(atoi(argv[2]), argv + 3);
    if (argc >= 4 && strcmp(argv[1], "stat") == 0)
        return stat_cmd(atoi(argv[2]), argv + 3);
    fprintf(stderr, "usage: see the comment at the top of bench_ihex.c\n");
    return 2;
}
