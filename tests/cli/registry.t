#!/bin/sh
# The registry client against real registries on 127.0.0.1: Debian's docker-registry (plain
# HTTP; TLS + htpasswd with a CA made here; token auth with tests/servers/token-server.py),
# holding multi-arch images that buildah builds from scratch and pushes (OCI index and Docker
# manifest list), checked against skopeo and sha256sum. Driven by tests/registry-driver.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${XARCH_BUILDDIR:=$SRC/build}"
DRIVER="$XARCH_BUILDDIR/tests/registry-driver"

for tool in docker-registry buildah skopeo htpasswd openssl python3 curl; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                skip "registry tests need $tool"
                done_testing
                exit 0
        fi
done
if [ ! -x "$DRIVER" ]; then
        skip "registry tests need $DRIVER"
        done_testing
        exit 0
fi

PIDS=
cleanup() {
        rc=$?
        set +e
        for p in $PIDS; do kill "$p" 2>/dev/null; done
        for p in $PIDS; do wait "$p" 2>/dev/null; done
        exec 9>&- 2>/dev/null
        rm -rf "$TMPD"
        exit $rc
}
trap cleanup EXIT
# Python servers live while fd 9 (the write end of this fifo) stays open.
mkfifo "$TMPD/hold"
exec 9<>"$TMPD/hold"

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL [CURL-ARGS]: polls until the server answers at all
wait_http() {
        url=$1; shift
        i=0
        while [ $i -lt 200 ]; do
                code=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null) || true
                [ "$code" != "000" ] && [ -n "$code" ] && return 0
                sleep 0.1
                i=$((i + 1))
        done
        return 1
}

# start_registry NAME PORT EXTRA-YAML
start_registry() {
        name=$1 port=$2
        mkdir -p "$TMPD/$name/storage"
        {
                echo "version: 0.1"
                echo "log: {level: error, accesslog: {disabled: true}}"
                echo "storage: {filesystem: {rootdirectory: $TMPD/$name/storage}}"
                echo "http:"
                echo "  addr: 127.0.0.1:$port"
                printf '%s\n' "$3"
        } >"$TMPD/$name/config.yml"
        docker-registry serve "$TMPD/$name/config.yml" >"$TMPD/$name/log" 2>&1 &
        PIDS="$PIDS $!"
}

run_driver() {
        set +e
        "$DRIVER" "$@" >"$TMPD/out" 2>"$TMPD/err"
        RC=$?
        set -e
}

set -e
B="buildah --root $TMPD/buildah/root --runroot $TMPD/buildah/run --storage-driver vfs"

# ---- a plain registry with a multi-arch OCI index and a Docker manifest list ----
P1=$(free_port)
start_registry plain "$P1" ""
wait_http "http://127.0.0.1:$P1/v2/" || { not_ok "docker-registry did not start"; cat "$TMPD/plain/log"; done_testing; exit 1; }
R1="127.0.0.1:$P1"

echo "hello from xarch" >"$TMPD/hello.txt"
for a in amd64 arm64 arm; do
        c=$($B from --arch $a scratch)
        $B copy "$c" "$TMPD/hello.txt" /hello.txt >/dev/null
        if [ $a = arm ]; then $B config --arch arm --variant v7 --os linux "$c"; else $B config --arch $a --os linux "$c"; fi
        $B commit -q --format oci "$c" "img-$a" >/dev/null
done
$B manifest create multi >/dev/null
$B manifest create dlist >/dev/null
for a in amd64 arm64 arm; do
        $B manifest add multi "img-$a" >/dev/null
        $B manifest add dlist "img-$a" >/dev/null
done
$B manifest push -q --all --format oci --tls-verify=false multi "docker://$R1/team/multi:v1" >/dev/null 2>&1
$B manifest push -q --all --format v2s2 --tls-verify=false dlist "docker://$R1/team/dlist:v1" >/dev/null 2>&1
ok "buildah pushed an OCI index and a Docker manifest list to docker-registry"

