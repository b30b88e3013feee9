-- dfu.Device over the simulator: every method, failures, lifetime, logs, Ctrl-C.
local helper = require "helper"
local core = require "dfu.core"

local FLASH = 0x08000000

local function pattern(n, seed)
  local t = {}
  for i = 1, n do
    t[i] = string.char((i * 7 + (seed or 0)) % 256)
  end
  return table.concat(t)
end

describe("dfu.Device", function()
  local s, dev

  before_each(function()
    s = helper.sim("stm32h753")
    dev = assert(s:device())
  end)

  after_each(function()
    dev:close()
    helper.cleanup()
  end)

  describe("information", function()
    it("info() reports the USB and DFU descriptors", function()
      local i = dev:info()
      assert.are.equal("sim", i.backend)
      assert.are.equal(0x0483, i.vid)
      assert.are.equal(0xdf11, i.pid)
      assert.are.equal(0x0200, i.bcd_device)
      assert.are.equal(0x011A, i.bcd_dfu)
      assert.are.equal(1024, i.transfer_size)
      assert.are.equal(255, i.detach_timeout)
      assert.are.equal(0x0B, i.attributes)
      assert.are.equal(0, i.alt)
      assert.is_true(i.dfuse)
      assert.matches("^@Internal Flash", i.alt_name)
      assert.is_string(i.serial)
      assert.is_string(i.product)
      assert.is_string(i.path)
      assert.is_number(i.intf)
      assert.is_number(i.protocol)
    end)

    it("alts() lists alternate settings with parsed layouts", function()
      local alts = dev:alts()
      assert.is_true(#alts >= 2)
      assert.are.equal(0, alts[1].alt)
      assert.are.equal("Internal Flash", alts[1].layout.name)
      assert.are.equal(16, alts[1].layout.runs[1].count)
      assert.are.equal(128 * 1024, alts[1].layout.runs[1].size)
      assert.are.equal(FLASH, alts[1].layout.runs[1].address)
      assert.are.equal("Option Bytes", alts[2].layout.name)
    end)

    it("set_alt by number and by name prefix", function()
      assert.is_true(dev:set_alt(1))
      assert.are.equal(1, dev:alt())
      assert.matches("^@Option Bytes", dev:info().alt_name)
      assert.is_true(dev:set_alt("Internal"))
      assert.are.equal(0, dev:alt())
      assert.is_true(dev:set_alt("@Option"))
      assert.are.equal(1, dev:alt())
      local ok, msg, code = dev:set_alt("No Such Memory")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.are.equal("NOT_FOUND", code)
      ok, msg, code = dev:set_alt(7)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)

    it("poll policy defaults to early on the ST ROM and can be changed", function()
      assert.are.equal("early", dev:poll())
      assert.is_true(dev:set_poll("spec"))
      assert.are.equal("spec", dev:poll())
    end)

    it("now() and transfers() advance with each request", function()
      local t0, n0 = dev:now(), dev:transfers()
      assert(dev:getstatus())
      assert.is_true(dev:now() > t0)
      assert.are.equal(n0 + 1, dev:transfers())
      assert.are.equal(s:now(), dev:now())
    end)

    it("__tostring names backend, ids and alt; closed handles say so", function()
      assert.matches("^dfu%.Device: sim 0483:df11 alt 0", tostring(dev))
      dev:close()
      assert.are.equal("dfu.Device (closed)", tostring(dev))
    end)
  end)

  describe("DFU requests", function()
    it("getstatus and getstate in dfuIDLE", function()
      local st = assert(dev:getstatus())
      assert.are.equal(0, st.status)
      assert.are.equal("OK", st.status_name)
      assert.are.equal(2, st.state)
      assert.are.equal("dfuIDLE", st.state_name)
      assert.is_number(st.poll_timeout)
      assert.is_number(st.istring)
      local n, name = dev:getstate()
      assert.are.equal(2, n)
      assert.are.equal("dfuIDLE", name)
    end)

    it("dnload + wait_status run a DfuSe command; abort returns to idle", function()
      assert.is_true(dev:dnload(0, string.pack("<BI4", 0x21, FLASH)))
      local st = assert(dev:wait_status(2000))
      assert.are.equal("dfuDNLOAD-IDLE", st.state_name)
      assert.is_true(dev:abort())
      assert.are.equal("dfuIDLE", select(2, dev:getstate()))
      assert.is_true(dev:clrstatus())
      assert.is_true(dev:abort_to_idle())
    end)

    it("detach in DFU mode is a protocol error (STALL) that clrstatus clears", function()
      local ok, msg, code = dev:detach(100)
      assert.is_nil(ok)
      assert.matches("DETACH", msg, 1, true)
      assert.are.equal("PIPE", code)
      assert.are.equal("dfuERROR", assert(dev:getstatus()).state_name)
      assert.is_true(dev:clrstatus())
      assert.are.equal("dfuIDLE", assert(dev:getstatus()).state_name)
    end)

    it("upload block 0 returns the command set, as get_commands does", function()
      local cmds = assert(dev:get_commands())
      local set = {}
      for _, c in ipairs(cmds) do
        set[c] = true
      end
      assert.is_true(set[0x00] and set[0x21] and set[0x41] or false)
      assert(dev:abort_to_idle())
      local raw = assert(dev:upload(0, 64))
      assert.are.equal(#cmds, #raw)
      assert.are.equal(cmds[2], raw:byte(2))
      assert(dev:abort_to_idle())
    end)
  end)

  describe("DfuSe memory", function()
    it("write and read round-trip; the sim's memory and events agree", function()
      local data = pattern(3000, 1)
      assert.is_true(dev:erase_page(FLASH))
      assert.is_true(dev:write(FLASH, data))
      assert.are.equal(data, assert(dev:read(FLASH, #data)))
      assert.are.equal(data, s:read(FLASH, #data))
      local erases = helper.events(s, "erase")
      assert.are.equal(1, #erases)
      assert.are.equal(FLASH, erases[1].address)
      assert.are.equal(128 * 1024, erases[1].size)
      local programs = helper.events(s, "program")
      assert.is_true(#programs >= 1)
      assert.are.equal(FLASH, programs[1].address)
    end)

    it("a write that continues the previous one sends no new SET_ADDRESS", function()
      assert(dev:erase_page(FLASH))
      local before = #s:events()
      assert(dev:write(FLASH, pattern(1024, 2)))
      assert(dev:write(FLASH + 1024, pattern(1024, 3)))
      local setaddr = 0
      for i = before + 1, #s:events() do
        local e = helper.json_decode(s:events()[i])
        if e.ev == "ctrl" and e.req == "DNLOAD" and e.wValue == 0 then
          setaddr = setaddr + 1
        end
      end
      assert.are.equal(1, setaddr)
      assert.are.equal(pattern(1024, 2) .. pattern(1024, 3), s:read(FLASH, 2048))
    end)

    it("set_address, mass_erase", function()
      assert.is_true(dev:set_address(FLASH))
      s:write(FLASH, "\0\0\0\0")
      assert.is_true(dev:mass_erase())
      assert.are.equal("\255\255\255\255", s:read(FLASH, 4))
      assert.is_true(#helper.events(s, "erase") >= 1)
    end)

    it("leave jumps to the application and the ROM stops answering", function()
      assert(dev:erase_page(FLASH))
      -- vector table: initial SP inside DTCM RAM, reset handler just after the table
      local app = string.pack("<I4I4", 0x20010000, FLASH + 0x201) .. string.rep("\0", 0x1f8)
        .. string.rep("\xfe\xe7", 16)
      assert(dev:write(FLASH, app))
      local r = assert(dev:leave(FLASH))
      assert.is_boolean(r.answered)
      local leaves = helper.events(s, "leave")
      assert.are.equal(1, #leaves)
      assert.are.equal(FLASH, leaves[1].address)
      assert.are.equal("app_running", leaves[1].outcome)
      assert.are.equal("app", s:mode())
    end)

    it("reenumerate waits for the ROM to come back after a leave that resets", function()
      -- erased flash: the word at the leave address is no RAM address, so the ROM resets the
      -- chip, and with BOOT0 high it re-enters the bootloader
      local r = assert(dev:leave(FLASH))
      assert.is_boolean(r.answered)
      assert.is_true(dev:reenumerate(5000))
      assert.are.equal("rom", s:mode())
      assert.are.equal("dfuIDLE", assert(dev:getstatus()).state_name)
      assert.are.equal(1, #helper.events(s, "reset") - 1)
    end)

    it("reenumerate times out when the application keeps running", function()
      local s0 = helper.sim("stm32h753,boot0=0")
      local d <close> = assert(s0:device())
      assert(d:erase_page(FLASH))
      local app = string.pack("<I4I4", 0x20010000, FLASH + 0x201) .. string.rep("\0", 0x1f8)
        .. string.rep("\xfe\xe7", 16)
      assert(d:write(FLASH, app))
      assert(d:leave(FLASH))
      assert.are.equal("app", s0:mode())
      local ok, msg, code = d:reenumerate(200)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)

    it("read_unprotect erases the flash", function()
      s:write(FLASH, "secret")
      assert.is_true(dev:read_unprotect())
      s:advance(60)
      assert.are.equal(string.rep("\255", 6), s:read(FLASH, 6))
    end)

    it("a failing request returns nil, msg, code and fills last_error", function()
      assert.is_nil(dev:last_error())
      assert(s:inject("stall:GETSTATUS:1"))
      local ok, msg, code = dev:getstatus()
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.are.equal("PIPE", code)
      local e = dev:last_error()
      assert.are.equal("PIPE", e.code)
      assert.are.equal(msg, e.msg)
      assert.is_number(e.sys)
      assert(dev:abort_to_idle())
      assert.is_nil(dev:last_error())
    end)

    it("a device status error is STATUS with the bStatus in last_error", function()
      assert(dev:erase_page(FLASH))
      assert(s:inject("errPROG:DNLOAD:2"))
      local ok, msg, code = dev:write(FLASH, pattern(2048))
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.are.equal("STATUS", code)
      local e = dev:last_error()
      assert.are.equal("STATUS", e.code)
      assert.are.equal(6, e.status)
      assert.are.equal("errPROG", e.status_name)
    end)
  end)

  describe("plain DFU 1.1", function()
    it("download then upload_all on the dfu11 profile", function()
      local s11 = helper.sim("dfu11")
      local d <close> = assert(s11:device())
      assert.is_false(d:info().dfuse)
      local data = pattern(5000, 9)
      assert.is_true(d:download(data))
      assert(d:abort_to_idle())
      local back = assert(d:upload_all(#data))
      assert.are.equal(data, back)
    end)
  end)

  describe("logs", function()
    it("are delivered to on_log after the C call, with level names", function()
      local lines = {}
      assert.is_true(dev:on_log(function(level, msg)
        lines[#lines + 1] = { level, msg }
      end, "io"))
      assert(dev:erase_page(FLASH))
      assert.is_true(#lines > 0)
      for _, l in ipairs(lines) do
        assert.is_truthy(({ error = 1, warn = 1, info = 1, debug = 1, io = 1 })[l[1]])
        assert.is_string(l[2])
      end
      -- nil stops delivery
      local n = #lines
      assert.is_true(dev:on_log(nil))
      assert(dev:erase_page(FLASH))
      assert.are.equal(n, #lines)
    end)

    it("a flood of lines is bounded and ends with the count of dropped lines", function()
      assert(dev:erase_page(FLASH))
      local lines = {}
      dev:on_log(function(level, msg) lines[#lines + 1] = { level, msg } end, "io")
      assert(dev:write(FLASH, pattern(100 * 1024)))
      assert.is_true(#lines > 100)
      assert.is_true(#lines <= 257)
      assert.are.equal("warn", lines[#lines][1])
      assert.matches("^%d+ log lines dropped$", lines[#lines][2])
      -- the next call starts with an empty buffer
      lines = {}
      assert(dev:getstatus())
      assert.is_true(#lines >= 1 and #lines < 10)
    end)

    it("a raising log function raises from the primitive after it completed", function()
      dev:on_log(function() error("log handler failed") end, "io")
      local ok, err = pcall(dev.erase_page, dev, FLASH)
      assert.is_false(ok)
      assert.matches("log handler failed", err, 1, true)
      dev:on_log(nil)
      -- the erase itself happened, and the handle still works
      assert.are.equal(1, #helper.events(s, "erase"))
      assert(dev:getstatus())
    end)
  end)

  describe("lifetime", function()
    it("close is idempotent and later use raises", function()
      assert.is_true(dev:close())
      assert.is_true(dev:close())
      local ok, err = pcall(dev.getstatus, dev)
      assert.is_false(ok)
      assert.matches("attempt to use a closed dfu.Device", err, 1, true)
      assert.is_nil(dev:last_error())
    end)

    it("<close> closes at the end of the scope", function()
      local ref
      do
        local d <close> = assert(s:device())
        ref = d
        assert(d:getstatus())
      end
      assert.are.equal("dfu.Device (closed)", tostring(ref))
    end)

    it("<close> closes when an error unwinds the scope", function()
      local ref
      local ok = pcall(function()
        local d <close> = assert(s:device())
        ref = d
        error("unwind")
      end)
      assert.is_false(ok)
      assert.are.equal("dfu.Device (closed)", tostring(ref))
    end)

    it("unclosed devices are collected; a device keeps its simulator alive", function()
      for _ = 1, 20 do
        local d = assert(s:device())
        d:getstatus()
      end
      local d = assert(helper.sim("stm32f405"):device())
      collectgarbage()
      collectgarbage()
      assert.are.equal("stm32f405", d:sim():profile())
      assert(d:getstatus())
      assert.are.equal(0x2200, d:info().bcd_device)
      d:close()
    end)

    it("__gc and __close send no requests; explicit close leaves the device idle", function()
      collectgarbage("stop") -- the dropped device must be finalized below, not earlier
      do
        local d = assert(s:device())
        assert(d:dnload(0, string.pack("<BI4", 0x21, FLASH)))
      end
      local n = #helper.events(s, "ctrl")
      collectgarbage("restart")
      collectgarbage()
      collectgarbage()
      assert.are.equal(n, #helper.events(s, "ctrl"))
      do
        local _ <close> = assert(s:device())
        n = #helper.events(s, "ctrl")
      end
      assert.are.equal(n, #helper.events(s, "ctrl"))
      -- the dropped device left the ROM in dfuDNBUSY/dfuDNLOAD-SYNC; close() tidies up
      local d = assert(s:device())
      assert.is_true(d:close())
      local d2 <close> = assert(s:device())
      assert.are.equal("dfuIDLE", assert(d2:getstatus()).state_name)
    end)

    it("dev:sim() shares the simulator of an opened sim device", function()
      local d <close> = assert(core.open("sim:stm32h753"))
      local s1 = d:sim()
      assert.are.equal("stm32h753", s1:profile())
      assert.is_true(rawequal(s1, d:sim()))
      assert(d:erase_page(FLASH))
      assert(d:write(FLASH, "0123456789abcdef0123456789abcdef"))
      assert.are.equal("0123456789abcdef", s1:read(FLASH, 16))
      assert.is_true(rawequal(s, dev:sim()))
    end)
  end)

  describe("Ctrl-C", function()
    it("raises 'interrupted', device loops return INTERRUPTED, to-be-closed devices close", function()
      local script = helper.writefile(helper.tmpname(".lua"), [[
        local sim = require "dfu.sim"
        local s = assert(sim.new("stm32h753"))
        local ref
        local ok, err = pcall(function()
          local dev <close> = assert(s:device())
          ref = dev
          local pid = io.popen("echo $PPID"):read("l")
          io.popen("kill -INT " .. pid):close()
          local t = os.time()
          while os.time() - t < 10 do end
        end)
        print(ok, err, tostring(ref))
        local dev = assert(s:device())
        print(dev:write(0x08000000, string.rep("\0", 8192)))
        dev:close()
      ]])
      local r = helper.dfush({ script })
      local lines = {}
      for l in r.stdout:gmatch("[^\n]+") do
        lines[#lines + 1] = l
      end
      assert.matches("^false\t.*interrupted\tdfu%.Device %(closed%)$", lines[1])
      assert.are.equal("nil\tinterrupted\tINTERRUPTED", lines[2])
      assert.are.equal(130, r.code)
    end)
  end)

  describe("argument errors", function()
    local cases = {
      { "set_alt(true)", function() dev:set_alt(true) end, "bad argument #1" },
      { "set_alt(256)", function() dev:set_alt(256) end, "bad argument #1" },
      { "set_poll('x')", function() dev:set_poll("sometimes") end, "invalid option" },
      { "dnload(-1)", function() dev:dnload(-1, "") end, "bad argument #1" },
      { "dnload(0, nil)", function() dev:dnload(0, nil) end, "bad argument #2" },
      { "upload(0, 70000)", function() dev:upload(0, 70000) end, "bad argument #2" },
      { "detach(-1)", function() dev:detach(-1) end, "bad argument #1" },
      { "wait_status('x')", function() dev:wait_status("x") end, "bad argument #1" },
      { "set_address(2^32)", function() dev:set_address(0x100000000) end, "bad argument #1" },
      { "erase_page()", function() dev:erase_page() end, "bad argument #1" },
      { "write(addr)", function() dev:write(FLASH) end, "bad argument #2" },
      { "read(addr, -1)", function() dev:read(FLASH, -1) end, "bad argument #2" },
      { "leave('x')", function() dev:leave("x") end, "bad argument #1" },
      { "download(1.5)", function() dev:download({}) end, "bad argument #1" },
      { "upload_all()", function() dev:upload_all() end, "bad argument #1" },
      { "reenumerate(-5)", function() dev:reenumerate(-5) end, "bad argument #1" },
      { "on_log(5)", function() dev:on_log(5) end, "bad argument #1" },
      { "on_log level", function() dev:on_log(print, "loud") end, "invalid option" },
      { "getstatus(extra)", function() dev:getstatus(1) end, "bad argument #1" },
      { "mass_erase(extra)", function() dev:mass_erase(true) end, "bad argument #1" },
      { "not a device", function() dev.getstatus({}) end, "dfu.Device expected" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " raises", function()
        local ok, err = pcall(c[2])
        assert.is_false(ok)
        assert.matches(c[3], tostring(err), 1, true)
      end)
    end

    it("every method of a closed device raises, except close/last_error", function()
      local d = assert(s:device())
      d:close()
      for name, fn in pairs(getmetatable(d).__index) do
        if name ~= "close" and name ~= "last_error" and debug.getinfo(fn, "S").what == "C" then
          local ok, err = pcall(fn, d)
          assert.is_false(ok, name)
          assert.matches("closed dfu.Device", tostring(err), 1, true)
        end
      end
    end)
  end)
end)
