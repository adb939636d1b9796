/* SPDX-License-Identifier: MIT */
#ifndef XARCH_PLATFORM_H
#define XARCH_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The OCI platform model shared by every verb, with containerd's (github.com/containerd/
 * platforms) parsing, normalisation and fallback order. Strings are bounded: longer fields are
 * rejected by the parser, never truncated.
 */

#define XARCH_PLATFORM_FIELD_MAX 32

struct xarch_platform {
        char os[XARCH_PLATFORM_FIELD_MAX];
        char arch[XARCH_PLATFORM_FIELD_MAX];
        char variant[XARCH_PLATFORM_FIELD_MAX];
};

/* Longest formatted platform including the NUL: "os/arch/variant". */
#define XARCH_PLATFORM_STRING_MAX (3 * XARCH_PLATFORM_FIELD_MAX)

/* Parses "os", "arch", "os/arch" or "os/arch/variant" like containerd's platforms.Parse and
 * normalises the result: a lone OS gets the host's architecture, a lone architecture gets
 * os "linux". Unknown architectures and malformed specifiers fail with -EINVAL and a message
 * that names what was wrong. */
int xarch_platform_parse(const char *spec, struct xarch_platform *ret, struct xarch_error **err);

/* Splits without normalising (the raw fields of an index entry, say); same bounds and syntax
 * checks as xarch_platform_parse, case kept, and at least os/arch (-EINVAL for a lone part). */
int xarch_platform_parse_raw(
                const char *spec, struct xarch_platform *ret, struct xarch_error **err);

/* Normalises in place: lower-case; x86_64/x86-64 -> amd64 (v1 -> no variant); aarch64 -> arm64
 * (8, v8, v8.0 -> no variant; 9, 9.0 -> v9); armhf -> arm/v7; armel -> arm/v6; arm with no
 * variant or 7 -> arm/v7; i386 -> 386; macos -> darwin. */
void xarch_platform_normalize(struct xarch_platform *p);

/* Formats "os/arch[/variant]" into buf; returns the length or -ENOBUFS. */
int xarch_platform_format(const struct xarch_platform *p, char *buf, size_t size);

bool xarch_platform_equal(const struct xarch_platform *a, const struct xarch_platform *b);

/* Whether containerd knows this architecture name (after normalisation). */
bool xarch_arch_is_known(const char *arch);

/* The ordered list of platforms a containerd node of platform `want` accepts, best first
 * (platformVector): e.g. amd64/v3 -> amd64/v3, amd64/v2, amd64, 386. Returns the count
 * written (at most max) or -ENOBUFS. */
int xarch_platform_vector(
                const struct xarch_platform *want, struct xarch_platform *out, size_t max);

enum xarch_match_rule {
        XARCH_MATCH_NONE = 0,
        XARCH_MATCH_EXACT,      /* identical strings */
        XARCH_MATCH_NORMALIZED, /* equal after normalisation (aarch64 == arm64/v8, ...) */
        XARCH_MATCH_FALLBACK,   /* a compatible platform further down the vector */
};

enum xarch_match_mode {
        XARCH_MATCH_MODE_DEFAULT, /* containerd platforms.Only: exact, then fallbacks */
        XARCH_MATCH_MODE_STRICT,  /* containerd platforms.OnlyStrict: no fallbacks */
};

const char *xarch_match_rule_name(enum xarch_match_rule rule);

/* Picks the candidate a containerd node of platform `want` would pull: the first candidate (in
 * index order) that matches the earliest entry of want's vector. Candidates are raw (as found
 * in an index). Returns the candidate's index, or -ENOENT when none matches. */
int xarch_platform_match(const struct xarch_platform *want, const struct xarch_platform *candidates,
                size_t n_candidates, enum xarch_match_mode mode, enum xarch_match_rule *ret_rule);

/* Exactly containerd's platforms.Parse, before Normalize: "linux/arm" gives arm with an empty
 * variant, "linux/arm64/v8" keeps v8. xarch_platform_parse is this followed by
 * xarch_platform_normalize. */
int xarch_platform_parse_containerd(
                const char *spec, struct xarch_platform *ret, struct xarch_error **err);

/* Like xarch_platform_match; `spelling` (may be NULL) is want as the user wrote it (raw fields,
 * see xarch_platform_parse_raw), so that a candidate spelled the same way also counts as
 * EXACT. */
int xarch_platform_match_spelled(const struct xarch_platform *want,
                const struct xarch_platform *spelling, const struct xarch_platform *candidates,
                size_t n_candidates, enum xarch_match_mode mode, enum xarch_match_rule *ret_rule);

/* One candidate's rank for a node of `want`: its position in want's vector (0 = want itself;
 * strict mode has only position 0), or -ENOENT when it does not match at all (os or arch
 * "unknown" never matches). */
int xarch_platform_rank(const struct xarch_platform *want, const struct xarch_platform *candidate,
                enum xarch_match_mode mode);

/* The OCI architecture for a uname machine name ("x86_64" -> "amd64", "armv7l" -> "arm",
 * "i686" -> "386"), or NULL when unknown. */
const char *xarch_arch_from_machine(const char *machine);

/* What this host is. */
struct xarch_host {
        struct xarch_platform platform; /* as containerd's DefaultSpec: variant on arm/arm64 only */
        char machine[65];               /* uname -m */
        int amd64_level;                /* 1..4 from CPUID on x86-64 hosts, 0 elsewhere */
        char cpu_model[128];            /* /proc/cpuinfo model name, "" if unknown */
        unsigned page_size;
        unsigned va_bits; /* user virtual-address bits where known (arm64: 39/47/48/52), else 0 */
};

/* Detects the host. Never fails on an unusual /proc: unknown fields stay empty/zero. */
int xarch_host_detect(struct xarch_host *ret, struct xarch_error **err);

/* "linux/amd64/v3" style: the host platform with the x86-64 level as variant (v1 omitted). */
int xarch_host_format_with_level(const struct xarch_host *host, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
