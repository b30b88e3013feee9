-- dfu-util 0.11's command line (design.md 8, doc/usage.md "dfu-util"): the options, long and
-- short, parsed the way GNU getopt_long parses them for dfu-util (permutation, bundling,
-- unambiguous abbreviations, glibc's messages), the -d/-S/-s arguments with dfu-util's
-- semantics, C number parsing, the exit statuses (sysexits.h), the help and the banner.
-- No device access here; dfu.dfuutil runs what this module parses.
local M = {}

-- sysexits.h, as dfu-util 0.11 uses them
M.EX = { OK = 0, USAGE = 64, DATAERR = 65, NOINPUT = 66, SOFTWARE = 70, CANTCREAT = 73, IOERR = 74,
         PROTOCOL = 76 }

-- An exit raised by errx(): {exit = status}; dfu.dfuutil.main turns it into the exit status.
M.Exit = { __name = "dfu.dfuutil.Exit" }
M.Exit.__index = M.Exit
M.Exit.__tostring = function(e) return "exit " .. tostring(e.exit) end

function M.is_exit(v)
  return getmetatable(v) == M.Exit
end

--- Leave with status code (the message, if any, is already printed).
function M.exit(code)
  error(setmetatable({ exit = code }, M.Exit), 0)
end

-- ---- C number parsing ----

local function digit_value(c)
  local b = c:byte()
  if b >= 48 and b <= 57 then return b - 48 end
  if b >= 97 and b <= 122 then return b - 87 end
  if b >= 65 and b <= 90 then return b - 55 end
  return 99
end

--- strtoul/strtol of C: leading white space, a sign, base 0 (0x hex, 0 octal, else decimal) or
--- 16 (an optional 0x). Returns the value and the index just after the number (the start index
--- when there are no digits, as C's endptr == nptr).
function M.strtol(s, base)
  local i = 1
  while s:sub(i, i):match("^[ \t\n\v\f\r]$") do i = i + 1 end
  local neg = false
  local c = s:sub(i, i)
  if c == "+" or c == "-" then
    neg = c == "-"
    i = i + 1
  end
  if (base == 0 or base == 16) and s:sub(i, i + 1):lower() == "0x" and s:sub(i + 2, i + 2):match("^%x$") then
    base = 16
    i = i + 2
  elseif base == 0 then
    base = s:sub(i, i) == "0" and 8 or 10
  end
  local v, j = 0, i
  while j <= #s and digit_value(s:sub(j, j)) < base do
    v = v * base + digit_value(s:sub(j, j))
    j = j + 1
  end
  if j == i then return 0, 1 end
  return neg and -v or v, j
end

--- A C unsigned long converted to int (the way dfu-util stores its match values): 32 bits,
--- two's complement.
local function to_int(v)
  v = v & 0xFFFFFFFF
  return v >= 0x80000000 and v - 0x100000000 or v
end
M.to_int = to_int

-- ---- the options ----

local SHORT = "hVvleE:d:p:c:i:a:S:t:U:D:Rs:Z:wn:"

-- name, takes an argument, the option it stands for. --wait takes none: dfu-util 0.11's table
-- declares one (so `--wait --reset` swallows --reset) while -w and its help take none.
local LONG = {
  { "help", false, "h" }, { "version", false, "V" }, { "verbose", false, "v" },
  { "list", false, "l" }, { "detach", false, "e" }, { "detach-delay", true, "E" },
  { "device", true, "d" }, { "path", true, "p" }, { "configuration", true, "c" },
  { "cfg", true, "c" }, { "interface", true, "i" }, { "intf", true, "i" },
  { "altsetting", true, "a" }, { "alt", true, "a" }, { "serial", true, "S" },
  { "transfer-size", true, "t" }, { "upload", true, "U" }, { "upload-size", true, "Z" },
  { "download", true, "D" }, { "reset", false, "R" }, { "dfuse-address", true, "s" },
  { "devnum", true, "n" }, { "wait", false, "w" },
  { "no-verify", false, "no-verify" }, -- dfush: do not read the download back
}

local function short_spec(c)
  local i = SHORT:find(c, 1, true)
  if not i or c == ":" then return nil end
  return { takes = SHORT:sub(i + 1, i + 1) == ":" }
end

-- getopt_long over argv (1-based list): returns the options in order as {opt=, arg=} and the
-- operands; an option getopt refuses ends the list as {err = glibc's message}.
local function getopt(argv, prog)
  local opts, operands = {}, {}
  local function refuse(msg)
    opts[#opts + 1] = { err = msg }
    return opts, operands
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do operands[#operands + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]*)=(.*)$")
      name = name or a:sub(3)
      local found, exact = {}, nil
      for _, l in ipairs(LONG) do
        if l[1] == name then exact = l end
        if l[1]:sub(1, #name) == name then found[#found + 1] = l end
      end
      local l = exact
      if not l and #found > 0 then
        l = found[1]
        for k = 2, #found do
          if found[k][2] ~= l[2] or found[k][3] ~= l[3] then
            local names = {}
            for _, f in ipairs(found) do names[#names + 1] = "'--" .. f[1] .. "'" end
            return refuse(string.format("%s: option '%s' is ambiguous; possibilities: %s", prog,
              a:match("^[^=]*"), table.concat(names, " ")))
          end
        end
      end
      if not l then return refuse(string.format("%s: unrecognized option '%s'", prog, a)) end
      if l[2] then
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then
            return refuse(string.format("%s: option '--%s' requires an argument", prog, l[1]))
          end
        end
      elseif value then
        return refuse(string.format("%s: option '--%s' doesn't allow an argument", prog, l[1]))
      end
      opts[#opts + 1] = { opt = l[3], arg = value }
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local spec = short_spec(c)
        if not spec then return refuse(string.format("%s: invalid option -- '%s'", prog, c)) end
        if spec.takes then
          local value = a:sub(j + 1)
          if value == "" then
            i = i + 1
            value = argv[i]
            if value == nil then
              return refuse(string.format("%s: option requires an argument -- '%s'", prog, c))
            end
          end
          opts[#opts + 1] = { opt = c, arg = value }
          break
        end
        opts[#opts + 1] = { opt = c }
        j = j + 1
      end
    else
      operands[#operands + 1] = a -- GNU getopt moves operands to the end
    end
    i = i + 1
  end
  return opts, operands
end

-- parse_number() of dfu-util: the whole argument a C number (base 0), else a usage error.
local function parse_number(name, s, fail)
  local v, j = M.strtol(s, 0)
  if j <= #s then fail(string.format("Something went wrong with the argument of --%s\n", name)) end
  if j == 1 then fail(string.format("No digits were found from the argument of --%s\n", name)) end
  return to_int(v)
end

-- One vendor or product id of -d: '*' any, '-' none, hex, else the default.
local function match_value(s, default)
  if s == nil then return default end
  if s:sub(1, 1) == "*" then return -1 end
  if s:sub(1, 1) == "-" then return 0x10000 end
  local v, j = M.strtol(s, 16)
  if j == 1 then return default end
  return to_int(v)
end

--- -d [RUNTIME_VID:PID][,DFU_VID:PID] as dfu-util reads it: a run-time match, and a DFU-mode
--- match that defaults to the run-time one when a comma is given and to "any" when not.
function M.parse_device(s)
  local m = { vendor = -1, product = -1, vendor_dfu = -1, product_dfu = -1 }
  local comma = s:find(",", 1, true)
  if comma == 1 then
    m.vendor, m.product = 0x10000, 0x10000 -- DFU mode ids only: no run-time device matches
  else
    local colon = s:find(":", 1, true)
    if colon and comma and colon > comma then colon = nil end
    m.vendor = match_value(s, m.vendor)
    m.product = match_value(colon and s:sub(colon + 1) or nil, m.product)
    if comma then m.vendor_dfu, m.product_dfu = m.vendor, m.product end
  end
  if comma then
    local rest = s:sub(comma + 1)
    local colon = rest:find(":", 1, true)
    m.vendor_dfu = match_value(rest, m.vendor_dfu)
    m.product_dfu = match_value(colon and rest:sub(colon + 1) or nil, m.product_dfu)
  end
  return m
end

--- -S SERIAL[,SERIAL_DFU]: run-time and DFU-mode serial (nil: any).
function M.parse_serial(s)
  local rt, dfu = s:match("^([^,]*),(.*)$")
  if not rt then rt, dfu = s, s end
  return rt ~= "" and rt or nil, dfu ~= "" and dfu or nil
end

--- -s ADDRESS[:LENGTH][:leave][:mass-erase][:unprotect][:will-reset][:force], as dfu-util's
--- dfuse_parse_options reads it (modifiers may be abbreviated). Returns the table or nil and
--- the message of the usage error.
function M.parse_dfuse(s)
  local d = { force = 0 }
  local pos = 1
  if s:sub(1, 1) ~= ":" then
    local stop = s:find(":", 1, true) or #s + 1
    local v, j = M.strtol(s, 0)
    if j ~= stop then return nil, "Invalid dfuse address: " .. s end
    d.address = v & 0xFFFFFFFF
    pos = stop
  end
  local words = { "force", "leave", "unprotect", "mass-erase", "will-reset" }
  while pos <= #s do
    if s:sub(pos, pos) == ":" then
      pos = pos + 1
    else
      local stop = s:find(":", pos, true) or #s + 1
      local word = s:sub(pos, stop - 1)
      local hit
      for _, w in ipairs(words) do
        if w:sub(1, #word) == word then hit = w break end
      end
      if hit == "force" then
        d.force = d.force + 1
      elseif hit then
        d[(hit:gsub("%-", "_"))] = true
      else
        local v, j = M.strtol(word, 0)
        if j ~= #word + 1 then return nil, "Invalid dfuse modifier: " .. s:sub(pos) end
        d.length = v & 0xFFFFFFFF
      end
      pos = stop
    end
  end
  return d
end

-- ---- help and banner ----

M.VERSION = "0.11"

--- The first lines of every run: the dfu-util version this front end follows, and whose code runs.
function M.banner(dfush_version)
  return string.format("dfu-util %s (dfush %s: dfu-util's command line over dfush)\n\n" ..
    "Not the dfu-util program: dfush follows its options, output and exit statuses.\n" ..
    "What it does differently: dfush help dfu-util\n\n", M.VERSION, dfush_version or "?")
end

function M.help(prog)
  return table.concat({
    "Usage: " .. prog .. " [options] ...",
    "  -h --help\t\t\tShow this help and exit",
    "  -V --version\t\t\tShow the version and exit",
    "  -v --verbose\t\t\tMore messages (repeat for more)",
    "  -l --list\t\t\tList the DFU interfaces of the attached devices",
    "  -e --detach\t\t\tSend a run-time device into DFU mode",
    "  -E --detach-delay seconds\tWait this long for the device after detach (default 5)",
    "  -d --device <vendor>:<product>[,<vendor_dfu>:<product_dfu>]",
    "\t\t\t\tMatch run-time and DFU-mode USB ids (hex)",
    "  -n --devnum <dnum>\t\tMatch the USB device number (devnum in --list)",
    "  -p --path <bus-port. ... .port>\tMatch the USB port path",
    "  -c --cfg <config_nr>\t\tMatch the configuration",
    "  -i --intf <intf_nr>\t\tMatch the DFU interface number",
    "  -S --serial <serial_string>[,<serial_string_dfu>]",
    "\t\t\t\tMatch the serial number (run-time, DFU mode)",
    "  -a --alt <alt>\t\tThe alternate setting, by number or by name",
    "  -t --transfer-size <size>\tBytes per USB transfer",
    "  -U --upload <file>\t\tRead from the device into <file> (a new file)",
    "  -Z --upload-size <bytes>\tThe size an upload is expected to have",
    "  -D --download <file>\t\tWrite <file> to the device",
    "  -R --reset\t\t\tReset the USB device at the end",
    "  -w --wait\t\t\tWait until a matching device appears",
    "  -s --dfuse-address address<:...>\tDfuSe: the address of a raw binary download or an",
    "\t\t\t\tupload, then options separated by ':'",
    "\t\tleave\t\tLeave DFU mode and start the application",
    "\t\tmass-erase\tErase the whole flash (needs \"force\")",
    "\t\tunprotect\tRemove read protection, erasing the flash (needs \"force\")",
    "\t\twill-reset\tThe device resets after the download (option bytes)",
    "\t\tforce\t\tAllow the above",
    "\t\t<length>\tUpload this many bytes",
    "  --no-verify\t\t\tdfush: do not read the download back",
    "",
  }, "\n")
end

--- What dfush does differently from dfu-util 0.11 (shown by `dfush help dfu-util`).
M.DIFFERENCES = [[
  - :leave uses dfush's leave policy. The address dfu-util would jump to is where the
    download starts (the -s address, or the first element of a .dfu file). When the image
    has its vector table there, dfush picks the leave the ROM can start (bootloader ID,
    known jump bugs, BOOT0), otherwise it leaves at that address as given. Then it watches
    the bus: if the bootloader comes back, the application did not start, and dfush says
    why and exits 74. Without a file (-s ADDR:leave, or -U with :leave) the application is
    read from the device's flash.
  - A download is read back and compared (dfu-util does not verify); --no-verify turns it
    off. A mismatch exits 74.
  - The whole job is checked before anything is erased: every element of a .dfu file, every
    byte against the alt's layout. dfu-util checks element by element while writing.
  - Only the sectors the image touches are erased, each once; images are padded to the
    flash's program unit; whole 0xFF blocks in freshly erased sectors are not sent.
  - STM32 ROMs are polled at once instead of sleeping the reported bwPollTimeout; a device
    that stalls an early poll is polled after the timeout. Failed blocks are retried.
  - Option-byte and OTP images go through dfush's rules (dfush help flash): an RDP change
    needs `dfush ob set --force`, OTP needs `dfush flash --write-otp`; such a download exits 64.
  - :unprotect:force waits for the device to come back and checks that the flash is erased
    and the read protection is gone.
  - DFU_DETACH is never sent to a DfuSe ROM (ST ROMs stall it): -e on a ROM in DFU mode
    says so and exits 0, -R only resets the bus.
  - --wait takes no argument, as -w and the help say (dfu-util 0.11's long option wants
    one, so `--wait --reset` loses --reset there).
  - -t is accepted and checked, but transfers use the device's wTransferSize.
  - :force does not let a download or upload leave the alt's layout.
  - The banner names dfush; a .hex, .s19 or ELF file is downloaded as raw bytes, as
    dfu-util does, with a warning.
  - The device comes from USB, or from $DFUSH_DEVICE (or dfush -d DEV dfu-util ...), e.g.
    DFUSH_DEVICE=sim:stm32h753: a simulator answers -l, -d, -p and -S with its own ids
    (path "sim:PROFILE", devnum 0).
  - Exit statuses are dfu-util's: 0 ok, 64 usage, 65 bad file, 66 no input file,
    73 output file exists, 74 device or I/O failure (also: verify mismatch, application not
    started), 76 protocol, 130 Ctrl-C.
]]

--- Parse argv (a 1-based list) into the run's settings. err(text) prints on stderr. Returns the
--- settings, or raises an exit (M.exit) after printing what dfu-util prints.
function M.parse(argv, prog, err)
  local o = {
    prog = prog, verbose = 0, detach_delay = 5, path = nil, cfg = -1, intf = -1, alt_index = -1,
    alt_name = nil, devnum = -1, serial = nil, serial_dfu = nil, transfer_size = 0, expected_size = 0,
    final_reset = false, wait = false, verify = true,
    match = { vendor = -1, product = -1, vendor_dfu = -1, product_dfu = -1 },
  }
  local function fail(msg)
    err(prog .. ": " .. msg .. "\n")
    M.exit(M.EX.USAGE)
  end
  local opts, operands = getopt(argv, prog)
  for _, x in ipairs(opts) do
    local c, a = x.opt, x.arg
    if x.err then
      err(x.err .. "\n")
      err(M.help(prog))
      M.exit(M.EX.USAGE)
    elseif c == "h" then
      err(M.help(prog))
      M.exit(M.EX.OK)
    elseif c == "V" then o.mode = "version"
    elseif c == "v" then o.verbose = o.verbose + 1
    elseif c == "l" then o.mode = "list"
    elseif c == "e" then o.mode = "detach"
    elseif c == "E" then o.detach_delay = parse_number("detach-delay", a, fail)
    elseif c == "d" then o.match = M.parse_device(a)
    elseif c == "p" then o.path = a
    elseif c == "c" then o.cfg = parse_number("cfg", a, fail)
    elseif c == "i" then o.intf = parse_number("intf", a, fail)
    elseif c == "a" then
      local v, j = M.strtol(a, 0)
      if j <= #a then
        o.alt_name, o.alt_index = a, -1
      else
        o.alt_index, o.alt_name = to_int(v), nil
      end
    elseif c == "n" then o.devnum = to_int((M.strtol(a, 10)))
    elseif c == "S" then o.serial, o.serial_dfu = M.parse_serial(a)
    elseif c == "t" then o.transfer_size = parse_number("transfer-size", a, fail)
    elseif c == "U" then o.mode, o.file = "upload", a
    elseif c == "Z" then o.expected_size = parse_number("upload-size", a, fail)
    elseif c == "D" then o.mode, o.file = "download", a
    elseif c == "R" then o.final_reset = true
    elseif c == "s" then o.dfuse_options = a
    elseif c == "w" then o.wait = true
    elseif c == "no-verify" then o.verify = false
    end
  end
  if #operands > 0 then
    err(string.format("Error: Unexpected argument: %s\n\n", operands[1]))
    err(M.help(prog))
    M.exit(M.EX.USAGE)
  end
  if o.cfg == 0 then o.cfg = -1 end -- -c 0 (an unconfigured device): any
  return o
end

return M
