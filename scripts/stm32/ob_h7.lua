-- STM32H74x/75x option bytes as the ROM bootloader exposes them over DfuSe: alt
-- "@Option Bytes /0x5200201C/01*128 e", a 128-byte image of the flash option *registers*
-- starting at FLASH_OPTSR_CUR, read and written whole.
--
-- Layout: 32-bit little-endian words at these byte offsets (RM0433 flash register map,
-- bank-1 registers from 0x5200201C; the same offsets the simulator uses in core/sim/sim_ob.c):
--   +0  OPTSR_CUR   +4  OPTSR_PRG     option status: RDP bits 15:8 and the user options below
--   +8  OPTCCR      option clear-control (write-only, reads 0)
--   +12 PRAR_CUR1   +16 PRAR_PRG1     PCROP area of bank 1
--   +20 SCAR_CUR1   +24 SCAR_PRG1     secure area of bank 1
--   +28 WPSN_CUR1   +32 WPSN_PRG1     write protection of bank-1 sectors 0-7 (1 = not protected)
--   +36 BOOT_CURR   +40 BOOT_PRGR     BOOT_ADD0 bits 15:0, BOOT_ADD1 bits 31:16
--   +44..+127  other registers (CRC, ECC, ...) and reserved words: written back unchanged.
-- OPTSR bits (RM0433 FLASH_OPTSR_CUR): 3:2 BOR_LEV, 4 IWDG1_SW, 6 NRST_STOP_D1,
-- 7 NRST_STBY_D1, 15:8 RDP, 17 FZ_IWDG_STOP, 18 FZ_IWDG_SDBY, 19-20 ST_RAM_SIZE,
-- 21 SECURITY, 29 IO_HSLV, 31 SWAP_BANK_OPT; bit 0 OPT_BUSY, bit 30 OPTCHANGEERR and the
-- reserved bits are status/reserved and are preserved.
-- Inferred: which of the 128 bytes the ROM maps to which register is not documented by ST
-- (protocol.md 6); the offsets above follow the register order from OPTSR_CUR, and the bank-2
-- registers (0x52002100+, WPSN/PRAR/SCAR of bank 2) are not in this image, so the write
-- protection of sectors 8-15 cannot be read or changed here.
-- Every field is kept in both copies: a change writes the CUR and the PRG word alike (the
-- ROM programs from PRG; the simulator takes the PRG word when it changed).
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 4, mirror = 4 }
local KEPT_ERASED = { values = { [0] = "kept", [1] = "erased" } }

return {
  name = "STM32H74x/75x", address = 0x5200201C, size = 128,
  size_default = true, -- the codec for a bare 128-byte block
  source = "RM0433 flash option registers (H742/H743/H753/H750)",
  fields = F.append(C.h7_optsr(f, "D1", { stop = "FZ_IWDG_STOP", standby = "FZ_IWDG_SDBY",
                                         swap = "SWAP_BANK_OPT" }), {
    f("ST_RAM_SIZE", 0, 19, 2, "ST secure RAM size",
      { values = { [0] = "2 KiB", [1] = "4 KiB", [2] = "8 KiB", [3] = "16 KiB" } }),
    f("PROT_AREA_START", 12, 0, 12, "first 256-byte block of the bank-1 PCROP area"),
    f("PROT_AREA_END", 12, 16, 12, "last 256-byte block of the bank-1 PCROP area"),
    f("DMEP", 12, 31, 1, "erase the PCROP area on an RDP regression", KEPT_ERASED),
    f("SEC_AREA_START", 20, 0, 12, "first 256-byte block of the bank-1 secure area"),
    f("SEC_AREA_END", 20, 16, 12, "last 256-byte block of the bank-1 secure area"),
    f("DMES", 20, 31, 1, "erase the secure area on an RDP regression", KEPT_ERASED),
    f("WRPSN", 28, 0, 8, "write protection of bank-1 sectors 0-7, one bit each (0 = protected)", F.WRP),
  }),
  -- Write protection: WRPSN, active low, bit i = sector i of bank 1 (the first 8 sectors of
  -- the flash layout); bank 2 is not in the image.
  wrp = { field = "WRPSN", sectors = 8, active_low = true, unknown_after = true },
  -- Areas: [base + START*256, base + (END+1)*256); none when START > END.
  areas = {
    { name = "PCROP", start = "PROT_AREA_START", stop = "PROT_AREA_END", base = 0x08000000, unit = 256 },
    { name = "secure", start = "SEC_AREA_START", stop = "SEC_AREA_END", base = 0x08000000, unit = 256 },
  },
}
