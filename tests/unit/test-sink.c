/* SPDX-License-Identifier: MIT */
/* The local output sinks (src/lib/build/sink.c): oci: layouts, oci-archive: and docker-archive:
 * files. What they write is read back with libarchive and jansson (independent readers): blobs
 * under their digests with the bytes given, index.json and manifest.json as podman and docker
 * load expect them. A blob whose bytes do not match its digest or size is never stored under a
 * digest; an archive that is not committed, or whose write failed half way, leaves no file and
 * no temporary file; a directory that is not a layout, or a malformed index.json, is refused
 * without being touched. A tag moves under the layout's lock (an flock of the directory): a
 * conditional move sees another writer's, and a lock held by someone else stops the writer
 * with index.json untouched. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "build/sink.h"
#include "xarch/digest.h"
#include "xarch/image.h"

#define MT_MANIFEST XARCH_MEDIA_OCI_MANIFEST
#define MT_INDEX    XARCH_MEDIA_OCI_INDEX

static struct xarch_image_context *ctx;
static char dir[64];

static int setup(void **state) {
        (void) state;
        snprintf(dir, sizeof(dir), "/tmp/test-sink-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        struct xarch_image_options o = {.no_cache = true};
        return xarch_image_context_new(&o, &ctx, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        (void) state;
        xarch_image_context_free(ctx);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static char *path_of(const char *name) {
        static char p[4][256];
        static unsigned n;
        char *out = p[n++ % 4];
        snprintf(out, sizeof(p[0]), "%s/%s", dir, name);
        return out;
}

static char *spec_of(const char *transport, const char *name, const char *tag) {
        static char s[4][320];
        static unsigned n;
        char *out = s[n++ % 4];
        snprintf(out, sizeof(s[0]), "%s:%s%s%s", transport, path_of(name), tag ? ":" : "",
                        tag ? tag : "");
        return out;
}

static void digest_of(const void *data, size_t len, char out[XARCH_DIGEST_MAX]) {
        assert_int_equal(xarch_digest_buffer("sha256", data, len, out), 0);
}

/* Whole file into a NUL-terminated buffer; NULL when it does not exist. */
static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t n = 0, cap = 0;
        for (;;) {
                if (n + 4096 + 1 > cap) {
                        cap = (n + 4096 + 1) * 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                size_t got = fread(buf + n, 1, 4096, f);
                n += got;
                if (got == 0)
                        break;
        }
        fclose(f);
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

/* Number of entries of DIR whose name contains NEEDLE (recursively through blobs/). */
static int count_named(const char *d, const char *needle) {
        DIR *dh = opendir(d);
        if (!dh)
                return 0;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(dh))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (strstr(de->d_name, needle))
                        n++;
                char sub[512];
                snprintf(sub, sizeof(sub), "%s/%s", d, de->d_name);
                struct stat st;
                if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                        n += count_named(sub, needle);
        }
        closedir(dh);
        return n;
}

/* Writes one blob through the sink; returns begin's or commit's status. */
static int put(struct sink *s, const char *digest, uint64_t size, const void *data, size_t len,
                char out[XARCH_DIGEST_MAX]) {
        struct sink_blob *b = NULL;
        struct xarch_error *err = NULL;
        int r = sink_blob_begin(s, digest, size, NULL, &b, &err);
        if (r != 0) {
                xarch_error_free(err);
                return r;
        }
        assert_non_null(b);
        /* in two writes, as a stream */
        r = sink_blob_write(b, data, len / 2);
        if (r == 0)
                r = sink_blob_write(b, (const char *) data + len / 2, len - len / 2);
        r = sink_blob_commit(b, out, &err); /* commits or aborts */
        xarch_error_free(err);
        return r;
}

/* A config, a layer and an image manifest over them, written into s. */
struct image {
        char config[256], layer[256], manifest[1024];
        char config_d[XARCH_DIGEST_MAX], layer_d[XARCH_DIGEST_MAX], manifest_d[XARCH_DIGEST_MAX];
};

