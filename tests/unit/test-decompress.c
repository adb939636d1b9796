/* SPDX-License-Identifier: MIT */
/* Streaming decompression (gzip through zlib, zstd through libzstd, none) fed in chunks of many
 * sizes, with hostile streams (truncated, corrupt CRC, trailing garbage, contradicting media
 * types), and the layer scanner over tar archives written by libarchive (the independent
 * oracle), gzip'd and zstd'd by libarchive's own filters. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#include "image/decompress.h"
#include "xarch/compression.h"
#include "xarch/layer.h"

struct outbuf {
        uint8_t *data;
        size_t len, cap;
        int fail_after; /* make the sink fail after this many calls (0 = never) */
        int calls;
};

static int out_sink(void *userdata, const void *buf, size_t len) {
        struct outbuf *o = userdata;
        if (o->fail_after && ++o->calls >= o->fail_after)
                return -ECANCELED;
        if (o->len + len > o->cap) {
                o->cap = (o->len + len) * 2;
                o->data = realloc(o->data, o->cap);
                assert_non_null(o->data);
        }
        memcpy(o->data + o->len, buf, len);
        o->len += len;
        return 0;
}

static uint8_t *sample(size_t n) {
        uint8_t *p = malloc(n);
        assert_non_null(p);
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245 + 12345;
                /* compressible but not trivial */
                p[i] = (uint8_t) ((i % 97 < 50) ? 'a' + (i % 7) : (x >> 16));
        }
        return p;
}

static size_t gzip_member(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
        z_stream z = {0};
        assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                        Z_OK);
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) n;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        size_t len = z.total_out;
        deflateEnd(&z);
        return len;
}

/* Feeds in chunks of `chunk` bytes; returns the first error. */
static int run(enum xarch_compression announced, const uint8_t *in, size_t n, size_t chunk,
                struct outbuf *o) {
        struct decompressor *d = NULL;
        assert_int_equal(decompressor_new(announced, out_sink, o, &d, NULL), 0);
        int r = 0;
        for (size_t off = 0; off < n && r >= 0; off += chunk)
                r = decompressor_feed(d, in + off, n - off < chunk ? n - off : chunk, NULL);
        if (r >= 0)
                r = decompressor_finish(d, NULL);
        decompressor_free(d);
        return r;
}

static const size_t chunks[] = {1, 3, 4, 7, 512, 65536, 1u << 30};

/* A bomb: 8 MiB of zeros in a few KiB of gzip and zstd stops at the limit with a clear error
 * (the real limit, DECOMPRESS_LIMIT, is lowered here so the test stays small). */
static void test_decompress_limit(void **state) {
        (void) state;
        size_t n = 8u << 20;
        uint8_t *zeros = calloc(1, n), *packed = malloc(n);
        assert_non_null(zeros);
        assert_non_null(packed);
        size_t gl = gzip_member(zeros, n, packed, n);
        size_t zl = ZSTD_compress(packed + gl, n - gl, zeros, n, 3);
        assert_false(ZSTD_isError(zl));
        assert_true(gl + zl < 64 * 1024);
        for (int kind = 0; kind < 2; kind++) {
                struct outbuf o = {0};
                struct decompressor *d = NULL;
                struct xarch_error *err = NULL;
                assert_int_equal(decompressor_new(XARCH_COMPRESSION_AUTO, out_sink, &o, &d, NULL),
                                0);
                decompressor_set_limit(d, 1u << 20);
                int r = decompressor_feed(d, kind ? packed + gl : packed, kind ? zl : gl, &err);
                assert_int_equal(r, -EFBIG);
                assert_non_null(err);
                assert_non_null(strstr(err->msg, "decompresses to more than 1048576 bytes"));
                assert_true(o.len <= 1u << 20);
                xarch_error_free(err);
                decompressor_free(d);
                free(o.data);
        }
        free(zeros);
        free(packed);
}

static void test_gzip_roundtrip(void **state) {
        (void) state;
        size_t n = 1 << 20;
        uint8_t *src = sample(n), *gz = malloc(2 * n);
        size_t gl = gzip_member(src, n, gz, 2 * n);
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                if (chunks[c] == 1 && gl > 200000)
                        continue;
                struct outbuf o = {0};
                assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl, chunks[c], &o), 0);
                assert_int_equal(o.len, n);
                assert_memory_equal(o.data, src, n);
                free(o.data);
        }
        free(src);
        free(gz);
}

