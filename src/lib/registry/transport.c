/* SPDX-License-Identifier: MIT */
/*
 * One HTTP exchange over either transport (see transport.h): http1.c for plain HTTP, a pooled
 * libcurl easy handle for the rest. The header parser and body sink below serve both.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "registry/client.h"
#include "registry/http1.h"
#include "registry/transport.h"

/* ---- URL predicates ---- */

bool url_is_loopback(const char *url) {
        char s[16], h[512], hp[600];
        unsigned p;
        if (!http1_url_origin(url, s, sizeof(s), h, sizeof(h), &p))
                return false;
        if (strchr(h, ':'))
                snprintf(hp, sizeof(hp), "[%s]", h);
        else
                snprintf(hp, sizeof(hp), "%s", h);
        return xarch_ref_registry_is_loopback(hp);
}

bool url_is_https(const char *url) {
        return strncasecmp(url, "https://", 8) == 0;
}

bool url_is_http(const char *url) {
        return strncasecmp(url, "http://", 7) == 0;
}

const char *url_problem(const char *url) {
        char sc[16], h[512];
        unsigned port;
        if (!url_is_https(url) && !url_is_http(url))
                return "not an http or https URL";
        if (http1_url_origin(url, sc, sizeof(sc), h, sizeof(h), &port))
                return NULL;
        /* which part is wrong: the port (after the host, or after "]" of an IPv6 literal) */
        const char *a = url + (url_is_https(url) ? 8 : 7);
        size_t n = strcspn(a, "/?#");
        const char *at = memchr(a, '@', n);
        if (at) {
                n -= (size_t) (at + 1 - a);
                a = at + 1;
        }
        const char *close = a[0] == '[' ? memchr(a, ']', n) : NULL;
        const char *colon = close ? (close + 1 < a + n && close[1] == ':' ? close + 1 : NULL)
                                  : memchr(a, ':', n);
        if (colon) {
                size_t pn = n - (size_t) (colon + 1 - a);
                unsigned long v = 0;
                bool digits = pn > 0 && pn <= 5;
                for (size_t i = 0; digits && i < pn; i++) {
                        if (colon[1 + i] < '0' || colon[1 + i] > '9')
                                digits = false;
                        else
                                v = v * 10 + (unsigned long) (colon[1 + i] - '0');
                }
                if (!digits || v == 0 || v > 65535)
                        return "a bad port";
        }
        return "a malformed host";
}

/* ---- libcurl set-up ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud) {
        struct xarch_registry *r = ud;
        if (data >= 0 && data < CURL_LOCK_DATA_LAST)
                pthread_mutex_lock(&r->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud) {
        struct xarch_registry *r = ud;
        if (data >= 0 && data < CURL_LOCK_DATA_LAST)
                pthread_mutex_unlock(&r->share_locks[data]);
}

/* libcurl is needed anyway when a proxy is configured (it knows every proxy kind and
 * NO_PROXY); XARCH_HTTP=curl sends plain HTTP through libcurl too (comparisons, debugging). */
static bool direct_http_allowed(void) {
        static const char *const proxy_vars[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
        const char *mode = getenv("XARCH_HTTP");
        if (mode && streq(mode, "curl"))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(proxy_vars); i++) {
                const char *v = getenv(proxy_vars[i]);
                if (v && *v)
                        return false;
        }
        return true;
}

void transport_init(struct xarch_registry *r) {
        pthread_mutex_init(&r->curl_lock, NULL);
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_init(&r->share_locks[i], NULL);
        r->direct_http = direct_http_allowed();
        r->deadline_base_ms = HTTP_DEADLINE_BASE_MS;
        const char *knob = getenv("XARCH_HTTP_DEADLINE_MS");
        if (knob && *knob) {
                long v = strtol(knob, NULL, 10);
                if (v > 0 && v <= 3600 * 1000)
                        r->deadline_base_ms = (int) v;
        }
}

static int64_t mono_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Whether an attempt that began at start_ms and moved `bytes` is past its overall deadline. */
static bool deadline_passed(const struct xarch_registry *r, int64_t start_ms, uint64_t bytes) {
        int64_t allowed = r->deadline_base_ms + (int64_t) (bytes / HTTP_DEADLINE_RATE) * 1000 +
                          (int64_t) (bytes % HTTP_DEADLINE_RATE) * 1000 / HTTP_DEADLINE_RATE;
        return mono_ms() - start_ms > allowed;
}

