-- dfu-util 0.11's command line over dfush (design.md 8, doc/usage.md "dfu-util"): `dfush
-- dfu-util ARGS`, or the host invoked as dfu-util / dfush-dfu-util. The devices are found and
-- matched, listed and opened the way dfu-util does it, with its messages on stdout, its
-- warnings on stderr and its exit statuses; the work itself is dfush's: the flash job
-- (dfu.flash: plan, erase, write, verify), the leave policy (dfu.leave) and the option-byte
-- rules (dfu.ob). `dfush help dfu-util` lists where the two differ.
local dfu = require "dfu"
local opts_mod = require "dfu.dfuutil_opts"
local file_mod = require "dfu.dfuutil_file"

local util = dfu.util
local EX = opts_mod.EX

local M = {}

-- bStatus descriptions (DFU 1.1, 6.1.2), as dfu-util prints them
local STATUS_TEXT = {
  [0] = "No error condition is present",
  "File is not targeted for use by this device",
  "File is for this device but fails some vendor-specific test",
  "Device is unable to write memory",
  "Memory erase function failed",
  "Memory erase check failed",
  "Program memory function failed",
  "Programmed memory failed verification",
  "Cannot program memory due to received address that is out of range",
  "Received DFU_DNLOAD with wLength = 0, but device does not think that it has all data yet",
  "Device's firmware is corrupt. It cannot return to run-time (non-DFU) operations",
  "iString indicates a vendor specific error",
  "Device detected unexpected USB reset signalling",
  "Device detected unexpected power on reset",
  "Something went wrong, but the device does not know what it was",
  "Device stalled an unexpected request",
}

local function status_text(s)
  return STATUS_TEXT[s] or "INVALID"
end

-- exit status of a dfu.Error raised by the library
local EXIT_OF = {
  USAGE = EX.USAGE, RANGE = EX.USAGE, INVALID = EX.USAGE, FORMAT = EX.DATAERR, INTERRUPTED = 130,
}

-- dfu-util prints iInterface and serial strings as ASCII, each other character as '?'
local function ascii(s)
  if s == nil or s == "" then return "UNKNOWN" end
  return (s:gsub("[\xC0-\xFF][\x80-\xBF]*", "?"):gsub("[\x80-\xBF]", "?"))
end

-- A USB device's number and configuration value from sysfs (Linux), for -l and -n.
local function sysfs(path, name)
  local f = io.open("/sys/bus/usb/devices/" .. path .. "/" .. name, "r")
  if not f then return nil end
  local v = tonumber((f:read("l") or ""):match("%d+"))
  f:close()
  return v
end

-- ---- a run ----

local Run = {}
Run.__index = Run

function Run:say(fmt, ...)
  self.stdout:write(select("#", ...) > 0 and string.format(fmt, ...) or fmt)
  self.stdout:flush()
end

function Run:warnx(fmt, ...)
  self.stdout:flush()
  self.stderr:write(self.prog, ": ", select("#", ...) > 0 and string.format(fmt, ...) or fmt, "\n")
end

function Run:errx(code, fmt, ...)
  self:warnx(fmt, ...)
  opts_mod.exit(code)
end

-- the library's log lines: warnings always, the rest with -v
function Run:log(level, msg)
  if level == "warn" or level == "error" then
    self:warnx("%s", msg)
  elseif self.o.verbose > 0 then
    self:say("%s\n", msg)
  end
end

-- ---- finding the devices ----

-- One line of -l, and the unit dfu-util matches: an alt setting of a DFU interface.
local function entry(info, alt, name, dev, devnum, cfg)
  return {
    vid = info.vid, pid = info.pid, bcd = info.bcd_device, devnum = devnum or 0, cfg = cfg or 1,
    intf = info.intf, path = info.path, alt = alt, name = name, serial = info.serial,
    dfu_mode = info.protocol ~= 1, info = info, dev = dev,
  }
end

-- every DFU interface alt setting on the bus or of $DFUSH_DEVICE, in the order they are found
function Run:enumerate()
  local out = {}
  local devstr = self.devstr
  if devstr:match("^sim:") then
    local dev, msg = dfu.open(devstr)
    if not dev then
      self:warnx("Cannot open DFU device %s (%s)", devstr, tostring(msg))
      return out
    end
    self.devices[#self.devices + 1] = dev
    local info = dev:info()
    for _, a in ipairs(dev:alts()) do out[#out + 1] = entry(info, a.alt, a.name, dev, 0, 1) end
    return out
  end
  local list, msg = dfu.core.list(devstr)
  if not list then self:errx(EX.IOERR, "unable to initialize libusb: %s", tostring(msg)) end
  for _, info in ipairs(list) do
    local devnum = sysfs(info.path, "devnum") or 0
    local cfg = sysfs(info.path, "bConfigurationValue") or 1
    if info.protocol == 2 then
      local dev, omsg = dfu.open(string.format("usb:%04x:%04x,path=%s", info.vid, info.pid, info.path))
      if dev then
        self.devices[#self.devices + 1] = dev
        for _, a in ipairs(dev:alts()) do out[#out + 1] = entry(info, a.alt, a.name, dev, devnum, cfg) end
      else
        self:warnx("Cannot open DFU device %04x:%04x found on devnum %d (%s)", info.vid, info.pid, devnum,
          tostring(omsg))
      end
    else
      out[#out + 1] = entry(info, info.alt, info.alt_name, nil, devnum, cfg)
    end
  end
  return out
end

-- dfu-util's matching (-d, -p, -c, -i, -a, -n, -S), and its order: the last found first
function Run:probe()
  local o, m = self.o, self.o.match
  local out = {}
  for _, e in ipairs(self:enumerate()) do
    local keep = not (o.path and o.path ~= e.path)
      and not (o.cfg > -1 and o.cfg ~= e.cfg)
      and not (o.intf > -1 and o.intf ~= e.intf)
      and not (e.dfu_mode and o.alt_index > -1 and o.alt_index ~= e.alt)
    if keep and e.dfu_mode then
      keep = not ((m.vendor_dfu >= 0 and m.vendor_dfu ~= e.vid) or (m.product_dfu >= 0 and m.product_dfu ~= e.pid))
    elseif keep then
      keep = not ((m.vendor >= 0 and m.vendor ~= e.vid) or (m.product >= 0 and m.product ~= e.pid))
    end
    keep = keep and not (o.devnum >= 0 and o.devnum ~= e.devnum)
    keep = keep and not (e.dfu_mode and o.alt_name and o.alt_name ~= ascii(e.name))
    if keep then
      local want = e.dfu_mode and o.serial_dfu or (not e.dfu_mode and o.serial)
      keep = not (want and want ~= ascii(e.serial))
    end
    if keep then table.insert(out, 1, e) end
  end
  return out
end

-- close every device but keep
function Run:close_others(keep)
  local left = {}
  for _, d in ipairs(self.devices) do
    if d == keep then left[#left + 1] = d else pcall(d.close, d) end
  end
  self.devices = left
end

function Run:list(entries)
  for _, e in ipairs(entries) do
    self:say("Found %s: [%04x:%04x] ver=%04x, devnum=%d, cfg=%d, intf=%d, path=\"%s\", alt=%d, name=\"%s\", " ..
      "serial=\"%s\"\n", e.dfu_mode and "DFU" or "Runtime", e.vid, e.pid, e.bcd, e.devnum, e.cfg, e.intf, e.path,
      e.alt, ascii(e.name), ascii(e.serial))
  end
end

-- all entries are alt settings of one interface of one device (dfu-util's dfuse_multiple_alt)
local function one_interface(entries)
  for _, e in ipairs(entries) do
    if e.path ~= entries[1].path or e.intf ~= entries[1].intf or e.cfg ~= entries[1].cfg then return false end
  end
  return true
end

-- ---- the device's state ----

function Run:status_line(st)
  self:say("DFU state(%d) = %s, status(%d) = %s\n", st.state, st.state_name or "?", st.status,
    status_text(st.status))
end

-- A run-time device: DFU_DETACH, the bus reset unless the device detaches itself, and (unless
-- -e) the DFU-mode device that appears. Returns the new root entry, or nil when done (-e).
function Run:detach_runtime(root)
  local o = self.o
  local dev, msg = dfu.open(string.format("usb:%04x:%04x,path=%s", root.vid, root.pid, root.path))
  if not dev then self:errx(EX.IOERR, "Cannot open device: %s", tostring(msg)) end
  self.devices[#self.devices + 1] = dev
  self:say("Claiming USB DFU (Run-Time) Interface...\n")
  self:say("Setting Alternate Interface zero...\n")
  self:say("Determining device status...\n")
  local st, smsg, scode = dev:getstatus()
  if not st and scode == "PIPE" then
    self:say("Device does not implement get_status, assuming appIDLE\n")
    st = { state = 0, state_name = "appIDLE", status = 0 }
  elseif not st then
    self:errx(EX.IOERR, "error get_status: %s", tostring(smsg))
  else
    self:status_line(st)
  end
  if st.state == 0 or st.state == 1 then
    self:say("Device really in Run-Time Mode, send DFU detach request...\n")
    if not dev:detach(1000) then self:warnx("error detaching") end
    if (root.info.attributes or 0) & 0x08 ~= 0 then
      self:say("Device will detach and reattach...\n")
    else
      self:say("Resetting USB...\n")
      local ok, rmsg, rcode = dev:bus_reset()
      if not ok and rcode ~= "NO_DEVICE" then
        self:errx(EX.IOERR, "error resetting after detach: %s", tostring(rmsg))
      end
    end
  else
    if st.state == 10 then
      self:say("dfuERROR, clearing status\n")
      if not dev:clrstatus() then self:errx(EX.IOERR, "error clear_status") end
    end
    self:warnx("WARNING: Device already in DFU mode? (bState=%d %s)", st.state, st.state_name or "?")
    root.dev, root.dfu_mode = dev, true
    return root
  end
  self:close_others(nil)
  if o.mode == "detach" then return nil end
  util.check(dfu.core.sleep(o.detach_delay * 1000))
  -- only DFU-mode devices from now on
  o.match.vendor, o.match.product = 0x10000, 0x10000
  local entries = self:probe()
  if #entries == 0 then self:errx(EX.IOERR, "Lost device after RESET?") end
  if #entries > 1 and not one_interface(entries) then
    self:errx(EX.IOERR, "More than one DFU capable USB device found! Try `--list' and specify the serial " ..
      "number or disconnect all but one device")
  end
  self:say("Opening DFU USB Device...\n")
  entries[1].runtime = { vid = root.vid, pid = root.pid }
  self.entries = entries
  return entries[1]
