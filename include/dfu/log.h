/* Log and progress sinks: plain structs owned by the caller, never globals. */
#ifndef DFU_LOG_H
#define DFU_LOG_H

#include <stdint.h>

enum dfu_log_level {
    DFU_LOG_ERROR = 0,
    DFU_LOG_WARN = 1,
    DFU_LOG_INFO = 2,
    DFU_LOG_DEBUG = 3,
    DFU_LOG_IO = 4 /* one line per control transfer */
};

struct dfu_log {
    void (*fn)(void *ud, int level, const char *msg);
    void *ud;
    int level; /* messages above this level are dropped before formatting */
};

struct dfu_progress {
    /* phase is a static string ("erase", "write", "read"); done/total in bytes */
    void (*fn)(void *ud, const char *phase, uint64_t done, uint64_t total);
    void *ud;
};

/** printf-style log through @log (may be NULL or have fn == NULL: dropped). */
void dfu_log_msg(const struct dfu_log *log, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** Report progress (NULL-safe). */
void dfu_progress_report(const struct dfu_progress *p, const char *phase, uint64_t done,
                         uint64_t total);

/** Level name: "error", "warn", "info", "debug", "io". */
const char *dfu_log_level_name(int level);

#endif
