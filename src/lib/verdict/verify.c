/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "base/jobs.h"
#include "image/rootfs.h"
#include "xarch/layer.h"
#include "xarch/verify.h"

/* Kernel limit on nested interpreters (BINPRM_MAX_RECURSION). */
#define SCRIPT_DEPTH_MAX 4

const char *xarch_verify_problem_name(enum xarch_verify_problem_kind kind) {
        static const char *const names[] = {
                        [XARCH_PROBLEM_MISLABELLED] = "mislabelled",
                        [XARCH_PROBLEM_VARIANT] = "variant-mismatch",
                        [XARCH_PROBLEM_CONFIG_MISMATCH] = "config-mismatch",
                        [XARCH_PROBLEM_MIXED_ARCH] = "mixed-architecture",
                        [XARCH_PROBLEM_LOADER_MISSING] = "loader-missing",
                        [XARCH_PROBLEM_NO_COMMAND] = "no-command",
                        [XARCH_PROBLEM_NOT_FOUND] = "not-found",
                        [XARCH_PROBLEM_SYMLINK_LOOP] = "symlink-loop",
                        [XARCH_PROBLEM_NOT_EXECUTABLE] = "not-executable",
                        [XARCH_PROBLEM_UNREADABLE] = "unreadable",
                        [XARCH_PROBLEM_DIFF_ID] = "diff-id-mismatch",
        };
        if ((size_t) kind < ELEMENTSOF(names) && names[kind])
                return names[kind];
        return "unknown";
}

/* One image manifest to verify, with what it needs. */
struct target {
        struct xarch_verify_platform *out;
        char media_type[256];
        struct xarch_manifest *manifest;
        struct xarch_image_config *config;
        char *path_env; /* the config's PATH, NULL when unset */
        char *workdir;
        size_t *layer_jobs; /* job index of each layer */
};

struct job {
        const struct xarch_descriptor *desc;
        struct xarch_layer *layer;
        char *error;
};

/* The layers to scan, shared by the threads that scan them. */
struct scans {
        struct xarch_image *img;
        struct job *jobs;
        size_t n_jobs;
        size_t done;
        pthread_mutex_t progress_lock; /* the caller's callback hears one layer at a time */
        const struct xarch_verify_options *opts;
};

