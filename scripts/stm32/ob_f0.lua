-- STM32F07x option bytes as the ROM bootloader exposes them over DfuSe: alt
-- "@Option Bytes /0x1FFFF800/01*016 e", one 16-byte block read and written whole.
--
-- Layout (RM0091 "Option byte organization"): eight bytes, each followed by its complement:
--   byte 0 RDP (0xAA level 0, 0xCC level 2, else level 1)   byte 1  nRDP
--   byte 2 USER: bit 0 WDG_SW, 1 nRST_STOP, 2 nRST_STDBY, 4 nBOOT1, 5 VDDA_MONITOR,
--          6 RAM_PARITY_CHECK (bits 3 and 7 are reserved on the F07x)   byte 3 nUSER
--   bytes 4, 6 DATA0, DATA1 (user data)                         bytes 5, 7 complements
--   bytes 8, 10, 12, 14 WRP0-3 (one bit per 2 pages of 2 KiB, 0 = protected)
--   bytes 9, 11, 13, 15 complements
-- A change rewrites the complement byte with it: an option byte whose complement does not match
-- is loaded as invalid (RM0091), which for RDP means read protection.
local function f(name, offset, shift, bits, help, extra)
  local t = { name = name, offset = offset, width = 1, shift = shift, bits = bits,
              complement = offset + 1, help = help }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

return {
  name = "STM32F07x",
  address = 0x1FFFF800,
  size = 16,
  source = "RM0091 option bytes (STM32F07x)",
  fields = {
    f("RDP", 0, 0, 8, "read protection level (0xAA level 0, 0xCC level 2, other values level 1)",
      { kind = "rdp" }),
    f("WDG_SW", 2, 0, 1, "independent watchdog mode", {
      values = { [0] = "hardware watchdog: the IWDG runs from reset", [1] = "software watchdog" },
      warn = { [0] = "WDG_SW=0 starts the independent watchdog at every reset; an application " ..
                     "that does not refresh it will reset in a loop" } }),
    f("nRST_STOP", 2, 1, 1, "reset on entering Stop",
      { values = { [0] = "reset on Stop", [1] = "no reset on Stop" } }),
    f("nRST_STDBY", 2, 2, 1, "reset on entering Standby",
      { values = { [0] = "reset on Standby", [1] = "no reset on Standby" } }),
    f("nBOOT1", 2, 4, 1, "with BOOT0 high: 1 boots the system memory (ROM), 0 the SRAM", {
      values = { [0] = "BOOT0 high boots the SRAM", [1] = "BOOT0 high boots the ROM bootloader" },
      force = { [0] = "nBOOT1=0 makes BOOT0 high boot the SRAM instead of the ROM bootloader: DFU " ..
                      "is then only reachable through a debugger" } }),
    f("VDDA_MONITOR", 2, 5, 1, "VDDA power supply supervisor",
      { values = { [0] = "off", [1] = "on" } }),
    f("RAM_PARITY_CHECK", 2, 6, 1, "SRAM parity check",
      { values = { [0] = "on", [1] = "off" } }),
    f("DATA0", 4, 0, 8, "user data byte 0"),
    f("DATA1", 6, 0, 8, "user data byte 1"),
    f("WRP0", 8, 0, 8, "write protection of pages 0-15, one bit per 2 pages (0 = protected)"),
    f("WRP1", 10, 0, 8, "write protection of pages 16-31"),
    f("WRP2", 12, 0, 8, "write protection of pages 32-47"),
    f("WRP3", 14, 0, 8, "write protection of pages 48-63"),
  },
  -- one bit per two 2-KiB pages (the sectors of the flash layout), active low
  wrp = { fields = { "WRP0", "WRP1", "WRP2", "WRP3" }, per_bit = 2, sectors = 64, active_low = true },
}
