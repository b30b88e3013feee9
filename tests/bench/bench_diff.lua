-- Differential flashing on the simulator's virtual clock (design.md 5), 1 MiB images. Not a
-- test; run from the repository root:
--   build/dfush tests/bench/bench_diff.lua
-- Rows, per profile:
--   full       a new 1 MiB image over a board holding another one (every sector erased)
--   unchanged  the same image again: a read of the touched sectors, nothing else
--   one-sector one byte changed: that sector erased and programmed
--   kept       a 4 KiB image into a sector that also holds a marker outside the image
-- "floor" is the time to read the sectors the job touches (the least a compare can cost); for
-- one-sector and kept it is that read plus the erase and the write the job cannot avoid, each
-- measured alone on a scratch simulator.
local dfu = require "dfu"

local MiB = 1024 * 1024

local function data(n, seed)
  local t, x = {}, seed
  for i = 1, n // 4 do
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    t[i] = string.pack("<I4", x | 0x01010101)
  end
  return table.concat(t)
end

local function image(address, bytes)
  local img = dfu.image.new()
  assert(img:add(address, bytes))
  return img
end

local function events(sim, kind)
  local n = 0
  for _, line in ipairs(sim:events()) do
    if line:find('"ev":"' .. kind .. '"', 1, true) then n = n + 1 end
  end
  return n
end

-- Time one flash; returns seconds, erases, programs (events added by the job).
local function timed(sim, dev, img, opts)
  local e0, p0, t0 = events(sim, "erase"), events(sim, "program"), dev:now()
  local r = assert(dev:flash(img, opts))
  assert(r.ok)
  return dev:now() - t0, events(sim, "erase") - e0, events(sim, "program") - p0, r
end

-- Virtual time to read n bytes at addr (the read floor), measured on the same device.
local function read_time(dev, addr, n)
  local t0 = dev:now()
  local chunk = dfu.flash.transfer_size(dev) * dfu.flash.CHUNK_BLOCKS
  for off = 0, n - 1, chunk do assert(dev:read(addr + off, math.min(chunk, n - off))) end
  dev:abort_to_idle()
  return dev:now() - t0
end

-- Virtual time of one sector erase and of writing n bytes of data into it, measured on a
-- scratch simulator of the same profile (the parts of the one-sector and kept bounds).
local function erase_write_time(profile, addr, n)
  local sim = assert(dfu.sim.new(profile))
  local dev = assert(sim:device())
  local t0 = dev:now()
  assert(dev:erase_page(addr))
  local t1 = dev:now()
  assert(dev:write(addr, data(n, 3)))
  local t2 = dev:now()
  dev:close()
  return t1 - t0, t2 - t1
end

local PROFILES = {
  { name = "stm32h753", sector = 128 * 1024 },
  { name = "stm32f405", sector = 128 * 1024 },
}

print(string.format("%-10s %-10s %9s %7s %7s %10s %7s %s", "profile", "row", "seconds", "erases", "programs",
  "floor s", "ratio", "note"))
for _, p in ipairs(PROFILES) do
  local sim = assert(dfu.sim.new(p.name))
  local dev = assert(sim:device())
  local base = 0x08000000
  -- a board holding another image
  assert(dev:flash(image(base, data(MiB, 99)), { diff = false, verify = false }))
  local a = data(MiB, 1)
  local full, fe, fp = timed(sim, dev, image(base, a), { verify = false })
  local floor = read_time(dev, base, MiB)
  local t, e, pr = timed(sim, dev, image(base, a), { verify = false })
  print(string.format("%-10s %-10s %9.3f %7d %7d %10.3f %7.3f %s", p.name, "full", full, fe, fp, floor, full / floor,
    "a new image over an old one (mass erase where faster)"))
  print(string.format("%-10s %-10s %9.3f %7d %7d %10.3f %7.3f %s", p.name, "unchanged", t, e, pr, floor, t / floor,
    string.format("%.3f of the full flash", t / full)))
  -- one byte in the third 128 KiB sector region
  local at = 0x60000 + 17
  local b = a:sub(1, at) .. string.char((a:byte(at + 1) + 1) & 0xFF) .. a:sub(at + 2)
  t, e, pr = timed(sim, dev, image(base, b), { verify = false })
  local er, wr = erase_write_time(p.name, base + 0x60000, p.sector)
  local bound = floor + er + wr
  print(string.format("%-10s %-10s %9.3f %7d %7d %10.3f %7.3f %s", p.name, "one-sector", t, e, pr, bound, t / bound,
    "bound: read floor + one sector's erase + write"))
  dev:close()
  -- kept bytes: a board with a 4 KiB application and a 1 KiB config block at the end of the
  -- first sector; a new application: the sector is erased, the config block written back
  sim = assert(dfu.sim.new(p.name))
  dev = assert(sim:device())
  local first = p.name == "stm32f405" and 16 * 1024 or 128 * 1024
  local cfg = base + first - 1024
  assert(dev:flash(image(base, data(4096, 4)), { verify = false }))
  assert(dev:flash(image(cfg, string.rep("CAL!", 256)), { verify = false }))
  local f2 = read_time(dev, base, first)
  local r
  t, e, pr, r = timed(sim, dev, image(base, data(4096, 5)), { verify = false })
  local kept_ok = sim:read(cfg, 1024) == string.rep("CAL!", 256)
  er, wr = erase_write_time(p.name, base, 4096 + 1024)
  bound = f2 + er + wr
  print(string.format("%-10s %-10s %9.3f %7d %7d %10.3f %7.3f %s", p.name, "kept", t, e, pr, bound, t / bound,
    string.format("kept %d bytes, marker %s; bound: read + erase + write of 5 KiB", r.kept,
      kept_ok and "intact" or "LOST")))
  dev:close()
end