static int add_problem(struct xarch_verify_platform *p, enum xarch_verify_problem_kind kind,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int add_problem(struct xarch_verify_platform *p, enum xarch_verify_problem_kind kind,
                const char *fmt, ...) {
        struct xarch_verify_problem *n = realloc(p->problems, (p->n_problems + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        p->problems = n;
        memset(&n[p->n_problems], 0, sizeof(n[p->n_problems]));
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&n[p->n_problems].message, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        n[p->n_problems].kind = kind;
        p->n_problems++;
        if (kind == XARCH_PROBLEM_UNREADABLE)
                p->unreadable = true;
        return 0;
}

/* The config's rootfs.diff_ids against the layers as read (each to its end): as many as there are
 * layers, each the SHA-256 of its layer uncompressed, in manifest order. containerd checks both
 * when it unpacks ("wrong diff id calculated on extraction") and refuses the image. */
static int check_diff_ids(
                struct xarch_verify_platform *p, const struct target *t, const struct job *jobs) {
        const struct xarch_image_config *c = t->config;
        size_t n_layers = t->manifest->n_layers;
        if (c->n_diff_ids != n_layers) {
                int r = add_problem(p, XARCH_PROBLEM_DIFF_ID,
                                "the config lists %zu diff_id%s for %zu layer%s (a runtime refuses "
                                "to unpack it)",
                                c->n_diff_ids, c->n_diff_ids == 1 ? "" : "s", n_layers,
                                n_layers == 1 ? "" : "s");
                if (r < 0)
                        return r;
                p->problems[p->n_problems - 1].n_diff_ids = c->n_diff_ids;
        }
        for (size_t k = 0; k < n_layers; k++) {
                const struct xarch_layer *l = jobs[t->layer_jobs[k]].layer;
                p->diff_ids_checked++;
                if (k >= c->n_diff_ids || streq(c->diff_ids[k], l->diff_id))
                        continue;
                int r = add_problem(p, XARCH_PROBLEM_DIFF_ID,
                                "layer %zu of %zu (%s): the config's diff_id is %s but the layer "
                                "uncompressed is %s (a runtime refuses it at unpack: wrong diff "
                                "id)",
                                k + 1, n_layers, t->manifest->layers[k].digest, c->diff_ids[k],
                                l->diff_id);
                if (r < 0)
                        return r;
                struct xarch_verify_problem *q = &p->problems[p->n_problems - 1];
                q->has_layer = true;
                q->layer_index = k;
                q->n_diff_ids = c->n_diff_ids;
                snprintf(q->layer_digest, sizeof(q->layer_digest), "%s",
                                t->manifest->layers[k].digest);
                snprintf(q->expected_diff_id, sizeof(q->expected_diff_id), "%s", c->diff_ids[k]);
                snprintf(q->computed_diff_id, sizeof(q->computed_diff_id), "%s", l->diff_id);
        }
        return 0;
}

static void progress(const struct xarch_verify_options *opts, const char *fmt, ...)
                __attribute__((format(printf, 2, 3)));

static void progress(const struct xarch_verify_options *opts, const char *fmt, ...) {
        if (!opts->progress)
                return;
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        opts->progress(opts->progress_userdata, buf);
}

/* A layer that cannot be read keeps its error and the others are still scanned: each
 * platform reports the layers it lacks. */
static void scan_layer(void *ctx, size_t i) {
        struct scans *s = ctx;
        struct job *j = &s->jobs[i];
        struct xarch_error *e = NULL;
        int r = xarch_layer_scan(s->img, j->desc, &j->layer, &e);
        if (r < 0 && asprintf(&j->error, "%s", e && e->msg ? e->msg : strerror(-r)) < 0)
                j->error = NULL;
        if (r < 0 && !j->error)
                j->error = strdup("layer unreadable");
        xarch_error_free(e);
        pthread_mutex_lock(&s->progress_lock);
        s->done++;
        if (j->layer)
                progress(s->opts, "layer %zu/%zu %.19s: %.1f MB, %zu entries, %zu analysed",
                                s->done, s->n_jobs, j->desc->digest,
                                (double) j->layer->uncompressed_bytes / 1e6, j->layer->n_entries,
                                j->layer->n_analysed);
        else
                progress(s->opts, "layer %zu/%zu %.19s: failed", s->done, s->n_jobs,
                                j->desc->digest);
        pthread_mutex_unlock(&s->progress_lock);
}

static unsigned default_concurrency(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
                n = 1;
        return n > 4 ? 4 : (unsigned) n;
}

static void scan_layers(struct scans *s, unsigned concurrency) {
        if (concurrency == 0)
                concurrency = default_concurrency();
        if (concurrency > 8)
                concurrency = 8;
        pthread_mutex_init(&s->progress_lock, NULL);
        run_all_jobs(0, s->n_jobs, concurrency, scan_layer, s);
        pthread_mutex_destroy(&s->progress_lock);
}

/* PATH and WorkingDir, which struct xarch_image_config does not carry. */
static int parse_env(const struct xarch_blob_buf *config, struct target *t) {
        json_error_t jerr;
        json_t *doc = json_loadb(config->data, config->len, 0, &jerr);
        if (!doc)
                return 0; /* the config parser already accepted it; be lenient */
        json_t *c = json_object_get(doc, "config");
        json_t *env = json_object_get(c, "Env");
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *s = json_string_value(v);
                if (s && strncmp(s, "PATH=", 5) == 0) {
                        free(t->path_env);
                        t->path_env = strdup(s + 5);
                }
        }
        const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
        if (wd && *wd)
                t->workdir = strdup(wd);
        json_decref(doc);
        return 0;
}

static int load_target(struct xarch_image *img, const char *digest, struct target *t,
                struct xarch_error **err) {
        struct xarch_blob_buf buf = {0};
        int r = xarch_image_get_manifest(
                        img, digest, t->media_type[0] ? t->media_type : NULL, &buf, err);
        if (r < 0)
                return r;
        r = xarch_manifest_parse(buf.data, buf.len, buf.media_type[0] ? buf.media_type : NULL,
                        &t->manifest, err);
        xarch_blob_buf_release(&buf);
        if (r < 0)
                return r;
        if (t->manifest->kind != XARCH_MANIFEST_IMAGE)
                return xarch_error_set(
                                err, EPROTONOSUPPORT, "%.19s is not an image manifest", digest);
        r = xarch_image_get_blob_buf(img, t->manifest->config.digest,
                        xarch_descriptor_cap(&t->manifest->config, XARCH_CONFIG_MAX), &buf, err);
        if (r < 0)
                return r;
        r = xarch_image_config_parse(buf.data, buf.len, &t->config, err);
        if (r >= 0)
                r = parse_env(&buf, t);
        xarch_blob_buf_release(&buf);
        return r;
}

static void platform_normalized(const struct xarch_platform *in, struct xarch_platform *out) {
        *out = *in;
        xarch_platform_normalize(out);
}

static const char *fmt_platform(const struct xarch_platform *p, char *buf, size_t size) {
        if (xarch_platform_format(p, buf, size) < 0)
                snprintf(buf, size, "?");
        return buf;
}

static void count_arch(struct xarch_verify_platform *p, const char *path,
                const struct xarch_file_info *info) {
        if (!info || info->kind != XARCH_FILE_ELF)
                return;
        struct xarch_platform pl = {.os = "linux"};
        if (info->platform_known)
                snprintf(pl.arch, sizeof(pl.arch), "%s", info->platform.arch);
        size_t i;
        for (i = 0; i < p->n_arches; i++)
                if (streq(p->arches[i].platform.arch, pl.arch) &&
                                (pl.arch[0] || streq(p->arches[i].machine_name,
                                                               info->machine_name)))
                        break;
        if (i == p->n_arches) {
                if (p->n_arches == XARCH_VERIFY_ARCHES_MAX)
                        return;
                p->n_arches++;
                p->arches[i].platform = pl;
                snprintf(p->arches[i].machine_name, sizeof(p->arches[i].machine_name), "%s",
                                info->machine_name);
                snprintf(p->arches[i].example, sizeof(p->arches[i].example), "%s", path);
        }
        p->arches[i].files++;
        if (info->go.evidence)
                p->arches[i].go_files++;
        p->elf_files++;
}

static int count_file(void *userdata, const char *path, const struct rootfs_node *node) {
        if (node->entry)
                count_arch(userdata, path, node->entry->info);
        return 0;
}

static int variant_number(const char *variant) {
        if (variant[0] == 'v')
                variant++;
        int n = 0;
        for (; *variant >= '0' && *variant <= '9'; variant++)
                n = n * 10 + (*variant - '0');
        return n;
}

/* Compares the binary's needs with the label. */
static int check_binary(struct xarch_verify_platform *p, const char *what) {
        const struct xarch_file_info *info = &p->binary_info;
        char lb[XARCH_PLATFORM_STRING_MAX], bb[XARCH_PLATFORM_STRING_MAX];
        if (!info->platform_known)
                return 0;
        p->has_binary_platform = true;
        platform_normalized(&info->platform, &p->binary_platform);
        if (!p->label.arch[0])
                return 0;
        if (!streq(p->binary_platform.arch, p->label.arch))
                return add_problem(p, XARCH_PROBLEM_MISLABELLED, "labelled %s but %s is %s (%s)",
                                fmt_platform(&p->label, lb, sizeof(lb)), what, info->machine_name,
                                fmt_platform(&p->binary_platform, bb, sizeof(bb)));
        if (streq(p->label.arch, "arm") && p->binary_platform.variant[0]) {
                int want = variant_number(p->label.variant[0] ? p->label.variant : "v7");
                int need = variant_number(p->binary_platform.variant);
                if (need > want) {
                        char src[64] = "";
                        if (info->variant_source)
                                snprintf(src, sizeof(src), " (from %s)", info->variant_source);
                        return add_problem(p, XARCH_PROBLEM_VARIANT,
                                        "labelled %s but %s needs arm/%s%s",
                                        fmt_platform(&p->label, lb, sizeof(lb)), what,
                                        p->binary_platform.variant, src);
                }
        }
        if (streq(p->label.arch, "amd64") && info->amd64_level > 1) {
                int allowed = p->label.variant[0] ? variant_number(p->label.variant) : 1;
                if (info->amd64_level > allowed)
                        return add_problem(p, XARCH_PROBLEM_VARIANT,
                                        "labelled %s but %s needs x86-64-v%d",
                                        fmt_platform(&p->label, lb, sizeof(lb)), what,
                                        info->amd64_level);
        }
        return 0;
}

static int command_problem(struct xarch_verify_platform *p, int r, const char *name,
                const struct xarch_error *e) {
        const char *msg = e && e->msg ? e->msg : strerror(-r);
        switch (r) {
        case -ELOOP:
                return add_problem(p, XARCH_PROBLEM_SYMLINK_LOOP, "%s", msg);
        case -EISDIR:
        case -EACCES:
                return add_problem(p, XARCH_PROBLEM_NOT_EXECUTABLE, "%s", msg);
        case -ENOMEM:
                return r;
        default:
                return add_problem(p, XARCH_PROBLEM_NOT_FOUND, "command %s: %s", name, msg);
        }
}

/* A command or interpreter with nothing to run: say why. A hard link whose target is not in the
 * image stays a link to nothing in the rootfs (its entry is still the link). */
static int not_a_program(
                struct xarch_verify_platform *p, const char *path, const struct rootfs_node *node) {
        if (node->entry && node->entry->type == XARCH_LAYER_HARDLINK &&
                        node->type == XARCH_LAYER_OTHER)
                return add_problem(p, XARCH_PROBLEM_NOT_EXECUTABLE,
                                "%s is a hard link to /%s, which is not a file in the image (a "
                                "runtime fails to unpack this layer)",
                                path, node->entry->link);
        return add_problem(p, XARCH_PROBLEM_NOT_EXECUTABLE,
                        "%s is not a program (no ELF, #! or other executable header)", path);
}

/* The #! interpreter line: "/usr/bin/env python3" -> program "python3" searched on PATH. */
static int follow_script(struct xarch_verify_platform *p, const struct rootfs *fs,
                const struct target *t, const struct xarch_file_info *script,
                const struct rootfs_node **ret_node, char **ret_path) {
        char line[256];
        snprintf(line, sizeof(line), "%s", script->interpreter);
        /* "env [-S] [NAME=VALUE]... PROGRAM": the first word that is neither */
        char *arg = NULL, *save = NULL;
        char *interp = strtok_r(line, " \t", &save), *word;
        while ((word = strtok_r(NULL, " \t", &save)))
                if (word[0] != '-' && !strchr(word, '=')) {
                        arg = word;
                        break;
                }
        if (!interp) {
                int q = add_problem(p, XARCH_PROBLEM_NOT_EXECUTABLE, "%s has an empty #! line",
                                p->program);
                return q < 0 ? q : 1;
        }
        struct xarch_error *e = NULL;
        int r = rootfs_resolve(fs, interp, true, ret_node, ret_path, &e);
        const char *base = strrchr(interp, '/');
        if (r >= 0 && base && streq(base, "/env") && arg && *arg) {
                free(steal_ptr(*ret_path));
                r = rootfs_find_command(fs, arg, t->path_env, t->workdir, ret_node, ret_path, &e);
                interp = arg;
        }
        if (r < 0) {
                int q = add_problem(p, XARCH_PROBLEM_LOADER_MISSING,
                                "interpreter %s of %s is not in the image (%s)", interp, p->program,
                                e && e->msg ? e->msg : strerror(-r));
                xarch_error_free(e);
                return q < 0 ? q : 1;
        }
        xarch_error_free(e);
        return 0;
}

static int analyse_target(struct target *t, struct rootfs *fs, bool deep) {
        struct xarch_verify_platform *p = t->out;
        char lb[XARCH_PLATFORM_STRING_MAX], cb[XARCH_PLATFORM_STRING_MAX];
        int r;

        if (p->has_index_platform && p->has_config_platform) {
                struct xarch_platform a, b;
                platform_normalized(&p->index_platform, &a);
                platform_normalized(&p->config_platform, &b);
                if (!xarch_platform_equal(&a, &b)) {
                        r = add_problem(p, XARCH_PROBLEM_CONFIG_MISMATCH,
                                        "index entry says %s but the config says %s",
                                        fmt_platform(&a, lb, sizeof(lb)),
                                        fmt_platform(&b, cb, sizeof(cb)));
                        if (r < 0)
                                return r;
                }
        }

        if (deep) {
                r = rootfs_foreach_file(fs, count_file, p);
                if (r < 0)
                        return r;
        }

        if (!p->command || !p->command[0])
                return add_problem(p, XARCH_PROBLEM_NO_COMMAND,
                                "the config sets neither Entrypoint nor Cmd");

        const struct rootfs_node *node = NULL;
        struct xarch_error *e = NULL;
        r = rootfs_find_command(fs, p->command[0], t->path_env, t->workdir, &node, &p->program, &e);
        if (r < 0) {
                r = command_problem(p, r, p->command[0], e);
                xarch_error_free(e);
                return r;
        }
        if (!node->entry || !node->entry->info)
                return not_a_program(p, p->program, node);
        p->has_program_info = true;
        p->program_info = *node->entry->info;
        p->binary_partial = node->entry->partial;

        /* a script leads to its interpreter, maybe through a few more scripts */
        const struct xarch_file_info *bin = node->entry->info;
        for (int depth = 0; bin->kind == XARCH_FILE_SCRIPT; depth++) {
                if (depth == SCRIPT_DEPTH_MAX)
                        return add_problem(p, XARCH_PROBLEM_NOT_EXECUTABLE,
                                        "%s: too many nested #! interpreters", p->program);
                if (bin->problem[0]) /* a #! line the kernel refuses (ENOEXEC) */
                        return add_problem(p, XARCH_PROBLEM_NOT_EXECUTABLE, "%s: %s",
                                        p->interpreter ? p->interpreter : p->program, bin->problem);
                const struct rootfs_node *in = NULL;
                char *ipath = NULL;
                r = follow_script(p, fs, t, bin, &in, &ipath);
                if (r != 0) {
                        free(ipath);
                        return r < 0 ? r : 0;
                }
                free(p->interpreter);
                p->interpreter = ipath;
                if (!in->entry || !in->entry->info)
                        return not_a_program(p, p->interpreter, in);
                bin = in->entry->info;
                p->binary_partial = in->entry->partial;
        }
        const char *what = p->interpreter ? p->interpreter : p->program;
        p->has_binary_info = true;
        p->binary_info = *bin;
        if (!deep)
                count_arch(p, what, bin);
        r = check_binary(p, what);
        if (r < 0)
                return r;

        if (bin->kind == XARCH_FILE_ELF && bin->linkage == XARCH_LINK_DYNAMIC &&
                        bin->interpreter[0]) {
                p->loader_needed = true;
                snprintf(p->loader, sizeof(p->loader), "%s", bin->interpreter);
                const struct rootfs_node *ln = NULL;
                char *lpath = NULL;
                if (rootfs_resolve(fs, bin->interpreter, true, &ln, &lpath, NULL) >= 0 &&
                                ln->type == XARCH_LAYER_FILE) {
                        p->loader_present = true;
                        if (!deep && ln->entry)
                                count_arch(p, lpath, ln->entry->info);
                } else {
                        r = add_problem(p, XARCH_PROBLEM_LOADER_MISSING,
                                        "%s is dynamically linked but its loader %s is not "
                                        "in "
                                        "the image",
                                        what, bin->interpreter);
                }
                free(lpath);
                if (r < 0)
                        return r;
        }

        if (!deep) {
                /* sample /bin/sh too: a shell of another architecture breaks RUN and exec
                 */
                const struct rootfs_node *sh = NULL;
                char *shpath = NULL;
                if (rootfs_resolve(fs, "/bin/sh", true, &sh, &shpath, NULL) >= 0 && sh->entry &&
                                !streq(shpath, what))
                        count_arch(p, shpath, sh->entry->info);
                free(shpath);
        }

        size_t known = 0;
        for (size_t i = 0; i < p->n_arches; i++)
                if (p->arches[i].platform.arch[0])
                        known++;
        if (known > 1) {
                char list[512] = "";
                size_t o = 0;
                for (size_t i = 0; i < p->n_arches && o < sizeof(list); i++)
                        o += (size_t) snprintf(list + o, sizeof(list) - o, "%s%s: %u (%s)",
                                        i ? ", " : "",
                                        p->arches[i].platform.arch[0] ? p->arches[i].platform.arch
                                                                      : p->arches[i].machine_name,
                                        p->arches[i].files, p->arches[i].example);
                r = add_problem(p, XARCH_PROBLEM_MIXED_ARCH, "ELF files of %zu architectures: %s",
                                known, list);
                if (r < 0)
                        return r;
        }
        return 0;
}

static char **join_command(const struct xarch_image_config *c) {
        size_t n = 0;
        for (char **s = c->entrypoint; s && *s; s++)
                n++;
        /* Cmd is ignored only when... it never is: it becomes arguments of the entrypoint
         */
        for (char **s = c->cmd; s && *s; s++)
                n++;
        if (n == 0)
                return NULL;
        char **out = calloc(n + 1, sizeof(*out));
        if (!out)
                return NULL;
        size_t i = 0;
        for (char **s = c->entrypoint; s && *s; s++)
                out[i++] = strdup(*s);
        for (char **s = c->cmd; s && *s; s++)
                out[i++] = strdup(*s);
        for (size_t k = 0; k < n; k++)
                if (!out[k]) {
                        for (size_t m = 0; m < n; m++)
                                free(out[m]);
                        free(out);
                        return NULL;
                }
        return out;
}

static void free_strv(char **v) {
        for (char **s = v; s && *s; s++)
                free(*s);
        free(v);
}

static void target_release(struct target *t) {
        xarch_manifest_free(t->manifest);
        xarch_image_config_free(t->config);
        free(t->path_env);
        free(t->workdir);
        free(t->layer_jobs);
}

void xarch_verify_report_free(struct xarch_verify_report *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_platforms; i++) {
                struct xarch_verify_platform *p = &r->platforms[i];
                free_strv(p->command);
                free(p->program);
                free(p->interpreter);
                for (size_t k = 0; k < p->n_problems; k++)
                        free(p->problems[k].message);
                free(p->problems);
        }
        free(r->platforms);
        free(r->name);
        free(r);
}

/* The first index entry without a platform (of any kind), the only one of them a runtime
 * considers; SIZE_MAX when there is none. */
static size_t first_bare_entry(const struct xarch_descriptor *ds, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!ds[i].has_platform)
                        return i;
        return SIZE_MAX;
}

