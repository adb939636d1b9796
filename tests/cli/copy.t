#!/bin/bash
# xarch copy between OCI layouts, OCI archives and docker-archive tarballs, checked with
# independent readers (skopeo, podman load): whole copies keep every digest, subsets keep their
# attestations, reruns skip what is there, and nothing half-written is left on failure.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"

if ! missing=$(images_have_tools); then
        skip "copy tests: $missing not installed"
        done_testing
        exit $?
fi
images_prepare
trap 'rm -rf "$TMPD" "$(podman_runroot)"' EXIT
L=$IMAGES/local
IMAGES_STATE=$TMPD/state
mkdir -p "$IMAGES_STATE/tmp"
sha() { python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }
want=$(skopeo inspect --raw "oci:$L/multi.oci:latest" | sha)

# whole copies: the digest at DST is SRC's, read back by skopeo
run_xarch copy "oci:$L/multi.oci:latest" "oci:$TMPD/a.oci:v1"
expect_rc 0 "oci: -> oci: exits 0"
expect_out "^$want\$" "prints the index digest"
[ "$(skopeo inspect --raw "oci:$TMPD/a.oci:v1" | sha)" = "$want" ] && ok "skopeo reads the same index" || not_ok "index differs"
skopeo_ copy -q --all "oci:$TMPD/a.oci:v1" "oci:$TMPD/check.oci:x" && ok "skopeo copies every blob out of it (digests verified)" || not_ok "skopeo copy failed"

run_xarch copy --json "oci:$L/multi.oci:latest" "oci:$TMPD/a.oci:v1"
expect_rc 0 "rerun exits 0"
expect_out '"blobs": 0,' "rerun writes no blob"
expect_out '"manifests": 0,' "rerun writes no manifest"

run_xarch copy "oci:$TMPD/a.oci:v1" "oci:$TMPD/a.oci:v2"
expect_rc 0 "second tag in the same layout"
python3 - "$TMPD/a.oci/index.json" <<'PY' && ok "index.json names v1 and v2" || not_ok "index.json: $(cat "$TMPD/a.oci/index.json")"
import json, sys
names = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1]))["manifests"])
sys.exit(names != ["v1", "v2"])
PY

run_xarch copy "oci:$L/multi.oci:latest" "oci-archive:$TMPD/a.tar:v1"
expect_rc 0 "oci: -> oci-archive: exits 0"
[ "$(skopeo inspect --raw "oci-archive:$TMPD/a.tar:v1" | sha)" = "$want" ] && ok "skopeo reads the archive's index" || not_ok "archive index differs"
run_xarch copy "oci-archive:$TMPD/a.tar:v1" "oci:$TMPD/b.oci"
expect_out "^$want\$" "oci-archive: -> oci: keeps the digest"

# attestations follow their image
run_xarch copy --json --platform linux/arm64 "oci:$L/multi.oci:latest" "oci:$TMPD/sub.oci:s"
expect_rc 0 "--platform exits 0"
expect_out '"rewritten": true' "a subset is a new index"
n=$(skopeo inspect --raw "oci:$TMPD/sub.oci:s" | python3 -c 'import json,sys; m=json.load(sys.stdin)["manifests"]; print(len(m), m[0]["platform"]["architecture"])')
[ "$n" = "1 arm64" ] && ok "the new index holds just arm64" || not_ok "subset: $n"

run_xarch copy --platform linux/s390x "oci:$L/multi.oci:latest" "oci:$TMPD/none.oci"
expect_rc 1 "a platform the source lacks exits 1"
expect_err 'has no linux/s390x image' "and names it"
[ ! -e "$TMPD/none.oci/index.json" ] && ok "nothing tagged" || not_ok "index.json written"

