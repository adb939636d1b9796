/* SPDX-License-Identifier: MIT */
/* A few threads taking items in order (jobs.h). */
#include <pthread.h>

#include "base/jobs.h"
#include "macro.h"

struct job_queue {
        job_fn fn;
        void *ctx;
        pthread_mutex_t lock;
        size_t next, end;
        int first_error;
        struct xarch_error *err;
};

static void *job_worker(void *arg) {
        struct job_queue *q = arg;
        for (;;) {
                pthread_mutex_lock(&q->lock);
                if (q->first_error || q->next >= q->end) {
                        pthread_mutex_unlock(&q->lock);
                        return NULL;
                }
                size_t i = q->next++;
                pthread_mutex_unlock(&q->lock);
                struct xarch_error *e = NULL;
                int r = q->fn(q->ctx, i, &e);
                if (r < 0) {
                        pthread_mutex_lock(&q->lock);
                        if (!q->first_error) {
                                q->first_error = r;
                                q->err = steal_ptr(e);
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
        pthread_t th[JOBS_MAX];
        unsigned started = 0;
        pthread_mutex_init(&q.lock, NULL);
        for (; started < jobs; started++)
                if (pthread_create(&th[started], NULL, job_worker, &q) != 0)
                        break;
        if (started == 0)
                job_worker(&q);
        for (unsigned k = 0; k < started; k++)
                pthread_join(th[k], NULL);
        pthread_mutex_destroy(&q.lock);
        if (q.first_error && err && !*err)
                *err = steal_ptr(q.err);
        xarch_error_free(q.err);
        return q.first_error;
}
