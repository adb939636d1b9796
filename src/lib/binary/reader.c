/* SPDX-License-Identifier: MIT */
/*
 * The engine's reading primitives: bounded reads through a file source (prefix, random-access
 * reader, one cached window), the analyzer's scratch memory, and small helpers shared by the
 * format modules.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/gobuild.h"
#include "binary/reader.h"
#include "macro.h"

void file_problem(struct xarch_file_info *info, const char *fmt, ...) {
        va_list ap;
        if (info->problem[0])
                return;
        va_start(ap, fmt);
        vsnprintf(info->problem, sizeof(info->problem), fmt, ap);
        va_end(ap);
}

void copy_printable(char *dst, size_t size, const uint8_t *src, size_t len) {
        size_t o = 0;
        if (size == 0)
                return;
        for (size_t i = 0; i < len && o + 1 < size; i++)
                if (src[i] >= 0x20 && src[i] < 0x7f)
                        dst[o++] = (char) src[i];
        dst[o] = '\0';
}

static ssize_t src_read_raw(struct file_src *s, uint64_t off, void *buf, size_t len) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = s->read(s->userdata, off + done, (uint8_t *) buf + done, len - done);
                if (n == -EINTR)
                        continue;
                if (n == -ENODATA) {
                        s->unreached = true; /* the source kept only parts of the file */
                        break;
                }
                if (n < 0)
                        return n;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

void src_prime(struct file_src *s, uint64_t off, size_t len) {
        if (!s->cache || !s->read || len > FILE_CACHE_SIZE)
                return;
        if (s->size != XARCH_FILE_SIZE_UNKNOWN) {
                if (off >= s->size)
                        return;
                if (len > s->size - off)
                        len = (size_t) (s->size - off);
        }
        /* the cache reads ahead: bytes it could not get were not asked for */
        bool unreached = s->unreached;
        ssize_t n = src_read_raw(s, off, s->cache, len);
        s->unreached = unreached;
        s->cache_off = off;
        s->cache_len = n > 0 ? (size_t) n : 0;
}

ssize_t src_read(struct file_src *s, uint64_t off, void *buf, size_t len) {
        if (s->size != XARCH_FILE_SIZE_UNKNOWN) {
                if (off >= s->size)
                        return 0;
                if (len > s->size - off)
                        len = (size_t) (s->size - off);
        }
        if (len == 0)
                return 0;
        if (off < s->prefix_len && len <= s->prefix_len - off) {
                memcpy(buf, s->prefix + off, len);
                return (ssize_t) len;
        }
        if (!s->read) {
                size_t have = off < s->prefix_len ? s->prefix_len - (size_t) off : 0;
                if (have)
                        memcpy(buf, s->prefix + off, have);
                s->short_read = true; /* the bytes exist (or may) but cannot be reached */
                return (ssize_t) have;
        }
        if (s->cache && s->cache_len && off >= s->cache_off && off - s->cache_off < s->cache_len &&
                        len <= s->cache_len - (off - s->cache_off)) {
                memcpy(buf, s->cache + (off - s->cache_off), len);
                return (ssize_t) len;
        }
        if (s->cache && len <= FILE_CACHE_SIZE / 4) {
                src_prime(s, off, FILE_CACHE_SIZE);
                if (s->cache_len && len <= s->cache_len) {
                        memcpy(buf, s->cache, len);
                        return (ssize_t) len;
                }
        }
        ssize_t n = src_read_raw(s, off, buf, len);
        if (n < 0)
                return n;
        size_t done = (size_t) n;
        if (done < len && s->size != XARCH_FILE_SIZE_UNKNOWN)
                s->short_read = true; /* the file shrank under us */
        return (ssize_t) done;
}

