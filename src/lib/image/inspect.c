/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jobs.h"
#include "image/image.h"
#include "macro.h"

#define DEFAULT_CONCURRENCY 8

void xarch_inspect_free(struct xarch_inspect *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_entries; i++)
                free(r->entries[i].error);
        free(r->entries);
        free(r->selection_error);
        free(r->selection_warning);
        xarch_manifest_free(r->manifest);
        xarch_blob_buf_release(&r->root);
        xarch_blob_buf_release(&r->config);
        free(r->name);
        free(r);
}

/* Reads an image manifest's config and returns its platform. */
static int config_platform(struct xarch_image *img, const struct xarch_manifest *m,
                struct xarch_platform *ret, struct xarch_blob_buf *keep, struct xarch_error **err) {
        struct xarch_blob_buf buf = {0};
        struct xarch_image_config *c = NULL;
        int r = xarch_image_get_blob_buf(img, m->config.digest,
                        xarch_descriptor_cap(&m->config, XARCH_CONFIG_MAX), &buf, err);
        if (r < 0)
                return r;
        r = xarch_image_config_parse(buf.data, buf.len, &c, err);
        if (r >= 0) {
                *ret = c->platform;
                xarch_image_config_free(c);
        }
        if (r >= 0 && keep)
                *keep = buf;
        else
                xarch_blob_buf_release(&buf);
        return r;
}

struct child_fetches {
        struct xarch_image *img;
        struct xarch_inspect *result;
        const size_t *todo; /* entry indexes to fetch */
};

static void inspect_child(struct xarch_image *img, struct xarch_inspect_entry *e) {
        struct xarch_error *err = NULL;
        struct xarch_blob_buf buf = {0};
        struct xarch_manifest *m = NULL;

        int r = xarch_image_get_manifest(img, e->desc->digest, e->desc->media_type, &buf, &err);
        if (r >= 0 && buf.len != e->desc->size)
                r = xarch_error_set(&err, EBADMSG,
                                "manifest %s is %zu bytes, its descriptor says %llu",
                                e->desc->digest, buf.len, (unsigned long long) e->desc->size);
        if (r >= 0)
                r = xarch_manifest_parse(buf.data, buf.len,
                                e->desc->media_type[0] ? e->desc->media_type : buf.media_type, &m,
                                &err);
        if (r >= 0 && m->kind == XARCH_MANIFEST_IMAGE) {
                e->n_layers = (int) m->n_layers;
                e->layers_size = m->layers_size;
                if (!e->desc->has_platform) {
                        r = config_platform(img, m, &e->config_platform, NULL, &err);
                        e->has_config_platform = r >= 0;
                }
        }
        if (r < 0)
                e->error = strdup(err && err->msg ? err->msg : strerror(-r));
        xarch_error_free(err);
        xarch_manifest_free(m);
        xarch_blob_buf_release(&buf);
}

/* A child that fails keeps its error in its entry; the others are still fetched. */
static void fetch_child(void *ctx, size_t i) {
        struct child_fetches *f = ctx;
        inspect_child(f->img, &f->result->entries[f->todo[i]]);
}

static void fetch_children(struct xarch_image *img, struct xarch_inspect *res, size_t *todo,
                size_t n_todo, unsigned concurrency) {
        /* what is at hand (cache, local layout) is read here: a thread per child would cost
         * more than the read */
        size_t n_remote = 0;
        for (size_t i = 0; i < n_todo; i++) {
                struct xarch_inspect_entry *e = &res->entries[todo[i]];
                if (image_blob_at_hand(img, e->desc->digest))
                        inspect_child(img, e);
                else
                        todo[n_remote++] = todo[i];
        }
        struct child_fetches f = {.img = img, .result = res, .todo = todo};
        run_all_jobs(0, n_remote, concurrency ? concurrency : DEFAULT_CONCURRENCY, fetch_child, &f);
}

/* Nested indexes deeper than this are not followed (containerd has no limit; a registry has
 * to serve each level, and a loop of digests is impossible). */
#define NESTING_MAX 8

struct select_ctx {
        struct xarch_image *img;
        const struct xarch_inspect_options *opts;
        struct xarch_runtime runtime;
        struct xarch_platform want; /* normalised */
        char *error;                /* the runtime commits and fails: why */
        char *warning;
};

static bool is_image_manifest_type(const char *mt) {
        return xarch_media_type_is_manifest(mt) && !xarch_media_type_is_index(mt);
}

