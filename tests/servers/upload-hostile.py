#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small in-memory OCI registry with push-side faults, for xarch's upload tests (python3
standard library only). Listens on 127.0.0.1 (a free port), prints "PORT" on stdout, serves until
stdin closes or it is killed.

Blobs belong to repositories (a mount needs the blob in `from`); manifests are checked for their
blobs and children like distribution does. The first path component after /v2/ picks the
behaviour; further components make the repository unique:
  good      everything works (mount, monolithic, streaming and chunked PATCH)
  nomount   mounts answer 202 (an upload session) instead of 201
  nochunk   PATCH with Content-Range is refused (400 BLOB_UPLOAD_INVALID)
  nostream  PATCH without Content-Range, and a PUT with a body over 4 MiB, are refused (400
            BLOB_UPLOAD_INVALID): only Content-Range chunks carry a big blob
  noindex   manifest PUTs of an index (OCI or Docker list) are refused (400 MANIFEST_INVALID)
  drop      the first PATCH (or PUT with a body over 4 MiB) of each upload stops after half
            its body with a TCP reset; the bytes received stay in the session (GET on the
            upload URL reports Range)
  flaky     the first blob PUT and the first manifest PUT of the repository answer 503
  absolute  upload Locations are absolute URLs with a query
  stall     the first PATCH larger than 1 MiB (or PUT over 4 MiB) in the repository reads
            1 MiB and then hangs
  bigmin    as nostream, and upload sessions ask for OCI-Chunk-Min-Length 2^63-1 (each
            Content-Range PATCH is logged with its length)
  endless   POST answers 202 (with a Location) and a body that never ends
  endlesserr  POST answers 500 and a body that never ends
  foreign401  upload Locations point at http://localhost:PORT (another origin), which answers
            401 with a Bearer challenge whose realm is /token-trap on 127.0.0.1; /token-trap
            logs ["token-trap", Authorization header]
