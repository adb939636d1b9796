/* SPDX-License-Identifier: MIT */
#include "build/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "macro.h"
#include "registry/referrers.h"
#include "registry/upload.h"
#include "xarch/ref.h"

#define TAR_BLOCK 512
/* The largest index.json of an oci: layout read to add a tag (tens of thousands of tags). */
#define OCI_INDEX_JSON_MAX (64 << 20)
/* How long a writer waits for another's lock on an oci: layout (oci_dir_lock()) before it gives
 * up. xarch holds it for milliseconds; the bound is for a holder that is stuck (stopped, on a
 * hung mount) or that took it around a whole outside command (flock(1) DIR skopeo copy ...).
 * XARCH_OCI_LOCK_TIMEOUT_MS changes it (tests). */
#define OCI_LOCK_TIMEOUT_MS (5 * 60 * 1000)

/* A manifest put into an archive: kept so that index.json / manifest.json can be written. */
struct stored_manifest {
        char digest[XARCH_DIGEST_MAX];
        char *media_type;
        char *data;
        size_t len;
};

struct sink {
        struct xarch_image_context *ctx;
        enum xarch_transport transport;
        char *name;
        char *path; /* directory or archive file */
        char *tag;  /* NULL when none */

        /* oci: the layout directory, opened on first write */
        int dirfd;

        /* archives: the tar being written, an unnamed file (O_TMPFILE) next to the destination
         * that gets a name only at the commit, so a killed run leaves nothing behind; where the
         * file system has no O_TMPFILE, a temporary name from the start */
        int tarfd;
        bool tar_unnamed;
        char *tmp_path;
        uint64_t tar_off;
        bool failed; /* a write failed half way: the archive is unusable */
        char (*written)[XARCH_DIGEST_MAX];
        size_t n_written;
        struct stored_manifest *manifests;
        size_t n_manifests;
        struct {
                char digest[XARCH_DIGEST_MAX];
                char *media_type;
                uint64_t size;
        } root;
        bool committed;

        /* registry */
        struct xarch_ref ref;
        struct upload_target *up;

        struct sink_stats stats;
};

struct sink_blob {
        struct sink *s;
        char want_digest[XARCH_DIGEST_MAX]; /* "" when unknown */
        uint64_t want_size;
        uint64_t n;
        struct xarch_digester *d;
        /* sink_copy_blob(): the reader checks the digest of every byte before the commit, so
         * the sink does not hash them a second time */
        bool reader_checks_digest;
        int err; /* first write error */
        /* oci: a temporary file in blobs/<alg>/; archives: the tar itself (known size) or an
         * unlinked spool file (unknown size) */
        int fd;
        char tmp_name[64];
        bool direct_tar; /* streaming into the tar: header already written */
        uint64_t tar_header_off;
        struct upload_blob *up; /* registries */
};

const char *sink_name(const struct sink *s) {
        return s->name;
}

const char *sink_tag(const struct sink *s) {
        return s->tag;
}

enum xarch_transport sink_transport(const struct sink *s) {
        return s->transport;
}

bool sink_parallel(const struct sink *s) {
        return s->transport == XARCH_TRANSPORT_REGISTRY;
}

void sink_get_stats(struct sink *s, struct sink_stats *ret) {
        *ret = s->stats;
        if (s->up) {
                struct upload_stats u;
                upload_target_stats(s->up, &u);
                ret->blobs_written += u.blobs_uploaded;
                ret->blobs_skipped += u.blobs_existing;
                ret->blobs_mounted += u.blobs_mounted;
                ret->bytes_written += u.bytes_sent;
                ret->uploads_resumed += u.resumed_uploads;
        }
}

int sink_open(struct xarch_image_context *ctx, const char *spec, struct sink **ret,
                struct xarch_error **err) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *tag = NULL;
        enum xarch_transport t;
        int r = image_spec_split(spec, &t, &path, &tag, err);
        if (r < 0)
                return r;
        struct sink *s = calloc(1, sizeof(*s));
        if (!s)
                return xarch_error_set(err, ENOMEM, "out of memory");
        s->ctx = ctx;
        s->transport = t;
        s->dirfd = -1;
        s->tarfd = -1;
        if (t == XARCH_TRANSPORT_REGISTRY) {
                r = xarch_ref_parse(path, &s->ref, err);
                if (r < 0) {
                        free(s);
                        return r;
                }
                if (s->ref.digest[0] && !s->ref.tag[0]) {
                        /* by digest: the manifest PUT goes to that digest, no tag to move */
                }
                char buf[XARCH_REF_STRING_MAX];
                xarch_ref_format(&s->ref, buf, sizeof(buf));
                s->name = strdup(buf);
                s->tag = s->ref.tag[0] ? strdup(s->ref.tag) : NULL;
                if (!s->name || (s->ref.tag[0] && !s->tag)) {
                        sink_free(s);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                struct xarch_registry *reg = xarch_image_context_registry(ctx, err);
                if (!reg) {
                        sink_free(s);
                        return -EIO;
                }
                r = upload_target_new(reg, &s->ref, &s->up, err);
                if (r < 0) {
                        sink_free(s);
                        return r;
                }
                *ret = s;
                return 0;
        }
        if (t == XARCH_TRANSPORT_DOCKER_ARCHIVE && tag) {
                /* NAME:TAG, normalised the way docker load shows it */
                struct xarch_ref ref;
                r = xarch_ref_parse(tag, &ref, err);
                if (r < 0 || ref.digest[0]) {
                        free(s);
                        return r < 0 ? xarch_error_wrap(err, "docker-archive name")
                                     : xarch_error_set(err, EINVAL,
                                                       "docker-archive takes NAME:TAG, not a "
                                                       "digest");
                }
        }
        s->path = steal_ptr(path);
        s->tag = steal_ptr(tag);
        if (asprintf(&s->name, "%s:%s%s%s", xarch_transport_name(t), s->path, s->tag ? ":" : "",
                            s->tag ? s->tag : "") < 0) {
                s->name = NULL;
                sink_free(s);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        *ret = s;
        return 0;
}

void sink_free(struct sink *s) {
        if (!s)
                return;
        if (s->dirfd >= 0)
                close(s->dirfd);
        if (s->tarfd >= 0)
                close(s->tarfd);
        if (s->tmp_path && !s->committed)
                unlink(s->tmp_path);
        for (size_t i = 0; i < s->n_manifests; i++) {
                free(s->manifests[i].media_type);
                free(s->manifests[i].data);
        }
        upload_target_free(s->up);
        free(s->manifests);
        free(s->written);
        free(s->root.media_type);
        free(s->tmp_path);
        free(s->name);
        free(s->path);
        free(s->tag);
        free(s);
}

/* ---- oci: directory ---- */

static int mkdirat_p(int dirfd, const char *name) {
        if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Creates a new file "<prefix>.xarch-tmp.<pid>.<random>" next to where it will be renamed to.
 * Never an existing name, never through a symlink: the directory may be shared (an archive in
 * /tmp), and another user's file or link planted at a guessable name would otherwise be
 * truncated, written through, or renamed into place. Returns the fd, or -errno. */
static int create_fresh(int dirfd, const char *prefix, char **ret_name) {
        for (int attempt = 0; attempt < 16; attempt++) {
                uint64_t rnd = 0;
                if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd))
                        rnd = (uint64_t) random() << 32 ^ (uint64_t) random();
                char *name = NULL;
                if (asprintf(&name, "%s.xarch-tmp.%d.%016" PRIx64, prefix, (int) getpid(), rnd) < 0)
                        return -ENOMEM;
                int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                0644);
                if (fd >= 0) {
                        *ret_name = name;
                        return fd;
                }
                int e = errno;
                free(name);
                if (e != EEXIST)
                        return -e;
        }
        return -EEXIST;
}

