-- dfu-util 0.11's command line as dfu.dfuutil_opts parses it, and its files as dfu.dfuutil_file
-- reads them: GNU getopt_long's behaviour and messages, -d/-S/-s, C numbers, DFU suffix and
-- prefix, the DfuSe container and the progress bar.
local opts = require "dfu.dfuutil_opts"
local dfile = require "dfu.dfuutil_file"

-- parse argv; returns the settings or the exit status and what went to stderr
local function parse(argv)
  local err = {}
  local ok, o = pcall(opts.parse, argv, "dfu-util", function(s) err[#err + 1] = s end)
  if ok then return o, table.concat(err) end
  assert(opts.is_exit(o), tostring(o))
  return o.exit, table.concat(err)
end

describe("dfu.dfuutil_opts", function()
  it("reads numbers as C's strtol does", function()
    assert.are.same({ 16, 5 }, { opts.strtol("0x10", 0) })
    assert.are.same({ 8, 4 }, { opts.strtol("010", 0) })
    assert.are.same({ 0x483, 5 }, { opts.strtol("0483:df11", 16) })
    assert.are.same({ 0x483, 7 }, { opts.strtol("0x0483", 16) })
    assert.are.same({ 0, 1 }, { opts.strtol("xyz", 0) })
    assert.are.same({ 0, 2 }, { opts.strtol("0x", 0) })
    assert.are.same({ -5, 3 }, { opts.strtol("-5", 10) })
    assert.are.equal(-1, opts.to_int(0xFFFFFFFF))
  end)

  it("takes short options bundled, with attached or separate values, and long ones abbreviated", function()
    local o = parse { "-lv", "-a0", "-d,0483:df11", "--down", "fw.bin", "--dfuse", "0x08000000:leave" }
    assert.are.equal("download", o.mode)
    assert.are.equal(1, o.verbose)
    assert.are.equal(0, o.alt_index)
    assert.are.equal("fw.bin", o.file)
    assert.are.equal("0x08000000:leave", o.dfuse_options)
    assert.are.same({ vendor = 0x10000, product = 0x10000, vendor_dfu = 0x483, product_dfu = 0xdf11 }, o.match)
    local o2 = parse { "--int=2", "--alt", "Internal Flash", "--upload=out.bin" }
    assert.are.equal(2, o2.intf)
    assert.are.equal("Internal Flash", o2.alt_name)
    assert.are.equal(-1, o2.alt_index)
    assert.are.equal("upload", o2.mode)
  end)

  it("treats --wait as a flag (so --reset after it still counts) and knows --no-verify", function()
    local o = parse { "-p", "1-1", "--wait", "--reset", "--alt", "0", "--download", "f.dfu", "--no-verify" }
    assert.is_true(o.wait)
    assert.is_true(o.final_reset)
    assert.is_false(o.verify)
    assert.are.equal("1-1", o.path)
  end)

  it("reports getopt's errors with glibc's messages and exit 64, in argument order", function()
    local cases = {
      { { "-x" }, "dfu-util: invalid option -- 'x'" },
      { { "--frob" }, "dfu-util: unrecognized option '--frob'" },
      { { "--de" }, "dfu-util: option '--de' is ambiguous; possibilities: '--detach' '--detach-delay' " ..
        "'--device' '--devnum'" },
      { { "-D" }, "dfu-util: option requires an argument -- 'D'" },
      { { "--alt" }, "dfu-util: option '--alt' requires an argument" },
      { { "--reset=1" }, "dfu-util: option '--reset' doesn't allow an argument" },
      { { "-l", "x" }, "Error: Unexpected argument: x" },
      { { "-E", "5s" }, "dfu-util: Something went wrong with the argument of --detach-delay" },
      { { "-t", "" }, "dfu-util: No digits were found from the argument of --transfer-size" },
    }
    for _, c in ipairs(cases) do
      local status, err = parse(c[1])
      assert.are.equal(64, status, table.concat(c[1], " "))
      assert.are.equal(c[2], err:match("^[^\n]*"))
    end
    assert.are.equal(0, (parse { "-h", "--frob" })) -- -h is acted on when getopt reaches it
    assert.are.equal(64, (parse { "--frob", "-h" }))
  end)

  it("reads -d as dfu-util does: run-time ids, DFU-mode ids, wildcards", function()
    assert.are.same({ vendor = 0x483, product = 0xdf11, vendor_dfu = -1, product_dfu = -1 },
      opts.parse_device("0483:df11"))
    assert.are.same({ vendor = 0x1d50, product = 0x6018, vendor_dfu = 0x1d50, product_dfu = 0x6017 },
      opts.parse_device("1d50:6018,:6017"))
    assert.are.same({ vendor = -1, product = -1, vendor_dfu = 0x483, product_dfu = 0xdf11 },
      opts.parse_device("vid:pid,0x0483:0xDF11"))
    assert.are.same({ vendor = -1, product = 0x10000, vendor_dfu = -1, product_dfu = -1 },
      opts.parse_device("*:-"))
  end)

  it("reads -S as run-time and DFU-mode serials", function()
    assert.are.same({ "A", "A" }, { opts.parse_serial("A") })
    assert.are.same({ "A", "B" }, { opts.parse_serial("A,B") })
    assert.are.same({ nil, "B" }, { opts.parse_serial(",B") })
  end)

  it("reads -s as dfuse_parse_options does", function()
    assert.are.same({ address = 0x08000000, leave = true, force = 0 }, opts.parse_dfuse("0x08000000:leave"))
    assert.are.same({ address = 0x08000000, length = 1024, force = 0 }, opts.parse_dfuse("0x08000000:1024"))
    assert.are.same({ leave = true, force = 0 }, opts.parse_dfuse(":leave"))
    assert.are.same({ address = 0x08000000, unprotect = true, force = 1 },
      opts.parse_dfuse("0x08000000:unprotect:force"))
    assert.are.same({ address = 0x08000000, mass_erase = true, will_reset = true, force = 2 },
      opts.parse_dfuse("0x08000000:mass-erase:force:will:f"))
    assert.are.same({ nil, "Invalid dfuse address: 0x0800z000:leave" }, { opts.parse_dfuse("0x0800z000:leave") })
    assert.are.same({ nil, "Invalid dfuse modifier: go:leave" }, { opts.parse_dfuse("0x08000000:go:leave") })
  end)

  it("leaves -c 0 as 'any configuration'", function()
    assert.are.equal(-1, parse({ "-c", "0", "-l" }).cfg)
    assert.are.equal(2, parse({ "-c", "2", "-l" }).cfg)
  end)
end)

describe("dfu.dfuutil_file", function()
  local helper = require "helper"
  teardown(helper.cleanup)

  local function load(data)
    local path = helper.writefile(helper.tmpname(), data)
    local said, warned = {}, {}
    local ok, f = pcall(dfile.load, path, 0, function(...) said[#said + 1] = string.format(...) end,
      function(...) warned[#warned + 1] = string.format(...) end,
      function(code, ...) warned[#warned + 1] = string.format(...) opts.exit(code) end)
    return ok and f or f.exit, warned
  end

  it("reads a DFU suffix (the CRC dfu-suffix writes) and strips it", function()
    local f, warned = load(dfile.add_suffix("firmware", 0x0483, 0xdf11, 0x2200, 0x011A))
    assert.are.same({}, warned)
    assert.are.same({ 0x0483, 0xdf11, 0x2200, 0x011A, 16 }, { f.vid, f.pid, f.bcd_device, f.bcd_dfu, f.suffix })
    assert.are.equal("firmware", dfile.payload(f))
    -- the suffix of the fixture made by dfu-suffix
    local fx = load(helper.readfile(helper.fixture("h7_seed.suffix.bin")))
    assert.are.equal(16, fx.suffix)
    assert.are.equal(helper.readfile(helper.fixture("h7_seed.bin")), dfile.payload(fx))
  end)

  it("warns about a missing or broken suffix as dfu-util does, and goes on", function()
    local f, warned = load("short")
    assert.are.equal(0xFFFF, f.vid)
    assert.are.same({ "Warning: File too short for DFU suffix",
      "A valid DFU suffix will be required in a future dfu-util release" }, warned)
    local s = dfile.add_suffix(string.rep("a", 40))
    local _, w2 = load(s:sub(1, -2) .. "x")
    assert.are.equal("Warning: DFU suffix CRC does not match", w2[1])
    local _, w3 = load(string.rep("a", 40))
    assert.are.equal("Warning: Invalid DFU suffix signature", w3[1])
  end)

  it("refuses a suffix whose length is impossible (65) and a file that cannot be opened (66)", function()
    local body = string.rep("a", 20) .. string.pack("<I2I2I2I2", 0xffff, 0xffff, 0xffff, 0x0100) .. "UFD\8"
    local status = load(body .. string.pack("<I4", dfile.suffix_crc(body)))
    assert.are.equal(65, status)
    local ok, e = pcall(dfile.load, "/nonexistent/f", 0, print, print, function(code) opts.exit(code) end)
    assert.is_false(ok)
    assert.are.equal(66, e.exit)
  end)

  it("parses the DfuSe container of a .dfu file, targets and elements", function()
    local f = load(helper.readfile(helper.fixture("f4_config.dfu")))
    local p = dfile.parse_dfuse(f, function(code) opts.exit(code) end)
    assert.are.equal(1, #p.targets)
    local t = p.targets[1]
    assert.are.equal(0, t.alt)
    assert.are.equal(2, #t.elements)
    assert.are.equal(0x08000000, t.elements[1].address)
    assert.are.equal(30244, #t.elements[1].data)
    assert.are.equal(0x08060000, t.elements[2].address)
    assert.are.equal(0, p.leftover)
  end)

  it("draws dfu-util's progress bar, once per step or second, with 'done' at the end", function()
    local out = {}
    local bar = dfile.progress_bar(function(s) out[#out + 1] = s end, function() return 0 end)
    bar("Download", 0, 1)
    bar("Download", 1, 100)
    bar("Download", 100, 100)
    assert.are.same({
      "\rDownload\t[                         ]   0%            0 bytes",
      "\rDownload\t[=========================] 100%          100 bytes",
      "\nDownload done.\n",
    }, out)
  end)
end)
