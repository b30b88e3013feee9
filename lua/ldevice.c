/*
 * dfu.core: device strings, enumeration, open, and the dfu.Device methods (the DFU 1.1
 * requests, the DfuSe commands, streaming read/write, leave).
 *
 * Log lines from the core go into a bounded buffer inside the device box while a C call runs;
 * they reach the Lua on_log function only after the call has returned, so no Lua code (and no
 * raise) ever runs inside core or libusb frames.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laux.h"

/* ---- boxes and checks ---- */

static void log_sink(void *ud, int level, const char *msg)
{
    struct ldev *b = ud;
    unsigned slot;

    if (b->log_count == DFULUA_LOG_LINES) {
        b->log_dropped++;
        return;
    }
    slot = (b->log_first + b->log_count) % DFULUA_LOG_LINES;
    b->log_level[slot] = (unsigned char)level;
    snprintf(b->log_msg[slot], DFULUA_LOG_LEN, "%s", msg);
    b->log_count++;
}

/* A closed device box on the stack, created before the C device exists so that the device
 * is anchored the moment it is opened (no leak if anything raises). */
static struct ldev *newdev(lua_State *L, int parent)
{
    struct ldev *b;

    parent = parent != 0 ? lua_absindex(L, parent) : 0;
    b = lua_newuserdatauv(L, sizeof *b, 2); /* [ud] */
    memset(b, 0, sizeof *b);
    b->dev = NULL; /* closed until attached */
    luaL_setmetatable(L, DFU_MT_DEVICE);
    if (parent != 0) {
        lua_pushvalue(L, parent);    /* [ud parent] */
        lua_setiuservalue(L, -2, 1); /* [ud]: the device keeps its simulator alive */
    }
    b->log.ud = b;
    b->log.level = DFU_LOG_DEBUG;
    return b;
}

/* Ownership of @d moves to the box (and so to the Lua GC). */
static void attach(struct ldev *b, dfu_dev *d)
{
    b->dev = d;
    dfu_dev_set_log(d, &b->log);
    dfu_dev_set_cancel(d, &dfulua_interrupt);
}

static struct ldev *todev(lua_State *L)
{
    return luaL_checkudata(L, 1, DFU_MT_DEVICE);
}

static struct ldev *checkdev(lua_State *L)
{
    struct ldev *b = todev(L);

    if (b->dev == NULL)
        luaL_error(L, "attempt to use a closed " DFU_MT_DEVICE);
    return b;
}

/* Hand buffered log lines to the on_log function (if any). Runs after the C call returned. */
static void drain_logs(lua_State *L, struct ldev *b)
{
    int top = lua_gettop(L);

    if (b->log_count == 0 && b->log_dropped == 0)
        return;
    if (lua_getiuservalue(L, 1, 2) != LUA_TFUNCTION) { /* [.. fn] */
        b->log_count = b->log_dropped = 0;
        lua_settop(L, top);
        return;
    }
    while (b->log_count > 0) {
        unsigned slot = b->log_first;

        lua_pushvalue(L, -1);                                      /* [.. fn fn] */
        lua_pushstring(L, dfu_log_level_name(b->log_level[slot])); /* [.. fn fn level] */
        lua_pushstring(L, b->log_msg[slot]);                       /* [.. fn fn level msg] */
        b->log_first = (slot + 1) % DFULUA_LOG_LINES;
        b->log_count--;
        lua_call(L, 2, 0); /* [.. fn] */
    }
    if (b->log_dropped > 0) {
        unsigned n = b->log_dropped;

        b->log_dropped = 0;
        lua_pushstring(L, "warn");
        lua_pushfstring(L, "%d log lines dropped", (int)n); /* [.. fn level msg] */
        lua_call(L, 2, 0);
    }
    lua_settop(L, top);
}

/* Results of a primitive: @nres values already pushed on success. */
static int done(lua_State *L, struct ldev *b, int nres)
{
    b->has_err = 0;
    drain_logs(L, b);
    return nres;
}

static int failed(lua_State *L, struct ldev *b, int rc, const struct dfu_err *e)
{
    int n;

    b->err = *e;
    b->err.code = rc;
    b->has_err = 1;
    n = dfulua_fail(L, rc, e);
    drain_logs(L, b);
    return n;
}

static int ok_or_fail(lua_State *L, struct ldev *b, int rc, const struct dfu_err *e)
{
    if (rc < 0)
        return failed(L, b, rc, e);
    lua_pushboolean(L, 1);
    return done(L, b, 1);
}

static uint16_t checku16(lua_State *L, int arg)
{
    lua_Integer v = luaL_checkinteger(L, arg);

    luaL_argcheck(L, v >= 0 && v <= 0xFFFF, arg, "out of range (0..65535)");
    return (uint16_t)v;
}

static size_t checklen(lua_State *L, int arg)
{
    lua_Integer v = luaL_checkinteger(L, arg);

    luaL_argcheck(L, v >= 0 && v <= 0x7FFFFFFFll, arg, "length out of range");
    return (size_t)v;
}

/* ---- status tables ---- */

