-- Issue 6 "Done when" and the leave warnings, through the command line (in-process and the
-- built binary), against the simulator's event log.
local support = require "recipes.support"
local helper = support.helper
local images = require "leave.images"

local SEED_ENTRY = 0x0800BA65
local F4_ENTRY = 0x08000091

local function last_leave(events)
  local lv = support.events_file(events, "leave")
  return lv[#lv], lv
end

-- Index of the first stderr line containing s (plain), or nil.
local function line_of(text, s)
  local i = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    i = i + 1
    if line:find(s, 1, true) then return i end
  end
  return nil
end

describe("leave (CLI)", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      for _, jump in ipairs({ "vector", "branch" }) do
        it("H753 boot0=0 jump=" .. jump .. ": flash h7_seed.elf --leave runs the application at 0x0800BA65",
          function()
            local dev, _, events = support.simdev("stm32h753", "boot0=0,jump=" .. jump)
            local r = run({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf"), "--leave" })
            assert.are.equal(0, r.code, r.stderr)
            local ev = last_leave(events)
            assert.are.equal("app_running", ev.outcome)
            assert.are.equal(SEED_ENTRY, ev.pc)
            local out = support.json.decode(r.stdout)
            assert.is_true(out.ok)
            assert.are.equal(ev.address, out.left.address)
            -- the one-line reason names the ROM, the bug and the address it chose
            assert.matches("auto: ROM 0x90 cannot jump through the vector table 0x08000000", r.stderr, 1, true)
          end)
      end

      it("H753 boot0=1 (ROM 0x90): the bootloader came back; says why and what to try; exit 1", function()
        local dev, _, events = support.simdev("stm32h753", "boot0=1")
        local r = run({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf"), "--leave" })
        assert.are.equal(1, r.code, r.stderr)
        local ev = last_leave(events)
        assert.are.equal("rom", ev.outcome)
        local out = support.json.decode(r.stdout)
        assert.is_false(out.ok)
        assert.is_true(out.verified)
        assert.are.equal("NOT_STARTED", out.error.code)
        assert.are.equal(ev.address, out.left.address)
        for _, s in ipairs({ "the bootloader came back after the leave at 0x0800BA65", "BOOT0 is high",
                             "RAM end @ - 16 bytes", "initial SP is 0x20020000",
                             "next: set BOOT0 low", "dfush leave --leave-mode reset", "0x2001FFF0" }) do
          assert.matches(s, out.error.message, 1, true)
          assert.matches(s, r.stderr, 1, true)
        end
        -- the same without --json: human text on stderr, exit 1
        local again = run({ "-d", dev, "flash", helper.fixture("h7_seed.elf"), "--leave" })
        assert.are.equal(1, again.code)
        assert.matches("the application did not start", again.stderr, 1, true)
        assert.are.equal("", again.stdout)
      end)

      for _, jump in ipairs({ "", ",jump=vector" }) do
        it("F405 boot0=1" .. jump .. ": flash --leave starts the application through the vector table", function()
          local dev, _, events = support.simdev("stm32f405", "boot0=1" .. jump)
          local r = run({ "-d", dev, "--json", "flash", helper.fixture("f4_config.elf"), "--leave" })
          assert.are.equal(0, r.code, r.stderr)
          local ev = last_leave(events)
          assert.are.same({ 0x08000000, "jump", "app_running", F4_ENTRY, images.RAM_END },
            { ev.address, ev.via, ev.outcome, ev.pc, ev.msp })
          local out = support.json.decode(r.stdout)
          assert.are.same({ 0x08000000, "vector" }, { out.left.address, out.left.mode })
        end)
      end

      -- Warnings about the image itself, given before anything is erased; the flash proceeds.
      local WARN = {
        { name = "vector table not at the lowest flash address", text = "the vector table is at 0x08020000, " ..
          "not at the image's lowest flash address 0x08000000",
          image = function(t) return t.reloc end },
        { name = "SP outside RAM", text = "the initial SP at 0x08000000 (0x0801F000) is not a RAM address",
          image = function(t) return images.with_vectors(t.seed, 0x0801F000, nil, t.seed:entry()) end },
        { name = "even reset vector", text = "the reset vector 0x0800BA64 at 0x08000004 is even",
          image = function(t) return images.with_vectors(t.seed, nil, 0x0800BA64, nil) end },
        { name = "reset vector outside the image", text = "the reset vector 0x080FFF01 at 0x08000004 points " ..
          "outside the image", image = function(t) return images.with_vectors(t.seed, nil, 0x080FFF01, nil) end },
      }
      for _, w in ipairs(WARN) do
        it("warns before erasing: " .. w.name .. "; the flash proceeds", function()
          local path = images.save(w.image(images.for_profile("stm32h753")))
          local dev, _, events = support.simdev("stm32h753", "boot0=0,rom=0x93")
          -- --force: a leave predicted not to start the application still exits 0 (rough_edges_spec)
          local r = run({ "-d", dev, "--json", "flash", path, "--leave", "--force" })
          local out = support.json.decode(r.stdout)
          assert.is_truthy(out, r.stderr)
          local found
          for _, s in ipairs(out.warnings or {}) do found = found or s:find(w.text, 1, true) end
          assert.is_truthy(found, "not in --json warnings: " .. w.text)
          local wl, el = line_of(r.stderr, w.text), line_of(r.stderr, "erasing ")
          assert.is_truthy(wl, r.stderr)
          assert.is_truthy(el, r.stderr)
          assert.is_true(wl < el, "the warning comes after the erase started:\n" .. r.stderr)
          -- the job itself is done and verified; the leave happened
          assert.is_true(out.verified)
          assert.is_true(#support.events_file(events, "program") > 0)
          assert.is_not_nil(last_leave(events))
          -- and what the tool says agrees with the device: exit 0 only when the bootloader did
          -- not come back
          local ev = last_leave(events)
          assert.are.equal(ev.outcome == "rom" and 1 or 0, r.code, r.stderr)
        end)
      end

      it("an image with a good vector table gets no such warning", function()
        local dev = support.simdev("stm32h753", "boot0=0,rom=0x93")
        local r = run({ "-d", dev, "--json", "flash", helper.fixture("h7_seed.elf"), "--leave" })
        assert.are.equal(0, r.code, r.stderr)
        assert.is_nil(support.json.decode(r.stdout).warnings)
        assert.is_nil(r.stderr:find("warn", 1, true), r.stderr)
      end)

      -- dfush leave without an image: the application is read from the device's flash.
      it("leave alone reads the vector table from flash (relocated application, ROM 0x93)", function()
        local path = images.save(images.for_profile("stm32h753").reloc)
        local dev, _, events = support.simdev("stm32h753", "boot0=1,rom=0x93")
        local f = run({ "-q", "-d", dev, "flash", path })
        assert.are.equal(0, f.code, f.stderr)
        assert.are.equal(0, #support.events_file(events, "leave"))
        local before = #support.events_file(events, "ctrl")
        local r = run({ "-d", dev, "--json", "leave" })
        assert.are.equal(0, r.code, r.stderr)
        local out = support.json.decode(r.stdout)
        assert.are.same({ 0x08020000, "vector", false }, { out.left.address, out.left.mode, out.left.came_back })
        local ev = last_leave(events)
        assert.are.same({ 0x08020000, "jump", "app_running", SEED_ENTRY + images.RELOC },
          { ev.address, ev.via, ev.outcome, ev.pc })
        -- it read the flash (UPLOADs) before leaving
        local uploads = 0
        local ctrl = support.events_file(events, "ctrl")
        for i = before + 1, #ctrl do
          if ctrl[i].req == "UPLOAD" and ctrl[i].len > 0 then uploads = uploads + 1 end
        end
        assert.is_true(uploads > 0)
      end)

      it("leave alone on ROM 0x90 derives the reset handler from the flash's reset vector", function()
        local dev, _, events = support.simdev("stm32h753", "boot0=0,jump=branch")
        assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.bin@0x08000000") }).code)
        local r = run({ "-d", dev, "--json", "leave" })
        assert.are.equal(0, r.code, r.stderr)
        local out = support.json.decode(r.stdout)
        assert.are.equal(SEED_ENTRY, out.left.address)
        assert.matches("auto: ROM 0x90", out.left.reason, 1, true)
        assert.are.equal("app_running", last_leave(events).outcome)
      end)

      it("leave alone, bootloader comes back: exit 1 with the cause and the next command", function()
        local dev, _, events = support.simdev("stm32h753", "boot0=1")
        assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
        local r = run({ "-d", dev, "--json", "leave" })
        assert.are.equal(1, r.code, r.stderr)
        assert.are.equal("rom", last_leave(events).outcome)
        local out = support.json.decode(r.stdout)
        assert.are.equal("NOT_STARTED", out.error.code)
        assert.matches("BOOT0 is high", out.error.message, 1, true)
        assert.matches("next: ", out.error.message, 1, true)
      end)

      it("leave alone on an erased flash refuses (nothing to start) and sends no leave", function()
        local dev, _, events = support.simdev("stm32h753", "boot0=0")
        local r = run({ "-d", dev, "leave" })
        assert.are.equal(2, r.code)
        assert.matches("erased", r.stderr, 1, true)
        assert.are.equal(0, #support.events_file(events, "leave"))
      end)
    end)
  end
end)
