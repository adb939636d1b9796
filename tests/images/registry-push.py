#!/usr/bin/env python3
"""Pushes crafted content to a registry through the plain distribution HTTP API (a client
independent of xarch, buildah and skopeo).

  registry-push.py REG attest SRC_REPO SRC_TAG DST_REPO DST_TAG
      copies SRC's index into DST with a BuildKit-style attestation manifest per image
      (platform unknown/unknown, annotations vnd.docker.reference.type/digest) appended
  registry-push.py REG copies SRC_REPO SRC_TAG PREFIX N
      copies SRC's index (children and blobs by cross-repository mount) to PREFIX-1..PREFIX-N
"""
import hashlib
import json
import sys
import urllib.request

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join([INDEX, MANIFEST,
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, host):
        self.base = "http://" + host

    def get_manifest(self, repo, ref):
        st, body, h = request("GET", f"{self.base}/v2/{repo}/manifests/{ref}",
                              headers={"Accept": ACCEPT})
        assert st == 200, (st, body)
        return body, h.get("Content-Type")

    def put_manifest(self, repo, ref, body, media_type):
        st, resp, _ = request("PUT", f"{self.base}/v2/{repo}/manifests/{ref}", data=body,
                              headers={"Content-Type": media_type})
        assert st == 201, (st, resp)

    def push_blob(self, repo, data):
        d = digest(data)
        st, _, h = request("POST", f"{self.base}/v2/{repo}/blobs/uploads/")
        assert st == 202, st
        loc = h["Location"]
        if loc.startswith("/"):
            loc = self.base + loc
        sep = "&" if "?" in loc else "?"
        st, body, _ = request("PUT", f"{loc}{sep}digest={d}", data=data,
                              headers={"Content-Type": "application/octet-stream"})
        assert st == 201, (st, body)
        return d

    def mount(self, dst, d, src):
        st, _, _ = request("POST", f"{self.base}/v2/{dst}/blobs/uploads/?mount={d}&from={src}")
        if st == 201:
            return
        st, data, _ = request("GET", f"{self.base}/v2/{src}/blobs/{d}")
        assert st == 200, st
        self.push_blob(dst, data)

    def copy_image(self, src, dst, child_digest):
        body, mt = self.get_manifest(src, child_digest)
        m = json.loads(body)
        for blob in [m["config"]] + m["layers"]:
            self.mount(dst, blob["digest"], src)
        self.put_manifest(dst, child_digest, body, mt)


def attestation(reg, repo, image_digest):
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "hello", "digest": {"sha256": image_digest[7:]}}],
        "predicate": {"builder": {"id": "xarch-tests"}},
    }).encode()
    layer = reg.push_blob(repo, statement)
    config = json.dumps({"architecture": "unknown", "os": "unknown",
                         "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
    config_digest = reg.push_blob(repo, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer,
                    "size": len(statement),
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
    }).encode()
    d = digest(manifest)
    reg.put_manifest(repo, d, manifest, MANIFEST)
    return {"mediaType": MANIFEST, "digest": d, "size": len(manifest),
            "annotations": {"vnd.docker.reference.digest": image_digest,
                            "vnd.docker.reference.type": "attestation-manifest"},
            "platform": {"architecture": "unknown", "os": "unknown"}}


def main():
    reg = Registry(sys.argv[1])
    cmd, src, tag = sys.argv[2], sys.argv[3], sys.argv[4]
    body, mt = reg.get_manifest(src, tag)
    index = json.loads(body)
    if cmd == "attest":
        dst, dst_tag = sys.argv[5], sys.argv[6]
        extra = []
        for m in index["manifests"]:
            reg.copy_image(src, dst, m["digest"])
            if len(extra) < 2:
                extra.append(attestation(reg, dst, m["digest"]))
        index["manifests"] += extra
        index["mediaType"] = INDEX
        reg.put_manifest(dst, dst_tag, json.dumps(index, indent=2).encode(), INDEX)
    elif cmd == "copies":
        prefix, n = sys.argv[5], int(sys.argv[6])
        for i in range(1, n + 1):
            dst = f"{prefix}-{i}"
            for m in index["manifests"]:
                reg.copy_image(src, dst, m["digest"])
            reg.put_manifest(dst, "latest", body, mt)
    else:
        sys.exit(f"unknown command {cmd}")


main()
