/* SPDX-License-Identifier: MIT */
#ifndef XARCH_BINFMT_H
#define XARCH_BINFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * QEMU user-mode emulators in Linux binfmt_misc: the magic/mask table, parsing of entry files,
 * and register/remove/enable/disable on any binfmt_misc instance (the host's, or a private one
 * in a user namespace, Linux >= 6.7).
 */

#define XARCH_BINFMT_DEFAULT_MOUNT "/proc/sys/fs/binfmt_misc"
#define XARCH_BINFMT_MAGIC_MAX     128 /* BINPRM_BUF_SIZE: offset + length must fit */

/* One row of QEMU's magic/mask table (scripts/qemu-binfmt-conf.sh). */
struct xarch_binfmt_target {
        const char *qemu_name; /* "aarch64": entry qemu-aarch64, emulator qemu-aarch64-static */
        const char *family;    /* family column: targets of the host's family are skipped */
        const char *oci_arch;  /* "arm64", "arm", "amd64", ...; NULL when OCI has no name */
        uint16_t e_machine;
        uint8_t magic[40];
        uint8_t mask[40];
        size_t len; /* 20, or 40 for the mips o32/n32 rows */
};

/* The whole table, in QEMU's order. */
const struct xarch_binfmt_target *xarch_binfmt_targets(size_t *ret_n);

/* Finds a target by QEMU name ("aarch64"), entry name ("qemu-aarch64"), OCI architecture or
 * platform ("arm64", "linux/arm/v7", "386", "x86_64" after normalisation). NULL if unknown. */
const struct xarch_binfmt_target *xarch_binfmt_target_lookup(const char *name);

/* The target whose magic/mask matches these header bytes (kernel rule:
 * ((hdr[i] ^ magic[i]) & mask[i]) == 0 for every byte), or NULL. */
const struct xarch_binfmt_target *xarch_binfmt_target_for_header(const uint8_t *hdr, size_t len);

enum xarch_binfmt_flag {
        XARCH_BINFMT_FLAG_P = 1 << 0, /* preserve argv[0] */
        XARCH_BINFMT_FLAG_O = 1 << 1, /* open binary */
        XARCH_BINFMT_FLAG_C = 1 << 2, /* credentials from the binary (setuid runs emulator as root) */
        XARCH_BINFMT_FLAG_F = 1 << 3, /* fix binary: emulator opened at registration, works in containers */
};

enum xarch_binfmt_kind {
        XARCH_BINFMT_KIND_QEMU,    /* interpreter looks like QEMU user mode */
        XARCH_BINFMT_KIND_ROSETTA, /* Apple's Rosetta in a Linux VM */
        XARCH_BINFMT_KIND_OTHER,   /* WSLInterop, python, wine, box64, FEX, ... */
};

/* One parsed entry file. */
struct xarch_binfmt_entry {
        char name[256];
        bool enabled;
        char interpreter[4096];
        unsigned flags; /* enum xarch_binfmt_flag bits */
        bool is_extension;
        char extension[256]; /* for extension entries, without the dot */
        unsigned offset;
        uint8_t magic[XARCH_BINFMT_MAGIC_MAX];
        uint8_t mask[XARCH_BINFMT_MAGIC_MAX]; /* all 0xff when the entry has no mask */
        size_t magic_len;
        bool has_mask;
        /* Derived by xarch_binfmt_list(), not by the parser: */
        enum xarch_binfmt_kind kind;
        const struct xarch_binfmt_target *target; /* the QEMU row its magic matches, or NULL */
        bool interpreter_exists;
        bool interpreter_static; /* ELF without PT_INTERP */
};

/* Parses the text of an entry file (exact kernel format, fs/binfmt_misc.c entry_status()).
 * Bounded, rejects anything malformed with -EINVAL. */
int xarch_binfmt_entry_parse(const char *name, const char *text, size_t len,
        struct xarch_binfmt_entry *ret, struct xarch_error **err);

/* Applies the kernel's match rule for one entry to the first bytes of a file. */
bool xarch_binfmt_entry_matches(const struct xarch_binfmt_entry *e, const uint8_t *hdr, size_t len);

/* Formats flags in the kernel's display order ("POCF" subset). buf needs 5 bytes. */
void xarch_binfmt_flags_format(unsigned flags, char buf[static 5]);

/* A binfmt_misc instance (a mount point). */
struct xarch_binfmt;

struct xarch_binfmt_instance_info {
        char mount[4096];
        bool mounted;         /* a binfmt_misc file system is mounted there */
        bool status_enabled;  /* the instance-wide 'status' switch */
        bool initial_userns;  /* this process is in the initial user namespace (the host's table) */
        bool private_instance; /* a user-namespace instance that hides the host's entries */
};

/* Opens the instance at mount (NULL: /proc/sys/fs/binfmt_misc). Does not mount anything. */
int xarch_binfmt_open(const char *mount, struct xarch_binfmt **ret, struct xarch_error **err);
void xarch_binfmt_close(struct xarch_binfmt *b);
int xarch_binfmt_info(struct xarch_binfmt *b, struct xarch_binfmt_instance_info *ret,
        struct xarch_error **err);

/* Reads every entry (sorted by name) and derives kind/target/interpreter facts.
 * Free with free(). An unmounted instance yields zero entries. */
int xarch_binfmt_list(struct xarch_binfmt *b, struct xarch_binfmt_entry **ret_entries,
        size_t *ret_n, struct xarch_error **err);

#ifdef __cplusplus
}
#endif

#endif
