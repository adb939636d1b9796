/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- standard output without control bytes ---- */

static bool stdout_verbatim;
static bool stdout_held; /* a 0xc2 lead byte held back: the next write decides what it starts */
static int stdout_errno; /* why the last write to fd 1 failed */

/* C0 controls but tab and newline, and DEL. */
static bool is_c0_control(unsigned char ch) {
        return (ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f;
}

/* The second byte of a UTF-8 C1 control (U+0080..U+009F is 0xc2 0x80..0x9f; U+009B is CSI to
 * some terminals). */
static bool is_c1_second(unsigned char ch) {
        return ch >= 0x80 && ch <= 0x9f;
}

static bool write_all(const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(STDOUT_FILENO, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        stdout_errno = k < 0 ? errno : EIO;
                        return false;
                }
                p += k;
                n -= (size_t) k;
        }
        return true;
}

/* Human output quotes image paths, registry strings and file names: control bytes become '?'
 * (a C1 control's two bytes become one '?', so the output stays valid UTF-8), so nothing an
 * image carries can drive the terminal. A 0xc2 at the end of a buffer is held until the next
 * byte shows whether it starts a C1 control (stdio flushes at any byte). JSON (escaped by
 * jansson) and --raw bytes pass verbatim. Returns the bytes taken, short on a write error:
 * fopencookie(3) wants no negative values. */
static ssize_t filtered_write(void *cookie, const char *buf, size_t len) {
        char chunk[8192 + 1];
        size_t done = 0;
        (void) cookie;
        if (stdout_verbatim) {
                if (stdout_held && !write_all("\xc2", 1))
                        return 0;
                stdout_held = false;
                return write_all(buf, len) ? (ssize_t) len : 0;
        }
        while (done < len) {
                size_t n = len - done < sizeof(chunk) - 1 ? len - done : sizeof(chunk) - 1;
                const unsigned char *src = (const unsigned char *) buf + done;
                size_t out = 0;
                for (size_t i = 0; i < n; i++) {
                        unsigned char ch = src[i];
                        if (stdout_held) {
                                stdout_held = false;
                                if (is_c1_second(ch)) {
                                        chunk[out++] = '?';
                                        continue;
                                }
                                chunk[out++] = (char) 0xc2;
                        }
                        if (ch == 0xc2)
                                stdout_held = true;
                        else
                                chunk[out++] = is_c0_control(ch) ? '?' : (char) ch;
                }
                if (!write_all(chunk, out))
                        return (ssize_t) done; /* what went before this chunk is written */
                done += n;
        }
        return (ssize_t) len;
}

/* A lead byte held at exit (the output ends with a lone 0xc2) still goes out. */
static void release_held(void) {
        fflush(stdout);
        if (stdout_held) {
                stdout_held = false;
                write_all("\xc2", 1);
        }
}

/* One line: every control byte, tab and newline included, becomes '?'; a C1 control's two
 * bytes become one '?'. */
