#!/usr/bin/env python3
# containerd as an oracle: for every hand-built test index and every node platform, xarch
# inspect --platform P --runtime containerd-1.6 must pick the manifest that Debian's containerd
# 1.6 really unpacks (or fail where it fails).
#
# How (see docs/runtimes.md): a private containerd (own root, state, socket, ttrpc address and
# config; no systemd, no CRI plugin) and a loopback docker-registry. Each index entry is an
# image with one distinct layer, so the chain ID that `ctr images pull --print-chainid` prints
# names the entry containerd chose. In 1.6 `ctr images pull --platform P` fetches only exact
# matches; the fallback rules show in what it unpacks, so everything is fetched first with
# `ctr content fetch --all-platforms`.
#
# Skips (TAP) only when containerd, ctr or docker-registry are missing or containerd cannot
# start here.
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

XARCH = os.environ.get("XARCH") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "xarch")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

n_tests = 0
n_failed = 0


def ok(cond, name, diag=None):
    global n_tests, n_failed
    n_tests += 1
    if cond:
        print(f"ok {n_tests} - {name}")
    else:
        n_failed += 1
        print(f"not ok {n_tests} - {name}")
        for line in (diag or "").splitlines():
            print(f"#   {line}")
    sys.stdout.flush()


def skip_all(reason):
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, tmp):
        self.port = free_port()
        storage = os.path.join(tmp, "registry")
        cfg = os.path.join(tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n")
        self.log = open(os.path.join(tmp, "registry.log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.host = f"127.0.0.1:{self.port}"
        for _ in range(400):
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=5)
                return
            except Exception:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def request(self, method, path, data=None, headers=None):
        req = urllib.request.Request(f"http://{self.host}{path}", data=data, method=method,
                                     headers=headers or {})
        return urllib.request.urlopen(req, timeout=30)

    def blob(self, repo, data):
        digest = sha(data)
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        loc = r.headers["Location"]
        if loc.startswith("http"):
            loc = loc.split(self.host, 1)[1]
        sep = "&" if "?" in loc else "?"
        self.request("PUT", f"{loc}{sep}digest={digest}", data,
                     {"Content-Type": "application/octet-stream"})
        return digest

    def manifest(self, repo, ref, data, media_type):
        self.request("PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type})
        return sha(data)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class Containerd:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "containerd")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "c.sock")
        cfg = os.path.join(self.dir, "config.toml")
        disabled = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt",
                    "io.containerd.tracing.processor.v1.otlp"]
        with open(cfg, "w") as f:
            f.write("version = 2\n"
                    f"root = \"{self.dir}/root\"\nstate = \"{self.dir}/state\"\n"
                    f"disabled_plugins = {json.dumps(disabled)}\n"
                    f"[grpc]\n  address = \"{self.sock}\"\n"
                    f"[ttrpc]\n  address = \"{self.sock}.ttrpc\"\n"
                    "[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(400):
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and self.ctr("version").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("containerd did not start: " + open(self.log.name).read()[-300:])

    def ctr(self, *args):
        return subprocess.run(["ctr", "--address", self.sock] + list(args), capture_output=True,
                              text=True, timeout=120)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def layer_tar(label):
    """A one-file uncompressed layer whose bytes are unique to the entry."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = f"entry {label}\n".encode()
        info = tarfile.TarInfo("entry")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Builder:
    """Builds entries in one repository; remembers which chain ID and digest name which label."""

    def __init__(self, reg, repo):
        self.reg, self.repo = reg, repo
        self.by_chain = {}
        self.by_digest = {}

    def image(self, label, config_platform, docker=False, artifact_type=None):
        tar = layer_tar(f"{self.repo}/{label}")
        diff_id = sha(tar)
        config = dict(config_platform)
        config["rootfs"] = {"type": "layers", "diff_ids": [diff_id]}
        config["config"] = {}
        cbytes = json.dumps(config, sort_keys=True).encode()
        cdig = self.reg.blob(self.repo, cbytes)
        ldig = self.reg.blob(self.repo, tar)
        mt = DOCKER_MANIFEST if docker else OCI_MANIFEST
        m = {"schemaVersion": 2, "mediaType": mt,
             "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": cdig,
                        "size": len(cbytes)},
             "layers": [{"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": ldig,
                         "size": len(tar)}]}
        if artifact_type:
            m["artifactType"] = artifact_type
        mbytes = json.dumps(m, sort_keys=True).encode()
        mdig = self.reg.manifest(self.repo, mdig_tag(label), mbytes, mt)
        self.by_chain[diff_id] = label
        self.by_digest[mdig] = label
        return {"mediaType": mt, "digest": mdig, "size": len(mbytes)}

    def index(self, entries, tag, docker=False):
        mt = DOCKER_LIST if docker else OCI_INDEX
        doc = {"schemaVersion": 2, "mediaType": mt, "manifests": entries}
        data = json.dumps(doc).encode()
        return {"mediaType": mt, "digest": self.reg.manifest(self.repo, tag, data, mt),
                "size": len(data)}


def mdig_tag(label):
    return "m-" + "".join(c if c.isalnum() else "-" for c in label)[:100]


def entry(desc, platform=None, **extra):
    d = dict(desc)
    if platform is not None:
        d["platform"] = platform
    d.update(extra)
    return d


def P(os_, arch, variant=None, **more):
    p = {"os": os_, "architecture": arch}
    if variant is not None:
        p["variant"] = variant
    p.update(more)
    return p


NODES_ALL = ["linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/386", "linux/arm64",
             "linux/arm64/v8", "linux/arm64/v9", "linux/arm64/v10", "linux/arm/v8",
             "linux/arm/v7", "linux/arm/v6", "linux/arm/v5", "linux/s390x", "linux/riscv64"]


def build_cases(reg):
    """Each case: (repo, tag, nodes). Every class of issue 8 §1 is here."""
    cases = []

    def case(name, make, nodes=NODES_ALL, docker=False):
        b = Builder(reg, name)
        entries = make(b)
        b.index(entries, "latest", docker=docker)
        cases.append((b, nodes))

    # plain multi-arch, OCI and Docker list
    case("basic", lambda b: [
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64")),
        entry(b.image("arm64", P("linux", "arm64", "v8")), P("linux", "arm64", "v8")),
        entry(b.image("armv7", P("linux", "arm", "v7")), P("linux", "arm", "v7"))])
    case("dlist", lambda b: [
        entry(b.image("amd64", P("linux", "amd64"), docker=True), P("linux", "amd64")),
        entry(b.image("s390x", P("linux", "s390x"), docker=True), P("linux", "s390x"))],
        docker=True)
    # arm fallbacks and arm64 -> arm
    case("armfall", lambda b: [
        entry(b.image("armv5", P("linux", "arm", "v5")), P("linux", "arm", "v5")),
        entry(b.image("armv6", P("linux", "arm", "v6")), P("linux", "arm", "v6"))])
    case("armonly7", lambda b: [
        entry(b.image("armv7", P("linux", "arm", "v7")), P("linux", "arm", "v7")),
        entry(b.image("armhf", P("linux", "armhf")), P("linux", "armhf"))])
    case("armbare", lambda b: [
        entry(b.image("arm", P("linux", "arm")), P("linux", "arm")),
        entry(b.image("arm8", P("linux", "arm", "8")), P("linux", "arm", "8"))])
    # amd64 levels and 386
    case("levels", lambda b: [
        entry(b.image("v3", P("linux", "amd64", "v3")), P("linux", "amd64", "v3")),
        entry(b.image("v2", P("linux", "amd64", "v2")), P("linux", "amd64", "v2")),
        entry(b.image("386", P("linux", "386")), P("linux", "386"))])
    case("levels1", lambda b: [
        entry(b.image("v1", P("linux", "amd64", "v1")), P("linux", "amd64", "v1")),
        entry(b.image("x86_64", P("linux", "x86_64")), P("linux", "x86_64")),
        entry(b.image("i386", P("linux", "i386")), P("linux", "i386"))])
    # arm64 variants, with dots and spellings
    case("arm64var", lambda b: [
        entry(b.image("v8.2", P("linux", "arm64", "v8.2")), P("linux", "arm64", "v8.2")),
        entry(b.image("v8.0", P("linux", "arm64", "v8.0")), P("linux", "arm64", "v8.0")),
        entry(b.image("aarch64", P("linux", "aarch64")), P("linux", "aarch64")),
        entry(b.image("v9", P("linux", "arm64", "v9")), P("linux", "arm64", "v9"))])
    case("arm64dot", lambda b: [
        entry(b.image("v8.2", P("linux", "arm64", "v8.2")), P("linux", "arm64", "v8.2")),
        entry(b.image("v9.0", P("linux", "arm64", "v9.0")), P("linux", "arm64", "v9.0")),
        entry(b.image("armv8", P("linux", "arm", "v8")), P("linux", "arm", "v8"))])
    # odd entries: never fail the index
    case("oddos", lambda b: [
        entry(b.image("noos", P("linux", "amd64")), {"architecture": "amd64"}),
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64")),
        entry(b.image("arm64", P("linux", "arm64")), P("linux", "arm64"))])
    case("oddnull", lambda b: [
        entry(b.image("nullos", P("linux", "arm64")), {"os": None, "architecture": "arm64"}),
        entry(b.image("noarch", P("linux", "amd64")), {"os": "linux"}),
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64"))])
    case("oddlong", lambda b: [
        entry(b.image("long", P("linux", "amd64")),
              P("linux", "amd64", "v" + "3" * 40)),
        entry(b.image("longarch", P("linux", "amd64")), P("linux", "a" * 40)),
        entry(b.image("ctl", P("linux", "amd64")), P("linux", "amd64", "v2\u001b[2J")),
        entry(b.image("empty", P("linux", "amd64")), {}),
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64")),
        entry(b.image("s390x", P("linux", "s390x")), P("linux", "s390x"))])
    # entries without a platform: only the first is considered, by its config
    case("bare", lambda b: [
        entry(b.image("bare-arm64", P("linux", "arm64"))),
        entry(b.image("bare-amd64", P("linux", "amd64"))),
        entry(b.image("s390x", P("linux", "s390x")), P("linux", "s390x"))])
    case("barevariant", lambda b: [
        entry(b.image("bare-armv6", P("linux", "arm", "v6"))),
        entry(b.image("riscv", P("linux", "riscv64")), P("linux", "riscv64"))])
    case("barelast", lambda b: [
        entry(b.image("bare-amd64", P("linux", "amd64"))),
        entry(b.image("386", P("linux", "386")), P("linux", "386")),
        entry(b.image("armv5", P("linux", "arm", "v5")), P("linux", "arm", "v5"))])
    # artifacts, signatures and attestations are not skipped
    case("artifact", lambda b: [
        entry(b.image("sig", P("linux", "amd64"), artifact_type="application/vnd.dev.sig"),
              P("linux", "amd64"), artifactType="application/vnd.dev.sig"),
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64")),
        entry(b.image("arm64", P("linux", "arm64")), P("linux", "arm64"))])
    case("reftype", lambda b: [
        entry(b.image("arm64", P("linux", "arm64")), P("linux", "arm64")),
        entry(b.image("signature", P("linux", "arm64")), P("linux", "arm64"),
              annotations={"vnd.docker.reference.type": "signature"}),
        entry(b.image("att", P("linux", "amd64")), P("linux", "amd64"),
              annotations={"vnd.docker.reference.type": "attestation-manifest"}),
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64")),
        entry(b.image("unknown", P("unknown", "unknown")), P("unknown", "unknown"),
              annotations={"vnd.docker.reference.type": "attestation-manifest"})])
    # os.features: containerd 1.6 ignores them
    case("features", lambda b: [
        entry(b.image("feat", P("linux", "amd64")), P("linux", "amd64", **{"os.features": ["x"]})),
        entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64"))])

    # nested indexes: descended into without a platform; committed to with a matching one
    def nested(b):
        inner = b.index([
            entry(b.image("in-arm64", P("linux", "arm64")), P("linux", "arm64")),
            entry(b.image("in-amd64", P("linux", "amd64")), P("linux", "amd64"))], "inner")
        return [entry(inner), entry(b.image("s390x", P("linux", "s390x")), P("linux", "s390x"))]
    case("nested", nested)

    def committed(b):
        inner = b.index([
            entry(b.image("in-arm64", P("linux", "arm64")), P("linux", "arm64"))], "inner")
        return [entry(inner, P("linux", "amd64")),
                entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64")),
                entry(b.image("arm", P("linux", "arm", "v7")), P("linux", "arm", "v7"))]
    case("committed", committed)

    def deep(b):
        inner = b.index([
            entry(b.image("deep-arm", P("linux", "arm", "v6")), P("linux", "arm", "v6"))], "inner")
        mid = b.index([entry(inner),
                       entry(b.image("mid-riscv", P("linux", "riscv64")), P("linux", "riscv64"))],
                      "mid")
        return [entry(mid, P("linux", "arm", "v7")),
                entry(b.image("amd64", P("linux", "amd64")), P("linux", "amd64"))]
    case("deep", deep)
    return cases


def xarch_pick(ref, node):
    r = subprocess.run([XARCH, "inspect", "--json", "--runtime", "containerd-1.6", "--platform",
                        node, ref], capture_output=True, text=True, timeout=120)
    try:
        doc = json.loads(r.stdout)[0]
    except Exception:
        return None, f"rc {r.returncode}, stdout {r.stdout[:300]!r}, stderr {r.stderr[:300]!r}"
    sel = doc.get("selection") or {}
    if not sel.get("matched"):
        return "FAIL", sel.get("error", "")
    return sel.get("digest"), json.dumps(sel)


def ctr_pick(c, ref, node):
    r = c.ctr("images", "pull", "--plain-http", "--snapshotter", "native", "--platform", node,
              "--print-chainid", ref)
    for line in r.stdout.splitlines():
        if "chain ID:" in line:
            return line.split("chain ID:")[1].strip(), r.stdout
    return "FAIL", (r.stdout[-300:] + r.stderr[-300:])


def main():
    for tool in ("containerd", "ctr", "docker-registry"):
        if not shutil.which(tool):
            skip_all(f"{tool} is not installed (scripts/install-deps --test)")
    if not os.access(XARCH, os.X_OK):
        skip_all(f"no xarch binary at {XARCH}")
    tmp = tempfile.mkdtemp(prefix="xarch-oracle-")
    reg = c = None
    try:
        try:
            c = Containerd(tmp)
        except Exception as e:
            skip_all(f"containerd cannot run here: {e}")
        reg = Registry(tmp)
        cases = build_cases(reg)
        for b, nodes in cases:
            ref = f"{reg.host}/{b.repo}:latest"
            r = c.ctr("content", "fetch", "--plain-http", "--all-platforms", ref)
            ok(r.returncode == 0, f"{b.repo}: ctr fetches every entry",
               r.stdout[-300:] + r.stderr[-300:])
            for node in nodes:
                want, ctr_out = ctr_pick(c, ref, node)
                got, x_out = xarch_pick(ref, node)
                want_label = "FAIL" if want == "FAIL" else b.by_chain.get(want, want)
                got_label = "FAIL" if got == "FAIL" else b.by_digest.get(got, got)
                ok(want_label == got_label,
                   f"{b.repo} on {node}: containerd 1.6 pulls {want_label}, xarch says {got_label}",
                   f"ctr: {ctr_out}\nxarch: {x_out}")
    finally:
        if c:
            c.stop()
        if reg:
            reg.stop()
        subprocess.run(["rm", "-rf", tmp])
    print(f"1..{n_tests}")
    sys.exit(1 if n_failed else 0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    main()
