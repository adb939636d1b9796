#!/bin/bash
# xarch audit over kubectl documents: hand-written clusters whose images are built here with the
# xarch under test (`xarch build`, `xarch index`) from the real fixture binaries (Go and C,
# single- and multi-arch, mislabelled, a dotted arm64 variant) and pushed to a real
# docker-registry on 127.0.0.1; generated clusters checked against the
# Kubernetes API schema (kubernetes-models); the patches applied by kubectl itself (--local);
# kubectl finding the kubectl-xarch plugin; the HTML report rendered by headless Chromium.
set -eu
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=${XARCH_BUILDDIR:-$(dirname "$XARCH")}
export XDG_CACHE_HOME=$TMPD/cache
GEN="python3 $HERE/../cluster/gen-cluster.py"

# jq-like checks in python over the last JSON output: jget EXPR (d = the document)
jget() {
        python3 -c "import json,sys; d=json.load(open(sys.argv[1]));
w={x['namespace']+'/'+x['kind']+'/'+x['name']: x for x in d['workloads']}
def cell(k, p): return [c for c in w[k]['platforms'] if c['platform']==p and not c['what_if']][0]
print(($1))" "$TMPD/out"
}
# jcheck "title" EXPR : passes when EXPR is true
jcheck() {
        local got
        got=$(jget "$2" 2>&1) || true
        if [ "$got" = "True" ]; then ok "$1"; else not_ok "$1 (got: $got)"; fi
}

# ---------------- usage and hostile input ----------------
run_xarch audit --help
expect_rc 0 "audit --help exits 0"
expect_out '^Usage: xarch audit' "--help prints usage"
run_xarch audit
expect_rc 2 "no input is a usage error"
expect_err 'missing -f FILE' "missing input named in one line"
run_xarch audit -f x --kubectl
expect_rc 2 "-f with --kubectl is a usage error"
expect_err 'exclude each other' "conflict named"
run_xarch audit -f x --what-if linux/nosuch
expect_rc 2 "unknown --what-if platform is a usage error"
expect_err "invalid platform 'linux/nosuch'" "bad platform named"
run_xarch audit -f x --emulation-on pool
expect_rc 2 "--emulation-on without arches is a usage error"
expect_err "'pool' is not SELECTOR=ARCH" "bad rule named"
run_xarch audit -f x --emulation-on pool=arm=nosuch
expect_rc 2 "--emulation-on with an unknown arch is a usage error"
expect_err "unknown architecture 'nosuch'" "bad arch named"
run_xarch audit -f "$TMPD/nonexistent.json"
expect_rc 1 "missing file fails"
expect_err 'cannot open' "missing file named"
printf '{"apiVersion":"v1","kind":"List","items":[{"kind":"Node",' >"$TMPD/trunc.json"
run_xarch audit -f "$TMPD/trunc.json"
expect_rc 1 "truncated JSON fails"
expect_err 'not a kubectl JSON document' "truncated JSON: one clear line"
run_xarch audit -f "$TMPD/trunc.json" --json
expect_rc 1 "truncated JSON with --json fails"
if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if 'not a kubectl JSON document' in d['error'] else 1)" "$TMPD/out"; then
        ok "--json: bad input is one valid JSON error document"; else
        not_ok "--json on bad input: $(head -3 "$TMPD/out")"; fi
echo '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}' >"$TMPD/pod.json"
run_xarch audit -f "$TMPD/pod.json"
expect_rc 1 "a single object (not a List) fails"
expect_err "not a List: kind 'Pod'" "not-a-List named"
python3 -c "print('{\"kind\":\"List\",\"items\":' + '['*5000 + ']'*5000 + '}')" >"$TMPD/deep.json"
run_xarch audit -f "$TMPD/deep.json"
expect_rc 1 "deep nesting fails"
expect_err 'nests deeper' "deep nesting named"
# Not a pipe into a { } group: that runs in a subshell and the TAP counter would be lost.
echo '{"kind":"List","items":[{"kind":"Service","metadata":{"name":"s"}}]}' >"$TMPD/svc.json"
set +e; "$XARCH" audit -f - <"$TMPD/svc.json" >"$TMPD/out" 2>"$TMPD/err"; RC=$?; set -e
expect_rc 0 "stdin input; an empty cluster is all well"
expect_out 'skipped 1 object of kind Service' "unknown kinds reported and skipped"

# ---------------- against a real registry ----------------
. "$HERE/../images/lib.sh"
for t in docker-registry curl python3; do
        if ! command -v "$t" >/dev/null 2>&1; then
                skip "$t not installed: no registry tests"
                done_testing
                exit
        fi
