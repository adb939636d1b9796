/* SPDX-License-Identifier: MIT */
/* The in-memory probe programs: well-formed ELF, claimed by the right QEMU table row, and really
 * executed: natively where the CPU can, and by qemu-user-static for every architecture. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/probe.h"
#include "xarch/xarch.h"

struct expect {
        const char *platform;
        const char *qemu; /* qemu-user target that runs it */
        uint8_t elf_class;
        uint8_t data;
        uint16_t machine;
};

static const struct expect expected[] = {
                {"linux/amd64", "x86_64", 2, 1, 62},
                {"linux/386", "i386", 1, 1, 3},
                {"linux/arm64", "aarch64", 2, 1, 183},
                {"linux/arm/v7", "arm", 1, 1, 40},
                {"linux/arm/v6", "arm", 1, 1, 40},
                {"linux/riscv64", "riscv64", 2, 1, 243},
                {"linux/ppc64le", "ppc64le", 2, 1, 21},
                {"linux/s390x", "s390x", 2, 2, 22},
                {"linux/mips64le", "mips64el", 2, 1, 8},
                {"linux/loong64", "loongarch64", 2, 1, 258},
};

static void test_every_default_platform_has_a_probe(void **state) {
        size_t n;
        const char *const *names = xarch_probe_platforms(&n);
        assert_int_equal(n, sizeof(expected) / sizeof(expected[0]));
        for (size_t i = 0; i < n; i++)
                assert_string_equal(names[i], expected[i].platform);
}

static void test_headers_are_what_qemu_table_expects(void **state) {
        for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
                const struct expect *x = &expected[i];
                uint8_t buf[XARCH_PROBE_MAX_SIZE];
                int n = xarch_probe_build(x->platform, buf, sizeof(buf), NULL);
                assert_true(n > 52);
                assert_memory_equal(buf, "\177ELF", 4);
                assert_int_equal(buf[4], x->elf_class);
                assert_int_equal(buf[5], x->data);
                uint16_t machine = x->data == 1 ? (uint16_t) (buf[18] | buf[19] << 8)
                                                : (uint16_t) (buf[18] << 8 | buf[19]);
                assert_int_equal(machine, x->machine);
                /* The kernel's binfmt_misc rule with QEMU's magic/mask picks the right row. */
                const struct xarch_binfmt_target *t =
                                xarch_binfmt_target_for_header(buf, (size_t) n);
                assert_non_null(t);
                assert_string_equal(t->qemu_name, x->qemu);
        }
}

static void test_aliases_and_errors(void **state) {
        uint8_t a[XARCH_PROBE_MAX_SIZE], b[XARCH_PROBE_MAX_SIZE];
        int na = xarch_probe_build("aarch64", a, sizeof(a), NULL);
        int nb = xarch_probe_build("linux/arm64/v8", b, sizeof(b), NULL);
        assert_true(na > 0);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t) na);
        /* armhf normalises to arm/v7, whose probe needs ARMv7's movw. */
        na = xarch_probe_build("armhf", a, sizeof(a), NULL);
        nb = xarch_probe_build("linux/arm/v7", b, sizeof(b), NULL);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t) na);

        struct xarch_error *err = NULL;
        assert_int_equal(xarch_probe_build("linux/sparc64", a, sizeof(a), &err), -ENOTSUP);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "sparc64"));
        xarch_error_freep(&err);
        assert_int_equal(xarch_probe_build("linux/arm64", a, 16, NULL), -ENOBUFS);
}

static int run_under(const char *qemu, const uint8_t *elf, size_t len, const char *cpu) {
        char path[] = "/tmp/xarch-test-probe-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, elf, len), (ssize_t) len);
        assert_int_equal(fchmod(fd, 0755), 0); /* qemu-user refuses files without x bits */
        close(fd);
        char emulator[64];
        snprintf(emulator, sizeof(emulator), "/usr/bin/qemu-%s-static", qemu);
        if (access(emulator, X_OK) != 0) {
                unlink(path);
                return -1;
        }
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (cpu)
                        execl(emulator, emulator, "-cpu", cpu, path, (char *) NULL);
                else
                        execl(emulator, emulator, path, (char *) NULL);
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        unlink(path);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}

