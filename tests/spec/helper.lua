-- busted helper: fixture paths, simulator factories, running the built dfush binary, temp files.
-- Loaded by .busted before every spec; specs get it with `local helper = require "helper"`.
local M = {}

local function dirname(p)
  return (p:match("^(.*)/[^/]*$")) or "."
end

-- The repository root: two levels above this file (tests/spec/helper.lua).
local src = debug.getinfo(1, "S").source:gsub("^@", "")
if src:sub(1, 1) ~= "/" then
  src = (os.getenv("PWD") or ".") .. "/" .. src
end
M.root = dirname(dirname(dirname(src)))
M.fixtures = M.root .. "/tests/fixtures"

-- The built host and module: DFUSH is set by ctest; DFU_BUILD_DIR by ctest and by hand.
M.dfush_path = os.getenv("DFUSH")
M.build_dir = os.getenv("DFU_BUILD_DIR") or (M.dfush_path and dirname(M.dfush_path)) or (M.root .. "/build")
M.dfush_path = M.dfush_path or (M.build_dir .. "/dfush")

-- Under a stock interpreter (plain `busted`), find dfu.so in the build dir.
if not package.preload["dfu.core"] then
  package.cpath = M.build_dir .. "/?.so;" .. package.cpath
end

function M.fixture(name)
  return M.fixtures .. "/" .. name
end

function M.readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.writefile(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

local json = require "dkjson"
M.json = json

function M.json_decode(s)
  local v, _, err = json.decode(s, 1, json.null)
  assert(v ~= nil, err)
  return v
end

local truth
-- tests/fixtures/truth.json: the expected segments of every fixture.
function M.truth()
  truth = truth or M.json_decode(M.readfile(M.fixture("truth.json")))
  return truth
end

-- Temporary files, removed by M.cleanup() (call it in after_each or teardown).
local temps = {}

function M.tmpname(suffix)
  local base = os.tmpname()
  local name = base .. (suffix or "")
  if suffix then
    os.remove(base)
  end
  temps[#temps + 1] = name
  return name
end

function M.cleanup()
  for i = #temps, 1, -1 do
    os.remove(temps[i])
    temps[i] = nil
  end
end

-- A simulator from a spec string ("stm32h753,boot0=0,..."), default stm32h753.
function M.sim(spec)
  local sim = require "dfu.sim"
  return assert(sim.new(spec or "stm32h753"))
end

-- An open device on a new simulator; returns dev, sim.
function M.device(spec)
  local s = M.sim(spec)
  local dev = assert(s:device())
  return dev, s
end

-- Parse the simulator's event log into tables (optionally only events of kind ev).
function M.events(s, ev)
  local out = {}
  for _, line in ipairs(s:events()) do
    local e = M.json_decode(line)
    if ev == nil or e.ev == ev then
      out[#out + 1] = e
    end
  end
  return out
end

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Run a command line (array of words) with optional env (table) and stdin (string);
-- returns {code=, stdout=, stderr=}.
function M.run(argv, opts)
  opts = opts or {}
  local out, err = M.tmpname(), M.tmpname()
  local words = {}
  for k, v in pairs(opts.env or {}) do
    words[#words + 1] = k .. "=" .. M.shell_quote(v)
  end
  if #words > 0 then
    table.insert(words, 1, "env")
  end
  for _, a in ipairs(argv) do
    words[#words + 1] = M.shell_quote(a)
  end
  local input = "/dev/null"
  if opts.stdin then
    input = M.writefile(M.tmpname(), opts.stdin)
  end
  local cmd = table.concat(words, " ") .. " <" .. M.shell_quote(input) .. " >" .. M.shell_quote(out)
    .. " 2>" .. M.shell_quote(err)
  if opts.cwd then
    cmd = "cd " .. M.shell_quote(opts.cwd) .. " && " .. cmd
  end
  local ok, how, code = os.execute(cmd)
  if how == "signal" then
    code = 128 + code
  elseif ok == true then
    code = 0
  end
  return { code = code, stdout = M.readfile(out), stderr = M.readfile(err) }
end

-- Run the built dfush with the given arguments.
function M.dfush(args, opts)
  local argv = { M.dfush_path }
  for _, a in ipairs(args or {}) do
    argv[#argv + 1] = a
  end
  return M.run(argv, opts)
end

-- Whether the build under test is sanitized (dfu.so then needs the sanitizer runtime).
function M.sanitized()
  local p = io.popen("ldd " .. M.shell_quote(M.build_dir .. "/dfu.so") .. " 2>/dev/null")
  local s = p:read("a")
  p:close()
  return s:find("libasan", 1, true) ~= nil
end

-- Tests that need real hardware: pending unless DFU_HW=1.
function M.hw_it(name, fn)
  if os.getenv("DFU_HW") == "1" then
    it(name .. " #hw", fn)
  else
    pending(name .. " (needs DFU_HW=1)")
  end
end

-- DFU_GC_STRESS=1: a full collection after every test, so finalizers of objects a test
-- dropped run while the next test uses the same C core (a GC-stress run, as luv's CI does).
if os.getenv("DFU_GC_STRESS") == "1" then
  local ok, busted = pcall(require, "busted")
  if ok and busted.subscribe then
    busted.subscribe({ "test", "end" }, function()
      collectgarbage()
      collectgarbage()
      return nil, true
    end)
  end
  -- DFU_GC_STRESS_STEP=1: collect far more often than the default inside tests too (slow
  -- under sanitizers: minutes for the whole suite; tests/valgrind/run.sh uses it)
  if os.getenv("DFU_GC_STRESS_STEP") == "1" then collectgarbage("incremental", 10, 400) end
end

package.loaded.helper = M
return M
