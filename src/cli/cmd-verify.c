/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const verb = "verify";

static void usage(void) {
        fputs("Usage: xarch verify [OPTIONS] REF\n"
              "\n"
              "Check that each platform of an image really holds binaries of that architecture:\n"
              "compare the index entry's platform, the config's architecture/variant and the\n"
              "binary that would run (entrypoint/cmd resolved through the merged layers along\n"
              "the config's PATH; a #! script leads to its interpreter). Layers are streamed\n"
              "and analysed in memory, never extracted.\n"
              "\n"
              "REF is a registry reference, oci:DIR[:TAG], oci-archive:FILE[:TAG] or\n"
              "docker-archive:FILE[:NAME:TAG|:@N].\n"
              "\n"
              "Options:\n"
              "  -p, --platform P   verify only the image a node of platform P would pull\n"
              "      --deep         analyse every ELF file, count them per architecture and\n"
              "                     report mixed-architecture content\n"
              "  -j, --jobs N       layers analysed at once (default: CPUs, at most 4)\n"
              "      --json         machine-readable output\n"
              "      --ca FILE      trust this CA bundle for registry TLS\n"
              "      --insecure     allow plain HTTP or unverified TLS to non-loopback registries\n"
              "      --authfile F   read registry credentials from F (docker/podman format)\n"
              "      --no-cache     neither read nor write the local manifest/blob cache\n"
              "  -h, --help         show this help\n"
              "\n"
              "Problems reported: mislabelled (the binary is another architecture),\n"
              "variant-mismatch (arm/v6 entry, binary needs v7; amd64 level above the label),\n"
              "config-mismatch (index vs config), mixed-architecture, loader-missing (PT_INTERP\n"
              "or #! interpreter not in the image), no-command, not-found, symlink-loop,\n"
              "not-executable, unreadable.\n"
              "\n"
              "Exit status: 0 consistent; 1 problems found; 2 usage error, or the image or one\n"
              "of its layers could not be read.\n",
                        stdout);
}

static void progress_tty(void *userdata, const char *message) {
        (void) userdata;
        fprintf(stderr, "\r\033[K%s", message);
        fflush(stderr);
}

static const char *plat(const struct xarch_platform *p, char *buf, size_t size) {
        if (xarch_platform_format(p, buf, size) < 0)
                snprintf(buf, size, "?");
        return buf;
}

static json_t *jplat(const struct xarch_platform *p) {
        char buf[XARCH_PLATFORM_STRING_MAX];
        return json_string(plat(p, buf, sizeof(buf)));
}

static json_t *file_json(const struct xarch_file_info *info, bool partial) {
        char desc[512];
        if (xarch_file_describe(info, desc, sizeof(desc)) < 0)
                desc[0] = '\0';
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(xarch_file_kind_name(info->kind)));
        json_object_set_new(
                        o, "platform", info->platform_known ? jplat(&info->platform) : json_null());
        json_object_set_new(o, "machine", json_string(info->machine_name));
        json_object_set_new(o, "linkage", json_string(xarch_file_linkage_name(info->linkage)));
        json_object_set_new(o, "interpreter",
                        info->interpreter[0] ? cli_json_bytes(info->interpreter) : json_null());
        json_object_set_new(o, "language", json_string(xarch_file_language_name(info->language)));
        if (info->go.evidence) {
                json_t *go = json_object();
                json_object_set_new(go, "version",
                                info->go.version[0] ? json_string(info->go.version) : json_null());
                json_object_set_new(go, "goarch",
                                info->go.goarch[0] ? json_string(info->go.goarch) : json_null());
                json_object_set_new(go, "level_key",
                                info->go.level_key[0] ? json_string(info->go.level_key)
                                                      : json_null());
                json_object_set_new(go, "level",
                                info->go.level[0] ? json_string(info->go.level) : json_null());
                json_object_set_new(o, "go", go);
        }
        if (info->amd64_level)
                json_object_set_new(o, "amd64_level", json_integer(info->amd64_level));
        json_object_set_new(o, "description", cli_json_bytes(desc));
        json_object_set_new(o, "partial", json_boolean(partial));
        return o;
}

