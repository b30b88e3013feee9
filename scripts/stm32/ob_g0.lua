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
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4, complement_at = 4 }

local fields = F.append(C.optr(f, 0, "g0"), {
  f("nSWAP_BANK", 0, 20, 1, "bank swap",
    { values = { [0] = "bank 2 at 0x08000000", [1] = "bank 1 at 0x08000000" },
      force = { [0] = "nSWAP_BANK=0 maps bank 2 at 0x08000000 after the reset" } }),
  f("DUAL_BANK", 0, 21, 1, "dual bank", { values = { [0] = "single bank", [1] = "dual bank" } }),
}, C.g0_boot(f))

return {
  name = "STM32G0B1/G0C1", address = 0x1FFF7800, size = 128,
  source = "RM0444 option bytes (STM32G0B1/G0C1)",
  fields = fields,
  wrp = { ranges = C.wrp_areas(f, fields, { 0x18, 0x20, 0x48, 0x50 }, 7, 128), sectors = 256 },
}
