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
local BOR = {
  [0] = "off: POR/PDR only",
  [1] = "level 1: reset below about 2.1 V",
  [2] = "level 2: reset below about 2.4 V",
  [3] = "level 3: reset below about 2.7 V",
}

local function f(name, offset, shift, bits, help, extra)
  local t = { name = name, offset = offset, width = 4, shift = shift, bits = bits, mirror = 4, help = help }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

return {
  name = "STM32H74x/75x",
  address = 0x5200201C,
  size = 128,
  size_default = true, -- the codec for a bare 128-byte block
  source = "RM0433 flash option registers (H742/H743/H753/H750)",
  fields = {
    f("RDP", 0, 8, 8, "read protection level (0xAA level 0, 0xCC level 2, other values level 1)",
      { kind = "rdp" }),
    f("BOR_LEV", 0, 2, 2, "brown-out reset threshold", { values = BOR }),
    f("IWDG1_SW", 0, 4, 1, "independent watchdog 1 mode", {
      values = { [0] = "hardware watchdog: IWDG1 runs from reset", [1] = "software watchdog" },
      warn = { [0] = "IWDG1_SW=0 starts the watchdog at every reset; an application that does " ..
                     "not refresh it will reset in a loop" } }),
    f("NRST_STOP_D1", 0, 6, 1, "reset when D1 enters Stop",
      { values = { [0] = "reset on Stop", [1] = "no reset on Stop" } }),
    f("NRST_STBY_D1", 0, 7, 1, "reset when D1 enters Standby",
      { values = { [0] = "reset on Standby", [1] = "no reset on Standby" } }),
    f("FZ_IWDG_STOP", 0, 17, 1, "IWDG1 counter in Stop",
      { values = { [0] = "frozen in Stop", [1] = "running in Stop" } }),
    f("FZ_IWDG_SDBY", 0, 18, 1, "IWDG1 counter in Standby",
      { values = { [0] = "frozen in Standby", [1] = "running in Standby" } }),
    f("ST_RAM_SIZE", 0, 19, 2, "ST secure RAM size",
      { values = { [0] = "2 KiB", [1] = "4 KiB", [2] = "8 KiB", [3] = "16 KiB" } }),
    f("SECURITY", 0, 21, 1, "secure access mode", {
      values = { [0] = "disabled", [1] = "enabled" },
      force = { [1] = "SECURITY=1 enables the secure access mode; secure areas then run " ..
                      "at every reset and only an RDP regression clears them" } }),
    f("IO_HSLV", 0, 29, 1, "I/O high speed at low voltage",
      { values = { [0] = "off", [1] = "on (only for VDD below 2.7 V)" } }),
    f("SWAP_BANK_OPT", 0, 31, 1, "bank swapping", {
      values = { [0] = "bank 1 at 0x08000000", [1] = "banks swapped: bank 2 at 0x08000000" },
      warn = { [1] = "SWAP_BANK_OPT=1 maps bank 2 at 0x08000000 after the reset" } }),
    f("PROT_AREA_START", 12, 0, 12, "first 256-byte block of the bank-1 PCROP area"),
    f("PROT_AREA_END", 12, 16, 12, "last 256-byte block of the bank-1 PCROP area"),
    f("DMEP", 12, 31, 1, "erase the PCROP area on an RDP regression",
      { values = { [0] = "kept", [1] = "erased" } }),
    f("SEC_AREA_START", 20, 0, 12, "first 256-byte block of the bank-1 secure area"),
    f("SEC_AREA_END", 20, 16, 12, "last 256-byte block of the bank-1 secure area"),
    f("DMES", 20, 31, 1, "erase the secure area on an RDP regression",
      { values = { [0] = "kept", [1] = "erased" } }),
    f("WRPSN", 28, 0, 8, "write protection of bank-1 sectors 0-7, one bit each (0 = protected)",
      { kind = "wrp" }),
    f("BOOT_ADD0", 36, 0, 16, "boot address with BOOT0 low, upper 16 bits (0x0800 = flash)", {
      force_unless = { [0x0800] = true, [0x1FF0] = true },
      force_text = "BOOT_ADD0 away from flash (0x0800) or the ROM (0x1FF0) makes the chip boot " ..
                   "from that address with BOOT0 low" }),
    f("BOOT_ADD1", 36, 16, 16, "boot address with BOOT0 high, upper 16 bits (0x1FF0 = ROM bootloader)", {
      force_unless = { [0x1FF0] = true },
      force_text = "BOOT_ADD1 away from 0x1FF0 means BOOT0 high no longer starts the ROM " ..
                   "bootloader: DFU is then only reachable through BOOT_ADD0 or a debugger" }),
  },
  -- Write protection: WRPSN, active low, bit i = sector i of bank 1 (the first 8 sectors of
  -- the flash layout); bank 2 is not in the image.
  wrp = { field = "WRPSN", sectors = 8, active_low = true, unknown_after = true },
  -- Areas: [base + START*256, base + (END+1)*256); none when START > END.
  areas = {
    { name = "PCROP", start = "PROT_AREA_START", stop = "PROT_AREA_END", base = 0x08000000, unit = 256 },
    { name = "secure", start = "SEC_AREA_START", stop = "SEC_AREA_END", base = 0x08000000, unit = 256 },
  },
}
