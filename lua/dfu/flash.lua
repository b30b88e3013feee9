-- The flashing loops: erase plan, chunked writes with progress and retries, read-back verify,
-- leave. Works on the plan from dfu.plan; raises dfu.Error on failure, with the address
-- where it stopped and what the device holds now.
local util = require "dfu.util"
local plan_mod = require "dfu.plan"
local family_mod = require "dfu.family"
local leave_mod = require "dfu.leave"
local json = require "dfu.json"
local dstate = require "dfu.report"

local M = {}
local hex = util.hex
local FF = plan_mod.FF

M.CHUNK_BLOCKS = 16 -- transfer-size blocks per dev:write/dev:read call (progress granularity)
M.RETRIES = 3
M.REENUM_MS = 5000 -- how long to wait for a device that dropped off the bus to come back

local function noop() end

-- What a device status means for the user (AN3156 error semantics of the ST ROMs).
local EXPLAIN = {
  errVENDOR = "the device refuses: read-out protection is active (RDP level 1); " ..
    "dfush unprotect --force removes it and erases the whole flash",
  errTARGET = "the device does not accept this address",
  errWRITE = "the sector may be write-protected (option bytes WRP)",
  errPROG = "programming failed: was the sector erased, or the flash word already written?",
  errERASE = "the erase failed; the sector may be write-protected",
}

local function status_name(dev)
  local le = dev.last_error and dev:last_error()
  if not (le and le.status) then return nil, le end
  local core = require "dfu.core"
  return core.STATUS and core.STATUS[le.status], le
end

local function fail(dev, msg, code, fields)
  fields = fields or {}
  local st, le = status_name(dev)
  if le then
    fields.status = fields.status or le.status
    fields.state = fields.state or le.state
  end
  if st and EXPLAIN[st] and code == "STATUS" then
    msg = msg .. "\n" .. EXPLAIN[st]
  elseif code == "PIPE" and require("dfu.ob").refused_by_rdp(dev) then
    -- the ROM stalls an UPLOAD of protected flash and shows errVENDOR in the status
    msg = msg .. "\n" .. require("dfu.ob").RDP_HINT
  end
  util.raise(msg, code or "ERROR", fields)
end

-- NO_DEVICE is not here: M.recover waits for the device to come back.
local FATAL = { INTERRUPTED = true, ACCESS = true }

-- Failures a retry cannot cure: the transport is gone, or the device refuses on principle.
local function fatal(dev, code)
  if FATAL[code] then return true end
  return code == "STATUS" and status_name(dev) == "errVENDOR"
end

--- Bring the device back after a failed request (design.md 7): a device that dropped off the
--- bus is waited for (it may re-enumerate, e.g. after a brown-out or a cable glitch) and its alt
--- setting selected again; then dfu_abort_to_idle (CLRSTATUS only in dfuERROR, ABORT in the
--- *-IDLE states, busy states waited out). Returns true when the device is in dfuIDLE.
function M.recover(dev, code, report, log)
  log = log or (report and report.log) or noop
  if code == "INTERRUPTED" or code == "ACCESS" then return false end
  if code == "NO_DEVICE" then
    if not dev.reenumerate then return false end
    local ok, msg = dev:reenumerate(M.REENUM_MS)
    if not ok then
      log("warn", "the device left the bus and did not come back: " .. tostring(msg))
      return false
    end
    if report then report.reenumerated = (report.reenumerated or 0) + 1 end
    log("warn", "the device left the bus and came back; resuming")
    if not dev:set_alt(dev:alt()) then return false end
  end
  local ok, _, c2 = dev:abort_to_idle()
  if ok then return true end
  if c2 == "NO_DEVICE" and code ~= "NO_DEVICE" then return M.recover(dev, c2, report, log) end
  return false
end

-- The device state lists of a report (created on first use, so that callers that pass a bare
-- {erased = {}} report still work).
local function state_of(report)
  if not report then return nil end
  if not report.device_state then report.device_state = dstate.new(report.erased) end
  return report.device_state
end

