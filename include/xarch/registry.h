/* SPDX-License-Identifier: MIT */
#ifndef XARCH_REGISTRY_H
#define XARCH_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/digest.h"
#include "xarch/error.h"
#include "xarch/ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A client for the OCI distribution API (pull side) over libcurl.
 *
 * - Authentication: anonymous, HTTP basic, and the bearer-token flow (tokens cached per
 *   registry + scope). Credentials come from, first match wins: opts->auth_file, else
 *   $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 *   $XDG_CONFIG_HOME/containers/auth.json, $DOCKER_CONFIG/config.json or ~/.docker/config.json
 *   ("auths" base64 "auth", "credHelpers", "credsStore" via docker-credential-NAME).
 *   Secrets are never put into error messages.
 * - TLS is verified; plain HTTP is used only for loopback registries or with opts->insecure.
 * - Every manifest and blob is checked against its digest; nothing unverified is cached.
 * - Retries with exponential backoff on 429, 5xx and dropped connections (Retry-After honoured).
 *
 * Error codes (the message in *err says more):
 *   -EINVAL        bad argument (invalid digest, ...)
 *   -EHOSTUNREACH  registry unreachable (DNS, connection refused, timeout)
 *   -EPROTO        TLS failure (certificate not trusted, ...) or plain HTTP refused
 *   -ENOENT        name unknown (NAME_UNKNOWN), tag/manifest unknown (MANIFEST_UNKNOWN),
 *                  blob unknown
 *   -EACCES        unauthorized (401) or denied (403)
 *   -EAGAIN        rate limited (429), after retries; says how many pulls remain if known
 *   -EFBIG         larger than the cap (manifests: 4 MiB; blobs: max_size)
 *   -EBADMSG       malformed response or digest mismatch
 *   -EIO           other HTTP or transport failures (5xx after retries, reset connections)
 *   -ENOMEM
 */

/* Manifests (and indexes) larger than this are refused. */
#define XARCH_MANIFEST_MAX (4u * 1024 * 1024)

/* The Accept header sent for manifests: OCI index + manifest, Docker list + v2 manifest. */
#define XARCH_REGISTRY_MANIFEST_ACCEPT                                                             \
        "application/vnd.oci.image.index.v1+json, "                                                \
        "application/vnd.oci.image.manifest.v1+json, "                                             \
        "application/vnd.docker.distribution.manifest.list.v2+json, "                              \
        "application/vnd.docker.distribution.manifest.v2+json"

struct xarch_registry_options {
        const char *ca_file;       /* extra CA bundle (--ca) */
        bool insecure;             /* allow plain HTTP / unverified TLS for non-loopback hosts */
        const char *auth_file;     /* explicit auth file; else the search order above */
        const char *cache_dir;     /* NULL = $XDG_CACHE_HOME/xarch or ~/.cache/xarch; "" = none */
        unsigned max_per_registry; /* concurrent requests per registry host; 0 = default 6 */
        unsigned max_retries;      /* 0 = default 4 */
        /* Fields below are additions to the base contract; zero means default. */
        const char *user_agent; /* NULL = "xarch/<version>" */
        bool no_retry;          /* disables retries entirely (max_retries is ignored) */
};

/* A client. THREAD-SAFE: many threads may call the functions below on one client at once. */
struct xarch_registry;

int xarch_registry_new(const struct xarch_registry_options *opts, struct xarch_registry **ret,
                struct xarch_error **err);

/* Accepts NULL. No call may be in flight. */
void xarch_registry_free(struct xarch_registry *r);

/* A fetched document. data is NUL-terminated (not counted in len) for convenience. */
struct xarch_blob_buf {
        char *data;
        size_t len;
        char media_type[256]; /* Content-Type, or the document's mediaType when from the cache */
        char digest[XARCH_DIGEST_MAX];
};

/* Frees data and zeroes the struct; accepts a zeroed struct. */
void xarch_blob_buf_release(struct xarch_blob_buf *b);

/*
 * GETs a manifest or index. reference is a tag or digest; NULL means ref's digest, else its tag.
 * By digest: verified against that digest (and served from the cache when present).
 * By tag: verified against Docker-Content-Digest when the registry sends it; the digest is
 * computed either way and stored in ret->digest. Capped at XARCH_MANIFEST_MAX (-EFBIG).
 * Verified manifests are cached by digest. On success *ret owns its data.
 */
int xarch_registry_get_manifest(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *reference, struct xarch_blob_buf *ret, struct xarch_error **err);

/* HEADs a tag (or digest) and returns the digest and media type (free on Docker Hub's rate
 * limits). Falls back to GET + hashing when the registry sends no Docker-Content-Digest.
 * media_type may be NULL. */
int xarch_registry_resolve(struct xarch_registry *r, const struct xarch_ref *ref,
                char digest[XARCH_DIGEST_MAX], char media_type[256], struct xarch_error **err);

/*
 * Streams a blob to sink in chunks (never whole in memory), verifying the digest at the end:
 * -EBADMSG on mismatch. The sink MUST treat the data as untrusted until this returns 0. A
 * negative return from sink aborts the transfer and is returned. max_size 0 = no cap (else
 * -EFBIG). Served from the cache when present (and re-verified); written to the cache only
 * after verification. Interrupted transfers are resumed with a Range request where possible,
 * so the sink sees each byte once.
 */
typedef int (*xarch_sink_fn)(void *userdata, const void *buf, size_t len);
int xarch_registry_get_blob(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, xarch_sink_fn sink, void *userdata,
                struct xarch_error **err);

/* Convenience: fetches a small blob (a config, say) into memory, verified, capped at max_size
 * (0 = 8 MiB). ret->media_type is empty. */
int xarch_registry_get_blob_buf(struct xarch_registry *r, const struct xarch_ref *ref,
                const char *digest, uint64_t max_size, struct xarch_blob_buf *ret,
                struct xarch_error **err);

/* Counters for tests and benchmarks (monotonic over the client's life). */
struct xarch_registry_stats {
        uint64_t requests;       /* HTTP requests sent, including token requests and retries */
        uint64_t token_requests; /* requests to a token realm */
        uint64_t retries;        /* requests repeated after 429/5xx/dropped connection */
        uint64_t cache_hits;     /* manifests/blobs served from the local cache */
        uint64_t connections;    /* new connections opened (the rest were reused) */
        uint64_t bytes;          /* body bytes received from the network */
        uint64_t http2_requests; /* requests answered over HTTP/2 */
};
void xarch_registry_get_stats(struct xarch_registry *r, struct xarch_registry_stats *ret);

#ifdef __cplusplus
}
#endif

#endif
