#!/bin/bash
# The image config's rootfs.diff_ids against the layers: verify (with and without --deep, from an
# oci: layout and from Debian's docker-registry on 127.0.0.1) and the verification after a build
# push compare diff_ids[i] with the SHA-256 of layer i uncompressed, and their count with the
# layers', as containerd does at unpack ("wrong diff id calculated on extraction"). The oracle is
# python's own gzip and the zstd tool over the layout's blobs.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
HERE=$(cd "$(dirname "$0")/.." && pwd)

HELLO=$XARCH_FIXTURES/go/hello-amd64
if [ ! -f "$HELLO" ]; then
        skip "fixture binaries missing (tests/fixtures/make-fixtures.sh)"
        done_testing
        exit $?
fi
command -v zstd >/dev/null 2>&1 || { skip "zstd not installed"; done_testing; exit $?; }

# three layers (gzip, zstd, none) so that reversing them moves two; BAD: the config's diff_ids
layout() { # NAME [BAD]
        python3 - "$TMPD/$1.json" "$HELLO" "${2:-}" <<'PY'
import json, sys
img = {"index_platform": "linux/amd64", "entrypoint": ["/hello"], "layers": [
    {"compression": "gzip", "entries": [["file", "hello", sys.argv[2], 493]]},
    {"compression": "zstd", "entries": [["dir", "etc"], ["file", "etc/motd", "text:hello\n", 420]]},
    {"compression": "none", "entries": [["file", "etc/issue", "text:xarch\n", 420]]}]}
if sys.argv[3]:
    img["diff_ids"] = sys.argv[3]
json.dump({"images": [img]}, open(sys.argv[1], "w"))
PY
        python3 "$HERE/images/oci-layout.py" "$TMPD/$1.oci" "$TMPD/$1.json"
}
for n in good reverse compressed short; do
        layout "$n" "$([ $n = good ] || echo $n)"
done
# reversed again, without an entrypoint: a build on it has no command to check, so it never
# streams the base's layers and only the verification after the push reads them
jq '.images[0] |= del(.entrypoint)' "$TMPD/reverse.json" >"$TMPD/noentry.json"
python3 "$HERE/images/oci-layout.py" "$TMPD/noentry.oci" "$TMPD/noentry.json"

# The oracle: per layer of NAME's only manifest, "DIGEST CONFIG_DIFF_ID UNCOMPRESSED_SHA256".
oracle() { # NAME
        python3 - "$TMPD/$1.oci" <<'PY'
import gzip, hashlib, json, subprocess, sys
root = sys.argv[1]
def blob(d):
    return open(root + "/blobs/sha256/" + d.split(":")[1], "rb").read()
top = json.load(open(root + "/index.json"))
idx = json.loads(blob(top["manifests"][0]["digest"]))
m = json.loads(blob(idx["manifests"][0]["digest"]))
cfg = json.loads(blob(m["config"]["digest"]))
ids = cfg["rootfs"]["diff_ids"]
for i, l in enumerate(m["layers"]):
    data = blob(l["digest"])
    if l["mediaType"].endswith("+gzip"):
        data = gzip.decompress(data)
    elif l["mediaType"].endswith("+zstd"):
        data = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    print(l["digest"], ids[i] if i < len(ids) else "-", "sha256:" + hashlib.sha256(data).hexdigest())
PY
}
jq_out() { jq -r "$1" "$TMPD/out"; }

# The diff-id-mismatch problems of the last --json run, as "INDEX LAYER EXPECTED COMPUTED", and the
# oracle's mismatching layers in the same form: they must be equal.
mismatches_json() {
        jq -r '.platforms[0].problems[] | select(.kind == "diff-id-mismatch" and .layer != null) |
                "\(.layer_index) \(.layer) \(.expected_diff_id) \(.computed_diff_id)"' "$TMPD/out"
}
mismatches_oracle() { # NAME
        oracle "$1" | awk '$2 != "-" && $2 != $3 { print NR - 1, $1, $2, $3 }'
}

