/* SPDX-License-Identifier: MIT */
/* The reproducible tar writer and layer builder: archives written by the writer are read back by
 * libarchive (an independent reader) and by xarch's own parser; layers built twice from copies
 * of a tree with other mtimes, in other directories, have the same digests; hostile archives
 * are refused with the member named. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "build/layer.h"
#include "build/tarwriter.h"
#include "xarch/digest.h"

struct mem {
        unsigned char *data;
        size_t len, cap;
};

static int mem_sink(void *userdata, const void *buf, size_t len) {
        struct mem *m = userdata;
        if (m->len + len > m->cap) {
                m->cap = (m->len + len) * 2;
                m->data = realloc(m->data, m->cap);
                assert_non_null(m->data);
        }
        memcpy(m->data + m->len, buf, len);
        m->len += len;
        return 0;
}

/* Lists an archive with libarchive: "path|type|size|link|uid|gid|mtime|mode|uname\n". */
static char *list_libarchive(const void *data, size_t len) {
        struct archive *a = archive_read_new();
        archive_read_support_format_all(a);
        archive_read_support_filter_all(a);
        assert_int_equal(archive_read_open_memory(a, data, len), ARCHIVE_OK);
        struct mem out = {0};
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                char line[8192];
                const char *link = archive_entry_symlink(e);
                const char *uname = archive_entry_uname(e);
                int n = snprintf(line, sizeof(line), "%s|%o|%lld|%s|%lld|%lld|%lld|%o|%s\n",
                                archive_entry_pathname(e), archive_entry_filetype(e),
                                (long long) archive_entry_size(e), link ? link : "",
                                (long long) archive_entry_uid(e), (long long) archive_entry_gid(e),
                                (long long) archive_entry_mtime(e), archive_entry_perm(e),
                                uname ? uname : "");
                mem_sink(&out, line, (size_t) n);
                assert_false(archive_entry_atime_is_set(e));
                assert_false(archive_entry_ctime_is_set(e));
        }
        assert_int_equal(r, ARCHIVE_EOF);
        archive_read_free(a);
        mem_sink(&out, "", 1);
        return (char *) out.data;
}

static void test_tar_writer(void **state) {
        (void) state;
        struct mem m = {0};
        struct tar_writer *w = NULL;
        assert_int_equal(tar_writer_new(mem_sink, &m, &w), 0);
        char longname[300], longdir[200], longlink[150];
        memset(longdir, 'd', sizeof(longdir) - 1);
        longdir[sizeof(longdir) - 1] = '\0';
        memcpy(longdir + 90, "/", 1); /* splits into prefix + name */
        snprintf(longname, sizeof(longname), "%.150s/%.140s", longdir, longdir);
        memset(longlink, 'l', sizeof(longlink) - 1);
        longlink[sizeof(longlink) - 1] = '\0';
        const char *data = "hello\n";

        struct tarw_entry es[] = {
                        {.path = "a/", .type = TARW_DIRECTORY, .mode = 0755},
                        {.path = "a/f",
                                        .type = TARW_FILE,
                                        .mode = 0644,
                                        .size = 6,
                                        .mtime = 1700000000},
                        {.path = "a/l", .type = TARW_SYMLINK, .linkname = "f", .mode = 0777},
                        {.path = longdir, .type = TARW_FILE, .mode = 0600, .size = 6},
                        {.path = longname, .type = TARW_FILE, .mode = 04755, .size = 6},
                        {.path = "a/longlink",
                                        .type = TARW_SYMLINK,
                                        .linkname = longlink,
                                        .mode = 0777},
                        {.path = "a/bigid",
                                        .type = TARW_FILE,
                                        .mode = 0644,
                                        .uid = 3000000000u,
                                        .gid = 65534,
                                        .size = 6},
        };
        for (size_t i = 0; i < sizeof(es) / sizeof(es[0]); i++) {
                assert_int_equal(tar_writer_add(w, &es[i], NULL), 0);
                if (es[i].type == TARW_FILE)
                        assert_int_equal(tar_writer_data(w, data, 6, NULL), 0);
        }
        /* more data than announced is refused */
        struct tarw_entry small = {.path = "s", .type = TARW_FILE, .mode = 0644, .size = 1};
        struct xarch_error *err = NULL;
        assert_int_equal(tar_writer_add(w, &small, NULL), 0);
        assert_int_equal(tar_writer_data(w, "xy", 2, &err), -EINVAL);
        xarch_error_free(err);
        assert_int_equal(tar_writer_data(w, "x", 1, NULL), 0);
        assert_int_equal(tar_writer_finish(w, NULL), 0);
        assert_int_equal(m.len % 512, 0);
        tar_writer_free(w);

        char *list = list_libarchive(m.data, m.len);
        char want[4096];
        snprintf(want, sizeof(want),
                        "a/|40000|0||0|0|0|755|\n"
                        "a/f|100000|6||0|0|1700000000|644|\n"
                        "a/l|120000|0|f|0|0|0|777|\n"
                        "%s|100000|6||0|0|0|600|\n"
                        "%s|100000|6||0|0|0|4755|\n"
                        "a/longlink|120000|0|%s|0|0|0|777|\n"
                        "a/bigid|100000|6||3000000000|65534|0|644|\n"
                        "s|100000|1||0|0|0|644|\n",
                        longdir, longname, longlink);
        assert_string_equal(list, want);
        free(list);
        free(m.data);
}

