-- Option bytes over DfuSe (protocol.md 6, design.md 7): read the exact block of the
-- option-byte alt, decode it by name with the codec the family descriptor names (dfu.family),
-- change fields by read-modify-write, write the whole block, ride out the reset that follows,
-- re-read and verify; read-unprotect with a check that the flash really is erased; and the
-- protection checks the flash job runs before it erases anything.
--
-- Safety rules: RDP level 2 (0xCC) needs opts.permanently_lock_device; moving RDP away from
-- level 0 (or back to 0, which erases the flash) needs opts.force; unknown fields and values
-- out of range are usage errors. Reserved bits and bytes are carried over byte for byte.
--
-- The functions raise dfu.Error; the façade (require "dfu") gives read, decode, set,
-- unprotect and protected_sectors as nil, msg, code, err, like the primitives.
local util = require "dfu.util"
local plan_mod = require "dfu.plan"
local family_mod = require "dfu.family"

local M = {}
local hex = util.hex

M.REENUM_MS = 30000     -- after an option-byte write: program, reset, enumerate
M.UNPROTECT_MS = 60000  -- after READ_UNPROTECT: mass erase (F405: up to ~32 s), reset, enumerate

M.RDP_HINT = "read protection is active (read-out protection, RDP level 1): the ROM refuses to " ..
  "read, erase or write the flash. dfush unprotect --force removes it and erases the whole flash " ..
  "(and RAM)"

-- ---- codecs ----

