/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "image/rootfs.h"

#define OPAQUE_NAME ".wh..wh..opq"

/* A directory tree; children are found through one hash table keyed by (parent, name). */
struct node {
        char *name;
        struct node *parent;
        struct node *first_child;
        struct node *next, *prev; /* siblings */
        struct node *hnext;       /* hash chain */
        struct rootfs_node pub;
        const char *link; /* symlink target (points into the layer) */
};

struct rootfs {
        struct node root;
        struct node **buckets;
        size_t n_buckets;
        size_t n_nodes;
};

int rootfs_normalize_path(const char *in, char **ret) {
        size_t n = strlen(in);
        if (n >= ROOTFS_PATH_MAX)
                return -ENAMETOOLONG;
        char *out = malloc(n + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        const char *p = in;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *end = strchrnul(p, '/');
                size_t len = (size_t) (end - p);
                if (len == 1 && p[0] == '.') {
                        /* skip */
                } else if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--; /* the separator */
                } else {
                        if (o > 0)
                                out[o++] = '/';
                        memcpy(out + o, p, len);
                        o += len;
                }
                p = end;
        }
        out[o] = '\0';
        *ret = out;
        return 0;
}

static uint64_t hash_key(const struct node *parent, const char *name, size_t len) {
        uint64_t h = 1469598103934665603ull ^ (uint64_t) (uintptr_t) parent;
        for (size_t i = 0; i < len; i++) {
                h ^= (uint8_t) name[i];
                h *= 1099511628211ull;
        }
        return h ^ (h >> 29);
}

static struct node *lookup_child(
                const struct rootfs *fs, const struct node *parent, const char *name, size_t len) {
        if (!fs->n_buckets)
                return NULL;
        uint64_t h = hash_key(parent, name, len) % fs->n_buckets;
        for (struct node *n = fs->buckets[h]; n; n = n->hnext)
                if (n->parent == parent && strncmp(n->name, name, len) == 0 && n->name[len] == '\0')
                        return n;
        return NULL;
}

static int grow(struct rootfs *fs) {
        size_t nb = fs->n_buckets ? fs->n_buckets * 2 : 1024;
        struct node **b = calloc(nb, sizeof(*b));
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < fs->n_buckets; i++) {
                struct node *n = fs->buckets[i];
                while (n) {
                        struct node *next = n->hnext;
                        uint64_t h = hash_key(n->parent, n->name, strlen(n->name)) % nb;
                        n->hnext = b[h];
                        b[h] = n;
                        n = next;
                }
        }
        free(fs->buckets);
        fs->buckets = b;
        fs->n_buckets = nb;
        return 0;
}

static struct node *add_child(
                struct rootfs *fs, struct node *parent, const char *name, size_t len) {
        if (fs->n_nodes + 1 > fs->n_buckets && grow(fs) < 0)
                return NULL;
        struct node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->name = strndup(name, len);
        if (!n->name) {
                free(n);
                return NULL;
        }
        n->parent = parent;
        n->next = parent->first_child;
        if (n->next)
                n->next->prev = n;
        parent->first_child = n;
        uint64_t h = hash_key(parent, name, len) % fs->n_buckets;
        n->hnext = fs->buckets[h];
        fs->buckets[h] = n;
        fs->n_nodes++;
        return n;
}

/* Unhooks a node that has no children from its parent and the hash table and frees it. */
static void free_leaf(struct rootfs *fs, struct node *n) {
        uint64_t h = hash_key(n->parent, n->name, strlen(n->name)) % fs->n_buckets;
        struct node **pp = &fs->buckets[h];
        while (*pp && *pp != n)
                pp = &(*pp)->hnext;
        if (*pp)
                *pp = n->hnext;
        if (n->prev)
                n->prev->next = n->next;
        else
                n->parent->first_child = n->next;
        if (n->next)
                n->next->prev = n->prev;
        fs->n_nodes--;
        free(n->name);
        free(n);
}

/* Frees everything below dir, deepest first. Iterative: symlinks let a layer with short paths
 * build a tree far deeper than the stack would allow one frame per level. */
