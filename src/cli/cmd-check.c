/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const verb = "check";

#define MAX_NODES 32

static void usage(void) {
        fputs("Usage: xarch check REF --node ARCH[,ARCH...] [--emulation qemu|rosetta|none] "
              "[--json]\n"
              "\n"
              "Will this image run on a node of that platform? For each node, one verdict with\n"
              "the reason and the fix:\n"
              "  native          a manifest matching the node (containerd's rules, fallbacks\n"
              "                  named) whose binary really is of the node's architecture\n"
              "  emulated        no native manifest, but the binary runs under the node's\n"
              "                  emulator (for 'host': says whether it is registered)\n"
              "  emulated-crash  it starts under the emulator and crashes: amd64 Go before\n"
              "                  go1.25.4 under QEMU on arm64 (lfstack.push), x86-64-v3/v4\n"
              "                  binaries under QEMU older than 7.2\n"
              "  fails           exec format error (no native manifest, no emulation),\n"
              "                  mislabelled content, missing loader, wrong x86-64 level\n"
              "  emulated-unknown  it starts under the emulator; whether it crashes is\n"
              "                  unknown: amd64 Go whose version cannot be read, under QEMU on\n"
              "                  arm64 (Go before go1.25.4 crashes there, later Go does not)\n"
              "\n"
              "REF is a registry reference (host:5000/app:tag, name@sha256:...), oci:DIR[:TAG],\n"
              "oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME:TAG|:@N]. The image's layers\n"
              "are analysed as by 'xarch verify'.\n"
              "\n"
              "Options:\n"
              "  -n, --node LIST        node platforms (arm64, linux/amd64/v3, arm/v7, ...) or\n"
              "                         'host' (this machine, as 'xarch doctor' sees it);\n"
              "                         comma-separated, may be repeated; PLATFORM@RUNTIME\n"
              "                         names the node's runtime (arm64@containerd-1.7)\n"
              "      --runtime R        runtime of nodes without @: containerd-1.6 ...\n"
              "                         containerd-2.3, cri-o-X.Y, docker-X, containerd://X.Y.Z\n"
              "                         (default: the newest containerd; docs/runtimes.md)\n"
              "  -e, --emulation E      what the nodes have: qemu (default), rosetta or none;\n"
              "                         for 'host' the registered handlers decide unless given\n"
              "      --qemu-version V   the nodes' QEMU version (e.g. 7.2) for version rules\n"
              "      --binfmt-mount DIR read the binfmt_misc instance at DIR (for 'host')\n"
              "      --json             machine-readable output\n"
              "      --ca FILE          trust this CA bundle for registry TLS\n"
              "      --insecure         allow plain HTTP or unverified TLS to non-loopback "
              "registries\n"
              "      --authfile F       read registry credentials from F (docker/podman format)\n"
              "      --no-cache         neither read nor write the local manifest/blob cache\n"
              "  -h, --help             show this help\n"
              "\n"
              "Exit status: 0 when every node gets native or emulated; 1 when some node gets\n"
              "emulated-crash, emulated-unknown or fails; 2 for usage errors or an image that\n"
              "cannot be read.\n",
                        stdout);
}

static void print_indented(const char *label, const char *text) {
        printf("  %-10s", label);
        for (const char *p = text; *p; p++) {
                putchar(*p);
                if (*p == '\n' && p[1])
                        printf("  %-10s", "");
        }
        putchar('\n');
}

static void print_human(const struct xarch_check_report *rep) {
        printf("Image: %s\n", rep->name);
        for (size_t i = 0; i < rep->n_results; i++) {
                const struct xarch_check_result *r = &rep->results[i];
                printf("\n%s%s: %s (%s)\n", r->node, r->host ? " (host)" : "",
                                xarch_check_verdict_name(r->verdict), r->code);
                if (r->runtime[0])
                        printf("  %-10s%s\n", "runtime", r->runtime);
                if (r->image_platform[0]) {
                        char line[256];
                        if (r->rule != XARCH_MATCH_NONE)
                                snprintf(line, sizeof(line), "%s (%s match)", r->image_platform,
                                                xarch_match_rule_name(r->rule));
                        else
                                snprintf(line, sizeof(line), "%s (not the node's platform)",
                                                r->image_platform);
                        print_indented("image:", line);
                }
                if (r->binary[0])
                        print_indented("binary:", r->binary);
                if (r->emulator[0]) {
                        char line[700];
                        int len = snprintf(line, sizeof(line), "%s%s",
                                        r->emulation == XARCH_EMULATION_QEMU ? "qemu-" : "",
                                        r->emulator);
                        if (r->emulator_known && len > 0 && (size_t) len < sizeof(line))
                                snprintf(line + len, sizeof(line) - (size_t) len, ", %s%s%s%s",
                                                r->emulator_registered ? "registered as "
                                                                       : "not registered",
                                                r->emulator_registered ? r->emulator_entry : "",
                                                r->emulator_registered ? " -> " : "",
                                                r->emulator_registered ? r->emulator_path : "");
                        size_t used = strlen(line);
                        if (r->emulator_version[0])
                                snprintf(line + used, sizeof(line) - used, ", QEMU %s",
                                                r->emulator_version);
                        print_indented("emulator:", line);
                }
                print_indented("reason:", r->reason);
                for (size_t f = 0; f < r->n_fixes; f++) {
                        printf("  fix (%s):\n", xarch_check_fix_kind_name(r->fixes[f].kind));
                        printf("    ");
                        for (const char *p = r->fixes[f].text; *p; p++) {
                                putchar(*p);
                                if (*p == '\n' && p[1])
                                        printf("    ");
                        }
                        putchar('\n');
                }
        }
}

