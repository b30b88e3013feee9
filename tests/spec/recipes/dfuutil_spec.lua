-- dfu-util command lines from public projects, run through the dfush-dfu-util link against the
-- simulators (DFUSH_DEVICE): memory, leave outcome and exit status. Each is cited by project
-- and file; file names are the projects' own, placed in a scratch directory, and the device's
-- own ids are used where a line names a board's path or serial number.
local helper = require "helper"
local support = require "recipes.support"
local json = require "dfu.json"
local dfile = require "dfu.dfuutil_file"

local LINK = helper.build_dir .. "/dfush-dfu-util"
local F4_CONFIG_DFU = helper.fixture("f4_config.dfu")

-- A scratch directory with files at the paths a command line names.
local function workdir(files)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
  for path, data in pairs(files or {}) do
    local full = dir .. "/" .. path
    assert(os.execute("mkdir -p " .. helper.shell_quote(full:match("^(.*)/[^/]*$"))))
    helper.writefile(full, data)
  end
  return dir
end

local function rmdir(dir)
  os.execute("rm -rf " .. helper.shell_quote(dir))
end

-- Run `dfu-util ARGS` through the link, the device named by DFUSH_DEVICE.
local function dfu_util(device, args, cwd)
  local argv = { LINK }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return helper.run(argv, { env = { DFUSH_DEVICE = device }, cwd = cwd })
end

