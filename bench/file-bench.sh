#!/bin/sh
# Compares `xarch file -r DIR` with file(1) over the same tree: first that the architecture
# answers (ELF class, byte order, machine) are identical for every ELF file, then the speed.
#   bench/file-bench.sh [DIR] [RESULTS.md]      (default /usr/bin, ./file-bench-results.md)
# Environment: XARCH (default build/xarch), RUNS (default 10).
# Uses hyperfine when installed, else a loop timed with date +%s.%N.
set -eu

dir=${1:-/usr/bin}
results=${2:-file-bench-results.md}
xarch=${XARCH:-build/xarch}
runs=${RUNS:-10}

for tool in file python3 "$xarch"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "file-bench: $tool not found" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- correctness ------------------------------------------------------------------------------
"$xarch" file -r --json "$dir" >"$tmp/xarch.json" 2>"$tmp/xarch.err" || true
find "$dir" -type f -print0 | xargs -0 file -F '	' -- >"$tmp/file.txt" 2>/dev/null || true
python3 - "$tmp/xarch.json" "$tmp/file.txt" >"$tmp/compare" <<'PY'
import json, sys
ours = {}
for o in json.load(open(sys.argv[1])):
    if o["type"] == "elf":
        cls = "%s-bit %s" % (o.get("bits"), "MSB" if o.get("byte_order") == "big" else "LSB")
        ours[o["path"]] = (cls, o.get("machine_name"))
theirs = {}
for line in open(sys.argv[2], errors="replace"):
    path, _, desc = line.rstrip("\n").partition("\t")
    desc = desc.strip()
    for prefix in ("setuid, setgid ", "setuid ", "setgid ", "sticky "):
        if desc.startswith(prefix):
            desc = desc[len(prefix):]
    if desc.startswith("ELF "):
        fields = desc.split(", ")
        cls = " ".join(fields[0].split()[1:3])
        theirs[path] = (cls, fields[1] if len(fields) > 1 else "")
same = diff = 0
for path in sorted(set(ours) | set(theirs)):
    a, b = ours.get(path), theirs.get(path)
    if a == b:
        same += 1
    else:
        diff += 1
        print("DIFF %s: xarch %s, file %s" % (path, a, b), file=sys.stderr)
print(same, diff)
PY
read -r same diff <"$tmp/compare"
echo "file-bench: $same ELF files with identical architecture answers, $diff different" >&2

# --- speed ------------------------------------------------------------------------------------
files=$(find "$dir" -type f | wc -l)
cmd_xarch="$xarch file -r $dir"
cmd_file="find $dir -type f -print0 | xargs -0 file --"
if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N --warmup 2 --runs "$runs" --export-json "$tmp/h.json" \
                "$cmd_xarch" >/dev/null 2>&1 || hyperfine --warmup 2 --runs "$runs" \
                --export-json "$tmp/h.json" "$cmd_xarch" >/dev/null
        hyperfine --warmup 2 --runs "$runs" --export-json "$tmp/h2.json" "$cmd_file" >/dev/null
        t_xarch=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$tmp/h.json")
        t_file=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$tmp/h2.json")
        method="hyperfine, mean of $runs runs after 2 warm-ups"
else
        timeit() {
                sh -c "$1" >/dev/null 2>&1 # warm-up
                start=$(date +%s.%N)
                i=0
                while [ $i -lt "$runs" ]; do
                        sh -c "$1" >/dev/null 2>&1 || true
                        i=$((i + 1))
                done
                end=$(date +%s.%N)
                python3 -c "print(($end - $start) / $runs)"
        }
        t_xarch=$(timeit "$cmd_xarch")
        t_file=$(timeit "$cmd_file")
        method="date +%s.%N loop, mean of $runs runs after 1 warm-up"
fi
ratio=$(python3 -c "print('%.1f' % ($t_file / $t_xarch))")

{
        echo "| tree | files | ELF files compared | identical | xarch file -r | file(1) | speed-up |"
        echo "|---|---|---|---|---|---|---|"
        printf '| %s | %s | %s | %s | %.1f ms | %.1f ms | %sx |\n' "$dir" "$files" \
                "$((same + diff))" "$same" "$(python3 -c "print($t_xarch*1000)")" \
                "$(python3 -c "print($t_file*1000)")" "$ratio"
        echo
        echo "Measured with $method; $(file --version | head -n 1); $(nproc) cores."
} >"$results"
cat "$results"
[ "$diff" -eq 0 ]
