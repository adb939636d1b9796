#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A misbehaving OCI registry for xarch's registry-client tests (python3 standard library only).

Listens on 127.0.0.1 (two free ports: the registry and a "storage" host that redirects point
to), prints "PORT STORAGE_PORT" on stdout, then serves until stdin closes or it is killed.

The first path component after /v2/ picks the behaviour (scenario); further components make
the repository name unique so that per-path counters (429-then-success, ...) start fresh:
  good         correct manifests and blobs
  wrongdigest  Docker-Content-Digest / blob bytes that do not match
  truncated    Content-Length larger than what is sent, then close (every time)
  huge         a 5 MiB manifest
  ratelimit    429 + Retry-After: 1 on the first request, then success
  ratelimited  always 429 with ratelimit-remaining: 0;w=21600
  fail500      500 twice, then success
  reset        blob: half the body then a TCP reset; later requests honour Range
  resetnorange like reset, but later requests ignore Range (full 200)
  resetrange0  like reset, but later requests answer 206 from byte 0 (Content-Range 0-)
  resetgap     like reset, but later requests answer 206 starting past the requested byte
  nodigest     no Docker-Content-Digest header
  nameunknown  404 NAME_UNKNOWN; tagunknown: 404 MANIFEST_UNKNOWN
  bearer       bearer-token auth (anonymous tokens accepted)
  bearercreds  bearer-token auth, token only with user "alice" password "s3cret"
  basic        basic auth alice:s3cret
  redirect     bearer auth; blobs redirect (307) to the storage port, which refuses requests
               that carry Authorization
  badchallenge 401 with a malformed WWW-Authenticate
  bigtoken     bearer auth whose (anonymous) token is 10000 bytes long
  hugetoken    bearer auth whose (anonymous) token is 20000 bytes long
  upload       blob uploads (POST .../blobs/uploads/, PATCH chunks with or without
               Content-Length, PUT ?digest=) behind bearer auth that wants a push token
               ("repository:<name>:pull,push"); once the PUT checks out the blob can be pulled
  slowbody     manifests and blobs: the headers at once, then the body at 2 bytes/s
  endless      an image with a real gzip'd tar layer, whose blob is served right and then
               continued without end (a second gzip member of zeros; chunked, no length)
  slowblob     manifests at once, blobs at 2 bytes/s
  slowheaders  a status line, then one header line a second, without end
  endless1xx   "102 Processing" interim answers twice a second, without end
  endlesstrailers  a chunked manifest whose trailer lines come one a second, without end
  fastbig      blobs/<digest of BIG>: 8 MiB in 256 KiB pieces at about 2 MiB/s (a download that
               takes seconds but keeps moving)
  echo403 echo400 echo500 echo200 echoheader echoblob
               bearer auth as bearercreds (alice:s3cret); once authorised, the answer echoes
               the password, the Authorization value and base64("alice:s3cret"): in a 403, 400
               or 500 body, in a 200 error document (one echo JSON-escaped), in headers, or in a
               blob's bytes
  echocut403 echocut400
               bearer auth as bearercreds; the error answer's message (403) or code (400) is
               long padding followed by the echo, so that a 255-byte message or 63-byte code
               would end in the middle of the password or token
  echoreferrers  bearer auth as bearercreds; the referrers API lists, for the image's
               manifest, one referrer (the "endless" image's manifest) whose annotation echoes
               the credentials as above; the referrer itself has none
  badport      blobs redirect to a URL whose port is 99999
  badrealm     401 with a token realm whose port is 99999
  badstatus    a status line that is not HTTP ("HTTP/1.1 2x0 OK")
  wronglabel   HEAD and GET by tag carry a Docker-Content-Digest that is not the manifest's,
               and (as a real registry would) GET by that digest is 404 MANIFEST_UNKNOWN
  dupindex     the tag is an OCI index listing the good manifest 6 times (6 platforms)
  ctlctype     the manifest's Content-Type holds control bytes (ESC [31m)
GET /__stats returns JSON counters (requests per path, authorization headers seen).
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
import base64

MANIFEST_CONFIG = b'{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
BLOB = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(300 * 1024))


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha(MANIFEST_CONFIG), "size": len(MANIFEST_CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha(BLOB), "size": len(BLOB)}],
}, sort_keys=True).encode()
HUGE = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","pad":"' + \
    b"x" * (5 * 1024 * 1024) + b'"}'
