/*
 * dfush: the host binary. Shaped like lua.c: a Lua state with the standard libraries, the
 * three C modules of dfu and the Lua library (compiled in, lua/embed.h) preloaded, `arg` built
 * the same way, and three modes:
 *   dfush                       REPL (stdin a TTY) with `dfu` loaded; else run stdin
 *   dfush SCRIPT [ARGS] | -e STAT | -l MOD | -i | - | --    run Lua like `lua` does
 *   dfush [OPTIONS] COMMAND ... require("dfu.cli").main(arg), whose result is the exit code
 * Invoked as dfu-util or dfush-dfu-util (a link), it is dfu-util's command line instead:
 * require("dfu.dfuutil").main(arg).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "embed.h"
#include "laux.h"

#ifdef DFU_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#ifndef DFU_INSTALL_LUADIR
#define DFU_INSTALL_LUADIR "/usr/local/share/lua/5.4"
#endif
#ifndef DFU_INSTALL_SCRIPTDIR
#define DFU_INSTALL_SCRIPTDIR "/usr/local/share/dfush/scripts"
#endif
/* The installed layout, relative to the directory of the binary. */
#ifndef DFU_BIN_TO_LUADIR
#define DFU_BIN_TO_LUADIR "../share/lua/5.4"
#endif
#ifndef DFU_BIN_TO_SCRIPTDIR
#define DFU_BIN_TO_SCRIPTDIR "../share/dfush/scripts"
#endif

static const char *progname = "dfush";
#ifdef DFU_TEST_HOOKS
static long alloc_left = -1; /* DFU_FAIL_ALLOC_AFTER=N: growing allocations fail after N */
#endif
static lua_State *globalL = NULL;

/* ---- errors and Ctrl-C (as lua.c) ---- */

static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted");
}

static void laction(int sig)
{
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;

    signal(sig, SIG_DFL); /* a second Ctrl-C kills the process */
    if (dfulua_hold_interrupt) {
        dfulua_pending_interrupt = 1; /* acted on when the hold ends (core.hold_interrupts) */
        return;
    }
    dfulua_interrupt = 1; /* C loops stop between transfers */
    lua_sethook(globalL, lstop, flag, 1);
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    /* Ctrl-C: the user knows where it came from; no traceback */
    if (msg != NULL && dfulua_interrupt) {
        size_t n = strlen(msg);

        if (n >= 11 && strcmp(msg + n - 11, "interrupted") == 0) {
            lua_pushliteral(L, "interrupted (Ctrl-C)");
            return 1;
        }
    }

    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
            /* A dfu.Error (a table with a code) is an expected failure: no traceback. */
            if (lua_type(L, 1) == LUA_TTABLE && lua_getfield(L, 1, "code") != LUA_TNIL) {
                lua_pop(L, 1);
                return 1;
            }
            lua_pop(L, lua_type(L, 1) == LUA_TTABLE ? 1 : 0);
            msg = lua_tostring(L, -1);
        } else {
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        }
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    int status;

    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    globalL = L;
    dfulua_interrupt = 0;
    dfulua_hold_interrupt = 0;
    dfulua_pending_interrupt = 0;
    signal(SIGINT, laction);
    status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, SIG_DFL);
    lua_remove(L, base);
    return status;
}

/* ---- paths ---- */

