#!/usr/bin/env python3
"""Pushes an artifact that refers to a manifest, the way a registry without the referrers API
holds it: the artifact manifest (with `subject`) and the fallback-tag index "sha256-<hex>"
listing it (merged with what the tag already lists). Plain HTTP, no auth (test registries).

    push-referrer.py HOST:PORT REPO SUBJECT_DIGEST ARTIFACT_TYPE TEXT
Prints the artifact manifest's digest."""
import hashlib
import json
import sys
import urllib.error
import urllib.request

host, repo, subject, atype, text = sys.argv[1:6]
base = "http://%s/v2/%s" % (host, repo)
OCI_M = "application/vnd.oci.image.manifest.v1+json"
OCI_I = "application/vnd.oci.image.index.v1+json"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(r)


def blob(data):
    resp = req("POST", base + "/blobs/uploads/", b"")
    loc = resp.headers["Location"]
    if loc.startswith("/"):
        loc = "http://" + host + loc
    loc += ("&" if "?" in loc else "?") + "digest=" + sha(data)
    req("PUT", loc, data, {"Content-Type": "application/octet-stream"})
    return {"digest": sha(data), "size": len(data)}


def head_manifest(ref):
    r = urllib.request.Request(base + "/manifests/" + ref, method="GET",
                               headers={"Accept": OCI_I + ", " + OCI_M})
    try:
        resp = urllib.request.urlopen(r)
        return resp.read(), resp.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None, None
        raise


subj_bytes, subj_type = head_manifest(subject)
if subj_bytes is None:
    sys.exit("subject %s not found" % subject)
empty = blob(b"{}")
layer = blob(text.encode())
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_M, "artifactType": atype,
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
    "layers": [{"mediaType": "text/plain", **layer}],
    "subject": {"mediaType": subj_type, "digest": subject, "size": len(subj_bytes)},
    "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
}, separators=(",", ":")).encode()
digest = sha(manifest)
req("PUT", base + "/manifests/" + digest, manifest, {"Content-Type": OCI_M})
tag = subject.replace(":", "-")
old, _ = head_manifest(tag)
index = json.loads(old) if old else {"schemaVersion": 2, "mediaType": OCI_I, "manifests": []}
index["manifests"].append({"mediaType": OCI_M, "digest": digest, "size": len(manifest),
                           "artifactType": atype,
                           "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}})
data = json.dumps(index, separators=(",", ":")).encode()
req("PUT", base + "/manifests/" + tag, data, {"Content-Type": OCI_I})
print(digest)
