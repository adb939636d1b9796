/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ring.h"
#include "binary/reader.h"
#include "image/decompress.h"
#include "macro.h"
#include "image/rootfs.h"
#include "image/tar.h"
#include "xarch/digest.h"
#include "xarch/layer.h"

/* Bytes kept after a Go build-info magic found in a large file. */
#define GO_WINDOW 65536u
/* Largest ELF section header table captured from a large file. */
#define SHDR_MAX (1024u * 1024)

/* Ranges the ELF headers point at, captured as they pass: each at most this much ... */
#define PLAN_WINDOW_MAX (64u * 1024)
/* ... in a pool of this size, at most this many. */
#define PLAN_POOL    (128u * 1024)
#define PLAN_WINDOWS 32
/* Sections whose first bytes the engine may scan for strings (.rodata, found by name only at the
 * end), scanned as they pass: at most this many, each once per scan kind. */
#define SCAN_SECTIONS 6
#define SCAN_KINDS    2

_Static_assert(XARCH_LAYER_HEAD_MAX + XARCH_LAYER_TAIL_MAX + SHDR_MAX + GO_WINDOW + 4 * 64 +
                                                PLAN_POOL +
                                                SCAN_SECTIONS * SCAN_KINDS * FILE_SCRATCH_SIZE <=
                                XARCH_LAYER_FULL_MAX,
                "the windows of a large file fit in the capture arena");

static const char go_buildinfo_magic[] = "\xff Go buildinf:";
#define GO_MAGIC_LEN (sizeof(go_buildinfo_magic) - 1)
/* Bytes kept from a Go pclntab header candidate, and how many candidates. */
#define PCLNTAB_HEADER  8
#define PCLNTAB_WINDOW  64u
#define PCLNTAB_WINDOWS 4
/* Longest marker - 1, rounded up: bytes of the previous chunk kept to find markers across. */
#define CARRY_MAX 16

/* One captured byte range of a large file. */
struct window {
        uint64_t off;
        size_t len; /* wanted */
        uint8_t *buf;
        bool set;
};

enum capture_state {
        CAPTURE_NONE,  /* not a regular file, or not interesting */
        CAPTURE_SNIFF, /* collecting the first bytes to see whether it looks executable */
        CAPTURE_FULL,  /* buffering the whole file */
        CAPTURE_RANGES /* a large file: head, section headers, Go build info, tail */
};

/* Inflate and analysis overlap: the decompressor (on the fetching thread) fills a bounded ring
 * (base/ring.h) that a second thread drains into the tar reader and the file engine, so a layer
 * costs max(inflate, analysis) rather than their sum. At most PIPE_SLOTS * PIPE_SLOT_SIZE bytes
 * are in flight. */
#define PIPE_SLOTS     8
#define PIPE_SLOT_SIZE (256u * 1024)

struct xarch_layer_scanner {
        struct ring *pipe; /* NULL: tar and analysis run on the feeding thread */
        struct decompressor *dec;
        /* SHA-256 of the decompressed stream; the analysis thread's while it runs */
        struct xarch_digester *diff_id;
        struct tar_reader *tar;
        struct xarch_file_analyzer *analyzer;
        struct xarch_layer *layer;
        size_t cap_entries;
        struct xarch_error *cb_err; /* error raised inside a callback */
        bool failed;

        /* the current entry's capture */
        enum capture_state state;
        uint64_t size, pos;
        uint8_t sniff[4];
        size_t n_sniff;
        uint8_t *arena; /* XARCH_LAYER_FULL_MAX bytes, allocated on the first candidate */
        struct window head, tail, shdr, go;
        struct window pcl[PCLNTAB_WINDOWS];
        size_t n_pcl;
        /* ranges planned from the ELF program and section headers, and the string scans */
        struct window plan[PLAN_WINDOWS];
        size_t n_plan, plan_used;
        uint8_t *plan_pool, *scan_bufs;
        bool phdrs_planned, shdrs_planned;
        struct range_scan scans[SCAN_SECTIONS * SCAN_KINDS];
        size_t n_scans;
        uint8_t carry[CARRY_MAX];
        size_t n_carry;
};

/* Where the tar callbacks and the file engine put their errors: the consumer thread's own slot
 * while the stages overlap, so that the two threads never write the same error. */
static struct xarch_error **analysis_err(struct xarch_layer_scanner *s) {
        return s->pipe ? ring_consumer_error(s->pipe) : &s->cb_err;
}

