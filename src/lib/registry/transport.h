/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_TRANSPORT_H
#define XARCH_LIB_REGISTRY_TRANSPORT_H

/*
 * One HTTP exchange, no policy (transport.c): http:// URLs over http1.c (unless a proxy is set
 * or XARCH_HTTP=curl), everything else over a pooled libcurl easy handle. Both transports feed
 * the same header parser (which fills the response fields of struct http_req) and the same
 * body sink, and report failures as CURLcode values so that request.c has one retry and error
 * logic. Authentication, retries and redirects live in request.c (request.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "registry/auth.h"
#include "registry/client.h"
#include "registry/curl-lazy.h"
#include "xarch/digest.h"

#define URL_MAX        4096
#define ERROR_BODY_MAX (16 * 1024) /* body of a non-2xx answer kept for the error message */
/* A non-2xx body longer than this is not read on (its deadline grows with the bytes moved, so a
 * body that never ends would keep the request reading for ever): the request fails. */
#define ERROR_BODY_READ_MAX (1024 * 1024)
/* "Basic " + base64 of the longest "user:secret" auth_lookup() accepts (and bearer tokens up
 * to that size) */
#define AUTHORIZATION_MAX      (6 + 4 * ((AUTH_USERNAME_MAX + AUTH_SECRET_MAX + 2) / 3 + 1) + 1)
#define HTTP_EXTRA_HEADERS_MAX 8

/*
 * Every exchange has an overall deadline besides the stall detector (less than 1 byte/s over
 * 60 s): it may take HTTP_DEADLINE_BASE_MS plus one second for every HTTP_DEADLINE_RATE bytes
 * of body sent or received. A server that trickles (a few bytes a second, a header line a
 * second, endless 1xx answers or trailers) is cut off after about a minute, while a large blob
 * that moves at least 32 KiB/s on average always has time left. XARCH_HTTP_DEADLINE_MS
 * overrides the base (tests).
 */
#define HTTP_DEADLINE_BASE_MS (60 * 1000)
#define HTTP_DEADLINE_RATE    (32 * 1024)

/* Receives 2xx body bytes; a negative return aborts the exchange and becomes its result. */
typedef int (*body_fn)(void *ud, const void *buf, size_t len);

/*
 * A request body (PUT, PATCH, POST). Either an fd read with pread() from `offset` (rewindable,
 * so such a request may be retried), or a read callback (retried only when `rewind` is set).
 * `length` >= 0 is sent as Content-Length (the source must deliver exactly that many bytes);
 * -1 sends the body chunked (Transfer-Encoding: chunked) until the source reports its end.
 */
struct http_body {
        int fd; /* >= 0: the source; else `read` */
        uint64_t offset;
        /* bytes read into buf (0 = end of body), or -errno to abort the request */
        ssize_t (*read)(void *ud, void *buf, size_t len);
        int (*rewind)(void *ud); /* back to the first byte; 0 or -errno */
        void *ud;
        int64_t length; /* -1 = chunked */

        uint64_t sent; /* bytes handed to the transport in the current attempt */
};

/* Whether an attempt of this body can be repeated. */
static inline bool http_body_rewindable(const struct http_body *b) {
        return !b || b->fd >= 0 || b->rewind;
}

struct http_req {
        /* input */
        const char *method; /* "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" */
        char url[URL_MAX];
        const char *accept;
        const char *body_type; /* Content-Type of the body; NULL = none */
        const char *extra_headers[HTTP_EXTRA_HEADERS_MAX]; /* "Name: value" lines, NULL-ended */
        char authorization[AUTHORIZATION_MAX];             /* "" = none */
        const char *post_fields; /* a small form body (token requests); or use `body` */
        struct http_body *body;  /* a streamed request body; NULL with neither = empty */
        uint64_t max_total;      /* cap on body bytes delivered over all attempts; 0 = none */
        body_fn on_body;         /* NULL: 2xx bodies are read and dropped */
        void *ud;
        /* HTTP/1.1 even where the server offers HTTP/2 over TLS. Pushes ask for it: libcurl's
         * HTTP/2 uploads cost 2-3x the CPU of HTTP/1.1 ones (small sends, a poll per frame;
         * see docs/benchmarks.md "## copy"), while downloads cost the same either way. */
        bool http1;

        /* state across attempts */
        uint64_t delivered; /* body bytes handed to on_body so far */
        unsigned attempts;

        /* per attempt, filled from the response */
        long status;
        CURLcode code;
        char curl_err[CURL_ERROR_SIZE];
        char content_type[256]; /* Content-Type without parameters */
        char docker_digest[XARCH_DIGEST_MAX];
        char retry_after[64];
        char ratelimit_remaining[64];
        char ratelimit_limit[64];
        char www_auth[AUTH_HEADER_MAX + 1];
        bool www_auth_overflow;
        int64_t content_length;
        int64_t range_start;      /* first byte of a 206 body (Content-Range), -1 when absent */
        uint64_t skip;            /* leading bytes to drop (a 200 answering a Range request) */
        char redirect[URL_MAX];   /* a 3xx's Location, resolved against url */
        char location[URL_MAX];   /* the Location header as sent ("" when absent or too long) */
        char range[64];           /* the Range header (upload progress: "0-1023") */
        char upload_uuid[128];    /* Docker-Upload-UUID */
        int64_t chunk_min_length; /* OCI-Chunk-Min-Length, -1 when absent */
        char errbody[ERROR_BODY_MAX];
        size_t errbody_len;
        uint64_t errbody_seen; /* bytes of the non-2xx body read so far */
        int abort_code;
        bool bad_range;          /* abort_code: a 206 that does not resume where we stopped */
        bool no_transport_retry; /* a dropped connection is an answer (scheme probes) */
        bool deadline_hit;       /* code is CURLE_OPERATION_TIMEDOUT for the overall deadline */
        int64_t start_ms;        /* when the attempt began (monotonic) */
        struct xarch_registry *client;
};

static inline bool status_ok(long s) {
        return s >= 200 && s < 300;
}

/* URL predicates for the plain-HTTP policy. */
bool url_is_loopback(const char *url);
bool url_is_https(const char *url);
bool url_is_http(const char *url);

/* NULL for a usable http(s) URL, else what is wrong with it ("a bad port", ...). */
const char *url_problem(const char *url);

/* Sets up and tears down the client's transport state (libcurl share locks, pools). */
void transport_init(struct xarch_registry *r);
void transport_free(struct xarch_registry *r);

/* Starts loading libcurl (and OpenSSL's set-up) on a background thread, for a client about to
 * need TLS: its thirty libraries take tens of milliseconds to map, which the first request then
 * no longer waits for. At most once; transport_free() joins the thread. */
void transport_preload(struct xarch_registry *r);

/* The answer parser both transports feed: http_answer_reset() before an answer, then each
 * status or header line (line end included) to http_answer_header(), which fills q's answer
 * fields (status, Location, Range, Content-Range, ...) and returns n, or 0 with q->abort_code
 * set to stop the exchange. Exposed for fuzz-upload-answer. */
void http_answer_reset(struct http_req *q);
size_t http_answer_header(struct http_req *q, char *line, size_t n);

/* One HTTP exchange, no retries. Returns 0 when a response arrived (any status), <0 with
 * q->code / q->abort_code (and q->curl_err) set otherwise. */
int http_once(struct xarch_registry *r, struct http_req *q);

#endif
