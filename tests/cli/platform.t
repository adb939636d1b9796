#!/bin/sh
# xarch platform: this host (checked against uname, getconf and the kernel's CPU flags), and
# containerd's normalisation, vectors and manifest selection through the CLI.
set -eu
. "$(dirname "$0")/lib.sh"

# json FILE PYTHON-EXPR : prints EXPR evaluated with d = the parsed document (strings raw,
# everything else as JSON, so null prints as null)
json() {
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
# same "title" GOT WANT
same() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', wanted '$3')"; fi; }

# ---- usage -----------------------------------------------------------------------------------
run_xarch platform --help
expect_rc 0 "platform --help exits 0"
expect_out '^Usage: xarch platform' "platform --help prints usage"
expect_out 'match WANT CANDIDATE' "--help documents match"
run_xarch help platform
expect_rc 0 "xarch help platform exits 0"
run_xarch platform --frobnicate
expect_rc 2 "unknown option exits 2"
expect_err "unknown option '--frobnicate'" "unknown option named on one line"
run_xarch platform frobnicate
expect_rc 2 "unknown subcommand exits 2"
expect_err "unknown subcommand 'frobnicate'" "unknown subcommand named on one line"
run_xarch platform normalize
expect_rc 2 "normalize without SPEC exits 2"
run_xarch platform vector linux/amd64 linux/arm64
expect_rc 2 "vector takes one SPEC"
run_xarch platform match linux/amd64
expect_rc 2 "match without candidates exits 2"
run_xarch platform vector --strict linux/amd64
expect_rc 2 "--strict outside match exits 2"
expect_err "only applies to 'match'" "--strict misuse explained"

# ---- this host -------------------------------------------------------------------------------
run_xarch platform --json
expect_rc 0 "platform --json exits 0"
cp "$TMPD/out" "$TMPD/host.json"
same "machine is uname -m" "$(json "$TMPD/host.json" "d['machine']")" "$(uname -m)"
same "page size is getconf PAGESIZE" "$(json "$TMPD/host.json" "d['page_size']")" "$(getconf PAGESIZE)"
same "os is linux" "$(json "$TMPD/host.json" "d['os']")" linux
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
if [ -n "$model" ]; then
        same "CPU model from /proc/cpuinfo" "$(json "$TMPD/host.json" "d['cpu_model']")" "$model"
else
        skip "no model name in /proc/cpuinfo"
fi

case "$(uname -m)" in
x86_64)
        # The level glibc's loader computes from CPUID itself (its glibc-hwcaps list): an oracle
        # independent of xarch. /proc/cpuinfo is not one: some hypervisor kernels hide "abm".
        level=$(/lib64/ld-linux-x86-64.so.2 --help 2>/dev/null |
                sed -n 's/^ *x86-64-v\([0-9]\) (supported.*/\1/p' | sort -n | tail -1)
        level=${level:-1}
        same "architecture is amd64" "$(json "$TMPD/host.json" "d['architecture']")" amd64
        same "containerd's default has no amd64 variant" "$(json "$TMPD/host.json" "d['platform']")" \
                linux/amd64
        same "CPUID level equals glibc's" "$(json "$TMPD/host.json" "d['amd64_level']")" \
                "$level"
        if [ "$level" -gt 1 ]; then want="linux/amd64/v$level"; else want=linux/amd64; fi
        same "platform_with_level" "$(json "$TMPD/host.json" "d['platform_with_level']")" "$want"
        same "user address space is 47 bits" "$(json "$TMPD/host.json" "d['va_bits']")" 47
        run_xarch platform
        expect_rc 0 "platform (human) exits 0"
        expect_out "^x86-64 level: +v$level" "human output shows the level"
        expect_out "^with CPU level: +$want" "human output shows linux/amd64/vN"
        ;;
aarch64)
        same "arm64 host is linux/arm64/v8" "$(json "$TMPD/host.json" "d['platform']")" linux/arm64/v8
        same "no amd64 level on arm64" "$(json "$TMPD/host.json" "d['amd64_level']")" null
        ;;
*)
        skip "no host-specific expectations for $(uname -m)"
        ;;
esac

# ---- normalize -------------------------------------------------------------------------------
run_xarch platform normalize aarch64 linux/arm armhf armel x86_64 i386 linux/arm64/v8 \
        LINUX/AArch64/8 macos/amd64/v1 linux/arm64/9.0 linux/arm/5
expect_rc 0 "normalize exits 0"
printf '%s\n' linux/arm64 linux/arm/v7 linux/arm/v7 linux/arm/v6 linux/amd64 linux/386 \
        linux/arm64 linux/arm64 darwin/amd64 linux/arm64/v9 linux/arm/v5 >"$TMPD/want"
if cmp -s "$TMPD/out" "$TMPD/want"; then ok "normalize: containerd's table"; else
        not_ok "normalize: containerd's table"; diff "$TMPD/want" "$TMPD/out" | sed 's/^/#   /'; fi
run_xarch platform normalize --json linux/arm64/v8
same "normalize --json keeps containerd's parse" "$(json "$TMPD/out" "d[0]['parsed']")" linux/arm64/v8
same "normalize --json gives the normal form" "$(json "$TMPD/out" "d[0]['normalized']")" linux/arm64

