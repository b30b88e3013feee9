-- Recipe directories are listed without a shell: a directory name from --recipes, DFUSH_PATH or
-- the location of a checkout that contains $(...) or backticks is a name, never a command.
local support = require "recipes.support"
local helper = support.helper

local function tmpdir()
  local dir = support.tmp("")
  os.remove(dir)
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
  return dir
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local RECIPE = [[
local dfu = require "dfu"
return dfu.recipe { name = "hello", help = "Say hello.", device = false,
  run = function(ctx) ctx:say("hello") end }
]]

describe("recipe directories with shell syntax in their names", function()
  local dirs = {}
  after_each(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf " .. helper.shell_quote(d)) end
    dirs = {}
    helper.cleanup()
  end)

  for runner, run in pairs(support.runners()) do
    it("--recipes with $(...) and backticks runs nothing (" .. runner .. ")", function()
      local dir = tmpdir()
      dirs[#dirs + 1] = dir
      local marker = dir .. "/marker"
      for _, name in ipairs({ "/nonexistent$(touch " .. marker .. ")", "/nonexistent`touch " .. marker .. "`",
                              '/nonexistent"$(touch ' .. marker .. ')"' }) do
        local r = run({ "--recipes", name, "help" })
        assert.are.equal(0, r.code, r.stderr)
        assert.matches("flash", r.stdout, 1, true)
        assert.is_false(exists(marker), "a shell ran for --recipes " .. name)
      end
    end)

  end

  if not support.have_binary() then return end

  it("a recipe directory named with $(...) is listed and its recipe runs", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    -- a directory name cannot hold a '/': the marker is relative to the cwd, dir
    local rdir = dir .. "/r$(touch marker)`touch marker`"
    assert(os.execute("mkdir " .. helper.shell_quote(rdir)))
    helper.writefile(rdir .. "/hello.lua", RECIPE)
    local r = helper.dfush({ "--recipes", rdir, "help" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("hello", r.stdout, 1, true)
    r = helper.dfush({ "--recipes", rdir, "hello" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("hello\n", r.stdout)
    assert.is_false(exists(dir .. "/marker"))
  end)

  it("DFUSH_PATH with $(...) and backticks runs nothing", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local r = helper.dfush({ "help" },
      { env = { DFUSH_PATH = "/x$(touch marker):/y`touch marker`" }, cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("flash", r.stdout, 1, true)
    assert.is_false(exists(dir .. "/marker"))
    r = helper.dfush({ "--json", "help" }, { env = { DFUSH_PATH = "/x$(touch marker)" }, cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.is_false(exists(dir .. "/marker"))
  end)

  it("a checkout in a directory named with $(...) lists its scripts without a shell", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    -- <dir>/co$(touch marker)/{build/dfush, lua, scripts}: the host finds lua/ and scripts/
    -- next to its build directory
    local co = dir .. "/co$(touch marker)"
    assert(os.execute("mkdir -p " .. helper.shell_quote(co .. "/build")))
    local q = helper.shell_quote
    assert(os.execute("cp " .. q(helper.dfush_path) .. " " .. q(co .. "/build/dfush")))
    assert(os.execute("ln -s " .. q(helper.root .. "/lua") .. " " .. q(co .. "/lua")))
    assert(os.execute("ln -s " .. q(helper.root .. "/scripts") .. " " .. q(co .. "/scripts")))
    local r = helper.run({ co .. "/build/dfush", "--json", "help" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    local j = assert(support.json.decode(r.stdout))
    local paths = {}
    for _, c in ipairs(j.commands) do paths[c.name] = c.path end
    assert.are.equal(co .. "/scripts/flash.lua", paths.flash)
    assert.are.equal(co .. "/scripts/help.lua", paths.help)
    assert.is_false(exists(dir .. "/marker"))
  end)
end)
