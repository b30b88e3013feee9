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
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 1 }

return {
  name = "STM32F401/F411", address = 0x1FFFC000, size = 16,
  source = "RM0383 option bytes (STM32F411), RM0368 (STM32F401)",
  fields = F.append(C.f4_user(f, "WDG_SW", C.BOR_F4), {
    f("nWRP", 8, 0, 8, "write protection, one bit per sector 0-7 (0 = protected)", F.WRP),
    f("SPRMOD", 9, 7, 1, "what the nWRP bits mean", {
      values = { [0] = "write protection", [1] = "PCROP (read protection of the sectors' code)" },
      force = { [1] = "SPRMOD=1 turns the nWRP bits into PCROP: sectors whose bit is 0 can no longer " ..
                      "be read, and only an RDP regression (which erases the flash) clears it" } }),
  }),
  wrp = { field = "nWRP", sectors = 8, active_low = true },
}
