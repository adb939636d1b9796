/* SPDX-License-Identifier: MIT */
/* The log diagnosis engine: the pattern matcher, the prefilter against a naive search, the
 * streaming matcher fed in every chunking (results must not depend on where chunks end), bounds
 * (findings, matches, line length) and hostile bytes. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "xarch/diagnose.h"
#include "macro.h"
#include "verdict/diagnose-internal.h"

/* ---- helpers ---- */

static struct xarch_diagnose *diagnose_chunks(const char *buf, size_t len, size_t chunk) {
        struct xarch_diagnose *d = NULL;
        assert_int_equal(xarch_diagnose_new(&d, NULL), 0);
        for (size_t off = 0; off < len; off += chunk) {
                size_t n = len - off < chunk ? len - off : chunk;
                assert_int_equal(xarch_diagnose_feed(d, buf + off, n, NULL), 0);
        }
        assert_true(xarch_diagnose_finish(d, NULL) >= 0);
        return d;
}

static struct xarch_diagnose *diagnose_str(const char *s) {
        return diagnose_chunks(s, strlen(s), strlen(s) ? strlen(s) : 1);
}

static const struct xarch_diagnose_finding *find(
                struct xarch_diagnose *d, const char *id, size_t nth) {
        size_t n;
        const struct xarch_diagnose_finding *f = xarch_diagnose_findings(d, &n);
        for (size_t i = 0; i < n; i++)
                if (streq(f[i].id, id) && nth-- == 0)
                        return &f[i];
        return NULL;
}

static const char *var(const struct xarch_diagnose_finding *f, const char *name) {
        for (size_t i = 0; i < f->n_vars; i++)
                if (streq(f->vars[i].name, name))
                        return f->vars[i].value;
        return NULL;
}

static size_t n_findings(struct xarch_diagnose *d) {
        size_t n;
        xarch_diagnose_findings(d, &n);
        return n;
}

/* A canonical text of all findings, to compare runs. */
static char *dump(struct xarch_diagnose *d) {
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        assert_non_null(f);
        size_t n;
        const struct xarch_diagnose_finding *fs = xarch_diagnose_findings(d, &n);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s %d %" PRIu64 "|%s|%s\n", fs[i].id, fs[i].kind, fs[i].n_lines,
                                fs[i].cause, fs[i].fix);
                for (size_t m = 0; m < fs[i].n_matches; m++)
                        fprintf(f, "  %" PRIu64 " %s\n", fs[i].matches[m].line,
                                        fs[i].matches[m].text);
                for (size_t v = 0; v < fs[i].n_vars; v++)
                        fprintf(f, "  %s=%s\n", fs[i].vars[v].name, fs[i].vars[v].value);
        }
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        fprintf(f, "bytes=%" PRIu64 " lines=%" PRIu64 " dropped=%" PRIu64 "\n", st.bytes, st.lines,
                        st.dropped_lines);
        fclose(f);
        return out;
}

static bool valid_utf8_no_controls(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                if (*p < 0x20 || *p == 0x7f)
                        return false;
                if (*p < 0x80) {
                        p++;
                        continue;
                }
                size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
                if (n == 0)
                        return false;
                for (size_t i = 1; i < n; i++)
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                p += n;
        }
        return true;
}

/* ---- the pattern matcher ---- */

