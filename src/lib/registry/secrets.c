/* SPDX-License-Identifier: MIT */
/* Remembered credentials and the checks that keep them from leaking (secrets.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "macro.h"
#include "registry/auth.h"
#include "registry/secrets.h"

void secrets_init(struct secret_list *s) {
        *s = (struct secret_list){};
        pthread_rwlock_init(&s->lock, NULL);
}

void secrets_free(struct secret_list *s) {
        for (size_t i = 0; i < s->n; i++) {
                explicit_bzero(s->items[i], strlen(s->items[i]));
                free(s->items[i]);
        }
        free(s->items);
        free(s->minimal);
        for (size_t i = 0; i < s->n_registries; i++)
                free(s->registries[i]);
        free(s->registries);
        pthread_rwlock_destroy(&s->lock);
}

/* Rebuilds s->minimal after an addition; the caller holds the write lock. */
static void minimal_rebuild(struct secret_list *s) {
        free(s->minimal);
        s->minimal = malloc(s->n * sizeof(*s->minimal));
        s->n_minimal = 0;
        if (!s->minimal)
                return;
        for (size_t i = 0; i < s->n; i++) {
                bool holds_another = false;
                for (size_t j = 0; j < s->n && !holds_another; j++)
                        holds_another = j != i && strstr(s->items[i], s->items[j]);
                if (!holds_another)
                        s->minimal[s->n_minimal++] = s->items[i];
        }
}

/* Adds one form; the caller holds the write lock. */
static void add_one(struct secret_list *s, const char *v, size_t len) {
        if (len < SECRET_MIN_LEN || memchr(v, '\0', len))
                return;
        for (size_t i = 0; i < s->n; i++)
                if (strlen(s->items[i]) == len && memcmp(s->items[i], v, len) == 0)
                        return;
        if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 16;
                char **p = realloc(s->items, cap * sizeof(*p));
                if (!p)
                        return;
                s->items = p;
                s->cap = cap;
        }
        char *copy = strndup(v, len);
        if (!copy)
                return;
        /* longest first, so that redaction takes a whole form before a part of it */
        size_t at = 0;
        while (at < s->n && strlen(s->items[at]) >= len)
                at++;
        memmove(s->items + at + 1, s->items + at, (s->n - at) * sizeof(*s->items));
        s->items[at] = copy;
        s->n++;
        if (len > s->max_len)
                s->max_len = len;
        minimal_rebuild(s);
}

/* Notes the registry a secret goes to; the caller holds the write lock. */
static void note_registry(struct secret_list *s, const char *registry) {
        if (!registry) {
                s->any_registry = true;
                return;
        }
        for (size_t i = 0; i < s->n_registries; i++)
                if (streq(s->registries[i], registry))
                        return;
        char **p = realloc(s->registries, (s->n_registries + 1) * sizeof(*p));
        char *copy = strdup(registry);
        if (p)
                s->registries = p;
        if (!p || !copy) {
                free(copy);
                s->any_registry = true; /* cannot remember where: search every stream */
                return;
        }
        s->registries[s->n_registries++] = copy;
}

/* The caller holds the lock. */
static bool sent_for_locked(const struct secret_list *s, const char *registry) {
        if (s->any_registry || !registry)
                return s->n > 0;
        for (size_t i = 0; i < s->n_registries; i++)
                if (streq(s->registries[i], registry))
                        return true;
        return false;
}

void secrets_add(struct secret_list *s, const char *registry, const char *secret, size_t len) {
        if (!secret || len < SECRET_MIN_LEN)
                return;
        size_t big = 6 * len + 16;
        char *buf = malloc(big);
        pthread_rwlock_wrlock(&s->lock);
        note_registry(s, registry);
        add_one(s, secret, len);
        if (buf) {
                /* base64 */
                int n = auth_base64_encode(secret, len, buf, big);
                if (n > 0)
                        add_one(s, buf, (size_t) n);
                /* JSON-escaped (what a server puts in a JSON body) */
                size_t k = 0;
                for (size_t i = 0; i < len; i++) {
                        unsigned char ch = (unsigned char) secret[i];
                        if (ch == '"' || ch == '\\') {
                                buf[k++] = '\\';
                                buf[k++] = (char) ch;
                        } else if (ch == '/') {
                                buf[k++] = '\\';
                                buf[k++] = '/';
                        } else if (ch < 0x20) {
                                k += (size_t) snprintf(buf + k, big - k, "\\u%04x", ch);
                        } else {
                                buf[k++] = (char) ch;
                        }
                }
                add_one(s, buf, k);
                /* percent-encoded (a query or form value) */
                static const char hex[] = "0123456789ABCDEF";
                k = 0;
                for (size_t i = 0; i < len; i++) {
                        unsigned char ch = (unsigned char) secret[i];
                        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                        (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
                                buf[k++] = (char) ch;
                        } else {
                                buf[k++] = '%';
                                buf[k++] = hex[ch >> 4];
                                buf[k++] = hex[ch & 15];
                        }
                }
                add_one(s, buf, k);
                explicit_bzero(buf, big);
        }
        pthread_rwlock_unlock(&s->lock);
        free(buf);
}

