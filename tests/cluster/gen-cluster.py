#!/usr/bin/env python3
"""Generates a Kubernetes cluster as `kubectl get nodes,pods,replicasets,deployments,statefulsets,
daemonsets,jobs,cronjobs -A -o json` prints it (one v1 List), for `xarch audit` tests and
benchmarks. Python 3 standard library only; deterministic for a given --seed.

  gen-cluster.py --nodes 12 --pods 200 --image REF [--image REF ...] [--resolve] > cluster.json
  gen-cluster.py --pods 10000 --image-pattern 127.0.0.1:5000/bench/img-{} --image-count 1000

Nodes: amd64, arm64 and arm (v7) pools with containerd 1.6/1.7/2.0/2.1, CRI-O and Docker
runtimes, an arm64 pool tainted kubernetes.io/arch=arm64:NoSchedule, a cordoned node, a
control-plane node with its NoSchedule taint. Workloads of every controller kind (Deployment ->
ReplicaSet -> Pod, StatefulSet, DaemonSet, CronJob -> Job -> Pod, Job, bare Pod) with
nodeSelectors, required node affinities (In, NotIn, Exists, DoesNotExist, Gt, Lt; several terms),
tolerations (Exists with an empty key, Equal, effect-less), init containers. With
--crash-every N, every Nth workload's pods on an arm64 node crash-loop with real messages
(exec format error, Go lfstack under QEMU) or fail to pull ("no match for platform in manifest").
--resolve asks the registry (plain HTTP on loopback) for each image's digest and fills
containerStatuses[].imageID with it, as containerd reports it.
"""
import argparse
import json
import random
import sys
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])

CREATED = "2026-01-01T00:00:00Z"

EXEC_FORMAT = ("exec /hello: exec format error")
LFSTACK = ("runtime: lfstack.push invalid packing: node=0xffffa45f1c00 cnt=0x1 "
           "packed=0xffffa45f1c000001 -> node=0xffffffffa45f1c00\n"
           "fatal error: lfstack.push\n\nruntime stack:\nruntime.throw({0x4b7a02?, 0x0?})")
NO_MATCH = ('failed to pull and unpack image "{image}": no match for platform in manifest: '
            "not found")
START_ERROR = ('failed to create containerd task: failed to create shim task: OCI runtime '
               'create failed: runc create failed: unable to start container process: exec: '
               '"/hello": exec format error: unknown')


