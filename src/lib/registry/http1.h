/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_HTTP1_H
#define XARCH_LIB_HTTP1_H

/*
 * A small HTTP/1.1 client for plain-HTTP registries (loopback registries such as the ones kind,
 * minikube and k3d set up, or --insecure). It exists for start-up time only: loading Debian's
 * libcurl maps some thirty libraries and costs about 6 ms, more than a whole one-image inspect
 * against a local registry otherwise takes. TLS, proxies and HTTP/2 stay with libcurl; see
 * docs/ARCHITECTURE.md. The response reader is fed by a read function so that tests and the
 * fuzzer can hand it arbitrary bytes.
 *
 * Header and body callbacks have libcurl's shapes, so the registry client's header parser and
 * body sink serve both transports unchanged.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_HOST_MAX    256
#define HTTP1_URL_MAX     4096
#define HTTP1_LINE_MAX    (64 * 1024)  /* one status or header line, CRLF included */
#define HTTP1_HEADERS_MAX (256 * 1024) /* all header lines of one response, 1xx ones included */

enum http1_result {
        HTTP1_OK = 0,
        HTTP1_RESOLVE,   /* the host name did not resolve */
        HTTP1_CONNECT,   /* no address accepted a connection */
        HTTP1_TIMEOUT,   /* connect or a read/write stalled past its limit */
        HTTP1_DEADLINE,  /* the request took longer than its overall deadline */
        HTTP1_SEND,      /* writing the request failed */
        HTTP1_NOTHING,   /* the connection closed before any byte of a response */
        HTTP1_RECV,      /* reading failed, or the connection closed inside the headers */
        HTTP1_PARTIAL,   /* the connection closed inside the body */
        HTTP1_MALFORMED, /* not an HTTP/1.x response, or broken framing */
        HTTP1_ABORTED,   /* a callback refused the data */
};

/* A parsed http:// URL: what the transport needs to connect and send. */
struct http1_url {
        char host[HTTP1_HOST_MAX];          /* without brackets for IPv6 literals */
        char authority[HTTP1_HOST_MAX + 8]; /* host[:port] as in the URL, for Host: */
        unsigned port;
        const char *target; /* into the URL: path and query ("/" when empty) */
};

/* Parses "http://host[:port][/path][?query]". Returns 0, or -EINVAL for anything else
 * (another scheme, user info, a fragment, an empty or overlong host, a bad port). */
int http1_parse_url(const char *url, struct http1_url *ret);

/* Origin parts of an http or https URL (scheme lowercased, host lowercased without brackets,
 * port defaulted); false when it is not such a URL. */
bool http1_url_origin(
                const char *url, char *scheme, size_t ss, char *host, size_t hs, unsigned *port);

/* Resolves a Location value against the URL that answered (RFC 3986 5.2: the fragment dropped,
 * dot segments removed); 0, -EINVAL (not a usable reference) or -ENOBUFS. */
int http1_resolve_location(const char *base, const char *location, char *out, size_t out_size);

typedef ssize_t (*http1_read_fn)(void *ud, void *buf, size_t len, int timeout_ms);

struct http1_conn {
        int fd; /* -1 when reading through `read` */
        char host[HTTP1_HOST_MAX];
        unsigned port;
        http1_read_fn read; /* NULL: read(2) on fd with poll() */
        void *read_ud;
        int timeout_ms;           /* longest wait for one read or write (60 s) */
        int low_speed_ms;         /* a response slower than low_speed_bytes per low_speed_ms */
        unsigned low_speed_bytes; /* counts as stalled (60 bytes per 60 s, like libcurl's 1 B/s) */
        bool reused;              /* served a response before */
        /* Overall deadline of the current request (http1_deadline_start()): it may take
         * deadline_base_ms plus one second per deadline_rate bytes moved (sent or received),
         * so a trickling server ends while a large transfer that keeps going does not. */
        int64_t deadline_start_ms; /* 0: no overall deadline */
        int deadline_base_ms;
        unsigned deadline_rate;
        uint64_t deadline_bytes;
        size_t pos, len;
        char buf[HTTP1_LINE_MAX];
};

struct http1_callbacks {
        size_t (*on_header)(char *line, size_t size, size_t nmemb, void *ud); /* 0 = abort */
        size_t (*on_body)(char *data, size_t size, size_t nmemb, void *ud);   /* != n = abort */
        void *ud;
};

struct http1_response {
        int status;
        bool keep_alive;     /* the connection may carry another request */
        bool got_bytes;      /* something arrived (a stale pooled connection shows none) */
        uint64_t body_bytes; /* delivered to on_body */
};

/* Initialises c for reading through fd (or through read_fn when fd < 0). */
void http1_conn_init(struct http1_conn *c, int fd, http1_read_fn read_fn, void *read_ud);

/* Connects to host:port within timeout_ms: every address getaddrinfo gives, in order, each
 * with a share of the time left (so one address that drops packets does not use it all).
 * Returns 0 with c initialised, or an http1_result with a message in errbuf. */
int http1_connect(struct http1_conn *c, const char *host, unsigned port, int timeout_ms,
                char *errbuf, size_t errlen);

void http1_close(struct http1_conn *c);

/* Starts the overall deadline of one request (see struct http1_conn); base_ms 0 = none. */
void http1_deadline_start(struct http1_conn *c, int base_ms, unsigned rate);

/* Writes the whole of req (a request head, maybe followed by a body). */
int http1_send(struct http1_conn *c, const char *req, size_t len, char *errbuf, size_t errlen);

/* Reads one response (skipping 1xx interim ones, whose lines still reach on_header) and streams
 * its body. head: the request was HEAD (no body follows whatever the headers say). */
int http1_read_response(struct http1_conn *c, bool head, const struct http1_callbacks *cb,
                struct http1_response *resp, char *errbuf, size_t errlen);

#endif
