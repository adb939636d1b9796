/* SPDX-License-Identifier: MIT */
/*
 * The same facts about a binary whether read from a file or streamed from a layer: every fixture
 * binary (and the large ones, npm's esbuild and a Go binary padded past the capture limit, which
 * a stream keeps only in parts) is analysed with xarch_file_analyze_path() and again inside a tar
 * layer pushed through the layer scanner, gzip'd or not, in odd-sized pieces; the two results
 * must be identical field for field.
 */
#include <dirent.h>
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
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "macro.h"
#include "xarch/digest.h"
#include "xarch/file.h"
#include "xarch/layer.h"

static const char *fixtures(void) {
        const char *d = getenv("XARCH_FIXTURES");
        return d && *d ? d : NULL;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        uint8_t *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t done = 0;
        while (done < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + done, (size_t) st.st_size - done);
                if (n <= 0) {
                        free(buf);
                        return n < 0 ? -errno : -EIO;
                }
                done += (size_t) n;
        }
        *ret = buf;
        *ret_len = done;
        return 0;
}

/* One ustar member "bin/f" holding data, then the two zero blocks. */
static uint8_t *make_tar(const uint8_t *data, size_t len, size_t *ret_len) {
        size_t padded = (len + 511) / 512 * 512;
        size_t total = 512 + padded + 1024;
        uint8_t *t = calloc(1, total);
        assert_non_null(t);
        char *h = (char *) t;
        snprintf(h, 100, "bin/f");
        snprintf(h + 100, 8, "%07o", 0755);
        snprintf(h + 108, 8, "%07o", 0);
        snprintf(h + 116, 8, "%07o", 0);
        snprintf(h + 124, 12, "%011zo", len);
        snprintf(h + 136, 12, "%011o", 0);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += t[i];
        snprintf(h + 148, 8, "%06o", sum);
        h[155] = ' ';
        memcpy(t + 512, data, len);
        *ret_len = total;
        return t;
}

static uint8_t *gzip_bytes(const uint8_t *in, size_t len, size_t *ret_len) {
        z_stream z = {0};
        assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                        Z_OK);
        size_t cap = deflateBound(&z, len);
        uint8_t *out = malloc(cap);
        assert_non_null(out);
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        *ret_len = cap - z.avail_out;
        deflateEnd(&z);
        return out;
}

static struct xarch_layer *stream(const uint8_t *blob, size_t len, size_t piece) {
        struct xarch_layer_scanner *s = NULL;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_layer_scanner_new(XARCH_COMPRESSION_AUTO, &s, &err), 0);
        for (size_t off = 0; off < len; off += piece) {
                size_t n = len - off < piece ? len - off : piece;
                int r = xarch_layer_scanner_feed(s, blob + off, n, &err);
                if (r < 0)
                        fail_msg("feed: %s", err ? err->msg : "?");
        }
        struct xarch_layer *l = NULL;
        int r = xarch_layer_scanner_finish(s, &l, &err);
        if (r < 0)
                fail_msg("finish: %s", err ? err->msg : "?");
        xarch_layer_scanner_free(s);
        return l;
}

static unsigned n_checked, n_partial;

/* Analyses path both ways and requires the same answer. */
static void check_both_ways(const char *path) {
        struct xarch_file_info direct;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_file_analyze_path(NULL, path, &direct, &err), 0);
        if (direct.kind != XARCH_FILE_ELF && direct.kind != XARCH_FILE_SCRIPT &&
                        direct.kind != XARCH_FILE_PE && direct.kind != XARCH_FILE_MACHO &&
                        direct.kind != XARCH_FILE_MACHO_FAT)
                return; /* a layer analyses only files that look executable */
        uint8_t *data = NULL;
        size_t len = 0;
        assert_int_equal(read_file(path, &data, &len), 0);
        size_t tar_len = 0;
        uint8_t *tar = make_tar(data, len, &tar_len);
        size_t gz_len = 0;
        uint8_t *gz = gzip_bytes(tar, tar_len, &gz_len);
        /* plain in odd pieces, gzip in big ones: the decompressor's chunking differs too */
        const struct {
                const uint8_t *blob;
                size_t len, piece;
        } runs[] = {{tar, tar_len, 7919}, {gz, gz_len, 1u << 20}};
        for (size_t k = 0; k < ELEMENTSOF(runs); k++) {
                struct xarch_layer *l = stream(runs[k].blob, runs[k].len, runs[k].piece);
                assert_int_equal(l->n_entries, 1);
                const struct xarch_layer_entry *e = &l->entries[0];
                assert_non_null(e->info);
                char a[512], b[512];
                xarch_file_describe(&direct, a, sizeof(a));
                xarch_file_describe(e->info, b, sizeof(b));
                if (strcmp(a, b) != 0 || memcmp(&direct, e->info, sizeof(direct)) != 0)
                        fail_msg("%s differs when streamed (%s):\n  file:   %s\n  stream: %s", path,
                                        k ? "gzip" : "tar", a, b);
                n_partial += e->partial;
                xarch_layer_free(l);
        }
        n_checked++;
        free(gz);
        free(tar);
        free(data);
}