def digest_of(ref):
    """repository@digest for a loopback registry reference, by HEAD."""
    host, rest = ref.split("/", 1)
    name, _, tag = rest.rpartition(":") if ":" in rest.split("/")[-1] else (rest, "", "latest")
    req = urllib.request.Request(f"http://{host}/v2/{name}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=30) as r:
        return f"{host}/{name}@{r.headers['Docker-Content-Digest']}"


def meta(name, ns=None, labels=None, owner=None, uid=None):
    m = {"name": name, "uid": uid or f"uid-{name}-{ns or ''}",
         "creationTimestamp": CREATED, "labels": labels or {}}
    if ns is not None:
        m["namespace"] = ns
    if owner:
        kind, oname, api = owner
        m["ownerReferences"] = [{"apiVersion": api, "kind": kind, "name": oname,
                                 "uid": f"uid-{oname}-{ns or ''}", "controller": True,
                                 "blockOwnerDeletion": True}]
    return m


def make_nodes(n, rng):
    pools = [
        ("amd64", "", "containerd://1.7.22", []),
        ("arm64", "", "containerd://2.0.4", []),
        ("amd64", "", "cri-o://1.30.1", []),
        ("arm64", "", "containerd://1.6.33", [{"key": "kubernetes.io/arch", "value": "arm64",
                                               "effect": "NoSchedule"}]),
        ("arm", "v7", "docker://24.0.7", [{"key": "arch", "value": "arm", "effect": "NoExecute"}]),
        ("amd64", "", "containerd://2.1.1", []),
    ]
    nodes = []
    for i in range(n):
        arch, variant, runtime, taints = pools[i % len(pools)]
        name = f"node-{arch}-{i:04d}"
        labels = {"kubernetes.io/arch": arch, "kubernetes.io/os": "linux",
                  "kubernetes.io/hostname": name, "beta.kubernetes.io/arch": arch,
                  "pool": f"pool-{i % len(pools)}", "disk": "ssd" if i % 2 else "hdd",
                  "cpu-count": str(2 ** (i % 5 + 1)),
                  "topology.kubernetes.io/zone": f"zone-{i % 3}"}
        spec = {"taints": list(taints)}
        if i == 0:
            labels["node-role.kubernetes.io/control-plane"] = ""
            spec["taints"].append({"key": "node-role.kubernetes.io/control-plane",
                                   "effect": "NoSchedule"})
        if i == n - 1 and n > 6:
            spec["unschedulable"] = True
            spec["taints"].append({"key": "node.kubernetes.io/unschedulable",
                                   "effect": "NoSchedule", "timeAdded": CREATED})
        if not spec["taints"]:
            del spec["taints"]
        nodes.append({
            "apiVersion": "v1", "kind": "Node", "metadata": meta(name, labels=labels),
            "spec": spec,
            "status": {
                "conditions": [{"type": "Ready", "status": "True",
                                "lastHeartbeatTime": CREATED, "lastTransitionTime": CREATED,
                                "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                "nodeInfo": {"architecture": arch, "operatingSystem": "linux",
                             "containerRuntimeVersion": runtime, "kubeletVersion": "v1.31.2",
                             "kubeProxyVersion": "v1.31.2", "kernelVersion": "6.1.0-27",
                             "osImage": "Debian GNU/Linux 12 (bookworm)", "machineID": f"m{i}",
                             "systemUUID": f"s{i}", "bootID": f"b{i}"},
                "addresses": [{"type": "InternalIP", "address": f"10.0.{i // 250}.{i % 250 + 1}"},
                              {"type": "Hostname", "address": name}],
            }})
    return nodes


def placement(k, rng):
    """A pod spec fragment: nodeSelector / affinity / tolerations, by variety index k."""
    v = k % 12
    spec = {}
    if v == 1:
        spec["nodeSelector"] = {"kubernetes.io/arch": "amd64"}
    elif v == 2:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]}}}
    elif v == 3:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
                {"matchExpressions": [{"key": "cpu-count", "operator": "Gt", "values": ["8"]}]}]}}}
    elif v == 4:
        spec["tolerations"] = [{"operator": "Exists"}]
    elif v == 5:
        spec["tolerations"] = [{"key": "kubernetes.io/arch", "operator": "Equal",
                                "value": "arm64", "effect": "NoSchedule"}]
    elif v == 6:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "NotIn", "values": ["pool-0", "pool-2"]},
                {"key": "gpu", "operator": "DoesNotExist"}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                   "labelSelector": {"matchLabels": {"app": "x"}}}}]}}
    elif v == 7:
        spec["nodeSelector"] = {"disk": "ssd"}
        spec["tolerations"] = [{"key": "arch", "operator": "Exists"}]
    elif v == 8:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "cpu-count", "operator": "Lt", "values": ["16"]},
                {"key": "topology.kubernetes.io/zone", "operator": "Exists"}]}]}}}
    return spec


def container(name, image, k):
    c = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}
    if k % 3 == 0:
        c["args"] = ["--port", "8080"]
    return c


