/* SPDX-License-Identifier: MIT */
/*
 * The Range header of an upload session (registry/upload.c), which the resume point comes from.
 * Invariants: -1 or a byte count; a count n > 0 means the header spelled "0-(n-1)"; the parse
 * never reads past the NUL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256)
                return 0;
        char buf[257];
        memcpy(buf, data, size);
        buf[size] = '\0';
        int64_t n = upload_range_held(buf);
        check(n >= -1);
        if (n > 0) {
                char want[64];
                snprintf(want, sizeof(want), "0-%lld", (long long) (n - 1));
                const char *p = strncmp(buf, "bytes=", 6) == 0 ? buf + 6 : buf;
                check(strcmp(p, want) == 0);
        }
        return 0;
}