static void test_pattern_literals_and_captures(void **state) {
        struct diag_vars v = {0};
        size_t start = 99;
        const char *line =
                        "bash: line 1: /opt/x/prog: cannot execute binary file: Exec format error";
        assert_true(diag_pattern_match("{program:path}: cannot execute binary file", line,
                        strlen(line), &v, &start));
        assert_string_equal(diag_vars_get(&v, "program"), "/opt/x/prog");
        assert_int_equal(start, 14);

        memset(&v, 0, sizeof(v));
        line = "qemu-aarch64-static: Could not open '/lib/ld-linux-aarch64.so.1': No such file";
        assert_true(diag_pattern_match("qemu-{q:word}: Could not open '{loader:path}'", line,
                        strlen(line), &v, NULL));
        assert_string_equal(diag_vars_get(&v, "q"), "aarch64-static");
        assert_string_equal(diag_vars_get(&v, "loader"), "/lib/ld-linux-aarch64.so.1");

        /* lazy text up to the next literal, then int */
        memset(&v, 0, sizeof(v));
        line = "#8 12.52 qemu: uncaught target signal 11 (Segmentation fault) - core dumped";
        assert_true(diag_pattern_match("uncaught target signal {n:int} ({name:text})", line,
                        strlen(line), &v, NULL));
        assert_string_equal(diag_vars_get(&v, "n"), "11");
        assert_string_equal(diag_vars_get(&v, "name"), "Segmentation fault");

        /* skip: '*' between two literals */
        memset(&v, 0, sizeof(v));
        line = "Failed to pull image \"a/b:1\": rpc error: no match for platform in manifest "
               "sha256:ab: "
               "not found";
        assert_true(diag_pattern_match(
                        "Failed to pull image \"{image:image}\"*no match for platform "
                        "in manifest {digest:digest}",
                        line, strlen(line), &v, NULL));
        assert_string_equal(diag_vars_get(&v, "image"), "a/b:1");
        assert_string_equal(diag_vars_get(&v, "digest"), "sha256:ab"); /* ':' trimmed */

        /* escaped '{' */
        memset(&v, 0, sizeof(v));
        line = "WARNING: image platform ({arm64 linux  [] }) does not match";
        assert_true(diag_pattern_match(
                        "image platform (\\{{arch:word} ", line, strlen(line), &v, NULL));
        assert_string_equal(diag_vars_get(&v, "arch"), "arm64");

        /* a named literal is captured */
        memset(&v, 0, sizeof(v));
        line = "runtime: lfstack.push invalid packing: node=0x1";
        assert_true(diag_pattern_match(
                        "{form=lfstack.push} invalid packing", line, strlen(line), &v, &start));
        assert_string_equal(diag_vars_get(&v, "form"), "lfstack.push");
        assert_int_equal(start, 9);
}

static void test_pattern_rejects(void **state) {
        const char *line = "fork/exec /usr/bin/x: exec format error";
        /* '|': the first literal must start a token, "fork/exec" is not "exec" */
        assert_false(diag_pattern_match(
                        "|exec {p:path}: exec format error", line, strlen(line), NULL, NULL));
        assert_true(diag_pattern_match(
                        "exec {p:path}: exec format error", line, strlen(line), NULL, NULL));
        /* a class needs at least one character */
        line = "crun: exec container process `/hello`: Exec format error";
        assert_false(diag_pattern_match(
                        "{p:path}: Exec format error", line, strlen(line), NULL, NULL));
        /* the literal must be there; a literal cut at the end of the line does not match */
        line = "fatal error: lfstack.pu";
        assert_false(diag_pattern_match(
                        "fatal error: lfstack.push", line, strlen(line), NULL, NULL));
        /* malformed patterns never match */
        assert_false(diag_pattern_match("{p:nosuchclass}x", "ax", 2, NULL, NULL));
        assert_false(diag_pattern_match("{p:path", "ax", 2, NULL, NULL));
        assert_false(diag_pattern_match("*x", "ax", 2, NULL, NULL));
        assert_false(diag_pattern_match("{a:word}{b:word}x", "abx", 3, NULL, NULL));
        /* NUL bytes are ordinary bytes */
        static const char nul[] = "a\0b exec /app: exec format error";
        assert_true(diag_pattern_match(
                        "|exec {p:path}: exec format error", nul, sizeof(nul) - 1, NULL, NULL));
}

static void test_vars(void **state) {
        struct diag_vars v = {0};
        char name[8];
        for (int i = 0; i < DIAG_VARS_MAX + 3; i++) {
                snprintf(name, sizeof(name), "v%d", i);
                diag_vars_set(&v, name, "x", 1);
        }
        assert_int_equal(v.n, DIAG_VARS_MAX);
        diag_vars_set(&v, "v0", "replaced", 8);
        assert_string_equal(diag_vars_get(&v, "v0"), "replaced");
        diag_vars_set_text(&v, "v1", "a static text longer than any captured value could be");
        assert_string_equal(diag_vars_get(&v, "v1"),
                        "a static text longer than any captured value could be");
        assert_null(diag_vars_get(&v, "nope"));
        char big[1000];
        memset(big, 'a', sizeof(big));
        diag_vars_set(&v, "v2", big, sizeof(big));
        assert_int_equal(strlen(diag_vars_get(&v, "v2")), DIAG_VALUE_MAX - 1);
}

/* ---- text helpers ---- */