/* Loads libcurl and sets up the share handle on the first request that needs them: a client
 * that only talks plain HTTP never maps libcurl's thirty libraries. */
static int curl_ready(struct xarch_registry *r, char *errbuf, size_t errlen) {
        _cleanup_(xarch_error_freep) struct xarch_error *e = NULL;
        int rc = 0;
        pthread_mutex_lock(&r->curl_lock);
        if (r->share)
                goto out;
        rc = curl_lazy_load(&e);
        if (rc < 0) {
                snprintf(errbuf, errlen, "%s", e ? e->msg : "cannot load libcurl");
                goto out;
        }
        pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK) {
                snprintf(errbuf, errlen, "cannot initialise libcurl: %s",
                                curl_easy_strerror(curl_init_result));
                rc = -EIO;
                goto out;
        }
        CURLSH *share = curl_share_init();
        if (!share) {
                snprintf(errbuf, errlen, "cannot create a libcurl share handle");
                rc = -ENOMEM;
                goto out;
        }
        curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(share, CURLSHOPT_USERDATA, r);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        r->share = share;
out:
        pthread_mutex_unlock(&r->curl_lock);
        return rc;
}

static void *preload_main(void *arg) {
        char ignored[CURL_ERROR_SIZE];
        (void) curl_ready(arg, ignored, sizeof(ignored)); /* a request meets any failure again */
        return NULL;
}

void transport_preload(struct xarch_registry *r) {
        pthread_mutex_lock(&r->curl_lock);
        bool start = !r->share && !r->preload_started;
        if (start)
                r->preload_started = pthread_create(&r->preload, NULL, preload_main, r) == 0;
        pthread_mutex_unlock(&r->curl_lock);
}

void transport_free(struct xarch_registry *r) {
        if (r->preload_started)
                pthread_join(r->preload, NULL);
        for (size_t i = 0; i < r->pool_len; i++)
                curl_easy_cleanup(r->pool[i]);
        r->pool_len = 0;
        for (size_t i = 0; i < r->idle_len; i++) {
                http1_close(r->idle[i]);
                free(r->idle[i]);
        }
        r->idle_len = 0;
        if (r->share)
                curl_share_cleanup(r->share);
        r->share = NULL;
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_destroy(&r->share_locks[i]);
        pthread_mutex_destroy(&r->curl_lock);
}

/* ---- the shared header parser and body sink ---- */

static void trim_value(const char *in, size_t n, char *out, size_t out_size) {
        while (n > 0 && (*in == ' ' || *in == '\t')) {
                in++;
                n--;
        }
        while (n > 0 && (in[n - 1] == '\r' || in[n - 1] == '\n' || in[n - 1] == ' ' ||
                                        in[n - 1] == '\t'))
                n--;
        if (n >= out_size)
                n = out_size - 1;
        memcpy(out, in, n);
        out[n] = '\0';
}

static bool header_is(const char *line, size_t n, const char *name, const char **value,
                size_t *value_len) {
        size_t k = strlen(name);
        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return false;
        *value = line + k + 1;
        *value_len = n - k - 1;
        return true;
}

