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
# ---- tests/servers/hostile.py: the registry client's hostile scenarios, through the CLI ----
mkfifo "$TMPD/hold"
exec 3<>"$TMPD/hold" # the server lives while this stays open
python3 "$(dirname "$0")/../servers/hostile.py" <&3 >"$TMPD/ports2" 2>>"$TMPD/server.log" &
server2=$!
trap 'kill $server $server2 2>/dev/null || true; wait $server $server2 2>/dev/null || true; rm -rf "$TMPD"' EXIT
i=0
until [ -s "$TMPD/ports2" ] || [ $i -gt 400 ]; do sleep 0.05; i=$((i + 1)); done
P2=$(cut -d' ' -f1 "$TMPD/ports2")
R=127.0.0.1:$P2
export XARCH_RETRY_BASE_MS=5
# requests seen by the server whose "METHOD path" matches a regex
count_requests() {
        python3 - "$P2" "$1" <<'PY'
import json, re, sys, urllib.request
stats = json.load(urllib.request.urlopen("http://127.0.0.1:%s/__stats" % sys.argv[1]))
print(sum(n for k, n in stats["counters"].items() if re.search(sys.argv[2], k)))
PY
}

run_xarch inspect --no-cache "$R/dupindex/once:v1"
expect_rc 0 "an index listing one child 6 times inspects"
n=$(count_requests '^GET /v2/dupindex/once/manifests/sha256:')
[ "$n" -eq 1 ] && ok "the child is fetched once, not once per entry" || not_ok "child fetched $n times"

run_xarch inspect --json "$R/ctlctype/a:v1"
expect_rc 0 "a Content-Type with control bytes still inspects"
if grep -q 'u001b\|u0007' "$TMPD/out"; then not_ok "control bytes reached --json: $(cat "$TMPD/out")"
else ok "no control byte of the Content-Type in --json"; fi
expect_out '"mediaType": *"application/vnd.oci.image.manifest.v1\+json"' "the document's media type is shown"

# a registry echoing the credentials it was sent: nothing reaches stdout, stderr or the cache
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$(printf alice:s3cret | base64 -w0)" >"$TMPD/auth.json"
for s in echo403 echo400 echo500 echo200 echoblob echoheader; do
        XDG_CACHE_HOME=$TMPD/echo-cache run_xarch inspect --json --authfile "$TMPD/auth.json" "$R/$s/a:v1"
        if grep -qE 's3cret|good-token|YWxpY2U6czNjcmV0' "$TMPD/out" "$TMPD/err"; then
                not_ok "$s: a credential reached the output"; sed 's/^/#   /' "$TMPD/out" "$TMPD/err"
        else ok "$s: no credential in stdout or stderr (exit $RC)"; fi
done
# an echo cut where the message or code is shortened for the error line: not even a part of it
for s in echocut403 echocut400; do
        XDG_CACHE_HOME=$TMPD/echo-cache run_xarch inspect --authfile "$TMPD/auth.json" "$R/$s/a:v1"
        if grep -qE 'xs3|Bearer g' "$TMPD/err"; then
                not_ok "$s: a part of a credential reached stderr"; sed 's/^/#   /' "$TMPD/err"
        else ok "$s: no part of a credential in stderr (exit $RC)"; fi
done
if grep -rqaE 's3cret|good-token|YWxpY2U6czNjcmV0' "$TMPD/echo-cache" 2>/dev/null; then
        not_ok "a credential reached the cache"
else ok "no credential in the cache"; fi

# the referrers API answers with no digest to check: a list echoing the credentials is refused,
# not merged into the destination's fallback tag
XDG_CACHE_HOME=$TMPD/echo-cache run_xarch copy --referrers --authfile "$TMPD/auth.json" \
        "$R/echoreferrers/a:v1" "oci:$TMPD/echo-refs.oci:v1"
expect_rc 1 "referrers echoing the credentials: the copy fails"
expect_err "referrers of sha256:[0-9a-f]{64} from .* hold a credential .*\(an echo\)" \
        "referrers echoing the credentials: one line says why"
if grep -rqaE 's3cret|good-token|YWxpY2U6czNjcmV0' "$TMPD/echo-refs.oci" "$TMPD/out" "$TMPD/err" 2>/dev/null; then
        not_ok "a credential reached the destination or the output"
else ok "no credential in the destination layout or the output"; fi

run_xarch inspect --authfile "$TMPD" "$R/basic/a:v1"
expect_rc 1 "a directory as --authfile exits 1"
expect_err "is a directory" "a directory as --authfile: says so"

# a layer whose blob goes on past its descriptor's size: the read stops there, with one line
set +e
XDG_CACHE_HOME=$TMPD/endless-cache timeout 300 "$XARCH" verify "$R/endless/a:v1" >"$TMPD/out" 2>"$TMPD/err"
RC=$?
set -e
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && ok "a layer streamed without end fails (exit $RC)" ||
        not_ok "a layer streamed without end: exit $RC"
expect_err "larger than [0-9]+ bytes \(the size its descriptor gives" "the endless layer: stopped at its size"
[ "$(find "$TMPD/endless-cache" -type f -size +1M 2>/dev/null | wc -l)" -eq 0 ] &&
        ok "nothing large was spooled into the cache" || not_ok "large files in the cache"

# kill -9 in the middle of a blob download leaves no partial file in the cache
export XDG_CACHE_HOME=$TMPD/kill-cache
"$XARCH" inspect "$R/slowblob/k:v1" >/dev/null 2>&1 &
victim=$!
i=0
until [ "$(count_requests '^GET /v2/slowblob/k/blobs/')" -ge 1 ] || [ $i -gt 400 ]; do sleep 0.05; i=$((i + 1)); done
sleep 1.5 # some bytes of the blob are written by now
kill -9 $victim
wait $victim 2>/dev/null || true
left=$(find "$XDG_CACHE_HOME" -type f -name '*.tmp*' | wc -l)
[ "$left" -eq 0 ] && ok "kill -9 mid-download leaves no temporary file" || not_ok "$left temporary files left"

# stale temporary files (from a version or file system without O_TMPFILE) are swept on the
# next run that writes to the cache; a fresh one (a live writer, maybe) stays
export XDG_CACHE_HOME=$TMPD/sweep-cache
mkdir -p "$XDG_CACHE_HOME/xarch/blobs/sha256"
stale=$XDG_CACHE_HOME/xarch/blobs/sha256/$(printf %064d 0).tmp-AbCdEf
fresh=$XDG_CACHE_HOME/xarch/blobs/sha256/$(printf %064d 1).tmp-GhIjKl
echo partial >"$stale"
echo partial >"$fresh"
touch -d '1 hour ago' "$stale"
run_xarch inspect "$R/good/sweep:v1"
expect_rc 0 "inspect with a cache holding stale temporary files"
[ ! -e "$stale" ] && ok "a stale temporary file is swept" || not_ok "stale temporary file left"
[ -e "$fresh" ] && ok "a fresh temporary file is left alone" || not_ok "fresh temporary file removed"
unset XDG_CACHE_HOME
done_testing
