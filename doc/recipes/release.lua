-- dfush release: program an application and a per-board configuration block in one job,
-- verify both, and start the application.
--   dfush --recipes doc/recipes -d sim:stm32h753,boot0=0 release tests/fixtures/h7_seed.elf --serial 1234
local dfu = require "dfu"
local util = dfu.util

return dfu.recipe {
  name = "release",
  usage = "release APP[@ADDR] --serial N [--config-at ADDR]",
  help = [[Flash an application and a board config block, then start it.

The configuration block is 12 bytes: "CFG1", the serial number and the CRC-32 of
the first 8 bytes (little-endian). Both images are planned together: one erase
of the touched sectors, one write pass, one read-back verify, then the leave.]],
  args = { { name = "app" } },
  options = {
    { name = "serial", arg = "N", help = "the board's serial number (required)" },
    { name = "config-at", arg = "ADDR", help = "address of the configuration block (default 0x08100000)" },
  },
  examples = { "dfush --recipes doc/recipes -d sim:stm32h753,boot0=0 release fw.elf --serial 1234" },
  run = function(ctx, p)
    local serial = util.parse_number(p.serial) or util.usage("release: --serial N is required (a number)")
    local at = p.config_at and util.addr_arg(p.config_at, "--config-at") or 0x08100000

    -- Load everything before the device is opened: a bad file exits 2 and touches nothing.
    local path, base = util.split_at(p.app)
    local app, msg, code = dfu.image.load(path, base and { base = base } or nil)
    if not app then util.raise(msg, code == "FORMAT" and "FORMAT" or "USAGE") end  -- exit 2
    local body = string.pack("<c4I4", "CFG1", serial)
    local config = dfu.image.new()
    dfu.check(config:add(at, body .. string.pack("<I4", dfu.image.crc32(body))))

    local dev <close> = ctx:open()
    local report = dfu.check(dev:flash({ app, config }, {
      verify = true, leave = true, progress = ctx.progress,
      log = function(level, text) ctx:log(level, "%s", text) end,
    }))
    ctx:set_result { ok = true, serial = serial, written = report.written,
                     left = report.left and report.left.address, seconds = report.seconds }
    ctx:say("board %d: %s written and verified in %.3f s, application started at %s",
      serial, util.size(report.written), report.seconds, util.hex(report.left.address))
  end,
}
