-- The fault matrix (design.md 7): every injected fault at every phase of a job (open, erase,
-- write, verify, leave, option-byte write), in-process on the simulator. For each cell:
--   * a reported success means the simulated flash holds the image (read from the sim);
--   * a failure is reported (nil, msg, code) with the device state (erased / written /
--     verified / unknown ranges) and a message that says what is on the device now, and every
--     range it calls verified really holds the image;
--   * the same job re-run on the same memory without faults completes.
-- The phase of a fault is found from a clean run: the request ordinals of each kind that fall
-- into each phase (counted from the simulator's event log); the fault hits the middle one
-- (the last one for leave).
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

local MESSAGES = os.getenv("DFU_MATRIX_MESSAGES") == "1" -- print each failure report
local PHASES = { "open", "erase", "write", "verify", "leave", "ob" }

-- fault kind -> the request kind it is addressed by, per phase (nil: no such request there)
local TRANSPORT = { open = "GET_DESCRIPTOR", erase = "DNLOAD", write = "DNLOAD", verify = "UPLOAD",
                    leave = "DNLOAD", ob = "DNLOAD" }
local STATUS = { open = "GETSTATUS", erase = "ERASE", write = "WRITE", verify = "UPLOAD",
                 leave = "GETSTATUS", ob = "WRITE" }
local BUSY = { erase = "ERASE", write = "WRITE", verify = "DNLOAD", leave = "DNLOAD", ob = "DNLOAD" }
local FAULTS = {
  { name = "stall", req = TRANSPORT }, { name = "timeout", req = TRANSPORT },
  { name = "disconnect", req = TRANSPORT },
  { name = "disconnect+reappear", kind = "disconnect", opt = ":reappear=300", req = TRANSPORT },
  { name = "errPROG", req = STATUS }, { name = "errVERIFY", req = STATUS },
  { name = "errTARGET", req = STATUS }, { name = "errVENDOR", req = STATUS },
  { name = "errERASE", req = STATUS }, { name = "busy", req = BUSY },
}
local WIDE = { "poll0", "earlystall", "slowmasserase", "bootinerror", "rdp1" }

local CASES = {
  { profile = "stm32h753", fixture = "h7_dualbank.elf" },
  { profile = "stm32f405", fixture = "f4_config.elf" },
}

local results = {} -- results[profile][fault][phase] = "recovered" | "failed" | "n/a"
local counts = { cells = 0, recovered = 0, failed = 0, na = 0 }

local function record(profile, fault, phase, outcome)
  results[profile] = results[profile] or {}
  results[profile][fault] = results[profile][fault] or {}
  results[profile][fault][phase] = outcome
  if outcome == "n/a" then
    counts.na = counts.na + 1
  else
    counts.cells = counts.cells + 1
    counts[outcome] = counts[outcome] + 1
  end
end

local function decode(line) return support.json.decode(line) end

-- Request kind of an event line for fault counting (ctrl requests, and the WRITE / ERASE
-- pseudo requests the simulator counts per executed program block and erase).
local function kind_of(e)
  if e.ev == "ctrl" then return e.req end
  if e.ev == "program" or e.ev == "ob_write" then return "WRITE" end
  if e.ev == "erase" then return "ERASE" end
  return nil
end

-- Ordinals of every request kind in each phase, from the event lines and the phase marks
-- (phase -> index of the first event line of that phase).
local function ordinals(lines, marks, order)
  local out, seen = {}, {}
  local bounds = {}
  for i, ph in ipairs(order) do
    bounds[#bounds + 1] = { phase = ph, from = marks[ph] or 1, to = (marks[order[i + 1]] or (#lines + 1)) - 1 }
  end
  for idx, line in ipairs(lines) do
    local k = kind_of(decode(line))
    if k then
      seen[k] = (seen[k] or 0) + 1
      for _, b in ipairs(bounds) do
        if idx >= b.from and idx <= b.to then
          out[b.phase] = out[b.phase] or {}
          out[b.phase][k] = out[b.phase][k] or {}
          table.insert(out[b.phase][k], seen[k])
        end
      end
    end
  end
  return out
end

-- The request sequence of an event log, to tell that an injected fault changed the run.
local function signature(lines)
  local out = {}
  for _, line in ipairs(lines) do
    local e = type(line) == "table" and line or decode(line)
    if e.ev ~= "reset" and e.ev ~= "enumerate" then
      out[#out + 1] = table.concat({ e.ev, tostring(e.req), tostring(e.wValue), tostring(e.len),
        tostring(e.state), tostring(e.result), tostring(e.address) }, "/")
    end
  end
  return table.concat(out, "\n")
end

local function pick(list, phase, fault)
  if not list or #list == 0 then return nil end
  -- leave: the zero-length DNLOAD / last GETSTATUS; a busy fault on the SET_ADDRESS before it
  if phase == "leave" then
    if not (fault and fault.name == "busy") then return list[#list] end
    return list[math.max(1, #list - 1)]
  end
  return list[(#list + 1) // 2]
end

local function holds(sim, segs)
  for _, s in ipairs(segs) do
    if sim:read(s.address, #s.data) ~= s.data then return false, s.address end
  end
  return true
end

-- Whether the simulated memory holds the image wherever [a, a+n) overlaps it (the range may
-- extend into padding, which the image does not define).
local function holds_range(sim, segs, a, n)
  for _, s in ipairs(segs) do
    local from, to = math.max(a, s.address), math.min(a + n, s.address + #s.data)
    if from < to and sim:read(from, to - from) ~= s.data:sub(from - s.address + 1, to - s.address) then
      return false, from
    end
  end
  return true
end

-- A clean flash job with phase marks: returns the ordinals per phase.
local function flash_baseline(case, img)
  local sim = helper.sim(case.profile)
  local dev <close> = assert(sim:device())
  local marks = { open = 1 }
  local verify_total
  local report = assert(dev:flash(img, {
    leave = true,
    progress = function(phase, done, total)
      if not marks[phase] then marks[phase] = #sim:events() + 1 end
      if phase == "verify" then verify_total = total end
      if phase == "verify" and done == verify_total and not marks.leave then marks.leave = #sim:events() + 1 end
    end,
  }))
  assert(report.ok and report.left)
  return ordinals(sim:events(), marks, { "open", "erase", "write", "verify", "leave" }), signature(sim:events())
end

-- One flash cell: returns "recovered" or "failed", asserting the contract on the way.
local function flash_cell(case, img, segs, spec, phase, clean)
  local state = helper.tmpname(".state")
  os.remove(state)
  local sim = helper.sim(string.format("%s,state=%s,faults=%s", case.profile, state, spec))
  local dev, omsg, ocode = sim:device()
  local outcome
  if not dev then
    -- the open itself failed: reported, and nothing was erased or written
    assert.is_string(omsg)
    assert.is_string(ocode)
    assert.are.equal(0, #helper.events(sim, "erase") + #helper.events(sim, "program"))
    outcome = "failed"
  else
    local report, msg, code, err = dev:flash(img, { leave = true, full = spec == "slowmasserase" })
    if report then
      assert.is_true(report.ok and report.verified, spec .. " at " .. phase)
      assert.is_true(holds(sim, segs), spec .. " at " .. phase .. ": success reported, memory differs")
      assert.are.equal(#report.erased, #report.device_state.erased)
      outcome = "recovered"
    else
      assert.is_string(msg, spec)
      assert.is_string(code, spec)
      local ds = assert(err and err.device_state, spec .. " at " .. phase .. ": no device state: " .. msg)
      assert.is_table(ds.erased)
      assert.is_table(ds.written)
      assert.is_table(ds.unknown)
      -- the report names the state; every range called verified holds the image
      assert.is_truthy(msg:find("on the device now:", 1, true) or msg:find("written and verified", 1, true),
        msg)
      for _, r in ipairs(ds.verified) do
        assert.is_true(holds_range(sim, segs, r.address, r.size), spec .. ": a verified range differs")
      end
      -- every range called written holds the image too (the device acknowledged it)
      for _, r in ipairs(ds.written) do
        assert.is_true(holds_range(sim, segs, r.address, r.size), spec .. ": a written range differs")
      end
      outcome = "failed"
      if MESSAGES then io.stderr:write("\n--- ", spec, " at ", phase, ":\n", msg, "\n") end
    end
    dev:close()
  end
  if clean then
    assert.are_not.equal(clean, signature(sim:events()), spec .. ": the fault did not change the run")
  end
  assert.is_true(sim:save())
  -- the same job again on the same memory, no faults: it completes (a read-protected device
  -- first needs `dfush unprotect`, which erases it: the re-run must refuse the same way)
  local sim2 = helper.sim(string.format("%s,state=%s", case.profile, state))
  local dev2 <close> = assert(sim2:device())
  local report2, msg2, code2 = dev2:flash(img, { leave = true })
  if spec == "rdp1" then
    assert.is_nil(report2)
    assert.are.equal("PROTECTED", code2)
  else
    assert.is_truthy(report2, spec .. " at " .. phase .. ": the re-run failed: " .. tostring(msg2))
    assert.is_true(holds(sim2, segs))
  end
  return outcome
end

-- ---- option bytes: `dfush ob set BOR_LEV=1 --yes`, in-process CLI over state=FILE ----

local function ob_field(profile, state)
  local r = support.cli({ "-d", string.format("sim:%s,state=%s", profile, state), "--json", "ob", "show" })
  assert.are.equal(0, r.code, r.stderr)
  return assert(support.json.decode(r.stdout)).fields.BOR_LEV
end

-- Ordinals of the option-byte command: the DNLOAD that carries the block, the WRITE it starts,
-- and the middle GETSTATUS.
local function ob_baseline(profile)
  local dev, _, events = support.simdev(profile)
  local r = support.cli({ "-d", dev, "ob", "set", "BOR_LEV=1", "--yes" })
  assert.are.equal(0, r.code, r.stderr)
  local seen, out = {}, {}
  local evs = support.events_file(events)
  out.signature = signature(evs)
  for _, e in ipairs(evs) do
    local k = kind_of(e)
    if k then
      seen[k] = (seen[k] or 0) + 1
      if k == "DNLOAD" and e.wValue >= 2 then out.DNLOAD = { seen[k] } end
      -- the SET_ADDRESS before the block (a device stuck busy after the block write resets anyway)
      if k == "DNLOAD" and e.wValue == 0 and not out.DNLOAD then out.setaddr = { seen[k] } end
      if k == "WRITE" then out.WRITE = { seen[k] } end
      if k == "GETSTATUS" then out.GETSTATUS = out.GETSTATUS or {} table.insert(out.GETSTATUS, seen[k]) end
    end
  end
  return out
end

local function ob_cell(profile, spec, clean)
  local dev, state, events = support.simdev(profile, "faults=" .. spec)
  local r = support.cli({ "-d", dev, "--json", "ob", "set", "BOR_LEV=1", "--yes" })
  local out = assert(support.json.decode(r.stdout), r.stderr)
  local outcome
  if r.code == 0 then
    assert.is_true(out.ok)
    assert.are.equal("written", out.state)
    assert.are.equal(1, ob_field(profile, state), spec .. ": success reported, option bytes differ")
    outcome = "recovered"
  else
    assert.is_false(out.ok)
    assert.is_string(out.error.message)
    assert.is_true(#r.stderr > 0)
    outcome = "failed"
    if MESSAGES then io.stderr:write("\n--- ob ", spec, ":\n", r.stderr, "\n") end
  end
  assert.are_not.equal(clean, signature(support.events_file(events)), spec .. ": the fault did not change the run")
  -- the same command again without faults completes
  local r2 = support.cli({ "-d", string.format("sim:%s,state=%s", profile, state), "ob", "set", "BOR_LEV=1", "--yes" })
  assert.are.equal(0, r2.code, spec .. ": the re-run failed: " .. r2.stderr)
  assert.are.equal(1, ob_field(profile, state))
  return outcome
end

describe("fault matrix", function()
  after_each(helper.cleanup)

  for _, case in ipairs(CASES) do
    local path = helper.fixture(case.fixture)
    local segs = support.image_segments(path)
    local img = assert(dfu.image.load(path))
    local base, clean = flash_baseline(case, img)

    for _, f in ipairs(FAULTS) do
      for _, phase in ipairs({ "open", "erase", "write", "verify", "leave" }) do
        local req = f.req[phase]
        local n = req and pick(base[phase] and base[phase][req], phase, f)
        if not n then
          record(case.profile, f.name, phase, "n/a")
        else
          local spec = string.format("%s:%s:%d%s", f.kind or f.name, req, n, f.opt or "")
          it(string.format("%s: %s at %s (%s)", case.profile, f.name, phase, spec), function()
            record(case.profile, f.name, phase, flash_cell(case, img, segs, spec, phase, clean))
          end)
        end
      end
    end

    local obase = ob_baseline(case.profile)
    for _, f in ipairs(FAULTS) do
      local req = f.req.ob
      local n = req and pick(f.name == "busy" and obase.setaddr or obase[req], "ob")
      if not n then
        record(case.profile, f.name, "ob", "n/a")
      else
        local spec = string.format("%s:%s:%d%s", f.kind or f.name, req, n, f.opt or "")
        it(string.format("%s: %s at the option-byte write (%s)", case.profile, f.name, spec), function()
          record(case.profile, f.name, "ob", ob_cell(case.profile, spec, obase.signature))
        end)
      end
    end

    for _, w in ipairs(WIDE) do
      it(string.format("%s: device-wide %s over a whole job", case.profile, w), function()
        record(case.profile, w, "job", flash_cell(case, img, segs, w, "job"))
      end)
    end
  end

  teardown(function()
    local out = { "", string.format("fault matrix (R = recovered, F = failed and reported, - = no such " ..
      "request in that phase)") }
    for _, case in ipairs(CASES) do
      local r = results[case.profile] or {}
      out[#out + 1] = string.format("%-22s %s", case.profile .. " " .. case.fixture:gsub("%..*", ""),
        table.concat(PHASES, " "))
      local function row(name, cols)
        local cells = {}
        for _, ph in ipairs(cols) do
          local o = r[name] and r[name][ph]
          cells[#cells + 1] = string.format("%-" .. #ph .. "s",
            o == "recovered" and "R" or o == "failed" and "F" or o == "n/a" and "-" or "?")
        end
        out[#out + 1] = string.format("  %-20s %s", name, table.concat(cells, " "))
      end
      for _, f in ipairs(FAULTS) do row(f.name, PHASES) end
      for _, w in ipairs(WIDE) do
        local o = r[w] and r[w].job
        out[#out + 1] = string.format("  %-20s whole job: %s", w,
          o == "recovered" and "R" or o == "failed" and "F" or "?")
      end
    end
    out[#out + 1] = string.format("cells run: %d (recovered %d, failed and reported %d), n/a %d",
      counts.cells, counts.recovered, counts.failed, counts.na)
    io.stderr:write(table.concat(out, "\n"), "\n")
  end)
end)
