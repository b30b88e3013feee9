-- A vendor folder on the recipe path adds a family without touching lua/dfu: the family
-- descriptor contract (lua/dfu/family.lua, doc/usage.md "Family descriptors").
local support = require "recipes.support"
local helper = support.helper

-- A third-party vendor whose descriptor matches the plain DFU 1.1 simulator by its ids, with
-- its own alt role names and a known bug for a bootloader ID.
local ACME = [[
return {
  {
    name = "ACME Widget ROM",
    match = { vid = 0x1209, pid = 0x0010, dfuse = false },
    program_unit = 4,
    alts = { flash = "Application" },
    known_bugs = { { ids = { 0x10 }, kind = "side_effect", summary = "the ACME ROM forgets its serial" } },
  },
}
]]

local function vendor_dir(files)
  local dir = helper.tmpname(".d")
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir .. "/acme")))
  for name, text in pairs(files) do helper.writefile(dir .. "/acme/" .. name, text) end
  return dir
end

describe("vendor folders", function()
  after_each(helper.cleanup)
  if not support.have_binary() then
    it("needs the dfush binary", function() pending("needs the dfush binary") end)
    return
  end

  local function info(dev, env, extra)
    local argv = { "--json" }
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    argv[#argv + 1] = "-d"
    argv[#argv + 1] = dev
    argv[#argv + 1] = "info"
    local r = support.spawn(argv, env)
    assert.are.equal(0, r.code, r.stderr)
    return helper.json_decode(r.stdout), r
  end

  it("a families.lua in DFUSH_PATH/acme names the sim:dfu11 device's family", function()
    local dir = vendor_dir({ ["families.lua"] = ACME })
    local out = info("sim:dfu11", { DFUSH_PATH = dir })
    assert.are.equal("ACME Widget ROM", out.family)
    assert.are.equal(4, out.program_unit)
    -- without the folder the device is plain DFU 1.1
    assert.are.equal("DFU 1.1", info("sim:dfu11").family)
  end)

  it("--recipes DIR works the same way, and does not disturb the built-in families", function()
    local dir = vendor_dir({ ["families.lua"] = ACME })
    assert.are.equal("ACME Widget ROM", info("sim:dfu11", nil, { "--recipes", dir }).family)
    assert.are.equal("STM32H74x/75x", info("sim:stm32h753", nil, { "--recipes", dir }).family)
  end)

  it("a broken families.lua is reported and skipped, never fatal", function()
    local dir = vendor_dir({ ["families.lua"] = "return {{ match = 3 }}" })
    local out, r = info("sim:stm32h753", { DFUSH_PATH = dir })
    assert.are.equal("STM32H74x/75x", out.family)
    assert.matches("descriptor 1 needs a name", r.stderr, 1, true)
    dir = vendor_dir({ ["families.lua"] = "this is not Lua" })
    out, r = info("sim:dfu11", { DFUSH_PATH = dir })
    assert.are.equal("DFU 1.1", out.family)
    assert.matches("families.lua", r.stderr, 1, true)
  end)

  it("the library holds no vendor names", function()
    for _, name in ipairs({ "cli", "family", "flash", "init", "json", "leave", "ob", "plan", "progress",
                            "recipe", "report", "util" }) do
      local src = helper.readfile(helper.root .. "/lua/dfu/" .. name .. ".lua")
      for line in src:gmatch("[^\n]+") do
        local code = line:gsub("%-%-.*$", "")
        -- the simulator's profile names are device strings, not vendor knowledge
        code = code:gsub("sim:stm32%w+", "")
        assert.is_nil(code:find("[Ss][Tt][Mm]32"), name .. ".lua: " .. line)
      end
    end
  end)
end)
