/* SPDX-License-Identifier: MIT */
#ifndef XARCH_CLI_H
#define XARCH_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "xarch/xarch.h"
#include "macro.h"

/* Exit statuses shared by every verb. */
enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,  /* the work failed or found problems */
        EXIT_USAGE = 2, /* bad command line */
};

/* One function per verb, each in its own cmd-<verb>.c; argv[0] is the verb name. */
int cmd_platform(int argc, char **argv);
int cmd_file(int argc, char **argv);
int cmd_binfmt(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* Prints "xarch: <message>" on stderr; returns EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "xarch <verb>: <message> (see 'xarch <verb> --help')" on stderr; returns EXIT_USAGE. */
/* Replaces stdout with a stream that turns control bytes (C0 but tab and newline, DEL, C1)
 * into '?' (main() calls it first). */
void cli_filter_stdout(void);

/* The errno of the last failed write to standard output (0: none). */
int cli_stdout_errno(void);

/* Lets bytes through stdout unchanged (on) or filtered again (off); flushes first, so output
 * stays in order. For JSON documents and --raw bytes. */
void cli_stdout_verbatim(bool on);

/* Writes a name (a path, a link target) to stdout as is, or, when it holds a C0 control byte
 * (tab and newline included) or DEL, in double quotes with C escapes (\n, \t, \r, \xNN; \" and
 * \\ inside), so that no name can forge a line of output. UTF-8 C1 controls are left to the
 * stdout filter ('?'). */
void cli_put_name(const char *s);

/* s with control bytes replaced by '?' (cut to size): for strings from registries and files. */
const char *cli_printable(const char *s, char *buf, size_t size);

int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports a getopt_long failure (c is '?' or ':', with ':' first in the optstring) in one line,
 * naming the option as the user wrote it; returns EXIT_USAGE. */
int cli_option_error(const char *verb, int c, int argc, char **argv);

/* Reports a library failure once, from the error object if there is one, else from the
 * negative errno r; frees *err; returns EXIT_FAIL. */
int cli_report(struct xarch_error **err, int r);

/* --json on failure: a verb that asks for JSON output still prints one JSON document when it
 * fails, usage errors included. main() marks the request when argv holds "--json" (before
 * "--"); verbs mark it again when getopt reads it (an abbreviation such as --js). At the end,
 * cli_json_finish() prints {"error": the last error message, "exit_status": rc,
 * "usage_error": bool} when rc is a failure and no JSON document was printed yet; it returns
 * rc. */
void cli_json_requested(void);
bool cli_json_in_argv(int argc, char **argv);
int cli_json_finish(int rc);

/* Prints a JSON value as a YAML document on stdout (block style; strings plain only where
 * YAML reads them back unchanged), preceded by "---" when document_start, and drops the
 * reference. For Kubernetes manifests. */
int cli_print_yaml(json_t *doc, bool document_start);

/* Prints a JSON document (indented, newline-terminated) on stdout and drops the reference. */
int cli_print_json(json_t *doc);

/* A JSON string for bytes that need not be UTF-8 (file names, paths from images, link
 * targets): valid UTF-8 as is, each invalid byte as "\xNN", so the value is never null. NULL
 * only when out of memory. */
json_t *cli_json_bytes(const char *s);

/* Options shared by every verb that reads images (registry access and the cache). Their
 * getopt values start at 0x200 so verbs can number their own options from 0x100. */
enum {
        CLI_OPT_CA = 0x200,
        CLI_OPT_INSECURE,
        CLI_OPT_AUTHFILE,
        CLI_OPT_NO_CACHE,
};

#define CLI_IMAGE_LONGOPTS                                                                         \
        {"ca", required_argument, NULL, CLI_OPT_CA},                                               \
                        {"insecure", no_argument, NULL, CLI_OPT_INSECURE},                         \
                        {"authfile", required_argument, NULL, CLI_OPT_AUTHFILE}, {                 \
                "no-cache", no_argument, NULL, CLI_OPT_NO_CACHE                                    \
        }

/* Applies getopt result c to the image options when it is one of the shared ones; returns
 * whether it was. */
bool cli_image_option(int c, const char *arg, struct xarch_image_options *opts);

/* getopt_long wrapper state reset, so that verbs can parse their own argv. */
void cli_reset_getopt(void);

/* True when stdout is a terminal (for human-oriented touches such as progress). */
bool cli_stdout_is_tty(void);

#endif
