#!/bin/sh
# xarch binfmt, for real: a private binfmt_misc instance in a new user + mount namespace
# (Linux >= 6.7) with qemu-user-static and static Go binaries for arm64, riscv64 and s390x.
# The host's global table is never touched. The first half runs outside the namespace
# (usage, dry runs, export); the second half re-runs this script inside one.
set -eu
. "$(dirname "$0")/lib.sh"
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# run_prog FILE : runs a program, stdout+stderr in $TMPD/prog, status in $PRC
run_prog() {
        set +e
        "$@" >"$TMPD/prog" 2>&1
        PRC=$?
        set -e
}

# json_get EXPR: a python expression over 'd', the JSON the last status --json printed
# (saved, because check overwrites $TMPD/out)
json_get() {
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMPD/json"
}

have_qemu() { [ -x /usr/bin/qemu-aarch64-static ] && [ -x /usr/bin/qemu-riscv64-static ] &&
        [ -x /usr/bin/qemu-s390x-static ]; }

AARCH64_LINE=':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F'
X86_64_MAGIC='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00'
X86_64_MASK='\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

if [ -z "${XARCH_BINFMT_IN_NS:-}" ]; then
        # ---------------- outside: nothing here writes to any binfmt_misc ----------------
        run_xarch binfmt --help
        expect_rc 0 "binfmt --help exits 0"
        expect_out '^Usage: xarch binfmt' "--help prints usage"
        run_xarch binfmt frobnicate
        expect_rc 2 "unknown binfmt command is a usage error"
        expect_err "unknown command 'frobnicate'" "unknown command named in one line"
        run_xarch binfmt --bogus
        expect_rc 2 "unknown option is a usage error"
        expect_err "unknown option '--bogus'" "unknown option named in one line"
        run_xarch binfmt install
        expect_rc 2 "install without an architecture is a usage error"
        run_xarch binfmt install nosucharch
        expect_rc 2 "unknown architecture is a usage error"
        expect_err "unknown architecture 'nosucharch'" "unknown architecture named"
        run_xarch binfmt install all arm64
        expect_rc 2 "'all' with architectures is a usage error"
        run_xarch binfmt status --format systemd
        expect_rc 2 "--format outside export is a usage error"

        mkdir "$TMPD/unmounted"
        run_xarch binfmt --mount "$TMPD/unmounted" status
        expect_rc 0 "status of an unmounted directory exits 0"
        expect_out 'not mounted' "status says it is not mounted"
        run_xarch binfmt --mount "$TMPD/unmounted" status --json
        cp "$TMPD/out" "$TMPD/json"
        check "status --json of an unmounted directory: mounted false, no entries" \
                test "$(json_get 'd["mounted"], d["entries"]')" = "False []"

        case $(uname -m) in
        x86_64) native=x86_64 sibling=i386 ;;
        aarch64) native=aarch64 sibling=arm ;;
        *) native= sibling= ;;
        esac
        if [ -n "$native" ]; then
                run_xarch binfmt install --dry-run "$native"
                expect_rc 1 "the host's own family is refused"
                expect_err "in this host's family" "family refusal explained in one line"
                run_xarch binfmt install --dry-run --ignore-family "$native"
                expect_rc 1 "--ignore-family still refuses the host's own CPU"
                if [ -x "/usr/bin/qemu-$sibling-static" ]; then
                        run_xarch binfmt install --dry-run --ignore-family "$sibling"
                        expect_rc 0 "--ignore-family allows another member of the family"
                else
                        skip "qemu-$sibling-static not installed"
                fi
        else
                skip "family checks written for x86_64 and aarch64 hosts"
        fi

        if have_qemu; then
                run_xarch binfmt install --dry-run arm64
                expect_rc 0 "install --dry-run exits 0"
                check "--dry-run prints the exact register line" \
                        test "$(cat "$TMPD/out")" = "$AARCH64_LINE"
                run_xarch binfmt install --dry-run --preserve-argv0 --credential linux/arm/v7
                expect_out '^:qemu-arm:M::.*:/usr/bin/qemu-arm-static:POCF$' \
                        "flags P and C (with O) on request, platforms accepted"
                mkdir "$TMPD/qemu"
                printf '#!/bin/sh\n' >"$TMPD/qemu/qemu-riscv64"
                chmod 755 "$TMPD/qemu/qemu-riscv64"
                run_xarch binfmt install --dry-run --qemu-path "$TMPD/qemu" riscv64 s390x
                expect_out ":$TMPD/qemu/qemu-riscv64:F\$" "--qemu-path is searched first"
                expect_out ':/usr/bin/qemu-s390x-static:F$' "then the system's emulators"

                mkdir "$TMPD/systemd" "$TMPD/debian"
                run_xarch binfmt export --format systemd "$TMPD/systemd" arm64 riscv64
                expect_rc 0 "export --format systemd exits 0"
                check "binfmt.d file holds the register line" \
                        grep -qxF "$AARCH64_LINE" "$TMPD/systemd/qemu-aarch64.conf"
                check "one file per target" test -f "$TMPD/systemd/qemu-riscv64.conf"
                check "no temporary files left" \
                        test "$(ls -A "$TMPD/systemd" | wc -l)" -eq 2
                run_xarch binfmt export --format debian "$TMPD/debian" s390x
                expect_rc 0 "export --format debian exits 0"
                check "Debian format file has update-binfmts keys" \
                        grep -qx 'fix_binary yes' "$TMPD/debian/qemu-s390x"
                check "Debian format file names the interpreter" \
                        grep -qx 'interpreter /usr/bin/qemu-s390x-static' "$TMPD/debian/qemu-s390x"
                run_xarch binfmt export --format systemd "$TMPD/nonexistent" arm64
                expect_rc 1 "export into a missing directory fails"
                run_xarch binfmt export --format systemd "$TMPD/systemd" arm64 x86_64 ${native:+"$native"}
                if [ -n "$native" ]; then
                        expect_rc 1 "export validates every target first"
                        check "... and writes nothing when one fails" \
                                test "$(ls -A "$TMPD/systemd" | wc -l)" -eq 2
                fi
        else
                skip "qemu-user-static not installed (apt-get install qemu-user-static)"
        fi
        run_xarch binfmt export --format rpm "$TMPD"
        expect_rc 2 "unknown export format is a usage error"
        run_xarch binfmt export "$TMPD"
        expect_rc 2 "export without --format is a usage error"

        # ---------------- inside a private instance ----------------
        if ! command -v unshare >/dev/null ||
                ! unshare --user --map-root-user --mount sh -c \
                        'd=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d"; r=$?; rmdir "$d"; exit $r' \
                        >/dev/null 2>&1; then
                skip "no private binfmt_misc instance here: user namespaces not allowed, or binfmt_misc cannot be mounted in one (needs Linux >= 6.7)"
                done_testing
                exit
        fi
        if ! have_qemu; then
                skip "qemu-user-static not installed: no emulation tests"
                done_testing
                exit
        fi

        # The Go fixtures (hello from <arch>); built here if the fixture script has not.
        GO_DIR=${XARCH_FIXTURES:-}/go
        if [ ! -x "$GO_DIR/hello-arm64" ] || [ ! -x "$GO_DIR/hello-riscv64" ] ||
                [ ! -x "$GO_DIR/hello-s390x" ]; then
                GO_DIR=
                if command -v go >/dev/null; then
                        GO_DIR=${XARCH_BUILDDIR:-$TMPD}/binfmt-go
                        mkdir -p "$GO_DIR"
                        printf 'module example.com/hello\n\ngo 1.19\n' >"$GO_DIR/go.mod"
                        printf 'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n)\n\nfunc main() {\n\tfmt.Printf("hello from %%s\\n", runtime.GOARCH)\n}\n' >"$GO_DIR/main.go"
                        for a in arm64 riscv64 s390x; do
                                [ -x "$GO_DIR/hello-$a" ] ||
                                        (cd "$GO_DIR" && CGO_ENABLED=0 GOARCH=$a go build -o "hello-$a" .) ||
                                        GO_DIR=
                        done
                fi
        fi
        set +e
        XARCH_BINFMT_IN_NS=1 XB_N=$TEST_N XB_FAILED=$TEST_FAILED XB_GO=$GO_DIR \
                unshare --user --map-root-user --mount sh "$SELF"
        rc=$?
        set -e
        exit $rc
