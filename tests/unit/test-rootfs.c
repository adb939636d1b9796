/* SPDX-License-Identifier: MIT */
/* The merged view of layers: whiteouts, opaque directories, hard links, symlinks (absolute,
 * relative, through parents, loops), ".." at the root, PATH search, and path normalisation.
 * Layers are built as entry lists, the form xarch_layer_scan produces. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/rootfs.h"

#define MAX_ENTRIES 128

struct builder {
        struct xarch_layer layer;
        struct xarch_layer_entry entries[MAX_ENTRIES];
        struct xarch_file_info infos[MAX_ENTRIES];
};

static struct builder *layer_new(void) {
        struct builder *b = calloc(1, sizeof(*b));
        assert_non_null(b);
        b->layer.entries = b->entries;
        return b;
}

static void layer_free(struct builder *b) {
        for (size_t i = 0; i < b->layer.n_entries; i++) {
                free(b->entries[i].path);
                free(b->entries[i].link);
        }
        free(b);
}

/* kind: 'f' file (info arch in `link` slot if given), 'd' dir, 'l' symlink, 'h' hard link */
static void put(struct builder *b, char kind, const char *path, const char *arg) {
        assert_true(b->layer.n_entries < MAX_ENTRIES);
        struct xarch_layer_entry *e = &b->entries[b->layer.n_entries];
        assert_int_equal(rootfs_normalize_path(path, &e->path), 0);
        e->mode = 0755;
        switch (kind) {
        case 'f':
                e->type = XARCH_LAYER_FILE;
                if (arg) {
                        struct xarch_file_info *info = &b->infos[b->layer.n_entries];
                        info->kind = XARCH_FILE_ELF;
                        snprintf(info->platform.arch, sizeof(info->platform.arch), "%s", arg);
                        e->info = info;
                }
                break;
        case 'n': /* a file without the execute bit */
                e->type = XARCH_LAYER_FILE;
                e->mode = 0644;
                break;
        case 'd':
                e->type = XARCH_LAYER_DIR;
                break;
        case 'l':
                e->type = XARCH_LAYER_SYMLINK;
                e->link = strdup(arg);
                break;
        case 'h':
                e->type = XARCH_LAYER_HARDLINK;
                assert_int_equal(rootfs_normalize_path(arg, &e->link), 0);
                break;
        }
        b->layer.n_entries++;
}

static const char *arch_of(const struct rootfs *fs, const char *path) {
        const struct rootfs_node *n = NULL;
        if (rootfs_resolve(fs, path, true, &n, NULL, NULL) < 0)
                return "ENOENT";
        if (!n->entry || !n->entry->info)
                return n->type == XARCH_LAYER_DIR ? "dir" : "none";
        return n->entry->info->platform.arch;
}

static char *resolved(const struct rootfs *fs, const char *path, int *r) {
        const struct rootfs_node *n = NULL;
        char *p = NULL;
        *r = rootfs_resolve(fs, path, true, &n, &p, NULL);
        return p;
}

