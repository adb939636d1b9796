#!/bin/bash
# Benchmark: `xarch inspect` against `skopeo inspect --raw` (and `buildah manifest inspect`) on
# the same local registry (Debian's docker-registry on 127.0.0.1, images from
# tests/images/make-images.sh): one multi-arch image, and 100 images in one xarch call against
# 100 sequential skopeo calls. Prints a markdown table with the ratios.
#   bench/inspect-bench.sh [XARCH]        (default: build/xarch; needs hyperfine)
# xarch runs with --no-cache, so every run does all its requests (for one image xarch does more
# work than skopeo --raw: the index plus every child manifest for the layer counts), once with
# its cache warm (a HEAD per tag, everything else from the content-addressed cache), and once
# with XARCH_HTTP=curl (plain HTTP through libcurl instead of xarch's own HTTP/1.1 client, to
# show what loading libcurl costs).
set -euo pipefail
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
cd "$(dirname "$0")/.."
XARCH=${1:-${XARCH:-build/xarch}}
XARCH=$(realpath "$XARCH")
TMPD=$(mktemp -d)
XARCH_BUILDDIR=${XARCH_BUILDDIR:-$(dirname "$XARCH")}
export XARCH_BUILDDIR
. tests/images/lib.sh
images_prepare
registry_start "$IMAGES/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }

printf '[[registry]]\nlocation="%s"\ninsecure=true\n' "$REG" >"$TMPD/registries.conf"
mkdir -p "$TMPD/buildah"
refs=$(for i in $(seq 1 100); do printf '%s ' "$REG/bench/img-$i"; done)
skopeo_loop="for i in \$(seq 1 100); do skopeo inspect --raw --tls-verify=false docker://$REG/bench/img-\$i >/dev/null; done"

bench() { # NAME RUNS COMMAND...
        name=$1 runs=$2
        shift 2
        hyperfine -N --warmup 2 --runs "$runs" --export-json "$TMPD/$name.json" "$@" >/dev/null 2>&1 ||
                hyperfine --warmup 2 --runs "$runs" --export-json "$TMPD/$name.json" "$@" >/dev/null
}

export XDG_CACHE_HOME=$TMPD/cache
bench one 100 \
        "$XARCH inspect --no-cache $REG/multi" \
        "$XARCH inspect --no-cache --raw $REG/multi" \
        "$XARCH inspect $REG/multi" \
        "env XARCH_HTTP=curl $XARCH inspect --no-cache --raw $REG/multi" \
        "skopeo inspect --raw --tls-verify=false docker://$REG/multi" \
        "buildah --registries-conf $TMPD/registries.conf --root $TMPD/buildah/root --runroot $TMPD/buildah/run --storage-driver vfs manifest inspect $REG/multi"
hyperfine --warmup 1 --runs 5 --export-json "$TMPD/many.json" \
        "$XARCH inspect --no-cache $refs" \
        "$XARCH inspect --no-cache --raw $refs" \
        "$XARCH inspect $refs" \
        "$skopeo_loop" >/dev/null

python3 - "$TMPD/one.json" "$TMPD/many.json" <<'PY'
import json, sys
def load(p):
    return [(r["command"], r["mean"], r["stddev"], r["user"] + r["system"])
            for r in json.load(open(p))["results"]]
one, many = load(sys.argv[1]), load(sys.argv[2])
def short(c):
    curl = c.startswith("env XARCH_HTTP=curl ")
    if curl:
        c = c[len("env XARCH_HTTP=curl "):]
        return "`XARCH_HTTP=curl " + c.split(" 127.0.0.1")[0].rsplit("/", 1)[-1] + "` (libcurl transport)"
    c = c.split(" 127.0.0.1")[0].split(" docker://")[0]
    c = c.replace(sys.argv[1].rsplit("/", 1)[0], "TMP")
    if c.startswith("for i"):
        return "100 x `skopeo inspect --raw` (sequential)"
    if c.startswith("buildah"):
        return "`buildah manifest inspect`"
    return "`" + c.rsplit("/", 1)[-1] + "`"
print("| case | command | wall mean (ms) | ± (ms) | skopeo / this (wall) | CPU user+sys (ms) | skopeo / this (CPU) |")
print("|---|---|---:|---:|---:|---:|---:|")
sk1 = [(m, u) for c, m, s, u in one if c.startswith("skopeo")][0]
for c, m, s, u in one:
    print(f"| 1 image | {short(c)} | {m*1000:.1f} | {s*1000:.1f} | {sk1[0]/m:.1f}x | {u*1000:.1f} | {sk1[1]/u:.1f}x |")
skn = [(m, u) for c, m, s, u in many if c.startswith("for i")][0]
for c, m, s, u in many:
    label = short(c) if c.startswith("for i") else short(c) + " with 100 refs"
    print(f"| 100 images | {label} | {m*1000:.1f} | {s*1000:.1f} | {skn[0]/m:.1f}x | {u*1000:.1f} | {skn[1]/u:.1f}x |")
PY
