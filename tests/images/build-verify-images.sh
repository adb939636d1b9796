#!/bin/bash
# Builds the fixture images of `xarch verify` (and `xarch check`) from the real binaries made by
# tests/fixtures/make-fixtures.sh, pushes them to a private docker-registry on 127.0.0.1 and keeps
# its storage, so that tests start a registry over it without rebuilding anything:
#   build-verify-images.sh OUT          ($XARCH_FIXTURES: the fixtures directory)
# OUT/registry/   docker-registry storage holding (repository:tag)
#   multi:latest          OCI index, correct: linux/amd64, linux/arm64, linux/arm/v7 Go hello
#   mislabelled:latest    OCI index: linux/amd64 correct, linux/arm64 entry holding the x86-64 Go
#                         binary (config says arm64 too)
#   variant:latest        OCI index: linux/arm/v6 entry whose Go binary was built with GOARM=7
#   go-amd64-only:latest  one image manifest: linux/amd64 Go hello
#   c-amd64-only:latest   one image manifest: linux/amd64 static C hello
#   noloader:latest       one image manifest: linux/amd64 dynamic C hello without
#                         /lib64/ld-linux-x86-64.so.2
#   shlinks:latest        OCI index, one linux/amd64 image in 3 layers (gzip with two members,
#                         zstd, uncompressed). Cmd "hello" on PATH=/usr/local/bin:/usr/bin:/bin:
#                         /usr/local/bin/hello (an arm64 busybox) is whited out by the top layer,
#                         so /usr/bin/hello -> ../../bin/sh (relative), bin -> usr/bin (relative),
#                         usr/bin/sh -> /usr/lib/shell/dash-link (absolute) -> ../../lib/shell/dash
#                         (relative), a hard link to usr/libexec/real-sh = the static C hello.
#                         An opaque directory hides a lower-layer arm64 decoy in /opt/tools.
#   confmix:latest        OCI index: entry linux/arm64, config linux/amd64, binary x86-64 Go
#   loop:latest           one linux/amd64 image whose entrypoint is a symlink loop
# OUT/local/shlinks.oci   the shlinks layout (oci: transport)
#   script:latest         one linux/amd64 image: Entrypoint /entry.sh, "#!/usr/bin/env -S sh -e",
#                         sh found on PATH (/bin/sh -> /usr/libexec/sh-real, the static C hello)
#   script-nosh:latest    the same script with "#!/bin/bash" and no bash in the image
# Idempotent: OUT/.done holds the version of this script's image set; re-running with the same
# version does nothing, another version rebuilds.
set -euo pipefail
out=$1
version=2
[ "$(cat "$out/.done" 2>/dev/null)" = "$version" ] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
fx=${XARCH_FIXTURES:?XARCH_FIXTURES must point at the fixtures directory}
for f in go/hello-amd64 go/hello-arm64 go/hello-arm-v7 c/hello-static c/hello-dynamic \
        debian/busybox-arm64; do
        [ -f "$fx/$f" ] || { echo "missing fixture $fx/$f" >&2; exit 77; }
done
rm -rf "$out"
mkdir -p "$out/local" "$out/state/tmp"
IMAGES_STATE=$out/state
# shellcheck source=tests/images/lib.sh
. "$here/lib.sh"

registry_start "$out/registry"
trap 'registry_stop' EXIT

# build NAME ARCH VARIANT FILE [DEST]: a one-layer image with FILE as /hello (or DEST)
build() {
        local ctr
        ctr=$(buildah_ from --arch "$2" ${3:+--variant "$3"} scratch)
        buildah_ copy --chmod 0755 "$ctr" "$4" "${5:-/hello}" >/dev/null
        buildah_ config --os linux --arch "$2" ${3:+--variant "$3"} \
                --entrypoint "[\"${5:-/hello}\"]" "$ctr"
        buildah_ commit -q --format oci "$ctr" "$1" >/dev/null
        buildah_ rm "$ctr" >/dev/null
}

push_index() { # NAME IMAGE...
        local name=$1
        shift
        buildah_ manifest create "$name" >/dev/null
        for i in "$@"; do buildah_ manifest add "$name" "$i" >/dev/null; done
        buildah_ manifest push -q --all --tls-verify=false "$name" "docker://$REG/$name:latest"
}

push_image() { # NAME
        buildah_ push -q --tls-verify=false "$1" "docker://$REG/$1:latest"
}

build multi-amd64 amd64 "" "$fx/go/hello-amd64"
build multi-arm64 arm64 "" "$fx/go/hello-arm64"
build multi-armv7 arm v7 "$fx/go/hello-arm-v7"
push_index multi multi-amd64 multi-arm64 multi-armv7

