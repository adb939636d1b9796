/* SPDX-License-Identifier: MIT */
#ifndef XARCH_PLATFORM_DEFAULT_SPEC_H
#define XARCH_PLATFORM_DEFAULT_SPEC_H

/*
 * containerd's DefaultSpec for this build (src/lib/platform/default-spec.c) and the
 * /proc/cpuinfo reading it needs. Used by platform.c and hostcpu.c; calls neither. The parsers
 * take the file text so unit tests can feed samples from other machines.
 */

#include <stdbool.h>
#include <stddef.h>

#include "xarch/platform.h"

/* The GOARCH this library was compiled for ("amd64", "arm64", ...), NULL if unknown. It is what
 * containerd's runtime.GOARCH would be for a containerd built for the same userland. */
const char *host_compiled_arch(void);

/* containerd's DefaultSpec: {linux, GOARCH, cpuVariant()} (variant on arm/arm64 only); cached. */
void host_default_platform(struct xarch_platform *ret);

/* {linux, GOARCH (else the uname machine's arch, else "unknown"), arm variant from cpuinfo}. */
void host_arch_and_variant(const char *machine, const char *cpuinfo, struct xarch_platform *p);

/* Reads at most max bytes of a /proc file (whose size stat cannot tell); NULL on any failure. */
char *proc_read_text(const char *path, size_t max);

/* A blank inside a cpuinfo line (space or tab). */
bool cpuinfo_blank(char c);

/* Value of the first "key : value" line of /proc/cpuinfo text whose key equals `key` (blanks
 * trimmed; case insensitive when ignore_case), written trimmed into buf. Returns the length, or
 * -ENOENT. */
int cpuinfo_lookup(const char *cpuinfo, const char *key, bool ignore_case, char *buf, size_t size);

/* cpuinfo_lookup, case insensitive. */
int cpuinfo_field(const char *cpuinfo, const char *key, char *buf, size_t size);

/* containerd's getArmCPUVariant from /proc/cpuinfo text: "v8", "v7", ..., "unknown", or "" when
 * neither "CPU architecture" nor an arm uname machine says anything. arm32 enables the
 * Raspberry Pi ARMv6 quirk (reported as 7, model name "ARMv6-compatible"). */
void cpuinfo_arm_variant(
                const char *cpuinfo, const char *machine, bool arm32, char *buf, size_t size);

#endif
