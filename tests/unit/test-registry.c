/* SPDX-License-Identifier: MIT */
/* The registry client against tests/servers/hostile.py: a python registry on 127.0.0.1 that
 * answers wrong digests, truncated and reset bodies, huge manifests, 429/500 storms, bearer and
 * basic auth challenges and cross-host redirects. Built twice: test-registry uses the default
 * transport for plain HTTP (http1.c), test-registry-curl (REGISTRY_TEST_CURL) sends the same
 * requests through libcurl. */
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "registry-test-util.h"
#include "registry/request.h"
#include "xarch/registry.h"

static struct test_server server;
static int port, storage_port;
static char cache_root[PATH_MAX];
static unsigned uniq;

/* Sha256 of the server's 300 KiB blob and its manifest are computed from what we fetch; these
 * are the expected sizes. */
#define BLOB_SIZE (300 * 1024)

static int group_setup(void **state) {
        char script[PATH_MAX];
        if (find_server_file("hostile.py", script, sizeof(script)) < 0) {
                fprintf(stderr, "# hostile.py not found\n");
                return -1;
        }
        if (test_server_start(script, &server) < 0 ||
                        sscanf(server.line, "%d %d", &port, &storage_port) != 2)
                return -1;
        setenv("XARCH_RETRY_BASE_MS", "5", 1);
#ifdef REGISTRY_TEST_CURL
        setenv("XARCH_HTTP", "curl", 1);
#else
        unsetenv("XARCH_HTTP");
#endif
        unsetenv("http_proxy");
        unsetenv("all_proxy");
        unsetenv("ALL_PROXY");
        /* no stray credentials from the environment */
        setenv("HOME", "/nonexistent", 1);
        unsetenv("REGISTRY_AUTH_FILE");
        unsetenv("XDG_RUNTIME_DIR");
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("DOCKER_CONFIG");
        snprintf(cache_root, sizeof(cache_root), "/tmp/xarch-test-registry-XXXXXX");
        if (!mkdtemp(cache_root))
                return -1;
        return 0;
}

static int group_teardown(void **state) {
        test_server_stop(&server);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache_root);
        if (system(cmd) != 0)
                return -1;
        return 0;
}

/* A unique reference for a scenario: 127.0.0.1:PORT/<scenario>/t<N>:tag */
static void ref_for(const char *scenario, struct xarch_ref *ref) {
        char s[256];
        snprintf(s, sizeof(s), "127.0.0.1:%d/%s/t%u:v1", port, scenario, ++uniq);
        assert_int_equal(xarch_ref_parse(s, ref, NULL), 0);
}

static struct xarch_registry *client(const char *cache_dir, const char *auth_file) {
        struct xarch_registry_options o = {
                        .cache_dir = cache_dir ? cache_dir : "", .auth_file = auth_file};
        struct xarch_registry *r = NULL;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_registry_new(&o, &r, &err), 0);
        assert_null(err);
        return r;
}

static void new_cache_dir(char *out, size_t size) {
        snprintf(out, size, "%s/cache%u", cache_root, ++uniq);
}

struct sink_buf {
        char *data;
        size_t len;
};

static int sink_collect(void *ud, const void *buf, size_t len) {
        struct sink_buf *b = ud;
        char *p = realloc(b->data, b->len + len);
        if (!p)
                return -ENOMEM;
        memcpy(p + b->len, buf, len);
        b->data = p;
        b->len += len;
        return 0;
}

static int count_files(const char *dir) {
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof(cmd), "find '%s' -type f 2>/dev/null | wc -l", dir);
        FILE *f = popen(cmd, "r");
        int n = -1;
        if (f) {
                if (fscanf(f, "%d", &n) != 1)
                        n = -1;
                pclose(f);
        }
        return n;
}

static char *manifest_digest; /* of the good manifest, learnt in the first test */
static char blob_digest[XARCH_DIGEST_MAX];

static void test_manifest_by_tag(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("good", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        assert_null(err);
        assert_string_equal(b.media_type, "application/vnd.oci.image.manifest.v1+json");
        char d[XARCH_DIGEST_MAX];
        xarch_digest_buffer(NULL, b.data, b.len, d);
        assert_string_equal(d, b.digest);
        assert_int_equal(b.data[b.len], '\0');
        manifest_digest = strdup(b.digest);
        /* the layer digest, for the blob tests */
        const char *layers = strstr(b.data, "\"layers\"");
        const char *dg = strstr(layers, "sha256:");
        memcpy(blob_digest, dg, 71);
        blob_digest[71] = '\0';
        assert_true(xarch_digest_valid(blob_digest));
        xarch_blob_buf_release(&b);

        char digest[XARCH_DIGEST_MAX], mt[256];
        assert_int_equal(xarch_registry_resolve(r, &ref, digest, mt, &err), 0);
        assert_string_equal(digest, manifest_digest);
        assert_string_equal(mt, "application/vnd.oci.image.manifest.v1+json");
        xarch_registry_free(r);
}

static bool libcurl_mapped(void) {
        FILE *f = fopen("/proc/self/maps", "r");
        char line[4096];
        bool found = false;
        assert_non_null(f);
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "/libcurl") != NULL;
        fclose(f);
        return found;
}

