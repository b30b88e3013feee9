-- Flash throughput on the simulator, against the physical limit of each profile and against
-- dfu-util's strategy. Not a test; run from the repository root:
--   build/dfush tests/bench/bench_flash.lua
-- Times are the simulator's virtual clock (design.md 5 timing model). "dfush s" is erase +
-- write (what the limit covers); "+verify s" adds the read-back dfush does by default.
local dfu = require "dfu"

-- Busy times from design.md 5 (seconds) and the program unit the time is charged per.
local PROFILES = {
  { label = "stm32h753", spec = "stm32h753", xfer = 1024,
    erase = function(size) return 1.1 * size / (128 * 1024) end, unit = 32, prog = 16e-6 },
  { label = "stm32f405 x8", spec = "stm32f405", xfer = 2048,
    erase = function(size) return ({ [16] = 0.4, [64] = 1.2, [128] = 2.0 })[size // 1024] end,
    unit = 1, prog = 16e-6 },
  { label = "stm32f405 x32", spec = "stm32f405", xfer = 2048, x32 = true,
    erase = function(size) return ({ [16] = 0.25, [64] = 0.55, [128] = 1.0 })[size // 1024] end,
    unit = 4, prog = 16e-6 },
}

local SIZES = { 256 * 1024, 1024 * 1024 }

-- Deterministic data without 0xFF runs, so no block is skipped.
local function make_image(size)
  local words, x = {}, 0x12345678
  for i = 1, size // 4 do
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    words[i] = string.pack("<I4", x | 0x01010101)
  end
  local img = dfu.image.new()
  assert(img:add(0x08000000, table.concat(words)))
  return img
end

local function open(p)
  local sim = assert(dfu.sim.new(p.spec))
  local dev = assert(sim:device())
  if p.x32 then
    -- Device Feature byte: flash parallelism x32 (family table scripts/stm32/families.lua)
    local fam = dev:family()
    assert(dev:set_alt("@Device Feature"))
    assert(dev:write(fam.device_feature.address, string.char(fam.device_feature.x32, 0, 0, 0)))
    assert(dev:set_alt(0))
  end
  return sim, dev
end

local function limit(p, dev, img)
  local plan = assert(dev:plan(img))
  local part = plan.parts[1]
  local t = 0
  for _, s in ipairs(part.erase) do t = t + p.erase(s.size) end
  local bytes = part.bytes
  t = t + (bytes / p.unit) * p.prog       -- program busy
  t = t + bytes * 1e-6                    -- wire time, 1 us per byte
  t = t + math.ceil(bytes / p.xfer) * 1e-3 -- one control transfer per data block
  return t, part.erase
end

-- dfu-util 0.11's download loop: erase page by page, then for every block SET_ADDRESS and
-- DNLOAD(wValue=2), sleeping the full bwPollTimeout after each GETSTATUS (spec policy).
local function dfu_util_style(dev, img, erase)
  dev:set_poll("spec")
  assert(dev:abort_to_idle())
  for _, s in ipairs(erase) do assert(dev:erase_page(s.address)) end
  local data = img:data(1)
  local base = img:segments()[1].address
  local xfer = dev:info().transfer_size
  for off = 0, #data - 1, xfer do
    assert(dev:set_address(base + off))
    assert(dev:dnload(2, data:sub(off + 1, off + xfer)))
    assert(dev:wait_status(5000))
  end
end

local rows = {}
for _, p in ipairs(PROFILES) do
  for _, size in ipairs(SIZES) do
    local img = make_image(size)
    local sim, dev = open(p)
    local lim, erase = limit(p, dev, img)
    local t0 = sim:now()
    local n0 = dev:transfers()
    assert(dev:flash(img, { verify = false }))
    local ours = sim:now() - t0
    local transfers = dev:transfers() - n0
    dev:close()
    local sim3, dev3 = open(p)
    local t3 = sim3:now()
    local report = assert(dev3:flash(img, { verify = true }))
    local with_verify = sim3:now() - t3
    assert(report.verified and sim3:read(0x08000000, size) == img:data(1))
    dev3:close()
    local sim2, dev2 = open(p)
    local t1 = sim2:now()
    dfu_util_style(dev2, img, erase)
    local theirs = sim2:now() - t1
    assert(sim2:read(0x08000000, size) == img:data(1), "dfu-util-style run left different data")
    dev2:close()
    rows[#rows + 1] = { p.label, size // 1024, #erase, ours, lim, ours / lim, theirs, theirs / ours,
                        transfers, with_verify }
  end
end

print(string.format("%-14s %5s %5s %9s %9s %6s %10s %8s %10s %9s", "profile", "KiB", "erase",
  "dfush s", "limit s", "ratio", "+verify s", "transfers", "dfu-util s", "speedup"))
for _, r in ipairs(rows) do
  print(string.format("%-14s %5d %5d %9.3f %9.3f %6.3f %10.3f %8d %10.3f %8.2fx", r[1], r[2], r[3], r[4],
    r[5], r[6], r[10], r[9], r[7], r[8]))
end
print("limit = erase busy + program busy + 1 us/byte on the wire + 1 ms per data block;")
print("DfuSe needs DNLOAD + 2 GETSTATUS per block; the second GETSTATUS is held while the block")
print("programs, so the floor is 2 ms per block above the limit, less the program time (up to 1 ms).")
