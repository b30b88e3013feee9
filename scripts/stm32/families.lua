-- STM32 ROM bootloader families: how to recognise each one over DFU and what the flashing
-- code must know about it. Data only; lua/dfu/family.lua finds this file (a vendor folder on
-- the recipe path), documents the descriptor fields and does the matching.
--
-- A descriptor function runs without globals (the file is loaded with an empty environment):
-- it may use string methods and its arguments only.
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
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x5200201C, option_bytes_size = 128,
              flash = 0x08000000 },
    -- A 256-bit flash word is programmed once per erase; a second write to it is errPROG.
    program_unit = 32,
    -- ROM V9.1 leaves a bank-2 sector erase in dfuDNBUSY (AN2606 "Erase on bank2 not working as
    -- expected"); STM32CubeProgrammer ends it with two CLRSTATUS and takes the erase as done
    -- (betaflight-configurator PR 1861).
    erase_busy_recovery = "clrstatus",
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
        ids = { 0x91 }, version = "V9.1", kind = "side_effect", cite = "AN2606 H74x/75x V9.1",
        summary = "a bank-2 sector erase can stay in dfuDNBUSY; dfush ends it with two CLRSTATUS " ..
          "(AN2606 V9.1)",
        text = "Erase on bank2 not working as expected",
        source = "AN2606, STM32H74xxx/75xxx bootloader versions table, known limitations of V9.1 " ..
          "(fixed in V9.2); the recovery: betaflight-configurator PR 1861",
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
    name = "STM32F401/F411",
    alts = ALTS,
    -- the F40x option-byte address; 512 KiB or less of flash (AN2606: F401xB/C/D/E, F411xC/E)
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFFC000, flash = 0x08000000,
              flash_size = { nil, 0x80000 } },
    -- AN2606 Table 7: F4 writes 4-byte aligned; bytes (x8) until Device Feature selects x32
    program_unit = 4,
    id_address = 0x1FFF76DE, -- AN2606 Table 3: F401 0xD1, F411 0xD0
    ram = { { 0x20000000, 0x20020000 } }, -- F411: 128 KiB (F401xB/C 64 KiB, xD/E 96 KiB)
    rom_startup_ms = 75, usb_connect_ms = 250, -- AN2606 Tables 227, 229 (F411)
    device_feature = { address = 0xFFFF0000, x8 = 0x00, x32 = 0x03 },
    option_bytes = "stm32.ob_f411",
    known_bugs = {
      {
        ids = { 0xD0, 0xD1 }, version = "V13.0", kind = "side_effect", cite = "AN2606 F411/F401",
        text = "the Go command resets RCC AHB1ENR to 0 (CCM RAM, where present, is not enabled)",
        source = "AN2606, STM32F411xx / STM32F401 bootloader versions tables",
      },
      {
        ids = { 0xD0 }, version = "V13.0", kind = "side_effect", cite = "dfu-util tickets 140, 141",
        summary = "the ROM stalls DNLOADs at random points of a download (LIBUSB_ERROR_PIPE in " ..
          "dfu-util); dfush clears the error and resends the block",
        text = "dfuse_download: libusb_control_transfer returned -9 (LIBUSB_ERROR_PIPE)",
        source = "dfu-util tickets 140 and 141 (\"a bug in the built-in bootloader\"), qmk_firmware " ..
          "issues 17890 and 17576; the ROM also enumerates in dfuERROR/errFIRMWARE",
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
  {
    name = "STM32H7A3/B3/B0",
    alts = ALTS,
    -- the H7 option-register image, 297 bytes on the H7A3/B3 (listings of H7A3 boards)
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x5200201C, option_bytes_size = 297,
              flash = 0x08000000 },
    -- a 128-bit flash word (16 bytes) is programmed once per erase (RM0455); AN2606 Table 7
    -- asks 8-byte alignment of H7 writes
    program_unit = 16,
    id_address = 0x1FF13FFE, -- AN2606 Table 3: 0x92
    -- AN2606 Table 137: the ROM uses 16 KiB at 0x24000000 (Table 226 lists other ranges)
    ram = { { 0x20000000, 0x20020000 }, { 0x24000000, 0x24100000 }, { 0x30000000, 0x30020000 } },
    rom_startup_ms = 545, usb_connect_ms = 54, -- AN2606 Tables 227, 229
    option_bytes = "stm32.ob_h7a3",
    -- the H7 recovery of an erase left in dfuDNBUSY (ST's tools, betaflight PR 1861)
    erase_busy_recovery = "clrstatus",
    known_bugs = {
      {
        ids = { 0x90 }, version = "V9.0", kind = "side_effect", cite = "AN2606 H7A3 V9.0",
        summary = "the ROM reports 2 KiB flash sectors instead of 8 KiB and has no OTP alt " ..
          "(dfush uses the real layout)",
        text = "String returned describing the flash memory size when using USB is wrong " ..
          "(expected value 256 x 8 KB, but returns 256 x 2 KB)",
        source = "AN2606, STM32H7A3xx/7B3xx/7B0xx bootloader versions table, V9.0",
      },
      {
        ids = { 0x91 }, version = "V9.1", kind = "side_effect", cite = "AN2606 H7A3 V9.1",
        summary = "with RDP level 1 and USB plugged the chip can crash-loop in the ROM after a reset",
        text = "Crash loop when booting on the bootloader, setting RDP to Level1, doing a reset or " ..
          "power on/off and the USB cable is plugged",
        source = "AN2606, STM32H7A3xx/7B3xx/7B0xx bootloader versions table, V9.1",
      },
    },
    -- V9.0 reports 256*02Kg for 256 sectors of 8 KiB: use the real layout
    alt_layouts = function(_, alts)
      for i = 1, #alts do
        if alts[i].alt == 0 and (alts[i].name or ""):find("/0x08000000/256%*02Kg") then
          return { [0] = "@Internal Flash   /0x08000000/256*08Kg" }
        end
      end
      return {}
    end,
  },
  {
    name = "STM32F07x",
    alts = ALTS,
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFFF800, flash = 0x08000000 },
    -- RM0091: the flash programs half-words; AN2606 Table 7: F0 writes 4-byte aligned
    program_unit = 4,
    id_address = 0x1FFFF6A6, -- AN2606 Table 3: F071/072 0xA1
    ram = { { 0x20000000, 0x20004000 } }, -- 16 KiB; the ROM uses 6 KiB (AN2606 Table 41)
    rom_startup_ms = 1, usb_connect_ms = 350, -- AN2606 Table 227 (0.058 ms); Table 229 gives F04x 350
    option_bytes = "stm32.ob_f0",
    known_bugs = {
      {
        ids = { 0xA1 }, version = "V10.1", kind = "side_effect", cite = "AN2606 F071/072 V10.1",
        summary = "DFU fails on some high-speed host controllers (a USB hub helps)",
        text = "USB bootloader fails on some machines using a high speed controller ... Workarounds: " ..
          "Add USB HUB between host and the MCU",
        source = "AN2606, STM32F071xx/072xx bootloader versions table, V10.1",
      },
      {
        ids = { 0xA1 }, version = "V10.1", kind = "side_effect", cite = "stm32duino PR 710",
        text = "Cortex-M0 has no VTOR: after a jump from the ROM the system memory stays mapped at " ..
          "0x00000000, so the application must remap the flash (SYSCFG MEM_MODE) before enabling " ..
          "interrupts",
        source = "stm32duino/Arduino_Core_STM32 PR 710; ST community \"STM32 F0 - leaving dfu mode\"",
      },
    },
  },
  {
    name = "STM32F76x/77x",
    alts = ALTS,
    -- 2 MiB: one bank of 12 sectors, or (nDBANK = 0) two of 12
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFF0000, flash = 0x08000000,
              flash_size = 0x200000 },
    program_unit = 8, -- AN2606 Table 7: F7 writes 8-byte aligned
    id_address = 0x1FF0EDBE, -- AN2606 Table 3: 0x93
    ram = { { 0x20000000, 0x20080000 } }, -- DTCM + SRAM1 + SRAM2; the ROM uses 16 KiB
    rom_startup_ms = 17, usb_connect_ms = 230, -- F74x values (AN2606 Tables 227, 229; no F76x row)
    device_feature = { address = 0xFFFF0000, x8 = 0x00, x32 = 0x03 },
    option_bytes = "stm32.ob_f7",
    -- V9.3 in dual-bank mode: "Erasing a sector from bank2 with index (i) leads to erase
    -- sector (i+4)" (AN2606): ask for sector i-4 to erase sector i; 12-15 cannot be reached
    erase_shift = { sectors = 24, from = 12, by = 4, cite = "AN2606 STM32F76xxx/77xxx V9.3" },
    known_bugs = {
      {
        ids = { 0x93 }, version = "V9.3", kind = "side_effect", cite = "AN2606 F76x/77x V9.3",
        summary = "dual-bank mode: erasing bank-2 sector i erases sector i+4 (dfush asks for i-4; " ..
          "sectors 12-15 need a mass erase)",
        text = "Bank2 sector erase issue when using USB interface. Erasing a sector from bank2 with " ..
          "index (i) leads to erase sector (i+4)",
        source = "AN2606, STM32F76xxx/77xxx bootloader V9.x versions table, V9.3",
      },
      {
        ids = { 0x93 }, version = "V9.3", kind = "side_effect", cite = "AN2606 F76x/77x V9.3",
        text = "dual bank boot (nDBANK=nDBOOT=0): only BOOT_ADD0 is considered, whatever BOOT0",
        source = "AN2606, STM32F76xxx/77xxx bootloader V9.x versions table, V9.3",
      },
    },
  },
  {
    name = "STM32G0B1/G0C1",
    alts = ALTS,
    -- the ROM reports every alt as the flash (ST community 839156, Klipper/BIQU listings)
    match = { vid = 0x0483, pid = 0xdf11, bcd_device = 0x0200, flash = 0x08000000,
              alt_names = { [1] = "^@Internal Flash" } },
    alt_layouts = {
      [1] = "@Option Bytes   /0x1FFF7800/01*128 e", -- RM0444 option-byte area [inferred size]
      [2] = "@OTP Memory   /0x1FFF7000/01*1024 e",   -- RM0444 OTP area
    },
    program_unit = 8, -- RM0444: 64-bit double words with ECC (AN2606 Table 7 asks 4-byte alignment)
    id_address = 0x1FFF9FFE, -- AN2606 Table 3: 0x92
    ram = { { 0x20000000, 0x20024000 } }, -- 144 KiB (AN2606 Table 226 lists up to 0x20020000)
    rom_startup_ms = 1, usb_connect_ms = 300, -- AN2606 Tables 227 (0.39 ms), 229
    option_bytes = "stm32.ob_g0",
    known_bugs = {
      {
        ids = { 0x92 }, version = "V9.2", kind = "side_effect", cite = "AN2606 G0B1/G0C1 V9.2",
        summary = "the Go command (leave) disables the debug port (FLASH_ACR DBG_SWEN)",
        text = "When jumping to an application, the Go command disables the debug access port by " ..
          "writing a wrong value on the FLASH_ACR register (bit DBG_SWEN)",
        source = "AN2606, STM32G0B1xx/0C1xx bootloader versions table, V9.2",
      },
      {
        ids = { 0x92 }, version = "V9.2", kind = "side_effect", cite = "AN2606 G0B1/G0C1 V9.2",
        text = "Empty check flag cleared by error on the bootloader startup phase: on an empty flash " ..
          "a reset boots the empty flash and crashes (power-cycle or an option-byte change recovers)",
        source = "AN2606, STM32G0B1xx/0C1xx bootloader versions table, V9.2",
      },
    },
  },
  {
    name = "STM32G47x/48x",
    alts = ALTS,
    -- two option-byte zones of 48 bytes (Zephyr WeAct G474 listing, web-stm32-updater issue 3)
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFF7800, option_bytes_size = 48,
              flash = 0x08000000 },
    program_unit = 8, -- RM0440: 64-bit double words with ECC; AN2606 Table 7: 8
    id_address = 0x1FFF6FFE, -- AN2606 Table 3: 0xD5
    ram = { { 0x20000000, 0x20020000 }, { 0x10000000, 0x10008000 } }, -- SRAM1/2 + CCM alias, CCM
    rom_startup_ms = 1, usb_connect_ms = 300, -- AN2606 Tables 227 (0.39 ms), 229
    option_bytes = "stm32.ob_g4",
    known_bugs = {
      {
        ids = { 0xD3 }, version = "V13.3", kind = "side_effect", cite = "AN2606 G47x V13.3",
        text = "Boot from bank2 is not working",
        source = "AN2606, STM32G47xxx/48xxx bootloader version table, V13.3",
      },
      {
        ids = { 0xD4 }, version = "V13.4", kind = "side_effect", cite = "AN2606 G47x V13.4",
        text = "CCSRAM/ENGI not supported",
        source = "AN2606, STM32G47xxx/48xxx bootloader version table, V13.4",
      },
    },
  },
  {
    name = "STM32L47x/48x",
    alts = ALTS,
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFF7800, option_bytes_size = 40,
              flash = 0x08000000, flash_size = 0x100000 },
    program_unit = 8, -- RM0351: 64-bit double words with ECC; AN2606 Table 7: 8
    id_address = 0x1FFF6FFE, -- AN2606 Table 3: 0x92 (V9.x), 0xA3 (V10.x); UM1879: 0x90
    -- SRAM1 (96 KiB) with SRAM2's alias behind it at 0x20018000, and SRAM2 at 0x10000000 (RM0351)
    ram = { { 0x20000000, 0x20020000 }, { 0x10000000, 0x10008000 } },
    rom_startup_ms = 56, usb_connect_ms = 300, -- AN2606 Tables 227 (with LSE), 229
    option_bytes = "stm32.ob_l4",
    known_bugs = {
      {
        ids = { 0x90, 0x92, 0xA1, 0xA2, 0xA3 }, version = "V9.0-V10.3", kind = "side_effect",
        cite = "AN2606 L47x", summary = "a DFU write longer than 256 bytes must be a multiple of 8 " ..
          "bytes (dfush pads to 8)",
        text = "For memory write operations using DFU interface: If the buffer size is larger than " ..
          "256 bytes and not multiple of 8 bytes, the write memory operation result is corrupted",
        source = "AN2606, STM32L47xxx/48xxx bootloader V9.x and V10.x versions tables",
      },
      {
        ids = { 0x90 }, version = "V9.0", kind = "side_effect", cite = "UM1879",
        summary = "writes to RAM over DFU are corrupted (parts up to week 22 of 2015)",
        text = "RAM data get corrupted when written via USART/SPI/I2C/USB interface",
        source = "UM1879 (32L476GDISCOVERY) bootloader limitations; AN2606 L47x V9.0 \"Write in " ..
          "SRAM is corrupted\"",
      },
      {
        ids = { 0xFF }, version = "unknown", kind = "side_effect", cite = "unverified",
        summary = "bootloader ID reads 0xFF: an early or unknown ROM; assume the V9.0 limitations",
        text = "early L4 ROMs were reported to read 0xFF as their bootloader version",
        source = "reported for early STM32L4 ROMs; no public source found (doc/families.md)",
      },
    },
  },
  {
    name = "STM32U575/585",
    alts = ALTS,
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x40022040, flash = 0x08000000 },
    program_unit = 16, -- RM0456: 128-bit quad-words with ECC; AN2606 Table 7: 16
    id_address = 0x0BF99EFE, -- AN2606 Table 3: 0x93 (Table 226: 0x92; both versions exist)
    ram = { { 0x20000000, 0x200C0000 }, { 0x28000000, 0x28004000 } }, -- SRAM1-3, SRAM4
    rom_startup_ms = 1, usb_connect_ms = 300, -- AN2606 Tables 227 (0.39 ms), 229
    option_bytes = "stm32.ob_u5",
    known_bugs = {
      {
        ids = { 0x92 }, version = "V9.2", kind = "side_effect", cite = "AN2606 U575/585 V9.2",
        summary = "RDP and secure option bytes cannot be changed in one write",
        text = "Not possible to change RDP level and secure option bytes at the same time",
        source = "AN2606, STM32U575xx/85xx bootloader versions table, V9.2",
      },
      {
        ids = { 0x92, 0x93 }, version = "V9.x", kind = "side_effect", cite = "AN2606 boot model V3_1",
        text = "with TrustZone on (TZEN=1) a jump from the bootloader to an application using " ..
          "other resources does not work",
        source = "AN2606, boot model V3_1 (STM32U575/585 follows it)",
      },
    },
  },
  {
    name = "STM32C071",
    alts = ALTS,
    match = { vid = 0x0483, pid = 0xdf11, option_bytes = 0x1FFF7800, option_bytes_size = 128,
              flash = 0x08000000, flash_size = 0x20000 },
    program_unit = 8, -- RM0490: 64-bit double words with ECC; AN2606 Table 7: C0 8
    id_address = 0x1FFF67FE, -- AN2606 Table 3: 0xD1
    ram = { { 0x20000000, 0x20006000 } }, -- 24 KiB; the ROM uses 8.75 KiB (AN2606 Table 16)
    rom_startup_ms = 3, usb_connect_ms = 552, -- AN2606 Tables 227, 229
    option_bytes = "stm32.ob_c0",
    known_bugs = {
      {
        ids = { 0xD1 }, version = "V13.1", kind = "side_effect", cite = "LibUsbDfu issue 13",
        summary = "refuses the leave unless SET_ADDRESS precedes it (dfush always sends it)",
        text = "the manifest (zero-length DNLOAD) after a download fails unless a SET_ADDRESS " ..
          "0x08000000 is sent first, as STM32CubeProgrammer does",
        source = "IntergatedCircuits/LibUsbDfu issue 13 (STM32C071G8U6)",
      },
      {
        ids = { 0xD1 }, version = "V13.1", kind = "side_effect", cite = "AN2606 C071 V13.1",
        text = "Empty check flag cleared by error on the startup phase: on an empty flash a reset " ..
          "boots the empty flash and crashes",
        source = "AN2606, STM32C071xx bootloader versions table, V13.1",
      },
    },
  },
}