static char *tmpdir_make(void) {
        char tmpl[] = "/tmp/test-build-layer-XXXXXX";
        char *d = mkdtemp(tmpl);
        assert_non_null(d);
        return strdup(d);
}

static void write_file(const char *dir, const char *rel, const char *content, mode_t mode) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        fchmod(fd, mode);
        close(fd);
}

static void make_tree(const char *dir, time_t mtime) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/bin", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/share", dir);
        mkdir(p, 0700);
        write_file(dir, "bin/tool", "#!/bin/sh\necho hi\n", 0755);
        write_file(dir, "share/data", "data\n", 0640);
        write_file(dir, "README", "readme\n", 0644);
        snprintf(p, sizeof(p), "%s/bin/alias", dir);
        assert_int_equal(symlink("tool", p), 0);
        const char *files[] = {"bin/tool", "share/data", "README", "bin", "share", ""};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
                struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
                utimes(p, tv);
        }
}

static void rm_rf(const char *dir) {
        char cmd[1100];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void build_layer(const char *src, enum xarch_compression c, struct layer_result *res,
                struct mem *out) {
        struct layer_tree *t = NULL;
        assert_int_equal(layer_tree_new(&t), 0);
        struct xarch_error *err = NULL;
        int r = layer_tree_add_path(t, src, "/opt/app", NULL, &err);
        if (r < 0)
                fail_msg("%s", err->msg);
        struct layer_write_options o = {.compression = c, .mtime = 0};
        assert_int_equal(layer_tree_write_sink(t, &o, mem_sink, out, res, NULL), 0);
        layer_tree_free(t);
}

static void test_reproducible(void **state) {
        (void) state;
        char *a = tmpdir_make(), *b = tmpdir_make();
        make_tree(a, 1000000);
        make_tree(b, 1700000000);
        struct layer_result ra, rb;
        struct mem ma = {0}, mb = {0};
        build_layer(a, XARCH_COMPRESSION_GZIP, &ra, &ma);
        build_layer(b, XARCH_COMPRESSION_GZIP, &rb, &mb);
        assert_string_equal(ra.digest, rb.digest);
        assert_string_equal(ra.diff_id, rb.diff_id);
        assert_int_equal(ra.size, ma.len);
        /* the digest is of the bytes written; the gzip header is fixed */
        char d[XARCH_DIGEST_MAX];
        xarch_digest_buffer("sha256", ma.data, ma.len, d);
        assert_string_equal(d, ra.digest);
        assert_int_equal(ma.data[3], 0); /* FLG: no name */
        assert_memory_equal(ma.data + 4, "\0\0\0\0", 4);
        assert_int_equal(ma.data[9], 255);
        /* sorted, with explicit parents, 0:0, mtime 0, modes kept */
        char *list = list_libarchive(ma.data, ma.len);
        assert_string_equal(list, "opt/|40000|0||0|0|0|755|\n"
                                  "opt/app/|40000|0||0|0|0|700|\n"
                                  "opt/app/README|100000|7||0|0|0|644|\n"
                                  "opt/app/bin/|40000|0||0|0|0|755|\n"
                                  "opt/app/bin/alias|120000|0|tool|0|0|0|777|\n"
                                  "opt/app/bin/tool|100000|18||0|0|0|755|\n"
                                  "opt/app/share/|40000|0||0|0|0|700|\n"
                                  "opt/app/share/data|100000|5||0|0|0|640|\n");
        free(list);
        /* diff_id: the digest of the uncompressed tar */
        struct layer_result rn;
        struct mem mn = {0};
        build_layer(a, XARCH_COMPRESSION_NONE, &rn, &mn);
        assert_string_equal(rn.diff_id, ra.diff_id);
        assert_string_equal(rn.digest, ra.diff_id);
        struct layer_result rz1, rz2;
        struct mem mz1 = {0}, mz2 = {0};
        build_layer(a, XARCH_COMPRESSION_ZSTD, &rz1, &mz1);
        build_layer(b, XARCH_COMPRESSION_ZSTD, &rz2, &mz2);
        assert_string_equal(rz1.digest, rz2.digest);
        assert_string_equal(rz1.diff_id, ra.diff_id);
        free(ma.data);
        free(mb.data);
        free(mn.data);
        free(mz1.data);
        free(mz2.data);
        rm_rf(a);
        rm_rf(b);
        free(a);
        free(b);
}

/* Writes an archive with libarchive (gzip'd when gz); each member "TYPE:PATH[:LINK]". */
static void write_archive(const char *path, bool gz, const char *const *members) {
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        if (gz)
                archive_write_add_filter_gzip(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; members[i]; i++) {
                char buf[512];
                snprintf(buf, sizeof(buf), "%s", members[i]);
                char type = buf[0];
                char *name = buf + 2;
                char *link = strchr(name, ':');
                if (link)
                        *link++ = '\0';
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, name);
                archive_entry_set_perm(e, 0755);
                const char *content = "content\n";
                switch (type) {
                case 'f':
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_size(e, 8);
                        break;
                case 'd':
                        archive_entry_set_filetype(e, AE_IFDIR);
                        break;
                case 'l':
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, link);
                        break;
                case 'h':
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, link);
                        break;
                case 'c':
                        archive_entry_set_filetype(e, AE_IFCHR);
                        archive_entry_set_rdev(e, 0x0103);
                        break;
                }
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (type == 'f')
                        archive_write_data(a, content, 8);
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
}

