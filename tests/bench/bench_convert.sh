#!/bin/sh
# Converting a large image: `dfush image convert` against arm-none-eabi-objcopy on the same
# input, 32 MiB of random data at 0x08000000 as Intel HEX (about 94 MB of text) and as an ELF
# executable (one PT_LOAD), each converted to a raw binary. For each tool it prints the median
# over RUNS runs of the peak RSS (KiB) and of the CPU time (user+sys), and the ratios
# dfush/objcopy. The runs are interleaved (objcopy, dfush, C only, objcopy, ...) so that a change
# in machine load hits all alike. "C only" is the same load + save by the core library without
# the Lua host (bench_ihex convert); the host's own start-up is measured on an empty HEX file.
# Fails unless HEX -> bin peaks at no more than 1.5x objcopy's memory and ELF -> bin costs no
# more than 1.5x its CPU. Not a ctest test: build first, then run it by hand.
#   tests/bench/bench_convert.sh [RUNS]        RUNS defaults to 5
# Environment: DFU_BUILD (build directory, default build/), BENCH_MIB (data size, default 32).
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${DFU_BUILD:-$src/build}
runs=${1:-5}
mib=${BENCH_MIB:-32}
dfush=$build/dfush
cc=${CC:-cc}

if [ ! -x "$dfush" ]; then
    echo "$dfush not found: build dfush first (README.md)" >&2
    exit 77
fi
for t in arm-none-eabi-objcopy arm-none-eabi-ld readelf; do
    if ! command -v $t >/dev/null 2>&1; then
        echo "$t not found: cannot compare" >&2
        exit 77
    fi
done
objcopy=arm-none-eabi-objcopy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The core library alone (no Lua), optimised as a release build would be; with the ELF reader
# when libelf is there.
elf_def="" elf_src="" elf_libs=""
if pkg-config --exists libelf 2>/dev/null; then
    elf_def="-DDFU_WITH_LIBELF=1 $(pkg-config --cflags libelf)"
    elf_src="$src/core/img_elf.c"
    elf_libs=$(pkg-config --libs libelf)
fi
# shellcheck disable=SC2086
$cc -O2 -DNDEBUG -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $elf_def \
    -I"$src/include" -I"$src/core" "$src/tests/bench/bench_ihex.c" "$src/core/err.c" \
    "$src/core/crc32.c" "$src/core/image.c" "$src/core/img_text.c" "$src/core/img_ihex.c" \
    "$src/core/img_srec.c" "$src/core/img_bin.c" "$src/core/img_dfuse.c" \
    "$src/core/img_detect.c" "$src/core/img_write.c" "$src/core/img_mem.c" $elf_src $elf_libs \
    -o "$work/bench"

# ---- inputs ----
size=$((mib * 1024 * 1024))
head -c $size /dev/urandom >"$work/d.bin"
$objcopy -I binary -O ihex --change-addresses 0x08000000 "$work/d.bin" "$work/d.hex"
$objcopy -I binary -O elf32-littlearm -B arm \
    --rename-section .data=.text,alloc,load,readonly,code,contents "$work/d.bin" "$work/d.o"
printf 'SECTIONS { . = 0x08000000; .text : { *(.text) } }\n' >"$work/fw.ld"
arm-none-eabi-ld -T "$work/fw.ld" "$work/d.o" -o "$work/d.elf"
rm -f "$work/d.o"
want_load=$(printf '0x%06x 0x%06x' $size $size)
if [ "$(readelf -lW "$work/d.elf" | awk '$1 == "LOAD" { n++; l = $4 " " $5 " " $6 } END { print n, l }')" != \
    "1 0x08000000 $want_load" ]; then
    echo "FAIL: the ELF input does not have one PT_LOAD of $size bytes at 0x08000000:" >&2
    readelf -lW "$work/d.elf" >&2
    exit 1
fi
end=$(printf '0x%08X' $((0x08000000 + size - 1)))
if ! "$dfush" image info "$work/d.elf" | grep -q "0x08000000-$end  *$size bytes"; then
    echo "FAIL: dfush image info does not see $size bytes at 0x08000000 in the ELF input" >&2
    "$dfush" image info "$work/d.elf" >&2
    exit 1
fi
printf ':00000001FF\n' >"$work/empty.hex"

