/* Log and progress sinks. */
#include <stdarg.h>
#include <stdio.h>

#include "dfu/log.h"

void dfu_log_msg(const struct dfu_log *log, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (log == NULL || log->fn == NULL || level > log->level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log->fn(log->ud, level, buf);
}

void dfu_progress_report(const struct dfu_progress *p, const char *phase, uint64_t done,
                         uint64_t total)
{
    if (p != NULL && p->fn != NULL)
        p->fn(p->ud, phase, done, total);
}

const char *dfu_log_level_name(int level)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "io"};

    if (level < 0 || level > DFU_LOG_IO)
        return "log";
    return names[level];
}