BLOBS = {sha(BLOB): BLOB, sha(MANIFEST_CONFIG): MANIFEST_CONFIG}
MT = "application/vnd.oci.image.manifest.v1+json"
BIG = bytes((i * 31 + (i >> 12)) & 0xFF for i in range(8 * 1024 * 1024))
def _layer():
    """A real gzip'd tar with one file (deterministic: no mtimes)."""
    import gzip, io, tarfile
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        data = b"#!/bin/sh\necho hi\n"
        info = tarfile.TarInfo("bin/hello")
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tf.addfile(info, io.BytesIO(data))
    tar = raw.getvalue()
    return tar, gzip.compress(tar, mtime=0)


LAYER_TAR, LAYER_TGZ = _layer()
CONFIG2 = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [sha(LAYER_TAR)]}}).encode()
MANIFEST2 = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha(CONFIG2), "size": len(CONFIG2)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha(LAYER_TGZ), "size": len(LAYER_TGZ)}],
}, sort_keys=True).encode()
BLOBS[sha(LAYER_TGZ)] = LAYER_TGZ
BLOBS[sha(CONFIG2)] = CONFIG2
DUP_INDEX = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": sha(MANIFEST), "size": len(MANIFEST),
                   "platform": {"os": "linux", "architecture": a}}
                  for a in ("amd64", "arm64", "arm", "ppc64le", "s390x", "riscv64")],
}, sort_keys=True).encode()
BIG_TOKENS = {"bigtoken": "b" * 10000, "hugetoken": "h" * 20000}

UPLOADS = {}
lock = threading.Lock()
counters = {}
auth_seen = []
storage_auth_seen = []
PORTS = {}


