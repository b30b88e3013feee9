-- dfush image info|convert: inspect and convert image files (no device).
local dfu = require "dfu"
local util = dfu.util

local function load(ctx, arg)
  local img, path, base = util.load_image(arg)
  ctx:check_base(path, base, img)
  return img, path
end

local function segs_json(img)
  local out = dfu.json.array {}
  for _, s in ipairs(img:segments()) do
    out[#out + 1] = { address = s.address, size = s.size, crc32 = s.crc32 }
  end
  return out
end

local function info(ctx, img, path)
  local targets = img:targets() or {}
  local out = { format = img:format() or dfu.json.null, entry = img:entry() or dfu.json.null,
                segments = segs_json(img) }
  if #targets > 0 then out.targets = dfu.json.array {} end
  for _, t in ipairs(targets) do
    out.targets[#out.targets + 1] = { alt = t.alt, name = t.name, segments = segs_json(t.image) }
  end
  ctx:set_result(out)
  ctx:say("%s: %s, %s%s", path, img:format() or "?", util.size(img:size()),
    img:entry() and (", entry " .. util.hex(img:entry())) or "")
  local function show(im, indent)
    for _, s in ipairs(im:segments()) do
      ctx:say("%s%s  %8d bytes  crc32 %08x", indent, util.range(s.address, s.size), s.size, s.crc32)
    end
  end
  if #targets > 0 then
    for _, t in ipairs(targets) do
      ctx:say("  target alt %d \"%s\"", t.alt, t.name or "")
      show(t.image, "    ")
    end
  else
    show(img, "  ")
  end
  local sfx = img:suffix()
  if sfx then ctx:say("  DFU suffix: %04x:%04x bcdDevice %04x", sfx.vid, sfx.pid, sfx.bcd_device or 0) end
end

return dfu.recipe {
  name = "image",
  device = false, -- no device: -d does not apply
  usage = "image info FILE[@ADDR] | image convert IN[@ADDR] OUT",
  help = [[Inspect or convert image files; no device is used.

image info prints the format, entry point and segments (address, size, CRC-32); with --json the object is {"format","entry","segments":[{"address","size","crc32"}],"targets":[...]}.
image convert writes OUT in the format of its extension: .bin .hex .s19 .dfu.]],
  args = { { name = "action" }, { name = "files", many = true } },
  options = {
    { name = "vid", arg = "VID", help = "convert to .dfu: the USB vendor ID in the DFU suffix (hex; default 0483)" },
    { name = "pid", arg = "PID", help = "convert to .dfu: the USB product ID in the DFU suffix (hex; default df11)" },
  },
  examples = {
    "dfush image info tests/fixtures/h7_seed.elf --json",
    "dfush image convert app.bin@0x08000000 app.hex",
    "dfush image convert app.elf app.dfu --vid 0x0483 --pid 0xdf11",
  },
  run = function(ctx, p)
    if p.action == "info" then
      if #p.files ~= 1 then util.usage("usage: dfush image info FILE[@ADDR]") end
      local img, path = load(ctx, p.files[1])
      info(ctx, img, path)
    elseif p.action == "convert" then
      if #p.files ~= 2 then util.usage("usage: dfush image convert IN[@ADDR] OUT") end
      local opts
      if p.vid or p.pid then
        if not p.files[2]:lower():match("%.dfu$") then
          util.usage("image convert: --vid and --pid go into a DfuSe file's suffix; OUT must end in .dfu")
        end
        local function id(v, what)
          local n = v and tonumber((v:gsub("^0[xX]", "")), 16)
          if v and not (n and n >= 0 and n <= 0xFFFF and v:match("^%s*0?[xX]?%x+%s*$")) then
            util.usage("image convert: %s '%s' is not a 16-bit hex ID", what, v)
          end
          return n
        end
        opts = { vid = id(p.vid, "--vid") or 0x0483, pid = id(p.pid, "--pid") or 0xdf11 }
      end
      local img, path = load(ctx, p.files[1])
      local ok, msg, code = img:save(p.files[2], opts)
      if not ok then util.raise(string.format("cannot write %s: %s", p.files[2], msg), code == "IO" and "ERROR" or "USAGE") end
      if msg then ctx:log("warn", "%s", msg) end
      ctx:set_result { ok = true, input = path, output = p.files[2], size = img:size() }
      ctx:say("%s -> %s (%s)", path, p.files[2], util.size(img:size()))
    else
      util.usage("image: unknown action '%s' (use info or convert)", tostring(p.action))
    end
  end,
}
