#!/bin/sh
# meson install gives what a user or packager expects: man pages for every docs/man/*.md,
# bash completion that completes, and libxarch.pc that builds a program against the library.
# Installs the build directory under test into a temporary DESTDIR (never the system).
set -eu
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

if [ -z "${XARCH_BUILDDIR:-}" ] || [ ! -f "$XARCH_BUILDDIR/build.ninja" ]; then
        skip "no meson build directory (XARCH_BUILDDIR)"
        done_testing
        exit 0
fi
DEST=$TMPD/dest
check "meson install --destdir" meson install -C "$XARCH_BUILDDIR" --destdir "$DEST" --no-rebuild

# build_option NAME: the build directory's value of a meson option
build_option() {
        python3 -c 'import json,sys; print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == sys.argv[2]][0])' \
                "$XARCH_BUILDDIR/meson-info/intro-buildoptions.json" "$1"
}
PREFIX=$(build_option prefix)
ROOT=$DEST$PREFIX
BIN=$ROOT/bin/xarch
check "the binary is installed" test -x "$BIN"

# --version names the libraries doing the work (the installed binary).
XARCH=$BIN
run_xarch --version
expect_out '^xarch [0-9]' "--version: xarch's version"
expect_out '^  inflate +(zlib|isa-l|ISA-L) [0-9]' "--version: the inflate engine"
expect_out '^  libcurl +libcurl [0-9]' "--version: libcurl"
expect_out '^  libcrypto +OpenSSL [0-9]' "--version: OpenSSL"

# Man pages: one per docs/man/*.md, each renders with its NAME section.
MANDIR=$(find "$ROOT" -type d -name man1 -path '*/man/*' | head -n 1)
check "man1 directory installed" test -n "$MANDIR"
for md in "$SRC"/docs/man/*.md; do
        name=$(basename "$md" .md)
        page=$MANDIR/$name.1
        if [ -f "$page" ] && MANWIDTH=80 man -l "$page" >"$TMPD/man" 2>"$TMPD/manerr" &&
                grep -q '^NAME' "$TMPD/man" && grep -q "^$name(1)" "$TMPD/man" &&
                ! grep -q '^# ' "$TMPD/man"; then
                ok "man -l $name.1 renders"
        else
                not_ok "man -l $name.1 renders"
                sed 's/^/#   /' "$TMPD/manerr" 2>/dev/null | head -5
        fi
done
check "man xarch finds the overview through MANPATH" \
        sh -c "MANPATH='$(dirname "$MANDIR")' MANWIDTH=80 man xarch | grep -q 'VERBS'"

# Bash completion: registered when sourced, completes verbs, options and values.
COMP=$(find "$ROOT" -path '*bash-completion/completions/xarch' | head -n 1)
check "bash completion installed" test -n "$COMP"
check "complete -p xarch after sourcing" bash -c ". '$COMP'; complete -p xarch | grep -q -- '-F _xarch xarch'"
# complete WORDS... : what _xarch offers for the last word (empty for a new word)
complete_words() {
        PATH="$ROOT/bin:$PATH" bash -c '
                [ -f /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
                . "$0"
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _xarch; printf "%s\n" "${COMPREPLY[@]}"' "$COMP" "$@"
}
check "xarch ver<TAB> completes to verify" sh -c "test \"\$(PATH='$ROOT/bin':\$PATH bash -c '
        . \"$COMP\"; COMP_WORDS=(xarch ver); COMP_CWORD=1; _xarch; echo \${COMPREPLY[*]}')\" = verify"
complete_words xarch "" >"$TMPD/c"
check "xarch <TAB> offers every verb" sh -c "grep -qx doctor '$TMPD/c' && grep -qx check '$TMPD/c' && grep -qx binfmt '$TMPD/c'"
complete_words xarch inspect --pl >"$TMPD/c"
check "options per verb (inspect --pl<TAB>)" grep -qx -- --platform "$TMPD/c"
complete_words xarch inspect --platform linux/arm >"$TMPD/c"
check "--platform values" sh -c "grep -qx linux/arm64 '$TMPD/c' && grep -qx linux/arm/v7 '$TMPD/c'"
complete_words xarch verify oci- >"$TMPD/c"
check "local transports (verify oci-<TAB>)" grep -qx oci-archive: "$TMPD/c"
complete_words xarch index create x --format "" >"$TMPD/c"
check "--format values per verb (index: oci, docker)" sh -c "grep -qx docker '$TMPD/c' && ! grep -qx systemd '$TMPD/c'"
complete_words xarch check x --runtime containerd-2 >"$TMPD/c"
check "--runtime values" grep -qx containerd-2.0 "$TMPD/c"
check "zsh completion installed where Debian's zsh looks (vendor-completions)" \
        sh -c "find '$ROOT' -path '*/share/zsh/vendor-completions/_xarch' | grep -q ."
complete_words xarch binfmt "" >"$TMPD/c"
check "subcommands (binfmt <TAB>)" sh -c "grep -qx install '$TMPD/c' && grep -qx status '$TMPD/c'"

# pkg-config and a program built against the installed library.
PC=$(find "$ROOT" -name libxarch.pc | head -n 1)
check "libxarch.pc installed" test -n "$PC"
export PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$DEST"
check "pkg-config --cflags --libs libxarch" pkg-config --cflags --libs libxarch
LIBDIR=$(dirname "$(dirname "$PC")")
cat >"$TMPD/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <xarch/xarch.h>

int main(void) {
        struct xarch_component c[8];
        size_t n = xarch_version_components(c, 8);
        printf("libxarch %s, %zu components\n", xarch_version(), n);
        return n > 0 && strlen(xarch_version()) > 0 ? 0 : 1;
}
C
# The build's own C compiler, and its sanitizers: an ASan libxarch needs an ASan program.
CC_BUILD=$(python3 -c '
import json, sys
for t in json.load(open(sys.argv[1])):
    for s in t["target_sources"]:
        if s.get("language") == "c":
            print(" ".join(s["compiler"]))
            sys.exit(0)' "$XARCH_BUILDDIR/meson-info/intro-targets.json")
SANITIZE=$(build_option b_sanitize)
if [ "$SANITIZE" = none ]; then SANITIZE=; else SANITIZE="-fsanitize=$SANITIZE"; fi
check "a C program builds against the installed library" \
        sh -c "$CC_BUILD -std=c11 -Wall -Werror $SANITIZE -o '$TMPD/prog' '$TMPD/prog.c' \$(pkg-config --cflags --libs libxarch)"
check "and runs with it" sh -c "LD_LIBRARY_PATH='$LIBDIR' '$TMPD/prog' | grep -q '^libxarch [0-9]'"
check "the installed library is the one it runs with" \
        sh -c "LD_LIBRARY_PATH='$LIBDIR' ldd '$TMPD/prog' | grep -q '$LIBDIR/libxarch.so'"
done_testing
