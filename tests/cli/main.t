#!/bin/sh
# The dispatcher: help, version, unknown verbs.
set -eu
. "$(dirname "$0")/lib.sh"

run_xarch --help
expect_rc 0 "xarch --help exits 0"
expect_out '^  doctor ' "--help lists doctor"
run_xarch
expect_rc 2 "no verb is a usage error"
run_xarch frobnicate
expect_rc 2 "unknown verb exits 2"
expect_err "unknown verb 'frobnicate'" "unknown verb named in one line"
run_xarch --version
expect_out '^xarch [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"
# libcurl and its ~30 dependencies are loaded only when a registry is reached (curl-lazy.h):
# verbs that never touch the network must not pay for mapping them at start-up.
if command -v ldd >/dev/null; then
        if ldd "$XARCH" | grep -q libcurl; then not_ok "xarch does not link libcurl at start-up"; else
                ok "xarch does not link libcurl at start-up"; fi
else
        skip "ldd not available"
fi
done_testing
