/*
 * Build-time tool: compile Lua modules to bytecode with the Lua library dfush links against and
 * write them as a C table (struct dfulua_chunk, lua/embed.h) for the host to preload.
 *
 *   embed OUT.c ROOT FILE...
 *
 * Each FILE is a path below ROOT: ROOT/dfu/flash.lua becomes module "dfu.flash" and
 * ROOT/dfu/init.lua module "dfu". The chunks keep their debug information (line numbers in
 * tracebacks) and are named "@lua/FILE", the file in the source tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

struct buf {
    unsigned char *p;
    size_t n, cap;
};

static int writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    struct buf *b = ud;

    (void)L;
    if (b->n + sz > b->cap) {
        size_t cap = (b->n + sz) * 2;
        unsigned char *q = realloc(b->p, cap);

        if (q == NULL)
            return 1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, sz);
    b->n += sz;
    return 0;
}

/* "dfu/flash.lua" -> "dfu.flash", "dfu/init.lua" -> "dfu"; in @out (at least strlen(f)+1). */
static void modname(const char *f, char *out)
{
    size_t n = strlen(f);

    if (n > 4 && strcmp(f + n - 4, ".lua") == 0)
        n -= 4;
    if (n > 5 && strncmp(f + n - 5, "/init", 5) == 0)
        n -= 5;
    for (size_t i = 0; i < n; i++)
        out[i] = f[i] == '/' ? '.' : f[i];
    out[n] = '\0';
}

static int emit(lua_State *L, FILE *out, const char *root, const char *file, int idx)
{
    struct buf b = {NULL, 0, 0};
    char *path = malloc(strlen(root) + strlen(file) + 2);
    FILE *in;
    int rc;

    if (path == NULL)
        return -1;
    sprintf(path, "%s/%s", root, file);
    in = fopen(path, "rb");
    if (in == NULL) {
        perror(path);
        free(path);
        return -1;
    }
    free(path);
    {
        luaL_Buffer lb;
        char chunk[4096];
        size_t got;

        luaL_buffinit(L, &lb);
        while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
            luaL_addlstring(&lb, chunk, got);
        luaL_pushresult(&lb);
    }
    fclose(in);
    lua_pushfstring(L, "@lua/%s", file);
    rc = luaL_loadbufferx(L, lua_tostring(L, -2), lua_rawlen(L, -2), lua_tostring(L, -1), "t");
    if (rc != LUA_OK) {
        fprintf(stderr, "embed: %s\n", lua_tostring(L, -1));
        return -1;
    }
    if (lua_dump(L, writer, &b, 0) != 0) {
        fprintf(stderr, "embed: %s: out of memory\n", file);
        free(b.p);
        return -1;
    }
    lua_pop(L, 3);
    fprintf(out, "static const unsigned char chunk%d[] = {", idx);
    for (size_t i = 0; i < b.n; i++)
        fprintf(out, "%s%u,", i % 20 == 0 ? "\n    " : "", b.p[i]);
    fprintf(out, "\n};\n\n");
    free(b.p);
    return 0;
}

int main(int argc, char **argv)
{
    lua_State *L;
    FILE *out;
    int i, fail = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: embed OUT.c ROOT FILE...\n");
        return 2;
    }
    L = luaL_newstate();
    out = fopen(argv[1], "w");
    if (L == NULL || out == NULL) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out,
            "/* Generated at build time by lua/tools/embed.c from the files below %s. */\n"
            "#include \"embed.h\"\n\n",
            argv[2]);
    for (i = 3; i < argc && !fail; i++)
        fail = emit(L, out, argv[2], argv[i], i - 3) != 0;
    fprintf(out, "const struct dfulua_chunk dfulua_library[] = {\n");
    for (i = 3; i < argc && !fail; i++) {
        char *name = malloc(strlen(argv[i]) + 1);

        if (name == NULL)
            return 1;
        modname(argv[i], name);
        fprintf(out, "    {\"%s\", \"@lua/%s\", chunk%d, sizeof chunk%d},\n", name, argv[i], i - 3,
                i - 3);
        free(name);
    }
    fprintf(out, "    {NULL, NULL, NULL, 0},\n};\n");
    lua_close(L);
    if (fclose(out) != 0 || fail) {
        remove(argv[1]);
        return 1;
    }
    return 0;
}
