#!/bin/bash
# xarch index create/add/remove/annotate against Debian's docker-registry and OCI layouts:
# platforms from configs (wrong labels refused unless --force), duplicates refused,
# attestations follow their image, canonical order (same set, same digest), Docker lists only
# of Docker manifests. skopeo reads every result.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"

if ! missing=$(images_have_tools); then
        skip "index tests: $missing not installed"
        done_testing
        exit $?
fi
images_prepare
PIDS=
trap images_cleanup EXIT
registry_start "$IMAGES/registry"
PIDS="$PIDS $REGISTRY_PID"
R0=$REG
registry_start "$TMPD/r1"
PIDS="$PIDS $REGISTRY_PID"
R1=$REG
raw() { skopeo inspect --raw --tls-verify=false "docker://$1"; }
entries() { # REF -> "platform digest" lines, in index order
        raw "$1" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    p = m.get("platform", {})
    print("/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x), m["digest"],
          m.get("annotations", {}).get("vnd.docker.reference.type", ""))'
}
child() { # INDEX-REF ARCH -> digest of that entry
        raw "$1" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    if m.get("platform", {}).get("architecture") == sys.argv[1]: print(m["digest"]); break' "$2"
}

# single-platform images, copied out of the multi-arch index by digest
for a in amd64 arm64 arm; do
        run_xarch copy "$R0/multi@$(child "$R0/multi" $a)" "$R1/img:$a"
        expect_rc 0 "single $a image ready"
done

run_xarch index create "$R1/idx:v1" "$R1/img:arm64" "$R1/img:amd64"
expect_rc 0 "create exits 0"
d1=$(cat "$TMPD/out")
run_xarch index create "$R1/idx:v2" "$R1/img:amd64" "$R1/img:arm64"
[ "$(cat "$TMPD/out")" = "$d1" ] && ok "the same set in another order gives the same digest" || not_ok "order changes the digest"
entries "$R1/idx:v1" >"$TMPD/e"
[ "$(cut -d' ' -f1 "$TMPD/e" | tr '\n' ' ')" = "linux/amd64 linux/arm64/v8 " ] &&
        ok "platforms from the configs, canonical order" || not_ok "entries: $(cat "$TMPD/e")"

run_xarch index add "$R1/idx:v1" "$R1/img:arm"
expect_rc 0 "add exits 0"
[ "$(entries "$R1/idx:v1" | wc -l)" = 3 ] && ok "three entries after add" || not_ok "add: $(entries "$R1/idx:v1")"
d3=$(cat "$TMPD/out")
run_xarch index add "$R1/idx:v1" "$R1/img:arm"
[ "$(cat "$TMPD/out")" = "$d3" ] && ok "adding an image already there changes nothing" || not_ok "re-add changed the digest"

# a different amd64 image (from the Docker list) is a duplicate platform
run_xarch index add "$R1/idx:v1" "$R0/dlist@$(child "$R0/dlist" amd64)"
expect_rc 1 "a second linux/amd64 image is refused"
expect_err 'two images for linux/amd64' "and named"
[ "$(raw "$R1/idx:v1" | sha256sum | cut -c1-64)" = "${d3#sha256:}" ] && ok "the tag did not move" || not_ok "tag moved after a refusal"

run_xarch index remove "$R1/idx:v1" --platform linux/arm64
expect_rc 0 "remove exits 0"
entries "$R1/idx:v1" | grep -q arm64 && not_ok "arm64 still there" || ok "arm64 removed"

# labels that disagree with the config
run_xarch index create --platform linux/s390x "$R1/idx:bad" "$R1/img:amd64"
expect_rc 1 "a label that disagrees with the config is refused"
expect_err 'labelled linux/s390x but its config says linux/amd64' "and both are named"
run_xarch index create --force --platform linux/s390x "$R1/idx:forced" "$R1/img:amd64"
expect_rc 0 "--force keeps the label"
entries "$R1/idx:forced" | grep -q '^linux/s390x ' && ok "the forced label is written" || not_ok "forced: $(entries "$R1/idx:forced")"

