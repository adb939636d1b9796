/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "xarch/digest.h"
#include "xarch/ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void check_ref(const char *in, const char *registry, const char *repo, const char *tag,
                const char *digest, const char *formatted) {
        struct xarch_ref r;
        struct xarch_error *err = NULL;
        int rc = xarch_ref_parse(in, &r, &err);
        if (rc != 0)
                fail_msg("'%s' rejected: %s", in, err ? err->msg : "?");
        assert_string_equal(r.registry, registry);
        assert_string_equal(r.repository, repo);
        assert_string_equal(r.tag, tag);
        assert_string_equal(r.digest, digest);
        char buf[XARCH_REF_STRING_MAX];
        assert_true(xarch_ref_format(&r, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, formatted);
        /* the formatted form parses back to the same reference */
        struct xarch_ref again;
        assert_int_equal(xarch_ref_parse(buf, &again, NULL), 0);
        assert_memory_equal(&r, &again, sizeof(r));
}

static void test_docker_normalisation(void **state) {
        check_ref("alpine", "docker.io", "library/alpine", "latest", "",
                        "docker.io/library/alpine:latest");
        check_ref("alpine:3.19", "docker.io", "library/alpine", "3.19", "",
                        "docker.io/library/alpine:3.19");
        check_ref("user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest");
        check_ref("docker.io/alpine", "docker.io", "library/alpine", "latest", "",
                        "docker.io/library/alpine:latest");
        check_ref("index.docker.io/library/alpine", "docker.io", "library/alpine", "latest", "",
                        "docker.io/library/alpine:latest");
        check_ref("localhost/app", "localhost", "app", "latest", "", "localhost/app:latest");
        check_ref("localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", "",
                        "localhost:5000/a/b/c:t");
        check_ref("ghcr.io/org/img:v1.2_x-y", "ghcr.io", "org/img", "v1.2_x-y", "",
                        "ghcr.io/org/img:v1.2_x-y");
        check_ref("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", "",
                        "127.0.0.1:5000/x:latest");
        check_ref("[::1]:5000/x:y", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y");
        check_ref("Registry.Example/x", "Registry.Example", "x", "latest", "",
                        "Registry.Example/x:latest");
        check_ref("a__b-c--d/e_f.g", "docker.io", "a__b-c--d/e_f.g", "latest", "",
                        "docker.io/a__b-c--d/e_f.g:latest");
}

static void test_digests(void **state) {
        check_ref("alpine@sha256:" D64, "docker.io", "library/alpine", "", "sha256:" D64,
                        "docker.io/library/alpine@sha256:" D64);
        check_ref("quay.io/a/b:1@sha256:" D64, "quay.io", "a/b", "1", "sha256:" D64,
                        "quay.io/a/b:1@sha256:" D64);
        check_ref("h:1/x@sha512:" D64 D64, "h:1", "x", "", "sha512:" D64 D64,
                        "h:1/x@sha512:" D64 D64);
        struct xarch_ref r;
        assert_int_equal(xarch_ref_parse("alpine@sha256:" D64, &r, NULL), 0);
        assert_string_equal(xarch_ref_reference(&r), "sha256:" D64);
        assert_int_equal(xarch_ref_parse("alpine:edge", &r, NULL), 0);
        assert_string_equal(xarch_ref_reference(&r), "edge");
        assert_string_equal(xarch_ref_api_host(&r), "registry-1.docker.io");
        assert_int_equal(xarch_ref_parse("quay.io/a", &r, NULL), 0);
        assert_string_equal(xarch_ref_api_host(&r), "quay.io");
}

static void check_invalid(const char *in, const char *reason) {
        struct xarch_ref r;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_ref_parse(in, &r, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err->msg, reason))
                fail_msg("'%s': message '%s' lacks '%s'", in, err->msg, reason);
        xarch_error_free(err);
}

static void test_invalid(void **state) {
        check_invalid("", "empty");
        check_invalid("Alpine", "lowercase");
        check_invalid("docker.io/Library/alpine", "lowercase");
        check_invalid("alpine:", "bad tag");
        check_invalid("alpine:-x", "bad tag");
        check_invalid("alpine:a/b", "bad registry host");
        check_invalid("alpine@sha256:abc", "bad digest");
        check_invalid("alpine@md5:" D64, "bad digest");
        check_invalid("alpine@sha256:" D64 "0", "bad digest");
        check_invalid("alpine@sha256:"
                      "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                        "bad digest");
        check_invalid("a//b", "bad repository name component");
        check_invalid("a/b/", "bad repository name component");
        check_invalid("-a", "bad repository name component");
        check_invalid("a-", "bad repository name component");
        check_invalid("a...b", "bad repository name component");
        check_invalid("a___b", "bad repository name component");
        check_invalid("host:port/x", "bad registry host");
        check_invalid("-host.io/x", "bad registry host");
        check_invalid("[zz::1]:5/x", "bad registry host");
        check_invalid("host.io:123456/x", "bad registry host");
        check_invalid("host.io/", "no repository name");
        check_invalid(":tag", "no repository name");
        check_invalid(D64, "image ID");
        check_invalid("a b", "bad");
        check_invalid("a\nb", "bad");
        char tag[200];
        memset(tag, 'a', sizeof(tag));
        tag[0] = 'x';
        tag[1] = ':';
        tag[199] = '\0';
        check_invalid(tag, "bad tag");
        char longname[400];
        memset(longname, 'a', sizeof(longname));
        longname[200] = '/';
        longname[399] = '\0';
        check_invalid(longname, "too long");
        char huge[2000];
        memset(huge, 'a', sizeof(huge));
        huge[1999] = '\0';
        check_invalid(huge, "too long");
}

static void test_format_small_buffer(void **state) {
        struct xarch_ref r;
        assert_int_equal(xarch_ref_parse("alpine", &r, NULL), 0);
        char buf[10];
        assert_int_equal(xarch_ref_format(&r, buf, sizeof(buf)), -ENOBUFS);
        char big[64];
        assert_int_equal(xarch_ref_format(&r, big, sizeof(big)),
                        (int) strlen("docker.io/library/alpine:latest"));
}

static void test_loopback(void **state) {
        assert_true(xarch_ref_registry_is_loopback("localhost"));
        assert_true(xarch_ref_registry_is_loopback("localhost:5000"));
        assert_true(xarch_ref_registry_is_loopback("127.0.0.1:5000"));
        assert_true(xarch_ref_registry_is_loopback("127.1.2.3"));
        assert_true(xarch_ref_registry_is_loopback("[::1]:5000"));
        assert_false(xarch_ref_registry_is_loopback("[::2]:5000"));
        assert_false(xarch_ref_registry_is_loopback("128.0.0.1"));
        assert_false(xarch_ref_registry_is_loopback("localhost.example.com"));
        assert_false(xarch_ref_registry_is_loopback("docker.io"));
        assert_false(xarch_ref_registry_is_loopback("127.0.0.1.nip.io"));
}

static void test_digest_hashing(void **state) {
        char out[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_digest_buffer(NULL, "", 0, out), 0);
        assert_string_equal(out,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_int_equal(xarch_digest_buffer("sha512", "abc", 3, out), 0);
        assert_string_equal(out, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee6"
                                 "4b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac9"
                                 "4fa54ca49f");
        assert_true(xarch_digest_valid(out));
        /* streaming equals one-shot; the algorithm can come from a digest */
        struct xarch_digester *d = NULL;
        assert_int_equal(xarch_digester_new("sha256:" D64, &d), 0);
        xarch_digester_update(d, "hello ", 6);
        xarch_digester_update(d, "world", 5);
        char streamed[XARCH_DIGEST_MAX];
        assert_int_equal(xarch_digester_final(d, streamed), 0);
        assert_int_equal(xarch_digester_final(d, streamed), -EIO);
        xarch_digester_free(d);
        assert_int_equal(xarch_digest_buffer(NULL, "hello world", 11, out), 0);
        assert_string_equal(out, streamed);
        assert_int_equal(xarch_digester_new("md5", &d), -EINVAL);
        xarch_digester_free(NULL);
}

static void test_digest_valid(void **state) {
        assert_true(xarch_digest_valid("sha256:" D64));
        assert_false(xarch_digest_valid(NULL));
        assert_false(xarch_digest_valid(""));
        assert_false(xarch_digest_valid("sha256:"));
        assert_false(xarch_digest_valid(D64));
        assert_false(xarch_digest_valid("sha256:" D64 "a"));
        assert_false(xarch_digest_valid("sha512:" D64));
        assert_false(xarch_digest_valid("SHA256:" D64));
        assert_false(xarch_digest_valid("sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
                                        "0123456789abcdeG"));
        assert_false(xarch_digest_valid("sha2566:" D64));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_docker_normalisation),
                        cmocka_unit_test(test_digests),
                        cmocka_unit_test(test_invalid),
                        cmocka_unit_test(test_format_small_buffer),
                        cmocka_unit_test(test_loopback),
                        cmocka_unit_test(test_digest_hashing),
                        cmocka_unit_test(test_digest_valid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
