-- Plan a flash job before anything is sent to the device (design.md 7): every image is
-- loaded, every byte must land in a writable sector of the chosen alt setting, segments are
-- padded to the program unit and merged, and the erase list holds each touched sector once.
-- Every problem raises a dfu.Error with code "USAGE", "FORMAT" or "RANGE" (exit status 2).
local util = require "dfu.util"
local family_mod = require "dfu.family"

local M = {}
local hex = util.hex

--- Expand a parsed layout into a sorted list of sectors.
function M.sectors(layout)
  local out = {}
  for _, r in ipairs(layout.runs) do
    for i = 0, r.count - 1 do
      out[#out + 1] = {
        address = r.address + i * r.size, size = r.size, type = r.type,
        readable = r.readable, erasable = r.erasable, writable = r.writable,
      }
    end
  end
  table.sort(out, function(a, b) return a.address < b.address end)
  return out
end

--- Index of the sector containing addr in a sorted sector list, or nil.
function M.find(sectors, addr)
  local lo, hi = 1, #sectors
  while lo <= hi do
    local mid = (lo + hi) // 2
    local s = sectors[mid]
    if addr < s.address then
      hi = mid - 1
    elseif addr >= s.address + s.size then
      lo = mid + 1
    else
      return mid
    end
  end
  return nil
end