end

-- dfu-util's way into dfuIDLE: clear an error, abort a transfer, refuse a run-time device
function Run:reach_idle(dev)
  while true do
    self:say("Determining device status...\n")
    local st, msg = dev:getstatus()
    if not st then self:errx(EX.IOERR, "error get_status: %s", tostring(msg)) end
    self:status_line(st)
    if st.state == 0 or st.state == 1 then
      self:errx(EX.PROTOCOL, "Device still in Run-Time Mode!")
    elseif st.state == 10 then
      self:say("Clearing status\n")
      if not dev:clrstatus() then self:errx(EX.IOERR, "error clear_status") end
    elseif st.state == 5 or st.state == 9 then
      self:say("Aborting previous incomplete transfer\n")
      if not dev:abort() then self:errx(EX.IOERR, "can't send DFU_ABORT") end
    else
      if st.status ~= 0 then
        self:say("WARNING: DFU Status: '%s'\n", status_text(st.status))
        if not dev:clrstatus() then self:errx(EX.IOERR, "USB communication error") end
        local st2 = dev:getstatus()
        if not st2 then self:errx(EX.IOERR, "USB communication error") end
        if st2.status ~= 0 then self:errx(EX.PROTOCOL, "Status is not OK: %d", st2.status) end
      end
      return st
    end
  end