static json_t *report_json(const struct xarch_check_report *rep) {
        json_t *nodes = json_array();
        for (size_t i = 0; i < rep->n_results; i++) {
                const struct xarch_check_result *r = &rep->results[i];
                json_t *fixes = json_array();
                for (size_t f = 0; f < r->n_fixes; f++)
                        json_array_append_new(fixes,
                                        json_pack("{s:s, s:o}", "kind",
                                                        xarch_check_fix_kind_name(r->fixes[f].kind),
                                                        "text", cli_json_bytes(r->fixes[f].text)));
                json_t *emulator = json_null();
                if (r->emulator[0])
                        emulator = json_pack("{s:s, s:o, s:s?, s:s?, s:o, s:s?}", "name",
                                        r->emulator, "registered",
                                        r->emulator_known ? json_boolean(r->emulator_registered)
                                                          : json_null(),
                                        "entry", r->emulator_entry[0] ? r->emulator_entry : NULL,
                                        "path", r->emulator_path[0] ? r->emulator_path : NULL,
                                        "in_containers",
                                        r->emulator_known ? json_boolean(r->emulator_in_containers)
                                                          : json_null(),
                                        "version",
                                        r->emulator_version[0] ? r->emulator_version : NULL);
                const char *digest = NULL;
                if (r->platform_index >= 0 && rep->verify &&
                                (size_t) r->platform_index < rep->verify->n_platforms)
                        digest = rep->verify->platforms[r->platform_index].manifest_digest;
                json_t *node = json_pack("{s:s, s:b, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?, "
                                         "s:o?, s:o, s:o}",
                                "node", r->node, "host", r->host, "emulation",
                                xarch_emulation_name(r->emulation), "verdict",
                                xarch_check_verdict_name(r->verdict), "code", r->code, "reason",
                                cli_json_bytes(r->reason), "image_platform",
                                r->image_platform[0] ? r->image_platform : NULL, "manifest_digest",
                                digest && digest[0] ? digest : NULL, "rule",
                                r->rule != XARCH_MATCH_NONE ? xarch_match_rule_name(r->rule) : NULL,
                                "binary", r->binary[0] ? cli_json_bytes(r->binary) : NULL,
                                "emulator", emulator, "fixes", fixes);
                if (node && r->runtime[0])
                        json_object_set_new(node, "runtime", json_string(r->runtime));
                json_array_append_new(nodes, node);
        }
        return json_pack("{s:o, s:b, s:o}", "image", cli_json_bytes(rep->name), "all_run",
                        rep->all_run, "nodes", nodes);
}

enum {
        OPT_QEMU_VERSION = 0x100,
        OPT_BINFMT_MOUNT,
        OPT_JSON,
        OPT_RUNTIME,
};

