# Kubernetes API schema checks for CLI tests (source after tests/cli/lib.sh):
#   if k8s_schema_ready; then check "valid" k8s_validate FILE...; else skip "$K8S_SKIP"; fi
# k8s_validate runs validate.js (kubernetes-models' validate()) over JSON or YAML files;
# scripts/install-deps --test installs the pinned packages into tests/k8s/node_modules.
K8S_DIR=$(cd "$(dirname "$0")/../k8s" && pwd)
K8S_SKIP="kubernetes-models not installed (scripts/install-deps --test, or npm ci in tests/k8s)"

k8s_schema_ready() {
        command -v node >/dev/null 2>&1 && [ -d "$K8S_DIR/node_modules/kubernetes-models" ]
}

k8s_validate() {
        node "$K8S_DIR/validate.js" "$@"
}