static size_t first_bare_inspect(const struct xarch_inspect *in) {
        for (size_t i = 0; i < in->n_entries; i++)
                if (!in->entries[i].desc->has_platform)
                        return i;
        return SIZE_MAX;
}

/* Index entries to verify: runnable images, or the one a node of opts->platform pulls. */
static int select_entries(const struct xarch_manifest *m, const struct xarch_verify_options *opts,
                size_t **ret, size_t *n_ret, struct xarch_error **err) {
        _cleanup_free_ size_t *idx = calloc(m->n_manifests + 1, sizeof(*idx));
        _cleanup_free_ struct xarch_platform *cands = calloc(m->n_manifests + 1, sizeof(*cands));
        if (!idx || !cands)
                return xarch_error_set(err, ENOMEM, "out of memory");
        size_t n = 0;
        for (size_t i = 0; i < m->n_manifests; i++) {
                const struct xarch_descriptor *d = &m->manifests[i];
                if (d->kind != XARCH_ENTRY_IMAGE)
                        continue;
                if (opts->platform && !d->has_platform)
                        continue;
                idx[n] = i;
                cands[n] = d->platform;
                n++;
        }
        if (opts->platform) {
                enum xarch_match_rule rule;
                int k = xarch_platform_match(
                                opts->platform, cands, n, XARCH_MATCH_MODE_DEFAULT, &rule);
                if (k < 0) {
                        char pb[XARCH_PLATFORM_STRING_MAX];
                        return xarch_error_set(err, ENOENT, "no image in the index for %s",
                                        fmt_platform(opts->platform, pb, sizeof(pb)));
                }
                idx[0] = idx[k];
                n = 1;
        }
        if (n == 0)
                return xarch_error_set(err, ENOENT, "the index lists no runnable image");
        *ret = steal_ptr(idx);
        *n_ret = n;
        return 0;
}

