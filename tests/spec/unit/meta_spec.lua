-- API/docs drift: every function in every luaL_Reg table of lua/*.c is annotated in
-- lua/dfu/_meta.lua (luv's bindcov idea), and the annotations name nothing that is gone.
local helper = require "helper"

local function registered()
  local out = {}
  local p = io.popen("ls " .. helper.shell_quote(helper.root .. "/lua") .. "/*.c")
  for file in p:lines() do
    local src = helper.readfile(file)
    for tname, body in src:gmatch("static const luaL_Reg%s+([%w_]+)%[%]%s*=%s*(%b{})") do
      if not tname:match("_meta$") then
        local owner = ({ dev_methods = "Device", img_methods = "Image", sim_methods = "Sim" })[tname]
          or ({ ["ldevice.c"] = "core", ["limage.c"] = "image", ["lsim.c"] = "sim" })[file:match("[^/]+$")]
        for name in body:gmatch('{%s*"([%w_]+)"') do
          out[#out + 1] = { owner = owner, name = name, file = file:match("[^/]+$") }
        end
      end
    end
  end
  p:close()
  return out
end

describe("lua/dfu/_meta.lua", function()
  local meta = helper.readfile(helper.root .. "/lua/dfu/_meta.lua")

  it("annotates every C function", function()
    local regs = registered()
    assert.is_true(#regs > 50)
    local missing = {}
    for _, r in ipairs(regs) do
      local sep = r.owner:match("^%u") and ":" or "."
      if not meta:find("function " .. r.owner .. sep .. r.name .. "(", 1, true) then
        missing[#missing + 1] = r.file .. ": " .. r.owner .. sep .. r.name
      end
    end
    assert.are.same({}, missing)
  end)

  it("annotates nothing the modules do not have", function()
    local live = {
      core = require "dfu.core",
      image = require "dfu.image",
      sim = require "dfu.sim",
      Device = debug.getregistry()["dfu.Device"].__index,
      Image = debug.getregistry()["dfu.Image"].__index,
      Sim = debug.getregistry()["dfu.Sim"].__index,
    }
    local extra = {}
    for owner, name in meta:gmatch("\nfunction (%w+)[.:]([%w_]+)%(") do
      if live[owner] == nil or live[owner][name] == nil then
        extra[#extra + 1] = owner .. "." .. name
      end
    end
    assert.are.same({}, extra)
  end)
end)
