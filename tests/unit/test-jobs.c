/* SPDX-License-Identifier: MIT */
/* The library's thread pool (base/jobs.h): every item runs exactly once; one job (or one item)
 * runs in order on the calling thread, which takes items when there are threads too; the
 * failure returned is the lowest item's and no item starts after it; run_all_jobs() runs every
 * item; when no thread can be started the calling thread does all the work. Waits between
 * items have a long safety timeout so that a broken pool fails the test instead of hanging it;
 * nothing asserts on time. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/jobs.h"

/* linked with -Wl,--wrap=pthread_create: lets a test refuse every new thread */
static atomic_bool refuse_threads;
static atomic_uint threads_created;

int __real_pthread_create(
                pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(
                pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(
                pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
        if (atomic_load(&refuse_threads))
                return EAGAIN;
        atomic_fetch_add(&threads_created, 1);
        return __real_pthread_create(th, attr, fn, arg);
}

#define ITEMS        300
#define THREADS_SEEN 8

struct record {
        atomic_uint runs[ITEMS];
        pthread_mutex_t lock;
        pthread_cond_t changed;
        size_t order[ITEMS]; /* items in the order they started */
        size_t n_order;
        pthread_t threads[THREADS_SEEN];
        size_t n_threads; /* distinct threads that ran items (THREADS_SEEN at most counted) */
        bool all_on_caller;
        pthread_t caller;
        /* items below `together` wait until that many are running at once */
        unsigned together, inside;
        bool met;             /* that many were running at once */
        bool timed_out;       /* a wait gave up: the pool did not do what the test waited for */
        int fail_code[ITEMS]; /* < 0: item i fails with it */
        bool after_next_fails[ITEMS]; /* item i returns only once item i + 1 has failed */
        bool failed[ITEMS];
};

static void record_init(struct record *r) {
        memset(r, 0, sizeof(*r));
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->changed, NULL);
        r->all_on_caller = true;
        r->caller = pthread_self();
}

static void record_clear(struct record *r) {
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->changed);
}

/* Waits (lock held) until done() or a generous safety timeout; false on the timeout. */
static bool wait_until(struct record *r, bool (*done)(const struct record *, size_t), size_t i) {
        struct timespec limit;
        clock_gettime(CLOCK_REALTIME, &limit);
        limit.tv_sec += 60;
        while (!done(r, i))
                if (pthread_cond_timedwait(&r->changed, &r->lock, &limit) == ETIMEDOUT) {
                        r->timed_out = true;
                        return false;
                }
        return true;
}

static bool enough_inside(const struct record *r, size_t i) {
        (void) i;
        return r->inside >= r->together;
}

static bool next_failed(const struct record *r, size_t i) {
        return r->failed[i + 1];
}

static int item(void *ctx, size_t i, struct xarch_error **err) {
        struct record *r = ctx;
        atomic_fetch_add(&r->runs[i], 1);
        pthread_mutex_lock(&r->lock);
        pthread_t self = pthread_self();
        if (!pthread_equal(self, r->caller))
                r->all_on_caller = false;
        bool seen = false;
        for (size_t k = 0; k < r->n_threads; k++)
                seen |= pthread_equal(r->threads[k], self);
        if (!seen && r->n_threads < THREADS_SEEN)
                r->threads[r->n_threads++] = self;
        if (r->n_order < ITEMS)
                r->order[r->n_order++] = i;
        if (i < r->together) {
                r->inside++;
                pthread_cond_broadcast(&r->changed);
                if (wait_until(r, enough_inside, i))
                        r->met = true;
        }
        if (r->after_next_fails[i] && wait_until(r, next_failed, i)) {
                /* time for the pool to record that failure first: a correct pool returns this
                 * item's error whatever the timing, one keeping the earliest failure would
                 * (almost always) return the other */
                pthread_mutex_unlock(&r->lock);
                nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
                pthread_mutex_lock(&r->lock);
        }
        int code = r->fail_code[i];
        if (code < 0) {
                r->failed[i] = true;
                pthread_cond_broadcast(&r->changed);
        }
        pthread_mutex_unlock(&r->lock);
        if (code < 0)
                return xarch_error_set(err, -code, "item %zu failed", i);
        return 0;
}

