/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#if HAVE_ISAL
#include <isa-l.h>
#endif

#include "base/inflate.h"
#include "image/decompress.h"
#include "macro.h"

struct decompressor {
        enum xarch_compression announced;
        enum xarch_compression kind; /* AUTO until detected */
        xarch_sink_fn sink;
        void *userdata;

        uint8_t magic[4]; /* first bytes held back until the kind is known */
        size_t n_magic;

        z_stream z;
        bool z_init;
#if HAVE_ISAL
        struct inflate_state *isal; /* gzip through ISA-L instead of zlib */
#endif
        bool member_open; /* inside a gzip member (header or data seen, no end yet) */
        unsigned members; /* completed gzip members */

        ZSTD_DStream *zs;
        size_t zstd_hint; /* last ZSTD_decompressStream result: 0 = frame complete */
        bool zstd_any;

        bool failed;
        bool too_big; /* the output passed `limit` */
        uint64_t bytes_in, bytes_out, limit;
        uint8_t *out;
};

const char *xarch_compression_name(enum xarch_compression c) {
        switch (c) {
        case XARCH_COMPRESSION_AUTO:
                return "auto";
        case XARCH_COMPRESSION_NONE:
                return "none";
        case XARCH_COMPRESSION_GZIP:
                return "gzip";
        case XARCH_COMPRESSION_ZSTD:
                return "zstd";
        }
        return "unknown";
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int xarch_compression_from_media_type(const char *media_type, enum xarch_compression *ret) {
        if (!media_type || !*media_type) {
                *ret = XARCH_COMPRESSION_AUTO;
                return 0;
        }
        bool layer = strstr(media_type, ".layer.") || strstr(media_type, ".rootfs.");
        if (!layer)
                return -EPROTONOSUPPORT;
        if (ends_with(media_type, "+gzip") || ends_with(media_type, ".gzip"))
                *ret = XARCH_COMPRESSION_GZIP;
        else if (ends_with(media_type, "+zstd") || ends_with(media_type, ".zstd"))
                *ret = XARCH_COMPRESSION_ZSTD;
        else if (ends_with(media_type, ".tar"))
                *ret = XARCH_COMPRESSION_NONE;
        else
                return -EPROTONOSUPPORT;
        return 0;
}

enum xarch_compression decompress_detect(const void *buf, size_t len) {
        const uint8_t *p = buf;
        if (len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
                return XARCH_COMPRESSION_GZIP;
        if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
                return XARCH_COMPRESSION_ZSTD;
        /* zstd skippable frame (0x184D2A50..5F), which zstd:chunked and seekable zstd use */
        if (len >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
                return XARCH_COMPRESSION_ZSTD;
        return XARCH_COMPRESSION_NONE;
}

int decompressor_new(enum xarch_compression announced, xarch_sink_fn sink, void *userdata,
                struct decompressor **ret, struct xarch_error **err) {
        struct decompressor *d = calloc(1, sizeof(*d));
        if (!d)
                return xarch_error_set(err, ENOMEM, "out of memory");
        d->announced = announced;
        d->kind = XARCH_COMPRESSION_AUTO;
        d->sink = sink;
        d->limit = DECOMPRESS_LIMIT;
        d->userdata = userdata;
        d->out = malloc(DECOMPRESS_CHUNK);
        if (!d->out) {
                free(d);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        *ret = d;
        return 0;
}

void decompressor_free(struct decompressor *d) {
        if (!d)
                return;
        if (d->z_init)
                inflateEnd(&d->z);
#if HAVE_ISAL
        free(d->isal);
#endif
        ZSTD_freeDStream(d->zs);
        free(d->out);
        free(d);
}

enum xarch_compression decompressor_kind(const struct decompressor *d) {
        return d->kind;
}

uint64_t decompressor_bytes_in(const struct decompressor *d) {
        return d->bytes_in;
}

uint64_t decompressor_bytes_out(const struct decompressor *d) {
        return d->bytes_out;
}

void decompressor_set_limit(struct decompressor *d, uint64_t limit) {
        d->limit = limit;
}

static int emit(struct decompressor *d, const void *buf, size_t len) {
        if (len == 0)
                return 0;
        /* a small blob must not expand without end (a gzip or zstd bomb) */
        if (len > d->limit - d->bytes_out) {
                d->too_big = true;
                return -EFBIG;
        }
        d->bytes_out += len;
        return d->sink(d->userdata, buf, len);
}

static int choose_kind(
                struct decompressor *d, enum xarch_compression seen, struct xarch_error **err) {
        enum xarch_compression announced = d->announced;
        if (announced == XARCH_COMPRESSION_GZIP || announced == XARCH_COMPRESSION_ZSTD) {
                if (seen != announced)
                        return xarch_error_set(err, EBADMSG,
                                        "layer announced as %s but its content is %s",
                                        xarch_compression_name(announced),
                                        seen == XARCH_COMPRESSION_NONE
                                                        ? "not compressed"
                                                        : xarch_compression_name(seen));
        }
        d->kind = seen;
        if (seen == XARCH_COMPRESSION_GZIP && inflate_use_isal()) {
#if HAVE_ISAL
                /* ISAL_GZIP: ISA-L parses each member's header and checks CRC-32 and ISIZE. */
                d->isal = malloc(sizeof(*d->isal));
                if (!d->isal)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                isal_inflate_init(d->isal);
                d->isal->crc_flag = ISAL_GZIP;
#endif
        } else if (seen == XARCH_COMPRESSION_GZIP) {
                /* 16 + MAX_WBITS: gzip wrapper only; zlib checks CRC-32 and ISIZE itself. */
                if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)
                        return xarch_error_set(err, ENOMEM, "cannot initialise zlib");
                d->z_init = true;
        } else if (seen == XARCH_COMPRESSION_ZSTD) {
                d->zs = ZSTD_createDStream();
                if (!d->zs)
                        return xarch_error_set(err, ENOMEM, "cannot initialise zstd");
                d->zstd_hint = 1;
        }
        return 0;
}

/* Errors are named by class, the same whichever inflater found them, so that a layer gets the
 * same message (and --json) with ISA-L and with zlib; zlib's own wording is stable. */
#define GZIP_BAD_CHECK  "CRC-32 or length check failed"
#define GZIP_BAD_HEADER "bad member header"
#define GZIP_BAD_DATA   "corrupt deflate data"

static const char *zlib_error_class(const char *msg) {
        if (!msg)
                return GZIP_BAD_DATA;
        if (strstr(msg, "incorrect data check") || strstr(msg, "incorrect length check"))
                return GZIP_BAD_CHECK;
        if (strstr(msg, "header") || strstr(msg, "compression method"))
                return GZIP_BAD_HEADER;
        return GZIP_BAD_DATA;
}

static int feed_gzip(
                struct decompressor *d, const uint8_t *buf, size_t len, struct xarch_error **err) {
        z_stream *z = &d->z;
        z->next_in = (Bytef *) buf;
        z->avail_in = 0;
        size_t left = len;
        bool pending = false; /* the last inflate filled the output: zlib may hold more */
        for (;;) {
                if (z->avail_in == 0 && left > 0) {
                        size_t n = left > (size_t) UINT32_MAX ? UINT32_MAX : left;
                        z->avail_in = (uInt) n;
                        left -= n;
                }
                if (z->avail_in == 0 && !pending)
                        break;
                if (!d->member_open) {
                        if (z->avail_in == 0)
                                break;
                        /* Between members only another member may follow. */
                        if (d->members > 0 && *z->next_in != 0x1f)
                                return xarch_error_set(err, EBADMSG,
                                                "gzip: trailing garbage after member %u",
                                                d->members);
                        if (d->members > 0 && inflateReset(z) != Z_OK)
                                return xarch_error_set(err, EIO, "gzip: cannot reset");
                        d->member_open = true;
                }
                z->next_out = d->out;
                z->avail_out = DECOMPRESS_CHUNK;
                int zr = inflate(z, Z_NO_FLUSH);
                pending = z->avail_out == 0;
                int r = emit(d, d->out, DECOMPRESS_CHUNK - z->avail_out);
                if (r < 0)
                        return r;
                if (zr == Z_STREAM_END) {
                        pending = false;
                        d->member_open = false;
                        d->members++;
                } else if (zr == Z_BUF_ERROR) {
                        /* no progress possible without more input */
                        if (z->avail_in != 0)
                                return xarch_error_set(err, EBADMSG, "gzip: stream stalled");
                        pending = false;
                } else if (zr != Z_OK) {
                        return xarch_error_set(err, EBADMSG, "gzip: %s", zlib_error_class(z->msg));
                }
        }
        return 0;
}

#if HAVE_ISAL
static const char *isal_error_class(int r) {
        switch (r) {
        case ISAL_INCORRECT_CHECKSUM:
                return GZIP_BAD_CHECK;
        case ISAL_INVALID_WRAPPER:
        case ISAL_UNSUPPORTED_METHOD:
                return GZIP_BAD_HEADER;
        default:
                return GZIP_BAD_DATA;
        }
}

/* The same walk over members as feed_gzip, with ISA-L's inflate. */
static int feed_gzip_isal(
                struct decompressor *d, const uint8_t *buf, size_t len, struct xarch_error **err) {
        struct inflate_state *st = d->isal;
        st->next_in = (uint8_t *) buf;
        st->avail_in = 0;
        size_t left = len;
        bool pending = false; /* the last inflate filled the output: ISA-L may hold more */
        for (;;) {
                if (st->avail_in == 0 && left > 0) {
                        size_t n = left > (size_t) UINT32_MAX ? UINT32_MAX : left;
                        st->avail_in = (uint32_t) n;
                        left -= n;
                }
                if (st->avail_in == 0 && !pending)
                        break;
                if (!d->member_open) {
                        if (st->avail_in == 0)
                                break;
                        /* Between members only another member may follow. */
                        if (d->members > 0 && *st->next_in != 0x1f)
                                return xarch_error_set(err, EBADMSG,
                                                "gzip: trailing garbage after member %u",
                                                d->members);
                        if (d->members > 0) {
                                uint8_t *next = st->next_in;
                                uint32_t avail = st->avail_in;
                                isal_inflate_reset(st);
                                st->crc_flag = ISAL_GZIP;
                                st->next_in = next;
                                st->avail_in = avail;
                        }
                        d->member_open = true;
                }
                uint32_t in_before = st->avail_in;
                st->next_out = d->out;
                st->avail_out = DECOMPRESS_CHUNK;
                int ir = isal_inflate(st);
                size_t produced = DECOMPRESS_CHUNK - st->avail_out;
                pending = st->avail_out == 0;
                int r = emit(d, d->out, produced);
                if (r < 0)
                        return r;
                if (ir < 0)
                        return xarch_error_set(err, EBADMSG, "gzip: %s", isal_error_class(ir));
                if (st->block_state == ISAL_BLOCK_FINISH) {
                        pending = false;
                        d->member_open = false;
                        d->members++;
                } else if (produced == 0 && st->avail_in == in_before && in_before != 0) {
                        return xarch_error_set(err, EBADMSG, "gzip: stream stalled");
                }
        }
        return 0;
}
#endif

static int feed_zstd(
                struct decompressor *d, const uint8_t *buf, size_t len, struct xarch_error **err) {
        ZSTD_inBuffer in = {buf, len, 0};
        while (in.pos < in.size) {
                ZSTD_outBuffer out = {d->out, DECOMPRESS_CHUNK, 0};
                size_t zr = ZSTD_decompressStream(d->zs, &out, &in);
                if (ZSTD_isError(zr))
                        return xarch_error_set(err, EBADMSG, "zstd: %s", ZSTD_getErrorName(zr));
                d->zstd_hint = zr;
                d->zstd_any = true;
                int r = emit(d, d->out, out.pos);
                if (r < 0)
                        return r;
        }
        /* flush what libzstd holds back from input already consumed */
        for (;;) {
                ZSTD_outBuffer out = {d->out, DECOMPRESS_CHUNK, 0};
                size_t zr = ZSTD_decompressStream(d->zs, &out, &in);
                if (ZSTD_isError(zr))
                        return xarch_error_set(err, EBADMSG, "zstd: %s", ZSTD_getErrorName(zr));
                /* with no new input, a finished frame reports the next frame's header size */
                if (out.pos > 0)
                        d->zstd_hint = zr;
                int r = emit(d, d->out, out.pos);
                if (r < 0)
                        return r;
                if (out.pos < out.size)
                        break;
        }
        return 0;
}

static int feed_known(
                struct decompressor *d, const uint8_t *buf, size_t len, struct xarch_error **err) {
        switch (d->kind) {
        case XARCH_COMPRESSION_GZIP:
#if HAVE_ISAL
                if (d->isal)
                        return feed_gzip_isal(d, buf, len, err);
#endif
                return feed_gzip(d, buf, len, err);
        case XARCH_COMPRESSION_ZSTD:
                return feed_zstd(d, buf, len, err);
        default:
                return emit(d, buf, len);
        }
}

int decompressor_feed(
                struct decompressor *d, const void *buf, size_t len, struct xarch_error **err) {
        if (d->failed)
                return xarch_error_set(err, EINVAL, "decompressor already failed");
        const uint8_t *p = buf;
        d->bytes_in += len;
        int r = 0;
        if (d->kind == XARCH_COMPRESSION_AUTO) {
                size_t take = sizeof(d->magic) - d->n_magic;
                if (take > len)
                        take = len;
                memcpy(d->magic + d->n_magic, p, take);
                d->n_magic += take;
                p += take;
                len -= take;
                if (d->n_magic < sizeof(d->magic))
                        return 0;
                r = choose_kind(d, decompress_detect(d->magic, d->n_magic), err);
                if (r >= 0)
                        r = feed_known(d, d->magic, d->n_magic, err);
        }
        if (r >= 0 && len > 0)
                r = feed_known(d, p, len, err);
        if (r < 0 && d->too_big && err && !*err)
                r = xarch_error_set(err, EFBIG,
                                "decompresses to more than %llu bytes (the limit for one layer)",
                                (unsigned long long) d->limit);
        if (r < 0)
                d->failed = true;
        return r;
}

int decompressor_finish(struct decompressor *d, struct xarch_error **err) {
        if (d->failed)
                return xarch_error_set(err, EINVAL, "decompressor already failed");
        int r = 0;
        if (d->kind == XARCH_COMPRESSION_AUTO) {
                /* fewer than 4 bytes in all */
                r = choose_kind(d, decompress_detect(d->magic, d->n_magic), err);
                if (r >= 0)
                        r = feed_known(d, d->magic, d->n_magic, err);
                if (r < 0)
                        goto fail;
        }
        switch (d->kind) {
        case XARCH_COMPRESSION_GZIP:
                if (d->member_open || d->members == 0)
                        r = xarch_error_set(err, EBADMSG, "gzip: unexpected end of stream");
                break;
        case XARCH_COMPRESSION_ZSTD:
                if (!d->zstd_any || d->zstd_hint != 0)
                        r = xarch_error_set(err, EBADMSG, "zstd: unexpected end of stream");
                break;
        default:
                break;
        }
fail:
        if (r < 0)
                d->failed = true;
        return r;
}
