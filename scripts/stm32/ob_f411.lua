-- STM32F401/F411 option bytes as the ROM bootloader exposes them over DfuSe: alt
-- "@Option Bytes /0x1FFFC000/01*016 e", one 16-byte block read and written whole.
--
-- Layout (RM0383/RM0368 "Option bytes organization", the same 16 bytes as the F40x):
--   byte 0   USER: bit 7 nRST_STDBY, bit 6 nRST_STOP, bit 5 WDG_SW, bits 3:2 BOR_LEV
--   byte 1   RDP: 0xAA level 0, 0xCC level 2, any other value level 1
--   bytes 8-9  nWRP[7:0] (bit i = 1: sector i not write-protected; 8 sectors) and SPRMOD in bit
--            15 (0: nWRP bits are write protection, 1: PCROP)
--   bytes 2-3, 10-11  complements of bytes 0-1, 8-9; the others reserved. They are written back
--            exactly as read.
local BOR = {
  [0] = "level 3: reset below 2.70-3.60 V",
  [1] = "level 2: reset below 2.40-2.70 V",
  [2] = "level 1: reset below 2.10-2.40 V",
  [3] = "off: POR/PDR only (1.8-2.10 V)",
}

return {
  name = "STM32F401/F411",
  address = 0x1FFFC000,
  size = 16,
  source = "RM0383 option bytes (STM32F411), RM0368 (STM32F401)",
  fields = {
    { name = "RDP", offset = 1, width = 1, shift = 0, bits = 8, kind = "rdp",
      help = "read protection level (0xAA level 0, 0xCC level 2, other values level 1)" },
    { name = "nRST_STDBY", offset = 0, width = 1, shift = 7, bits = 1, help = "reset on entering Standby",
      values = { [0] = "a reset is generated when entering Standby", [1] = "no reset when entering Standby" } },
    { name = "nRST_STOP", offset = 0, width = 1, shift = 6, bits = 1, help = "reset on entering Stop",
      values = { [0] = "a reset is generated when entering Stop", [1] = "no reset when entering Stop" } },
    { name = "WDG_SW", offset = 0, width = 1, shift = 5, bits = 1, help = "independent watchdog mode",
      values = { [0] = "hardware watchdog: the IWDG runs from reset, the application must refresh it",
                 [1] = "software watchdog: the application starts the IWDG" },
      warn = { [0] = "WDG_SW=0 starts the independent watchdog at every reset; an application " ..
                     "that does not refresh it will reset in a loop" } },
    { name = "BOR_LEV", offset = 0, width = 1, shift = 2, bits = 2, help = "brown-out reset threshold",
      values = BOR },
    { name = "nWRP", offset = 8, width = 1, shift = 0, bits = 8, kind = "wrp",
      help = "write protection, one bit per sector 0-7 (0 = protected)" },
    { name = "SPRMOD", offset = 9, width = 1, shift = 7, bits = 1, help = "what the nWRP bits mean",
      values = { [0] = "write protection", [1] = "PCROP (read protection of the sectors' code)" },
      force = { [1] = "SPRMOD=1 turns the nWRP bits into PCROP: sectors whose bit is 0 can no longer " ..
                      "be read, and only an RDP regression (which erases the flash) clears it" } },
  },
  wrp = { field = "nWRP", sectors = 8, active_low = true },
}
