/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_ANNOTATIONS 256

static const char *const verb = "index";

static void usage(void) {
        fputs("Usage: xarch index create DEST SRC... [OPTIONS]\n"
              "       xarch index add DEST SRC... [OPTIONS]\n"
              "       xarch index remove DEST (--platform P | --digest D) [OPTIONS]\n"
              "       xarch index annotate DEST [--platform P | --digest D] KEY=VALUE...\n"
              "\n"
              "Create and edit multi-platform image indexes, at a registry or in an OCI\n"
              "layout (oci:DIR[:TAG]; create also writes oci-archive:FILE[:TAG]).\n"
              "\n"
              "Each SRC is an image or an index (any source xarch reads); indexes are\n"
              "flattened into their entries, and everything they reference is copied to\n"
              "DEST first, verbatim. Each entry's platform comes from its image config; a\n"
              "label that disagrees with the config is refused unless --force. Two images\n"
              "of the same platform are refused. Attestations follow their image. Entries\n"
              "are ordered canonically, so the same set gives the same digest. An edit\n"
              "re-reads DEST's tag just before moving it and starts over if it changed.\n"
              "\n"
              "Options:\n"
              "  -p, --platform P    create/add: the platform of a single-image SRC (checked\n"
              "                      against its config); remove/annotate: which entry\n"
              "      --digest D      remove/annotate: the entry with this digest\n"
              "      --annotation K=V  an annotation (index level; with --platform/--digest,\n"
              "                      on that entry); KEY= removes it (repeatable)\n"
              "      --format F      oci (default for create) or docker (a manifest list;\n"
              "                      refused when an entry is not a Docker manifest)\n"
              "      --force         accept a platform label that disagrees with the config\n"
              "  -j, --jobs N        blobs copied at once to a registry (default 8)\n"
              "      --json          machine-readable result\n"
              "      --ca FILE       trust this CA bundle for registry TLS\n"
              "      --insecure      allow plain HTTP or unverified TLS to non-loopback hosts\n"
              "      --authfile F    read registry credentials from F (docker/podman format)\n"
              "      --no-cache      accepted for symmetry; index never caches blobs\n"
              "  -h, --help          show this help\n"
              "\n"
              "Exit status: 0 done; 1 refused or failed (DEST's tag unchanged); 2 usage error.\n",
                        stdout);
}

static json_t *result_json(const char *dest, const struct xarch_index_result *r) {
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
        return json_pack("{s:o, s:s, s:s, s:I, s:i, s:o}", "destination", cli_json_bytes(dest),
                        "digest", r->digest, "mediaType", r->media_type, "size",
                        (json_int_t) r->size, "attempts", (int) r->attempts, "entries",
                        entries ? entries : json_array());
}