static void test_sanitize(void **state) {
        char out[64];
        diag_sanitize("a\tb\001c\x7f", 6, out, sizeof(out));
        assert_string_equal(out, "a b?c?");
        /* overlong '/', a surrogate, a byte above F4, a lone continuation, a cut sequence */
        diag_sanitize("\xc0\xaf|\xed\xa0\x80|\xf5|\x80|\xe2\x82", 13, out, sizeof(out));
        assert_string_equal(out, "??|???|?|?|??");
        diag_sanitize("caf\xc3\xa9 \xe2\x80\x98q\xe2\x80\x99 \xf0\x9f\x98\x80", 18, out,
                        sizeof(out));
        assert_string_equal(out, "caf\xc3\xa9 \xe2\x80\x98q\xe2\x80\x99 \xf0\x9f\x98\x80");
        /* truncation never splits a character */
        char small[5];
        assert_int_equal(diag_sanitize("ab\xe2\x80\x98", 5, small, sizeof(small)), 2);
        assert_string_equal(small, "ab");
        diag_sanitize("a\0b", 3, out, sizeof(out));
        assert_string_equal(out, "a?b");
}

static void test_render(void **state) {
        struct diag_vars v = {0}, fb = {0};
        diag_vars_set(&v, "arch", "arm64", 5);
        diag_vars_set(&fb, "image", "ex/img:1", 8);
        diag_vars_set(&fb, "arch", "s390x", 5);
        char buf[128];
        diag_render("install {arch|ARCH} for {image|IMAGE} on {host|HOST} {nodefault}", &v, &fb,
                        buf, sizeof(buf));
        assert_string_equal(buf, "install arm64 for ex/img:1 on HOST ?");
        diag_render("unterminated {brace", &v, NULL, buf, sizeof(buf));
        assert_string_equal(buf, "unterminated {brace");
        diag_render("note {none|}", &v, NULL, buf, sizeof(buf));
        assert_string_equal(buf, "note");
        char tiny[6];
        diag_render("{arch} and more", &v, NULL, tiny, sizeof(tiny));
        assert_string_equal(tiny, "arm64");
}

static void test_count_newlines(void **state) {
        char buf[300];
        srand(7);
        for (int round = 0; round < 200; round++) {
                size_t len = (size_t) rand() % sizeof(buf);
                uint64_t want = 0;
                for (size_t i = 0; i < len; i++) {
                        int r = rand() % 5;
                        buf[i] = r == 0   ? '\n'
                                 : r == 1 ? (char) 0x8a
                                 : r == 2 ? 0
                                          : (char) (rand() & 0xff);
                        want += buf[i] == '\n';
                }
                size_t off = (size_t) rand() % 8;
                if (off > len)
                        off = len;
                uint64_t want_off = 0;
                for (size_t i = off; i < len; i++)
                        want_off += buf[i] == '\n';
                assert_int_equal(diag_count_newlines(buf, len), want);
                assert_int_equal(diag_count_newlines(buf + off, len - off), want_off);
        }
}

/* ---- the prefilter against memmem ---- */

static void test_prefilter(void **state) {
        static const char *const lits[] = {"lfstack.push", "xec format error", "Could not open '",
                        "ErrImagePull", "abcabcabcabcab", "zzz"};
        struct diag_prefilter *pf = NULL;
        assert_int_equal(diag_prefilter_new(lits, ELEMENTSOF(lits), &pf), 0);
        const char alphabet[] = "abcz xe.lfstackpushErImagPulCoud'\n";
        char text[512];
        srand(11);
        for (int round = 0; round < 2000; round++) {
                size_t len = (size_t) rand() % sizeof(text);
                for (size_t i = 0; i < len; i++)
                        text[i] = alphabet[rand() % (sizeof(alphabet) - 1)];
                if (len > 20 && rand() % 2) {
                        const char *l = lits[rand() % ELEMENTSOF(lits)];
                        size_t at = (size_t) rand() % (len - strlen(l));
                        memcpy(text + at, l, strlen(l));
                }
                size_t from = len ? (size_t) rand() % (len + 1) : 0;
                /* naive: leftmost start >= from of any literal */
                long want = -1;
                uint64_t want_mask = 0;
                for (size_t i = 0; i < ELEMENTSOF(lits); i++) {
                        size_t l = strlen(lits[i]);
                        for (size_t p = 0; p + l <= len; p++)
                                if (memcmp(text + p, lits[i], l) == 0) {
                                        want_mask |= UINT64_C(1) << i;
                                        if (p >= from && (want < 0 || (long) p < want))
                                                want = (long) p;
                                }
                }
                size_t index = SIZE_MAX;
                long got = diag_prefilter_find(pf, text, len, from, &index);
                assert_int_equal(got, want);
                if (got >= 0)
                        assert_memory_equal(text + got, lits[index], strlen(lits[index]));
                assert_int_equal(diag_prefilter_mask(pf, text, len), want_mask);
        }
        diag_prefilter_free(pf);
        const char *bad[] = {"xy"};
        assert_int_equal(diag_prefilter_new(bad, 1, &pf), -EINVAL);
}