--- All known codecs: the option_bytes modules of the family descriptors (dfu.family).
function M.codecs()
  local out, seen = {}, {}
  for _, f in ipairs(family_mod.tables()) do
    local c = f.option_bytes and family_mod.module(f.option_bytes)
    if type(c) == "table" and not seen[c] then
      seen[c] = true
      out[#out + 1] = c
    end
  end
  return out
end

--- The codec for a block at address of size bytes, or nil.
-- Several families share a block size (and some an address too: F401/F411 and F405); a
-- codec marked size_default wins such a tie, else the first descriptor's codec does.
function M.codec_for(address, size)
  local first
  for _, c in ipairs(M.codecs()) do
    if (address == nil or c.address == address) and c.size == size then
      if c.size_default then return c end
      first = first or c
    end
  end
  return first
end

local function field_of(codec, name)
  local want = name:lower()
  for _, fd in ipairs(codec.fields) do
    if fd.name:lower() == want then return fd end
  end
end

local function rd(raw, off, width)
  local v = 0
  for i = width - 1, 0, -1 do v = (v << 8) | raw:byte(off + i + 1) end
  return v
end

local function wr(bytes, off, width, v)
  for i = 0, width - 1 do bytes[off + i + 1] = (v >> (8 * i)) & 0xFF end
end

local function get(raw, fd)
  return (rd(raw, fd.offset, fd.width) >> fd.shift) & ((1 << fd.bits) - 1)
end

-- Set field fd to v in the byte array; also in the mirror (PRG) copy, and keep the
-- complement copy (fd.complement: offset of the inverted word) consistent.
local function put(bytes, fd, v)
  local mask = ((1 << fd.bits) - 1) << fd.shift
  for _, off in ipairs({ fd.offset, fd.mirror and fd.offset + fd.mirror or nil }) do
    local s = string.char(table.unpack(bytes, off + 1, off + fd.width))
    local w = (rd(s, 0, fd.width) & ~mask) | ((v << fd.shift) & mask)
    wr(bytes, off, fd.width, w)
    if fd.complement then
      wr(bytes, fd.complement, fd.width, ~w & ((1 << (8 * fd.width)) - 1))
    end
  end
end

--- RDP byte -> level (0, 1, 2) and words. codec.rdp (optional) gives the family's values:
--- { level0 = 0xA5 (the unprotected value, default 0xAA), names = { [v] = text } }. 0xCC is level
--- 2 on every family: on parts where it is not (GD32VF103) the guard still treats it as the
--- value that locks ST parts for good.
function M.rdp_level(v, codec)
  local r = codec and codec.rdp or {}
  if v == (r.level0 or 0xAA) then return 0, "level 0: no read protection" end
  if v == 0xCC then
    return 2, "level 2: chip permanently locked (no debug, no bootloader, option bytes frozen)"
  end
  if r.names and r.names[v] then return 1, r.names[v] end
  return 1, "level 1: flash read protection (no flash access over DFU or debug; unprotect erases the flash)"
end

--- The zones of a codec's block: {{address=, size=, offset=}...} (offset into the raw block).
function M.zones(codec)
  if codec.zones then
    local out, off = {}, 0
    for _, z in ipairs(codec.zones) do
      out[#out + 1] = { address = z.address, size = z.size, offset = off }
      off = off + z.size
    end
    return out
  end
  return { { address = codec.address, size = codec.size, offset = 0 } }
end

local function hexbytes(s)
  return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end
M.hexbytes = hexbytes

local function fmt_value(fd, v)
  if fd.bits == 1 then return tostring(v) end
  if fd.bits <= 4 then return tostring(v) end
  return string.format("0x%0" .. ((fd.bits + 7) // 8) * 2 .. "X", v)
end

-- The bit fields of a bitmask WRP description: {{name=, first_bit=}...}.
local function wrp_bit_fields(codec)
  local w = codec.wrp
  local out, bit = {}, 0
  for _, name in ipairs(w.fields or { w.field }) do
    out[#out + 1] = { name = name, first_bit = bit }
    local fd = field_of(codec, name)
    bit = bit + (fd and fd.bits or 0)
  end
  return out, bit
end

-- Sectors (0-based, in the order of the flash layout) the decoded fields write-protect.
-- Bitmask form: wrp = {field= | fields={...}, per_bit=N (sectors per bit, default 1),
-- active_low=, sectors=}; range form: wrp = {ranges = {{start=, stop=, first=}...}, sectors=}
-- (protected when start <= page <= stop, page counted from sector `first`).
local function wrp_sectors(codec, fields)
  local w = codec.wrp
  if not w then return nil end
  local out = {}
  if w.ranges then
    local seen = {}
    for _, r in ipairs(w.ranges) do
      local a, b = fields[r.start], fields[r.stop]
      if a and b and a <= b then
        for p = a, b do
          local sct = (r.first or 0) + p
          if sct < w.sectors and not seen[sct] then
            seen[sct] = true
            out[#out + 1] = sct
          end
        end
      end
    end
    table.sort(out)
    return out
  end
  local per = w.per_bit or 1
  for _, f in ipairs(wrp_bit_fields(codec)) do
    local fd = field_of(codec, f.name)
    local m = fields[fd.name]
    for i = 0, fd.bits - 1 do
      local bit = (m >> i) & 1
      if (w.active_low and bit == 0) or (not w.active_low and bit == 1) then
        for k = 0, per - 1 do
          local sct = (f.first_bit + i) * per + k
          if sct < w.sectors then out[#out + 1] = sct end
        end
      end
    end
  end
  return out
end

local function meaning(codec, fd, v, fields)
  if fd.kind == "rdp" then return select(2, M.rdp_level(v, codec)) end
  if fd.kind == "wrp" then
    local s = wrp_sectors(codec, fields or { [fd.name] = v })
    if #s == 0 then return "no sector write-protected" end
    return "write-protected sector(s): " .. table.concat(s, ", ")
  end
  if fd.values and fd.values[v] then return fd.values[v] end
  return fd.help or ""
end

--- Decode a raw block. codec may be omitted (chosen by the block size).
function M.decode_raw(raw, codec)
  codec = codec or M.codec_for(nil, #raw)
  if not codec then
    util.raise(string.format("no option-byte decoder for a %d-byte block", #raw), "USAGE")
  end
  if #raw ~= codec.size then
    util.raise(string.format("%s option bytes are %d bytes, got %d", codec.name, codec.size, #raw), "USAGE")
  end
  local fields, list = {}, {}
  for _, fd in ipairs(codec.fields) do fields[fd.name] = get(raw, fd) end
  for _, fd in ipairs(codec.fields) do
    local v = fields[fd.name]
    list[#list + 1] = { name = fd.name, value = v, text = fmt_value(fd, v), meaning = meaning(codec, fd, v, fields) }
  end
  local rdp = fields.RDP
  local level, words = M.rdp_level(rdp, codec)
  local d = {
    family = codec.name, address = codec.address, size = codec.size, raw = hexbytes(raw),
    fields = fields, list = list, rdp = { value = rdp, level = level, text = words },
    wrp = wrp_sectors(codec, fields), codec = codec,
  }
  if codec.areas then
    d.areas = {}
    for _, a in ipairs(codec.areas) do
      local s, e = fields[a.start], fields[a.stop]
      if s <= e then
        d.areas[#d.areas + 1] = { name = a.name, address = a.base + s * a.unit, size = (e - s + 1) * a.unit }
      end
    end
  end
  return d
end

-- ---- device access ----

--- The option-byte alt of a device and its codec: alt table, codec (raises when missing).
function M.find(dev)
  if not dev:info().dfuse then
    util.raise("this device is not a DfuSe device: it has no option bytes", "USAGE")
  end
  local fam = family_mod.of(dev)
  local a = family_mod.alt_with_role(fam, dev:alts(), "option_bytes")
  if not (a and a.layout.runs[1]) then
    util.raise("the device has no option-byte alt setting", "USAGE")
  end
  local c = M.codec_of_alt(a, fam)
  if not c then
    local r = a.layout.runs[1]
    util.raise(string.format("no option-byte decoder for %s (%d bytes at %s); known: %s",
      plan_mod.alt_label(a), M.alt_size(a), hex(r.address), M.known()), "USAGE")
  end
  return a, c
end

--- Bytes of an alt's layout (every zone).
function M.alt_size(a)
  local size = 0
  for _, x in ipairs(a.layout.runs) do size = size + x.count * x.size end
  return size
end

--- The codec of an option-byte alt ({layout=}): the one the family descriptor names when it
--- fits the alt's address and size, else any known codec that does; nil when none.
function M.codec_of_alt(a, fam)
  local r = a.layout and a.layout.runs[1]
  if not r then return nil end
  local size = M.alt_size(a)
  local own = fam and fam.option_bytes and family_mod.module(fam.option_bytes)
  if type(own) == "table" and own.address == r.address and own.size == size then return own end
  return M.codec_for(r.address, size)
end

function M.known()
  local t = {}
  for _, c in ipairs(M.codecs()) do t[#t + 1] = string.format("%s (%d bytes at %s)", c.name, c.size, hex(c.address)) end
  return table.concat(t, ", ")
end

-- errVENDOR in the device's last error or its status now: read protection refuses access.
function M.refused_by_rdp(dev)
  local le = dev.last_error and dev:last_error()
  local core = require "dfu.core"
  if le and le.status and core.STATUS[le.status] == "errVENDOR" then return true end
  local st = dev:getstatus()
  return st ~= nil and st.status_name == "errVENDOR"
end

-- Run fn with the alt set to altn, restoring the previous alt afterwards (when the device
-- is still there).
local function on_alt(dev, altn, fn)
  local prev = dev:alt()
  if prev ~= altn then util.check(dev:set_alt(altn)) end
  local ok, a, b = pcall(fn)
  if prev ~= altn then dev:set_alt(prev) end
  if not ok then error(a, 0) end
  return a, b
end

local function read_block(dev, a, codec)
  return on_alt(dev, a.alt, function()
    local parts = {}
    for _, z in ipairs(M.zones(codec)) do
      dev:abort_to_idle()
      local raw, msg, code = dev:read(z.address, z.size)
      if not raw then
        local rdp = M.refused_by_rdp(dev)
        dev:abort_to_idle()
        util.raise(string.format("reading the option bytes at %s failed: %s%s", hex(z.address),
          tostring(msg), rdp and ("\n" .. M.RDP_HINT) or ""), rdp and "PROTECTED" or code,
          { rdp = rdp or nil })
      end
      dev:abort_to_idle()
      if #raw ~= z.size then
        util.raise(string.format("the device returned %d option bytes at %s, expected %d", #raw,
          hex(z.address), z.size), "STATUS")
      end
      parts[#parts + 1] = raw
    end
    return table.concat(parts)
  end)
end

--- Read and decode: returns the decoded table (d.raw_bytes holds the block).
function M.read_decoded(dev)
  local a, codec = M.find(dev)
  local raw = read_block(dev, a, codec)
  local d = M.decode_raw(raw, codec)
  d.raw_bytes, d.alt = raw, a.alt
  return d
end

-- ---- changes ----

local function range_text(fd)
  if fd.kind == "rdp" then
    return "0, 1 or 2 (levels; 1 = 0xBB), L0/L1/L2, or a byte 0x00-0xFF written in hex " ..
      "(0xAA level 0, 0xCC level 2, other values level 1)"
  end
  local max = (1 << fd.bits) - 1
  local t = string.format("0-%d (0x%X)", max, max)
  if fd.values then
    local vs = {}
    for v = 0, max do if fd.values[v] then vs[#vs + 1] = v .. " = " .. fd.values[v] end end
    if #vs > 0 then t = t .. ": " .. table.concat(vs, "; ") end
  end
  return t
end

local function parse_value(codec, fd, s, name)
  if math.type(s) == "integer" then s = tostring(s) end
  if type(s) ~= "string" then
    util.usage("option byte %s: value must be a number, got %s; valid: %s", fd.name, type(s), range_text(fd))
  end
  local v
  if fd.kind == "rdp" then
    local lv = s:upper():match("^L?([012])$")
    if lv then
      v = ({ [0] = (codec.rdp and codec.rdp.level0) or 0xAA, 0xBB, 0xCC })[tonumber(lv)]
    elseif s:match("^0[xX]%x+$") then
      v = tonumber(s:sub(3), 16)
    end
  else
    v = util.parse_number(s, false)
  end
  if not v or v < 0 or v > (1 << fd.bits) - 1 then
    util.usage("option byte %s=%s is not valid for %s; valid: %s", name or fd.name, s, codec.name, range_text(fd))
  end
  return v
end

-- WRP=LIST: the sectors to protect (comma separated; "none", "all"). Returns the changes
-- {{field=, value=}...}: one per bit field of the codec's WRP; a bit that stands for a group
-- of sectors (per_bit) protects the whole group when any sector of it is listed.
local function parse_wrp(codec, s)
  local w = codec.wrp
  if w.ranges then
    local names = {}
    for _, r in ipairs(w.ranges) do names[#names + 1] = r.start .. "/" .. r.stop end
    util.usage("option byte WRP: %s protects page ranges; set their first and last page instead (%s)",
      codec.name, table.concat(names, ", "))
  end
  local valid = string.format("WRP=none, WRP=all or a comma-separated list of sectors 0-%d", w.sectors - 1)
  if type(s) == "table" then
    local t = {}
    for _, x in ipairs(s) do t[#t + 1] = tostring(x) end
    s = #t > 0 and table.concat(t, ",") or "none"
  end
  s = tostring(s)
  local set = {}
  if s:lower() == "all" then
    for i = 0, w.sectors - 1 do set[i] = true end
  elseif s:lower() ~= "none" and s ~= "" then
    for item in s:gmatch("[^,]+") do
      local n = util.parse_number(item, false)
      if not n or n < 0 or n >= w.sectors then
        util.usage("option byte WRP: '%s' is not a sector of %s; valid: %s", item, codec.name, valid)
      end
      set[n] = true
    end
  end
  local per, out = w.per_bit or 1, {}
  for _, f in ipairs(wrp_bit_fields(codec)) do
    local fd = field_of(codec, f.name)
    local m = 0
    for i = 0, fd.bits - 1 do
      local prot = 0
      for k = 0, per - 1 do
        if set[(f.first_bit + i) * per + k] then prot = 1 end
      end
      local bit = w.active_low and (1 - prot) or prot
      m = m | (bit << i)
    end
    out[#out + 1] = { field = fd, value = m }
  end
  return out
end

local function field_names(codec)
  local t = {}
  for _, fd in ipairs(codec.fields) do t[#t + 1] = fd.name end
  if codec.wrp then t[#t + 1] = "WRP" end
  return table.concat(t, ", ")
end

--- Turn {NAME=VALUE...} or {"NAME=VALUE"...} into {{field=fd, value=n}...}, raising a usage
--- error naming the field and its valid range.
function M.parse_changes(codec, changes)
  local items = {}
  for k, v in pairs(changes) do
    if math.type(k) == "integer" then
      local name, val = tostring(v):match("^([^=]+)=(.*)$")
      if not name then util.usage("ob set: expected NAME=VALUE, got '%s'", tostring(v)) end
      items[#items + 1] = { k = k, name = name, value = val }
    else
      items[#items + 1] = { k = 1e9, name = k, value = v }
    end
  end
  table.sort(items, function(a, b) if a.k ~= b.k then return a.k < b.k end return a.name < b.name end)
  local out, seen = {}, {}
  for _, it in ipairs(items) do
    local fd, val
    if codec.wrp and it.name:upper() == "WRP" then
      local list = parse_wrp(codec, it.value)
      for i = 1, #list - 1 do
        local c = list[i]
        if seen[c.field.name] and seen[c.field.name] ~= c.value then
          util.usage("ob set: %s is given twice with different values", c.field.name)
        end
        seen[c.field.name] = c.value
        out[#out + 1] = c
      end
      fd, val = list[#list].field, list[#list].value
    else
      fd = field_of(codec, it.name)
      if not fd then
        util.usage("ob set: unknown option-byte field '%s' for %s; fields: %s", it.name, codec.name,
          field_names(codec))
      end
      val = parse_value(codec, fd, it.value, it.name)
    end
    if seen[fd.name] and seen[fd.name] ~= val then
      util.usage("ob set: %s is given twice with different values", fd.name)
    end
    seen[fd.name] = val
    out[#out + 1] = { field = fd, value = val }
  end
  if #out == 0 then util.usage("ob set: give at least one NAME=VALUE (fields: %s)", field_names(codec)) end
  return out
end

--- Apply parsed changes to a raw block: the new raw block (reserved bytes unchanged).
function M.encode(raw, _codec, parsed)
  local bytes = { raw:byte(1, -1) }
  for _, c in ipairs(parsed) do put(bytes, c.field, c.value) end
  return string.char(table.unpack(bytes))
end

--- Check the safety rules for old -> new and collect what the change will do.
--- Returns { diff = {{name, old, new, old_text, new_text, meaning}...}, notes = {...} }.
function M.check(codec, old, new, opts)
  opts = opts or {}
  local what = opts.what or "ob set"
  local a, b = M.decode_raw(old, codec), M.decode_raw(new, codec)
  local diff, notes = {}, {}
  for _, fd in ipairs(codec.fields) do
    local o, n = a.fields[fd.name], b.fields[fd.name]
    if o ~= n then
      diff[#diff + 1] = { name = fd.name, old = o, new = n, old_text = fmt_value(fd, o),
                          new_text = fmt_value(fd, n), meaning = meaning(codec, fd, n, b.fields) }
      if fd.warn and fd.warn[n] then notes[#notes + 1] = fd.warn[n] end
      local why = fd.force and fd.force[n]
      if fd.force_unless and not fd.force_unless[n] then why = fd.force_text end
      if why and not opts.force then
        util.usage("%s: %s; add --force if that is what you want (nothing was written)", what, why)
      elseif why then
        notes[#notes + 1] = why
      end
    end
  end
  local lo, ln = a.rdp.level, b.rdp.level
  if a.rdp.value ~= b.rdp.value then
    if ln == 2 and not opts.permanently_lock_device then
      util.usage("%s: RDP=0x%02X is read protection level 2: it locks the chip for good (no " ..
        "debugger, no bootloader, no DFU ever again, option bytes frozen). Refused; only " ..
        "--permanently-lock-device allows it. Nothing was written.", what, b.rdp.value)
    end
    if ln == 2 then
      notes[#notes + 1] = "RDP level 2 is permanent: the device will never enter DFU again"
    elseif lo == 0 then
      if not opts.force then
        util.usage("%s: RDP=0x%02X turns on read protection (level 1). Removing it later " ..
          "(dfush unprotect) erases the whole flash. Add --force to confirm; nothing was written.",
          what, b.rdp.value)
      end
      notes[#notes + 1] = "read protection level 1: the flash can no longer be read, written or " ..
        "erased over DFU; the next unprotect (or RDP=0) erases the whole flash"
    elseif ln == 0 then
      if not opts.force then
        util.usage("%s: RDP=0xAA regresses read protection to level 0, which erases the whole " ..
          "flash. Add --force to confirm (or use dfush unprotect --force); nothing was written.", what)
      end
      notes[#notes + 1] = "RDP level 1 -> 0: the device erases the whole flash"
    end
  end
  if a.raw ~= b.raw and #diff == 0 then
    notes[#notes + 1] = "only bytes outside the decoded fields change"
  end
  return { diff = diff, notes = notes, before = a, after = b }
end

-- Write the block, expecting the device to reset; wait for it; re-read. Returns the outcome.
local function write_and_reread(dev, a, codec, old, new, opts)
  local log = opts.log or function() end
  local out = { reset = false, came_back = false }
  -- each zone of the block is written whole, and only when it changes (a dual-bank part
  -- keeps bank 2's options in a second zone); every write may reset the chip
  for _, z in ipairs(M.zones(codec)) do
    local data = new:sub(z.offset + 1, z.offset + z.size)
    if data ~= old:sub(z.offset + 1, z.offset + z.size) then
      util.check(dev:set_alt(a.alt))
      util.check(dev:abort_to_idle())
      local ok, msg, code = dev:write(z.address, data)
      local reset = false
      if ok then
        log("info", "option bytes written; the device did not reset")
      elseif code == "NO_DEVICE" or code == "PIPE" or code == "IO" or code == "TIMEOUT" then
        reset = true
        out.reset = true
        out.write_error = msg
        log("info", "the device left the bus after the option-byte write (the expected reset); " ..
          "waiting for it to come back")
      else
        local rdp = code == "STATUS" and M.refused_by_rdp(dev)
        util.raise(string.format("option-byte write failed: %s%s", tostring(msg),
          rdp and ("\n" .. M.RDP_HINT) or ""), code)
      end
      if reset then
        local ms = opts.reenumerate_ms or M.REENUM_MS
        local back, rmsg = dev:reenumerate(ms)
        if not back then
          out.gone = true
          out.gone_msg = rmsg
          return out
        end
        out.came_back = true
      end
    end
  end
  -- re-read; a device that drops off the bus again meanwhile is waited for once more
  local raw
  for attempt = 1, 3 do
    local okr, r = pcall(function()
      util.check(dev:set_alt(a.alt))
      dev:abort_to_idle()
      return read_block(dev, a, codec)
    end)
    if okr then raw = r break end
    if not (util.is_error(r) and (r.code == "NO_DEVICE" or r.code == "PIPE" or r.code == "IO"
        or r.code == "TIMEOUT")) or attempt == 3 then
      error(r, 0)
    end
    log("info", "the device dropped off the bus while reading back; waiting for it again")
    local back, rmsg = dev:reenumerate(opts.reenumerate_ms or M.REENUM_MS)
    if not back then
      out.gone, out.gone_msg = true, rmsg
      return out
    end
  end
  out.raw = raw
  local got = M.decode_raw(raw, codec)
  local want = M.decode_raw(new, codec)
  local before = M.decode_raw(old, codec)
  out.after = got
  local same = true
  for _, fd in ipairs(codec.fields) do
    if got.fields[fd.name] ~= want.fields[fd.name] then same = false end
  end
  if same then
    out.state = "written"
    if raw ~= new then out.note = "bytes outside the decoded fields read back differently" end
  elseif raw == old or got.raw == before.raw then
    out.state = "unchanged"
  else
    out.state = "different"
  end
  return out
end

--- Prepare a change: read the block, apply and check the changes. No write.
function M.prepare(dev, changes, opts)
  local a, codec = M.find(dev)
  local parsed = M.parse_changes(codec, changes)
  local raw = read_block(dev, a, codec)
  local new = M.encode(raw, codec, parsed)
  local c = M.check(codec, raw, new, opts)
  c.alt, c.codec, c.old, c.new = a, codec, raw, new
  return c
end

--- Write a prepared change and verify it. Raises when the device ends up other than asked,
--- with err.report holding what was found.
function M.apply(dev, c, opts)
  opts = opts or {}
  local t0 = dev:now()
  local report = { ok = false, family = c.codec.name, changed = c.diff, notes = c.notes,
                   sent = false, written = false, verified = false, reset = false }
  if c.old == c.new then
    report.ok, report.state = true, "nothing to change"
    report.after = c.before
    return report
  end
  local prev_alt = dev:alt()
  local okw, out = pcall(write_and_reread, dev, c.alt, c.codec, c.old, c.new, opts)
  if not out.gone and dev:alt() ~= prev_alt then dev:set_alt(prev_alt) end -- as the caller had it
  if not okw then error(out, 0) end
  report.sent = true
  report.written = out.state == "written"
  report.reset = out.reset
  report.after = out.after
  report.state = out.state or "gone"
  report.seconds = dev:now() - t0
  if out.gone then
    local lvl2 = c.after.rdp.level == 2
    report.verified = false
    local msg = lvl2 and "the device did not come back: with RDP level 2 the ROM never runs again, as expected"
      or string.format("the option bytes were sent and the device left the bus, but it did not come back " ..
        "within %.0f s (%s): with BOOT0 low it starts the application, or the new options keep it " ..
        "from entering the ROM. The write could not be verified; put the board in DFU mode and run " ..
        "dfush ob show", (opts.reenumerate_ms or M.REENUM_MS) / 1000, tostring(out.gone_msg))
    if lvl2 then report.ok = true return report end
    util.raise(msg, "NO_DEVICE", { report = report })
  end
  if out.state == "written" then
    report.ok, report.verified = true, true
    report.note = out.note
    return report
  end
  local found = {}
  for _, x in ipairs(out.after.list) do found[#found + 1] = x.name .. "=" .. x.text end
  if out.state == "unchanged" and not out.reset then
    util.raise("the option-byte write was accepted but the device did not reset and still reports " ..
      "the old values (" .. table.concat(found, " ") .. "); on this ROM they may only take effect " ..
      "after a reset: power-cycle with BOOT0 high and run dfush ob show", "VERIFY", { report = report })
  elseif out.state == "unchanged" then
    util.raise("the option-byte write did not take effect: after the device came back they are " ..
      "unchanged (" .. table.concat(found, " ") .. "). Nothing was changed; run the command again",
      "VERIFY", { report = report })
  end
  util.raise("after the write the device holds option bytes that differ from the ones written: " ..
    table.concat(found, " ") .. " (raw " .. out.after.raw .. ")", "VERIFY", { report = report })
end

--- Read, change, confirm (opts.confirm(prepared) -> bool), write, verify.
--- dfu.ob.set(dev, {RDP=..., WRP={0,1}, ...}, {force=, permanently_lock_device=, confirm=fn,
--- log=fn, reenumerate_ms=}) -> report
function M.set(dev, changes, opts)
  opts = opts or {}
  local c = M.prepare(dev, changes, opts)
  if c.old ~= c.new and opts.confirm and not opts.confirm(c) then
    util.raise("cancelled; nothing was written", "CANCELLED")
  end
  return M.apply(dev, c, opts)
end

-- ---- unprotect ----

--- Read the whole flash alt and check it is erased. Returns true or the first address that
--- is not 0xFF, plus the size read.
function M.flash_erased(dev, progress)
  local a = family_mod.alt_with_role(family_mod.of(dev), dev:alts(), "flash")
  if not a then return nil, "the device has no flash alt setting" end
  local chunk = require("dfu.flash").transfer_size(dev) * 16
  local total = 0
  for _, r in ipairs(a.layout.runs) do total = total + r.count * r.size end
  local done = 0
  if progress then progress("verify", 0, total) end
  local res = on_alt(dev, a.alt, function()
    for _, r in ipairs(plan_mod.ranges(plan_mod.sectors(a.layout), function(s) return s.readable ~= false end)) do
      local off = 0
      while off < r.size do
        local n = math.min(chunk, r.size - off)
        local got, msg, code = dev:read(r.address + off, n)
        if not got then
          local rdp = M.refused_by_rdp(dev)
          util.raise(string.format("reading the flash at %s failed: %s%s", hex(r.address + off), msg,
            rdp and ("\n" .. M.RDP_HINT) or ""), rdp and "PROTECTED" or code)
        end
        if got ~= plan_mod.FF[#got] then
          local i = got:find("[^\255]")
          return r.address + off + i - 1
        end
        off = off + n
        done = done + n
        if progress then progress("verify", done, total) end
      end
    end
    return true
  end)
  dev:abort_to_idle()
  return res, total, a
end

--- READ_UNPROTECT: RDP to level 0 with a full flash erase; wait for the device; check level 0
--- and an erased flash by reading. Raises on failure.
function M.unprotect(dev, opts)
  opts = opts or {}
  local log = opts.log or function() end
  local t0 = dev:now()
  local report = { ok = false, erased = false, verified = false }
  local prev_alt = dev:alt()
  local a = M.find(dev)
  local ok, before = pcall(M.read_decoded, dev)
  if ok then
    report.before = before.rdp
    log("info", string.format("read protection now: %s (RDP 0x%02X)", before.rdp.text, before.rdp.value))
  end
  util.check(dev:abort_to_idle())
  local okc, msg, code = dev:read_unprotect()
  if not okc then
    util.raise("read unprotect failed: " .. tostring(msg), code, { report = report })
  end
  log("info", "read unprotect started: the device erases the whole flash and resets; waiting for it")
  local back, rmsg = dev:reenumerate(opts.reenumerate_ms or M.UNPROTECT_MS)
  if not back then
    util.raise(string.format("after read unprotect the device did not come back within %.0f s (%s); " ..
      "power-cycle it with BOOT0 high and run dfush ob show", (opts.reenumerate_ms or M.UNPROTECT_MS) / 1000,
      tostring(rmsg)), "NO_DEVICE", { report = report })
  end
  report.reset = true
  util.check(dev:set_alt(a.alt))
  local after = M.read_decoded(dev)
  report.after = after.rdp
  report.level = after.rdp.level
  local erased, size, fa = M.flash_erased(dev, opts.progress)
  if fa then report.flash = { address = fa.layout.runs[1].address, size = size } end
  report.seconds = dev:now() - t0
  if after.rdp.level ~= 0 then
    util.raise(string.format("after read unprotect the device reports %s (RDP 0x%02X), not level 0",
      after.rdp.text, after.rdp.value), "VERIFY", { report = report })
  end
  if erased ~= true then
    util.raise(string.format("read protection is now level 0, but the flash is not erased: %s holds data",
      math.type(erased) == "integer" and hex(erased) or tostring(size)), "VERIFY", { report = report })
  end
  report.erased, report.verified, report.ok = true, true, true
  if dev:alt() ~= prev_alt then dev:set_alt(prev_alt) end
  return report
end

-- ---- write protection for the flash job ----

--- Sectors of layout (default: the layout of the device's flash alt) that are
--- write-protected: {{index=, address=, size=}...}, plus a list of sectors whose
--- protection the option bytes do not show (H7 bank 2). d: decoded option bytes (read when nil).
function M.protected_sectors(dev, layout, d)
  d = d or M.read_decoded(dev)
  local w = d.codec.wrp
  if not layout then
    local a = family_mod.alt_with_role(family_mod.of(dev), dev:alts(), "flash")
    layout = a and a.layout
  end
  local out, unknown = {}, {}
  if not (w and layout) then return out, unknown end
  local prot = {}
  for _, i in ipairs(d.wrp) do prot[i] = true end
  for i, s in ipairs(plan_mod.sectors(layout)) do
    local idx = i - 1
    if prot[idx] then
      out[#out + 1] = { index = idx, address = s.address, size = s.size }
    elseif idx >= w.sectors and w.unknown_after then
      unknown[#unknown + 1] = { index = idx, address = s.address, size = s.size }
    end
  end
  return out, unknown
end

--- Before a flash job erases anything: refuse when read protection is active (exit 1) or
--- when a sector the job erases or writes is write-protected (exit 2). Devices without a
--- known option-byte block are not checked.
--- read() reads and decodes the option bytes (default M.read_decoded, once); a read that
--- still fails stops the job: without it a protected sector would be "written" silently.
function M.check_plan(dev, plan, _log, read)
  local want
  for _, part in ipairs(plan.parts) do
    local role = part.role or family_mod.role(family_mod.of(dev), part)
    if role == "flash" then want = part break end
  end
  if not want then return end
  local okf, _, codec = pcall(M.find, dev)
  if not okf or not codec then return end
  local ok, d = util.pcall(read or function() return M.read_decoded(dev) end)
  if not ok then
    if util.is_error(d) and d.code == "PROTECTED" then
      util.raise("flash: " .. M.RDP_HINT .. "; nothing was erased", "PROTECTED", { phase = "protection check" })
    end
    local msg = util.is_error(d) and d.msg or tostring(d)
    util.raise("flash: the option bytes could not be read to check read and write protection (" .. msg ..
      "); a write-protected sector would be skipped by the ROM without an error, so the job stops " ..
      "here. Nothing was erased; run the same command again.",
      util.is_error(d) and d.code ~= "USAGE" and d.code or "ERROR", { phase = "protection check" })
  end
  if d.rdp.level ~= 0 then
    util.raise(string.format("flash: %s (RDP 0x%02X); nothing was erased", M.RDP_HINT, d.rdp.value), "PROTECTED",
      { phase = "protection check" })
  end
  local prot = M.protected_sectors(dev, want.layout, d)
  if #prot == 0 then return end
  local touched, seen = {}, {}
  local function touch(addr, stop)
    while addr < stop do
      local i = plan_mod.find(want.sectors, addr)
      if not i then break end
      local s = want.sectors[i]
      for _, p in ipairs(prot) do
        if p.address == s.address and not seen[p.index] then
          seen[p.index] = true
          touched[#touched + 1] = p
        end
      end
      addr = s.address + s.size
    end
  end
  for _, s in ipairs(want.segments) do touch(s.address, s.address + plan_mod.size(s)) end
  for _, e in ipairs(want.erase) do touch(e.address, e.address + e.size) end
  if #touched == 0 then return end
  table.sort(touched, function(x, y) return x.index < y.index end)
  local names, idx = {}, {}
  for _, p in ipairs(touched) do
    names[#names + 1] = string.format("sector %d (%s)", p.index, util.range(p.address, p.size))
    idx[#idx + 1] = p.index
  end
  local keep = {}
  for _, i in ipairs(d.wrp) do
    if not seen[i] then keep[#keep + 1] = i end
  end
  util.raise(string.format("flash: the image needs write-protected %s; the ROM neither erases " ..
    "nor writes a protected sector and reports no error (only verify would notice). Nothing was " ..
    "erased. Remove the protection first: " ..
    "dfush ob set WRP=%s", table.concat(names, ", "), #keep > 0 and table.concat(keep, ",") or "none"),
    "RANGE", { address = touched[1].address, protected = idx, phase = "protection check" })
end

-- ---- option bytes and OTP inside a flash job ----


--- The guard every flash job passes before it sends anything (flash.execute): a part that
--- writes option bytes becomes a read-modify-write of the whole block, decoded and checked by
--- the same rules as dfush ob set (RDP 2 only with permanently_lock_device, RDP level changes
--- only with force, fields by name), and a part that writes OTP needs opts.write_otp and may
--- only program bytes that are still 0xFF or already hold the same value. Raises USAGE or
--- RANGE (exit 2) with nothing sent; sets part.ob = the prepared change for M.apply.
--- read(a, address, size) reads the current bytes (with the job's recovery).
function M.guard_parts(plan, opts, read, log)
  log = log or function() end
  for _, part in ipairs(plan.parts) do
    local a = { alt = part.alt, name = part.name, layout = part.layout }
    if part.role == "option_bytes" then
      local codec = M.codec_of_alt(a, plan.family)
      if not codec then
        util.usage("%s holds option bytes that dfush cannot decode for this device (no option-byte " ..
          "codec; known: %s); writing them blind could lock the chip. Refused; nothing was sent.",
          part.label, M.known())
      end
      for _, sg in ipairs(part.segments) do
        local stop = sg.address + plan_mod.size(sg)
        if sg.address < codec.address or stop > codec.address + codec.size then
          util.raise(string.format("%s: %s-%s is outside the %s option-byte block %s", sg.path or "image",
            hex(sg.address), hex(stop - 1), codec.name, util.range(codec.address, codec.size)),
            "RANGE", { address = sg.address, file = sg.path })
        end
      end
      local old = read(a, codec.address, codec.size)
      local bytes = { old:byte(1, -1) }
      for _, sg in ipairs(part.segments) do
        local data = sg.data
        for i = 1, #data do bytes[sg.address - codec.address + i] = data:byte(i) end
      end
      local new = string.char(table.unpack(bytes))
      local c = M.check(codec, old, new, { force = opts.force, what = "flash " .. part.label,
        permanently_lock_device = opts.permanently_lock_device })
      c.alt, c.codec, c.old, c.new = a, codec, old, new
      part.ob = c
      if old == new then
        log("info", string.format("%s: the option bytes already hold these values; nothing to write", part.label))
      end
      for _, d in ipairs(c.diff) do
        log("info", string.format("option bytes: %s %s -> %s  %s", d.name, d.old_text, d.new_text, d.meaning))
      end
      for _, n in ipairs(c.notes) do log("warn", n) end
    elseif part.role == "otp" then
      if not opts.write_otp then
        util.usage("%s is one-time programmable: bytes written there can never be erased or changed " ..
          "(lock bytes lock their block for good). Add --write-otp (Lua: write_otp = true) if that is " ..
          "what you want; nothing was sent.", part.label)
      end
      for _, sg in ipairs(part.segments) do
        local data = sg.data
        local cur = read(a, sg.address, #data)
        for i = 1, #data do
          local have, want = cur:byte(i), data:byte(i)
          if have ~= 0xFF and have ~= want then
            util.raise(string.format("%s: OTP byte %s already holds 0x%02X and cannot become 0x%02X " ..
              "(one-time programmable); nothing was sent", sg.path or "image", hex(sg.address + i - 1), have,
              want), "RANGE", { address = sg.address + i - 1, file = sg.path })
          end
        end
      end
      log("warn", string.format("writing %d bytes of one-time programmable memory (%s)", part.bytes, part.label))
    end
  end
end

-- ---- confirmation on a terminal ----

--- Whether stdin is a terminal (DFUSH_ASSUME_TTY=1|0 overrides, for tests and wrappers).
function M.stdin_is_tty()
  local force = os.getenv("DFUSH_ASSUME_TTY")
  if force == "1" then return true elseif force == "0" then return false end
  return require("dfu.core").isatty(0)
end

--- Ask a yes/no question on stream (stderr), reading the answer from stdin.
function M.ask(stream, question)
  stream:write(question, " [y/N] ")
  if stream.flush then stream:flush() end
  local a = io.stdin:read("l")
  return a ~= nil and (a:match("^%s*[yY]") ~= nil)
end

-- ---- the Lua API (raising; require "dfu" gives the nil, msg, code forms) ----

--- dfu.ob.read(dev) -> raw block, decoded table
function M.read(dev)
  local d = M.read_decoded(dev)
  return d.raw_bytes, d
end

--- dfu.ob.decode(raw [, codec | family name]) -> decoded table
function M.decode(raw, codec)
  if type(raw) ~= "string" then
    error("bad argument #1 to 'decode' (string expected, got " .. type(raw) .. ")", 2)
  end
  if type(codec) == "string" then
    for _, c in ipairs(M.codecs()) do if c.name == codec then codec = c end end
  end
  return M.decode_raw(raw, type(codec) == "table" and codec or nil)
end

return M
