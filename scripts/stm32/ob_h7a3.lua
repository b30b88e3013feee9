-- STM32H7A3/B3/B0 option bytes over DfuSe: alt "@Option Bytes /0x5200201C/01*297 e" (dfu-util
-- listings of H7A3 boards), an image of the flash option *registers* from FLASH_OPTSR_CUR, read
-- and written whole.
--
-- Layout (RM0455 flash register map, offsets from 0x5200201C; the same order as the H74x):
--   +0  OPTSR_CUR   +4  OPTSR_PRG   (RDP bits 15:8 and the user options below)
--   +8  OPTCCR (reads 0)
--   +12/+16 PRAR_CUR1/PRG1, +20/+24 SCAR_CUR1/PRG1 (PCROP and secure areas of bank 1)
--   +28/+32 WPSGN_CUR1/PRG1: one bit per group of four 8 KiB sectors of bank 1 (0 = protected)
--   +36/+40 BOOT_CUR/PRG: BOOT_ADD0 bits 15:0, BOOT_ADD1 bits 31:16 (upper address bits)
--   +268/+276/+284 PRAR_CUR2, SCAR_CUR2, WPSGN_CUR2 (bank 2), each followed by its PRG copy
--   the other words: reserved or status, written back unchanged.
-- OPTSR bits: 3:2 BOR_LEV, 4 IWDG1_SW, 6 NRST_STOP_D1, 7 NRST_STBY_D1, 15:8 RDP,
-- 16 VDDMMC_HSLV, 17 IWDG_FZ_STOP, 18 IWDG_FZ_SDBY, 21 SECURITY, 29 IO_HSLV, 31 SWAP_BANK.
-- [inferred: the offsets of the bank-2 registers in the 297-byte image follow the register
-- map; read the block back before relying on them]
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4, mirror = 4 }

return {
  name = "STM32H7A3/B3/B0", address = 0x5200201C, size = 297,
  source = "RM0455 flash option registers (H7A3/H7B3/H7B0)",
  fields = F.append(C.h7_optsr(f, "CD", { stop = "IWDG_FZ_STOP", standby = "IWDG_FZ_SDBY",
                                         swap = "SWAP_BANK" }), {
    f("VDDMMC_HSLV", 0, 16, 1, "VDDMMC I/O high speed at low voltage", F.OFF_ON),
    f("WPSGN1", 28, 0, 32, "write protection of bank 1, one bit per 4 sectors (0 = protected)"),
    f("WPSGN2", 284, 0, 32, "write protection of bank 2, one bit per 4 sectors (0 = protected)"),
  }),
  wrp = { fields = { "WPSGN1", "WPSGN2" }, per_bit = 4, sectors = 256, active_low = true },
}
