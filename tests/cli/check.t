#!/bin/bash
# xarch check against real images: the fixture images of tests/images/build-verify-images.sh
# (real Go, C and Debian binaries, pushed to a real docker-registry on 127.0.0.1), two OCI
# layouts made here from the Go fixtures, and `--node host` inside a private binfmt_misc
# instance (a new user + mount namespace, Linux >= 6.7) with and without qemu-aarch64
# registered by `xarch binfmt install`. The host's own binfmt_misc table is never touched.
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# json_get EXPR: a python expression over 'd', the JSON document the last verdict printed, and
# 'n', its first node (saved, because check() overwrites $TMPD/out)
json_get() {
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); n=d['nodes'][0]; print(($1))" "$TMPD/json"
}

# verdict REF NODE... : runs check and sets $RC; stdout in $TMPD/out
verdict() {
        local ref=$1
        shift
        run_xarch check "$ref" "$@"
        cp "$TMPD/out" "$TMPD/json"
}

# ---------------- usage ----------------
run_xarch check --help
expect_rc 0 "check --help exits 0"
expect_out '^Usage: xarch check REF --node' "--help prints usage"
expect_out 'emulated-crash' "--help names the verdicts"
run_xarch check
expect_rc 2 "no reference is a usage error"
expect_err 'missing image reference' "missing reference named in one line"
run_xarch check oci:/nonexistent
expect_rc 2 "no --node is a usage error"
expect_err 'missing --node' "missing --node named in one line"
run_xarch check oci:/nonexistent --node nosucharch
expect_rc 2 "unknown node architecture is a usage error"
expect_err "invalid node 'nosucharch'" "bad node named in one line"
run_xarch check oci:/nonexistent --node arm64 --emulation bogus
expect_rc 2 "unknown emulation is a usage error"
expect_err "unknown emulation 'bogus'" "bad emulation named in one line"
run_xarch check oci:/nonexistent --node arm64 --qemu-version seven
expect_rc 2 "bad QEMU version is a usage error"
run_xarch check --bogus
expect_rc 2 "unknown option is a usage error"
expect_err "unknown option '--bogus'" "unknown option named in one line"
run_xarch check oci:a oci:b --node arm64
expect_rc 2 "two references are a usage error"
run_xarch check "oci:$TMPD/nonexistent" --node arm64
expect_rc 2 "an image that cannot be read exits 2"
expect_err 'xarch: ' "and says why in one line"

# ---------------- a config that cannot be read ----------------
# Every class of malformed config (not JSON, cut short, not an object, fields of the wrong
# type, empty) makes the image unreadable, as verify says: exit 2 and the reason, never
# "fails (no-match)". Alone, and as the entry of an index that the node selects.
bad_config() { # NAME CONFIG [INDEX_PLATFORM]
        local plat=""
        [ -n "${3:-}" ] && plat="\"index_platform\": \"$3\","
        python3 - "$TMPD/$1.json" "$2" "$plat" <<'PY'
import json, sys
img = json.loads("{" + sys.argv[3] + '"config_raw": "", "entrypoint": ["/hi"], "layers": [{"compression": "gzip", "entries": [["file", "hi", "text:#!/bin/sh\\n", 493]]}]}')
img["config_raw"] = sys.argv[2]
json.dump({"nested": "index_platform" in img, "images": [img]}, open(sys.argv[1], "w"))
PY
        python3 "$HERE/../images/oci-layout.py" "$TMPD/$1.oci" "$TMPD/$1.json"
}
n=0
for cfg in '{"architecture": "arm64", "os": "linux"' 'not json' '[]' '"a string"' '' \
        '{"architecture": 5, "os": "linux"}' '{"architecture": "arm64", "os": "linux", "config": {"Entrypoint": 7}}' \
        '{"architecture": "arm64", "os": "linux", "config": []}'; do
        n=$((n + 1))
        for plat in "" linux/arm64; do
                bad_config "badcfg$n${plat:+-index}" "$cfg" "$plat"
                what="malformed config '$cfg'${plat:+ (index entry $plat)}"
                run_xarch check "oci:$TMPD/badcfg$n${plat:+-index}.oci:latest" --node arm64
                expect_rc 2 "$what: check exits 2"
                if grep -q 'fails (unreadable)' "$TMPD/out" && ! grep -q 'no-match' "$TMPD/out"; then
                        ok "$what: check says unreadable, not no-match"
                else
                        not_ok "$what: check says unreadable, not no-match"; sed 's/^/#   /' "$TMPD/out"
                fi
                expect_err 'could not be read' "$what: one stderr line says why"
                run_xarch check --json "oci:$TMPD/badcfg$n${plat:+-index}.oci:latest" --node arm64
                expect_rc 2 "$what: check --json exits 2"
                check "$what: --json names the code" test "$(jq -r '.nodes[0].code' "$TMPD/out")" = unreadable
        done