int xarch_file_analyzer_new(struct xarch_file_analyzer **ret, struct xarch_error **err) {
        struct xarch_file_analyzer *a = calloc(1, sizeof(*a));
        if (!a)
                return xarch_error_set(err, ENOMEM, "out of memory");
        /* One spare byte lets the section-name table be NUL-terminated in place. */
        a->scratch = malloc(FILE_SCRATCH_SIZE + 1);
        a->prefix = malloc(XARCH_FILE_PREFIX_SIZE);
        a->cache = malloc(FILE_CACHE_SIZE);
        if (!a->scratch || !a->prefix || !a->cache) {
                xarch_file_analyzer_free(a);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        *ret = a;
        return 0;
}

void xarch_file_analyzer_free(struct xarch_file_analyzer *a) {
        if (!a)
                return;
        free(a->scratch);
        free(a->big);
        free(a->prefix);
        free(a->cache);
        free(a);
}

int analyzer_reserve(struct xarch_file_analyzer *a, size_t n) {
        if (n <= a->big_size)
                return 0;
        size_t size = a->big_size ? a->big_size : 64u * 1024u;
        while (size < n)
                size *= 2;
        uint8_t *p = realloc(a->big, size);
        if (!p)
                return -ENOMEM;
        a->big = p;
        a->big_size = size;
        return 0;
}

/* --- range scans ------------------------------------------------------------------------- */

range_scan_fn range_scan_function(enum xarch_file_scan_kind kind) {
        return kind == XARCH_FILE_SCAN_GO_VERSION ? go_version_scan : rust_path_scan;
}

uint64_t range_scan_budget(enum xarch_file_scan_kind kind) {
        return kind == XARCH_FILE_SCAN_GO_VERSION ? FILE_GO_SCAN_BUDGET : FILE_RUST_SCAN_BUDGET;
}

void range_scan_init(struct range_scan *rs, enum xarch_file_scan_kind kind, uint64_t off,
                uint64_t len, uint64_t file_size, uint8_t *buf) {
        memset(rs, 0, sizeof(*rs));
        rs->kind = kind;
        rs->off = off;
        if (len > range_scan_budget(kind))
                len = range_scan_budget(kind);
        if (file_size != XARCH_FILE_SIZE_UNKNOWN)
                len = off >= file_size ? 0 : len > file_size - off ? file_size - off : len;
        rs->len = len;
        rs->buf = buf;
        rs->state = len == 0 ? RANGE_SCAN_NOT_FOUND : RANGE_SCAN_RUNNING;
}

/* Scans the buffered chunk; decides whether the range is done. */
static void range_scan_chunk(struct range_scan *rs) {
        if (range_scan_function(rs->kind)(rs->buf, rs->fill, rs->result, sizeof(rs->result))) {
                rs->state = RANGE_SCAN_FOUND;
                return;
        }
        if (rs->fill <= RANGE_SCAN_OVERLAP || rs->chunk + rs->fill >= rs->len) {
                rs->state = RANGE_SCAN_NOT_FOUND;
                return;
        }
        /* the next chunk starts RANGE_SCAN_OVERLAP bytes before this one's end */
        memmove(rs->buf, rs->buf + rs->fill - RANGE_SCAN_OVERLAP, RANGE_SCAN_OVERLAP);
        rs->chunk += rs->fill - RANGE_SCAN_OVERLAP;
        rs->fill = RANGE_SCAN_OVERLAP;
}

void range_scan_feed(struct range_scan *rs, uint64_t pos, const uint8_t *p, size_t n) {
        while (rs->state == RANGE_SCAN_RUNNING && n > 0) {
                uint64_t want = rs->off + rs->chunk + rs->fill; /* next byte the chunk needs */
                if (pos + n <= want)
                        return;
                if (pos > want)
                        return; /* a gap: cannot happen when fed in order */
                size_t skip = (size_t) (want - pos);
                p += skip;
                n -= skip;
                pos += skip;
                uint64_t chunk_len = rs->len - rs->chunk;
                if (chunk_len > FILE_SCRATCH_SIZE)
                        chunk_len = FILE_SCRATCH_SIZE;
                size_t take = (size_t) chunk_len - rs->fill;
                if (take > n)
                        take = n;
                memcpy(rs->buf + rs->fill, p, take);
                rs->fill += take;
                p += take;
                n -= take;
                pos += take;
                if (rs->fill == chunk_len)
                        range_scan_chunk(rs);
        }
}

void range_scan_end(struct range_scan *rs) {
        if (rs->state != RANGE_SCAN_RUNNING)
                return;
        if (rs->fill > 0 && range_scan_function(rs->kind)(
                                            rs->buf, rs->fill, rs->result, sizeof(rs->result)))
                rs->state = RANGE_SCAN_FOUND;
        else
                rs->state = RANGE_SCAN_NOT_FOUND;
}
