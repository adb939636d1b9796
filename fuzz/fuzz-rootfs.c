/* SPDX-License-Identifier: MIT */
/* The merged view on arbitrary layer listings. Input lines: "f PATH", "x PATH" (an executable),
 * "d PATH", "l PATH TARGET", "h PATH TARGET", "-" (next layer), "? PATH" (resolve, following),
 * "! PATH" (resolve, not following), "c NAME [PATH-LIST]" (PATH search). Paths are normalised as
 * the layer scanner does; whiteouts come from the names. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/rootfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LAYERS_MAX  8
#define ENTRIES_MAX 256

static void free_layer(struct xarch_layer *l) {
        for (size_t i = 0; i < l->n_entries; i++) {
                free(l->entries[i].path);
                free(l->entries[i].link);
        }
        free(l->entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        struct xarch_layer layers[LAYERS_MAX] = {0};
        size_t n_layers = 1;
        /* queries run after every layer is applied */
        char *queries[64];
        size_t n_queries = 0;
        for (size_t i = 0; i < LAYERS_MAX; i++)
                layers[i].entries = calloc(ENTRIES_MAX, sizeof(struct xarch_layer_entry));
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char kind = line[0];
                char *arg = line[0] && line[1] == ' ' ? line + 2 : line + strlen(line);
                char *target = strchr(arg, ' ');
                if (target)
                        *target++ = '\0';
                if (kind == '-') {
                        if (n_layers < LAYERS_MAX)
                                n_layers++;
                        continue;
                }
                if (kind == '?' || kind == '!' || kind == 'c') {
                        if (n_queries < 64) {
                                if (target)
                                        target[-1] = kind == 'c' ? ' ' : '\0';
                                queries[n_queries++] = line;
                        }
                        continue;
                }
                struct xarch_layer *l = &layers[n_layers - 1];
                if (!l->entries || l->n_entries >= ENTRIES_MAX)
                        continue;
                struct xarch_layer_entry *e = &l->entries[l->n_entries];
                memset(e, 0, sizeof(*e));
                switch (kind) {
                case 'f':
                case 'x':
                        e->type = XARCH_LAYER_FILE;
                        e->mode = kind == 'x' ? 0755 : 0644;
                        break;
                case 'd':
                        e->type = XARCH_LAYER_DIR;
                        break;
                case 'l':
                        e->type = XARCH_LAYER_SYMLINK;
                        e->link = strdup(target ? target : "");
                        break;
                case 'h':
                        e->type = XARCH_LAYER_HARDLINK;
                        if (rootfs_normalize_path(target ? target : "", &e->link) < 0)
                                e->link = NULL;
                        break;
                default:
                        continue;
                }
                if ((e->type == XARCH_LAYER_SYMLINK || e->type == XARCH_LAYER_HARDLINK) && !e->link)
                        continue;
                if (rootfs_normalize_path(arg, &e->path) < 0) {
                        free(e->link);
                        continue;
                }
                l->n_entries++;
        }
        struct rootfs *fs = NULL;
        if (rootfs_new(&fs) >= 0) {
                bool ok = true;
                for (size_t i = 0; i < n_layers && ok; i++) {
                        struct xarch_error *err = NULL;
                        ok = rootfs_apply_layer(fs, &layers[i], &err) >= 0;
                        xarch_error_free(err);
                }
                for (size_t q = 0; q < n_queries; q++) {
                        const struct rootfs_node *n = NULL;
                        char *path = NULL;
                        char *arg = queries[q][1] ? queries[q] + 2 : queries[q] + 1;
                        struct xarch_error *err = NULL;
                        if (queries[q][0] == 'c') {
                                char *list = strchr(arg, ' ');
                                if (list)
                                        *list++ = '\0';
                                rootfs_find_command(fs, arg, list, "/", &n, &path, &err);
                        } else {
                                rootfs_resolve(fs, arg, queries[q][0] == '?', &n, &path, &err);
                        }
                        free(path);
                        xarch_error_free(err);
                }
                rootfs_count(fs);
                rootfs_free(fs);
        }
        for (size_t i = 0; i < LAYERS_MAX; i++)
                free_layer(&layers[i]);
        free(text);
        return 0;
}
