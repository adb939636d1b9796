#!/bin/bash
# Benchmarks `xarch verify` (docs/benchmarks.md, "## verify"), in one run:
#  1. xarch verify of a multi-arch image in a local registry vs the pipeline users run today:
#     skopeo copy --all to an OCI layout, each platform's layers unpacked with tar, file(1) on
#     the entrypoint;
#  2. analysis throughput (xarch verify --jobs 1 on an oci: layout) vs raw single-core
#     `gzip -dc` of the same layers;
#  3. peak RSS (/usr/bin/time -v) of xarch verify on an image with a 1 GB layer (mostly random
#     files and a few ELF binaries);
#  4. deep verification against the fastest inflate: xarch verify --deep of one gzip layer of
#     632 real ELF files (bench/elf-layer.py picks them from this machine's Debian programs and
#     libraries, amd64 and the cross toolchains' arm64/armhf) side by side with `igzip -dc` and
#     `gzip -dc` of the same layer, with ISA-L and with zlib (XARCH_INFLATE=zlib): time, peak
#     RSS, and whether the two --json outputs are identical.
#   bench/verify-bench.sh [WORKDIR]     (XARCH: the binary, XARCH_FIXTURES: fixtures dir)
#   BENCH_ONLY=deep bench/verify-bench.sh [WORKDIR]    runs part 4 alone (and, with perf, the CPU
#   of each of its two threads; BENCH_BASELINE=OTHER_XARCH the same for another build)
# The image: per platform (amd64, arm64, arm/v7) a base layer of real host files (ELF programs
# and scripts from /usr/bin, each < 2 MiB, about BENCH_BASE_MB MB) and a layer with the Go hello.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
XARCH=${XARCH:-$top/build-verify/xarch}
fx=${XARCH_FIXTURES:-$top/build-verify/fixtures}
work=${1:-/tmp/xarch-verify-bench}
base_mb=${BENCH_BASE_MB:-150}
big_mb=${BENCH_BIG_MB:-1024}
mkdir -p "$work/state/tmp"
IMAGES_STATE=$work/state
# shellcheck source=tests/images/lib.sh
. "$top/tests/images/lib.sh"
export XDG_CACHE_HOME=$work/cache

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

layer() { # DIR OUT [gzip level]
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . |
                gzip -"${3:-6}" >"$2"
}

