-- The families of issue 13, one loop over the simulator profiles: for each, `info --json`
-- names the family (not "generic DfuSe"), its program unit and its alts; flash of an
-- application plus --leave with BOOT0 low ends with the application running in the event log;
-- `ob show --json` decodes the fields at RDP level 0; `ob set RDP=0xCC` is refused without
-- --permanently-lock-device and nothing reaches the option bytes.
-- The expectations are written down from doc/families.md, not read from the descriptors.
local support = require "recipes.support"
local helper = support.helper
local images = require "families.images"

local PROFILES = {
  { "stm32f072", family = "STM32F07x", unit = 4, id = 0xA1,
    alts = { "@Internal Flash  /0x08000000/064*0002Kg", "@Option Bytes  /0x1FFFF800/01*016 e" } },
  { "stm32f411", family = "STM32F401/F411", unit = 4, id = 0xD0,
    alts = { "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg", "@Option Bytes  /0x1FFFC000/01*016 e",
             "@OTP Memory /0x1FFF7800/01*512 e,01*016 e", "@Device Feature/0xFFFF0000/01*004 e" } },
  { "stm32f767", family = "STM32F76x/77x", unit = 8, id = 0x93,
    alts = { "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg", "@Option Bytes  /0x1FFF0000/01*032 e",
             "@OTP Memory /0x1FF0F000/01*1056 e", "@Device Feature/0xFFFF0000/01*004 e" } },
  { "stm32g0b1", family = "STM32G0B1/G0C1", unit = 8, id = 0x92,
    alts = { "@Internal Flash   /0x08000000/256*02Kg", "@Option Bytes   /0x1FFF7800/01*128 e",
             "@OTP Memory   /0x1FFF7000/01*1024 e" },
    reported = { nil, "@Internal Flash   /0x08000000/256*02Kg", "@Internal Flash   /0x08000000/256*02Kg" } },
  { "stm32g474", family = "STM32G47x/48x", unit = 8, id = 0xD5,
    alts = { "@Internal Flash   /0x08000000/256*02Kg", "@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e",
             "@OTP Memory   /0x1FFF7000/01*1024 e" } },
  { "stm32l476", family = "STM32L47x/48x", unit = 8, id = 0x92,
    alts = { "@Internal Flash  /0x08000000/0512*0002Kg", "@Option Bytes  /0x1FFF7800/01*040 e/0x1FFFF800/01*040 e",
             "@OTP Memory /0x1FFF7000/01*0001Ke", "@Device Feature/0xFFFF0000/01*004 e" } },
  { "stm32h7a3", family = "STM32H7A3/B3/B0", unit = 16, id = 0x92,
    alts = { "@Internal Flash   /0x08000000/256*08Kg", "@Option Bytes   /0x5200201C/01*297 e",
             "@OTP Memory   /0x08FFF000/01*1024 e" } },
  { "stm32u585", family = "STM32U575/585", unit = 16, id = 0x93,
    alts = { "@Internal Flash   /0x08000000/256*08Kg", "@Option Bytes   /0x40022040/01*64 e",
             "@OTP Memory   /0x0BFA0000/01*512 e" } },
  { "stm32c071", family = "STM32C071", unit = 8, id = 0xD1,
    alts = { "@Internal Flash   /0x08000000/64*02Kg", "@Option Bytes   /0x1FFF7800/01*128 e",
             "@OTP Memory   /0x1FFF7000/01*1024 e" } },
  { "gd32vf103", family = "GD32VF103", unit = 4,
    alts = { "@Internal Flash  /0x08000000/128*001Kg", "@Option Bytes  /0x1FFFF800/01*016 g" },
    reported = { "@Internal Flash  /0x08000000/512*002Kg" } },
}

describe("families (issue 13)", function()
  after_each(helper.cleanup)

  it("dfush list shows every profile", function()
    local r = support.cli({ "list" })
    assert.are.equal(0, r.code, r.stderr)
    for _, p in ipairs(PROFILES) do
      assert.matches("sim:" .. p[1], r.stdout, 1, true)
    end
  end)

  for _, p in ipairs(PROFILES) do
    local name = p[1]
    describe(name, function()
      it("info --json reports the family, its program unit, its alts and the bootloader ID", function()
        local r = support.cli({ "-d", "sim:" .. name, "--json", "info" })
        assert.are.equal(0, r.code, r.stderr)
        local out = assert(support.json.decode(r.stdout))
        assert.are.equal(p.family, out.family)
        assert.are.equal(p.unit, out.program_unit)
        assert.are.equal(#p.alts, #out.alts)
        for i, a in ipairs(out.alts) do
          assert.are.equal(i - 1, a.alt)
          assert.are.equal(p.alts[i], a.name)
          assert.are.equal(p.reported and p.reported[i], a.reported)
          assert.is_table(a.layout)
        end
        if p.id then
          assert.are.equal(p.id, out.bootloader_id)
        else
          assert.are.equal(support.json.null, out.bootloader_id)
        end
      end)

      it("flash --leave with BOOT0 low ends with the application running", function()
        local img = images.app(name)
        local path = helper.tmpname(".hex")
        assert(img:save(path))
        local dev, _, events = support.simdev(name, "boot0=0")
        local r = support.cli({ "-d", dev, "--json", "flash", path, "--leave" })
        assert.are.equal(0, r.code, r.stderr)
        local out = assert(support.json.decode(r.stdout))
        assert.is_true(out.ok)
        assert.is_true(out.verified)
        local leaves = support.events_file(events, "leave")
        assert.is_true(#leaves >= 1)
        assert.are.equal("app_running", leaves[#leaves].outcome)
        assert.are.equal(out.left.address, leaves[#leaves].address)
      end)

      it("ob show --json decodes the option bytes at RDP level 0", function()
        local r = support.cli({ "-d", "sim:" .. name, "--json", "ob", "show" })
        assert.are.equal(0, r.code, r.stderr)
        local out = assert(support.json.decode(r.stdout))
        assert.are.equal(0, out.rdp.level)
        local n = 0
        for _ in pairs(out.fields) do n = n + 1 end
        assert.is_true(n >= 4, "decoded fields")
      end)

      it("ob set RDP=0xCC is refused without --permanently-lock-device", function()
        local dev, _, events = support.simdev(name)
        local r = support.cli({ "-d", dev, "ob", "set", "RDP=0xCC", "--force", "--yes" })
        assert.are.equal(2, r.code)
        assert.matches("--permanently-lock-device", r.stderr, 1, true)
        assert.are.equal(0, #support.events_file(events, "ob_write"))
      end)
    end)
  end
end)
