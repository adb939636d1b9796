/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BUILD_TARWRITER_H
#define XARCH_LIB_BUILD_TARWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/error.h"
#include "xarch/registry.h"

/*
 * A streaming tar writer (internal) that writes reproducible archives: ustar headers, with a
 * pax extended header ('x') only when a value does not fit ustar (a path that cannot be split
 * into prefix + name, a link target over 100 bytes, a size over 8 GiB, ids over 2097151, an
 * mtime outside 0..8^11-1). Nothing the caller did not give reaches the archive: no atime or
 * ctime, no user or group names, no device numbers. Data is passed through in pieces; the writer
 * pads each entry and checks that exactly `size` bytes came. Output goes to a sink.
 */

enum tarw_type {
        TARW_FILE = '0',
        TARW_SYMLINK = '2',
        TARW_DIRECTORY = '5',
};

struct tarw_entry {
        const char *path;     /* relative, no leading "/"; directories get a trailing "/" */
        const char *linkname; /* symlinks only */
        enum tarw_type type;
        uint32_t mode; /* permission bits (07777) */
        uint64_t uid, gid;
        int64_t mtime;
        uint64_t size; /* regular files only */
};

struct tar_writer;

int tar_writer_new(xarch_sink_fn sink, void *userdata, struct tar_writer **ret);
void tar_writer_free(struct tar_writer *w);

/* Writes an entry's header(s); a regular file's data must follow through tar_writer_data. */
int tar_writer_add(struct tar_writer *w, const struct tarw_entry *e, struct xarch_error **err);

/* A piece of the current file's data; -EINVAL when more than its size arrives. */
int tar_writer_data(struct tar_writer *w, const void *buf, size_t len, struct xarch_error **err);

/* Writes the end-of-archive marker (two zero blocks); -EINVAL when a file's data is short. */
int tar_writer_finish(struct tar_writer *w, struct xarch_error **err);

/* Bytes written so far. */
uint64_t tar_writer_offset(const struct tar_writer *w);

#endif
