#!/bin/bash
# The node image (scripts/build-node-image.sh: xarch build from Debian packages of amd64 and
# arm64, verified with xarch verify --deep) run by podman the way the DaemonSet runs it:
# privileged, `xarch binfmt install --watch arm64`. Everything happens inside a new user + mount
# namespace whose private binfmt_misc instance (Linux >= 6.7) the container's mount shares (one
# instance per user namespace), so the host's table is never touched. The image's emulator
# registers with F, an arm64 binary then runs in the namespace, an entry removed by hand comes
# back, `status --check` (run in the container) flips accordingly, and stopping the container
# leaves the entry.
set -eu
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

give_up() {
        skip "$1"
        done_testing
        exit
}

case $(uname -m) in
x86_64) ;;
*) give_up "written for an x86_64 host (the image's amd64 side runs here)" ;;
esac
"$XARCH" build --help >/dev/null 2>&1 || give_up "this xarch has no 'build' verb"
for t in podman runc unshare aarch64-linux-gnu-gcc apt-get dpkg-deb meson ninja; do
        command -v "$t" >/dev/null 2>&1 || give_up "$t not installed (scripts/install-deps --test)"
done
HELLO=${XARCH_FIXTURES:-}/go/hello-arm64
[ -f "$HELLO" ] || give_up "no arm64 Go fixture (tests/fixtures/make-fixtures.sh)"
if ! unshare --user --map-root-user --mount sh -c \
        'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"; r=$?; umount "$d" 2>/dev/null; rmdir "$d"; exit $r' \
        >/dev/null 2>&1; then
        give_up "no private binfmt_misc instance (needs user namespaces and Linux >= 6.7)"
fi

# Build the image (downloads and builds are cached in the build directory).
WORK=${XARCH_BUILDDIR:-$TMPD}/node-image-work
LAYOUT=/tmp/xarch-node-image-$$.oci # podman names an oci: image after its directory
trap 'rm -rf "$TMPD" "$LAYOUT"' EXIT
if XARCH=$XARCH WORK=$WORK "$SRC/scripts/build-node-image.sh" "oci:$LAYOUT:test" >"$TMPD/build.log" 2>&1; then
        ok "scripts/build-node-image.sh builds and verifies the image"
else
        if grep -q 'apt-get download' "$TMPD/build.log"; then
                give_up "Debian packages of arm64 cannot be downloaded here"
        fi
        not_ok "scripts/build-node-image.sh"
        sed 's/^/#   /' "$TMPD/build.log" | tail -20
        done_testing
        exit
fi
check "verify --deep: both platforms consistent" grep -q '2 platforms verified: consistent' "$TMPD/build.log"
run_xarch inspect "oci:$LAYOUT:test" --json
cp "$TMPD/out" "$TMPD/inspect.json"
check "the index holds linux/amd64 and linux/arm64" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))[0]
plats = sorted(m["platform"] for m in d["platforms"] if m["kind"] == "image")
assert plats == ["linux/amd64", "linux/arm64"], plats' "$TMPD/inspect.json"

cp "$HELLO" "$TMPD/hello-arm64"

# Inside the namespace: each step's status and output go to steps/NAME.{rc,out}.
cat >"$TMPD/ns.sh" <<'NS'
d=$1 image=$2
. "$PODMAN_NS"
# wait_for NAME COMMAND... : retries up to 30 s (a bound, not a timing assertion)
wait_for() {
        name=$1; shift; i=0
        while [ $i -lt 300 ]; do
                if "$@" >/dev/null 2>&1; then echo 0 >"$d/steps/$name.rc"; return; fi
                sleep 0.1; i=$((i + 1))
        done
        echo 1 >"$d/steps/$name.rc"
}
runs_arm64() { "$d/hello-arm64" | grep -qx 'hello from arm64'; }
step pull pm pull -q "$image"
step tag pm tag "$(tail -1 "$d/steps/pull.out")" localhost/xarch-node:test
step run-before sh -c "'$d/hello-arm64'"
# as the DaemonSet runs it: privileged, read-only root, the agent as the command
step start pm run -d --name agent --privileged --read-only --net=none --ulimit host \
        --mount type=devpts,destination=/dev/pts \
        localhost/xarch-node:test binfmt install --watch --interval 1 arm64 amd64
wait_for registered test -e "$d/bm/qemu-aarch64"
step flags grep -x 'flags: F' "$d/bm/qemu-aarch64"
step run-installed runs_arm64
step ready pm exec agent xarch binfmt status --check arm64
# removed by hand while the agent is paused: not ready; resumed: registered again
step pause pm pause agent
echo -1 >"$d/bm/qemu-aarch64"
step gone test ! -e "$d/bm/qemu-aarch64"
step not-ready sh -c "! '$XARCH' binfmt --mount '$d/bm' status --check arm64"
step unpause pm unpause agent
wait_for back test -e "$d/bm/qemu-aarch64"
step run-back runs_arm64
step ready-back pm exec agent xarch binfmt status --check arm64
step stop pm stop -t 10 agent
step logs pm logs agent
step left test -e "$d/bm/qemu-aarch64"
step run-after-stop runs_arm64
pm rm -f agent >/dev/null 2>&1
exit 0
NS

set +e
XARCH=$XARCH PODMAN_NS=$(cd "$(dirname "$0")" && pwd)/podman-ns.sh unshare --user --map-root-user --mount sh "$TMPD/ns.sh" "$TMPD" "oci:$LAYOUT:test"
nsrc=$?
set -e
[ "$nsrc" -eq 0 ] || give_up "could not mount binfmt_misc in the namespace"

rc_of() { cat "$TMPD/steps/$1.rc" 2>/dev/null || echo missing; }
show() { sed 's/^/#   /' "$TMPD/steps/$1.out" 2>/dev/null | head -20; }
step_ok() { # step_ok NAME "title"
        if [ "$(rc_of "$1")" = 0 ]; then ok "$2"; else
                not_ok "$2 (rc $(rc_of "$1"))"
                show "$1"
        fi
}

if [ "$(rc_of pull)" != 0 ] || [ "$(rc_of tag)" != 0 ]; then
        show pull
        give_up "podman cannot pull an oci: layout here"
fi
if [ "$(rc_of start)" != 0 ]; then
        show start
        give_up "podman cannot start a privileged container in this namespace"
fi
if [ "$(rc_of run-before)" != 0 ]; then ok "arm64 does not run before"; else not_ok "arm64 ran before"; fi
step_ok registered "the agent in the image registers qemu-aarch64"
step_ok flags "with flag F"
step_ok run-installed "an arm64 binary then runs (the image's emulator, pinned by F)"
step_ok ready "status --check arm64 in the container: ready"
step_ok gone "the entry removed by hand is gone"
step_ok not-ready "status --check arm64 fails meanwhile"
step_ok back "the agent registers it again"
step_ok run-back "arm64 runs again"
step_ok ready-back "and the container is ready again"
step_ok stop "podman stop (SIGTERM) ends the agent"
step_ok left "the entry stays after the agent is gone"
step_ok run-after-stop "arm64 still runs after the container is gone"
check "the agent skipped amd64, this node's own family" grep -q 'qemu-x86_64: skipped' "$TMPD/steps/logs.out"
check "the agent logged the re-registration" grep -q 'qemu-aarch64: was gone: registered again' "$TMPD/steps/logs.out"
check "and SIGTERM" grep -q 'SIGTERM: leaving the entries registered' "$TMPD/steps/logs.out"
show logs
done_testing
