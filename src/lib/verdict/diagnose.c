/* SPDX-License-Identifier: MIT */
/*
 * Streaming log diagnosis. The input is cut into lines; complete lines inside a fed chunk are
 * not copied: a multi-literal prefilter runs over the whole chunk and only the lines where an
 * anchor occurs are matched precisely. Newlines are counted word-at-a-time between hits. A line
 * split across two chunks is carried over, bounded to XARCH_DIAGNOSE_LINE_MAX (+1 for a CR).
 * Terminal escape sequences (colours) are taken out first, in a copy, only from chunks that
 * hold an ESC or 0xc2 byte, or that continue a sequence.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verdict/diagnose-internal.h"
#include "macro.h"

#define READ_CHUNK      (1u << 20)
#define MATCH_TRIES_MAX 64 /* occurrences of a pattern's first literal tried per line */
#define PATTERN_ELEMS   16
#define PATTERN_LIT_MAX 512
#define TEXT_LEAD       60 /* bytes shown before the match when a long line is cut */
#define CARRY_MAX       (XARCH_DIAGNOSE_LINE_MAX + 1)
#define ANSI_PIECE      (64u << 10) /* input stripped of escape sequences at a time */

/* ---- variables, sanitising, templates ---- */

const char *diag_vars_get(const struct diag_vars *vars, const char *name) {
        for (size_t i = 0; i < vars->n; i++)
                if (streq(vars->v[i].name, name))
                        return vars->v[i].text ? vars->v[i].text : vars->v[i].value;
        return NULL;
}

/* The slot for name, added if needed; NULL when full. */
static size_t var_slot(struct diag_vars *vars, const char *name) {
        size_t i;
        for (i = 0; i < vars->n; i++)
                if (streq(vars->v[i].name, name))
                        return i;
        if (vars->n == DIAG_VARS_MAX)
                return SIZE_MAX;
        vars->n++;
        snprintf(vars->v[i].name, sizeof(vars->v[i].name), "%s", name);
        vars->v[i].value[0] = '\0';
        vars->v[i].text = NULL;
        return i;
}

void diag_vars_set(struct diag_vars *vars, const char *name, const char *value, size_t len) {
        size_t i = var_slot(vars, name);
        if (i == SIZE_MAX)
                return;
        vars->v[i].text = NULL;
        diag_sanitize(value, len, vars->v[i].value, sizeof(vars->v[i].value));
}

void diag_vars_set_text(struct diag_vars *vars, const char *name, const char *text) {
        size_t i = var_slot(vars, name);
        if (i != SIZE_MAX)
                vars->v[i].text = text;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
                need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
                need = 2;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                need = 3;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;
        if (n < need + 1)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i <= need; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return need + 1;
}

size_t diag_sanitize(const char *src, size_t len, char *dst, size_t size) {
        if (size == 0)
                return 0;
        const unsigned char *s = (const unsigned char *) src;
        size_t o = 0;
        for (size_t i = 0; i < len;) {
                size_t n = 1;
                unsigned char c = s[i];
                char one = (char) c;
                if (c == '\t')
                        one = ' ';
                else if (c < 0x20 || c == 0x7f)
                        one = '?';
                else if (c >= 0x80) {
                        n = utf8_sequence(s + i, len - i);
                        if (n == 0) {
                                n = 1;
                                one = '?';
                        }
                }
                size_t out = (c >= 0x80 && one != '?') ? n : 1;
                if (o + out >= size)
                        break;
                if (out == 1)
                        dst[o] = one;
                else
                        memcpy(dst + o, s + i, out);
                o += out;
                i += n;
        }
        dst[o] = '\0';
        return o;
}

static void append(char *buf, size_t size, size_t *o, const char *s, size_t len) {
        if (*o + 1 >= size)
                return;
        size_t room = size - 1 - *o;
        if (len > room)
                len = room;
        memcpy(buf + *o, s, len);
        *o += len;
        buf[*o] = '\0';
}

void diag_render(const char *template, const struct diag_vars *vars,
                const struct diag_vars *fallback, char *buf, size_t size) {
        size_t o = 0;
        if (size == 0)
                return;
        buf[0] = '\0';
        for (const char *p = template; *p;) {
                const char *close = *p == '{' ? strchr(p, '}') : NULL;
                if (!close) {
                        size_t run = strcspn(p + 1, "{") + 1;
                        append(buf, size, &o, p, run);
                        p += run;
                        continue;
                }
                char name[DIAG_VAR_NAME_MAX];
                const char *bar = memchr(p + 1, '|', (size_t) (close - p - 1));
                const char *name_end = bar ? bar : close;
                snprintf(name, sizeof(name), "%.*s", (int) (name_end - p - 1), p + 1);
                const char *value = diag_vars_get(vars, name);
                if (!value && fallback)
                        value = diag_vars_get(fallback, name);
                if (value)
                        append(buf, size, &o, value, strlen(value));
                else if (bar)
                        append(buf, size, &o, bar + 1, (size_t) (close - bar - 1));
                else
                        append(buf, size, &o, "?", 1);
                p = close + 1;
        }
        /* A variable expanding to nothing at the end of a sentence leaves a trailing space. */
        while (o > 0 && buf[o - 1] == ' ')
                buf[--o] = '\0';
}

