#!/bin/bash
# xarch copy with registries on either side: Debian's docker-registry (the test images' storage
# as a source; a fresh plain one; a fresh one with TLS and htpasswd auth), and
# tests/servers/upload-hostile.py for push faults. skopeo and podman read every result; whole
# copies keep every digest; a kill -9 half way leaves no tag and a rerun completes.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
HERE=$(cd "$(dirname "$0")/.." && pwd)

if ! missing=$(images_have_tools); then
        skip "registry copy tests: $missing not installed"
        done_testing
        exit $?
fi
for tool in htpasswd openssl; do
        command -v $tool >/dev/null 2>&1 || { skip "registry copy tests need $tool"; done_testing; exit $?; }
done
images_prepare
IMAGES_STATE=$TMPD/state
mkdir -p "$IMAGES_STATE/tmp"
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
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$TMPD/out" "$1"; }

# the source: the test images' registry (read only)
registry_start "$IMAGES/registry"
PIDS="$PIDS $REGISTRY_PID"
R0=$REG
# a fresh plain registry
registry_start "$TMPD/r1"
PIDS="$PIDS $REGISTRY_PID"
R1=$REG
# a fresh TLS registry with htpasswd auth
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
P2=$(free_port)
R2=127.0.0.1:$P2
# (its access log, in $TMPD/r2/log, shows each request's HTTP version)
cat >"$TMPD/r2/config.yml" <<EOF
version: 0.1
log: {level: error}
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
SECURE="--ca $TMPD/tls/ca.crt --authfile $TMPD/auth.json"

want=$(skopeo inspect --raw --tls-verify=false "docker://$R0/multi" | sha)