/* Gives the unnamed file fd (O_TMPFILE) a fresh name "<prefix>.xarch-tmp.<pid>.<random>", as
 * create_fresh() would make it: linkat never replaces an existing name nor follows a symlink
 * there. Through /proc/self/fd (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH). Returns 0 or -errno. */
static int link_fresh(int fd, const char *prefix, char **ret_name) {
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        for (int attempt = 0; attempt < 16; attempt++) {
                uint64_t rnd = 0;
                if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd))
                        rnd = (uint64_t) random() << 32 ^ (uint64_t) random();
                char *name = NULL;
                if (asprintf(&name, "%s.xarch-tmp.%d.%016" PRIx64, prefix, (int) getpid(), rnd) < 0)
                        return -ENOMEM;
                if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 ||
                                (errno == ENOENT && linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) ==
                                                                    0)) {
                        *ret_name = name;
                        return 0;
                }
                int e = errno;
                free(name);
                if (e != EEXIST)
                        return -e;
        }
        return -EEXIST;
}

/* Replaces dir/name with data: temp file, fsync, rename. */
static int replace_file_at(int dirfd, const char *name, const void *data, size_t len) {
        char prefix[PATH_MAX];
        snprintf(prefix, sizeof(prefix), ".%s", name);
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = create_fresh(dirfd, prefix, &tmp);
        if (fd < 0)
                return fd;
        int r = write_all(fd, data, len);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dirfd, tmp, 0);
        return r;
}

static const char oci_layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

static int64_t mono_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Takes the writers' lock of an oci: layout: an exclusive flock(2) on the layout directory
 * itself. The directory is the one inode that stays the same while index.json is replaced by
 * rename (a lock on index.json would be on the file just renamed away), nothing is added to the
 * layout (no lock file for other tools to trip over or for a killed run to leave behind: the
 * kernel drops the lock with the last fd), and flock(1) takes the same lock from a shell, so an
 * outside writer can be made to take part (flock DIR skopeo copy ... oci:DIR:TAG). Readers take
 * no lock: index.json is only ever replaced whole. Waits, polling, up to OCI_LOCK_TIMEOUT_MS,
 * then fails with one clear line rather than hang. A file system that cannot lock a directory
 * (some network file systems) gets the old behaviour, unlocked: returns 0 either way. */
