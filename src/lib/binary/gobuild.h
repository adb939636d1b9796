/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BINARY_GOBUILD_H
#define XARCH_LIB_BINARY_GOBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binary/reader.h"
#include "xarch/file.h"

/* Go build information and the toolchain string scans (gobuild.c), exposed for unit tests. */

/* decodes a Go modinfo string (with or without its 16-byte sentinels) into go. */
void go_modinfo_parse(const char *mod, size_t len, struct xarch_go_info *go);

/* where to translate a virtual address into a file offset (for Go 1.13-1.17 blobs). */
struct go_load_segment {
        uint64_t vaddr, offset, filesz;
};

/* finds and decodes a build-info blob. window holds data read at file offset
 * window_off; the blob is searched at 16-byte aligned positions. Strings that lie beyond the
 * window are read through s (bounded). Returns 1 if found, 0 if not, <0 on read errors. */
int go_buildinfo_find(struct xarch_file_analyzer *a, struct file_src *s, const uint8_t *window,
                size_t window_len, uint64_t window_off, const struct go_load_segment *segs,
                size_t n_segs, struct xarch_go_info *go);

/* Go version range from a pclntab header's first 8 bytes; NULL if not a pclntab. */
const char *go_pclntab_version(const uint8_t *hdr, size_t len);

/* finds the first plausible "go1.N[.N]" version string in buf; copies it to ret. */
bool go_version_scan(const uint8_t *buf, size_t len, char *ret, size_t size);

/* finds "/rustc/<40 hex>/" (copies "rustc commit <hash>" to ret) or else Rust's
 * standard library source paths ("library/std/src/", copies "rustc") in buf. */
bool rust_path_scan(const uint8_t *buf, size_t len, char *ret, size_t size);

#endif
