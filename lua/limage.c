/*
 * dfu.image: firmware images (ELF, Intel HEX, S-record, DfuSe, raw binary) as sorted,
 * coalesced segments, with the operations a flasher needs and the writers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laux.h"

/* Writers add a gap warning for raw binaries with holes larger than this. */
#define BIN_GAP_WARN 0x10000u

struct limg *dfulua_newimg(lua_State *L)
{
    struct limg *b = lua_newuserdatauv(L, sizeof *b, 1); /* [ud] */

    b->img = NULL;
    b->owned = 1;
    luaL_setmetatable(L, DFU_MT_IMAGE);
    return b;
}

static struct limg *toimg(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, DFU_MT_IMAGE);
}

static dfu_image *checkimg(lua_State *L, int arg)
{
    struct limg *b = toimg(L, arg);

    if (b->img == NULL)
        luaL_error(L, "attempt to use a closed " DFU_MT_IMAGE);
    return b->img;
}

static int img_gc(lua_State *L)
{
    struct limg *b = lua_touserdata(L, 1);

    if (b != NULL && b->img != NULL) {
        dfu_image *img = b->img;

        b->img = NULL;
        if (b->owned)
            dfu_image_free(img);
    }
    return 0;
}

static int img_tostring(lua_State *L)
{
    struct limg *b = toimg(L, 1);
    char buf[200];
    size_t n;

    if (b->img == NULL) {
        lua_pushstring(L, DFU_MT_IMAGE " (closed)");
        return 1;
    }
    n = dfu_image_count(b->img);
    if (n == 0) {
        snprintf(buf, sizeof buf, DFU_MT_IMAGE ": %s, empty",
                 dfu_format_name(dfu_image_format(b->img)));
    } else {
        const struct dfu_segment *first = dfu_image_segment(b->img, 0);
        const struct dfu_segment *last = dfu_image_segment(b->img, n - 1);

        snprintf(buf, sizeof buf, DFU_MT_IMAGE ": %s, %zu segment%s, %llu bytes, 0x%08lx-0x%08lx",
                 dfu_format_name(dfu_image_format(b->img)), n, n == 1 ? "" : "s",
                 (unsigned long long)dfu_image_size(b->img), (unsigned long)first->addr,
                 (unsigned long)((uint64_t)last->addr + last->size - 1));
    }
    lua_pushstring(L, buf);
    return 1;
}

/* ---- accessors ---- */

static int img_format(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    enum dfu_format f = dfu_image_format(img);

    dfulua_checknargs(L, 1);
    if (f == DFU_FMT_UNKNOWN)
        lua_pushnil(L);
    else
        lua_pushstring(L, dfu_format_name(f));
    return 1;
}

static void pushsegments(lua_State *L, const dfu_image *img)
{
    size_t n = dfu_image_count(img), i;

    lua_createtable(L, (int)n, 0); /* [t] */
    for (i = 0; i < n; i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);

        lua_createtable(L, 0, 3); /* [t seg] */
        dfulua_setint(L, "address", s->addr);
        dfulua_setint(L, "size", s->size);
        dfulua_setint(L, "crc32", dfu_crc32(0, s->data, s->size));
        lua_rawseti(L, -2, (lua_Integer)i + 1); /* [t] */
    }
}

static int img_segments(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);

    dfulua_checknargs(L, 1);
    pushsegments(L, img);
    return 1;
}

static int img_data(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    const struct dfu_segment *s;

    dfulua_checknargs(L, 2);
    luaL_argcheck(L, i >= 1 && (size_t)i <= dfu_image_count(img), 2, "no such segment");
    s = dfu_image_segment(img, (size_t)i - 1);
    lua_pushlstring(L, (const char *)s->data, s->size);
    return 1;
}