done
FX=${XARCH_FIXTURES:-}
for f in go/hello-amd64 go/hello-arm64 go/hello-arm-v7 c/hello-static; do
        if [ -z "$FX" ] || [ ! -f "$FX/$f" ]; then
                skip "fixture binaries missing ($f): run tests/fixtures/make-fixtures.sh"
                done_testing
                exit
        fi
done
registry_start "$TMPD/registry"
trap 'registry_stop; rm -rf "$TMPD"' EXIT
R=$REG

# The images, made by the xarch under test from the fixture binaries:
#   multi          index: linux/amd64, linux/arm64, linux/arm/v7 Go hello
#   go-amd64-only  one manifest: linux/amd64 Go hello
#   c-amd64-only   one manifest: linux/amd64 static C hello
#   mislabelled    index: linux/amd64 correct, linux/arm64 holding the x86-64 Go binary
#                  (config arm64 too), let through by --allow-foreign
#   v80            index: linux/amd64, and linux/arm64/v8.0 as the entry's platform (index
#                  create --force keeps the label as written): containerd 1.6/1.7 do not read
#                  "v8.0" as an arm64 node's variant, 2.0 and later do (docs/runtimes.md)
xbuild() { # TITLE EXPECTED-RC ARGS...
        local title=$1 want=$2
        shift 2
        set +e
        "$XARCH" build "$@" >"$TMPD/bout" 2>"$TMPD/berr"
        local rc=$?
        set -e
        if [ "$rc" = "$want" ]; then ok "$title"; else
                not_ok "$title (exit $rc): $(tail -2 "$TMPD/berr")"; fi
}
hello=(--entrypoint /hello)
xbuild "xarch build: multi (amd64, arm64, arm/v7 Go)" 0 "${hello[@]}" \
        --platform linux/amd64,linux/arm64,linux/arm/v7 --add "linux/amd64=$FX/go/hello-amd64:/hello" \
        --add "linux/arm64=$FX/go/hello-arm64:/hello" --add "linux/arm/v7=$FX/go/hello-arm-v7:/hello" \
        -t "$R/multi:latest"
xbuild "xarch build: go-amd64-only (one manifest)" 0 "${hello[@]}" --platform linux/amd64 \
        --add "$FX/go/hello-amd64:/hello" -t "$R/go-amd64-only:latest"
xbuild "xarch build: c-amd64-only (static C, one manifest)" 0 "${hello[@]}" --platform linux/amd64 \
        --add "$FX/c/hello-static:/hello" -t "$R/c-amd64-only:latest"
xbuild "xarch build refuses the x86-64 binary for arm64 without --allow-foreign" 1 "${hello[@]}" \
        --platform linux/amd64,linux/arm64 --add "$FX/go/hello-amd64:/hello" -t "$R/refused:latest"
# pushed, then xarch's own verification of the push finds the mislabel (exit 1)
xbuild "xarch build --allow-foreign: mislabelled is pushed, and its verification says so" 1 \
        "${hello[@]}" --platform linux/amd64,linux/arm64 --allow-foreign /hello \
        --add "$FX/go/hello-amd64:/hello" -t "$R/mislabelled:latest"
if grep -q 'labelled linux/arm64 but /hello is x86-64' "$TMPD/berr"; then
        ok "the verification after the push names the mislabel"; else
        not_ok "mislabelled push: $(cat "$TMPD/berr")"; fi
xbuild "xarch build: the arm64 image of v80" 0 "${hello[@]}" --platform linux/arm64 \
        --add "$FX/go/hello-arm64:/hello" -t "$R/v80:arm64"
run_xarch index create "$R/v80:latest" "$R/v80:arm64" --platform linux/arm64/v8.0 --force
expect_rc 0 "xarch index create --force: an entry labelled linux/arm64/v8.0"
run_xarch index add "$R/v80:latest" "$R/go-amd64-only:latest"
expect_rc 0 "xarch index add: its linux/amd64 entry"
run_xarch inspect "$R/v80:latest"
expect_out 'linux/arm64/v8\.0 ' "the v80 index keeps the dotted variant as written"


digest() { # REPO:TAG -> repo@digest as containerd reports imageID
        curl -fsSI -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
                "http://$R/v2/${1%%:*}/manifests/${1##*:}" | tr -d '\r' |
                sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}
