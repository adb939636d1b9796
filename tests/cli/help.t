#!/bin/sh
# Every verb that 'xarch --help' lists: '--help' exits 0 with a Usage: line on stdout and nothing
# on stderr, and docs/man/xarch-VERB.md exists and mentions every long option the help lists.
set -eu
. "$(dirname "$0")/lib.sh"

MAN=$(cd "$(dirname "$0")/../.." && pwd)/docs/man

run_xarch --help
expect_rc 0 "xarch --help exits 0"
expect_out '^Usage: xarch VERB' "xarch --help has a Usage: line"
verbs=$(awk '/^Verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }' "$TMPD/out")
if [ -z "$verbs" ]; then
        not_ok "xarch --help lists verbs"
else
        ok "xarch --help lists verbs: $(echo $verbs)"
fi

for verb in $verbs; do
        run_xarch "$verb" --help
        expect_rc 0 "$verb --help exits 0"
        expect_out '^Usage: xarch '"$verb"'( |$)' "$verb --help has a Usage: line"
        if [ -s "$TMPD/err" ]; then not_ok "$verb --help writes nothing on stderr"; else
                ok "$verb --help writes nothing on stderr"; fi
        cp "$TMPD/out" "$TMPD/help"
        run_xarch help "$verb"
        if [ "$RC" -eq 0 ] && cmp -s "$TMPD/out" "$TMPD/help"; then
                ok "xarch help $verb is $verb --help"
        else
                not_ok "xarch help $verb is $verb --help (exit $RC)"
        fi
        page=$MAN/xarch-$verb.md
        if [ ! -f "$page" ]; then
                not_ok "docs/man/xarch-$verb.md exists"
                continue
        fi
        ok "docs/man/xarch-$verb.md exists"
        missing=
        for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$TMPD/help" | sort -u); do
                grep -qF -- "$opt" "$page" || missing="$missing $opt"
        done
        if [ -z "$missing" ]; then
                ok "xarch-$verb.md mentions every long option of $verb --help"
        else
                not_ok "xarch-$verb.md lacks:$missing"
        fi
done
done_testing
