-- Choosing the alt setting: alt= in the device string and --alt on the command line follow one
-- rule (dfu.core.match_alt): a number, or a case-insensitive prefix of the alt's name (with or
-- without its "@") or of its layout name; an ambiguous prefix names every candidate in full.
local support = require "recipes.support"
local helper = support.helper

local F4_OB = "@Option Bytes  /0x1FFFC000/01*016 e"
local F4_OTP = "@OTP Memory /0x1FFF7800/01*512 e,01*016 e"

describe("alt selection", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      for _, dev in ipairs({ "sim:stm32h753,alt=option", "sim:stm32h753,alt=OPT", "sim:stm32h753,alt=1" }) do
        it("-d " .. dev .. " info --json reports alt 1", function()
          local r = run({ "-d", dev, "info", "--json" })
          assert.are.equal(0, r.code, r.stderr)
          assert.are.equal(1, support.json.decode(r.stdout).alt)
        end)
      end

      for _, want in ipairs({ "opt", "OPTION", "@option b" }) do
        it("--alt " .. want .. " picks the option bytes", function()
          local out = support.tmp(".bin")
          local r = run({ "-d", "sim:stm32f405", "read", "0x1FFFC000", "16", "--alt", want, "-o", out })
          assert.are.equal(0, r.code, r.stderr)
          assert.are.equal(16, #helper.readfile(out))
        end)
      end

      it("an ambiguous --alt is a usage error naming both candidates in full", function()
        local r = run({ "-d", "sim:stm32f405", "read", "0x1FFFC000", "16", "--alt", "O",
                        "-o", support.tmp(".bin") })
        assert.are.equal(2, r.code, r.stderr)
        assert.matches("ambiguous", r.stderr, 1, true)
        assert.matches(F4_OB, r.stderr, 1, true)
        assert.matches(F4_OTP, r.stderr, 1, true)
      end)

      it("an ambiguous alt= in the device string fails like an unknown one, naming both (exit 2, as --alt)", function()
        local r = run({ "-d", "sim:stm32f405,alt=o", "info" })
        assert.are.equal(2, r.code, r.stderr)
        assert.matches(F4_OB, r.stderr, 1, true)
        assert.matches(F4_OTP, r.stderr, 1, true)
        r = run({ "-d", "sim:stm32f405,alt=9", "info" })
        assert.are.equal(2, r.code, r.stderr)
        assert.matches("Device Feature", r.stderr, 1, true)
      end)
    end)
  end

  describe("dfu.core.match_alt and dev:find_alt", function()
    local core = require "dfu.core"

    it("agree on numbers, prefixes, case, '@' and layout names", function()
      local dev <close> = assert(core.open("sim:stm32f405"))
      local alts = dev:alts()
      for want, alt in pairs({ ["1"] = 1, [3] = 3, internal = 0, ["@INTERNAL FLASH"] = 0,
                               ["otp"] = 2, ["Option"] = 1, ["device feature"] = 3 }) do
        assert.are.equal(alt, dev:find_alt(want), tostring(want))
        assert.are.equal(alt, alts[core.match_alt(alts, want)].alt, tostring(want))
      end
    end)

    it("report NOT_FOUND with every alt, AMBIGUOUS with the candidates", function()
      local dev <close> = assert(core.open("sim:stm32f405"))
      local ok, msg, code = dev:find_alt("flash")
      assert.is_nil(ok)
      assert.are.equal("NOT_FOUND", code)
      assert.matches("Internal Flash", msg, 1, true)
      assert.matches("Device Feature", msg, 1, true)
      ok, msg, code = core.match_alt(dev:alts(), "O")
      assert.is_nil(ok)
      assert.are.equal("AMBIGUOUS", code)
      assert.matches(F4_OB, msg, 1, true)
      assert.matches(F4_OTP, msg, 1, true)
      assert.is_nil(msg:find("Internal", 1, true))
      assert.are.equal("NOT_FOUND", select(3, dev:find_alt(7)))
    end)

    it("prefers a whole name over a longer one it begins", function()
      local alts = { { alt = 0, name = "Flash" }, { alt = 1, name = "Flash 2" } }
      assert.are.equal(1, core.match_alt(alts, "flash"))
      assert.are.equal(2, core.match_alt(alts, "flash "))
      assert.are.equal("AMBIGUOUS", select(3, core.match_alt(alts, "fl")))
    end)

    it("raises on a table that is not an array of alts", function()
      assert.has_error(function() core.match_alt({ 1, 2 }, "x") end)
      assert.has_error(function() core.match_alt({ { name = "x" } }, "x") end)
    end)
  end)
end)
