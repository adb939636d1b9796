#!/bin/sh
# xarch file on real binaries (tests/fixtures/make-fixtures.sh), compared with file(1).
set -eu
. "$(dirname "$0")/lib.sh"

F=$XARCH_FIXTURES

run_xarch file --help
expect_rc 0 "file --help exits 0"
expect_out '^SYNOPSIS' "file --help is man-style"
run_xarch file
expect_rc 2 "file without a path is a usage error"
expect_err "no path given" "missing path named in one line"
run_xarch file --frobnicate /
expect_rc 2 "unknown option exits 2"
expect_err "unknown option '--frobnicate'" "unknown option named in one line"

run_xarch file "$TMPD/does-not-exist"
expect_rc 1 "a missing named path exits 1"
expect_err "cannot stat '.*does-not-exist'" "missing path reported in one line"

if [ ! -f "$F/go/hello-arm64" ]; then
        skip "fixtures missing in $F (run tests/fixtures/make-fixtures.sh $F)"
        done_testing
        exit 0
fi

run_xarch file "$F/go/hello-arm64" "$F/go/hello-arm64-stripped"
expect_rc 0 "Go arm64 analysed"
expect_out "^$F/go/hello-arm64: ELF 64-bit LSB, linux/arm64, static, Go go1.19.8 \(GOARCH=arm64\), not stripped, with debug_info$" \
        "Go arm64 line"
expect_out "^$F/go/hello-arm64-stripped: ELF 64-bit LSB, linux/arm64, static, Go go1.19.8 \(GOARCH=arm64\), stripped$" \
        "stripped Go arm64 line"

run_xarch file "$F/go/hello-arm-v6" "$F/go/hello-amd64-v3" "$F/go/hello-s390x"
expect_out "hello-arm-v6: ELF 32-bit LSB, linux/arm/v6 .*GOARM=6" "GOARM=6 gives arm/v6"
expect_out "hello-amd64-v3: ELF 64-bit LSB, linux/amd64/v3, .*GOAMD64=v3" "GOAMD64=v3 gives amd64/v3"
expect_out "hello-s390x: ELF 64-bit MSB, linux/s390x, static, Go go1.19.8" "big-endian s390x"

if [ -f "$F/c/hello-armhf" ]; then
        run_xarch file "$F/c/hello-armhf"
        expect_out "linux/arm/v7 \(EABI5 hard-float\), dynamic pie \(interpreter /lib/ld-linux-armhf.so.3\)" \
                "cross gcc armhf: arm/v7 from .ARM.attributes, loader"
else
        skip "c/hello-armhf missing (gcc-arm-linux-gnueabihf)"
fi
if [ -f "$F/rust/hello" ]; then
        run_xarch file "$F/rust/hello"
        expect_out "Rust \(rustc version [0-9.]+" "Rust found"
else
        skip "rust/hello missing (rustc)"
fi
run_xarch file "$F/misc/hello.sh" "$F/misc/pe-arm64.exe" "$F/misc/macho-fat" "$F/misc/text.txt"
expect_out "hello.sh: script, interpreter /bin/sh$" "script named as such"
expect_out "pe-arm64.exe: PE32\+, windows/arm64$" "PE named as such"
expect_out "macho-fat: Mach-O universal binary with 2 architectures: darwin/amd64, darwin/arm64$" \
        "fat Mach-O named as such"
expect_out "text.txt: data$" "text is data"

# Architecture answers agree with file(1) for every ELF fixture.
if command -v file >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
        find "$F" -type f -not -path '*/src*' -not -path '*/debs/*' | sort >"$TMPD/list"
        # shellcheck disable=SC2046
        "$XARCH" file --json $(cat "$TMPD/list") >"$TMPD/json" 2>/dev/null || true
        python3 -c '
import json, sys
for o in json.load(open(sys.argv[1])):
    if o["type"] == "elf" and not o.get("problem"):
        print(o["path"] + "\t" + o["machine_name"] + "\t" + str(o["bits"]) + "-bit " + ("MSB" if o["byte_order"] == "big" else "LSB"))
' "$TMPD/json" >"$TMPD/ours"
        mismatches=0
        total=0
        while IFS='	' read -r path machine cls; do
                total=$((total + 1))
                theirs=$(file -b "$path")
                tm=$(echo "$theirs" | cut -d, -f2 | sed 's/^ //')
                case $theirs in "ELF $cls"*) ;; *) tm="class mismatch: $theirs" ;; esac
                if [ "$tm" != "$machine" ]; then
                        diag "$path: xarch '$machine' ($cls), file(1) '$tm'"
                        mismatches=$((mismatches + 1))
                fi
        done <"$TMPD/ours"
        if [ "$mismatches" -eq 0 ] && [ "$total" -ge 10 ]; then
                ok "architecture agrees with file(1) for all $total ELF fixtures"
        else
                not_ok "architecture agrees with file(1) ($mismatches of $total differ)"
        fi
else
        skip "file(1) or python3 missing"
fi

