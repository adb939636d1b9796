/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "image/tar.h"

#define BLOCK 512

enum state {
        ST_HEADER,
        ST_DATA, /* an entry's data: delivered or skipped */
        ST_META, /* a pax or GNU long-name record being collected */
        ST_PAD,
        ST_END,
        ST_FAILED,
};

/* Values that override header fields: from a pax 'x' record or GNU 'L'/'K' (this entry only),
 * or from a pax 'g' record (all following entries). */
struct overrides {
        char *path;
        char *linkpath;
        char *uname;
        char *gname;
        bool has_size, has_uid, has_gid, has_mtime, sparse;
        uint64_t size, uid, gid;
        int64_t mtime;
};

struct tar_reader {
        struct tar_callbacks cb;
        void *userdata;
        enum state state;

        uint8_t block[BLOCK];
        size_t block_fill;
        uint64_t offset;
        uint64_t n_entries;
        unsigned zero_blocks;

        struct tar_entry entry;
        char *path;
        char *linkpath;
        char uname[33];
        char gname[33];
        bool want_data;
        uint64_t remaining;
        uint64_t pad;

        char meta_type;
        char *meta;
        size_t meta_len, meta_fill;

        struct overrides local;
        struct overrides global;
};

static void overrides_clear(struct overrides *o) {
        free(o->path);
        free(o->linkpath);
        free(o->uname);
        free(o->gname);
        *o = (struct overrides){0};
}

#define MIN_SIZE(a, b) ((uint64_t) (a) < (uint64_t) (b) ? (uint64_t) (a) : (uint64_t) (b))

static int fail(struct tar_reader *r, struct xarch_error **err, int code, const char *what) {
        r->state = ST_FAILED;
        return xarch_error_set(err, code, "malformed tar archive: %s (near byte %" PRIu64 ")", what,
                        r->offset);
}

#define BAD(r, err, what) fail(r, err, EBADMSG, what)

int tar_reader_new(const struct tar_callbacks *cb, void *userdata, struct tar_reader **ret) {
        struct tar_reader *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        if (cb)
                r->cb = *cb;
        r->userdata = userdata;
        r->state = ST_HEADER;
        *ret = r;
        return 0;
}

void tar_reader_free(struct tar_reader *r) {
        if (!r)
                return;
        free(r->path);
        free(r->linkpath);
        free(r->meta);
        overrides_clear(&r->local);
        overrides_clear(&r->global);
        free(r);
}

int tar_parse_number(const char *field, size_t len, uint64_t *ret) {
        const unsigned char *p = (const unsigned char *) field;
        if (len == 0)
                return -EINVAL;
        if (p[0] & 0x80) {
                /* base-256: big-endian two's complement; 0xff starts a negative number */
                if (p[0] == 0xff)
                        return -EINVAL;
                uint64_t v = p[0] & 0x7f;
                for (size_t i = 1; i < len; i++) {
                        if (v > (UINT64_MAX >> 8))
                                return -EINVAL;
                        v = (v << 8) | p[i];
                }
                if (v > INT64_MAX)
                        return -EINVAL;
                *ret = v;
                return 0;
        }
        size_t i = 0;
        while (i < len && p[i] == ' ')
                i++;
        uint64_t v = 0;
        size_t digits = 0;
        for (; i < len && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
                if (v > (UINT64_MAX >> 3))
                        return -EINVAL;
                v = (v << 3) | (uint64_t) (p[i] - '0');
        }
        /* the rest must be terminators: NUL or space */
        for (; i < len; i++)
                if (p[i] != ' ' && p[i] != '\0')
                        return -EINVAL;
        if (v > INT64_MAX)
                return -EINVAL;
        *ret = digits ? v : 0;
        return 0;
}

static bool block_is_zero(const uint8_t *b) {
        for (size_t i = 0; i < BLOCK; i++)
                if (b[i])
                        return false;
        return true;
}