static void pushstatus(lua_State *L, const struct dfu_status *st)
{
    lua_createtable(L, 0, 6); /* [t] */
    dfulua_setint(L, "status", st->status);
    dfulua_setstr(L, "status_name", dfu_status_name(st->status));
    dfulua_setint(L, "state", st->state);
    dfulua_setstr(L, "state_name", dfu_state_name(st->state));
    dfulua_setint(L, "poll_timeout", st->poll_timeout);
    dfulua_setint(L, "istring", st->istring);
}

/* ---- lifetime ---- */

/* After the device at @idx is closed: a device that owns its simulator closes it too, so that
 * the simulator's state= file is free for other processes at once rather than at the next
 * collection. Once dev:sim() has handed the simulator out it stays open until collected. */
static void close_own_sim(lua_State *L, int idx, struct ldev *b)
{
    struct lsim *ls;

    if (b == NULL || !b->owns_sim)
        return;
    b->owns_sim = 0;
    lua_getiuservalue(L, idx, 1); /* [.. sim] */
    ls = luaL_testudata(L, -1, DFU_MT_SIM);
    if (ls != NULL && ls->sim != NULL && ls->dev != NULL) {
        dfu_dev *d = ls->dev;

        ls->sim = NULL;
        ls->dev = NULL;
        dfu_dev_close(d); /* its transport frees the simulator */
    }
    lua_pop(L, 1);
}

static int dev_close(lua_State *L)
{
    struct ldev *b = todev(L);
    dfu_dev *d = b->dev;

    dfulua_checknargs(L, 1);
    if (d != NULL) {
        b->dev = NULL; /* closed before anything can fail or raise */
        struct dfu_err e;

        /* Best effort (the device may have left): leave it in dfuIDLE, also after Ctrl-C,
         * when the request must not see the interrupt flag that stopped the job. */
        if (dfulua_interrupt)
            dfu_dev_set_cancel(d, NULL);
        dfu_err_clear(&e);
        if (dfu_dev_info(d)->protocol != 1) /* a run-time interface has no dfuIDLE */
            (void)dfu_abort_to_idle(d, &e);
        if (b->held)
            dfu_dev_set_log(d, NULL); /* the dfu.Sim closes it */
        else
            dfu_dev_close(d);
        drain_logs(L, b);
    }
    close_own_sim(L, 1, b);
    lua_pushboolean(L, 1);
    return 1;
}

/* The minimum: release the interface, close the transport. No traffic, no Lua calls. A held
 * device is the dfu.Sim's to close (and may already be closed when both are collected). */
static void close_box(struct ldev *b)
{
    if (b != NULL && b->dev != NULL) {
        dfu_dev *d = b->dev;

        b->dev = NULL;
        b->log.fn = NULL;
        if (!b->held)
            dfu_dev_close(d);
    }
}

/* __gc and __close: never raises (manual 2.5.3). */
static int dev_gc(lua_State *L)
{
    struct ldev *b = lua_touserdata(L, 1);

    close_box(b);
    close_own_sim(L, 1, b);
    return 0;
}

static int dev_tostring(lua_State *L)
{
    struct ldev *b = todev(L);
    const struct dfu_devinfo *info;

    if (b->dev == NULL) {
        lua_pushstring(L, DFU_MT_DEVICE " (closed)");
        return 1;
    }
    info = dfu_dev_info(b->dev);
    {
        char buf[320]; /* lua_pushfstring has no %04x */

        snprintf(buf, sizeof buf, DFU_MT_DEVICE ": %s %04x:%04x alt %u @%s", info->backend,
                 (unsigned)info->vid, (unsigned)info->pid, (unsigned)dfu_dev_alt(b->dev),
                 info->path);
        lua_pushstring(L, buf);
    }
    return 1;
}

/* ---- information ---- */

static const struct dfu_alt *cur_alt(dfu_dev *d)
{
    size_t n, i;
    const struct dfu_alt *alts = dfu_dev_alts(d, &n);
    uint8_t a = dfu_dev_alt(d);

    for (i = 0; alts != NULL && i < n; i++)
        if (alts[i].alt == a)
            return &alts[i];
    return NULL;
}

static int dev_info(lua_State *L)
{
    struct ldev *b = checkdev(L);
    const struct dfu_alt *alt = cur_alt(b->dev);

    dfulua_checknargs(L, 1);
    dfulua_pushdevinfo(L, dfu_dev_info(b->dev)); /* [t] */
    dfulua_setint(L, "alt", dfu_dev_alt(b->dev));
    if (alt != NULL) {
        dfulua_setstr(L, "alt_name", alt->name);
    }
    dfulua_setbool(L, "dfuse", dfu_dev_is_dfuse(b->dev));
    return done(L, b, 1);
}

