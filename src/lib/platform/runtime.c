/* SPDX-License-Identifier: MIT */
/*
 * Container runtimes as part of a node: which platform matcher each runtime version's image
 * pull uses, and a candidate's rank under it. docs/runtimes.md cites the source of each rule:
 *   - containerd 1.6/1.7: platforms/compare.go in-tree (1.6), containerd/platforms v0.2.1 (1.7):
 *     arm64 falls back to arm via Atoi of the variant; Parse refuses dots.
 *   - containerd 2.0.0-2.0.1: containerd/platforms v1.0.0-rc.0: arm64 chain computed from
 *     "vM.N", unknown variants still fall back to arm; Parse accepts dots.
 *   - containerd 2.0.2+, 2.1, 2.2: rc.1/rc.2: arm64 table (arm64variantToVersion) to v9.7,
 *     unknown arm64 variants match nothing.
 *   - containerd 2.3: rc.4: an entry's os.features must be a subset of the node's.
 *   - CRI-O: containers/image internal/pkg/platform WantedPlatforms + MatchesPlatform (exact
 *     strings, no normalisation, arm/arm64 compatibility lists).
 * Arrows: runtime -> platform (this file only uses the platform model).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/platform.h"
#include "macro.h"
#include "platform/platform-internal.h"

/* The newest containerd whose matcher xarch models. */
#define NEWEST_CONTAINERD_MAJOR 2
#define NEWEST_CONTAINERD_MINOR 3

void xarch_runtime_default(struct xarch_runtime *ret) {
        *ret = (struct xarch_runtime){
                        .kind = XARCH_RUNTIME_CONTAINERD,
                        .major = NEWEST_CONTAINERD_MAJOR,
                        .minor = NEWEST_CONTAINERD_MINOR,
        };
}

static const struct {
        const char *name;
        enum xarch_runtime_kind kind;
} runtime_names[] = {
                {"containerd", XARCH_RUNTIME_CONTAINERD},
                {"cri-o", XARCH_RUNTIME_CRIO},
                {"crio", XARCH_RUNTIME_CRIO},
                {"docker", XARCH_RUNTIME_DOCKER},
};

static const char *kind_name(enum xarch_runtime_kind kind) {
        switch (kind) {
        case XARCH_RUNTIME_CONTAINERD:
                return "containerd";
        case XARCH_RUNTIME_CRIO:
                return "cri-o";
        case XARCH_RUNTIME_DOCKER:
                return "docker";
        }
        return "unknown";
}

/* Up to three dot-separated decimal numbers; stops at the first other byte, which must be the
 * end, '-' or '+' (a pre-release or build suffix). Returns the count of numbers read. */
static int parse_version(const char *s, unsigned v[3]) {
        int n = 0;
        v[0] = v[1] = v[2] = 0;
        if (*s == 'v')
                s++;
        while (n < 3) {
                if (*s < '0' || *s > '9')
                        return -1;
                unsigned long x = 0;
                while (*s >= '0' && *s <= '9') {
                        x = x * 10 + (unsigned long) (*s++ - '0');
                        if (x > 100000)
                                return -1;
                }
                v[n++] = (unsigned) x;
                if (*s != '.')
                        break;
                s++;
        }
        if (*s != '\0' && *s != '-' && *s != '+')
                return -1;
        return n;
}

int xarch_runtime_parse(const char *spec, struct xarch_runtime *ret, struct xarch_error **err) {
        if (!spec || !*spec)
                return xarch_error_set(err, EINVAL, "empty runtime");
        size_t len = strnlen(spec, 128);
        if (len >= 128)
                return xarch_error_set(err, EINVAL, "runtime name too long");
        for (size_t i = 0; i < ELEMENTSOF(runtime_names); i++) {
                const char *name = runtime_names[i].name;
                size_t n = strlen(name);
                if (strncmp(spec, name, n) != 0)
                        continue;
                const char *rest = spec + n;
                struct xarch_runtime rt = {.kind = runtime_names[i].kind};
                if (*rest == '\0') {
                        if (rt.kind != XARCH_RUNTIME_CONTAINERD)
                                return xarch_error_set(err, EINVAL,
                                                "runtime '%s' needs a version ('%s-X.Y')", spec,
                                                kind_name(rt.kind));
                        xarch_runtime_default(ret);
                        return 0;
                }
                if (*rest == '-')
                        rest++;
                else if (strncmp(rest, "://", 3) == 0)
                        rest += 3;
                else
                        continue;
                unsigned v[3];
                int k = parse_version(rest, v);
                if (k < 1 || (rt.kind != XARCH_RUNTIME_DOCKER && k < 2))
                        return xarch_error_set(err, EINVAL,
                                        "runtime '%.64s': expected a version such as '%s-%s'", spec,
                                        kind_name(rt.kind),
                                        rt.kind == XARCH_RUNTIME_DOCKER ? "27" : "1.7");
                if (v[0] == 0)
                        return xarch_error_set(err, EINVAL,
                                        "runtime '%.64s': version 0 is not a release", spec);
                rt.major = v[0];
                rt.minor = v[1];
                rt.patch = v[2];
                *ret = rt;
                return 0;
        }
        return xarch_error_set(err, EINVAL,
                        "unknown runtime '%.64s' (expected containerd-X.Y, cri-o-X.Y or docker-X, "
                        "or containerd://X.Y.Z as Kubernetes reports it)",
                        spec);
}

