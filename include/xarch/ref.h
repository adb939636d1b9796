/* SPDX-License-Identifier: MIT */
#ifndef XARCH_REF_H
#define XARCH_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Image references with docker's normalisation (github.com/distribution/reference):
 *   alpine                      -> docker.io/library/alpine:latest
 *   user/app:1.0                -> docker.io/user/app:1.0
 *   localhost/app, host:5000/a  -> the first component is a registry when it contains '.' or
 *                                  ':' or is "localhost"
 *   name@sha256:<hex>           -> digest only (tag stays empty)
 *   name:tag@sha256:<hex>       -> both (the digest wins when pulling)
 * Fields are bounded; anything longer is rejected, never truncated.
 */

#define XARCH_REF_REGISTRY_MAX   256
#define XARCH_REF_REPOSITORY_MAX 256
#define XARCH_REF_TAG_MAX        129
#define XARCH_REF_DIGEST_MAX     (72 + 64)
/* Longest formatted reference including the NUL. */
#define XARCH_REF_STRING_MAX                                                                       \
        (XARCH_REF_REGISTRY_MAX + XARCH_REF_REPOSITORY_MAX + XARCH_REF_TAG_MAX +                   \
                        XARCH_REF_DIGEST_MAX + 4)

/* The registry name docker uses for Docker Hub, and the host that actually serves its API. */
#define XARCH_REF_DOCKER_HUB     "docker.io"
#define XARCH_REF_DOCKER_HUB_API "registry-1.docker.io"

struct xarch_ref {
        char registry[XARCH_REF_REGISTRY_MAX];     /* "docker.io", "localhost:5000", "[::1]:5000" */
        char repository[XARCH_REF_REPOSITORY_MAX]; /* "library/alpine" */
        char tag[XARCH_REF_TAG_MAX];               /* "latest"; "" when only a digest was given */
        char digest[XARCH_REF_DIGEST_MAX];         /* "sha256:<hex>" or "" */
};

/* Parses and normalises a reference. Invalid input (empty, upper-case repository, bad tag or
 * digest, too long, ...) fails with -EINVAL and a message naming the reason. A reference with
 * neither tag nor digest gets the tag "latest". */
int xarch_ref_parse(const char *s, struct xarch_ref *ret, struct xarch_error **err);

/* Formats the fully qualified form "registry/repository[:tag][@digest]" into buf; returns the
 * length or -ENOBUFS when it does not fit (XARCH_REF_STRING_MAX always fits). */
int xarch_ref_format(const struct xarch_ref *r, char *buf, size_t size);

/* The reference to pull: the digest when there is one, else the tag. Never NULL. */
const char *xarch_ref_reference(const struct xarch_ref *r);

/* The host[:port] that serves the registry API: registry-1.docker.io for docker.io, else
 * r->registry itself. */
const char *xarch_ref_api_host(const struct xarch_ref *r);

/* Whether the registry is a loopback host (localhost, 127.0.0.0/8, ::1), where plain HTTP is
 * allowed without --insecure. */
bool xarch_ref_registry_is_loopback(const char *registry);

#ifdef __cplusplus
}
#endif

#endif