static void remove_children(struct rootfs *fs, struct node *dir) {
        struct node *n = dir->first_child;
        while (n) {
                if (n->first_child) {
                        n = n->first_child;
                        continue;
                }
                struct node *parent = n->parent;
                free_leaf(fs, n);
                n = parent == dir ? dir->first_child : parent;
        }
}

static void remove_node(struct rootfs *fs, struct node *n) {
        remove_children(fs, n);
        free_leaf(fs, n);
}

int rootfs_new(struct rootfs **ret) {
        struct rootfs *fs = calloc(1, sizeof(*fs));
        if (!fs)
                return -ENOMEM;
        fs->root.name = NULL;
        fs->root.parent = &fs->root;
        fs->root.pub.type = XARCH_LAYER_DIR;
        fs->root.pub.implicit = true;
        *ret = fs;
        return 0;
}

void rootfs_free(struct rootfs *fs) {
        if (!fs)
                return;
        remove_children(fs, &fs->root);
        free(fs->buckets);
        free(fs);
}

size_t rootfs_count(const struct rootfs *fs) {
        return fs->n_nodes;
}

/*
 * Walks path from the root. Symlinks are followed for every component but the last (and the
 * last too with follow_last), ".." stops at the root, at most ROOTFS_MAX_HOPS symlinks.
 * With create, missing components become implicit directories and non-directories in the
 * way are replaced by one (a tar applier would fail there; the view stays usable).
 */
static int walk(struct rootfs *fs, const char *path, bool follow_last, bool create,
                struct node **ret) {
        const size_t cap = 2 * ROOTFS_PATH_MAX;
        _cleanup_free_ char *a = malloc(cap), *b = malloc(cap);
        if (!a || !b)
                return -ENOMEM;
        size_t plen = strlen(path);
        if (plen >= cap)
                return -ENAMETOOLONG;
        memcpy(a, path, plen + 1);
        char *p = a;
        struct node *cur = &fs->root;
        unsigned hops = 0;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *end = strchrnul(p, '/');
                size_t len = (size_t) (end - p);
                const char *rest = end;
                while (*rest == '/')
                        rest++;
                bool last = *rest == '\0';
                if (len == 1 && p[0] == '.') {
                        p = end;
                        continue;
                }
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        cur = cur->parent;
                        p = end;
                        continue;
                }
                struct node *child = lookup_child(fs, cur, p, len);
                if (!child) {
                        if (!create)
                                return -ENOENT;
                        child = add_child(fs, cur, p, len);
                        if (!child)
                                return -ENOMEM;
                        child->pub.type = XARCH_LAYER_DIR;
                        child->pub.implicit = true;
                }
                if (child->pub.type == XARCH_LAYER_SYMLINK && child->link &&
                                (!last || follow_last)) {
                        if (++hops > ROOTFS_MAX_HOPS)
                                return -ELOOP;
                        size_t llen = strlen(child->link), rlen = strlen(rest);
                        if (llen + 1 + rlen + 1 > cap)
                                return -ENAMETOOLONG;
                        char *other = p >= a && p < a + cap ? b : a;
                        memcpy(other, child->link, llen);
                        other[llen] = '/';
                        memcpy(other + llen + 1, rest, rlen + 1);
                        if (child->link[0] == '/')
                                cur = &fs->root;
                        p = other;
                        continue;
                }
                if (!last && child->pub.type != XARCH_LAYER_DIR) {
                        if (!create)
                                return -ENOTDIR;
                        remove_children(fs, child);
                        child->pub = (struct rootfs_node){XARCH_LAYER_DIR, NULL, true};
                        child->link = NULL;
                }
                cur = child;
                p = end;
        }
        *ret = cur;
        return 0;
}

static char *node_path(const struct rootfs *fs, const struct node *n) {
        size_t len = 0;
        for (const struct node *m = n; m != &fs->root; m = m->parent)
                len += strlen(m->name) + 1;
        char *out = malloc(len + 2);
        if (!out)
                return NULL;
        if (len == 0) {
                strcpy(out, "/");
                return out;
        }
        out[len] = '\0';
        size_t pos = len;
        for (const struct node *m = n; m != &fs->root; m = m->parent) {
                size_t l = strlen(m->name);
                pos -= l;
                memcpy(out + pos, m->name, l);
                out[--pos] = '/';
        }
        return out;
}

