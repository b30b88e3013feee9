-- The REPL (issue 16 item 7): the banner, help(), Tab completion and Ctrl-C at the prompt on a
-- real pseudo-terminal (repl_pty.py), and the completion and help functions themselves.
local support = require "recipes.support"
local helper = support.helper
local repl = require "dfu.repl"

local function python3()
  local p = io.popen("command -v python3 2>/dev/null")
  local out = p:read("a")
  p:close()
  return out:match("%S+")
end

-- Type the steps into dfush on a pty; returns everything it printed and the exit status.
local function drive(steps)
  local script = helper.root .. "/tests/spec/recipes/repl_pty.py"
  local home = helper.tmpname(".home")
  os.remove(home)
  assert(os.execute("mkdir -p '" .. home .. "'"))
  local cmd = { "python3", script, helper.dfush_path, home }
  for _, s in ipairs(steps) do cmd[#cmd + 1] = s end
  for i, a in ipairs(cmd) do cmd[i] = "'" .. a:gsub("'", "'\\''") .. "'" end
  local p = io.popen(table.concat(cmd, " "))
  local out = p:read("a")
  p:close()
  os.execute("rm -rf '" .. home .. "'")
  return out, tonumber(out:match("EXIT (%-?%d+)%s*$"))
end

describe("REPL", function()
  after_each(helper.cleanup)

  describe("on a terminal", function()
    if not support.have_binary() or not python3() then
      pending("needs the built dfush and python3")
      return
    end

    it("prints a banner with the version and how to get help", function()
      local out, code = drive({ "\\x04" })
      assert.are.equal(0, code, out)
      assert.matches("dfush " .. require("dfu.core").version, out, 1, true)
      assert.matches("help()", out, 1, true)
    end)

    it("Ctrl-C at the prompt (empty or half typed) gives a new prompt; Ctrl-D exits 0", function()
      local out, code = drive({ "\\x03", "x = 1 +\\x03", "\\x03", "print(40 + 2)\\n", "\\x04" })
      assert.are.equal(0, code, out)
      assert.matches("%D42\r?\n", out)
    end)

    it("Ctrl-C stops a running statement and the REPL goes on", function()
      local out, code = drive({ "while true do end\\n", "\\x03", "print(6 * 7)\\n", "\\x04" })
      assert.are.equal(0, code, out)
      assert.matches("interrupted", out, 1, true)
      assert.matches("%D42\r?\n", out)
    end)

    it("Tab completes dfu. names and methods", function()
      local out, code = drive({ "d = dfu.open('sim:stm32h753')\\n", "print(dfu.op\\t", "'sim:stm32h753') ~= nil)\\n",
                                "x = d:find_a\\t", "'Option')\\n", "print(x)\\n", "\\x04" })
      assert.are.equal(0, code, out)
      -- the lines as completed
      assert.matches("print(dfu.open('sim:stm32h753') ~= nil)", out, 1, true)
      assert.matches("%Dtrue\r?\n", out)
      assert.matches("x = d:find_alt('Option')", out, 1, true)
      assert.matches("%D1\r?\n", out)
    end)

    it("help() and help(dfu.open) print the documentation", function()
      local out, code = drive({ "help()\\n", "help(dfu.open)\\n", "\\x04" })
      assert.are.equal(0, code, out)
      assert.matches("help(dfu.open)", out, 1, true)
      assert.matches("Open a device: dfu.open(\"sim:stm32h753\")", out, 1, true)
    end)
  end)

  describe("dfu.repl", function()
    it("complete() finds globals, module fields and methods, and adds ( to a function", function()
      local dfu = require "dfu"
      local dev <close> = assert(dfu.open("sim:stm32h753"))
      local env = setmetatable({ dfu = dfu, dev = dev }, { __index = _G })
      assert.are.same({ "dfu.open(" }, repl.complete("dfu.op", env))
      assert.are.same({ "dfu.image.load(" }, repl.complete("dfu.image.lo", env))
      assert.are.same({ "dev:flash(" }, repl.complete("dev:fla", env))
      assert.are.same({ "dfu.core." }, repl.complete("dfu.cor", env))
      local all = repl.complete("dfu.", env)
      assert.is_true(#all > 5)
      for _, w in ipairs(all) do assert.matches("^dfu%.[%w_]+$", w) end
      local m = repl.complete("dev:", env)
      local set = {}
      for _, w in ipairs(m) do set[w] = true end
      assert.is_true(set["dev:upload"] and set["dev:flash"] and set["dev:alts"])
      assert.are.same({}, repl.complete("nosuch.x", env))
      assert.are.same({ "print(" }, repl.complete("prin", env))
    end)

    it("help_text() gives the documented signature and text of functions and methods", function()
      local dfu = require "dfu"
      local dev <close> = assert(dfu.open("sim:stm32h753"))
      local t = repl.help_text(dfu.open)
      assert.matches("^dfu%.open%(spec%)\n", t)
      assert.matches("Open a device", t, 1, true)
      assert.matches("^Device:flash%(img, opts%)", repl.help_text(dev.flash))
      assert.matches("^Device:find_alt%(want%)", repl.help_text(dev.find_alt))
      assert.matches("^dfu%.image%.load%(path, opts%)", repl.help_text(dfu.image.load))
      assert.matches("wBlockNum", repl.help_text("Device:upload"), 1, true)
      assert.matches("Device:flash", repl.help_text(dev), 1, true)
      assert.matches("dfu.open", repl.help_text(dfu), 1, true)
      assert.matches("help(dfu.open)", repl.help_text(), 1, true)
    end)

    it("-e has dfu loaded, as the REPL", function()
      if not support.have_binary() then return end
      local r = support.spawn({ "-e", "io.write(dfu.core.version)" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(require("dfu.core").version, r.stdout)
    end)
  end)
end)