static int rank_for(const struct select_ctx *s, const struct xarch_platform *p, size_t n_features) {
        if (s->opts->mode == XARCH_MATCH_MODE_STRICT) {
                if (xarch_runtime_matcher(&s->runtime) == XARCH_MATCHER_CONTAINERD_RC4 &&
                                n_features > 0)
                        return -ENOENT;
                return xarch_platform_rank(&s->want, p, XARCH_MATCH_MODE_STRICT);
        }
        return xarch_runtime_rank(&s->runtime, &s->want, p, n_features);
}

static enum xarch_match_rule rule_for(
                const struct select_ctx *s, const struct xarch_platform *raw, int rank) {
        if (rank > 0)
                return XARCH_MATCH_FALLBACK;
        enum xarch_match_rule rule = XARCH_MATCH_NORMALIZED;
        if (xarch_platform_match_spelled(s->opts->platform, s->opts->spelling, raw, 1,
                            XARCH_MATCH_MODE_STRICT, &rule) < 0)
                rule = XARCH_MATCH_NORMALIZED;
        return rule == XARCH_MATCH_NONE ? XARCH_MATCH_NORMALIZED : rule;
}

/* The one descriptor the runtime considers (LimitManifests(…, 1) after FilterPlatforms): the
 * lowest rank among entries with a matching platform, earliest on ties; else the first entry
 * without a platform. -1 when there is none. */
static int first_considered(const struct select_ctx *s, const struct xarch_descriptor *ds, size_t n,
                int *ret_rank) {
        int best = -1, best_rank = INT_MAX, first_bare = -1;
        for (size_t i = 0; i < n && i < INT_MAX; i++) {
                const struct xarch_descriptor *d = &ds[i];
                if (!d->has_platform) {
                        if (first_bare < 0)
                                first_bare = (int) i;
                        continue;
                }
                if (d->never_matches)
                        continue;
                int rank = rank_for(s, &d->platform, d->n_os_features);
                if (rank >= 0 && rank < best_rank) {
                        best = (int) i;
                        best_rank = rank;
                }
        }
        *ret_rank = best >= 0 ? best_rank : -1;
        return best >= 0 ? best : first_bare;
}

static void set_once(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_once(char **slot, const char *fmt, ...) {
        if (*slot)
                return;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(slot, fmt, ap) < 0)
                *slot = NULL;
        va_end(ap);
}

static void note_not_image(struct select_ctx *s, const struct xarch_descriptor *d,
                const struct xarch_manifest *m) {
        const char *artifact = d->artifact_type ? d->artifact_type
                                                : (m && m->artifact_type ? m->artifact_type : NULL);
        if (d->ref_type && !streq(d->ref_type, XARCH_REF_TYPE_ATTESTATION))
                set_once(&s->warning,
                                "%s is not an image: a '%s' reference (%s %s); the node "
                                "pulls it all the same",
                                d->digest, d->ref_type, XARCH_ANNOTATION_REF_TYPE, d->ref_type);
        else if (artifact)
                set_once(&s->warning,
                                "%s is not an image: an artifact of type '%s'; the node pulls it "
                                "all the same",
                                d->digest, artifact);
        else if (d->kind == XARCH_ENTRY_ATTESTATION)
                set_once(&s->warning,
                                "%s is not an image: an attestation; the node pulls it all the "
                                "same",
                                d->digest);
}

/* Reads and parses the manifest a descriptor names. */
static int read_child(struct xarch_image *img, const struct xarch_descriptor *d,
                struct xarch_manifest **ret, struct xarch_error **err) {
        struct xarch_blob_buf buf = {0};
        int r = xarch_image_get_manifest(img, d->digest, d->media_type, &buf, err);
        if (r >= 0)
                r = xarch_manifest_parse(buf.data, buf.len,
                                d->media_type[0] ? d->media_type : buf.media_type, ret, err);
        xarch_blob_buf_release(&buf);
        return r;
}

/* Follows the runtime's choice inside one index. Returns 1 with ret_digest and ret_rule set when
 * an image is pulled, 0 when nothing matches (no error: "no match"), -errno when reading
 * failed (err set). s->error is set when the runtime commits and then fails. */
