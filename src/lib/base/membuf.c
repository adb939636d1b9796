/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/membuf.h"

int membuf_append(void *membuf, const void *buf, size_t len) {
        struct membuf *m = membuf;
        if (m->max && len > m->max - m->len)
                return -EFBIG;
        if (len + 1 > m->cap - m->len || !m->data) {
                size_t cap = m->cap ? m->cap : 4096;
                while (cap - m->len < len + 1) {
                        if (cap > SIZE_MAX / 2)
                                return -ENOMEM;
                        cap *= 2;
                }
                char *p = realloc(m->data, cap);
                if (!p)
                        return -ENOMEM;
                m->data = p;
                m->cap = cap;
        }
        if (len)
                memcpy(m->data + m->len, buf, len);
        m->len += len;
        m->data[m->len] = '\0';
        return 0;
}

void membuf_release(struct membuf *m) {
        free(m->data);
        m->data = NULL;
        m->len = m->cap = 0;
}

void membuf_wipe_release(struct membuf *m) {
        if (m->data)
                explicit_bzero(m->data, m->len);
        membuf_release(m);
}
