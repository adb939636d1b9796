/* SPDX-License-Identifier: MIT */
/*
 * Probe programs: one minimal static ELF executable per architecture, built in memory. Each is
 * an ELF header, one PT_LOAD program header covering the whole file, and three or four
 * instructions that call exit(42). Running one proves that this kernel, natively or through a
 * binfmt_misc handler, can execute that architecture.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "host/probe.h"
#include "xarch/doctor.h"

#define PROBE_BASE_VADDR 0x400000u /* 64 KiB aligned: valid with 4K, 16K and 64K pages */

struct probe_spec {
        const char *platform; /* normalised OCI platform */
        uint16_t machine;
        uint8_t elf_class; /* 1 = 32-bit, 2 = 64-bit */
        uint8_t big_endian;
        uint32_t flags;
        const uint8_t *code;
        size_t code_len;
};

/* exit(42) for each architecture; comments give the assembly. */
static const uint8_t code_amd64[] = {
                0xb8, 0x3c, 0x00, 0x00, 0x00, /* mov $60, %eax   (exit) */
                0xbf, 0x2a, 0x00, 0x00, 0x00, /* mov $42, %edi */
                0x0f, 0x05,                   /* syscall */
};
static const uint8_t code_386[] = {
                0xb8, 0x01, 0x00, 0x00, 0x00, /* mov $1, %eax    (exit) */
                0xbb, 0x2a, 0x00, 0x00, 0x00, /* mov $42, %ebx */
                0xcd, 0x80,                   /* int $0x80 */
};
static const uint8_t code_arm64[] = {
                0x40, 0x05, 0x80, 0xd2, /* mov x0, #42 */
                0xa8, 0x0b, 0x80, 0xd2, /* mov x8, #93    (exit) */
                0x01, 0x00, 0x00, 0xd4, /* svc #0 */
};
/* arm/v7 uses movw, which ARMv6 lacks: an ARMv6 CPU fails this probe with SIGILL. */
static const uint8_t code_arm_v7[] = {
                0x2a, 0x00, 0x00, 0xe3, /* movw r0, #42 */
                0x01, 0x70, 0xa0, 0xe3, /* mov r7, #1      (exit) */
                0x00, 0x00, 0x00, 0xef, /* svc #0 */
};
static const uint8_t code_arm_v6[] = {
                0x2a, 0x00, 0xa0, 0xe3, /* mov r0, #42 */
                0x01, 0x70, 0xa0, 0xe3, /* mov r7, #1      (exit) */
                0x00, 0x00, 0x00, 0xef, /* svc #0 */
};
static const uint8_t code_riscv64[] = {
                0x13, 0x05, 0xa0, 0x02, /* li a0, 42 */
                0x93, 0x08, 0xd0, 0x05, /* li a7, 93       (exit) */
                0x73, 0x00, 0x00, 0x00, /* ecall */
};
static const uint8_t code_ppc64le[] = {
                0x01, 0x00, 0x00, 0x38, /* li r0, 1        (exit) */
                0x2a, 0x00, 0x60, 0x38, /* li r3, 42 */
                0x02, 0x00, 0x00, 0x44, /* sc */
};
static const uint8_t code_s390x[] = {
                0xa7, 0x29, 0x00, 0x2a, /* lghi %r2, 42 */
                0x0a, 0x01,             /* svc 1           (exit) */
};
static const uint8_t code_mips64le[] = {
                0x2a, 0x00, 0x04, 0x64, /* daddiu a0, zero, 42 */
                0xc2, 0x13, 0x02, 0x64, /* daddiu v0, zero, 5058 (n64 exit) */
                0x0c, 0x00, 0x00, 0x00, /* syscall */
};
static const uint8_t code_loong64[] = {
                0x04, 0xa8, 0x80, 0x02, /* addi.w a0, zero, 42 */
                0x0b, 0x74, 0x81, 0x02, /* addi.w a7, zero, 93 (exit) */
                0x00, 0x00, 0x2b, 0x00, /* syscall 0 */
};