-- A minimal application at base: initial SP, a Thumb reset vector inside it, then code.
local function app(base, size, sp)
  return string.pack("<I4I4", sp or 0x20010000, base + 9) .. string.rep("\0\xbf", ((size or 1024) - 8) // 2)
end

local function peek(profile, state, addr, len)
  local sim = support.sim_state(profile, state)
  local data = sim:read(addr, len)
  sim = nil -- luacheck: ignore 311
  collectgarbage()
  collectgarbage()
  return data
end

local function last_leave(events)
  local l = support.events_file(events, "leave")
  return l[#l]
end

local function ctrl_requests(events, req)
  local n = 0
  for _, e in ipairs(support.events_file(events, "ctrl")) do
    if e.req == req then n = n + 1 end
  end
  return n
end

local function fixture(name) return helper.readfile(helper.fixture(name)) end

-- the bytes of every segment of a .dfu fixture are in the device's flash
local function holds_dfu(profile, state, name)
  for _, s in ipairs(support.image_segments(helper.fixture(name))) do
    assert.are.equal(s.data, peek(profile, state, s.address, #s.data),
      string.format("%s at 0x%08X", name, s.address))
  end
end

describe("dfu-util command lines from public projects, through the dfush-dfu-util link", function()
  local dirs = {}
  local function dir(files)
    local d = workdir(files)
    dirs[#dirs + 1] = d
    return d
  end
  teardown(function()
    for _, d in ipairs(dirs) do rmdir(d) end
    helper.cleanup()
  end)

  it("has the link next to dfush", function()
    local f = io.open(LINK, "rb")
    assert.is_truthy(f, "missing " .. LINK)
    f:close()
  end)

  -- the seed (design.md 6): dfu-util could not start this H753 application
  for _, jump in ipairs({ "vector", "branch" }) do
    it("the seed: dfu-util -a 0 -s 0x08000000:leave -D app.bin, BOOT0 low, jump=" .. jump .. ": runs", function()
      local dev, state, events = support.simdev("stm32h753", "boot0=0,jump=" .. jump)
      local d = dir { ["app.bin"] = fixture("h7_seed.bin") }
      local r = dfu_util(dev, { "-a", "0", "-s", "0x08000000:leave", "-D", "app.bin" }, d)
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("File downloaded successfully", r.stdout, 1, true)
      assert.matches("Submitting leave request...", r.stdout, 1, true)
      assert.are.equal(fixture("h7_seed.bin"), peek("stm32h753", state, 0x08000000, 57024))
      assert.are.equal("app_running", last_leave(events).outcome)
    end)
  end

  it("the seed with BOOT0 high: the ROM comes back, exit 74 with the reason and what to do", function()
    local dev, state, events = support.simdev("stm32h753")
    local d = dir { ["app.bin"] = fixture("h7_seed.bin") }
    local r = dfu_util(dev, { "-a", "0", "-s", "0x08000000:leave", "-D", "app.bin" }, d)
    assert.are.equal(74, r.code)
    assert.matches("the application did not start", r.stderr, 1, true)
    assert.matches("BOOT0", r.stderr, 1, true)
    assert.are.equal(fixture("h7_seed.bin"), peek("stm32h753", state, 0x08000000, 57024))
    assert.are_not.equal("app_running", last_leave(events).outcome)
  end)

  -- qmk/qmk_firmware platforms/chibios/flash.mk (EXEC_DFU_UTIL waits for `dfu-util -l | grep -q "Found DFU"`)
  it("QMK flash.mk: dfu-util -l finds the bootloader", function()
    local r = dfu_util("sim:stm32f405", { "-l" })
    assert.are.equal(0, r.code)
    assert.matches("\nFound DFU: %[0483:df11%]", r.stdout)
  end)

  -- qmk/qmk_firmware platforms/chibios/bootloader.mk (stm32-dfu: DFU_ARGS ?= -d 0483:DF11 -a 0
  -- -s 0x08000000:leave) with flash.mk ($(DFU_UTIL) $(DFU_ARGS) -D $(BUILD_DIR)/$(TARGET).bin)
  it("QMK stm32-dfu: dfu-util -d 0483:DF11 -a 0 -s 0x08000000:leave -D .build/....bin", function()
    local dev, state, events = support.simdev("stm32f405")
    local fw = app(0x08000000, 4096)
    local d = dir { [".build/planck_rev6_default.bin"] = fw }
    local r = dfu_util(dev, { "-d", "0483:DF11", "-a", "0", "-s", "0x08000000:leave", "-D",
      ".build/planck_rev6_default.bin" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(fw, peek("stm32f405", state, 0x08000000, #fw))
    assert.are.equal("app_running", last_leave(events).outcome)
  end)

  -- Klipper3d/klipper scripts/flash_usb.py, flash_stm32f4 with FLASH_DEVICE=0483:df11:
  -- call_dfuutil(["-d", "," + device] + ["-R", "-a", "0", "-s", "0x%x:leave" % start], binfile)
  it("Klipper flash_usb.py: dfu-util -d ,0483:df11 -R -a 0 -s 0x8000000:leave -D out/klipper.bin", function()
    local dev, state, events = support.simdev("stm32h753", "boot0=0")
    local d = dir { ["out/klipper.bin"] = fixture("h7_seed.bin") }
    local r = dfu_util(dev, { "-d", ",0483:df11", "-R", "-a", "0", "-s", "0x8000000:leave", "-D",
      "out/klipper.bin" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(fixture("h7_seed.bin"), peek("stm32h753", state, 0x08000000, 57024))
    assert.are.equal("app_running", last_leave(events).outcome)
  end)

  -- Klipper3d/klipper scripts/flash_usb.py, flash_stm32f4 with a serial device: the board's USB
  -- bus path (translate_serial_to_usb_path) goes to -p; here the simulator's path
  it("Klipper flash_usb.py: dfu-util -p PATH -R -a 0 -s 0x8000000:leave -D out/klipper.bin", function()
    local dev, state, events = support.simdev("stm32h753", "boot0=0,jump=branch")
    local d = dir { ["out/klipper.bin"] = fixture("h7_seed.bin") }
    local r = dfu_util(dev, { "-p", "sim:stm32h753", "-R", "-a", "0", "-s", "0x8000000:leave", "-D",
      "out/klipper.bin" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(fixture("h7_seed.bin"), peek("stm32h753", state, 0x08000000, 57024))
    assert.are.equal("app_running", last_leave(events).outcome)
  end)

  -- micropython/micropython ports/stm32/Makefile, deploy with USE_PYDFU=0:
  -- $(DFU_UTIL) -a 0 -d $(BOOTLOADER_DFU_USB_VID):$(BOOTLOADER_DFU_USB_PID) -D $(BUILD)/firmware.dfu
  it("MicroPython deploy: dfu-util -a 0 -d 0x0483:0xDF11 -D build-PYBV10/firmware.dfu", function()
    local dev, state, events = support.simdev("stm32f405")
    local d = dir { ["build-PYBV10/firmware.dfu"] = fixture("f4_config.dfu") }
    local r = dfu_util(dev, { "-a", "0", "-d", "0x0483:0xDF11", "-D", "build-PYBV10/firmware.dfu" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("Done parsing DfuSe file", r.stdout, 1, true)
    holds_dfu("stm32f405", state, "f4_config.dfu")
    assert.is_nil(last_leave(events))
  end)

  -- betaflight/betaflight Makefile, dfu_flash: dfu-util -a 0 -D $(TARGET_DFU) -s :leave
  it("Betaflight dfu_flash: dfu-util -a 0 -D obj/betaflight_....dfu -s :leave", function()
    local dev, state, events = support.simdev("stm32f405")
    local d = dir { ["obj/betaflight_4.5.0_STM32F405.dfu"] = fixture("f4_config.dfu") }
    local r = dfu_util(dev, { "-a", "0", "-D", "obj/betaflight_4.5.0_STM32F405.dfu", "-s", ":leave" }, d)
    assert.are.equal(0, r.code, r.stderr)
    holds_dfu("stm32f405", state, "f4_config.dfu")
    local l = last_leave(events)
    assert.are.equal("app_running", l.outcome)
    assert.are.equal(0x08000000, l.address) -- the first element: where the download started
  end)

  -- rusefi/rusefi firmware/flash_dfu.sh: dfu-util --alt 0 --download deliver/rusefi.dfu -s :leave
  it("rusEFI flash_dfu.sh: dfu-util --alt 0 --download deliver/rusefi.dfu -s :leave", function()
    local dev, state, events = support.simdev("stm32h753", "boot0=0")
    local d = dir { ["deliver/rusefi.dfu"] = fixture("h7_seed.dfu") }
    local r = dfu_util(dev, { "--alt", "0", "--download", "deliver/rusefi.dfu", "-s", ":leave" }, d)
    assert.are.equal(0, r.code, r.stderr)
    holds_dfu("stm32h753", state, "h7_seed.dfu")
    assert.are.equal("app_running", last_leave(events).outcome)
  end)

  -- zephyrproject-rtos/zephyr scripts/west_commands/runners/dfu.py: find_device() runs
  -- [exe, '-d,{pid}', '-l'] and looks for ', alt={alt},' in the output
  it("Zephyr west flash find_device: dfu-util -d,0483:df11 -l lists ', alt=0,'", function()
    local r = dfu_util("sim:stm32h753", { "-d,0483:df11", "-l" })
    assert.are.equal(0, r.code)
    assert.matches(", alt=0,", r.stdout, 1, true)
  end)

  -- zephyrproject-rtos/zephyr scripts/west_commands/runners/dfu.py: do_run() with --dfuse and the
  -- default modifiers: [exe, '-d,{pid}', '-s', hex(address) + ':leave', '-a', alt, '-D', img]
  it("Zephyr west flash: dfu-util -d,0483:df11 -s 0x8000000:leave -a 0 -D build/zephyr/zephyr.bin", function()
    local dev, state, events = support.simdev("stm32h753", "boot0=0,jump=branch")
    local d = dir { ["build/zephyr/zephyr.bin"] = fixture("h7_seed.bin") }
    local r = dfu_util(dev, { "-d,0483:df11", "-s", "0x8000000:leave", "-a", "0", "-D", "build/zephyr/zephyr.bin" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(fixture("h7_seed.bin"), peek("stm32h753", state, 0x08000000, 57024))
    assert.are.equal("app_running", last_leave(events).outcome)
  end)

  -- platformio/platform-ststm32 builder/main.py, upload_protocol "dfu": dfu-suffix -v 0x0483
  -- -p 0xDF11 -d 0xffff -a firmware.bin, then dfu-util -d vid:pid,0x0483:0xDF11 -a 0
  -- -s 0x08000000:leave -D "${SOURCE.get_abspath()}"
  it("PlatformIO: dfu-util -d vid:pid,0x0483:0xDF11 -a 0 -s 0x08000000:leave -D /abs/firmware.bin (DFU suffix)",
    function()
      local dev, state, events = support.simdev("stm32f405")
      local fw = app(0x08000000, 2048)
      local d = dir { [".pio/build/black_f407vg/firmware.bin"] = dfile.add_suffix(fw, 0x0483, 0xDF11, 0xFFFF) }
      local r = dfu_util(dev, { "-d", "vid:pid,0x0483:0xDF11", "-a", "0", "-s", "0x08000000:leave", "-D",
        d .. "/.pio/build/black_f407vg/firmware.bin" })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("Match vendor ID from file: 0483", r.stdout, 1, true)
      assert.not_matches("suffix", r.stderr, 1, true)
      assert.are.equal(fw .. string.rep("\255", 16), peek("stm32f405", state, 0x08000000, #fw + 16)) -- no suffix
      assert.are.equal("app_running", last_leave(events).outcome)
    end)

  -- labgrid-project/labgrid labgrid/driver/dfudriver.py: list() runs [tool, "-p", path, "--list"]
  it("labgrid DFUDriver.list: dfu-util -p PATH --list", function()
    local r = dfu_util("sim:stm32f405", { "-p", "sim:stm32f405", "--list" })
    assert.are.equal(0, r.code)
    assert.matches('Found DFU: [0483:df11] ver=2200, devnum=0, cfg=1, intf=0, path="sim:stm32f405", alt=0, ' ..
      'name="@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", serial="3672315A3436"', r.stdout, 1, true)
    local other = dfu_util("sim:stm32f405", { "-p", "1-1", "--list" })
    assert.not_matches("Found", other.stdout, 1, true)
  end)

  -- labgrid dfudriver.py: download(altsetting, filename, reset=True, wait=True) runs
  -- [tool, "-p", path, "--wait", "--reset", "--alt", N, "--download", remote_file]
  it("labgrid DFUDriver.download(wait, reset): dfu-util -p PATH --wait --reset --alt 0 --download FILE", function()
    local dev, state, events = support.simdev("stm32f405")
    local d = dir { ["firmware.dfu"] = fixture("f4_config.dfu") }
    local r = dfu_util(dev, { "-p", "sim:stm32f405", "--wait", "--reset", "--alt", "0", "--download",
      "firmware.dfu" }, d)
    assert.are.equal(0, r.code, r.stderr)
    holds_dfu("stm32f405", state, "f4_config.dfu")
    assert.are.equal(1, #support.events_file(events, "bus_reset")) -- --reset was not swallowed by --wait
    assert.are.equal(0, ctrl_requests(events, "DETACH"))
  end)

  -- labgrid dfudriver.py: download(altsetting, filename) with the defaults:
  -- [tool, "-p", path, "--alt", N, "--download", remote_file]; a plain DFU 1.1 device takes a raw file
  it("labgrid DFUDriver.download: dfu-util -p PATH --alt 0 --download FILE (plain DFU 1.1)", function()
    local dev, state = support.simdev("dfu11")
    local fw = fixture("h7_seed.bin")
    local d = dir { ["image.bin"] = fw }
    local r = dfu_util(dev, { "-p", "sim:dfu11", "--alt", "0", "--download", "image.bin" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("Verified by upload", r.stdout, 1, true)
    assert.are.equal(fw, peek("dfu11", state, 0x08004000, #fw))
  end)

  it("labgrid DFUDriver.download on an STM32 ROM needs a .dfu file: a raw one is refused as dfu-util does (64)",
    function()
      local dev, _, events = support.simdev("stm32f405")
      local d = dir { ["image.bin"] = app(0x08000000) }
      local r = dfu_util(dev, { "-p", "sim:stm32f405", "--alt", "0", "--download", "image.bin" }, d)
      assert.are.equal(64, r.code)
      assert.matches("use the --dfuse-address option", r.stderr, 1, true)
      assert.are.equal(0, #support.events_file(events, "erase"))
    end)

  -- labgrid dfudriver.py: detach(altsetting) runs [tool, "-p", path, "--alt", N, "--detach"]
  it("labgrid DFUDriver.detach: dfu-util -p PATH --alt 0 --detach: exit 0, no DFU_DETACH to the ROM", function()
    local dev, _, events = support.simdev("stm32f405")
    local r = dfu_util(dev, { "-p", "sim:stm32f405", "--alt", "0", "--detach" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("DFU_DETACH is not sent", r.stderr, 1, true)
    assert.are.equal(0, ctrl_requests(events, "DETACH"))
  end)

  -- ArduPilot/ardupilot libraries/AP_HAL_F4Light/boards/f4light_Revolution_SD/support/UPLOAD-DFU.sh:
  -- dfu-util -a 0 --dfuse-address 0x08010000:leave -D ../../../../../ArduCopter/f4light_Revolution_SD.bin -R
  it("ArduPilot UPLOAD-DFU.sh: dfu-util -a 0 --dfuse-address 0x08010000:leave -D ../../../../../....bin -R",
    function()
      local dev, state, events = support.simdev("stm32f405")
      local fw = app(0x08010000, 8192)
      local d = dir { ["ArduCopter/f4light_Revolution_SD.bin"] = fw, ["a/b/c/d/e/.keep"] = "" }
      local r = dfu_util(dev, { "-a", "0", "--dfuse-address", "0x08010000:leave", "-D",
        "../../../../../ArduCopter/f4light_Revolution_SD.bin", "-R" }, d .. "/a/b/c/d/e")
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(fw, peek("stm32f405", state, 0x08010000, #fw))
      local l = last_leave(events)
      assert.are.equal("app_running", l.outcome)
      assert.are.equal(0x08010000 + 9, l.pc)
    end)

  -- ArduPilot/ardupilot libraries/AP_HAL_F4Light/boards/f4light_Revolution/support/UPLOAD-DFU.sh
  -- (the bare-metal line): dfu-util -a 0 --dfuse-address 0x08000000:unprotect:force -D .../f4light_Revolution.bin
  it("ArduPilot UPLOAD-DFU.sh: dfu-util -a 0 --dfuse-address 0x08000000:unprotect:force -D ...bin", function()
    local dev, state = support.simdev("stm32f405", "faults=rdp1")
    local d = dir { ["ArduCopter.build/f4light_Revolution.bin"] = app(0x08000000) }
    local r = dfu_util(dev, { "-a", "0", "--dfuse-address", "0x08000000:unprotect:force", "-D",
      d .. "/ArduCopter.build/f4light_Revolution.bin" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("Read protection removed", r.stdout, 1, true)
    assert.are.equal(string.rep("\255", 64), peek("stm32f405", state, 0x08000000, 64))
    local refused = dfu_util(dev, { "-a", "0", "-s", "0x08000000:unprotect", "-D",
      d .. "/ArduCopter.build/f4light_Revolution.bin" })
    assert.are.equal(64, refused.code)
  end)

  -- commaai/panda_jungle board/dfu_util_f4.sh: the application, then the bootstub with :leave
  it("panda_jungle dfu_util_f4.sh: -s 0x08004000 -D obj/panda_jungle.bin, then 0x08000000:leave bootstub", function()
    local dev, state, events = support.simdev("stm32f405")
    local main_fw, stub = app(0x08004000, 20000), app(0x08000000, 4096)
    local d = dir { ["obj/panda_jungle.bin"] = main_fw, ["obj/bootstub.panda_jungle.bin"] = stub }
    local r1 = dfu_util(dev, { "-d", "0483:df11", "-a", "0", "-s", "0x08004000", "-D", "obj/panda_jungle.bin" }, d)
    assert.are.equal(0, r1.code, r1.stderr)
    local r2 = dfu_util(dev, { "-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D",
      "obj/bootstub.panda_jungle.bin" }, d)
    assert.are.equal(0, r2.code, r2.stderr)
    assert.are.equal(stub, peek("stm32f405", state, 0x08000000, #stub))
    assert.are.equal(main_fw, peek("stm32f405", state, 0x08004000, #main_fw)) -- its sectors were not erased
    assert.are.equal("app_running", last_leave(events).outcome)
  end)

  -- blackmagic-debug/blackmagic src/platforms/common/blackpill-f4/README.md:
  -- ./dfu-util -a 0 --dfuse-address 0x08000000:leave -R -D blackmagic.bin
  it("Black Magic Probe (blackpill-f4): dfu-util -a 0 --dfuse-address 0x08000000:leave -R -D blackmagic.bin",
    function()
      local dev, state, events = support.simdev("stm32f405")
      local fw = app(0x08000000, 6000)
      local d = dir { ["blackmagic.bin"] = fw }
      local r = dfu_util(dev, { "-a", "0", "--dfuse-address", "0x08000000:leave", "-R", "-D", "blackmagic.bin" }, d)
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(fw, peek("stm32f405", state, 0x08000000, #fw))
      assert.are.equal("app_running", last_leave(events).outcome)
    end)

  -- unhuman-io/obot-controller freebot_g474/download_all.sh: the firmware, then a parameter
  -- block with :leave, both with -S (the board's serial; here the simulator's)
  it("obot-controller download_all.sh: -a0 -s 0x8000000 -D tmp.bin -S SERIAL, -a0 -s 0x8060000:leave -D ...",
    function()
      local dev, state, events = support.simdev("stm32h753", "boot0=0")
      local params = string.rep(string.pack("<f", 1.0), 64)
      local d = dir { ["tmp.bin"] = fixture("h7_seed.bin"), ["build/param/col2.bin"] = params }
      local serial = "336938773138"
      local r1 = dfu_util(dev, { "-a0", "-s", "0x8000000", "-D", "tmp.bin", "-S", serial }, d)
      assert.are.equal(0, r1.code, r1.stderr)
      local r2 = dfu_util(dev, { "-a0", "-s", "0x8060000:leave", "-D", "build/param/col2.bin", "-S", serial }, d)
      assert.are.equal(0, r2.code, r2.stderr)
      assert.are.equal(params, peek("stm32h753", state, 0x08060000, #params))
      local l = last_leave(events)
      assert.are.equal(0x08060000, l.address) -- the address as given: no vector table there, the ROM resets
      assert.are.equal("app_running", l.outcome)
      local other = dfu_util(dev, { "-a0", "-s", "0x8060000", "-D", "build/param/col2.bin", "-S", "206B3372484E" }, d)
      assert.are.equal(74, other.code)
      assert.matches("No DFU capable USB device available", other.stderr, 1, true)
    end)

  -- flipperdevices/flipperzero-firmware Makefile, flash: dfu-util -D firmware/.obj/f7/full.dfu -a 0
  it("Flipper Zero Makefile: dfu-util -D firmware/.obj/f7/full.dfu -a 0", function()
    local dev, state = support.simdev("stm32f405")
    local d = dir { ["firmware/.obj/f7/full.dfu"] = fixture("f4_config.dfu") }
    local r = dfu_util(dev, { "-D", "firmware/.obj/f7/full.dfu", "-a", "0" }, d)
    assert.are.equal(0, r.code, r.stderr)
    holds_dfu("stm32f405", state, "f4_config.dfu")
  end)

  -- todbot/blink1mk3 blink1mk3_fw_update/blink1mk3-update-windows.bat:
  -- .\tools\dfu-util.exe -v --device 27B8:01ED --download *dfu (a plain DFU file with its suffix)
  it("blink(1) mk3 update: dfu-util -v --device 27B8:01ED --download blink1mk3.dfu (plain DFU 1.1)", function()
    local dev, state = support.simdev("dfu11")
    local fw = fixture("h7_seed.bin")
    local d = dir { ["blink1mk3.dfu"] = dfile.add_suffix(fw, 0x27B8, 0x01ED) }
    local r = dfu_util(dev, { "-v", "--device", "27B8:01ED", "--download", "blink1mk3.dfu" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("DFU attributes: (0x07)", r.stdout, 1, true)
    assert.are.equal(fw, peek("dfu11", state, 0x08004000, #fw))
  end)
end)

describe("dfush dfu-util: dfu-util's output and exit statuses", function()
  teardown(helper.cleanup)

  it("-l prints dfu-util's lines, the last alt setting first", function()
    local r = dfu_util("sim:stm32h753", { "-l" })
    assert.are.equal(0, r.code)
    local found = {}
    for line in r.stdout:gmatch("[^\n]+") do
      if line:match("^Found") then found[#found + 1] = line end
    end
    assert.are.same({
      'Found DFU: [0483:df11] ver=0200, devnum=0, cfg=1, intf=0, path="sim:stm32h753", alt=1, ' ..
        'name="@Option Bytes   /0x5200201C/01*128 e", serial="336938773138"',
      'Found DFU: [0483:df11] ver=0200, devnum=0, cfg=1, intf=0, path="sim:stm32h753", alt=0, ' ..
        'name="@Internal Flash   /0x08000000/16*128Kg", serial="336938773138"',
    }, found)
    assert.matches("^dfu%-util 0%.11 ", r.stdout)
  end)

  it("-V prints the banner whose second word is the version", function()
    local r = dfu_util("sim:stm32h753", { "-V" })
    assert.are.equal(0, r.code)
    assert.are.equal("0.11", r.stdout:match("^dfu%-util (%S+)"))
  end)

  it("-d and -S filter by the simulator's own ids, with dfu-util's run-time/DFU-mode rules", function()
    local function count(args)
      local r = dfu_util("sim:stm32f405", args)
      local n = 0
      for _ in r.stdout:gmatch("\nFound DFU") do n = n + 1 end
      return n
    end
    assert.are.equal(4, count { "-l" })
    assert.are.equal(4, count { "-d", "1234:5678", "-l" }) -- no comma: DFU-mode devices match any id
    assert.are.equal(0, count { "-d", "1234:5678,1234:5678", "-l" })
    assert.are.equal(4, count { "-d", ",0483:df11", "-l" })
    assert.are.equal(0, count { "-d", "1d50:6018,:6017", "-l" })
    assert.are.equal(4, count { "-S", "3672315A3436", "-l" })
    assert.are.equal(0, count { "-S", "nope", "-l" })
    assert.are.equal(1, count { "-a", "1", "-l" })
    assert.are.equal(1, count { "-a", "@OTP Memory /0x1FFF7800/01*512 e,01*016 e", "-l" })
    assert.are.equal(4, count { "-n", "0", "-l" })
    assert.are.equal(0, count { "-n", "3", "-l" })
  end)

  it("several alt settings and no -a: more than one device, 74", function()
    local dev, _, events = support.simdev("stm32f405")
    local d = workdir { ["a.bin"] = app(0x08000000) }
    local r = dfu_util(dev, { "-s", "0x08000000", "-D", "a.bin" }, d)
    rmdir(d)
    assert.are.equal(74, r.code)
    assert.matches("More than one DFU capable USB device found", r.stderr, 1, true)
    assert.are.equal(0, #support.events_file(events, "erase"))
  end)

  it("usage errors exit 64 with getopt's and dfu-util's messages, before the device is touched", function()
    local cases = {
      { { "-x" }, "invalid option -- 'x'" },
      { { "--bogus" }, "unrecognized option '--bogus'" },
      { { "--de" }, "is ambiguous" },
      { { "-a" }, "option requires an argument -- 'a'" },
      { { "--list=1" }, "doesn't allow an argument" },
      { { "-l", "extra" }, "Unexpected argument: extra" },
      { { "-c", "x1", "-l" }, "Something went wrong with the argument of --cfg" },
      { {}, "You need to specify one of -D or -U" },
    }
    for _, c in ipairs(cases) do
      local r = dfu_util("sim:stm32h753", c[1])
      assert.are.equal(64, r.code, table.concat(c[1], " "))
      assert.matches(c[2], r.stderr, 1, true)
    end
  end)

  it("-h exits 0, --wait takes no argument, --no-verify is accepted", function()
    assert.are.equal(0, dfu_util("sim:stm32h753", { "-h" }).code)
    assert.are.equal(0, dfu_util("sim:stm32h753", { "--wait", "--list" }).code)
    local fw = app(0x08000000, 16384)
    local d = workdir { ["a.bin"] = fw }
    local uploads = {}
    for _, verify in ipairs({ true, false }) do
      local dev, state, events = support.simdev("stm32f405")
      local r = dfu_util(dev, { "-a", "0", "-s", "0x08000000", verify and "-v" or "--no-verify", "-D", "a.bin" }, d)
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(verify, r.stdout:find("Verify", 1, true) ~= nil)
      assert.are.equal(fw, peek("stm32f405", state, 0x08000000, #fw))
      uploads[verify] = ctrl_requests(events, "UPLOAD")
    end
    rmdir(d)
    assert.is_true(uploads[true] >= uploads[false] + 8) -- 16 KiB read back in 2 KiB blocks
  end)

  it("a missing file exits 66, an existing upload file 73, no device 74", function()
    assert.are.equal(66, dfu_util("sim:stm32h753", { "-a", "0", "-D", "/nonexistent/x.bin" }).code)
    local out = helper.tmpname()
    helper.writefile(out, "keep")
    local r = dfu_util("sim:stm32h753", { "-a", "0", "-s", "0x08000000:16", "-U", out })
    assert.are.equal(73, r.code)
    assert.matches("File exists", r.stderr, 1, true)
    assert.are.equal("keep", helper.readfile(out))
    local none = dfu_util("usb:1234:5678", { "-a", "0", "-s", "0x08000000", "-D", helper.fixture("h7_seed.bin") })
    assert.are.equal(74, none.code)
    assert.matches("No DFU capable USB device available", none.stderr, 1, true)
  end)

  it("an image outside the layout, or a .dfu given an address, exits 64 and nothing is erased", function()
    local dev, _, events = support.simdev("stm32h753")
    local r = dfu_util(dev, { "-a", "0", "-s", "0x07000000", "-D", helper.fixture("h7_seed.bin") })
    assert.are.equal(64, r.code)
    assert.matches("Last page at 0x0700debf is not writeable", r.stderr, 1, true)
    local r2 = dfu_util(dev, { "-a", "0", "-s", "0x08000000", "-D", F4_CONFIG_DFU })
    assert.are.equal(64, r2.code)
    assert.matches("This is a DfuSe file", r2.stderr, 1, true)
    assert.are.equal(0, #support.events_file(events, "erase"))
  end)

  it("a corrupt .dfu file exits 65 before anything is erased", function()
    local dev, _, events = support.simdev("stm32f405")
    local bad = helper.tmpname(".dfu")
    helper.writefile(bad, dfile.add_suffix(string.rep("x", 400), 0x0483, 0xdf11, 0xffff, 0x011A))
    local r = dfu_util(dev, { "-a", "0", "-D", bad })
    assert.are.equal(65, r.code)
    assert.matches("No valid DfuSe signature", r.stderr, 1, true)
    assert.are.equal(0, #support.events_file(events, "erase"))
  end)

  it("uploads with -s ADDRESS:LENGTH read the device's memory", function()
    local dev = support.simdev("stm32f405")
    local d = workdir { ["a.bin"] = fixture("f4_config.bin"):sub(1, 20000) }
    assert.are.equal(0, dfu_util(dev, { "-a", "0", "-s", "0x08000000", "-D", "a.bin" }, d).code)
    local r = dfu_util(dev, { "-a", "0", "-s", "0x08000000:20000", "-U", "up.bin" }, d)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(helper.readfile(d .. "/a.bin"), helper.readfile(d .. "/up.bin"))
    local r2 = dfu_util(dev, { "-a", "1", "-s", "0x08000000", "-U", "ob.bin" }, d)
    assert.are.equal(64, r2.code)
    assert.matches("Page at 0x08000000 is not readable", r2.stderr, 1, true)
    rmdir(d)
  end)

  it(":mass-erase:force erases the whole flash before the download; without force it is refused", function()
    local dev, state, events = support.simdev("stm32h753")
    local d = workdir { ["a.bin"] = app(0x08000000) }
    assert.are.equal(64, dfu_util(dev, { "-a", "0", "-s", "0x08000000:mass-erase", "-D", "a.bin" }, d).code)
    local r = dfu_util(dev, { "-a", "0", "-s", "0x08000000:mass-erase:force", "-D", "a.bin" }, d)
    rmdir(d)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(app(0x08000000), peek("stm32h753", state, 0x08000000, 1024))
    local erases = support.events_file(events, "erase")
    assert.are.equal(2 * 1024 * 1024, erases[1].size)
  end)

  it("dfush dfu-util runs the same front end in process (the recipe), -d before the command naming the device",
    function()
      local r = support.cli { "-d", "sim:stm32h753", "dfu-util", "-l" }
      assert.are.equal(0, r.code)
      assert.matches('path="sim:stm32h753", alt=0', r.stdout, 1, true)
      local h = support.cli { "help", "dfu-util" }
      assert.matches("What dfush does differently", h.stdout, 1, true)
    end)

  it("the JSON of dfush --json dfu-util carries the exit status", function()
    local r = support.cli { "--json", "-d", "sim:stm32h753", "dfu-util", "-a", "0", "-D", "/nonexistent" }
    assert.are.equal(66, r.code)
    local j = json.decode(r.stdout) -- the one object; dfu-util's text went to stderr
    assert.are.equal(66, j.exit_status)
    assert.is_false(j.ok)
    assert.matches("dfu-util 0.11", r.stderr, 1, true)
  end)
end)
