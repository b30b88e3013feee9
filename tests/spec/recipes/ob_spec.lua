-- dfush ob show / ob set against both simulator profiles: every field, the safety rules,
-- the reset after the write, an interrupted write, and the write-protection check of flash.
local support = require "recipes.support"
local helper = support.helper

-- Where each field lives, written down from RM0090 / RM0433 and core/sim/sim_ob.c (not taken
-- from the decoders under test). offset/width in bytes, LE; mirror = offset of the PRG copy.
local PROFILES = {
  stm32f405 = {
    base = 0x1FFFC000, size = 16, family = "STM32F40x/41x",
    rdp = { offset = 1, width = 1, shift = 0, bits = 8 },
    fields = {
      nRST_STDBY = { offset = 0, width = 1, shift = 7, bits = 1 },
      nRST_STOP = { offset = 0, width = 1, shift = 6, bits = 1 },
      WDG_SW = { offset = 0, width = 1, shift = 5, bits = 1 },
      BOR_LEV = { offset = 0, width = 1, shift = 2, bits = 2 },
      nWRP = { offset = 8, width = 2, shift = 0, bits = 12 },
    },
    wrp = { offset = 8, width = 2, sectors = 12 },
    sector = function(i) return support.layouts.stm32f405.sectors[i + 1] end,
  },
  stm32h753 = {
    base = 0x5200201C, size = 128, family = "STM32H74x/75x",
    rdp = { offset = 0, width = 4, shift = 8, bits = 8, mirror = 4 },
    fields = {
      BOR_LEV = { offset = 0, width = 4, shift = 2, bits = 2, mirror = 4 },
      IWDG1_SW = { offset = 0, width = 4, shift = 4, bits = 1, mirror = 4 },
      NRST_STOP_D1 = { offset = 0, width = 4, shift = 6, bits = 1, mirror = 4 },
      NRST_STBY_D1 = { offset = 0, width = 4, shift = 7, bits = 1, mirror = 4 },
      FZ_IWDG_STOP = { offset = 0, width = 4, shift = 17, bits = 1, mirror = 4 },
      FZ_IWDG_SDBY = { offset = 0, width = 4, shift = 18, bits = 1, mirror = 4 },
      ST_RAM_SIZE = { offset = 0, width = 4, shift = 19, bits = 2, mirror = 4 },
      SECURITY = { offset = 0, width = 4, shift = 21, bits = 1, mirror = 4 },
      IO_HSLV = { offset = 0, width = 4, shift = 29, bits = 1, mirror = 4 },
      SWAP_BANK_OPT = { offset = 0, width = 4, shift = 31, bits = 1, mirror = 4 },
      PROT_AREA_START = { offset = 12, width = 4, shift = 0, bits = 12, mirror = 4 },
      PROT_AREA_END = { offset = 12, width = 4, shift = 16, bits = 12, mirror = 4 },
      DMEP = { offset = 12, width = 4, shift = 31, bits = 1, mirror = 4 },
      SEC_AREA_START = { offset = 20, width = 4, shift = 0, bits = 12, mirror = 4 },
      SEC_AREA_END = { offset = 20, width = 4, shift = 16, bits = 12, mirror = 4 },
      DMES = { offset = 20, width = 4, shift = 31, bits = 1, mirror = 4 },
      WRPSN = { offset = 28, width = 4, shift = 0, bits = 8, mirror = 4 },
      BOOT_ADD0 = { offset = 36, width = 4, shift = 0, bits = 16, mirror = 4 },
      BOOT_ADD1 = { offset = 36, width = 4, shift = 16, bits = 16, mirror = 4 },
    },
    wrp = { offset = 28, width = 4, sectors = 8 },
    sector = function(i) return support.layouts.stm32h753.sectors[i + 1] end,
  },
}

local function word(raw, off, width)
  local v = 0
  for i = width - 1, 0, -1 do v = (v << 8) | raw:byte(off + i + 1) end
  return v
end

local function getf(raw, f)
  return (word(raw, f.offset, f.width) >> f.shift) & ((1 << f.bits) - 1)
end