/* ---- patterns ---- */

enum elem_kind { ELEM_LIT, ELEM_CLASS, ELEM_LAZY };
enum char_class {
        CLASS_PATH,
        CLASS_WORD,
        CLASS_INT,
        CLASS_HEX,
        CLASS_DIGEST,
        CLASS_PLATFORM,
        CLASS_IMAGE,
};

struct elem {
        enum elem_kind kind;
        enum char_class cls;
        const char *lit; /* into the unescaped literal buffer */
        size_t lit_len;
        char name[DIAG_VAR_NAME_MAX]; /* "" = no capture */
};

static bool is_alnum(unsigned char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool in_class(enum char_class cls, unsigned char c) {
        switch (cls) {
        case CLASS_PATH:
                return c > 0x20 && c != 0x7f && !strchr("\"'`,;:()[]{}<>", c);
        case CLASS_WORD:
                return is_alnum(c) || (c && strchr("_.+-", c));
        case CLASS_INT:
                return c >= '0' && c <= '9';
        case CLASS_HEX:
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                       c == 'x' || c == 'X';
        case CLASS_DIGEST:
                return is_alnum(c) || (c && strchr(":_.+-", c));
        case CLASS_PLATFORM:
                return is_alnum(c) || (c && strchr("/._-", c));
        case CLASS_IMAGE:
                return is_alnum(c) || (c && strchr("/._:@-", c));
        }
        return false;
}

static bool is_token_char(unsigned char c) {
        return is_alnum(c) || c == '/' || c == '-' || c == '_' || c == '.';
}

/* True for "{name=literal}": '=' comes before any ':' and the closing brace. */
static bool named_literal(const char *p) {
        size_t name = strcspn(p + 1, "=:}");
        return p[1 + name] == '=' && strchr(p + 1 + name, '}');
}

/* Splits a pattern into elements; literals are unescaped into lits. */
static int parse_pattern(const char *pattern, struct elem *elems, size_t *ret_n, char *lits,
                size_t lits_size, bool *ret_bound) {
        size_t n = 0, lo = 0;
        const char *p = pattern;
        *ret_bound = false;
        if (*p == '|') {
                *ret_bound = true;
                p++;
        }
        while (*p) {
                if (n == PATTERN_ELEMS)
                        return -E2BIG;
                struct elem *e = &elems[n];
                memset(e, 0, sizeof(*e));
                if (*p == '*') {
                        e->kind = ELEM_LAZY;
                        p++;
                } else if (*p == '{' && named_literal(p)) {
                        /* {name=literal}: a literal whose text is also captured */
                        const char *eq = strchr(p, '='), *close = strchr(p, '}');
                        snprintf(e->name, sizeof(e->name), "%.*s", (int) (eq - p - 1), p + 1);
                        e->kind = ELEM_LIT;
                        e->lit = lits + lo;
                        e->lit_len = (size_t) (close - eq - 1);
                        if (lo + e->lit_len >= lits_size)
                                return -E2BIG;
                        memcpy(lits + lo, eq + 1, e->lit_len);
                        lo += e->lit_len;
                        p = close + 1;
                } else if (*p == '{') {
                        const char *colon = strchr(p, ':'), *close = strchr(p, '}');
                        if (!colon || !close || colon > close)
                                return -EINVAL;
                        snprintf(e->name, sizeof(e->name), "%.*s", (int) (colon - p - 1), p + 1);
                        size_t cl = (size_t) (close - colon - 1);
                        const char *c = colon + 1;
                        static const struct {
                                const char *name;
                                enum char_class cls;
                        } classes[] = {
                                        {"path", CLASS_PATH},
                                        {"word", CLASS_WORD},
                                        {"int", CLASS_INT},
                                        {"hex", CLASS_HEX},
                                        {"digest", CLASS_DIGEST},
                                        {"platform", CLASS_PLATFORM},
                                        {"image", CLASS_IMAGE},
                        };
                        e->kind = ELEM_LAZY;
                        if (!(cl == 4 && memcmp(c, "text", 4) == 0)) {
                                size_t k;
                                for (k = 0; k < ELEMENTSOF(classes); k++)
                                        if (strlen(classes[k].name) == cl &&
                                                        memcmp(classes[k].name, c, cl) == 0)
                                                break;
                                if (k == ELEMENTSOF(classes))
                                        return -EINVAL;
                                e->kind = ELEM_CLASS;
                                e->cls = classes[k].cls;
                        }
                        p = close + 1;
                } else {
                        e->kind = ELEM_LIT;
                        e->lit = lits + lo;
                        while (*p && *p != '*' && *p != '{') {
                                if (*p == '\\' && p[1])
                                        p++;
                                if (lo + 1 >= lits_size)
                                        return -E2BIG;
                                lits[lo++] = *p++;
                        }
                        e->lit_len = (size_t) (lits + lo - e->lit);
                }
                n++;
        }
        *ret_n = n;
        return 0;
}

struct capture {
        const char *name;
        size_t start, len;
};

/* Captures lose trailing blanks, and the punctuation of the sentence around them. */
static size_t trim_len(const char *s, size_t len) {
        while (len > 0 && s[len - 1] != '\0' && strchr(" \t.,:", s[len - 1]))
                len--;
        return len;
}

/* Matches elems[k..] at line[pos..]; appends captures. */
static bool match_forward(const struct elem *elems, size_t n, size_t k, const char *line,
                size_t len, size_t pos, struct capture *caps, size_t *n_caps) {
        for (; k < n; k++) {
                const struct elem *e = &elems[k];
                size_t start = pos;
                switch (e->kind) {
                case ELEM_LIT:
                        if (len - pos < e->lit_len || memcmp(line + pos, e->lit, e->lit_len) != 0)
                                return false;
                        pos += e->lit_len;
                        break;
                case ELEM_CLASS:
                        while (pos < len && in_class(e->cls, (unsigned char) line[pos]))
                                pos++;
                        if (pos == start)
                                return false;
                        break;
                case ELEM_LAZY:
                        if (k + 1 < n) {
                                const struct elem *next = &elems[k + 1];
                                if (next->kind != ELEM_LIT)
                                        return false;
                                const char *at = memmem(
                                                line + pos, len - pos, next->lit, next->lit_len);
                                if (!at)
                                        return false;
                                pos = (size_t) (at - line);
                        } else
                                pos = len;
                        break;
                }
                if (e->name[0] && *n_caps < DIAG_VARS_MAX)
                        caps[(*n_caps)++] = (struct capture){e->name, start, pos - start};
        }
        return true;
}

bool diag_pattern_match(const char *pattern, const char *line, size_t len, struct diag_vars *vars,
                size_t *ret_start) {
        struct elem elems[PATTERN_ELEMS];
        char lits[PATTERN_LIT_MAX];
        size_t n;
        bool bound;
        if (parse_pattern(pattern, elems, &n, lits, sizeof(lits), &bound) < 0)
                return false;
        size_t first;
        for (first = 0; first < n && elems[first].kind != ELEM_LIT; first++)
                ;
        /* A pattern is a literal, optionally preceded by one class capture. */
        if (first == n || first > 1 || (first == 1 && elems[0].kind != ELEM_CLASS))
                return false;
        const struct elem *lit = &elems[first];
        size_t from = 0;
        for (unsigned tries = 0; tries < MATCH_TRIES_MAX && from < len; tries++) {
                const char *hit = memmem(line + from, len - from, lit->lit, lit->lit_len);
                if (!hit)
                        return false;
                size_t at = (size_t) (hit - line), start = at;
                from = at + 1;
                if (bound && at > 0 && is_token_char((unsigned char) line[at - 1]))
                        continue;
                struct capture caps[DIAG_VARS_MAX];
                size_t n_caps = 0;
                if (first == 1) {
                        while (start > 0 && in_class(elems[0].cls, (unsigned char) line[start - 1]))
                                start--;
                        if (start == at)
                                continue;
                        if (elems[0].name[0])
                                caps[n_caps++] = (struct capture){elems[0].name, start, at - start};
                }
                if (!match_forward(elems, n, first, line, len, at, caps, &n_caps))
                        continue;
                for (size_t i = 0; i < n_caps; i++) {
                        size_t l = trim_len(line + caps[i].start, caps[i].len);
                        if (l > 0 && vars)
                                diag_vars_set(vars, caps[i].name, line + caps[i].start, l);
                }
                if (ret_start)
                        *ret_start = start;
                return true;
        }
        return false;
}

/* ---- newline counting ---- */

uint64_t diag_count_newlines(const char *p, size_t len) {
        const uint64_t ones = 0x0101010101010101ull, low7 = 0x7f7f7f7f7f7f7f7full;
        uint64_t n = 0;
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                uint64_t x = w ^ (ones * '\n'); /* zero bytes where w has '\n' */
                uint64_t nonzero = ((x & low7) + low7) | x;
                /* one bit per zero byte, summed by the multiply into the top byte */
                n += (((~nonzero >> 7) & ones) * ones) >> 56;
        }
        for (; i < len; i++)
                n += p[i] == '\n';
        return n;
}

