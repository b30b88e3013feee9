-- dfu.image: loading and parsing the fixtures, the image model operations, the writers.
local helper = require "helper"
local image = require "dfu.image"

local function segs_of(img)
  local out = {}
  for _, s in ipairs(img:segments()) do
    out[#out + 1] = { address = s.address, size = s.size, crc32 = s.crc32 }
  end
  return out
end

local function expect_fail(code, ok, msg, got)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.are.equal(code, got)
  return msg
end

describe("dfu.image", function()
  after_each(helper.cleanup)

  describe("fixtures match truth.json", function()
    local truth = helper.truth()
    local names = {}
    for name in pairs(truth) do
      names[#names + 1] = name
    end
    table.sort(names)

    for _, name in ipairs(names) do
      local t = truth[name]
      it("loads " .. name, function()
        local opts = t.base and { base = t.base } or nil
        local img = assert(image.load(helper.fixture(name), opts))
        if t.targets then
          assert.are.equal("dfuse", img:format())
          local targets = img:targets()
          assert.are.equal(#t.targets, #targets)
          for i, tt in ipairs(t.targets) do
            assert.are.equal(tt.alt, targets[i].alt)
            assert.are.same(tt.segments, segs_of(targets[i].image))
          end
        else
          assert.are.same(t.segments, segs_of(img))
          if t.entry == helper.json.null or t.entry == nil then
            assert.is_nil(img:entry())
          else
            assert.are.equal(t.entry, img:entry())
          end
          local total = 0
          for _, s in ipairs(t.segments) do
            total = total + s.size
          end
          assert.are.equal(total, img:size())
        end
      end)
    end

    it("takes a raw binary's base from a FILE@ADDR suffix", function()
      local img = assert(image.load(helper.fixture("h7_seed.bin") .. "@0x08000000"))
      assert.are.same(truth["h7_seed.bin"].segments, segs_of(img))
      assert.are.equal("bin", img:format())
    end)

    it("records and strips a DFU suffix", function()
      local img = assert(image.load(helper.fixture("h7_seed.suffix.bin"), { base = 0x08000000 }))
      assert.are.same(truth["h7_seed.suffix.bin"].segments, segs_of(img))
      local sfx = img:suffix()
      assert.is_table(sfx)
      assert.is_number(sfx.vid)
      assert.is_number(sfx.pid)
      assert.is_number(sfx.bcd_dfu)
      assert.is_nil(assert(image.load(helper.fixture("h7_seed.bin"), { base = 0x08000000 })):suffix())
    end)

    it("parses from a string the same as from a file", function()
      local data = helper.readfile(helper.fixture("f4_config.hex"))
      local img = assert(image.parse(data, { name = "f4.hex" }))
      assert.are.same(truth["f4_config.hex"].segments, segs_of(img))
      assert.are.equal("ihex", image.detect(data))
      assert.are.equal("srec", image.detect(helper.readfile(helper.fixture("f4_config.s19"))))
      assert.are.equal("elf", image.detect(helper.readfile(helper.fixture("f4_config.elf"))))
      assert.are.equal("dfuse", image.detect(helper.readfile(helper.fixture("f4_config.dfu"))))
    end)

    it("data(i) returns the bytes whose CRC the segment reports", function()
      local img = assert(image.load(helper.fixture("h7_seed.elf")))
      for i, s in ipairs(img:segments()) do
        local d = img:data(i)
        assert.are.equal(s.size, #d)
        assert.are.equal(s.crc32, image.crc32(d))
      end
    end)
  end)

  describe("failures", function()
    it("a missing file fails with a message naming it", function()
      local ok, msg, code = image.load("/nonexistent/x.hex")
      assert.is_nil(ok)
      assert.matches("x.hex", msg, 1, true)
      assert.is_string(code)
      assert.are_not.equal("UNKNOWN", code)
    end)

    it("a broken Intel HEX file fails with FORMAT naming the file and line", function()
      local path = helper.writefile(helper.tmpname(".hex"), ":020000040800F2\n:10000000ZZ\n")
      local msg = expect_fail("FORMAT", image.load(path))
      assert.matches(path:match("[^/]+$"), msg, 1, true)
      assert.matches("2", msg, 1, true)
    end)

    it("a raw binary needs a base address", function()
      local ok, msg, code = image.load(helper.fixture("h7_seed.bin"))
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)

    it("parse of a broken ihex string fails with FORMAT naming the given name", function()
      local msg = expect_fail("FORMAT", image.parse(":020000040800F2\n:10000000ZZ\n", { name = "given.hex" }))
      assert.matches("given.hex", msg, 1, true)
    end)
  end)

  describe("model", function()
    it("new() is empty; add coalesces adjacent data", function()
      local img = image.new()
      assert.are.equal(0, img:size())
      assert.are.same({}, img:segments())
      assert.is_nil(img:format())
      assert.is_true(img:add(0x1000, "abcd"))
      assert.is_true(img:add(0x1004, "efgh"))
      assert.are.same({ { address = 0x1000, size = 8, crc32 = image.crc32("abcdefgh") } }, img:segments())
      assert.are.equal("abcdefgh", img:data(1))
      assert.are.equal("cdef", img:bytes(0x1002, 4))
      assert.is_nil(img:bytes(0x1006, 4))
    end)

    it("overlapping data must agree", function()
      local img = image.new()
      assert.is_true(img:add(0x1000, "abcd"))
      assert.is_true(img:add(0x1002, "cd"))
      expect_fail("RANGE", img:add(0x1002, "XX"))
    end)

    it("entry can be set and cleared", function()
      local img = image.new()
      assert.is_nil(img:entry())
      assert.is_true(img:set_entry(0x08000191))
      assert.are.equal(0x08000191, img:entry())
      assert.is_true(img:set_entry(nil))
      assert.is_nil(img:entry())
    end)

    it("merge, slice, clone, fill_gaps, pad", function()
      local a, b = image.new(), image.new()
      a:add(0x100, "AAAA")
      b:add(0x108, "BBBB")
      assert.is_true(a:merge(b))
      assert.are.equal(2, #a:segments())
      assert.is_true(a:merge(a))
      local c = a:clone()
      assert.is_true(c:fill_gaps(0x00))
      assert.are.same({ { address = 0x100, size = 12, crc32 = image.crc32("AAAA\0\0\0\0BBBB") } }, c:segments())
      assert.are.equal(2, #a:segments()) -- the clone is independent
      local s = a:slice(0x102, 8)
      assert.are.equal("AA", s:bytes(0x102, 2))
      assert.are.equal("BB", s:bytes(0x108, 2))
      assert.are.equal(4, s:size())
      local p = image.new()
      p:add(0x101, "xy")
      assert.is_true(p:pad(4))
      assert.are.equal("\255xy\255", p:bytes(0x100, 4))
      local conflict = image.new()
      conflict:add(0x100, "ZZZZ")
      expect_fail("RANGE", conflict:merge(a))
    end)

    it("sectors() lists the touched sectors of a layout", function()
      local core = require "dfu.core"
      local layout = assert(core.parse_layout("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"))
      local img = image.new()
      img:add(0x08000000, "x")
      img:add(0x08004010, "y")
      img:add(0x08010000, "z")
      local secs = assert(img:sectors(layout))
      assert.are.equal(3, #secs)
      assert.are.equal(0x08000000, secs[1].address)
      assert.are.equal(16384, secs[1].size)
      assert.are.equal(0x08004000, secs[2].address)
      assert.are.equal(0x08010000, secs[3].address)
      assert.are.equal(65536, secs[3].size)
      -- a layout string and a bare runs array work too
      assert.are.same(secs, assert(img:sectors("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg")))
      assert.are.same(secs, assert(img:sectors(layout.runs)))
      -- runs given with flags instead of the type number
      local flags = { { address = 0x08000000, count = 4, size = 16384, readable = true, erasable = true,
                        writable = true }, { address = 0x08010000, count = 1, size = 65536, writable = true } }
      local fs = assert(img:sectors(flags))
      assert.are.equal(7, fs[1].type)
      assert.are.equal(4, fs[3].type)
      img:add(0x20000000, "r")
      expect_fail("RANGE", img:sectors(layout))
    end)
  end)

  describe("writers", function()
    local src

    before_each(function()
      src = assert(image.load(helper.fixture("f4_config.elf")))
    end)

    for _, fmt in ipairs({ "ihex", "srec", "dfuse" }) do
      it("encode " .. fmt .. " round-trips", function()
        local data = assert(src:encode(fmt))
        assert.are.equal(fmt, image.detect(data))
        local back = assert(image.parse(data))
        local segs = back:segments()
        if fmt == "dfuse" then
          segs = back:targets()[1].image:segments()
        end
        assert.are.same(src:segments(), segs)
      end)
    end

    it("encode dfuse writes the suffix ids, target alt and name", function()
      local data = assert(src:encode("dfuse", { vid = 0x0483, pid = 0xdf11, alt = 1, name = "Flash" }))
      local back = assert(image.parse(data))
      local sfx = back:suffix()
      assert.are.equal(0x0483, sfx.vid)
      assert.are.equal(0xdf11, sfx.pid)
      local t = back:targets()
      assert.are.equal(1, #t)
      assert.are.equal(1, t[1].alt)
      assert.are.equal("Flash", t[1].name)
    end)

    it("encode bin fills gaps and warns about large ones", function()
      local img = image.new()
      img:add(0x1000, "ab")
      img:add(0x1004, "cd")
      local data = assert(img:encode("bin"))
      assert.are.equal(6, #data:sub(1, 6))
      assert.are.equal("ab", data:sub(1, 2))
      assert.are.equal("cd", data:sub(5, 6))
      local far = image.new()
      far:add(0, "a")
      far:add(0x100000, "b")
      local _, warning = assert(far:encode("bin", { gap_warn = 16 }))
      assert.is_string(warning)
    end)

    it("save picks the format by extension", function()
      for ext, fmt in pairs({ [".hex"] = "ihex", [".s19"] = "srec", [".dfu"] = "dfuse" }) do
        local path = helper.tmpname(ext)
        assert.is_true((src:save(path)))
        local back = assert(image.load(path))
        assert.are.equal(fmt, back:format())
      end
      local bin = helper.tmpname(".bin")
      assert.is_true((src:save(bin)))
      local back = assert(image.load(bin .. "@0x08000000"))
      assert.are.equal(src:segments()[1].address, back:segments()[1].address)
    end)

    it("save to an unwritable path fails", function()
      local ok, msg, code = src:save("/nonexistent/dir/x.hex")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)
  end)

  describe("crc32", function()
    it("is the zlib CRC-32 and continues from a previous value", function()
      assert.are.equal(0xCBF43926, image.crc32("123456789"))
      assert.are.equal(0, image.crc32(""))
      assert.are.equal(image.crc32("123456789"), image.crc32("6789", image.crc32("12345")))
    end)
  end)

  describe("__tostring and targets", function()
    it("describes images", function()
      local img = assert(image.load(helper.fixture("h7_seed.hex")))
      local s = tostring(img)
      assert.matches("^dfu%.Image: ihex, 2 segments", s)
      assert.matches("^dfu%.Image: ", tostring(image.new()))
    end)

    it("a target image keeps its parent alive", function()
      local t = assert(image.load(helper.fixture("h7_seed.dfu"))):targets()[1].image
      collectgarbage()
      collectgarbage()
      assert.are.same(helper.truth()["h7_seed.dfu"].targets[1].segments, segs_of(t))
      assert.matches("^dfu%.Image", tostring(t))
    end)
  end)

  describe("argument errors", function()
    local img = image.new()
    local cases = {
      { "load(nil)", function() image.load(nil) end, "bad argument #1" },
      { "load(path, 5)", function() image.load("x", 5) end, "bad argument #2" },
      { "load base out of range", function() image.load("x", { base = -1 }) end, "base" },
      { "parse(1)", function() image.parse({}) end, "bad argument #1" },
      { "new(extra)", function() image.new(1) end, "bad argument #1" },
      { "crc32(nil)", function() image.crc32() end, "bad argument #1" },
      { "crc32 bad crc", function() image.crc32("x", -5) end, "bad argument #2" },
      { "detect()", function() image.detect() end, "bad argument #1" },
      { "data(0)", function() img:data(0) end, "no such segment" },
      { "bytes(-1)", function() img:bytes(-1, 1) end, "bad argument #1" },
      { "add(addr, nil)", function() img:add(0, nil) end, "bad argument #2" },
      { "add(2^32)", function() img:add(0x100000000, "x") end, "bad argument #1" },
      { "merge(nil)", function() img:merge(nil) end, "dfu.Image expected" },
      { "slice()", function() img:slice() end, "bad argument #1" },
      { "fill_gaps(256)", function() img:fill_gaps(256) end, "bad argument #1" },
      { "pad(0)", function() img:pad(0) end, "bad argument #1" },
      { "sectors(5)", function() img:sectors(5) end, "bad argument #1" },
      { "encode('xml')", function() img:encode("xml") end, "invalid option" },
      { "encode opts", function() img:encode("bin", { vid = 0x10000 }) end, "vid" },
      { "save(nil)", function() img:save(nil) end, "bad argument #1" },
      { "set_entry()", function() img:set_entry() end, "bad argument #1" },
      { "segments(extra)", function() img:segments(1) end, "bad argument #1" },
      { "method on non-image", function() img.size({}) end, "dfu.Image expected" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " raises", function()
        local ok, err = pcall(c[2])
        assert.is_false(ok)
        assert.matches(c[3], tostring(err), 1, true)
      end)
    end
  end)
end)
