-- Leaving DFU (design.md 6, protocol.md 2.7 and 3): which address to hand the ROM, why, and
-- whether the application started.
--
-- The ROM's leave is SET_ADDRESS(A), a zero-length DNLOAD and one GETSTATUS (dfuMANIFEST);
-- then it drops off the bus. What it does with A differs between ROMs and cannot be asked:
--   vector semantics (AN3156): if the word at A is a RAM address, MSP = [A] and PC = [A+4]
--     (a jump, subject to the ROM's jump bugs); otherwise it resets the chip, which boots the
--     application from flash with BOOT0 low and re-enters the ROM with BOOT0 high;
--   branch semantics (the other reading of the STM32H753 field case): PC = A, MSP unchanged.
-- The modes: vector = the vector table base; entry = the reset handler (an odd Thumb address);
-- reset = an address whose word is not a RAM address, so a vector-semantics ROM resets the
-- chip (preferably the reset handler itself, which a branching ROM runs); auto = predict the
-- outcome of each candidate for both semantics and both BOOT0 levels from what the host can
-- know (the image, the family's RAM, the bootloader ID and its known jump bugs) and pick the
-- sequence that starts the application in the most cases, documented semantics first; a
-- later step is only tried when the bootloader comes back, which proves it is safe.
-- After each leave the host watches for the bootloader re-enumerating: if it comes back, the
-- application did not start.
-- A family whose descriptor says `boot = { vector_table = false }` (a core without a Cortex-M
-- vector table, e.g. RISC-V) starts code at an address itself: there is no stack word to check,
-- the application is its entry point (the image's entry, else its lowest flash address), and
-- the two readings of the leave address are "the ROM branches to it" and "the ROM resets the
-- chip" (then the boot pins decide).
local util = require "dfu.util"
local json = require "dfu.json"
local plan_mod = require "dfu.plan"

local M = {}

local hex = util.hex

-- Where an unknown ARMv7-M part keeps its SRAM (the architecture's SRAM region).
M.GENERIC_RAM = { { 0x20000000, 0x40000000 } }
-- Re-enumeration wait when the family's ROM timings are unknown (ms).
M.DEFAULT_WAIT_MS = 3000
-- Host-side enumeration latency added to the ROM's own timings (ms).
M.HOST_LATENCY_MS = 500
-- Vector tables are aligned to at least 128 bytes (VTOR's low bits are zero).
M.VTOR_ALIGN = 128

local function u32(s, off)
  if not s or #s < off + 4 then return nil end
  return (string.unpack("<I4", s, off + 1))
end

-------------------------------------------------------------------------------------------
-- Family knowledge

--- Known jump bugs of this family's ROM with this bootloader ID (a list, maybe empty): the
--- family descriptor's known_bugs (dfu.family).
function M.bugs(fam, rom_id)
  return require("dfu.family").bugs(fam, rom_id)
end

--- true when the family's core has no vector table: code starts at the address itself.
function M.no_vector_table(fam)
  return fam ~= nil and type(fam.boot) == "table" and fam.boot.vector_table == false
end
local novt = M.no_vector_table

--- RAM blocks {{start, end}} of the family (end = one past the last byte).
function M.ram(fam)
  return fam and fam.ram or M.GENERIC_RAM
end

--- The RAM block holding v (start <= v <= end: an initial SP may equal the end), or nil.
function M.ram_block(fam, v)
  if not v then return nil end
  for _, r in ipairs(M.ram(fam)) do
    if v >= r[1] and v <= r[2] then return r end
  end
  return nil
end

--- Check a leave address given by the user: it must lie in the device's memory (a sector of
--- one of its alt settings, or the family's RAM), where the ROM can read a vector table or
--- branch to; else a usage error naming what (the argument). Devices without layouts pass.
function M.check_address(alts, fam, addr, what)
  local known, where = false, {}
  local family = require "dfu.family"
  for _, a in ipairs(alts) do
    local l = a.layout
    local role = family.role(fam, a)
    if l and l.runs[1] and (role == "flash" or role == "memory") then
      known = true
      for _, r in ipairs(l.runs) do
        if addr >= r.address and addr < r.address + r.count * r.size then return end
      end
      local first, last = l.runs[1], l.runs[#l.runs]
      where[#where + 1] = string.format("%s %s", l.name or "?", util.range(first.address,
        last.address + last.count * last.size - first.address))
    end
  end
  for _, r in ipairs(M.ram(fam)) do
    if addr >= r[1] and addr < r[2] then return end
    where[#where + 1] = "RAM " .. util.range(r[1], r[2] - r[1])
  end
  if not known then return end
  util.usage("%s: %s is not in the device's memory; the ROM can only start code in: %s", what or "ADDR",
    util.hex(addr), table.concat(where, ", "))
end

--- How long to watch for the ROM coming back after a leave (ms): a few times its start-up
--- and USB connection time (protocol.md 7.5), plus host latency.
function M.wait_ms(fam)
  if fam and fam.usb_connect_ms then
    return 4 * (fam.usb_connect_ms + (fam.rom_startup_ms or 0)) + M.HOST_LATENCY_MS
  end
  return M.DEFAULT_WAIT_MS
end

--- Read the bootloader ID byte of the family (nil when unknown or unreadable). Reads two
--- bytes at the even address (protocol.md 3.3) and takes the one at id_address.
function M.rom_id(dev, fam)
  if not (fam and fam.id_address) then return nil end
  local a = fam.id_address & ~1
  local b = dev:read(a, 2)
  dev:abort_to_idle()
  if b and #b == 2 then return b:byte(fam.id_address - a + 1) end
  return nil
end

-------------------------------------------------------------------------------------------
-- The application: where its vector table is, what the words say

--- Bytes at addr..addr+len-1 from the plan's flash segments (nil if not covered).
local function plan_bytes(plan, addr, len)
  for _, part in ipairs(plan and plan.parts or {}) do
    if part.alt == plan.flash_alt then
      for _, s in ipairs(part.segments) do
        if addr >= s.address and addr + len <= s.address + plan_mod.size(s) then
          return plan_mod.bytes(s, addr - s.address, len)
        end
      end
    end
  end
end
M.plan_bytes = plan_bytes

-- A vector table candidate: SP in RAM (word aligned) and a reset vector inside the flash.
local function plausible(app, sp, pc)
  return sp ~= nil and pc ~= nil and sp % 4 == 0 and M.ram_block(app.family, sp) ~= nil
    and app.in_flash(pc & ~1)
end

-- A vector table beyond doubt: plausible, and the reset vector is a Thumb address of code the
-- application holds. A literal pool can hold a RAM address followed by a flash address (the
-- seed images have 0x20000000, 0x0800BAC4 at +0x80), so a looser test would find tables there.
local function convincing(app, sp, pc)
  return plausible(app, sp, pc) and pc & 1 == 1 and app.programmed(pc & ~1)
end

-- The vector table base among the candidate addresses (each VTOR-aligned address of ranges):
-- the first convincing one; else the lowest address when it is at least plausible (its
-- problems are then reported against it); else nil.
local function find_vector_table(app, ranges, lowest)
  for _, r in ipairs(ranges) do
    local a = util.round_up(r.address, M.VTOR_ALIGN)
    while a + 8 <= r.address + r.size do
      if convincing(app, app.word(a), app.word(a + 4)) then return a end
      a = a + M.VTOR_ALIGN
    end
  end
  if lowest and plausible(app, app.word(lowest), app.word(lowest + 4)) then return lowest end
  return nil
end

local function finish_app(app)
  if novt(app.family) then
    -- the entry point is the code's first instruction (2-byte aligned), else the lowest address
    if app.entry and not (app.entry & 1 == 0 and app.programmed(app.entry)) then
      app.entry_note = string.format("the image's entry point %s is not an address of its code; " ..
        "using its lowest flash address", hex(app.entry))
      app.entry = nil
    end
    app.base = nil
    app.entry = app.entry or app.lowest
    return app
  end
  local w = app.base or app.lowest
  if w then app.sp, app.pc = app.word(w), app.word(w + 4) end
  -- the reset handler: ELF e_entry (or HEX/S-record start) when it is a code address of the
  -- image, else the reset vector
  if app.entry and not (app.entry & 1 == 1 and app.programmed(app.entry & ~1)) then
    app.entry_note = string.format("the image's entry point %s is not a Thumb address in the image; " ..
      "using the reset vector", hex(app.entry))
    app.entry = nil
  end
  app.entry = app.entry or (app.base and app.pc) or nil
  return app
end

-- word(a): the 32-bit word at a read from the device (nil when it cannot be read), each
-- address read once; the device is left idle after each read.
local function device_words(dev)
  local cache = {}
  return function(a)
    if cache[a] == nil then
      local got = dev:read(a, 4)
      dev:abort_to_idle()
      cache[a] = got and #got == 4 and u32(got, 0) or false
    end
    return cache[a] or nil
  end
end

--- Facts about the image of a flash plan. fam: the family; dev (optional): where to read
--- words the image does not cover (the boot address when the image does not start there).
function M.from_plan(plan, fam, dev)
  local segs, sectors = {}, {}
  for _, part in ipairs(plan.parts or {}) do
    if part.alt == plan.flash_alt then
      for _, s in ipairs(part.segments) do segs[#segs + 1] = { address = s.address, size = plan_mod.size(s) } end
      for _, s in ipairs(part.sectors or {}) do sectors[#sectors + 1] = s end
    end
  end
  table.sort(segs, function(a, b) return a.address < b.address end)
  local device_word = dev and device_words(dev)
  local app = { source = "image", family = fam, segments = segs, entry = plan.entry,
                lowest = segs[1] and segs[1].address }
  function app.programmed(a)
    for _, s in ipairs(segs) do
      if a >= s.address and a < s.address + s.size then return true end
    end
    return false
  end
  local lo, hi
  for _, s in ipairs(sectors) do
    lo = (not lo or s.address < lo) and s.address or lo
    hi = (not hi or s.address + s.size > hi) and s.address + s.size or hi
  end
  app.flash_base = (fam and fam.match and fam.match.flash) or lo or app.lowest
  function app.in_flash(a)
    if lo then return a >= lo and a < hi end
    return app.programmed(a)
  end
  function app.word(a)
    local b = plan_bytes(plan, a, 4)
    if b then return u32(b, 0) end
    if device_word and app.in_flash(a) then return device_word(a) end
    return nil
  end
  app.base = find_vector_table(app, segs, app.lowest)
  return finish_app(app)
end

--- Facts about the application in the device's flash (dfush leave without an image).
--- flash: the flash alt's layout; addr: the user's address (nil: look at the start of the
--- flash, then at each sector start).
function M.from_device(dev, fam, flash, addr)
  local word = device_words(dev)
  local lo, hi, starts = nil, nil, {}
  for _, r in ipairs(flash and flash.runs or {}) do
    for i = 0, r.count - 1 do
      local a = r.address + i * r.size
      starts[#starts + 1] = a
      lo = (not lo or a < lo) and a or lo
      hi = (not hi or a + r.size > hi) and a + r.size or hi
    end
  end
  local app = { source = "device", family = fam, word = word, lowest = lo }
  app.flash_base = (fam and fam.match and fam.match.flash) or lo
  function app.in_flash(a) return lo ~= nil and a >= lo and a < hi end
  -- erased flash reads 0xFF: a word of all ones is not the application
  function app.programmed(a) return app.in_flash(a) and word(a & ~3) ~= 0xFFFFFFFF end
  if addr then
    if plausible(app, word(addr), word(addr + 4)) then app.base = addr end
  else
    local ranges = {}
    for _, a in ipairs(starts) do ranges[#ranges + 1] = { address = a, size = 8 } end
    app.base = find_vector_table(app, ranges, lo)
  end
  return finish_app(app)
end

-------------------------------------------------------------------------------------------
-- Checks

--- Problems of the image itself (no ROM involved): why it cannot start after any leave.
--- Returns a list of strings (empty when the vector table looks right).
function M.image_problems(app)
  local notes = {}
  local fam = app.family
  if app.entry_note then notes[#notes + 1] = app.entry_note end
  if not app.lowest then return notes end
  if novt(fam) then
    if not (app.entry and app.programmed(app.entry)) then
      notes[#notes + 1] = string.format("the entry point %s is outside the %s", hex(app.entry or 0),
        app.source == "image" and "image" or "programmed flash")
    end
    return notes
  end
  if not app.base then
    local sp, pc = app.word(app.lowest), app.word(app.lowest + 4)
    notes[#notes + 1] = string.format("no vector table in the image (no initial SP in RAM followed by a " ..
      "reset vector in flash, at any %d-byte boundary)", M.VTOR_ALIGN)
    if sp and not M.ram_block(fam, sp) then
      notes[#notes + 1] = string.format("the initial SP at %s (0x%08X) is not a RAM address", hex(app.lowest), sp)
    end
    if pc and pc & 1 == 0 then
      notes[#notes + 1] = string.format("the reset vector at %s (0x%08X) is even: not a Thumb address",
        hex(app.lowest + 4), pc)
    end
    if pc and not app.programmed(pc & ~1) then
      notes[#notes + 1] = string.format("the reset vector at %s (0x%08X) points outside the image",
        hex(app.lowest + 4), pc)
    end
    return notes
  end
  if app.base ~= app.lowest then
    notes[#notes + 1] = string.format("the vector table is at %s, not at the image's lowest flash address %s: " ..
      "a leave at %s would not start it", hex(app.base), hex(app.lowest), hex(app.lowest))
  end
  if app.pc & 1 == 0 then
    notes[#notes + 1] = string.format("the reset vector 0x%08X at %s is even: not a Thumb address, the " ..
      "application would hard-fault", app.pc, hex(app.base + 4))
  end
  if not app.programmed(app.pc & ~1) then
    notes[#notes + 1] = string.format("the reset vector 0x%08X at %s points outside the %s", app.pc,
      hex(app.base + 4), app.source == "image" and "image" or "programmed flash")
  end
  return notes
end

-- The jump bug that stops a vector-table jump with this initial SP (nil when none).
local function jump_blocked(fam, bugs, sp)
  for _, b in ipairs(bugs) do
    if b.kind == "go_broken" then return b end
    if b.kind == "sp_margin" then
      local r = M.ram_block(fam, sp)
      if r and sp > r[2] - b.margin then return b, r[2] - b.margin end
    end
  end
end

local function bug_text(b, rom_id)
  return string.format("ROM 0x%02X has the %s limitation \"%s\"", rom_id, b.cite or b.version, b.text)
end

-------------------------------------------------------------------------------------------
-- Prediction

--- The application starts with this PC and MSP (Thumb, inside the programmed flash, MSP in RAM).
local function starts(app, pc, sp)
  return pc ~= nil and sp ~= nil and pc & 1 == 1 and app.programmed(pc & ~1) and M.ram_block(app.family, sp) ~= nil
end

--- Predicted outcome of a leave at addr: {vector0, vector1, branch} each "app" | "back" |
--- "dead" (device gone, application not running), plus via = "jump" | "reset" under vector
--- semantics and the bug that blocks the jump.
function M.predict(app, bugs, addr)
  local fam = app.family
  local p = {}
  if novt(fam) then
    -- no vector table: vector0/vector1 stand for "the ROM resets the chip" with BOOT0 low/high
    local b = app.flash_base
    p.via = "branch"
    p.vector0 = (b and app.programmed(b)) and "app" or "dead"
    p.vector1 = "back"
    p.branch = (addr & 1 == 0 and app.programmed(addr)) and "app" or "dead"
    return p
  end
  local w0, w1 = app.word(addr), app.word(addr + 4)
  if w0 and M.ram_block(fam, w0) then
    p.via = "jump"
    local bug = jump_blocked(fam, bugs, w0)
    if bug then
      p.bug = bug
      p.vector0 = "dead"
    else
      p.vector0 = starts(app, w1, w0) and "app" or "dead"
    end
    p.vector1 = p.vector0
  else
    -- AN3156: the address holds no executable code -> the ROM resets the chip
    p.via = "reset"
    local b = app.flash_base
    p.vector0 = (b and starts(app, app.word(b + 4), app.word(b))) and "app" or "dead"
    p.vector1 = "back"
  end
  -- a branching ROM runs the code at addr with its own MSP: only the reset handler is
  -- known to be an entry point
  p.branch = (addr == app.entry and starts(app, addr, M.ram(fam)[1][1])) and "app" or "dead"
  return p
end

-- Run a sequence of leaves through one cell: returns "app" | "back" | "dead", steps used.
local function play(preds, seq, cell)
  local out
  for i, k in ipairs(seq) do
    out = preds[k][cell]
    if out ~= "back" then return out, i end
  end
  return out, #seq
end

local function permutations(list)
  local out = {}
  local function rec(prefix, rest)
    if #prefix > 0 then out[#out + 1] = prefix end
    for i, v in ipairs(rest) do
      local p = { table.unpack(prefix) }
      p[#p + 1] = v
      local r = { table.unpack(rest) }
      table.remove(r, i)
      rec(p, r)
    end
  end
  rec({}, list)
  return out
end

--- The candidate leaves for an application: {{address=, mode=}...}, deduplicated.
function M.candidates(app)
  local c, seen = {}, {}
  local function add(mode, a)
    if a and not seen[a] then
      seen[a] = true
      c[#c + 1] = { address = a, mode = mode }
    end
  end
  if novt(app.family) then
    add("entry", app.entry)
    return c
  end
  add("vector", app.base)
  add("entry", app.entry)
  add("reset", M.reset_address(app))
  return c
end

--- The address for --leave-mode reset: the reset handler when the word there is not a RAM
--- address (a vector-semantics ROM resets, a branching one runs the handler), else the
--- vector table's reset-vector slot (holds a flash address, never RAM).
function M.reset_address(app)
  local fam = app.family
  if app.entry then
    local w = app.word(app.entry)
    if w and not M.ram_block(fam, w) then return app.entry end
  end
  if app.base then return app.base + 4 end
  if app.lowest then
    local w = app.word(app.lowest)
    if w and not M.ram_block(fam, w) then return app.lowest end
  end
  return nil
end

local CELLS = { "vector0", "vector1", "branch" }

--- Choose the leave sequence for auto. Returns {steps = {{address=, mode=}...}, preds =,
--- score = {vector=n, branch=n}} or nil when there is no candidate.
function M.plan_auto(app, bugs)
  local cands = M.candidates(app)
  if #cands == 0 then return nil end
  local preds = {}
  for i, c in ipairs(cands) do preds[i] = M.predict(app, bugs, c.address) end
  local best, bscore
  local idx = {}
  for i = 1, #cands do idx[i] = i end
  for _, seq in ipairs(permutations(idx)) do
    local v, b, steps = 0, 0, 0
    local useful = true
    for _, cell in ipairs(CELLS) do
      local out, used = play(preds, seq, cell)
      if out == "app" then
        if cell == "branch" then b = b + 2 else v = v + 1 end
      end
      steps = math.max(steps, used)
    end
    if steps < #seq then useful = false end -- a step no cell ever reaches
    -- documented (AN3156) semantics first, then the branch reading, then fewer leaves
    local score = { v, b, -#seq }
    local better = not bscore
    if useful and bscore then
      for k = 1, 3 do
        if score[k] ~= bscore[k] then better = score[k] > bscore[k] break end
      end
    end
    if useful and better then best, bscore = seq, score end
  end
  local steps, ps = {}, {}
  for _, i in ipairs(best) do
    steps[#steps + 1] = cands[i]
    ps[#ps + 1] = preds[i]
  end
  return { steps = steps, preds = ps, score = { vector = bscore[1], branch = bscore[2] // 2 } }
end

-------------------------------------------------------------------------------------------
-- Decision

local function why_auto(app, rom_id, bugs, choice)
  local s1, p1 = choice.steps[1], choice.preds[1]
  local vec = app.base and M.predict(app, bugs, app.base)
  local parts = {}
  local rom = rom_id and string.format("ROM 0x%02X", rom_id) or "a ROM of unknown version"
  if novt(app.family) then
    return string.format("auto: entry point %s (no vector table on this core: a ROM that branches " ..
      "runs it, one that resets the chip boots it from %s when BOOT0 is low)", hex(s1.address),
      hex(app.flash_base or s1.address))
  end
  if s1.mode == "vector" then
    parts[#parts + 1] = string.format("vector table at %s (AN3156)", hex(s1.address))
    if p1.via == "jump" and app.flash_base and app.base ~= app.flash_base then
      parts[#parts + 1] = string.format("a reset would boot %s, where this image has no vector table",
        hex(app.flash_base))
    end
  else
    if vec and vec.bug then
      local _, limit = jump_blocked(app.family, bugs, app.sp)
      parts[#parts + 1] = string.format("%s cannot jump through the vector table %s%s", rom, hex(app.base),
        limit and string.format(" with initial SP 0x%08X > RAM end - %d (0x%08X)", app.sp, vec.bug.margin, limit)
          or string.format(" (%s)", vec.bug.text))
    end
    parts[#parts + 1] = string.format("leave at the reset handler %s: a ROM that branches runs it, one " ..
      "that follows AN3156 resets the chip, which boots the application when BOOT0 is low", hex(s1.address))
    if choice.steps[2] then
      parts[#parts + 1] = string.format("if the bootloader comes back (BOOT0 high), leave through the " ..
        "vector table %s", hex(choice.steps[2].address))
    end
  end
  return "auto: " .. table.concat(parts, "; ")
end

--- Decide how to leave. mode: "auto" | "vector" | "entry" | "reset"; app: from_plan or
--- from_device; addr: the user's address or nil. Returns {steps=, reason=, warnings=}.
--- Raises a usage error when no address can be derived.
function M.decide(mode, app, rom_id, addr)
  mode = mode or "auto"
  local bugs = M.bugs(app.family, rom_id)
  local d = { warnings = {}, requested = mode, rom_id = rom_id, bugs = bugs }
  local function step(a, m) d.steps = { { address = a, mode = m } } end
  if novt(app.family) and (mode == "vector" or mode == "reset") then
    d.warnings[#d.warnings + 1] = string.format("--leave-mode %s: this core has no vector table; " ..
      "leaving at the entry point (the ROM branches there or resets the chip)", mode)
    mode = "entry"
  end
  if addr and novt(app.family) then
    step(addr, "entry")
    d.reason = string.format("entry: the given address %s (no vector table on this core)", hex(addr))
  elseif addr then
    -- the user's address is sent as given; auto only names how the ROM will read it
    local m = mode
    if m == "auto" then
      m = (app.base == addr and "vector") or (addr & 1 == 1 and "entry") or "vector"
    end
    step(addr, m)
    d.reason = string.format("%s: the given address %s", m, hex(addr))
  elseif mode == "vector" then
    local a = app.base or app.lowest
    if not a then util.usage("leave: no address; give one (e.g. 0x08000000)") end
    step(a, "vector")
    d.reason = string.format("vector: the vector table base %s (AN3156)", hex(a))
  elseif mode == "entry" then
    if not app.entry then
      util.usage("leave --leave-mode entry: the image has no entry point and no vector table; give an address")
    end
    step(app.entry, "entry")
    d.reason = novt(app.family) and string.format("entry: the entry point %s (no vector table on this " ..
      "core: the ROM starts code at the address itself)", hex(app.entry))
      or string.format("entry: the reset handler %s", hex(app.entry))
  elseif mode == "reset" then
    local a = M.reset_address(app)
    if not a then util.usage("leave --leave-mode reset: no application found to derive an address from; give one") end
    step(a, "reset")
    d.reason = string.format("reset: %s holds 0x%08X, not a RAM address, so the ROM resets the chip " ..
      "(AN3156); with BOOT0 low it boots the application from %s", hex(a), app.word(a) or 0xFFFFFFFF,
      hex(app.flash_base or 0))
  elseif mode == "auto" then
    local choice = M.plan_auto(app, bugs)
    if not choice then util.usage("leave: no application found (no vector table, no entry point); give an address") end
    d.steps = choice.steps
    d.preds = choice.preds
    d.score = choice.score
    if choice.score.vector == 0 and choice.score.branch == 0 then
      -- nothing predicts a start: one leave, the documented one when there is a vector table
      local s = app.base and { address = app.base, mode = "vector" } or choice.steps[1]
      d.reason = string.format("auto: no leave can start this application (see the warnings); using %s %s",
        s.mode == "vector" and "the vector table" or "the " .. s.mode .. " address", hex(s.address))
      d.steps = { s }
      d.hopeless = true
    else
      d.reason = why_auto(app, rom_id, bugs, choice)
    end
  else
    util.usage("unknown leave mode '%s' (use one of: auto, entry, reset, vector)", tostring(mode))
  end
  -- what the chosen first leave will meet on this ROM
  local first = d.steps[1]
  local p = M.predict(app, bugs, first.address)
  d.first_pred = p
  if p.via == "jump" and p.bug and (mode ~= "auto" or addr) then
    d.warnings[#d.warnings + 1] = string.format("%s: expect the application not to start through %s " ..
      "(try --leave-mode auto or reset)", bug_text(p.bug, rom_id), hex(first.address))
  elseif mode == "auto" and not addr and app.base then
    local vec = M.predict(app, bugs, app.base)
    if vec.bug then
      d.warnings[#d.warnings + 1] = string.format("%s: the vector-table leave cannot start this application; " ..
        "it starts only if BOOT0 is low (the ROM resets into it) or the ROM branches to the reset handler",
        bug_text(vec.bug, rom_id))
    end
  end
  if first.mode == "reset" and p.via == "jump" then
    d.warnings[#d.warnings + 1] = string.format("the word at %s is a RAM address: the ROM will jump, not reset",
      hex(first.address))
  end
  if p.via == "reset" and app.flash_base and p.vector0 ~= "app" then
    d.warnings[#d.warnings + 1] = string.format("after the reset the chip boots from %s, which holds no " ..
      "startable application", hex(app.flash_base))
  end
  if d.hopeless then
    for _, n in ipairs(M.image_problems(app)) do d.warnings[#d.warnings + 1] = n end
  end
  return d
end

-------------------------------------------------------------------------------------------
-- Performing the leave

--- One leave: SET_ADDRESS, zero-length DNLOAD, one GETSTATUS; a failure of that GETSTATUS
--- or the device vanishing is the expected end. Returns {address=, mode=, answered=, state_name=}.
function M.run(dev, addr, mode)
  local r, msg, code = dev:leave(addr)
  if not r then
    util.raise(string.format("leave at %s failed: %s", hex(addr), msg), code or "ERROR", { address = addr })
  end
  if r.answered and r.state_name and r.state_name ~= "dfuMANIFEST" and r.state_name ~= "dfuMANIFEST-SYNC" then
    util.raise(string.format("the device refused the leave at %s (state %s)", hex(addr), r.state_name),
      "STATUS", { address = addr })
  end
  return { address = addr, mode = mode, answered = r.answered, state_name = r.state_name }
end

-- Why the bootloader came back after a leave at step, and what to run next.
local function came_back_cause(app, d, step, pred)
  local rom = d.rom_id and string.format("ROM 0x%02X", d.rom_id) or "the ROM"
  if novt(app.family) then
    if pred.branch == "app" then
      return string.format("BOOT0 is high and the ROM reset the chip instead of starting the code at %s, " ..
        "so the chip booted into the bootloader again", hex(step.address)),
        "set BOOT0 low (release the button or jumper) and run: dfush leave"
    end
    return string.format("no code at %s: %s", hex(step.address), table.concat(M.image_problems(app), "; ")),
      "flash the application, then run: dfush leave"
  end
  local vec = app.base and M.predict(app, d.bugs, app.base)
  local cause, nxt
  if pred.via == "reset" then
    cause = string.format("BOOT0 is high: %s holds 0x%08X, not a RAM address, so the ROM reset the chip " ..
      "(AN3156) and the chip booted into the bootloader again", hex(step.address),
      app.word(step.address) or 0xFFFFFFFF)
    if vec and vec.vector1 == "app" then
      nxt = string.format("dfush leave --leave-mode vector   (jumps through the vector table %s)", hex(app.base))
    else
      nxt = "set BOOT0 low (release the button or jumper) and run: dfush leave --leave-mode reset"
      if vec and vec.bug and vec.bug.kind == "sp_margin" then
        local r = M.ram_block(app.family, app.sp)
        cause = cause .. string.format("; the vector-table leave cannot work either: %s, and the initial " ..
          "SP is 0x%08X", bug_text(vec.bug, d.rom_id), app.sp)
        nxt = nxt .. string.format("; or link the stack at or below 0x%08X (RAM end - %d) and flash again",
          r[2] - vec.bug.margin, vec.bug.margin)
      elseif vec and vec.bug then
        cause = cause .. string.format("; %s", bug_text(vec.bug, d.rom_id))
      end
    end
  else
    local probs = M.image_problems(app)
    if pred.bug then
      cause = string.format("%s did not start the application through %s: %s", rom, hex(step.address),
        bug_text(pred.bug, d.rom_id))
    elseif #probs > 0 then
      cause = "the vector table is not valid: " .. table.concat(probs, "; ")
    else
      cause = string.format("the ROM jumped through %s but the application did not stay: it reset " ..
        "into the bootloader (BOOT0 high and a fault, watchdog or software reset)", hex(step.address))
    end
    nxt = "set BOOT0 low and run: dfush leave --leave-mode reset"
  end
  return cause, nxt
end

-- Why the leave at step, from which the bootloader did not come back, is predicted not to
-- have started the application (nil when some reading of the leave starts it).
local function predicted_failure(app, d, step, pred, left)
  for _, cell in ipairs(CELLS) do
    if pred[cell] == "app" then return nil end
  end
  local probs = M.image_problems(app)
  local tail = #probs > 0 and ("; " .. table.concat(probs, "; ")) or ""
  if novt(app.family) then
    return string.format("%s holds no code to start%s", hex(step.address), tail)
  end
  if pred.via == "jump" and pred.bug then
    local _, limit = jump_blocked(app.family, d.bugs, app.word(step.address))
    local auto = M.plan_auto(app, d.bugs)
    if auto and (auto.score.vector > 0 or auto.score.branch > 0) then
      left.prediction_next = "put the board back into DFU mode and run: dfush leave   (auto picks a leave " ..
        "this ROM can do)"
    end
    return string.format("%s: it cannot jump through the vector table %s%s", bug_text(pred.bug, d.rom_id),
      hex(step.address), limit and string.format(" (initial SP 0x%08X > 0x%08X)", app.word(step.address), limit)
        or "")
  end
  if pred.via == "reset" then
    return string.format("%s holds 0x%08X, not a RAM address, so the ROM resets the chip, and the flash at %s " ..
      "holds no startable application%s", hex(step.address), app.word(step.address) or 0xFFFFFFFF,
      hex(app.flash_base or step.address), tail)
  end
  return string.format("the vector table at %s does not start code in the programmed flash%s", hex(step.address),
    tail)
end

-- Ensure the device is in the flash alt setting and idle.
local function ready(dev, alt)
  if alt and dev:alt() ~= alt then util.check(dev:set_alt(alt)) end
  util.check(dev:abort_to_idle())
end

--- Perform the decision: each step is a leave followed by a watch for the bootloader
--- re-enumerating; the next step runs only when it came back. Returns the "left" record:
--- {address=, mode=, requested=, came_back=bool, outcome="left"|"came_back", reason=,
---  cause=, next=, tried={{address=, mode=, came_back=}...}, rom_id=, wait_ms=,
---  predicted="start"|"fail", prediction= (why it fails)}. A device that did not come back
--- has left DFU, but that alone does not confirm a start: predicted = "fail" when no reading
--- of the leave (BOOT0 low or high, a vector or a branching ROM) starts the application.
--- opts: app, fam, alt (the flash alt), log(level, msg), wait_ms.
function M.perform(dev, d, opts)
  local log = opts.log or function() end
  local wait = opts.wait_ms or M.wait_ms(opts.fam)
  local left = { requested = d.requested, reason = d.reason, rom_id = d.rom_id or json.null,
                 tried = json.array {}, wait_ms = wait }
  for i, step in ipairs(d.steps) do
    if i > 1 then ready(dev, opts.alt) end
    local r = M.run(dev, step.address, step.mode)
    local back = dev:reenumerate(wait) and true or false
    left.tried[#left.tried + 1] = { address = step.address, mode = step.mode, came_back = back }
    left.address, left.mode, left.answered = step.address, step.mode, r.answered
    local pred = M.predict(opts.app, d.bugs, step.address)
    if not back then
      left.came_back, left.outcome = false, "left"
      left.prediction = predicted_failure(opts.app, d, step, pred, left)
      left.predicted = left.prediction and "fail" or "start"
      return left
    end
    local cause, nxt = came_back_cause(opts.app, d, step, pred)
    if d.steps[i + 1] then
      log("info", string.format("the bootloader came back after the leave at %s (%s); next: %s at %s",
        hex(step.address), cause, d.steps[i + 1].mode, hex(d.steps[i + 1].address)))
    else
      left.came_back, left.outcome, left.cause, left.next = true, "came_back", cause, nxt
      return left
    end
  end
  return left
end

--- The message for a leave the bootloader did not come back from but that is predicted not
--- to have started the application (left.predicted == "fail"); head: what came before.
function M.predicted_message(left, head)
  return string.format("%sthe device left DFU at %s (mode %s), but the application is predicted not to " ..
    "start: %s; the outcome is unconfirmed\nnext: %s; --force accepts such a leave (exit 0)", head or "",
    hex(left.address), left.mode, left.prediction,
    left.prediction_next or "fix the application's vector table or link it so that it can start, and flash again")
end

--- The whole leave for an open device. opts: mode, address (the user's, or nil), plan (the
--- image just written; nil: read the application from the device), fam, log(level, msg),
--- warnings (a list to append to), wait_ms. Returns the "left" record (see perform).
function M.leave(dev, opts)
  local fam = opts.fam
  local alts = dev:alts()
  -- a given address must lie where the ROM can start code, whichever caller asks
  if opts.address then M.check_address(alts, fam, opts.address, opts.address_arg or "leave address") end
  local alt = opts.plan and opts.plan.flash_alt
  local layout
  local flash = not alt and require("dfu.family").alt_with_role(fam, alts, "flash")
  for _, a in ipairs(alts) do
    if (alt and a.alt == alt) or (flash and a == flash) then
      alt, layout = a.alt, a.layout
      break
    end
  end
  alt = alt or (alts[1] and alts[1].alt)
  ready(dev, alt)
  local rom_id = M.rom_id(dev, fam)
  local app
  if opts.plan then
    app = M.from_plan(opts.plan, fam, dev)
  else
    app = M.from_device(dev, fam, layout, opts.address)
    if app.lowest and not app.base and not opts.address and app.word(app.lowest) == 0xFFFFFFFF then
      util.raise(string.format("the flash at %s is erased: there is no application to start", hex(app.lowest)),
        "USAGE")
    end
  end
  local d = M.decide(opts.mode, app, rom_id, opts.address)
  local log = opts.log or function() end
  if rom_id then log("info", string.format("bootloader ID 0x%02X", rom_id)) end
  log("info", d.reason)
  local seen = {}
  for _, w in ipairs(opts.warnings or {}) do seen[w] = true end
  for _, w in ipairs(d.warnings) do
    if not seen[w] then
      seen[w] = true
      log("warn", w)
      if opts.warnings then opts.warnings[#opts.warnings + 1] = w end
    end
  end
  ready(dev, alt)
  local left = M.perform(dev, d, { app = app, fam = fam, alt = alt, log = log, wait_ms = opts.wait_ms })
  return left, d, app
end

--- Check the mode and that an address can be derived before the device is touched
--- (flash calls this before erasing). opts: address, family, log(level, msg), report (its
--- warnings list gets the image's problems). Returns address (provisional for auto), mode.
function M.choose(mode, plan, opts)
  opts = opts or {}
  mode = mode or "auto"
  if mode ~= "auto" and mode ~= "vector" and mode ~= "entry" and mode ~= "reset" then
    util.usage("unknown leave mode '%s' (use one of: auto, entry, reset, vector)", tostring(mode))
  end
  local app = M.from_plan(plan or { parts = {} }, opts.family)
  local d = M.decide(mode, app, nil, opts.address)
  for _, n in ipairs(M.image_problems(app)) do
    if opts.log then opts.log("warn", n) end
    if opts.report then
      opts.report.warnings = opts.report.warnings or json.array {}
      opts.report.warnings[#opts.report.warnings + 1] = n
    end
  end
  return d.steps[1].address, d.steps[1].mode
end

--- After flash wrote and verified plan: leave, record report.left and report.warnings;
--- raises (phase "leave") when the bootloader came back, the application not started.
function M.after_flash(dev, plan, fam, opts, report)
  report.warnings = report.warnings or json.array {}
  local left, d = M.leave(dev, {
    mode = opts.leave_mode, address = type(opts.leave) == "number" and opts.leave or nil, plan = plan,
    fam = fam, log = opts.log, warnings = report.warnings, wait_ms = opts.leave_wait_ms,
  })
  if #report.warnings == 0 then report.warnings = nil end
  report.left = left
  report.leave_reason = d.reason
  if left.came_back then
    util.raise(string.format("the application did not start: the bootloader came back after the leave at %s " ..
      "(mode %s): %s\nnext: %s", hex(left.address), left.mode, left.cause, left.next), "NOT_STARTED",
      { phase = "leave", address = left.address })
  end
  return left
end

return M
