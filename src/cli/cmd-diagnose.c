/* SPDX-License-Identifier: MIT */
/* xarch diagnose [FILE|-]: names known cross-architecture failures in a log. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define VERB      "diagnose"
#define WRAP_COLS 100

static void usage(void) {
        fputs("Usage: xarch diagnose [--json] [FILE|-]\n"
              "       xarch diagnose --list [--json]\n"
              "\n"
              "Names the known cross-architecture failures in a log: pod logs, 'kubectl\n"
              "describe' output, container-runtime errors (docker, podman, containerd, CRI-O,\n"
              "kubelet events), shell output. For each: its id, the matching line numbers and\n"
              "text, the cause and the fix. Reads standard input when FILE is '-' or missing.\n"
              "\n"
              "  --json      machine-readable output\n"
              "  --list      the signatures known, with their ids\n"
              "  -h, --help  this help\n"
              "\n"
              "Exit status: 0 a known failure was found, 1 none was found or the input could\n"
              "not be read, 2 usage error.\n",
                        stdout);
}

static const char *kind_name(enum xarch_diagnose_kind kind) {
        return kind == XARCH_DIAGNOSE_CONTEXT ? "context" : "failure";
}

static int list_signatures(bool json) {
        size_t n;
        const struct xarch_diagnose_signature *sigs = xarch_diagnose_signatures(&n);
        if (json) {
                json_t *arr = json_array();
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", sigs[i].id,
                                                                   "kind", kind_name(sigs[i].kind),
                                                                   "title", sigs[i].title));
                return cli_print_json(json_pack("{s:o}", "signatures", arr));
        }
        for (size_t i = 0; i < n; i++)
                printf("%-30s %-8s %s\n", sigs[i].id, kind_name(sigs[i].kind), sigs[i].title);
        return EXIT_OK;
}

/* Prints "label" then text word-wrapped, continuation lines indented like the text. */
static void print_wrapped(const char *label, const char *text) {
        size_t indent = strlen(label), col = indent;
        fputs(label, stdout);
        for (const char *p = text; *p;) {
                while (*p == ' ')
                        p++;
                size_t word = strcspn(p, " ");
                if (word == 0)
                        break;
                if (col > indent && col + 1 + word > WRAP_COLS) {
                        printf("\n%*s", (int) indent, "");
                        col = indent;
                } else if (col > indent) {
                        putchar(' ');
                        col++;
                }
                fwrite(p, 1, word, stdout);
                col += word;
                p += word;
        }
        putchar('\n');
}

static void print_human(const struct xarch_diagnose_finding *f, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        putchar('\n');
                printf("%s%s: %s\n", f[i].id,
                                f[i].kind == XARCH_DIAGNOSE_CONTEXT ? " (context)" : "",
                                f[i].title);
                printf("  line%s ", f[i].n_lines == 1 ? "" : "s");
                for (size_t m = 0; m < f[i].n_matches; m++)
                        printf("%s%" PRIu64, m ? ", " : "", f[i].matches[m].line);
                if (f[i].n_lines > f[i].n_matches)
                        printf(" and %" PRIu64 " more", f[i].n_lines - f[i].n_matches);
                putchar('\n');
                for (size_t m = 0; m < f[i].n_matches && m < 5; m++)
                        printf("    %" PRIu64 ": %s\n", f[i].matches[m].line, f[i].matches[m].text);
                if (f[i].n_vars > 0) {
                        fputs("  found:", stdout);
                        for (size_t v = 0; v < f[i].n_vars; v++)
                                printf("%s %s=%s", v ? "," : "", f[i].vars[v].name,
                                                f[i].vars[v].value);
                        putchar('\n');
                }
                print_wrapped("  cause: ", f[i].cause);
                print_wrapped("  fix:   ", f[i].fix);
        }
}

static json_t *finding_json(const struct xarch_diagnose_finding *f) {
        json_t *lines = json_array(), *matches = json_array(), *vars = json_object();
        for (size_t m = 0; m < f->n_matches; m++) {
                json_array_append_new(lines, json_integer((json_int_t) f->matches[m].line));
                json_array_append_new(matches,
                                json_pack("{s:I, s:s}", "line", (json_int_t) f->matches[m].line,
                                                "text", f->matches[m].text));
        }
        for (size_t v = 0; v < f->n_vars; v++)
                json_object_set_new(vars, f->vars[v].name, json_string(f->vars[v].value));
        return json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:s, s:s}", "id", f->id, "kind",
                        kind_name(f->kind), "title", f->title, "lines", lines, "line_count",
                        (json_int_t) f->n_lines, "matches", matches, "vars", vars, "cause",
                        f->cause, "fix", f->fix);
}

int cmd_diagnose(int argc, char **argv) {
        static const struct option options[] = {
                        {"json", no_argument, NULL, 'j'},
                        {"list", no_argument, NULL, 'l'},
                        {"help", no_argument, NULL, 'h'},
                        {},
        };
        bool json = false, list = false;
        int c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        cli_json_requested();
                        break;
                case 'l':
                        list = true;
                        break;
                case 'h':
                        usage();
                        return EXIT_OK;
                default:
                        return cli_option_error(VERB, c, argc, argv);
                }
        }
        if (list) {
                if (optind < argc)
                        return cli_usage_error(VERB, "--list takes no arguments");
                return list_signatures(json);
        }
        if (argc - optind > 1)
                return cli_usage_error(VERB, "one FILE at most, got %d", argc - optind);
        const char *path = optind < argc ? argv[optind] : "-";

        _cleanup_close_ int fd = -1;
        if (streq(path, "-"))
                fd = dup(STDIN_FILENO);
        else
                fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return cli_error("cannot open %s: %s", streq(path, "-") ? "standard input" : path,
                                strerror(errno));

        struct xarch_error *err = NULL;
        struct xarch_diagnose *d = NULL;
        int r = xarch_diagnose_new(&d, &err);
        if (r < 0)
                return cli_report(&err, r);
        r = xarch_diagnose_feed_fd(d, fd, &err);
        if (r < 0) {
                xarch_diagnose_free(d);
                if (err)
                        xarch_error_wrap(&err, "%s", streq(path, "-") ? "standard input" : path);
                return cli_report(&err, r);
        }
        r = xarch_diagnose_finish(d, &err);
        if (r < 0) {
                xarch_diagnose_free(d);
                return cli_report(&err, r);
        }
        size_t n;
        const struct xarch_diagnose_finding *f = xarch_diagnose_findings(d, &n);
        struct xarch_diagnose_stats stats;
        xarch_diagnose_get_stats(d, &stats);

        int rc = n > 0 ? EXIT_OK : EXIT_FAIL;
        if (json) {
                json_t *arr = json_array();
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(arr, finding_json(&f[i]));
                json_t *doc = json_pack("{s:o, s:{s:I, s:I}, s:I}", "findings", arr, "input",
                                "bytes", (json_int_t) stats.bytes, "lines",
                                (json_int_t) stats.lines, "dropped_lines",
                                (json_int_t) stats.dropped_lines);
                if (cli_print_json(doc) != EXIT_OK)
                        rc = EXIT_FAIL;
        } else if (n == 0)
                puts("no known cross-architecture failure found");
        else
                print_human(f, n);
        xarch_diagnose_free(d);
        return rc;
}
