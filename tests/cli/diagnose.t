#!/bin/sh
# xarch diagnose: usage, every logged failure in tests/logs/ (real output captured on this
# machine again by tests/logs/capture.sh, and documented samples) named with the right ids and
# line numbers, nothing in benign logs, and hostile input (NUL bytes, CRLF, invalid UTF-8,
# a 10 MB line, no trailing newline).
set -eu
. "$(dirname "$0")/lib.sh"
LOGS=$(cd "$(dirname "$0")/../logs" && pwd)

run_xarch diagnose --help
expect_rc 0 "diagnose --help exits 0"
expect_out '^Usage: xarch diagnose' "diagnose --help prints usage"
run_xarch diagnose --frobnicate
expect_rc 2 "unknown option exits 2"
expect_err "unknown option '--frobnicate'" "unknown option named on one line"
run_xarch diagnose a.log b.log
expect_rc 2 "two files is a usage error"
expect_err "one FILE at most" "extra argument named on one line"
run_xarch diagnose "$TMPD/does-not-exist.log"
expect_rc 1 "unreadable file exits 1"
expect_err "cannot open .*does-not-exist.log: No such file or directory" "unreadable file: one line"
run_xarch diagnose "$TMPD"
expect_rc 1 "a directory exits 1"
expect_err "Is a directory" "a directory: one line"

# ids_lines FILE.json : "id lines" per id, lines merged over findings with the same id
ids_lines() {
        python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
by = {}
for f in d["findings"]:
    by.setdefault(f["id"], set()).update(f["lines"])
for k in sorted(by):
    print(k, ",".join(str(n) for n in sorted(by[k])))' "$1"
}

# check_log LABEL FILE EXPECTED-FILE : compares the findings with the expected "id lines" rows
check_log() {
        label=$1 file=$2 want=$3
        set +e
        "$XARCH" diagnose --json "$file" >"$TMPD/got.json" 2>"$TMPD/err"
        rc=$?
        set -e
        if [ ! -s "$want" ]; then
                if [ $rc -eq 1 ] && [ "$(ids_lines "$TMPD/got.json")" = "" ]; then
                        ok "$label: nothing found (exit 1)"
                else
                        not_ok "$label: nothing found (exit $rc)"
                        ids_lines "$TMPD/got.json" | sed 's/^/#   got /'
                fi
                return
        fi
        ids_lines "$TMPD/got.json" >"$TMPD/got"
        sort "$want" >"$TMPD/want"
        if [ $rc -eq 0 ] && cmp -s "$TMPD/got" "$TMPD/want"; then
                ok "$label: $(tr '\n' ' ' <"$TMPD/want")"
        else
                not_ok "$label (exit $rc)"
                sed 's/^/#   want /' "$TMPD/want"
                sed 's/^/#   got  /' "$TMPD/got"
        fi
}

# expected_for REL : the rows of expected.txt for that file, as "id lines"
expected_for() {
        awk -v f="$1" '$1 == f && $2 != "-" { print $2, $3 }' "$LOGS/expected.txt"
}

# --- Every committed log -----------------------------------------------------------------------
for rel in $(awk '!/^#/ && NF { print $1 }' "$LOGS/expected.txt" | sort -u); do
        expected_for "$rel" >"$TMPD/expect"
        check_log "$rel" "$LOGS/$rel" "$TMPD/expect"
done

# --- Every signature has a positive sample -------------------------------------------------------
run_xarch diagnose --list
expect_rc 0 "diagnose --list exits 0"
missing=
for id in $(awk '{ print $1 }' "$TMPD/out"); do
        awk '!/^#/ { print $2 }' "$LOGS/expected.txt" | grep -qx "$id" || missing="$missing $id"
done
[ -z "$missing" ] && ok "every signature has a sample in tests/logs" ||
        not_ok "signatures without a sample:$missing"

