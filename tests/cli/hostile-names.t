#!/bin/sh
# Hostile names met by the CLI: file names and image paths that are not UTF-8 must still appear
# in --json output (invalid bytes as \xNN) instead of vanishing, and a directory tree deeper than
# the stack allows is walked safely by 'xarch file -r'; error lines never carry terminal escapes.
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=/usr/bin/true
[ -x "$BIN" ] || BIN=/bin/true

# ---- xarch file --json: non-UTF-8 path and link target ----
mkdir "$TMPD/names"
cp "$BIN" "$TMPD/names/$(printf 'bad\377name')"
ln -s "$(printf '/x\376')" "$TMPD/names/link"
run_xarch file --json -r "$TMPD/names"
cp "$TMPD/out" "$TMPD/json" # check() overwrites out
expect_rc 0 "file --json on non-UTF-8 names exits 0"
check "file --json is valid JSON" python3 -m json.tool "$TMPD/json"
check "file --json keeps a non-UTF-8 path (\\xff)" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
paths = sorted(o["path"] for o in d)
assert all(isinstance(p, str) for p in paths), paths
assert paths[0].endswith("/bad\\xffname"), paths
link = [o for o in d if o["type"] == "symlink"][0]
assert link["target"] == "/x\\xfe", link' "$TMPD/json"

# ---- control bytes in names never reach the terminal through error lines ----
run_xarch inspect "$(printf 'oci:%s/\033]0;pwned\007\033[2J' "$TMPD")"
expect_rc 1 "inspect of a missing layout with escapes in its name exits 1"
expect_err "\?\]0;pwned\?\?\[2J" "the escapes are shown as '?'"
cp "$TMPD/err" "$TMPD/err-escapes" # check() overwrites err
check "the error line carries no control bytes" sh -c '! LC_ALL=C grep -q "[[:cntrl:]]" "$1"' sh "$TMPD/err-escapes"

# ---- ... nor through human output on stdout (JSON escapes them itself) ----
mkdir "$TMPD/esc"
cp "$BIN" "$TMPD/esc/$(printf 'x\033[2Jy')"
run_xarch file -r "$TMPD/esc"
expect_rc 0 "file on a name with an escape sequence exits 0"
expect_out '"[^"]*/esc/x\\x1b\[2Jy": ELF' "the escape is shown as \\x1b, the name quoted"
cp "$TMPD/out" "$TMPD/out-escapes"
check "stdout carries no control bytes" sh -c '! tr -d "\n\t" <"$1" | LC_ALL=C grep -q "[[:cntrl:]]"' sh "$TMPD/out-escapes"
# a C1 control (U+009B, CSI to some terminals) in UTF-8: both its bytes become one '?' (a lone
# lead byte before '?' would be invalid UTF-8); a lone 0xc2 before other bytes is left alone
mkdir "$TMPD/c1"
cp "$BIN" "$TMPD/c1/$(printf 'c1\302\2332Jz')"
run_xarch file -r "$TMPD/c1"
expect_out "^$TMPD/c1/c1\\?2Jz: ELF" "a C1 control is shown as one '?'"
check "a C1 control leaves valid UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$TMPD/out"
for c1 in '\302\200' '\302\205' '\302\237'; do
        mkdir -p "$TMPD/c1-all"
        cp "$BIN" "$TMPD/c1-all/$(printf "a${c1}b")"
done
cp "$BIN" "$TMPD/c1-all/$(printf 'nbsp\302\240x')" # U+00A0 is not a control: kept
run_xarch file -r "$TMPD/c1-all"
cp "$TMPD/out" "$TMPD/out-c1" # check() overwrites out
check "C1 U+0080, U+0085, U+009F: each one '?'" test "$(grep -c "/a?b: ELF" "$TMPD/out-c1")" = 3
check "U+00A0 (not a control) passes" grep -q "$(printf 'nbsp\302\240x'): ELF" "$TMPD/out-c1"
check "the C1 output is valid UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$TMPD/out-c1"

