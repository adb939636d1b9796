#!/bin/bash
# xarch inspect on local sources made by independent tools: an OCI layout and an OCI archive
# written by skopeo, a docker-archive and an OCI archive written by podman save. The registry
# copy of the same image (read by skopeo) is the oracle for digests and platforms.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"

if ! missing=$(images_have_tools); then
        skip "local source tests: $missing not installed"
        done_testing
        exit $?
fi
images_prepare
registry_start "$IMAGES/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
L=$IMAGES/local

want_index=$(skopeo inspect --raw --tls-verify=false "docker://$REG/multi" |
        python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
platforms_of() { python3 -c '
import json, sys
for img in json.load(open(sys.argv[1])):
    print(" ".join(p["platform"] + "=" + str(p["layers"]) for p in img["platforms"]))' "$TMPD/out"; }

run_xarch inspect --json "$REG/multi"
want_platforms=$(platforms_of)

for spec in "oci:$L/multi.oci:latest" "oci:$L/multi.oci" "oci-archive:$L/multi.oci.tar:latest"; do
        run_xarch inspect --json "$spec"
        expect_rc 0 "$spec: exits 0"
        expect_out "\"digest\": \"$want_index\"" "$spec: index digest equals the registry's"
        [ "$(platforms_of)" = "$want_platforms" ] && ok "$spec: same platforms and layer counts" ||
                not_ok "$spec: $(platforms_of) vs $want_platforms"
done
run_xarch inspect --raw "oci-archive:$L/multi.oci.tar"
skopeo inspect --raw --tls-verify=false "docker://$REG/multi" >"$TMPD/want"
cmp -s "$TMPD/out" "$TMPD/want" && ok "oci-archive --raw equals the registry's bytes" || not_ok "--raw differs"

# podman save: docker-archive (the tag it recorded names the registry the image came from)
saved_tag=$(tar -xOf "$L/single.docker.tar" manifest.json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RepoTags"][0])')
# podman save: docker-archive (legacy manifest.json, synthesised manifest) and oci-archive
for spec in "docker-archive:$L/single.docker.tar" "docker-archive:$L/single.docker.tar:$saved_tag" \
        "docker-archive:$L/single.docker.tar:@0" "oci-archive:$L/single.oci.tar"; do
        run_xarch inspect --platform linux/arm64 "$spec"
        expect_rc 0 "$spec: exits 0"
        expect_out '^  platform    linux/arm64/v8 \(from the config\)$' "$spec: platform from the config"
        expect_out '^  layers      1 ' "$spec: one layer"
        expect_out 'linux/arm64 node pulls linux/arm64/v8 sha256:[0-9a-f]{64} \(rule: normalized\)' "$spec: selection"
done
run_xarch inspect --json "docker-archive:$L/single.docker.tar"
expect_out '"synthesized": true' "docker-archive: the manifest is marked synthesised"
run_xarch inspect --config "docker-archive:$L/single.docker.tar"
skopeo inspect --config --raw --tls-verify=false "docker://$REG/single:arm64" >"$TMPD/want"
cmp -s "$TMPD/out" "$TMPD/want" && ok "docker-archive --config equals the registry's config" || not_ok "config differs"

# errors: unknown tag (tags listed), several images without a tag, corruption, truncation
run_xarch inspect "oci:$L/multi.oci:nope"
expect_rc 1 "unknown tag exits 1"
expect_err "no image tagged 'nope' \\(tags: latest\\)" "unknown tag: one line naming the tags"
run_xarch inspect "docker-archive:$L/single.docker.tar:other:1"
expect_err "no image tagged 'other:1'" "docker-archive: unknown tag"
cp -r "$L/multi.oci" "$TMPD/corrupt"
blob=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"].split(":")[1])' "$TMPD/corrupt/index.json")
sed -i 's/"schemaVersion": *2/"schemaVersion":2 /' "$TMPD/corrupt/blobs/sha256/$blob"
printf ' ' >>"$TMPD/corrupt/blobs/sha256/$blob"
run_xarch inspect "oci:$TMPD/corrupt"
expect_rc 1 "a corrupted blob exits 1"
expect_err "digest mismatch" "a corrupted blob is caught by its digest"
head -c $(($(stat -c %s "$L/multi.oci.tar") / 2)) "$L/multi.oci.tar" >"$TMPD/truncated.tar"
run_xarch inspect "oci-archive:$TMPD/truncated.tar"
expect_rc 1 "a truncated archive exits 1"
expect_err "malformed tar archive: truncated" "a truncated archive: one clear line"
gzip -c "$L/single.docker.tar" >"$TMPD/single.tar.gz"
run_xarch inspect "docker-archive:$TMPD/single.tar.gz"
expect_err "is gzip-compressed; decompress it first" "a gzipped archive: says so"
run_xarch inspect "oci:$TMPD"
expect_err "not an OCI image layout" "a directory without oci-layout"

done_testing
