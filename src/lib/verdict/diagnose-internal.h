/* SPDX-License-Identifier: MIT */
#ifndef XARCH_DIAGNOSE_INTERNAL_H
#define XARCH_DIAGNOSE_INTERNAL_H

/* Internals of the log diagnosis (diagnose.c, diagnose-signatures.c), reachable by unit tests. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/diagnose.h"

#define DIAG_VARS_MAX     8 /* variables per finding, captured and derived */
#define DIAG_VAR_NAME_MAX 24
#define DIAG_VALUE_MAX    160 /* bytes of a variable's value (sanitised) */
#define DIAG_PATTERNS_MAX 12  /* patterns per signature */
#define DIAG_ANCHORS_MAX  64  /* prefilter literals over the whole table */
#define DIAG_TEMPLATE_MAX 2048

struct diag_vars {
        size_t n;
        struct {
                char name[DIAG_VAR_NAME_MAX];
                char value[DIAG_VALUE_MAX];
                const char *text; /* a static text set by diag_vars_set_text(), else NULL */
        } v[DIAG_VARS_MAX];
};

/* The value of a variable, or NULL. */
const char *diag_vars_get(const struct diag_vars *vars, const char *name);
/* Sets a variable to a static text of any length (hints derived from captured values). */
void diag_vars_set_text(struct diag_vars *vars, const char *name, const char *text);
/* Sets (or replaces) a variable; the value is sanitised and truncated. Names beginning with '_'
 * are used in templates only, never reported. */
void diag_vars_set(struct diag_vars *vars, const char *name, const char *value, size_t len);

/*
 * A pattern is a literal text with a few elements (no regex engine, no backtracking beyond the
 * literal that starts the match, and at most a few dozen tries of that literal):
 *   {name:class}  captures a run of one class: path, word, int, hex, digest, platform, image
 *                 (a trailing '.', ',' or ':' is dropped from the value);
 *   {name:text}   captures lazily up to the next literal (or the end of the line);
 *   {:class}      the same without capturing;
 *   {name=text}   the literal text, captured;
 *   *             skips lazily up to the next literal;
 *   \x            a literal x (for '{', '*', '\').
 * A pattern starting with '|' needs its first literal at a token boundary (not after a
 * letter, digit, '/', '-', '_' or '.'). The match is unanchored: the first literal is searched
 * in the line; a capture before it is taken backwards from it (greedy).
 */
bool diag_pattern_match(const char *pattern, const char *line, size_t len, struct diag_vars *vars,
                size_t *ret_start);

struct diag_pattern {
        const char *anchor;  /* literal the prefilter searches; a match implies it is present */
        const char *pattern; /* NULL ends the list */
};

struct diag_signature {
        const char *id;
        const char *title;
        enum xarch_diagnose_kind kind;
        bool weak;         /* too generic alone: reported only next to a non-weak failure */
        const char *cause; /* templates: {var} or {var|default} */
        const char *fix;
        struct diag_pattern patterns[DIAG_PATTERNS_MAX];
        /* Adds variables computed from the captured ones (architecture names, hints); false
         * rejects the match (a captured name that is not what the pattern is about). */
        bool (*derive)(struct diag_vars *vars);
};

extern const struct diag_signature diag_signatures[];
extern const size_t diag_n_signatures;

/* Expands {var} and {var|default} from vars, then from fallback (may be NULL); an unknown
 * variable without a default expands to "?". Always NUL-terminates; truncates at size. */
void diag_render(const char *template, const struct diag_vars *vars,
                const struct diag_vars *fallback, char *buf, size_t size);

/* Copies src into dst as valid UTF-8 without control characters (each bad byte becomes '?',
 * tab becomes a space), cutting at a character boundary; returns the length written. */
size_t diag_sanitize(const char *src, size_t len, char *dst, size_t size);

/* Terminal escape sequences taken out of a stream of log bytes, so that coloured lines (kubectl
 * logs of many apps, docker compose's prefixes) match like plain ones: ESC [ ... (CSI: colours,
 * cursor moves) up to its final byte; ESC ] (OSC: titles, hyperlinks), ESC P, X, ^, _ (DCS, SOS,
 * PM, APC) up to BEL or ST (ESC \\); ESC with intermediates and a final byte (ESC ( B), two-byte
 * ESC sequences (ESC 7); and the UTF-8 C1 forms of CSI (U+009B), OSC (U+009D), DCS/SOS/PM/APC
 * and ST (U+009C). A sequence broken by a byte it cannot hold ends there and that byte counts
 * as text; a newline always does (an unterminated OSC ends with its line). The state carries
 * over between calls, so chunk boundaries do not matter. Zeroed means "in text". */
struct diag_ansi {
        uint8_t state;
};

/* Copies src to dst without escape sequences: dst has room for len + 1 bytes (a 0xc2 held from
 * the previous call may come out). Returns the bytes written. */
size_t diag_ansi_strip(struct diag_ansi *st, const char *src, size_t len, char *dst);

/* The end of the input: a 0xc2 held at the end is text after all; dst has room for 1 byte.
 * Returns the bytes written (0 or 1) and resets the state. */
size_t diag_ansi_finish(struct diag_ansi *st, char *dst);

/* Counts '\n' bytes (word at a time). */
uint64_t diag_count_newlines(const char *p, size_t len);

/* Multi-literal search (Wu-Manber, 3-byte blocks): the literals' shortest length (>= 3) sets
 * the window, so noise is skipped several bytes at a time. */
struct diag_prefilter;
int diag_prefilter_new(const char *const *literals, size_t n, struct diag_prefilter **ret);
void diag_prefilter_free(struct diag_prefilter *pf);
/* Which literals (bit i for literal i) occur in text. */
uint64_t diag_prefilter_mask(const struct diag_prefilter *pf, const char *text, size_t len);
/* The offset of the leftmost occurrence of any literal starting at or after from, with its
 * index in *ret_index; -1 when there is none. */
long diag_prefilter_find(const struct diag_prefilter *pf, const char *text, size_t len, size_t from,
                size_t *ret_index);

#endif
