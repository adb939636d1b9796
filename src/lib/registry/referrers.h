/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_REGISTRY_REFERRERS_H
#define XARCH_LIB_REGISTRY_REFERRERS_H

/*
 * Referrers (OCI distribution 1.1): what refers to a manifest through its `subject` field
 * (signatures, SBOMs, attestations stored as artifacts).
 */

#include <stdbool.h>

#include "xarch/error.h"
#include "xarch/ref.h"
#include "xarch/registry.h"

/* The fallback tag of a subject digest: "sha256:<hex>" -> "sha256-<hex>". */
void referrers_tag(const char *digest, char out[XARCH_DIGEST_MAX]);

/*
 * Lists the referrers of `digest` in ref's repository: GET /v2/<name>/referrers/<digest> (an
 * image index, capped at XARCH_MANIFEST_MAX); when the registry has no referrers API (404,
 * 400, 405 or a non-index answer), the fallback tag "<alg>-<hex>". ret->data is the index
 * (NULL with ret->len 0 when there are none); *from_api says which source answered.
 */
int registry_referrers(struct xarch_registry *r, const struct xarch_ref *ref, const char *digest,
                struct xarch_blob_buf *ret, bool *from_api, struct xarch_error **err);

#endif
