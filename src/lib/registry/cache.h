/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_CACHE_H
#define XARCH_LIB_CACHE_H

/* Internal: the content-addressed cache <dir>/blobs/<algo>/<hex>. Entries are written to a
 * temporary file in the same directory, fsync'ed and renamed into place, so several processes
 * may share a cache: a reader sees either nothing or a complete file. Every read re-verifies
 * the digest; a corrupt entry is removed and reported as missing. */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "xarch/digest.h"

/* Resolves the cache directory: dir itself, or $XDG_CACHE_HOME/xarch, or ~/.cache/xarch when
 * dir is NULL. Returns 0 with *ret malloc'd, 0 with *ret NULL when caching is off (dir = ""),
 * or -ENOMEM. */
int cache_dir_resolve(const char *dir, char **ret);

/* <dir>/blobs/<algo>/<hex>; -EINVAL for an invalid digest, -ENOBUFS when too long. */
int cache_entry_path(const char *dir, const char *digest, char *buf, size_t size);

/* Reads a whole entry (at most max bytes) and verifies it. Returns 0 with *ret_data malloc'd
 * (NUL-terminated), -ENOENT when absent or corrupt (a corrupt entry is deleted), -EFBIG when
 * larger than max. */
int cache_read(const char *dir, const char *digest, size_t max, char **ret_data, size_t *ret_len);

/* Stores verified content (the caller checked the digest). Best effort: returns 0 or -errno. */
int cache_write(const char *dir, const char *digest, const void *data, size_t len);

/* Streaming writer for blobs: begin, append chunks, then commit (after verification) or
 * abort. The content goes to an unnamed O_TMPFILE in the entry's directory, linked into place
 * on commit, so that a process killed mid-download (Ctrl-C, SIGTERM, kill -9) leaves nothing.
 * Where O_TMPFILE is not supported, a named "<entry>.tmp-XXXXXX" file is used, locked while
 * written; the first writer of a process sweeps such files older than 10 minutes that nobody
 * holds (cache_sweep_dir). */
struct cache_writer {
        int fd;
        char tmp_path[PATH_MAX]; /* "" for an unnamed file */
        char final_path[PATH_MAX];
};
int cache_writer_begin(const char *dir, const char *digest, struct cache_writer *w);
int cache_writer_append(struct cache_writer *w, const void *buf, size_t len);
int cache_writer_commit(struct cache_writer *w);
void cache_writer_abort(struct cache_writer *w);

/* Removes "*.tmp-*" files in one blobs/<algo> directory older than 10 minutes at `now` that no
 * writer holds locked. */
void cache_sweep_dir(const char *algo_dir, time_t now);

/* Opens an entry for streaming reads; the caller verifies while reading. Returns an fd or
 * -ENOENT. */
int cache_open(const char *dir, const char *digest);

/* Removes an entry (after a failed verification). */
void cache_remove(const char *dir, const char *digest);

#endif