/* ---- prefilter: Wu-Manber with 3-byte blocks hashed to 16 bits ---- */

#define BLOCK 3

struct pf_entry {
        uint16_t hash;
        uint16_t literal;
};

struct diag_prefilter {
        size_t window; /* length of the shortest literal, at most 255 */
        size_t n;
        const char *literals[DIAG_ANCHORS_MAX];
        size_t lengths[DIAG_ANCHORS_MAX];
        struct pf_entry entries[DIAG_ANCHORS_MAX]; /* by hash of the window's last block */
        /* hash of a block -> how far the window may move; collisions only make it move less */
        uint16_t first_entry[65536]; /* 1 + index into entries, 0 = none */
        uint8_t shift[65536];
};

static inline unsigned block_hash(const unsigned char *p) {
        uint32_t b = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16;
        return (b * 2654435761u) >> 16; /* Knuth's multiplicative hash, top 16 bits */
}

static int entry_cmp(const void *a, const void *b) {
        const struct pf_entry *x = a, *y = b;
        if (x->hash != y->hash)
                return x->hash < y->hash ? -1 : 1;
        return x->literal < y->literal ? -1 : x->literal > y->literal;
}

int diag_prefilter_new(const char *const *literals, size_t n, struct diag_prefilter **ret) {
        if (n == 0 || n > DIAG_ANCHORS_MAX)
                return -EINVAL;
        _cleanup_free_ struct diag_prefilter *pf = calloc(1, sizeof(*pf));
        if (!pf)
                return -ENOMEM;
        size_t window = 255;
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(literals[i]);
                if (l < BLOCK)
                        return -EINVAL;
                if (l < window)
                        window = l;
                pf->literals[i] = literals[i];
                pf->lengths[i] = l;
        }
        pf->n = n;
        pf->window = window;
        memset(pf->shift, (int) (window - BLOCK + 1), sizeof(pf->shift));
        for (size_t i = 0; i < n; i++) {
                const unsigned char *lit = (const unsigned char *) literals[i];
                /* block ending at j: the window can move by window-1-j */
                for (size_t j = BLOCK - 1; j < window; j++) {
                        unsigned h = block_hash(lit + j - (BLOCK - 1));
                        if (pf->shift[h] > window - 1 - j)
                                pf->shift[h] = (uint8_t) (window - 1 - j);
                }
                pf->entries[i] = (struct pf_entry){
                                (uint16_t) block_hash(lit + window - BLOCK), (uint16_t) i};
        }
        qsort(pf->entries, n, sizeof(pf->entries[0]), entry_cmp);
        for (size_t i = n; i-- > 0;)
                pf->first_entry[pf->entries[i].hash] = (uint16_t) (i + 1);
        *ret = steal_ptr(pf);
        return 0;
}