static int isfile(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* package.path: our dirs first, then the defaults minus the ./ entries (a stray dfu/flash.lua
 * in the cwd must not replace ours); package.dfush_scripts: scripts dir + DFUSH_PATH dirs. */
static const char setpaths_lua[] =
    "local luadir, scriptdir = ...\n"
    "local p = { luadir .. '/?.lua', luadir .. '/?/init.lua', scriptdir .. '/?.lua' }\n"
    "for e in package.path:gmatch('[^;]+') do\n"
    "  if e:sub(1, 2) ~= './' then p[#p + 1] = e end\n"
    "end\n"
    "package.path = table.concat(p, ';')\n"
    "package.dfush_scripts = { scriptdir }\n"
    "for d in (os.getenv('DFUSH_PATH') or ''):gmatch('[^:]+') do\n"
    "  table.insert(package.dfush_scripts, d)\n"
    "end\n";

/* @base/@rel into @out with the "." and ".." of @rel applied to @base's components, which are
 * real directories (the binary's, from /proc/self/exe), so no symlink is resolved. */
static void joinpath(char *out, size_t cap, const char *base, const char *rel)
{
    size_t n = (size_t)snprintf(out, cap, "%s", base);

    while (*rel != '\0' && n < cap) {
        size_t len = strcspn(rel, "/");

        if (len == 2 && strncmp(rel, "..", 2) == 0) {
            while (n > 1 && out[n - 1] != '/')
                n--;
            n = n > 1 ? n - 1 : 1;
            out[n] = '\0';
        } else if (len > 0 && !(len == 1 && rel[0] == '.')) {
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n > 1 ? "/" : "", (int)len, rel);
        }
        rel += len + (rel[len] == '/');
    }
}

/* Push the Lua library and recipe directories base/lua_rel and base/script_rel when the second
 * holds flash.lua; returns whether it did. */
static int try_tree(lua_State *L, const char *base, const char *lua_rel, const char *script_rel)
{
    char luadir[PATH_MAX], scriptdir[PATH_MAX], probe[PATH_MAX + 16];

    joinpath(scriptdir, sizeof scriptdir, base, script_rel);
    snprintf(probe, sizeof probe, "%s/flash.lua", scriptdir);
    if (!isfile(probe))
        return 0;
    joinpath(luadir, sizeof luadir, base, lua_rel);
    lua_pushstring(L, luadir);
    lua_pushstring(L, scriptdir);
    return 1;
}

/* Where the recipes (and the Lua library's sources, which the host itself does not need: it is
 * compiled in) are, found from the binary's own location so that any build or install
 * directory works: an installed tree (PREFIX/bin/dfush with PREFIX/share/dfush/scripts and
 * PREFIX/share/lua/5.4, wherever PREFIX is), the build tree of a checkout (any build
 * directory: with DFU_RUN_FROM_BUILD_TREE the source directory is compiled in and used when the
 * binary sits next to a CMakeCache.txt), the checkout around a build/ directory, else the
 * configured install paths. */
static void setpaths(lua_State *L)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int found = 0;

    luaL_loadbuffer(L, setpaths_lua, sizeof setpaths_lua - 1, "=setpaths");
    if (n > 0) {
        exe[n] = '\0';
        if (strrchr(exe, '/') != NULL)
            *strrchr(exe, '/') = '\0';
        found = try_tree(L, exe, DFU_BIN_TO_LUADIR, DFU_BIN_TO_SCRIPTDIR);
#ifdef DFU_SOURCE_DIR
        if (!found) {
            char cache[PATH_MAX + 32];

            snprintf(cache, sizeof cache, "%s/CMakeCache.txt", exe);
            if (isfile(cache))
                found = try_tree(L, DFU_SOURCE_DIR, "lua", "scripts");
        }
#endif
        if (!found)
            found = try_tree(L, exe, "../lua", "../scripts");
    }
    if (!found) {
        lua_pushstring(L, DFU_INSTALL_LUADIR);
        lua_pushstring(L, DFU_INSTALL_SCRIPTDIR); /* [fn luadir scriptdir] */
    }
    lua_call(L, 2, 0);
}

/* ---- arg table and running code ---- */

