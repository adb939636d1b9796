/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BINARY_READER_H
#define XARCH_LIB_BINARY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xarch/file.h"

/*
 * The primitives every part of the binary analysis engine reads through (file.c, elf.c,
 * gobuild.c): a bounded view of the input with a small read cache, the analyzer's scratch
 * memory and its budgets, byte-order helpers, and the problem/printable-copy helpers. Nothing
 * here knows a file format, so the format modules depend on it and never on each other's front.
 */

/* Budgets: how much of a file the engine may read for one answer. */
#define FILE_SCRATCH_SIZE     (64u * 1024u)        /* one section or table at a time */
#define FILE_MAX_PHDRS        512u                 /* more is hostile */
#define FILE_MAX_SHDRS        65536u               /* 4 MiB of ELF64 headers; more: not analysed */
#define FILE_MAX_SHSTRTAB     (1024u * 1024u)      /* section-name string table */
#define FILE_MAX_MODINFO      (1024u * 1024u)      /* Go modinfo string */
#define FILE_GO_SCAN_BUDGET   (4u * 1024u * 1024u) /* Go version, only for files known Go */
#define FILE_RUST_SCAN_BUDGET (256u * 1024u)       /* Rust paths, in any ELF without .comment */

/* A bounded view of the input; reads are served from the prefix when they fit in it. */
struct file_src {
        const uint8_t *prefix;
        size_t prefix_len;
        uint64_t size; /* XARCH_FILE_SIZE_UNKNOWN if unknown */
        xarch_file_read_fn read;
        void *userdata;
        bool short_read; /* some read stopped early (end of data or prefix only) */
        bool unreached;  /* the source does not hold some bytes that exist (-ENODATA) */
        xarch_file_scanned_fn scanned; /* answers range scans for sources that saw them pass */
        /* Small reads are served from one cached window, so that nearby structures (section
         * headers, their name table, .comment) cost one read. NULL: no cache. */
        uint8_t *cache;
        uint64_t cache_off;
        size_t cache_len;
};

#define FILE_CACHE_SIZE (16u * 1024u)

/* Loads [off, off+len) (len <= FILE_CACHE_SIZE) into the cache; errors are left to src_read. */
void src_prime(struct file_src *s, uint64_t off, size_t len);

/* Reads up to len bytes at off; returns the count read (short at the end) or -errno. */
ssize_t src_read(struct file_src *s, uint64_t off, void *buf, size_t len);

/* Scratch memory owned by an analyzer. */
struct xarch_file_analyzer {
        uint8_t *scratch; /* FILE_SCRATCH_SIZE */
        uint8_t *big;     /* grown on demand up to FILE_MAX_MODINFO / FILE_SCAN_BUDGET */
        size_t big_size;
        uint8_t *prefix; /* XARCH_FILE_PREFIX_SIZE, for the fd entry point */
        uint8_t *cache;  /* FILE_CACHE_SIZE */
};

/* Makes sure a->big holds at least n bytes. */
int analyzer_reserve(struct xarch_file_analyzer *a, size_t n);

/* Byte-order helpers over raw bytes. */
static inline uint16_t rd16(const uint8_t *p, bool be) {
        return be ? (uint16_t) (p[0] << 8 | p[1]) : (uint16_t) (p[1] << 8 | p[0]);
}
static inline uint32_t rd32(const uint8_t *p, bool be) {
        return be ? (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3]
                  : (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
}
static inline uint64_t rd64(const uint8_t *p, bool be) {
        return be ? (uint64_t) rd32(p, true) << 32 | rd32(p + 4, true)
                  : (uint64_t) rd32(p + 4, false) << 32 | rd32(p, false);
}

/* Sets info->problem once (the first problem is the interesting one). */
void file_problem(struct xarch_file_info *info, const char *fmt, ...)
                __attribute__((format(printf, 2, 3)));

/* Copies a byte string into a fixed field, NUL-terminated, dropping non-printable bytes. */
void copy_printable(char *dst, size_t size, const uint8_t *src, size_t len);

/* The engine's bounded string scans of a byte range, run either over a source (elf.c) or over
 * bytes as they stream past (image/layer.c), chunk for chunk alike so that both give the same
 * answer: chunks of FILE_SCRATCH_SIZE bytes that overlap by RANGE_SCAN_OVERLAP, the first hit
 * wins. */
#define RANGE_SCAN_OVERLAP 64u

typedef bool (*range_scan_fn)(const uint8_t *buf, size_t len, char *ret, size_t size);

/* The scanner and the most bytes it looks at, for each kind. */
range_scan_fn range_scan_function(enum xarch_file_scan_kind kind);
uint64_t range_scan_budget(enum xarch_file_scan_kind kind);

enum range_scan_state { RANGE_SCAN_RUNNING, RANGE_SCAN_FOUND, RANGE_SCAN_NOT_FOUND };

/* A scan of [off, off+len) fed with bytes as they pass; buf holds FILE_SCRATCH_SIZE bytes. */
struct range_scan {
        enum xarch_file_scan_kind kind;
        uint64_t off, len; /* len: cut to the budget and the file size */
        uint8_t *buf;
        uint64_t chunk; /* where buf[0] is, relative to off */
        size_t fill;
        enum range_scan_state state;
        char result[64];
};

/* Sets up a scan of a range of a file of file_size bytes. */
void range_scan_init(struct range_scan *rs, enum xarch_file_scan_kind kind, uint64_t off,
                uint64_t len, uint64_t file_size, uint8_t *buf);

/* Feeds the bytes [pos, pos+n) of the file; only those inside the range count. Bytes must come
 * in order, and those of the range without gaps. */
void range_scan_feed(struct range_scan *rs, uint64_t pos, const uint8_t *p, size_t n);

/* Ends the input (the file ended early): scans what is buffered. */
void range_scan_end(struct range_scan *rs);

#endif
