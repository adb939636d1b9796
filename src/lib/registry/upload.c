/* SPDX-License-Identifier: MIT */
#include "registry/upload.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "registry/client.h"
#include "registry/http1.h"
#include "registry/transport.h"
#include "registry/request.h"

/* The pipe between the writer (a source streaming a blob) and the PATCH body: bounded, so a
 * layer never sits whole in memory. */
#define PIPE_CAPACITY (1u * 1024 * 1024)
/* How often an interrupted upload is resumed before giving up. */
#define RESUMES_MAX 3
/* The largest response body read in answer to an upload request. */
#define UPLOAD_ANSWER_MAX (1u * 1024 * 1024)

struct stored {
        char digest[XARCH_DIGEST_MAX];
        char media_type[256];
        char *data;
        size_t len;
        struct stored *next;
};

struct upload_target {
        struct xarch_registry *r;
        struct xarch_ref ref;
        pthread_mutex_t lock;
        struct stored *manifests; /* put so far, for the tag */
        struct upload_stats stats;
        /* pipe buffers of finished streams, reused: a fresh 1 MiB buffer is a fresh mapping,
         * and faulting its pages in cost more CPU than copying the bytes through it */
        char *spare_rings[8];
        size_t n_spare_rings;
        /* learnt: the registry refused a streaming PATCH, use Content-Range chunks */
        bool chunked_only;
        uint64_t chunk_min;
};

enum mode {
        MODE_MONOLITHIC, /* buffered whole (small, size known): POST, PUT with body */
        MODE_STREAM,     /* POST, one PUT ?digest= streaming the pipe (size and digest known),
                          * else one PATCH streaming the pipe, then PUT ?digest= */
        MODE_CHUNKED,    /* POST, PATCH with Content-Range per buffered chunk, PUT ?digest= */
};

struct upload_blob {
        struct upload_target *t;
        enum mode mode;
        char digest[XARCH_DIGEST_MAX]; /* expected, "" when unknown */
        uint64_t size;                 /* UINT64_MAX when unknown */
        char location[URL_MAX];        /* absolute URL of the upload session */
        uint64_t fed;                  /* bytes given to upload_blob_write */
        uint64_t committed;            /* bytes the registry holds (chunked) */

        /* monolithic / chunked: the buffer */
        char *buf;
        size_t buf_len, buf_cap;

        /* stream: the pipe and the PATCH thread */
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *ring;
        size_t ring_head, ring_len;
        bool eof, cancelled, reader_done;
        /* the stream is the final PUT ?digest=: its last byte waits for eof, which the writer
         * gives only after checking the digest of every byte (a registry never commits bytes
         * the client has not checked) */
        bool put_stream;
        uint64_t piped; /* bytes handed to the transport in this attempt */
        int thread_rc;
        struct xarch_error *thread_err;
        long stream_status; /* the streaming request's answer (0: none arrived) */
        unsigned resumes;

        int rc;                  /* first failure */
        struct xarch_error *err; /* its message */
};

int upload_target_new(struct xarch_registry *r, const struct xarch_ref *ref,
                struct upload_target **ret, struct xarch_error **err) {
        struct upload_target *t = calloc(1, sizeof(*t));
        if (!t)
                return xarch_error_set(err, ENOMEM, "out of memory");
        t->r = r;
        t->ref = *ref;
        pthread_mutex_init(&t->lock, NULL);
        /* a push to a remote registry needs libcurl (TLS): its loading overlaps the first
         * requests. Not to a loopback one, which is tried over plain HTTP first (no libcurl). */
        if (!r->direct_http || !xarch_ref_registry_is_loopback(xarch_ref_api_host(ref)))
                transport_preload(r);
        *ret = t;
        return 0;
}

void upload_target_free(struct upload_target *t) {
        if (!t)
                return;
        while (t->manifests) {
                struct stored *s = t->manifests;
                t->manifests = s->next;
                free(s->data);
                free(s);
        }
        for (size_t i = 0; i < t->n_spare_rings; i++)
                free(t->spare_rings[i]);
        pthread_mutex_destroy(&t->lock);
        free(t);
}