static int dev_alts(lua_State *L)
{
    struct ldev *b = checkdev(L);
    size_t n = 0, i;
    const struct dfu_alt *alts = dfu_dev_alts(b->dev, &n);

    dfulua_checknargs(L, 1);
    lua_createtable(L, (int)n, 0); /* [t] */
    for (i = 0; alts != NULL && i < n; i++) {
        lua_createtable(L, 0, 3); /* [t a] */
        dfulua_setint(L, "alt", alts[i].alt);
        dfulua_setstr(L, "name", alts[i].name);
        if (alts[i].has_layout) {
            dfulua_pushlayout(L, &alts[i].layout);
            lua_setfield(L, -2, "layout");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1); /* [t] */
    }
    return done(L, b, 1);
}

static int dev_alt(lua_State *L)
{
    struct ldev *b = checkdev(L);

    dfulua_checknargs(L, 1);
    lua_pushinteger(L, dfu_dev_alt(b->dev));
    return 1;
}

/* The alt argument @arg of find_alt/match_alt as a string: numbers in their decimal form. */
static const char *alt_arg(lua_State *L, int arg)
{
    if (lua_type(L, arg) == LUA_TNUMBER)
        return luaL_tolstring(L, arg, NULL); /* [.. want] */
    return luaL_checkstring(L, arg);
}

static int dev_find_alt(lua_State *L)
{
    struct ldev *b = checkdev(L);
    const char *want;
    struct dfu_err e;
    uint8_t alt = 0;
    int rc;

    dfulua_checknargs(L, 2);
    want = alt_arg(L, 2);
    dfu_err_clear(&e);
    rc = dfu_dev_find_alt(b->dev, want, &alt, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_pushinteger(L, alt);
    return done(L, b, 1);
}

static int dev_set_alt(lua_State *L)
{
    struct ldev *b = checkdev(L);
    struct dfu_err e;
    uint8_t alt = 0;
    int rc;

    dfulua_checknargs(L, 2);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer v = luaL_checkinteger(L, 2);

        luaL_argcheck(L, v >= 0 && v <= 255, 2, "alt out of range (0..255)");
    }
    dfu_err_clear(&e);
    rc = dfu_dev_find_alt(b->dev, alt_arg(L, 2), &alt, &e);
    if (rc == 0)
        rc = dfu_dev_set_alt(b->dev, alt, &e);
    return ok_or_fail(L, b, rc, &e);
}

static int dev_set_poll(lua_State *L)
{
    static const char *const names[] = {"spec", "early", NULL};
    struct ldev *b = checkdev(L);
    int p = luaL_checkoption(L, 2, NULL, names);

    dfulua_checknargs(L, 2);
    dfu_dev_set_poll(b->dev, p == 1 ? DFU_POLL_EARLY : DFU_POLL_SPEC);
    lua_pushboolean(L, 1);
    return 1;
}

static int dev_poll(lua_State *L)
{
    struct ldev *b = checkdev(L);

    dfulua_checknargs(L, 1);
    lua_pushstring(L, dfu_dev_poll(b->dev) == DFU_POLL_EARLY ? "early" : "spec");
    return 1;
}

static int dev_now(lua_State *L)
{
    struct ldev *b = checkdev(L);

    dfulua_checknargs(L, 1);
    lua_pushnumber(L, (lua_Number)dfu_dev_now_us(b->dev) / 1e6);
    return 1;
}

static int dev_transfers(lua_State *L)
{
    struct ldev *b = checkdev(L);

    dfulua_checknargs(L, 1);
    lua_pushinteger(L, (lua_Integer)dfu_dev_transfers(b->dev));
    return 1;
}

static int dev_last_error(lua_State *L)
{
    struct ldev *b = todev(L);
    const struct dfu_err *e = &b->err;

    dfulua_checknargs(L, 1);
    if (!b->has_err) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 10); /* [t] */
    dfulua_setstr(L, "code", dfu_err_name(e->code));
    lua_pushstring(L, e->code == DFU_E_INTERRUPTED
                          ? "interrupted"
                          : (e->msg[0] != '\0' ? e->msg : dfu_err_str(e->code)));
    lua_setfield(L, -2, "msg");
    dfulua_setint(L, "status", e->dfu_status);
    dfulua_setstr(L, "status_name", dfu_status_name(e->dfu_status));
    if (e->dfu_state != 0xFF) {
        dfulua_setint(L, "state", e->dfu_state);
        dfulua_setstr(L, "state_name", dfu_state_name(e->dfu_state));
    }
    if (e->has_addr) {
        dfulua_setint(L, "address", e->addr);
    }
    dfulua_setint(L, "sys", e->sys);
    return 1;
}

static int dev_on_log(lua_State *L)
{
    static const char *const levels[] = {"error", "warn", "info", "debug", "io", NULL};
    struct ldev *b = checkdev(L);
    int level;

    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    level = luaL_checkoption(L, 3, "debug", levels);
    dfulua_checknargs(L, 3);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, 2); /* uservalue 2 = fn (or nil) */
    b->log.level = level;
    b->log.fn = lua_isnil(L, 2) ? NULL : log_sink;
    if (b->log.fn == NULL)
        b->log_count = b->log_dropped = 0;
    dfu_dev_set_log(b->dev, &b->log);
    lua_pushboolean(L, 1);
    return 1;
}

