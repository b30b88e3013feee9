-- dfush ob: show the option bytes decoded per family, or change fields by read-modify-write.
local dfu = require "dfu"
local ob = require "dfu.ob"
local util = dfu.util

local function field_json(d)
  local fields = {}
  for _, x in ipairs(d.list) do fields[x.name] = x.value end
  local out = {
    family = d.family, address = d.address, size = d.size, raw = d.raw, fields = fields,
    rdp = { value = d.rdp.value, level = d.rdp.level, text = d.rdp.text },
    wrp = dfu.json.array(d.wrp or {}),
  }
  if d.areas then
    out.areas = dfu.json.array {}
    for _, a in ipairs(d.areas) do out.areas[#out.areas + 1] = { name = a.name, address = a.address, size = a.size } end
  end
  return out
end

local function spaced(rawhex)
  return (rawhex:gsub("(%x%x)", "%1 "):gsub(" $", ""))
end

local function show(ctx, d, title)
  ctx:say("%s", title)
  ctx:say("read protection  %s (RDP 0x%02X)", d.rdp.text, d.rdp.value)
  for _, x in ipairs(d.list) do
    ctx:say("  %-16s %-8s %s", x.name, x.text, x.meaning)
  end
  if d.wrp then
    ctx:say("  %-16s %-8s %s", "WRP", #d.wrp > 0 and table.concat(d.wrp, ",") or "none",
      #d.wrp > 0 and "write-protected sectors (by index in the flash layout)" or "no sector write-protected")
  end
  for _, a in ipairs(d.areas or {}) do
    ctx:say("  %s area: %s", a.name, util.range(a.address, a.size))
  end
  for off = 0, #d.raw // 2 - 1, 16 do
    ctx:say("raw +%-3d %s", off, spaced(d.raw:sub(2 * off + 1, 2 * off + 32)))
  end
end

local function diff_lines(ctx, c)
  for _, x in ipairs(c.diff) do
    ctx:log("info", "  %-16s %s -> %s  (%s)", x.name, x.old_text, x.new_text, x.meaning)
  end
  for _, n in ipairs(c.notes) do ctx:log("warn", "%s", n) end
end

return dfu.recipe {
  name = "ob",
  usage = "ob [show] | ob set NAME=VALUE... [--yes] [--force] [--permanently-lock-device]",
  help = [[Show or change the option bytes, decoded by name per family.

"ob" or "ob show" reads the option-byte block and prints every field, the read protection (RDP) level in words, the write-protected sectors and the raw bytes.

"ob set NAME=VALUE..." reads the block, changes only the named fields (every other bit and byte is written back as read), shows the difference and what it does, asks for confirmation (on a terminal; elsewhere pass --yes), writes the whole block, waits for the device to reset and come back, reads the block again and checks it. WRP=LIST sets the write-protected sectors (e.g. WRP=0,1 or WRP=none).

Safety: RDP level 2 (0xCC, or RDP=2) locks the chip for good and is refused unless --permanently-lock-device is given. Turning read protection on (RDP away from level 0) needs --force: removing it again (dfush unprotect) erases the whole flash. Unknown fields and out-of-range values exit 2 and nothing is written.]],
  args = { { name = "action", optional = true }, { name = "assign", many = true, optional = true } },
  options = {
    { name = "yes", short = "y", help = "do not ask for confirmation" },
    { name = "force", help = "allow read protection changes and risky boot settings" },
    { name = "permanently-lock-device", help = "allow RDP level 2: the chip can never be reprogrammed" },
  },
  examples = {
    "dfush -d sim:stm32f405 ob",
    "dfush -d sim:stm32h753 ob show --json",
    "dfush ob set BOR_LEV=1 WDG_SW=1 --yes",
    "dfush ob set WRP=none --yes",
    "dfush ob set RDP=1 --force --yes",
  },
  run = function(ctx, p)
    local action = p.action or "show"
    if action ~= "show" and action ~= "set" then
      if action:find("=", 1, true) then
        util.usage("ob: write 'dfush ob set %s' to change option bytes", action)
      end
      util.usage("ob: unknown action '%s'; use show or set", action)
    end
    if action == "show" and #(p.assign or {}) > 0 then
      util.usage("ob show takes no arguments; to change fields use: dfush ob set %s", p.assign[1])
    end
    if action == "set" and #(p.assign or {}) == 0 then
      util.usage("ob set: give at least one NAME=VALUE")
    end
    local dev <close> = ctx:open()
    if action == "show" then
      local d = ob.read_decoded(dev)
      local out = field_json(d)
      out.ok = true
      ctx:set_result(out)
      local a = ob.find(dev)
      show(ctx, d, string.format("%s option bytes: %d bytes at %s (%s)", d.family, d.size,
        util.hex(d.address), dfu.plan.alt_label(a)))
      return
    end
    local opts = { force = p.force, permanently_lock_device = p.permanently_lock_device,
                   log = function(level, msg) ctx:log(level, "%s", msg) end }
    local c = ob.prepare(dev, p.assign, opts)
    if c.old == c.new then
      ctx:set_result { ok = true, written = false, changed = dfu.json.array {}, after = field_json(c.before) }
      ctx:say("nothing to change: the option bytes already hold these values")
      return
    end
    ctx:log("info", "%s option bytes, changes:", c.codec.name)
    diff_lines(ctx, c)
    ctx:log("info", "the whole %d-byte block is written; the device then resets and re-enumerates",
      c.codec.size)
    if not p.yes then
      if not ob.stdin_is_tty() then
        util.usage("ob set: not asking for confirmation without a terminal; pass --yes to write " ..
          "(nothing was written)")
      end
      if not ob.ask(ctx.stderr, "write these option bytes?") then
        util.raise("cancelled; nothing was written", "CANCELLED")
      end
    end
    local changed = dfu.json.array {}
    for _, x in ipairs(c.diff) do changed[#changed + 1] = { field = x.name, old = x.old, new = x.new } end
    local ok, rep = pcall(ob.apply, dev, c, opts)
    if not ok then
      local err = rep
      if util.is_error(err) and err.report then
        local r = err.report
        ctx:set_result { ok = false, sent = r.sent, written = r.written, reset = r.reset, verified = false,
          state = r.state, changed = changed, after = r.after and field_json(r.after) or dfu.json.null }
        if r.after then show(ctx, r.after, "option bytes found on the device now:") end
      end
      error(err, 0)
    end
    ctx:set_result { ok = true, sent = true, written = rep.written, reset = rep.reset, verified = rep.verified,
      state = rep.state, changed = changed, notes = dfu.json.array(c.notes),
      after = rep.after and field_json(rep.after) or dfu.json.null, seconds = rep.seconds }
    if rep.verified then
      ctx:say("option bytes written%s and verified: the device holds the new values",
        rep.reset and ", device reset and re-enumerated," or "")
      show(ctx, rep.after, "now:")
    else
      ctx:say("option bytes written; %s; the device did not come back (expected with RDP level 2)",
        rep.state)
    end
  end,
}
