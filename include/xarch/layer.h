/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LAYER_H
#define XARCH_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/compression.h"
#include "xarch/error.h"
#include "xarch/file.h"
#include "xarch/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Streaming layer analysis: one pass over a layer blob (digest checked by the image source,
 * decompressed with gzip, zstd or nothing, tar entries read) that lists every entry and analyses
 * every regular file whose first bytes look executable (ELF, #!, PE, Mach-O) with the file
 * engine. Nothing is written to disk. Memory is bounded whatever the layer size: each candidate
 * file is buffered up to XARCH_LAYER_FULL_MAX bytes; a larger one keeps its first
 * XARCH_LAYER_HEAD_MAX bytes, the range holding the ELF section header table, the bytes around
 * a Go build-info blob and its last XARCH_LAYER_TAIL_MAX bytes, and the engine sees only those.
 */

/* Candidate files up to this size are buffered whole. */
#define XARCH_LAYER_FULL_MAX (4u * 1024 * 1024)
/* Larger files: this much of their start ... */
#define XARCH_LAYER_HEAD_MAX (1024u * 1024)
/* ... and of their end. */
#define XARCH_LAYER_TAIL_MAX (1024u * 1024)
/* Most entries one layer may list; more fail with -EFBIG. */
#define XARCH_LAYER_ENTRIES_MAX 2000000u

enum xarch_layer_entry_type {
        XARCH_LAYER_FILE = 0,
        XARCH_LAYER_DIR,
        XARCH_LAYER_SYMLINK,
        XARCH_LAYER_HARDLINK,
        XARCH_LAYER_OTHER, /* devices, fifos */
};

struct xarch_layer_entry {
        char *path; /* normalised: no leading "/" or "./", no "." or empty components */
        enum xarch_layer_entry_type type;
        char *link; /* symlink target as written, or the normalised hard-link target; else NULL */
        uint32_t mode;
        uint64_t size;
        struct xarch_file_info *info; /* analysed candidates only; NULL otherwise */
        bool partial;                 /* analysed from head/tail ranges, not the whole file */
};

struct xarch_layer {
        char digest[XARCH_DIGEST_MAX];
        enum xarch_compression compression;
        uint64_t compressed_bytes;
        uint64_t uncompressed_bytes;
        /* SHA-256 of the uncompressed stream, every byte to its end: what an image config's
         * rootfs.diff_ids must list for this layer, and what a runtime computes at unpack */
        char diff_id[XARCH_DIGEST_MAX];
        struct xarch_layer_entry *entries; /* in tar order, whiteouts included as written */
        size_t n_entries;
        size_t n_analysed;
};

/* A push interface, for any byte source: feed the (compressed) layer, then finish. */
struct xarch_layer_scanner;

int xarch_layer_scanner_new(enum xarch_compression compression, struct xarch_layer_scanner **ret,
                struct xarch_error **err);
int xarch_layer_scanner_feed(struct xarch_layer_scanner *s, const void *buf, size_t len,
                struct xarch_error **err);
/* Ends the stream and hands over the result (the scanner is then freed by the caller). */
int xarch_layer_scanner_finish(
                struct xarch_layer_scanner *s, struct xarch_layer **ret, struct xarch_error **err);
void xarch_layer_scanner_free(struct xarch_layer_scanner *s);

/* Fetches one layer of img (by descriptor: digest, media type, size) and scans it. The result
 * exists only when the blob's digest verified. */
int xarch_layer_scan(struct xarch_image *img, const struct xarch_descriptor *desc,
                struct xarch_layer **ret, struct xarch_error **err);

void xarch_layer_free(struct xarch_layer *l);

#ifdef __cplusplus
}
#endif

#endif
