/* Error codes, names and message prefixing. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dfu/err.h"

void dfu_err_clear(struct dfu_err *e)
{
    if (e == NULL)
        return;
    memset(e, 0, sizeof *e);
    e->dfu_state = 0xFF;
    e->offset = -1;
}

int dfu_err_set(struct dfu_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int dfu_err_prefix(struct dfu_err *e, const char *fmt, ...)
{
    char prefix[DFU_ERR_MSG_MAX];
    char old[DFU_ERR_MSG_MAX];
    va_list ap;

    if (e == NULL)
        return DFU_E_IO;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    if (old[0] != '\0')
        snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    else
        snprintf(e->msg, sizeof e->msg, "%s", prefix);
    return e->code;
}

const char *dfu_err_name(int code)
{
    switch (code) {
#define DFU_X_(n, v, d)                                                                            \
    case v:                                                                                        \
        return #n;
        DFU_ERR_LIST(DFU_X_)
#undef DFU_X_
    }
    return "UNKNOWN";
}

const char *dfu_err_str(int code)
{
    switch (code) {
#define DFU_X_(n, v, d)                                                                            \
    case v:                                                                                        \
        return d;
        DFU_ERR_LIST(DFU_X_)
#undef DFU_X_
    }
    return "unknown error";
}

const char *dfu_status_name(uint8_t status)
{
    switch (status) {
#define DFU_X_(n, v, s)                                                                            \
    case v:                                                                                        \
        return s;
        DFU_STATUS_LIST(DFU_X_)
#undef DFU_X_
    }
    return "errUNKNOWN";
}

const char *dfu_state_name(uint8_t state)
{
    switch (state) {
#define DFU_X_(n, v, s)                                                                            \
    case v:                                                                                        \
        return s;
        DFU_STATE_LIST(DFU_X_)
#undef DFU_X_
    }
    return "unknown";
}

int dfu_status_from_name(const char *name)
{
#define DFU_X_(n, v, s)                                                                            \
    if (strcmp(name, s) == 0)                                                                      \
        return v;
    DFU_STATUS_LIST(DFU_X_)
#undef DFU_X_
    return -1;
}

int dfu_state_from_name(const char *name)
{
#define DFU_X_(n, v, s)                                                                            \
    if (strcmp(name, s) == 0)                                                                      \
        return v;
    DFU_STATE_LIST(DFU_X_)
#undef DFU_X_
    return -1;
}