static void test_probes_run_under_qemu(void **state) {
        unsigned ran = 0;
        for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
                uint8_t buf[XARCH_PROBE_MAX_SIZE];
                int n = xarch_probe_build(expected[i].platform, buf, sizeof(buf), NULL);
                assert_true(n > 0);
                int rc = run_under(expected[i].qemu, buf, (size_t) n, NULL);
                if (rc == -1) {
                        print_message("# qemu-%s-static missing, not run\n", expected[i].qemu);
                        continue;
                }
                assert_int_equal(rc, XARCH_PROBE_EXIT_CODE);
                ran++;
        }
        if (ran == 0)
                skip();
}

static void test_arm_v7_probe_needs_armv7(void **state) {
        uint8_t v7[XARCH_PROBE_MAX_SIZE], v6[XARCH_PROBE_MAX_SIZE];
        int n7 = xarch_probe_build("linux/arm/v7", v7, sizeof(v7), NULL);
        int n6 = xarch_probe_build("linux/arm/v6", v6, sizeof(v6), NULL);
        /* An ARM1176 (ARMv6, the Raspberry Pi 1 CPU) runs the v6 probe and not the v7 one. */
        int rc6 = run_under("arm", v6, (size_t) n6, "arm1176");
        if (rc6 == -1)
                skip();
        assert_int_equal(rc6, XARCH_PROBE_EXIT_CODE);
        assert_int_equal(run_under("arm", v7, (size_t) n7, "arm1176"), 128 + 4 /* SIGILL */);
}

static void test_exec_native_probe(void **state) {
        struct utsname u;
        assert_int_equal(uname(&u), 0);
        const char *native = NULL;
        if (strcmp(u.machine, "x86_64") == 0)
                native = "linux/amd64";
        else if (strcmp(u.machine, "aarch64") == 0)
                native = "linux/arm64";
        if (!native)
                skip();
        uint8_t buf[XARCH_PROBE_MAX_SIZE];
        int n = xarch_probe_build(native, buf, sizeof(buf), NULL);
        struct xarch_probe_result res;
        assert_int_equal(xarch_probe_exec(buf, (size_t) n, false, &res, NULL), 0);
        assert_true(res.ran);
        assert_int_equal(res.exit_status, XARCH_PROBE_EXIT_CODE);
        assert_int_equal(xarch_probe_exec(buf, (size_t) n, true, &res, NULL), 0);
        if (res.exec_errno == EPERM || res.exec_errno == EINVAL)
                skip(); /* no namespaces in this sandbox */
        assert_true(res.ran);
}

static void test_exec_reports_exec_format_error(void **state) {
        /* A machine number no handler claims (EM_NONE with a bogus code) must fail with
         * ENOEXEC, the kernel's "exec format error", and must not be reported as run. */
        static const uint8_t code[] = {0};
        uint8_t buf[XARCH_PROBE_MAX_SIZE];
        size_t n = probe_build_elf(0x7777, 2, false, 0, code, sizeof(code), buf, sizeof(buf));
        assert_true(n > 0);
        struct xarch_probe_result res;
        assert_int_equal(xarch_probe_exec(buf, n, false, &res, NULL), 0);
        assert_false(res.ran);
        assert_int_equal(res.exec_errno, ENOEXEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_every_default_platform_has_a_probe),
                        cmocka_unit_test(test_headers_are_what_qemu_table_expects),
                        cmocka_unit_test(test_aliases_and_errors),
                        cmocka_unit_test(test_probes_run_under_qemu),
                        cmocka_unit_test(test_arm_v7_probe_needs_armv7),
                        cmocka_unit_test(test_exec_native_probe),
                        cmocka_unit_test(test_exec_reports_exec_format_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