void diag_prefilter_free(struct diag_prefilter *pf) {
        free(pf);
}

/* Scans text from `from`: returns the start of the first literal found (its index in
 * *ret_index) when stop_at_first, else ORs every literal found into *mask and returns -1. */
static long prefilter_scan(const struct diag_prefilter *pf, const char *text, size_t len,
                size_t from, bool stop_at_first, uint64_t *mask, size_t *ret_index) {
        const size_t window = pf->window;
        const unsigned char *t = (const unsigned char *) text;
        if (len < window || from > len - window)
                return -1;
        for (size_t pos = from + window - 1; pos < len;) {
                unsigned h = block_hash(t + pos - (BLOCK - 1));
                size_t s = pf->shift[h];
                if (s) {
                        pos += s;
                        continue;
                }
                size_t start = pos - (window - 1);
                for (size_t e = pf->first_entry[h];
                                e > 0 && e <= pf->n && pf->entries[e - 1].hash == h; e++) {
                        size_t lit = pf->entries[e - 1].literal;
                        const char *l = pf->literals[lit];
                        if (len - start >= pf->lengths[lit] && t[start] == (unsigned char) l[0] &&
                                        memcmp(t + start, l, pf->lengths[lit]) == 0) {
                                if (stop_at_first) {
                                        *ret_index = lit;
                                        return (long) start;
                                }
                                *mask |= UINT64_C(1) << lit;
                        }
                }
                pos++;
        }
        return -1;
}

long diag_prefilter_find(const struct diag_prefilter *pf, const char *text, size_t len, size_t from,
                size_t *ret_index) {
        size_t index = 0;
        long r = prefilter_scan(pf, text, len, from, true, NULL, &index);
        if (r >= 0 && ret_index)
                *ret_index = index;
        return r;
}

