-- STM32 ROM bootloader versions whose "Go"/leave jump is known to fail, per family (the key is
-- the family name of scripts/stm32/families.lua). Data only; lua/dfu/leave.lua applies it.
--
-- Each entry: ids = bootloader ID bytes (read from the family's id_address), version = the
-- AN2606 name, cite = a short citation for messages, kind = how the jump fails, text = ST's
-- words, source = where ST says so.
--   kind "sp_margin": the jump fails when the application's initial SP is above
--                     (end of its RAM block - margin); a leave that makes the ROM reset the
--                     chip is unaffected.
--   kind "go_broken": no jump works; only the reset path can start the application.
--   kind "side_effect": the application starts, with the quirk in text (informational).
return {
  ["STM32H74x/75x"] = {
    {
      ids = { 0x90, 0x91, 0x92 }, version = "V9.0-V9.2", kind = "sp_margin", margin = 16,
      cite = "AN2606 H74x/75x V9.0-V9.2",
      text = "Jump issue on some application: application stack pointer must be lower than " ..
        "(RAM end @ - 16 bytes) to guarantee it is working",
      source = "AN2606, STM32H74xxx/75xxx bootloader versions table, known limitations of V9.0, V9.1 and V9.2",
    },
    {
      ids = { 0xD2 }, version = "V13.2", kind = "go_broken", cite = "AN2606 H74x/75x V13.2",
      text = "Go command is not working",
      source = "AN2606, STM32H74xxx/75xxx bootloader versions table, known limitations of V13.2 " ..
        "(rev Y; fixed in V13.3)",
    },
  },
  ["STM32F40x/41x"] = {
    {
      ids = { 0x30, 0x31, 0x90 }, version = "V3.x, V9.0", kind = "side_effect", cite = "AN2606 F40x/41x",
      text = "the Go command resets RCC AHB1ENR to 0: CCM RAM is not enabled when the application starts",
      source = "AN2606, STM32F40xxx/41xxx bootloader versions tables, known limitations",
    },
  },
}
