-- require "dfu": the Lua face of dfush. Re-exports the C modules (dfu.core, dfu.image,
-- dfu.sim), opens devices by string or table, adds the flashing helpers to devices, and
-- provides the recipe and error helpers.
-- Under stock lua5.4 (no dfush host) find the recipe directory, which holds the recipes and
-- the vendor folders with the family descriptors, next to this module: share/lua/5.4/dfu ->
-- share/dfush/scripts when installed, lua/dfu -> scripts in the source tree, dfu/scripts in a
-- LuaRocks tree; $DFUSH_PATH adds more, as in the dfush host.
if package.dfush_scripts == nil then
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")
  if here then
    for _, rel in ipairs({ "/../../../dfush/scripts", "/../../scripts", "/scripts" }) do
      local f = io.open(here .. rel .. "/flash.lua", "r")
      if f then
        f:close()
        package.dfush_scripts = { here .. rel }
        break
      end
    end
  end
  if package.dfush_scripts then
    for d in (os.getenv("DFUSH_PATH") or ""):gmatch("[^:]+") do
      table.insert(package.dfush_scripts, d)
    end
  end
end

local util = require "dfu.util"
local flash = require "dfu.flash"

local M = {
  core = require "dfu.core", image = require "dfu.image", sim = require "dfu.sim",
  util = util, flash = flash, plan = require "dfu.plan", leave = require "dfu.leave",
  json = require "dfu.json", family = require "dfu.family",
  -- the Lua API of dfu.ob: nil, msg, code, err instead of raising (the rest as the module has it)
  ob = util.safe_module(require "dfu.ob", { "read", "decode", "set", "unprotect", "protected_sectors" }),
  Error = util.Error, version = require("dfu.core").version,
}

M.check = util.check
M.raise = util.raise
M.recipe = require("dfu.recipe").new

--- Build a device string from a table {vid=, pid=, serial=, path=, alt=} or {sim="stm32h753", ...}.
function M.devstr(t)
  if t == nil then return os.getenv("DFUSH_DEVICE") or "usb" end
  if type(t) == "string" then return t end
  if type(t) ~= "table" then error("dfu.open: expected a device string or table", 3) end
  local s
  if t.sim then
    s = "sim:" .. t.sim
    for _, k in ipairs({ "state", "events", "boot0", "rom", "jump", "faults" }) do
      if t[k] ~= nil then s = s .. "," .. k .. "=" .. tostring(t[k]) end
    end
  else
    s = "usb"
    if t.vid or t.pid then
      s = s .. string.format(":%04x:%04x", t.vid or 0x0483, t.pid or 0xdf11)
    end
    local sep = s == "usb" and ":" or ","
    for _, k in ipairs({ "serial", "path" }) do
      if t[k] then s = s .. sep .. k .. "=" .. t[k]; sep = "," end
    end
  end
  if t.alt ~= nil then s = s .. (s:find("[:,]") and "," or ":") .. "alt=" .. tostring(t.alt) end
  return s
end

--- Open a device: dfu.open("sim:stm32h753"), dfu.open{vid=0x0483, pid=0xdf11, serial="..."}.
--- Returns the Device or nil, msg, code.
function M.open(spec)
  return M.core.open(M.devstr(spec))
end

--- List DFU devices (USB) or, with a device string, the devices it matches.
function M.list(spec)
  if spec == nil then return M.core.list() end
  return M.core.list(M.devstr(spec))
end

-- ---- device helpers (added to the dfu.Device methods) ----

local helpers = {}

local function check_image_arg(img, fname)
  local ok = type(img) == "userdata" or (type(img) == "table" and img[1] ~= nil)
  if type(img) == "table" then
    for _, v in ipairs(img) do
      if not (type(v) == "userdata" or (type(v) == "table" and type(v.image) == "userdata")) then ok = false end
    end
  end
  if not ok then
    error(string.format("bad argument #1 to '%s' (a dfu.Image, a list of them or {{path=, image=}...} " ..
      "expected, got %s%s)", fname, type(img), type(img) == "string" and "; load it with dfu.image.load" or ""), 3)
  end
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("bad argument #2 to '%s' (table expected, got %s)", fname, type(opts)), 3)
  end
end

