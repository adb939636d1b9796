#!/bin/bash
# `kill -9` of `xarch build` half way through a registry push, then a rerun. The tag already
# names an older image; the new build's arm64 layer holds 64 MiB of random data. The kill lands
# while Debian's docker-registry is receiving that layer: a watcher polls the registry storage's
# _uploads directory, stops xarch (SIGSTOP) as soon as the upload holds data, checks the upload
# is unfinished, and sends SIGKILL. Then the tag still names the older image, a rerun succeeds,
# and xarch verify and skopeo accept what it pushed. The same for `xarch copy` of that image to
# a second registry (the layer streamed registry to registry): no tag after the kill, and the
# rerun's copy has the source's digest. And for an oci-archive file that exists: the old archive
# stays whole, and the killed build leaves no temporary file next to it.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
FX=$XARCH_FIXTURES

for t in docker-registry skopeo python3 curl jq; do
        command -v $t >/dev/null 2>&1 || { skip "$t not installed (scripts/install-deps --test)"; done_testing; exit $?; }
done
[ -f "$FX/go/hello-arm64" ] || { skip "fixture binaries missing (tests/fixtures/make-fixtures.sh)"; done_testing; exit $?; }
export XDG_CACHE_HOME=$TMPD/cache
PIDS=
trap images_cleanup EXIT
registry_start "$TMPD/r"
PIDS="$PIDS $REGISTRY_PID"
R=$REG
UPLOADS=$TMPD/r/docker/registry/v2/repositories/kill/app/_uploads
tag_digest() {
        curl -fsS -o /dev/null -D - -H 'Accept: application/vnd.oci.image.index.v1+json' \
                -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/kill/app/manifests/v1" |
                tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}
sha() { python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }

two=(--platform linux/amd64,linux/arm64 --add "$FX/go/hello-{arch}:/hello" --entrypoint /hello)
run_xarch build --json "${two[@]}" -t "$R/kill/app:v1"
expect_rc 0 "the older image is pushed"
old=$(jq -r .digest "$TMPD/out")

head -c 67108864 /dev/urandom >"$TMPD/big.bin"
big=("${two[@]}" --add "linux/arm64=$TMPD/big.bin:/data/big.bin")

# Runs xarch, stops and kills it once a file matching GLOB (an upload's data in the registry), or
# with fd:DIR a file under DIR that xarch has open (unnamed ones too), holds 4 MiB, before it
# holds the whole 64 MiB; prints what it saw as JSON.
cat >"$TMPD/killer.py" <<'PY'
import glob, json, os, signal, subprocess, sys, time
pattern, argv = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(argv, stdout=open(os.devnull, "w"), stderr=subprocess.DEVNULL)
def files():
    if not pattern.startswith("fd:"):
        return glob.glob(pattern)
    out = []
    for fd in glob.glob(f"/proc/{p.pid}/fd/*"):
        try:
            if os.readlink(fd).startswith(pattern[3:]):
                out.append(fd)
        except OSError:
            pass
    return out
def fsize(f):
    try:
        return os.stat(f).st_size
    except OSError:
        return 0
state, size = "exited", 0
while p.poll() is None:
    sizes = [fsize(f) for f in files()]
    # the amd64 layer (one Go binary) is under 4 MiB; a bigger upload is the arm64 layer
    if sizes and max(sizes) >= 4 << 20:
        p.send_signal(signal.SIGSTOP)
        sizes = [fsize(f) for f in files()]
        state = "mid-upload" if sizes and max(sizes) < 64 << 20 else "too-late"
        size = max(sizes) if sizes else 0
        p.kill()
        break
    time.sleep(0.002)
p.wait()
print(json.dumps({"state": state, "bytes": size, "rc": p.returncode}))
PY
python3 "$TMPD/killer.py" "$UPLOADS/*/data" "$XARCH" build --json "${big[@]}" -t "$R/kill/app:v1" >"$TMPD/kill.json"
state=$(jq -r .state "$TMPD/kill.json")
if [ "$state" = mid-upload ]; then
        ok "xarch was killed (-9) while uploading the 64 MiB layer ($(jq -r .bytes "$TMPD/kill.json") bytes in)"
else
        not_ok "the kill did not land mid-upload: $(cat "$TMPD/kill.json")"