--- An erase the ROM leaves in dfuDNBUSY (STM32H74x V9.1 bank 2): when the family descriptor
--- says erase_busy_recovery = "clrstatus", do what ST's tools do: CLRSTATUS twice (dfuERROR,
--- then dfuIDLE) and take the erase as done. Returns true when the device is idle again.
function M.end_stuck_erase(dev, report)
  if family_mod.of(dev).erase_busy_recovery ~= "clrstatus" then return false end
  local st = dev:getstatus()
  if not (st and st.state_name == "dfuDNBUSY") then return false end
  dev:clrstatus()
  dev:clrstatus()
  st = dev:getstatus()
  local ok = st ~= nil and st.state_name == "dfuIDLE"
  if ok then
    local log = report and report.log or noop
    log("warn", "the erase left the device in dfuDNBUSY; ended it with two CLRSTATUS, as ST's tools do")
  end
  return ok
end

--- Erase sectors {{address=, size=}...}; progress("erase", done_bytes, total_bytes).
function M.erase(dev, list, progress, report)
  progress = progress or noop
  local total = 0
  for _, s in ipairs(list) do total = total + s.size end
  local done = 0
  local ds = state_of(report)
  progress("erase", 0, total)
  for _, s in ipairs(list) do
    local attempt = 0
    -- the sector in flight: unknown until the device says it is erased, also when Ctrl-C
    -- lands between the request and the bookkeeping below
    if report then report.inflight = { address = s.address, size = s.size } end
    while true do
      attempt = attempt + 1
      local ok, msg, code = dev:erase_page(s.request or s.address)
      if ok or (code == "TIMEOUT" and M.end_stuck_erase(dev, report)) then break end
      if fatal(dev, code) or attempt >= M.RETRIES or not M.recover(dev, code, report) then
        -- the sector in flight may be erased, partly erased or untouched
        if report then report.inflight = nil end
        if ds then dstate.add(ds.unknown, s.address, s.size) end
        fail(dev, string.format("erase of sector %s failed: %s; %d of %d sectors erased, nothing " ..
          "written yet", util.range(s.address, s.size), msg, report and #report.erased or 0, #list),
          code, { address = s.address, phase = "erase" })
      end
    end
    if report then
      report.erased[#report.erased + 1] = { address = s.address, size = s.size }
      report.inflight = nil
    end
    done = done + s.size
    progress("erase", done, total)
  end
end

--- Split a padded segment into runs to write, leaving out runs of at least two whole
--- transfer blocks of 0xFF that lie in erased sectors (the erase already made them 0xFF).
--- Returns runs (segments: {address=, size=, image=} views or {address=, data=}) and the
--- number of bytes skipped.
function M.runs(seg, xfer, erased)
  local size, base = plan_mod.size(seg), seg.address
  local nblocks = (size + xfer - 1) // xfer
  local blank = {}
  for b = 0, nblocks - 1 do
    local a = base + b * xfer
    local n = math.min(xfer, size - b * xfer)
    blank[b] = erased(a, n) and plan_mod.bytes(seg, b * xfer, n) == FF[n]
  end
  local skip = {}
  local b = 0
  while b < nblocks do
    if blank[b] then
      local e = b
      while e < nblocks and blank[e] do e = e + 1 end
      if e - b >= 2 or b == 0 or e == nblocks then
        for k = b, e - 1 do skip[k] = true end
      end
      b = e
    else
      b = b + 1
    end
  end
  local runs, skipped = {}, 0
  b = 0
  while b < nblocks do
    local s = b
    local skipping = skip[b]
    while b < nblocks and (skip[b] or false) == (skipping or false) do b = b + 1 end
    local from, to = s * xfer, math.min(b * xfer, size)
    if skipping then
      skipped = skipped + (to - from)
    elseif rawget(seg, "data") then
      runs[#runs + 1] = { address = base + from, data = seg.data:sub(from + 1, to) }
    else
      runs[#runs + 1] = plan_mod.view(seg.image, base + from, to - from, seg.path)
    end
  end
  return runs, skipped
end

-- Write one chunk; on failure bring the device back to idle, read back what landed, and
-- continue from the first program unit that is still erased.
local function write_chunk(dev, addr, chunk, unit, report, xfer)
  local attempt = 0
  local ds = state_of(report)
  while true do
    attempt = attempt + 1
    report.inflight = { address = addr, size = #chunk }
    local ok, msg, code = dev:write(addr, chunk)
    if ok then
      dstate.add(ds.written, addr, #chunk)
      report.inflight = nil
      return
    end
    -- the block in flight when it failed (the C layer records it), else the chunk start
    local le = dev.last_error and dev:last_error()
    local at = addr
    if le and le.address and le.address >= addr and le.address < addr + #chunk then at = le.address end
    local where = string.format("write failed at %s: %s", hex(at), msg)
    local inflight = math.min(xfer or #chunk, addr + #chunk - at)
    if fatal(dev, code) or attempt >= M.RETRIES or not M.recover(dev, code, report) then
      report.inflight = nil -- recorded below
      report.written = report.written + (at - addr)
      dstate.add(ds.written, addr, at - addr) -- blocks the device acknowledged
      dstate.add(ds.unknown, at, inflight)
      fail(dev, where .. string.format("; the image is on the device up to %s (%d bytes written), " ..
        "the rest is not: run flash again", hex(at), report.written), code,
        { address = at, phase = "write" })
    end
    local got, rmsg = M.read(dev, addr, #chunk, report)
    if not got then
      report.inflight = nil
      dstate.add(ds.written, addr, at - addr)
      dstate.add(ds.unknown, at, inflight)
      fail(dev, where .. "; reading back after the failure also failed: " .. tostring(rmsg), code,
        { address = at, phase = "write" })
    end
    local i = util.first_diff(got, chunk)
    if not i then -- the data landed despite the error
      dstate.add(ds.written, addr, #chunk)
      report.inflight = nil
      return
    end
    local off = util.round_down(i - 1, unit)
    local rest = got:sub(off + 1)
    dstate.add(ds.written, addr, off)
    if rest ~= FF[#rest] then
      report.inflight = nil
      local j = util.first_diff(rest, FF[#rest])
      dstate.add(ds.unknown, addr + off, util.round_up(j, unit))
      fail(dev, where .. string.format("; the flash at %s holds partly programmed data that " ..
        "differs from the image; erase and flash again", hex(addr + off)), code,
        { address = addr + off, phase = "write" })
    end
    report.retries = report.retries + 1
    report.written = report.written + off
    addr, chunk = addr + off, chunk:sub(off + 1)
    if off > 0 then attempt = 0 end -- it got further: a ROM that stalls now and then (F411)
  end
end

-- Call fn(address, bytes) for each piece of at most chunk bytes of the segments, in order,
-- reporting progress(phase, done, total) after each.
local function each_chunk(segs, chunk, phase, progress, fn)
  progress = progress or noop
  local total, done = 0, 0
  for _, s in ipairs(segs) do total = total + plan_mod.size(s) end
  progress(phase, 0, total)
  for _, s in ipairs(segs) do
    local off, size = 0, plan_mod.size(s)
    while off < size do
      local piece = plan_mod.bytes(s, off, math.min(chunk, size - off))
      fn(s.address + off, piece)
      off = off + #piece
      done = done + #piece
      progress(phase, done, total)
    end
  end
end

--- Write runs; progress("write", done, total).
function M.write(dev, runs, opts, report)
  each_chunk(runs, opts.chunk, "write", opts.progress, function(addr, piece)
    local before = report.written
    write_chunk(dev, addr, piece, opts.unit, report, opts.xfer)
    report.written = before + #piece
  end)
end

--- dev:read with recovery: on a failure bring the device back (M.recover) and retry.
function M.read(dev, addr, len, report)
  local got, msg, code
  for attempt = 1, M.RETRIES do
    got, msg, code = dev:read(addr, len)
    if got or fatal(dev, code) then break end
    if attempt >= M.RETRIES or not M.recover(dev, code, report) then break end
  end
  return got, msg, code
end

--- Compare the device with segments (plan views or {address=, data=}); progress("verify", ...).
--- Raises "VERIFY" naming the first differing address. With a report, the ranges found equal
--- are added to its device_state.verified.
function M.verify(dev, segs, opts, report)
  local ds = state_of(report)
  each_chunk(segs, opts.chunk, "verify", opts.progress, function(addr, want)
    local got, msg, code = M.read(dev, addr, #want, report)
    if not got then
      fail(dev, string.format("verify: read at %s failed: %s; the data is written but not " ..
        "verified: run dfush verify", hex(addr), msg), code, { address = addr, phase = "verify" })
    end
    local i = util.first_diff(got, want)
    if i then
      local a = addr + i - 1
      if ds then
        dstate.add(ds.verified, addr, i - 1)
        dstate.add(ds.unknown, a, 1)
      end
      util.raise(string.format("verify failed at %s: expected 0x%02X, the device holds 0x%02X%s",
        hex(a), want:byte(i), got:byte(i) or 0, i > #got and " (short read)" or ""), "VERIFY",
        { address = a, phase = "verify" })
    end
    if ds then dstate.add(ds.verified, addr, #want) end
  end)
end

--- Turn a list of {path=, image=} or a single Image into the plan's image list.
local function image_list(img)
  if type(img) == "table" and not getmetatable(img) and img[1] ~= nil then
    local out = {}
    for i, v in ipairs(img) do
      if type(v) == "table" and v.image then
        out[#out + 1] = { path = v.path or ("image " .. i), image = v.image }
      else
        out[#out + 1] = { path = "image " .. i, image = v }
      end
    end
    return out
  end
  return { { path = "image", image = img } }
end

--- The device's wTransferSize (bytes per DNLOAD/UPLOAD). A device whose DFU functional
--- descriptor reports 0 cannot transfer data: a device error (exit 1) before anything is sent.
function M.transfer_size(dev)
  local n = dev:info().transfer_size
  if math.type(n) ~= "integer" or n <= 0 then
    util.raise(string.format("the device's DFU functional descriptor reports wTransferSize %s: it " ..
      "cannot transfer data (a broken descriptor or firmware). Nothing was sent.", tostring(n)), "PROTOCOL")
  end
  return n
end

--- Program unit for this device: opts.unit, else the family table, else 8.
function M.unit(dev, fam)
  fam = fam or family_mod.of(dev)
  return fam.program_unit or family_mod.DEFAULT.program_unit
end

--- Plan without touching the device's memory (reads descriptors only).
function M.plan(dev, img, opts)
  opts = opts or {}
  local fam = family_mod.of(dev)
  return plan_mod.build {
    images = image_list(img), alts = dev:alts(), current_alt = dev:alt(), alt = opts.alt,
    unit = opts.unit or M.unit(dev, fam), full = opts.full, info = dev:info(), family = fam,
    consume = opts.consume,
  }, fam
end

-- A job's error as a dfu.Error. Ctrl-C raises "interrupted" from the Lua hook wherever the
-- job was (host.c): then the device is closed explicitly, which leaves it in dfuIDLE even now
-- (ldevice.c); the interrupted script is unwinding, and a REPL user opens the device again.
local function job_error(dev, err)
  if type(err) == "table" then return err end
  local text = tostring(err)
  if util.is_interrupt(text) then
    dev:close()
    return util.error_new("interrupted (Ctrl-C); the device was left idle and closed", "INTERRUPTED")
  end
  return util.error_new(text, "ERROR")
end

-- Run fn(), and after a failure the device can recover from, bring it back and run fn again
-- (M.RETRIES in all). Read protection, Ctrl-C and a lost device end it at once.
local function with_recovery(dev, report, fn)
  for attempt = 1, M.RETRIES do
    local ok, r = pcall(fn)
    if ok then return r end
    local code = util.is_error(r) and r.code or nil
    if not code or code == "PROTECTED" or code == "USAGE" or code == "RANGE" or fatal(dev, code)
        or attempt >= M.RETRIES or not M.recover(dev, code, report) then
      error(r, 0)
    end
  end
end

-- ---- the steps of a job (M.execute); each works on the job object ----
-- job = { dev, plan, opts, fam, log, report, xfer, chunk, runs = {{part=, runs=}...} }

local function job_select_alt(job, alt)
  local dev = job.dev
  if dev:alt() == alt then return end
  local ok, msg, code = dev:set_alt(alt)
  if not ok and M.recover(dev, code, job.report) then ok, msg, code = dev:set_alt(alt) end
  if not ok then fail(dev, string.format("select alt %d: %s", alt, tostring(msg)), code) end
end

-- Everything before the first erase: the device idle, read and write protection, and the
-- option-byte and OTP rules (dfu.ob.guard_parts). Only reads reach the device.
local function step_check(job)
  local dev, report, ob = job.dev, job.report, require "dfu.ob"
  local ok0, msg0, code0 = dev:abort_to_idle()
  if not ok0 and not (not fatal(dev, code0) and M.recover(dev, code0, report)) then
    fail(dev, "the device does not reach dfuIDLE: " .. tostring(msg0) .. "; nothing was erased",
      code0, { phase = "open" })
  end
  if job.opts.check_protection ~= false then
    ob.check_plan(dev, job.plan, job.log, function()
      return with_recovery(dev, report, function() return ob.read_decoded(dev) end)
    end)
  end
  ob.guard_parts(job.plan, job.opts, function(a, address, size)
    return with_recovery(dev, report, function()
      job_select_alt(job, a.alt)
      dev:abort_to_idle()
      local got, msg, code = dev:read(address, size)
      if not got or #got ~= size then
        fail(dev, string.format("reading %s of %s failed: %s", util.range(address, size),
          plan_mod.alt_label(a), tostring(msg or "short read")), code or "STATUS")
      end
      dev:abort_to_idle()
      return got
    end)
  end, job.log)
end

-- --full: one mass erase of the flash alt.
local function step_mass_erase(job)
  local dev, plan, report, opts = job.dev, job.plan, job.report, job.opts
  job_select_alt(job, plan.flash_alt)
  job.log("info", "mass erase")
  local whole, whole_bytes = {}, 0
  for _, part in ipairs(plan.parts) do
    if part.alt == plan.flash_alt then
      for _, r in ipairs(plan_mod.ranges(part.sectors, function(s) return s.erasable end)) do
        whole[#whole + 1] = { address = r.address, size = r.size }
        whole_bytes = whole_bytes + r.size
      end
    end
  end
  if opts.progress then opts.progress("erase", 0, whole_bytes) end
  report.inflight = whole
  local ok, msg, code
  for attempt = 1, M.RETRIES do
    ok, msg, code = dev:mass_erase()
    if ok or fatal(dev, code) or attempt >= M.RETRIES or not M.recover(dev, code, report) then break end
  end
  if not ok then
    report.inflight = nil
    for _, r in ipairs(whole) do dstate.add(report.device_state.unknown, r.address, r.size) end
    fail(dev, "mass erase failed: " .. tostring(msg), code, { phase = "erase" })
  end
  for _, r in ipairs(whole) do report.erased[#report.erased + 1] = r end
  report.inflight = nil
  if opts.progress then opts.progress("erase", whole_bytes, whole_bytes) end
  report.mass_erase = true
end

-- Differential flashing (dfu.diff): read every touched sector of the flash parts first; skip
-- the ones that hold the image, program without an erase where the family allows it, and
-- write back what an erased sector held outside the image. Then choose a mass erase when it
-- erases nothing more and costs less.
local function step_diff(job)
  local dev, report, plan = job.dev, job.report, job.plan
  local diff = require "dfu.diff"
  report.sectors = json.array {}
  report.kept = 0
  for _, part in ipairs(plan.parts) do
    if part.role == "flash" and #part.erase > 0 then
      job_select_alt(job, part.alt)
      local total, done = 0, 0
      for _, sec in ipairs(part.erase) do total = total + sec.size end
      if job.opts.progress then job.opts.progress("compare", 0, total) end
      local r = diff.analyse(part, job.opts, job.fam, function(address, size)
        local parts = {}
        for off = 0, size - 1, job.chunk do
          local n = math.min(job.chunk, size - off)
          local got, msg, code = M.read(dev, address + off, n, report)
          if not got or #got ~= n then
            fail(dev, string.format("reading %s before the erase failed: %s; nothing was erased",
              util.range(address + off, n), tostring(msg or "short read")), code or "STATUS",
              { address = address + off, phase = "compare" })
          end
          parts[#parts + 1] = got
          done = done + n
          if job.opts.progress then job.opts.progress("compare", done, total) end
        end
        return table.concat(parts)
      end, plan.unit or 1, job.xfer)
      part.diff = r
      part.erase = r.erase
      for _, e in ipairs(r.equal) do dstate.add(report.device_state.verified, e.address, e.size) end
      for _, sec in ipairs(r.sectors) do
        report.sectors[#report.sectors + 1] = { address = sec.address, size = sec.size, action = sec.action,
                                                kept = sec.kept }
        if sec.kept > 0 then
          job.log("info", string.format("kept %s outside the image in the sector at %s", util.size(sec.kept),
            util.range(sec.address, sec.size)))
        end
      end
      report.kept = report.kept + r.kept
      -- every erasable sector needs an erase and nothing is kept: one mass erase, when the
      -- family says it is faster than the sector erases
      local erasable = plan_mod.ranges(part.sectors, function(x) return x.erasable end)
      local all = 0
      for _, x in ipairs(erasable) do all = all + x.size end
      local need = 0
      for _, e in ipairs(r.erase) do need = need + e.size end
      local t = job.fam and job.fam.timings
      if need == all and r.kept == 0 and part.alt == plan.flash_alt and t and t.mass_erase_ms then
        local sum = 0
        for _, e in ipairs(r.erase) do sum = sum + ((t.erase_ms or {})[e.size] or math.huge) end
        if t.mass_erase_ms < sum then
          job.log("info", "every sector needs an erase: one mass erase is faster")
          plan.full = true
        end
      end
    end
  end
end

-- The runs to write for every part that the flash loop programs (not the option bytes), with
-- 0xFF blocks in erased sectors left out.
local function plan_runs(job)
  local plan = job.plan
  job.runs = {}
  for _, part in ipairs(plan.parts) do
    if part.role ~= "option_bytes" then
      local covered = plan.full and part.alt == plan.flash_alt
      local function is_erased(a, n)
        if covered then
          local i = plan_mod.find(part.sectors, a)
          return i ~= nil and part.sectors[i].erasable
        end
        for _, s in ipairs(part.erase) do
          if a >= s.address and a + n <= s.address + s.size then return true end
        end
        return false
      end
      local runs = {}
      local segs = part.diff and plan_mod.segments_of(part.diff.write) or part.segments
      for _, seg in ipairs(segs) do
        local rs, sk = M.runs(seg, job.xfer, is_erased)
        for _, r in ipairs(rs) do runs[#runs + 1] = r end
        job.report.skipped = job.report.skipped + sk
      end
      job.runs[#job.runs + 1] = { part = part, runs = runs, segments = segs }
    end
  end
end

local function step_erase(job)
  for _, rp in ipairs(job.runs) do
    local part = rp.part
    if #part.erase > 0 and not (job.plan.full and part.alt == job.plan.flash_alt) then
      job_select_alt(job, part.alt)
      job.log("info", string.format("erasing %d sector(s) of %s", #part.erase, part.label))
      M.erase(job.dev, part.erase, job.opts.progress, job.report)
    end
  end
end

local function step_write(job)
  for _, rp in ipairs(job.runs) do
    job_select_alt(job, rp.part.alt)
    M.write(job.dev, rp.runs, { progress = job.opts.progress, chunk = job.chunk, unit = job.plan.unit or 1,
      xfer = job.xfer }, job.report)
  end
end

local function step_verify(job)
  for _, rp in ipairs(job.runs) do
    job_select_alt(job, rp.part.alt)
    M.verify(job.dev, rp.segments, { progress = job.opts.progress, chunk = job.chunk }, job.report)
  end
end

-- Option bytes last, through dfu.ob.apply (the write, the reset that follows, the re-read and
-- its check), as dfush ob set does them.
local function step_option_bytes(job)
  local ob, report = require "dfu.ob", job.report
  for _, part in ipairs(job.plan.parts) do
    local c = part.ob
    if part.role == "option_bytes" and c and c.old ~= c.new then
      job.log("info", string.format("writing the option bytes (%s)", part.label))
      report.inflight = { address = c.codec.address, size = c.codec.size }
      local r = ob.apply(job.dev, c, { log = job.log, reenumerate_ms = job.opts.reenumerate_ms })
      report.inflight = nil
      report.option_bytes = r
      dstate.add(report.device_state.written, c.codec.address, c.codec.size)
      if r.verified then dstate.add(report.device_state.verified, c.codec.address, c.codec.size) end
      report.written = report.written + c.codec.size
    end
  end
end

local function step_leave(job)
  -- the leave policy (dfu.leave): picks the mode, leaves, watches for the bootloader coming
  -- back. A leave whose SET_ADDRESS or DNLOAD failed is tried once more after a recovery;
  -- a bootloader that came back (NOT_STARTED) is an answer, not a transient error.
  local dev, opts, report = job.dev, job.opts, job.report
  local lopts = { leave_mode = opts.leave_mode, leave = opts.leave, log = job.log,
                  leave_wait_ms = opts.leave_wait_ms }
  local okl, left = pcall(leave_mod.after_flash, dev, job.plan, job.fam, lopts, report)
  if not okl and util.is_error(left) and left.code ~= "NOT_STARTED" and not fatal(dev, left.code)
    and M.recover(dev, left.code, report) then
    okl, left = pcall(leave_mod.after_flash, dev, job.plan, job.fam, lopts, report)
  end
  if not okl then
    if util.is_error(left) then left.phase = "leave" end
    error(left, 0)
  end
end

-- What a stopped job says: the error, what the device holds now, and what to do next.
local function stopped(job, err)
  local report = job.report
  err = job_error(job.dev, err)
  err.report = report
  err.device_state = report.device_state
  if report.verified then
    err.msg = err.msg .. "\nthe image is written and verified; only leaving DFU failed"
  elseif (err.code == "USAGE" or err.code == "RANGE") and not err.protected
      and dstate.bytes(report.device_state.unknown) == 0
      and #report.erased == 0 and dstate.bytes(report.device_state.written) == 0 then
    err.refused = true -- refused before anything was sent; the message says so
    return err
  else
    local protected = err.code == "PROTECTED"
      or (err.code == "STATUS" and status_name(job.dev) == "errVENDOR")
    local hint = "the job is not complete: run the same command again to finish it"
    if protected then
      hint = "the job is not complete: remove the read protection first (dfush unprotect --force " ..
        "erases the whole flash), then run the same command again"
    elseif err.protected then
      hint = "the job is not complete: remove the write protection first (the dfush ob set command " ..
        "above), then run the same command again"
    end
    err.msg = err.msg .. "\n" .. dstate.describe(report.device_state, hint)
  end
  return err
end

--- Execute a plan. opts: verify (default true), leave (nil/false | true | address),
--- leave_mode, progress(phase, done, total), log(level, msg), chunk_blocks; the option-byte
--- and OTP rules: force, permanently_lock_device, write_otp; diff (default true: compare
--- before erase, dfu.diff), erase_unwritten (drop the bytes of touched sectors outside the
--- image), dry_run (decide and report, erase and write nothing); hold_interrupts (the dfush
--- host holds Ctrl-C from the end of the job until the caller releases it, so that the
--- report of a finished job is printed).
--- Returns the report {ok, erased, written, skipped, verified, left, seconds, ...}.
function M.execute(dev, plan, opts, fam)
  opts = opts or {}
  fam = fam or family_mod.of(dev)
  local log = opts.log or noop
  local xfer = M.transfer_size(dev)
  local report = {
    ok = false, erased = json.array {}, written = 0, skipped = 0, verified = false, left = nil,
    seconds = 0, retries = 0, bytes = plan.bytes, log = log,
  }
  report.device_state = dstate.new(report.erased)
  local job = { dev = dev, plan = plan, opts = opts, fam = fam, log = log, report = report, xfer = xfer,
                chunk = xfer * (opts.chunk_blocks or M.CHUNK_BLOCKS),
                -- compare before erase (dfu.diff): the default, except with --full
                diff = opts.diff ~= false and not plan.full }
  report.diff = job.diff
  -- a plan built by hand: the roles of its parts, and --full only with the flash alt
  for _, part in ipairs(plan.parts) do
    part.role = part.role or family_mod.role(fam, { name = part.name, layout = part.layout })
    if plan.full and part.alt == plan.flash_alt and part.role ~= "flash" then
      util.usage("--full mass-erases the flash; %s is not the flash (%s). Nothing was sent.", part.label,
        part.role)
    end
  end
  -- choose the leave address before touching anything, so a bad choice exits 2 unflashed
  -- (and warn now, before writing, when the image itself cannot start)
  if type(opts.leave) == "number" then
    leave_mod.check_address(dev:alts(), fam, opts.leave, opts.leave_arg or "leave address")
  end
  if opts.leave then
    leave_mod.choose(opts.leave_mode, plan, { address = type(opts.leave) == "number" and opts.leave or nil,
      family = fam, log = log, report = report })
  end
  local t0 = dev:now()
  local phase_t = {}
  local function timed(name, fn)
    local t = dev:now()
    fn(job)
    phase_t[name] = dev:now() - t
  end
  local ok, err = pcall(function()
    step_check(job)
    if job.diff then timed("compare", step_diff) end
    if opts.dry_run then
      report.dry_run = true
      return -- the plan is decided; nothing is erased or written
    end
    if plan.full then timed("erase", step_mass_erase) end
    plan_runs(job)
    if not plan.full then timed("erase", step_erase) end
    timed("write", step_write)
    if opts.verify ~= false then
      timed("verify", step_verify)
      report.verified = true
    end
    step_option_bytes(job)
    if opts.leave then step_leave(job) end
    -- the job is done: from here a Ctrl-C waits until the caller has printed the report
    if opts.hold_interrupts then require("dfu.core").hold_interrupts(true) end
  end)
  report.seconds = dev:now() - t0
  report.phases = phase_t
  report.log = nil
  if report.inflight then
    -- the request in flight when the job stopped (Ctrl-C between a request and its
    -- bookkeeping included): its bytes may have changed
    local list = report.inflight.address and { report.inflight } or report.inflight
    for _, r in ipairs(list) do dstate.add(report.device_state.unknown, r.address, r.size) end
    report.inflight = nil
  end
  if not ok then error(stopped(job, err), 0) end
  report.ok = true
  return report
end

--- Plain DFU 1.1 (no DfuSe): the device takes one raw firmware blob (download, manifest);
--- verify reads it back with UPLOAD when the device can upload.
function M.run_plain(dev, img, opts)
  local list = image_list(img)
  if #list ~= 1 then
    util.raise("a plain DFU 1.1 device takes one image; got " .. #list, "USAGE")
  end
  local im = list[1].image
  local segs = im:segments()
  if #segs ~= 1 then
    util.raise(string.format("%s: a plain DFU 1.1 device takes one contiguous image; this one has %d " ..
      "segments (convert it to .bin first)", list[1].path, #segs), "USAGE")
  end
  local data = im:data(1)
  local progress = opts.progress or noop
  local report = { ok = false, erased = json.array {}, written = 0, skipped = 0, verified = false,
                   seconds = 0, retries = 0, bytes = #data }
  local t0 = dev:now()
  local ok, err = pcall(function()
    util.check(dev:abort_to_idle())
    progress("download", 0, #data)
    local ok2, msg, code = dev:download(data)
    if not ok2 then fail(dev, "download failed: " .. tostring(msg), code, { phase = "write" }) end
    report.written = #data
    progress("download", #data, #data)
    local info = dev:info()
    if opts.verify ~= false and (info.attributes or 0) & 0x02 ~= 0 then
      util.check(dev:abort_to_idle())
      local got, rmsg, rcode = dev:upload_all(#data)
      if not got then fail(dev, "verify: upload failed: " .. tostring(rmsg), rcode, { phase = "verify" }) end
      local i = util.first_diff(got:sub(1, #data), data)
      if i then
        util.raise(string.format("verify failed at offset %d of the image: expected 0x%02X, the device holds 0x%02X",
          i - 1, data:byte(i), got:byte(i) or 0), "VERIFY", { address = i - 1, phase = "verify" })
      end
      report.verified = true
    end
  end)
  report.seconds = dev:now() - t0
  if not ok then
    err = job_error(dev, err)
    err.report = report
    error(err, 0)
  end
  report.ok = true
  return report
end

--- Plan and execute. Raises dfu.Error.
function M.run(dev, img, opts)
  opts = opts or {}
  if not dev:info().dfuse then return M.run_plain(dev, img, opts), nil end
  local plan, fam = M.plan(dev, img, opts)
  plan.unit = opts.unit or M.unit(dev, fam)
  return M.execute(dev, plan, opts, fam), plan
end

return M