/* A diff-id-mismatch's facts: the layer (index from 0, as in rootfs.diff_ids), the config's
 * diff_id and the computed one; or, for a count mismatch, both counts. */
static void diff_id_json(json_t *x, const struct xarch_verify_problem *q, size_t n_layers) {
        if (q->has_layer) {
                json_object_set_new(x, "layer_index", json_integer((json_int_t) q->layer_index));
                json_object_set_new(x, "layer", json_string(q->layer_digest));
                json_object_set_new(x, "expected_diff_id", json_string(q->expected_diff_id));
                json_object_set_new(x, "computed_diff_id", json_string(q->computed_diff_id));
        } else {
                json_object_set_new(x, "diff_ids", json_integer((json_int_t) q->n_diff_ids));
                json_object_set_new(x, "layers", json_integer((json_int_t) n_layers));
        }
}

static json_t *platform_json(const struct xarch_verify_platform *p) {
        json_t *o = json_object();
        json_object_set_new(o, "digest", json_string(p->manifest_digest));
        json_object_set_new(o, "index_platform",
                        p->has_index_platform ? jplat(&p->index_platform) : json_null());
        json_object_set_new(o, "config_platform",
                        p->has_config_platform ? jplat(&p->config_platform) : json_null());
        json_object_set_new(o, "label", p->label.arch[0] ? jplat(&p->label) : json_null());
        json_t *cmd = json_array();
        for (char **s = p->command; s && *s; s++)
                json_array_append_new(cmd, cli_json_bytes(*s));
        json_object_set_new(o, "command", cmd);
        json_object_set_new(o, "program", p->program ? cli_json_bytes(p->program) : json_null());
        json_object_set_new(o, "program_info",
                        p->has_program_info ? file_json(&p->program_info, false) : json_null());
        json_object_set_new(o, "interpreter",
                        p->interpreter ? cli_json_bytes(p->interpreter) : json_null());
        json_object_set_new(o, "binary",
                        p->has_binary_info ? file_json(&p->binary_info, p->binary_partial)
                                           : json_null());
        json_object_set_new(o, "binary_platform",
                        p->has_binary_platform ? jplat(&p->binary_platform) : json_null());
        if (p->loader_needed) {
                json_t *l = json_object();
                json_object_set_new(l, "path", cli_json_bytes(p->loader));
                json_object_set_new(l, "present", json_boolean(p->loader_present));
                json_object_set_new(o, "loader", l);
        } else {
                json_object_set_new(o, "loader", json_null());
        }
        json_t *arches = json_array();
        for (size_t i = 0; i < p->n_arches; i++) {
                const struct xarch_verify_arch_count *a = &p->arches[i];
                json_t *x = json_object();
                json_object_set_new(x, "platform",
                                a->platform.arch[0] ? jplat(&a->platform) : json_null());
                json_object_set_new(x, "machine", json_string(a->machine_name));
                json_object_set_new(x, "files", json_integer(a->files));
                json_object_set_new(x, "go_files", json_integer(a->go_files));
                json_object_set_new(x, "example", cli_json_bytes(a->example));
                json_array_append_new(arches, x);
        }
        json_object_set_new(o, "architectures", arches);
        json_object_set_new(o, "elf_files", json_integer(p->elf_files));
        json_object_set_new(o, "layers", json_integer((json_int_t) p->n_layers));
        json_object_set_new(o, "compressed_bytes", json_integer((json_int_t) p->compressed_bytes));
        json_object_set_new(
                        o, "uncompressed_bytes", json_integer((json_int_t) p->uncompressed_bytes));
        json_object_set_new(o, "diff_ids_checked", json_integer((json_int_t) p->diff_ids_checked));
        json_t *probs = json_array();
        for (size_t i = 0; i < p->n_problems; i++) {
                json_t *x = json_object();
                json_object_set_new(x, "kind",
                                json_string(xarch_verify_problem_name(p->problems[i].kind)));
                json_object_set_new(x, "message", cli_json_bytes(p->problems[i].message));
                if (p->problems[i].kind == XARCH_PROBLEM_DIFF_ID)
                        diff_id_json(x, &p->problems[i], p->n_layers);
                json_array_append_new(probs, x);
        }
        json_object_set_new(o, "problems", probs);
        json_object_set_new(o, "consistent", json_boolean(p->n_problems == 0));
        return o;
}

