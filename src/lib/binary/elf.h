/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_ELF_H
#define XARCH_LIB_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/file.h"

/*
 * Internals of the binary analysis engine (file.c, elf.c, gobuild.c), exposed for unit tests.
 * Every parser takes a bounded byte range and never reads outside it.
 */

/* Budgets: how much of a file the engine may read for one answer. */
#define FILE_SCRATCH_SIZE   (64u * 1024u)        /* one section or table at a time */
#define FILE_MAX_PHDRS      512u                 /* more is hostile */
#define FILE_MAX_SHDRS      65536u               /* 4 MiB of ELF64 headers; more: not analysed */
#define FILE_MAX_SHSTRTAB   (1024u * 1024u)      /* section-name string table */
#define FILE_MAX_MODINFO    (1024u * 1024u)      /* Go modinfo string */
#define FILE_GO_SCAN_BUDGET (4u * 1024u * 1024u) /* Go version, only for files known Go */
#define FILE_RUST_SCAN_BUDGET                                                                      \
        (256u * 1024u) /* Rust paths, in any ELF without .comment */ /* string scans (Go version,  \
                                                                        Rust paths) */

/* A bounded view of the input; reads are served from the prefix when they fit in it. */
struct file_src {
        const uint8_t *prefix;
        size_t prefix_len;
        uint64_t size; /* XARCH_FILE_SIZE_UNKNOWN if unknown */
        xarch_file_read_fn read;
        void *userdata;
        bool short_read; /* some read stopped early (end of data or prefix only) */
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

/* elf.c: analyses an ELF file whose first bytes are "\x7fELF". */
int elf_analyze(struct xarch_file_analyzer *a, struct file_src *s, struct xarch_file_info *info,
                struct xarch_error **err);

/* elf.c: the platform and file(1) name of an ELF machine; false when it has no OCI name. */
bool elf_machine_platform(uint16_t machine, int bits, bool big_endian, uint32_t flags,
                const char **ret_arch, const char **ret_name);

/* elf.c: .ARM.attributes contents (starting with 'A'). Returns 0 or -EBADMSG. */
int arm_attributes_parse(
                const uint8_t *buf, size_t len, bool big_endian, struct xarch_arm_attributes *ret);

/* elf.c: maps Tag_CPU_arch (and profile) to an OCI arm variant ("v5".."v8"), NULL if none. */
const char *arm_cpu_arch_variant(int cpu_arch, int profile);

/* elf.c: notes in a PT_NOTE segment or SHT_NOTE section: the x86 ISA-needed level (0 if none)
 * and whether a Go build ID note is there. align is the segment alignment (4 or 8). */
void elf_notes_parse(const uint8_t *buf, size_t len, bool big_endian, size_t align,
                int *ret_x86_level, bool *ret_go_note);

/* gobuild.c: decodes a Go modinfo string (with or without its 16-byte sentinels) into go. */
void go_modinfo_parse(const char *mod, size_t len, struct xarch_go_info *go);

/* gobuild.c: where to translate a virtual address into a file offset (for Go 1.13-1.17 blobs). */
struct go_load_segment {
        uint64_t vaddr, offset, filesz;
};

/* gobuild.c: finds and decodes a build-info blob. window holds data read at file offset
 * window_off; the blob is searched at 16-byte aligned positions. Strings that lie beyond the
 * window are read through s (bounded). Returns 1 if found, 0 if not, <0 on read errors. */
int go_buildinfo_find(struct xarch_file_analyzer *a, struct file_src *s, const uint8_t *window,
                size_t window_len, uint64_t window_off, const struct go_load_segment *segs,
                size_t n_segs, struct xarch_go_info *go);

/* gobuild.c: Go version range from a pclntab header's first 8 bytes; NULL if not a pclntab. */
const char *go_pclntab_version(const uint8_t *hdr, size_t len);

/* gobuild.c: finds the first plausible "go1.N[.N]" version string in buf; copies it to ret. */
bool go_version_scan(const uint8_t *buf, size_t len, char *ret, size_t size);

/* gobuild.c: finds "/rustc/<40 hex>/" (copies "rustc commit <hash>" to ret) or else Rust's
 * standard library source paths ("library/std/src/", copies "rustc") in buf. */
bool rust_path_scan(const uint8_t *buf, size_t len, char *ret, size_t size);

#endif