#define CODE(c) c, sizeof(c)
static const struct probe_spec probes[] = {
                {"linux/amd64", 62, 2, 0, 0, CODE(code_amd64)},
                {"linux/386", 3, 1, 0, 0, CODE(code_386)},
                {"linux/arm64", 183, 2, 0, 0, CODE(code_arm64)},
                /* EABI version 5, soft-float calling convention (no floating point is used). */
                {"linux/arm/v7", 40, 1, 0, 0x05000200, CODE(code_arm_v7)},
                {"linux/arm/v6", 40, 1, 0, 0x05000200, CODE(code_arm_v6)},
                /* RVC + double-float ABI, like distribution binaries. */
                {"linux/riscv64", 243, 2, 0, 0x5, CODE(code_riscv64)},
                /* ELFv2 ABI: the entry point is code, not a function descriptor. */
                {"linux/ppc64le", 21, 2, 0, 0x2, CODE(code_ppc64le)},
                {"linux/s390x", 22, 2, 1, 0, CODE(code_s390x)},
                /* MIPS64r2, n64 ABI. */
                {"linux/mips64le", 8, 2, 0, 0x80000000u, CODE(code_mips64le)},
                /* Double-float ABI, object ABI v1. */
                {"linux/loong64", 258, 2, 0, 0x43, CODE(code_loong64)},
};

static const char *const probe_platform_names[] = {
                "linux/amd64",
                "linux/386",
                "linux/arm64",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/riscv64",
                "linux/ppc64le",
                "linux/s390x",
                "linux/mips64le",
                "linux/loong64",
};

const char *const *xarch_probe_platforms(size_t *ret_n) {
        if (ret_n)
                *ret_n = ELEMENTSOF(probe_platform_names);
        return probe_platform_names;
}