D_MULTI=$(digest multi:latest)
D_GO=$(digest go-amd64-only:latest)
D_C=$(digest c-amd64-only:latest)
D_MIS=$(digest mislabelled:latest)
[ -n "$D_MULTI" ] && [ -n "$D_GO" ] && ok "registry digests read" || not_ok "registry digests"

# The hand-written cluster: two amd64 nodes, two arm64 nodes (pool=arm, one tainted).
#   web       Deployment, multi (amd64+arm64+arm/v7)         -> ok everywhere
#   api       Deployment, go-amd64-only, affinity disk In ssd OR zone Exists,
#             tolerates the arm64 taint                       -> at-risk on arm64, patch merges
#   pinned    StatefulSet, go-amd64-only, nodeSelector amd64  -> ok
#   agent     DaemonSet, c-amd64-only, pod on arm64 crash-loops with exec format error -> broken
#   mis       bare Pod, mislabelled, pinned to an arm64 node  -> native by labels, fails --verify
#   ghost     CronJob, an image the registry lacks            -> unknown
#   <script>  namespace and name of a hostile bare pod (multi) -> escaped everywhere
python3 - "$TMPD/cluster.json" "$R" "$D_MULTI" "$D_GO" "$D_C" "$D_MIS" <<'PY'
import json, sys
out, R, dm, dg, dc, dmis = sys.argv[1:]
T = "2026-01-01T00:00:00Z"
def node(name, arch, pool, taints=(), runtime="containerd://1.7.22"):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/arch": arch, "kubernetes.io/os": "linux",
                                                   "kubernetes.io/hostname": name, "pool": pool,
                                                   "disk": "ssd"}},
            "spec": {"taints": list(taints)} if taints else {},
            "status": {"nodeInfo": {"architecture": arch, "operatingSystem": "linux",
                                    "containerRuntimeVersion": runtime, "kubeletVersion": "v1.31.2",
                                    "kubeProxyVersion": "", "kernelVersion": "6.1", "osImage": "x",
                                    "machineID": "m", "systemUUID": "s", "bootID": "b"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}
def owner(kind, name, api="apps/v1"):
    return [{"apiVersion": api, "kind": kind, "name": name, "uid": "u-" + name, "controller": True}]
def pod(name, ns, spec, node, own=None, statuses=None, labels=None):
    s = dict(spec, nodeName=node)
    m = {"name": name, "namespace": ns, "labels": labels or {}}
    if own: m["ownerReferences"] = own
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": s,
            "status": {"phase": "Running", "containerStatuses": statuses or [],
                       "conditions": [{"type": "Ready", "status": "True"}]}}
def running(name, image, digest):
    return {"name": name, "image": image, "imageID": R + "/" + digest_repo(image) + "@" + digest,
            "ready": True, "restartCount": 0, "state": {"running": {"startedAt": T}}}
def digest_repo(image):
    return image[len(R) + 1:].split(":")[0]
multi, go, c, mis = R + "/multi:latest", R + "/go-amd64-only:latest", R + "/c-amd64-only:latest", R + "/mislabelled:latest"
taint = [{"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"}]
items = [node("amd-1", "amd64", "x86"), node("amd-2", "amd64", "x86", runtime="cri-o://1.30.1"),
         node("arm-1", "arm64", "arm", runtime="containerd://2.0.4"),
         node("arm-2", "arm64", "arm", taint, runtime="docker://24.0.7")]
def deploy(name, spec, replicas_nodes, image, digest):
    rs = name + "-7f9c6d5b4"
    items.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
                  "spec": {"selector": {"matchLabels": {"app": name}},
                           "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})
    items.append({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": rs, "namespace": "shop", "ownerReferences": owner("Deployment", name)},
                  "spec": {"selector": {"matchLabels": {"app": name}},
                           "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})
    for i, n in enumerate(replicas_nodes):
        items.append(pod(f"{rs}-{i}", "shop", spec, n, owner("ReplicaSet", rs),
                         [running("app", image, digest)], {"app": name}))
deploy("web", {"containers": [{"name": "app", "image": multi}]}, ["amd-1", "arm-1"], multi, dm)
api_spec = {"containers": [{"name": "app", "image": go}],
            "tolerations": [{"key": "kubernetes.io/arch", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
                {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                      "labelSelector": {"matchLabels": {"app": "api"}}}}]}}}
deploy("api", api_spec, ["amd-1", "amd-2"], go, dg)
pinned = {"containers": [{"name": "app", "image": go}], "nodeSelector": {"kubernetes.io/arch": "amd64"}}
items.append({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "pinned", "namespace": "shop"},
              "spec": {"serviceName": "pinned", "selector": {"matchLabels": {"app": "pinned"}},
                       "template": {"metadata": {"labels": {"app": "pinned"}}, "spec": pinned}}})
items.append(pod("pinned-0", "shop", pinned, "amd-2", owner("StatefulSet", "pinned"), [running("app", go, dg)]))
agent = {"containers": [{"name": "agent", "image": c}]}
items.append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ops"},
              "spec": {"selector": {"matchLabels": {"app": "agent"}},
                       "template": {"metadata": {"labels": {"app": "agent"}}, "spec": agent}}})
