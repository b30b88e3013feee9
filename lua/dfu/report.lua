-- What a flashing job left on the device, kept while the job runs so that a job that stops
-- half-way can say exactly what the device holds now (design.md 7):
--   erased    sectors erased by this job (0xFF unless written afterwards)
--   written   ranges the device acknowledged (DNLOAD + GETSTATUS OK) or that read back equal
--   verified  ranges read back and found equal to the image
--   unknown   ranges whose content is not known (the sector or block in flight when the
--             device failed, or data that differs from the image)
-- Every list is an array of {address=, size=}, sorted by the order of the job, adjacent and
-- overlapping ranges merged.
local json = require "dfu.json"
local util = require "dfu.util"

local M = {}

--- A new, empty device state (JSON-ready: the lists encode as arrays even when empty).
function M.new(erased)
  return {
    erased = erased or json.array {}, written = json.array {}, verified = json.array {},
    unknown = json.array {},
  }
end

--- Add [address, address+size) to a list, merging with the last range when they touch.
function M.add(list, address, size)
  if not size or size <= 0 then return end
  local last = list[#list]
  if last and address >= last.address and address <= last.address + last.size then
    local stop = math.max(last.address + last.size, address + size)
    last.size = stop - last.address
    return
  end
  list[#list + 1] = { address = address, size = size }
end

--- Total bytes of a list.
function M.bytes(list)
  local n = 0
  for _, r in ipairs(list or {}) do n = n + r.size end
  return n
end

local function ranges_text(list, limit)
  limit = limit or 6
  local parts = {}
  for i, r in ipairs(list) do
    if i > limit then
      parts[#parts + 1] = string.format("... (%d more)", #list - limit)
      break
    end
    parts[#parts + 1] = util.range(r.address, r.size)
  end
  return table.concat(parts, ", ")
end

--- Human lines for a job that stopped: what the device holds now, and an optional last line
--- (what to do next).
function M.describe(state, total)
  local lines = { "on the device now:" }
  local function line(label, list, extra)
    if #list == 0 then
      lines[#lines + 1] = string.format("  %-9s nothing", label)
    else
      lines[#lines + 1] = string.format("  %-9s %s (%d bytes)%s", label, ranges_text(list), M.bytes(list),
        extra or "")
    end
  end
  line("erased", state.erased, #state.erased > 0 and ", 0xFF where not written" or nil)
  line("written", state.written)
  line("verified", state.verified)
  if #state.unknown > 0 then
    line("unknown", state.unknown, ": interrupted or different from the image")
  end
  if total then lines[#lines + 1] = "  " .. total end
  return table.concat(lines, "\n")
end

return M
