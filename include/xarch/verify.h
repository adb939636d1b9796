/* SPDX-License-Identifier: MIT */
#ifndef XARCH_VERIFY_H
#define XARCH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"
#include "xarch/file.h"
#include "xarch/image.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Does each platform of an image really hold binaries of that architecture? For every image
 * manifest (every platform of an index, or the one selected), three labels are compared: the
 * index entry's platform, the config's architecture/variant, and the binary that would really
 * run: the entrypoint (else cmd) resolved along the config's PATH through the merged layers
 * (whiteouts, symlinks, hard links), a "#!" script leading to its interpreter. Layers are
 * streamed and analysed in one pass each, concurrently, never extracted.
 */

enum xarch_verify_problem_kind {
        XARCH_PROBLEM_MISLABELLED = 0, /* the binary's architecture differs from the label */
        XARCH_PROBLEM_VARIANT,         /* arm variant (or amd64 level) the label does not allow */
        XARCH_PROBLEM_CONFIG_MISMATCH, /* index entry platform != config platform */
        XARCH_PROBLEM_MIXED_ARCH,      /* ELF files of several architectures */
        XARCH_PROBLEM_LOADER_MISSING,  /* PT_INTERP (or #! interpreter) not in the image */
        XARCH_PROBLEM_NO_COMMAND,      /* neither entrypoint nor cmd */
        XARCH_PROBLEM_NOT_FOUND,       /* the command is not in the image (or not on PATH) */
        XARCH_PROBLEM_SYMLINK_LOOP,    /* too many symlink hops (40) */
        XARCH_PROBLEM_NOT_EXECUTABLE,  /* the command is a directory or data, not a program */
        XARCH_PROBLEM_UNREADABLE,      /* a layer or manifest could not be read or verified */
        /* the config's rootfs.diff_ids[i] is not the SHA-256 of layer i uncompressed, or the
         * config lists another number of diff_ids than the manifest lists layers: a runtime
         * refuses the image at unpack */
        XARCH_PROBLEM_DIFF_ID,
};

/* Stable names: "mislabelled", "variant-mismatch", "config-mismatch", "mixed-architecture",
 * "loader-missing", "no-command", "not-found", "symlink-loop", "not-executable",
 * "unreadable". */
const char *xarch_verify_problem_name(enum xarch_verify_problem_kind kind);

struct xarch_verify_problem {
        enum xarch_verify_problem_kind kind;
        char *message; /* one line, for humans */
        /* XARCH_PROBLEM_DIFF_ID about one layer (has_layer): its index in the manifest, its
         * digest, the config's diff_id for it and the one computed from its content. Without
         * has_layer, the counts differ: n_diff_ids and the platform's n_layers. */
        bool has_layer;
        size_t layer_index;
        char layer_digest[XARCH_DIGEST_MAX];
        char expected_diff_id[XARCH_DIGEST_MAX];
        char computed_diff_id[XARCH_DIGEST_MAX];
        size_t n_diff_ids;
};

/* ELF files of one architecture (--deep: every ELF file; otherwise the files looked at: the
 * command, its interpreter, its loader and the /bin/sh target). */
struct xarch_verify_arch_count {
        struct xarch_platform platform; /* os "linux", arch, no variant; arch "" = unknown */
        char machine_name[40];          /* file(1)'s name of the machine */
        unsigned files;
        unsigned go_files;
        char example[256]; /* one path, for the report */
};

#define XARCH_VERIFY_ARCHES_MAX 16

struct xarch_verify_platform {
        char manifest_digest[XARCH_DIGEST_MAX];

        bool has_index_platform; /* from the index entry (an index only) */
        struct xarch_platform index_platform;
        /* an odd index platform no node matches (overlong field, no architecture, ...) */
        bool index_platform_never_matches;
        /* an index entry without a platform after another entry without one: runtimes only ever
         * consider the first such entry (docs/runtimes.md), so no node pulls this one */
        bool bare_not_first;
        bool has_config_platform;
        struct xarch_platform config_platform;
        /* the label the others are compared with: the index entry's, else the config's */
        struct xarch_platform label;

        char **command; /* entrypoint + cmd as configured (NULL-terminated), NULL if none */
        char *program;  /* the file that runs, an absolute path in the image, or NULL */
        bool has_program_info;
        struct xarch_file_info program_info; /* what `program` is (may be a script) */
        char *interpreter; /* the "#!" interpreter resolved in the image, or NULL */
        bool has_binary_info;
        struct xarch_file_info binary_info; /* the ELF that really runs: program or interpreter */
        bool binary_partial; /* analysed from head/tail ranges only (a file > 4 MiB) */
        bool loader_needed;
        bool loader_present;
        char loader[256]; /* PT_INTERP of the binary, "" when static */

        /* the binary's platform, when known */
        bool has_binary_platform;
        struct xarch_platform binary_platform;

        struct xarch_verify_arch_count arches[XARCH_VERIFY_ARCHES_MAX];
        size_t n_arches;
        unsigned elf_files; /* ELF files counted in arches */

        size_t n_layers;
        uint64_t compressed_bytes, uncompressed_bytes;
        /* layers whose config diff_id was compared with the SHA-256 of their whole uncompressed
         * content (every layer once all were read; 0 when a layer could not be read) */
        size_t diff_ids_checked;

        struct xarch_verify_problem *problems;
        size_t n_problems;
        bool unreadable; /* a layer/manifest/config could not be read: the result is incomplete */
};

struct xarch_verify_report {
        char *name;                         /* the image's display name */
        char root_digest[XARCH_DIGEST_MAX]; /* the manifest or index the reference names */
        bool is_index;
        struct xarch_verify_platform *platforms; /* in index order (runnable images only) */
        size_t n_platforms;
        size_t n_problems; /* total over platforms */
        bool unreadable;   /* some platform is marked unreadable */
};

/* Called from the verifying thread(s), serialised by the library. */
typedef void (*xarch_verify_progress_fn)(void *userdata, const char *message);

struct xarch_verify_options {
        const struct xarch_platform *platform; /* verify only the image a node of this platform
                                                  pulls (containerd rules); NULL = all */
        bool deep;            /* count every ELF file per architecture, report mixed content */
        unsigned concurrency; /* layers analysed at once; 0 = the number of CPUs, at most 4;
                               * above 8 counts as 8 */
        xarch_verify_progress_fn progress; /* may be NULL */
        void *progress_userdata;
};

/*
 * Verifies an opened image. Problems found in the content are in the report (not failures);
 * a layer that cannot be fetched or fails its digest marks that platform `unreadable` with an
 * XARCH_PROBLEM_UNREADABLE problem, and its results are discarded. Returns 0, or a negative
 * errno when the image itself cannot be read (-ENOENT when options->platform matches nothing).
 */
int xarch_verify_image(struct xarch_image *img, const struct xarch_verify_options *opts,
                struct xarch_verify_report **ret, struct xarch_error **err);

void xarch_verify_report_free(struct xarch_verify_report *r);

/* A report from labels alone (no layer read): one platform per runnable image of an inspect
 * result (`skip_children` is enough), with its index and config platforms and no binary facts.
 * For verdicts that rest on the labels (xarch_check_decide), e.g. a cluster-wide audit. */
int xarch_verify_report_from_inspect(const struct xarch_inspect *in,
                struct xarch_verify_report **ret, struct xarch_error **err);

#ifdef __cplusplus
}
#endif

#endif