static void reset_response(struct http_req *q) {
        q->status = 0;
        q->content_type[0] = q->docker_digest[0] = q->retry_after[0] = '\0';
        q->ratelimit_remaining[0] = q->ratelimit_limit[0] = q->www_auth[0] = '\0';
        q->www_auth_overflow = false;
        q->content_length = -1;
        q->range_start = -1;
        q->location[0] = q->range[0] = q->upload_uuid[0] = '\0';
        q->chunk_min_length = -1;
        q->errbody_len = 0;
        q->errbody_seen = 0;
        q->errbody[0] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
        struct http_req *q = ud;
        size_t n = size * nmemb;
        const char *v;
        size_t vn;

        if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
                /* a new response (after 100 Continue, say): forget the previous headers */
                reset_response(q);
                const char *sp = memchr(line, ' ', n);
                if (sp && (size_t) (sp - line) + 4 <= n) {
                        long s = 0;
                        for (int i = 1; i <= 3; i++)
                                if (sp[i] >= '0' && sp[i] <= '9')
                                        s = s * 10 + (sp[i] - '0');
                        q->status = s;
                }
                return n;
        }
        if (header_is(line, n, "content-type", &v, &vn)) {
                char full[256];
                trim_value(v, vn, full, sizeof(full));
                char *semi = strchr(full, ';');
                if (semi)
                        *semi = '\0';
                trim_value(full, strlen(full), q->content_type, sizeof(q->content_type));
        } else if (header_is(line, n, "docker-content-digest", &v, &vn)) {
                trim_value(v, vn, q->docker_digest, sizeof(q->docker_digest));
        } else if (header_is(line, n, "location", &v, &vn)) {
                if (vn < sizeof(q->location))
                        trim_value(v, vn, q->location, sizeof(q->location));
        } else if (header_is(line, n, "range", &v, &vn)) {
                trim_value(v, vn, q->range, sizeof(q->range));
        } else if (header_is(line, n, "docker-upload-uuid", &v, &vn)) {
                trim_value(v, vn, q->upload_uuid, sizeof(q->upload_uuid));
        } else if (header_is(line, n, "oci-chunk-min-length", &v, &vn)) {
                char num[32];
                trim_value(v, vn, num, sizeof(num));
                char *end;
                errno = 0;
                long long m = strtoll(num, &end, 10);
                if (!errno && end != num && *end == '\0' && m >= 0)
                        q->chunk_min_length = m;
        } else if (header_is(line, n, "retry-after", &v, &vn)) {
                trim_value(v, vn, q->retry_after, sizeof(q->retry_after));
        } else if (header_is(line, n, "ratelimit-remaining", &v, &vn)) {
                trim_value(v, vn, q->ratelimit_remaining, sizeof(q->ratelimit_remaining));
        } else if (header_is(line, n, "ratelimit-limit", &v, &vn)) {
                trim_value(v, vn, q->ratelimit_limit, sizeof(q->ratelimit_limit));
        } else if (header_is(line, n, "www-authenticate", &v, &vn)) {
                /* several headers are equivalent to one comma-joined list */
                char one[AUTH_HEADER_MAX + 1];
                trim_value(v, vn, one, sizeof(one));
                size_t cur = strlen(q->www_auth), add = strlen(one);
                if (vn > AUTH_HEADER_MAX || cur + add + 2 > AUTH_HEADER_MAX)
                        q->www_auth_overflow = true;
                else if (cur == 0)
                        memcpy(q->www_auth, one, add + 1);
                else {
                        memcpy(q->www_auth + cur, ", ", 2);
                        memcpy(q->www_auth + cur + 2, one, add + 1);
                }
        } else if (header_is(line, n, "content-length", &v, &vn)) {
                char num[32];
                trim_value(v, vn, num, sizeof(num));
                char *end;
                errno = 0;
                long long cl = strtoll(num, &end, 10);
                if (!errno && *end == '\0' && cl >= 0)
                        q->content_length = cl;
        } else if (header_is(line, n, "content-range", &v, &vn)) {
                /* "bytes START-END/TOTAL" */
                char cr[128];
                trim_value(v, vn, cr, sizeof(cr));
                unsigned long long start = 0;
                char *end;
                if (strncasecmp(cr, "bytes ", 6) == 0 && cr[6] >= '0' && cr[6] <= '9') {
                        errno = 0;
                        start = strtoull(cr + 6, &end, 10);
                        if (!errno && *end == '-' && start <= INT64_MAX)
                                q->range_start = (int64_t) start;
                }
        } else if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
                /* A 206 must continue exactly where we stopped: a server that starts earlier
                 * would hand the sink bytes it already has, one that starts later a gap. */
                uint64_t start = 0;
                if (q->status == 206 && (q->delivered > 0 || q->range_start >= 0)) {
                        if (q->range_start < 0 || (uint64_t) q->range_start > q->delivered) {
                                q->bad_range = true;
                                q->abort_code = -EIO;
                                return 0;
                        }
                        start = (uint64_t) q->range_start;
                }
                /* end of headers: refuse oversized bodies before reading them */
                if (status_ok(q->status) && q->max_total && q->content_length >= 0) {
                        uint64_t total = (uint64_t) q->content_length + start;
                        if (total > q->max_total) {
                                q->abort_code = -EFBIG;
                                return 0;
                        }
                }
                /* the whole body again (or an earlier start): drop what we have */
                if (status_ok(q->status))
                        q->skip = q->delivered - start;
        }
        return n;
}