static bool checksum_ok(const uint8_t *b) {
        uint64_t want;
        if (tar_parse_number((const char *) b + 148, 8, &want) < 0)
                return false;
        uint64_t unsigned_sum = 0;
        int64_t signed_sum = 0;
        for (size_t i = 0; i < BLOCK; i++) {
                uint8_t c = (i >= 148 && i < 156) ? ' ' : b[i];
                unsigned_sum += c;
                signed_sum += (int8_t) c;
        }
        /* some old writers summed signed chars; accept both like GNU tar and libarchive */
        return want == unsigned_sum || (int64_t) want == signed_sum;
}

static char *strndup_field(const uint8_t *f, size_t len) {
        return strndup((const char *) f, strnlen((const char *) f, len));
}

/* Parses a decimal pax number (mtime may carry a fraction, which is dropped). */
static int parse_pax_decimal(
                const char *s, size_t len, bool allow_sign_and_fraction, int64_t *ret) {
        size_t i = 0;
        bool negative = false;
        if (allow_sign_and_fraction && i < len && s[i] == '-') {
                negative = true;
                i++;
        }
        if (i == len)
                return -EINVAL;
        int64_t v = 0;
        size_t digits = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
                if (v > (INT64_MAX - 9) / 10)
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        if (digits == 0)
                return -EINVAL;
        if (i < len) {
                if (!allow_sign_and_fraction || s[i] != '.')
                        return -EINVAL;
                for (i++; i < len; i++)
                        if (s[i] < '0' || s[i] > '9')
                                return -EINVAL;
        }
        *ret = negative ? -v : v;
        return 0;
}

static int set_string(char **slot, const char *value, size_t len) {
        if (memchr(value, '\0', len))
                return -EINVAL;
        char *copy = strndup(value, len);
        if (!copy)
                return -ENOMEM;
        free(*slot);
        *slot = copy;
        return 0;
}

static int apply_pax_record(struct overrides *o, bool global, const char *key, size_t key_len,
                const char *value, size_t value_len) {
        int64_t n;
        int r;
#define KEY_IS(k) (key_len == sizeof(k) - 1 && memcmp(key, k, key_len) == 0)
        if (KEY_IS("path") || KEY_IS("linkpath")) {
                if (global) /* a global path makes no sense; GNU tar ignores it too */
                        return 0;
                char **slot = KEY_IS("path") ? &o->path : &o->linkpath;
                if (value_len == 0) {
                        free(*slot);
                        *slot = NULL;
                        return 0;
                }
                return set_string(slot, value, value_len);
        }
        if (KEY_IS("uname") || KEY_IS("gname")) {
                char **slot = KEY_IS("uname") ? &o->uname : &o->gname;
                if (value_len == 0) {
                        free(*slot);
                        *slot = NULL;
                        return 0;
                }
                return set_string(slot, value, value_len);
        }
        if (KEY_IS("size") && !global) {
                if (value_len == 0) {
                        o->has_size = false;
                        return 0;
                }
                r = parse_pax_decimal(value, value_len, false, &n);
                if (r < 0)
                        return r;
                o->size = (uint64_t) n;
                o->has_size = true;
                return 0;
        }
        if (KEY_IS("uid") || KEY_IS("gid")) {
                bool is_uid = KEY_IS("uid");
                if (value_len == 0) {
                        *(is_uid ? &o->has_uid : &o->has_gid) = false;
                        return 0;
                }
                r = parse_pax_decimal(value, value_len, false, &n);
                if (r < 0)
                        return r;
                *(is_uid ? &o->uid : &o->gid) = (uint64_t) n;
                *(is_uid ? &o->has_uid : &o->has_gid) = true;
                return 0;
        }
        if (KEY_IS("mtime")) {
                if (value_len == 0) {
                        o->has_mtime = false;
                        return 0;
                }
                r = parse_pax_decimal(value, value_len, true, &n);
                if (r < 0)
                        return r;
                o->mtime = n;
                o->has_mtime = true;
                return 0;
        }
#undef KEY_IS
        if (key_len > 11 && memcmp(key, "GNU.sparse.", 11) == 0)
                o->sparse = true; /* GNU tar's pax sparse formats (0.0, 0.1, 1.0) */
        return 0;                 /* other keys (atime, xattrs, ...) are not needed */
}

