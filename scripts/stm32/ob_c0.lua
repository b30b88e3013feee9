-- STM32C071 option bytes over DfuSe: alt "@Option Bytes /0x1FFF7800/01*128 e" [inferred from
-- RM0490; no public listing of the C071 ROM's alts was found], one 128-byte block.
--
-- Layout (RM0490 "Option bytes organization"): 32-bit option words, each followed by its
-- complement: +0x00 FLASH_OPTR, +0x08/+0x10 PCROP1A, +0x18 WRP1AR, +0x20 WRP1BR, +0x28/+0x30
-- PCROP1B, +0x70 FLASH_SECR. OPTR bits as on the G0: 7:0 RDP, 8 BOR_EN, 10:9 BORF_LEV, 12:11
-- BORR_LEV, 13-15 reset modes, 16-19 watchdogs, 22 RAM_PARITY_CHECK, 24 nBOOT_SEL, 25 nBOOT1,
-- 26 nBOOT0, 28:27 NRST_MODE, 29 IRHEN. WRPxyR: first page in bits 6:0, last in 22:16.
local o = require("dfu.util").require_script("stm32.ob_optr")
local f = o.field

local fields = o.optr(0, 4, "g0")
o.append(fields, {
  f("RAM_PARITY_CHECK", 0, 22, 1, "SRAM parity check", { values = { [0] = "on", [1] = "off" } }, 4),
  f("nBOOT_SEL", 0, 24, 1, "where BOOT0 comes from",
    { values = { [0] = "the BOOT0 pin", [1] = "the nBOOT0 option bit (the pin is ignored)" } }, 4),
  f("nBOOT1", 0, 25, 1, "with BOOT0 = 1: 1 boots the ROM bootloader, 0 the SRAM", {
    force = { [0] = "nBOOT1=0 makes BOOT0 = 1 boot the SRAM instead of the ROM bootloader" } }, 4),
  f("nBOOT0", 0, 26, 1, "BOOT0 when nBOOT_SEL = 1 (1: boot from flash)", {
    force = { [0] = "nBOOT0=0 (with nBOOT_SEL=1) boots the ROM bootloader at every reset" } }, 4),
  f("NRST_MODE", 0, 27, 2, "PF2-NRST pin mode (1 reset input, 2 GPIO, 3 bidirectional reset)", {
    force_unless = { [3] = true, [1] = true },
    force_text = "NRST_MODE other than 1 or 3 turns the reset pin into a GPIO: no external reset" }, 4),
  f("IRHEN", 0, 29, 1, "internal resets drive the NRST pin", { values = { [0] = "no", [1] = "yes" } }, 4),
})
local ranges = {
  o.wrp_area(fields, "WRP1A", 0x18, 7, 0x1C),
  o.wrp_area(fields, "WRP1B", 0x20, 7, 0x24),
}

return {
  name = "STM32C071",
  address = 0x1FFF7800,
  size = 128,
  source = "RM0490 option bytes (STM32C071)",
  fields = fields,
  wrp = { ranges = ranges, sectors = 64 },
}
