/* SPDX-License-Identifier: MIT */
/*
 * The OCI platform model with containerd's semantics (github.com/containerd/platforms):
 * Parse (platforms.go), normalizeOS/normalizeArch (database.go), platformVector, Only and
 * OnlyStrict (compare.go). See ../shared/reference/oci.md §3.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xarch/platform.h"
#include "macro.h"
#include "platform/default-spec.h"
#include "platform/platform-internal.h"

/* Go's syslist, as containerd's isKnownOS and isKnownArch. */
static const char *const known_os[] = {
                "aix",
                "android",
                "darwin",
                "dragonfly",
                "freebsd",
                "hurd",
                "illumos",
                "ios",
                "js",
                "linux",
                "nacl",
                "netbsd",
                "openbsd",
                "plan9",
                "solaris",
                "windows",
                "zos",
};

static const char *const known_arch[] = {
                "386",
                "amd64",
                "amd64p32",
                "arm",
                "armbe",
                "arm64",
                "arm64be",
                "ppc64",
                "ppc64le",
                "loong64",
                "mips",
                "mipsle",
                "mips64",
                "mips64le",
                "mips64p32",
                "mips64p32le",
                "ppc",
                "riscv",
                "riscv64",
                "s390",
                "s390x",
                "sparc",
                "sparc64",
                "wasm",
};

/* arm64 variants (normalised) that have a fallback chain, as {major, minor}: v8.0-v8.9 and
 * v9.0-v9.7 (arm64variantToVersion in containerd/platforms rc.1+). Any other arm64 variant has an
 * empty vector. */
static const struct {
        const char *variant;
        int major, minor;
} arm64_variants[] = {
                {"", 8, 0},
                {"v8.1", 8, 1},
                {"v8.2", 8, 2},
                {"v8.3", 8, 3},
                {"v8.4", 8, 4},
                {"v8.5", 8, 5},
                {"v8.6", 8, 6},
                {"v8.7", 8, 7},
                {"v8.8", 8, 8},
                {"v8.9", 8, 9},
                {"v9", 9, 0},
                {"v9.1", 9, 1},
                {"v9.2", 9, 2},
                {"v9.3", 9, 3},
                {"v9.4", 9, 4},
                {"v9.5", 9, 5},
                {"v9.6", 9, 6},
                {"v9.7", 9, 7},
};

/* Armv9.N carries the Armv8.(N+5) baseline; the v8 line stops at .9. */
#define ARM64_V9_TO_V8_OFFSET 5
#define ARM64_MAX_V8_MINOR    9

static bool in_list(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(s, list[i]))
                        return true;
        return false;
}

bool platform_os_is_known(const char *os) {
        return os && in_list(os, known_os, ELEMENTSOF(known_os));
}

bool xarch_arch_is_known(const char *arch) {
        return arch && in_list(arch, known_arch, ELEMENTSOF(known_arch));
}

bool go_atoi(const char *s, long long *ret) {
        bool negative = false;
        if (*s == '+' || *s == '-')
                negative = *s++ == '-';
        if (*s == '\0')
                return false;
        unsigned long long v = 0;
        const unsigned long long limit = negative ? (unsigned long long) LLONG_MAX + 1 : LLONG_MAX;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                unsigned digit = (unsigned) (*s - '0');
                if (v > (limit - digit) / 10)
                        return false;
                v = v * 10 + digit;
        }
        if (negative)
                *ret = v == (unsigned long long) LLONG_MAX + 1 ? LLONG_MIN : -(long long) v;
        else
                *ret = (long long) v;
        return true;
}

static void set_field(char field[XARCH_PLATFORM_FIELD_MAX], const char *value) {
        snprintf(field, XARCH_PLATFORM_FIELD_MAX, "%s", value);
}

static void lowercase(char *s) {
        for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char) (*s - 'A' + 'a');
}

/* normalizeOS: lower-case; "" -> runtime.GOOS; macos -> darwin. */
static void normalize_os(char os[XARCH_PLATFORM_FIELD_MAX]) {
        lowercase(os);
        if (os[0] == '\0')
                set_field(os, "linux");
        else if (streq(os, "macos"))
                set_field(os, "darwin");
}