/* Plain HTTP needs no libcurl: it is loaded only when the libcurl transport is chosen (this
 * runs after test_manifest_by_tag has fetched a manifest). */
static void test_transport(void **state) {
#ifdef REGISTRY_TEST_CURL
        assert_true(libcurl_mapped());
#else
        assert_false(libcurl_mapped());
#endif
}

static void test_manifest_cache(void **state) {
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_registry_stats st;
        ref_for("good", &ref);
        struct xarch_registry *r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, manifest_digest, &b, NULL), 0);
        xarch_blob_buf_release(&b);
        xarch_registry_get_stats(r, &st);
        uint64_t requests = st.requests;
        assert_int_equal(st.cache_hits, 0);
        /* by digest: from the cache, no request */
        assert_int_equal(xarch_registry_get_manifest(r, &ref, manifest_digest, &b, NULL), 0);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.requests, requests);
        assert_int_equal(st.cache_hits, 1);
        assert_string_equal(b.digest, manifest_digest);
        assert_string_equal(b.media_type, "application/vnd.oci.image.manifest.v1+json");
        xarch_blob_buf_release(&b);
        /* by tag: one HEAD, then the cache */
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, NULL), 0);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.requests, requests + 1);
        assert_int_equal(st.cache_hits, 2);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);

        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", cache, manifest_digest + 7);
        /* private images' manifests stay private: owner-only entry and directories */
        struct stat st_entry, st_dir;
        assert_int_equal(stat(path, &st_entry), 0);
        assert_int_equal(st_entry.st_mode & 0077, 0);
        char dir[PATH_MAX * 2];
        snprintf(dir, sizeof(dir), "%s/blobs/sha256", cache);
        assert_int_equal(stat(dir, &st_dir), 0);
        assert_int_equal(st_dir.st_mode & 0077, 0);

        /* a corrupted entry is detected, dropped and fetched again */
        FILE *f = fopen(path, "r+");
        assert_non_null(f);
        fputc('X', f);
        fclose(f);
        r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, manifest_digest, &b, NULL), 0);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.cache_hits, 0);
        assert_string_equal(b.digest, manifest_digest);
        assert_int_equal(b.data[0], '{');
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);
}

static void test_blob_stream_and_cache(void **state) {
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        struct xarch_ref ref;
        struct sink_buf sb = {};
        struct xarch_registry_stats st;
        ref_for("good", &ref);
        struct xarch_registry *r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, NULL),
                        0);
        assert_int_equal(sb.len, BLOB_SIZE);
        char d[XARCH_DIGEST_MAX];
        xarch_digest_buffer(NULL, sb.data, sb.len, d);
        assert_string_equal(d, blob_digest);
        free(sb.data);
        sb = (struct sink_buf){};
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, NULL),
                        0);
        assert_int_equal(sb.len, BLOB_SIZE);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.cache_hits, 1);
        free(sb.data);

        /* a size cap below the blob's size */
        struct xarch_error *err = NULL;
        xarch_registry_free(r);
        r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 1000, NULL, NULL, &err),
                        -EFBIG);
        assert_non_null(strstr(err->msg, "larger than 1000 bytes"));
        xarch_error_freep(&err);
        /* get_blob_buf */
        struct xarch_blob_buf b = {};
        assert_int_equal(xarch_registry_get_blob_buf(r, &ref, blob_digest, 0, &b, NULL), 0);
        assert_int_equal(b.len, BLOB_SIZE);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);
}

/* A sink that, on its first call, changes a byte of the file at `path` that it has not been
 * given yet: a cache entry rewritten in place while it is streamed. */
struct changing_sink {
        const char *path;
        off_t at;
        unsigned calls;
};

static int sink_change_file(void *ud, const void *buf, size_t len) {
        (void) buf;
        (void) len;
        struct changing_sink *c = ud;
        if (c->calls++ == 0) {
                int fd = open(c->path, O_RDWR | O_CLOEXEC);
                unsigned char x = 0;
                assert_true(fd >= 0);
                assert_int_equal(pread(fd, &x, 1, c->at), 1);
                x ^= 0x5a;
                assert_int_equal(pwrite(fd, &x, 1, c->at), 1);
                close(fd);
        }
        return 0;
}

/* The cache entry checks out, then changes while it is streamed: the bytes the sink got are not
 * the blob, so the read fails (callers commit what it streamed on the strength of its answer) and
 * the entry is dropped. */
static void test_cache_entry_changed_while_streamed(void **state) {
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        struct xarch_ref ref;
        ref_for("good", &ref);
        struct xarch_registry *r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, NULL, NULL, NULL), 0);
        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", cache, blob_digest + 7);
        /* past the first 256 KiB read, so the change lands in bytes not yet streamed */
        struct changing_sink c = {.path = path, .at = BLOB_SIZE - 1000};
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_registry_get_blob(
                                         r, &ref, blob_digest, 0, sink_change_file, &c, &err),
                        -EIO);
        assert_true(c.calls >= 2);
        assert_non_null(strstr(err->msg, "changed while reading"));
        xarch_error_free(err);
        assert_int_equal(access(path, F_OK), -1); /* dropped: the next read fetches it again */
        xarch_registry_free(r);
}