# ---- same output ----
for f in hex elf; do
    in=$work/d.$f
    if [ $f = hex ]; then iflag="-I ihex"; else iflag=""; fi
    "$dfush" image convert "$in" "$work/ours.bin" >/dev/null
    # shellcheck disable=SC2086
    $objcopy $iflag -O binary "$in" "$work/theirs.bin"
    "$work/bench" convert "$in" "$work/conly.bin"
    cmp "$work/ours.bin" "$work/theirs.bin"
    cmp "$work/ours.bin" "$work/d.bin"
    cmp "$work/conly.bin" "$work/d.bin"
done
rm -f "$work/ours.bin" "$work/theirs.bin" "$work/conly.bin"

# ---- measurements: one line "CPU RSS" per run in $work/<case>.<tool> ----
stat1() { # stat1 FILE CMD...: one run of CMD, appended to FILE
    out=$1
    shift
    "$work/bench" stat 1 "$@" >>"$out"
}
i=0
while [ $i -lt "$runs" ]; do
    for f in hex elf; do
        in=$work/d.$f
        if [ $f = hex ]; then iflag="-I ihex"; else iflag=""; fi
        # shellcheck disable=SC2086
        stat1 "$work/$f.objcopy" $objcopy $iflag -O binary "$in" "$work/t.bin"
        stat1 "$work/$f.dfush" "$dfush" -q image convert "$in" "$work/o.bin"
        stat1 "$work/$f.conly" "$work/bench" convert "$in" "$work/c.bin"
    done
    stat1 "$work/startup.dfush" "$dfush" -q image convert "$work/empty.hex" "$work/e.bin"
    i=$((i + 1))
done

med() { # med FILE COLUMN: median of a column
    awk -v c="$2" '{ print $c }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "input: $mib MiB of random data at 0x08000000"
echo "  Intel HEX: $(wc -c <"$work/d.hex") bytes; ELF: $(wc -c <"$work/d.elf") bytes, one PT_LOAD"
echo "outputs identical (dfush, objcopy, C only, the original data)"
echo "medians of $runs runs      peak RSS (KiB)              CPU user+sys (s)"
printf '%-16s %9s %9s %7s   %8s %8s %7s\n' "" objcopy dfush ratio objcopy dfush ratio
fail=0
for f in hex elf; do
    om=$(med "$work/$f.objcopy" 2) dm=$(med "$work/$f.dfush" 2)
    oc=$(med "$work/$f.objcopy" 1) dc=$(med "$work/$f.dfush" 1)
    awk -v n="$f -> bin" -v om="$om" -v dm="$dm" -v oc="$oc" -v dc="$dc" 'BEGIN {
        printf "%-16s %9d %9d %6.2fx   %8.3f %8.3f %6.2fx\n", n, om, dm, dm / om, oc, dc, dc / oc }'
    if [ $f = hex ] && ! awk -v a="$dm" -v b="$om" 'BEGIN { exit !(a <= 1.5 * b) }'; then
        echo "FAIL: HEX -> bin peak RSS is over 1.5x objcopy's" >&2
        fail=1
    fi
    if [ $f = elf ] && ! awk -v a="$dc" -v b="$oc" 'BEGIN { exit !(a <= 1.5 * b) }'; then
        echo "FAIL: ELF -> bin CPU is over 1.5x objcopy's" >&2
        fail=1
    fi
done
echo "C only (the core library, no Lua host):"
for f in hex elf; do
    om=$(med "$work/$f.objcopy" 2) cm=$(med "$work/$f.conly" 2)
    oc=$(med "$work/$f.objcopy" 1) cc_=$(med "$work/$f.conly" 1)
    awk -v n="$f -> bin" -v om="$om" -v cm="$cm" -v oc="$oc" -v cc="$cc_" 'BEGIN {
        printf "%-16s %9s %9d %6.2fx   %8s %8.3f %6.2fx\n", n, "", cm, cm / om, "", cc, cc / oc }'
done
sm=$(med "$work/startup.dfush" 2) sc=$(med "$work/startup.dfush" 1)
awk -v sm="$sm" -v sc="$sc" 'BEGIN {
    printf "dfush start-up (convert an empty HEX file): %d KiB, %.3f s\n", sm, sc }'
exit $fail
