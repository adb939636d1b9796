/* SPDX-License-Identifier: MIT */
#include "xarch/index.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/copy-internal.h"
#include "build/sink.h"
#include "macro.h"

#define ATTEMPTS_MAX 3
#define DEPTH_MAX    4

struct entry {
        json_t *desc; /* the descriptor as it will be written */
        char digest[XARCH_DIGEST_MAX];
        char media_type[128];
        enum xarch_entry_kind kind;
        bool has_platform;
        struct xarch_platform platform; /* as written */
        struct xarch_platform norm;     /* normalised, for comparisons */
        char os_version[128];
        char ref_digest[XARCH_DIGEST_MAX]; /* attestations: the image described */
        const char *origin;                /* the source it came from, for messages */
        bool drop;
};

struct state {
        struct xarch_image_context *ctx;
        struct sink *sink;
        const struct xarch_index_options *o;
        struct entry *entries;
        size_t n;
};

static void entries_clear(struct state *st) {
        for (size_t i = 0; i < st->n; i++)
                json_decref(st->entries[i].desc);
        free(st->entries);
        st->entries = NULL;
        st->n = 0;
}

static struct entry *entry_new(struct state *st) {
        struct entry *e = realloc(st->entries, (st->n + 1) * sizeof(*e));
        if (!e)
                return NULL;
        st->entries = e;
        e = &e[st->n++];
        *e = (struct entry){};
        return e;
}

static bool have_digest(const struct state *st, const char *digest) {
        for (size_t i = 0; i < st->n; i++)
                if (streq(st->entries[i].digest, digest))
                        return true;
        return false;
}

static void fill_from_descriptor(struct entry *e, const struct xarch_descriptor *d) {
        snprintf(e->digest, sizeof(e->digest), "%s", d->digest);
        snprintf(e->media_type, sizeof(e->media_type), "%s", d->media_type);
        e->kind = d->kind;
        e->has_platform = d->has_platform;
        e->platform = d->platform;
        e->norm = d->platform;
        xarch_platform_normalize(&e->norm);
        snprintf(e->os_version, sizeof(e->os_version), "%s", d->os_version ? d->os_version : "");
        if (d->ref_digest)
                snprintf(e->ref_digest, sizeof(e->ref_digest), "%s", d->ref_digest);
}

static void platform_name(const struct xarch_platform *p, char *buf, size_t size) {
        if (xarch_platform_format(p, buf, size) < 0)
                snprintf(buf, size, "?");
}

static json_t *platform_json(const struct xarch_platform *p, const char *os_version) {
        json_t *j = json_pack("{s:s, s:s}", "architecture", p->arch, "os", p->os);
        if (j && os_version && *os_version)
                json_object_set_new(j, "os.version", json_string(os_version));
        if (j && p->variant[0])
                json_object_set_new(j, "variant", json_string(p->variant));
        return j;
}

/* The config platform of an image manifest (its bytes in m). */
static int config_platform(struct xarch_image *img, const struct xarch_manifest *m,
                struct xarch_platform *ret, char os_version[128], struct xarch_error **err) {
        struct xarch_blob_buf cfg = {};
        struct xarch_image_config *c = NULL;
        int r = xarch_image_get_blob_buf(img, m->config.digest,
                        xarch_descriptor_cap(&m->config, XARCH_CONFIG_MAX), &cfg, err);
        if (r >= 0)
                r = xarch_image_config_parse(cfg.data, cfg.len, &c, err);
        xarch_blob_buf_release(&cfg);
        if (r < 0)
                return r;
        if (!c->platform.os[0] || !c->platform.arch[0]) {
                xarch_image_config_free(c);
                return xarch_error_set(err, EBADMSG, "config %s names no os/architecture",
                                m->config.digest);
        }
        *ret = c->platform;
        snprintf(os_version, 128, "%s", c->os_version ? c->os_version : "");
        xarch_image_config_free(c);
        return 0;
}