static char *hide_controls(char *s) {
        unsigned char *r = (unsigned char *) s, *w = r;
        for (; *r; r++) {
                if (r[0] == 0xc2 && is_c1_second(r[1])) {
                        *w++ = '?';
                        r++;
                } else if (*r == '\n' || *r == '\t' || is_c0_control(*r)) {
                        *w++ = '?';
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
        return s;
}

int cli_stdout_errno(void) {
        return stdout_errno;
}

void cli_filter_stdout(void) {
        static char buffer[64 * 1024];
        cookie_io_functions_t io = {.write = filtered_write};
        FILE *f = fopencookie(NULL, "w", io);
        if (!f)
                return; /* unfiltered rather than no output */
        setvbuf(f, buffer, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, sizeof(buffer));
        atexit(release_held);
        /* glibc's stdout is an assignable FILE *: every printf and fputs in the verbs now goes
         * through the filter */
        stdout = f;
}

void cli_stdout_verbatim(bool on) {
        fflush(stdout);
        stdout_verbatim = on;
}

/* ---- --json failures ---- */

static bool json_wanted;        /* the command line asked for --json */
static bool json_printed;       /* a JSON document went to stdout */
static char json_message[4096]; /* the last error, for the failure document */

static void remember_error(const char *msg) {
        snprintf(json_message, sizeof(json_message), "%s", msg);
}

void cli_json_requested(void) {
        json_wanted = true;
}

bool cli_json_in_argv(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        break;
                if (streq(argv[i], "--json"))
                        return true;
        }
        return false;
}

int cli_json_finish(int rc) {
        if (rc == EXIT_OK || !json_wanted || json_printed)
                return rc;
        json_t *doc = json_object();
        if (doc) {
                json_object_set_new(doc, "error",
                                cli_json_bytes(json_message[0] ? json_message : "failed"));
                json_object_set_new(doc, "exit_status", json_integer(rc));
                json_object_set_new(doc, "usage_error", json_boolean(rc == EXIT_USAGE));
        }
        int k = cli_print_json(doc);
        return k == EXIT_OK ? rc : k;
}

int cli_error(const char *fmt, ...) {
        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        remember_error(msg);
        /* messages quote registries, files and logs: no control bytes reach the terminal */
        fprintf(stderr, "xarch: %s\n", hide_controls(msg));
        return EXIT_FAIL;
}

void cli_put_name(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        bool plain = true;
        for (size_t i = 0; p[i] && plain; i++)
                plain = !(p[i] < 0x20 || p[i] == 0x7f);
        if (plain) {
                fputs(s, stdout);
                return;
        }
        putchar('"');
        for (size_t i = 0; p[i]; i++) {
                unsigned char ch = p[i];
                if (ch == '\n')
                        fputs("\\n", stdout);
                else if (ch == '\t')
                        fputs("\\t", stdout);
                else if (ch == '\r')
                        fputs("\\r", stdout);
                else if (ch == '"' || ch == '\\')
                        printf("\\%c", ch);
                else if (ch < 0x20 || ch == 0x7f)
                        printf("\\x%02x", ch);
                else
                        putchar(ch);
        }
        putchar('"');
}

const char *cli_printable(const char *s, char *buf, size_t size) {
        snprintf(buf, size, "%s", s);
        return hide_controls(buf);
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        remember_error(msg);
        fprintf(stderr, "xarch %s: %s (see 'xarch %s --help')\n", verb, hide_controls(msg), verb);
        return EXIT_USAGE;
}

int cli_option_error(const char *verb, int c, int argc, char **argv) {
        const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
        bool long_word = strncmp(word, "--", 2) == 0;
        bool letter = optopt > 0 && optopt < 0x80 && isgraph(optopt);
        /* In a cluster ("-Zh") getopt has not moved past the word yet, so argv[optind - 1] is
         * the word before it (the verb, say): name the letter then. */
        bool mid_cluster = letter && optind < argc && argv[optind][0] == '-' &&
                           argv[optind][1] != '-' && strchr(argv[optind] + 1, optopt);
        if (letter && (!long_word || mid_cluster)) {
                if (c == ':')
                        return cli_usage_error(verb, "option '-%c' needs a value", optopt);
                return cli_usage_error(verb, "unknown option '-%c'", optopt);
        }
        if (c == ':')
                return cli_usage_error(verb, "option '%s' needs a value", word);
        const char *eq = long_word ? strchr(word, '=') : NULL;
        if (eq && optopt != 0) /* a known long option that takes no value, given one */
                return cli_usage_error(
                                verb, "option '%.*s' takes no value", (int) (eq - word), word);
        return cli_usage_error(verb, "unknown option '%s'", word);
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
        cli_stdout_verbatim(true);
        /* one write of the whole text: json_dumpf writes every token through stdio, which
         * for an audit's megabytes of JSON cost more than building the text */
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
        json_printed = true;
        int r = -1;
        if (text) {
                size_t len = strlen(text);
                r = fwrite(text, 1, len, stdout) == len ? 0 : -1;
                free(text);
        }
        if (r >= 0)
                fputc('\n', stdout);
        cli_stdout_verbatim(false);
        if (r < 0)
                return cli_error("cannot write JSON output");
        return EXIT_OK;
}

/* Length of the UTF-8 sequence that starts at p (at most left bytes), or 0 when invalid;
 * jansson decides validity, so the rule is exactly the one json_string() applies. */
static size_t utf8_sequence(const char *p, size_t left) {
        unsigned char lead = (unsigned char) *p;
        size_t len = lead < 0x80   ? 1
                     : lead < 0xc2 ? 0
                     : lead < 0xe0 ? 2
                     : lead < 0xf0 ? 3
                     : lead < 0xf5 ? 4
                                   : 0;
        if (len == 0 || len > left)
                return 0;
        if (len == 1)
                return 1;
        json_t *probe = json_stringn(p, len);
        if (!probe)
                return 0;
        json_decref(probe);
        return len;
}

json_t *cli_json_bytes(const char *s) {
        if (!s)
                return NULL;
        json_t *plain = json_string(s);
        if (plain)
                return plain;
        size_t n = strlen(s);
        if (n > (SIZE_MAX - 1) / 4)
                return NULL;
        _cleanup_free_ char *out = malloc(4 * n + 1);
        if (!out)
                return NULL;
        size_t used = 0;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence(s + i, n - i);
                if (len == 0) {
                        snprintf(out + used, 5, "\\x%02x", (unsigned char) s[i]);
                        used += 4;
                        i++;
                } else {
                        memcpy(out + used, s + i, len);
                        used += len;
                        i += len;
                }
        }
        out[used] = '\0';
        return json_string(out);
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

/* ---- YAML output (for Kubernetes documents) ---- */

/* Whether a string can be written as a plain YAML scalar and read back as the same string:
 * a conservative set of characters, and nothing a YAML 1.1 or 1.2 reader would take for a
 * number, a boolean or null. Everything else is written double-quoted with JSON escapes,
 * which YAML reads the same. */
static bool yaml_plain_ok(const char *s) {
        static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "y", "n",
                        "null", "~", "True", "False", "Yes", "No", "On", "Off", "Y", "N", "NULL",
                        "Null", "TRUE", "FALSE", "YES", "NO", "ON", "OFF"};
        if (!*s || strlen(s) > 200)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(special); i++)
                if (streq(s, special[i]))
                        return false;
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '/'))
                return false; /* digits, '-', '.' first could read as numbers or markers */
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                    (*p >= '0' && *p <= '9') || strchr("/_.-", *p)))
                        return false;
        return true;
}

