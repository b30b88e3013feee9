-- Leaving DFU (design.md 6). A mode turns the job (plan) and the user's options into the
-- address passed to the ROM; run() performs the DfuSe leave: SET_ADDRESS, zero-length
-- DNLOAD, one GETSTATUS, whose failure is the expected end of the session.
-- The modes table is the seam for a smarter policy: replace or add entries.
local util = require "dfu.util"

local M = {}

local function u32(s, off)
  if not s or #s < off + 4 then return nil end
  return string.unpack("<I4", s, off + 1)
end

--- Bytes at addr..addr+len-1 from the plan's segments (nil if not covered).
local function plan_bytes(plan, addr, len)
  for _, part in ipairs(plan and plan.parts or {}) do
    if part.alt == plan.flash_alt then
      for _, s in ipairs(part.segments) do
        if addr >= s.address and addr + len <= s.address + #s.data then
          return s.data:sub(addr - s.address + 1, addr - s.address + len)
        end
      end
    end
  end
end
M.plan_bytes = plan_bytes

--- The vector table of the image: SP and reset vector at base.
function M.vectors(plan, base)
  local v = plan_bytes(plan, base, 8)
  if not v then return nil end
  return u32(v, 0), u32(v, 4)
end

M.modes = {}

--- vector: the vector table base (lowest flash address of the image, or the given address);
--- the ROM loads MSP from [addr] and jumps to [addr+4] (AN3156).
function M.modes.vector(plan, opts)
  local addr = opts.address or (plan and plan.lowest)
  if not addr then util.usage("leave: no address; give one (e.g. 0x08000000)") end
  return addr
end

--- entry: the entry point (ELF e_entry, else the reset vector from the vector table).
function M.modes.entry(plan, opts)
  if opts.address then return opts.address end
  if plan and plan.entry then return plan.entry end
  local _, pc = M.vectors(plan, plan and plan.lowest or 0)
  if pc then return pc end
  util.usage("leave --leave-mode entry: the image has no entry point and no vector table; give an address")
end

--- auto: for now the documented vector-table leave.
function M.modes.auto(plan, opts)
  return M.modes.vector(plan, opts), "vector"
end

function M.modes.reset()
  util.usage("--leave-mode reset is not supported by this version; use vector or entry")
end

--- Resolve (mode name, plan, opts) to address and effective mode name. Raises on bad mode.
function M.choose(mode, plan, opts)
  mode = mode or "auto"
  local fn = M.modes[mode]
  if not fn then
    local names = {}
    for k in pairs(M.modes) do names[#names + 1] = k end
    table.sort(names)
    util.usage("unknown leave mode '%s' (use one of: %s)", mode, table.concat(names, ", "))
  end
  local addr, eff = fn(plan, opts or {})
  return addr, eff or mode
end

--- Notes on the vector table at addr (problems the user should know about before leaving):
--- SP outside RAM, a reset vector without the Thumb bit, and the family's known ROM jump bug
--- for this bootloader ID (rom_id may be nil when it could not be read).
function M.check_vectors(plan, addr, family, rom_id)
  local sp, pc = M.vectors(plan, addr)
  return M.check(sp, pc, addr, family, rom_id)
end

--- The same checks for a vector table given as its SP and reset vector words.
function M.check(sp, pc, addr, family, rom_id)
  local notes = {}
  if not sp then return notes end
  local region
  for _, r in ipairs(family and family.ram or {}) do
    if sp >= r[1] and sp <= r[2] then region = r end
  end
  if family and family.ram and not region then
    notes[#notes + 1] = string.format("the word at %s (initial SP 0x%08X) is not a RAM address; " ..
      "the ROM will not start the application from this vector table", util.hex(addr), sp)
  end
  if pc and pc & 1 == 0 then
    notes[#notes + 1] = string.format("the reset vector 0x%08X is not a Thumb address (bit 0 clear)", pc)
  end
  local bug = family and family.jump_bug
  if bug and rom_id and region then
    for _, id in ipairs(bug.ids) do
      if id == rom_id and sp > region[2] - bug.sp_margin then
        notes[#notes + 1] = string.format("bootloader ID 0x%02X cannot start an application whose " ..
          "initial SP (0x%08X) is above RAM end - %d (0x%08X) (AN2606 known limitation): expect " ..
          "the application not to start", rom_id, sp, bug.sp_margin, region[2] - bug.sp_margin)
      end
    end
  end
  return notes
end

--- Read the bootloader ID byte of the family (nil when unknown or unreadable).
function M.rom_id(dev, family)
  if not (family and family.id_address) then return nil end
  local b = dev:read(family.id_address, 1)
  dev:abort_to_idle()
  if b and #b == 1 then return b:byte() end
  return nil
end

--- Perform the leave. Returns {address=, mode=, answered=bool, state_name=s|nil}.
function M.run(dev, addr, mode)
  local r, msg, code = dev:leave(addr)
  if not r then util.raise(string.format("leave at %s failed: %s", util.hex(addr), msg), code or "ERROR",
    { address = addr }) end
  return { address = addr, mode = mode, answered = r.answered, state_name = r.state_name }
end

return M
