/* SPDX-License-Identifier: MIT */
/* Entry-file parser (untrusted text from any mounted binfmt_misc), then everything that consumes
 * a parsed entry: the match rule on the same bytes, register-line formatting, export files,
 * target lookup by name and by header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/binfmt-internal.h"
#include "xarch/binfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct xarch_binfmt_entry *e = malloc(sizeof(*e));
        struct xarch_error *err = NULL;
        if (!e)
                return 0;
        if (xarch_binfmt_entry_parse("fuzz", (const char *) data, size, e, &err) == 0) {
                char line[XARCH_BINFMT_REGISTER_MAX + 1], flags[5];
                (void) xarch_binfmt_entry_matches(e, data, size);
                (void) xarch_binfmt_entry_format_register(e, line, sizeof(line), NULL);
                (void) xarch_binfmt_entry_format_register(e, line, 16, NULL);
                (void) xarch_binfmt_entry_same(e, e);
                xarch_binfmt_flags_format(e->flags, flags);
                for (int f = XARCH_BINFMT_EXPORT_SYSTEMD; f <= XARCH_BINFMT_EXPORT_DEBIAN; f++) {
                        char *name = NULL, *contents = NULL;
                        if (xarch_binfmt_export_file(e, (enum xarch_binfmt_export_format) f, &name,
                                            &contents, NULL) == 0) {
                                free(name);
                                free(contents);
                        }
                }
                e->target = NULL;
                if (!e->is_extension) {
                        uint8_t hdr[XARCH_BINFMT_MAGIC_MAX] = {0};
                        memcpy(hdr + e->offset, e->magic, e->magic_len);
                        (void) xarch_binfmt_target_for_header(hdr, sizeof(hdr));
                }
        }
        xarch_error_freep(&err);
        free(e);

        /* names: architectures, platforms and entry names come from the command line */
        char name[80];
        size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
        memcpy(name, data, n);
        name[n] = '\0';
        (void) xarch_binfmt_target_lookup(name);
        (void) binfmt_normalize_arch(name);
        (void) xarch_binfmt_target_for_header(data, size);
        return 0;
}
