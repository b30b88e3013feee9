-- Flash throughput on the simulator, per profile, against the DfuSe protocol floor and against
-- dfu-util's strategy. Not a test; run from the repository root:
--   build/dfush tests/bench/bench_flash.lua [PROFILE ...]
-- Times are the simulator's virtual clock (design.md 5 timing model: 1 ms per control transfer
-- plus 1 us per data byte; a GETSTATUS sent while a job runs is answered when the job ends).
--
-- The floor of a flash job is what the ROM cannot do without: for each command it executes
-- (one erase per sector or page the plan erases, one SET_ADDRESS per contiguous run, one
-- program per data block) the DNLOAD, the GETSTATUS that starts the job (dfuDNBUSY) and the
-- GETSTATUS that is answered when the job ends (dfuDNLOAD-IDLE), with the job's busy time in
-- between. The busy time of every erase and program is the one the simulator charged (its
-- "erase" and "program" events), so the floor follows each profile's timing model. Everything
-- else dfush sends (finding the family, reading the option bytes for the protection check,
-- leaving dfuDNLOAD-IDLE, a poll the ROM stalls, a wait that overshoots) is above the floor.
-- "dfush s" is erase + write; "+verify s" adds the read-back dfush does by default.
local dfu = require "dfu"
local json = require "dfu.json"

local XFER_US, BYTE_US = 1000, 1          -- sim cost model (design.md 5)
local STATUS_LEN, CMD_LEN = 6, 5          -- GETSTATUS answer; DfuSe command (0x21/0x41 + address)
local RATIO_MAX = 1.02

-- label, sim spec, x32 = set the Device Feature byte to x32 first (F4 parallelism),
-- erase_stalls = the ROM stalls a GETSTATUS sent during an erase (design.md 5: STM32L4)
local PROFILES = {
  { label = "stm32h753", spec = "stm32h753" },
  { label = "stm32f405 x8", spec = "stm32f405" },
  { label = "stm32f405 x32", spec = "stm32f405", x32 = true },
  { label = "stm32f072", spec = "stm32f072" },
  { label = "stm32f411 x8", spec = "stm32f411" },
  { label = "stm32f411 x32", spec = "stm32f411", x32 = true },
  { label = "stm32f767", spec = "stm32f767" },
  { label = "stm32g0b1", spec = "stm32g0b1" },
  { label = "stm32g474", spec = "stm32g474" },
  { label = "stm32l476", spec = "stm32l476", erase_stalls = true },
  { label = "stm32h7a3", spec = "stm32h7a3" },
  { label = "stm32u585", spec = "stm32u585" },
  { label = "stm32c071", spec = "stm32c071" },
  { label = "gd32vf103", spec = "gd32vf103" },
}

-- image sizes, as far as the flash holds them, and the whole flash of a smaller part. A flash
-- job has a fixed start of about 15 transfers (state, family, the option-byte read of the
-- protection check) that the floor does not count; "setup ms" shows it. It is 1-2 % of a
-- 256 KiB job on the fastest profiles and more on small images (run with --small to see).
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
    assert(dev:abort_to_idle()) -- the F411 ROM enumerates in dfuERROR
    assert(dev:set_alt("@Device Feature"))
    assert(dev:write(fam.device_feature.address, string.char(fam.device_feature.x32, 0, 0, 0)))
    assert(dev:set_alt(0))
  end
  return sim, dev
end

local function events(sim, from)
  local out = {}
  local all = sim:events()
  for i = from + 1, #all do out[#out + 1] = assert(json.decode(all[i])) end
  return out
end

-- One executed DfuSe command: DNLOAD of len bytes, GETSTATUS (job starts after its answer),
-- GETSTATUS held until the job ends (its 1 ms fixed cost overlaps the wait). A ROM that stalls
-- a GETSTATUS sent while the job runs (stalls = true) cannot overlap it: the GETSTATUS that
-- gets the answer starts when the job has ended.
local function job_us(len, busy_us, stalls)
  local wait = stalls and (busy_us or 0) + XFER_US or math.max(XFER_US, busy_us or 0)
  return (XFER_US + len * BYTE_US) + (XFER_US + STATUS_LEN) + wait + STATUS_LEN
end

