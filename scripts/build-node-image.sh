#!/bin/sh
# Builds xarch's own node image (linux/amd64 and linux/arm64) with `xarch build`, from Debian
# packages of each architecture, and verifies it with `xarch verify --deep`. The image runs
# `xarch binfmt install --watch` in the DaemonSet `xarch binfmt daemonset` prints.
#   scripts/build-node-image.sh [DEST]        (default oci:build/node-image:VERSION)
# Per architecture, the image holds:
#   /usr/bin/xarch       built here: natively for amd64, with Debian's cross compiler
#                        (gcc-aarch64-linux-gnu) against the :arm64 -dev packages for arm64,
#                        jansson, zlib and libcrypto linked statically (meson prefer_static);
#                        without ISA-L (the agent inflates no layers; zlib serves verify)
#   libc6, libzstd1      the :ARCH packages (the loader and what xarch links dynamically)
#   /usr/bin/qemu-*-static  from qemu-user-static:ARCH, the emulators the DaemonSet registers
#                        (QEMU_TARGETS below; registered with F, so they keep working after
#                        the pod is gone and inside containers that lack them)
# Environment: XARCH (the xarch that builds and verifies; default build/xarch), WORK (scratch
# directory, default build/node-image-work; packages are downloaded there with apt-get
# download, which needs the foreign architecture: scripts/install-deps --test adds arm64),
# SOURCE_DATE_EPOCH (reproducible layers, default 0).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
VERSION=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" meson.build | head -n 1)
DEST=${1:-oci:build/node-image:$VERSION}
XARCH=${XARCH:-$SRC/build/xarch}
WORK=${WORK:-$SRC/build/node-image-work}
ARCHES="amd64 arm64"
QEMU_TARGETS="aarch64 arm x86_64 i386 riscv64 ppc64le s390x"
RUNTIME_PKGS="libc6 libzstd1 qemu-user-static"
CROSS_DEV_PKGS="libjansson-dev libjansson4 zlib1g-dev zlib1g libzstd-dev libzstd1 libssl-dev libssl3 libcurl4-openssl-dev"

say() { echo "build-node-image: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$XARCH" ] || die "no xarch at $XARCH (build it first: scripts/build)"
"$XARCH" build --help >/dev/null 2>&1 || die "$XARCH has no 'build' verb"
command -v aarch64-linux-gnu-gcc >/dev/null || die "needs gcc-aarch64-linux-gnu"
dpkg --print-foreign-architectures | grep -qx arm64 ||
        die "dpkg has no arm64 architecture (dpkg --add-architecture arm64; apt-get update)"

mkdir -p "$WORK/debs"
# download ARCH PKG... : the packages' .deb files for ARCH into $WORK/debs/ARCH (cached)
download() {
        arch=$1
        shift
        mkdir -p "$WORK/debs/$arch"
        for p in "$@"; do
                ls "$WORK/debs/$arch/${p}_"*.deb >/dev/null 2>&1 && continue
                (cd "$WORK/debs/$arch" && apt-get download -q "$p:$arch" >/dev/null 2>&1) ||
                        die "apt-get download $p:$arch failed"
        done
}
# extract ARCH DIR PKG... : unpacks the packages into DIR (data only, no maintainer scripts)
extract() {
        arch=$1 dir=$2
        shift 2
        for p in "$@"; do
                dpkg-deb -x "$(ls "$WORK/debs/$arch/${p}_"*.deb | head -n 1)" "$dir"
        done
}

# ---- xarch for each architecture ----
build_xarch() {
        arch=$1 out=$WORK/build-$arch
        if [ "$arch" = amd64 ]; then
                [ -f "$out/build.ninja" ] ||
                        meson setup "$out" -Dtests=disabled -Dman=disabled -Disal=disabled -Dprefer_static=true \
                                --buildtype=release >/dev/null
        else
                sysroot=$WORK/sysroot-$arch
                download "$arch" $CROSS_DEV_PKGS
                rm -rf "$sysroot"
                mkdir -p "$sysroot"
                extract "$arch" "$sysroot" $CROSS_DEV_PKGS
                # -dev symlinks that point at the target's absolute paths (libz.so ->
                # /lib/aarch64-linux-gnu/...) are made relative to the sysroot
                find "$sysroot" -type l | while read -r l; do
                        t=$(readlink "$l")
                        case $t in /*) ln -sfn "$sysroot$t" "$l" ;; esac
                done
                cat >"$WORK/cross-$arch.ini" <<INI
[binaries]
c = 'aarch64-linux-gnu-gcc'
strip = 'aarch64-linux-gnu-strip'
pkgconfig = 'pkg-config'

[built-in options]
c_args = ['-I$sysroot/usr/include/aarch64-linux-gnu', '-I$sysroot/usr/include']
c_link_args = ['-L$sysroot/usr/lib/aarch64-linux-gnu', '-L$sysroot/lib/aarch64-linux-gnu']

[properties]
pkg_config_libdir = ['$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig', '$sysroot/usr/share/pkgconfig']
sys_root = '$sysroot'

[host_machine]
system = 'linux'
cpu_family = 'aarch64'
cpu = 'aarch64'
endian = 'little'
INI
                [ -f "$out/build.ninja" ] ||
                        PKG_CONFIG_SYSROOT_DIR=$sysroot meson setup "$out" \
                                --cross-file "$WORK/cross-$arch.ini" -Dtests=disabled \
                                -Dman=disabled -Disal=disabled -Dprefer_static=true --buildtype=release >/dev/null
        fi
        PKG_CONFIG_SYSROOT_DIR=${sysroot:-} ninja -C "$out" xarch >/dev/null
}

# ---- each architecture's root ----
make_root() {
        arch=$1 root=$WORK/root-$arch
        download "$arch" $RUNTIME_PKGS
        rm -rf "$root"
        mkdir -p "$root/usr/bin"
        extract "$arch" "$root" libc6 libzstd1
        # only the emulators the DaemonSet registers, not all thirty
        tmp=$WORK/qemu-$arch
        rm -rf "$tmp"
        extract "$arch" "$tmp" qemu-user-static
        for t in $QEMU_TARGETS; do
                cp "$tmp/usr/bin/qemu-$t-static" "$root/usr/bin/"
        done
        rm -rf "$tmp"
        # no documentation, locales or gconv modules: the agent prints ASCII
        rm -rf "$root/usr/share" "$root/usr/lib/"*-linux-gnu/gconv "$root/usr/libexec" \
                "$root/sbin" "$root/usr/sbin" "$root/etc"
        install -m 0755 "$WORK/build-$arch/xarch" "$root/usr/bin/xarch"
}

for arch in $ARCHES; do
        say "xarch for $arch"
        build_xarch "$arch"
        say "root for $arch"
        make_root "$arch"
done

say "xarch build -> $DEST"
"$XARCH" build --platform linux/amd64,linux/arm64 \
        --add "linux/amd64=$WORK/root-amd64:/" --add "linux/arm64=$WORK/root-arm64:/" \
        --entrypoint /usr/bin/xarch --cmd 'binfmt status' \
        --label "org.opencontainers.image.title=xarch node image" \
        --label "org.opencontainers.image.version=$VERSION" \
        --tag "$DEST"
say "xarch verify --deep $DEST"
"$XARCH" verify --deep "$DEST"