static void createargtable(lua_State *L, char **argv, int argc, int script)
{
    int i;

    lua_createtable(L, argc - script - 1, script + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    int status = luaL_loadbuffer(L, s, strlen(s), name);

    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

static int dolibrary(lua_State *L, const char *name)
{
    int status;

    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    status = docall(L, 1, 1);
    if (status == LUA_OK)
        lua_setglobal(L, name);
    return report(L, status);
}

static int runscript(lua_State *L, char **argv, int script)
{
    const char *fname = argv[script];
    int status, n = 0;

    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        fname = NULL; /* stdin */
    status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        lua_getglobal(L, "arg");
        n = (int)luaL_len(L, -1);
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = 1; i <= n; i++)
            lua_rawgeti(L, -i, i);
        lua_remove(L, -n - 1);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* ---- REPL ---- */

/* One line from the user: readline on a TTY (when built with it), plain stdin otherwise. The
 * line stays owned here (freed by the next read, or at exit) so a raise cannot leak it. A
 * Ctrl-C while waiting drops the line and returns NULL with line_interrupted set (the REPL
 * shows a new prompt, as Python's does); Ctrl-D (end of input) returns NULL. */
static char *cur_line = NULL;
static volatile sig_atomic_t prompt_interrupt = 0;
static int line_interrupted = 0;
static lua_State *replL = NULL;

static void prompt_sigint(int sig)
{
    (void)sig;
    prompt_interrupt = 1;
}

/* SIGINT while a prompt waits: no SA_RESTART, so the read or select returns EINTR. */
static void catch_prompt_sigint(int on)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? prompt_sigint : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    prompt_interrupt = 0;
}

#ifdef DFU_USE_READLINE
/* Tab completion: dfu.repl.complete(text) gives the words; readline frees what we return. */
static char **compl_words = NULL;
static size_t compl_n = 0, compl_i = 0;

static void compl_free(void)
{
    for (size_t i = compl_i; i < compl_n; i++)
        free(compl_words[i]);
    free(compl_words);
    compl_words = NULL;
    compl_n = compl_i = 0;
}

static void compl_fill(const char *text)
{
    lua_State *L = replL;
    int top = lua_gettop(L);

    compl_free();
    lua_getglobal(L, "require");
    lua_pushliteral(L, "dfu.repl");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_getfield(L, -1, "complete") == LUA_TFUNCTION) {
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            size_t n = (size_t)luaL_len(L, -1);

            compl_words = calloc(n > 0 ? n : 1, sizeof *compl_words);
            for (size_t i = 1; compl_words != NULL && i <= n; i++) {
                lua_rawgeti(L, -1, (lua_Integer)i);
                if (lua_type(L, -1) == LUA_TSTRING)
                    compl_words[compl_n] = strdup(lua_tostring(L, -1));
                if (compl_words[compl_n] != NULL)
                    compl_n++;
                lua_pop(L, 1);
            }
        }
    }
    lua_settop(L, top);
}

static char *compl_next(const char *text, int state)
{
    if (state == 0)
        compl_fill(text);
    if (compl_i < compl_n)
        return compl_words[compl_i++]; /* readline owns it now */
    compl_free();
    return NULL;
}

static char **compl_attempt(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;      /* no file names */
    rl_completion_append_character = '\0'; /* "dfu.open(" goes on without a space */
    return rl_completion_matches(text, compl_next);
}

/* readline through its callback interface, so that a Ctrl-C at the prompt interrupts the
 * select() here instead of killing the process. */
static char *line_got = NULL;
static int line_done = 0;

static void line_take(char *line)
{
    line_got = line;
    line_done = 1;
    rl_callback_handler_remove();
}

static char *line_read(const char *prompt)
{
    int fd = fileno(rl_instream != NULL ? rl_instream : stdin);

    line_got = NULL;
    line_done = 0;
    rl_catch_signals = 0;
    rl_callback_handler_install(prompt, line_take);
    while (!line_done) {
        fd_set fds;

        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        if (select(fd + 1, &fds, NULL, NULL, NULL) < 0) {
            if (errno == EINTR && !prompt_interrupt)
                continue;
            if (prompt_interrupt)
                line_interrupted = 1;
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_callback_handler_remove();
            fputc('\n', stdout);
            fflush(stdout);
            return NULL;
        }
        rl_callback_read_char();
    }
    return line_got;
}
#endif

