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
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4, complement_at = 4 }

local fields = F.append(C.optr(f, 0, "l4"), {
  f("BFB2", 0, 20, 1, "dual-bank boot",
    { values = { [0] = "off", [1] = "on: boot from bank 2 when it holds an application" } }),
  f("DBANK", 0, 22, 1, "flash organisation", {
    values = { [0] = "single bank, 4 KiB pages", [1] = "dual bank, 2 KiB pages" },
    force = { [0] = "DBANK=0 reorganises the flash into one bank of 4 KiB pages; do it on an erased flash" } }),
  C.nboot1(f, 23),
  f("SRAM_PE", 0, 24, 1, "SRAM1/CCM SRAM parity check", F.PARITY),
  f("CCMSRAM_RST", 0, 25, 1, "CCM SRAM erase on a system reset", F.ERASED_KEPT),
}, C.swboot0(f, { "flash", "the ROM bootloader" }), C.nrst(f, 28, "PG10"))

return {
  name = "STM32G47x/48x", address = 0x1FFF7800, size = 96,
  zones = { { address = 0x1FFF7800, size = 48 }, { address = 0x1FFFF800, size = 48 } },
  source = "RM0440 option bytes (STM32G47x/48x)",
  fields = fields,
  wrp = { ranges = C.wrp_areas(f, fields, { 0x18, 0x20, 48 + 0x18, 48 + 0x20 }, 7, 128), sectors = 256 },
}
