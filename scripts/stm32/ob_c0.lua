-- STM32C071 option bytes over DfuSe: alt "@Option Bytes /0x1FFF7800/01*128 e" [inferred from
-- RM0490; no public listing of the C071 ROM's alts was found], one 128-byte block.
--
-- Layout (RM0490 "Option bytes organization"): 32-bit option words, each followed by its
-- complement: +0x00 FLASH_OPTR, +0x08/+0x10 PCROP1A, +0x18 WRP1AR, +0x20 WRP1BR, +0x28/+0x30
-- PCROP1B, +0x70 FLASH_SECR. OPTR bits as on the G0: 7:0 RDP, 8 BOR_EN, 10:9 BORF_LEV, 12:11
-- BORR_LEV, 13-15 reset modes, 16-19 watchdogs, 22 RAM_PARITY_CHECK, 24 nBOOT_SEL, 25 nBOOT1,
-- 26 nBOOT0, 28:27 NRST_MODE, 29 IRHEN. WRPxyR: first page in bits 6:0, last in 22:16.
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4, complement_at = 4 }

local fields = F.append(C.optr(f, 0, "g0"), C.g0_boot(f))

return {
  name = "STM32C071", address = 0x1FFF7800, size = 128,
  source = "RM0490 option bytes (STM32C071)",
  fields = fields,
  wrp = { ranges = C.wrp_areas(f, fields, { 0x18, 0x20 }, 7), sectors = 64 },
}
