#!/usr/bin/env python3
"""Writes small OCI image layouts by hand, for what buildah cannot make without running
anything: whiteouts, opaque directories, symlink chains, hard links, mixed layer compression
(gzip with two members, zstd, none) and an index whose entry contradicts its config.

    oci-layout.py OUTDIR SPEC.json

SPEC: {"images": [{"index_platform": "linux/arm64", "config_platform": "linux/amd64",
        "entrypoint": [...], "cmd": [...], "env": [...],
        "config_raw": "text written as the config blob instead (a malformed config)",
        "layers": [{"compression": "gzip2|gzip|zstd|none",
                    "media_type": "the descriptor's mediaType instead of the compression's",
                    "entries": [["file", PATH, SRCFILE or "text:...", MODE],
                                ["dir", PATH], ["symlink", PATH, TARGET],
                                ["hardlink", PATH, TARGET], ["whiteout", PATH],
                                ["opaque", DIR]]}],
        "diff_ids": "reverse|compressed|short" (a bad config: the diff_ids reversed, the first
                    one the compressed blob's digest, or the last one missing)}]}
Writes an OCI layout whose index.json lists one entry per image (tag "latest")."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def blob(out, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            kind, path = e[0], e[1]
            if kind == "whiteout":
                d, b = os.path.split(path)
                path = os.path.join(d, ".wh." + b)
                kind = "empty"
            elif kind == "opaque":
                path = os.path.join(path, ".wh..wh..opq")
                kind = "empty"
            ti = tarfile.TarInfo(path.lstrip("/"))
            ti.mtime = 0
            if kind == "file":
                src = e[2]
                data = src[5:].encode() if src.startswith("text:") else open(src, "rb").read()
                ti.size = len(data)
                ti.mode = e[3] if len(e) > 3 else 0o755
                tar.addfile(ti, io.BytesIO(data))
            elif kind == "empty":
                ti.mode = 0o644
                tar.addfile(ti, io.BytesIO(b""))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tar.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e[2]
                ti.mode = 0o777
                tar.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e[2].lstrip("/")
                ti.mode = 0o755
                tar.addfile(ti)
            else:
                raise SystemExit("unknown entry kind " + kind)
    return buf.getvalue()


def compress(data, how):
    if how == "none":
        return data, "application/vnd.oci.image.layer.v1.tar"
    if how == "gzip":
        return gzip.compress(data, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if how == "gzip2":  # two gzip members, as pigz or concatenated streams produce
        half = len(data) // 2
        return (gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0),
                "application/vnd.oci.image.layer.v1.tar+gzip")
    if how == "zstd":
        z = subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True)
        return z.stdout, "application/vnd.oci.image.layer.v1.tar+zstd"
    raise SystemExit("unknown compression " + how)


def split_platform(s):
    parts = s.split("/")
    p = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        p["variant"] = parts[2]
    return p


def main():
    out, spec_file = sys.argv[1], sys.argv[2]
    spec = json.load(open(spec_file))
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    manifests = []
    for img in spec["images"]:
        layers, diff_ids = [], []
        for layer in img["layers"]:
            tar = layer_tar(layer["entries"])
            diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
            data, mt = compress(tar, layer.get("compression", "gzip"))
            layers.append(blob(out, data, layer.get("media_type", mt)))
        bad = img.get("diff_ids")
        if bad == "reverse":
            diff_ids.reverse()
        elif bad == "compressed":
            diff_ids[0] = layers[0]["digest"]
        elif bad == "short":
            diff_ids.pop()
        elif bad is not None:
            raise SystemExit("unknown diff_ids " + bad)
        cp = split_platform(img.get("config_platform", img.get("index_platform", "linux/amd64")))
        config = dict(cp)
        config["config"] = {"Env": img.get("env", ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])}
        for k, key in (("entrypoint", "Entrypoint"), ("cmd", "Cmd")):
            if k in img:
                config["config"][key] = img[k]
        config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        raw = img["config_raw"].encode() if "config_raw" in img else None
        cdesc = blob(out, raw if raw is not None else json.dumps(config, sort_keys=True).encode(),
                     "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cdesc, "layers": layers}
        mdesc = blob(out, json.dumps(manifest, sort_keys=True).encode(),
                     "application/vnd.oci.image.manifest.v1+json")
        if "index_platform" in img:
            mdesc["platform"] = split_platform(img["index_platform"])
        manifests.append(mdesc)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": manifests}
    if spec.get("nested", True):
        idesc = blob(out, json.dumps(index, sort_keys=True).encode(),
                     "application/vnd.oci.image.index.v1+json")
        idesc["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
        top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [idesc]}
    else:
        manifests[0]["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
        top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": manifests[:1]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(top, f)


main()
