#!/bin/bash
# Errors that say what is actually wrong (issue 8 §3), outside the network: a compressed archive
# given as oci-archive:/docker-archive: (gzip, zstd, xz, bzip2) is named as such, not as a tar
# checksum error; a zstd layer announced as gzip is named as such; a command or #! interpreter
# that is a hard link to a file the image lacks is named as that, not as "not a program".
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=/usr/bin/true
[ -x "$BIN" ] || BIN=/bin/true

# layout NAME SPEC-LAYERS [ENTRYPOINT]
layout() {
        cat >"$TMPD/$1.json" <<JSON
{"nested": false, "images": [{"config_platform": "linux/amd64", "entrypoint": ["${3:-/hi}"],
  "layers": $2}]}
JSON
        python3 "$HERE/../images/oci-layout.py" "$TMPD/$1.oci" "$TMPD/$1.json"
}

# ---- compressed archives ----
layout plain '[{"compression": "gzip", "entries": [["file", "hi", "'"$BIN"'", 493]]}]'
(cd "$TMPD/plain.oci" && tar -cf "$TMPD/plain.tar" .)
run_xarch inspect "oci-archive:$TMPD/plain.tar"
expect_rc 0 "the uncompressed archive reads"
for c in gzip:gunzip zstd:zstd xz:xz bzip2:bunzip2; do
        name=${c%%:*} tool=${c#*:}
        if ! command -v "$name" >/dev/null; then
                skip "$name not installed"
                continue
        fi
        "$name" -c <"$TMPD/plain.tar" >"$TMPD/plain.tar.$name"
        for t in oci-archive docker-archive; do
                run_xarch inspect "$t:$TMPD/plain.tar.$name"
                expect_rc 1 "$t: a $name-compressed archive fails"
                expect_err "is $name-compressed; decompress it first \\($tool" "$t: and says it is $name-compressed"
                if grep -q checksum "$TMPD/err"; then not_ok "$t $name: no checksum error"; else ok "$t $name: no checksum error"; fi
        done
done

# ---- a zstd layer announced as gzip ----
layout zgz '[{"compression": "zstd", "media_type": "application/vnd.oci.image.layer.v1.tar+gzip", "entries": [["file", "hi", "'"$BIN"'", 493]]}]'
run_xarch verify "oci:$TMPD/zgz.oci"
expect_rc 2 "a zstd layer announced as gzip is unreadable"
expect_err 'announced as gzip but its content is zstd' "and the error says so"

# ---- hard links to files the image lacks ----
layout hl '[{"compression": "gzip", "entries": [["hardlink", "hi", "missing"]]}]'
run_xarch verify "oci:$TMPD/hl.oci"
expect_rc 1 "a command that is a hard link to a missing file is a problem"
expect_out 'not-executable: /hi is a hard link to /missing, which is not a file in the image' \
        "verify names the dangling hard link"
if grep -q 'is not a program' "$TMPD/out"; then not_ok "not called 'not a program'"; else ok "not called 'not a program'"; fi
run_xarch check "oci:$TMPD/hl.oci" --node amd64
expect_rc 1 "check: the image cannot start"
expect_out 'hard link to /missing' "check gives the same reason"
layout hl2 '[{"compression": "gzip", "entries": [["file", "run", "text:#!/bin/interp\n", 493], ["dir", "bin"], ["hardlink", "bin/interp", "gone/x"]]}]' /run
run_xarch verify "oci:$TMPD/hl2.oci"
expect_out 'not-executable: /bin/interp is a hard link to /gone/x, which is not a file in the image' \
        "an interpreter that is a dangling hard link is named as such"

done_testing