done

# ---------------- real images ----------------
FX=${XARCH_FIXTURES:-}
if [ -z "$FX" ] || [ ! -f "$FX/go/hello-arm64" ] || [ ! -f "$FX/go/hello-amd64-v3" ]; then
        skip "Go fixtures missing (tests/fixtures/make-fixtures.sh): no image tests"
        done_testing
        exit
fi
. "$HERE/../images/lib.sh"
if missing=$(images_have_tools); then :; else
        skip "$missing not installed: no registry image tests"
        done_testing
        exit
fi
VIMAGES=${XARCH_VERIFY_IMAGES:-${XARCH_BUILDDIR:-$TMPD}/verify-images}
set +e
"$HERE/../images/build-verify-images.sh" "$VIMAGES" >"$TMPD/build.log" 2>&1
brc=$?
set -e
if [ $brc -eq 77 ]; then
        skip "fixture binaries missing: $(tail -1 "$TMPD/build.log")"
        done_testing
        exit
elif [ $brc -ne 0 ]; then
        not_ok "build-verify-images.sh failed: $(tail -3 "$TMPD/build.log")"
        done_testing
        exit
fi
registry_start "$VIMAGES/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
R=$REG

# OCI layouts made here: arm64-only Go, and amd64 Go built with GOAMD64=v3 (single manifests).
layout() { # NAME PLATFORM FILE
        cat >"$TMPD/$1.json" <<JSON
{"nested": false, "images": [{"config_platform": "$2", "entrypoint": ["/hello"],
  "layers": [{"compression": "gzip", "entries": [["file", "hello", "$3", 493]]}]}]}
JSON
        python3 "$HERE/../images/oci-layout.py" "$TMPD/$1.oci" "$TMPD/$1.json"
}
layout arm64-only linux/arm64 "$FX/go/hello-arm64"
layout amd64-v3 linux/amd64 "$FX/go/hello-amd64-v3"
ARM64_ONLY="oci:$TMPD/arm64-only.oci:latest"
AMD64_V3="oci:$TMPD/amd64-v3.oci:latest"

# native
verdict "$R/multi:latest" --node arm64
expect_rc 0 "multi on arm64 exits 0"
expect_out '^linux/arm64: native \(native\)$' "multi --node arm64 -> native"
expect_out 'linux/arm64 \(exact match\)' "names the rule containerd used"
expect_out '/hello really is arm64' "the binary really is arm64"
verdict "$R/multi:latest" --node amd64,arm/v7 --node linux/arm64/v8 --json
expect_rc 0 "multi on three nodes exits 0"
check "multi: three native verdicts, all_run" test "$(json_get '[n["verdict"] for n in d["nodes"]], d["all_run"]')" = "(['native', 'native', 'native'], True)"
check "multi: the node platforms in the order given" test "$(json_get '[n["node"] for n in d["nodes"]]')" = "['linux/amd64', 'linux/arm/v7', 'linux/arm64']"
check "multi: manifest digests reported" test "$(json_get 'all(n["manifest_digest"].startswith("sha256:") for n in d["nodes"])')" = True

