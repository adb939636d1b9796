/* SPDX-License-Identifier: MIT */
#include "xarch/copy.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jobs.h"
#include "build/copy-internal.h"
#include "build/sink.h"
#include "macro.h"
#include "registry/referrers.h"

#define DEFAULT_JOBS 8
#define DEPTH_MAX    4 /* index -> index -> manifest is already unusual */

/* A manifest to write, children first. */
struct node {
        char digest[XARCH_DIGEST_MAX];
        char media_type[128];
        char *data;
        size_t len;
        size_t *needs; /* an image manifest: its blobs (indexes into copy.blobs) */
        size_t n_needs;
        unsigned pending; /* of those, not copied yet (atomic) */
        bool put;         /* already written, by the job that copied its last blob */
};

struct blob {
        char digest[XARCH_DIGEST_MAX];
        uint64_t size;
};

/* Whether the destination holds a manifest, learnt ahead of the walk. */
struct known {
        char digest[XARCH_DIGEST_MAX];
        int have;
};

struct copy {
        struct xarch_image *src;
        struct sink *dst;
        const struct xarch_ref *mount_from; /* registry source */
        struct node *nodes;
        size_t n_nodes;
        struct blob *blobs;
        size_t n_blobs;
        char (*seen)[XARCH_DIGEST_MAX]; /* every manifest walked (the referrers' subjects) */
        size_t n_seen;
        unsigned jobs;    /* 0: the walk asks nothing ahead */
        bool root_by_tag; /* the last node is the root, which sink_set_tag() names next */
        /* blob i is needed by users[user_start[i] .. user_start[i + 1]) (node indexes) */
        size_t *user_start, *users;
        struct known *known; /* answers of the destination, asked ahead */
        size_t n_known;
};

static bool seen(const struct copy *c, const char *digest) {
        for (size_t i = 0; i < c->n_seen; i++)
                if (streq(c->seen[i], digest))
                        return true;
        return false;
}

static int note_seen(struct copy *c, const char *digest) {
        if (seen(c, digest))
                return 0;
        char(*s)[XARCH_DIGEST_MAX] = realloc(c->seen, (c->n_seen + 1) * sizeof(*s));
        if (!s)
                return -ENOMEM;
        c->seen = s;
        snprintf(s[c->n_seen++], XARCH_DIGEST_MAX, "%s", digest);
        return 0;
}

static bool have_node(const struct copy *c, const char *digest) {
        for (size_t i = 0; i < c->n_nodes; i++)
                if (streq(c->nodes[i].digest, digest))
                        return true;
        return false;
}

/* Adds a blob once; *index (may be NULL) gets its place in c->blobs. */
static int add_blob(struct copy *c, const char *digest, uint64_t size, size_t *index) {
        for (size_t i = 0; i < c->n_blobs; i++)
                if (streq(c->blobs[i].digest, digest)) {
                        if (index)
                                *index = i;
                        return 0;
                }
        struct blob *b = realloc(c->blobs, (c->n_blobs + 1) * sizeof(*b));
        if (!b)
                return -ENOMEM;
        c->blobs = b;
        snprintf(b[c->n_blobs].digest, XARCH_DIGEST_MAX, "%s", digest);
        b[c->n_blobs].size = size;
        if (index)
                *index = c->n_blobs;
        c->n_blobs++;
        return 0;
}

/* Takes ownership of data. */
static int add_node(struct copy *c, const char *digest, const char *media_type, char *data,
                size_t len) {
        struct node *n = realloc(c->nodes, (c->n_nodes + 1) * sizeof(*n));
        if (!n) {
                free(data);
                return -ENOMEM;
        }
        c->nodes = n;
        n = &n[c->n_nodes++];
        *n = (struct node){};
        snprintf(n->digest, sizeof(n->digest), "%s", digest);
        snprintf(n->media_type, sizeof(n->media_type), "%s", media_type);
        n->data = data;
        n->len = len;
        return 0;
}

/* ---- asking ahead: an index's children fetched and looked up in parallel ---- */

struct ahead {
        struct copy *c;
        const struct xarch_manifest *index;
        int *have;
};

