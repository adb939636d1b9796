/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_CLIENT_H
#define XARCH_LIB_REGISTRY_CLIENT_H

/*
 * The registry client's private state, shared by its files:
 *   registry.c   the client's lifecycle and the API calls (manifests, blobs)
 *   request.c    request policy: scheme choice, auth (basic, bearer tokens), redirects,
 *                retries and backoff, error mapping (request.h)
 *   response.c   parsers of answers (Retry-After, error bodies, rate limits), same-origin test
 *   transport.c  one HTTP exchange over http1.c or libcurl (transport.h)
 *   upload.c     the upload engine (blob uploads, manifest PUTs) on top of request.h
 *
 * Design:
 * - Blocking libcurl easy handles, one per call in flight, taken from a LIFO pool: each pooled
 *   handle keeps its own live connections, so sequential and threaded calls reuse connections
 *   (keep-alive, HTTP/2 via ALPN where offered). A CURLSH with a mutex per lock class shares
 *   the DNS cache and TLS sessions between handles. Connections themselves are deliberately
 *   not shared through the CURLSH: libcurl does not support one connection cache used by
 *   concurrent threads (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT).
 * - Plain-HTTP connections (http1.c) are pooled the same way (idle[]).
 * - Per registry host: a counting semaphore (max_per_registry), the decided scheme (https, or
 *   http for loopback/--insecure after a TLS handshake failure), and the auth scheme learnt
 *   from the first 401 so later requests authenticate up front.
 * - Tokens are cached per host + scope under the client mutex.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "registry/auth.h"
#include "registry/curl-lazy.h"
#include "registry/http1.h"
#include "registry/secrets.h"
#include "xarch/ref.h"
#include "xarch/registry.h"

#define EASY_POOL_MAX 16 /* pooled libcurl handles, and pooled idle plain-HTTP connections */

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

        bool direct_http;     /* plain-HTTP requests go through http1.c, not libcurl */
        int deadline_base_ms; /* see HTTP_DEADLINE_BASE_MS in transport.h */

        pthread_mutex_t curl_lock; /* guards loading libcurl and creating `share` */
        CURLSH *share;             /* NULL until the first request through libcurl */
        pthread_t preload;         /* transport_preload()'s thread */
        bool preload_started;      /* under curl_lock */
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

        struct secret_list secrets; /* every credential sent (own lock) */

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
#endif