/* normalizeArch at containerd/platforms HEAD (oci.md §3.2). */
static void normalize_arch(
                char arch[XARCH_PLATFORM_FIELD_MAX], char variant[XARCH_PLATFORM_FIELD_MAX]) {
        lowercase(arch);
        lowercase(variant);
        if (streq(arch, "i386")) {
                set_field(arch, "386");
                variant[0] = '\0';
        } else if (streq(arch, "x86_64") || streq(arch, "x86-64") || streq(arch, "amd64")) {
                set_field(arch, "amd64");
                if (streq(variant, "v1"))
                        variant[0] = '\0';
        } else if (streq(arch, "aarch64") || streq(arch, "arm64")) {
                set_field(arch, "arm64");
                if (streq(variant, "8") || streq(variant, "v8") || streq(variant, "v8.0"))
                        variant[0] = '\0';
                else if (streq(variant, "9") || streq(variant, "9.0") || streq(variant, "v9.0"))
                        set_field(variant, "v9");
        } else if (streq(arch, "armhf")) {
                set_field(arch, "arm");
                set_field(variant, "v7");
        } else if (streq(arch, "armel")) {
                set_field(arch, "arm");
                set_field(variant, "v6");
        } else if (streq(arch, "arm")) {
                if (streq(variant, "") || streq(variant, "7"))
                        set_field(variant, "v7");
                else if (streq(variant, "5") || streq(variant, "6") || streq(variant, "8")) {
                        char v[3] = {'v', variant[0], '\0'};
                        set_field(variant, v);
                }
        }
}

static void terminate(struct xarch_platform *p) {
        p->os[XARCH_PLATFORM_FIELD_MAX - 1] = '\0';
        p->arch[XARCH_PLATFORM_FIELD_MAX - 1] = '\0';
        p->variant[XARCH_PLATFORM_FIELD_MAX - 1] = '\0';
}

void xarch_platform_normalize(struct xarch_platform *p) {
        if (!p)
                return;
        terminate(p);
        normalize_os(p->os);
        normalize_arch(p->arch, p->variant);
}

bool xarch_platform_equal(const struct xarch_platform *a, const struct xarch_platform *b) {
        return strncmp(a->os, b->os, XARCH_PLATFORM_FIELD_MAX) == 0 &&
               strncmp(a->arch, b->arch, XARCH_PLATFORM_FIELD_MAX) == 0 &&
               strncmp(a->variant, b->variant, XARCH_PLATFORM_FIELD_MAX) == 0;
}

int xarch_platform_format(const struct xarch_platform *p, char *buf, size_t size) {
        int n;
        const int max = XARCH_PLATFORM_FIELD_MAX - 1;
        if (!p || !buf)
                return -EINVAL;
        /* containerd's Format: "unknown" without an OS, path.Join (empty parts dropped) else. */
        if (p->os[0] == '\0')
                n = snprintf(buf, size, "unknown");
        else if (p->arch[0] == '\0')
                n = snprintf(buf, size, "%.*s", max, p->os);
        else if (p->variant[0] == '\0')
                n = snprintf(buf, size, "%.*s/%.*s", max, p->os, max, p->arch);
        else
                n = snprintf(buf, size, "%.*s/%.*s/%.*s", max, p->os, max, p->arch, max,
                                p->variant);
        if (n < 0 || (size_t) n >= size) {
                if (size > 0)
                        buf[0] = '\0';
                return -ENOBUFS;
        }
        return n;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* A short, printable rendering of untrusted input for error messages. */
static void quote(const char *s, size_t len, char *buf, size_t size) {
        const size_t shown_max = 40;
        size_t o = 0;
        for (size_t i = 0; i < len && i < shown_max && o + 5 < size; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c >= 0x20 && c < 0x7f)
                        buf[o++] = (char) c;
                else
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", c);
        }
        if (len > shown_max && o + 4 < size) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
}

static const char *const part_names[3] = {"OS", "architecture", "variant"};

struct spec_parts {
        size_t n;
        char part[3][XARCH_PLATFORM_FIELD_MAX]; /* as written (case kept) */
};

