-- STM32G0B1/G0C1 option bytes over DfuSe. The ROM reports every alt setting as the flash
-- (AN2606 lists no such limitation; seen in dfu-util listings, ST community thread 839156); the
-- family descriptor gives alt 1 as "@Option Bytes /0x1FFF7800/01*128 e" [inferred: RM0444
-- option-byte area], one 128-byte block read and written whole.
--
-- Layout (RM0444 "Option bytes organization"): 32-bit option words, each followed by its
-- complement: +0x00 FLASH_OPTR, +0x08/+0x10 PCROP1A start/end, +0x18 WRP1AR, +0x20 WRP1BR,
-- +0x28/+0x30 PCROP1B, +0x38/+0x40 PCROP2A, +0x48 WRP2AR, +0x50 WRP2BR, +0x58/+0x60 PCROP2B,
-- +0x70 FLASH_SECR. OPTR bits: 7:0 RDP, 8 BOR_EN, 10:9 BORF_LEV, 12:11 BORR_LEV, 13-15
-- nRST_STOP/STDBY/SHDW, 16-19 IWDG_SW/STOP/STDBY, WWDG_SW, 20 nSWAP_BANK, 21 DUAL_BANK, 22
-- RAM_PARITY_CHECK, 24 nBOOT_SEL, 25 nBOOT1, 26 nBOOT0, 28:27 NRST_MODE, 29 IRHEN.
-- WRPxyR: first page in bits 6:0, last page in 22:16 (128 pages of 2 KiB per bank).
local o = require("dfu.util").require_script("stm32.ob_optr")
local f = o.field

local fields = o.optr(0, 4, "g0")
o.append(fields, {
  f("nSWAP_BANK", 0, 20, 1, "bank swap",
    { values = { [0] = "bank 2 at 0x08000000", [1] = "bank 1 at 0x08000000" },
      force = { [0] = "nSWAP_BANK=0 maps bank 2 at 0x08000000 after the reset" } }, 4),
  f("DUAL_BANK", 0, 21, 1, "dual bank", { values = { [0] = "single bank", [1] = "dual bank" } }, 4),
  f("RAM_PARITY_CHECK", 0, 22, 1, "SRAM parity check", { values = { [0] = "on", [1] = "off" } }, 4),
  f("nBOOT_SEL", 0, 24, 1, "where BOOT0 comes from",
    { values = { [0] = "the BOOT0 pin", [1] = "the nBOOT0 option bit (the pin is ignored)" } }, 4),
  f("nBOOT1", 0, 25, 1, "with BOOT0 = 1: 1 boots the ROM bootloader, 0 the SRAM", {
    force = { [0] = "nBOOT1=0 makes BOOT0 = 1 boot the SRAM instead of the ROM bootloader" } }, 4),
  f("nBOOT0", 0, 26, 1, "BOOT0 when nBOOT_SEL = 1 (1: boot from flash)", {
    force = { [0] = "nBOOT0=0 (with nBOOT_SEL=1) boots the ROM bootloader at every reset: the " ..
                    "application never starts on its own" } }, 4),
  f("NRST_MODE", 0, 27, 2, "PF2-NRST pin mode (1 reset input, 2 GPIO, 3 bidirectional reset)", {
    force_unless = { [3] = true, [1] = true },
    force_text = "NRST_MODE other than 1 or 3 turns the reset pin into a GPIO: no external reset" }, 4),
  f("IRHEN", 0, 29, 1, "internal resets drive the NRST pin", { values = { [0] = "no", [1] = "yes" } }, 4),
})
local ranges = {
  o.wrp_area(fields, "WRP1A", 0x18, 7, 0x1C),
  o.wrp_area(fields, "WRP1B", 0x20, 7, 0x24),
  o.wrp_area(fields, "WRP2A", 0x48, 7, 0x4C),
  o.wrp_area(fields, "WRP2B", 0x50, 7, 0x54),
}
ranges[3].first, ranges[4].first = 128, 128

return {
  name = "STM32G0B1/G0C1",
  address = 0x1FFF7800,
  size = 128,
  source = "RM0444 option bytes (STM32G0B1/G0C1)",
  fields = fields,
  wrp = { ranges = ranges, sectors = 256 },
}
