/* SPDX-License-Identifier: MIT */
#ifndef XARCH_INDEX_H
#define XARCH_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/copy.h"
#include "xarch/error.h"
#include "xarch/image.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Creating and editing image indexes (`xarch index`), at a registry or in an OCI layout
 * (oci-archive: for create only).
 *
 * - Sources are images or indexes (any transport); index sources are flattened into their
 *   entries. Everything an entry references is copied to the destination first, verbatim.
 * - Each image entry's platform is read from its config; a platform the source index or
 *   options->platform states that disagrees with the config is refused unless options->force.
 * - Two image entries with the same platform are refused. BuildKit attestation entries follow
 *   their image (added with it, removed with it).
 * - Entries are ordered canonically (images by os, architecture, variant, os.version, digest;
 *   each attestation after the images, in the order of the image it describes; other entries
 *   by digest), so the same set gives the same digest.
 * - OCI index by default; docker_format writes a Docker manifest list and is refused when an
 *   entry is not a Docker manifest. Editing keeps the existing index's format unless asked.
 * - An edit reads the destination tag, computes the new index, writes it by digest, re-reads
 *   the tag just before moving it and starts over (up to 3 times) when it changed meanwhile.
 */

enum xarch_index_op {
        XARCH_INDEX_CREATE,   /* a new index of the sources' entries */
        XARCH_INDEX_ADD,      /* the destination's entries plus the sources' */
        XARCH_INDEX_REMOVE,   /* drop the entries options->platform or ->digest selects */
        XARCH_INDEX_ANNOTATE, /* set annotations on the index, or on the selected entries */
};

struct xarch_index_options {
        enum xarch_index_op op;
        const char *const *sources; /* CREATE, ADD */
        size_t n_sources;
        /* CREATE/ADD: the platform of single-image sources (checked against their config);
         * REMOVE/ANNOTATE: selects entries (normalised comparison) */
        const struct xarch_platform *platform;
        const char *digest;             /* REMOVE/ANNOTATE: selects the entry by digest */
        const char *const *annotations; /* "KEY=VALUE" */
        size_t n_annotations;
        bool docker_format; /* a Docker manifest list */
        bool oci_format;    /* an OCI index (an edit otherwise keeps the existing format) */
        bool force;         /* accept a platform that disagrees with the config */
        unsigned jobs;      /* blobs copied at once to a registry; 0 = 8 (see xarch_copy_options) */
};

struct xarch_index_result {
        char digest[XARCH_DIGEST_MAX]; /* the new index, which the tag names */
        char media_type[128];
        uint64_t size;
        struct xarch_copy_entry *entries;
        size_t n_entries;
        unsigned attempts; /* > 1 when the tag moved under us and the edit started over */
};

int xarch_index_edit(struct xarch_image_context *ctx, const char *dest,
                const struct xarch_index_options *opts, struct xarch_index_result **ret,
                struct xarch_error **err);
void xarch_index_result_free(struct xarch_index_result *r);

#ifdef __cplusplus
}
#endif

#endif