static void make_image(struct image *im, const char *arch) {
        snprintf(im->config, sizeof(im->config),
                        "{\"architecture\":\"%s\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                        "\"diff_ids\":[]}}",
                        arch);
        snprintf(im->layer, sizeof(im->layer), "layer bytes for %s", arch);
        digest_of(im->config, strlen(im->config), im->config_d);
        digest_of(im->layer, strlen(im->layer), im->layer_d);
        snprintf(im->manifest, sizeof(im->manifest),
                        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                        "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":"
                        "%zu},\"layers\":[{\"mediaType\":\"application/"
                        "vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
                        MT_MANIFEST, im->config_d, strlen(im->config), im->layer_d,
                        strlen(im->layer));
        digest_of(im->manifest, strlen(im->manifest), im->manifest_d);
}

static void write_image(struct sink *s, const struct image *im, bool tag) {
        char got[XARCH_DIGEST_MAX];
        /* the layer as a stream of unknown digest and size, the config as a known blob */
        assert_int_equal(put(s, NULL, SINK_SIZE_UNKNOWN, im->layer, strlen(im->layer), got), 0);
        assert_string_equal(got, im->layer_d);
        assert_int_equal(put(s, im->config_d, strlen(im->config), im->config, strlen(im->config),
                                         got),
                        0);
        struct xarch_error *err = NULL;
        assert_int_equal(sink_put_manifest(s, im->manifest, strlen(im->manifest), MT_MANIFEST, got,
                                         &err),
                        0);
        assert_string_equal(got, im->manifest_d);
        if (tag)
                assert_int_equal(sink_set_tag(s, im->manifest_d, MT_MANIFEST, strlen(im->manifest),
                                                 &err),
                                0);
}

