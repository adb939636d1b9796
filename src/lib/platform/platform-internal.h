/* SPDX-License-Identifier: MIT */
#ifndef XARCH_PLATFORM_INTERNAL_H
#define XARCH_PLATFORM_INTERNAL_H

/*
 * Internal helpers of the platform model (src/lib/platform/platform.c), exposed for tests.
 */

#include <stdbool.h>
#include <stddef.h>

#include "xarch/platform.h"

/* Go's strconv.Atoi for a 64-bit int: optional sign, at least one decimal digit, no overflow. */
bool go_atoi(const char *s, long long *ret);

/* Whether Go's syslist (as containerd's isKnownOS) knows this (normalised) OS. */
bool platform_os_is_known(const char *os);

/* Number of entries of want's fallback vector (want must be normalised); 0 for an arm64
 * variant outside containerd's table. Saturates at SIZE_MAX. */
size_t platform_vector_length(const struct xarch_platform *want);

/* Position of candidate (normalised) in want's (normalised) vector, or -1. Computed without
 * building the vector, so a huge amd64/vN cannot make it slow. */
long long platform_vector_rank(
                const struct xarch_platform *want, const struct xarch_platform *candidate);

#endif
