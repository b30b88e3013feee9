#!/usr/bin/env bash
# Install the Debian packages dfush needs, build it, and run the main job on the simulator.
#   ./setup.sh            install + build + flash tests/fixtures/h7_seed.elf on sim:stm32h753
#   ./setup.sh --deps     install packages only
#   ./setup.sh --build    build only
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake pkg-config clang clang-format
  liblua5.4-dev lua5.4 lua-busted lua-check libreadline-dev
  libusb-1.0-0-dev libelf-dev zlib1g-dev
  dfu-util binutils-arm-none-eabi python3
  debhelper lintian luarocks strace bash-completion
)

deps() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFU_WERROR=ON >/dev/null
  cmake --build build -j"$(nproc)"
}

main_job() {
  if [ -x build/dfush ]; then
    ./build/dfush -d sim:stm32h753 flash tests/fixtures/h7_seed.elf
  else
    ./build/dfu_demo
  fi
}

case "${1:-all}" in
  --deps) deps ;;
  --build) build ;;
  all) deps; build; main_job ;;
  *) echo "usage: $0 [--deps|--build]" >&2; exit 2 ;;
esac