end

-- ---- DfuSe ----

local function alt_of(dev, n)
  for _, a in ipairs(dev:alts()) do
    if a.alt == n then return a end
  end
end

-- the N*SIZE run of a layout holding addr (dfu-util's memory segment)
local function segment(layout, addr)
  for _, r in ipairs(layout and layout.runs or {}) do
    if addr >= r.address and addr < r.address + r.count * r.size then return r end
  end
end

-- the alt setting whose layout is the flash (the leave policy reads the application there)
local function flash_layout(dev)
  for _, a in ipairs(dev:alts()) do
    if a.layout and a.layout.name:lower():find("flash", 1, true) then return a.layout end
  end
end

function Run:progress()
  local bar = self.bar
  local names = { erase = "Erase   ", write = "Download", verify = "Verify  ", download = "Download",
                  read = "Upload" }
  return function(phase, done, total)
    bar(names[phase] or phase, done, total)
  end
end

-- Say how the leave went; raise when the application did not start.
function Run:left(left)
  if left.answered then self:say("Transitioning to dfuMANIFEST state\n") end
  if left.reason then self:say("Leave: %s\n", left.reason) end
  if left.came_back then
    util.raise(string.format("the application did not start: the bootloader came back after the leave at %s " ..
      "(mode %s): %s\nnext: %s", util.hex(left.address), left.mode, left.cause, left.next), "NOT_STARTED",
      { address = left.address })
  end
  self:say("Left DFU at 0x%08X (%s): the bootloader did not come back within %.2f s; the application runs\n",
    left.address, left.mode, (left.wait_ms or 0) / 1000)
end

-- :leave with no image written: the application in the flash, through the leave policy when
-- its vector table is at the address (or no address was given), else the address as given
function Run:leave_device(dev, address)
  local fam = dev:family()
  local log = function(level, msg) self:log(level, msg) end
  self:say("Submitting leave request...\n")
  local mode_addr = address
  if address then
    local app = dfu.leave.from_device(dev, fam, flash_layout(dev), nil)
    if app.base == address then mode_addr = nil end
  end
  local ok, left = pcall(dfu.leave.leave, dev, { mode = "auto", address = mode_addr, fam = fam, log = log })
  if not ok then
    if util.is_error(left) then left.code = left.code == "INTERRUPTED" and left.code or "LEAVE" end
    error(left, 0)
  end
  self:left(left)
end

-- The flash job for images ({{path=, image=}...}) through dfu.flash, with dfu-util's progress
-- bars; leave_at: where dfu-util would leave (nil: no :leave).
function Run:job(dev, images, opts, leave_at)
  local fam = dev:family()
  local log = function(level, msg) self:log(level, msg) end
  local plan = dfu.flash.plan(dev, images, { alt = opts.alt, full = opts.full, consume = true })
  plan.unit = dfu.flash.unit(dev, fam)
  -- the image's own vector table at the download's start: the leave policy chooses from the
  -- image; else dfu-util's address, judged by what the flash holds after the job
  local auto = leave_at and dfu.leave.from_plan(plan, fam).base == leave_at
  if auto then dfu.leave.choose("auto", plan, { family = fam, log = log }) end
  local report = dfu.flash.execute(dev, plan, {
    verify = self.o.verify, full = opts.full, progress = self:progress(), log = log, consume = true,
  }, fam)
  if leave_at and not auto then
    self.after_job = function()
      util.check(dev:abort_to_idle())
      self:leave_device(dev, leave_at)
    end
  elseif auto then
    self.after_job = function()
      self:say("Submitting leave request...\n")
      local ok, left = pcall(dfu.leave.after_flash, dev, plan, fam,
        { leave_mode = "auto", leave = true, log = log }, report)
      if not ok then
        if util.is_error(left) and left.code ~= "INTERRUPTED" then left.code = "LEAVE" end
        error(left, 0)
      end
      self:left(left)
    end
  end
  return report
end

-- the alt's layout must hold the last byte (dfu-util's first check), unless :force
function Run:check_writable(layout, addr, size, force)
  if force > 0 then return end
  local r = segment(layout, addr + size - 1)
  if not (r and r.writable) then self:errx(EX.USAGE, "Last page at 0x%08x is not writeable", addr + size - 1) end
