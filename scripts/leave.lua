-- dfush leave: leave DFU and start the application.
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "leave",
  usage = "leave [ADDR] [--leave-mode auto|vector|entry|reset]",
  help = [[Leave DFU mode and start the application.

Sends SET_ADDRESS(ADDR), a zero-length DNLOAD and one GETSTATUS; the device then drops off the bus, so a failing final GETSTATUS is the expected end. ADDR is the vector table base (default: the start of the "Internal Flash" region, 0x08000000 on STM32): the ROM loads the stack pointer from [ADDR] and jumps to [ADDR+4].]],
  args = { { name = "addr", optional = true } },
  options = {
    { name = "leave-mode", arg = "MODE", choices = { "auto", "vector", "entry", "reset" },
      help = "how ADDR is interpreted (default auto = vector)" },
  },
  examples = {
    "dfush -d sim:stm32h753 leave",
    "dfush leave 0x08020000",
  },
  run = function(ctx, p)
    local addr = p.addr and util.addr_arg(p.addr, "ADDR") or nil
    local dev <close> = ctx:open()
    local alts = dev:alts()
    local flash_alt
    for _, a in ipairs(alts) do
      if a.layout and a.layout.name:lower():find("flash", 1, true) then flash_alt = a break end
    end
    flash_alt = flash_alt or alts[1]
    local plan = { parts = {}, lowest = flash_alt and flash_alt.layout and flash_alt.layout.runs[1].address }
    local target, mode = dfu.leave.choose(p.leave_mode, plan, { address = addr })
    if flash_alt and dev:alt() ~= flash_alt.alt then dfu.check(dev:set_alt(flash_alt.alt)) end
    dfu.check(dev:abort_to_idle())
    -- look at the vector table on the device before jumping
    local warnings = dfu.json.array {}
    if mode == "vector" then
      local fam = dev:family()
      local vt = dev:read(target, 8)
      dev:abort_to_idle()
      if vt and #vt == 8 then
        local sp, pc = string.unpack("<I4I4", vt)
        if sp == 0xFFFFFFFF and pc == 0xFFFFFFFF then
          warnings[#warnings + 1] = string.format("the flash at %s is erased: there is no application to start",
            util.hex(target))
        else
          for _, n in ipairs(dfu.leave.check(sp, pc, target, fam, dfu.leave.rom_id(dev, fam))) do
            warnings[#warnings + 1] = n
          end
        end
      end
      for _, n in ipairs(warnings) do ctx:log("warn", "%s", n) end
    end
    local r = dfu.leave.run(dev, target, mode)
    ctx:set_result { ok = true, left = { address = r.address, mode = r.mode }, answered = r.answered,
                     warnings = warnings }
    ctx:say("left DFU at %s (mode %s)%s", util.hex(r.address), r.mode,
      r.answered and (", device reported " .. tostring(r.state_name)) or ", the device dropped off the bus")
  end,
}
