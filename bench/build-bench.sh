#!/bin/bash
# Benchmarks `xarch build` (docs/benchmarks.md, "## build"), in one run:
#  1. a two-platform image (linux/amd64, linux/arm64) from two Go binaries, written to an OCI
#     layout: xarch build against buildah doing the same (from scratch, copy, config, commit per
#     platform, then manifest create, add, add and push --all to oci:);
#  2. the same image pushed to Debian's docker-registry on 127.0.0.1: xarch build against
#     buildah (... manifest push --all to the registry);
#  3. one layer from a tree of about BENCH_TREE_MB MB of real files (/usr/lib, /usr/bin,
#     /usr/share): xarch build to an oci: layout against `tar -c | gzip -1` of the same tree.
#   bench/build-bench.sh [WORKDIR]   (XARCH: the binary, XARCH_FIXTURES: fixtures dir)
#   BENCH_PARTS=3 bench/build-bench.sh   runs only the one-layer part (no buildah, registry or
#                                        fixtures needed); BENCH_TREE_SRC=/usr/lib picks the tree
# hyperfine runs each command BENCH_RUNS times (default 5) after a warm-up, outputs removed
# before each run; the digests of xarch's outputs are checked to be the same every run. Part 3
# runs xarch twice, as it builds by default (the tar stage and the compressor on two threads)
# and with XARCH_BUILD_THREADS=1, checks that both write the same layer, and prints each
# command's mean wall time, its CPU time (user + sys) and the load average around the runs;
# then (with perf, BENCH_PERF_ROUNDS rounds, default 3) perf stat of the two xarch ways in turn.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
XARCH=${XARCH:-$top/build/xarch}
fx=${XARCH_FIXTURES:-$top/build/fixtures}
work=${1:-/tmp/xarch-build-bench}
runs=${BENCH_RUNS:-5}
tree_mb=${BENCH_TREE_MB:-500}
tree_src=${BENCH_TREE_SRC:-/usr/lib /usr/bin /usr/share}
parts=${BENCH_PARTS:-123}
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/state/tmp" "$work/in"
if [[ $parts == *[12]* ]]; then
for f in go/hello-amd64 go/hello-arm64; do
        [ -f "$fx/$f" ] || { echo "missing fixture $fx/$f" >&2; exit 1; }
done
IMAGES_STATE=$work/state
# shellcheck source=tests/images/lib.sh
. "$top/tests/images/lib.sh"
export XDG_CACHE_HOME=$work/cache
cp "$fx/go/hello-amd64" "$fx/go/hello-arm64" "$work/in/"
B="buildah --root $work/state/storage --runroot $work/state/run --storage-driver vfs"

cat >"$work/buildah.sh" <<EOF
#!/bin/bash
# buildah's way: one container per platform, committed, then a manifest list pushed with --all
set -eu
dest=\$1
for a in amd64 arm64; do
        c=\$($B from --arch \$a scratch)
        $B copy "\$c" "$work/in/hello-\$a" /hello >/dev/null
        $B config --os linux --arch \$a --entrypoint '["/hello"]' "\$c"
        $B commit -q --format oci "\$c" bench-\$a >/dev/null
        $B rm "\$c" >/dev/null
done
$B manifest create bench-list >/dev/null
$B manifest add bench-list bench-amd64 >/dev/null
$B manifest add bench-list bench-arm64 >/dev/null
$B manifest push -q --all --tls-verify=false bench-list "\$dest" >/dev/null
EOF
cat >"$work/buildah-clean.sh" <<EOF
#!/bin/bash
$B manifest rm bench-list >/dev/null 2>&1
$B rmi -f bench-amd64 bench-arm64 >/dev/null 2>&1
rm -rf "$work/out-buildah"
exit 0
EOF
chmod +x "$work/buildah.sh" "$work/buildah-clean.sh"
xarch_two="$XARCH build --platform linux/amd64,linux/arm64 --add $work/in/hello-{arch}:/hello --entrypoint /hello"

echo "== 1. two platforms from two binaries to oci:"
hyperfine --runs "$runs" --warmup 1 \
        --prepare "$work/buildah-clean.sh" --prepare "rm -rf $work/out-xarch" \
        --export-markdown "$work/oci.md" \
        -n "buildah (from, copy, config, commit x2; manifest create/add/push --all)" \
        "$work/buildah.sh oci:$work/out-buildah:latest" \
        -n "xarch build" "$xarch_two -t oci:$work/out-xarch:latest"
