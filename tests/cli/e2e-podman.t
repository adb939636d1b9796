#!/bin/bash
# The whole story with a real container runtime: an arm64 image (scratch + the static arm64 Go
# hello) run by podman (runc, vfs storage) on this non-arm64 host fails with 'exec format error';
# after `xarch binfmt install arm64` it runs and prints "hello from arm64"; after
# `xarch binfmt uninstall arm64` it fails again. `xarch check --node host` says at each step
# what will happen. Everything happens inside a new user + mount namespace with a private
# binfmt_misc instance (Linux >= 6.7), so the host's binfmt_misc table is never touched.
# Podman runs there as the namespace's root: storage, run and XDG directories in the test's
# temporary directory, runc, --net=none, --ulimit host with a containers.conf without default
# ulimits, and /dev/pts mounted without the gid=5 option (only uid/gid 0 exist in the namespace).
# The runtime's real output is kept in $XARCH_BUILDDIR/e2e-podman-logs/ (when set) for the
# diagnose tests.
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

give_up() {
        skip "$1"
        done_testing
        exit
}

case $(uname -m) in
aarch64 | arm64) give_up "this host runs arm64 natively: the story needs a foreign architecture" ;;
esac
for t in podman runc python3 unshare; do
        command -v "$t" >/dev/null 2>&1 || give_up "$t not installed (apt-get install podman runc)"
done
[ -x /usr/bin/qemu-aarch64-static ] || give_up "qemu-user-static not installed"
HELLO=${XARCH_FIXTURES:-}/go/hello-arm64
[ -f "$HELLO" ] || give_up "no arm64 Go fixture (tests/fixtures/make-fixtures.sh)"
if ! unshare --user --map-root-user --mount sh -c \
        'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"; r=$?; umount "$d" 2>/dev/null; rmdir "$d"; exit $r' \
        >/dev/null 2>&1; then
        give_up "no private binfmt_misc instance (needs user namespaces and Linux >= 6.7)"
fi

# The image: an OCI layout with one linux/arm64 manifest, /hello as entrypoint.
cat >"$TMPD/image.json" <<JSON
{"nested": false, "images": [{"config_platform": "linux/arm64", "entrypoint": ["/hello"],
  "layers": [{"compression": "gzip", "entries": [["file", "hello", "$HELLO", 493]]}]}]}
JSON
# podman names an image pulled from oci:DIR after DIR, and names must be lower-case
LAYOUT=/tmp/xarch-e2e-podman-$$.oci
trap 'rm -rf "$TMPD" "$LAYOUT"' EXIT
rm -rf "$LAYOUT"
python3 "$HERE/../images/oci-layout.py" "$LAYOUT" "$TMPD/image.json"
IMAGE="oci:$LAYOUT:latest"


# Runs inside the namespace; each step's status and combined output go to steps/NAME.{rc,out}.
cat >"$TMPD/ns.sh" <<'EOF'
d=$1 image=$2
. "$PODMAN_NS"
run() {
        pm run --rm --net=none --ulimit host --mount type=devpts,destination=/dev/pts \
                localhost/e2e/arm64-hello:latest
}
check() { "$XARCH" check "$image" --node host --binfmt-mount "$d/bm" --json; }
step pull pm pull -q "$image"
step tag pm tag "$(cat "$d/steps/pull.out" | tail -1)" localhost/e2e/arm64-hello:latest
step check-before check
step run-before run
step install "$XARCH" binfmt --mount "$d/bm" install arm64
step check-installed check
step run-installed run
step uninstall "$XARCH" binfmt --mount "$d/bm" uninstall arm64
step check-after check
step run-after run
EOF

set +e
XARCH=$XARCH PODMAN_NS=$HERE/podman-ns.sh unshare --user --map-root-user --mount sh "$TMPD/ns.sh" "$TMPD" "$IMAGE"
nsrc=$?
set -e
[ "$nsrc" -eq 0 ] || give_up "could not mount binfmt_misc in the namespace"

rc_of() { cat "$TMPD/steps/$1.rc"; }
out_has() { grep -Eq -- "$2" "$TMPD/steps/$1.out"; }
show() { sed 's/^/#   /' "$TMPD/steps/$1.out" | head -20; }
verdict_of() {
        python3 -c "import json,sys; n=json.load(open(sys.argv[1]))['nodes'][0]; print(n['verdict'], n['emulator']['registered'])" \
                "$TMPD/steps/$1.out" 2>/dev/null || echo "no JSON"
}

if [ "$(rc_of pull)" -ne 0 ] || [ "$(rc_of tag)" -ne 0 ]; then
        show pull
        give_up "podman cannot pull an oci: layout here"
fi
if out_has run-before 'OCI runtime|cannot|Error:' && ! out_has run-before 'exec format error'; then
        show run-before
        give_up "podman cannot run containers in this namespace"
fi

check "xarch check before install: emulated, emulator not registered" \
        test "$(verdict_of check-before)" = "emulated False"
if [ "$(rc_of run-before)" -ne 0 ] && out_has run-before 'exec /hello: exec format error'; then
        ok "podman run before install fails: exec /hello: exec format error"
else
        not_ok "podman run before install (rc $(rc_of run-before))"
        show run-before
fi
check "podman warns that the image platform does not match" \
        out_has run-before 'image platform \(\{arm64 linux'

if [ "$(rc_of install)" -eq 0 ] && out_has install '^qemu-aarch64: installed'; then
        ok "xarch binfmt install arm64"
else
        not_ok "xarch binfmt install arm64 (rc $(rc_of install))"
        show install
fi
check "xarch check after install: emulated, emulator registered" \
        test "$(verdict_of check-installed)" = "emulated True"
if [ "$(rc_of run-installed)" -eq 0 ] && out_has run-installed '^hello from arm64$'; then
        ok "podman run after install prints 'hello from arm64'"
else
        not_ok "podman run after install (rc $(rc_of run-installed))"
        show run-installed
fi

if [ "$(rc_of uninstall)" -eq 0 ]; then ok "xarch binfmt uninstall arm64"; else
        not_ok "xarch binfmt uninstall arm64 (rc $(rc_of uninstall))"
        show uninstall
fi
check "xarch check after uninstall: not registered again" \
        test "$(verdict_of check-after)" = "emulated False"
if [ "$(rc_of run-after)" -ne 0 ] && out_has run-after 'exec /hello: exec format error'; then
        ok "podman run after uninstall fails again with exec format error"
else
        not_ok "podman run after uninstall (rc $(rc_of run-after))"
        show run-after
fi

# Keep the runtime's real output for the diagnose tests, and check that diagnose names it.
if [ -n "${XARCH_BUILDDIR:-}" ]; then
        mkdir -p "$XARCH_BUILDDIR/e2e-podman-logs"
        cp "$TMPD/steps/run-before.out" "$XARCH_BUILDDIR/e2e-podman-logs/podman-exec-format-error.log"
        cp "$TMPD/steps/run-installed.out" "$XARCH_BUILDDIR/e2e-podman-logs/podman-emulated-ok.log"
fi
run_xarch diagnose "$TMPD/steps/run-before.out"
expect_rc 0 "xarch diagnose recognises podman's real failure output"
expect_out 'exec format error|exec-format' "and names the exec format error"

done_testing
