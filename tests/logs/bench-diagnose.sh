#!/bin/sh
# Throughput of 'xarch diagnose' on a large generated log (mostly noise, a few failures) against
# 'grep -E -n -f' (and 'grep -F -n -f') over the same anchors, on the same file, page cache warm.
#   tests/logs/bench-diagnose.sh XARCH [MEGABYTES]    (default 100)
# Prints one line per tool with the best of 3 runs, in MB/s. Not a test: no timed assertions.
set -eu
xarch=$1
mb=${2:-100}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

perl "$here/gen-noise.pl" "$mb" \
        "1000:exec /app: exec format error" \
        "400000:runtime: lfstack.push invalid packing: node=0xffff6f446a80 cnt=0x1" \
        "400001:fatal error: lfstack.push" \
        "900000:qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1': No such file or directory" \
        >"$work/log"
# The anchors, one per line, from the signature table; escaped for grep -E.
perl -ne 'print "$1\n" if /^\s*\{ "((?:[^"\\]|\\.)+)",/' "$here/../../src/lib/verdict/diagnose-signatures.c" |
        perl -pe 's/\\u2018/\x{2018}/g; s/\\(.)/$1/g' | sort -u >"$work/fixed"
perl -pe 's/([][(){}.*+?^$|\\])/\\$1/g' "$work/fixed" >"$work/ere"
size=$(wc -c <"$work/log")
cat "$work/log" >/dev/null

# GNU grep stops at the first match when its output is /dev/null: output goes to a file.
# Two cores shared with other work make wall time noisy: CPU time (user + sys of the command,
# the mean of 5 runs) is the better measure of the work done.
best() { # SHELL-COMMAND : "wall cpu" in seconds: best wall of 5 runs, mean CPU of the 5
        perl -MTime::HiRes=time -e '
                my $wall;
                my @t0 = times;
                for (1..5) {
                        my $t = time;
                        system("sh", "-c", "$ARGV[0] >\"$ARGV[1]\" 2>&1");
                        my $w = time - $t;
                        $wall = $w if !defined $wall || $w < $wall;
                }
                my @t1 = times;
                printf "%.3f %.3f\n", $wall, (($t1[2] + $t1[3]) - ($t0[2] + $t0[3])) / 5;' \
                "$1" "$work/out"
}

report() { # NAME "WALL CPU"
        set -- "$1" $2
        perl -e '
                my ($name, $wall, $cpu, $size) = @ARGV;
                my $mb = $size / 1048576;
                printf "%-32s wall %6.3f s %6.0f MB/s   cpu %6.3f s %6s MB/s\n", $name, $wall,
                        $mb / $wall, $cpu, $cpu > 0 ? sprintf("%.0f", $mb / $cpu) : "-";' \
                "$1" "$2" "$3" "$size"
}

echo "log: $(perl -e 'printf "%.1f", $ARGV[0] / 1048576' "$size") MB, $(wc -l <"$work/log") lines, $(wc -l <"$work/fixed") anchors"
report "xarch diagnose FILE" "$(best "'$xarch' diagnose --json '$work/log'")"
report "xarch diagnose < FILE" "$(best "'$xarch' diagnose <'$work/log'")"
report "grep -E -n -f anchors" "$(best "grep -E -n -f '$work/ere' '$work/log'")"
report "grep -F -n -f anchors" "$(best "grep -F -n -f '$work/fixed' '$work/log'")"
report "LC_ALL=C grep -E -n -f anchors" "$(best "LC_ALL=C grep -E -n -f '$work/ere' '$work/log'")"
report "wc -l (newline counting)" "$(best "wc -l '$work/log'")"
"$xarch" diagnose "$work/log" | grep -E '^[a-z0-9-]+: |^  lines?' || true
grep -c -E -f "$work/ere" "$work/log" | sed 's/^/grep: matching lines: /'
