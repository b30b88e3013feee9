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
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 1 }

return {
  name = "STM32F40x/41x", address = 0x1FFFC000, size = 16,
  size_default = true, -- the codec for a bare 16-byte block (dfu.ob.decode without a codec)
  source = "RM0090 option bytes (F405/F407/F415/F417)",
  fields = F.append(C.f4_user(f, "WDG_SW", C.BOR_F4), {
    f("nWRP", 8, 0, 12, "write protection, one bit per sector 0-11 (0 = protected)", F.WRP, { width = 2 }),
  }),
  -- Write protection: the nWRP field, active low, bit i = sector i of the flash layout.
  wrp = { field = "nWRP", sectors = 12, active_low = true },
}