# docker-archive: one image, loadable by podman
run_xarch copy "oci:$L/multi.oci:latest" "docker-archive:$TMPD/d.tar:demo:v1"
expect_rc 1 "an index to docker-archive without --platform exits 1"
expect_err 'choose one platform with --platform' "and says what to do"
[ ! -e "$TMPD/d.tar" ] && ok "no archive left" || not_ok "archive left behind"
run_xarch copy --platform linux/arm/v7 "oci:$L/multi.oci:latest" "docker-archive:$TMPD/d.tar:demo:v1"
expect_rc 0 "one platform to docker-archive exits 0"
img=$(skopeo inspect --raw "oci:$L/multi.oci:latest" | python3 -c '
import json,sys
for m in json.load(sys.stdin)["manifests"]:
    if m["platform"]["architecture"] == "arm": print(m["digest"])')
expect_out "^$img\$" "prints the arm/v7 image digest"
podman_ load -i "$TMPD/d.tar" >"$TMPD/load" 2>&1 && grep -q 'demo:v1' "$TMPD/load" && ok "podman load takes it" || not_ok "podman load: $(cat "$TMPD/load")"
arch=$(podman_ image inspect --format '{{.Architecture}}' demo:v1 2>/dev/null || true)
[ "$arch" = "arm" ] && ok "podman sees arm" || not_ok "podman sees '$arch'"
skopeo inspect "docker-archive:$TMPD/d.tar" >/dev/null && ok "skopeo reads the docker-archive" || not_ok "skopeo docker-archive"
run_xarch copy "docker-archive:$L/single.docker.tar" "oci:$TMPD/fromdocker.oci"
expect_rc 0 "docker-archive (podman save) -> oci: exits 0"

# bad input: one clear line, exit 1 or 2
run_xarch copy "oci:$TMPD/missing" "oci:$TMPD/y"
expect_rc 1 "a missing source exits 1"
run_xarch copy "oci:$L/multi.oci:latest"
expect_rc 2 "one argument is a usage error"
run_xarch copy --platform 'linux/arm64,linux/arm64' "oci:$L/multi.oci:latest" "oci:$TMPD/z"
expect_rc 2 "a platform given twice is a usage error"
mkdir -p "$TMPD/notlayout" && echo x >"$TMPD/notlayout/file"
run_xarch copy "oci:$L/multi.oci:latest" "oci:$TMPD/notlayout"
expect_rc 1 "a directory that is not a layout is refused"
expect_err 'is not an OCI layout' "and says so"

# a source blob whose bytes do not match its digest: the copy reads and checks it once, and
# nothing lands under that digest, whatever the destination
cp -r "$L/multi.oci" "$TMPD/bad.oci"
chmod -R u+w "$TMPD/bad.oci"
bad=$(find "$TMPD/bad.oci/blobs/sha256" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
python3 -c 'import os, sys; f = open(sys.argv[1], "r+b"); at = os.path.getsize(sys.argv[1]) // 2; f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 1]))' "$bad"
for dst in "oci:$TMPD/bad-out.oci:v1" "oci-archive:$TMPD/bad-out.tar:v1"; do
        run_xarch copy "oci:$TMPD/bad.oci:latest" "$dst"
        expect_rc 1 "${dst%%:*}: a blob that does not match its digest fails the copy"
        expect_err "$(basename "$bad")" "${dst%%:*}: the error names the blob"
done
[ ! -e "$TMPD/bad-out.oci/blobs/sha256/$(basename "$bad")" ] && ok "oci: nothing stored under the bad blob's digest" || not_ok "oci: the bad blob was stored"
[ ! -e "$TMPD/bad-out.oci/index.json" ] || ! grep -q '"v1"' "$TMPD/bad-out.oci/index.json" && ok "oci: no tag written" || not_ok "oci: tagged"
[ ! -e "$TMPD/bad-out.tar" ] && ok "oci-archive: no archive left" || not_ok "oci-archive: archive left"
rm -rf "$TMPD/bad.oci" "$TMPD/bad-out.oci"

done_testing
