/*
 * dfu.sim: the device simulator as a Lua object: create one from a spec string, open devices
 * over it, inspect its memory, clock and event log, inject faults.
 */
#include <stdio.h>
#include <string.h>

#include "laux.h"

struct lsim *dfulua_newsim(lua_State *L)
{
    struct lsim *s = lua_newuserdatauv(L, sizeof *s, 0); /* [ud] */

    s->sim = NULL;
    s->dev = NULL;
    luaL_setmetatable(L, DFU_MT_SIM);
    return s;
}

dfu_sim *dfulua_checksim(lua_State *L, int arg)
{
    struct lsim *s = luaL_checkudata(L, arg, DFU_MT_SIM);

    if (s->sim == NULL)
        luaL_error(L, "attempt to use a closed " DFU_MT_SIM);
    return s->sim;
}

static int sim_gc(lua_State *L)
{
    struct lsim *s = lua_touserdata(L, 1);

    if (s != NULL && s->sim != NULL) {
        dfu_sim *sim = s->sim;

        s->sim = NULL;
        if (s->dev != NULL) {
            dfu_dev *d = s->dev;

            s->dev = NULL;
            dfu_dev_close(d); /* its transport frees the simulator */
        } else
            dfu_sim_free(sim); /* saves the state= file, if any */
    }
    return 0;
}

static const char *mode_name(enum dfu_sim_mode m)
{
    switch (m) {
    case DFU_SIM_ROM:
        return "rom";
    case DFU_SIM_GONE:
        return "gone";
    case DFU_SIM_APP:
        return "app";
    case DFU_SIM_HANG:
        return "hang";
    }
    return "unknown";
}

static int sim_tostring(lua_State *L)
{
    struct lsim *s = luaL_checkudata(L, 1, DFU_MT_SIM);
    char buf[160];

    if (s->sim == NULL) {
        lua_pushstring(L, DFU_MT_SIM " (closed)");
        return 1;
    }
    snprintf(buf, sizeof buf, DFU_MT_SIM ": %s (%s, t=%.6fs)", dfu_sim_profile(s->sim),
             mode_name(dfu_sim_mode(s->sim)), (double)dfu_sim_now_us(s->sim) / 1e6);
    lua_pushstring(L, buf);
    return 1;
}

static int sim_device(lua_State *L)
{
    dfulua_checksim(L, 1);
    dfulua_checknargs(L, 1);
    return dfulua_sim_device(L, 1);
}

static int sim_read(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);
    uint32_t a = dfulua_checku32(L, 2);
    lua_Integer len = luaL_checkinteger(L, 3);
    struct dfu_err e;
    uint8_t *buf;
    int rc;

    luaL_argcheck(L, len >= 0 && (uint64_t)a + (uint64_t)len <= 0x100000000ull, 3,
                  "length out of range");
    dfulua_checknargs(L, 3);
    dfu_err_clear(&e);
    buf = lua_newuserdatauv(L, len > 0 ? (size_t)len : 1, 0); /* [.. scratch] */
    rc = dfu_sim_read_mem(s, a, buf, (size_t)len, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushlstring(L, (const char *)buf, (size_t)len);
    return 1;
}

static int sim_write(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);
    uint32_t a;
    size_t len;
    const uint8_t *data = dfulua_checkdata(L, 2, &a, &len);
    struct dfu_err e;
    int rc;

    dfu_err_clear(&e);
    rc = dfu_sim_write_mem(s, a, data, len, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int sim_events(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);
    size_t n, i;

    dfulua_checknargs(L, 1);
    n = dfu_sim_event_count(s);
    lua_createtable(L, (int)n, 0); /* [t] */
    for (i = 0; i < n; i++) {
        lua_pushstring(L, dfu_sim_event(s, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int sim_now(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);

    dfulua_checknargs(L, 1);
    lua_pushnumber(L, (lua_Number)dfu_sim_now_us(s) / 1e6);
    return 1;
}

static int sim_advance(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);
    lua_Number sec = luaL_checknumber(L, 2);

    luaL_argcheck(L, sec >= 0 && sec < 1e9, 2, "seconds out of range");
    dfulua_checknargs(L, 2);
    dfu_sim_advance(s, (uint64_t)(sec * 1e6 + 0.5));
    lua_pushboolean(L, 1);
    return 1;
}

static int sim_mode(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);

    dfulua_checknargs(L, 1);
    lua_pushstring(L, mode_name(dfu_sim_mode(s)));
    return 1;
}

static int sim_inject(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);
    const char *faults = luaL_checkstring(L, 2);
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    rc = dfu_sim_inject(s, faults, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int sim_save(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    rc = dfu_sim_save(s, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int sim_profile(lua_State *L)
{
    dfu_sim *s = dfulua_checksim(L, 1);

    dfulua_checknargs(L, 1);
    lua_pushstring(L, dfu_sim_profile(s));
    return 1;
}

static const luaL_Reg sim_methods[] = {
    {"device", sim_device}, {"read", sim_read},       {"write", sim_write}, {"events", sim_events},
    {"now", sim_now},       {"advance", sim_advance}, {"mode", sim_mode},   {"inject", sim_inject},
    {"save", sim_save},     {"profile", sim_profile}, {NULL, NULL},
};

static const luaL_Reg sim_meta[] = {
    {"__index", NULL}, /* placeholder: the methods table */
    {"__gc", sim_gc},
    {"__tostring", sim_tostring},
    {NULL, NULL},
};

void dfulua_sim_types(lua_State *L)
{
    dfulua_newclass(L, DFU_MT_SIM, sim_meta, sim_methods); /* [methods] */
    lua_pop(L, 1);
}

static int mod_profiles(lua_State *L)
{
    const char *const *p = dfu_sim_profiles();
    lua_Integer i = 0;

    dfulua_checknargs(L, 0);
    lua_newtable(L); /* [t] */
    for (; p != NULL && *p != NULL; p++) {
        lua_pushstring(L, *p);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

static int mod_new(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    struct lsim *s;
    dfu_sim *sim = NULL;
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 1);
    dfu_err_clear(&e);
    if (strncmp(spec, "sim:", 4) == 0)
        spec += 4;
    s = dfulua_newsim(L); /* [sim]: anchored before the C object exists */
    rc = dfu_sim_new(spec, &sim, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    s->sim = sim; /* ownership moves to the Lua GC */
    return 1;
}

static const luaL_Reg mod_funcs[] = {
    {"profiles", mod_profiles},
    {"new", mod_new},
    {NULL, NULL},
};

int luaopen_dfu_sim(lua_State *L)
{
    dfulua_init_types(L);
    luaL_newlib(L, mod_funcs);
    return 1;
}
