-- Small things a new user runs into (issue 16 item 7): read without a length, image convert
-- with VID/PID, dfu-util habits (-l, -d VID:PID, detach, did you mean), --leave ADDR, leaves
-- predicted to fail, consistent exit codes, --json --version, the REPL.
local support = require "recipes.support"
local helper = support.helper

describe("rough edges", function()
  after_each(helper.cleanup)
  if not support.have_binary() then return end

  it("read without LEN reads to the end of that memory; without ADDR the whole alt", function()
    local dev = support.simdev("stm32f405")
    local out = helper.tmpname(".bin")
    local r = support.spawn({ "--json", "-d", dev, "read", "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    local j = helper.json_decode(r.stdout)
    assert.are.equal(0x08000000, j.address)
    assert.are.equal(1024 * 1024, j.size)
    r = support.spawn({ "--json", "-d", dev, "read", "0x080E0000", "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(128 * 1024, helper.json_decode(r.stdout).size)
    r = support.spawn({ "--json", "-d", dev, "read", "--alt", "OTP", "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(528, helper.json_decode(r.stdout).size)
    r = support.spawn({ "-d", dev, "read", "0x30000000", "-o", out })
    assert.are.equal(2, r.code, r.stderr)
  end)

  it("image convert --vid/--pid sets the DfuSe suffix ids; other formats refuse them", function()
    local out = helper.tmpname(".dfu")
    local r = support.spawn({ "image", "convert", helper.fixture("h7_seed.elf"), out, "--vid", "0x1234",
      "--pid", "abcd" })
    assert.are.equal(0, r.code, r.stderr)
    r = support.spawn({ "--json", "image", "info", out })
    assert.are.equal(0, r.code, r.stderr)
    local dfu = require "dfu"
    local img = assert(dfu.image.load(out))
    local sfx = img:suffix()
    assert.are.same({ 0x1234, 0xabcd }, { sfx.vid, sfx.pid })
    r = support.spawn({ "image", "convert", helper.fixture("h7_seed.elf"), helper.tmpname(".hex"), "--vid", "1" })
    assert.are.equal(2, r.code, r.stderr)
    r = support.spawn({ "image", "convert", helper.fixture("h7_seed.elf"), helper.tmpname(".dfu"), "--vid", "zz" })
    assert.are.equal(2, r.code, r.stderr)
  end)

  describe("dfu-util habits", function()
    it("-l (dfu-util's list) points to dfush list, before a command or alone", function()
      for _, argv in ipairs({ { "-l" }, { "-d", "sim:stm32h753", "-l" }, { "-l", "-d", "sim:stm32h753" } }) do
        local r = support.spawn(argv)
        assert.are.equal(2, r.code, table.concat(argv, " "))
        assert.matches("dfush list", r.stderr, 1, true)
      end
      -- lua's -l MOD still loads a module
      local r = support.spawn({ "-l", "dfu.util", "-e", "io.write(type(dfu.util.hex))" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("function", r.stdout)
    end)

    it("-d VID:PID is usb:VID:PID; usb:KEY=VALUE needs no VID:PID", function()
      local core = require "dfu.core"
      local dfu = require "dfu"
      for _, s in ipairs({ "0483:df11", "0483:DF11,alt=1", dfu.devstr { path = "1-2" }, "usb:serial=X" }) do
        local ok, msg, code = core.open(s)
        if not ok then
          -- no such USB device here: not found (exit 3), never a device-string error
          assert.are_not.equal("INVALID", code, s .. ": " .. tostring(msg))
          assert.is_nil(msg:find("device string", 1, true), msg)
        else
          ok:close()
        end
      end
      assert.are.equal("INVALID", select(3, core.open("12345:df11")))
      local r = support.spawn({ "-d", "0483:df11", "info" })
      assert.are_not.equal(2, r.code, r.stderr)
      assert.is_nil(r.stderr:find("device string", 1, true), r.stderr)
    end)

    it("detach switches a run-time device into DFU mode (DFU_DETACH, bus reset, re-enumeration)", function()
      for name, run in pairs(support.runners()) do
        local dev, _, events = support.simdev("dfu11", "runtime=1")
        local r = run({ "--json", "-d", dev, "detach" })
        assert.are.equal(0, r.code, name .. r.stderr)
        local j = helper.json_decode(r.stdout)
        assert.is_true(j.detached)
        assert.are.equal(1, j.runtime.protocol)
        assert.are.equal(2, j.device.protocol)
        local kinds = {}
        for _, e in ipairs(support.events_file(events)) do
          if e.ev ~= "ctrl" then kinds[#kinds + 1] = e.ev end
        end
        assert.are.same({ "reset", "detach", "bus_reset", "disconnect", "enumerate" }, kinds) -- reset: power-on
        -- bitWillDetach (attributes 0x0B): the device leaves by itself, the host sends no reset
        dev, _, events = support.simdev("stm32h753", "runtime=1")
        r = run({ "--json", "-d", dev, "detach" })
        assert.are.equal(0, r.code, name .. r.stderr)
        assert.are.equal(2, helper.json_decode(r.stdout).device.protocol)
        kinds = {}
        for _, e in ipairs(support.events_file(events)) do
          if e.ev ~= "ctrl" then kinds[#kinds + 1] = e.ev end
        end
        assert.are.same({ "reset", "detach", "disconnect", "enumerate" }, kinds)
        -- a device in DFU mode is left alone: no DFU_DETACH (an ST ROM stalls it)
        dev, _, events = support.simdev("stm32h753")
        r = run({ "-d", dev, "detach" })
        assert.are.equal(0, r.code, r.stderr)
        assert.matches("already in DFU mode", r.stdout, 1, true)
        for _, e in ipairs(support.events_file(events)) do assert.are_not.equal("DETACH", e.req) end
      end
    end)

    it("a command that needs DFU mode refuses a run-time device, pointing to detach; info shows it", function()
      for name, run in pairs(support.runners()) do
        local dev, _, events = support.simdev("dfu11", "runtime=1")
        local r = run({ "-d", dev, "flash", helper.fixture("h7_seed.bin") })
        assert.are.equal(2, r.code, name .. r.stderr)
        assert.matches("run dfush detach first", r.stderr, 1, true)
        for _, e in ipairs(support.events_file(events)) do
          assert.is_truthy(e.ev ~= "ctrl" or e.req == "GET_DESCRIPTOR" or e.req == "SET_INTERFACE", e.req)
        end
        r = run({ "--json", "-d", dev, "info" })
        assert.are.equal(0, r.code, r.stderr)
        assert.are.equal("appIDLE", helper.json_decode(r.stdout).state)
      end
    end)

    it("dev:detach_and_reopen() gives the same handle in DFU mode, with the new descriptors", function()
      local dfu = require "dfu"
      local dev <close> = assert(dfu.open("sim:dfu11,runtime=1"))
      assert.are.equal(1, dev:info().protocol)
      assert.are.equal("appIDLE", dev:getstatus().state_name)
      assert.is_nil(dev:dnload(0, "x")) -- run-time mode: no download
      assert(dev:detach_and_reopen(2000))
      assert.are.equal(2, dev:info().protocol)
      assert.are.equal("dfuIDLE", dev:getstatus().state_name)
      -- a DFU-mode device stays as it is
      assert(dev:detach_and_reopen())
      assert.are.equal(2, dev:info().protocol)
      -- DETACH without the bus reset within wDetachTimeOut: back to appIDLE (DFU 1.1 Appendix A)
      local d2 <close> = assert(dfu.open("sim:dfu11,runtime=1"))
      assert(d2:detach(1000))
      assert.are.equal("appDETACH", d2:getstatus().state_name)
      local s = d2:sim()
      s:advance(1.5)
      assert.are.equal("appIDLE", d2:getstatus().state_name)
    end)

    it("a mistyped command or long option gets 'did you mean' on stderr, exit 2", function()
      for _, t in ipairs({
        { { "fash" }, "did you mean 'flash'?" },
        { { "help", "fash" }, "did you mean 'flash'?" },
        { { "lsit" }, "did you mean 'list'?" },
        { { "flash", "x.hex", "--leve" }, "did you mean --leave?" },
        { { "flash", "x.hex", "--no-verfy" }, "did you mean --no-verify?" },
        { { "--jsno", "info" }, "did you mean --json?" },
        { { "--devcie", "sim:stm32h753", "info" }, "did you mean --device?" },
      }) do
        for name, run in pairs(support.runners()) do
          local r = run(t[1])
          assert.are.equal(2, r.code, name .. " " .. table.concat(t[1], " "))
          assert.matches(t[2], r.stderr, 1, true)
          assert.are.equal("", r.stdout)
        end
      end
      -- nothing near: no guess
      local r = support.spawn({ "xyzzy" })
      assert.are.equal(2, r.code)
      assert.is_nil(r.stderr:find("did you mean", 1, true), r.stderr)
      local util = require "dfu.util"
      assert.are.equal(1, util.edit_distance("lsit", "list"))
      assert.is_nil(util.suggest("zz", { "flash", "list" }))
    end)
  end)

  describe("--leave", function()
    it("--leave ADDR (a space) says to write --leave=ADDR; nothing is sent", function()
      local dev, _, events = support.simdev("stm32h753")
      for name, run in pairs(support.runners()) do
        local r = run({ "-d", dev, "flash", helper.fixture("h7_seed.elf"), "--leave", "0x08000000" })
        assert.are.equal(2, r.code, name)
        assert.matches("--leave=0x08000000", r.stderr, 1, true)
        assert.is_nil(r.stderr:find("No such file", 1, true), r.stderr)
      end
      assert.are.equal(0, #support.events_file(events, "erase"))
    end)

    -- ROM 0x90 (H753 V9.0) cannot jump with the initial SP at the RAM end (h7_seed.elf): a leave
    -- through the vector table is predicted to fail, whatever BOOT0 is
    for _, boot0 in ipairs({ 0, 1 }) do
      it("a leave predicted not to start the application exits 1 unless --force (boot0=" .. boot0 .. ")",
        function()
          for name, run in pairs(support.runners()) do
            local dev, _, events = support.simdev("stm32h753", "rom=0x90,boot0=" .. boot0)
            local r = run({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf"), "--leave=0x08000000" })
            assert.are.equal(1, r.code, name .. r.stderr)
            local lv = support.events_file(events, "leave")
            assert.are_not.equal("app_running", lv[#lv].outcome)
            assert.are_not.equal("rom", lv[#lv].outcome)
            assert.matches("predicted not to start", r.stderr, 1, true)
            assert.matches("unconfirmed", r.stderr, 1, true)
            assert.matches("RAM end @ - 16 bytes", r.stderr, 1, true)
            assert.is_nil(r.stderr:find("left     DFU", 1, true))
            local out = helper.json_decode(r.stdout)
            assert.is_false(out.ok)
            assert.are.equal("PREDICTED_FAIL", out.error.code)
            assert.are.equal("fail", out.left.predicted)
            assert.is_true(out.verified)
            -- the same through the leave command, and --force accepts it
            dev = support.simdev("stm32h753", "rom=0x90,boot0=" .. boot0)
            assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
            r = run({ "-d", dev, "--json", "leave", "0x08000000" })
            assert.are.equal(1, r.code, r.stderr)
            assert.are.equal("PREDICTED_FAIL", helper.json_decode(r.stdout).error.code)
            dev = support.simdev("stm32h753", "rom=0x90,boot0=" .. boot0)
            assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
            r = run({ "-d", dev, "leave", "0x08000000", "--force" })
            assert.are.equal(0, r.code, r.stderr)
            assert.matches("unconfirmed: the application is predicted not to start", r.stdout, 1, true)
            dev = support.simdev("stm32h753", "rom=0x90,boot0=" .. boot0)
            r = run({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf"), "--leave=0x08000000", "--force" })
            assert.are.equal(0, r.code, r.stderr)
            assert.are.equal("fail", helper.json_decode(r.stdout).left.predicted)
          end
        end)
    end

    it("a leave predicted to work still exits 0, and the Lua API returns the prediction", function()
      local dev = support.simdev("stm32h753", "rom=0x93,boot0=0")
      local r = support.spawn({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf"), "--leave=0x08000000" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("start", helper.json_decode(r.stdout).left.predicted)
      local dfu = require "dfu"
      local d <close> = assert(dfu.open("sim:stm32h753,rom=0x90,boot0=0"))
      local img = assert(dfu.image.load(helper.fixture("h7_seed.elf")))
      local rep = assert(d:flash(img, { leave = 0x08000000, leave_wait_ms = 200 }))
      assert.are.equal("fail", rep.left.predicted)
      assert.matches("RAM end", rep.left.prediction, 1, true)
    end)
  end)

  describe("exit codes", function()
    it("an unknown sim profile is bad usage: exit 2", function()
      for name, run in pairs(support.runners()) do
        local r = run({ "--json", "-d", "sim:nope", "info" })
        assert.are.equal(2, r.code, name .. r.stderr)
        assert.matches("unknown profile 'nope'", r.stderr, 1, true)
        assert.are.equal("INVALID", helper.json_decode(r.stdout).error.code)
      end
    end)

    it("a bad alt= in the device string exits 2, as --alt does", function()
      for _, argv in ipairs({ { "-d", "sim:stm32h753,alt=7", "info" },
                              { "-d", "sim:stm32h753", "read", "--alt", "7", "0x08000000", "4", "-o",
                                helper.tmpname(".bin") } }) do
        local r = support.spawn(argv)
        assert.are.equal(2, r.code, r.stderr)
        assert.matches("no alt setting '7'", r.stderr, 1, true)
      end
    end)

    it("'raw binary needs a base address' is USAGE for every command", function()
      local bin = helper.fixture("h7_seed.bin")
      for _, argv in ipairs({ { "image", "info", bin }, { "image", "convert", bin, helper.tmpname(".hex") },
                              { "-d", "sim:stm32h753", "flash", bin }, { "-d", "sim:stm32h753", "verify", bin } }) do
        local a = { "--json" }
        for _, x in ipairs(argv) do a[#a + 1] = x end
        local r = support.spawn(a)
        assert.are.equal(2, r.code, r.stderr)
        assert.matches("needs a base address", r.stderr, 1, true)
        assert.are.equal("USAGE", helper.json_decode(r.stdout).error.code, table.concat(argv, " "))
      end
    end)

    it("--json --version prints one JSON object", function()
      local r = support.spawn({ "--json", "--version" })
      assert.are.equal(0, r.code)
      local j = helper.json_decode(r.stdout)
      local core = require "dfu.core"
      assert.are.equal(core.version, j.version)
      assert.are.equal(_VERSION, j.lua)
      assert.are.equal(core.features.libusb, j.libusb)
      assert.are.equal(core.features.libelf, j.libelf)
      r = support.spawn({ "--version" })
      assert.are.equal("dfush " .. core.version .. "\n", r.stdout)
    end)
  end)

  describe("the README", function()
    -- every file a README command line writes: state=, events=, -o OUT, image convert's OUT,
    -- a shell redirection
    local function outputs(line)
      local out = {}
      for v in line:gmatch("state=([^,%s']+)") do out[#out + 1] = v end
      for v in line:gmatch("events=([^,%s']+)") do out[#out + 1] = v end
      for v in line:gmatch("%-o%s+(%S+)") do out[#out + 1] = v end
      local conv = line:match("image convert%s+%S+%s+(%S+)")
      if conv then out[#out + 1] = conv end
      for v in line:gmatch("[^2]>%s*([^&%s]%S*)") do
        if v ~= "/dev/null" then out[#out + 1] = v end
      end
      return out
    end

    it("examples write their files to /tmp, never into the checkout", function()
      local text = helper.readfile(helper.root .. "/README.md")
      local n = 0
      for line in text:gmatch("[^\n]+") do
        local cmd = line:match("^%$ (.*)$")
        if cmd and (cmd:find("dfush", 1, true) or cmd:find("dfu%-util")) then
          for _, f in ipairs(outputs(cmd)) do
            n = n + 1
            assert.matches("^/tmp/", f, nil, false, "README writes into the checkout: " .. line)
          end
        end
      end
      assert.is_true(n >= 10, "found only " .. n .. " outputs")
    end)

    it(".gitignore covers the build outputs", function()
      local text = helper.readfile(helper.root .. "/.gitignore")
      for _, pat in ipairs({ "/build*/", "/CMakeCache.txt", "/CMakeFiles/", "/Testing/", "*.jsonl" }) do
        assert.is_truthy(text:find(pat, 1, true), pat)
      end
    end)
  end)
end)