/* ---- the streaming matcher ---- */

static const char composite[] =
                "noise line\n"
                "runtime: lfstack.push invalid packing: node=0xffff6f446a80 cnt=0x1 "
                "packed=0xffff6f446a800001 -> node=0xffffffff6f446a80\r\n"
                "fatal error: lfstack.push\n"
                "\n"
                "qemu-aarch64-static: Could not open '/lib/ld-linux-aarch64.so.1': No such file or "
                "directory\n"
                "WARNING: image platform ({arm64 linux  [] }) does not match the expected platform "
                "({amd64 linux  [] })\n"
                "exec /hello: exec format error\n"
                "qemu: uncaught target signal 4 (Illegal instruction) - core dumped\n"
                "qemu: uncaught target signal 11 (Segmentation fault) - core dumped\n"
                "  Warning  BackOff  5s  kubelet  Back-off restarting failed container app\n"
                "This program can only be run on AMD64 processors with v3 microarchitecture "
                "support.\n"
                "docker: no matching manifest for linux/arm64/v8 in the manifest list entries.\n"
                "last line without newline: fatal error: taggedPointerPack";

static void test_composite(void **state) {
        struct xarch_diagnose *d = diagnose_str(composite);
        const struct xarch_diagnose_finding *f = find(d, "go-lfstack-qemu", 0);
        assert_non_null(f);
        assert_int_equal(f->n_lines, 2);
        assert_int_equal(f->matches[0].line, 2);
        assert_int_equal(f->matches[1].line, 3);
        assert_string_equal(var(f, "go_runtime"), "older than go1.25.4");
        f = find(d, "go-lfstack-qemu", 1); /* the Go 1.25 text is another finding */
        assert_non_null(f);
        assert_int_equal(f->matches[0].line, 13);
        assert_string_equal(var(f, "go_runtime"), "go1.25.0-go1.25.3");

        f = find(d, "qemu-loader-missing", 0);
        assert_non_null(f);
        assert_string_equal(var(f, "arch"), "arm64");
        assert_string_equal(var(f, "emulator"), "qemu-aarch64");
        assert_non_null(strstr(f->fix, "--platform linux/arm64"));

        f = find(d, "image-platform-mismatch", 0);
        assert_non_null(f);
        assert_string_equal(var(f, "arch"), "arm64");
        assert_string_equal(var(f, "host_arch"), "amd64");

        f = find(d, "container-exec-format-error", 0);
        assert_non_null(f);
        assert_int_equal(f->matches[0].line, 7);
        assert_string_equal(var(f, "program"), "/hello");
        assert_non_null(strstr(f->fix, "xarch binfmt install arm64"));

        assert_non_null(find(d, "qemu-uncaught-signal", 0));
        assert_non_null(find(d, "qemu-uncaught-signal", 1));
        assert_string_equal(var(find(d, "qemu-uncaught-signal", 0), "signal"), "4");
        assert_non_null(strstr(find(d, "qemu-uncaught-signal", 0)->fix, "QEMU_CPU=max"));
        assert_non_null(strstr(find(d, "qemu-uncaught-signal", 1)->fix, "$BUILDPLATFORM"));

        f = find(d, "go-amd64-level", 0);
        assert_non_null(f);
        assert_string_equal(var(f, "level"), "v3");
        assert_non_null(strstr(f->fix, "GOAMD64=v1"));
        assert_non_null(strstr(f->fix, "x86-64-v3"));

        f = find(d, "manifest-platform-missing", 0);
        assert_non_null(f);
        assert_string_equal(var(f, "platform"), "linux/arm64/v8");
        assert_string_equal(var(f, "wanted_arch"), "arm64");

        /* the context comes last */
        size_t n;
        const struct xarch_diagnose_finding *all = xarch_diagnose_findings(d, &n);
        assert_string_equal(all[n - 1].id, "k8s-crash-loop");
        assert_int_equal(all[n - 1].kind, XARCH_DIAGNOSE_CONTEXT);
        for (size_t i = 0; i < n; i++) {
                assert_true(valid_utf8_no_controls(all[i].cause));
                assert_true(valid_utf8_no_controls(all[i].fix));
                assert_null(strstr(all[i].fix, "{"));
        }
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        assert_int_equal(st.lines, 13);
        assert_int_equal(st.bytes, sizeof(composite) - 1);
        xarch_diagnose_free(d);
}

