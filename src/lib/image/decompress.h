/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_DECOMPRESS_H
#define XARCH_LIB_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/compression.h"
#include "xarch/error.h"
#include "xarch/registry.h"

/*
 * Streaming decompression of layer blobs (internal): gzip through ISA-L's igzip where the build
 * has it (XARCH_INFLATE=zlib forces zlib), else zlib (every member of a multi-member stream,
 * CRC-32 and ISIZE checked by the inflater, bytes after the last member refused),
 * zstd through libzstd's streaming API (every frame), or none. The kind is taken from the magic
 * bytes; an announced compression (from the media type) that the magic contradicts is refused,
 * except that an announced "none" follows the magic (Docker's legacy layers say "tar" for
 * gzip'd content). Output goes to a sink in pieces of at most DECOMPRESS_CHUNK bytes.
 */

#define DECOMPRESS_CHUNK (128u * 1024)

/* The most one layer may decompress to: 64 GiB, several times the largest real layers (CUDA
 * and model images run to ~10-20 GiB), while a gzip or zstd bomb stops after a minute or so of
 * CPU instead of running for hours. Past it, feeding fails with -EFBIG and says so. */
#define DECOMPRESS_LIMIT (64ull * 1024 * 1024 * 1024)

/* The compression the first bytes show: GZIP, ZSTD, or NONE (anything else). At least 4 bytes
 * are needed to tell; fewer give NONE. */
enum xarch_compression decompress_detect(const void *buf, size_t len);

struct decompressor;

/* announced: what the media type said, or XARCH_COMPRESSION_AUTO. */
int decompressor_new(enum xarch_compression announced, xarch_sink_fn sink, void *userdata,
                struct decompressor **ret, struct xarch_error **err);
void decompressor_free(struct decompressor *d);

/* Feeds compressed bytes; the sink's negative return aborts and is returned. */
int decompressor_feed(
                struct decompressor *d, const void *buf, size_t len, struct xarch_error **err);

/* Declares the end of input: -EBADMSG when the stream stops inside a member or frame, or when
 * no data came at all for gzip/zstd. */
/* Lowers (or raises) the output limit (tests). */
void decompressor_set_limit(struct decompressor *d, uint64_t limit);

int decompressor_finish(struct decompressor *d, struct xarch_error **err);

/* The compression in use (AUTO until the first 4 bytes arrived). */
enum xarch_compression decompressor_kind(const struct decompressor *d);

uint64_t decompressor_bytes_in(const struct decompressor *d);
uint64_t decompressor_bytes_out(const struct decompressor *d);

#endif