static void print_json(const struct xarch_verify_report *r, bool deep) {
        json_t *o = json_object();
        json_object_set_new(o, "name", cli_json_bytes(r->name));
        json_object_set_new(o, "digest", json_string(r->root_digest));
        json_object_set_new(o, "index", json_boolean(r->is_index));
        json_object_set_new(o, "deep", json_boolean(deep));
        json_t *ps = json_array();
        for (size_t i = 0; i < r->n_platforms; i++)
                json_array_append_new(ps, platform_json(&r->platforms[i]));
        json_object_set_new(o, "platforms", ps);
        json_object_set_new(o, "problems", json_integer((json_int_t) r->n_problems));
        json_object_set_new(o, "consistent", json_boolean(r->n_problems == 0));
        cli_print_json(o);
}

static void print_human(const struct xarch_verify_report *r, bool deep) {
        char a[XARCH_PLATFORM_STRING_MAX], desc[512], shown[2048]; /* messages name files */
        printf("%s (%s %.19s)\n", r->name, r->is_index ? "index" : "image", r->root_digest);
        for (size_t i = 0; i < r->n_platforms; i++) {
                const struct xarch_verify_platform *p = &r->platforms[i];
                printf("\n%s  %.19s  %s\n", p->label.arch[0] ? plat(&p->label, a, sizeof(a)) : "?",
                                p->manifest_digest,
                                p->unreadable   ? "UNREADABLE"
                                : p->n_problems ? "PROBLEMS"
                                                : "ok");
                if (p->has_index_platform)
                        printf("  index:    %s\n", plat(&p->index_platform, a, sizeof(a)));
                if (p->has_config_platform)
                        printf("  config:   %s\n", plat(&p->config_platform, a, sizeof(a)));
                if (p->command) {
                        printf("  command: ");
                        for (char **s = p->command; *s; s++) {
                                putchar(' ');
                                cli_put_name(*s);
                        }
                        printf("\n");
                }
                if (p->program && p->has_program_info &&
                                p->program_info.kind == XARCH_FILE_SCRIPT) {
                        printf("  program:  ");
                        cli_put_name(p->program);
                        printf(" (script, #!");
                        cli_put_name(p->program_info.interpreter);
                        printf(")\n");
                } else if (p->program) {
                        printf("  program:  ");
                        cli_put_name(p->program);
                        putchar('\n');
                }
                if (p->interpreter) {
                        printf("  runs:     ");
                        cli_put_name(p->interpreter);
                        putchar('\n');
                }
                if (p->has_binary_info) {
                        if (xarch_file_describe(&p->binary_info, desc, sizeof(desc)) < 0)
                                desc[0] = '\0';
                        printf("  binary:   %s%s\n", desc,
                                        p->binary_partial
                                                        ? " (large file: analysed from the ranges "
                                                          "kept while streaming)"
                                                        : "");
                }
                if (p->loader_needed) {
                        printf("  loader:   ");
                        cli_put_name(p->loader);
                        printf(" (%s)\n", p->loader_present ? "present" : "MISSING");
                }
                if (deep) {
                        printf("  ELF files: %u", p->elf_files);
                        for (size_t k = 0; k < p->n_arches; k++) {
                                const struct xarch_verify_arch_count *x = &p->arches[k];
                                printf("%s %s %u", k ? "," : ":",
                                                x->platform.arch[0] ? x->platform.arch
                                                                    : x->machine_name,
                                                x->files);
                                if (x->go_files)
                                        printf(" (%u Go)", x->go_files);
                        }
                        printf("\n");
                }
                for (size_t k = 0; k < p->n_problems; k++)
                        printf("  problem:  %s: %s\n",
                                        xarch_verify_problem_name(p->problems[k].kind),
                                        cli_printable(p->problems[k].message, shown,
                                                        sizeof(shown)));
        }
        printf("\n%zu platform%s verified: %s\n", r->n_platforms, r->n_platforms == 1 ? "" : "s",
                        r->n_problems == 0 ? "consistent" : "problems found");
}

