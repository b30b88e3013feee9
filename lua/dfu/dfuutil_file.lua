-- Files as dfu-util 0.11 reads them (doc/usage.md "dfu-util"): a download file with an optional
-- DFU suffix (CRC, ids, bcdDFU 0x011A for DfuSe files) and an optional TI Stellaris or NXP LPC
-- prefix; the DfuSe .dfu container, parsed whole before anything is sent; and dfu-util's
-- progress bar. The messages and exit statuses are dfu-util's.
local image = require "dfu.image"
local opts_mod = require "dfu.dfuutil_opts"

local M = {}
local EX = opts_mod.EX

local SUFFIX_LENGTH = 16
local LMDFU_PREFIX_LENGTH = 8
local LPCDFU_PREFIX_LENGTH = 16

--- The DFU suffix CRC of data: CRC-32 without the final inversion (the register dfu-util keeps).
function M.suffix_crc(data)
  return ~image.crc32(data) & 0xFFFFFFFF
end

--- data with a DFU suffix appended (ids 0xFFFF: any device), as dfu-suffix -a writes it.
function M.add_suffix(data, vid, pid, bcd_device, bcd_dfu)
  local body = data .. string.pack("<I2I2I2I2", bcd_device or 0xFFFF, pid or 0xFFFF, vid or 0xFFFF,
    bcd_dfu or 0x0100) .. "UFD" .. string.char(SUFFIX_LENGTH)
  return body .. string.pack("<I4", M.suffix_crc(body))
end

-- the suffix fields, or nil and why there is none
local function read_suffix(file, fail)
  local d = file.data
  if #d < SUFFIX_LENGTH then return nil, "File too short for DFU suffix" end
  local sfx = d:sub(-SUFFIX_LENGTH)
  local crc = M.suffix_crc(d:sub(1, -5))
  if sfx:sub(9, 11) ~= "UFD" then return nil, "Invalid DFU suffix signature" end
  if string.unpack("<I4", sfx, 13) ~= crc then return nil, "DFU suffix CRC does not match" end
  local bcd_device, pid, vid, bcd_dfu = string.unpack("<I2I2I2I2", sfx)
  local len = sfx:byte(12)
  if len < SUFFIX_LENGTH then fail(EX.DATAERR, "Unsupported DFU suffix length %d", len) end
  if len > #d then fail(EX.DATAERR, "Invalid DFU suffix length %d", len) end
  file.bcd_dfu, file.vid, file.pid, file.bcd_device, file.suffix = bcd_dfu, vid, pid, bcd_device, len
  return true
end

-- the prefix dfu-util recognises: TI Stellaris (lmdfu) or NXP LPC (unencrypted)
local function probe_prefix(file)
  local d = file.data
  if #d < LMDFU_PREFIX_LENGTH then return end
  local b0, b1 = d:byte(1), d:byte(2)
  if b0 == 0x01 and b1 == 0x00 then
    local payload = string.unpack("<I4", d, 5)
    if payload ~= #d - LMDFU_PREFIX_LENGTH - file.suffix then return end
    file.prefix, file.prefix_type = LMDFU_PREFIX_LENGTH, "lmdfu"
    file.lmdfu_address = 1024 * string.unpack("<I2", d, 3)
  elseif b0 & 0x3F == 0x1A and b1 & 0x3F == 0x3F then
    file.prefix, file.prefix_type = LPCDFU_PREFIX_LENGTH, "lpc"
  end
  if file.prefix + file.suffix > #d then file.prefix, file.prefix_type = 0, nil end
end

