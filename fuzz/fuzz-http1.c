/* SPDX-License-Identifier: MIT */
/*
 * The plain-HTTP transport's response reader on arbitrary bytes, as a hostile server would send
 * them. Byte 0 picks how many bytes each read returns (0: as many as fit), byte 1 whether the
 * request was HEAD and how the stream ends (end of stream, reset, stall); the rest is the
 * response. Checked: the result is one of the documented ones, failures carry a message, body
 * bytes counted equal body bytes delivered, only complete responses keep the connection, and the
 * same bytes read one at a time give the same result and body. The URL helpers get the input
 * as a string too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

struct stream {
        const uint8_t *data;
        size_t len, pos, step;
        int end;
};

static ssize_t stream_read(void *ud, void *buf, size_t len, int timeout_ms) {
        struct stream *s = ud;
        (void) timeout_ms;
        size_t n = s->len - s->pos;
        if (n == 0)
                return s->end;
        if (s->step && n > s->step)
                n = s->step;
        if (n > len)
                n = len;
        memcpy(buf, s->data + s->pos, n);
        s->pos += n;
        return (ssize_t) n;
}

struct sink {
        uint64_t header_bytes, body_bytes;
        uint32_t body_hash;
};

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
        struct sink *k = ud;
        size_t n = size * nmemb;
        check(n > 0 && n <= HTTP1_LINE_MAX && line[n - 1] == '\n');
        k->header_bytes += n;
        return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
        struct sink *k = ud;
        size_t n = size * nmemb;
        for (size_t i = 0; i < n; i++)
                k->body_hash = k->body_hash * 31 + (uint8_t) data[i];
        k->body_bytes += n;
        return n;
}

static struct http1_conn conn;

static int read_once(const uint8_t *data, size_t len, size_t step, bool head, int end,
                struct sink *k, struct http1_response *resp) {
        struct stream s = {.data = data, .len = len, .step = step, .end = end};
        char err[256];
        struct http1_callbacks cb = {.on_header = on_header, .on_body = on_body, .ud = k};
        memset(k, 0, sizeof(*k));
        http1_conn_init(&conn, -1, stream_read, &s);
        int r = http1_read_response(&conn, head, &cb, resp, err, sizeof(err));
        check(r >= HTTP1_OK && r < HTTP1_ABORTED); /* the callbacks here never refuse */
        check(r == HTTP1_OK || (err[0] && memchr(err, 0, sizeof(err))));
        check(k->body_bytes == resp->body_bytes);
        check(!resp->keep_alive || r == HTTP1_OK);
        check(r != HTTP1_OK || (resp->status >= 200 && resp->status <= 599));
        check(!head || k->body_bytes == 0);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2)
                return 0;
        size_t step = data[0];
        bool head = data[1] & 1;
        int end = (data[1] >> 1) % 3 == 0 ? 0 : (data[1] >> 1) % 3 == 1 ? -ECONNRESET : -ETIMEDOUT;
        struct sink a, b;
        struct http1_response ra, rb;
        int r1 = read_once(data + 2, size - 2, step, head, end, &a, &ra);
        int r2 = read_once(data + 2, size - 2, 1, head, end, &b, &rb);
        check(r1 == r2 && ra.status == rb.status);
        check(a.body_bytes == b.body_bytes && a.body_hash == b.body_hash);

        /* the URL helpers on the same bytes as a string */
        char *s = malloc(size - 1);
        if (!s)
                return 0;
        memcpy(s, data + 2, size - 2);
        s[size - 2] = '\0';
        struct http1_url u;
        if (http1_parse_url(s, &u) == 0) {
                check(u.host[0] && u.port > 0 && u.port <= 65535);
                check(u.target[0] == '/' || u.target[0] == '?');
                for (const char *p = u.target; *p; p++)
                        check((unsigned char) *p > 0x20 && *p != 0x7f);
        }
        char out[512], sc[16], host[256];
        unsigned port;
        if (http1_resolve_location("http://127.0.0.1:5000/v2/a/blobs/x?q", s, out, sizeof(out)) ==
                        0)
                check(strncasecmp(out, "http://", 7) == 0 || strncasecmp(out, "https://", 8) == 0);
        if (http1_url_origin(s, sc, sizeof(sc), host, sizeof(host), &port))
                check(host[0] && port > 0 && port <= 65535 && strlen(sc) <= 5);
        free(s);
        return 0;
}