static const char *readline_line(const char *prompt)
{
    char buf[4096];

    free(cur_line);
    cur_line = NULL;
    line_interrupted = 0;
    catch_prompt_sigint(isatty(0));
#ifdef DFU_USE_READLINE
    if (isatty(0)) {
        cur_line = line_read(prompt);
        catch_prompt_sigint(0);
        return cur_line;
    }
#endif
    if (isatty(0)) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    if (fgets(buf, sizeof buf, stdin) == NULL) {
        if (prompt_interrupt) {
            line_interrupted = 1;
            clearerr(stdin);
            fputc('\n', stdout);
        }
        catch_prompt_sigint(0);
        return NULL;
    }
    catch_prompt_sigint(0);
    buf[strcspn(buf, "\n")] = '\0';
    return cur_line = strdup(buf);
}

/* Read one chunk: an expression (printed) or statements, with continuation lines. Returns the
 * load status, -1 at the end of input, -2 when Ctrl-C dropped the chunk. */
static int loadline(lua_State *L, const char *hist)
{
    const char *line = readline_line("> ");
    int status;

    if (line == NULL)
        return line_interrupted ? -2 : -1;
    lua_pushstring(L, line); /* [src] */
    lua_pushfstring(L, "return %s", lua_tostring(L, -1));
    status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
    lua_remove(L, -2);      /* [src fn|err] */
    if (status != LUA_OK) { /* not an expression: statements, maybe over several lines */
        lua_pop(L, 1);      /* [src] */
        for (;;) {
            size_t len;
            const char *msg;

            status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
            msg = lua_tolstring(L, -1, &len); /* [src fn|err] */
            if (status != LUA_ERRSYNTAX || len < 5 || strcmp(msg + len - 5, "<eof>") != 0)
                break;
            lua_pop(L, 1); /* [src] */
            line = readline_line(">> ");
            if (line == NULL) {
                lua_pop(L, 1);
                return line_interrupted ? -2 : -1;
            }
            lua_pushfstring(L, "%s\n%s", lua_tostring(L, -1), line); /* [src src2] */
            lua_remove(L, -2);                                       /* [src2] */
        }
    }
#ifdef DFU_USE_READLINE
    if (hist != NULL) {
        add_history(lua_tostring(L, -2));
        append_history(1, hist);
    }
#else
    (void)hist;
#endif
    lua_remove(L, -2); /* [fn|err] */
    return status;
}

/* The REPL's help() and, on a terminal, its banner (dfu.repl). */
static void repl_setup(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "dfu.repl");
    if (docall(L, 1, 1) != LUA_OK) {
        report(L, LUA_ERRRUN);
        return;
    }
    lua_getfield(L, -1, "setup");
    lua_remove(L, -2);
    if (docall(L, 0, 1) != LUA_OK) {
        report(L, LUA_ERRRUN);
        return;
    }
    if (isatty(0) && lua_type(L, -1) == LUA_TSTRING)
        printf("%s\n", lua_tostring(L, -1));
    fflush(stdout);
    lua_pop(L, 1);
}

static void repl(lua_State *L)
{
    const char *home = getenv("HOME");
    const char *hist = NULL;
    int status;

    replL = L;
    repl_setup(L);
#ifdef DFU_USE_READLINE
    rl_readline_name = "dfush";
    rl_attempted_completion_function = compl_attempt;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,)[]+-*/%^~#";
#endif
    if (home != NULL && isatty(0)) {
        hist = lua_pushfstring(L, "%s/.dfush_history", home); /* stays on the stack */
#ifdef DFU_USE_READLINE
        if (read_history(hist) != 0)
            write_history(hist);
        stifle_history(1000);
#endif
    }
    while ((status = loadline(L, hist)) != -1) {
        int base = lua_gettop(L);

        if (status == -2)
            continue; /* Ctrl-C at the prompt: a new prompt */

        if (status == LUA_OK)
            status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK && lua_gettop(L) >= base) {
            int n = lua_gettop(L) - base + 1;

            luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
            lua_getglobal(L, "print");
            lua_insert(L, base);
            if (lua_pcall(L, n, 0, 0) != LUA_OK)
                report(L, LUA_ERRRUN);
        } else {
            report(L, status);
        }
        lua_settop(L, base - 1);
    }
    lua_settop(L, 0);
    fputc('\n', stdout);
    dfulua_interrupt = 0; /* a Ctrl-C the REPL handled does not make its exit status */
}

