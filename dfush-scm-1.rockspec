-- luarocks make: builds the Lua module dfu (dfu.so with dfu.core, dfu.image and dfu.sim, and
-- lua/dfu/*.lua) from this checkout with CMake, and installs it with the recipes and family
-- tables, which the module finds in dfu/scripts next to itself. The dfush program, libdfush
-- and the headers are installed by CMake (README) or the Debian package.
rockspec_format = "3.0"
package = "dfush"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "USB DFU and DfuSe flashing from Lua 5.4, with a device simulator",
  detailed = [[
The dfu module: DFU 1.1 and STM32 DfuSe devices over libusb, ELF, Intel HEX, S-record, DfuSe
and raw binary images, a simulator of the STM32 ROM bootloaders, and the flashing recipes.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  LIBUSB = { header = "libusb-1.0/libusb.h" },
  LIBELF = { header = "libelf.h" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    BUILD_TESTING = "OFF",
    DFU_INSTALL_MODULE_ONLY = "ON",
    DFU_INSTALL_LUADIR = "$(LUADIR)",
    DFU_INSTALL_CMODDIR = "$(LIBDIR)",
    DFU_INSTALL_SCRIPTDIR = "$(LUADIR)/dfu/scripts",
  },
}