/* Splits "a/b/c" into the directory "a/b" (in buf) and the base name "c". */
static const char *split(const char *path, char *buf, size_t size) {
        const char *slash = strrchr(path, '/');
        if (!slash) {
                buf[0] = '\0';
                return path;
        }
        size_t n = (size_t) (slash - path);
        if (n >= size)
                n = size - 1;
        memcpy(buf, path, n);
        buf[n] = '\0';
        return slash + 1;
}

static int apply_whiteout(struct rootfs *fs, const char *dir, const char *base) {
        struct node *d = NULL;
        int r = walk(fs, dir, true, false, &d);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0; /* nothing below to hide */
        if (r < 0)
                return r;
        if (d->pub.type != XARCH_LAYER_DIR)
                return 0;
        if (streq(base, OPAQUE_NAME)) {
                remove_children(fs, d);
                return 0;
        }
        struct node *victim = lookup_child(fs, d, base + 4, strlen(base + 4));
        if (victim)
                remove_node(fs, victim);
        return 0;
}

int rootfs_apply_layer(
                struct rootfs *fs, const struct xarch_layer *layer, struct xarch_error **err) {
        _cleanup_free_ char *dir = malloc(ROOTFS_PATH_MAX);
        if (!dir)
                return xarch_error_set(err, ENOMEM, "out of memory");
        /* Whiteouts first: they hide lower layers only, never siblings of the same layer. */
        for (size_t i = 0; i < layer->n_entries; i++) {
                const struct xarch_layer_entry *e = &layer->entries[i];
                const char *base = split(e->path, dir, ROOTFS_PATH_MAX);
                if (strncmp(base, ".wh.", 4) != 0)
                        continue;
                if (base[4] == '\0')
                        return xarch_error_set(err, EBADMSG, "invalid whiteout '%.200s'", e->path);
                int r = apply_whiteout(fs, dir, base);
                if (r < 0)
                        return xarch_error_set(err, -r, "cannot apply whiteout '%.200s'", e->path);
        }
        for (size_t i = 0; i < layer->n_entries; i++) {
                const struct xarch_layer_entry *e = &layer->entries[i];
                if (e->path[0] == '\0')
                        continue;
                const char *base = split(e->path, dir, ROOTFS_PATH_MAX);
                if (strncmp(base, ".wh.", 4) == 0)
                        continue;
                struct node *parent = NULL;
                int r = walk(fs, dir, true, true, &parent);
                if (r == -ELOOP || r == -ENAMETOOLONG)
                        continue; /* an applier would fail on this entry; skip it */
                if (r < 0)
                        return xarch_error_set(err, -r, "cannot place '%.200s'", e->path);
                if (parent->pub.type != XARCH_LAYER_DIR)
                        continue;
                struct rootfs_node pub = {e->type, e, false};
                const char *link = e->type == XARCH_LAYER_SYMLINK ? e->link : NULL;
                if (e->type == XARCH_LAYER_HARDLINK) {
                        /* a hard link shares its target: same type, same content */
                        struct node *target = NULL;
                        if (walk(fs, e->link, false, false, &target) >= 0 &&
                                        target->pub.type != XARCH_LAYER_DIR) {
                                pub = target->pub;
                                link = target->link;
                        } else {
                                pub.type = XARCH_LAYER_OTHER;
                        }
                }
                size_t blen = strlen(base);
                struct node *n = lookup_child(fs, parent, base, blen);
                if (n && !(n->pub.type == XARCH_LAYER_DIR && e->type == XARCH_LAYER_DIR)) {
                        remove_node(fs, n);
                        n = NULL;
                }
                if (!n) {
                        n = add_child(fs, parent, base, blen);
                        if (!n)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                }
                n->pub = pub;
                n->link = link;
        }
        return 0;
}