void http_answer_reset(struct http_req *q) {
        reset_response(q);
}

size_t http_answer_header(struct http_req *q, char *line, size_t n) {
        return on_header(line, 1, n, q);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
        struct http_req *q = ud;
        size_t n = size * nmemb;
        if (!status_ok(q->status)) {
                size_t room = sizeof(q->errbody) - 1 - q->errbody_len;
                size_t take = n < room ? n : room;
                memcpy(q->errbody + q->errbody_len, ptr, take);
                q->errbody_len += take;
                q->errbody[q->errbody_len] = '\0';
                q->errbody_seen += n;
                if (q->errbody_seen > ERROR_BODY_READ_MAX) {
                        q->abort_code = -EMSGSIZE;
                        return 0;
                }
                return n;
        }
        const char *p = ptr;
        size_t len = n;
        if (q->skip) {
                size_t drop = q->skip < len ? (size_t) q->skip : len;
                p += drop;
                len -= drop;
                q->skip -= drop;
        }
        if (len == 0)
                return n;
        if (q->max_total && q->delivered + len > q->max_total) {
                q->abort_code = -EFBIG;
                return 0;
        }
        if (q->on_body) {
                int r = q->on_body(q->ud, p, len);
                if (r < 0) {
                        q->abort_code = r;
                        return 0;
                }
        }
        q->delivered += len;
        return n;
}

static CURL *easy_get(struct xarch_registry *r) {
        CURL *c = NULL;
        pthread_mutex_lock(&r->lock);
        if (r->pool_len > 0)
                c = r->pool[--r->pool_len];
        pthread_mutex_unlock(&r->lock);
        if (c)
                curl_easy_reset(c);
        else
                c = curl_easy_init();
        return c;
}

static void easy_put(struct xarch_registry *r, CURL *c) {
        pthread_mutex_lock(&r->lock);
        if (r->pool_len < EASY_POOL_MAX) {
                r->pool[r->pool_len++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&r->lock);
        if (c)
                curl_easy_cleanup(c);
}

/* ---- plain HTTP without libcurl (http1.c) ---- */

/* Whether an idle connection has something to read: bytes nobody asked for, or the server's
 * close. Either way it cannot carry the next request. */
static bool idle_conn_dirty(const struct http1_conn *c) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        return poll(&p, 1, 0) != 0;
}

static struct http1_conn *idle_take(struct xarch_registry *r, const char *host, unsigned port) {
        for (;;) {
                struct http1_conn *c = NULL;
                pthread_mutex_lock(&r->lock);
                for (size_t i = r->idle_len; i-- > 0;)
                        if (r->idle[i]->port == port && streq(r->idle[i]->host, host)) {
                                c = r->idle[i];
                                r->idle[i] = r->idle[--r->idle_len];
                                break;
                        }
                pthread_mutex_unlock(&r->lock);
                if (!c || !idle_conn_dirty(c))
                        return c;
                http1_close(c);
                free(c);
        }
}