int cmd_check(int argc, char **argv) {
        static const struct option longopts[] = {
                        {"node", required_argument, NULL, 'n'},
                        {"runtime", required_argument, NULL, OPT_RUNTIME},
                        {"emulation", required_argument, NULL, 'e'},
                        {"qemu-version", required_argument, NULL, OPT_QEMU_VERSION},
                        {"binfmt-mount", required_argument, NULL, OPT_BINFMT_MOUNT},
                        {"json", no_argument, NULL, OPT_JSON},
                        CLI_IMAGE_LONGOPTS,
                        {"help", no_argument, NULL, 'h'},
                        {},
        };
        struct xarch_check_node nodes[MAX_NODES];
        size_t n_nodes = 0;
        struct xarch_check_options opts = {0};
        struct xarch_image_options image_opts = {0};
        enum xarch_emulation emulation = XARCH_EMULATION_QEMU;
        bool emulation_set = false, json = false;
        int qemu_major = 0, qemu_minor = 0;
        struct xarch_runtime runtime;
        bool runtime_set = false;
        struct xarch_error *err = NULL;
        int c;

        while ((c = getopt_long(argc, argv, ":hn:e:", longopts, NULL)) != -1) {
                switch (c) {
                case 'n': {
                        _cleanup_free_ char *list = strdup(optarg);
                        if (!list)
                                return cli_error("out of memory");
                        char *save = NULL;
                        bool any = false;
                        for (char *tok = strtok_r(list, ",", &save); tok;
                                        tok = strtok_r(NULL, ",", &save)) {
                                if (n_nodes == MAX_NODES)
                                        return cli_usage_error(verb, "too many nodes (at most %d)",
                                                        MAX_NODES);
                                if (xarch_check_node_parse(tok, &nodes[n_nodes], &err) < 0) {
                                        int rc = cli_usage_error(verb, "invalid node '%s': %s", tok,
                                                        err ? err->msg : "invalid");
                                        xarch_error_free(err);
                                        return rc;
                                }
                                n_nodes++;
                                any = true;
                        }
                        if (!any)
                                return cli_usage_error(verb, "--node needs a platform");
                        break;
                }
                case 'e':
                        if (xarch_emulation_parse(optarg, &emulation, NULL) < 0)
                                return cli_usage_error(verb,
                                                "unknown emulation '%s' (qemu, rosetta or none)",
                                                optarg);
                        emulation_set = true;
                        break;
                case OPT_QEMU_VERSION:
                        if (xarch_qemu_version_parse(optarg, &qemu_major, &qemu_minor, NULL) < 0)
                                return cli_usage_error(verb,
                                                "invalid QEMU version '%s' (want e.g. 7.2)",
                                                optarg);
                        break;
                case OPT_BINFMT_MOUNT:
                        opts.binfmt_mount = optarg;
                        break;
                case OPT_RUNTIME:
                        if (xarch_runtime_parse(optarg, &runtime, &err) < 0) {
                                int rc = cli_usage_error(verb, "%s",
                                                err && err->msg ? err->msg : "invalid runtime");
                                xarch_error_free(err);
                                return rc;
                        }
                        runtime_set = true;
                        break;
                case OPT_JSON:
                        json = true;
                        cli_json_requested();
                        break;
                case 'h':
                        usage();
                        return EXIT_OK;
                case ':':
                        return cli_option_error(verb, c, argc, argv);
                default:
                        if (cli_image_option(c, optarg, &image_opts))
                                break;
                        return cli_option_error(verb, c, argc, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error(verb, "missing image reference");
        if (optind + 1 < argc)
                return cli_usage_error(verb, "unexpected argument '%s'", argv[optind + 1]);
        if (n_nodes == 0)
                return cli_usage_error(verb, "missing --node (e.g. --node arm64 or --node host)");
        for (size_t i = 0; i < n_nodes; i++) {
                nodes[i].emulation = emulation;
                nodes[i].emulation_set = emulation_set;
                nodes[i].qemu_major = qemu_major;
                nodes[i].qemu_minor = qemu_minor;
                if (runtime_set && !nodes[i].runtime_set) {
                        /* the platform was parsed for the default runtime: dots are fine for
                         * it, not for 1.6/1.7 (their Parse refuses them) */
                        if (!xarch_runtime_variant_dots(&runtime) &&
                                        strchr(nodes[i].platform.variant, '.'))
                                return cli_usage_error(verb,
                                                "invalid node variant '%s': that --runtime "
                                                "refuses dots in a platform (accepted from "
                                                "containerd 2.0)",
                                                nodes[i].platform.variant);
                        nodes[i].runtime = runtime;
                }
        }

        struct xarch_image_context *ctx = NULL;
        struct xarch_image *img = NULL;
        struct xarch_check_report *rep = NULL;
        int r = xarch_image_context_new(&image_opts, &ctx, &err);
        if (r >= 0)
                r = xarch_image_open(ctx, argv[optind], &img, &err);
        if (r >= 0)
                r = xarch_check_image(img, nodes, n_nodes, &opts, &rep, &err);
        xarch_image_free(img);
        xarch_image_context_free(ctx);
        if (r < 0) {
                cli_report(&err, r);
                return EXIT_USAGE; /* the image could not be read: an access error */
        }

        int rc = rep->unreadable ? EXIT_USAGE : rep->all_run ? EXIT_OK : EXIT_FAIL;
        if (json) {
                if (cli_print_json(report_json(rep)) != 0)
                        rc = EXIT_FAIL;
        } else {
                print_human(rep);
        }
        /* like verify: an image that cannot be read is an error, named on stderr too */
        for (size_t i = 0; rep->unreadable && i < rep->n_results; i++)
                if (streq(rep->results[i].code, "unreadable")) {
                        cli_error("%s: %s", rep->results[i].node, rep->results[i].reason);
                        break;
                }
        xarch_check_report_free(rep);
        return rc;
}
