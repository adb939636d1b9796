/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "base/membuf.h"
#include "registry/registry.h"
#include "macro.h"
#include "image/tar.h"
#include "xarch/digest.h"
#include "xarch/ref.h"
#include "xarch/registry.h"

#define READ_CHUNK (128u * 1024u)

struct xarch_image_context {
        struct xarch_image_options opts;
        char *ca_file, *auth_file, *cache_dir;
        pthread_mutex_t lock;
        struct xarch_registry *registry;
};

struct archive_member {
        char *path; /* normalised */
        uint64_t offset, size;
};

/* A child manifest fetched (or being fetched) during this image's life: an index that lists
 * one child many times costs one request, even with the cache off and fetches in parallel. */
struct fetched {
        char digest[XARCH_DIGEST_MAX];
        bool done;
        int rc;                    /* < 0: the fetch failed with msg */
        struct xarch_blob_buf buf; /* rc >= 0 */
        char *msg;
        struct fetched *next;
};
#define FETCHED_BYTES_MAX (32u * 1024 * 1024) /* kept manifests; beyond, fetch again */

/* docker-archive: the files manifest.json names, by the digest they are known under. */
struct alias {
        char digest[XARCH_DIGEST_MAX];
        const struct archive_member *member;
};

struct xarch_image {
        struct xarch_image_context *ctx;
        enum xarch_transport transport;
        char *name;

        struct xarch_ref ref; /* registry */

        int dirfd; /* oci layout directory */
        int fd;    /* archives */
        struct archive_member *members;
        size_t n_members;

        /* local sources: the descriptor of the root manifest */
        char root_digest[XARCH_DIGEST_MAX];
        char *root_media_type;
        uint64_t root_size;

        /* registry: child manifests by digest (fetched_lock guards the list) */
        pthread_mutex_t fetched_lock;
        pthread_cond_t fetched_done;
        struct fetched *fetched;
        size_t fetched_bytes;

        /* docker-archive */
        char *synth;
        size_t synth_len;
        struct alias *aliases;
        size_t n_aliases;
};

const char *xarch_transport_name(enum xarch_transport t) {
        switch (t) {
        case XARCH_TRANSPORT_REGISTRY:
                return "registry";
        case XARCH_TRANSPORT_OCI:
                return "oci";
        case XARCH_TRANSPORT_OCI_ARCHIVE:
                return "oci-archive";
        case XARCH_TRANSPORT_DOCKER_ARCHIVE:
                return "docker-archive";
        }
        return "unknown";
}

static char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int xarch_image_context_new(const struct xarch_image_options *opts,
                struct xarch_image_context **ret, struct xarch_error **err) {
        struct xarch_image_context *ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (opts)
                ctx->opts = *opts;
        ctx->ca_file = strdup_or_null(ctx->opts.ca_file);
        ctx->auth_file = strdup_or_null(ctx->opts.auth_file);
        ctx->cache_dir = strdup_or_null(ctx->opts.cache_dir);
        ctx->opts.ca_file = ctx->ca_file;
        ctx->opts.auth_file = ctx->auth_file;
        ctx->opts.cache_dir = ctx->cache_dir;
        pthread_mutex_init(&ctx->lock, NULL);
        *ret = ctx;
        return 0;
}

void xarch_image_context_free(struct xarch_image_context *ctx) {
        if (!ctx)
                return;
        xarch_registry_free(ctx->registry);
        pthread_mutex_destroy(&ctx->lock);
        free(ctx->ca_file);
        free(ctx->auth_file);
        free(ctx->cache_dir);
        free(ctx);
}

struct xarch_registry *xarch_image_context_registry(
                struct xarch_image_context *ctx, struct xarch_error **err) {
        pthread_mutex_lock(&ctx->lock);
        if (!ctx->registry) {
                struct xarch_registry_options ro = {
                                .ca_file = ctx->opts.ca_file,
                                .insecure = ctx->opts.insecure,
                                .auth_file = ctx->opts.auth_file,
                                .cache_dir = ctx->opts.no_cache ? "" : ctx->opts.cache_dir,
                                .max_per_registry = ctx->opts.max_per_registry,
                };
                (void) xarch_registry_new(&ro, &ctx->registry, err);
        }
        struct xarch_registry *r = ctx->registry;
        pthread_mutex_unlock(&ctx->lock);
        return r;
}

/* ---- spec parsing ---- */

static bool has_prefix(const char *s, const char *prefix, const char **rest) {
        size_t n = strlen(prefix);
        if (strncmp(s, prefix, n) != 0)
                return false;
        *rest = s + n;
        return true;
}

