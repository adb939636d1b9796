/* SPDX-License-Identifier: MIT */
/*
 * The binary analysis engine on arbitrary bytes: the whole input as a file read through a
 * random-access reader, the same input with only a prefix available (as from a tar stream),
 * and the section parsers (.ARM.attributes, notes, Go modinfo) directly. Invariants: no
 * failure except from the reader, the description fits its buffer and is NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/file.h"
#include "macro.h"
#include "binary/elf.h"
#include "binary/gobuild.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
        const uint8_t *data;
        size_t size;
};

static ssize_t mem_read(void *userdata, uint64_t off, void *buf, size_t len) {
        const struct mem *m = userdata;
        if (off >= m->size)
                return 0;
        if (len > m->size - off)
                len = m->size - (size_t) off;
        memcpy(buf, m->data + off, len);
        return (ssize_t) len;
}

static void check(bool condition) {
        if (!condition)
                abort();
}

static struct xarch_file_analyzer *analyzer;

static void analyze(const uint8_t *data, size_t size, size_t prefix, bool reader) {
        struct mem m = {data, size};
        struct xarch_file_source src = {
                        .prefix = data,
                        .prefix_len = prefix < size ? prefix : size,
                        .size = size,
                        .read = reader ? mem_read : NULL,
                        .userdata = &m,
        };
        struct xarch_file_info info;
        struct xarch_error *err = NULL;
        char desc[256];
        check(xarch_file_analyze(analyzer, &src, &info, &err) == 0);
        check(err == NULL);
        int n = xarch_file_describe(&info, desc, sizeof(desc));
        check(n >= 0 && (size_t) n < sizeof(desc) && strlen(desc) == (size_t) n);
        check(info.kind != XARCH_FILE_ELF || info.bits == 0 || info.bits == 32 || info.bits == 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!analyzer && xarch_file_analyzer_new(&analyzer, NULL) < 0)
                abort();
        analyze(data, size, 64, true);
        analyze(data, size, size / 2, false);

        struct xarch_arm_attributes attr = {-1, 0, -1, -1, ""};
        (void) arm_attributes_parse(data, size, size & 1, &attr);
        int level = 0;
        bool go_note = false;
        elf_notes_parse(data, size, size & 1, size & 2 ? 8 : 4, &level, &go_note);
        check(level >= 0 && level <= 4);
        struct xarch_go_info go = {.cgo = -1};
        go_modinfo_parse((const char *) data, size, &go);
        char out[64];
        (void) go_version_scan(data, size, out, sizeof(out));
        (void) rust_path_scan(data, size, out, sizeof(out));
        (void) go_pclntab_version(data, size);
        return 0;
}
