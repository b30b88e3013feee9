-- require "dfu": re-exports, open/list, check and dfu.Error, recipe declaration and parsing,
-- JSON, device helpers.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

describe("dfu facade", function()
  after_each(helper.cleanup)

  it("re-exports the C modules", function()
    assert.are.equal(require "dfu.core", dfu.core)
    assert.are.equal(require "dfu.image", dfu.image)
    assert.are.equal(require "dfu.sim", dfu.sim)
  end)

  it("opens by string and by table", function()
    local d1 <close> = assert(dfu.open("sim:stm32h753"))
    assert.are.equal(0x0483, d1:info().vid)
    local d2 <close> = assert(dfu.open { sim = "stm32f405", alt = 1 })
    assert.are.equal(1, d2:alt())
    assert.are.equal(2048, d2:info().transfer_size)
  end)

  it("builds device strings from tables", function()
    assert.are.equal("usb:0483:df11,serial=ABC", dfu.devstr { vid = 0x0483, pid = 0xdf11, serial = "ABC" })
    assert.are.equal("usb:path=1-2.3", dfu.devstr { path = "1-2.3" })
    assert.are.equal("sim:stm32h753,boot0=0,alt=1", dfu.devstr { sim = "stm32h753", boot0 = 0, alt = 1 })
  end)

  it("open returns nil, msg, code for a bad device", function()
    local d, msg, code = dfu.open("sim:nosuchchip")
    assert.is_nil(d)
    assert.is_string(msg)
    assert.is_string(code)
  end)

  it("lists a simulated device", function()
    local l = assert(dfu.list("sim:stm32h753"))
    assert.are.equal(1, #l)
    assert.are.equal(0xdf11, l[1].pid)
  end)

  it("check passes values through and raises dfu.Error tables", function()
    assert.are.same({ 1, 2 }, { dfu.check(1, 2) })
    local ok, e = pcall(dfu.check, nil, "boom at 0x08000000", "STATUS")
    assert.is_false(ok)
    assert.are.equal("STATUS", e.code)
    assert.are.equal("boom at 0x08000000", e.msg)
    assert.are.equal("boom at 0x08000000 (STATUS)", tostring(e))
    assert.is_true(dfu.util.is_error(e))
  end)

  it("dfu.recipe validates and parses arguments from the declaration", function()
    assert.has_error(function() dfu.recipe { name = "x" } end)
    local r = dfu.recipe {
      name = "t", usage = "t A [B] --opt V",
      args = { { name = "a" }, { name = "rest", many = true, optional = true } },
      options = { { name = "opt", arg = "V" }, { name = "flag-x" }, { name = "out", short = "o", arg = "F" },
                  { name = "leave", arg = "ADDR", optional = true } },
      run = function() end,
    }
    local p, g = r:parse { "1", "--opt", "v", "2", "-o", "f.bin", "--flag-x", "3", "--leave", "--json", "-vv" }
    assert.are.equal("1", p.a)
    assert.are.same({ "2", "3" }, p.rest)
    assert.are.equal("v", p.opt)
    assert.are.equal("f.bin", p.out)
    assert.is_true(p.flag_x)
    assert.is_true(p.leave)
    assert.is_true(g.json)
    assert.are.equal(2, g.verbose)
    assert.are.equal("0x1", r:parse { "x", "--leave=0x1" }.leave)
    local ok, e = pcall(r.parse, r, { "x", "--nope" })
    assert.is_false(ok)
    assert.are.equal("USAGE", e.code)
    ok, e = pcall(r.parse, r, {})
    assert.is_false(ok)
    assert.are.equal("USAGE", e.code)
    assert.matches("help", r:help_text())
  end)

  it("parses numbers, hex and K/M lengths", function()
    local u = dfu.util
    assert.are.equal(0x08000000, u.parse_number("0x08000000"))
    assert.are.equal(131072, u.parse_number("128K", true))
    assert.are.equal(1048576, u.parse_number("1M", true))
    assert.are.equal(100, u.parse_number("100"))
    assert.is_nil(u.parse_number("128K"))
    assert.is_nil(u.parse_number("12x"))
    assert.are.same({ "a.bin", 0x08000000 }, { u.split_at("a.bin@0x08000000") })
  end)

  it("JSON encodes integers as integers and decodes event lines", function()
    local j = dfu.json
    assert.are.equal('{"a":134217728,"b":[1,2],"c":0.5,"d":null,"e":[]}',
      j.encode { a = 0x08000000, b = { 1, 2 }, c = 0.5, d = j.null, e = j.array {} })
    local v = assert(j.decode('{"t":0.0125,"ev":"erase","address":134348800,"size":131072}'))
    assert.are.equal("integer", math.type(v.address))
    assert.are.equal(0.0125, v.t)
    assert.is_nil(j.decode("{"))
    assert.are.equal("a\"b\n", j.decode(j.encode("a\"b\n")))
  end)

  it("dev:verify and dev:erase_range", function()
    local sim = helper.sim("stm32h753")
    local dev <close> = assert(sim:device())
    local img = dfu.image.new()
    assert(img:add(0x08020000, "firmware"))
    assert(dev:flash(img))
    assert(dev:verify(img))
    local list = assert(dev:erase_range(0x08020000, 1))
    assert.are.same({ { address = 0x08020000, size = 0x20000 } }, list)
    local ok, msg, code = dev:verify(img)
    assert.is_nil(ok)
    assert.are.equal("VERIFY", code)
    assert.matches("0x08020000", msg)
    local r2, _, code2 = dev:erase_range(0x07000000, 1)
    assert.is_nil(r2)
    assert.are.equal("RANGE", code2)
  end)

  it("dev:plan touches no memory and knows the family's program unit", function()
    local sim = helper.sim("stm32f405")
    local dev <close> = assert(sim:device())
    local img = dfu.image.new()
    assert(img:add(0x08000001, "\1"))
    local plan = assert(dev:plan(img))
    assert.are.equal(0x08000000, plan.parts[1].segments[1].address)
    assert.are.equal(4, #plan.parts[1].segments[1].data)
    assert.are.equal("STM32F40x/41x", dev:family().name)
    assert.are.equal(0, #support.events(sim, "erase"))
  end)
end)