static int ahead_one(void *ctx, size_t i, struct xarch_error **err) {
        (void) err; /* failures are not kept: the walk asks again and reports them */
        struct ahead *a = ctx;
        const struct xarch_descriptor *d = &a->index->manifests[i];
        if (!xarch_media_type_is_manifest(d->media_type) && d->media_type[0])
                return 0;
        struct xarch_error *e = NULL;
        a->have[i] = sink_has_manifest(a->c->dst, d->digest, &e);
        xarch_error_free(e);
        e = NULL;
        /* the source image remembers the manifest for the walk */
        struct xarch_blob_buf child = {};
        if (xarch_image_get_manifest(a->c->src, d->digest, d->media_type, &child, &e) >= 0)
                xarch_blob_buf_release(&child);
        xarch_error_free(e);
        return 0;
}

/* The walk of an index fetches each child from the source and asks the destination for it,
 * one after the other: registry to registry, that is two round trips per child with nothing
 * else in flight, so they are asked ahead on up to c->jobs threads. */
static void ask_ahead(struct copy *c, const struct xarch_manifest *index) {
        size_t n = index->n_manifests;
        if (c->jobs <= 1 || n <= 1 || !sink_parallel(c->dst) ||
                        xarch_image_transport(c->src) != XARCH_TRANSPORT_REGISTRY)
                return;
        struct ahead a = {.c = c, .index = index, .have = malloc(n * sizeof(int))};
        if (!a.have)
                return;
        for (size_t i = 0; i < n; i++)
                a.have[i] = -1;
        /* the first alone: its answers teach the client how each registry authenticates,
         * which the threads then know instead of each meeting the 401 */
        ahead_one(&a, 0, NULL);
        run_jobs(1, n, c->jobs, ahead_one, &a, NULL);
        struct known *k = realloc(c->known, (c->n_known + n) * sizeof(*k));
        if (k) {
                c->known = k;
                for (size_t i = 0; i < n; i++)
                        if (a.have[i] >= 0) {
                                snprintf(k[c->n_known].digest, XARCH_DIGEST_MAX, "%s",
                                                index->manifests[i].digest);
                                k[c->n_known++].have = a.have[i];
                        }
        }
        free(a.have);
}

/* The destination's answer for a manifest, asked ahead; -1 when not asked. */
static int known_have(const struct copy *c, const char *digest) {
        for (size_t i = 0; i < c->n_known; i++)
                if (streq(c->known[i].digest, digest))
                        return c->known[i].have;
        return -1;
}

/* Walks a manifest (its bytes in buf, verified): children and blobs are collected, then the
 * manifest itself is queued after them. A manifest the destination already holds is complete
 * there (it was written after its children), so its subtree is skipped. */
