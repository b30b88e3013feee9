-- The command line: global options, help, exit codes, errors that teach.
local support = require "recipes.support"
local helper = support.helper

describe("dfush CLI", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      it("--help lists the commands", function()
        local r = run({ "--help" })
        assert.are.equal(0, r.code)
        for _, c in ipairs({ "flash", "read", "verify", "erase", "leave", "info", "list", "image" }) do
          assert.matches("\n  " .. c, r.stdout, 1, true)
        end
        assert.matches("sim:stm32h753", r.stdout, 1, true)
      end)

      it("help COMMAND and COMMAND --help teach usage, options and examples", function()
        for _, args in ipairs({ { "help", "flash" }, { "flash", "--help" } }) do
          local r = run(args)
          assert.are.equal(0, r.code)
          assert.matches("usage: dfush flash", r.stdout, 1, true)
          assert.matches("--no-verify", r.stdout, 1, true)
          assert.matches("examples:", r.stdout, 1, true)
        end
      end)

      it("help --json is one JSON object", function()
        local r = run({ "--json", "help" })
        assert.are.equal(0, r.code)
        local j = assert(support.json.decode(r.stdout))
        local names = {}
        for _, c in ipairs(j.commands) do names[c.name] = c.summary end
        assert.is_string(names.flash)
        local f = assert(support.json.decode(run({ "--json", "help", "flash" }).stdout))
        assert.are.equal("flash", f.name)
        assert.is_true(#f.options >= 5)
      end)

      it("--version prints the version", function()
        local r = run({ "--version" })
        assert.are.equal(0, r.code)
        assert.matches("^dfush %S+", r.stdout)
      end)

      it("an unknown command or option is a usage error (2)", function()
        assert.are.equal(2, run({ "frobnicate" }).code)
        assert.are.equal(2, run({ "--frob", "info" }).code)
        local r = run({ "-d", "sim:stm32h753", "flash", "--frob", helper.fixture("h7_seed.hex") })
        assert.are.equal(2, r.code)
        assert.matches("--frob", r.stderr, 1, true)
      end)

      it("a usage error with --json is still one JSON object", function()
        local r = run({ "--json", "flash", "--frob", "x.hex" })
        assert.are.equal(2, r.code)
        local j = assert(support.json.decode(r.stdout))
        assert.is_false(j.ok)
        assert.are.equal("USAGE", j.error.code)
      end)

      it("a bad number names the argument", function()
        local r = run({ "-d", "sim:stm32h753", "read", "0xZZ", "16", "-o", support.tmp(".bin") })
        assert.are.equal(2, r.code)
        assert.matches("ADDR", r.stderr, 1, true)
      end)

      it("DFUSH_DEVICE is the default device (spawned)", function()
        if runner ~= "spawned" then return end
        local r = support.spawn({ "--json", "info" }, { DFUSH_DEVICE = "sim:stm32f405" })
        assert.are.equal(0, r.code, r.stderr)
        assert.are.equal(0x2200, support.json.decode(r.stdout).bcd_device)
      end)

      it("a device string that matches nothing exits 3", function()
        local r = run({ "-d", "usb:1234:5678", "info" })
        assert.are.equal(3, r.code, r.stderr)
      end)
    end)
  end

  it("no -d and no USB device: says so, suggests the simulator, exits 3", function()
    if not support.have_binary() then return pending("needs the built dfush") end
    local r = support.spawn({ "info" }, { DFUSH_DEVICE = "" })
    if r.code == 0 then return pending("a real DFU device is attached") end
    assert.are.equal(3, r.code, r.stderr)
    assert.matches("-d sim:stm32h753", r.stderr, 1, true)
  end)
end)