--- dev:flash(img | {img...} | {{path=, image=}...}, opts) -> report | nil, msg, code, err
--- opts: alt, verify (default true), full, leave (true | address), leave_mode,
--- progress(phase, done, total), log(level, msg), unit; diff (default true), keep (default
--- true; false = erase_unwritten), dry_run; force, permanently_lock_device, write_otp for
--- option bytes and OTP.
function helpers.flash(dev, img, opts)
  check_image_arg(img, "flash")
  check_opts(opts, "flash")
  if opts and opts.keep == false then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.erase_unwritten = true
    opts = o
  end
  return util.safe(flash.run)(dev, img, opts)
end

--- dev:plan(img, opts) -> the job plan (no device memory touched) | nil, msg, code
--- With opts.diff the touched sectors are read and compared (dfu.diff): plan.sectors says
--- what each would get ({address, size, action = "skipped"|"programmed"|"erased", kept}).
function helpers.plan(dev, img, opts)
  check_image_arg(img, "plan")
  check_opts(opts, "plan")
  return util.safe(function()
    local plan, fam = flash.plan(dev, img, opts)
    if opts and opts.diff then
      plan.unit = opts.unit or flash.unit(dev, fam)
      local r = flash.execute(dev, plan, { diff = true, dry_run = true, erase_unwritten = opts.erase_unwritten,
        full = opts.full }, fam)
      plan.sectors, plan.kept = r.sectors, r.kept
    end
    return plan, fam
  end)()
end

--- dev:verify(img, opts) -> true | nil, msg, code, err  (compares the image's bytes, unpadded)
function helpers.verify(dev, img, opts)
  check_image_arg(img, "verify")
  check_opts(opts, "verify")
  return util.safe(function()
    opts = opts or {}
    local plan = flash.plan(dev, img, { alt = opts.alt, unit = 1 })
    local chunk = flash.transfer_size(dev) * flash.CHUNK_BLOCKS
    for _, part in ipairs(plan.parts) do
      if dev:alt() ~= part.alt then util.check(dev:set_alt(part.alt)) end
      flash.verify(dev, part.segments, { progress = opts.progress, chunk = chunk })
    end
    return true
  end)()
end

--- dev:erase_range(addr, len[, progress]) -> {{address=, size=}...} | nil, msg, code
--- Erases every sector of the current alt that [addr, addr+len) touches.
function helpers.erase_range(dev, addr, len, progress)
  if math.type(addr) ~= "integer" then
    error("bad argument #1 to 'erase_range' (integer address expected, got " .. type(addr) .. ")", 2)
  end
  if math.type(len) ~= "integer" or len <= 0 then
    error("bad argument #2 to 'erase_range' (positive integer length expected, got " ..
      (math.type(len) and tostring(len) or type(len)) .. ")", 2)
  end
  return util.safe(function()
    local a = M.plan.select_alt(dev:alts(), dev:alt())
    if not a.layout then util.raise("the current alt setting has no memory layout", "USAGE") end
    local sectors = M.plan.sectors(a.layout)
    local list, pos = {}, addr
    while pos < addr + len do
      local i = M.plan.find(sectors, pos)
      if not i or not sectors[i].erasable then
        util.raise(string.format("%s is not in an erasable sector of %s", util.hex(pos),
          M.plan.alt_label(a)), "RANGE", { address = pos })
      end
      list[#list + 1] = { address = sectors[i].address, size = sectors[i].size }
      pos = sectors[i].address + sectors[i].size
    end
    flash.erase(dev, list, progress, { erased = {} })
    return list
  end)()
end

--- dev:family() -> the family descriptor (dfu.family)
function helpers.family(dev)
  return M.family.of(dev)
end

local function install_helpers()
  local reg = debug.getregistry()
  local mt = reg and reg["dfu.Device"]
  if type(mt) ~= "table" then return false end
  local idx = mt.__index
  if type(idx) == "table" then
    for k, f in pairs(helpers) do if idx[k] == nil then idx[k] = f end end
    -- alts as the family descriptor corrects them; raw_alts as the device reports them
    if idx.raw_alts == nil and idx.alts ~= nil then
      idx.raw_alts = idx.alts
      idx.alts = function(d) return M.family.alts(d) end
    end
  elseif type(idx) == "function" and not mt.__dfu_helpers then
    mt.__index = function(d, k)
      local v = idx(d, k)
      if v == nil then v = helpers[k] end
      return v
    end
  elseif idx == nil then
    mt.__index = helpers
  end
  mt.__dfu_helpers = true
  return true
end
install_helpers()
M.helpers = helpers

return M