int cmd_index(int argc, char **argv) {
        enum {
                OPT_JSON = 0x100,
                OPT_DIGEST,
                OPT_ANNOTATION,
                OPT_FORMAT,
                OPT_FORCE,
        };
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"platform", required_argument, NULL, 'p'},
                        {"digest", required_argument, NULL, OPT_DIGEST},
                        {"annotation", required_argument, NULL, OPT_ANNOTATION},
                        {"format", required_argument, NULL, OPT_FORMAT},
                        {"force", no_argument, NULL, OPT_FORCE},
                        {"jobs", required_argument, NULL, 'j'},
                        {"json", no_argument, NULL, OPT_JSON},
                        CLI_IMAGE_LONGOPTS,
                        {},
        };
        struct xarch_image_options image_opts = {0};
        struct xarch_index_options opts = {0};
        struct xarch_platform platform;
        const char *platform_arg = NULL;
        const char *annotations[MAX_ANNOTATIONS];
        size_t n_annotations = 0;
        bool json = false;
        int c;

        /* "xarch index --help" and "xarch index" alone */
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                usage();
                return EXIT_OK;
        }
        if (argc < 2)
                return cli_usage_error(verb, "no subcommand given (create, add, remove, annotate)");
        const char *sub = argv[1];
        if (streq(sub, "create"))
                opts.op = XARCH_INDEX_CREATE;
        else if (streq(sub, "add"))
                opts.op = XARCH_INDEX_ADD;
        else if (streq(sub, "remove"))
                opts.op = XARCH_INDEX_REMOVE;
        else if (streq(sub, "annotate"))
                opts.op = XARCH_INDEX_ANNOTATE;
        else
                return cli_usage_error(verb, "unknown subcommand '%s'", sub);
        argc--;
        argv++;

        while ((c = getopt_long(argc, argv, ":hp:j:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage();
                        return EXIT_OK;
                case 'p':
                        platform_arg = optarg;
                        break;
                case OPT_DIGEST:
                        if (!xarch_digest_valid(optarg))
                                return cli_usage_error(verb,
                                                "--digest wants sha256:<64 hex>, "
                                                "not '%s'",
                                                optarg);
                        opts.digest = optarg;
                        break;
                case OPT_ANNOTATION:
                        if (n_annotations >= MAX_ANNOTATIONS)
                                return cli_usage_error(verb, "too many annotations");
                        if (!strchr(optarg, '=') || optarg[0] == '=')
                                return cli_usage_error(verb,
                                                "--annotation wants KEY=VALUE, not "
                                                "'%s'",
                                                optarg);
                        annotations[n_annotations++] = optarg;
                        break;
                case OPT_FORMAT:
                        if (streq(optarg, "docker"))
                                opts.docker_format = true;
                        else if (streq(optarg, "oci"))
                                opts.oci_format = true;
                        else
                                return cli_usage_error(verb,
                                                "--format is oci or docker, not "
                                                "'%s'",
                                                optarg);
                        break;
                case OPT_FORCE:
                        opts.force = true;
                        break;
                case 'j': {
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (errno || *end || n < 1 || n > 32)
                                return cli_usage_error(
                                                verb, "--jobs wants 1..32, not '%s'", optarg);
                        opts.jobs = (unsigned) n;
                        break;
                }
                case OPT_JSON:
                        json = true;
                        break;
                case ':':
                        return cli_option_error(verb, c, argc, argv);
                default:
                        if (cli_image_option(c, optarg, &image_opts))
                                break;
                        return cli_option_error(verb, c, argc, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error(verb, "no DEST given");
        const char *dest = argv[optind++];
        if (opts.op == XARCH_INDEX_ANNOTATE) {
                /* annotate takes KEY=VALUE operands too */
                for (; optind < argc; optind++) {
                        if (n_annotations >= MAX_ANNOTATIONS)
                                return cli_usage_error(verb, "too many annotations");
                        if (!strchr(argv[optind], '=') || argv[optind][0] == '=')
                                return cli_usage_error(verb, "'%s' is not KEY=VALUE", argv[optind]);
                        annotations[n_annotations++] = argv[optind];
                }
                if (!n_annotations)
                        return cli_usage_error(verb, "annotate needs KEY=VALUE");
        }
        if (opts.op == XARCH_INDEX_CREATE || opts.op == XARCH_INDEX_ADD) {
                if (optind >= argc)
                        return cli_usage_error(verb, "no SRC given");
                opts.sources = (const char *const *) &argv[optind];
                opts.n_sources = (size_t) (argc - optind);
                if (opts.digest)
                        return cli_usage_error(verb, "--digest selects entries for remove and "
                                                     "annotate");
        } else if (opts.op == XARCH_INDEX_REMOVE) {
                if (optind < argc)
                        return cli_usage_error(verb, "remove takes no SRC");
                if (!platform_arg == !opts.digest)
                        return cli_usage_error(verb, "remove needs --platform or --digest");
        }
        if (platform_arg) {
                struct xarch_error *err = NULL;
                if (xarch_platform_parse_raw(platform_arg, &platform, &err) < 0) {
                        int rc = cli_usage_error(verb, "%s",
                                        err && err->msg ? err->msg : "invalid platform");
                        xarch_error_free(err);
                        return rc;
                }
                opts.platform = &platform;
        }
        if (opts.docker_format && opts.oci_format)
                return cli_usage_error(verb, "--format given twice");
        opts.annotations = annotations;
        opts.n_annotations = n_annotations;
        /* a job may hold a source GET and a destination PATCH on one host at once */
        unsigned jobs = opts.jobs ? opts.jobs : 8;
        image_opts.max_per_registry = 2 * jobs + 2;
        image_opts.no_cache = true; /* reads each blob once */

        struct xarch_error *err = NULL;
        struct xarch_image_context *ctx = NULL;
        if (xarch_image_context_new(&image_opts, &ctx, &err) < 0)
                return cli_report(&err, -ENOMEM);
        struct xarch_index_result *res = NULL;
        int r = xarch_index_edit(ctx, dest, &opts, &res, &err);
        xarch_image_context_free(ctx);
        if (r < 0)
                return cli_report(&err, r);
        int rc = EXIT_OK;
        if (json)
                rc = cli_print_json(result_json(dest, res));
        else {
                printf("%s\n", res->digest);
                for (size_t i = 0; i < res->n_entries; i++) {
                        const struct xarch_copy_entry *e = &res->entries[i];
                        char p[128] = "-";
                        if (e->has_platform)
                                xarch_platform_format(&e->platform, p, sizeof(p));
                        fprintf(stderr, "  %-20s %s%s\n", p, e->digest,
                                        e->attestation ? " (attestation)" : "");
                }
        }
        xarch_index_result_free(res);
        return rc;
}
