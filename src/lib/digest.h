/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_DIGEST_H
#define XARCH_LIB_DIGEST_H

/* Initialises the digest engine (OpenSSL's configuration and provider) if not done yet;
 * thread-safe. The registry client runs it on a thread of its own while the first request
 * is on the wire, so the first digest does not wait for it. */
void digest_prepare(void);

#endif
