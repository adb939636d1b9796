/* SPDX-License-Identifier: MIT */
#ifndef XARCH_ERROR_H
#define XARCH_ERROR_H

/*
 * Error convention (from crun and systemd): every fallible libxarch function returns an int,
 * >= 0 on success and a negative errno on failure. Functions that can say more take a
 * `struct xarch_error **err`; when err is not NULL and *err is NULL, a failure stores a
 * message there that the caller owns and frees with xarch_error_free(). The library never
 * prints and never exits.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct xarch_error {
        int code;  /* positive errno that describes the failure */
        char *msg; /* human-readable, no trailing newline, never contains secrets */
};

/* Stores a formatted error in *err (if err != NULL and *err is still NULL) and returns -code.
 * A code <= 0 is treated as EIO. */
int xarch_error_set(struct xarch_error **err, int code, const char *fmt, ...)
                __attribute__((format(printf, 3, 4)));

/* Prefixes an existing error with context ("context: old message"); returns -(*err)->code,
 * or -EIO when there is no error to wrap. */
int xarch_error_wrap(struct xarch_error **err, const char *fmt, ...)
                __attribute__((format(printf, 2, 3)));

void xarch_error_free(struct xarch_error *err);

/* Frees *err and sets it to NULL; usable as a cleanup function. */
void xarch_error_freep(struct xarch_error **err);

#ifdef __cplusplus
}
#endif

#endif