static int img_bytes(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    uint32_t a = dfulua_checku32(L, 2);
    lua_Integer len = luaL_checkinteger(L, 3);
    size_t n = dfu_image_count(img), i;

    luaL_argcheck(L, len >= 0 && (uint64_t)a + (uint64_t)len <= 0x100000000ull, 3,
                  "length out of range");
    dfulua_checknargs(L, 3);
    for (i = 0; i < n; i++) {
        const struct dfu_segment *s = dfu_image_segment(img, i);

        /* Segments are coalesced, so a covered range lies inside one segment. */
        if (a >= s->addr && (uint64_t)a + (uint64_t)len <= (uint64_t)s->addr + s->size) {
            lua_pushlstring(L, (const char *)s->data + (a - s->addr), (size_t)len);
            return 1;
        }
    }
    if (len == 0)
        lua_pushliteral(L, "");
    else
        lua_pushnil(L);
    return 1;
}

static int img_entry(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);

    dfulua_checknargs(L, 1);
    if (dfu_image_has_entry(img))
        lua_pushinteger(L, dfu_image_entry(img));
    else
        lua_pushnil(L);
    return 1;
}

static int img_set_entry(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);

    luaL_checkany(L, 2);
    dfulua_checknargs(L, 2);
    if (lua_isnil(L, 2))
        dfu_image_set_entry(img, 0, 0);
    else
        dfu_image_set_entry(img, 1, dfulua_checku32(L, 2));
    lua_pushboolean(L, 1);
    return 1;
}

static int img_targets(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    size_t n = dfu_image_target_count(img), i;

    dfulua_checknargs(L, 1);
    lua_createtable(L, (int)n, 0); /* [t] */
    for (i = 0; i < n; i++) {
        uint8_t alt = 0;
        const char *name = NULL;
        dfu_image *timg = dfu_image_target(img, i, &alt, &name);
        struct limg *tb;

        lua_createtable(L, 0, 3); /* [t tgt] */
        dfulua_setint(L, "alt", alt);
        dfulua_setstr(L, "name", name != NULL ? name : "");
        tb = dfulua_newimg(L); /* [t tgt img] shares memory with the parent image */
        tb->owned = 0;
        tb->img = timg;
        lua_pushvalue(L, 1);
        lua_setiuservalue(L, -2, 1); /* the target keeps its parent alive */
        lua_setfield(L, -2, "image");
        lua_rawseti(L, -2, (lua_Integer)i + 1); /* [t] */
    }
    return 1;
}

static int img_suffix(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    const struct dfu_suffix *sfx = dfu_image_suffix(img);

    dfulua_checknargs(L, 1);
    if (sfx == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 6); /* [t] */
    dfulua_setint(L, "vid", sfx->vid);
    dfulua_setint(L, "pid", sfx->pid);
    dfulua_setint(L, "bcd_device", sfx->bcd_device);
    dfulua_setint(L, "bcd_dfu", sfx->bcd_dfu);
    dfulua_setint(L, "length", sfx->length);
    dfulua_setint(L, "crc", sfx->crc);
    return 1;
}

static int img_size(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);

    dfulua_checknargs(L, 1);
    lua_pushinteger(L, (lua_Integer)dfu_image_size(img));
    return 1;
}

/* ---- mutators ---- */

static int result(lua_State *L, int rc, const struct dfu_err *e)
{
    if (rc < 0)
        return dfulua_fail(L, rc, e);
    lua_pushboolean(L, 1);
    return 1;
}

static int img_add(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    uint32_t a;
    size_t len;
    const uint8_t *data = dfulua_checkdata(L, 2, &a, &len);
    struct dfu_err e;

    dfu_err_clear(&e);
    return result(L, dfu_image_add(img, a, data, len, &e), &e);
}

static int img_merge(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    dfu_image *other = checkimg(L, 2);
    struct dfu_err e;

    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    if (other == img) { /* every byte agrees with itself */
        lua_pushboolean(L, 1);
        return 1;
    }
    return result(L, dfu_image_merge(img, other, &e), &e);
}

static int img_slice(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    uint32_t a = dfulua_checku32(L, 2);
    lua_Integer len = luaL_checkinteger(L, 3);
    struct limg *b;

    luaL_argcheck(L, len >= 0 && len <= 0x100000000ll, 3, "length out of range");
    dfulua_checknargs(L, 3);
    b = dfulua_newimg(L); /* [img] */
    b->img = dfu_image_slice(img, a, (uint64_t)len);
    if (b->img == NULL)
        return luaL_error(L, "not enough memory");
    return 1;
}

