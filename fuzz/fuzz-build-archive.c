/* SPDX-License-Identifier: MIT */
/* xarch build's archive intake on arbitrary bytes: the input (after its first byte) is an
 * archive (tar, gzip or zstd, by its magic) added under /opt with a strip count taken from the
 * first byte; what is accepted is then written as a reproducible layer (sorted, parents added,
 * pax for long names) to nowhere. Exercises member refusals, hard links, "later wins", the
 * parent synthesis and the tar writer on hostile names. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "build/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *userdata, const void *buf, size_t len) {
        (void) userdata;
        (void) buf;
        (void) len;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        int fd = memfd_create("fuzz-archive", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t) (size - 1)) {
                close(fd);
                return 0;
        }
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        struct layer_add_options o = {
                        .strip_components = data[0] & 3,
                        .chown = data[0] & 4,
                        .uid = 1000,
                        .gid = 1000,
                        .archive_max = 16u << 20,
        };
        struct layer_tree *t = NULL;
        if (layer_tree_new(&t) == 0) {
                struct xarch_error *err = NULL;
                int r = layer_tree_add_archive(t, path, "/opt", &o, &err);
                xarch_error_freep(&err);
                if (r >= 0 && (data[0] & 8))
                        r = layer_tree_add_archive(t, path, "/opt/again", &o, &err);
                xarch_error_freep(&err);
                if (r >= 0)
                        r = layer_tree_finish(t, &err);
                xarch_error_freep(&err);
                if (r >= 0) {
                        struct layer_write_options wo = {
                                        .compression = (data[0] & 16) ? XARCH_COMPRESSION_NONE
                                                                      : XARCH_COMPRESSION_GZIP,
                                        .mtime = (data[0] & 32) ? -1 : 0,
                        };
                        struct layer_result res;
                        layer_tree_write_sink(t, &wo, discard, NULL, &res, &err);
                        xarch_error_freep(&err);
                }
                layer_tree_free(t);
        }
        close(fd);
        return 0;
}