static char *ring_get(struct upload_target *t) {
        char *ring = NULL;
        pthread_mutex_lock(&t->lock);
        if (t->n_spare_rings > 0)
                ring = t->spare_rings[--t->n_spare_rings];
        pthread_mutex_unlock(&t->lock);
        return ring ? ring : malloc(PIPE_CAPACITY);
}

static void ring_put(struct upload_target *t, char *ring) {
        if (!ring)
                return;
        pthread_mutex_lock(&t->lock);
        if (t->n_spare_rings < ELEMENTSOF(t->spare_rings)) {
                t->spare_rings[t->n_spare_rings++] = ring;
                ring = NULL;
        }
        pthread_mutex_unlock(&t->lock);
        free(ring);
}

void upload_target_stats(struct upload_target *t, struct upload_stats *ret) {
        pthread_mutex_lock(&t->lock);
        *ret = t->stats;
        pthread_mutex_unlock(&t->lock);
}

#define STAT_ADD(t, field, n)                                                                      \
        do {                                                                                       \
                pthread_mutex_lock(&(t)->lock);                                                    \
                (t)->stats.field += (n);                                                           \
                pthread_mutex_unlock(&(t)->lock);                                                  \
        } while (0)

/* ---- request bodies from memory ---- */

struct mem_body {
        const char *data;
        size_t len, off;
};

static ssize_t mem_read(void *ud, void *buf, size_t len) {
        struct mem_body *m = ud;
        size_t n = m->len - m->off < len ? m->len - m->off : len;
        memcpy(buf, m->data + m->off, n);
        m->off += n;
        return (ssize_t) n;
}

static int mem_rewind(void *ud) {
        ((struct mem_body *) ud)->off = 0;
        return 0;
}

/* ---- small helpers ---- */

static int request(struct upload_target *t, const char *path, struct http_req *q, unsigned flags,
                bool *sent, struct xarch_error **err) {
        /* the answers to uploads carry nothing we read: a body that never ends must not keep
         * the push reading (the deadline grows with the bytes moved) */
        if (!q->max_total && !streq(q->method, "HEAD")) /* HEAD: Content-Length, no body */
                q->max_total = UPLOAD_ANSWER_MAX;
        /* the whole push over HTTP/1.1 (uploads over libcurl's HTTP/2 cost 2-3x the CPU), HEADs
         * included, so that one connection serves every request of a blob */
        q->http1 = true;
        int r = registry_request(t->r, &t->ref, path, q, flags | REQ_PUSH, sent, err);
        if (r < 0 && (q->abort_code == -EFBIG || q->abort_code == -EMSGSIZE) && err && !*err)
                return fail_abort(q, "an upload answer", &t->ref, q->max_total, err);
        return r;
}

/* The Location of an upload answer, resolved against the URL that answered (it may be
 * relative or absolute and carry a query, which is kept as is). */
static int take_location(struct upload_target *t, struct http_req *q, char out[URL_MAX],
                struct xarch_error **err) {
        if (!q->location[0])
                return xarch_error_set(err, EBADMSG,
                                "registry '%s' answered an upload without a Location",
                                t->ref.registry);
        if (http1_resolve_location(q->url, q->location, out, URL_MAX) < 0)
                return xarch_error_set(err, EBADMSG,
                                "registry '%s' sent an unusable upload Location", t->ref.registry);
        return 0;
}

/* url + "?digest=" or "&digest=" */
static int with_digest(const char *url, const char *digest, char out[URL_MAX]) {
        int n = snprintf(out, URL_MAX, "%s%cdigest=%s", url, strchr(url, '?') ? '&' : '?', digest);
        return n > 0 && n < URL_MAX ? 0 : -ENOBUFS;
}

/* "0-1023" or "bytes=0-1023" -> 1024 bytes held; -1 when unparsable. distribution answers
 * "0-0" for an empty session as well as for one byte: read as empty (resending a byte costs a
 * 416 and a fresh session at worst, skipping one would corrupt the blob). */
