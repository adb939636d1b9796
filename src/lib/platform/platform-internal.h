/* SPDX-License-Identifier: MIT */
#ifndef XARCH_PLATFORM_INTERNAL_H
#define XARCH_PLATFORM_INTERNAL_H

/*
 * Internal helpers of the platform model (src/lib/platform/platform.c) and host detection
 * (src/lib/platform/hostcpu.c). The /proc parsers take the file text so unit tests can feed samples
 * from other machines.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/platform.h"

/* Go's strconv.Atoi for a 64-bit int: optional sign, at least one decimal digit, no overflow. */
bool go_atoi(const char *s, long long *ret);

/* Whether Go's syslist (as containerd's isKnownOS) knows this (normalised) OS. */
bool platform_os_is_known(const char *os);

/* Number of entries of want's fallback vector (want must be normalised); 0 for an arm64
 * variant outside containerd's table. Saturates at SIZE_MAX. */
size_t platform_vector_length(const struct xarch_platform *want);

/* Position of candidate (normalised) in want's (normalised) vector, or -1. Computed without
 * building the vector, so a huge amd64/vN cannot make it slow. */
long long platform_vector_rank(
                const struct xarch_platform *want, const struct xarch_platform *candidate);

/* The GOARCH this library was compiled for ("amd64", "arm64", ...), NULL if unknown. It is what
 * containerd's runtime.GOARCH would be for a containerd built for the same userland. */
const char *host_compiled_arch(void);

/* containerd's DefaultSpec: {linux, GOARCH, cpuVariant()} (variant on arm/arm64 only); cached. */
void host_default_platform(struct xarch_platform *ret);

/* Value of the first "key : value" line of /proc/cpuinfo text whose key equals `key` (case
 * insensitive, blanks trimmed), written trimmed into buf. Returns the length, or -ENOENT. */
int cpuinfo_field(const char *cpuinfo, const char *key, char *buf, size_t size);

/* containerd's getArmCPUVariant from /proc/cpuinfo text: "v8", "v7", ..., "unknown", or "" when
 * neither "CPU architecture" nor an arm uname machine says anything. arm32 enables the
 * Raspberry Pi ARMv6 quirk (reported as 7, model name "ARMv6-compatible"). */
void cpuinfo_arm_variant(
                const char *cpuinfo, const char *machine, bool arm32, char *buf, size_t size);

/* containerd's getAmd64MicroArchLevel from the "flags" line: 1..4, or 0 without a flags line. */
int cpuinfo_amd64_level(const char *cpuinfo);

/* The CPU model for humans: "model name", else "Processor", "cpu model", "cpu", "uarch", the
 * arm core named from "CPU implementer"/"CPU part", "Hardware"; "" when none is present. */
void cpuinfo_cpu_model(const char *cpuinfo, char *buf, size_t size);

/* x86-64 microarchitecture level from raw CPUID registers (leaf 1 ECX, leaf 7.0 EBX, leaf
 * 0x80000001 ECX) and XCR0 (0 when OSXSAVE is off): the glibc/Go feature sets, including the
 * OS enabling YMM (v3) and opmask/ZMM (v4) state. Returns 1..4. */
int amd64_level_from_cpuid_regs(
                uint32_t leaf1_ecx, uint32_t leaf7_ebx, uint32_t ext1_ecx, uint64_t xcr0);

/* This CPU's x86-64 level from CPUID, 0 when not built for x86-64. */
int amd64_level_from_cpuid(void);

/* Bits of user virtual address space from /proc/self/maps text: the bit length of the highest
 * mapping end, ignoring [vsyscall] (a kernel address). 0 when nothing is mapped. */
unsigned maps_va_bits(const char *maps);

#endif
