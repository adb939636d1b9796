/* SPDX-License-Identifier: MIT */
#ifndef XARCH_PLATFORM_HOSTCPU_H
#define XARCH_PLATFORM_HOSTCPU_H

/*
 * Host detection internals (src/lib/platform/hostcpu.c): the x86-64 level, the CPU model, the
 * address-space size. Text parsers take the file text so tests can feed other machines' samples.
 */

#include <stddef.h>
#include <stdint.h>

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
