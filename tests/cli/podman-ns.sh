# Sourced by the script a podman test runs inside its private user+mount namespace
# (unshare --user --map-root-user --mount), with $d set to the test's directory and $runroot
# to podman's runroot when it must not be $d/runroot. Mounts a private binfmt_misc instance on
# $d/bm (exit 99 when the kernel refuses one: Linux < 6.7, or user namespaces off), gives
# podman a configuration, state and home of its own under $d, and defines:
#   step NAME CMD...   runs CMD; its output goes to $d/steps/NAME.out, its status to NAME.rc
#   pm ARGS...         podman on vfs storage under $d (cgroupfs, runc)
mkdir -p "$d/bm" "$d/steps" "$d/xdg-run" "$d/xdg-config" "$d/xdg-data" "$d/home"
mount -t binfmt_misc binfmt_misc "$d/bm" || exit 99
# podman's default ulimits cannot be raised by an unprivileged user namespace
printf '[containers]\ndefault_ulimits = []\n' >"$d/containers.conf"
export CONTAINERS_CONF=$d/containers.conf XDG_RUNTIME_DIR=$d/xdg-run XDG_CONFIG_HOME=$d/xdg-config
export XDG_DATA_HOME=$d/xdg-data HOME=$d/home
step() { name=$1; shift; "$@" >"$d/steps/$name.out" 2>&1; echo $? >"$d/steps/$name.rc"; }
pm() {
        podman --root "$d/storage" --runroot "${runroot:-$d/runroot}" --storage-driver vfs \
                --cgroup-manager cgroupfs --runtime runc "$@"
}
