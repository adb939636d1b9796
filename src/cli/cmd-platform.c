/* SPDX-License-Identifier: MIT */
/* xarch platform: this host's platform, and containerd's parsing, normalisation, fallback
 * vectors and manifest selection. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define VERB "platform"

/* Longest vector shown; only absurd amd64/vN or arm/vN requests have longer ones. */
#define VECTOR_SHOW_MAX 64

static void usage(FILE *out) {
        fputs("Usage: xarch platform [--json]\n"
              "       xarch platform match WANT CANDIDATE... [--strict] [--json]\n"
              "       xarch platform normalize SPEC... [--json]\n"
              "       xarch platform vector SPEC [--json]\n"
              "\n"
              "The OCI platform model with containerd's rules (github.com/containerd/platforms).\n"
              "\n"
              "Without a subcommand, prints this host's platform as containerd sees it, the\n"
              "x86-64 microarchitecture level (v1-v4, from CPUID) or the arm variant, uname\n"
              "machine, CPU model, page size and user address bits.\n"
              "\n"
              "Subcommands:\n"
              "  match WANT CANDIDATE...  which candidate (a raw index entry os/arch[/variant])\n"
              "                           a containerd node of platform WANT would pull, by which\n"
              "                           rule (exact, normalized, fallback), and the vector it\n"
              "                           used. WANT may be 'host'. Exit 1 when none matches.\n"
              "  normalize SPEC...        containerd's normalised form of each specifier\n"
              "  vector SPEC              the platforms a node of SPEC accepts, best first\n"
              "\n"
              "A SPEC is os, arch, os/arch or os/arch/variant, e.g. linux/arm64/v8, aarch64,\n"
              "linux/amd64/v3.\n"
              "\n"
              "Options:\n"
              "  --strict   match like containerd's OnlyStrict: the normalised platform only,\n"
              "             no fallbacks (amd64 does not take 386, arm/v7 does not take v6)\n"
              "  --json     machine-readable output\n"
              "  -h, --help show this help\n"
              "\n"
              "Exit status: 0 success, 1 no candidate matches, 2 usage error.\n",
                        out);
}

static int bad_spec(struct xarch_error **err, int r) {
        int rc = cli_usage_error(VERB, "%s", *err && (*err)->msg ? (*err)->msg : strerror(-r));
        xarch_error_freep(err);
        return rc;
}

static json_t *platform_fields(json_t *obj, const struct xarch_platform *p) {
        json_object_set_new(obj, "os", json_string(p->os));
        json_object_set_new(obj, "architecture", json_string(p->arch));
        json_object_set_new(obj, "variant", json_string(p->variant));
        return obj;
}

static json_t *json_platform_string(const struct xarch_platform *p) {
        char s[XARCH_PLATFORM_STRING_MAX];
        xarch_platform_format(p, s, sizeof(s));
        return json_string(s);
}

/* ---- xarch platform (this host) -------------------------------------------------------- */

static int show_host(bool json) {
        struct xarch_error *err = NULL;
        struct xarch_host host;
        int r = xarch_host_detect(&host, &err);
        if (r < 0)
                return cli_report(&err, r);

        char platform[XARCH_PLATFORM_STRING_MAX], with_level[XARCH_PLATFORM_STRING_MAX];
        xarch_platform_format(&host.platform, platform, sizeof(platform));
        xarch_host_format_with_level(&host, with_level, sizeof(with_level));

        if (json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "platform", json_string(platform));
                platform_fields(doc, &host.platform);
                json_object_set_new(doc, "platform_with_level", json_string(with_level));
                json_object_set_new(doc, "amd64_level",
                                host.amd64_level > 0 ? json_integer(host.amd64_level)
                                                     : json_null());
                json_object_set_new(doc, "machine", json_string(host.machine));
                json_object_set_new(doc, "cpu_model", json_string(host.cpu_model));
                json_object_set_new(doc, "page_size", json_integer(host.page_size));
                json_object_set_new(doc, "va_bits",
                                host.va_bits > 0 ? json_integer(host.va_bits) : json_null());
                return cli_print_json(doc);
        }

        printf("platform:       %s  (containerd's default; what this node pulls)\n", platform);
        if (host.amd64_level > 0) {
                printf("with CPU level: %s\n", with_level);
                printf("x86-64 level:   v%d  (x86-64-v%d; runs amd64 images up to amd64/v%d)\n",
                                host.amd64_level, host.amd64_level, host.amd64_level);
        } else if (host.platform.variant[0]) {
                printf("arm variant:    %s\n", host.platform.variant);
        }
        printf("machine:        %s\n", host.machine[0] ? host.machine : "(unknown)");
        printf("CPU:            %s\n", host.cpu_model[0] ? host.cpu_model : "(unknown)");
        printf("page size:      %u\n", host.page_size);
        if (host.va_bits > 0)
                printf("address bits:   %u  (user virtual address space)\n", host.va_bits);
        return EXIT_OK;
}

