# Helpers for tests and benchmarks that need a real registry and real images. Source it.
#   images_prepare          builds (once, cached) the test images: sets IMAGES to their directory
#   registry_start STORAGE  runs Debian's docker-registry on a free 127.0.0.1 port over STORAGE:
#                           sets REG (host:port) and REGISTRY_PID; registry_stop ends it
#   buildah_ / podman_ / skopeo_   the tools with private storage under $IMAGES_STATE
IMAGES_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE:-$0}")" 2>/dev/null && pwd)
[ -f "$IMAGES_LIB_DIR/lib.sh" ] || IMAGES_LIB_DIR=$(cd "$(dirname "$0")/../images" && pwd)

images_have_tools() {
        for t in docker-registry buildah skopeo podman python3 curl; do
                command -v "$t" >/dev/null 2>&1 || { echo "$t"; return 1; }
        done
        return 0
}

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

registry_start() {
        storage=$1
        mkdir -p "$storage"
        port=$(free_port)
        cfg=$(mktemp)
        cat >"$cfg" <<CFG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
        docker-registry serve "$cfg" >"$storage.log" 2>&1 &
        REGISTRY_PID=$!
        REG=127.0.0.1:$port
        # wait until it answers (bounded; not a timed assertion)
        i=0
        until curl -fsS "http://$REG/v2/" >/dev/null 2>&1; do
                i=$((i + 1))
                if [ $i -gt 200 ] || ! kill -0 "$REGISTRY_PID" 2>/dev/null; then
                        echo "registry did not start: $(tail -3 "$storage.log")" >&2
                        rm -f "$cfg"
                        return 1
                fi
                sleep 0.05
        done
        rm -f "$cfg"
}

# For `trap images_cleanup EXIT`: kills the processes in $PIDS (each started registry's
# $REGISTRY_PID added to it) and removes $TMPD, keeping the test's exit status.
images_cleanup() {
        rc=$?
        set +e
        for p in ${PIDS:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        rm -rf "$TMPD"
        exit $rc
}

registry_stop() {
        if [ -n "${REGISTRY_PID:-}" ]; then
                kill "$REGISTRY_PID" 2>/dev/null || true
                wait "$REGISTRY_PID" 2>/dev/null || true
                REGISTRY_PID=
        fi
}

buildah_() {
        buildah --root "$IMAGES_STATE/storage" --runroot "$IMAGES_STATE/run" --storage-driver vfs "$@"
}

# podman refuses a --runroot longer than 50 characters ("the specified runroot is longer than
# 50 characters"), and a checkout's build directory can be deeper than that. Its runroot is a
# short directory under /tmp named after the storage, so every call for one storage agrees
# (libpod stores the runroot and refuses another one for the same storage).
podman_runroot() {
        echo "/tmp/xarch-podman-$(printf %s "${IMAGES_STATE:-}" | cksum | cut -d' ' -f1)"
}

podman_() {
        mkdir -p -m 0700 "$(podman_runroot)"
        podman --root "$IMAGES_STATE/storage" --runroot "$(podman_runroot)" --storage-driver vfs "$@"
}

skopeo_() {
        skopeo --tmpdir "$IMAGES_STATE/tmp" "$@"
}

# Builds the images once per build directory (or per run without one).
images_prepare() {
        IMAGES=${XARCH_IMAGES:-${XARCH_BUILDDIR:-$TMPD}/images}
        "$IMAGES_LIB_DIR/make-images.sh" "$IMAGES" >"$IMAGES.log" 2>&1 || {
                echo "make-images.sh failed: $(tail -5 "$IMAGES.log")" >&2
                return 1
        }
}