static void idle_put(struct xarch_registry *r, struct http1_conn *c) {
        c->reused = true;
        pthread_mutex_lock(&r->lock);
        if (r->idle_len < EASY_POOL_MAX) {
                r->idle[r->idle_len++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&r->lock);
        if (c) {
                http1_close(c);
                free(c);
        }
}

static CURLcode http1_result_code(int r) {
        switch (r) {
        case HTTP1_OK:
                return CURLE_OK;
        case HTTP1_RESOLVE:
                return CURLE_COULDNT_RESOLVE_HOST;
        case HTTP1_CONNECT:
                return CURLE_COULDNT_CONNECT;
        case HTTP1_TIMEOUT:
        case HTTP1_DEADLINE:
                return CURLE_OPERATION_TIMEDOUT;
        case HTTP1_SEND:
                return CURLE_SEND_ERROR;
        case HTTP1_NOTHING:
                return CURLE_GOT_NOTHING;
        case HTTP1_RECV:
                return CURLE_RECV_ERROR;
        case HTTP1_PARTIAL:
                return CURLE_PARTIAL_FILE;
        case HTTP1_ABORTED:
                return CURLE_WRITE_ERROR;
        default:
                return CURLE_WEIRD_SERVER_REPLY;
        }
}

/* A header value we write ourselves must not be able to end or split its line. */
static bool header_value_ok(const char *v) {
        for (const unsigned char *p = (const unsigned char *) v; p && *p; p++)
                if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                        return false;
        return true;
}

/* ---- request bodies ---- */

/* Reads the next piece of q's body (at most len bytes; never past a declared length). Returns
 * the byte count, 0 at the end, or -errno (the source's, or -EIO when it ends early). */
static ssize_t body_next(struct http_body *b, void *buf, size_t len) {
        if (b->length >= 0) {
                uint64_t left = (uint64_t) b->length - b->sent;
                if (left == 0)
                        return 0;
                if (len > left)
                        len = (size_t) left;
        }
        ssize_t n;
        if (b->fd >= 0) {
                do
                        n = pread(b->fd, buf, len, (off_t) (b->offset + b->sent));
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        n = -errno;
        } else {
                n = b->read(b->ud, buf, len);
        }
        if (n < 0)
                return n;
        if (n == 0 && b->length >= 0)
                return -EIO; /* shorter than its Content-Length: the server would wait for more */
        if ((size_t) n > len)
                return -EIO;
        b->sent += (uint64_t) n;
        return n;
}

/* Back to the body's first byte for a new attempt; -ESPIPE when the source cannot restart. */
static int body_restart(struct http_body *b) {
        if (!b)
                return 0;
        if (b->fd < 0 && b->sent > 0) {
                if (!b->rewind)
                        return -ESPIPE;
                int r = b->rewind(b->ud);
                if (r < 0)
                        return r;
        }
        b->sent = 0;
        return 0;
}

/* Whether the method sends a body even when the caller has none (then Content-Length: 0). */
static bool method_has_body(const char *m) {
        return streq(m, "POST") || streq(m, "PUT") || streq(m, "PATCH");
}

/* Streams q->body over an http1.c connection, chunked when its length is unknown. */
static int http1_send_body(struct http1_conn *c, struct http_req *q) {
        struct http_body *b = q->body;
        bool chunked = b->length < 0;
        _cleanup_free_ char *buf = malloc(64 * 1024 + 32);
        if (!buf) {
                snprintf(q->curl_err, sizeof(q->curl_err), "out of memory");
                return HTTP1_SEND;
        }
        for (;;) {
                /* room for the chunk-size line in front and CRLF after */
                char *data = buf + 16;
                ssize_t n = body_next(b, data, 64 * 1024);
                if (n < 0) {
                        q->abort_code = (int) n;
                        snprintf(q->curl_err, sizeof(q->curl_err), "reading the request body: %s",
                                        strerror((int) -n));
                        return HTTP1_ABORTED;
                }
                if (n == 0)
                        return chunked ? http1_send(c, "0\r\n\r\n", 5, q->curl_err,
                                                         sizeof(q->curl_err))
                                       : HTTP1_OK;
                const char *out = data;
                size_t len = (size_t) n;
                if (chunked) {
                        char size_line[16];
                        int k = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
                        memcpy(data - k, size_line, (size_t) k);
                        memcpy(data + len, "\r\n", 2);
                        out = data - k;
                        len += (size_t) k + 2;
                }
                int res = http1_send(c, out, len, q->curl_err, sizeof(q->curl_err));
                if (res != HTTP1_OK)
                        return res;
        }
}

/* The request head for http1.c; NULL when out of memory. */
static char *http1_request_head(struct xarch_registry *r, struct http_req *q,
                const struct http1_url *u, size_t *ret_len) {
        char *head = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&head, &len);
        if (!f)
                return NULL;
        fprintf(f, "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", q->method,
                        u->target[0] == '?' ? "/" : "", u->target, u->authority, r->user_agent);
        if (q->accept)
                fprintf(f, "Accept: %s\r\n", q->accept);
        if (q->authorization[0])
                fprintf(f, "Authorization: %s\r\n", q->authorization);
        if (q->delivered > 0 && streq(q->method, "GET"))
                fprintf(f, "Range: bytes=%llu-\r\n", (unsigned long long) q->delivered);
        for (size_t i = 0; i < HTTP_EXTRA_HEADERS_MAX && q->extra_headers[i]; i++)
                fprintf(f, "%s\r\n", q->extra_headers[i]);
        if (q->body) {
                if (q->body_type)
                        fprintf(f, "Content-Type: %s\r\n", q->body_type);
                if (q->body->length >= 0)
                        fprintf(f, "Content-Length: %llu\r\n",
                                        (unsigned long long) q->body->length);
                else
                        fprintf(f, "Transfer-Encoding: chunked\r\n");
                fputs("\r\n", f);
        } else if (q->post_fields) {
                fprintf(f, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                                q->body_type ? q->body_type : "application/x-www-form-urlencoded",
                                strlen(q->post_fields), q->post_fields);
        } else {
                if (method_has_body(q->method)) {
                        if (q->body_type)
                                fprintf(f, "Content-Type: %s\r\n", q->body_type);
                        fputs("Content-Length: 0\r\n", f);
                }
                fputs("\r\n", f);
        }
        if (fclose(f) != 0) {
                if (head)
                        explicit_bzero(head, len);
                free(head);
                return NULL;
        }
        *ret_len = len;
        return head;
}