static int dev_sim(lua_State *L)
{
    struct ldev *b = checkdev(L);

    dfulua_checknargs(L, 1);
    b->owns_sim = 0;                                   /* shared from now on */
    if (lua_getiuservalue(L, 1, 1) != LUA_TUSERDATA || /* [sim?] */
        luaL_testudata(L, -1, DFU_MT_SIM) == NULL) {
        lua_pushnil(L);
    }
    return 1;
}

/* ---- DFU 1.1 requests ---- */

static int dev_getstatus(lua_State *L)
{
    struct ldev *b = checkdev(L);
    struct dfu_status st;
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    rc = dfu_getstatus(b->dev, &st, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    pushstatus(L, &st);
    return done(L, b, 1);
}

static int dev_getstate(lua_State *L)
{
    struct ldev *b = checkdev(L);
    struct dfu_err e;
    uint8_t state = 0;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    rc = dfu_getstate(b->dev, &state, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_pushinteger(L, state);
    lua_pushstring(L, dfu_state_name(state));
    return done(L, b, 2);
}

/* Requests that take the device alone, or the device and an address: each kind is one
 * binding, registered as a closure over the request's index in its table. */
static const struct {
    const char *name;
    int (*fn)(dfu_dev *, struct dfu_err *);
} plain_requests[] = {
    {"clrstatus", dfu_clrstatus},
    {"abort", dfu_abort},
    {"abort_to_idle", dfu_abort_to_idle},
    {"mass_erase", dfuse_mass_erase},
    {"read_unprotect", dfuse_read_unprotect},
};

static const struct {
    const char *name;
    int (*fn)(dfu_dev *, uint32_t, struct dfu_err *);
} address_requests[] = {
    {"set_address", dfuse_set_address},
    {"erase_page", dfuse_erase_page},
};

/* dev:clrstatus(), dev:abort(), dev:abort_to_idle(), dev:mass_erase(), dev:read_unprotect() */
static int plain_request(lua_State *L)
{
    struct ldev *b = checkdev(L);
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(1));
    struct dfu_err e;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    return ok_or_fail(L, b, plain_requests[i].fn(b->dev, &e), &e);
}

/* dev:set_address(a), dev:erase_page(a) */
static int address_request(lua_State *L)
{
    struct ldev *b = checkdev(L);
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(1));
    uint32_t a = dfulua_checku32(L, 2);
    struct dfu_err e;

    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    return ok_or_fail(L, b, address_requests[i].fn(b->dev, a, &e), &e);
}

static int dev_detach(lua_State *L)
{
    struct ldev *b = checkdev(L);
    lua_Integer ms = luaL_optinteger(L, 2, 1000);
    struct dfu_err e;

    luaL_argcheck(L, ms >= 0 && ms <= 0xFFFF, 2, "out of range (0..65535)");
    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    return ok_or_fail(L, b, dfu_detach(b->dev, (uint16_t)ms, &e), &e);
}

/* dev:detach_and_reopen([timeout_ms]) -> true: a device in run-time mode (protocol 1) is sent
 * DFU_DETACH (and a bus reset unless it detaches itself) and this handle then holds the device
 * in DFU mode, with its new descriptors and alt settings; a device in DFU mode is left as it
 * is. A failure that lost the device closes the handle. */
static int dev_detach_and_reopen(lua_State *L)
{
    struct ldev *b = checkdev(L);
    lua_Integer ms = luaL_optinteger(L, 2, 5000);
    struct lsim *ls = NULL;
    dfu_dev *old = b->dev, *d = b->dev;
    struct dfu_err e;
    int rc;

    luaL_argcheck(L, ms >= 0 && ms <= 0x7FFFFFFF, 2, "out of range");
    dfulua_checknargs(L, 2);
    if (b->held) { /* the dfu.Sim that holds this device must hold the new one */
        lua_getiuservalue(L, 1, 1);
        ls = luaL_testudata(L, -1, DFU_MT_SIM);
        lua_pop(L, 1);
        if (ls == NULL || ls->dev != old)
            return luaL_error(L, "detach_and_reopen: not for a device opened by sim:device()");
    }
    dfu_err_clear(&e);
    rc = dfu_dev_detach_and_reopen(&d, (unsigned)ms, &e);
    if (d != old) {
        b->dev = NULL;
        if (ls != NULL) {
            ls->dev = d;
            if (d == NULL)
                ls->sim = NULL; /* its transport, closed with the device, freed it */
        }
        if (d != NULL)
            attach(b, d);
    }
    if (rc == 0)
        dfuse_stream_reset(b->dev);
    return ok_or_fail(L, b, rc, &e);
}

static int dev_dnload(lua_State *L)
{
    struct ldev *b = checkdev(L);
    uint16_t block = checku16(L, 2);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    struct dfu_err e;

    dfulua_checknargs(L, 3);
    dfu_err_clear(&e);
    return ok_or_fail(L, b, dfu_dnload(b->dev, block, (const uint8_t *)data, len, &e), &e);
}

