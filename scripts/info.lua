-- dfush info: descriptors, alt settings with parsed layouts, DFU state/status, bootloader ID.
local dfu = require "dfu"
local util = dfu.util

local function layout_json(l)
  if not l then return dfu.json.null end
  local runs = dfu.json.array {}
  for _, r in ipairs(l.runs) do
    runs[#runs + 1] = { address = r.address, count = r.count, size = r.size,
                        readable = r.readable, erasable = r.erasable, writable = r.writable }
  end
  return { name = l.name, runs = runs, total = l.total }
end

local function type_letters(r)
  return (r.readable and "r" or "-") .. (r.erasable and "e" or "-") .. (r.writable and "w" or "-")
end

return dfu.recipe {
  name = "info",
  runtime_ok = true, -- shows a device in run-time mode too
  usage = "info",
  help = [[Show the device: descriptors, layouts, DFU state, bootloader ID.

Prints the USB and DFU functional descriptors, every alt setting with its parsed memory layout (sector ranges, r=readable e=erasable w=writable), the DFU state and status, and on STM32 ROMs the family, the flash program unit and the bootloader ID byte read from system memory, with the ROM's known bugs.]],
  examples = { "dfush -d sim:stm32h753 info", "dfush -d sim:stm32f405 info --json" },
  run = function(ctx)
    local dev <close> = ctx:open()
    local info = dev:info()
    local alts = dev:alts()
    local st, smsg = dev:getstatus()
    local fam = dfu.family.of(dev)
    local rom_id
    if fam.id_address then
      dev:abort_to_idle() -- a ROM that enumerates in dfuERROR takes no request before this
      local b = dev:read(fam.id_address, 1)
      if b and #b == 1 then rom_id = b:byte() end
      dev:abort_to_idle()
    end
    local out = {
      device = ctx:devstr(), backend = info.backend,
      vid = info.vid, pid = info.pid, bcd_device = info.bcd_device, bcd_dfu = info.bcd_dfu,
      dfuse = info.dfuse, transfer_size = info.transfer_size, detach_timeout = info.detach_timeout,
      attributes = info.attributes, serial = info.serial, product = info.product, path = info.path,
      interface = info.intf, alt = dev:alt(), alts = dfu.json.array {},
      state = st and st.state_name or dfu.json.null, status = st and st.status_name or dfu.json.null,
      family = fam.name, program_unit = fam.program_unit,
      bootloader_id = rom_id or dfu.json.null,
      known_bug = dfu.family.bug_summary(fam, rom_id) or dfu.json.null,
    }
    for _, a in ipairs(alts) do
      out.alts[#out.alts + 1] = { alt = a.alt, name = a.name, layout = layout_json(a.layout),
                                  reported = a.reported }
    end
    ctx:set_result(out)
    ctx:say("%s  %04x:%04x  bcdDevice %04x  %s%s", ctx:devstr(), info.vid, info.pid, info.bcd_device or 0,
      info.product or "", info.serial and info.serial ~= "" and ("  serial " .. info.serial) or "")
    ctx:say("DFU      %s (bcdDFU %04x), wTransferSize %d, detach %d ms, attributes 0x%02X",
      info.dfuse and "DfuSe" or "DFU 1.1", info.bcd_dfu or 0, info.transfer_size or 0,
      info.detach_timeout or 0, info.attributes or 0)
    ctx:say("state    %s", st and string.format("%s, status %s", st.state_name, st.status_name)
      or ("unknown: " .. tostring(smsg)))
    ctx:say("family   %s, program unit %d bytes", fam.name, fam.program_unit or 0)
    if rom_id then
      -- 0xFF is an erased byte, not a version (early STM32L4 ROMs report it)
      ctx:say("ROM      bootloader ID 0x%02X (%s)%s", rom_id,
        rom_id == 0xFF and "no version" or string.format("V%d.%d", rom_id >> 4, rom_id & 15),
        dfu.family.bug_summary(fam, rom_id) and ("; known issue: " .. dfu.family.bug_summary(fam, rom_id)) or "")
    end
    for _, a in ipairs(alts) do
      ctx:say("alt %d    %s", a.alt, a.name)
      if a.reported then
        ctx:say("           (the ROM reports \"%s\"; corrected by the family descriptor)", a.reported)
      end
      if a.layout then
        for _, r in ipairs(a.layout.runs) do
          ctx:say("           %s  %d x %s  %s", util.range(r.address, r.count * r.size), r.count,
            util.size(r.size), type_letters(r))
        end
      end
    end
  end,
}
