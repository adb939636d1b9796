/* SPDX-License-Identifier: MIT */
/*
 * The WWW-Authenticate parser on arbitrary bytes (it is handed a pointer and a length, never a
 * NUL-terminated string, so reads past the end show up under ASan). Accepted challenges must
 * have a known scheme, a realm for Bearer, and NUL-terminated fields within their bounds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct auth_challenge c;
        int r = auth_parse_www_authenticate((const char *) data, size, &c);
        check(r == 0 || r == -EINVAL || r == -EOPNOTSUPP);
        if (r == 0) {
                check(c.scheme == AUTH_SCHEME_BEARER || c.scheme == AUTH_SCHEME_BASIC);
                check(memchr(c.realm, 0, sizeof(c.realm)) &&
                                memchr(c.service, 0, sizeof(c.service)));
                check(memchr(c.scope, 0, sizeof(c.scope)) && memchr(c.error, 0, sizeof(c.error)));
                check(c.scheme != AUTH_SCHEME_BEARER || c.realm[0]);
        }
        /* deterministic */
        struct auth_challenge again;
        check(auth_parse_www_authenticate((const char *) data, size, &again) == r);
        if (r == 0)
                check(strcmp(c.realm, again.realm) == 0 && strcmp(c.scope, again.scope) == 0);
        return 0;
}