static bool looks_executable(const uint8_t *p, size_t n) {
        if (n >= 2 && ((p[0] == '#' && p[1] == '!') || (p[0] == 'M' && p[1] == 'Z')))
                return true;
        if (n < 4)
                return false;
        if (memcmp(p, "\177ELF", 4) == 0)
                return true;
        static const uint8_t macho[][4] = {
                        {0xfe, 0xed, 0xfa, 0xce},
                        {0xfe, 0xed, 0xfa, 0xcf},
                        {0xce, 0xfa, 0xed, 0xfe},
                        {0xcf, 0xfa, 0xed, 0xfe},
                        {0xca, 0xfe, 0xba, 0xbe},
        };
        for (size_t i = 0; i < ELEMENTSOF(macho); i++)
                if (memcmp(p, macho[i], 4) == 0)
                        return true;
        return false;
}

static int scanner_fail(struct xarch_layer_scanner *s, int code, const char *msg) {
        return xarch_error_set(analysis_err(s), code, "%s", msg);
}

static int add_entry(struct xarch_layer_scanner *s, const struct tar_entry *e) {
        struct xarch_layer *l = s->layer;
        if (l->n_entries >= XARCH_LAYER_ENTRIES_MAX)
                return scanner_fail(s, EFBIG, "layer has too many entries");
        if (l->n_entries == s->cap_entries) {
                size_t cap = s->cap_entries ? s->cap_entries * 2 : 256;
                struct xarch_layer_entry *n = realloc(l->entries, cap * sizeof(*n));
                if (!n)
                        return scanner_fail(s, ENOMEM, "out of memory");
                l->entries = n;
                s->cap_entries = cap;
        }
        struct xarch_layer_entry *out = &l->entries[l->n_entries];
        memset(out, 0, sizeof(*out));
        int r = rootfs_normalize_path(e->path, &out->path);
        if (r < 0)
                return xarch_error_set(analysis_err(s), -r, "bad path in layer: %.200s", e->path);
        switch (e->type) {
        case TAR_FILE:
        case TAR_CONTIGUOUS:
                out->type = XARCH_LAYER_FILE;
                break;
        case TAR_DIRECTORY:
                out->type = XARCH_LAYER_DIR;
                break;
        case TAR_SYMLINK:
                out->type = XARCH_LAYER_SYMLINK;
                /* A pax linkpath may be 1 MiB: kept for every entry, that would be unbounded
                 * memory. Linux refuses targets of PATH_MAX or more, so appliers fail too. */
                if (strnlen(e->linkpath, ROOTFS_PATH_MAX) >= ROOTFS_PATH_MAX)
                        r = -ENAMETOOLONG;
                else if (!(out->link = strdup(e->linkpath)))
                        r = -ENOMEM;
                break;
        case TAR_HARDLINK:
                out->type = XARCH_LAYER_HARDLINK;
                r = rootfs_normalize_path(e->linkpath, &out->link);
                break;
        default:
                out->type = XARCH_LAYER_OTHER;
                break;
        }
        out->mode = e->mode;
        out->size = out->type == XARCH_LAYER_FILE ? e->size : 0;
        l->n_entries++; /* owned by the layer from here on, even on failure */
        if (r < 0)
                return xarch_error_set(analysis_err(s), -r, "bad link in layer: %.200s", e->path);
        return 0;
}

static int on_entry(const struct tar_entry *e, void *userdata) {
        struct xarch_layer_scanner *s = userdata;
        s->state = CAPTURE_NONE;
        if (e->path[0] == '\0')
                return 0;
        int r = add_entry(s, e);
        if (r < 0)
                return r;
        struct xarch_layer_entry *out = &s->layer->entries[s->layer->n_entries - 1];
        if (out->type != XARCH_LAYER_FILE || e->size == 0 || out->path[0] == '\0')
                return 0;
        s->state = CAPTURE_SNIFF;
        s->size = e->size;
        s->pos = 0;
        s->n_sniff = 0;
        return 1;
}

/* Copies the part of [pos, pos+len) that falls into w. */
static void window_write(struct window *w, uint64_t pos, const uint8_t *buf, size_t len) {
        if (!w->set || pos + len <= w->off || pos >= w->off + w->len)
                return;
        uint64_t from = pos > w->off ? pos : w->off;
        uint64_t to = pos + len < w->off + w->len ? pos + len : w->off + w->len;
        memcpy(w->buf + (from - w->off), buf + (from - pos), (size_t) (to - from));
}