skopeo inspect --raw --tls-verify=false "docker://$R1/team/multi:v1" >"$TMPD/multi.raw"
want=sha256:$(sha256sum <"$TMPD/multi.raw" | cut -d' ' -f1)
run_driver manifest "$R1/team/multi:v1"
expect_rc 0 "manifest by tag from a plain-HTTP loopback registry"
expect_out "^$want application/vnd.oci.image.index.v1\+json " "OCI index digest equals sha256 of skopeo's raw bytes"

run_driver resolve "$R1/team/multi:v1"
expect_out "^$want application/vnd.oci.image.index.v1\+json$" "resolve (HEAD) gives the same digest"

skopeo inspect --raw --tls-verify=false "docker://$R1/team/dlist:v1" >"$TMPD/dlist.raw"
dwant=sha256:$(sha256sum <"$TMPD/dlist.raw" | cut -d' ' -f1)
run_driver manifest "$R1/team/dlist:v1"
expect_out "^$dwant application/vnd.docker.distribution.manifest.list.v2\+json " "Docker manifest list by tag"

# every child manifest by digest, and its config and layer blobs, verified independently
children=$(python3 -c 'import json,sys; print(" ".join(m["digest"] for m in json.load(open(sys.argv[1]))["manifests"]))' "$TMPD/multi.raw")
n=0
for d in $children; do
        run_driver --body manifest "$R1/team/multi@$d"
        [ "$RC" -eq 0 ] || { not_ok "child $d"; cat "$TMPD/err"; continue; }
        sed -n 2p "$TMPD/out" | head -c -1 >"$TMPD/child.json" || true
        blobs=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]] + [l["digest"] for l in m["layers"]]))' "$TMPD/child.json")
        for b in $blobs; do
                run_driver blob "$R1/team/multi:v1" "$b" "$TMPD/blob"
                got=sha256:$(sha256sum <"$TMPD/blob" | cut -d' ' -f1)
                [ "$RC" -eq 0 ] && [ "$got" = "$b" ] && n=$((n + 1))
        done
done
[ "$n" -eq 6 ] && ok "3 child manifests by digest, 6 config/layer blobs streamed and verified" ||
        not_ok "child manifests and blobs ($n of 6 verified)"

# the cache: the second run answers from disk after one HEAD
run_driver --cache "$TMPD/cache" --stats manifest "$R1/team/multi:v1"
run_driver --cache "$TMPD/cache" --stats manifest "$R1/team/multi:v1"
expect_out "^$want " "manifest served from the cache"
# (a fresh client first tries TLS on a loopback registry: that probe plus one HEAD)
if grep -Eq "requests=[12] .*cache_hits=1" "$TMPD/err"; then ok "second fetch: one HEAD, one cache hit"; else
        not_ok "second fetch stats"; sed 's/^/#   /' "$TMPD/err"; fi
[ -f "$TMPD/cache/blobs/sha256/${want#sha256:}" ] && ok "cache entry at blobs/sha256/<hex>" || not_ok "cache layout"

run_driver manifest "$R1/team/nothere:v1"
expect_rc 1 "unknown repository fails"
if grep -Eq "NAME_UNKNOWN|MANIFEST_UNKNOWN" "$TMPD/err" && [ "$(wc -l <"$TMPD/err")" -eq 1 ]; then
        ok "unknown repository: one-line error naming the registry's code"; else not_ok "unknown repository message"; sed 's/^/#   /' "$TMPD/err"; fi
run_driver manifest "$R1/team/multi:nope"
grep -q "MANIFEST_UNKNOWN" "$TMPD/err" && ok "unknown tag: MANIFEST_UNKNOWN" || not_ok "unknown tag message"

