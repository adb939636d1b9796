/* SPDX-License-Identifier: MIT */
/* The plain-HTTP transport (src/lib/http1.c) on byte streams written here: URL handling, every
 * body framing, interim responses, keep-alive decisions and the refusals of ambiguous or
 * hostile responses. Each stream is also fed one byte per read, which must not change the
 * outcome. The same transport against a live server is covered by test-registry. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry/http1.h"

/* ---- URLs ---- */

static void test_parse_url(void **state) {
        struct http1_url u;
        assert_int_equal(http1_parse_url("http://127.0.0.1:5000/v2/a/manifests/b?x=1", &u), 0);
        assert_string_equal(u.host, "127.0.0.1");
        assert_int_equal(u.port, 5000);
        assert_string_equal(u.authority, "127.0.0.1:5000");
        assert_string_equal(u.target, "/v2/a/manifests/b?x=1");

        assert_int_equal(http1_parse_url("HTTP://LocalHost", &u), 0);
        assert_string_equal(u.host, "localhost");
        assert_int_equal(u.port, 80);
        assert_string_equal(u.target, "/");

        assert_int_equal(http1_parse_url("http://[::1]:8080/token?scope=a", &u), 0);
        assert_string_equal(u.host, "::1");
        assert_int_equal(u.port, 8080);
        assert_string_equal(u.authority, "[::1]:8080");

        assert_int_equal(http1_parse_url("http://h?q", &u), 0);
        assert_string_equal(u.target, "?q");

        static const char *const bad[] = {
                        "https://example.com/",           /* not ours */
                        "http://",                        /* no host */
                        "http:///path",                   /* empty host */
                        "http://user:pw@host/",           /* user info */
                        "http://host:0/",                 /* port 0 */
                        "http://host:65536/",             /* port too large */
                        "http://host:/",                  /* empty port */
                        "http://host:12a/",               /* not a number */
                        "http://ho st/",                  /* space */
                        "http://host/a b",                /* space in the target */
                        "http://host/a\r\nX-Injected: 1", /* header injection */
                        "http://host/#frag",              /* fragment */
                        "http://[::1/",                   /* unclosed bracket */
                        "http://[::1]x/",                 /* junk after the bracket */
                        "http://h%41st/",                 /* percent in the host */
                        "ftp://host/",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(http1_parse_url(bad[i], &u), -EINVAL);

        char longhost[600];
        memset(longhost, 'a', sizeof(longhost));
        memcpy(longhost, "http://", 7);
        longhost[sizeof(longhost) - 1] = '\0';
        assert_int_equal(http1_parse_url(longhost, &u), -EINVAL);
}

static void test_url_origin(void **state) {
        char s[16], h[256];
        unsigned p;
        assert_true(http1_url_origin(
                        "HTTPS://Reg.Example:443/v2/", s, sizeof(s), h, sizeof(h), &p));
        assert_string_equal(s, "https");
        assert_string_equal(h, "reg.example");
        assert_int_equal(p, 443);
        assert_true(http1_url_origin("https://reg.example", s, sizeof(s), h, sizeof(h), &p));
        assert_int_equal(p, 443);
        assert_true(http1_url_origin("http://u:p@[::1]:5000/x", s, sizeof(s), h, sizeof(h), &p));
        assert_string_equal(s, "http");
        assert_string_equal(h, "::1");
        assert_int_equal(p, 5000);
        assert_false(http1_url_origin("ftp://x/", s, sizeof(s), h, sizeof(h), &p));
        assert_false(http1_url_origin("https://", s, sizeof(s), h, sizeof(h), &p));
        assert_false(http1_url_origin("https://a b/", s, sizeof(s), h, sizeof(h), &p));
}

static void test_resolve_location(void **state) {
        char out[256];
        const char *base = "http://127.0.0.1:5000/v2/repo/blobs/sha256:ab?x=1";
        assert_int_equal(http1_resolve_location(
                                         base, "https://s3.example/b?sig=1", out, sizeof(out)),
                        0);
        assert_string_equal(out, "https://s3.example/b?sig=1");
        assert_int_equal(http1_resolve_location(base, "/storage/b", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/storage/b");
        assert_int_equal(http1_resolve_location(base, "//other:81/b", out, sizeof(out)), 0);
        assert_string_equal(out, "http://other:81/b");
        assert_int_equal(http1_resolve_location(base, "c?y", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/v2/repo/blobs/c?y");
        assert_int_equal(http1_resolve_location("http://h", "c", out, sizeof(out)), 0);
        assert_string_equal(out, "http://h/c");
        /* RFC 3986 5.2: a query alone keeps the path; dot segments go; the fragment is not sent */
        assert_int_equal(http1_resolve_location(base, "?sig=abc", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/v2/repo/blobs/sha256:ab?sig=abc");
        assert_int_equal(http1_resolve_location("http://h", "?q", out, sizeof(out)), 0);
        assert_string_equal(out, "http://h/?q");
        assert_int_equal(http1_resolve_location(base, "../../b/blobs/y", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/v2/b/blobs/y");
        assert_int_equal(http1_resolve_location(base, "/a/./b/../c?x=/../", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/a/c?x=/../");
        assert_int_equal(http1_resolve_location(base, "/../../..", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/");
        assert_int_equal(http1_resolve_location(base, "/storage/b#frag", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:5000/storage/b");
        assert_int_equal(http1_resolve_location(base, "http://h/x/./../y/.", out, sizeof(out)), 0);
        assert_string_equal(out, "http://h/y/");
        assert_int_equal(http1_resolve_location(base, "#only", out, sizeof(out)), -EINVAL);
        assert_int_equal(http1_resolve_location(base, "javascript:alert(1)", out, sizeof(out)),
                        -EINVAL);
        assert_int_equal(http1_resolve_location(base, "/a b", out, sizeof(out)), -EINVAL);
        assert_int_equal(http1_resolve_location(base, "", out, sizeof(out)), -EINVAL);
        assert_int_equal(http1_resolve_location(base, "/long/enough/to/overflow", out, 20),
                        -ENOBUFS);
}

/* ---- responses ---- */

struct stream {
        const char *data;
        size_t len, pos;
        size_t step; /* bytes per read; 0 = all that fits */
        int fail;    /* negative errno once the data is used up, instead of end of stream */
};

static ssize_t stream_read(void *ud, void *buf, size_t len, int timeout_ms) {
        struct stream *s = ud;
        (void) timeout_ms;
        size_t n = s->len - s->pos;
        if (n == 0)
                return s->fail ? s->fail : 0;
        if (s->step && n > s->step)
                n = s->step;
        if (n > len)
                n = len;
        memcpy(buf, s->data + s->pos, n);
        s->pos += n;
        return (ssize_t) n;
}

struct collected {
        char headers[4096]; /* the first header bytes, for comparisons */
        size_t headers_len, headers_total;
        char body[70000];
        size_t body_len;
        size_t refuse_body_after; /* 0 = never */
        bool refuse_headers;
};

static size_t collect_header(char *line, size_t size, size_t nmemb, void *ud) {
        struct collected *c = ud;
        size_t n = size * nmemb;
        if (c->refuse_headers)
                return 0;
        c->headers_total += n;
        if (c->headers_len + n < sizeof(c->headers)) {
                memcpy(c->headers + c->headers_len, line, n);
                c->headers_len += n;
                c->headers[c->headers_len] = '\0';
        }
        return n;
}

static size_t collect_body(char *data, size_t size, size_t nmemb, void *ud) {
        struct collected *c = ud;
        size_t n = size * nmemb;
        if (c->refuse_body_after && c->body_len + n > c->refuse_body_after)
                return 0;
        assert_true(c->body_len + n <= sizeof(c->body));
        memcpy(c->body + c->body_len, data, n);
        c->body_len += n;
        return n;
}

struct outcome {
        int result;
        struct http1_response resp;
        struct collected got;
        char err[256];
};

static struct http1_conn conn; /* large: keep it off the stack */

static void run_step(
                const char *data, size_t len, bool head, size_t step, int fail, struct outcome *o) {
        struct stream s = {.data = data, .len = len, .step = step, .fail = fail};
        memset(o, 0, sizeof(*o));
        http1_conn_init(&conn, -1, stream_read, &s);
        struct http1_callbacks cb = {
                        .on_header = collect_header, .on_body = collect_body, .ud = &o->got};
        o->result = http1_read_response(&conn, head, &cb, &o->resp, o->err, sizeof(o->err));
        if (o->result != HTTP1_OK)
                assert_true(o->err[0] != '\0'); /* every failure says what it was */
}

/* Runs data whole and one byte per read; both must agree. */
static void run(const char *data, bool head, struct outcome *o) {
        static struct outcome bytewise;
        size_t len = strlen(data);
        run_step(data, len, head, 1, 0, &bytewise);
        run_step(data, len, head, 0, 0, o);
        assert_int_equal(o->result, bytewise.result);
        assert_int_equal(o->resp.status, bytewise.resp.status);
        assert_int_equal(o->resp.keep_alive, bytewise.resp.keep_alive);
        assert_int_equal(o->got.body_len, bytewise.got.body_len);
        assert_memory_equal(o->got.body, bytewise.got.body, o->got.body_len);
        assert_string_equal(o->got.headers, bytewise.got.headers);
}

static void test_content_length(void **state) {
        struct outcome o;
        run("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello",
                        false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_int_equal(o.resp.status, 200);
        assert_true(o.resp.keep_alive);
        assert_int_equal(o.resp.body_bytes, 5);
        assert_int_equal(o.got.body_len, 5);
        assert_memory_equal(o.got.body, "hello", 5);
        /* every line reaches the header callback, the empty one last */
        assert_string_equal(o.got.headers, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                           "Content-Length: 5\r\n\r\n");

        /* the same value twice is fine; bare LF line ends are accepted */
        run("HTTP/1.1 200 OK\nContent-Length: 2\ncontent-length:  2 \n\nok", false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_int_equal(o.got.body_len, 2);
}

static void test_chunked(void **state) {
        struct outcome o;
        run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n1;ext=1\r\n \r\nA \r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
                        false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_true(o.resp.keep_alive);
        assert_int_equal(o.got.body_len, 16);
        assert_memory_equal(o.got.body, "hello 0123456789", 16);

        /* "gzip, chunked" would need decoding we do not do */
        run("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);
        run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);

        static const char *const bad[] = {
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
                        /* 16 hex digits: would overflow the size */
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
                        /* the chunk runs past its size */
                        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"),
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                run(bad[i], false, &o);
                assert_int_equal(o.result, HTTP1_MALFORMED);
                assert_false(o.resp.keep_alive);
        }
        /* cut inside a chunk, or before the last chunk */
        run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", false, &o);
        assert_int_equal(o.result, HTTP1_PARTIAL);
        assert_int_equal(o.got.body_len, 3);
        run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_PARTIAL);
}

static void test_until_close(void **state) {
        struct outcome o;
        run("HTTP/1.1 200 OK\r\n\r\nall of it", false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_false(o.resp.keep_alive); /* the end of the body was the end of the connection */
        assert_int_equal(o.got.body_len, 9);
}

static void test_no_body(void **state) {
        struct outcome o;
        /* HEAD: Content-Length describes the GET's body, none follows */
        run("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nDocker-Content-Digest: sha256:x\r\n\r\n",
                        true, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_true(o.resp.keep_alive);
        assert_int_equal(o.got.body_len, 0);
        run("HTTP/1.1 204 No Content\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_true(o.resp.keep_alive);
        run("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_int_equal(o.got.body_len, 0);
}

static void test_interim(void **state) {
        struct outcome o;
        run("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
                        false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_int_equal(o.resp.status, 404);
        assert_int_equal(o.got.body_len, 2);
        /* the interim status line reached the header callback too (it resets its state) */
        assert_non_null(strstr(o.got.headers, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404"));
        run("HTTP/1.1 101 Switching Protocols\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);
}

static void test_keep_alive(void **state) {
        struct outcome o;
        run("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_false(o.resp.keep_alive);
        run("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false, &o);
        assert_true(o.resp.keep_alive);
        run("HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 0\r\n\r\n", false, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_false(o.resp.keep_alive);
        /* bytes after the response (when they have arrived): the connection is not reused */
        const char *extra = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n";
        run_step(extra, strlen(extra), false, 0, 0, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_int_equal(o.got.body_len, 1);
        assert_false(o.resp.keep_alive);
}

static void test_refused(void **state) {
        static const char *const bad[] = {
                        "",                                               /* nothing */
                        "\x16\x03\x01\x02\x10\x01\x10\x01\xfc\x03\x03\n", /* a TLS record */
                        "HTTP/2 200\r\n\r\n",                             /* not 1.x */
                        "HTTP/1.1 20 OK\r\n\r\n",                         /* short code */
                        "HTTP/1.1 2000 OK\r\n\r\n",                       /* long code */
                        "HTTP/1.1 099 Low\r\n\r\n",                       /* out of range */
                        "HTTP/1.1 600 High\r\n\r\n",                      /* out of range */
                        "HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",            /* not a field */
                        "HTTP/1.1 200 OK\r\n: empty-name\r\n\r\n",        /* empty name */
                        "HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",         /* space in name */
                        "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",     /* obs-fold */
                        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
                        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\nx",
                        "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n",
                        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n"
                         "0\r\n\r\n"),
        };
        struct outcome o;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                run(bad[i], false, &o);
                assert_int_not_equal(o.result, HTTP1_OK);
                assert_false(o.resp.keep_alive);
                assert_int_equal(o.got.body_len, 0);
        }
        run("", false, &o);
        assert_int_equal(o.result, HTTP1_NOTHING); /* what a stale pooled connection shows */
        assert_false(o.resp.got_bytes);
        run("\x16\x03\x01\x02\x10\x01\x10\x01\xfc\x03\x03\n", false, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);
        assert_true(o.resp.got_bytes);
}

static void test_cut_short(void **state) {
        struct outcome o;
        run("HTTP/1.1 200 O", false, &o);
        assert_int_equal(o.result, HTTP1_RECV);
        run("HTTP/1.1 200 OK\r\nContent-Le", false, &o);
        assert_int_equal(o.result, HTTP1_RECV);
        run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, &o);
        assert_int_equal(o.result, HTTP1_PARTIAL);
        assert_int_equal(o.got.body_len, 3); /* what arrived was delivered, once */
        assert_int_equal(o.resp.body_bytes, 3);

        /* a reset reads as an error, not as the end of a body that runs to the close */
        const char *reset = "HTTP/1.1 200 OK\r\n\r\nabc";
        run_step(reset, strlen(reset), false, 0, -ECONNRESET, &o);
        assert_int_equal(o.result, HTTP1_RECV);
        assert_int_equal(o.got.body_len, 3);
        run_step(reset, 10, false, 0, -ECONNRESET, &o);
        assert_int_equal(o.result, HTTP1_RECV);
        run_step(reset, 0, false, 0, -ETIMEDOUT, &o);
        assert_int_equal(o.result, HTTP1_TIMEOUT);
}

static void test_limits(void **state) {
        static char big[HTTP1_HEADERS_MAX + 1024];
        struct outcome o;
        /* one line longer than the buffer */
        int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
        memset(big + n, 'a', HTTP1_LINE_MAX);
        strcpy(big + n + HTTP1_LINE_MAX, "\r\n\r\n");
        run_step(big, strlen(big), false, 0, 0, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);
        /* many short lines adding up past the header limit */
        n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
        while ((size_t) n + 16 < sizeof(big) - 8)
                n += snprintf(big + n, sizeof(big) - (size_t) n, "X-Pad: 12345678\r\n");
        strcpy(big + n, "\r\n");
        run_step(big, strlen(big), false, 0, 0, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);
        assert_non_null(strstr(o.err, "headers larger"));
}

/* Endless interim responses count towards the header limit: the reader ends. */
static void test_interim_flood(void **state) {
        static char flood[HTTP1_HEADERS_MAX + 4096];
        const char *one = "HTTP/1.1 100 Continue\r\n\r\n";
        size_t n = 0;
        while (n + strlen(one) < sizeof(flood) - 1) {
                memcpy(flood + n, one, strlen(one));
                n += strlen(one);
        }
        flood[n] = '\0';
        struct outcome o;
        run_step(flood, n, false, 0, 0, &o);
        assert_int_equal(o.result, HTTP1_MALFORMED);
        assert_non_null(strstr(o.err, "headers larger"));
}

static void test_callbacks_refuse(void **state) {
        const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
        struct stream s = {.data = r, .len = strlen(r)};
        struct collected got = {.refuse_body_after = 4};
        struct http1_response resp;
        char err[128];
        struct http1_callbacks cb = {
                        .on_header = collect_header, .on_body = collect_body, .ud = &got};
        http1_conn_init(&conn, -1, stream_read, &s);
        s.step = 3;
        assert_int_equal(http1_read_response(&conn, false, &cb, &resp, err, sizeof(err)),
                        HTTP1_ABORTED);
        assert_int_equal(got.body_len, 3);
        assert_false(resp.keep_alive);

        struct collected refuse = {.refuse_headers = true};
        cb.ud = &refuse;
        s.pos = 0;
        s.step = 0;
        http1_conn_init(&conn, -1, stream_read, &s);
        assert_int_equal(http1_read_response(&conn, false, &cb, &resp, err, sizeof(err)),
                        HTTP1_ABORTED);
}

/* A body larger than the read buffer streams through it. */
static void test_large_body(void **state) {
        static char resp_text[70100];
        int n = snprintf(resp_text, sizeof(resp_text),
                        "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n");
        for (int i = 0; i < 65536; i++)
                resp_text[n + i] = (char) ('a' + i % 26);
        resp_text[n + 65536] = '\0';
        struct outcome o;
        run_step(resp_text, (size_t) n + 65536, false, 1000, 0, &o);
        assert_int_equal(o.result, HTTP1_OK);
        assert_int_equal(o.got.body_len, 65536);
        assert_int_equal(o.got.body[65535], (char) ('a' + 65535 % 26));
}

/* ---- real sockets: connect by name, send, read ---- */

/* A server that sends a byte every 100 ms: each read is well within the read timeout. */
static void *serve_drip(void *arg) {
        int ls = *(int *) arg, c = accept(ls, NULL, NULL);
        const char *answer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        if (c < 0)
                return NULL;
        if (write(c, answer, strlen(answer)) < 0)
                perror("write");
        for (int i = 0; i < 30; i++) {
                struct timespec t = {.tv_nsec = 100 * 1000000L};
                nanosleep(&t, NULL);
                if (send(c, "x", 1, MSG_NOSIGNAL) != 1)
                        break;
        }
        close(c);
        return NULL;
}

static void *serve_one(void *arg) {
        int ls = *(int *) arg, c = accept(ls, NULL, NULL);
        char req[4096];
        size_t n = 0;
        ssize_t k;
        while (c >= 0 && n < sizeof(req) - 1 && (k = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
                n += (size_t) k;
                req[n] = '\0';
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        static const char expect[] = "GET /v2/ HTTP/1.1\r\nHost: localhost:";
        const char *answer =
                        strncmp(req, expect, sizeof(expect) - 1) == 0
                                        ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
                                        : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        if (c >= 0) {
                if (write(c, answer, strlen(answer)) < 0)
                        perror("write");
                close(c);
        }
        return NULL;
}

static int listen_loopback(int *port) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof(a);
        assert_int_equal(bind(s, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(listen(s, 4), 0);
        getsockname(s, (struct sockaddr *) &a, &al);
        *port = ntohs(a.sin_port);
        return s;
}

static void test_sockets(void **state) {
        int port, ls = listen_loopback(&port);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, serve_one, &ls), 0);
        /* "localhost" goes through the resolver (and maybe ::1 first, refused, then 127.0.0.1) */
        char err[256], req[128];
        assert_int_equal(http1_connect(&conn, "localhost", (unsigned) port, 5000, err, sizeof(err)),
                        HTTP1_OK);
        int n = snprintf(req, sizeof(req), "GET /v2/ HTTP/1.1\r\nHost: localhost:%d\r\n\r\n", port);
        assert_int_equal(http1_send(&conn, req, (size_t) n, err, sizeof(err)), HTTP1_OK);
        struct collected got = {};
        struct http1_callbacks cb = {
                        .on_header = collect_header, .on_body = collect_body, .ud = &got};
        struct http1_response resp;
        assert_int_equal(http1_read_response(&conn, false, &cb, &resp, err, sizeof(err)), HTTP1_OK);
        assert_int_equal(resp.status, 200);
        assert_int_equal(got.body_len, 2);
        http1_close(&conn);
        pthread_join(t, NULL);

        /* a slow drip ends as a stall (here: fewer than 10 bytes in 500 ms) */
        assert_int_equal(pthread_create(&t, NULL, serve_drip, &ls), 0);
        assert_int_equal(http1_connect(&conn, "127.0.0.1", (unsigned) port, 5000, err, sizeof(err)),
                        HTTP1_OK);
        conn.low_speed_ms = 500;
        conn.low_speed_bytes = 10;
        struct collected slow = {};
        cb.ud = &slow;
        assert_int_equal(http1_send(&conn, req, (size_t) n, err, sizeof(err)), HTTP1_OK);
        assert_int_equal(http1_read_response(&conn, false, &cb, &resp, err, sizeof(err)),
                        HTTP1_TIMEOUT);
        assert_non_null(strstr(err, "stalled"));
        assert_true(slow.body_len > 0 && slow.body_len < 30);
        http1_close(&conn);
        pthread_join(t, NULL);

        /* the listener closed: connecting is refused, and says so */
        close(ls);
        assert_int_equal(http1_connect(&conn, "127.0.0.1", (unsigned) port, 5000, err, sizeof(err)),
                        HTTP1_CONNECT);
        assert_non_null(strstr(err, "cannot connect to 127.0.0.1 port"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_parse_url),
                        cmocka_unit_test(test_url_origin),
                        cmocka_unit_test(test_resolve_location),
                        cmocka_unit_test(test_content_length),
                        cmocka_unit_test(test_chunked),
                        cmocka_unit_test(test_until_close),
                        cmocka_unit_test(test_no_body),
                        cmocka_unit_test(test_interim),
                        cmocka_unit_test(test_keep_alive),
                        cmocka_unit_test(test_refused),
                        cmocka_unit_test(test_cut_short),
                        cmocka_unit_test(test_limits),
                        cmocka_unit_test(test_interim_flood),
                        cmocka_unit_test(test_callbacks_refuse),
                        cmocka_unit_test(test_large_body),
                        cmocka_unit_test(test_sockets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