/* A FIFO where a cache entry should be is a miss, not an open() that waits for a writer
 * forever; the verified download then replaces it. alarm() turns a hang into a failure. */
static void test_cache_fifo_entry(void **state) {
        char cache[PATH_MAX], dir[PATH_MAX + 32], path[PATH_MAX * 2];
        new_cache_dir(cache, sizeof(cache));
        snprintf(dir, sizeof(dir), "%s/blobs/sha256", cache);
        char cmd[sizeof(dir) + 16];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
        assert_int_equal(system(cmd), 0);
        const char *digests[] = {manifest_digest, blob_digest};
        for (size_t i = 0; i < 2; i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, digests[i] + 7);
                assert_int_equal(mkfifo(path, 0644), 0);
        }
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct sink_buf sb = {};
        ref_for("good", &ref);
        struct xarch_registry *r = client(cache, NULL);
        alarm(60);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, manifest_digest, &b, NULL), 0);
        assert_string_equal(b.digest, manifest_digest);
        xarch_blob_buf_release(&b);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, NULL),
                        0);
        alarm(0);
        assert_int_equal(sb.len, BLOB_SIZE);
        free(sb.data);
        for (size_t i = 0; i < 2; i++) {
                struct stat st;
                snprintf(path, sizeof(path), "%s/%s", dir, digests[i] + 7);
                assert_int_equal(lstat(path, &st), 0);
                assert_true(S_ISREG(st.st_mode));
        }
        xarch_registry_free(r);
}

static void test_wrong_digest(void **state) {
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("wrongdigest", &ref);
        struct xarch_registry *r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "digest mismatch"));
        xarch_error_freep(&err);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, NULL, NULL, &err),
                        -EBADMSG);
        assert_non_null(strstr(err->msg, "digest mismatch"));
        xarch_error_freep(&err);
        /* by tag without a cache: checked against Docker-Content-Digest */
        struct xarch_registry *nocache = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(nocache, &ref, NULL, &b, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "digest mismatch"));
        xarch_error_freep(&err);
        xarch_registry_free(nocache);
        /* nothing unverified was cached, and no temporary files were left behind */
        assert_int_equal(count_files(cache), 0);
        xarch_registry_free(r);
}

static void test_truncated(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        struct xarch_registry_stats st;
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        ref_for("truncated", &ref);
        struct xarch_registry *r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EIO);
        assert_non_null(strstr(err->msg, "closed before the whole body arrived"));
        xarch_error_freep(&err);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, NULL, NULL, &err), -EIO);
        xarch_error_freep(&err);
        xarch_registry_get_stats(r, &st);
        assert_true(st.retries >= 4);
        assert_int_equal(count_files(cache), 0);
        xarch_registry_free(r);
}

static void test_huge_manifest(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("huge", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EFBIG);
        assert_non_null(strstr(err->msg, "larger than 4194304 bytes"));
        xarch_error_freep(&err);
        assert_null(b.data);
        xarch_registry_free(r);
}

static void test_429_then_success(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_registry_stats st;
        ref_for("ratelimit", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, NULL), 0);
        xarch_blob_buf_release(&b);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.retries, 1);
        xarch_registry_free(r);
}

