#!/bin/bash
# Several writers of one oci: layout at once: xarch copy, build and index processes started
# together, each naming its own tag, must all end up in index.json (no lost update), a reader
# must never see index.json half-written, and two edits of one index tag must both survive.
# Writers serialise on an flock(2) of the layout directory; skopeo does not take it, but
# flock(1) around skopeo does, and a lock held too long gives one clear error.
set -eu
. "$(dirname "$0")/lib.sh"
FX=$XARCH_FIXTURES

for t in skopeo python3 flock; do
        command -v $t >/dev/null 2>&1 || { skip "$t not installed (scripts/install-deps --test)"; done_testing; exit $?; }
done
for b in amd64 arm64 arm-v7; do
        [ -f "$FX/go/hello-$b" ] || { skip "fixture binaries missing (tests/fixtures/make-fixtures.sh)"; done_testing; exit $?; }
done
# skopeo's own temporary files stay in the test directory
mkdir -p "$TMPD/sktmp"
skopeo_() { skopeo --tmpdir "$TMPD/sktmp" "$@"; }

# the source layout: three one-platform images made from the Go fixtures
S=$TMPD/src.oci
for p in amd64:linux/amd64 arm64:linux/arm64 arm-v7:linux/arm/v7; do
        run_xarch build --platform "${p#*:}" --add "$FX/go/hello-${p%%:*}:/hello" --entrypoint /hello \
                -t "oci:$S:${p%%:*}"
        expect_rc 0 "source image ${p#*:} built"
done
digest_of() { python3 - "$1" "$2" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"]); break
PY
}
amd64=$(digest_of "$S" amd64)

# index_names DIR TAG=DIGEST... : index.json names every TAG once, with DIGEST ("" = any)
index_names() {
        python3 - "$@" <<'PY'
import json, sys
d = sys.argv[1]
ms = json.load(open(d + "/index.json"))["manifests"]
names = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in ms]
bad = []
for want in sys.argv[2:]:
    tag, _, dg = want.partition("=")
    hits = [m for m in ms if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    if len(hits) != 1 or (dg and hits[0]["digest"] != dg):
        bad.append(tag)
if bad:
    print("missing or wrong: %s; index.json names %s" % (" ".join(bad), names))
    sys.exit(1)
PY
}

# wait_all TITLE: waits for $PIDS, ok when every one exited 0
wait_all() {
        fails=0
        for p in $PIDS; do wait "$p" || fails=$((fails + 1)); done
        PIDS=
        if [ $fails -eq 0 ]; then ok "$1"; else
                not_ok "$1 ($fails failed)"; cat "$TMPD"/job-*.err | sed 's/^/#   /' | head -20; fi
        rm -f "$TMPD"/job-*.err
}

# 1. eight copies into one new layout at once, while a reader keeps parsing index.json
D=$TMPD/dst.oci
python3 - "$D/index.json" "$TMPD/stop" >"$TMPD/watch" <<'PY' &
import json, os, sys, time
path, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
open(stop + ".ready", "w").close()
while not os.path.exists(stop):
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        time.sleep(0.001)
        continue
    reads += 1
    try:
        json.loads(data)["manifests"]
    except Exception:
        bad += 1
    time.sleep(0.001)
print(reads, bad)
PY
WATCH=$!
i=0
until [ -e "$TMPD/stop.ready" ]; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
PIDS=
N=8
for k in $(seq 1 $N); do
        "$XARCH" copy "oci:$S:amd64" "oci:$D:tag$k" >/dev/null 2>"$TMPD/job-c$k.err" &
        PIDS="$PIDS $!"
done
wait_all "$N copies into one new layout at once all exit 0"
touch "$TMPD/stop"
wait $WATCH
want=
for k in $(seq 1 $N); do want="$want tag$k=$amd64"; done
# shellcheck disable=SC2086
index_names "$D" $want >"$TMPD/names" 2>&1 && ok "index.json names all $N tags, each with its digest" ||
        not_ok "$(cat "$TMPD/names")"
bad=0
for k in $(seq 1 $N); do
        [ "$(skopeo_ inspect --raw "oci:$D:tag$k" | python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')" = "$amd64" ] ||
                bad=$((bad + 1))
done
[ $bad -eq 0 ] && ok "skopeo reads every tag" || not_ok "skopeo cannot read $bad of the tags"
read -r reads torn <"$TMPD/watch"
[ "$torn" = 0 ] && ok "a reader never saw index.json half-written ($reads reads)" ||
        not_ok "$torn of $reads reads of index.json did not parse"

# 2. copies, builds and index creations into one existing layout at once
M=$TMPD/mixed.oci
run_xarch copy "oci:$S:arm64" "oci:$M:before"
expect_rc 0 "a layout with one tag"
PIDS=
for k in 1 2 3; do
        "$XARCH" copy "oci:$S:arm-v7" "oci:$M:copy$k" >/dev/null 2>"$TMPD/job-c$k.err" &
        PIDS="$PIDS $!"
        "$XARCH" build --platform linux/amd64 --add "$FX/go/hello-amd64:/hello" --entrypoint /hello \
                -t "oci:$M:build$k" >/dev/null 2>"$TMPD/job-b$k.err" &
        PIDS="$PIDS $!"
done
for k in 1 2; do
        "$XARCH" index create "oci:$M:index$k" "oci:$S:amd64" "oci:$S:arm64" >/dev/null 2>"$TMPD/job-i$k.err" &
        PIDS="$PIDS $!"
done
wait_all "copies, builds and index creations at once all exit 0"
index_names "$M" "before=$(digest_of "$S" arm64)" copy1 copy2 copy3 "build1=$amd64" "build2=$amd64" \
        "build3=$amd64" index1 index2 >"$TMPD/names" 2>&1 && ok "index.json names every writer's tag" ||
        not_ok "$(cat "$TMPD/names")"
