-- dfu.core module functions: constants, layouts, list and open with device strings.
local helper = require "helper"
local core = require "dfu.core"

describe("dfu.core", function()
  it("has name <-> number tables generated from the C lists", function()
    assert.are.equal(7, core.STATUS.errVERIFY)
    assert.are.equal("errVERIFY", core.STATUS[7])
    assert.are.equal(0, core.STATUS.OK)
    assert.are.equal(2, core.STATE.dfuIDLE)
    assert.are.equal("dfuDNBUSY", core.STATE[4])
    assert.are.equal("dfuERROR", core.STATE[10])
    assert.are.equal(-7, core.ERR.TIMEOUT)
    assert.are.equal("TIMEOUT", core.ERR[-7])
    assert.are.equal("FORMAT", core.ERR[core.ERR.FORMAT])
    for name, v in pairs(core.STATUS) do
      if type(name) == "string" then
        assert.are.equal(name, core.STATUS[v])
      end
    end
  end)

  it("has a version string", function()
    assert.matches("^%d+%.%d+%.%d+", core.version)
  end)

  it("isatty answers for 0-2 and refuses other descriptors", function()
    local r = helper.dfush({ "-e", "local c = require 'dfu.core' print(c.isatty(0), c.isatty(1), c.isatty(2))" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("false\tfalse\tfalse\n", r.stdout) -- stdin /dev/null, output to files
    assert.has_error(function() core.isatty(3) end)
  end)

  it("interrupted is false when no Ctrl-C came; util.pcall then catches like pcall", function()
    local util = require "dfu.util"
    assert.is_false(core.interrupted())
    assert.is_false(util.is_interrupt("x.lua:1: interrupted"))
    local ok, err = util.pcall(error, "x.lua:1: interrupted", 0)
    assert.is_false(ok)
    assert.are.equal("x.lua:1: interrupted", err)
    assert.are.same({ true, 1, 2 }, { util.pcall(function() return 1, 2 end) })
  end)

  describe("parse_layout", function()
    it("expands runs with addresses and type bits", function()
      local l = assert(core.parse_layout("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"))
      assert.are.equal("Internal Flash", l.name)
      assert.are.equal(3, #l.runs)
      assert.are.same({ address = 0x08000000, count = 4, size = 16384, type = 7,
                        readable = true, erasable = true, writable = true }, l.runs[1])
      assert.are.equal(0x08010000, l.runs[2].address)
      assert.are.equal(0x08020000, l.runs[3].address)
      assert.are.equal(1024 * 1024, l.total)
    end)

    it("decodes the type letter bits (e = readable + writable, a = readable only)", function()
      local l = assert(core.parse_layout("@Option Bytes  /0x1FFFC000/01*016 e,01*016 a"))
      assert.are.equal(16, l.runs[1].size)
      assert.are.equal(5, l.runs[1].type)
      assert.is_true(l.runs[1].readable)
      assert.is_false(l.runs[1].erasable)
      assert.is_true(l.runs[1].writable)
      assert.are.equal(1, l.runs[2].type)
      assert.is_false(l.runs[2].writable)
    end)

    it("fails on a string that is no layout", function()
      local ok, msg, code = core.parse_layout("hello")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)
  end)

  describe("list", function()
    it("with no argument lists USB devices only", function()
      local l, msg = core.list()
      assert.is_table(l, msg)
      for _, d in ipairs(l) do
        assert.are.equal("usb", d.backend)
      end
    end)

    it("lists a simulated device", function()
      local l = assert(core.list("sim:stm32h753"))
      assert.are.equal(1, #l)
      assert.are.equal(0x0483, l[1].vid)
      assert.are.equal(0xdf11, l[1].pid)
      assert.are.equal("sim", l[1].backend)
      assert.is_true(l[1].dfuse)
    end)

    it("fails for an unknown profile or a bad device string", function()
      local ok, msg, code = core.list("sim:no_such_chip")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
      ok, msg, code = core.list("floppy:1")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)
  end)

  describe("open", function()
    it("opens a simulated device on alt 0 by default", function()
      local dev <close> = assert(core.open("sim:stm32h753"))
      assert.are.equal(0, dev:alt())
      assert.are.equal("sim", dev:info().backend)
    end)

    it("selects the alt from the device string, by number or name", function()
      local a <close> = assert(core.open("sim:stm32h753,alt=1"))
      assert.are.equal(1, a:alt())
      local b <close> = assert(core.open("sim:stm32h753,alt=Option"))
      assert.are.equal(1, b:alt())
      local ok, msg, code = core.open("sim:stm32h753,alt=9")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.are.equal("INVALID", code) -- the device is there: bad input, as an unknown --alt
    end)

    it("passes simulator keys through", function()
      local events = helper.tmpname(".jsonl")
      local dev = assert(core.open("sim:stm32h753,events=" .. events))
      assert(dev:getstatus())
      dev:close()
      collectgarbage()
      collectgarbage()
      local kinds = {}
      for line in io.lines(events) do
        kinds[helper.json_decode(line).ev] = true
      end
      helper.cleanup()
      assert.is_true(kinds.ctrl)
    end)

    it("checks the narrowing keys against the simulated device", function()
      local serial = assert(core.list("sim:stm32h753"))[1].serial
      local _ <close> = assert(core.open("sim:stm32h753,serial=" .. serial))
      local ok, msg, code = core.open("sim:stm32h753,serial=nope")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.are.equal("NOT_FOUND", code)
    end)

    it("fails for an unknown profile", function()
      local ok, msg, code = core.open("sim:no_such_chip")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)
  end)

  describe("argument errors", function()
    local cases = {
      { "list({})", function() core.list({}) end, "bad argument #1" },
      { "list(extra)", function() core.list("usb", 1) end, "bad argument #2" },
      { "open({})", function() core.open({}) end, "bad argument #1" },
      { "parse_layout()", function() core.parse_layout() end, "bad argument #1" },
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