/* ---- xarch platform normalize ------------------------------------------------------------ */

static int cmd_normalize(char **specs, int n, bool json) {
        if (n < 1)
                return cli_usage_error(VERB, "normalize needs at least one SPEC");
        _cleanup_free_ struct xarch_platform *parsed = calloc((size_t) n, sizeof(*parsed));
        _cleanup_free_ struct xarch_platform *normalized = calloc((size_t) n, sizeof(*normalized));
        if (!parsed || !normalized)
                return cli_error("out of memory");

        /* Validate everything first: a bad SPEC is a usage error with no partial output. */
        for (int i = 0; i < n; i++) {
                struct xarch_error *err = NULL;
                int r = xarch_platform_parse_containerd(specs[i], &parsed[i], &err);
                if (r < 0)
                        return bad_spec(&err, r);
                /* xarch's reading (arm/v7 is arch/variant), normalised */
                r = xarch_platform_parse(specs[i], &normalized[i], &err);
                if (r < 0)
                        return bad_spec(&err, r);
        }

        if (json) {
                json_t *doc = json_array();
                for (int i = 0; i < n; i++) {
                        json_t *o = json_object();
                        json_object_set_new(o, "spec", json_string(specs[i]));
                        json_object_set_new(o, "parsed", json_platform_string(&parsed[i]));
                        json_object_set_new(o, "normalized", json_platform_string(&normalized[i]));
                        platform_fields(o, &normalized[i]);
                        json_array_append_new(doc, o);
                }
                return cli_print_json(doc);
        }
        for (int i = 0; i < n; i++) {
                char s[XARCH_PLATFORM_STRING_MAX];
                xarch_platform_format(&normalized[i], s, sizeof(s));
                puts(s);
        }
        return EXIT_OK;
}

/* ---- xarch platform vector ---------------------------------------------------------------- */

static int cmd_vector(char **specs, int n, bool json) {
        if (n != 1)
                return cli_usage_error(VERB, "vector takes exactly one SPEC");
        struct xarch_error *err = NULL;
        struct xarch_platform want, normalized;
        int r = xarch_platform_parse(specs[0], &normalized, &err);
        if (r < 0)
                return bad_spec(&err, r);
        want = normalized;

        struct xarch_platform vec[VECTOR_SHOW_MAX];
        int k = xarch_platform_vector(&want, vec, ELEMENTSOF(vec));
        if (k < 0)
                return cli_error("the vector of %s has more than %d entries", specs[0],
                                VECTOR_SHOW_MAX);

        char s[XARCH_PLATFORM_STRING_MAX];
        xarch_platform_format(&normalized, s, sizeof(s));
        if (json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "spec", json_string(specs[0]));
                json_object_set_new(doc, "normalized", json_string(s));
                json_t *arr = json_array();
                for (int i = 0; i < k; i++)
                        json_array_append_new(arr, json_platform_string(&vec[i]));
                json_object_set_new(doc, "vector", arr);
                return cli_print_json(doc);
        }
        if (k == 0) {
                printf("none: '%s' is not in containerd's arm64 variant table, so a node of %s "
                       "matches nothing\n",
                                normalized.variant, s);
                return EXIT_OK;
        }
        for (int i = 0; i < k; i++) {
                xarch_platform_format(&vec[i], s, sizeof(s));
                puts(s);
        }
        return EXIT_OK;
}

/* ---- xarch platform match ----------------------------------------------------------------- */