/* as run_all_jobs' users do: a failed item keeps its result (failed[i]) and returns nothing */
static void each_item(void *ctx, size_t i) {
        (void) item(ctx, i, NULL);
}

static void assert_each_once(const struct record *r, size_t begin, size_t end) {
        for (size_t i = 0; i < ITEMS; i++)
                assert_int_equal(atomic_load(&r->runs[i]), i >= begin && i < end ? 1 : 0);
}

static void test_every_item_once(void **state) {
        (void) state;
        static const unsigned jobs[] = {0, 1, 2, 3, 8, JOBS_MAX, JOBS_MAX + 5, 1000};
        for (size_t k = 0; k < sizeof(jobs) / sizeof(jobs[0]); k++) {
                struct record *r = malloc(sizeof(*r));
                assert_non_null(r);
                record_init(r);
                assert_int_equal(run_jobs(7, 7 + 250, jobs[k], item, r, NULL), 0);
                assert_each_once(r, 7, 7 + 250);
                assert_int_equal(r->n_order, 250);
                record_clear(r);

                record_init(r);
                run_all_jobs(3, 3 + 200, jobs[k], each_item, r);
                assert_each_once(r, 3, 3 + 200);
                record_clear(r);

                record_init(r);
                assert_int_equal(run_jobs(5, 5, jobs[k], item, r, NULL), 0);
                run_all_jobs(5, 5, jobs[k], each_item, r);
                assert_each_once(r, 0, 0);
                record_clear(r);
                free(r);
        }
}

static void test_one_job_in_order_here(void **state) {
        (void) state;
        for (unsigned jobs = 0; jobs <= 1; jobs++) {
                struct record *r = malloc(sizeof(*r));
                assert_non_null(r);
                record_init(r);
                unsigned created = atomic_load(&threads_created);
                assert_int_equal(run_jobs(10, 60, jobs, item, r, NULL), 0);
                assert_int_equal(r->n_order, 50);
                for (size_t i = 0; i < 50; i++)
                        assert_int_equal(r->order[i], 10 + i);
                assert_true(r->all_on_caller);
                record_clear(r);

                record_init(r);
                run_all_jobs(0, 40, jobs, each_item, r);
                assert_int_equal(r->n_order, 40);
                for (size_t i = 0; i < 40; i++)
                        assert_int_equal(r->order[i], i);
                assert_true(r->all_on_caller);
                assert_int_equal(atomic_load(&threads_created), created);
                record_clear(r);
                free(r);
        }
        /* one item needs no thread whatever jobs says */
        struct record *r = malloc(sizeof(*r));
        assert_non_null(r);
        record_init(r);
        unsigned created = atomic_load(&threads_created);
        assert_int_equal(run_jobs(4, 5, 16, item, r, NULL), 0);
        assert_each_once(r, 4, 5);
        assert_true(r->all_on_caller);
        assert_int_equal(atomic_load(&threads_created), created);
        record_clear(r);
        free(r);
}

/* jobs counts the calling thread: 3 jobs are 2 new threads and this one, all running items. */
static void test_threads_run_together(void **state) {
        (void) state;
        struct record *r = malloc(sizeof(*r));
        assert_non_null(r);
        record_init(r);
        r->together = 3;
        unsigned created = atomic_load(&threads_created);
        assert_int_equal(run_jobs(0, 60, 3, item, r, NULL), 0);
        assert_true(r->met);
        assert_false(r->timed_out);
        assert_false(r->all_on_caller);
        assert_int_equal(atomic_load(&threads_created) - created, 2);
        assert_true(r->n_threads <= 3);
        assert_each_once(r, 0, 60);
        /* items are handed out in order: the first three started before any later one */
        for (size_t k = 0; k < 3; k++)
                assert_true(r->order[k] < 3);
        record_clear(r);

        record_init(r);
        r->together = 4;
        run_all_jobs(0, 100, 4, each_item, r);
        assert_true(r->met);
        assert_false(r->timed_out);
        assert_each_once(r, 0, 100);
        record_clear(r);
        free(r);
}

