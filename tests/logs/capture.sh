#!/bin/sh
# Captures REAL cross-architecture failure output on this machine, one transcript per case:
#   tests/logs/capture.sh OUTDIR [FIXTURES]
# Each OUTDIR/NAME.log starts with "$ command" lines followed by what the command printed
# (stdout and stderr), like a terminal. A case that cannot run here (no private binfmt_misc
# instance, no qemu-user-static, no fixture, a host that CAN run the binary) writes
# OUTDIR/NAME.skip with the reason instead. FIXTURES defaults to $XARCH_FIXTURES (made by
# tests/fixtures/make-fixtures.sh). The committed copies in tests/logs/captured/ came from
# this script; tests/cli/diagnose.t runs it again so the test sees this machine's own output.
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
        echo "usage: $0 OUTDIR [FIXTURES]" >&2
        exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
fix=${2:-${XARCH_FIXTURES:-}}
[ -n "$fix" ] && [ -d "$fix" ] && fix=$(cd "$fix" && pwd)
export LC_ALL=C # untranslated messages with ASCII quotes
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

skip() { # NAME REASON
        rm -f "$out/$1.log"
        echo "$2" >"$out/$1.skip"
}

# run NAME COMMAND...: appends "$ COMMAND" and its output (stdout+stderr) to NAME.log
run() {
        name=$1
        shift
        echo "\$ $*" >>"$out/$name.log"
        "$@" >>"$out/$name.log" 2>&1
        return 0
}

start() { # NAME: a fresh transcript
        rm -f "$out/$1.log" "$out/$1.skip"
}

need_file() { # NAME FILE
        if [ ! -f "$2" ]; then
                skip "$1" "fixture $2 missing (tests/fixtures/make-fixtures.sh)"
                return 1
        fi
}

need_cmd() { # NAME CMD
        if ! command -v "$2" >/dev/null 2>&1; then
                skip "$1" "$2 not installed"
                return 1
        fi
}

private_binfmt_ok() {
        unshare --user --map-root-user --mount sh -c \
                'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"' 2>/dev/null
}

elf64le='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00'
mask64le='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
aarch64_nof=":qemu-aarch64:M::${elf64le}\xb7\x00:${mask64le}:/nonexistent/qemu-aarch64-static:"

# In a private binfmt_misc instance (user + mount namespace, Linux >= 6.7): the script $1 runs
# with $d = the instance's mount point and $PROG = the arm64 binary.
in_private_instance() { # NAME SCRIPT
        unshare --user --map-root-user --mount env PROG="$fix/go/hello-arm64" \
                AARCH64_NOF="$aarch64_nof" OUT="$out/$1.log" sh -c \
                'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d" && cd /tmp && '"$2"
}

# 1. A foreign binary with no handler: bash and dash (ENOEXEC).
name=exec-format-shell
start $name
if need_file $name "$fix/go/hello-arm64"; then
        if private_binfmt_ok; then
                in_private_instance $name '
                        echo "\$ bash -c \$PROG" >>"$OUT"; bash -c "$PROG" >>"$OUT" 2>&1
                        echo "\$ sh -c \$PROG" >>"$OUT"; sh -c "$PROG" >>"$OUT" 2>&1
                        true'
        else
                skip $name "private binfmt_misc instances unavailable (Linux >= 6.7, user namespaces)"
        fi
fi

# 2. A handler registered WITHOUT F whose interpreter path does not exist (ENOENT).
name=binfmt-interpreter-missing
start $name
if need_file $name "$fix/go/hello-arm64"; then
        if private_binfmt_ok; then
                in_private_instance $name '
                        printf "%s" "$AARCH64_NOF" >"$d/register"
                        echo "\$ bash -c \$PROG   # qemu-aarch64 registered without F, interpreter missing" >>"$OUT"
                        bash -c "$PROG" >>"$OUT" 2>&1
                        true'
        else
                skip $name "private binfmt_misc instances unavailable"
        fi
fi

# 3. Registration errors: the same name twice (EEXIST), a malformed line (EINVAL).
name=binfmt-register-errors
start $name
if private_binfmt_ok; then
        in_private_instance $name '
                echo "\$ echo \"\$AARCH64_NOF\" > register" >>"$OUT"
                bash -c "echo \"\$AARCH64_NOF\" > $d/register" >>"$OUT" 2>&1
                echo "\$ echo \"\$AARCH64_NOF\" > register   # again" >>"$OUT"
                bash -c "echo \"\$AARCH64_NOF\" > $d/register" >>"$OUT" 2>&1
                echo "\$ echo :broken > register" >>"$OUT"
                bash -c "echo :broken > $d/register" >>"$OUT" 2>&1
                true'
