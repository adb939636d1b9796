#!/bin/bash
# Benchmark: `xarch audit` of a generated cluster of 10,000 pods over 1,000 distinct images on a
# local registry (Debian's docker-registry on 127.0.0.1), cold cache and warm cache, against the
# pipeline people write: a shell loop of `skopeo inspect --raw` over the cluster's distinct images
# (one manifest request each, the least skopeo can do to learn an image's platforms; the audit
# reads the same documents and then does placement, verdicts, evidence and patches too).
#   bench/audit-bench.sh [XARCH]     (default: build/xarch; needs hyperfine, skopeo, buildah)
#   WARM_ONLY=1 bench/audit-bench.sh  only the warm audit: hyperfine (wall, user+sys) and, when
#                                     valgrind is there, callgrind's instruction count of one
#                                     warm run (independent of the machine's load)
# Images: tests/images/make-images.sh's multi:latest (linux/amd64, arm64, arm/v7) copied to
# bench/img-1..1000 (distinct repositories and tags, shared blobs). The cluster comes from
# tests/cluster/gen-cluster.py --resolve, so pods carry imageID digests as containerd reports
# them. Prints a markdown table.
set -euo pipefail
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
cd "$(dirname "$0")/.."
XARCH=${1:-${XARCH:-build/xarch}}
XARCH=$(realpath "$XARCH")
PODS=${PODS:-10000}
N_IMAGES=${N_IMAGES:-1000}
TMPD=$(mktemp -d)
XARCH_BUILDDIR=${XARCH_BUILDDIR:-$(dirname "$XARCH")}
export XARCH_BUILDDIR
. tests/images/lib.sh
images_prepare
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }

# a private copy of the registry storage: the copies below must not touch the shared one
STORE=${XARCH_BUILDDIR}/audit-bench-registry
if [ ! -f "$STORE.done-$N_IMAGES" ]; then
        rm -rf "$STORE"
        cp -a "$IMAGES/registry" "$STORE"
        registry_start "$STORE"
        echo "pushing $N_IMAGES image copies..." >&2
        python3 tests/images/registry-push.py "$REG" copies multi latest bench/img "$N_IMAGES"
        registry_stop
        touch "$STORE.done-$N_IMAGES"
fi
registry_start "$STORE"
trap 'registry_stop; rm -rf "$TMPD"' EXIT

python3 tests/cluster/gen-cluster.py --nodes 200 --pods "$PODS" --crash-every 50 --binfmt \
        --image-pattern "$REG/bench/img-{}:latest" --image-count "$N_IMAGES" --resolve \
        -o "$TMPD/cluster.json"
size=$(du -k "$TMPD/cluster.json" | cut -f1)
python3 - "$TMPD/cluster.json" >"$TMPD/refs" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
refs = set()
for i in d["items"]:
    if i["kind"] != "Pod":
        continue
    for l in ("containers", "initContainers"):
        for c in i["spec"].get(l, []):
            refs.add(c["image"])
print("\n".join(sorted(refs)))
PY
n_refs=$(wc -l <"$TMPD/refs")
echo "cluster: $PODS pods, $n_refs distinct images, ${size} KiB of JSON" >&2

export XDG_CACHE_HOME=$TMPD/cache
if [ -n "${WARM_ONLY:-}" ]; then
        hyperfine --runs 10 --warmup 2 --export-json "$TMPD/warm.json" \
                "$XARCH audit -f $TMPD/cluster.json --json >/dev/null || [ \$? -eq 1 ]" >/dev/null
        python3 - "$TMPD/warm.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"warm audit: wall {r['mean']:.3f} s ± {r['stddev']:.3f}, median {r['median']:.3f} s, "
      f"CPU (user+sys) {r['user'] + r['system']:.3f} s (user {r['user']:.3f}, sys {r['system']:.3f})")
PY
        if command -v valgrind >/dev/null; then
                valgrind --tool=callgrind --callgrind-out-file="$TMPD/cg.out" "$XARCH" audit \
                        -f "$TMPD/cluster.json" --json >/dev/null 2>"$TMPD/cg.log" || true
                echo "warm audit: $(sed -n 's/.*Collected : //p' "$TMPD/cg.log") instructions (callgrind)"
        fi
        echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        exit 0
fi
skopeo_loop="while read -r ref; do skopeo inspect --raw --tls-verify=false docker://\$ref >/dev/null; done <$TMPD/refs"
hyperfine --runs 3 --prepare "rm -rf $TMPD/cache" --export-json "$TMPD/cold.json" \
        "$XARCH audit -f $TMPD/cluster.json --json >/dev/null || [ \$? -eq 1 ]" >/dev/null
hyperfine --runs 5 --warmup 1 --export-json "$TMPD/warm.json" \
        "$XARCH audit -f $TMPD/cluster.json --json >/dev/null || [ \$? -eq 1 ]" >/dev/null
hyperfine --runs 3 --warmup 1 --export-json "$TMPD/parse.json" \
        "$XARCH audit -f $TMPD/cluster.json --json --what-if linux/arm64 --html $TMPD/r.html >/dev/null || [ \$? -eq 1 ]" >/dev/null
hyperfine --runs 1 --export-json "$TMPD/skopeo.json" "$skopeo_loop" >/dev/null
# and once with --verify (layers streamed; copies share blobs, so this is mostly per-manifest work)
hyperfine --runs 1 --prepare "rm -rf $TMPD/cache" --export-json "$TMPD/vcold.json" \
        "$XARCH audit -f $TMPD/cluster.json --verify --json >/dev/null || [ \$? -eq 1 ]" >/dev/null
hyperfine --runs 2 --warmup 1 --export-json "$TMPD/vwarm.json" \
        "$XARCH audit -f $TMPD/cluster.json --verify --json >/dev/null || [ \$? -eq 1 ]" >/dev/null

python3 - "$TMPD" "$PODS" "$n_refs" <<'PY'
import json, sys
d, pods, refs = sys.argv[1], sys.argv[2], sys.argv[3]
def t(name):
    r = json.load(open(f"{d}/{name}.json"))["results"][0]
    return r["mean"], r.get("stddev") or 0.0, r.get("user", 0.0) + r.get("system", 0.0)
sk = t("skopeo")[0]
print(f"| audit of {pods} pods over {refs} images | wall, mean | ± | CPU (user+sys) | vs skopeo loop (wall) |")
print("|---|---|---|---|---|")
for name, label in [("cold", "xarch audit, cold cache"), ("warm", "xarch audit, warm cache"),
                    ("parse", "xarch audit, warm, --what-if + --html"),
                    ("vcold", "xarch audit --verify, cold cache"),
                    ("vwarm", "xarch audit --verify, warm cache"),
                    ("skopeo", f"shell loop: skopeo inspect --raw x {refs}")]:
    m, s, cpu = t(name)
    print(f"| {label} | {m:.3f} s | {s:.3f} | {cpu:.3f} s | {sk / m:.1f}x |")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
