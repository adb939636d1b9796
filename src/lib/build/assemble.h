/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BUILD_ASSEMBLE_H
#define XARCH_LIB_BUILD_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/build.h"
#include "xarch/error.h"
#include "xarch/image.h"

/*
 * Outputs of xarch build (internal): a blob store that is an OCI layout directory, either the
 * destination itself (an existing layout: blobs land by temp + rename, index.json is replaced
 * last) or a staging directory that becomes the destination by one rename (a new oci: layout)
 * or is packed into an archive written to a temp file and renamed (oci-archive,
 * docker-archive). Nothing reaches the destination name before everything is complete.
 */

enum out_kind {
        OUT_OCI,
        OUT_OCI_ARCHIVE,
        OUT_DOCKER_ARCHIVE,
};

struct out_store;

/* Parses dest and prepares the store (nothing visible at dest yet). */
int out_store_open(
                const char *dest, int64_t epoch, struct out_store **ret, struct xarch_error **err);
/* Removes whatever was staged and frees. */
void out_store_free(struct out_store *s);

enum out_kind out_store_kind(const struct out_store *s);
const char *out_store_name(const struct out_store *s);

bool out_store_has(struct out_store *s, const char *digest);

/* A temp file in the blob directory for a blob being written; out_store_commit_fd links it
 * under its digest (and closes it). */
int out_store_temp(struct out_store *s, struct xarch_error **err);
int out_store_commit_fd(struct out_store *s, int fd, const char *digest, struct xarch_error **err);
void out_store_abort_fd(struct out_store *s, int fd);

int out_store_put(struct out_store *s, const char *digest, const void *data, size_t len,
                struct xarch_error **err);

/* Copies a blob of img into the store, verified on the way (skipped when present). */
int out_store_copy(struct out_store *s, struct xarch_image *img, const char *digest,
                struct xarch_error **err);

struct out_image {
        const char *manifest_digest;
        uint64_t manifest_size;
        const char *manifest_media_type;
        const char *config_digest;
        const char *const *layer_digests; /* docker-archive: in order */
        size_t n_layers;
};

/* Writes the root (index.json entry, archive) and makes it visible at dest. root_* describe the
 * manifest or index the tag names. */
int out_store_finish(struct out_store *s, const char *root_digest, uint64_t root_size,
                const char *root_media_type, const struct out_image *image,
                struct xarch_error **err);

#endif
