/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BASE_JOBS_H
#define XARCH_LIB_BASE_JOBS_H

#include <stddef.h>

#include "xarch/error.h"

/*
 * Items [begin, end) handed out in order to a few threads (internal): the library's one thread
 * pool. Network-bound work (a registry answers one request per connection at a time) runs side
 * by side this way. The calling thread takes items too, so `jobs` counts it; when no thread can
 * be started it does all the work alone.
 */

#define JOBS_MAX 64

typedef int (*job_fn)(void *ctx, size_t i, struct xarch_error **err);

/* Runs fn(ctx, i, err) for every i in [begin, end): in order on this thread when jobs <= 1 or
 * there is one item, else on up to jobs threads (JOBS_MAX at most). fn returns 0 or <0 with
 * *err set. No item starts after a failure; the one returned, with its error, is the failure
 * of the lowest item, which is what a run in order would have returned. */
int run_jobs(size_t begin, size_t end, unsigned jobs, job_fn fn, void *ctx,
                struct xarch_error **err);

typedef void (*each_job_fn)(void *ctx, size_t i);

/* As run_jobs(), for items that cannot stop the others: each keeps its own result (an image
 * that failed is reported in its place), so every item runs. */
void run_all_jobs(size_t begin, size_t end, unsigned jobs, each_job_fn fn, void *ctx);

#endif