static void test_chunking_does_not_matter(void **state) {
        struct xarch_diagnose *d = diagnose_str(composite);
        char *want = dump(d);
        xarch_diagnose_free(d);
        for (size_t chunk = 1; chunk < 64; chunk++) {
                d = diagnose_chunks(composite, sizeof(composite) - 1, chunk);
                char *got = dump(d);
                assert_string_equal(got, want);
                free(got);
                xarch_diagnose_free(d);
        }
        free(want);
}

/* ---- terminal escape sequences ---- */

static char *strip_all(const char *in, size_t len, size_t chunk, size_t *ret_len) {
        struct diag_ansi st = {0};
        char *out = malloc(len + 2);
        assert_non_null(out);
        size_t o = 0;
        for (size_t off = 0; off < len; off += chunk) {
                size_t n = len - off < chunk ? len - off : chunk;
                o += diag_ansi_strip(&st, in + off, n, out + o);
        }
        o += diag_ansi_finish(&st, out + o);
        out[o] = '\0';
        *ret_len = o;
        return out;
}

static void test_ansi_strip(void **state) {
        static const struct {
                const char *in, *want;
        } cases[] = {
                        /* CSI: SGR colours, 256/true colour, cursor moves, erase, private modes */
                        {"\033[31mred\033[0m", "red"},
                        {"\033[1;38;5;208mx\033[38;2;1;2;3my\033[m", "xy"},
                        {"a\033[2K\033[1Gb\033[10;20Hc\033[?25l\033[?25hd", "abcd"},
                        {"a\033[ qb", "ab"}, /* an intermediate byte */
                        /* C1 CSI in UTF-8, and 0xc2 that starts other characters */
                        {"a\302\2331;31mb", "ab"},
                        {"caf\303\251 \302\260C \302\240", "caf\303\251 \302\260C \302\240"},
                        {"\302\302\233mx", "\302x"},
                        /* OSC: title (BEL), hyperlink (ST), C1 OSC and C1 ST */
                        {"\033]0;title\007text", "text"},
                        {"\033]8;;http://x/y\033\\link\033]8;;\033\\ end", "link end"},
                        {"a\302\2358;;u\302\234b", "ab"},
                        /* DCS, SOS, PM, APC strings */
                        {"a\033Pq#0\033\\b\033Xs\033\\c\033^p\033\\d\033_g\033\\e", "abcde"},
                        /* nF (charset designation), two-byte sequences (save/restore cursor) */
                        {"\033(Ba\033)0b\0337c\0338d\033Me", "abcde"},
                        /* broken sequences end at the byte that breaks them */
                        {"a\033\nb", "a\nb"},
                        {"a\033[12\nb", "a\nb"},
                        {"a\033]0;title without end\nb", "a\nb"},
                        {"a\033[1;\302\240b", "a\302\240b"},
                        {"a\033\033[mb", "ab"},
                        {"\033]0;x\033[31mred", "red"},
                        {"end\302", "end\302"},
                        {"end\033", "end"},
                        {"plain text\n", "plain text\n"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = strlen(cases[i].in);
                /* every chunking: the state carries the sequence over the boundary */
                for (size_t chunk = 1; chunk <= len; chunk++) {
                        size_t n;
                        char *got = strip_all(cases[i].in, len, chunk, &n);
                        if (!streq(got, cases[i].want) || n != strlen(cases[i].want))
                                fail_msg("case %zu chunk %zu: '%s'", i, chunk, got);
                        free(got);
                }
        }
}

/* composite with escape sequences around every word and line, as kubectl logs of coloured
 * apps and docker compose's prefixes have them; styles rotate. */
static char *colourise(const char *plain) {
        static const char *const styles[][2] = {
                        {"\033[1;31m", "\033[0m"},
                        {"\033[38;5;208m", "\033[39m"},
                        {"\033]8;;https://example.com/x\033\\", "\033]8;;\033\\"},
                        {"\302\23332m", "\302\233m"},
                        {"\033]0;title\007\033(B", "\0337\0338"},
                        {"\033[2K\033[1G", "\033[?25h"},
        };
        size_t len = strlen(plain);
        char *out = malloc(len * 40 + 64);
        assert_non_null(out);
        size_t o = 0, k = 0;
        bool line_start = true;
        for (size_t i = 0; i < len; i++) {
                if (line_start) {
                        o += (size_t) sprintf(out + o, "\033[36mweb-1  |\033[0m ");
                        line_start = false;
                }
                if (plain[i] == ' ' || plain[i] == ':' || plain[i] == '/') {
                        o += (size_t) sprintf(out + o, "%s%c%s", styles[k % 6][0], plain[i],
                                        styles[k % 6][1]);
                        k++;
                } else {
                        out[o++] = plain[i];
                }
                if (plain[i] == '\n')
                        line_start = true;
        }
        out[o] = '\0';
        return out;
}

/* A dump without its byte count (the escape sequences add bytes, nothing else) and without
 * the compose prefix the coloured copy has. */
static char *dump_text(struct xarch_diagnose *d) {
        char *s = dump(d);
        char *b = strstr(s, "bytes=");
        assert_non_null(b);
        char *rest = strchr(b, ' ');
        memmove(b, rest + 1, strlen(rest + 1) + 1);
        for (char *p; (p = strstr(s, "web-1  | "));)
                memmove(p, p + 9, strlen(p + 9) + 1);
        return s;
}

static void test_colour_does_not_matter(void **state) {
        /* the plain text with the compose prefix, so the texts compare equal */
        char *coloured = colourise(composite);
        size_t plen = strlen(composite) + 64 * 16;
        char *prefixed = malloc(plen);
        assert_non_null(prefixed);
        size_t o = 0;
        bool line_start = true;
        for (const char *p = composite; *p; p++) {
                if (line_start)
                        o += (size_t) sprintf(prefixed + o, "web-1  | ");
                line_start = *p == '\n';
                prefixed[o++] = *p;
        }
        prefixed[o] = '\0';
        struct xarch_diagnose *d = diagnose_str(prefixed);
        char *want = dump_text(d);
        assert_true(n_findings(d) >= 8);
        xarch_diagnose_free(d);
        size_t len = strlen(coloured);
        for (size_t chunk = 1; chunk < 80; chunk++) {
                d = diagnose_chunks(coloured, len, chunk);
                char *got = dump_text(d);
                if (!streq(got, want))
                        fail_msg("chunk %zu:\n%s\nwanted:\n%s", chunk, got, want);
                free(got);
                xarch_diagnose_free(d);
        }
        d = diagnose_str(coloured);
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        assert_int_equal(st.bytes, len);
        /* the texts shown carry no escape sequence */
        size_t n;
        const struct xarch_diagnose_finding *fs = xarch_diagnose_findings(d, &n);
        for (size_t i = 0; i < n; i++)
                for (size_t m = 0; m < fs[i].n_matches; m++)
                        assert_null(strstr(fs[i].matches[m].text, "[0m"));
        xarch_diagnose_free(d);
        free(want);
        free(coloured);
        free(prefixed);
}

static void test_nothing_known(void **state) {
        struct xarch_diagnose *d =
                        diagnose_str("hello\nworld\nopen /x: no such file or directory\n");
        assert_int_equal(n_findings(d), 0);
        xarch_diagnose_free(d);
        d = diagnose_str("");
        assert_int_equal(n_findings(d), 0);
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        assert_int_equal(st.lines, 0);
        xarch_diagnose_free(d);
        /* context or weak signatures alone are not a diagnosis */
        d = diagnose_str("Reason: CrashLoopBackOff\nError: ImagePullBackOff\n");
        assert_int_equal(n_findings(d), 0);
        xarch_diagnose_free(d);
        d = diagnose_str("mkdir: cannot create directory 'x': Function not implemented\n");
        assert_int_equal(n_findings(d), 0);
        xarch_diagnose_free(d);
        d = diagnose_str("mkdir: x: Function not implemented\nqemu: uncaught target signal 11\n");
        assert_int_equal(n_findings(d), 2);
        assert_non_null(find(d, "emulation-syscall", 0));
        xarch_diagnose_free(d);
        /* a tool named qemu-img is not an emulator */
        d = diagnose_str("qemu-img: Could not open 'disk.qcow2': No such file or directory\n");
        assert_int_equal(n_findings(d), 0);
        xarch_diagnose_free(d);
}

static void test_bounds(void **state) {
        /* 100 different programs: 64 findings kept, 36 dropped */
        char *log = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&log, &size);
        for (int i = 0; i < 100; i++)
                fprintf(f, "exec /bin/prog%d: exec format error\n", i);
        /* 100 lines of the same finding: all counted, 32 kept */
        for (int i = 0; i < 100; i++)
                fprintf(f, "exec /same: exec format error\n");
        fclose(f);
        struct xarch_diagnose *d = diagnose_str(log);
        assert_int_equal(n_findings(d), XARCH_DIAGNOSE_FINDINGS_MAX);
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        assert_int_equal(st.dropped_lines, 100 - XARCH_DIAGNOSE_FINDINGS_MAX + 100);
        xarch_diagnose_free(d);
        free(log);

        f = open_memstream(&log, &size);
        fprintf(f, "start\n");
        for (int i = 0; i < 100; i++)
                fprintf(f, "exec /same: exec format error\n");
        fclose(f);
        d = diagnose_str(log);
        const struct xarch_diagnose_finding *fd = find(d, "container-exec-format-error", 0);
        assert_non_null(fd);
        assert_int_equal(fd->n_lines, 100);
        assert_int_equal(fd->n_matches, XARCH_DIAGNOSE_MATCHES_MAX);
        assert_int_equal(fd->matches[XARCH_DIAGNOSE_MATCHES_MAX - 1].line,
                        XARCH_DIAGNOSE_MATCHES_MAX + 1);
        xarch_diagnose_free(d);
        free(log);
}

