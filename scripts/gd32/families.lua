-- GigaDevice ROM bootloaders: how to recognise each one over DFU and what the flashing code
-- must know about it. Data only; lua/dfu/family.lua finds this file (a vendor folder on the
-- recipe path). Facts and sources: doc/families.md.
--
-- The GD32VF103 ROM (28e9:0189) is a DfuSe-like clone of ST's. dfu-util 0.11 (src/quirks.c)
-- and fwupd (plugins/dfu, flag "gd32") carry its quirks:
--   * the serial string descriptor holds bytes, not UTF-16, and is the part code ("3CBJ":
--     character 3 = flash size: 2/4/6/8/B/D = 8/16/32/64/128/256 pages of 1 KiB);
--   * the flash layout it reports is wrong on some builds ("512*002Kg" on the Longan Nano's);
--     dfush uses the layout the part code gives;
--   * it leaves on the zero-length DNLOAD, with or without a status stage, and a GETSTATUS
--     after it may fail (the C core's quirk table treats both as the expected end);
--   * it enumerates in dfuERROR (status errFIRMWARE): dfush clears it first;
--   * bare chips ("ver=0100") have no option-byte alt (gd32-dfu-utils issue 5).
-- The core is RISC-V: there is no Cortex-M vector table; code starts at an address itself.
local SIZE_CODES = { ["2"] = 8, ["4"] = 16, ["6"] = 32, ["8"] = 64, B = 128, D = 256 }

return {
  {
    name = "GD32VF103",
    match = { vid = 0x28e9, pid = 0x0189, dfuse = true },
    alts = { flash = "Internal Flash", option_bytes = "Option Bytes" },
    -- the flash layout from the part code in the serial string (dfu-util fixup_dfuse_layout,
    -- fwupd fu-dfu-target.c); an unknown code keeps what the ROM reports
    alt_layouts = function(info)
      local serial = info.serial or ""
      local pages = #serial >= 4 and serial:sub(4, 4) == "J" and SIZE_CODES[serial:sub(3, 3)]
      if not pages then return {} end
      return { [0] = ("@Internal Flash  /0x08000000/%d*001Kg"):format(pages) }
    end,
    program_unit = 4, -- 32-bit word programming (GD32VF103 user manual, FMC)
    ram = { { 0x20000000, 0x20008000 } }, -- 32 KiB (GD32VF103CB/RB; C8: 20 KiB)
    rom_startup_ms = 10, usb_connect_ms = 300, -- not published; inferred
    -- RISC-V: code starts at the leave address itself (no vector table, no stack word)
    boot = { vector_table = false },
    option_bytes = "gd32.ob_gd32vf103",
    known_bugs = {
      {
        ids = {}, kind = "side_effect", cite = "gd32-dfu-utils issue 5",
        text = "bare-chip ROMs (bcdDevice 0x0100) have no option-byte alt; their mass erase fails " ..
          "and a non-blank flash is written silently wrong (erase page by page)",
        source = "riscv-mcu/gd32-dfu-utils issue 5",
      },
    },
  },
}