GET /__log returns the JSON list of completed writes: ["blob", repo, digest], ["manifest",
repo, reference, media type], ["stalled", repo], ["patch", repo, length]; and of every request
on an upload session: ["upload", repo, method, Content-Length or -1]; a blob PUT whose body
ended early: ["short", repo, bytes received, Content-Length].
"""
import hashlib
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
BLOBS = {}        # digest -> bytes
REPO_BLOBS = {}   # repo -> set(digest)
MANIFESTS = {}    # (repo, digest) -> (bytes, media type)
TAGS = {}         # (repo, tag) -> digest
UPLOADS = {}      # uuid -> {"repo", "data", "patches"}
COUNT = {}
LOG = []
PORT = [0]
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def bump(key):
    with lock:
        COUNT[key] = COUNT.get(key, 0) + 1
        return COUNT[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", headers=None):
        self.send_response(code)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)) if self.command != "HEAD" or not body else str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, err, msg):
        body = json.dumps({"errors": [{"code": err, "message": msg}]}).encode()
        self.send(code, body, {"Content-Type": "application/json"})

    def body(self, limit=None):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if limit is not None and len(data) >= limit:
                    return data
        n = int(self.headers.get("Content-Length") or 0)
        if limit is not None and limit < n:
            n = limit
        # piece by piece: a client that drops the connection part way leaves what it sent
        data = bytearray()
        while len(data) < n:
            try:
                piece = self.rfile.read1(min(n - len(data), 1 << 16))
            except OSError:
                break
            if not piece:
                break
            data += piece
        return bytes(data)

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def parse(self):
        path, _, query = self.path.partition("?")
        q = urllib.parse.parse_qs(query)
        if not path.startswith("/v2/"):
            return None
        rest = path[4:]
        for kind in ("/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/"):
            if kind in rest:
                repo, _, tail = rest.partition(kind)
                return repo, kind.strip("/"), tail, q
        return rest, "", "", q

    def location(self, repo, uuid, scenario):
        loc = "/v2/%s/blobs/uploads/%s?_state=%s" % (repo, uuid, uuid)
        if scenario == "absolute":
            loc = "http://127.0.0.1:%d%s&extra=1" % (PORT[0], loc)
        if scenario == "foreign401":
            loc = "http://localhost:%d%s" % (PORT[0], loc)
        return loc

    def handle_any(self):
        if self.path == "/__log":
            with lock:
                return self.send(200, json.dumps(LOG).encode(), {"Content-Type": "application/json"})
        if self.path.startswith("/token-trap"):
            self.body()
            with lock:
                LOG.append(["token-trap", self.headers.get("Authorization", "")])
            return self.send(200, b'{"token": "trap"}', {"Content-Type": "application/json"})
        if self.headers.get("Host", "").startswith("localhost") and "/foreign401/" in self.path:
            self.body()
            realm = 'Bearer realm="http://127.0.0.1:%d/token-trap",service="trap"' % PORT[0]
            return self.send(401, b"", {"WWW-Authenticate": realm})
        if self.path == "/v2/":
            self.body()
            return self.send(200, b"{}", {"Content-Type": "application/json"})
        p = self.parse()
        if not p:
            return self.send(404)
        repo, kind, tail, q = p
        scenario = repo.split("/")[0]
        if kind == "blobs/uploads":
            return self.upload(repo, tail, q, scenario)
        if kind == "blobs":
            self.body()
            with lock:
                have = tail in REPO_BLOBS.get(repo, set())
                data = BLOBS.get(tail)
            if not have:
                return self.error(404, "BLOB_UNKNOWN", "blob unknown")
            return self.send(200, data, {"Docker-Content-Digest": tail,
                                         "Content-Type": "application/octet-stream"})
        if kind == "manifests":
            return self.manifest(repo, tail, scenario)
        if kind == "referrers":
            return self.error(404, "UNSUPPORTED", "no referrers API")
        return self.send(404)

    def upload(self, repo, uuid, q, scenario):
        cmd = self.command
        if cmd == "POST" and uuid == "":
            self.body()
            mount, frm = q.get("mount", [None])[0], q.get("from", [None])[0]
            if mount and frm and scenario != "nomount":
                with lock:
                    ok = mount in REPO_BLOBS.get(frm, set())
                    if ok:
                        REPO_BLOBS.setdefault(repo, set()).add(mount)
                        LOG.append(["mount", repo, mount])
                if ok:
                    return self.send(201, b"", {"Location": "/v2/%s/blobs/%s" % (repo, mount),
                                                "Docker-Content-Digest": mount})
            u = "u%d" % bump("uploads")
            if scenario in ("endless", "endlesserr"):
                self.send_response(202 if scenario == "endless" else 500)
                self.send_header("Location", self.location(repo, u, scenario))
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
                try:
                    while True:
                        self.wfile.write(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return
            with lock:
                UPLOADS[u] = {"repo": repo, "data": b"", "patches": 0}
            headers = {"Location": self.location(repo, u, scenario),
                       "Docker-Upload-UUID": u, "Range": "0-0"}
            if scenario == "bigmin":
                headers["OCI-Chunk-Min-Length"] = str((1 << 63) - 1)
            return self.send(202, b"", headers)
        with lock:
            up = UPLOADS.get(uuid)
            LOG.append(["upload", repo, cmd, int(self.headers.get("Content-Length") or -1)])
        if not up:
            self.body()
            return self.error(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
        if cmd == "GET":
            n = len(up["data"])
            return self.send(204, b"", {"Location": self.location(repo, uuid, scenario),
                                        "Range": "0-%d" % max(n - 1, 0), "Docker-Upload-UUID": uuid})
        if cmd == "DELETE":
            with lock:
                UPLOADS.pop(uuid, None)
            return self.send(204)
        length = int(self.headers.get("Content-Length") or -1)
        if (cmd == "PATCH" and length > 0) or (cmd == "PUT" and length > (4 << 20)):
            # the faults that hit a request streaming a blob: a PATCH, or a PUT with a body
            # above xarch's monolithic limit (smaller ones are buffered and sent whole)
            up["patches"] += 1
            if scenario == "drop" and up["patches"] == 1 and length > 2:
                part = self.body(limit=length // 2)
                with lock:
                    up["data"] += part
                return self.reset()
            if scenario == "stall" and length > (1 << 20) and bump("stall " + repo) == 1:
                part = self.body(limit=1 << 20)
                with lock:
                    up["data"] += part
                    LOG.append(["stalled", repo])
                time.sleep(3600)
                return
        if cmd == "PATCH":
            crange = self.headers.get("Content-Range")
            if (scenario == "nochunk" and crange) or (scenario in ("nostream", "bigmin") and not crange):
                self.body()
                return self.error(400, "BLOB_UPLOAD_INVALID", "this kind of PATCH is not supported")
            if scenario == "bigmin":
                with lock:
                    LOG.append(["patch", repo, length])
            if crange:
                start = int(crange.replace("bytes ", "").split("-")[0])
                if start != len(up["data"]):
                    self.body()
                    return self.error(416, "BLOB_UPLOAD_INVALID", "out of order chunk")
            data = self.body()
            with lock:
                up["data"] += data
                n = len(up["data"])
            return self.send(202, b"", {"Location": self.location(repo, uuid, scenario),
                                        "Range": "0-%d" % max(n - 1, 0), "Docker-Upload-UUID": uuid})
        if cmd == "PUT":
            if scenario in ("nostream", "bigmin") and length > (4 << 20):
                self.body()
                return self.error(400, "BLOB_UPLOAD_INVALID", "a blob this big goes up in chunks")
            data = self.body()
            if len(data) < max(length, 0):
                # the client gave up before the end of the body (the connection is gone)
                with lock:
                    LOG.append(["short", repo, len(data), length])
                self.close_connection = True
                return
            if scenario == "flaky" and bump("blobput " + repo) == 1:
                return self.send(503, b"try again", {"Content-Type": "text/plain"})
            digest = q.get("digest", [""])[0]
            with lock:
                up["data"] += data
                whole = up["data"]
            if digest != sha(whole):
                return self.error(400, "DIGEST_INVALID", "digest did not match content")
            with lock:
                BLOBS[digest] = whole
                REPO_BLOBS.setdefault(repo, set()).add(digest)
                UPLOADS.pop(uuid, None)
                LOG.append(["blob", repo, digest])
            return self.send(201, b"", {"Location": "/v2/%s/blobs/%s" % (repo, digest),
                                        "Docker-Content-Digest": digest})
        self.body()
        return self.send(405)

    def manifest(self, repo, ref, scenario):
        if self.command in ("GET", "HEAD"):
            self.body()
            with lock:
                digest = TAGS.get((repo, ref), ref)
                m = MANIFESTS.get((repo, digest))
            if not m:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, m[0], {"Content-Type": m[1], "Docker-Content-Digest": digest})
        if self.command != "PUT":
            self.body()
            return self.send(405)
        data = self.body()
        mt = self.headers.get("Content-Type", "")
        if scenario == "flaky" and bump("manifestput " + repo) == 1:
            return self.send(500, b"oops", {"Content-Type": "text/plain"})
        if scenario == "noindex" and mt in INDEX_TYPES:
            return self.error(400, "MANIFEST_INVALID", "manifest lists are not supported")
        try:
            doc = json.loads(data)
        except ValueError:
            return self.error(400, "MANIFEST_INVALID", "not JSON")
        if doc.get("mediaType") and doc["mediaType"] != mt:
            return self.error(400, "MANIFEST_INVALID", "Content-Type does not match mediaType")
        with lock:
            if mt in INDEX_TYPES:
                missing = [d["digest"] for d in doc.get("manifests", []) if (repo, d["digest"]) not in MANIFESTS]
            else:
                refs = [doc.get("config", {})] + doc.get("layers", [])
                missing = [d["digest"] for d in refs if d.get("digest") and d["digest"] not in REPO_BLOBS.get(repo, set())]
        if missing:
            return self.error(400, "MANIFEST_BLOB_UNKNOWN", "unknown: %s" % missing[0])
        digest = sha(data)
        with lock:
            MANIFESTS[(repo, digest)] = (data, mt)
            if ref != digest:
                if ref.startswith("sha256:"):
                    return self.error(400, "DIGEST_INVALID", "digest does not match")
                TAGS[(repo, ref)] = digest
            LOG.append(["manifest", repo, ref, mt])
        return self.send(201, b"", {"Docker-Content-Digest": digest,
                                    "Location": "/v2/%s/manifests/%s" % (repo, digest)})

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    PORT[0] = srv.server_address[1]
    print(PORT[0], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