/* The caller holds the read lock. */
static bool found_locked(struct secret_list *s, const void *buf, size_t len) {
        char **items = s->minimal ? s->minimal : s->items;
        size_t n = s->minimal ? s->n_minimal : s->n;
        for (size_t i = 0; i < n; i++)
                if (memmem(buf, len, items[i], strlen(items[i])))
                        return true;
        return false;
}

bool secrets_in(struct secret_list *s, const void *buf, size_t len) {
        pthread_rwlock_rdlock(&s->lock);
        bool found = s->n > 0 && buf && found_locked(s, buf, len);
        pthread_rwlock_unlock(&s->lock);
        return found;
}

/* Any string (or key) in a JSON value holding a secret; depth-bounded like the parser. */
static bool json_has_secret(struct secret_list *s, json_t *v, unsigned depth) {
        if (depth > 256)
                return false;
        if (json_is_string(v))
                return found_locked(s, json_string_value(v), json_string_length(v));
        if (json_is_array(v)) {
                for (size_t i = 0; i < json_array_size(v); i++)
                        if (json_has_secret(s, json_array_get(v, i), depth + 1))
                                return true;
        } else if (json_is_object(v)) {
                const char *k;
                json_t *e;
                json_object_foreach(v, k, e) {
                        if (found_locked(s, k, strlen(k)) || json_has_secret(s, e, depth + 1))
                                return true;
                }
        }
        return false;
}

bool secrets_in_json(struct secret_list *s, const char *buf, size_t len) {
        pthread_rwlock_rdlock(&s->lock);
        bool found = false;
        if (s->n > 0 && buf) {
                found = found_locked(s, buf, len);
                if (!found) {
                        json_error_t jerr;
                        json_t *root = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr);
                        found = root && json_has_secret(s, root, 0);
                        json_decref(root);
                }
        }
        pthread_rwlock_unlock(&s->lock);
        return found;
}

void secrets_redact(struct secret_list *s, char **msg) {
        static const char mark[] = "<redacted>";
        if (!msg || !*msg)
                return;
        pthread_rwlock_rdlock(&s->lock);
        for (size_t i = 0; i < s->n; i++) {
                const char *sec = s->items[i];
                size_t sl = strlen(sec), from = 0;
                char *at;
                /* search on after each mark: a secret may be part of "<redacted>" itself */
                while ((at = strstr(*msg + from, sec))) {
                        size_t before = (size_t) (at - *msg), after = strlen(at + sl);
                        char *out = malloc(before + sizeof(mark) + after);
                        if (!out) {
                                /* cannot rebuild: blank the secret where it stands */
                                memset(at, '*', sl);
                                from = before + sl;
                                continue;
                        }
                        memcpy(out, *msg, before);
                        memcpy(out + before, mark, sizeof(mark) - 1);
                        memcpy(out + before + sizeof(mark) - 1, at + sl, after + 1);
                        explicit_bzero(*msg, strlen(*msg));
                        free(*msg);
                        *msg = out;
                        from = before + sizeof(mark) - 1;
                }
        }
        pthread_rwlock_unlock(&s->lock);
}

void secrets_scan_feed(
                struct secret_list *s, struct secret_scan *scan, const void *buf, size_t len) {
        if (scan->found)
                return;
        pthread_rwlock_rdlock(&s->lock);
        size_t keep = s->max_len > 0 ? s->max_len - 1 : 0;
        if (s->n == 0) {
                pthread_rwlock_unlock(&s->lock);
                return;
        }
        bool search = sent_for_locked(s, scan->registry);
        if (search && found_locked(s, buf, len)) {
                scan->found = true;
                goto out;
        }
        /* across the seam: the previous tail followed by this piece's first bytes */
        if (search && scan->tail_len > 0) {
                size_t head = len < keep ? len : keep;
                char *joint = malloc(scan->tail_len + head);
                if (joint) {
                        memcpy(joint, scan->tail, scan->tail_len);
                        memcpy(joint + scan->tail_len, buf, head);
                        scan->found = found_locked(s, joint, scan->tail_len + head);
                        free(joint);
                }
        }
        /* the new tail: the last `keep` bytes of tail + piece (secrets added meanwhile may
         * have made `keep` longer) */
        if (keep > scan->tail_cap) {
                char *t = realloc(scan->tail, keep);
                if (!t)
                        goto out;
                scan->tail = t;
                scan->tail_cap = keep;
        }
        if (keep) {
                if (len >= keep) {
                        memcpy(scan->tail, (const char *) buf + len - keep, keep);
                        scan->tail_len = keep;
                } else {
                        size_t from_old = scan->tail_len + len > keep ? keep - len : scan->tail_len;
                        memmove(scan->tail, scan->tail + scan->tail_len - from_old, from_old);
                        memcpy(scan->tail + from_old, buf, len);
                        scan->tail_len = from_old + len;
                }
        }
out:
        pthread_rwlock_unlock(&s->lock);
}

void secrets_scan_release(struct secret_scan *scan) {
        free(scan->tail);
        *scan = (struct secret_scan){};
}