# the Go lfstack crash
verdict "$R/go-amd64-only:latest" --node arm64
expect_rc 1 "amd64 Go on arm64 exits 1"
expect_out '^linux/arm64: emulated-crash \(go-lfstack-crash\)$' "go-amd64-only --node arm64 -> emulated-crash"
expect_out 'go1\.19' "names the binary's Go version"
expect_out 'lfstack\.push' "names the crash"
expect_out 'go1\.25\.4' "names the Go versions it applies to"
expect_out 'GOARCH=\$TARGETARCH' "fix: cross-compile with GOARCH"
expect_out 'FROM --platform=\$BUILDPLATFORM' "fix: build on the build platform"
expect_out 'docker buildx build --platform linux/amd64,linux/arm64 ' "fix: multi-platform build"
expect_out 'kubernetes.io/arch: amd64' "fix: nodeSelector"
expect_out 'xarch binfmt install amd64' "fix: the emulator"
verdict "$R/go-amd64-only:latest" --node arm64 --json
check "json: verdict, code, emulator" test "$(json_get 'n["verdict"], n["code"], n["emulator"]["name"], n["emulation"]')" = "('emulated-crash', 'go-lfstack-crash', 'x86_64', 'qemu')"
check "json: fix kinds" test "$(json_get 'sorted(f["kind"] for f in d["nodes"][0]["fixes"])')" = "['cross-compile', 'emulator', 'multi-platform-build', 'rebuild-go', 'schedule']"
verdict "$R/go-amd64-only:latest" --node arm64 --emulation rosetta
expect_rc 0 "under Rosetta amd64 Go runs: exit 0"
expect_out '^linux/arm64: emulated \(emulated-rosetta\)$' "--emulation rosetta -> emulated"
expect_out 'does not apply to Rosetta' "says the Go crash does not apply"
verdict "$R/go-amd64-only:latest" --node arm64 --emulation none
expect_rc 1 "without emulation: exit 1"
expect_out '^linux/arm64: fails \(exec-format-error\)$' "--emulation none -> fails"
expect_out 'exec /hello: exec format error' "names the error the runtime prints"
verdict "$R/go-amd64-only:latest" --node amd64
expect_rc 0 "amd64 Go on amd64 is native"
verdict "$R/go-amd64-only:latest" --node riscv64
expect_rc 0 "amd64 Go on riscv64 under QEMU: not the arm64 crash"
expect_out '^linux/riscv64: emulated' "-> emulated"

# emulated C
verdict "$R/c-amd64-only:latest" --node arm64
expect_rc 0 "amd64 C on arm64 exits 0"
expect_out '^linux/arm64: emulated \(emulated\)$' "c-amd64-only --node arm64 -> emulated"
expect_out 'pulls anyway' "a single manifest is pulled whatever its platform"
expect_out 'qemu-x86_64' "names the emulator"
verdict "$R/shlinks:latest" --node arm64 --json
expect_rc 0 "shlinks (entrypoint through /bin/sh symlinks) exits 0"
check "shlinks: emulated, judged on the real file behind the symlinks" test "$(json_get 'n["verdict"], n["binary"].split(":")[0]')" = "('emulated', '/usr/lib/shell/dash')"
check "shlinks: an index without arm64 tells how to ask for amd64" test "$(json_get '[f["text"] for f in d["nodes"][0]["fixes"] if f["kind"] == "runtime"][0].startswith("podman run --platform linux/amd64 ")')" = True

