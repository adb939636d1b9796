#!/bin/sh
# xarch binfmt install --watch, status --check and daemonset. The watcher runs for real in a
# private binfmt_misc instance (new user + mount namespace, Linux >= 6.7) with qemu-user-static
# and the arm64 Go fixture; the host's table is never touched. The DaemonSet is checked against
# the Kubernetes API schema (tests/k8s, kubernetes-models).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../k8s/lib.sh"
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# wait_for "what" command... : retries the command (up to 30 s, a bound for a stuck watcher,
# not a timing assertion) and reports whether it came true
wait_for() {
        what=$1
        shift
        i=0
        while [ $i -lt 300 ]; do
                if "$@" >/dev/null 2>&1; then
                        ok "$what"
                        return 0
                fi
                sleep 0.1
                i=$((i + 1))
        done
        not_ok "$what (not within 30 s)"
}

if [ -z "${XARCH_BINFMT_IN_NS:-}" ]; then
        # ---------------- outside: usage and the DaemonSet (no binfmt_misc writes) ----------------
        run_xarch binfmt status --watch
        expect_rc 2 "--watch outside install is a usage error"
        run_xarch binfmt install --uninstall-on-exit arm64
        expect_rc 2 "--uninstall-on-exit needs --watch"
        run_xarch binfmt install --watch --interval 0 arm64
        expect_rc 2 "--interval 0 is a usage error"
        expect_err "invalid --interval '0'" "and says so in one line"
        run_xarch binfmt install --watch --force arm64
        expect_rc 2 "--watch with --force is a usage error"
        run_xarch binfmt status --check
        expect_rc 2 "status --check without an architecture is a usage error"
        run_xarch binfmt status --check nosucharch
        expect_rc 2 "status --check of an unknown architecture is a usage error"
        run_xarch binfmt daemonset --namespace Bad_Name
        expect_rc 2 "an invalid namespace is a usage error"
        run_xarch binfmt daemonset --arch nosucharch
        expect_rc 2 "an unknown --arch is a usage error"
        run_xarch binfmt daemonset --image 'bad image'
        expect_rc 2 "an image reference with a space is a usage error"
        run_xarch binfmt daemonset extra
        expect_rc 2 "daemonset takes no arguments"
        run_xarch binfmt status --image x
        expect_rc 2 "--image outside daemonset is a usage error"

        # The native architecture always runs: status --check passes without any emulator.
        native=$(uname -m)
        case $native in x86_64) native=amd64 ;; aarch64) native=arm64 ;; esac
        run_xarch binfmt status --check "$native"
        expect_rc 0 "status --check of the host's own architecture exits 0"
        expect_out "^$native: runs, native" "and says it runs natively"

        # The DaemonSet, as YAML and as JSON.
        run_xarch binfmt daemonset --arch arm64,riscv64 --arch s390x --image registry.example/xarch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --namespace emu
        expect_rc 0 "daemonset exits 0"
        cp "$TMPD/out" "$TMPD/ds.yaml"
        run_xarch binfmt daemonset --json --arch arm64,riscv64 --arch s390x --image registry.example/xarch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --namespace emu
        expect_rc 0 "daemonset --json exits 0"
        cp "$TMPD/out" "$TMPD/ds.json"
        check "the YAML holds the same objects as the JSON List" python3 -c '
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
lst = json.load(open(sys.argv[2]))
assert lst["kind"] == "List" and docs == lst["items"], (docs, lst)
' "$TMPD/ds.yaml" "$TMPD/ds.json"
        # ds_get EXPR : a python expression over ns and ds, from the JSON
        ds_get() {
                python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); ns, ds = l["items"]
