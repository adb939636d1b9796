/* SPDX-License-Identifier: MIT */
/*
 * containerd's DefaultSpec for this build: {linux, GOARCH, cpuVariant()} (containerd/platforms
 * defaults.go, cpuinfo.go). Only the compiled architecture, uname and /proc/cpuinfo are read.
 * platform.c (a lone OS in Parse) and hostcpu.c (host detection) both build on this module;
 * it calls neither, so the arrows point one way: hostcpu -> platform -> default-spec.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "xarch/platform.h"
#include "macro.h"
#include "platform/default-spec.h"

/* Enough for the first CPU's block on any machine. */
#define CPUINFO_MAX (256 * 1024)

const char *host_compiled_arch(void) {
#if defined(__x86_64__) && defined(__ILP32__)
        return "amd64p32";
#elif defined(__x86_64__)
        return "amd64";
#elif defined(__i386__)
        return "386";
#elif defined(__aarch64__) && defined(__AARCH64EB__)
        return "arm64be";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__arm__) && defined(__ARMEB__)
        return "armbe";
#elif defined(__arm__)
        return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "ppc64le";
#elif defined(__powerpc64__)
        return "ppc64";
#elif defined(__powerpc__)
        return "ppc";
#elif defined(__s390x__)
        return "s390x";
#elif defined(__s390__)
        return "s390";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#elif defined(__riscv)
        return "riscv";
#elif defined(__loongarch64)
        return "loong64";
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "mips64le";
#elif defined(__mips64)
        return "mips64";
#elif defined(__mips__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "mipsle";
#elif defined(__mips__)
        return "mips";
#elif defined(__sparc__) && defined(__arch64__)
        return "sparc64";
#elif defined(__sparc__)
        return "sparc";
#else
        return NULL;
#endif
}

const char *xarch_arch_from_machine(const char *machine) {
        static const struct {
                const char *machine, *arch;
        } exact[] = {
                        {"x86_64", "amd64"},
                        {"amd64", "amd64"},
                        {"i386", "386"},
                        {"i486", "386"},
                        {"i586", "386"},
                        {"i686", "386"},
                        {"aarch64", "arm64"},
                        {"arm64", "arm64"},
                        {"aarch64_be", "arm64be"},
                        {"ppc64le", "ppc64le"},
                        {"ppc64", "ppc64"},
                        {"ppc", "ppc"},
                        {"s390x", "s390x"},
                        {"s390", "s390"},
                        {"riscv64", "riscv64"},
                        {"riscv32", "riscv"},
                        {"loongarch64", "loong64"},
                        {"mips64", "mips64"},
                        {"mips", "mips"},
                        {"sparc64", "sparc64"},
                        {"sparc", "sparc"},
        };
        if (!machine)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (streq(machine, exact[i].machine))
                        return exact[i].arch;
        /* armv5tel, armv6l, armv7l, armv8l (a 32-bit personality on arm64), armv7b... */
        size_t len = strlen(machine);
        if (strncmp(machine, "arm", 3) == 0 && len > 3 && strchr("lb", machine[len - 1]))
                return machine[len - 1] == 'b' ? "armbe" : "arm";
        if (streq(machine, "arm"))
                return "arm";
        return NULL;
}

bool cpuinfo_blank(char c) {
        return c == ' ' || c == '\t';
}