end

function Run:warn_format(file, data)
  local fmt = dfu.image.detect(data)
  local names = { ihex = "an Intel HEX", srec = "an S-record", elf = "an ELF" }
  if names[fmt] then
    self:warnx("%s is %s file; it is downloaded as raw bytes, as dfu-util does (dfush flash reads it by " ..
      "its addresses)", file.name, names[fmt])
  end
end

function Run:dfuse_download(root, file, d)
  local dev, entries = root.dev, self.entries
  for _, e in ipairs(entries) do
    local a = alt_of(dev, e.alt)
    if not (a and a.layout) then
      self:errx(EX.IOERR, "Failed to parse memory layout for alternate interface %d", e.alt)
    end
    self:say("DfuSe interface name: \"%s\"\n", (e.name or ""):match("^@([^/]*)") or a.layout.name)
  end
  if d.unprotect then
    if d.force == 0 then
      self:errx(EX.USAGE, "The read unprotect command will erase the flash memory and can only be used with force\n")
    end
    self:say("Device disconnects, erases flash and resets now\n")
    local rep = require("dfu.ob").unprotect(dev, { log = function(level, msg) self:log(level, msg) end })
    self:say("Read protection removed: %s; the flash reads back erased\n", rep.after and rep.after.text or "level 0")
    return
  end
  local full = false
  if d.mass_erase then
    if d.force == 0 then self:errx(EX.USAGE, "The mass erase command can only be used with force") end
    self:say("Performing mass erase, this can take a moment\n")
    if not file.name then
      util.check(dev:abort_to_idle())
      local ok, msg, code = dev:mass_erase()
      if not ok then util.raise("MASS_ERASE not correctly executed: " .. tostring(msg), code) end
    end
    full = true
  end
  local leave_at
  if not file.name then
    self:say("DfuSe command mode\n")
  elseif d.address then
    if file.bcd_dfu == 0x011A then self:errx(EX.USAGE, "This is a DfuSe file, not meant for raw download") end
    local data = file_mod.payload(file)
    self:warn_format(file, data)
    self:say("Downloading element to address = 0x%08x, size = %d\n", d.address, #data)
    if #data > 0 then
      self:check_writable(alt_of(dev, root.alt).layout, d.address, #data, d.force)
      local img = dfu.image.new()
      util.check(img:add(d.address, data))
      self:job(dev, { { path = file.name, image = img } }, { alt = root.alt, full = full }, d.leave and d.address)
    end
    self:say("File downloaded successfully\n")
  else
    if file.bcd_dfu ~= 0x011A then
      self:warnx("Only DfuSe file version 1.1a is supported")
      self:errx(EX.USAGE, "(for raw binary download, use the --dfuse-address option)")
    end
    leave_at = self:dfuse_file(dev, entries, file, d, full)
  end
  if self.after_job then
    self.after_job()
  elseif d.leave then
    util.check(dev:abort_to_idle())
    self:leave_device(dev, d.address or leave_at)
  end
end

-- a .dfu file: dfu-util's parse messages, then one job for the targets of matched alt settings
function Run:dfuse_file(dev, entries, file, d, full)
  local fail = function(code, fmt, ...) self:errx(code, fmt, ...) end
  local parsed = file_mod.parse_dfuse(file, fail)
  self:say("File contains %d DFU images\n", #parsed.targets)
  local targets, by_alt, first = {}, {}, nil
  for i, t in ipairs(parsed.targets) do
    self:say("Parsing DFU image %d\n", i)
    if t.named then self:say("Target name: %s\n", t.name) else self:say("No target name\n") end
    self:say("Image for alternate setting %d, (%d elements, total size = %d)\n", t.alt, t.count, t.size)
    local matched
    for _, e in ipairs(entries) do
      if e.alt == t.alt then matched = e end
    end
    if matched then
      self:say("Setting Alternate Interface #%d ...\n", t.alt)
    else
      self:warnx("No alternate setting %d (skipping elements)", t.alt)
    end
    for j, el in ipairs(t.elements) do
      self:say("Parsing element %d, address = 0x%08x, size = %d\n", j, el.address, el.size)
      first = first or el.address
      if matched and el.size > 0 then
        self:check_writable(alt_of(dev, t.alt).layout, el.address, el.size, d.force)
        local tg = by_alt[t.alt]
        if not tg then
          tg = { alt = t.alt, name = t.name, image = dfu.image.new() }
          by_alt[t.alt] = tg
          targets[#targets + 1] = tg
        end
        util.check(tg.image:add(el.address, el.data))
      end
    end
  end
  if parsed.leftover ~= 0 then self:warnx("%d bytes leftover", parsed.leftover) end
  if #targets > 0 then
    -- the targets as one image with a target per alt setting (what dfu.plan takes from a .dfu)
    local container = { targets = function() return targets end }
    self:job(dev, { { path = file.name, image = container } }, { full = full }, d.leave and first)
  end
  self:say("Done parsing DfuSe file\n")
  return first
end

function Run:dfuse_upload(root, fh, d)
  local dev, limit = root.dev, d.length or 0
  local xfer = dfu.flash.transfer_size(dev)
  local parts, total = {}, 0
  local bar = self.bar
  if d.address then
    local a = alt_of(dev, root.alt)
    if not (a and a.layout) then self:errx(EX.IOERR, "Failed to parse memory layout") end
    local r = segment(a.layout, d.address)
    if d.force == 0 and not (r and r.readable) then
      self:errx(EX.USAGE, "Page at 0x%08x is not readable", d.address)
    end
    if limit == 0 then
      if r then
        limit = r.address + r.count * r.size - d.address
        self:say("Limiting upload to end of memory segment, %d bytes\n", limit)
      else
        limit = 0x4000
        self:say("Limiting upload to %d bytes\n", limit)
      end
    end
    bar("Upload", 0, 1)
    while total < limit do
      local n = math.min(xfer * dfu.flash.CHUNK_BLOCKS, limit - total)
      local data = util.check(dfu.flash.read(dev, d.address + total, n))
      parts[#parts + 1] = data
      total = total + #data
      if #data < n then break end
      if total < limit then bar("Upload", total, limit) end
    end
  else
    if limit == 0 then
      self:warnx("Unbound upload not supported on DfuSe devices")
      limit = 0x4000
    end
    self:say("Limiting default upload to %d bytes\n", limit)
    bar("Upload", 0, 1)
    util.check(dev:abort_to_idle())
    local block = 2
    while total < limit do
      local n = math.min(xfer, limit - total)
      local data = util.check(dev:upload(block, n))
      block = block + 1
      parts[#parts + 1] = data
      total = total + #data
      if #data < n or total >= limit then break end
      bar("Upload", total, limit)
    end
  end
  bar("Upload", total, total)
  fh:write(table.concat(parts))
  util.check(dev:abort_to_idle())
  if d.leave then self:leave_device(dev, d.address) end
end

-- ---- plain DFU 1.1 ----

function Run:plain_download(root, file)
  local dev = root.dev
  self:say("Copying data from PC to DFU device\n")
  local data = file.data:sub(1, #file.data - file.suffix)
  self.bar("Download", 0, 1)
  if #data > 0 then
    local img = dfu.image.new()
    util.check(img:add(0, data))
    local report = dfu.flash.run_plain(dev, { { path = file.name, image = img } },
      { verify = self.o.verify, progress = self:progress() })
    if report.verified then self:say("Verified by upload: the device holds the %d bytes sent\n", #data) end
  end
  self:say("Done!\n")
end

function Run:plain_upload(root, fh)
  local dev, o = root.dev, self.o
  local xfer = dfu.flash.transfer_size(dev)
  self:say("Copying data from DFU device to PC\n")
  local total, block, failed = 0, 0, false
  while true do
    self.bar("Upload", total, o.expected_size)
    local data, msg = dev:upload(block, xfer)
    block = block + 1
    if not data then
      self:warnx("\nError during upload (%s)", tostring(msg))
      failed = true
      break
    end
    fh:write(data)
    total = total + #data
    if #data < xfer then break end
  end
  if failed then
    self.bar("Upload", total, o.expected_size)
    self:say("\n")
  else
    self.bar("Upload", total, total)
  end
  if total == 0 then self:say("\nFailed.\n") else self:say("Received a total of %d bytes\n", total) end
  if o.expected_size ~= 0 and total ~= o.expected_size then
    self:warnx("Unexpected number of bytes uploaded from device")
  end
  if failed then opts_mod.exit(EX.IOERR) end
end

-- ---- the run ----

function Run:select(file)
  local o = self.o
  while true do
    local entries = self:probe()
    if o.mode == "list" then
      self:list(entries)
      return nil
    end
    if #entries > 0 then
      if file.bcd_dfu == 0x011A and one_interface(entries) then
        self:say("Multiple alternate interfaces for DfuSe file\n")
      elseif #entries > 1 then
        self:errx(EX.IOERR, "More than one DFU capable USB device found! Try `--list' and specify the serial " ..
          "number or disconnect all but one device\n")
      end
      self.entries = entries
      return entries[1]
    end
    if not o.wait then
      self:warnx("No DFU capable USB device available")
      opts_mod.exit(EX.IOERR)
    end
    self:close_others(nil)
    util.check(dfu.core.sleep(20))
  end
end

function Run:go(argv)
  local err = function(s) self.stdout:flush() self.stderr:write(s) end
  local o = opts_mod.parse(argv, self.prog, err)
  self.o = o
  self.bar = file_mod.progress_bar(function(s) self:say("%s", s) end)
  self:say("%s", opts_mod.banner(dfu.version))
  if o.mode == "version" then return EX.OK end
  if o.verbose > 0 then self:say("dfush %s; devices from %s\n", dfu.version, self.devstr) end
  if not o.mode and not o.dfuse_options then
    err("You need to specify one of -D or -U\n")
    err(opts_mod.help(self.prog))
    return EX.USAGE
  end
  local file = { vid = 0xFFFF, pid = 0xFFFF, bcd_dfu = 0, prefix = 0, suffix = 0 }
  if o.mode == "download" then
    file = file_mod.load(o.file, o.verbose, function(...) self:say(...) end, function(...) self:warnx(...) end,
      function(code, ...) self:errx(code, ...) end)
    if o.match.vendor < 0 and file.vid ~= 0xFFFF then
      o.match.vendor = file.vid
      self:say("Match vendor ID from file: %04x\n", file.vid)
    end
    if o.match.product < 0 and file.pid ~= 0xFFFF then
      o.match.product = file.pid
      self:say("Match product ID from file: %04x\n", file.pid)
    end
  elseif not o.mode then
    o.mode = "download" -- DfuSe commands only (-s ...:leave, :mass-erase, :unprotect)
  end
  if o.wait then self:say("Waiting for device, exit with ctrl-C\n") end
  local root = self:select(file)
  if not root then return EX.OK end
  self:say("Opening DFU capable USB device...\n")
  self:say("Device ID %04x:%04x\n", root.vid, root.pid)
  self:say("%s DFU version %04x\n", root.intf > 0 and "Run-Time device" or "Device", root.info.bcd_dfu or 0)
  if o.verbose > 0 then
    local at = root.info.attributes or 0
    self:say("DFU attributes: (0x%02x)%s%s%s%s\n", at, at & 1 ~= 0 and " bitCanDnload" or "",
      at & 2 ~= 0 and " bitCanUpload" or "", at & 4 ~= 0 and " bitManifestationTolerant" or "",
      at & 8 ~= 0 and " bitWillDetach" or "")
    self:say("Detach timeout %d ms\n", root.info.detach_timeout or 0)
  end
  local runtime = { vid = o.match.vendor < 0 and root.vid or o.match.vendor,
                    pid = o.match.product < 0 and root.pid or o.match.product }
  if not root.dfu_mode then
    runtime = { vid = root.vid, pid = root.pid }
    root = self:detach_runtime(root)
    if not root then return EX.OK end
  end
  self:close_others(root.dev)
  local dev = root.dev
  self:say("Claiming USB DFU Interface...\n")
  self:say("Setting Alternate Interface #%d ...\n", root.alt)
  local ok, amsg = dev:set_alt(root.alt)
  if not ok then self:errx(EX.IOERR, "Cannot set alternate interface: %s", tostring(amsg)) end
  self:reach_idle(dev)
  local info = dev:info()
  self:say("DFU mode device DFU version %04x\n", info.bcd_dfu or 0)
  local dfuse = info.bcd_dfu == 0x011A
  if not dfuse and o.dfuse_options then self:say("Warning: DfuSe option used on non-DfuSe device\n") end
  local xfer = info.transfer_size or 0
  if xfer > 0 then
    self:say("Device returned transfer size %d\n", xfer)
    if o.transfer_size > 0 and o.transfer_size ~= xfer then
      self:warnx("-t %d: dfush transfers in the device's wTransferSize, %d bytes", o.transfer_size, xfer)
    end
  elseif o.transfer_size == 0 then
    self:errx(EX.USAGE, "Transfer size must be specified")
  end
  local d
  if o.dfuse_options then
    local msg
    d, msg = opts_mod.parse_dfuse(o.dfuse_options)
    if not d then self:errx(EX.USAGE, "%s", msg) end
  elseif dfuse then
    d = { force = 0 }
  end
  local ret = EX.OK
  if o.mode == "upload" then
    local exists = io.open(o.file, "rb")
    if exists then
      exists:close()
      self:warnx("Cannot open file %s for writing: File exists", o.file)
      return EX.CANTCREAT
    end
    local fh, fmsg = io.open(o.file, "wb")
    if not fh then
      self:warnx("Cannot open file %s for writing: %s", o.file, (tostring(fmsg):gsub("^.-: ", "")))
      return EX.CANTCREAT
    end
    local okc, e = pcall(function()
      if d then self:dfuse_upload(root, fh, d) else self:plain_upload(root, fh) end
    end)
    fh:close()
    if not okc then error(e, 0) end
  elseif o.mode == "download" then
    if ((file.vid ~= 0xFFFF and file.vid ~= runtime.vid) or (file.pid ~= 0xFFFF and file.pid ~= runtime.pid)) and
        ((file.vid ~= 0xFFFF and file.vid ~= root.vid) or (file.pid ~= 0xFFFF and file.pid ~= root.pid)) then
      self:errx(EX.USAGE, "Error: File ID %04x:%04x does not match device (%04x:%04x or %04x:%04x)", file.vid,
        file.pid, runtime.vid, runtime.pid, root.vid, root.pid)
    end
    if d or file.bcd_dfu == 0x011A then
      self:dfuse_download(root, file, d or { force = 0 })
    else
      self:plain_download(root, file)
    end
  elseif o.mode == "detach" then
    if dfuse then
      self:warnx("%04x:%04x is a DfuSe ROM in DFU mode: DFU_DETACH is not sent (the ROM stalls it); " ..
        "leave DFU with -s ADDRESS:leave", root.vid, root.pid)
    elseif not dev:detach(1000) then
      self:warnx("can't detach")
    end
  end
  if o.final_reset then
    if not dfuse and o.mode ~= "detach" and not dev:detach(1000) then self:warnx("can't detach") end
    self:say("Resetting USB to switch back to Run-Time mode\n")
    local okr, rmsg, rcode = dev:bus_reset()
    if not okr and rcode ~= "NO_DEVICE" then
      self:warnx("error resetting after download: %s", tostring(rmsg))
      ret = EX.IOERR
    end
  end
  return ret
end

local function basename(p)
  return (tostring(p or ""):match("([^/]*)$"))
end

--- Run dfu-util's command line. argv: the arguments (argv[0], if present, names the program);
--- env: {stdout=, stderr=, device= (the device string; default $DFUSH_DEVICE, else usb),
--- prog= (the name in messages)}. Returns the exit status.
function M.main(argv, env)
  env = env or {}
  local list = {}
  for i = 1, #(argv or {}) do list[i] = argv[i] end
  local dev_env = os.getenv("DFUSH_DEVICE")
  local run = setmetatable({
    stdout = env.stdout or io.stdout, stderr = env.stderr or io.stderr,
    prog = env.prog or (argv and argv[0] and basename(argv[0])) or "dfu-util",
    devstr = env.device or (dev_env ~= "" and dev_env) or "usb",
    devices = {}, o = { verbose = 0 },
  }, Run)
  local ok, res = xpcall(function() return run:go(list) end, function(e)
    if opts_mod.is_exit(e) or util.is_error(e) then return e end
    if util.is_interrupt(e) then return util.error_new("interrupted (Ctrl-C)", "INTERRUPTED") end
    return debug.traceback(tostring(e), 2)
  end)
  run:close_others(nil)
  run.stdout:flush()
  if ok then return res or EX.OK end
  if opts_mod.is_exit(res) then return res.exit end
  if util.is_error(res) then
    run:warnx("%s", res.msg)
    return EXIT_OF[res.code] or EX.IOERR
  end
  run:warnx("internal error: %s", tostring(res))
  return EX.SOFTWARE
end

return M