static void test_long_lines(void **state) {
        const size_t big = 10u << 20;
        char *buf = malloc(big + 200);
        assert_non_null(buf);
        /* match at the start of a 10 MB line, then a short line */
        size_t n = (size_t) sprintf(buf, "exec /a: exec format error ");
        memset(buf + n, 'x', big);
        n += big;
        n += (size_t) sprintf(buf + n, "\nfatal error: lfstack.push\n");
        for (size_t chunk = 1u << 20; chunk >= 4096; chunk /= 16) {
                struct xarch_diagnose *d = diagnose_chunks(buf, n, chunk);
                assert_non_null(find(d, "container-exec-format-error", 0));
                assert_int_equal(find(d, "go-lfstack-qemu", 0)->matches[0].line, 2);
                struct xarch_diagnose_stats st;
                xarch_diagnose_get_stats(d, &st);
                assert_int_equal(st.lines, 2);
                xarch_diagnose_free(d);
        }
        /* a match beyond XARCH_DIAGNOSE_LINE_MAX is not seen, in any chunking */
        memset(buf, 'y', big);
        n = big +
            (size_t) sprintf(buf + big, " exec /a: exec format error\nexec /b: exec format error");
        for (size_t chunk = n; chunk >= 4096; chunk /= 16) {
                struct xarch_diagnose *d = diagnose_chunks(buf, n, chunk);
                const struct xarch_diagnose_finding *f = find(d, "container-exec-format-error", 0);
                assert_non_null(f);
                assert_int_equal(f->n_lines, 1);
                assert_int_equal(f->matches[0].line, 2);
                xarch_diagnose_free(d);
        }
        /* a match just inside the limit, on a long line: the text is a window around it */
        memset(buf, 'z', XARCH_DIAGNOSE_LINE_MAX);
        const char *tail = " exec /c: exec format error";
        memcpy(buf + XARCH_DIAGNOSE_LINE_MAX - strlen(tail), tail, strlen(tail));
        strcpy(buf + XARCH_DIAGNOSE_LINE_MAX, "zzzz\r\n");
        struct xarch_diagnose *d = diagnose_str(buf);
        const struct xarch_diagnose_finding *f = find(d, "container-exec-format-error", 0);
        assert_non_null(f);
        assert_true(strlen(f->matches[0].text) <= XARCH_DIAGNOSE_TEXT_MAX);
        assert_non_null(strstr(f->matches[0].text, "exec /c"));
        assert_memory_equal(f->matches[0].text, "...", 3);
        xarch_diagnose_free(d);
        free(buf);
}

