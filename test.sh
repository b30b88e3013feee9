#!/usr/bin/env bash
# Run the whole test suite: format check, luacheck, normal build, the install test
# (tests/install/run), AddressSanitizer+UBSan build, fuzz smoke runs, and the real-USB test in a
# VM (tests/usb/run).
#   ./test.sh             everything
#   ./test.sh --quick     normal build only
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --deps
jobs=$(nproc)
status=0

step() { echo; echo "=== $* ==="; }

step "format (clang-format)"
if ! git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run -Werror; then
  echo "format: run clang-format -i on the files above" >&2
  status=1
fi

step "lint (luacheck)"
luacheck -q lua scripts tests doc/recipes || status=1

step "build + ctest (normal)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFU_WERROR=ON -DBUILD_TESTING=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" || status=1

if [ "${1:-}" != "--quick" ]; then
  step "install: out-of-tree build, install, C library, Debian package (tests/install/run)"
  JOBS=$jobs tests/install/run || status=1

  step "build + ctest (AddressSanitizer + UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDFU_WERROR=ON -DBUILD_TESTING=ON \
    -DDFU_SANITIZE=address,undefined >/dev/null
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" || status=1

  if [ -x tests/fuzz/smoke.sh ]; then
    step "fuzz smoke"
    tests/fuzz/smoke.sh || status=1
  fi

  if [ -x tests/usb/run ]; then
    step "real USB (QEMU + dummy_hcd + raw_gadget)"
    tests/usb/run || status=1
  fi
fi

echo
if [ $status -eq 0 ]; then echo "test.sh: all suites passed"; else echo "test.sh: FAILED"; fi
exit $status
