-- Differential flashing: before anything is erased, read every sector the job touches and
-- decide what it needs.
--   skipped     it already holds the image's bytes (the comparison is the verify)
--   programmed  the only differences are program units that read all 0xFF, on a family whose
--               flash may be programmed there without an erase (descriptor program_over_erased)
--   erased      erase, then write the image's bytes and, unless erase_unwritten, the bytes
--               the sector held outside the image (kept)
-- The result is the erase list and one dfu.Image of the bytes to write, per plan part.
local util = require "dfu.util"
local plan_mod = require "dfu.plan"

local M = {}

-- The virtual cost model of design.md 5: 1 ms per control transfer plus 1 us per byte.
local function read_ms(size, xfer)
  return (size + xfer - 1) // xfer + size / 1000
end

--- Whether reading a sector of size bytes first can pay: the family's erase (and program)
--- time for it exceeds the read. Families without timings are assumed to erase slowly, as
--- every NOR flash does next to a USB full-speed read.
function M.pays(fam, size, xfer)
  local t = fam and fam.timings
  if not (t and t.erase_ms) then return true end
  local erase = type(t.erase_ms) == "table" and t.erase_ms[size] or nil
  if not erase then return true end
  local program = (t.program_us_per_byte or 0) * size / 1000
  return erase + program > read_ms(size, xfer)
end

-- The program-unit-aligned ranges where new differs from cur, as {from, to} byte offsets.
local function differing_units(cur, new, unit)
  local out = {}
  local n = #new
  local blk = 4096
  for b = 0, n - 1, blk do
    local e = math.min(b + blk, n)
    if cur:sub(b + 1, e) ~= new:sub(b + 1, e) then
      for u = b, e - 1, unit do
        local ue = math.min(u + unit, n)
        if cur:sub(u + 1, ue) ~= new:sub(u + 1, ue) then
          local last = out[#out]
          if last and last[2] == u then last[2] = ue else out[#out + 1] = { u, ue } end
        end
      end
    end
  end
  return out
end

--- Analyse one plan part (a flash alt) against the device.
--- read(address, size) returns the device's bytes (raising on failure); unit is the program
--- unit; opts.erase_unwritten drops bytes outside the image; fam is the family descriptor.
--- Returns { sectors = {{address=, size=, action=, kept=}...}, erase = {{address=, size=}...},
---           write = dfu.Image, equal = {{address=, size=}...} (ranges found equal),
---           kept = bytes written back, read = bytes read }.
function M.analyse(part, opts, fam, read, unit, xfer)
  local image = require "dfu.image"
  local out = { sectors = {}, erase = {}, write = image.new(), equal = {}, kept = 0, read = 0 }
  local FF = plan_mod.FF
  for _, sec in ipairs(part.erase) do
    if not M.pays(fam, sec.size, xfer) then
      out.sectors[#out.sectors + 1] = { address = sec.address, size = sec.size, action = "erased", kept = 0 }
      out.erase[#out.erase + 1] = sec -- with its erase request (erase_shift)
      -- without a read, the sector's new content is the image alone
      local piece = part.image:slice(sec.address, sec.size)
      util.check(out.write:merge(piece))
    else
      local cur = read(sec.address, sec.size)
      out.read = out.read + sec.size
      -- the sector as the job wants it: the image's bytes over what it holds now (kept), or
      -- over 0xFF (erase_unwritten)
      local base = opts.erase_unwritten and FF[sec.size] or cur
      local piece = part.image:slice(sec.address, sec.size)
      -- only the bytes the files give count as the image: the 0xFF padding to the program
      -- unit yields to what the device holds there
      local parts, pos, covered = {}, 0, 0
      for _, c in ipairs(M.clip(part.coverage, sec.address, sec.size)) do
        local off = c.address - sec.address
        parts[#parts + 1] = base:sub(pos + 1, off)
        parts[#parts + 1] = piece:bytes(c.address, c.size)
        pos = off + c.size
        covered = covered + c.size
      end
      parts[#parts + 1] = base:sub(pos + 1)
      local new = table.concat(parts)
      local action, kept = "skipped", 0
      if new ~= cur then
        local diffs = differing_units(cur, new, unit)
        local blank_only = fam and fam.program_over_erased
        if blank_only then
          for _, d in ipairs(diffs) do
            if cur:sub(d[1] + 1, d[2]) ~= FF[d[2] - d[1]] then blank_only = false break end
          end
        end
        if blank_only then
          action = "programmed"
          for _, d in ipairs(diffs) do
            util.check(out.write:add(sec.address + d[1], new:sub(d[1] + 1, d[2])))
          end
        else
          action = "erased"
          out.erase[#out.erase + 1] = sec -- with its erase request (erase_shift)
          -- the image's program units (with what the device held in their padding), then
          -- the units outside the image that held data: written back
          for _, sg in ipairs(piece:segments()) do
            local off = sg.address - sec.address
            util.check(out.write:add(sg.address, new:sub(off + 1, off + sg.size)))
          end
          if not opts.erase_unwritten and covered < sec.size then
            kept = M.keep(out.write, cur, piece, sec.address, unit)
          end
        end
      end
      if action ~= "erased" then
        -- what the comparison proved: the image's bytes in this sector that the device holds
        -- already (all of them, or all but the units about to be programmed)
        local holes = action == "programmed" and differing_units(cur, new, unit) or {}
        for _, sg in ipairs(M.clip(part.coverage, sec.address, sec.size)) do
          local a, stop = sg.address, sg.address + sg.size
          for _, h in ipairs(holes) do
            local ha, hb = sec.address + h[1], sec.address + h[2]
            if hb > a and ha < stop then
              if ha > a then out.equal[#out.equal + 1] = { address = a, size = ha - a } end
              a = math.max(a, hb)
            end
          end
          if a < stop then out.equal[#out.equal + 1] = { address = a, size = stop - a } end
        end
      end
      out.kept = out.kept + kept
      out.sectors[#out.sectors + 1] = { address = sec.address, size = sec.size, action = action, kept = kept }
    end
  end
  return out
end

--- The ranges of list ({address=, size=}..., sorted) that lie in [address, address+size),
--- clipped to it. A nil list (a plan built by hand) is the whole range.
function M.clip(list, address, size)
  if not list then return { { address = address, size = size } } end
  local out, stop = {}, address + size
  for _, r in ipairs(list) do
    local a, b = math.max(r.address, address), math.min(r.address + r.size, stop)
    if a < b then out[#out + 1] = { address = a, size = b - a } end
  end
  return out
end

--- Add to img the program units of cur (a sector's content at base) outside the image slice
--- that are not all 0xFF; returns the number of such bytes that are not 0xFF.
function M.keep(img, cur, piece, base, unit)
  local n, pos = 0, 0
  local FF = plan_mod.FF
  local function keep(from, to)
    local u = from
    while u < to do
      local e = math.min(u + unit, to)
      local s = cur:sub(u + 1, e)
      if s ~= FF[e - u] then
        util.check(img:add(base + u, s))
        local _, k = s:gsub("[^\255]", "")
        n = n + k
      end
      u = e
    end
  end
  for _, s in ipairs(piece:segments()) do
    keep(pos, s.address - base)
    pos = s.address - base + s.size
  end
  keep(pos, #cur)
  return n
end

return M
