-- dfu.sim: simulator objects, backdoor memory, clock, event log, faults, state files.
local helper = require "helper"
local sim = require "dfu.sim"

describe("dfu.sim", function()
  after_each(helper.cleanup)

  it("profiles() lists the built-in profiles", function()
    local set = {}
    for _, p in ipairs(sim.profiles()) do
      set[p] = true
    end
    assert.is_true(set.stm32h753)
    assert.is_true(set.stm32f405)
    assert.is_true(set.dfu11)
  end)

  it("new() accepts a spec with or without sim:, and fails on unknown profiles", function()
    assert.are.equal("stm32h753", assert(sim.new("stm32h753")):profile())
    assert.are.equal("stm32f405", assert(sim.new("sim:stm32f405,boot0=0")):profile())
    local ok, msg, code = sim.new("pdp11")
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.is_string(code)
  end)

  it("__tostring shows profile, mode and time", function()
    local s = helper.sim()
    assert.matches("^dfu%.Sim: stm32h753 %(rom, t=%d+%.%d+s%)$", tostring(s))
  end)

  it("backdoor read/write of flash, erased as 0xFF", function()
    local s = helper.sim()
    assert.are.equal(string.rep("\255", 16), s:read(0x08000000, 16))
    assert.is_true(s:write(0x08000100, "hello"))
    assert.are.equal("hello", s:read(0x08000100, 5))
    assert.are.equal("", s:read(0x08000000, 0))
    local ok, msg, code = s:read(0x70000000, 4)
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.is_string(code)
  end)

  it("the bootloader ID byte is in system memory", function()
    local s = helper.sim()
    assert.are.equal(0x90, s:read(0x1FF1E7FE, 1):byte())
    assert.are.equal(0x91, helper.sim("stm32h753,rom=0x91"):read(0x1FF1E7FE, 1):byte())
  end)

  it("events() returns JSON lines for control requests", function()
    local s = helper.sim()
    assert.are.same({}, helper.events(s, "ctrl"))
    local dev <close> = assert(s:device())
    local before = #s:events()
    assert(dev:getstatus())
    assert.are.equal(before + 1, #s:events())
    local ev = helper.events(s, "ctrl")
    local last = ev[#ev]
    assert.are.equal("GETSTATUS", last.req)
    assert.is_number(last.t)
  end)

  it("now() and advance() use the virtual clock", function()
    local s = helper.sim()
    local t0 = s:now()
    assert.is_true(s:advance(1.5))
    assert.is_true(math.abs(s:now() - t0 - 1.5) < 1e-6)
  end)

  it("mode() is rom while in the bootloader", function()
    assert.are.equal("rom", helper.sim():mode())
  end)

  it("inject() adds faults; bad specs fail", function()
    local s = helper.sim()
    assert.is_true(s:inject("timeout:GETSTATUS:1"))
    local dev <close> = assert(s:device())
    local ok, _, code = dev:getstatus()
    assert.is_nil(ok)
    assert.are.equal("TIMEOUT", code)
    local ok2, msg, code2 = s:inject("explode:NOW:1")
    assert.is_nil(ok2)
    assert.is_string(msg)
    assert.is_string(code2)
  end)

  it("save() writes the state= file, and a new sim reads it back", function()
    local state = helper.tmpname(".state")
    os.remove(state)
    local s = helper.sim("stm32h753,state=" .. state)
    s:write(0x08000000, "persisted")
    assert.is_true(s:save())
    local f = io.open(state, "rb")
    assert.is_truthy(f)
    f:close()
    local s2 = helper.sim("stm32h753,state=" .. state)
    assert.are.equal("persisted", s2:read(0x08000000, 9))
  end)

  it("device() fails with NO_DEVICE when the chip is not in the ROM", function()
    local s = helper.sim("stm32h753,boot0=0")
    local dev = assert(s:device())
    dev:leave(0x08000000)
    dev:close()
    assert.are_not.equal("rom", s:mode())
    local ok, msg, code = s:device()
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.are.equal("NO_DEVICE", code)
  end)

  describe("argument errors", function()
    local s = helper.sim()
    local cases = {
      { "new()", function() sim.new() end, "bad argument #1" },
      { "new(extra)", function() sim.new("stm32h753", 1) end, "bad argument #2" },
      { "profiles(extra)", function() sim.profiles(1) end, "bad argument #1" },
      { "read(-1)", function() s:read(-1, 1) end, "bad argument #1" },
      { "read(addr)", function() s:read(0) end, "bad argument #2" },
      { "write(addr, 5)", function() s:write(0, {}) end, "bad argument #2" },
      { "advance(-1)", function() s:advance(-1) end, "bad argument #1" },
      { "inject(nil)", function() s:inject() end, "bad argument #1" },
      { "events(extra)", function() s:events(1) end, "bad argument #1" },
      { "device(extra)", function() s:device(1) end, "bad argument #1" },
      { "not a sim", function() s.mode({}) end, "dfu.Sim expected" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " raises", function()
        local ok, err = pcall(c[2])
        assert.is_false(ok)
        assert.matches(c[3], tostring(err), 1, true)
      end)
    end
  end)
end)
