-- Test images for a simulator profile, built from its family descriptor: an application whose
-- vector table sits at the start of the flash (initial SP = end of the first RAM block, a Thumb
-- reset vector into the image), or on a core without a vector table (GD32VF103) code whose
-- entry point is the flash start.
local dfu = require "dfu"
local helper = require "helper"

local M = {}

M.FLASH = 0x08000000

--- The family descriptor of a simulator profile.
function M.family(profile)
  local dev <close> = assert(helper.sim(profile):device())
  return dev:family()
end

-- Deterministic filler without long 0xFF runs.
local function filler(n, seed)
  local t, x = {}, seed or 0x2545F491
  for i = 1, n // 4 do
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    t[i] = string.pack("<I4", x | 0x01010101)
  end
  return table.concat(t)
end

--- An application of size bytes at base (default: the flash start) for the profile's family;
--- sp overrides the initial stack pointer. Returns the Image and its facts {sp=, pc=, entry=}.
function M.app(profile, opts)
  opts = opts or {}
  local fam = M.family(profile)
  local base, size = opts.base or M.FLASH, opts.size or 8192
  local img = dfu.image.new()
  if fam.boot and fam.boot.vector_table == false then
    -- RISC-V code at the entry point (csrwi mie, 0 ...), then filler
    local code = string.pack("<I4I4", 0x30405073, 0x34405073) .. filler(size - 8, base)
    assert(img:add(base, code))
    img:set_entry(base)
    return img, { entry = base }
  end
  local sp = opts.sp or fam.ram[1][2]
  local pc = base + 0x101
  assert(img:add(base, string.pack("<I4I4", sp, pc) .. filler(size - 8, base)))
  img:set_entry(pc)
  return img, { sp = sp, pc = pc, entry = pc }
end

return M
