#!/bin/bash
# containerd reads what `xarch build` pushed: Debian's containerd (run here with its own root,
# state, socket and ttrpc address under a short /tmp directory; no CRI plugin) pulls
# linux/amd64 and linux/arm64 from a loopback docker-registry with `ctr images pull --platform`.
# The image it records is the index xarch printed; the chain ID it unpacks is the layer's
# diff_id xarch reported; the manifest and config in its content store are the ones xarch
# built; and the unpacked snapshot holds the very binary that was added, per platform. A zstd
# build is pulled and unpacked the same way.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
FX=$XARCH_FIXTURES

give_up() {
        skip "$1"
        done_testing
        exit
}
for t in containerd ctr docker-registry python3 curl jq; do
        command -v $t >/dev/null 2>&1 || give_up "$t not installed (scripts/install-deps --test)"
done
[ -f "$FX/go/hello-arm64" ] || give_up "fixture binaries missing (tests/fixtures/make-fixtures.sh)"
export XDG_CACHE_HOME=$TMPD/cache
# unix sockets take at most 108 bytes: containerd's directory is short, never under the build dir
CD=$(mktemp -d /tmp/xc.XXXXXX)
PIDS=
cleanup() {
        rc=$?
        set +e
        for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        rm -rf "$TMPD" "$CD"
        exit $rc
}
trap cleanup EXIT

cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CD/c.sock"
[ttrpc]
  address = "$CD/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
containerd --config "$CD/config.toml" >"$CD/log" 2>&1 &
PIDS="$PIDS $!"
CPID=$!
c() { ctr --address "$CD/c.sock" --namespace "${NS:-default}" "$@"; }
i=0
until [ -S "$CD/c.sock" ] && c version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$CPID" 2>/dev/null; then
                give_up "containerd cannot run here: $(tail -2 "$CD/log")"
        fi
        sleep 0.05
done
registry_start "$TMPD/r"
PIDS="$PIDS $REGISTRY_PID"
R=$REG

echo "arm64 side" >"$TMPD/note-arm64"
echo "amd64 side" >"$TMPD/note-amd64"
two=(--platform linux/amd64,linux/arm64 --add "$FX/go/hello-{arch}:/hello"
        --add "$TMPD/note-{arch}:/etc/note" --entrypoint /hello)
run_xarch build --json "${two[@]}" -t "$R/ctr/hello:v1"
expect_rc 0 "xarch build pushes two platforms"
cp "$TMPD/out" "$TMPD/gzip.json"
run_xarch build --json --compression zstd "${two[@]}" -t "$R/ctr/hello:zstd"
expect_rc 0 "and a zstd build of the same"
cp "$TMPD/out" "$TMPD/zstd.json"

# the unpacked snapshot of CHAINID, as a directory: an active snapshot on top, then its bind source
snapshot_dir() {
        c snapshots --snapshotter native prepare "view-$2" "$1" >/dev/null 2>&1 || return 1
        c snapshots --snapshotter native mounts /x "view-$2" | sed -n 's/^mount -t bind \([^ ]*\) .*/\1/p'
}

