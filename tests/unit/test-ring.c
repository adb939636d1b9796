/* SPDX-License-Identifier: MIT */
/* The two-thread byte ring (base/ring.h): the consumer sees every byte in order whatever the
 * producer's piece sizes, every slot but the last full; a consumer error reaches the producer
 * (code and message) and stops the stream; an abort drops what is queued; nothing leaks and
 * nothing hangs (run under ASan/UBSan in CI). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/ring.h"

#define SLOT 1000

struct seen {
        uint64_t bytes;   /* in order, checked against the pattern */
        size_t calls;     /* consume calls */
        size_t short_at;  /* calls before the first slot shorter than SLOT (0: none yet) */
        uint64_t fail_at; /* fail once this many bytes were seen (0: never) */
        bool bad_order;
};

static uint8_t pattern(uint64_t i) {
        return (uint8_t) (i * 131 + (i >> 9));
}

static int consume(void *userdata, const void *buf, size_t len, struct xarch_error **err) {
        struct seen *s = userdata;
        const uint8_t *p = buf;
        s->calls++;
        if (s->short_at)
                s->bad_order = true; /* a slot after a short one */
        if (len < SLOT)
                s->short_at = s->calls;
        for (size_t i = 0; i < len; i++)
                if (p[i] != pattern(s->bytes + i))
                        s->bad_order = true;
        s->bytes += len;
        if (s->fail_at && s->bytes >= s->fail_at)
                return xarch_error_set(err, ENOSPC, "consumer full at %llu",
                                (unsigned long long) s->bytes);
        return 0;
}

static void fill(uint8_t *buf, uint64_t off, size_t len) {
        for (size_t i = 0; i < len; i++)
                buf[i] = pattern(off + i);
}

static void test_order(void **state) {
        (void) state;
        static const size_t pieces[] = {1, 7, 999, 1000, 1001, 4096, 3, 2500, 512, 10000};
        uint8_t buf[10000];
        for (size_t slots = 2; slots <= 8; slots += 3) {
                struct seen s = {0};
                struct ring *r = NULL;
                assert_int_equal(ring_start(slots, SLOT, consume, &s, "test", &r, NULL), 0);
                uint64_t off = 0;
                for (size_t k = 0; k < 200; k++) {
                        size_t n = pieces[k % (sizeof(pieces) / sizeof(pieces[0]))];
                        fill(buf, off, n);
                        assert_int_equal(ring_write(r, buf, n, NULL), 0);
                        off += n;
                }
                assert_int_equal(ring_stop(r, false, NULL), 0);
                assert_false(s.bad_order);
                assert_int_equal(s.bytes, off);
                assert_int_equal(s.calls, (off + SLOT - 1) / SLOT);
        }
}

static void test_consumer_error(void **state) {
        (void) state;
        uint8_t buf[3000];
        struct seen s = {.fail_at = 5 * SLOT};
        struct ring *r = NULL;
        assert_int_equal(ring_start(3, SLOT, consume, &s, "test", &r, NULL), 0);
        struct xarch_error *err = NULL;
        uint64_t off = 0;
        int rc = 0;
        /* the producer learns of the failure within a ring's length of it */
        for (size_t k = 0; k < 100 && rc == 0; k++) {
                fill(buf, off, sizeof(buf));
                rc = ring_write(r, buf, sizeof(buf), &err);
                off += sizeof(buf);
        }
        assert_int_equal(rc, -ENOSPC);
        assert_non_null(err);
        assert_string_equal(err->msg, "consumer full at 5000");
        assert_true(off <= 5 * SLOT + 4 * SLOT + sizeof(buf));
        /* later writes keep failing; stopping returns the code again, the message once */
        assert_int_equal(ring_write(r, buf, 10, NULL), -ENOSPC);
        assert_int_equal(s.bytes, 5 * SLOT);
        struct xarch_error *again = NULL;
        assert_int_equal(ring_stop(r, false, &again), -ENOSPC);
        assert_null(again);
        assert_false(s.bad_order);
        xarch_error_free(err);
}

static void test_error_on_stop(void **state) {
        (void) state;
        /* the failing bytes are in the last, partly filled slot: ring_stop reports it */
        uint8_t buf[2500];
        struct seen s = {.fail_at = 2500};
        struct ring *r = NULL;
        assert_int_equal(ring_start(4, SLOT, consume, &s, "test", &r, NULL), 0);
        fill(buf, 0, sizeof(buf));
        assert_int_equal(ring_write(r, buf, sizeof(buf), NULL), 0);
        struct xarch_error *err = NULL;
        assert_int_equal(ring_stop(r, false, &err), -ENOSPC);
        assert_non_null(err);
        assert_string_equal(err->msg, "consumer full at 2500");
        xarch_error_free(err);
}

static int slow_consume(void *userdata, const void *buf, size_t len, struct xarch_error **err) {
        (void) buf;
        (void) err;
        *(uint64_t *) userdata += len;
        return 0;
}

static void test_abort(void **state) {
        (void) state;
        /* an abort with a full ring returns at once and drops the queue; nothing leaks */
        uint8_t buf[SLOT * 4] = {0};
        for (int round = 0; round < 50; round++) {
                uint64_t got = 0;
                struct ring *r = NULL;
                assert_int_equal(ring_start(2, SLOT, slow_consume, &got, "test", &r, NULL), 0);
                assert_int_equal(ring_write(r, buf, sizeof(buf), NULL), 0);
                assert_int_equal(ring_stop(r, true, NULL), 0);
                assert_true(got <= sizeof(buf));
        }
        /* a ring stopped before any byte, and NULL */
        struct ring *r = NULL;
        uint64_t got = 0;
        assert_int_equal(ring_start(2, SLOT, slow_consume, &got, "test", &r, NULL), 0);
        assert_int_equal(ring_stop(r, false, NULL), 0);
        assert_int_equal(got, 0);
        assert_int_equal(ring_stop(NULL, false, NULL), 0);
        /* sizes that make no ring */
        struct xarch_error *err = NULL;
        assert_int_equal(ring_start(1, SLOT, slow_consume, &got, "test", &r, &err), -EINVAL);
        xarch_error_free(err);
        err = NULL;
        assert_int_equal(
                        ring_start(4, SIZE_MAX / 2, slow_consume, &got, "test", &r, &err), -EINVAL);
        xarch_error_free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_order),
                        cmocka_unit_test(test_consumer_error),
                        cmocka_unit_test(test_error_on_stop),
                        cmocka_unit_test(test_abort),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
