#!/bin/bash
# xarch inspect against hostile registry responses (tests/images/hostile-registry.py on
# 127.0.0.1): a child manifest that does not match its digest, an oversized manifest, garbage,
# Docker schema 1, a body contradicting its Content-Type, an overlong platform field (kept as odd).
set -eu
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip "python3 not installed"; done_testing; exit $?; }
python3 "$(dirname "$0")/../images/hostile-registry.py" >"$TMPD/port" 2>"$TMPD/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$TMPD"' EXIT
i=0
until [ -s "$TMPD/port" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
H=127.0.0.1:$(cat "$TMPD/port")
export XDG_CACHE_HOME=$TMPD/cache

run_xarch inspect "$H/badchild"
expect_rc 1 "a child that fails verification exits 1"
expect_out '^    linux/amd64 +0 ' "the good child is still listed"
expect_out '^    linux/arm64 +! ' "the bad child is marked"
expect_err "badchild:latest: manifest sha256:[0-9a-f]{64}: .*(digest|mismatch)" "one stderr line names the manifest"
# nothing that failed verification was cached: a second run fails the same way
run_xarch inspect "$H/badchild"
expect_rc 1 "still failing on a second run (not served from the cache)"

run_xarch inspect "$H/big"
expect_rc 1 "an oversized manifest exits 1"
expect_err "(4194304|4 MiB|too large|exceeds|larger)" "oversized: one clear line"
run_xarch inspect "$H/garbage"
expect_rc 1 "a non-JSON manifest exits 1"
expect_err "malformed manifest" "garbage: malformed manifest"
run_xarch inspect "$H/schema1"
expect_rc 1 "schema 1 exits 1"
expect_err "schema 1 manifests are not supported" "schema 1: says so"
run_xarch inspect --no-cache "$H/contradict"
expect_rc 1 "a contradicting media type exits 1"
expect_err "contradicts its content type" "contradiction: one clear line"
# containerd parses such an entry and never matches it: it is kept, shown as odd, and never
# fails the index (it did before)
run_xarch inspect "$H/longarch"
expect_rc 0 "an overlong platform field does not fail the index"
expect_out "odd: platform architecture is longer than 31 bytes" "overlong field: shown as odd"
run_xarch inspect "$H/missing" "$H/badchild" "$H/garbage"
expect_rc 1 "several failures exit 1"
[ "$(wc -l <"$TMPD/err")" -eq 3 ] && ok "one stderr line per failing reference" || not_ok "stderr: $(cat "$TMPD/err")"

# FIFOs planted in an OCI layout (say, unpacked from an untrusted tarball) are refused, not
# opened and waited on forever. `timeout` only turns a hang into a failure.
L=$TMPD/fifo.oci
mkdir -p "$L/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
mkfifo "$L/index.json"
set +e
timeout 60 "$XARCH" inspect "oci:$L" >"$TMPD/out" 2>"$TMPD/err"
RC=$?
set -e
expect_rc 1 "an index.json that is a FIFO exits 1"
expect_err "index.json is not a regular file" "index.json FIFO: one clear line"
hex=$(printf x | sha256sum | cut -d' ' -f1)
rm "$L/index.json"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1}]}\n' \
        "$hex" >"$L/index.json"
mkfifo "$L/blobs/sha256/$hex"
set +e
timeout 60 "$XARCH" inspect "oci:$L" >"$TMPD/out" 2>"$TMPD/err"
RC=$?
set -e
expect_rc 1 "a manifest blob that is a FIFO exits 1"
expect_err "sha256:$hex .*not a regular file" "blob FIFO: one clear line"
done_testing
