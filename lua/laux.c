/* Shared helpers of the Lua binding: failure results, argument checks, scratch boxes,
 * layout and device-info tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laux.h"

volatile sig_atomic_t dfulua_interrupt = 0;
volatile sig_atomic_t dfulua_hold_interrupt = 0;
volatile sig_atomic_t dfulua_pending_interrupt = 0;

int dfulua_failmsg(lua_State *L, int code, const char *msg)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg != NULL && msg[0] != '\0' ? msg : dfu_err_str(code));
    lua_pushstring(L, dfu_err_name(code));
    return 3;
}

int dfulua_fail(lua_State *L, int code, const struct dfu_err *e)
{
    if (code == DFU_E_INTERRUPTED)
        return dfulua_failmsg(L, code, "interrupted");
    return dfulua_failmsg(L, code, e != NULL ? e->msg : NULL);
}

void dfulua_checknargs(lua_State *L, int max)
{
    int n = lua_gettop(L);
    int i;

    for (i = max + 1; i <= n; i++)
        if (!lua_isnil(L, i))
            luaL_argerror(L, i, "no value expected");
}

uint32_t dfulua_checku32(lua_State *L, int arg)
{
    lua_Integer v = luaL_checkinteger(L, arg);

    luaL_argcheck(L, v >= 0 && v <= 0xFFFFFFFFll, arg, "out of range (0..0xFFFFFFFF)");
    return (uint32_t)v;
}

const uint8_t *dfulua_checkdata(lua_State *L, int arg, uint32_t *addr, size_t *len)
{
    const char *data;

    *addr = dfulua_checku32(L, arg);
    data = luaL_checklstring(L, arg + 1, len);
    luaL_argcheck(L, (uint64_t)*addr + *len <= 0x100000000ull, arg + 1,
                  "data runs past 0xFFFFFFFF");
    dfulua_checknargs(L, arg + 1);
    return (const uint8_t *)data;
}

lua_Integer dfulua_optfield(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer lo,
                            lua_Integer hi)
{
    lua_Integer v = def;
    int isnum = 0;

    if (lua_isnoneornil(L, idx))
        return def;
    if (lua_getfield(L, idx, k) != LUA_TNIL) { /* [.. v] */
        v = lua_tointegerx(L, -1, &isnum);
        if (!isnum || v < lo || v > hi) {
            lua_pop(L, 1);
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "bad field '%s' (integer expected in range)", k));
        }
    }
    lua_pop(L, 1);
    return v;
}

/* ---- scratch boxes ---- */

void dfulua_box_release(struct lbox *b)
{
    free(b->mem);
    b->mem = NULL;
    if (b->has_layout) {
        dfu_layout_free(&b->layout);
        b->has_layout = 0;
    }
}

static int box_gc(lua_State *L)
{
    dfulua_box_release(luaL_checkudata(L, 1, DFU_MT_BOX));
    return 0;
}

static int box_tostring(lua_State *L)
{
    struct lbox *b = luaL_checkudata(L, 1, DFU_MT_BOX);

    lua_pushstring(L, b->mem != NULL || b->has_layout ? DFU_MT_BOX : DFU_MT_BOX " (closed)");
    return 1;
}

struct lbox *dfulua_newbox(lua_State *L)
{
    struct lbox *b = lua_newuserdatauv(L, sizeof *b, 0); /* [box] */

    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, DFU_MT_BOX);
    return b;
}

static void box_types(lua_State *L)
{
    static const luaL_Reg box_meta[] = {
        {"__gc", box_gc},
        {"__close", box_gc},
        {"__tostring", box_tostring},
        {NULL, NULL},
    };

    if (luaL_newmetatable(L, DFU_MT_BOX)) /* [mt] */
        luaL_setfuncs(L, box_meta, 0);
    lua_pop(L, 1);
}

void dfulua_init_types(lua_State *L)
{
    box_types(L);
    dfulua_dev_types(L);
    dfulua_img_types(L);
    dfulua_sim_types(L);
}

/* ---- layouts ---- */

void dfulua_pushlayout(lua_State *L, const struct dfu_layout *l)
{
    size_t i;

    lua_createtable(L, 0, 3); /* [t] */
    dfulua_setstr(L, "name", l->name);
    lua_createtable(L, (int)l->nruns, 0); /* [t runs] */
    for (i = 0; i < l->nruns; i++) {
        const struct dfu_sector_run *r = &l->runs[i];

        lua_createtable(L, 0, 7); /* [t runs run] */
        dfulua_setint(L, "address", r->addr);
        dfulua_setint(L, "count", r->count);
        dfulua_setint(L, "size", r->size);
        dfulua_setint(L, "type", r->type);
        dfulua_setbool(L, "readable", (r->type & DFU_MEM_READABLE) != 0);
        dfulua_setbool(L, "erasable", (r->type & DFU_MEM_ERASABLE) != 0);
        dfulua_setbool(L, "writable", (r->type & DFU_MEM_WRITABLE) != 0);
        lua_rawseti(L, -2, (lua_Integer)i + 1); /* [t runs] */
    }
    lua_setfield(L, -2, "runs"); /* [t] */
    dfulua_setint(L, "total", (lua_Integer)dfu_layout_total(l));
}

