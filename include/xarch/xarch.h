/* SPDX-License-Identifier: MIT */
#ifndef XARCH_XARCH_H
#define XARCH_XARCH_H

/* libxarch: the library behind the xarch tool. Include this umbrella header. */

#include "xarch/error.h"
#include "xarch/platform.h"
#include "xarch/file.h"
#include "xarch/binfmt.h"
#include "xarch/doctor.h"
#include "xarch/diagnose.h"
#include "xarch/ref.h"
#include "xarch/digest.h"
#include "xarch/registry.h"
#include "xarch/image.h"
#include "xarch/compression.h"
#include "xarch/layer.h"
#include "xarch/verify.h"
#include "xarch/check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
const char *xarch_version(void);

#ifdef __cplusplus
}
#endif

#endif
