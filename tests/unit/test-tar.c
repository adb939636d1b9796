/* SPDX-License-Identifier: MIT */
/* The streaming tar reader, checked against libarchive as an independent oracle: archives are
 * written by libarchive in every format it has (ustar, pax, GNU), then listed by libarchive and
 * by the reader fed in chunks of many sizes, and the listings must agree. Then hostile input. */
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

#include <cmocka.h>

#include "image/tar.h"

#define ARCHIVE_MAX (4u * 1024 * 1024)

struct listing {
        char text[64 * 1024];
        size_t len;
};

static void listing_add(struct listing *l, const char *path, char type, uint64_t size,
                const char *link, uint64_t uid, uint32_t sum) {
        int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s|%c|%llu|%s|%llu|%08x\n",
                        path, type, (unsigned long long) size, link, (unsigned long long) uid, sum);
        assert_true(n > 0 && (size_t) n < sizeof(l->text) - l->len);
        l->len += (size_t) n;
}

static uint32_t checksum_bytes(uint32_t sum, const void *buf, size_t len) {
        const uint8_t *p = buf;
        for (size_t i = 0; i < len; i++)
                sum = sum * 31 + p[i];
        return sum;
}

/* ---- writing test archives with libarchive ---- */

struct spec_entry {
        const char *path;
        char type;
        size_t size;
        const char *link;
        int64_t uid;
};

static char *make_long(char c, size_t n) {
        char *s = malloc(n + 1);
        assert_non_null(s);
        for (size_t i = 0; i < n; i++)
                s[i] = (i % 20 == 19 && i + 1 < n) ? '/' : c;
        s[n] = '\0';
        return s;
}

static size_t write_archive(int format, uint8_t *buf, size_t cap, bool long_names) {
        struct archive *a = archive_write_new();
        size_t used = 0;
        assert_int_equal(archive_write_set_format(a, format), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);

        char *long_path = make_long('p', 180); /* fits ustar's prefix + name split */
        char *very_long = make_long('q', 400); /* needs pax or GNU L */
        char *long_link = make_long('l', 150); /* needs pax or GNU K */
        struct spec_entry entries[] = {
                        {"dir/", '5', 0, NULL, 0},
                        {"dir/small.txt", '0', 13, NULL, 1000},
                        {"dir/empty", '0', 0, NULL, 0},
                        {"dir/block", '0', 512, NULL, 0},
                        {"dir/big.bin", '0', 70000, NULL, 0},
                        {"dir/link", '2', 0, "small.txt", 0},
                        {"dir/hard", '1', 0, "dir/small.txt", 0},
                        {long_path, '0', 100, NULL, 0},
                        {very_long, '0', 7, NULL, 0},
                        {"dir/longlink", '2', 0, long_link, 0},
                        {"dir/bigid", '0', 3, NULL, 3000000},
        };
        uint8_t *data = malloc(70000);
        assert_non_null(data);
        for (size_t i = 0; i < 70000; i++)
                data[i] = (uint8_t) (i * 7 + 3);
        for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
                const struct spec_entry *s = &entries[i];
                if (!long_names &&
                                (s->path == very_long || s->link == long_link || s->uid > 2097151))
                        continue;
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, s->path);
                archive_entry_set_uid(e, s->uid);
                archive_entry_set_mtime(e, 1700000000, 0);
                if (s->type == '5') {
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, 0755);
                } else if (s->type == '2') {
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, s->link);
                        archive_entry_set_perm(e, 0777);
                } else if (s->type == '1') {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, s->link);
                        archive_entry_set_perm(e, 0644);
                } else {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t) s->size);
                }
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (s->type == '0' && s->size)
                        assert_int_equal(
                                        archive_write_data(a, data, s->size), (la_ssize_t) s->size);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        free(data);
        free(long_path);
        free(very_long);
        free(long_link);
        return used;
}

/* ---- listing with libarchive ---- */

