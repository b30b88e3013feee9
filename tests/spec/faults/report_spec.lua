-- What `dfush flash` says when a fault stops it (design.md 7): exit status 1, the --json object
-- with "device_state" {erased, written, verified, unknown}, the same in human text on stderr,
-- and a re-run of the same command that completes. Runs the CLI in-process and, when built,
-- the binary.
local support = require "recipes.support"
local helper = support.helper

local FIXTURE = "h7_dualbank.elf"

-- Ordinal of the middle data DNLOAD (wValue >= 2) of a clean `flash` run: a fault there
-- stops the job in the middle of the write phase.
local function mid_write_dnload()
  local dev, _, events = support.simdev("stm32h753")
  assert.are.equal(0, support.cli({ "-q", "-d", dev, "flash", helper.fixture(FIXTURE) }).code)
  local n, writes = 0, {}
  for _, e in ipairs(support.events_file(events, "ctrl")) do
    if e.req == "DNLOAD" then
      n = n + 1
      if e.wValue >= 2 then writes[#writes + 1] = n end
    end
  end
  return writes[(#writes + 1) // 2]
end

local function covers(list, a, n)
  for _, r in ipairs(list) do
    if a >= r.address and a + n <= r.address + r.size then return true end
  end
  return false
end

local function total(list)
  local t = 0
  for _, r in ipairs(list) do t = t + r.size end
  return t
end

describe("fault reports", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    it("a device lost mid-write: exit 1, device_state in --json and on stderr, the re-run completes ("
      .. runner .. ")", function()
      local n = mid_write_dnload()
      local dev, state = support.simdev("stm32h753", "faults=disconnect:DNLOAD:" .. n)
      local r = run({ "-d", dev, "--json", "flash", helper.fixture(FIXTURE) })
      assert.are.equal(1, r.code)
      local out = assert(support.json.decode(r.stdout), r.stdout)
      assert.is_false(out.ok)
      local ds = assert(out.device_state, "no device_state in " .. r.stdout)
      assert.are.equal(3, #ds.erased)
      assert.are.equal(0, #ds.verified)
      assert.are.equal(1, #ds.unknown, "the block in flight")
      assert.are.equal(1024, ds.unknown[1].size)
      assert.is_true(#ds.written >= 1)
      -- written runs from the image start up to the block in flight
      assert.are.equal(0x08000000, ds.written[1].address)
      assert.are.equal(ds.unknown[1].address, ds.written[#ds.written].address + ds.written[#ds.written].size)
      assert.are.equal(out.written, total(ds.written))
      -- the memory holds what the report says was written
      local sim = support.sim_state("stm32h753", state)
      local segs = support.image_segments(helper.fixture(FIXTURE))
      local w = ds.written[1]
      assert.are.equal(segs[1].data:sub(1, w.size), sim:read(w.address, w.size))
      sim = nil -- luacheck: ignore
      collectgarbage()
      assert.matches("on the device now:", r.stderr, 1, true)
      assert.matches("unknown", r.stderr, 1, true)
      assert.matches("run the same command again", r.stderr, 1, true)

      -- same command, same memory, the device is back: it completes
      local dev2 = string.format("sim:stm32h753,state=%s", state)
      local r2 = run({ "-d", dev2, "--json", "flash", helper.fixture(FIXTURE) })
      assert.are.equal(0, r2.code, r2.stderr)
      local out2 = assert(support.json.decode(r2.stdout))
      assert.is_true(out2.ok and out2.verified)
      for _, s in ipairs(support.truth_segments(FIXTURE)) do
        assert.is_true(covers(out2.device_state.verified, s.address, s.size))
        assert.is_true(covers(out2.device_state.written, s.address, s.size) or s.size < 2048)
      end
      assert.are.equal(0, #out2.device_state.unknown)
    end)

    it("a device that drops off mid-write and re-enumerates: the job resumes and succeeds (" .. runner .. ")",
      function()
        local n = mid_write_dnload()
        local dev, state = support.simdev("stm32h753", "faults=disconnect:DNLOAD:" .. n .. ":reappear=400")
        local r = run({ "-d", dev, "--json", "flash", helper.fixture(FIXTURE) })
        assert.are.equal(0, r.code, r.stderr)
        local out = assert(support.json.decode(r.stdout))
        assert.is_true(out.ok and out.verified)
        assert.matches("came back", r.stderr, 1, true)
        local sim = support.sim_state("stm32h753", state)
        for _, s in ipairs(support.image_segments(helper.fixture(FIXTURE))) do
          assert.are.equal(s.data, sim:read(s.address, #s.data))
        end
      end)
  end

  it("a job that stops in verify names what is verified and what is only written", function()
    local dev, _, events = support.simdev("stm32h753")
    assert.are.equal(0, support.cli({ "-q", "-d", dev, "flash", helper.fixture(FIXTURE) }).code)
    local n, ups = 0, {}
    for _, e in ipairs(support.events_file(events, "ctrl")) do
      if e.req == "UPLOAD" then
        n = n + 1
        ups[#ups + 1] = n
      end
    end
    local dev2 = support.simdev("stm32h753", "faults=disconnect:UPLOAD:" .. ups[#ups - 2])
    local r = support.cli({ "-d", dev2, "--json", "flash", helper.fixture(FIXTURE) })
    assert.are.equal(1, r.code)
    local ds = assert(support.json.decode(r.stdout)).device_state
    assert.is_true(#ds.verified >= 1)
    assert.is_true(total(ds.verified) < total(ds.written))
    assert.are.equal(0x08000000, ds.verified[1].address)
    assert.matches("verified ", r.stderr, 1, true)
  end)

  it("read protection: the hint says to unprotect first, not just to run again", function()
    local dev = support.simdev("stm32h753", "faults=errVENDOR:ERASE:1")
    local r = support.cli({ "-d", dev, "flash", helper.fixture(FIXTURE) })
    assert.are.equal(1, r.code)
    assert.matches("remove the read protection first", r.stderr, 1, true)
  end)
end)