uint64_t diag_prefilter_mask(const struct diag_prefilter *pf, const char *text, size_t len) {
        uint64_t mask = 0;
        prefilter_scan(pf, text, len, 0, false, &mask, NULL);
        return mask;
}

/* ---- terminal escape sequences ---- */

enum {
        ANSI_TEXT = 0,
        ANSI_C2,      /* a 0xc2 in text: a C1 control may follow */
        ANSI_ESC,     /* after ESC */
        ANSI_NF,      /* ESC and intermediate bytes: up to a final byte */
        ANSI_CSI,     /* parameters and intermediates: up to a final byte */
        ANSI_STR,     /* OSC, DCS, SOS, PM, APC: up to BEL or ST */
        ANSI_STR_ESC, /* ESC inside a string: '\' ends it */
        ANSI_STR_C2,  /* 0xc2 inside a string: 0x9c (ST) ends it */
};

/* The second byte of a UTF-8 C1 control that opens a string: DCS, SOS, OSC, PM, APC. */
static bool c1_opens_string(unsigned char b) {
        return b == 0x90 || b == 0x98 || b == 0x9d || b == 0x9e || b == 0x9f;
}

size_t diag_ansi_strip(struct diag_ansi *st, const char *src, size_t len, char *dst) {
        const unsigned char *in = (const unsigned char *) src;
        unsigned state = st->state;
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char b = in[i];
        again:
                switch (state) {
                case ANSI_TEXT:
                        if (b == 0x1b)
                                state = ANSI_ESC;
                        else if (b == 0xc2)
                                state = ANSI_C2;
                        else
                                dst[o++] = (char) b;
                        break;
                case ANSI_C2:
                        if (b == 0x9b) {
                                state = ANSI_CSI;
                        } else if (c1_opens_string(b)) {
                                state = ANSI_STR;
                        } else {
                                dst[o++] = (char) 0xc2; /* text after all */
                                state = ANSI_TEXT;
                                goto again;
                        }
                        break;
                case ANSI_ESC:
                        if (b == '[') {
                                state = ANSI_CSI;
                        } else if (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_') {
                                state = ANSI_STR;
                        } else if (b >= 0x20 && b <= 0x2f) {
                                state = ANSI_NF;
                        } else if (b >= 0x30 && b <= 0x7e) {
                                state = ANSI_TEXT; /* a two-byte sequence: ESC 7, ESC M */
                        } else {
                                state = ANSI_TEXT; /* a lone ESC: dropped */
                                goto again;
                        }
                        break;
                case ANSI_NF:
                case ANSI_CSI:
                        if (b >= 0x20 && b <= (state == ANSI_CSI ? 0x3f : 0x2f)) {
                                /* parameters, intermediates */
                        } else if (b >= 0x30 && b <= 0x7e) {
                                state = ANSI_TEXT; /* the final byte */
                        } else {
                                state = ANSI_TEXT; /* broken: the byte is text */
                                goto again;
                        }
                        break;
                case ANSI_STR:
                        if (b == 0x07)
                                state = ANSI_TEXT;
                        else if (b == 0x1b)
                                state = ANSI_STR_ESC;
                        else if (b == 0xc2)
                                state = ANSI_STR_C2;
                        else if (b == '\n') {
                                state = ANSI_TEXT; /* unterminated: ends with its line */
                                goto again;
                        }
                        break;
                case ANSI_STR_ESC:
                        if (b == '\\') {
                                state = ANSI_TEXT;
                        } else {
                                state = ANSI_ESC; /* another sequence starts */
                                goto again;
                        }
                        break;
                case ANSI_STR_C2:
                        if (b == 0x9c) {
                                state = ANSI_TEXT;
                        } else {
                                state = ANSI_STR;
                                goto again;
                        }
                        break;
                }
        }
        st->state = (uint8_t) state;
        return o;
}

size_t diag_ansi_finish(struct diag_ansi *st, char *dst) {
        bool held = st->state == ANSI_C2;
        st->state = ANSI_TEXT;
        if (held)
                dst[0] = (char) 0xc2;
        return held ? 1 : 0;
}

/* ---- the matcher ---- */

struct record {
        const struct diag_signature *sig;
        struct diag_vars vars;
        uint64_t n_lines, last_line;
        size_t n_matches;
        struct xarch_diagnose_match matches[XARCH_DIAGNOSE_MATCHES_MAX];
        char *cause, *fix;
        struct xarch_diagnose_var public_vars[DIAG_VARS_MAX];
};

struct xarch_diagnose {
        struct diag_prefilter *prefilter;
        uint8_t (*anchor_of)[DIAG_PATTERNS_MAX]; /* per signature and pattern */
        char *carry;
        size_t carry_len;
        struct diag_ansi ansi;
        char *plain; /* input without escape sequences, ANSI_PIECE + 1 bytes, made when needed */
        uint64_t bytes, lines, dropped;
        struct record *records;
        size_t n_records;
        bool finished;
        struct xarch_diagnose_finding *findings;
        size_t n_findings;
};

