/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_SECRETS_H
#define XARCH_LIB_REGISTRY_SECRETS_H

/*
 * The credentials a client has sent (passwords, identity tokens, bearer tokens, Authorization
 * values), so that nothing a registry echoes back leaks them: error messages are redacted
 * before they leave the client, and documents or blobs that hold one are refused (and never
 * cached). Each secret is looked for as sent and in the forms an echo may take: base64
 * (Authorization: Basic), JSON-escaped, percent-encoded; JSON documents are also checked
 * string by string after decoding, so \u escapes hide nothing. Secrets shorter than
 * SECRET_MIN_LEN bytes are not looked for: they cannot be told apart from ordinary text.
 * Thread-safe.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define SECRET_MIN_LEN 4

struct secret_list {
        pthread_rwlock_t lock;
        char **items; /* NUL-terminated, wiped when freed */
        size_t n, cap;
        /* the items no other item is part of: whatever holds an item holds one of these, so
         * the searches need only them ("user:secret" holds "secret"); NULL: search all */
        char **minimal;
        size_t n_minimal;
        size_t max_len;
        /* the registries secrets were sent on behalf of; a stream from any other registry
         * cannot echo one, so its scan skips the search (secrets_scan_feed) */
        char **registries;
        size_t n_registries;
        bool any_registry; /* a secret was added with no registry named */
};

void secrets_init(struct secret_list *s);
void secrets_free(struct secret_list *s);

/* Remembers a secret (and its echo forms) sent on behalf of `registry` (the API host[:port]
 * requests go to, xarch_ref_api_host(); NULL when it may go to any). Best effort: out of memory
 * drops it, or marks it for any registry. */
void secrets_add(struct secret_list *s, const char *registry, const char *secret, size_t len);

/* Whether buf holds any remembered secret as bytes. */
bool secrets_in(struct secret_list *s, const void *buf, size_t len);

/* Whether buf holds a secret as bytes or, when it parses as JSON, in any decoded string. */
bool secrets_in_json(struct secret_list *s, const char *buf, size_t len);

/* Replaces every remembered secret in *msg (malloc'd) with "<redacted>". */
void secrets_redact(struct secret_list *s, char **msg);

/* A scan over a stream in pieces: a secret split between two pieces is found too. `registry`
 * (set by the caller, NULL: unknown) is where the stream comes from: while no secret was sent
 * on its behalf, pieces are not searched (only the seam's tail is kept, so a secret sent
 * meanwhile is still found across it). */
struct secret_scan {
        const char *registry;
        char *tail; /* the last max_len - 1 bytes seen */
        size_t tail_len, tail_cap;
        bool found;
};
void secrets_scan_feed(
                struct secret_list *s, struct secret_scan *scan, const void *buf, size_t len);
void secrets_scan_release(struct secret_scan *scan);

#endif
