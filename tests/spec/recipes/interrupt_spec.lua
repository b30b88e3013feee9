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