/* Writes n symlinks l0, l1, ... each to target. */
static void write_links(const char *path, size_t n, const char *target) {
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof(name), "l%zu", i);
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, name);
                archive_entry_set_filetype(e, AE_IFLNK);
                archive_entry_set_perm(e, 0777);
                archive_entry_set_symlink(e, target);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
}

static int try_archive(const char *path, unsigned strip, struct layer_tree **ret, char **msg) {
        struct layer_tree *t = NULL;
        assert_int_equal(layer_tree_new(&t), 0);
        struct layer_add_options o = {.strip_components = strip};
        struct xarch_error *err = NULL;
        int r = layer_tree_add_archive(t, path, "/opt", &o, &err);
        if (r >= 0)
                r = layer_tree_finish(t, &err);
        *msg = err ? strdup(err->msg) : NULL;
        xarch_error_free(err);
        if (ret && r >= 0)
                *ret = t;
        else
                layer_tree_free(t);
        return r;
}

static void test_archive(void **state) {
        (void) state;
        char *dir = tmpdir_make();
        char path[1024];
        snprintf(path, sizeof(path), "%s/rel.tar.gz", dir);
        const char *good[] = {"d:app-1.0/", "d:app-1.0/bin/", "f:app-1.0/bin/tool",
                        "l:app-1.0/bin/alias:tool", "h:app-1.0/bin/copy:app-1.0/bin/tool",
                        "l:app-1.0/up:bin/../bin/tool", NULL};
        /* symlinks through symlinks that stay inside, and a loop (it resolves nowhere) */
        const char *chained[] = {"d:app/usr/lib/", "l:app/lib:usr/lib", "l:app/usr/lib64:../lib",
                        "l:app/usr/up:lib64/..", "l:app/loop1:loop2", "l:app/loop2:loop1", NULL};
        write_archive(path, true, good);
        struct layer_tree *t = NULL;
        char *msg = NULL;
        int r = try_archive(path, 1, &t, &msg);
        if (r < 0)
                fail_msg("%s", msg);
        const char *want[] = {"opt", "opt/bin", "opt/bin/alias", "opt/bin/copy", "opt/bin/tool",
                        "opt/up"};
        assert_int_equal(layer_tree_count(t), 6);
        for (size_t i = 0; i < 6; i++)
                assert_string_equal(layer_tree_entry(t, i)->path, want[i]);
        assert_int_equal(layer_tree_entry(t, 3)->type, XARCH_LAYER_FILE);
        assert_int_equal(layer_tree_entry(t, 3)->size, 8);
        struct mem m = {0};
        struct layer_result res;
        struct layer_write_options wo = {.compression = XARCH_COMPRESSION_GZIP};
        assert_int_equal(layer_tree_write_sink(t, &wo, mem_sink, &m, &res, NULL), 0);
        char *list = list_libarchive(m.data, m.len);
        assert_non_null(strstr(list, "opt/bin/copy|100000|8||0|0|0|755|\n"));
        free(list);
        free(m.data);
        layer_tree_free(t);

        snprintf(path, sizeof(path), "%s/chained.tar", dir);
        write_archive(path, false, chained);
        r = try_archive(path, 1, NULL, &msg);
        if (r < 0)
                fail_msg("%s", msg);

        struct {
                const char *members[5];
                const char *needle;
        } bad[] = {
                        {{"f:../evil", NULL}, "member ../evil has a '..' component"},
                        {{"l:a/abs:/etc/passwd", NULL}, "member a/abs is an absolute symlink"},
                        {{"l:a/esc:../../etc/passwd", NULL},
                                        "member a/esc is a symlink that points"},
                        {{"c:a/tty", NULL}, "member a/tty is a device file"},
                        /* each link stays inside on its own; chained, they end above dest */
                        {{"l:t:d/e/..", "l:d/e:..", NULL},
                                        "member t is a symlink that points outside the archive "
                                        "(through other symlinks)"},
                        {{"l:d/e:..", "l:d/up:e/../..", NULL},
                                        "member d/up is a symlink that points outside"},
                        {{"l:a/b/c:../..", "l:a/x:b/c/../y", NULL},
                                        "member a/x is a symlink that points outside"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(path, sizeof(path), "%s/bad%zu.tar", dir, i);
                write_archive(path, false, bad[i].members);
                r = try_archive(path, 0, NULL, &msg);
                assert_true(r < 0);
                assert_non_null(msg);
                if (!strstr(msg, bad[i].needle))
                        fail_msg("%s lacks %s", msg, bad[i].needle);
                free(msg);
        }

        /* a bomb: 100 MiB of zeros, a few hundred KiB compressed */
        snprintf(path, sizeof(path), "%s/bomb.tar.gz", dir);
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                        "cd '%s' && head -c 104857600 /dev/zero > z && tar -cf - z | gzip -9 > "
                        "bomb.tar.gz && rm z",
                        dir);
        assert_int_equal(system(cmd), 0);
        r = try_archive(path, 0, NULL, &msg);
        assert_int_equal(r, -EFBIG);
        assert_non_null(strstr(msg, "decompression bomb"));
        free(msg);

        /* a chain across two archives added to one layer: each archive alone is fine */
        {
                const char *first[] = {"l:d/e:..", NULL}, *second[] = {"l:t:d/e/..", NULL};
                char p1[1024], p2[1024];
                snprintf(p1, sizeof(p1), "%s/first.tar", dir);
                snprintf(p2, sizeof(p2), "%s/second.tar", dir);
                write_archive(p1, false, first);
                write_archive(p2, false, second);
                struct layer_tree *two = NULL;
                assert_int_equal(layer_tree_new(&two), 0);
                struct xarch_error *err = NULL;
                assert_int_equal(layer_tree_add_archive(two, p1, "/opt", NULL, &err), 0);
                assert_int_equal(layer_tree_add_archive(two, p2, "/opt", NULL, &err), -EPERM);
                assert_non_null(err);
                assert_non_null(strstr(err->msg, "member t is a symlink that points outside"));
                xarch_error_free(err);
                layer_tree_free(two);
        }

        /* symlinks with long targets: the chain check has a budget for the whole archive
         * (200 links of 200000 "." components each would take 40 million steps) */
        size_t tl = 2 * 200000;
        char *target = malloc(tl + 1);
        assert_non_null(target);
        for (size_t i = 0; i < tl; i += 2)
                memcpy(target + i, "./", 2);
        target[tl - 1] = '\0';
        snprintf(path, sizeof(path), "%s/longlinks.tar", dir);
        write_links(path, 200, target);
        free(target);
        r = try_archive(path, 0, NULL, &msg);
        assert_int_equal(r, -E2BIG);
        assert_non_null(strstr(msg, "too long or too deeply chained to check"));
        free(msg);

        /* sparse members: a pax one (GNU.sparse.*, regular type) would have been added with the
         * sparse map as its bytes, under GNU tar's "GNUSparseFile.N/" stand-in name */
        static const char *const sparse[] = {"pax --sparse-version=1.0", "pax --sparse-version=0.1",
                        "pax --sparse-version=0.0", "gnu"};
        for (size_t i = 0; i < sizeof(sparse) / sizeof(sparse[0]); i++) {
                snprintf(cmd, sizeof(cmd),
                                "cd '%s' && rm -f sp sparse.tar && truncate -s 4M sp && echo hi "
                                ">>sp && tar --sparse --format=%s -cf sparse.tar sp",
                                dir, sparse[i]);
                assert_int_equal(system(cmd), 0);
                snprintf(path, sizeof(path), "%s/sparse.tar", dir);
                r = try_archive(path, 0, NULL, &msg);
                if (r >= 0)
                        fail_msg("--format=%s: a sparse member was accepted", sparse[i]);
                assert_non_null(msg);
                if (!strstr(msg, "member ") ||
                                !(strstr(msg, "sparse file") || strstr(msg, "unsupported type")))
                        fail_msg("--format=%s: %s", sparse[i], msg);
                free(msg);
        }
        rm_rf(dir);
        free(dir);
}

