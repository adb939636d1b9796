#!/bin/bash
# `xarch copy` against `skopeo copy --all`: a 7-platform index (3 gzip layers of LAYER_MB MiB
# per platform) from a plain docker-registry to a TLS + htpasswd docker-registry, both on
# 127.0.0.1; every run goes to a freshly started destination registry (new port, empty
# storage), so neither tool can skip or mount anything. Then the peak RSS of `xarch copy` while
# it copies one image with a BIG_MB MiB layer between the two registries.
#   bench/copy-bench.sh [RESULTS.md]          (default ./copy-bench-results.md)
# Environment: XARCH (default build/xarch), RUNS (default 5), LAYER_MB (default 8),
# BIG_MB (default 1024; 0 skips the RSS part), JOBS (xarch --jobs, default 8).
set -euo pipefail

results=${1:-copy-bench-results.md}
xarch=${XARCH:-build/xarch}
runs=${RUNS:-5}
layer_mb=${LAYER_MB:-8}
big_mb=${BIG_MB:-1024}
jobs=${JOBS:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
xarch=$(cd "$(dirname "$xarch")" && pwd)/$(basename "$xarch")

for tool in docker-registry skopeo openssl htpasswd python3 curl "$xarch"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "copy-bench: $tool not found" >&2; exit 1; }
done
tmp=$(mktemp -d)
PIDS=
cleanup() {
        for p in $PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
        rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- registries -----------------------------------------------------------------------------
(
        cd "$tmp"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" -keyout ca.key \
                -out ca.crt >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
                -out server.csr >/dev/null 2>&1
        printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile ext.cnf -out server.crt >/dev/null 2>&1
)
mkdir -p "$tmp/certs.d"
cp "$tmp/ca.crt" "$tmp/certs.d/"
htpasswd -Bbn bench s3cret >"$tmp/htpasswd"

# start_registry NAME TLS(0|1): sets REG and LAST_PID
start_registry() {
        local port
        port=$(free_port)
        mkdir -p "$tmp/$1"
        {
                echo "version: 0.1"
                # the access log (stdout, one line per request) counts each tool's requests
                echo "log: {level: error}"
                echo "storage: {filesystem: {rootdirectory: $tmp/$1/storage}}"
                echo "http:"
                echo "  addr: 127.0.0.1:$port"
                if [ "$2" = 1 ]; then
                        echo "  tls: {certificate: $tmp/server.crt, key: $tmp/server.key}"
                        echo "auth: {htpasswd: {realm: bench, path: $tmp/htpasswd}}"
                fi
        } >"$tmp/$1/config.yml"
        docker-registry serve "$tmp/$1/config.yml" >"$tmp/$1/log" 2>&1 &
        LAST_PID=$!
        PIDS="$PIDS $LAST_PID"
        REG=127.0.0.1:$port
        local i=0 scheme=http
        [ "$2" = 1 ] && scheme=https
        until curl -s -o /dev/null --cacert "$tmp/ca.crt" "$scheme://$REG/v2/"; do
                i=$((i + 1))
                [ $i -lt 400 ] || { echo "registry $1 did not start" >&2; exit 1; }
                sleep 0.05
        done
}
stop_registry() {
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
}

start_registry src 0
SRC=$REG
src_pid=$LAST_PID

# --- the 7-platform index -------------------------------------------------------------------
echo "copy-bench: making a 7-platform index ($((7 * 3 * layer_mb)) MiB of layers)" >&2
python3 - "$tmp/seven.json" "$tmp" "$layer_mb" <<'PY'
import json, os, sys
out, tmp, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
plats = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/ppc64le",
         "linux/s390x", "linux/riscv64"]
images = []
for i, p in enumerate(plats):
    layers = []
    for k in range(3):
        f = os.path.join(tmp, "payload-%d-%d" % (i, k))
        with open(f, "wb") as fh:
            fh.write(os.urandom(mb << 20))
        layers.append({"compression": "gzip", "entries": [["file", "/data%d" % k, f, 0o644]]})
    images.append({"index_platform": p, "config_platform": p, "entrypoint": ["/data0"],
                   "layers": layers})
json.dump({"images": images}, open(out, "w"))
PY
python3 "$here/tests/images/oci-layout.py" "$tmp/seven.oci" "$tmp/seven.json"
rm -f "$tmp"/payload-*
# oci-layout.py wrote one index over the 7 images
"$xarch" copy "oci:$tmp/seven.oci:latest" "$SRC/bench/seven:v1" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
rm -rf "$tmp/seven.oci"
want=$(skopeo inspect --raw --tls-verify=false "docker://$SRC/bench/seven:v1" | sha256sum | cut -c1-64)
printf '{"auths":{"AUTHHOST":{"auth":"%s"}}}\n' "$(printf bench:s3cret | base64 -w0)" >"$tmp/auth.tmpl"