static int select_in(struct select_ctx *s, const struct xarch_descriptor *ds, size_t n, int depth,
                int *ret_index, char ret_digest[XARCH_DIGEST_MAX], enum xarch_match_rule *ret_rule,
                int *ret_depth, struct xarch_error **err) {
        int rank;
        int k = first_considered(s, ds, n, &rank);
        *ret_index = k;
        if (k < 0)
                return 0;
        const struct xarch_descriptor *d = &ds[k];
        bool crio = xarch_runtime_matcher(&s->runtime) == XARCH_MATCHER_CONTAINERS_IMAGE;

        if (xarch_media_type_is_index(d->media_type)) {
                if (crio) {
                        set_once(&s->error,
                                        "the runtime chooses %s, a nested index, and "
                                        "containers/image copies a single image from it",
                                        d->digest);
                        return 0;
                }
                if (depth >= NESTING_MAX) {
                        set_once(&s->error, "%s: indexes nested more than %d deep", d->digest,
                                        NESTING_MAX);
                        return 0;
                }
                struct xarch_manifest *m = NULL;
                int r = read_child(s->img, d, &m, err);
                if (r < 0)
                        return r;
                if (m->kind != XARCH_MANIFEST_INDEX) {
                        xarch_manifest_free(m);
                        set_once(&s->error, "%s: the entry says index, the document is not one",
                                        d->digest);
                        return 0;
                }
                int inner;
                r = select_in(s, m->manifests, m->n_manifests, depth + 1, &inner, ret_digest,
                                ret_rule, ret_depth, err);
                xarch_manifest_free(m);
                if (r == 0)
                        set_once(&s->error,
                                        "the runtime commits to the nested index %s%s and finds "
                                        "no match for platform inside it",
                                        d->digest,
                                        d->has_platform ? " (its platform matches)" : "");
                return r;
        }
        if (!is_image_manifest_type(d->media_type) && !crio) {
                /* images.Manifest: "unexpected media type" */
                set_once(&s->error,
                                "the runtime chooses %s, of media type '%s', which it cannot "
                                "pull as an image (unexpected media type)",
                                d->digest, d->media_type[0] ? d->media_type : "(none)");
                return 0;
        }

        struct xarch_manifest *m = NULL;
        if (!d->has_platform && !crio) {
                /* images.Manifest checks a platform-less entry's config (ConfigPlatform) */
                int r = read_child(s->img, d, &m, err);
                if (r < 0)
                        return r;
                struct xarch_platform cp;
                struct xarch_image_config *c = NULL;
                struct xarch_blob_buf buf = {0};
                if (m->kind != XARCH_MANIFEST_IMAGE)
                        r = xarch_error_set(err, EBADMSG, "%s is not an image manifest", d->digest);
                if (r >= 0)
                        r = xarch_image_get_blob_buf(s->img, m->config.digest,
                                        xarch_descriptor_cap(&m->config, XARCH_CONFIG_MAX), &buf,
                                        err);
                if (r >= 0)
                        r = xarch_image_config_parse(buf.data, buf.len, &c, err);
                xarch_blob_buf_release(&buf);
                if (r < 0) {
                        xarch_manifest_free(m);
                        return r;
                }
                cp = c->platform;
                size_t n_features = c->n_os_features;
                xarch_image_config_free(c);
                /* 1.6/1.7 read only os and architecture from the config */
                if (!xarch_runtime_config_variant(&s->runtime)) {
                        cp.variant[0] = '\0';
                        n_features = 0;
                }
                rank = rank_for(s, &cp, n_features);
                if (rank < 0) {
                        xarch_manifest_free(m);
                        *ret_index = -1;
                        return 0;
                }
                *ret_rule = rule_for(s, &cp, rank);
        } else {
                *ret_rule = d->has_platform ? rule_for(s, &d->platform, rank)
                                            : XARCH_MATCH_FALLBACK;
        }
        note_not_image(s, d, m);
        xarch_manifest_free(m);
        snprintf(ret_digest, XARCH_DIGEST_MAX, "%s", d->digest);
        *ret_depth = depth;
        return 1;
}

static int select_from_index(struct xarch_inspect *res, struct xarch_image *img,
                const struct xarch_inspect_options *opts, struct xarch_error **err) {
        struct select_ctx s = {.img = img, .opts = opts, .want = *opts->platform};
        if (opts->runtime)
                s.runtime = *opts->runtime;
        else
                xarch_runtime_default(&s.runtime);
        xarch_platform_normalize(&s.want);

        res->selection_done = true;
        res->selected = -1;
        int index;
        enum xarch_match_rule rule = XARCH_MATCH_NONE;
        int depth = 0;
        int r = select_in(&s, res->manifest->manifests, res->manifest->n_manifests, 0, &index,
                        res->selected_digest, &rule, &depth, err);
        if (r > 0) {
                res->selected = index;
                res->rule = rule;
                res->selected_depth = depth;
        } else {
                res->selected_digest[0] = '\0';
        }
        res->selection_error = s.error;
        res->selection_warning = r > 0 ? s.warning : NULL;
        if (r <= 0)
                free(s.warning);
        return r < 0 ? r : 0;
}

