/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BUILD_SINK_H
#define XARCH_LIB_BUILD_SINK_H

/*
 * Image destinations ("sinks"): where `xarch copy`, `xarch index` and `xarch build` write.
 *
 *   oci:DIR[:TAG]                     an OCI image layout directory (created if missing);
 *                                     blobs land by temp file + rename, index.json is replaced
 *                                     atomically when the tag is set, re-read and rewritten
 *                                     under an flock(2) of DIR, so that writers of one layout
 *                                     at once (processes of xarch, or anything that takes the
 *                                     same lock, e.g. under flock(1)) never lose each other's
 *                                     tags
 *   oci-archive:FILE[:TAG]            the same layout as a tar file
 *   docker-archive:FILE[:NAME:TAG]    a `docker load`/`podman load` tarball (one image): an OCI
 *                                     layout plus manifest.json, as Docker >= 25 saves
 *   [docker://]REGISTRY/NAME[:TAG]    a registry (upload.c)
 *
 * The order of calls is the order that keeps a destination consistent: blobs, then the
 * manifests that reference them (children before indexes), then sink_set_tag() last. Archives
 * are written to an unnamed file (O_TMPFILE) beside the destination, named and renamed into
 * place by sink_commit(), so an interrupted or killed run leaves no half-written archive and
 * no temporary file; a directory or a registry keeps the blobs and manifests
 * already written, so a rerun skips them (sink_has_blob()).
 *
 * A blob is written as a stream: sink_blob_begin() (digest and size when known, for a copy;
 * unknown for a layer being built), sink_blob_write() any number of times, sink_blob_commit().
 * The digest is always computed from the bytes written; a known digest or size that the bytes
 * do not match fails the commit (-EBADMSG) and nothing is stored under that digest.
 *
 * A sink is used from one thread at a time, except registry sinks, whose blob writers may run on
 * several threads at once (each begin/write/commit sequence on its own thread).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/digest.h"
#include "xarch/error.h"
#include "xarch/image.h"

#define SINK_SIZE_UNKNOWN UINT64_MAX

/* An interrupted registry upload that can resume (-ERESTART) is fed again from the blob's first
 * byte this many times at most. */
#define SINK_RESTARTS_MAX 4

struct sink;
struct sink_blob;

/* Opens a destination spec (see above). Local destinations are created lazily: nothing is
 * touched before the first write. */
int sink_open(struct xarch_image_context *ctx, const char *spec, struct sink **ret,
                struct xarch_error **err);

/* Removes what an uncommitted archive left (its temporary file) and frees. Accepts NULL. */
void sink_free(struct sink *s);

enum xarch_transport sink_transport(const struct sink *s);

/* "oci:/abs/dir:tag", "docker.io/library/x:tag", ... */
const char *sink_name(const struct sink *s);

/* The tag the spec named, or NULL. */
const char *sink_tag(const struct sink *s);

/* Whether the sink can take several blob writers at once (registries). */
bool sink_parallel(const struct sink *s);

/* 1 when the destination already holds the blob (a rerun skips it), 0 when not. */
int sink_has_blob(struct sink *s, const char *digest, uint64_t size, struct xarch_error **err);

/* 1 when the destination already holds the manifest, 0 when not. */
int sink_has_manifest(struct sink *s, const char *digest, struct xarch_error **err);

/* Starts a blob. digest NULL and size SINK_SIZE_UNKNOWN when not known in advance. mount_from,
 * when not NULL, is a registry source the blob may be mounted from (same registry). Returns 1
 * and *ret NULL when the blob was mounted or already there (nothing to write). */
int sink_blob_begin(struct sink *s, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct sink_blob **ret,
                struct xarch_error **err);

/* Appends bytes; a sink callback (xarch_sink_fn) shape, so a source can stream into it. */
int sink_blob_write(void *blob, const void *buf, size_t len);

/* Finishes a blob: checks the size and digest of the bytes written, stores the blob, writes its
 * digest into digest_out (may be NULL) and frees b. */
int sink_blob_commit(
                struct sink_blob *b, char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err);

/* After sink_blob_write() or sink_blob_commit() returned -ERESTART (a registry upload was
 * interrupted and can resume; commit then keeps b): makes b ready to be fed again from the
 * blob's first byte. The bytes the registry already holds are hashed but not sent again.
 * Returns 0, or <0 when b cannot restart (then abort it). */
