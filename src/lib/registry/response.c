/* SPDX-License-Identifier: MIT */
/*
 * Small parsers of what a registry answers (Retry-After, the distribution error body, Docker
 * Hub's rate-limit headers) and the origin comparison that decides where credentials may go.
 * Used by request.c (the request policy) and unit-tested; registry.c and request.c both sit
 * above this file, so neither depends on the other's internals.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "macro.h"
#include "registry/http1.h"
#include "registry/registry.h"

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

/* A copy with every byte outside printable ASCII shown as '?'. */
static char *sanitized_dup(const char *in) {
        char *out = strdup(in);
        for (char *p = out; p && *p; p++)
                if (*p < 0x20 || *p >= 0x7f)
                        *p = '?';
        return out;
}

int registry_parse_error_body_alloc(const char *body, size_t len, char **code, char **message) {
        *code = *message = NULL;
        if (!body || len == 0)
                return -EBADMSG;
        json_error_t jerr;
        json_t *root = json_loadb(body, len, 0, &jerr);
        json_t *errors = json_object_get(root, "errors");
        json_t *first = json_array_get(errors, 0);
        const char *c = json_string_value(json_object_get(first, "code"));
        const char *m = json_string_value(json_object_get(first, "message"));
        int r = -EBADMSG;
        if (c) {
                *code = sanitized_dup(c);
                *message = sanitized_dup(m ? m : "");
                r = 0;
                if (!*code || !*message) {
                        free(*code);
                        free(*message);
                        *code = *message = NULL;
                        r = -ENOMEM;
                }
        }
        json_decref(root);
        return r;
}

int registry_parse_error_body(const char *body, size_t len, char code[64], char message[256]) {
        char *c, *m;
        code[0] = message[0] = '\0';
        int r = registry_parse_error_body_alloc(body, len, &c, &m);
        if (r == 0) {
                snprintf(code, 64, "%s", c);
                snprintf(message, 256, "%s", m);
        }
        free(c);
        free(m);
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
