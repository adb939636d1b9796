/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_H
#define XARCH_LIB_REGISTRY_H

/* Internal helpers of the registry client, declared for unit tests and fuzzers. */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct xarch_registry;

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns seconds to wait
 * (>= 0) or -1 when absent or unparsable. */
long registry_parse_retry_after(const char *value, time_t now);

/* A distribution error body {"errors":[{"code","message"}]}: copies the first code and a
 * sanitised message (printable ASCII only, truncated). Returns 0 or -EBADMSG. */
int registry_parse_error_body(const char *body, size_t len, char code[64], char message[256]);

/* The same, whole: *code and *message are allocated (sanitised, not truncated), so that an
 * echoed credential can be redacted before anything is cut short. Returns 0, -EBADMSG or
 * -ENOMEM; on failure both are NULL. */
int registry_parse_error_body_alloc(const char *body, size_t len, char **code, char **message);

/* "ratelimit-remaining: 20;w=21600" -> 20 and *window_seconds = 21600 (0 when absent).
 * Returns -1 when unparsable. */
long registry_parse_ratelimit(const char *value, long *window_seconds);

/* Whether the client's cache holds the blob or manifest `digest` (not verified here: reading it
 * verifies). */
bool registry_cache_has(struct xarch_registry *r, const char *digest);

/* Whether two absolute URLs share scheme, host and port (so credentials may follow). */
bool registry_url_same_origin(const char *a, const char *b);

/* Copies a document's top-level "mediaType", or guesses from its shape ("manifests" -> OCI
 * index, "layers" -> OCI manifest); "" when neither. */
void registry_media_type_from_body(const char *body, size_t len, char out[256]);

#endif