/* Whether every header value we are about to write is one line. */
static bool request_headers_ok(struct xarch_registry *r, const struct http_req *q) {
        if (!header_value_ok(r->user_agent) || !header_value_ok(q->accept) ||
                        !header_value_ok(q->authorization) || !header_value_ok(q->body_type) ||
                        !header_value_ok(q->method) || strpbrk(q->method, " \t"))
                return false;
        for (size_t i = 0; i < HTTP_EXTRA_HEADERS_MAX && q->extra_headers[i]; i++)
                if (!header_value_ok(q->extra_headers[i]) || !strchr(q->extra_headers[i], ':'))
                        return false;
        return true;
}

/* http_once() for an http:// URL over http1.c: the same request, the same header and body
 * callbacks, the result mapped onto the CURLcode values the retry and error logic know. */
static int http_once_direct(struct xarch_registry *r, struct http_req *q) {
        struct http1_url u;
        if (http1_parse_url(q->url, &u) < 0) {
                q->code = CURLE_URL_MALFORMAT;
                snprintf(q->curl_err, sizeof(q->curl_err), "malformed URL");
                return -EIO;
        }
        if (!request_headers_ok(r, q)) {
                q->code = CURLE_BAD_FUNCTION_ARGUMENT;
                snprintf(q->curl_err, sizeof(q->curl_err), "a header value holds control bytes");
                return -EIO;
        }
        bool head = streq(q->method, "HEAD");
        size_t reqlen = 0;
        char *req = http1_request_head(r, q, &u, &reqlen);
        if (!req) {
                q->code = CURLE_OUT_OF_MEMORY;
                snprintf(q->curl_err, sizeof(q->curl_err), "out of memory");
                return -ENOMEM;
        }

        struct http1_callbacks cb = {.on_header = on_header, .on_body = on_write, .ud = q};
        struct http1_response resp = {};
        struct http1_conn *c = NULL;
        int res = HTTP1_OK;
        /* A kept-alive connection the server has meanwhile closed shows as nothing at all
         * coming back: that one request goes again on a new connection (when its body can). */
        for (int tries = 0; tries < 2; tries++) {
                c = idle_take(r, u.host, u.port);
                if (!c) {
                        c = malloc(sizeof(*c));
                        if (!c) {
                                res = HTTP1_CONNECT;
                                snprintf(q->curl_err, sizeof(q->curl_err), "out of memory");
                                break;
                        }
                        res = http1_connect(c, u.host, u.port, 30 * 1000, q->curl_err,
                                        sizeof(q->curl_err));
                        if (res != HTTP1_OK) {
                                free(c);
                                c = NULL;
                                break;
                        }
                        atomic_fetch_add(&r->n_connections, 1);
                }
                bool reused = c->reused;
                http1_deadline_start(c, r->deadline_base_ms, HTTP_DEADLINE_RATE);
                res = http1_send(c, req, reqlen, q->curl_err, sizeof(q->curl_err));
                if (res == HTTP1_OK && q->body)
                        res = http1_send_body(c, q);
                if (res == HTTP1_OK)
                        res = http1_read_response(
                                        c, head, &cb, &resp, q->curl_err, sizeof(q->curl_err));
                if (res == HTTP1_OK || !reused || resp.got_bytes || q->abort_code ||
                                body_restart(q->body) < 0)
                        break;
                http1_close(c);
                free(c);
                c = NULL;
                q->curl_err[0] = '\0';
        }
        explicit_bzero(req, reqlen);
        free(req);

        atomic_fetch_add(&r->n_bytes, resp.body_bytes);
        if (c) {
                if (res == HTTP1_OK && resp.keep_alive) {
                        idle_put(r, c);
                } else {
                        http1_close(c);
                        free(c);
                }
        }
        q->code = http1_result_code(res);
        q->deadline_hit = res == HTTP1_DEADLINE;
        if (res != HTTP1_OK)
                return -EIO;
        q->curl_err[0] = '\0';
        q->status = resp.status;
        if (q->status >= 300 && q->status < 400 && q->location[0] &&
                        http1_resolve_location(
                                        q->url, q->location, q->redirect, sizeof(q->redirect)) < 0)
                q->redirect[0] = '\0';
        return 0;
}

