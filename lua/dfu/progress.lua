-- Progress rendering for the CLI: a one-line bar on a terminal (phase, bytes, rate, ETA),
-- plain lines otherwise. The flash loops call it as fn(phase, done, total).
local util = require "dfu.util"

local M = {}

local function fmt_time(s)
  if not s or s ~= s or s == math.huge then return "--:--" end
  s = math.floor(s + 0.5)
  return string.format("%d:%02d", s // 60, s % 60)
end

local function rate_text(bytes, secs)
  if secs <= 0 then return "" end
  return util.size(bytes / secs) .. "/s"
end

--- new{ stream = io.stderr, mode = "bar" | "plain" | "none", clock = function() -> seconds,
---      width = 30 }. Returns a callable object; call :finish() at the end.
function M.new(o)
  o = o or {}
  local self = {
    stream = o.stream or io.stderr, mode = o.mode or "plain", clock = o.clock or os.clock,
    width = o.width or 30, phase = nil,
  }
  local plain_step = 0.25

  local function line_end(s)
    if self.mode == "bar" and self.drawn then s.stream:write("\n") end
    s.drawn = false
  end

  local function update(_, phase, done, total)
    if self.mode == "none" then return end
    local now = self.clock()
    -- a new phase, or the same one started over (done = 0); a log line between two updates
    -- (finish) only ends the bar's line, the phase and its clock go on
    if phase ~= self.phase or (done == 0 and (self.last_done or 0) > 0) then
      line_end(self)
      self.phase, self.t0, self.next_plain, self.last_draw = phase, now, plain_step, nil
    end
    self.last_done = done
    local el = now - self.t0
    local frac = total > 0 and done / total or 1
    if self.mode == "bar" then
      local w = self.width
      local fill = math.floor(frac * w + 0.5)
      local eta = (frac > 0 and frac < 1) and el / frac - el or (frac >= 1 and 0 or nil)
      local isbytes = phase ~= "erase" or total > 1
      self.stream:write(string.format("\r%-7s [%s%s] %3d%% %s/%s %s ETA %s  ", phase,
        string.rep("#", fill), string.rep(".", w - fill), math.floor(frac * 100),
        isbytes and util.size(done) or tostring(done), isbytes and util.size(total) or tostring(total),
        rate_text(done, el), fmt_time(eta)))
      self.stream:flush()
      self.drawn = true
    else
      if done == 0 and total > 0 then
        self.stream:write(string.format("%s: %s\n", phase, util.size(total)))
      elseif frac >= 1 then
        self.stream:write(string.format("%s: done, %s in %.2f s%s\n", phase, util.size(total), el,
          el > 0 and (" (" .. rate_text(total, el) .. ")") or ""))
      elseif frac >= self.next_plain then
        self.stream:write(string.format("%s: %d%%\n", phase, math.floor(frac * 100)))
        while self.next_plain <= frac do self.next_plain = self.next_plain + plain_step end
      end
    end
  end

  function self.finish()
    line_end(self)
  end

  return setmetatable(self, { __call = update })
end

--- Whether stderr is a terminal (asks the shell once; DFUSH_PROGRESS=bar|plain|none overrides).
function M.detect_mode()
  local force = os.getenv("DFUSH_PROGRESS")
  if force == "bar" or force == "plain" or force == "none" then return force end
  return require("dfu.core").isatty(2) and "bar" or "plain"
end

return M
