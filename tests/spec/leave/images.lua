-- Test images for the leave specs, derived in memory from the fixtures (design.md 6):
--   seed    the fixture as it is (h7_seed.elf on the H753, f4_config.elf on the F405): vector
--           table at 0x08000000, initial SP = end of RAM (0x20020000), reset vector odd
--   lowsp   the same with the initial SP lowered to RAM end - 256 (below the H753 ROM
--           V9.0-V9.2 limit of RAM end - 16)
--   reloc   the application linked for 0x08020000 (its data moved there, reset vector and
--           entry moved with it) behind a 256-byte configuration blob at 0x08000000 that holds
--           no vector table: the vector table is not at the start of the flash
local dfu = require "dfu"
local helper = require "helper"

local M = {}

M.RAM_END = 0x20020000 -- both profiles: 0x20000000-0x2001FFFF (DTCM on the H753)
M.LOW_SP = M.RAM_END - 256
M.RELOC = 0x20000
M.BLOB = string.rep("CFG\0", 64) -- words 0x00474643: not a RAM address

M.SEED = { stm32h753 = "h7_seed.elf", stm32f405 = "f4_config.elf" }

-- A copy of img with every segment moved by `shift`, the first two words replaced by sp, pc
-- (nil: keep) and the entry point set to entry.
local function rebuild(img, shift, sp, pc, entry)
  local out = dfu.image.new()
  for i, s in ipairs(img:segments()) do
    local data = img:data(i)
    if i == 1 then
      local osp, opc = string.unpack("<I4I4", data)
      data = string.pack("<I4I4", sp or osp, pc or opc) .. data:sub(9)
    end
    assert(out:add(s.address + shift, data))
  end
  out:set_entry(entry)
  return out
end

--- The images for a profile: {seed=, lowsp=, reloc=} (dfu.Image), plus their facts
--- {sp=, pc=, base=, lowest=} under .facts[name].
function M.for_profile(profile)
  local seed = assert(dfu.image.load(helper.fixture(M.SEED[profile])))
  local first = seed:segments()[1]
  local sp, pc = string.unpack("<I4I4", seed:bytes(first.address, 8))
  local t = {
    seed = seed,
    lowsp = rebuild(seed, 0, M.LOW_SP, nil, seed:entry()),
    reloc = rebuild(seed, M.RELOC, nil, pc + M.RELOC, seed:entry() + M.RELOC),
  }
  assert(t.reloc:add(0x08000000, M.BLOB))
  t.facts = {
    seed = { sp = sp, pc = pc, base = first.address, lowest = first.address },
    lowsp = { sp = M.LOW_SP, pc = pc, base = first.address, lowest = first.address },
    reloc = { sp = sp, pc = pc + M.RELOC, base = first.address + M.RELOC, lowest = 0x08000000 },
  }
  return t
end

--- Save an image to a temporary .hex file (the entry point goes with it); returns the path.
function M.save(img, suffix)
  local path = helper.tmpname(suffix or ".hex")
  assert(img:save(path))
  return path
end

--- An image from img with the first two words of the vector table replaced.
function M.with_vectors(img, sp, pc, entry)
  return rebuild(img, 0, sp, pc, entry)
end

return M
