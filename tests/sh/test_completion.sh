#!/usr/bin/env bash
# The shell completions (completions/dfush.bash, completions/_dfush) against the built dfush:
# commands, options, choices, sub-commands, device strings and image files.
#   test_completion.sh BUILD_DIR      (ctest: sh.completion; exit 77 = skipped)
set -u
src=${DFU_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${1:-${DFU_BUILD_DIR:-$src/build}}
[ -x "$build/dfush" ] || { echo "no $build/dfush"; exit 77; }
dfush=$(cd "$build" && pwd)/dfush
fail=0

check() { # NAME EXPECTED GOT
    if [ "$2" = "$3" ]; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        echo "     expected: $2"
        echo "     got:      $3"
        fail=1
    fi
}

cd "$src/tests/fixtures" || exit 1

if [ -r /usr/share/bash-completion/bash_completion ]; then
    bcomp() { # LINE: the candidates, one line, "|"-separated
        bash --norc -c '
            source /usr/share/bash-completion/bash_completion
            source "$1/completions/dfush.bash"
            line=$2
            COMP_LINE=$line COMP_POINT=${#line}
            read -ra COMP_WORDS <<<"$line"
            [[ $line == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            COMPREPLY=()
            _dfush
            printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd "|" -' _ "$src" "$1"
    }
    check "bash: commands" "detach|dfu-util|erase|flash|help|image|info|leave|list|ob|read|unprotect|verify" "$(bcomp "$dfush ")"
    check "bash: command prefix" "image|info" "$(bcomp "$dfush i")"
    check "bash: global options" "--device|--help|--json|--quiet|--recipes|--verbose|--version" "$(bcomp "$dfush --")"
    check "bash: sim profiles after -d" "sim:dfu11|sim:gd32vf103|sim:stm32c071|sim:stm32f072|sim:stm32f405|sim:stm32f411|sim:stm32f767|sim:stm32g0b1|sim:stm32g474|sim:stm32h753|sim:stm32h7a3|sim:stm32l476|sim:stm32u585|usb" "$(bcomp "$dfush -d ")"
    check "bash: a command's options" "--leave|--leave-mode" "$(bcomp "$dfush flash --lea")"
    check "bash: choices" "auto|entry|reset|vector" "$(bcomp "$dfush -d sim:stm32h753 flash --leave-mode ")"
    check "bash: choices after =" "vector" "$(bcomp "$dfush flash --leave-mode=v")"
    check "bash: sub-commands" "convert|info" "$(bcomp "$dfush image ")"
    check "bash: commands after help" "ob" "$(bcomp "$dfush help o")"
    check "bash: image files" "h7_seed.bin|h7_seed.dfu|h7_seed.elf|h7_seed.hex|h7_seed.s19|h7_seed.suffix.bin" \
        "$(bcomp "$dfush flash h7_seed")"
    check "bash: any file for -o" "truth.json" "$(bcomp "$dfush read 0 4 -o tru")"
    check "bash: recipes from --recipes" "detach|dfu-util|erase|flash|help|image|info|leave|list|mine|ob|read|unprotect|verify" \
        "$(mkdir -p "${TMPDIR:-/tmp}/dfush-comp-$$" &&
            printf 'return dfu.recipe{name="mine", run=function() end}\n' >"${TMPDIR:-/tmp}/dfush-comp-$$/mine.lua" &&
            bcomp "$dfush --recipes ${TMPDIR:-/tmp}/dfush-comp-$$ ")"
    rm -rf "${TMPDIR:-/tmp}/dfush-comp-$$"
else
    echo "skip bash: bash-completion is not installed"
fi

if command -v zsh >/dev/null 2>&1; then
    zcomp() { # LINE: what _dfush hands to compadd/_files, "|"-separated
        zsh -f -c '
            compadd() { local -a out; while (( $# )); do case $1 in (-a) shift; out+=(${(P)1});;
                (--) ;; (*) out+=($1);; esac; shift; done; out=(${(o)out}); print -r -- ${(j:|:)out}; }
            compset() { return 0; }
            _files() { print -r -- "FILES $*"; }
            _dfush() { source "$1/completions/_dfush"; }
            words=(${=2}); [[ $2 == *" " ]] && words+=("")
            CURRENT=${#words}
            _dfush "$1"' _ "$src" "$1"
    }
    check "zsh: commands" "detach|dfu-util|erase|flash|help|image|info|leave|list|ob|read|unprotect|verify" "$(zcomp "$dfush ")"
    check "zsh: sim profiles after -d" "sim:dfu11|sim:gd32vf103|sim:stm32c071|sim:stm32f072|sim:stm32f405|sim:stm32f411|sim:stm32f767|sim:stm32g0b1|sim:stm32g474|sim:stm32h753|sim:stm32h7a3|sim:stm32l476|sim:stm32u585|usb" "$(zcomp "$dfush -d ")"
    check "zsh: choices after =" "auto|entry|reset|vector" "$(zcomp "$dfush flash --leave-mode=v")"
    check "zsh: sub-commands" "set|show" "$(zcomp "$dfush ob ")"
    check "zsh: image files" "FILES -g *.(elf|axf|out|hex|ihex|ih|s19|s28|s37|srec|mot|dfu|bin)(-.)" \
        "$(zcomp "$dfush verify ")"
else
    echo "skip zsh: zsh is not installed"
fi
exit $fail
