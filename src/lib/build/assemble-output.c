/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xarch/digest.h"
#include "macro.h"
#include "build/assemble.h"
#include "build/tarwriter.h"
#include "image/image.h"

#define COPY_CHUNK (256u * 1024)
#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"

struct out_store {
        enum out_kind kind;
        char *name;   /* canonical destination name */
        char *path;   /* the destination path (directory or archive file) */
        char *tag;    /* NULL when none */
        char *root;   /* the layout directory blobs go into */
        bool staging; /* root is a temp directory (removed or renamed at the end) */
        bool finished;
        int blobs_fd;
        int64_t epoch;
        char temp_name[64]; /* the blob temp file in flight */
};

enum out_kind out_store_kind(const struct out_store *s) {
        return s->kind;
}

const char *out_store_name(const struct out_store *s) {
        return s->name;
}

static void remove_tree(const char *path) {
        DIR *d = opendir(path);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        char child[PATH_MAX];
                        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
                        struct stat st;
                        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                                remove_tree(child);
                        else
                                unlink(child);
                }
                closedir(d);
        }
        rmdir(path);
}

void out_store_free(struct out_store *s) {
        if (!s)
                return;
        if (s->blobs_fd >= 0) {
                if (s->temp_name[0])
                        unlinkat(s->blobs_fd, s->temp_name, 0);
                close(s->blobs_fd);
        }
        if (s->staging && s->root)
                remove_tree(s->root);
        free(s->name);
        free(s->path);
        free(s->tag);
        free(s->root);
        free(s);
}

static int mkdir_p_at(const char *root, const char *rel) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                struct xarch_error **err) {
        char tmp[PATH_MAX], final[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s/.%s.xarch-XXXXXX", dir, name);
        snprintf(final, sizeof(final), "%s/%s", dir, name);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return xarch_error_set(err, errno, "%s: %s", tmp, strerror(errno));
        const char *p = data;
        size_t left = len;
        while (left) {
                ssize_t n = write(fd, p, left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        unlink(tmp);
                        return xarch_error_set(err, e, "%s: %s", final, strerror(e));
                }
                p += n;
                left -= (size_t) n;
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, final) < 0) {
                int e = errno;
                unlink(tmp);
                return xarch_error_set(err, e, "%s: %s", final, strerror(e));
        }
        return 0;
}

