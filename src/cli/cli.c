/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
        va_list ap;
        fputs("xarch: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_FAIL;
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "xarch %s: ", verb);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'xarch %s --help')\n", verb);
        return EXIT_USAGE;
}

int cli_report(struct xarch_error **err, int r) {
        if (err && *err && (*err)->msg)
                cli_error("%s", (*err)->msg);
        else
                cli_error("%s", strerror(r < 0 ? -r : r));
        if (err)
                xarch_error_freep(err);
        return EXIT_FAIL;
}

int cli_print_json(json_t *doc) {
        if (!doc)
                return cli_error("out of memory");
        int r = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (r < 0)
                return cli_error("cannot write JSON output");
        fputc('\n', stdout);
        return EXIT_OK;
}

void cli_reset_getopt(void) {
        optind = 0; /* 0 makes glibc reinitialise its internal state */
        opterr = 0; /* verbs report option errors themselves, in one line */
}

bool cli_stdout_is_tty(void) {
        return isatty(STDOUT_FILENO) == 1;
}

bool cli_image_option(int c, const char *arg, struct xarch_image_options *opts) {
        switch (c) {
        case CLI_OPT_CA:
                opts->ca_file = arg;
                return true;
        case CLI_OPT_INSECURE:
                opts->insecure = true;
                return true;
        case CLI_OPT_AUTHFILE:
                opts->auth_file = arg;
                return true;
        case CLI_OPT_NO_CACHE:
                opts->no_cache = true;
                return true;
        default:
                return false;
        }
}
