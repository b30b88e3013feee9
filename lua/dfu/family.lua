-- Find the family knowledge (scripts/stm32/families.lua and friends) for an open device.
local util = require "dfu.util"

local M = {}

M.DEFAULT = { name = "generic DfuSe", program_unit = 8, known_bugs = {} }
M.PLAIN = { name = "DFU 1.1", program_unit = 1, known_bugs = {} }

local tables

--- The family tables: every scripts/<family>/families.lua found on the recipe path.
function M.tables()
  if tables then return tables end
  tables = {}
  local dirs = package.dfush_scripts or {}
  local seen = {}
  for _, dir in ipairs(dirs) do
    for _, fam in ipairs({ "stm32" }) do
      local path = dir .. "/" .. fam .. "/families.lua"
      local chunk = loadfile(path, "t", {})
      if chunk and not seen[fam] then
        local ok, t = util.pcall(chunk)
        if ok and type(t) == "table" then
          seen[fam] = true
          for _, f in ipairs(t) do tables[#tables + 1] = f end
        end
      end
    end
  end
  if not seen.stm32 then
    local ok, t = util.pcall(require, "stm32.families")
    if ok and type(t) == "table" then
      for _, f in ipairs(t) do tables[#tables + 1] = f end
    end
  end
  return tables
end

--- For tests: replace the tables.
function M.set_tables(t) tables = t end

local function region_base(alts, prefix)
  for _, a in ipairs(alts) do
    local l = a.layout
    if l and l.name and l.name:lower():find(prefix:lower(), 1, true) == 1 and l.runs[1] then
      return l.runs[1].address
    end
  end
end

--- Family of a device described by its info() and alts() tables.
function M.match(info, alts)
  if not info.dfuse then return M.PLAIN end
  local ob = region_base(alts, "Option Bytes")
  local flash = region_base(alts, "Internal Flash")
  for _, f in ipairs(M.tables()) do
    local m = f.match or {}
    if (not m.vid or m.vid == info.vid) and (not m.pid or m.pid == info.pid)
        and (not m.option_bytes or m.option_bytes == ob)
        and (not m.flash or m.flash == flash) then
      return f
    end
  end
  return M.DEFAULT
end

-- What an alt setting holds, by the name its layout string gives (protocol.md 2.2): the
-- roles the flash job treats differently. A family table may give its own list (roles =
-- {{prefix=, role=}...}); these are the names the DfuSe ROMs use.
M.ROLES = {
  { prefix = "internal flash", role = "flash" },
  { prefix = "option bytes", role = "option_bytes" },
  { prefix = "otp", role = "otp" },
  { prefix = "device feature", role = "feature" },
}

--- Role of an alt table ({alt=, name=, layout=}) in family fam: "flash", "option_bytes",
--- "otp", "feature" or "memory" (anything else: RAM, external flash, ...).
function M.role(fam, a)
  local name = ((a.layout and a.layout.name) or a.name or ""):lower():gsub("^@", ""):gsub("^%s+", "")
  for _, r in ipairs((fam and fam.roles) or M.ROLES) do
    if name:find(r.prefix:lower(), 1, true) == 1 then return r.role end
  end
  return "memory"
end

--- The first alt of alts with role, or nil.
function M.alt_with_role(fam, alts, role)
  for _, a in ipairs(alts) do
    if a.layout and M.role(fam, a) == role then return a end
  end
end

--- Family of an open device.
function M.of(dev)
  return M.match(dev:info(), dev:alts())
end

return M