static struct xarch_diagnose_signature public_table[64];
static size_t public_n;
static pthread_once_t public_once = PTHREAD_ONCE_INIT;

static void fill_public_table(void) {
        size_t k = diag_n_signatures < ELEMENTSOF(public_table) ? diag_n_signatures
                                                                : ELEMENTSOF(public_table);
        for (size_t i = 0; i < k; i++)
                public_table[i] = (struct xarch_diagnose_signature){diag_signatures[i].id,
                                diag_signatures[i].title, diag_signatures[i].kind};
        public_n = k;
}

const struct xarch_diagnose_signature *xarch_diagnose_signatures(size_t *ret_n) {
        pthread_once(&public_once, fill_public_table);
        if (ret_n)
                *ret_n = public_n;
        return public_table;
}

static void diagnose_freep(struct xarch_diagnose **d) {
        xarch_diagnose_free(*d);
}

int xarch_diagnose_new(struct xarch_diagnose **ret, struct xarch_error **err) {
        _cleanup_(diagnose_freep) struct xarch_diagnose *d = calloc(1, sizeof(*d));
        if (!d)
                return xarch_error_set(err, ENOMEM, "out of memory");
        d->anchor_of = calloc(diag_n_signatures, sizeof(*d->anchor_of));
        d->carry = malloc(CARRY_MAX);
        d->records = calloc(XARCH_DIAGNOSE_FINDINGS_MAX, sizeof(*d->records));
        if (!d->anchor_of || !d->carry || !d->records)
                return xarch_error_set(err, ENOMEM, "out of memory");
        const char *anchors[DIAG_ANCHORS_MAX];
        size_t n_anchors = 0;
        for (size_t s = 0; s < diag_n_signatures; s++)
                for (size_t p = 0; p < DIAG_PATTERNS_MAX && diag_signatures[s].patterns[p].pattern;
                                p++) {
                        const char *a = diag_signatures[s].patterns[p].anchor;
                        size_t k;
                        for (k = 0; k < n_anchors; k++)
                                if (streq(anchors[k], a))
                                        break;
                        if (k == n_anchors) {
                                if (n_anchors == DIAG_ANCHORS_MAX)
                                        return xarch_error_set(err, E2BIG, "too many anchors");
                                anchors[n_anchors++] = a;
                        }
                        d->anchor_of[s][p] = (uint8_t) k;
                }
        int r = diag_prefilter_new(anchors, n_anchors, &d->prefilter);
        if (r < 0)
                return xarch_error_set(err, -r, "cannot build the signature prefilter");
        *ret = steal_ptr(d);
        return 0;
}

static void free_results(struct xarch_diagnose *d) {
        free(d->findings);
        d->findings = NULL;
        d->n_findings = 0;
}

void xarch_diagnose_free(struct xarch_diagnose *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_records; i++) {
                struct record *rec = &d->records[i];
                for (size_t m = 0; m < rec->n_matches; m++)
                        free((char *) rec->matches[m].text);
                free(rec->cause);
                free(rec->fix);
        }
        free_results(d);
        free(d->records);
        free(d->carry);
        free(d->plain);
        free(d->anchor_of);
        diag_prefilter_free(d->prefilter);
        free(d);
}

static bool same_vars(const struct diag_vars *a, const struct diag_vars *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->v[i].name, b->v[i].name) ||
                                !streq(diag_vars_get(a, a->v[i].name),
                                                diag_vars_get(b, b->v[i].name)))
                        return false;
        return true;
}

/* The line for display: whole when short, else a window starting a little before the match. */
static char *display_text(const char *line, size_t len, size_t match_start) {
        char buf[XARCH_DIAGNOSE_TEXT_MAX + 1];
        size_t o = 0, start = 0;
        if (len > XARCH_DIAGNOSE_TEXT_MAX && match_start > TEXT_LEAD) {
                start = match_start - TEXT_LEAD;
                while (start > 0 && ((unsigned char) line[start] & 0xc0) == 0x80)
                        start--;
                memcpy(buf, "...", 3);
                o = 3;
        }
        diag_sanitize(line + start, len - start, buf + o, sizeof(buf) - o);
        return strdup(buf);
}