/* Splits "a[/b[/c]]" and checks syntax and bounds; never reads past the fourth component. */
static int split_spec(const char *spec, struct spec_parts *ret, struct xarch_error **err) {
        char shown[256];
        if (!spec)
                return xarch_error_set(err, EINVAL, "no platform given");

        size_t spec_len = strnlen(spec, 4 * XARCH_PLATFORM_FIELD_MAX + 1);
        quote(spec, spec_len, shown, sizeof(shown));
        if (spec[0] == '\0')
                return xarch_error_set(err, EINVAL,
                                "invalid platform '': expected os, arch, os/arch or "
                                "os/arch/variant");
        if (memchr(spec, '*', spec_len))
                return xarch_error_set(err, EINVAL,
                                "invalid platform '%s': wildcards are not supported", shown);

        struct spec_parts parts = {0};
        const char *p = spec;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                if (parts.n == 3)
                        return xarch_error_set(err, EINVAL,
                                        "invalid platform '%s': more than 3 components (expected "
                                        "os/arch/variant)",
                                        shown);
                const char *what =
                                slash || parts.n > 0 ? part_names[parts.n] : "OS or architecture";
                if (len == 0)
                        return xarch_error_set(err, EINVAL,
                                        "invalid platform '%s': the %s part is empty", shown, what);
                if (len >= XARCH_PLATFORM_FIELD_MAX) {
                        char part[64];
                        quote(p, len, part, sizeof(part));
                        return xarch_error_set(err, EINVAL,
                                        "invalid platform '%s': the %s part '%s' is longer than %d "
                                        "characters",
                                        shown, what, part, XARCH_PLATFORM_FIELD_MAX - 1);
                }
                for (size_t i = 0; i < len; i++) {
                        unsigned char c = (unsigned char) p[i];
                        if (c >= 'A' && c <= 'Z')
                                c = (unsigned char) (c - 'A' + 'a');
                        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                                        c == '-')
                                continue;
                        if (c == '.' && parts.n > 0)
                                continue;
                        if (c == '(' && parts.n == 0)
                                return xarch_error_set(err, EINVAL,
                                                "invalid platform '%s': OS options such as "
                                                "'windows(10.0.17763)' are not supported",
                                                shown);
                        char ch[8];
                        quote(p + i, 1, ch, sizeof(ch));
                        return xarch_error_set(err, EINVAL,
                                        "invalid platform '%s': character '%s' is not allowed in "
                                        "the %s "
                                        "part (allowed: a-z 0-9 _ -%s)",
                                        shown, ch, what, parts.n > 0 ? " ." : "");
                }
                memcpy(parts.part[parts.n], p, len);
                parts.part[parts.n][len] = '\0';
                parts.n++;
                if (!slash)
                        break;
                p = slash + 1;
        }
        *ret = parts;
        return 0;
}

int xarch_platform_parse_containerd(
                const char *spec, struct xarch_platform *ret, struct xarch_error **err) {
        struct spec_parts parts;
        int r = split_spec(spec, &parts, err);
        if (r < 0)
                return r;

        struct xarch_platform p = {0};
        set_field(p.os, parts.part[0]);
        normalize_os(p.os);

        switch (parts.n) {
        case 1:
                if (platform_os_is_known(p.os)) {
                        /* A lone OS: GOARCH, plus the CPU variant on arm unless it is v7. */
                        struct xarch_platform host;
                        host_default_platform(&host);
                        set_field(p.arch, host.arch);
                        if (streq(host.arch, "arm") && !streq(host.variant, "v7"))
                                set_field(p.variant, host.variant);
                        break;
                }
                set_field(p.arch, parts.part[0]);
                normalize_arch(p.arch, p.variant);
                if (streq(p.arch, "arm") && streq(p.variant, "v7"))
                        p.variant[0] = '\0';
                if (!xarch_arch_is_known(p.arch)) {
                        char shown[64];
                        quote(spec, strlen(parts.part[0]), shown, sizeof(shown));
                        return xarch_error_set(err, EINVAL,
                                        "invalid platform '%s': unknown operating system or "
                                        "architecture",
                                        shown);
                }
                set_field(p.os, "linux");
                break;
        case 2:
                set_field(p.arch, parts.part[1]);
                normalize_arch(p.arch, p.variant);
                if (streq(p.arch, "arm") && streq(p.variant, "v7"))
                        p.variant[0] = '\0';
                break;
        case 3:
                set_field(p.arch, parts.part[1]);
                set_field(p.variant, parts.part[2]);
                normalize_arch(p.arch, p.variant);
                if (streq(p.arch, "arm64") && p.variant[0] == '\0')
                        set_field(p.variant, "v8");
                break;
        }
        if (ret)
                *ret = p;
        return 0;
}

