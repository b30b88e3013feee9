-- dfush info, list, image info/convert.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

describe("dfush info / list / image", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      it("info shows alts with layouts, state and the bootloader ID (H7)", function()
        local r = run({ "-d", "sim:stm32h753", "--json", "info" })
        assert.are.equal(0, r.code, r.stderr)
        local j = assert(support.json.decode(r.stdout))
        assert.are.equal(0x0483, j.vid)
        assert.are.equal(1024, j.transfer_size)
        assert.are.equal(0x90, j.bootloader_id)
        assert.are.equal(32, j.program_unit)
        assert.are.equal("Internal Flash", j.alts[1].layout.name)
        assert.are.equal(16, j.alts[1].layout.runs[1].count)
        assert.are.equal(0x5200201C, j.alts[2].layout.runs[1].address)
        assert.is_string(j.state)
        local h = run({ "-d", "sim:stm32h753", "info" })
        assert.matches("bootloader ID 0x90", h.stdout, 1, true)
        assert.matches("Internal Flash", h.stdout, 1, true)
      end)

      it("info reads the F4 bootloader ID", function()
        local r = run({ "-d", "sim:stm32f405,rom=0x31", "--json", "info" })
        assert.are.equal(0, r.code, r.stderr)
        local j = support.json.decode(r.stdout)
        assert.are.equal(0x31, j.bootloader_id)
        assert.are.equal(4, #j.alts)
        assert.are.equal(4, j.program_unit)
      end)

      it("list names the simulator profiles", function()
        local r = run({ "--json", "list" })
        assert.are.equal(0, r.code, r.stderr)
        local j = support.json.decode(r.stdout)
        assert.are.same(dfu.sim.profiles(), j.sim_profiles)
      end)

      for _, fx in ipairs({ "h7_seed.elf", "f4_config.hex", "h7_dualbank.s19", "f4_config.dfu" }) do
        it("image info --json " .. fx .. " matches truth.json", function()
          local r = run({ "image", "info", helper.fixture(fx), "--json" })
          assert.are.equal(0, r.code, r.stderr)
          local j = assert(support.json.decode(r.stdout))
          local t = helper.truth()[fx]
          if t.targets then
            assert.are.equal(#t.targets, #j.targets)
            assert.are.same(t.targets[1].segments, j.targets[1].segments)
          else
            assert.are.same(t.segments, j.segments)
            assert.is_nil(j.targets)
            if t.entry ~= nil and t.entry ~= support.json.null and t.entry ~= helper.json.null then
              assert.are.equal(t.entry, j.entry)
            end
          end
          assert.is_string(j.format)
        end)
      end

      it("image convert round-trips through .hex", function()
        local out = support.tmp(".hex")
        local r = run({ "image", "convert", helper.fixture("h7_seed.bin") .. "@0x08000000", out })
        assert.are.equal(0, r.code, r.stderr)
        local a = assert(dfu.image.load(out))
        local b = assert(dfu.image.load(helper.fixture("h7_seed.bin"), { base = 0x08000000 }))
        assert.are.equal(b:data(1), a:data(1))
      end)

      it("@ADDR on a file with its own addresses is ignored, with a warning", function()
        local r = run({ "--json", "image", "info", helper.fixture("h7_seed.hex") .. "@0x08100000" })
        assert.are.equal(0, r.code, r.stderr)
        assert.matches("the address is ignored: this Intel HEX file carries its own addresses", r.stderr, 1, true)
        assert.are.equal(0x08000000, support.json.decode(r.stdout).segments[1].address)
        r = run({ "image", "info", helper.fixture("h7_seed.bin") .. "@0x08100000" })
        assert.are.equal(0, r.code, r.stderr)
        assert.is_nil(r.stderr:find("ignored", 1, true))
      end)

      it("image info of a missing or bad file exits 2", function()
        assert.are.equal(2, run({ "image", "info", "/nonexistent.hex" }).code)
        local bad = helper.writefile(support.tmp(".hex"), ":10000000ZZ\n")
        local r = run({ "image", "info", bad })
        assert.are.equal(2, r.code)
      end)
    end)
  end
end)
