/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BASE_JOBS_H
#define XARCH_LIB_BASE_JOBS_H

#include <stddef.h>

#include "xarch/error.h"

/*
 * Items [begin, end) handed out in order to a few threads (internal). Network-bound work (a
 * registry answers one request per connection at a time) runs side by side this way; each item
 * is one call of fn(ctx, i, err), which returns 0 or <0 with *err set.
 */

#define JOBS_MAX 32

typedef int (*job_fn)(void *ctx, size_t i, struct xarch_error **err);

/* Runs fn(ctx, i) for every i in [begin, end): in order on this thread when jobs <= 1 or there
 * is one item, else on up to jobs threads (JOBS_MAX at most; this thread alone when none can be
 * started), which stop taking items after the first failure. Returns the first failure, with
 * its error. */
int run_jobs(size_t begin, size_t end, unsigned jobs, job_fn fn, void *ctx,
                struct xarch_error **err);

#endif