int xarch_runtime_format(const struct xarch_runtime *rt, char *buf, size_t size) {
        if (!rt || !buf)
                return -EINVAL;
        int n;
        if (rt->kind == XARCH_RUNTIME_DOCKER && rt->minor == 0 && rt->patch == 0)
                n = snprintf(buf, size, "%s-%u", kind_name(rt->kind), rt->major);
        else if (rt->patch)
                n = snprintf(buf, size, "%s-%u.%u.%u", kind_name(rt->kind), rt->major, rt->minor,
                                rt->patch);
        else
                n = snprintf(buf, size, "%s-%u.%u", kind_name(rt->kind), rt->major, rt->minor);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

static bool version_below(
                const struct xarch_runtime *rt, unsigned major, unsigned minor, unsigned patch) {
        if (rt->major != major)
                return rt->major < major;
        if (rt->minor != minor)
                return rt->minor < minor;
        return rt->patch < patch;
}

enum xarch_matcher xarch_runtime_matcher(const struct xarch_runtime *rt) {
        switch (rt->kind) {
        case XARCH_RUNTIME_CRIO:
                return XARCH_MATCHER_CONTAINERS_IMAGE;
        case XARCH_RUNTIME_DOCKER:
                /* dockerd filters manifest lists with containerd's platforms.Only of the
                 * containerd it vendors; modelled as 1.6/1.7 (docs/runtimes.md). */
                return XARCH_MATCHER_CONTAINERD_1_6;
        case XARCH_RUNTIME_CONTAINERD:
                break;
        }
        if (version_below(rt, 2, 0, 0))
                return XARCH_MATCHER_CONTAINERD_1_6;
        if (version_below(rt, 2, 0, 2)) /* 2.0.0 and 2.0.1 vendor rc.0, 2.0.2+ rc.1 */
                return XARCH_MATCHER_CONTAINERD_RC0;
        if (version_below(rt, 2, 3, 0))
                return XARCH_MATCHER_CONTAINERD_RC1;
        return XARCH_MATCHER_CONTAINERD_RC4;
}

bool xarch_runtime_config_variant(const struct xarch_runtime *rt) {
        return rt->kind == XARCH_RUNTIME_CONTAINERD && !version_below(rt, 2, 0, 0);
}

bool xarch_runtime_variant_dots(const struct xarch_runtime *rt) {
        return xarch_runtime_matcher(rt) != XARCH_MATCHER_CONTAINERD_1_6;
}

int xarch_runtime_parse_platform(const struct xarch_runtime *rt, const char *spec,
                struct xarch_platform *ret, struct xarch_error **err) {
        if (rt && spec && !xarch_runtime_variant_dots(rt) && strchr(spec, '.')) {
                char name[XARCH_RUNTIME_STRING_MAX];
                if (xarch_runtime_format(rt, name, sizeof(name)) < 0)
                        snprintf(name, sizeof(name), "this runtime");
                return xarch_error_set(err, EINVAL,
                                "invalid platform '%.64s': %s refuses dots in a platform "
                                "(accepted from containerd 2.0)",
                                spec, name);
        }
        return xarch_platform_parse(spec, ret, err);
}

/* ---- arm64 vectors of the older matchers ------------------------------------------------ */

#define VECTOR_MAX 48

static void push(struct xarch_platform *vec, size_t *n, const char *os, const char *arch,
                const char *variant) {
        if (*n >= VECTOR_MAX)
                return;
        struct xarch_platform p = {0};
        snprintf(p.os, sizeof(p.os), "%s", os);
        snprintf(p.arch, sizeof(p.arch), "%s", arch);
        snprintf(p.variant, sizeof(p.variant), "%s", variant);
        xarch_platform_normalize(&p); /* as NewMatcher does */
        vec[(*n)++] = p;
}

/* platformVector's arm case: arm/vN down to v5 when Atoi(TrimPrefix(variant, "v")) > 5,
 * else arm/<variant> alone. */
static void push_arm(struct xarch_platform *vec, size_t *n, const char *os, const char *variant) {
        long long v;
        const char *digits = variant[0] == 'v' ? variant + 1 : variant;
        if (go_atoi(digits, &v) && v > 5) {
                for (long long m = v > 64 ? 64 : v; m >= 5; m--) {
                        char buf[24];
                        snprintf(buf, sizeof(buf), "v%lld", m);
                        push(vec, n, os, "arm", buf);
                }
                return;
        }
        push(vec, n, os, "arm", variant);
}

/* containerd 1.6/1.7 (v0.2.1): [arm64/V] + arm's vector of V ("" read as v8). */
static size_t arm64_vector_1_6(const struct xarch_platform *w, struct xarch_platform *vec) {
        size_t n = 0;
        vec[n++] = *w;
        push_arm(vec, &n, w->os, w->variant[0] ? w->variant : "v8");
        return n;
}

/* containerd/platforms rc.0 (containerd 2.0.0, 2.0.1). */
static size_t arm64_vector_rc0(const struct xarch_platform *w, struct xarch_platform *vec) {
        size_t n = 0;
        char variant[XARCH_PLATFORM_FIELD_MAX];
        snprintf(variant, sizeof(variant), "%s", w->variant[0] ? w->variant : "v8");
        vec[n++] = *w;

        char major_part[XARCH_PLATFORM_FIELD_MAX];
        const char *dot = strchr(variant, '.');
        size_t major_len = dot ? (size_t) (dot - variant) : strlen(variant);
        memcpy(major_part, variant, major_len);
        major_part[major_len] = '\0';
        long long major, minor = 0;
        const char *digits = major_part[0] == 'v' ? major_part + 1 : major_part;
        if (go_atoi(digits, &major) && major >= 8) {
                long long m;
                if (strlen(variant) == 4 && dot && go_atoi(dot + 1, &m))
                        minor = m;
                char buf[48];
                if (major == 9) {
                        for (long long k = minor - 1; k >= 0; k--) {
                                if (k == 0)
                                        snprintf(buf, sizeof(buf), "v9");
                                else
                                        snprintf(buf, sizeof(buf), "v9.%lld", k);
                                push(vec, &n, w->os, "arm64", buf);
                        }
                        minor = minor + 5 > 9 ? 9 : minor + 5;
                        major = 8;
                        snprintf(buf, sizeof(buf), "v8.%lld", minor);
                        push(vec, &n, w->os, "arm64", buf);
                }
                for (long long k = minor - 1; k >= 0; k--) {
                        if (k == 0)
                                snprintf(buf, sizeof(buf), "v%lld", major);
                        else
                                snprintf(buf, sizeof(buf), "v%lld.%lld", major, k);
                        push(vec, &n, w->os, "arm64", buf);
                }
        }
        if (strncmp(variant, "v8.", 3) == 0 || strncmp(variant, "v9.", 3) == 0)
                snprintf(variant, sizeof(variant), "v8");
        push_arm(vec, &n, w->os, variant);
        return n;
}

/* Normalize as the matcher's own database.go does: normalizeArch's arm64 variants differ
 * (1.6/1.7: only 8 and v8 -> ""; rc.0: "vM[.N]" with ".0" dropped and 8 -> ""; rc.1+: 8, v8,
 * v8.0 -> "" and 9, 9.0, v9.0 -> v9, which xarch_platform_normalize does). */
static void normalize_for(enum xarch_matcher m, struct xarch_platform *p) {
        char raw[XARCH_PLATFORM_FIELD_MAX];
        snprintf(raw, sizeof(raw), "%s", p->variant);
        for (char *c = raw; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        xarch_platform_normalize(p);
        if (!streq(p->arch, "arm64"))
                return;
        if (m == XARCH_MATCHER_CONTAINERD_1_6) {
                snprintf(p->variant, sizeof(p->variant), "%s",
                                streq(raw, "8") || streq(raw, "v8") ? "" : raw);
        } else if (m == XARCH_MATCHER_CONTAINERD_RC0) {
                char *dot = strchr(raw, '.');
                const char *minor = dot ? dot + 1 : NULL;
                if (dot)
                        *dot = '\0';
                const char *major = raw[0] == 'v' ? raw + 1 : raw;
                if (minor && streq(minor, "0"))
                        minor = NULL;
                if ((major[0] == '\0' || streq(major, "8")) && !minor)
                        p->variant[0] = '\0';
                else
                        snprintf(p->variant, sizeof(p->variant), "v%s%s%s", major, minor ? "." : "",
                                        minor ? minor : "");
        }
}

static long long rank_in(
                const struct xarch_platform *vec, size_t n, const struct xarch_platform *c) {
        for (size_t i = 0; i < n; i++)
                if (xarch_platform_equal(&vec[i], c))
                        return (long long) i;
        return -1;
}

/* ---- CRI-O: containers/image ------------------------------------------------------------ */

static long long rank_containers_image(
                const struct xarch_platform *w, const struct xarch_platform *raw) {
        /* compatibility (platform_matcher.go): arm: v8 v7 v6 v5; arm64: v8 */
        static const char *const arm_compat[] = {"v8", "v7", "v6", "v5"};
        static const char *const arm64_compat[] = {"v8"};
        const char *const *compat = NULL;
        size_t n_compat = 0;
        if (streq(w->arch, "arm")) {
                compat = arm_compat;
                n_compat = ELEMENTSOF(arm_compat);
        } else if (streq(w->arch, "arm64")) {
                compat = arm64_compat;
                n_compat = ELEMENTSOF(arm64_compat);
        }
        /* getCPUVariant reports v8 on arm64 ("8" in cpuinfo); normalised arm64 has "" */
        const char *variant = w->variant;
        if (streq(w->arch, "arm64") && variant[0] == '\0')
                variant = "v8";

        const char *wanted[8];
        size_t n = 0;
        if (variant[0]) {
                size_t start = n_compat;
                for (size_t i = 0; i < n_compat; i++)
                        if (streq(compat[i], variant)) {
                                start = i;
                                break;
                        }
                if (start < n_compat)
                        for (size_t i = start; i < n_compat; i++)
                                wanted[n++] = compat[i];
                else
                        wanted[n++] = variant;
                wanted[n++] = "";
        } else {
                wanted[n++] = "";
                for (size_t i = 0; i < n_compat; i++)
                        wanted[n++] = compat[i];
        }
        /* MatchesPlatform: exact strings, nothing normalised */
        if (strncmp(raw->os, w->os, XARCH_PLATFORM_FIELD_MAX) != 0 ||
                        strncmp(raw->arch, w->arch, XARCH_PLATFORM_FIELD_MAX) != 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (strncmp(raw->variant, wanted[i], XARCH_PLATFORM_FIELD_MAX) == 0)
                        return (long long) i;
        return -1;
}

int xarch_runtime_rank(const struct xarch_runtime *rt, const struct xarch_platform *want,
                const struct xarch_platform *candidate, size_t n_os_features) {
        if (!want || !candidate)
                return -EINVAL;
        struct xarch_runtime def;
        if (!rt) {
                xarch_runtime_default(&def);
                rt = &def;
        }
        struct xarch_platform w = *want, c = *candidate;
        w.os[XARCH_PLATFORM_FIELD_MAX - 1] = w.arch[XARCH_PLATFORM_FIELD_MAX - 1] =
                        w.variant[XARCH_PLATFORM_FIELD_MAX - 1] = '\0';
        c.os[XARCH_PLATFORM_FIELD_MAX - 1] = c.arch[XARCH_PLATFORM_FIELD_MAX - 1] =
                        c.variant[XARCH_PLATFORM_FIELD_MAX - 1] = '\0';
        enum xarch_matcher m = xarch_runtime_matcher(rt);
        normalize_for(m, &w);
        long long rank = -1;
        if (m == XARCH_MATCHER_CONTAINERS_IMAGE) {
                rank = rank_containers_image(&w, &c);
        } else {
                /* rc.3+: the entry's os.features must be the node's, and a node has none */
                if (m == XARCH_MATCHER_CONTAINERD_RC4 && n_os_features > 0)
                        return -ENOENT;
                normalize_for(m, &c);
                if (streq(w.arch, "arm64") && m != XARCH_MATCHER_CONTAINERD_RC1 &&
                                m != XARCH_MATCHER_CONTAINERD_RC4) {
                        struct xarch_platform vec[VECTOR_MAX];
                        size_t n = m == XARCH_MATCHER_CONTAINERD_1_6 ? arm64_vector_1_6(&w, vec)
                                                                     : arm64_vector_rc0(&w, vec);
                        rank = rank_in(vec, n, &c);
                } else {
                        rank = platform_vector_rank(&w, &c);
                }
        }
        if (rank < 0)
                return -ENOENT;
        return rank > INT_MAX ? INT_MAX : (int) rank;
}