static void test_rate_limited(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("ratelimited", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EAGAIN);
        assert_non_null(strstr(err->msg, "rate limited"));
        assert_non_null(strstr(err->msg, "0 of 100 pulls remaining per 6 h"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

/* Many retries (max_retries is the caller's choice): the backoff shift stays defined (UBSan
 * flagged "shift exponent 64 is too large" here) and every retry is made. */
static void test_many_retries(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_registry_stats st;
        struct xarch_error *err = NULL;
        ref_for("ratelimited", &ref);
        setenv("XARCH_RETRY_BASE_MS", "0", 1); /* no sleeping: 70 retries */
        struct xarch_registry_options o = {.cache_dir = "", .max_retries = 70};
        struct xarch_registry *r = NULL;
        assert_int_equal(xarch_registry_new(&o, &r, NULL), 0);
        setenv("XARCH_RETRY_BASE_MS", "5", 1);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EAGAIN);
        assert_non_null(strstr(err->msg, "after 71 attempts"));
        xarch_error_freep(&err);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.retries, 70);
        xarch_registry_free(r);
}

static void test_500_then_success(void **state) {
        struct xarch_ref ref;
        struct xarch_registry_stats st;
        struct sink_buf sb = {};
        ref_for("fail500", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, NULL),
                        0);
        assert_int_equal(sb.len, BLOB_SIZE);
        free(sb.data);
        xarch_registry_get_stats(r, &st);
        assert_int_equal(st.retries, 2);
        xarch_registry_free(r);

        /* without retries the 500 is reported */
        struct xarch_registry_options o = {.cache_dir = "", .no_retry = true};
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_registry_new(&o, &r, NULL), 0);
        ref_for("fail500", &ref);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, NULL, NULL, &err), -EIO);
        assert_non_null(strstr(err->msg, "HTTP 500"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

static void test_reset_mid_body(void **state) {
        const char *scenarios[] = {"reset", "resetnorange"};
        for (size_t i = 0; i < 2; i++) {
                char cache[PATH_MAX];
                new_cache_dir(cache, sizeof(cache));
                struct xarch_ref ref;
                struct sink_buf sb = {};
                struct xarch_registry_stats st;
                ref_for(scenarios[i], &ref);
                struct xarch_registry *r = client(cache, NULL);
                assert_int_equal(xarch_registry_get_blob(
                                                 r, &ref, blob_digest, 0, sink_collect, &sb, NULL),
                                0);
                /* each byte reached the sink exactly once */
                assert_int_equal(sb.len, BLOB_SIZE);
                char d[XARCH_DIGEST_MAX];
                xarch_digest_buffer(NULL, sb.data, sb.len, d);
                assert_string_equal(d, blob_digest);
                free(sb.data);
                xarch_registry_get_stats(r, &st);
                assert_true(st.retries >= 1);
                assert_int_equal(count_files(cache), 1); /* verified, then cached */
                xarch_registry_free(r);
        }
}

/* A 206 must resume exactly where the dropped transfer stopped: one that starts at byte 0 must
 * not hand the sink the first half twice, one that skips bytes must fail, not leave a gap. */
static void test_reset_wrong_content_range(void **state) {
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        struct xarch_ref ref;
        struct sink_buf sb = {};
        ref_for("resetrange0", &ref);
        struct xarch_registry *r = client(cache, NULL);
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, &err),
                        0);
        assert_null(err);
        assert_int_equal(sb.len, BLOB_SIZE);
        char d[XARCH_DIGEST_MAX];
        xarch_digest_buffer(NULL, sb.data, sb.len, d);
        assert_string_equal(d, blob_digest);
        free(sb.data);
        assert_int_equal(count_files(cache), 1);
        xarch_registry_free(r);

        new_cache_dir(cache, sizeof(cache));
        sb = (struct sink_buf){};
        ref_for("resetgap", &ref);
        r = client(cache, NULL);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, &err),
                        -EIO);
        assert_non_null(strstr(err->msg, "did not resume"));
        assert_true(sb.len < BLOB_SIZE);
        free(sb.data);
        assert_int_equal(count_files(cache), 0); /* nothing unverified is cached */
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

static void test_no_digest_header(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        ref_for("nodigest", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, NULL), 0);
        assert_string_equal(b.digest, manifest_digest);
        xarch_blob_buf_release(&b);
        char digest[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_registry_resolve(r, &ref, digest, NULL, NULL), 0);
        assert_string_equal(digest, manifest_digest);
        xarch_registry_free(r);
}

static void test_unknown(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        char cache[PATH_MAX];
        new_cache_dir(cache, sizeof(cache));
        struct xarch_registry *r = client(cache, NULL);
        ref_for("nameunknown", &ref);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "NAME_UNKNOWN"));
        xarch_error_freep(&err);
        ref_for("tagunknown", &ref);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "MANIFEST_UNKNOWN"));
        assert_non_null(strstr(err->msg, "manifest 'v1'"));
        xarch_error_freep(&err);
        char digest[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_registry_resolve(r, &ref, digest, NULL, &err), -ENOENT);
        xarch_error_freep(&err);
        ref_for("good", &ref);
        const char *missing =
                        "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        assert_int_equal(xarch_registry_get_blob(r, &ref, missing, 0, NULL, NULL, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "BLOB_UNKNOWN"));
        xarch_error_freep(&err);
        assert_int_equal(xarch_registry_get_blob(r, &ref, "sha256:nothex", 0, NULL, NULL, &err),
                        -EINVAL);
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void write_auth_file(char *path, size_t size, const char *userpass) {
        char b64[256], json[512];
        /* base64 via the library's own user: compute with a shell for independence */
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "printf %%s '%s' | base64 -w0", userpass);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        assert_non_null(fgets(b64, sizeof(b64), p));
        pclose(p);
        snprintf(path, size, "%s/auth%u.json", cache_root, ++uniq);
        snprintf(json, sizeof(json), "{\"auths\":{\"127.0.0.1:%d\":{\"auth\":\"%s\"}}}", port, b64);
        write_file(path, json);
}

/* Whether a message or any file below dir holds one of the echoed credentials. */
static bool leaks(const char *msg) {
        static const char *const secrets[] = {"s3cret", "good-token", "YWxpY2U6czNjcmV0"};
        for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++)
                if (msg && strstr(msg, secrets[i]))
                        return true;
        return false;
}

static bool dir_leaks(const char *dir) {
        char cmd[PATH_MAX + 128];
        snprintf(cmd, sizeof(cmd),
                        "grep -rqaE 's3cret|good-token|YWxpY2U6czNjcmV0' '%s' 2>/dev/null", dir);
        return system(cmd) == 0;
}

/* A registry that echoes the credentials it was sent, wherever it puts them, gets none of them
 * into an error message, a returned document or the cache. */
