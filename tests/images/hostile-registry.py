#!/usr/bin/env python3
"""A registry on 127.0.0.1 that serves hostile manifests for the inspect tests. Prints its port.
Repositories (tag "latest"):
  badchild   an OCI index whose arm64 child is served with bytes that do not match its digest
  big        a 5 MiB "manifest"
  garbage    bytes that are not JSON
  schema1    a Docker schema 1 manifest
  contradict Content-Type says image manifest, the body says index
  longarch   an index entry whose architecture is 200 characters long
"""
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
child = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": digest(config), "size": len(config)},
                    "layers": []}).encode()
tampered = child.replace(b'"layers": []', b'"layers": [] ')
index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
    {"mediaType": MANIFEST, "digest": digest(child), "size": len(child),
     "platform": {"os": "linux", "architecture": "amd64"}},
    {"mediaType": MANIFEST, "digest": digest(tampered), "size": len(tampered),
     "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()
longarch = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
    {"mediaType": MANIFEST, "digest": digest(child), "size": len(child),
     "platform": {"os": "linux", "architecture": "a" * 200}}]}).encode()

manifests = {
    ("badchild", "latest"): (INDEX, index),
    ("badchild", digest(child)): (MANIFEST, child),
    # served under the tampered digest, but with the original bytes
    ("badchild", digest(tampered)): (MANIFEST, child),
    ("big", "latest"): (MANIFEST, b"{" + b" " * (5 * 1024 * 1024) + b"}"),
    ("garbage", "latest"): (MANIFEST, b"\x00\x01 this is not json"),
    ("schema1", "latest"): ("application/vnd.docker.distribution.manifest.v1+prettyjws",
                            b'{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}'),
    ("contradict", "latest"): (MANIFEST, index),
    ("longarch", "latest"): (INDEX, longarch),
}
blobs = {digest(config): config}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, ctype, body, head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def route(self, head):
        parts = self.path.split("/")
        if self.path == "/v2/":
            return self.send(200, "application/json", b"{}", head)
        if len(parts) == 5 and parts[3] == "manifests" and (parts[2], parts[4]) in manifests:
            ctype, body = manifests[(parts[2], parts[4])]
            return self.send(200, ctype, body, head)
        if len(parts) == 5 and parts[3] == "blobs" and parts[4] in blobs:
            return self.send(200, "application/octet-stream", blobs[parts[4]], head)
        body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode()
        self.send(404, "application/json", body, head)

    def do_GET(self):
        self.route(False)

    def do_HEAD(self):
        self.route(True)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
