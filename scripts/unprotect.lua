-- dfush unprotect: READ_UNPROTECT (RDP level 1 -> 0), which erases the whole flash.
local dfu = require "dfu"
local ob = require "dfu.ob"
local util = dfu.util

return dfu.recipe {
  name = "unprotect",
  usage = "unprotect --force",
  help = [[Remove read protection (RDP 1 -> 0); this ERASES THE WHOLE FLASH.

Sends the DfuSe READ_UNPROTECT command. The device erases its flash (and RAM), sets read protection to level 0 and resets; dfush waits for it to come back, then reads the option bytes (level 0 expected) and the whole flash (erased expected) and reports what it finds. Needs --force, because every byte of the flash is lost.]],
  options = {
    { name = "force", help = "confirm: the whole flash is erased" },
  },
  examples = { "dfush unprotect --force", "dfush -d sim:stm32f405,faults=rdp1 unprotect --force" },
  run = function(ctx, p)
    if not p.force then
      util.usage("unprotect erases the whole flash (and RAM) of the device; add --force to confirm")
    end
    local dev <close> = ctx:open()
    ctx:log("warn", "read unprotect: the whole flash will be erased")
    local ok, rep = pcall(ob.unprotect, dev, {
      log = function(level, msg) ctx:log(level, "%s", msg) end, progress = ctx.progress })
    if not ok then
      local r = util.is_error(rep) and rep.report
      if r then
        ctx:set_result { ok = false, level = r.level, erased = r.erased, verified = false,
          before = r.before, after = r.after }
      end
      error(rep, 0)
    end
    ctx:set_result { ok = true, level = rep.level, erased = true, verified = true,
      before = rep.before or dfu.json.null, after = rep.after, flash = rep.flash, seconds = rep.seconds }
    ctx:say("read protection removed: %s (RDP 0x%02X)", rep.after.text, rep.after.value)
    ctx:say("flash erased: %s read back as 0xFF", rep.flash and util.range(rep.flash.address, rep.flash.size) or "?")
    ctx:say("time %.1f s", rep.seconds)
  end,
}