/* ---- main ---- */

#ifdef DFU_TEST_HOOKS
/* Only in the test host (dfush_oomtest, built with the tests): allocation failure on demand. */
static void *fail_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (ptr == NULL || nsize > osize) {
        if (alloc_left == 0)
            return NULL;
        alloc_left--;
    }
    return realloc(ptr, nsize);
}
#endif

static int is_lua_mode(int argc, char **argv)
{
    const char *a = argc > 1 ? argv[1] : NULL;
    size_t len;

    if (a == NULL || strcmp(a, "-i") == 0 || strcmp(a, "-") == 0 || strcmp(a, "--") == 0 ||
        strncmp(a, "-e", 2) == 0 || strncmp(a, "-l", 2) == 0)
        return 1; /* lua.c options */
    len = strlen(a);
    /* A script: NAME.lua, or an existing file named with a '/' (busted re-executes as
     * `dfush /usr/bin/busted ...`). A bare word is a command even if such a file exists in the
     * cwd, so `dfush flash x.elf` never runs a stray ./flash; use ./flash for that. */
    return a[0] != '-' &&
           ((len > 4 && strcmp(a + len - 4, ".lua") == 0) || (strchr(a, '/') != NULL && isfile(a)));
}

/* lua.c-style options; returns the exit code. */
static int lua_mode(lua_State *L, int argc, char **argv)
{
    int script = 0, interactive = 0, i;

    for (i = 1; i < argc && script == 0; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            script = i + 1 < argc ? i + 1 : 0;
            break;
        } else if (strcmp(a, "-") == 0 || a[0] != '-') {
            script = i;
        } else if (strcmp(a, "-i") == 0) {
            interactive = 1;
        } else if (strcmp(a, "-W") == 0 || strcmp(a, "-E") == 0) {
            continue; /* warnings are always on; the environment is always read */
        } else if (strcmp(a, "-l") == 0 && (i + 1 >= argc || argv[i + 1][0] == '-')) {
            fprintf(stderr,
                    "%s: option '-l' needs a Lua module name (-l MOD, as lua); to list DFU "
                    "devices (as dfu-util -l does): dfush list\n",
                    progname);
            return 2;
        } else if ((a[1] == 'e' || a[1] == 'l') && (a[2] != '\0' || i + 1 < argc)) {
            if (a[2] == '\0')
                i++;
        } else {
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            return 2;
        }
    }
    createargtable(L, argv, argc, script > 0 ? script : 0);
    for (i = 1; i < argc && (script == 0 || i < script); i++) {
        if (strncmp(argv[i], "-e", 2) == 0) { /* -e STAT: `dfu` is there, as in the REPL */
            if (dolibrary(L, "dfu") != LUA_OK)
                return 1;
            break;
        }
        if ((argv[i][1] == 'e' || argv[i][1] == 'l') && argv[i][2] == '\0')
            i++;
    }
    for (i = 1; i < argc && (script == 0 || i < script); i++) {
        const char *a = argv[i], *v;

        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l'))
            continue;
        v = a[2] != '\0' ? a + 2 : argv[++i];
        if ((a[1] == 'e' ? dostring(L, v, "=(command line)") : dolibrary(L, v)) != LUA_OK)
            return 1;
    }
    if (script > 0 && runscript(L, argv, script) != LUA_OK)
        return 1;
    if (interactive || (argc == 1 && isatty(0))) {
        if (dolibrary(L, "dfu") != LUA_OK)
            fprintf(stderr, "%s: the dfu module did not load; dfu.core etc. still work\n",
                    progname);
        repl(L);
    } else if (argc == 1) {
        char dash[] = "-";
        char *in[2];

        /* `dfush < file` runs stdin as one chunk, with `dfu` loaded as in the REPL */
        if (dolibrary(L, "dfu") != LUA_OK)
            return 1;
        in[0] = argv[0];
        in[1] = dash;
        if (runscript(L, in, 1) != LUA_OK)
            return 1;
    }
    return 0;
}