/* Parses "LEN KEY=VALUE\n" records. */
static int parse_pax(struct tar_reader *r, bool global, struct xarch_error **err) {
        const char *p = r->meta;
        size_t left = r->meta_len;
        struct overrides *o = global ? &r->global : &r->local;
        while (left > 0) {
                /* tolerate trailing NUL padding some writers leave */
                if (p[0] == '\0') {
                        for (size_t i = 0; i < left; i++)
                                if (p[i] != '\0')
                                        return BAD(r, err, "garbage after pax records");
                        break;
                }
                size_t i = 0, rec_len = 0;
                while (i < left && p[i] >= '0' && p[i] <= '9') {
                        if (rec_len > TAR_META_MAX)
                                return BAD(r, err, "pax record length too large");
                        rec_len = rec_len * 10 + (size_t) (p[i] - '0');
                        i++;
                }
                if (i == 0 || i >= left || p[i] != ' ')
                        return BAD(r, err, "pax record without length");
                if (rec_len <= i + 1 || rec_len > left || p[rec_len - 1] != '\n')
                        return BAD(r, err, "pax record length out of range");
                const char *kv = p + i + 1;
                size_t kv_len = rec_len - i - 2; /* without the newline */
                const char *eq = memchr(kv, '=', kv_len);
                if (!eq || eq == kv)
                        return BAD(r, err, "pax record without key");
                size_t key_len = (size_t) (eq - kv);
                int k = apply_pax_record(o, global, kv, key_len, eq + 1, kv_len - key_len - 1);
                if (k == -ENOMEM) {
                        r->state = ST_FAILED;
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                if (k < 0)
                        return BAD(r, err, "bad pax value");
                p += rec_len;
                left -= rec_len;
        }
        return 0;
}

static int finish_meta(struct tar_reader *r, struct xarch_error **err) {
        r->meta[r->meta_len] = '\0';
        switch (r->meta_type) {
        case 'x':
        case 'X':
                return parse_pax(r, false, err);
        case 'g':
                return parse_pax(r, true, err);
        case 'L':
        case 'K': {
                size_t n = strnlen(r->meta, r->meta_len);
                if (n == 0)
                        return BAD(r, err, "empty GNU long name");
                int k = set_string(r->meta_type == 'L' ? &r->local.path : &r->local.linkpath,
                                r->meta, n);
                if (k < 0) {
                        r->state = ST_FAILED;
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                return 0;
        }
        }
        return 0;
}

static void enter_padding(struct tar_reader *r, uint64_t size) {
        r->pad = (BLOCK - size % BLOCK) % BLOCK;
        r->state = r->pad ? ST_PAD : ST_HEADER;
}

static bool type_has_data(char type) {
        switch (type) {
        case TAR_HARDLINK:
        case TAR_SYMLINK:
        case TAR_CHARDEV:
        case TAR_BLOCKDEV:
        case TAR_DIRECTORY:
        case TAR_FIFO:
                return false;
        }
        return true;
}

static int process_header(struct tar_reader *r, struct xarch_error **err) {
        const uint8_t *b = r->block;
        uint64_t size, mode, uid, gid, mtime;

        if (block_is_zero(b)) {
                if (++r->zero_blocks == 2)
                        r->state = ST_END;
                return 0;
        }
        if (r->zero_blocks)
                return BAD(r, err, "data after a zero block");
        if (!checksum_ok(b))
                return BAD(r, err, "header checksum mismatch");

        bool posix = memcmp(b + 257, "ustar\0", 6) == 0;
        char type = (char) b[156];
        if (type == '\0')
                type = TAR_FILE;

        if (tar_parse_number((const char *) b + 124, 12, &size) < 0)
                return BAD(r, err, "bad size field");

        if (type == 'x' || type == 'X' || type == 'g' || type == 'L' || type == 'K') {
                if (size > TAR_META_MAX)
                        return fail(r, err, EFBIG, "metadata record larger than 1 MiB");
                free(r->meta);
                r->meta = malloc(size + 1);
                if (!r->meta) {
                        r->state = ST_FAILED;
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                r->meta_type = type;
                r->meta_len = size;
                r->meta_fill = 0;
                r->remaining = size;
                r->state = ST_META;
                if (size == 0) {
                        int k = finish_meta(r, err);
                        if (k < 0)
                                return k;
                        enter_padding(r, 0);
                }
                return 0;
        }

        if (tar_parse_number((const char *) b + 100, 8, &mode) < 0 ||
                        tar_parse_number((const char *) b + 108, 8, &uid) < 0 ||
                        tar_parse_number((const char *) b + 116, 8, &gid) < 0 ||
                        tar_parse_number((const char *) b + 136, 12, &mtime) < 0)
                return BAD(r, err, "bad numeric field");

        free(r->path);
        free(r->linkpath);
        r->path = r->linkpath = NULL;

        const char *path_override = r->local.path;
        if (path_override)
                r->path = strdup(path_override);
        else if (posix && b[345]) {
                size_t plen = strnlen((const char *) b + 345, 155);
                size_t nlen = strnlen((const char *) b, 100);
                r->path = malloc(plen + 1 + nlen + 1);
                if (r->path) {
                        memcpy(r->path, b + 345, plen);
                        r->path[plen] = '/';
                        memcpy(r->path + plen + 1, b, nlen);
                        r->path[plen + 1 + nlen] = '\0';
                }
        } else
                r->path = strndup_field(b, 100);
        r->linkpath = r->local.linkpath ? strdup(r->local.linkpath) : strndup_field(b + 157, 100);
        if (!r->path || !r->linkpath) {
                r->state = ST_FAILED;
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        if (!r->path[0])
                return BAD(r, err, "entry with an empty name");

        const char *uname = r->local.uname ? r->local.uname : r->global.uname;
        const char *gname = r->local.gname ? r->local.gname : r->global.gname;
        if (uname)
                snprintf(r->uname, sizeof(r->uname), "%s", uname);
        else
                snprintf(r->uname, sizeof(r->uname), "%.*s",
                                (int) strnlen((const char *) b + 265, 32), (const char *) b + 265);
        if (gname)
                snprintf(r->gname, sizeof(r->gname), "%s", gname);
        else
                snprintf(r->gname, sizeof(r->gname), "%.*s",
                                (int) strnlen((const char *) b + 297, 32), (const char *) b + 297);

        if (r->local.has_size)
                size = r->local.size;
        if (!type_has_data(type))
                size = 0;

        r->entry = (struct tar_entry){
                        .path = r->path,
                        .linkpath = r->linkpath,
                        .uname = r->uname,
                        .gname = r->gname,
                        .type = type,
                        .mode = (uint32_t) (mode & 07777),
                        .uid = r->local.has_uid ? r->local.uid
                                                : (r->global.has_uid ? r->global.uid : uid),
                        .gid = r->local.has_gid ? r->local.gid
                                                : (r->global.has_gid ? r->global.gid : gid),
                        .mtime = r->local.has_mtime ? r->local.mtime
                                                    : (r->global.has_mtime ? r->global.mtime
                                                                           : (int64_t) mtime),
                        .size = size,
                        .data_offset = r->offset,
                        .index = r->n_entries++,
                        .sparse = r->local.sparse || r->global.sparse,
        };
        overrides_clear(&r->local);

        int k = r->cb.on_entry ? r->cb.on_entry(&r->entry, r->userdata) : 0;
        if (k < 0) {
                r->state = ST_FAILED;
                return k;
        }
        r->want_data = k > 0 && r->cb.on_data;
        r->remaining = size;
        if (size == 0) {
                if (r->want_data) {
                        k = r->cb.on_data(&r->entry, "", 0, true, r->userdata);
                        if (k < 0) {
                                r->state = ST_FAILED;
                                return k;
                        }
                }
                r->state = ST_HEADER;
                return 0;
        }
        r->state = ST_DATA;
        return 0;
}

int tar_reader_feed(struct tar_reader *r, const void *buf, size_t len, struct xarch_error **err) {
        const uint8_t *p = buf;
        int k;

        if (r->state == ST_FAILED)
                return xarch_error_set(err, EINVAL, "tar reader used after a failure");
        while (len > 0) {
                size_t n;
                switch (r->state) {
                case ST_HEADER:
                        n = (size_t) MIN_SIZE(BLOCK - r->block_fill, len);
                        memcpy(r->block + r->block_fill, p, n);
                        r->block_fill += n;
                        r->offset += n;
                        p += n;
                        len -= n;
                        if (r->block_fill == BLOCK) {
                                r->block_fill = 0;
                                k = process_header(r, err);
                                if (k < 0)
                                        return k;
                        }
                        break;
                case ST_DATA:
                        n = (size_t) MIN_SIZE(r->remaining, len);
                        r->remaining -= n;
                        r->offset += n;
                        if (r->want_data) {
                                k = r->cb.on_data(&r->entry, p, n, r->remaining == 0, r->userdata);
                                if (k < 0) {
                                        r->state = ST_FAILED;
                                        return k;
                                }
                        }
                        p += n;
                        len -= n;
                        if (r->remaining == 0)
                                enter_padding(r, r->entry.size);
                        break;
                case ST_META:
                        n = (size_t) MIN_SIZE(r->remaining, len);
                        memcpy(r->meta + r->meta_fill, p, n);
                        r->meta_fill += n;
                        r->remaining -= n;
                        r->offset += n;
                        p += n;
                        len -= n;
                        if (r->remaining == 0) {
                                k = finish_meta(r, err);
                                if (k < 0)
                                        return k;
                                enter_padding(r, r->meta_len);
                        }
                        break;
                case ST_PAD:
                        n = (size_t) MIN_SIZE(r->pad, len);
                        r->pad -= n;
                        r->offset += n;
                        p += n;
                        len -= n;
                        if (r->pad == 0)
                                r->state = ST_HEADER;
                        break;
                case ST_END:
                        return 0; /* trailing blocks after the marker are ignored */
                case ST_FAILED:
                        return -EBADMSG;
                }
        }
        return 0;
}

uint64_t tar_reader_skippable(const struct tar_reader *r) {
        if (r->state == ST_DATA && !r->want_data)
                return r->remaining + (BLOCK - r->entry.size % BLOCK) % BLOCK;
        if (r->state == ST_PAD)
                return r->pad;
        return 0;
}

int tar_reader_skip(struct tar_reader *r, uint64_t n, struct xarch_error **err) {
        if (n > tar_reader_skippable(r))
                return xarch_error_set(err, EINVAL, "cannot skip %" PRIu64 " tar bytes", n);
        if (r->state == ST_DATA) {
                uint64_t d = n < r->remaining ? n : r->remaining;
                r->remaining -= d;
                r->offset += d;
                n -= d;
                if (r->remaining > 0)
                        return 0;
                enter_padding(r, r->entry.size);
        }
        if (r->state == ST_PAD) {
                r->pad -= n;
                r->offset += n;
                if (r->pad == 0)
                        r->state = ST_HEADER;
        }
        return 0;
}

int tar_reader_finish(struct tar_reader *r, struct xarch_error **err) {
        switch (r->state) {
        case ST_END:
                return 0;
        case ST_HEADER:
                if (r->block_fill == 0 && r->zero_blocks == 1)
                        return 0;
                if (r->block_fill == 0)
                        return BAD(r, err, "truncated: no end-of-archive marker");
                return BAD(r, err, "truncated inside a header");
        case ST_DATA:
        case ST_PAD:
                return BAD(r, err, "truncated inside an entry");
        case ST_META:
                return BAD(r, err, "truncated inside a metadata record");
        case ST_FAILED:
                return xarch_error_set(err, EBADMSG, "tar reader used after a failure");
        }
        return 0;
}

bool tar_reader_done(const struct tar_reader *r) {
        return r->state == ST_END;
}

uint64_t tar_reader_offset(const struct tar_reader *r) {
        return r->offset;
}
