-- Fields that several STM32 option-byte codecs share, built with dfu.obfield's constructors:
-- the F4/F7 USER byte, the H7 FLASH_OPTSR register, FLASH_OPTR of the L4/G4/G0/C0/U5 and their
-- write-protection areas, and the boot-selection bits. Each function takes the codec's field
-- constructor f (it knows the width and where the complements sit). Not a codec.
local F = require "dfu.obfield"
local M = {}

-- BOR_LEV of the F4/F7 USER byte (RM0090, RM0383, RM0410); the F7's "off" row gives no range
local function bor_f4(off)
  return { values = {
    [0] = "level 3: reset below 2.70-3.60 V",
    [1] = "level 2: reset below 2.40-2.70 V",
    [2] = "level 1: reset below 2.10-2.40 V",
    [3] = off,
  } }
end
M.BOR_F4 = bor_f4("off: POR/PDR only (1.8-2.10 V)")
M.BOR_F7 = bor_f4("off: POR/PDR only")
-- BOR_LEV of the H7 FLASH_OPTSR (RM0433, RM0455)
M.BOR_H7 = { values = {
  [0] = "off: POR/PDR only",
  [1] = "level 1: reset below about 2.1 V",
  [2] = "level 2: reset below about 2.4 V",
  [3] = "level 3: reset below about 2.7 V",
} }

--- The F4/F7 USER byte (offset 0) and RDP (offset 1): dog names the watchdog bit 5 (WDG_SW on
--- the F4, IWDG_SW on the F7), bor is M.BOR_F4 or M.BOR_F7.
function M.f4_user(f, dog, bor)
  return {
    f("RDP", 1, 0, 8, F.RDP_HELP, F.RDP),
    f("nRST_STDBY", 0, 7, 1, "reset on entering Standby", F.reset_on("Standby")),
    f("nRST_STOP", 0, 6, 1, "reset on entering Stop", F.reset_on("Stop")),
    f(dog, 0, 5, 1, "independent watchdog mode", F.watchdog(dog)),
    f("BOR_LEV", 0, 2, 2, "brown-out reset threshold", bor),
  }
end

--- The H7 FLASH_OPTSR word (offset 0) bits common to the H74x/75x and the H7A3: domain is the
--- name of the core domain ("D1", "CD"); names maps the bits the two reference manuals name
--- differently (stop, standby: the IWDG freeze bits; swap: the bank-swap bit).
function M.h7_optsr(f, domain, names)
  return {
    f("RDP", 0, 8, 8, F.RDP_HELP, F.RDP),
    f("BOR_LEV", 0, 2, 2, "brown-out reset threshold", M.BOR_H7),
    f("IWDG1_SW", 0, 4, 1, "independent watchdog 1 mode", F.watchdog("IWDG1_SW", "IWDG1")),
    f("NRST_STOP_D1", 0, 6, 1, "reset when " .. domain .. " enters Stop", F.reset_on("Stop")),
    f("NRST_STBY_D1", 0, 7, 1, "reset when " .. domain .. " enters Standby", F.reset_on("Standby")),
    f(names.stop, 0, 17, 1, "IWDG1 counter in Stop", F.counter_in("Stop")),
    f(names.standby, 0, 18, 1, "IWDG1 counter in Standby", F.counter_in("Standby")),
    f("SECURITY", 0, 21, 1, "secure access mode", {
      values = { [0] = "disabled", [1] = "enabled" },
      force = { [1] = "SECURITY=1 enables the secure access mode; secure areas then run " ..
                      "at every reset and only an RDP regression clears them" } }),
    f("IO_HSLV", 0, 29, 1, "I/O high speed at low voltage",
      { values = { [0] = "off", [1] = "on (only for VDD below 2.7 V)" } }),
    f(names.swap, 0, 31, 1, "bank swapping", {
      values = { [0] = "bank 1 at 0x08000000", [1] = "banks swapped: bank 2 at 0x08000000" },
      warn = { [1] = names.swap .. "=1 maps bank 2 at 0x08000000 after the reset" } }),
    f("BOOT_ADD0", 36, 0, 16, "boot address with BOOT0 low, upper 16 bits (0x0800 = flash)",
      F.boot_address("BOOT_ADD0 away from flash (0x0800) or the ROM (0x1FF0) makes the chip boot " ..
                     "from that address with BOOT0 low", { 0x0800, 0x1FF0 })),
    f("BOOT_ADD1", 36, 16, 16, "boot address with BOOT0 high, upper 16 bits (0x1FF0 = ROM bootloader)",
      F.boot_address("BOOT_ADD1 away from 0x1FF0 means BOOT0 high no longer starts the ROM " ..
                     "bootloader: DFU is then only reachable through BOOT_ADD0 or a debugger", { 0x1FF0 })),
  }
end