fi

# ---------------- inside: a new user + mount namespace ----------------
TEST_N=$XB_N
TEST_FAILED=$XB_FAILED
BM=$TMPD/bm
mkdir "$BM" "$TMPD/bm2"
trap 'umount "$TMPD/bm2" 2>/dev/null; umount "$BM" 2>/dev/null; rm -rf "$TMPD"' EXIT
mount -t binfmt_misc binfmt_misc "$BM"
x() { run_xarch binfmt --mount "$BM" "$@"; }

x status --json
cp "$TMPD/out" "$TMPD/json"
expect_rc 0 "status --json in the private instance"
check "it is mounted, not the host's namespace, a private instance, empty" \
        test "$(json_get 'd["mounted"], d["initial_user_namespace"], d["private_instance"], d["status"], len(d["entries"])')" = "True False True enabled 0"

if [ -n "$XB_GO" ]; then
        for a in arm64 riscv64 s390x; do
                run_prog "$XB_GO/hello-$a"
                if [ "$PRC" -ne 0 ] && ! grep -q 'hello from' "$TMPD/prog" && grep -qi 'exec format error' "$TMPD/prog"; then
                        ok "hello-$a fails with exec format error before install"
                else
                        not_ok "hello-$a ran before install (rc $PRC)"
                fi
        done
