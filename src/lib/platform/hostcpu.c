/* SPDX-License-Identifier: MIT */
/*
 * What this host is: uname, the OCI platform as containerd's DefaultSpec sees it, the x86-64
 * microarchitecture level from CPUID, the arm variant from /proc/cpuinfo, page size and user
 * address bits. The /proc parsers take text so tests can feed samples from other machines.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "xarch/platform.h"
#include "macro.h"
#include "platform/default-spec.h"
#include "platform/hostcpu.h"

/* Enough for the first CPU's block on any machine, and for the stack line (last) of the maps
 * of a process with tens of thousands of mappings. */
#define CPUINFO_MAX (256 * 1024)
#define MAPS_MAX    (8 * 1024 * 1024)

/* Whether every word of `need` is a blank-separated word of `flags`. */
static bool has_all_flags(const char *flags, const char *const *need, size_t n) {
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(need[i]);
                bool found = false;
                for (const char *p = flags; (p = strstr(p, need[i])); p++)
                        if ((p == flags || cpuinfo_blank(p[-1])) &&
                                        (p[len] == '\0' || cpuinfo_blank(p[len]))) {
                                found = true;
                                break;
                        }
                if (!found)
                        return false;
        }
        return true;
}

int cpuinfo_amd64_level(const char *cpuinfo) {
        static const char *const v2[] = {
                        "cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"};
        static const char *const v3[] = {
                        "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"};
        static const char *const v4[] = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"};
        char flags[8192];
        if (cpuinfo_field(cpuinfo, "flags", flags, sizeof(flags)) < 0)
                return 0;
        int level = 1;
        if (has_all_flags(flags, v2, ELEMENTSOF(v2)))
                level = 2;
        if (level == 2 && has_all_flags(flags, v3, ELEMENTSOF(v3)))
                level = 3;
        if (level == 3 && has_all_flags(flags, v4, ELEMENTSOF(v4)))
                level = 4;
        return level;
}

/* arm64 kernels print no model name, only the MIDR fields: name the common cores (the
 * implementer and part numbers of the Arm ARM, as lscpu's table). */
static const struct {
        unsigned implementer, part;
        const char *name;
} arm_parts[] = {
                {0x41, 0xb76, "ARM1176"},
                {0x41, 0xc07, "Cortex-A7"},
                {0x41, 0xc08, "Cortex-A8"},
                {0x41, 0xc09, "Cortex-A9"},
                {0x41, 0xc0f, "Cortex-A15"},
                {0x41, 0xd03, "Cortex-A53"},
                {0x41, 0xd04, "Cortex-A35"},
                {0x41, 0xd05, "Cortex-A55"},
                {0x41, 0xd07, "Cortex-A57"},
                {0x41, 0xd08, "Cortex-A72"},
                {0x41, 0xd09, "Cortex-A73"},
                {0x41, 0xd0a, "Cortex-A75"},
                {0x41, 0xd0b, "Cortex-A76"},
                {0x41, 0xd0c, "Neoverse-N1"},
                {0x41, 0xd0d, "Cortex-A77"},
                {0x41, 0xd40, "Neoverse-V1"},
                {0x41, 0xd41, "Cortex-A78"},
                {0x41, 0xd44, "Cortex-X1"},
                {0x41, 0xd46, "Cortex-A510"},
                {0x41, 0xd47, "Cortex-A710"},
                {0x41, 0xd48, "Cortex-X2"},
                {0x41, 0xd49, "Neoverse-N2"},
                {0x41, 0xd4f, "Neoverse-V2"},
                {0x41, 0xd84, "Neoverse-V3"},
                {0x41, 0xd8e, "Neoverse-N3"},
                {0x46, 0x001, "A64FX"},
                {0x48, 0xd01, "TaiShan-v110"},
                {0xc0, 0xac3, "Ampere-1"},
};

static bool cpuinfo_hex(const char *cpuinfo, const char *key, unsigned *ret) {
        char value[32], *end;
        if (cpuinfo_field(cpuinfo, key, value, sizeof(value)) <= 0)
                return false;
        errno = 0;
        unsigned long v = strtoul(value, &end, 0);
        if (errno || *end || v > 0xffff)
                return false;
        *ret = (unsigned) v;
        return true;
}