static int oci_dir_lock(int dirfd, const char *path, struct xarch_error **err) {
        int64_t timeout = OCI_LOCK_TIMEOUT_MS;
        const char *knob = getenv("XARCH_OCI_LOCK_TIMEOUT_MS");
        if (knob && *knob) {
                char *end = NULL;
                long long v = strtoll(knob, &end, 10);
                if (end && !*end && v >= 0 && v <= 24LL * 3600 * 1000)
                        timeout = v;
        }
        int64_t deadline = mono_ms() + timeout;
        long nap_us = 1000;
        for (;;) {
                if (flock(dirfd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                int e = errno;
                if (e == EINTR)
                        continue;
                if (e == ENOLCK || e == EINVAL || e == EBADF || e == EOPNOTSUPP || e == ENOSYS)
                        return 0;
                if (e != EWOULDBLOCK)
                        return xarch_error_set(err, e, "%s: cannot lock the layout: %s", path,
                                        strerror(e));
                if (mono_ms() >= deadline)
                        return xarch_error_set(err, ETIMEDOUT,
                                        "%s: another writer holds the layout's lock (an flock of "
                                        "the directory); gave up after %.1f s",
                                        path, (double) timeout / 1000);
                struct timespec nap = {.tv_nsec = nap_us * 1000};
                nanosleep(&nap, NULL);
                if (nap_us < 50 * 1000)
                        nap_us *= 2;
        }
}

static void oci_dir_unlock(int dirfd) {
        flock(dirfd, LOCK_UN);
}

/* Makes dirfd an OCI layout when it is not one yet (oci-layout is missing), under the lock, so
 * that writers creating one layout at once do not take each other's files for foreign ones. */
static int oci_dir_init(int dirfd, const char *path, struct xarch_error **err) {
        struct stat st;
        if (fstatat(dirfd, "oci-layout", &st, 0) == 0)
                return 0;
        int r = oci_dir_lock(dirfd, path, err);
        if (r < 0)
                return r;
        if (fstatat(dirfd, "oci-layout", &st, 0) == 0) {
                oci_dir_unlock(dirfd); /* another writer made it meanwhile */
                return 0;
        }
        /* a new layout: refuse to scatter files into a directory that holds others */
        _cleanup_closedir_ DIR *d = fdopendir(dup(dirfd));
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                                !streq(de->d_name, "blobs") && !streq(de->d_name, "index.json")) {
                        oci_dir_unlock(dirfd);
                        return xarch_error_set(
                                        err, EEXIST, "%s exists and is not an OCI layout", path);
                }
        r = replace_file_at(dirfd, "oci-layout", oci_layout_json, sizeof(oci_layout_json) - 1);
        oci_dir_unlock(dirfd);
        if (r < 0)
                return xarch_error_set(
                                err, -r, "%s: cannot write oci-layout: %s", path, strerror(-r));
        return 0;
}

/* Opens (creating when needed) the layout directory and its oci-layout file. */
static int oci_dir_ready(struct sink *s, struct xarch_error **err) {
        if (s->dirfd >= 0)
                return 0;
        if (mkdir(s->path, 0755) < 0 && errno != EEXIST)
                return xarch_error_set(
                                err, errno, "cannot create %s: %s", s->path, strerror(errno));
        int fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return xarch_error_set(err, errno, "cannot open %s: %s", s->path, strerror(errno));
        int r = oci_dir_init(fd, s->path, err);
        if (r < 0) {
                close(fd);
                return r;
        }
        r = mkdirat_p(fd, "blobs");
        if (r < 0) {
                close(fd);
                return xarch_error_set(err, -r, "%s/blobs: %s", s->path, strerror(-r));
        }
        s->dirfd = fd;
        return 0;
}

/* "sha256:hex" -> "blobs/sha256/hex" */
static int blob_path(const char *digest, char *out, size_t size) {
        const char *colon = strchr(digest, ':');
        if (!colon || !xarch_digest_valid(digest))
                return -EINVAL;
        int n = snprintf(out, size, "blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1);
        return n > 0 && (size_t) n < size ? 0 : -ENOBUFS;
}

static int alg_dir(struct sink *s, const char *digest, char *out, size_t size) {
        const char *colon = strchr(digest, ':');
        int n = snprintf(out, size, "blobs/%.*s", (int) (colon - digest), digest);
        if (n <= 0 || (size_t) n >= size)
                return -ENOBUFS;
        return mkdirat_p(s->dirfd, out);
}

/* ---- archives: a tar written in order ---- */

static void tar_octal(char *field, size_t width, uint64_t v) {
        /* width-1 octal digits and a NUL */
        snprintf(field, width, "%0*" PRIo64, (int) width - 1, v);
}

static int tar_header(char hdr[TAR_BLOCK], const char *name, uint64_t size, char type) {
        memset(hdr, 0, TAR_BLOCK);
        size_t nl = strlen(name);
        if (nl >= 100) {
                /* ustar prefix/name split at a '/' */
                const char *slash = NULL;
                for (const char *p = name; *p; p++)
                        if (*p == '/' && (size_t) (p - name) < 155 && strlen(p + 1) < 100)
                                slash = p;
                if (!slash)
                        return -ENAMETOOLONG;
                memcpy(hdr + 345, name, (size_t) (slash - name));
                memcpy(hdr, slash + 1, strlen(slash + 1));
        } else
                memcpy(hdr, name, nl);
        tar_octal(hdr + 100, 8, type == '5' ? 0755 : 0644);
        tar_octal(hdr + 108, 8, 0);
        tar_octal(hdr + 116, 8, 0);
        if (size <= 077777777777ULL)
                tar_octal(hdr + 124, 12, size);
        else {
                /* GNU base-256 for sizes of 8 GiB and more */
                unsigned char *f = (unsigned char *) hdr + 124;
                f[0] = 0x80;
                for (int i = 11; i >= 1; i--, size >>= 8)
                        f[i] = (unsigned char) (size & 0xff);
        }
        tar_octal(hdr + 136, 12, 0); /* mtime: fixed, so archives repeat */
        hdr[156] = type;
        memcpy(hdr + 257, "ustar", 6);
        memcpy(hdr + 263, "00", 2);
        memset(hdr + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += (unsigned char) hdr[i];
        snprintf(hdr + 148, 8, "%06o", sum);
        hdr[155] = ' ';
        return 0;
}

static int tar_pad(struct sink *s, uint64_t size) {
        static const char zeros[TAR_BLOCK];
        size_t pad = (size_t) ((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
        int r = write_all(s->tarfd, zeros, pad);
        if (r == 0)
                s->tar_off += pad;
        return r;
}

/* The directory part of path ("." when none), for an O_TMPFILE open next to it. */
static char *dir_of(const char *path) {
        char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (dir && !slash) {
                free(dir);
                return strdup(".");
        }
        if (slash)
                slash[slash == dir ? 1 : 0] = '\0';
        return dir;
}

static int archive_ready(struct sink *s, struct xarch_error **err) {
        if (s->tarfd >= 0)
                return s->failed ? xarch_error_set(err, EIO, "%s: an earlier write failed", s->path)
                                 : 0;
        /* unnamed until the commit (a kill leaves nothing); else a fresh temporary name */
        _cleanup_free_ char *dir = dir_of(s->path);
        if (!dir)
                return xarch_error_set(err, ENOMEM, "out of memory");
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
        s->tar_unnamed = fd >= 0;
        if (fd < 0)
                fd = create_fresh(AT_FDCWD, s->path, &s->tmp_path);
        if (fd < 0) {
                s->tmp_path = NULL;
                return xarch_error_set(err, -fd, "cannot create %s: %s", s->path, strerror(-fd));
        }
        s->tarfd = fd;
        char hdr[TAR_BLOCK];
        int r = 0;
        const char *dirs[] = {"blobs/", "blobs/sha256/"};
        for (size_t i = 0; i < ELEMENTSOF(dirs) && r == 0; i++) {
                tar_header(hdr, dirs[i], 0, '5');
                r = write_all(s->tarfd, hdr, TAR_BLOCK);
                s->tar_off += TAR_BLOCK;
        }
        if (r == 0) {
                tar_header(hdr, "oci-layout", sizeof(oci_layout_json) - 1, '0');
                r = write_all(s->tarfd, hdr, TAR_BLOCK);
                if (r == 0)
                        r = write_all(s->tarfd, oci_layout_json, sizeof(oci_layout_json) - 1);
                s->tar_off += TAR_BLOCK + sizeof(oci_layout_json) - 1;
                if (r == 0)
                        r = tar_pad(s, sizeof(oci_layout_json) - 1);
        }
        if (r < 0) {
                s->failed = true;
                return xarch_error_set(err, -r, "%s: %s", s->path, strerror(-r));
        }
        return 0;
}

static bool archive_written(const struct sink *s, const char *digest) {
        for (size_t i = 0; i < s->n_written; i++)
                if (streq(s->written[i], digest))
                        return true;
        return false;
}

static int archive_note(struct sink *s, const char *digest) {
        char(*w)[XARCH_DIGEST_MAX] = realloc(s->written, (s->n_written + 1) * sizeof(*w));
        if (!w)
                return -ENOMEM;
        s->written = w;
        snprintf(w[s->n_written++], XARCH_DIGEST_MAX, "%s", digest);
        return 0;
}

/* Appends a whole member from memory. */
static int archive_add(struct sink *s, const char *name, const void *data, size_t len) {
        char hdr[TAR_BLOCK];
        int r = tar_header(hdr, name, len, '0');
        if (r == 0)
                r = write_all(s->tarfd, hdr, TAR_BLOCK);
        if (r == 0)
                r = write_all(s->tarfd, data, len);
        if (r == 0) {
                s->tar_off += TAR_BLOCK + len;
                r = tar_pad(s, len);
        }
        if (r < 0)
                s->failed = true;
        return r;
}

/* ---- blobs ---- */

int sink_has_blob(struct sink *s, const char *digest, uint64_t size, struct xarch_error **err) {
        char p[256];
        switch (s->transport) {
        case XARCH_TRANSPORT_REGISTRY:
                return upload_blob_exists(s->up, digest, size, err);
        case XARCH_TRANSPORT_OCI: {
                if (blob_path(digest, p, sizeof(p)) < 0)
                        return xarch_error_set(err, EINVAL, "invalid digest '%.80s'", digest);
                int fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return 0;
                struct stat st;
                /* blobs land by rename after their digest was checked: present means complete */
                bool have = fstatat(fd, p, &st, 0) == 0 && S_ISREG(st.st_mode) &&
                            (size == SINK_SIZE_UNKNOWN || (uint64_t) st.st_size == size);
                close(fd);
                return have;
        }
        default:
                return archive_written(s, digest);
        }
}

int sink_has_manifest(struct sink *s, const char *digest, struct xarch_error **err) {
        if (s->transport == XARCH_TRANSPORT_REGISTRY)
                return upload_manifest_exists(s->up, digest, err);
        return sink_has_blob(s, digest, SINK_SIZE_UNKNOWN, err);
}

int sink_blob_begin(struct sink *s, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct sink_blob **ret,
                struct xarch_error **err) {
        *ret = NULL;
        if (digest && !xarch_digest_valid(digest))
                return xarch_error_set(err, EINVAL, "invalid digest '%.80s'", digest);
        if (s->transport != XARCH_TRANSPORT_REGISTRY && digest) {
                int have = sink_has_blob(s, digest, size, err);
                if (have != 0) {
                        if (have > 0)
                                s->stats.blobs_skipped++;
                        return have;
                }
        }
        struct sink_blob *b = calloc(1, sizeof(*b));
        if (!b)
                return xarch_error_set(err, ENOMEM, "out of memory");
        b->s = s;
        b->fd = -1;
        b->want_size = size;
        if (digest)
                snprintf(b->want_digest, sizeof(b->want_digest), "%s", digest);
        if (xarch_digester_new(digest, &b->d) < 0) {
                free(b);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        int r = 0;
        switch (s->transport) {
        case XARCH_TRANSPORT_REGISTRY:
                r = upload_blob_begin(s->up, digest, size, mount_from, &b->up, err);
                if (r > 0) {
                        xarch_digester_free(b->d);
                        free(b);
                        return 1;
                }
                break;
        case XARCH_TRANSPORT_OCI: {
                r = oci_dir_ready(s, err);
                if (r < 0)
                        break;
                char dir[128];
                r = alg_dir(s, digest ? digest : "sha256:", dir, sizeof(dir));
                if (r < 0) {
                        r = xarch_error_set(err, -r, "%s/%s: %s", s->path, dir, strerror(-r));
                        break;
                }
                char *tmp = NULL;
                b->fd = create_fresh(s->dirfd, "blobs/", &tmp);
                if (b->fd < 0) {
                        r = xarch_error_set(err, -b->fd, "%s: cannot write a blob: %s", s->path,
                                        strerror(-b->fd));
                        break;
                }
                if (strlen(tmp) >= sizeof(b->tmp_name)) { /* never: the prefix is short */
                        unlinkat(s->dirfd, tmp, 0);
                        free(tmp);
                        r = xarch_error_set(
                                        err, ENAMETOOLONG, "%s: temporary name too long", s->path);
                        break;
                }
                snprintf(b->tmp_name, sizeof(b->tmp_name), "%s", tmp);
                free(tmp);
                break;
        }
        default:
                r = archive_ready(s, err);
                if (r < 0)
                        break;
                if (digest && size != SINK_SIZE_UNKNOWN) {
                        /* stream straight into the tar; a mismatch fails the whole archive */
                        char name[256], hdr[TAR_BLOCK];
                        blob_path(digest, name, sizeof(name));
                        tar_header(hdr, name, size, '0');
                        b->tar_header_off = s->tar_off;
                        r = write_all(s->tarfd, hdr, TAR_BLOCK);
                        if (r < 0) {
                                s->failed = true;
                                r = xarch_error_set(err, -r, "%s: %s", s->path, strerror(-r));
                                break;
                        }
                        s->tar_off += TAR_BLOCK;
                        b->direct_tar = true;
                        b->fd = s->tarfd;
                } else {
                        _cleanup_free_ char *dir = strdup(s->path);
                        char *slash = dir ? strrchr(dir, '/') : NULL;
                        const char *d = !dir ? "." : slash ? (slash[1] = '\0', dir) : ".";
                        b->fd = open(d, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                        if (b->fd < 0)
                                r = xarch_error_set(err, errno,
                                                "cannot spool a blob next to %s: %s", s->path,
                                                strerror(errno));
                }
        }
        if (r < 0) {
                sink_blob_abort(b);
                return r;
        }
        *ret = b;
        return 0;
}

int sink_blob_write(void *blob, const void *buf, size_t len) {
        struct sink_blob *b = blob;
        if (b->err)
                return b->err;
        if (b->want_size != SINK_SIZE_UNKNOWN && len > b->want_size - b->n)
                return b->err = -EFBIG;
        if (!b->reader_checks_digest)
                xarch_digester_update(b->d, buf, len);
        b->n += len;
        if (b->up)
                b->err = upload_blob_write(b->up, buf, len);
        else {
                b->err = write_all(b->fd, buf, len);
                if (b->direct_tar) {
                        if (b->err)
                                b->s->failed = true;
                        else
                                b->s->tar_off += len;
                }
        }
        return b->err;
}

int sink_blob_restart(struct sink_blob *b) {
        if (!b->up || upload_blob_restart(b->up) < 0)
                return -EINVAL;
        xarch_digester_free(b->d);
        b->d = NULL;
        if (xarch_digester_new(b->want_digest[0] ? b->want_digest : NULL, &b->d) < 0)
                return -ENOMEM;
        b->n = 0;
        b->err = 0;
        return 0;
}

void sink_blob_abort(struct sink_blob *b) {
        if (!b)
                return;
        if (b->up)
                upload_blob_abort(b->up);
        if (b->direct_tar)
                b->s->failed = true; /* the tar holds a partial member */
        else if (b->fd >= 0)
                close(b->fd);
        if (b->tmp_name[0] && b->s->dirfd >= 0)
                unlinkat(b->s->dirfd, b->tmp_name, 0);
        xarch_digester_free(b->d);
        free(b);
}

int sink_blob_commit(
                struct sink_blob *b, char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err) {
        struct sink *s = b->s;
        char got[XARCH_DIGEST_MAX];
        int r;
        if (b->err) {
                r = b->up ? upload_blob_error(b->up, err)
                          : xarch_error_set(err, -b->err, "%s: writing a blob: %s", s->name,
                                            strerror(-b->err));
                sink_blob_abort(b);
                return r;
        }
        if (b->reader_checks_digest)
                snprintf(got, sizeof(got), "%s", b->want_digest);
        else if (xarch_digester_final(b->d, got) < 0) {
                sink_blob_abort(b);
                return xarch_error_set(err, EIO, "cannot hash a blob");
        }
        if (b->want_size != SINK_SIZE_UNKNOWN && b->n != b->want_size) {
                r = xarch_error_set(err, EBADMSG, "blob %s: %" PRIu64 " bytes, expected %" PRIu64,
                                b->want_digest[0] ? b->want_digest : got, b->n, b->want_size);
                sink_blob_abort(b);
                return r;
        }
        if (b->want_digest[0] && !streq(got, b->want_digest)) {
                r = xarch_error_set(
                                err, EBADMSG, "blob %s: the bytes hash to %s", b->want_digest, got);
                sink_blob_abort(b);
                return r;
        }
        if (digest_out)
                snprintf(digest_out, XARCH_DIGEST_MAX, "%s", got);

        if (b->up) {
                r = upload_blob_commit(b->up, got, b->n, err);
                if (r == -ERESTART) {
                        /* interrupted, resumable: the caller feeds the blob again */
                        xarch_digester_free(b->d);
                        b->d = NULL;
                        return r;
                }
                b->up = NULL;
                xarch_digester_free(b->d);
                free(b);
                return r;
        }

        char path[256];
        blob_path(got, path, sizeof(path));
        if (s->transport == XARCH_TRANSPORT_OCI) {
                r = fdatasync(b->fd) < 0 ? -errno : 0;
                if (r == 0) {
                        char dir[128];
                        r = alg_dir(s, got, dir, sizeof(dir));
                }
                if (r == 0 && renameat(s->dirfd, b->tmp_name, s->dirfd, path) < 0)
                        r = -errno;
                if (r < 0) {
                        r = xarch_error_set(err, -r, "%s/%s: %s", s->path, path, strerror(-r));
                        sink_blob_abort(b);
                        return r;
                }
                b->tmp_name[0] = '\0';
                close(b->fd);
        } else if (b->direct_tar) {
                r = tar_pad(s, b->n);
                if (r == 0)
                        r = archive_note(s, got);
                if (r < 0) {
                        s->failed = true;
                        xarch_digester_free(b->d);
                        free(b);
                        return xarch_error_set(err, -r, "%s: %s", s->path, strerror(-r));
                }
        } else {
                /* a spooled blob of unknown size: now that it is known, append it */
                r = 0;
                if (archive_written(s, got)) {
                        close(b->fd);
                        xarch_digester_free(b->d);
                        free(b);
                        return 0;
                }
                char hdr[TAR_BLOCK];
                tar_header(hdr, path, b->n, '0');
                r = write_all(s->tarfd, hdr, TAR_BLOCK);
                s->tar_off += TAR_BLOCK;
                char buf[128 * 1024];
                uint64_t off = 0;
                while (r == 0 && off < b->n) {
                        ssize_t n = pread(b->fd, buf, sizeof(buf), (off_t) off);
                        if (n <= 0) {
                                r = n < 0 ? -errno : -EIO;
                                break;
                        }
                        r = write_all(s->tarfd, buf, (size_t) n);
                        off += (uint64_t) n;
                        s->tar_off += (uint64_t) n;
                }
                if (r == 0)
                        r = tar_pad(s, b->n);
                if (r == 0)
                        r = archive_note(s, got);
                close(b->fd);
                if (r < 0) {
                        s->failed = true;
                        xarch_digester_free(b->d);
                        free(b);
                        return xarch_error_set(err, -r, "%s: %s", s->path, strerror(-r));
                }
        }
        s->stats.blobs_written++;
        s->stats.bytes_written += b->n;
        xarch_digester_free(b->d);
        free(b);
        return 0;
}

/* ---- manifests ---- */

/* by_tag: a registry with a tag only keeps the manifest for sink_set_tag(), whose PUT writes it */
static int put_manifest(struct sink *s, const void *data, size_t len, const char *media_type,
                bool by_tag, char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err) {
        char digest[XARCH_DIGEST_MAX];
        if (xarch_digest_buffer("sha256", data, len, digest) < 0)
                return xarch_error_set(err, EIO, "cannot hash a manifest");
        if (digest_out)
                snprintf(digest_out, XARCH_DIGEST_MAX, "%s", digest);
        if (len > XARCH_MANIFEST_MAX)
                return xarch_error_set(err, EFBIG, "manifest %s is larger than %u bytes", digest,
                                XARCH_MANIFEST_MAX);
        if (s->transport == XARCH_TRANSPORT_REGISTRY) {
                int r = by_tag && s->tag ? upload_manifest_stage(s->up, data, len, media_type,
                                                           digest, err)
                                         : upload_manifest_put(s->up, data, len, media_type, digest,
                                                           NULL, err);
                if (r == 0) /* copies put image manifests from several threads */
                        __atomic_fetch_add(&s->stats.manifests_written, 1, __ATOMIC_RELAXED);
                return r;
        }

        if (s->transport != XARCH_TRANSPORT_OCI) {
                /* kept for index.json / manifest.json */
                bool known = false;
                for (size_t i = 0; i < s->n_manifests && !known; i++)
                        known = streq(s->manifests[i].digest, digest);
                if (!known) {
                        struct stored_manifest *m =
                                        realloc(s->manifests, (s->n_manifests + 1) * sizeof(*m));
                        if (!m)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        s->manifests = m;
                        m = &m[s->n_manifests];
                        *m = (struct stored_manifest){};
                        snprintf(m->digest, sizeof(m->digest), "%s", digest);
                        m->media_type = strdup(media_type ? media_type : "");
                        m->data = malloc(len ? len : 1);
                        if (!m->media_type || !m->data) {
                                free(m->media_type);
                                free(m->data);
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        }
                        memcpy(m->data, data, len);
                        m->len = len;
                        s->n_manifests++;
                }
        }
        struct sink_blob *b;
        int r = sink_blob_begin(s, digest, len, NULL, &b, err);
        if (r > 0) {
                s->stats.blobs_skipped--;
                s->stats.manifests_skipped++;
                return 0;
        }
        if (r < 0)
                return r;
        r = sink_blob_write(b, data, len);
        if (r < 0) {
                sink_blob_abort(b);
                return xarch_error_set(err, -r, "%s: writing manifest %s: %s", s->name, digest,
                                strerror(-r));
        }
        r = sink_blob_commit(b, NULL, err);
        if (r == 0) {
                s->stats.blobs_written--;
                s->stats.bytes_written -= len;
                s->stats.manifests_written++;
        }
        return r;
}

/* ---- tags ---- */

static json_t *descriptor_json(const char *digest, const char *media_type, uint64_t size) {
        return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size",
                        (json_int_t) size);
}

/* The digest the tag names in index.json's manifests, as a reader resolves it (the first entry
 * named tag; untagged, the only entry), or NULL. */
static const char *oci_index_tag_digest(json_t *list, const char *tag) {
        if (!tag)
                return json_array_size(list) == 1
                                       ? json_string_value(json_object_get(
                                                         json_array_get(list, 0), "digest"))
                                       : NULL;
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *m = json_array_get(list, i);
                const char *name = json_string_value(json_object_get(
                                json_object_get(m, "annotations"), XARCH_ANNOTATION_REF_NAME));
                if (name && streq(name, tag))
                        return json_string_value(json_object_get(m, "digest"));
        }
        return NULL;
}

/* oci_dir_set_tag() under the layout's lock. */
static int oci_dir_set_tag_locked(struct sink *s, const char *tag, const char *expect,
                const char *digest, const char *media_type, uint64_t size,
                struct xarch_error **err) {
        int r;
        json_t *index = NULL;
        /* O_NONBLOCK: a FIFO planted in the layout must not block the open (it is refused
         * below); only a regular file of a sane size is read */
        _cleanup_close_ int fd = openat(
                        s->dirfd, "index.json", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd >= 0) {
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return xarch_error_set(err, EBADMSG,
                                        "%s/index.json is not a regular file; not overwriting it",
                                        s->path);
                if (st.st_size > OCI_INDEX_JSON_MAX)
                        return xarch_error_set(err, EFBIG,
                                        "%s/index.json is larger than %d MiB; not overwriting it",
                                        s->path, OCI_INDEX_JSON_MAX >> 20);
                json_error_t jerr;
                index = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(index) || !json_is_array(json_object_get(index, "manifests"))) {
                        json_decref(index);
                        return xarch_error_set(err, EBADMSG,
                                        "%s/index.json is malformed; not overwriting it", s->path);
                }
        } else if (errno != ENOENT)
                return xarch_error_set(err, errno, "%s/index.json: %s", s->path, strerror(errno));
        else
                index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                                XARCH_MEDIA_OCI_INDEX, "manifests");
        if (!index)
                return xarch_error_set(err, ENOMEM, "out of memory");
        json_t *list = json_object_get(index, "manifests");
        if (expect) {
                const char *now = oci_index_tag_digest(list, tag);
                if (expect[0] ? !now || !streq(now, expect) : now != NULL) {
                        json_decref(index);
                        return 1; /* moved since the caller read it */
                }
        }
        /* no tag names the layout's one image, as a reader takes it (whatever its name, which
         * is kept), or, among several, the unnamed entry */
        _cleanup_free_ char *kept_name = NULL;
        if (!tag && json_array_size(list) == 1) {
                json_t *ann = json_object_get(json_array_get(list, 0), "annotations");
                const char *name =
                                json_string_value(json_object_get(ann, XARCH_ANNOTATION_REF_NAME));
                if (name && !(kept_name = strdup(name))) {
                        json_decref(index);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                json_array_remove(list, 0);
        }
        for (size_t i = json_array_size(list); i-- > 0;) {
                json_t *ann = json_object_get(json_array_get(list, i), "annotations");
                const char *name =
                                json_string_value(json_object_get(ann, XARCH_ANNOTATION_REF_NAME));
                if (tag ? (name && streq(name, tag)) : !name)
                        json_array_remove(list, i);
        }
        const char *name = tag ? tag : kept_name;
        json_t *d = descriptor_json(digest, media_type, size);
        if (d && name)
                json_object_set_new(d, "annotations",
                                json_pack("{s:s}", XARCH_ANNOTATION_REF_NAME, name));
        _cleanup_free_ char *text = NULL;
        if (d && json_array_append_new(list, d) == 0)
                text = json_dumps(index, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(index);
        if (!text)
                return xarch_error_set(err, ENOMEM, "out of memory");
        r = replace_file_at(s->dirfd, "index.json", text, strlen(text));
        if (r < 0)
                return xarch_error_set(err, -r, "%s/index.json: %s", s->path, strerror(-r));
        return 0;
}

/* oci: reads index.json, drops the entry the tag names (without a tag: the only entry, keeping
 * its name, or the unnamed one), adds the new one
 * at the end and replaces the file atomically, all under the layout's lock so that writers of
 * other tags at the same time are neither lost nor lose this one. With expect, only while the
 * tag still names that digest (1 when not: nothing written). */
static int oci_dir_set_tag(struct sink *s, const char *tag, const char *expect, const char *digest,
                const char *media_type, uint64_t size, struct xarch_error **err) {
        int r = oci_dir_ready(s, err);
        if (r < 0)
                return r;
        r = oci_dir_lock(s->dirfd, s->path, err);
        if (r < 0)
                return r;
        r = oci_dir_set_tag_locked(s, tag, expect, digest, media_type, size, err);
        oci_dir_unlock(s->dirfd);
        return r;
}

int sink_put_manifest(struct sink *s, const void *data, size_t len, const char *media_type,
                char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err) {
        return put_manifest(s, data, len, media_type, false, digest_out, err);
}

int sink_put_root(struct sink *s, const void *data, size_t len, const char *media_type,
                char digest_out[XARCH_DIGEST_MAX], struct xarch_error **err) {
        return put_manifest(s, data, len, media_type, true, digest_out, err);
}

int sink_set_tag(struct sink *s, const char *digest, const char *media_type, uint64_t size,
                struct xarch_error **err) {
        switch (s->transport) {
        case XARCH_TRANSPORT_REGISTRY:
                return upload_tag(s->up, digest, media_type, err);
        case XARCH_TRANSPORT_OCI:
                return oci_dir_set_tag(s, s->tag, NULL, digest, media_type, size, err);
        default:
                if (s->transport == XARCH_TRANSPORT_DOCKER_ARCHIVE &&
                                xarch_media_type_is_index(media_type))
                        return xarch_error_set(err, EINVAL,
                                        "docker-archive holds one image, not an index: choose "
                                        "one platform with --platform");
                free(s->root.media_type);
                s->root.media_type = strdup(media_type);
                if (!s->root.media_type)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                snprintf(s->root.digest, sizeof(s->root.digest), "%s", digest);
                s->root.size = size;
                return 0;
        }
}

int sink_set_named_tag(struct sink *s, const char *tag, const char *digest, const char *media_type,
                uint64_t size, struct xarch_error **err) {
        switch (s->transport) {
        case XARCH_TRANSPORT_REGISTRY:
                return upload_tag_named(s->up, tag, digest, media_type, err);
        case XARCH_TRANSPORT_OCI:
                return oci_dir_set_tag(s, tag, NULL, digest, media_type, size, err);
        default:
                return xarch_error_set(err, ENOTSUP, "%s holds one tag only", s->name);
        }
}

int sink_set_tag_if(struct sink *s, const char *expect, const char *digest, const char *media_type,
                uint64_t size, struct xarch_error **err) {
        if (s->transport != XARCH_TRANSPORT_OCI)
                return xarch_error_set(err, ENOTSUP, "%s: no conditional tag update", s->name);
        return oci_dir_set_tag(s, s->tag, expect, digest, media_type, size, err);
}

int sink_set_named_tag_if(struct sink *s, const char *tag, const char *expect, const char *digest,
                const char *media_type, uint64_t size, struct xarch_error **err) {
        if (s->transport != XARCH_TRANSPORT_OCI)
                return xarch_error_set(err, ENOTSUP, "%s: no conditional tag update", s->name);
        return oci_dir_set_tag(s, tag, expect, digest, media_type, size, err);
}

int sink_referrers(struct sink *s, const char *subject, struct xarch_blob_buf *ret, bool *api,
                struct xarch_error **err) {
        *ret = (struct xarch_blob_buf){};
        *api = false;
        if (s->transport == XARCH_TRANSPORT_REGISTRY) {
                struct xarch_registry *reg = xarch_image_context_registry(s->ctx, err);
                if (!reg)
                        return -EIO;
                return registry_referrers(reg, &s->ref, subject, ret, api, err);
        }
        if (s->transport != XARCH_TRANSPORT_OCI)
                return xarch_error_set(err, ENOTSUP, "%s holds one tag only", s->name);
        char tag[XARCH_DIGEST_MAX], *spec = NULL;
        referrers_tag(subject, tag);
        if (asprintf(&spec, "oci:%s:%s", s->path, tag) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        struct xarch_image *img = NULL;
        struct xarch_error *e = NULL;
        int r = xarch_image_open(s->ctx, spec, &img, &e);
        free(spec);
        if (r >= 0)
                r = xarch_image_get_root(img, ret, NULL, &e);
        xarch_image_free(img);
        xarch_error_free(e);
        if (r < 0)
                *ret = (struct xarch_blob_buf){}; /* none yet (or no layout yet) */
        return 0;
}

/* manifest.json for docker load: the config and layers of the one image, by their paths. */
static int docker_manifest_json(struct sink *s, char **ret, struct xarch_error **err) {
        const struct stored_manifest *m = NULL;
        for (size_t i = 0; i < s->n_manifests && !m; i++)
                if (streq(s->manifests[i].digest, s->root.digest))
                        m = &s->manifests[i];
        if (!m)
                return xarch_error_set(err, EINVAL, "the image manifest was not written");
        struct xarch_manifest *man = NULL;
        int r = xarch_manifest_parse(m->data, m->len, m->media_type, &man, err);
        if (r < 0)
                return r;
        char path[256];
        blob_path(man->config.digest, path, sizeof(path));
        json_t *tags = json_array();
        if (s->tag) /* as given, the way docker save writes familiar names */
                json_array_append_new(tags, json_string(s->tag));
        json_t *entry = json_pack("{s:s, s:o, s:[]}", "Config", path, "RepoTags", tags, "Layers");
        json_t *layers = json_object_get(entry, "Layers");
        for (size_t i = 0; i < man->n_layers && layers; i++) {
                blob_path(man->layers[i].digest, path, sizeof(path));
                json_array_append_new(layers, json_string(path));
        }
        xarch_manifest_free(man);
        json_t *doc = entry ? json_pack("[o]", entry) : NULL;
        *ret = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(doc);
        return *ret ? 0 : xarch_error_set(err, ENOMEM, "out of memory");
}

int sink_commit(struct sink *s, struct xarch_error **err) {
        if (s->transport == XARCH_TRANSPORT_REGISTRY || s->transport == XARCH_TRANSPORT_OCI)
                return 0;
        if (!s->root.media_type)
                return xarch_error_set(err, EINVAL, "%s: no image to write", s->name);
        int r = archive_ready(s, err);
        if (r < 0)
                return r;
        json_t *d = descriptor_json(s->root.digest, s->root.media_type, s->root.size);
        if (d && s->tag) {
                json_t *ann = json_object();
                if (s->transport == XARCH_TRANSPORT_DOCKER_ARCHIVE) {
                        struct xarch_ref ref;
                        char full[XARCH_REF_STRING_MAX];
                        if (xarch_ref_parse(s->tag, &ref, NULL) == 0 &&
                                        xarch_ref_format(&ref, full, sizeof(full)) > 0) {
                                json_object_set_new(
                                                ann, "io.containerd.image.name", json_string(full));
                                json_object_set_new(ann, XARCH_ANNOTATION_REF_NAME,
                                                json_string(ref.tag));
                        }
                } else
                        json_object_set_new(ann, XARCH_ANNOTATION_REF_NAME, json_string(s->tag));
                json_object_set_new(d, "annotations", ann);
        }
        json_t *index = d ? json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType",
                                            XARCH_MEDIA_OCI_INDEX, "manifests", d)
                          : NULL;
        _cleanup_free_ char *text =
                        index ? json_dumps(index, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(index);
        if (!text)
                return xarch_error_set(err, ENOMEM, "out of memory");
        r = archive_add(s, "index.json", text, strlen(text));
        if (r == 0 && s->transport == XARCH_TRANSPORT_DOCKER_ARCHIVE) {
                _cleanup_free_ char *mj = NULL;
                r = docker_manifest_json(s, &mj, err);
                if (r < 0)
                        return r;
                r = archive_add(s, "manifest.json", mj, strlen(mj));
        }
        if (r == 0) {
                /* end of archive: two zero blocks */
                static const char zeros[2 * TAR_BLOCK];
                r = write_all(s->tarfd, zeros, sizeof(zeros));
        }
        if (r == 0 && fdatasync(s->tarfd) < 0)
                r = -errno;
        if (r == 0 && s->tar_unnamed) {
                r = link_fresh(s->tarfd, s->path, &s->tmp_path);
                if (r == 0)
                        s->tar_unnamed = false;
        }
        if (r == 0 && rename(s->tmp_path, s->path) < 0)
                r = -errno;
        if (r < 0)
                return xarch_error_set(err, -r, "%s: %s", s->path, strerror(-r));
        s->committed = true;
        return 0;
}

int sink_feed_blob(struct sink *s, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, sink_feed_fn feed, void *ctx,
                bool feed_checks_digest, struct xarch_error **err) {
        struct sink_blob *w = NULL;
        int r = sink_blob_begin(s, digest, size, mount_from, &w, err);
        if (r != 0)
                return r < 0 ? r : 0;
        w->reader_checks_digest = feed_checks_digest && digest;
        for (unsigned restarts = 0;; restarts++) {
                struct xarch_error *e = NULL;
                r = feed(ctx, w, &e);
                if (r >= 0)
                        r = sink_blob_commit(w, NULL, &e); /* frees w unless -ERESTART */
                else if (r != -ERESTART)
                        sink_blob_abort(w);
                if (r == -ERESTART && restarts < SINK_RESTARTS_MAX && sink_blob_restart(w) == 0) {
                        xarch_error_free(e);
                        continue;
                }
                if (r == -ERESTART) {
                        sink_blob_abort(w);
                        xarch_error_free(e);
                        return xarch_error_set(err, EIO, "the upload kept failing");
                }
                if (r < 0 && err && !*err)
                        *err = steal_ptr(e);
                xarch_error_free(e);
                return r < 0 ? r : 0;
        }
}

struct image_feed {
        struct xarch_image *src;
        const char *digest;
        uint64_t size;
};

static int feed_from_image(void *ctx, struct sink_blob *w, struct xarch_error **err) {
        struct image_feed *f = ctx;
        return xarch_image_get_blob(f->src, f->digest, f->size, sink_blob_write, w, err);
}

int sink_copy_blob(struct sink *s, struct xarch_image *src, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct xarch_error **err) {
        struct image_feed f = {.src = src, .digest = digest, .size = size};
        /* xarch_image_get_blob() succeeds only when the bytes it gave hash to `digest` (it
         * checks at the end, before it returns), and only then is the blob committed */
        return sink_feed_blob(s, digest, size, mount_from, feed_from_image, &f, true, err);
}
