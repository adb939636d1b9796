/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_CURL_LAZY_H
#define XARCH_LIB_CURL_LAZY_H

/*
 * libcurl, loaded on first use. Debian's libcurl pulls in some thirty libraries (LDAP, Kerberos,
 * GnuTLS via RTMP, SSH, ...) whose mapping and relocation cost every xarch process about 5 ms
 * before main(), though only registry access needs them. So libxarch does not link libcurl:
 * the registry client calls curl_lazy_load() first, which dlopen()s libcurl.so.4 and resolves
 * the few functions it uses into `curl_lazy`. Source files that include this header after
 * <curl/curl.h> call those through the usual names (macros below).
 */

#define CURL_DISABLE_TYPECHECK 1 /* its function-like macros would clash with ours */
#include <curl/curl.h>

#include "xarch/error.h"

struct curl_lazy {
        __typeof__(curl_global_init) *global_init;
        __typeof__(curl_easy_init) *easy_init;
        __typeof__(curl_easy_setopt) *easy_setopt;
        __typeof__(curl_easy_perform) *easy_perform;
        __typeof__(curl_easy_reset) *easy_reset;
        __typeof__(curl_easy_cleanup) *easy_cleanup;
        __typeof__(curl_easy_getinfo) *easy_getinfo;
        __typeof__(curl_easy_strerror) *easy_strerror;
        __typeof__(curl_easy_escape) *easy_escape;
        __typeof__(curl_free) *free;
        __typeof__(curl_slist_append) *slist_append;
        __typeof__(curl_slist_free_all) *slist_free_all;
        __typeof__(curl_share_init) *share_init;
        __typeof__(curl_share_setopt) *share_setopt;
        __typeof__(curl_share_cleanup) *share_cleanup;
        __typeof__(curl_url) *url;
        __typeof__(curl_url_set) *url_set;
        __typeof__(curl_url_get) *url_get;
        __typeof__(curl_url_cleanup) *url_cleanup;
};

extern struct curl_lazy curl_lazy;

/* Loads libcurl once per process (thread-safe); 0 or -ELIBACC with a message naming the
 * library and what to install. */
int curl_lazy_load(struct xarch_error **err);

#ifndef CURL_LAZY_IMPLEMENTATION
/* curl.h wraps these three in argument-count macros; ours replace them. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#define curl_global_init    curl_lazy.global_init
#define curl_easy_init      curl_lazy.easy_init
#define curl_easy_setopt    curl_lazy.easy_setopt
#define curl_easy_perform   curl_lazy.easy_perform
#define curl_easy_reset     curl_lazy.easy_reset
#define curl_easy_cleanup   curl_lazy.easy_cleanup
#define curl_easy_getinfo   curl_lazy.easy_getinfo
#define curl_easy_strerror  curl_lazy.easy_strerror
#define curl_easy_escape    curl_lazy.easy_escape
#define curl_free           curl_lazy.free
#define curl_slist_append   curl_lazy.slist_append
#define curl_slist_free_all curl_lazy.slist_free_all
#define curl_share_init     curl_lazy.share_init
#define curl_share_setopt   curl_lazy.share_setopt
#define curl_share_cleanup  curl_lazy.share_cleanup
#define curl_url            curl_lazy.url
#define curl_url_set        curl_lazy.url_set
#define curl_url_get        curl_lazy.url_get
#define curl_url_cleanup    curl_lazy.url_cleanup
#endif

#endif
