# bash completion for xarch                                              -*- shell-script -*-
#
# Verbs, subcommands and options come from xarch's own --help (read once per shell and verb),
# so a new verb or option completes without a change here. What --help cannot say lives below:
# the values some options take, and the architectures and image sources arguments name.

_xarch_platforms="linux/amd64 linux/amd64/v2 linux/amd64/v3 linux/amd64/v4 linux/arm64
linux/arm64/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5 linux/386 linux/ppc64le linux/s390x
linux/riscv64 linux/mips64le linux/mips64 linux/loong64"
_xarch_arches="amd64 arm64 arm 386 ppc64le s390x riscv64 mips64le mips64 loong64 all"
_xarch_runtimes="containerd-1.6 containerd-1.7 containerd-2.0 containerd-2.1 containerd-2.2
containerd-2.3 cri-o-1.30 docker-27"
# Local image sources, as skopeo names them; anything else is a registry reference.
_xarch_transports="oci: oci-archive: docker-archive:"

# The verbs, from the "Verbs:" section of 'xarch --help'.
_xarch_verbs() {
        if [[ -z ${_xarch_verbs_cache-} ]]; then
                _xarch_verbs_cache=$("${_xarch_cmd:-xarch}" --help 2>/dev/null |
                        sed -n '/^Verbs:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
        fi
        printf '%s\n' "$_xarch_verbs_cache"
}

# A verb's --help, once per shell.
_xarch_help() {
        local var="_xarch_help_${1//[^a-z0-9]/_}"
        if [[ -z ${!var-} ]]; then
                printf -v "$var" '%s' "$("${_xarch_cmd:-xarch}" "$1" --help 2>/dev/null)"
        fi
        printf '%s\n' "${!var}"
}

# Options a verb's help lists ("-p, --platform P" and "--json" alike).
_xarch_options() {
        _xarch_help "$1" | grep -oE '(^|[ ,\[])--?[a-zA-Z0-9][a-zA-Z0-9-]*' | sed 's/^[ ,\[]//' | sort -u
}

# Subcommands: the lower-case words right after "xarch VERB" in its usage lines
# ("[status]", "enable|disable" too).
_xarch_subcommands() {
        _xarch_help "$1" | sed -n "s/^\(Usage:\)\? *xarch $1 \[\?\([a-z|]*\)\]\?\( .*\)\?$/\2/p" | tr '|' '\n' |
                grep -v '^$' | sort -u
}

# Does option $2 of verb $1 take a value? Its help line names one: "--platform P", "-n, --node LIST".
_xarch_takes_value() {
        local opt=$2
        if [[ $opt != --* ]]; then # "-p, --platform P": the long option says
                opt=$(_xarch_help "$1" | grep -oE -- "(^|[ ,])$opt, --[a-zA-Z0-9-]+" | head -n1)
                opt=${opt##* }
                [[ -n $opt ]] || return 1
        fi
        _xarch_help "$1" | grep -qE -- "(^|[ ,\[])$opt( |=)[A-Z]"
}

_xarch() {
        local cur prev words cword
        if declare -F _init_completion >/dev/null; then
                _init_completion -n := || return
        else
                cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
                words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
        fi
        local _xarch_cmd=${words[0]}

        # The verb: the first word after xarch that is not an option.
        local verb= sub= i
        for ((i = 1; i < cword; i++)); do
                [[ ${words[i]} == -* ]] && continue
                if [[ -z $verb ]]; then verb=${words[i]}; elif [[ -z $sub ]]; then sub=${words[i]}; fi
        done
        if [[ -z $verb ]]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$(_xarch_verbs) help" -- "$cur"))
                fi
                return
        fi
        [[ $verb == help ]] && { COMPREPLY=($(compgen -W "$(_xarch_verbs)" -- "$cur")); return; }

        # The value of the option before the cursor.
        if [[ $prev == -* ]] && _xarch_takes_value "$verb" "$prev"; then
                case $prev in
                --platform | -p) COMPREPLY=($(compgen -W "$_xarch_platforms" -- "$cur")) ;;
                --node | -n) COMPREPLY=($(compgen -W "host $_xarch_platforms $_xarch_arches" -- "$cur")) ;;
                --arch) COMPREPLY=($(compgen -W "$_xarch_arches" -- "$cur")) ;;
                --what-if | -w) COMPREPLY=($(compgen -W "$_xarch_platforms" -- "$cur")) ;;
                --emulation | -e) COMPREPLY=($(compgen -W "qemu rosetta none" -- "$cur")) ;;
                --runtime) COMPREPLY=($(compgen -W "$_xarch_runtimes" -- "$cur")) ;;
                --compression) COMPREPLY=($(compgen -W "gzip gzip:1 gzip:6 gzip:9 zstd zstd:3" -- "$cur")) ;;
                --format)
                        case $verb in
                        index) COMPREPLY=($(compgen -W "oci docker" -- "$cur")) ;;
                        *) COMPREPLY=($(compgen -W "systemd debian" -- "$cur")) ;;
                        esac ;;
                --mount | --qemu-path | --binfmt-mount | --fix-dir | --output | -o)
                        COMPREPLY=($(compgen -d -- "$cur")) ;;
                *) COMPREPLY=($(compgen -f -- "$cur")) ;;
                esac
                return
        fi
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(_xarch_options "$verb")" -- "$cur"))
                return
        fi

        local subs
        subs=$(_xarch_subcommands "$verb")
        if [[ -n $subs && -z $sub ]]; then
                COMPREPLY=($(compgen -W "$subs" -- "$cur"))
                return
        fi
        case $verb in
        binfmt)
                COMPREPLY+=($(compgen -W "$_xarch_arches" -- "$cur")) ;;
        platform)
                COMPREPLY+=($(compgen -W "host $_xarch_platforms" -- "$cur")) ;;
        file | diagnose)
                COMPREPLY=($(compgen -f -- "$cur")) ;;
        *)
                # An image: a local source's path after its transport, else a transport prefix.
                local t
                for t in $_xarch_transports; do
                        if [[ $cur == "$t"* ]]; then
                                local path=${cur#"$t"}
                                COMPREPLY=($(compgen -f -- "$path"))
                                COMPREPLY=("${COMPREPLY[@]/#/$t}")
                                compopt -o nospace 2>/dev/null
                                # bash split "oci:dir" at the colon: offer what follows it
                                declare -F __ltrim_colon_completions >/dev/null &&
                                        __ltrim_colon_completions "$cur"
                                return
                        fi
                done
                COMPREPLY=($(compgen -W "$_xarch_transports" -- "$cur"))
                [[ ${#COMPREPLY[@]} -gt 0 ]] && compopt -o nospace 2>/dev/null ;;
        esac
}
complete -F _xarch xarch
