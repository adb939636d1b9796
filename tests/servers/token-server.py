#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A docker-registry token service for tests (python3 standard library + the openssl CLI).

    token-server.py KEY.pem CERT.pem ISSUER SERVICE USER PASSWORD

Listens on 127.0.0.1:<free port>, prints the port, serves GET /token?service=&scope=... as in
distribution's token spec: RS256 JWTs (signed by `openssl dgst -sha256 -sign KEY`) whose header
carries the certificate in "x5c", so a registry configured with `auth: token:` and
`rootcertbundle: CERT` accepts them. USER:PASSWORD (HTTP basic) gets pull+push; anonymous
requests get pull only; wrong credentials get 401. Exits when stdin closes.
"""
import base64
import http.server
import json
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse

KEY, CERT, ISSUER, SERVICE, USER, PASSWORD = sys.argv[1:7]


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der_b64():
    pem = open(CERT).read()
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return body


X5C = cert_der_b64()


def sign(data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=data,
                       capture_output=True, check=True)
    return p.stdout


def make_token(subject, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300,
              "nbf": now - 10, "iat": now, "jti": "%d-%f" % (now, time.time()),
              "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    return signing_input.decode() + "." + b64url(sign(signing_input))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/token":
            return self.reply(404, {})
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization")
        subject, allowed = "", ["pull"]
        if auth:
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if auth != want:
                return self.reply(401, {"details": "invalid credentials"})
            subject, allowed = USER, ["pull", "push"]
        access = []
        for scope in q.get("scope", []):
            for s in scope.split(" "):
                parts = s.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
                granted = [a for a in actions if a in allowed]
                access.append({"type": "repository", "name": name, "actions": granted})
        tok = make_token(subject, access)
        self.reply(200, {"token": tok, "access_token": tok, "expires_in": 300})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


srv = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print(srv.server_address[1], flush=True)
try:
    sys.stdin.read()
except KeyboardInterrupt:
    pass
