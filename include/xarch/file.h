/* SPDX-License-Identifier: MIT */
#ifndef XARCH_FILE_H
#define XARCH_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xarch/error.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What a binary really is: container format (ELF, PE, Mach-O, #! script), the OCI platform it
 * needs (arch and variant), linkage and loader, and the language and toolchain that built it
 * (Go build info, Rust, C/C++).
 *
 * The engine reads through a source: a prefix already in memory (the first bytes of the file)
 * plus an optional random-access reader for the rest. A file on disk uses pread on its fd; a
 * tar stream can hand over the bytes it buffered and no reader, and the engine reports what it
 * could see. Reads are bounded: headers, the section header table (found through e_shoff,
 * wherever it is), and only the few sections that answer a question; string scans have a fixed
 * budget. Memory stays small whatever the file size.
 */

/* Bytes of a file read up front; non-ELF files are classified from these alone. */
#define XARCH_FILE_PREFIX_SIZE 4096u

#define XARCH_FILE_SIZE_UNKNOWN UINT64_MAX

/* Reads up to len bytes at offset into buf; returns the count (0 at end of file) or -errno.
 * -ENODATA says the bytes exist but this source does not hold them (a large file streamed from a
 * layer keeps only some ranges): the analysis goes on with what it has and says so. */
typedef ssize_t (*xarch_file_read_fn)(void *userdata, uint64_t offset, void *buf, size_t len);

/* The bounded string scans the engine makes over a byte range (ELF .rodata). */
enum xarch_file_scan_kind {
        XARCH_FILE_SCAN_GO_VERSION = 0, /* "go1.N[.N]", for Go files without build info */
        XARCH_FILE_SCAN_RUST_PATH,      /* "/rustc/<commit>/" or Rust's library paths */
};

/* For a source that cannot read a range again (a stream that saw it pass): answers the scan of
 * kind over [offset, offset+len) (len already cut to the engine's budget and the file size).
 * Returns 1 and fills ret when found, 0 when scanned without a
 * hit, -ENODATA when that range was not scanned (the engine then reads it). The stream must
 * scan exactly as the engine does: the library's layer scanner uses the engine's own scanner. */
typedef int (*xarch_file_scanned_fn)(void *userdata, enum xarch_file_scan_kind kind,
                uint64_t offset, uint64_t len, char *ret, size_t size);

struct xarch_file_source {
        const void *prefix; /* the file's first prefix_len bytes (may be NULL when read is set) */
        size_t prefix_len;
        uint64_t size;           /* total size, or XARCH_FILE_SIZE_UNKNOWN */
        xarch_file_read_fn read; /* NULL: only the prefix is available */
        void *userdata;
        xarch_file_scanned_fn scanned; /* optional; NULL: scans read the bytes */
};

enum xarch_file_kind {
        XARCH_FILE_DATA = 0, /* nothing executable recognised */
        XARCH_FILE_EMPTY,
        XARCH_FILE_ELF,
        XARCH_FILE_PE,
        XARCH_FILE_MACHO,
        XARCH_FILE_MACHO_FAT,
        XARCH_FILE_SCRIPT, /* "#!" interpreter line */
};

enum xarch_file_linkage {
        XARCH_LINK_UNKNOWN = 0,
        XARCH_LINK_STATIC,        /* ET_EXEC without PT_INTERP */
        XARCH_LINK_STATIC_PIE,    /* ET_DYN, no PT_INTERP, DF_1_PIE */
        XARCH_LINK_DYNAMIC,       /* PT_INTERP: needs the loader in `interpreter` */
        XARCH_LINK_SHARED_OBJECT, /* ET_DYN library without PT_INTERP */
        XARCH_LINK_RELOCATABLE,   /* ET_REL object file */
        XARCH_LINK_CORE,          /* ET_CORE */
};

enum xarch_file_language {
        XARCH_LANG_UNKNOWN = 0,
        XARCH_LANG_C, /* C/C++ (or anything else a C toolchain linked) */
        XARCH_LANG_GO,
        XARCH_LANG_RUST,
};

/* Which Go-only markers were seen (bit set). */
enum {
        XARCH_GO_BUILDINFO = 1u << 0,    /* "\xff Go buildinf:" blob */
        XARCH_GO_NOTE = 1u << 1,         /* .note.go.buildid / Go build ID note */
        XARCH_GO_PCLNTAB = 1u << 2,      /* .gopclntab magic */
        XARCH_GO_SECTIONS = 1u << 3,     /* .go.module, .go.fipsinfo, .go.buildinfo */
        XARCH_GO_VERSION_SCAN = 1u << 4, /* version found by scanning read-only data */
};

