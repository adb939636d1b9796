#!/bin/bash
# Builds the images the inspect tests and benchmark use, with independent tools, and stores
# them in a registry storage directory plus local layouts and archives:
#   make-images.sh OUT
# OUT/registry/   docker-registry storage holding (repository:tag)
#     multi:latest      OCI index, buildah: linux/amd64, linux/arm64 (variant v8), linux/arm/v7
#     attest:latest     the same plus two BuildKit-style attestation manifests (unknown/unknown)
#     dlist:latest      Docker manifest list (v2s2): linux/amd64, linux/s390x
#     single:arm64      one OCI image manifest (linux/arm64), no index
#     bench/img-N:latest  N = 1..100, copies of multi (cross-repository mounts)
# OUT/local/      multi.oci (skopeo oci:), multi.oci.tar (skopeo oci-archive:),
#                 single.docker.tar (podman save docker-archive), single.oci.tar
#                 (podman save --format oci-archive)
# Each image carries a real binary for its architecture (tests/fixtures Go hello-ARCH) when
# $XARCH_FIXTURES has them, else a small text file. Re-running with OUT complete does nothing.
set -euo pipefail
out=$1
[ -f "$out/.done" ] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out/local" "$out/state/tmp"
IMAGES_STATE=$out/state
. "$here/lib.sh"

registry_start "$out/registry"
trap 'registry_stop' EXIT

payload() { # ARCH VARIANT -> file to copy in as /hello
        f=${XARCH_FIXTURES:-/nonexistent}/go/hello-$1${2:+-$2}
        [ "$1" = arm64 ] && f=${XARCH_FIXTURES:-/nonexistent}/go/hello-arm64
        if [ -f "$f" ]; then echo "$f"; return; fi
        echo "hello from $1 $2" >"$out/state/hello-$1$2"
        echo "$out/state/hello-$1$2"
}

build() { # NAME ARCH VARIANT FORMAT
        ctr=$(buildah_ from --arch "$2" ${3:+--variant "$3"} scratch)
        buildah_ copy "$ctr" "$(payload "$2" "$3")" /hello >/dev/null
        buildah_ config --os linux --arch "$2" ${3:+--variant "$3"} --entrypoint '["/hello"]' "$ctr"
        buildah_ commit --format "$4" "$ctr" "$1" >/dev/null
        buildah_ rm "$ctr" >/dev/null
}

build img-amd64 amd64 "" oci
build img-arm64 arm64 v8 oci
build img-armv7 arm v7 oci
buildah_ manifest create multi >/dev/null
for i in img-amd64 img-arm64 img-armv7; do buildah_ manifest add multi "$i" >/dev/null; done
buildah_ manifest push --all --tls-verify=false multi "docker://$REG/multi:latest"

build dimg-amd64 amd64 "" docker
build dimg-s390x s390x "" docker
buildah_ manifest create dlist >/dev/null
for i in dimg-amd64 dimg-s390x; do buildah_ manifest add dlist "$i" >/dev/null; done
buildah_ manifest push --all --format v2s2 --tls-verify=false dlist "docker://$REG/dlist:latest"

buildah_ push --tls-verify=false img-arm64 "docker://$REG/single:arm64"

python3 "$here/registry-push.py" "$REG" attest multi latest attest latest
python3 "$here/registry-push.py" "$REG" copies multi latest bench/img 100

skopeo_ copy --all --src-tls-verify=false "docker://$REG/multi:latest" "oci:$out/local/multi.oci:latest"
skopeo_ copy --all --src-tls-verify=false "docker://$REG/multi:latest" \
        "oci-archive:$out/local/multi.oci.tar:latest"
podman_ pull -q --tls-verify=false "$REG/single:arm64" >/dev/null
podman_ save -q --format docker-archive -o "$out/local/single.docker.tar" "$REG/single:arm64"
podman_ save -q --format oci-archive -o "$out/local/single.oci.tar" "$REG/single:arm64"

# the storage of buildah/podman is not needed any more (vfs copies are large)
buildah_ rm -a >/dev/null 2>&1 || true
rm -rf "$out/state" "$(podman_runroot)"
touch "$out/.done"