int xarch_verify_image(struct xarch_image *img, const struct xarch_verify_options *opts,
                struct xarch_verify_report **ret, struct xarch_error **err) {
        static const struct xarch_verify_options defaults = {0};
        if (!opts)
                opts = &defaults;
        struct xarch_blob_buf root = {0};
        bool synthesized = false;
        int r = xarch_image_get_root(img, &root, &synthesized, err);
        if (r < 0)
                return r;
        struct xarch_manifest *m = NULL;
        r = xarch_manifest_parse(
                        root.data, root.len, root.media_type[0] ? root.media_type : NULL, &m, err);
        struct xarch_verify_report *rep = NULL;
        struct target *targets = NULL;
        size_t n_targets = 0;
        struct job *jobs = NULL;
        size_t n_jobs = 0;
        _cleanup_free_ size_t *sel = NULL;
        if (r < 0)
                goto out;

        rep = calloc(1, sizeof(*rep));
        if (!rep) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        rep->name = strdup(xarch_image_name(img));
        snprintf(rep->root_digest, sizeof(rep->root_digest), "%s", root.digest);
        rep->is_index = m->kind == XARCH_MANIFEST_INDEX;
        if (rep->is_index) {
                r = select_entries(m, opts, &sel, &n_targets, err);
                if (r < 0)
                        goto out;
        } else {
                n_targets = 1;
        }
        targets = calloc(n_targets + 1, sizeof(*targets));
        rep->platforms = calloc(n_targets + 1, sizeof(*rep->platforms));
        if (!targets || !rep->platforms || !rep->name) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        rep->n_platforms = n_targets;

        /* manifests and configs (small), then every distinct layer once */
        size_t cap_jobs = 0;
        for (size_t i = 0; i < n_targets; i++) {
                struct target *t = &targets[i];
                struct xarch_verify_platform *p = &rep->platforms[i];
                t->out = p;
                struct xarch_error *e = NULL;
                if (rep->is_index) {
                        const struct xarch_descriptor *d = &m->manifests[sel[i]];
                        snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", d->digest);
                        snprintf(t->media_type, sizeof(t->media_type), "%s", d->media_type);
                        p->has_index_platform = d->has_platform;
                        p->index_platform = d->platform;
                        p->index_platform_never_matches = d->never_matches;
                        p->bare_not_first =
                                        !d->has_platform &&
                                        first_bare_entry(m->manifests, m->n_manifests) != sel[i];
                        progress(opts, "manifest %.19s", d->digest);
                        r = load_target(img, d->digest, t, &e);
                } else {
                        snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", root.digest);
                        t->manifest = steal_ptr(m);
                        struct xarch_blob_buf cfg = {0};
                        r = xarch_image_get_blob_buf(img, t->manifest->config.digest,
                                        xarch_descriptor_cap(
                                                        &t->manifest->config, XARCH_CONFIG_MAX),
                                        &cfg, &e);
                        if (r >= 0) {
                                r = xarch_image_config_parse(cfg.data, cfg.len, &t->config, &e);
                                if (r >= 0)
                                        parse_env(&cfg, t);
                        }
                        xarch_blob_buf_release(&cfg);
                }
                if (r < 0) {
                        r = add_problem(p, XARCH_PROBLEM_UNREADABLE, "%s",
                                        e && e->msg ? e->msg : strerror(-r));
                        xarch_error_free(e);
                        if (r < 0)
                                goto nomem;
                        continue;
                }
                xarch_error_free(e);
                p->has_config_platform = t->config->platform.arch[0] != '\0';
                p->config_platform = t->config->platform;
                platform_normalized(
                                p->has_index_platform ? &p->index_platform : &p->config_platform,
                                &p->label);
                p->command = join_command(t->config);
                p->n_layers = t->manifest->n_layers;
                t->layer_jobs = calloc(t->manifest->n_layers + 1, sizeof(size_t));
                if (!t->layer_jobs)
                        goto nomem;
                for (size_t k = 0; k < t->manifest->n_layers; k++) {
                        const struct xarch_descriptor *ld = &t->manifest->layers[k];
                        size_t j;
                        for (j = 0; j < n_jobs; j++)
                                if (streq(jobs[j].desc->digest, ld->digest))
                                        break;
                        if (j == n_jobs) {
                                if (n_jobs == cap_jobs) {
                                        size_t nc = cap_jobs ? cap_jobs * 2 : 16;
                                        struct job *nj = realloc(jobs, nc * sizeof(*nj));
                                        if (!nj)
                                                goto nomem;
                                        jobs = nj;
                                        cap_jobs = nc;
                                }
                                jobs[n_jobs++] = (struct job){.desc = ld};
                        }
                        t->layer_jobs[k] = j;
                }
        }

        struct scans scans = {.img = img, .jobs = jobs, .n_jobs = n_jobs, .opts = opts};
        scan_layers(&scans, opts->concurrency);

        for (size_t i = 0; i < n_targets; i++) {
                struct target *t = &targets[i];
                struct xarch_verify_platform *p = t->out;
                if (!t->manifest || !t->config)
                        continue;
                bool ok = true;
                for (size_t k = 0; k < t->manifest->n_layers; k++) {
                        struct job *j = &jobs[t->layer_jobs[k]];
                        if (j->layer) {
                                p->compressed_bytes += j->layer->compressed_bytes;
                                p->uncompressed_bytes += j->layer->uncompressed_bytes;
                                continue;
                        }
                        ok = false;
                        if (add_problem(p, XARCH_PROBLEM_UNREADABLE, "%s",
                                            j->error ? j->error : "layer unreadable") < 0)
                                goto nomem;
                }
                if (!ok)
                        continue; /* results from a partial view would mislead */
                if (check_diff_ids(p, t, jobs) < 0)
                        goto nomem;
                struct rootfs *fs = NULL;
                if (rootfs_new(&fs) < 0)
                        goto nomem;
                struct xarch_error *e = NULL;
                for (size_t k = 0; k < t->manifest->n_layers && r >= 0; k++)
                        r = rootfs_apply_layer(fs, jobs[t->layer_jobs[k]].layer, &e);
                if (r >= 0)
                        r = analyse_target(t, fs, opts->deep);
                else
                        r = add_problem(p, XARCH_PROBLEM_UNREADABLE, "%s",
                                        e && e->msg ? e->msg : strerror(-r));
                xarch_error_free(e);
                rootfs_free(fs);
                if (r < 0)
                        goto nomem;
        }
        for (size_t i = 0; i < n_targets; i++) {
                rep->n_problems += rep->platforms[i].n_problems;
                if (rep->platforms[i].unreadable)
                        rep->unreadable = true;
        }
        r = 0;
        *ret = steal_ptr(rep);
        goto out;
nomem:
        r = xarch_error_set(err, ENOMEM, "out of memory");
out:
        for (size_t j = 0; j < n_jobs; j++) {
                xarch_layer_free(jobs[j].layer);
                free(jobs[j].error);
        }
        free(jobs);
        for (size_t i = 0; targets && i < n_targets; i++)
                target_release(&targets[i]);
        free(targets);
        xarch_verify_report_free(rep);
        xarch_manifest_free(m);
        xarch_blob_buf_release(&root);
        return r;
}