static void assert_blob_file(const char *layout, const char *digest, const char *want) {
        char p[512];
        snprintf(p, sizeof(p), "%s/blobs/sha256/%s", layout, digest + strlen("sha256:"));
        char *got = slurp(p, NULL);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

/* ---- oci: ---- */

static void test_oci_dir(void **state) {
        (void) state;
        struct sink *s = NULL;
        struct xarch_error *err = NULL;
        struct image im;
        make_image(&im, "arm64");
        assert_int_equal(sink_open(ctx, spec_of("oci", "lay", "v1"), &s, &err), 0);
        assert_int_equal(sink_transport(s), XARCH_TRANSPORT_OCI);
        assert_string_equal(sink_tag(s), "v1");
        /* lazily created: nothing exists before the first write */
        assert_int_equal(access(path_of("lay"), F_OK), -1);
        write_image(s, &im, true);
        assert_int_equal(sink_commit(s, &err), 0);
        struct sink_stats st;
        sink_get_stats(s, &st);
        assert_int_equal(st.blobs_written, 2);
        assert_int_equal(st.manifests_written, 1);
        sink_free(s);

        char *layout = slurp(path_of("lay/oci-layout"), NULL);
        assert_non_null(layout);
        assert_string_equal(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
        free(layout);
        assert_blob_file(path_of("lay"), im.layer_d, im.layer);
        assert_blob_file(path_of("lay"), im.config_d, im.config);
        assert_blob_file(path_of("lay"), im.manifest_d, im.manifest);
        assert_int_equal(count_named(path_of("lay"), "xarch-tmp"), 0);
        json_t *idx = json_load_file(path_of("lay/index.json"), 0, NULL);
        assert_non_null(idx);
        json_t *ms = json_object_get(idx, "manifests");
        assert_int_equal(json_array_size(ms), 1);
        json_t *m = json_array_get(ms, 0);
        assert_string_equal(json_string_value(json_object_get(m, "digest")), im.manifest_d);
        assert_int_equal(json_integer_value(json_object_get(m, "size")), strlen(im.manifest));
        assert_string_equal(json_string_value(json_object_get(json_object_get(m, "annotations"),
                                            XARCH_ANNOTATION_REF_NAME)),
                        "v1");
        json_decref(idx);

        /* a rerun skips what is there */
        assert_int_equal(sink_open(ctx, spec_of("oci", "lay", "v1"), &s, &err), 0);
        assert_int_equal(sink_has_blob(s, im.config_d, strlen(im.config), NULL), 1);
        assert_int_equal(sink_has_blob(s, im.config_d, strlen(im.config) + 1, NULL), 0);
        assert_int_equal(sink_has_manifest(s, im.manifest_d, NULL), 1);
        char got[XARCH_DIGEST_MAX];
        assert_int_equal(put(s, im.config_d, strlen(im.config), im.config, strlen(im.config), got),
                        1);
        assert_int_equal(sink_put_manifest(s, im.manifest, strlen(im.manifest), MT_MANIFEST, got,
                                         NULL),
                        0);
        sink_get_stats(s, &st);
        assert_int_equal(st.blobs_written, 0);
        assert_int_equal(st.blobs_skipped, 1);
        assert_int_equal(st.manifests_skipped, 1);

        /* retagging v1 replaces its entry; another tag adds one */
        struct image im2;
        make_image(&im2, "amd64");
        write_image(s, &im2, true);
        assert_int_equal(sink_set_named_tag(s, "v0", im.manifest_d, MT_MANIFEST,
                                         strlen(im.manifest), NULL),
                        0);
        sink_free(s);
        idx = json_load_file(path_of("lay/index.json"), 0, NULL);
        ms = json_object_get(idx, "manifests");
        assert_int_equal(json_array_size(ms), 2);
        for (size_t i = 0; i < 2; i++) {
                m = json_array_get(ms, i);
                const char *name = json_string_value(json_object_get(
                                json_object_get(m, "annotations"), XARCH_ANNOTATION_REF_NAME));
                const char *d = json_string_value(json_object_get(m, "digest"));
                assert_string_equal(d, !strcmp(name, "v1") ? im2.manifest_d : im.manifest_d);
        }
        json_decref(idx);
}

/* sink_set_tag_if(): the tag moves only while it still names what the caller read; and a
 * writer waits for the layout's lock, giving up with index.json untouched. */
static void test_oci_lock(void **state) {
        (void) state;
        struct sink *s = NULL;
        struct xarch_error *err = NULL;
        struct image a, b, c;
        make_image(&a, "amd64");
        make_image(&b, "arm64");
        make_image(&c, "riscv64");
        assert_int_equal(sink_open(ctx, spec_of("oci", "lock", "t"), &s, &err), 0);
        write_image(s, &a, true);
        write_image(s, &b, false);
        write_image(s, &c, false);
        /* the tag names a: moving it on the condition that it names b changes nothing */
        size_t len_before;
        char *before = slurp(path_of("lock/index.json"), &len_before);
        assert_non_null(before);
        assert_int_equal(sink_set_tag_if(s, b.manifest_d, c.manifest_d, MT_MANIFEST,
                                         strlen(c.manifest), &err),
                        1);
        assert_null(err);
        size_t len_after;
        char *after = slurp(path_of("lock/index.json"), &len_after);
        assert_int_equal(len_after, len_before);
        assert_memory_equal(after, before, len_before);
        free(after);
        /* on the condition that it names a, it moves */
        assert_int_equal(sink_set_tag_if(s, a.manifest_d, b.manifest_d, MT_MANIFEST,
                                         strlen(b.manifest), &err),
                        0);
        json_t *idx = json_load_file(path_of("lock/index.json"), 0, NULL);
        json_t *ms = json_object_get(idx, "manifests");
        assert_int_equal(json_array_size(ms), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 0), "digest")),
                        b.manifest_d);
        json_decref(idx);

        /* another holder of the lock: the writer gives up, naming it, and writes nothing */
        free(before);
        before = slurp(path_of("lock/index.json"), &len_before);
        int holder = open(path_of("lock"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(holder >= 0);
        assert_int_equal(flock(holder, LOCK_EX | LOCK_NB), 0);
        setenv("XARCH_OCI_LOCK_TIMEOUT_MS", "0", 1);
        assert_int_equal(sink_set_tag(s, c.manifest_d, MT_MANIFEST, strlen(c.manifest), &err),
                        -ETIMEDOUT);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "another writer holds the layout's lock"));
        xarch_error_free(err);
        err = NULL;
        after = slurp(path_of("lock/index.json"), &len_after);
        assert_int_equal(len_after, len_before);
        assert_memory_equal(after, before, len_before);
        free(after);
        /* released, it goes through */
        close(holder);
        assert_int_equal(sink_set_tag(s, c.manifest_d, MT_MANIFEST, strlen(c.manifest), &err), 0);
        unsetenv("XARCH_OCI_LOCK_TIMEOUT_MS");
        free(before);
        sink_free(s);

        /* archives and registries have no conditional move */
        assert_int_equal(sink_open(ctx, spec_of("oci-archive", "lock.tar", "t"), &s, &err), 0);
        assert_int_equal(sink_set_tag_if(s, a.manifest_d, b.manifest_d, MT_MANIFEST,
                                         strlen(b.manifest), &err),
                        -ENOTSUP);
        xarch_error_free(err);
        sink_free(s);
}

