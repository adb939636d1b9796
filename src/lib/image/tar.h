/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_TAR_H
#define XARCH_LIB_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/error.h"

/*
 * A streaming push parser for tar archives (internal). The caller feeds arbitrary chunks; the
 * parser calls back once per entry header and then with the entry's data in pieces. It reads
 * ustar (with the prefix field), pax extended headers ('x' per entry, 'g' global), GNU long
 * names and link names ('L', 'K'), base-256 numbers, verifies header checksums, skips padding and
 * stops at the end-of-archive marker. Metadata records are bounded (TAR_META_MAX); nothing
 * grows without limit. The parser copies nothing of the entry data: data callbacks point into
 * the caller's buffer.
 */

/* Largest pax or GNU long-name record accepted. */
#define TAR_META_MAX (1024u * 1024u)

enum tar_type {
        TAR_FILE = '0',
        TAR_HARDLINK = '1',
        TAR_SYMLINK = '2',
        TAR_CHARDEV = '3',
        TAR_BLOCKDEV = '4',
        TAR_DIRECTORY = '5',
        TAR_FIFO = '6',
        TAR_CONTIGUOUS = '7',
};

struct tar_entry {
        const char *path;     /* NUL-terminated; pax/GNU long names already applied */
        const char *linkpath; /* "" when none */
        const char *uname;
        const char *gname;
        char type; /* the typeflag, '0' for old-style '\0' regular files */
        uint32_t mode;
        uint64_t uid, gid;
        int64_t mtime;
        uint64_t size;        /* bytes of data that follow the header */
        uint64_t data_offset; /* stream offset of the first data byte */
        uint64_t index;       /* 0-based entry number */
        bool sparse;          /* pax GNU.sparse.* records: the data is a map plus the blocks
                               * it lists, not the file's bytes ('S' entries are their own type) */
};

struct tar_callbacks {
        /* Called for every entry (pax/GNU metadata records are folded in, never reported).
         * Return < 0 to abort (the value is returned by tar_reader_feed), 0 to skip the data,
         * > 0 to receive it through on_data. */
        int (*on_entry)(const struct tar_entry *e, void *userdata);
        /* Called with consecutive data pieces; the last piece of an entry has final = true
         * (an empty entry gets one call with len 0 and final = true). Return < 0 to abort. */
        int (*on_data)(const struct tar_entry *e, const void *buf, size_t len, bool final,
                        void *userdata);
};

struct tar_reader;

int tar_reader_new(const struct tar_callbacks *cb, void *userdata, struct tar_reader **ret);
void tar_reader_free(struct tar_reader *r);

/* Feeds the next chunk. Bytes after the end-of-archive marker are ignored. Returns 0 or a
 * negative errno (-EBADMSG for a malformed archive, or a callback's error). After a failure
 * the reader refuses further input. */
int tar_reader_feed(struct tar_reader *r, const void *buf, size_t len, struct xarch_error **err);

/* How many of the next bytes the parser would discard unread (skipped data and padding), so a
 * caller reading a seekable file can lseek over them and report that with tar_reader_skip. */
uint64_t tar_reader_skippable(const struct tar_reader *r);

/* Consumes n bytes (n <= tar_reader_skippable) without data. */
int tar_reader_skip(struct tar_reader *r, uint64_t n, struct xarch_error **err);

/* Declares the end of input: fails with -EBADMSG when the archive stops inside a header, a
 * metadata record or an entry's data, or has no end-of-archive marker. A lone zero block at
 * the very end is accepted (GNU tar does too). */
int tar_reader_finish(struct tar_reader *r, struct xarch_error **err);

/* True once the end-of-archive marker has been read. */
bool tar_reader_done(const struct tar_reader *r);

/* Total bytes consumed so far. */
uint64_t tar_reader_offset(const struct tar_reader *r);

/* Parses a numeric header field: octal (space/NUL terminated) or base-256 (high bit set).
 * Returns 0 or -EINVAL (garbage, negative or > INT64_MAX). Exposed for tests. */
int tar_parse_number(const char *field, size_t len, uint64_t *ret);

#endif
