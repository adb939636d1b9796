/* SPDX-License-Identifier: MIT */
#ifndef XARCH_DIAGNOSE_H
#define XARCH_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Names known cross-architecture failures in logs: pod logs, `kubectl describe` output,
 * container-runtime errors, shell transcripts (signatures from failures.md).
 *
 * A streaming matcher: feed it bytes in chunks of any size (a pipe from `kubectl logs`, a file
 * read in large blocks), then finish it and read the findings. Memory stays bounded whatever the
 * input: lines longer than XARCH_DIAGNOSE_LINE_MAX bytes are matched on their first
 * XARCH_DIAGNOSE_LINE_MAX bytes only, each finding keeps at most XARCH_DIAGNOSE_MATCHES_MAX
 * matched lines (but counts them all), and at most XARCH_DIAGNOSE_FINDINGS_MAX findings are
 * kept. Input may hold any bytes (NUL, invalid UTF-8, CRLF line ends); every string handed back
 * is valid UTF-8 without control characters.
 */

#define XARCH_DIAGNOSE_LINE_MAX     8192 /* bytes of a line that are matched */
#define XARCH_DIAGNOSE_TEXT_MAX     240  /* bytes of a matched line kept for display */
#define XARCH_DIAGNOSE_MATCHES_MAX  32   /* matched lines kept per finding */
#define XARCH_DIAGNOSE_FINDINGS_MAX 64   /* distinct findings kept */

enum xarch_diagnose_kind {
        XARCH_DIAGNOSE_FAILURE, /* a cross-architecture failure, with cause and fix */
        XARCH_DIAGNOSE_CONTEXT, /* a symptom (CrashLoopBackOff, ...): reported only next to a
                                   failure, never on its own */
};

/* A signature the matcher knows. */
struct xarch_diagnose_signature {
        const char *id;    /* stable, e.g. "go-lfstack-qemu" */
        const char *title; /* one line */
        enum xarch_diagnose_kind kind;
};

/* The signature table, in report order. */
const struct xarch_diagnose_signature *xarch_diagnose_signatures(size_t *ret_n);

struct xarch_diagnose_match {
        uint64_t line;    /* 1-based line number in the input */
        const char *text; /* the line (or a window around the match when the line is longer
                             than XARCH_DIAGNOSE_TEXT_MAX), sanitised */
};

struct xarch_diagnose_var {
        const char *name; /* "arch", "program", "level", "digest", ... */
        const char *value;
};

/* One failure found: a signature plus the variables captured from its first matching line.
 * The same signature with different variables (signal 4 and signal 11) gives two findings. */
struct xarch_diagnose_finding {
        const char *id;
        const char *title;
        enum xarch_diagnose_kind kind;
        const char *cause; /* what it means */
        const char *fix;   /* what to do, with the captured variables filled in */
        uint64_t n_lines;  /* how many lines matched */
        size_t n_matches;  /* how many of them are in matches[] (the first ones) */
        const struct xarch_diagnose_match *matches;
        size_t n_vars;
        const struct xarch_diagnose_var *vars;
};

struct xarch_diagnose;

int xarch_diagnose_new(struct xarch_diagnose **ret, struct xarch_error **err);
void xarch_diagnose_free(struct xarch_diagnose *d);

/* Feeds the next bytes of the log. Must not be called after xarch_diagnose_finish(). */
int xarch_diagnose_feed(
                struct xarch_diagnose *d, const void *buf, size_t len, struct xarch_error **err);

/* Reads fd to its end in large chunks and feeds everything (does not close fd). */
int xarch_diagnose_feed_fd(struct xarch_diagnose *d, int fd, struct xarch_error **err);

/* Ends the input (a last line without a newline counts) and builds the findings. Returns the
 * number of findings (0 when nothing known was found). Failures come first, in the order of
 * their first line, then context findings; context findings, and failures too generic to stand
 * alone ("Function not implemented"), are dropped when no other failure was found. */
int xarch_diagnose_finish(struct xarch_diagnose *d, struct xarch_error **err);

/* After xarch_diagnose_finish(): the findings, valid until xarch_diagnose_free(). */
const struct xarch_diagnose_finding *xarch_diagnose_findings(
                const struct xarch_diagnose *d, size_t *ret_n);

/* Input statistics so far. */
struct xarch_diagnose_stats {
        uint64_t bytes;
        uint64_t lines;         /* a last line without a newline counts once finished */
        uint64_t dropped_lines; /* matched lines of findings beyond
                                   XARCH_DIAGNOSE_FINDINGS_MAX, not kept */
};
void xarch_diagnose_get_stats(const struct xarch_diagnose *d, struct xarch_diagnose_stats *ret);

#ifdef __cplusplus
}
#endif

#endif
