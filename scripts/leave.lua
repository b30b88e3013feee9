-- dfush leave: leave DFU and start the application that is in the device's flash.
local dfu = require "dfu"
local util = dfu.util

--- The "left" record for --json (design.md 3 "left" plus the outcome of the watch).
local function left_json(left)
  local t = {}
  for k, v in pairs(left) do t[k] = v end
  return t
end

return dfu.recipe {
  name = "leave",
  usage = "leave [ADDR] [--leave-mode auto|vector|entry|reset]",
  help = [[Leave DFU mode and start the application in the device's flash.

Sends SET_ADDRESS, a zero-length DNLOAD and one GETSTATUS; the ROM then drops off the bus, so a failing final GETSTATUS is the expected end. DFU_DETACH is never sent (ST ROMs stall it). Afterwards dfush watches for the bootloader coming back for a few times the ROM's USB connection time: if it does, the application did not start, and dfush says why and what to try next (exit status 1).

Modes (without ADDR the vector table is read from the flash):
  vector  the vector table base: the ROM loads SP from [ADDR] and jumps to
          [ADDR+4] (AN3156)
  entry   the reset handler (an odd Thumb address), for ROMs that branch to
          the address
  reset   an address whose first word is not a RAM address: the ROM resets
          the chip, which boots the application from flash when BOOT0 is low
          (no jump, so no ROM jump bug)
  auto    read the bootloader ID, apply the family's known jump bugs, check SP
          and reset vector, and pick the leave most likely to start this
          application (the default)

With ADDR the address is sent as given; auto only decides whether it is a
vector table or an entry point.]],
  args = { { name = "addr", optional = true } },
  options = {
    { name = "leave-mode", arg = "MODE", choices = { "auto", "vector", "entry", "reset" },
      help = "how to pick the leave address (default auto)" },
    { name = "force", help = "accept a leave that dfush predicts will not start the application " ..
      "(exit 0 instead of 1)" },
  },
  examples = {
    "dfush -d sim:stm32h753 leave",
    "dfush leave --leave-mode reset",
    "dfush leave 0x08020000",
  },
  run = function(ctx, p)
    local addr = p.addr and util.addr_arg(p.addr, "ADDR") or nil
    local dev <close> = ctx:open()
    local fam = dev:family()
    local warnings = dfu.json.array {}
    local left = dfu.leave.leave(dev, {
      mode = p.leave_mode or "auto", address = addr, address_arg = "ADDR", fam = fam, warnings = warnings,
      log = function(level, msg) ctx:log(level, "%s", msg) end,
    })
    local ok = not left.came_back
    ctx:set_result { ok = ok, left = left_json(left), warnings = warnings }
    if ok and left.predicted == "fail" and not p.force then
      util.raise(dfu.leave.predicted_message(left, ""), "PREDICTED_FAIL", { address = left.address })
    elseif ok then
      ctx:say("left DFU at %s (mode %s); the bootloader did not come back within %.2f s", util.hex(left.address),
        left.mode, left.wait_ms / 1000)
      if left.predicted == "fail" then
        ctx:say("unconfirmed: the application is predicted not to start (%s); accepted with --force",
          left.prediction)
      end
    else
      util.raise(string.format("the application did not start: the bootloader came back after the leave at %s " ..
        "(mode %s): %s\nnext: %s", util.hex(left.address), left.mode, left.cause, left.next), "NOT_STARTED",
        { address = left.address })
    end
  end,
}
