/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const verb = "build";

static void usage(void) {
        fputs("Usage: xarch build [OPTIONS] --tag DEST\n"
              "\n"
              "Build one image per platform from a base (or scratch) plus the files, directories\n"
              "and archives given, and an index over them. Every ELF file added for a platform\n"
              "must be that platform's (machine, class, byte order, ARM float ABI, arm variant,\n"
              "x86-64 level, Go GOARCH); every dynamic binary's loader and every #! interpreter\n"
              "must be in the final image, and the entrypoint/cmd must resolve to a program.\n"
              "Nothing is written when a check fails. Layers are reproducible: the same inputs\n"
              "give the same digests (SOURCE_DATE_EPOCH sets mtimes and `created`, else 0).\n"
              "\n"
              "Options:\n"
              "      --from BASE          scratch (default) or an image: registry reference,\n"
              "                           oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:F\n"
              "  -p, --platform P,...     target platforms (default: the base's, or the host's)\n"
              "      --add '[P=]SRC:DEST' a file or directory (repeatable); SRC may hold {os}\n"
              "                           {arch} {variant} {uname_m} {debian_arch}; P= limits\n"
              "                           it to one platform; DEST ending in / takes the name\n"
              "      --add-archive '[P=]SRC:DEST'  a .tar, .tar.gz or .tar.zst extracted under "
              "DEST\n"
              "      --strip-components N drop N leading path components of archive members\n"
              "      --chown UID:GID      owner of what is added (default 0:0)\n"
              "      --chmod MODE         octal permission bits of what is added\n"
              "      --entrypoint E       JSON array, or words split at spaces (\"\" clears)\n"
              "      --cmd C              likewise\n"
              "      --env K=V            set a variable ($NAME and ${NAME} expand; repeatable)\n"
              "      --workdir DIR        working directory\n"
              "      --user U             user (and group) to run as\n"
              "      --label K=V          config label (repeatable)\n"
              "      --annotation K=V     manifest and index annotation (repeatable)\n"
              "      --expose PORT[/PROTO] exposed port (repeatable)\n"
              "      --allow-foreign GLOB let matching image paths through the checks\n"
              "      --compression C      gzip (level 1), gzip:N (1-9), zstd or zstd:N\n"
              "      --max-archive-size N bytes one archive may expand to (default 16G)\n"
              "  -t, --tag DEST           a registry reference (verified after the push),\n"
              "                           oci:DIR[:TAG], oci-archive:FILE[:TAG] or\n"
              "                           docker-archive:FILE[:NAME:TAG] (one platform)\n"
              "      --dry-run            check and compute every digest, write nothing\n"
              "      --json               machine-readable output\n"
              "      --ca FILE            trust this CA bundle for registry TLS\n"
              "      --insecure           allow plain HTTP or unverified TLS (non-loopback)\n"
              "      --authfile F         read registry credentials from F\n"
              "      --no-cache           neither read nor write the local cache\n"
              "  -h, --help               show this help\n"
              "\n"
              "Exit status: 0 built; 1 a check failed or the build failed; 2 usage error.\n",
                        stdout);
}

static void progress_tty(void *userdata, const char *message) {
        (void) userdata;
        char buf[256];
        fprintf(stderr, "\r\033[K%s", cli_printable(message, buf, sizeof(buf)));
        fflush(stderr);
}

struct strv {
        const char **v;
        size_t n;
};

