-- Random fault combinations (fixed seed): a few hundred flash jobs, each with 1-4 faults mixed
-- from every kind the simulator injects, on both ROM profiles, several images, with and
-- without --full, --leave and --no-verify, over flash that already holds other data. For each
-- job, from the simulator's memory before and after:
--   * a reported success means the image is on the device (also with verify off);
--   * every byte that changed lies in a range the report names (erased, written or unknown),
--     success or failure; every range called written or verified holds the image.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

local SEED = 20261204
local JOBS = tonumber(os.getenv("DFU_RANDOM_JOBS") or "") or 240

local KINDS = { "stall", "timeout", "disconnect", "disconnect+reappear", "errPROG", "errVERIFY", "errTARGET",
                "errVENDOR", "errERASE", "busy" }
local REQUESTS = { stall = { "DNLOAD", "UPLOAD", "GETSTATUS", "SET_INTERFACE" },
                   timeout = { "DNLOAD", "UPLOAD", "GETSTATUS" },
                   disconnect = { "DNLOAD", "UPLOAD", "GETSTATUS" },
                   busy = { "ERASE", "WRITE", "DNLOAD" } }
local STATUS_REQUESTS = { "ERASE", "WRITE", "GETSTATUS", "UPLOAD" }
local WIDE = { "poll0", "earlystall", "slowmasserase", "bootinerror" }

local IMAGES = {
  stm32h753 = { "h7_seed.elf", "h7_dualbank.elf", "h7_seed.hex" },
  stm32f405 = { "f4_config.elf", "f4_config.dfu", "f4_config.s19" },
}
local FLASH = { stm32h753 = { 0x08000000, 2 * 1024 * 1024 }, stm32f405 = { 0x08000000, 1024 * 1024 } }

local function fault_spec(rng)
  local parts = {}
  for _ = 1, rng(1, 4) do
    if rng(1, 8) == 1 then
      parts[#parts + 1] = WIDE[rng(1, #WIDE)]
    else
      local kind = KINDS[rng(1, #KINDS)]
      local base = kind == "disconnect+reappear" and "disconnect" or kind
      local reqs = REQUESTS[base] or STATUS_REQUESTS
      local s = string.format("%s:%s:%d", base, reqs[rng(1, #reqs)], rng(1, 60))
      if kind == "disconnect+reappear" then s = s .. ":reappear=300" end
      parts[#parts + 1] = s
    end
  end
  return table.concat(parts, ";")
end

-- Ranges from a report's lists, as a membership test.
local function membership(lists)
  return function(a)
    for _, list in ipairs(lists) do
      for _, r in ipairs(list or {}) do
        if a >= r.address and a < r.address + r.size then return true end
      end
    end
    return false
  end
end

-- Bytes of the image at each address: {{address=, data=}...}.
local function segments_of(path)
  local segs = support.image_segments(path)
  table.sort(segs, function(a, b) return a.address < b.address end)
  return segs
end

local function holds_range(mem, base, segs, a, n)
  for _, s in ipairs(segs) do
    local from, to = math.max(a, s.address), math.min(a + n, s.address + #s.data)
    if from < to and mem:sub(from - base + 1, to - base) ~= s.data:sub(from - s.address + 1, to - s.address) then
      return false
    end
  end
  return true
end

describe("random fault combinations", function()
  after_each(helper.cleanup)

  it(string.format("%d jobs: no false success, no changed byte outside the report", JOBS), function()
    local state = math.random
    math.randomseed(SEED)
    local rng = state
    local tally = { success = 0, failed = 0, open_failed = 0, faults = 0 }
    local profiles = { "stm32h753", "stm32f405" }
    for job = 1, JOBS do
      local profile = profiles[job % 2 + 1]
      local fixture = IMAGES[profile][rng(1, #IMAGES[profile])]
      local path = helper.fixture(fixture)
      local segs = segments_of(path)
      local img = assert(dfu.image.load(path))
      local full, leave, verify = rng(1, 6) == 1, rng(1, 3) == 1, rng(1, 3) ~= 1
      local diff = rng(1, 4) ~= 1
      local spec = fault_spec(rng)
      tally.faults = tally.faults + select(2, spec:gsub(";", "")) + 1
      local what = string.format("job %d: %s %s faults=%s%s%s%s%s", job, profile, fixture, spec,
        full and " --full" or "", leave and " --leave" or "", verify and "" or " --no-verify",
        diff and "" or " --no-diff")
      -- the flash holds other data first: every erase is visible
      local sim = helper.sim(string.format("%s,boot0=0,faults=%s", profile, spec))
      local base, size = FLASH[profile][1], FLASH[profile][2]
      local junk = {}
      for i = 1, 64 do junk[i] = string.char(rng(0, 254)) end
      junk = table.concat(junk)
      for _, s in ipairs(segs) do
        local a = s.address - s.address % 0x20000
        for off = 0, 0x20000 - 64, 4096 do assert(sim:write(a + off, junk)) end
      end
      local before = sim:read(base, size)
      local dev = sim:device()
      if not dev then
        tally.open_failed = tally.open_failed + 1
        assert.are.equal(before, sim:read(base, size), what .. ": a failed open changed the flash")
      else
        local report, msg, _, err = dev:flash(img, { full = full, leave = leave, verify = verify, diff = diff })
        local after = sim:read(base, size)
        local ds = report and report.device_state or (err and err.device_state)
        assert.is_table(ds, what .. ": no device state: " .. tostring(msg))
        if report then
          tally.success = tally.success + 1
          assert.is_true(holds_range(after, base, segs, base, size),
            what .. ": success reported, the image is not there")
          if diff and not full then
            -- compare first keeps every byte outside the image
            local ranges = {}
            for _, sg in ipairs(segs) do ranges[#ranges + 1] = { address = sg.address, size = #sg.data } end
            local inside = membership({ ranges })
            for blk = 0, size - 1, 4096 do
              if before:sub(blk + 1, blk + 4096) ~= after:sub(blk + 1, blk + 4096) then
                for i = blk + 1, blk + 4096 do
                  if before:byte(i) ~= after:byte(i) and not inside(base + i - 1) then
                    error(string.format("%s: 0x%08X outside the image changed (0x%02X -> 0x%02X)", what,
                      base + i - 1, before:byte(i), after:byte(i)))
                  end
                end
              end
            end
          end
        else
          tally.failed = tally.failed + 1
        end
        local named = membership({ ds.erased, ds.written, ds.unknown })
        for blk = 0, size - 1, 4096 do
          if before:sub(blk + 1, blk + 4096) ~= after:sub(blk + 1, blk + 4096) then
            for i = blk + 1, blk + 4096 do
              if before:byte(i) ~= after:byte(i) and not named(base + i - 1) then
                error(string.format("%s: 0x%08X changed (0x%02X -> 0x%02X) but the report does not name " ..
                  "it\n%s", what, base + i - 1, before:byte(i), after:byte(i), tostring(msg)))
              end
            end
          end
        end
        for _, list in ipairs({ ds.written, ds.verified }) do
          for _, r in ipairs(list) do
            if r.address >= base and r.address < base + size then
              assert.is_true(holds_range(after, base, segs, r.address, r.size),
                what .. ": a range called written or verified differs from the image")
            end
          end
        end
        dev:close()
      end
    end
    io.stderr:write(string.format("\nrandom faults (seed %d): %d jobs, %d faults; %d succeeded, %d failed and " ..
      "reported, %d failed to open\n", SEED, JOBS, tally.faults, tally.success, tally.failed, tally.open_failed))
    assert.is_true(tally.success > 0 and tally.failed > 0)
  end)
end)