int cmd_verify(int argc, char **argv) {
        enum { OPT_JSON = 0x100, OPT_DEEP };
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"platform", required_argument, NULL, 'p'},
                        {"jobs", required_argument, NULL, 'j'},
                        {"deep", no_argument, NULL, OPT_DEEP},
                        {"json", no_argument, NULL, OPT_JSON},
                        CLI_IMAGE_LONGOPTS,
                        {},
        };
        struct xarch_image_options image_opts = {0};
        struct xarch_verify_options opts = {0};
        struct xarch_platform want;
        struct xarch_error *err = NULL;
        bool json = false;
        const char *platform_arg = NULL;
        int c;

        while ((c = getopt_long(argc, argv, ":hp:j:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage();
                        return EXIT_OK;
                case 'p':
                        platform_arg = optarg;
                        break;
                case 'j': {
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (errno || *end || n < 1 || n > 8)
                                return cli_usage_error(verb, "--jobs wants 1..8, not '%s'", optarg);
                        opts.concurrency = (unsigned) n;
                        break;
                }
                case OPT_DEEP:
                        opts.deep = true;
                        break;
                case OPT_JSON:
                        json = true;
                        cli_json_requested();
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
                return cli_usage_error(verb, "no image reference given");
        if (argc - optind > 1)
                return cli_usage_error(verb, "one image reference at a time ('%s' is extra)",
                                argv[optind + 1]);
        if (platform_arg) {
                if (xarch_platform_parse(platform_arg, &want, &err) < 0) {
                        int rc = cli_usage_error(verb, "%s",
                                        err && err->msg ? err->msg : "invalid platform");
                        xarch_error_free(err);
                        return rc;
                }
                opts.platform = &want;
        }
        bool tty = isatty(STDERR_FILENO);
        if (tty) {
                opts.progress = progress_tty;
        }

        struct xarch_image_context *ctx = NULL;
        struct xarch_image *img = NULL;
        struct xarch_verify_report *report = NULL;
        int r = xarch_image_context_new(&image_opts, &ctx, &err);
        if (r >= 0)
                r = xarch_image_open(ctx, argv[optind], &img, &err);
        if (r >= 0)
                r = xarch_verify_image(img, &opts, &report, &err);
        if (tty)
                fputs("\r\033[K", stderr);
        xarch_image_free(img);
        xarch_image_context_free(ctx);
        if (r < 0) {
                cli_report(&err, r);
                return EXIT_USAGE; /* access errors share status 2 with usage errors */
        }
        if (json)
                print_json(report, opts.deep);
        else
                print_human(report, opts.deep);
        int rc = report->unreadable ? EXIT_USAGE : report->n_problems ? EXIT_FAIL : EXIT_OK;
        if (report->unreadable) { /* said on stderr with --json too */
                for (size_t i = 0; i < report->n_platforms; i++)
                        for (size_t k = 0; k < report->platforms[i].n_problems; k++)
                                if (report->platforms[i].problems[k].kind ==
                                                XARCH_PROBLEM_UNREADABLE) {
                                        cli_error("%s", report->platforms[i].problems[k].message);
                                        goto done;
                                }
        }
done:
        xarch_verify_report_free(report);
        return rc;
}
