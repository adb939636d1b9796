/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DEFAULT_JOBS 8
#define MAX_JOBS     64

static const char *const verb = "inspect";

static void usage(void) {
        fputs("Usage: xarch inspect [OPTIONS] REF...\n"
              "\n"
              "Show the platforms an image offers and which one a containerd node would pull.\n"
              "\n"
              "REF is a registry reference (alpine, host:5000/app:tag, name@sha256:...),\n"
              "oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME:TAG|:@N].\n"
              "\n"
              "Options:\n"
              "  -p, --platform P   which entry a containerd node of platform P pulls, and why\n"
              "      --runtime R    the node's runtime: containerd-1.6 ... containerd-2.3, "
              "cri-o-X.Y,\n"
              "                     docker-X, or containerd://1.7.22 as Kubernetes reports it\n"
              "                     (default: the newest containerd; docs/runtimes.md)\n"
              "      --strict       match like containerd's OnlyStrict (no fallbacks)\n"
              "  -a, --all          also show attestations and other non-image entries\n"
              "      --raw          print the exact manifest or index bytes\n"
              "      --config       print the config of the selected (or only) image; an index\n"
              "                     needs --platform (default: this host's platform)\n"
              "      --json         machine-readable output (an array, one object per REF)\n"
              "  -j, --jobs N       inspect up to N references at once (default 8)\n"
              "      --ca FILE      trust this CA bundle for registry TLS\n"
              "      --insecure     allow plain HTTP or unverified TLS to non-loopback registries\n"
              "      --authfile F   read registry credentials from F (docker/podman format)\n"
              "      --no-cache     neither read nor write the local manifest/blob cache\n"
              "  -h, --help         show this help\n"
              "\n"
              "Exit status: 0 success; 1 a reference failed, or --platform matched nothing;\n"
              "2 usage error.\n",
                        stdout);
}

struct job {
        const char *spec;
        struct xarch_inspect *result;
        struct xarch_error *err;
        int r;
        bool done;
};

struct pool {
        struct xarch_image_context *ctx;
        const struct xarch_inspect_options *opts;
        struct job *jobs;
        size_t n_jobs;
        size_t next;
        pthread_mutex_t lock;
        pthread_cond_t cond;
};

static void run_job(struct pool *p, struct job *j) {
        struct xarch_image *img = NULL;
        j->r = xarch_image_open(p->ctx, j->spec, &img, &j->err);
        if (j->r >= 0)
                j->r = xarch_image_inspect(img, p->opts, &j->result, &j->err);
        xarch_image_free(img);
}

static void *worker(void *userdata) {
        struct pool *p = userdata;
        for (;;) {
                pthread_mutex_lock(&p->lock);
                size_t i = p->next < p->n_jobs ? p->next++ : SIZE_MAX;
                pthread_mutex_unlock(&p->lock);
                if (i == SIZE_MAX)
                        return NULL;
                run_job(p, &p->jobs[i]);
                pthread_mutex_lock(&p->lock);
                p->jobs[i].done = true;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
        }
}

static void format_size(uint64_t n, char *buf, size_t size) {
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double) n;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%" PRIu64 " B", n);
        else
                snprintf(buf, size, "%.1f %s", v, units[u]);
}

static void format_platform(const struct xarch_platform *p, char *buf, size_t size) {
        if (xarch_platform_format(p, buf, (size_t) size) < 0)
                snprintf(buf, size, "?");
}

static const char *entry_platform(const struct xarch_inspect_entry *e, char *buf, size_t size) {
        if (e->desc->has_platform && e->desc->platform_problem) {
                const struct xarch_platform *p = &e->desc->platform;
                snprintf(buf, size, "%s/%s%s%s", p->os[0] ? p->os : "?", p->arch[0] ? p->arch : "?",
                                p->variant[0] ? "/" : "", p->variant);
        } else if (e->desc->has_platform)
                format_platform(&e->desc->platform, buf, size);
        else if (e->has_config_platform) {
                char p[XARCH_PLATFORM_STRING_MAX];
                format_platform(&e->config_platform, p, sizeof(p));
                snprintf(buf, size, "(%s)", p);
        } else
                snprintf(buf, size, "-");
        return buf;
}

/* Prints "xarch: SPEC: message" unless the message already names the source. */
static void report_failure(const char *spec, const char *msg) {
        static const char *const prefixes[] = {"oci:", "oci-archive:", "docker-archive:"};
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0) {
                        cli_error("%s", msg);
                        return;
                }
        cli_error("%s: %s", spec, msg);
}