static int strv_push(struct strv *s, const char *x) {
        const char **n = realloc(s->v, (s->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        s->v = n;
        s->v[s->n++] = x;
        return 0;
}

static bool parse_size(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s)
                return false;
        unsigned shift = 0;
        if (*end == 'K' || *end == 'k')
                shift = 10;
        else if (*end == 'M' || *end == 'm')
                shift = 20;
        else if (*end == 'G' || *end == 'g')
                shift = 30;
        else if (*end)
                return false;
        if (shift && end[1])
                return false;
        if (v > (UINT64_MAX >> shift))
                return false;
        *ret = (uint64_t) v << shift;
        return true;
}

static const char *plat(const struct xarch_platform *p, char *buf, size_t size) {
        if (xarch_platform_format(p, buf, size) < 0)
                snprintf(buf, size, "?");
        return buf;
}

static void print_result(const struct xarch_build_result *r, bool dry_run, bool json,
                const struct xarch_verify_report *report) {
        char pb[XARCH_PLATFORM_STRING_MAX];
        if (json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "destination", cli_json_bytes(r->dest));
                json_object_set_new(doc, "dry_run", json_boolean(dry_run));
                json_object_set_new(doc, "digest", json_string(r->root_digest));
                json_object_set_new(doc, "media_type", json_string(r->root_media_type));
                json_object_set_new(doc, "index", json_boolean(r->is_index));
                json_t *ps = json_array();
                for (size_t i = 0; i < r->n_platforms; i++) {
                        const struct xarch_build_platform *p = &r->platforms[i];
                        json_t *o = json_object();
                        json_object_set_new(o, "platform",
                                        json_string(plat(&p->platform, pb, sizeof(pb))));
                        json_object_set_new(o, "manifest", json_string(p->manifest_digest));
                        json_object_set_new(o, "config", json_string(p->config_digest));
                        json_object_set_new(o, "base",
                                        p->base_digest[0] ? json_string(p->base_digest)
                                                          : json_null());
                        json_object_set_new(o, "base_layers",
                                        json_integer((json_int_t) p->n_base_layers));
                        if (p->has_layer) {
                                json_t *l = json_object();
                                json_object_set_new(l, "digest", json_string(p->layer_digest));
                                json_object_set_new(l, "diff_id", json_string(p->diff_id));
                                json_object_set_new(l, "size",
                                                json_integer((json_int_t) p->layer_size));
                                json_object_set_new(l, "entries",
                                                json_integer((json_int_t) p->n_entries));
                                json_object_set_new(o, "layer", l);
                        } else {
                                json_object_set_new(o, "layer", json_null());
                        }
                        json_object_set_new(o, "executables_checked",
                                        json_integer((json_int_t) p->n_checked));
                        json_array_append_new(ps, o);
                }
                json_object_set_new(doc, "platforms", ps);
                json_t *w = json_object();
                json_object_set_new(w, "blobs", json_integer((json_int_t) r->blobs_written));
                json_object_set_new(w, "blobsSkipped", json_integer((json_int_t) r->blobs_skipped));
                json_object_set_new(w, "blobsMounted", json_integer((json_int_t) r->blobs_mounted));
                json_object_set_new(w, "resumed", json_integer((json_int_t) r->uploads_resumed));
                json_object_set_new(doc, "written", w);
                json_object_set_new(doc, "verified",
                                report ? json_boolean(report->n_problems == 0) : json_null());
                cli_print_json(doc);
                return;
        }
        printf("%s %s\n", dry_run ? "would write" : "wrote", r->dest);
        printf("%s %s\n", r->is_index ? "index" : "manifest", r->root_digest);
        for (size_t i = 0; i < r->n_platforms; i++) {
                const struct xarch_build_platform *p = &r->platforms[i];
                printf("  %-16s manifest %s\n", plat(&p->platform, pb, sizeof(pb)),
                                p->manifest_digest);
                if (dry_run || !isatty(STDOUT_FILENO)) {
                        printf("  %-16s config   %s\n", "", p->config_digest);
                        if (p->has_layer)
                                printf("  %-16s layer    %s (%" PRIu64 " bytes, %zu entries, "
                                       "diff_id %s)\n",
                                                "", p->layer_digest, p->layer_size, p->n_entries,
                                                p->diff_id);
                        if (p->base_digest[0])
                                printf("  %-16s base     %s (%zu layers)\n", "", p->base_digest,
                                                p->n_base_layers);
                }
        }
        if (report)
                printf("verified %s: %s\n", r->root_digest,
                                report->n_problems ? "problems found" : "consistent");
}

/* A registry destination is read back and verified by the verify engine: what a node pulls
 * is what was checked. Local destinations were written from the checked bytes directly. */
