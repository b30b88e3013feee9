-- STM32 ROM bootloader families: how to recognise each one over DFU and what the flashing
-- code must know about it. Data only; lua/dfu/family.lua finds this file (a vendor folder on
-- the recipe path), documents the descriptor fields and does the matching.
--
-- Recognition uses what every ST ROM reports in its alternate-setting strings: the address
-- of the "@Option Bytes" region is unique per family, and the flash layout confirms it.
-- program_unit: bytes the flash programs at once; images are padded to it with 0xFF and
-- each unit is written once per erase.
-- The alt settings' names in ST's ROMs, which give each alt its role.
local ALTS = { flash = "Internal Flash", option_bytes = "Option Bytes", otp = "OTP Memory",
               feature = "Device Feature" }

return {
  {
    name = "STM32H74x/75x",
    alts = ALTS,
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x5200201C, flash = 0x08000000 },
    -- A 256-bit flash word is programmed once per erase; a second write to it is errPROG.
    program_unit = 32,
    -- Bootloader ID byte (AN2606 table "bootloader ID"), 0x90 = V9.0.
    id_address = 0x1FF1E7FE,
    -- RAM blocks an application stack may use, {start, end} with end one past the last byte.
    ram = { { 0x20000000, 0x20020000 }, { 0x24000000, 0x24080000 } },
    -- ROM start-up after reset and USB connection time (AN2606 tables "bootloader startup
    -- timings" and "USB connection timing"): how long a ROM that reset takes to re-enumerate.
    rom_startup_ms = 54, usb_connect_ms = 54,
    -- the option-byte codec (scripts/stm32/ob_h7.lua), used by dfu.ob
    option_bytes = "stm32.ob_h7",
    -- Sector erase and mass erase (RM0433 / DS12110 typical figures, protocol.md 7.3) and
    -- programming per byte (a 32-byte flash word in 16 us): for dfu.diff's choices.
    timings = { erase_ms = { [131072] = 1100 }, mass_erase_ms = 4400, program_us_per_byte = 0.5 },
    -- Known bugs by bootloader ID; dfu.leave plans around them. kind "sp_margin": a jump fails
    -- when the application's initial SP is above (end of its RAM block - margin), a leave
    -- that makes the ROM reset the chip is unaffected; "go_broken": no jump works, only the
    -- reset path starts the application; "side_effect": the application starts, with the
    -- quirk in text. summary is what dfush info shows.
    known_bugs = {
      {
        ids = { 0x90, 0x91, 0x92 }, version = "V9.0-V9.2", kind = "sp_margin", margin = 16,
        cite = "AN2606 H74x/75x V9.0-V9.2",
        summary = "jump fails when the application's initial SP > RAM end - 16 (AN2606 V9.0-V9.2)",
        text = "Jump issue on some application: application stack pointer must be lower than " ..
          "(RAM end @ - 16 bytes) to guarantee it is working",
        source = "AN2606, STM32H74xxx/75xxx bootloader versions table, known limitations of V9.0, V9.1 " ..
          "and V9.2",
      },
      {
        ids = { 0xD2 }, version = "V13.2", kind = "go_broken", cite = "AN2606 H74x/75x V13.2",
        summary = "the Go command (leave DFU) does not work (AN2606 V13.2)",
        text = "Go command is not working",
        source = "AN2606, STM32H74xxx/75xxx bootloader versions table, known limitations of V13.2 " ..
          "(rev Y; fixed in V13.3)",
      },
    },
  },
  {
    name = "STM32F40x/41x",
    alts = ALTS,
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFFC000, flash = 0x08000000 },
    -- AN2606 4.6: writes on F2/F4 must be 4-byte aligned with a length multiple of 4.
    program_unit = 4,
    id_address = 0x1FFF77DE,
    ram = { { 0x20000000, 0x20020000 } },
    rom_startup_ms = 74, usb_connect_ms = 250,
    -- "@Device Feature" byte: flash parallelism, 0x00 = x8 (ROM default), 0x03 = x32
    -- (x32 needs a 2.7-3.6 V supply).
    device_feature = { address = 0xFFFF0000, x8 = 0x00, x32 = 0x03 },
    option_bytes = "stm32.ob_f4",
    -- No ECC: bytes that read 0xFF can be programmed without an erase (RM0090 3.5.2), so a
    -- sector that only gains data is programmed, not erased (dfu.diff).
    program_over_erased = true,
    -- Sector erase at x8 parallelism, the ROM default (RM0090 / DS8626, protocol.md 7.3),
    -- mass erase, and byte programming.
    timings = { erase_ms = { [16384] = 400, [65536] = 1200, [131072] = 2000 }, mass_erase_ms = 16000,
                program_us_per_byte = 16 },
    known_bugs = {
      {
        ids = { 0x30, 0x31, 0x90 }, version = "V3.x, V9.0", kind = "side_effect", cite = "AN2606 F40x/41x",
        text = "the Go command resets RCC AHB1ENR to 0: CCM RAM is not enabled when the application starts",
        source = "AN2606, STM32F40xxx/41xxx bootloader versions tables, known limitations",
      },
    },
  },
}
