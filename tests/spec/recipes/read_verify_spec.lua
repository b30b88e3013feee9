-- dfush read and dfush verify against the simulator.
local support = require "recipes.support"
local helper = support.helper
local dfu = require "dfu"

describe("dfush read / verify", function()
  after_each(helper.cleanup)

  for runner, run in pairs(support.runners()) do
    describe("(" .. runner .. ")", function()
      local dev, state
      before_each(function()
        dev, state = support.simdev("stm32h753")
        assert.are.equal(0, run({ "-q", "-d", dev, "flash", helper.fixture("h7_seed.elf") }).code)
      end)

      for _, ext in ipairs({ ".bin", ".hex", ".s19" }) do
        it("reads into " .. ext .. " by extension", function()
          local out = support.tmp(ext)
          local r = run({ "-d", dev, "--json", "read", "0x08000000", "0x90", "-o", out })
          assert.are.equal(0, r.code, r.stderr)
          local j = support.json.decode(r.stdout)
          assert.are.equal(0x90, j.size)
          local img = assert(dfu.image.load(out .. (ext == ".bin" and "@0x08000000" or "")))
          assert.are.equal(0x08000000, img:segments()[1].address)
          local sim = support.sim_state("stm32h753", state)
          assert.are.equal(sim:read(0x08000000, 0x90), img:data(1))
        end)
      end

      it("accepts K lengths", function()
        local out = support.tmp(".bin")
        local r = run({ "-q", "-d", dev, "read", "0x08000000", "4K", "-o", out })
        assert.are.equal(0, r.code, r.stderr)
        assert.are.equal(4096, #helper.readfile(out))
      end)

      it("read without -o or with an unknown extension is a usage error", function()
        assert.are.equal(2, run({ "-d", dev, "read", "0x08000000", "16" }).code)
        assert.are.equal(2, run({ "-d", dev, "read", "0x08000000", "16", "-o", support.tmp(".xyz") }).code)
      end)

      it("verify passes on the flashed image and fails (1) naming the address otherwise", function()
        local r = run({ "-d", dev, "verify", helper.fixture("h7_seed.hex") })
        assert.are.equal(0, r.code, r.stderr)
        r = run({ "-d", dev, "verify", helper.fixture("h7_dualbank.hex") })
        assert.are.equal(1, r.code)
        assert.matches("0x080", r.stderr, 1, true)
      end)

      it("verify of an image outside flash exits 2", function()
        local r = run({ "-d", dev, "verify", helper.fixture("h7_seed.bin") .. "@0x09000000" })
        assert.are.equal(2, r.code)
      end)
    end)
  end
end)