int64_t upload_range_held(const char *range) {
        const char *p = range;
        if (strncmp(p, "bytes=", 6) == 0)
                p += 6;
        /* digits only: strtoull alone would take spaces, signs and wrap "-5" around */
        if (p[0] != '0' || p[1] != '-')
                return -1;
        p += 2;
        uint64_t end = 0;
        size_t n = 0;
        for (; p[n] >= '0' && p[n] <= '9'; n++) {
                if (end > (uint64_t) (INT64_MAX - 10) / 10)
                        return -1;
                end = end * 10 + (uint64_t) (p[n] - '0');
        }
        if (n == 0 || p[n] || (n > 1 && p[0] == '0'))
                return -1;
        return end == 0 ? 0 : (int64_t) end + 1;
}

/* ---- existence ---- */

int upload_blob_exists(struct upload_target *t, const char *digest, uint64_t size,
                struct xarch_error **err) {
        char path[XARCH_DIGEST_MAX + 16];
        snprintf(path, sizeof(path), "blobs/%s", digest);
        struct http_req q = {.method = "HEAD"};
        bool sent;
        int r = request(t, path, &q, REQ_REDIRECTABLE, &sent, err);
        if (r < 0)
                return r;
        if (q.status == 404)
                return 0;
        if (!status_ok(q.status))
                return status_error(&q, &t->ref, "blob", sent, err);
        if (size != UINT64_MAX && q.content_length >= 0 && (uint64_t) q.content_length != size)
                return 0; /* not what we mean: upload it (the registry will sort it out) */
        return 1;
}

int upload_manifest_exists(struct upload_target *t, const char *digest, struct xarch_error **err) {
        char path[XARCH_DIGEST_MAX + 16];
        snprintf(path, sizeof(path), "manifests/%s", digest);
        struct http_req q = {.method = "HEAD", .accept = XARCH_REGISTRY_MANIFEST_ACCEPT};
        bool sent;
        int r = request(t, path, &q, 0, &sent, err);
        if (r < 0)
                return r;
        if (q.status == 404)
                return 0;
        if (!status_ok(q.status))
                return status_error(&q, &t->ref, "manifest", sent, err);
        return 1;
}

/* ---- sessions ---- */

/* POST .../blobs/uploads/ (with a mount attempt when from is given): 1 mounted, 0 a session
 * (b->location set). */
static int start_session(
                struct upload_blob *b, const struct xarch_ref *from, struct xarch_error **err) {
        struct upload_target *t = b->t;
        char path[XARCH_REF_REPOSITORY_MAX + XARCH_DIGEST_MAX + 64];
        bool mount = from && b->digest[0];
        if (mount)
                snprintf(path, sizeof(path), "blobs/uploads/?mount=%s&from=%s", b->digest,
                                from->repository);
        else
                snprintf(path, sizeof(path), "blobs/uploads/");
        struct mem_body m = {.data = "", .len = 0};
        struct http_body body = {
                        .fd = -1, .read = mem_read, .rewind = mem_rewind, .ud = &m, .length = 0};
        struct http_req q = {.method = "POST", .body = &body};
        bool sent;
        int r = request(t, path, &q, 0, &sent, err);
        if (r < 0)
                return r;
        if (mount && q.status == 201) {
                STAT_ADD(t, blobs_mounted, 1);
                return 1;
        }
        if (q.status != 202)
                return status_error(&q, &t->ref, "blob upload", sent, err);
        if (mount)
                STAT_ADD(t, mount_refused, 1);
        if (q.chunk_min_length > 0) {
                pthread_mutex_lock(&t->lock);
                t->chunk_min = (uint64_t) q.chunk_min_length;
                pthread_mutex_unlock(&t->lock);
        }
        return take_location(t, &q, b->location, err);
}

/* PUT <location>?digest=, with the body in memory (monolithic) or none. */
static int finish_session(struct upload_blob *b, const char *digest, const char *data, size_t len,
                struct xarch_error **err) {
        struct upload_target *t = b->t;
        char url[URL_MAX];
        if (with_digest(b->location, digest, url) < 0)
                return xarch_error_set(err, ENOBUFS, "upload URL too long");
        struct mem_body m = {.data = data, .len = len};
        struct http_body body = {.fd = -1,
                        .read = mem_read,
                        .rewind = mem_rewind,
                        .ud = &m,
                        .length = (int64_t) len};
        struct http_req q = {
                        .method = "PUT", .body_type = "application/octet-stream", .body = &body};
        bool sent;
        int r = request(t, url, &q, REQ_URL, &sent, err);
        if (r < 0)
                return r;
        if (q.status != 201 && !status_ok(q.status)) {
                char what[XARCH_DIGEST_MAX + 8];
                snprintf(what, sizeof(what), "blob %s", digest);
                return status_error(&q, &t->ref, what, sent, err);
        }
        return 0;
}

