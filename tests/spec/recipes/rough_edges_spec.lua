-- Small things a new user runs into: read without a length, image convert with VID/PID.
local support = require "recipes.support"
local helper = support.helper

describe("rough edges", function()
  after_each(helper.cleanup)
  if not support.have_binary() then return end

  it("read without LEN reads to the end of that memory; without ADDR the whole alt", function()
    local dev = support.simdev("stm32f405")
    local out = helper.tmpname(".bin")
    local r = support.spawn({ "--json", "-d", dev, "read", "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    local j = helper.json_decode(r.stdout)
    assert.are.equal(0x08000000, j.address)
    assert.are.equal(1024 * 1024, j.size)
    r = support.spawn({ "--json", "-d", dev, "read", "0x080E0000", "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(128 * 1024, helper.json_decode(r.stdout).size)
    r = support.spawn({ "--json", "-d", dev, "read", "--alt", "OTP", "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(528, helper.json_decode(r.stdout).size)
    r = support.spawn({ "-d", dev, "read", "0x30000000", "-o", out })
    assert.are.equal(2, r.code, r.stderr)
  end)

  it("image convert --vid/--pid sets the DfuSe suffix ids; other formats refuse them", function()
    local out = helper.tmpname(".dfu")
    local r = support.spawn({ "image", "convert", helper.fixture("h7_seed.elf"), out, "--vid", "0x1234",
      "--pid", "abcd" })
    assert.are.equal(0, r.code, r.stderr)
    r = support.spawn({ "--json", "image", "info", out })
    assert.are.equal(0, r.code, r.stderr)
    local dfu = require "dfu"
    local img = assert(dfu.image.load(out))
    local sfx = img:suffix()
    assert.are.same({ 0x1234, 0xabcd }, { sfx.vid, sfx.pid })
    r = support.spawn({ "image", "convert", helper.fixture("h7_seed.elf"), helper.tmpname(".hex"), "--vid", "1" })
    assert.are.equal(2, r.code, r.stderr)
    r = support.spawn({ "image", "convert", helper.fixture("h7_seed.elf"), helper.tmpname(".dfu"), "--vid", "zz" })
    assert.are.equal(2, r.code, r.stderr)
  end)
end)