# layout OUT ENTRYPOINT "PLATFORM:LAYER[,LAYER...]"...  (an index when more than one platform)
layout() {
        python3 - "$@" <<'PY'
import gzip, hashlib, json, os, shutil, sys
out, entry, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
def put(data=None, path=None, mt=""):
    h = hashlib.sha256()
    if path:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        size = os.path.getsize(path)
        dst = os.path.join(blobs, h.hexdigest())
        if not os.path.exists(dst):
            shutil.copyfile(path, dst)
    else:
        h.update(data)
        size = len(data)
        open(os.path.join(blobs, h.hexdigest()), "wb").write(data)
    return {"mediaType": mt, "digest": "sha256:" + h.hexdigest(), "size": size}
def diff_id(path):  # SHA-256 of the layer uncompressed, as a runtime checks it at unpack
    h = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()
manifests = []
for spec in specs:
    plat, layers = spec.split(":", 1)
    p = plat.split("/")
    ls = [put(path=l, mt="application/vnd.oci.image.layer.v1.tar+gzip") for l in layers.split(",")]
    cfg = {"os": p[0], "architecture": p[1], "config": {"Entrypoint": [entry]},
           "rootfs": {"type": "layers", "diff_ids": [diff_id(l) for l in layers.split(",")]}}
    if len(p) > 2:
        cfg["variant"] = p[2]
    c = put(json.dumps(cfg).encode(), mt="application/vnd.oci.image.config.v1+json")
    m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": c, "layers": ls}).encode(), mt="application/vnd.oci.image.manifest.v1+json")
    m["platform"] = {"os": p[0], "architecture": p[1], **({"variant": p[2]} if len(p) > 2 else {})}
    manifests.append(m)
if len(manifests) > 1:
    top = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": manifests}).encode(), mt="application/vnd.oci.image.index.v1+json")
else:
    top = manifests[0]
    del top["platform"]
top["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
json.dump({"schemaVersion": 2, "manifests": [top]}, open(os.path.join(out, "index.json"), "w"))
PY
}

# best CMD...: runs it 3 times; prints "wall cpu" (seconds) of the fastest run. CPU is user + sys
# of the process and its children: on a shared machine wall times are noisy, CPU times are not.
best() {
        local best_w="" best_c="" w c
        for _ in 1 2 3; do
                read -r w c < <({ TIMEFORMAT='%R %U %S'; time { "$@" >/dev/null 2>&1 || true; }; } 2>&1 |
                        awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }')
                if [ -z "$best_w" ] || awk -v a="$w" -v b="$best_w" 'BEGIN { exit !(a < b) }'; then
                        best_w=$w
                        best_c=$c
                fi
        done
        echo "$best_w $best_c"
}
xverify() { rm -rf "$XDG_CACHE_HOME"; "$XARCH" verify --no-cache "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
deep_only=0
[ "${BENCH_ONLY:-}" = deep ] && deep_only=1
if [ "$deep_only" = 0 ]; then
# ---- build the multi-arch image (cached in WORKDIR) -----------------------------------------
if [ ! -f "$work/multi.done" ]; then
        rm -rf "$work/multi.oci" "$work/layers"
        mkdir -p "$work/layers"
        for a in amd64 arm64 armv7; do
                d=$work/layers/base-$a
                mkdir -p "$d/usr/bin"
                # real programs: /usr/bin files under 2 MiB, up to base_mb MB
                find /usr/bin -maxdepth 1 -type f -size -2M -printf '%s %p\n' | sort -k2 |
                        awk -v max=$((base_mb * 1000000)) '{ t += $1; if (t > max) exit; print $2 }' |
                        xargs -I{} cp {} "$d/usr/bin/"
                echo "$a" >"$d/etc-platform"
                layer "$d" "$work/layers/base-$a.tar.gz"
                rm -rf "$d"
                mkdir -p "$work/layers/app-$a"
                case $a in
                amd64) cp "$fx/go/hello-amd64" "$work/layers/app-$a/hello" ;;
                arm64) cp "$fx/go/hello-arm64" "$work/layers/app-$a/hello" ;;
                armv7) cp "$fx/go/hello-arm-v7" "$work/layers/app-$a/hello" ;;
                esac
                layer "$work/layers/app-$a" "$work/layers/app-$a.tar.gz"
                rm -rf "$work/layers/app-$a"
        done
        L=$work/layers
        layout "$work/multi.oci" /hello "linux/amd64:$L/base-amd64.tar.gz,$L/app-amd64.tar.gz" \
                "linux/arm64:$L/base-arm64.tar.gz,$L/app-arm64.tar.gz" \
                "linux/arm/v7:$L/base-armv7.tar.gz,$L/app-armv7.tar.gz"
        touch "$work/multi.done"
fi

rm -rf "$work/registry"
registry_start "$work/registry"
trap 'registry_stop' EXIT
skopeo_ copy -q --all --dest-tls-verify=false "oci:$work/multi.oci:latest" \
        "docker://$REG/bench/multi:latest"