int xarch_verify_report_from_inspect(const struct xarch_inspect *in,
                struct xarch_verify_report **ret, struct xarch_error **err) {
        if (!in || !in->manifest || !ret)
                return xarch_error_set(err, EINVAL, "invalid arguments");
        struct xarch_verify_report *rep = calloc(1, sizeof(*rep));
        size_t n = in->manifest->kind == XARCH_MANIFEST_INDEX ? in->n_entries : 1;
        if (!rep || !(rep->platforms = calloc(n ? n : 1, sizeof(*rep->platforms))) ||
                        !(rep->name = strdup(in->name ? in->name : ""))) {
                xarch_verify_report_free(rep);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        snprintf(rep->root_digest, sizeof(rep->root_digest), "%s", in->root.digest);
        rep->is_index = in->manifest->kind == XARCH_MANIFEST_INDEX;
        if (!rep->is_index) {
                struct xarch_verify_platform *p = &rep->platforms[rep->n_platforms++];
                snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", in->root.digest);
                p->has_config_platform = in->has_config_platform;
                p->config_platform = in->config_platform;
                p->label = in->config_platform;
                p->n_layers = in->manifest->n_layers;
        }
        for (size_t i = 0; rep->is_index && i < in->n_entries; i++) {
                const struct xarch_inspect_entry *e = &in->entries[i];
                if (e->hidden || e->desc->kind != XARCH_ENTRY_IMAGE)
                        continue;
                if (!e->desc->has_platform && !e->has_config_platform)
                        continue;
                struct xarch_verify_platform *p = &rep->platforms[rep->n_platforms++];
                snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", e->desc->digest);
                p->has_index_platform = e->desc->has_platform;
                p->index_platform = e->desc->platform;
                p->index_platform_never_matches = e->desc->never_matches;
                p->bare_not_first = !e->desc->has_platform && i != first_bare_inspect(in);
                p->has_config_platform = e->has_config_platform;
                p->config_platform = e->config_platform;
                p->label = e->desc->has_platform ? e->desc->platform : e->config_platform;
                if (e->n_layers >= 0)
                        p->n_layers = (size_t) e->n_layers;
        }
        *ret = rep;
        return 0;
}