/* An image manifest from img: platform from its config, checked against `stated` (an index
 * entry's label or --platform); copied to the sink; its entry added. */
static int add_image(struct state *st, struct xarch_image *img, const char *origin,
                struct xarch_blob_buf *buf, const char *media_type, json_t *desc,
                const struct xarch_platform *stated, const char *stated_os_version,
                struct xarch_error **err) {
        struct xarch_manifest *m = NULL;
        int r = xarch_manifest_parse(buf->data, buf->len, media_type, &m, err);
        if (r < 0)
                return xarch_error_wrap(err, "%s: %s", origin, buf->digest);
        struct xarch_platform cp;
        char cp_osv[128];
        r = config_platform(img, m, &cp, cp_osv, err);
        char mt[128];
        snprintf(mt, sizeof(mt), "%s", m->media_type);
        xarch_manifest_free(m);
        if (r < 0)
                return xarch_error_wrap(err, "%s: %s", origin, buf->digest);

        struct xarch_platform use = cp;
        const char *use_osv = cp_osv;
        if (stated) {
                struct xarch_platform a = *stated, b = cp;
                xarch_platform_normalize(&a);
                xarch_platform_normalize(&b);
                bool osv_differs = stated_os_version && *stated_os_version && *cp_osv &&
                                   !streq(stated_os_version, cp_osv);
                if (!xarch_platform_equal(&a, &b) || osv_differs) {
                        char s1[96], s2[96];
                        platform_name(stated, s1, sizeof(s1));
                        platform_name(&cp, s2, sizeof(s2));
                        if (!st->o->force)
                                return xarch_error_set(err, EINVAL,
                                                "%s: %s is labelled %s but its config says %s "
                                                "(--force keeps the label)",
                                                origin, buf->digest, s1, s2);
                }
                if (st->o->force) {
                        use = *stated;
                        if (stated_os_version)
                                use_osv = stated_os_version;
                }
        }
        if (have_digest(st, buf->digest)) {
                xarch_blob_buf_release(buf);
                return 0;
        }
        struct entry *e = entry_new(st);
        if (!e)
                return xarch_error_set(err, ENOMEM, "out of memory");
        snprintf(e->digest, sizeof(e->digest), "%s", buf->digest);
        snprintf(e->media_type, sizeof(e->media_type), "%s", mt);
        e->kind = XARCH_ENTRY_IMAGE;
        e->has_platform = true;
        e->platform = use;
        e->norm = use;
        xarch_platform_normalize(&e->norm);
        snprintf(e->os_version, sizeof(e->os_version), "%s", use_osv ? use_osv : "");
        e->origin = origin;
        if (desc)
                e->desc = json_incref(desc);
        else
                e->desc = json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", buf->digest,
                                "size", (json_int_t) buf->len);
        if (!e->desc)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (!json_object_get(e->desc, "platform")) /* a label given stays as written */
                json_object_set_new(e->desc, "platform", platform_json(&use, use_osv));
        return copy_tree(img, st->sink, buf, mt, st->o->jobs, err);
}