check_bad() { # WHERE REF NAME NPROBLEMS [--deep]
        local where=$1 ref=$2 name=$3 want=$4 deep=${5:-}
        run_xarch verify $deep --json "$ref"
        expect_rc 1 "$where $name ${deep:-(no --deep)}: a diff_id problem exits 1, as other problems"
        [ "$(jq_out '.platforms[0].problems | map(select(.kind == "diff-id-mismatch")) | length')" = "$want" ] &&
                ok "$where $name: $want diff-id-mismatch problem(s)" ||
                not_ok "$where $name: problems $(jq -c '.platforms[0].problems' "$TMPD/out")"
        [ "$(jq_out '.platforms[0].diff_ids_checked')" = 3 ] &&
                ok "$where $name: every layer's diff_id was checked (each is read to its end)" ||
                not_ok "$where $name: diff_ids_checked $(jq_out '.platforms[0].diff_ids_checked')"
        if [ "$(mismatches_json)" = "$(mismatches_oracle "$name")" ]; then
                ok "$where $name: --json names each layer, the config's and the computed diff_id"
        else
                not_ok "$where $name: --json mismatches differ from the oracle"
                diag "xarch: $(mismatches_json | tr '\n' ';')"
                diag "oracle: $(mismatches_oracle "$name" | tr '\n' ';')"
        fi
        run_xarch verify $deep "$ref"
        expect_rc 1 "$where $name: human output exits 1"
        local first
        first=$(mismatches_oracle "$name" | head -1)
        if [ -n "$first" ]; then
                set -- $first
                expect_out "problem:  diff-id-mismatch: layer $(($1 + 1)) of 3 \\($2\\): the config's diff_id is $3 but the layer uncompressed is $4" \
                        "$where $name: the problem line names the layer, the config's and the computed diff_id"
        else
                expect_out "problem:  diff-id-mismatch: the config lists 2 diff_ids for 3 layers" \
                        "$where $name: the problem line gives both counts"
        fi
        expect_out "PROBLEMS" "$where $name: the platform is marked PROBLEMS"
}

check_good() { # WHERE REF [--deep]
        run_xarch verify ${3:-} --json "$2"
        expect_rc 0 "$1 good ${3:-(no --deep)}: verifies, exit 0"
        [ "$(jq_out '.platforms[0].problems | length')" = 0 ] &&
                [ "$(jq_out '.platforms[0].diff_ids_checked')" = 3 ] &&
                ok "$1 good: no problem, 3 diff_ids checked" ||
                not_ok "$1 good: $(jq -c '.platforms[0] | {problems, diff_ids_checked}' "$TMPD/out")"
}

# the oracle agrees that the good layout is good and the others are not
[ -z "$(mismatches_oracle good)" ] && [ "$(mismatches_oracle reverse | wc -l)" = 2 ] &&
        [ "$(mismatches_oracle compressed | wc -l)" = 1 ] && [ "$(oracle short | grep -c ' - ')" = 1 ] &&
        ok "oracle: good matches; reversed differs at 2 layers, compressed at 1, short lacks 1" ||
        not_ok "oracle: $(oracle reverse | tr '\n' ';')"

# --- oci: layouts -----------------------------------------------------------------------------
for deep in --deep ""; do
        check_good oci: "oci:$TMPD/good.oci:latest" $deep
        check_bad oci: "oci:$TMPD/reverse.oci:latest" reverse 2 $deep
        check_bad oci: "oci:$TMPD/compressed.oci:latest" compressed 1 $deep
        check_bad oci: "oci:$TMPD/short.oci:latest" short 1 $deep
done
run_xarch verify --json "oci:$TMPD/short.oci:latest"
[ "$(jq_out '.platforms[0].problems[] | select(.kind == "diff-id-mismatch") | "\(.diff_ids) \(.layers)"')" = "2 3" ] &&
        ok "short: --json gives the diff_ids' and the layers' counts" ||
        not_ok "short: $(jq -c '.platforms[0].problems' "$TMPD/out")"

# --- xarch check: an image no node can unpack fails everywhere ------------------------
run_xarch check --json "oci:$TMPD/reverse.oci:latest" --node amd64,arm64
expect_rc 1 "check on the reversed image fails"
[ "$(jq_out '[.nodes[].code] | unique | join(",")')" = diff-id-mismatch ] &&
        ok "check: diff-id-mismatch on every node, the matching one included" ||
        not_ok "check: $(jq -c '[.nodes[] | {code, reason}]' "$TMPD/out")"
