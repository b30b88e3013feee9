#!/bin/sh
# Build the libFuzzer targets with clang into build-fuzz and run each one briefly, starting from
# its seed corpus in tests/fuzz/corpus/<target>/. Fails on any crash, leak or sanitizer report.
# Skips (exit 77) when clang is not installed. Longer runs: see tests/fuzz/README.md.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${DFU_FUZZ_BUILD:-$src/build-fuzz}
secs=${DFU_FUZZ_SECONDS:-14}

if ! command -v clang >/dev/null 2>&1; then
    echo "smoke.sh: clang not found, skipping"
    exit 77
fi

# fuzzer-no-link instruments the core library too, so libFuzzer sees the parsers' coverage.
CC=clang CFLAGS="-fsanitize=fuzzer-no-link" cmake -S "$src" -B "$build" -DDFU_FUZZ=ON \
    -DDFU_WITH_LIBUSB=OFF -DDFU_SANITIZE=address,undefined >/dev/null

targets=""
for f in "$src"/tests/fuzz/fuzz_*.c; do
    targets="$targets $(basename "$f" .c)"
done
# shellcheck disable=SC2086
cmake --build "$build" -j2 --target $targets >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for t in $targets; do
    mkdir -p "$work/$t"
    if (cd "$work" && "$build/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 "$work/$t" "$src/tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1); then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
        echo "ok   $t ($runs runs)"
    else
        echo "FAIL $t"
        grep -E 'ERROR|SUMMARY|invariant|runtime error' "$work/$t.log" | head -20
        for c in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
            [ -e "$c" ] || continue
            mkdir -p "$build/fuzz-artifacts"
            cp "$c" "$build/fuzz-artifacts/$t-$(basename "$c")"
            echo "     reproducer: $build/fuzz-artifacts/$t-$(basename "$c")"
        done
        fail=1
    fi
done
exit $fail