int image_spec_split(const char *spec, enum xarch_transport *ret_transport, char **ret_path,
                char **ret_tag, struct xarch_error **err) {
        const char *rest;
        enum xarch_transport t;

        if (has_prefix(spec, "oci:", &rest))
                t = XARCH_TRANSPORT_OCI;
        else if (has_prefix(spec, "oci-archive:", &rest))
                t = XARCH_TRANSPORT_OCI_ARCHIVE;
        else if (has_prefix(spec, "docker-archive:", &rest))
                t = XARCH_TRANSPORT_DOCKER_ARCHIVE;
        else {
                if (!has_prefix(spec, "docker://", &rest))
                        rest = spec;
                if (!rest[0])
                        return xarch_error_set(err, EINVAL, "empty image reference");
                *ret_transport = XARCH_TRANSPORT_REGISTRY;
                *ret_path = strdup(rest);
                *ret_tag = NULL;
                return *ret_path ? 0 : xarch_error_set(err, ENOMEM, "out of memory");
        }
        const char *colon = strchr(rest, ':');
        size_t path_len = colon ? (size_t) (colon - rest) : strlen(rest);
        if (path_len == 0)
                return xarch_error_set(err, EINVAL, "'%s' names no %s", spec,
                                t == XARCH_TRANSPORT_OCI ? "directory" : "file");
        if (colon && !colon[1])
                return xarch_error_set(err, EINVAL, "'%s' has an empty tag", spec);
        if (path_len >= PATH_MAX)
                return xarch_error_set(err, ENAMETOOLONG, "path in '%.40s...' is too long", spec);
        char *path = strndup(rest, path_len);
        char *tag = colon ? strdup(colon + 1) : NULL;
        if (!path || (colon && !tag)) {
                free(path);
                free(tag);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        *ret_transport = t;
        *ret_path = path;
        *ret_tag = tag;
        return 0;
}

bool image_archive_path_normalize(const char *in, char *out, size_t size) {
        size_t o = 0;
        const char *p = in;
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
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                if (o + (o ? 1 : 0) + n + 1 > size)
                        return false;
                if (o)
                        out[o++] = '/';
                memcpy(out + o, p, n);
                o += n;
                p += n;
        }
        if (o == 0)
                return false;
        out[o] = '\0';
        return true;
}

/* ---- reading local content ---- */

