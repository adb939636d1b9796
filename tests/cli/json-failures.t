#!/bin/bash
# --json on failure: every verb that takes --json prints one valid JSON document on stdout
# however it fails (usage errors, unreadable input, no match, nothing found), with the same
# exit status and the same one stderr line as without --json. The document is checked with
# python3 -m json.tool; a failure document carries "error" and "exit_status".
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# fails_json RC "title" ARGS... : xarch ARGS exits RC, stdout is one valid JSON document
fails_json() {
        local want=$1 title=$2
        shift 2
        run_xarch "$@"
        expect_rc "$want" "$title: exit $want"
        if python3 -m json.tool "$TMPD/out" >/dev/null 2>&1; then
                ok "$title: stdout is valid JSON"
        else
                not_ok "$title: stdout is valid JSON"; sed 's/^/#   /' "$TMPD/out" | head -5
        fi
        if [ -s "$TMPD/err" ]; then ok "$title: stderr says why"; else not_ok "$title: stderr says why"; fi
}
# error_doc "title": the last document is a failure document naming the exit status
error_doc() {
        if [ "$(jq -r '.exit_status' "$TMPD/out")" = "$RC" ] && [ -n "$(jq -r '.error // empty' "$TMPD/out")" ]; then
                ok "$1: the document names the error and exit status"
        else
                not_ok "$1: the document names the error and exit status"; sed 's/^/#   /' "$TMPD/out" | head -5
        fi
}

# an image whose config is not JSON, and one that does not exist
cat >"$TMPD/bad.json" <<'JSON'
{"nested": false, "images": [{"config_raw": "{not json", "entrypoint": ["/hi"],
  "layers": [{"compression": "gzip", "entries": [["file", "hi", "text:#!/bin/sh\n", 493]]}]}]}
JSON
python3 "$HERE/../images/oci-layout.py" "$TMPD/bad.oci" "$TMPD/bad.json"
BAD="oci:$TMPD/bad.oci:latest"
NONE="oci:$TMPD/nonexistent"

for v in verify check inspect; do
        node=()
        [ $v = check ] && node=(--node arm64)
        fails_json 2 "$v --json with no reference" $v --json "${node[@]}"
        error_doc "$v --json with no reference"
        fails_json 2 "$v --json with an unknown option" $v --json --bogus x "${node[@]}"
        error_doc "$v --json with an unknown option"
        fails_json 2 "$v with an unknown option before --json" $v --bogus --json x "${node[@]}"
        error_doc "$v with an unknown option before --json"
        fails_json 2 "$v --json with a bad --platform value" $v --json "${node[@]}" --platform a/b/c/d x
        want=2
        [ $v = inspect ] && want=1 # inspect: a reference that cannot be read is a failure (1)
        fails_json $want "$v --json of a missing layout" $v --json "${node[@]}" "$NONE"
done
fails_json 2 "check --json without --node" check --json "$NONE"
error_doc "check --json without --node"
fails_json 2 "check --json --node nosucharch" check --json --node nosucharch "$NONE"
fails_json 2 "check --json of a malformed config" check --json --node arm64 "$BAD"
fails_json 2 "verify --json of a malformed config" verify --json "$BAD"
fails_json 2 "verify --js (an abbreviation) of a missing layout" verify --js "$NONE"
error_doc "verify --js (an abbreviation)"

printf 'all fine here\n' >"$TMPD/plain.log"
fails_json 1 "diagnose --json of a missing file" diagnose --json "$TMPD/nonexistent.log"
error_doc "diagnose --json of a missing file"
fails_json 1 "diagnose --json of a directory" diagnose --json "$TMPD"
error_doc "diagnose --json of a directory"
fails_json 2 "diagnose --json of two files" diagnose --json "$TMPD/plain.log" "$TMPD/plain.log"
fails_json 2 "diagnose --json --list with an argument" diagnose --json --list x
fails_json 2 "diagnose --json with an unknown option" diagnose --json --bogus
run_xarch diagnose --json "$TMPD/plain.log"
expect_rc 1 "diagnose --json with nothing found: exit 1"
check "diagnose --json with nothing found: the findings document" test "$(jq -c '.findings' "$TMPD/out")" = "[]"

fails_json 1 "platform --json match with no match" platform --json match linux/arm64 linux/amd64 linux/s390x
check "platform --json match with no match: match is null" test "$(jq -c '.match' "$TMPD/out")" = null
fails_json 2 "platform --json match of a bad platform" platform --json match a/b/c/d linux/amd64
error_doc "platform --json match of a bad platform"
fails_json 2 "platform --json match without candidates" platform --json match linux/arm64
fails_json 2 "platform --json normalize of a bad platform" platform --json normalize linux/
fails_json 2 "platform --json vector of a bad platform" platform --json vector '' 
fails_json 2 "platform --json of an unknown subcommand" platform --json frobnicate
fails_json 2 "platform --json --strict outside match" platform --json --strict vector linux/arm64
fails_json 2 "platform --json with an unknown option" platform --json --bogus

fails_json 2 "file --json without a path" file --json
fails_json 1 "file --json of a missing file" file --json "$TMPD/nonexistent"
fails_json 2 "binfmt --json of an unknown command" binfmt --json frobnicate
error_doc "binfmt --json of an unknown command"
fails_json 2 "doctor --json with an unknown option" doctor --json --bogus

# no document without --json, and none after "--" (there it is an operand)
run_xarch verify
[ ! -s "$TMPD/out" ] && ok "verify without --json: nothing on stdout" || not_ok "verify without --json: nothing on stdout"
run_xarch file -- --json
[ ! -s "$TMPD/out" ] && ok "file -- --json: an operand, no JSON" || not_ok "file -- --json: an operand, no JSON"

done_testing