static void test_gzip_multi_member(void **state) {
        (void) state;
        size_t n = 300000;
        uint8_t *src = sample(n), *gz = malloc(3 * n);
        size_t a = gzip_member(src, 1000, gz, 3 * n);
        size_t b = gzip_member(src + 1000, n - 1000, gz + a, 3 * n - a);
        size_t e = gzip_member(src, 0, gz + a + b, 3 * n - a - b); /* an empty third member */
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                struct outbuf o = {0};
                assert_int_equal(run(XARCH_COMPRESSION_AUTO, gz, a + b + e, chunks[c], &o), 0);
                assert_int_equal(o.len, n);
                assert_memory_equal(o.data, src, n);
                free(o.data);
        }
        free(src);
        free(gz);
}

static void test_gzip_hostile(void **state) {
        (void) state;
        size_t n = 100000;
        uint8_t *src = sample(n), *gz = malloc(2 * n + 64);
        size_t gl = gzip_member(src, n, gz, 2 * n);
        struct outbuf o = {0};
        /* truncated anywhere */
        size_t cuts[] = {1, 3, 10, gl / 2, gl - 8, gl - 1};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
                o.len = 0;
                assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, cuts[i], 4096, &o), -EBADMSG);
        }
        /* trailing garbage and trailing zeros */
        memcpy(gz + gl, "garbage!", 8);
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl + 8, 4096, &o), -EBADMSG);
        memset(gz + gl, 0, 8);
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl + 8, 4096, &o), -EBADMSG);
        /* a second member with a bad header */
        gz[gl] = 0x1f;
        gz[gl + 1] = 0x00;
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl + 8, 4096, &o), -EBADMSG);
        /* CRC-32 and ISIZE are checked */
        gz[gl - 8] ^= 0xff;
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl, 4096, &o), -EBADMSG);
        gz[gl - 8] ^= 0xff;
        gz[gl - 2] ^= 0x01;
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl, 4096, &o), -EBADMSG);
        gz[gl - 2] ^= 0x01;
        /* corrupt deflate data */
        gz[gl / 2] ^= 0x55;
        gz[gl / 2 + 1] ^= 0xaa;
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, gl, 4096, &o), -EBADMSG);
        /* empty input */
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, gz, 0, 4096, &o), -EBADMSG);
        free(o.data);
        free(src);
        free(gz);
}

static void test_zstd(void **state) {
        (void) state;
        size_t n = 700000;
        uint8_t *src = sample(n);
        size_t cap = ZSTD_compressBound(n) * 2;
        uint8_t *z = malloc(cap);
        size_t a = ZSTD_compress(z, cap, src, 5000, 3);
        assert_false(ZSTD_isError(a));
        size_t b = ZSTD_compress(z + a, cap - a, src + 5000, n - 5000, 3);
        assert_false(ZSTD_isError(b));
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                if (chunks[c] == 1)
                        continue;
                struct outbuf o = {0};
                assert_int_equal(run(XARCH_COMPRESSION_ZSTD, z, a + b, chunks[c], &o), 0);
                assert_int_equal(o.len, n);
                assert_memory_equal(o.data, src, n);
                free(o.data);
        }
        struct outbuf o = {0};
        assert_int_equal(run(XARCH_COMPRESSION_ZSTD, z, a + b - 3, 4096, &o), -EBADMSG);
        memcpy(z + a + b, "junkjunk", 8);
        assert_int_equal(run(XARCH_COMPRESSION_ZSTD, z, a + b + 8, 4096, &o), -EBADMSG);
        assert_int_equal(run(XARCH_COMPRESSION_ZSTD, z, 2, 4096, &o), -EBADMSG);
        free(o.data);
        free(src);
        free(z);
}