static void test_hostile_bytes(void **state) {
        static const char log[] = "\xff\xfe\x00\x00 exec /\xe9t\xe9: exec format error \x01\x7f\r\n"
                                  "\r\r\n"
                                  "\x00\x00\x00\n"
                                  "qemu-\xff: Could not open '/lib/ld\xc0.so': No such file\n";
        struct xarch_diagnose *d = diagnose_chunks(log, sizeof(log) - 1, 3);
        const struct xarch_diagnose_finding *f = find(d, "container-exec-format-error", 0);
        assert_non_null(f);
        assert_int_equal(f->matches[0].line, 1);
        assert_true(valid_utf8_no_controls(f->matches[0].text));
        assert_string_equal(var(f, "program"), "/?t?");
        assert_true(valid_utf8_no_controls(f->fix));
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        assert_int_equal(st.lines, 4);
        xarch_diagnose_free(d);
}

static void test_api_misuse_and_fd(void **state) {
        struct xarch_diagnose *d = NULL;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_diagnose_new(&d, NULL), 0);
        assert_int_equal(xarch_diagnose_feed(d, "x", 1, NULL), 0);
        assert_int_equal(xarch_diagnose_finish(d, NULL), 0);
        assert_int_equal(xarch_diagnose_finish(d, NULL), 0); /* idempotent */
        assert_int_equal(xarch_diagnose_feed(d, "x", 1, &err), -EINVAL);
        assert_non_null(err);
        xarch_error_freep(&err);
        xarch_diagnose_free(d);
        xarch_diagnose_free(NULL);

        int fds[2];
        assert_int_equal(pipe(fds), 0);
        const char *text = "a\nexec /p: exec format error\n";
        assert_int_equal(write(fds[1], text, strlen(text)), (ssize_t) strlen(text));
        close(fds[1]);
        assert_int_equal(xarch_diagnose_new(&d, NULL), 0);
        assert_int_equal(xarch_diagnose_feed_fd(d, fds[0], NULL), 0);
        close(fds[0]);
        assert_int_equal(xarch_diagnose_finish(d, NULL), 1);
        xarch_diagnose_free(d);

        assert_int_equal(xarch_diagnose_new(&d, NULL), 0);
        assert_true(xarch_diagnose_feed_fd(d, -1, &err) < 0);
        assert_non_null(err);
        xarch_error_freep(&err);
        xarch_diagnose_free(d);
}

