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
        ssize_t n = src_read_raw(s, off, s->cache, len);
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
