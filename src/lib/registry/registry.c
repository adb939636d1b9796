/* SPDX-License-Identifier: MIT */
/*
 * The registry client. Design:
 * - Blocking easy handles, one per call in flight, taken from a LIFO pool: each pooled handle
 *   keeps its own live connections, so sequential and threaded calls reuse connections
 *   (keep-alive, HTTP/2 via ALPN where offered). A CURLSH with a mutex per lock class shares
 *   the DNS cache and TLS sessions between handles. Connections themselves are deliberately
 *   not shared through the CURLSH: libcurl does not support one connection cache used by
 *   concurrent threads (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT).
 * - Per registry host: a counting semaphore (max_per_registry), the decided scheme (https, or
 *   http for loopback/--insecure after a TLS handshake failure), and the auth scheme learnt
 *   from the first 401 so later requests authenticate up front.
 * - Tokens are cached per host + scope under the client mutex.
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

#include <jansson.h>

#include "registry/auth.h"
#include "registry/cache.h"
#include "registry/curl-lazy.h"
#include "registry/http1.h"
#include "macro.h"
#include "base/membuf.h"
#include "registry/registry.h"
#include "xarch/registry.h"

#define URL_MAX              4096
#define TOKEN_BODY_MAX       (64 * 1024)
#define ERROR_BODY_MAX       (16 * 1024)
#define BLOB_BUF_DEFAULT_MAX (8u * 1024 * 1024)
#define RETRY_AFTER_MAX      60 /* seconds we are willing to wait for a Retry-After */
#define BACKOFF_MAX_MS       8000
#define REDIRECTS_MAX        5
#define EASY_POOL_MAX        16
#define DEFAULT_PER_REGISTRY 6
#define DEFAULT_RETRIES      4
/* "Basic " + base64 of the longest "user:secret" auth_lookup() accepts (and bearer tokens up
 * to that size) */
#define AUTHORIZATION_MAX (6 + 4 * ((AUTH_USERNAME_MAX + AUTH_SECRET_MAX + 2) / 3 + 1) + 1)

struct host_state {
        char host[XARCH_REF_REGISTRY_MAX];
        bool scheme_known;
        bool use_http;
        enum auth_scheme auth;
        char realm[AUTH_REALM_MAX];
        char service[AUTH_SERVICE_MAX];
        unsigned in_flight;
        pthread_cond_t slot_free;
        struct host_state *next;
};

struct token_entry {
        char *key; /* host + ' ' + scope */
        char *token;
        time_t expires;
        struct token_entry *next;
};

struct cred_entry {
        char key[XARCH_REF_REGISTRY_MAX + XARCH_REF_REPOSITORY_MAX + 2];
        int found; /* 1 found, 0 none */
        struct auth_credentials creds;
        struct cred_entry *next;
};

struct xarch_registry {
        char *ca_file;
        char *auth_file;
        char *cache_dir; /* NULL = no cache */
        char *user_agent;
        bool insecure;
        unsigned max_per_registry;
        unsigned max_retries;
        unsigned backoff_base_ms;

        bool direct_http; /* plain-HTTP requests go through http1.c, not libcurl */

        pthread_mutex_t curl_lock; /* guards loading libcurl and creating `share` */
        CURLSH *share;             /* NULL until the first request through libcurl */
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

        pthread_mutex_t lock; /* guards everything below */
        struct host_state *hosts;
        struct token_entry *tokens;
        struct cred_entry *creds;
        CURL *pool[EASY_POOL_MAX];
        size_t pool_len;
        struct http1_conn *idle[EASY_POOL_MAX]; /* kept-alive plain-HTTP connections */
        size_t idle_len;

        atomic_uint_least64_t n_requests, n_token_requests, n_retries, n_cache_hits, n_connections,
                        n_bytes, n_http2;
};

/* ---- small parsers (internal API, unit-tested) ---- */

long registry_parse_retry_after(const char *value, time_t now) {
        if (!value || !*value)
                return -1;
        while (*value == ' ' || *value == '\t')
                value++;
        if (*value >= '0' && *value <= '9') {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(value, &end, 10);
                while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
                        end++;
                if (errno || *end)
                        return -1;
                return v > 86400 * 365ULL ? 86400 * 365L : (long) v;
        }
        struct tm tm = {};
        const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (!end)
                return -1;
        time_t when = timegm(&tm);
        if (when == (time_t) -1)
                return -1;
        return when > now ? (long) (when - now) : 0;
}

static void sanitize_copy(char *out, size_t out_size, const char *in) {
        size_t n = 0;
        for (; in && *in && n + 1 < out_size; in++)
                out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
        if (out_size)
                out[n] = '\0';
}

int registry_parse_error_body(const char *body, size_t len, char code[64], char message[256]) {
        json_error_t jerr;
        code[0] = message[0] = '\0';
        if (!body || len == 0)
                return -EBADMSG;
        json_t *root = json_loadb(body, len, 0, &jerr);
        json_t *errors = json_object_get(root, "errors");
        json_t *first = json_array_get(errors, 0);
        const char *c = json_string_value(json_object_get(first, "code"));
        const char *m = json_string_value(json_object_get(first, "message"));
        int r = -EBADMSG;
        if (c) {
                sanitize_copy(code, 64, c);
                sanitize_copy(message, 256, m ? m : "");
                r = 0;
        }
        json_decref(root);
        return r;
}

long registry_parse_ratelimit(const char *value, long *window_seconds) {
        if (window_seconds)
                *window_seconds = 0;
        if (!value)
                return -1;
        while (*value == ' ')
                value++;
        if (*value < '0' || *value > '9')
                return -1;
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || v < 0)
                return -1;
        const char *w = strstr(end, "w=");
        if (w && window_seconds) {
                long ws = strtol(w + 2, NULL, 10);
                *window_seconds = ws > 0 ? ws : 0;
        }
        return v;
}