struct output {
        bool all, raw, config, json;
        const char *platform_arg;
        char runtime[XARCH_RUNTIME_STRING_MAX];
        bool runtime_given;
        json_t *array;
        size_t printed;
};

static void print_selection_human(const struct xarch_inspect *res, const struct output *o) {
        char msg[1024];
        if (!res->selection_done)
                return;
        printf("  runtime     %s%s\n", o->runtime, o->runtime_given ? "" : " (the default)");
        if (res->selected < 0 && res->selection_error) {
                printf("  %s node: the pull fails: %s\n", o->platform_arg,
                                cli_printable(res->selection_error, msg, sizeof(msg)));
                return;
        }
        if (res->selected < 0) {
                printf("  %s node: no match for platform in manifest %s (the pull would "
                       "fail)\n",
                                o->platform_arg, res->root.digest);
                return;
        }
        char p[XARCH_PLATFORM_STRING_MAX + 2];
        if (res->manifest->kind == XARCH_MANIFEST_INDEX && res->selected_depth > 0)
                snprintf(p, sizeof(p), "(nested)");
        else if (res->manifest->kind == XARCH_MANIFEST_INDEX)
                entry_platform(&res->entries[res->selected], p, sizeof(p));
        else
                format_platform(&res->config_platform, p, sizeof(p));
        printf("  %s node pulls %s %s (rule: %s)\n", o->platform_arg, p, res->selected_digest,
                        xarch_match_rule_name(res->rule));
        if (res->selected_depth > 0)
                printf("    from the nested index %s\n", res->entries[res->selected].desc->digest);
        if (res->selection_warning)
                printf("  WARNING: %s\n", cli_printable(res->selection_warning, msg, sizeof(msg)));
}

static void print_human(const struct xarch_inspect *res, struct output *o) {
        const struct xarch_manifest *m = res->manifest;
        char size[32];

        if (o->printed++)
                putchar('\n');
        printf("%s\n", res->name);
        printf("  media type  %s\n",
                        res->root.media_type[0] ? res->root.media_type : m->media_type);
        printf("  digest      %s%s\n", res->root.digest,
                        res->synthesized ? " (synthesised from the archive's manifest.json)" : "");
        if (m->kind == XARCH_MANIFEST_IMAGE) {
                char p[XARCH_PLATFORM_STRING_MAX];
                format_platform(&res->config_platform, p, sizeof(p));
                format_size(m->layers_size, size, sizeof(size));
                printf("  platform    %s (from the config)\n", p);
                printf("  layers      %zu (%s)\n", m->n_layers, size);
                print_selection_human(res, o);
                return;
        }
        size_t hidden = 0, shown = 0;
        for (size_t i = 0; i < res->n_entries; i++) {
                if (res->entries[i].hidden)
                        hidden++;
                if (!res->entries[i].hidden || o->all)
                        shown++;
        }
        printf("  platforms   %zu", res->n_entries - hidden);
        if (hidden && !o->all)
                printf(" (%zu non-image entr%s hidden; --all shows %s)", hidden,
                                hidden == 1 ? "y" : "ies", hidden == 1 ? "it" : "them");
        putchar('\n');
        if (shown == 0)
                return print_selection_human(res, o);
        printf("    %-20s %6s %-10s %s%s\n", "PLATFORM", "LAYERS", "SIZE", "DIGEST",
                        o->all ? "  KIND" : "");
        for (size_t i = 0; i < res->n_entries; i++) {
                const struct xarch_inspect_entry *e = &res->entries[i];
                if (e->hidden && !o->all)
                        continue;
                char p[XARCH_PLATFORM_STRING_MAX + 2], layers[16], msg[1024];
                entry_platform(e, p, sizeof(p));
                if (e->n_layers >= 0) {
                        snprintf(layers, sizeof(layers), "%d", e->n_layers);
                        format_size(e->layers_size, size, sizeof(size));
                } else {
                        snprintf(layers, sizeof(layers), e->error ? "!" : "-");
                        snprintf(size, sizeof(size), "-");
                }
                printf("    %-20s %6s %-10s %s", p, layers, size, e->desc->digest);
                if (o->all)
                        printf("  %s", xarch_entry_kind_name(e->desc->kind));
                putchar('\n');
                if (e->error)
                        printf("      ! %s\n", cli_printable(e->error, msg, sizeof(msg)));
                if (e->desc->platform_problem)
                        printf("      odd: %s\n",
                                        cli_printable(e->desc->platform_problem, msg, sizeof(msg)));
        }
        print_selection_human(res, o);
}

