-- dfu.ob decoders/encoders without a device: field positions, reserved bytes carried over,
-- value parsing and the safety rules.
local ob = require("dfu").ob -- the public API (raising helpers, safe read/decode/set)

local F4 = require "stm32.ob_f4"
local H7 = require "stm32.ob_h7"

-- A block with every byte different and "random", so a misplaced field shows.
local function noise(n, seed)
  local t, x = {}, seed
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = (x >> 16) & 0xFF
  end
  return string.char(table.unpack(t))
end

local function le32(s, off)
  return s:byte(off + 1) | s:byte(off + 2) << 8 | s:byte(off + 3) << 16 | s:byte(off + 4) << 24
end

local function usage_error(fn)
  local ok, e = pcall(fn)
  assert.is_false(ok)
  assert.are.equal("USAGE", e.code)
  return e.msg
end

describe("dfu.ob codecs", function()
  it("F405: the simulator's default block decodes as RM0090 says", function()
    local raw = "\xEC\xAA\x13\x55\xFF\xFF\xFF\xFF\xFF\x0F\x00\xF0\xFF\xFF\xFF\xFF"
    local d = ob.decode_raw(raw)
    assert.are.equal("STM32F40x/41x", d.family)
    assert.are.equal(0xAA, d.fields.RDP)
    assert.are.equal(0, d.rdp.level)
    assert.are.equal(1, d.fields.nRST_STDBY)
    assert.are.equal(1, d.fields.nRST_STOP)
    assert.are.equal(1, d.fields.WDG_SW)
    assert.are.equal(3, d.fields.BOR_LEV)
    assert.are.equal(0x0FFF, d.fields.nWRP)
    assert.are.same({}, d.wrp)
  end)

  it("F405: fields from a block with other values", function()
    -- USER 0x48: nRST_STDBY 0, nRST_STOP 1, WDG_SW 0, BOR_LEV 2; nWRP 0x0A5A
    local raw = "\x48\x33" .. string.rep("\0", 6) .. "\x5A\x0A" .. string.rep("\0", 6)
    local d = ob.decode_raw(raw, F4)
    assert.are.same({ RDP = 0x33, nRST_STDBY = 0, nRST_STOP = 1, WDG_SW = 0, BOR_LEV = 2, nWRP = 0x0A5A },
      d.fields)
    assert.are.equal(1, d.rdp.level)
    assert.are.same({ 0, 2, 5, 7, 8, 10 }, d.wrp)
  end)

  it("H753: OPTSR, PRAR, SCAR, WPSN and BOOT words by offset", function()
    local b = {}
    for i = 1, 128 do b[i] = 0 end
    local function put32(off, v) for i = 0, 3 do b[off + i + 1] = (v >> (8 * i)) & 0xFF end end
    put32(0, 0xA02DCC5C) -- SWAP 1, IO_HSLV 1, SECURITY 1, ST_RAM_SIZE 1, FZ 1/0, RDP 0xCC, NRST 0/1, IWDG 1, BOR 3
    put32(12, 0x80230010) -- DMEP 1, END 0x023, START 0x010
    put32(20, 0x00050004)
    put32(28, 0xFFFFFF5A)
    put32(36, 0x1FF00810)
    local d = ob.decode_raw(string.char(table.unpack(b)), H7)
    local f = d.fields
    assert.are.equal(0xCC, f.RDP)
    assert.are.equal(2, d.rdp.level)
    assert.are.equal(3, f.BOR_LEV)
    assert.are.equal(1, f.IWDG1_SW)
    assert.are.equal(1, f.NRST_STOP_D1)
    assert.are.equal(0, f.NRST_STBY_D1)
    assert.are.equal(0, f.FZ_IWDG_STOP)
    assert.are.equal(1, f.FZ_IWDG_SDBY)
    assert.are.equal(1, f.ST_RAM_SIZE)
    assert.are.equal(1, f.SECURITY)
    assert.are.equal(1, f.IO_HSLV)
    assert.are.equal(1, f.SWAP_BANK_OPT)
    assert.are.equal(0x010, f.PROT_AREA_START)
    assert.are.equal(0x023, f.PROT_AREA_END)
    assert.are.equal(1, f.DMEP)
    assert.are.equal(0x004, f.SEC_AREA_START)
    assert.are.equal(0x005, f.SEC_AREA_END)
    assert.are.equal(0, f.DMES)
    assert.are.equal(0x5A, f.WRPSN)
    assert.are.same({ 0, 2, 5, 7 }, d.wrp)
    assert.are.equal(0x0810, f.BOOT_ADD0)
    assert.are.equal(0x1FF0, f.BOOT_ADD1)
    assert.are.same({ { name = "PCROP", address = 0x08001000, size = 0x1400 },
                      { name = "secure", address = 0x08000400, size = 0x200 } }, d.areas)
  end)

  it("encode changes only the field's bits; reserved bytes and complements are kept", function()
    for _, c in ipairs({ F4, H7 }) do
      local raw = noise(c.size, c.size)
      for _, fd in ipairs(c.fields) do
        local old = ob.decode_raw(raw, c).fields[fd.name]
        local new = old ~ ((1 << fd.bits) - 1) -- every bit of the field flips
        local out = ob.encode(raw, c, ob.parse_changes(c, { [fd.name] = string.format("0x%X", new) }))
        local d = ob.decode_raw(out, c)
        assert.are.equal(new, d.fields[fd.name], fd.name)
        for _, other in ipairs(c.fields) do
          -- fields sharing no bits keep their value
          local o1 = (((1 << other.bits) - 1) << other.shift)
          local f1 = (((1 << fd.bits) - 1) << fd.shift)
          if other.offset ~= fd.offset or (o1 & f1) == 0 then
            assert.are.equal(ob.decode_raw(raw, c).fields[other.name], d.fields[other.name],
              fd.name .. "/" .. other.name)
          end
        end
        -- byte by byte: outside the field (and its PRG copy) nothing moved
        local span = {}
        for _, off in ipairs({ fd.offset, fd.mirror and fd.offset + fd.mirror or nil }) do
          for i = off, off + fd.width - 1 do span[i] = true end
        end
        for i = 0, c.size - 1 do
          if not span[i] then assert.are.equal(raw:byte(i + 1), out:byte(i + 1), fd.name .. " byte " .. i) end
        end
        if fd.mirror then
          -- the PRG copy carries the new field value; its other bits stay as they were
          local mask = ((1 << fd.bits) - 1) << fd.shift
          local prg0, prg1 = le32(raw, fd.offset + fd.mirror), le32(out, fd.offset + fd.mirror)
          assert.are.equal(new, (prg1 & mask) >> fd.shift, fd.name .. " PRG copy")
          assert.are.equal(prg0 & ~mask, prg1 & ~mask, fd.name .. " PRG other bits")
        end
      end
    end
  end)

  it("WRP lists set the active-low mask", function()
    local raw = "\xEC\xAA\x13\x55\xFF\xFF\xFF\xFF\xFF\x0F\x00\xF0\xFF\xFF\xFF\xFF"
    local out = ob.encode(raw, F4, ob.parse_changes(F4, { "WRP=0,11" }))
    assert.are.equal(0x07FE, out:byte(9) | out:byte(10) << 8)
    assert.are.equal(raw:sub(11), out:sub(11))
    out = ob.encode(out, F4, ob.parse_changes(F4, { WRP = "none" }))
    assert.are.equal(raw, out)
    out = ob.encode(raw, F4, ob.parse_changes(F4, { WRP = { 3 } }))
    assert.are.same({ 3 }, ob.decode_raw(out, F4).wrp)
    out = ob.encode(raw, F4, ob.parse_changes(F4, { WRP = "all" }))
    assert.are.equal(0, ob.decode_raw(out, F4).fields.nWRP)
  end)

  it("RDP values: levels, hex bytes; ambiguous decimal bytes refused", function()
    local p = function(v) return ob.parse_changes(F4, { RDP = v })[1].value end
    assert.are.equal(0xAA, p("0"))
    assert.are.equal(0xBB, p("1"))
    assert.are.equal(0xCC, p("2"))
    assert.are.equal(0xCC, p("L2"))
    assert.are.equal(0x55, p("0x55"))
    assert.matches("0xAA level 0", usage_error(function() p("170") end), 1, true)
    assert.matches("0xAA level 0", usage_error(function() p("0x1AA") end), 1, true)
  end)

  it("unknown names and out-of-range values name the field and the range", function()
    assert.matches("'FOO'", usage_error(function() ob.parse_changes(H7, { "FOO=1" }) end), 1, true)
    assert.matches("WRPSN", usage_error(function() ob.parse_changes(H7, { "FOO=1" }) end), 1, true)
    local m = usage_error(function() ob.parse_changes(H7, { "BOOT_ADD0=0x10000" }) end)
    assert.matches("BOOT_ADD0", m, 1, true)
    assert.matches("0-65535", m, 1, true)
    assert.matches("WDG_SW", usage_error(function() ob.parse_changes(F4, { "WDG_SW=2" }) end), 1, true)
    assert.matches("sectors 0-7", usage_error(function() ob.parse_changes(H7, { "WRP=8" }) end), 1, true)
    assert.matches("NAME=VALUE", usage_error(function() ob.parse_changes(F4, { "BOR_LEV" }) end), 1, true)
    -- names are matched without regard to case and reported canonically
    assert.are.equal("BOR_LEV", ob.parse_changes(F4, { "bor_lev=1" })[1].field.name)
  end)

  describe("safety rules", function()
    local L0 = "\xEC\xAA\x13\x55\xFF\xFF\xFF\xFF\xFF\x0F\x00\xF0\xFF\xFF\xFF\xFF"
    local function with(raw, ch) return ob.encode(raw, F4, ob.parse_changes(F4, ch)) end

    it("level 2 only with permanently_lock_device (force is not enough)", function()
      local new = with(L0, { RDP = "2" })
      assert.matches("permanently", usage_error(function() ob.check(F4, L0, new, { force = true }) end), 1, true)
      local c = ob.check(F4, L0, new, { permanently_lock_device = true })
      assert.are.equal("RDP", c.diff[1].name)
      assert.matches("permanent", c.notes[1], 1, true)
      -- from level 1 too
      local l1 = with(L0, { RDP = "1" })
      usage_error(function() ob.check(F4, l1, new, { force = true }) end)
    end)

    it("away from level 0 needs force and says unprotect erases the flash", function()
      local new = with(L0, { RDP = "0x12" })
      local m = usage_error(function() ob.check(F4, L0, new, {}) end)
      assert.matches("--force", m, 1, true)
      assert.matches("erases the whole flash", m, 1, true)
      local c = ob.check(F4, L0, new, { force = true })
      assert.matches("erases the whole flash", c.notes[1], 1, true)
    end)

    it("level 1 to 0 needs force (the flash is erased)", function()
      local l1 = with(L0, { RDP = "1" })
      usage_error(function() ob.check(F4, l1, L0, {}) end)
      assert.matches("erases the whole flash", ob.check(F4, l1, L0, { force = true }).notes[1], 1, true)
    end)

    it("level 1 to another level-1 value and other fields need nothing", function()
      local l1 = with(L0, { RDP = "1" })
      assert.are.equal(1, #ob.check(F4, l1, with(l1, { RDP = "0x12" }), {}).diff)
      local c = ob.check(F4, L0, with(L0, { BOR_LEV = "1", WRP = "2" }), {})
      assert.are.equal(2, #c.diff)
    end)

    it("H753 boot addresses: BOOT_ADD1 away from the ROM needs force", function()
      local raw = string.rep("\0", 36) .. "\x00\x08\xF0\x1F\x00\x08\xF0\x1F" .. string.rep("\0", 84)
      local new = ob.encode(raw, H7, ob.parse_changes(H7, { BOOT_ADD1 = "0x0800" }))
      assert.matches("BOOT_ADD1", usage_error(function() ob.check(H7, raw, new, {}) end), 1, true)
      new = ob.encode(raw, H7, ob.parse_changes(H7, { BOOT_ADD0 = "0x1FF0" }))
      assert.are.equal(1, #ob.check(H7, raw, new, {}).diff) -- the ROM is a safe boot address
    end)
  end)

  it("dfu.ob.decode returns nil, msg, code for a block of unknown size", function()
    local d, msg, code = ob.decode("\0\0\0")
    assert.is_nil(d)
    assert.matches("3-byte", msg, 1, true)
    assert.are.equal("USAGE", code)
    assert.are.equal(0xAA, assert(ob.decode(string.rep("\xAA", 16))).fields.RDP)
  end)
end)
