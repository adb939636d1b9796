/* SPDX-License-Identifier: MIT */
/*
 * A tiny command-line front end to the registry client for tests/cli/registry.t, which runs
 * it against real registries (Debian's docker-registry, plain, TLS + htpasswd, token auth).
 *   registry-driver [--ca F] [--auth F] [--cache DIR] [--insecure] [--stats] manifest REF [REF2]
 *   registry-driver [...] resolve REF
 *   registry-driver [...] blob REF DIGEST OUTFILE
 * Prints "digest media-type length" (manifest; with the body on the next line), "digest
 * media-type" (resolve) or "length" (blob) on stdout; failures print one line "error: MSG" on
 * stderr and exit 1. --stats adds one "stats requests=N ..." line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/xarch.h"

static int sink_file(void *ud, const void *buf, size_t len) {
        return fwrite(buf, 1, len, ud) == len ? 0 : -EIO;
}

static int fail(struct xarch_error *err, int r) {
        fprintf(stderr, "error: %s\n", err && err->msg ? err->msg : strerror(-r));
        xarch_error_free(err);
        return 1;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                        {"ca", required_argument, NULL, 'c'},
                        {"auth", required_argument, NULL, 'a'},
                        {"cache", required_argument, NULL, 'C'},
                        {"insecure", no_argument, NULL, 'k'},
                        {"stats", no_argument, NULL, 's'},
                        {"body", no_argument, NULL, 'b'},
                        {},
        };
        struct xarch_registry_options o = {.cache_dir = ""};
        bool stats = false, body = false;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o.ca_file = optarg;
                        break;
                case 'a':
                        o.auth_file = optarg;
                        break;
                case 'C':
                        o.cache_dir = optarg;
                        break;
                case 'k':
                        o.insecure = true;
                        break;
                case 's':
                        stats = true;
                        break;
                case 'b':
                        body = true;
                        break;
                default:
                        fprintf(stderr, "usage: see the comment at the top of registry-driver.c\n");
                        return 2;
                }
        }
        if (argc - optind < 2) {
                fprintf(stderr, "usage: registry-driver [options] manifest|resolve|blob REF ...\n");
                return 2;
        }
        const char *verb = argv[optind], *refstr = argv[optind + 1];
        struct xarch_error *err = NULL;
        struct xarch_ref ref;
        int r = xarch_ref_parse(refstr, &ref, &err);
        if (r < 0)
                return fail(err, r);
        struct xarch_registry *reg = NULL;
        r = xarch_registry_new(&o, &reg, &err);
        if (r < 0)
                return fail(err, r);

        int rc = 0;
        if (strcmp(verb, "manifest") == 0) {
                struct xarch_blob_buf b = {};
                r = xarch_registry_get_manifest(reg, &ref, argv[optind + 2], &b, &err);
                if (r < 0) {
                        rc = fail(err, r);
                } else {
                        printf("%s %s %zu\n", b.digest, b.media_type, b.len);
                        if (body)
                                printf("%s\n", b.data);
                        xarch_blob_buf_release(&b);
                }
        } else if (strcmp(verb, "resolve") == 0) {
                char digest[XARCH_DIGEST_MAX], mt[256];
                r = xarch_registry_resolve(reg, &ref, digest, mt, &err);
                if (r < 0)
                        rc = fail(err, r);
                else
                        printf("%s %s\n", digest, mt);
        } else if (strcmp(verb, "blob") == 0 && argc - optind == 4) {
                FILE *f = fopen(argv[optind + 3], "we");
                if (!f) {
                        perror("fopen");
                        rc = 1;
                } else {
                        r = xarch_registry_get_blob(
                                        reg, &ref, argv[optind + 2], 0, sink_file, f, &err);
                        long len = ftell(f);
                        fclose(f);
                        if (r < 0)
                                rc = fail(err, r);
                        else
                                printf("%ld\n", len);
                }
        } else {
                fprintf(stderr, "unknown verb '%s'\n", verb);
                rc = 2;
        }
        if (stats) {
                struct xarch_registry_stats s;
                xarch_registry_get_stats(reg, &s);
                fprintf(stderr,
                                "stats requests=%llu tokens=%llu retries=%llu cache_hits=%llu "
                                "connections=%llu http2=%llu\n",
                                (unsigned long long) s.requests,
                                (unsigned long long) s.token_requests,
                                (unsigned long long) s.retries, (unsigned long long) s.cache_hits,
                                (unsigned long long) s.connections,
                                (unsigned long long) s.http2_requests);
        }
        xarch_registry_free(reg);
        return rc;
}
