#!/bin/bash
# One odd index entry (no architecture, an overlong variant) never makes inspect, verify or check
# fail for the whole index: containerd parses such an entry, never matches it and picks among
# the rest (docs/runtimes.md). Before, all three exited 2 ("platform lacks os or architecture").
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "1..0 # SKIP python3 is missing"; exit 0; }

# an OCI layout: tag "t" is an index of [no architecture, overlong variant, linux/amd64]
python3 - "$TMPD/lay" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(d + "/blobs/sha256")
def blob(b):
    h = hashlib.sha256(b).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(b)
    return "sha256:" + h
def image(label, platform):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("f"); info.size = len(label)
        t.addfile(info, io.BytesIO(label.encode()))
    layer = buf.getvalue(); ld = blob(layer)
    cfg = json.dumps({"os": "linux", "architecture": "amd64", "config": {"Cmd": ["/f"]},
                      "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": blob(cfg), "size": len(cfg)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": ld, "size": len(layer)}]}).encode()
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(m),
            "size": len(m), "platform": platform}
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": [image("noarch", {"os": "linux"}),
                                image("long", {"os": "linux", "architecture": "amd64",
                                               "variant": "v" + "9" * 40}),
                                image("plain", {"os": "linux", "architecture": "amd64"})]}).encode()
open(d + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": blob(idx), "size": len(idx),
     "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
print(json.loads(idx)["manifests"][2]["digest"], file=open(d + "/plain", "w"))
PY
PLAIN=$(cat "$TMPD/lay/plain")

run_xarch inspect "oci:$TMPD/lay:t" --platform linux/amd64
expect_rc 0 "inspect: odd entries do not fail the index"
expect_out "odd: platform has no architecture: no node matches it" "inspect: the entry without an architecture is shown as odd"
expect_out "odd: platform variant is longer than 31 bytes" "inspect: the overlong variant is shown as odd"
expect_out "linux/amd64 node pulls linux/amd64 $PLAIN" "inspect: the plain entry is picked"

run_xarch verify "oci:$TMPD/lay:t"
expect_out "3 platforms verified" "verify: all three entries are verified"
check "verify: odd entries do not make the index unreadable (exit 0 or 1, not 2)" test "$RC" -ne 2

run_xarch check "oci:$TMPD/lay:t" --node amd64 --json
cp "$TMPD/out" "$TMPD/check.json"
check "check: odd entries do not make the index unreadable" test "$RC" -ne 2
check "check: the node's manifest is the plain entry, not the odd one before it" \
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d['nodes'][0]['manifest_digest'] != sys.argv[2])" "$TMPD/check.json" "$PLAIN"

done_testing