else
        skip "no Go toolchain or fixtures: cannot build the hello programs"
fi

x install arm64 riscv64 s390x
expect_rc 0 "install arm64 riscv64 s390x"
expect_out '^qemu-aarch64: installed \(/usr/bin/qemu-aarch64-static, flags F\)$' "per-arch result line"
expect_out '^qemu-s390x: installed' "s390x installed"
check "the registered entry is what the kernel shows" \
        grep -qx 'flags: F' "$BM/qemu-riscv64"

run_hellos() { # run_hellos WHEN
        if [ -z "$XB_GO" ]; then
                skip "no hello programs"
                return
        fi
        for a in arm64 riscv64 s390x; do
                run_prog "$XB_GO/hello-$a"
                if [ "$PRC" -eq 0 ] && grep -qx "hello from $a" "$TMPD/prog"; then
                        ok "hello-$a prints 'hello from $a' $1"
                else
                        not_ok "hello-$a $1 (rc $PRC)"
                        sed 's/^/#   /' "$TMPD/prog"
                fi
        done
}
run_hellos "after install"

x install arm64
expect_rc 0 "installing again is fine"
expect_out '^qemu-aarch64: already installed' "and says so"

x status
expect_rc 0 "status exits 0"
expect_out 'user-namespace instance' "status names the instance"
expect_out '^qemu-aarch64 +enabled +F +aarch64 +qemu +/usr/bin/qemu-aarch64-static \(static\)$' \
        "status row: state, flags, arch, kind, interpreter (static)"

# A conflicting entry of the same name is reported and left alone.
x uninstall s390x
expect_rc 0 "uninstall s390x"
expect_out '^qemu-s390x: removed$' "removed line"
printf '%s' ":qemu-s390x:M::\\x7f\\x45\\x4c\\x46\\x02\\x02\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x16:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff:/opt/other/qemu-s390x:" >"$BM/register"
x install s390x riscv64
expect_rc 1 "a different existing entry makes install fail"
expect_err 'qemu-s390x: a different entry is already registered \(interpreter /opt/other/qemu-s390x, flags none\); left alone, use --force' \
        "the conflict is explained in one line"
expect_out '^qemu-riscv64: already installed' "the other targets still get their result line"
check "the conflicting entry is untouched" grep -qx 'interpreter /opt/other/qemu-s390x' "$BM/qemu-s390x"
x install --force s390x
expect_rc 0 "--force replaces it"
expect_out '^qemu-s390x: replaced \(/usr/bin/qemu-s390x-static, flags F\)$' "replaced line"
check "the entry now uses the real emulator" grep -qx 'interpreter /usr/bin/qemu-s390x-static' "$BM/qemu-s390x"

# --force whose new registration the kernel refuses after the old entry was removed (flag F
# opens the interpreter at registration: the emulator is unlinked just before the write): the
# old entry is registered again, and the one error line says so.
S390X_MAGIC='\x7f\x45\x4c\x46\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16'
S390X_MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff'
mkdir "$TMPD/q"
x install --dry-run s390x
cp "$TMPD/out" "$TMPD/s390x.line"
x uninstall s390x
printf '%s' ":qemu-s390x:M::$S390X_MAGIC:$S390X_MASK:/opt/other/qemu-s390x:" >"$BM/register"
cp /usr/bin/qemu-s390x-static "$TMPD/q/qemu-s390x-static"
XARCH_TEST_UNLINK_BEFORE_REGISTER=$TMPD/q/qemu-s390x-static x install --force --qemu-path "$TMPD/q" s390x
expect_rc 1 "--force: a refused new registration fails"
expect_err 'qemu-s390x.*does not exist.*; the previous entry was restored \(interpreter /opt/other/qemu-s390x, flags none\)' \
        "--force: the error says the previous entry was restored"