# JSON: an array with stable fields.
run_xarch file --json "$F/go/hello-arm-v7"
expect_rc 0 "--json exits 0"
if python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))[0]
assert o["platform"] == "linux/arm/v7", o
assert o["architecture"] == "arm" and o["variant"] == "v7" and o["variant_source"] == "go"
assert o["linkage"] == "static" and o["language"] == "go" and o["stripped"] is False
assert o["go"]["version"] == "go1.19.8" and o["go"]["goarch"] == "arm"
assert o["go"]["level_key"] == "GOARM" and o["go"]["level"] == "7"
assert o["go"]["cgo_enabled"] is False and "buildinfo" in o["go"]["evidence"]
' "$TMPD/out" 2>"$TMPD/pyerr"; then ok "--json fields"; else not_ok "--json fields"; sed 's/^/#   /' "$TMPD/pyerr"; fi

# -r walks a tree, reports symlinks and special files, never follows directory links.
mkdir -p "$TMPD/tree/sub"
cp "$F/go/hello-riscv64" "$TMPD/tree/sub/"
ln -s sub/hello-riscv64 "$TMPD/tree/link"
ln -s /usr "$TMPD/tree/dirlink"
mkfifo "$TMPD/tree/fifo"
run_xarch file -r "$TMPD/tree"
expect_rc 0 "-r exits 0"
expect_out "/tree/sub/hello-riscv64: ELF 64-bit LSB, linux/riscv64 .*Go go1.19.8" "-r finds files in subdirectories"
expect_out "/tree/link: symbolic link to sub/hello-riscv64$" "-r reports symlinks"
expect_out "/tree/dirlink: symbolic link to /usr$" "-r does not follow directory symlinks"
expect_out "/tree/fifo: fifo \(named pipe\)$" "a fifo does not hang the walk"
if [ "$(wc -l <"$TMPD/out")" -eq 4 ]; then ok "-r prints one line per entry"; else not_ok "-r prints one line per entry"; fi
run_xarch file -L "$TMPD/tree/link"
expect_out "link: ELF 64-bit LSB, linux/riscv64" "-L follows a named symlink"

# Unreadable entries are skipped with a warning; only named paths decide the exit status.
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        chmod 755 "$TMPD" "$TMPD/tree"
        mkdir -p "$TMPD/tree/locked"
        cp "$F/misc/hello.sh" "$TMPD/tree/secret"
        chmod 000 "$TMPD/tree/secret" "$TMPD/tree/locked"
        set +e
        setpriv --reuid=65534 --regid=65534 --clear-groups "$XARCH" file -r "$TMPD/tree" \
                >"$TMPD/out" 2>"$TMPD/err"
        RC=$?
        set -e
        expect_rc 0 "walk with unreadable entries exits 0"
        if grep -q "cannot open '$TMPD/tree/secret'" "$TMPD/err" &&
                grep -q "cannot open directory '$TMPD/tree/locked'" "$TMPD/err"; then
                ok "unreadable file and directory each get a warning line"
        else
                not_ok "unreadable entries warned about"
                sed 's/^/#   /' "$TMPD/err"
        fi
        expect_out "/tree/sub/hello-riscv64: ELF" "the walk continues past unreadable entries"
        set +e
        setpriv --reuid=65534 --regid=65534 --clear-groups "$XARCH" file "$TMPD/tree/secret" \
                >"$TMPD/out" 2>"$TMPD/err"
        RC=$?
        set -e
        expect_rc 1 "an unreadable named path exits 1"
        expect_err "cannot open '.*secret': Permission denied" "unreadable named path in one line"
else
        skip "setpriv or root missing: cannot make unreadable files"
        skip "setpriv or root missing"
        skip "setpriv or root missing"
        skip "setpriv or root missing"
        skip "setpriv or root missing"
fi

# A 2 GB file: only headers and a few sections are read, memory stays small.
if [ -x /usr/bin/time ]; then
        cp "$F/go/hello-arm64" "$TMPD/big"
        truncate -s 2G "$TMPD/big"
        cp "$F/misc/elf64-ppc64-be" "$TMPD/big2"
        truncate -s 2G "$TMPD/big2"
        set +e
        /usr/bin/time -f '%M' -o "$TMPD/rss" "$XARCH" file "$TMPD/big" "$TMPD/big2" >"$TMPD/out" 2>"$TMPD/err"
        RC=$?
        set -e
        expect_rc 0 "2 GB files analysed"
        expect_out "big: ELF 64-bit LSB, linux/arm64, static, Go go1.19.8" "2 GB Go binary"
        expect_out "big2: ELF 64-bit MSB, linux/ppc64" "2 GB sparse header-only file"
        rss=$(tail -n 1 "$TMPD/rss")
        if [ "$rss" -lt 32768 ]; then ok "peak RSS ${rss} KiB < 32 MiB on 2 GB files"; else
                not_ok "peak RSS ${rss} KiB on 2 GB files"; fi
else
        skip "/usr/bin/time missing (apt-get install time)"
fi

done_testing