else
        skip $name "private binfmt_misc instances unavailable"
fi

# 4-8. qemu-user run by hand.
name=qemu-loader-missing
start $name
if need_cmd $name qemu-aarch64-static && need_file $name "$fix/debian/hello-arm64"; then
        run $name qemu-aarch64-static "$fix/debian/hello-arm64"
fi

name=qemu-sigill
start $name
if need_cmd $name qemu-arm-static && need_file $name "$fix/go/hello-arm-v7"; then
        # ARMv7 code on an ARMv6 CPU model; bash reports the signal after QEMU does.
        run $name bash -c "qemu-arm-static -cpu arm1176 $fix/go/hello-arm-v7"
fi

name=qemu-invalid-elf
start $name
if need_cmd $name qemu-aarch64-static && need_file $name "$fix/go/hello-amd64"; then
        run $name qemu-aarch64-static "$fix/go/hello-amd64"
fi

name=qemu-reserve-va
start $name
if need_cmd $name qemu-arm-static && need_file $name "$fix/go/hello-arm-v7"; then
        # a 32-bit guest reserves 4 GiB up front: 1 GB of address space holds the JIT buffer
        # (128 MiB, allocated first) but not the guest
        run $name bash -c "ulimit -v 1000000; qemu-arm-static $fix/go/hello-arm-v7"
fi

# 9-10. x86-64 levels on QEMU's qemu64 CPU model (x86-64-v1).
name=go-amd64-level
start $name
if need_cmd $name qemu-x86_64-static && need_file $name "$fix/go/hello-amd64-v3"; then
        run $name qemu-x86_64-static -cpu qemu64 "$fix/go/hello-amd64-v3"
fi

name=glibc-isa-level
start $name
if need_cmd $name qemu-x86_64-static && need_file $name "$fix/c/hello-amd64-v3"; then
        if [ -e /lib64/ld-linux-x86-64.so.2 ]; then
                run $name qemu-x86_64-static -cpu qemu64 "$fix/c/hello-amd64-v3"
        else
                skip $name "no amd64 loader on this host"
        fi
fi

# 11. A native dynamic binary whose loader is missing: PT_INTERP pointed elsewhere (same
# length, so the ELF layout is unchanged), and the real /bin/true in a chroot without /lib64.
name=loader-missing
start $name
if [ "$(uname -m)" = x86_64 ] && grep -q /lib64/ld-linux-x86-64.so.2 /bin/true 2>/dev/null; then
        perl -pe 's{/lib64/ld-linux-x86-64\.so\.2}{/nonexistent/ld-x86-64.so.2}' /bin/true \
                >"$work/true-noloader"
        chmod +x "$work/true-noloader"
        run $name bash -c "$work/true-noloader"
        mkdir -p "$work/root/bin"
        cp /bin/true "$work/root/bin/true"
        run $name unshare -r chroot "$work/root" /bin/true
else
        skip $name "needs an x86_64 host with a dynamic /bin/true"
fi

# 12. podman running an arm64 image on this host (no handler in the host's binfmt_misc).
name=podman-arm64
start $name
if need_cmd $name podman && need_cmd $name runc && need_file $name "$fix/go/hello-arm64"; then
        if [ "$(uname -m)" != x86_64 ]; then
                skip $name "needs an x86_64 host"
        elif [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
                skip $name "the host's binfmt_misc has a qemu-aarch64 handler: the image would run"
        else
                mkdir -p "$work/ctx"
                cp "$fix/go/hello-arm64" "$work/ctx/hello"
                tar -C "$work/ctx" -cf "$work/rootfs.tar" hello
                printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
                p="podman --root $work/storage --runroot $work/run --storage-driver vfs"
                if CONTAINERS_CONF="$work/containers.conf" $p import --arch arm64 \
                        --change 'ENTRYPOINT ["/hello"]' "$work/rootfs.tar" \
                        localhost/xarch-diagnose-arm64:latest >"$work/import.log" 2>&1; then
                        CONTAINERS_CONF="$work/containers.conf" run $name $p run --rm \
                                --runtime runc --ulimit host --net=none \
                                localhost/xarch-diagnose-arm64:latest
                        if ! grep -q 'exec format error' "$out/$name.log"; then
                                skip $name "the image ran (a handler appeared in the host's binfmt_misc?)"
                        fi
                        $p rmi -f localhost/xarch-diagnose-arm64:latest >/dev/null 2>&1
                else
                        skip $name "podman import failed: $(tail -n 1 "$work/import.log")"
                fi
        fi
fi
exit 0