/* One Content-Range PATCH of buffered bytes at b->committed. */
static int patch_chunk(
                struct upload_blob *b, const char *data, size_t len, struct xarch_error **err) {
        struct upload_target *t = b->t;
        char range[96];
        snprintf(range, sizeof(range), "Content-Range: %" PRIu64 "-%" PRIu64, b->committed,
                        b->committed + len - 1);
        struct mem_body m = {.data = data, .len = len};
        struct http_body body = {.fd = -1,
                        .read = mem_read,
                        .rewind = mem_rewind,
                        .ud = &m,
                        .length = (int64_t) len};
        struct http_req q = {.method = "PATCH",
                        .body_type = "application/octet-stream",
                        .body = &body,
                        .extra_headers = {range}};
        bool sent;
        int r = request(t, b->location, &q, REQ_URL, &sent, err);
        if (r < 0)
                return r;
        if (q.status == 416 || !status_ok(q.status))
                return status_error(&q, &t->ref, "blob chunk", sent, err);
        /* ECR answers 201 instead of 202; both carry the next Location */
        char next[URL_MAX];
        if (q.location[0] && take_location(t, &q, next, NULL) == 0)
                memcpy(b->location, next, sizeof(next));
        int64_t held = q.range[0] ? upload_range_held(q.range) : -1;
        if (held > 0 && (uint64_t) held != b->committed + len)
                return xarch_error_set(err, EIO,
                                "registry '%s' holds %" PRId64 " bytes of the upload, expected "
                                "%" PRIu64,
                                t->ref.registry, held, b->committed + len);
        b->committed += len;
        STAT_ADD(t, bytes_sent, len);
        return 0;
}

/* GET <location>: how many bytes the registry holds (the resume point). */
static int session_offset(struct upload_blob *b, uint64_t *ret, struct xarch_error **err) {
        struct http_req q = {.method = "GET"};
        bool sent;
        int r = request(b->t, b->location, &q, REQ_URL, &sent, err);
        if (r < 0)
                return r;
        if (!status_ok(q.status))
                return status_error(&q, &b->t->ref, "upload status", sent, err);
        int64_t held = q.range[0] ? upload_range_held(q.range) : 0;
        if (held < 0)
                return xarch_error_set(err, EBADMSG, "registry '%s' sent a malformed Range",
                                b->t->ref.registry);
        char next[URL_MAX];
        if (q.location[0] && take_location(b->t, &q, next, NULL) == 0)
                memcpy(b->location, next, sizeof(next));
        *ret = (uint64_t) held;
        return 0;
}

/* ---- the streaming PATCH ---- */

/* What pipe_read may hand out now: all that is buffered, but a streaming PUT's last byte
 * only after eof (the digest checked). The caller holds the lock. */
static size_t pipe_ready(const struct upload_blob *b) {
        if (!b->put_stream || b->eof || b->piped + b->ring_len < b->size)
                return b->ring_len;
        return (size_t) (b->size - 1 - b->piped);
}

static ssize_t pipe_read(void *ud, void *buf, size_t len) {
        struct upload_blob *b = ud;
        pthread_mutex_lock(&b->lock);
        while (pipe_ready(b) == 0 && !b->eof && !b->cancelled)
                pthread_cond_wait(&b->cond, &b->lock);
        if (b->cancelled) {
                pthread_mutex_unlock(&b->lock);
                return -ECANCELED;
        }
        size_t ready = pipe_ready(b);
        if (len > ready)
                len = ready;
        size_t n = 0;
        while (n < len && b->ring_len > 0) {
                size_t run = PIPE_CAPACITY - b->ring_head;
                if (run > b->ring_len)
                        run = b->ring_len;
                if (run > len - n)
                        run = len - n;
                memcpy((char *) buf + n, b->ring + b->ring_head, run);
                b->ring_head = (b->ring_head + run) % PIPE_CAPACITY;
                b->ring_len -= run;
                n += run;
        }
        b->piped += n;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
        return (ssize_t) n;
}