/* The entries of an index source, nested indexes flattened. */
static int add_index(struct state *st, struct xarch_image *img, const char *origin,
                struct xarch_blob_buf *buf, const char *media_type, int depth,
                struct xarch_error **err) {
        if (depth > DEPTH_MAX)
                return xarch_error_set(err, ELOOP, "%s: indexes nested too deep", origin);
        struct xarch_manifest *m = NULL;
        json_error_t jerr;
        int r = xarch_manifest_parse(buf->data, buf->len, media_type, &m, err);
        if (r < 0)
                return xarch_error_wrap(err, "%s", origin);
        json_t *doc = json_loadb(buf->data, buf->len, 0, &jerr);
        json_t *list = json_object_get(doc, "manifests");
        if (json_array_size(list) != m->n_manifests) {
                xarch_manifest_free(m);
                json_decref(doc);
                return xarch_error_set(err, EBADMSG, "%s: cannot re-read the index", origin);
        }
        for (size_t i = 0; i < m->n_manifests && r >= 0; i++) {
                const struct xarch_descriptor *d = &m->manifests[i];
                json_t *dj = json_deep_copy(json_array_get(list, i));
                struct xarch_blob_buf child = {};
                bool is_manifest = !d->media_type[0] || xarch_media_type_is_manifest(d->media_type);
                if (is_manifest)
                        r = xarch_image_get_manifest(img, d->digest, d->media_type, &child, err);
                const char *cmt = child.media_type[0] ? child.media_type : d->media_type;
                if (r < 0) {
                        xarch_error_wrap(err, "%s", origin);
                } else if (d->kind == XARCH_ENTRY_INDEX) {
                        r = add_index(st, img, origin, &child, cmt, depth + 1, err);
                } else if (d->kind == XARCH_ENTRY_IMAGE) {
                        r = add_image(st, img, origin, &child, cmt, dj,
                                        d->has_platform ? &d->platform : NULL, d->os_version, err);
                } else if (!have_digest(st, d->digest)) {
                        /* attestations, artifacts, unknown entries: carried as they are */
                        struct entry *e = entry_new(st);
                        if (!e) {
                                r = xarch_error_set(err, ENOMEM, "out of memory");
                        } else {
                                fill_from_descriptor(e, d);
                                e->origin = origin;
                                e->desc = json_incref(dj);
                                if (is_manifest)
                                        r = copy_tree(img, st->sink, &child, cmt, st->o->jobs, err);
                        }
                }
                xarch_blob_buf_release(&child);
                json_decref(dj);
        }
        xarch_manifest_free(m);
        json_decref(doc);
        return r;
}

static int add_source(struct state *st, const char *spec, struct xarch_error **err) {
        struct xarch_image *img = NULL;
        struct xarch_blob_buf root = {};
        int r = xarch_image_open(st->ctx, spec, &img, err);
        if (r >= 0)
                r = xarch_image_get_root(img, &root, NULL, err);
        if (r < 0) {
                xarch_image_free(img);
                return r;
        }
        if (xarch_media_type_is_index(root.media_type)) {
                if (st->o->platform) {
                        r = xarch_error_set(err, EINVAL,
                                        "%s is an index: --platform labels single images only",
                                        spec);
                } else
                        r = add_index(st, img, spec, &root, root.media_type, 0, err);
        } else
                r = add_image(st, img, spec, &root, root.media_type, NULL, st->o->platform, NULL,
                                err);
        xarch_blob_buf_release(&root);
        xarch_image_free(img);
        return r;
}

/* ---- selection, checks, order ---- */

static bool selected(const struct state *st, const struct entry *e) {
        if (st->o->digest)
                return streq(e->digest, st->o->digest);
        if (st->o->platform && e->kind == XARCH_ENTRY_IMAGE && e->has_platform) {
                struct xarch_platform p = *st->o->platform;
                xarch_platform_normalize(&p);
                return xarch_platform_equal(&p, &e->norm);
        }
        return false;
}

/* Attestations of dropped images go too. */
static void drop_orphans(struct state *st) {
        for (size_t i = 0; i < st->n; i++) {
                struct entry *a = &st->entries[i];
                if (a->kind != XARCH_ENTRY_ATTESTATION || !a->ref_digest[0])
                        continue;
                for (size_t j = 0; j < st->n; j++)
                        if (st->entries[j].drop && streq(st->entries[j].digest, a->ref_digest))
                                a->drop = true;
        }
}

