/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_IMAGE_H
#define XARCH_LIB_IMAGE_H

#include "xarch/image.h"

/* Internal helpers of the image module, exposed for the unit tests. */

/* Most regular files an archive source indexes. */
#define IMAGE_ARCHIVE_ENTRIES_MAX 200000

/* Splits a source spec into its transport, path (or registry reference) and optional tag, the
 * way containers/image does: the first ':' after "oci:"/"oci-archive:"/"docker-archive:"
 * separates path and tag. "docker://" is stripped. *ret_path and *ret_tag are malloc'd; *ret_tag
 * is NULL when absent. */
int image_spec_split(const char *spec, enum xarch_transport *ret_transport, char **ret_path,
                char **ret_tag, struct xarch_error **err);

/* Whether reading `digest` needs no network (a local source, or the registry client's cache):
 * callers do such reads inline rather than on a thread of their own. */
bool image_blob_at_hand(struct xarch_image *img, const char *digest);

/* Normalises an archive member path: drops leading "./" and "/" runs and collapses "//" and
 * "/./"; returns false for paths containing ".." components or that end up empty. */
bool image_archive_path_normalize(const char *in, char *out, size_t size);

#endif