-- The floor of the jobs the simulator executed, checked against what the plan needs.
local function floor_of(p, plan, evs, xfer)
  local part = plan.parts[1]
  local us, erases, programs, runs, blocks = 0, 0, 0, 0, 0
  for _, e in ipairs(evs) do
    if e.ev == "erase" then
      erases = erases + 1
      us = us + job_us(CMD_LEN, e.busy_us, p.erase_stalls)
    elseif e.ev == "program" then
      programs = programs + 1
      us = us + job_us(e.size, e.busy_us)
    end
  end
  -- the plan's runs: one SET_ADDRESS each, ceil(run / xfer) blocks
  for _, r in ipairs(part.segments) do
    runs = runs + 1
    blocks = blocks + (r.size + xfer - 1) // xfer
  end
  us = us + runs * job_us(CMD_LEN, 0)
  assert(erases == #part.erase, string.format("%d erases for %d sectors in the plan", erases, #part.erase))
  assert(programs == blocks, string.format("%d program jobs for %d blocks", programs, blocks))
  return us / 1e6, erases, blocks
end

-- dfu-util 0.11's download loop: erase page by page, then for every block SET_ADDRESS and
-- DNLOAD(wValue=2), sleeping the full bwPollTimeout after each GETSTATUS (spec policy).
local function dfu_util_style(dev, img, erase)
  dev:set_poll("spec")
  assert(dev:abort_to_idle())
  for _, s in ipairs(erase) do assert(dev:erase_page(s.request or s.address)) end
  local data = img:data(1)
  local base = img:segments()[1].address
  local xfer = dev:info().transfer_size
  for off = 0, #data - 1, xfer do
    assert(dev:set_address(base + off))
    assert(dev:dnload(2, data:sub(off + 1, off + xfer)))
    assert(dev:wait_status(30000))
  end
end

local function flash_size(dev) return dev:alts()[1].layout.total end

local only = {}
for _, a in ipairs(arg or {}) do
  if a == "--small" then table.insert(SIZES, 1, 64 * 1024) else only[a] = true end
end

local rows, worst = {}, 0
for _, p in ipairs(PROFILES) do
  if next(only) == nil or only[p.label] or only[p.spec] then
    local _, probe = open(p)
    local fsize = flash_size(probe)
    local xfer = probe:info().transfer_size
    probe:close()
    local sizes = {}
    for _, size in ipairs(SIZES) do
      if size <= fsize then sizes[#sizes + 1] = size end
    end
    if fsize < SIZES[#SIZES] then sizes[#sizes + 1] = fsize end -- and the whole flash
    for _, size in ipairs(sizes) do
      do
        local img = make_image(size)
        local sim, dev = open(p)
        local plan = assert(dev:plan(img))
        local e0, t0, n0 = #sim:events(), sim:now(), dev:transfers()
        assert(dev:flash(img, { verify = false, diff = false })) -- the write path, not the compare
        local ours = sim:now() - t0
        local transfers = dev:transfers() - n0
        local evs = events(sim, e0)
        local floor, nerase, nblocks = floor_of(p, plan, evs, xfer)
        local setup = 0 -- up to the DNLOAD of the first erase
        for i, e in ipairs(evs) do
          if e.ev == "erase" then
            setup = evs[i - 1].t - 1e-3 - 5e-6 - t0
            break
          end
        end
        dev:close()
        local sim3, dev3 = open(p)
        local t3 = sim3:now()
        local report = assert(dev3:flash(img, { verify = true }))
        local with_verify = sim3:now() - t3
        assert(report.verified and sim3:read(0x08000000, size) == img:data(1))
        dev3:close()
        local sim2, dev2 = open(p)
        local t1 = sim2:now()
        dfu_util_style(dev2, img, plan.parts[1].erase)
        local theirs = sim2:now() - t1
        assert(sim2:read(0x08000000, size) == img:data(1), "dfu-util-style run left different data")
        dev2:close()
        local ratio = ours / floor
        if ratio > worst then worst = ratio end
        rows[#rows + 1] = { p.label, size // 1024, nerase, nblocks, ours, floor, ratio, with_verify, transfers,
                            theirs, theirs / ours, setup * 1000 }
      end
    end
  end
end

print(string.format("%-14s %5s %5s %6s %9s %9s %6s %8s %10s %9s %10s %8s", "profile", "KiB", "erase", "blocks",
  "dfush s", "floor s", "ratio", "setup ms", "+verify s", "transfers", "dfu-util s", "speedup"))
for _, r in ipairs(rows) do
  print(string.format("%-14s %5d %5d %6d %9.3f %9.3f %6.3f %8.1f %10.3f %9d %10.3f %7.2fx", r[1], r[2], r[3], r[4],
    r[5], r[6], r[7], r[12], r[8], r[9], r[10], r[11]))
end
print("floor = per erase, SET_ADDRESS and data block: DNLOAD + GETSTATUS (starts the job) + GETSTATUS")
print("answered when the job ends (at least 1 ms), with the busy time the simulator charged.")
print(string.format("worst ratio %.3f (%s %.2f)", worst, worst <= RATIO_MAX and "<=" or "ABOVE", RATIO_MAX))