int out_store_open(
                const char *dest, int64_t epoch, struct out_store **ret, struct xarch_error **err) {
        enum xarch_transport tr;
        _cleanup_free_ char *path = NULL, *tag = NULL;
        int r = image_spec_split(dest, &tr, &path, &tag, err);
        if (r < 0)
                return r;
        if (tr == XARCH_TRANSPORT_REGISTRY)
                return xarch_error_set(err, EPROTONOSUPPORT,
                                "%s: pushing to a registry is not available in this build yet; "
                                "write oci:, oci-archive: or docker-archive:",
                                dest);
        struct out_store *s = calloc(1, sizeof(*s));
        if (!s)
                return xarch_error_set(err, ENOMEM, "out of memory");
        s->blobs_fd = -1;
        s->epoch = epoch;
        s->kind = tr == XARCH_TRANSPORT_OCI           ? OUT_OCI
                  : tr == XARCH_TRANSPORT_OCI_ARCHIVE ? OUT_OCI_ARCHIVE
                                                      : OUT_DOCKER_ARCHIVE;
        s->path = steal_ptr(path);
        s->tag = steal_ptr(tag);
        s->name = strdup(dest);
        if (!s->name) {
                out_store_free(s);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        struct stat st;
        bool exists = stat(s->path, &st) == 0;
        if (s->kind == OUT_OCI && exists) {
                if (!S_ISDIR(st.st_mode)) {
                        out_store_free(s);
                        return xarch_error_set(err, ENOTDIR, "%s: not a directory", dest);
                }
                char probe[PATH_MAX];
                snprintf(probe, sizeof(probe), "%s/oci-layout", s->path);
                bool layout = access(probe, F_OK) == 0;
                _cleanup_closedir_ DIR *d = opendir(s->path);
                bool empty = true;
                struct dirent *de;
                while (d && (de = readdir(d)))
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                empty = false;
                if (!layout && !empty) {
                        out_store_free(s);
                        return xarch_error_set(err, EEXIST,
                                        "%s: the directory exists and is not an OCI layout", dest);
                }
                s->root = strdup(s->path);
        } else {
                if (exists && S_ISDIR(st.st_mode)) {
                        out_store_free(s);
                        return xarch_error_set(err, EISDIR, "%s: is a directory", dest);
                }
                size_t l = strlen(s->path) + 32;
                s->root = malloc(l);
                if (s->root) {
                        snprintf(s->root, l, "%s.xarch-XXXXXX", s->path);
                        if (!mkdtemp(s->root)) {
                                int e = errno;
                                free(steal_ptr(s->root));
                                out_store_free(s);
                                return xarch_error_set(err, e,
                                                "%s: cannot create a temporary "
                                                "directory next to it: %s",
                                                dest, strerror(e));
                        }
                        s->staging = true;
                        chmod(s->root, 0755);
                }
        }
        if (!s->root) {
                out_store_free(s);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        r = mkdir_p_at(s->root, "blobs/sha256");
        if (r < 0) {
                out_store_free(s);
                return xarch_error_set(err, -r, "%s/blobs/sha256: %s", s->root, strerror(-r));
        }
        char blobs[PATH_MAX];
        snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", s->root);
        s->blobs_fd = open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->blobs_fd < 0) {
                int e = errno;
                out_store_free(s);
                return xarch_error_set(err, e, "%s: %s", blobs, strerror(e));
        }
        *ret = s;
        return 0;
}

static const char *hex_of(const char *digest) {
        const char *c = strchr(digest, ':');
        return c ? c + 1 : digest;
}

bool out_store_has(struct out_store *s, const char *digest) {
        struct stat st;
        return fstatat(s->blobs_fd, hex_of(digest), &st, 0) == 0 && S_ISREG(st.st_mode);
}

int out_store_temp(struct out_store *s, struct xarch_error **err) {
        if (s->temp_name[0])
                return xarch_error_set(err, EBUSY, "a blob is already being written");
        for (unsigned attempt = 0; attempt < 100; attempt++) {
                snprintf(s->temp_name, sizeof(s->temp_name), ".tmp-%d-%u-%08x", (int) getpid(),
                                attempt, (unsigned) random());
                int fd = openat(s->blobs_fd, s->temp_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                                0644);
                if (fd >= 0)
                        return fd;
                if (errno != EEXIST)
                        break;
        }
        int e = errno;
        s->temp_name[0] = '\0';
        return xarch_error_set(err, e, "%s/blobs/sha256: %s", s->root, strerror(e));
}

void out_store_abort_fd(struct out_store *s, int fd) {
        if (fd >= 0)
                close(fd);
        if (s->temp_name[0])
                unlinkat(s->blobs_fd, s->temp_name, 0);
        s->temp_name[0] = '\0';
}

int out_store_commit_fd(struct out_store *s, int fd, const char *digest, struct xarch_error **err) {
        if (fsync(fd) < 0) {
                int e = errno;
                out_store_abort_fd(s, fd);
                return xarch_error_set(err, e, "%s: %s", s->root, strerror(e));
        }
        close(fd);
        if (renameat(s->blobs_fd, s->temp_name, s->blobs_fd, hex_of(digest)) < 0) {
                int e = errno;
                out_store_abort_fd(s, -1);
                return xarch_error_set(err, e, "%s: %s", s->root, strerror(e));
        }
        s->temp_name[0] = '\0';
        return 0;
}

static int write_all(int fd, const void *buf, size_t len) {
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

int out_store_put(struct out_store *s, const char *digest, const void *data, size_t len,
                struct xarch_error **err) {
        if (out_store_has(s, digest))
                return 0;
        int fd = out_store_temp(s, err);
        if (fd < 0)
                return fd;
        int r = write_all(fd, data, len);
        if (r < 0) {
                out_store_abort_fd(s, fd);
                return xarch_error_set(err, -r, "%s: %s", s->root, strerror(-r));
        }
        return out_store_commit_fd(s, fd, digest, err);
}

static int fd_sink(void *userdata, const void *buf, size_t len) {
        return write_all(*(int *) userdata, buf, len);
}

int out_store_copy(struct out_store *s, struct xarch_image *img, const char *digest,
                struct xarch_error **err) {
        if (out_store_has(s, digest))
                return 0;
        int fd = out_store_temp(s, err);
        if (fd < 0)
                return fd;
        /* the temp file becomes the blob only once the source verified its digest */
        int r = xarch_image_get_blob(img, digest, 0, fd_sink, &fd, err);
        if (r < 0) {
                out_store_abort_fd(s, fd);
                return r;
        }
        return out_store_commit_fd(s, fd, digest, err);
}

/* ---- roots ---- */

static json_t *root_descriptor(
                const char *digest, uint64_t size, const char *media_type, const char *tag) {
        json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size",
                        (json_int_t) size);
        if (d && tag)
                json_object_set_new(d, "annotations",
                                json_pack("{s:s}", XARCH_ANNOTATION_REF_NAME, tag));
        return d;
}

/* index.json: the existing one (an in-place layout) minus what the new entry replaces. */
static int layout_index(struct out_store *s, const char *root_digest, uint64_t root_size,
                const char *root_media_type, char **ret, struct xarch_error **err) {
        json_t *idx = NULL;
        if (!s->staging) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/index.json", s->root);
                if (access(p, F_OK) == 0) {
                        json_error_t je;
                        idx = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
                        if (!idx || !json_is_array(json_object_get(idx, "manifests"))) {
                                json_decref(idx);
                                return xarch_error_set(err, EBADMSG, "%s: not a valid index", p);
                        }
                }
        }
        if (!idx)
                idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                                XARCH_MEDIA_OCI_INDEX, "manifests");
        if (!idx)
                return xarch_error_set(err, ENOMEM, "out of memory");
        json_t *ms = json_object_get(idx, "manifests");
        for (size_t i = json_array_size(ms); i > 0; i--) {
                json_t *m = json_array_get(ms, i - 1);
                const char *name = json_string_value(json_object_get(
                                json_object_get(m, "annotations"), XARCH_ANNOTATION_REF_NAME));
                const char *dg = json_string_value(json_object_get(m, "digest"));
                if ((s->tag && name && streq(name, s->tag)) ||
                                (!s->tag && !name && dg && streq(dg, root_digest)))
                        json_array_remove(ms, i - 1);
        }
        json_array_append_new(ms, root_descriptor(root_digest, root_size, root_media_type, s->tag));
        *ret = json_dumps(idx, JSON_COMPACT);
        json_decref(idx);
        return *ret ? 0 : xarch_error_set(err, ENOMEM, "out of memory");
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int archive_sink(void *userdata, const void *buf, size_t len) {
        return write_all(*(int *) userdata, buf, len);
}