c = ds["spec"]["template"]["spec"]["containers"][0]; p = ds["spec"]["template"]["spec"]
print('"$1"')' "$TMPD/ds.json"
        }
        check "a Namespace that admits privileged pods" \
                test "$(ds_get 'ns["kind"], ns["metadata"]["name"], ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]')" = "Namespace emu privileged"
        check "the DaemonSet runs install --watch with the architectures" \
                test "$(ds_get '" ".join(c["command"])')" = "xarch binfmt install --watch --interval 5 arm64 riscv64 s390x"
        check "readiness: status --check of the same architectures" \
                test "$(ds_get '" ".join(c["readinessProbe"]["exec"]["command"])')" = "xarch binfmt status --check arm64 riscv64 s390x"
        check "securityContext: privileged, read-only root, nothing else" \
                test "$(ds_get 'sorted(c["securityContext"].items())')" = "[('privileged', True), ('readOnlyRootFilesystem', True), ('runAsUser', 0)]"
        check "no host namespaces, no host paths, no service account token" \
                test "$(ds_get '[k for k in ("hostPID", "hostNetwork", "hostIPC", "volumes") if k in p], p["automountServiceAccountToken"]')" = "[] False"
        check "every Linux node, every taint" \
                test "$(ds_get 'p["nodeSelector"], p["tolerations"]')" = "{'kubernetes.io/os': 'linux'} [{'operator': 'Exists'}]"
        check "resource requests and limits" \
                test "$(ds_get 'sorted(c["resources"])')" = "['limits', 'requests']"
        check "the image as given" \
                test "$(ds_get 'c["image"]')" = "registry.example/xarch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        if k8s_schema_ready; then
                check "the YAML validates against the Kubernetes API schema" k8s_validate "$TMPD/ds.yaml"
                check "the JSON List validates against the Kubernetes API schema" k8s_validate "$TMPD/ds.json"
                run_xarch binfmt daemonset
                cp "$TMPD/out" "$TMPD/default.yaml"
                check "the default DaemonSet validates too" k8s_validate "$TMPD/default.yaml"
        else
                skip "$K8S_SKIP"
        fi

        # ---------------- inside a private instance ----------------
        if ! command -v unshare >/dev/null ||
                ! unshare --user --map-root-user --mount sh -c \
                        'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"; r=$?; rmdir "$d"; exit $r' \
                        >/dev/null 2>&1; then
                skip "no private binfmt_misc instance here (needs Linux >= 6.7 and user namespaces)"
                done_testing
                exit
        fi
        if [ ! -x /usr/bin/qemu-aarch64-static ] || [ ! -x "${XARCH_FIXTURES:-}/go/hello-arm64" ]; then
                skip "qemu-user-static or the arm64 Go fixture missing (tests/fixtures/make-fixtures.sh)"
                done_testing
                exit
        fi
        set +e
        XARCH_BINFMT_IN_NS=1 XB_N=$TEST_N XB_FAILED=$TEST_FAILED \
                unshare --user --map-root-user --mount sh "$SELF"
        rc=$?
        set -e
        exit $rc
fi

# ---------------- inside: a new user + mount namespace ----------------
TEST_N=$XB_N
TEST_FAILED=$XB_FAILED
BM=$TMPD/bm
mkdir "$BM"
WPID=
trap '[ -n "$WPID" ] && kill -CONT "$WPID" 2>/dev/null && kill "$WPID" 2>/dev/null; umount "$BM" 2>/dev/null; rm -rf "$TMPD"' EXIT
HELLO=$XARCH_FIXTURES/go/hello-arm64

arm64_runs() { "$HELLO" 2>/dev/null | grep -qx 'hello from arm64'; }
check_ready() { "$XARCH" binfmt --mount "$BM" status --check arm64 >/dev/null 2>&1; }

if arm64_runs; then not_ok "arm64 ran before anything was registered"; else ok "arm64 does not run before"; fi
if check_ready; then not_ok "status --check arm64 passed before"; else ok "status --check arm64 fails before (exit 1)"; fi

