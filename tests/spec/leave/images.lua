-- Test images for the leave specs, derived in memory from the fixtures (design.md 6):
--   seed    the fixture as it is (h7_seed.elf on the H753, f4_config.elf on the F405): vector
--           table at 0x08000000, initial SP = end of RAM (0x20020000), reset vector odd
--   lowsp   the same with the initial SP lowered to RAM end - 256 (below the H753 ROM
--           V9.0-V9.2 limit of RAM end - 16)
--   reloc   the application linked for 0x08020000 (its data moved there, reset vector and
--           entry moved with it) behind a 256-byte configuration blob at 0x08000000 that holds
--           no vector table: the vector table is not at the start of the flash
-- The profiles without a fixture (issue 13) get a synthetic application from their family
-- descriptor (families.images): initial SP = end of the first RAM block, and RELOC_SMALL
-- (32 KiB) for the move, which fits the 128 KiB parts. On a core without a vector table
-- (GD32VF103) there is no stack word: no lowsp image, and reloc is the code moved to
-- RELOC_SMALL with the start of the flash left erased (a blob there would simply run: a RISC-V
-- core starts executing at its boot address, whatever the bytes are).
local dfu = require "dfu"
local helper = require "helper"
local fam_images = require "families.images"

local M = {}

M.RAM_END = 0x20020000 -- both profiles: 0x20000000-0x2001FFFF (DTCM on the H753)
M.LOW_SP = M.RAM_END - 256
M.RELOC = 0x20000
M.RELOC_SMALL = 0x8000
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
  if not M.SEED[profile] then return M.synthetic(profile) end
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

--- The same set for a profile without a fixture, from its family descriptor.
function M.synthetic(profile)
  local base = fam_images.FLASH
  local seed, f = fam_images.app(profile)
  if not f.sp then
    local reloc = fam_images.app(profile, { base = base + M.RELOC_SMALL })
    return {
      seed = seed, reloc = reloc,
      facts = {
        seed = { pc = f.entry, base = base, lowest = base },
        reloc = { pc = f.entry + M.RELOC_SMALL, base = base + M.RELOC_SMALL, lowest = base + M.RELOC_SMALL },
      },
    }
  end
  local low = f.sp - 256
  local t = {
    seed = seed,
    lowsp = rebuild(seed, 0, low, nil, seed:entry()),
    reloc = rebuild(seed, M.RELOC_SMALL, nil, f.pc + M.RELOC_SMALL, seed:entry() + M.RELOC_SMALL),
  }
  assert(t.reloc:add(base, M.BLOB))
  t.facts = {
    seed = { sp = f.sp, pc = f.pc, base = base, lowest = base },
    lowsp = { sp = low, pc = f.pc, base = base, lowest = base },
    reloc = { sp = f.sp, pc = f.pc + M.RELOC_SMALL, base = base + M.RELOC_SMALL, lowest = base },
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
