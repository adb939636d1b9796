/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "macro.h"

#define DEFAULT_CONCURRENCY 8

void xarch_inspect_free(struct xarch_inspect *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_entries; i++)
                free(r->entries[i].error);
        free(r->entries);
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
        int r = xarch_image_get_blob_buf(img, m->config.digest, XARCH_CONFIG_MAX, &buf, err);
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

struct child_job {
        struct xarch_image *img;
        struct xarch_inspect *result;
        size_t *todo; /* entry indexes to fetch */
        size_t n_todo;
        size_t next;
        pthread_mutex_t lock;
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

static void *child_worker(void *userdata) {
        struct child_job *job = userdata;
        for (;;) {
                pthread_mutex_lock(&job->lock);
                size_t i = job->next < job->n_todo ? job->todo[job->next++] : SIZE_MAX;
                pthread_mutex_unlock(&job->lock);
                if (i == SIZE_MAX)
                        return NULL;
                inspect_child(job->img, &job->result->entries[i]);
        }
}

static void fetch_children(struct xarch_image *img, struct xarch_inspect *res, size_t *todo,
                size_t n_todo, unsigned concurrency) {
        struct child_job job = {.img = img, .result = res, .todo = todo, .n_todo = n_todo};
        pthread_t threads[64];
        size_t n_threads = 0;

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
        job.n_todo = n_todo = n_remote;
        if (n_todo == 0)
                return;
        if (concurrency == 0)
                concurrency = DEFAULT_CONCURRENCY;
        if (concurrency > ELEMENTSOF(threads))
                concurrency = ELEMENTSOF(threads);
        pthread_mutex_init(&job.lock, NULL);
        /* this thread works too, so one child needs no extra thread */
        for (size_t i = 1; i < concurrency && i < n_todo; i++)
                if (pthread_create(&threads[n_threads], NULL, child_worker, &job) == 0)
                        n_threads++;
        child_worker(&job);
        for (size_t i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&job.lock);
}

static bool entry_is_pullable(const struct xarch_descriptor *d) {
        /* containerd only descends into manifests and indexes */
        return d->kind == XARCH_ENTRY_IMAGE || d->kind == XARCH_ENTRY_INDEX ||
               d->kind == XARCH_ENTRY_ATTESTATION;
}

static int select_from_index(struct xarch_inspect *res, const struct xarch_inspect_options *opts,
                struct xarch_error **err) {
        size_t n = res->n_entries;
        _cleanup_free_ struct xarch_platform *cands = calloc(n ? n : 1, sizeof(*cands));
        _cleanup_free_ size_t *map = calloc(n ? n : 1, sizeof(*map));
        size_t n_cands = 0;
        enum xarch_match_rule rule = XARCH_MATCH_NONE;

        if (!cands || !map)
                return xarch_error_set(err, ENOMEM, "out of memory");
        res->selection_done = true;
        res->selected = -1;
        /* containerd sorts entries with a platform first (by vector rank, stable in index
         * order); entries without one come last and count only if their config matches */
        for (size_t pass = 0; pass < 2 && res->selected < 0; pass++) {
                n_cands = 0;
                for (size_t i = 0; i < n; i++) {
                        const struct xarch_inspect_entry *e = &res->entries[i];
                        if (!entry_is_pullable(e->desc))
                                continue;
                        if (pass == 0 && e->desc->has_platform)
                                cands[n_cands] = e->desc->platform;
                        else if (pass == 1 && !e->desc->has_platform && e->has_config_platform)
                                cands[n_cands] = e->config_platform;
                        else
                                continue;
                        map[n_cands++] = i;
                }
                if (n_cands == 0)
                        continue;
                int k = xarch_platform_match_spelled(
                                opts->platform, opts->spelling, cands, n_cands, opts->mode, &rule);
                if (k >= 0) {
                        res->selected = (int) map[k];
                        res->rule = rule;
                        snprintf(res->selected_digest, sizeof(res->selected_digest), "%s",
                                        res->entries[map[k]].desc->digest);
                }
        }
        return 0;
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
                        r = select_from_index(res, opts, err);
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
                        const struct xarch_descriptor *d = res->entries[res->selected].desc;
                        struct xarch_blob_buf child = {0};
                        struct xarch_manifest *cm = NULL;
                        struct xarch_platform ignored;
                        r = xarch_image_get_manifest(img, d->digest, d->media_type, &child, err);
                        if (r >= 0)
                                r = xarch_manifest_parse(child.data, child.len,
                                                d->media_type[0] ? d->media_type : child.media_type,
                                                &cm, err);
                        if (r >= 0 && cm->kind != XARCH_MANIFEST_IMAGE)
                                r = xarch_error_set(err, EMEDIUMTYPE,
                                                "%s: the selected entry %s is a nested index",
                                                res->name, d->digest);
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
