/* SPDX-License-Identifier: MIT */
#define CURL_LAZY_IMPLEMENTATION 1
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "registry/curl-lazy.h"

struct curl_lazy curl_lazy;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

#define RESOLVE(handle, field, symbol)                                                             \
        do {                                                                                       \
                *(void **) &curl_lazy.field = dlsym(handle, symbol);                               \
                if (!curl_lazy.field) {                                                            \
                        snprintf(load_error, sizeof(load_error), "libcurl lacks %s", symbol);      \
                        return;                                                                    \
                }                                                                                  \
        } while (0)

static void load(void) {
        /* The soname first; the unversioned name is the -dev package's symlink. */
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                h = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                const char *why = dlerror();
                snprintf(load_error, sizeof(load_error),
                                "cannot load libcurl.so.4 (%s); install libcurl4 (Debian) to "
                                "reach registries",
                                why ? why : "not found");
                return;
        }
        RESOLVE(h, global_init, "curl_global_init");
        RESOLVE(h, easy_init, "curl_easy_init");
        RESOLVE(h, easy_setopt, "curl_easy_setopt");
        RESOLVE(h, easy_perform, "curl_easy_perform");
        RESOLVE(h, easy_reset, "curl_easy_reset");
        RESOLVE(h, easy_cleanup, "curl_easy_cleanup");
        RESOLVE(h, easy_getinfo, "curl_easy_getinfo");
        RESOLVE(h, easy_strerror, "curl_easy_strerror");
        RESOLVE(h, easy_escape, "curl_easy_escape");
        RESOLVE(h, free, "curl_free");
        RESOLVE(h, slist_append, "curl_slist_append");
        RESOLVE(h, slist_free_all, "curl_slist_free_all");
        RESOLVE(h, share_init, "curl_share_init");
        RESOLVE(h, share_setopt, "curl_share_setopt");
        RESOLVE(h, share_cleanup, "curl_share_cleanup");
        RESOLVE(h, url, "curl_url");
        RESOLVE(h, url_set, "curl_url_set");
        RESOLVE(h, url_get, "curl_url_get");
        RESOLVE(h, url_cleanup, "curl_url_cleanup");
        /* The handle stays open for the life of the process, like a linked library. */
}

int curl_lazy_load(struct xarch_error **err) {
        pthread_once(&load_once, load);
        if (load_error[0])
                return xarch_error_set(err, ELIBACC, "%s", load_error);
        return 0;
}