static int check_duplicates(const struct state *st, struct xarch_error **err) {
        for (size_t i = 0; i < st->n; i++) {
                const struct entry *a = &st->entries[i];
                if (a->drop || a->kind != XARCH_ENTRY_IMAGE || !a->has_platform)
                        continue;
                for (size_t j = i + 1; j < st->n; j++) {
                        const struct entry *b = &st->entries[j];
                        if (b->drop || b->kind != XARCH_ENTRY_IMAGE || !b->has_platform ||
                                        !xarch_platform_equal(&a->norm, &b->norm) ||
                                        !streq(a->os_version, b->os_version))
                                continue;
                        char p[96];
                        platform_name(&a->platform, p, sizeof(p));
                        return xarch_error_set(err, EEXIST,
                                        "two images for %s: %s (%s) and %s (%s); remove one "
                                        "first",
                                        p, a->digest, a->origin ? a->origin : "the index",
                                        b->digest, b->origin ? b->origin : "the index");
                }
        }
        return 0;
}

static int cmp_str(const char *a, const char *b) {
        return strcmp(a ? a : "", b ? b : "");
}

static int image_rank(const struct entry *e) {
        return e->kind == XARCH_ENTRY_IMAGE ? 0 : e->kind == XARCH_ENTRY_ATTESTATION ? 1 : 2;
}

static int cmp_images(const struct entry *a, const struct entry *b) {
        int c;
        if ((c = cmp_str(a->platform.os, b->platform.os)) ||
                        (c = cmp_str(a->norm.arch, b->norm.arch)) ||
                        (c = cmp_str(a->norm.variant, b->norm.variant)) ||
                        (c = cmp_str(a->os_version, b->os_version)))
                return c;
        return strcmp(a->digest, b->digest);
}

/* The sorted position of the image an attestation describes (or a large number). */
static size_t target_of(const struct entry *a, const struct entry *all, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (all[i].kind == XARCH_ENTRY_IMAGE && streq(all[i].digest, a->ref_digest)) {
                        size_t pos = 0;
                        for (size_t j = 0; j < n; j++)
                                if (all[j].kind == XARCH_ENTRY_IMAGE &&
                                                cmp_images(&all[j], &all[i]) < 0)
                                        pos++;
                        return pos;
                }
        return SIZE_MAX;
}

static int cmp_entries(const void *pa, const void *pb) {
        const struct entry *a = pa, *b = pb;
        int ra = image_rank(a), rb = image_rank(b);
        if (ra != rb)
                return ra - rb;
        if (ra == 0)
                return cmp_images(a, b);
        return strcmp(a->digest, b->digest);
}

static int sort_entries(struct state *st) {
        /* drop the dropped, then images canonically, attestations by their image */
        size_t k = 0;
        for (size_t i = 0; i < st->n; i++) {
                if (st->entries[i].drop)
                        json_decref(st->entries[i].desc);
                else
                        st->entries[k++] = st->entries[i];
        }
        st->n = k;
        qsort(st->entries, st->n, sizeof(*st->entries), cmp_entries);
        /* attestations: stable by their image's position (insertion sort; lists are short) */
        size_t first = 0;
        while (first < st->n && st->entries[first].kind == XARCH_ENTRY_IMAGE)
                first++;
        for (size_t i = first + 1; i < st->n; i++) {
                struct entry e = st->entries[i];
                if (e.kind != XARCH_ENTRY_ATTESTATION)
                        continue;
                size_t t = target_of(&e, st->entries, st->n);
                size_t j = i;
                while (j > first && st->entries[j - 1].kind == XARCH_ENTRY_ATTESTATION &&
                                target_of(&st->entries[j - 1], st->entries, st->n) > t) {
                        st->entries[j] = st->entries[j - 1];
                        j--;
                }
                st->entries[j] = e;
        }
        return 0;
}

static bool is_docker_manifest(const char *mt) {
        return streq(mt, XARCH_MEDIA_DOCKER_MANIFEST) || streq(mt, XARCH_MEDIA_DOCKER_LIST);
}

