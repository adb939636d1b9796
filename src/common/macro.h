/* SPDX-License-Identifier: MIT */
#ifndef XARCH_COMMON_MACRO_H
#define XARCH_COMMON_MACRO_H

/*
 * Header-only helpers compiled into both libxarch and the CLI (like curl's curlx): ownership
 * through cleanup attributes (systemd, crun) and small bounded-buffer helpers.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) {
        free(*(void **) p);
        *(void **) p = NULL;
}

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
        *fd = -1;
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
        *f = NULL;
}

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
        *d = NULL;
}

#define _cleanup_free_     _cleanup_(freep)
#define _cleanup_close_    _cleanup_(closep)
#define _cleanup_fclose_   _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Hands over ownership: returns the pointer and clears the variable that held it. */
#define steal_ptr(p)                                                                               \
        ({                                                                                         \
                __typeof__(p) _stolen = (p);                                                       \
                (p) = NULL;                                                                        \
                _stolen;                                                                           \
        })

#define steal_fd(fd)                                                                               \
        ({                                                                                         \
                int _stolen = (fd);                                                                \
                (fd) = -1;                                                                         \
                _stolen;                                                                           \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define streq(a, b) (strcmp((a), (b)) == 0)

#endif
