/* SPDX-License-Identifier: MIT */
/* A few threads taking items in order (jobs.h). */
#include <pthread.h>
#include <stdbool.h>

#include "base/jobs.h"
#include "macro.h"

struct job_queue {
        job_fn fn;
        void *ctx;
        pthread_mutex_t lock;
        size_t next, end;
        bool failed;
        size_t failed_item; /* the lowest one that failed */
        int failure;
        struct xarch_error *err;
};

static void *job_worker(void *arg) {
        struct job_queue *q = arg;
        for (;;) {
                pthread_mutex_lock(&q->lock);
                if (q->failed || q->next >= q->end) {
                        pthread_mutex_unlock(&q->lock);
                        return NULL;
                }
                size_t i = q->next++;
                pthread_mutex_unlock(&q->lock);
                struct xarch_error *e = NULL;
                int r = q->fn(q->ctx, i, &e);
                if (r < 0) {
                        /* items are taken in order, so every one below i has been taken: a
                         * lower failure can still arrive, a higher one is replaced */
                        pthread_mutex_lock(&q->lock);
                        if (!q->failed || i < q->failed_item) {
                                xarch_error_free(q->err);
                                q->err = steal_ptr(e);
                                q->failure = r;
                                q->failed_item = i;
                                q->failed = true;
                        }
                        pthread_mutex_unlock(&q->lock);
                }
                xarch_error_free(e);
        }
}

int run_jobs(size_t begin, size_t end, unsigned jobs, job_fn fn, void *ctx,
                struct xarch_error **err) {
        if (jobs <= 1 || end - begin <= 1) {
                for (size_t i = begin; i < end; i++) {
                        int r = fn(ctx, i, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (jobs > end - begin)
                jobs = (unsigned) (end - begin);
        if (jobs > JOBS_MAX)
                jobs = JOBS_MAX;
        struct job_queue q = {.fn = fn, .ctx = ctx, .next = begin, .end = end};
        pthread_t th[JOBS_MAX - 1];
        unsigned started = 0;
        pthread_mutex_init(&q.lock, NULL);
        for (; started < jobs - 1; started++)
                if (pthread_create(&th[started], NULL, job_worker, &q) != 0)
                        break;
        job_worker(&q);
        for (unsigned k = 0; k < started; k++)
                pthread_join(th[k], NULL);
        pthread_mutex_destroy(&q.lock);
        if (q.failed && err && !*err)
                *err = steal_ptr(q.err);
        xarch_error_free(q.err);
        return q.failed ? q.failure : 0;
}

struct each_job {
        each_job_fn fn;
        void *ctx;
};

static int run_each(void *ctx, size_t i, struct xarch_error **err) {
        (void) err;
        struct each_job *e = ctx;
        e->fn(e->ctx, i);
        return 0;
}

void run_all_jobs(size_t begin, size_t end, unsigned jobs, each_job_fn fn, void *ctx) {
        struct each_job e = {.fn = fn, .ctx = ctx};
        run_jobs(begin, end, jobs, run_each, &e, NULL);
}
