# bash completion for dfush: commands, global and per-command options, option values (device
# strings from `dfush list`, fixed choices), sub-commands, command names after `help`, and
# image files. The commands and their options come from the recipes themselves (built-in,
# --recipes DIR, $DFUSH_PATH), read by the dfush being completed.
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)) is the completion idiom

# Run by `dfush -e`: the command names (_DFUSH_CMD empty), or one command's declaration as
# lines "opt NAME SHORT ARG OPTIONAL CHOICES", "sub WORD" and "files".
_dfush_lua='
local recipe = require "dfu.recipe"
local extra = {}
for d in (os.getenv("_DFUSH_RECIPES") or ""):gmatch("[^\n]+") do extra[#extra + 1] = d end
local dirs = recipe.dirs(extra)
local cmd = os.getenv("_DFUSH_CMD") or ""
if cmd == "" then
  for _, e in ipairs(recipe.list(dirs)) do print(e.name) end
  return
end
local path = recipe.find(cmd, dirs)
local r = path and recipe.load(path)
if not r then return end
for _, o in ipairs(r.options) do
  print("opt", o.name, o.short or "-", o.arg or "-", o.optional and 1 or 0, table.concat(o.choices or {}, " "))
end
local name = r.name:gsub("%p", "%%%0")
for alt in (r.usage .. "|"):gmatch("([^|]*)|") do
  local sub = alt:match("^%s*" .. name .. "%s+%[?([a-z][%w-]*)")
  if sub then print("sub", sub) end
end
for _, a in ipairs(r.args) do
  if a.name:match("^files?$") then print("files") break end
end
'

_dfush_query() { # DFUSH COMMAND RECIPE_DIRS
    _DFUSH_CMD=$2 _DFUSH_RECIPES=$3 "$1" -e "$_dfush_lua" 2>/dev/null
}

_dfush_devices() { # DFUSH
    "$1" list 2>/dev/null | awk '$1 ~ /^(usb|sim):/ { print $1 }'
    echo usb
}

_dfush() {
    local cur prev words cword split
    _init_completion -s -n : || return

    local dfush=${words[0]} cmd='' recipes='' i w npos=0
    [[ $dfush == \~* ]] && dfush=$HOME${dfush#\~}
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if [[ -n $cmd ]]; then
            [[ $w != -* && ${words[i - 1]} != @(-d|--device|-o|--output|--alt|--leave-mode) ]] &&
                ((npos++))
            continue
        fi
        case $w in
            -d | --device) ((i++)) ;;
            --recipes) recipes+=${words[++i]}$'\n' ;;
            --recipes=*) recipes+=${w#*=}$'\n' ;;
            -*) ;;
            *) cmd=$w ;;
        esac
    done

    case $prev in
        -d | --device)
            COMPREPLY=($(compgen -W "$(_dfush_devices "$dfush")" -- "$cur"))
            __ltrim_colon_completions "$cur"
            return
            ;;
        --recipes)
            _filedir -d
            return
            ;;
    esac

    local globals='-d --device -v --verbose -q --quiet --json -h --help'
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$globals --recipes --version" -- "$cur"))
        elif [[ $cur == */* ]]; then
            _filedir lua
        else
            COMPREPLY=($(compgen -W "$(_dfush_query "$dfush" '' "$recipes")" -- "$cur"))
        fi
        return
    fi

    if [[ $cmd == help ]]; then
        ((npos == 0)) && COMPREPLY=($(compgen -W "$(_dfush_query "$dfush" '' "$recipes")" -- "$cur"))
        return
    fi

    local kind name short arg optional choices opts=$globals subs='' files=''
    while IFS=$'\t' read -r kind name short arg optional choices; do
        case $kind in
            opt)
                opts+=" --$name"
                [[ $short != - ]] && opts+=" -$short"
                if [[ $arg != - && ($prev == "--$name" || $prev == "-$short") ]] &&
                    [[ $optional == 0 || $split == true ]]; then
                    if [[ -n $choices ]]; then
                        COMPREPLY=($(compgen -W "$choices" -- "$cur"))
                    elif [[ $arg == @(OUT|FILE|DIR) ]]; then
                        _filedir
                    fi
                    return
                fi
                ;;
            sub) subs+=" $name" ;;
            files) files=1 ;;
        esac
    done < <(_dfush_query "$dfush" "$cmd" "$recipes")
    $split && return

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -n $subs && $npos == 0 ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    elif [[ -n $files ]]; then
        _filedir '@(elf|axf|out|hex|ihex|ih|s19|s28|s37|srec|mot|dfu|bin)'
        ((${#COMPREPLY[@]} == 0)) && _filedir
    fi
}
complete -F _dfush dfush