# ---- TLS with a CA made here, htpasswd basic auth ----
mkdir -p "$TMPD/tls" "$TMPD/certs.d"
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
P2=$(free_port)
R2="127.0.0.1:$P2"
start_registry tls "$P2" "  tls: {certificate: $TMPD/tls/server.crt, key: $TMPD/tls/server.key}
auth: {htpasswd: {realm: xarch-test, path: $TMPD/htpasswd}}"
wait_http "https://$R2/v2/" --cacert "$TMPD/tls/ca.crt" || { not_ok "TLS registry did not start"; cat "$TMPD/tls/log"; }
skopeo copy -q --all --src-tls-verify=false --dest-cert-dir "$TMPD/certs.d" --dest-creds alice:s3cret \
        "docker://$R1/team/multi:v1" "docker://$R2/secure/multi:v1" >/dev/null 2>&1 &&
        ok "skopeo copied the index to the TLS + htpasswd registry" || not_ok "skopeo copy to TLS registry"

printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R2" "$(printf alice:s3cret | base64 -w0)" >"$TMPD/good.json"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R2" "$(printf alice:WRONGPASS | base64 -w0)" >"$TMPD/bad.json"

run_driver --ca "$TMPD/tls/ca.crt" --auth "$TMPD/good.json" manifest "$R2/secure/multi:v1"
expect_rc 0 "TLS verified with --ca, basic auth from config.json"
expect_out "^$want " "same index digest through TLS + auth"
run_driver --stats --ca "$TMPD/tls/ca.crt" --auth "$TMPD/good.json" blob "$R2/secure/multi:v1" "$b" "$TMPD/blob"
if curl -s --http2 -o /dev/null -w '%{http_version}' --cacert "$TMPD/tls/ca.crt" "https://$R2/v2/" | grep -q '^2'; then
        grep -Eq "http2=[1-9]" "$TMPD/err" && ok "HTTP/2 used where the registry offers it" ||
                { not_ok "HTTP/2 not used"; sed 's/^/#   /' "$TMPD/err"; }
else
        skip "this docker-registry does not offer HTTP/2"
fi
run_driver --ca "$TMPD/tls/ca.crt" --auth "$TMPD/bad.json" manifest "$R2/secure/multi:v1"
expect_rc 1 "a wrong password fails"
if grep -q "unauthorized" "$TMPD/err" && ! grep -q WRONGPASS "$TMPD/err"; then
        ok "wrong password: 'unauthorized', password not shown"; else not_ok "wrong password message"; sed 's/^/#   /' "$TMPD/err"; fi
run_driver --ca "$TMPD/tls/ca.crt" --auth "$TMPD/tls/nonexistent.json" manifest "$R2/secure/multi:v1"
expect_rc 1 "a missing explicit auth file fails"
printf '{}\n' >"$TMPD/empty.json"
run_driver --ca "$TMPD/tls/ca.crt" --auth "$TMPD/empty.json" manifest "$R2/secure/multi:v1"
grep -q "unauthorized: authentication required" "$TMPD/err" && ok "no credentials: authentication required" ||
        { not_ok "no credentials message"; sed 's/^/#   /' "$TMPD/err"; }
run_driver --auth "$TMPD/good.json" manifest "$R2/secure/multi:v1"
expect_rc 1 "an untrusted certificate fails without --ca"
grep -q "TLS with '$R2' failed" "$TMPD/err" && ok "untrusted certificate: TLS error, no fallback to HTTP" ||
        { not_ok "TLS failure message"; sed 's/^/#   /' "$TMPD/err"; }
run_driver --insecure --auth "$TMPD/good.json" manifest "$R2/secure/multi:v1"
expect_rc 0 "--insecure skips verification"