static void list_with_libarchive(const uint8_t *buf, size_t len, struct listing *l) {
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                char type;
                const char *link = "";
                if (archive_entry_hardlink(e)) {
                        type = '1';
                        link = archive_entry_hardlink(e);
                } else if (archive_entry_filetype(e) == AE_IFLNK) {
                        type = '2';
                        link = archive_entry_symlink(e);
                } else if (archive_entry_filetype(e) == AE_IFDIR)
                        type = '5';
                else
                        type = '0';
                uint32_t sum = 0;
                uint64_t size = 0;
                char block[8192];
                la_ssize_t n;
                while ((n = archive_read_data(a, block, sizeof(block))) > 0) {
                        sum = checksum_bytes(sum, block, (size_t) n);
                        size += (uint64_t) n;
                }
                listing_add(l, archive_entry_pathname(e), type, size, link,
                                (uint64_t) archive_entry_uid(e), sum);
        }
        archive_read_free(a);
}

/* ---- listing with the reader under test ---- */

struct reader_state {
        struct listing *l;
        uint32_t sum;
        uint64_t got;
        int entries;
        int data_calls_final;
};

static int on_entry(const struct tar_entry *e, void *userdata) {
        struct reader_state *s = userdata;
        s->sum = 0;
        s->got = 0;
        s->entries++;
        return 1;
}

static int on_data(const struct tar_entry *e, const void *buf, size_t len, bool final,
                void *userdata) {
        struct reader_state *s = userdata;
        s->sum = checksum_bytes(s->sum, buf, len);
        s->got += len;
        if (final) {
                assert_int_equal(s->got, e->size);
                char type = e->type == TAR_FILE || e->type == TAR_CONTIGUOUS ? '0' : e->type;
                /* a directory's path keeps its slash in both listings */
                listing_add(s->l, e->path, type, s->got, e->linkpath, e->uid, s->sum);
                s->data_calls_final++;
        }
        return 0;
}

static int read_in_chunks(const uint8_t *buf, size_t len, size_t chunk, struct listing *l,
                struct xarch_error **err) {
        struct tar_callbacks cb = {.on_entry = on_entry, .on_data = on_data};
        struct reader_state s = {.l = l};
        struct tar_reader *r;
        assert_int_equal(tar_reader_new(&cb, &s, &r), 0);
        int k = 0;
        for (size_t off = 0; off < len && k >= 0; off += chunk)
                k = tar_reader_feed(r, buf + off, len - off < chunk ? len - off : chunk, err);
        if (k >= 0)
                k = tar_reader_finish(r, err);
        if (k >= 0)
                assert_int_equal(s.entries, s.data_calls_final);
        tar_reader_free(r);
        return k;
}

static void compare_format(int format, bool long_names) {
        uint8_t *buf = malloc(ARCHIVE_MAX);
        assert_non_null(buf);
        size_t len = write_archive(format, buf, ARCHIVE_MAX, long_names);
        struct listing *want = calloc(1, sizeof(*want));
        assert_non_null(want);
        list_with_libarchive(buf, len, want);
        assert_true(want->len > 0);

        static const size_t chunks[] = {1, 3, 511, 512, 513, 4096, 65536, ARCHIVE_MAX};
        for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
                struct listing *got = calloc(1, sizeof(*got));
                struct xarch_error *err = NULL;
                assert_non_null(got);
                int r = read_in_chunks(buf, len, chunks[i], got, &err);
                if (r < 0)
                        fail_msg("chunk %zu: %s", chunks[i], err ? err->msg : "?");
                if (strcmp(want->text, got->text) != 0)
                        fail_msg("chunk %zu: listings differ\n--- libarchive\n%s--- tar.c\n%s",
                                        chunks[i], want->text, got->text);
                free(got);
        }
        free(want);
        free(buf);
}

static void test_ustar(void **state) {
        compare_format(ARCHIVE_FORMAT_TAR_USTAR, false);
}

static void test_pax(void **state) {
        compare_format(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, true);
        compare_format(ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, true);
}

