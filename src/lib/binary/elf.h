/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_ELF_H
#define XARCH_LIB_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binary/reader.h"

/*
 * ELF analysis (elf.c), exposed for unit tests. Every parser takes a bounded byte range and never
 * reads outside it.
 */

/* elf.c: analyses an ELF file whose first bytes are "\x7fELF". */
int elf_analyze(struct xarch_file_analyzer *a, struct file_src *s, struct xarch_file_info *info,
                struct xarch_error **err);

/* the platform and file(1) name of an ELF machine; false when it has no OCI name. */
bool elf_machine_platform(uint16_t machine, int bits, bool big_endian, uint32_t flags,
                const char **ret_arch, const char **ret_name);

/* .ARM.attributes contents (starting with 'A'). Returns 0 or -EBADMSG. */
int arm_attributes_parse(
                const uint8_t *buf, size_t len, bool big_endian, struct xarch_arm_attributes *ret);

/* maps Tag_CPU_arch (and profile) to an OCI arm variant ("v5".."v8"), NULL if none. */
const char *arm_cpu_arch_variant(int cpu_arch, int profile);

/* notes in a PT_NOTE segment or SHT_NOTE section: the x86 ISA-needed level (0 if none)
 * and whether a Go build ID note is there. align is the segment alignment (4 or 8). */
void elf_notes_parse(const uint8_t *buf, size_t len, bool big_endian, size_t align,
                int *ret_x86_level, bool *ret_go_note);

#endif
