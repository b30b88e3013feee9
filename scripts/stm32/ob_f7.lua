-- STM32F76x/77x option bytes as the ROM bootloader exposes them over DfuSe: alt
-- "@Option Bytes /0x1FFF0000/01*032 e" [inferred from the F72x listing "01*048 e" and RM0410],
-- one 32-byte block read and written whole.
--
-- Layout (RM0410 "Option bytes organization", the FLASH_OPTCR/OPTCR1 values with their
-- complements; inferred byte placement, read the block back before relying on it):
--   byte 0   USER: bits 3:2 BOR_LEV, 4 WWDG_SW, 5 IWDG_SW, 6 nRST_STOP, 7 nRST_STDBY
--   byte 1   RDP                                    bytes 2-3  complements of 0-1
--   bytes 8-9   nWRP[11:0], bit 12 nDBOOT, 13 nDBANK, 14 IWDG_STDBY, 15 IWDG_STOP
--   bytes 10-11 complement
--   bytes 16-17 BOOT_ADD0, 24-25 BOOT_ADD1 (address bits 29:14; 0x0080 = flash on ITCM
--               0x00200000, 0x0040 = system memory 0x00100000), bytes 18-19, 26-27 complements
-- nDBANK = 0 splits the 2 MiB into two banks of 4x16K, 64K, 7x128K (sectors 0-11 and 12-23):
-- the ROM then reports a 24-sector layout. In dual-bank mode nWRP bit i protects sector i of
-- each bank [inferred]; dfush checks bank 1 only.
local F = require "dfu.obfield"
local C = require("dfu.util").require_script("stm32.ob_common")
local f = F.maker { width = 1, complement_at = 2 }
local g = F.maker { width = 2, complement_at = 2 }

return {
  name = "STM32F76x/77x", address = 0x1FFF0000, size = 32,
  source = "RM0410 option bytes (STM32F76x/77x)",
  fields = F.append(C.f4_user(f, "IWDG_SW", C.BOR_F7), {
    f("WWDG_SW", 0, 4, 1, "window watchdog mode",
      { values = { [0] = "hardware window watchdog", [1] = "software window watchdog" } }),
    g("nWRP", 8, 0, 12, "write protection, one bit per sector 0-11 (0 = protected)", F.WRP),
    g("nDBOOT", 8, 12, 1, "dual-bank boot",
      { values = { [0] = "dual-bank boot on", [1] = "dual-bank boot off" } }),
    g("nDBANK", 8, 13, 1, "flash organisation", {
      values = { [0] = "dual bank: 2 x (4x16K, 64K, 7x128K)", [1] = "single bank: 4x32K, 128K, 7x256K" },
      force = { [0] = "nDBANK=0 reorganises the flash into two banks (24 sectors, bank 2 at 0x08100000); " ..
                      "do it on an erased flash",
                [1] = "nDBANK=1 reorganises the flash into one bank of 12 sectors; do it on an erased flash" } }),
    g("IWDG_STDBY", 8, 14, 1, "IWDG counter in Standby", F.counter_in("Standby")),
    g("IWDG_STOP", 8, 15, 1, "IWDG counter in Stop", F.counter_in("Stop")),
    g("BOOT_ADD0", 16, 0, 16, "boot address with BOOT0 low, address bits 29:14 (0x0080 = flash)",
      F.boot_address("BOOT_ADD0 away from the flash (0x0080, 0x2000) or the ROM (0x0040) makes the chip " ..
                     "boot from that address with BOOT0 low", { 0x0080, 0x2000, 0x0040 })),
    g("BOOT_ADD1", 24, 0, 16, "boot address with BOOT0 high, address bits 29:14 (0x0040 = ROM bootloader)",
      F.boot_address("BOOT_ADD1 away from 0x0040 means BOOT0 high no longer starts the ROM bootloader: " ..
                     "DFU is then only reachable through BOOT_ADD0 or a debugger", { 0x0040 })),
  }),
  wrp = { field = "nWRP", sectors = 12, active_low = true, unknown_after = true },
}