static void test_failure_in_order(void **state) {
        (void) state;
        struct record *r = malloc(sizeof(*r));
        assert_non_null(r);
        record_init(r);
        r->fail_code[3] = -EIO;
        r->fail_code[6] = -ENOSPC;
        struct xarch_error *err = NULL;
        assert_int_equal(run_jobs(0, 10, 1, item, r, &err), -EIO);
        assert_non_null(err);
        assert_string_equal(err->msg, "item 3 failed");
        assert_each_once(r, 0, 4); /* nothing after the failure */
        xarch_error_free(err);
        record_clear(r);
        free(r);
}

/* Item 1 fails first, then item 0 (which waits for it): the error returned is item 0's, the one
 * a run in order would give, and neither thread takes another item after its failure. */
static void test_failure_lowest_item(void **state) {
        (void) state;
        struct record *r = malloc(sizeof(*r));
        assert_non_null(r);
        record_init(r);
        r->together = 2;
        r->fail_code[0] = -EBADMSG;
        r->after_next_fails[0] = true;
        r->fail_code[1] = -EIO;
        struct xarch_error *err = NULL;
        assert_int_equal(run_jobs(0, 20, 2, item, r, &err), -EBADMSG);
        assert_true(r->met);
        assert_false(r->timed_out);
        assert_true(r->failed[0] && r->failed[1]);
        assert_non_null(err);
        assert_string_equal(err->msg, "item 0 failed");
        assert_each_once(r, 0, 2);
        xarch_error_free(err);

        /* without a place for the error, the code alone (and nothing leaks) */
        record_clear(r);
        record_init(r);
        r->together = 2;
        r->fail_code[0] = -EBADMSG;
        r->after_next_fails[0] = true;
        r->fail_code[1] = -EIO;
        assert_int_equal(run_jobs(0, 20, 2, item, r, NULL), -EBADMSG);
        assert_each_once(r, 0, 2);

        /* an error already set is kept */
        record_clear(r);
        record_init(r);
        r->fail_code[5] = -EIO;
        struct xarch_error *first = NULL;
        xarch_error_set(&first, EPERM, "set before");
        assert_int_equal(run_jobs(0, 20, 4, item, r, &first), -EIO);
        assert_string_equal(first->msg, "set before");
        xarch_error_free(first);
        record_clear(r);
        free(r);
}

/* run_all_jobs: failed items keep their result, the others all run. */
static void test_all_jobs_keep_going(void **state) {
        (void) state;
        struct record *r = malloc(sizeof(*r));
        assert_non_null(r);
        record_init(r);
        r->fail_code[0] = -EIO;
        r->fail_code[1] = -EIO;
        r->fail_code[50] = -ENOENT;
        run_all_jobs(0, 120, 4, each_item, r);
        assert_each_once(r, 0, 120);
        assert_true(r->failed[0] && r->failed[1] && r->failed[50]);
        record_clear(r);

        record_init(r);
        r->fail_code[2] = -EIO;
        run_all_jobs(0, 30, 1, each_item, r);
        assert_each_once(r, 0, 30);
        record_clear(r);
        free(r);
}

static void test_no_thread_started(void **state) {
        (void) state;
        struct record *r = malloc(sizeof(*r));
        assert_non_null(r);
        record_init(r);
        atomic_store(&refuse_threads, true);
        assert_int_equal(run_jobs(0, 80, 8, item, r, NULL), 0);
        assert_each_once(r, 0, 80);
        assert_true(r->all_on_caller);
        for (size_t i = 0; i < 80; i++)
                assert_int_equal(r->order[i], i);
        record_clear(r);

        record_init(r);
        r->fail_code[9] = -EIO;
        struct xarch_error *err = NULL;
        assert_int_equal(run_jobs(0, 80, 8, item, r, &err), -EIO);
        assert_string_equal(err->msg, "item 9 failed");
        assert_each_once(r, 0, 10);
        xarch_error_free(err);
        record_clear(r);

        record_init(r);
        run_all_jobs(0, 80, 8, each_item, r);
        assert_each_once(r, 0, 80);
        assert_true(r->all_on_caller);
        atomic_store(&refuse_threads, false);
        record_clear(r);
        free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_every_item_once),
                        cmocka_unit_test(test_one_job_in_order_here),
                        cmocka_unit_test(test_threads_run_together),
                        cmocka_unit_test(test_failure_in_order),
                        cmocka_unit_test(test_failure_lowest_item),
                        cmocka_unit_test(test_all_jobs_keep_going),
                        cmocka_unit_test(test_no_thread_started),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
