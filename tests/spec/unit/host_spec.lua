-- The dfush binary: lua-compatible script mode, arg table, paths, CLI dispatch, exit codes,
-- and the module under a stock lua5.4.
local helper = require "helper"

local function dfush(args, opts)
  return helper.dfush(args, opts)
end

describe("dfush host", function()
  after_each(helper.cleanup)

  describe("lua mode", function()
    it("-e runs a statement with the dfu modules preloaded", function()
      local r = dfush({ "-e", "print(type(package.preload['dfu.core']), type(require('dfu.image').crc32))" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("function\tfunction\n", r.stdout)
    end)

    it("runs a script file with arguments in arg and ...", function()
      local script = helper.writefile(helper.tmpname(".lua"), "print(arg[0] == ..., arg[1], arg[2], select('#', ...))")
      local r = dfush({ script, "one", "two" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("false\tone\ttwo\t2\n", r.stdout)
    end)

    it("treats an existing file without .lua extension as a script (busted re-exec)", function()
      local script = helper.writefile(helper.tmpname(), "print('ran', arg[-1] ~= nil, arg[1])")
      local r = dfush({ script, "--ignore-lua" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("ran\ttrue\t--ignore-lua\n", r.stdout)
    end)

    it("a bare word is a command even when a file of that name is in the cwd", function()
      local dir = helper.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
      helper.writefile(dir .. "/help", "print('stray script ran')")
      local r = dfush({ "help" }, { cwd = dir })
      local r2 = dfush({ "./help" }, { cwd = dir })
      os.remove(dir .. "/help")
      os.remove(dir)
      assert.are.equal(0, r.code, r.stderr)
      assert.is_nil(r.stdout:find("stray script ran", 1, true))
      assert.are.equal("stray script ran\n", r2.stdout)
    end)

    it("builds arg like lua.c: options at negative indices", function()
      local script = helper.writefile(helper.tmpname(".lua"), "print(arg[-2], arg[-1], arg[0] ~= nil, #arg)")
      local r = dfush({ "-e", "x=1", script, "a" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("-e\tx=1\ttrue\t1\n", r.stdout)
    end)

    it("-l loads a module into a global", function()
      local r = dfush({ "-l", "dfu.sim", "-e", "print(type(_G['dfu.sim'].profiles))" })
      assert.are.equal(0, r.code, r.stderr)
    end)

    it("'-' runs stdin with arguments", function()
      local r = dfush({ "-", "x" }, { stdin = "print('from stdin', ...)" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("from stdin\tx\n", r.stdout)
    end)

    it("no arguments and stdin not a TTY runs stdin, with dfu loaded as in the REPL", function()
      local r = dfush({}, { stdin = "print(1 + 1)\nlocal d <close> = dfu.open('sim:stm32h753')\n" ..
        "print(d:info().transfer_size)" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("2\n1024\n", r.stdout)
    end)

    it("-- ends the options", function()
      local script = helper.writefile(helper.tmpname(".lua"), "print(...)")
      local r = dfush({ "--", script, "-e" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("-e\n", r.stdout)
    end)

    it("-i runs the REPL after the script, with dfu loaded", function()
      local r = dfush({ "-i" }, { stdin = "x = 6 * 7\nprint(x)\ntype(dfu)\nfor i = 1, 2 do\nprint(i)\nend\n" })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("42", r.stdout, 1, true)
      assert.matches("table", r.stdout, 1, true)
      assert.matches("1\n2\n", r.stdout, 1, true)
    end)

    it("an error exits 1 with a traceback on stderr", function()
      local r = dfush({ "-e", "error('boom')" })
      assert.are.equal(1, r.code)
      assert.matches("boom", r.stderr, 1, true)
      assert.matches("stack traceback", r.stderr, 1, true)
    end)

    it("an error table is printed through __tostring", function()
      local r = dfush({ "-e", "error(setmetatable({code='STATUS'}, "
        .. "{__tostring=function() return 'custom error text' end}))" })
      assert.are.equal(1, r.code)
      assert.matches("custom error text", r.stderr, 1, true)
      assert.is_nil(r.stderr:find("stack traceback", 1, true))
    end)

    it("a syntax error in a script exits 1", function()
      local script = helper.writefile(helper.tmpname(".lua"), "this is not lua")
      local r = dfush({ script })
      assert.are.equal(1, r.code)
      assert.matches("syntax error", r.stderr, 1, true)
    end)

    it("turns warnings on", function()
      local r = dfush({ "-e", "warn('visible')" })
      assert.are.equal(0, r.code)
      assert.matches("Lua warning: visible", r.stderr, 1, true)
    end)

    it("an unknown lua option after a lua option is a usage error", function()
      local r = dfush({ "-e", "x=1", "-Z" })
      assert.are.equal(2, r.code)
    end)
  end)

  describe("paths", function()
    it("package.path does not search the current directory and starts with the repo", function()
      local r = dfush({ "-e", "print(package.path)" })
      assert.are.equal(0, r.code, r.stderr)
      assert.is_nil(r.stdout:find("./?.lua", 1, true))
      assert.is_nil(r.stdout:find("./?/init.lua", 1, true))
      assert.are.equal(1, r.stdout:find(helper.root .. "/lua/?.lua", 1, true))
      assert.truthy(r.stdout:find("/usr/share/lua/5.4/?.lua", 1, true))
    end)

    it("the Lua library is compiled in: every lua/dfu module is preloaded from the binary", function()
      local names = {}
      for _, f in ipairs(require("dfu.core").listdir(helper.root .. "/lua/dfu")) do
        local m = f:match("^(.*)%.lua$")
        if m and m ~= "_meta" then names[#names + 1] = m == "init" and "dfu" or "dfu." .. m end
      end
      table.sort(names)
      assert.is_true(#names > 5)
      local r = dfush({ "-e", "for _, m in ipairs{'" .. table.concat(names, "','") .. "'} do "
        .. "io.write(m, ' ', type(package.preload[m]), ' ', debug.getinfo(package.preload[m], 'S').what, "
        .. "' ', type(require(m)), '\\n') end" })
      assert.are.equal(0, r.code, r.stderr)
      local want = {}
      for _, m in ipairs(names) do want[#want + 1] = m .. " function C table\n" end
      assert.are.equal(table.concat(want), r.stdout)
      -- the chunks keep their source names and line numbers for tracebacks
      r = dfush({ "-e", "print(debug.getinfo(require('dfu.flash').run, 'S').short_src)" })
      assert.are.equal("lua/dfu/flash.lua\n", r.stdout)
    end)

    it("list and --help read no lua/dfu file and start no other program", function()
      if not os.execute("command -v strace >/dev/null 2>&1") then
        pending("needs strace")
        return
      end
      for _, args in ipairs({ { "list" }, { "--help" }, { "help" } }) do
        local log = helper.tmpname(".strace")
        local argv = { "strace", "-f", "-qq", "-o", log, "-e", "trace=execve,openat", helper.dfush_path }
        for _, a in ipairs(args) do argv[#argv + 1] = a end
        -- LeakSanitizer cannot run under ptrace
        local r = helper.run(argv, { env = { ASAN_OPTIONS = "detect_leaks=0" } })
        assert.are.equal(0, r.code, r.stderr)
        local trace = helper.readfile(log)
        local _, execs = trace:gsub("execve%(", "")
        assert.are.equal(1, execs, trace)
        assert.is_nil(trace:find("/dfu/[%w_]+%.lua\""), trace)
      end
    end)

    it("a stray dfu/*.lua in the cwd does not replace the shipped module", function()
      local dir = helper.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. helper.shell_quote(dir .. "/dfu")))
      helper.writefile(dir .. "/dfu/init.lua", "error('stray module loaded')")
      local r = dfush({ "-e", "local d = require 'dfu'; print(type(d))" }, { cwd = dir })
      os.remove(dir .. "/dfu/init.lua")
      os.remove(dir .. "/dfu")
      os.remove(dir)
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("table\n", r.stdout)
    end)

    it("package.dfush_scripts lists the scripts dir, then DFUSH_PATH entries", function()
      local r = dfush({ "-e", "print(table.concat(package.dfush_scripts, '|'))" },
        { env = { DFUSH_PATH = "/a/b::/c" } })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(helper.root .. "/scripts|/a/b|/c\n", r.stdout)
    end)
  end)

  describe("cli mode", function()
    it("--help runs dfu.cli and exits 0", function()
      local r = dfush({ "--help" })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("usage", r.stdout .. r.stderr)
    end)

    it("the exit code is the CLI's result", function()
      local r = dfush({ "no-such-command-xyz" })
      assert.are.equal(2, r.code)
    end)
  end)

  describe("stock lua5.4", function()
    local function lua54(code)
      local env = {
        LUA_PATH = helper.root .. "/lua/?.lua;" .. helper.root .. "/lua/?/init.lua;;",
        LUA_CPATH = helper.build_dir .. "/?.so;;",
      }
      if helper.sanitized() then
        -- dfu.so needs the sanitizer runtimes loaded first
        local p = io.popen("ldd " .. helper.shell_quote(helper.build_dir .. "/dfu.so"))
        local libs = {}
        for lib in p:read("a"):gmatch("=>%s*(%S*lib[a-z]*san[^%s]*)") do
          libs[#libs + 1] = lib
        end
        p:close()
        env.LD_PRELOAD = table.concat(libs, " ")
        env.ASAN_OPTIONS = "detect_leaks=0"
      end
      return helper.run({ "lua5.4", "-e", code }, { env = env })
    end

    it("require 'dfu.core', 'dfu.image', 'dfu.sim' load from dfu.so via cpath", function()
      local r = lua54("local c, i, s = require 'dfu.core', require 'dfu.image', require 'dfu.sim';"
        .. "print(c.version, i.crc32('123456789'), #s.profiles(), package.searchpath('dfu', package.cpath))")
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("^%S+\t3421780262\t%d+\t.*dfu%.so\n$", r.stdout)
    end)

    it("require 'dfu' finds the facade and it works", function()
      local r = lua54("local dfu = require 'dfu'; local dev = assert(dfu.open('sim:stm32h753'));"
        .. "print(dev:info().vid); dev:close()")
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(tostring(0x0483) .. "\n", r.stdout)
    end)
  end)

  describe("Ctrl-C", function()
    it("is not swallowed by util.pcall: the script stops with 130 and no traceback", function()
      local script = helper.writefile(helper.tmpname(".lua"), [[
        local util = require "dfu.util"
        local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
        local caught = util.pcall(function()
          io.popen("kill -INT " .. pid):close()
          for _ = 1, 1e7 do end -- the hook raises "interrupted" in here
        end)
        print("not reached", caught)
      ]])
      local r = dfush({ script })
      assert.are.equal(130, r.code, r.stderr)
      assert.are.equal("", r.stdout)
      assert.are.equal("dfush: interrupted (Ctrl-C)\n", r.stderr)
    end)
  end)
end)