for t in copy2 build3 index1; do
        skopeo_ inspect --raw "oci:$M:$t" >/dev/null 2>&1 || { not_ok "skopeo cannot read $t"; continue; }
        ok "skopeo reads $t"
done

# 3. an index edit whose tag moves between its read and its write: the move is made by skopeo
# under flock(1) of the layout, after xarch has read the tag and put its new index (its blob
# appears: the digest is known from the same index made elsewhere) and before xarch may move the
# tag; xarch then sees the move under the lock and starts over from the moved tag
I=$TMPD/idx.oci
run_xarch index create "oci:$TMPD/scratch.oci:x" "oci:$S:amd64" "oci:$S:arm64"
expect_rc 0 "the index xarch will put, made elsewhere"
edit=$(cat "$TMPD/out")
run_xarch index create "oci:$I:idx" "oci:$S:amd64"
expect_rc 0 "an index with linux/amd64"
run_xarch index create "oci:$I:other" "oci:$S:amd64" "oci:$S:arm-v7"
expect_rc 0 "the other writer's version of it, with linux/arm/v7 too"
flock "$I" sh -c 'touch "$1/held"
        i=0; until [ -e "$2/blobs/sha256/${3#sha256:}" ]; do i=$((i + 1)); [ $i -lt 2000 ] || exit 1; sleep 0.05; done
        skopeo --tmpdir "$1/sktmp" copy -q --all "oci:$2:other" "oci:$2:idx"' sh "$TMPD" "$I" "$edit" \
        2>"$TMPD/mover.err" &
MOVER=$!
i=0
until [ -e "$TMPD/held" ]; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
run_xarch index add --json "oci:$I:idx" "oci:$S:arm64"
expect_rc 0 "index add while another writer moves the tag exits 0"
wait $MOVER && ok "skopeo moved the tag while xarch waited for the lock" ||
        not_ok "the mover failed: $(cat "$TMPD/mover.err")"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attempts"])' "$TMPD/out")" = 2 ] &&
        ok "xarch saw the move and started over (2 attempts)" || not_ok "attempts: $(cat "$TMPD/out")"
got=$(skopeo_ inspect --raw "oci:$I:idx" | python3 -c 'import json,sys; print(" ".join(sorted("/".join(filter(None, [m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")])) for m in json.load(sys.stdin)["manifests"])))')
[ "$got" = "linux/amd64 linux/arm/v7 linux/arm64" ] &&
        ok "the index holds both edits: arm/v7 (the other writer) and arm64 (xarch)" ||
        not_ok "the index holds: $got (an edit was lost)"
rm -f "$TMPD/held"

# two edits of one index tag at once, both by xarch: both land (the later one starts over)
run_xarch index create "oci:$I:two" "oci:$S:amd64"
PIDS=
"$XARCH" index add "oci:$I:two" "oci:$S:arm64" >/dev/null 2>"$TMPD/job-a1.err" &
PIDS="$PIDS $!"
"$XARCH" index add "oci:$I:two" "oci:$S:arm-v7" >/dev/null 2>"$TMPD/job-a2.err" &
PIDS="$PIDS $!"
wait_all "two index add on one tag at once both exit 0"
got=$(skopeo_ inspect --raw "oci:$I:two" | python3 -c 'import json,sys; print(" ".join(sorted("/".join(filter(None, [m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")])) for m in json.load(sys.stdin)["manifests"])))')
[ "$got" = "linux/amd64 linux/arm/v7 linux/arm64" ] && ok "the index holds both edits" ||
        not_ok "the index holds: $got (an edit was lost)"

# 4. skopeo does not take the lock, flock(1) around it does: its tag and xarch's all land
K=$TMPD/sk.oci
run_xarch copy "oci:$S:amd64" "oci:$K:first"
PIDS=
flock "$K" skopeo --tmpdir "$TMPD/sktmp" copy -q "oci:$S:arm64" "oci:$K:skopeo" 2>"$TMPD/job-s.err" &
PIDS="$PIDS $!"
for k in 1 2 3; do
        "$XARCH" copy "oci:$S:arm-v7" "oci:$K:x$k" >/dev/null 2>"$TMPD/job-c$k.err" &
        PIDS="$PIDS $!"
done
wait_all "skopeo under flock(1) and three xarch copies at once all exit 0"
index_names "$K" "first=$amd64" skopeo x1 x2 x3 >"$TMPD/names" 2>&1 &&
        ok "index.json names skopeo's tag and every xarch tag" || not_ok "$(cat "$TMPD/names")"

# 5. a lock held too long: one clear error, index.json untouched; then the copy goes through
flock "$K" sh -c 'touch "$1/held"; while [ ! -e "$1/release" ]; do sleep 0.05; done' sh "$TMPD" &
HOLDER=$!
i=0
until [ -e "$TMPD/held" ]; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
cp "$K/index.json" "$TMPD/before.json"
XARCH_OCI_LOCK_TIMEOUT_MS=200 run_xarch copy "oci:$S:amd64" "oci:$K:late"
expect_rc 1 "a copy into a layout whose lock stays held exits 1"
expect_err "$K: another writer holds the layout's lock" "and says the lock is held"
cmp -s "$K/index.json" "$TMPD/before.json" && ok "index.json untouched" || not_ok "index.json changed"
touch "$TMPD/release"
wait $HOLDER
run_xarch copy "oci:$S:amd64" "oci:$K:late"
expect_rc 0 "once released, the copy goes through"
index_names "$K" "late=$amd64" >"$TMPD/names" 2>&1 && ok "and tags" || not_ok "$(cat "$TMPD/names")"

done_testing
