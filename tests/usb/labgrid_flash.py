# Run by tests/usb/suite.sh in the guest: labgrid 0.4.1 (Debian 12's python3-labgrid) finds the
# board through udev as a USBFlashableDevice and FlashScriptDriver runs the flash script of the
# environment file (the dfush-dfu-util link) with the board's USB path.
#   python3 labgrid_flash.py ENV.yaml
import ctypes.util
import sys

# the guest has no ldconfig cache, where ctypes looks for the libudev pyudev loads
_find_library = ctypes.util.find_library
ctypes.util.find_library = lambda name: "libudev.so.1" if name == "udev" else _find_library(name)

from labgrid import Environment  # noqa: E402

target = Environment(sys.argv[1]).get_target("main")
flasher = target.get_driver("FlashScriptDriver", activate=False)
target.activate(flasher)
print("labgrid: USBFlashableDevice at", flasher.device.path)
flasher.flash()
print("labgrid: FlashScriptDriver.flash() done")
