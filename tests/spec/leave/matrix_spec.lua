-- The leave matrix (issue 6, design.md 6): {H753 ROM 0x90 (SP jump bug), H753 ROM 0x93 (not
-- in the bug list), F405, and the ROMs of issue 13: F072, F411, F767, G0B1, G474, L476, H7A3,
-- U585, C071, GD32VF103} x {the ROM's two readings of the leave address: jump=vector and
-- jump=branch on the Cortex-M ROMs, jump=branch and jump=reset on the RISC-V GD32VF103, which
-- has no vector table} x {boot0=0, boot0=1} x {seed image, image with SP below RAM end (not on
-- the GD32VF103: no stack word), image whose vector table (GD32VF103: entry point) is not at the
-- start of the flash}. The G0B1 and C071 option bytes ignore the BOOT0 pin as shipped
-- (nBOOT_SEL = 1, boot from nBOOT0 = 1: the main flash), so their boot0=1 cells behave as
-- boot0=0 (doc/families.md).
--
-- For each cell the truth comes from the simulator: the image is flashed on a fresh sim with
-- each explicit mode (vector, entry, reset) and the sim's last "leave" event says whether the
-- application runs. Then `flash` with leave = true (auto) runs on another fresh sim, and:
--   * where any mode starts the application, auto starts it (last leave event app_running,
--     report.left.came_back false);
--   * where none does, the flash fails with NOT_STARTED when the bootloader came back (the
--     message names a cause and a next command), or reports "left" without a running
--     application only where the device vanished (hang / hard fault);
--   * whatever the outcome, the report agrees with the event log (never "left" while the sim
--     is back in the ROM, never "came back" while the application runs).
-- The host cannot ask the ROM which semantics it uses nor read the BOOT0 pin. When no leave
-- sequence starts the application under both semantics (the image relocated behind a blob on a
-- ROM whose vector jump works: the vector table jump hard-faults on a branching ROM, the reset
-- handler resets a vector ROM into the blob), auto must follow the documented (AN3156) vector
-- semantics; those cells of the other reading are shown as "ambiguous" in the table. This is computed from
-- the observed outcomes, not listed by hand.
local support = require "recipes.support"
local helper = support.helper
local images = require "leave.images"

-- jumps[1] is the documented (or, GD32VF103, the modelled default) reading of the address.
local CORTEX = { "vector", "branch" }
local RISCV = { "branch", "reset" }
local ROMS = {
  { name = "h753 rom=0x90", profile = "stm32h753", keys = "rom=0x90" },
  { name = "h753 rom=0x93", profile = "stm32h753", keys = "rom=0x93" },
  { name = "f405", profile = "stm32f405", keys = nil },
  { name = "f072", profile = "stm32f072" },
  { name = "f411", profile = "stm32f411" },
  { name = "f767", profile = "stm32f767" },
  { name = "g0b1", profile = "stm32g0b1" },
  { name = "g474", profile = "stm32g474" },
  { name = "l476", profile = "stm32l476" },
  { name = "h7a3", profile = "stm32h7a3" },
  { name = "u585", profile = "stm32u585" },
  { name = "c071", profile = "stm32c071" },
  { name = "gd32vf103", profile = "gd32vf103", jumps = RISCV, images = { "seed", "reloc" } },
}
local BOOT0 = { 0, 1 }
local IMAGES = { "seed", "lowsp", "reloc" }
local MODES = { "vector", "entry", "reset" }
-- virtual time: the re-enumeration watch costs no real time; above the slowest ROM start in
-- the profiles (C071: 552 ms)
local WAIT_MS = 1000

local rows = {}

local function spec_of(rom, jump, boot0)
  local s = string.format("%s,jump=%s,boot0=%d", rom.profile, jump, boot0)
  if rom.keys then s = s .. "," .. rom.keys end
  return s
end