static void format_vector(const struct xarch_platform *want, enum xarch_match_mode mode, char *buf,
                size_t size) {
        struct xarch_platform vec[VECTOR_SHOW_MAX];
        int k;
        if (mode == XARCH_MATCH_MODE_STRICT) {
                vec[0] = *want;
                xarch_platform_normalize(&vec[0]);
                k = 1;
        } else
                k = xarch_platform_vector(want, vec, ELEMENTSOF(vec));
        if (k < 0) {
                snprintf(buf, size, "(more than %d entries)", VECTOR_SHOW_MAX);
                return;
        }
        if (k == 0) {
                snprintf(buf, size, "(empty: this arm64 variant is not in containerd's table)");
                return;
        }
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < k && used < size; i++) {
                char s[XARCH_PLATFORM_STRING_MAX];
                xarch_platform_format(&vec[i], s, sizeof(s));
                int w = snprintf(buf + used, size - used, "%s%s", i ? " > " : "", s);
                if (w < 0)
                        break;
                used += (size_t) w;
        }
}

static json_t *json_vector(const struct xarch_platform *want, enum xarch_match_mode mode) {
        json_t *arr = json_array();
        struct xarch_platform vec[VECTOR_SHOW_MAX];
        int k;
        if (mode == XARCH_MATCH_MODE_STRICT) {
                vec[0] = *want;
                xarch_platform_normalize(&vec[0]);
                k = 1;
        } else
                k = xarch_platform_vector(want, vec, ELEMENTSOF(vec));
        for (int i = 0; i < k; i++)
                json_array_append_new(arr, json_platform_string(&vec[i]));
        return arr;
}

