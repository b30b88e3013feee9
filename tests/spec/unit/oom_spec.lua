-- Allocation failure: run a script that touches every kind of object under the test host
-- (dfush_oomtest: dfush built with the test hooks) with DFU_FAIL_ALLOC_AFTER=N (growing Lua
-- allocations fail after N); the shipped dfush ignores the variable. Each run must end with
-- "not enough memory" or success; never a crash, a sanitizer report, or a leak.
local helper = require "helper"

local SCRIPT = [[
local core, image, sim = require "dfu.core", require "dfu.image", require "dfu.sim"
local s = assert(sim.new("stm32h753"))
local dev <close> = assert(s:device())
dev:on_log(function() end, "io")
assert(dev:erase_page(0x08000000))
assert(dev:write(0x08000000, string.rep("x", 3000)))
assert(dev:read(0x08000000, 3000) == string.rep("x", 3000))
local img = assert(image.load(FIXTURE))
local t = img:targets()[1].image
assert(t:encode("ihex"))
assert(t:sectors(dev:alts()[1].layout))
assert(core.parse_layout("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"))
assert(dev:info() and dev:getstatus() and #s:events() > 0)
local d2 <close> = assert(core.open("sim:stm32h753,alt=1"))
assert(core.list("sim:stm32f405"))
print("done")
]]

local oomtest = helper.build_dir .. "/dfush_oomtest"

describe("allocation failure", function()
  after_each(helper.cleanup)

  it("the shipped dfush has no such hook", function()
    local r = helper.dfush({ "-e", "print(#string.rep('x', 100000))" }, { env = { DFU_FAIL_ALLOC_AFTER = "0" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("100000\n", r.stdout)
  end)

  it("every failure point ends cleanly", function()
    local path = helper.writefile(helper.tmpname(".lua"),
      "local FIXTURE = " .. string.format("%q", helper.fixture("h7_seed.dfu")) .. "\n" .. SCRIPT)
    local full = helper.run({ oomtest, path })
    assert.are.equal(0, full.code, full.stderr)
    assert.are.equal("done\n", full.stdout)
    local failed, succeeded = 0, 0
    for n = 0, 1200, 11 do
      local r = helper.run({ oomtest, path }, { env = { DFU_FAIL_ALLOC_AFTER = tostring(n) } })
      assert.is_nil(r.stderr:find("Sanitizer", 1, true), r.stderr)
      assert.is_nil(r.stderr:find("runtime error", 1, true), r.stderr)
      if r.code == 0 then
        assert.are.equal("done\n", r.stdout)
        succeeded = succeeded + 1
      else
        assert.are.equal(1, r.code, "N=" .. n .. ": " .. r.stderr)
        assert.matches("not enough memory", r.stderr, 1, true)
        failed = failed + 1
      end
    end
    assert.is_true(failed > 10)
    assert.is_true(succeeded > 0)
  end)
end)
