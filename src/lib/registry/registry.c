/* SPDX-License-Identifier: MIT */
/*
 * The registry client's public API (include/xarch/registry.h): its lifecycle and the pull-side
 * calls (manifests, blobs), which verify every byte and use the content-addressed cache. The
 * wire is elsewhere: request.c (auth, retries, redirects) over transport.c (http1.c, libcurl);
 * client.h describes how the files fit together.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/membuf.h"
#include "macro.h"
#include "registry/auth.h"
#include "registry/cache.h"
#include "registry/client.h"
#include "registry/http1.h"
#include "registry/registry.h"
#include "registry/request.h"
#include "registry/secrets.h"
#include "registry/transport.h"
#include "xarch/registry.h"

#define BLOB_BUF_DEFAULT_MAX (8u * 1024 * 1024)
#define DEFAULT_PER_REGISTRY 6
#define DEFAULT_RETRIES      4

void registry_media_type_from_body(const char *body, size_t len, char out[256]) {
        json_error_t jerr;
        out[0] = '\0';
        json_t *root = json_loadb(body, len, 0, &jerr);
        if (!json_is_object(root)) {
                json_decref(root);
                return;
        }
        const char *mt = json_string_value(json_object_get(root, "mediaType"));
        if (mt && strlen(mt) < 256)
                snprintf(out, 256, "%s", mt);
        else if (json_is_array(json_object_get(root, "manifests")))
                snprintf(out, 256, "application/vnd.oci.image.index.v1+json");
        else if (json_is_array(json_object_get(root, "layers")))
                snprintf(out, 256, "application/vnd.oci.image.manifest.v1+json");
        json_decref(root);
}

/* Host part of a URL, for the plain-HTTP policy. */

/* ---- client lifecycle ---- */

static int dup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int xarch_registry_new(const struct xarch_registry_options *opts, struct xarch_registry **ret,
                struct xarch_error **err) {
        static const struct xarch_registry_options defaults = {};
        if (!opts)
                opts = &defaults;
        struct xarch_registry *r = calloc(1, sizeof(*r));
        if (!r)
                return xarch_error_set(err, ENOMEM, "out of memory");
        pthread_mutex_init(&r->lock, NULL);
        secrets_init(&r->secrets);
        transport_init(r);
        r->insecure = opts->insecure;
        r->max_per_registry =
                        opts->max_per_registry ? opts->max_per_registry : DEFAULT_PER_REGISTRY;
        r->max_retries = opts->no_retry ? 0
                                        : (opts->max_retries ? opts->max_retries : DEFAULT_RETRIES);
        r->backoff_base_ms = 250;
        /* test knob: hostile-server tests retry a lot and should not sleep for seconds */
        const char *base = getenv("XARCH_RETRY_BASE_MS");
        if (base && *base) {
                long v = strtol(base, NULL, 10);
                if (v >= 0 && v <= 10000)
                        r->backoff_base_ms = (unsigned) v;
        }

        int e = dup_opt(opts->ca_file, &r->ca_file);
        if (e == 0)
                e = dup_opt(opts->auth_file, &r->auth_file);
        if (e == 0)
                e = cache_dir_resolve(opts->cache_dir, &r->cache_dir);
        if (e == 0) {
                if (opts->user_agent)
                        e = dup_opt(opts->user_agent, &r->user_agent);
                else if (asprintf(&r->user_agent, "xarch/%s", XARCH_VERSION) < 0)
                        e = -ENOMEM;
        }
        if (e < 0) {
                xarch_registry_free(r);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        if (r->ca_file && access(r->ca_file, R_OK) < 0) {
                int saved = errno;
                xarch_error_set(err, saved, "cannot read CA file '%s': %s", opts->ca_file,
                                strerror(saved));
                xarch_registry_free(r);
                return -saved;
        }

        *ret = r;
        return 0;
}

void xarch_registry_free(struct xarch_registry *r) {
        if (!r)
                return;
        transport_free(r);
        for (struct host_state *h = r->hosts, *next; h; h = next) {
                next = h->next;
                pthread_cond_destroy(&h->slot_free);
                free(h);
        }
        for (struct token_entry *t = r->tokens, *next; t; t = next) {
                next = t->next;
                free(t->key);
                explicit_bzero(t->token, strlen(t->token));
                free(t->token);
                free(t);
        }
        for (struct cred_entry *c = r->creds, *next; c; c = next) {
                next = c->next;
                auth_credentials_wipe(&c->creds);
                free(c);
        }
        pthread_mutex_destroy(&r->lock);
        secrets_free(&r->secrets);
        free(r->ca_file);
        free(r->auth_file);
        free(r->cache_dir);
        free(r->user_agent);
        free(r);
}

void xarch_registry_get_stats(struct xarch_registry *r, struct xarch_registry_stats *ret) {
        ret->requests = atomic_load(&r->n_requests);
        ret->token_requests = atomic_load(&r->n_token_requests);
        ret->retries = atomic_load(&r->n_retries);
        ret->cache_hits = atomic_load(&r->n_cache_hits);
        ret->connections = atomic_load(&r->n_connections);
        ret->bytes = atomic_load(&r->n_bytes);
        ret->http2_requests = atomic_load(&r->n_http2);
}

void xarch_blob_buf_release(struct xarch_blob_buf *b) {
        if (!b)
                return;
        free(b->data);
        memset(b, 0, sizeof(*b));
}

/* ---- manifests ---- */

static bool media_type_is_generic(const char *mt) {
        return !*mt || streq(mt, "application/json") || streq(mt, "text/plain") ||
               streq(mt, "application/octet-stream");
}

/* Whether a media type is a plain type/subtype token (RFC 6838 characters): anything else in a
 * Content-Type (control bytes, spaces, an echoed secret) is not passed on. */
static bool media_type_clean(struct xarch_registry *r, const char *mt) {
        size_t n = strlen(mt);
        if (n == 0 || n > 255 || !strchr(mt, '/'))
                return false;
        for (const char *p = mt; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                    (*p >= '0' && *p <= '9') || strchr("!#$&^_.+-/", *p)))
                        return false;
        return !secrets_in(&r->secrets, mt, n);
}

