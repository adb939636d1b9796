/* SPDX-License-Identifier: MIT */
#ifndef XARCH_COPY_H
#define XARCH_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/digest.h"
#include "xarch/error.h"
#include "xarch/image.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Copying images between registries, OCI layouts (oci:DIR[:TAG]), OCI archives
 * (oci-archive:FILE[:TAG]) and docker-archive tarballs (docker-archive:FILE[:NAME:TAG], one
 * image only).
 *
 * Whole copies are verbatim: every manifest and blob is written byte for byte, so the digest at
 * the destination equals the source's; nothing is recompressed or re-serialised. A subset of
 * platforms gets a new index holding just those entries (their descriptors copied as they
 * were) and the BuildKit attestation entries that refer to them.
 *
 * Order: blobs, then each image manifest, then indexes, then the tag, so an interrupted copy
 * never leaves the tag pointing at an incomplete image; a rerun skips what the destination
 * already holds (a manifest already there skips its whole subtree).
 */

struct xarch_copy_options {
        const struct xarch_platform *platforms; /* subset (normalised forms compared); NULL = all */
        size_t n_platforms;
        bool referrers; /* also what the OCI referrers API / fallback tag lists, recursively */
        /* blobs copied at once to a registry; 0 = 8. Each may hold two requests to one host at once
         * (a source GET streaming into a destination PATCH): the image context's
         * max_per_registry should be at least 2 * jobs + 2, or copies within one registry
         * can wait on each other */
        unsigned jobs;
};

struct xarch_copy_entry {
        char digest[XARCH_DIGEST_MAX];
        char media_type[128];
        bool has_platform;
        struct xarch_platform platform;
        bool attestation; /* a BuildKit attestation manifest or an artifact */
};

struct xarch_copy_result {
        char source_digest[XARCH_DIGEST_MAX]; /* the source's root manifest */
        char digest[XARCH_DIGEST_MAX];        /* what the destination's tag now names */
        char media_type[128];
        uint64_t size;
        bool rewritten; /* a new index (subset): digest differs from source_digest */
        struct xarch_copy_entry *entries; /* index entries copied (none for a single image) */
        size_t n_entries;
        size_t n_referrers;
        uint64_t manifests_written, manifests_skipped;
        uint64_t blobs_written, blobs_skipped, blobs_mounted;
        uint64_t bytes_written;
        uint64_t uploads_resumed; /* interrupted uploads resumed where the registry stood */
};

int xarch_copy(struct xarch_image_context *ctx, const char *src, const char *dst,
                const struct xarch_copy_options *opts, struct xarch_copy_result **ret,
                struct xarch_error **err);
void xarch_copy_result_free(struct xarch_copy_result *r);

#ifdef __cplusplus
}
#endif

#endif
