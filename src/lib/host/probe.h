/* SPDX-License-Identifier: MIT */
#ifndef XARCH_PROBE_INTERNAL_H
#define XARCH_PROBE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lays out a one-segment static ELF executable around `code`; returns its size, 0 if buf is too
 * small. Exposed for tests, which build odd variants (wrong machine, say). */
size_t probe_build_elf(uint16_t machine, uint8_t elf_class, bool big_endian, uint32_t flags,
                const uint8_t *code, size_t code_len, uint8_t *buf, size_t size);

#endif