static json_t *platform_json(const struct xarch_platform *p) {
        char s[XARCH_PLATFORM_STRING_MAX];
        format_platform(p, s, sizeof(s));
        json_t *j = json_pack(
                        "{s:s, s:s, s:s}", "platform", s, "os", p->os, "architecture", p->arch);
        if (j && p->variant[0])
                json_object_set_new(j, "variant", json_string(p->variant));
        return j;
}

static json_t *result_json(const struct xarch_inspect *res, const struct output *o) {
        const struct xarch_manifest *m = res->manifest;
        json_t *j = json_pack("{s:o, s:s, s:s, s:s, s:I, s:s}", "name", cli_json_bytes(res->name),
                        "transport", xarch_transport_name(res->transport), "mediaType",
                        res->root.media_type[0] ? res->root.media_type : m->media_type, "digest",
                        res->root.digest, "size", (json_int_t) res->root.len, "kind",
                        m->kind == XARCH_MANIFEST_INDEX ? "index" : "image");
        if (!j)
                return NULL;
        if (res->synthesized)
                json_object_set_new(j, "synthesized", json_true());
        if (m->kind == XARCH_MANIFEST_IMAGE) {
                json_t *p = platform_json(&res->config_platform);
                if (p) {
                        json_object_set_new(p, "layers", json_integer((json_int_t) m->n_layers));
                        json_object_set_new(
                                        p, "layersSize", json_integer((json_int_t) m->layers_size));
                        json_object_set_new(p, "configDigest", json_string(m->config.digest));
                        json_object_set_new(j, "image", p);
                }
        } else {
                json_t *arr = json_array();
                size_t hidden = 0;
                for (size_t i = 0; arr && i < res->n_entries; i++) {
                        const struct xarch_inspect_entry *e = &res->entries[i];
                        hidden += e->hidden;
                        if (e->hidden && !o->all)
                                continue;
                        json_t *d = e->desc->has_platform ? platform_json(&e->desc->platform)
                                                          : json_object();
                        if (!d)
                                continue;
                        json_object_set_new(d, "digest", json_string(e->desc->digest));
                        json_object_set_new(d, "mediaType", json_string(e->desc->media_type));
                        json_object_set_new(d, "size", json_integer((json_int_t) e->desc->size));
                        json_object_set_new(d, "kind",
                                        json_string(xarch_entry_kind_name(e->desc->kind)));
                        json_object_set_new(d, "hidden", json_boolean(e->hidden));
                        if (e->n_layers >= 0) {
                                json_object_set_new(d, "layers", json_integer(e->n_layers));
                                json_object_set_new(d, "layersSize",
                                                json_integer((json_int_t) e->layers_size));
                        }
                        if (e->has_config_platform)
                                json_object_set_new(d, "configPlatform",
                                                platform_json(&e->config_platform));
                        if (e->desc->ref_type)
                                json_object_set_new(
                                                d, "referenceType", json_string(e->desc->ref_type));
                        if (e->desc->ref_digest)
                                json_object_set_new(d, "referenceDigest",
                                                json_string(e->desc->ref_digest));
                        if (e->error)
                                json_object_set_new(d, "error", json_string(e->error));
                        if (e->desc->platform_problem) {
                                json_object_set_new(d, "platformProblem",
                                                json_string(e->desc->platform_problem));
                                json_object_set_new(d, "neverMatches",
                                                json_boolean(e->desc->never_matches));
                        }
                        if (e->desc->os_features)
                                json_object_set_new(d, "osFeatures",
                                                cli_json_bytes(e->desc->os_features));
                        json_array_append_new(arr, d);
                }
                json_object_set_new(j, "platforms", arr);
                json_object_set_new(j, "hidden", json_integer((json_int_t) hidden));
        }
        if (res->selection_done) {
                json_t *s = json_pack("{s:s, s:s, s:b}", "platform", o->platform_arg, "runtime",
                                o->runtime, "matched", res->selected >= 0);
                if (s && res->selected >= 0) {
                        json_object_set_new(
                                        s, "rule", json_string(xarch_match_rule_name(res->rule)));
                        json_object_set_new(s, "digest", json_string(res->selected_digest));
                        if (m->kind == XARCH_MANIFEST_INDEX)
                                json_object_set_new(s, "entry", json_integer(res->selected));
                        if (res->selected_depth > 0)
                                json_object_set_new(s, "nestedDepth",
                                                json_integer(res->selected_depth));
                        if (res->selection_warning)
                                json_object_set_new(s, "warning",
                                                cli_json_bytes(res->selection_warning));
                } else if (s && res->selection_error) {
                        json_object_set_new(s, "error", cli_json_bytes(res->selection_error));
                        json_object_set_new(s, "committed", json_true());
                } else if (s) {
                        char msg[XARCH_DIGEST_MAX + 64];
                        snprintf(msg, sizeof(msg), "no match for platform in manifest %s",
                                        res->root.digest);
                        json_object_set_new(s, "error", json_string(msg));
                }
                json_object_set_new(j, "selection", s);
        }
        return j;
}