static int set_annotations(
                json_t *obj, const struct xarch_index_options *o, struct xarch_error **err) {
        if (!o->n_annotations)
                return 0;
        json_t *ann = json_object_get(obj, "annotations");
        if (!json_is_object(ann)) {
                ann = json_object();
                json_object_set_new(obj, "annotations", ann);
        }
        for (size_t i = 0; i < o->n_annotations; i++) {
                const char *eq = strchr(o->annotations[i], '=');
                if (!eq || eq == o->annotations[i])
                        return xarch_error_set(err, EINVAL, "annotation '%s' is not KEY=VALUE",
                                        o->annotations[i]);
                char key[256];
                snprintf(key, sizeof(key), "%.*s", (int) (eq - o->annotations[i]),
                                o->annotations[i]);
                if (eq[1])
                        json_object_set_new(ann, key, json_string(eq + 1));
                else
                        json_object_del(ann, key); /* KEY= removes it */
        }
        if (json_object_size(ann) == 0)
                json_object_del(obj, "annotations");
        return 0;
}

/* ---- the edit ---- */

void xarch_index_result_free(struct xarch_index_result *r) {
        if (!r)
                return;
        free(r->entries);
        free(r);
}

/* The destination's current index: its bytes and parsed form; -ENOENT when there is none. */
static int read_dest(struct state *st, const char *dest, struct xarch_blob_buf *root,
                struct xarch_error **err) {
        struct xarch_image *img = NULL;
        int r = xarch_image_open(st->ctx, dest, &img, err);
        if (r >= 0)
                r = xarch_image_get_root(img, root, NULL, err);
        xarch_image_free(img);
        return r;
}