# The watcher mounts the instance itself (the directory is not mounted yet) and registers.
"$XARCH" binfmt --mount "$BM" install --watch --interval 1 arm64 2>"$TMPD/log" &
WPID=$!
wait_for "install --watch registers qemu-aarch64" test -e "$BM/qemu-aarch64"
check "it is registered with F" grep -qx 'flags: F' "$BM/qemu-aarch64"
check "an arm64 binary then runs" arm64_runs
run_xarch binfmt --mount "$BM" status --check arm64
expect_rc 0 "status --check arm64 exits 0"
expect_out '^arm64: runs, emulated' "and says it runs emulated"

# Another handler beside ours is never touched.
printf '#!/bin/sh\nexit 0\n' >"$TMPD/other"
chmod 755 "$TMPD/other"
printf '%s' ":other:E::zzz::$TMPD/other:" >"$BM/register"

# Removed by hand while the watcher is stopped: not ready; continued: registered again.
kill -STOP "$WPID"
echo -1 >"$BM/qemu-aarch64"
check "the entry is gone" test ! -e "$BM/qemu-aarch64"
if check_ready; then not_ok "status --check still passes with the entry gone"; else ok "status --check fails with the entry gone"; fi
if arm64_runs; then not_ok "arm64 ran with the entry gone"; else ok "arm64 does not run with the entry gone"; fi
kill -CONT "$WPID"
wait_for "the watcher registers it again" test -e "$BM/qemu-aarch64"
wait_for "status --check passes again" check_ready
check "arm64 runs again" arm64_runs

# A flush of the whole table (what systemd-binfmt does on restart) is repaired too.
echo -1 >"$BM/status"
wait_for "after a flush of every entry, ours comes back" test -e "$BM/qemu-aarch64"
check "(the flush removed the other handler; the watcher did not restore it)" test ! -e "$BM/other"

# Disabled by someone: left disabled, and said once.
echo 0 >"$BM/qemu-aarch64"
wait_for "a disabled entry is logged" grep -q 'qemu-aarch64: disabled by someone else; left disabled' "$TMPD/log"
check "and left disabled" grep -qx disabled "$BM/qemu-aarch64"
echo 1 >"$BM/qemu-aarch64"

# SIGTERM leaves the entry.
kill -TERM "$WPID"
set +e
wait "$WPID"
wrc=$?
set -e
WPID=
check "SIGTERM: the watcher exits 0" test "$wrc" = 0
check "and leaves the entry registered" test -e "$BM/qemu-aarch64"
check "arm64 still runs after the watcher is gone (flag F)" arm64_runs

# The log: one timestamped line per change.
check "every log line is timestamped" sh -c "! grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z xarch binfmt: ' '$TMPD/log'"
check "log: registered" grep -q 'qemu-aarch64: registered (/usr/bin/qemu-aarch64-static, flags F)' "$TMPD/log"
check "log: registered again" grep -q 'qemu-aarch64: was gone: registered again' "$TMPD/log"
check "log: SIGTERM leaves the entries" grep -q 'SIGTERM: leaving the entries registered' "$TMPD/log"
check "log: a private instance is named as such" grep -q "not the host's user namespace" "$TMPD/log"
sed 's/^/#   /' "$TMPD/log"

# A second watcher finds the entry there; --uninstall-on-exit removes ours and only ours.
printf '%s' ":other:E::zzz::$TMPD/other:" >"$BM/register"
"$XARCH" binfmt --mount "$BM" install --watch --uninstall-on-exit --interval 1 arm64 2>"$TMPD/log2" &
WPID=$!
wait_for "a second watcher finds the entry already registered" grep -q 'qemu-aarch64: already registered' "$TMPD/log2"
kill -TERM "$WPID"
set +e
wait "$WPID"
wrc=$?
set -e
WPID=
check "--uninstall-on-exit: exits 0" test "$wrc" = 0
check "--uninstall-on-exit: our entry is removed" test ! -e "$BM/qemu-aarch64"
check "--uninstall-on-exit: the other handler stays" test -e "$BM/other"
check "log: removed" grep -q 'qemu-aarch64: removed' "$TMPD/log2"
done_testing
