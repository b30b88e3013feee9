/* The simulator's event log: JSON lines in memory and appended to events=FILE (design.md 5). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

/* Append {"t":SECONDS,<body>}; @fmt formats the body (the fields after "t"). */
void simi_event(dfu_sim *s, const char *fmt, ...)
{
    char body[512], *line;
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    n = snprintf(NULL, 0, "{\"t\":%.6f,%s}", (double)s->now / 1e6, body);
    line = malloc((size_t)n + 1);
    if (line == NULL)
        return;
    snprintf(line, (size_t)n + 1, "{\"t\":%.6f,%s}", (double)s->now / 1e6, body);
    if (s->nev == s->evcap) {
        size_t cap = s->evcap ? s->evcap * 2 : 64;
        char **ev = realloc(s->ev, cap * sizeof *ev);
        if (ev == NULL) {
            free(line);
            return;
        }
        s->ev = ev;
        s->evcap = cap;
    }
    s->ev[s->nev++] = line;
    if (s->evf != NULL) {
        fputs(line, s->evf);
        fputc('\n', s->evf);
        fflush(s->evf);
    }
}

void simi_events_free(dfu_sim *s)
{
    for (size_t i = 0; i < s->nev; i++)
        free(s->ev[i]);
    free(s->ev);
    s->ev = NULL;
    s->nev = s->evcap = 0;
    if (s->evf != NULL)
        fclose(s->evf);
    s->evf = NULL;
}

size_t dfu_sim_event_count(const dfu_sim *s)
{
    return s->nev;
}

const char *dfu_sim_event(const dfu_sim *s, size_t i)
{
    return i < s->nev ? s->ev[i] : NULL;
}
