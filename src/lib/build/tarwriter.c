/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "build/tarwriter.h"

#define BLOCK 512

/* The largest values the ustar octal fields hold: 11 digits for size and mtime, 7 for ids. */
#define OCTAL11_MAX 077777777777ull
#define OCTAL7_MAX  07777777ull

struct tar_writer {
        xarch_sink_fn sink;
        void *userdata;
        uint64_t offset;
        uint64_t remaining; /* data still owed for the current file */
        uint64_t pad;       /* padding after it */
        bool in_file;
};

int tar_writer_new(xarch_sink_fn sink, void *userdata, struct tar_writer **ret) {
        struct tar_writer *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->sink = sink;
        w->userdata = userdata;
        *ret = w;
        return 0;
}

void tar_writer_free(struct tar_writer *w) {
        free(w);
}

uint64_t tar_writer_offset(const struct tar_writer *w) {
        return w->offset;
}

static int emit(struct tar_writer *w, const void *buf, size_t len, struct xarch_error **err) {
        if (len == 0)
                return 0;
        int r = w->sink(w->userdata, buf, len);
        if (r < 0)
                return xarch_error_set(err, -r, "writing the layer: %s", strerror(-r));
        w->offset += len;
        return 0;
}

static const char zeros[BLOCK];

/* Octal, zero-padded to width-1 digits and NUL-terminated, as GNU tar and Go write. */
static void put_octal(char *field, size_t width, uint64_t v) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int) (width - 1), v);
        memcpy(field, tmp, width - 1);
        field[width - 1] = '\0';
}

/* Splits path into ustar's prefix (<= 155) and name (<= 100) at a '/'; false when impossible. */
static bool split_ustar(const char *path, size_t *ret_prefix_len) {
        size_t len = strlen(path);
        if (len <= 100) {
                *ret_prefix_len = 0;
                return true;
        }
        /* the name part is what follows the split slash; the prefix may not be empty */
        for (size_t i = len > 101 ? len - 101 : 0; i < len && i <= 155; i++)
                if (path[i] == '/' && i > 0 && len - i - 1 <= 100 && len - i - 1 > 0) {
                        *ret_prefix_len = i;
                        return true;
                }
        return false;
}

/* Appends "LEN key=value\n" (LEN counts itself) to a pax record buffer. */
static int pax_append(char **buf, size_t *len, const char *key, const char *value) {
        size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
        size_t total = body + 1;
        for (;;) {
                char digits[24];
                size_t n = (size_t) snprintf(digits, sizeof(digits), "%zu", total);
                if (body + n == total)
                        break;
                total = body + n;
        }
        char *nb = realloc(*buf, *len + total + 1);
        if (!nb)
                return -ENOMEM;
        *buf = nb;
        snprintf(nb + *len, total + 1, "%zu %s=%s\n", total, key, value);
        *len += total;
        return 0;
}

static void fill_header(char h[BLOCK], const char *name, size_t prefix_len, char type,
                const struct tarw_entry *e, uint64_t size, bool fits_ids, bool fits_mtime) {
        memset(h, 0, BLOCK);
        if (prefix_len) {
                memcpy(h + 345, name, prefix_len);
                name += prefix_len + 1;
        }
        memcpy(h, name, strnlen(name, 100));
        put_octal(h + 100, 8, e->mode & 07777);
        put_octal(h + 108, 8, fits_ids && e->uid <= OCTAL7_MAX ? e->uid : 0);
        put_octal(h + 116, 8, fits_ids && e->gid <= OCTAL7_MAX ? e->gid : 0);
        put_octal(h + 124, 12, size <= OCTAL11_MAX ? size : 0);
        put_octal(h + 136, 12, fits_mtime ? (uint64_t) e->mtime : 0);
        h[156] = type;
        if (e->type == TARW_SYMLINK && type == TARW_SYMLINK && e->linkname)
                memcpy(h + 157, e->linkname, strnlen(e->linkname, 100));
        memcpy(h + 257, "ustar", 6); /* magic "ustar\0" */
        memcpy(h + 263, "00", 2);
        /* uname, gname: empty; devmajor/devminor: zero-filled like Go's writer */
        put_octal(h + 329, 8, 0);
        put_octal(h + 337, 8, 0);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < BLOCK; i++)
                sum += (unsigned char) h[i];
        snprintf(h + 148, 8, "%06o", sum);
        h[155] = ' ';
}