/* ---- the two-thread writer against the one-thread writer ---- */

static void write_bytes(const char *dir, const char *rel, const void *data, size_t len) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
}

/* Files across many ring slots: text that compresses, noise that does not, sizes around the
 * 256 KiB slot and the 512-byte block, an empty file, a symlink; sorted so that "m-*" comes in
 * the middle of the stream. */
static void make_big_tree(const char *dir) {
        size_t n = 3u << 20;
        unsigned char *buf = malloc(n);
        assert_non_null(buf);
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                buf[i] = (unsigned char) (x >> 24);
        }
        write_bytes(dir, "a-noise", buf, n);
        for (size_t i = 0; i < n; i++)
                buf[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
        write_bytes(dir, "b-text", buf, n);
        write_bytes(dir, "c-slot", buf + 7, 256u * 1024);
        write_bytes(dir, "d-slot-plus", buf + 3, 256u * 1024 + 1);
        write_bytes(dir, "e-block", buf, 511);
        write_bytes(dir, "f-empty", buf, 0);
        write_bytes(dir, "m-middle", buf + 100, 700000);
        write_bytes(dir, "z-tail", buf + 5, 300000);
        char p[1024];
        snprintf(p, sizeof(p), "%s/link", dir);
        assert_int_equal(symlink("b-text", p), 0);
        free(buf);
}