static void test_oci_bad_blobs(void **state) {
        (void) state;
        struct sink *s = NULL;
        char got[XARCH_DIGEST_MAX], other[XARCH_DIGEST_MAX];
        const char *data = "the bytes actually sent";
        digest_of("something else", 14, other);
        digest_of(data, strlen(data), got);
        assert_int_equal(sink_open(ctx, spec_of("oci", "bad", NULL), &s, NULL), 0);
        /* a known digest the bytes do not match: refused, stored under neither digest */
        assert_int_equal(put(s, other, strlen(data), data, strlen(data), NULL), -EBADMSG);
        /* a known size the bytes do not match, both ways */
        assert_int_equal(put(s, got, strlen(data) + 1, data, strlen(data), NULL), -EBADMSG);
        assert_true(put(s, got, strlen(data) - 1, data, strlen(data), NULL) < 0);
        /* an invalid digest */
        assert_int_equal(put(s, "sha256:nothex", 3, "abc", 3, NULL), -EINVAL);
        char p[512];
        snprintf(p, sizeof(p), "%s/blobs/sha256/%s", path_of("bad"), other + 7);
        assert_int_equal(access(p, F_OK), -1);
        snprintf(p, sizeof(p), "%s/blobs/sha256/%s", path_of("bad"), got + 7);
        assert_int_equal(access(p, F_OK), -1);
        assert_int_equal(count_named(path_of("bad"), "xarch-tmp"), 0);
        /* an aborted blob leaves nothing either */
        struct sink_blob *b = NULL;
        assert_int_equal(sink_blob_begin(s, NULL, SINK_SIZE_UNKNOWN, NULL, &b, NULL), 0);
        assert_int_equal(sink_blob_write(b, data, strlen(data)), 0);
        sink_blob_abort(b);
        assert_int_equal(count_named(path_of("bad"), "xarch-tmp"), 0);
        sink_free(s);
}