check "--force: the previous entry is back" grep -qx 'interpreter /opt/other/qemu-s390x' "$BM/qemu-s390x"
# ... and when the old entry cannot be registered again either (flag F, its interpreter gone
# since), the line says that no entry is left
x uninstall s390x
cp /usr/bin/qemu-s390x-static "$TMPD/q/old-s390x"
printf '%s' ":qemu-s390x:M::$S390X_MAGIC:$S390X_MASK:$TMPD/q/old-s390x:F" >"$BM/register"
rm "$TMPD/q/old-s390x"
cp /usr/bin/qemu-s390x-static "$TMPD/q/qemu-s390x-static"
XARCH_TEST_UNLINK_BEFORE_REGISTER=$TMPD/q/qemu-s390x-static x install --force --qemu-path "$TMPD/q" s390x
expect_rc 1 "--force: refused, and the old entry cannot come back"
expect_err 'restoring the previous entry \(interpreter .*/q/old-s390x, flags F\) failed too .*: no entry named qemu-s390x is registered now' \
        "--force: the error says no entry is left"
check "--force: no entry is left, as said" test ! -e "$BM/qemu-s390x"

# Installs of the same entry at once: each exits 0 (the one that meets EEXIST finds its entry
# in place). First the losing side made certain: the same entry is registered just before
# xarch's own write (as a concurrent install would), then several rounds of 6 real ones.
x uninstall s390x
XARCH_TEST_REGISTER_BEFORE="$(cat "$TMPD/s390x.line")" x install s390x
expect_rc 0 "an install that meets EEXIST from the same entry exits 0"
expect_out '^qemu-s390x: already installed' "and says it is installed"
x uninstall s390x
XARCH_TEST_REGISTER_BEFORE=":qemu-s390x:M::$S390X_MAGIC:$S390X_MASK:/opt/other/qemu-s390x:" x install s390x
expect_rc 1 "an install that meets EEXIST from a different entry fails"
expect_err "registering 'qemu-s390x': an entry with this name already exists" "and says so in one line"
bad=0
for round in 1 2 3 4 5; do
        x uninstall s390x >/dev/null 2>&1 || true
        pids=
        for k in 1 2 3 4 5 6; do
                "$XARCH" binfmt --mount "$BM" install s390x >"$TMPD/par$k" 2>&1 &
                pids="$pids $!"
        done
        for pid in $pids; do wait "$pid" || bad=$((bad + 1)); done
done
if [ $bad -eq 0 ]; then ok "30 concurrent installs of the same entry all exit 0"; else
        not_ok "concurrent installs of the same entry: $bad exited non-zero"; cat "$TMPD"/par* | sed 's/^/#   /' | head; fi
check "and the entry is in place" grep -qx 'interpreter /usr/bin/qemu-s390x-static' "$BM/qemu-s390x"

# Disable and enable.
x disable arm64
expect_rc 0 "disable arm64"
expect_out '^qemu-aarch64: disabled$' "disabled line"
check "the kernel shows it disabled" grep -qx disabled "$BM/qemu-aarch64"
if [ -n "$XB_GO" ]; then
        run_prog "$XB_GO/hello-arm64"
        if [ "$PRC" -ne 0 ]; then ok "a disabled entry does not run arm64"; else not_ok "disabled entry still ran"; fi
fi
x install arm64
expect_out 'already installed .*disabled' "install notices the entry is disabled"
x enable qemu-aarch64
expect_rc 0 "enable by entry name"
check "the kernel shows it enabled" grep -qx enabled "$BM/qemu-aarch64"
x enable nosuchentry
expect_rc 1 "enabling an unknown name fails"
x disable mips64le
expect_rc 1 "disabling an architecture that is not installed fails"
expect_err 'qemu-mips64el: not installed' "and says so"

# The global switch.
echo 0 >"$BM/status"
x status --json
cp "$TMPD/out" "$TMPD/json"
check "status --json shows the global switch off" test "$(json_get 'd["status"]')" = disabled
x status
expect_out '^status: +disabled' "status shows the global switch off"
echo 1 >"$BM/status"

# Non-QEMU handlers: Rosetta-like (x86_64 magic) and WSL-like (MZ), dummy interpreters.
mkdir "$TMPD/rosetta"
printf '#!/bin/sh\nexit 0\n' >"$TMPD/rosetta/rosetta"
printf '#!/bin/sh\nexit 0\n' >"$TMPD/init"
chmod 755 "$TMPD/rosetta/rosetta" "$TMPD/init"
# On an x86_64 host the x86_64 magic would hand every native program to the dummy, so the
# entry is disabled at once, by shell builtins, before anything else is executed.
printf '%s' ":rosetta:M::$X86_64_MAGIC:$X86_64_MASK:$TMPD/rosetta/rosetta:OCF" >"$BM/register"
echo 0 >"$BM/rosetta"
printf '%s' ":WSLInterop:M::MZ::$TMPD/init:PF" >"$BM/register"
x status --json
cp "$TMPD/out" "$TMPD/json"
expect_rc 0 "status --json with foreign handlers"
check "Rosetta shown as rosetta, matching x86_64, flags OCF" \
        test "$(json_get '[(e["kind"], e["arch"], e["oci_arch"], e["flags"], e["enabled"]) for e in d["entries"] if e["name"] == "rosetta"][0]')" = "('rosetta', 'x86_64', 'amd64', 'OCF', False)"