--- Contiguous ranges of sectors that satisfy pred, as {{address=, size=}...}.
function M.ranges(sectors, pred)
  local out = {}
  for _, s in ipairs(sectors) do
    if pred(s) then
      local last = out[#out]
      if last and last.address + last.size == s.address then
        last.size = last.size + s.size
      else
        out[#out + 1] = { address = s.address, size = s.size }
      end
    end
  end
  return out
end

local function ranges_text(rs)
  local t = {}
  for _, r in ipairs(rs) do t[#t + 1] = util.range(r.address, r.size) end
  return #t > 0 and table.concat(t, ", ") or "none"
end

local function alt_label(a)
  local name = a.layout and a.layout.name or a.name or "?"
  return string.format("alt %d \"%s\"", a.alt, name)
end
M.alt_label = alt_label

--- Find an alt by number ("1", 1) or name prefix ("Option", "@Option Bytes").
function M.select_alt(alts, want)
  if want == nil then return nil end
  local i, msg = require("dfu.core").match_alt(alts, want)
  if not i then util.raise(msg, "USAGE") end
  return alts[i]
end

-- ---- segments ----
-- A plan's segments are views into a dfu.Image: {address=, size=, path=, image=}. Their bytes
-- stay in the C image until a transfer asks for a piece (M.bytes); seg.data, for callers that
-- want the whole segment as a string, is made on access. A plain {address=, data=} table
-- works wherever a segment does.
local Segment = {
  __index = function(seg, k)
    if k == "data" then return seg.image:bytes(seg.address, seg.size) end
  end,
}

--- n bytes of seg from offset off (0-based).
function M.bytes(seg, off, n)
  local data = rawget(seg, "data")
  if data then return data:sub(off + 1, off + n) end
  return seg.image:bytes(seg.address + off, n)
end

--- Size of a segment in bytes.
function M.size(seg)
  return rawget(seg, "size") or #seg.data
end

--- A segment view of [address, address+size) of img.
function M.view(img, address, size, path)
  return setmetatable({ address = address, size = size, path = path, image = img }, Segment)
end

--- The segments of a loaded image as views: {{address=, size=, path=, image=}...}.
function M.segments_of(img, path)
  local out = {}
  for _, s in ipairs(img:segments()) do out[#out + 1] = M.view(img, s.address, s.size, path) end
  return out
end

--- Merge the images of several files ({{path=, image=}...}) into one image (C merge). Overlaps
--- that agree are merged; overlaps that disagree raise naming both files and the address.
function M.merge(files)
  local image = require "dfu.image"
  local out = image.new()
  for i, f in ipairs(files) do
    local ok, msg = out:merge(f.image)
    if not ok then
      local at = math.tointeger(tonumber((msg or ""):match("at 0x(%x+)") or "", 16))
      local other = files[1]
      for j = 1, i - 1 do
        if at and files[j].image:bytes(at, 1) then other = files[j] break end
      end
      local a, b = at and other.image:bytes(at, 1), at and f.image:bytes(at, 1)
      if not (a and b) then util.raise(string.format("%s: %s", f.path or "image", msg), "FORMAT") end
      util.raise(string.format("%s and %s disagree at %s (0x%02X vs 0x%02X); remove one of them",
        other.path or "image", f.path or "image", hex(at), a:byte(), b:byte()), "FORMAT", { address = at })
    end
  end
  return out
end

--- Check every byte of segs lies in writable sectors; raise naming the file and address.
function M.check_range(segs, sectors, a)
  local writable = M.ranges(sectors, function(s) return s.writable end)
  for _, s in ipairs(segs) do
    local addr, stop = s.address, s.address + M.size(s)
    while addr < stop do
      local i = M.find(sectors, addr)
      local sec = i and sectors[i]
      if not sec or not sec.writable then
        local what
        if sec then
          what = string.format("%s is in a read-only sector of %s", hex(addr), alt_label(a))
        elseif addr > s.address then
          what = string.format("the image is too large: it runs from %s to %s, past the end of " ..
            "the writable memory of %s at %s", hex(s.address), hex(stop - 1), alt_label(a), hex(addr))
        else
          what = string.format("%s (%d bytes) lies outside the writable memory of %s",
            hex(addr), M.size(s), alt_label(a))
        end
        util.raise(string.format("%s: %s; valid range: %s", s.path or "image", what,
          ranges_text(writable)), "RANGE", { address = addr, file = s.path })
      end
      addr = sec.address + sec.size
    end
  end
end

--- Check that [addr, addr+len) lies in readable sectors of alt a; raise RANGE naming the first
--- address that does not and the alt's readable ranges. An alt without a layout passes.
function M.check_readable(a, addr, len)
  util.check_span(addr, len, "read")
  if not a.layout then return end
  local sectors = M.sectors(a.layout)
  local pos, stop = addr, addr + len
  while pos < stop do
    local i = M.find(sectors, pos)
    if not i or sectors[i].readable == false then
      util.raise(string.format("%s is outside the readable memory of %s (%s); choose the alt setting " ..
        "with --alt (see dfush info). Nothing was read.", hex(pos), alt_label(a),
        ranges_text(M.ranges(sectors, function(x) return x.readable ~= false end))), "RANGE", { address = pos })
    end
    pos = sectors[i].address + sectors[i].size
  end
end

local FF = setmetatable({}, { __index = function(t, n) local v = string.rep("\255", n); t[n] = v; return v end })
M.FF = FF

--- A ROM that erases the wrong sector: the family's erase_shift = {sectors=N, from=i, by=k}
--- says that with an N-sector flash layout an erase of sector j >= i erases sector j + k (the
--- STM32F76x ROM V9.3 in dual-bank mode, AN2606). Each erase entry then carries the address
--- to ask for (request); a sector no request reaches is refused before anything is sent.
function M.erase_requests(part, fam)
  local sh = fam and fam.erase_shift
  if not sh or #part.sectors ~= sh.sectors then return end
  for _, e in ipairs(part.erase) do
    local i = M.find(part.sectors, e.address) - 1
    if i >= sh.from then
      if i - sh.by < sh.from then
        util.raise(string.format("%s: sector %d (%s) cannot be erased on this ROM: it erases sector " ..
          "j+%d when asked for sector j >= %d (%s); use --full (mass erase) or the single-bank " ..
          "layout. Nothing was sent.", part.label, i, util.range(e.address, e.size), sh.by, sh.from,
          sh.cite or fam.name), "USAGE", { address = e.address })
      end
      e.request = part.sectors[i - sh.by + 1].address
    end
  end
end

--- Sectors to erase: every erasable sector the padded segments touch, once, in order.
function M.erase_list(segs, sectors)
  local out, seen = {}, {}
  for _, s in ipairs(segs) do
    local addr, stop = s.address, s.address + M.size(s)
    while addr < stop do
      local i = M.find(sectors, addr)
      if not i then break end
      local sec = sectors[i]
      if sec.erasable and not seen[i] then
        seen[i] = true
        out[#out + 1] = { address = sec.address, size = sec.size }
      end
      addr = sec.address + sec.size
    end
  end
  table.sort(out, function(x, y) return x.address < y.address end)
  return out
end

--- Build the plan.
--- job = { images = {{path=, image=Image}...}, alts = dev:alts(), current_alt = n,
---         alt = opts.alt (number or name or nil), unit = program unit, full = bool,
---         info = dev:info(), family = family table (alt roles),
---         consume = true: the caller's images may be padded in place (no copy) }
--- Returns { parts = {{alt=, name=, label=, layout=, sectors=, image=, segments=, erase=, bytes=,
---           image_bytes=, role=}...}, full = bool, lowest = address, entry = n|nil }
function M.build(job)
  local alts = job.alts
  local default = M.select_alt(alts, job.alt ~= nil and job.alt or job.current_alt or 0)
  local by_alt, order = {}, {}
  local entry
  local function add(a, img, path)
    if not by_alt[a.alt] then
      by_alt[a.alt] = { alt = a, files = {} }
      order[#order + 1] = a.alt
    end
    table.insert(by_alt[a.alt].files, { path = path, image = img })
  end
  for _, im in ipairs(job.images) do
    local img = im.image
    local sfx = img.suffix and img:suffix()
    if sfx and job.info then
      for _, k in ipairs({ "vid", "pid" }) do
        if sfx[k] and sfx[k] ~= 0xFFFF and job.info[k] and sfx[k] ~= job.info[k] then
          util.raise(string.format("%s: its DFU suffix is for %04x:%04x, the device is %04x:%04x",
            im.path, sfx.vid, sfx.pid, job.info.vid, job.info.pid), "USAGE", { file = im.path })
        end
      end
    end
    local targets = img:targets()
    if targets and #targets > 0 then
      for _, t in ipairs(targets) do
        local a
        local ok = pcall(function() a = M.select_alt(alts, t.alt) end)
        if not ok then
          util.raise(string.format("%s: target \"%s\" is for alt %d, which this device does not have",
            im.path, t.name or "", t.alt), "USAGE", { file = im.path })
        end
        add(a, t.image, im.path)
        entry = entry or t.image:entry()
      end
    else
      add(default, img, im.path)
      entry = entry or img:entry()
    end
  end
  local parts = {}
  local total = 0
  for _, altn in ipairs(order) do
    local a = by_alt[altn].alt
    if not a.layout then
      util.raise(string.format("%s has no memory layout; it cannot take addressed images",
        alt_label(a)), "USAGE")
    end
    local sectors = M.sectors(a.layout)
    local files = by_alt[altn].files
    for _, f in ipairs(files) do M.check_range(M.segments_of(f.image, f.path), sectors, a) end
    -- one image per alt: the files merged (C), padded to the program unit with 0xFF; option
    -- bytes are written whole by read-modify-write (dfu.ob), never padded
    local img = (#files == 1 and job.consume) and files[1].image or M.merge(files)
    local image_bytes = img:size()
    -- the bytes the files give, before padding (dfu.diff keeps the device's bytes in the pad)
    local coverage = {}
    for _, sg in ipairs(img:segments()) do coverage[#coverage + 1] = { address = sg.address, size = sg.size } end
    local role = family_mod.role(job.family, a)
    if role ~= "option_bytes" and (job.unit or 8) > 1 then util.check(img:pad(job.unit or 8)) end
    local path = #files == 1 and files[1].path or nil
    local padded = M.segments_of(img, path)
    local part = {
      alt = a.alt, name = a.name, label = alt_label(a), layout = a.layout, sectors = sectors,
      image = img, segments = padded, erase = M.erase_list(padded, sectors), bytes = img:size(),
      image_bytes = image_bytes, role = role, coverage = coverage,
    }
    if role == "flash" then M.erase_requests(part, job.family) end
    parts[#parts + 1] = part
    total = total + part.bytes
  end
  if #parts == 0 then util.raise("nothing to flash: the images hold no data", "USAGE") end
  table.sort(parts, function(x, y) return x.alt < y.alt end)
  -- the application's part: the flash alt when the job writes one, else the first
  local main = parts[1]
  for _, p in ipairs(parts) do
    if p.role == "flash" then main = p break end
  end
  if job.full and main.role ~= "flash" then
    util.raise(string.format("--full mass-erases the flash, but this job writes to %s (%s), not " ..
      "to the flash; --full applies to the flash alt only. Nothing was sent.", main.label,
      main.role:gsub("_", " ")), "USAGE")
  end
  local lowest
  for _, s in ipairs(main.segments) do
    if not lowest or s.address < lowest then lowest = s.address end
  end
  return { parts = parts, full = job.full and true or false, bytes = total, lowest = lowest,
           entry = entry, flash_alt = main.alt, family = job.family }
end

return M
