#!/bin/bash
# xarch file on #! scripts, with the kernel as the oracle: every script here is also executed,
# and the interpreter (and argument) xarch names must be the one the kernel ran, or, when xarch
# says the script is not runnable, the kernel must refuse it with ENOEXEC. The classes: a NUL in
# the line (the kernel stops there), a CR before the newline (kept: "/bin/sh\r"), a line longer
# than the 256 bytes the kernel reads (BINPRM_BUF_SIZE; runnable only when the interpreter path
# ends within them), no interpreter, spaces and tabs, no final newline. Names with a newline or
# other control bytes are quoted in human output.
set -eu
. "$(dirname "$0")/lib.sh"

# The interpreter every script names: prints the arguments it got, one per line, between [].
P=$TMPD/pr
printf '#!/bin/sh\nfor a in "$@"; do printf "[%%s]\\n" "$a"; done\n' >"$P"
chmod +x "$P"

# kernel SCRIPT: what exec does with it: the printed arguments, or the errno name
kernel() {
        python3 -c '
import errno, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], [sys.argv[1]])
    except OSError as e:
        print(errno.errorcode[e.errno])
    os._exit(0)
os.waitpid(pid, 0)' "$1"
}

# xarch_interp SCRIPT: the interpreter xarch names (JSON), or "problem: ..." when not runnable
xarch_interp() {
        "$XARCH" file --json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
assert d["type"] == "script", d
print("problem: " + d["problem"] if d["problem"] else d["interpreter"])'
}

# agree NAME BYTES... : writes the script with printf, runs both, compares
n=0
agree() {
        local title=$1
        shift
        n=$((n + 1))
        local s=$TMPD/s$n
        printf "$@" >"$s"
        chmod +x "$s"
        local k x
        k=$(kernel "$s")
        x=$(xarch_interp "$s")
        case $x in
        problem:*)
                if [ "$k" = ENOEXEC ]; then ok "$title: not runnable, and the kernel says ENOEXEC"
                elif [ -z "${x##*empty name*}" ] && [ -n "$k" ] && [ -z "${k//[A-Z]/}" ]; then
                        ok "$title: an empty interpreter name, and the kernel fails ($k)"
                else not_ok "$title: xarch says '$x', the kernel: $k"; fi
                ;;
        *)
                # the kernel ran xarch's interpreter: P printed the argument (if any) and the script
                local name=${x%% *} arg=
                [ "$name" != "$x" ] && arg=${x#* }
                local want
                if [ "$name" = "$P" ]; then
                        want=$( [ -n "$arg" ] && printf '[%s]\n' "$arg"; printf '[%s]' "$s")
                        if [ "$k" = "$want" ]; then ok "$title: interpreter '$x', as the kernel ran it"
                        else not_ok "$title: xarch says '$x', the kernel ran: $k"; fi
                elif [ "$k" = ENOENT ]; then
                        ok "$title: interpreter '$(printf '%q' "$x")' (absent), the kernel says ENOENT"
                else
                        not_ok "$title: xarch says '$(printf '%q' "$x")', the kernel: $k"
                fi
                ;;
        esac
}

agree "plain" '#!%s\necho\n' "$P"
agree "one argument" '#!%s -x\n' "$P"
agree "argument with spaces is one argument" '#!%s -a  b c \n' "$P"
agree "spaces and tabs around" '#! \t %s\t-a \t\n' "$P"
agree "tab separates" '#!%s\t-e\n' "$P"
agree "no final newline" '#!%s -n' "$P"
agree "NUL inside the path" '#!%s\0ignored\n' "$P"
agree "NUL inside the path, then a space" '#!%s\0 -x\n' "$P"
agree "NUL inside the argument" '#!%s -a\0b\n' "$P"
agree "NUL as the whole path" '#!\0%s\n' "$P"
agree "CR before the newline" '#!%s\r\n' "$P"
agree "CR after an argument" '#!%s -x\r\n' "$P"
agree "nothing after #!" '#!\n'
agree "only spaces" '#!    \n'
agree "only spaces to the kernel's limit" "#!%300s\n" ""
long=$(head -c 300 /dev/zero | tr '\0' a)
agree "interpreter path over 256 bytes" "#!/$long\n"
agree "argument over 256 bytes (path within)" "#!%s -$long\n" "$P"
agree "spaces over 256 bytes before the path" "#!%260s%s\n" "" "$P"
# the boundary: a 256-byte file of "#!/aaa..." has no byte left to end the path; 255 bytes do
agree "path filling all 256 bytes, no newline" "#!/$(head -c 253 /dev/zero | tr '\0' a)"
agree "path in 255 bytes, no newline" "#!/$(head -c 252 /dev/zero | tr '\0' a)"
agree "path of 253 bytes, then a newline at 256" "#!/$(head -c 252 /dev/zero | tr '\0' a)\n"

run_xarch file "$TMPD/s11"
expect_out '^[^ ]+: script, interpreter ".*/pr\\r"$' "a CR in the interpreter is shown escaped and quoted"
run_xarch file "$TMPD/s16"
expect_out 'script, not runnable: the #! interpreter path runs past the 256 bytes the kernel reads' \
        "an overlong #! path is said to be not runnable"

# ---- names that would forge lines or drive the terminal are quoted in human output ----
mkdir "$TMPD/names"
cp "$P" "$TMPD/names/$(printf 'evil\nx: ELF 64-bit LSB')"
cp "$P" "$TMPD/names/$(printf 'tab\there')"
cp "$P" "$TMPD/names/$(printf 'c1\302\233x')"
ln -s "$(printf 'target\nwith newline')" "$TMPD/names/link"
run_xarch file -r "$TMPD/names"
expect_rc 0 "file -r on hostile names exits 0"
expect_out '^"[^"]*/names/evil\\nx: ELF 64-bit LSB": script' "a newline in a name is shown as \\n, quoted"
expect_out '^"[^"]*/names/tab\\there": script' "a tab in a name is shown as \\t, quoted"
expect_out '^[^"]*/names/c1\?x: script' "a C1 control in a name is shown as '?' (by the stdout filter)"
expect_out '/names/link: symbolic link to "target\\nwith newline"$' "a link target with a newline is quoted"
check "one line per file (4), no forged line" test "$(wc -l <"$TMPD/out")" -eq 4
run_xarch file --json -r "$TMPD/names"
cp "$TMPD/out" "$TMPD/names.json"
check "--json keeps the names (JSON escapes them)" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(o["path"].rsplit("/", 1)[1] for o in d)
assert "evil\n" in "".join(names), names' "$TMPD/names.json"

done_testing
