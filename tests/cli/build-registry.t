#!/bin/bash
# xarch build to and from registries: Debian's docker-registry (the test images' storage as a
# base; a fresh plain one; a fresh one with TLS and htpasswd auth) and
# tests/servers/upload-hostile.py for push faults. skopeo and podman read every result; base
# layers are mounted on the same registry; a push is verified after it; no tag is left when a
# push fails.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
HERE=$(cd "$(dirname "$0")/.." && pwd)
FX=$XARCH_FIXTURES

if ! missing=$(images_have_tools); then
        skip "registry build tests: $missing not installed"
        done_testing
        exit $?
fi
for tool in htpasswd openssl; do
        command -v $tool >/dev/null 2>&1 || { skip "registry build tests need $tool"; done_testing; exit $?; }
done
[ -f "$FX/go/hello-arm64" ] || { skip "fixture binaries missing"; done_testing; exit $?; }
images_prepare
IMAGES_STATE=$TMPD/state
mkdir -p "$IMAGES_STATE/tmp"
export XDG_CACHE_HOME=$TMPD/cache
PIDS=
cleanup() {
        rc=$?
        set +e
        for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
        for p in $PIDS; do wait "$p" 2>/dev/null; done
        exec 9>&- 2>/dev/null
        rm -rf "$TMPD" "$(podman_runroot)"
        exit $rc
}
trap cleanup EXIT
sha() { python3 -c 'import hashlib,sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }
jget() { jq -r "$1" "$TMPD/out"; }

registry_start "$IMAGES/registry"
PIDS="$PIDS $REGISTRY_PID"
R0=$REG
registry_start "$TMPD/r1"
PIDS="$PIDS $REGISTRY_PID"
R1=$REG
mkdir -p "$TMPD/tls" "$TMPD/certs.d" "$TMPD/r2"
(
        cd "$TMPD/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=xarch test CA" \
                -keyout ca.key -out ca.crt >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
                -out server.csr >/dev/null 2>&1
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile ext.cnf -out server.crt >/dev/null 2>&1
)
cp "$TMPD/tls/ca.crt" "$TMPD/certs.d/ca.crt"
htpasswd -Bbn alice s3cret >"$TMPD/htpasswd"
R2=127.0.0.1:$(free_port)
cat >"$TMPD/r2/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $TMPD/r2/storage}}
http:
  addr: $R2
  tls: {certificate: $TMPD/tls/server.crt, key: $TMPD/tls/server.key}
auth: {htpasswd: {realm: xarch-test, path: $TMPD/htpasswd}}
EOF
docker-registry serve "$TMPD/r2/config.yml" >"$TMPD/r2/log" 2>&1 &
PIDS="$PIDS $!"
i=0
until curl -s -o /dev/null --cacert "$TMPD/tls/ca.crt" "https://$R2/v2/"; do
        i=$((i + 1)); [ $i -lt 200 ] || break; sleep 0.05
done
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R2" "$(printf alice:s3cret | base64 -w0)" >"$TMPD/auth.json"
SECURE=(--ca "$TMPD/tls/ca.crt" --authfile "$TMPD/auth.json")

two=(--platform linux/amd64,linux/arm64 --add "$FX/go/hello-{arch}:/usr/local/bin/hello"
        --entrypoint /usr/local/bin/hello)

# ---- from scratch to the TLS registry with auth ----
run_xarch build --json "${SECURE[@]}" "${two[@]}" -t "$R2/team/hello:v1"
expect_rc 0 "two platforms pushed to a TLS registry with auth"
idx=$(jget .digest)
[ "$(jget .verified)" = true ] && ok "the push was verified" || not_ok "verified: $(jget .verified)"
raw=$(skopeo inspect --raw --cert-dir "$TMPD/certs.d" --creds alice:s3cret "docker://$R2/team/hello:v1")
[ "$(printf %s "$raw" | sha)" = "$idx" ] && ok "skopeo reads the index xarch reported" || not_ok "skopeo: $(printf %s "$raw" | sha) vs $idx"
if podman_ pull -q --cert-dir "$TMPD/certs.d" --creds alice:s3cret --arch arm64 "docker://$R2/team/hello:v1" >/dev/null 2>"$TMPD/perr"; then
        arch=$(podman_ image inspect --format '{{.Architecture}}' "$R2/team/hello:v1")
        [ "$arch" = arm64 ] && ok "podman pulls the arm64 image" || not_ok "podman sees $arch"
else
        not_ok "podman pull: $(tail -1 "$TMPD/perr")"
fi
run_xarch build --json "${SECURE[@]}" "${two[@]}" -t "$R2/team/hello:v1"
[ "$(jget .digest)" = "$idx" ] && [ "$(jget .written.blobs)" = 0 ] &&
        ok "the same build again: same digest, every blob already there" || not_ok "rebuild: $(jget .digest), $(jget .written.blobs) blobs"
# the two layers are compressed at once into their spools, then uploaded; on one thread
# (XARCH_BUILD_THREADS=1) one after the other: the same index either way
export XARCH_BUILD_THREADS=1
run_xarch build --json "${SECURE[@]}" "${two[@]}" -t "$R2/team/one:v1"
unset XARCH_BUILD_THREADS
[ "$(jget .digest)" = "$idx" ] && ok "one thread pushes the same index" ||
        not_ok "one thread: $(jget .digest) vs $idx"
# no room for the spools: one line, nothing pushed, no thread left waiting
TMPDIR=$TMPD/no-such-dir run_xarch build "${SECURE[@]}" "${two[@]}" -t "$R2/team/nospool:v1"
expect_rc 1 "no spool directory fails"
expect_err "spool file in $TMPD/no-such-dir" "and names it"
curl -s -o /dev/null -w '%{http_code}' --cacert "$TMPD/tls/ca.crt" -u alice:s3cret \
        "https://$R2/v2/team/nospool/manifests/v1" | grep -q 404 &&
        ok "nothing tagged" || not_ok "a tag exists after the failure"
run_xarch build --authfile /dev/null --ca "$TMPD/tls/ca.crt" "${two[@]}" -t "$R2/team/noauth:v1"
expect_rc 1 "a push without credentials fails"
expect_err "." "in one line"

# ---- base from one registry, pushed to another (streamed), then on the same one (mounted) ----
run_xarch build --json --from "$R0/multi:latest" --add "$FX/misc/text.txt:/etc/motd" -t "$R1/app/multi:v1"
expect_rc 0 "a build on a registry base, pushed to another registry"
[ "$(jget '[.platforms[].platform] | join(",")')" = "linux/amd64,linux/arm64/v8,linux/arm/v7" ] &&
        ok "every platform of the base" || not_ok "platforms: $(jget '[.platforms[].platform] | join(",")')"
[ "$(jget .written.blobsMounted)" = 0 ] && ok "across registries, base layers are streamed" || not_ok "mounted $(jget .written.blobsMounted)"
base=$(skopeo inspect --raw --tls-verify=false "docker://$R1/app/multi:v1" | jq -r '.manifests[0].digest')
skopeo inspect --raw --tls-verify=false "docker://$R1/app/multi@$base" |
        jq -e '.annotations["org.opencontainers.image.base.name"] | test("multi")' >/dev/null &&
        ok "the manifest names its base" || not_ok "no base.name annotation"
run_xarch build --json --from "$R1/app/multi:v1" --add "$FX/misc/text.txt:/etc/motd2" -t "$R1/other/multi:v2"
expect_rc 0 "a build on a base on the same registry"
[ "$(jget .written.blobsMounted)" -gt 0 ] && ok "base layers mounted ($(jget .written.blobsMounted))" ||
        not_ok "mounted $(jget .written.blobsMounted), uploaded $(jget .written.blobs)"

# ---- dry run and refusals write nothing ----
run_xarch build --dry-run "${two[@]}" -t "$R1/dry/hello:v1"
expect_rc 0 "--dry-run to a registry"
expect_out "^index sha256:" "prints the index digest"
curl -s -o /dev/null -w '%{http_code}' "http://$R1/v2/dry/hello/manifests/v1" | grep -q 404 &&
        ok "--dry-run pushed nothing" || not_ok "a tag exists after --dry-run"
run_xarch build --platform linux/amd64 --add "$FX/go/hello-arm64:/hello" -t "$R1/wrong/hello:v1"
expect_rc 1 "a wrong-arch build to a registry is refused"
curl -s "http://$R1/v2/_catalog" | grep -q wrong && not_ok "the refused build reached the registry" ||
        ok "nothing reached the registry"
run_xarch build "${two[@]}" -t "127.0.0.1:$(free_port)/nothere/hello:v1"
expect_rc 1 "an unreachable registry fails"
expect_err "." "in one line"

# ---- push faults ----
mkfifo "$TMPD/hold"
exec 9<>"$TMPD/hold"
python3 "$HERE/servers/upload-hostile.py" <"$TMPD/hold" >"$TMPD/hport" 2>"$TMPD/hlog" &
PIDS="$PIDS $!"
i=0
until [ -s "$TMPD/hport" ]; do i=$((i + 1)); [ $i -lt 200 ] || break; sleep 0.05; done
H=127.0.0.1:$(cat "$TMPD/hport")
hlog() { curl -s "http://$H/__log"; }
# a layer large enough to stream (random bytes do not compress)
head -c 6291456 /dev/urandom >"$TMPD/big.bin"
for sc in good nochunk nostream drop flaky absolute; do
        run_xarch build --json --platform linux/amd64 --add "$FX/go/hello-amd64:/hello" \
                --add "$TMPD/big.bin:/data/big.bin" --entrypoint /hello -t "$H/$sc/big:v1"
        expect_rc 0 "$sc: the build is pushed"
        got=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$H/v2/$sc/big/manifests/v1" | sha)
        [ "$got" = "$(jget .digest)" ] && ok "$sc: the tag names the built manifest" || not_ok "$sc: tag $got"
        case $sc in
        nostream | drop) [ "$(jget .written.resumed)" -ge 1 ] && ok "$sc: the layer upload resumed (regenerated)" || not_ok "$sc: not resumed" ;;
        esac
done
run_xarch build "${two[@]}" -t "$H/noindex/hello:v1"
expect_rc 1 "a registry refusing OCI indexes: exit 1"
expect_err 'MANIFEST_INVALID|index' "names the refusal"
hlog | python3 -c 'import json,sys; sys.exit(any(e[:3] == ["manifest", "noindex/hello", "v1"] for e in json.load(sys.stdin)))' &&
        ok "noindex: no tag written" || not_ok "noindex: a tag was written"
done_testing