-- raw with field f set to v (and its PRG copy)
local function setf(raw, f, v)
  local b = { raw:byte(1, -1) }
  for _, off in ipairs({ f.offset, f.mirror and f.offset + f.mirror or nil }) do
    local w = word(raw, off, f.width)
    local mask = ((1 << f.bits) - 1) << f.shift
    w = (w & ~mask) | ((v << f.shift) & mask)
    for i = 0, f.width - 1 do b[off + i + 1] = (w >> (8 * i)) & 0xFF end
  end
  return string.char(table.unpack(b))
end

local function tohex(s)
  return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end

-- The option bytes in a state file. The reading simulator is freed at once: a simulator
-- over state=FILE writes the file back when it is collected, which must not happen later,
-- over what a following command wrote.
local function read_state(profile, state, addr, len)
  local s = support.sim_state(profile, state)
  local data = s:read(addr, len)
  s = nil -- luacheck: ignore
  collectgarbage()
  collectgarbage()
  return data
end

local function ob_of(profile, state)
  return read_state(profile, state, PROFILES[profile].base, PROFILES[profile].size)
end

-- A state file holding the profile's defaults (a first process creates it).
local function fresh(profile, extra)
  local dev, state, events = support.simdev(profile, extra)
  assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob" }).code)
  return dev, state, events
end

local function ob_writes(events) return #support.events_file(events, "ob_write") end