-- Flash img with leave on a fresh sim; returns {r=, msg=, code=, ev= (last leave event),
-- leaves= (all), mode= (sim mode afterwards)}.
local function run(spec, img, mode)
  local sim = helper.sim(spec)
  local dev <close> = assert(sim:device())
  local r, msg, code = dev:flash(img, { leave = true, leave_mode = mode, leave_wait_ms = WAIT_MS })
  local lv = support.events(sim, "leave")
  -- a leave predicted to fail (left.predicted) never started the application in the simulator
  if r and r.left and r.left.predicted == "fail" then
    assert.are_not.equal("app_running", lv[#lv].outcome, spec .. " " .. tostring(mode) .. ": " ..
      tostring(r.left.prediction))
  end
  if r and r.left then assert.is_truthy(r.left.predicted == "fail" or r.left.predicted == "start") end
  return { r = r, msg = msg, code = code, ev = lv[#lv], leaves = lv, mode = sim:mode() }
end

local function class(out)
  if not out.ev then return "none" end
  if out.ev.outcome == "app_running" then return "app" end
  if out.ev.outcome == "rom" then return "back" end
  return "dead"
end

-- Does some sequence of modes (each later step taken only when the bootloader came back) start
-- the application in every cell of `cells` where some mode does? cells: list of {mode -> class}.
local function universal(cells)
  local seqs = {}
  local function rec(prefix, used)
    if #prefix > 0 then seqs[#seqs + 1] = { table.unpack(prefix) } end
    for _, m in ipairs(MODES) do
      if not used[m] then
        used[m] = true
        prefix[#prefix + 1] = m
        rec(prefix, used)
        prefix[#prefix] = nil
        used[m] = nil
      end
    end
  end
  rec({}, {})
  for _, seq in ipairs(seqs) do
    local all = true
    for _, c in ipairs(cells) do
      local any = false
      for _, m in ipairs(MODES) do any = any or c[m] == "app" end
      if any then
        local out
        for _, m in ipairs(seq) do
          out = c[m]
          if out ~= "back" then break end
        end
        if out ~= "app" then all = false break end
      end
    end
    if all then return seq end
  end
  return nil
end

-- The report of the auto run agrees with the simulator's truth.
local function check_consistent(name, out)
  assert(out.ev, name .. ": no leave event")
  if out.r then
    assert.is_true(out.r.ok, name)
    assert.is_false(out.r.left.came_back, name .. ": a success that says the bootloader came back")
    assert.are_not.equal("rom", out.ev.outcome, name .. ": reported left while the sim is in the ROM")
    assert.are_not.equal("rom", out.mode, name)
    assert.are.equal(out.ev.address, out.r.left.address, name .. ": reported address is not the last leave's")
    if out.ev.outcome ~= "app_running" then
      assert.is_true(out.ev.outcome == "hang" or out.ev.outcome == "hardfault", name)
    end
    assert.matches("^auto: ", out.r.leave_reason, nil, false)
    assert.is_nil(out.r.leave_reason:find("\n"), name .. ": the reason is one line")
  else
    assert.are.equal("NOT_STARTED", out.code, name .. ": " .. tostring(out.msg))
    assert.are.equal("rom", out.ev.outcome, name .. ": NOT_STARTED but the event log says " .. out.ev.outcome)
    assert.matches("bootloader came back", out.msg, 1, true)
    assert.matches("\nnext: [^\n]*dfush ", out.msg, nil, false)
    -- the cause is named: BOOT0, the vector table or the ROM's jump bug
    local cause = out.msg:find("BOOT0", 1, true) or out.msg:find("vector table", 1, true)
      or out.msg:find("ROM 0x", 1, true)
    assert.is_truthy(cause, name .. ": no cause in " .. out.msg)
  end
end

describe("leave matrix (in-process, virtual time)", function()
  after_each(helper.cleanup)

  teardown(function()
    local lines = { "", "leave matrix: cell -> auto outcome [modes that start the application]" }
    for _, r in ipairs(rows) do
      lines[#lines + 1] = string.format("  %-14s %-6s boot0=%d %-5s -> %-34s [%s]%s", r.rom, r.jump, r.boot0,
        r.image, r.auto, r.works, r.note)
    end
    io.stderr:write(table.concat(lines, "\n"), "\n")
  end)

  for _, rom in ipairs(ROMS) do
    local jumps = rom.jumps or CORTEX
    for _, iname in ipairs(rom.images or IMAGES) do
      it(rom.name .. " x " .. iname .. ": auto starts the application wherever a mode can", function()
        local img = images.for_profile(rom.profile)[iname]
        -- the truth of every (jump, boot0) cell for each explicit mode
        local cells, truth, autos = {}, {}, {}
        for _, jump in ipairs(jumps) do
          for _, b0 in ipairs(BOOT0) do
            local spec = spec_of(rom, jump, b0)
            local c = {}
            for _, m in ipairs(MODES) do c[m] = class(run(spec, img, m)) end
            cells[#cells + 1] = c
            truth[#truth + 1] = { jump = jump, boot0 = b0, c = c }
            autos[#autos + 1] = run(spec, img, "auto")
          end
        end
        local seq = universal(cells)
        for i, t in ipairs(truth) do
          local name = string.format("%s %s jump=%s boot0=%d", rom.name, iname, t.jump, t.boot0)
          local out = autos[i]
          local works = {}
          for _, m in ipairs(MODES) do
            if t.c[m] == "app" then works[#works + 1] = m end
          end
          check_consistent(name, out)
          -- with no sequence good for both semantics, auto follows the documented one
          local ambiguous = #works > 0 and not seq and t.jump ~= jumps[1]
          if #works > 0 and not ambiguous then
            assert.is_truthy(out.r, name .. ": auto failed where " .. table.concat(works, ",") .. " works: "
              .. tostring(out.msg))
            assert.are.equal("app_running", out.ev.outcome, name .. ": auto did not start the application")
          end
          local tried = {}
          for _, e in ipairs(out.leaves) do tried[#tried + 1] = string.format("0x%08X", e.address) end
          rows[#rows + 1] = {
            rom = rom.name, jump = t.jump, boot0 = t.boot0, image = iname, works = table.concat(works, ","),
            auto = string.format("%s via %s (%s)", out.r and "left" or tostring(out.code), table.concat(tried, ">"),
              out.ev.outcome),
            note = ambiguous and " ambiguous" or "",
          }
        end
      end)
    end
  end
end)
