/* A tiny test harness: a table of {name, fn}, assertions that report file:line. */
#ifndef DFU_T_H
#define DFU_T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define T_SKIP 77

struct t_case {
    const char *name;
    int (*fn)(void);
};

static int t_failed_;

#define T_FAIL_(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        t_failed_ = 1;                                                                             \
        return 1;                                                                                  \
    } while (0)

#define T_ASSERT(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            T_FAIL_("assertion failed: %s", #c);                                                   \
    } while (0)

#define T_EQ_INT(a, b)                                                                             \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (t_a_ != t_b_)                                                                          \
            T_FAIL_("%s == %s: %lld != %lld (0x%llx != 0x%llx)", #a, #b, t_a_, t_b_,               \
                    (unsigned long long)t_a_, (unsigned long long)t_b_);                           \
    } while (0)

#define T_EQ_STR(a, b)                                                                             \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0)                               \
            T_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, t_a_ ? t_a_ : "(null)",                  \
                    t_b_ ? t_b_ : "(null)");                                                       \
    } while (0)

#define T_EQ_MEM(a, b, n)                                                                          \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            T_FAIL_("%s == %s: %zu bytes differ", #a, #b, (size_t)(n));                            \
    } while (0)

/* Assert a call returned 0; print the dfu_err message otherwise. */
#define T_OK(call, e)                                                                              \
    do {                                                                                           \
        int t_rc_ = (call);                                                                        \
        if (t_rc_ != 0)                                                                            \
            T_FAIL_("%s -> %d: %s", #call, t_rc_, (e).msg);                                        \
    } while (0)

static int t_run(const struct t_case *cases, int argc, char **argv)
{
    int fails = 0, skips = 0, runs = 0;

    for (const struct t_case *c = cases; c->name != NULL; c++) {
        if (argc > 1 && strstr(c->name, argv[1]) == NULL)
            continue;
        t_failed_ = 0;
        int rc = c->fn();
        runs++;
        if (rc == T_SKIP) {
            skips++;
            printf("skip %s\n", c->name);
        } else if (rc != 0 || t_failed_) {
            fails++;
            printf("FAIL %s\n", c->name);
        } else {
            printf("ok   %s\n", c->name);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", runs - fails - skips, fails, skips);
    if (fails)
        return 1;
    return (runs > 0 && skips == runs) ? T_SKIP : 0;
}

#define T_MAIN(cases)                                                                              \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return t_run(cases, argc, argv);                                                           \
    }

#endif
