-- dfush list: DFU devices on USB, and the simulator profiles.
-- Only the modules it uses: require "dfu" would load the whole flashing library, and list
-- should start in about the time a USB enumeration takes.
local dfu = { recipe = require("dfu.recipe").new, core = require "dfu.core", sim = require "dfu.sim",
              json = require "dfu.json" }

return dfu.recipe {
  name = "list",
  usage = "list",
  help = [[List the DFU devices on USB and the simulator profiles.

A device string from this list (or a sim profile) goes to -d.]],
  examples = { "dfush list", "dfush list --json" },
  run = function(ctx)
    local devs, msg = dfu.core.list()
    local out = { devices = dfu.json.array {}, sim_profiles = dfu.json.array {} }
    if not devs then
      ctx:log("warn", "USB: %s", tostring(msg))
      out.usb_error = tostring(msg)
      devs = {}
    end
    for _, d in ipairs(devs) do
      local s = string.format("usb:%04x:%04x", d.vid, d.pid)
      if d.path and d.path ~= "" then s = s .. ",path=" .. d.path end
      out.devices[#out.devices + 1] = {
        device = s, vid = d.vid, pid = d.pid, bcd_device = d.bcd_device, serial = d.serial,
        product = d.product, path = d.path, alt = d.alt, alt_name = d.alt_name, dfuse = d.dfuse,
      }
      ctx:say("%-32s %s%s  %s", s, d.product or "", d.serial and d.serial ~= "" and (" serial " .. d.serial) or "",
        d.alt_name or "")
    end
    if #devs == 0 then ctx:say("no USB DFU devices") end
    for _, p in ipairs(dfu.sim.profiles()) do
      out.sim_profiles[#out.sim_profiles + 1] = p
      ctx:say("%-32s simulator", "sim:" .. p)
    end
    ctx:set_result(out)
  end,
}