struct xarch_go_info {
        unsigned evidence;      /* XARCH_GO_* bits; 0 means not Go */
        char version[32];       /* "go1.19.8", "" when unknown */
        char version_range[16]; /* from the pclntab magic when version is unknown: "1.18-1.19" */
        char goos[16];
        char goarch[16];
        char level_key[16]; /* "GOAMD64", "GOARM", "GOARM64", ... ("" if not recorded) */
        char level[32];     /* its value: "v3", "7", "v8.0", ... */
        int cgo;            /* CGO_ENABLED: 1, 0, or -1 when not recorded */
        char buildmode[16];
        char compiler[16];
        char path[256];   /* main package path */
        char module[256]; /* main module path */
};

/* Tag values of .ARM.attributes; -1 when absent. */
struct xarch_arm_attributes {
        int cpu_arch;      /* Tag_CPU_arch (6) */
        int cpu_profile;   /* Tag_CPU_arch_profile (7): 'A', 'R', 'M', 'S' or 0 */
        int fp_arch;       /* Tag_FP_arch (10) */
        int vfp_args;      /* Tag_ABI_VFP_args (28): 1 = hard-float */
        char cpu_name[32]; /* Tag_CPU_name (5) */
};

#define XARCH_FILE_MAX_SLICES 8

struct xarch_file_info {
        enum xarch_file_kind kind;
        uint64_t size; /* as given by the source (XARCH_FILE_SIZE_UNKNOWN if unknown) */

        /* The platform the binary needs. platform_known is false when the machine has no OCI
         * name; variant is set only where the binary says so (arm/v7, amd64/v3, ...). */
        struct xarch_platform platform;
        bool platform_known;
        const char *variant_source; /* "go", "arm-attributes", "gnu-property", or NULL */

        int bits; /* 32 or 64; 0 when unknown */
        bool big_endian;
        uint16_t machine;      /* ELF e_machine, PE Machine, low 16 bits of a Mach-O cputype */
        char machine_name[40]; /* file(1)'s name: "x86-64", "ARM aarch64", "IBM S/390", ... */
        uint16_t elf_type;     /* ET_* */
        uint8_t osabi;
        uint32_t flags; /* e_flags */
        char abi[64];   /* e_flags facts: "EABI5 hard-float", "ELFv2", "double-float", "o32" */

        enum xarch_file_linkage linkage;
        bool pie;
        char interpreter[256]; /* ELF PT_INTERP, or the #! line's interpreter (and argument) */
        int stripped;          /* 1 = no .symtab, 0 = has one, -1 = unknown */
        bool debug_info;

        int amd64_level; /* 1..4 from Go GOAMD64 or the GNU x86 ISA-needed note; 0 unknown */
        struct xarch_arm_attributes arm;

        enum xarch_file_language language;
        char compiler[96];     /* first .comment entry: "GCC: (Debian 12.2.0-14) 12.2.0", ... */
        char rust_version[64]; /* "rustc version 1.95.0 (...)" or "rustc <commit>" */
        struct xarch_go_info go;

        /* Universal Mach-O: the slices' platforms. */
        unsigned n_slices;
        struct xarch_platform slices[XARCH_FILE_MAX_SLICES];

        /* Why some structure could not be read (truncated header, e_shoff beyond the end, ...);
         * "" when everything that was looked at made sense. */
        char problem[128];
        /* The source did not hold every byte the analysis wanted (a large file streamed from a
         * layer, kept in parts): the facts above come from the parts it had. Not a defect of
         * the file. */
        bool incomplete;
};

/* Reusable scratch memory, so that analysing many files allocates nothing per file. */
struct xarch_file_analyzer;

int xarch_file_analyzer_new(struct xarch_file_analyzer **ret, struct xarch_error **err);
void xarch_file_analyzer_free(struct xarch_file_analyzer *a);

/* Analyses a source. a may be NULL (a temporary analyzer is used). Malformed content is not a
 * failure: the result says what was recognised and `problem` why the rest was not. Returns 0,
 * or a negative errno when the reader failed or memory ran out. */
int xarch_file_analyze(struct xarch_file_analyzer *a, const struct xarch_file_source *src,
                struct xarch_file_info *ret, struct xarch_error **err);

/* The same over an open file (pread, the fd's offset is not used). */
int xarch_file_analyze_fd(struct xarch_file_analyzer *a, int fd, struct xarch_file_info *ret,
                struct xarch_error **err);

/* Opens path (following symlinks) and analyses it; -EISDIR for a directory. */
int xarch_file_analyze_path(struct xarch_file_analyzer *a, const char *path,
                struct xarch_file_info *ret, struct xarch_error **err);

/* One line without the path, e.g.
 * "ELF 64-bit LSB, linux/arm64, static, Go go1.19.8 (GOARCH=arm64), stripped".
 * Returns the length (truncated output is still NUL-terminated) or -EINVAL. */
int xarch_file_describe(const struct xarch_file_info *info, char *buf, size_t size);

/* Stable lower-case names used in JSON output: "elf", "static-pie", "go", ... */
const char *xarch_file_kind_name(enum xarch_file_kind kind);
const char *xarch_file_linkage_name(enum xarch_file_linkage linkage);
const char *xarch_file_language_name(enum xarch_file_language language);

#ifdef __cplusplus
}
#endif

#endif