int xarch_platform_parse(const char *spec, struct xarch_platform *ret, struct xarch_error **err) {
        struct xarch_platform p;
        int r = xarch_platform_parse_containerd(spec, &p, err);
        if (r < 0)
                return r;
        /* containerd reads any two parts as os/arch, so "arm/v7" would be os "arm". People
         * write arch/variant far more often than an unknown OS, so xarch reads it that way. */
        struct xarch_platform as_arch = {0};
        memcpy(as_arch.arch, p.os, sizeof(as_arch.arch));
        xarch_platform_normalize(&as_arch);
        if (!platform_os_is_known(p.os) && xarch_arch_is_known(as_arch.arch) && p.arch[0] == 'v' &&
                        !xarch_arch_is_known(p.arch)) {
                struct xarch_platform fixed = {0};
                memcpy(fixed.os, "linux", sizeof("linux"));
                memcpy(fixed.arch, p.os, sizeof(fixed.arch));
                memcpy(fixed.variant, p.arch, sizeof(fixed.variant));
                p = fixed;
        }
        xarch_platform_normalize(&p);
        if (ret)
                *ret = p;
        return 0;
}

int xarch_platform_parse_raw(
                const char *spec, struct xarch_platform *ret, struct xarch_error **err) {
        struct spec_parts parts;
        int r = split_spec(spec, &parts, err);
        if (r < 0)
                return r;
        if (parts.n < 2) {
                char shown[64];
                quote(spec, strlen(spec), shown, sizeof(shown));
                return xarch_error_set(err, EINVAL,
                                "invalid platform '%s': an index entry needs os/arch[/variant]",
                                shown);
        }
        struct xarch_platform p = {0};
        set_field(p.os, parts.part[0]);
        set_field(p.arch, parts.part[1]);
        if (parts.n == 3)
                set_field(p.variant, parts.part[2]);
        if (ret)
                *ret = p;
        return 0;
}

/* ---- fallback vectors (platformVector) --------------------------------------------------- */

/* The number N of "vN" (or "N") as Go's Atoi(TrimPrefix(variant, "v")) reads it. */
static bool variant_number(const char *variant, long long *ret) {
        if (variant[0] == 'v')
                variant++;
        return go_atoi(variant, ret);
}

/* The number m when variant is exactly "v<m>" as strconv.Itoa spells it (what platformVector
 * generates), m >= 0. */
static bool variant_canonical_number(const char *variant, long long *ret) {
        if (variant[0] != 'v' || variant[1] < '0' || variant[1] > '9')
                return false;
        if (variant[1] == '0' && variant[2] != '\0')
                return false;
        return go_atoi(variant + 1, ret);
}

static int arm64_variant_index(const char *variant) {
        for (size_t i = 0; i < ELEMENTSOF(arm64_variants); i++)
                if (streq(variant, arm64_variants[i].variant))
                        return (int) i;
        return -1;
}

/* The arm64 part of the vector (before arm/v8..v5), as {major, minor} pairs. */
static size_t arm64_chain(int major, int minor, int chain[][2], size_t max) {
        size_t n = 0;
        if (major == 9) {
                for (int m = minor; m >= 0 && n < max; m--) {
                        chain[n][0] = 9;
                        chain[n++][1] = m;
                }
                minor += ARM64_V9_TO_V8_OFFSET;
                if (minor > ARM64_MAX_V8_MINOR)
                        minor = ARM64_MAX_V8_MINOR;
        }
        for (int m = minor; m >= 0 && n < max; m--) {
                chain[n][0] = 8;
                chain[n++][1] = m;
        }
        return n;
}

#define ARM64_CHAIN_MAX 32
#define ARM_FALLBACKS   4 /* arm/v8, v7, v6, v5 */

