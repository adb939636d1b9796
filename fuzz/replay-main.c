/* SPDX-License-Identifier: MIT */
/* Replays a fuzz target's corpus (CORPUS_DIR, or the directories/files given as arguments) and
 * prints TAP: one test per input. A crash or sanitizer report fails the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned n_tests;

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                printf("not ok %u - cannot open %s\n", ++n_tests, path);
                return 1;
        }
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        size_t n;
        while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
                len += n;
                if (len == cap) {
                        uint8_t *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
                        if (!nb)
                                break;
                        buf = nb;
                        cap *= 2;
                }
        }
        fclose(f);
        if (!buf) {
                printf("not ok %u - out of memory for %s\n", ++n_tests, path);
                return 1;
        }
        /* Hand the target an exact-size copy so ASan sees reads past the end. */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact && len)
                memcpy(exact, buf, len);
        free(buf);
        if (!exact) {
                printf("not ok %u - out of memory for %s\n", ++n_tests, path);
                return 1;
        }
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        printf("ok %u - %s\n", ++n_tests, path);
        fflush(stdout);
        return 0;
}

static int replay(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return 0; /* no corpus yet: nothing to replay */
        if (!S_ISDIR(st.st_mode))
                return replay_file(path);
        struct dirent **names;
        int n = scandir(path, &names, NULL, alphasort);
        int failed = 0;
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.') {
                        char full[4096];
                        snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
                        failed |= replay(full);
                }
                free(names[i]);
        }
        free(names);
        return failed;
}

int main(int argc, char **argv) {
        int failed = 0;
        if (argc > 1)
                for (int i = 1; i < argc; i++)
                        failed |= replay(argv[i]);
        else
                failed = replay(CORPUS_DIR);
        if (n_tests == 0)
                printf("1..0 # SKIP empty corpus\n");
        else
                printf("1..%u\n", n_tests);
        return failed;
}