int tar_writer_add(struct tar_writer *w, const struct tarw_entry *e, struct xarch_error **err) {
        if (w->in_file)
                return xarch_error_set(err, EINVAL, "tar writer: %" PRIu64 " bytes of data missing",
                                w->remaining);
        if (!e->path || !*e->path)
                return xarch_error_set(err, EINVAL, "tar writer: empty path");
        uint64_t size = e->type == TARW_FILE ? e->size : 0;
        size_t prefix_len = 0;
        bool path_fits = split_ustar(e->path, &prefix_len);
        size_t link_len = e->type == TARW_SYMLINK && e->linkname ? strlen(e->linkname) : 0;
        bool ids_fit = e->uid <= OCTAL7_MAX && e->gid <= OCTAL7_MAX;
        bool mtime_fits = e->mtime >= 0 && (uint64_t) e->mtime <= OCTAL11_MAX;
        bool size_fits = size <= OCTAL11_MAX;

        if (!path_fits || link_len > 100 || !ids_fit || !mtime_fits || !size_fits) {
                _cleanup_free_ char *rec = NULL;
                size_t rec_len = 0;
                char num[32];
                int r = 0;
                /* keys in a fixed order, so the same entry gives the same bytes */
                if (!path_fits)
                        r = pax_append(&rec, &rec_len, "path", e->path);
                if (r >= 0 && link_len > 100)
                        r = pax_append(&rec, &rec_len, "linkpath", e->linkname);
                if (r >= 0 && !size_fits) {
                        snprintf(num, sizeof(num), "%" PRIu64, size);
                        r = pax_append(&rec, &rec_len, "size", num);
                }
                if (r >= 0 && !ids_fit) {
                        snprintf(num, sizeof(num), "%" PRIu64, e->uid);
                        r = pax_append(&rec, &rec_len, "uid", num);
                        snprintf(num, sizeof(num), "%" PRIu64, e->gid);
                        if (r >= 0)
                                r = pax_append(&rec, &rec_len, "gid", num);
                }
                if (r >= 0 && !mtime_fits) {
                        snprintf(num, sizeof(num), "%" PRId64, e->mtime);
                        r = pax_append(&rec, &rec_len, "mtime", num);
                }
                if (r < 0)
                        return xarch_error_set(err, -r, "tar writer: out of memory");
                /* the pax header's own name: fixed, so it carries nothing of the machine */
                char h[BLOCK];
                struct tarw_entry pe = {.type = TARW_FILE, .mode = 0644, .mtime = 0};
                fill_header(h, "PaxHeaders/entry", 0, 'x', &pe, rec_len, true, true);
                r = emit(w, h, BLOCK, err);
                if (r >= 0)
                        r = emit(w, rec, rec_len, err);
                if (r >= 0 && rec_len % BLOCK)
                        r = emit(w, zeros, BLOCK - rec_len % BLOCK, err);
                if (r < 0)
                        return r;
        }

        char h[BLOCK];
        /* a path too long for ustar gets a truncated stand-in; readers take the pax one */
        char fallback[101];
        const char *name = e->path;
        if (!path_fits) {
                snprintf(fallback, sizeof(fallback), "%s", e->path);
                name = fallback;
                prefix_len = 0;
        }
        fill_header(h, name, prefix_len, (char) e->type, e, size, ids_fit, mtime_fits);
        int r = emit(w, h, BLOCK, err);
        if (r < 0)
                return r;
        if (e->type == TARW_FILE && size > 0) {
                w->in_file = true;
                w->remaining = size;
                w->pad = (BLOCK - size % BLOCK) % BLOCK;
        }
        return 0;
}

int tar_writer_data(struct tar_writer *w, const void *buf, size_t len, struct xarch_error **err) {
        if (len == 0)
                return 0;
        if (!w->in_file || len > w->remaining)
                return xarch_error_set(err, EINVAL, "tar writer: more data than the entry's size");
        int r = emit(w, buf, len, err);
        if (r < 0)
                return r;
        w->remaining -= len;
        if (w->remaining == 0) {
                w->in_file = false;
                r = emit(w, zeros, w->pad, err);
                w->pad = 0;
        }
        return r;
}

int tar_writer_finish(struct tar_writer *w, struct xarch_error **err) {
        if (w->in_file)
                return xarch_error_set(err, EINVAL, "tar writer: %" PRIu64 " bytes of data missing",
                                w->remaining);
        int r = emit(w, zeros, BLOCK, err);
        if (r >= 0)
                r = emit(w, zeros, BLOCK, err);
        return r;
}
