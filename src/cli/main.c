/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct verb {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
};

/* In the order a user meets them: the host, binaries, platforms, images, then verdicts. */
static const struct verb verbs[] = {
                {"doctor", cmd_doctor,
                                "what this host can run, natively or emulated, proved by probes"},
                {"binfmt", cmd_binfmt, "QEMU user-mode emulators in binfmt_misc"},
                {"file", cmd_file, "what a binary really is: architecture, linkage, language"},
                {"platform", cmd_platform,
                                "the OCI platform model and containerd's matching rules"},
                {"inspect", cmd_inspect,
                                "which platforms an image offers and what a node would pull"},
                {"verify", cmd_verify,
                                "do the binaries in each platform of an image match its label"},
                {"check", cmd_check,
                                "will this image run on that node: native, emulated, crash, fails"},
                {"copy", cmd_copy, "copy images between registries and files, verbatim"},
                {"index", cmd_index, "create and edit multi-platform image indexes"},
                {"diagnose", cmd_diagnose,
                                "name cross-architecture failures in logs, with cause and fix"},
                {"build", cmd_build,
                                "one multi-platform image from per-architecture files, checked"},
                {"audit", cmd_audit,
                                "a cluster's workloads against its nodes' architectures "
                                "(also 'kubectl xarch')"},
};

static void usage(FILE *out) {
        fputs("Usage: xarch VERB [OPTIONS] [ARGS]\n"
              "\n"
              "Make containers run across CPU architectures.\n"
              "\n"
              "Verbs:\n",
                        out);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
        fputs("\n"
              "Every verb takes --help; most take --json for machine-readable output.\n"
              "Exit status: 0 success, 1 failure or problems found, 2 usage error.\n",
                        out);
}

/* The version, then the libraries that do the work, so a bug report says which ones ran. */
static void print_version(void) {
        printf("xarch %s\n", xarch_version());
        struct xarch_component c[16];
        size_t n = xarch_version_components(c, ELEMENTSOF(c));
        for (size_t i = 0; i < n && i < ELEMENTSOF(c); i++)
                printf("  %-10s %s%s%s%s\n", c[i].role, c[i].version, c[i].note ? " (" : "",
                                c[i].note ? c[i].note : "", c[i].note ? ")" : "");
}

static int dispatch(int argc, char **argv) {
        if (argc < 2) {
                /* a usage error is one line on stderr, like every verb's */
                fprintf(stderr, "xarch: no verb given (see 'xarch --help')\n");
                return EXIT_USAGE;
        }
        const char *name = argv[1];
        if (streq(name, "--help") || streq(name, "-h") || streq(name, "help")) {
                if (argc > 2 && !streq(name, "--help") && !streq(name, "-h")) {
                        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                                if (streq(verbs[i].name, argv[2])) {
                                        char *help_argv[] = {argv[2], (char *) "--help", NULL};
                                        cli_reset_getopt();
                                        return verbs[i].run(2, help_argv);
                                }
                        fprintf(stderr, "xarch: unknown verb '%s' (see 'xarch --help')\n", argv[2]);
                        return EXIT_USAGE;
                }
                usage(stdout);
                return EXIT_OK;
        }
        if (streq(name, "--version") || streq(name, "version")) {
                print_version();
                return EXIT_OK;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name)) {
                        cli_reset_getopt();
                        if (cli_json_in_argv(argc - 1, argv + 1))
                                cli_json_requested();
                        return verbs[i].run(argc - 1, argv + 1);
                }
        fprintf(stderr, "xarch: unknown verb '%s' (see 'xarch --help')\n", name);
        return EXIT_USAGE;
}

int main(int argc, char **argv) {
        cli_filter_stdout();
        int rc = cli_json_finish(dispatch(argc, argv));
        /* Output that did not reach its file (a full disk, /dev/full, a closed pipe with SIGPIPE
         * ignored) is a failure, not a success with a truncated result. */
        errno = 0;
        if ((fflush(stdout) != 0 || ferror(stdout)) && rc == EXIT_OK) {
                int e = cli_stdout_errno() ? cli_stdout_errno() : errno;
                rc = cli_error("cannot write to standard output: %s", strerror(e ? e : EIO));
        }
        return rc;
}
