#!/bin/bash
# xarch verify against a real registry (Debian's docker-registry on 127.0.0.1) holding fixture
# images built by tests/images/build-verify-images.sh from real Go, C and Debian binaries: the
# labels of each platform are compared with the binaries that really run. skopeo's raw documents
# are the oracle for labels and digests.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"

run_xarch verify --help
expect_rc 0 "--help exits 0"
expect_out '--deep' "--help documents --deep"
run_xarch verify
expect_rc 2 "no reference is a usage error"
expect_err "no image reference given" "the usage error is one line"
run_xarch verify --frobnicate x
expect_rc 2 "an unknown option is a usage error"
expect_err "unknown option '--frobnicate'" "the unknown option is named"
run_xarch verify --platform a/b/c/d x
expect_rc 2 "an invalid --platform is a usage error"
run_xarch verify a b
expect_rc 2 "two references are a usage error"
run_xarch verify oci:/nonexistent/layout
expect_rc 2 "an unreadable image exits 2"
expect_err "." "and says why in one line"

if missing=$(images_have_tools); [ -n "$missing" ] && ! images_have_tools >/dev/null; then
        skip "registry tests: $missing not installed"
        done_testing
        exit $?
fi
if [ ! -f "$XARCH_FIXTURES/go/hello-arm-v7" ] || [ ! -f "$XARCH_FIXTURES/debian/busybox-arm64" ]; then
        skip "fixture binaries missing (tests/fixtures/make-fixtures.sh)"
        done_testing
        exit $?
fi
VIMAGES=${XARCH_VERIFY_IMAGES:-${XARCH_BUILDDIR:-$TMPD}/verify-images}
if ! "$(dirname "$0")/../images/build-verify-images.sh" "$VIMAGES" >"$TMPD/build.log" 2>&1; then
        not_ok "build-verify-images.sh failed: $(tail -3 "$TMPD/build.log")"
        done_testing
        exit $?
fi
IMAGES_STATE=$TMPD/state
registry_start "$VIMAGES/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
export XDG_CACHE_HOME=$TMPD/cache

jq_out() { jq -r "$1" "$TMPD/out"; }

# --- a correct multi-arch image -------------------------------------------------------------
run_xarch verify --json "$REG/multi:latest"
expect_rc 0 "multi: consistent, exit 0"
oracle=$(skopeo inspect --raw --tls-verify=false "docker://$REG/multi:latest" |
        jq -r '.manifests[] | .digest + " " + .platform.architecture + (if .platform.variant then "/" + .platform.variant else "" end)')
mine=$(jq_out '.platforms[] | .digest + " " + (.index_platform | sub("^linux/"; ""))')
if [ "$oracle" = "$mine" ]; then ok "multi: digests and index labels match skopeo's raw index"; else
        not_ok "multi: index labels differ"; diag "skopeo: $oracle"; diag "xarch: $mine"; fi
[ "$(jq_out '[.platforms[].binary_platform] | join(",")')" = "linux/amd64,linux/arm64,linux/arm/v7" ] &&
        ok "multi: binaries are amd64, arm64, arm/v7" || not_ok "multi: binary platforms: $(jq_out '[.platforms[].binary_platform] | join(",")')"
[ "$(jq_out '[.platforms[].binary.go.version] | unique | join(",")')" = "go1.19.8" ] &&
        ok "multi: Go version from build info" || not_ok "multi: Go version"
[ "$(jq_out '.platforms[2].binary.go.level_key + "=" + .platforms[2].binary.go.level')" = "GOARM=7" ] &&
        ok "multi: arm binary records GOARM=7" || not_ok "multi: GOARM level"
[ "$(jq_out '.platforms[0].binary.go.level_key + "=" + .platforms[0].binary.go.level')" = "GOAMD64=v1" ] &&
        ok "multi: amd64 binary records GOAMD64=v1" || not_ok "multi: GOAMD64 level"

run_xarch verify "$REG/multi:latest"
expect_rc 0 "multi: human output exits 0"
expect_out '3 platforms verified: consistent' "multi: human summary"

