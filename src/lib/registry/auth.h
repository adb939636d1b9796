/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_AUTH_H
#define XARCH_LIB_AUTH_H

/* Internal: registry authentication helpers (WWW-Authenticate, credential files and helpers,
 * token responses). Declared here so that unit tests and fuzzers can reach them. */

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"

enum auth_scheme {
        AUTH_SCHEME_NONE = 0,
        AUTH_SCHEME_BASIC,
        AUTH_SCHEME_BEARER,
};

#define AUTH_REALM_MAX   1024
#define AUTH_SERVICE_MAX 256
#define AUTH_SCOPE_MAX   1024
#define AUTH_HEADER_MAX  8192 /* longest WWW-Authenticate value we look at */

struct auth_challenge {
        enum auth_scheme scheme;
        char realm[AUTH_REALM_MAX];
        char service[AUTH_SERVICE_MAX];
        char scope[AUTH_SCOPE_MAX];
        char error[64]; /* RFC 6750 error="insufficient_scope", ... */
};

/* Parses one WWW-Authenticate header value (RFC 7235: comma-separated challenges, each a scheme
 * followed by auth-params with token or quoted-string values). Picks the Bearer challenge if
 * there is one, else Basic. Returns 0; -EOPNOTSUPP when no Bearer/Basic challenge is present;
 * -EINVAL when malformed or a parameter is too long. Never reads past len. */
int auth_parse_www_authenticate(const char *value, size_t len, struct auth_challenge *ret);

#define AUTH_USERNAME_MAX 512
#define AUTH_SECRET_MAX   8192 /* ECR passwords and identity tokens run to a few KiB */

struct auth_credentials {
        char username[AUTH_USERNAME_MAX];
        char secret[AUTH_SECRET_MAX];
        bool identity_token; /* secret is an OAuth2 refresh token ("<token>" user / identitytoken)
                              */
};

/* Overwrites the secret so it does not linger in memory. */
void auth_credentials_wipe(struct auth_credentials *c);

/* Decodes base64 (standard alphabet, padding optional) into out; returns the length or
 * -EINVAL / -ENOBUFS. out is NUL-terminated. */
int auth_base64_decode(const char *in, size_t in_len, char *out, size_t out_size);

/* Encodes "user:secret" as base64 for an Authorization: Basic header; returns length or
 * -ENOBUFS. */
int auth_base64_encode(const void *in, size_t in_len, char *out, size_t out_size);

/* Finds credentials for registry (as written in references, e.g. "docker.io",
 * "localhost:5000") and repository. Searches auth_file when not NULL, else $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json, $XDG_CONFIG_HOME/containers/auth.json
 * (~/.config/...), $DOCKER_CONFIG/config.json (~/.docker/config.json). In each file:
 * credHelpers[host], then auths (most specific "host/repo/..." key first), then credsStore.
 * Returns 1 when found, 0 when none, negative on a broken file or helper (message without
 * secrets). */
int auth_lookup(const char *auth_file, const char *registry, const char *repository,
                struct auth_credentials *ret, struct xarch_error **err);

/* How long a credential helper may take before it is killed (tests shorten it). */
extern int auth_helper_timeout_ms;

/* Runs "docker-credential-<helper> get" with server_url on stdin and parses its JSON answer.
 * Returns 1 found, 0 when the helper says it has no credentials, negative on failure. */
int auth_run_credential_helper(const char *helper, const char *server_url,
                struct auth_credentials *ret, struct xarch_error **err);

/* Parses a token endpoint's JSON answer ({token | access_token, expires_in}). *ret_token is
 * malloc'd; *ret_expires_in is at least 60 seconds. Returns 0 or -EBADMSG. */
int auth_parse_token_response(const char *body, size_t len, char **ret_token, long *ret_expires_in);

#endif
