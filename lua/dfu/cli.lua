-- The dfush command line (design.md 3): global options, recipe lookup and dispatch, the
-- recipe context (device opening, logging, progress, JSON result), exit codes.
local util = require "dfu.util"
local recipe = require "dfu.recipe"
local json = require "dfu.json"
local progress = require "dfu.progress"

local M = {}

-- exit status by error code (design.md 3); BUSY: the device is in use by another process
-- (a simulator's state= file, a USB interface claimed elsewhere)
M.EXIT = {
  USAGE = 2, FORMAT = 2, RANGE = 2, INVALID = 2,
  NOT_FOUND = 3, AMBIGUOUS = 3, ACCESS = 3, BUSY = 3,
  INTERRUPTED = 130, -- Ctrl-C, as a shell reports SIGINT
}

function M.exit_code(err)
  if type(err) == "table" and err.code then return M.EXIT[err.code] or 1 end
  return 1
end

local LEVELS = { error = 0, warn = 1, info = 2, debug = 3, io = 4 }

local Ctx = {}
Ctx.__index = Ctx

function M.context(o)
  local ctx = setmetatable({
    device = o.device, json = o.json or false, verbose = o.verbose or 0, quiet = o.quiet or false,
    recipe_dirs = o.recipe_dirs or recipe.dirs(), stdout = o.stdout or io.stdout,
    stderr = o.stderr or io.stderr, result = nil, devices = {},
    progress_mode = o.progress_mode,
  }, Ctx)
  local level = ctx.quiet and 0 or (2 + ctx.verbose)
  ctx.log_level = level
  local mode = ctx.quiet and "none" or (ctx.progress_mode or progress.detect_mode())
  ctx.progress = progress.new { stream = ctx.stderr, mode = mode,
    clock = function() return ctx.clock and ctx.clock() or os.clock() end }
  return ctx
end

--- ctx:log(level, fmt, ...) to stderr, filtered by -q/-v.
function Ctx:log(level, fmt, ...)
  local lv = LEVELS[level] or 2
  if lv > self.log_level then return end
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  self.progress.finish()
  local prefix = (level == "error" or level == "warn") and (level .. ": ") or ""
  self.stderr:write(prefix, msg, "\n")
end

--- ctx:check_base(path, base, img): warn when FILE@ADDR gave an address to a file that carries
--- its own (only raw binaries are placed by @ADDR).
function Ctx:check_base(path, base, img)
  if base and img and img:format() ~= "bin" then
    local names = { ihex = "Intel HEX", srec = "S-record", elf = "ELF", dfuse = "DfuSe" }
    self:log("warn", "%s@0x%08X: the address is ignored: this %s file carries its own addresses " ..
      "(@ADDR places raw binaries only)", path, base, names[img:format()] or img:format())
  end
end

--- ctx:say(fmt, ...): human output of the command, on stdout, silent with --json.
function Ctx:say(fmt, ...)
  if self.json then return end
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  self.progress.finish()
  self.stdout:write(msg, "\n")
end

--- ctx:set_result(t): the JSON object printed with --json.
function Ctx:set_result(t)
  self.result = t
end

--- ctx:devstr(): the device string in effect.
local function env_device()
  local e = os.getenv("DFUSH_DEVICE")
  if e == "" then return nil end
  return e
end

function Ctx:devstr()
  return self.device or env_device() or "usb"
end

--- ctx:open([devstr]) -> Device, raising dfu.Error (exit 3 for no/ambiguous device).
function Ctx:open(devstr)
  local core = require "dfu.core"
  local s = devstr or self:devstr()
  local dev, msg, code = core.open(s)
  if not dev then
    local hint
    if (code == "NOT_FOUND" or code == "NO_DEVICE") and s:match("^usb") then
      code = "NOT_FOUND"
      if not devstr and not self.device and not env_device() then
        hint = "no USB DFU device found. Put the board in DFU mode (BOOT0 high, then reset), " ..
          "or try the simulator: dfush -d sim:stm32h753 " .. (self.command or "info") .. " ..."
      end
    elseif code == "ACCESS" then
      hint = "no permission to open the device; install udev/ rules or run with sufficient rights"
    end
    -- with no device named at all, the hint replaces the bare message
    local text = msg
    if hint and not devstr and not self.device and not env_device() and code == "NOT_FOUND" then
      text = hint
    elseif hint then
      text = msg .. "\n" .. hint
    end
    util.raise(text, code or "NOT_FOUND", { device = s })
  end
  if dev.on_log then
    local names = { [0] = "error", "warn", "info", "debug", "io" }
    dev:on_log(function(level, m) self:log(level, "%s", m) end,
      names[math.min(self.log_level, 4)])
  end
  local info = dev.info and dev:info()
  if info and info.protocol == 1 and not self.runtime_ok then
    -- an application's DFU run-time interface takes DETACH only: nothing else is sent
    pcall(dev.close, dev)
    util.raise(string.format("%04x:%04x is in run-time mode (its application's DFU interface, " ..
      "bInterfaceProtocol 1): run dfush detach first to switch it into DFU mode", info.vid, info.pid),
      "USAGE", { device = s })
  end
  self.clock = function() return dev:now() end
  self.opened = true
  self.devices[#self.devices + 1] = dev
  return dev
end

function Ctx:close_all()
  for _, d in ipairs(self.devices) do pcall(d.close, d) end
  self.devices = {}
end

-- ---- global help ----

local GLOBAL_HELP = [[
usage: dfush [-d DEV] [-v|-q] [--json] [--recipes DIR] COMMAND [ARGS]
       dfush                      interactive Lua REPL with dfu loaded
       dfush SCRIPT.lua [ARGS]    run a Lua script

global options:
  -d, --device DEV    device string (default: $DFUSH_DEVICE, else usb):
                        usb[:VID:PID][,serial=S][,path=B-P][,alt=N|NAME]
                        (VID:PID alone: usb:VID:PID)
                        sim:PROFILE[,boot0=0|1][,jump=vector|branch][,rom=ID]
                            [,state=FILE][,events=FILE][,faults=SPEC][,runtime=1]
  -v, --verbose       more log output (-vv shows protocol traffic)
  -q, --quiet         no progress or log output
      --json          print one JSON object on stdout
      --recipes DIR   look for commands (recipes) in DIR first; $DFUSH_PATH
                      (DIR:DIR...) adds directories searched after the built-ins
  -h, --help          this help; dfush help COMMAND for a command
      --version       print the version (with --json: version, Lua, libusb, libelf)

Numbers are decimal or 0x hex; lengths also take K and M (128K).
Exit status: 0 ok, 1 the device or the operation failed, 2 bad usage or bad
input (nothing sent), 3 no device, several devices or no permission, 130 Ctrl-C.
]]

function M.global_help(dirs)
  local out = { GLOBAL_HELP, "commands:" }
  for _, e in ipairs(recipe.list(dirs)) do
    local r = recipe.load(e.path)
    if r then
      local sum = r:summary()
      if #sum > 66 then sum = sum:sub(1, 63):gsub("%s+%S*$", "") .. "..." end
      out[#out + 1] = string.format("  %-10s %s", e.name, sum)
    end
  end
  out[#out + 1] = ""
  out[#out + 1] = "Try: dfush -d sim:stm32h753 info"
  return table.concat(out, "\n")
end

-- ---- main ----

-- the long options parse_globals knows, for "did you mean"
M.GLOBAL_OPTIONS = { "device", "verbose", "quiet", "json", "recipes", "help", "version" }

local function parse_globals(argv)
  local g = { verbose = 0, recipes = {} }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local name, inline = a:match("^%-%-([^=]+)=(.*)$")
    if inline == "" and (name == "device" or name == "recipes") then
      util.usage("option --%s= needs a value", name)
    end
    if a == "-d" or a == "--device" then
      i = i + 1
      if not argv[i] then util.usage("option %s needs a device string", a) end
      g.device = argv[i]
    elseif name == "device" then
      g.device = inline
    elseif a:match("^%-d.") then
      g.device = a:sub(3)
    elseif a:match("^%-v+$") then
      g.verbose = g.verbose + #a - 1
    elseif a == "--verbose" then
      g.verbose = g.verbose + 1
    elseif a == "-q" or a == "--quiet" then
      g.quiet = true
    elseif a == "--json" then
      g.json = true
    elseif a == "--recipes" then
      i = i + 1
      if not argv[i] then util.usage("option --recipes needs a directory") end
      table.insert(g.recipes, argv[i])
    elseif name == "recipes" then
      table.insert(g.recipes, inline)
    elseif a == "-h" or a == "--help" then
      g.help = true
    elseif a == "--version" then
      g.version = true
    elseif a == "-l" or a == "--list" then
      util.usage("unknown option %s; to list DFU devices (as dfu-util -l does): dfush list", a)
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      local near = name or a:match("^%-%-(.*)$")
      near = near and util.suggest(near, M.GLOBAL_OPTIONS)
      util.usage("unknown option %s before the command%s (see: dfush --help)", a,
        near and ("; did you mean --" .. near .. "?") or "")
    else
      break
    end
    i = i + 1
  end
  local rest = {}
  for j = i, #argv do rest[#rest + 1] = argv[j] end
  return g, rest
end

local function report_error(ctx, err, stderr)
  local code = M.exit_code(err)
  local msg = util.is_error(err) and err.msg or tostring(err)
  if ctx then ctx.progress.finish() end
  if ctx and ctx.json then
    local out = { ok = false, error = { code = util.is_error(err) and err.code or "ERROR", message = msg,
                  address = util.is_error(err) and err.address or nil } }
    local partial = ctx.result or (util.is_error(err) and err.report)
    if partial then
      for k, v in pairs(partial) do if out[k] == nil then out[k] = v end end
    end
    ctx.stdout:write(json.encode(M.jsonable(out)), "\n")
  end
  stderr:write("dfush: ", msg, "\n")
  if util.is_error(err) and err.code == "USAGE" and ctx and ctx.command then
    stderr:write("(see: dfush help ", ctx.command, ")\n")
  end
  return code
end

--- Drop fields that have no JSON form (functions, userdata).
function M.jsonable(v)
  if type(v) ~= "table" then
    if type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then return nil end
    return v
  end
  if v == json.null then return v end
  local out = {}
  for k, x in pairs(v) do
    if type(k) == "string" or type(k) == "number" then out[k] = M.jsonable(x) end
  end
  if next(v) == nil then return v end
  return out
end

--- Run the CLI with arg (argv table). Returns the exit status.
function M.main(argv, io_override)
  argv = argv or {}
  local list = {}
  local want_json = false
  for i = 1, #argv do
    list[i] = argv[i]
    if argv[i] == "--json" then want_json = true end
  end
  local stderr = (io_override and io_override.stderr) or io.stderr
  local stdout = (io_override and io_override.stdout) or io.stdout
  -- a failure before the recipe runs: message on stderr, and with --json still one object
  local function early(msg, code)
    stderr:write("dfush: ", msg, "\n")
    if want_json then
      stdout:write(json.encode { ok = false, error = { code = code or "USAGE", message = msg } }, "\n")
    end
    return 2
  end
  local ok, g, rest = util.pcall(parse_globals, list)
  if not ok then return early(tostring(util.is_error(g) and g.msg or g)) end
  local dirs = recipe.dirs(g.recipes)
  if #g.recipes > 0 then
    -- --recipes directories come first for vendor folders (family descriptors, codecs) too
    local path = {}
    for _, d in ipairs(g.recipes) do path[#path + 1] = d end
    for _, d in ipairs(package.dfush_scripts or {}) do path[#path + 1] = d end
    package.dfush_scripts = path
    require("dfu.family").set_tables(nil)
  end
  if g.version then
    local okc, core = pcall(require, "dfu.core")
    local version = okc and tostring(core.version) or "?"
    if g.json then
      local f = okc and core.features or {}
      stdout:write(json.encode { ok = true, version = version, lua = _VERSION,
                                 libusb = f.libusb == true, libelf = f.libelf == true }, "\n")
    else
      stdout:write("dfush ", version, "\n")
    end
    return 0
  end
  local cmd = rest[1]
  if not cmd then
    if g.help then stdout:write(M.global_help(dirs), "\n") return 0 end
    if want_json then return early("no command given; see dfush --help") end
    stderr:write(M.global_help(dirs), "\n")
    return 2
  end
  local path = recipe.find(cmd, dirs)
  if not path then
    local names = {}
    for _, e in ipairs(recipe.list(dirs)) do names[#names + 1] = e.name end
    local near = util.suggest(cmd, names)
    if near then
      return early(string.format("unknown command '%s'; did you mean '%s'? (see: dfush help)", cmd, near))
    end
    return early(string.format("unknown command '%s'; see dfush help for the list", cmd))
  end
  local r, lmsg = recipe.load(path)
  if not r then return early("cannot load recipe " .. path .. ": " .. tostring(lmsg), "FORMAT") end
  local args = {}
  for i = 2, #rest do args[#args + 1] = rest[i] end
  local okp, p, g2 = util.pcall(r.parse, r, args)
  if not okp then
    local m = tostring(util.is_error(p) and p.msg or p)
    if not m:find("dfush help", 1, true) then m = m .. " (see: dfush help " .. cmd .. ")" end
    return early(m)
  end
  if g.help or g2.help then stdout:write(r:help_text(), "\n") return 0 end
  local ctx = M.context {
    device = g2.device or g.device, json = g.json or g2.json, quiet = g.quiet or g2.quiet,
    verbose = (g.verbose or 0) + (g2.verbose or 0), recipe_dirs = dirs, stdout = stdout,
    stderr = stderr, progress_mode = io_override and io_override.progress_mode,
  }
  ctx.command = cmd
  ctx.runtime_ok = r.runtime_ok -- the recipe works with a device in run-time mode (detach, info)
  local okr, res = xpcall(r.run, function(e)
    if util.is_error(e) then return e end
    local text = tostring(e)
    if text:match("interrupted$") then
      return util.error_new(ctx.opened and "interrupted (Ctrl-C); the device may hold a partial image"
        or "interrupted (Ctrl-C); no device had been opened", "INTERRUPTED")
    end
    -- a bug in a recipe or in the library: the traceback with -v, else its first line
    if ctx.verbose > 0 then return debug.traceback(text, 2) end
    return text .. " (run with -v for a traceback)"
  end, ctx, p)
  ctx.progress.finish()
  ctx:close_all()
  local status
  if not okr then
    status = report_error(ctx, res, stderr)
  else
    if ctx.json then
      local out = ctx.result or { ok = true }
      stdout:write(json.encode(M.jsonable(out)), "\n")
    end
    status = math.type(res) == "integer" and res or 0
  end
  -- a job holds Ctrl-C once it is done (flash.execute hold_interrupts); its report is out now
  local okc, core = pcall(require, "dfu.core")
  if okc and core.hold_interrupts and core.hold_interrupts(false) then
    stderr:write("dfush: interrupted (Ctrl-C) after the job had finished; the report above is complete\n")
    return M.EXIT.INTERRUPTED
  end
  return status
end

return M
