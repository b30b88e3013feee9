-- dfush dfu-util: dfu-util 0.11's command line (dfu.dfuutil); the same as running the dfush
-- host under the name dfu-util or dfush-dfu-util.
local dfu = require "dfu"
local opts = require "dfu.dfuutil_opts"

return dfu.recipe {
  name = "dfu-util",
  usage = "dfu-util [dfu-util options] ...",
  raw = true,
  help = [[dfu-util 0.11's command line and output; dfush does the work.

The options (long and short), the -l lines, the messages and the exit statuses are dfu-util 0.11's.

Existing scripts, Makefiles and tools switch by calling dfush dfu-util, or the dfush-dfu-util link installed next to dfush, put first on PATH under the name dfu-util (or named in a tool's settings, e.g. labgrid's tools: dfu-util: /usr/bin/dfush-dfu-util). dfush dfu-util -h lists the options. The device is the one on USB that the options match, or the one -d DEV (before dfu-util) or $DFUSH_DEVICE names, such as a simulator: DFUSH_DEVICE=sim:stm32h753 dfush-dfu-util -l.

What dfush does differently from dfu-util 0.11:
]] .. opts.DIFFERENCES,
  examples = {
    "dfush dfu-util -l",
    "dfush dfu-util -a 0 -s 0x08000000:leave -D app.bin",
    "DFUSH_DEVICE=sim:stm32h753,boot0=0 dfush-dfu-util -a 0 -s 0x08000000:leave -D app.bin",
    "ln -s /usr/bin/dfush-dfu-util ~/bin/dfu-util   # then dfu-util runs dfush",
  },
  run = function(ctx, p)
    -- with --json, stdout holds the one JSON object; dfu-util's own output goes to stderr
    local status = require("dfu.dfuutil").main(p.argv, {
      stdout = ctx.json and ctx.stderr or ctx.stdout, stderr = ctx.stderr, device = ctx.device, prog = "dfu-util" })
    ctx:set_result { ok = status == 0, exit_status = status }
    return status
  end,
}