int sink_blob_restart(struct sink_blob *b);

/* Writes one blob that feed(ctx, w, err) streams into w with sink_blob_write(): skipped when
 * the destination has it (digest known), mounted from mount_from when the registry can, else fed
 * and committed; an interrupted registry upload is fed again from the start a few times.
 * feed_checks_digest: feed returns >= 0 only when the bytes it gave hash to digest, so the sink
 * does not hash them again. Returns 0 when the destination holds the blob, <0 with *err set. */
typedef int (*sink_feed_fn)(void *ctx, struct sink_blob *w, struct xarch_error **err);
int sink_feed_blob(struct sink *s, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, sink_feed_fn feed, void *ctx,
                bool feed_checks_digest, struct xarch_error **err);

/* Copies one blob from src: skipped when the destination has it, mounted from mount_from when
 * the registry can, else streamed from src (checked against digest as it is read, and hashed
 * only there) and committed; an interrupted registry upload is fed again from the start a few
 * times. Returns 0 when the destination holds the blob, <0 with *err set. */
int sink_copy_blob(struct sink *s, struct xarch_image *src, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct xarch_error **err);

/* Drops an unfinished blob and frees b. Accepts NULL. */
void sink_blob_abort(struct sink_blob *b);

/* Stores a manifest or index, byte for byte, under its digest (written into digest_out, may be
 * NULL). Everything it references must have been written first. */
int sink_put_manifest(struct sink *s, const void *data, size_t len, const char *media_type,
                char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err);

/* The same for the manifest or index that sink_set_tag() will name next: to a registry with a
 * tag it goes up once, by that tag, in sink_set_tag() (one request, and the last write); to
 * anything else as sink_put_manifest(). */
int sink_put_root(struct sink *s, const void *data, size_t len, const char *media_type,
                char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err);

/* Points the sink's tag (or, for an untagged layout, its only unnamed entry) at a manifest
 * already put. For docker-archive the manifest must be an image, not an index. */
int sink_set_tag(struct sink *s, const char *digest, const char *media_type, uint64_t size,
                struct xarch_error **err);

/* sink_set_tag() for an oci: layout, on a condition checked under the layout's lock: only
 * while the tag still names expect (a digest; "": while there is no such tag), so that an edit made
 * from what the tag held never overwrites a writer that moved it meanwhile. Returns 0 when the tag
 * was set, 1 when it had moved (nothing written), <0 on error; -ENOTSUP for other destinations (a
 * registry has no such condition: re-read the tag just before sink_set_tag() instead). */
int sink_set_tag_if(struct sink *s, const char *expect, const char *digest, const char *media_type,
                uint64_t size, struct xarch_error **err);

/* Points another tag of the destination (a registry or an oci: layout) at a manifest already
 * put; -ENOTSUP for archives, which hold their one tag. */
int sink_set_named_tag(struct sink *s, const char *tag, const char *digest, const char *media_type,
                uint64_t size, struct xarch_error **err);

/* sink_set_tag_if() for another tag of an oci: layout. */
int sink_set_named_tag_if(struct sink *s, const char *tag, const char *expect, const char *digest,
                const char *media_type, uint64_t size, struct xarch_error **err);

/* What the destination knows of subject's referrers: *api true when it is a registry with the
 * referrers API (it indexes subjects itself; nothing to maintain), else the current fallback-tag
 * index in *ret (data NULL when there is none). */
int sink_referrers(struct sink *s, const char *subject, struct xarch_blob_buf *ret, bool *api,
                struct xarch_error **err);

/* Finishes the destination: archives get their index.json (and manifest.json) and are renamed
 * into place; for directories and registries this is a no-op. */
int sink_commit(struct sink *s, struct xarch_error **err);

/* Counters for the report. */
struct sink_stats {
        uint64_t blobs_written, blobs_skipped, blobs_mounted;
        uint64_t manifests_written, manifests_skipped;
        uint64_t bytes_written;
        uint64_t uploads_resumed; /* registry uploads resumed after an interruption */
};
void sink_get_stats(struct sink *s, struct sink_stats *ret);

#endif
