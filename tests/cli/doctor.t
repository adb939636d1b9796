#!/bin/sh
# xarch doctor: usage, the host's own answers, and the whole emulation story in a private
# binfmt_misc instance (Linux >= 6.7, user + mount namespace): handlers registered by hand here,
# independently of 'xarch binfmt', so doctor is checked against the kernel, not against itself.
set -eu
. "$(dirname "$0")/lib.sh"

run_xarch doctor --help
expect_rc 0 "doctor --help exits 0"
expect_out '^Usage: xarch doctor' "doctor --help prints usage"
run_xarch doctor --frobnicate
expect_rc 2 "unknown option exits 2"
expect_err "unknown option '--frobnicate'" "unknown option named on one line"
run_xarch doctor --platform sparc64
expect_rc 2 "platform without a probe exits 2"
expect_err "no probe for platform 'sparc64'" "probe-less platform named"

# json_get FILE PYTHON-EXPR : evaluates EXPR with d = the parsed JSON document
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
row() { json_get "$1" "[p for p in d['platforms'] if p['platform']=='$2'][0]['$3']"; }

run_xarch doctor --json
expect_rc 0 "doctor --json exits 0 on this host"
cp "$TMPD/out" "$TMPD/host.json"
case "$(uname -m)" in
x86_64)
        [ "$(row "$TMPD/host.json" linux/amd64 host)" = native ] && ok "amd64 is native on x86_64" ||
                not_ok "amd64 is native on x86_64"
        [ "$(json_get "$TMPD/host.json" "d['host']['architecture']")" = amd64 ] &&
                ok "host architecture is amd64" || not_ok "host architecture is amd64"
        ;;
*) skip "not an x86_64 host" ; skip "not an x86_64 host" ;;
esac
run_xarch doctor
expect_out '^PLATFORM +HOST +CONTAINER +HOW' "human output has the table header"

# --- The private instance -------------------------------------------------------------------
if ! unshare --user --map-root-user --mount sh -c \
        'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"' 2>/dev/null; then
        for i in 1 2 3 4 5 6 7 8 9 10; do skip "private binfmt_misc instances unavailable (needs Linux >= 6.7 and user namespaces)"; done
        done_testing
        exit $?
fi
if [ ! -x /usr/bin/qemu-aarch64-static ] || [ ! -x /usr/bin/qemu-riscv64-static ]; then
        for i in 1 2 3 4 5 6 7 8 9 10; do skip "qemu-user-static not installed"; done
        done_testing
        exit $?
fi

cat > "$TMPD/story.sh" <<'STORY'
set -eu
d=$(mktemp -d)
mount -t binfmt_misc binfmt_misc "$d"
"$XARCH" doctor --mount "$d" --json --platform arm64,riscv64,s390x > "$OUT/before.json"
elf64le='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00'
mask64le='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
# arm64 pinned with F; riscv64 without F; s390x pinned but disabled.
printf '%s' ":qemu-aarch64:M::${elf64le}\xb7\x00:${mask64le}:/usr/bin/qemu-aarch64-static:F" > "$d/register"
printf '%s' ":qemu-riscv64:M::${elf64le}\xf3\x00:${mask64le}:/usr/bin/qemu-riscv64-static:" > "$d/register"
printf '%s' ':qemu-s390x:M::\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff:/usr/bin/qemu-s390x-static:F' > "$d/register"
echo 0 > "$d/qemu-s390x"
"$XARCH" doctor --mount "$d" --json --platform arm64,riscv64,s390x > "$OUT/after.json"
"$XARCH" doctor --mount "$d" --platform arm64,riscv64,s390x > "$OUT/after.txt"
STORY
if OUT=$TMPD XARCH=$XARCH unshare --user --map-root-user --mount sh "$TMPD/story.sh" 2>"$TMPD/story.err"; then
        ok "doctor ran inside the private instance"
else
        not_ok "doctor ran inside the private instance"; sed 's/^/#   /' "$TMPD/story.err"
fi

b=$TMPD/before.json a=$TMPD/after.json
[ "$(row "$b" linux/arm64 host)" = no ] && ok "arm64 cannot run before registration" ||
        not_ok "arm64 cannot run before registration ($(row "$b" linux/arm64 detail))"
[ "$(json_get "$b" "[p for p in d['platforms'] if p['platform']=='linux/arm64'][0]['host_probe']['exec_errno']")" = 8 ] &&
        ok "the probe failed with ENOEXEC (exec format error)" || not_ok "the probe failed with ENOEXEC"
[ "$(row "$a" linux/arm64 host)/$(row "$a" linux/arm64 container)" = emulated/emulated ] &&
        ok "arm64 is emulated on the host and in a container (F)" ||
        not_ok "arm64 emulated host+container ($(row "$a" linux/arm64 detail))"
[ "$(row "$a" linux/arm64 handler)" = qemu-aarch64 ] && ok "arm64 handler is qemu-aarch64" ||
        not_ok "arm64 handler is qemu-aarch64"
[ "$(row "$a" linux/riscv64 host)/$(row "$a" linux/riscv64 container)" = emulated/broken ] &&
        ok "riscv64 without F runs on the host but not in a container" ||
        not_ok "riscv64 without F: host emulated, container broken ($(row "$a" linux/riscv64 detail))"
[ "$(row "$a" linux/s390x host)" = no ] && ok "disabled s390x handler does not run" ||
        not_ok "disabled s390x handler does not run"
row "$a" linux/s390x detail | grep -q 'qemu-s390x is disabled' && ok "detail names the disabled handler" ||
        not_ok "detail names the disabled handler"
codes=$(json_get "$a" "' '.join(sorted(w['code'] for w in d['warnings']))")
case " $codes " in *" emulator-not-pinned "*) ok "warns about the emulator without F" ;; *) not_ok "warns emulator-not-pinned ($codes)" ;; esac
case " $codes " in *" entry-disabled "*) ok "warns about the disabled entry" ;; *) not_ok "warns entry-disabled ($codes)" ;; esac
grep -q 'fix: xarch binfmt enable qemu-s390x' "$TMPD/after.txt" && ok "human output gives the fix" ||
        not_ok "human output gives the fix"
done_testing
