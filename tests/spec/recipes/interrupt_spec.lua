-- Ctrl-C in the middle of `dfush flash` (a real SIGINT to a spawned dfush): the job stops, the
-- device is left in dfuIDLE, the report says what is on the device, the exit status is 130,
-- and running the same command again completes the job.
local support = require "recipes.support"
local helper = support.helper

-- Runs the CLI in a dfush process that sends itself SIGINT once the write is half done.
local DRIVER = [[
local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
local progress = require "dfu.progress"
local new = progress.new
progress.new = function(o)
  local p = new(o)
  local mt = getmetatable(p)
  local call, sent = mt.__call, false
  mt.__call = function(self, phase, done, total)
    if phase == "write" and done > total // 2 and not sent then
      sent = true
      io.popen("kill -INT " .. pid):close() -- not os.execute: system() ignores SIGINT
    end
    return call(self, phase, done, total)
  end
  return p
end
os.exit(require("dfu.cli").main({ "-d", arg[1], "flash", arg[2] }), true)
]]

describe("Ctrl-C during dfush flash", function()
  after_each(helper.cleanup)

  it("stops, leaves the device idle, reports the state, exits 130; a re-run completes", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local img = helper.tmpname(".bin")
    local data = {}
    for i = 1, 96 * 1024 // 4 do data[i] = string.pack("<I4", i * 2654435761 & 0xFFFFFFFF) end
    helper.writefile(img, table.concat(data))
    local driver = helper.writefile(helper.tmpname(".lua"), DRIVER)
    local dev, state, events = support.simdev("stm32f405")
    local r = support.spawn({ driver, dev, img .. "@0x08000000" })
    assert.are.equal(130, r.code, r.stderr)
    assert.matches("interrupted (Ctrl-C)", r.stderr, 1, true)
    assert.matches("written   0x08000000-", r.stderr, 1, true)
    assert.matches("run the same command again", r.stderr, 1, true)
    -- the write stopped part-way, and the last requests put the device back in dfuIDLE
    local written = 0
    for _, e in ipairs(support.events_file(events, "program")) do written = written + e.size end
    assert.is_true(written > 0 and written < 96 * 1024, tostring(written))
    local ctrl = support.events_file(events, "ctrl")
    assert.are.same({ "ABORT", "dfuIDLE" }, { ctrl[#ctrl - 1].req, ctrl[#ctrl].state })
    -- the same command again, without the interrupt, finishes the job
    r = support.spawn({ "-d", dev, "flash", img .. "@0x08000000" })
    assert.are.equal(0, r.code, r.stderr)
    local sim = support.sim_state("stm32f405", state)
    assert.are.equal(helper.readfile(img), sim:read(0x08000000, 96 * 1024))
  end)
end)

-- A dfush process running the CLI on a device whose METHOD sends SIGINT to the process right
-- after the Nth call returned: the interrupt lands between a request the device completed and
-- the job's bookkeeping of it, the window a real Ctrl-C hits now and then.
local AFTER_CALL = [[
local method, nth = arg[3], tonumber(arg[4])
local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
local core = require "dfu.core"
local open = core.open
core.open = function(s)
  local real, msg, code = open(s)
  if not real then return nil, msg, code end
  local calls = 0
  return setmetatable({}, { __close = function() getmetatable(real).__close(real) end, __index = function(_, k)
    local v = real[k]
    if type(v) ~= "function" then return v end
    return function(_, ...)
      local r = table.pack(v(real, ...))
      if k == method then
        calls = calls + 1
        if calls == nth then io.popen("kill -INT " .. pid):close() end
      end
      return table.unpack(r, 1, r.n)
    end
  end })
end
os.exit(require("dfu.cli").main({ "--json", "-d", arg[1], "flash", arg[2] }), true)
]]

-- The job's end: SIGINT right after flash.execute has finished (it holds Ctrl-C from there).
local AFTER_JOB = [[
local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
local core = require "dfu.core"
local hold = core.hold_interrupts
core.hold_interrupts = function(on)
  local r = hold(on)
  if on then io.popen("kill -INT " .. pid):close() end
  return r
end
os.exit(require("dfu.cli").main({ "--json", "-d", arg[1], "flash", arg[2] }), true)
]]

local function covered(lists, a)
  for _, list in ipairs(lists) do
    for _, r in ipairs(list) do
      if a >= r.address and a < r.address + r.size then return true end
    end
  end
  return false
end

describe("Ctrl-C between a request and its bookkeeping", function()
  after_each(helper.cleanup)

  local function image(kib, seed)
    local img = helper.tmpname(".bin")
    local data = {}
    for i = 1, kib * 1024 // 4 do data[i] = string.pack("<I4", (i + seed) * 2654435761 & 0xFFFFFFFF) end
    helper.writefile(img, table.concat(data))
    return img, table.concat(data)
  end

  it("a write the device acknowledged is in the report (written or unknown)", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local img = image(96, 1)
    local driver = helper.writefile(helper.tmpname(".lua"), AFTER_CALL)
    for _, nth in ipairs({ 1, 2, 3 }) do
      local dev, state = support.simdev("stm32f405")
      local r = support.spawn({ driver, dev, img .. "@0x08000000", "write", tostring(nth) })
      assert.are.equal(130, r.code, r.stderr)
      local out = helper.json_decode(r.stdout)
      assert.is_false(out.ok)
      local ds = out.device_state
      local sim = support.sim_state("stm32f405", state)
      local mem = sim:read(0x08000000, 96 * 1024)
      local programmed = 0
      for i = 1, #mem do
        if mem:byte(i) ~= 0xFF then
          programmed = programmed + 1
          local a = 0x08000000 + i - 1
          assert.is_true(covered({ ds.written, ds.unknown }, a),
            string.format("call %d: 0x%08X holds data the report does not mention", nth, a))
        end
      end
      assert.is_true(programmed > 0)
    end
  end)

  it("an erase the device completed is in the report (erased or unknown)", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local old = image(64, 7)
    local new = image(64, 9)
    local driver = helper.writefile(helper.tmpname(".lua"), AFTER_CALL)
    local dev, state = support.simdev("stm32f405")
    assert.are.equal(0, support.spawn({ "-d", dev, "flash", old .. "@0x08000000" }).code)
    local r = support.spawn({ driver, dev, new .. "@0x08000000", "erase_page", "2" })
    assert.are.equal(130, r.code, r.stderr)
    local ds = helper.json_decode(r.stdout).device_state
    local sim = support.sim_state("stm32f405", state)
    local mem, before = sim:read(0x08000000, 64 * 1024), helper.readfile(old)
    local changed = 0
    for i = 1, #mem do
      if mem:byte(i) ~= before:byte(i) then
        changed = changed + 1
        assert.is_true(covered({ ds.erased, ds.written, ds.unknown }, 0x08000000 + i - 1),
          string.format("0x%08X changed but the report does not mention it", 0x08000000 + i - 1))
      end
    end
    assert.is_true(changed > 0, "the interrupted job erased something")
  end)

  it("a Ctrl-C after the job has finished still prints the report and the JSON", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local img, data = image(32, 3)
    local driver = helper.writefile(helper.tmpname(".lua"), AFTER_JOB)
    local dev, state = support.simdev("stm32f405")
    local r = support.spawn({ driver, dev, img .. "@0x08000000" })
    assert.are.equal(130, r.code, r.stderr)
    local out = helper.json_decode(r.stdout)
    assert.is_true(out.ok)
    assert.is_true(out.verified)
    assert.are.equal(#data, out.written)
    assert.matches("interrupted (Ctrl-C) after the job had finished", r.stderr, 1, true)
    local sim = support.sim_state("stm32f405", state)
    assert.are.equal(data, sim:read(0x08000000, #data))
  end)
end)