size_t platform_vector_length(const struct xarch_platform *want) {
        long long n;
        if (streq(want->arch, "amd64")) {
                if (variant_number(want->variant, &n) && n > 1)
                        return (unsigned long long) n + 1 > SIZE_MAX ? SIZE_MAX : (size_t) n + 1;
                return 2;
        }
        if (streq(want->arch, "arm")) {
                if (variant_number(want->variant, &n) && n > 5)
                        return (unsigned long long) n - 4 > SIZE_MAX ? SIZE_MAX : (size_t) n - 4;
                return 1;
        }
        if (streq(want->arch, "arm64")) {
                int i = arm64_variant_index(want->variant);
                if (i < 0)
                        return 0;
                int chain[ARM64_CHAIN_MAX][2];
                return arm64_chain(arm64_variants[i].major, arm64_variants[i].minor, chain,
                                       ELEMENTSOF(chain)) +
                       ARM_FALLBACKS;
        }
        return 1;
}

static void set_numbered_variant(char variant[XARCH_PLATFORM_FIELD_MAX], long long n) {
        snprintf(variant, XARCH_PLATFORM_FIELD_MAX, "v%lld", n);
}

/* Entry k of want's vector, normalised as containerd's NewMatcher normalises it. */
static bool vector_entry(const struct xarch_platform *want, size_t k, struct xarch_platform *out) {
        size_t len = platform_vector_length(want);
        if (k >= len)
                return false;
        *out = *want;
        if (k == 0)
                return true;
        long long n = 0;
        if (streq(want->arch, "amd64")) {
                if (k == len - 1) {
                        set_field(out->arch, "386");
                        out->variant[0] = '\0';
                } else {
                        variant_number(want->variant, &n);
                        set_numbered_variant(out->variant, n - (long long) k);
                }
        } else if (streq(want->arch, "arm")) {
                variant_number(want->variant, &n);
                set_numbered_variant(out->variant, n - (long long) k);
        } else if (streq(want->arch, "arm64")) {
                int i = arm64_variant_index(want->variant);
                int chain[ARM64_CHAIN_MAX][2];
                size_t n_chain = arm64_chain(arm64_variants[i].major, arm64_variants[i].minor,
                                chain, ELEMENTSOF(chain));
                if (k < n_chain) {
                        if (chain[k][1] == 0)
                                snprintf(out->variant, sizeof(out->variant), "v%d", chain[k][0]);
                        else
                                snprintf(out->variant, sizeof(out->variant), "v%d.%d", chain[k][0],
                                                chain[k][1]);
                } else {
                        set_field(out->arch, "arm");
                        set_numbered_variant(out->variant, 8 - (long long) (k - n_chain));
                }
        }
        xarch_platform_normalize(out);
        return true;
}

long long platform_vector_rank(
                const struct xarch_platform *want, const struct xarch_platform *candidate) {
        if (xarch_platform_equal(want, candidate))
                return platform_vector_length(want) > 0 ? 0 : -1;
        if (!streq(want->os, candidate->os))
                return -1;

        long long n, m;
        if (streq(want->arch, "amd64")) {
                bool chain = variant_number(want->variant, &n) && n > 1;
                if (streq(candidate->arch, "386") && candidate->variant[0] == '\0')
                        return chain ? n : 1;
                if (!chain || !streq(candidate->arch, "amd64"))
                        return -1;
                if (candidate->variant[0] == '\0')
                        m = 1; /* the generated "v1" normalises to no variant */
                else if (!variant_canonical_number(candidate->variant, &m) || m < 2)
                        return -1;
                return m <= n - 1 ? n - m : -1;
        }
        if (streq(want->arch, "arm")) {
                if (!variant_number(want->variant, &n) || n <= 5 ||
                                !streq(candidate->arch, "arm") ||
                                !variant_canonical_number(candidate->variant, &m))
                        return -1;
                return m >= 5 && m <= n - 1 ? n - m : -1;
        }
        /* Short vectors (arm64: at most 20 entries, others: 1): search them. */
        size_t len = platform_vector_length(want);
        for (size_t k = 1; k < len; k++) {
                struct xarch_platform e;
                if (vector_entry(want, k, &e) && xarch_platform_equal(&e, candidate))
                        return (long long) k;
        }
        return -1;
}