compressed=$(du -cb "$work/layers"/*.tar.gz | tail -1 | cut -f1)
uncompressed=$(for f in "$work/layers"/*.tar.gz; do gzip -dc "$f" | wc -c; done | awk '{ t += $1 } END { print t }')
echo "image: 3 platforms, 6 layers, $((compressed / 1000000)) MB compressed, $((uncompressed / 1000000)) MB uncompressed"

# ---- 1. pipeline vs xarch verify ------------------------------------------------------------
pipeline() {
        local blobs idx i m l
        rm -rf "$work/pipe"
        mkdir -p "$work/pipe"
        skopeo_ copy -q --all --src-tls-verify=false "docker://$REG/bench/multi:latest" \
                "oci:$work/pipe/layout:latest" >/dev/null
        blobs=$work/pipe/layout/blobs/sha256
        idx=$(jq -r '.manifests[0].digest' "$work/pipe/layout/index.json")
        i=0
        for m in $(jq -r '.manifests[].digest' "$blobs/${idx#sha256:}"); do
                i=$((i + 1))
                mkdir -p "$work/pipe/root$i"
                for l in $(jq -r '.layers[].digest' "$blobs/${m#sha256:}"); do
                        tar -xzf "$blobs/${l#sha256:}" -C "$work/pipe/root$i"
                done
                file -L "$work/pipe/root$i/hello" >/dev/null
        done
        rm -rf "$work/pipe"
}
read -r w_pipe c_pipe < <(best pipeline)
read -r w_x c_x < <(best xverify "$REG/bench/multi:latest")
read -r w_xd c_xd < <(best xverify --deep "$REG/bench/multi:latest")
echo "pipeline (skopeo copy --all + tar -xzf + file): wall ${w_pipe}s  cpu ${c_pipe}s"
echo "xarch verify (registry):          wall ${w_x}s  cpu ${c_x}s  ($(ratio "$w_pipe" "$w_x")x faster wall, $(ratio "$c_pipe" "$c_x")x less cpu)"
echo "xarch verify --deep (registry):   wall ${w_xd}s  cpu ${c_xd}s  ($(ratio "$w_pipe" "$w_xd")x faster wall)"

# ---- 2. throughput vs gunzip -----------------------------------------------------------------
gunzip_all() { for f in "$work/layers"/*.tar.gz; do gzip -dc "$f" >/dev/null; done; }
read -r w_gz c_gz < <(best gunzip_all)
read -r w_x1 c_x1 < <(best "$XARCH" verify --jobs 1 "oci:$work/multi.oci:latest")
read -r w_x2 c_x2 < <(best "$XARCH" verify "oci:$work/multi.oci:latest")
mbps() { awk -v n="$uncompressed" -v t="$1" 'BEGIN { printf "%.0f", n / 1e6 / t }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
echo "gzip -dc of the 6 layers (1 core): wall ${w_gz}s cpu ${c_gz}s: $(mbps "$w_gz") MB/s wall, $(mbps "$c_gz") MB/s per cpu-second"
echo "xarch verify --jobs 1 (oci:):      wall ${w_x1}s cpu ${c_x1}s: $(mbps "$w_x1") MB/s wall ($(pct "$w_gz" "$w_x1")% of gunzip), $(mbps "$c_x1") MB/s per cpu-second ($(pct "$c_gz" "$c_x1")%)"
echo "xarch verify (default jobs, oci:): wall ${w_x2}s cpu ${c_x2}s: $(mbps "$w_x2") MB/s wall"

# ---- 3. peak memory with a 1 GB layer --------------------------------------------------------
if [ ! -f "$work/big.done" ]; then
        rm -rf "$work/big" "$work/big.oci"
        mkdir -p "$work/big/data" "$work/big/usr/bin"
        n=$((big_mb / 8))
        for i in $(seq 1 "$n"); do
                head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/big/data/blob$i"
        done
        cp "$fx/go/hello-amd64" "$work/big/usr/bin/hello"
        cp "$fx/go/hello-arm64" "$work/big/usr/bin/hello-arm64"
        [ -f "$fx/rust/hello" ] && cp "$fx/rust/hello" "$work/big/usr/bin/rust-hello"
        cp /usr/bin/bash "$work/big/usr/bin/"
        layer "$work/big" "$work/big.tar.gz" 1
        rm -rf "$work/big"
        layout "$work/big.oci" /usr/bin/hello "linux/amd64:$work/big.tar.gz"
        rm -f "$work/big.tar.gz"
        touch "$work/big.done"
fi
/usr/bin/time -v "$XARCH" verify --deep "oci:$work/big.oci:latest" >"$work/big.out" 2>"$work/big.time" || true
rss=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$work/big.time")
el=$(awk '/Elapsed \(wall clock\)/ { print $NF }' "$work/big.time")
echo "1 GB layer: xarch verify --deep peak RSS $((rss / 1024)) MB, wall $el ($(grep -c . "$work/big.out") lines of output)"
fi

# ---- 4. verify --deep against igzip and gzip -------------------------------------------------
if [ ! -f "$work/deep.done" ]; then
        rm -rf "$work/deep.oci"
        python3 "$here/elf-layer.py" 632 2000 >"$work/deep.list"
        # absolute paths: tar stores them without the leading /, as in an image's root
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -T "$work/deep.list" \
                2>/dev/null | gzip -6 >"$work/deep.tar.gz"
        entry=$(sed -n 's|^/||p' "$work/deep.list" | grep '^usr/bin/' | head -1)
        layout "$work/deep.oci" "/$entry" "linux/amd64:$work/deep.tar.gz"
        rm -f "$work/deep.tar.gz"
        touch "$work/deep.done"
fi
deep_gz=$(find "$work/deep.oci/blobs/sha256" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
deep_c=$(stat -c %s "$deep_gz")
deep_u=$(gzip -dc "$deep_gz" | wc -c)
deep_n=$(wc -l <"$work/deep.list")
echo "deep layer: $deep_n ELF files, $((deep_c / 1000000)) MB gzip, $((deep_u / 1000000)) MB tar"
echo "xarch --version: $("$XARCH" --version | tr '\n' ';')"
dverify() { "$XARCH" verify --deep --jobs 1 --json "oci:$work/deep.oci:latest"; }
dverify_zlib() { XARCH_INFLATE=zlib dverify; }
read -r w_ig c_ig < <(best igzip -dc "$deep_gz")
read -r w_gzd c_gzd < <(best gzip -dc "$deep_gz")
read -r w_di c_di < <(best dverify)
read -r w_dz c_dz < <(best dverify_zlib)
rss_of() { # CMD...: peak RSS in MB
        /usr/bin/time -v "$@" >/dev/null 2>"$work/deep.time" || true
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); printf "%d", $2 / 1024 }' "$work/deep.time"
}
rss_i=$(rss_of "$XARCH" verify --deep --json "oci:$work/deep.oci:latest")
rss_z=$(XARCH_INFLATE=zlib rss_of "$XARCH" verify --deep --json "oci:$work/deep.oci:latest")
dverify >"$work/deep-isal.json" || true
dverify_zlib >"$work/deep-zlib.json" || true
same=no
cmp -s "$work/deep-isal.json" "$work/deep-zlib.json" && same=yes
echo "igzip -dc >/dev/null:                 wall ${w_ig}s  cpu ${c_ig}s"
echo "gzip -dc >/dev/null:                  wall ${w_gzd}s  cpu ${c_gzd}s"
echo "xarch verify --deep --jobs 1 (isa-l): wall ${w_di}s  cpu ${c_di}s  ($(ratio "$w_di" "$w_ig")x igzip's wall, $(ratio "$w_gzd" "$w_di")x faster than gzip)  peak RSS ${rss_i} MB"
echo "xarch verify --deep --jobs 1 (zlib):  wall ${w_dz}s  cpu ${c_dz}s  ($(ratio "$w_dz" "$w_ig")x igzip's wall, $(ratio "$w_gzd" "$w_dz")x faster than gzip)  peak RSS ${rss_z} MB"
echo "--json identical with isa-l and zlib: $same ($(wc -c <"$work/deep-isal.json") bytes)"
# CPU of each of xarch's two threads (perf's task-clock samples, 1 ms each): the fetching and
# inflating thread is the main one (listed first, the lower tid), the analysis thread the other.
# The longer of the two bounds the wall time on an idle machine. BENCH_BASELINE=path/to/xarch
# adds the same split for another build (the one before a change), run right after.
if command -v perf >/dev/null 2>&1; then
        for x in "$XARCH" ${BENCH_BASELINE:-}; do
                perf record -q -e task-clock -c 1000000 -o "$work/deep.perf" -- \
                        "$x" verify --deep --jobs 1 --json "oci:$work/deep.oci:latest" >/dev/null 2>&1 || true
                perf report -i "$work/deep.perf" --sort pid --stdio -n 2>/dev/null |
                        awk '/^ +[0-9.]+%/ { split($3, p, ":"); print p[1], $2 }' | sort -n |
                        awk -v x="$x" '{ s = s sprintf("  %s %.2fs", NR == 1 ? "inflate" : "analysis", $2 / 1000) }
                                END { print x ": thread CPU" s }'
        done
fi
