-- A user's own recipe runs like a built-in command: --recipes DIR and DFUSH_PATH, help, the
-- sandbox, exit codes.
local support = require "recipes.support"
local helper = support.helper

local RECIPE = [[
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "serial",
  usage = "serial NUMBER [--at ADDR]",
  help = "Program a serial number.\n\nWrites NUMBER as a 32-bit little-endian word.",
  args = { { name = "number" } },
  options = { { name = "at", arg = "ADDR", help = "where (default 0x0803FFE0)" } },
  examples = { "dfush serial 1234" },
  run = function(ctx, p)
    local n = util.parse_number(p.number) or util.usage("serial: NUMBER must be a number, got %s", p.number)
    local at = p.at and util.addr_arg(p.at, "--at") or 0x0803FFE0
    local img = dfu.image.new()
    dfu.check(img:add(at, string.pack("<I4", n)))
    local dev <close> = ctx:open()
    local report = dfu.check(dev:flash(img, { progress = ctx.progress }))
    ctx:set_result { ok = true, serial = n, address = at, written = report.written }
    ctx:say("serial %d at %s", n, util.hex(at))
  end,
}
]]

local BAD_GLOBAL = [[
local dfu = require "dfu"
return dfu.recipe { name = "leaky", run = function(ctx) counter = 1 end }
]]

local function recipe_dir()
  local dir = support.tmp("")
  os.remove(dir)
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
  helper.writefile(dir .. "/serial.lua", RECIPE)
  helper.writefile(dir .. "/leaky.lua", BAD_GLOBAL)
  return dir
end

describe("user recipes", function()
  local dirs = {}
  after_each(function()
    for _, d in ipairs(dirs) do
      os.remove(d .. "/serial.lua")
      os.remove(d .. "/leaky.lua")
      os.remove(d)
    end
    dirs = {}
    helper.cleanup()
  end)

  for runner, run in pairs(support.runners()) do
    it("run with --recipes DIR (" .. runner .. ")", function()
      local dir = recipe_dir()
      dirs[#dirs + 1] = dir
      local dev, state = support.simdev("stm32h753")
      local r = run({ "--recipes", dir, "-d", dev, "--json", "serial", "0x12345678" })
      assert.are.equal(0, r.code, r.stderr)
      local out = assert(support.json.decode(r.stdout))
      assert.are.equal(0x12345678, out.serial)
      local sim = support.sim_state("stm32h753", state)
      assert.are.equal(string.pack("<I4", 0x12345678), sim:read(0x0803FFE0, 4))
    end)

    it("help and usage errors come from the declaration (" .. runner .. ")", function()
      local dir = recipe_dir()
      dirs[#dirs + 1] = dir
      local r = run({ "--recipes", dir, "help", "serial" })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("usage: dfush serial NUMBER", r.stdout, 1, true)
      assert.matches("--at ADDR", r.stdout, 1, true)
      local list = run({ "--recipes", dir, "help" })
      assert.matches("serial +Program a serial number%.", list.stdout)
      local bad = run({ "--recipes", dir, "-d", "sim:stm32h753", "serial", "abc" })
      assert.are.equal(2, bad.code)
      assert.matches("NUMBER must be a number", bad.stderr, 1, true)
    end)

    it("a recipe that sets a global fails naming it (" .. runner .. ")", function()
      local dir = recipe_dir()
      dirs[#dirs + 1] = dir
      local r = run({ "--recipes", dir, "leaky" })
      assert.are.equal(1, r.code)
      assert.matches("counter", r.stderr, 1, true)
    end)
  end

  it("DFUSH_PATH adds recipe directories (spawned)", function()
    if not support.have_binary() then return pending("needs the built dfush") end
    local dir = recipe_dir()
    dirs[#dirs + 1] = dir
    local dev = support.simdev("stm32h753")
    local r = support.spawn({ "-d", dev, "serial", "7", "--at", "0x08020000" }, { DFUSH_PATH = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("serial 7 at 0x08020000", r.stdout, 1, true)
  end)
end)