static int verify_pushed(struct xarch_image_context *ctx, const struct xarch_build_result *res,
                bool tty, struct xarch_verify_report **ret, struct xarch_error **err) {
        struct xarch_image *img = NULL;
        char ref[1024];
        int r = xarch_image_open(ctx, res->dest, &img, err);
        if (r < 0)
                return r;
        if (xarch_image_transport(img) != XARCH_TRANSPORT_REGISTRY) {
                xarch_image_free(img);
                return 0;
        }
        xarch_image_free(img);
        /* by digest, so a tag moved meanwhile cannot change what is verified */
        const char *at = strchr(res->dest, '@');
        snprintf(ref, sizeof(ref), "%.*s@%s",
                        (int) (at ? (size_t) (at - res->dest) : strlen(res->dest)), res->dest,
                        res->root_digest);
        r = xarch_image_open(ctx, ref, &img, err);
        if (r < 0)
                return r;
        struct xarch_verify_options vo = {.progress = tty ? progress_tty : NULL};
        r = xarch_verify_image(img, &vo, ret, err);
        xarch_image_free(img);
        return r;
}

static int json_fail(bool json, struct xarch_error **err, int r, int rc) {
        if (json) {
                const char *msg = *err && (*err)->msg ? (*err)->msg : strerror(-r);
                json_t *doc = json_object();
                json_object_set_new(doc, "error", cli_json_bytes(msg));
                cli_print_json(doc);
        }
        cli_report(err, r);
        return rc;
}