# --- timed runs -----------------------------------------------------------------------------
now() { date +%s.%N; }
# CPU seconds (user + sys) a process has used so far
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
declare -a tx ts cx cs rx rs qx qs
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $(seq 1 "$runs"); do
        for tool in xarch skopeo; do
                start_registry "dst-$tool-$n" 1
                dst=$REG
                sed "s/AUTHHOST/$dst/" "$tmp/auth.tmpl" >"$tmp/auth.json"
                c0=$(cpu_of "$LAST_PID")
                s0=$(cpu_of "$src_pid")
                t0=$(now)
                if [ $tool = xarch ]; then
                        /usr/bin/time -f '%U %S' -o "$tmp/cpu" "$xarch" copy --jobs "$jobs" --ca "$tmp/ca.crt" --authfile "$tmp/auth.json" \
                                "$SRC/bench/seven:v1" "$dst/bench/seven:v1" >/dev/null 2>"$tmp/err" ||
                                { cat "$tmp/err" >&2; exit 1; }
                else
                        /usr/bin/time -f '%U %S' -o "$tmp/cpu" skopeo copy -q --all --src-tls-verify=false --dest-cert-dir "$tmp/certs.d" \
                                --dest-creds bench:s3cret "docker://$SRC/bench/seven:v1" \
                                "docker://$dst/bench/seven:v1" >/dev/null
                fi
                t1=$(now)
                reg=$(python3 -c "print('%.2f' % ($(cpu_of "$LAST_PID") - $c0 + $(cpu_of "$src_pid") - $s0))")
                tool_cpu=$(awk '{printf "%.2f", $1 + $2}' "$tmp/cpu")
                # requests the tool made to the destination (not the readiness probes, not the
                # digest check below)
                sleep 0.2
                nreq=$(grep '^127\.0\.0\.1 - ' "$tmp/dst-$tool-$n/log" | grep -vc '"curl/' || true)
                got=$(skopeo inspect --raw --cert-dir "$tmp/certs.d" --creds bench:s3cret \
                        "docker://$dst/bench/seven:v1" | sha256sum | cut -c1-64)
                [ "$got" = "$want" ] || { echo "copy-bench: $tool changed the digest" >&2; exit 1; }
                el=$(python3 -c "print('%.2f' % ($t1 - $t0))")
                stop_registry "$LAST_PID"
                if [ $tool = xarch ]; then
                        tx+=("$el") cx+=("$tool_cpu") rx+=("$reg") qx+=("$nreq")
                else
                        ts+=("$el") cs+=("$tool_cpu") rs+=("$reg") qs+=("$nreq")
                fi
                rm -rf "$tmp/dst-$tool-$n"
        done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mx=$(median "${tx[@]}")
ms=$(median "${ts[@]}")
ratio=$(python3 -c "print('%.1f' % ($ms / $mx))")
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- peak RSS with a big layer --------------------------------------------------------------
rss_line="(skipped: BIG_MB=0)"
if [ "$big_mb" -gt 0 ]; then
        echo "copy-bench: a ${big_mb} MiB layer for the RSS measurement" >&2
        head -c $((big_mb << 20)) /dev/urandom >"$tmp/big.bin"
        cat >"$tmp/big.json" <<EOF
{"images": [{"index_platform": "linux/amd64", "config_platform": "linux/amd64", "entrypoint": ["/big"],
  "layers": [{"compression": "none", "entries": [["file", "/big", "$tmp/big.bin", 420]]}]}]}
EOF
        python3 "$here/tests/images/oci-layout.py" "$tmp/big.oci" "$tmp/big.json"
        rm -f "$tmp/big.bin"
        "$xarch" copy "oci:$tmp/big.oci" "$SRC/bench/big:v1" >/dev/null 2>&1
        rm -rf "$tmp/big.oci"
        start_registry dst-big 1
        sed "s/AUTHHOST/$REG/" "$tmp/auth.tmpl" >"$tmp/auth.json"
        /usr/bin/time -f '%M %e' -o "$tmp/rss" "$xarch" copy --ca "$tmp/ca.crt" \
                --authfile "$tmp/auth.json" "$SRC/bench/big:v1" "$REG/bench/big:v1" >/dev/null 2>&1
        read -r rss_kb big_s <"$tmp/rss"
        rss_line="peak RSS $((rss_kb / 1024)) MiB while copying a ${big_mb} MiB layer registry to registry (${big_s} s)"
fi

{
        echo "# copy-bench $(date -u +%Y-%m-%dT%H:%MZ)"
        echo
        echo "7-platform index, 21 gzip layers of ${layer_mb} MiB, plain docker-registry -> TLS +"
        echo "htpasswd docker-registry (fresh each run), median of $runs runs; digests checked equal."
        echo
        echo "Wall s per run; CPU s (user+sys) of the tool, and of both registries during the run;"
        echo "requests the destination logged. Load average before: $load0; after: $load1."
        echo
        echo "| tool | median wall s | wall s | tool CPU s | registries' CPU s | requests |"
        echo "|---|---|---|---|---|---|"
        echo "| xarch copy --jobs $jobs | $mx | ${tx[*]} | ${cx[*]} | ${rx[*]} | ${qx[*]} |"
        echo "| skopeo copy --all | $ms | ${ts[*]} | ${cs[*]} | ${rs[*]} | ${qs[*]} |"
        echo
        echo "xarch is ${ratio}x faster. $rss_line."
        echo
        echo "xarch $("$xarch" --version 2>/dev/null | head -1); $(skopeo --version)"
} | tee "$results"