run_xarch verify --platform linux/arm64 --json "$REG/multi:latest"
expect_rc 0 "--platform linux/arm64 verifies one image"
[ "$(jq_out '.platforms | length')" = 1 ] && [ "$(jq_out '.platforms[0].label')" = linux/arm64 ] &&
        ok "--platform selects the arm64 entry" || not_ok "--platform selection: $(jq_out '.platforms[].label')"
run_xarch verify --platform linux/s390x "$REG/multi:latest"
expect_rc 2 "--platform with no matching entry exits 2"
expect_err "s390x" "and names the platform"

# --- the problems -----------------------------------------------------------------------------
run_xarch verify "$REG/mislabelled:latest"
expect_rc 1 "mislabelled: exit 1"
expect_out 'mislabelled: labelled linux/arm64 but /hello is x86-64 \(linux/amd64\)' \
        "mislabelled: the arm64 entry holds an x86-64 binary"
run_xarch verify --json "$REG/mislabelled:latest"
[ "$(jq_out '[.platforms[] | .label + ":" + ([.problems[].kind] | join("+"))] | join(" ")')" = \
        "linux/amd64: linux/arm64:mislabelled" ] && ok "mislabelled: only the arm64 entry has a problem" ||
        not_ok "mislabelled: $(jq_out '[.platforms[] | .label + ":" + ([.problems[].kind] | join("+"))] | join(" ")')"

run_xarch verify "$REG/variant:latest"
expect_rc 1 "variant: exit 1"
expect_out 'variant-mismatch: labelled linux/arm/v6 but /hello needs arm/v7' "variant: arm/v6 entry, GOARM=7 binary"

run_xarch verify --json "$REG/go-amd64-only:latest"
expect_rc 0 "go-amd64-only: consistent"
[ "$(jq_out '.index')" = false ] && [ "$(jq_out '.platforms[0].binary.language')" = go ] &&
        ok "go-amd64-only: one image manifest, a Go binary" || not_ok "go-amd64-only: $(jq_out '.platforms[0].binary')"

run_xarch verify --json "$REG/c-amd64-only:latest"
expect_rc 0 "c-amd64-only: consistent"
[ "$(jq_out '.platforms[0].binary.language + "/" + .platforms[0].binary.linkage')" = c/static ] &&
        ok "c-amd64-only: a static C binary" || not_ok "c-amd64-only: $(jq_out '.platforms[0].binary')"

run_xarch verify "$REG/noloader:latest"
expect_rc 1 "noloader: exit 1"
expect_out 'loader-missing: /hello is dynamically linked but its loader /lib64/ld-linux-x86-64.so.2 is not in the image' \
        "noloader: the missing PT_INTERP loader is named"

run_xarch verify --json "$REG/confmix:latest"
expect_rc 1 "confmix: exit 1"
[ "$(jq_out '[.platforms[0].problems[].kind] | join(",")')" = "config-mismatch,mislabelled" ] &&
        ok "confmix: index arm64 vs config amd64, and the binary is x86-64" ||
        not_ok "confmix: $(jq_out '[.platforms[0].problems[].kind] | join(",")')"

run_xarch verify "$REG/loop:latest"
expect_rc 1 "loop: exit 1"
expect_out 'symlink-loop: /bin/app: too many levels of symbolic links' "loop: the symlink loop is reported"

# --- the merged view: whiteouts, opaque directories, symlink chains, hard links -------------
run_xarch verify --json --deep "$REG/shlinks:latest"
expect_rc 0 "shlinks: consistent"
[ "$(jq_out '.platforms[0].program')" = /usr/lib/shell/dash ] &&
        ok "shlinks: Cmd 'hello' resolves on PATH through relative and absolute symlinks" ||
        not_ok "shlinks: program is $(jq_out '.platforms[0].program')"
[ "$(jq_out '[.platforms[0].architectures[] | .platform + "=" + (.files|tostring)] | join(",")')" = "linux/amd64=2" ] &&
        ok "shlinks: whiteout and opaque directory hide the arm64 busyboxes (--deep)" ||
        not_ok "shlinks: deep count $(jq_out '.platforms[0].architectures')"