int xarch_platform_vector(
                const struct xarch_platform *want, struct xarch_platform *out, size_t max) {
        if (!want)
                return -EINVAL;
        struct xarch_platform w = *want;
        xarch_platform_normalize(&w);
        size_t len = platform_vector_length(&w);
        if (len > max || len > INT_MAX)
                return -ENOBUFS;
        for (size_t k = 0; k < len; k++)
                vector_entry(&w, k, &out[k]);
        return (int) len;
}

/* ---- matching (Only / OnlyStrict) ------------------------------------------------------- */

const char *xarch_match_rule_name(enum xarch_match_rule rule) {
        switch (rule) {
        case XARCH_MATCH_NONE:
                return "none";
        case XARCH_MATCH_EXACT:
                return "exact";
        case XARCH_MATCH_NORMALIZED:
                return "normalized";
        case XARCH_MATCH_FALLBACK:
                return "fallback";
        }
        return "unknown";
}

static bool raw_equal(const struct xarch_platform *raw, const struct xarch_platform *p) {
        struct xarch_platform a = *raw, b = *p;
        terminate(&a);
        terminate(&b);
        return xarch_platform_equal(&a, &b);
}

static long long rank_normalized(const struct xarch_platform *w, const struct xarch_platform *raw,
                enum xarch_match_mode mode) {
        struct xarch_platform c = *raw;
        xarch_platform_normalize(&c);
        /* BuildKit attestations (unknown/unknown) never match. */
        if (streq(c.os, "unknown") || streq(c.arch, "unknown"))
                return -1;
        if (mode == XARCH_MATCH_MODE_STRICT)
                return xarch_platform_equal(w, &c) ? 0 : -1;
        return platform_vector_rank(w, &c);
}

int xarch_platform_rank(const struct xarch_platform *want, const struct xarch_platform *candidate,
                enum xarch_match_mode mode) {
        if (!want || !candidate)
                return -EINVAL;
        struct xarch_platform w = *want;
        xarch_platform_normalize(&w);
        long long rank = rank_normalized(&w, candidate, mode);
        if (rank < 0)
                return -ENOENT;
        return rank > INT_MAX ? INT_MAX : (int) rank;
}

int xarch_platform_match_spelled(const struct xarch_platform *want,
                const struct xarch_platform *spelling, const struct xarch_platform *candidates,
                size_t n_candidates, enum xarch_match_mode mode, enum xarch_match_rule *ret_rule) {
        if (ret_rule)
                *ret_rule = XARCH_MATCH_NONE;
        if (!want || (!candidates && n_candidates > 0))
                return -EINVAL;
        struct xarch_platform w = *want;
        xarch_platform_normalize(&w);

        /* containerd keeps matching children, sorts them stably by the first vector entry they
         * match and takes the first: the lowest rank, earliest in index order on ties. */
        long long best_rank = -1;
        size_t best = 0;
        for (size_t i = 0; i < n_candidates && i < INT_MAX; i++) {
                long long rank = rank_normalized(&w, &candidates[i], mode);
                if (rank >= 0 && (best_rank < 0 || rank < best_rank)) {
                        best_rank = rank;
                        best = i;
                }
        }
        if (best_rank < 0)
                return -ENOENT;

        if (ret_rule) {
                const struct xarch_platform *c = &candidates[best];
                if (best_rank > 0)
                        *ret_rule = XARCH_MATCH_FALLBACK;
                else if (raw_equal(c, &w) || raw_equal(c, want) ||
                                (spelling && raw_equal(c, spelling)))
                        *ret_rule = XARCH_MATCH_EXACT;
                else
                        *ret_rule = XARCH_MATCH_NORMALIZED;
        }
        return (int) best;
}

int xarch_platform_match(const struct xarch_platform *want, const struct xarch_platform *candidates,
                size_t n_candidates, enum xarch_match_mode mode, enum xarch_match_rule *ret_rule) {
        return xarch_platform_match_spelled(want, NULL, candidates, n_candidates, mode, ret_rule);
}