static void test_gnu(void **state) {
        compare_format(ARCHIVE_FORMAT_TAR_GNUTAR, true);
}

/* ---- numbers ---- */

static void test_numbers(void **state) {
        uint64_t v;
        assert_int_equal(tar_parse_number("0000644\0", 8, &v), 0);
        assert_int_equal(v, 0644);
        assert_int_equal(tar_parse_number("   17 \0", 8, &v), 0);
        assert_int_equal(v, 017);
        assert_int_equal(tar_parse_number("\0\0\0\0\0\0\0\0", 8, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(tar_parse_number("12x4567\0", 8, &v), -EINVAL);
        assert_int_equal(tar_parse_number("0009\0", 5, &v), -EINVAL);
        /* base-256, positive: 0x80 then big-endian */
        const char b256[12] = {(char) 0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1};
        assert_int_equal(tar_parse_number(b256, 12, &v), 0);
        assert_int_equal(v, 0x200000001ULL);
        /* negative and overflowing values are refused */
        const char neg[8] = {(char) 0xff, (char) 0xff, (char) 0xff, (char) 0xff, (char) 0xff,
                        (char) 0xff, (char) 0xff, (char) 0xfe};
        assert_int_equal(tar_parse_number(neg, 8, &v), -EINVAL);
        const char big[12] = {(char) 0x80, (char) 0xff, (char) 0xff, (char) 0xff, (char) 0xff,
                        (char) 0xff, (char) 0xff, (char) 0xff, (char) 0xff, 0, 0, 0};
        assert_int_equal(tar_parse_number(big, 12, &v), -EINVAL);
        assert_int_equal(tar_parse_number("77777777777777777777777", 23, &v), -EINVAL);
}

/* ---- hand-made and hostile archives ---- */

static void set_checksum(uint8_t *h) {
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        h[155] = ' ';
}

static void make_header(uint8_t *h, const char *name, char type, uint64_t size) {
        memset(h, 0, 512);
        snprintf((char *) h, 100, "%s", name);
        memcpy(h + 100, "0000644", 8);
        memcpy(h + 108, "0000000", 8);
        memcpy(h + 116, "0000000", 8);
        snprintf((char *) h + 124, 12, "%011llo", (unsigned long long) size);
        memcpy(h + 136, "00000000000", 12);
        h[156] = (uint8_t) type;
        memcpy(h + 257,
                        "ustar\0"
                        "00",
                        8);
        set_checksum(h);
}

/* header + data + padding */
static size_t add_entry(uint8_t *buf, size_t off, const char *name, char type, const void *data,
                size_t size) {
        make_header(buf + off, name, type, size);
        off += 512;
        memcpy(buf + off, data, size);
        memset(buf + off + size, 0, (512 - size % 512) % 512);
        return off + size + (512 - size % 512) % 512;
}

static size_t add_end(uint8_t *buf, size_t off) {
        memset(buf + off, 0, 1024);
        return off + 1024;
}

static int feed_all(const uint8_t *buf, size_t len, struct listing *l, struct xarch_error **err) {
        return read_in_chunks(buf, len, 7, l, err);
}

static void expect_failure(const uint8_t *buf, size_t len, int code, const char *msg_part) {
        struct listing *l = calloc(1, sizeof(*l));
        struct xarch_error *err = NULL;
        int r = feed_all(buf, len, l, &err);
        if (r != -code)
                fail_msg("wanted %d (%s), got %d", -code, msg_part ? msg_part : "", r);
        assert_non_null(err);
        if (msg_part && !strstr(err->msg, msg_part))
                fail_msg("'%s' lacks '%s'", err->msg, msg_part);
        xarch_error_free(err);
        free(l);
}

static void test_pax_records(void **state) {
        uint8_t *buf = calloc(1, 64 * 1024);
        const char pax[] = "29 path=a/very/long/name.txt\n"
                           "19 linkpath=target\n"
                           "14 uid=123456\n"
                           "22 mtime=1700000000.5\n";
        size_t off = add_entry(buf, 0, "PaxHeaders/x", 'x', pax, strlen(pax));
        off = add_entry(buf, off, "short", '0', "hello", 5);
        off = add_end(buf, off);
        struct listing *l = calloc(1, sizeof(*l));
        struct xarch_error *err = NULL;
        assert_int_equal(feed_all(buf, off, l, &err), 0);
        assert_non_null(strstr(l->text, "a/very/long/name.txt|0|5|target|123456|"));

        /* a global header applies uid to all later entries; path from 'g' is ignored */
        const char global[] = "12 uid=4242\n";
        off = add_entry(buf, 0, "g", 'g', global, strlen(global));
        off = add_entry(buf, off, "one", '0', "1", 1);
        off = add_entry(buf, off, "two", '0', "2", 1);
        off = add_end(buf, off);
        memset(l, 0, sizeof(*l));
        assert_int_equal(feed_all(buf, off, l, &err), 0);
        assert_non_null(strstr(l->text, "one|0|1||4242|"));
        assert_non_null(strstr(l->text, "two|0|1||4242|"));

        /* GNU long name */
        char longname[300];
        memset(longname, 'n', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        off = add_entry(buf, 0, "././@LongLink", 'L', longname, sizeof(longname));
        off = add_entry(buf, off, "truncated", '0', "x", 1);
        off = add_end(buf, off);
        memset(l, 0, sizeof(*l));
        assert_int_equal(feed_all(buf, off, l, &err), 0);
        assert_int_equal(strncmp(l->text, longname, 299), 0);
        free(l);
        free(buf);
}

static void test_hostile(void **state) {
        uint8_t *buf = calloc(1, 2 * 1024 * 1024 + 8192);
        size_t off;

        /* corrupted checksum */
        off = add_entry(buf, 0, "file", '0', "data", 4);
        off = add_end(buf, off);
        buf[0] ^= 1;
        expect_failure(buf, off, EBADMSG, "checksum");

        /* truncated inside data, inside a header, and with no end marker */
        off = add_entry(buf, 0, "file", '0', "0123456789", 10);
        expect_failure(buf, 512 + 5, EBADMSG, "truncated inside an entry");
        expect_failure(buf, 100, EBADMSG, "truncated inside a header");
        expect_failure(buf, off, EBADMSG, "no end-of-archive");

        /* one zero block at the very end is accepted; garbage after the marker is ignored */
        off = add_entry(buf, 0, "file", '0', "x", 1);
        memset(buf + off, 0, 512);
        struct listing *l = calloc(1, sizeof(*l));
        struct xarch_error *err = NULL;
        assert_int_equal(feed_all(buf, off + 512, l, &err), 0);
        off = add_end(buf, off);
        memset(buf + off, 'G', 700);
        assert_int_equal(feed_all(buf, off + 700, l, &err), 0);

        /* a lone zero block followed by another header is malformed */
        off = add_entry(buf, 0, "a", '0', "x", 1);
        memset(buf + off, 0, 512);
        off = add_entry(buf, off + 512, "b", '0', "y", 1);
        off = add_end(buf, off);
        expect_failure(buf, off, EBADMSG, "zero block");

        /* pax records: length beyond the record, no '=', non-numeric size, bad length */
        static const char *const bad_pax[] = {
                        "99 path=x\n",
                        "10 pathx\n\n",
                        "15 size=12ab\n\n",
                        "x path=y\n",
                        "5 =a\n",
                        "12 path=a\0b\n",
        };
        for (size_t i = 0; i < sizeof(bad_pax) / sizeof(bad_pax[0]); i++) {
                size_t n = i == 5 ? 12 : strlen(bad_pax[i]);
                off = add_entry(buf, 0, "pax", 'x', bad_pax[i], n);
                off = add_entry(buf, off, "f", '0', "1", 1);
                off = add_end(buf, off);
                expect_failure(buf, off, EBADMSG, "malformed tar archive");
        }

        /* a metadata record over the cap is refused before anything is buffered */
        make_header(buf, "huge", 'x', 2 * 1024 * 1024);
        expect_failure(buf, 512, EFBIG, "larger than 1 MiB");

        /* an empty name */
        off = add_entry(buf, 0, "", '0', "x", 1);
        off = add_end(buf, off);
        expect_failure(buf, off, EBADMSG, "empty name");

        /* a bad size field */
        make_header(buf, "f", '0', 1);
        memcpy(buf + 124, "zzzzzzzzzzz", 11);
        set_checksum(buf);
        off = add_end(buf, 512);
        expect_failure(buf, off, EBADMSG, "size");

        free(l);
        free(buf);
}

/* A callback error aborts the feed and is returned as is. */
static int abort_entry(const struct tar_entry *e, void *userdata) {
        return -ECANCELED;
}

static void test_callback_abort(void **state) {
        uint8_t buf[4096];
        size_t off = add_entry(buf, 0, "a", '0', "x", 1);
        off = add_end(buf, off);
        struct tar_callbacks cb = {.on_entry = abort_entry};
        struct tar_reader *r;
        assert_int_equal(tar_reader_new(&cb, NULL, &r), 0);
        assert_int_equal(tar_reader_feed(r, buf, off, NULL), -ECANCELED);
        assert_int_equal(tar_reader_feed(r, buf, off, NULL), -EINVAL);
        tar_reader_free(r);
}

/* Skipping: with data not wanted, the reader says how much can be seeked over, and accepts
 * that in place of the bytes. A pax size beyond 8 GiB only needs its header. */
static int skip_entry(const struct tar_entry *e, void *userdata) {
        uint64_t *offsets = userdata;
        offsets[e->index] = e->data_offset;
        return 0;
}

static void test_skip(void **state) {
        uint8_t *buf = calloc(1, 256 * 1024);
        size_t off = add_entry(buf, 0, "first", '0', buf + 200000, 10000);
        off = add_entry(buf, off, "second", '0', buf + 200000, 3);
        off = add_end(buf, off);

        uint64_t offsets[4] = {0};
        struct tar_callbacks cb = {.on_entry = skip_entry};
        struct tar_reader *r;
        assert_int_equal(tar_reader_new(&cb, offsets, &r), 0);
        size_t pos = 0;
        while (!tar_reader_done(r)) {
                uint64_t skip = tar_reader_skippable(r);
                if (skip) {
                        assert_int_equal(tar_reader_skip(r, skip, NULL), 0);
                        pos += skip;
                        continue;
                }
                assert_true(pos < off);
                assert_int_equal(tar_reader_feed(r, buf + pos, 512, NULL), 0);
                pos += 512;
        }
        assert_int_equal(pos, off);
        assert_int_equal(offsets[0], 512);
        assert_int_equal(offsets[1], 512 + 10240 + 512);
        assert_int_equal(tar_reader_finish(r, NULL), 0);
        assert_int_equal(tar_reader_offset(r), off);
        assert_int_equal(tar_reader_skip(r, 1, NULL), -EINVAL);
        tar_reader_free(r);

        /* 16 GiB file announced by pax: only headers are fed */
        const char pax[] = "20 size=17179869184\n";
        off = add_entry(buf, 0, "PaxHeaders/huge", 'x', pax, strlen(pax));
        make_header(buf + off, "huge", '0', 0);
        off += 512;
        assert_int_equal(tar_reader_new(&cb, offsets, &r), 0);
        assert_int_equal(tar_reader_feed(r, buf, off, NULL), 0);
        assert_int_equal(tar_reader_skippable(r), 17179869184ULL);
        tar_reader_free(r);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_numbers),
                        cmocka_unit_test(test_ustar),
                        cmocka_unit_test(test_pax),
                        cmocka_unit_test(test_gnu),
                        cmocka_unit_test(test_pax_records),
                        cmocka_unit_test(test_hostile),
                        cmocka_unit_test(test_callback_abort),
                        cmocka_unit_test(test_skip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
