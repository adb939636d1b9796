/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BASE_INFLATE_H
#define XARCH_LIB_BASE_INFLATE_H

#include <stdbool.h>

/* Whether gzip is inflated with ISA-L: the build has it (HAVE_ISAL) and the environment does
 * not say XARCH_INFLATE=zlib. xarch_inflate_engine() (xarch/compression.h) names the choice. */
bool inflate_use_isal(void);

#endif
