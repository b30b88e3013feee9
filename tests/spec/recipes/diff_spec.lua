-- Differential flashing (dfu.diff, flash's default): read the touched sectors first; unchanged
-- sectors cost a read, not an erase; bytes outside the image survive; --dry-run changes nothing.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

-- Deterministic data without 0xFF bytes.
local function data(n, seed)
  local t, x = {}, seed
  for i = 1, n // 4 do
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    t[i] = string.pack("<I4", x | 0x01010101)
  end
  return table.concat(t)
end

local function image(address, bytes)
  local img = dfu.image.new()
  assert(img:add(address, bytes))
  return img
end

local function count(sim, ev)
  return #support.events(sim, ev)
end

local function actions(report)
  local t = {}
  for _, s in ipairs(report.sectors) do t[#t + 1] = s.action end
  return table.concat(t, ",")
end

describe("differential flashing", function()
  after_each(helper.cleanup)

  for _, profile in ipairs({ "stm32h753", "stm32f405" }) do
    it(profile .. ": an unchanged image costs a read: no erase, no program", function()
      local sim = helper.sim(profile)
      local dev <close> = assert(sim:device())
      local bytes = data(300 * 1024, 7)
      assert(dev:flash(image(0x08000000, bytes), { diff = false }))
      local erases, programs = count(sim, "erase"), count(sim, "program")
      local report = assert(dev:flash(image(0x08000000, bytes)))
      assert.are.equal(erases, count(sim, "erase"))
      assert.are.equal(programs, count(sim, "program"))
      assert.is_true(report.verified)
      assert.are.equal(0, report.written)
      for _, s in ipairs(report.sectors) do assert.are.equal("skipped", s.action) end
      -- the comparison is the verify: the image is reported verified
      local v = 0
      for _, r in ipairs(report.device_state.verified) do v = v + r.size end
      assert.are.equal(#bytes, v)
    end)

    it(profile .. ": one changed byte erases and programs exactly its sector", function()
      local sim = helper.sim(profile)
      local dev <close> = assert(sim:device())
      local bytes = data(300 * 1024, 9)
      assert(dev:flash(image(0x08000000, bytes), { diff = false }))
      local before = count(sim, "erase")
      local changed = bytes:sub(1, 0x24000) .. "\0" .. bytes:sub(0x24002)
      local report = assert(dev:flash(image(0x08000000, changed)))
      local erases = support.events(sim, "erase")
      assert.are.equal(before + 1, #erases)
      local e = erases[#erases]
      assert.is_true(e.address <= 0x08024000 and 0x08024000 < e.address + e.size)
      assert.are.equal(changed, sim:read(0x08000000, #changed))
      local n = 0
      for _, s in ipairs(report.sectors) do if s.action == "erased" then n = n + 1 end end
      assert.are.equal(1, n)
    end)

    it(profile .. ": a marker outside the image in a touched sector survives; --erase-unwritten drops it",
      function()
        local sim = helper.sim(profile)
        local dev <close> = assert(sim:device())
        assert(dev:flash(image(0x08000000, data(2048, 3)), { diff = false }))
        local marker = string.rep("CAL!", 8)
        assert(dev:flash(image(0x08003000, marker)))
        local report = assert(dev:flash(image(0x08000000, data(2048, 4))))
        assert.are.equal(marker, sim:read(0x08003000, #marker))
        assert.is_true(report.kept >= #marker)
        assert.are.equal(data(2048, 4), sim:read(0x08000000, 2048))
        report = assert(dev:flash(image(0x08000000, data(2048, 5)), { keep = false }))
        assert.are.equal(0, report.kept)
        assert.are.equal(string.rep("\255", #marker), sim:read(0x08003000, #marker))
      end)
  end

  it("a sector that only gains data is programmed without an erase on the F405 (no ECC), erased on the H753",
    function()
      local f4 = helper.sim("stm32f405")
      local dev <close> = assert(f4:device())
      local r = assert(dev:flash(image(0x08000000, data(4096, 1))))
      assert.are.equal("programmed", actions(r))
      assert.are.equal(0, count(f4, "erase"))
      local h7 = helper.sim("stm32h753")
      local dev2 <close> = assert(h7:device())
      r = assert(dev2:flash(image(0x08000000, data(4096, 1))))
      assert.are.equal("erased", actions(r))
      assert.are.equal(1, count(h7, "erase"))
    end)

  it("one mass erase when every sector needs an erase, nothing is kept and it is faster", function()
    local sim = helper.sim("stm32h753")
    local dev <close> = assert(sim:device())
    assert(dev:flash(image(0x08000000, data(2 * 1024 * 1024, 1)), { diff = false }))
    local r = assert(dev:flash(image(0x08000000, data(2 * 1024 * 1024, 2))))
    assert.is_true(r.mass_erase)
    local erases = support.events(sim, "erase")
    assert.is_true(erases[#erases].mass)
    assert.are.equal(data(2 * 1024 * 1024, 2), sim:read(0x08000000, 2 * 1024 * 1024))
  end)

  it("dev:plan with diff says what each sector gets and changes nothing", function()
    local sim = helper.sim("stm32f405")
    local dev <close> = assert(sim:device())
    assert(dev:flash(image(0x08000000, data(20 * 1024, 1)), { diff = false }))
    local n = #sim:events()
    local img = image(0x08000000, data(16 * 1024, 1) .. data(4096, 2))
    local plan = assert(dev:plan(img, { diff = true }))
    assert.are.same({ "skipped", "erased" }, { plan.sectors[1].action, plan.sectors[2].action })
    for i, e in ipairs(helper.events(sim)) do
      if i > n then assert.is_true(e.ev ~= "erase" and e.ev ~= "program") end
    end
    assert.is_true(#sim:events() > n) -- it read
  end)
end)

describe("dfush flash --dry-run, --no-diff, --full", function()
  after_each(helper.cleanup)
  if not support.have_binary() then return end

  it("--dry-run prints the plan and touches nothing", function()
    local dev, _, events = support.simdev("stm32h753")
    local r = support.spawn({ "--json", "-d", dev, "flash", "--dry-run", helper.fixture("h7_seed.elf") })
    assert.are.equal(0, r.code, r.stderr)
    local out = helper.json_decode(r.stdout)
    assert.is_true(out.dry_run)
    assert.are.equal("erased", out.sectors[1].action)
    assert.are.equal(0, #support.events_file(events, "erase") + #support.events_file(events, "program"))
  end)

  it("--no-diff erases without reading; --full keeps nothing and says so", function()
    local dev, _, events = support.simdev("stm32f405")
    local r = support.spawn({ "-d", dev, "flash", "--no-diff", helper.fixture("f4_config.elf") })
    assert.are.equal(0, r.code, r.stderr)
    assert.is_true(#support.events_file(events, "erase") > 0)
    r = support.spawn({ "-d", dev, "flash", "--full", helper.fixture("f4_config.elf") })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("nothing kept", r.stdout, 1, true)
  end)
end)