/* A clean, specific Content-Type is passed on (manifest.c checks it against the document and
 * reports a contradiction); one with control bytes, spaces or an echoed secret never is: then
 * the document's own mediaType, or a guess from its shape. */
static void manifest_media_type(
                struct xarch_registry *r, const char *content_type, struct xarch_blob_buf *b) {
        if (!media_type_is_generic(content_type) && media_type_clean(r, content_type))
                snprintf(b->media_type, sizeof(b->media_type), "%s", content_type);
        else
                registry_media_type_from_body(b->data, b->len, b->media_type);
}

/* GET manifests/<reference> over the network; verifies, fills ret. */
static int manifest_fetch(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *reference, bool by_digest, struct xarch_blob_buf *ret,
                struct xarch_error **err) {
        _cleanup_free_ struct http_req *q = calloc(1, sizeof(*q));
        if (!q)
                return xarch_error_set(err, ENOMEM, "out of memory");
        struct membuf body = {.max = XARCH_MANIFEST_MAX};
        char path[XARCH_REF_TAG_MAX + XARCH_DIGEST_MAX + 16];
        char what[XARCH_DIGEST_MAX + 32];
        snprintf(path, sizeof(path), "manifests/%s", reference);
        snprintf(what, sizeof(what), "manifest '%s'", reference);
        q->method = "GET";
        q->accept = XARCH_REGISTRY_MANIFEST_ACCEPT;
        q->max_total = XARCH_MANIFEST_MAX;
        q->on_body = membuf_append;
        q->ud = &body;
        bool sent = false;
        int rc = registry_request(r, ref, path, q, 0, &sent, err);
        if (rc < 0) {
                if (q->abort_code)
                        rc = fail_abort(q, what, ref, XARCH_MANIFEST_MAX, err);
                free(body.data);
                return rc;
        }
        if (!status_ok(q->status)) {
                free(body.data);
                return status_error(q, ref, what, sent, err);
        }
        if (!body.data && membuf_append(&body, "", 0) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (!body.data) {
                body.data = strdup("");
                if (!body.data)
                        return xarch_error_set(err, ENOMEM, "out of memory");
        }

        const char *expected = by_digest ? reference
                                         : (xarch_digest_valid(q->docker_digest) ? q->docker_digest
                                                                                 : NULL);
        char computed[XARCH_DIGEST_MAX];
        if (xarch_digest_buffer(expected, body.data, body.len, computed) < 0) {
                free(body.data);
                return xarch_error_set(err, EIO, "cannot hash the manifest");
        }
        if (expected && !streq(expected, computed)) {
                free(body.data);
                if (!by_digest)
                        return xarch_error_set(err, EBADMSG,
                                        "digest mismatch: registry '%s' labels %s in '%s' as %s "
                                        "(Docker-Content-Digest), but the manifest it serves is "
                                        "%s",
                                        ref->registry, what, ref->repository, expected, computed);
                return xarch_error_set(err, EBADMSG,
                                "digest mismatch: %s from '%s/%s' should be %s but is %s", what,
                                ref->registry, ref->repository, expected, computed);
        }
        if (by_digest && *q->docker_digest && xarch_digest_valid(q->docker_digest) &&
                        !streq(q->docker_digest, reference)) {
                free(body.data);
                return xarch_error_set(err, EBADMSG,
                                "digest mismatch: registry '%s' labelled %s as %s", ref->registry,
                                what, q->docker_digest);
        }

        if (secrets_in_json(&r->secrets, body.data, body.len)) {
                free(body.data);
                return xarch_error_set(err, EBADMSG,
                                "%s from '%s/%s' holds a credential that was sent to the registry "
                                "(an echo); refused, not cached",
                                what, ref->registry, ref->repository);
        }

        memset(ret, 0, sizeof(*ret));
        ret->data = body.data;
        ret->len = body.len;
        snprintf(ret->digest, sizeof(ret->digest), "%s", computed);
        manifest_media_type(r, q->content_type, ret);
        if (r->cache_dir)
                (void) cache_write(r->cache_dir, computed, ret->data, ret->len);
        return 0;
}

bool registry_cache_has(struct xarch_registry *r, const char *digest) {
        char path[PATH_MAX];
        return r->cache_dir && cache_entry_path(r->cache_dir, digest, path, sizeof(path)) >= 0 &&
               access(path, R_OK) == 0;
}

static int manifest_from_cache(
                struct xarch_registry *r, const char *digest, struct xarch_blob_buf *ret) {
        char *data = NULL;
        size_t len = 0;
        if (!r->cache_dir || cache_read(r->cache_dir, digest, XARCH_MANIFEST_MAX, &data, &len) < 0)
                return -ENOENT;
        memset(ret, 0, sizeof(*ret));
        ret->data = data;
        ret->len = len;
        snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
        registry_media_type_from_body(data, len, ret->media_type);
        atomic_fetch_add(&r->n_cache_hits, 1);
        return 0;
}

static bool looks_like_digest(const char *s) {
        return strchr(s, ':') != NULL;
}

/* HEAD manifests/<reference>. Returns 0 with q filled (status may be non-2xx), <0 on failure. */
static int manifest_head(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *reference, struct http_req *q, bool *sent, struct xarch_error **err) {
        char path[XARCH_REF_TAG_MAX + XARCH_DIGEST_MAX + 16];
        snprintf(path, sizeof(path), "manifests/%s", reference);
        q->method = "HEAD";
        q->accept = XARCH_REGISTRY_MANIFEST_ACCEPT;
        return registry_request(r, ref, path, q, 0, sent, err);
}

/* HEADs a manifest. Only transport failures (unreachable, TLS) are returned, since a GET would
 * fail the same way; any other failure returns 0 with q->status telling, because a GET shows
 * the registry's error body better than a HEAD can. */
static int manifest_head_checked(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *reference, struct http_req *q, struct xarch_error **err) {
        struct xarch_error *head_err = NULL;
        bool sent = false;
        int rc = manifest_head(r, ref, reference, q, &sent, &head_err);
        if (rc == -EHOSTUNREACH || rc == -EPROTO) {
                if (err && !*err)
                        *err = head_err;
                else
                        xarch_error_free(head_err);
                return rc;
        }
        xarch_error_free(head_err);
        return rc < 0 ? 1 : 0;
}

static int registry_get_manifest_impl(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *reference, struct xarch_blob_buf *ret, struct xarch_error **err) {
        if (!r || !ref || !ret)
                return xarch_error_set(err, EINVAL, "invalid argument");
        if (!reference)
                reference = xarch_ref_reference(ref);
        bool by_digest = looks_like_digest(reference);
        if (by_digest && !xarch_digest_valid(reference))
                return xarch_error_set(err, EINVAL, "invalid digest '%s'", reference);
        if (!by_digest && !*reference)
                return xarch_error_set(err, EINVAL, "no tag or digest to fetch");

        if (by_digest)
                return manifest_from_cache(r, reference, ret) == 0
                                       ? 0
                                       : manifest_fetch(r, ref, reference, true, ret, err);

        if (r->cache_dir) {
                /* A HEAD (free on Docker Hub) resolves the tag; the cache may then have it. */
                _cleanup_free_ struct http_req *q = calloc(1, sizeof(*q));
                if (!q)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                int rc = manifest_head_checked(r, ref, reference, q, err);
                if (rc < 0)
                        return rc;
                if (rc == 0 && status_ok(q->status) && xarch_digest_valid(q->docker_digest)) {
                        if (manifest_from_cache(r, q->docker_digest, ret) == 0)
                                return 0;
                        /* fetch by digest: the tag may move between HEAD and GET */
                        struct xarch_error *by_digest_err = NULL;
                        rc = manifest_fetch(r, ref, q->docker_digest, true, ret, &by_digest_err);
                        if (rc != -ENOENT) {
                                if (err && !*err)
                                        *err = by_digest_err;
                                else
                                        xarch_error_free(by_digest_err);
                                return rc;
                        }
                        /* The digest the registry named is unknown to it: a wrong
                         * Docker-Content-Digest (or the tag moved). A GET by tag says which. */
                        xarch_error_free(by_digest_err);
                }
                /* errors and registries without Docker-Content-Digest: a GET tells more */
        }
        return manifest_fetch(r, ref, reference, false, ret, err);
}

static int registry_resolve_impl(struct xarch_registry *r, const struct xarch_ref *ref,
                char digest[XARCH_DIGEST_MAX], char media_type[256], struct xarch_error **err) {
        if (!r || !ref || !digest)
                return xarch_error_set(err, EINVAL, "invalid argument");
        const char *reference = xarch_ref_reference(ref);
        _cleanup_free_ struct http_req *q = calloc(1, sizeof(*q));
        if (!q)
                return xarch_error_set(err, ENOMEM, "out of memory");
        int rc = manifest_head_checked(r, ref, reference, q, err);
        if (rc < 0)
                return rc;
        if (rc == 0 && status_ok(q->status) && xarch_digest_valid(q->docker_digest) &&
                        (!looks_like_digest(reference) || streq(reference, q->docker_digest))) {
                snprintf(digest, XARCH_DIGEST_MAX, "%s", q->docker_digest);
                if (media_type)
                        snprintf(media_type, 256, "%s",
                                        media_type_clean(r, q->content_type) ? q->content_type
                                                                             : "");
                return 0;
        }
        /* No digest header (or an error, whose body a GET will show): fetch and hash. */
        struct xarch_blob_buf b = {};
        rc = manifest_fetch(r, ref, reference, looks_like_digest(reference), &b, err);
        if (rc < 0)
                return rc;
        snprintf(digest, XARCH_DIGEST_MAX, "%s", b.digest);
        if (media_type)
                snprintf(media_type, 256, "%s", b.media_type);
        xarch_blob_buf_release(&b);
        return 0;
}

/* ---- blobs ---- */

struct blob_stream {
        struct xarch_registry *r;
        struct secret_scan scan;
        struct xarch_digester *digester;
        struct cache_writer cache;
        bool caching;
        xarch_sink_fn sink;
        void *userdata;
};

static int blob_stream_body(void *ud, const void *buf, size_t len) {
        struct blob_stream *s = ud;
        /* an echoed credential reaches neither the sink nor the cache */
        secrets_scan_feed(&s->r->secrets, &s->scan, buf, len);
        if (s->scan.found)
                return -EKEYREJECTED;
        xarch_digester_update(s->digester, buf, len);
        if (s->caching && cache_writer_append(&s->cache, buf, len) < 0) {
                /* a full disk must not fail the pull: just stop caching */
                cache_writer_abort(&s->cache);
                s->caching = false;
        }
        return s->sink ? s->sink(s->userdata, buf, len) : 0;
}

/* Serves a blob from the cache: verifies the whole file first, then streams it, so that a
 * corrupt entry never reaches the sink, and checks the streamed bytes too. Returns 1 when
 * served, 0 when absent/corrupt (nothing streamed), <0 when the entry changed while it was
 * streamed (the sink got bytes that were not the blob). */
static int blob_from_cache(struct xarch_registry *r, const char *digest, uint64_t max_size,
                xarch_sink_fn sink, void *userdata, struct xarch_error **err) {
        _cleanup_close_ int fd = cache_open(r->cache_dir, digest);
        if (fd < 0)
                return 0;
        _cleanup_free_ char *buf = malloc(256 * 1024);
        if (!buf)
                return xarch_error_set(err, ENOMEM, "out of memory");
        struct xarch_digester *d = NULL;
        if (xarch_digester_new(digest, &d) < 0)
                return 0;
        uint64_t total = 0;
        for (;;) {
                ssize_t n = read(fd, buf, 256 * 1024);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        xarch_digester_free(d);
                        return 0;
                }
                if (n == 0)
                        break;
                xarch_digester_update(d, buf, (size_t) n);
                total += (uint64_t) n;
        }
        char got[XARCH_DIGEST_MAX];
        int fr = xarch_digester_final(d, got);
        xarch_digester_free(d);
        if (fr < 0 || !streq(got, digest)) {
                cache_remove(r->cache_dir, digest);
                return 0;
        }
        if (max_size && total > max_size)
                return xarch_error_set(err, EFBIG, "blob '%s' is larger than %llu bytes", digest,
                                (unsigned long long) max_size);
        if (lseek(fd, 0, SEEK_SET) < 0)
                return 0;
        /* the bytes streamed are hashed again: the file may change in place between the two
         * passes, and callers commit what the sink got on the strength of this check */
        if (xarch_digester_new(digest, &d) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        uint64_t sent = 0;
        int rc = 1;
        while (sent < total) {
                ssize_t n = read(fd, buf, 256 * 1024);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        rc = xarch_error_set(
                                        err, EIO, "cached blob '%s' changed while reading", digest);
                        break;
                }
                if ((uint64_t) n > total - sent)
                        n = (ssize_t) (total - sent);
                xarch_digester_update(d, buf, (size_t) n);
                int sr = sink ? sink(userdata, buf, (size_t) n) : 0;
                if (sr < 0) {
                        rc = xarch_error_set(
                                        err, -sr, "writing blob '%s': %s", digest, strerror(-sr));
                        break;
                }
                sent += (uint64_t) n;
        }
        if (rc > 0 && (xarch_digester_final(d, got) < 0 || !streq(got, digest))) {
                cache_remove(r->cache_dir, digest);
                rc = xarch_error_set(err, EIO, "cached blob '%s' changed while reading", digest);
        }
        xarch_digester_free(d);
        if (rc > 0)
                atomic_fetch_add(&r->n_cache_hits, 1);
        return rc;
}