static void test_media_type_and_magic(void **state) {
        (void) state;
        enum xarch_compression c;
        assert_int_equal(xarch_compression_from_media_type(
                                         "application/vnd.oci.image.layer.v1.tar+gzip", &c),
                        0);
        assert_int_equal(c, XARCH_COMPRESSION_GZIP);
        assert_int_equal(xarch_compression_from_media_type(
                                         "application/vnd.oci.image.layer.v1.tar+zstd", &c),
                        0);
        assert_int_equal(c, XARCH_COMPRESSION_ZSTD);
        assert_int_equal(xarch_compression_from_media_type(
                                         "application/vnd.oci.image.layer.v1.tar", &c),
                        0);
        assert_int_equal(c, XARCH_COMPRESSION_NONE);
        assert_int_equal(xarch_compression_from_media_type(
                                         "application/vnd.docker.image.rootfs.diff.tar.gzip", &c),
                        0);
        assert_int_equal(c, XARCH_COMPRESSION_GZIP);
        assert_int_equal(
                        xarch_compression_from_media_type(
                                        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                                        &c),
                        0);
        assert_int_equal(c, XARCH_COMPRESSION_GZIP);
        assert_int_equal(xarch_compression_from_media_type(
                                         "application/vnd.oci.image.config.v1+json", &c),
                        -EPROTONOSUPPORT);
        assert_int_equal(xarch_compression_from_media_type("", &c), 0);
        assert_int_equal(c, XARCH_COMPRESSION_AUTO);

        uint8_t src[100];
        memset(src, 'x', sizeof(src));
        uint8_t gz[256], zs[256];
        size_t gl = gzip_member(src, sizeof(src), gz, sizeof(gz));
        size_t zl = ZSTD_compress(zs, sizeof(zs), src, sizeof(src), 1);
        assert_int_equal(decompress_detect(gz, gl), XARCH_COMPRESSION_GZIP);
        assert_int_equal(decompress_detect(zs, zl), XARCH_COMPRESSION_ZSTD);
        assert_int_equal(decompress_detect(src, sizeof(src)), XARCH_COMPRESSION_NONE);
        struct outbuf o = {0};
        /* announced compressions must match the magic */
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, zs, zl, 7, &o), -EBADMSG);
        assert_int_equal(run(XARCH_COMPRESSION_ZSTD, gz, gl, 7, &o), -EBADMSG);
        assert_int_equal(run(XARCH_COMPRESSION_GZIP, src, sizeof(src), 7, &o), -EBADMSG);
        /* an announced "none" follows the magic (Docker's legacy tar type) */
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_NONE, gz, gl, 7, &o), 0);
        assert_int_equal(o.len, sizeof(src));
        assert_memory_equal(o.data, src, sizeof(src));
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_NONE, src, 3, 7, &o), 0);
        assert_int_equal(o.len, 3);
        o.len = 0;
        assert_int_equal(run(XARCH_COMPRESSION_NONE, src, 0, 7, &o), 0);
        assert_int_equal(o.len, 0);
        /* a failing sink aborts with its error */
        o.len = 0;
        o.fail_after = 1;
        assert_int_equal(run(XARCH_COMPRESSION_AUTO, gz, gl, 7, &o), -ECANCELED);
        free(o.data);
}

/* ---- the layer scanner over archives written by libarchive ---- */

struct arch_buf {
        uint8_t *data;
        size_t len, cap;
};

static la_ssize_t arch_write(struct archive *a, void *userdata, const void *buf, size_t len) {
        (void) a;
        struct arch_buf *b = userdata;
        if (b->len + len > b->cap) {
                b->cap = (b->len + len) * 2;
                b->data = realloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, buf, len);
        b->len += len;
        return (la_ssize_t) len;
}

static void add(struct archive *a, const char *path, int type, const void *data, size_t len,
                const char *link, int hard) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, (unsigned) type);
        archive_entry_set_perm(e, 0755);
        if (hard)
                archive_entry_set_hardlink(e, link);
        else if (link)
                archive_entry_set_symlink(e, link);
        archive_entry_set_size(e, type == AE_IFREG && !hard ? (la_int64_t) len : 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (type == AE_IFREG && len && !hard)
                assert_int_equal(archive_write_data(a, data, len), (la_ssize_t) len);
        archive_entry_free(e);
}

/* A minimal ELF64 x86-64 (or AArch64) executable header, padded to n bytes. */
static uint8_t *fake_elf(size_t n, uint16_t machine) {
        uint8_t *p = calloc(1, n);
        assert_non_null(p);
        memcpy(p, "\177ELF\2\1\1", 7);
        p[16] = 2; /* ET_EXEC */
        p[18] = (uint8_t) machine;
        p[19] = (uint8_t) (machine >> 8);
        p[20] = 1;
        p[52] = 64; /* e_ehsize */
        return p;
}

