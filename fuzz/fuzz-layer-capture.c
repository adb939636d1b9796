/* SPDX-License-Identifier: MIT */
/* The layer scanner's capture of a large file (more than XARCH_LAYER_FULL_MAX bytes, kept in
 * parts): the input is the file's head (ELF, program and section headers that plan the windows
 * and string scans) and is written again in the middle and at the end, where the planned
 * ranges, build-info and pclntab markers and the tail land; the rest is zeros. The first byte
 * picks the piece size the stream is fed in. The analysis must stay in bounds, whatever the
 * headers claim. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_SIZE (XARCH_LAYER_FULL_MAX + 1024u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2 || size > 64 * 1024)
                return 0;
        static const size_t pieces[] = {1000, 4096, 65536, 1u << 20};
        size_t piece = pieces[data[0] % (sizeof(pieces) / sizeof(pieces[0]))];
        data++;
        size--;
        size_t total = 512 + FILE_SIZE + 1024;
        static uint8_t *tar;
        if (!tar && !(tar = malloc(total)))
                return 0;
        memset(tar, 0, total);
        char *h = (char *) tar;
        snprintf(h, 100, "big");
        snprintf(h + 100, 8, "%07o", 0755);
        snprintf(h + 124, 12, "%011o", (unsigned) FILE_SIZE);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += tar[i];
        snprintf(h + 148, 8, "%06o", sum);
        uint8_t *f = tar + 512;
        memcpy(f, data, size);
        memcpy(f + FILE_SIZE / 2, data, size);
        memcpy(f + FILE_SIZE - size, data, size);

        struct xarch_layer_scanner *s = NULL;
        if (xarch_layer_scanner_new(XARCH_COMPRESSION_NONE, &s, NULL) < 0)
                return 0;
        int r = 0;
        for (size_t off = 0; off < total && r >= 0; off += piece)
                r = xarch_layer_scanner_feed(
                                s, tar + off, total - off < piece ? total - off : piece, NULL);
        struct xarch_layer *l = NULL;
        if (r >= 0 && xarch_layer_scanner_finish(s, &l, NULL) >= 0) {
                char desc[512];
                for (size_t i = 0; i < l->n_entries; i++)
                        if (l->entries[i].info)
                                xarch_file_describe(l->entries[i].info, desc, sizeof(desc));
                xarch_layer_free(l);
        }
        xarch_layer_scanner_free(s);
        return 0;
}
