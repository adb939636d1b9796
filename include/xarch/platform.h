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
 * os "linux". Malformed specifiers, and a lone part that is neither a known OS nor a known
 * architecture, fail with -EINVAL and a message that names what was wrong. Like containerd,
 * "os/arch" with an architecture nobody knows parses: xarch_arch_is_known() tells. */
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

/* ---- container runtimes ------------------------------------------------------------------
 *
 * Which manifest a node pulls depends on its runtime and that runtime's version (docs/
 * runtimes.md cites the source of each rule). A runtime is part of the node. */

enum xarch_runtime_kind {
        XARCH_RUNTIME_CONTAINERD = 0,
        XARCH_RUNTIME_CRIO,   /* CRI-O: containers/image's instance choice */
        XARCH_RUNTIME_DOCKER, /* dockerd */
};

struct xarch_runtime {
        enum xarch_runtime_kind kind;
        unsigned major, minor, patch; /* patch 0 when not given */
};

/* The platform matcher a runtime version uses (see docs/runtimes.md). */
enum xarch_matcher {
        XARCH_MATCHER_CONTAINERD_1_6,   /* containerd 1.6/1.7 (in-tree platforms, v0.2.1) */
        XARCH_MATCHER_CONTAINERD_RC0,   /* containerd 2.0.0-2.0.1 (containerd/platforms rc.0) */
        XARCH_MATCHER_CONTAINERD_RC1,   /* 2.0.2+, 2.1, 2.2 (rc.1, rc.2): arm64 table to v9.7 */
        XARCH_MATCHER_CONTAINERD_RC4,   /* 2.3 (rc.4): os.features must be the node's */
        XARCH_MATCHER_CONTAINERS_IMAGE, /* CRI-O: containers/image WantedPlatforms */
};

/* Longest formatted runtime including the NUL ("containerd-2.3.14"). */
#define XARCH_RUNTIME_STRING_MAX 48

/* The newest containerd xarch models (the default runtime). */
void xarch_runtime_default(struct xarch_runtime *ret);

/* Parses "containerd-1.7", "containerd-1.7.22", "cri-o-1.30", "docker-24", a bare
 * "containerd" (the default), and Kubernetes' status.nodeInfo.containerRuntimeVersion strings
 * ("containerd://1.7.22", "cri-o://1.30.1", "docker://24.0.7", a leading "v" and a suffix
 * such as "-rc.1" or "+k3s1" after the version are accepted). containerd before 1.6 fails with
 * -ERANGE, unknown runtimes and malformed versions with -EINVAL. */
int xarch_runtime_parse(const char *spec, struct xarch_runtime *ret, struct xarch_error **err);

/* "containerd-1.7" (patch shown when non-zero); the length or -ENOBUFS. */
int xarch_runtime_format(const struct xarch_runtime *rt, char *buf, size_t size);

enum xarch_matcher xarch_runtime_matcher(const struct xarch_runtime *rt);

/* Whether the runtime reads an index entry's missing platform from the whole config platform
 * (containerd 2.0+: images.ConfigPlatform) rather than only its os and architecture (1.6/1.7). */
bool xarch_runtime_config_variant(const struct xarch_runtime *rt);

/* Whether the runtime's platform parser accepts dots in a variant ("arm64/v8.2"): containerd
 * 2.0+ (platforms rc.0 specifierRe). */
bool xarch_runtime_variant_dots(const struct xarch_runtime *rt);

/* A candidate's rank for a node of platform `want` (normalised or not) running `rt`: 0 is the
 * best; -ENOENT when the runtime never takes it. n_os_features is the candidate's count of
 * platform.os.features (a node has none: containerd's DefaultSpec sets none on Linux). */
int xarch_runtime_rank(const struct xarch_runtime *rt, const struct xarch_platform *want,
                const struct xarch_platform *candidate, size_t n_os_features);

/* Like xarch_platform_parse, and refuses what the runtime's own parser refuses (dots in a
 * variant before containerd 2.0). */
int xarch_runtime_parse_platform(const struct xarch_runtime *rt, const char *spec,
                struct xarch_platform *ret, struct xarch_error **err);

#ifdef __cplusplus
}
#endif

#endif
