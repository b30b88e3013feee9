-- Flashing through injected device faults (design.md 7): recover what can be recovered, never
-- report success when the memory differs, say where it stopped otherwise.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

local function holds(sim, path)
  for _, s in ipairs(support.image_segments(path)) do
    if sim:read(s.address, #s.data) ~= s.data then return false end
  end
  return true
end

describe("flash with faults", function()
  after_each(helper.cleanup)

  local recoverable = {
    "stall:DNLOAD:8", "errPROG:DNLOAD:9", "errVERIFY:DNLOAD:12", "timeout:DNLOAD:10",
    "errERASE:DNLOAD:2", "stall:UPLOAD:3", "timeout:GETSTATUS:30", "errTARGET:DNLOAD:15",
  }
  for _, f in ipairs(recoverable) do
    it("recovers from " .. f .. " and the flash holds the image", function()
      local sim = helper.sim("stm32h753,faults=" .. f)
      local dev <close> = assert(sim:device())
      local path = helper.fixture("h7_seed.elf")
      local img = assert(dfu.image.load(path))
      local report, msg = dev:flash(img)
      assert.is_truthy(report, msg)
      assert.is_true(report.verified)
      assert.is_true(holds(sim, path))
    end)
  end

  it("errPROG on the F4 mid-image is retried from the first unwritten unit", function()
    local sim = helper.sim("stm32f405,faults=errPROG:DNLOAD:20")
    local dev <close> = assert(sim:device())
    local path = helper.fixture("f4_config.hex")
    local report, msg = dev:flash(assert(dfu.image.load(path)))
    assert.is_truthy(report, msg)
    assert.is_true(report.retries >= 1)
    assert.is_true(holds(sim, path))
  end)

  for runner, run in pairs(support.runners()) do
    it("a device stuck in dfuDNBUSY fails with 1 and names the address (" .. runner .. ")", function()
      local dev = support.simdev("stm32h753", "faults=busy:DNLOAD:9")
      local r = run({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf") })
      assert.are.equal(1, r.code)
      local out = assert(support.json.decode(r.stdout))
      assert.is_false(out.ok)
      assert.is_false(out.verified)
      assert.are.equal("integer", math.type(out.error.address))
      assert.matches("0x0800", out.error.message, 1, true)
      assert.matches("stopped during write", r.stderr, 1, true)
    end)
  end

  it("read-out protection (errVENDOR) is explained, not retried", function()
    local dev, _, events = support.simdev("stm32h753", "faults=rdp1")
    local r = support.cli({ "-d", dev, "flash", helper.fixture("h7_seed.elf") })
    assert.are.equal(1, r.code)
    assert.matches("read-out protection", r.stderr, 1, true)
    local erase_cmds = 0
    for _, e in ipairs(support.events_file(events, "ctrl")) do
      if e.req == "DNLOAD" and e.wValue == 0 and e.len == 5 then erase_cmds = erase_cmds + 1 end
    end
    assert.is_true(erase_cmds <= 2, "one erase command (plus at most a SET_ADDRESS), no retries")
    assert.are.equal(0, #support.events_file(events, "program"))
  end)

  it("a verify mismatch exits 1 and never reports success", function()
    local dev, state = support.simdev("stm32h753")
    assert.are.equal(0, support.cli({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
    -- change one byte behind the tool's back
    do
      local sim = support.sim_state("stm32h753", state)
      local b = sim:read(0x08000010, 1)
      sim:write(0x08000010, string.char(b:byte() ~ 0x01))
      sim:save()
    end
    collectgarbage()
    local r = support.cli({ "-d", dev, "--json", "verify", helper.fixture("h7_seed.elf") })
    assert.are.equal(1, r.code)
    local out = assert(support.json.decode(r.stdout))
    assert.is_false(out.ok)
    assert.are.equal(0x08000010, out.error.address)
  end)
end)