void cpuinfo_cpu_model(const char *cpuinfo, char *buf, size_t size) {
        /* "Processor" is the old ARM kernels' model line; "processor" is a CPU number. */
        static const struct {
                const char *key;
                bool ignore_case;
        } keys[] = {{"model name", true}, {"Processor", false}, {"cpu model", true}, {"cpu", false},
                        {"uarch", true}};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (cpuinfo_lookup(cpuinfo, keys[i].key, keys[i].ignore_case, buf, size) > 0)
                        return;
        unsigned implementer, part;
        if (cpuinfo_hex(cpuinfo, "CPU implementer", &implementer) &&
                        cpuinfo_hex(cpuinfo, "CPU part", &part)) {
                for (size_t i = 0; i < ELEMENTSOF(arm_parts); i++)
                        if (arm_parts[i].implementer == implementer && arm_parts[i].part == part) {
                                snprintf(buf, size, "%s", arm_parts[i].name);
                                return;
                        }
                snprintf(buf, size, "CPU implementer 0x%02x part 0x%03x", implementer, part);
                return;
        }
        if (cpuinfo_lookup(cpuinfo, "Hardware", true, buf, size) > 0)
                return;
        if (size > 0)
                buf[0] = '\0';
}

/* CPUID bits (Intel SDM vol. 2A, CPUID; AMD APM vol. 3). */
enum {
        LEAF1_ECX_SSE3 = 1u << 0,
        LEAF1_ECX_SSSE3 = 1u << 9,
        LEAF1_ECX_FMA = 1u << 12,
        LEAF1_ECX_CX16 = 1u << 13,
        LEAF1_ECX_SSE41 = 1u << 19,
        LEAF1_ECX_SSE42 = 1u << 20,
        LEAF1_ECX_MOVBE = 1u << 22,
        LEAF1_ECX_POPCNT = 1u << 23,
        LEAF1_ECX_XSAVE = 1u << 26,
        LEAF1_ECX_OSXSAVE = 1u << 27,
        LEAF1_ECX_AVX = 1u << 28,
        LEAF1_ECX_F16C = 1u << 29,
        LEAF7_EBX_BMI1 = 1u << 3,
        LEAF7_EBX_AVX2 = 1u << 5,
        LEAF7_EBX_BMI2 = 1u << 8,
        LEAF7_EBX_AVX512F = 1u << 16,
        LEAF7_EBX_AVX512DQ = 1u << 17,
        LEAF7_EBX_AVX512CD = 1u << 28,
        LEAF7_EBX_AVX512BW = 1u << 30,
        LEAF7_EBX_AVX512VL = 1u << 31,
        EXT1_ECX_LAHF = 1u << 0,
        EXT1_ECX_ABM = 1u << 5, /* LZCNT */
};

/* XCR0 state components the OS must enable: SSE+AVX (YMM), and opmask+ZMM for AVX-512. */
#define XCR0_YMM    0x06u
#define XCR0_AVX512 0xe0u

static bool all_bits(uint32_t value, uint32_t mask) {
        return (value & mask) == mask;
}

int amd64_level_from_cpuid_regs(
                uint32_t leaf1_ecx, uint32_t leaf7_ebx, uint32_t ext1_ecx, uint64_t xcr0) {
        const uint32_t v2_ecx = LEAF1_ECX_SSE3 | LEAF1_ECX_SSSE3 | LEAF1_ECX_CX16 |
                                LEAF1_ECX_SSE41 | LEAF1_ECX_SSE42 | LEAF1_ECX_POPCNT;
        const uint32_t v3_ecx = LEAF1_ECX_FMA | LEAF1_ECX_MOVBE | LEAF1_ECX_XSAVE |
                                LEAF1_ECX_OSXSAVE | LEAF1_ECX_AVX | LEAF1_ECX_F16C;
        const uint32_t v3_ebx = LEAF7_EBX_BMI1 | LEAF7_EBX_AVX2 | LEAF7_EBX_BMI2;
        const uint32_t v4_ebx = LEAF7_EBX_AVX512F | LEAF7_EBX_AVX512DQ | LEAF7_EBX_AVX512CD |
                                LEAF7_EBX_AVX512BW | LEAF7_EBX_AVX512VL;

        if (!all_bits(leaf1_ecx, v2_ecx) || !all_bits(ext1_ecx, EXT1_ECX_LAHF))
                return 1;
        if (!all_bits(leaf1_ecx, v3_ecx) || !all_bits(leaf7_ebx, v3_ebx) ||
                        !all_bits(ext1_ecx, EXT1_ECX_ABM) || (xcr0 & XCR0_YMM) != XCR0_YMM)
                return 2;
        if (!all_bits(leaf7_ebx, v4_ebx) || (xcr0 & XCR0_AVX512) != XCR0_AVX512)
                return 3;
        return 4;
}