check "WSLInterop shown as another handler, no architecture, no mask" \
        test "$(json_get '[(e["kind"], e["arch"], e["flags"], e["magic"], e["mask"]) for e in d["entries"] if e["name"] == "WSLInterop"][0]')" = "('other', None, 'PF', '4d5a', None)"
check "QEMU entries: pinned, static interpreter that exists" \
        test "$(json_get '[(e["pinned"], e["interpreter_exists"], e["interpreter_static"]) for e in d["entries"] if e["name"] == "qemu-riscv64"][0]')" = "(True, True, True)"
x status
expect_out '^rosetta +disabled +OCF +x86_64 +rosetta ' "status row for Rosetta"
expect_out '^WSLInterop +enabled +PF +- +other ' "status row for WSL"

# uninstall all: QEMU entries only.
x uninstall --dry-run all
expect_rc 0 "uninstall --dry-run all"
expect_out "^echo -1 > $BM/qemu-aarch64\$" "dry run prints what it would write"
check "dry run removed nothing" test -e "$BM/qemu-aarch64"
x uninstall all
expect_rc 0 "uninstall all"
check "QEMU entries are gone" test ! -e "$BM/qemu-aarch64" -a ! -e "$BM/qemu-riscv64" -a ! -e "$BM/qemu-s390x"
check "Rosetta and WSL entries are kept" test -e "$BM/rosetta" -a -e "$BM/WSLInterop"
if [ -n "$XB_GO" ]; then
        for a in arm64 riscv64 s390x; do
                run_prog "$XB_GO/hello-$a"
                if [ "$PRC" -ne 0 ] && grep -qi 'exec format error' "$TMPD/prog"; then
                        ok "hello-$a fails with exec format error after uninstall"
                else
                        not_ok "hello-$a after uninstall (rc $PRC)"
                fi
        done
fi
x uninstall rosetta WSLInterop
expect_rc 0 "a non-QEMU entry is removed when named exactly"
check "both gone" test ! -e "$BM/rosetta" -a ! -e "$BM/WSLInterop"
x uninstall arm64
expect_rc 0 "uninstalling what is not installed is fine"
expect_out '^qemu-aarch64: not installed$' "and says so"
x uninstall nosuchthing
expect_rc 1 "uninstalling an unknown name fails"

# C is on request, with a warning; the kernel shows C with O.
x install --credential riscv64
expect_rc 0 "install --credential"
expect_err 'warning: flag C .*run the emulator as root' "one warning line about setuid binaries"
check "the kernel shows OCF" grep -qx 'flags: OCF' "$BM/qemu-riscv64"
x uninstall riscv64

# Everything is validated before the first write.
x install arm64 nosucharch
expect_rc 2 "an unknown architecture among good ones is a usage error"
check "... and nothing was registered" test ! -e "$BM/qemu-aarch64"
case $(uname -m) in
x86_64 | aarch64)
        x install arm64 riscv64 "$(uname -m)"
        expect_rc 1 "the host's family among good targets fails"
        check "... and nothing was registered" test ! -e "$BM/qemu-aarch64" -a ! -e "$BM/qemu-riscv64"
        ;;
esac

# install mounts binfmt_misc when the directory is not mounted yet.
run_xarch binfmt --mount "$TMPD/bm2" install arm64
expect_rc 0 "install on an unmounted directory"
expect_out "^mounted binfmt_misc on $TMPD/bm2\$" "mounts it first"
check "the entry is there" test -e "$TMPD/bm2/qemu-aarch64"
run_hellos_arm64() {
        [ -n "$XB_GO" ] || return 0
        run_prog "$XB_GO/hello-arm64"
        if grep -qx "hello from arm64" "$TMPD/prog"; then ok "arm64 runs through the new mount"; else not_ok "arm64 through the new mount"; fi
}
run_hellos_arm64
run_xarch binfmt --mount "$TMPD/bm2" uninstall all
expect_rc 0 "and uninstall all there"
done_testing