static void test_oci_refuses(void **state) {
        (void) state;
        struct sink *s = NULL;
        struct xarch_error *err = NULL;
        struct image im;
        make_image(&im, "arm64");
        /* a directory holding other files is not made a layout */
        assert_int_equal(mkdir(path_of("notlayout"), 0755), 0);
        FILE *f = fopen(path_of("notlayout/mine.txt"), "w");
        assert_non_null(f);
        fputs("keep\n", f);
        fclose(f);
        assert_int_equal(sink_open(ctx, spec_of("oci", "notlayout", "v1"), &s, NULL), 0);
        assert_int_equal(put(s, im.config_d, strlen(im.config), im.config, strlen(im.config), NULL),
                        -EEXIST);
        assert_int_equal(sink_set_tag(s, im.manifest_d, MT_MANIFEST, 1, &err), -EEXIST);
        assert_non_null(strstr(err->msg, "is not an OCI layout"));
        xarch_error_free(err);
        err = NULL;
        sink_free(s);
        assert_int_equal(access(path_of("notlayout/oci-layout"), F_OK), -1);
        assert_int_equal(access(path_of("notlayout/blobs"), F_OK), -1);

        /* a malformed index.json is not overwritten */
        assert_int_equal(sink_open(ctx, spec_of("oci", "malformed", "v1"), &s, NULL), 0);
        write_image(s, &im, false);
        f = fopen(path_of("malformed/index.json"), "w");
        assert_non_null(f);
        fputs("{\"manifests\": 3}", f);
        fclose(f);
        assert_int_equal(sink_set_tag(s, im.manifest_d, MT_MANIFEST, strlen(im.manifest), &err),
                        -EBADMSG);
        assert_non_null(strstr(err->msg, "malformed"));
        xarch_error_free(err);
        sink_free(s);
        char *still = slurp(path_of("malformed/index.json"), NULL);
        assert_string_equal(still, "{\"manifests\": 3}");
        free(still);

        /* an index.json that is a FIFO (a layout unpacked from someone's tarball) is refused,
         * not opened and waited on forever (alarm: a hang fails the test) */
        err = NULL;
        assert_int_equal(sink_open(ctx, spec_of("oci", "fifo", "v1"), &s, NULL), 0);
        write_image(s, &im, false);
        assert_int_equal(mkfifo(path_of("fifo/index.json"), 0644), 0);
        alarm(60);
        assert_int_equal(sink_set_tag(s, im.manifest_d, MT_MANIFEST, strlen(im.manifest), &err),
                        -EBADMSG);
        alarm(0);
        assert_non_null(strstr(err->msg, "index.json is not a regular file"));
        xarch_error_free(err);
        sink_free(s);
}

/* ---- archives ---- */

/* Reads an archive with libarchive: member names joined by '\n' in *names (in order), and the
 * content of member `want` (NULL if absent). */
static char *archive_member(const char *path, const char *want, char **names) {
        struct archive *a = archive_read_new();
        archive_read_support_format_all(a);
        assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
        struct archive_entry *e;
        char *found = NULL, *list = calloc(1, 1);
        size_t list_len = 0;
        int r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);
                list = realloc(list, list_len + strlen(name) + 2);
                list_len += (size_t) sprintf(list + list_len, "%s\n", name);
                assert_int_equal(archive_entry_mtime(e), 0);
                if (want && !strcmp(name, want)) {
                        size_t n = (size_t) archive_entry_size(e);
                        found = malloc(n + 1);
                        assert_int_equal(archive_read_data(a, found, n), (la_ssize_t) n);
                        found[n] = '\0';
                }
        }
        assert_int_equal(r, ARCHIVE_EOF);
        archive_read_free(a);
        if (names)
                *names = list;
        else
                free(list);
        return found;
}

static char *blob_member(const char *digest) {
        static char p[128];
        snprintf(p, sizeof(p), "blobs/sha256/%s", digest + strlen("sha256:"));
        return p;
}