/* Run require(module).main(arg); its result is the exit code. */
static int cli_mode(lua_State *L, int argc, char **argv, const char *module)
{
    int status, code;

    createargtable(L, argv, argc, 0);
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    status = docall(L, 1, 1);
    if (report(L, status) != LUA_OK)
        return 1;
    if (lua_getfield(L, -1, "main") != LUA_TFUNCTION) {
        fprintf(stderr, "%s: %s has no main function\n", progname, module);
        return 1;
    }
    lua_getglobal(L, "arg");
    status = docall(L, 1, 1);
    if (report(L, status) != LUA_OK)
        return 1;
    code = lua_isboolean(L, -1) ? !lua_toboolean(L, -1) : (int)lua_tointeger(L, -1);
    return code; /* an integer, true/nil (0) or false (1) */
}

/* The C modules, preloaded so that require finds them in the host itself. */
static const struct {
    const char *name;
    lua_CFunction open;
} builtin_modules[] = {
    {"dfu.core", luaopen_dfu_core},
    {"dfu.image", luaopen_dfu_image},
    {"dfu.sim", luaopen_dfu_sim},
};

/* The names under which the host is dfu-util's command line (doc/usage.md "dfu-util"). */
static int is_dfuutil_name(const char *name)
{
    return strcmp(name, "dfu-util") == 0 || strcmp(name, "dfush-dfu-util") == 0;
}

/* package.preload loader of the Lua library's module number upvalue(1) (lua/embed.h): the
 * chunk is called with the module name and its source file, as require would call it. */
static int load_embedded(lua_State *L)
{
    const struct dfulua_chunk *c = &dfulua_library[lua_tointeger(L, lua_upvalueindex(1))];

    if (luaL_loadbufferx(L, (const char *)c->code, c->size, c->chunkname, "b") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, c->module);
    lua_pushstring(L, c->chunkname + 1);
    lua_call(L, 2, 1);
    return 1;
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);

    luaL_checkversion(L);
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* [preload] */
    for (size_t i = 0; i < sizeof builtin_modules / sizeof builtin_modules[0]; i++) {
        lua_pushcfunction(L, builtin_modules[i].open);
        lua_setfield(L, -2, builtin_modules[i].name);
    }
    for (lua_Integer i = 0; dfulua_library[i].module != NULL; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, dfulua_library[i].module);
    }
    lua_pop(L, 1);
    setpaths(L);
    lua_warning(L, "@on", 0);
    lua_settop(L, 0);
    if (is_dfuutil_name(progname))
        lua_pushinteger(L, cli_mode(L, argc, argv, "dfu.dfuutil"));
    else if (is_lua_mode(argc, argv))
        lua_pushinteger(L, lua_mode(L, argc, argv));
    else
        lua_pushinteger(L, cli_mode(L, argc, argv, "dfu.cli"));
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    int status, code;

    if (argv[0] != NULL && argv[0][0] != '\0')
        progname = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return 1;
    }
#ifdef DFU_TEST_HOOKS
    if (getenv("DFU_FAIL_ALLOC_AFTER") != NULL) {
        alloc_left = atol(getenv("DFU_FAIL_ALLOC_AFTER"));
        lua_setallocf(L, fail_alloc, NULL);
    }
#endif
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 1, 0);
    code = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
    report(L, status);
    lua_close(L); /* runs the finalizers: devices and simulators close */
    free(cur_line);
    if (dfulua_interrupt && (status != LUA_OK || code == 0 || code == 1))
        code = 130; /* Ctrl-C stopped it, wherever that was */
    return code;
}
