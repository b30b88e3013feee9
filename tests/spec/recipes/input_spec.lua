-- Input files: only regular files of at most 256 MiB are images. A device (/dev/zero), a FIFO
-- or a directory given as FILE is refused at once with exit status 2 and a message that says
-- what it is, instead of being read until memory runs out or waiting for a writer.
local support = require "recipes.support"
local helper = support.helper

local function tmpdir()
  local dir = support.tmp("")
  os.remove(dir)
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
  return dir
end

-- The built dfush under a time limit and (where the build allows it) a memory limit, so that a
-- regression fails the test instead of hanging or exhausting the machine.
local function guarded(args)
  local limits = helper.sanitized() and "" or "ulimit -v 2000000 && "
  local argv = { "sh", "-c", limits .. 'exec timeout 20 "$0" "$@"', helper.dfush_path }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local t0 = os.time()
  local r = helper.run(argv)
  r.seconds = os.time() - t0
  return r
end

local function refused(r, what)
  assert.are.equal(2, r.code, r.stderr)
  assert.matches(what, r.stderr, 1, true)
  assert.not_matches("traceback", r.stderr, 1, true)
  assert.is_true(r.seconds < 10, "took " .. r.seconds .. " s")
end

describe("input files", function()
  local dirs = {}
  after_each(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf " .. helper.shell_quote(d)) end
    dirs = {}
    helper.cleanup()
  end)

  if not support.have_binary() then
    pending("needs the built dfush")
    return
  end

  local DEV = "/dev/zero: not a regular file (a character device); give an image file"

  it("image info /dev/zero@ADDR is refused", function()
    refused(guarded({ "image", "info", "/dev/zero@0x08000000" }), DEV)
  end)

  it("flash /dev/zero@ADDR is refused before the device is touched", function()
    local dev, _, events = support.simdev("stm32h753")
    refused(guarded({ "-d", dev, "flash", "/dev/zero@0x08000000" }), DEV)
    assert.are.same({}, support.events_file(events))
  end)

  it("verify /dev/zero@ADDR is refused", function()
    refused(guarded({ "-d", "sim:stm32h753", "verify", "/dev/zero@0x08000000" }), DEV)
  end)

  it("a FIFO is refused at once, for image info and flash", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local fifo = dir .. "/fw.hex"
    assert(os.execute("mkfifo " .. helper.shell_quote(fifo)))
    local want = fifo .. ": not a regular file (a FIFO); give an image file"
    refused(guarded({ "image", "info", fifo }), want)
    refused(guarded({ "image", "info", fifo .. "@0x08000000" }), want)
    refused(guarded({ "-d", "sim:stm32h753", "flash", fifo }), want)
  end)

  it("a directory is refused", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local want = dir .. ": not a regular file (a directory); give an image file"
    refused(guarded({ "image", "info", dir .. "@0x08000000" }), want)
    refused(guarded({ "image", "convert", dir .. "@0x08000000", dir .. "/out.hex" }), want)
    refused(guarded({ "-d", "sim:stm32h753", "flash", dir }), want)
  end)

  it("a file over 256 MiB is refused without reading it", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local big = dir .. "/big.bin"
    local f = assert(io.open(big, "wb"))
    assert(f:seek("set", 256 * 1024 * 1024))
    f:write("x") -- sparse: 256 MiB + 1 byte, nothing on disk
    f:close()
    refused(guarded({ "image", "info", big .. "@0x08000000" }),
      big .. ": 268435457 bytes, over the 256 MiB limit for an image file")
  end)

  it("the library returns nil, msg, code for these", function()
    local image = require "dfu.image"
    local img, msg, code = image.load("/dev/null", { base = 0 })
    assert.is_nil(img)
    assert.are.equal("/dev/null: not a regular file (a character device); give an image file", msg)
    assert.are.equal("INVALID", code)
  end)
end)

describe("Intel HEX input", function()
  after_each(helper.cleanup)

  local EMPTY = ":00000001FF\n"
  -- two start address records that disagree (lines 3 and 4)
  local TWO_STARTS = ":020000040800F2\n:0400000001020304F2\n:0400000508000001EE\n" ..
    ":0400000508000101ED\n:00000001FF\n"
  -- an extended linear address record with address field 0010
  local EXT_ADDR = ":020010040800E2\n:0400000001020304F2\n:00000001FF\n"

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      for _, cmd in ipairs({ "flash", "verify" }) do
        it(cmd .. " refuses an image that contains no data, before touching the device", function()
          local file = helper.writefile(support.tmp(".hex"), EMPTY)
          local dev, _, events = support.simdev("stm32h753")
          local r = run({ "-d", dev, cmd, file })
          assert.are.equal(2, r.code, r.stderr)
          assert.matches(file .. ": the image contains no data", r.stderr, 1, true)
          assert.not_matches("traceback", r.stderr, 1, true)
          assert.are.same({}, support.events_file(events))
          r = run({ "-d", dev, "--json", cmd, helper.fixture("h7_seed.hex"), file })
          assert.are.equal(2, r.code, r.stderr)
          local j = assert(support.json.decode(r.stdout))
          assert.are.equal("FORMAT", j.error.code)
          assert.matches("contains no data", j.error.message, 1, true)
        end)
      end

      it("image info still shows an image without data", function()
        local file = helper.writefile(support.tmp(".hex"), EMPTY)
        local r = run({ "image", "info", file, "--json" })
        assert.are.equal(0, r.code, r.stderr)
        local j = assert(support.json.decode(r.stdout))
        assert.are.equal("ihex", j.format)
        assert.are.same({}, j.segments)
      end)

      it("refuses start addresses that disagree, naming both lines", function()
        local file = helper.writefile(support.tmp(".hex"), TWO_STARTS)
        for _, args in ipairs({ { "image", "info", file }, { "-d", "sim:stm32h753", "flash", file } }) do
          local r = run(args)
          assert.are.equal(2, r.code, r.stderr)
          assert.matches(file .. ":4: start address 0x08000101 disagrees with the one on line 3 (0x08000001)",
            r.stderr, 1, true)
        end
      end)

      it("refuses an extended address record whose address field is not 0000", function()
        local file = helper.writefile(support.tmp(".hex"), EXT_ADDR)
        local r = run({ "-d", "sim:stm32h753", "flash", file })
        assert.are.equal(2, r.code, r.stderr)
        assert.matches(file .. ":1: type 04 record with address field 0010 (must be 0000)", r.stderr, 1, true)
      end)
    end)
  end
end)
