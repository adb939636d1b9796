/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "xarch/error.h"

static void test_set_stores_code_and_message(void **state) {
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_error_set(&err, ENOENT, "open '%s'", "x"), -ENOENT);
        assert_non_null(err);
        assert_int_equal(err->code, ENOENT);
        assert_string_equal(err->msg, "open 'x'");
        /* The first error wins: later failures do not overwrite the root cause. */
        assert_int_equal(xarch_error_set(&err, EINVAL, "later"), -EINVAL);
        assert_string_equal(err->msg, "open 'x'");
        xarch_error_freep(&err);
        assert_null(err);
}

static void test_null_err_only_returns(void **state) {
        assert_int_equal(xarch_error_set(NULL, EPERM, "nothing stored"), -EPERM);
        assert_int_equal(xarch_error_set(NULL, 0, "zero becomes EIO"), -EIO);
}

static void test_wrap_prefixes(void **state) {
        struct xarch_error *err = NULL;
        xarch_error_set(&err, EACCES, "permission denied");
        assert_int_equal(xarch_error_wrap(&err, "register '%s'", "qemu-aarch64"), -EACCES);
        assert_string_equal(err->msg, "register 'qemu-aarch64': permission denied");
        xarch_error_free(err);
        assert_int_equal(xarch_error_wrap(NULL, "x"), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_set_stores_code_and_message),
                        cmocka_unit_test(test_null_err_only_returns),
                        cmocka_unit_test(test_wrap_prefixes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
