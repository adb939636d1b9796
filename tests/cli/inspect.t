#!/bin/bash
# xarch inspect against a real registry (Debian's docker-registry on 127.0.0.1) holding images
# pushed by buildah and by plain HTTP (tests/images/make-images.sh). skopeo is the independent
# oracle: its raw manifests are parsed with python3's json and compared with xarch's answers.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"

run_xarch inspect --help
expect_rc 0 "--help exits 0"
expect_out '--platform' "--help documents --platform"
run_xarch inspect
expect_rc 2 "no reference is a usage error"
expect_err "no image reference given" "the usage error is one line"
run_xarch inspect --frobnicate x
expect_rc 2 "an unknown option is a usage error"
expect_err "unknown option '--frobnicate'" "the unknown option is named"
run_xarch inspect --platform a/b/c/d x
expect_rc 2 "an invalid --platform is a usage error"
run_xarch inspect --raw --json x
expect_rc 2 "--raw and --json exclude each other"

if ! missing=$(images_have_tools); then
        skip "registry tests: $missing not installed"
        done_testing
        exit $?
fi
images_prepare
registry_start "$IMAGES/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
export XDG_CACHE_HOME=$TMPD/cache

# platform table of an index as "platform digest" lines, by python from skopeo's raw manifest
oracle_platforms() {
        skopeo inspect --raw --tls-verify=false "docker://$REG/$1" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for m in doc.get("manifests", []):
    p = m.get("platform", {})
    if p.get("os") == "unknown" and p.get("architecture") == "unknown":
        continue
    name = p["os"] + "/" + p["architecture"] + ("/" + p["variant"] if p.get("variant") else "")
    print(name, m["digest"])'
}

xarch_platforms() { # from xarch --json output in $TMPD/out
        python3 -c '
import json, sys
for img in json.load(open(sys.argv[1])):
    for p in img.get("platforms", []):
        if not p["hidden"]:
            print(p["platform"], p["digest"])' "$TMPD/out"
}

for image in multi:latest attest:latest dlist:latest; do
        run_xarch inspect --json "$REG/$image"
        expect_rc 0 "inspect $image exits 0"
        if [ "$(xarch_platforms)" = "$(oracle_platforms "$image")" ]; then
                ok "$image: platforms and digests match skopeo's raw manifest"
        else
                not_ok "$image: platforms differ"
                diff <(xarch_platforms) <(oracle_platforms "$image") | sed 's/^/#   /'
        fi
done

# layer counts: each child manifest read by skopeo
run_xarch inspect --json "$REG/multi"
counts_ok=1
while read -r platform digest; do
        want=$(skopeo inspect --raw --tls-verify=false "docker://$REG/multi@$digest" |
                python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')
        got=$(python3 -c 'import json,sys
for p in json.load(open(sys.argv[1]))[0]["platforms"]:
    if p["digest"] == sys.argv[2]: print(p["layers"])' "$TMPD/out" "$digest")
        [ "$want" = "$got" ] || { counts_ok=0; diag "$platform: layers $got, skopeo says $want"; }
done < <(oracle_platforms multi:latest)
[ $counts_ok = 1 ] && ok "layer counts match the child manifests" || not_ok "layer counts differ"

run_xarch inspect "$REG/multi"
expect_out '^  media type  application/vnd.oci.image.index.v1\+json$' "human output: media type"
expect_out '^    linux/arm64/v8 +1 ' "human output: arm64/v8 row with one layer"
expect_out '^    linux/arm/v7 ' "human output: arm/v7 row"

# attestations: hidden by default, shown with --all
run_xarch inspect "$REG/attest"
expect_out '2 non-image entries hidden; --all shows them' "attestations are hidden and counted"
if grep -q unknown "$TMPD/out"; then not_ok "no unknown/unknown row by default"; else
        ok "no unknown/unknown row by default"; fi
run_xarch inspect --all "$REG/attest"
expect_out '^    unknown/unknown +1 .*attestation$' "--all shows the attestation entries"
run_xarch inspect --json --all "$REG/attest"
n=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))[0]
print(sum(1 for p in d["platforms"] if p["kind"]=="attestation" and p["referenceType"]=="attestation-manifest"))' "$TMPD/out")
[ "$n" = 2 ] && ok "--json --all marks both attestations" || not_ok "--json --all: $n attestations"

# Docker manifest list and a single image
run_xarch inspect "$REG/dlist"
expect_out 'application/vnd.docker.distribution.manifest.list.v2\+json' "Docker manifest list media type"
expect_out '^    linux/s390x ' "Docker list: s390x row"
run_xarch inspect --json "$REG/single:arm64"
want=$(skopeo inspect --config --raw --tls-verify=false "docker://$REG/single:arm64" |
        python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["os"]+"/"+c["architecture"]+"/"+c.get("variant",""))')
