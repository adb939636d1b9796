/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BUILD_COPY_INTERNAL_H
#define XARCH_LIB_BUILD_COPY_INTERNAL_H

/* Helpers of copy.c shared with index.c and the unit tests. */

#include <stdbool.h>
#include <stddef.h>

#include "xarch/image.h"
#include "xarch/platform.h"

/* Marks in keep[] (one per index entry) the image entries whose platform (normalised) is one of
 * platforms, and the BuildKit attestation entries that refer to a kept image. A platform no
 * entry offers fails with -ENOENT naming it. */
int copy_select(const struct xarch_blob_buf *root, const struct xarch_manifest *index,
                const struct xarch_platform *platforms, size_t n_platforms, bool *keep,
                struct xarch_error **err);

/* The index root with only the entries keep[] marks (n = entries in the index), each
 * descriptor as it was; *ret is malloc'd. */
int copy_rewrite_index(const struct xarch_blob_buf *root, const bool *keep, size_t n, char **ret,
                size_t *ret_len, struct xarch_error **err);

struct sink;

/* Copies a manifest (its verified bytes in *manifest, taken over) and everything below it from
 * src to dst, children first; what dst already holds is skipped. No tag is set. */
int copy_tree(struct xarch_image *src, struct sink *dst, struct xarch_blob_buf *manifest,
                const char *media_type, unsigned jobs, struct xarch_error **err);

#endif
