-- Output files are replaced whole or not at all: a write that fails (here a file size limit, as
-- on a full disk) leaves the old OUT as it was and no temporary file next to it.
local support = require "recipes.support"
local helper = support.helper

local function tmpdir()
  local dir = support.tmp("")
  os.remove(dir)
  assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
  return dir
end

local function entries(dir)
  local p = io.popen("ls -A " .. helper.shell_quote(dir))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  table.sort(out)
  return out
end

-- dfush with writes limited to 1 block (512 or 1024 bytes, by the shell) and SIGXFSZ ignored,
-- so that a longer write fails with EFBIG.
local function limited(args)
  local argv = { "sh", "-c", 'ulimit -f 1 && trap "" XFSZ && exec "$0" "$@"', helper.dfush_path }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return helper.run(argv)
end

describe("output files", function()
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

  it("image convert: a failed write keeps the old OUT and leaves no temporary", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local out = dir .. "/out.hex"
    helper.writefile(out, "old\n")
    local r = limited({ "image", "convert", helper.fixture("h7_seed.elf"), out })
    assert.are.equal(1, r.code, r.stderr)
    assert.matches("cannot write " .. out, r.stderr, 1, true)
    assert.matches("File too large", r.stderr, 1, true)
    assert.are.equal("old\n", helper.readfile(out))
    assert.are.same({ "out.hex" }, entries(dir))
  end)

  it("read -o: a failed write keeps the old OUT and leaves no temporary", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local out = dir .. "/dump.bin"
    helper.writefile(out, "old\n")
    local r = limited({ "-d", "sim:stm32h753", "read", "0x08000000", "16K", "-o", out })
    assert.are.equal(1, r.code, r.stderr)
    assert.matches(out, r.stderr, 1, true)
    assert.are.equal("old\n", helper.readfile(out))
    assert.are.same({ "dump.bin" }, entries(dir))
  end)

  it("image convert replaces an existing OUT whole", function()
    local dir = tmpdir()
    dirs[#dirs + 1] = dir
    local out = dir .. "/out.bin"
    helper.writefile(out, string.rep("x", 200000))
    local r = helper.dfush({ "image", "convert", helper.fixture("h7_seed.hex"), out })
    assert.are.equal(0, r.code, r.stderr)
    local fresh = dir .. "/fresh.bin"
    r = helper.dfush({ "image", "convert", helper.fixture("h7_seed.hex"), fresh })
    assert.are.equal(0, r.code, r.stderr)
    local got, want = helper.readfile(out), helper.readfile(fresh)
    assert.are.equal(#want, #got)
    assert.is_true(want == got, "the replaced file differs from a fresh conversion")
    assert.are.same({ "fresh.bin", "out.bin" }, entries(dir))
  end)
end)