static void record_match(struct xarch_diagnose *d, const struct diag_signature *sig,
                const struct diag_vars *vars, const char *line, size_t len, size_t match_start,
                uint64_t line_no) {
        struct record *rec = NULL;
        for (size_t i = 0; i < d->n_records; i++)
                if (d->records[i].sig == sig && same_vars(&d->records[i].vars, vars)) {
                        rec = &d->records[i];
                        break;
                }
        if (!rec) {
                if (d->n_records == XARCH_DIAGNOSE_FINDINGS_MAX) {
                        d->dropped++;
                        return;
                }
                rec = &d->records[d->n_records++];
                memset(rec, 0, sizeof(*rec));
                rec->sig = sig;
                rec->vars = *vars;
        }
        if (rec->n_lines > 0 && rec->last_line == line_no)
                return;
        rec->n_lines++;
        rec->last_line = line_no;
        if (rec->n_matches < XARCH_DIAGNOSE_MATCHES_MAX) {
                char *text = display_text(line, len, match_start);
                if (text)
                        rec->matches[rec->n_matches++] =
                                        (struct xarch_diagnose_match){line_no, text};
        }
}

static void process_line(struct xarch_diagnose *d, const char *line, size_t len, uint64_t line_no) {
        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len > XARCH_DIAGNOSE_LINE_MAX)
                len = XARCH_DIAGNOSE_LINE_MAX;
        uint64_t mask = diag_prefilter_mask(d->prefilter, line, len);
        if (!mask)
                return;
        for (size_t s = 0; s < diag_n_signatures; s++) {
                const struct diag_signature *sig = &diag_signatures[s];
                for (size_t p = 0; p < DIAG_PATTERNS_MAX && sig->patterns[p].pattern; p++) {
                        if (!(mask & (UINT64_C(1) << d->anchor_of[s][p])))
                                continue;
                        struct diag_vars vars = {0};
                        size_t start = 0;
                        if (!diag_pattern_match(sig->patterns[p].pattern, line, len, &vars, &start))
                                continue;
                        if (sig->derive && !sig->derive(&vars))
                                continue;
                        record_match(d, sig, &vars, line, len, start, line_no);
                        break; /* one pattern per signature and line */
                }
        }
}

/* Complete lines only: region ends with '\n'. */
static void scan_region(struct xarch_diagnose *d, const char *region, size_t len) {
        size_t counted = 0, index;
        long hit;
        while ((hit = diag_prefilter_find(d->prefilter, region, len, counted, &index)) >= 0) {
                size_t at = (size_t) hit;
                const char *nl = memrchr(region + counted, '\n', at - counted);
                size_t line_start = nl ? (size_t) (nl - region) + 1 : counted;
                d->lines += diag_count_newlines(region + counted, line_start - counted);
                const char *end = memchr(region + at, '\n', len - at);
                size_t line_end = end ? (size_t) (end - region) : len;
                process_line(d, region + line_start, line_end - line_start, d->lines + 1);
                d->lines++;
                counted = line_end + 1;
                if (counted >= len)
                        return;
        }
        d->lines += diag_count_newlines(region + counted, len - counted);
}

static void carry_append(struct xarch_diagnose *d, const char *p, size_t n) {
        size_t room = CARRY_MAX - d->carry_len;
        if (n > room)
                n = room;
        memcpy(d->carry + d->carry_len, p, n);
        d->carry_len += n;
}

/* Bytes without escape sequences: lines are cut, carried and matched. */
static void feed_plain(struct xarch_diagnose *d, const char *p, size_t len) {
        /* A line carried from the previous chunk is completed first; carry_len > 0 marks it
         * (a carried line always holds at least one byte). */
        if (d->carry_len > 0 && len > 0) {
                const char *nl = memchr(p, '\n', len);
                size_t take = nl ? (size_t) (nl - p) : len;
                carry_append(d, p, take);
                if (!nl)
                        return;
                process_line(d, d->carry, d->carry_len, d->lines + 1);
                d->lines++;
                d->carry_len = 0;
                p += take + 1;
                len -= take + 1;
        }
        const char *last = len > 0 ? memrchr(p, '\n', len) : NULL;
        if (last) {
                size_t region = (size_t) (last - p) + 1;
                scan_region(d, p, region);
                p += region;
                len -= region;
        }
        if (len > 0)
                carry_append(d, p, len);
}

int xarch_diagnose_feed(
                struct xarch_diagnose *d, const void *buf, size_t len, struct xarch_error **err) {
        if (d->finished)
                return xarch_error_set(err, EINVAL, "diagnose: input fed after the end");
        const char *p = buf;
        d->bytes += len;
        /* Most logs hold no escape sequence: they are matched in place, uncopied. */
        if (d->ansi.state == ANSI_TEXT && !memchr(p, 0x1b, len) && !memchr(p, 0xc2, len)) {
                feed_plain(d, p, len);
                return 0;
        }
        if (!d->plain && !(d->plain = malloc(ANSI_PIECE + 1)))
                return xarch_error_set(err, ENOMEM, "out of memory");
        while (len > 0) {
                size_t n = len < ANSI_PIECE ? len : ANSI_PIECE;
                feed_plain(d, d->plain, diag_ansi_strip(&d->ansi, p, n, d->plain));
                p += n;
                len -= n;
        }
        return 0;
}