int rootfs_resolve(const struct rootfs *fs, const char *path, bool follow_last,
                const struct rootfs_node **ret_node, char **ret_path, struct xarch_error **err) {
        struct node *n = NULL;
        /* walk without create does not modify the tree */
        int r = walk((struct rootfs *) fs, path, follow_last, false, &n);
        if (r < 0) {
                const char *why = r == -ELOOP     ? "too many levels of symbolic links"
                                  : r == -ENOTDIR ? "a component is not a directory"
                                  : r == -ENOENT  ? "no such file in the image"
                                                  : "cannot resolve";
                return xarch_error_set(err, -r, "%.200s: %s", path, why);
        }
        if (ret_path) {
                *ret_path = node_path(fs, n);
                if (!*ret_path)
                        return xarch_error_set(err, ENOMEM, "out of memory");
        }
        *ret_node = &n->pub;
        return 0;
}

int rootfs_find_command(const struct rootfs *fs, const char *name, const char *search_path,
                const char *workdir, const struct rootfs_node **ret_node, char **ret_path,
                struct xarch_error **err) {
        if (!name || !*name)
                return xarch_error_set(err, ENOENT, "empty command");
        if (strchr(name, '/')) {
                _cleanup_free_ char *full = NULL;
                if (name[0] != '/' && workdir && *workdir) {
                        if (asprintf(&full, "%s/%s", workdir, name) < 0)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                }
                const struct rootfs_node *n = NULL;
                int r = rootfs_resolve(fs, full ? full : name, true, &n, ret_path, err);
                if (r < 0)
                        return r;
                if (n->type == XARCH_LAYER_DIR) {
                        if (ret_path)
                                free(steal_ptr(*ret_path));
                        return xarch_error_set(err, EISDIR, "%.200s is a directory", name);
                }
                *ret_node = n;
                return 0;
        }
        if (!search_path)
                search_path = ROOTFS_DEFAULT_PATH;
        int worst = -ENOENT;
        const char *p = search_path;
        for (;;) {
                const char *end = strchrnul(p, ':');
                size_t len = (size_t) (end - p);
                if (len > 0 && p[0] == '/' && len + strlen(name) + 2 < ROOTFS_PATH_MAX) {
                        _cleanup_free_ char *full = NULL;
                        if (asprintf(&full, "%.*s/%s", (int) len, p, name) < 0)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        struct node *n = NULL;
                        int r = walk((struct rootfs *) fs, full, true, false, &n);
                        if (r == -ELOOP)
                                worst = r;
                        else if (r >= 0 && n->pub.type == XARCH_LAYER_DIR && worst == -ENOENT)
                                worst = -EISDIR;
                        else if (r >= 0 && n->pub.type != XARCH_LAYER_DIR) {
                                uint32_t mode = n->pub.entry ? n->pub.entry->mode : 0;
                                if (n->pub.type == XARCH_LAYER_FILE && (mode & 0111)) {
                                        if (ret_path) {
                                                *ret_path = node_path(fs, n);
                                                if (!*ret_path)
                                                        return xarch_error_set(err, ENOMEM,
                                                                        "out of memory");
                                        }
                                        *ret_node = &n->pub;
                                        return 0;
                                }
                                if (worst == -ENOENT)
                                        worst = -EACCES;
                        }
                }
                if (!*end)
                        break;
                p = end + 1;
        }
        switch (worst) {
        case -ELOOP:
                return xarch_error_set(
                                err, ELOOP, "%.200s: too many levels of symbolic links", name);
        case -EACCES:
                return xarch_error_set(
                                err, EACCES, "%.200s: found on PATH but not executable", name);
        default:
                return xarch_error_set(
                                err, ENOENT, "%.200s: not found on PATH %.300s", name, search_path);
        }
}

int rootfs_foreach_file(const struct rootfs *fs,
                int (*fn)(void *userdata, const char *path, const struct rootfs_node *node),
                void *userdata) {
        /* Pre-order walk over the parent links, no recursion (see remove_children). */
        const struct node *root = &fs->root, *n = root->first_child;
        while (n) {
                if (n->pub.type == XARCH_LAYER_FILE) {
                        _cleanup_free_ char *path = node_path(fs, n);
                        if (!path)
                                return -ENOMEM;
                        int r = fn(userdata, path, &n->pub);
                        if (r < 0)
                                return r;
                } else if (n->pub.type == XARCH_LAYER_DIR && n->first_child) {
                        n = n->first_child;
                        continue;
                }
                while (n != root && !n->next)
                        n = n->parent;
                if (n == root)
                        break;
                n = n->next;
        }
        return 0;
}