static void walk(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                struct stat st;
                if (lstat(path, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        walk(path);
                else if (S_ISREG(st.st_mode))
                        check_both_ways(path);
        }
        closedir(d);
}

static void test_every_fixture(void **state) {
        const char *d = fixtures();
        if (!d) {
                print_message("XARCH_FIXTURES not set: run tests/fixtures/make-fixtures.sh\n");
                skip();
        }
        n_checked = n_partial = 0;
        walk(d);
        print_message("%u binaries, %u of them kept in parts when streamed\n", n_checked,
                        n_partial);
        assert_true(n_checked > 20);
}

/* The large Go binaries, by name, so that a missing fixture shows as a skip, not a pass. */
static void large_go(const char *rel) {
        const char *d = fixtures();
        char path[4096];
        if (!d)
                skip();
        snprintf(path, sizeof(path), "%s/%s", d, rel);
        if (access(path, R_OK) < 0) {
                print_message("%s missing: run tests/fixtures/make-fixtures.sh\n", rel);
                skip();
        }
        struct xarch_file_info info;
        assert_int_equal(xarch_file_analyze_path(NULL, path, &info, NULL), 0);
        assert_true(info.size > XARCH_LAYER_FULL_MAX);
        assert_int_equal(info.language, XARCH_LANG_GO);
        assert_true(strncmp(info.go.version, "go1.", 4) == 0);
        n_partial = 0;
        check_both_ways(path);
        assert_int_equal(n_partial, 2);
}

static void test_esbuild_amd64(void **state) {
        large_go("npm/esbuild-linux-x64");
}

static void test_esbuild_arm64(void **state) {
        large_go("npm/esbuild-linux-arm64");
}

static void test_go_padded(void **state) {
        large_go("go/hello-padded-amd64");
}

/* The diff_id is the SHA-256 of every uncompressed byte, the zero blocks and anything after them
 * included (a runtime hashes the stream to its end), whatever the compression and the pieces:
 * plain, one gzip member, two members split inside the tar. */
static void test_diff_id(void **state) {
        static const uint8_t script[] = "#!/bin/sh\necho hello\n";
        size_t tar_len = 0;
        uint8_t *tar0 = make_tar(script, sizeof(script) - 1, &tar_len);
        /* 10 KiB of zero padding after the end-of-archive blocks, as some writers leave */
        size_t padded_len = tar_len + 10240;
        uint8_t *tar = calloc(1, padded_len);
        assert_non_null(tar);
        memcpy(tar, tar0, tar_len);
        free(tar0);
        char want[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_digest_buffer(NULL, tar, padded_len, want), 0);

        size_t gz_len = 0, a_len = 0, b_len = 0;
        uint8_t *gz = gzip_bytes(tar, padded_len, &gz_len);
        uint8_t *a = gzip_bytes(tar, 700, &a_len);
        uint8_t *b = gzip_bytes(tar + 700, padded_len - 700, &b_len);
        uint8_t *two = malloc(a_len + b_len);
        assert_non_null(two);
        memcpy(two, a, a_len);
        memcpy(two + a_len, b, b_len);
        const struct {
                const uint8_t *blob;
                size_t len, piece;
        } runs[] = {{tar, padded_len, 1}, {tar, padded_len, 4096}, {gz, gz_len, 13},
                        {two, a_len + b_len, 100000}};
        for (size_t k = 0; k < ELEMENTSOF(runs); k++) {
                struct xarch_layer *l = stream(runs[k].blob, runs[k].len, runs[k].piece);
                assert_string_equal(l->diff_id, want);
                assert_int_equal(l->uncompressed_bytes, padded_len);
                assert_int_equal(l->n_analysed, 1);
                xarch_layer_free(l);
        }
        /* one byte fewer is another diff_id */
        struct xarch_layer *l = stream(tar, padded_len - 1, 4096);
        assert_string_not_equal(l->diff_id, want);
        xarch_layer_free(l);
        free(two);
        free(a);
        free(b);
        free(gz);
        free(tar);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_every_fixture),
                        cmocka_unit_test(test_esbuild_amd64),
                        cmocka_unit_test(test_esbuild_arm64),
                        cmocka_unit_test(test_go_padded),
                        cmocka_unit_test(test_diff_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