int xarch_diagnose_feed_fd(struct xarch_diagnose *d, int fd, struct xarch_error **err) {
        _cleanup_free_ char *buf = malloc(READ_CHUNK);
        if (!buf)
                return xarch_error_set(err, ENOMEM, "out of memory");
        for (;;) {
                ssize_t n = read(fd, buf, READ_CHUNK);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return xarch_error_set(err, errno, "read error: %s", strerror(errno));
                }
                if (n == 0)
                        return 0;
                int r = xarch_diagnose_feed(d, buf, (size_t) n, err);
                if (r < 0)
                        return r;
        }
}

/* Variables that may fill another finding's text: the foreign architecture, the host's, the
 * image. Names of programs or loaders belong to their own finding only. */
static bool shared_var(const char *name) {
        return streq(name, "arch") || streq(name, "host_arch") || streq(name, "image");
}

static int add_finding(
                struct xarch_diagnose *d, struct record *rec, const struct diag_vars *shared) {
        char text[DIAG_TEMPLATE_MAX];
        diag_render(rec->sig->cause, &rec->vars, shared, text, sizeof(text));
        rec->cause = strdup(text);
        diag_render(rec->sig->fix, &rec->vars, shared, text, sizeof(text));
        rec->fix = strdup(text);
        if (!rec->cause || !rec->fix)
                return -ENOMEM;
        size_t nv = 0;
        for (size_t k = 0; k < rec->vars.n; k++)
                if (rec->vars.v[k].name[0] != '_')
                        rec->public_vars[nv++] = (struct xarch_diagnose_var){rec->vars.v[k].name,
                                        diag_vars_get(&rec->vars, rec->vars.v[k].name)};
        d->findings[d->n_findings++] = (struct xarch_diagnose_finding){
                        .id = rec->sig->id,
                        .title = rec->sig->title,
                        .kind = rec->sig->kind,
                        .cause = rec->cause,
                        .fix = rec->fix,
                        .n_lines = rec->n_lines,
                        .n_matches = rec->n_matches,
                        .matches = rec->matches,
                        .n_vars = nv,
                        .vars = rec->public_vars,
        };
        return 0;
}

int xarch_diagnose_finish(struct xarch_diagnose *d, struct xarch_error **err) {
        if (d->finished)
                return (int) d->n_findings;
        char held[1];
        feed_plain(d, held, diag_ansi_finish(&d->ansi, held));
        if (d->carry_len > 0) {
                process_line(d, d->carry, d->carry_len, d->lines + 1);
                d->lines++;
                d->carry_len = 0;
        }
        d->finished = true;

        bool strong = false;
        for (size_t i = 0; i < d->n_records; i++)
                if (d->records[i].sig->kind == XARCH_DIAGNOSE_FAILURE && !d->records[i].sig->weak)
                        strong = true;
        if (!strong)
                return 0;

        struct diag_vars shared = {0};
        for (size_t i = 0; i < d->n_records; i++) {
                const struct diag_vars *v = &d->records[i].vars;
                for (size_t k = 0; k < v->n; k++)
                        if (shared_var(v->v[k].name) && !diag_vars_get(&shared, v->v[k].name))
                                diag_vars_set(&shared, v->v[k].name, v->v[k].value,
                                                strlen(v->v[k].value));
        }

        d->findings = calloc(d->n_records ? d->n_records : 1, sizeof(*d->findings));
        if (!d->findings)
                return xarch_error_set(err, ENOMEM, "out of memory");
        /* Records were created in the order of their first line: failures in that order, then
         * the context symptoms. */
        for (size_t pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < d->n_records; i++) {
                        struct record *rec = &d->records[i];
                        if ((rec->sig->kind == XARCH_DIAGNOSE_CONTEXT) != (pass == 1))
                                continue;
                        int r = add_finding(d, rec, &shared);
                        if (r < 0) {
                                free_results(d);
                                return xarch_error_set(err, -r, "out of memory");
                        }
                }
        return (int) d->n_findings;
}

const struct xarch_diagnose_finding *xarch_diagnose_findings(
                const struct xarch_diagnose *d, size_t *ret_n) {
        if (ret_n)
                *ret_n = d->n_findings;
        return d->findings;
}

void xarch_diagnose_get_stats(const struct xarch_diagnose *d, struct xarch_diagnose_stats *ret) {
        *ret = (struct xarch_diagnose_stats){
                        .bytes = d->bytes,
                        .lines = d->lines + (d->carry_len > 0 ? 1 : 0),
                        .dropped_lines = d->dropped,
        };
}