static uint32_t runfield(lua_State *L, int arg, const char *k, int required)
{
    lua_Integer v;
    int isnum = 0;

    lua_getfield(L, -1, k); /* [.. run v] */
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        return 0;
    }
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum || v < 0 || v > 0xFFFFFFFFll)
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "layout run field '%s' must be a 32-bit integer", k));
    lua_pop(L, 1);
    return (uint32_t)v;
}

int dfulua_tolayout(lua_State *L, int idx, struct dfu_layout *out, struct dfu_err *err)
{
    struct lbox *box;
    struct dfu_sector_run *runs;
    lua_Integer n, i;
    int runsidx;

    idx = lua_absindex(L, idx);
    memset(out, 0, sizeof *out);
    if (lua_type(L, idx) == LUA_TSTRING) {
        int rc;

        box = dfulua_newbox(L); /* [.. box] */
        rc = dfu_layout_parse(lua_tostring(L, idx), &box->layout, err);
        if (rc < 0)
            return rc;
        box->has_layout = 1;
        *out = box->layout;
        return 0;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "runs") != LUA_TTABLE) { /* [.. runs?] */
        lua_pop(L, 1);
        lua_pushvalue(L, idx); /* a bare array of runs */
    }
    runsidx = lua_gettop(L);
    n = luaL_len(L, runsidx);
    box = dfulua_newbox(L); /* [.. runs box] */
    box->mem = calloc(n > 0 ? (size_t)n : 1, sizeof *runs);
    if (box->mem == NULL)
        return luaL_error(L, "not enough memory");
    runs = box->mem;
    for (i = 1; i <= n; i++) {
        struct dfu_sector_run *r = &runs[i - 1];

        if (lua_geti(L, runsidx, i) != LUA_TTABLE) /* [.. runs box run] */
            luaL_argerror(L, idx, "layout runs must be tables");
        r->addr = runfield(L, idx, "address", 1);
        r->count = runfield(L, idx, "count", 1);
        r->size = runfield(L, idx, "size", 1);
        if (lua_getfield(L, -1, "type") == LUA_TNIL) { /* [.. run type] */
            lua_pop(L, 1);
            lua_getfield(L, -1, "readable");
            r->type |= lua_toboolean(L, -1) ? DFU_MEM_READABLE : 0;
            lua_getfield(L, -2, "erasable");
            r->type |= lua_toboolean(L, -1) ? DFU_MEM_ERASABLE : 0;
            lua_getfield(L, -3, "writable");
            r->type |= lua_toboolean(L, -1) ? DFU_MEM_WRITABLE : 0;
            lua_pop(L, 3);
        } else {
            lua_pop(L, 1);
            r->type = (uint8_t)(runfield(L, idx, "type", 1) & 7u);
        }
        lua_pop(L, 1); /* [.. runs box] */
    }
    lua_remove(L, runsidx); /* [.. box] */
    out->runs = runs;
    out->nruns = (size_t)n;
    (void)err;
    return 0;
}

/* ---- table fields: t[k] = v for the table on top of the stack ---- */

void dfulua_setint(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

void dfulua_setbool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

void dfulua_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    if (luaL_newmetatable(L, name)) { /* [mt] */
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L); /* [mt methods] */
        luaL_setfuncs(L, methods, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__index"); /* [mt methods] */
    } else {
        lua_getfield(L, -1, "__index"); /* [mt methods] */
    }
    lua_remove(L, -2); /* [methods] */
}

void dfulua_setstr(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/* ---- device info ---- */

void dfulua_pushdevinfo(lua_State *L, const struct dfu_devinfo *info)
{
    lua_createtable(L, 0, 16); /* [t] */
    dfulua_setstr(L, "backend", info->backend);
    dfulua_setint(L, "vid", info->vid);
    dfulua_setint(L, "pid", info->pid);
    dfulua_setint(L, "bcd_device", info->bcd_device);
    dfulua_setint(L, "bcd_dfu", info->bcd_dfu);
    dfulua_setint(L, "transfer_size", info->transfer_size);
    dfulua_setint(L, "detach_timeout", info->detach_timeout);
    dfulua_setint(L, "attributes", info->attributes);
    dfulua_setstr(L, "serial", info->serial);
    dfulua_setstr(L, "product", info->product);
    dfulua_setstr(L, "path", info->path);
    dfulua_setint(L, "intf", info->intf);
    dfulua_setint(L, "alt", info->alt);
    dfulua_setstr(L, "alt_name", info->alt_name);
    dfulua_setint(L, "protocol", info->protocol);
    dfulua_setbool(L, "dfuse", info->bcd_dfu == 0x011A);
}