[ "$(jq_out '.platforms[0].layers')" = 3 ] && ok "shlinks: three layers (gzip 2 members, zstd, none)" ||
        not_ok "shlinks: layers"

# oracle: tar unpacks the layout's layers in order, the whiteouts are applied by hand, and the
# kernel runs "hello" found along the image's PATH inside a chroot of the result
layout=$VIMAGES/local/shlinks.oci
blobs=$layout/blobs/sha256
idx=$(jq -r '.manifests[0].digest' "$layout/index.json")
man=$(jq -r '.manifests[0].digest' "$blobs/${idx#sha256:}")
root=$TMPD/rootfs
mkdir -p "$root"
for l in $(jq -r '.layers[].digest' "$blobs/${man#sha256:}"); do
        tar -xf "$blobs/${l#sha256:}" -C "$root"
        find "$root" -name '.wh..wh..opq' -delete
        find "$root" -name '.wh.*' | while read -r w; do
                rm -rf "$(dirname "$w")/$(basename "$w" | cut -c5-)" "$w"
        done
done
chroot_bin=$(command -v chroot || echo /usr/sbin/chroot)
if out=$(env -i PATH=/usr/local/bin:/usr/bin:/bin "$chroot_bin" "$root" hello 2>&1) &&
        [ "$out" = "hello from C" ]; then
        ok "shlinks: the kernel in a chroot of the unpacked layers runs the same x86-64 binary"
else
        not_ok "shlinks: chroot oracle said: $out"
fi

# --- scripts lead to their interpreter -------------------------------------------------------
run_xarch verify --json "$REG/script:latest"
expect_rc 0 "script: consistent"
[ "$(jq_out '.platforms[0].program + " " + .platforms[0].program_info.kind + " -> " + .platforms[0].interpreter')" = \
        "/entry.sh script -> /usr/libexec/sh-real" ] &&
        ok "script: '#!/usr/bin/env -S sh -e' runs sh found on PATH" ||
        not_ok "script: $(jq_out '.platforms[0] | [.program, .interpreter] | join(" ")')"
[ "$(jq_out '.platforms[0].binary_platform')" = linux/amd64 ] && ok "script: the interpreter is checked" ||
        not_ok "script: binary platform $(jq_out '.platforms[0].binary_platform')"
run_xarch verify "$REG/script-nosh:latest"
expect_rc 1 "script-nosh: exit 1"
expect_out 'loader-missing: interpreter /bin/bash of /entry.sh is not in the image' \
        "script-nosh: the missing #! interpreter is reported"

# --- a file larger than the 4 MiB capture: analysed from head, tail and marked ranges --------
# The Go hello padded to 6 MiB: its section headers, Go build info and pclntab must be found
# in the stream; the result must equal xarch file's on the same bytes on disk.
big=$TMPD/hello-big
cp "$XARCH_FIXTURES/go/hello-amd64" "$big"
truncate -s 6M "$big"
cat >"$TMPD/big.json" <<JSON
{"nested": false, "images": [{"config_platform": "linux/amd64", "entrypoint": ["/hello"],
  "layers": [{"compression": "gzip", "entries": [["file", "hello", "$big"]]}]}]}
JSON
python3 "$(dirname "$0")/../images/oci-layout.py" "$TMPD/big.oci" "$TMPD/big.json"
run_xarch verify --json "oci:$TMPD/big.oci:latest"
expect_rc 0 "a 6 MiB Go binary verifies"
disk=$("$XARCH" file "$big" | sed 's/^[^:]*: //')
if [ "$(jq_out '.platforms[0].binary.partial')" = true ] &&
        [ "$(jq_out '.platforms[0].binary.description')" = "$disk" ]; then
        ok "streamed ranges give what xarch file reads on disk: $disk"
else
        not_ok "large file: stream '$(jq_out '.platforms[0].binary.description')' vs disk '$disk'"
fi

