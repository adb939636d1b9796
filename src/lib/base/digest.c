/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* OpenSSL's low-level SHA-2 functions, not EVP: EVP's first use loads OpenSSL's configuration
 * and default provider (~1.4 ms of CPU in every process, more than a whole one-image inspect's
 * own work), while these run the same assembly (SHA-NI where the CPU has it) with no set-up.
 * They are deprecated since OpenSSL 3.0 but present throughout 3.x; see docs/ARCHITECTURE.md. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "macro.h"
#include "xarch/digest.h"

struct xarch_digester {
        union {
                SHA256_CTX sha256;
                SHA512_CTX sha512;
        } ctx;
        const char *algo; /* static string: "sha256" or "sha512" */
        bool is_sha512;
        bool finished;
};

struct digest_algo {
        const char *name;
        size_t hex_len;
};

static const struct digest_algo algos[] = {
                {"sha256", 64},
                {"sha512", 128},
};

/* Finds the algorithm named by "sha256", "sha256:..." or NULL (sha256). */
static const struct digest_algo *algo_lookup(const char *algo_or_digest) {
        if (!algo_or_digest)
                return &algos[0];
        const char *colon = strchr(algo_or_digest, ':');
        size_t n = colon ? (size_t) (colon - algo_or_digest) : strlen(algo_or_digest);
        for (size_t i = 0; i < ELEMENTSOF(algos); i++)
                if (strlen(algos[i].name) == n && strncmp(algos[i].name, algo_or_digest, n) == 0)
                        return &algos[i];
        return NULL;
}

bool xarch_digest_valid(const char *digest) {
        if (!digest)
                return false;
        const char *colon = strchr(digest, ':');
        if (!colon)
                return false;
        const struct digest_algo *a = algo_lookup(digest);
        if (!a)
                return false;
        const char *hex = colon + 1;
        size_t i;
        for (i = 0; hex[i] && i <= a->hex_len; i++)
                if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
                        return false;
        return i == a->hex_len && hex[i] == '\0';
}

int xarch_digester_new(const char *algo_or_digest, struct xarch_digester **ret) {
        const struct digest_algo *a = algo_lookup(algo_or_digest);
        if (!a)
                return -EINVAL;
        struct xarch_digester *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->algo = a->name;
        d->is_sha512 = streq(a->name, "sha512");
        if ((d->is_sha512 ? SHA512_Init(&d->ctx.sha512) : SHA256_Init(&d->ctx.sha256)) != 1) {
                xarch_digester_free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

void xarch_digester_update(struct xarch_digester *d, const void *buf, size_t len) {
        if (!d || d->finished || len == 0)
                return;
        if (d->is_sha512)
                (void) SHA512_Update(&d->ctx.sha512, buf, len);
        else
                (void) SHA256_Update(&d->ctx.sha256, buf, len);
}

int xarch_digester_final(struct xarch_digester *d, char out[XARCH_DIGEST_MAX]) {
        unsigned char md[SHA512_DIGEST_LENGTH];
        unsigned int md_len = d && d->is_sha512 ? SHA512_DIGEST_LENGTH : SHA256_DIGEST_LENGTH;
        if (!d || d->finished)
                return -EIO;
        d->finished = true;
        if ((d->is_sha512 ? SHA512_Final(md, &d->ctx.sha512) : SHA256_Final(md, &d->ctx.sha256)) !=
                        1)
                return -EIO;
        static const char hexdigits[] = "0123456789abcdef";
        size_t n = strlen(d->algo);
        memcpy(out, d->algo, n);
        out[n++] = ':';
        for (unsigned i = 0; i < md_len; i++) {
                out[n++] = hexdigits[md[i] >> 4];
                out[n++] = hexdigits[md[i] & 0xf];
        }
        out[n] = '\0';
        return 0;
}

void xarch_digester_free(struct xarch_digester *d) {
        if (!d)
                return;
        explicit_bzero(d, sizeof(*d));
        free(d);
}

int xarch_digest_buffer(const char *algo, const void *buf, size_t len, char out[XARCH_DIGEST_MAX]) {
        struct xarch_digester *d = NULL;
        int r = xarch_digester_new(algo, &d);
        if (r < 0)
                return r;
        xarch_digester_update(d, buf, len);
        r = xarch_digester_final(d, out);
        xarch_digester_free(d);
        return r;
}
