/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BUILD_LAYER_H
#define XARCH_LIB_BUILD_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/error.h"
#include "xarch/file.h"
#include "xarch/layer.h"

/*
 * The reproducible layer builder (internal). A layer tree collects entries from files and
 * directories on disk (--add) and from tar archives (--add-archive: .tar, .tar.gz, .tar.zst,
 * decompressed once into a spool file and indexed by the streaming tar parser, never held in
 * memory). layer_tree_finish() sorts the entries by path (a later add of the same path wins),
 * adds every missing parent directory and refuses a path that is both a file and a parent.
 * layer_tree_write() then streams the entries through the tar writer and a compressor into a
 * file descriptor, computing the compressed digest and size and the uncompressed diff_id in the
 * same pass.
 *
 * The convention: entries sorted bytewise by path, explicit parent directories (0755), numeric
 * owner 0:0 unless chown, empty user and group names, every mtime = the given epoch, no atime
 * or ctime, permission bits kept unless chmod, ustar unless a value needs pax; gzip through
 * zlib with a fixed header (no name, mtime 0, OS byte 255) or zstd through libzstd with a
 * checksum, each stream single-threaded (a parallel compressor would cut the stream into
 * independent blocks and change the bytes).
 */

/* Archive safety: at most this many bytes out of one archive ... */
#define LAYER_ARCHIVE_MAX_DEFAULT (16ull << 30)
/* ... and beyond LAYER_ARCHIVE_RATIO_FREE bytes, at most this ratio of output to input. */
#define LAYER_ARCHIVE_RATIO_MAX  200u
#define LAYER_ARCHIVE_RATIO_FREE (64ull << 20)
/* Most entries one layer may hold. */
#define LAYER_ENTRIES_MAX 2000000u

struct layer_add_options {
        bool chown;
        uint32_t uid, gid;
        bool chmod;
        uint32_t mode;             /* applied to files and directories added (not parents) */
        unsigned strip_components; /* archives only */
        uint64_t archive_max;      /* 0 = LAYER_ARCHIVE_MAX_DEFAULT */
        const char *spool_dir;     /* where archive spools go; NULL = $TMPDIR or /tmp */
};

enum layer_source {
        LAYER_SRC_NONE = 0, /* directories, symlinks, empty files */
        LAYER_SRC_PATH,     /* a file on disk, opened when written */
        LAYER_SRC_SPOOL,    /* a range of an archive spool */
};

struct layer_entry {
        char *path;                       /* relative to the image root, no leading "/" */
        enum xarch_layer_entry_type type; /* FILE, DIR or SYMLINK */
        uint32_t mode;
        uint32_t uid, gid;
        uint64_t size;
        char *link; /* symlink target */
        enum layer_source source;
        char *src_path;  /* LAYER_SRC_PATH */
        int spool;       /* LAYER_SRC_SPOOL: index into the tree's spools */
        uint64_t offset; /* LAYER_SRC_SPOOL */
        char *origin;    /* what to call it in messages: the file or "ARCHIVE:MEMBER" */
        bool implicit;   /* a parent directory made up for a child */
        size_t seq;      /* insertion order, for "later wins" */
};

struct layer_tree;

int layer_tree_new(struct layer_tree **ret);
void layer_tree_free(struct layer_tree *t);

/* Adds a file, a directory (recursively) or a symlink from disk at dest (absolute). A dest
 * ending in "/" receives a file under its own name. Devices, fifos and sockets are refused. */
int layer_tree_add_path(struct layer_tree *t, const char *src, const char *dest,
                const struct layer_add_options *o, struct xarch_error **err);

/* Adds a tar archive's members under dest. Refuses members with ".." components, symlinks
 * that are absolute or climb out of dest, devices and fifos, and output beyond the bounds. */
int layer_tree_add_archive(struct layer_tree *t, const char *src, const char *dest,
                const struct layer_add_options *o, struct xarch_error **err);

/* Sorts, applies "later wins", adds parents; the tree is then read-only. */
int layer_tree_finish(struct layer_tree *t, struct xarch_error **err);

size_t layer_tree_count(const struct layer_tree *t);
const struct layer_entry *layer_tree_entry(const struct layer_tree *t, size_t i);

/* Analyses a regular file with the file engine (reading from disk or the spool). */
int layer_tree_analyze(struct layer_tree *t, const struct layer_entry *e,
                struct xarch_file_analyzer *a, struct xarch_file_info *ret,
                struct xarch_error **err);

struct layer_write_options {
        enum xarch_compression compression; /* GZIP, ZSTD or NONE */
        int level;                          /* 0 = the default (gzip 1, zstd 3) */
        int64_t mtime;                      /* every entry's mtime */
        /* 1: read, tar and compress on the calling thread; otherwise two stages overlap: the
         * calling thread reads the files, writes and hashes the tar stream (diff_id) while a
         * second thread compresses it, hashes the result and feeds the sink (base/ring.h). The
         * bytes, digests and errors are the same either way. */
        unsigned threads;
};

struct layer_result {
        char digest[XARCH_DIGEST_MAX];  /* of the bytes written */
        char diff_id[XARCH_DIGEST_MAX]; /* of the uncompressed tar */
        uint64_t size;
        uint64_t tar_size;
};

/* Streams the finished tree as a layer to fd (written from its current offset). */
int layer_tree_write(struct layer_tree *t, const struct layer_write_options *o, int fd,
                struct layer_result *ret, struct xarch_error **err);

/* The same, to any sink (the writer's output bytes, compressed). */
int layer_tree_write_sink(struct layer_tree *t, const struct layer_write_options *o,
                xarch_sink_fn sink, void *userdata, struct layer_result *ret,
                struct xarch_error **err);

#endif
