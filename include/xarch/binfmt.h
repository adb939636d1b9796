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
/* BINPRM_BUF_SIZE: offset + magic length must fit in what the kernel reads of a file (256 since
 * Linux 5.1, 128 before; verified on 6.18: offset 255 is accepted, 256 refused). */
#define XARCH_BINFMT_MAGIC_MAX 256

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
        /* credentials from the binary (setuid runs emulator as root) */
        XARCH_BINFMT_FLAG_C = 1 << 2,
        /* fix binary: emulator opened at registration, works in containers */
        XARCH_BINFMT_FLAG_F = 1 << 3,
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
        /* Position in the kernel's match order, 0 = tried first = the newest registration (the
         * kernel adds entries at the head of its list). Taken from the directory order, which
         * is that list order on Linux 6.x; 0 for entries not read by xarch_binfmt_list(). */
        unsigned match_order;
};

/* Parses the text of an entry file (exact kernel format, fs/binfmt_misc.c entry_status()).
 * Bounded, rejects anything malformed with -EINVAL. */
int xarch_binfmt_entry_parse(const char *name, const char *text, size_t len,
                struct xarch_binfmt_entry *ret, struct xarch_error **err);

/* Applies the kernel's match rule for one entry to the first bytes of a file. */
bool xarch_binfmt_entry_matches(const struct xarch_binfmt_entry *e, const uint8_t *hdr, size_t len);

/* The entry the kernel would hand a file with these first bytes to: among enabled magic entries,
 * the one earliest in match_order whose magic matches (load_binfmt_misc()'s search). NULL if
 * none matches. Extension entries match by file name, so they are not considered. */
const struct xarch_binfmt_entry *xarch_binfmt_entries_match(
                const struct xarch_binfmt_entry *entries, size_t n, const uint8_t *hdr, size_t len);

/* Formats flags in the kernel's display order ("POCF" subset). buf needs 5 bytes. */
void xarch_binfmt_flags_format(unsigned flags, char buf[static 5]);

/* A binfmt_misc instance (a mount point). */
struct xarch_binfmt;

