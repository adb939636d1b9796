/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_UPLOAD_H
#define XARCH_LIB_REGISTRY_UPLOAD_H

/*
 * The upload engine: blobs and manifests pushed to one repository of a registry.
 *
 * - HEAD before every upload (a blob already there is never sent again);
 * - cross-repository mount (POST ?mount=&from=) when the source is on the same registry,
 *   with a normal upload when the registry answers 202 instead of 201;
 * - blobs of known size up to UPLOAD_MONOLITHIC_MAX: POST then one PUT with the body;
 *   larger, with size and digest known: POST, then one PUT ?digest= streaming the body (its
 *   last byte held back until upload_blob_commit, i.e. until the writer checked the digest);
 *   unknown size or digest: POST, one streaming PATCH, PUT ?digest=; when the registry
 *   refuses the streaming request, chunked PATCHes with Content-Range, honouring
 *   OCI-Chunk-Min-Length;
 * - every request of a push over HTTP/1.1 (libcurl's HTTP/2 uploads cost 2-3x the CPU);
 * - a failed request is retried with backoff; a failed upload resumes at the offset the
 *   registry reports (GET on the upload URL, Range header);
 * - the Location header is used exactly as given (relative or absolute, query kept);
 * - the token asks for repository:<name>:pull,push (plus pull on the mount source);
 * - the digest sent with the final PUT is computed from the bytes sent.
 *
 * A blob's bytes arrive by push (upload_blob_write); the HTTP request body is pulled by the
 * transport from a bounded in-memory pipe, so a layer is never held whole in memory: the
 * writer blocks while the upload catches up.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/digest.h"
#include "xarch/error.h"
#include "xarch/ref.h"
#include "xarch/registry.h"

/* Blobs of a known size up to this go up as one PUT. */
#define UPLOAD_MONOLITHIC_MAX (4u * 1024 * 1024)
/* The chunk size when chunked uploads are needed (GHCR refuses more than 4 MiB per PATCH). */
#define UPLOAD_CHUNK_DEFAULT (4u * 1024 * 1024)
/* The largest chunk buffered, whatever OCI-Chunk-Min-Length asks for: a hostile or broken
 * registry must not make a whole layer sit in memory. */
#define UPLOAD_CHUNK_MAX (16u * 1024 * 1024)

struct upload_target;
struct upload_blob;

/* How many bytes an upload session holds, from its Range header ("0-1023" or "bytes=0-1023"
 * -> 1024; "0-0" -> 0, as distribution also sends it for an empty session); -1 when malformed
 * (a start other than 0, missing or extra characters, overflow). */
int64_t upload_range_held(const char *range);

struct upload_stats {
        uint64_t blobs_uploaded, blobs_existing, blobs_mounted, mount_refused;
        uint64_t bytes_sent;
        uint64_t chunked_uploads, resumed_uploads;
};

int upload_target_new(struct xarch_registry *r, const struct xarch_ref *ref,
                struct upload_target **ret, struct xarch_error **err);
void upload_target_free(struct upload_target *t); /* accepts NULL */
void upload_target_stats(struct upload_target *t, struct upload_stats *ret);

/* HEAD blobs/<digest>: 1 present (with that size, unless size is UINT64_MAX), 0 absent. */
int upload_blob_exists(struct upload_target *t, const char *digest, uint64_t size,
                struct xarch_error **err);

/* HEAD manifests/<digest>: 1 present, 0 absent. */
int upload_manifest_exists(struct upload_target *t, const char *digest, struct xarch_error **err);

/* Starts a blob upload (HEAD, then mount from mount_from when it is the same registry). Returns
 * 1 with *ret NULL when nothing needs sending. digest may be NULL and size UINT64_MAX when not
 * known (a layer being built). Thread-safe: blobs may be uploaded from several threads. */
int upload_blob_begin(struct upload_target *t, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct upload_blob **ret,
                struct xarch_error **err);

/* Feeds the next bytes; blocks while the upload is behind. Returns 0 or a negative errno (the
 * upload failed: upload_blob_error says why). -ERESTART (also from upload_blob_commit, which
 * then keeps b) means the upload was interrupted and will resume: feed the blob again from its
 * first byte (the bytes the registry already holds are skipped, not sent again). */
int upload_blob_write(struct upload_blob *b, const void *buf, size_t len);

/* 0 when b is ready to be fed from its first byte again (after -ERESTART). */
int upload_blob_restart(struct upload_blob *b);

/* The message of a failed upload into *err; returns its negative errno. */
int upload_blob_error(struct upload_blob *b, struct xarch_error **err);

/* Ends the body and completes the upload with PUT ?digest=<digest> (the digest of the bytes
 * written, computed by the caller). Frees b. */
int upload_blob_commit(
                struct upload_blob *b, const char *digest, uint64_t size, struct xarch_error **err);

/* Cancels (DELETE on the upload URL, best effort) and frees. Accepts NULL. */
void upload_blob_abort(struct upload_blob *b);

/* PUT manifests/<reference> with Content-Type media_type; reference NULL = digest. The bytes
 * are remembered so that upload_tag() can put them under the tag later. */
int upload_manifest_put(struct upload_target *t, const void *data, size_t len,
                const char *media_type, const char *digest, const char *reference,
                struct xarch_error **err);

/* Remembers a manifest for upload_tag() without putting it: the tag's PUT is then its only
 * write (a registry stores a manifest put by tag under its digest too). */
int upload_manifest_stage(struct upload_target *t, const void *data, size_t len,
                const char *media_type, const char *digest, struct xarch_error **err);

/* Puts a manifest already put (by digest) or staged under the target's tag. No tag: nothing to
 * do. */
int upload_tag(struct upload_target *t, const char *digest, const char *media_type,
                struct xarch_error **err);

/* The same for another tag of the repository (a referrers fallback tag, say). */
int upload_tag_named(struct upload_target *t, const char *tag, const char *digest,
                const char *media_type, struct xarch_error **err);

#endif
