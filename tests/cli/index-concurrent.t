#!/bin/bash
# `xarch index add` while another writer moves the tag: the edit re-reads the tag just before
# moving it and starts over when it changed, so neither edit is lost. The move is made
# deterministic by tests/servers/tag-mover.py, a proxy in front of Debian's docker-registry that
# moves the tag itself (to an index with one more entry) right after xarch's first read of it.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
HERE=$(cd "$(dirname "$0")/.." && pwd)
FX=$XARCH_FIXTURES

for t in docker-registry python3 curl jq; do
        command -v $t >/dev/null 2>&1 || { skip "$t not installed (scripts/install-deps --test)"; done_testing; exit $?; }
done
[ -f "$FX/go/hello-arm-v7" ] || { skip "fixture binaries missing (tests/fixtures/make-fixtures.sh)"; done_testing; exit $?; }
export XDG_CACHE_HOME=$TMPD/cache
PIDS=
trap images_cleanup EXIT
registry_start "$TMPD/r"
PIDS="$PIDS $REGISTRY_PID"
R=$REG
sha() { python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }
# the tag's entries as "platform" lines, sorted
platforms() {
        curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/$1/manifests/$2" |
                jq -r '[.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")] | sort | join(" ")'
}

# three single-platform images, built here from the Go fixtures
for p in amd64:linux/amd64 arm64:linux/arm64 arm-v7:linux/arm/v7; do
        run_xarch build --platform "${p#*:}" --add "$FX/go/hello-${p%%:*}:/hello" --entrypoint /hello \
                -t "$R/img:${p%%:*}"
        expect_rc 0 "image ${p#*:} pushed"
done
# the index being edited holds amd64; the other writer's version of it holds amd64 and arm/v7
run_xarch index create "$R/idx:v1" "$R/img:amd64"
expect_rc 0 "index with linux/amd64 created"
run_xarch index create "$R/idx:other" "$R/img:amd64" "$R/img:arm-v7"
expect_rc 0 "the other writer's index prepared"
other=$(cat "$TMPD/out")
curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/idx/manifests/other" >"$TMPD/other.json"

python3 "$HERE/servers/tag-mover.py" "$R" idx v1 "$TMPD/other.json" \
        application/vnd.oci.image.index.v1+json >"$TMPD/pport" 2>"$TMPD/plog" &
PIDS="$PIDS $!"
i=0
until [ -s "$TMPD/pport" ]; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
P=127.0.0.1:$(cat "$TMPD/pport")

# xarch adds arm64 through the proxy; the proxy moves the tag to "other" after xarch's first read
run_xarch index add --json "$P/idx:v1" "$P/img:arm64"
expect_rc 0 "index add through the tag-moving proxy exits 0"
log=$(curl -fsS "http://$P/__log")
[ "$(echo "$log" | jq -r '[.[] | select(.[0] == "moved")][0][1]')" = "$other" ] &&
        ok "the tag moved after xarch read it" || not_ok "the proxy did not move the tag: $log"
[ "$(jq -r .attempts "$TMPD/out")" = 2 ] && ok "xarch saw the move and started over (2 attempts)" ||
        not_ok "attempts: $(jq -r .attempts "$TMPD/out" 2>/dev/null)"
got=$(platforms idx v1)
[ "$got" = "linux/amd64 linux/arm/v7 linux/arm64" ] &&
        ok "the index holds both edits: arm/v7 (the other writer) and arm64 (xarch)" ||
        not_ok "the index holds: $got (an edit was lost)"
want=$(curl -fsS -o /dev/null -D - -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "http://$R/v2/idx/manifests/v1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
[ "$(jq -r .digest "$TMPD/out")" = "$want" ] && ok "the digest xarch printed is the tag's" ||
        not_ok "xarch printed $(jq -r .digest "$TMPD/out"), the tag is $want"
run_xarch verify "$R/idx:v1"
expect_rc 0 "xarch verify accepts the merged index"

# a tag that moves on every read: xarch gives up after three attempts and leaves it alone
run_xarch index create "$R/idx:v2" "$R/img:amd64"
run_xarch index create "$R/idx:third" "$R/img:amd64" "$R/img:arm64"
third=$(cat "$TMPD/out")
curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/idx/manifests/third" >"$TMPD/third.json"
python3 "$HERE/servers/tag-mover.py" "$R" idx v2 "$TMPD/other.json" \
        application/vnd.oci.image.index.v1+json "$TMPD/third.json" >"$TMPD/pport2" 2>"$TMPD/plog2" &
PIDS="$PIDS $!"
i=0
until [ -s "$TMPD/pport2" ]; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
P2=127.0.0.1:$(cat "$TMPD/pport2")
run_xarch index add "$P2/idx:v2" "$P2/img:arm-v7"
expect_rc 1 "index add on a tag that never stops moving exits 1"
expect_err 'kept changing while it was edited \(3 attempts\)' "and says the tag kept changing"
now=$(curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/idx/manifests/v2" | sha)
[ "$now" = "$other" ] || [ "$now" = "$third" ] && ok "xarch did not move the tag" || not_ok "the tag names $now"

done_testing