static struct arch_buf make_layer(int filter) {
        struct arch_buf b = {0};
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        if (filter == 1)
                archive_write_add_filter_gzip(a);
        else if (filter == 2)
                archive_write_add_filter_zstd(a);
        archive_write_set_bytes_in_last_block(a, 1);
        assert_int_equal(archive_write_open(a, &b, NULL, arch_write, NULL), ARCHIVE_OK);
        uint8_t *small = fake_elf(5000, 62);
        size_t big_n = 6u << 20; /* beyond XARCH_LAYER_FULL_MAX: head/tail ranges */
        uint8_t *big = fake_elf(big_n, 183);
        add(a, "./usr/", AE_IFDIR, NULL, 0, NULL, 0);
        add(a, "./usr/bin/app", AE_IFREG, small, 5000, NULL, 0);
        add(a, "usr/bin/big", AE_IFREG, big, big_n, NULL, 0);
        add(a, "usr/bin/run.sh", AE_IFREG, "#!/bin/sh\necho hi\n", 18, NULL, 0);
        add(a, "etc/data.txt", AE_IFREG, "plain text, not a program\n", 26, NULL, 0);
        add(a, "usr/bin/link", AE_IFLNK, NULL, 0, "app", 0);
        add(a, "usr/bin/app2", AE_IFREG, NULL, 0, "usr/bin/app", 1);
        add(a, "usr/../etc/./x//y", AE_IFREG, "", 0, NULL, 0);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        free(small);
        free(big);
        return b;
}

static const struct xarch_layer_entry *find(const struct xarch_layer *l, const char *path) {
        for (size_t i = 0; i < l->n_entries; i++)
                if (strcmp(l->entries[i].path, path) == 0)
                        return &l->entries[i];
        return NULL;
}

static void test_layer_scan(void **state) {
        (void) state;
        for (int filter = 0; filter < 3; filter++) {
                struct arch_buf b = make_layer(filter);
                size_t sizes[] = {1000, 65536, b.len};
                for (size_t s = 0; s < 3; s++) {
                        struct xarch_layer_scanner *sc = NULL;
                        struct xarch_layer *l = NULL;
                        assert_int_equal(xarch_layer_scanner_new(XARCH_COMPRESSION_AUTO, &sc, NULL),
                                        0);
                        for (size_t off = 0; off < b.len; off += sizes[s]) {
                                size_t n = b.len - off < sizes[s] ? b.len - off : sizes[s];
                                assert_int_equal(
                                                xarch_layer_scanner_feed(sc, b.data + off, n, NULL),
                                                0);
                        }
                        assert_int_equal(xarch_layer_scanner_finish(sc, &l, NULL), 0);
                        xarch_layer_scanner_free(sc);
                        assert_int_equal(l->compression, filter == 0   ? XARCH_COMPRESSION_NONE
                                                         : filter == 1 ? XARCH_COMPRESSION_GZIP
                                                                       : XARCH_COMPRESSION_ZSTD);
                        assert_int_equal(l->n_entries, 8);
                        assert_int_equal(l->n_analysed, 3);
                        const struct xarch_layer_entry *e = find(l, "usr/bin/app");
                        assert_non_null(e);
                        assert_non_null(e->info);
                        assert_int_equal(e->info->kind, XARCH_FILE_ELF);
                        assert_string_equal(e->info->platform.arch, "amd64");
                        assert_false(e->partial);
                        e = find(l, "usr/bin/big");
                        assert_non_null(e);
                        assert_non_null(e->info);
                        assert_string_equal(e->info->platform.arch, "arm64");
                        assert_true(e->partial);
                        e = find(l, "usr/bin/run.sh");
                        assert_non_null(e->info);
                        assert_int_equal(e->info->kind, XARCH_FILE_SCRIPT);
                        assert_null(find(l, "etc/data.txt")->info);
                        e = find(l, "usr/bin/link");
                        assert_int_equal(e->type, XARCH_LAYER_SYMLINK);
                        assert_string_equal(e->link, "app");
                        e = find(l, "usr/bin/app2");
                        assert_int_equal(e->type, XARCH_LAYER_HARDLINK);
                        assert_string_equal(e->link, "usr/bin/app");
                        assert_non_null(find(l, "etc/x/y"));
                        assert_non_null(find(l, "usr"));
                        xarch_layer_free(l);
                }
                free(b.data);
        }
}

