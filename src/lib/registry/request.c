/* SPDX-License-Identifier: MIT */
/*
 * The request policy of the registry client (see request.h): scheme choice, authentication,
 * tokens, retries and backoff, redirects, and the errors they end in.
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

#include "base/membuf.h"
#include "macro.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/registry.h"
#include "registry/request.h"
#include "registry/secrets.h"
#include "registry/transport.h"

#define TOKEN_BODY_MAX  (64 * 1024)
#define RETRY_AFTER_MAX 60 /* seconds we are willing to wait for a Retry-After */
#define BACKOFF_MAX_MS  8000
#define REDIRECTS_MAX   5

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
int http_perform(struct xarch_registry *r, struct http_req *q) {
        q->attempts = 0;
        for (unsigned attempt = 0;; attempt++) {
                int rc = http_once(r, q);
                if (q->abort_code)
                        return q->abort_code;
                bool retry;
                if (rc < 0)
                        /* a server too slow for the deadline would be as slow again */
                        retry = curl_code_retryable(q->code) && !q->deadline_hit;
                else
                        retry = q->status == 429 || q->status >= 500;
                if (!retry || (rc < 0 && q->no_transport_retry) || attempt >= r->max_retries ||
                                !http_body_rewindable(q->body))
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

int transport_error(struct http_req *q, const char *host, struct xarch_error **err) {
        /* the plain-HTTP transport always leaves a message; libcurl is loaded otherwise */
        const char *detail = q->curl_err[0] ? q->curl_err : curl_easy_strerror(q->code);
        switch (q->code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
                return xarch_error_set(
                                err, EHOSTUNREACH, "registry '%s' unreachable: %s", host, detail);
        case CURLE_OPERATION_TIMEDOUT:
                if (q->deadline_hit)
                        return xarch_error_set(err, EHOSTUNREACH,
                                        "registry '%s' too slow: the exchange took longer than "
                                        "its deadline (%d s, plus 1 s per %d KiB moved)",
                                        host, q->client->deadline_base_ms / 1000,
                                        HTTP_DEADLINE_RATE / 1024);
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

static bool tls_failure(CURLcode code) {
        switch (code) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
                return true;
        default:
                return false;
        }
}

/* Maps a final non-2xx response to an error. what: "manifest 'latest'", "blob 'sha256:...'". */
static int status_error_unredacted(struct http_req *q, const struct xarch_ref *ref,
                const char *what, bool sent_credentials, struct xarch_error **err) {
        char code[64] = "", msg[256] = "";
        {
                /* redacted whole, then shortened: cut first, an echoed credential could be left
                 * half there, where the redaction of the finished message cannot see it */
                char *full_code = NULL, *full_msg = NULL;
                if (registry_parse_error_body_alloc(
                                    q->errbody, q->errbody_len, &full_code, &full_msg) == 0) {
                        if (q->client) {
                                secrets_redact(&q->client->secrets, &full_code);
                                secrets_redact(&q->client->secrets, &full_msg);
                        }
                        snprintf(code, sizeof(code), "%s", full_code);
                        snprintf(msg, sizeof(msg), "%s", full_msg);
                }
                free(full_code);
                free(full_msg);
        }
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

int status_error(struct http_req *q, const struct xarch_ref *ref, const char *what,
                bool sent_credentials, struct xarch_error **err) {
        int rc = status_error_unredacted(q, ref, what, sent_credentials, err);
        if (q->client)
                registry_redact(q->client, err);
        return rc;
}

void registry_redact(struct xarch_registry *r, struct xarch_error **err) {
        if (r && err && *err)
                secrets_redact(&r->secrets, &(*err)->msg);
}

/* ---- credentials and tokens ---- */

/* Remembers what these credentials look like on the wire (the secret, and the base64
 * "user:secret" of Authorization: Basic), so that no echo of them leaves the client. */
static void remember_credentials(
                struct xarch_registry *r, const char *registry, const struct auth_credentials *c) {
        char plain[AUTH_USERNAME_MAX + AUTH_SECRET_MAX + 2];
        secrets_add(&r->secrets, registry, c->secret, strlen(c->secret));
        int n = snprintf(plain, sizeof(plain), "%s:%s", c->username, c->secret);
        if (n > 0 && (size_t) n < sizeof(plain))
                secrets_add(&r->secrets, registry, plain, (size_t) n);
        explicit_bzero(plain, sizeof(plain));
}

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
                remember_credentials(r, xarch_ref_api_host(ref), &e->creds);
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
        const char *problem = url_problem(realm);
        if (problem)
                return xarch_error_set(
                                err, EBADMSG, "registry sent an unusable token realm: %s", problem);
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

/*
 * Sends q (method, accept, body handling already set) to /v2/<repo>/<path> on ref's registry,
 * handling the scheme choice, authentication (basic or bearer, learnt from 401 challenges),
 * redirects (blobs) and retries. On return 0, q->status is the final status (maybe an error
 * status, which the caller maps with status_error()). *sent_credentials tells whether
 * credentials were used.
 */
int registry_request(struct xarch_registry *r, const struct xarch_ref *ref, const char *path,
                struct http_req *q, unsigned flags, bool *sent_credentials,
                struct xarch_error **err) {
        const char *host = xarch_ref_api_host(ref);
        struct host_state *h = host_get(r, host);
        if (!h)
                return xarch_error_set(err, ENOMEM, "out of memory");
        bool loopback = xarch_ref_registry_is_loopback(host);
        char scope[AUTH_SCOPE_MAX];
        snprintf(scope, sizeof(scope), "repository:%s:%s", ref->repository,
                        flags & REQ_PUSH ? "pull,push" : "pull");
        char token_key[XARCH_REF_REGISTRY_MAX + AUTH_SCOPE_MAX + 2];
        snprintf(token_key, sizeof(token_key), "%s %s", host, scope);
        struct auth_credentials *creds = calloc(1, sizeof(*creds));
        if (!creds)
                return xarch_error_set(err, ENOMEM, "out of memory");
        int have_creds = -1; /* unknown until needed */
        bool tried_fresh_token = false, tried_basic = false;
        char probe_err[CURL_ERROR_SIZE] = "";
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

                int n;
                bool foreign = false; /* a REQ_URL elsewhere than the registry: no credentials */
                if (flags & REQ_URL) {
                        char base[URL_MAX];
                        n = snprintf(base, sizeof(base), "%s://%s/v2/", use_http ? "http" : "https",
                                        host);
                        if (n < 0 || (size_t) n >= sizeof(base) ||
                                        http1_resolve_location(base, path, q->url, sizeof(q->url)) <
                                                        0) {
                                rc = xarch_error_set(err, EINVAL,
                                                "registry '%s' handed out an unusable URL",
                                                ref->registry);
                                break;
                        }
                        foreign = !registry_url_same_origin(base, q->url);
                        if (foreign && !url_is_https(q->url) &&
                                        !(url_is_http(q->url) &&
                                                        (url_is_loopback(q->url) || r->insecure))) {
                                rc = xarch_error_set(err, EPROTO,
                                                "refusing a URL from '%s' that is not https",
                                                ref->registry);
                                break;
                        }
                } else {
                        n = snprintf(q->url, sizeof(q->url), "%s://%s/v2/%s/%s",
                                        use_http ? "http" : "https", host, ref->repository, path);
                        if (n < 0 || (size_t) n >= sizeof(q->url)) {
                                rc = xarch_error_set(err, ENOBUFS, "URL too long");
                                break;
                        }
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
                                secrets_add(&r->secrets, host, token, strlen(token));
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

                if (foreign) {
                        explicit_bzero(q->authorization, sizeof(q->authorization));
                        *sent_credentials = false;
                }
                q->no_transport_retry = probe_http;
                rc = http_perform(r, q);
                q->no_transport_retry = false;
                if (rc < 0 && q->abort_code) {
                        break; /* the caller reports its own abort reason */
                }
                if (probe_http && looks_like_tls_server(rc, q)) {
                        /* remembered: if TLS fails too, this was a broken HTTP server */
                        if (rc < 0 && q->code == CURLE_WEIRD_SERVER_REPLY)
                                snprintf(probe_err, sizeof(probe_err), "%s",
                                                q->curl_err[0] ? q->curl_err
                                                               : "malformed response");
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
                        if (probe_err[0] && tls_failure(q->code)) {
                                rc = xarch_error_set(err, EBADMSG,
                                                "registry '%s' sent a malformed HTTP response "
                                                "(%s), and does not speak TLS either",
                                                ref->registry, probe_err);
                                break;
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

                /* a challenge from another origin (an upload Location elsewhere) is not the
                 * registry's: learning its realm would send the credentials where it says */
                if (q->status == 401 && !foreign) {
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
                                (q->redirect[0] || q->location[0])) {
                        if (++redirects > REDIRECTS_MAX) {
                                rc = xarch_error_set(err, EIO, "too many redirects from '%s'",
                                                ref->registry);
                                goto out;
                        }
                        char next[URL_MAX];
                        const char *problem = NULL;
                        if (q->redirect[0])
                                snprintf(next, sizeof(next), "%s", q->redirect);
                        else if (http1_resolve_location(q->url, q->location, next, sizeof(next)) <
                                        0)
                                problem = "a malformed Location";
                        if (!problem)
                                problem = url_problem(next);
                        if (problem) {
                                rc = xarch_error_set(err, EBADMSG,
                                                "registry '%s' redirected to an unusable URL: %s",
                                                ref->registry, problem);
                                goto out;
                        }
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
        if (rc < 0)
                registry_redact(r, err);
        host_release(r, h);
        explicit_bzero(q->authorization, sizeof(q->authorization));
        auth_credentials_wipe(creds);
        free(creds);
        return rc;
}

int fail_abort(struct http_req *q, const char *what, const struct xarch_ref *ref, uint64_t cap,
                struct xarch_error **err) {
        if (q->abort_code == -EFBIG)
                return xarch_error_set(err, EFBIG,
                                "%s from '%s/%s' is larger than %llu bytes (the size its "
                                "descriptor gives, or the limit); the download was stopped",
                                what, ref->registry, ref->repository, (unsigned long long) cap);
        if (q->abort_code == -EMSGSIZE)
                return xarch_error_set(err, EMSGSIZE,
                                "%s from '%s/%s': the registry's error answer (HTTP %ld) is "
                                "larger than %u bytes",
                                what, ref->registry, ref->repository, q->status,
                                (unsigned) ERROR_BODY_READ_MAX);
        if (q->bad_range)
                return xarch_error_set(err, EIO,
                                "%s from '%s/%s': the registry did not resume the download at "
                                "byte %llu (Content-Range)",
                                what, ref->registry, ref->repository,
                                (unsigned long long) q->delivered);
        return xarch_error_set(err, -q->abort_code, "%s from '%s/%s': %s", what, ref->registry,
                        ref->repository, strerror(-q->abort_code));
}