--- The usual fields of FLASH_OPTR at offset. layout: "l4" (BOR_LEV 10:8, resets at 12-14) or
--- "g0" (BOR_EN 8, BORF 10:9, BORR 12:11, resets at 13-15).
function M.optr(f, offset, layout)
  local t = { f("RDP", offset, 0, 8, F.RDP_HELP, F.RDP) }
  local reset_at
  if layout == "g0" then
    F.append(t, {
      f("BOR_EN", offset, 8, 1, "brown-out reset", F.OFF_ON),
      f("BORF_LEV", offset, 9, 2, "brown-out falling threshold (0 lowest, 3 highest)"),
      f("BORR_LEV", offset, 11, 2, "brown-out rising threshold (0 lowest, 3 highest)"),
    })
    reset_at = 13
  else
    t[#t + 1] = f("BOR_LEV", offset, 8, 3, "brown-out reset threshold (0 about 1.7 V .. 4 about 2.8 V)")
    reset_at = 12
  end
  return F.append(t, {
    f("nRST_STOP", offset, reset_at, 1, "reset on entering Stop", F.reset_on("Stop")),
    f("nRST_STDBY", offset, reset_at + 1, 1, "reset on entering Standby", F.reset_on("Standby")),
    f("nRST_SHDW", offset, reset_at + 2, 1, "reset on entering Shutdown", F.reset_on("Shutdown")),
    f("IWDG_SW", offset, 16, 1, "independent watchdog mode", F.watchdog("IWDG_SW")),
    f("IWDG_STOP", offset, 17, 1, "IWDG counter in Stop", F.counter_in("Stop")),
    f("IWDG_STDBY", offset, 18, 1, "IWDG counter in Standby", F.counter_in("Standby")),
    f("WWDG_SW", offset, 19, 1, "window watchdog mode",
      { values = { [0] = "hardware window watchdog", [1] = "software window watchdog" } }),
  })
end

--- nBOOT1 at bit (with BOOT0 = 1: 1 boots the ROM, 0 the SRAM).
function M.nboot1(f, bit)
  return f("nBOOT1", 0, bit, 1, "with BOOT0 = 1: 1 boots the ROM bootloader, 0 the SRAM", {
    force = { [0] = "nBOOT1=0 makes BOOT0 = 1 boot the SRAM instead of the ROM bootloader" } })
end

--- The reset-pin fields: NRST_MODE at bit (pin: the package pin's name), IRHEN two bits above.
function M.nrst(f, bit, pin)
  return {
    f("NRST_MODE", 0, bit, 2, pin .. "-NRST pin mode (1 reset input, 2 GPIO, 3 bidirectional reset)",
      F.boot_address("NRST_MODE other than 1 or 3 turns the reset pin into a GPIO: no external reset",
                     { 3, 1 })),
    f("IRHEN", 0, bit + 2, 1, "internal resets drive the NRST pin", F.NO_YES),
  }
end

--- The G0/C0 FLASH_OPTR bits from 22: RAM_PARITY_CHECK (22), the boot selection nBOOT_SEL (24),
--- nBOOT1 (25), nBOOT0 (26), then NRST_MODE and IRHEN.
function M.g0_boot(f)
  return F.append({
    f("RAM_PARITY_CHECK", 0, 22, 1, "SRAM parity check", F.PARITY),
    f("nBOOT_SEL", 0, 24, 1, "where BOOT0 comes from",
      { values = { [0] = "the BOOT0 pin", [1] = "the nBOOT0 option bit (the pin is ignored)" } }),
    M.nboot1(f, 25),
    f("nBOOT0", 0, 26, 1, "BOOT0 when nBOOT_SEL = 1 (1: boot from flash)", {
      force = { [0] = "nBOOT0=0 (with nBOOT_SEL=1) boots the ROM bootloader at every reset: the " ..
                      "application never starts on its own" } }),
  }, M.nrst(f, 27, "PF2"))
end

--- G4/U5 boot selection: nSWBOOT0 (26) and nBOOT0 (27); boots: what nBOOT0 = 0 starts.
function M.swboot0(f, boots)
  return {
    f("nSWBOOT0", 0, 26, 1, "where BOOT0 comes from", {
      values = { [0] = "the nBOOT0 option bit", [1] = "the BOOT0 pin" },
      warn = { [0] = "nSWBOOT0=0: the BOOT0 pin is ignored; nBOOT0 decides" } }),
    f("nBOOT0", 0, 27, 1, "BOOT0 when nSWBOOT0 = 0 (1: boot from " .. boots[1] .. ")", {
      force = { [0] = "nBOOT0=0 (with nSWBOOT0=0) boots " .. boots[2] .. " at every reset" } }),
  }
end

--- The four write-protection areas WRP1A, WRP1B, WRP2A, WRP2B (two for a single-bank part):
--- offsets lists each area's register offset, width the page-number width, bank2 the first
--- page of bank 2, names the suffixes of the start/end fields. Appends the fields to list and
--- returns the ranges for the codec's wrp key.
function M.wrp_areas(f, list, offsets, width, bank2, names)
  local prefixes = { "WRP1A", "WRP1B", "WRP2A", "WRP2B" }
  local ranges = {}
  for i, offset in ipairs(offsets) do
    local p = prefixes[i]
    local s, e = p .. (names and names[1] or "_STRT"), p .. (names and names[2] or "_END")
    list[#list + 1] = f(s, offset, 0, width, "first page of the write-protected area " .. p ..
      " (no area while it is above the last)")
    list[#list + 1] = f(e, offset, 16, width, "last page of the write-protected area " .. p)
    ranges[i] = { start = s, stop = e, first = i > 2 and bank2 or nil }
  end
  return ranges
end

return M
