-- dfush verify: compare images with the device's memory.
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "verify",
  usage = "verify FILE[@ADDR]... [--alt A]",
  help = [[Compare images with the device's memory, byte for byte.

Exits 0 when every byte matches, 1 naming the first address that differs.]],
  args = { { name = "file", many = true } },
  options = {
    { name = "alt", arg = "A", help = "alt setting by number or name prefix" },
  },
  examples = { "dfush -d sim:stm32h753,state=board.bin verify fw.elf" },
  run = function(ctx, p)
    local images = {}
    for _, f in ipairs(p.file) do
      local img, path, base = util.load_image(f, { need_data = true })
      ctx:check_base(path, base, img)
      images[#images + 1] = { path = path, image = img }
    end
    local dev <close> = ctx:open()
    local plan = dfu.flash.plan(dev, images, { alt = p.alt, unit = 1, consume = true })
    local chunk = dfu.flash.transfer_size(dev) * dfu.flash.CHUNK_BLOCKS
    local t0 = dev:now()
    local ok, err = pcall(function()
      for _, part in ipairs(plan.parts) do
        if dev:alt() ~= part.alt then dfu.check(dev:set_alt(part.alt)) end
        dfu.flash.verify(dev, part.segments, { progress = ctx.progress, chunk = chunk })
      end
    end)
    local secs = dev:now() - t0
    if not ok then
      ctx:set_result { ok = false, verified = false, bytes = plan.bytes, seconds = secs,
                       mismatch = util.is_error(err) and err.address or nil }
      error(err, 0)
    end
    ctx:set_result { ok = true, verified = true, bytes = plan.bytes, seconds = secs }
    ctx:say("verified %s: the device matches", util.size(plan.bytes))
  end,
}