static int tar_add_buf(struct tar_writer *w, const char *path, const void *data, size_t len,
                int64_t mtime, struct xarch_error **err) {
        struct tarw_entry e = {
                        .path = path, .type = TARW_FILE, .mode = 0644, .mtime = mtime, .size = len};
        int r = tar_writer_add(w, &e, err);
        if (r >= 0)
                r = tar_writer_data(w, data, len, err);
        return r;
}

static int tar_add_dir(
                struct tar_writer *w, const char *path, int64_t mtime, struct xarch_error **err) {
        struct tarw_entry e = {.path = path, .type = TARW_DIRECTORY, .mode = 0755, .mtime = mtime};
        return tar_writer_add(w, &e, err);
}

static int tar_add_blob(struct tar_writer *w, int blobs_fd, const char *name, int64_t mtime,
                uint8_t *buf, struct xarch_error **err) {
        _cleanup_close_ int fd = openat(blobs_fd, name, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return xarch_error_set(err, errno, "blob %s: %s", name, strerror(errno));
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), "blobs/sha256/%s", name);
        struct tarw_entry e = {.path = rel,
                        .type = TARW_FILE,
                        .mode = 0644,
                        .mtime = mtime,
                        .size = (uint64_t) st.st_size};
        int r = tar_writer_add(w, &e, err);
        uint64_t left = (uint64_t) st.st_size;
        while (r >= 0 && left) {
                ssize_t n = read(fd, buf, left > COPY_CHUNK ? COPY_CHUNK : (size_t) left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return xarch_error_set(
                                        err, n < 0 ? errno : EIO, "blob %s: short read", name);
                r = tar_writer_data(w, buf, (size_t) n, err);
                left -= (uint64_t) n;
        }
        return r;
}

/* Packs the staging layout into a temp file next to the destination: directories, every blob
 * (sorted), then the documents (name + content pairs, NULL-terminated). */