for n in ["amd-1", "amd-2", "arm-1"]:
    st = [running("agent", c, dc)]
    if n == "arm-1":
        st = [{"name": "agent", "image": c, "imageID": R + "/c-amd64-only@" + dc, "ready": False, "restartCount": 9,
               "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=agent"}},
               "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "exec /hello: exec format error",
                                            "startedAt": T, "finishedAt": T}}}]
    ds_spec = dict(agent, affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]}]}}})
    items.append(pod("agent-" + n, "ops", ds_spec, n, owner("DaemonSet", "agent"), st))
mis_spec = {"containers": [{"name": "app", "image": mis}]}
items.append(pod("mis", "lab", mis_spec, "arm-1", None, [running("app", mis, dmis)]))
ghost = {"containers": [{"name": "app", "image": R + "/no-such-image:1"}], "restartPolicy": "OnFailure"}
items.append({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "ghost", "namespace": "lab"},
              "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": ghost}}}}})
items.append(pod("<script>alert(1)</script>", "<b>evil</b>", {"containers": [{"name": "x", "image": multi}]}, "amd-1",
                 None, [running("x", multi, dm)]))
items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
              "spec": {"ports": [{"port": 80}]}})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out, "w"), indent=1)
PY

run_xarch audit -f "$TMPD/cluster.json" --json --what-if linux/s390x
expect_rc 1 "something at risk: exit 1"
jcheck "web: ok, native on both" "w['shop/Deployment/web']['risk']=='ok' and cell('shop/Deployment/web','linux/arm64')['verdict']=='native'"
jcheck "api: at-risk on arm64 (fails), native on amd64" "w['shop/Deployment/api']['risk']=='at-risk' and cell('shop/Deployment/api','linux/arm64')['verdict']=='fails' and cell('shop/Deployment/api','linux/amd64')['verdict']=='native'"
jcheck "api can land on both arm64 nodes (the taint is tolerated)" "cell('shop/Deployment/api','linux/arm64')['nodes']==2"
jcheck "api: the patch pins it to amd64" "w['shop/Deployment/api']['fix']['resource']=='deployment/api' and 'kubernetes.io/arch' in json.dumps(w['shop/Deployment/api']['fix']['json_patch'])"
jcheck "pinned: ok, cannot land on arm64" "w['shop/StatefulSet/pinned']['risk']=='ok' and cell('shop/StatefulSet/pinned','linux/arm64')['nodes']==0"
jcheck "web cannot land on the tainted arm64 node" "cell('shop/Deployment/web','linux/arm64')['nodes']==1"
jcheck "agent: broken by its exec format error" "w['ops/DaemonSet/agent']['risk']=='broken' and w['ops/DaemonSet/agent']['evidence'][0]['signature'] in ('container-exec-format-error','exec-format-error')"
jcheck "agent: evidence names pod and node" "w['ops/DaemonSet/agent']['evidence'][0]['pod']=='agent-arm-1' and w['ops/DaemonSet/agent']['evidence'][0]['node']=='arm-1'"
jcheck "agent: its pods are grouped (3 pods, one workload)" "w['ops/DaemonSet/agent']['pods']==3"
jcheck "ReplicaSet pods grouped under their Deployment" "w['shop/Deployment/web']['pods']==2 and not any(k.startswith('shop/ReplicaSet') for k in w)"
jcheck "mis: native on arm64 by its labels" "cell('lab/Pod/mis','linux/arm64')['verdict']=='native'"
jcheck "ghost: unknown, its image cannot be inspected" "w['lab/CronJob/ghost']['risk']=='unknown'"
jcheck "images resolved by the pods' imageID digests" "[i['resolved'] for i in d['images'] if i['image'].endswith('/go-amd64-only:latest')][0].endswith('$D_GO')"
jcheck "unknown kinds reported" "d['skipped']==[{'kind':'Service','count':1}]"
jcheck "node runtimes parsed" "sorted(n['runtime']+'/'+n['runtime_version'] for n in d['nodes'])==['containerd/1.7.22','containerd/2.0.4','cri-o/1.30.1','docker/24.0.7']"
jcheck "what-if s390x: multi-arch web fails there too (no s390x manifest)" "[c for c in w['shop/Deployment/web']['platforms'] if c['what_if']][0]['verdict']=='fails'"
jcheck "what-if: readiness counts" "d['what_if'][0]['platform']=='linux/s390x' and d['what_if'][0]['native']==0 and d['what_if'][0]['workloads']>=4"
jcheck "what-if blockers ranked by pods" "[b['pods'] for b in d['what_if'][0]['blockers']]==sorted([b['pods'] for b in d['what_if'][0]['blockers']], reverse=True)"