int xarch_image_inspect(struct xarch_image *img, const struct xarch_inspect_options *opts,
                struct xarch_inspect **ret, struct xarch_error **err) {
        struct xarch_inspect_options defaults = {0};
        int r;

        if (!opts)
                opts = &defaults;
        struct xarch_inspect *res = calloc(1, sizeof(*res));
        if (!res || !(res->name = strdup(xarch_image_name(img)))) {
                free(res);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        res->transport = xarch_image_transport(img);
        res->selected = -1;

        r = xarch_image_get_root(img, &res->root, &res->synthesized, err);
        if (r < 0)
                goto fail;
        r = xarch_manifest_parse(
                        res->root.data, res->root.len, res->root.media_type, &res->manifest, err);
        if (r < 0)
                goto fail;
        const struct xarch_manifest *m = res->manifest;

        if (m->kind == XARCH_MANIFEST_INDEX) {
                res->n_entries = m->n_manifests;
                res->entries = calloc(m->n_manifests ? m->n_manifests : 1, sizeof(*res->entries));
                _cleanup_free_ size_t *todo =
                                calloc(m->n_manifests ? m->n_manifests : 1, sizeof(size_t));
                if (!res->entries || !todo) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto fail;
                }
                size_t n_todo = 0;
                for (size_t i = 0; i < m->n_manifests; i++) {
                        struct xarch_inspect_entry *e = &res->entries[i];
                        e->desc = &m->manifests[i];
                        e->hidden = e->desc->kind != XARCH_ENTRY_IMAGE;
                        e->n_layers = -1;
                        /* children are read for layer counts; hidden ones only on request, and
                         * platform-less ones always (containerd needs their config) */
                        bool want = e->desc->kind == XARCH_ENTRY_IMAGE ||
                                    (opts->include_hidden &&
                                                    e->desc->kind == XARCH_ENTRY_ATTESTATION);
                        if (opts->skip_children && e->desc->has_platform)
                                want = false;
                        if (want)
                                todo[n_todo++] = i;
                }
                fetch_children(img, res, todo, n_todo, opts->concurrency);
                if (opts->platform) {
                        r = select_from_index(res, img, opts, err);
                        if (r < 0)
                                goto fail;
                }
                if (opts->want_config) {
                        if (!opts->platform) {
                                r = xarch_error_set(err, EINVAL,
                                                "%s is an index: choose an image with a platform",
                                                res->name);
                                goto fail;
                        }
                        if (res->selected < 0) {
                                r = xarch_error_set(err, ENOENT,
                                                "no match for platform in manifest %s",
                                                res->root.digest);
                                goto fail;
                        }
                        struct xarch_blob_buf child = {0};
                        struct xarch_manifest *cm = NULL;
                        struct xarch_platform ignored;
                        r = xarch_image_get_manifest(img, res->selected_digest, NULL, &child, err);
                        if (r >= 0)
                                r = xarch_manifest_parse(
                                                child.data, child.len, child.media_type, &cm, err);
                        if (r >= 0 && cm->kind != XARCH_MANIFEST_IMAGE)
                                r = xarch_error_set(err, EMEDIUMTYPE,
                                                "%s: the selected entry %s is not an image",
                                                res->name, res->selected_digest);
                        if (r >= 0)
                                r = config_platform(img, cm, &ignored, &res->config, err);
                        xarch_manifest_free(cm);
                        xarch_blob_buf_release(&child);
                        if (r < 0)
                                goto fail;
                }
        } else {
                struct xarch_blob_buf *keep = opts->want_config ? &res->config : NULL;
                r = config_platform(img, m, &res->config_platform, keep, err);
                if (r < 0) {
                        xarch_error_wrap(err, "config %s", m->config.digest);
                        goto fail;
                }
                res->has_config_platform = true;
                if (opts->platform) {
                        enum xarch_match_rule rule = XARCH_MATCH_NONE;
                        int k = xarch_platform_match_spelled(opts->platform, opts->spelling,
                                        &res->config_platform, 1, opts->mode, &rule);
                        res->selection_done = true;
                        res->selected = k >= 0 ? 0 : -1;
                        res->rule = k >= 0 ? rule : XARCH_MATCH_NONE;
                        if (k >= 0)
                                snprintf(res->selected_digest, sizeof(res->selected_digest), "%s",
                                                res->root.digest);
                }
        }
        *ret = res;
        return 0;
fail:
        xarch_inspect_free(res);
        return r;
}