struct build_run {
        struct layer_result res;
        struct mem out;
        int r;
        char *msg;
};

/* A sink that fails with -ENOSPC once it holds more than limit bytes, and counts calls after. */
struct limited {
        struct mem m;
        size_t limit; /* 0: never fails */
        bool failed;
        size_t calls_after;
};

static int limited_sink(void *userdata, const void *buf, size_t len) {
        struct limited *l = userdata;
        if (l->failed) {
                l->calls_after++;
                return -ENOSPC;
        }
        if (l->limit && l->m.len + len > l->limit) {
                l->failed = true;
                return -ENOSPC;
        }
        return mem_sink(&l->m, buf, len);
}

/* Builds dir as a layer; change, when set, runs after the tree is read and before it is
 * written (a file that goes away, shrinks or becomes a fifo). */
static void run_build(const char *dir, enum xarch_compression c, int level, unsigned threads,
                size_t sink_limit, void (*change)(const char *dir), struct build_run *ret) {
        struct layer_tree *t = NULL;
        assert_int_equal(layer_tree_new(&t), 0);
        struct xarch_error *err = NULL;
        int r = layer_tree_add_path(t, dir, "/data", NULL, &err);
        if (r < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(layer_tree_finish(t, NULL), 0);
        if (change)
                change(dir);
        struct layer_write_options o = {
                        .compression = c, .level = level, .mtime = 0, .threads = threads};
        struct limited l = {.limit = sink_limit};
        memset(ret, 0, sizeof(*ret));
        ret->r = layer_tree_write_sink(t, &o, limited_sink, &l, &ret->res, &err);
        ret->out = l.m;
        if (ret->r < 0) {
                assert_non_null(err);
                assert_int_equal(err->code, -ret->r);
                ret->msg = strdup(err->msg);
        } else {
                assert_null(err);
        }
        /* nothing is written after the sink refused */
        assert_int_equal(l.calls_after, 0);
        xarch_error_free(err);
        layer_tree_free(t);
}

static void run_free(struct build_run *b) {
        free(b->out.data);
        free(b->msg);
}

/* One thread and two give the same result: code, message, and the bytes the sink took. */
static void same_both_ways(const char *dir, enum xarch_compression c, int level, size_t limit,
                void (*change)(const char *dir), void (*restore)(const char *dir), int want) {
        struct build_run one, two;
        run_build(dir, c, level, 1, limit, change, &one);
        if (restore)
                restore(dir);
        run_build(dir, c, level, 2, limit, change, &two);
        if (restore)
                restore(dir);
        assert_int_equal(one.r, want);
        assert_int_equal(two.r, one.r);
        if (want == 0) {
                assert_string_equal(one.res.digest, two.res.digest);
                assert_string_equal(one.res.diff_id, two.res.diff_id);
                assert_int_equal(one.res.size, two.res.size);
                assert_int_equal(one.res.tar_size, two.res.tar_size);
                char d[XARCH_DIGEST_MAX];
                xarch_digest_buffer("sha256", two.out.data, two.out.len, d);
                assert_string_equal(d, two.res.digest);
        } else {
                assert_string_equal(one.msg, two.msg);
        }
        /* the same stream: after an error the sink may have been handed it in other pieces
         * (the compressor's output is cut where its input was), so one is a prefix of the
         * other */
        size_t common = one.out.len < two.out.len ? one.out.len : two.out.len;
        if (want == 0)
                assert_int_equal(one.out.len, two.out.len);
        if (common)
                assert_memory_equal(one.out.data, two.out.data, common);
        run_free(&one);
        run_free(&two);
}

static void test_threads_same_bytes(void **state) {
        (void) state;
        char *dir = tmpdir_make();
        make_big_tree(dir);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 0, NULL, NULL, 0);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 6, 0, NULL, NULL, 0);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 9, 0, NULL, NULL, 0);
        same_both_ways(dir, XARCH_COMPRESSION_ZSTD, 0, 0, NULL, NULL, 0);
        same_both_ways(dir, XARCH_COMPRESSION_ZSTD, 12, 0, NULL, NULL, 0);
        same_both_ways(dir, XARCH_COMPRESSION_NONE, 0, 0, NULL, NULL, 0);
        rm_rf(dir);
        free(dir);
}