# ... and a C1 control split by the filter's 64 KiB buffer: the names are sized so that its
# lead byte is the last byte of one write and its second byte the first of the next (and one
# byte either side of that)
line_len=$("$XARCH" file "$BIN" | wc -c) # "PATH: description\n"
desc_len=$((line_len - ${#BIN}))
for shift in -1 0 1; do
        # filler lines, then a path whose C1 lead byte lands at output offset 65535+shift
        python3 - "$TMPD/split$shift" "$BIN" "$desc_len" $((65535 + shift)) >"$TMPD/args" <<'PY'
import os, shutil, sys
d, binary, desc_len, at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(d)
paths, total, i = [], 0, 0
while total + 2 * 300 < at:
    p = os.path.join(d, "f%d" % i)
    i += 1
    p += "_" * (300 - desc_len - len(p))  # a 300-byte line
    paths.append(p)
    total += 300
want = at - total  # bytes of the last path before its 0xc2
prefix = d + "/"
while want - len(prefix) > 250:
    prefix += "p" * 249 + "/"
prefix += "p" * (want - len(prefix))
os.makedirs(os.path.dirname(prefix), exist_ok=True)
paths.append(prefix + "\u009bq")
for p in paths:
    shutil.copy(binary, p.encode("utf-8", "surrogateescape"))
sys.stdout.write("\0".join(paths))
PY
        set +e
        xargs -0 "$XARCH" file <"$TMPD/args" >"$TMPD/split.out" 2>"$TMPD/err"
        set -e
        if LC_ALL=C grep -q "$(printf '\302')" "$TMPD/split.out"; then
                not_ok "C1 control at the 64 KiB boundary ($shift): no lone lead byte"
        else
                ok "C1 control at the 64 KiB boundary ($shift): no lone lead byte"
        fi
        check "C1 control at the 64 KiB boundary ($shift): shown as one '?'" grep -q 'pppp?q: ELF' "$TMPD/split.out"
        check "C1 control at the 64 KiB boundary ($shift): valid UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$TMPD/split.out"
        check "C1 control at the 64 KiB boundary ($shift): the lead byte was at the boundary" \
                test "$(LC_ALL=C grep -abo 'pp?q' "$TMPD/split.out" | cut -d: -f1)" = $((65535 + shift - 2))
done
run_xarch file --json -r "$TMPD/esc"
expect_out 'x\\u001[bB]\[2Jy' "--json keeps the name, escaped"

# ---- xarch file -r: 2000 nested directories (overflowed the stack before) ----
mkdir "$TMPD/deep"
(cd "$TMPD/deep" && i=0 && while [ $i -lt 2000 ]; do mkdir a && cd a; i=$((i + 1)); done)
run_xarch file -r "$TMPD/deep"
expect_rc 0 "file -r on a 2000-level tree exits 0 (no crash)"
expect_err "more than [0-9]+ directory levels, not walked" "the depth limit is one stderr line"
rm -rf "$TMPD/deep"

# ---- verify and check --json: an entrypoint whose real name is not UTF-8 ----
cat >"$TMPD/spec.json" <<'JSON'
{"nested": false, "images": [{"config_platform": "linux/riscv64", "entrypoint": ["/bin/app"],
  "layers": [{"compression": "gzip", "entries": [["dir", "bin"], ["symlink", "bin/app", "x\udcffy"],
  ["file", "bin/x\udcffy", "BIN", 493]]}]}]}
JSON
sed -i "s|\"BIN\"|\"$BIN\"|" "$TMPD/spec.json"
if ! python3 "$HERE/../images/oci-layout.py" "$TMPD/img.oci" "$TMPD/spec.json" >"$TMPD/layout.log" 2>&1; then
        not_ok "oci-layout.py made the image: $(tail -1 "$TMPD/layout.log")"
        done_testing
        exit
fi
IMG="oci:$TMPD/img.oci:latest"
run_xarch verify --json "$IMG"
cp "$TMPD/out" "$TMPD/json" # check() overwrites out
check "verify --json is valid JSON" python3 -m json.tool "$TMPD/json"
check "verify --json keeps the program, examples and problem messages" python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["platforms"][0]
assert p["program"] == "/bin/x\\xffy", p.get("program")
assert all("example" in a for a in p["architectures"]), p["architectures"]
assert all("message" in x for x in p["problems"]), p["problems"]' "$TMPD/json"
run_xarch check --json "$IMG" --node arm64
cp "$TMPD/out" "$TMPD/json" # check() overwrites out
check "check --json is valid JSON" python3 -m json.tool "$TMPD/json"
check "check --json keeps the node's verdict" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["nodes"]) == 1, d
assert d["nodes"][0]["binary"].startswith("/bin/x\\xffy: "), d["nodes"][0]' "$TMPD/json"

# ---- inspect --json: a reference whose path is not UTF-8, present and missing ----
cp -r "$TMPD/img.oci" "$TMPD/$(printf 'img\377.oci')"
run_xarch inspect --json "oci:$TMPD/$(printf 'img\377.oci'):latest" "oci:$TMPD/$(printf 'no\377such')"
cp "$TMPD/out" "$TMPD/json" # check() overwrites out
expect_rc 1 "inspect --json: the missing reference fails"
check "inspect --json keeps both references" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 2, d
assert d[0]["name"].endswith("/img\\xff.oci:latest") and "digest" in d[0], d[0]
assert d[1]["name"].endswith("/no\\xffsuch") and "error" in d[1], d[1]' "$TMPD/json"

# ---- binfmt status and doctor --json: an entry whose interpreter is not UTF-8, registered in a
# private binfmt_misc instance (new user + mount namespace, Linux >= 6.7; the host's is untouched)
cat >"$TMPD/ns.sh" <<'SH'
set -e
d=$OUT/bm
mkdir "$d"
mount -t binfmt_misc binfmt_misc "$d"
printf ':weird:M::\\x7fXYZW::/tmp/a\377b:\n' >"$d/register"
"$XARCH" binfmt --mount "$d" status --json >"$OUT/binfmt.json"
"$XARCH" doctor --json --no-container --platform arm64 --mount "$d" >"$OUT/doctor.json"
SH
if command -v unshare >/dev/null &&
        OUT=$TMPD XARCH=$XARCH unshare --user --map-root-user --mount sh "$TMPD/ns.sh" \
                >"$TMPD/ns.log" 2>&1; then
        check "binfmt status --json keeps the interpreter" python3 -c '
import json, sys
e = [e for e in json.load(open(sys.argv[1]))["entries"] if e["name"] == "weird"]
assert e and e[0]["interpreter"] == "/tmp/a\\xffb", e' "$TMPD/binfmt.json"
        check "doctor --json keeps the entry and its warning" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
e = [e for e in d["binfmt"]["entries"] if e["name"] == "weird"]
assert e and e[0]["interpreter"] == "/tmp/a\\xffb", d["binfmt"]
w = [w for w in d["warnings"] if w["code"] == "interpreter-missing"]
assert w and "/tmp/a\\xffb" in w[0]["message"], d["warnings"]' "$TMPD/doctor.json"
else
        skip "no private binfmt_misc instance here ($(tail -1 "$TMPD/ns.log"))"
fi

# ---- verify's human output: an entrypoint with a newline cannot forge a line ----
cat >"$TMPD/nl.json" <<'JSON'
{"nested": false, "images": [{"config_platform": "linux/amd64", "entrypoint": ["/bin/a\nproblem:  forged"],
  "layers": [{"compression": "gzip", "entries": [["dir", "bin"], ["file", "bin/a\nproblem:  forged", "BIN", 493]]}]}]}
JSON
sed -i "s|\"BIN\"|\"$BIN\"|" "$TMPD/nl.json"
python3 "$HERE/../images/oci-layout.py" "$TMPD/nl.oci" "$TMPD/nl.json"
run_xarch verify "oci:$TMPD/nl.oci"
expect_out '^  program:  "/bin/a\\nproblem:  forged"$' "verify quotes a program name with a newline"
expect_out '^  command:  "/bin/a\\nproblem:  forged"$' "verify quotes the command too"
if grep -q '^problem:  forged' "$TMPD/out"; then not_ok "no forged line (the problem line shows the newline as '?')"; else
        ok "no forged line (the problem line shows the newline as '?')"; fi
done_testing