build mis-arm64 arm64 "" "$fx/go/hello-amd64"
push_index mislabelled multi-amd64 mis-arm64

build var-armv6 arm v6 "$fx/go/hello-arm-v7"
push_index variant var-armv6

build go-amd64-only amd64 "" "$fx/go/hello-amd64"
push_image go-amd64-only
build c-amd64-only amd64 "" "$fx/c/hello-static"
push_image c-amd64-only
build noloader amd64 "" "$fx/c/hello-dynamic"
push_image noloader

# Hand-made layouts: whiteouts, symlink chains, mixed compression, contradicting labels.
cat >"$out/state/shlinks.json" <<JSON
{"images": [{"index_platform": "linux/amd64", "cmd": ["hello"],
  "env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
  "layers": [
   {"compression": "gzip2", "entries": [
     ["dir", "usr"], ["dir", "usr/bin"], ["dir", "usr/local/bin"], ["dir", "opt/tools"],
     ["file", "usr/libexec/real-sh", "$fx/c/hello-static"],
     ["file", "usr/local/bin/hello", "$fx/debian/busybox-arm64"],
     ["file", "opt/tools/decoy", "$fx/debian/busybox-arm64"],
     ["file", "etc/os-release", "text:ID=xarch-test\n", 420]]},
   {"compression": "zstd", "entries": [
     ["symlink", "bin", "usr/bin"],
     ["dir", "usr/lib/shell"],
     ["hardlink", "usr/lib/shell/dash", "usr/libexec/real-sh"],
     ["symlink", "usr/bin/sh", "/usr/lib/shell/dash-link"],
     ["symlink", "usr/lib/shell/dash-link", "../../lib/shell/dash"],
     ["symlink", "usr/bin/hello", "../../bin/sh"]]},
   {"compression": "none", "entries": [
     ["whiteout", "usr/local/bin/hello"],
     ["opaque", "opt/tools"],
     ["file", "opt/tools/readme", "text:tools\n", 420]]}]}]}
JSON
python3 "$here/oci-layout.py" "$out/local/shlinks.oci" "$out/state/shlinks.json"
skopeo_ copy -q --all --dest-tls-verify=false "oci:$out/local/shlinks.oci:latest" \
        "docker://$REG/shlinks:latest"

cat >"$out/state/confmix.json" <<JSON
{"images": [{"index_platform": "linux/arm64", "config_platform": "linux/amd64",
  "entrypoint": ["/hello"],
  "layers": [{"compression": "gzip", "entries": [["file", "hello", "$fx/go/hello-amd64"]]}]}]}
JSON
python3 "$here/oci-layout.py" "$out/state/confmix.oci" "$out/state/confmix.json"
skopeo_ copy -q --all --dest-tls-verify=false "oci:$out/state/confmix.oci:latest" \
        "docker://$REG/confmix:latest"

cat >"$out/state/loop.json" <<JSON
{"nested": false, "images": [{"config_platform": "linux/amd64", "entrypoint": ["/bin/app"],
  "layers": [{"compression": "gzip", "entries": [
    ["symlink", "bin/app", "/bin/app2"], ["symlink", "bin/app2", "../bin/app"]]}]}]}
JSON
python3 "$here/oci-layout.py" "$out/state/loop.oci" "$out/state/loop.json"
skopeo_ copy -q --dest-tls-verify=false "oci:$out/state/loop.oci:latest" \
        "docker://$REG/loop:latest"

for v in "script:#!/usr/bin/env -S sh -e" "script-nosh:#!/bin/bash"; do
        name=${v%%:*}
        cat >"$out/state/$name.json" <<JSON
{"nested": false, "images": [{"config_platform": "linux/amd64", "entrypoint": ["/entry.sh"],
  "layers": [{"compression": "gzip", "entries": [
    ["file", "entry.sh", "text:${v#*:}\\necho hi\\n"],
    ["file", "usr/bin/env", "$fx/c/hello-static"],
    ["file", "usr/libexec/sh-real", "$fx/c/hello-static"],
    ["symlink", "bin/sh", "../usr/libexec/sh-real"]]}]}]}
JSON
        python3 "$here/oci-layout.py" "$out/state/$name.oci" "$out/state/$name.json"
        skopeo_ copy -q --dest-tls-verify=false "oci:$out/state/$name.oci:latest" \
                "docker://$REG/$name:latest"
done

registry_stop
trap - EXIT
# buildah's storage is not needed any more; the registry storage is the result
rm -rf "$out/state/storage" "$out/state/run" 2>/dev/null || true
echo "$version" >"$out/.done"