for bad in 'linux/*:wildcards' 'linux/arm64/v8/x:more than 3 components' \
        'linux//v7:architecture part is empty' 'frob:unknown operating system or architecture' \
        'linux/am(d64:is not allowed in the architecture part' 'windows(10.0)/amd64:OS options' \
        'linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:longer than 31 characters'; do
        spec=${bad%%:*}
        msg=${bad#*:}
        run_xarch platform normalize linux/amd64 "$spec"
        expect_rc 2 "bad spec '$spec' exits 2"
        expect_err "$msg" "bad spec '$spec': one line naming the problem"
        [ ! -s "$TMPD/out" ] && ok "bad spec '$spec': no partial output" ||
                not_ok "bad spec '$spec': no partial output"
done

# ---- vector ----------------------------------------------------------------------------------
run_xarch platform vector linux/amd64/v3
expect_rc 0 "vector exits 0"
same "amd64/v3 vector" "$(tr '\n' ' ' <"$TMPD/out")" \
        "linux/amd64/v3 linux/amd64/v2 linux/amd64 linux/386 "
run_xarch platform vector linux/arm64/v8
same "arm64/v8 vector" "$(tr '\n' ' ' <"$TMPD/out")" \
        "linux/arm64 linux/arm/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5 "
run_xarch platform vector linux/arm/v7
same "arm/v7 vector" "$(tr '\n' ' ' <"$TMPD/out")" "linux/arm/v7 linux/arm/v6 linux/arm/v5 "
run_xarch platform vector --json linux/arm64/v9.1
same "arm64/v9.1 vector length" "$(json "$TMPD/out" "len(d['vector'])")" 13
same "arm64/v9.1 then v9, v8.6" "$(json "$TMPD/out" "' '.join(d['vector'][1:4])")" \
        "linux/arm64/v9 linux/arm64/v8.6 linux/arm64/v8.5"
run_xarch platform vector linux/arm64/v10
expect_rc 0 "vector of an arm64 variant outside the table exits 0"
expect_out "^none: " "empty vector explained"
run_xarch platform vector --json linux/riscv64
same "riscv64: itself only" "$(json "$TMPD/out" "' '.join(d['vector'])")" linux/riscv64

# ---- match -----------------------------------------------------------------------------------
# oci.md §3.5, containerd column.
run_xarch platform match linux/arm64/v8 linux/arm64
expect_rc 0 "arm64 entry for linux/arm64/v8"
expect_out 'candidate 1, linux/arm64 \(rule: exact\)' "...by the exact rule"
run_xarch platform match linux/arm64 linux/arm64/v8
expect_out 'rule: normalized' "arm64/v8 entry for linux/arm64: normalized"
run_xarch platform match linux/arm64/v8 linux/amd64 linux/arm/v7 unknown/unknown
expect_rc 0 "arm64 node takes arm/v7"
expect_out 'candidate 2, linux/arm/v7 \(rule: fallback\)' "...as a fallback"
expect_out '^vector: +linux/arm64 > linux/arm/v8 > linux/arm/v7 > linux/arm/v6 > linux/arm/v5$' \
        "...printing the vector it used"
run_xarch platform match linux/amd64 linux/386
expect_out 'candidate 1, linux/386 \(rule: fallback\)' "amd64 node takes 386"
run_xarch platform match linux/arm64 linux/aarch64
expect_out 'rule: normalized' "aarch64 entry for linux/arm64: normalized"
run_xarch platform match linux/aarch64 linux/aarch64
expect_out 'rule: exact' "spelled like the request: exact"

# The best rank wins, ties keep index order.
run_xarch platform match --json linux/amd64/v3 linux/386 linux/amd64 linux/amd64/v2 linux/amd64/v2
expect_rc 0 "amd64/v3 match exits 0"
same "amd64/v3 picks the first amd64/v2" "$(json "$TMPD/out" "d['match']['index']")" 2
same "...by fallback" "$(json "$TMPD/out" "d['match']['rule']")" fallback
same "...ranks" "$(json "$TMPD/out" "' '.join(str(c['rank']) for c in d['candidates'])")" \
        "3 2 1 1"

# Strict mode.
run_xarch platform match --strict linux/amd64 linux/386
expect_rc 1 "strict: amd64 does not take 386"
expect_err "no match: a node of linux/amd64 would fail with 'no match for platform in manifest'" \
        "no match explained in one line"
run_xarch platform match linux/arm/v7 linux/arm/v6 --strict
expect_rc 1 "strict: arm/v7 does not take v6"
run_xarch platform match --strict linux/arm64 linux/arm64/v8
expect_rc 0 "strict: non-canonical arm64/v8 still matches"

# No match, attestations, host.
run_xarch platform match linux/amd64 linux/amd64/v2 unknown/unknown
expect_rc 1 "default amd64 node does not take amd64/v2"
run_xarch platform match --json unknown/unknown unknown/unknown
expect_rc 1 "unknown/unknown never matches"
same "JSON says no match" "$(json "$TMPD/out" "d['match']")" null
run_xarch platform match linux/amd64 linux/arm64 bogus
expect_rc 2 "a candidate without os/arch is a usage error"
expect_err "candidate 2: .*os/arch" "bad candidate named"
host=$(json "$TMPD/host.json" "d['platform']")
run_xarch platform match --json host linux/s390x "$host"
expect_rc 0 "host matches its own platform"
same "host picks its own entry" "$(json "$TMPD/out" "d['match']['index']")" 1
same "host match is exact" "$(json "$TMPD/out" "d['match']['rule']")" exact

done_testing
