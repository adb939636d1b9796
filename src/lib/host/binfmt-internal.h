/* SPDX-License-Identifier: MIT */
#ifndef XARCH_BINFMT_INTERNAL_H
#define XARCH_BINFMT_INTERNAL_H

/* Internal helpers of the binfmt module, declared here so the unit tests can reach them. */

#include <stdbool.h>
#include <stddef.h>

#include "xarch/binfmt.h"

/* BINFMTFS_MAGIC from include/uapi/linux/magic.h: statfs f_type of a binfmt_misc mount. */
#define BINFMT_FS_MAGIC 0x42494e4d

/* Largest entry file we read; the kernel formats entries into one page. */
#define BINFMT_ENTRY_FILE_MAX 8192

/* Maps a `uname -m` or architecture spelling to a QEMU target name like the 2025
 * qemu_normalize() (i686 -> i386, amd64 -> x86_64, armv7l -> arm, arm64 -> aarch64, ...),
 * plus OCI/Go names (386, loong64, mips64le, ppc64el). Returns its input when nothing maps. */
const char *binfmt_normalize_arch(const char *arch);

/* The table row for a `uname -m` value, or NULL. */
const struct xarch_binfmt_target *binfmt_target_for_machine(const char *machine);

/* The family rule for an arbitrary host (xarch_binfmt_target_is_host_family() uses uname). */
bool binfmt_same_family(
                const struct xarch_binfmt_target *host, const struct xarch_binfmt_target *t);

/* Whether the file open at fd is an ELF file without PT_INTERP (statically linked). Bounded
 * reads only; a non-ELF or truncated file yields false. */
bool binfmt_fd_is_static_elf(int fd);

/* Classifies an entry by its interpreter and name (QEMU, Rosetta or other). */
enum xarch_binfmt_kind binfmt_classify(const struct xarch_binfmt_entry *e);

/* Fills the derived fields (kind, target, interpreter_exists, interpreter_static). */
void binfmt_entry_derive(struct xarch_binfmt_entry *e);

/* Whether this process is in the initial user namespace: /proc/self/ns/user against
 * /proc/1/ns/user when both are readable, else /proc/self/uid_map against the identity map. */
bool binfmt_in_initial_userns(void);

#endif
