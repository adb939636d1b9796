/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_REQUEST_H
#define XARCH_LIB_REGISTRY_REQUEST_H

/*
 * The registry request policy (request.c), used by the API calls in registry.c and by the
 * upload engine: one function sends a struct http_req (transport.h) to a registry and deals
 * with everything between the caller and the wire:
 *   - the per-host concurrency slot (max_per_registry),
 *   - the scheme (loopback registries probed over plain HTTP first; https elsewhere),
 *   - authentication learnt from 401 challenges (Basic, or Bearer tokens fetched for the
 *     scope "repository:<name>:pull", or ":pull,push" with REQ_PUSH, cached per host+scope),
 *   - retries with backoff on 429, 5xx and dropped connections (Retry-After honoured; a
 *     request body is only resent when it can be rewound, see struct http_body),
 *   - blob redirects (REQ_REDIRECTABLE; credentials only follow to the same origin).
 *
 * A caller sets on q: method, accept, body_type / extra_headers / body (uploads), on_body/ud and
 * max_total (downloads). On return 0 the response fields of q describe the final answer (any
 * status: q->status, q->location, q->range, q->upload_uuid, q->chunk_min_length,
 * q->docker_digest, ...); map a non-2xx status with status_error(). On < 0 *err says why; when
 * q->abort_code is set the caller's own sink aborted (or a size cap hit): use fail_abort().
 *
 * Uploading a blob, for instance (monolithic, after a POST .../blobs/uploads/ answered 202):
 *     q->method = "PUT"; q->body = &(struct http_body){.fd = fd, .length = size};
 *     q->body_type = "application/octet-stream";
 *     snprintf(path, ..., "%s%cdigest=%s", q->location, strchr(q->location, '?') ? '&' : '?',
 *              digest);
 *     registry_request(r, ref, path, q, REQ_URL | REQ_PUSH, &sent, err);
 */

#include <stdbool.h>
#include <stdint.h>

#include "registry/client.h"
#include "registry/transport.h"
#include "xarch/error.h"
#include "xarch/ref.h"

enum {
        REQ_REDIRECTABLE = 1 << 0, /* follow 3xx (blob storage backends) */
        REQ_PUSH = 1 << 1,         /* authenticate for "pull,push" instead of "pull" */
        /* `path` is a URL or an absolute path ("/v2/...", as in an upload's Location) resolved
         * against the registry's base URL, instead of a path below /v2/<repository>/ */
        REQ_URL = 1 << 2,
};

/*
 * Sends q to /v2/<repository>/<path> on ref's registry (or to `path` itself with REQ_URL).
 * Returns 0 when a final response arrived (q->status may be an error status), <0 with *err set.
 * *sent_credentials tells whether credentials went with the request (for status_error()).
 */
int registry_request(struct xarch_registry *r, const struct xarch_ref *ref, const char *path,
                struct http_req *q, unsigned flags, bool *sent_credentials,
                struct xarch_error **err);

/* One exchange with retries on 429, 5xx and dropped connections, no auth or redirects. */
int http_perform(struct xarch_registry *r, struct http_req *q);

/* Error for a transport failure (q->code) talking to host. */
int transport_error(struct http_req *q, const char *host, struct xarch_error **err);

/* Error for a final non-2xx response. what: "manifest 'latest'", "blob 'sha256:...'". */
int status_error(struct http_req *q, const struct xarch_ref *ref, const char *what,
                bool sent_credentials, struct xarch_error **err);

/* Removes every credential the client has sent from (*err)->msg (registry_request() and
 * status_error() do this already; anything else that quotes a registry's words calls it). */
void registry_redact(struct xarch_registry *r, struct xarch_error **err);

/* Error for an exchange the caller's sink or a size cap (cap) aborted. */
int fail_abort(struct http_req *q, const char *what, const struct xarch_ref *ref, uint64_t cap,
                struct xarch_error **err);

#endif
