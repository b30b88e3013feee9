#!/bin/sh
# The busted specs with dfush itself running under valgrind (memcheck, full leak check) and an
# aggressive garbage collector (tests/spec/helper.lua: DFU_GC_STRESS=1, a full collection after
# every test; DFU_GC_STRESS_STEP=1, a far shorter incremental step), so finalizers of devices,
# sims and images run while the C core is still in use. Any memory error, uninitialised read or
# leak fails the run. Slow (tens of minutes on one core): a local check, not part of CI, which
# runs the whole suite under ASan+LSan with DFU_GC_STRESS=1 and the module specs under valgrind.
#
#   tests/valgrind/run.sh [BUILD_DIR] [SPEC_PATH...]
#
# BUILD_DIR: a normal (not sanitized) build with dfush, default ./build. SPEC_PATH: default the
# module and device specs (tests/spec/unit: under this collector, close to an hour on one
# core); name tests/spec/recipes, faults or leave to check those too (hours). Child processes
# the specs spawn run natively (DFUSH points at the plain binary); only the busted process is
# instrumented.
# Exit status: 0 clean, 1 a failure or a valgrind report, 77 valgrind or busted missing.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
[ $# -gt 0 ] && shift
if ! command -v valgrind >/dev/null 2>&1 || ! command -v busted >/dev/null 2>&1; then
    echo "valgrind/run.sh: valgrind or busted not found, skipping"
    exit 77
fi
build=$(cd "$build" && pwd)
if [ ! -x "$build/dfush" ]; then
    echo "valgrind/run.sh: $build/dfush not built" >&2
    exit 1
fi
if ldd "$build/dfush" | grep -q libasan; then
    echo "valgrind/run.sh: $build is a sanitizer build; valgrind needs a plain one" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Definite and indirect leaks are errors; "possibly lost" blocks are Lua's interior pointers.
cat >"$work/vg-dfush" <<EOF
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \\
    --show-leak-kinds=definite,indirect --track-origins=yes --log-file="$work/vg.%p.log" \\
    "$build/dfush" "\$@"
EOF
chmod +x "$work/vg-dfush"

if [ $# -eq 0 ]; then
    set -- tests/spec/unit
fi

cd "$src"
start=$(date +%s)
status=0
DFUSH="$build/dfush" DFU_BUILD_DIR="$build" DFU_GC_STRESS=1 DFU_GC_STRESS_STEP=1 \
    busted --lua="$work/vg-dfush" --output=TAP "$@" >"$work/busted.out" 2>&1 || status=$?
end=$(date +%s)

grep -E '^(not ok|# )' "$work/busted.out" | head -60 || true
tail -n 3 "$work/busted.out"
reports=0
for f in "$work"/vg.*.log; do
    [ -s "$f" ] || continue
    reports=1
    echo "--- valgrind report ($f):"
    head -80 "$f"
done
echo "valgrind/run.sh: busted exit $status, $(grep -c '^ok' "$work/busted.out" || true) ok," \
    "$(grep -c '^not ok' "$work/busted.out" || true) not ok, $((end - start)) s"
if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
    echo "valgrind/run.sh: FAILED"
    exit 1
fi
echo "valgrind/run.sh: clean"