static void yaml_scalar(FILE *out, json_t *v) {
        if (json_is_string(v) && yaml_plain_ok(json_string_value(v)))
                fputs(json_string_value(v), out);
        else
                json_dumpf(v, out, JSON_ENCODE_ANY | JSON_COMPACT);
}

static bool yaml_is_block(json_t *v) {
        return (json_is_object(v) && json_object_size(v) > 0) ||
               (json_is_array(v) && json_array_size(v) > 0);
}

/* Writes v as a block at indent; the first line's indentation is already on the line when
 * inline_first (after "- "). */
static void yaml_block(FILE *out, json_t *v, int indent, bool inline_first) {
        bool first = true;
        if (json_is_object(v)) {
                const char *key;
                json_t *val;
                json_object_foreach(v, key, val) {
                        fprintf(out, "%*s", first && inline_first ? 0 : indent, "");
                        first = false;
                        json_t *k = json_string(key);
                        yaml_scalar(out, k);
                        json_decref(k);
                        if (!yaml_is_block(val)) {
                                fputs(": ", out);
                                if (json_is_object(val))
                                        fputs("{}", out);
                                else if (json_is_array(val))
                                        fputs("[]", out);
                                else
                                        yaml_scalar(out, val);
                                fputc('\n', out);
                        } else {
                                fputs(":\n", out);
                                /* sequences sit at their key's indentation, as kubectl writes */
                                yaml_block(out, val, json_is_array(val) ? indent : indent + 2,
                                                false);
                        }
                }
        } else if (json_is_array(v)) {
                size_t i;
                json_t *val;
                json_array_foreach(v, i, val) {
                        fprintf(out, "%*s- ", first && inline_first ? 0 : indent, "");
                        first = false;
                        if (yaml_is_block(val))
                                yaml_block(out, val, indent + 2, true);
                        else {
                                if (json_is_object(val))
                                        fputs("{}", out);
                                else if (json_is_array(val))
                                        fputs("[]", out);
                                else
                                        yaml_scalar(out, val);
                                fputc('\n', out);
                        }
                }
        }
}

int cli_print_yaml(json_t *doc, bool document_start) {
        if (!doc)
                return cli_error("out of memory");
        cli_stdout_verbatim(true);
        if (document_start)
                fputs("---\n", stdout);
        if (yaml_is_block(doc))
                yaml_block(stdout, doc, 0, false);
        else {
                yaml_scalar(stdout, doc);
                fputc('\n', stdout);
        }
        json_decref(doc);
        cli_stdout_verbatim(false);
        return EXIT_OK;
}