static void *stream_thread(void *arg) {
        struct upload_blob *b = arg;
        struct upload_target *t = b->t;
        struct http_body body = {.fd = -1,
                        .read = pipe_read,
                        .ud = b,
                        .length = b->size == UINT64_MAX ? -1 : (int64_t) b->size};
        struct http_req q = {.method = b->put_stream ? "PUT" : "PATCH",
                        .body_type = "application/octet-stream",
                        .body = &body};
        bool sent;
        struct xarch_error *e = NULL;
        char url[URL_MAX];
        int r = 0;
        if (b->put_stream && with_digest(b->location, b->digest, url) < 0)
                r = xarch_error_set(&e, ENOBUFS, "upload URL too long");
        if (r == 0)
                r = request(t, b->put_stream ? url : b->location, &q, REQ_URL, &sent, &e);
        b->stream_status = r == 0 ? q.status : 0;
        if (r == 0 && !status_ok(q.status)) {
                char what[XARCH_DIGEST_MAX + 8];
                snprintf(what, sizeof(what), "blob %s", b->put_stream ? b->digest : "upload");
                r = status_error(&q, &t->ref, what, sent, &e);
        }
        if (r == 0 && !b->put_stream) {
                char next[URL_MAX];
                if (q.location[0] && take_location(t, &q, next, NULL) == 0)
                        memcpy(b->location, next, sizeof(next));
        }
        if (r == 0)
                STAT_ADD(t, bytes_sent, body.sent);
        pthread_mutex_lock(&b->lock);
        b->thread_rc = r;
        b->thread_err = e;
        b->reader_done = true;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
        return NULL;
}

static int stream_start(struct upload_blob *b, struct xarch_error **err) {
        b->ring = ring_get(b->t);
        if (!b->ring)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (pthread_create(&b->thread, NULL, stream_thread, b) != 0)
                return xarch_error_set(err, EAGAIN, "cannot start an upload thread");
        b->thread_started = true;
        return 0;
}

static int stream_write(struct upload_blob *b, const char *p, size_t len) {
        pthread_mutex_lock(&b->lock);
        while (len > 0) {
                while (b->ring_len == PIPE_CAPACITY && !b->reader_done)
                        pthread_cond_wait(&b->cond, &b->lock);
                if (b->reader_done) {
                        /* the PATCH ended before the body did: it failed */
                        int r = b->thread_rc ? b->thread_rc : -EIO;
                        pthread_mutex_unlock(&b->lock);
                        return r;
                }
                size_t tail = (b->ring_head + b->ring_len) % PIPE_CAPACITY;
                size_t room = PIPE_CAPACITY - b->ring_len;
                size_t run = PIPE_CAPACITY - tail < room ? PIPE_CAPACITY - tail : room;
                if (run > len)
                        run = len;
                memcpy(b->ring + tail, p, run);
                b->ring_len += run;
                p += run;
                len -= run;
                pthread_cond_broadcast(&b->cond);
        }
        pthread_mutex_unlock(&b->lock);
        return 0;
}

/* Ends the body (or cancels it) and waits for the PATCH. */
static int stream_join(struct upload_blob *b, bool cancel, struct xarch_error **err) {
        if (!b->thread_started)
                return 0;
        pthread_mutex_lock(&b->lock);
        if (cancel)
                b->cancelled = true;
        b->eof = true;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->thread, NULL);
        b->thread_started = false;
        int r = b->thread_rc;
        if (r < 0 && err && !*err)
                *err = steal_ptr(b->thread_err);
        xarch_error_free(b->thread_err);
        b->thread_err = NULL;
        return r;
}

/* ---- recovery ---- */

/* A blob upload failed part way (a dropped connection, a 5xx the body could not be resent
 * for, a streaming PATCH the registry refuses): asks the registry how much of the session it
 * holds and returns -ERESTART, after which the caller feeds the blob again from its first byte
 * and the bytes the registry holds are skipped; the rest goes up in Content-Range chunks, each
 * of which can be retried on its own. Other failures (auth, too many resumes) are final:
 * recorded in b and returned. Takes ownership of *e. */
