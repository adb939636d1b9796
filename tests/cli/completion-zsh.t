#!/bin/bash
# zsh completion (contrib/completion/_xarch) in a real interactive zsh driven through a
# pseudo-terminal (zsh's own zpty module): what one TAB makes of a command line.
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v zsh >/dev/null 2>&1; then
        skip "zsh not installed (scripts/install-deps --test)"
        done_testing
        exit
fi
BIN=$TMPD/bin
mkdir -p "$BIN"
ln -s "$XARCH" "$BIN/xarch"
ln -s "$XARCH" "$BIN/kubectl-xarch"

# LINE => what one TAB makes of it (a trailing space: the word was completed in full)
cases=(
        "xarch ver|xarch verify "
        "xarch he|xarch help "
        "xarch help ins|xarch help inspect "
        "xarch inspect --plat|xarch inspect --platform "
        "xarch inspect --platform linux/s3|xarch inspect --platform linux/s390x "
        "xarch check x --runtime cri|xarch check x --runtime cri-o-1.30 "
        "xarch index create x --format d|xarch index create x --format docker "
        "xarch binfmt export --format deb|xarch binfmt export --format debian "
        "xarch binfmt inst|xarch binfmt install "
        "xarch verify oci-a|xarch verify oci-archive:"
        "xarch audit --what-if linux/ppc|xarch audit --what-if linux/ppc64le "
        "kubectl-xarch au|kubectl-xarch audit "
)
lines=()
for c in "${cases[@]}"; do lines+=("${c%%|*}"); done
zsh -f "$HERE/zsh-complete.zsh" "$(cd "$HERE/../../contrib/completion" && pwd)" "$BIN" "$TMPD/out" "${lines[@]}"
i=0
for c in "${cases[@]}"; do
        i=$((i + 1))
        got=$(sed -n "${i}p" "$TMPD/out")
        if [ "$got" = "${c#*|}" ]; then
                ok "zsh: '${c%%|*}<TAB>' gives '${c#*|}'"
        else
                not_ok "zsh: '${c%%|*}<TAB>' gave '$got', expected '${c#*|}'"
        fi
done
done_testing
