/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_JOBS      32
#define MAX_PLATFORMS 64

static const char *const verb = "copy";

static void usage(void) {
        fputs("Usage: xarch copy [OPTIONS] SRC DST\n"
              "\n"
              "Copy an image or index, all platforms or some, byte for byte.\n"
              "\n"
              "SRC and DST are registry references (host:5000/app:tag), oci:DIR[:TAG],\n"
              "oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME:TAG] (one image only).\n"
              "A whole copy keeps every digest; --platform writes a new index of just those\n"
              "entries (and the attestations that describe them). Blobs go first, then\n"
              "manifests, then the tag, so the tag never names an incomplete image; a rerun\n"
              "skips what DST already holds.\n"
              "\n"
              "Options:\n"
              "  -p, --platform P,...  copy only these platforms (repeatable)\n"
              "      --referrers       also copy what the OCI referrers API lists (registries)\n"
              "  -j, --jobs N          blobs copied at once to a registry (default 8)\n"
              "      --json            machine-readable result\n"
              "      --ca FILE         trust this CA bundle for registry TLS\n"
              "      --insecure        allow plain HTTP or unverified TLS to non-loopback hosts\n"
              "      --authfile F      read registry credentials from F (docker/podman format)\n"
              "      --no-cache        accepted for symmetry; copy never caches blobs\n"
              "  -h, --help            show this help\n"
              "\n"
              "Exit status: 0 copied; 1 failed (nothing tagged); 2 usage error.\n",
                        stdout);
}

static int add_platforms(const char *arg, struct xarch_platform *out, size_t *n) {
        _cleanup_free_ char *copy = strdup(arg);
        if (!copy)
                return cli_error("out of memory");
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                struct xarch_error *err = NULL;
                if (*n >= MAX_PLATFORMS)
                        return cli_usage_error(verb, "more than %d platforms", MAX_PLATFORMS);
                if (xarch_platform_parse(tok, &out[*n], &err) < 0) {
                        int rc = cli_usage_error(verb, "%s",
                                        err && err->msg ? err->msg : "invalid platform");
                        xarch_error_free(err);
                        return rc;
                }
                for (size_t i = 0; i < *n; i++)
                        if (xarch_platform_equal(&out[i], &out[*n]))
                                return cli_usage_error(verb, "platform '%s' given twice", tok);
                (*n)++;
        }
        return EXIT_OK;
}

static json_t *result_json(const char *src, const char *dst, const struct xarch_copy_result *r) {
        json_t *entries = json_array();
        for (size_t i = 0; i < r->n_entries && entries; i++) {
                const struct xarch_copy_entry *e = &r->entries[i];
                char p[128] = "";
                if (e->has_platform)
                        xarch_platform_format(&e->platform, p, sizeof(p));
                json_array_append_new(
                                entries, json_pack("{s:s, s:s, s:s?, s:b}", "digest", e->digest,
                                                         "mediaType", e->media_type, "platform",
                                                         e->has_platform ? p : NULL, "attestation",
                                                         e->attestation));
        }
        return json_pack("{s:o, s:o, s:s, s:s, s:s, s:I, s:b, s:o, s:{s:I, s:I, s:I, s:I, s:I, "
                         "s:I, s:I}, s:I}",
                        "source", cli_json_bytes(src), "destination", cli_json_bytes(dst),
                        "sourceDigest", r->source_digest, "digest", r->digest, "mediaType",
                        r->media_type, "size", (json_int_t) r->size, "rewritten", r->rewritten,
                        "entries", entries ? entries : json_array(), "written", "manifests",
                        (json_int_t) r->manifests_written, "manifestsSkipped",
                        (json_int_t) r->manifests_skipped, "blobs", (json_int_t) r->blobs_written,
                        "blobsSkipped", (json_int_t) r->blobs_skipped, "blobsMounted",
                        (json_int_t) r->blobs_mounted, "bytes", (json_int_t) r->bytes_written,
                        "resumed", (json_int_t) r->uploads_resumed, "referrers",
                        (json_int_t) r->n_referrers);
}

int cmd_copy(int argc, char **argv) {
        enum {
                OPT_JSON = 0x100,
                OPT_REFERRERS,
        };
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"platform", required_argument, NULL, 'p'},
                        {"jobs", required_argument, NULL, 'j'},
                        {"json", no_argument, NULL, OPT_JSON},
                        {"referrers", no_argument, NULL, OPT_REFERRERS},
                        CLI_IMAGE_LONGOPTS,
                        {},
        };
        struct xarch_image_options image_opts = {0};
        struct xarch_copy_options opts = {0};
        struct xarch_platform platforms[MAX_PLATFORMS];
        size_t n_platforms = 0;
        bool json = false;
        int c, rc;

        while ((c = getopt_long(argc, argv, ":hp:j:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage();
                        return EXIT_OK;
                case 'p':
                        rc = add_platforms(optarg, platforms, &n_platforms);
                        if (rc != EXIT_OK)
                                return rc;
                        break;
                case 'j': {
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (errno || *end || n < 1 || n > MAX_JOBS)
                                return cli_usage_error(verb, "--jobs wants 1..%d, not '%s'",
                                                MAX_JOBS, optarg);
                        opts.jobs = (unsigned) n;
                        break;
                }
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_REFERRERS:
                        opts.referrers = true;
                        break;
                case ':':
                        return cli_option_error(verb, c, argc, argv);
                default:
                        if (cli_image_option(c, optarg, &image_opts))
                                break;
                        return cli_option_error(verb, c, argc, argv);
                }
        }
        if (argc - optind != 2)
                return cli_usage_error(verb, argc - optind < 2 ? "SRC and DST are needed"
                                                               : "more than SRC and DST given");
        const char *src = argv[optind], *dst = argv[optind + 1];
        opts.platforms = n_platforms ? platforms : NULL;
        opts.n_platforms = n_platforms;
        /* each blob is read once: caching layers would only double the disk writes */
        /* a job may hold a source GET and a destination PATCH on one host at once */
        unsigned jobs = opts.jobs ? opts.jobs : 8;
        image_opts.max_per_registry = 2 * jobs + 2;
        image_opts.no_cache = true;

        struct xarch_error *err = NULL;
        struct xarch_image_context *ctx = NULL;
        if (xarch_image_context_new(&image_opts, &ctx, &err) < 0)
                return cli_report(&err, -ENOMEM);
        struct xarch_copy_result *res = NULL;
        int r = xarch_copy(ctx, src, dst, &opts, &res, &err);
        xarch_image_context_free(ctx);
        if (r < 0)
                return cli_report(&err, r);
        if (json)
                rc = cli_print_json(result_json(src, dst, res));
        else {
                char buf[512];
                printf("%s\n", res->digest);
                fprintf(stderr,
                                "copied %s to %s: %" PRIu64 " blobs (%" PRIu64 " bytes), %" PRIu64
                                " already there, %" PRIu64 " mounted; %" PRIu64 " manifests\n",
                                res->rewritten ? "a new index" : "verbatim",
                                cli_printable(dst, buf, sizeof(buf)), res->blobs_written,
                                res->bytes_written, res->blobs_skipped, res->blobs_mounted,
                                res->manifests_written);
                rc = EXIT_OK;
        }
        xarch_copy_result_free(res);
        return rc;
}
