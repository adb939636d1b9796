# TAP helpers for the CLI tests (git's t/ style, much smaller). Source it, then call plan N or
# use the functions and finish with done_testing.
#   XARCH            the binary under test (set by scripts/test)
#   XARCH_FIXTURES   directory made by tests/fixtures/make-fixtures.sh
: "${XARCH:=$(cd "$(dirname "$0")/../.." && pwd)/build/xarch}"
: "${XARCH_FIXTURES:=$(cd "$(dirname "$0")/../.." && pwd)/build/fixtures}"
TEST_N=0
TEST_FAILED=0
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT

ok() { TEST_N=$((TEST_N + 1)); echo "ok $TEST_N - $*"; }
not_ok() { TEST_N=$((TEST_N + 1)); TEST_FAILED=$((TEST_FAILED + 1)); echo "not ok $TEST_N - $*"; }
skip() { TEST_N=$((TEST_N + 1)); echo "ok $TEST_N # skip $*"; }
diag() { echo "# $*"; }

# check "title" command...    : passes when the command exits 0
check() {
        title=$1; shift
        if "$@" >"$TMPD/out" 2>"$TMPD/err"; then ok "$title"; else
                not_ok "$title"; sed 's/^/#   /' "$TMPD/out" "$TMPD/err"; fi
}

# run_xarch ARGS...  : runs xarch, stdout in $TMPD/out, stderr in $TMPD/err, status in $RC
run_xarch() {
        set +e
        "$XARCH" "$@" >"$TMPD/out" 2>"$TMPD/err"
        RC=$?
        set -e
}

# expect_rc N "title"
expect_rc() {
        if [ "$RC" -eq "$1" ]; then ok "$2"; else
                not_ok "$2 (exit $RC, wanted $1)"; sed 's/^/#   /' "$TMPD/out" "$TMPD/err" | head -20; fi
}

# expect_out REGEX "title"   (grep -E against stdout)
expect_out() {
        if grep -Eq -- "$1" "$TMPD/out"; then ok "$2"; else
                not_ok "$2 (stdout lacks /$1/)"; sed 's/^/#   /' "$TMPD/out" | head -20; fi
}

# expect_err REGEX "title"   (grep -E against stderr; also checks stderr is one line)
expect_err() {
        if grep -Eq -- "$1" "$TMPD/err" && [ "$(wc -l <"$TMPD/err")" -eq 1 ]; then ok "$2"; else
                not_ok "$2 (stderr is not one line matching /$1/)"; sed 's/^/#   /' "$TMPD/err" | head -20; fi
}

done_testing() {
        echo "1..$TEST_N"
        [ "$TEST_FAILED" -eq 0 ]
}