static int write_archive(struct out_store *s, const char *const *docs, struct xarch_error **err) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s.tar", s->root);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return xarch_error_set(err, errno, "%s: %s", tmp, strerror(errno));
        struct tar_writer *w = NULL;
        if (tar_writer_new(archive_sink, &fd, &w) < 0) {
                unlink(tmp);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        int r = 0;
        char **names = NULL;
        size_t n = 0, cap = 0;
        _cleanup_free_ uint8_t *buf = malloc(COPY_CHUNK);
        int dfd = dup(s->blobs_fd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d || !buf) {
                if (dfd >= 0 && !d)
                        close(dfd);
                r = xarch_error_set(err, ENOMEM, "%s: cannot list the blobs", s->root);
        }
        struct dirent *de;
        while (r >= 0 && d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **nn = realloc(names, cap * sizeof(*nn));
                        if (!nn) {
                                r = xarch_error_set(err, ENOMEM, "out of memory");
                                break;
                        }
                        names = nn;
                }
                names[n] = strdup(de->d_name);
                if (!names[n++])
                        r = xarch_error_set(err, ENOMEM, "out of memory");
        }
        if (d)
                closedir(d);
        if (r >= 0 && n)
                qsort(names, n, sizeof(*names), cmp_str);
        int64_t mt = s->epoch;
        if (r >= 0)
                r = tar_add_dir(w, "blobs/", mt, err);
        if (r >= 0)
                r = tar_add_dir(w, "blobs/sha256/", mt, err);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = tar_add_blob(w, s->blobs_fd, names[i], mt, buf, err);
        for (size_t i = 0; r >= 0 && docs[i]; i += 2)
                r = tar_add_buf(w, docs[i], docs[i + 1], strlen(docs[i + 1]), mt, err);
        if (r >= 0)
                r = tar_writer_finish(w, err);
        if (r >= 0 && fsync(fd) < 0)
                r = xarch_error_set(err, errno, "%s: %s", tmp, strerror(errno));
        if (r >= 0 && rename(tmp, s->path) < 0)
                r = xarch_error_set(err, errno, "%s: %s", s->path, strerror(errno));
        if (r < 0)
                unlink(tmp);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        tar_writer_free(w);
        return r;
}

/* docker-archive's manifest.json: one image, its config and layers by path, its tag. */
static char *docker_manifest_json(const struct out_store *s, const struct out_image *img) {
        json_t *layers = json_array();
        for (size_t i = 0; layers && i < img->n_layers; i++) {
                char p[XARCH_DIGEST_MAX + 32];
                snprintf(p, sizeof(p), "blobs/sha256/%s", hex_of(img->layer_digests[i]));
                json_array_append_new(layers, json_string(p));
        }
        char cfg[XARCH_DIGEST_MAX + 32];
        snprintf(cfg, sizeof(cfg), "blobs/sha256/%s", hex_of(img->config_digest));
        json_t *tags = json_array();
        if (tags && s->tag && *s->tag)
                json_array_append_new(tags, json_string(s->tag));
        json_t *doc = json_pack(
                        "[{s:s, s:o, s:o}]", "Config", cfg, "RepoTags", tags, "Layers", layers);
        char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        return out;
}

int out_store_finish(struct out_store *s, const char *root_digest, uint64_t root_size,
                const char *root_media_type, const struct out_image *image,
                struct xarch_error **err) {
        _cleanup_free_ char *index = NULL;
        int r;
        if (s->kind == OUT_DOCKER_ARCHIVE) {
                if (!image)
                        return xarch_error_set(err, EINVAL,
                                        "docker-archive holds one platform; choose one with "
                                        "--platform");
                if (s->tag && !strchr(s->tag, ':'))
                        return xarch_error_set(err, EINVAL,
                                        "docker-archive: the name must be NAME:TAG, not %s",
                                        s->tag);
                _cleanup_free_ char *mj = docker_manifest_json(s, image);
                if (!mj)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                const char *docs[] = {"manifest.json", mj, NULL};
                r = write_archive(s, docs, err);
        } else {
                r = layout_index(s, root_digest, root_size, root_media_type, &index, err);
                if (r < 0)
                        return r;
                if (s->kind == OUT_OCI_ARCHIVE) {
                        const char *docs[] = {"oci-layout", OCI_LAYOUT, "index.json", index, NULL};
                        r = write_archive(s, docs, err);
                } else {
                        r = write_file_atomic(
                                        s->root, "oci-layout", OCI_LAYOUT, strlen(OCI_LAYOUT), err);
                        if (r >= 0)
                                r = write_file_atomic(
                                                s->root, "index.json", index, strlen(index), err);
                        if (r >= 0 && s->staging) {
                                if (rename(s->root, s->path) < 0)
                                        return xarch_error_set(err, errno, "%s: %s", s->path,
                                                        strerror(errno));
                                s->staging = false; /* it is the destination now */
                        }
                }
        }
        if (r >= 0)
                s->finished = true;
        return r;
}
