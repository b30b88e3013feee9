-- STM32L47x/48x option bytes over DfuSe: alt "@Option Bytes /0x1FFF7800/01*040 e/0x1FFFF800/
-- 01*040 e" [inferred: the single-bank L43x listing "/0x1FFF7800/01*040 e" plus bank 2's area
-- of RM0351, written like the G474's two zones]. Each zone is read and written whole; the raw
-- block dfush shows is zone 1 followed by zone 2 (80 bytes).
--
-- Layout (RM0351 "Option bytes organization"): 32-bit words, each followed by its complement.
-- Zone 1: +0x00 FLASH_OPTR, +0x08/+0x10 PCROP1 start/end, +0x18 WRP1AR, +0x20 WRP1BR.
-- Zone 2 (raw offset 40): +0x08/+0x10 PCROP2, +0x18 WRP2AR, +0x20 WRP2BR.
-- OPTR bits: 7:0 RDP, 10:8 BOR_LEV, 12-14 nRST_STOP/STDBY/SHDW, 16-19 watchdogs, 20 BFB2,
-- 21 DUALBANK, 23 nBOOT1, 24 SRAM2_PE, 25 SRAM2_RST. WRPxyR: first page in bits 7:0, last
-- page in 23:16 (256 pages of 2 KiB per bank).
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4, complement_at = 4 }

local fields = F.append(C.optr(f, 0, "l4"), {
  f("BFB2", 0, 20, 1, "dual-bank boot",
    { values = { [0] = "off", [1] = "on: boot from bank 2 when it holds an application" } }),
  f("DUALBANK", 0, 21, 1, "dual bank (on 512 KiB parts)", { values = { [0] = "single", [1] = "dual" } }),
  C.nboot1(f, 23),
  f("SRAM2_PE", 0, 24, 1, "SRAM2 parity check", F.PARITY),
  f("SRAM2_RST", 0, 25, 1, "SRAM2 erase on a system reset", F.ERASED_KEPT),
})

return {
  name = "STM32L47x/48x", address = 0x1FFF7800, size = 80,
  zones = { { address = 0x1FFF7800, size = 40 }, { address = 0x1FFFF800, size = 40 } },
  source = "RM0351 option bytes (STM32L47x/48x)",
  fields = fields,
  wrp = { ranges = C.wrp_areas(f, fields, { 0x18, 0x20, 40 + 0x18, 40 + 0x20 }, 8, 256), sectors = 512 },
}
