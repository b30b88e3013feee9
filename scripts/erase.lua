-- dfush erase: erase the sectors covering a range, or the whole flash.
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "erase",
  usage = "erase ADDR [LEN] [--alt A] | erase --mass --force",
  help = [[Erase flash sectors, or the whole flash.

With ADDR alone the sector containing ADDR is erased; with LEN every sector that [ADDR, ADDR+LEN) touches. --mass erases the whole flash and needs --force.]],
  args = { { name = "addr", optional = true }, { name = "len", optional = true } },
  options = {
    { name = "mass", help = "erase the whole flash (mass erase)" },
    { name = "force", help = "confirm --mass" },
    { name = "alt", arg = "A", help = "alt setting by number or name prefix" },
  },
  examples = {
    "dfush -d sim:stm32h753 erase 0x08020000 256K",
    "dfush erase --mass --force",
  },
  run = function(ctx, p)
    local result = { ok = false, erased = dfu.json.array {} }
    if p.mass then
      if p.addr then util.usage("erase: give either ADDR [LEN] or --mass, not both") end
      if not p.force then util.usage("erase --mass wipes the whole flash; add --force to confirm") end
      local dev <close> = ctx:open()
      if p.alt then dfu.check(dev:set_alt(dfu.plan.select_alt(dev:alts(), p.alt).alt)) end
      dfu.check(dev:abort_to_idle())
      local t0 = dev:now()
      local a, bytes = dfu.plan.select_alt(dev:alts(), dev:alt()), 0
      if a.layout then
        for _, r in ipairs(dfu.plan.ranges(dfu.plan.sectors(a.layout), function(s) return s.erasable end)) do
          table.insert(result.erased, { address = r.address, size = r.size })
          bytes = bytes + r.size
        end
      end
      ctx.progress("erase", 0, bytes)
      dfu.check(dev:mass_erase())
      ctx.progress("erase", bytes, bytes)
      result.ok, result.mass = true, true
      result.seconds = dev:now() - t0
      ctx:set_result(result)
      ctx:say("mass erase done in %.3f s", result.seconds)
      return
    end
    if not p.addr then util.usage("erase: give ADDR [LEN], or --mass --force") end
    local addr = util.addr_arg(p.addr, "ADDR")
    local len = p.len and util.len_arg(p.len, "LEN") or 1
    local dev <close> = ctx:open()
    if p.alt then dfu.check(dev:set_alt(dfu.plan.select_alt(dev:alts(), p.alt).alt)) end
    -- check the whole range before erasing anything
    local a = dfu.plan.select_alt(dev:alts(), dev:alt())
    if not a.layout then util.usage("erase: %s has no memory layout", dfu.plan.alt_label(a)) end
    local sectors = dfu.plan.sectors(a.layout)
    local list, pos = {}, addr
    while pos < addr + len do
      local i = dfu.plan.find(sectors, pos)
      if not i or not sectors[i].erasable then
        local valid = {}
        for _, r in ipairs(dfu.plan.ranges(sectors, function(s) return s.erasable end)) do
          valid[#valid + 1] = util.range(r.address, r.size)
        end
        util.raise(string.format("erase: %s is not in an erasable sector of %s; erasable: %s",
          util.hex(pos), dfu.plan.alt_label(a), #valid > 0 and table.concat(valid, ", ") or "none"),
          "RANGE", { address = pos })
      end
      list[#list + 1] = { address = sectors[i].address, size = sectors[i].size }
      pos = sectors[i].address + sectors[i].size
    end
    dfu.check(dev:abort_to_idle())
    local t0 = dev:now()
    local report = { erased = result.erased }
    dfu.flash.erase(dev, list, ctx.progress, report)
    result.ok = true
    result.seconds = dev:now() - t0
    ctx:set_result(result)
    local txt = {}
    for _, e in ipairs(list) do txt[#txt + 1] = util.range(e.address, e.size) end
    ctx:say("erased %d sector(s): %s in %.3f s", #list, table.concat(txt, ", "), result.seconds)
  end,
}
