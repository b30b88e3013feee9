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
local function f(name, offset, shift, bits, help, extra)
  local t = { name = name, offset = offset, width = 4, shift = shift, bits = bits, mirror = 4, help = help }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local BOR = {
  [0] = "off: POR/PDR only",
  [1] = "level 1: reset below about 2.1 V",
  [2] = "level 2: reset below about 2.4 V",
  [3] = "level 3: reset below about 2.7 V",
}

return {
  name = "STM32H7A3/B3/B0",
  address = 0x5200201C,
  size = 297,
  source = "RM0455 flash option registers (H7A3/H7B3/H7B0)",
  fields = {
    f("RDP", 0, 8, 8, "read protection level (0xAA level 0, 0xCC level 2, other values level 1)",
      { kind = "rdp" }),
    f("BOR_LEV", 0, 2, 2, "brown-out reset threshold", { values = BOR }),
    f("IWDG1_SW", 0, 4, 1, "independent watchdog mode", {
      values = { [0] = "hardware watchdog: IWDG runs from reset", [1] = "software watchdog" },
      warn = { [0] = "IWDG1_SW=0 starts the watchdog at every reset; an application that does " ..
                     "not refresh it will reset in a loop" } }),
    f("NRST_STOP_D1", 0, 6, 1, "reset when CD enters Stop",
      { values = { [0] = "reset on Stop", [1] = "no reset on Stop" } }),
    f("NRST_STBY_D1", 0, 7, 1, "reset when CD enters Standby",
      { values = { [0] = "reset on Standby", [1] = "no reset on Standby" } }),
    f("VDDMMC_HSLV", 0, 16, 1, "VDDMMC I/O high speed at low voltage", { values = { [0] = "off", [1] = "on" } }),
    f("IWDG_FZ_STOP", 0, 17, 1, "IWDG counter in Stop",
      { values = { [0] = "frozen in Stop", [1] = "running in Stop" } }),
    f("IWDG_FZ_SDBY", 0, 18, 1, "IWDG counter in Standby",
      { values = { [0] = "frozen in Standby", [1] = "running in Standby" } }),
    f("SECURITY", 0, 21, 1, "secure access mode", {
      values = { [0] = "disabled", [1] = "enabled" },
      force = { [1] = "SECURITY=1 enables the secure access mode; only an RDP regression clears it" } }),
    f("IO_HSLV", 0, 29, 1, "I/O high speed at low voltage", { values = { [0] = "off", [1] = "on" } }),
    f("SWAP_BANK", 0, 31, 1, "bank swapping", {
      values = { [0] = "bank 1 at 0x08000000", [1] = "banks swapped: bank 2 at 0x08000000" },
      warn = { [1] = "SWAP_BANK=1 maps bank 2 at 0x08000000 after the reset" } }),
    f("WPSGN1", 28, 0, 32, "write protection of bank 1, one bit per 4 sectors (0 = protected)"),
    f("WPSGN2", 284, 0, 32, "write protection of bank 2, one bit per 4 sectors (0 = protected)"),
    f("BOOT_ADD0", 36, 0, 16, "boot address with BOOT0 low, upper 16 bits (0x0800 = flash)", {
      force_unless = { [0x0800] = true, [0x1FF0] = true },
      force_text = "BOOT_ADD0 away from flash (0x0800) or the ROM (0x1FF0) makes the chip boot " ..
                   "from that address with BOOT0 low" }),
    f("BOOT_ADD1", 36, 16, 16, "boot address with BOOT0 high, upper 16 bits (0x1FF0 = ROM bootloader)", {
      force_unless = { [0x1FF0] = true },
      force_text = "BOOT_ADD1 away from 0x1FF0 means BOOT0 high no longer starts the ROM " ..
                   "bootloader: DFU is then only reachable through BOOT_ADD0 or a debugger" }),
  },
  wrp = { fields = { "WPSGN1", "WPSGN2" }, per_bit = 4, sectors = 256, active_low = true },
}
