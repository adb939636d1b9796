/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_ROOTFS_H
#define XARCH_LIB_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"
#include "xarch/layer.h"

/*
 * The merged view of an image's layers (internal), built from the entry lists of
 * xarch_layer_scan without any file data: layers applied in order, whiteouts ".wh.NAME" and
 * opaque directories ".wh..wh..opq" hiding lower-layer content only, hard links sharing their
 * target's entry, parent directories reached through symlinks as containerd's applier does.
 * Lookups resolve absolute and relative symlinks inside the image root (".." stops at the
 * root) with at most ROOTFS_MAX_HOPS symlinks followed.
 */

#define ROOTFS_MAX_HOPS 40
#define ROOTFS_PATH_MAX 4096

/* Docker's and runc's default PATH when the config sets none. */
#define ROOTFS_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Normalises a tar path: drops leading "/" and "./", empty and "." components and a trailing
 * slash; ".." removes the previous component and stops at the root. "" is the root itself.
 * Returns 0, -ENAMETOOLONG, or -ENOMEM. */
int rootfs_normalize_path(const char *in, char **ret);

struct rootfs;

struct rootfs_node {
        enum xarch_layer_entry_type type;      /* a hard link becomes its target's type */
        const struct xarch_layer_entry *entry; /* the entry that made it (file data, info) */
        bool implicit;                         /* a directory no layer listed, made for a child */
};

int rootfs_new(struct rootfs **ret);
void rootfs_free(struct rootfs *fs);

/* Applies one layer on top (the layer must outlive the rootfs: nodes point into it). */
int rootfs_apply_layer(
                struct rootfs *fs, const struct xarch_layer *layer, struct xarch_error **err);

/* Number of visible nodes (the root excluded). */
size_t rootfs_count(const struct rootfs *fs);

/* Resolves path (absolute or relative to the root). follow_last: follow a final symlink.
 * On success *ret_node points to the node and *ret_path (if not NULL) gets the canonical
 * absolute path. -ENOENT, -ENOTDIR, -ELOOP (more than ROOTFS_MAX_HOPS symlinks),
 * -ENAMETOOLONG. */
int rootfs_resolve(const struct rootfs *fs, const char *path, bool follow_last,
                const struct rootfs_node **ret_node, char **ret_path, struct xarch_error **err);

/* Finds a command like execvp in the container: a name with a "/" is resolved as is
 * (relative to workdir, "/" when NULL), else searched along search_path (":"-separated,
 * ROOTFS_DEFAULT_PATH when NULL) for a regular file with an execute bit. Errors as
 * rootfs_resolve; -ENOENT when no directory has it, -EISDIR when the path is a directory. */
int rootfs_find_command(const struct rootfs *fs, const char *name, const char *search_path,
                const char *workdir, const struct rootfs_node **ret_node, char **ret_path,
                struct xarch_error **err);

/* Calls fn for every visible regular file (hard links included once per name). */
int rootfs_foreach_file(const struct rootfs *fs,
                int (*fn)(void *userdata, const char *path, const struct rootfs_node *node),
                void *userdata);

#endif
