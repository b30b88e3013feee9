/*
 * Shared helpers of the Lua binding (dfu.core, dfu.image, dfu.sim): metatable names, the
 * userdata boxes, failure results and the cancel flag the host's SIGINT handler sets.
 */
#ifndef DFU_LAUX_H
#define DFU_LAUX_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "dfu/dfu.h"

#define DFU_MT_DEVICE "dfu.Device"
#define DFU_MT_IMAGE "dfu.Image"
#define DFU_MT_SIM "dfu.Sim"
#define DFU_MT_BOX "dfu.Box" /* scratch memory owned by the GC (lauxlib UBox shape) */

/* Log lines buffered between a device's C calls and their delivery to Lua. */
#define DFULUA_LOG_LINES 256
#define DFULUA_LOG_LEN 200

/* Device box. dev == NULL means closed. Uservalue 1: the parent (dfu.Sim or nil); uservalue 2:
 * the on_log function. The dfu_log sink points into this block, which never moves. */
struct ldev {
    dfu_dev *dev;
    int held;     /* dev belongs to the parent dfu.Sim (opened from "sim:..."), which closes it */
    int owns_sim; /* opened by dfu.open over a simulator no one else has: closes it too */
    struct dfu_log log;
    int has_err;
    struct dfu_err err; /* last failure of a primitive on this handle */
    unsigned log_first, log_count, log_dropped;
    unsigned char log_level[DFULUA_LOG_LINES];
    char log_msg[DFULUA_LOG_LINES][DFULUA_LOG_LEN];
};

/* Simulator box. sim == NULL only while it is being created. With dev set, the box owns that
 * device, whose transport owns the simulator (a device opened from "sim:..."). */
struct lsim {
    dfu_sim *sim;
    dfu_dev *dev;
};

/* Image box. owned == 0 for a DfuSe target image that lives inside its parent (uservalue 1). */
struct limg {
    dfu_image *img;
    int owned;
};

/* Scratch box: frees what it holds when collected or closed, so a raise cannot leak it. */
struct lbox {
    void *mem;
    int has_layout;
    struct dfu_layout layout;
};

/* Non-zero after SIGINT (set by the host); device loops check it between transfers. */
extern volatile sig_atomic_t dfulua_interrupt;
/* While dfulua_hold_interrupt is set, the host's SIGINT handler only sets
 * dfulua_pending_interrupt: a job that has finished prints its report before Ctrl-C acts. */
extern volatile sig_atomic_t dfulua_hold_interrupt;
extern volatile sig_atomic_t dfulua_pending_interrupt;

/* The module entry points (the host preloads them; stock Lua finds them in dfu.so). */
int luaopen_dfu_core(lua_State *L);
int luaopen_dfu_image(lua_State *L);
int luaopen_dfu_sim(lua_State *L);

/* Register every metatable of the binding (each luaopen_* calls this, so any one module can
 * create objects of the others' types). */
void dfulua_init_types(lua_State *L);
void dfulua_dev_types(lua_State *L);
void dfulua_img_types(lua_State *L);
void dfulua_sim_types(lua_State *L);

/* Push nil, msg, CODE and return 3. */
int dfulua_fail(lua_State *L, int code, const struct dfu_err *e);
int dfulua_failmsg(lua_State *L, int code, const char *msg);

/* Raise when a non-nil argument follows the last expected one. */
void dfulua_checknargs(lua_State *L, int max);
/* t[k] = v for the table on top of the stack. */
void dfulua_setint(lua_State *L, const char *k, lua_Integer v);
void dfulua_setbool(lua_State *L, const char *k, int v);
/* The metatable @name with the metamethods @meta and __index = a table of @methods, made once;
 * leaves the methods table on the stack (for methods that are closures). */
void dfulua_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);
void dfulua_setstr(lua_State *L, const char *k, const char *v);
/* A 32-bit address or length argument. */
uint32_t dfulua_checku32(lua_State *L, int arg);
/* An address (arg) and a data string (arg + 1) that fits below 4 GiB; also checks that no
 * argument follows. */
const uint8_t *dfulua_checkdata(lua_State *L, int arg, uint32_t *addr, size_t *len);
/* Optional integer field of an options table at @idx (nil -> @def), range-checked. */
lua_Integer dfulua_optfield(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer lo,
                            lua_Integer hi);

/* A new scratch box on the stack. */
struct lbox *dfulua_newbox(lua_State *L);
/* Free what the box holds now. */
void dfulua_box_release(struct lbox *b);

/* Layouts: push {name=, runs={...}, total=}; convert such a table (or a bare runs array, or a
 * layout string) into @out, whose runs live in a scratch box pushed on the stack. */
void dfulua_pushlayout(lua_State *L, const struct dfu_layout *l);
int dfulua_tolayout(lua_State *L, int idx, struct dfu_layout *out, struct dfu_err *err);

/* Enumeration info table (the fields of dev:info() that enumeration knows). */
void dfulua_pushdevinfo(lua_State *L, const struct dfu_devinfo *info);

/* New dfu.Sim box with sim == NULL (fill it in right away). */
struct lsim *dfulua_newsim(lua_State *L);
/* The open simulator at @arg, or raise. */
dfu_sim *dfulua_checksim(lua_State *L, int arg);
/* Open a dfu.Device over the dfu.Sim at stack index @simidx; pushes the device or nil,msg,code
 * and returns the number of results. */
int dfulua_sim_device(lua_State *L, int simidx);
/* New dfu.Image box (img NULL, owned) on the stack. */
struct limg *dfulua_newimg(lua_State *L);

#endif