static void test_layer_hostile(void **state) {
        (void) state;
        struct arch_buf b = make_layer(1);
        /* truncated compressed stream, and a flipped byte: both fail, nothing is returned */
        size_t cuts[] = {10, b.len / 2, b.len - 1};
        for (size_t i = 0; i < 3; i++) {
                struct xarch_layer_scanner *sc = NULL;
                struct xarch_layer *l = NULL;
                struct xarch_error *err = NULL;
                assert_int_equal(xarch_layer_scanner_new(XARCH_COMPRESSION_GZIP, &sc, NULL), 0);
                int r = xarch_layer_scanner_feed(sc, b.data, cuts[i], &err);
                if (r >= 0)
                        r = xarch_layer_scanner_finish(sc, &l, &err);
                assert_true(r < 0);
                assert_null(l);
                assert_non_null(err);
                xarch_error_free(err);
                /* a failed scanner refuses more */
                assert_true(xarch_layer_scanner_feed(sc, b.data, 1, NULL) < 0);
                xarch_layer_scanner_free(sc);
        }
        b.data[b.len / 2] ^= 0x5a;
        struct xarch_layer_scanner *sc = NULL;
        struct xarch_layer *l = NULL;
        assert_int_equal(xarch_layer_scanner_new(XARCH_COMPRESSION_AUTO, &sc, NULL), 0);
        int r = xarch_layer_scanner_feed(sc, b.data, b.len, NULL);
        if (r >= 0)
                r = xarch_layer_scanner_finish(sc, &l, NULL);
        assert_true(r < 0);
        xarch_layer_scanner_free(sc);
        free(b.data);
        /* not a tar at all */
        assert_int_equal(xarch_layer_scanner_new(XARCH_COMPRESSION_AUTO, &sc, NULL), 0);
        char junk[2048];
        memset(junk, 'j', sizeof(junk));
        r = xarch_layer_scanner_feed(sc, junk, sizeof(junk), NULL);
        if (r >= 0)
                r = xarch_layer_scanner_finish(sc, &l, NULL);
        assert_true(r < 0);
        xarch_layer_scanner_free(sc);
}

static int scan_one_symlink(size_t target_len, struct xarch_layer **ret) {
        struct arch_buf b = {0};
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open(a, &b, NULL, arch_write, NULL), ARCHIVE_OK);
        char *target = malloc(target_len + 1);
        assert_non_null(target);
        memset(target, 'x', target_len);
        target[target_len] = '\0';
        add(a, "lnk", AE_IFLNK, NULL, 0, target, 0);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        free(target);
        struct xarch_layer_scanner *sc = NULL;
        assert_int_equal(xarch_layer_scanner_new(XARCH_COMPRESSION_AUTO, &sc, NULL), 0);
        int r = xarch_layer_scanner_feed(sc, b.data, b.len, NULL);
        if (r >= 0)
                r = xarch_layer_scanner_finish(sc, ret, NULL);
        xarch_layer_scanner_free(sc);
        free(b.data);
        return r;
}

static void test_layer_long_symlink(void **state) {
        (void) state;
        /* A pax linkpath may be 1 MiB; kept per entry (up to XARCH_LAYER_ENTRIES_MAX of them)
         * that is unbounded memory. Linux refuses symlink targets of PATH_MAX or more, so an
         * applier fails on them: so does the scanner, as for over-long paths. */
        struct xarch_layer *l = NULL;
        assert_int_equal(scan_one_symlink(4095, &l), 0);
        assert_int_equal(l->n_entries, 1);
        assert_int_equal(strlen(l->entries[0].link), 4095);
        xarch_layer_free(l);
        l = NULL;
        assert_int_equal(scan_one_symlink(4096, &l), -ENAMETOOLONG);
        assert_null(l);
        assert_int_equal(scan_one_symlink(512u * 1024, &l), -ENAMETOOLONG);
        assert_null(l);
}

/* Every test runs over both gzip inflaters: ISA-L (when the build has it) and zlib. */
static int use_zlib(void **state) {
        (void) state;
        return setenv("XARCH_INFLATE", "zlib", 1);
}

static int use_default(void **state) {
        (void) state;
        return unsetenv("XARCH_INFLATE");
}

static void test_engine(void **state) {
        (void) state;
        const char *e = xarch_inflate_engine();
        const char *want_env = getenv("XARCH_INFLATE");
        if ((want_env && strcmp(want_env, "zlib") == 0) || !HAVE_ISAL)
                assert_true(strncmp(e, "zlib ", 5) == 0);
        else
                assert_true(strncmp(e, "isa-l ", 6) == 0);
        print_message("inflate engine: %s\n", e);
}

#define BOTH(f)                                                                                    \
        cmocka_unit_test_setup_teardown(f, use_default, use_default),                              \
                        cmocka_unit_test_setup_teardown(f, use_zlib, use_default)

int main(void) {
        const struct CMUnitTest tests[] = {
                        BOTH(test_engine),
                        BOTH(test_gzip_roundtrip),
                        BOTH(test_decompress_limit),
                        BOTH(test_gzip_multi_member),
                        BOTH(test_gzip_hostile),
                        cmocka_unit_test(test_zstd),
                        cmocka_unit_test(test_media_type_and_magic),
                        BOTH(test_layer_scan),
                        BOTH(test_layer_hostile),
                        cmocka_unit_test(test_layer_long_symlink),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