static void put16(uint8_t *p, uint16_t v, bool be) {
        p[be ? 1 : 0] = v & 0xff;
        p[be ? 0 : 1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v, bool be) {
        for (int i = 0; i < 4; i++)
                p[be ? 3 - i : i] = (v >> (8 * i)) & 0xff;
}

static void put64(uint8_t *p, uint64_t v, bool be) {
        for (int i = 0; i < 8; i++)
                p[be ? 7 - i : i] = (v >> (8 * i)) & 0xff;
}

static void put_word(uint8_t *p, uint64_t v, bool is64, bool be) {
        if (is64)
                put64(p, v, be);
        else
                put32(p, (uint32_t) v, be);
}

static const struct probe_spec *probe_find(const char *platform) {
        struct xarch_platform want;
        if (xarch_platform_parse(platform, &want, NULL) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
                struct xarch_platform p;
                if (xarch_platform_parse(probes[i].platform, &p, NULL) < 0)
                        continue;
                if (xarch_platform_equal(&p, &want))
                        return &probes[i];
        }
        return NULL;
}

size_t probe_build_elf(uint16_t machine, uint8_t elf_class, bool big_endian, uint32_t flags,
                const uint8_t *code, size_t code_len, uint8_t *buf, size_t size) {
        const bool is64 = elf_class == 2;
        const size_t ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32;
        const size_t total = ehsize + phsize + code_len;
        if (total > size)
                return 0;
        memset(buf, 0, total);

        /* e_ident */
        memcpy(buf, "\177ELF", 4);
        buf[4] = elf_class;
        buf[5] = big_endian ? 2 : 1;
        buf[6] = 1; /* EV_CURRENT; EI_OSABI and EI_ABIVERSION stay 0 (System V) */

        uint8_t *p = buf + 16;
        put16(p, 2, big_endian); /* ET_EXEC */
        put16(p + 2, machine, big_endian);
        put32(p + 4, 1, big_endian); /* e_version */
        p += 8;
        const uint64_t entry = PROBE_BASE_VADDR + ehsize + phsize;
        const size_t w = is64 ? 8 : 4;
        put_word(p, entry, is64, big_endian);      /* e_entry */
        put_word(p + w, ehsize, is64, big_endian); /* e_phoff */
        put_word(p + 2 * w, 0, is64, big_endian);  /* e_shoff: no sections */
        p += 3 * w;
        put32(p, flags, big_endian);
        put16(p + 4, (uint16_t) ehsize, big_endian);
        put16(p + 6, (uint16_t) phsize, big_endian);
        put16(p + 8, 1, big_endian); /* e_phnum */
        /* e_shentsize, e_shnum, e_shstrndx stay 0 */

        uint8_t *ph = buf + ehsize;
        put32(ph, 1, big_endian); /* PT_LOAD */
        if (is64) {
                put32(ph + 4, 5, big_endian); /* PF_R | PF_X */
                put64(ph + 8, 0, big_endian); /* p_offset */
                put64(ph + 16, PROBE_BASE_VADDR, big_endian);
                put64(ph + 24, PROBE_BASE_VADDR, big_endian);
                put64(ph + 32, total, big_endian);
                put64(ph + 40, total, big_endian);
                put64(ph + 48, 0x10000, big_endian);
        } else {
                put32(ph + 4, 0, big_endian); /* p_offset */
                put32(ph + 8, PROBE_BASE_VADDR, big_endian);
                put32(ph + 12, PROBE_BASE_VADDR, big_endian);
                put32(ph + 16, (uint32_t) total, big_endian);
                put32(ph + 20, (uint32_t) total, big_endian);
                put32(ph + 24, 5, big_endian); /* PF_R | PF_X */
                put32(ph + 28, 0x10000, big_endian);
        }
        memcpy(buf + ehsize + phsize, code, code_len);
        return total;
}

int xarch_probe_build(const char *platform, uint8_t *buf, size_t size, struct xarch_error **err) {
        const struct probe_spec *s = probe_find(platform);
        if (!s)
                return xarch_error_set(
                                err, ENOTSUP, "no probe program for platform '%s'", platform);
        size_t n = probe_build_elf(s->machine, s->elf_class, s->big_endian, s->flags, s->code,
                        s->code_len, buf, size);
        if (n == 0)
                return xarch_error_set(
                                err, ENOBUFS, "probe for '%s' needs a larger buffer", platform);
        return (int) n;
}

#define PROBE_TIMEOUT_MS 10000

static int write_all(int fd, const void *buf, size_t len) {
        const uint8_t *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write_all(fd, text, strlen(text));
}

/* Child side: reports why it could not exec through the close-on-exec pipe, then exits. */
static _Noreturn void child_fail(int report_fd, int error) {
        int e = error < 0 ? -error : error;
        (void) !write(report_fd, &e, sizeof(e));
        _exit(127);
}

static _Noreturn void child_exec_host(const uint8_t *elf, size_t len, int report_fd) {
        char *const argv[] = {(char *) "xarch-probe", NULL};
        char *const envp[] = {NULL};
        /* Not close-on-exec: an emulator registered without the O flag opens the program by its
         * /dev/fd path, which must still be open after exec. */
        int fd = memfd_create("xarch-probe", 0);
        if (fd < 0)
                child_fail(report_fd, errno);
        int r = write_all(fd, elf, len);
        if (r < 0)
                child_fail(report_fd, r);
        fexecve(fd, argv, envp);
        child_fail(report_fd, errno);
}

static _Noreturn void child_exec_container(
                const uint8_t *elf, size_t len, const char *root, int report_fd) {
        char *const argv[] = {(char *) "/probe", NULL};
        char *const envp[] = {NULL};
        uid_t uid = geteuid();
        gid_t gid = getegid();

        if (uid != 0) {
                /* Unprivileged: a user namespace gives us the right to make a mount namespace;
                 * binfmt_misc lookups still reach the parent's instance. */
                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                        child_fail(report_fd, errno);
                char map[64];
                (void) write_file("/proc/self/setgroups", "deny");
                snprintf(map, sizeof(map), "0 %u 1", (unsigned) uid);
                if (write_file("/proc/self/uid_map", map) < 0)
                        child_fail(report_fd, errno);
                snprintf(map, sizeof(map), "0 %u 1", (unsigned) gid);
                if (write_file("/proc/self/gid_map", map) < 0)
                        child_fail(report_fd, errno);
        } else if (unshare(CLONE_NEWNS) < 0) {
                child_fail(report_fd, errno);
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(report_fd, errno);
        /* An empty tmpfs root, like a container's rootfs that lacks the emulator. Falls back to
         * the (empty) directory itself when tmpfs cannot be mounted. */
        (void) mount("xarch-probe", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755");
        if (chdir(root) < 0)
                child_fail(report_fd, errno);
        int fd = open("probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (fd < 0)
                child_fail(report_fd, errno);
        int r = write_all(fd, elf, len);
        close(fd);
        if (r < 0)
                child_fail(report_fd, r);
        if (chroot(".") < 0)
                child_fail(report_fd, errno);
        execve("/probe", argv, envp);
        child_fail(report_fd, errno);
}

static int wait_with_timeout(pid_t pid, int *status, bool *timed_out) {
        const struct timespec step = {0, 2 * 1000 * 1000};
        *timed_out = false;
        for (int waited_ms = 0;; waited_ms += 2) {
                pid_t r = waitpid(pid, status, WNOHANG);
                if (r == pid)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (waited_ms >= PROBE_TIMEOUT_MS && !*timed_out) {
                        kill(pid, SIGKILL);
                        *timed_out = true;
                }
                nanosleep(&step, NULL);
        }
}

int xarch_probe_exec(const uint8_t *elf, size_t len, bool in_container,
                struct xarch_probe_result *ret, struct xarch_error **err) {
        char root[] = "/tmp/xarch-probe-XXXXXX";
        int pipefd[2];
        *ret = (struct xarch_probe_result){.exit_status = -1};

        if (in_container && !mkdtemp(root))
                return xarch_error_set(err, errno, "create probe root in /tmp: %m");
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                int e = errno;
                if (in_container)
                        rmdir(root);
                return xarch_error_set(err, e, "pipe: %s", strerror(e));
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(pipefd[0]);
                close(pipefd[1]);
                if (in_container)
                        rmdir(root);
                return xarch_error_set(err, e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                close(pipefd[0]);
                if (in_container)
                        child_exec_container(elf, len, root, pipefd[1]);
                child_exec_host(elf, len, pipefd[1]);
        }
        close(pipefd[1]);

        int status = 0;
        int r = wait_with_timeout(pid, &status, &ret->timed_out);
        int child_errno = 0;
        ssize_t n;
        do
                n = read(pipefd[0], &child_errno, sizeof(child_errno));
        while (n < 0 && errno == EINTR);
        close(pipefd[0]);
        if (in_container) {
                /* The tmpfs went away with the child's mount namespace; without tmpfs the probe
                 * file was written into the directory itself. */
                char path[sizeof(root) + 8];
                snprintf(path, sizeof(path), "%s/probe", root);
                unlink(path);
                rmdir(root);
        }
        if (r < 0)
                return xarch_error_set(err, -r, "wait for probe: %s", strerror(-r));

        if (n == (ssize_t) sizeof(child_errno) && child_errno != 0) {
                ret->exec_errno = child_errno;
                return 0;
        }
        if (WIFEXITED(status)) {
                ret->exit_status = WEXITSTATUS(status);
                ret->ran = ret->exit_status == XARCH_PROBE_EXIT_CODE && !ret->timed_out;
        } else if (WIFSIGNALED(status)) {
                ret->term_signal = WTERMSIG(status);
        }
        return 0;
}
