/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/file.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/cache.h"
#include "macro.h"

int cache_dir_resolve(const char *dir, char **ret) {
        *ret = NULL;
        if (dir && !*dir)
                return 0;
        char *s = NULL;
        if (dir) {
                s = strdup(dir);
        } else {
                const char *xdg = getenv("XDG_CACHE_HOME");
                const char *home = getenv("HOME");
                if (xdg && *xdg) {
                        if (asprintf(&s, "%s/xarch", xdg) < 0)
                                s = NULL;
                } else if (home && *home) {
                        if (asprintf(&s, "%s/.cache/xarch", home) < 0)
                                s = NULL;
                } else {
                        return 0; /* nowhere to cache */
                }
        }
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int cache_entry_path(const char *dir, const char *digest, char *buf, size_t size) {
        if (!xarch_digest_valid(digest))
                return -EINVAL;
        const char *colon = strchr(digest, ':');
        int n = snprintf(buf, size, "%s/blobs/%.*s/%s", dir, (int) (colon - digest), digest,
                        colon + 1);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

/* mkdir -p for the directory part of path; owner-only (the cache is per user). */
static int mkdir_parents(const char *path) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s", path);
        char *slash = strrchr(tmp, '/');
        if (!slash)
                return 0;
        *slash = '\0';
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int cache_open(const char *dir, const char *digest) {
        char path[PATH_MAX];
        if (!dir || cache_entry_path(dir, digest, path, sizeof(path)) < 0)
                return -ENOENT;
        /* O_NONBLOCK: a FIFO in the cache must not hang the open; only regular files count */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return -ENOENT;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -ENOENT;
        }
        return fd;
}

void cache_remove(const char *dir, const char *digest) {
        char path[PATH_MAX];
        if (dir && cache_entry_path(dir, digest, path, sizeof(path)) == 0)
                (void) unlink(path);
}

int cache_read(const char *dir, const char *digest, size_t max, char **ret_data, size_t *ret_len) {
        _cleanup_close_ int fd = cache_open(dir, digest);
        if (fd < 0)
                return -ENOENT;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return -ENOENT;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        size_t size = (size_t) st.st_size;
        _cleanup_free_ char *data = malloc(size + 1);
        if (!data)
                return -ENOMEM;
        size_t len = 0;
        while (len < size) {
                ssize_t n = read(fd, data + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -ENOENT;
                len += (size_t) n;
        }
        char got[XARCH_DIGEST_MAX];
        if (xarch_digest_buffer(digest, data, len, got) < 0 || !streq(got, digest)) {
                cache_remove(dir, digest);
                return -ENOENT;
        }
        data[len] = '\0';
        *ret_data = steal_ptr(data);
        *ret_len = len;
        return 0;
}

/* Named temporary entries ("<final>.tmp-XXXXXX", only where O_TMPFILE is not supported) left
 * by a process that died are removed once they are this old and nobody holds their lock. */
#define CACHE_STALE_SECONDS (10 * 60)

void cache_sweep_dir(const char *algo_dir, time_t now) {
        DIR *d = opendir(algo_dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strstr(de->d_name, ".tmp-"))
                        continue;
                int fd = openat(dirfd(d), de->d_name,
                                O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
                if (fd < 0)
                        continue;
                struct stat st;
                /* a writer holds LOCK_EX on its temporary file for as long as it lives */
                if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                                now - st.st_mtime > CACHE_STALE_SECONDS &&
                                flock(fd, LOCK_EX | LOCK_NB) == 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
                close(fd);
        }
        closedir(d);
}

/* Once per process and cache directory: sweep what killed writers left behind. */
static void sweep_once(const char *final_path) {
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static char swept[PATH_MAX];
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", final_path);
        char *slash = strrchr(dir, '/');
        if (!slash)
                return;
        *slash = '\0';
        pthread_mutex_lock(&lock);
        bool first = !streq(swept, dir);
        if (first)
                snprintf(swept, sizeof(swept), "%s", dir);
        pthread_mutex_unlock(&lock);
        if (first)
                cache_sweep_dir(dir, time(NULL));
}

int cache_writer_begin(const char *dir, const char *digest, struct cache_writer *w) {
        w->fd = -1;
        w->tmp_path[0] = '\0';
        if (!dir)
                return -EINVAL;
        int r = cache_entry_path(dir, digest, w->final_path, sizeof(w->final_path));
        if (r < 0)
                return r;
        r = mkdir_parents(w->final_path);
        if (r < 0)
                return r;
        sweep_once(w->final_path);
        /* An unnamed file (O_TMPFILE) vanishes with its process, whatever kills it; it gets its
         * name only when committed. Entries may describe private images: owner-only. */
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", w->final_path);
        *strrchr(parent, '/') = '\0';
        /* (naming it later goes through /proc/self/fd) */
        if (access("/proc/self/fd", X_OK) == 0)
                w->fd = open(parent, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (w->fd >= 0)
                return 0;
        /* no O_TMPFILE here: a named file, locked while written (see cache_sweep_dir) */
        int n = snprintf(w->tmp_path, sizeof(w->tmp_path), "%s.tmp-XXXXXX", w->final_path);
        if (n < 0 || (size_t) n >= sizeof(w->tmp_path))
                return -ENOBUFS;
        w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
        if (w->fd < 0)
                return -errno;
        (void) fchmod(w->fd, 0600);
        (void) flock(w->fd, LOCK_EX | LOCK_NB);
        return 0;
}

int cache_writer_append(struct cache_writer *w, const void *buf, size_t len) {
        const char *p = buf;
        if (w->fd < 0)
                return -EBADF;
        while (len > 0) {
                ssize_t n = write(w->fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int link_then_rename(const char *self, const char *final_path) {
        static atomic_uint counter;
        char tmp[PATH_MAX];
        for (int tries = 0; tries < 16; tries++) {
                int n = snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%u", final_path, (int) getpid(),
                                atomic_fetch_add(&counter, 1));
                if (n < 0 || (size_t) n >= sizeof(tmp))
                        return -ENOBUFS;
                if (linkat(AT_FDCWD, self, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return -errno;
                }
                if (rename(tmp, final_path) < 0) {
                        int e = -errno;
                        (void) unlink(tmp);
                        return e;
                }
                return 0;
        }
        return -EEXIST;
}

int cache_writer_commit(struct cache_writer *w) {
        if (w->fd < 0)
                return -EBADF;
        int r = 0;
        if (fsync(w->fd) < 0)
                r = -errno;
        if (r == 0 && !w->tmp_path[0]) {
                /* name the unnamed file; an entry already there has the same verified content */
                char self[64];
                snprintf(self, sizeof(self), "/proc/self/fd/%d", w->fd);
                if (linkat(AT_FDCWD, self, AT_FDCWD, w->final_path, AT_SYMLINK_FOLLOW) < 0) {
                        /* something is there (another writer's entry, or a FIFO or corrupt
                         * file): link under a fresh name, then rename over it */
                        r = errno == EEXIST ? link_then_rename(self, w->final_path) : -errno;
                }
        }
        close(w->fd);
        w->fd = -1;
        if (r == 0 && w->tmp_path[0] && rename(w->tmp_path, w->final_path) < 0)
                r = -errno;
        if (r < 0) {
                if (w->tmp_path[0])
                        (void) unlink(w->tmp_path);
                return r;
        }
        /* make the rename durable too */
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", w->final_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
                *slash = '\0';
                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0) {
                        (void) fsync(dfd);
                        close(dfd);
                }
        }
        return 0;
}

void cache_writer_abort(struct cache_writer *w) {
        if (w->fd >= 0) {
                close(w->fd);
                w->fd = -1;
                if (w->tmp_path[0])
                        (void) unlink(w->tmp_path);
        }
}

int cache_write(const char *dir, const char *digest, const void *data, size_t len) {
        struct cache_writer w;
        int r = cache_writer_begin(dir, digest, &w);
        if (r < 0)
                return r;
        r = cache_writer_append(&w, data, len);
        if (r < 0) {
                cache_writer_abort(&w);
                return r;
        }
        return cache_writer_commit(&w);
}
