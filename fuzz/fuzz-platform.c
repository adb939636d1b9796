/* SPDX-License-Identifier: MIT */
/*
 * Platform parsing, normalisation, formatting, vectors and matching, checked by round trips and
 * invariants; plus the /proc text parsers and the runtime model. Input: line 1 is WANT, further
 * lines candidates; every line is also parsed as a runtime ("containerd://1.7.22"), and the
 * whole input is fed to the cpuinfo and maps parsers. Each candidate is ranked under every
 * runtime generation.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/platform.h"
#include "macro.h"
#include "platform/default-spec.h"
#include "platform/hostcpu.h"
#include "platform/platform-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANDIDATES_MAX 16

static void check(bool condition) {
        if (!condition)
                abort();
}

static void check_round_trip(const char *spec) {
        struct xarch_platform p, q, raw;
        if (xarch_platform_parse(spec, &p, NULL) < 0) {
                check(xarch_platform_parse_containerd(spec, &q, NULL) < 0);
                return;
        }
        /* parse(format(parse(s))) == parse(s), and parsed platforms are already normal. */
        char s[XARCH_PLATFORM_STRING_MAX];
        int n = xarch_platform_format(&p, s, sizeof(s));
        check(n > 0 && (size_t) n == strlen(s));
        check(xarch_platform_parse(s, &q, NULL) == 0);
        check(xarch_platform_equal(&p, &q));
        q = p;
        xarch_platform_normalize(&q);
        check(xarch_platform_equal(&p, &q));
        check(xarch_platform_format(&p, s, (size_t) n) == -ENOBUFS);

        if (xarch_platform_parse_raw(spec, &raw, NULL) == 0) {
                q = raw;
                xarch_platform_normalize(&q);
                struct xarch_platform r = q;
                xarch_platform_normalize(&r);
                check(xarch_platform_equal(&q, &r));
        }

        /* Every vector entry ranks at its own position. */
        struct xarch_platform vec[64];
        int k = xarch_platform_vector(&p, vec, ELEMENTSOF(vec));
        check(k >= 0 || k == -ENOBUFS);
        for (int i = 0; i < k; i++)
                check(xarch_platform_rank(&p, &vec[i], XARCH_MATCH_MODE_DEFAULT) == i ||
                                streq(vec[i].arch, "unknown") || streq(vec[i].os, "unknown"));
}

static void check_match(const struct xarch_platform *want, const struct xarch_platform *c, size_t n,
                enum xarch_match_mode mode) {
        enum xarch_match_rule rule;
        int picked = xarch_platform_match(want, c, n, mode, &rule);
        int best = -1, best_rank = -1;
        for (size_t i = 0; i < n; i++) {
                int rank = xarch_platform_rank(want, &c[i], mode);
                check(rank >= 0 || rank == -ENOENT);
                check(mode == XARCH_MATCH_MODE_DEFAULT || rank <= 0);
                if (rank >= 0 && (best < 0 || rank < best_rank)) {
                        best = (int) i;
                        best_rank = rank;
                }
        }
        if (best < 0) {
                check(picked == -ENOENT && rule == XARCH_MATCH_NONE);
                return;
        }
        /* Ranks past INT_MAX (amd64/v<huge>) saturate, so only their rule can be checked. */
        check(picked == best || best_rank == INT_MAX);
        check((rule == XARCH_MATCH_FALLBACK) == (best_rank > 0));
        check(rule != XARCH_MATCH_NONE);
}

static void check_runtime(const char *spec) {
        struct xarch_runtime rt;
        struct xarch_error *err = NULL;
        if (xarch_runtime_parse(spec, &rt, &err) < 0) {
                check(err && err->msg);
                xarch_error_free(err);
                return;
        }
        /* format(parse(s)) parses back to the same runtime */
        char s[XARCH_RUNTIME_STRING_MAX];
        check(xarch_runtime_format(&rt, s, sizeof(s)) > 0);
        struct xarch_runtime again;
        check(xarch_runtime_parse(s, &again, NULL) == 0);
        check(again.kind == rt.kind && again.major == rt.major && again.minor == rt.minor &&
                        again.patch == rt.patch);
        check(xarch_runtime_matcher(&rt) <= XARCH_MATCHER_CONTAINERS_IMAGE);
}

/* Ranks under each runtime generation: never a crash, ranks >= 0 or -ENOENT. */
static void check_runtime_ranks(
                const struct xarch_platform *want, const struct xarch_platform *c, size_t n) {
        static const char *const runtimes[] = {"containerd-1.6", "containerd-2.0", "containerd-2.1",
                        "containerd-2.3", "cri-o-1.30", "docker-27"};
        for (size_t r = 0; r < ELEMENTSOF(runtimes); r++) {
                struct xarch_runtime rt;
                check(xarch_runtime_parse(runtimes[r], &rt, NULL) == 0);
                for (size_t i = 0; i < n; i++) {
                        int rank = xarch_runtime_rank(&rt, want, &c[i], i % 2);
                        check(rank >= 0 || rank == -ENOENT);
                }
                /* containerd: its own platform heads the vector (CRI-O prefers arm64/v8 to a
                 * bare arm64, so there it may rank later) */
                int self = xarch_runtime_rank(&rt, want, want, 0);
                check(self == 0 || self == -ENOENT ||
                                xarch_runtime_matcher(&rt) == XARCH_MATCHER_CONTAINERS_IMAGE);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 64 * 1024)
                return 0;
        _cleanup_free_ char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        /* The /proc parsers take arbitrary text. */
        char buf[128];
        cpuinfo_arm_variant(text, text, true, buf, sizeof(buf));
        cpuinfo_arm_variant(text, "armv7l", false, buf, sizeof(buf));
        check(cpuinfo_amd64_level(text) <= 4);
        cpuinfo_cpu_model(text, buf, sizeof(buf));
        check(maps_va_bits(text) <= 64);

        /* Lines: WANT, then candidates. */
        struct xarch_platform want, candidates[CANDIDATES_MAX];
        size_t n = 0;
        bool have_want = false;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                check_round_trip(line);
                check_runtime(line);
                if (!have_want)
                        have_want = xarch_platform_parse_containerd(line, &want, NULL) == 0;
                else if (n < CANDIDATES_MAX &&
                                xarch_platform_parse_raw(line, &candidates[n], NULL) == 0)
                        n++;
        }
        if (have_want) {
                check_match(&want, candidates, n, XARCH_MATCH_MODE_DEFAULT);
                check_match(&want, candidates, n, XARCH_MATCH_MODE_STRICT);
                check_runtime_ranks(&want, candidates, n);
        }
        return 0;
}