# fails
verdict "$R/mislabelled:latest" --node arm64
expect_rc 1 "mislabelled on arm64 exits 1"
expect_out '^linux/arm64: fails \(mislabelled\)$' "mislabelled --node arm64 -> fails"
expect_out 'exec format error' "says how it fails"
verdict "$R/mislabelled:latest" --node amd64
expect_rc 0 "mislabelled on amd64: its amd64 entry is fine"
verdict "$R/confmix:latest" --node arm64
expect_rc 1 "confmix (arm64 entry, amd64 config and binary) exits 1"
expect_out '^linux/arm64: fails \(mislabelled\)$' "-> fails mislabelled"
verdict "$R/noloader:latest" --node amd64
expect_rc 1 "dynamic binary without its loader exits 1"
expect_out '^linux/amd64: fails \(loader-missing\)$' "noloader -> fails loader-missing"
expect_out '/lib64/ld-linux-x86-64.so.2' "names the loader"
verdict "$R/loop:latest" --node amd64
expect_rc 1 "symlink-loop entrypoint exits 1"
expect_out '^linux/amd64: fails \(no-program\)$' "loop -> fails no-program"
verdict "$R/multi:latest" --node s390x --emulation none
expect_rc 1 "no s390x entry and no emulation exits 1"
expect_out '^linux/s390x: fails \(no-match\)$' "-> fails no-match"
expect_out 'no match for platform in manifest' "names containerd's error"
verdict "$R/variant:latest" --node arm/v6
expect_rc 1 "a GOARM=7 binary in an arm/v6 entry exits 1 on an ARMv6 node"
expect_out '^linux/arm/v6: fails \(variant-mismatch\)$' "-> fails variant-mismatch"
verdict "$R/variant:latest" --node arm/v7
expect_rc 0 "the same image on an ARMv7 node is native (fallback to arm/v6)"
expect_out 'fallback match' "names the fallback"

# the node's runtime picks the manifest: an unknown arm64 variant falls back to arm up to
# containerd 2.0 and matches nothing from 2.1 (docs/runtimes.md)
verdict "$R/variant:latest" --node arm64/v10
expect_out 'the index has no manifest for linux/arm64/v10' "arm64/v10 on the newest containerd: no match"
expect_out '^  runtime   containerd-2\.3$' "names the default runtime"
verdict "$R/variant:latest" --node arm64/v10@containerd-1.7 --json
check "arm64/v10@containerd-1.7 pulls the arm/v6 entry (fallback)" test "$(json_get 'n["image_platform"], n["rule"], n["runtime"]')" = "('linux/arm/v6', 'fallback', 'containerd-1.7')"
verdict "$R/variant:latest" --runtime containerd://1.7.22 --node arm64/v10,arm64/v10@containerd-2.1 --json
check "--runtime for nodes without @, @ wins" test "$(json_get '[(x["runtime"], x.get("rule")) for x in d["nodes"]]')" = "[('containerd-1.7.22', 'fallback'), ('containerd-2.1', None)]"
run_xarch check "$R/variant:latest" --node arm64/v8.2@containerd-1.6
expect_rc 2 "containerd 1.6 refuses dots in a node platform"
expect_err "dots" "says why"
run_xarch check "$R/variant:latest" --node arm64@podman-4
expect_rc 2 "an unknown runtime is a usage error"

# x86-64 levels (a GOAMD64=v3 Go binary, from an oci: layout)
verdict "$AMD64_V3" --node amd64/v2
expect_rc 1 "GOAMD64=v3 on an x86-64-v2 node exits 1"
expect_out '^linux/amd64/v2: fails \(amd64-level\)$' "-> fails amd64-level"
verdict "$AMD64_V3" --node amd64/v3
expect_rc 0 "GOAMD64=v3 on an x86-64-v3 node is native"
verdict "$AMD64_V3" --node s390x --qemu-version 7.1
expect_rc 1 "GOAMD64=v3 under QEMU 7.1 exits 1"
expect_out '^linux/s390x: emulated-crash \(amd64-level-qemu\)$' "-> emulated-crash"
verdict "$AMD64_V3" --node s390x --qemu-version 7.2.22
expect_rc 0 "GOAMD64=v3 under QEMU 7.2 is emulated"