static int load_base(struct state *st, struct xarch_blob_buf *root, json_t **ret_doc,
                struct xarch_error **err) {
        struct xarch_manifest *m = NULL;
        json_error_t jerr;
        int r = xarch_manifest_parse(root->data, root->len, root->media_type, &m, err);
        if (r < 0)
                return r;
        if (m->kind != XARCH_MANIFEST_INDEX) {
                xarch_manifest_free(m);
                return xarch_error_set(
                                err, EINVAL, "%s is an image, not an index", sink_name(st->sink));
        }
        json_t *doc = json_loadb(root->data, root->len, 0, &jerr);
        json_t *list = json_object_get(doc, "manifests");
        if (json_array_size(list) != m->n_manifests) {
                xarch_manifest_free(m);
                json_decref(doc);
                return xarch_error_set(err, EBADMSG, "cannot re-read the index");
        }
        for (size_t i = 0; i < m->n_manifests; i++) {
                struct entry *e = entry_new(st);
                if (!e) {
                        xarch_manifest_free(m);
                        json_decref(doc);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                fill_from_descriptor(e, &m->manifests[i]);
                e->desc = json_incref(json_array_get(list, i));
        }
        xarch_manifest_free(m);
        *ret_doc = doc;
        return 0;
}

static int edit_once(struct state *st, const char *dest, struct xarch_index_result *res,
                bool *retry, struct xarch_error **err) {
        const struct xarch_index_options *o = st->o;
        struct xarch_blob_buf base = {};
        json_t *base_doc = NULL;
        char base_digest[XARCH_DIGEST_MAX] = "";
        char media_type[128];
        _cleanup_free_ char *text = NULL;
        int r = 0;

        *retry = false;
        snprintf(media_type, sizeof(media_type), "%s", XARCH_MEDIA_OCI_INDEX);
        if (o->op != XARCH_INDEX_CREATE) {
                r = read_dest(st, dest, &base, err);
                if (r < 0)
                        return r == -ENOENT ? xarch_error_wrap(err, "no index to edit (create "
                                                                    "one first)")
                                            : r;
                snprintf(base_digest, sizeof(base_digest), "%s", base.digest);
                r = load_base(st, &base, &base_doc, err);
                if (r < 0)
                        goto out;
                const char *bmt = json_string_value(json_object_get(base_doc, "mediaType"));
                if (bmt && streq(bmt, XARCH_MEDIA_DOCKER_LIST))
                        snprintf(media_type, sizeof(media_type), "%s", XARCH_MEDIA_DOCKER_LIST);
        }
        if (o->docker_format)
                snprintf(media_type, sizeof(media_type), "%s", XARCH_MEDIA_DOCKER_LIST);
        if (o->oci_format)
                snprintf(media_type, sizeof(media_type), "%s", XARCH_MEDIA_OCI_INDEX);

        json_t *doc = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", media_type,
                        "manifests");
        if (!doc) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        json_t *base_ann = json_object_get(base_doc, "annotations");
        if (json_is_object(base_ann))
                json_object_set(doc, "annotations", base_ann);

        switch (o->op) {
        case XARCH_INDEX_CREATE:
        case XARCH_INDEX_ADD:
                for (size_t i = 0; i < o->n_sources && r >= 0; i++)
                        r = add_source(st, o->sources[i], err);
                if (r >= 0)
                        r = set_annotations(doc, o, err);
                break;
        case XARCH_INDEX_REMOVE: {
                size_t hits = 0;
                for (size_t i = 0; i < st->n; i++)
                        if (selected(st, &st->entries[i])) {
                                st->entries[i].drop = true;
                                hits++;
                        }
                if (!hits) {
                        char p[96] = "";
                        if (o->platform)
                                platform_name(o->platform, p, sizeof(p));
                        r = xarch_error_set(err, ENOENT, "%s has no entry %s", sink_name(st->sink),
                                        o->digest ? o->digest : p);
                }
                drop_orphans(st);
                break;
        }
        case XARCH_INDEX_ANNOTATE:
                if (o->platform || o->digest) {
                        size_t hits = 0;
                        for (size_t i = 0; i < st->n && r >= 0; i++)
                                if (selected(st, &st->entries[i])) {
                                        hits++;
                                        json_t *copy = json_deep_copy(st->entries[i].desc);
                                        json_decref(st->entries[i].desc);
                                        st->entries[i].desc = copy;
                                        r = copy ? set_annotations(copy, o, err)
                                                 : xarch_error_set(err, ENOMEM, "out of memory");
                                }
                        if (r >= 0 && !hits)
                                r = xarch_error_set(err, ENOENT, "%s has no such entry",
                                                sink_name(st->sink));
                } else
                        r = set_annotations(doc, o, err);
                break;
        }
        if (r >= 0)
                r = check_duplicates(st, err);
        if (r < 0) {
                json_decref(doc);
                goto out;
        }
        sort_entries(st);

        bool docker = streq(media_type, XARCH_MEDIA_DOCKER_LIST);
        json_t *list = json_object_get(doc, "manifests");
        for (size_t i = 0; i < st->n && r >= 0; i++) {
                const struct entry *e = &st->entries[i];
                if (docker && !is_docker_manifest(e->media_type))
                        r = xarch_error_set(err, EINVAL,
                                        "a Docker manifest list cannot hold %s (%s%s%s); use an "
                                        "OCI index",
                                        e->digest, e->media_type,
                                        e->kind == XARCH_ENTRY_ATTESTATION ? ", an attestation"
                                                                           : "",
                                        "");
                else
                        json_array_append(list, e->desc);
        }
        if (r >= 0 && docker && json_object_get(doc, "annotations"))
                r = xarch_error_set(err, EINVAL, "a Docker manifest list has no annotations");
        if (r >= 0 && !(text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                r = xarch_error_set(err, ENOMEM, "out of memory");
        json_decref(doc);
        if (r < 0)
                goto out;

        size_t len = strlen(text);
        r = sink_put_root(st->sink, text, len, media_type, res->digest, err);
        if (r < 0)
                goto out;
        bool oci = sink_transport(st->sink) == XARCH_TRANSPORT_OCI;
        if (base_digest[0] && !oci) {
                /* optimistic concurrency: the tag must still be what we edited (re-read just
                 * before the PUT; a registry has no conditional PUT) */
                struct xarch_blob_buf now = {};
                struct xarch_error *e = NULL;
                int rr = read_dest(st, dest, &now, &e);
                bool moved = rr < 0 || !streq(now.digest, base_digest);
                xarch_blob_buf_release(&now);
                xarch_error_free(e);
                if (moved) {
                        *retry = true;
                        goto out;
                }
        }
        if (base_digest[0] && oci) {
                /* an oci: layout checks and moves the tag under its lock, in one step */
                r = sink_set_tag_if(st->sink, base_digest, res->digest, media_type, len, err);
                if (r > 0) {
                        *retry = true;
                        r = 0;
                        goto out;
                }
        } else
                r = sink_set_tag(st->sink, res->digest, media_type, len, err);
        if (r >= 0)
                r = sink_commit(st->sink, err);
        if (r >= 0) {
                snprintf(res->media_type, sizeof(res->media_type), "%s", media_type);
                res->size = len;
                res->entries = calloc(st->n ? st->n : 1, sizeof(*res->entries));
                if (!res->entries) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto out;
                }
                for (size_t i = 0; i < st->n; i++) {
                        struct xarch_copy_entry *ce = &res->entries[res->n_entries++];
                        const struct entry *e = &st->entries[i];
                        snprintf(ce->digest, sizeof(ce->digest), "%s", e->digest);
                        snprintf(ce->media_type, sizeof(ce->media_type), "%s", e->media_type);
                        ce->has_platform = e->has_platform;
                        ce->platform = e->platform;
                        ce->attestation = e->kind == XARCH_ENTRY_ATTESTATION ||
                                          e->kind == XARCH_ENTRY_ARTIFACT;
                }
        }
out:
        json_decref(base_doc);
        xarch_blob_buf_release(&base);
        return r;
}

int xarch_index_edit(struct xarch_image_context *ctx, const char *dest,
                const struct xarch_index_options *opts, struct xarch_index_result **ret,
                struct xarch_error **err) {
        if ((opts->op == XARCH_INDEX_CREATE || opts->op == XARCH_INDEX_ADD) && !opts->n_sources)
                return xarch_error_set(err, EINVAL, "no source given");
        if (opts->op == XARCH_INDEX_REMOVE && !opts->platform && !opts->digest)
                return xarch_error_set(err, EINVAL, "remove needs --platform or --digest");
        if (opts->docker_format && opts->oci_format)
                return xarch_error_set(err, EINVAL, "one format only");
        struct xarch_index_result *res = calloc(1, sizeof(*res));
        if (!res)
                return xarch_error_set(err, ENOMEM, "out of memory");
        struct state st = {.ctx = ctx, .o = opts};
        int r = sink_open(ctx, dest, &st.sink, err);
        if (r >= 0 && opts->op != XARCH_INDEX_CREATE &&
                        sink_transport(st.sink) != XARCH_TRANSPORT_REGISTRY &&
                        sink_transport(st.sink) != XARCH_TRANSPORT_OCI)
                r = xarch_error_set(err, EINVAL,
                                "%s: archives are written whole; edit a registry or an oci: "
                                "layout",
                                dest);
        if (r >= 0 && sink_transport(st.sink) == XARCH_TRANSPORT_DOCKER_ARCHIVE)
                r = xarch_error_set(err, EINVAL, "docker-archive holds one image, not an index");
        for (unsigned attempt = 1; r >= 0; attempt++) {
                bool retry = false;
                res->attempts = attempt;
                entries_clear(&st);
                r = edit_once(&st, dest, res, &retry, err);
                if (r < 0 || !retry)
                        break;
                if (attempt >= ATTEMPTS_MAX) {
                        r = xarch_error_set(err, EAGAIN,
                                        "%s kept changing while it was edited (%u attempts)", dest,
                                        attempt);
                        break;
                }
        }
        entries_clear(&st);
        sink_free(st.sink);
        if (r < 0) {
                xarch_index_result_free(res);
                return r;
        }
        *ret = res;
        return 0;
}
