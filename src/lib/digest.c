/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"
#include "macro.h"
#include "xarch/digest.h"

struct xarch_digester {
        EVP_MD_CTX *ctx;
        const char *algo; /* static string: "sha256" or "sha512" */
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

/* OpenSSL 3 loads its configuration and default provider on the first digest (about 1.4 ms):
 * fetching the two algorithms once, explicitly, also spares the implicit fetch per digest. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha512;

static void md_fetch(void) {
        md_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
        md_sha512 = EVP_MD_fetch(NULL, "SHA2-512", NULL);
}

void digest_prepare(void) {
        pthread_once(&md_once, md_fetch);
}

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
        d->ctx = EVP_MD_CTX_new();
        digest_prepare();
        const EVP_MD *md = streq(a->name, "sha256") ? md_sha256 : md_sha512;
        if (!d->ctx || !md || EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
                xarch_digester_free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

void xarch_digester_update(struct xarch_digester *d, const void *buf, size_t len) {
        if (!d || d->finished || len == 0)
                return;
        (void) EVP_DigestUpdate(d->ctx, buf, len);
}

int xarch_digester_final(struct xarch_digester *d, char out[XARCH_DIGEST_MAX]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (!d || d->finished)
                return -EIO;
        d->finished = true;
        if (EVP_DigestFinal_ex(d->ctx, md, &md_len) != 1)
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
        EVP_MD_CTX_free(d->ctx);
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