def bump(key):
    with lock:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=None, head=False):
        self.send_response(code)
        hdrs = dict(headers or {})
        hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, code, ecode, msg, headers=None, head=False):
        body = json.dumps({"errors": [{"code": ecode, "message": msg}]}).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.send(code, body, h, head)

    def do_HEAD(self):
        self.handle_req(head=True)

    def do_GET(self):
        self.handle_req(head=False)

    def handle_req(self, head):
        path = self.path.split("?")[0]
        if path == "/__stats":
            body = json.dumps({"counters": counters, "auth": auth_seen}).encode()
            return self.send(200, body, {"Content-Type": "application/json"})
        if path == "/token":
            return self.token()
        if path == "/v2/" or path == "/v2":
            return self.send(200, b"{}", {"Content-Type": "application/json"})
        if not path.startswith("/v2/"):
            return self.send(404)
        parts = path[4:].split("/")
        scenario = parts[0]
        try:
            kind_idx = max(i for i, p in enumerate(parts) if p in ("manifests", "blobs", "referrers"))
        except ValueError:
            return self.send(404)
        repo = "/".join(parts[:kind_idx])
        kind = parts[kind_idx]
        ref = "/".join(parts[kind_idx + 1:])
        n = bump(self.command + " " + path)
        auth = self.headers.get("Authorization")
        with lock:
            auth_seen.append(auth or "")

        if scenario in ("bearer", "bearercreds", "redirect", "bigtoken", "hugetoken") or scenario.startswith("echo"):
            want = "Bearer good-token" if scenario == "bearercreds" or scenario.startswith("echo") else None
            if scenario in BIG_TOKENS:
                want = "Bearer " + BIG_TOKENS[scenario]
            ok = auth in ("Bearer anon-token", "Bearer good-token") if want is None else auth == want
            if not ok:
                realm = "http://127.0.0.1:%d/token" % PORTS["main"]
                return self.error(401, "UNAUTHORIZED", "authentication required", {
                    "WWW-Authenticate": 'Bearer realm="%s",service="hostile",scope="repository:%s:pull"' % (realm, repo)}, head)
        if scenario == "basic":
            good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            if auth != good:
                return self.error(401, "UNAUTHORIZED", "authentication required",
                                  {"WWW-Authenticate": 'Basic realm="hostile"'}, head)
        if scenario == "badchallenge":
            return self.error(401, "UNAUTHORIZED", "x", {"WWW-Authenticate": 'Bearer realm="unterminated'}, head)
        if scenario == "straybytes":
            # a 404, then (once the client has its answer) bytes nobody asked for on the same
            # kept-alive connection: they must not become the answer to the next request
            self.error(404, "NAME_UNKNOWN", "repository name not known to registry", None, head)
            self.wfile.flush()
            time.sleep(0.05)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTALE")
            self.wfile.flush()
            return
        if scenario in ("slowheaders", "endless1xx", "endlesstrailers") and not head:
            return self.trickle_headers(scenario)
        if scenario == "fastbig" and kind == "blobs" and ref == sha(BIG):
            return self.paced(BIG)
        if scenario == "badrealm":
            return self.error(401, "UNAUTHORIZED", "authentication required", {
                "WWW-Authenticate": 'Bearer realm="http://127.0.0.1:99999/token",service="x"'}, head)
        if scenario == "badport" and kind == "blobs":
            return self.send(307, b"", {"Location": "http://127.0.0.1:99999/storage/" + ref}, head)
        if scenario == "badstatus":
            self.wfile.write(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
            self.close_connection = True
            return
        if scenario == "wronglabel" and kind == "manifests":
            wrong = sha(b"not the manifest")
            if ref.startswith("sha256:") and ref != sha(MANIFEST):
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", None, head)
            return self.send(200, MANIFEST, {"Content-Type": MT, "Docker-Content-Digest": wrong}, head)
        if scenario == "dupindex" and kind == "manifests" and not ref.startswith("sha256:"):
            return self.send(200, DUP_INDEX, {"Content-Type": "application/vnd.oci.image.index.v1+json",
                                              "Docker-Content-Digest": sha(DUP_INDEX)}, head)
        if scenario == "dupindex" and kind == "manifests" and ref == sha(DUP_INDEX):
            return self.send(200, DUP_INDEX, {"Content-Type": "application/vnd.oci.image.index.v1+json",
                                              "Docker-Content-Digest": sha(DUP_INDEX)}, head)
        if scenario == "ctlctype" and kind == "manifests":
            return self.send(200, MANIFEST, {"Content-Type": MT + "\x1b[31m\x07",
                                             "Docker-Content-Digest": sha(MANIFEST)}, head)
        if scenario.startswith("echo"):
            echo = "password s3cret, header %s, basic YWxpY2U6czNjcmV0" % auth
            if scenario == "echo403":
                return self.error(403, "DENIED", echo, None, head)
            if scenario == "echo400":
                return self.error(400, "DENIED " + auth, echo, None, head)
            if scenario == "echocut403":
                return self.error(403, "DENIED", "x" * 252 + "s3cret and more", None, head)
            if scenario == "echocut400":
                return self.error(400, "y" * 52 + auth, "see the code", None, head)
            if scenario == "echo500":
                return self.send(500, echo.encode(), {"Content-Type": "text/plain", "X-Echo": auth}, head)
            if scenario == "echo200" and kind == "manifests":
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": echo}],
                                   "detail": "s\\u0033cret"}).encode().replace(b"\\\\u", b"\\u")
                return self.send(200, body, {"Content-Type": "application/json"}, head)
            if scenario == "echoheader" and kind == "manifests":
                return self.send(200, MANIFEST, {"Content-Type": auth, "Docker-Content-Digest": sha(MANIFEST)}, head)
            if scenario == "echoreferrers" and kind == "referrers":
                listed = []
                if ref == sha(MANIFEST):
                    listed = [{"mediaType": MT, "digest": sha(MANIFEST2), "size": len(MANIFEST2),
                               "artifactType": "application/vnd.example.note",
                               "annotations": {"note": echo}}]
                body = json.dumps({"schemaVersion": 2, "manifests": listed,
                                   "mediaType": "application/vnd.oci.image.index.v1+json"}).encode()
                return self.send(200, body, {"Content-Type": "application/vnd.oci.image.index.v1+json"}, head)
            if scenario == "echoreferrers" and kind == "manifests" and ref == sha(MANIFEST2):
                return self.send(200, MANIFEST2, {"Content-Type": MT, "Docker-Content-Digest": ref}, head)
            if scenario == "echoblob" and kind == "blobs":
                body = (echo * 2000).encode()
                return self.send(200, body, {"Content-Type": "application/octet-stream"}, head)
        if scenario == "nameunknown":
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry", None, head)
        if scenario == "tagunknown" and kind == "manifests":
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", None, head)
        if scenario == "ratelimit" and n == 1:
            return self.error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "1"}, head)
        if scenario == "ratelimited":
            return self.error(429, "TOOMANYREQUESTS", "You have reached your pull rate limit.", {
                "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"}, head)
        if scenario == "fail500" and n <= 2:
            return self.send(500, b"oops", {"Content-Type": "text/plain"}, head)

        if kind == "manifests":
            body = HUGE if scenario == "huge" else MANIFEST2 if scenario == "endless" else MANIFEST
            if ref.startswith("sha256:") and ref != sha(body) and scenario != "wrongdigest":
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", None, head)
            h = {"Content-Type": MT}
            if scenario != "nodigest":
                h["Docker-Content-Digest"] = sha(b"not the manifest") if scenario == "wrongdigest" else sha(body)
            if scenario == "truncated" and not head:
                return self.truncate(body, h)
            if scenario == "slowbody" and not head:
                return self.slow_body(body, h)
            return self.send(200, body, h, head)

        # blobs
        blob = BLOBS.get(ref)
        if blob is None:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown", None, head)
        if scenario == "redirect":
            loc = "http://127.0.0.1:%d/storage/%s" % (PORTS["storage"], ref)
            return self.send(307, b"", {"Location": loc}, head)
        if scenario == "wrongdigest":
            blob = blob[:-1] + bytes([blob[-1] ^ 1])
        h = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": ref}
        if head:
            return self.send(200, b"", {**h, "Content-Length": str(len(blob))}, True)
        if scenario == "truncated":
            return self.truncate(blob, h)
        if scenario == "slowbody":
            return self.slow_body(blob[:4000], h)
        if scenario == "slowblob":
            return self.slow_body(blob, h)
        if scenario == "endless" and ref == sha(LAYER_TGZ):
            return self.endless(blob, h)
        if scenario in ("reset", "resetnorange", "resetrange0", "resetgap") and n == 1:
            return self.reset_midway(blob, h)
        rng = self.headers.get("Range")
        if rng and scenario in ("resetrange0", "resetgap"):
            start = 0 if scenario == "resetrange0" else int(rng[6:-1]) + 1000
            part = blob[start:]
            h["Content-Range"] = "bytes %d-%d/%d" % (start, len(blob) - 1, len(blob))
            return self.send(206, part, h)
        if rng and scenario != "resetnorange" and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            part = blob[start:]
            h["Content-Range"] = "bytes %d-%d/%d" % (start, len(blob) - 1, len(blob))
            return self.send(206, part, h)
        return self.send(200, blob, h)

    def slow_body(self, body, h):
        """All headers at once, then 2 bytes a second (until the client gives up)."""
        self.send_response(200)
        for k, v in h.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for i in range(0, min(len(body), 600), 2):
            self.wfile.write(body[i:i + 2])
            self.wfile.flush()
            time.sleep(1)
        self.close_connection = True

    def endless(self, body, h):
        """The blob, then a gzip member of zeros for as long as the client reads (1 GiB at most
        before compression)."""
        import zlib
        self.send_response(200)
        for k, v in h.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        z = zlib.compressobj(6, zlib.DEFLATED, 31)
        zeros = b"\0" * (1 << 20)
        pieces = [body]
        for _ in range(1024):
            pieces.append(z.compress(zeros) + z.flush(zlib.Z_SYNC_FLUSH))
            for data in pieces:
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            pieces = []
        self.close_connection = True

    def trickle_headers(self, scenario):
        """Answers that never finish their headers, each line well within a stall timeout."""
        w = self.wfile
        if scenario == "endless1xx":
            for _ in range(600):
                w.write(b"HTTP/1.1 102 Processing\r\n\r\n")
                w.flush()
                time.sleep(0.5)
        elif scenario == "slowheaders":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + MT.encode() + b"\r\n")
            for i in range(300):
                w.write(b"X-Slow-%d: yes\r\n" % i)
                w.flush()
                time.sleep(1)
        else:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + MT.encode() +
                    b"\r\nTransfer-Encoding: chunked\r\nTrailer: X-Never\r\n\r\n")
            w.write(b"%x\r\n%s\r\n0\r\n" % (len(MANIFEST), MANIFEST))
            for i in range(300):
                w.write(b"X-Trailer-%d: yes\r\n" % i)
                w.flush()
                time.sleep(1)
        self.close_connection = True

    def paced(self, body):
        """The whole body, 256 KiB every 1/8 s."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for i in range(0, len(body), 256 * 1024):
            self.wfile.write(body[i:i + 256 * 1024])
            self.wfile.flush()
            time.sleep(0.125)

    def truncate(self, body, h):
        self.send_response(200)
        for k, v in h.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def reset_midway(self, body, h):
        self.send_response(200)
        for k, v in h.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        # SO_LINGER 0: close() sends a RST instead of a FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def read_request_body(self):
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
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def upload(self):
        """POST/PATCH/PUT under /v2/<repo>/blobs/uploads/ (the 'upload' scenario)."""
        path, _, query = self.path.partition("?")
        repo, _, rest = path[4:].partition("/blobs/uploads/")
        data = self.read_request_body()
        n = bump(self.command + " " + path)
        if self.headers.get("Authorization") != "Bearer push-token":
            realm = "http://127.0.0.1:%d/token" % PORTS["main"]
            return self.error(401, "UNAUTHORIZED", "authentication required", {
                "WWW-Authenticate": 'Bearer realm="%s",service="hostile",scope="repository:%s:pull,push"' % (realm, repo)})
        if self.command == "POST" and rest == "":
            uuid = "u%d" % bump("uploads")
            with lock:
                UPLOADS[uuid] = b""
            return self.send(202, b"", {"Location": "/v2/%s/blobs/uploads/%s?_state=s%s" % (repo, uuid, uuid),
                                        "Docker-Upload-UUID": uuid, "OCI-Chunk-Min-Length": "1024",
                                        "Range": "0-0"})
        uuid = rest
        if uuid not in UPLOADS:
            return self.error(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
        if self.command == "PUT" and "fail" in repo and n == 1:
            return self.send(500, b"oops", {"Content-Type": "text/plain"})
        with lock:
            UPLOADS[uuid] += data
            have = UPLOADS[uuid]
        if self.command == "PATCH":
            return self.send(202, b"", {"Location": "/v2/%s/blobs/uploads/%s?_state=t" % (repo, uuid),
                                        "Docker-Upload-UUID": uuid, "Range": "0-%d" % (len(have) - 1)})
        if self.command == "PUT":
            digest = urllib.parse.parse_qs(query).get("digest", [""])[0]
            if digest != sha(have):
                return self.error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
            with lock:
                BLOBS[digest] = have
                del UPLOADS[uuid]
            return self.send(201, b"", {"Location": "/v2/%s/blobs/%s" % (repo, digest),
                                        "Docker-Content-Digest": digest})
        return self.send(405)

    def do_PATCH(self):
        if "/blobs/uploads/" in self.path:
            return self.upload()
        return self.send(405)

    def do_PUT(self):
        if "/blobs/uploads/" in self.path:
            return self.upload()
        return self.send(405)

    def do_POST(self):
        if "/blobs/uploads/" in self.path:
            return self.upload()
        # OAuth2 refresh-token grant (docker identity tokens)
        if self.path.split("?")[0] != "/token":
            return self.send(404)
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        bump("token-post")
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != ["refresh-me"]:
            return self.send(401, b'{"error":"invalid_grant"}', {"Content-Type": "application/json"})
        body = json.dumps({"access_token": "good-token", "expires_in": 300}).encode()
        return self.send(200, body, {"Content-Type": "application/json"})

    def token(self):
        auth = self.headers.get("Authorization")
        bump("token")
        if auth:
            if auth != "Basic " + base64.b64encode(b"alice:s3cret").decode():
                return self.send(401, b'{"details":"bad credentials"}', {"Content-Type": "application/json"})
            tok = "good-token"
        else:
            tok = "anon-token"
            scope = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("scope", [""])[0]
            if scope.endswith(":pull,push"):
                tok = "push-token"
            for name, big in BIG_TOKENS.items():
                if scope.startswith("repository:%s/" % name):
                    tok = big
        body = json.dumps({"token": tok, "expires_in": 300}).encode()
        return self.send(200, body, {"Content-Type": "application/json"})


class StorageHandler(Handler):
    def handle_req(self, head):
        auth = self.headers.get("Authorization")
        with lock:
            storage_auth_seen.append(auth or "")
        if auth:
            return self.send(400, b"credentials leaked to another host")
        ref = self.path.split("?")[0].rsplit("/", 1)[-1]
        blob = BLOBS.get(ref)
        if blob is None:
            return self.send(404)
        return self.send(200, blob, {"Content-Type": "application/octet-stream"}, head)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up mid-response is what these tests are about


def main():
    main_srv = Server(("127.0.0.1", 0), Handler)
    storage = Server(("127.0.0.1", 0), StorageHandler)
    PORTS["main"] = main_srv.server_address[1]
    PORTS["storage"] = storage.server_address[1]
    for s in (main_srv, storage):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("%d %d" % (PORTS["main"], PORTS["storage"]), flush=True)
    # Stay up until our parent closes stdin (or kills us): no orphaned servers.
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
