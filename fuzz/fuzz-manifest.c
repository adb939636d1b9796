/* SPDX-License-Identifier: MIT */
/* Manifest, index and config parsing on arbitrary bytes; the first byte picks the content type
 * the transport claims. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xarch/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const types[] = {
                        NULL,
                        XARCH_MEDIA_OCI_INDEX,
                        XARCH_MEDIA_OCI_MANIFEST,
                        XARCH_MEDIA_DOCKER_LIST,
                        XARCH_MEDIA_DOCKER_MANIFEST "; charset=utf-8",
                        "application/octet-stream",
        };
        if (size < 1)
                return 0;
        const char *ct = types[data[0] % (sizeof(types) / sizeof(types[0]))];
        struct xarch_manifest *m = NULL;
        struct xarch_image_config *c = NULL;
        struct xarch_error *err = NULL;

        if (xarch_manifest_parse(data + 1, size - 1, ct, &m, &err) >= 0) {
                size_t total = strlen(m->media_type);
                for (size_t i = 0; i < m->n_manifests; i++)
                        total += strlen(xarch_entry_kind_name(m->manifests[i].kind)) +
                                 strlen(m->manifests[i].digest) +
                                 strlen(m->manifests[i].media_type) +
                                 (m->manifests[i].platform_problem
                                                                 ? strlen(m->manifests[i].platform_problem)
                                                                 : 0) +
                                 (m->manifests[i].os_features ? strlen(m->manifests[i].os_features)
                                                              : 0);
                /* an odd entry that never matches is never a plain one */
                for (size_t i = 0; i < m->n_manifests; i++)
                        if (m->manifests[i].never_matches && !m->manifests[i].platform_problem)
                                __builtin_trap();
                (void) total;
                xarch_manifest_free(m);
        }
        xarch_error_freep(&err);
        if (xarch_image_config_parse(data + 1, size - 1, &c, &err) >= 0)
                xarch_image_config_free(c);
        xarch_error_freep(&err);
        return 0;
}
