/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/xarch.h"

__attribute__((format(printf, 3, 0))) static int error_vset(
                struct xarch_error **err, int code, const char *fmt, va_list ap) {
        if (code <= 0)
                code = EIO;
        if (!err || *err)
                return -code;
        struct xarch_error *e = calloc(1, sizeof(*e));
        if (!e)
                return -code;
        e->code = code;
        if (vasprintf(&e->msg, fmt, ap) < 0)
                e->msg = NULL;
        *err = e;
        return -code;
}

int xarch_error_set(struct xarch_error **err, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, fmt, ap);
        va_end(ap);
        return r;
}

int xarch_error_wrap(struct xarch_error **err, const char *fmt, ...) {
        if (!err || !*err)
                return -EIO;
        char *prefix = NULL, *joined = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&prefix, fmt, ap);
        va_end(ap);
        if (n >= 0 && asprintf(&joined, "%s: %s", prefix, (*err)->msg ? (*err)->msg : "") >= 0) {
                free((*err)->msg);
                (*err)->msg = joined;
        }
        if (n >= 0)
                free(prefix);
        return -(*err)->code;
}

void xarch_error_free(struct xarch_error *err) {
        if (!err)
                return;
        free(err->msg);
        free(err);
}

void xarch_error_freep(struct xarch_error **err) {
        if (!err)
                return;
        xarch_error_free(*err);
        *err = NULL;
}

const char *xarch_version(void) {
        return XARCH_VERSION;
}
