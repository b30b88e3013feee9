-- dfush detach: switch a device from run-time mode (its application's DFU interface) into DFU
-- mode, as dfu-util -e does, and report the device that appears.
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "detach",
  usage = "detach [--wait MS]",
  runtime_ok = true, -- for devices in run-time mode
  help = [[Switch a device in run-time mode into DFU mode (DFU_DETACH).

A device whose application exposes a DFU run-time interface (bInterfaceProtocol 1) gets DFU_DETACH, then a USB bus reset unless its DFU descriptor says it detaches by itself (bitWillDetach); dfush then waits for the device to come back in DFU mode and shows it. A device already in DFU mode (protocol 2, e.g. an STM32 ROM bootloader, which stalls DFU_DETACH) is left alone.

The simulator has a run-time device too: -d sim:dfu11,runtime=1.]],
  options = {
    { name = "wait", arg = "MS", help = "how long to wait for the device in DFU mode (default 5000)" },
  },
  examples = { "dfush -d usb:1209:0010 detach", "dfush -d sim:dfu11,runtime=1 detach" },
  run = function(ctx, p)
    local wait = p.wait and util.parse_number(p.wait)
    if p.wait and (not wait or wait < 1 or wait > 600000) then
      util.usage("detach: --wait must be milliseconds (1-600000), got '%s'", p.wait)
    end
    local dev <close> = ctx:open()
    local before = dev:info()
    local function device(i)
      return { vid = i.vid, pid = i.pid, path = i.path, serial = i.serial, protocol = i.protocol }
    end
    if before.protocol ~= 1 then
      ctx:set_result { ok = true, detached = false, device = device(before) }
      ctx:say("%04x:%04x is already in DFU mode (bInterfaceProtocol %d): nothing to do", before.vid, before.pid,
        before.protocol)
      return
    end
    ctx:log("info", "%04x:%04x in run-time mode: DFU_DETACH%s", before.vid, before.pid,
      (before.attributes or 0) & 0x08 ~= 0 and " (the device detaches by itself)" or ", then a USB bus reset")
    local ok, msg, code = dev:detach_and_reopen(wait or 5000)
    if not ok then
      util.raise(string.format("detach: %s", msg), code or "ERROR")
    end
    local after = dev:info()
    local alts = dev:alts()
    ctx:set_result { ok = true, detached = true, runtime = device(before), device = device(after),
                     alts = #alts }
    ctx:say("%04x:%04x is in DFU mode now as %04x:%04x (%s), %d alt setting(s); next: dfush info",
      before.vid, before.pid, after.vid, after.pid, after.path, #alts)
  end,
}
