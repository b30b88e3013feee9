/*
 * Device strings (design.md 2), BACKEND[:TARGET][,key=value...]. The common keys are read here:
 * VID:PID (the target of "usb:"), serial=, path=, alt=; the target and the backend's own keys go
 * to it as they are (dfu_devspec.target, .opts):
 *   usb | usb:VID:PID  [,serial=S][,path=B-P.P][,alt=N|NAME]
 *   sim:PROFILE        [,state=F][,events=F][,boot0=0|1][,rom=0xNN][,jump=vector|branch]
 *                      [,faults=SPEC][,serial=S][,path=P][,alt=N|NAME]
 */
#include <stdio.h>
#include <string.h>

#include "backend.h"

static int key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* Whether @k (@n bytes) is one of @be's own keys. */
static int has_key(const struct dfu_backend *be, const char *k, size_t n)
{
    for (const char *p = be->keys; p != NULL && *p != '\0'; p += strspn(p, ", ")) {
        size_t len = strcspn(p, ", ");

        if (len == n && memcmp(p, k, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* "expected usb, usb:VID:PID or sim:PROFILE": the syntax of every registered backend. */
static int unknown_backend(const char *s, struct dfu_err *err)
{
    char list[200] = "";
    size_t used = 0;

    for (const struct dfu_backend *const *be = dfui_backends; *be != NULL && used < sizeof list;
         be++) {
        const char *sep = be == dfui_backends ? "" : be[1] == NULL ? " or " : ", ";

        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", sep, (*be)->syntax);
    }
    return dfu_err_set(err, DFU_E_INVALID, "device string \"%s\": expected %s", s, list);
}

static int parse_hex16(const char *p, size_t n, uint16_t *out)
{
    unsigned v = 0;

    if (n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        n -= 2;
    }
    if (n == 0 || n > 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

static int copy_val(char *dst, size_t cap, const char *v, size_t n, const char *key,
                    struct dfu_err *err)
{
    if (n == 0)
        return dfu_err_set(err, DFU_E_INVALID, "device string: empty value for key '%s'", key);
    if (n >= cap)
        return dfu_err_set(err, DFU_E_INVALID, "device string: value for key '%s' is too long",
                           key);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

/* The target of "usb:VID[:PID]" (@h, @n: the text before the first comma). */
static int parse_ids(const char *h, size_t n, const char *ids, struct dfu_devspec *out,
                     struct dfu_err *err)
{
    size_t rest = strlen(ids);
    const char *colon = memchr(ids, ':', rest);

    if (colon == NULL) {
        if (rest > 0 && parse_hex16(ids, rest, &out->vid) != 0)
            goto bad;
        out->has_vid = rest > 0;
        return 0;
    }
    if (colon > ids) {
        if (parse_hex16(ids, (size_t)(colon - ids), &out->vid) != 0)
            goto bad;
        out->has_vid = 1;
    }
    rest -= (size_t)(colon - ids) + 1;
    if (rest > 0) {
        if (parse_hex16(colon + 1, rest, &out->pid) != 0)
            goto bad;
        out->has_pid = 1;
    }
    return 0;
bad:
    return dfu_err_set(err, DFU_E_INVALID,
                       "device string \"%.*s\": VID and PID are 1-4 hex digits (usb:0483:df11)",
                       (int)n, h);
}

/* Whether the @n bytes at @s are VID:PID in hex (dfu-util's -d 0483:df11). */
static int is_bare_ids(const char *s, size_t n)
{
    size_t a = strspn(s, "0123456789abcdefABCDEF");

    if (a == 0 || a > 4 || a >= n || s[a] != ':')
        return 0;
    n -= a + 1;
    s += a + 1;
    a = strspn(s, "0123456789abcdefABCDEF");
    return a > 0 && a <= 4 && a == n;
}

int dfu_devspec_parse(const char *s, struct dfu_devspec *out, struct dfu_err *err)
{
    const struct dfu_backend *be;
    const char *p, *comma, *colon;
    size_t n;
    int rc;

    memset(out, 0, sizeof *out);
    out->alt = -1;
    if (s == NULL || *s == '\0')
        s = "usb";
    comma = strchr(s, ',');
    n = comma ? (size_t)(comma - s) : strlen(s);
    colon = memchr(s, ':', n);
    be = dfui_backend(s, colon != NULL ? (size_t)(colon - s) : n);
    if (be == NULL && is_bare_ids(s, n)) {
        char full[4096];

        /* dfu-util's habit: VID:PID alone names a USB device */
        if ((size_t)snprintf(full, sizeof full, "usb:%s", s) >= sizeof full)
            return dfu_err_set(err, DFU_E_INVALID, "device string \"%.*s\" is too long", (int)n, s);
        return dfu_devspec_parse(full, out, err);
    }
    if (be == NULL)
        return unknown_backend(s, err);
    snprintf(out->backend, sizeof out->backend, "%s", be->name);
    if (colon != NULL && memchr(colon + 1, '=', n - (size_t)(colon + 1 - s)) != NULL) {
        comma = colon; /* "usb:path=1-2": keys without a target */
    } else if (colon != NULL) {
        if ((size_t)snprintf(out->target, sizeof out->target, "%.*s",
                             (int)(n - (size_t)(colon + 1 - s)), colon + 1) >= sizeof out->target)
            return dfu_err_set(err, DFU_E_INVALID, "device string \"%.*s\" is too long", (int)n, s);
        rc = be->ids_head ? parse_ids(s, n, out->target, out, err) : 0;
        if (rc != 0)
            return rc;
    }

    for (p = comma; p != NULL; p = comma) {
        const char *kv = p + 1, *eq, *v;
        size_t klen, vlen;
        char key[32];

        comma = strchr(kv, ',');
        n = comma ? (size_t)(comma - kv) : strlen(kv);
        if (n == 0)
            return dfu_err_set(err, DFU_E_INVALID, "device string \"%s\": empty key", s);
        eq = memchr(kv, '=', n);
        if (eq == NULL)
            return dfu_err_set(err, DFU_E_INVALID, "device string: '%.*s' is not key=value", (int)n,
                               kv);
        klen = (size_t)(eq - kv);
        v = eq + 1;
        vlen = n - klen - 1;
        snprintf(key, sizeof key, "%.*s", (int)(klen < 31 ? klen : 31), kv);
        if (key_is(kv, klen, "serial")) {
            rc = copy_val(out->serial, sizeof out->serial, v, vlen, key, err);
        } else if (key_is(kv, klen, "path")) {
            rc = copy_val(out->path, sizeof out->path, v, vlen, key, err);
        } else if (key_is(kv, klen, "alt")) {
            rc = copy_val(out->alt_name, sizeof out->alt_name, v, vlen, key, err);
            if (rc == 0 && strspn(out->alt_name, "0123456789") == vlen) {
                int a = 0;

                for (size_t i = 0; i < vlen && a <= 255; i++)
                    a = a * 10 + (out->alt_name[i] - '0');
                out->alt = a;
                if (a > 255)
                    return dfu_err_set(err, DFU_E_INVALID,
                                       "device string: alt=%s is not an alternate setting "
                                       "(0-255)",
                                       out->alt_name);
                out->alt_name[0] = '\0';
            }
        } else if (has_key(be, kv, klen)) {
            size_t used = strlen(out->opts);

            if (vlen == 0)
                return dfu_err_set(err, DFU_E_INVALID, "device string: empty value for key '%s'",
                                   key);
            if (used + n + 2 > sizeof out->opts)
                return dfu_err_set(err, DFU_E_INVALID, "device string: %s options too long",
                                   be->name);
            snprintf(out->opts + used, sizeof out->opts - used, "%s%.*s", used > 0 ? "," : "",
                     (int)n, kv);
            rc = 0;
        } else {
            for (const struct dfu_backend *const *o = dfui_backends; *o != NULL; o++) {
                if (has_key(*o, kv, klen))
                    return dfu_err_set(err, DFU_E_INVALID,
                                       "device string: key '%s' applies only to %s: devices", key,
                                       (*o)->name);
            }
            return dfu_err_set(err, DFU_E_INVALID,
                               "device string: unknown key '%s' (%s keys: %s%sserial, path, alt)",
                               key, be->name, be->keys ? be->keys : "", be->keys ? ", " : "");
        }
        if (rc != 0)
            return rc;
    }
    return be->parse_opts != NULL ? be->parse_opts(s, out, err) : 0;
}

const char *dfui_devspec_alt(const struct dfu_devspec *spec, char *buf, size_t cap)
{
    if (spec->alt < 0)
        return spec->alt_name[0] != '\0' ? spec->alt_name : NULL;
    snprintf(buf, cap, "%d", spec->alt);
    return buf;
}
