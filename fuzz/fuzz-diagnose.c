/* SPDX-License-Identifier: MIT */
/*
 * The log diagnosis on arbitrary bytes. The whole input is diagnosed twice, in one chunk and in
 * chunks whose size comes from the first byte, and both runs must give the same findings, line
 * numbers and texts; every string handed back must be valid UTF-8 without control characters.
 * The same text with terminal escape sequences around its spaces must give the same findings.
 * When the first byte is odd, the input up to the first NUL is also used as a pattern against
 * the rest (the pattern parser must survive any pattern).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/diagnose.h"
#include "macro.h"
#include "verdict/diagnose-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

static void check_text(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                check(*p >= 0x20 && *p != 0x7f);
                size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
                check(*p < 0x80 || *p >= 0xc2);
                for (size_t i = 1; i < n; i++)
                        check((p[i] & 0xc0) == 0x80);
                p += n;
        }
}

static char *run(const uint8_t *data, size_t size, size_t chunk) {
        struct xarch_diagnose *d = NULL;
        check(xarch_diagnose_new(&d, NULL) == 0);
        for (size_t off = 0; off < size; off += chunk)
                check(xarch_diagnose_feed(d, data + off, size - off < chunk ? size - off : chunk,
                                      NULL) == 0);
        check(xarch_diagnose_finish(d, NULL) >= 0);

        char *out = NULL;
        size_t out_size = 0;
        FILE *f = open_memstream(&out, &out_size);
        check(f != NULL);
        size_t n;
        const struct xarch_diagnose_finding *fs = xarch_diagnose_findings(d, &n);
        check(n <= XARCH_DIAGNOSE_FINDINGS_MAX);
        for (size_t i = 0; i < n; i++) {
                check_text(fs[i].cause);
                check_text(fs[i].fix);
                check(fs[i].n_matches <= XARCH_DIAGNOSE_MATCHES_MAX);
                check(fs[i].n_matches <= fs[i].n_lines);
                fprintf(f, "%s %" PRIu64 "\n%s\n%s\n", fs[i].id, fs[i].n_lines, fs[i].cause,
                                fs[i].fix);
                for (size_t m = 0; m < fs[i].n_matches; m++) {
                        check_text(fs[i].matches[m].text);
                        check(strlen(fs[i].matches[m].text) <= XARCH_DIAGNOSE_TEXT_MAX);
                        fprintf(f, "%" PRIu64 " %s\n", fs[i].matches[m].line,
                                        fs[i].matches[m].text);
                }
                for (size_t v = 0; v < fs[i].n_vars; v++) {
                        check_text(fs[i].vars[v].value);
                        fprintf(f, "%s=%s\n", fs[i].vars[v].name, fs[i].vars[v].value);
                }
        }
        struct xarch_diagnose_stats st;
        xarch_diagnose_get_stats(d, &st);
        check(st.bytes == size);
        fprintf(f, "%" PRIu64 " %" PRIu64 "\n", st.lines, st.dropped_lines);
        fclose(f);
        xarch_diagnose_free(d);
        check(out != NULL);
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > (1u << 20))
                return 0;
        size_t chunk = size > 0 ? 1 + data[0] % 97 : 1;
        char *whole = run(data, size, size > 0 ? size : 1);
        char *pieces = run(data, size, chunk);
        check(streq(whole, pieces));
        free(whole);
        free(pieces);

        /* Escape sequences change nothing but the byte count: the input with ESC and 0xc2
         * bytes made spaces (so every byte is text), then with colour codes, a hyperlink and a
         * C1 CSI around its spaces, gives the same findings and lines. */
        if (size <= (1u << 14)) {
                static const char *const around[][2] = {
                                {"\033[1;31m", "\033[0m"},
                                {"\033]8;;http://x\033\\", "\033]8;;\007"},
                                {"\302\23332m", "\0337"},
                };
                uint8_t *plain = malloc(size + 1), *coloured = malloc(size * 32 + 1);
                check(plain && coloured);
                size_t o = 0;
                for (size_t i = 0; i < size; i++) {
                        plain[i] = data[i] == 0x1b || data[i] == 0xc2 ? ' ' : data[i];
                        if (plain[i] == ' ') {
                                const char *const *a = around[i % 3];
                                memcpy(coloured + o, a[0], strlen(a[0]));
                                o += strlen(a[0]);
                                coloured[o++] = ' ';
                                memcpy(coloured + o, a[1], strlen(a[1]));
                                o += strlen(a[1]);
                        } else {
                                coloured[o++] = plain[i];
                        }
                }
                char *want = run(plain, size, size > 0 ? size : 1);
                char *got = run(coloured, o, chunk);
                check(streq(want, got));
                free(want);
                free(got);
                free(plain);
                free(coloured);
        }

        if (size > 0 && (data[0] & 1)) {
                const uint8_t *nul = memchr(data + 1, 0, size - 1);
                if (nul) {
                        size_t plen = (size_t) (nul - data - 1);
                        char *pattern = strndup((const char *) data + 1, plen);
                        check(pattern != NULL);
                        struct diag_vars vars = {0};
                        size_t start = 0, line_len = size - plen - 2;
                        if (diag_pattern_match(pattern, (const char *) nul + 1, line_len, &vars,
                                            &start))
                                check(start <= line_len);
                        for (size_t i = 0; i < vars.n; i++)
                                check_text(diag_vars_get(&vars, vars.v[i].name));
                        free(pattern);
                }
        }
        return 0;
}