static int recover(struct upload_blob *b, int rc, struct xarch_error **e) {
        struct upload_target *t = b->t;
        bool final = rc == -EACCES || rc == -ENOMEM || rc == -ECANCELED || rc == -EPROTO ||
                     b->mode == MODE_MONOLITHIC || b->resumes >= RESUMES_MAX;
        if (!final) {
                struct xarch_error *why = NULL;
                uint64_t held = 0;
                if (b->mode == MODE_STREAM && b->stream_status >= 400 && b->stream_status < 500 &&
                                b->stream_status != 429) {
                        /* refused outright: this registry wants Content-Range chunks */
                        pthread_mutex_lock(&t->lock);
                        t->chunked_only = true;
                        pthread_mutex_unlock(&t->lock);
                }
                if (session_offset(b, &held, &why) < 0) {
                        /* the session is gone: a new one, from byte 0 */
                        xarch_error_free(why);
                        why = NULL;
                        held = 0;
                        if (start_session(b, NULL, &why) < 0) {
                                xarch_error_free(*e);
                                *e = why;
                                rc = -(why ? why->code : EIO);
                                final = true;
                        }
                }
                if (!final) {
                        b->resumes++;
                        b->mode = MODE_CHUNKED;
                        b->put_stream = false;
                        b->committed = held;
                        b->fed = 0;
                        b->buf_len = 0;
                        b->rc = 0;
                        xarch_error_free(*e);
                        *e = NULL;
                        STAT_ADD(t, resumed_uploads, 1);
                        return -ERESTART;
                }
        }
        b->rc = rc;
        if (!b->err)
                b->err = steal_ptr(*e);
        xarch_error_free(*e);
        *e = NULL;
        return rc;
}

int upload_blob_restart(struct upload_blob *b) {
        return b->rc == 0 && b->fed == 0 ? 0 : -EINVAL;
}

/* ---- blobs ---- */

int upload_blob_begin(struct upload_target *t, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct upload_blob **ret,
                struct xarch_error **err) {
        *ret = NULL;
        if (digest) {
                int have = upload_blob_exists(t, digest, size, err);
                if (have < 0)
                        return have;
                if (have > 0) {
                        STAT_ADD(t, blobs_existing, 1);
                        return 1;
                }
        }
        /* mounts only within one registry (cross-origin mounts are refused or ignored) */
        if (mount_from && (!streq(mount_from->registry, t->ref.registry) ||
                                          streq(mount_from->repository, t->ref.repository)))
                mount_from = NULL;

        struct upload_blob *b = calloc(1, sizeof(*b));
        if (!b)
                return xarch_error_set(err, ENOMEM, "out of memory");
        b->t = t;
        b->size = size;
        if (digest)
                snprintf(b->digest, sizeof(b->digest), "%s", digest);
        pthread_mutex_init(&b->lock, NULL);
        pthread_cond_init(&b->cond, NULL);
        pthread_mutex_lock(&t->lock);
        bool chunked_only = t->chunked_only;
        pthread_mutex_unlock(&t->lock);
        if (size != UINT64_MAX && size <= UPLOAD_MONOLITHIC_MAX)
                b->mode = MODE_MONOLITHIC;
        else
                b->mode = chunked_only ? MODE_CHUNKED : MODE_STREAM;
        /* size and digest known: the body streams into the final PUT (what containerd does
         * for every blob), one request and one round trip fewer than PATCH then PUT */
        b->put_stream = b->mode == MODE_STREAM && size != UINT64_MAX && size > 0 && b->digest[0];

        int r = start_session(b, mount_from, err);
        if (r > 0) {
                upload_blob_abort(b);
                return 1;
        }
        if (r == 0 && b->mode == MODE_STREAM)
                r = stream_start(b, err);
        if (r < 0) {
                upload_blob_abort(b);
                return r;
        }
        *ret = b;
        return 0;
}

static int buffer_append(struct upload_blob *b, const void *p, size_t len) {
        if (b->buf_len + len > b->buf_cap) {
                size_t cap = b->buf_cap ? b->buf_cap : 64 * 1024;
                while (cap < b->buf_len + len)
                        cap *= 2;
                char *n = realloc(b->buf, cap);
                if (!n)
                        return -ENOMEM;
                b->buf = n;
                b->buf_cap = cap;
        }
        memcpy(b->buf + b->buf_len, p, len);
        b->buf_len += len;
        return 0;
}

