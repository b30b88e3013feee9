#!/bin/sh
# Intel HEX parsing speed: our reader against arm-none-eabi-objcopy on the same 2 MiB file.
# Both do the same job (HEX in, raw binary out) as separate processes; the figure is the median
# CPU time (user+sys) of RUNS runs. Not a ctest test: run it by hand.
#   tests/bench/bench_ihex.sh [RUNS]
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}

# The reader and writers only (no libelf, no Lua), optimised as a release build would be.
$cc -O2 -DNDEBUG -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$src/include" \
    -I"$src/core" "$src/tests/bench/bench_ihex.c" "$src/core/err.c" "$src/core/crc32.c" \
    "$src/core/image.c" "$src/core/img_text.c" "$src/core/img_ihex.c" "$src/core/img_srec.c" \
    "$src/core/img_bin.c" "$src/core/img_dfuse.c" "$src/core/img_detect.c" \
    "$src/core/img_write.c" "$src/core/img_mem.c" -o "$work/bench_ihex"

size=$((2 * 1024 * 1024))
if command -v arm-none-eabi-objcopy >/dev/null 2>&1; then
    objcopy=arm-none-eabi-objcopy
    head -c $size /dev/urandom >"$work/rand.bin"
    $objcopy -I binary -O ihex --change-addresses 0x08000000 "$work/rand.bin" "$work/fw.hex"
else
    echo "arm-none-eabi-objcopy not found: cannot compare" >&2
    exit 77
fi
records=$(grep -c '^:10' "$work/fw.hex")
echo "input: $(wc -c <"$work/fw.hex") bytes of Intel HEX, $records data records, 2 MiB of data"

# Both must produce the same bytes.
"$work/bench_ihex" convert "$work/fw.hex" "$work/ours.bin"
$objcopy -I ihex -O binary "$work/fw.hex" "$work/theirs.bin"
cmp "$work/ours.bin" "$work/theirs.bin"
cmp "$work/ours.bin" "$work/rand.bin"

ours=$("$work/bench_ihex" time "$runs" "$work/bench_ihex" convert "$work/fw.hex" "$work/o.bin")
theirs=$("$work/bench_ihex" time "$runs" $objcopy -I ihex -O binary "$work/fw.hex" "$work/t.bin")
parse=$("$work/bench_ihex" parse "$work/fw.hex" "$runs")

echo "dfush  hex -> bin (process CPU, median of $runs): ${ours} s"
echo "objcopy hex -> bin (process CPU, median of $runs): ${theirs} s"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "ratio objcopy/dfush: %.1fx\n", b / a }'
echo "dfush parse only, in process (median of $runs): ${parse} s"
awk -v a="$ours" -v b="$theirs" 'BEGIN { exit !(a < b) }' || {
    echo "FAIL: our parser is not faster" >&2
    exit 1
}