static void print_bytes(const char *data, size_t len, bool separate) {
        cli_stdout_verbatim(true); /* the registry's bytes exactly, as their digest covers them */
        fwrite(data, 1, len, stdout);
        if (separate && (len == 0 || data[len - 1] != '\n'))
                putchar('\n');
        cli_stdout_verbatim(false);
}

/* Prints one finished job; returns whether it counts as a failure. */
static bool emit(struct job *j, struct output *o, bool several) {
        if (j->r < 0) {
                const char *msg = j->err && j->err->msg ? j->err->msg : strerror(-j->r);
                report_failure(j->spec, msg);
                if (o->json)
                        json_array_append_new(o->array,
                                        json_pack("{s:o, s:o}", "name", cli_json_bytes(j->spec),
                                                        "error", cli_json_bytes(msg)));
                return true;
        }
        const struct xarch_inspect *res = j->result;
        bool failed = false;
        for (size_t i = 0; i < res->n_entries; i++)
                if (res->entries[i].error && (!res->entries[i].hidden || o->all)) {
                        char msg[512];
                        snprintf(msg, sizeof(msg), "%s: manifest %s: %s", res->name,
                                        res->entries[i].desc->digest, res->entries[i].error);
                        cli_error("%s", msg);
                        failed = true;
                        break;
                }
        if (res->selection_done && res->selected < 0) {
                failed = true;
                /* the human and JSON outputs say so themselves */
                if ((o->raw || o->config) && res->selection_error)
                        cli_error("%s: %s", res->name, res->selection_error);
                else if (o->raw || o->config)
                        cli_error("%s: no match for platform in manifest %s", res->name,
                                        res->root.digest);
        }
        /* loud: the node pulls something that is not an image */
        if (res->selection_warning)
                cli_error("warning: %s: %s", res->name, res->selection_warning);
        if (o->raw)
                print_bytes(res->root.data, res->root.len, several);
        else if (o->config)
                print_bytes(res->config.data, res->config.len, several);
        else if (o->json)
                json_array_append_new(o->array, result_json(res, o));
        else
                print_human(res, o);
        return failed;
}