static uint64_t chunk_size(struct upload_target *t) {
        pthread_mutex_lock(&t->lock);
        uint64_t min = t->chunk_min;
        pthread_mutex_unlock(&t->lock);
        if (min > UPLOAD_CHUNK_MAX)
                min = UPLOAD_CHUNK_MAX;
        return min > UPLOAD_CHUNK_DEFAULT ? min : UPLOAD_CHUNK_DEFAULT;
}

int upload_blob_write(struct upload_blob *b, const void *buf, size_t len) {
        if (b->rc)
                return b->rc;
        const char *p = buf;
        /* a resumed upload: the registry already holds the first bytes */
        if (b->mode == MODE_CHUNKED && b->fed < b->committed) {
                uint64_t skip = b->committed - b->fed;
                if (skip >= len) {
                        b->fed += len;
                        return 0;
                }
                p += skip;
                len -= (size_t) skip;
                b->fed += skip;
        }
        b->fed += len;
        struct xarch_error *e = NULL;
        int r = 0;
        switch (b->mode) {
        case MODE_MONOLITHIC:
                r = buffer_append(b, p, len);
                break;
        case MODE_STREAM:
                r = stream_write(b, p, len);
                if (r < 0) {
                        int jr = stream_join(b, true, &e);
                        if (jr < 0)
                                r = jr;
                        return recover(b, r, &e);
                }
                break;
        case MODE_CHUNKED: {
                uint64_t cs = chunk_size(b->t);
                while (len > 0 && r == 0) {
                        /* cs can shrink between calls (another session's
                         * OCI-Chunk-Min-Length): never below what is buffered */
                        size_t room = b->buf_len < cs ? (size_t) (cs - b->buf_len) : 0;
                        size_t take = len < room ? len : room;
                        r = buffer_append(b, p, take);
                        p += take;
                        len -= take;
                        if (r == 0 && b->buf_len >= cs) {
                                r = patch_chunk(b, b->buf, b->buf_len, &e);
                                b->buf_len = 0;
                                if (r < 0)
                                        return recover(b, r, &e);
                        }
                }
                break;
        }
        }
        if (r < 0)
                b->rc = r;
        return r;
}

int upload_blob_error(struct upload_blob *b, struct xarch_error **err) {
        if (b->mode == MODE_STREAM && b->thread_started)
                stream_join(b, true, &b->err);
        if (b->err && err && !*err) {
                *err = steal_ptr(b->err);
                return -(*err)->code;
        }
        return xarch_error_set(err, b->rc ? -b->rc : EIO, "blob upload to '%s/%s' failed: %s",
                        b->t->ref.registry, b->t->ref.repository, strerror(b->rc ? -b->rc : EIO));
}

void upload_blob_abort(struct upload_blob *b) {
        if (!b)
                return;
        stream_join(b, true, NULL);
        if (b->location[0]) {
                /* best effort: let the registry drop the session */
                struct http_req q = {.method = "DELETE"};
                bool sent;
                struct xarch_error *e = NULL;
                (void) request(b->t, b->location, &q, REQ_URL, &sent, &e);
                xarch_error_free(e);
        }
        xarch_error_free(b->err);
        xarch_error_free(b->thread_err);
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
        ring_put(b->t, b->ring);
        free(b->buf);
        free(b);
}

