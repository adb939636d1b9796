/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "xarch/digest.h"
#include "macro.h"
#include "base/ring.h"
#include "build/layer.h"
#include "build/tarwriter.h"
#include "image/decompress.h"
#include "image/tar.h"

#define IO_CHUNK (256u * 1024)
/* Slots of IO_CHUNK bytes between the tar stage and the compressor thread. */
#define RING_SLOTS 8

struct spool {
        int fd;
        char *name; /* the archive, for messages */
};

struct layer_tree {
        struct layer_entry *entries;
        size_t n, cap;
        size_t seq;
        struct spool *spools;
        size_t n_spools;
        bool finished;
};

int layer_tree_new(struct layer_tree **ret) {
        struct layer_tree *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

static void entry_release(struct layer_entry *e) {
        free(e->path);
        free(e->link);
        free(e->src_path);
        free(e->origin);
}

void layer_tree_free(struct layer_tree *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++)
                entry_release(&t->entries[i]);
        free(t->entries);
        for (size_t i = 0; i < t->n_spools; i++) {
                if (t->spools[i].fd >= 0)
                        close(t->spools[i].fd);
                free(t->spools[i].name);
        }
        free(t->spools);
        free(t);
}

size_t layer_tree_count(const struct layer_tree *t) {
        return t->n;
}

const struct layer_entry *layer_tree_entry(const struct layer_tree *t, size_t i) {
        return i < t->n ? &t->entries[i] : NULL;
}

/* Takes ownership of e's strings (also on failure). */
static int push_entry(struct layer_tree *t, struct layer_entry *e, struct xarch_error **err) {
        if (t->n >= LAYER_ENTRIES_MAX) {
                entry_release(e);
                return xarch_error_set(
                                err, EFBIG, "more than %u entries in one layer", LAYER_ENTRIES_MAX);
        }
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 64;
                struct layer_entry *n = realloc(t->entries, cap * sizeof(*n));
                if (!n) {
                        entry_release(e);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                t->entries = n;
                t->cap = cap;
        }
        e->seq = t->seq++;
        t->entries[t->n++] = *e;
        return 0;
}

/* Joins and normalises "dest" + "/" + "rel" into a relative image path ("" = the root).
 * Refuses ".." components. */
static int join_path(const char *dest, const char *rel, char **ret) {
        size_t cap = strlen(dest) + strlen(rel) + 2;
        char *out = malloc(cap);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        const char *parts[2] = {dest, rel};
        for (int k = 0; k < 2; k++) {
                const char *p = parts[k];
                while (*p) {
                        while (*p == '/')
                                p++;
                        if (!*p)
                                break;
                        size_t n = strcspn(p, "/");
                        if (n == 1 && p[0] == '.') {
                                p += n;
                                continue;
                        }
                        if (n == 2 && p[0] == '.' && p[1] == '.') {
                                free(out);
                                return -EINVAL;
                        }
                        if (o)
                                out[o++] = '/';
                        memcpy(out + o, p, n);
                        o += n;
                        p += n;
                }
        }
        out[o] = '\0';
        *ret = out;
        return 0;
}

static uint32_t pick_mode(const struct layer_add_options *o, uint32_t mode) {
        return o && o->chmod ? (o->mode & 07777) : (mode & 07777);
}

static void pick_owner(const struct layer_add_options *o, struct layer_entry *e) {
        e->uid = o && o->chown ? o->uid : 0;
        e->gid = o && o->chown ? o->gid : 0;
}

/* ---- from disk ---- */

static int add_disk(struct layer_tree *t, const char *src, const char *image_path,
                const struct layer_add_options *o, unsigned depth, struct xarch_error **err);

static int add_dir_children(struct layer_tree *t, const char *src, const char *image_path,
                const struct layer_add_options *o, unsigned depth, struct xarch_error **err) {
        _cleanup_closedir_ DIR *d = opendir(src);
        if (!d)
                return xarch_error_set(err, errno, "%s: %s", src, strerror(errno));
        struct dirent *de;
        int r = 0;
        errno = 0;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t sl = strlen(src) + strlen(de->d_name) + 2;
                size_t il = strlen(image_path) + strlen(de->d_name) + 2;
                _cleanup_free_ char *child = malloc(sl);
                _cleanup_free_ char *ichild = malloc(il);
                if (!child || !ichild)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                snprintf(child, sl, "%s/%s", src, de->d_name);
                if (*image_path)
                        snprintf(ichild, il, "%s/%s", image_path, de->d_name);
                else
                        snprintf(ichild, il, "%s", de->d_name);
                r = add_disk(t, child, ichild, o, depth + 1, err);
                if (r < 0)
                        return r;
                errno = 0;
        }
        if (errno)
                return xarch_error_set(err, errno, "%s: %s", src, strerror(errno));
        return 0;
}

