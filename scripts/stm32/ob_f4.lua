-- STM32F40x/41x option bytes as the ROM bootloader exposes them over DfuSe: alt
-- "@Option Bytes /0x1FFFC000/01*016 e", one 16-byte block read and written whole.
--
-- Layout (RM0090 "Option bytes organization", two 64-bit option words at 0x1FFFC000 and
-- 0x1FFFC008; the same offsets the simulator uses in core/sim/sim_ob.c):
--   byte 0      USER: bit 7 nRST_STDBY, bit 6 nRST_STOP, bit 5 WDG_SW, bits 3:2 BOR_LEV
--               (bit 4 and bits 1:0 are reserved)
--   byte 1      RDP: 0xAA level 0, 0xCC level 2, any other value level 1
--   bytes 8-9   nWRP[11:0], little endian: bit i = 1 means sector i is NOT write-protected
--               (bits 15:12 reserved; bit 15 is SPRMOD on F42x/43x only)
--   bytes 2-7, 10-15  reserved. A real F405 reads back the complements of USER/RDP in bytes 2-3
--               and of nWRP in bytes 10-11 [inferred from read-backs; RM0090 calls them
--               reserved]; they are written back exactly as read, never recomputed.
-- Data only, plus small helpers; lua/dfu/ob.lua does the reading, checking and writing.
local BOR = {
  [0] = "level 3: reset below 2.70-3.60 V",
  [1] = "level 2: reset below 2.40-2.70 V",
  [2] = "level 1: reset below 2.10-2.40 V",
  [3] = "off: POR/PDR only (1.8-2.10 V)",
}

return {
  name = "STM32F40x/41x",
  address = 0x1FFFC000,
  size = 16,
  size_default = true, -- the codec for a bare 16-byte block (dfu.ob.decode without a codec)
  source = "RM0090 option bytes (F405/F407/F415/F417)",
  fields = {
    { name = "RDP", offset = 1, width = 1, shift = 0, bits = 8, kind = "rdp",
      help = "read protection level (0xAA level 0, 0xCC level 2, other values level 1)" },
    { name = "nRST_STDBY", offset = 0, width = 1, shift = 7, bits = 1,
      help = "reset on entering Standby",
      values = { [0] = "a reset is generated when entering Standby", [1] = "no reset when entering Standby" } },
    { name = "nRST_STOP", offset = 0, width = 1, shift = 6, bits = 1,
      help = "reset on entering Stop",
      values = { [0] = "a reset is generated when entering Stop", [1] = "no reset when entering Stop" } },
    { name = "WDG_SW", offset = 0, width = 1, shift = 5, bits = 1,
      help = "independent watchdog mode",
      values = { [0] = "hardware watchdog: the IWDG runs from reset, the application must refresh it",
                 [1] = "software watchdog: the application starts the IWDG" },
      warn = { [0] = "WDG_SW=0 starts the independent watchdog at every reset; an application " ..
                     "that does not refresh it will reset in a loop" } },
    { name = "BOR_LEV", offset = 0, width = 1, shift = 2, bits = 2,
      help = "brown-out reset threshold", values = BOR },
    { name = "nWRP", offset = 8, width = 2, shift = 0, bits = 12, kind = "wrp",
      help = "write protection, one bit per sector 0-11 (0 = protected)" },
  },
  -- Write protection: the nWRP field, active low, bit i = sector i of the flash layout.
  wrp = { field = "nWRP", sectors = 12, active_low = true },
}