run_xarch check --json "oci:$TMPD/good.oci:latest" --node amd64
[ "$(jq_out '.nodes[0].code')" = native ] && ok "check: the good image is native" ||
        not_ok "check on the good image: $(jq -c '.nodes' "$TMPD/out")"

# --- xarch build on such a base, to a local destination (no verification after it) -----------
printf 'motd\n' >"$TMPD/motd"
run_xarch build --from "oci:$TMPD/good.oci:latest" --add "$TMPD/motd:/etc/motd2" -t "oci:$TMPD/out-good.oci:v1"
expect_rc 0 "build on the good oci: base succeeds"
first=$(mismatches_oracle reverse | head -1)
set -- $first
run_xarch build --from "oci:$TMPD/reverse.oci:latest" --add "$TMPD/motd:/etc/motd2" -t "oci:$TMPD/out-rev.oci:v1"
expect_rc 1 "build on the reversed oci: base fails: it streams the base's layers for its checks"
expect_err "base layer 1 of 3 \\($2\\): the base config's diff_id is $3 but the layer uncompressed is $4" \
        "and names the base layer, the config's and the computed diff_id"
[ ! -e "$TMPD/out-rev.oci" ] && ok "nothing is written" || not_ok "an image was written"
run_xarch build --from "oci:$TMPD/short.oci:latest" --add "$TMPD/motd:/etc/motd2" -t "oci:$TMPD/out-short.oci:v1"
expect_rc 1 "build on a base with fewer diff_ids than layers fails"
expect_err "the base config lists 2 diff_ids for 3 layers" "and gives both counts"

# --- a registry -------------------------------------------------------------------------------
if ! command -v docker-registry >/dev/null 2>&1; then
        skip "registry tests: docker-registry not installed"
        done_testing
        exit $?
fi
registry_start "$TMPD/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
export XDG_CACHE_HOME=$TMPD/cache
for n in good reverse compressed short noentry; do
        run_xarch copy "oci:$TMPD/$n.oci:latest" "$REG/diffid/$n:v1"
        expect_rc 0 "copy pushes the $n layout to the loopback registry"
done
check_good registry "$REG/diffid/good:v1" --deep
check_bad registry "$REG/diffid/reverse:v1" reverse 2 --deep
check_bad registry "$REG/diffid/compressed:v1" compressed 1 --deep
check_bad registry "$REG/diffid/short:v1" short 1 --deep

# --- the verification after a build push ------------------------------------------------------
# a build keeps its base's diff_ids and appends its own layer's: on a base whose diff_ids are
# reversed the result is refused by containerd, and build must not say "verified"
run_xarch build --json --from "$REG/diffid/good:v1" --add "$TMPD/motd:/etc/motd2" -t "$REG/diffid/built:ok"
expect_rc 0 "build on the good base pushes and verifies"
[ "$(jq_out .verified)" = true ] && ok "build on the good base: verified true" ||
        not_ok "build on the good base: verified $(jq_out .verified)"
for n in reverse compressed short; do
        run_xarch build --json --from "$REG/diffid/$n:v1" --add "$TMPD/motd:/etc/motd2" -t "$REG/diffid/built:$n"
        expect_rc 1 "build on the $n base fails"
        if jq -e '.verified == true' "$TMPD/out" >/dev/null 2>&1; then
                not_ok "build on the $n base: says verified true"
        else
                ok "build on the $n base: never says verified true"
        fi
        grep -q "diff_id" "$TMPD/err" && ok "build on the $n base: stderr names the diff_id problem" ||
                not_ok "build on the $n base: stderr $(head -3 "$TMPD/err")"
done
run_xarch build --json --from "$REG/diffid/noentry:v1" --add "$TMPD/motd:/etc/motd2" -t "$REG/diffid/built:noentry"
expect_rc 1 "build on the reversed base without a command: the verification after the push fails it"
[ "$(jq_out .verified)" = false ] && ok "build on the reversed base without a command: verified false" ||
        not_ok "build without a command: verified $(jq_out .verified)"
first=$(mismatches_oracle noentry | head -1)
set -- $first
grep -q "verify after push: layer 1 of 4 ($2): the config's diff_id is $3 but the layer uncompressed is $4" "$TMPD/err" &&
        ok "the verification after the push names the layer, the config's and the computed diff_id" ||
        not_ok "verify after push: $(head -3 "$TMPD/err")"

done_testing