static void test_echoed_credentials(void **state) {
        static const char *const manifest_scenarios[] = {
                        "echo403", "echo400", "echo500", "echo200"};
        char auth[PATH_MAX], cache[PATH_MAX];
        write_auth_file(auth, sizeof(auth), "alice:s3cret");
        new_cache_dir(cache, sizeof(cache));
        struct xarch_registry *r = client(cache, auth);
        for (size_t i = 0; i < sizeof(manifest_scenarios) / sizeof(*manifest_scenarios); i++) {
                struct xarch_ref ref;
                struct xarch_blob_buf b = {};
                struct xarch_error *err = NULL;
                ref_for(manifest_scenarios[i], &ref);
                int rc = xarch_registry_get_manifest(r, &ref, NULL, &b, &err);
                fprintf(stderr, "# %s: %d %s\n", manifest_scenarios[i], rc,
                                err ? err->msg : "(no error)");
                assert_true(rc < 0);
                assert_non_null(err);
                assert_false(leaks(err->msg));
                xarch_error_free(err);
        }
        /* a header: Content-Type echoes "Bearer <token>" */
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("echoheader", &ref);
        char digest[XARCH_DIGEST_MAX], media_type[256];
        assert_int_equal(xarch_registry_resolve(r, &ref, digest, media_type, &err), 0);
        assert_false(leaks(media_type));
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        assert_string_equal(b.media_type, "application/vnd.oci.image.manifest.v1+json");
        xarch_blob_buf_release(&b);
        /* a blob's bytes */
        ref_for("echoblob", &ref);
        struct sink_buf got = {};
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &got, &err),
                        -EBADMSG);
        fprintf(stderr, "# echoblob: %s\n", err->msg);
        assert_false(leaks(err->msg));
        assert_false(got.data && leaks(got.data));
        free(got.data);
        xarch_error_free(err);
        xarch_registry_free(r);
        assert_false(dir_leaks(cache));
}

/* Each error says what is actually wrong. */
static void test_errors_say_what_is_wrong(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        char cache[PATH_MAX];

        /* a redirect to port 99999 is a bad port, not "a non-https URL" */
        struct xarch_registry *r = client(NULL, NULL);
        ref_for("badport", &ref);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, NULL, NULL, &err),
                        -EBADMSG);
        fprintf(stderr, "# badport: %s\n", err->msg);
        assert_non_null(strstr(err->msg, "bad port"));
        assert_null(strstr(err->msg, "https"));
        xarch_error_freep(&err);
        /* the same in a token realm */
        ref_for("badrealm", &ref);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EBADMSG);
        fprintf(stderr, "# badrealm: %s\n", err->msg);
        assert_non_null(strstr(err->msg, "bad port"));
        assert_null(strstr(err->msg, "https"));
        xarch_error_freep(&err);
        xarch_registry_free(r);

        /* a malformed status line (on the first, scheme-probing request) is not a TLS error */
        r = client(NULL, NULL);
        ref_for("badstatus", &ref);
        int rc = xarch_registry_get_manifest(r, &ref, NULL, &b, &err);
        fprintf(stderr, "# badstatus: %s\n", err->msg);
        /* http1.c names the status line; libcurl says "Unsupported response code" */
        assert_true(rc == -EBADMSG || rc == -EIO);
        assert_non_null(strstr(err->msg, "response"));
        assert_null(strstr(err->msg, "TLS with"));
        xarch_error_freep(&err);
        xarch_registry_free(r);

        /* a wrong Docker-Content-Digest is a digest mismatch, not "manifest unknown": by tag
         * through the cache's HEAD, and without the cache */
        for (int with_cache = 0; with_cache < 2; with_cache++) {
                new_cache_dir(cache, sizeof(cache));
                r = client(with_cache ? cache : NULL, NULL);
                ref_for("wronglabel", &ref);
                assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EBADMSG);
                fprintf(stderr, "# wronglabel: %s\n", err->msg);
                assert_non_null(strstr(err->msg, "Docker-Content-Digest"));
                assert_null(strstr(err->msg, "unknown"));
                xarch_error_freep(&err);
                xarch_registry_free(r);
        }
}

static void test_bearer_anonymous(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_registry_stats st;
        ref_for("bearer", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, NULL), 0);
        xarch_blob_buf_release(&b);
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, NULL, NULL, NULL), 0);
        xarch_registry_get_stats(r, &st);
        /* one token for the scope, reused by the second call */
        assert_int_equal(st.token_requests, 1);
        xarch_registry_free(r);
}