# --- the large Go binaries of the fixtures: the same facts streamed as on disk ---------------
# npm's esbuild (release builds without build info: the Go version is only in .rodata) and a Go
# binary padded beyond the capture limit. Streamed, they used to read "Go 1.20+ ... malformed:
# only part of the file could be read", and check predicted the lfstack crash for a fixed Go.
for rel in npm/esbuild-linux-x64 npm/esbuild-linux-arm64 go/hello-padded-amd64; do
        f=$XARCH_FIXTURES/$rel
        if [ ! -f "$f" ]; then
                skip "$rel missing (tests/fixtures/make-fixtures.sh)"
                continue
        fi
        name=$(basename "$rel")
        case $rel in *arm64*) plat=linux/arm64 ;; *) plat=linux/amd64 ;; esac
        cat >"$TMPD/$name.json" <<JSON
{"nested": false, "images": [{"config_platform": "$plat", "entrypoint": ["/bin/$name"],
  "layers": [{"compression": "gzip", "entries": [["dir", "bin"], ["file", "bin/$name", "$f"]]}]}]}
JSON
        python3 "$(dirname "$0")/../images/oci-layout.py" "$TMPD/$name.oci" "$TMPD/$name.json"
        run_xarch verify --json "oci:$TMPD/$name.oci:latest"
        disk=$("$XARCH" file "$f" | sed 's/^[^:]*: //')
        desc=$(jq_out '.platforms[0].binary.description')
        if [ "$(jq_out '.platforms[0].binary.partial')" = true ] && [ "$desc" = "$disk" ]; then
                ok "$rel: streamed in parts, the same facts as on disk: $disk"
        else
                not_ok "$rel: stream '$desc' vs disk '$disk'"
        fi
done
if [ -f "$XARCH_FIXTURES/npm/esbuild-linux-x64" ]; then
        run_xarch check --node arm64 "oci:$TMPD/esbuild-linux-x64.oci:latest"
        expect_rc 0 "esbuild (go1.26.5) under QEMU on arm64: no crash predicted"
        expect_out 'has the lfstack fix' "check reads its Go version from the stream"
else
        skip "esbuild-linux-x64 missing"
        skip "esbuild-linux-x64 missing"
fi

# --- local transports and integrity ---------------------------------------------------------
run_xarch verify "oci:$VIMAGES/local/shlinks.oci:latest"
expect_rc 0 "an oci: layout verifies the same"
if skopeo copy -q --src-tls-verify=false "docker://$REG/go-amd64-only:latest" \
        "docker-archive:$TMPD/go.docker.tar:go:latest" >/dev/null 2>&1; then
        run_xarch verify --json "docker-archive:$TMPD/go.docker.tar"
        expect_rc 0 "a docker-archive (skopeo) verifies"
        [ "$(jq_out '.platforms[0].binary.go.version')" = go1.19.8 ] &&
                ok "docker-archive: the Go binary is found in the Docker layer" ||
                not_ok "docker-archive: $(jq_out '.platforms[0].binary')"
else
        skip "skopeo could not write a docker-archive"
        skip "docker-archive"
