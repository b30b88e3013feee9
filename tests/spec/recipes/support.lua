-- Support for the recipe specs: run the CLI in-process or as the built binary, read the
-- simulator's event log and state across processes, compute expectations from truth.json and
-- the profile layouts of design.md 5.
local helper = require "helper"
local json = require "dfu.json"

local M = { helper = helper, json = json }

package.dfush_scripts = package.dfush_scripts or { helper.root .. "/scripts" }

-- Flash layouts of the simulator profiles, as design.md 5 gives them (alt 0).
M.layouts = {
  stm32h753 = { base = 0x08000000, sectors = (function()
    local t = {}
    for i = 0, 15 do t[#t + 1] = { address = 0x08000000 + i * 0x20000, size = 0x20000 } end
    return t
  end)() },
  stm32f405 = { base = 0x08000000, sectors = (function()
    local t, a = {}, 0x08000000
    for _, sz in ipairs({ 16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128 }) do
      t[#t + 1] = { address = a, size = sz * 1024 }
      a = a + sz * 1024
    end
    return t
  end)() },
}

M.profile_of = function(fixture)
  return fixture:match("^h7_") and "stm32h753" or "stm32f405"
end

--- The sectors of `profile` that the segments {{address=, size=}...} touch, sorted.
function M.touched(profile, segments)
  local out = {}
  for _, sec in ipairs(M.layouts[profile].sectors) do
    for _, s in ipairs(segments) do
      if s.address < sec.address + sec.size and s.address + s.size > sec.address then
        out[#out + 1] = { address = sec.address, size = sec.size }
        break
      end
    end
  end
  return out
end

--- Segments of a fixture from truth.json ({address,size,crc32}...), targets flattened.
function M.truth_segments(name)
  local t = helper.truth()[name]
  if t.segments then return t.segments end
  local out = {}
  for _, tg in ipairs(t.targets) do
    for _, s in ipairs(tg.segments) do out[#out + 1] = s end
  end
  return out
end

--- A temp file name.
function M.tmp(suffix) return helper.tmpname(suffix) end

--- Decode an events=FILE log.
function M.events_file(path, kind)
  local f = io.open(path, "rb")
  if not f then return {} end
  local text = f:read("a")
  f:close()
  local all = assert(json.decode_lines(text))
  if not kind then return all end
  local out = {}
  for _, e in ipairs(all) do if e.ev == kind then out[#out + 1] = e end end
  return out
end

--- Decode the in-process sim's events.
function M.events(sim, kind)
  local out = {}
  for _, line in ipairs(sim:events()) do
    local e = assert(json.decode(line))
    if not kind or e.ev == kind then out[#out + 1] = e end
  end
  return out
end

--- Events of kind "erase" as {address,size} lists (the request log order).
function M.erases(evs)
  local out = {}
  for _, e in ipairs(evs) do
    if e.ev == "erase" then out[#out + 1] = { address = e.address, size = e.size } end
  end
  return out
end

-- A writable stream capturing into a string.
local function sink()
  local buf = {}
  return {
    write = function(self, ...)
      for i = 1, select("#", ...) do buf[#buf + 1] = tostring(select(i, ...)) end
      return self
    end,
    flush = function() end,
    text = function() return table.concat(buf) end,
  }
end

--- Run the CLI in this process: returns {code=, stdout=, stderr=}.
function M.cli(args)
  local cli = require "dfu.cli"
  local out, err = sink(), sink()
  local code = cli.main(args, { stdout = out, stderr = err, progress_mode = "plain" })
  -- the simulator writes state= when it is freed
  collectgarbage()
  collectgarbage()
  return { code = code, stdout = out:text(), stderr = err:text() }
end

--- Run the built binary (helper.dfush) with DFUSH_PROGRESS=plain.
function M.spawn(args, env)
  env = env or {}
  env.DFUSH_PROGRESS = env.DFUSH_PROGRESS or "plain"
  return helper.dfush(args, { env = env })
end

--- Whether the built binary exists.
function M.have_binary()
  local f = io.open(helper.dfush_path, "rb")
  if f then f:close() return true end
  return false
end

--- Both runners, for `for name, run in pairs(support.runners())`.
function M.runners()
  local r = { ["in-process"] = M.cli }
  if M.have_binary() then r.spawned = M.spawn end
  return r
end

--- A fresh device string with state= and events= files; returns devstr, state, events.
function M.simdev(profile, extra)
  local state, events = M.tmp(".state"), M.tmp(".jsonl")
  os.remove(state)
  os.remove(events)
  local s = string.format("sim:%s,state=%s,events=%s", profile, state, events)
  if extra then s = s .. "," .. extra end
  return s, state, events
end

--- Memory of a persisted simulator: sim over state=FILE.
function M.sim_state(profile, state)
  local sim = require "dfu.sim"
  return assert(sim.new(string.format("%s,state=%s", profile, state)))
end

--- Bytes of an image file at its segments: {{address=, data=}...} (targets flattened).
function M.image_segments(path)
  local image = require "dfu.image"
  local util = require "dfu.util"
  local p, base = util.split_at(path)
  local img = assert(image.load(p, base and { base = base } or nil))
  local out = {}
  local targets = img:targets()
  local imgs = (targets and #targets > 0) and {} or { img }
  for _, t in ipairs(targets or {}) do imgs[#imgs + 1] = t.image end
  for _, im in ipairs(imgs) do
    for i, s in ipairs(im:segments()) do out[#out + 1] = { address = s.address, data = im:data(i) } end
  end
  return out, img
end

return M
