/* SPDX-License-Identifier: MIT */
/* The streaming tar reader on arbitrary bytes: the first byte picks the chunk size and whether
 * entry data is read or seeked over, so both paths and every chunk boundary get exercised. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
        uint64_t bytes;
        bool want;
};

static int on_entry(const struct tar_entry *e, void *userdata) {
        struct state *s = userdata;
        /* touch every string so ASan sees overreads */
        s->bytes += strlen(e->path) + strlen(e->linkpath) + strlen(e->uname) + strlen(e->gname);
        return s->want ? 1 : 0;
}

static int on_data(const struct tar_entry *e, const void *buf, size_t len, bool final,
                void *userdata) {
        struct state *s = userdata;
        const uint8_t *p = buf;
        for (size_t i = 0; i < len; i++)
                s->bytes += p[i];
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        static const size_t chunks[] = {1, 7, 512, 513, 4096, SIZE_MAX};
        size_t chunk = chunks[(data[0] & 0x7f) % (sizeof(chunks) / sizeof(chunks[0]))];
        struct state s = {.want = !(data[0] & 0x80)};
        struct tar_callbacks cb = {.on_entry = on_entry, .on_data = on_data};
        struct tar_reader *r;
        struct xarch_error *err = NULL;

        data++;
        size--;
        if (tar_reader_new(&cb, &s, &r) < 0)
                return 0;
        size_t off = 0;
        int k = 0;
        while (off < size && k >= 0 && !tar_reader_done(r)) {
                uint64_t skip = tar_reader_skippable(r);
                if (skip) {
                        if (skip > size - off)
                                break;
                        k = tar_reader_skip(r, skip, &err);
                        off += (size_t) skip;
                        continue;
                }
                size_t n = size - off < chunk ? size - off : chunk;
                k = tar_reader_feed(r, data + off, n, &err);
                off += n;
        }
        if (k >= 0)
                (void) tar_reader_finish(r, &err);
        xarch_error_free(err);
        tar_reader_free(r);
        return 0;
}