# attestations follow their image
run_xarch index create "$R1/att:v1" "$R0/attest"
expect_rc 0 "an index with attestations is flattened"
n_att=$(entries "$R1/att:v1" | grep -c attestation-manifest || true)
[ "$n_att" = 2 ] && ok "its two attestations come along" || not_ok "attestations: $n_att"
run_xarch index remove "$R1/att:v1" --platform linux/amd64
n_att=$(entries "$R1/att:v1" | grep -c attestation-manifest || true)
[ "$n_att" = 1 ] && ok "removing amd64 drops its attestation only" || not_ok "after remove: $(entries "$R1/att:v1")"
run_xarch index create --format docker "$R1/att:docker" "$R0/attest"
expect_rc 1 "a Docker list of OCI manifests is refused"
expect_err 'Docker manifest list cannot hold' "and says why"

# Docker lists of Docker manifests
run_xarch index create --json --format docker "$R1/dl:v1" "$R0/dlist"
expect_rc 0 "--format docker of Docker manifests exits 0"
raw "$R1/dl:v1" | grep -q '"application/vnd.docker.distribution.manifest.list.v2+json"' &&
        ok "a Docker manifest list is written" || not_ok "not a Docker list"

# annotations
run_xarch index annotate "$R1/idx:v1" org.opencontainers.image.version=1.0
expect_rc 0 "annotate exits 0"
raw "$R1/idx:v1" | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["annotations"]["org.opencontainers.image.version"] != "1.0")' &&
        ok "index annotation written" || not_ok "annotation missing"
run_xarch index annotate "$R1/idx:v1" --platform linux/arm/v7 note=thirty-two
raw "$R1/idx:v1" | python3 -c '
import json, sys
m = [e for e in json.load(sys.stdin)["manifests"] if e["platform"]["architecture"] == "arm"][0]
sys.exit(m["annotations"]["note"] != "thirty-two")' && ok "entry annotation written" || not_ok "entry annotation missing"

# OCI layouts
run_xarch index create "oci:$TMPD/l.oci:v1" "$R0/dlist@$(child "$R0/dlist" amd64)" "oci:$IMAGES/local/multi.oci:latest"
expect_rc 1 "a layout index with two linux/amd64 images is refused"
run_xarch index create "oci:$TMPD/l.oci:v1" "$R1/img:arm" "$R1/img:arm64"
expect_rc 0 "create in an OCI layout"
run_xarch index add "oci:$TMPD/l.oci:v1" "$R1/img:amd64"
expect_rc 0 "add in an OCI layout"
[ "$(skopeo inspect --raw "oci:$TMPD/l.oci:v1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["manifests"]))')" = 3 ] &&
        ok "skopeo reads three entries from the layout" || not_ok "layout entries"
skopeo copy -q --all "oci:$TMPD/l.oci:v1" "oci:$TMPD/check.oci:x" && ok "skopeo copies the layout (every blob there)" || not_ok "skopeo copy of the layout"
# a layout named without a tag means its one image, to the writer as to the reader: an edit of
# "oci:DIR" replaces that entry and keeps its name, so the next edit finds one image again
cp -r "$TMPD/l.oci" "$TMPD/one.oci"
run_xarch index annotate "oci:$TMPD/one.oci" team=x
expect_rc 0 "annotate of an untagged layout holding one tagged index exits 0"
run_xarch index annotate "oci:$TMPD/one.oci" owner=y
expect_rc 0 "a second annotate of it exits 0 (still one image)"
python3 - "$TMPD/one.oci/index.json" <<'PY' && ok "index.json: one entry, still named v1" || not_ok "index.json: $(cat "$TMPD/one.oci/index.json")"
import json, sys
m = json.load(open(sys.argv[1]))["manifests"]
sys.exit(not (len(m) == 1 and m[0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"))
PY
[ "$(skopeo inspect --raw "oci:$TMPD/one.oci:v1" | python3 -c 'import json,sys; a = json.load(sys.stdin).get("annotations", {}); print(a.get("team"), a.get("owner"))')" = "x y" ] &&
        ok "the tag names the index with both edits" || not_ok "annotations: $(skopeo inspect --raw "oci:$TMPD/one.oci:v1")"
rm -rf "$TMPD/one.oci"

# usage errors and failures
run_xarch index remove "$R1/idx:v1"
expect_rc 2 "remove without a selector is a usage error"
run_xarch index frobnicate "$R1/idx:v1"
expect_rc 2 "an unknown subcommand is a usage error"
run_xarch index add "$R1/nothing:v1" "$R1/img:amd64"
expect_rc 1 "add to a missing index exits 1"
run_xarch index create "docker-archive:$TMPD/x.tar" "$R1/img:amd64"
expect_rc 1 "docker-archive cannot hold an index"

done_testing