static uint64_t get_uint(const uint8_t *p, size_t n, bool be) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t) p[be ? n - 1 - i : i] << (8 * i);
        return v;
}

/* Once the head holds the ELF header: where the section header table is. */
static void plan_shdr(struct xarch_layer_scanner *s) {
        const uint8_t *h = s->head.buf;
        if (memcmp(h, "\177ELF", 4) != 0)
                return;
        bool is64 = h[4] == 2, be = h[5] == 2;
        uint64_t shoff, entsize, num;
        if (is64) {
                shoff = get_uint(h + 0x28, 8, be);
                entsize = get_uint(h + 0x3a, 2, be);
                num = get_uint(h + 0x3c, 2, be);
        } else {
                shoff = get_uint(h + 0x20, 4, be);
                entsize = get_uint(h + 0x2e, 2, be);
                num = get_uint(h + 0x30, 2, be);
        }
        uint64_t len = entsize * num;
        if (shoff == 0 || len == 0 || len > SHDR_MAX || shoff >= s->size || len > s->size - shoff)
                return;
        if (shoff + len <= s->head.len || shoff >= s->tail.off)
                return; /* already inside the head or the tail */
        s->shdr.off = shoff;
        s->shdr.len = (size_t) len;
        s->shdr.set = true;
}

/* A Go pclntab header: magic (go1.2 0xfffffffb, go1.16 0xfffffffa, go1.18 0xfffffff0, go1.20
 * 0xfffffff1, little-endian here), two zero bytes, the instruction size quantum, the pointer
 * size. */
static bool pclntab_at(const uint8_t *p, size_t avail) {
        if (avail < PCLNTAB_HEADER)
                return false;
        return (p[0] == 0xf0 || p[0] == 0xf1 || p[0] == 0xfa || p[0] == 0xfb) && p[1] == 0xff &&
               p[2] == 0xff && p[3] == 0xff && p[4] == 0 && p[5] == 0 &&
               (p[6] == 1 || p[6] == 2 || p[6] == 4) && (p[7] == 4 || p[7] == 8);
}

static struct window *new_window(
                struct xarch_layer_scanner *s, struct window *w, uint64_t off, size_t len) {
        w->off = off;
        w->len = off + len > s->size ? (size_t) (s->size - off) : len;
        w->set = true;
        return w;
}

/* Finds markers in bytes that start at stream position base and opens windows at them. */
static void find_markers(struct xarch_layer_scanner *s, uint64_t base, const uint8_t *p, size_t n) {
        if (!s->go.set) {
                const uint8_t *m = memmem(p, n, go_buildinfo_magic, GO_MAGIC_LEN);
                if (m) {
                        new_window(s, &s->go, base + (uint64_t) (m - p), GO_WINDOW);
                        window_write(&s->go, base, p, n);
                }
        }
        const uint8_t *q = p;
        while (s->n_pcl < PCLNTAB_WINDOWS && q < p + n) {
                const uint8_t *m = memmem(q, (size_t) (p + n - q), "\xff\xff\xff\0\0", 5);
                if (!m)
                        break;
                q = m + 1;
                if (m == p || !pclntab_at(m - 1, (size_t) (p + n - m + 1)))
                        continue;
                uint64_t off = base + (uint64_t) (m - 1 - p);
                bool seen = false;
                for (size_t i = 0; i < s->n_pcl; i++)
                        seen |= s->pcl[i].off == off;
                if (seen)
                        continue;
                struct window *w = new_window(s, &s->pcl[s->n_pcl++], off, PCLNTAB_WINDOW);
                window_write(w, base, p, n);
        }
}

/* Looks for markers across chunk boundaries too: the seam is the end of the previous chunk
 * (carry) followed by the start of this one. */
static void scan_markers(
                struct xarch_layer_scanner *s, uint64_t pos, const uint8_t *buf, size_t len) {
        if (s->n_carry > 0) {
                uint8_t seam[2 * CARRY_MAX];
                size_t take = len < CARRY_MAX ? len : CARRY_MAX;
                memcpy(seam, s->carry, s->n_carry);
                memcpy(seam + s->n_carry, buf, take);
                find_markers(s, pos - s->n_carry, seam, s->n_carry + take);
        }
        find_markers(s, pos, buf, len);
        /* keep the last CARRY_MAX bytes seen for the next seam */
        if (len >= CARRY_MAX) {
                memcpy(s->carry, buf + len - CARRY_MAX, CARRY_MAX);
                s->n_carry = CARRY_MAX;
        } else {
                size_t total = s->n_carry + len;
                size_t drop = total > CARRY_MAX ? total - CARRY_MAX : 0;
                memmove(s->carry, s->carry + drop, s->n_carry - drop);
                memcpy(s->carry + s->n_carry - drop, buf, len);
                s->n_carry = total - drop;
        }
}

