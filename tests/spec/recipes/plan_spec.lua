-- dfu.plan and the pure parts of dfu.flash: layout sectors, range checks, padding and merging,
-- erase lists, alt selection, 0xFF skipping. Uses the real layout parser and image model.
local dfu = require "dfu"
local plan = dfu.plan

local H7 = "@Internal Flash   /0x08000000/16*128Kg"
local F4 = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
local OB = "@Option Bytes  /0x1FFFC000/01*016 e"

local function alts(...)
  local out = {}
  for i, s in ipairs({ ... }) do
    out[#out + 1] = { alt = i - 1, name = s, layout = assert(dfu.core.parse_layout(s)) }
  end
  return out
end

local function image(segs)
  local img = dfu.image.new()
  for _, s in ipairs(segs) do assert(img:add(s[1], s[2])) end
  return img
end

local function build(segs, opts)
  opts = opts or {}
  return plan.build {
    images = { { path = "fw.hex", image = image(segs) } }, alts = opts.alts or alts(F4, OB),
    alt = opts.alt, unit = opts.unit or 4, full = opts.full,
  }
end

describe("dfu.plan", function()
  it("expands the F4 layout into its 12 sectors", function()
    local s = plan.sectors(assert(dfu.core.parse_layout(F4)))
    assert.are.equal(12, #s)
    assert.are.same({ 0x08010000, 0x10000 }, { s[5].address, s[5].size })
    assert.are.equal(6, plan.find(s, 0x0803FFFF))
    assert.is_nil(plan.find(s, 0x08100000))
  end)

  it("erases each touched sector once, across mixed sector sizes", function()
    local p = build({ { 0x08003FF0, string.rep("a", 0x20) }, { 0x08004100, "b" }, { 0x08010000, "c" } })
    assert.are.same({ { address = 0x08000000, size = 0x4000 }, { address = 0x08004000, size = 0x4000 },
                      { address = 0x08010000, size = 0x10000 } }, p.parts[1].erase)
  end)

  it("pads to the program unit with 0xFF and merges segments that share a unit", function()
    local p = build({ { 0x08000001, "\1" }, { 0x08000006, "\2" }, { 0x08000020, "\3" } }, { unit = 8 })
    local segs = p.parts[1].segments
    assert.are.equal(2, #segs)
    assert.are.equal("\255\1\255\255\255\255\2\255", segs[1].data)
    assert.are.equal(0x08000020, segs[2].address)
    assert.are.equal("\3" .. string.rep("\255", 7), segs[2].data)
  end)

  it("names the address and the valid range for data outside the alt", function()
    local ok, e = pcall(build, { { 0x08100000, "x" } })
    assert.is_false(ok)
    assert.are.equal("RANGE", e.code)
    assert.are.equal(0x08100000, e.address)
    assert.matches("fw.hex", e.msg, 1, true)
    assert.matches("0x08000000-0x080FFFFF", e.msg, 1, true)
  end)

  it("selects alts by number and by name prefix, and lists them when none matches", function()
    local a = alts(H7, OB)
    assert.are.equal(1, plan.select_alt(a, "1").alt)
    assert.are.equal(1, plan.select_alt(a, "option").alt)
    assert.are.equal(0, plan.select_alt(a, "@Internal").alt)
    local ok, e = pcall(plan.select_alt, a, "OTP")
    assert.is_false(ok)
    assert.are.equal("USAGE", e.code)
    assert.matches("Option Bytes", e.msg, 1, true)
  end)

  it("refuses two files that disagree on a byte", function()
    local ok, e = pcall(plan.build, {
      images = { { path = "a.hex", image = image({ { 0x08000000, "ab" } }) },
                 { path = "b.hex", image = image({ { 0x08000001, "c" } }) } },
      alts = alts(F4), unit = 4,
    })
    assert.is_false(ok)
    assert.are.equal("FORMAT", e.code)
    assert.matches("a.hex and b.hex disagree at 0x08000001", e.msg, 1, true)
  end)

  it("merges two files that agree where they overlap", function()
    local p = plan.build {
      images = { { path = "a.hex", image = image({ { 0x08000000, "abcd" } }) },
                 { path = "b.hex", image = image({ { 0x08000002, "cdef" } }) } },
      alts = alts(F4), unit = 4,
    }
    assert.are.equal("abcdef\255\255", p.parts[1].segments[1].data)
  end)
end)

describe("dfu.flash.runs", function()
  local FF = string.rep("\255", 16)
  local function all_erased() return true end

  it("skips runs of two or more blank blocks, and blank blocks at either end", function()
    local seg = { address = 0x1000, data = FF .. "AAAAAAAAAAAAAAAA" .. FF .. FF .. "BBBBBBBBBBBBBBBB" .. FF }
    local runs, skipped = dfu.flash.runs(seg, 16, all_erased)
    assert.are.equal(64, skipped)
    assert.are.same({ 0x1010, 0x1040 }, { runs[1].address, runs[2].address })
  end)

  it("writes a single blank block between data (a new SET_ADDRESS would cost as much)", function()
    local seg = { address = 0, data = "AAAAAAAAAAAAAAAA" .. FF .. "BBBBBBBBBBBBBBBB" }
    local runs, skipped = dfu.flash.runs(seg, 16, all_erased)
    assert.are.equal(0, skipped)
    assert.are.equal(1, #runs)
    assert.are.equal(48, #runs[1].data)
  end)

  it("writes 0xFF blocks that are not in erased sectors", function()
    local seg = { address = 0, data = FF .. FF .. FF }
    local runs, skipped = dfu.flash.runs(seg, 16, function() return false end)
    assert.are.equal(0, skipped)
    assert.are.equal(48, #runs[1].data)
  end)
end)
