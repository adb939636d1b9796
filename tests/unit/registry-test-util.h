/* SPDX-License-Identifier: MIT */
#ifndef XARCH_TEST_REGISTRY_UTIL_H
#define XARCH_TEST_REGISTRY_UTIL_H

/* Helpers shared by the registry unit tests: locating tests/servers/ and running a server. */

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Finds a file under the source tree's tests/servers/: $XARCH_SOURCE_DIR, the working
 * directory (scripts/test runs from the repository root), or two levels above the test
 * binary (<build>/tests/test-x). */
static inline int find_server_file(const char *name, char *out, size_t size) {
        const char *src = getenv("XARCH_SOURCE_DIR");
        char exe[PATH_MAX];
        if (src && *src) {
                snprintf(out, size, "%s/tests/servers/%s", src, name);
                if (access(out, R_OK) == 0)
                        return 0;
        }
        snprintf(out, size, "tests/servers/%s", name);
        if (access(out, R_OK) == 0)
                return 0;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                for (int up = 0; up < 4; up++) {
                        char *slash = strrchr(exe, '/');
                        if (!slash)
                                break;
                        *slash = '\0';
                        snprintf(out, size, "%s/tests/servers/%s", exe, name);
                        if (access(out, R_OK) == 0)
                                return 0;
                }
        }
        return -1;
}

struct test_server {
        pid_t pid;
        int stdin_fd; /* closing it makes the server exit */
        char line[256];
};

/* Starts "python3 SCRIPT" and reads its first stdout line (the ports). */
static inline int test_server_start(const char *script, struct test_server *s) {
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                execlp("python3", "python3", script, (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        s->pid = pid;
        s->stdin_fd = in[1];
        size_t n = 0;
        while (n + 1 < sizeof(s->line)) {
                ssize_t k = read(out[0], s->line + n, 1);
                if (k <= 0)
                        break;
                if (s->line[n] == '\n')
                        break;
                n++;
        }
        s->line[n] = '\0';
        close(out[0]);
        return n > 0 ? 0 : -1;
}

static inline void test_server_stop(struct test_server *s) {
        if (s->pid <= 0)
                return;
        close(s->stdin_fd);
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
}

#endif
