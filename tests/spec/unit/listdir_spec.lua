-- dfu.core.listdir: the entries of a directory, read without a shell.
local helper = require "helper"
local core = require "dfu.core"

local function tmpdir()
  local dir = helper.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
  return dir
end

describe("dfu.core.listdir", function()
  local dirs = {}
  after_each(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf " .. helper.shell_quote(d)) end
    dirs = {}
    helper.cleanup()
  end)

  it("lists the entries of a directory, without . and ..", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    assert.are.same({}, core.listdir(dir))
    helper.writefile(dir .. "/a.lua", "")
    helper.writefile(dir .. "/b $(x)`y`.lua", "")
    assert(os.execute("mkdir " .. helper.shell_quote(dir .. "/sub")))
    local names = assert(core.listdir(dir))
    table.sort(names)
    assert.are.same({ "a.lua", "b $(x)`y`.lua", "sub" }, names)
  end)

  it("returns nil, msg, code for a directory it cannot list", function()
    local names, msg, code = core.listdir("/nonexistent-dfush-dir")
    assert.is_nil(names)
    assert.are.equal("/nonexistent-dfush-dir: No such file or directory", msg)
    assert.are.equal("NOT_FOUND", code)
    local file = helper.writefile(helper.tmpname(".txt"), "x")
    names, msg, code = core.listdir(file)
    assert.is_nil(names)
    assert.are.equal(file .. ": Not a directory", msg)
    assert.are.equal("INVALID", code)
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() core.listdir() end)
    assert.has_error(function() core.listdir(42) end)
    assert.has_error(function() core.listdir({}) end)
    assert.has_error(function() core.listdir("/tmp\0/x") end)
  end)
end)