for build in gzip zstd; do
        # each build in its own containerd namespace, so the zstd layers are unpacked anew
        NS=$build tag=v1
        [ $build = zstd ] && tag=zstd
        J=$TMPD/$build.json
        ref=$R/ctr/hello:$tag
        for a in amd64 arm64; do
                n=$(jq -r --arg p linux/$a '.platforms | map(.platform) | index($p)' "$J")
                diff_id=$(jq -r ".platforms[$n].layer.diff_id" "$J")
                manifest=$(jq -r ".platforms[$n].manifest" "$J")
                config=$(jq -r ".platforms[$n].config" "$J")
                if c images pull --plain-http --snapshotter native --platform linux/$a --print-chainid "$ref" \
                        >"$TMPD/pull" 2>&1; then
                        ok "$build: ctr pulls linux/$a"
                else
                        not_ok "$build: ctr pull linux/$a"
                        sed 's/^/#   /' "$TMPD/pull" | tail -5
                        continue
                fi
                chain=$(sed -n 's/.*chain ID: *//p' "$TMPD/pull" | tail -1)
                [ "$chain" = "$diff_id" ] && ok "$build/$a: containerd unpacked the layer xarch reported ($diff_id)" ||
                        not_ok "$build/$a: chain ID $chain, xarch's diff_id $diff_id"
                got=$(c content get "$manifest" | python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
                [ "$got" = "$manifest" ] && ok "$build/$a: the manifest xarch printed is in containerd's store" ||
                        not_ok "$build/$a: manifest $manifest not in the content store"
                arch=$(c content get "$config" | jq -r '.os + "/" + .architecture + " " + (.config.Entrypoint | join(" "))')
                [ "$arch" = "linux/$a /hello" ] && ok "$build/$a: its config says linux/$a, entrypoint /hello" ||
                        not_ok "$build/$a: config says $arch"
                dir=$(snapshot_dir "$chain" "$build-$a" || true)
                if [ -n "$dir" ] && cmp -s "$dir/hello" "$FX/go/hello-$a" && cmp -s "$dir/etc/note" "$TMPD/note-$a"; then
                        ok "$build/$a: the unpacked snapshot holds hello-$a and its note"
                else
                        not_ok "$build/$a: unpacked snapshot '$dir': $(ls -la "$dir" 2>&1 | tr '\n' ' ')"
                fi
        done
        target=$(c images ls | awk -v r="$ref" '$1 == r {print $3}')
        [ "$target" = "$(jq -r .digest "$J")" ] && ok "$build: containerd's image names the index xarch printed" ||
                not_ok "$build: containerd's image is $target, xarch printed $(jq -r .digest "$J")"
done

# on a base: the base's layer, then xarch's; containerd's chain ID covers both, in that order
NS=based
run_xarch build --json --from "$R/ctr/hello:v1" --add "$TMPD/note-arm64:/etc/motd" -t "$R/ctr/based:v1"
expect_rc 0 "xarch build on the pushed image as a base"
n=$(jq -r '.platforms | map(.platform) | index("linux/arm64")' "$TMPD/out")
base_diff=$(jq -r '.platforms[] | select(.platform == "linux/arm64") | .layer.diff_id' "$TMPD/gzip.json")
own_diff=$(jq -r ".platforms[$n].layer.diff_id" "$TMPD/out")
want=$(printf '%s %s' "$base_diff" "$own_diff" | python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if c images pull --plain-http --snapshotter native --platform linux/arm64 --print-chainid "$R/ctr/based:v1" >"$TMPD/pull" 2>&1; then
        chain=$(sed -n 's/.*chain ID: *//p' "$TMPD/pull" | tail -1)
        [ "$chain" = "$want" ] && ok "containerd unpacks the base layer then xarch's (chain ID of both)" ||
                not_ok "chain ID $chain, want $want (base $base_diff, own $own_diff)"
        dir=$(snapshot_dir "$chain" based || true)
        if [ -n "$dir" ] && cmp -s "$dir/hello" "$FX/go/hello-arm64" && cmp -s "$dir/etc/motd" "$TMPD/note-arm64"; then
                ok "the unpacked root holds the base's hello and the added motd"
        else
                not_ok "unpacked root '$dir': $(ls -laR "$dir" 2>&1 | head -12 | tr '\n' ' ')"
        fi
else
        not_ok "ctr pull of the image built on a base"
        sed 's/^/#   /' "$TMPD/pull" | tail -5
fi

# the archive destinations, imported: an oci-archive of both platforms and a docker-archive
NS=archives
run_xarch build --json "${two[@]}" -t "oci-archive:$TMPD/img.tar:v1"
expect_rc 0 "xarch build writes an oci-archive"
idx=$(jq -r .digest "$TMPD/out")
arm64=$(jq -r '.platforms[] | select(.platform == "linux/arm64") | .manifest' "$TMPD/out")
run_xarch build --platform linux/arm64 --add "$FX/go/hello-arm64:/hello" --add "$TMPD/note-arm64:/etc/note" \
        --entrypoint /hello -t "docker-archive:$TMPD/d.tar:xarch/d:v1"
expect_rc 0 "xarch build writes a docker-archive"
if c images import --snapshotter native --all-platforms --base-name xarch/oci "$TMPD/img.tar" >"$TMPD/imp" 2>&1 &&
        c images import --snapshotter native --platform linux/arm64 "$TMPD/d.tar" >>"$TMPD/imp" 2>&1; then
        ok "ctr imports and unpacks both archives"
else
        not_ok "ctr images import"
        sed 's/^/#   /' "$TMPD/imp" | tail -5
fi
c images ls >"$TMPD/ls"
[ "$(awk '$1 == "xarch/oci:v1" {print $3}' "$TMPD/ls")" = "$idx" ] &&
        ok "the oci-archive's tag names the index xarch printed" || not_ok "oci-archive: $(cat "$TMPD/ls")"
[ "$(awk '$1 == "docker.io/xarch/d:v1" {print $3}' "$TMPD/ls")" = "$arm64" ] &&
        ok "the docker-archive's name names the arm64 manifest (the same as in the index)" ||
        not_ok "docker-archive: $(cat "$TMPD/ls")"

done_testing