d1=$($xarch_two -t "oci:$work/check1" --json | jq -r .digest)
d2=$($xarch_two -t "oci:$work/check2" --json | jq -r .digest)
[ "$d1" = "$d2" ] && echo "xarch digests repeat: $d1" || { echo "digests differ: $d1 $d2" >&2; exit 1; }
skopeo inspect --raw "oci:$work/out-buildah:latest" | jq -c '[.manifests[].platform]'

echo "== 2. the same, pushed to a registry on 127.0.0.1"
registry_start "$work/registry"
trap 'registry_stop' EXIT
n=0
hyperfine --runs "$runs" --warmup 1 --prepare "$work/buildah-clean.sh" --prepare true \
        --export-markdown "$work/registry.md" \
        -n "buildah (... manifest push --all docker://)" \
        "$work/buildah.sh docker://$REG/bench/buildah:latest" \
        -n "xarch build (push + verify)" "$xarch_two -t $REG/bench/xarch:latest"
echo "note: after the first run the registry holds every blob; both tools then skip uploads"
fi
[[ $parts == *3* ]] || exit 0

echo "== 3. one layer from a ${tree_mb} MB tree"
tree=$work/tree
mkdir -p "$tree"
python3 - "$tree" "$tree_mb" $tree_src <<'PY'
import os, shutil, sys
dst, limit = sys.argv[1], int(sys.argv[2]) << 20
total = 0
for src in sys.argv[3:]:
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            size = os.path.getsize(p)
            if total + size > limit:
                continue
            out = os.path.join(dst, os.path.relpath(p, "/usr"))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            try:
                shutil.copyfile(p, out)
            except OSError:
                continue
            total += size
        if total >= limit - (1 << 20):
            break
print(f"tree: {total / 1e6:.0f} MB, {sum(len(f) for _, _, f in os.walk(dst))} files")
PY
xarch_layer="$XARCH build --platform linux/amd64 --add $tree:/data --allow-foreign '*' -t oci:$work/out-tree"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine --runs "$runs" --warmup 1 --prepare "rm -rf $work/out-tree" \
        --export-markdown "$work/tree.md" --export-json "$work/tree.json" \
        -n "tar -c | gzip -1 > file" "tar -C $tree -cf - . | gzip -1 > $work/tree.tar.gz" \
        -n "xarch build (two threads: files, tar, sha256 | gzip -1, sha256, write)" "$xarch_layer" \
        -n "XARCH_BUILD_THREADS=1 xarch build (one thread)" "XARCH_BUILD_THREADS=1 $xarch_layer"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
jq -r '.results[] | "\(.command): wall \(.mean * 100 | round / 100) s (\(.min * 10 | round / 10)-\(.max * 10 | round / 10)), CPU \((.user + .system) * 100 | round / 100) s (user \(.user * 100 | round / 100), sys \(.system * 100 | round / 100))"' "$work/tree.json"
# perf stat, the two ways interleaved round by round so that both see the same load
rounds=${BENCH_PERF_ROUNDS:-3}
if command -v perf >/dev/null && [ "$rounds" -gt 0 ]; then
        for i in $(seq "$rounds"); do
                for th in 1 2; do
                        rm -rf "$work/out-tree"
                        la=$(cut -d' ' -f1 /proc/loadavg)
                        XARCH_BUILD_THREADS=$th perf stat -e task-clock -o "$work/perf.txt" \
                                bash -c "$xarch_layer" >/dev/null
                        printf 'perf stat round %s, XARCH_BUILD_THREADS=%s: wall %s s, CPU %s s (%s CPUs utilized), load %s\n' \
                                "$i" "$th" "$(awk '/seconds time elapsed/ {print $1}' "$work/perf.txt")" \
                                "$(awk '/task-clock/ {gsub(",", "", $1); printf "%.2f", $1 / 1000}' "$work/perf.txt")" \
                                "$(awk '/task-clock/ {print $5}' "$work/perf.txt")" "$la"
                done
        done
fi
# the two ways write the same layer
l1=$(XARCH_BUILD_THREADS=1 $XARCH build --json --platform linux/amd64 --add "$tree:/data" --allow-foreign '*' -t "oci:$work/check-one" | jq -r '.platforms[0].layer.digest')
l2=$($XARCH build --json --platform linux/amd64 --add "$tree:/data" --allow-foreign '*' -t "oci:$work/check-two" | jq -r '.platforms[0].layer.digest')
[ "$l1" = "$l2" ] && echo "same layer both ways: $l1" || { echo "layers differ: $l1 $l2" >&2; exit 1; }
ls -l "$work/tree.tar.gz"
du -sb "$work/out-tree/blobs"
[[ $parts == *[12]* ]] && cat "$work/oci.md" "$work/registry.md"
cat "$work/tree.md"
