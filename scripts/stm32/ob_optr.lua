-- Helpers for the option-byte codecs of the parts whose options live in FLASH_OPTR and its
-- neighbours (L4, G4, G0, C0, U5): field constructors and the shared texts. Not a codec.
local M = {}

--- A field of a 32-bit option word at offset; comp: the complement word's offset (flash-
--- resident options keep one after each word), or nil for register images.
function M.field(name, offset, shift, bits, help, extra, comp)
  local t = { name = name, offset = offset, width = 4, shift = shift, bits = bits, help = help,
              complement = comp }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

M.RDP_HELP = "read protection level (0xAA level 0, 0xCC level 2, other values level 1)"

M.IWDG_SW = {
  values = { [0] = "hardware watchdog: the IWDG runs from reset", [1] = "software watchdog" },
  warn = { [0] = "IWDG_SW=0 starts the independent watchdog at every reset; an application that " ..
                 "does not refresh it will reset in a loop" },
}

M.ON_OFF_RESET = {
  nRST_STOP = { [0] = "reset on Stop", [1] = "no reset on Stop" },
  nRST_STDBY = { [0] = "reset on Standby", [1] = "no reset on Standby" },
  nRST_SHDW = { [0] = "reset on Shutdown", [1] = "no reset on Shutdown" },
}

--- The usual fields of FLASH_OPTR at offset (comp: its complement's offset or nil).
--- layout: "l4" (BOR_LEV 10:8, resets at 12-14) or "g0" (BOR_EN 8, BORF 10:9, BORR 12:11,
--- resets at 13-15).
function M.optr(offset, comp, layout)
  local f, o = M.field, M.ON_OFF_RESET
  local t = { f("RDP", offset, 0, 8, M.RDP_HELP, { kind = "rdp" }, comp) }
  if layout == "g0" then
    t[#t + 1] = f("BOR_EN", offset, 8, 1, "brown-out reset", { values = { [0] = "off", [1] = "on" } }, comp)
    t[#t + 1] = f("BORF_LEV", offset, 9, 2, "brown-out falling threshold (0 lowest, 3 highest)", nil, comp)
    t[#t + 1] = f("BORR_LEV", offset, 11, 2, "brown-out rising threshold (0 lowest, 3 highest)", nil, comp)
    t[#t + 1] = f("nRST_STOP", offset, 13, 1, "reset on entering Stop", { values = o.nRST_STOP }, comp)
    t[#t + 1] = f("nRST_STDBY", offset, 14, 1, "reset on entering Standby", { values = o.nRST_STDBY }, comp)
    t[#t + 1] = f("nRST_SHDW", offset, 15, 1, "reset on entering Shutdown", { values = o.nRST_SHDW }, comp)
  else
    t[#t + 1] = f("BOR_LEV", offset, 8, 3, "brown-out reset threshold (0 about 1.7 V .. 4 about 2.8 V)",
      nil, comp)
    t[#t + 1] = f("nRST_STOP", offset, 12, 1, "reset on entering Stop", { values = o.nRST_STOP }, comp)
    t[#t + 1] = f("nRST_STDBY", offset, 13, 1, "reset on entering Standby", { values = o.nRST_STDBY }, comp)
    t[#t + 1] = f("nRST_SHDW", offset, 14, 1, "reset on entering Shutdown", { values = o.nRST_SHDW }, comp)
  end
  t[#t + 1] = f("IWDG_SW", offset, 16, 1, "independent watchdog mode", M.IWDG_SW, comp)
  t[#t + 1] = f("IWDG_STOP", offset, 17, 1, "IWDG counter in Stop",
    { values = { [0] = "frozen in Stop", [1] = "running in Stop" } }, comp)
  t[#t + 1] = f("IWDG_STDBY", offset, 18, 1, "IWDG counter in Standby",
    { values = { [0] = "frozen in Standby", [1] = "running in Standby" } }, comp)
  t[#t + 1] = f("WWDG_SW", offset, 19, 1, "window watchdog mode",
    { values = { [0] = "hardware window watchdog", [1] = "software window watchdog" } }, comp)
  return t
end

--- A write-protection area: WRPxyR at offset, first and last page of width bits.
function M.wrp_area(list, prefix, offset, width, comp, names)
  local f = M.field
  local s, e = prefix .. (names and names[1] or "_STRT"), prefix .. (names and names[2] or "_END")
  list[#list + 1] = f(s, offset, 0, width, "first page of the write-protected area " .. prefix ..
    " (no area while it is above the last)", nil, comp)
  list[#list + 1] = f(e, offset, 16, width, "last page of the write-protected area " .. prefix, nil, comp)
  return { start = s, stop = e }
end

--- Append the fields of b to a.
function M.append(a, b)
  for _, x in ipairs(b) do a[#a + 1] = x end
  return a
end

return M
