-- The simulator's state= file across dfush processes: a second process is refused while the
-- first has the device (exit 3), a process killed with SIGKILL leaves every completed request
-- in the file, and the file is written without following links planted next to it.
local support = require "recipes.support"
local helper = support.helper

-- Runs `dfush -d DEV flash IMG` in this process and stops inside it: once the write is past
-- half (arg[4] "write") or the verify is done (arg[4] "verify"), writes how many bytes were
-- written to the file arg[3], then waits until the file arg[5] exists (at most a minute).
local DRIVER = [[
local dev, img, ready, when, go = arg[1], arg[2], arg[3], arg[4], arg[5]
local progress = require "dfu.progress"
local new = progress.new
local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end
progress.new = function(o)
  local p = new(o)
  local mt = getmetatable(p)
  local call, written, stopped = mt.__call, 0, false
  mt.__call = function(self, phase, done, total)
    if phase == "write" then written = done end
    local stop = (when == "write" and phase == "write" and done > total // 2)
      or (when == "verify" and phase == "verify" and done == total and total > 0)
    if stop and not stopped then
      stopped = true
      local f = assert(io.open(ready .. ".part", "w"))
      f:write(tostring(written), "\n")
      f:close()
      assert(os.rename(ready .. ".part", ready))
      for _ = 1, 1200 do
        if exists(go) then break end
        os.execute("sleep 0.05")
      end
    end
    return call(self, phase, done, total)
  end
  return p
end
os.exit(require("dfu.cli").main({ "-d", dev, "flash", img }), true)
]]

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

local function image(path, size, seed)
  local t = {}
  for i = 1, size // 4 do t[i] = string.pack("<I4", (i * 2654435761 + seed) & 0xFFFFFFFF) end
  return helper.writefile(path, table.concat(t))
end

-- Whether the process has ended (a zombie waiting for its new parent to reap it has: it holds
-- no files and no locks any more).
local function gone(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if f then
    local st = f:read("a")
    f:close()
    return st:match("^%d+ %b() (%a)") == "Z"
  end
  return not os.execute("kill -0 " .. pid .. " 2>/dev/null")
end

-- Starts the driver in the background; returns its pid and the file it writes when it stops.
local function start(dev, img, when, go)
  local driver = helper.writefile(helper.tmpname(".lua"), DRIVER)
  local ready, pidfile = helper.tmpname(".ready"), helper.tmpname(".pid")
  local out, err = helper.tmpname(".out"), helper.tmpname(".err")
  os.remove(ready)
  local q = helper.shell_quote
  local cmd = table.concat({ "DFUSH_PROGRESS=plain", q(helper.dfush_path), q(driver), q(dev), q(img),
    q(ready), q(when), q(go) }, " ")
  assert(os.execute(cmd .. " <" .. q("/dev/null") .. " >" .. q(out) .. " 2>" .. q(err) ..
    " & echo $! >" .. q(pidfile)))
  local pid = assert(tonumber(helper.readfile(pidfile):match("%d+")))
  for _ = 1, 600 do
    if exists(ready) then break end
    if gone(pid) then break end
    os.execute("sleep 0.02")
  end
  assert(exists(ready), "the first dfush did not get to its stop: " .. helper.readfile(err))
  return pid, tonumber(helper.readfile(ready):match("%d+")), err
end

local function wait_gone(pid)
  for _ = 1, 600 do
    if gone(pid) then return true end
    os.execute("sleep 0.02")
  end
  return false
end

-- A fresh state file name; its .lock sibling is removed after the test too.
local locks = {}
local function state_file()
  local state = helper.tmpname(".state")
  os.remove(state)
  locks[#locks + 1] = state .. ".lock"
  return state
end

describe("state= files across processes", function()
  after_each(function()
    helper.cleanup()
    for i = #locks, 1, -1 do
      os.remove(locks[i])
      locks[i] = nil
    end
  end)

  it("a second dfush on the same state file exits 3 while the first has the device", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local a = image(helper.tmpname(".bin"), 64 * 1024, 1)
    local b = image(helper.tmpname(".bin"), 64 * 1024, 2)
    local state, go = state_file(), helper.tmpname(".go")
    os.remove(go)
    local dev = "sim:stm32h753,state=" .. state
    local pid, _, err = start(dev, a .. "@0x08000000", "verify", go)
    finally(function()
      helper.writefile(go, "")
      wait_gone(pid)
    end)

    local r = support.spawn({ "-d", dev, "flash", b .. "@0x08000000" })
    assert.are.equal(3, r.code, r.stderr)
    assert.matches(state, r.stderr, 1, true)
    assert.matches("in use by another process", r.stderr, 1, true)
    assert.not_matches("verified", r.stderr, 1, true)

    helper.writefile(go, "")
    assert.is_true(wait_gone(pid))
    assert.not_matches("error", helper.readfile(err), 1, true)
    r = support.spawn({ "-d", dev, "verify", a .. "@0x08000000" })
    assert.are.equal(0, r.code, r.stderr)
    r = support.spawn({ "-d", dev, "verify", b .. "@0x08000000" })
    assert.are.equal(1, r.code, r.stderr)
  end)

  it("kill -9 in the middle of a flash leaves every completed write in the state file", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local img = image(helper.tmpname(".bin"), 128 * 1024, 3)
    local state, go = state_file(), helper.tmpname(".go")
    os.remove(go)
    local dev = "sim:stm32f405,state=" .. state
    local pid, written = start(dev, img .. "@0x08000000", "write", go)
    finally(function()
      helper.writefile(go, "")
      wait_gone(pid)
    end)
    assert.is_true(written > 0 and written < 128 * 1024, tostring(written))
    assert(os.execute("kill -9 " .. pid))
    assert.is_true(wait_gone(pid))

    local out = helper.tmpname(".bin")
    local r = support.spawn({ "-d", dev, "read", "0x08000000", tostring(written), "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(helper.readfile(img):sub(1, written), helper.readfile(out))
    -- the same flash again completes
    r = support.spawn({ "-d", dev, "flash", img .. "@0x08000000" })
    assert.are.equal(0, r.code, r.stderr)
  end)

  it("a device from dfu.open frees its state file when closed; a shared simulator when collected",
    function()
      if not support.have_binary() then
        pending("needs the dfush binary")
        return
      end
      local dfu = require "dfu"
      local state = state_file()
      local devstr = "sim:stm32h753,state=" .. state
      local dev = assert(dfu.open(devstr))
      assert.are.equal(3, support.spawn({ "-d", devstr, "info" }).code)
      dev:close()
      local r = support.spawn({ "-d", devstr, "info" })
      assert.are.equal(0, r.code, r.stderr)

      dev = assert(dfu.open(devstr))
      local sim = dev:sim()
      dev:close()
      assert.are.equal(3, support.spawn({ "-d", devstr, "info" }).code)
      assert.is_string(sim:profile())
      sim, dev = nil, nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
      r = support.spawn({ "-d", devstr, "info" })
      assert.are.equal(0, r.code, r.stderr)
    end)

  it("a link planted at FILE.tmp is not followed", function()
    if not support.have_binary() then
      pending("needs the dfush binary")
      return
    end
    local img = image(helper.tmpname(".bin"), 16 * 1024, 4)
    local state, victim = state_file(), helper.tmpname(".victim")
    helper.writefile(victim, "precious")
    os.remove(state .. ".tmp")
    assert(os.execute("ln -s " .. helper.shell_quote(victim) .. " " .. helper.shell_quote(state .. ".tmp")))
    local dev = "sim:stm32h753,state=" .. state
    local r = support.spawn({ "-d", dev, "flash", img .. "@0x08000000" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("precious", helper.readfile(victim))
    r = support.spawn({ "-d", dev, "verify", img .. "@0x08000000" })
    assert.are.equal(0, r.code, r.stderr)
    os.remove(state .. ".tmp")
  end)
end)
