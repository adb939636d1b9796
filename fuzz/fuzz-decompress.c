/* SPDX-License-Identifier: MIT */
/* Layer streams on arbitrary bytes. The first byte picks the announced compression (auto,
 * none, gzip, zstd), the chunk size, and whether the bytes go through the decompressor alone
 * or through the whole layer scanner (decompression, tar, executable capture, the file
 * engine). Decompressed output is capped so that a compression bomb stays cheap. The
 * decompressor alone runs over both gzip inflaters (ISA-L when built with it, and zlib), which
 * must agree: both accept or both refuse, and accepted streams give the same bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/decompress.h"
#include "xarch/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUTPUT_CAP (64u << 20)

struct sink_state {
        uint64_t total;
        uLong crc;
};

static int sink(void *userdata, const void *buf, size_t len) {
        struct sink_state *s = userdata;
        s->crc = crc32(s->crc, buf, (uInt) len);
        s->total += len;
        return s->total > OUTPUT_CAP ? -EFBIG : 0;
}

/* One pass of the decompressor alone; returns 0 when the whole stream was accepted. */
static int decompress_all(enum xarch_compression announced, const uint8_t *data, size_t size,
                size_t chunk, struct sink_state *s) {
        struct decompressor *d = NULL;
        if (decompressor_new(announced, sink, s, &d, NULL) < 0)
                return -ENOMEM;
        int r = 0;
        for (size_t off = 0; off < size && r >= 0; off += chunk)
                r = decompressor_feed(d, data + off, size - off < chunk ? size - off : chunk, NULL);
        if (r >= 0)
                r = decompressor_finish(d, NULL);
        decompressor_free(d);
        return r < 0 ? r : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        static const size_t chunks[] = {1, 3, 512, 4096, 65536, SIZE_MAX};
        uint8_t mode = data[0];
        enum xarch_compression announced = (enum xarch_compression)(mode & 3);
        size_t chunk = chunks[((mode >> 2) & 7) % (sizeof(chunks) / sizeof(chunks[0]))];
        bool scan = mode & 0x80;
        data++;
        size--;
        if (!scan) {
                struct sink_state a = {0}, b = {0};
                unsetenv("XARCH_INFLATE");
                int ra = decompress_all(announced, data, size, chunk, &a);
                setenv("XARCH_INFLATE", "zlib", 1);
                int rb = decompress_all(announced, data, size, chunk, &b);
                unsetenv("XARCH_INFLATE");
                if (ra == -ENOMEM || rb == -ENOMEM)
                        return 0;
                /* the inflaters agree on what they accept and on what it holds */
                if ((ra == 0) != (rb == 0) || (ra == 0 && (a.total != b.total || a.crc != b.crc)))
                        abort();
                return 0;
        }
        struct xarch_layer_scanner *sc = NULL;
        struct xarch_error *err = NULL;
        if (xarch_layer_scanner_new(announced, &sc, NULL) < 0)
                return 0;
        int r = 0;
        for (size_t off = 0; off < size && r >= 0; off += chunk)
                r = xarch_layer_scanner_feed(
                                sc, data + off, size - off < chunk ? size - off : chunk, &err);
        struct xarch_layer *l = NULL;
        if (r >= 0)
                r = xarch_layer_scanner_finish(sc, &l, &err);
        if (r >= 0) {
                size_t bytes = 0;
                for (size_t i = 0; i < l->n_entries; i++)
                        bytes += strlen(l->entries[i].path) +
                                 (l->entries[i].link ? strlen(l->entries[i].link) : 0);
                (void) bytes;
        }
        xarch_layer_free(l);
        xarch_error_free(err);
        xarch_layer_scanner_free(sc);
        return 0;
}