int cpuinfo_lookup(const char *cpuinfo, const char *key, bool ignore_case, char *buf, size_t size) {
        if (size > 0)
                buf[0] = '\0';
        if (!cpuinfo)
                return -ENOENT;
        size_t key_len = strlen(key);
        for (const char *line = cpuinfo; *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *colon = memchr(line, ':', (size_t) (eol - line));
                if (colon) {
                        const char *k = line, *k_end = colon;
                        while (k < k_end && cpuinfo_blank(*k))
                                k++;
                        while (k_end > k && cpuinfo_blank(k_end[-1]))
                                k_end--;
                        if ((size_t) (k_end - k) == key_len &&
                                        (ignore_case ? strncasecmp(k, key, key_len)
                                                     : strncmp(k, key, key_len)) == 0) {
                                const char *v = colon + 1, *v_end = eol;
                                while (v < v_end && cpuinfo_blank(*v))
                                        v++;
                                while (v_end > v && (cpuinfo_blank(v_end[-1]) || v_end[-1] == '\r'))
                                        v_end--;
                                size_t len = (size_t) (v_end - v);
                                if (size > 0) {
                                        size_t copy = len < size - 1 ? len : size - 1;
                                        memcpy(buf, v, copy);
                                        buf[copy] = '\0';
                                }
                                return len > INT32_MAX ? INT32_MAX : (int) len;
                        }
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

int cpuinfo_field(const char *cpuinfo, const char *key, char *buf, size_t size) {
        return cpuinfo_lookup(cpuinfo, key, true, buf, size);
}

void cpuinfo_arm_variant(
                const char *cpuinfo, const char *machine, bool arm32, char *buf, size_t size) {
        char variant[64];
        if (cpuinfo_field(cpuinfo, "Cpu architecture", variant, sizeof(variant)) < 0) {
                /* No field (emulation, say): derive it from the uname machine. */
                const char *m = machine ? machine : "";
                if (strcasecmp(m, "aarch64") == 0)
                        snprintf(variant, sizeof(variant), "8");
                else if (strncasecmp(m, "armv", 4) == 0 && strlen(m) >= 5) {
                        if (m[4] >= '3' && m[4] <= '8')
                                snprintf(variant, sizeof(variant), "%c", m[4]);
                        else
                                snprintf(variant, sizeof(variant), "unknown");
                } else {
                        snprintf(buf, size, "%s", "");
                        return;
                }
        }

        /* Raspberry Pi ARMv6 boards report "CPU architecture: 7" (a kernel quirk). */
        if (arm32 && streq(variant, "7")) {
                char model[128];
                if (cpuinfo_field(cpuinfo, "model name", model, sizeof(model)) >= 0 &&
                                strncasecmp(model, "armv6-compatible", 16) == 0)
                        snprintf(variant, sizeof(variant), "6");
        }

        static const struct {
                const char *cpu_architecture, *variant;
        } map[] = {
                        {"8", "v8"},
                        {"aarch64", "v8"},
                        {"7", "v7"},
                        {"7m", "v7"},
                        {"?(12)", "v7"},
                        {"?(13)", "v7"},
                        {"?(14)", "v7"},
                        {"?(15)", "v7"},
                        {"?(16)", "v7"},
                        {"?(17)", "v7"},
                        {"6", "v6"},
                        {"6tej", "v6"},
                        {"5", "v5"},
                        {"5t", "v5"},
                        {"5te", "v5"},
                        {"5tej", "v5"},
                        {"4", "v4"},
                        {"4t", "v4"},
                        {"3", "v3"},
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcasecmp(variant, map[i].cpu_architecture) == 0) {
                        snprintf(buf, size, "%s", map[i].variant);
                        return;
                }
        snprintf(buf, size, "%s", "unknown");
}

/* Reads at most max bytes of a /proc file (whose size stat cannot tell); NULL on any failure. */
char *proc_read_text(const char *path, size_t max) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        size_t allocated = 16 * 1024, used = 0;
        _cleanup_free_ char *buf = malloc(allocated + 1);
        if (!buf)
                return NULL;
        while (used < max) {
                if (used == allocated) {
                        size_t grown = allocated * 2 < max ? allocated * 2 : max;
                        char *p = realloc(buf, grown + 1);
                        if (!p)
                                return NULL;
                        buf = p;
                        allocated = grown;
                }
                ssize_t n = read(fd, buf + used, allocated - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return NULL;
                if (n == 0)
                        break;
                used += (size_t) n;
        }
        buf[used] = '\0';
        return steal_ptr(buf);
}

void host_arch_and_variant(const char *machine, const char *cpuinfo, struct xarch_platform *p) {
        const char *arch = host_compiled_arch();
        if (!arch)
                arch = xarch_arch_from_machine(machine);
        snprintf(p->os, sizeof(p->os), "linux");
        snprintf(p->arch, sizeof(p->arch), "%s", arch ? arch : "unknown");
        p->variant[0] = '\0';
        if (streq(p->arch, "arm") || streq(p->arch, "arm64"))
                cpuinfo_arm_variant(cpuinfo, machine, streq(p->arch, "arm"), p->variant,
                                sizeof(p->variant));
}

static struct xarch_platform default_platform;
static pthread_once_t default_platform_once = PTHREAD_ONCE_INIT;

static void default_platform_init(void) {
        struct utsname u;
        const char *machine = uname(&u) == 0 ? u.machine : "";
        _cleanup_free_ char *cpuinfo = NULL;
        const char *arch = host_compiled_arch();
        if (!arch)
                arch = xarch_arch_from_machine(machine);
        /* Only arm needs /proc/cpuinfo for the default spec. */
        if (arch && (streq(arch, "arm") || streq(arch, "arm64")))
                cpuinfo = proc_read_text("/proc/cpuinfo", CPUINFO_MAX);
        host_arch_and_variant(machine, cpuinfo, &default_platform);
}

void host_default_platform(struct xarch_platform *ret) {
        pthread_once(&default_platform_once, default_platform_init);
        *ret = default_platform;
}
