#!/bin/sh
# Option errors, for every verb: exit 2 and ONE stderr line naming the option as it was written
# (a missing value is not an "unknown option"; a letter inside a cluster is named, not the word
# before it; a value given to a flag is said so).
set -eu
. "$(dirname "$0")/lib.sh"

# needs_value VERB OPTION
needs_value() {
        run_xarch "$1" "$2"
        expect_rc 2 "$1 $2 without a value exits 2"
        expect_err "^xarch $1: option '$2' needs a value" "$1 $2 without a value is named as such"
}
needs_value binfmt --mount
needs_value binfmt --qemu-path
needs_value binfmt --format
needs_value check --node
needs_value check --emulation
needs_value check --qemu-version
needs_value check --binfmt-mount
needs_value check -n
needs_value doctor --platform
needs_value doctor --mount
needs_value inspect --platform
needs_value inspect -p
needs_value verify --jobs
needs_value verify --ca

for verb in binfmt check diagnose doctor file inspect platform verify; do
        run_xarch "$verb" -Zh
        expect_rc 2 "$verb -Zh exits 2"
        expect_err "^xarch $verb: unknown option '-Z'" "$verb -Zh names -Z, not the verb"
        run_xarch "$verb" --json=yes
        expect_rc 2 "$verb --json=yes exits 2"
        expect_err "^xarch $verb: option '--json' takes no value" "$verb --json=yes says why"
        run_xarch "$verb" --no-such-option
        expect_rc 2 "$verb --no-such-option exits 2"
        expect_err "^xarch $verb: unknown option '--no-such-option' \(see 'xarch $verb --help'\)$" \
                "$verb --no-such-option named in one line"
        if [ -s "$TMPD/out" ]; then not_ok "$verb: nothing on stdout for a usage error"; else
                ok "$verb: nothing on stdout for a usage error"; fi
done

# the dispatcher itself: no verb is a usage error in one line, not the whole help on stderr
run_xarch
expect_rc 2 "no verb exits 2"
expect_err "^xarch: no verb given \(see 'xarch --help'\)$" "no verb: one line on stderr"

# output that cannot be written is a failure (exit 1, one line), not a silent success
if [ -c /dev/full ] && [ -w /dev/full ]; then
        for args in "platform" "diagnose --list --json" "--help"; do
                set +e
                # shellcheck disable=SC2086 # word splitting of args is wanted
                "$XARCH" $args >/dev/full 2>"$TMPD/err"
                RC=$?
                set -e
                expect_rc 1 "xarch $args > /dev/full exits 1"
                expect_err "^xarch: cannot write to standard output: " \
                        "xarch $args > /dev/full says so in one line"
        done
else
        skip "no writable /dev/full"
fi
# a write that fails once (EAGAIN, injected by strace) loses output but never sends anything
# else: what reached the file is a prefix of the real output (this once leaked heap bytes)
if command -v strace >/dev/null 2>&1; then
        mkdir "$TMPD/many"
        i=0
        while [ $i -lt 200 ]; do cp /bin/true "$TMPD/many/t$i"; i=$((i + 1)); done
        "$XARCH" file -r "$TMPD/many" >"$TMPD/good"
        set +e
        # (LeakSanitizer cannot run under ptrace: off for this one run of an ASan build)
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
                strace -f -o /dev/null -e trace=write -e inject=write:error=EAGAIN:when=1 \
                "$XARCH" file -r "$TMPD/many" >"$TMPD/partial" 2>"$TMPD/err"
        RC=$?
        set -e
        expect_rc 1 "a failed write to stdout exits 1"
        expect_err "^xarch: cannot write to standard output: Resource temporarily unavailable$" \
                "the failed write is named with its reason"
        check "what was written is a prefix of the real output" \
                cmp -n "$(wc -c <"$TMPD/partial")" "$TMPD/partial" "$TMPD/good"
else
        skip "strace not installed"
fi
# the reason survives a JSON document's own flush
set +e
"$XARCH" platform vector --json linux/arm64 >/dev/full 2>"$TMPD/err"
RC=$?
set -e
expect_rc 1 "platform --json > /dev/full exits 1"
expect_err "No space left on device" "platform --json > /dev/full names ENOSPC"
done_testing