--- Load a download file ("-" reads stdin). say(fmt, ...) prints on stdout, warnx(fmt, ...) a
--- warning, fail(status, fmt, ...) an error and leaves. Returns {name, data, prefix, suffix,
--- bcd_dfu, vid, pid, bcd_device} (ids 0xFFFF when there is no suffix).
function M.load(name, verbose, say, warnx, fail)
  local file = { name = name, prefix = 0, suffix = 0, bcd_dfu = 0, vid = 0xFFFF, pid = 0xFFFF,
                 bcd_device = 0xFFFF }
  if name == "-" then
    file.data = io.stdin:read("a") or ""
    if verbose > 0 then say("Read %d bytes from stdin\n", #file.data) end
  else
    local f, msg = io.open(name, "rb")
    if not f then
      fail(EX.NOINPUT, "Could not open file %s for reading: %s", name, (tostring(msg):gsub("^.-: ", "")))
    end
    local data, rmsg = f:read("a")
    f:close()
    if not data then
      fail(EX.IOERR, "Could only read 0 bytes from %s: %s", name, (tostring(rmsg):gsub("^.-: ", "")))
    end
    file.data = data
  end
  local ok, reason = read_suffix(file, fail)
  if ok then
    if verbose > 0 then say("DFU suffix version %x\n", file.bcd_dfu) end
  else
    warnx("Warning: %s", reason)
    warnx("A valid DFU suffix will be required in a future dfu-util release")
  end
  probe_prefix(file)
  if file.prefix > 0 and verbose > 0 then
    if file.prefix_type == "lmdfu" then
      say("Possible TI Stellaris DFU prefix with the following properties\nAddress:        0x%08x\n" ..
        "Payload length: %d\n", file.lmdfu_address, string.unpack("<I4", file.data, 5))
    else
      say("Possible unencrypted NXP LPC DFU prefix with the following properties\n" ..
        "Payload length: %d kiByte\n", (file.data:byte(3) >> 1) | (file.data:byte(4) << 7))
    end
  end
  return file
end

--- The payload: the file without prefix and suffix (what a DfuSe raw download writes).
function M.payload(file)
  return file.data:sub(file.prefix + 1, #file.data - file.suffix)
end

--- Parse the DfuSe container of a file (UM0391): returns {targets = {{alt=, name=, size=,
--- elements = {{address=, data=}...}}...}, leftover = bytes}. Raises through fail() with
--- dfu-util's messages (65 for a bad file, 66 for a truncated one).
function M.parse_dfuse(file, fail)
  local data = file.data:sub(file.prefix + 1, #file.data - file.suffix)
  local pos, rem = 1, #data
  local function take(n)
    if n > rem then fail(EX.NOINPUT, "Corrupt DfuSe file: Cannot read %d bytes from %d bytes", n, rem) end
    local s = data:sub(pos, pos + n - 1)
    pos, rem = pos + n, rem - n
    return s
  end
  if rem < 11 + 274 + 8 then fail(EX.DATAERR, "File too small for a DfuSe file") end
  local prefix = take(11)
  if prefix:sub(1, 5) ~= "DfuSe" then fail(EX.DATAERR, "No valid DfuSe signature") end
  if prefix:byte(6) ~= 0x01 then fail(EX.DATAERR, "DFU format revision %d not supported", prefix:byte(6)) end
  local out = { targets = {} }
  for _ = 1, prefix:byte(11) do
    local tp = take(274)
    if tp:sub(1, 6) ~= "Target" then fail(EX.DATAERR, "No valid target signature") end
    local t = { alt = tp:byte(7), named = tp:byte(8) ~= 0, elements = {} }
    t.name = tp:sub(12, 266):match("^[^%z]*")
    t.size, t.count = string.unpack("<I4I4", tp, 267)
    for _ = 1, t.count do
      local address, size = string.unpack("<I4I4", take(8))
      if size > rem then fail(EX.DATAERR, "File too small for element size") end
      t.elements[#t.elements + 1] = { address = address, size = size, data = take(size) }
    end
    out.targets[#out.targets + 1] = t
  end
  out.leftover = rem
  return out
end

--- dfu-util's progress bar on write(s): "\rDESC\t[=====    ]  40%        1024 bytes", redrawn
--- when the bar or the second changes, and "\nDESC done.\n" when full.
function M.progress_bar(write, clock)
  local width = 25
  local last_progress, last_time
  clock = clock or os.time
  return function(desc, curr, max)
    local now = clock()
    if max < curr then max = curr + 1 end
    if max == 0 and curr == 0 then max = 1 end
    local progress = math.min(width, width * curr // max)
    if progress == last_progress and now == last_time then return end
    last_progress, last_time = progress, now
    write(string.format("\r%s\t[%s%s] %3d%% %12d bytes", desc, string.rep("=", progress),
      string.rep(" ", width - progress), 100 * curr // max, curr))
    if progress == width then write(string.format("\n%s done.\n", desc)) end
  end
end

return M