/* Bytes of [off, off+len) that the head already holds or that are still to come: a range that
 * began in a part already gone cannot be captured. */
static bool plan_reachable(struct xarch_layer_scanner *s, uint64_t chunk_pos, uint64_t off) {
        return off >= chunk_pos || chunk_pos <= s->head.len;
}

/* A window over [off, off+len) from the plan pool, filled from the head as far as it already
 * passed; nothing when the head holds it whole, the range is gone, or the pool is spent. */
static void plan_window(
                struct xarch_layer_scanner *s, uint64_t chunk_pos, uint64_t off, uint64_t len) {
        if (len > PLAN_WINDOW_MAX)
                len = PLAN_WINDOW_MAX;
        if (off >= s->size || len == 0)
                return;
        if (len > s->size - off)
                len = s->size - off;
        if (off + len <= s->head.len || !plan_reachable(s, chunk_pos, off))
                return;
        if (s->n_plan == PLAN_WINDOWS || len > PLAN_POOL - s->plan_used)
                return;
        struct window *w = &s->plan[s->n_plan++];
        *w = (struct window){off, (size_t) len, s->plan_pool + s->plan_used, true};
        s->plan_used += (size_t) len;
        if (off < chunk_pos)
                window_write(w, 0, s->head.buf, (size_t) chunk_pos);
}

/* Once the head holds the program headers: the segments the engine reads (PT_INTERP,
 * PT_DYNAMIC, PT_NOTE, and the first writable PT_LOAD where Go keeps its build info). */
static void plan_phdrs(struct xarch_layer_scanner *s, uint64_t chunk_pos, bool is64, bool be,
                uint64_t phoff, uint64_t phentsize, uint64_t phnum) {
        bool rw_seen = false;
        for (uint64_t i = 0; i < phnum; i++) {
                const uint8_t *p = s->head.buf + phoff + i * phentsize;
                uint32_t type = (uint32_t) get_uint(p, 4, be), flags;
                uint64_t off, filesz;
                if (is64) {
                        flags = (uint32_t) get_uint(p + 4, 4, be);
                        off = get_uint(p + 8, 8, be), filesz = get_uint(p + 32, 8, be);
                } else {
                        off = get_uint(p + 4, 4, be), filesz = get_uint(p + 16, 4, be);
                        flags = (uint32_t) get_uint(p + 24, 4, be);
                }
                if (type == 3 /* PT_INTERP */ || type == 4 /* PT_NOTE */)
                        plan_window(s, chunk_pos, off, filesz > 4096 ? 4096 : filesz);
                else if (type == 2 /* PT_DYNAMIC */)
                        plan_window(s, chunk_pos, off, filesz > 16384 ? 16384 : filesz);
                else if (type == 1 /* PT_LOAD */ && !rw_seen && (flags & 2) && !(flags & 1)) {
                        rw_seen = true;
                        plan_window(s, chunk_pos, off,
                                        filesz > FILE_SCRATCH_SIZE ? FILE_SCRATCH_SIZE : filesz);
                }
        }
}

/* Once the head holds the section headers (Go's linker writes them first): the first bytes of
 * each section the engine may read (notes, .comment, .ARM.attributes, Go's sections), and the
 * string scans of every read-only data section, since which one is .rodata shows only in the
 * name table at the end of the file. */
