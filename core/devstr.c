/*
 * Device strings (design.md 2):
 *   usb | usb:VID:PID  [,serial=S][,path=B-P.P][,alt=N|NAME]
 *   sim:PROFILE        [,state=F][,events=F][,boot0=0|1][,rom=0xNN][,jump=vector|branch]
 *                      [,faults=SPEC][,alt=N|NAME]
 */
#include <stdio.h>
#include <string.h>

#include "dfu/device.h"

static const char *const sim_keys[] = {"state", "events", "boot0",        "rom",
                                       "jump",  "faults", "dnload_stall", NULL};

static int is_sim_key(const char *k, size_t n)
{
    for (size_t i = 0; sim_keys[i] != NULL; i++) {
        if (strlen(sim_keys[i]) == n && memcmp(sim_keys[i], k, n) == 0)
            return 1;
    }
    return 0;
}

static int key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
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

/* "usb" or "usb:VID[:PID]" */
static int parse_usb_head(const char *h, size_t n, struct dfu_devspec *out, struct dfu_err *err)
{
    const char *ids, *colon;
    size_t rest;

    if (n == 3)
        return 0;
    if (h[3] != ':')
        return dfu_err_set(err, DFU_E_INVALID, "device string \"%.*s\": expected usb:VID:PID",
                           (int)n, h);
    ids = h + 4;
    rest = n - 4;
    colon = memchr(ids, ':', rest);
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

int dfu_devspec_parse(const char *s, struct dfu_devspec *out, struct dfu_err *err)
{
    const char *p, *comma;
    size_t n;
    int sim, rc;

    memset(out, 0, sizeof *out);
    out->alt = -1;
    if (s == NULL || *s == '\0')
        s = "usb";
    comma = strchr(s, ',');
    n = comma ? (size_t)(comma - s) : strlen(s);
    if (n >= 3 && memcmp(s, "usb", 3) == 0 && (n == 3 || s[3] == ':')) {
        sim = 0;
        strcpy(out->backend, "usb");
        rc = parse_usb_head(s, n, out, err);
        if (rc != 0)
            return rc;
    } else if (n >= 3 && memcmp(s, "sim", 3) == 0 && (n == 3 || s[3] == ':')) {
        sim = 1;
        strcpy(out->backend, "sim");
        if (n <= 4)
            return dfu_err_set(err, DFU_E_INVALID,
                               "device string \"%s\": sim needs a profile (sim:stm32h753)", s);
        rc = copy_val(out->sim_profile, sizeof out->sim_profile, s + 4, n - 4, "profile", err);
        if (rc != 0)
            return rc;
    } else {
        return dfu_err_set(err, DFU_E_INVALID,
                           "device string \"%s\": expected usb, usb:VID:PID or sim:PROFILE", s);
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
        } else if (is_sim_key(kv, klen)) {
            size_t used = strlen(out->sim_opts);

            if (!sim)
                return dfu_err_set(err, DFU_E_INVALID,
                                   "device string: key '%s' applies only to sim: devices", key);
            if (vlen == 0)
                return dfu_err_set(err, DFU_E_INVALID, "device string: empty value for key '%s'",
                                   key);
            if (used + n + 2 > sizeof out->sim_opts)
                return dfu_err_set(err, DFU_E_INVALID, "device string: simulator options too long");
            snprintf(out->sim_opts + used, sizeof out->sim_opts - used, "%s%.*s",
                     used > 0 ? "," : "", (int)n, kv);
            rc = 0;
        } else {
            return dfu_err_set(err, DFU_E_INVALID, "device string: unknown key '%s' (%s keys: %s)",
                               key, sim ? "sim" : "usb",
                               sim ? "state, events, boot0, rom, jump, faults, dnload_stall, alt"
                                   : "serial, path, alt");
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}
