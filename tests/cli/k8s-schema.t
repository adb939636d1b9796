#!/bin/sh
# The schema checker itself (tests/k8s/validate.js, kubernetes-models' validate()) accepts a
# valid document and refuses invalid ones, so the tests that rely on it mean something.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../k8s/lib.sh"

if ! k8s_schema_ready; then
        skip "$K8S_SKIP"
        done_testing
        exit 0
fi

cat >"$TMPD/good.yaml" <<'Y'
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: demo, namespace: demo}
spec:
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers: [{name: demo, image: demo:1, securityContext: {privileged: true}}]
Y
check "a valid Namespace and DaemonSet (YAML) pass" k8s_validate "$TMPD/good.yaml"

sed 's/privileged: true/privileged: "yes"/' "$TMPD/good.yaml" >"$TMPD/bad.yaml"
set +e
k8s_validate "$TMPD/bad.yaml" >"$TMPD/v" 2>&1
rc=$?
set -e
check "a wrong type fails (exit 1)" test "$rc" = 1
check "and names the field" grep -q "privileged must be boolean" "$TMPD/v"

printf '%s' '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}},{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"nope"}}]}' >"$TMPD/list.json"
set +e
k8s_validate "$TMPD/list.json" >"$TMPD/v" 2>&1
rc=$?
set -e
check "a kubectl List (JSON) is checked item by item" sh -c "test $rc = 1 && grep -q '^ok .*Node n' '$TMPD/v' && grep -q '^not ok .*Pod p' '$TMPD/v'"

printf '%s' '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}' >"$TMPD/unknown.json"
check "an unknown kind fails" sh -c "! node '$K8S_DIR/validate.js' '$TMPD/unknown.json' >/dev/null"
printf '{' >"$TMPD/trunc.json"
set +e
k8s_validate "$TMPD/trunc.json" >/dev/null 2>&1
rc=$?
set -e
check "unparseable input exits 2" test "$rc" = 2
done_testing