# ---------------- --node host ----------------
case $(uname -m) in
x86_64) ;;
*)
        skip "the host tests are written for x86_64 hosts"
        done_testing
        exit
        ;;
esac
verdict "$R/go-amd64-only:latest" --node host
expect_rc 0 "amd64 Go on this amd64 host is native"
expect_out '^linux/amd64 \(host\): native' "host -> native"

if ! command -v unshare >/dev/null || [ ! -x /usr/bin/qemu-aarch64-static ] ||
        ! unshare --user --map-root-user --mount sh -c \
                'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"; r=$?; umount "$d" 2>/dev/null; rmdir "$d"; exit $r' \
                >/dev/null 2>&1; then
        skip "no private binfmt_misc instance (needs user namespaces, Linux >= 6.7) or no qemu-aarch64-static"
        done_testing
        exit
fi
# One namespace for the whole scenario: a registration lives as long as the instance.
mkdir "$TMPD/bm" "$TMPD/ns"
cat >"$TMPD/ns.sh" <<'EOF'
bm=$1 out=$2 img=$3
mount -t binfmt_misc binfmt_misc "$bm" || exit 99
step() { name=$1; shift; "$@" >"$out/$name.out" 2>"$out/$name.err"; echo $? >"$out/$name.rc"; }
step before "$XARCH" check "$img" --node host --binfmt-mount "$bm" --json
step install "$XARCH" binfmt --mount "$bm" install arm64
step after "$XARCH" check "$img" --node host --binfmt-mount "$bm" --json
step human "$XARCH" check "$img" --node host --binfmt-mount "$bm"
step none "$XARCH" check "$img" --node host --binfmt-mount "$bm" --emulation none
EOF
set +e
XARCH=$XARCH unshare --user --map-root-user --mount sh "$TMPD/ns.sh" "$TMPD/bm" "$TMPD/ns" "$ARM64_ONLY"
nsrc=$?
set -e
check "the private instance was mounted" test "$nsrc" -eq 0
ns_json() { # STEP EXPR
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); n=d['nodes'][0]; print(($2))" "$TMPD/ns/$1.out"
}
check "before install: exit 0 (emulated once registered)" test "$(cat "$TMPD/ns/before.rc")" -eq 0
check "before install: emulated, qemu-aarch64 not registered" test "$(ns_json before 'n["verdict"], n["emulator"]["name"], n["emulator"]["registered"]')" = "('emulated', 'aarch64', False)"
check "before install: the fix is xarch binfmt install arm64" test "$(ns_json before '[f["text"] for f in n["fixes"] if f["kind"] == "emulator"]')" = "['xarch binfmt install arm64']"
check "xarch binfmt install arm64 in the private instance" test "$(cat "$TMPD/ns/install.rc")" -eq 0
check "after install: emulated, registered as qemu-aarch64" test "$(ns_json after 'n["verdict"], n["emulator"]["registered"], n["emulator"]["entry"], n["emulator"]["path"]')" = "('emulated', True, 'qemu-aarch64', '/usr/bin/qemu-aarch64-static')"
qv=$(/usr/bin/qemu-aarch64-static --version | sed -n 's/.* version \([0-9]*\.[0-9]*\).*/\1/p')
check "after install: the registered QEMU's version ($qv)" test "$(ns_json after 'n["emulator"]["version"]')" = "$qv"
check "after install: no emulator fix any more" test "$(ns_json after '[f for f in n["fixes"] if f["kind"] == "emulator"]')" = "[]"
check "human output names the registration" grep -q 'qemu-aarch64, registered as qemu-aarch64 -> /usr/bin/qemu-aarch64-static' "$TMPD/ns/human.out"
check "--emulation none on the host: fails, exit 1" test "$(cat "$TMPD/ns/none.rc")" -eq 1

done_testing