# ---------------- runtime versions: one image, two verdicts ----------------
# Two arm64 nodes that differ only in their containerd: 1.7 does not read the v80 index's
# linux/arm64/v8.0 entry as an arm64 node's (no match for platform), 2.0 does (native).
D_V80=$(digest v80:latest)
python3 - "$TMPD/runtimes.json" "$R" "$D_V80" <<'PY'
import json, sys
out, R, d = sys.argv[1:]
def node(name, runtime):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux",
                                                   "kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"nodeInfo": {"architecture": "arm64", "operatingSystem": "linux",
                                    "containerRuntimeVersion": runtime, "kubeletVersion": "v1.31.2",
                                    "kubeProxyVersion": "", "kernelVersion": "6.1", "osImage": "x",
                                    "machineID": "m", "systemUUID": "s", "bootID": "b"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}
image = R + "/v80:latest"
spec = {"containers": [{"name": "app", "image": image}]}
items = [node("arm-17", "containerd://1.7.22"), node("arm-20", "containerd://2.0.4"),
         {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dotted", "namespace": "lab"},
          "spec": {"selector": {"matchLabels": {"app": "dotted"}},
                   "template": {"metadata": {"labels": {"app": "dotted"}}, "spec": spec}}}]
for n in ("arm-17", "arm-20"):
    items.append({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "dotted-" + n, "namespace": "lab", "labels": {"app": "dotted"},
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                    "name": "dotted", "uid": "u-dotted", "controller": True}]},
                  "spec": dict(spec, nodeName=n),
                  "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                             "containerStatuses": [{"name": "app", "image": image, "imageID": R + "/v80@" + d,
                                                    "ready": True, "restartCount": 0,
                                                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out, "w"), indent=1)
PY
for mode in labels verify; do
        flags=(--json)
        [ $mode = verify ] && flags+=(--verify)
        run_xarch audit -f "$TMPD/runtimes.json" "${flags[@]}"
        expect_rc 1 "$mode: a workload that fails on one runtime version is at risk"
        jcheck "$mode: containerd 1.7 finds no match, containerd 2.0 pulls linux/arm64/v8.0 natively" \
                "sorted((b['runtime'], b['nodes'], b['verdict'], b['code']) for b in cell('lab/Deployment/dotted','linux/arm64')['by_runtime'])==[('containerd://1.7.22',1,'fails','no-match'),('containerd://2.0.4',1,'native','native')]"
        jcheck "$mode: the platform's cell is the worst of the two" "cell('lab/Deployment/dotted','linux/arm64')['verdict']=='fails' and w['lab/Deployment/dotted']['risk']=='at-risk'"
done
run_xarch audit -f "$TMPD/cluster.json" --json
jcheck "no split where the runtime versions agree (web, multi)" "'by_runtime' not in cell('shop/Deployment/web','linux/arm64')"

# the patch, applied by kubectl itself: every required term keeps its expression and gains arch
if command -v kubectl >/dev/null 2>&1; then
        python3 -c "import json; d=json.load(open('$TMPD/cluster.json'))
print(json.dumps([i for i in d['items'] if i['kind']=='Deployment' and i['metadata']['name']=='api'][0]))" >"$TMPD/api.json"
        jget "json.dumps(w['shop/Deployment/api']['fix']['json_patch'])" >"$TMPD/api.patch"
        if kubectl patch --local -f "$TMPD/api.json" --type=json --patch-file "$TMPD/api.patch" -o json >"$TMPD/patched.json" 2>"$TMPD/kerr"; then
                ok "kubectl applies the JSON patch (--local)"
                python3 - "$TMPD/patched.json" >"$TMPD/pcheck" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
