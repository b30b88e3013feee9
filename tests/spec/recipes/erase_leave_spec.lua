-- dfush erase and dfush leave against the simulator.
local support = require "recipes.support"
local helper = support.helper

describe("dfush erase / leave", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      it("erase ADDR LEN erases exactly the touched sectors", function()
        local dev, _, events = support.simdev("stm32f405")
        local r = run({ "-d", dev, "--json", "erase", "0x08004000", "80K" })
        assert.are.equal(0, r.code, r.stderr)
        local want = { { address = 0x08004000, size = 0x4000 }, { address = 0x08008000, size = 0x4000 },
                       { address = 0x0800C000, size = 0x4000 }, { address = 0x08010000, size = 0x10000 },
                       { address = 0x08020000, size = 0x20000 } }
        -- 80K from 0x08004000 ends at 0x08017FFF: sectors 1, 2, 3 and the 64K sector 4
        table.remove(want)
        assert.are.same(want, support.erases(support.events_file(events)))
        local out = support.json.decode(r.stdout)
        assert.are.equal(4, #out.erased)
      end)

      it("erase ADDR erases the one sector holding it", function()
        local dev, _, events = support.simdev("stm32h753")
        assert.are.equal(0, run({ "-d", dev, "erase", "0x08030000" }).code)
        assert.are.same({ { address = 0x08020000, size = 0x20000 } }, support.erases(support.events_file(events)))
      end)

      it("erase outside flash exits 2 and erases nothing", function()
        local dev, _, events = support.simdev("stm32h753")
        local r = run({ "-d", dev, "erase", "0x081F0000", "128K" })
        assert.are.equal(2, r.code)
        assert.matches("0x08200000", r.stderr, 1, true)
        assert.are.equal(0, #support.events_file(events, "erase"))
      end)

      it("erase --mass needs --force", function()
        local dev, _, events = support.simdev("stm32h753")
        assert.are.equal(2, run({ "-d", dev, "erase", "--mass" }).code)
        assert.are.equal(0, #support.events_file(events, "erase"))
        local r = run({ "-d", dev, "erase", "--mass", "--force" })
        assert.are.equal(0, r.code, r.stderr)
        assert.is_true(#support.events_file(events, "erase") >= 1)
      end)

      it("leave --leave-mode vector sends the vector table base read from flash", function()
        local dev, _, events = support.simdev("stm32h753", "boot0=0,rom=0x93")
        assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
        local r = run({ "-d", dev, "--json", "leave", "--leave-mode", "vector" })
        assert.are.equal(0, r.code, r.stderr)
        local out = support.json.decode(r.stdout)
        assert.are.equal(0x08000000, out.left.address)
        assert.are.equal("vector", out.left.mode)
        assert.is_false(out.left.came_back)
        local lv = support.events_file(events, "leave")
        assert.are.equal(0x08000000, lv[#lv].address)
        -- SET_ADDRESS precedes the zero-length DNLOAD
        local ctrl = support.events_file(events, "ctrl")
        local zero
        for i = #ctrl, 1, -1 do
          if ctrl[i].req == "DNLOAD" and ctrl[i].len == 0 then zero = i break end
        end
        assert.is_not_nil(zero)
        local prev
        for i = zero - 1, 1, -1 do
          if ctrl[i].req == "DNLOAD" then prev = ctrl[i] break end
        end
        assert.are.same({ 0, 5 }, { prev.wValue, prev.len })
      end)

      it("leave ADDR with --leave-mode entry", function()
        local dev, _, events = support.simdev("stm32h753", "boot0=0,jump=branch")
        assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
        local r = run({ "-d", dev, "leave", "0x0800ba65", "--leave-mode", "entry" })
        assert.are.equal(0, r.code, r.stderr)
        local lv = support.events_file(events, "leave")
        assert.are.equal(0x0800ba65, lv[#lv].address)
        assert.are.equal("app_running", lv[#lv].outcome)
      end)

      it("leave ADDR on an erased device: the bootloader comes back, exit 1 with the cause", function()
        local dev = support.simdev("stm32h753")
        local r = run({ "-d", dev, "leave", "0x0800ba65", "--leave-mode", "entry" })
        assert.are.equal(1, r.code)
        assert.matches("bootloader came back", r.stderr, 1, true)
        assert.matches("BOOT0 is high", r.stderr, 1, true)
      end)
    end)
  end
end)
