-- dfush unprotect --force (READ_UNPROTECT) and dfush erase --mass --force on both profiles:
-- the flash really ends up erased and read protection at level 0, checked on the device.
local support = require "recipes.support"
local helper = support.helper

local OB = {
  stm32f405 = { base = 0x1FFFC000, size = 16, rdp = function(raw) return raw:byte(2) end,
                flash = 0x100000 },
  stm32h753 = { base = 0x5200201C, size = 128, rdp = function(raw) return raw:byte(2) end,
                flash = 0x200000 },
}

local function state_read(profile, state, addr, len)
  local s = support.sim_state(profile, state)
  local d = s:read(addr, len)
  s = nil -- luacheck: ignore
  collectgarbage()
  collectgarbage()
  return d
end

local function state_write(profile, state, addr, data)
  local s = support.sim_state(profile, state)
  s:write(addr, data)
  s:save()
  s = nil -- luacheck: ignore
  collectgarbage()
  collectgarbage()
end

local function erased(profile, state)
  local d = state_read(profile, state, 0x08000000, OB[profile].flash)
  return d == string.rep("\255", #d)
end

describe("dfush unprotect", function()
  after_each(helper.cleanup)

  for profile, P in pairs(OB) do
    describe(profile, function()
      it("needs --force and sends nothing without it", function()
        local dev, _, events = support.simdev(profile, "faults=rdp1")
        local r = support.cli({ "-d", dev, "unprotect" })
        assert.are.equal(2, r.code)
        assert.matches("erases the whole flash", r.stderr, 1, true)
        assert.are.equal(0, #support.events_file(events, "erase"))
        for _, e in ipairs(support.events_file(events, "ctrl")) do
          assert.is_false(e.req == "DNLOAD" and e.len == 1, "no 1-byte command was sent")
        end
      end)

      for _, how in ipairs({ "faults=rdp1", "ob set RDP=1" }) do
        it("on a protected device (" .. how .. ") ends at level 0 with an erased flash", function()
          local dev, state, events = support.simdev(profile, how == "faults=rdp1" and "faults=rdp1" or nil)
          assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob" }).code)
          state_write(profile, state, 0x08000000, "secret data")
          state_write(profile, state, 0x08000000 + P.flash - 16, "tail")
          if how ~= "faults=rdp1" then
            assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob", "set", "RDP=1", "--force", "--yes" }).code)
          end
          assert.are_not.equal(0xAA, P.rdp(state_read(profile, state, P.base, P.size)))
          local r = support.cli({ "-d", dev, "--json", "unprotect", "--force" })
          assert.are.equal(0, r.code, r.stderr)
          assert.matches("whole flash will be erased", r.stderr, 1, true)
          local out = assert(support.json.decode(r.stdout))
          assert.is_true(out.ok)
          assert.are.equal(0, out.level)
          assert.is_true(out.erased)
          assert.is_true(out.verified)
          assert.are.equal(1, out.before.level)
          assert.are.equal(0xAA, out.after.value)
          assert.are.same({ address = 0x08000000, size = P.flash }, out.flash)
          -- the device itself: level 0 and every flash byte 0xFF
          assert.are.equal(0xAA, P.rdp(state_read(profile, state, P.base, P.size)))
          assert.is_true(erased(profile, state))
          local resets = {}
          for _, e in ipairs(support.events_file(events, "reset")) do resets[#resets + 1] = e.cause end
          assert.are.equal("unprotect", resets[#resets])
          -- and flash access works again (in a process without the rdp1 fault, which would
          -- protect the device again at its power-on)
          dev = dev:gsub(",faults=rdp1", "")
          local h = support.cli({ "-d", dev, "ob" })
          assert.matches("level 0: no read protection", h.stdout, 1, true)
          assert.are.equal(0, support.cli({ "-q", "-d", dev, "read", "0x08000000", "16", "-o",
                                            support.tmp(".bin") }).code)
        end)
      end

      it("human output reports level 0 and the erased range", function()
        local dev = support.simdev(profile, "faults=rdp1")
        local r = support.cli({ "-d", dev, "unprotect", "--force" })
        assert.are.equal(0, r.code, r.stderr)
        assert.matches("level 0", r.stdout, 1, true)
        assert.matches(string.format("flash erased: 0x08000000-0x%08X", 0x08000000 + P.flash - 1), r.stdout, 1, true)
      end)

      it("erase --mass --force leaves the whole flash erased", function()
        local dev, state = support.simdev(profile)
        assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob" }).code)
        state_write(profile, state, 0x08000000 + P.flash // 2, "data")
        local r = support.cli({ "-d", dev, "--json", "erase", "--mass", "--force" })
        assert.are.equal(0, r.code, r.stderr)
        assert.is_true(erased(profile, state))
      end)

      it("erase --mass on a read-protected device fails and names read protection", function()
        local dev = support.simdev(profile, "faults=rdp1")
        local r = support.cli({ "-d", dev, "erase", "--mass", "--force" })
        assert.are.equal(1, r.code)
        assert.matches("errVENDOR", r.stderr, 1, true)
      end)
    end)
  end

  it("dfu.ob.unprotect in Lua", function()
    local dfu = require "dfu"
    local sim = assert(dfu.sim.new("stm32f405,faults=rdp1"))
    local dev = assert(sim:device())
    local raw = assert(dfu.ob.read(dev))
    assert.are.equal(1, dfu.ob.rdp_level(raw:byte(2)))
    local rep = assert(dfu.ob.unprotect(dev))
    assert.is_true(rep.erased)
    assert.are.equal(0, rep.level)
    assert.are.equal(0xAA, sim:read(0x1FFFC001, 1):byte())
    dev:close()
  end)
end)
