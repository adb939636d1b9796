/* SPDX-License-Identifier: MIT */
#ifndef XARCH_COMPRESSION_H
#define XARCH_COMPRESSION_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Layer compression: what a media type announces and what the bytes are. The decompressor and
 * the layer scanner both speak it; it belongs to neither.
 */

enum xarch_compression {
        XARCH_COMPRESSION_AUTO = 0, /* detect from the magic bytes */
        XARCH_COMPRESSION_NONE,
        XARCH_COMPRESSION_GZIP,
        XARCH_COMPRESSION_ZSTD,
};

const char *xarch_compression_name(enum xarch_compression c);

/* The compression a layer media type announces (OCI ...tar, ...tar+gzip, ...tar+zstd, Docker
 * rootfs.diff.tar[.gzip], foreign layers). -EPROTONOSUPPORT for anything else. */
int xarch_compression_from_media_type(const char *media_type, enum xarch_compression *ret);

/* The gzip inflater layers go through, with its version: "isa-l 2.30.0" when the build has
 * ISA-L (unless the environment says XARCH_INFLATE=zlib), else "zlib 1.2.13". */
const char *xarch_inflate_engine(void);

#ifdef __cplusplus
}
#endif

#endif
