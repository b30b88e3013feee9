-- Every path to a device action passes the same guards: option bytes written through flash
-- (any alt selector, any file format, the Lua API) get the ob set rules; OTP needs
-- --write-otp; --full only on the flash alt; a protection check that cannot read stops the
-- job; bad numbers are usage errors, not tracebacks.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

local F4_OB = 0x1FFFC000

-- The F405 option-byte block as the simulator starts (RDP 0xAA), with RDP set to rdp.
local function f4_block(rdp, user)
  local b = { 0xEC, 0xAA, 0x13, 0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF }
  b[2], b[4] = rdp, (~rdp) & 0xFF
  if user then b[1], b[3] = user, (~user) & 0xFF end
  return string.char(table.unpack(b))
end

local function bin(data)
  return helper.writefile(helper.tmpname(".bin"), data)
end

-- An image file of data at address in the given format (.hex through dfush image convert).
local function image_file(data, address, ext)
  local b = bin(data)
  if ext == ".bin" then return b .. "@" .. string.format("0x%08X", address) end
  local out = helper.tmpname(ext)
  local r = support.spawn({ "image", "convert", b .. "@" .. string.format("0x%08X", address), out })
  assert(r.code == 0, r.stderr)
  return out
end

-- A DfuSe file with one element per {address, alt, data} (dfuse-pack, from dfu-util).
local function dfuse_file(elems)
  local args = { "dfuse-pack" }
  for _, e in ipairs(elems) do
    args[#args + 1] = "-b"
    args[#args + 1] = string.format("0x%08X@%d:%s", e[1], e[2], bin(e[3]))
  end
  args[#args + 1] = "-D"
  args[#args + 1] = "0x0483:0xdf11"
  local out = helper.tmpname(".dfu")
  args[#args + 1] = out
  local r = helper.run(args)
  if r.code ~= 0 then return nil end
  return out
end

-- n bytes at addr of a persisted simulator; the simulator (and its state-file lock) is let go
-- before the next dfush process needs the file.
local function memory(profile, state, addr, n)
  local sim = support.sim_state(profile, state)
  local data = sim:read(addr, n)
  sim = nil -- luacheck: ignore 311
  collectgarbage()
  collectgarbage()
  return data
end

local function option_bytes(profile, state)
  if profile == "stm32f405" then return memory(profile, state, F4_OB, 16) end
  return memory(profile, state, 0x5200201C, 128)
end

-- Requests that write (DNLOAD with data) or erase, from an events= log.
local function writes(events)
  local n = 0
  for _, e in ipairs(support.events_file(events)) do
    if e.ev == "program" or e.ev == "erase" or e.ev == "ob_write" or e.ev == "mass_erase" then n = n + 1 end
  end
  return n
end

describe("option bytes through flash", function()
  after_each(helper.cleanup)
  if not support.have_binary() then
    it("needs the dfush binary", function() pending("needs the dfush binary") end)
    return
  end

  -- every way flash can reach the F405 option-byte alt with a block that sets RDP level 2
  local lock = f4_block(0xCC)
  local cases = {
    { "--alt 1", function() return { image_file(lock, F4_OB, ".bin"), "--alt", "1" } end },
    { "--alt Option", function() return { image_file(lock, F4_OB, ".bin"), "--alt", "Option" } end },
    { "alt=1 in the device string", function() return { image_file(lock, F4_OB, ".bin") } end, "alt=1" },
    { "an Intel HEX file", function() return { image_file(lock, F4_OB, ".hex"), "--alt", "1" } end },
    { "an S-record file", function() return { image_file(lock, F4_OB, ".s19"), "--alt", "1" } end },
    { "a .dfu target for alt 1", function()
      local f = dfuse_file({ { F4_OB, 1, lock } })
      return f and { f }
    end },
    { "a .dfu with the application and an alt-1 target", function()
      local f = dfuse_file({ { 0x08000000, 0, string.rep("\x5A", 4096) }, { F4_OB, 1, lock } })
      return f and { f }
    end },
  }
  for _, c in ipairs(cases) do
    it("RDP level 2 is refused with exit 2 and nothing sent: " .. c[1], function()
      local args = c[2]()
      if not args then
        pending("dfuse-pack is not installed")
        return
      end
      local dev, state, events = support.simdev("stm32f405", c[3])
      local before = option_bytes("stm32f405", state)
      local argv = { "-d", dev, "flash" }
      for _, a in ipairs(args) do argv[#argv + 1] = a end
      local r = support.spawn(argv)
      assert.are.equal(2, r.code, r.stderr)
      assert.matches("level 2", r.stderr, 1, true)
      assert.matches("--permanently-lock-device", r.stderr, 1, true)
      assert.are.equal(0, writes(events), "no erase or write reached the device")
      assert.are.equal(before, option_bytes("stm32f405", state))
    end)
  end

  it("--permanently-lock-device lets RDP level 2 through (the device is gone for good)", function()
    local dev, state = support.simdev("stm32f405")
    local r = support.spawn({ "-d", dev, "flash", image_file(lock, F4_OB, ".bin"), "--alt", "1",
      "--permanently-lock-device" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(0xCC, option_bytes("stm32f405", state):byte(2))
  end)

  it("RDP level 1 needs --force; with it the block is written, the device resets and reads back", function()
    local dev, state, events = support.simdev("stm32f405")
    local file = image_file(f4_block(0xBB), F4_OB, ".bin")
    local r = support.spawn({ "-d", dev, "flash", file, "--alt", "1" })
    assert.are.equal(2, r.code, r.stderr)
    assert.matches("--force", r.stderr, 1, true)
    assert.are.equal(0, writes(events))
    r = support.spawn({ "--json", "-d", dev, "flash", file, "--alt", "1", "--force" })
    assert.are.equal(0, r.code, r.stderr)
    local out = helper.json_decode(r.stdout)
    assert.is_true(out.ok)
    assert.are.equal("written", out.option_bytes.state)
    assert.is_true(out.option_bytes.verified)
    assert.matches("RDP 0xAA -> 0xBB", r.stderr, 1, true)
    assert.are.equal(0xBB, option_bytes("stm32f405", state):byte(2))
  end)

  it("a harmless change goes through and is shown; a partial block keeps the other bytes", function()
    local dev, state = support.simdev("stm32f405")
    -- only byte 0 (the user options): BOR_LEV 3 -> 1
    local r = support.spawn({ "-d", dev, "flash", image_file("\xE4", F4_OB, ".bin"), "--alt", "1" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("BOR_LEV 3 -> 1", r.stderr, 1, true)
    local ob = option_bytes("stm32f405", state)
    assert.are.equal(0xE4, ob:byte(1))
    assert.are.equal(0xAA, ob:byte(2))
    assert.are.equal(0x0F, ob:byte(10))
  end)

  it("the H753's 128-byte block gets the same rule", function()
    local dev, state, events = support.simdev("stm32h753")
    local old = option_bytes("stm32h753", state)
    local w = string.unpack("<I4", old, 1)
    w = (w & ~0xFF00) | (0xCC << 8)
    local new = string.pack("<I4<I4", w, w) .. old:sub(9)
    local r = support.spawn({ "-d", dev, "flash", image_file(new, 0x5200201C, ".bin"), "--alt", "1" })
    assert.are.equal(2, r.code, r.stderr)
    assert.matches("level 2", r.stderr, 1, true)
    assert.are.equal(0, writes(events))
  end)

  it("the Lua API refuses it too: dev:flash and dfu.flash.run give nil, msg, USAGE", function()
    local dev, s = helper.device("stm32f405")
    local img = dfu.image.new()
    assert(img:add(F4_OB, lock))
    local ok, msg, code = dev:flash(img, { alt = 1 })
    assert.is_nil(ok)
    assert.are.equal("USAGE", code, msg)
    assert.matches("level 2", msg, 1, true)
    assert.are.equal(0xAA, s:read(F4_OB, 16):byte(2))
    dev:close()
  end)

  it("--full on the option-byte alt is a usage error and erases nothing", function()
    local dev, _, events = support.simdev("stm32f405")
    local r = support.spawn({ "-d", dev, "flash", image_file(f4_block(0xAA), F4_OB, ".bin"), "--alt", "1", "--full" })
    assert.are.equal(2, r.code, r.stderr)
    assert.matches("--full", r.stderr, 1, true)
    assert.are.equal(0, writes(events))
  end)

  it("--full with the flash alt reports every erased byte", function()
    local dev = support.simdev("stm32f405")
    local r = support.spawn({ "--json", "-d", dev, "flash", image_file(string.rep("\1", 64), 0x08000000, ".bin"),
      "--full", "--no-verify" })
    assert.are.equal(0, r.code, r.stderr)
    local out = helper.json_decode(r.stdout)
    local total = 0
    for _, e in ipairs(out.erased) do total = total + e.size end
    assert.are.equal(1024 * 1024, total)
  end)
end)

describe("OTP through flash", function()
  after_each(helper.cleanup)
  if not support.have_binary() then return end

  it("needs --write-otp, and bytes already programmed cannot change", function()
    local dev, state, events = support.simdev("stm32f405")
    local file = image_file("SERIAL-0001\0\0\0\0\0", 0x1FFF7800, ".bin")
    local r = support.spawn({ "-d", dev, "flash", file, "--alt", "OTP" })
    assert.are.equal(2, r.code, r.stderr)
    assert.matches("--write-otp", r.stderr, 1, true)
    assert.are.equal(0, writes(events))
    r = support.spawn({ "-d", dev, "flash", file, "--alt", "OTP", "--write-otp" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("SERIAL-0001", memory("stm32f405", state, 0x1FFF7800, 11))
    -- the same bytes again are fine; different ones are refused before anything is sent
    r = support.spawn({ "-d", dev, "flash", file, "--alt", "OTP", "--write-otp" })
    assert.are.equal(0, r.code, r.stderr)
    local n = writes(events)
    r = support.spawn({ "-d", dev, "flash", image_file("SERIAL-0002", 0x1FFF7800, ".bin"), "--alt", "OTP",
      "--write-otp" })
    assert.are.equal(2, r.code, r.stderr)
    assert.matches("one-time programmable", r.stderr, 1, true)
    assert.are.equal(n, writes(events))
  end)
end)

describe("the write-protection check", function()
  after_each(helper.cleanup)
  if not support.have_binary() then return end
  local elf = helper.fixture("f4_config.elf")

  local function protected_device(faults)
    local dev, state, events = support.simdev("stm32f405")
    local r = support.spawn({ "-d", dev, "ob", "set", "nWRP=0x0FFE", "--yes" })
    assert(r.code == 0, r.stderr)
    os.remove(events)
    return dev .. (faults and (",faults=" .. faults) or ""), state, events
  end

  it("a stalled option-byte read is retried, and the protected sector is still refused", function()
    local dev, state, events = protected_device("stall:UPLOAD:1")
    local before = memory("stm32f405", state, 0x08000000, 64)
    local r = support.spawn({ "--json", "-d", dev, "flash", elf, "--no-verify" })
    assert.are.equal(2, r.code, r.stderr)
    assert.is_false(helper.json_decode(r.stdout).ok)
    assert.matches("write-protected sector 0", r.stderr, 1, true)
    assert.are.equal(0, writes(events))
    assert.are.equal(before, memory("stm32f405", state, 0x08000000, 64))
  end)

  it("a protection read that keeps failing stops the job before any erase (exit 1)", function()
    local dev, _, events = protected_device("stall:UPLOAD:1;stall:UPLOAD:2;stall:UPLOAD:3;stall:UPLOAD:4")
    local r = support.spawn({ "--json", "-d", dev, "flash", elf, "--no-verify" })
    assert.are.equal(1, r.code, r.stderr)
    assert.is_false(helper.json_decode(r.stdout).ok)
    assert.matches("could not be read to check read and write protection", r.stderr, 1, true)
    assert.are.equal(0, writes(events))
  end)
end)

describe("bad numbers", function()
  after_each(helper.cleanup)
  if not support.have_binary() then return end
  local bin_fixture = helper.fixture("h7_seed.bin")
  local elf = helper.fixture("h7_seed.elf")

  local cases = {
    { "flash", bin_fixture .. "@0x0800000000" },
    { "image", "info", bin_fixture .. "@0x100000000" },
    { "verify", bin_fixture .. "@0x0800000000" },
    { "read", "0xFFFFFFFF", "16", "-o", "OUT.bin" },
    { "read", "0x08000000", "0x7FFFFFFFFFFFFFFF", "-o", "OUT.bin" },
    { "read", "0x08000000", "99999999999999999999", "-o", "OUT.bin" },
    { "read", "0x08000000", "16M", "-o", "OUT.bin" },
    { "read", "0x08000000", "16", "-o", "/nonexistent-dir/x.bin" },
    { "leave", "0xFFFFFFFF" },
    { "flash", elf, "--alt=" },
    { "flash", elf, "--leave=0x30000000" },
  }
  for _, c in ipairs(cases) do
    it("exit 2 with a message, no traceback: " .. table.concat(c, " "), function()
      local dev, _, events = support.simdev("stm32h753")
      local argv = { "-d", dev }
      local out = helper.tmpname(".bin")
      for _, a in ipairs(c) do argv[#argv + 1] = a == "OUT.bin" and out or a end
      local r = support.spawn(argv)
      assert.are.equal(2, r.code, r.stderr)
      assert.matches("^dfush: ", r.stderr:match("[^\n]*dfush: [^\n]*") or r.stderr)
      assert.is_nil(r.stderr:find("traceback", 1, true), r.stderr)
      assert.is_nil(r.stderr:find("%.lua:%d+:"), r.stderr)
      assert.are.equal(0, writes(events))
      local f = io.open(out, "rb")
      if f then f:close() end
      assert.is_nil(f, "no output file is created")
    end)
  end

  it("a device that reports wTransferSize 0 is a device error before anything is sent", function()
    for _, cmd in ipairs({ { "flash", elf }, { "read", "0x08000000", "16", "-o", "OUT.bin" }, { "verify", elf } }) do
      local dev, _, events = support.simdev("stm32h753", "faults=xfer0")
      local argv = { "-d", dev }
      for _, a in ipairs(cmd) do argv[#argv + 1] = a == "OUT.bin" and helper.tmpname(".bin") or a end
      local r = support.spawn(argv)
      assert.are.equal(1, r.code, r.stderr)
      assert.matches("wTransferSize 0", r.stderr, 1, true)
      assert.is_nil(r.stderr:find("%.lua:%d+:"), r.stderr)
      assert.are.equal(0, writes(events))
    end
  end)
end)