static void test_bearer_credentials(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        char auth[PATH_MAX];

        ref_for("bearercreds", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EACCES);
        assert_non_null(strstr(err->msg, "unauthorized"));
        xarch_error_freep(&err);
        xarch_registry_free(r);

        write_auth_file(auth, sizeof(auth), "alice:s3cret");
        r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        assert_null(err);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);

        write_auth_file(auth, sizeof(auth), "alice:wrong-password-xyz");
        r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EACCES);
        assert_non_null(strstr(err->msg, "unauthorized"));
        assert_null(strstr(err->msg, "wrong-password-xyz"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

/* Bearer tokens are sent whole: a 10000-byte one works, a 20000-byte one fails with a clear
 * error instead of being cut short and refused. */
static void test_long_tokens(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("bigtoken", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        assert_null(err);
        assert_string_equal(b.digest, manifest_digest);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);

        ref_for("hugetoken", &ref);
        r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -ENOBUFS);
        assert_non_null(strstr(err->msg, "token longer than"));
        assert_null(strstr(err->msg, "hhhh"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

static void test_identity_token(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        char auth[PATH_MAX], json[256];
        /* docker's identitytoken: exchanged at the realm with a refresh-token POST */
        snprintf(auth, sizeof(auth), "%s/identity%u.json", cache_root, ++uniq);
        snprintf(json, sizeof(json),
                        "{\"auths\":{\"127.0.0.1:%d\":{\"identitytoken\":\"refresh-me\"}}}", port);
        write_file(auth, json);
        ref_for("bearercreds", &ref);
        struct xarch_registry *r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        assert_null(err);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);

        snprintf(json, sizeof(json), "{\"auths\":{\"127.0.0.1:%d\":{\"identitytoken\":\"stale\"}}}",
                        port);
        write_file(auth, json);
        r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EACCES);
        assert_null(strstr(err->msg, "stale"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

static void test_basic_auth(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        char auth[PATH_MAX];

        ref_for("basic", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EACCES);
        assert_non_null(strstr(err->msg, "authentication required"));
        xarch_error_freep(&err);
        xarch_registry_free(r);

        write_auth_file(auth, sizeof(auth), "alice:s3cret");
        r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);

        write_auth_file(auth, sizeof(auth), "alice:nope-nope");
        r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EACCES);
        assert_non_null(strstr(err->msg, "credentials rejected"));
        assert_null(strstr(err->msg, "nope-nope"));
        xarch_error_freep(&err);
        xarch_registry_free(r);

        /* a long password (auth files may hold up to 8 KiB) is sent whole, and refused here */
        static char json[16384];
        char password[7001];
        memset(password, 'p', sizeof(password) - 1);
        password[sizeof(password) - 1] = '\0';
        snprintf(json, sizeof(json),
                        "{\"auths\":{\"127.0.0.1:%d\":{\"username\":\"alice\",\"password\":\"%s\"}}"
                        "}",
                        port, password);
        snprintf(auth, sizeof(auth), "%s/auth%u.json", cache_root, ++uniq);
        write_file(auth, json);
        r = client(NULL, auth);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EACCES);
        assert_non_null(strstr(err->msg, "credentials rejected"));
        assert_null(strstr(err->msg, "pppp"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

static void test_redirect_drops_authorization(void **state) {
        struct xarch_ref ref;
        struct sink_buf sb = {};
        struct xarch_error *err = NULL;
        ref_for("redirect", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        /* the storage host answers 400 when Authorization reaches it */
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &sb, &err),
                        0);
        assert_null(err);
        assert_int_equal(sb.len, BLOB_SIZE);
        free(sb.data);
        xarch_registry_free(r);
}

static void test_bad_challenge(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("badchallenge", &ref);
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "malformed WWW-Authenticate"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

/* A loopback port that was free a moment ago. */
static int closed_port(void) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof(a);
        assert_int_equal(bind(s, (struct sockaddr *) &a, sizeof(a)), 0);
        getsockname(s, (struct sockaddr *) &a, &al);
        close(s);
        return ntohs(a.sin_port);
}

/* A configured proxy is honoured for plain HTTP too (through libcurl): with a proxy that
 * refuses connections, a registry that answers fine becomes unreachable. */
static void test_proxy(void **state) {
        struct xarch_ref ref;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        char proxy[64];
        snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", closed_port());
        unsetenv("no_proxy");
        unsetenv("NO_PROXY");
        setenv("http_proxy", proxy, 1);
        ref_for("good", &ref);
        struct xarch_registry *r = client("", NULL);
        int rc = xarch_registry_get_manifest(r, &ref, NULL, &b, &err);
        unsetenv("http_proxy");
        assert_int_equal(rc, -EHOSTUNREACH);
        assert_non_null(strstr(err->msg, "unreachable"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
        /* and without it, the same request succeeds */
        r = client("", NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), 0);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);
}

#ifndef REGISTRY_TEST_CURL
/* Bytes a server sends on a kept-alive connection after its response are not the answer to
 * the next request: the connection is dropped instead of reused. */
static void test_stray_bytes(void **state) {
        struct xarch_ref stray, good;
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        ref_for("straybytes", &stray);
        ref_for("good", &good);
        struct xarch_registry *r = client("", NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &stray, NULL, &b, &err), -ENOENT);
        xarch_error_freep(&err);
        struct timespec pause = {.tv_nsec = 200 * 1000000L};
        nanosleep(&pause, NULL); /* the stray bytes arrive meanwhile */
        assert_int_equal(xarch_registry_get_manifest(r, &good, manifest_digest, &b, &err), 0);
        assert_null(err);
        xarch_blob_buf_release(&b);
        xarch_registry_free(r);
}
#endif

static void test_unreachable(void **state) {
        char str[128];
        snprintf(str, sizeof(str), "127.0.0.1:%d/x/y:z", closed_port());
        struct xarch_ref ref;
        assert_int_equal(xarch_ref_parse(str, &ref, NULL), 0);
        struct xarch_blob_buf b = {};
        struct xarch_error *err = NULL;
        struct xarch_registry *r = client(NULL, NULL);
        assert_int_equal(xarch_registry_get_manifest(r, &ref, NULL, &b, &err), -EHOSTUNREACH);
        assert_non_null(strstr(err->msg, "unreachable"));
        xarch_error_freep(&err);
        xarch_registry_free(r);
}

struct thread_arg {
        struct xarch_registry *r;
        struct xarch_ref ref;
        int rc;
        size_t len;
};

static void *thread_main(void *p) {
        struct thread_arg *a = p;
        struct sink_buf sb = {};
        struct xarch_blob_buf b = {};
        a->rc = xarch_registry_get_manifest(a->r, &a->ref, NULL, &b, NULL);
        xarch_blob_buf_release(&b);
        if (a->rc == 0)
                a->rc = xarch_registry_get_blob(
                                a->r, &a->ref, blob_digest, 0, sink_collect, &sb, NULL);
        a->len = sb.len;
        free(sb.data);
        return NULL;
}

static void test_threads_share_client(void **state) {
        struct xarch_registry_options o = {.cache_dir = "", .max_per_registry = 2};
        struct xarch_registry *r = NULL;
        assert_int_equal(xarch_registry_new(&o, &r, NULL), 0);
        struct thread_arg args[8];
        pthread_t th[8];
        for (int i = 0; i < 8; i++) {
                args[i] = (struct thread_arg){.r = r};
                ref_for(i % 2 ? "good" : "bearer", &args[i].ref);
                assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(args[i].rc, 0);
                assert_int_equal(args[i].len, BLOB_SIZE);
        }
        struct xarch_registry_stats st;
        xarch_registry_get_stats(r, &st);
        /* at most 2 parallel connections to the registry plus the token host (the same
         * server) and the failed TLS probe: far fewer connections than requests */
        assert_true(st.connections < st.requests);
        xarch_registry_free(r);
}

/* A client whose requests have a short overall deadline (2 s plus 1 s per 32 KiB moved). */
static struct xarch_registry *client_short_deadline(void) {
        setenv("XARCH_HTTP_DEADLINE_MS", "2000", 1);
        struct xarch_registry *r = client(NULL, NULL);
        unsetenv("XARCH_HTTP_DEADLINE_MS");
        return r;
}

/* Servers that keep sending, each byte within the stall detector's patience, never finish:
 * the overall deadline ends every one of them, on both transports. */
static void test_deadline_tricklers(void **state) {
        static const char *const scenarios[] = {
                        "slowbody", "slowheaders", "endless1xx", "endlesstrailers"};
        struct xarch_registry *r = client_short_deadline();
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(*scenarios); i++) {
                struct xarch_ref ref;
                struct xarch_blob_buf b = {};
                struct xarch_error *err = NULL;
                ref_for(scenarios[i], &ref);
                int rc = xarch_registry_get_manifest(r, &ref, NULL, &b, &err);
                fprintf(stderr, "# %s: %s\n", scenarios[i], err ? err->msg : "(no error)");
                assert_int_equal(rc, -EHOSTUNREACH);
                assert_non_null(err);
                assert_non_null(strstr(err->msg, "deadline"));
                xarch_error_free(err);
        }
        /* a blob trickled the same way */
        struct xarch_ref ref;
        struct xarch_error *err = NULL;
        ref_for("slowbody", &ref);
        struct sink_buf got = {};
        assert_int_equal(xarch_registry_get_blob(r, &ref, blob_digest, 0, sink_collect, &got, &err),
                        -EHOSTUNREACH);
        assert_non_null(strstr(err->msg, "deadline"));
        xarch_error_free(err);
        free(got.data);
        xarch_registry_free(r);
}

/* A large blob that keeps moving finishes although it takes longer than the base deadline. */
static void test_deadline_large_blob(void **state) {
        size_t n = 8u * 1024 * 1024;
        char *big = malloc(n);
        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
                big[i] = (char) ((i * 31 + (i >> 12)) & 0xff);
        char digest[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_digest_buffer(NULL, big, n, digest), 0);
        struct xarch_registry *r = client_short_deadline();
        struct xarch_ref ref;
        struct xarch_error *err = NULL;
        ref_for("fastbig", &ref);
        struct sink_buf got = {};
        assert_int_equal(xarch_registry_get_blob(r, &ref, digest, n, sink_collect, &got, &err), 0);
        assert_null(err);
        assert_int_equal(got.len, n);
        assert_memory_equal(got.data, big, n);
        free(got.data);
        free(big);
        xarch_registry_free(r);
}

/* A read callback that hands out a buffer in pieces of at most 1000 bytes (no rewind). */
struct piece_source {
        const char *data;
        size_t len, pos;
};

static ssize_t piece_read(void *ud, void *buf, size_t len) {
        struct piece_source *p = ud;
        size_t n = p->len - p->pos;
        if (n > len)
                n = len;
        if (n > 1000)
                n = 1000;
        memcpy(buf, p->data + p->pos, n);
        p->pos += n;
        return (ssize_t) n;
}

/* What the upload engine builds on (request.h): POST, a chunked PATCH from a callback, a PUT
 * from an fd with Content-Length, each with a push-scoped token, answers' headers read back;
 * then the blob pulls. "fail" in the name: the PUT first meets a 500 and is resent from the fd. */
static void upload_blob(const char *scenario) {
        struct xarch_ref ref;
        struct xarch_error *err = NULL;
        ref_for(scenario, &ref);
        struct xarch_registry *r = client(NULL, NULL);
        char data[5000];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (char) (i * 13 + 5);
        char digest[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_digest_buffer(NULL, data, sizeof(data), digest), 0);

        struct http_req *q = calloc(1, sizeof(*q));
        assert_non_null(q);
        bool sent = false;
        q->method = "POST";
        assert_int_equal(registry_request(r, &ref, "blobs/uploads/", q, REQ_PUSH, &sent, &err), 0);
        assert_null(err);
        assert_int_equal(q->status, 202);
        assert_non_null(strstr(q->location, "/blobs/uploads/"));
        assert_true(q->upload_uuid[0] == 'u');
        assert_int_equal(q->chunk_min_length, 1024);
        char url[URL_MAX];
        snprintf(url, sizeof(url), "%s", q->location);

        /* the first 2000 bytes as a chunked PATCH from a callback */
        struct piece_source src = {.data = data, .len = 2000};
        struct http_body cb_body = {.fd = -1, .read = piece_read, .ud = &src, .length = -1};
        memset(q, 0, sizeof(*q));
        q->method = "PATCH";
        q->body = &cb_body;
        q->body_type = "application/octet-stream";
        assert_int_equal(registry_request(r, &ref, url, q, REQ_URL | REQ_PUSH, &sent, &err), 0);
        assert_null(err);
        assert_int_equal(q->status, 202);
        assert_string_equal(q->range, "0-1999");
        snprintf(url, sizeof(url), "%s", q->location);

        /* the rest with the final PUT, from an fd at an offset */
        char path[] = "/tmp/xarch-upload-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write(fd, data, sizeof(data)), (ssize_t) sizeof(data));
        struct http_body fd_body = {.fd = fd, .offset = 2000, .length = sizeof(data) - 2000};
        char target[URL_MAX + XARCH_DIGEST_MAX + 16];
        snprintf(target, sizeof(target), "%s&digest=%s", url, digest);
        memset(q, 0, sizeof(*q));
        q->method = "PUT";
        q->body = &fd_body;
        q->body_type = "application/octet-stream";
        assert_int_equal(registry_request(r, &ref, target, q, REQ_URL | REQ_PUSH, &sent, &err), 0);
        assert_null(err);
        assert_int_equal(q->status, 201);
        assert_string_equal(q->docker_digest, digest);
        close(fd);
        free(q);

        struct sink_buf got = {};
        assert_int_equal(xarch_registry_get_blob(r, &ref, digest, 0, sink_collect, &got, &err), 0);
        assert_null(err);
        assert_int_equal(got.len, sizeof(data));
        assert_memory_equal(got.data, data, sizeof(data));
        free(got.data);
        xarch_registry_free(r);
}

static void test_upload_request(void **state) {
        upload_blob("upload");
        upload_blob("upload/fail");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_manifest_by_tag),
                        cmocka_unit_test(test_transport),
                        cmocka_unit_test(test_manifest_cache),
                        cmocka_unit_test(test_blob_stream_and_cache),
                        cmocka_unit_test(test_cache_fifo_entry),
                        cmocka_unit_test(test_cache_entry_changed_while_streamed),
                        cmocka_unit_test(test_wrong_digest),
                        cmocka_unit_test(test_truncated),
                        cmocka_unit_test(test_huge_manifest),
                        cmocka_unit_test(test_429_then_success),
                        cmocka_unit_test(test_rate_limited),
                        cmocka_unit_test(test_many_retries),
                        cmocka_unit_test(test_500_then_success),
                        cmocka_unit_test(test_reset_mid_body),
                        cmocka_unit_test(test_reset_wrong_content_range),
                        cmocka_unit_test(test_no_digest_header),
                        cmocka_unit_test(test_unknown),
                        cmocka_unit_test(test_bearer_anonymous),
                        cmocka_unit_test(test_bearer_credentials),
                        cmocka_unit_test(test_long_tokens),
                        cmocka_unit_test(test_identity_token),
                        cmocka_unit_test(test_basic_auth),
                        cmocka_unit_test(test_redirect_drops_authorization),
                        cmocka_unit_test(test_bad_challenge),
                        cmocka_unit_test(test_unreachable),
                        cmocka_unit_test(test_proxy),
#ifndef REGISTRY_TEST_CURL
                        /* libcurl 7.88 reuses such a connection and reads the stray bytes as the
                         * next response (which then fails verification; nothing is cached):
                         * this is http1.c's behaviour only */
                        cmocka_unit_test(test_stray_bytes),
#endif
                        cmocka_unit_test(test_threads_share_client),
                        cmocka_unit_test(test_upload_request),
                        cmocka_unit_test(test_echoed_credentials),
                        cmocka_unit_test(test_errors_say_what_is_wrong),
                        cmocka_unit_test(test_deadline_tricklers),
                        cmocka_unit_test(test_deadline_large_blob),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