int upload_blob_commit(struct upload_blob *b, const char *digest, uint64_t size,
                struct xarch_error **err) {
        struct upload_target *t = b->t;
        struct xarch_error *e = NULL;
        int r = 0;
        (void) size;
        switch (b->mode) {
        case MODE_MONOLITHIC:
                r = finish_session(b, digest, b->buf, b->buf_len, err);
                if (r == 0)
                        STAT_ADD(t, bytes_sent, b->buf_len);
                break;
        case MODE_STREAM:
                /* a streaming PUT names the digest it was begun with: the bytes must match */
                if (b->put_stream && !streq(digest, b->digest)) {
                        stream_join(b, true, NULL);
                        r = xarch_error_set(err, EBADMSG, "blob %s: the bytes hash to %s",
                                        b->digest, digest);
                        break;
                }
                r = stream_join(b, false, &e);
                if (r < 0) {
                        r = recover(b, r, &e);
                        if (r == -ERESTART)
                                return r;
                        break;
                }
                if (!b->put_stream)
                        r = finish_session(b, digest, NULL, 0, err);
                break;
        case MODE_CHUNKED:
                if (b->buf_len) {
                        r = patch_chunk(b, b->buf, b->buf_len, &e);
                        b->buf_len = 0;
                        if (r < 0) {
                                r = recover(b, r, &e);
                                if (r == -ERESTART)
                                        return r;
                                break;
                        }
                }
                r = finish_session(b, digest, NULL, 0, err);
                STAT_ADD(t, chunked_uploads, 1);
                break;
        }
        if (r == 0) {
                STAT_ADD(t, blobs_uploaded, 1);
                b->location[0] = '\0'; /* done: nothing to cancel */
        } else if (b->err && err && !*err)
                *err = steal_ptr(b->err);
        upload_blob_abort(b);
        return r;
}

/* ---- manifests ---- */

static int put_manifest(struct upload_target *t, const char *reference, const void *data,
                size_t len, const char *media_type, struct xarch_error **err) {
        char path[XARCH_DIGEST_MAX + XARCH_REF_TAG_MAX + 16];
        snprintf(path, sizeof(path), "manifests/%s", reference);
        struct mem_body m = {.data = data, .len = len};
        struct http_body body = {.fd = -1,
                        .read = mem_read,
                        .rewind = mem_rewind,
                        .ud = &m,
                        .length = (int64_t) len};
        struct http_req q = {.method = "PUT", .body_type = media_type, .body = &body};
        bool sent;
        int r = request(t, path, &q, 0, &sent, err);
        if (r < 0)
                return r;
        if (!status_ok(q.status)) {
                char what[XARCH_DIGEST_MAX + XARCH_REF_TAG_MAX + 16];
                snprintf(what, sizeof(what), "manifest '%s'", reference);
                return status_error(&q, &t->ref, what, sent, err);
        }
        return 0;
}

int upload_manifest_put(struct upload_target *t, const void *data, size_t len,
                const char *media_type, const char *digest, const char *reference,
                struct xarch_error **err) {
        if (!media_type || !*media_type)
                return xarch_error_set(err, EINVAL, "manifest %s has no media type", digest);
        int r = put_manifest(t, reference ? reference : digest, data, len, media_type, err);
        if (r < 0)
                return r;
        return upload_manifest_stage(t, data, len, media_type, digest, err);
}

int upload_manifest_stage(struct upload_target *t, const void *data, size_t len,
                const char *media_type, const char *digest, struct xarch_error **err) {
        if (!media_type || !*media_type)
                return xarch_error_set(err, EINVAL, "manifest %s has no media type", digest);
        struct stored *s = calloc(1, sizeof(*s));
        if (!s || !(s->data = malloc(len ? len : 1))) {
                free(s);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        memcpy(s->data, data, len);
        s->len = len;
        snprintf(s->digest, sizeof(s->digest), "%s", digest);
        snprintf(s->media_type, sizeof(s->media_type), "%s", media_type);
        pthread_mutex_lock(&t->lock);
        s->next = t->manifests;
        t->manifests = s;
        pthread_mutex_unlock(&t->lock);
        return 0;
}

int upload_tag(struct upload_target *t, const char *digest, const char *media_type,
                struct xarch_error **err) {
        if (!t->ref.tag[0])
                return 0;
        return upload_tag_named(t, t->ref.tag, digest, media_type, err);
}

int upload_tag_named(struct upload_target *t, const char *tag, const char *digest,
                const char *media_type, struct xarch_error **err) {
        const struct stored *s = NULL;
        pthread_mutex_lock(&t->lock);
        for (s = t->manifests; s && !streq(s->digest, digest); s = s->next)
                ;
        pthread_mutex_unlock(&t->lock);
        if (!s)
                return xarch_error_set(
                                err, EINVAL, "manifest %s was not put before its tag", digest);
        return put_manifest(t, tag, s->data, s->len, media_type, err);
}