def fits(spec, node, daemonset=False):
    labels = node["metadata"]["labels"]
    for key, val in spec.get("nodeSelector", {}).items():
        if labels.get(key) != val:
            return False
    req = spec.get("affinity", {}).get("nodeAffinity", {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if req:
        def expr_ok(e):
            have = labels.get(e["key"])
            op, vals = e["operator"], e.get("values", [])
            if op == "In":
                return have is not None and have in vals
            if op == "NotIn":
                return have is None or have not in vals
            if op == "Exists":
                return have is not None
            if op == "DoesNotExist":
                return have is None
            if op in ("Gt", "Lt"):
                try:
                    a, b = int(have), int(vals[0])
                except (TypeError, ValueError):
                    return False
                return a > b if op == "Gt" else a < b
            return False
        if not any(t.get("matchExpressions") and all(expr_ok(e) for e in t["matchExpressions"])
                   for t in req["nodeSelectorTerms"]):
            return False
    for t in node["spec"].get("taints", []):
        if t["effect"] not in ("NoSchedule", "NoExecute"):
            continue
        if daemonset and t["key"].startswith("node.kubernetes.io/"):
            continue
        ok = False
        for tol in spec.get("tolerations", []):
            if tol.get("effect") and tol["effect"] != t["effect"]:
                continue
            if tol.get("key") and tol["key"] != t["key"]:
                continue
            if tol.get("operator") == "Exists" or tol.get("value", "") == t.get("value", ""):
                ok = True
        if not ok:
            return False
    return True


def pod_status(spec, node, ready, resolved, crash=None, image=None):
    statuses = []
    for c in spec["containers"]:
        st = {"name": c["name"], "image": c["image"], "ready": ready, "restartCount": 0,
              "started": ready, "imageID": resolved.get(c["image"], ""),
              "containerID": "containerd://" + "ab" * 32}
        if crash == "exec":
            st.update(ready=False, started=False, restartCount=7,
                      state={"waiting": {"reason": "CrashLoopBackOff",
                                         "message": f"back-off 5m0s restarting failed container={c['name']}"}},
                      lastState={"terminated": {"exitCode": 1, "reason": "Error",
                                                "message": EXEC_FORMAT,
                                                "startedAt": CREATED, "finishedAt": CREATED,
                                                "containerID": "containerd://" + "cd" * 32}})
        elif crash == "lfstack":
            st.update(ready=False, started=False, restartCount=4,
                      state={"waiting": {"reason": "CrashLoopBackOff",
                                         "message": f"back-off 2m40s restarting failed container={c['name']}"}},
                      lastState={"terminated": {"exitCode": 2, "reason": "Error", "message": LFSTACK,
                                                "startedAt": CREATED, "finishedAt": CREATED,
                                                "containerID": "containerd://" + "ef" * 32}})
        elif crash == "start":
            st.update(ready=False, started=False, restartCount=3,
                      state={"waiting": {"reason": "CrashLoopBackOff",
                                         "message": "back-off 1m20s restarting failed container"}},
                      lastState={"terminated": {"exitCode": 128, "reason": "StartError",
                                                "message": START_ERROR,
                                                "startedAt": CREATED, "finishedAt": CREATED,
                                                "containerID": "containerd://" + "12" * 32}})
        elif crash == "pull":
            st.update(ready=False, started=False, imageID="",
                      state={"waiting": {"reason": "ImagePullBackOff",
                                         "message": "Back-off pulling image \"%s\": ErrImagePull: %s"
                                         % (c["image"], NO_MATCH.format(image=c["image"]))}})
            del st["containerID"]
        else:
            st["state"] = {"running": {"startedAt": CREATED}}
        if not st.get("imageID"):
            st.pop("imageID", None)
            st["imageID"] = ""
        statuses.append(st)
    phase = "Running" if crash != "pull" else "Pending"
    return {"phase": phase, "hostIP": "10.0.0.1", "podIP": "10.1.0.1", "startTime": CREATED,
            "qosClass": "Burstable",
            "conditions": [{"type": "Ready", "status": "True" if ready and not crash else "False",
                            "lastTransitionTime": CREATED}],
            "containerStatuses": statuses}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--pods", type=int, default=100, help="about this many pods")
    ap.add_argument("--image", action="append", default=[], help="image reference (repeatable)")
    ap.add_argument("--image-pattern", help="e.g. 127.0.0.1:5000/bench/img-{}:latest")
    ap.add_argument("--image-count", type=int, default=0)
    ap.add_argument("--resolve", action="store_true", help="fill imageID digests from the registry")
    ap.add_argument("--crash-every", type=int, default=0,
                    help="every Nth workload crash-loops on arm64 nodes (0: never)")
    ap.add_argument("--namespaces", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--binfmt", action="store_true",
                    help="a Ready xarch-binfmt DaemonSet pod (amd64 emulation) on arm64 nodes")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    images = list(a.image)
    if a.image_pattern:
        images += [a.image_pattern.format(i) for i in range(1, a.image_count + 1)]
    if not images:
        ap.error("give --image or --image-pattern")
    resolved = {}
    if a.resolve:
        for ref in sorted(set(images)):
            resolved[ref] = digest_of(ref)

    nodes = make_nodes(a.nodes, rng)
    items = list(nodes)
    namespaces = [f"team-{i}" for i in range(a.namespaces)] or ["default"]
    kinds = ["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"]
    pods_made = 0
    k = 0
    img_i = 0

    def next_image():
        nonlocal img_i
        ref = images[img_i % len(images)]
        img_i += 1
        return ref

    def make_pod(name, ns, owner, spec, node, labels, crash=None):
        nonlocal pods_made
        pods_made += 1
        s = json.loads(json.dumps(spec))
        s["nodeName"] = node["metadata"]["name"]
        s.setdefault("restartPolicy", "Always")
        s["schedulerName"] = "default-scheduler"
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": meta(name, ns, labels, owner, uid=f"uid-pod-{name}-{ns}"),
                      "spec": s,
                      "status": pod_status(s, node, True, resolved, crash)})

    def template(labels, spec):
        return {"metadata": {"labels": labels}, "spec": spec}

    arm64_nodes = [n for n in nodes if n["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"]

    def unused():
        return max(0, len(images) - img_i)

    # every image is used: room is kept for one bare pod per image the workloads leave unused
    while pods_made + unused() < a.pods:
        kind = kinds[k % len(kinds)]
        ns = namespaces[k % len(namespaces)]
        name = f"{kind.lower()}-{k}"
        labels = {"app": name, "app.kubernetes.io/name": name}
        n_containers = 1 + (k % 7 == 0)
        spec = {"containers": [container(f"c{c}", next_image(), k) for c in range(n_containers)]}
        if k % 5 == 0:
            spec["initContainers"] = [{"name": "init", "image": next_image(),
                                       "command": ["/hello"]}]
        spec.update(placement(k, rng))
        crash_kind = None
        if a.crash_every and k % a.crash_every == a.crash_every - 1:
            crash_kind = ["exec", "lfstack", "pull", "start"][(k // a.crash_every) % 4]
        ds = kind == "DaemonSet"
        candidates = [n for n in nodes if fits(spec, n, ds) and not n["spec"].get("unschedulable")]
        if not candidates:
            candidates = [nodes[-1]]
            spec.pop("nodeSelector", None)
            spec.pop("affinity", None)
            spec["tolerations"] = [{"operator": "Exists"}]
            candidates = [n for n in nodes if not n["spec"].get("unschedulable")] or nodes

        def node_for(j):
            if crash_kind and arm64_nodes:
                return arm64_nodes[j % len(arm64_nodes)]
            return candidates[(k + j) % len(candidates)]

        replicas = 1 + k % 4
        if kind == "Deployment":
            rs = f"{name}-6d4cf56db6"
            items.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns, labels),
                          "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                   "template": template(labels, spec)},
                          "status": {"replicas": replicas, "readyReplicas": replicas}})
            items.append({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                          "metadata": meta(rs, ns, dict(labels, **{"pod-template-hash": "6d4cf56db6"}),
                                           ("Deployment", name, "apps/v1")),
                          "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                   "template": template(labels, spec)},
                          "status": {"replicas": replicas}})
            for j in range(replicas):
                make_pod(f"{rs}-{j:05x}", ns, ("ReplicaSet", rs, "apps/v1"), spec, node_for(j),
                         labels, crash_kind)
        elif kind == "StatefulSet":
            items.append({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name, ns, labels),
                          "spec": {"replicas": replicas, "serviceName": name,
                                   "selector": {"matchLabels": {"app": name}},
                                   "template": template(labels, spec)},
                          "status": {"replicas": replicas}})
            for j in range(replicas):
                make_pod(f"{name}-{j}", ns, ("StatefulSet", name, "apps/v1"), spec, node_for(j),
                         labels, crash_kind)
        elif kind == "DaemonSet":
            items.append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(name, ns, labels),
                          "spec": {"selector": {"matchLabels": {"app": name}},
                                   "template": template(labels, spec)},
                          "status": {"currentNumberScheduled": len(candidates),
                                     "desiredNumberScheduled": len(candidates),
                                     "numberMisscheduled": 0, "numberReady": len(candidates)}})
            for j, node in enumerate(candidates):
                pspec = json.loads(json.dumps(spec))
                # the DaemonSet controller pins each pod to its node with matchFields
                aff = pspec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
                aff["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In",
                                      "values": [node["metadata"]["name"]]}]}]}
                c = crash_kind if node in arm64_nodes else None
                make_pod(f"{name}-{j:05x}", ns, ("DaemonSet", name, "apps/v1"), pspec, node, labels, c)
        elif kind in ("CronJob", "Job"):
            jspec = dict(spec, restartPolicy="OnFailure")
            job = f"{name}-29000000" if kind == "CronJob" else name
            if kind == "CronJob":
                items.append({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(name, ns, labels),
                              "spec": {"schedule": "*/5 * * * *",
                                       "jobTemplate": {"spec": {"template": template(labels, jspec)}}}})
            items.append({"apiVersion": "batch/v1", "kind": "Job",
                          "metadata": meta(job, ns, labels,
                                           ("CronJob", name, "batch/v1") if kind == "CronJob" else None),
                          "spec": {"template": template(labels, jspec), "backoffLimit": 6},
                          "status": {"active": 1}})
            make_pod(f"{job}-x{k:04d}", ns, ("Job", job, "batch/v1"), jspec, node_for(0), labels,
                     crash_kind)
        else:
            make_pod(name, ns, None, spec, node_for(0), labels, crash_kind)
        k += 1

    while unused():
        ns = namespaces[k % len(namespaces)]
        spec = {"containers": [container("c0", next_image(), k)]}
        spec.update(placement(k, rng))
        candidates = [n for n in nodes if fits(spec, n) and not n["spec"].get("unschedulable")]
        if not candidates:
            spec = {"containers": spec["containers"], "tolerations": [{"operator": "Exists"}]}
            candidates = nodes
        make_pod(f"pod-{k}", ns, None, spec, candidates[k % len(candidates)], {"app": f"pod-{k}"})
        k += 1

    if a.binfmt:
        for j, node in enumerate(arm64_nodes):
            spec = {"containers": [{"name": "binfmt", "image": images[0],
                                    "args": ["binfmt", "install", "--watch", "amd64"],
                                    "securityContext": {"privileged": True}}],
                    "tolerations": [{"operator": "Exists"}]}
            make_pod(f"xarch-binfmt-{j:05x}", "xarch-system", ("DaemonSet", "xarch-binfmt", "apps/v1"),
                     spec, node, {"app.kubernetes.io/name": "xarch-binfmt"})
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
    out = sys.stdout if a.output == "-" else open(a.output, "w")
    json.dump(doc, out, indent=None, separators=(",", ":"))
    out.write("\n")


if __name__ == "__main__":
    main()
