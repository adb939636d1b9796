/* SPDX-License-Identifier: MIT */
#ifndef XARCH_XARCH_H
#define XARCH_XARCH_H

/* libxarch: the library behind the xarch tool. Include this umbrella header. */

#include <stddef.h>

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
#include "xarch/copy.h"
#include "xarch/build.h"
#include "xarch/index.h"
#include "xarch/audit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
const char *xarch_version(void);

/* One library libxarch uses, for `xarch --version` and bug reports: what it does for xarch
 * ("inflate", "zstd", "libcurl", "libcrypto"), its name and version ("zlib 1.2.13"), and a note
 * when the version is not the one running (NULL otherwise). Static strings. */
struct xarch_component {
        const char *role;
        const char *version;
        const char *note;
};

/* Fills up to max components in out and returns how many there are (may exceed max). Does not
 * load libcurl: its version is the loaded one when the process already uses it, else the one
 * xarch was built against. */
size_t xarch_version_components(struct xarch_component *out, size_t max);

#ifdef __cplusplus
}
#endif

#endif
