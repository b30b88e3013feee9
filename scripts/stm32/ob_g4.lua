-- STM32G47x/48x option bytes over DfuSe: alt
-- "@Option Bytes /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e" (two zones: bank 1, bank 2; the
-- Zephyr WeAct G474 listing, web-stm32-updater issue 3). Each zone is read and written whole;
-- the raw block dfush shows is zone 1 followed by zone 2 (96 bytes).
--
-- Layout (RM0440 "Option bytes organization"): 32-bit words, each followed by its complement.
-- Zone 1: +0x00 FLASH_OPTR, +0x08/+0x10 PCROP1 start/end, +0x18 WRP1AR, +0x20 WRP1BR,
-- +0x28 SEC1R. Zone 2 (raw offset 48): +0x08/+0x10 PCROP2, +0x18 WRP2AR, +0x20 WRP2BR,
-- +0x28 SEC2R. OPTR bits: 7:0 RDP, 10:8 BOR_LEV, 12-14 nRST_STOP/STDBY/SHDW, 16-19 watchdogs,
-- 20 BFB2, 22 DBANK, 23 nBOOT1, 24 SRAM_PE, 25 CCMSRAM_RST, 26 nSWBOOT0, 27 nBOOT0, 29:28
-- NRST_MODE, 30 IRHEN. WRPxyR: first page in bits 6:0, last page in 22:16 (dual-bank mode:
-- 128 pages of 2 KiB per bank).
local o = require("dfu.util").require_script("stm32.ob_optr")
local f = o.field

local fields = o.optr(0, 4, "l4")
o.append(fields, {
  f("BFB2", 0, 20, 1, "dual-bank boot",
    { values = { [0] = "off", [1] = "on: boot from bank 2 when it holds an application" } }, 4),
  f("DBANK", 0, 22, 1, "flash organisation", {
    values = { [0] = "single bank, 4 KiB pages", [1] = "dual bank, 2 KiB pages" },
    force = { [0] = "DBANK=0 reorganises the flash into one bank of 4 KiB pages; do it on an erased flash" } }, 4),
  f("nBOOT1", 0, 23, 1, "with BOOT0 = 1: 1 boots the ROM bootloader, 0 the SRAM", {
    force = { [0] = "nBOOT1=0 makes BOOT0 = 1 boot the SRAM instead of the ROM bootloader" } }, 4),
  f("SRAM_PE", 0, 24, 1, "SRAM1/CCM SRAM parity check", { values = { [0] = "on", [1] = "off" } }, 4),
  f("CCMSRAM_RST", 0, 25, 1, "CCM SRAM erase on a system reset", { values = { [0] = "erased", [1] = "kept" } }, 4),
  f("nSWBOOT0", 0, 26, 1, "where BOOT0 comes from",
    { values = { [0] = "the nBOOT0 option bit", [1] = "the BOOT0 pin" },
      warn = { [0] = "nSWBOOT0=0: the BOOT0 pin is ignored; nBOOT0 decides" } }, 4),
  f("nBOOT0", 0, 27, 1, "BOOT0 when nSWBOOT0 = 0 (1: boot from flash)", {
    force = { [0] = "nBOOT0=0 (with nSWBOOT0=0) boots the ROM bootloader at every reset" } }, 4),
  f("NRST_MODE", 0, 28, 2, "PG10-NRST pin mode (1 reset input, 2 GPIO, 3 bidirectional reset)", {
    force_unless = { [3] = true, [1] = true },
    force_text = "NRST_MODE other than 1 or 3 turns the reset pin into a GPIO: no external reset" }, 4),
  f("IRHEN", 0, 30, 1, "internal resets drive the NRST pin", { values = { [0] = "no", [1] = "yes" } }, 4),
})
local ranges = {
  o.wrp_area(fields, "WRP1A", 0x18, 7, 0x1C),
  o.wrp_area(fields, "WRP1B", 0x20, 7, 0x24),
  o.wrp_area(fields, "WRP2A", 48 + 0x18, 7, 48 + 0x1C),
  o.wrp_area(fields, "WRP2B", 48 + 0x20, 7, 48 + 0x24),
}
ranges[3].first, ranges[4].first = 128, 128

return {
  name = "STM32G47x/48x",
  address = 0x1FFF7800,
  size = 96,
  zones = { { address = 0x1FFF7800, size = 48 }, { address = 0x1FFFF800, size = 48 } },
  source = "RM0440 option bytes (STM32G47x/48x)",
  fields = fields,
  wrp = { ranges = ranges, sectors = 256 },
}