static int img_fill_gaps(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    lua_Integer fill = luaL_optinteger(L, 2, 0xFF);
    struct dfu_err e;

    luaL_argcheck(L, fill >= 0 && fill <= 255, 2, "byte out of range (0..255)");
    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    return result(L, dfu_image_fill_gaps(img, (uint8_t)fill, &e), &e);
}

static int img_pad(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    uint32_t align = dfulua_checku32(L, 2);
    lua_Integer fill = luaL_optinteger(L, 3, 0xFF);
    struct dfu_err e;

    luaL_argcheck(L, align > 0, 2, "alignment must be positive");
    luaL_argcheck(L, fill >= 0 && fill <= 255, 3, "byte out of range (0..255)");
    dfulua_checknargs(L, 3);
    dfu_err_clear(&e);
    return result(L, dfu_image_pad(img, align, (uint8_t)fill, &e), &e);
}

static int img_clone(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    struct limg *b;

    dfulua_checknargs(L, 1);
    b = dfulua_newimg(L); /* [img] */
    b->img = dfu_image_clone(img);
    if (b->img == NULL)
        return luaL_error(L, "not enough memory");
    return 1;
}

/* ---- sectors ---- */

struct sector_acc {
    struct dfu_sector_run *out; /* NULL on the counting pass */
    size_t n;
};

static int sector_found(void *ud, uint32_t start, uint32_t size, uint8_t type)
{
    struct sector_acc *acc = ud;

    if (acc->out != NULL) {
        acc->out[acc->n].addr = start;
        acc->out[acc->n].size = size;
        acc->out[acc->n].count = 1;
        acc->out[acc->n].type = type;
    }
    acc->n++;
    return 0;
}