int cmd_inspect(int argc, char **argv) {
        enum {
                OPT_RAW = 0x100,
                OPT_CONFIG,
                OPT_JSON,
                OPT_STRICT,
                OPT_RUNTIME,
        };
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"platform", required_argument, NULL, 'p'},
                        {"all", no_argument, NULL, 'a'},
                        {"jobs", required_argument, NULL, 'j'},
                        {"raw", no_argument, NULL, OPT_RAW},
                        {"config", no_argument, NULL, OPT_CONFIG},
                        {"json", no_argument, NULL, OPT_JSON},
                        CLI_IMAGE_LONGOPTS,
                        {"strict", no_argument, NULL, OPT_STRICT},
                        {"runtime", required_argument, NULL, OPT_RUNTIME},
                        {},
        };
        struct output o = {0};
        struct xarch_image_options image_opts = {0};
        struct xarch_inspect_options opts = {0};
        struct xarch_platform want, spelling;
        struct xarch_runtime runtime;
        struct xarch_error *err = NULL;
        unsigned jobs = DEFAULT_JOBS;
        int c;

        xarch_runtime_default(&runtime);
        while ((c = getopt_long(argc, argv, ":hp:aj:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage();
                        return EXIT_OK;
                case 'p':
                        o.platform_arg = optarg;
                        break;
                case 'a':
                        o.all = true;
                        break;
                case 'j': {
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (errno || *end || n < 1 || n > MAX_JOBS)
                                return cli_usage_error(verb, "--jobs wants 1..%d, not '%s'",
                                                MAX_JOBS, optarg);
                        jobs = (unsigned) n;
                        break;
                }
                case OPT_RAW:
                        o.raw = true;
                        break;
                case OPT_CONFIG:
                        o.config = true;
                        break;
                case OPT_JSON:
                        o.json = true;
                        cli_json_requested();
                        break;
                case OPT_STRICT:
                        opts.mode = XARCH_MATCH_MODE_STRICT;
                        break;
                case OPT_RUNTIME:
                        if (xarch_runtime_parse(optarg, &runtime, &err) < 0) {
                                int rc = cli_usage_error(verb, "%s",
                                                err && err->msg ? err->msg : "invalid runtime");
                                xarch_error_free(err);
                                return rc;
                        }
                        o.runtime_given = true;
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
        if (o.raw + o.config + o.json > 1)
                return cli_usage_error(verb, "--raw, --config and --json exclude each other");

        opts.runtime = &runtime;
        if (xarch_runtime_format(&runtime, o.runtime, sizeof(o.runtime)) < 0)
                snprintf(o.runtime, sizeof(o.runtime), "?");
        if (o.platform_arg) {
                if (xarch_runtime_parse_platform(&runtime, o.platform_arg, &want, &err) < 0) {
                        int rc = cli_usage_error(verb, "%s",
                                        err && err->msg ? err->msg : "invalid platform");
                        xarch_error_free(err);
                        return rc;
                }
                if (xarch_platform_parse_raw(o.platform_arg, &spelling, NULL) >= 0)
                        opts.spelling = &spelling;
                opts.platform = &want;
        } else if (o.config) {
                /* like skopeo: without --platform an index resolves to this host */
                struct xarch_host host;
                if (xarch_host_detect(&host, &err) < 0)
                        return cli_report(&err, -EIO);
                want = host.platform;
                opts.platform = &want;
        }
        opts.want_config = o.config;
        opts.include_hidden = o.all;
        /* --raw needs only the root document */
        opts.skip_children = o.raw;

        struct xarch_image_context *ctx = NULL;
        if (xarch_image_context_new(&image_opts, &ctx, &err) < 0)
                return cli_report(&err, -ENOMEM);

        size_t n = (size_t) (argc - optind);
        struct pool pool = {
                        .ctx = ctx,
                        .opts = &opts,
                        .jobs = calloc(n, sizeof(struct job)),
                        .n_jobs = n,
        };
        if (!pool.jobs) {
                xarch_image_context_free(ctx);
                return cli_error("out of memory");
        }
        for (size_t i = 0; i < n; i++)
                pool.jobs[i].spec = argv[optind + (int) i];
        pthread_mutex_init(&pool.lock, NULL);
        pthread_cond_init(&pool.cond, NULL);

        /* child manifests are fetched in parallel inside each job too; keep the total bounded */
        opts.concurrency = n > 1 ? 4 : 8;
        pthread_t threads[MAX_JOBS];
        size_t n_threads = 0;
        for (size_t i = 0; i < jobs && i < n; i++)
                if (pthread_create(&threads[n_threads], NULL, worker, &pool) == 0)
                        n_threads++;
        if (n_threads == 0)
                worker(&pool);

        if (o.json)
                o.array = json_array();
        bool failed = false;
        /* print in input order as soon as each reference is done */
        for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&pool.lock);
                while (!pool.jobs[i].done)
                        pthread_cond_wait(&pool.cond, &pool.lock);
                pthread_mutex_unlock(&pool.lock);
                failed |= emit(&pool.jobs[i], &o, n > 1);
                fflush(stdout);
                xarch_inspect_free(pool.jobs[i].result);
                pool.jobs[i].result = NULL;
                xarch_error_free(pool.jobs[i].err);
                pool.jobs[i].err = NULL;
        }
        for (size_t i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        pthread_cond_destroy(&pool.cond);
        pthread_mutex_destroy(&pool.lock);
        free(pool.jobs);
        xarch_image_context_free(ctx);
        if (o.json && cli_print_json(o.array) != EXIT_OK)
                return EXIT_FAIL;
        return failed ? EXIT_FAIL : EXIT_OK;
}