a = d["spec"]["template"]["spec"]["affinity"]
terms = a["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
arch = {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
print(len(terms) == 2 and all(arch in t["matchExpressions"] for t in terms)
      and terms[0]["matchExpressions"][0]["key"] == "disk" and terms[1]["matchExpressions"][0]["key"] == "zone"
      and "podAntiAffinity" in a and d["spec"]["template"]["spec"]["tolerations"][0]["value"] == "arm64")
PY
                if [ "$(cat "$TMPD/pcheck")" = True ]; then ok "patched: both terms kept and ANDed with the arch"; else
                        not_ok "patched affinity wrong: $(cat "$TMPD/pcheck")"; fi
        else
                not_ok "kubectl patch --local failed: $(cat "$TMPD/kerr")"
        fi
else
        skip "kubectl not installed"
fi

# --fix-dir: one file per workload to fix, named in the commands
run_xarch audit -f "$TMPD/cluster.json" --fix-dir "$TMPD/fixes"
expect_rc 1 "audit with --fix-dir"
if [ -f "$TMPD/fixes/shop.Deployment.api.json" ] && python3 -m json.tool "$TMPD/fixes/shop.Deployment.api.json" >/dev/null; then
        ok "--fix-dir wrote the api patch as JSON"; else not_ok "--fix-dir file missing"; ls "$TMPD/fixes" | sed 's/^/#   /'; fi
expect_out "kubectl patch 'deployment/api' -n 'shop' --type=json --patch-file '$TMPD/fixes/shop.Deployment.api.json'" "the table's fix names the file"
expect_out '^shop +Deployment/api +2 +amd64 ' "the table lists api running on amd64"
expect_out 'Summary: 4 ok, 1 at-risk, 1 broken, 1 unknown' "the summary counts risks"

# --verify: the binaries decide (mislabelled fails on arm64; Go 1.19 amd64 crashes under QEMU)
run_xarch audit -f "$TMPD/cluster.json" --json --verify --emulation-on pool=arm=amd64
expect_rc 1 "--verify audit"
jcheck "--verify: mislabelled fails on arm64" "cell('lab/Pod/mis','linux/arm64')['verdict']=='fails' and cell('lab/Pod/mis','linux/arm64')['code']=='mislabelled'"
jcheck "--verify + emulation: amd64 Go 1.19 crashes under QEMU on arm64" "cell('shop/Deployment/api','linux/arm64')['verdict']=='emulated-crash'"
jcheck "--verify + emulation: static C amd64 runs emulated on arm64" "[c for c in [i for i in d['images'] if i['image'].endswith('/c-amd64-only:latest')][0]['platforms'] if c['platform']=='linux/arm64'][0]['verdict']=='emulated'"
jcheck "nodes report what they emulate" "sorted(n['emulates'] for n in d['nodes'])==['','','amd64','amd64']"

# the binfmt DaemonSet's Ready pods make their nodes emulators
python3 - "$TMPD/cluster.json" "$TMPD/cluster-binfmt.json" "$R" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for n in ("arm-1",):
    d["items"].append({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "xarch-binfmt-" + n, "namespace": "xarch-system",
                     "labels": {"app.kubernetes.io/name": "xarch-binfmt"}},
        "spec": {"nodeName": n, "containers": [{"name": "binfmt", "image": sys.argv[3] + "/multi:latest",
                 "args": ["binfmt", "install", "--watch", "amd64", "riscv64"]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
# as `xarch binfmt daemonset` makes them: the annotation says what it installs
d["items"].append({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "xarch-binfmt-arm-2", "namespace": "xarch-system",
                 "labels": {"app.kubernetes.io/name": "xarch-binfmt"},
                 "annotations": {"xarch/emulates": "amd64,arm64,s390x"}},
    "spec": {"nodeName": "arm-2", "containers": [{"name": "binfmt", "image": sys.argv[3] + "/multi:latest",
             "command": ["xarch", "binfmt", "install", "--watch", "--interval", "30", "amd64", "arm64", "s390x"]}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
# a binfmt pod that is not Ready proves nothing
d["items"].append({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "xarch-binfmt-amd-1", "namespace": "xarch-system",
                 "labels": {"app.kubernetes.io/name": "xarch-binfmt"}},
    "spec": {"nodeName": "amd-1", "containers": [{"name": "binfmt", "image": sys.argv[3] + "/multi:latest",
             "args": ["binfmt", "install", "--watch", "arm64"]}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}})
json.dump(d, open(sys.argv[2], "w"))
PY
run_xarch audit -f "$TMPD/cluster-binfmt.json" --json
jcheck "a Ready binfmt pod: its node emulates the arches it installs" "[n['emulates'] for n in d['nodes'] if n['name']=='arm-1']==['amd64,riscv64']"
jcheck "the DaemonSet's xarch/emulates annotation counts; the node's own arch does not" "[n['emulates'] for n in d['nodes'] if n['name']=='arm-2']==['amd64,s390x']"
jcheck "a binfmt pod that is not Ready emulates nothing" "[n['emulates'] for n in d['nodes'] if n['name']=='amd-1']==['']"

# a second --verify audit of the unchanged cluster fetches nothing: the registry is gone
python3 -c "import json; d=json.load(open('$TMPD/cluster.json'))
d['items']=[i for i in d['items'] if not (i['kind']=='CronJob')]
json.dump(d, open('$TMPD/cluster-known.json','w'))"
run_xarch audit -f "$TMPD/cluster-known.json" --json --verify
cp "$TMPD/out" "$TMPD/first.json"
registry_stop
run_xarch audit -f "$TMPD/cluster-known.json" --json --verify
if python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a['workloads']==b['workloads'] and b['summary']['unknown']==0 else 1)" "$TMPD/first.json" "$TMPD/out"; then
        ok "second --verify audit with the registry stopped: same verdicts, all from the cache"; else
        not_ok "second audit differs without the registry"; head -5 "$TMPD/err" | sed 's/^/#   /'; fi
registry_start "$TMPD/registry"
R2=$REG

# ---------------- HTML ----------------
run_xarch audit -f "$TMPD/cluster.json" --html "$TMPD/report.html" --what-if linux/arm64
expect_rc 1 "--html audit"
if grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$TMPD/report.html" && ! grep -q '<script>alert' "$TMPD/report.html" &&
        ! grep -q '<b>evil' "$TMPD/report.html"; then ok "hostile names are HTML-escaped"; else not_ok "unescaped name in HTML"; fi
if ! grep -Eiq '(src|href)=["'"'"']?(https?:)?//|@import|url\(' "$TMPD/report.html"; then ok "the page loads nothing from anywhere"; else
        not_ok "the page references external resources"; fi
if [ "$(grep -c '<script>' "$TMPD/report.html")" -eq 1 ]; then ok "one inline script, ours"; else not_ok "script count"; fi

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
        chrome() {
                timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
                        --disable-background-networking --disable-component-update --disable-sync \
                        --user-data-dir="$TMPD/chromium" "$@" 2>>"$TMPD/chromium.log"
        }
        if chrome --dump-dom "file://$TMPD/report.html" >"$TMPD/dom.html"; then
                ok "chromium renders the report"
                python3 - "$TMPD/dom.html" >"$TMPD/domcheck" <<'PY' || true
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.rows = []; s.row = None; s.cell = None; s.in_matrix = False; s.shown = ""; s.in_shown = False
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "table" and a.get("id") == "matrix": s.in_matrix = True
        if s.in_matrix and tag == "tr" and "wl" in (a.get("class") or ""): s.row = []
        if s.row is not None and tag == "td": s.cell = ""
        if a.get("id") == "shown": s.in_shown = True
    def handle_endtag(s, tag):
        if tag == "td" and s.cell is not None and s.row is not None: s.row.append(s.cell.strip()); s.cell = None
        if tag == "tr" and s.row is not None: s.rows.append(s.row); s.row = None
        if tag == "table": s.in_matrix = False
        if tag == "b": s.in_shown = False
    def handle_data(s, d):
        if s.cell is not None: s.cell += d
        if s.in_shown: s.shown += d
p = P(); p.feed(open(sys.argv[1]).read())
rows = {r[0]: r for r in p.rows}
api = [r for k, r in rows.items() if "Deployment/api" in k][0]
ok = len(p.rows) == 7 and api[3] == "native" and api[4] == "fails" and api[-1] == "at-risk" and p.shown == "7"
print("ok" if ok else f"rows={len(p.rows)} api={api} shown={p.shown!r}")
PY
                if [ "$(cat "$TMPD/domcheck")" = ok ]; then ok "the rendered DOM holds the matrix: api native on amd64, fails on arm64, at-risk; the script ran (7 shown)"; else
                        not_ok "rendered DOM: $(cat "$TMPD/domcheck")"; fi
        else
                not_ok "chromium --dump-dom failed: $(tail -2 "$TMPD/chromium.log")"
        fi
        SHOT=$BUILDDIR/audit-report.png
        if chrome --window-size=1400,1000 --screenshot="$SHOT" "file://$TMPD/report.html" >/dev/null && [ -s "$SHOT" ]; then
                ok "screenshot of the report"
                diag "audit report screenshot: $SHOT"
        else
                not_ok "chromium --screenshot failed"
        fi
else
        skip "chromium not installed: no rendering test"
fi

# ---------------- generated clusters ----------------
$GEN --nodes 24 --pods 400 --image "$R2/multi:latest" --image "$R2/go-amd64-only:latest" \
        --image "$R2/c-amd64-only:latest" --image "$R2/mislabelled:latest" --image "$R2/v80:latest" --resolve \
        --crash-every 6 --binfmt -o "$TMPD/gen.json"
. "$HERE/../k8s/lib.sh"
if k8s_schema_ready; then
        check "every generated object passes the Kubernetes API schema" k8s_validate "$TMPD/gen.json"
else
        skip "$K8S_SKIP"
fi
run_xarch audit -f "$TMPD/gen.json" --json --what-if linux/arm64
expect_rc 1 "generated cluster: some workloads at risk or broken"
jcheck "generated: every controller kind present" "set(x['kind'] for x in d['workloads'])>={'Deployment','StatefulSet','DaemonSet','CronJob','Job','Pod'}"
jcheck "generated: crash loops found" "d['summary']['broken']>0"
jcheck "generated: pods all counted" "sum(x['pods'] for x in d['workloads'])==d['pods']"
# (the generator's 1.6 arm64 nodes run the binfmt DaemonSet: amd64 emulated there, not native)
jcheck "generated: the v80 image splits arm64 nodes by runtime (1.6 not native, 2.0 native)" "any(r.get('containerd://1.6.33') not in (None,'native') and r.get('containerd://2.0.4')=='native' for r in ({b['runtime']:b['verdict'] for b in c.get('by_runtime',[])} for x in d['workloads'] for c in x['platforms'] if c['platform']=='linux/arm64' and not c['what_if']))"

# ---------------- --kubectl ----------------
cat >"$TMPD/fake-kubectl" <<EOF
#!/bin/sh
# stands in for kubectl (no API server here): checks the arguments xarch passes, prints the file
[ "\$1 \$2 \$3 \$4 \$5" = "get nodes,pods,replicasets,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o json" ] || { echo "bad args: \$*" >&2; exit 3; }
[ "\$6" = "--context" ] && [ "\$7" = "prod" ] || { echo "extra args missing: \$*" >&2; exit 3; }
cat "$TMPD/cluster.json"
EOF
chmod +x "$TMPD/fake-kubectl"
XARCH_KUBECTL=$TMPD/fake-kubectl run_xarch audit --kubectl --json -- --context prod
expect_rc 1 "--kubectl runs kubectl get with the user's arguments"
jcheck "--kubectl: the same cluster" "w['shop/Deployment/api']['risk']=='at-risk'"
printf '#!/bin/sh\necho "error: You must be logged in to the server (Unauthorized)" >&2\nexit 1\n' >"$TMPD/failing-kubectl"
chmod +x "$TMPD/failing-kubectl"
XARCH_KUBECTL=$TMPD/failing-kubectl run_xarch audit --kubectl
expect_rc 1 "kubectl failing fails the audit"
if grep -q Unauthorized "$TMPD/err" && grep -q 'kubectl get failed (exit 1)' "$TMPD/err"; then ok "kubectl's message, then ours"; else not_ok "kubectl failure message"; fi
printf '#!/bin/sh\nexec sleep 30\n' >"$TMPD/slow-kubectl"
chmod +x "$TMPD/slow-kubectl"
XARCH_KUBECTL=$TMPD/slow-kubectl run_xarch audit --kubectl --kubectl-timeout 1
expect_rc 1 "a hanging kubectl is bounded"
expect_err 'kubectl timed out' "timeout named in one line"

# ---------------- the kubectl plugin ----------------
if command -v kubectl >/dev/null 2>&1 && [ -x "$BUILDDIR/kubectl-xarch" ]; then
        if PATH="$BUILDDIR:$PATH" kubectl plugin list 2>/dev/null | grep -q "$BUILDDIR/kubectl-xarch"; then
                ok "kubectl plugin list finds kubectl-xarch"; else not_ok "kubectl plugin list"; fi
        set +e
        PATH="$BUILDDIR:$PATH" kubectl xarch audit -f "$TMPD/cluster.json" >"$TMPD/out" 2>"$TMPD/err"
        RC=$?
        set -e
        expect_rc 1 "kubectl xarch audit -f FILE runs the audit"
        expect_out '^shop +Deployment/api ' "kubectl xarch audit prints the table"
else
        skip "kubectl or the kubectl-xarch link missing"
fi
done_testing