static void plan_shdrs(struct xarch_layer_scanner *s, uint64_t chunk_pos, bool is64, bool be,
                uint64_t shoff, uint64_t shentsize, uint64_t shnum) {
        for (uint64_t i = 1; i < shnum; i++) {
                const uint8_t *p = s->head.buf + shoff + i * shentsize;
                uint32_t type = (uint32_t) get_uint(p + 4, 4, be);
                uint64_t flags, off, size;
                if (is64) {
                        flags = get_uint(p + 8, 8, be);
                        off = get_uint(p + 24, 8, be), size = get_uint(p + 32, 8, be);
                } else {
                        flags = get_uint(p + 8, 4, be);
                        off = get_uint(p + 16, 4, be), size = get_uint(p + 20, 4, be);
                }
                if (type == 8 /* SHT_NOBITS */ || size == 0)
                        continue;
                plan_window(s, chunk_pos, off, size > 4096 ? 4096 : size);
                /* SHT_PROGBITS, SHF_ALLOC, neither SHF_WRITE nor SHF_EXECINSTR */
                if (type != 1 || (flags & 7) != 2 || s->n_scans + SCAN_KINDS > ELEMENTSOF(s->scans))
                        continue;
                if (off >= s->size || !plan_reachable(s, chunk_pos, off))
                        continue;
                for (int k = 0; k < SCAN_KINDS; k++) {
                        struct range_scan *rs = &s->scans[s->n_scans];
                        range_scan_init(rs, (enum xarch_file_scan_kind) k, off, size, s->size,
                                        s->scan_bufs + s->n_scans * FILE_SCRATCH_SIZE);
                        s->n_scans++;
                        if (off < chunk_pos)
                                range_scan_feed(rs, 0, s->head.buf, (size_t) chunk_pos);
                }
        }
}

/* Plans what the headers point at, as soon as the head holds them (before this chunk at
 * chunk_pos is written to the windows). */
static void plan_from_headers(struct xarch_layer_scanner *s, uint64_t chunk_pos) {
        const uint8_t *h = s->head.buf;
        uint64_t have = s->pos < s->head.len ? s->pos : s->head.len;
        if (have < 64 || memcmp(h, "\177ELF", 4) != 0 || (h[4] != 1 && h[4] != 2)) {
                if (have >= 64)
                        s->phdrs_planned = s->shdrs_planned = true;
                return;
        }
        bool is64 = h[4] == 2, be = h[5] == 2;
        uint64_t phoff, phentsize, phnum, shoff, shentsize, shnum;
        if (is64) {
                phoff = get_uint(h + 0x20, 8, be), phentsize = get_uint(h + 0x36, 2, be);
                phnum = get_uint(h + 0x38, 2, be), shoff = get_uint(h + 0x28, 8, be);
                shentsize = get_uint(h + 0x3a, 2, be), shnum = get_uint(h + 0x3c, 2, be);
        } else {
                phoff = get_uint(h + 0x1c, 4, be), phentsize = get_uint(h + 0x2a, 2, be);
                phnum = get_uint(h + 0x2c, 2, be), shoff = get_uint(h + 0x20, 4, be);
                shentsize = get_uint(h + 0x2e, 2, be), shnum = get_uint(h + 0x30, 2, be);
        }
        if (!s->phdrs_planned) {
                uint64_t need = is64 ? 56 : 32;
                if (phnum == 0 || phentsize < need || phoff > s->head.len ||
                                phnum * phentsize > s->head.len - phoff)
                        s->phdrs_planned = true; /* not in the head: the engine says so */
                else if (have >= phoff + phnum * phentsize) {
                        plan_phdrs(s, chunk_pos, is64, be, phoff, phentsize, phnum);
                        s->phdrs_planned = true;
                }
        }
        if (!s->shdrs_planned) {
                uint64_t need = is64 ? 64 : 40;
                if (shnum == 0 || shentsize < need || shoff > s->head.len ||
                                shnum * shentsize > s->head.len - shoff)
                        s->shdrs_planned = true; /* at the end (tail or shdr window) */
                else if (have >= shoff + shnum * shentsize) {
                        plan_shdrs(s, chunk_pos, is64, be, shoff, shentsize, shnum);
                        s->shdrs_planned = true;
                }
        }
}

