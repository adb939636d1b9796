/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#if HAVE_ISAL
#include <isa-l.h>
#endif

#include "base/inflate.h"
#include "xarch/xarch.h"

bool inflate_use_isal(void) {
#if HAVE_ISAL
        const char *e = getenv("XARCH_INFLATE");
        return !(e && strcmp(e, "zlib") == 0);
#else
        return false;
#endif
}

#define STR2(x) #x
#define STR(x)  STR2(x)

const char *xarch_inflate_engine(void) {
#if HAVE_ISAL
        if (inflate_use_isal())
                return "isa-l " STR(ISAL_MAJOR_VERSION) "." STR(ISAL_MINOR_VERSION) "." STR(
                                ISAL_PATCH_VERSION);
#endif
        static char name[32];
        if (!name[0])
                snprintf(name, sizeof(name), "zlib %s", zlibVersion());
        return name;
}

/* The running libcurl's version when something in this process has loaded it already
 * (RTLD_NOLOAD never loads it: `xarch --version` stays as cheap as every other verb). */
static const char *loaded_curl_version(char *buf, size_t size) {
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
        if (!h)
                return NULL;
        __typeof__(curl_version_info) *info = NULL;
        *(void **) &info = dlsym(h, "curl_version_info");
        const curl_version_info_data *v = info ? info(CURLVERSION_FIRST) : NULL;
        if (v && v->version)
                snprintf(buf, size, "libcurl %s%s%s", v->version, v->ssl_version ? " " : "",
                                v->ssl_version ? v->ssl_version : "");
        dlclose(h);
        return v && v->version ? buf : NULL;
}

/* Why zlib inflates, when it does. */
static const char *inflate_note(void) {
#if HAVE_ISAL
        return "XARCH_INFLATE=zlib";
#else
        return "built without ISA-L";
#endif
}

size_t xarch_version_components(struct xarch_component *out, size_t max) {
        static char inflate[64], zstd[64], curl[128], crypto[128];
        snprintf(inflate, sizeof(inflate), "%s", xarch_inflate_engine());
        snprintf(zstd, sizeof(zstd), "zstd %s", ZSTD_versionString());
        snprintf(crypto, sizeof(crypto), "%s", OpenSSL_version(OPENSSL_VERSION));
        const char *curl_note = NULL;
        if (!loaded_curl_version(curl, sizeof(curl))) {
                snprintf(curl, sizeof(curl), "libcurl %s", LIBCURL_VERSION);
                curl_note = "built against; loaded on first registry use";
        }
        const struct xarch_component all[] = {
                        {"inflate", inflate, inflate_use_isal() ? NULL : inflate_note()},
                        {"zstd", zstd, NULL},
                        {"libcurl", curl, curl_note},
                        {"libcrypto", crypto, NULL},
        };
        size_t n = sizeof(all) / sizeof(all[0]);
        for (size_t i = 0; i < n && i < max; i++)
                out[i] = all[i];
        return n;
}
