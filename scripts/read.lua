-- dfush read: read memory into a file (.bin .hex .s19 by extension).
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "read",
  usage = "read [ADDR [LEN]] -o OUT [--alt A]",
  help = [[Read device memory into a file.

Without LEN the read runs to the end of the readable memory that holds ADDR; without ADDR it reads the whole readable memory of the alt setting (the flash, by default).

The output format follows OUT's extension: .bin (raw), .hex (Intel HEX), .s19/.srec (Motorola S-record); .hex and .s19 keep the address.]],
  args = { { name = "addr", optional = true }, { name = "len", optional = true } },
  options = {
    { name = "output", short = "o", arg = "OUT", help = "output file (required)" },
    { name = "alt", arg = "A", help = "alt setting by number or name prefix" },
  },
  examples = {
    "dfush -d sim:stm32h753 read 0x08000000 128K -o dump.bin",
    "dfush read 0x1FFF7800 528 --alt OTP -o otp.hex",
    "dfush read -o whole-flash.bin",
  },
  run = function(ctx, p)
    local addr = p.addr and util.addr_arg(p.addr, "ADDR")
    local len = p.len and util.len_arg(p.len, "LEN")
    if not p.output then util.usage("read: give the output file with -o OUT") end
    local ext = p.output:match("%.([%w]+)$")
    local known = { bin = true, hex = true, ihex = true, s19 = true, srec = true, mot = true, dfu = true }
    if not ext or not known[ext:lower()] then
      util.usage("read: cannot tell the format of '%s'; use .bin, .hex or .s19", p.output)
    end
    if addr and len then util.check_span(addr, len, "read ADDR LEN") end
    util.check_output(p.output)
    local dev <close> = ctx:open()
    if p.alt then
      local a = dfu.plan.select_alt(dev:alts(), p.alt)
      dfu.check(dev:set_alt(a.alt))
    end
    local alt = dfu.plan.select_alt(dev:alts(), dev:alt())
    if not len then
      -- the readable memory of the alt: all of it, or the contiguous part from ADDR on
      if not alt.layout then util.usage("read: %s has no memory layout; give ADDR and LEN", dfu.plan.alt_label(alt)) end
      local ranges = dfu.plan.ranges(dfu.plan.sectors(alt.layout), function(x) return x.readable ~= false end)
      local r = ranges[1]
      for _, x in ipairs(ranges) do
        if addr and addr >= x.address and addr < x.address + x.size then r = x end
      end
      if not r then util.usage("read: %s has no readable memory", dfu.plan.alt_label(alt)) end
      addr = addr or r.address
      if addr < r.address or addr >= r.address + r.size then
        util.raise(string.format("read: %s is outside the readable memory of %s", util.hex(addr),
          dfu.plan.alt_label(alt)), "RANGE", { address = addr })
      end
      len = r.address + r.size - addr
    end
    dfu.plan.check_readable(alt, addr, len)
    local xfer = dfu.flash.transfer_size(dev)
    local chunk = xfer * dfu.flash.CHUNK_BLOCKS
    local parts, done = {}, 0
    local t0 = dev:now()
    ctx.progress("read", 0, len)
    while done < len do
      local n = math.min(chunk, len - done)
      local data, msg, code = dfu.flash.read(dev, addr + done, n)
      if not data then
        local hint = ""
        local a = dfu.plan.select_alt(dev:alts(), dev:alt())
        if a.layout and not dfu.plan.find(dfu.plan.sectors(a.layout), addr + done) then
          hint = string.format(" (%s is outside %s; choose the alt setting with --alt, see dfush info)",
            util.hex(addr + done), dfu.plan.alt_label(a))
        elseif require("dfu.ob").refused_by_rdp(dev) then
          hint = "\n" .. require("dfu.ob").RDP_HINT
        end
        util.raise(string.format("read at %s failed: %s%s", util.hex(addr + done), msg, hint), code,
          { address = addr + done })
      end
      parts[#parts + 1] = data
      done = done + #data
      if #data < n then break end
      ctx.progress("read", done, len)
    end
    local data = table.concat(parts)
    local img = dfu.image.new()
    dfu.check(img:add(addr, data))
    local ok, msg, code = img:save(p.output)
    if not ok then util.raise(string.format("cannot write %s: %s", p.output, msg), code or "ERROR") end
    local secs = dev:now() - t0
    ctx:set_result { ok = true, address = addr, size = #data, file = p.output, seconds = secs,
                     crc32 = dfu.image.crc32(data) }
    ctx:say("read %s from %s to %s in %.3f s", util.size(#data), util.hex(addr), p.output, secs)
  end,
}