fi
cp -r "$VIMAGES/local/shlinks.oci" "$TMPD/broken.oci"
mdigest=$(jq -r '.manifests[0].digest' "$TMPD/broken.oci/index.json")
child=$(jq -r '.manifests[0].digest' "$TMPD/broken.oci/blobs/sha256/${mdigest#sha256:}")
layer=$(jq -r '.layers[1].digest' "$TMPD/broken.oci/blobs/sha256/${child#sha256:}")
blob=$TMPD/broken.oci/blobs/sha256/${layer#sha256:}
chmod u+w "$blob"
printf 'X' | dd of="$blob" bs=1 seek=200 conv=notrunc 2>/dev/null
run_xarch verify "oci:$TMPD/broken.oci:latest"
expect_rc 2 "a layer that fails its digest exits 2"
expect_out 'unreadable' "and the platform is reported unreadable, its results discarded"
if grep -q 'program:' "$TMPD/out"; then not_ok "no program reported from a corrupt layer"; else
        ok "no program reported from a corrupt layer"; fi

# --- both gzip inflaters (ISA-L and zlib, XARCH_INFLATE=zlib) give the same answers ----------
# Hostile gzip layers with valid digests (so the inflater, not the digest, must catch them):
# trailing garbage, a bad CRC-32, a bad ISIZE, a truncated member, a second member with a bad
# header, and a good two-member layer. Then every layout of this test, both ways, byte for byte.
python3 - "$TMPD/gz" "$XARCH_FIXTURES/go/hello-amd64" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, hello = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    t.add(hello, arcname="hello")
tar = buf.getvalue()
good = gzip.compress(tar, 6, mtime=0)
half = len(tar) // 2
cases = {
    "gz-garbage": good + b"garbage!",
    "gz-crc": good[:-8] + bytes([good[-8] ^ 0xff]) + good[-7:],
    "gz-isize": good[:-4] + bytes([good[-4] ^ 0x01]) + good[-3:],
    "gz-truncated": good[: len(good) // 2],
    "gz-badmember": good + b"\x1f\x00\x08\x00garbage",
    "gz-twomembers": gzip.compress(tar[:half], 6, mtime=0) + gzip.compress(tar[half:], 6, mtime=0),
}
for name, layer in cases.items():
    d = os.path.join(out, name + ".oci")
    blobs = os.path.join(d, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    def put(data, mt):
        h = hashlib.sha256(data).hexdigest()
        open(os.path.join(blobs, h), "wb").write(data)
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}
    l = put(layer, "application/vnd.oci.image.layer.v1.tar+gzip")
    c = put(json.dumps({"os": "linux", "architecture": "amd64", "config": {"Entrypoint": ["/hello"]},
                        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode(),
            "application/vnd.oci.image.config.v1+json")
    m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": c, "layers": [l]}).encode(), "application/vnd.oci.image.manifest.v1+json")
    m["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
    json.dump({"schemaVersion": 2, "manifests": [m]}, open(os.path.join(d, "index.json"), "w"))
PY
for name in gz-garbage gz-crc gz-isize gz-truncated gz-badmember; do
        for engine in default zlib; do
                if [ "$engine" = zlib ]; then
                        XARCH_INFLATE=zlib run_xarch verify "oci:$TMPD/gz/$name.oci:latest"
                else
                        run_xarch verify "oci:$TMPD/gz/$name.oci:latest"
                fi
                expect_rc 2 "$name ($engine inflate): the layer is refused, exit 2"
        done
done
XARCH_INFLATE=zlib run_xarch verify "oci:$TMPD/gz/gz-twomembers.oci:latest"
expect_rc 0 "a two-member gzip layer verifies (zlib)"
run_xarch verify "oci:$TMPD/gz/gz-twomembers.oci:latest"
expect_rc 0 "a two-member gzip layer verifies (default inflate: $("$XARCH" --version | sed -n 's/^ *inflate *//p'))"
for layout in "$TMPD"/*.oci "$TMPD"/gz/*.oci "$VIMAGES"/local/*.oci; do
        [ -d "$layout" ] || continue
        set +e
        "$XARCH" verify --deep --json "oci:$layout:latest" >"$TMPD/a.json" 2>"$TMPD/a.err"
        ra=$?
        XARCH_INFLATE=zlib "$XARCH" verify --deep --json "oci:$layout:latest" >"$TMPD/b.json" 2>"$TMPD/b.err"
        rb=$?
        set -e
        if [ "$ra" = "$rb" ] && cmp -s "$TMPD/a.json" "$TMPD/b.json" && cmp -s "$TMPD/a.err" "$TMPD/b.err"; then
                ok "$(basename "$layout"): the same --json, stderr and exit ($ra) with both inflaters"
        else
                not_ok "$(basename "$layout"): isa-l/zlib differ (exit $ra vs $rb): $(diff "$TMPD/a.json" "$TMPD/b.json" | head -3) $(diff "$TMPD/a.err" "$TMPD/b.err" | head -3)"
        fi
done

done_testing
