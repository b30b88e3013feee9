-- Shared helpers of the Lua library: the dfu.Error object, check(), number parsing and
-- formatting. No device access here.
local M = {}

local Error = {}
Error.__index = Error
Error.__name = "dfu.Error"
Error.__tostring = function(e)
  if e.code and e.code ~= "" then return string.format("%s (%s)", e.msg, e.code) end
  return tostring(e.msg)
end
M.Error = Error

--- Whether err is the error Ctrl-C raised in the dfush host (lua/host.c raises "interrupted"
--- from a hook at whatever Lua code runs, and sets the flag dfu.core.interrupted reads).
function M.is_interrupt(err)
  if type(err) ~= "string" or not err:find("interrupted$") then return false end
  local ok, core = pcall(require, "dfu.core")
  return ok and core.interrupted() or false
end

--- pcall that lets Ctrl-C through: for code that tolerates a failing step (optional tables,
--- best-effort reads) but must not swallow the user's interrupt.
function M.pcall(f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] and M.is_interrupt(r[2]) then error(r[2], 0) end
  return table.unpack(r, 1, r.n)
end

--- The nil, msg, code, err form of a function that raises dfu.Error (the cjson.safe
--- pattern; the façade's one place for it). Anything else raised (a caller's mistake, a bug,
--- Ctrl-C) propagates.
function M.safe(fn)
  return function(...)
    local r = table.pack(pcall(fn, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    if M.is_error(r[2]) then return nil, r[2].msg, r[2].code, r[2] end
    error(r[2], 0)
  end
end

--- A view of module mod whose functions named in names are in their safe form (M.safe).
function M.safe_module(mod, names)
  local t = {}
  for _, n in ipairs(names) do t[n] = M.safe(mod[n]) end
  return setmetatable(t, { __index = mod })
end

--- Make a dfu.Error table. `fields` may add status=, state=, address=, file=, hint= ...
function M.error_new(msg, code, fields)
  local e = setmetatable({}, Error)
  if fields then for k, v in pairs(fields) do e[k] = v end end
  e.msg = tostring(msg or "error")
  e.code = code or e.code or "ERROR"
  return e
end

function M.is_error(v)
  -- by name, not identity: a second copy of this module (package.loaded reset, busted's
  -- insulation) makes errors with its own metatable, and they are still dfu.Errors
  local mt = getmetatable(v)
  return mt == Error or (type(mt) == "table" and rawget(mt, "__name") == "dfu.Error")
end

--- Raise a dfu.Error (level 0: the message carries no position, the host prints it as is).
function M.raise(msg, code, fields)
  error(M.error_new(msg, code, fields), 0)
end

--- check(v, msg, code, ...): return all arguments when v is truthy, else raise a dfu.Error
--- built from the primitive's (nil, msg, code) triple. A trailing table adds fields.
function M.check(v, msg, code, ...)
  if v then return v, msg, code, ... end
  local extra = select("#", ...) > 0 and select(1, ...) or nil
  M.raise(msg or "failed", code, type(extra) == "table" and extra or nil)
end

--- Usage error (exit status 2, nothing sent to the device).
function M.usage(fmt, ...)
  M.raise(select("#", ...) > 0 and string.format(fmt, ...) or fmt, "USAGE")
end

local SUFFIX = { k = 1024, K = 1024, m = 1024 * 1024, M = 1024 * 1024 }

--- Parse "123", "0x08000000", and with allow_suffix "128K", "1M", "0x20K".
--- Returns the integer or nil and a message.
function M.parse_number(s, allow_suffix)
  if math.type(s) == "integer" then return s end
  if type(s) ~= "string" then return nil, "not a number" end
  local body, suf = s:match("^%s*(.-)([kKmM]?)%s*$")
  if suf ~= "" and not allow_suffix then return nil, string.format("'%s' is not a number", s) end
  local n, digits
  if body:match("^0[xX]%x+$") then
    digits = body:sub(3):gsub("^0+", "")
    n = #digits <= 9 and tonumber(body:sub(3), 16) or nil
  elseif body:match("^%d+$") then
    digits = body:gsub("^0+", "")
    n = #digits <= 11 and tonumber(body, 10) or nil
  end
  if not n and digits then
    return nil, string.format("'%s' is too large: addresses and lengths end at 4 GiB (0x100000000)", s)
  end
  if not n or math.type(n) ~= "integer" then
    return nil, string.format("'%s' is not a number (use decimal or 0x hex%s)", s,
      allow_suffix and ", with an optional K or M suffix" or "")
  end
  if suf ~= "" then n = n * SUFFIX[suf] end
  if n > M.ADDRESS_SPACE then
    return nil, string.format("'%s' is too large: addresses and lengths end at 4 GiB (0x100000000)", s)
  end
  return n
end

--- Addresses are 32-bit: an address is below this, a length at most this.
M.ADDRESS_SPACE = 0x100000000

--- Parse an address argument or raise a usage error naming `what`.
function M.addr_arg(s, what)
  local n, msg = M.parse_number(s, false)
  if not n then M.usage("%s: %s", what or "address", msg) end
  if n < 0 or n > 0xFFFFFFFF then M.usage("%s: %s is outside the 32-bit address space", what, s) end
  return n
end

function M.len_arg(s, what)
  local n, msg = M.parse_number(s, true)
  if not n then M.usage("%s: %s", what or "length", msg) end
  if n <= 0 then M.usage("%s: length must be positive, got %s", what or "length", s) end
  return n
end

--- Check that [addr, addr+len) fits the 32-bit address space; raise a usage error naming what.
function M.check_span(addr, len, what)
  if addr + len > M.ADDRESS_SPACE then
    M.usage("%s: %d bytes at %s run past the end of the 32-bit address space (0xFFFFFFFF)", what or "range",
      len, M.hex(addr))
  end
end

function M.hex(n) return string.format("0x%08X", n) end

--- Human size: 1536 -> "1.5 KiB".
function M.size(n)
  if n >= 1024 * 1024 then return string.format("%.2f MiB", n / 1048576) end
  if n >= 1024 then return string.format("%.1f KiB", n / 1024) end
  return string.format("%d B", math.floor(n + 0.5))
end

--- "[0x08000000, 0x08020000)" style range text for messages.
function M.range(a, len) return string.format("%s-%s", M.hex(a), M.hex(a + len - 1)) end

function M.round_down(v, unit) return v - v % unit end
function M.round_up(v, unit) return v + (unit - v % unit) % unit end

--- require for the recipe directories' modules: "stm32.ob_f4" is DIR/stm32/ob_f4.lua in the
--- first of package.dfush_scripts that has it (set by the host, or by require "dfu" next to
--- the module), else whatever require finds on package.path. Raises like require.
function M.require_script(name)
  if package.loaded[name] ~= nil then return package.loaded[name] end
  local rel = name:gsub("%.", "/") .. ".lua"
  for _, dir in ipairs(package.dfush_scripts or {}) do
    local path = dir .. "/" .. rel
    local chunk, err = loadfile(path)
    if chunk then
      local v = chunk(name, path)
      if v == nil then v = true end
      package.loaded[name] = v
      return v
    else
      local f = io.open(path, "r")
      if f then
        f:close()
        error(string.format("error loading module '%s' from file '%s':\n\t%s", name, path, err), 2)
      end
    end
  end
  return require(name)
end

--- Raise a FORMAT error (exit status 2) naming `path` when the image `img` holds no data at
--- all (a HEX file with only its end record): commands that write or compare an image refuse
--- it instead of reporting success for nothing. Returns img.
function M.need_data(img, path)
  if img:size() > 0 then return img end
  for _, t in ipairs(img:targets() or {}) do
    if t.image:size() > 0 then return img end
  end
  M.raise(string.format("%s: the image contains no data", path), "FORMAT", { file = path })
end

--- Split "file.bin@0x08000000" into path and base (integer or nil), as dfu.image.load reads
--- it (dfu.image.split, the one parser of FILE@ADDR). An address past 32 bits is a usage error.
function M.split_at(arg)
  local path, base, code = require("dfu.image").split(arg)
  if not path then M.raise(base, code == "INVALID" and "USAGE" or code) end
  return path, base
end

--- The edit distance (insertions, deletions, substitutions, swaps of neighbours) of a and b.
function M.edit_distance(a, b)
  local prev2, prev = nil, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if prev2 and i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        cur[j] = math.min(cur[j], prev2[j - 2] + 1)
      end
    end
    prev2, prev = prev, cur
  end
  return prev[#b]
end

--- The candidate a mistyped word most likely meant, or nil: the only one it begins, else the
--- nearest within 1 edit (words up to 4 characters) or 2 edits (longer ones).
function M.suggest(word, candidates)
  local prefixed, best, bestd = {}, nil, (#word <= 4) and 1 or 2
  for _, c in ipairs(candidates) do
    if #word >= 2 and c:sub(1, #word) == word and c ~= word then prefixed[#prefixed + 1] = c end
  end
  if #prefixed == 1 then return prefixed[1] end
  for _, c in ipairs(candidates) do
    local d = M.edit_distance(word:lower(), c:lower())
    if d <= bestd and (best == nil or d < M.edit_distance(word:lower(), best:lower())) then best = c end
  end
  return best
end

--- Load a FILE[@ADDR] argument once: the image, its path and the @ADDR given (or nil). A raw
--- binary without @ADDR loads at address 0 with placed = false, for callers that take an
--- unplaced blob (plain DFU 1.1); others raise with the reader's message. opts.need_data:
--- refuse an image without data.
function M.load_image(arg, opts)
  opts = opts or {}
  local image = require "dfu.image"
  local path, base = M.split_at(arg)
  local img, msg, code = image.load(path, { base = base or 0 })
  if not img then
    M.raise(msg, (code == "NOT_FOUND" or code == "IO" or code == "ACCESS") and "USAGE" or "FORMAT",
      { file = path })
  end
  local placed = base ~= nil or img:format() ~= "bin"
  if not placed and not opts.unplaced then
    M.raise(string.format("%s: raw binary needs a base address (FILE@ADDR, e.g. @0x08000000)", path), "USAGE",
      { file = path })
  end
  if opts.need_data then M.need_data(img, path) end
  return img, path, base, placed
end

--- Check before any device work that an output file can be created: its directory exists
--- and takes a new file, and the path is not a directory. Raises a usage error naming it.
function M.check_output(path)
  local f = io.open(path, "rb")
  if f then
    local _, _, errno = f:read(1)
    f:close()
    if errno == 21 then M.usage("%s is a directory; give a file name", path) end
  end
  local dir = path:match("^(.*)/[^/]*$") or "."
  if dir == "" then dir = "/" end
  local probe = string.format("%s/.dfush-%d-%d.probe", dir, os.time(), math.random(1 << 30))
  local pf, msg = io.open(probe, "wb")
  if not pf then
    M.usage("cannot create %s: %s", path, (msg or "?"):gsub("^.-: ", ""))
  end
  pf:close()
  os.remove(probe)
end

--- First index where strings a and b differ (1-based), or nil.
function M.first_diff(a, b)
  if a == b then return nil end
  local n = math.min(#a, #b)
  -- binary search on equal prefixes of growing blocks keeps this fast for large strings
  local lo = 1
  local step = 4096
  while lo <= n do
    local hi = math.min(lo + step - 1, n)
    if a:sub(lo, hi) ~= b:sub(lo, hi) then
      for i = lo, hi do
        if a:byte(i) ~= b:byte(i) then return i end
      end
    end
    lo = hi + 1
  end
  return n + 1
end

return M