describe("dfush ob", function()
  after_each(helper.cleanup)

  for profile, P in pairs(PROFILES) do
    describe(profile, function()
      it("show decodes the block the device holds", function()
        local dev, state = fresh(profile)
        local raw = ob_of(profile, state)
        local r = support.cli({ "-d", dev, "--json", "ob", "show" })
        assert.are.equal(0, r.code, r.stderr)
        local out = assert(support.json.decode(r.stdout))
        assert.is_true(out.ok)
        assert.are.equal(P.family, out.family)
        assert.are.equal(P.base, out.address)
        assert.are.equal(P.size, out.size)
        assert.are.equal(tohex(raw), out.raw)
        assert.are.equal(0xAA, out.rdp.value)
        assert.are.equal(0, out.rdp.level)
        assert.are.equal(getf(raw, P.rdp), out.fields.RDP)
        for name, f in pairs(P.fields) do
          assert.are.equal(getf(raw, f), out.fields[name], name)
        end
        assert.are.same({}, out.wrp)
        local h = support.cli({ "-d", dev, "ob" })
        assert.are.equal(0, h.code)
        assert.matches("level 0: no read protection", h.stdout, 1, true)
        assert.matches(P.family, h.stdout, 1, true)
        for name in pairs(P.fields) do assert.matches(name, h.stdout, 1, true) end
      end)

      it("set changes each field alone, in place, and the device resets and comes back", function()
        local dev, state, events = fresh(profile)
        local names = {}
        for name in pairs(P.fields) do names[#names + 1] = name end
        table.sort(names)
        for _, name in ipairs(names) do
          local f = P.fields[name]
          local before = ob_of(profile, state)
          local v = getf(before, f) ~ 1
          local n0 = ob_writes(events)
          local r = support.cli({ "-d", dev, "--json", "ob", "set", string.format("%s=0x%X", name, v),
                                  "--yes", "--force" })
          assert.are.equal(0, r.code, name .. ": " .. r.stderr)
          local out = assert(support.json.decode(r.stdout))
          assert.is_true(out.verified, name)
          assert.is_true(out.reset, name)
          assert.are.equal("written", out.state)
          assert.are.equal(v, out.after.fields[name], name)
          assert.are.same({ { field = name, old = v ~ 1, new = v } }, out.changed)
          assert.are.equal(n0 + 1, ob_writes(events), name)
          -- exactly the field's bits changed (both copies on H7); every other byte as before
          assert.are.equal(tohex(setf(before, f, v)), tohex(ob_of(profile, state)), name)
        end
        -- each write was followed by the reset it causes and a re-enumeration
        local all = support.events_file(events)
        local resets, enums = 0, 0
        for i, e in ipairs(all) do
          if e.ev == "reset" and e.cause == "ob_write" then
            resets = resets + 1
            for j = i + 1, #all do
              if all[j].ev == "enumerate" then enums = enums + 1 break end
            end
          end
        end
        assert.are.equal(#names, resets)
        assert.are.equal(#names, enums)
      end)

      it("a WRP change round-trips", function()
        local dev, state = fresh(profile)
        local r = support.cli({ "-d", dev, "--json", "ob", "set", "WRP=1,3", "--yes" })
        assert.are.equal(0, r.code, r.stderr)
        local raw = ob_of(profile, state)
        local m = word(raw, P.wrp.offset, P.wrp.width)
        for i = 0, P.wrp.sectors - 1 do
          assert.are.equal((i == 1 or i == 3) and 0 or 1, (m >> i) & 1, "sector " .. i)
        end
        local show = assert(support.json.decode(support.cli({ "-d", dev, "--json", "ob" }).stdout))
        assert.are.same({ 1, 3 }, show.wrp)
        assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob", "set", "WRP=none", "--yes" }).code)
        show = assert(support.json.decode(support.cli({ "-d", dev, "--json", "ob" }).stdout))
        assert.are.same({}, show.wrp)
        assert.are.equal(0, (~word(ob_of(profile, state), P.wrp.offset, P.wrp.width)) & ((1 << P.wrp.sectors) - 1))
      end)

      it("RDP level 2 is refused with exit 2 and nothing is written", function()
        for _, v in ipairs({ "2", "0xCC", "L2" }) do
          local dev, state, events = fresh(profile)
          local before = ob_of(profile, state)
          local r = support.cli({ "-d", dev, "ob", "set", "RDP=" .. v, "--yes", "--force" })
          assert.are.equal(2, r.code, v)
          assert.matches("--permanently-lock-device", r.stderr, 1, true)
          assert.are.equal(0, ob_writes(events), v)
          assert.are.equal(before, ob_of(profile, state))
        end
      end)

      it("RDP level 2 with --permanently-lock-device is written and the ROM is gone", function()
        local dev, state, events = fresh(profile)
        local r = support.cli({ "-d", dev, "--json", "ob", "set", "RDP=2", "--yes", "--permanently-lock-device" })
        assert.are.equal(0, r.code, r.stderr)
        assert.are.equal(1, ob_writes(events))
        assert.are.equal(0xCC, getf(ob_of(profile, state), P.rdp))
        local out = assert(support.json.decode(r.stdout))
        assert.are.equal("gone", out.state)
        assert.are_not.equal(0, support.cli({ "-q", "-d", dev, "ob" }).code)
      end)

      it("turning read protection on needs --force and says unprotect erases the flash", function()
        local dev, state, events = fresh(profile)
        local r = support.cli({ "-d", dev, "ob", "set", "RDP=1", "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("--force", r.stderr, 1, true)
        assert.matches("erases the whole flash", r.stderr, 1, true)
        assert.are.equal(0, ob_writes(events))
        r = support.cli({ "-d", dev, "--json", "ob", "set", "RDP=0xBB", "--yes", "--force" })
        assert.are.equal(0, r.code, r.stderr)
        assert.matches("erases the whole flash", r.stderr, 1, true)
        assert.are.equal(0xBB, getf(ob_of(profile, state), P.rdp))
        local out = assert(support.json.decode(r.stdout))
        assert.are.equal(1, out.after.rdp.level)
        -- and flash access is now refused, with the way out named
        local rd = support.cli({ "-d", dev, "read", "0x08000000", "64", "-o", support.tmp(".bin") })
        assert.are.equal(1, rd.code)
        assert.matches("read protection is active", rd.stderr, 1, true)
        assert.matches("dfush unprotect --force", rd.stderr, 1, true)
      end)

      it("RDP back to level 0 by ob set needs --force and erases the flash", function()
        local dev, state = fresh(profile, "faults=rdp1")
        local s = support.sim_state(profile, state)
        s:write(0x08000000, "keep?")
        s:save()
        s = nil -- luacheck: ignore
        collectgarbage()
        local r = support.cli({ "-d", dev, "ob", "set", "RDP=0", "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("erases the whole", r.stderr, 1, true)
        r = support.cli({ "-d", dev, "--json", "ob", "set", "RDP=0", "--yes", "--force" })
        assert.are.equal(0, r.code, r.stderr)
        assert.are.equal(0xAA, getf(ob_of(profile, state), P.rdp))
        assert.are.equal(string.rep("\255", 5), read_state(profile, state, 0x08000000, 5))
      end)

      it("unknown fields and out-of-range values exit 2 naming the field and the range", function()
        local dev, _, events = fresh(profile)
        local r = support.cli({ "-d", dev, "ob", "set", "NOPE=1", "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("NOPE", r.stderr, 1, true)
        assert.matches("BOR_LEV", r.stderr, 1, true) -- the valid names are listed
        r = support.cli({ "-d", dev, "ob", "set", "BOR_LEV=4", "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("BOR_LEV=4", r.stderr, 1, true)
        assert.matches("0-3", r.stderr, 1, true)
        r = support.cli({ "-d", dev, "ob", "set", "RDP=170", "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("0xAA level 0", r.stderr, 1, true)
        r = support.cli({ "-d", dev, "ob", "set", "WRP=" .. P.wrp.sectors, "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("sectors 0-" .. (P.wrp.sectors - 1), r.stderr, 1, true)
        r = support.cli({ "-d", dev, "ob", "set", "BOR_LEV", "--yes" })
        assert.are.equal(2, r.code)
        assert.are.equal(0, ob_writes(events))
      end)

      it("setting a value the device already holds writes nothing", function()
        local dev, _, events = fresh(profile)
        local r = support.cli({ "-d", dev, "ob", "set", "BOR_LEV=" .. (profile == "stm32f405" and 3 or 0), "--yes" })
        assert.are.equal(0, r.code, r.stderr)
        assert.matches("nothing to change", r.stdout, 1, true)
        assert.are.equal(0, ob_writes(events))
      end)

      it("a write lost to a disconnect is reported as not taken effect, from the re-read", function()
        -- DNLOAD 1 is the SET_ADDRESS of the read, 2 that of the write, 3 the block itself
        local dev, state, events = fresh(profile)
        dev = dev .. ",faults=disconnect:DNLOAD:3:reappear=500"
        local before = ob_of(profile, state)
        local r = support.cli({ "-d", dev, "--json", "ob", "set", "WRP=0", "--yes" })
        assert.are.equal(1, r.code)
        assert.matches("did not take effect", r.stderr, 1, true)
        local out = assert(support.json.decode(r.stdout))
        assert.is_false(out.ok)
        assert.are.equal("unchanged", out.state)
        assert.are.same({}, out.after.wrp)
        assert.are.equal(0, ob_writes(events))
        assert.are.equal(before, ob_of(profile, state))
      end)

      it("a disconnect while reading back after the write is waited out and the write verified", function()
        local dev, state = fresh(profile)
        -- GETSTATUS 9 starts the write job; the device resets; 10 is the first after it is back
        dev = dev .. ",faults=disconnect:GETSTATUS:10:reappear=300"
        local r = support.cli({ "-d", dev, "--json", "ob", "set", "WRP=0", "--yes" })
        assert.are.equal(0, r.code, r.stderr)
        local out = assert(support.json.decode(r.stdout))
        assert.is_true(out.verified)
        assert.are.same({ 0 }, out.after.wrp)
        assert.are.equal(0, word(ob_of(profile, state), P.wrp.offset, P.wrp.width) & 1)
      end)

      it("a device that does not come back is reported, not verified", function()
        local dev, _, events = fresh(profile)
        dev = dev .. ",faults=disconnect:DNLOAD:3"
        local r = support.cli({ "-d", dev, "--json", "ob", "set", "WRP=0", "--yes" })
        assert.are.equal(1, r.code)
        assert.matches("did not come back", r.stderr, 1, true)
        local out = assert(support.json.decode(r.stdout))
        assert.is_false(out.verified)
        assert.are.equal(0, ob_writes(events))
      end)

      it("flash refuses an image on a write-protected sector before erasing", function()
        local fixture = profile == "stm32h753" and "h7_seed.elf" or "f4_config.elf"
        local dev, _, events = fresh(profile)
        assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob", "set", "WRP=0", "--yes" }).code)
        local r = support.cli({ "-d", dev, "--json", "flash", helper.fixture(fixture) })
        assert.are.equal(2, r.code)
        assert.matches("write-protected sector 0", r.stderr, 1, true)
        assert.matches(string.format("0x%08X", P.sector(0).address), r.stderr, 1, true)
        assert.matches("dfush ob set WRP=", r.stderr, 1, true)
        assert.are.equal(0, #support.events_file(events, "erase"))
        assert.are.equal(0, #support.events_file(events, "program"))
        -- protection elsewhere does not get in the way
        assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob", "set", "WRP=" .. (P.wrp.sectors - 1), "--yes" }).code)
        r = support.cli({ "-d", dev, "flash", helper.fixture(fixture) })
        assert.are.equal(0, r.code, r.stderr)
      end)

      it("flash on a read-protected device says so and erases nothing", function()
        local fixture = profile == "stm32h753" and "h7_seed.elf" or "f4_config.elf"
        local dev, _, events = support.simdev(profile, "faults=rdp1")
        local r = support.cli({ "-d", dev, "flash", helper.fixture(fixture) })
        assert.are.equal(1, r.code)
        assert.matches("read protection is active", r.stderr, 1, true)
        assert.matches("unprotect --force", r.stderr, 1, true)
        assert.are.equal(0, #support.events_file(events, "erase"))
      end)
    end)
  end

  it("H753: moving BOOT_ADD1 away from the ROM needs --force", function()
    local dev, _, events = fresh("stm32h753")
    local r = support.cli({ "-d", dev, "ob", "set", "BOOT_ADD1=0x0800", "--yes" })
    assert.are.equal(2, r.code)
    assert.matches("BOOT_ADD1", r.stderr, 1, true)
    assert.matches("--force", r.stderr, 1, true)
    assert.are.equal(0, ob_writes(events))
  end)

  it("H753: a PCROP area is shown by address", function()
    local dev = fresh("stm32h753")
    assert.are.equal(0, support.cli({ "-q", "-d", dev, "ob", "set", "PROT_AREA_START=0x10",
                                      "PROT_AREA_END=0x1F", "--yes" }).code)
    local out = assert(support.json.decode(support.cli({ "-d", dev, "--json", "ob" }).stdout))
    assert.are.same({ { name = "PCROP", address = 0x08001000, size = 0x1000 } }, out.areas)
  end)

  describe("confirmation", function()
    local have = support.have_binary()
    local function maybe(name, fn) if have then it(name, fn) else pending(name .. " (needs the built dfush)") end end

    maybe("without a terminal and without --yes it refuses with exit 2 and writes nothing", function()
      local dev, _, events = fresh("stm32f405")
      local r = support.spawn({ "-d", dev, "ob", "set", "BOR_LEV=1" }, { DFUSH_ASSUME_TTY = "0" })
      assert.are.equal(2, r.code)
      assert.matches("--yes", r.stderr, 1, true)
      assert.matches("BOR_LEV", r.stderr, 1, true) -- the diff was shown
      assert.are.equal(0, ob_writes(events))
    end)

    maybe("on a terminal it asks, and writes only after yes", function()
      local dev, state, events = fresh("stm32f405")
      local r = helper.dfush({ "-d", dev, "ob", "set", "BOR_LEV=1" },
        { env = { DFUSH_ASSUME_TTY = "1", DFUSH_PROGRESS = "plain" }, stdin = "n\n" })
      assert.are_not.equal(0, r.code)
      assert.matches("[y/N]", r.stderr, 1, true)
      assert.are.equal(0, ob_writes(events))
      r = helper.dfush({ "-d", dev, "ob", "set", "BOR_LEV=1" },
        { env = { DFUSH_ASSUME_TTY = "1", DFUSH_PROGRESS = "plain" }, stdin = "y\n" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(1, ob_writes(events))
      assert.are.equal(1, getf(ob_of("stm32f405", state), PROFILES.stm32f405.fields.BOR_LEV))
    end)
  end)
end)