/* m-middle and where it is kept meanwhile (in the tree, which was listed already) */
static char saved_path[1024], moved_path[1040];

static void move_middle(const char *dir) {
        snprintf(saved_path, sizeof(saved_path), "%s/m-middle", dir);
        snprintf(moved_path, sizeof(moved_path), "%s.moved", saved_path);
        assert_int_equal(rename(saved_path, moved_path), 0);
}

static void remove_middle(const char *dir) {
        move_middle(dir);
}

static void restore_middle(const char *dir) {
        (void) dir;
        assert_int_equal(rename(moved_path, saved_path), 0);
}

static void shrink_middle(const char *dir) {
        move_middle(dir);
        write_bytes(dir, "m-middle", "short", 5);
}

static void fifo_middle(const char *dir) {
        move_middle(dir);
        assert_int_equal(mkfifo(saved_path, 0644), 0);
}

static void restore_replaced(const char *dir) {
        (void) dir;
        assert_int_equal(unlink(saved_path), 0);
        restore_middle(dir);
}

/* A file that fails mid-tree, and a destination that fills up, stop both stages the same way
 * on one thread and on two: same code and message, same bytes taken by the sink, nothing after
 * the sink's refusal, no thread left behind (and under ASan, nothing leaked). */
static void test_threads_same_errors(void **state) {
        (void) state;
        char *dir = tmpdir_make();
        make_big_tree(dir);
        char want[1100];

        struct build_run b;
        run_build(dir, XARCH_COMPRESSION_GZIP, 0, 2, 0, remove_middle, &b);
        restore_middle(dir);
        assert_int_equal(b.r, -ENOENT);
        snprintf(want, sizeof(want), "%s: No such file or directory", saved_path);
        assert_string_equal(b.msg, want);
        run_free(&b);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 0, remove_middle, restore_middle, -ENOENT);
        same_both_ways(dir, XARCH_COMPRESSION_ZSTD, 0, 0, remove_middle, restore_middle, -ENOENT);

        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 0, shrink_middle, restore_replaced, -EIO);
        run_build(dir, XARCH_COMPRESSION_GZIP, 0, 2, 0, shrink_middle, &b);
        restore_replaced(dir);
        assert_non_null(strstr(b.msg, "the file shrank while being read"));
        run_free(&b);

        /* a fifo put where a file was: refused, not waited on (this hung before) */
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 0, fifo_middle, restore_replaced, -EPERM);
        run_build(dir, XARCH_COMPRESSION_GZIP, 0, 2, 0, fifo_middle, &b);
        restore_replaced(dir);
        assert_non_null(strstr(b.msg, "no longer a regular file"));
        run_free(&b);

        /* the destination fills up early, mid-stream and in the final flush */
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 1000, NULL, NULL, -ENOSPC);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 2u << 20, NULL, NULL, -ENOSPC);
        same_both_ways(dir, XARCH_COMPRESSION_ZSTD, 0, 1u << 20, NULL, NULL, -ENOSPC);
        struct build_run full;
        run_build(dir, XARCH_COMPRESSION_GZIP, 0, 1, 0, NULL, &full);
        assert_int_equal(full.r, 0);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, full.out.len - 10, NULL, NULL, -ENOSPC);
        run_build(dir, XARCH_COMPRESSION_GZIP, 0, 2, 2u << 20, NULL, &b);
        assert_string_equal(b.msg, "writing the layer: No space left on device");
        run_free(&b);
        run_build(dir, XARCH_COMPRESSION_GZIP, 0, 2, full.out.len - 10, NULL, &b);
        assert_string_equal(b.msg, "compressing the layer: No space left on device");
        run_free(&b);
        run_free(&full);

        /* the destination fills up before the bytes of a file that then fails: the earlier
         * error, the sink's, is the one reported, however far the tar stage ran ahead */
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 1000, remove_middle, restore_middle,
                        -ENOSPC);
        same_both_ways(dir, XARCH_COMPRESSION_GZIP, 0, 3u << 20, remove_middle, restore_middle,
                        -ENOSPC);
        rm_rf(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_tar_writer),
                        cmocka_unit_test(test_reproducible),
                        cmocka_unit_test(test_archive),
                        cmocka_unit_test(test_threads_same_bytes),
                        cmocka_unit_test(test_threads_same_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
