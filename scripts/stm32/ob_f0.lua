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
local F = require "dfu.obfield"
local f = F.maker { width = 1, complement_at = 1 }

return {
  name = "STM32F07x", address = 0x1FFFF800, size = 16,
  source = "RM0091 option bytes (STM32F07x)",
  fields = F.append({
    f("RDP", 0, 0, 8, F.RDP_HELP, F.RDP),
    f("WDG_SW", 2, 0, 1, "independent watchdog mode", F.watchdog("WDG_SW")),
    f("nRST_STOP", 2, 1, 1, "reset on entering Stop", F.reset_on("Stop")),
    f("nRST_STDBY", 2, 2, 1, "reset on entering Standby", F.reset_on("Standby")),
    f("nBOOT1", 2, 4, 1, "with BOOT0 high: 1 boots the system memory (ROM), 0 the SRAM", {
      values = { [0] = "BOOT0 high boots the SRAM", [1] = "BOOT0 high boots the ROM bootloader" },
      force = { [0] = "nBOOT1=0 makes BOOT0 high boot the SRAM instead of the ROM bootloader: DFU " ..
                      "is then only reachable through a debugger" } }),
    f("VDDA_MONITOR", 2, 5, 1, "VDDA power supply supervisor", F.OFF_ON),
    f("RAM_PARITY_CHECK", 2, 6, 1, "SRAM parity check", F.PARITY),
  }, F.data_and_wrp(f, "WRP", 2)),
  -- one bit per two 2-KiB pages (the sectors of the flash layout), active low
  wrp = { fields = { "WRP0", "WRP1", "WRP2", "WRP3" }, per_bit = 2, sectors = 64, active_low = true },
}
