-- dfu.progress: the CLI's progress lines (plain mode) and bar, on a fake clock.
local progress = require "dfu.progress"

local function sink()
  local buf = {}
  return { write = function(_, ...) for _, s in ipairs({ ... }) do buf[#buf + 1] = s end end,
           flush = function() end, text = function() return table.concat(buf) end }
end

describe("dfu.progress", function()
  it("plain lines: start, quarter steps and done with the phase's own time and rate", function()
    local out, t = sink(), 10
    local p = progress.new { stream = out, mode = "plain", clock = function() return t end }
    p("write", 0, 4096)
    t = 11; p("write", 2048, 4096)
    t = 12; p("write", 4096, 4096)
    assert.are.equal("write: 4.0 KiB\nwrite: 50%\nwrite: done, 4.0 KiB in 2.00 s (2.0 KiB/s)\n", out.text())
  end)

  it("a log line in between (finish) does not restart the phase's clock", function()
    local out, t = sink(), 0
    local p = progress.new { stream = out, mode = "plain", clock = function() return t end }
    p("erase", 0, 1024)
    t = 1; p.finish()
    t = 2; p("erase", 1024, 1024)
    assert.matches("erase: done, 1.0 KiB in 2.00 s", out.text(), 1, true)
  end)

  it("the same phase started over (done = 0) restarts its clock", function()
    local out, t = sink(), 0
    local p = progress.new { stream = out, mode = "plain", clock = function() return t end }
    p("write", 0, 100); t = 5; p("write", 100, 100)
    t = 6; p("write", 0, 100); t = 7; p("write", 100, 100)
    local last = out.text():match("write: done[^\n]*\n$")
    assert.matches("in 1.00 s", last, 1, true)
  end)

  it("the bar shows phase, percentage, bytes and ETA on one line", function()
    local out, t = sink(), 0
    local p = progress.new { stream = out, mode = "bar", width = 10, clock = function() return t end }
    p("write", 0, 2048)
    t = 1; p("write", 1024, 2048)
    local s = out.text()
    assert.matches("\rwrite   [#####.....]  50% 1.0 KiB/2.0 KiB 1.0 KiB/s ETA 0:01", s, 1, true)
    p.finish()
    assert.are.equal("\n", out.text():sub(-1))
  end)
end)
