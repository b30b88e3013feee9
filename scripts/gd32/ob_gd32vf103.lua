-- GigaDevice GD32VF103 option bytes over DfuSe: alt "@Option Bytes /0x1FFFF800/01*016 g" (the
-- Longan Nano ROM, gd32-dfu-utils issue 5; the bare-chip ROM has no option-byte alt), one
-- 16-byte block read and written whole.
--
-- Layout (GD32VF103 user manual, FMC option bytes; the STM32F1 arrangement): eight bytes, each
-- followed by its complement:
--   byte 0 SPC: 0xA5 no security protection, any other value protection   byte 1 SPC_N
--   byte 2 USER: bit 0 nWDG_HW, 1 nRST_DPSLP, 2 nRST_STDBY                byte 3 USER_N
--   bytes 4, 6 DATA0, DATA1                                               bytes 5, 7 complements
--   bytes 8, 10, 12, 14 WP0-3: one bit per 4 pages of 1 KiB, 0 = protected
-- The GD32VF103 has one protection level. 0xCC is treated like every other protected value,
-- except that dfush refuses it as it refuses level 2 on ST parts.
local F = require "dfu.obfield"
local f = F.maker { width = 1, complement_at = 1 }

return {
  name = "GD32VF103", address = 0x1FFFF800, size = 16,
  source = "GD32VF103 user manual, option bytes (FMC)",
  rdp = { level0 = 0xA5, names = { [0xBB] = "level 1: security protection (no flash access over " ..
    "DFU or debug; removing it erases the flash)" } },
  fields = F.append({
    f("RDP", 0, 0, 8, "security protection SPC (0xA5 off, other values on)", F.RDP),
    f("nWDG_HW", 2, 0, 1, "free watchdog mode", F.watchdog("nWDG_HW", "FWDGT")),
    f("nRST_DPSLP", 2, 1, 1, "reset on entering Deep-sleep", F.reset_on("Deep-sleep")),
    f("nRST_STDBY", 2, 2, 1, "reset on entering Standby", F.reset_on("Standby")),
  }, F.data_and_wrp(f, "WP", 4)),
  wrp = { fields = { "WP0", "WP1", "WP2", "WP3" }, per_bit = 4, sectors = 128, active_low = true },
}