int amd64_level_from_cpuid(void) {
#if defined(__x86_64__)
        unsigned a, b, c, d;
        uint32_t leaf1_ecx = 0, leaf7_ebx = 0, ext1_ecx = 0;
        uint64_t xcr0 = 0;
        if (__get_cpuid(1, &a, &b, &c, &d))
                leaf1_ecx = c;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
                leaf7_ebx = b;
        if (__get_cpuid(0x80000001u, &a, &b, &c, &d))
                ext1_ecx = c;
        /* XGETBV faults unless the OS enabled XSAVE (OSXSAVE). */
        if (leaf1_ecx & LEAF1_ECX_OSXSAVE) {
                uint32_t lo, hi;
                __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
                xcr0 = ((uint64_t) hi << 32) | lo;
        }
        return amd64_level_from_cpuid_regs(leaf1_ecx, leaf7_ebx, ext1_ecx, xcr0);
#else
        return 0;
#endif
}

unsigned maps_va_bits(const char *maps) {
        unsigned long long highest = 0;
        if (!maps)
                return 0;
        for (const char *line = maps; *line;) {
                const char *eol = strchrnul(line, '\n');
                unsigned long long start, end;
                if (sscanf(line, "%llx-%llx", &start, &end) == 2 && end > start) {
                        const char *name = memmem(line, (size_t) (eol - line), "[vsyscall]", 10);
                        if (!name && end > highest)
                                highest = end;
                }
                line = *eol ? eol + 1 : eol;
        }
        /* a mapping ending at 1 has its last byte at address 0: no bits to count (and
         * __builtin_clzll(0) is undefined) */
        if (highest <= 1)
                return 0;
        /* The end is exclusive: the bit length of the last mapped byte's address. */
        return 64u - (unsigned) __builtin_clzll(highest - 1);
}

int xarch_host_detect(struct xarch_host *ret, struct xarch_error **err) {
        if (!ret)
                return xarch_error_set(err, EINVAL, "no place to store the host description");
        struct xarch_host h = {0};
        struct utsname u;
        if (uname(&u) == 0)
                snprintf(h.machine, sizeof(h.machine), "%s", u.machine);

        _cleanup_free_ char *cpuinfo = proc_read_text("/proc/cpuinfo", CPUINFO_MAX);
        host_arch_and_variant(h.machine, cpuinfo, &h.platform);
        if (streq(h.platform.arch, "amd64"))
                h.amd64_level = amd64_level_from_cpuid();
        cpuinfo_cpu_model(cpuinfo, h.cpu_model, sizeof(h.cpu_model));

        long page = sysconf(_SC_PAGESIZE);
        h.page_size = page > 0 ? (unsigned) page : 0;

        _cleanup_free_ char *maps = proc_read_text("/proc/self/maps", MAPS_MAX);
        h.va_bits = maps_va_bits(maps);

        *ret = h;
        return 0;
}

int xarch_host_format_with_level(const struct xarch_host *host, char *buf, size_t size) {
        if (!host || !buf)
                return -EINVAL;
        struct xarch_platform p = host->platform;
        if (streq(p.arch, "amd64") && host->amd64_level > 1)
                snprintf(p.variant, sizeof(p.variant), "v%d", host->amd64_level);
        return xarch_platform_format(&p, buf, size);
}
