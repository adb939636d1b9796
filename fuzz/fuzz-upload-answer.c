/* SPDX-License-Identifier: MIT */
/*
 * A registry's answer to an upload request, as a hostile registry would send it: the bytes go
 * through the plain-HTTP reader (http1.c) into the header parser both transports share
 * (transport.c), and what an upload takes from the answer is then used the way upload.c uses
 * it: the Location resolved against the URL that answered, the Range read as bytes held.
 * Byte 0 picks the read size, the rest is the answer. Checked: every answer field stays a
 * NUL-terminated string within its buffer and numbers stay in range; a resolved Location is an
 * http(s) URL without spaces, control bytes or a fragment; a Location that names no scheme or
 * host (a path, a query, a relative reference) never resolves to another origin, so the
 * credentials sent with it stay where they were going; the bytes held are -1 or what the Range
 * spelled.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/http1.h"
#include "registry/registry.h"
#include "registry/transport.h"
#include "registry/upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

struct stream {
        const uint8_t *data;
        size_t len, pos, step;
};

static ssize_t stream_read(void *ud, void *buf, size_t len, int timeout_ms) {
        struct stream *s = ud;
        (void) timeout_ms;
        size_t n = s->len - s->pos;
        if (n == 0)
                return 0;
        if (s->step && n > s->step)
                n = s->step;
        if (n > len)
                n = len;
        memcpy(buf, s->data + s->pos, n);
        s->pos += n;
        return (ssize_t) n;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
        return http_answer_header(ud, line, size * nmemb);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
        (void) data;
        (void) ud;
        return size * nmemb;
}

#define TERMINATED(field) check(memchr((field), '\0', sizeof(field)) != NULL)

static bool has_scheme_or_host(const char *loc) {
        if (loc[0] == '/' && loc[1] == '/')
                return true;
        size_t colon = strcspn(loc, ":");
        return loc[colon] && colon < strcspn(loc, "/?#");
}

static struct http1_conn conn;
static struct http_req q;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        static const char base[] = "https://registry.example/v2/team/app/blobs/uploads/";
        struct stream s = {.data = data + 1, .len = size - 1, .step = data[0]};
        memset(&q, 0, sizeof(q));
        snprintf(q.url, sizeof(q.url), "%s", base);
        q.method = "PATCH";
        http_answer_reset(&q);
        char err[256];
        struct http1_callbacks cb = {.on_header = on_header, .on_body = on_body, .ud = &q};
        struct http1_response resp;
        http1_conn_init(&conn, -1, stream_read, &s);
        (void) http1_read_response(&conn, false, &cb, &resp, err, sizeof(err));

        TERMINATED(q.content_type);
        TERMINATED(q.docker_digest);
        TERMINATED(q.retry_after);
        TERMINATED(q.www_auth);
        TERMINATED(q.location);
        TERMINATED(q.range);
        TERMINATED(q.upload_uuid);
        check(q.content_length >= -1);
        check(q.range_start >= -1);
        check(q.chunk_min_length >= -1);
        check(q.status >= 0 && q.status <= 999);

        int64_t held = upload_range_held(q.range);
        check(held >= -1);

        if (q.location[0]) {
                char out[URL_MAX];
                if (http1_resolve_location(q.url, q.location, out, sizeof(out)) == 0) {
                        check(strncasecmp(out, "http://", 7) == 0 ||
                                        strncasecmp(out, "https://", 8) == 0);
                        for (const unsigned char *p = (const unsigned char *) out; *p; p++)
                                check(*p > 0x20 && *p != 0x7f && *p != '#');
                        if (!has_scheme_or_host(q.location))
                                check(registry_url_same_origin(base, out));
                        /* resolving the result again changes nothing */
                        char again[URL_MAX];
                        if (http1_resolve_location(base, out, again, sizeof(again)) == 0)
                                check(strcmp(out, again) == 0);
                }
        }
        return 0;
}