static int start_capture(struct xarch_layer_scanner *s) {
        if (!s->arena) {
                s->arena = malloc(XARCH_LAYER_FULL_MAX);
                if (!s->arena)
                        return scanner_fail(s, ENOMEM, "out of memory");
        }
        memset(&s->head, 0, sizeof(s->head));
        memset(&s->tail, 0, sizeof(s->tail));
        memset(&s->shdr, 0, sizeof(s->shdr));
        memset(&s->go, 0, sizeof(s->go));
        memset(s->pcl, 0, sizeof(s->pcl));
        s->n_pcl = 0;
        s->n_carry = 0;
        s->n_plan = s->plan_used = s->n_scans = 0;
        s->phdrs_planned = s->shdrs_planned = false;
        if (s->size <= XARCH_LAYER_FULL_MAX) {
                s->state = CAPTURE_FULL;
                s->head = (struct window){0, (size_t) s->size, s->arena, true};
                return 0;
        }
        s->state = CAPTURE_RANGES;
        s->head = (struct window){0, XARCH_LAYER_HEAD_MAX, s->arena, true};
        s->tail = (struct window){s->size - XARCH_LAYER_TAIL_MAX, XARCH_LAYER_TAIL_MAX,
                        s->arena + XARCH_LAYER_HEAD_MAX, true};
        s->shdr.buf = s->arena + XARCH_LAYER_HEAD_MAX + XARCH_LAYER_TAIL_MAX;
        s->go.buf = s->shdr.buf + SHDR_MAX;
        for (size_t i = 0; i < PCLNTAB_WINDOWS; i++)
                s->pcl[i].buf = s->go.buf + GO_WINDOW + i * PCLNTAB_WINDOW;
        s->plan_pool = s->go.buf + GO_WINDOW + PCLNTAB_WINDOWS * PCLNTAB_WINDOW;
        s->scan_bufs = s->plan_pool + PLAN_POOL;
        return 0;
}

static void capture(struct xarch_layer_scanner *s, const uint8_t *buf, size_t len) {
        uint64_t pos = s->pos;
        s->pos += len;
        window_write(&s->head, pos, buf, len);
        if (s->state != CAPTURE_RANGES)
                return;
        bool had_header = pos >= 64;
        if (!had_header && s->pos >= 64)
                plan_shdr(s);
        if (!s->phdrs_planned || !s->shdrs_planned)
                plan_from_headers(s, pos);
        for (size_t i = 0; i < s->n_plan; i++)
                window_write(&s->plan[i], pos, buf, len);
        for (size_t i = 0; i < s->n_scans; i++)
                range_scan_feed(&s->scans[i], pos, buf, len);
        window_write(&s->shdr, pos, buf, len);
        window_write(&s->tail, pos, buf, len);
        /* markers first: a window opened here also takes the rest of this chunk */
        scan_markers(s, pos, buf, len);
        window_write(&s->go, pos, buf, len);
        for (size_t i = 0; i < s->n_pcl; i++)
                window_write(&s->pcl[i], pos, buf, len);
}

static ssize_t window_read(void *userdata, uint64_t offset, void *buf, size_t len) {
        struct xarch_layer_scanner *s = userdata;
        const struct window *fixed[] = {&s->head, &s->shdr, &s->go, &s->tail, &s->pcl[0],
                        &s->pcl[1], &s->pcl[2], &s->pcl[3]};
        size_t n_all = ELEMENTSOF(fixed) + s->n_plan;
        for (size_t i = 0; i < n_all; i++) {
                const struct window *w =
                                i < ELEMENTSOF(fixed) ? fixed[i] : &s->plan[i - ELEMENTSOF(fixed)];
                if (!w->set || offset < w->off || offset >= w->off + w->len)
                        continue;
                size_t n = (size_t) (w->off + w->len - offset);
                if (n > len)
                        n = len;
                memcpy(buf, w->buf + (offset - w->off), n);
                return (ssize_t) n;
        }
        return offset < s->size ? -ENODATA : 0; /* not kept: the engine says what it missed */
}

static int window_scanned(void *userdata, enum xarch_file_scan_kind kind, uint64_t offset,
                uint64_t len, char *ret, size_t size) {
        struct xarch_layer_scanner *s = userdata;
        for (size_t i = 0; i < s->n_scans; i++) {
                struct range_scan *rs = &s->scans[i];
                if (rs->kind != kind || rs->off != offset || rs->len != len)
                        continue;
                range_scan_end(rs);
                if (rs->state != RANGE_SCAN_FOUND)
                        return 0;
                snprintf(ret, size, "%s", rs->result);
                return 1;
        }
        return -ENODATA;
}

static int analyse(struct xarch_layer_scanner *s) {
        struct xarch_layer_entry *e = &s->layer->entries[s->layer->n_entries - 1];
        struct xarch_file_source src = {0};
        src.size = s->size;
        if (s->state == CAPTURE_FULL) {
                src.prefix = s->arena;
                src.prefix_len = (size_t) s->pos;
        } else {
                src.prefix = s->head.buf;
                src.prefix_len = s->head.len;
                src.read = window_read;
                src.scanned = window_scanned;
                src.userdata = s;
                e->partial = true;
        }
        e->info = calloc(1, sizeof(*e->info));
        if (!e->info)
                return scanner_fail(s, ENOMEM, "out of memory");
        int r = xarch_file_analyze(s->analyzer, &src, e->info, analysis_err(s));
        if (r < 0)
                return r;
        s->layer->n_analysed++;
        return 0;
}

