-- dfush flash: plan the whole job, erase the touched sectors once, write, verify, leave.
local dfu = require "dfu"
local util = dfu.util

-- Load every file, once. A raw binary without @ADDR is only an error for DfuSe devices (a
-- plain DFU 1.1 device takes the blob as it is), so that error waits until the device is known.
local function load_images(ctx, files)
  local list, unplaced = {}, {}
  for _, f in ipairs(files) do
    local img, path, base, placed = util.load_image(f, { unplaced = true, need_data = true })
    ctx:check_base(path, base, img)
    if not placed then unplaced[#unplaced + 1] = path end
    list[#list + 1] = { path = path, image = img }
  end
  return list, unplaced
end

-- The --json object (design.md 3), also for a job that stopped half-way (ok = false).
local function result_of(report, plan)
  return {
    ok = report.ok, erased = report.erased, written = report.written, skipped = report.skipped,
    verified = report.verified,
    left = report.left and { address = report.left.address, mode = report.left.mode,
                             predicted = report.left.predicted, prediction = report.left.prediction }
      or dfu.json.null,
    seconds = report.seconds, bytes = plan.bytes, retries = report.retries,
    warnings = report.warnings, device_state = report.device_state,
    sectors = report.sectors, kept = report.kept, dry_run = report.dry_run,
    option_bytes = report.option_bytes and {
      state = report.option_bytes.state, verified = report.option_bytes.verified,
      changed = report.option_bytes.changed, reset = report.option_bytes.reset,
    } or nil,
  }
end

local ACTIONS = { skipped = "unchanged", programmed = "programmed without an erase", erased = "erased and written" }

-- The per-sector decisions of the compare step (dfu.diff), one line each kind.
local function sector_lines(ctx, report)
  if not report.sectors or #report.sectors == 0 then return end
  for _, kind in ipairs({ "skipped", "programmed", report.dry_run and "erased" or nil }) do
    local t = {}
    for _, s in ipairs(report.sectors) do
      if s.action == kind then t[#t + 1] = util.range(s.address, s.size) end
    end
    if #t > 0 then ctx:say("%-8s %d sector(s) %s: %s", kind == "skipped" and "same" or kind:sub(1, 8), #t,
      ACTIONS[kind], table.concat(t, ", ")) end
  end
  if (report.kept or 0) > 0 then
    ctx:say("kept     %s outside the image in erased sectors (written back)", util.size(report.kept))
  end
end

local function summary(ctx, report, plan)
  if report.dry_run then
    ctx:say("dry run: nothing was erased or written")
    sector_lines(ctx, report)
    return
  end
  sector_lines(ctx, report)
  local sectors = {}
  for _, e in ipairs(report.erased) do
    sectors[#sectors + 1] = util.range(e.address, e.size)
  end
  if report.mass_erase then
    ctx:say("erased   whole flash (mass erase, nothing kept): %s", table.concat(sectors, ", "))
  else
    ctx:say("erased   %s", #sectors > 0 and (#sectors .. " sector(s): " .. table.concat(sectors, ", ")) or "nothing")
  end
  ctx:say("written  %s (%d bytes; %d bytes of 0xFF left to the erase)", util.size(report.written),
    report.written, report.skipped)
  ctx:say("verified %s", report.verified and "yes, read back equals the image" or "no (--no-verify)")
  local ob = report.option_bytes
  if ob then
    local t = {}
    for _, d in ipairs(ob.changed or {}) do t[#t + 1] = d.name .. "=" .. d.new_text end
    ctx:say("options  %s%s", #t > 0 and table.concat(t, " ") or ob.state,
      ob.verified and " (written, the device reset, read back equal)" or "")
  end
  local rate = report.seconds > 0 and (util.size(plan.bytes / report.seconds) .. "/s") or "-"
  ctx:say("time     %.3f s (%s)", report.seconds, rate)
  if report.left then
    ctx:say("left     DFU at %s (mode %s)%s", util.hex(report.left.address), report.left.mode,
      report.left.answered and "" or "; the device dropped off the bus as expected")
    if report.left.predicted == "fail" then
      ctx:say("         unconfirmed: the application is predicted not to start (%s); accepted with --force",
        report.left.prediction)
    end
  end
end

return dfu.recipe {
  name = "flash",
  usage = "flash FILE[@ADDR]... [--alt A] [--no-verify] [--full] [--leave[=ADDR]] [--leave-mode MODE] " ..
    "[--no-diff] [--erase-unwritten] [--dry-run] [--force] [--permanently-lock-device] [--write-otp]",
  help = [[Program images into the device's memory and verify them.

The whole job is planned before the device is touched: every file is loaded (ELF, Intel HEX, S-record, DfuSe .dfu, raw binary; a .bin needs @ADDR), every byte must lie in a writable sector of the alt setting, data is padded with 0xFF to the flash program unit, and only the sectors the image touches are erased, each once. Then the data is written in streamed blocks, read back and compared, and with --leave the device starts the application. A bad file or an image that does not fit exits with status 2 and nothing is erased.

Before it erases anything, flash reads every sector the image touches and compares (--no-diff turns this off): a sector that already holds the image is left alone (the comparison is its verify), a sector that only gains data where it reads 0xFF is programmed without an erase where the chip allows it, and any other sector is erased and written. Bytes such a sector held outside the image (calibration, a config block) are written back, unless --erase-unwritten; --full (a mass erase) keeps nothing. When every sector needs an erase and nothing is kept, a mass erase is used where the family says it is faster. --dry-run prints what each sector would get and changes nothing.

Blocks of 0xFF that lie in freshly erased sectors are not sent ("skipped"): the erase already left those bytes at 0xFF, and the read-back verify still checks them.

Images for other alt settings get the same rules as the commands made for them. Data for the option bytes (a .dfu target, --alt, or alt= in the device string) is merged into the block the device holds now, decoded and checked exactly as by dfush ob set: the changed fields are shown, RDP level 2 is refused without --permanently-lock-device and a change of the read protection level without --force; the block is written after the flash, and the device's reset and the re-read follow. One-time programmable memory is written only with --write-otp, and only where its bytes are still 0xFF. --full applies to the flash alt only.]],
  args = { { name = "file", many = true } },
  options = {
    { name = "alt", arg = "A", help = "alt setting by number or name prefix (default: the device string's, else 0)" },
    { name = "no-verify", help = "do not read the data back" },
    { name = "full", help = "mass-erase the whole flash instead of the touched sectors" },
    { name = "leave", arg = "ADDR", optional = true, help = "leave DFU and start the application" },
    { name = "leave-mode", arg = "MODE", choices = { "auto", "vector", "entry", "reset" },
      help = "auto (default), vector, entry or reset: how to pick the leave address " ..
        "(see: dfush help leave)" },
    { name = "force", help = "allow an option-byte image that changes the read protection level " ..
      "(as dfush ob set --force); accept a leave that dfush predicts will not start the application " ..
      "(exit 0 instead of 1)" },
    { name = "permanently-lock-device", help = "allow an option-byte image that sets read " ..
      "protection level 2, which locks the chip for good" },
    { name = "write-otp", help = "allow writing one-time programmable (OTP) memory" },
    { name = "no-diff", help = "erase and write every touched sector without reading it first" },
    { name = "erase-unwritten", help = "do not keep the bytes of touched sectors outside the image" },
    { name = "dry-run", help = "print what each sector would get, and change nothing" },
  },
  examples = {
    "dfush -d sim:stm32h753 flash tests/fixtures/h7_seed.elf",
    "dfush flash app.bin@0x08000000 --leave",
    "dfush flash fw.hex --full --json",
    "dfush flash bootloader.dfu   # each DfuSe target goes to its alt setting",
  },
  run = function(ctx, p)
    local images, unplaced = load_images(ctx, p.file)
    local leave = p.leave
    if type(leave) == "string" then leave = util.addr_arg(leave, "--leave") end
    if p.leave_mode and not leave then leave = true end
    local dev <close> = ctx:open()
    local opts = {
      alt = p.alt, verify = not p.no_verify, full = p.full, leave = leave, leave_mode = p.leave_mode,
      progress = ctx.progress, log = function(level, msg) ctx:log(level, "%s", msg) end,
      force = p.force, permanently_lock_device = p.permanently_lock_device, write_otp = p.write_otp,
      leave_arg = "--leave", hold_interrupts = true, consume = true, -- the images are this command's own: padded in place
      diff = not p.no_diff, erase_unwritten = p.erase_unwritten, dry_run = p.dry_run,
    }
    if not dev:info().dfuse then
      local report = dfu.flash.run_plain(dev, images, opts)
      ctx:set_result { ok = true, erased = report.erased, written = report.written, skipped = 0,
                       verified = report.verified, left = dfu.json.null, seconds = report.seconds }
      ctx:say("downloaded %s in %.3f s%s", util.size(report.written), report.seconds,
        report.verified and ", verified by upload" or "")
      return
    end
    if #unplaced > 0 then
      util.raise(string.format("%s: raw binary needs a base address (FILE@ADDR, e.g. @0x08000000)", unplaced[1]),
        "USAGE", { file = unplaced[1] })
    end
    local plan, fam = dfu.flash.plan(dev, images, opts)
    plan.unit = dfu.flash.unit(dev, fam)
    local nerase, main = 0, plan.parts[1]
    for _, part in ipairs(plan.parts) do
      nerase = nerase + #part.erase
      if part.alt == plan.flash_alt then main = part end
    end
    ctx:log("info", "%s: %s to %s, program unit %d bytes, %s", fam.name, util.size(plan.bytes),
      main.label, plan.unit, plan.full and "mass erase" or string.format("%d sector(s) to erase", nerase))
    local ok, report = pcall(dfu.flash.execute, dev, plan, opts, fam)
    if not ok then
      local err = report
      if dfu.util.is_error(err) and err.report and not err.refused then
        ctx:set_result(result_of(err.report, plan))
        ctx:log("error", "stopped during %s; erased %d sector(s), wrote %d bytes",
          err.phase or "the job", #err.report.erased, err.report.written)
      end
      error(err, 0)
    end
    ctx:set_result(result_of(report, plan))
    if report.left and report.left.predicted == "fail" and not p.force then
      util.raise(dfu.leave.predicted_message(report.left, "flashed and verified; "), "PREDICTED_FAIL",
        { address = report.left.address })
    end
    summary(ctx, report, plan)
  end,
}