static int cmd_match(char **args, int n, bool strict, bool json) {
        if (n < 2)
                return cli_usage_error(VERB, "match needs WANT and at least one CANDIDATE");
        const char *want_spec = args[0];
        enum xarch_match_mode mode = strict ? XARCH_MATCH_MODE_STRICT : XARCH_MATCH_MODE_DEFAULT;
        struct xarch_error *err = NULL;

        /* want as containerd parses it, and as spelled (raw), for the EXACT rule. */
        struct xarch_platform want, spelling;
        bool have_spelling = false;
        int host_level = 0;
        if (streq(want_spec, "host")) {
                struct xarch_host host;
                int r = xarch_host_detect(&host, &err);
                if (r < 0)
                        return cli_report(&err, r);
                want = host.platform;
                host_level = host.amd64_level;
        } else {
                int r = xarch_platform_parse(want_spec, &want, &err);
                if (r < 0)
                        return bad_spec(&err, r);
                have_spelling = xarch_platform_parse_raw(want_spec, &spelling, NULL) >= 0;
        }
        struct xarch_platform want_normalized = want;
        xarch_platform_normalize(&want_normalized);

        size_t n_candidates = (size_t) n - 1;
        _cleanup_free_ struct xarch_platform *candidates =
                        calloc(n_candidates, sizeof(*candidates));
        if (!candidates)
                return cli_error("out of memory");
        for (size_t i = 0; i < n_candidates; i++) {
                int r = xarch_platform_parse_raw(args[i + 1], &candidates[i], &err);
                if (r < 0) {
                        r = xarch_error_wrap(&err, "candidate %zu", i + 1);
                        return bad_spec(&err, r);
                }
        }

        enum xarch_match_rule rule;
        int picked = xarch_platform_match_spelled(&want, have_spelling ? &spelling : NULL,
                        candidates, n_candidates, mode, &rule);

        char want_s[XARCH_PLATFORM_STRING_MAX], norm_s[XARCH_PLATFORM_STRING_MAX];
        xarch_platform_format(&want, want_s, sizeof(want_s));
        xarch_platform_format(&want_normalized, norm_s, sizeof(norm_s));
        const char *mode_name = strict ? "OnlyStrict" : "Only";

        if (json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "want", json_string(want_s));
                json_object_set_new(doc, "normalized", json_string(norm_s));
                json_object_set_new(doc, "mode", json_string(strict ? "strict" : "default"));
                json_object_set_new(doc, "vector", json_vector(&want, mode));
                json_t *arr = json_array();
                for (size_t i = 0; i < n_candidates; i++) {
                        json_t *o = json_object();
                        struct xarch_platform cn = candidates[i];
                        xarch_platform_normalize(&cn);
                        int rank = xarch_platform_rank(&want, &candidates[i], mode);
                        json_object_set_new(o, "index", json_integer((json_int_t) i));
                        json_object_set_new(o, "platform", json_platform_string(&candidates[i]));
                        json_object_set_new(o, "normalized", json_platform_string(&cn));
                        json_object_set_new(
                                        o, "rank", rank >= 0 ? json_integer(rank) : json_null());
                        json_array_append_new(arr, o);
                }
                json_object_set_new(doc, "candidates", arr);
                if (picked >= 0) {
                        json_t *m = json_object();
                        json_object_set_new(m, "index", json_integer(picked));
                        json_object_set_new(
                                        m, "platform", json_platform_string(&candidates[picked]));
                        json_object_set_new(m, "rule", json_string(xarch_match_rule_name(rule)));
                        json_object_set_new(m, "rank",
                                        json_integer(xarch_platform_rank(
                                                        &want, &candidates[picked], mode)));
                        json_object_set_new(doc, "match", m);
                } else {
                        json_object_set_new(doc, "match", json_null());
                        json_object_set_new(doc, "error",
                                        json_string("no match for platform in manifest"));
                }
                int rc = cli_print_json(doc);
                if (rc != EXIT_OK)
                        return rc;
        } else {
                char vector[4096];
                format_vector(&want, mode, vector, sizeof(vector));
                printf("want:    %s (containerd %s of %s)\n", want_s, mode_name, norm_s);
                printf("vector:  %s\n", vector);
                for (size_t i = 0; i < n_candidates; i++) {
                        char s[XARCH_PLATFORM_STRING_MAX];
                        xarch_platform_format(&candidates[i], s, sizeof(s));
                        int rank = xarch_platform_rank(&want, &candidates[i], mode);
                        if (rank < 0)
                                printf("  %2zu  %-24s no match\n", i + 1, s);
                        else
                                printf("  %2zu  %-24s vector entry %d%s\n", i + 1, s, rank + 1,
                                                (int) i == picked ? "  <- pulled" : "");
                }
                if (picked >= 0) {
                        char s[XARCH_PLATFORM_STRING_MAX];
                        xarch_platform_format(&candidates[picked], s, sizeof(s));
                        printf("pulls:   candidate %d, %s (rule: %s)\n", picked + 1, s,
                                        xarch_match_rule_name(rule));
                }
                if (host_level > 1 && streq(want.arch, "amd64"))
                        printf("note:    containerd does not use this host's x86-64-v%d level; "
                               "amd64/v2+ entries count only for a request like "
                               "linux/amd64/v%d\n",
                                        host_level, host_level);
        }
        if (picked < 0)
                return cli_error("no match: a node of %s would fail with 'no match for platform "
                                 "in manifest'",
                                streq(want_spec, "host") ? want_s : want_spec);
        return EXIT_OK;
}

int cmd_platform(int argc, char **argv) {
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"json", no_argument, NULL, 'j'},
                        {"strict", no_argument, NULL, 's'},
                        {},
        };
        bool json = false, strict = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                case 'j':
                        json = true;
                        cli_json_requested();
                        break;
                case 's':
                        strict = true;
                        break;
                default:
                        return cli_option_error(VERB, c, argc, argv);
                }
        }

        if (optind >= argc) {
                if (strict)
                        return cli_usage_error(VERB, "--strict only applies to 'match'");
                return show_host(json);
        }
        const char *sub = argv[optind];
        char **rest = argv + optind + 1;
        int n_rest = argc - optind - 1;
        if (streq(sub, "match"))
                return cmd_match(rest, n_rest, strict, json);
        if (strict)
                return cli_usage_error(VERB, "--strict only applies to 'match'");
        if (streq(sub, "normalize") || streq(sub, "normalise"))
                return cmd_normalize(rest, n_rest, json);
        if (streq(sub, "vector"))
                return cmd_vector(rest, n_rest, json);
        return cli_usage_error(VERB, "unknown subcommand '%s'", sub);
}