bool registry_url_same_origin(const char *a, const char *b) {
        char s1[16], h1[512], s2[16], h2[512];
        unsigned p1, p2;
        if (!http1_url_origin(a, s1, sizeof(s1), h1, sizeof(h1), &p1) ||
                        !http1_url_origin(b, s2, sizeof(s2), h2, sizeof(h2), &p2))
                return false;
        return streq(s1, s2) && streq(h1, h2) && p1 == p2;
}

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
static bool url_is_loopback(const char *url) {
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

static bool url_is_https(const char *url) {
        return strncasecmp(url, "https://", 8) == 0;
}

static bool url_is_http(const char *url) {
        return strncasecmp(url, "http://", 7) == 0;
}

/* ---- client lifecycle ---- */

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
        pthread_mutex_init(&r->curl_lock, NULL);
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_init(&r->share_locks[i], NULL);
        r->insecure = opts->insecure;
        r->max_per_registry =
                        opts->max_per_registry ? opts->max_per_registry : DEFAULT_PER_REGISTRY;
        r->max_retries = opts->no_retry ? 0
                                        : (opts->max_retries ? opts->max_retries : DEFAULT_RETRIES);
        r->backoff_base_ms = 250;
        r->direct_http = direct_http_allowed();
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

void xarch_registry_free(struct xarch_registry *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->pool_len; i++)
                curl_easy_cleanup(r->pool[i]);
        for (size_t i = 0; i < r->idle_len; i++) {
                http1_close(r->idle[i]);
                free(r->idle[i]);
        }
        if (r->share)
                curl_share_cleanup(r->share);
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
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_destroy(&r->share_locks[i]);
        pthread_mutex_destroy(&r->curl_lock);
        pthread_mutex_destroy(&r->lock);
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

/* ---- per-host state and concurrency ---- */

static struct host_state *host_get(struct xarch_registry *r, const char *host) {
        pthread_mutex_lock(&r->lock);
        struct host_state *h;
        for (h = r->hosts; h; h = h->next)
                if (streq(h->host, host))
                        break;
        if (!h) {
                h = calloc(1, sizeof(*h));
                if (h) {
                        snprintf(h->host, sizeof(h->host), "%s", host);
                        pthread_cond_init(&h->slot_free, NULL);
                        h->next = r->hosts;
                        r->hosts = h;
                }
        }
        pthread_mutex_unlock(&r->lock);
        return h;
}

static void host_acquire(struct xarch_registry *r, struct host_state *h) {
        pthread_mutex_lock(&r->lock);
        while (h->in_flight >= r->max_per_registry)
                pthread_cond_wait(&h->slot_free, &r->lock);
        h->in_flight++;
        pthread_mutex_unlock(&r->lock);
}

static void host_release(struct xarch_registry *r, struct host_state *h) {
        pthread_mutex_lock(&r->lock);
        h->in_flight--;
        pthread_cond_signal(&h->slot_free);
        pthread_mutex_unlock(&r->lock);
}

/* ---- HTTP ---- */

typedef int (*body_fn)(void *ud, const void *buf, size_t len);

struct http_req {
        /* input */
        const char *method; /* "GET", "HEAD" or "POST" */
        char url[URL_MAX];
        const char *accept;
        char authorization[AUTHORIZATION_MAX]; /* "" = none */
        const char *post_fields;
        uint64_t max_total; /* cap on body bytes delivered over all attempts; 0 = none */
        body_fn on_body;
        void *ud;

        /* state across attempts */
        uint64_t delivered; /* body bytes handed to on_body so far */
        unsigned attempts;

        /* per attempt, filled from the response */
        long status;
        CURLcode code;
        char curl_err[CURL_ERROR_SIZE];
        char content_type[256];
        char docker_digest[XARCH_DIGEST_MAX];
        char retry_after[64];
        char ratelimit_remaining[64];
        char ratelimit_limit[64];
        char www_auth[AUTH_HEADER_MAX + 1];
        bool www_auth_overflow;
        int64_t content_length;
        int64_t range_start; /* first byte of a 206 body (Content-Range), -1 when absent */
        uint64_t skip;       /* leading bytes to drop (a 200 answering a Range request) */
        char redirect[URL_MAX];
        char location[URL_MAX]; /* the Location header as sent (plain-HTTP transport) */
        char errbody[ERROR_BODY_MAX];
        size_t errbody_len;
        int abort_code;
        bool bad_range;          /* abort_code: a 206 that does not resume where we stopped */
        bool no_transport_retry; /* a dropped connection is an answer (scheme probes) */
};

static bool status_ok(long s) {
        return s >= 200 && s < 300;
}

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
        q->location[0] = '\0';
        q->errbody_len = 0;
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

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
        struct http_req *q = ud;
        size_t n = size * nmemb;
        if (!status_ok(q->status)) {
                size_t room = sizeof(q->errbody) - 1 - q->errbody_len;
                size_t take = n < room ? n : room;
                memcpy(q->errbody + q->errbody_len, ptr, take);
                q->errbody_len += take;
                q->errbody[q->errbody_len] = '\0';
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

/* http_once() for an http:// URL over http1.c: the same request, the same header and body
 * callbacks, the result mapped onto the CURLcode values the retry and error logic know. */
static int http_once_direct(struct xarch_registry *r, struct http_req *q) {
        struct http1_url u;
        if (http1_parse_url(q->url, &u) < 0) {
                q->code = CURLE_URL_MALFORMAT;
                snprintf(q->curl_err, sizeof(q->curl_err), "malformed URL");
                return -EIO;
        }
        if (!header_value_ok(r->user_agent) || !header_value_ok(q->accept) ||
                        !header_value_ok(q->authorization)) {
                q->code = CURLE_BAD_FUNCTION_ARGUMENT;
                snprintf(q->curl_err, sizeof(q->curl_err), "a header value holds control bytes");
                return -EIO;
        }

        bool post = streq(q->method, "POST"), head = streq(q->method, "HEAD");
        const char *body = post && q->post_fields ? q->post_fields : "";
        char range[64] = "", length[128] = "";
        if (q->delivered > 0)
                snprintf(range, sizeof(range), "Range: bytes=%llu-\r\n",
                                (unsigned long long) q->delivered);
        if (post)
                snprintf(length, sizeof(length),
                                "Content-Type: application/x-www-form-urlencoded\r\n"
                                "Content-Length: %zu\r\n",
                                strlen(body));
        char *req = NULL;
        int reqlen = asprintf(&req,
                        "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n%s%s%s%s%s%s%s%s\r\n%s",
                        q->method, u.target[0] == '?' ? "/" : "", u.target, u.authority,
                        r->user_agent, q->accept ? "Accept: " : "", q->accept ? q->accept : "",
                        q->accept ? "\r\n" : "", q->authorization[0] ? "Authorization: " : "",
                        q->authorization, q->authorization[0] ? "\r\n" : "", range, length, body);
        if (reqlen < 0) {
                q->code = CURLE_OUT_OF_MEMORY;
                snprintf(q->curl_err, sizeof(q->curl_err), "out of memory");
                return -ENOMEM;
        }

        struct http1_callbacks cb = {.on_header = on_header, .on_body = on_write, .ud = q};
        struct http1_response resp = {};
        struct http1_conn *c = NULL;
        int res = HTTP1_OK;
        /* A kept-alive connection the server has meanwhile closed shows as nothing at all
         * coming back: that one request goes again on a new connection. */
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
                res = http1_send(c, req, (size_t) reqlen, q->curl_err, sizeof(q->curl_err));
                if (res == HTTP1_OK)
                        res = http1_read_response(
                                        c, head, &cb, &resp, q->curl_err, sizeof(q->curl_err));
                if (res == HTTP1_OK || !reused || resp.got_bytes)
                        break;
                http1_close(c);
                free(c);
                c = NULL;
                q->curl_err[0] = '\0';
        }
        explicit_bzero(req, (size_t) reqlen);
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

/* http_once() over a libcurl easy handle. */
static int http_once_curl(struct xarch_registry *r, struct http_req *q) {
        int ready = curl_ready(r, q->curl_err, sizeof(q->curl_err));
        if (ready < 0) {
                q->code = CURLE_FAILED_INIT;
                return ready;
        }
        CURL *c = easy_get(r);
        if (!c)
                return -ENOMEM;
        struct curl_slist *headers = NULL, *tmp;
        char line[sizeof(q->authorization) + 32];

        if (q->accept) {
                snprintf(line, sizeof(line), "Accept: %s", q->accept);
                if ((tmp = curl_slist_append(headers, line)))
                        headers = tmp;
        }
        if (q->authorization[0]) {
                snprintf(line, sizeof(line), "Authorization: %s", q->authorization);
                if ((tmp = curl_slist_append(headers, line)))
                        headers = tmp;
                explicit_bzero(line, sizeof(line));
        }
        char range[64];
        if (q->delivered > 0) {
                snprintf(range, sizeof(range), "%llu-", (unsigned long long) q->delivered);
                curl_easy_setopt(c, CURLOPT_RANGE, range);
        }

        curl_easy_setopt(c, CURLOPT_URL, q->url);
        curl_easy_setopt(c, CURLOPT_SHARE, r->share);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(c, CURLOPT_USERAGENT, r->user_agent);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
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
        if (r->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
        if (r->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (streq(q->method, "HEAD")) {
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (streq(q->method, "POST")) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->post_fields ? q->post_fields : "");
        }

        q->code = curl_easy_perform(c);

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
static int http_once(struct xarch_registry *r, struct http_req *q) {
        reset_response(q);
        q->curl_err[0] = '\0';
        q->redirect[0] = '\0';
        q->skip = 0;
        q->abort_code = 0;
        q->bad_range = false;
        q->attempts++;
        atomic_fetch_add(&r->n_requests, 1);
        if (r->direct_http && url_is_http(q->url))
                return http_once_direct(r, q);
        return http_once_curl(r, q);
}

static bool curl_code_retryable(CURLcode code) {
        switch (code) {
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_OPERATION_TIMEDOUT:
                return true;
        default:
                return false;
        }
}

static void sleep_ms(unsigned long ms) {
        struct timespec ts = {
                        .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* One exchange with retries on 429, 5xx and dropped connections. Body bytes already delivered
 * are not delivered again: a retry asks for the rest with Range (and drops the prefix when the
 * server ignores Range). */
static int http_perform(struct xarch_registry *r, struct http_req *q) {
        q->attempts = 0;
        for (unsigned attempt = 0;; attempt++) {
                int rc = http_once(r, q);
                if (q->abort_code)
                        return q->abort_code;
                bool retry;
                if (rc < 0)
                        retry = curl_code_retryable(q->code);
                else
                        retry = q->status == 429 || q->status >= 500;
                if (!retry || (rc < 0 && q->no_transport_retry) || attempt >= r->max_retries)
                        return rc;
                /* max_retries is the caller's: keep the shift defined for any attempt count */
                unsigned shift = attempt < 16 ? attempt : 16;
                unsigned long wait_ms = (unsigned long) r->backoff_base_ms << shift;
                if (wait_ms > BACKOFF_MAX_MS)
                        wait_ms = BACKOFF_MAX_MS;
                if (rc == 0 && q->retry_after[0]) {
                        long s = registry_parse_retry_after(q->retry_after, time(NULL));
                        if (s > RETRY_AFTER_MAX)
                                return rc; /* too long to wait: report it */
                        if (s >= 0)
                                wait_ms = (unsigned long) s * 1000;
                }
                /* a little jitter so that parallel clients do not retry in lockstep */
                wait_ms += (unsigned long) (rand() % 50) * (r->backoff_base_ms ? 1 : 0);
                atomic_fetch_add(&r->n_retries, 1);
                sleep_ms(wait_ms);
        }
}

/* ---- errors ---- */

static int transport_error(struct http_req *q, const char *host, struct xarch_error **err) {
        /* the plain-HTTP transport always leaves a message; libcurl is loaded otherwise */
        const char *detail = q->curl_err[0] ? q->curl_err : curl_easy_strerror(q->code);
        switch (q->code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
                return xarch_error_set(
                                err, EHOSTUNREACH, "registry '%s' unreachable: %s", host, detail);
        case CURLE_OPERATION_TIMEDOUT:
                return xarch_error_set(err, EHOSTUNREACH,
                                "registry '%s' unreachable: timed out after %u attempts (%s)", host,
                                q->attempts, detail);
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
                return xarch_error_set(err, EPROTO, "TLS with '%s' failed: %s", host, detail);
        case CURLE_PARTIAL_FILE:
                return xarch_error_set(err, EIO,
                                "connection to '%s' closed before the whole body arrived (%u "
                                "attempts)",
                                host, q->attempts);
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
                return xarch_error_set(err, EIO, "connection to '%s' dropped (%s; %u attempts)",
                                host, detail, q->attempts);
        default:
                return xarch_error_set(err, EIO, "request to '%s' failed: %s", host, detail);
        }
}

/* Maps a final non-2xx response to an error. what: "manifest 'latest'", "blob 'sha256:...'". */
static int status_error(struct http_req *q, const struct xarch_ref *ref, const char *what,
                bool sent_credentials, struct xarch_error **err) {
        char code[64], msg[256];
        (void) registry_parse_error_body(q->errbody, q->errbody_len, code, msg);
        const char *reg = ref->registry, *repo = ref->repository;

        switch (q->status) {
        case 401:
                return xarch_error_set(err, EACCES, "unauthorized: %s '%s/%s'%s",
                                sent_credentials ? "credentials rejected for"
                                                 : "authentication required for",
                                reg, repo,
                                sent_credentials ? "" : " (no credentials found; log in first)");
        case 403:
                return xarch_error_set(err, EACCES, "denied: access to '%s/%s' refused%s%s%s", reg,
                                repo, *msg ? " (" : "", msg, *msg ? ")" : "");
        case 404:
                if (streq(code, "NAME_UNKNOWN"))
                        return xarch_error_set(err, ENOENT,
                                        "name unknown: repository '%s/%s' not found (NAME_UNKNOWN)",
                                        reg, repo);
                if (streq(code, "MANIFEST_UNKNOWN"))
                        return xarch_error_set(err, ENOENT,
                                        "manifest unknown: %s not found in '%s/%s' "
                                        "(MANIFEST_UNKNOWN)",
                                        what, reg, repo);
                if (streq(code, "BLOB_UNKNOWN"))
                        return xarch_error_set(err, ENOENT,
                                        "blob unknown: %s not found in '%s/%s' (BLOB_UNKNOWN)",
                                        what, reg, repo);
                return xarch_error_set(
                                err, ENOENT, "%s not found in '%s/%s' (HTTP 404)", what, reg, repo);
        case 429: {
                char extra[256] = "";
                long window = 0;
                long remaining = registry_parse_ratelimit(q->ratelimit_remaining, &window);
                long limit = registry_parse_ratelimit(q->ratelimit_limit, NULL);
                if (remaining >= 0) {
                        if (limit >= 0 && window > 0)
                                snprintf(extra, sizeof(extra),
                                                "; %ld of %ld pulls remaining per %ld h", remaining,
                                                limit, window / 3600 ? window / 3600 : 1);
                        else
                                snprintf(extra, sizeof(extra), "; %ld pulls remaining", remaining);
                }
                long after = registry_parse_retry_after(q->retry_after, time(NULL));
                char after_s[64] = "";
                if (after >= 0)
                        snprintf(after_s, sizeof(after_s), "; retry after %ld s", after);
                return xarch_error_set(err, EAGAIN,
                                "rate limited: '%s' refused %s (TOOMANYREQUESTS after %u "
                                "attempts)%s%s",
                                reg, what, q->attempts, extra, after_s);
        }
        default:
                if (q->status >= 500)
                        return xarch_error_set(err, EIO,
                                        "registry '%s' failed: HTTP %ld for %s after %u attempts",
                                        reg, q->status, what, q->attempts);
                return xarch_error_set(err, EIO, "registry '%s': unexpected HTTP %ld for %s%s%s%s",
                                reg, q->status, what, *code ? " (" : "", code, *code ? ")" : "");
        }
}

/* ---- credentials and tokens ---- */

/* Returns 1 with *ret filled, 0 when there are none, <0 on a broken auth file. Cached. */
static int creds_get(struct xarch_registry *r, const struct xarch_ref *ref,
                struct auth_credentials *ret, struct xarch_error **err) {
        char key[sizeof(((struct cred_entry *) 0)->key)];
        snprintf(key, sizeof(key), "%s/%s", ref->registry, ref->repository);
        pthread_mutex_lock(&r->lock);
        for (struct cred_entry *c = r->creds; c; c = c->next)
                if (streq(c->key, key)) {
                        int found = c->found;
                        if (found)
                                *ret = c->creds;
                        pthread_mutex_unlock(&r->lock);
                        return found;
                }
        pthread_mutex_unlock(&r->lock);

        struct cred_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return xarch_error_set(err, ENOMEM, "out of memory");
        int found = auth_lookup(r->auth_file, ref->registry, ref->repository, &e->creds, err);
        if (found < 0) {
                auth_credentials_wipe(&e->creds);
                free(e);
                return found;
        }
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->found = found;
        if (found)
                *ret = e->creds;
        pthread_mutex_lock(&r->lock);
        e->next = r->creds;
        r->creds = e;
        pthread_mutex_unlock(&r->lock);
        return found;
}

static int set_basic_authorization(struct http_req *q, const struct auth_credentials *c) {
        char plain[AUTH_USERNAME_MAX + AUTH_SECRET_MAX + 2];
        int n = snprintf(plain, sizeof(plain), "%s:%s", c->username, c->secret);
        int r = -ENOBUFS;
        if (n > 0 && (size_t) n < sizeof(plain)) {
                memcpy(q->authorization, "Basic ", 6);
                r = auth_base64_encode(plain, (size_t) n, q->authorization + 6,
                                sizeof(q->authorization) - 6);
        }
        explicit_bzero(plain, sizeof(plain));
        if (r < 0)
                q->authorization[0] = '\0';
        return r < 0 ? r : 0;
}

static char *token_cache_get(struct xarch_registry *r, const char *key) {
        char *tok = NULL;
        time_t now = time(NULL);
        pthread_mutex_lock(&r->lock);
        for (struct token_entry *t = r->tokens; t; t = t->next)
                if (streq(t->key, key) && t->expires > now) {
                        tok = strdup(t->token);
                        break;
                }
        pthread_mutex_unlock(&r->lock);
        return tok;
}

static void token_cache_put(
                struct xarch_registry *r, const char *key, const char *token, long expires_in) {
        /* renew a little early so that a token does not expire in flight */
        time_t expires = time(NULL) + (expires_in > 20 ? expires_in - 10 : expires_in);
        pthread_mutex_lock(&r->lock);
        struct token_entry *t;
        for (t = r->tokens; t; t = t->next)
                if (streq(t->key, key))
                        break;
        char *copy = strdup(token);
        if (!copy) {
                pthread_mutex_unlock(&r->lock);
                return;
        }
        if (t) {
                explicit_bzero(t->token, strlen(t->token));
                free(t->token);
                t->token = copy;
                t->expires = expires;
        } else if ((t = calloc(1, sizeof(*t))) && (t->key = strdup(key))) {
                t->token = copy;
                t->expires = expires;
                t->next = r->tokens;
                r->tokens = t;
        } else {
                free(t);
                free(copy);
        }
        pthread_mutex_unlock(&r->lock);
}

static void token_cache_drop(struct xarch_registry *r, const char *key) {
        pthread_mutex_lock(&r->lock);
        for (struct token_entry *t = r->tokens; t; t = t->next)
                if (streq(t->key, key))
                        t->expires = 0;
        pthread_mutex_unlock(&r->lock);
}

/* Fetches a bearer token from the realm (anonymously or with credentials). */
/* Percent-encodes everything but RFC 3986's unreserved characters (a form or query value). */
static char *url_escape(const char *in) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(in);
        char *out = malloc(3 * n + 1), *o = out;
        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) in; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
                        *o++ = (char) *p;
                } else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = '\0';
        return out;
}

static int token_fetch(struct xarch_registry *r, const char *realm, const char *service,
                const char *scope, const struct auth_credentials *creds, char **ret_token,
                long *ret_expires, struct xarch_error **err) {
        char realm_host[600] = "?";
        {
                char s[16], h[512];
                unsigned p;
                if (http1_url_origin(realm, s, sizeof(s), h, sizeof(h), &p))
                        snprintf(realm_host, sizeof(realm_host), "%s", h);
        }
        if (!url_is_https(realm) &&
                        !(url_is_http(realm) && (url_is_loopback(realm) || r->insecure)))
                return xarch_error_set(err, EPROTO,
                                "refusing token realm '%s': not https (use --insecure to allow)",
                                realm_host);

        _cleanup_free_ struct http_req *q = calloc(1, sizeof(*q));
        if (!q)
                return xarch_error_set(err, ENOMEM, "out of memory");
        _cleanup_free_ char *e_service = url_escape(service ? service : "");
        _cleanup_free_ char *e_scope = url_escape(scope);
        char *e_refresh = NULL;
        _cleanup_free_ char *form = NULL;
        int n;
        bool identity = creds && creds->identity_token;
        if (identity) {
                /* OAuth2 refresh-token grant (docker's identity tokens) */
                e_refresh = url_escape(creds->secret);
                if (e_service && e_scope && e_refresh &&
                                asprintf(&form,
                                                "grant_type=refresh_token&client_id=xarch&service=%"
                                                "s&scope=%s&"
                                                "refresh_token=%s",
                                                e_service, e_scope, e_refresh) < 0)
                        form = NULL;
                n = snprintf(q->url, sizeof(q->url), "%s", realm);
                q->method = "POST";
                q->post_fields = form;
        } else {
                n = snprintf(q->url, sizeof(q->url), "%s%cscope=%s%s%s", realm,
                                strchr(realm, '?') ? '&' : '?', e_scope ? e_scope : "",
                                service && *service ? "&service=" : "",
                                service && *service && e_service ? e_service : "");
                q->method = "GET";
        }
        if (e_refresh) {
                explicit_bzero(e_refresh, strlen(e_refresh));
                free(e_refresh);
        }
        if (n < 0 || (size_t) n >= sizeof(q->url) || (identity && !form))
                return xarch_error_set(err, ENOBUFS, "token request to '%s' too long", realm_host);
        if (creds && !identity && set_basic_authorization(q, creds) < 0)
                return xarch_error_set(err, ENOBUFS, "credentials too long");

        struct membuf body = {.max = TOKEN_BODY_MAX};
        q->on_body = membuf_append;
        q->ud = &body;
        q->max_total = TOKEN_BODY_MAX;
        atomic_fetch_add(&r->n_token_requests, 1);
        int rc = http_perform(r, q);
        explicit_bzero(q->authorization, sizeof(q->authorization));
        if (form)
                explicit_bzero(form, strlen(form));
        if (rc == -EFBIG) {
                membuf_wipe_release(&body);
                return xarch_error_set(
                                err, EFBIG, "token service '%s': answer too large", realm_host);
        }
        if (rc < 0) {
                membuf_wipe_release(&body);
                transport_error(q, realm_host, err);
                return xarch_error_wrap(err, "getting a token");
        }
        if (q->status == 401 || q->status == 403) {
                membuf_wipe_release(&body);
                return xarch_error_set(err, EACCES,
                                "unauthorized: token service '%s' %s (HTTP %ld)", realm_host,
                                creds ? "rejected the credentials" : "refused an anonymous token",
                                q->status);
        }
        if (q->status == 429) {
                membuf_wipe_release(&body);
                return xarch_error_set(err, EAGAIN, "rate limited: token service '%s' (HTTP 429)",
                                realm_host);
        }
        if (!status_ok(q->status)) {
                membuf_wipe_release(&body);
                return xarch_error_set(err, EIO, "token service '%s' failed: HTTP %ld", realm_host,
                                q->status);
        }
        int pr = auth_parse_token_response(
                        body.data ? body.data : "", body.len, ret_token, ret_expires);
        membuf_wipe_release(&body);
        if (pr < 0)
                return xarch_error_set(err, EBADMSG, "token service '%s' sent a malformed answer",
                                realm_host);
        return 0;
}

/* ---- the authenticated request ---- */

/* Whether a plain-HTTP request reached a TLS server: Go and nginx answer 400 with a text body,
 * others just close the connection. A registry's own 400 carries a JSON error body. */
static bool looks_like_tls_server(int rc, const struct http_req *q) {
        if (rc < 0)
                return q->status == 0 &&
                       (q->code == CURLE_GOT_NOTHING || q->code == CURLE_RECV_ERROR ||
                                       q->code == CURLE_WEIRD_SERVER_REPLY);
        if (q->status != 400)
                return false;
        char code[64], msg[256];
        return registry_parse_error_body(q->errbody, q->errbody_len, code, msg) < 0;
}

enum { REQ_REDIRECTABLE = 1 << 0 };

/*
 * Sends q (method, accept, body handling already set) to /v2/<repo>/<path> on ref's registry,
 * handling the scheme choice, authentication (basic or bearer, learnt from 401 challenges),
 * redirects (blobs) and retries. On return 0, q->status is the final status (maybe an error
 * status, which the caller maps with status_error()). *sent_credentials tells whether
 * credentials were used.
 */
static int registry_request(struct xarch_registry *r, const struct xarch_ref *ref, const char *path,
                struct http_req *q, unsigned flags, bool *sent_credentials,
                struct xarch_error **err) {
        const char *host = xarch_ref_api_host(ref);
        struct host_state *h = host_get(r, host);
        if (!h)
                return xarch_error_set(err, ENOMEM, "out of memory");
        bool loopback = xarch_ref_registry_is_loopback(host);
        char scope[AUTH_SCOPE_MAX];
        snprintf(scope, sizeof(scope), "repository:%s:pull", ref->repository);
        char token_key[XARCH_REF_REGISTRY_MAX + AUTH_SCOPE_MAX + 2];
        snprintf(token_key, sizeof(token_key), "%s %s", host, scope);
        struct auth_credentials *creds = calloc(1, sizeof(*creds));
        if (!creds)
                return xarch_error_set(err, ENOMEM, "out of memory");
        int have_creds = -1; /* unknown until needed */
        bool tried_fresh_token = false, tried_basic = false;
        int rc;

        *sent_credentials = false;
        host_acquire(r, h);
        for (;;) {
                pthread_mutex_lock(&r->lock);
                bool scheme_known = h->scheme_known;
                /* Loopback registries are usually plain HTTP: try that first, which also spares
                 * loading the CA store (tens of ms with OpenSSL 3) for a doomed handshake. */
                bool probe_http = !scheme_known && loopback;
                bool use_http = scheme_known ? h->use_http : probe_http;
                enum auth_scheme auth = h->auth;
                char realm[AUTH_REALM_MAX], service[AUTH_SERVICE_MAX];
                snprintf(realm, sizeof(realm), "%s", h->realm);
                snprintf(service, sizeof(service), "%s", h->service);
                pthread_mutex_unlock(&r->lock);

                int n = snprintf(q->url, sizeof(q->url), "%s://%s/v2/%s/%s",
                                use_http ? "http" : "https", host, ref->repository, path);
                if (n < 0 || (size_t) n >= sizeof(q->url)) {
                        rc = xarch_error_set(err, ENOBUFS, "URL too long");
                        break;
                }

                /* authenticate up front once the registry told us how */
                q->authorization[0] = '\0';
                if (auth != AUTH_SCHEME_NONE && have_creds < 0) {
                        have_creds = creds_get(r, ref, creds, err);
                        if (have_creds < 0) {
                                rc = have_creds;
                                break;
                        }
                }
                if (auth == AUTH_SCHEME_BEARER) {
                        _cleanup_free_ char *token = token_cache_get(r, token_key);
                        if (!token) {
                                long expires = 60;
                                rc = token_fetch(r, realm, service, scope,
                                                have_creds > 0 ? creds : NULL, &token, &expires,
                                                err);
                                if (rc < 0)
                                        break;
                                token_cache_put(r, token_key, token, expires);
                        }
                        int an = snprintf(q->authorization, sizeof(q->authorization), "Bearer %s",
                                        token);
                        explicit_bzero(token, strlen(token));
                        if (an < 0 || (size_t) an >= sizeof(q->authorization)) {
                                /* a truncated token would only be refused, confusingly */
                                explicit_bzero(q->authorization, sizeof(q->authorization));
                                rc = xarch_error_set(err, ENOBUFS,
                                                "the token service for '%s' sent a token longer "
                                                "than %zu bytes",
                                                ref->registry, sizeof(q->authorization) - 8);
                                break;
                        }
                        *sent_credentials = have_creds > 0;
                } else if (auth == AUTH_SCHEME_BASIC && have_creds > 0) {
                        if (set_basic_authorization(q, creds) < 0) {
                                rc = xarch_error_set(err, ENOBUFS, "credentials too long");
                                break;
                        }
                        *sent_credentials = true;
                }

                q->no_transport_retry = probe_http;
                rc = http_perform(r, q);
                q->no_transport_retry = false;
                if (rc < 0 && q->abort_code) {
                        break; /* the caller reports its own abort reason */
                }
                if (probe_http && looks_like_tls_server(rc, q)) {
                        pthread_mutex_lock(&r->lock);
                        h->scheme_known = true;
                        h->use_http = false;
                        pthread_mutex_unlock(&r->lock);
                        q->attempts = 0;
                        continue;
                }
                if (probe_http && rc < 0 && q->status != 0 && curl_code_retryable(q->code)) {
                        /* an HTTP server that dropped the connection: retry as usual */
                        pthread_mutex_lock(&r->lock);
                        h->scheme_known = true;
                        h->use_http = true;
                        pthread_mutex_unlock(&r->lock);
                        atomic_fetch_add(&r->n_retries, 1);
                        continue;
                }
                if (rc < 0) {
                        /* a plain-HTTP registry answers a TLS handshake with garbage */
                        if (!scheme_known && !use_http && (loopback || r->insecure) &&
                                        (q->code == CURLE_SSL_CONNECT_ERROR ||
                                                        q->code == CURLE_RECV_ERROR)) {
                                pthread_mutex_lock(&r->lock);
                                h->scheme_known = true;
                                h->use_http = true;
                                pthread_mutex_unlock(&r->lock);
                                q->attempts = 0;
                                continue;
                        }
                        rc = transport_error(q, ref->registry, err);
                        break;
                }
                if (!scheme_known) {
                        pthread_mutex_lock(&r->lock);
                        h->scheme_known = true;
                        h->use_http = use_http;
                        pthread_mutex_unlock(&r->lock);
                }

                if (q->status == 401) {
                        struct auth_challenge ch;
                        int pr = q->www_auth_overflow ? -EINVAL
                                                      : auth_parse_www_authenticate(q->www_auth,
                                                                        strlen(q->www_auth), &ch);
                        if (pr == 0 && ch.scheme == AUTH_SCHEME_BEARER && !tried_fresh_token) {
                                pthread_mutex_lock(&r->lock);
                                h->auth = AUTH_SCHEME_BEARER;
                                snprintf(h->realm, sizeof(h->realm), "%s", ch.realm);
                                snprintf(h->service, sizeof(h->service), "%s", ch.service);
                                pthread_mutex_unlock(&r->lock);
                                token_cache_drop(r, token_key);
                                tried_fresh_token = true;
                                q->attempts = 0;
                                continue;
                        }
                        if (pr == 0 && ch.scheme == AUTH_SCHEME_BASIC && !tried_basic) {
                                tried_basic = true;
                                if (have_creds < 0) {
                                        have_creds = creds_get(r, ref, creds, err);
                                        if (have_creds < 0) {
                                                rc = have_creds;
                                                break;
                                        }
                                }
                                if (have_creds > 0 && !creds->identity_token) {
                                        pthread_mutex_lock(&r->lock);
                                        h->auth = AUTH_SCHEME_BASIC;
                                        pthread_mutex_unlock(&r->lock);
                                        q->attempts = 0;
                                        continue;
                                }
                        }
                        if (pr == -EINVAL && !q->www_auth_overflow && q->www_auth[0]) {
                                rc = xarch_error_set(err, EBADMSG,
                                                "registry '%s' sent a malformed WWW-Authenticate "
                                                "header",
                                                ref->registry);
                                break;
                        }
                }

                /* redirects (blob storage backends): credentials stay with their origin */
                unsigned redirects = 0;
                while ((flags & REQ_REDIRECTABLE) && q->status >= 300 && q->status < 400 &&
                                q->redirect[0]) {
                        if (++redirects > REDIRECTS_MAX) {
                                rc = xarch_error_set(err, EIO, "too many redirects from '%s'",
                                                ref->registry);
                                goto out;
                        }
                        char next[URL_MAX];
                        snprintf(next, sizeof(next), "%s", q->redirect);
                        if (!url_is_https(next) &&
                                        !(url_is_http(next) &&
                                                        (url_is_loopback(next) || r->insecure))) {
                                rc = xarch_error_set(err, EPROTO,
                                                "refusing redirect from '%s' to a non-https URL",
                                                ref->registry);
                                goto out;
                        }
                        if (!registry_url_same_origin(q->url, next))
                                explicit_bzero(q->authorization, sizeof(q->authorization));
                        snprintf(q->url, sizeof(q->url), "%s", next);
                        rc = http_perform(r, q);
                        if (rc < 0 && q->abort_code)
                                goto out;
                        if (rc < 0) {
                                char s[16], hh[512];
                                unsigned p;
                                if (!http1_url_origin(next, s, sizeof(s), hh, sizeof(hh), &p))
                                        snprintf(hh, sizeof(hh), "?");
                                rc = transport_error(q, hh, err);
                                goto out;
                        }
                }
                rc = 0;
                break;
        }
out:
        host_release(r, h);
        explicit_bzero(q->authorization, sizeof(q->authorization));
        auth_credentials_wipe(creds);
        free(creds);
        return rc;
}

/* ---- manifests ---- */

static bool media_type_is_generic(const char *mt) {
        return !*mt || streq(mt, "application/json") || streq(mt, "text/plain") ||
               streq(mt, "application/octet-stream");
}

static int fail_abort(struct http_req *q, const char *what, const struct xarch_ref *ref,
                uint64_t cap, struct xarch_error **err) {
        if (q->abort_code == -EFBIG)
                return xarch_error_set(err, EFBIG, "%s from '%s/%s' is larger than %llu bytes",
                                what, ref->registry, ref->repository, (unsigned long long) cap);
        if (q->bad_range)
                return xarch_error_set(err, EIO,
                                "%s from '%s/%s': the registry did not resume the download at "
                                "byte %llu (Content-Range)",
                                what, ref->registry, ref->repository,
                                (unsigned long long) q->delivered);
        return xarch_error_set(err, -q->abort_code, "%s from '%s/%s': %s", what, ref->registry,
                        ref->repository, strerror(-q->abort_code));
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

        memset(ret, 0, sizeof(*ret));
        ret->data = body.data;
        ret->len = body.len;
        snprintf(ret->digest, sizeof(ret->digest), "%s", computed);
        if (media_type_is_generic(q->content_type))
                registry_media_type_from_body(ret->data, ret->len, ret->media_type);
        else
                snprintf(ret->media_type, sizeof(ret->media_type), "%s", q->content_type);
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

int xarch_registry_get_manifest(struct xarch_registry *r, const struct xarch_ref *ref,
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
                        return manifest_fetch(r, ref, q->docker_digest, true, ret, err);
                }
                /* errors and registries without Docker-Content-Digest: a GET tells more */
        }
        return manifest_fetch(r, ref, reference, false, ret, err);
}

int xarch_registry_resolve(struct xarch_registry *r, const struct xarch_ref *ref,
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
                        snprintf(media_type, 256, "%s", q->content_type);
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
        struct xarch_digester *digester;
        struct cache_writer cache;
        bool caching;
        xarch_sink_fn sink;
        void *userdata;
};

static int blob_stream_body(void *ud, const void *buf, size_t len) {
        struct blob_stream *s = ud;
        xarch_digester_update(s->digester, buf, len);
        if (s->caching && cache_writer_append(&s->cache, buf, len) < 0) {
                /* a full disk must not fail the pull: just stop caching */
                cache_writer_abort(&s->cache);
                s->caching = false;
        }
        return s->sink ? s->sink(s->userdata, buf, len) : 0;
}

/* Serves a blob from the cache: verifies the whole file first, then streams it, so that a
 * corrupt entry never reaches the sink. Returns 1 when served, 0 when absent/corrupt. */
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
        uint64_t sent = 0;
        while (sent < total) {
                ssize_t n = read(fd, buf, 256 * 1024);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return xarch_error_set(
                                        err, EIO, "cached blob '%s' changed while reading", digest);
                if ((uint64_t) n > total - sent)
                        n = (ssize_t) (total - sent);
                int sr = sink ? sink(userdata, buf, (size_t) n) : 0;
                if (sr < 0)
                        return xarch_error_set(
                                        err, -sr, "writing blob '%s': %s", digest, strerror(-sr));
                sent += (uint64_t) n;
        }
        atomic_fetch_add(&r->n_cache_hits, 1);
        return 1;
}

int xarch_registry_get_blob(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, xarch_sink_fn sink, void *userdata,
                struct xarch_error **err) {
        if (!r || !ref || !digest)
                return xarch_error_set(err, EINVAL, "invalid argument");
        if (!xarch_digest_valid(digest))
                return xarch_error_set(err, EINVAL, "invalid digest '%s'", digest);

        if (r->cache_dir) {
                int cr = blob_from_cache(r, digest, max_size, sink, userdata, err);
                if (cr != 0)
                        return cr < 0 ? cr : 0;
        }

        struct blob_stream s = {.sink = sink, .userdata = userdata, .cache = {.fd = -1}};
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
                if (q->abort_code)
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
        if (s.caching)
                (void) cache_writer_commit(&s.cache);
        xarch_digester_free(s.digester);
        return 0;
fail:
        if (s.caching)
                cache_writer_abort(&s.cache);
        xarch_digester_free(s.digester);
        return rc;
}

int xarch_registry_get_blob_buf(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, struct xarch_blob_buf *ret,
                struct xarch_error **err) {
        if (!ret)
                return xarch_error_set(err, EINVAL, "invalid argument");
        if (max_size == 0)
                max_size = BLOB_BUF_DEFAULT_MAX;
        struct membuf m = {.max = (size_t) max_size};
        int rc = xarch_registry_get_blob(r, ref, digest, max_size, membuf_append, &m, err);
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
