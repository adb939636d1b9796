/* SPDX-License-Identifier: MIT */
#ifndef XARCH_DIGEST_H
#define XARCH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * OCI content digests "<algorithm>:<lower-case hex>": sha256 (64 hex digits) and sha512
 * (128 hex digits). Hashing goes through OpenSSL's EVP interface.
 */

/* Room for "sha512:" + 128 hex digits + NUL, with slack. */
#define XARCH_DIGEST_MAX 140

/* True for "sha256:<64 lower-case hex>" and "sha512:<128 lower-case hex>". */
bool xarch_digest_valid(const char *digest);

struct xarch_digester;

/* Creates a streaming hasher. algo_or_digest is "sha256", "sha512", or a whole digest whose
 * algorithm is used (so that content can be checked against it); NULL means sha256.
 * Returns 0, -EINVAL (unknown algorithm) or -ENOMEM. */
int xarch_digester_new(const char *algo_or_digest, struct xarch_digester **ret);

void xarch_digester_update(struct xarch_digester *d, const void *buf, size_t len);

/* Writes "<algo>:<hex>" into out. The digester cannot be updated afterwards. Returns 0 or -EIO. */
int xarch_digester_final(struct xarch_digester *d, char out[XARCH_DIGEST_MAX]);

/* Accepts NULL. */
void xarch_digester_free(struct xarch_digester *d);

/* One-shot: hashes buf with algo (NULL = sha256, or a digest whose algorithm is used). */
int xarch_digest_buffer(const char *algo, const void *buf, size_t len, char out[XARCH_DIGEST_MAX]);

#ifdef __cplusplus
}
#endif

#endif
