/* SPDX-License-Identifier: MIT */
#ifndef XARCH_BUILD_H
#define XARCH_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/compression.h"
#include "xarch/digest.h"
#include "xarch/error.h"
#include "xarch/image.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * `xarch build`: one image per target platform, from a base (scratch or any image source) plus
 * one new layer of files, directories and archive contents per platform, then an index over
 * them. Everything added is checked before anything is written: every ELF file matches its
 * platform (machine, class, byte order, ARM float ABI, arm variant and x86-64 level not above
 * the platform's, Go GOARCH), Mach-O and PE executables are refused, every dynamic ELF's loader
 * and every "#!" interpreter exists in the final root (base layers + the new one), and the
 * entrypoint/cmd resolves to a program. Layers are reproducible (see build/layer.h for the
 * convention) and written by streaming; outputs are written atomically.
 */

/* The annotation on each new layer descriptor that records how it was compressed. */
#define XARCH_ANNOTATION_COMPRESSOR "io.github.xarch.layer.compressor"

/* One --add or --add-archive: "[PLATFORM=]SRC:DEST". SRC may hold placeholders expanded per
 * platform: {os} {arch} {variant} {uname_m} {debian_arch}. */
struct xarch_build_add {
        bool archive;
        bool has_platform;
        struct xarch_platform platform; /* normalised; only used for that platform */
        char *src;
        char *dest; /* absolute in the image */
};

/* Parses "[PLATFORM=]SRC:DEST" (DEST absolute). */
int xarch_build_add_parse(const char *spec, bool archive, struct xarch_build_add *ret,
                struct xarch_error **err);
void xarch_build_add_release(struct xarch_build_add *a);

/* Expands the placeholders of src for platform p into a malloc'd string (-EINVAL for an unknown
 * placeholder or one with no value for p, naming it). */
int xarch_build_expand(const char *src, const struct xarch_platform *p, char **ret,
                struct xarch_error **err);

typedef void (*xarch_build_progress_fn)(void *userdata, const char *message);

struct xarch_build_options {
        const char *from;                       /* "scratch" or an image spec */
        const struct xarch_platform *platforms; /* NULL/0: every platform of the base index,
                                                   the base image's, or the host's for scratch */
        size_t n_platforms;
        const struct xarch_build_add *adds;
        size_t n_adds;

        unsigned strip_components; /* --add-archive */
        bool chown;
        uint32_t uid, gid;
        bool chmod;
        uint32_t mode;
        uint64_t archive_max; /* bytes one archive may expand to; 0 = 16 GiB */

        /* config edits; NULL = keep the base's */
        const char *entrypoint; /* a JSON array, or words split at spaces; "" clears */
        const char *cmd;        /* likewise */
        const char *const *env; /* K=V, "$NAME"/"${NAME}" expanded from the environment so far */
        size_t n_env;
        const char *workdir;
        const char *user;
        const char *const *labels; /* K=V */
        size_t n_labels;
        const char *const *annotations; /* K=V, on each manifest and the index */
        size_t n_annotations;
        const char *const *expose; /* PORT[/PROTO] */
        size_t n_expose;
        const char *const *allow_foreign; /* fnmatch globs over absolute image paths */
        size_t n_allow_foreign;

        enum xarch_compression compression; /* AUTO = gzip */
        int level;                          /* 0 = default (gzip 1, zstd 3) */
        int64_t epoch;                      /* SOURCE_DATE_EPOCH: mtimes and `created` */

        const char *dest; /* oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:N:T] */
        bool dry_run;     /* compute every digest, write nothing */
        const char *spool_dir; /* temp files; NULL = $TMPDIR or /tmp */

        xarch_build_progress_fn progress;
        void *progress_userdata;
};

struct xarch_build_platform {
        struct xarch_platform platform;     /* as in the index descriptor (from the config) */
        char base_digest[XARCH_DIGEST_MAX]; /* the base manifest used, "" for scratch */
        char manifest_digest[XARCH_DIGEST_MAX];
        uint64_t manifest_size;
        char config_digest[XARCH_DIGEST_MAX];
        bool has_layer; /* false when nothing was added for this platform */
        char layer_digest[XARCH_DIGEST_MAX];
        char diff_id[XARCH_DIGEST_MAX];
        uint64_t layer_size;
        size_t n_entries; /* entries in the new layer */
        size_t n_base_layers;
        size_t n_checked; /* executables checked */
};

struct xarch_build_result {
        char *dest;    /* canonical destination name */
        bool is_index; /* the root is an index (more than one platform) */
        char root_digest[XARCH_DIGEST_MAX];
        char *root_media_type;
        struct xarch_build_platform *platforms; /* in --platform order */
        size_t n_platforms;
        /* what the destination did with the blobs (0 for --dry-run) */
        uint64_t blobs_written, blobs_skipped, blobs_mounted, uploads_resumed;
};

/* Builds. Nothing is written when a check fails, when dry_run is set, or on any failure
 * (temporary files are removed; a destination is replaced only by rename). */
int xarch_build(struct xarch_image_context *ctx, const struct xarch_build_options *opts,
                struct xarch_build_result **ret, struct xarch_error **err);
void xarch_build_result_free(struct xarch_build_result *r);

#ifdef __cplusplus
}
#endif

#endif
