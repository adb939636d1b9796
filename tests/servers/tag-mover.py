#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A loopback HTTP proxy in front of a real registry that moves a tag while a client edits it
(python3 standard library only), for `xarch index`'s concurrent-edit test.

    tag-mover.py UPSTREAM REPO TAG FILE MEDIA_TYPE [FILE2]

Listens on 127.0.0.1 (a free port), prints "PORT" on stdout and forwards every request to
UPSTREAM (host:port, plain HTTP), keeping the client's Host header so the registry's Location
headers point back at the proxy. The first HEAD or GET of /v2/REPO/manifests/TAG (by tag, not by
digest) is forwarded, and then, before its answer goes back to the client, the proxy itself PUTs
FILE (an index, as MEDIA_TYPE) to that tag on UPSTREAM: the client read the tag, and another
writer moved it right after. Later requests are only forwarded. With FILE2, every read of the
tag moves it, alternately to FILE2 and FILE: a tag that never stops changing.

GET /__log returns the JSON list of what happened: ["read", method, digest it answered],
["moved", digest now tagged], ["move-failed", status].
"""
import hashlib
import http.client
import http.server
import json
import socketserver
import sys
import threading

UPSTREAM, REPO, TAG, FILE, MEDIA_TYPE = sys.argv[1:6]
BODIES = [open(f, "rb").read() for f in [FILE] + sys.argv[6:7]]
EVERY = len(BODIES) > 1
TAG_PATH = f"/v2/{REPO}/manifests/{TAG}"
lock = threading.Lock()
STATE = {"moves": 0}
LOG = []
BODY_MAX = 256 << 20  # what a test pushes through here is far smaller
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-connection", "content-length"}


def upstream(method, path, headers, body):
    conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None or method in ("PUT", "POST", "PATCH"):
            conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or None)
        r = conn.getresponse()
        data = r.read(BODY_MAX + 1) if method != "HEAD" else b""
        return r.status, r.getheaders(), data
    finally:
        conn.close()


def move_tag(n):
    body = BODIES[n % len(BODIES)]
    status, _, _ = upstream("PUT", TAG_PATH, [("Host", UPSTREAM), ("Content-Type", MEDIA_TYPE)],
                            body)
    with lock:
        if status == 201:
            LOG.append(["moved", "sha256:" + hashlib.sha256(body).hexdigest()])
        else:
            LOG.append(["move-failed", status])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + size > BODY_MAX:
                    raise ValueError("body too large")
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        if n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else None

    def forward(self):
        if self.path == "/__log":
            with lock:
                data = json.dumps(LOG).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        body = self.read_body()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
        status, rheaders, data = upstream(self.command, self.path, headers, body)
        trigger = None
        if self.command in ("GET", "HEAD") and self.path.split("?")[0] == TAG_PATH:
            with lock:
                if EVERY or STATE["moves"] == 0:
                    STATE["moves"] += 1
                    trigger = STATE["moves"]
                LOG.append(["read", self.command,
                            dict((k.lower(), v) for k, v in rheaders).get(
                                "docker-content-digest", "")])
        if trigger is not None:
            move_tag(trigger)
        self.send_response(status)
        length = None
        for k, v in rheaders:
            if k.lower() == "content-length":
                length = v
            elif k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", length if self.command == "HEAD" and length
                         else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