static void test_oci_archive(void **state) {
        (void) state;
        struct image im;
        make_image(&im, "riscv64");
        char *bytes[2] = {NULL, NULL};
        size_t lens[2];
        for (int i = 0; i < 2; i++) {
                const char *name = i ? "b.tar" : "a.tar";
                struct sink *s = NULL;
                assert_int_equal(sink_open(ctx, spec_of("oci-archive", name, "1.0"), &s, NULL), 0);
                assert_false(sink_parallel(s));
                write_image(s, &im, true);
                /* the same blob again (spooled, unknown size) is not written twice */
                char got[XARCH_DIGEST_MAX];
                assert_int_equal(put(s, NULL, SINK_SIZE_UNKNOWN, im.layer, strlen(im.layer), got),
                                0);
                assert_int_equal(sink_has_blob(s, im.layer_d, SINK_SIZE_UNKNOWN, NULL), 1);
                /* nothing at the path until the commit */
                assert_int_equal(access(path_of(name), F_OK), -1);
                assert_int_equal(sink_commit(s, NULL), 0);
                sink_free(s);
                bytes[i] = slurp(path_of(name), &lens[i]);
                assert_non_null(bytes[i]);
        }
        /* the same image gives the same archive, byte for byte */
        assert_int_equal(lens[0], lens[1]);
        assert_memory_equal(bytes[0], bytes[1], lens[0]);
        free(bytes[0]);
        free(bytes[1]);
        assert_int_equal(count_named(dir, "xarch-tmp"), 0);

        char *names = NULL;
        char *layer = archive_member(path_of("a.tar"), blob_member(im.layer_d), &names);
        char want[1024];
        snprintf(want, sizeof(want), "blobs/\nblobs/sha256/\noci-layout\n%s\n",
                        blob_member(im.layer_d));
        assert_int_equal(strncmp(names, want, strlen(want)), 0);
        assert_non_null(strstr(names, blob_member(im.config_d)));
        assert_non_null(strstr(names, blob_member(im.manifest_d)));
        /* index.json last, and the layer once */
        assert_int_equal(strcmp(names + strlen(names) - strlen("index.json\n"), "index.json\n"), 0);
        assert_null(strstr(strstr(names, blob_member(im.layer_d)) + 1, blob_member(im.layer_d)));
        assert_string_equal(layer, im.layer);
        free(layer);
        free(names);
        char *index = archive_member(path_of("a.tar"), "index.json", NULL);
        json_t *idx = json_loads(index, 0, NULL);
        json_t *m = json_array_get(json_object_get(idx, "manifests"), 0);
        assert_string_equal(json_string_value(json_object_get(m, "digest")), im.manifest_d);
        assert_string_equal(json_string_value(json_object_get(json_object_get(m, "annotations"),
                                            XARCH_ANNOTATION_REF_NAME)),
                        "1.0");
        json_decref(idx);
        free(index);
}

static void test_archive_not_committed(void **state) {
        (void) state;
        struct image im;
        make_image(&im, "s390x");
        struct sink *s = NULL;
        struct xarch_error *err = NULL;
        /* freed before the commit: no file, no temporary file */
        assert_int_equal(sink_open(ctx, spec_of("oci-archive", "gone.tar", NULL), &s, NULL), 0);
        write_image(s, &im, true);
        sink_free(s);
        assert_int_equal(access(path_of("gone.tar"), F_OK), -1);
        assert_int_equal(count_named(dir, "gone.tar"), 0);

        /* a blob streamed into the tar that does not match its digest fails the archive */
        assert_int_equal(sink_open(ctx, spec_of("oci-archive", "failed.tar", NULL), &s, NULL), 0);
        char other[XARCH_DIGEST_MAX];
        digest_of("x", 1, other);
        assert_int_equal(put(s, other, strlen(im.config), im.config, strlen(im.config), NULL),
                        -EBADMSG);
        assert_int_equal(put(s, im.config_d, strlen(im.config), im.config, strlen(im.config), NULL),
                        -EIO);
        assert_int_equal(sink_set_tag(s, im.config_d, MT_MANIFEST, 1, NULL), 0);
        assert_true(sink_commit(s, &err) < 0);
        xarch_error_free(err);
        sink_free(s);
        assert_int_equal(access(path_of("failed.tar"), F_OK), -1);
        assert_int_equal(count_named(dir, "failed.tar"), 0);

        /* a commit without a tag set has nothing to write */
        err = NULL;
        assert_int_equal(sink_open(ctx, spec_of("oci-archive", "untagged.tar", NULL), &s, NULL), 0);
        assert_int_equal(sink_commit(s, &err), -EINVAL);
        xarch_error_free(err);
        sink_free(s);
        assert_int_equal(access(path_of("untagged.tar"), F_OK), -1);
}

/* Another local user who can write next to the archive (a /tmp path, say) plants a symlink where
 * the temporary file would be made: it is not followed, so the file it points to (here a
 * victim) is neither truncated nor replaced by the archive. */