struct xarch_binfmt_instance_info {
        char mount[4096];
        bool mounted;        /* a binfmt_misc file system is mounted there */
        bool status_enabled; /* the instance-wide 'status' switch */
        bool initial_userns; /* this process is in the initial user namespace (the host's table) */
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

/* ---- Host family, emulators and registration (install/uninstall/enable/disable/export) ---- */

#define XARCH_BINFMT_REGISTER_MAX 1920 /* MAX_REGISTER_LENGTH in fs/binfmt_misc.c */

/* The table row of the CPU this host runs (uname -m normalised as qemu_normalize() does), or
 * NULL for a host the table does not know. */
const struct xarch_binfmt_target *xarch_binfmt_host_target(void);

/* Whether t is in the host's family: qemu-binfmt-conf.sh skips those, because the kernel would
 * hand native binaries (and QEMU itself) to QEMU. False when the host is unknown. */
bool xarch_binfmt_target_is_host_family(const struct xarch_binfmt_target *t);

/* The QEMU binary suffix for t: "i386" for the i486 row, else t->qemu_name. */
const char *xarch_binfmt_target_emulator(const struct xarch_binfmt_target *t);

/* Finds t's emulator, first hit wins: in qemu_path (when not NULL), then /usr/bin, then
 * /usr/local/bin, each as qemu-E-static then qemu-E; last Debian's
 * /usr/libexec/qemu-binfmt/E-binfmt-P. It must be an executable regular file (after symlinks).
 * *ret_implied_flags (may be NULL) gets XARCH_BINFMT_FLAG_P for Debian's -binfmt-P name: that
 * QEMU assumes the kernel preserved argv[0], so it must be registered with P. -ENOENT with the
 * paths tried when none is found. */
int xarch_binfmt_find_emulator(const struct xarch_binfmt_target *t, const char *qemu_path,
                char *buf, size_t size, unsigned *ret_implied_flags, struct xarch_error **err);

/* Fills *ret as the registration of target t: name "qemu-<t>", type M, offset 0, the table's
 * magic and mask. C implies O, as in the kernel. */
int xarch_binfmt_entry_from_target(const struct xarch_binfmt_target *t, const char *interpreter,
                unsigned flags, struct xarch_binfmt_entry *ret, struct xarch_error **err);

/* Checks an entry as create_entry() would (name, type, lengths, offset + size <= 256, absolute
 * interpreter without ':' or newline, total length) and formats its register line
 * ":name:M:offset:magic:mask:interpreter:flags" (no newline; magic/mask as \xHH escapes).
 * Returns the length, -EINVAL with a message naming the problem, or -ENOBUFS. */
int xarch_binfmt_entry_format_register(const struct xarch_binfmt_entry *e, char *buf, size_t size,
                struct xarch_error **err);

/* Whether two entries register the same thing: type, offset, magic, mask, extension,
 * interpreter and flags (C implies O). Ignores the name, enabled and the derived fields. */
bool xarch_binfmt_entry_same(
                const struct xarch_binfmt_entry *a, const struct xarch_binfmt_entry *b);

/* Reads one entry by name, derived fields filled as by xarch_binfmt_list(). -ENOENT if absent. */
int xarch_binfmt_get(struct xarch_binfmt *b, const char *name, struct xarch_binfmt_entry *ret,
                struct xarch_error **err);

/* Writes e's register line. Kernel errors come back in words with the fix (EEXIST, EINVAL,
 * ENOENT, EPERM/EACCES). */
int xarch_binfmt_register(struct xarch_binfmt *b, const struct xarch_binfmt_entry *e,
                struct xarch_error **err);

/* What xarch_binfmt_keep() found and did for one entry. */
enum xarch_binfmt_keep_result {
        XARCH_BINFMT_KEPT,          /* registered as wanted and enabled: nothing to do */
        XARCH_BINFMT_REGISTERED,    /* the name was free: registered now */
        XARCH_BINFMT_KEPT_DISABLED, /* registered as wanted but disabled: left so (someone chose it)
                                     */
        XARCH_BINFMT_CONFLICT,      /* a different entry holds the name: left alone */
};

/* Keeps e registered: registers it when no entry of its name exists, and otherwise touches
 * nothing (never replaces, enables or removes an entry, never another handler), so a keeper
 * running beside other tools only ever fills in what vanished. *ret_existing (may be NULL) gets
 * the entry found under the name for KEPT, KEPT_DISABLED and CONFLICT. A name registered by
 * someone else between the check and the write counts as found. */
int xarch_binfmt_keep(struct xarch_binfmt *b, const struct xarch_binfmt_entry *e,
                enum xarch_binfmt_keep_result *ret, struct xarch_binfmt_entry *ret_existing,
                struct xarch_error **err);

enum xarch_binfmt_action {
        XARCH_BINFMT_DISABLE, /* writes 0 */
        XARCH_BINFMT_ENABLE,  /* writes 1 */
        XARCH_BINFMT_REMOVE,  /* writes -1 */
};

/* Applies an action to one entry, or with name NULL to the instance's 'status' file (that is,
 * to every entry: REMOVE empties the instance). -ENOENT when the entry does not exist. */
int xarch_binfmt_control(struct xarch_binfmt *b, const char *name, enum xarch_binfmt_action action,
                struct xarch_error **err);

/* Mounts binfmt_misc (nodev,noexec,nosuid) on the instance's directory unless it is mounted
 * already. Returns 1 when it mounted, 0 when it was mounted. */
int xarch_binfmt_mount(struct xarch_binfmt *b, struct xarch_error **err);

enum xarch_binfmt_export_format {
        XARCH_BINFMT_EXPORT_SYSTEMD, /* binfmt.d: <name>.conf holding the register line */
        XARCH_BINFMT_EXPORT_DEBIAN,  /* /usr/share/binfmts/<name>, update-binfmts keys */
};

/* Writes one persistence file per entry into dir (which must exist). All files are first
 * written to temporary files in dir, then renamed into place, so a failure leaves nothing
 * half-written (and no file of this call at all if it fails before the renames). */
int xarch_binfmt_export(const char *dir, const struct xarch_binfmt_entry *entries, size_t n,
                enum xarch_binfmt_export_format format, struct xarch_error **err);

/* The file name and contents export writes for one entry. Free both with free(). */
int xarch_binfmt_export_file(const struct xarch_binfmt_entry *e,
                enum xarch_binfmt_export_format format, char **ret_filename, char **ret_contents,
                struct xarch_error **err);

#ifdef __cplusplus
}
#endif

#endif
