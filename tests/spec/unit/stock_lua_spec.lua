-- require "dfu" from a stock lua5.4 (no dfush host): the module finds its family tables and
-- option-byte codecs next to itself, so an H753 is known by name and written in 32-byte flash
-- words, and a write-protected F405 sector is refused before anything is erased.
local helper = require "helper"

describe("stock lua5.4", function()
  local build = helper.build_dir
  local lua = io.popen("command -v lua5.4"):read("l")

  it("flashes with the family tables found next to the module", function()
    if not lua then
      pending("needs lua5.4")
      return
    end
    if helper.sanitized() then
      pending("a sanitizer build's dfu.so cannot load into a stock lua5.4")
      return
    end
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local dfu = require "dfu"
local dev <close> = assert(dfu.open "sim:stm32h753")
local r = assert(dev:flash(assert(dfu.image.load(arg[1]))))
io.write(r.written, " ", dev:family().name, "\n")
-- the option-byte codecs come from the same place: a protected sector is refused up front
local f4 <close> = assert(dfu.open "sim:stm32f405")
assert(dfu.ob.set(f4, { WRP = "0" }))
local img = dfu.image.new()
assert(img:add(0x08000000, "BBBB"))
local ok, msg, code = f4:flash(img)
io.write(tostring(ok), " ", code, " ", msg:match("write%-protected sector 0") or msg, "\n")
]])
    f:close()
    local cmd = string.format("cd /tmp && LUA_CPATH='%s/?.so' LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua' " ..
      "%s %s %s 2>&1", build, helper.root, helper.root, lua, script,
      helper.fixture("h7_seed.elf"))
    local p = io.popen(cmd)
    local out = p:read("a")
    local ok = p:close()
    os.remove(script)
    assert.is_true(ok, out)
    assert.are.equal("9472 STM32H74x/75x\nnil RANGE write-protected sector 0\n", out)
  end)
end)