got=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))[0]["image"]; print(i["os"]+"/"+i["architecture"]+"/"+i.get("variant",""))' "$TMPD/out")
[ "$want" = "$got" ] && ok "single image: platform from its config ($got)" || not_ok "single image: $got, skopeo config says $want"

# --platform: which entry a containerd node pulls, and by which rule
arm64=$(oracle_platforms multi:latest | awk '$1=="linux/arm64/v8"{print $2}')
armv7=$(oracle_platforms multi:latest | awk '$1=="linux/arm/v7"{print $2}')
run_xarch inspect --platform linux/arm64/v8 "$REG/multi"
expect_rc 0 "--platform linux/arm64/v8 matches"
expect_out "linux/arm64/v8 node pulls linux/arm64/v8 $arm64 \\(rule: exact\\)" "arm64/v8: exact"
run_xarch inspect --platform linux/arm64 "$REG/multi"
expect_out "linux/arm64 node pulls linux/arm64/v8 $arm64 \\(rule: normalized\\)" "arm64 request matches arm64/v8 by normalisation"
run_xarch inspect --platform linux/arm/v8 "$REG/multi"
expect_out "linux/arm/v8 node pulls linux/arm/v7 $armv7 \\(rule: fallback\\)" "arm/v8 falls back to arm/v7"
run_xarch inspect --strict --platform linux/arm/v8 "$REG/multi"
expect_rc 1 "--strict: no fallback, exit 1"
run_xarch inspect --platform linux/riscv64 "$REG/dlist"
expect_rc 1 "no matching entry exits 1"
expect_out 'linux/riscv64 node: no match for platform in manifest sha256:[0-9a-f]{64} \(the pull would fail\)' "says the node would fail"
run_xarch inspect --raw --platform linux/riscv64 "$REG/single:arm64"
expect_rc 1 "--raw: a single image of another platform exits 1"
expect_err "single:arm64: no match for platform in manifest sha256:" "--raw: one stderr line says so"
run_xarch inspect --json --platform linux/riscv64 "$REG/dlist"
expect_out '"error": "no match for platform in manifest sha256:' "--json carries containerd's error"

# --raw and --config give exactly the bytes skopeo gets
run_xarch inspect --raw "$REG/attest"
skopeo inspect --raw --tls-verify=false "docker://$REG/attest" >"$TMPD/want"
cmp -s "$TMPD/out" "$TMPD/want" && ok "--raw is byte-identical to skopeo --raw" || not_ok "--raw differs"
run_xarch inspect --config --platform linux/arm/v7 "$REG/multi"
skopeo inspect --config --raw --tls-verify=false --override-arch arm --override-variant v7 \
        "docker://$REG/multi" >"$TMPD/want"
cmp -s "$TMPD/out" "$TMPD/want" && ok "--config is byte-identical to skopeo's config" || not_ok "--config differs"
run_xarch inspect "$REG/multi@$arm64"
expect_out "^  platform    linux/arm64/v8 \\(from the config\\)" "a digest reference reads that manifest"

# many references: concurrent, printed in input order, failures one line each
refs=()
for i in $(seq 1 30); do refs+=("$REG/bench/img-$i"); done
refs+=("$REG/no/such-repo" "$REG/multi:no-such-tag")
for i in $(seq 31 40); do refs+=("$REG/bench/img-$i"); done
run_xarch inspect -j 8 "${refs[@]}"
expect_rc 1 "a failing reference makes the exit status 1"
order=$(grep -E "^$REG/" "$TMPD/out" | tr '\n' ' ')
want_order=$(for i in $(seq 1 40); do printf '%s ' "$REG/bench/img-$i:latest"; done)
[ "$order" = "$want_order" ] && ok "40 images printed in input order" || not_ok "order: $order"
[ "$(wc -l <"$TMPD/err")" -eq 2 ] && ok "two failures, two stderr lines" || not_ok "stderr: $(cat "$TMPD/err")"
grep -q "no/such-repo.*not found\|no/such-repo.*unknown" "$TMPD/err" && ok "unknown name reported" || not_ok "unknown name: $(cat "$TMPD/err")"
grep -q "no-such-tag" "$TMPD/err" && ok "unknown tag reported" || not_ok "unknown tag"

closed=$(free_port)
run_xarch inspect "127.0.0.1:$closed/x"
expect_rc 1 "an unreachable registry exits 1"
expect_err "unreachable" "unreachable registry: one clear line"
run_xarch inspect --json "$REG/multi" "$REG/nope"
expect_out '"error": ' "--json lists the failure as an object too"

done_testing
