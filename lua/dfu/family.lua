-- Family descriptors: what the library knows about a kind of DFU device, found in vendor
-- folders on the recipe path. Every `<dir>/<vendor>/families.lua` (dir: the --recipes
-- directories, the built-in scripts/, then $DFUSH_PATH) returns a list of descriptors:
--
--   {
--     name = "ACME Widget ROM",                 -- shown by info and in messages
--     match = { vid = 0x1234, pid = 0x5678,     -- every key given must match; also:
--               dfuse = true | false,           --   DfuSe (bcdDFU 0x011A) or not
--               bcd_device = 0x0200,            --   the USB bcdDevice
--               option_bytes = ADDR,            --   start of the option-byte alt's layout
--               option_bytes_size = N,          --   bytes of its first zone
--               flash = ADDR,                   --   start of the flash alt's layout
--               flash_size = N | {min, max},    --   bytes of the flash alt's layout
--               alt_names = { [n] = "pattern" },--   Lua pattern on alt n's string as reported
--               product = "pattern" },          --   Lua pattern on the product string
--     alt_layouts = { [n] = "@Name /0x.../.." } -- what alt n really is, when the ROM reports it
--       | function(info, alts) -> {...},        -- wrongly (dfush uses this, info shows both)
--     program_unit = 8,                         -- bytes the flash programs at once
--     alts = { flash = "Internal Flash", ... }, -- alt roles by name prefix (default: ROLES)
--     option_bytes = "acme.ob",                 -- codec module in the vendor folder (dfu.ob)
--     id_address = ADDR,                        -- where the bootloader ID byte is read
--     ram = { {start, end}... },                -- RAM an application stack may use
--     rom_startup_ms = N, usb_connect_ms = N,   -- how long the ROM takes to come back
--     known_bugs = { { ids = {...}, kind = "sp_margin" | "go_broken" | "side_effect",
--                      margin = N, version =, cite =, text =, source =, summary = } },
--     program_over_erased = true,               -- units reading 0xFF programmable without erase
--     timings = { erase_ms = { [size] = ms }, mass_erase_ms =, program_us_per_byte = },
--     boot = { vector_table = false },          -- the core has no vector table: code starts at
--                                               -- an address itself (no stack word); dfu.leave
--                                               -- leaves at the entry point
--     erase_busy_recovery = "clrstatus",        -- an erase left in dfuDNBUSY is ended with
--                                               -- two CLRSTATUS (what ST's tools do)
--     erase_shift = { sectors = N, from = I,    -- the ROM erases sector i + by when asked for
--                     by = K, cite = },         -- sector i >= from (of N): dfu.plan asks for
--                                               -- i - by, and refuses what it cannot reach
--     device_feature = { address =, ... },      -- anything else the vendor's recipes use
--   }
--
-- The library holds no vendor names: a vendor is added by dropping its folder on the path.
local util = require "dfu.util"

local M = {}

M.DEFAULT = { name = "generic DfuSe", program_unit = 8, known_bugs = {} }
M.PLAIN = { name = "DFU 1.1", program_unit = 1, known_bugs = {} }

-- Alt roles by the names DfuSe devices give their alt settings (protocol.md 2.2), for
-- descriptors without their own `alts` and for devices no descriptor matches.
M.ROLES = {
  flash = "Internal Flash", option_bytes = "Option Bytes", otp = "OTP", feature = "Device Feature",
}

local tables

local function warn(msg)
  io.stderr:write("dfush: warning: ", msg, "\n")
end

-- The vendor folders of dir: subdirectories holding a families.lua.
local function vendors_in(dir)
  local core = require "dfu.core"
  local names = core.listdir and core.listdir(dir) or nil
  local out = {}
  for _, n in ipairs(names or {}) do
    if n:match("^[%w_%-]+$") then
      local f = io.open(dir .. "/" .. n .. "/families.lua", "r")
      if f then
        f:close()
        out[#out + 1] = n
      end
    end
  end
  table.sort(out)
  return out
end

-- Load one families.lua; a broken file is reported and skipped, never fatal.
local function load_vendor(path, vendor)
  local chunk, err = loadfile(path, "t", {})
  if not chunk then
    warn(err)
    return {}
  end
  local ok, t = util.pcall(chunk)
  if not ok or type(t) ~= "table" then
    warn(path .. ": must return a list of family descriptors" .. (ok and "" or (": " .. tostring(t))))
    return {}
  end
  local out = {}
  for i, f in ipairs(t) do
    if type(f) ~= "table" or type(f.name) ~= "string" or type(f.match or {}) ~= "table" then
      warn(string.format("%s: descriptor %d needs a name and a match table; skipped", path, i))
    else
      f.vendor = f.vendor or vendor
      f.dir = path:match("^(.*)/[^/]*/[^/]*$")
      f.known_bugs = f.known_bugs or {}
      out[#out + 1] = f
    end
  end
  return out
end

--- Every family descriptor on the recipe path, in path order; a vendor folder name found in
--- an earlier directory hides the same name later on.
function M.tables()
  if tables then return tables end
  tables = {}
  local seen = {}
  for _, dir in ipairs(package.dfush_scripts or {}) do
    for _, vendor in ipairs(vendors_in(dir)) do
      if not seen[vendor] then
        seen[vendor] = true
        for _, f in ipairs(load_vendor(dir .. "/" .. vendor .. "/families.lua", vendor)) do
          tables[#tables + 1] = f
        end
      end
    end
  end
  return tables
end

--- Replace the descriptors (nil: find them again on the recipe path).
function M.set_tables(t) tables = t end

--- Role of an alt table ({alt=, name=, layout=}) in family fam: "flash", "option_bytes",
--- "otp", "feature" or "memory" (anything else: RAM, external flash, ...).
function M.role(fam, a)
  local name = ((a.layout and a.layout.name) or a.name or ""):lower():gsub("^@", ""):gsub("^%s+", "")
  local roles = (fam and fam.alts) or M.ROLES
  for _, role in ipairs({ "flash", "option_bytes", "otp", "feature" }) do
    local prefix = roles[role]
    if prefix and name:find(prefix:lower(), 1, true) == 1 then return role end
  end
  return "memory"
end

--- The first alt of alts with role, or nil.
function M.alt_with_role(fam, alts, role)
  for _, a in ipairs(alts) do
    if a.layout and M.role(fam, a) == role then return a end
  end
end

local function region_base(fam, alts, role)
  local a = M.alt_with_role(fam, alts, role)
  return a and a.layout.runs[1] and a.layout.runs[1].address
end

-- Bytes of the first zone (first=true) or of the whole layout of the alt with role.
local function region_size(fam, alts, role, first)
  local a = M.alt_with_role(fam, alts, role)
  if not (a and a.layout.runs[1]) then return nil end
  local n, zone = 0, a.layout.runs[1].address
  for _, r in ipairs(a.layout.runs) do
    if first and r.address ~= zone then break end
    n = n + r.count * r.size
    zone = r.address + r.count * r.size
  end
  return n
end

local function in_range(v, want)
  if type(want) == "table" then
    return v ~= nil and (not want[1] or v >= want[1]) and (not want[2] or v <= want[2])
  end
  return v == want
end

local function matches(f, info, alts)
  local m = f.match or {}
  if m.vid and m.vid ~= info.vid then return false end
  if m.pid and m.pid ~= info.pid then return false end
  if m.bcd_device and m.bcd_device ~= info.bcd_device then return false end
  if m.dfuse ~= nil and m.dfuse ~= (info.dfuse and true or false) then return false end
  if m.product and not tostring(info.product or ""):find(m.product) then return false end
  if m.option_bytes and m.option_bytes ~= region_base(f, alts, "option_bytes") then return false end
  if m.option_bytes_size and m.option_bytes_size ~= region_size(f, alts, "option_bytes", true) then
    return false
  end
  if m.flash and m.flash ~= region_base(f, alts, "flash") then return false end
  if m.flash_size and not in_range(region_size(f, alts, "flash"), m.flash_size) then return false end
  for n, pat in pairs(m.alt_names or {}) do
    local a
    for _, x in ipairs(alts) do if x.alt == n then a = x end end
    if not (a and tostring(a.name or ""):find(pat)) then return false end
  end
  return true
end

--- Family of a device described by its info() and alts() tables.
function M.match(info, alts)
  for _, f in ipairs(M.tables()) do
    if matches(f, info, alts) then return f end
  end
  return info.dfuse and M.DEFAULT or M.PLAIN
end

-- The alt settings as the device reports them (before any alt_layouts fix).
local function raw_alts(dev)
  return dev.raw_alts and dev:raw_alts() or dev:alts()
end

--- Family of an open device.
function M.of(dev)
  return M.match(dev:info(), raw_alts(dev))
end

--- The alt settings of a device with the family's alt_layouts applied: an alt whose string
--- the ROM reports wrongly gets the layout of the descriptor (its name becomes that string,
--- `reported` keeps the ROM's). Other alts are returned as the device reports them.
function M.alts(dev, fam)
  local alts = raw_alts(dev)
  fam = fam or M.match(dev:info(), alts)
  local fix = fam.alt_layouts
  if type(fix) == "function" then
    local ok, t = util.pcall(fix, dev:info(), alts)
    if not ok then
      warn(string.format("%s: alt_layouts failed: %s", fam.name, tostring(t)))
      return alts
    end
    fix = t
  end
  if type(fix) ~= "table" then return alts end
  local core = require "dfu.core"
  for _, a in ipairs(alts) do
    local str = fix[a.alt]
    if type(str) == "string" and str ~= a.name then
      local layout = core.parse_layout(str)
      if layout then
        a.reported = a.name
        a.name, a.layout = str, layout
      else
        warn(string.format("%s: alt_layouts[%d] is not a layout string: %s", fam.name, a.alt, str))
      end
    end
  end
  return alts
end

--- The known bugs of family fam's ROM with bootloader ID rom_id (a list, maybe empty).
function M.bugs(fam, rom_id)
  local out = {}
  if not (fam and rom_id) then return out end
  for _, b in ipairs(fam.known_bugs or {}) do
    for _, id in ipairs(b.ids or {}) do
      if id == rom_id then out[#out + 1] = b end
    end
  end
  return out
end

--- One line on the known bugs of rom_id for info, or nil.
function M.bug_summary(fam, rom_id)
  local t = {}
  for _, b in ipairs(M.bugs(fam, rom_id)) do
    if b.summary then t[#t + 1] = b.summary end
  end
  return #t > 0 and table.concat(t, "; ") or nil
end

--- The module a descriptor names (its option-byte codec, ...), loaded from the recipe path.
function M.module(name)
  if type(name) ~= "string" then return name end
  local ok, m = util.pcall(util.require_script, name)
  if ok then return m end
  warn(tostring(m))
  return nil
end

return M
