/*
 * The Lua library (the modules in lua/dfu) as bytecode, compiled at build time by lua/tools/embed.c
 * and linked into the host, which preloads every module from it: no source to find, read and
 * compile at start-up. The installed sources are the same modules, for stock lua5.4 and for
 * reading.
 */
#ifndef DFU_EMBED_H
#define DFU_EMBED_H

#include <stddef.h>

struct dfulua_chunk {
    const char *module;        /* "dfu.flash"; NULL ends the table */
    const char *chunkname;     /* "@lua/dfu/flash.lua" */
    const unsigned char *code; /* lua_dump output */
    size_t size;
};

extern const struct dfulua_chunk dfulua_library[];

#endif