# --- Real failures captured now, on this machine ------------------------------------------------
"$LOGS/capture.sh" "$TMPD/captured" "$XARCH_FIXTURES" >/dev/null 2>&1 || true
for rel in $(awk '$1 ~ /^captured\// { print $1 }' "$LOGS/expected.txt" | sort -u); do
        base=${rel#captured/}
        name=${base%.log}
        if [ -f "$TMPD/captured/$name.skip" ]; then
                skip "fresh $name: $(cat "$TMPD/captured/$name.skip")"
                continue
        fi
        expected_for "$rel" >"$TMPD/expect"
        check_log "fresh $name" "$TMPD/captured/$base" "$TMPD/expect"
done

# --- Human output, stdin -------------------------------------------------------------------------
set +e
"$XARCH" diagnose <"$LOGS/samples/go-lfstack.log" >"$TMPD/out" 2>"$TMPD/err"
RC=$?
set -e
expect_rc 0 "stdin by default"
expect_out '^go-lfstack-qemu: ' "human output names the id"
expect_out '^  lines 3, 4$' "human output lists the lines"
expect_out 'Go >= 1\.25\.4' "the fix names the Go release with the fix"
expect_out 'GOARCH=arm64' "the fix says how to cross-compile"
set +e
"$XARCH" diagnose - <"$LOGS/benign/near-misses.log" >"$TMPD/out" 2>"$TMPD/err"
RC=$?
set -e
expect_rc 1 "nothing known: exit 1"
expect_out '^no known cross-architecture failure found$' "nothing known: said on stdout"

# Variables reach the fix text.
run_xarch diagnose --json "$LOGS/captured/qemu-loader-missing.log"
expect_out '"fix": .*--platform linux/arm64' "qemu-aarch64 becomes arm64 in the fix"
run_xarch diagnose --json "$LOGS/captured/podman-arm64.log"
expect_out '"fix": .*xarch binfmt install arm64' "the podman warning's arm64 reaches the fix"
expect_out '"fix": .*kubernetes.io/arch: arm64' "nodeSelector for the image's architecture"
run_xarch diagnose "$LOGS/captured/go-amd64-level.log"
expect_out 'GOAMD64=v1' "GOAMD64 level fix"
expect_out 'x86-64-v3' "the level is named"
run_xarch diagnose --json "$LOGS/samples/kubectl-describe-pull.log"
expect_out '"image": "registry.example.com/team/web:1.4.2"' "image captured from kubectl describe"
expect_out 'xarch inspect registry.example.com/team/web:1.4.2' "inspect command with the image"

# --- A large benign log, and the same log with failures at known lines ----------------------------
perl "$LOGS/gen-noise.pl" 8 >"$TMPD/noise.log"
check_log "8 MB of noise" "$TMPD/noise.log" /dev/null
perl "$LOGS/gen-noise.pl" 8 "1:exec /app: exec format error" \
        "54321:fatal error: lfstack.push" "99999:qemu-riscv64: Could not open '/lib/ld-linux-riscv64-lp64d.so.1': No such file or directory" \
        >"$TMPD/noise-hits.log"
printf 'container-exec-format-error 1\ngo-lfstack-qemu 54321\nqemu-loader-missing 99999\n' >"$TMPD/expect"
check_log "8 MB of noise with 3 failures" "$TMPD/noise-hits.log" "$TMPD/expect"
lines=$(wc -l <"$TMPD/noise-hits.log")
"$XARCH" diagnose --json "$TMPD/noise-hits.log" >"$TMPD/got.json" || true
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"]["lines"])' "$TMPD/got.json")" = "$lines" ] &&
        ok "line count agrees with wc -l ($lines)" || not_ok "line count agrees with wc -l ($lines)"

# --- Hostile input -------------------------------------------------------------------------------
printf 'noise\r\nfatal error: lfstack.push\r\n' >"$TMPD/crlf.log"
printf 'container-exec-format-error 1\n' >"$TMPD/e1"
printf 'go-lfstack-qemu 2\n' >"$TMPD/e2"
check_log "CRLF line ends" "$TMPD/crlf.log" "$TMPD/e2"
printf 'a\000b\n\000\000 exec /x: exec format error \000\nexec /app: exec format error' >"$TMPD/nul.log"
printf 'container-exec-format-error 2,3\n' >"$TMPD/e3"
check_log "NUL bytes and no trailing newline" "$TMPD/nul.log" "$TMPD/e3"
printf '\377\376 bad utf-8 \300\257 exec /\351t\351: exec format error\n' >"$TMPD/utf8.log"
check_log "invalid UTF-8" "$TMPD/utf8.log" "$TMPD/e1"
"$XARCH" diagnose --json "$TMPD/utf8.log" >"$TMPD/got.json" || true
python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))' "$TMPD/got.json" &&
        ok "JSON output is valid UTF-8" || not_ok "JSON output is valid UTF-8"
{ printf 'exec /app: exec format error '; head -c 10485760 /dev/zero | tr '\0' 'x'; printf '\nfatal error: lfstack.push\n'; } >"$TMPD/long.log"
printf 'container-exec-format-error 1\ngo-lfstack-qemu 2\n' >"$TMPD/e4"
check_log "a 10 MB line, matched on its start" "$TMPD/long.log" "$TMPD/e4"
{ head -c 10485760 /dev/zero | tr '\0' 'x'; printf ' exec /app: exec format error\nfatal error: lfstack.push\n'; } >"$TMPD/long2.log"
check_log "a 10 MB line is matched on its first 8 KiB only" "$TMPD/long2.log" "$TMPD/e2"

done_testing