static int add_disk(struct layer_tree *t, const char *src, const char *image_path,
                const struct layer_add_options *o, unsigned depth, struct xarch_error **err) {
        struct stat st;
        if (depth > 256)
                return xarch_error_set(err, ELOOP, "%s: directories nested too deep", src);
        if (lstat(src, &st) < 0)
                return xarch_error_set(err, errno, "%s: %s", src, strerror(errno));
        struct layer_entry e = {.spool = -1};
        pick_owner(o, &e);
        e.mode = pick_mode(o, st.st_mode);
        e.path = strdup(image_path);
        e.origin = strdup(src);
        if (!e.path || !e.origin) {
                entry_release(&e);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        if (S_ISREG(st.st_mode)) {
                e.type = XARCH_LAYER_FILE;
                e.size = (uint64_t) st.st_size;
                e.source = LAYER_SRC_PATH;
                e.src_path = strdup(src);
                if (!e.src_path) {
                        entry_release(&e);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
        } else if (S_ISDIR(st.st_mode)) {
                e.type = XARCH_LAYER_DIR;
        } else if (S_ISLNK(st.st_mode)) {
                e.type = XARCH_LAYER_SYMLINK;
                e.mode = 0777;
                char target[4096];
                ssize_t n = readlink(src, target, sizeof(target) - 1);
                if (n < 0 || n == (ssize_t) sizeof(target) - 1) {
                        entry_release(&e);
                        return xarch_error_set(err, n < 0 ? errno : ENAMETOOLONG,
                                        "%s: cannot read the symlink", src);
                }
                target[n] = '\0';
                e.link = strdup(target);
                if (!e.link) {
                        entry_release(&e);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
        } else {
                entry_release(&e);
                return xarch_error_set(err, EPERM,
                                "%s: a device, fifo or socket cannot be added to an image", src);
        }
        bool is_dir = e.type == XARCH_LAYER_DIR;
        /* the image root itself is not an entry: its children are */
        if (!*image_path) {
                entry_release(&e);
                if (!is_dir)
                        return xarch_error_set(err, EINVAL, "%s: a file cannot be the root", src);
        } else {
                int r = push_entry(t, &e, err);
                if (r < 0)
                        return r;
        }
        return is_dir ? add_dir_children(t, src, image_path, o, depth, err) : 0;
}

int layer_tree_add_path(struct layer_tree *t, const char *src, const char *dest,
                const struct layer_add_options *o, struct xarch_error **err) {
        struct stat st;
        if (t->finished)
                return xarch_error_set(err, EINVAL, "layer tree already finished");
        if (stat(src, &st) < 0)
                return xarch_error_set(err, errno, "%s: %s", src, strerror(errno));
        const char *rel = "";
        _cleanup_free_ char *base = NULL;
        size_t dl = strlen(dest);
        /* "file:/dir/" puts the file in the directory under its own name */
        if (!S_ISDIR(st.st_mode) && dl > 0 && dest[dl - 1] == '/') {
                const char *slash = strrchr(src, '/');
                base = strdup(slash ? slash + 1 : src);
                if (!base)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                rel = base;
        }
        _cleanup_free_ char *image_path = NULL;
        int r = join_path(dest, rel, &image_path);
        if (r < 0)
                return xarch_error_set(err, -r, "destination %s: %s", dest,
                                r == -EINVAL ? "'..' is not allowed" : strerror(-r));
        /* the top of an --add follows a symlink (like cp -L for the named source) */
        if (S_ISDIR(st.st_mode)) {
                r = add_disk(t, src, image_path, o, 0, err);
                if (r < 0)
                        return r;
                return 0;
        }
        if (!S_ISREG(st.st_mode))
                return xarch_error_set(err, EPERM,
                                "%s: a device, fifo or socket cannot be added to an image", src);
        if (!*image_path)
                return xarch_error_set(err, EINVAL, "%s: a file cannot be the root", src);
        struct layer_entry e = {.spool = -1, .type = XARCH_LAYER_FILE};
        pick_owner(o, &e);
        e.mode = pick_mode(o, st.st_mode);
        e.size = (uint64_t) st.st_size;
        e.source = LAYER_SRC_PATH;
        e.path = steal_ptr(image_path);
        e.src_path = strdup(src);
        e.origin = strdup(src);
        if (!e.src_path || !e.origin) {
                entry_release(&e);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        return push_entry(t, &e, err);
}

/* ---- from archives ---- */

struct archive_state {
        struct layer_tree *t;
        const struct layer_add_options *o;
        const char *archive;
        const char *dest;
        int spool_fd;
        int spool_index;
        uint64_t written;
        uint64_t limit;
        struct tar_reader *tar;
        struct decompressor *dec;
        uint64_t compressed_in;
        int error;
        struct xarch_error *err;
};

static int archive_fail(struct archive_state *s, int code, const char *fmt, ...)
                __attribute__((format(printf, 3, 4)));

static int archive_fail(struct archive_state *s, int code, const char *fmt, ...) {
        if (!s->err) {
                char msg[512];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                xarch_error_set(&s->err, code, "%s: %s", s->archive, msg);
        }
        return s->error = -code;
}

/* Drops the first n components; NULL when nothing is left. */
static const char *strip_components(const char *path, unsigned n) {
        const char *p = path;
        while (*p == '/' || (p[0] == '.' && p[1] == '/'))
                p += *p == '/' ? 1 : 2;
        for (unsigned i = 0; i < n; i++) {
                const char *slash = strchr(p, '/');
                if (!slash)
                        return NULL;
                p = slash + 1;
                while (*p == '/')
                        p++;
        }
        return *p ? p : NULL;
}

/* Whether a relative symlink target, seen from the directory holding the link (depth
 * components below dest), stays inside dest. */
static bool link_stays_inside(const char *rel_link_path, const char *target) {
        long depth = 0;
        for (const char *p = rel_link_path; *p; p++)
                if (*p == '/')
                        depth++;
        const char *p = target;
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        depth--;
                else if (n > 0 && !(n == 1 && p[0] == '.'))
                        depth++;
                if (depth < 0)
                        return false;
                p += n;
                while (*p == '/')
                        p++;
        }
        return true;
}

static int archive_on_entry(const struct tar_entry *te, void *userdata) {
        struct archive_state *s = userdata;
        const char *rel = strip_components(te->path, s->o ? s->o->strip_components : 0);
        if (!rel)
                return 0;
        /* ".." anywhere is refused before anything else, stripped or not */
        for (const char *p = te->path; *p;) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return archive_fail(s, EPERM, "member %s has a '..' component", te->path);
                p += n;
                while (*p == '/')
                        p++;
        }
        struct layer_entry e = {.spool = -1};
        pick_owner(s->o, &e);
        e.mode = pick_mode(s->o, te->mode);
        int r = join_path(s->dest, rel, &e.path);
        if (r < 0)
                return archive_fail(s, -r, "member %s: bad path", te->path);
        size_t ol = strlen(s->archive) + strlen(te->path) + 2;
        e.origin = malloc(ol);
        if (!e.origin) {
                entry_release(&e);
                return archive_fail(s, ENOMEM, "%s: out of memory", te->path);
        }
        snprintf(e.origin, ol, "%s:%s", s->archive, te->path);

        if (te->sparse) {
                /* its data is a map and the blocks it lists: taken as is, the file would hold
                 * the wrong bytes (and GNU tar's 1.0 format even the wrong name) */
                entry_release(&e);
                return archive_fail(s, EPROTONOSUPPORT,
                                "member %s is a sparse file (GNU.sparse), which is not "
                                "supported; write the archive without --sparse",
                                te->path);
        }
        switch (te->type) {
        case TAR_FILE:
        case TAR_CONTIGUOUS:
                e.type = XARCH_LAYER_FILE;
                e.size = te->size;
                e.source = te->size ? LAYER_SRC_SPOOL : LAYER_SRC_NONE;
                e.spool = s->spool_index;
                e.offset = te->data_offset;
                break;
        case TAR_DIRECTORY:
                e.type = XARCH_LAYER_DIR;
                break;
        case TAR_SYMLINK:
                if (te->linkpath[0] == '/') {
                        entry_release(&e);
                        return archive_fail(s, EPERM, "member %s is an absolute symlink", te->path);
                }
                if (!link_stays_inside(rel, te->linkpath)) {
                        entry_release(&e);
                        return archive_fail(s, EPERM,
                                        "member %s is a symlink that points outside the archive",
                                        te->path);
                }
                e.type = XARCH_LAYER_SYMLINK;
                e.mode = 0777;
                e.link = strdup(te->linkpath);
                if (!e.link) {
                        entry_release(&e);
                        return archive_fail(s, ENOMEM, "%s: out of memory", te->path);
                }
                break;
        case TAR_HARDLINK: {
                /* a hard link becomes a copy of its target (an earlier member of this archive) */
                const char *trel =
                                strip_components(te->linkpath, s->o ? s->o->strip_components : 0);
                _cleanup_free_ char *tpath = NULL;
                if (!trel || join_path(s->dest, trel, &tpath) < 0) {
                        entry_release(&e);
                        return archive_fail(s, EPERM, "member %s is a hard link to a bad path",
                                        te->path);
                }
                const struct layer_entry *target = NULL;
                for (size_t i = s->t->n; i > 0; i--) {
                        const struct layer_entry *c = &s->t->entries[i - 1];
                        if (c->spool == s->spool_index && c->type == XARCH_LAYER_FILE &&
                                        streq(c->path, tpath)) {
                                target = c;
                                break;
                        }
                        if (c->spool != s->spool_index && c->source == LAYER_SRC_SPOOL)
                                break;
                }
                if (!target) {
                        entry_release(&e);
                        return archive_fail(s, EPERM,
                                        "member %s is a hard link to a file not before it",
                                        te->path);
                }
                e.type = XARCH_LAYER_FILE;
                e.size = target->size;
                e.source = target->source;
                e.spool = target->spool;
                e.offset = target->offset;
                if (!(s->o && s->o->chmod))
                        e.mode = target->mode;
                break;
        }
        case TAR_CHARDEV:
        case TAR_BLOCKDEV:
                entry_release(&e);
                return archive_fail(s, EPERM, "member %s is a device file", te->path);
        case TAR_FIFO:
                entry_release(&e);
                return archive_fail(s, EPERM, "member %s is a fifo", te->path);
        default:
                entry_release(&e);
                return archive_fail(
                                s, EPROTONOSUPPORT, "member %s has an unsupported type", te->path);
        }
        if (!*e.path) {
                /* the archive's "./": dest itself */
                entry_release(&e);
                return 0;
        }
        r = push_entry(s->t, &e, &s->err);
        if (r < 0)
                return s->error = r;
        return 0;
}

/* ---- symlink chains inside one archive ----
 *
 * The check above is lexical: it sees "x/l -> .." and "x/l/m -> ../.." as two links that stay
 * inside, although x/l is dest itself, so x/l/m points two levels above dest; "t -> d/e/.." with
 * "d/e -> .." ends above dest too. Once the whole archive is read, every symlink's directory and
 * target are resolved through the layer's symlinks (this archive's and those of the sources
 * added before it; the last entry of a path wins, as in the layer), the way the kernel walks a
 * path: a symlink whose target ends above dest is refused. (Other members beneath a symlink of the
 * same layer are refused by layer_tree_finish().) The walk has a budget for the whole archive, so
 * that long targets through long chains cannot make the check itself the bomb. */

#define CHAIN_PATH_MAX   4096u /* PATH_MAX: a longer path would not resolve in a container */
#define CHAIN_HOPS_MAX   40u   /* the kernel's symlink limit */
#define CHAIN_STEPS_LINK 256u  /* components walked per symlink of the archive, on average */
#define CHAIN_STEPS_BASE 65536u

struct chain_link {
        const char *path;
        const char *link;
};

struct chain {
        const struct chain_link *links; /* sorted by path */
        size_t n_links;
        char buf[CHAIN_PATH_MAX]; /* the real path so far, relative to the image root */
        size_t len;
        size_t floor; /* the length of dest in buf: the walk may not go above it */
        unsigned hops;
        uint64_t steps, steps_max; /* components walked so far, for the whole archive */
};

static int chain_link_cmp(const void *a, const void *b) {
        return strcmp(((const struct chain_link *) a)->path, ((const struct chain_link *) b)->path);
}

static const char *chain_lookup(const struct chain *c) {
        struct chain_link key = {.path = c->buf, .link = NULL};
        const struct chain_link *hit =
                        bsearch(&key, c->links, c->n_links, sizeof(*c->links), chain_link_cmp);
        return hit ? hit->link : NULL;
}

/* Walks n bytes of a relative path from c->buf. -EPERM: above dest; -ELOOP, -ENAMETOOLONG,
 * -E2BIG (the budget is spent), -ENOLINK (through an absolute link of another source). */
static int chain_walk(struct chain *c, const char *p, size_t n) {
        const char *end = p + n;
        while (p < end) {
                while (p < end && *p == '/')
                        p++;
                if (p == end)
                        break;
                size_t k = 0;
                while (p + k < end && p[k] != '/')
                        k++;
                if (++c->steps > c->steps_max)
                        return -E2BIG;
                if (k == 1 && p[0] == '.') {
                        /* nothing */
                } else if (k == 2 && p[0] == '.' && p[1] == '.') {
                        if (c->len <= c->floor)
                                return -EPERM;
                        while (c->len > c->floor && c->buf[c->len - 1] != '/')
                                c->len--;
                        if (c->len > 0 && c->buf[c->len - 1] == '/')
                                c->len--;
                        c->buf[c->len] = '\0';
                } else {
                        size_t before = c->len;
                        if (c->len + (c->len ? 1 : 0) + k >= sizeof(c->buf))
                                return -ENAMETOOLONG;
                        if (c->len)
                                c->buf[c->len++] = '/';
                        memcpy(c->buf + c->len, p, k);
                        c->len += k;
                        c->buf[c->len] = '\0';
                        const char *link = chain_lookup(c);
                        if (link) {
                                /* a symlink: its target, from the directory holding it */
                                if (++c->hops > CHAIN_HOPS_MAX)
                                        return -ELOOP;
                                c->len = before;
                                c->buf[c->len] = '\0';
                                /* only a link of another source (--add) can be absolute:
                                 * where it leads is its owner's choice, not judged here */
                                if (link[0] == '/')
                                        return -ENOLINK;
                                int r = chain_walk(c, link, strlen(link));
                                if (r < 0)
                                        return r;
                        }
                }
                p += k;
        }
        return 0;
}

struct chain_member {
        const char *path;
        const char *link; /* NULL: not a symlink */
        size_t seq;
};

/* By path, the latest member first. */
static int chain_member_cmp(const void *a, const void *b) {
        const struct chain_member *x = a, *y = b;
        int c = strcmp(x->path, y->path);
        if (c)
                return c;
        return x->seq > y->seq ? -1 : x->seq < y->seq;
}

/* Resolves the members entries[first..] of one archive added under dest. */
static int archive_check_chains(struct archive_state *s, size_t first) {
        struct layer_tree *t = s->t;
        size_t n_own = 0, n_links = 0;
        for (size_t i = 0; i < t->n; i++)
                if (t->entries[i].type == XARCH_LAYER_SYMLINK) {
                        n_links++;
                        n_own += i >= first;
                }
        if (n_own == 0)
                return 0;
        _cleanup_free_ char *dest = NULL;
        if (join_path(s->dest, "", &dest) < 0)
                return archive_fail(s, EINVAL, "bad destination");
        /* every symlink of the layer so far (earlier --add and --add-archive sources too: a
         * chain may pass through them), the last of each path */
        size_t n = t->n;
        _cleanup_free_ struct chain_member *members = calloc(n, sizeof(*members));
        _cleanup_free_ struct chain_link *links = calloc(n_links, sizeof(*links));
        _cleanup_free_ struct chain *c = malloc(sizeof(*c));
        if (!members || !links || !c)
                return archive_fail(s, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                const struct layer_entry *e = &t->entries[i];
                members[i] = (struct chain_member){
                                e->path, e->type == XARCH_LAYER_SYMLINK ? e->link : NULL, e->seq};
        }
        qsort(members, n, sizeof(*members), chain_member_cmp);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if ((i == 0 || !streq(members[i].path, members[i - 1].path)) && members[i].link)
                        links[k++] = (struct chain_link){members[i].path, members[i].link};

        size_t floor = strlen(dest);
        if (floor >= sizeof(c->buf))
                return archive_fail(s, ENAMETOOLONG, "destination too long");
        uint64_t steps = 0, steps_max = CHAIN_STEPS_BASE + (uint64_t) CHAIN_STEPS_LINK * n_links;
        for (size_t i = first; i < t->n; i++) {
                const struct layer_entry *e = &t->entries[i];
                if (e->type != XARCH_LAYER_SYMLINK)
                        continue;
                /* the member's name in the archive, for the message */
                const char *name = e->origin + strlen(s->archive) + 1;
                *c = (struct chain){.links = links,
                                .n_links = k,
                                .floor = floor,
                                .len = floor,
                                .steps = steps,
                                .steps_max = steps_max};
                memcpy(c->buf, dest, floor + 1);
                /* e->path is dest + "/" + the member's path below it: its directory, then the
                 * target from there */
                const char *rel = e->path + floor + (floor && e->path[floor] == '/');
                const char *slash = strrchr(rel, '/');
                int r = slash ? chain_walk(c, rel, (size_t) (slash - rel)) : 0;
                if (r == 0)
                        r = chain_walk(c, e->link, strlen(e->link));
                steps = c->steps;
                if (r == -EPERM)
                        return archive_fail(s, EPERM,
                                        "member %s is a symlink that points outside the archive "
                                        "(through other symlinks)",
                                        name);
                /* more hops than the kernel follows: the path does not resolve at all */
                if (r == -ELOOP || r == -ENOLINK)
                        continue;
                if (r == -E2BIG)
                        return archive_fail(s, E2BIG,
                                        "member %s: the archive's symlinks are too long or too "
                                        "deeply chained to check (more than %" PRIu64
                                        " path components)",
                                        name, steps_max);
                if (r < 0)
                        return archive_fail(s, ENAMETOOLONG,
                                        "member %s: the path through its symlinks is too long",
                                        name);
        }
        return 0;
}

/* Decompressed bytes: into the spool (for later reads) and through the tar parser. */
static int archive_sink(void *userdata, const void *buf, size_t len) {
        struct archive_state *s = userdata;
        s->written += len;
        if (s->written > s->limit)
                return archive_fail(s, EFBIG,
                                "more than %" PRIu64 " bytes when decompressed "
                                "(a decompression bomb?)",
                                s->limit);
        if (s->written > LAYER_ARCHIVE_RATIO_FREE &&
                        s->written / LAYER_ARCHIVE_RATIO_MAX > s->compressed_in)
                return archive_fail(s, EFBIG,
                                "decompresses to over %u times its size (a decompression bomb?)",
                                LAYER_ARCHIVE_RATIO_MAX);
        const char *p = buf;
        size_t left = len;
        while (left) {
                ssize_t n = write(s->spool_fd, p, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return archive_fail(s, errno, "writing the spool: %s", strerror(errno));
                }
                p += n;
                left -= (size_t) n;
        }
        int r = tar_reader_feed(s->tar, buf, len, &s->err);
        if (r < 0 && !s->error)
                s->error = r;
        return r;
}

static int open_spool(const struct layer_add_options *o, struct xarch_error **err) {
        const char *dir = o && o->spool_dir ? o->spool_dir : getenv("TMPDIR");
        if (!dir || !*dir)
                dir = "/tmp";
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                char tmpl[4096];
                snprintf(tmpl, sizeof(tmpl), "%s/xarch-spool-XXXXXX", dir);
                fd = mkostemp(tmpl, O_CLOEXEC);
                if (fd >= 0)
                        unlink(tmpl);
        }
        if (fd < 0)
                return xarch_error_set(err, errno, "spool file in %s: %s", dir, strerror(errno));
        return fd;
}

int layer_tree_add_archive(struct layer_tree *t, const char *src, const char *dest,
                const struct layer_add_options *o, struct xarch_error **err) {
        if (t->finished)
                return xarch_error_set(err, EINVAL, "layer tree already finished");
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return xarch_error_set(err, errno, "%s: %s", src, strerror(errno));
        struct stat st;
        if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
                return xarch_error_set(err, EINVAL, "%s: not a regular file", src);
        {
                _cleanup_free_ char *check = NULL;
                if (join_path(dest, "", &check) < 0)
                        return xarch_error_set(
                                        err, EINVAL, "destination %s: '..' is not allowed", dest);
        }
        struct spool *ns = realloc(t->spools, (t->n_spools + 1) * sizeof(*ns));
        if (!ns)
                return xarch_error_set(err, ENOMEM, "out of memory");
        t->spools = ns;
        int fd = open_spool(o, err);
        if (fd < 0)
                return fd;
        t->spools[t->n_spools] = (struct spool){.fd = fd, .name = strdup(src)};
        t->n_spools++;

        size_t first = t->n; /* this archive's members are entries[first..] */
        struct archive_state s = {
                        .t = t,
                        .o = o,
                        .archive = src,
                        .dest = dest,
                        .spool_fd = fd,
                        .spool_index = (int) t->n_spools - 1,
                        .limit = o && o->archive_max ? o->archive_max : LAYER_ARCHIVE_MAX_DEFAULT,
        };
        struct tar_callbacks cb = {.on_entry = archive_on_entry};
        int r = tar_reader_new(&cb, &s, &s.tar);
        if (r < 0)
                return xarch_error_set(err, -r, "out of memory");
        r = decompressor_new(XARCH_COMPRESSION_AUTO, archive_sink, &s, &s.dec, err);
        if (r < 0) {
                tar_reader_free(s.tar);
                return r;
        }
        _cleanup_free_ uint8_t *buf = malloc(IO_CHUNK);
        if (!buf)
                r = -ENOMEM;
        while (r >= 0) {
                ssize_t n = read(in, buf, IO_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = xarch_error_set(&s.err, errno, "%s: %s", src, strerror(errno));
                        break;
                }
                if (n == 0)
                        break;
                s.compressed_in += (uint64_t) n;
                r = decompressor_feed(s.dec, buf, (size_t) n, &s.err);
        }
        if (r >= 0)
                r = decompressor_finish(s.dec, &s.err);
        if (r >= 0)
                r = tar_reader_finish(s.tar, &s.err);
        if (r >= 0 && s.error >= 0)
                r = archive_check_chains(&s, first);
        decompressor_free(s.dec);
        tar_reader_free(s.tar);
        if (s.error < 0 && r >= 0)
                r = s.error;
        if (r < 0) {
                if (s.err) {
                        if (!strstr(s.err->msg, src))
                                xarch_error_wrap(&s.err, "%s", src);
                        if (err && !*err)
                                *err = steal_ptr(s.err);
                        else
                                xarch_error_free(s.err);
                } else {
                        xarch_error_set(err, -r, "%s: %s", src, strerror(-r));
                }
                return r;
        }
        return 0;
}

/* ---- finishing ---- */

static int cmp_path_seq(const void *a, const void *b) {
        const struct layer_entry *x = a, *y = b;
        int c = strcmp(x->path, y->path);
        if (c)
                return c;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int layer_tree_finish(struct layer_tree *t, struct xarch_error **err) {
        if (t->finished)
                return 0;
        /* parents first, as implicit directories (an explicit entry replaces them) */
        size_t n0 = t->n;
        for (size_t i = 0; i < n0; i++) {
                const char *p = t->entries[i].path;
                const char *prev = i > 0 ? t->entries[i - 1].path : "";
                for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
                        /* the previous entry shares this parent: it was added for it already */
                        size_t pl = (size_t) (s - p);
                        if (strncmp(prev, p, pl) == 0 && (prev[pl] == '/' || prev[pl] == '\0'))
                                continue;
                        struct layer_entry d = {.spool = -1,
                                        .type = XARCH_LAYER_DIR,
                                        .mode = 0755,
                                        .implicit = true};
                        d.path = strndup(p, (size_t) (s - p));
                        d.origin = strdup("(parent directory)");
                        if (!d.path || !d.origin) {
                                entry_release(&d);
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        }
                        int r = push_entry(t, &d, err);
                        if (r < 0)
                                return r;
                        p = t->entries[i].path; /* push_entry may have moved the array */
                        prev = i > 0 ? t->entries[i - 1].path : "";
                        s = p + pl;
                }
        }
        /* implicit parents sort before explicit ones of the same path: give them seq 0 ranks */
        for (size_t i = n0; i < t->n; i++)
                t->entries[i].seq = 0;
        for (size_t i = 0; i < n0; i++)
                t->entries[i].seq += 1;
        if (t->n) /* qsort must not see the NULL of an empty tree */
                qsort(t->entries, t->n, sizeof(*t->entries), cmp_path_seq);
        /* keep the last of each path */
        size_t o = 0;
        for (size_t i = 0; i < t->n; i++) {
                if (i + 1 < t->n && streq(t->entries[i].path, t->entries[i + 1].path)) {
                        entry_release(&t->entries[i]);
                        continue;
                }
                t->entries[o++] = t->entries[i];
        }
        t->n = o;
        /* a path that is not a directory cannot have children */
        for (size_t i = 0; i + 1 < t->n; i++) {
                const struct layer_entry *e = &t->entries[i];
                if (e->type == XARCH_LAYER_DIR)
                        continue;
                size_t l = strlen(e->path);
                for (size_t j = i + 1; j < t->n; j++) {
                        const char *q = t->entries[j].path;
                        if (strncmp(q, e->path, l) != 0)
                                break;
                        if (q[l] == '/')
                                return xarch_error_set(err, EEXIST,
                                                "/%s is added as a %s and also as a directory "
                                                "(for /%s)",
                                                e->path,
                                                e->type == XARCH_LAYER_SYMLINK ? "symlink" : "file",
                                                q);
                }
        }
        t->finished = true;
        return 0;
}

/* ---- reading entries ---- */

struct entry_reader {
        int fd;
        uint64_t base;
        uint64_t size;
};

static ssize_t entry_pread(void *userdata, uint64_t offset, void *buf, size_t len) {
        struct entry_reader *er = userdata;
        if (offset >= er->size)
                return 0;
        if (len > er->size - offset)
                len = (size_t) (er->size - offset);
        ssize_t n = pread(er->fd, buf, len, (off_t) (er->base + offset));
        return n < 0 ? -errno : n;
}

/* Opens a file entry's source. Without blocking: a path swapped for a fifo since it was added
 * must fail here rather than wait for a writer forever; anything but a regular file is refused
 * as it would have been when added. */
static int open_source(const struct layer_entry *e, struct xarch_error **err) {
        int fd = open(e->src_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return xarch_error_set(err, errno, "%s: %s", e->src_path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return xarch_error_set(err, EPERM,
                                "%s: no longer a regular file (a device, fifo or socket cannot "
                                "be added to an image)",
                                e->src_path);
        }
        return fd;
}

int layer_tree_analyze(struct layer_tree *t, const struct layer_entry *e,
                struct xarch_file_analyzer *a, struct xarch_file_info *ret,
                struct xarch_error **err) {
        if (e->type != XARCH_LAYER_FILE)
                return xarch_error_set(err, EINVAL, "%s is not a regular file", e->origin);
        _cleanup_close_ int own = -1;
        struct entry_reader er = {.fd = -1, .size = e->size};
        if (e->source == LAYER_SRC_PATH) {
                own = open_source(e, err);
                if (own < 0)
                        return own;
                er.fd = own;
        } else if (e->source == LAYER_SRC_SPOOL) {
                er.fd = t->spools[e->spool].fd;
                er.base = e->offset;
        }
        uint8_t prefix[XARCH_FILE_PREFIX_SIZE];
        ssize_t n = 0;
        if (er.fd >= 0) {
                n = entry_pread(&er, 0, prefix, sizeof(prefix));
                if (n < 0)
                        return xarch_error_set(
                                        err, (int) -n, "%s: %s", e->origin, strerror((int) -n));
        }
        struct xarch_file_source src = {
                        .prefix = prefix,
                        .prefix_len = (size_t) n,
                        .size = e->size,
                        .read = er.fd >= 0 ? entry_pread : NULL,
                        .userdata = &er,
        };
        return xarch_file_analyze(a, &src, ret, err);
}

/* ---- writing ---- */

struct compressor {
        enum xarch_compression kind;
        z_stream z;
        bool z_init;
        ZSTD_CStream *zs;
        uint8_t *out;
        xarch_sink_fn sink;
        void *userdata;
        struct xarch_digester *tar_digest;
        struct xarch_digester *out_digest;
        uint64_t tar_size, out_size;
        int error;
        /* When the stages overlap: the tar stage (files, tar writer, diff_id: tar_digest and
         * tar_size) runs on the calling thread and hands the stream through this ring to the
         * compressor thread (z or zs, out, out_digest, out_size, sink). */
        struct ring *ring;
};

static int comp_emit(struct compressor *c, const void *buf, size_t len) {
        if (!len)
                return 0;
        xarch_digester_update(c->out_digest, buf, len);
        c->out_size += len;
        int r = c->sink(c->userdata, buf, len);
        if (r < 0)
                c->error = r;
        return r;
}

static int comp_feed(struct compressor *c, const void *buf, size_t len, bool end) {
        if (c->kind == XARCH_COMPRESSION_NONE)
                return comp_emit(c, buf, len);
        if (c->kind == XARCH_COMPRESSION_GZIP) {
                c->z.next_in = (Bytef *) buf;
                c->z.avail_in = (uInt) len;
                int zr;
                do {
                        c->z.next_out = c->out;
                        c->z.avail_out = IO_CHUNK;
                        zr = deflate(&c->z, end ? Z_FINISH : Z_NO_FLUSH);
                        if (zr == Z_STREAM_ERROR)
                                return -EIO;
                        int r = comp_emit(c, c->out, IO_CHUNK - c->z.avail_out);
                        if (r < 0)
                                return r;
                } while (c->z.avail_out == 0 || (end && zr != Z_STREAM_END));
                return 0;
        }
        ZSTD_inBuffer in = {buf, len, 0};
        for (;;) {
                ZSTD_outBuffer out = {c->out, IO_CHUNK, 0};
                size_t left = ZSTD_compressStream2(
                                c->zs, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(left))
                        return -EIO;
                int r = comp_emit(c, c->out, out.pos);
                if (r < 0)
                        return r;
                if (end ? left == 0 : (in.pos == in.size && out.pos < out.size))
                        break;
        }
        return 0;
}

/* Compresses a piece of the tar stream. */
static int comp_chunks(struct compressor *c, const void *buf, size_t len) {
        /* zlib takes uInt lengths */
        const uint8_t *p = buf;
        while (len) {
                size_t n = len > IO_CHUNK ? IO_CHUNK : len;
                int r = comp_feed(c, p, n, false);
                if (r < 0)
                        return r;
                p += n;
                len -= n;
        }
        return 0;
}

/* The tar writer's sink on one thread: hash the tar, then compress. */
static int comp_sink(void *userdata, const void *buf, size_t len) {
        struct compressor *c = userdata;
        xarch_digester_update(c->tar_digest, buf, len);
        c->tar_size += len;
        return comp_chunks(c, buf, len);
}

/* The tar writer's sink when the stages overlap: hash the tar, queue it for the compressor. A
 * compressor error comes back here as the code the sink returned (or -EIO), as comp_sink would
 * have returned it. */
static int ring_sink(void *userdata, const void *buf, size_t len) {
        struct compressor *c = userdata;
        xarch_digester_update(c->tar_digest, buf, len);
        c->tar_size += len;
        return ring_write(c->ring, buf, len, NULL);
}

/* The compressor thread's side of the ring. */
static int ring_compress(void *userdata, const void *buf, size_t len, struct xarch_error **err) {
        (void) err; /* comp_chunks reports codes only, like the tar writer's sink */
        return comp_chunks(userdata, buf, len);
}

static int comp_init(struct compressor *c, const struct layer_write_options *o,
                struct xarch_error **err) {
        c->kind = o->compression;
        c->out = malloc(IO_CHUNK);
        if (!c->out || xarch_digester_new("sha256", &c->tar_digest) < 0 ||
                        xarch_digester_new("sha256", &c->out_digest) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (c->kind == XARCH_COMPRESSION_GZIP) {
                int level = o->level ? o->level : 1;
                if (deflateInit2(&c->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                        return xarch_error_set(err, ENOMEM, "zlib: cannot start gzip");
                c->z_init = true;
                /* a fixed header: no name, no mtime, OS "unknown" whatever the build machine */
                static gz_header h = {.os = 255};
                if (deflateSetHeader(&c->z, &h) != Z_OK)
                        return xarch_error_set(err, EIO, "zlib: cannot set the gzip header");
        } else if (c->kind == XARCH_COMPRESSION_ZSTD) {
                c->zs = ZSTD_createCStream();
                if (!c->zs)
                        return xarch_error_set(err, ENOMEM, "zstd: out of memory");
                int level = o->level ? o->level : 3;
                if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zs, ZSTD_c_compressionLevel, level)) ||
                                ZSTD_isError(ZSTD_CCtx_setParameter(c->zs, ZSTD_c_checksumFlag, 1)))
                        return xarch_error_set(err, EINVAL, "zstd: level %d refused", level);
        }
        return 0;
}

static void comp_release(struct compressor *c) {
        ring_stop(c->ring, true, NULL);
        if (c->z_init)
                deflateEnd(&c->z);
        ZSTD_freeCStream(c->zs);
        free(c->out);
        xarch_digester_free(c->tar_digest);
        xarch_digester_free(c->out_digest);
}

static int write_file_data(struct layer_tree *t, const struct layer_entry *e, struct tar_writer *w,
                uint8_t *buf, struct xarch_error **err) {
        _cleanup_close_ int own = -1;
        int fd;
        uint64_t off = 0;
        if (e->source == LAYER_SRC_PATH) {
                own = open_source(e, err);
                if (own < 0)
                        return own;
                fd = own;
                posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        } else if (e->source == LAYER_SRC_SPOOL) {
                fd = t->spools[e->spool].fd;
                off = e->offset;
        } else {
                return 0;
        }
        uint64_t left = e->size;
        while (left) {
                size_t want = left > IO_CHUNK ? IO_CHUNK : (size_t) left;
                ssize_t n = own >= 0 ? read(fd, buf, want) : pread(fd, buf, want, (off_t) off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return xarch_error_set(err, errno, "%s: %s", e->origin, strerror(errno));
                if (n == 0)
                        return xarch_error_set(err, EIO, "%s: the file shrank while being read",
                                        e->origin);
                int r = tar_writer_data(w, buf, (size_t) n, err);
                if (r < 0)
                        return r;
                off += (uint64_t) n;
                left -= (uint64_t) n;
        }
        return 0;
}

int layer_tree_write_sink(struct layer_tree *t, const struct layer_write_options *o,
                xarch_sink_fn sink, void *userdata, struct layer_result *ret,
                struct xarch_error **err) {
        if (!t->finished) {
                int r = layer_tree_finish(t, err);
                if (r < 0)
                        return r;
        }
        struct compressor c = {.sink = sink, .userdata = userdata};
        struct tar_writer *w = NULL;
        /* the tar stage's error, held until the compressor has said whether it failed first */
        struct xarch_error *tar_err = NULL;
        _cleanup_free_ uint8_t *buf = malloc(IO_CHUNK);
        int r = comp_init(&c, o, err);
        if (r >= 0 && !buf)
                r = xarch_error_set(err, ENOMEM, "out of memory");
        if (r >= 0 && o->threads != 1)
                r = ring_start(RING_SLOTS, IO_CHUNK, ring_compress, &c, "layer compression",
                                &c.ring, err);
        if (r >= 0 && tar_writer_new(c.ring ? ring_sink : comp_sink, &c, &w) < 0)
                r = xarch_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; r >= 0 && i < t->n; i++) {
                const struct layer_entry *e = &t->entries[i];
                size_t pl = strlen(e->path);
                _cleanup_free_ char *name = malloc(pl + 2);
                if (!name) {
                        r = xarch_error_set(&tar_err, ENOMEM, "out of memory");
                        break;
                }
                memcpy(name, e->path, pl);
                name[pl] = e->type == XARCH_LAYER_DIR ? '/' : '\0';
                name[pl + 1] = '\0';
                struct tarw_entry te = {
                                .path = name,
                                .linkname = e->link,
                                .type = e->type == XARCH_LAYER_DIR       ? TARW_DIRECTORY
                                        : e->type == XARCH_LAYER_SYMLINK ? TARW_SYMLINK
                                                                         : TARW_FILE,
                                .mode = e->mode,
                                .uid = e->uid,
                                .gid = e->gid,
                                .mtime = o->mtime,
                                .size = e->type == XARCH_LAYER_FILE ? e->size : 0,
                };
                r = tar_writer_add(w, &te, &tar_err);
                if (r >= 0 && e->type == XARCH_LAYER_FILE)
                        r = write_file_data(t, e, w, buf, &tar_err);
        }
        if (r >= 0 && w)
                r = tar_writer_finish(w, &tar_err);
        if (c.ring) {
                /* The compressor takes what was queued, even after a tar-stage error: on one
                 * thread those bytes were compressed and written before the error, and a
                 * compressor error among them came first in the stream, so it is the one to
                 * report, with the message the tar writer gives a failing sink. */
                int rc = ring_stop(c.ring, false, NULL);
                c.ring = NULL;
                if (rc < 0) {
                        xarch_error_free(steal_ptr(tar_err));
                        r = xarch_error_set(&tar_err, -rc, "writing the layer: %s", strerror(-rc));
                }
        }
        if (tar_err) {
                if (err && !*err)
                        *err = steal_ptr(tar_err);
                xarch_error_free(tar_err);
        }
        if (r >= 0) {
                r = comp_feed(&c, NULL, 0, true);
                if (r < 0)
                        r = xarch_error_set(err, -r, "compressing the layer: %s", strerror(-r));
        }
        if (r >= 0) {
                xarch_digester_final(c.tar_digest, ret->diff_id);
                xarch_digester_final(c.out_digest, ret->digest);
                ret->size = c.out_size;
                ret->tar_size = c.tar_size;
        }
        tar_writer_free(w);
        comp_release(&c);
        return r;
}

static int fd_sink(void *userdata, const void *buf, size_t len) {
        int fd = *(int *) userdata;
        const char *p = buf;
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int layer_tree_write(struct layer_tree *t, const struct layer_write_options *o, int fd,
                struct layer_result *ret, struct xarch_error **err) {
        return layer_tree_write_sink(t, o, fd_sink, &fd, ret, err);
}