/* libcurl's read callback over struct http_body. */
static size_t curl_read_body(char *buf, size_t size, size_t nitems, void *ud) {
        struct http_req *q = ud;
        ssize_t n = body_next(q->body, buf, size * nitems);
        if (n < 0) {
                q->abort_code = (int) n;
                return CURL_READFUNC_ABORT;
        }
        return (size_t) n;
}

/* libcurl's progress callback: the overall deadline (its own CURLOPT_TIMEOUT cannot grow with
 * the bytes moved). Called at least once a second, data or not. */
static int curl_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                curl_off_t ulnow) {
        struct http_req *q = ud;
        struct xarch_registry *r = q->client;
        uint64_t moved = (uint64_t) (dlnow > 0 ? dlnow : 0) + (uint64_t) (ulnow > 0 ? ulnow : 0);
        if (deadline_passed(r, q->start_ms, moved)) {
                q->deadline_hit = true;
                return 1;
        }
        return 0;
}

static bool slist_add(struct curl_slist **list, const char *line) {
        struct curl_slist *tmp = curl_slist_append(*list, line);
        if (!tmp)
                return false;
        *list = tmp;
        return true;
}

/* http_once() over a libcurl easy handle. */
static int http_once_curl(struct xarch_registry *r, struct http_req *q) {
        int ready = curl_ready(r, q->curl_err, sizeof(q->curl_err));
        if (ready < 0) {
                q->code = CURLE_FAILED_INIT;
                return ready;
        }
        if (!request_headers_ok(r, q)) {
                q->code = CURLE_BAD_FUNCTION_ARGUMENT;
                snprintf(q->curl_err, sizeof(q->curl_err), "a header value holds control bytes");
                return -EIO;
        }
        CURL *c = easy_get(r);
        if (!c)
                return -ENOMEM;
        struct curl_slist *headers = NULL;
        char line[sizeof(q->authorization) + 32];
        bool ok = true;

        if (q->accept) {
                snprintf(line, sizeof(line), "Accept: %s", q->accept);
                ok &= slist_add(&headers, line);
        }
        if (q->authorization[0]) {
                snprintf(line, sizeof(line), "Authorization: %s", q->authorization);
                ok &= slist_add(&headers, line);
                explicit_bzero(line, sizeof(line));
        }
        for (size_t i = 0; i < HTTP_EXTRA_HEADERS_MAX && q->extra_headers[i]; i++)
                ok &= slist_add(&headers, q->extra_headers[i]);
        if (q->body_type) {
                snprintf(line, sizeof(line), "Content-Type: %s", q->body_type);
                ok &= slist_add(&headers, line);
        }
        char range[64];
        if (q->delivered > 0 && streq(q->method, "GET")) {
                snprintf(range, sizeof(range), "%llu-", (unsigned long long) q->delivered);
                curl_easy_setopt(c, CURLOPT_RANGE, range);
        }

        curl_easy_setopt(c, CURLOPT_URL, q->url);
        curl_easy_setopt(c, CURLOPT_SHARE, r->share);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        /* a pooled handle keeps its connections: libcurl does not reuse an HTTP/2 one for a
         * request that wants HTTP/1.1, so a push opens its own */
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                        (long) (q->http1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS));
        curl_easy_setopt(c, CURLOPT_USERAGENT, r->user_agent);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, q->curl_err);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        /* a stalled transfer (less than 1 byte/s for a minute) counts as dropped */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, curl_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, q);
        if (r->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
        if (r->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (streq(q->method, "HEAD")) {
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (q->body) {
                /* no "Expect: 100-continue" round trip before large bodies */
                ok &= slist_add(&headers, "Expect:");
                curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(c, CURLOPT_READFUNCTION, curl_read_body);
                curl_easy_setopt(c, CURLOPT_READDATA, q);
                if (q->body->length >= 0)
                        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) q->body->length);
                else
                        ok &= slist_add(&headers, "Transfer-Encoding: chunked");
                if (!streq(q->method, "PUT"))
                        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
        } else if (q->post_fields || method_has_body(q->method)) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->post_fields ? q->post_fields : "");
                if (!streq(q->method, "POST"))
                        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
        } else if (!streq(q->method, "GET")) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

        if (ok) {
                q->code = curl_easy_perform(c);
                if (q->code == CURLE_ABORTED_BY_CALLBACK && q->deadline_hit) {
                        q->code = CURLE_OPERATION_TIMEDOUT;
                        snprintf(q->curl_err, sizeof(q->curl_err),
                                        "the response took longer than its deadline");
                }
        } else {
                q->code = CURLE_OUT_OF_MEMORY;
                snprintf(q->curl_err, sizeof(q->curl_err), "out of memory");
        }

        long status = 0, connects = 0, version = 0;
        curl_off_t downloaded = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &downloaded);
        curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
        if (version == CURL_HTTP_VERSION_2_0)
                atomic_fetch_add(&r->n_http2, 1);
        if (status)
                q->status = status;
        atomic_fetch_add(&r->n_connections, (uint64_t) (connects > 0 ? connects : 0));
        atomic_fetch_add(&r->n_bytes, (uint64_t) (downloaded > 0 ? downloaded : 0));
        if (q->code == CURLE_OK && q->status >= 300 && q->status < 400) {
                char *loc = NULL;
                if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
                        snprintf(q->redirect, sizeof(q->redirect), "%s", loc);
        }
        /* The easy handle keeps header pointers; drop them before the list goes away. */
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(headers);
        easy_put(r, c);
        if (q->code != CURLE_OK)
                return -EIO;
        return 0;
}

/* One HTTP exchange, no retries: plain HTTP over http1.c unless libcurl is wanted (proxies,
 * XARCH_HTTP=curl), everything else over libcurl. Returns 0 when a response arrived (any
 * status), <0 with q->code / q->abort_code set otherwise. */
int http_once(struct xarch_registry *r, struct http_req *q) {
        reset_response(q);
        q->curl_err[0] = '\0';
        q->redirect[0] = '\0';
        q->skip = 0;
        q->abort_code = 0;
        q->bad_range = false;
        q->deadline_hit = false;
        q->client = r;
        q->start_ms = mono_ms();
        int br = body_restart(q->body);
        if (br < 0) {
                q->abort_code = br;
                q->code = CURLE_SEND_FAIL_REWIND;
                snprintf(q->curl_err, sizeof(q->curl_err), "the request body cannot be sent again");
                return br;
        }
        q->attempts++;
        atomic_fetch_add(&r->n_requests, 1);
        if (r->direct_http && url_is_http(q->url))
                return http_once_direct(r, q);
        return http_once_curl(r, q);
}