static void test_normalize(void **state) {
        (void) state;
        const char *cases[][2] = {
                        {"./usr/bin/", "usr/bin"},
                        {"/a//b/./c", "a/b/c"},
                        {".", ""},
                        {"./", ""},
                        {"a/../../b", "b"},
                        {"../../etc/passwd", "etc/passwd"},
                        {"a/b/..", "a"},
                        {"", ""},
                        {"a/.wh..wh..opq", "a/.wh..wh..opq"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = NULL;
                assert_int_equal(rootfs_normalize_path(cases[i][0], &out), 0);
                assert_string_equal(out, cases[i][1]);
                free(out);
        }
        char *long_path = malloc(ROOTFS_PATH_MAX + 10), *out = NULL;
        memset(long_path, 'a', ROOTFS_PATH_MAX + 9);
        long_path[ROOTFS_PATH_MAX + 9] = '\0';
        assert_int_equal(rootfs_normalize_path(long_path, &out), -ENAMETOOLONG);
        free(long_path);
}

static void test_whiteouts(void **state) {
        (void) state;
        struct builder *l1 = layer_new(), *l2 = layer_new(), *l3 = layer_new();
        put(l1, 'f', "bin/a", "arm64");
        put(l1, 'f', "bin/b", "arm64");
        put(l1, 'f', "opt/x/one", "arm64");
        put(l1, 'f', "opt/x/sub/two", "arm64");
        put(l1, 'f', "gone/deep/file", "arm64");
        /* layer 2: whiteouts hide lower content only; same-layer siblings survive */
        put(l2, 'f', ".wh.gone", NULL);
        put(l2, 'f', "bin/.wh.a", NULL);
        put(l2, 'f', "opt/x/new", "amd64");
        put(l2, 'f', "opt/x/.wh..wh..opq", NULL); /* after its sibling in tar order */
        put(l2, 'f', "bin/c", "amd64");
        put(l2, 'f', "bin/.wh.c", NULL); /* hides nothing: c is in the same layer */
        /* layer 3: a file replaces a directory; a directory merges with one */
        put(l3, 'f', "opt/x", "s390x");
        put(l3, 'd', "bin", NULL);
        struct rootfs *fs = NULL;
        assert_int_equal(rootfs_new(&fs), 0);
        assert_int_equal(rootfs_apply_layer(fs, &l1->layer, NULL), 0);
        assert_string_equal(arch_of(fs, "/bin/a"), "arm64");
        assert_int_equal(rootfs_apply_layer(fs, &l2->layer, NULL), 0);
        assert_string_equal(arch_of(fs, "/bin/a"), "ENOENT");
        assert_string_equal(arch_of(fs, "/bin/b"), "arm64");
        assert_string_equal(arch_of(fs, "/bin/c"), "amd64");
        assert_string_equal(arch_of(fs, "/gone"), "ENOENT");
        assert_string_equal(arch_of(fs, "/gone/deep/file"), "ENOENT");
        assert_string_equal(arch_of(fs, "/opt/x/one"), "ENOENT");
        assert_string_equal(arch_of(fs, "/opt/x/sub/two"), "ENOENT");
        assert_string_equal(arch_of(fs, "/opt/x/new"), "amd64");
        assert_string_equal(arch_of(fs, "/opt/x/.wh..wh..opq"), "ENOENT");
        assert_int_equal(rootfs_apply_layer(fs, &l3->layer, NULL), 0);
        assert_string_equal(arch_of(fs, "/opt/x"), "s390x");
        assert_string_equal(arch_of(fs, "/opt/x/new"), "ENOENT");
        assert_string_equal(arch_of(fs, "/bin/b"), "arm64");
        rootfs_free(fs);
        /* a bare ".wh." is invalid */
        struct builder *bad = layer_new();
        put(bad, 'f', "dir/.wh.", NULL);
        assert_int_equal(rootfs_new(&fs), 0);
        struct xarch_error *err = NULL;
        assert_int_equal(rootfs_apply_layer(fs, &bad->layer, &err), -EBADMSG);
        xarch_error_free(err);
        rootfs_free(fs);
        layer_free(bad);
        layer_free(l1);
        layer_free(l2);
        layer_free(l3);
}

static void test_links(void **state) {
        (void) state;
        struct builder *l1 = layer_new(), *l2 = layer_new();
        put(l1, 'd', "usr/bin", NULL);
        put(l1, 'f', "usr/libexec/real", "riscv64");
        put(l1, 'h', "usr/libexec/hard", "usr/libexec/real");
        put(l1, 'l', "bin", "usr/bin");                   /* relative, merged /usr */
        put(l1, 'l', "usr/bin/sh", "/usr/lib/dash-link"); /* absolute */
        put(l1, 'l', "usr/lib/dash-link", "../libexec/hard");
        put(l1, 'l', "usr/bin/up", "../../../../../usr/libexec/real"); /* .. stops at / */
        put(l1, 'l', "loop/a", "b");
        put(l1, 'l', "loop/b", "/loop/a");
        put(l1, 'l', "dangling", "/nowhere");
        put(l1, 'f', "etc/passwd", NULL);
        put(l1, 'l', "notdir", "etc/passwd");
        /* layer 2: an entry under a symlinked parent lands in its target (containerd) */
        put(l2, 'f', "bin/tool", "ppc64le");
        struct rootfs *fs = NULL;
        assert_int_equal(rootfs_new(&fs), 0);
        assert_int_equal(rootfs_apply_layer(fs, &l1->layer, NULL), 0);
        assert_int_equal(rootfs_apply_layer(fs, &l2->layer, NULL), 0);
        int r;
        char *p = resolved(fs, "/bin/sh", &r);
        assert_int_equal(r, 0);
        assert_string_equal(p, "/usr/libexec/hard");
        free(p);
        assert_string_equal(arch_of(fs, "/bin/sh"), "riscv64"); /* the hard link shares info */
        assert_string_equal(arch_of(fs, "bin/up"), "riscv64");
        assert_string_equal(arch_of(fs, "/usr/bin/tool"), "ppc64le");
        p = resolved(fs, "/loop/a", &r);
        assert_int_equal(r, -ELOOP);
        free(p);
        p = resolved(fs, "/dangling", &r);
        assert_int_equal(r, -ENOENT);
        free(p);
        p = resolved(fs, "/notdir/x", &r);
        assert_int_equal(r, -ENOTDIR);
        free(p);
        p = resolved(fs, "/../../bin/../bin/./sh", &r); /* bin/.. is /usr */
        assert_int_equal(r, 0);
        assert_string_equal(p, "/usr/libexec/hard");
        free(p);
        p = resolved(fs, "/", &r);
        assert_int_equal(r, 0);
        assert_string_equal(p, "/");
        free(p);
        /* not following the last symlink */
        const struct rootfs_node *n = NULL;
        assert_int_equal(rootfs_resolve(fs, "/bin/sh", false, &n, NULL, NULL), 0);
        assert_int_equal(n->type, XARCH_LAYER_SYMLINK);
        rootfs_free(fs);
        layer_free(l1);
        layer_free(l2);
}

static void test_hop_limit(void **state) {
        (void) state;
        /* a chain of exactly ROOTFS_MAX_HOPS symlinks resolves; one more is a loop */
        struct builder *l = layer_new();
        char name[32], target[32];
        for (int i = 0; i < ROOTFS_MAX_HOPS + 1; i++) {
                snprintf(name, sizeof(name), "c/%d", i);
                snprintf(target, sizeof(target), "%d", i + 1);
                put(l, 'l', name, target);
        }
        snprintf(name, sizeof(name), "c/%d", ROOTFS_MAX_HOPS + 1);
        put(l, 'f', name, "arm");
        struct rootfs *fs = NULL;
        assert_int_equal(rootfs_new(&fs), 0);
        assert_int_equal(rootfs_apply_layer(fs, &l->layer, NULL), 0);
        assert_string_equal(arch_of(fs, "/c/1"), "arm");
        int r;
        free(resolved(fs, "/c/0", &r));
        assert_int_equal(r, -ELOOP);
        rootfs_free(fs);
        layer_free(l);
}

static void test_find_command(void **state) {
        (void) state;
        struct builder *l = layer_new();
        put(l, 'n', "usr/local/bin/tool", NULL); /* not executable: skipped on PATH */
        put(l, 'f', "usr/bin/tool", "amd64");
        put(l, 'd', "usr/sbin/adir", NULL);
        put(l, 'f', "app/run", "arm64");
        put(l, 'l', "usr/bin/alias", "../../app/run");
        struct rootfs *fs = NULL;
        assert_int_equal(rootfs_new(&fs), 0);
        assert_int_equal(rootfs_apply_layer(fs, &l->layer, NULL), 0);
        const struct rootfs_node *n = NULL;
        char *p = NULL;
        assert_int_equal(rootfs_find_command(fs, "tool", NULL, NULL, &n, &p, NULL), 0);
        assert_string_equal(p, "/usr/bin/tool");
        free(p);
        assert_int_equal(rootfs_find_command(fs, "alias", "/usr/bin", NULL, &n, &p, NULL), 0);
        assert_string_equal(p, "/app/run");
        free(p);
        assert_int_equal(rootfs_find_command(fs, "tool", "/usr/local/bin", NULL, &n, &p, NULL),
                        -EACCES);
        assert_int_equal(rootfs_find_command(fs, "adir", "/usr/sbin", NULL, &n, &p, NULL), -ENOENT);
        assert_int_equal(rootfs_find_command(fs, "nope", NULL, NULL, &n, &p, NULL), -ENOENT);
        assert_int_equal(rootfs_find_command(fs, "./run", NULL, "/app", &n, &p, NULL), 0);
        assert_string_equal(p, "/app/run");
        free(p);
        assert_int_equal(rootfs_find_command(fs, "/usr/sbin/adir", NULL, NULL, &n, &p, NULL),
                        -EISDIR);
        assert_int_equal(rootfs_find_command(fs, "", NULL, NULL, &n, &p, NULL), -ENOENT);
        /* relative PATH entries are ignored; empty elements too */
        assert_int_equal(rootfs_find_command(fs, "run", "::app:.", NULL, &n, &p, NULL), -ENOENT);
        struct xarch_error *err = NULL;
        assert_int_equal(rootfs_find_command(fs, "nope", NULL, NULL, &n, &p, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "not found on PATH"));
        xarch_error_free(err);
        assert_int_equal(rootfs_count(fs), 11);
        rootfs_free(fs);
        layer_free(l);
}

static int count_file(void *userdata, const char *path, const struct rootfs_node *node) {
        (void) path, (void) node;
        (*(size_t *) userdata)++;
        return 0;
}

static void test_deep_tree(void **state) {
        (void) state;
        /* Paths are short (< ROOTFS_PATH_MAX) but symlinks with long relative targets, placed
         * one below the other, build a tree tens of thousands of directories deep: walking,
         * listing and freeing it must not recurse once per level (a hostile layer would
         * overflow the stack). */
        enum { LEVELS = 4000, LINKS = ROOTFS_MAX_HOPS - 2 };
        char *seg = malloc(2 * LEVELS);
        assert_non_null(seg);
        for (int i = 0; i < LEVELS; i++)
                seg[2 * i] = 'a', seg[2 * i + 1] = '/';
        seg[2 * LEVELS - 1] = '\0';
        struct builder *l = layer_new();
        char path[256] = "s";
        put(l, 'l', path, seg);
        for (int k = 0; k < LINKS; k++) {
                strcat(path, "/n");
                put(l, 'l', path, seg);
        }
        strcat(path, "/f");
        put(l, 'f', path, "arm64");
        struct rootfs *fs = NULL;
        assert_int_equal(rootfs_new(&fs), 0);
        assert_int_equal(rootfs_apply_layer(fs, &l->layer, NULL), 0);
        print_message("%zu nodes\n", rootfs_count(fs));
        assert_true(rootfs_count(fs) > (size_t) LEVELS * LINKS);
        assert_string_equal(arch_of(fs, path), "arm64");
        size_t files = 0;
        assert_int_equal(rootfs_foreach_file(fs, count_file, &files), 0);
        assert_int_equal(files, 1);
        rootfs_free(fs);
        layer_free(l);
        free(seg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_normalize),
                        cmocka_unit_test(test_whiteouts),
                        cmocka_unit_test(test_links),
                        cmocka_unit_test(test_hop_limit),
                        cmocka_unit_test(test_find_command),
                        cmocka_unit_test(test_deep_tree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