/* json: the blob is a JSON document collected there; checked string by string for echoed
 * credentials before it is cached. */
static int registry_get_blob_impl(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, xarch_sink_fn sink, void *userdata,
                const struct membuf *json, struct xarch_error **err) {
        if (!r || !ref || !digest)
                return xarch_error_set(err, EINVAL, "invalid argument");
        if (!xarch_digest_valid(digest))
                return xarch_error_set(err, EINVAL, "invalid digest '%s'", digest);

        if (r->cache_dir) {
                int cr = blob_from_cache(r, digest, max_size, sink, userdata, err);
                if (cr != 0)
                        return cr < 0 ? cr : 0;
        }

        struct blob_stream s = {.r = r,
                        .scan = {.registry = xarch_ref_api_host(ref)},
                        .sink = sink,
                        .userdata = userdata,
                        .cache = {.fd = -1}};
        if (xarch_digester_new(digest, &s.digester) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (r->cache_dir)
                s.caching = cache_writer_begin(r->cache_dir, digest, &s.cache) == 0;

        _cleanup_free_ struct http_req *q = calloc(1, sizeof(*q));
        int rc;
        char what[XARCH_DIGEST_MAX + 16];
        snprintf(what, sizeof(what), "blob '%s'", digest);
        if (!q) {
                rc = xarch_error_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        char path[XARCH_DIGEST_MAX + 16];
        snprintf(path, sizeof(path), "blobs/%s", digest);
        q->method = "GET";
        q->max_total = max_size;
        q->on_body = blob_stream_body;
        q->ud = &s;
        bool sent = false;
        rc = registry_request(r, ref, path, q, REQ_REDIRECTABLE, &sent, err);
        if (rc < 0) {
                if (s.scan.found)
                        rc = xarch_error_set(err, EBADMSG,
                                        "%s from '%s/%s' holds a credential that was sent to the "
                                        "registry (an echo); refused, not cached",
                                        what, ref->registry, ref->repository);
                else if (q->abort_code)
                        rc = fail_abort(q, what, ref, max_size, err);
                goto fail;
        }
        if (!status_ok(q->status)) {
                rc = status_error(q, ref, what, sent, err);
                goto fail;
        }
        char got[XARCH_DIGEST_MAX];
        if (xarch_digester_final(s.digester, got) < 0) {
                rc = xarch_error_set(err, EIO, "cannot hash the blob");
                goto fail;
        }
        if (!streq(got, digest)) {
                rc = xarch_error_set(err, EBADMSG,
                                "digest mismatch: blob from '%s/%s' should be %s but is %s (%llu "
                                "bytes)",
                                ref->registry, ref->repository, digest, got,
                                (unsigned long long) q->delivered);
                goto fail;
        }
        if (json && secrets_in_json(&r->secrets, json->data, json->len)) {
                rc = xarch_error_set(err, EBADMSG,
                                "%s from '%s/%s' holds a credential that was sent to the "
                                "registry (an echo); refused, not cached",
                                what, ref->registry, ref->repository);
                goto fail;
        }
        if (s.caching)
                (void) cache_writer_commit(&s.cache);
        xarch_digester_free(s.digester);
        secrets_scan_release(&s.scan);
        return 0;
fail:
        if (s.caching)
                cache_writer_abort(&s.cache);
        xarch_digester_free(s.digester);
        secrets_scan_release(&s.scan);
        return rc;
}

static int registry_get_blob_buf_impl(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, struct xarch_blob_buf *ret,
                struct xarch_error **err) {
        if (!ret)
                return xarch_error_set(err, EINVAL, "invalid argument");
        if (max_size == 0)
                max_size = BLOB_BUF_DEFAULT_MAX;
        struct membuf m = {.max = (size_t) max_size};
        int rc = registry_get_blob_impl(r, ref, digest, max_size, membuf_append, &m, &m, err);
        if (rc < 0) {
                free(m.data);
                return rc;
        }
        if (!m.data && !(m.data = strdup("")))
                return xarch_error_set(err, ENOMEM, "out of memory");
        memset(ret, 0, sizeof(*ret));
        ret->data = m.data;
        ret->len = m.len;
        snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
        return 0;
}

/* ---- the public calls: no credential leaves in a message ---- */

static int redacted(struct xarch_registry *r, int rc, struct xarch_error **err) {
        if (rc < 0 && r && err && *err)
                secrets_redact(&r->secrets, &(*err)->msg);
        return rc;
}

int xarch_registry_get_manifest(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *reference, struct xarch_blob_buf *ret, struct xarch_error **err) {
        return redacted(r, registry_get_manifest_impl(r, ref, reference, ret, err), err);
}

int xarch_registry_resolve(struct xarch_registry *r, const struct xarch_ref *ref,
                char digest[XARCH_DIGEST_MAX], char media_type[256], struct xarch_error **err) {
        return redacted(r, registry_resolve_impl(r, ref, digest, media_type, err), err);
}

int xarch_registry_get_blob(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, xarch_sink_fn sink, void *userdata,
                struct xarch_error **err) {
        return redacted(r,
                        registry_get_blob_impl(r, ref, digest, max_size, sink, userdata, NULL, err),
                        err);
}

int xarch_registry_get_blob_buf(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, struct xarch_blob_buf *ret,
                struct xarch_error **err) {
        return redacted(r, registry_get_blob_buf_impl(r, ref, digest, max_size, ret, err), err);
}