static int walk(struct copy *c, struct xarch_blob_buf *buf, const char *media_type, int depth,
                bool check_dst, struct xarch_error **err) {
        if (depth > DEPTH_MAX)
                return xarch_error_set(err, ELOOP, "indexes nested deeper than %d", DEPTH_MAX);
        if (have_node(c, buf->digest))
                return 0;
        if (note_seen(c, buf->digest) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (check_dst) {
                int have = known_have(c, buf->digest);
                if (have < 0)
                        have = sink_has_manifest(c->dst, buf->digest, err);
                if (have < 0)
                        return have;
                if (have > 0)
                        return 0;
        }
        struct xarch_manifest *m = NULL;
        size_t *needs = NULL, n_needs = 0;
        int r = xarch_manifest_parse(buf->data, buf->len, media_type, &m, err);
        if (r < 0)
                return xarch_error_wrap(err, "%s", buf->digest);
        if (m->kind == XARCH_MANIFEST_INDEX) {
                ask_ahead(c, m);
                for (size_t i = 0; i < m->n_manifests && r >= 0; i++) {
                        const struct xarch_descriptor *d = &m->manifests[i];
                        struct xarch_blob_buf child = {};
                        if (!xarch_media_type_is_manifest(d->media_type) && d->media_type[0]) {
                                /* an artifact that is not a manifest: a plain blob */
                                r = add_blob(c, d->digest, d->size, NULL);
                                if (r < 0)
                                        r = xarch_error_set(err, ENOMEM, "out of memory");
                                continue;
                        }
                        r = xarch_image_get_manifest(c->src, d->digest, d->media_type, &child, err);
                        if (r >= 0)
                                r = walk(c, &child,
                                                child.media_type[0] ? child.media_type
                                                                    : d->media_type,
                                                depth + 1, true, err);
                        xarch_blob_buf_release(&child);
                }
        } else {
                needs = malloc((m->n_layers + 1) * sizeof(*needs));
                if (!needs)
                        r = -ENOMEM;
                if (r >= 0 && m->config.digest[0])
                        r = add_blob(c, m->config.digest, m->config.size, &needs[n_needs++]);
                for (size_t i = 0; i < m->n_layers && r >= 0; i++)
                        r = add_blob(c, m->layers[i].digest, m->layers[i].size, &needs[n_needs++]);
                if (r < 0)
                        r = xarch_error_set(err, ENOMEM, "out of memory");
        }
        xarch_manifest_free(m);
        if (r < 0) {
                free(needs);
                return r;
        }
        r = add_node(c, buf->digest, media_type ? media_type : "", steal_ptr(buf->data), buf->len);
        buf->len = 0;
        if (r >= 0) {
                c->nodes[c->n_nodes - 1].needs = steal_ptr(needs);
                c->nodes[c->n_nodes - 1].n_needs = n_needs;
        }
        free(needs);
        return r < 0 ? xarch_error_set(err, ENOMEM, "out of memory") : 0;
}

static int copy_one_blob(struct copy *c, const struct blob *b, struct xarch_error **err) {
        int r = sink_copy_blob(c->dst, c->src, b->digest, b->size, c->mount_from, err);
        return r < 0 ? xarch_error_wrap(err, "blob %s", b->digest) : 0;
}

static int put_node(struct copy *c, const struct node *n, struct xarch_error **err) {
        /* the root goes last, and with a tag, once: by the tag */
        bool root = n == &c->nodes[c->n_nodes - 1] && c->root_by_tag;
        int r = (root ? sink_put_root : sink_put_manifest)(
                        c->dst, n->data, n->len, n->media_type, NULL, err);
        if (r < 0)
                xarch_error_wrap(err, "%s %s",
                                xarch_media_type_is_index(n->media_type) ? "index" : "manifest",
                                n->digest);
        return r;
}

/* Which image manifests wait for which blob (user_start/users), for a registry destination:
 * an image manifest goes up as soon as its last blob is there, while the other blobs still
 * copy, instead of after all of them. Not the last node (the root: its write is the tag's). */
static int index_users(struct copy *c) {
        if (!sink_parallel(c->dst) || c->n_nodes < 2)
                return 0;
        size_t total = 0;
        for (size_t k = 0; k + 1 < c->n_nodes; k++)
                total += c->nodes[k].n_needs;
        c->user_start = calloc(c->n_blobs + 1, sizeof(*c->user_start));
        c->users = malloc((total ? total : 1) * sizeof(*c->users));
        if (!c->user_start || !c->users)
                return -ENOMEM;
        for (size_t k = 0; k + 1 < c->n_nodes; k++)
                for (size_t j = 0; j < c->nodes[k].n_needs; j++)
                        c->user_start[c->nodes[k].needs[j] + 1]++;
        for (size_t i = 0; i < c->n_blobs; i++)
                c->user_start[i + 1] += c->user_start[i];
        _cleanup_free_ size_t *fill = calloc(c->n_blobs + 1, sizeof(*fill));
        if (!fill)
                return -ENOMEM;
        for (size_t k = 0; k + 1 < c->n_nodes; k++) {
                struct node *n = &c->nodes[k];
                /* a blob listed twice in one manifest is awaited once */
                for (size_t j = 0; j < n->n_needs; j++) {
                        size_t b = n->needs[j];
                        bool again = false;
                        for (size_t q = c->user_start[b]; q < c->user_start[b] + fill[b]; q++)
                                again |= c->users[q] == k;
                        if (!again) {
                                c->users[c->user_start[b] + fill[b]++] = k;
                                n->pending++;
                        }
                }
        }
        /* the slots of repeated blobs stay unused: mark them */
        for (size_t b = 0; b < c->n_blobs; b++)
                for (size_t q = c->user_start[b] + fill[b]; q < c->user_start[b + 1]; q++)
                        c->users[q] = SIZE_MAX;
        return 0;
}

static int blob_job(void *ctx, size_t i, struct xarch_error **err) {
        struct copy *c = ctx;
        int r = copy_one_blob(c, &c->blobs[i], err);
        if (r < 0 || !c->user_start)
                return r;
        for (size_t q = c->user_start[i]; q < c->user_start[i + 1]; q++) {
                if (c->users[q] == SIZE_MAX)
                        continue;
                struct node *n = &c->nodes[c->users[q]];
                if (__atomic_sub_fetch(&n->pending, 1, __ATOMIC_ACQ_REL) != 0 ||
                                xarch_media_type_is_index(n->media_type))
                        continue;
                r = put_node(c, n, err);
                if (r < 0)
                        return r;
                __atomic_store_n(&n->put, true, __ATOMIC_RELEASE);
        }
        return 0;
}

static int copy_blobs(struct copy *c, unsigned jobs, struct xarch_error **err) {
        if (index_users(c) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        return run_jobs(0, c->n_blobs, sink_parallel(c->dst) ? jobs : 1, blob_job, c, err);
}

static int node_job(void *ctx, size_t i, struct xarch_error **err) {
        struct copy *c = ctx;
        if (__atomic_load_n(&c->nodes[i].put, __ATOMIC_ACQUIRE))
                return 0; /* went up with its last blob */
        return put_node(c, &c->nodes[i], err);
}

/* Puts the manifests not yet written in walk order (children before the index that lists
 * them). A run of image manifests depends on nothing but blobs already there, so to a registry
 * it goes up concurrently; an index waits for everything before it. */
static int put_nodes(struct copy *c, unsigned jobs, struct xarch_error **err) {
        for (size_t i = 0; i < c->n_nodes;) {
                size_t end = i;
                while (end < c->n_nodes && !xarch_media_type_is_index(c->nodes[end].media_type))
                        end++;
                if (end == i) /* an index: alone, after everything before it */
                        end = i + 1;
                int r = run_jobs(i, end, sink_parallel(c->dst) ? jobs : 1, node_job, c, err);
                if (r < 0)
                        return r;
                i = end;
        }
        return 0;
}

static bool platform_wanted(const struct xarch_copy_options *o, const struct xarch_descriptor *d) {
        if (!d->has_platform)
                return false;
        struct xarch_platform p = d->platform;
        xarch_platform_normalize(&p);
        for (size_t i = 0; i < o->n_platforms; i++) {
                struct xarch_platform w = o->platforms[i];
                xarch_platform_normalize(&w);
                if (xarch_platform_equal(&p, &w))
                        return true;
        }
        return false;
}

int copy_select(const struct xarch_blob_buf *root, const struct xarch_manifest *index,
                const struct xarch_platform *platforms, size_t n_platforms, bool *keep,
                struct xarch_error **err) {
        struct xarch_copy_options o = {.platforms = platforms, .n_platforms = n_platforms};
        for (size_t i = 0; i < index->n_manifests; i++)
                keep[i] = index->manifests[i].kind == XARCH_ENTRY_IMAGE &&
                          platform_wanted(&o, &index->manifests[i]);
        for (size_t k = 0; k < n_platforms; k++) {
                bool found = false;
                struct xarch_platform w = platforms[k];
                xarch_platform_normalize(&w);
                for (size_t i = 0; i < index->n_manifests && !found; i++) {
                        struct xarch_copy_options one = {.platforms = &w, .n_platforms = 1};
                        found = keep[i] && platform_wanted(&one, &index->manifests[i]);
                }
                if (!found) {
                        char p[128];
                        xarch_platform_format(&platforms[k], p, sizeof(p));
                        return xarch_error_set(err, ENOENT, "%s has no %s image", root->digest, p);
                }
        }
        /* attestations follow the image they describe */
        for (size_t i = 0; i < index->n_manifests; i++) {
                const struct xarch_descriptor *d = &index->manifests[i];
                if (d->kind != XARCH_ENTRY_ATTESTATION || !d->ref_digest)
                        continue;
                for (size_t j = 0; j < index->n_manifests; j++)
                        if (keep[j] && index->manifests[j].kind == XARCH_ENTRY_IMAGE &&
                                        streq(index->manifests[j].digest, d->ref_digest))
                                keep[i] = true;
        }
        return 0;
}

int copy_rewrite_index(const struct xarch_blob_buf *root, const bool *keep, size_t n, char **ret,
                size_t *ret_len, struct xarch_error **err) {
        json_error_t jerr;
        json_t *doc = json_loadb(root->data, root->len, JSON_REJECT_DUPLICATES, &jerr);
        json_t *list = json_object_get(doc, "manifests");
        if (!json_is_array(list) || json_array_size(list) != n) {
                json_decref(doc);
                return xarch_error_set(err, EBADMSG, "%s: cannot re-read the index", root->digest);
        }
        for (size_t i = n; i-- > 0;)
                if (!keep[i])
                        json_array_remove(list, i);
        char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (!text)
                return xarch_error_set(err, ENOMEM, "out of memory");
        *ret = text;
        *ret_len = strlen(text);
        return 0;
}

static void copy_free(struct copy *c) {
        for (size_t i = 0; i < c->n_nodes; i++) {
                free(c->nodes[i].data);
                free(c->nodes[i].needs);
        }
        free(c->nodes);
        free(c->user_start);
        free(c->users);
        free(c->blobs);
        free(c->seen);
        free(c->known);
}

void xarch_copy_result_free(struct xarch_copy_result *r) {
        if (!r)
                return;
        free(r->entries);
        free(r);
}

static int fill_entries(struct xarch_copy_result *res, const struct xarch_manifest *index,
                const bool *keep) {
        size_t n = 0;
        for (size_t i = 0; i < index->n_manifests; i++)
                n += !keep || keep[i];
        res->entries = calloc(n ? n : 1, sizeof(*res->entries));
        if (!res->entries)
                return -ENOMEM;
        for (size_t i = 0; i < index->n_manifests; i++) {
                if (keep && !keep[i])
                        continue;
                const struct xarch_descriptor *d = &index->manifests[i];
                struct xarch_copy_entry *e = &res->entries[res->n_entries++];
                snprintf(e->digest, sizeof(e->digest), "%s", d->digest);
                snprintf(e->media_type, sizeof(e->media_type), "%s", d->media_type);
                e->has_platform = d->has_platform;
                e->platform = d->platform;
                e->attestation = d->kind == XARCH_ENTRY_ATTESTATION ||
                                 d->kind == XARCH_ENTRY_ARTIFACT;
        }
        return 0;
}

/* Tries to merge a fallback tag this often when other writers of an oci: layout keep moving it. */
#define FALLBACK_TAG_ATTEMPTS 8

/* Adds the descriptors of src_list that subject's fallback tag at the destination lacks. In an
 * oci: layout the tag moves only if it still names what was read (another copy may be adding its
 * own referrers to the same subject): else read and merge again. */
static int merge_fallback_tag(
                struct copy *c, const char *subject, json_t *src_list, struct xarch_error **err) {
        for (unsigned attempt = 0; attempt < FALLBACK_TAG_ATTEMPTS; attempt++) {
                struct xarch_blob_buf have = {};
                bool dst_api = false;
                int r = sink_referrers(c->dst, subject, &have, &dst_api, err);
                if (r < 0 || dst_api) {
                        xarch_blob_buf_release(&have);
                        return r < 0 ? r : 0;
                }
                json_error_t jerr;
                json_t *merged = have.data ? json_loadb(have.data, have.len, 0, &jerr) : NULL;
                if (!json_is_array(json_object_get(merged, "manifests"))) {
                        json_decref(merged);
                        merged = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                                        XARCH_MEDIA_OCI_INDEX, "manifests");
                }
                json_t *out = json_object_get(merged, "manifests");
                bool changed = !have.data;
                size_t idx;
                json_t *d;
                json_array_foreach(src_list, idx, d) {
                        const char *dg = json_string_value(json_object_get(d, "digest"));
                        bool present = false;
                        size_t j;
                        json_t *e;
                        json_array_foreach(out, j, e) {
                                const char *eg = json_string_value(json_object_get(e, "digest"));
                                present |= eg && dg && streq(eg, dg);
                        }
                        if (!present) {
                                json_array_append(out, d);
                                changed = true;
                        }
                }
                _cleanup_free_ char *text =
                                changed ? json_dumps(merged, JSON_COMPACT | JSON_PRESERVE_ORDER)
                                        : NULL;
                json_decref(merged);
                /* "" when there was no tag: then it must still be absent */
                char expect[XARCH_DIGEST_MAX];
                snprintf(expect, sizeof(expect), "%s", have.data ? have.digest : "");
                xarch_blob_buf_release(&have);
                if (!changed)
                        return 0;
                if (!text)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                char digest[XARCH_DIGEST_MAX], tag[XARCH_DIGEST_MAX];
                referrers_tag(subject, tag);
                r = sink_put_manifest(
                                c->dst, text, strlen(text), XARCH_MEDIA_OCI_INDEX, digest, err);
                if (r < 0)
                        return r;
                if (sink_transport(c->dst) != XARCH_TRANSPORT_OCI)
                        return sink_set_named_tag(c->dst, tag, digest, XARCH_MEDIA_OCI_INDEX,
                                        strlen(text), err);
                r = sink_set_named_tag_if(c->dst, tag, expect, digest, XARCH_MEDIA_OCI_INDEX,
                                strlen(text), err);
                if (r <= 0)
                        return r;
        }
        return xarch_error_set(err, EAGAIN,
                        "the fallback tag of %s kept moving (another writer); gave up after %u "
                        "attempts",
                        subject, FALLBACK_TAG_ATTEMPTS);
}

/* Most subjects whose referrers are looked up in one copy (referrers of referrers included). */
#define REFERRER_SUBJECTS_MAX 10000

/* For every manifest copied (and, recursively, every referrer copied), what the source's
 * referrers API or fallback tag lists is copied too; the destination gets a fallback-tag index
 * unless it has the referrers API itself. */
static int copy_referrers(struct copy *c, struct xarch_image_context *ctx, unsigned jobs,
                size_t *count, struct xarch_error **err) {
        if (xarch_image_transport(c->src) != XARCH_TRANSPORT_REGISTRY || !c->mount_from)
                return xarch_error_set(err, EINVAL, "--referrers needs a registry source");
        if (sink_transport(c->dst) != XARCH_TRANSPORT_REGISTRY &&
                        sink_transport(c->dst) != XARCH_TRANSPORT_OCI)
                return xarch_error_set(err, EINVAL,
                                "--referrers needs a registry or oci: destination (an archive "
                                "holds one tag)");
        struct xarch_registry *reg = xarch_image_context_registry(ctx, err);
        if (!reg)
                return -EIO;
        int r = 0;
        for (size_t i = 0; i < c->n_seen && i < REFERRER_SUBJECTS_MAX && r >= 0; i++) {
                char subject[XARCH_DIGEST_MAX];
                snprintf(subject, sizeof(subject), "%s", c->seen[i]);
                struct xarch_blob_buf list = {};
                bool api;
                r = registry_referrers(reg, c->mount_from, subject, &list, &api, err);
                if (r < 0 || !list.data) {
                        xarch_blob_buf_release(&list);
                        continue;
                }
                struct xarch_manifest *m = NULL;
                json_error_t jerr;
                json_t *doc = NULL;
                r = xarch_manifest_parse(list.data, list.len, XARCH_MEDIA_OCI_INDEX, &m, err);
                if (r >= 0)
                        doc = json_loadb(list.data, list.len, 0, &jerr);
                json_t *src_list = json_object_get(doc, "manifests");
                if (r >= 0 && json_array_size(src_list) != m->n_manifests)
                        r = xarch_error_set(
                                        err, EBADMSG, "referrers of %s: malformed index", subject);
                for (size_t k = 0; r >= 0 && k < m->n_manifests; k++) {
                        const struct xarch_descriptor *d = &m->manifests[k];
                        struct xarch_blob_buf child = {};
                        r = xarch_image_get_manifest(c->src, d->digest, d->media_type, &child, err);
                        if (r >= 0 && note_seen(c, d->digest) < 0)
                                r = xarch_error_set(err, ENOMEM, "out of memory");
                        if (r >= 0)
                                r = copy_tree(c->src, c->dst, &child,
                                                child.media_type[0] ? child.media_type
                                                                    : d->media_type,
                                                jobs, err);
                        xarch_blob_buf_release(&child);
                        if (r >= 0)
                                (*count)++;
                }
                xarch_manifest_free(m);
                xarch_blob_buf_release(&list);

                /* the destination: nothing to do with the API, else merge the fallback tag */
                if (r >= 0)
                        r = merge_fallback_tag(c, subject, src_list, err);
                json_decref(doc);
        }
        return r < 0 ? r : 0;
}

int copy_tree(struct xarch_image *src, struct sink *dst, struct xarch_blob_buf *manifest,
                const char *media_type, unsigned jobs, struct xarch_error **err) {
        struct copy c = {.src = src, .dst = dst, .jobs = jobs ? jobs : DEFAULT_JOBS};
        struct xarch_ref src_ref;
        if (xarch_image_transport(src) == XARCH_TRANSPORT_REGISTRY &&
                        xarch_ref_parse(xarch_image_name(src), &src_ref, NULL) == 0)
                c.mount_from = &src_ref;
        int r = walk(&c, manifest, media_type, 0, true, err);
        if (r >= 0)
                r = copy_blobs(&c, jobs ? jobs : DEFAULT_JOBS, err);
        if (r >= 0)
                r = put_nodes(&c, jobs ? jobs : DEFAULT_JOBS, err);
        copy_free(&c);
        return r;
}

int xarch_copy(struct xarch_image_context *ctx, const char *src, const char *dst,
                const struct xarch_copy_options *opts, struct xarch_copy_result **ret,
                struct xarch_error **err) {
        static const struct xarch_copy_options defaults = {};
        struct xarch_image *img = NULL;
        struct sink *sink = NULL;
        struct xarch_manifest *rootm = NULL;
        struct xarch_blob_buf root = {};
        struct copy c = {};
        _cleanup_free_ bool *keep = NULL;
        bool synthesized = false;
        int r;

        if (!opts)
                opts = &defaults;
        struct xarch_copy_result *res = calloc(1, sizeof(*res));
        if (!res)
                return xarch_error_set(err, ENOMEM, "out of memory");

        r = xarch_image_open(ctx, src, &img, err);
        if (r < 0)
                goto out;
        r = sink_open(ctx, dst, &sink, err);
        if (r < 0)
                goto out;
        c.src = img;
        c.dst = sink;
        c.jobs = opts->jobs ? opts->jobs : DEFAULT_JOBS;
        struct xarch_ref src_ref;
        if (xarch_image_transport(img) == XARCH_TRANSPORT_REGISTRY &&
                        xarch_ref_parse(xarch_image_name(img), &src_ref, NULL) == 0)
                c.mount_from = &src_ref;

        r = xarch_image_get_root(img, &root, &synthesized, err);
        if (r < 0)
                goto out;
        snprintf(res->source_digest, sizeof(res->source_digest), "%s", root.digest);
        r = xarch_manifest_parse(root.data, root.len, root.media_type, &rootm, err);
        if (r < 0) {
                xarch_error_wrap(err, "%s", xarch_image_name(img));
                goto out;
        }
        const char *root_type = rootm->media_type;
        bool to_docker_archive = sink_transport(sink) == XARCH_TRANSPORT_DOCKER_ARCHIVE;

        if (rootm->kind == XARCH_MANIFEST_INDEX && (opts->n_platforms || to_docker_archive)) {
                if (to_docker_archive && opts->n_platforms != 1) {
                        r = xarch_error_set(err, EINVAL,
                                        "%s is an index and docker-archive holds one image: "
                                        "choose one platform with --platform",
                                        xarch_image_name(img));
                        goto out;
                }
                keep = calloc(rootm->n_manifests ? rootm->n_manifests : 1, sizeof(*keep));
                if (!keep) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto out;
                }
                r = copy_select(&root, rootm, opts->platforms, opts->n_platforms, keep, err);
                if (r < 0) {
                        xarch_error_wrap(err, "%s", xarch_image_name(img));
                        goto out;
                }
                if (to_docker_archive) {
                        /* the one image itself becomes the root: no index, no attestations */
                        const struct xarch_descriptor *pick = NULL;
                        for (size_t i = 0; i < rootm->n_manifests; i++)
                                if (keep[i] && rootm->manifests[i].kind == XARCH_ENTRY_IMAGE) {
                                        if (pick) {
                                                r = xarch_error_set(err, EINVAL,
                                                                "%s holds more than one %s "
                                                                "image",
                                                                xarch_image_name(img), "matching");
                                                goto out;
                                        }
                                        pick = &rootm->manifests[i];
                                }
                        struct xarch_blob_buf child = {};
                        r = xarch_image_get_manifest(
                                        img, pick->digest, pick->media_type, &child, err);
                        if (r < 0)
                                goto out;
                        xarch_blob_buf_release(&root);
                        root = child;
                        if (!root.media_type[0])
                                snprintf(root.media_type, sizeof(root.media_type), "%s",
                                                pick->media_type);
                        xarch_manifest_free(rootm);
                        rootm = NULL;
                        r = xarch_manifest_parse(root.data, root.len, root.media_type, &rootm, err);
                        if (r < 0)
                                goto out;
                        root_type = rootm->media_type;
                        free(keep);
                        keep = NULL;
                } else {
                        /* children first, then the new index over just them */
                        for (size_t i = 0; i < rootm->n_manifests; i++) {
                                if (!keep[i])
                                        continue;
                                const struct xarch_descriptor *d = &rootm->manifests[i];
                                struct xarch_blob_buf child = {};
                                r = xarch_image_get_manifest(
                                                img, d->digest, d->media_type, &child, err);
                                if (r >= 0)
                                        r = walk(&c, &child,
                                                        child.media_type[0] ? child.media_type
                                                                            : d->media_type,
                                                        1, true, err);
                                xarch_blob_buf_release(&child);
                                if (r < 0)
                                        goto out;
                        }
                        char *text;
                        size_t len;
                        r = copy_rewrite_index(&root, keep, rootm->n_manifests, &text, &len, err);
                        if (r < 0)
                                goto out;
                        r = fill_entries(res, rootm, keep);
                        free(root.data);
                        root.data = text;
                        root.len = len;
                        if (r == 0 && xarch_digest_buffer("sha256", text, len, root.digest) < 0)
                                r = -EIO;
                        if (r < 0) {
                                r = xarch_error_set(err, -r, "cannot write the new index");
                                goto out;
                        }
                        res->rewritten = true;
                        r = add_node(&c, root.digest, root_type, steal_ptr(root.data), root.len);
                        if (r < 0) {
                                r = xarch_error_set(err, ENOMEM, "out of memory");
                                goto out;
                        }
                        snprintf(res->digest, sizeof(res->digest), "%s",
                                        c.nodes[c.n_nodes - 1].digest);
                        snprintf(res->media_type, sizeof(res->media_type), "%s", root_type);
                        res->size = c.nodes[c.n_nodes - 1].len;
                }
        }
        if (!res->rewritten) {
                if (rootm->kind == XARCH_MANIFEST_INDEX && fill_entries(res, rootm, NULL) < 0) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto out;
                }
                snprintf(res->digest, sizeof(res->digest), "%s", root.digest);
                snprintf(res->media_type, sizeof(res->media_type), "%s", root_type);
                res->size = root.len;
                /* the root itself is always (re)put so the tag can follow it */
                r = walk(&c, &root, root_type, 0, false, err);
                if (r < 0)
                        goto out;
        }
        (void) synthesized;

        unsigned jobs = opts->jobs ? opts->jobs : DEFAULT_JOBS;
        if (jobs > JOBS_MAX)
                jobs = JOBS_MAX;
        r = copy_blobs(&c, jobs, err);
        if (r < 0)
                goto out;
        /* referrers name the root as their subject: then it goes up by digest before them */
        c.root_by_tag = !opts->referrers && c.n_nodes > 0 &&
                        streq(c.nodes[c.n_nodes - 1].digest, res->digest);
        r = put_nodes(&c, jobs, err);
        if (r < 0)
                goto out;
        if (opts->referrers) {
                r = copy_referrers(&c, ctx, jobs, &res->n_referrers, err);
                if (r < 0) {
                        xarch_error_wrap(err, "referrers");
                        goto out;
                }
        }
        r = sink_set_tag(sink, res->digest, res->media_type, res->size, err);
        if (r < 0)
                xarch_error_wrap(err, "%s %s",
                                xarch_media_type_is_index(res->media_type) ? "index" : "manifest",
                                res->digest);
        if (r >= 0)
                r = sink_commit(sink, err);
        if (r < 0)
                goto out;
        struct sink_stats st;
        sink_get_stats(sink, &st);
        res->manifests_written = st.manifests_written;
        res->manifests_skipped = st.manifests_skipped;
        res->blobs_written = st.blobs_written;
        res->blobs_skipped = st.blobs_skipped;
        res->blobs_mounted = st.blobs_mounted;
        res->bytes_written = st.bytes_written;
        res->uploads_resumed = st.uploads_resumed;
out:
        copy_free(&c);
        xarch_blob_buf_release(&root);
        xarch_manifest_free(rootm);
        sink_free(sink);
        xarch_image_free(img);
        if (r < 0) {
                xarch_copy_result_free(res);
                return r;
        }
        *ret = res;
        return 0;
}
