-- Re-enumeration through the libusb transport, run by the real-USB suite as
--   dfush /reenum.lua ADDRESS
-- Leaves DFU at ADDRESS, whose first word is not a RAM address: the ROM resets the chip and,
-- with BOOT0 high, comes back on the bus as a new USB device. The same device handle must
-- re-attach to it (wait_reenumerate) and read the flash as before.
local dfu = require "dfu"

local addr = assert(math.tointeger(tonumber(arg[1])), "usage: dfush reenum.lua ADDRESS")
local dev = assert(dfu.core.open("usb"))
assert(dev:abort_to_idle())
local before = assert(dev:read(0x08000000, 64))
local left = assert(dev:leave(addr))
print(("left at 0x%08X (final status answered: %s)"):format(addr, tostring(left.answered)))
local t0 = dev:now()
assert(dev:reenumerate(10000))
print(("back after %.2f s"):format(dev:now() - t0))
local after = assert(dev:read(0x08000000, 64))
assert(after == before, "flash read after re-enumeration differs")
print("re-attached: the handle works on the new enumeration")
dev:close()
