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

/* The code tables, from the X lists in err.h: value, stable name, human text. */
struct code_name {
    int value;
    const char *name, *text;
};

#define DFU_X_(n, v, d) {v, #n, d},
static const struct code_name err_codes[] = {DFU_ERR_LIST(DFU_X_)};
#undef DFU_X_
#define DFU_X_(n, v, s) {v, s, s},
static const struct code_name status_codes[] = {DFU_STATUS_LIST(DFU_X_)};
static const struct code_name state_codes[] = {DFU_STATE_LIST(DFU_X_)};
#undef DFU_X_

#define NCODES(t) (sizeof(t) / sizeof(t)[0])

/* The name (or, with text set, the human text) of value in t, else dflt. */
static const char *lookup(const struct code_name *t, size_t n, int value, int text,
                          const char *dflt)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == value)
            return text ? t[i].text : t[i].name;
    return dflt;
}

static int by_name(const struct code_name *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].value;
    return -1;
}

const char *dfu_err_name(int code)
{
    return lookup(err_codes, NCODES(err_codes), code, 0, "UNKNOWN");
}

const char *dfu_err_str(int code)
{
    return lookup(err_codes, NCODES(err_codes), code, 1, "unknown error");
}

const char *dfu_status_name(uint8_t v)
{
    return lookup(status_codes, NCODES(status_codes), v, 0, "errUNKNOWN");
}

const char *dfu_state_name(uint8_t v)
{
    return lookup(state_codes, NCODES(state_codes), v, 0, "unknown");
}

int dfu_status_from_name(const char *name)
{
    return by_name(status_codes, NCODES(status_codes), name);
}

int dfu_state_from_name(const char *name)
{
    return by_name(state_codes, NCODES(state_codes), name);
}
