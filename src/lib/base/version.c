/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <zlib.h>
#include <zstd.h>

#include "xarch/xarch.h"

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

size_t xarch_version_components(struct xarch_component *out, size_t max) {
        static char inflate[64], zstd[64], curl[128], crypto[128];
        snprintf(inflate, sizeof(inflate), "zlib %s", zlibVersion());
        snprintf(zstd, sizeof(zstd), "zstd %s", ZSTD_versionString());
        snprintf(crypto, sizeof(crypto), "%s", OpenSSL_version(OPENSSL_VERSION));
        const char *curl_note = NULL;
        if (!loaded_curl_version(curl, sizeof(curl))) {
                snprintf(curl, sizeof(curl), "libcurl %s", LIBCURL_VERSION);
                curl_note = "built against; loaded on first registry use";
        }
        const struct xarch_component all[] = {
                        {"inflate", inflate, NULL},
                        {"zstd", zstd, NULL},
                        {"libcurl", curl, curl_note},
                        {"libcrypto", crypto, NULL},
        };
        size_t n = sizeof(all) / sizeof(all[0]);
        for (size_t i = 0; i < n && i < max; i++)
                out[i] = all[i];
        return n;
}