/* "fatal error: {f=lfstack.push}" -> "fatal error: lfstack.push" */
static void unwrap_named_literals(const char *pattern, char *out, size_t size) {
        size_t o = 0;
        bool named = false;
        for (const char *p = pattern; *p && o + 1 < size; p++) {
                size_t name = *p == '{' ? strcspn(p + 1, "=:}") : 0;
                if (*p == '{' && p[1 + name] == '=') {
                        p += 1 + name; /* at '=': the text follows */
                        named = true;
                } else if (*p == '}' && named)
                        named = false;
                else
                        out[o++] = *p;
        }
        out[o] = '\0';
}

static void test_signature_table(void **state) {
        size_t n;
        const struct xarch_diagnose_signature *sigs = xarch_diagnose_signatures(&n);
        assert_int_equal(n, diag_n_signatures);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(sigs[i].id, diag_signatures[i].id);
                for (size_t j = i + 1; j < n; j++)
                        assert_string_not_equal(sigs[i].id, sigs[j].id);
                const struct diag_signature *s = &diag_signatures[i];
                assert_non_null(s->patterns[0].pattern);
                for (size_t p = 0; p < DIAG_PATTERNS_MAX && s->patterns[p].pattern; p++) {
                        /* a match implies the anchor: the anchor is literal text of the
                         * pattern (named literals {name=text} count as their text) */
                        char text[512];
                        unwrap_named_literals(s->patterns[p].pattern, text, sizeof(text));
                        assert_non_null(strstr(text, s->patterns[p].anchor));
                        /* long anchors keep the prefilter's window wide */
                        assert_true(strlen(s->patterns[p].anchor) >= 16);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_pattern_literals_and_captures),
                        cmocka_unit_test(test_pattern_rejects),
                        cmocka_unit_test(test_vars),
                        cmocka_unit_test(test_sanitize),
                        cmocka_unit_test(test_render),
                        cmocka_unit_test(test_count_newlines),
                        cmocka_unit_test(test_prefilter),
                        cmocka_unit_test(test_composite),
                        cmocka_unit_test(test_chunking_does_not_matter),
                        cmocka_unit_test(test_ansi_strip),
                        cmocka_unit_test(test_colour_does_not_matter),
                        cmocka_unit_test(test_nothing_known),
                        cmocka_unit_test(test_bounds),
                        cmocka_unit_test(test_long_lines),
                        cmocka_unit_test(test_hostile_bytes),
                        cmocka_unit_test(test_api_misuse_and_fd),
                        cmocka_unit_test(test_signature_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
