-- STM32 ROM bootloader families: how to recognise each one over DFU and what the flashing
-- code must know about it. Data only; lua/dfu/family.lua does the matching.
--
-- Recognition uses what every ST ROM reports in its alternate-setting strings: the address
-- of the "@Option Bytes" region is unique per family, and the flash layout confirms it.
-- program_unit: bytes the flash programs at once; images are padded to it with 0xFF and
-- each unit is written once per erase.
return {
  {
    name = "STM32H74x/75x",
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
    -- The ROM versions with leave/jump bugs are in scripts/stm32/jump_bugs.lua.
    known_bugs = {
      [0x90] = "jump fails when the application's initial SP > RAM end - 16 (AN2606 V9.0-V9.2)",
      [0x91] = "jump fails when the application's initial SP > RAM end - 16 (AN2606 V9.0-V9.2)",
      [0x92] = "jump fails when the application's initial SP > RAM end - 16 (AN2606 V9.0-V9.2)",
      [0xD2] = "the Go command (leave DFU) does not work (AN2606 V13.2)",
    },
  },
  {
    name = "STM32F40x/41x",
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFFC000, flash = 0x08000000 },
    -- AN2606 4.6: writes on F2/F4 must be 4-byte aligned with a length multiple of 4.
    program_unit = 4,
    id_address = 0x1FFF77DE,
    ram = { { 0x20000000, 0x20020000 } },
    rom_startup_ms = 74, usb_connect_ms = 250,
    -- "@Device Feature" byte: flash parallelism, 0x00 = x8 (ROM default), 0x03 = x32
    -- (x32 needs a 2.7-3.6 V supply).
    device_feature = { address = 0xFFFF0000, x8 = 0x00, x32 = 0x03 },
    known_bugs = {},
  },
}