static void test_archive_planted_link(void **state) {
        (void) state;
        struct image im;
        make_image(&im, "arm64");
        const char *victim = path_of("victim");
        FILE *f = fopen(victim, "w");
        assert_non_null(f);
        fputs("precious\n", f);
        fclose(f);
        char planted[512];
        snprintf(planted, sizeof(planted), "%s.xarch-tmp.%d", path_of("planted.tar"),
                        (int) getpid());
        assert_int_equal(symlink(victim, planted), 0);
        struct sink *s = NULL;
        assert_int_equal(sink_open(ctx, spec_of("oci-archive", "planted.tar", "v1"), &s, NULL), 0);
        write_image(s, &im, true);
        assert_int_equal(sink_commit(s, NULL), 0);
        sink_free(s);
        size_t n = 0;
        char *kept = slurp(victim, &n);
        assert_non_null(kept);
        assert_int_equal(n, 9);
        assert_memory_equal(kept, "precious\n", 9);
        free(kept);
        struct stat st;
        assert_int_equal(lstat(path_of("planted.tar"), &st), 0);
        assert_true(S_ISREG(st.st_mode));
        char *index = archive_member(path_of("planted.tar"), "index.json", NULL);
        assert_non_null(index);
        free(index);
        unlink(planted);
        unlink(victim);
        assert_int_equal(count_named(dir, "xarch-tmp"), 0);
}

static void test_docker_archive(void **state) {
        (void) state;
        struct image im;
        make_image(&im, "arm64");
        struct sink *s = NULL;
        struct xarch_error *err = NULL;
        assert_int_equal(sink_open(ctx, spec_of("docker-archive", "d.tar", "xarch/demo:v1"), &s,
                                         NULL),
                        0);
        write_image(s, &im, false);
        /* one image, not an index */
        assert_int_equal(sink_set_tag(s, im.manifest_d, MT_INDEX, 10, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "one image"));
        xarch_error_free(err);
        assert_int_equal(sink_set_tag(s, im.manifest_d, MT_MANIFEST, strlen(im.manifest), NULL), 0);
        assert_int_equal(sink_set_named_tag(s, "other", im.manifest_d, MT_MANIFEST, 1, NULL),
                        -ENOTSUP);
        assert_int_equal(sink_commit(s, NULL), 0);
        sink_free(s);

        char *mj = archive_member(path_of("d.tar"), "manifest.json", NULL);
        assert_non_null(mj);
        json_t *doc = json_loads(mj, 0, NULL);
        assert_int_equal(json_array_size(doc), 1);
        json_t *e = json_array_get(doc, 0);
        assert_string_equal(
                        json_string_value(json_object_get(e, "Config")), blob_member(im.config_d));
        assert_string_equal(json_string_value(json_array_get(json_object_get(e, "RepoTags"), 0)),
                        "xarch/demo:v1");
        assert_int_equal(json_array_size(json_object_get(e, "Layers")), 1);
        assert_string_equal(json_string_value(json_array_get(json_object_get(e, "Layers"), 0)),
                        blob_member(im.layer_d));
        json_decref(doc);
        free(mj);
        char *index = archive_member(path_of("d.tar"), "index.json", NULL);
        doc = json_loads(index, 0, NULL);
        json_t *ann = json_object_get(
                        json_array_get(json_object_get(doc, "manifests"), 0), "annotations");
        assert_string_equal(json_string_value(json_object_get(ann, "io.containerd.image.name")),
                        "docker.io/xarch/demo:v1");
        assert_string_equal(
                        json_string_value(json_object_get(ann, XARCH_ANNOTATION_REF_NAME)), "v1");
        json_decref(doc);
        free(index);
        char *config = archive_member(path_of("d.tar"), blob_member(im.config_d), NULL);
        assert_string_equal(config, im.config);
        free(config);

        /* a docker-archive is named, never addressed by digest */
        err = NULL;
        assert_true(sink_open(ctx,
                                    spec_of("docker-archive", "e.tar",
                                                    "x@sha256:"
                                                    "0000000000000000000000000000000000000000000000"
                                                    "000000"
                                                    "000000000000"),
                                    &s, &err) < 0);
        xarch_error_free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_oci_dir),
                        cmocka_unit_test(test_oci_lock),
                        cmocka_unit_test(test_oci_bad_blobs),
                        cmocka_unit_test(test_oci_refuses),
                        cmocka_unit_test(test_oci_archive),
                        cmocka_unit_test(test_archive_not_committed),
                        cmocka_unit_test(test_archive_planted_link),
                        cmocka_unit_test(test_docker_archive),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