static int dev_upload(lua_State *L)
{
    struct ldev *b = checkdev(L);
    uint16_t block = checku16(L, 2);
    size_t len = checku16(L, 3), got = 0;
    struct dfu_err e;
    uint8_t *buf;
    int rc;

    dfulua_checknargs(L, 3);
    dfu_err_clear(&e);
    buf = lua_newuserdatauv(L, len > 0 ? len : 1, 0); /* [.. scratch] */
    rc = dfu_upload(b->dev, block, buf, len, &got, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_pushlstring(L, (const char *)buf, got); /* [.. scratch s] */
    return done(L, b, 1);
}

static int dev_wait_status(lua_State *L)
{
    struct ldev *b = checkdev(L);
    lua_Integer ceil = luaL_optinteger(L, 2, 5000);
    struct dfu_status st;
    struct dfu_err e;
    int rc;

    luaL_argcheck(L, ceil >= 0 && ceil <= 0x7FFFFFFF, 2, "out of range");
    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    rc = dfu_wait_status(b->dev, &st, (unsigned)ceil, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    pushstatus(L, &st);
    return done(L, b, 1);
}

/* ---- DfuSe ---- */

static int dev_get_commands(lua_State *L)
{
    struct ldev *b = checkdev(L);
    uint8_t cmds[64];
    size_t n = 0, i;
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    rc = dfuse_get_commands(b->dev, cmds, sizeof cmds, &n, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n && i < sizeof cmds; i++) {
        lua_pushinteger(L, cmds[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return done(L, b, 1);
}

static int dev_write(lua_State *L)
{
    struct ldev *b = checkdev(L);
    uint32_t a;
    size_t len;
    const uint8_t *data = dfulua_checkdata(L, 2, &a, &len);
    struct dfu_err e;

    dfu_err_clear(&e);
    return ok_or_fail(L, b, dfuse_write(b->dev, a, data, len, NULL, &e), &e);
}

static int dev_read(lua_State *L)
{
    struct ldev *b = checkdev(L);
    uint32_t a = dfulua_checku32(L, 2);
    size_t len = checklen(L, 3);
    struct dfu_err e;
    uint8_t *buf;
    int rc;

    luaL_argcheck(L, (uint64_t)a + len <= 0x100000000ull, 3, "range runs past 0xFFFFFFFF");
    dfulua_checknargs(L, 3);
    dfu_err_clear(&e);
    buf = lua_newuserdatauv(L, len > 0 ? len : 1, 0); /* [.. scratch] */
    rc = dfuse_read(b->dev, a, buf, len, NULL, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_pushlstring(L, (const char *)buf, len); /* [.. scratch s] */
    return done(L, b, 1);
}

static int dev_leave(lua_State *L)
{
    struct ldev *b = checkdev(L);
    uint32_t a = dfulua_checku32(L, 2);
    struct dfu_status st;
    struct dfu_err e;
    int answered = 0, rc;

    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    memset(&st, 0, sizeof st);
    rc = dfuse_leave(b->dev, a, &st, &answered, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_createtable(L, 0, 3); /* [t] */
    dfulua_setbool(L, "answered", answered);
    if (answered) {
        dfulua_setint(L, "state", st.state);
        dfulua_setstr(L, "state_name", dfu_state_name(st.state));
        dfulua_setint(L, "status", st.status);
    }
    return done(L, b, 1);
}

/* ---- plain DFU 1.1 ---- */

static int dev_download(lua_State *L)
{
    struct ldev *b = checkdev(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    struct dfu_err e;

    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    return ok_or_fail(L, b, dfu_download(b->dev, (const uint8_t *)data, len, NULL, &e), &e);
}

static int dev_upload_all(lua_State *L)
{
    struct ldev *b = checkdev(L);
    size_t cap = checklen(L, 2), got = 0;
    struct dfu_err e;
    uint8_t *buf;
    int rc;

    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    buf = lua_newuserdatauv(L, cap > 0 ? cap : 1, 0); /* [.. scratch] */
    rc = dfu_upload_all(b->dev, buf, cap, &got, NULL, &e);
    if (rc < 0)
        return failed(L, b, rc, &e);
    lua_pushlstring(L, (const char *)buf, got);
    return done(L, b, 1);
}

static int dev_reenumerate(lua_State *L)
{
    struct ldev *b = checkdev(L);
    lua_Integer ms = luaL_optinteger(L, 2, 5000);
    struct dfu_err e;
    int rc;

    luaL_argcheck(L, ms >= 0 && ms <= 0x7FFFFFFF, 2, "out of range");
    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    rc = dfu_transport_wait_reenumerate(dfu_dev_transport(b->dev), (unsigned)ms, &e);
    if (rc == 0)
        dfuse_stream_reset(b->dev);
    return ok_or_fail(L, b, rc, &e);
}

/* dev:bus_reset() -> true: a USB bus reset of the device (libusb_reset_device; the simulator
 * re-initialises the ROM's DFU class, as a real ROM does). A device that left the bus gives
 * nil, msg, "NO_DEVICE". */
static int dev_bus_reset(lua_State *L)
{
    struct ldev *b = checkdev(L);
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    rc = dfu_transport_reset(dfu_dev_transport(b->dev), &e);
    if (rc == 0)
        dfuse_stream_reset(b->dev);
    return ok_or_fail(L, b, rc, &e);
}

static const luaL_Reg dev_methods[] = {
    {"close", dev_close},
    {"info", dev_info},
    {"alts", dev_alts},
    {"alt", dev_alt},
    {"set_alt", dev_set_alt},
    {"find_alt", dev_find_alt},
    {"set_poll", dev_set_poll},
    {"poll", dev_poll},
    {"now", dev_now},
    {"transfers", dev_transfers},
    {"last_error", dev_last_error},
    {"on_log", dev_on_log},
    {"sim", dev_sim},
    {"getstatus", dev_getstatus},
    {"getstate", dev_getstate},
    {"detach", dev_detach},
    {"detach_and_reopen", dev_detach_and_reopen},
    {"dnload", dev_dnload},
    {"upload", dev_upload},
    {"wait_status", dev_wait_status},
    {"get_commands", dev_get_commands},
    {"write", dev_write},
    {"read", dev_read},
    {"leave", dev_leave},
    {"download", dev_download},
    {"upload_all", dev_upload_all},
    {"reenumerate", dev_reenumerate},
    {"bus_reset", dev_bus_reset},
    {NULL, NULL},
};

static const luaL_Reg dev_meta[] = {
    {"__index", NULL}, /* placeholder: the methods table */
    {"__gc", dev_gc},  {"__close", dev_gc}, {"__tostring", dev_tostring}, {NULL, NULL},
};

void dfulua_dev_types(lua_State *L)
{
    dfulua_newclass(L, DFU_MT_DEVICE, dev_meta, dev_methods); /* [methods] */
    for (size_t i = 0; i < sizeof plain_requests / sizeof plain_requests[0]; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, plain_request, 1);
        lua_setfield(L, -2, plain_requests[i].name);
    }
    for (size_t i = 0; i < sizeof address_requests / sizeof address_requests[0]; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, address_request, 1);
        lua_setfield(L, -2, address_requests[i].name);
    }
    lua_pop(L, 1);
}

/* ---- module functions ---- */

/* Up to this many devices are reported by one list() call. */
#define LIST_MAX 64

struct list_acc {
    struct dfu_devinfo *infos;
    size_t n;
};

/* Runs inside the core's (and libusb's) frames: copies only, no Lua calls. */
static int list_found(void *ud, const struct dfu_devinfo *info)
{
    struct list_acc *acc = ud;

    if (acc->n < LIST_MAX)
        acc->infos[acc->n++] = *info;
    return 0;
}

static int mod_list(lua_State *L)
{
    const char *s = luaL_optstring(L, 1, "usb");
    struct dfu_devspec spec;
    struct list_acc acc;
    struct dfu_err e;
    size_t i;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    rc = dfu_devspec_parse(s, &spec, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    acc.infos = lua_newuserdatauv(L, LIST_MAX * sizeof *acc.infos, 0); /* [scratch] */
    acc.n = 0;
    rc = dfu_list(&spec, list_found, &acc, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_createtable(L, (int)acc.n, 0); /* [scratch t] */
    for (i = 0; i < acc.n; i++) {
        dfulua_pushdevinfo(L, &acc.infos[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

int dfulua_sim_device(lua_State *L, int simidx)
{
    dfu_sim *s = dfulua_checksim(L, simidx);
    struct dfu_transport *t = NULL;
    struct dfu_devinfo info;
    struct dfu_err e;
    dfu_dev *d = NULL;
    struct ldev *b;
    int rc;

    b = newdev(L, simidx); /* [dev] keeps the sim alive */
    dfu_err_clear(&e);
    rc = dfu_sim_devinfo(s, &info, &e);
    if (rc == 0)
        rc = dfu_sim_transport(s, 0, &t, &e);
    if (rc == 0)
        rc = dfu_dev_open(t, &info, &d, &e); /* the transport now belongs to the device */
    if (rc < 0)
        return dfulua_fail(L, rc, &e); /* [dev(closed) nil msg code] */
    attach(b, d);
    return 1;
}

static int mod_open(lua_State *L)
{
    const char *s = luaL_optstring(L, 1, "usb");
    struct dfu_err e;
    struct ldev *b;
    dfu_dev *d = NULL;
    dfu_sim *sim;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    b = newdev(L, 0); /* [dev] */
    rc = dfu_open(s, &d, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    attach(b, d);
    sim = dfu_sim_from_transport(dfu_dev_transport(d));
    if (sim != NULL) {
        /* The device's transport owns a simulator: a dfu.Sim that the device keeps alive takes
         * the C device over, so dev:sim() shares the simulator, which outlives dev:close() for
         * as long as that dfu.Sim is reachable. */
        struct lsim *ls = dfulua_newsim(L); /* [dev sim] */

        ls->sim = sim;
        ls->dev = d;
        b->held = 1;
        b->owns_sim = 1;
        lua_setiuservalue(L, -2, 1); /* [dev] */
    }
    return 1;
}

/* core.match_alt(alts, want) -> index of the alt @want names in the array @alts of
 * {alt=, name=, layout={name=}} tables (dev:alts() form) | nil, msg, code. */
static int mod_match_alt(lua_State *L)
{
    const char *want;
    struct dfu_alt *alts;
    struct lbox *box;
    struct dfu_err e;
    size_t n, pick = 0;
    int rc, top;

    luaL_checktype(L, 1, LUA_TTABLE);
    dfulua_checknargs(L, 2);
    want = alt_arg(L, 2);
    n = (size_t)luaL_len(L, 1);
    box = dfulua_newbox(L); /* [.. box]: frees the array even if a check below raises */
    alts = box->mem = calloc(n > 0 ? n : 1, sizeof *alts);
    if (alts == NULL)
        return luaL_error(L, "out of memory");
    top = lua_gettop(L);
    for (size_t i = 0; i < n; i++, lua_settop(L, top)) {
        lua_Integer alt;
        int isnum = 0;

        luaL_argcheck(L, lua_geti(L, 1, (lua_Integer)i + 1) == LUA_TTABLE, 1, /* [.. a] */
                      "array of alt tables expected");
        lua_getfield(L, -1, "alt"); /* [.. a alt] */
        alt = lua_tointegerx(L, -1, &isnum);
        luaL_argcheck(L, isnum && alt >= 0 && alt <= 255, 1, "alt tables need alt (0..255)");
        alts[i].alt = (uint8_t)alt;
        if (lua_getfield(L, -2, "name") == LUA_TSTRING) /* [.. a alt name] */
            snprintf(alts[i].name, sizeof alts[i].name, "%s", lua_tostring(L, -1));
        if (lua_getfield(L, -3, "layout") == LUA_TTABLE && /* [.. a alt name layout] */
            lua_getfield(L, -1, "name") == LUA_TSTRING) {  /* [.. a alt name layout lname] */
            alts[i].has_layout = 1;
            snprintf(alts[i].layout.name, sizeof alts[i].layout.name, "%s", lua_tostring(L, -1));
        }
    }
    dfu_err_clear(&e);
    rc = dfu_alt_match(alts, n, want, &pick, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushinteger(L, (lua_Integer)pick + 1);
    return 1;
}

static int mod_parse_layout(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    struct lbox *box;
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    box = dfulua_newbox(L); /* [box]: frees the runs even if building the table raises */
    rc = dfu_layout_parse(s, &box->layout, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    box->has_layout = 1;
    dfulua_pushlayout(L, &box->layout); /* [box t] */
    dfulua_box_release(box);
    return 1;
}

static void name_table(lua_State *L, const char *field, int n, const int *vals,
                       const char *const *names)
{
    int i;

    lua_createtable(L, n, n); /* [mod t] */
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, vals[i]);
        lua_setfield(L, -2, names[i]); /* t[name] = value */
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, vals[i]); /* t[value] = name */
    }
    lua_setfield(L, -2, field); /* [mod] */
}

static void constants(lua_State *L)
{
#define DFU_V_(n, v, s) v,
#define DFU_N_(n, v, s) s,
#define DFU_E_V_(n, v, d) DFU_E_##n,
#define DFU_E_N_(n, v, d) #n,
    static const int status_v[] = {DFU_STATUS_LIST(DFU_V_)};
    static const char *const status_n[] = {DFU_STATUS_LIST(DFU_N_)};
    static const int state_v[] = {DFU_STATE_LIST(DFU_V_)};
    static const char *const state_n[] = {DFU_STATE_LIST(DFU_N_)};
    static const int err_v[] = {DFU_ERR_LIST(DFU_E_V_)};
    static const char *const err_n[] = {DFU_ERR_LIST(DFU_E_N_)};
#undef DFU_V_
#undef DFU_N_
#undef DFU_E_V_
#undef DFU_E_N_

    name_table(L, "STATUS", (int)(sizeof status_v / sizeof status_v[0]), status_v, status_n);
    name_table(L, "STATE", (int)(sizeof state_v / sizeof state_v[0]), state_v, state_n);
    name_table(L, "ERR", (int)(sizeof err_v / sizeof err_v[0]), err_v, err_n);
}

/* core.interrupted() -> whether Ctrl-C stopped the current call of the dfush host (the flag
 * its SIGINT handler sets; always false in other interpreters). */
static int mod_interrupted(lua_State *L)
{
    lua_pushboolean(L, dfulua_interrupt != 0);
    return 1;
}

/* core.hold_interrupts(on) -> whether a Ctrl-C arrived while they were held. While held, the
 * dfush host notes Ctrl-C instead of stopping the Lua code: a job that has finished still
 * prints its report. Releasing a hold that caught one sets the interrupt flag (exit 130). */
static int mod_hold_interrupts(lua_State *L)
{
    int on;

    luaL_checktype(L, 1, LUA_TBOOLEAN);
    on = lua_toboolean(L, 1);
    dfulua_hold_interrupt = on;
    lua_pushboolean(L, dfulua_pending_interrupt != 0);
    if (!on && dfulua_pending_interrupt) {
        dfulua_pending_interrupt = 0;
        dfulua_interrupt = 1;
    }
    return 1;
}

/* core.isatty(fd) -> whether file descriptor fd (0, 1, 2) is a terminal. Asked in-process:
 * running `test -t` through os.execute would ignore Ctrl-C while the shell runs (system()). */
static int mod_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);

    luaL_argcheck(L, fd >= 0 && fd <= 2, 1, "0, 1 or 2 expected");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

/* core.sleep(ms) -> true after ms milliseconds of real time; nil, "interrupted", "INTERRUPTED"
 * as soon as Ctrl-C was pressed (checked every 10 ms). */
static int mod_sleep(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    uint64_t end;

    luaL_argcheck(L, ms >= 0 && ms <= 0x7FFFFFFF, 1, "out of range");
    dfulua_checknargs(L, 1);
    end = dfu_clock_now_us() + (uint64_t)ms * 1000u;
    for (;;) {
        uint64_t now = dfu_clock_now_us();

        if (dfulua_interrupt) {
            lua_pushnil(L);
            lua_pushliteral(L, "interrupted");
            lua_pushliteral(L, "INTERRUPTED");
            return 3;
        }
        if (now >= end)
            break;
        dfu_clock_sleep_us(end - now < 10000u ? end - now : 10000u);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* nil, "PATH: strerror", CODE for a directory that cannot be listed. */
static int listdir_fail(lua_State *L, const char *path, int e)
{
    int code = e == ENOENT                 ? DFU_E_NOT_FOUND
               : e == EACCES || e == EPERM ? DFU_E_ACCESS
               : e == ENOTDIR              ? DFU_E_INVALID
               : e == ENOMEM               ? DFU_E_NOMEM
                                           : DFU_E_IO;

    return dfulua_failmsg(L, code, lua_pushfstring(L, "%s: %s", path, strerror(e)));
}

/* core.listdir(path) -> array of the names in directory @path, without "." and "..", in no
 * particular order; nil, msg, code when it cannot be listed. No shell is involved, so any
 * character in @path is just a character. The names are gathered into a scratch box while the
 * directory is open and only then pushed: a raise cannot leak the directory handle, and the box
 * frees the names. */
static int mod_listdir(lua_State *L)
{
    size_t used = 0, cap = 0;
    lua_Integer count = 0;

    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_typeerror(L, 1, "string");
    dfulua_checknargs(L, 1);
    size_t plen;
    const char *path = lua_tolstring(L, 1, &plen);
    luaL_argcheck(L, strlen(path) == plen, 1, "path contains a NUL byte");
    struct lbox *box = dfulua_newbox(L); /* [path box] */
    DIR *d = opendir(path);
    if (d == NULL)
        return listdir_fail(L, path, errno);
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL)
            break;
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        size_t len = strlen(name) + 1;
        if (len > cap - used) {
            size_t nc = cap != 0 ? cap : 4096;
            while (nc - used < len)
                nc *= 2;
            char *p = realloc(box->mem, nc);
            if (p == NULL) {
                closedir(d);
                return dfulua_failmsg(L, DFU_E_NOMEM, "out of memory");
            }
            box->mem = p;
            cap = nc;
        }
        memcpy((char *)box->mem + used, name, len);
        used += len;
        count++;
    }
    int e = errno;
    closedir(d);
    if (e != 0)
        return listdir_fail(L, path, e);
    lua_createtable(L, count > INT_MAX ? INT_MAX : (int)count, 0); /* [path box t] */
    const char *p = box->mem;
    for (lua_Integer i = 1; i <= count; i++) {
        lua_pushstring(L, p);
        lua_rawseti(L, -2, i);
        p += strlen(p) + 1;
    }
    dfulua_box_release(box);
    return 1;
}

static const luaL_Reg mod_funcs[] = {
    {"hold_interrupts", mod_hold_interrupts},
    {"interrupted", mod_interrupted},
    {"isatty", mod_isatty},
    {"list", mod_list},
    {"listdir", mod_listdir},
    {"match_alt", mod_match_alt},
    {"open", mod_open},
    {"parse_layout", mod_parse_layout},
    {"sleep", mod_sleep},
    {NULL, NULL},
};

int luaopen_dfu_core(lua_State *L)
{
    dfulua_init_types(L);
    luaL_newlib(L, mod_funcs); /* [mod] */
    constants(L);
    dfulua_setstr(L, "version", DFU_VERSION);
    /* what this build has: the USB backend (libusb) and the ELF reader (libelf) */
    lua_createtable(L, 0, 2);
#ifdef DFU_WITH_LIBUSB
    lua_pushboolean(L, 1);
#else
    lua_pushboolean(L, 0);
#endif
    lua_setfield(L, -2, "libusb");
#ifdef DFU_WITH_LIBELF
    lua_pushboolean(L, 1);
#else
    lua_pushboolean(L, 0);
#endif
    lua_setfield(L, -2, "libelf");
    lua_setfield(L, -2, "features");
    return 1;
}
