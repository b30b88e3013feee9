-- Field constructors for option-byte codecs (the modules a family descriptor names in its
-- option_bytes key; lua/dfu/ob.lua reads, checks and writes with them). A codec lists its
-- fields as tables { name, offset, width, shift, bits, help, ... } (doc/usage.md, "Option-byte
-- codecs"); these helpers build them and hold the texts that many chips share, so a codec is
-- its register map and little else.
--
--   local F = require "dfu.obfield"
--   local f = F.maker { width = 1, complement_at = 1 }   -- byte fields, complement in the next byte
--   fields = { f("RDP", 0, 0, 8, F.RDP_HELP, F.RDP), f("nRST_STOP", 2, 1, 1, "reset on entering Stop",
--              F.reset_on("Stop")) }
local M = {}

--- Copy the keys of each table argument into t (later ones win); returns t.
function M.with(t, ...)
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do t[k] = v end
  end
  return t
end

--- A constructor f(name, offset, shift, bits, help, extra...) for the fields of one codec. base
--- holds the keys every field shares (width, mirror, ...); base.complement_at, when set, places
--- each field's complement that many bytes after the field. The extra tables add or override
--- keys (values, warn, force, kind, width, ...).
function M.maker(base)
  local at = base.complement_at
  local fixed = M.with({}, base)
  fixed.complement_at = nil
  return function(name, offset, shift, bits, help, ...)
    local t = M.with({ name = name, offset = offset, shift = shift, bits = bits, help = help }, fixed)
    if at then t.complement = offset + at end
    return M.with(t, ...)
  end
end

M.RDP_HELP = "read protection level (0xAA level 0, 0xCC level 2, other values level 1)"
M.RDP = { kind = "rdp" }
M.WRP = { kind = "wrp" }
M.OFF_ON = { values = { [0] = "off", [1] = "on" } }
M.NO_YES = { values = { [0] = "no", [1] = "yes" } }
M.PARITY = { values = { [0] = "on", [1] = "off" } } -- parity-check bits are active low
M.ERASED_KEPT = { values = { [0] = "erased", [1] = "kept" } }

--- Active-low "reset on entering <mode>" bits (nRST_STOP, nRST_STDBY, ...).
function M.reset_on(mode)
  return { values = { [0] = "reset on " .. mode, [1] = "no reset on " .. mode } }
end

--- Watchdog-counter freeze bits: 0 freezes the counter in <mode>.
function M.counter_in(mode)
  return { values = { [0] = "frozen in " .. mode, [1] = "running in " .. mode } }
end

--- A hardware/software watchdog bit named name (0 = hardware: the watchdog runs from reset,
--- which an application that does not refresh it turns into a reset loop: ob set warns).
function M.watchdog(name, dog)
  dog = dog or "IWDG"
  return {
    values = { [0] = "hardware watchdog: the " .. dog .. " runs from reset", [1] = "software watchdog" },
    warn = { [0] = name .. "=0 starts the watchdog at every reset; an application that does not " ..
                   "refresh it will reset in a loop" },
  }
end

--- A boot-address field that needs --force unless its value is one of ok (a list).
function M.boot_address(text, ok)
  local set = {}
  for _, v in ipairs(ok) do set[v] = true end
  return { force_unless = set, force_text = text }
end

--- The user-data and write-protection bytes of the 16-byte option block the STM32F0/F1 and its
--- clones share: DATA0 and DATA1 at bytes 4 and 6, the write-protection bytes prefix0..3 at
--- bytes 8-14, each bit covering per_bit pages (active low).
function M.data_and_wrp(f, prefix, per_bit)
  local t = { f("DATA0", 4, 0, 8, "user data byte 0"), f("DATA1", 6, 0, 8, "user data byte 1") }
  for i = 0, 3 do
    local first, last = i * 8 * per_bit, (i + 1) * 8 * per_bit - 1
    t[#t + 1] = f(prefix .. i, 8 + 2 * i, 0, 8, string.format("write protection of pages %d-%d%s",
      first, last, i == 0 and string.format(", one bit per %d pages (0 = protected)", per_bit) or ""))
  end
  return t
end

--- Append the fields of each list argument to list; returns list.
function M.append(list, ...)
  for i = 1, select("#", ...) do
    for _, x in ipairs(select(i, ...)) do list[#list + 1] = x end
  end
  return list
end

return M