fi
[ "$(jq -r .rc "$TMPD/kill.json")" = -9 ] && ok "xarch died of SIGKILL" || not_ok "xarch exit: $(cat "$TMPD/kill.json")"
ls "$UPLOADS"/*/data >/dev/null 2>&1 && ok "the registry holds the unfinished upload" ||
        not_ok "no unfinished upload in the registry"
now=$(tag_digest)
[ "$now" = "$old" ] && ok "the tag still names the older image" || not_ok "the tag names $now, not $old"

run_xarch build --json "${big[@]}" -t "$R/kill/app:v1"
expect_rc 0 "the rerun succeeds"
new=$(jq -r .digest "$TMPD/out")
[ "$(jq -r .verified "$TMPD/out")" = true ] && ok "the rerun's push was verified" || not_ok "verified: $(jq -r .verified "$TMPD/out")"
[ "$new" != "$old" ] && [ "$(tag_digest)" = "$new" ] && ok "the tag names the new image" ||
        not_ok "tag $(tag_digest), new $new, old $old"
run_xarch verify "$R/kill/app:v1"
expect_rc 0 "xarch verify accepts it"
[ "$(skopeo inspect --raw --tls-verify=false "docker://$R/kill/app:v1" | sha)" = "$new" ] &&
        ok "skopeo reads the index xarch printed" || not_ok "skopeo reads another index"
got=$(skopeo inspect --tls-verify=false --override-arch arm64 "docker://$R/kill/app:v1" |
        jq -r '.Architecture + " " + (.Layers | length | tostring)')
[ "$got" = "arm64 1" ] && ok "skopeo inspects the arm64 image: one layer" || not_ok "skopeo: $got"
skopeo copy -q --src-tls-verify=false --override-arch arm64 "docker://$R/kill/app:v1" "dir:$TMPD/pulled" >/dev/null 2>&1 &&
        ok "skopeo pulls the arm64 image, every blob digest-checked" || not_ok "skopeo copy of the arm64 image failed"

# ---- xarch copy to another registry, killed while the big layer streams across ----
registry_start "$TMPD/r2"
PIDS="$PIDS $REGISTRY_PID"
R2=$REG
UPLOADS2=$TMPD/r2/docker/registry/v2/repositories/kill/copy/_uploads
python3 "$TMPD/killer.py" "$UPLOADS2/*/data" "$XARCH" copy "$R/kill/app:v1" "$R2/kill/copy:v1" >"$TMPD/kill2.json"
[ "$(jq -r .state "$TMPD/kill2.json")" = mid-upload ] && [ "$(jq -r .rc "$TMPD/kill2.json")" = -9 ] &&
        ok "xarch copy was killed (-9) while streaming the 64 MiB layer" ||
        not_ok "the copy's kill did not land mid-upload: $(cat "$TMPD/kill2.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "http://$R2/v2/kill/copy/manifests/v1")
[ "$code" = 404 ] && ok "no tag at the destination after the kill" || not_ok "the destination tag answers $code"
run_xarch copy "$R/kill/app:v1" "$R2/kill/copy:v1"
expect_rc 0 "the copy's rerun succeeds"
expect_out "^$new\$" "and prints the source's digest"
[ "$(skopeo inspect --raw --tls-verify=false "docker://$R2/kill/copy:v1" | sha)" = "$new" ] &&
        ok "skopeo reads the source's index at the destination" || not_ok "skopeo reads another index"
skopeo copy -q --src-tls-verify=false --override-arch arm64 "docker://$R2/kill/copy:v1" "dir:$TMPD/pulled2" >/dev/null 2>&1 &&
        cmp -s "$TMPD/pulled/manifest.json" "$TMPD/pulled2/manifest.json" &&
        ok "skopeo pulls the copied arm64 image, every blob digest-checked" || not_ok "skopeo copy of the copied image"

# ---- an oci-archive that exists, rewritten by a build that is killed half way ----
mkdir -p "$TMPD/dest"
run_xarch build "${two[@]}" -t "oci-archive:$TMPD/dest/app.tar:v1"
expect_rc 0 "the older image as an oci-archive"
cp "$TMPD/dest/app.tar" "$TMPD/before-app.tar"
python3 "$TMPD/killer.py" "fd:$TMPD/dest/" "$XARCH" build "${big[@]}" -t "oci-archive:$TMPD/dest/app.tar:v1" >"$TMPD/kill3.json"
[ "$(jq -r .state "$TMPD/kill3.json")" = mid-upload ] && [ "$(jq -r .rc "$TMPD/kill3.json")" = -9 ] &&
        ok "xarch build was killed (-9) while writing the archive" ||
        not_ok "the archive kill did not land mid-write: $(cat "$TMPD/kill3.json")"
left=$(cd "$TMPD/dest" && ls -d app.tar.* 2>/dev/null || true)
[ -z "$left" ] && ok "nothing left next to the destination (the archive had no name yet)" ||
        not_ok "the killed build left $left ($(du -sh "$TMPD/dest/$left" | cut -f1))"
cmp -s "$TMPD/dest/app.tar" "$TMPD/before-app.tar" && ok "the archive at the destination is the older one, whole" ||
        not_ok "the archive at the destination changed"
[ "$(skopeo inspect --raw "oci-archive:$TMPD/dest/app.tar:v1" | sha)" = "$old" ] &&
        ok "skopeo reads the older index from it" || not_ok "skopeo cannot read the older archive"
run_xarch build --json "${big[@]}" -t "oci-archive:$TMPD/dest/app.tar:v1"
expect_rc 0 "the archive rerun succeeds"
[ "$(jq -r .digest "$TMPD/out")" = "$new" ] && [ "$(skopeo inspect --raw "oci-archive:$TMPD/dest/app.tar:v1" | sha)" = "$new" ] &&
        ok "the new archive holds the same index as the registry push" || not_ok "archive index $(jq -r .digest "$TMPD/out"), pushed $new"

done_testing