static int img_sectors(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    struct dfu_layout layout;
    struct sector_acc acc = {NULL, 0};
    struct dfu_err e;
    size_t n, i;
    int rc;

    luaL_argexpected(L, lua_type(L, 2) == LUA_TTABLE || lua_type(L, 2) == LUA_TSTRING, 2,
                     "layout table or string");
    dfulua_checknargs(L, 2);
    dfu_err_clear(&e);
    rc = dfulua_tolayout(L, 2, &layout, &e); /* [box] */
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    rc = dfu_image_sectors(img, &layout, sector_found, &acc, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    n = acc.n;
    acc.out = lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof *acc.out, 0); /* [box scratch] */
    acc.n = 0;
    rc = dfu_image_sectors(img, &layout, sector_found, &acc, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_createtable(L, (int)acc.n, 0); /* [box scratch t] */
    for (i = 0; i < acc.n && i < n; i++) {
        lua_createtable(L, 0, 3);
        dfulua_setint(L, "address", acc.out[i].addr);
        dfulua_setint(L, "size", acc.out[i].size);
        dfulua_setint(L, "type", acc.out[i].type);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---- writers ---- */

static void write_opts(lua_State *L, int idx, struct dfu_write_opts *o)
{
    memset(o, 0, sizeof *o);
    if (!lua_isnoneornil(L, idx))
        luaL_checktype(L, idx, LUA_TTABLE);
    o->vid = (uint16_t)dfulua_optfield(L, idx, "vid", 0xFFFF, 0, 0xFFFF);
    o->pid = (uint16_t)dfulua_optfield(L, idx, "pid", 0xFFFF, 0, 0xFFFF);
    o->bcd_device = (uint16_t)dfulua_optfield(L, idx, "bcd_device", 0xFFFF, 0, 0xFFFF);
    o->alt = (uint8_t)dfulua_optfield(L, idx, "alt", 0, 0, 255);
    o->gap_warn = (uint32_t)dfulua_optfield(L, idx, "gap_warn", BIN_GAP_WARN, 0, 0xFFFFFFFFll);
    o->target_name = NULL;
    if (!lua_isnoneornil(L, idx)) {
        lua_getfield(L, idx, "name"); /* [.. name] stays on the stack while o is used */
        if (!lua_isnil(L, -1))
            o->target_name = luaL_checkstring(L, -1);
    } else {
        lua_pushnil(L);
    }
}

static int img_encode(lua_State *L)
{
    static const char *const fmts[] = {"ihex", "srec", "bin", "dfuse", NULL};
    dfu_image *img = checkimg(L, 1);
    int fmt = luaL_checkoption(L, 2, NULL, fmts);
    struct dfu_write_opts o;
    struct dfu_err e;
    struct lbox *box;
    uint8_t *out = NULL;
    size_t outlen = 0;
    int rc;

    dfulua_checknargs(L, 3);
    write_opts(L, 3, &o); /* [.. name] */
    dfu_err_clear(&e);
    box = dfulua_newbox(L); /* [.. name box] owns the output buffer */
    switch (fmt) {
    case 0:
        rc = dfu_image_write_ihex(img, &out, &outlen, &e);
        break;
    case 1:
        rc = dfu_image_write_srec(img, &out, &outlen, &e);
        break;
    case 2:
        rc = dfu_image_write_bin(img, &o, &out, &outlen, &e);
        break;
    default:
        rc = dfu_image_write_dfuse(img, &o, &out, &outlen, &e);
        break;
    }
    box->mem = out;
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushlstring(L, (const char *)out, outlen); /* [.. name box s] */
    dfulua_box_release(box);
    if (o.warning[0] != '\0') {
        lua_pushstring(L, o.warning);
        return 2;
    }
    return 1;
}

static int img_save(lua_State *L)
{
    dfu_image *img = checkimg(L, 1);
    const char *path = luaL_checkstring(L, 2);
    struct dfu_write_opts o;
    struct dfu_err e;
    int rc;

    dfulua_checknargs(L, 3);
    write_opts(L, 3, &o);
    dfu_err_clear(&e);
    rc = dfu_image_save(img, path, &o, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    lua_pushboolean(L, 1);
    if (o.warning[0] != '\0') {
        lua_pushstring(L, o.warning);
        return 2;
    }
    return 1;
}

static const luaL_Reg img_methods[] = {
    {"format", img_format},
    {"segments", img_segments},
    {"data", img_data},
    {"bytes", img_bytes},
    {"entry", img_entry},
    {"set_entry", img_set_entry},
    {"targets", img_targets},
    {"suffix", img_suffix},
    {"size", img_size},
    {"add", img_add},
    {"merge", img_merge},
    {"slice", img_slice},
    {"fill_gaps", img_fill_gaps},
    {"pad", img_pad},
    {"clone", img_clone},
    {"sectors", img_sectors},
    {"encode", img_encode},
    {"save", img_save},
    {NULL, NULL},
};

static const luaL_Reg img_meta[] = {
    {"__index", NULL}, /* placeholder: the methods table */
    {"__gc", img_gc},
    {"__tostring", img_tostring},
    {NULL, NULL},
};

void dfulua_img_types(lua_State *L)
{
    dfulua_newclass(L, DFU_MT_IMAGE, img_meta, img_methods); /* [methods] */
    lua_pop(L, 1);
}

/* ---- module functions ---- */

/* Read {base=} from an options table at @idx into @o. */
static void load_opts(lua_State *L, int idx, struct dfu_load_opts *o)
{
    if (!lua_isnoneornil(L, idx))
        luaL_checktype(L, idx, LUA_TTABLE);
    if (!lua_isnoneornil(L, idx)) {
        int isnil = lua_getfield(L, idx, "base") == LUA_TNIL;

        lua_pop(L, 1);
        if (!isnil) {
            o->has_base = 1;
            o->base = (uint32_t)dfulua_optfield(L, idx, "base", 0, 0, 0xFFFFFFFFll);
        }
    }
}

/* Split "file@0x08000000" (the one parser of FILE@ADDR): returns the length of the file part
 * and sets *base, or returns the whole length when there is no @ suffix that reads as a
 * number (decimal or 0x hex). A number past 32 bits sets *has = -1. */
static size_t split_at(const char *path, int *has, uint32_t *base)
{
    const char *at = strrchr(path, '@');
    unsigned long long v;
    char *end;

    if (at == NULL || at == path || at[1] == '\0' || strchr(at, '/') != NULL)
        return strlen(path);
    if (!isdigit((unsigned char)at[1]))
        return strlen(path);
    errno = 0;
    v = strtoull(at + 1, &end, 0);
    if (*end != '\0')
        return strlen(path);
    if (errno != 0 || v > 0xFFFFFFFFull) {
        *has = -1;
        return (size_t)(at - path);
    }
    *has = 1;
    *base = (uint32_t)v;
    return (size_t)(at - path);
}

/* image.split(arg) -> path, base | nil: FILE@ADDR as load reads it; an address past 32 bits
 * gives nil, msg, "USAGE". */
static int mod_split(lua_State *L)
{
    const char *arg = luaL_checkstring(L, 1);
    int has = 0;
    uint32_t base = 0;
    size_t plen;

    dfulua_checknargs(L, 1);
    plen = split_at(arg, &has, &base);
    if (has < 0)
        return dfulua_failmsg(L, DFU_E_INVALID,
                              lua_pushfstring(L,
                                              "%s: the address after @ is outside the 32-bit "
                                              "address space",
                                              arg));
    lua_pushlstring(L, arg, plen);
    if (has > 0)
        lua_pushinteger(L, (lua_Integer)base);
    else
        lua_pushnil(L);
    return 2;
}

static int mod_load(lua_State *L)
{
    const char *arg = luaL_checkstring(L, 1);
    struct dfu_load_opts o = {0, 0, NULL};
    struct dfu_err e;
    struct limg *b;
    const char *path;
    dfu_image *img = NULL;
    size_t plen;
    int rc, has = 0;
    uint32_t base = 0;

    dfulua_checknargs(L, 2);
    load_opts(L, 2, &o);
    plen = split_at(arg, &has, &base);
    if (has < 0)
        plen = strlen(arg);               /* not an address: the name of a file */
    path = lua_pushlstring(L, arg, plen); /* [.. path] */
    if (has > 0 && !o.has_base) {
        o.has_base = 1;
        o.base = base;
    }
    o.name = path;
    dfu_err_clear(&e);
    b = dfulua_newimg(L); /* [.. path img] anchored before the C object exists */
    rc = dfu_image_load(path, &o, &img, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    b->img = img; /* ownership moves to the Lua GC */
    return 1;
}

static int mod_parse(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    struct dfu_load_opts o = {0, 0, NULL};
    struct dfu_err e;
    struct limg *b;
    dfu_image *img = NULL;
    int rc;

    dfulua_checknargs(L, 2);
    load_opts(L, 2, &o);
    if (!lua_isnoneornil(L, 2)) {
        lua_getfield(L, 2, "name"); /* [.. name] kept on the stack */
        if (!lua_isnil(L, -1))
            o.name = luaL_checkstring(L, -1);
    }
    if (o.name == NULL)
        o.name = "<string>";
    dfu_err_clear(&e);
    b = dfulua_newimg(L); /* [.. img] */
    rc = dfu_image_parse((const uint8_t *)s, len, &o, &img, &e);
    if (rc < 0)
        return dfulua_fail(L, rc, &e);
    b->img = img;
    return 1;
}

static int mod_new(lua_State *L)
{
    struct limg *b;

    dfulua_checknargs(L, 0);
    b = dfulua_newimg(L);
    b->img = dfu_image_new();
    if (b->img == NULL)
        return luaL_error(L, "not enough memory");
    return 1;
}

static int mod_crc32(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer crc = luaL_optinteger(L, 2, 0);

    luaL_argcheck(L, crc >= 0 && crc <= 0xFFFFFFFFll, 2, "out of range");
    dfulua_checknargs(L, 2);
    lua_pushinteger(L, dfu_crc32((uint32_t)crc, s, len));
    return 1;
}

static int mod_detect(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    enum dfu_format f;

    dfulua_checknargs(L, 1);
    f = dfu_image_detect((const uint8_t *)s, len);
    if (f == DFU_FMT_UNKNOWN)
        lua_pushnil(L);
    else
        lua_pushstring(L, dfu_format_name(f));
    return 1;
}

static const luaL_Reg mod_funcs[] = {
    {"load", mod_load},     {"parse", mod_parse}, {"new", mod_new}, {"crc32", mod_crc32},
    {"detect", mod_detect}, {"split", mod_split}, {NULL, NULL},
};

int luaopen_dfu_image(lua_State *L)
{
    dfulua_init_types(L);
    luaL_newlib(L, mod_funcs);
    return 1;
}