static int on_data(const struct tar_entry *te, const void *buf, size_t len, bool final,
                void *userdata) {
        struct xarch_layer_scanner *s = userdata;
        const uint8_t *p = buf;
        if (s->state == CAPTURE_NONE)
                return 0;
        if (s->state == CAPTURE_SNIFF) {
                size_t take = sizeof(s->sniff) - s->n_sniff;
                if (take > len)
                        take = len;
                memcpy(s->sniff + s->n_sniff, p, take);
                s->n_sniff += take;
                p += take;
                len -= take;
                if (s->n_sniff < sizeof(s->sniff) && !final)
                        return 0;
                if (!looks_executable(s->sniff, s->n_sniff)) {
                        s->state = CAPTURE_NONE;
                        return 0;
                }
                int r = start_capture(s);
                if (r < 0)
                        return r;
                capture(s, s->sniff, s->n_sniff);
        }
        if (len > 0)
                capture(s, p, len);
        if (final) {
                int r = analyse(s);
                s->state = CAPTURE_NONE;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Uncompressed bytes, in order: into the diff_id and the tar reader. The hash runs here, on the
 * analysis thread when the stages overlap: inflating (with the blob's digest) is the longer
 * stage, so SHA-256 of every uncompressed byte costs CPU but no wall time here, where on the
 * inflating thread it would add to every layer's time (docs/benchmarks.md, verify). */
static int analyse_bytes(struct xarch_layer_scanner *s, const uint8_t *buf, size_t len,
                struct xarch_error **err) {
        xarch_digester_update(s->diff_id, buf, len);
        return tar_reader_feed(s->tar, buf, len, err);
}

static int pipe_consume(void *userdata, const void *buf, size_t len, struct xarch_error **err) {
        return analyse_bytes(userdata, buf, len, err);
}

static int pipe_start(struct xarch_layer_scanner *s, struct xarch_error **err) {
        return ring_start(PIPE_SLOTS, PIPE_SLOT_SIZE, pipe_consume, s, "layer analysis", &s->pipe,
                        err);
}

/* Ends the stream (abort: drop what is queued), waits for the consumer and frees the ring;
 * returns the consumer's error (moved to the scanner's). */
static int pipe_stop(struct xarch_layer_scanner *s, bool abort) {
        int r = ring_stop(s->pipe, abort, &s->cb_err);
        s->pipe = NULL;
        return r;
}

static int decompressed_sink(void *userdata, const void *buf, size_t len) {
        struct xarch_layer_scanner *s = userdata;
        if (s->pipe)
                return ring_write(s->pipe, buf, len, &s->cb_err);
        return analyse_bytes(s, buf, len, &s->cb_err);
}

int xarch_layer_scanner_new(enum xarch_compression compression, struct xarch_layer_scanner **ret,
                struct xarch_error **err) {
        struct xarch_layer_scanner *s = calloc(1, sizeof(*s));
        if (!s)
                return xarch_error_set(err, ENOMEM, "out of memory");
        static const struct tar_callbacks cb = {on_entry, on_data};
        int r;
        s->layer = calloc(1, sizeof(*s->layer));
        if (!s->layer) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        r = xarch_digester_new("sha256", &s->diff_id);
        if (r < 0) {
                r = xarch_error_set(err, -r, "cannot start the diff_id hash");
                goto fail;
        }
        r = decompressor_new(compression, decompressed_sink, s, &s->dec, err);
        if (r < 0)
                goto fail;
        r = tar_reader_new(&cb, s, &s->tar);
        if (r < 0) {
                r = xarch_error_set(err, -r, "cannot create tar reader");
                goto fail;
        }
        r = xarch_file_analyzer_new(&s->analyzer, err);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        xarch_layer_scanner_free(s);
        return r;
}

void xarch_layer_scanner_free(struct xarch_layer_scanner *s) {
        if (!s)
                return;
        pipe_stop(s, true);
        decompressor_free(s->dec);
        xarch_digester_free(s->diff_id);
        tar_reader_free(s->tar);
        xarch_file_analyzer_free(s->analyzer);
        xarch_layer_free(s->layer);
        xarch_error_free(s->cb_err);
        free(s->arena);
        free(s);
}

/* Moves an error raised in a callback to err (or sets a generic one). */
static int pass_error(struct xarch_layer_scanner *s, int r, struct xarch_error **err) {
        s->failed = true;
        if (s->cb_err) {
                if (err && !*err) {
                        *err = steal_ptr(s->cb_err);
                        return -(*err)->code;
                }
                return -s->cb_err->code;
        }
        return r;
}

int xarch_layer_scanner_feed(struct xarch_layer_scanner *s, const void *buf, size_t len,
                struct xarch_error **err) {
        if (s->failed)
                return xarch_error_set(err, EINVAL, "layer scanner already failed");
        int r = decompressor_feed(s->dec, buf, len, err);
        if (r < 0)
                return pass_error(s, r, err);
        return 0;
}

int xarch_layer_scanner_finish(
                struct xarch_layer_scanner *s, struct xarch_layer **ret, struct xarch_error **err) {
        if (s->failed)
                return xarch_error_set(err, EINVAL, "layer scanner already failed");
        int r = decompressor_finish(s->dec, err);
        if (r < 0)
                return pass_error(s, r, err);
        r = pipe_stop(s, false); /* the analysis thread drains the ring and ends */
        if (r < 0)
                return pass_error(s, r, err);
        r = tar_reader_finish(s->tar, err);
        if (r < 0)
                return pass_error(s, r, err);
        s->layer->compression = decompressor_kind(s->dec);
        s->layer->compressed_bytes = decompressor_bytes_in(s->dec);
        s->layer->uncompressed_bytes = decompressor_bytes_out(s->dec);
        r = xarch_digester_final(s->diff_id, s->layer->diff_id);
        if (r < 0)
                return pass_error(s, xarch_error_set(err, -r, "cannot compute the diff_id"), err);
        *ret = steal_ptr(s->layer);
        s->failed = true; /* no more input */
        return 0;
}

void xarch_layer_free(struct xarch_layer *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_entries; i++) {
                free(l->entries[i].path);
                free(l->entries[i].link);
                free(l->entries[i].info);
        }
        free(l->entries);
        free(l);
}

static int blob_sink(void *userdata, const void *buf, size_t len) {
        struct xarch_layer_scanner *s = userdata;
        int r = decompressor_feed(s->dec, buf, len, &s->cb_err);
        if (r < 0)
                s->failed = true;
        return r;
}

int xarch_layer_scan(struct xarch_image *img, const struct xarch_descriptor *desc,
                struct xarch_layer **ret, struct xarch_error **err) {
        enum xarch_compression c;
        if (xarch_compression_from_media_type(desc->media_type, &c) < 0)
                c = XARCH_COMPRESSION_AUTO; /* unknown type: trust the magic */
        struct xarch_layer_scanner *s = NULL;
        int r = xarch_layer_scanner_new(c, &s, err);
        if (r < 0)
                return r;
        r = pipe_start(s, err);
        if (r < 0) {
                xarch_layer_scanner_free(s);
                return r;
        }
        struct xarch_error *fetch_err = NULL;
        /* the read stops at the descriptor's size (a server that streams on is refused) */
        r = xarch_image_get_blob(
                        img, desc->digest, xarch_descriptor_cap(desc, 0), blob_sink, s, &fetch_err);
        if (r < 0) {
                /* the stream's own error explains an aborted fetch better */
                if (s->cb_err) {
                        xarch_error_free(fetch_err);
                        r = pass_error(s, r, err);
                } else if (err && !*err) {
                        *err = fetch_err;
                } else {
                        xarch_error_free(fetch_err);
                }
                xarch_layer_scanner_free(s);
                if (err && *err)
                        xarch_error_wrap(err, "layer %.19s", desc->digest);
                return r;
        }
        /* the digest verified: the stream's content can be trusted from here on */
        s->failed = false;
        struct xarch_layer *l = NULL;
        r = xarch_layer_scanner_finish(s, &l, err);
        xarch_layer_scanner_free(s);
        if (r < 0) {
                if (err && *err)
                        xarch_error_wrap(err, "layer %.19s", desc->digest);
                return r;
        }
        snprintf(l->digest, sizeof(l->digest), "%s", desc->digest);
        *ret = l;
        return 0;
}