int cmd_build(int argc, char **argv) {
        enum {
                OPT_JSON = 0x100,
                OPT_FROM,
                OPT_ADD,
                OPT_ADD_ARCHIVE,
                OPT_STRIP,
                OPT_CHOWN,
                OPT_CHMOD,
                OPT_ENTRYPOINT,
                OPT_CMD,
                OPT_ENV,
                OPT_WORKDIR,
                OPT_USER,
                OPT_LABEL,
                OPT_ANNOTATION,
                OPT_EXPOSE,
                OPT_ALLOW_FOREIGN,
                OPT_COMPRESSION,
                OPT_MAX_ARCHIVE,
                OPT_DRY_RUN,
        };
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"from", required_argument, NULL, OPT_FROM},
                        {"platform", required_argument, NULL, 'p'},
                        {"add", required_argument, NULL, OPT_ADD},
                        {"add-archive", required_argument, NULL, OPT_ADD_ARCHIVE},
                        {"strip-components", required_argument, NULL, OPT_STRIP},
                        {"chown", required_argument, NULL, OPT_CHOWN},
                        {"chmod", required_argument, NULL, OPT_CHMOD},
                        {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
                        {"cmd", required_argument, NULL, OPT_CMD},
                        {"env", required_argument, NULL, OPT_ENV},
                        {"workdir", required_argument, NULL, OPT_WORKDIR},
                        {"user", required_argument, NULL, OPT_USER},
                        {"label", required_argument, NULL, OPT_LABEL},
                        {"annotation", required_argument, NULL, OPT_ANNOTATION},
                        {"expose", required_argument, NULL, OPT_EXPOSE},
                        {"allow-foreign", required_argument, NULL, OPT_ALLOW_FOREIGN},
                        {"compression", required_argument, NULL, OPT_COMPRESSION},
                        {"max-archive-size", required_argument, NULL, OPT_MAX_ARCHIVE},
                        {"tag", required_argument, NULL, 't'},
                        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                        {"json", no_argument, NULL, OPT_JSON},
                        CLI_IMAGE_LONGOPTS,
                        {},
        };
        struct xarch_image_options image_opts = {0};
        struct xarch_build_options o = {.from = "scratch"};
        struct xarch_error *err = NULL;
        struct strv env = {0}, labels = {0}, ann = {0}, expose = {0}, foreign = {0};
        struct xarch_build_add *adds = NULL;
        size_t n_adds = 0;
        struct xarch_platform *platforms = NULL;
        size_t n_platforms = 0;
        bool json = false;
        int rc = EXIT_OK, c;

        while ((c = getopt_long(argc, argv, ":hp:t:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage();
                        goto out;
                case OPT_FROM:
                        o.from = optarg;
                        break;
                case 'p': {
                        char *copy = strdup(optarg), *save = NULL;
                        for (char *w = copy ? strtok_r(copy, ",", &save) : NULL; w;
                                        w = strtok_r(NULL, ",", &save)) {
                                struct xarch_platform *np =
                                                realloc(platforms, (n_platforms + 1) * sizeof(*np));
                                if (!np)
                                        break;
                                platforms = np;
                                if (xarch_platform_parse(w, &platforms[n_platforms], &err) < 0) {
                                        rc = cli_usage_error(verb, "%s",
                                                        err && err->msg ? err->msg
                                                                        : "invalid platform");
                                        xarch_error_free(steal_ptr(err));
                                        free(copy);
                                        goto out;
                                }
                                n_platforms++;
                        }
                        free(copy);
                        break;
                }
                case OPT_ADD:
                case OPT_ADD_ARCHIVE: {
                        struct xarch_build_add *na = realloc(adds, (n_adds + 1) * sizeof(*na));
                        if (!na) {
                                rc = cli_error("out of memory");
                                goto out;
                        }
                        adds = na;
                        if (xarch_build_add_parse(optarg, c == OPT_ADD_ARCHIVE, &adds[n_adds],
                                            &err) < 0) {
                                rc = cli_usage_error(verb, "%s", err->msg);
                                xarch_error_free(steal_ptr(err));
                                goto out;
                        }
                        n_adds++;
                        break;
                }
                case OPT_STRIP: {
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (errno || *end || end == optarg || n > 64) {
                                rc = cli_usage_error(verb,
                                                "--strip-components wants 0..64, not '%s'", optarg);
                                goto out;
                        }
                        o.strip_components = (unsigned) n;
                        break;
                }
                case OPT_CHOWN: {
                        unsigned long u, g;
                        char *end;
                        errno = 0;
                        u = strtoul(optarg, &end, 10);
                        bool ok = !errno && end != optarg && *end == ':' && u <= UINT32_MAX;
                        if (ok) {
                                const char *gs = end + 1;
                                g = strtoul(gs, &end, 10);
                                ok = !errno && end != gs && !*end && g <= UINT32_MAX;
                                o.uid = (uint32_t) u;
                                o.gid = (uint32_t) g;
                        }
                        if (!ok) {
                                rc = cli_usage_error(verb,
                                                "--chown wants numeric UID:GID, not '%s'", optarg);
                                goto out;
                        }
                        o.chown = true;
                        break;
                }
                case OPT_CHMOD: {
                        char *end;
                        errno = 0;
                        unsigned long m = strtoul(optarg, &end, 8);
                        if (errno || *end || end == optarg || m > 07777) {
                                rc = cli_usage_error(
                                                verb, "--chmod wants octal bits, not '%s'", optarg);
                                goto out;
                        }
                        o.chmod = true;
                        o.mode = (uint32_t) m;
                        break;
                }
                case OPT_ENTRYPOINT:
                        o.entrypoint = optarg;
                        break;
                case OPT_CMD:
                        o.cmd = optarg;
                        break;
                case OPT_ENV:
                        strv_push(&env, optarg);
                        break;
                case OPT_WORKDIR:
                        o.workdir = optarg;
                        break;
                case OPT_USER:
                        o.user = optarg;
                        break;
                case OPT_LABEL:
                        strv_push(&labels, optarg);
                        break;
                case OPT_ANNOTATION:
                        strv_push(&ann, optarg);
                        break;
                case OPT_EXPOSE:
                        strv_push(&expose, optarg);
                        break;
                case OPT_ALLOW_FOREIGN:
                        strv_push(&foreign, optarg);
                        break;
                case OPT_COMPRESSION: {
                        const char *lvl = NULL;
                        if (strncmp(optarg, "gzip", 4) == 0 &&
                                        (optarg[4] == '\0' || optarg[4] == ':')) {
                                o.compression = XARCH_COMPRESSION_GZIP;
                                lvl = optarg[4] ? optarg + 5 : NULL;
                        } else if (strncmp(optarg, "zstd", 4) == 0 &&
                                        (optarg[4] == '\0' || optarg[4] == ':')) {
                                o.compression = XARCH_COMPRESSION_ZSTD;
                                lvl = optarg[4] ? optarg + 5 : NULL;
                        } else {
                                rc = cli_usage_error(verb,
                                                "--compression wants gzip, gzip:N, zstd or "
                                                "zstd:N, not '%s'",
                                                optarg);
                                goto out;
                        }
                        if (lvl) {
                                char *end;
                                long n = strtol(lvl, &end, 10);
                                long max = o.compression == XARCH_COMPRESSION_GZIP ? 9 : 19;
                                if (*end || end == lvl || n < 1 || n > max) {
                                        rc = cli_usage_error(verb,
                                                        "--compression %s: the level is 1..%ld",
                                                        optarg, max);
                                        goto out;
                                }
                                o.level = (int) n;
                        }
                        break;
                }
                case OPT_MAX_ARCHIVE:
                        if (!parse_size(optarg, &o.archive_max) || o.archive_max == 0) {
                                rc = cli_usage_error(verb,
                                                "--max-archive-size wants bytes (K, M, G "
                                                "suffixes), not '%s'",
                                                optarg);
                                goto out;
                        }
                        break;
                case 't':
                        o.dest = optarg;
                        break;
                case OPT_DRY_RUN:
                        o.dry_run = true;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                case ':':
                        rc = cli_option_error(verb, c, argc, argv);
                        goto out;
                default:
                        if (cli_image_option(c, optarg, &image_opts))
                                break;
                        rc = cli_option_error(verb, c, argc, argv);
                        goto out;
                }
        }
        if (optind < argc) {
                rc = cli_usage_error(verb, "unexpected argument '%s'", argv[optind]);
                goto out;
        }
        if (!o.dest) {
                rc = cli_usage_error(verb, "no destination: --tag oci:DIR, oci-archive:FILE or "
                                           "docker-archive:FILE");
                goto out;
        }
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        if (sde && *sde) {
                char *end;
                errno = 0;
                long long v = strtoll(sde, &end, 10);
                if (errno || *end || v < 0) {
                        rc = cli_usage_error(verb,
                                        "SOURCE_DATE_EPOCH must be seconds since 1970, not '%s'",
                                        sde);
                        goto out;
                }
                o.epoch = v;
        }
        o.platforms = platforms;
        o.n_platforms = n_platforms;
        o.adds = adds;
        o.n_adds = n_adds;
        o.env = env.v;
        o.n_env = env.n;
        o.labels = labels.v;
        o.n_labels = labels.n;
        o.annotations = ann.v;
        o.n_annotations = ann.n;
        o.expose = expose.v;
        o.n_expose = expose.n;
        o.allow_foreign = foreign.v;
        o.n_allow_foreign = foreign.n;
        bool tty = isatty(STDERR_FILENO);
        if (tty)
                o.progress = progress_tty;

        struct xarch_image_context *ctx = NULL;
        struct xarch_build_result *res = NULL;
        struct xarch_verify_report *report = NULL;
        int r = xarch_image_context_new(&image_opts, &ctx, &err);
        if (r >= 0)
                r = xarch_build(ctx, &o, &res, &err);
        if (r >= 0 && !o.dry_run)
                r = verify_pushed(ctx, res, tty, &report, &err);
        if (tty)
                fputs("\r\033[K", stderr);
        xarch_image_context_free(ctx);
        if (r < 0) {
                rc = json_fail(json, &err, r, EXIT_FAIL);
                goto out;
        }
        print_result(res, o.dry_run, json, report);
        if (report && report->n_problems) {
                for (size_t i = 0; i < report->n_platforms; i++)
                        for (size_t k = 0; k < report->platforms[i].n_problems; k++)
                                cli_error("verify after push: %s",
                                                report->platforms[i].problems[k].message);
                rc = EXIT_FAIL;
        }
        xarch_verify_report_free(report);
        xarch_build_result_free(res);
out:
        for (size_t i = 0; i < n_adds; i++)
                xarch_build_add_release(&adds[i]);
        free(adds);
        free(platforms);
        free(env.v);
        free(labels.v);
        free(ann.v);
        free(expose.v);
        free(foreign.v);
        return rc;
}