# credHelpers: a fake docker-credential helper on PATH, answering on stdin/stdout
mkdir -p "$TMPD/bin"
cat >"$TMPD/bin/docker-credential-xarchtest" <<HELPER
#!/bin/sh
[ "\$1" = get ] || exit 1
read -r server
echo "\$server" >>"$TMPD/helper.log"
[ "\$server" = "$R2" ] || { echo "credentials not found in native keychain"; exit 1; }
printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}\n' "\$server"
HELPER
chmod +x "$TMPD/bin/docker-credential-xarchtest"
printf '{"credHelpers":{"%s":"xarchtest"}}\n' "$R2" >"$TMPD/helper.json"
PATH="$TMPD/bin:$PATH" run_driver --ca "$TMPD/tls/ca.crt" --auth "$TMPD/helper.json" manifest "$R2/secure/multi:v1"
expect_rc 0 "credentials from a docker-credential helper"
grep -qx "$R2" "$TMPD/helper.log" && ok "the helper got the server URL on stdin" || not_ok "helper input"
mkdir -p "$TMPD/dockercfg"
printf '{"credsStore":"xarchtest"}\n' >"$TMPD/dockercfg/config.json"
PATH="$TMPD/bin:$PATH" DOCKER_CONFIG="$TMPD/dockercfg" HOME=/nonexistent run_driver --ca "$TMPD/tls/ca.crt" manifest "$R2/secure/multi:v1"
expect_rc 0 "credsStore in \$DOCKER_CONFIG/config.json"
mkdir -p "$TMPD/xdg/containers"
cp "$TMPD/good.json" "$TMPD/xdg/containers/auth.json"
XDG_RUNTIME_DIR="$TMPD/xdg" HOME=/nonexistent run_driver --ca "$TMPD/tls/ca.crt" manifest "$R2/secure/multi:v1"
expect_rc 0 "podman's \$XDG_RUNTIME_DIR/containers/auth.json"
REGISTRY_AUTH_FILE="$TMPD/good.json" HOME=/nonexistent run_driver --ca "$TMPD/tls/ca.crt" manifest "$R2/secure/multi:v1"
expect_rc 0 "REGISTRY_AUTH_FILE"

# ---- token auth: docker-registry trusting tokens from tests/servers/token-server.py ----
(
        cd "$TMPD/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=xarch token signer" \
                -keyout token.key -out token.crt >/dev/null 2>&1
)
python3 "$SRC/tests/servers/token-server.py" "$TMPD/tls/token.key" "$TMPD/tls/token.crt" \
        xarch-issuer xarch-registry alice s3cret <"$TMPD/hold" >"$TMPD/token.port" 2>"$TMPD/token.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$TMPD/token.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
TP=$(cat "$TMPD/token.port")
P3=$(free_port)
R3="127.0.0.1:$P3"
start_registry token "$P3" "auth:
  token:
    realm: http://127.0.0.1:$TP/token
    service: xarch-registry
    issuer: xarch-issuer
    rootcertbundle: $TMPD/tls/token.crt"
wait_http "http://$R3/v2/" || not_ok "token registry did not start"
if skopeo copy -q --all --src-tls-verify=false --dest-tls-verify=false --dest-creds alice:s3cret \
        "docker://$R1/team/multi:v1" "docker://$R3/tok/multi:v1" >"$TMPD/skopeo.log" 2>&1; then
        ok "skopeo pushed through the bearer-token flow"
        run_driver --stats manifest "$R3/tok/multi:v1"
        expect_rc 0 "anonymous bearer token from the token service"
        expect_out "^$want " "same index digest through token auth"
        grep -q "tokens=1 " "$TMPD/err" && ok "one token request" || { not_ok "token count"; sed 's/^/#   /' "$TMPD/err"; }
        printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R3" "$(printf alice:s3cret | base64 -w0)" >"$TMPD/tok.json"
        run_driver --auth "$TMPD/tok.json" blob "$R3/tok/multi:v1" "$b" "$TMPD/blob"
        expect_rc 0 "blob with a token obtained with credentials"
        printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R3" "$(printf alice:nope | base64 -w0)" >"$TMPD/tokbad.json"
        run_driver --auth "$TMPD/tokbad.json" manifest "$R3/tok/multi:v1"
        expect_rc 1 "wrong password at the token service fails"
        grep -q "unauthorized: token service" "$TMPD/err" && ok "token service rejection is 'unauthorized'" ||
                { not_ok "token rejection message"; sed 's/^/#   /' "$TMPD/err"; }
else
        not_ok "skopeo push with token auth"
        sed 's/^/#   /' "$TMPD/skopeo.log" "$TMPD/token/log" | head -20
fi

done_testing