/* Reads [offset, offset+size) of fd through sink, hashing it; verifies against digest. */
static int read_verified(int fd, uint64_t offset, uint64_t size, const char *digest,
                xarch_sink_fn sink, void *userdata, const char *what, struct xarch_error **err) {
        struct xarch_digester *d = NULL;
        _cleanup_free_ uint8_t *buf = malloc(READ_CHUNK);
        int r;

        if (!buf)
                return xarch_error_set(err, ENOMEM, "out of memory");
        r = xarch_digester_new(digest, &d);
        if (r < 0)
                return xarch_error_set(err, -r, "cannot hash %s (%s)", what, digest);
        uint64_t done = 0;
        while (done < size) {
                size_t want = size - done < READ_CHUNK ? (size_t) (size - done) : READ_CHUNK;
                ssize_t n = pread(fd, buf, want, (off_t) (offset + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = xarch_error_set(err, errno, "read %s: %m", what);
                        goto out;
                }
                if (n == 0) {
                        r = xarch_error_set(err, EBADMSG, "%s is truncated", what);
                        goto out;
                }
                xarch_digester_update(d, buf, (size_t) n);
                if (sink) {
                        r = sink(userdata, buf, (size_t) n);
                        if (r < 0)
                                goto out;
                }
                done += (uint64_t) n;
        }
        char actual[XARCH_DIGEST_MAX];
        r = xarch_digester_final(d, actual);
        if (r < 0) {
                r = xarch_error_set(err, EIO, "cannot hash %s", what);
                goto out;
        }
        if (!streq(actual, digest)) {
                r = xarch_error_set(err, EBADMSG, "digest mismatch for %s: expected %s, got %s",
                                what, digest, actual);
                goto out;
        }
        r = 0;
out:
        xarch_digester_free(d);
        return r;
}

static const struct archive_member *find_member(const struct xarch_image *img, const char *path) {
        size_t lo = 0, hi = img->n_members;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(path, img->members[mid].path);
                if (c == 0)
                        return &img->members[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* Locates a blob of a local source: fd + offset + size. For directories *ret_fd is a fresh fd
 * the caller closes; for archives it is the shared archive fd (*owned = false). */
static int locate_blob(struct xarch_image *img, const char *digest, int *ret_fd, bool *owned,
                uint64_t *ret_offset, uint64_t *ret_size, struct xarch_error **err) {
        char path[XARCH_DIGEST_MAX + 16];

        if (!xarch_digest_valid(digest))
                return xarch_error_set(err, EINVAL, "invalid digest '%.80s'", digest);
        /* "sha256:abc" -> "blobs/sha256/abc"; the digest syntax was checked, so no '/' or '..' */
        const char *colon = strchr(digest, ':');
        snprintf(path, sizeof(path), "blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1);

        if (img->transport == XARCH_TRANSPORT_OCI) {
                /* O_NONBLOCK: a FIFO planted in the layout must not block the open; the
                 * S_ISREG check below then rejects it (reads of regular files ignore it) */
                int fd = openat(img->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return xarch_error_set(err, errno == ENOENT ? ENOENT : errno,
                                        "blob %s not found in %s: %m", digest, img->name);
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        close(fd);
                        return xarch_error_set(err, EBADMSG, "blob %s in %s is not a regular file",
                                        digest, img->name);
                }
                *ret_fd = fd;
                *owned = true;
                *ret_offset = 0;
                *ret_size = (uint64_t) st.st_size;
                return 0;
        }
        const struct archive_member *m = NULL;
        for (size_t i = 0; i < img->n_aliases && !m; i++)
                if (streq(img->aliases[i].digest, digest))
                        m = img->aliases[i].member;
        if (!m)
                m = find_member(img, path);
        if (!m)
                return xarch_error_set(err, ENOENT, "blob %s not found in %s", digest, img->name);
        *ret_fd = img->fd;
        *owned = false;
        *ret_offset = m->offset;
        *ret_size = m->size;
        return 0;
}

static int local_get_blob(struct xarch_image *img, const char *digest, uint64_t max_size,
                xarch_sink_fn sink, void *userdata, struct xarch_error **err) {
        int fd = -1;
        bool owned = false;
        uint64_t offset = 0, size = 0;
        char what[XARCH_DIGEST_MAX + 8];

        int r = locate_blob(img, digest, &fd, &owned, &offset, &size, err);
        if (r < 0)
                return r;
        if (max_size && size > max_size)
                r = xarch_error_set(err, EFBIG,
                                "blob %s is %" PRIu64 " bytes, over the limit of %" PRIu64, digest,
                                size, max_size);
        else {
                snprintf(what, sizeof(what), "blob %s", digest);
                r = read_verified(fd, offset, size, digest, sink, userdata, what, err);
        }
        if (owned)
                close(fd);
        return r;
}

static int local_get_blob_buf(struct xarch_image *img, const char *digest, uint64_t max_size,
                struct xarch_blob_buf *ret, struct xarch_error **err) {
        struct membuf m = {.max = max_size};
        int r = local_get_blob(img, digest, max_size, membuf_append, &m, err);
        if (r == -EFBIG)
                r = xarch_error_set(err, EFBIG, "blob %s exceeds the limit of %" PRIu64 " bytes",
                                digest, max_size);
        if (r < 0) {
                free(m.data);
                return r;
        }
        if (!m.data && !(m.data = calloc(1, 1)))
                return xarch_error_set(err, ENOMEM, "out of memory");
        *ret = (struct xarch_blob_buf){.data = m.data, .len = m.len};
        snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
        return 0;
}

/* Reads a whole small file of a local source (index.json, manifest.json, ...) unverified. */
static int read_local_file(struct xarch_image *img, const char *path, size_t max, char **ret,
                size_t *ret_len, struct xarch_error **err) {
        _cleanup_close_ int own_fd = -1;
        int fd;
        uint64_t offset = 0, size;

        if (img->transport == XARCH_TRANSPORT_OCI) {
                own_fd = openat(img->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (own_fd < 0)
                        return xarch_error_set(
                                        err, errno, "%s: cannot open %s: %m", img->name, path);
                struct stat st;
                if (fstat(own_fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return xarch_error_set(err, EBADMSG, "%s: %s is not a regular file",
                                        img->name, path);
                fd = own_fd;
                size = (uint64_t) st.st_size;
        } else {
                const struct archive_member *m = find_member(img, path);
                if (!m)
                        return xarch_error_set(
                                        err, ENOENT, "%s: the archive has no %s", img->name, path);
                fd = img->fd;
                offset = m->offset;
                size = m->size;
        }
        if (size > max)
                return xarch_error_set(err, EFBIG, "%s: %s is larger than %zu bytes", img->name,
                                path, max);
        char *buf = malloc(size + 1);
        if (!buf)
                return xarch_error_set(err, ENOMEM, "out of memory");
        size_t done = 0;
        while (done < size) {
                ssize_t n = pread(fd, buf + done, size - done, (off_t) (offset + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        free(buf);
                        return xarch_error_set(err, n < 0 ? errno : EBADMSG, "%s: cannot read %s",
                                        img->name, path);
                }
                done += (size_t) n;
        }
        buf[size] = '\0';
        *ret = buf;
        *ret_len = size;
        return 0;
}

/* ---- archives ---- */

struct index_state {
        struct xarch_image *img;
        size_t cap;
        int error;
};

static int index_on_entry(const struct tar_entry *e, void *userdata) {
        struct index_state *s = userdata;
        struct xarch_image *img = s->img;
        char norm[4096];

        if (e->type != TAR_FILE && e->type != TAR_CONTIGUOUS)
                return 0;
        if (!image_archive_path_normalize(e->path, norm, sizeof(norm)))
                return 0; /* unusable names cannot be blobs we look up */
        if (img->n_members >= IMAGE_ARCHIVE_ENTRIES_MAX)
                return s->error = -EFBIG;
        if (img->n_members == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                struct archive_member *m = realloc(img->members, cap * sizeof(*m));
                if (!m)
                        return s->error = -ENOMEM;
                img->members = m;
                s->cap = cap;
        }
        char *p = strdup(norm);
        if (!p)
                return s->error = -ENOMEM;
        img->members[img->n_members++] = (struct archive_member){
                        .path = p,
                        .offset = e->data_offset,
                        .size = e->size,
        };
        return 0;
}

static int member_cmp(const void *a, const void *b) {
        const struct archive_member *x = a, *y = b;
        int c = strcmp(x->path, y->path);
        if (c)
                return c;
        /* for duplicates the later entry wins (tar semantics): sort it first */
        return x->offset > y->offset ? -1 : (x->offset < y->offset);
}

/* Scans the archive once, recording where every regular file's data lies; data is seeked
 * over, never read, so a multi-GB archive costs a few reads per member. */
static int index_archive(struct xarch_image *img, struct xarch_error **err) {
        struct tar_callbacks cb = {.on_entry = index_on_entry};
        struct index_state s = {.img = img};
        struct tar_reader *tr = NULL;
        _cleanup_free_ uint8_t *buf = malloc(READ_CHUNK);
        uint64_t pos = 0;
        int r;

        if (!buf || tar_reader_new(&cb, &s, &tr) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        /* `docker save | gzip` (or zstd, xz, bzip2) is common; say so rather than "checksum
         * mismatch" */
        static const struct {
                const char *magic, *name, *tool;
                size_t len;
        } compressed[] = {
                        {"\x1f\x8b", "gzip", "gunzip", 2},
                        {"\x28\xb5\x2f\xfd", "zstd", "zstd -d", 4},
                        {"\xfd"
                         "7zXZ",
                                        "xz", "xz -d", 5},
                        {"BZh", "bzip2", "bunzip2", 3},
        };
        if (pread(img->fd, buf, 8, 0) == 8)
                for (size_t i = 0; i < ELEMENTSOF(compressed); i++)
                        if (memcmp(buf, compressed[i].magic, compressed[i].len) == 0) {
                                tar_reader_free(tr);
                                return xarch_error_set(err, EMEDIUMTYPE,
                                                "%s is %s-compressed; decompress it first (%s)",
                                                img->name, compressed[i].name, compressed[i].tool);
                        }
        for (;;) {
                uint64_t skip = tar_reader_skippable(tr);
                if (skip > 0) {
                        pos += skip;
                        r = tar_reader_skip(tr, skip, err);
                        if (r < 0)
                                goto out;
                }
                /* while between members, read just a header block so little data is read */
                ssize_t n = pread(img->fd, buf, READ_CHUNK, (off_t) pos);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = xarch_error_set(err, errno, "read %s: %m", img->name);
                        goto out;
                }
                if (n == 0)
                        break;
                pos += (uint64_t) n;
                r = tar_reader_feed(tr, buf, (size_t) n, err);
                if (r < 0) {
                        if (s.error == -EFBIG)
                                r = xarch_error_set(err, EFBIG, "%s has more than %d files",
                                                img->name, IMAGE_ARCHIVE_ENTRIES_MAX);
                        else if (s.error == -ENOMEM)
                                r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto out;
                }
                if (tar_reader_done(tr))
                        break;
        }
        r = tar_reader_finish(tr, err);
        if (r < 0)
                goto out;
        if (img->n_members > 0)
                qsort(img->members, img->n_members, sizeof(*img->members), member_cmp);
        /* keep only the last of duplicate paths (sorted first) */
        size_t w = 0;
        for (size_t i = 0; i < img->n_members; i++) {
                if (w > 0 && streq(img->members[w - 1].path, img->members[i].path)) {
                        free(img->members[i].path);
                        continue;
                }
                img->members[w++] = img->members[i];
        }
        img->n_members = w;
        r = 0;
out:
        tar_reader_free(tr);
        if (r < 0)
                xarch_error_wrap(err, "%s", img->name);
        return r;
}

/* ---- OCI layouts ---- */

static int check_oci_layout(struct xarch_image *img, struct xarch_error **err) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        json_error_t jerr;

        int r = read_local_file(img, "oci-layout", 64 * 1024, &data, &len, err);
        if (r < 0)
                return xarch_error_wrap(err, "not an OCI image layout");
        json_t *j = json_loadb(data, len, 0, &jerr);
        const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
        r = v ? 0
              : xarch_error_set(err, EBADMSG, "%s: oci-layout has no imageLayoutVersion",
                                img->name);
        if (v && strncmp(v, "1.", 2) != 0)
                r = xarch_error_set(err, EPROTONOSUPPORT, "%s: unsupported OCI layout version %s",
                                img->name, v);
        json_decref(j);
        return r;
}

/* Picks the root descriptor from index.json: the one whose ref.name is the tag, or the only
 * one. */
static int resolve_oci_root(struct xarch_image *img, const char *tag, struct xarch_error **err) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        struct xarch_manifest *index = NULL;
        int r;

        r = check_oci_layout(img, err);
        if (r < 0)
                return r;
        r = read_local_file(img, "index.json", XARCH_MANIFEST_MAX, &data, &len, err);
        if (r < 0)
                return r;
        r = xarch_manifest_parse(data, len, XARCH_MEDIA_OCI_INDEX, &index, err);
        if (r < 0)
                return xarch_error_wrap(err, "%s: index.json", img->name);
        if (index->kind != XARCH_MANIFEST_INDEX) {
                xarch_manifest_free(index);
                return xarch_error_set(err, EBADMSG, "%s: index.json is not an index", img->name);
        }

        const struct xarch_descriptor *pick = NULL;
        if (tag) {
                for (size_t i = 0; i < index->n_manifests && !pick; i++)
                        if (index->manifests[i].ref_name &&
                                        streq(index->manifests[i].ref_name, tag))
                                pick = &index->manifests[i];
        } else if (index->n_manifests == 1)
                pick = &index->manifests[0];

        if (!pick) {
                char tags[512] = "";
                size_t o = 0;
                for (size_t i = 0; i < index->n_manifests; i++) {
                        const char *t = index->manifests[i].ref_name;
                        if (t && o < sizeof(tags))
                                o += (size_t) snprintf(tags + o, sizeof(tags) - o, "%s%s",
                                                o ? ", " : "", t);
                }
                if (tag)
                        r = xarch_error_set(err, ENOENT, "%s: no image tagged '%s' (tags: %s)",
                                        img->name, tag, o ? tags : "none");
                else if (index->n_manifests == 0)
                        r = xarch_error_set(
                                        err, ENOENT, "%s: the layout holds no image", img->name);
                else
                        r = xarch_error_set(err, EINVAL,
                                        "%s holds %zu images; name one with :TAG (tags: %s)",
                                        img->name, index->n_manifests, o ? tags : "none");
                xarch_manifest_free(index);
                return r;
        }
        snprintf(img->root_digest, sizeof(img->root_digest), "%s", pick->digest);
        img->root_media_type = strdup(pick->media_type);
        img->root_size = pick->size;
        xarch_manifest_free(index);
        if (!img->root_media_type)
                return xarch_error_set(err, ENOMEM, "out of memory");
        return 0;
}

/* ---- docker-archive ---- */

static bool tag_matches(const char *want, const char *have) {
        if (streq(want, have))
                return true;
        struct xarch_ref a, b;
        if (xarch_ref_parse(want, &a, NULL) < 0 || xarch_ref_parse(have, &b, NULL) < 0)
                return false;
        return streq(a.registry, b.registry) && streq(a.repository, b.repository) &&
               streq(a.tag, b.tag);
}

static int add_alias(struct xarch_image *img, const char *digest, const struct archive_member *m) {
        struct alias *a = realloc(img->aliases, (img->n_aliases + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        img->aliases = a;
        snprintf(a[img->n_aliases].digest, XARCH_DIGEST_MAX, "%s", digest);
        a[img->n_aliases].member = m;
        img->n_aliases++;
        return 0;
}

static const struct archive_member *find_member_normalized(
                const struct xarch_image *img, const char *path) {
        char norm[4096];
        if (!image_archive_path_normalize(path, norm, sizeof(norm)))
                return NULL;
        return find_member(img, norm);
}

/* Builds the Docker v2 manifest that `docker push` / `skopeo copy` would make from a legacy
 * manifest.json entry: config by its digest, layers (uncompressed tars) by their diff IDs. */
static int resolve_docker_archive(
                struct xarch_image *img, const char *tag, struct xarch_error **err) {
        _cleanup_free_ char *data = NULL;
        _cleanup_free_ char *config = NULL;
        size_t len, config_len;
        json_error_t jerr;
        json_t *j = NULL, *pick = NULL, *out = NULL;
        struct xarch_image_config *cfg = NULL;
        char config_digest[XARCH_DIGEST_MAX];
        int r;

        r = read_local_file(img, "manifest.json", XARCH_MANIFEST_MAX, &data, &len, err);
        if (r < 0)
                return r;
        j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_array(j)) {
                r = xarch_error_set(err, EBADMSG, "%s: malformed manifest.json: %s", img->name,
                                j ? "not an array" : jerr.text);
                goto out;
        }
        size_t n = json_array_size(j);
        if (tag && tag[0] == '@') {
                char *end;
                errno = 0;
                unsigned long idx = strtoul(tag + 1, &end, 10);
                if (errno || end == tag + 1 || *end || idx >= n) {
                        r = xarch_error_set(err, ENOENT, "%s: no image at index %s (it holds %zu)",
                                        img->name, tag + 1, n);
                        goto out;
                }
                pick = json_array_get(j, idx);
        } else if (tag) {
                for (size_t i = 0; i < n && !pick; i++) {
                        json_t *tags = json_object_get(json_array_get(j, i), "RepoTags");
                        for (size_t k = 0; k < json_array_size(tags) && !pick; k++) {
                                const char *t = json_string_value(json_array_get(tags, k));
                                if (t && tag_matches(tag, t))
                                        pick = json_array_get(j, i);
                        }
                }
                if (!pick) {
                        r = xarch_error_set(
                                        err, ENOENT, "%s: no image tagged '%s'", img->name, tag);
                        goto out;
                }
        } else if (n == 1)
                pick = json_array_get(j, 0);
        else {
                r = xarch_error_set(err, n ? EINVAL : ENOENT,
                                n ? "%s holds %zu images; name one with :NAME:TAG or :@N"
                                  : "%s holds no image (%zu)",
                                img->name, n);
                goto out;
        }

        const char *config_path = json_string_value(json_object_get(pick, "Config"));
        json_t *layers = json_object_get(pick, "Layers");
        if (!config_path || !json_is_array(layers)) {
                r = xarch_error_set(err, EBADMSG, "%s: manifest.json entry lacks Config or Layers",
                                img->name);
                goto out;
        }
        if (json_array_size(layers) > XARCH_DESCRIPTORS_MAX) {
                r = xarch_error_set(err, EFBIG, "%s: too many layers", img->name);
                goto out;
        }
        const struct archive_member *cm = find_member_normalized(img, config_path);
        if (!cm) {
                r = xarch_error_set(err, ENOENT, "%s: config %.200s is missing", img->name,
                                config_path);
                goto out;
        }
        r = read_local_file(img, cm->path, XARCH_CONFIG_MAX, &config, &config_len, err);
        if (r < 0)
                goto out;
        r = xarch_digest_buffer("sha256", config, config_len, config_digest);
        if (r < 0) {
                r = xarch_error_set(err, EIO, "cannot hash the config");
                goto out;
        }
        r = xarch_image_config_parse(config, config_len, &cfg, err);
        if (r < 0) {
                xarch_error_wrap(err, "%s", img->name);
                goto out;
        }
        if (add_alias(img, config_digest, cm) < 0) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        out = json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:[]}", "schemaVersion", 2, "mediaType",
                        XARCH_MEDIA_DOCKER_MANIFEST, "config", "mediaType",
                        XARCH_MEDIA_DOCKER_CONFIG, "size", (json_int_t) config_len, "digest",
                        config_digest, "layers");
        if (!out) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        json_t *out_layers = json_object_get(out, "layers");
        for (size_t i = 0; i < json_array_size(layers); i++) {
                const char *lp = json_string_value(json_array_get(layers, i));
                const struct archive_member *lm = lp ? find_member_normalized(img, lp) : NULL;
                if (!lm) {
                        r = xarch_error_set(err, ENOENT, "%s: layer %zu (%.200s) is missing",
                                        img->name, i, lp ? lp : "?");
                        goto out;
                }
                char digest[XARCH_DIGEST_MAX];
                const char *hex;
                if (strncmp(lm->path, "blobs/sha256/", 13) == 0 &&
                                (snprintf(digest, sizeof(digest), "sha256:%s", lm->path + 13),
                                                true) &&
                                xarch_digest_valid(digest))
                        hex = digest;
                else if (i < cfg->n_diff_ids)
                        hex = cfg->diff_ids[i];
                else {
                        r = xarch_error_set(err, EBADMSG,
                                        "%s: layer %zu has no diff ID in the config", img->name, i);
                        goto out;
                }
                /* docker save writes uncompressed layers; newer saves may keep them gzipped */
                uint8_t magic[2] = {0, 0};
                bool gz = lm->size >= 2 && pread(img->fd, magic, 2, (off_t) lm->offset) == 2 &&
                          magic[0] == 0x1f && magic[1] == 0x8b;
                json_t *desc = json_pack("{s:s, s:I, s:s}", "mediaType",
                                gz ? XARCH_MEDIA_DOCKER_LAYER ".gzip" : XARCH_MEDIA_DOCKER_LAYER,
                                "size", (json_int_t) lm->size, "digest", hex);
                if (!desc || json_array_append_new(out_layers, desc) < 0 ||
                                add_alias(img, hex, lm) < 0) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto out;
                }
        }
        img->synth = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        img->root_media_type = strdup(XARCH_MEDIA_DOCKER_MANIFEST);
        if (!img->synth || !img->root_media_type) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        img->synth_len = strlen(img->synth);
        img->root_size = img->synth_len;
        r = xarch_digest_buffer("sha256", img->synth, img->synth_len, img->root_digest);
        if (r < 0)
                r = xarch_error_set(err, EIO, "cannot hash the manifest");
out:
        json_decref(j);
        json_decref(out);
        xarch_image_config_free(cfg);
        return r;
}

/* ---- open ---- */

void xarch_image_free(struct xarch_image *img) {
        if (!img)
                return;
        if (img->dirfd >= 0)
                close(img->dirfd);
        if (img->fd >= 0)
                close(img->fd);
        for (size_t i = 0; i < img->n_members; i++)
                free(img->members[i].path);
        free(img->members);
        for (struct fetched *f = img->fetched, *next; f; f = next) {
                next = f->next;
                xarch_blob_buf_release(&f->buf);
                free(f->msg);
                free(f);
        }
        pthread_cond_destroy(&img->fetched_done);
        pthread_mutex_destroy(&img->fetched_lock);
        free(img->aliases);
        free(img->synth);
        free(img->root_media_type);
        free(img->name);
        free(img);
}

int xarch_image_open(struct xarch_image_context *ctx, const char *spec, struct xarch_image **ret,
                struct xarch_error **err) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *tag = NULL;
        _cleanup_free_ char *abs = NULL;
        enum xarch_transport t;
        int r;

        r = image_spec_split(spec, &t, &path, &tag, err);
        if (r < 0)
                return r;
        struct xarch_image *img = calloc(1, sizeof(*img));
        if (!img)
                return xarch_error_set(err, ENOMEM, "out of memory");
        img->ctx = ctx;
        img->transport = t;
        img->dirfd = img->fd = -1;
        pthread_mutex_init(&img->fetched_lock, NULL);
        pthread_cond_init(&img->fetched_done, NULL);

        if (t == XARCH_TRANSPORT_REGISTRY) {
                char name[XARCH_REF_STRING_MAX];
                r = xarch_ref_parse(path, &img->ref, err);
                if (r >= 0 && xarch_ref_format(&img->ref, name, sizeof(name)) >= 0)
                        img->name = strdup(name);
                if (r >= 0 && !img->name)
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                goto done;
        }

        abs = realpath(path, NULL);
        if (!abs) {
                r = xarch_error_set(err, errno, "%s:%s: %m", xarch_transport_name(t), path);
                goto done;
        }
        if (asprintf(&img->name, "%s:%s%s%s", xarch_transport_name(t), abs, tag ? ":" : "",
                            tag ? tag : "") < 0) {
                img->name = NULL;
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto done;
        }
        if (t == XARCH_TRANSPORT_OCI) {
                img->dirfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (img->dirfd < 0) {
                        r = xarch_error_set(err, errno, "%s: %m", img->name);
                        goto done;
                }
                r = resolve_oci_root(img, tag, err);
                goto done;
        }
        img->fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (img->fd < 0 || fstat(img->fd, &st) < 0) {
                r = xarch_error_set(err, errno, "%s: %m", img->name);
                goto done;
        }
        if (!S_ISREG(st.st_mode)) {
                r = xarch_error_set(err, EINVAL, "%s: not a regular file", img->name);
                goto done;
        }
        r = index_archive(img, err);
        if (r < 0)
                goto done;
        if (t == XARCH_TRANSPORT_OCI_ARCHIVE)
                r = resolve_oci_root(img, tag, err);
        else
                r = resolve_docker_archive(img, tag, err);
done:
        if (r < 0) {
                xarch_image_free(img);
                return r;
        }
        *ret = img;
        return 0;
}

enum xarch_transport xarch_image_transport(const struct xarch_image *img) {
        return img->transport;
}

const char *xarch_image_name(const struct xarch_image *img) {
        return img->name;
}

/* ---- reads ---- */

static struct xarch_registry *registry(struct xarch_image *img, struct xarch_error **err) {
        return xarch_image_context_registry(img->ctx, err);
}

bool image_blob_at_hand(struct xarch_image *img, const char *digest) {
        if (img->transport != XARCH_TRANSPORT_REGISTRY)
                return true;
        if (img->ctx->opts.no_cache)
                return false;
        struct xarch_registry *reg = registry(img, NULL);
        return reg && registry_cache_has(reg, digest);
}

int xarch_image_get_root(struct xarch_image *img, struct xarch_blob_buf *ret, bool *synthesized,
                struct xarch_error **err) {
        int r;
        if (synthesized)
                *synthesized = false;
        if (img->transport == XARCH_TRANSPORT_REGISTRY) {
                struct xarch_registry *reg = registry(img, err);
                if (!reg)
                        return -EIO;
                if (img->ref.digest[0] || img->ctx->opts.no_cache)
                        return xarch_registry_get_manifest(reg, &img->ref, NULL, ret, err);
                /* Resolve the tag with HEAD (free on Docker Hub's pull limits), then read by
                 * digest, which the cache serves when this manifest was seen before. */
                char digest[XARCH_DIGEST_MAX], media_type[256] = "";
                r = xarch_registry_resolve(reg, &img->ref, digest, media_type, err);
                if (r < 0)
                        return r;
                struct xarch_error *by_digest_err = NULL;
                r = xarch_registry_get_manifest(reg, &img->ref, digest, ret, &by_digest_err);
                if (r == -ENOENT) {
                        /* the registry does not know the digest it named for the tag (a wrong
                         * Docker-Content-Digest, or the tag moved): a GET by tag says which */
                        xarch_error_free(by_digest_err);
                        by_digest_err = NULL;
                        r = xarch_registry_get_manifest(reg, &img->ref, NULL, ret, &by_digest_err);
                }
                if (r < 0) {
                        if (err && !*err)
                                *err = by_digest_err;
                        else
                                xarch_error_free(by_digest_err);
                        return r;
                }
                xarch_error_free(by_digest_err);
                if (!ret->media_type[0])
                        snprintf(ret->media_type, sizeof(ret->media_type), "%s", media_type);
                return r;
        }
        if (img->synth) {
                char *copy = strndup(img->synth, img->synth_len);
                if (!copy)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                *ret = (struct xarch_blob_buf){.data = copy, .len = img->synth_len};
                snprintf(ret->digest, sizeof(ret->digest), "%s", img->root_digest);
                snprintf(ret->media_type, sizeof(ret->media_type), "%s", img->root_media_type);
                if (synthesized)
                        *synthesized = true;
                return 0;
        }
        if (img->root_size > XARCH_MANIFEST_MAX)
                return xarch_error_set(err, EFBIG,
                                "%s: manifest of %" PRIu64 " bytes exceeds the "
                                "limit",
                                img->name, img->root_size);
        r = local_get_blob_buf(img, img->root_digest, XARCH_MANIFEST_MAX, ret, err);
        if (r < 0)
                return r;
        if (ret->len != img->root_size) {
                xarch_blob_buf_release(ret);
                return xarch_error_set(err, EBADMSG,
                                "%s: manifest size %" PRIu64 " does not match "
                                "its descriptor",
                                img->name, img->root_size);
        }
        snprintf(ret->media_type, sizeof(ret->media_type), "%s", img->root_media_type);
        return 0;
}

/* Copies a remembered fetch into ret / err. */
static int fetched_copy(
                const struct fetched *f, struct xarch_blob_buf *ret, struct xarch_error **err) {
        if (f->rc < 0)
                return xarch_error_set(err, -f->rc, "%s", f->msg ? f->msg : "fetch failed");
        *ret = f->buf;
        ret->data = malloc(f->buf.len + 1);
        if (!ret->data)
                return xarch_error_set(err, ENOMEM, "out of memory");
        memcpy(ret->data, f->buf.data, f->buf.len + 1);
        return 0;
}

/* A child manifest from the registry, fetched once per image however often it is asked for. */
static int registry_child_manifest(struct xarch_image *img, const char *digest,
                struct xarch_blob_buf *ret, struct xarch_error **err) {
        struct xarch_registry *reg = registry(img, err);
        if (!reg)
                return -EIO;
        pthread_mutex_lock(&img->fetched_lock);
        struct fetched *f;
        for (f = img->fetched; f; f = f->next)
                if (streq(f->digest, digest))
                        break;
        if (f) {
                while (!f->done)
                        pthread_cond_wait(&img->fetched_done, &img->fetched_lock);
                pthread_mutex_unlock(&img->fetched_lock);
                return fetched_copy(f, ret, err);
        }
        bool remember = img->fetched_bytes < FETCHED_BYTES_MAX && (f = calloc(1, sizeof(*f)));
        if (remember) {
                snprintf(f->digest, sizeof(f->digest), "%s", digest);
                f->next = img->fetched;
                img->fetched = f;
        }
        pthread_mutex_unlock(&img->fetched_lock);

        struct xarch_error *e = NULL;
        int r = xarch_registry_get_manifest(reg, &img->ref, digest, ret, &e);
        if (remember) {
                pthread_mutex_lock(&img->fetched_lock);
                f->rc = r;
                if (r < 0) {
                        f->msg = e && e->msg ? strdup(e->msg) : NULL;
                } else {
                        f->buf = *ret;
                        f->buf.data = malloc(ret->len + 1);
                        if (f->buf.data) {
                                memcpy(f->buf.data, ret->data, ret->len + 1);
                                img->fetched_bytes += ret->len;
                        } else {
                                f->buf = (struct xarch_blob_buf){};
                                f->rc = -ENOMEM;
                                f->msg = strdup("out of memory");
                        }
                }
                f->done = true;
                pthread_cond_broadcast(&img->fetched_done);
                pthread_mutex_unlock(&img->fetched_lock);
        }
        if (r < 0) {
                if (err && !*err)
                        *err = e;
                else
                        xarch_error_free(e);
        }
        return r;
}

int xarch_image_get_manifest(struct xarch_image *img, const char *digest, const char *media_type,
                struct xarch_blob_buf *ret, struct xarch_error **err) {
        int r;
        if (img->transport == XARCH_TRANSPORT_REGISTRY)
                r = registry_child_manifest(img, digest, ret, err);
        else if (img->synth && streq(digest, img->root_digest))
                r = xarch_image_get_root(img, ret, NULL, err);
        else
                r = local_get_blob_buf(img, digest, XARCH_MANIFEST_MAX, ret, err);
        if (r >= 0 && !ret->media_type[0] && media_type)
                snprintf(ret->media_type, sizeof(ret->media_type), "%s", media_type);
        return r;
}

int xarch_image_get_blob_buf(struct xarch_image *img, const char *digest, uint64_t max_size,
                struct xarch_blob_buf *ret, struct xarch_error **err) {
        if (max_size == 0)
                max_size = XARCH_CONFIG_MAX;
        if (img->transport == XARCH_TRANSPORT_REGISTRY) {
                struct xarch_registry *reg = registry(img, err);
                if (!reg)
                        return -EIO;
                return xarch_registry_get_blob_buf(reg, &img->ref, digest, max_size, ret, err);
        }
        return local_get_blob_buf(img, digest, max_size, ret, err);
}

int xarch_image_get_blob(struct xarch_image *img, const char *digest, uint64_t max_size,
                xarch_sink_fn sink, void *userdata, struct xarch_error **err) {
        if (img->transport == XARCH_TRANSPORT_REGISTRY) {
                struct xarch_registry *reg = registry(img, err);
                if (!reg)
                        return -EIO;
                return xarch_registry_get_blob(
                                reg, &img->ref, digest, max_size, sink, userdata, err);
        }
        return local_get_blob(img, digest, max_size, sink, userdata, err);
}