# ---- registry to registry, plain then TLS + auth ----
run_xarch copy --json "$R0/multi:latest" "$R1/team/multi:v1"
expect_rc 0 "registry -> registry exits 0"
[ "$(json_get digest)" = "$want" ] && ok "the digest printed is the source's" || not_ok "digest $(json_get digest)"
[ "$(skopeo inspect --raw --tls-verify=false "docker://$R1/team/multi:v1" | sha)" = "$want" ] &&
        ok "skopeo reads the same index at the destination" || not_ok "index differs at R1"
skopeo_ copy -q --all --src-tls-verify=false "docker://$R1/team/multi:v1" "oci:$TMPD/check1:x" &&
        ok "skopeo pulls every blob back (digests verified)" || not_ok "skopeo pull from R1"

run_xarch copy $SECURE --json "$R1/team/multi:v1" "$R2/secure/multi:v1"
expect_rc 0 "plain -> TLS + htpasswd exits 0"
[ "$(skopeo inspect --raw --cert-dir "$TMPD/certs.d" --creds alice:s3cret "docker://$R2/secure/multi:v1" | sha)" = "$want" ] &&
        ok "skopeo reads the same index on the TLS registry" || not_ok "index differs at R2"
if grep -q s3cret "$TMPD/out" "$TMPD/err"; then not_ok "the password shows in the output"; else ok "no secret in the output"; fi
# The push goes over HTTP/1.1 although this registry offers HTTP/2: libcurl's HTTP/2 uploads
# cost 2-3x the CPU (docs/benchmarks.md, "## copy").
grep -E '"(HEAD|POST|PATCH|PUT) /v2/secure/multi/[^"]*" [0-9]' "$TMPD/r2/log" >"$TMPD/pushlog" || true
if [ -s "$TMPD/pushlog" ] && ! grep -qv ' HTTP/1.1" ' "$TMPD/pushlog"; then
        ok "every push request ($(wc -l <"$TMPD/pushlog")) went over HTTP/1.1"
else
        not_ok "push requests not all over HTTP/1.1"; sed 's/^/#   /' "$TMPD/pushlog" | head -5
fi
run_xarch copy $SECURE --json "$R1/team/multi:v1" "$R2/secure/multi:v1"
expect_rc 0 "rerun exits 0"
[ "$(json_get written.blobs)" = 0 ] && ok "rerun uploads no blob" || not_ok "rerun uploaded $(json_get written.blobs)"

run_xarch copy --authfile "$TMPD/auth.json" "$R1/team/multi:v1" "$R2/secure/multi:v2"
expect_rc 1 "an untrusted certificate fails"
run_xarch copy --ca "$TMPD/tls/ca.crt" "$R1/team/multi:v1" "$R2/secure/multi:v3"
expect_rc 1 "no credentials fails"
expect_err 'unauthorized|authentication required' "and says it was refused"

# podman pulls from the TLS registry and sees each architecture
if podman_ pull -q --cert-dir "$TMPD/certs.d" --creds alice:s3cret --arch arm64 "docker://$R2/secure/multi:v1" >/dev/null 2>"$TMPD/perr"; then
        arch=$(podman_ image inspect --format '{{.Architecture}}' "$R2/secure/multi:v1")
        [ "$arch" = arm64 ] && ok "podman pulls the arm64 image" || not_ok "podman sees $arch"
else
        not_ok "podman pull: $(tail -1 "$TMPD/perr")"
fi

# ---- to and from files ----
run_xarch copy $SECURE "$R2/secure/multi:v1" "oci:$TMPD/from-r2.oci:v1"
expect_out "^$want\$" "TLS registry -> oci: keeps the digest"
[ "$(skopeo inspect --raw "oci:$TMPD/from-r2.oci:v1" | sha)" = "$want" ] && ok "skopeo reads the layout" || not_ok "layout index differs"
run_xarch copy $SECURE "$R2/secure/multi:v1" "oci-archive:$TMPD/from-r2.tar:v1"
expect_out "^$want\$" "TLS registry -> oci-archive: keeps the digest"
run_xarch copy $SECURE "oci-archive:$TMPD/from-r2.tar:v1" "$R2/secure/back:v1"
expect_out "^$want\$" "oci-archive: -> TLS registry keeps the digest"
run_xarch copy --platform linux/amd64 "$R1/team/multi:v1" "docker-archive:$TMPD/amd64.tar:multi:amd64"
expect_rc 0 "registry -> docker-archive (one platform) exits 0"
podman_ load -i "$TMPD/amd64.tar" >"$TMPD/load" 2>&1 && ok "podman load takes it" || not_ok "podman load: $(tail -1 "$TMPD/load")"
run_xarch copy "docker-archive:$IMAGES/local/single.docker.tar" "$R1/from/docker:v1"
expect_rc 0 "docker-archive -> registry exits 0"
skopeo inspect --tls-verify=false "docker://$R1/from/docker:v1" >/dev/null && ok "skopeo reads it" || not_ok "skopeo inspect from/docker"

# ---- subsets: a new index, attestations follow their image, blobs mounted ----
run_xarch copy --json --platform linux/arm64 "$R0/attest:latest" "$R1/team/attest:arm64"
expect_rc 0 "--platform from a registry exits 0"
skopeo inspect --raw --tls-verify=false "docker://$R1/team/attest:arm64" >"$TMPD/sub"
python3 - "$TMPD/sub" <<'PY' && ok "the subset holds arm64 and its attestation only" || not_ok "subset: $(cat "$TMPD/sub")"
import json, sys
m = json.load(open(sys.argv[1]))["manifests"]
imgs = [e for e in m if e.get("platform", {}).get("architecture") == "arm64"]
att = [e for e in m if e.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest"]
sys.exit(not (len(m) == 2 and len(imgs) == 1 and len(att) == 1 and
              att[0]["annotations"]["vnd.docker.reference.digest"] == imgs[0]["digest"]))
PY
run_xarch copy --json "$R1/team/multi:v1" "$R1/other/multi:v1"
[ "$(json_get written.blobsMounted)" -gt 0 ] && [ "$(json_get written.blobs)" = 0 ] &&
        ok "same registry: every blob mounted, none uploaded" || not_ok "mounted $(json_get written.blobsMounted), uploaded $(json_get written.blobs)"

# ---- referrers: the fallback tag (docker-registry has no referrers API), recursively ----
sub=$(skopeo inspect --raw --tls-verify=false "docker://$R1/team/multi:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][1]["digest"])')
sbom=$(python3 "$HERE/images/push-referrer.py" "$R1" team/multi "$sub" application/vnd.example.sbom "an sbom")
sig=$(python3 "$HERE/images/push-referrer.py" "$R1" team/multi "$sbom" application/vnd.example.sig "a signature")
run_xarch copy --json --referrers $SECURE "$R1/team/multi:v1" "$R2/secure/withrefs:v1"
expect_rc 0 "--referrers exits 0"
[ "$(json_get referrers)" = 2 ] && ok "two referrers copied (one of them a referrer's referrer)" || not_ok "referrers: $(json_get referrers)"
for pair in "$sub:$sbom" "$sbom:$sig"; do
        subj=${pair%%:sha256:*}; art=sha256:${pair##*:sha256:}
        skopeo inspect --raw --cert-dir "$TMPD/certs.d" --creds alice:s3cret "docker://$R2/secure/withrefs:${subj/:/-}" 2>/dev/null |
                grep -q "$art" && ok "the fallback tag of ${subj:0:19} lists ${art:0:19}" || not_ok "fallback tag of $subj"
        skopeo inspect --raw --cert-dir "$TMPD/certs.d" --creds alice:s3cret "docker://$R2/secure/withrefs@$art" >/dev/null 2>&1 &&
                ok "the artifact ${art:0:19} is there" || not_ok "artifact $art missing"
done
run_xarch copy --referrers "$R1/team/multi:v1" "oci:$TMPD/refs.oci:v1"
expect_rc 0 "--referrers to an OCI layout"
grep -q "${sub/:/-}" "$TMPD/refs.oci/index.json" && ok "the layout names the fallback tag" || not_ok "layout fallback tag"
run_xarch copy --referrers "$R1/team/multi:v1" "oci-archive:$TMPD/refs.tar"
expect_rc 1 "--referrers to an archive is refused"

# two copies adding different referrers of one subject to one layout at once: the fallback tag
# keeps both. The layout's lock is held until both have read the (absent) tag and put their
# merged index (its blob appears; the digest is known from the same copy made alone), so both
# wait to move the tag; the second then finds it moved under the lock and merges again.
prov=$(python3 "$HERE/images/push-referrer.py" "$R1" other/multi "$sub" application/vnd.example.prov "a provenance")
fallback_digest() {
        python3 -c '
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])' "$1" "${sub/:/-}"
}
for x in team other; do
        run_xarch copy --referrers "$R1/$x/multi:v1" "oci:$TMPD/alone-$x.oci:v1"
        expect_rc 0 "$x alone: --referrers to a layout exits 0"
done
fb_team=$(fallback_digest "$TMPD/alone-team.oci")
fb_other=$(fallback_digest "$TMPD/alone-other.oci")
P=$TMPD/pair.oci
run_xarch copy "$R1/team/multi:v1" "oci:$P:base"
expect_rc 0 "the shared layout exists (no fallback tag yet)"
rm -f "$TMPD/held"
flock "$P" sh -c 'touch "$1/held"
        i=0; until [ -e "$2/blobs/sha256/${3#sha256:}" ] && [ -e "$2/blobs/sha256/${4#sha256:}" ]; do
                i=$((i + 1)); [ $i -lt 2000 ] || exit 1; sleep 0.05; done' sh "$TMPD" "$P" "$fb_team" "$fb_other" &
HOLDER=$!
i=0
until [ -e "$TMPD/held" ]; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
"$XARCH" copy --referrers "$R1/team/multi:v1" "oci:$P:v1" >/dev/null 2>"$TMPD/pa.err" &
PA=$!
"$XARCH" copy --referrers "$R1/other/multi:v1" "oci:$P:v2" >/dev/null 2>"$TMPD/pb.err" &
PB=$!
wait $HOLDER && ok "both copies put their fallback index while the layout was locked" ||
        not_ok "a fallback index never appeared: $(cat "$TMPD/pa.err" "$TMPD/pb.err")"
wait $PA && wait $PB && ok "both --referrers copies into one layout exit 0" ||
        not_ok "a copy failed: $(cat "$TMPD/pa.err" "$TMPD/pb.err")"
got=$(skopeo_ inspect --raw "oci:$P:${sub/:/-}" | python3 -c 'import json,sys; print(" ".join(sorted(m["digest"] for m in json.load(sys.stdin)["manifests"])))')
want_refs=$(printf '%s\n' "$sbom" "$prov" | sort | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want_refs" ] && ok "the fallback tag lists both copies' referrers" ||
        not_ok "the fallback tag lists: $got (want $want_refs)"

# ---- push faults (upload-hostile.py) ----
mkfifo "$TMPD/hold"
exec 9<>"$TMPD/hold"
python3 "$HERE/servers/upload-hostile.py" <"$TMPD/hold" >"$TMPD/hport" 2>"$TMPD/hlog" &
PIDS="$PIDS $!"
i=0
until [ -s "$TMPD/hport" ]; do i=$((i + 1)); [ $i -lt 200 ] || break; sleep 0.05; done
H=127.0.0.1:$(cat "$TMPD/hport")
hlog() { curl -s "http://$H/__log"; }

# a big image (two 6 MiB layers: above the monolithic limit, so they stream)
head -c 6291456 /dev/urandom >"$TMPD/big1"
head -c 6291456 /dev/urandom >"$TMPD/big2"
cat >"$TMPD/big.json" <<EOF
{"images": [{"index_platform": "linux/amd64", "config_platform": "linux/amd64", "entrypoint": ["/a"],
  "layers": [{"compression": "none", "entries": [["file", "/a", "$TMPD/big1", 493]]},
             {"compression": "none", "entries": [["file", "/b", "$TMPD/big2", 493]]}]}]}
EOF
python3 "$HERE/images/oci-layout.py" "$TMPD/big.oci" "$TMPD/big.json"
bigwant=$(skopeo inspect --raw "oci:$TMPD/big.oci" | sha)

for sc in good nomount nochunk nostream drop flaky absolute; do
        run_xarch copy --json "oci:$TMPD/big.oci" "$H/$sc/big:v1"
        expect_rc 0 "$sc: big image exits 0"
        [ "$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$H/v2/$sc/big/manifests/v1" | sha)" = "$bigwant" ] &&
                ok "$sc: the tag names the source's index" || not_ok "$sc: tag differs"
        case $sc in
        nostream | drop) [ "$(json_get written.resumed)" -ge 1 ] && ok "$sc: the upload resumed" || not_ok "$sc: not resumed" ;;
        esac
        run_xarch copy "$R0/multi:latest" "$H/$sc/multi:v1"
        expect_out "^$want\$" "$sc: multi-arch index copied"
done
# a blob above the monolithic limit streams into the final PUT: per blob a POST and one PUT,
# no PATCH (one request and one round trip fewer; docs/benchmarks.md, "## copy")
hlog | python3 -c '
import json, sys
up = [e for e in json.load(sys.stdin) if e[0] == "upload" and e[1] == "good/big"]
big = [e for e in up if e[2] == "PUT" and e[3] > 4 << 20]
if len(big) != 2 or any(e[2] == "PATCH" for e in up):
    print("# uploads:", up)
    sys.exit(1)' && ok "good: each 6 MiB layer goes up as one streaming PUT, no PATCH" ||
        not_ok "good: the 6 MiB layers did not go up as one PUT each"
# each image manifest goes up once its own blobs are there (while other blobs still copy), every
# one before the index that lists them; the index is written once, by its tag, last
hlog | python3 -c '
import json, sys, urllib.request
log = [e for e in json.load(sys.stdin) if e[0] in ("blob", "manifest") and e[1] == "good/multi"]
def blobs_of(digest):
    q = urllib.request.Request("http://%s/v2/good/multi/manifests/%s" % (sys.argv[1], digest),
                               headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    m = json.load(urllib.request.urlopen(q))
    return [m["config"]["digest"]] + [l["digest"] for l in m["layers"]]
at = {e[2]: i for i, e in enumerate(log) if e[0] == "blob"}
img = [(i, e[2]) for i, e in enumerate(log) if e[0] == "manifest" and "index" not in e[3]]
idx = [i for i, e in enumerate(log) if e[0] == "manifest" and "index" in e[3]]
ok = img and idx == [len(log) - 1] and log[-1][2] == "v1"
for i, d in img:
    ok = ok and all(b in at and at[b] < i for b in blobs_of(d))
sys.exit(not ok)' "$H" && ok "good: each image manifest after its blobs, then the index, once, by its tag" ||
        not_ok "good: write order $(hlog | tail -c 400)"
# bytes that do not match their digest never reach the registry whole: the streaming PUT's
# last byte waits for the check of every byte sent, which fails, so the body ends short
cp -r "$TMPD/big.oci" "$TMPD/bad.oci"
bad=$(find "$TMPD/bad.oci/blobs/sha256" -type f -size +4M | head -1)
chmod u+w "$bad"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(3 << 20); b = f.read(1); f.seek(3 << 20); f.write(bytes([b[0] ^ 1]))' "$bad"
run_xarch copy "oci:$TMPD/bad.oci" "$H/good/bad:v1"
expect_rc 1 "a layer whose bytes do not match its digest fails the copy"
hlog | python3 -c '
import json, sys
log = json.load(sys.stdin)
short = [e for e in log if e[0] == "short" and e[1] == "good/bad"]
done = [e for e in log if e[0] in ("blob", "manifest") and e[1] == "good/bad" and e[2] == "sha256:" + sys.argv[1]]
tag = [e for e in log if e[0] == "manifest" and e[1:3] == ["good/bad", "v1"]]
sys.exit(not (short and all(e[2] < e[3] for e in short) and not done and not tag))' "$(basename "$bad")" &&
        ok "and the registry never got all its bytes (nothing committed, no tag)" || not_ok "bad layer: $(hlog | tail -c 600)"
rm -rf "$TMPD/bad.oci"
# and a real registry takes it (TLS + htpasswd)
run_xarch copy $SECURE "oci:$TMPD/big.oci" "$R2/secure/big:v1"
expect_out "^$bigwant\$" "TLS registry: the big image keeps its digest"
skopeo_ copy -q --src-cert-dir "$TMPD/certs.d" --src-creds alice:s3cret "docker://$R2/secure/big:v1" "oci:$TMPD/check-big:x" &&
        ok "skopeo pulls the streamed layers back (digests verified)" || not_ok "skopeo pull of secure/big"
n=$(grep -c '"PUT /v2/secure/big/blobs/uploads/[^"]* HTTP/1.1" 201' "$TMPD/r2/log" || true)
grep -q '"PATCH /v2/secure/big/' "$TMPD/r2/log" && not_ok "TLS registry: a PATCH was sent" ||
        { [ "$n" -ge 2 ] && ok "TLS registry: no PATCH, $n PUTs" || not_ok "TLS registry: $n PUTs"; }
# a refused mount falls back to an upload
run_xarch copy --json "$H/nomount/multi:v1" "$H/nomount/again:v1"
expect_rc 0 "nomount: copy within the registry exits 0"
[ "$(json_get written.blobsMounted)" = 0 ] && [ "$(json_get written.blobs)" -gt 0 ] &&
        ok "nomount: blobs uploaded after the 202" || not_ok "nomount: $(cat "$TMPD/out")"
# a registry that refuses OCI indexes: one line, no tag
run_xarch copy "$R0/multi:latest" "$H/noindex/multi:v1"
expect_rc 1 "noindex: exits 1"
expect_err 'index sha256:.*MANIFEST_INVALID' "noindex: names the refused index"
[ "$(wc -l <"$TMPD/err")" = 1 ] && ok "noindex: one line on stderr" || not_ok "noindex: $(cat "$TMPD/err")"
hlog | python3 -c 'import json,sys; sys.exit(any(e[:3] == ["manifest", "noindex/multi", "v1"] for e in json.load(sys.stdin)))' &&
        ok "noindex: no tag written" || not_ok "noindex: a tag was written"

# an upload answer whose body never ends: a clear failure, not a push that reads for ever
run_xarch copy "oci:$TMPD/big.oci" "$H/endless/big:v1"
expect_rc 1 "endless: an endless answer to the upload POST fails"
expect_err "upload answer .* is larger than" "endless: the error names the oversized answer"
run_xarch copy "oci:$TMPD/big.oci" "$H/endlesserr/big:v1"
expect_rc 1 "endlesserr: an endless error answer fails"
expect_err "error answer \(HTTP 500\) is larger than" "endlesserr: the error says so"

# an upload Location on another origin that answers 401 with its own token realm: the
# registry's credentials never go to that realm
printf '{"auths": {"%s": {"auth": "%s"}}}' "$H" "$(printf 'user:s3cret-pass' | base64)" >"$TMPD/hauth.json"
REGISTRY_AUTH_FILE="$TMPD/hauth.json" run_xarch copy "oci:$TMPD/big.oci" "$H/foreign401/big:v1"
expect_rc 1 "foreign401: a 401 from the foreign upload URL fails the push"
hlog | python3 -c 'import json,sys; sys.exit(any(e[0] == "token-trap" for e in json.load(sys.stdin)))' &&
        ok "foreign401: nothing was sent to the foreign origin's token realm" || not_ok "foreign401: $(hlog)"

# a registry asking for absurd chunks (OCI-Chunk-Min-Length 2^63-1): the chunks stay bounded
# (UPLOAD_CHUNK_MAX, 16 MiB) instead of the whole layer buffered in memory
head -c 20971520 /dev/urandom >"$TMPD/huge1"
cat >"$TMPD/huge.json" <<EOF
{"images": [{"index_platform": "linux/amd64", "config_platform": "linux/amd64", "entrypoint": ["/a"],
  "layers": [{"compression": "none", "entries": [["file", "/a", "$TMPD/huge1", 493]]}]}]}
EOF
python3 "$HERE/images/oci-layout.py" "$TMPD/huge.oci" "$TMPD/huge.json"
rm -f "$TMPD/huge1"
run_xarch copy "oci:$TMPD/huge.oci" "$H/bigmin/huge:v1"
expect_rc 0 "bigmin: a 20 MiB layer is pushed"
hlog | python3 -c '
import json, sys
sizes = [e[2] for e in json.load(sys.stdin) if e[0] == "patch" and e[1] == "bigmin/huge"]
sys.exit(not (sizes and max(sizes) <= 16 << 20))' && ok "bigmin: no chunk above 16 MiB" || not_ok "bigmin: chunks $(hlog)"
rm -rf "$TMPD/huge.oci"

# kill -9 half way through a push: no tag; a rerun completes and skips what is there
"$XARCH" copy --jobs 1 "oci:$TMPD/big.oci" "$H/stall/big:v1" >/dev/null 2>&1 &
victim=$!
i=0
until hlog | grep -q stalled; do i=$((i + 1)); [ $i -lt 400 ] || break; sleep 0.05; done
exec 3>&2 2>/dev/null # no "Killed" job notice in the TAP stream
kill -9 $victim
wait $victim || true
exec 2>&3 3>&-
hlog | python3 -c 'import json,sys; sys.exit(any(e[0] == "manifest" and e[1] == "stall/big" for e in json.load(sys.stdin)))' &&
        ok "kill -9 half way: no manifest and no tag written" || not_ok "kill -9: a manifest was written"
run_xarch copy --json "oci:$TMPD/big.oci" "$H/stall/big:v1"
expect_rc 0 "the rerun exits 0"
[ "$(json_get written.blobsSkipped)" -ge 1 ] && ok "the rerun skips the blob already uploaded" || not_ok "rerun skipped $(json_get written.blobsSkipped)"
[ "$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$H/v2/stall/big/manifests/v1" | sha)" = "$bigwant" ] &&
        ok "after the rerun the tag names the whole image" || not_ok "rerun: tag differs"
hlog | python3 -c '
import json, sys
log = [e for e in json.load(sys.stdin) if e[1] == "stall/big" and e[0] in ("blob", "manifest")]
tag = [i for i, e in enumerate(log) if e[0] == "manifest" and e[2] == "v1"]
sys.exit(not (tag and tag[0] == len(log) - 1))' && ok "the tag was the last write" || not_ok "tag written before the end"

done_testing
