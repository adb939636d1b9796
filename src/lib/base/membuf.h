/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_MEMBUF_H
#define XARCH_LIB_MEMBUF_H

#include <stddef.h>

/*
 * A growable byte buffer with a ceiling (curl's dynbuf idea): appends past `max` fail with
 * -EFBIG instead of growing, so a hostile peer cannot make us hold more than we chose. The data
 * is always NUL-terminated (not counted in len), so small text bodies can be used as strings.
 */
struct membuf {
        char *data;
        size_t len;
        size_t cap;
        size_t max; /* 0: no ceiling */
};

/* Appends len bytes; the signature fits xarch_sink_fn so a membuf can be a download sink.
 * Returns 0, -EFBIG past the ceiling, or -ENOMEM. */
int membuf_append(void *membuf, const void *buf, size_t len);

/* Frees the data and resets the buffer (the ceiling stays). */
void membuf_release(struct membuf *m);

/* Like membuf_release, but zeroes the bytes first: for tokens and other secrets. */
void membuf_wipe_release(struct membuf *m);

#endif
