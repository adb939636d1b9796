#!/bin/bash
# podman runs what `xarch build` pushed: a two-platform image (the static Go hello of each
# architecture, which prints its GOARCH) pushed to a loopback docker-registry, pulled by podman
# per architecture, the amd64 image run natively and the arm64 image under qemu-aarch64-static;
# and the file destinations: an arm64 docker-archive (podman load) and an amd64 oci: layout
# (podman pull oci:), run the same way.
# As in e2e-podman.t, everything runs in a new user + mount namespace with a private binfmt_misc
# instance (Linux >= 6.7), so the host's binfmt_misc table is never touched: the arm64 image
# fails with 'exec format error' until `xarch binfmt install arm64` registers QEMU there.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
FX=${XARCH_FIXTURES:-}

give_up() {
        skip "$1"
        done_testing
        exit
}

[ "$(uname -m)" = x86_64 ] || give_up "written for an x86_64 host (amd64 native, arm64 emulated)"
for t in podman runc docker-registry python3 curl unshare jq; do
        command -v "$t" >/dev/null 2>&1 || give_up "$t not installed (scripts/install-deps --test)"
done
[ -x /usr/bin/qemu-aarch64-static ] || give_up "qemu-user-static not installed"
[ -f "$FX/go/hello-arm64" ] || give_up "no Go fixtures (tests/fixtures/make-fixtures.sh)"
if ! unshare --user --map-root-user --mount sh -c \
        'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"; r=$?; umount "$d" 2>/dev/null; rmdir "$d"; exit $r' \
        >/dev/null 2>&1; then
        give_up "no private binfmt_misc instance (needs user namespaces and Linux >= 6.7)"
fi
export XDG_CACHE_HOME=$TMPD/cache
# podman refuses a --runroot over 50 characters: the namespace's runroot is short
RUNROOT=$(mktemp -d /tmp/xarch-bp.XXXXXX)
# podman names an image pulled from oci:DIR after DIR, and names must be lower-case
LAYOUT=/tmp/xarch-build-podman-$$.oci
PIDS=
cleanup() {
        rc=$?
        set +e
        for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        # files podman made as the namespace's root belong to this user outside it
        rm -rf "$TMPD" "$RUNROOT" "$LAYOUT"
        exit $rc
}
trap cleanup EXIT
registry_start "$TMPD/r"
PIDS="$PIDS $REGISTRY_PID"
R=$REG

run_xarch build --json --platform linux/amd64,linux/arm64 --add "$FX/go/hello-{arch}:/hello" \
        --entrypoint /hello -t "$R/e2e/hello:v1"
expect_rc 0 "xarch build pushes linux/amd64 and linux/arm64"
[ "$(jq -r .verified "$TMPD/out")" = true ] && ok "and verifies the push" || not_ok "verified: $(jq -r .verified "$TMPD/out")"
run_xarch build --platform linux/arm64 --add "$FX/go/hello-arm64:/usr/bin/hello" --cmd hello \
        -t "docker-archive:$TMPD/arm64.tar:xarch/arm64:1"
expect_rc 0 "xarch build writes an arm64 docker-archive"
run_xarch build --platform linux/amd64 --add "$FX/go/hello-amd64:/usr/bin/hello" --cmd hello \
        -t "oci:$LAYOUT:1"
expect_rc 0 "xarch build writes an amd64 oci: layout"

# Runs inside the namespace; each step's status and combined output go to steps/NAME.{rc,out}.
cat >"$TMPD/ns.sh" <<'EOF'
d=$1 ref=$2 runroot=$3
. "$PODMAN_NS"
run() {
        pm run --rm --net=none --ulimit host --mount type=devpts,destination=/dev/pts "$1"
}
step pull-amd64 pm pull -q --tls-verify=false --arch amd64 "docker://$ref"
step pull-arm64 pm pull -q --tls-verify=false --arch arm64 "docker://$ref"
amd64=$(tail -1 "$d/steps/pull-amd64.out") arm64=$(tail -1 "$d/steps/pull-arm64.out")
step arch-amd64 pm image inspect --format '{{.Architecture}}' "$amd64"
step arch-arm64 pm image inspect --format '{{.Architecture}}' "$arm64"
step run-amd64 run "$amd64"
step run-arm64-before run "$arm64"
step install "$XARCH" binfmt --mount "$d/bm" install arm64
step run-arm64 run "$arm64"
step load-arm64 pm load -q -i "$d/arm64.tar"
step run-loaded run xarch/arm64:1
step pull-layout pm pull -q "oci:$4:1"
step run-layout run "$(tail -1 "$d/steps/pull-layout.out")"
exit 0
EOF

set +e
XARCH=$XARCH PODMAN_NS=$(cd "$(dirname "$0")" && pwd)/podman-ns.sh unshare --user --map-root-user --mount sh "$TMPD/ns.sh" "$TMPD" "$R/e2e/hello:v1" "$RUNROOT" "$LAYOUT"
nsrc=$?
set -e
[ "$nsrc" -eq 0 ] || give_up "could not mount binfmt_misc in the namespace"

rc_of() { cat "$TMPD/steps/$1.rc" 2>/dev/null || echo missing; }
# the last line: podman may warn first that the image platform is not the host's
out_is() { [ "$(tail -1 "$TMPD/steps/$1.out")" = "$2" ]; }
show() { sed 's/^/#   /' "$TMPD/steps/$1.out" 2>/dev/null | head -20; }
step_is() { # step_is NAME RC OUTPUT "title"
        if [ "$(rc_of "$1")" = "$2" ] && out_is "$1" "$3"; then ok "$4"; else
                not_ok "$4 (rc $(rc_of "$1"))"
                show "$1"
        fi
}

for a in amd64 arm64; do
        if [ "$(rc_of pull-$a)" = 0 ]; then ok "podman pulls the $a image from the registry"; else
                not_ok "podman pull --arch $a (rc $(rc_of pull-$a))"
                show pull-$a
        fi
        step_is arch-$a 0 $a "podman sees architecture $a"
done
if [ "$(rc_of run-amd64)" != 0 ] && grep -Eq 'OCI runtime|cannot|Error:' "$TMPD/steps/run-amd64.out"; then
        show run-amd64
        give_up "podman cannot run containers in this namespace"
fi
step_is run-amd64 0 "hello from amd64" "podman runs the amd64 image natively: hello from amd64"
if [ "$(rc_of run-arm64-before)" != 0 ] && grep -q 'exec format error' "$TMPD/steps/run-arm64-before.out"; then
        ok "the arm64 image does not run before QEMU is registered (exec format error)"
else
        not_ok "the arm64 image before QEMU (rc $(rc_of run-arm64-before))"
        show run-arm64-before
fi
[ "$(rc_of install)" = 0 ] && ok "xarch binfmt install arm64 in the private instance" ||
        { not_ok "xarch binfmt install arm64 (rc $(rc_of install))"; show install; }
step_is run-arm64 0 "hello from arm64" "podman runs the arm64 image under QEMU: hello from arm64"
if [ "$(rc_of load-arm64)" = 0 ]; then ok "podman loads the arm64 docker-archive"; else
        not_ok "podman load (rc $(rc_of load-arm64))"
        show load-arm64
fi
step_is run-loaded 0 "hello from arm64" "podman runs the loaded arm64 image under QEMU (cmd found on PATH)"
if [ "$(rc_of pull-layout)" = 0 ]; then ok "podman pulls the amd64 oci: layout"; else
        not_ok "podman pull oci: (rc $(rc_of pull-layout))"
        show pull-layout
fi
step_is run-layout 0 "hello from amd64" "podman runs the amd64 layout natively"

done_testing
