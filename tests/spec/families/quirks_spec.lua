-- The ROM quirks and bugs of the new families (doc/families.md), each on its simulator
-- profile: what the ROM does wrong and that dfush works around it or says so.
local dfu = require "dfu"
local support = require "recipes.support"
local helper = support.helper
local images = require "families.images"

local function logs_of(t) return function(level, msg) t[#t + 1] = level .. " " .. msg end end

local function has(list, text)
  for _, l in ipairs(list) do
    if l:find(text, 1, true) then return true end
  end
  return false
end

local function ctrl(sim, req, stalled)
  local n = 0
  for _, e in ipairs(support.events(sim, "ctrl")) do
    if e.req == req and (not stalled or e.result == "stall") then n = n + 1 end
  end
  return n
end

describe("family quirks", function()
  after_each(helper.cleanup)

  it("F411: a ROM that stalls DNLOADs now and then still gets the whole image", function()
    local sim = helper.sim("stm32f411,dnload_stall=7")
    local dev <close> = assert(sim:device())
    local r = assert(dev:flash(images.app("stm32f411", { size = 65536 })))
    assert.is_true(r.verified)
    assert.is_true(ctrl(sim, "DNLOAD", true) >= 3)
    assert.is_true(r.retries >= 3)
  end)

  it("F411: the ROM enumerates in dfuERROR; info and flash clear it first", function()
    local sim = helper.sim("stm32f411")
    local dev <close> = assert(sim:device())
    assert.are.equal("dfuERROR", dev:getstatus().state_name)
    assert(dev:flash(images.app("stm32f411")))
  end)

  it("F767: nDBANK = 0 gives the dual-bank layout; bank-2 sectors are asked for 4 below", function()
    local sim = helper.sim("stm32f767")
    local dev = assert(sim:device())
    assert(dfu.ob.set(dev, { nDBANK = 0 }, { force = true, confirm = function() return true end }))
    dev:close()
    dev = assert(sim:device())
    local a0 = dev:alts()[1]
    assert.are.equal(24, #dfu.plan.sectors(a0.layout))
    -- sector 16 of the dual-bank layout: 0x08100000 + 4x16K + 64K
    local addr = 0x08100000 + 4 * 0x4000 + 0x10000
    local img = dfu.image.new()
    assert(img:add(addr, string.rep("\x5A\xA5\x0F\xF0", 1024)))
    local e0 = #sim:events()
    local r = assert(dev:flash(img))
    assert.is_true(r.verified)
    local erases = {}
    local all = sim:events()
    for i = e0 + 1, #all do
      local e = support.json.decode(all[i])
      if e.ev == "erase" then erases[#erases + 1] = e.address end
    end
    assert.are.same({ addr }, erases) -- the ROM erased the sector the image needs
    -- bank-2 sectors 12-15 cannot be reached by a sector erase on this ROM
    local low = dfu.image.new()
    assert(low:add(0x08100000, string.rep("\1", 64)))
    local ok, msg, code = dev:flash(low)
    assert.is_nil(ok)
    assert.are.equal("USAGE", code)
    assert.matches("cannot be erased on this ROM", msg, 1, true)
    dev:close()
  end)

  it("G0B1: every alt reports the flash string; the descriptor gives alts 1 and 2 their real roles", function()
    local dev <close> = assert(helper.sim("stm32g0b1"):device())
    local alts = dev:alts()
    assert.matches("^@Option Bytes", alts[2].name)
    assert.matches("^@Internal Flash", alts[2].reported)
    local raw_alts = dev:raw_alts()
    assert.are.equal(raw_alts[1].name, raw_alts[2].name)
    local _, d = assert(dfu.ob.read(dev))
    assert.are.equal(0, d.rdp.level)
  end)

  it("L476: page erases stall early polls; the flash still sits near the protocol floor", function()
    local sim = helper.sim("stm32l476")
    local dev <close> = assert(sim:device())
    local logs = {}
    dev:on_log(logs_of(logs))
    assert(dev:flash(images.app("stm32l476", { size = 65536 })))
    assert.is_true(ctrl(sim, "GETSTATUS", true) >= 1)
    assert.is_true(ctrl(sim, "GETSTATUS", true) <= 8) -- learned, not one stall per erase
    assert.is_true(has(logs, "stalled an early GETSTATUS"))
  end)

  it("L476: a ROM whose bootloader ID reads 0xFF is named as such", function()
    local r = support.cli({ "-d", "sim:stm32l476,rom=0xff", "--json", "info" })
    assert.are.equal(0, r.code, r.stderr)
    local out = support.json.decode(r.stdout)
    assert.are.equal(0xFF, out.bootloader_id)
    assert.matches("0xFF", out.known_bug, 1, true)
    r = support.cli({ "-d", "sim:stm32l476,rom=0xff", "info" })
    assert.matches("bootloader ID 0xFF (no version)", r.stdout, 1, true)
  end)

  it("H7A3 ROM V9.0: the 2 KiB sectors it reports are corrected to 8 KiB; no OTP alt", function()
    local dev <close> = assert(helper.sim("stm32h7a3,rom=0x90"):device())
    local alts = dev:alts()
    assert.are.equal(2, #alts)
    assert.are.equal("@Internal Flash   /0x08000000/256*08Kg", alts[1].name)
    assert.are.equal("@Internal Flash   /0x08000000/256*02Kg", alts[1].reported)
  end)

  it("H753 ROM V9.1: a bank-2 erase left in dfuDNBUSY is ended with two CLRSTATUS", function()
    local sim = helper.sim("stm32h753,rom=0x91")
    local dev <close> = assert(sim:device())
    local img = dfu.image.new()
    assert(img:add(0x08100000, string.rep("\x12\x34\x56\x78", 2048)))
    local logs = {}
    local r = assert(dev:flash(img, { log = logs_of(logs) }))
    assert.is_true(r.verified)
    assert.is_true(has(logs, "two CLRSTATUS"))
    assert.are.equal(2, ctrl(sim, "CLRSTATUS"))
  end)

  it("C071: the leave works because dfush sends SET_ADDRESS before the zero-length DNLOAD", function()
    local sim = helper.sim("stm32c071,boot0=0")
    local dev <close> = assert(sim:device())
    local r = assert(dev:flash(images.app("stm32c071"), { leave = true }))
    assert.is_false(r.left.came_back)
    local lv = support.events(sim, "leave")
    assert.are.equal("app_running", lv[#lv].outcome)
  end)

  it("GD32VF103: the layout comes from the part code in the raw serial descriptor", function()
    local r = support.cli({ "-d", "sim:gd32vf103", "--json", "info" })
    assert.are.equal(0, r.code, r.stderr)
    local out = support.json.decode(r.stdout)
    assert.are.equal("3CBJ", out.serial)
    assert.are.equal("@Internal Flash  /0x08000000/128*001Kg", out.alts[1].name)
    assert.are.equal("@Internal Flash  /0x08000000/512*002Kg", out.alts[1].reported)
  end)

  it("GD32VF103 bare chip: no option-byte alt; ob show says so, flash and leave work", function()
    local r = support.cli({ "-d", "sim:gd32vf103,rom=0x01", "ob", "show" })
    assert.are_not.equal(0, r.code)
    assert.matches("option", r.stderr:lower(), 1, true)
    local sim = helper.sim("gd32vf103,rom=0x01,boot0=0")
    local dev <close> = assert(sim:device())
    local rep = assert(dev:flash(images.app("gd32vf103"), { leave = true }))
    assert.are.equal(0x08000000, rep.left.address)
    local lv = support.events(sim, "leave")
    assert.are.equal("app_running", lv[#lv].outcome)
  end)
end)
