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
