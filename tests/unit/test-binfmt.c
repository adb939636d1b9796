/* SPDX-License-Identifier: MIT */
/*
 * binfmt module: the QEMU table decoded and self-checked against minimal ELF headers, entry
 * parsing of real kernel outputs and hostile texts, the match rule, register-line formatting,
 * export files, and a round trip through a real private binfmt_misc instance (a new user and
 * mount namespace, Linux >= 6.7; skipped where that is not allowed).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/binfmt-internal.h"
#include "macro.h"
#include "xarch/binfmt.h"

/* ---- the table ---- */

/* What each row must accept, from the ELF spec and binutils' EM_* values, independently of the
 * table's own bytes. abi2 marks the mips n32 rows (EF_MIPS_ABI2 in e_flags). */
static const struct {
        const char *name;
        uint8_t elf_class; /* 1 = 32-bit, 2 = 64-bit */
        uint8_t data;      /* 1 = little-endian, 2 = big-endian */
        uint16_t machine;
        bool abi2;
} expected_rows[] = {
                {"i386", 1, 1, 3, false},
                {"i486", 1, 1, 6, false},
                {"x86_64", 2, 1, 62, false},
                {"alpha", 2, 1, 0x9026, false},
                {"arm", 1, 1, 40, false},
                {"armeb", 1, 2, 40, false},
                {"sparc", 1, 2, 2, false},
                {"sparc32plus", 1, 2, 18, false},
                {"sparc64", 2, 2, 43, false},
                {"ppc", 1, 2, 20, false},
                {"ppc64", 2, 2, 21, false},
                {"ppc64le", 2, 1, 21, false},
                {"m68k", 1, 2, 4, false},
                {"mips", 1, 2, 8, false},
                {"mipsel", 1, 1, 8, false},
                {"mipsn32", 1, 2, 8, true},
                {"mipsn32el", 1, 1, 8, true},
                {"mips64", 2, 2, 8, false},
                {"mips64el", 2, 1, 8, false},
                {"sh4", 1, 1, 42, false},
                {"sh4eb", 1, 2, 42, false},
                {"s390x", 2, 2, 22, false},
                {"aarch64", 2, 1, 183, false},
                {"aarch64_be", 2, 2, 183, false},
                {"hppa", 1, 2, 15, false},
                {"riscv32", 1, 1, 243, false},
                {"riscv64", 2, 1, 243, false},
                {"xtensa", 1, 1, 94, false},
                {"xtensaeb", 1, 2, 94, false},
                {"microblaze", 1, 2, 0xbaab, false},
                {"microblazeel", 1, 1, 0xbaab, false},
                {"or1k", 1, 2, 92, false},
                {"hexagon", 1, 1, 164, false},
                {"loongarch64", 2, 1, 258, false},
};

static void put16(uint8_t *p, uint16_t v, bool be) {
        p[be ? 1 : 0] = (uint8_t) v;
        p[be ? 0 : 1] = (uint8_t) (v >> 8);
}

static void put32(uint8_t *p, uint32_t v, bool be) {
        for (int i = 0; i < 4; i++)
                p[be ? 3 - i : i] = (uint8_t) (v >> (8 * i));
}

/* A minimal ELF header: ident, e_type, e_machine, e_version and (32-bit) e_flags. */
static void make_header(uint8_t hdr[64], uint8_t elf_class, uint8_t data, uint16_t machine,
                uint16_t type, uint8_t osabi, bool abi2) {
        bool be = data == 2;
        memset(hdr, 0, 64);
        memcpy(hdr, "\177ELF", 4);
        hdr[4] = elf_class;
        hdr[5] = data;
        hdr[6] = 1;
        hdr[7] = osabi;
        put16(hdr + 16, type, be);
        put16(hdr + 18, machine, be);
        put32(hdr + 20, 1, be);
        if (elf_class == 1)
                put32(hdr + 36, abi2 ? 0x20 : 0x1000, be); /* EF_MIPS_ABI2, or EF_MIPS_ABI_O32 */
        else
                put32(hdr + 48, 0, be);
}

static bool row_matches(const struct xarch_binfmt_target *t, const uint8_t *hdr) {
        for (size_t i = 0; i < t->len; i++)
                if ((hdr[i] ^ t->magic[i]) & t->mask[i])
                        return false;
        return true;
}

static void test_table_self_check(void **state) {
        size_t n = 0;
        const struct xarch_binfmt_target *table = xarch_binfmt_targets(&n);
        assert_int_equal(n, ELEMENTSOF(expected_rows));
        for (size_t i = 0; i < n; i++) {
                const struct xarch_binfmt_target *t = &table[i];
                assert_string_equal(t->qemu_name, expected_rows[i].name);
                assert_int_equal(t->e_machine, expected_rows[i].machine);
                bool is_mips32 = strncmp(t->qemu_name, "mips", 4) == 0 &&
                                 strncmp(t->qemu_name, "mips64", 6) != 0;
                assert_int_equal(t->len, is_mips32 ? 40 : 20);
                /* the magic is itself a header the mask accepts */
                assert_true(row_matches(t, t->magic));

                uint8_t hdr[64];
                bool microblaze_be = streq(t->qemu_name, "microblaze");
                /* ET_EXEC and ET_DYN (PIE, ld.so), SYSV and GNU/Linux OSABI */
                const uint16_t types[] = {2, 3};
                const uint8_t osabis[] = {0, 3};
                for (size_t ti = 0; ti < ELEMENTSOF(types); ti++)
                        for (size_t oi = 0; oi < ELEMENTSOF(osabis); oi++) {
                                make_header(hdr, expected_rows[i].elf_class, expected_rows[i].data,
                                                expected_rows[i].machine, types[ti], osabis[oi],
                                                expected_rows[i].abi2);
                                if (microblaze_be) {
                                        /* upstream's anomaly (binfmt.md §2.3): e_type is written
                                         * little-endian, so no real big-endian file matches */
                                        assert_false(row_matches(t, hdr));
                                        continue;
                                }
                                if (!row_matches(t, hdr))
                                        fail_msg("row %s does not match its own header",
                                                        t->qemu_name);
                                assert_ptr_equal(xarch_binfmt_target_for_header(hdr, sizeof(hdr)),
                                                t);
                                /* and no other row claims it */
                                for (size_t j = 0; j < n; j++)
                                        if (j != i && row_matches(&table[j], hdr))
                                                fail_msg("%s header also matches %s", t->qemu_name,
                                                                table[j].qemu_name);
                        }
                /* an ELF core file or relocatable object is never handed to QEMU */
                make_header(hdr, expected_rows[i].elf_class, expected_rows[i].data,
                                expected_rows[i].machine, 1, 0, expected_rows[i].abi2);
                assert_false(row_matches(t, hdr));
        }
}

static void test_table_exact_strings(void **state) {
        /* spot checks against the script's literal text (split so \x7f does not eat 'E') */
        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup("aarch64");
        assert_non_null(t);
        assert_memory_equal(t->magic,
                        "\x7f"
                        "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
                        20);
        assert_memory_equal(t->mask,
                        "\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff"
                        "\xff\xff",
                        20);
        t = xarch_binfmt_target_lookup("loongarch64");
        assert_memory_equal(t->mask,
                        "\xff\xff\xff\xff\xff\xff\xff\xfc\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff"
                        "\xff\xff",
                        20);
        t = xarch_binfmt_target_lookup("mipsn32el");
        assert_memory_equal(t->magic + 20,
                        "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x20\x00"
                        "\x00\x00",
                        20);
        t = xarch_binfmt_target_lookup("ppc64le");
        assert_memory_equal(t->mask + 16, "\xfe\xff\xff\x00", 4);
        assert_string_equal(t->family, "ppcle");
        t = xarch_binfmt_target_lookup("x86_64");
        assert_string_equal(t->family, "i386");
        assert_string_equal(t->oci_arch, "amd64");
}

static void test_lookup(void **state) {
        static const struct {
                const char *in, *qemu;
        } cases[] = {
                        {"arm64", "aarch64"},
                        {"aarch64", "aarch64"},
                        {"qemu-aarch64", "aarch64"},
                        {"linux/arm64", "aarch64"},
                        {"linux/arm64/v8", "aarch64"},
                        {"arm64/v8", "aarch64"},
                        {"linux/arm/v7", "arm"},
                        {"arm/v6", "arm"},
                        {"armhf", "arm"},
                        {"armv7l", "arm"},
                        {"386", "i386"},
                        {"i686", "i386"},
                        {"i486", "i486"},
                        {"amd64", "x86_64"},
                        {"x86_64", "x86_64"},
                        {"x86-64", "x86_64"},
                        {"linux/amd64/v3", "x86_64"},
                        {"loong64", "loongarch64"},
                        {"mips64le", "mips64el"},
                        {"mipsle", "mipsel"},
                        {"ppc64el", "ppc64le"},
                        {"ppc64le", "ppc64le"},
                        {"riscv64", "riscv64"},
                        {"s390x", "s390x"},
                        {"RISCV64", "riscv64"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(cases[i].in);
                if (!t)
                        fail_msg("'%s' not found", cases[i].in);
                assert_string_equal(t->qemu_name, cases[i].qemu);
        }
        const char *unknown[] = {"", "foo", "linux", "linux/", "/", "a/b/c/d", "qemu-",
                        "linux/arm64/v8/x", "wasm"};
        for (size_t i = 0; i < ELEMENTSOF(unknown); i++)
                if (xarch_binfmt_target_lookup(unknown[i]))
                        fail_msg("'%s' should be unknown", unknown[i]);
        assert_null(xarch_binfmt_target_lookup(NULL));
        char longname[200];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        assert_null(xarch_binfmt_target_lookup(longname));
        /* the ten OCI architectures doctor checks all have rows and names */
        const char *oci[] = {"amd64", "386", "arm64", "arm", "riscv64", "ppc64le", "s390x",
                        "mips64le", "loong64"};
        for (size_t i = 0; i < ELEMENTSOF(oci); i++)
                assert_string_equal(xarch_binfmt_target_lookup(oci[i])->oci_arch, oci[i]);
        assert_string_equal(
                        xarch_binfmt_target_emulator(xarch_binfmt_target_lookup("i486")), "i386");
}

static void test_family(void **state) {
        const struct xarch_binfmt_target *x86 = binfmt_target_for_machine("x86_64");
        const struct xarch_binfmt_target *a64 = binfmt_target_for_machine("aarch64");
        assert_non_null(x86);
        assert_non_null(a64);
        assert_true(binfmt_same_family(x86, xarch_binfmt_target_lookup("i386")));
        assert_true(binfmt_same_family(x86, xarch_binfmt_target_lookup("i486")));
        assert_false(binfmt_same_family(x86, a64));
        assert_true(binfmt_same_family(a64, xarch_binfmt_target_lookup("arm")));
        assert_false(binfmt_same_family(a64, xarch_binfmt_target_lookup("armeb")));
        assert_false(binfmt_same_family(binfmt_target_for_machine("riscv64"),
                        xarch_binfmt_target_lookup("riscv32")));
        assert_ptr_equal(binfmt_target_for_machine("armv7l"), xarch_binfmt_target_lookup("arm"));
        assert_ptr_equal(binfmt_target_for_machine("ppc64el"),
                        xarch_binfmt_target_lookup("ppc64le"));
        assert_null(binfmt_target_for_machine("vax"));
        /* the host itself is in its own family */
        const struct xarch_binfmt_target *host = xarch_binfmt_host_target();
        if (host)
                assert_true(xarch_binfmt_target_is_host_family(host));
}

/* ---- entry files ---- */

/* binfmt.md §1.4, reproduced on Linux 6.18 */
static const char qemu_aarch64_text[] = "enabled\n"
                                        "interpreter /usr/bin/qemu-aarch64-static\n"
                                        "flags: POCF\n"
                                        "offset 0\n"
                                        "magic 7f454c460201010000000000000000000200b700\n"
                                        "mask ffffffffffffff00fffffffffffffffffeffffff\n";
static const char ext_entry_text[] = "enabled\n"
                                     "interpreter /bin/cat\n"
                                     "flags: \n"
                                     "extension .foo\n";

static void test_parse_kernel_examples(void **state) {
        struct xarch_binfmt_entry e;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_binfmt_entry_parse("qemu-aarch64", qemu_aarch64_text,
                                         strlen(qemu_aarch64_text), &e, &err),
                        0);
        assert_null(err);
        assert_string_equal(e.name, "qemu-aarch64");
        assert_true(e.enabled);
        assert_string_equal(e.interpreter, "/usr/bin/qemu-aarch64-static");
        assert_int_equal(e.flags, XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_O | XARCH_BINFMT_FLAG_C |
                                                  XARCH_BINFMT_FLAG_F);
        assert_false(e.is_extension);
        assert_int_equal(e.offset, 0);
        assert_int_equal(e.magic_len, 20);
        assert_true(e.has_mask);
        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup("aarch64");
        assert_memory_equal(e.magic, t->magic, 20);
        assert_memory_equal(e.mask, t->mask, 20);
        binfmt_entry_derive(&e);
        assert_ptr_equal(e.target, t);
        assert_int_equal(e.kind, XARCH_BINFMT_KIND_QEMU);

        assert_int_equal(xarch_binfmt_entry_parse("ext-entry", ext_entry_text,
                                         strlen(ext_entry_text), &e, &err),
                        0);
        assert_true(e.is_extension);
        assert_string_equal(e.extension, "foo");
        assert_int_equal(e.flags, 0);
        assert_string_equal(e.interpreter, "/bin/cat");
        binfmt_entry_derive(&e);
        assert_null(e.target);
        assert_int_equal(e.kind, XARCH_BINFMT_KIND_OTHER);

        /* WSL's registration as the kernel shows it: no mask, disabled, offset 0 */
        const char wsl[] = "disabled\ninterpreter /init\nflags: PF\noffset 0\nmagic 4d5a\n";
        assert_int_equal(xarch_binfmt_entry_parse("WSLInterop", wsl, strlen(wsl), &e, &err), 0);
        assert_false(e.enabled);
        assert_false(e.has_mask);
        assert_int_equal(e.magic_len, 2);
        assert_int_equal(e.mask[0], 0xff);
        assert_int_equal(e.mask[1], 0xff);
        assert_int_equal(e.flags, XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_F);
        binfmt_entry_derive(&e);
        assert_null(e.target);

        /* an interpreter with spaces and an offset at the limit */
        const char odd[] = "enabled\ninterpreter /opt/my tools/run x\nflags: OC\noffset 127\n"
                           "magic 41\n";
        assert_int_equal(xarch_binfmt_entry_parse("odd", odd, strlen(odd), &e, &err), 0);
        assert_string_equal(e.interpreter, "/opt/my tools/run x");
        assert_int_equal(e.offset, 127);
        assert_int_equal(e.flags, XARCH_BINFMT_FLAG_O | XARCH_BINFMT_FLAG_C);
        assert_null(err);
}

static void test_parse_hostile(void **state) {
        static const char *const bad[] = {
                        "",
                        "enabled",
                        "enabled\n",
                        "enabled\r\ninterpreter /x\nflags: \nextension .a\n",
                        "Enabled\ninterpreter /x\nflags: \nextension .a\n",
                        "enabled\ninterpreter \nflags: \nextension .a\n",
                        "enabled\ninterpreter /x\nflags:\nextension .a\n",
                        "enabled\ninterpreter /x\nflags: FP\nextension .a\n",
                        "enabled\ninterpreter /x\nflags: PP\nextension .a\n",
                        "enabled\ninterpreter /x\nflags: X\nextension .a\n",
                        "enabled\ninterpreter /x\nflags: \nextension .\n",
                        "enabled\ninterpreter /x\nflags: \nextension foo\n",
                        "enabled\ninterpreter /x\nflags: \nextension .a",
                        "enabled\ninterpreter /x\nflags: \nextension .a\nextra\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic \n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7F\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic zz\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7f\nmask ff00\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7f\nmask \n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7f\nmask ff\nmask ff\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7f\nbogus ff\n",
                        "enabled\ninterpreter /x\nflags: \noffset 256\nmagic 7f\n",
                        "enabled\ninterpreter /x\nflags: \noffset 255\nmagic 7f7f\n",
                        "enabled\ninterpreter /x\nflags: \noffset -1\nmagic 7f\n",
                        "enabled\ninterpreter /x\nflags: \noffset 01\nmagic 7f\n",
                        "enabled\ninterpreter /x\nflags: \noffset \nmagic 7f\n",
                        "enabled\ninterpreter /x\nflags: \noffset 99999999999999999999\nmagic 7f\n",
                        "enabled\ninterpreter /x\nflags: \noffset 0\nmagic 7f\n\n",
                        "enabled\ninterpreter /x\nflags: \n",
                        "enabled\nflags: \ninterpreter /x\noffset 0\nmagic 7f\n",
        };
        struct xarch_binfmt_entry e;
        memset(&e, 0x5a, sizeof(e));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct xarch_error *err = NULL;
                int r = xarch_binfmt_entry_parse("x", bad[i], strlen(bad[i]), &e, &err);
                if (r != -EINVAL)
                        fail_msg("case %zu parsed (r=%d): %s", i, r, bad[i]);
                assert_non_null(err);
                assert_non_null(err->msg);
                xarch_error_freep(&err);
                /* a failed parse leaves the result untouched */
                assert_int_equal(((unsigned char *) &e)[0], 0x5a);
        }

        /* 257 magic bytes, a NUL inside, an oversized file, invalid names */
        char big[BINFMT_ENTRY_FILE_MAX + 16];
        int n = snprintf(big, sizeof(big), "enabled\ninterpreter /x\nflags: \noffset 0\nmagic ");
        for (int i = 0; i < 257; i++)
                n += snprintf(big + n, sizeof(big) - (size_t) n, "41");
        n += snprintf(big + n, sizeof(big) - (size_t) n, "\n");
        assert_int_equal(xarch_binfmt_entry_parse("x", big, (size_t) n, &e, NULL), -EINVAL);
        const char nul[] = "enabled\ninterpreter /x\0y\nflags: \nextension .a\n";
        assert_int_equal(xarch_binfmt_entry_parse("x", nul, sizeof(nul) - 1, &e, NULL), -EINVAL);
        memset(big, 'a', sizeof(big));
        assert_int_equal(xarch_binfmt_entry_parse("x", big, sizeof(big), &e, NULL), -EINVAL);
        const char ok[] = "enabled\ninterpreter /x\nflags: \nextension .a\n";
        assert_int_equal(xarch_binfmt_entry_parse("", ok, strlen(ok), &e, NULL), -EINVAL);
        assert_int_equal(xarch_binfmt_entry_parse("a/b", ok, strlen(ok), &e, NULL), -EINVAL);
        assert_int_equal(xarch_binfmt_entry_parse("..", ok, strlen(ok), &e, NULL), -EINVAL);
        assert_int_equal(xarch_binfmt_entry_parse(NULL, ok, strlen(ok), &e, NULL), -EINVAL);
        assert_int_equal(xarch_binfmt_entry_parse("x", ok, strlen(ok), &e, NULL), 0);
        /* a too-long interpreter (4096 bytes) */
        n = snprintf(big, sizeof(big), "enabled\ninterpreter /");
        memset(big + n, 'a', 4095);
        n += 4095;
        n += snprintf(big + n, sizeof(big) - (size_t) n, "\nflags: \nextension .a\n");
        assert_int_equal(xarch_binfmt_entry_parse("x", big, (size_t) n, &e, NULL), -EINVAL);
}

static void test_flags_format(void **state) {
        char buf[5];
        static const struct {
                unsigned flags;
                const char *text;
        } cases[] = {
                        {0, ""},
                        {XARCH_BINFMT_FLAG_F, "F"},
                        {XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_F, "PF"},
                        {XARCH_BINFMT_FLAG_C, "OC"}, /* C implies O */
                        {XARCH_BINFMT_FLAG_C | XARCH_BINFMT_FLAG_F | XARCH_BINFMT_FLAG_P, "POCF"},
                        {XARCH_BINFMT_FLAG_O, "O"},
                        {0xf, "POCF"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                xarch_binfmt_flags_format(cases[i].flags, buf);
                assert_string_equal(buf, cases[i].text);
        }
}

static void test_matches(void **state) {
        struct xarch_binfmt_entry e;
        assert_int_equal(xarch_binfmt_entry_parse("qemu-aarch64", qemu_aarch64_text,
                                         strlen(qemu_aarch64_text), &e, NULL),
                        0);
        uint8_t hdr[64];
        make_header(hdr, 2, 1, 183, 3, 0, false);
        assert_true(xarch_binfmt_entry_matches(&e, hdr, sizeof(hdr)));
        assert_true(xarch_binfmt_entry_matches(&e, hdr, 20));
        assert_false(xarch_binfmt_entry_matches(&e, hdr, 19)); /* too short to compare */
        make_header(hdr, 2, 1, 62, 2, 0, false);
        assert_false(xarch_binfmt_entry_matches(&e, hdr, sizeof(hdr)));
        assert_false(xarch_binfmt_entry_matches(&e, NULL, 64));
        assert_false(xarch_binfmt_entry_matches(NULL, hdr, 64));

        /* offsets: "MZ" at 0, a magic at 100 */
        const char wsl[] = "enabled\ninterpreter /init\nflags: PF\noffset 0\nmagic 4d5a\n";
        assert_int_equal(xarch_binfmt_entry_parse("WSLInterop", wsl, strlen(wsl), &e, NULL), 0);
        assert_true(xarch_binfmt_entry_matches(&e, (const uint8_t *) "MZ\x90\x00", 4));
        assert_false(xarch_binfmt_entry_matches(&e, (const uint8_t *) "MY", 2));
        const char off[] = "enabled\ninterpreter /x\nflags: \noffset 100\nmagic 4142\nmask ff0f\n";
        assert_int_equal(xarch_binfmt_entry_parse("off", off, strlen(off), &e, NULL), 0);
        /* Linux >= 5.1 reads 256 bytes: an entry at offset 200 is real (seen on 6.18). */
        const char far[] = "enabled\ninterpreter /bin/true\nflags: \noffset 200\nmagic 7f\n";
        assert_int_equal(xarch_binfmt_entry_parse("far", far, strlen(far), &e, NULL), 0);
        uint8_t wide[256] = {0};
        wide[200] = 0x7f;
        assert_true(xarch_binfmt_entry_matches(&e, wide, sizeof(wide)));
        assert_false(xarch_binfmt_entry_matches(&e, wide, 200));
        assert_int_equal(xarch_binfmt_entry_parse("off", off, strlen(off), &e, NULL), 0);
        uint8_t buf[128] = {0};
        buf[100] = 'A';
        buf[101] = 0xf2; /* high nibble masked out */
        assert_true(xarch_binfmt_entry_matches(&e, buf, sizeof(buf)));
        assert_false(xarch_binfmt_entry_matches(&e, buf, 101));
        buf[101] = 0xf3;
        assert_false(xarch_binfmt_entry_matches(&e, buf, sizeof(buf)));
        /* extension entries never match by content */
        assert_int_equal(xarch_binfmt_entry_parse(
                                         "ext", ext_entry_text, strlen(ext_entry_text), &e, NULL),
                        0);
        assert_false(xarch_binfmt_entry_matches(&e, buf, sizeof(buf)));
}

static void test_classify(void **state) {
        struct xarch_binfmt_entry e = {0};
        static const struct {
                const char *name, *interpreter;
                enum xarch_binfmt_kind kind;
        } cases[] = {
                        {"qemu-aarch64", "/usr/bin/qemu-aarch64-static", XARCH_BINFMT_KIND_QEMU},
                        {"qemu-aarch64", "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
                                        XARCH_BINFMT_KIND_QEMU},
                        {"qemu-riscv64", "/usr/local/bin/qemu-riscv64", XARCH_BINFMT_KIND_QEMU},
                        {"rosetta", "/mnt/lima-rosetta/rosetta", XARCH_BINFMT_KIND_ROSETTA},
                        {"rosetta", "/media/rosetta/rosetta", XARCH_BINFMT_KIND_ROSETTA},
                        {"WSLInterop", "/init", XARCH_BINFMT_KIND_OTHER},
                        {"python3.11", "/usr/bin/python3.11", XARCH_BINFMT_KIND_OTHER},
                        {"FEX-x86_64", "/usr/bin/FEXInterpreter", XARCH_BINFMT_KIND_OTHER},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                strcpy(e.name, cases[i].name);
                strcpy(e.interpreter, cases[i].interpreter);
                assert_int_equal(binfmt_classify(&e), cases[i].kind);
        }
}

static int write_temp(const void *data, size_t n, char *path) {
        strcpy(path, "/tmp/xarch-binfmt-test-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t) n);
        return fd;
}

static void test_static_elf(void **state) {
        char path[64];
        uint8_t elf[256] = {0};
        /* a 64-bit LE ELF with one PT_LOAD, then with a PT_INTERP */
        make_header(elf, 2, 1, 62, 2, 0, false);
        elf[32] = 64; /* e_phoff */
        elf[54] = 56; /* e_phentsize */
        elf[56] = 2;  /* e_phnum */
        elf[64] = 1;  /* PT_LOAD */
        elf[120] = 6; /* PT_GNU_STACK & 0xff: something else */
        int fd = write_temp(elf, 200, path);
        assert_true(binfmt_fd_is_static_elf(fd));
        elf[120] = 3; /* PT_INTERP */
        assert_int_equal(pwrite(fd, elf, 200, 0), 200);
        assert_false(binfmt_fd_is_static_elf(fd));
        /* hostile: program headers beyond the end, absurd counts, zero entsize */
        elf[56] = 0xff;
        elf[57] = 0xff;
        assert_int_equal(pwrite(fd, elf, 200, 0), 200);
        assert_false(binfmt_fd_is_static_elf(fd));
        elf[56] = 200;
        elf[57] = 0;
        assert_int_equal(pwrite(fd, elf, 200, 0), 200);
        assert_false(binfmt_fd_is_static_elf(fd)); /* runs past the end: cannot prove static */
        elf[54] = 0;
        elf[56] = 1;
        assert_int_equal(pwrite(fd, elf, 200, 0), 200);
        assert_false(binfmt_fd_is_static_elf(fd));
        assert_int_equal(ftruncate(fd, 10), 0);
        assert_false(binfmt_fd_is_static_elf(fd));
        close(fd);
        unlink(path);
        fd = write_temp("#!/bin/sh\n", 10, path);
        assert_false(binfmt_fd_is_static_elf(fd));
        close(fd);
        unlink(path);

        fd = open("/usr/bin/qemu-aarch64-static", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                assert_true(binfmt_fd_is_static_elf(fd));
                close(fd);
        }
        fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                assert_false(binfmt_fd_is_static_elf(fd));
                close(fd);
        }
}

/* ---- register lines ---- */

static void test_format_register(void **state) {
        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup("aarch64");
        struct xarch_binfmt_entry e;
        struct xarch_error *err = NULL;
        char line[XARCH_BINFMT_REGISTER_MAX + 1];
        assert_int_equal(xarch_binfmt_entry_from_target(t,
                                         "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
                                         XARCH_BINFMT_FLAG_O | XARCH_BINFMT_FLAG_P |
                                                         XARCH_BINFMT_FLAG_F,
                                         &e, &err),
                        0);
        assert_string_equal(e.name, "qemu-aarch64");
        int n = xarch_binfmt_entry_format_register(&e, line, sizeof(line), &err);
        assert_true(n > 0);
        /* Debian 12's /usr/lib/binfmt.d/qemu-aarch64.conf, byte for byte (flags in kernel order) */
        assert_string_equal(line,
                        ":qemu-aarch64:M::"
                        "\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
                        "\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:"
                        "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff"
                        "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/libexec/"
                        "qemu-binfmt/"
                        "aarch64-binfmt-P:POF");
        assert_int_equal(n, (int) strlen(line));

        /* C implies O; the line carries both, as the entry will show them */
        assert_int_equal(xarch_binfmt_entry_from_target(t, "/q", XARCH_BINFMT_FLAG_C, &e, &err), 0);
        assert_int_equal(e.flags, XARCH_BINFMT_FLAG_C | XARCH_BINFMT_FLAG_O);

        /* extension entries, offsets, no mask */
        struct xarch_binfmt_entry x = {.is_extension = true};
        strcpy(x.name, "ext");
        strcpy(x.interpreter, "/bin/cat");
        strcpy(x.extension, "foo");
        assert_true(xarch_binfmt_entry_format_register(&x, line, sizeof(line), &err) > 0);
        assert_string_equal(line, ":ext:E::foo::/bin/cat:");
        struct xarch_binfmt_entry m = {.offset = 2, .magic_len = 2, .magic = {'M', 'Z'}};
        strcpy(m.name, "mz");
        strcpy(m.interpreter, "/init");
        m.flags = XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_F;
        assert_true(xarch_binfmt_entry_format_register(&m, line, sizeof(line), &err) > 0);
        assert_string_equal(line, ":mz:M:2:\\x4d\\x5a::/init:PF");
        assert_null(err);

        /* the buffer is respected */
        assert_int_equal(xarch_binfmt_entry_format_register(&m, line, 10, NULL), -ENOBUFS);

        /* everything the kernel would reject is rejected first, with a reason */
        struct {
                const char *name, *interpreter;
                unsigned offset;
                size_t len;
        } bad[] = {
                        {"", "/init", 0, 2},
                        {".", "/init", 0, 2},
                        {"a/b", "/init", 0, 2},
                        {"a:b", "/init", 0, 2},
                        {"register", "/init", 0, 2},
                        {"status", "/init", 0, 2},
                        {"ok", "init", 0, 2},
                        {"ok", "/a:b", 0, 2},
                        {"ok", "/a\nb", 0, 2},
                        {"ok", "", 0, 2},
                        {"ok", "/init", 255, 2},
                        {"ok", "/init", 0, 0},
                        {"ok", "/init", 0, 257},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct xarch_binfmt_entry b = m;
                strcpy(b.name, bad[i].name);
                strcpy(b.interpreter, bad[i].interpreter);
                b.offset = bad[i].offset;
                b.magic_len = bad[i].len;
                if (xarch_binfmt_entry_format_register(&b, line, sizeof(line), &err) != -EINVAL)
                        fail_msg("case %zu accepted", i);
                assert_non_null(err);
                xarch_error_freep(&err);
        }
        /* longer than MAX_REGISTER_LENGTH: 128 escaped bytes twice plus a long interpreter */
        struct xarch_binfmt_entry big = m;
        big.offset = 0;
        big.magic_len = 128;
        big.has_mask = true;
        big.interpreter[0] = '/';
        memset(big.interpreter + 1, 'a', 900);
        big.interpreter[901] = '\0';
        assert_int_equal(xarch_binfmt_entry_format_register(&big, line, sizeof(line), &err),
                        -EINVAL);
        assert_non_null(strstr(err->msg, "1920"));
        xarch_error_freep(&err);
}

static void test_entry_same(void **state) {
        struct xarch_binfmt_entry a, b;
        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup("riscv64");
        assert_int_equal(xarch_binfmt_entry_from_target(t, "/usr/bin/qemu-riscv64-static",
                                         XARCH_BINFMT_FLAG_F | XARCH_BINFMT_FLAG_C, &a, NULL),
                        0);
        b = a;
        b.enabled = false;
        b.flags = XARCH_BINFMT_FLAG_F | XARCH_BINFMT_FLAG_C | XARCH_BINFMT_FLAG_O;
        assert_true(xarch_binfmt_entry_same(&a, &b));
        b.flags = XARCH_BINFMT_FLAG_F;
        assert_false(xarch_binfmt_entry_same(&a, &b));
        b = a;
        strcpy(b.interpreter, "/usr/local/bin/qemu-riscv64");
        assert_false(xarch_binfmt_entry_same(&a, &b));
        b = a;
        b.mask[7] = 0xff;
        assert_false(xarch_binfmt_entry_same(&a, &b));
        /* no mask == an all-ones mask */
        b = a;
        memset(b.mask, 0xff, sizeof(b.mask));
        a = b;
        b.has_mask = false;
        assert_true(xarch_binfmt_entry_same(&a, &b));
}

/* ---- emulators and export ---- */

static void test_find_emulator(void **state) {
        char dir[] = "/tmp/xarch-binfmt-qemu-XXXXXX", path[4096], buf[4096];
        unsigned implied = 99;
        assert_non_null(mkdtemp(dir));
        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup("riscv64");

        /* not executable: skipped */
        snprintf(path, sizeof(path), "%s/qemu-riscv64", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        int r = xarch_binfmt_find_emulator(t, dir, buf, sizeof(buf), &implied, NULL);
        if (r == 0)
                assert_string_not_equal(buf, path);
        assert_int_equal(chmod(path, 0755), 0);
        assert_int_equal(xarch_binfmt_find_emulator(t, dir, buf, sizeof(buf), &implied, NULL), 0);
        assert_string_equal(buf, path);
        assert_int_equal(implied, 0);
        /* -static wins inside the same directory */
        snprintf(path, sizeof(path), "%s/qemu-riscv64-static", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        close(fd);
        assert_int_equal(xarch_binfmt_find_emulator(t, dir, buf, sizeof(buf), NULL, NULL), 0);
        assert_string_equal(buf, path);
        assert_int_equal(xarch_binfmt_find_emulator(t, dir, buf, 5, NULL, NULL), -ENOBUFS);
        unlink(path);
        snprintf(path, sizeof(path), "%s/qemu-riscv64", dir);
        unlink(path);
        rmdir(dir);

        /* the system's qemu-user-static, when installed */
        if (access("/usr/bin/qemu-riscv64-static", X_OK) == 0) {
                assert_int_equal(xarch_binfmt_find_emulator(
                                                 t, "/nonexistent", buf, sizeof(buf), NULL, NULL),
                                0);
                assert_string_equal(buf, "/usr/bin/qemu-riscv64-static");
        }
        /* i486 is served by qemu-i386 */
        if (access("/usr/bin/qemu-i386-static", X_OK) == 0) {
                assert_int_equal(xarch_binfmt_find_emulator(xarch_binfmt_target_lookup("i486"),
                                                 NULL, buf, sizeof(buf), NULL, NULL),
                                0);
                assert_string_equal(buf, "/usr/bin/qemu-i386-static");
        }
        /* none at all: a message naming what was tried */
        struct xarch_error *err = NULL;
        if (access("/usr/bin/qemu-or1k-static", X_OK) != 0 &&
                        access("/usr/bin/qemu-or1k", X_OK) != 0 &&
                        access("/usr/local/bin/qemu-or1k", X_OK) != 0 &&
                        access("/usr/local/bin/qemu-or1k-static", X_OK) != 0 &&
                        access("/usr/libexec/qemu-binfmt/or1k-binfmt-P", X_OK) != 0) {
                assert_int_equal(xarch_binfmt_find_emulator(xarch_binfmt_target_lookup("or1k"),
                                                 NULL, buf, sizeof(buf), NULL, &err),
                                -ENOENT);
                assert_non_null(strstr(err->msg, "qemu-or1k-static"));
                xarch_error_freep(&err);
        }
}

static char *read_file(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = calloc(1, 8192);
        size_t n = fread(buf, 1, 8191, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static void test_export(void **state) {
        char dir[] = "/tmp/xarch-binfmt-export-XXXXXX", path[4200];
        assert_non_null(mkdtemp(dir));
        struct xarch_binfmt_entry e[2];
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_binfmt_entry_from_target(xarch_binfmt_target_lookup("s390x"),
                                         "/usr/bin/qemu-s390x-static", XARCH_BINFMT_FLAG_F, &e[0],
                                         &err),
                        0);
        assert_int_equal(xarch_binfmt_entry_from_target(xarch_binfmt_target_lookup("arm64"),
                                         "/usr/bin/qemu-aarch64-static",
                                         XARCH_BINFMT_FLAG_F | XARCH_BINFMT_FLAG_P, &e[1], &err),
                        0);

        assert_int_equal(xarch_binfmt_export(dir, e, 2, XARCH_BINFMT_EXPORT_SYSTEMD, &err), 2);
        snprintf(path, sizeof(path), "%s/qemu-s390x.conf", dir);
        _cleanup_free_ char *conf = read_file(path);
        assert_non_null(conf);
        assert_non_null(strstr(conf,
                        "\n:qemu-s390x:M::"
                        "\\x7f\\x45\\x4c\\x46\\x02\\x02\\x01\\x00\\x00\\x00\\x00\\x00"
                        "\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x16:"
                        "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00"
                        "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff:/usr/bin/"
                        "qemu-s390x-static:F\n"));
        assert_int_equal(conf[0], '#');

        assert_int_equal(xarch_binfmt_export(dir, e + 1, 1, XARCH_BINFMT_EXPORT_DEBIAN, &err), 1);
        snprintf(path, sizeof(path), "%s/qemu-aarch64", dir);
        _cleanup_free_ char *deb = read_file(path);
        assert_non_null(deb);
        /* the layout of Debian 12's /usr/share/binfmts/qemu-aarch64 (binfmt.md §1.8) */
        assert_string_equal(deb, "package xarch\n"
                                 "interpreter /usr/bin/qemu-aarch64-static\n"
                                 "magic "
                                 "\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
                                 "\\x00\\x00"
                                 "\\x00\\x02\\x00\\xb7\\x00\n"
                                 "offset 0\n"
                                 "mask "
                                 "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff"
                                 "\\xff\\xff"
                                 "\\xff\\xfe\\xff\\xff\\xff\n"
                                 "credentials no\n"
                                 "preserve yes\n"
                                 "fix_binary yes\n");

        /* one bad entry: nothing of this call is written, no temporary file is left */
        struct xarch_binfmt_entry bad[2] = {e[0], e[1]};
        strcpy(bad[0].name, "qemu-new");
        strcpy(bad[1].interpreter, "relative/path");
        assert_int_equal(xarch_binfmt_export(dir, bad, 2, XARCH_BINFMT_EXPORT_SYSTEMD, &err),
                        -EINVAL);
        xarch_error_freep(&err);
        snprintf(path, sizeof(path), "%s/qemu-new.conf", dir);
        assert_int_not_equal(access(path, F_OK), 0);
        DIR *d = opendir(dir);
        struct dirent *de;
        int files = 0;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        files++;
        closedir(d);
        assert_int_equal(files, 3); /* qemu-s390x.conf, qemu-aarch64.conf, qemu-aarch64 */
        assert_int_equal(xarch_binfmt_export("/nonexistent-dir", e, 1, XARCH_BINFMT_EXPORT_DEBIAN,
                                         &err),
                        -ENOTDIR);
        xarch_error_freep(&err);

        const char *names[] = {"qemu-s390x.conf", "qemu-aarch64.conf", "qemu-aarch64"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rmdir(dir), 0);
}

/* ---- a real private instance ---- */

static char instance_dir[64];
static bool have_instance;

static int write_proc(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int e = errno;
        close(fd);
        return n == (ssize_t) strlen(text) ? 0 : -e;
}

/* This test binary moves itself into a new user + mount namespace and mounts its own
 * binfmt_misc there, so nothing touches the host's table. */
static int setup_instance(void **state) {
        strcpy(instance_dir, "/tmp/xarch-binfmt-ns-XXXXXX");
        if (!mkdtemp(instance_dir))
                return 0;
        uid_t uid = getuid();
        gid_t gid = getgid();
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
                fprintf(stderr, "# no user namespaces here (%s): skipping instance tests\n",
                                strerror(errno));
                return 0;
        }
        snprintf(map, sizeof(map), "0 %u 1", (unsigned) uid);
        if (write_proc("/proc/self/setgroups", "deny") < 0 ||
                        write_proc("/proc/self/uid_map", map) < 0)
                return 0;
        snprintf(map, sizeof(map), "0 %u 1", (unsigned) gid);
        if (write_proc("/proc/self/gid_map", map) < 0)
                return 0;
        if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                        mount("binfmt_misc", instance_dir, "binfmt_misc", 0, NULL) < 0) {
                fprintf(stderr,
                                "# binfmt_misc cannot be mounted in a user namespace here (%s; "
                                "needs "
                                "Linux >= 6.7): skipping instance tests\n",
                                strerror(errno));
                return 0;
        }
        have_instance = true;
        return 0;
}

static int teardown_instance(void **state) {
        if (have_instance)
                umount(instance_dir);
        rmdir(instance_dir);
        return 0;
}

static void register_raw(const char *line, int expect_errno) {
        char path[128];
        snprintf(path, sizeof(path), "%s/register", instance_dir);
        int r = write_proc(path, line);
        assert_int_equal(r, -expect_errno);
}

static void test_instance_round_trip(void **state) {
        if (!have_instance)
                skip();
        struct xarch_binfmt *b = NULL;
        struct xarch_binfmt_instance_info info;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_binfmt_open(instance_dir, &b, &err), 0);
        assert_int_equal(xarch_binfmt_info(b, &info, &err), 0);
        assert_true(info.mounted);
        assert_true(info.status_enabled);
        assert_false(info.initial_userns);
        assert_true(info.private_instance);
        assert_int_equal(xarch_binfmt_mount(b, &err), 0); /* already mounted */

        struct xarch_binfmt_entry *list = NULL;
        size_t n = 99;
        assert_int_equal(xarch_binfmt_list(b, &list, &n, &err), 0);
        assert_int_equal(n, 0);
        free(list);

        /* format -> register -> parse -> identical, for every flag set and entry shape */
        char interp[] = "/tmp/xarch-binfmt-interp-XXXXXX";
        int fd = mkstemp(interp);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(chmod(interp, 0755), 0); /* F opens it like exec does */
        const unsigned flag_sets[] = {0, XARCH_BINFMT_FLAG_F,
                        XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_F, XARCH_BINFMT_FLAG_C,
                        XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_C | XARCH_BINFMT_FLAG_F,
                        XARCH_BINFMT_FLAG_O};
        size_t n_targets = 0;
        const struct xarch_binfmt_target *table = xarch_binfmt_targets(&n_targets);
        for (size_t i = 0; i < n_targets; i++) {
                struct xarch_binfmt_entry want, got;
                unsigned flags = flag_sets[i % ELEMENTSOF(flag_sets)];
                assert_int_equal(xarch_binfmt_entry_from_target(
                                                 &table[i], interp, flags, &want, &err),
                                0);
                if (xarch_binfmt_register(b, &want, &err) < 0)
                        fail_msg("register %s: %s", want.name, err->msg);
                assert_int_equal(xarch_binfmt_get(b, want.name, &got, &err), 0);
                assert_true(xarch_binfmt_entry_same(&want, &got));
                assert_true(got.enabled);
                assert_ptr_equal(got.target, &table[i]);
        }
        struct xarch_binfmt_entry ext = {.is_extension = true, .flags = XARCH_BINFMT_FLAG_P};
        struct xarch_binfmt_entry got;
        strcpy(ext.name, "ext-entry");
        strcpy(ext.interpreter, "/bin/cat");
        strcpy(ext.extension, "foo");
        assert_int_equal(xarch_binfmt_register(b, &ext, &err), 0);
        assert_int_equal(xarch_binfmt_get(b, "ext-entry", &got, &err), 0);
        assert_true(xarch_binfmt_entry_same(&ext, &got));
        struct xarch_binfmt_entry mz = {.offset = 3, .magic_len = 2, .magic = {'M', 'Z'}};
        strcpy(mz.name, "WSLInterop");
        strcpy(mz.interpreter, interp);
        mz.flags = XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_F;
        assert_int_equal(xarch_binfmt_register(b, &mz, &err), 0);
        assert_int_equal(xarch_binfmt_get(b, "WSLInterop", &got, &err), 0);
        assert_true(xarch_binfmt_entry_same(&mz, &got));
        assert_false(got.has_mask);
        assert_int_equal(got.kind, XARCH_BINFMT_KIND_OTHER);
        assert_true(got.interpreter_exists);
        assert_false(got.interpreter_static);

        /* list: sorted, every entry, control files skipped */
        assert_int_equal(xarch_binfmt_list(b, &list, &n, &err), 0);
        assert_int_equal(n, n_targets + 2);
        for (size_t i = 1; i < n; i++)
                assert_true(strcmp(list[i - 1].name, list[i].name) < 0);
        free(list);

        /* match order: a later registration with the same magic wins; disabled ones are skipped */
        struct xarch_binfmt_entry later;
        assert_int_equal(xarch_binfmt_entry_from_target(xarch_binfmt_target_lookup("arm64"), interp,
                                         0, &later, &err),
                        0);
        strcpy(later.name, "aaa-later-arm64");
        assert_int_equal(xarch_binfmt_register(b, &later, &err), 0);
        assert_int_equal(xarch_binfmt_list(b, &list, &n, &err), 0);
        uint8_t hdr[64];
        make_header(hdr, 2, 1, 183, 2, 0, false);
        const struct xarch_binfmt_entry *m = xarch_binfmt_entries_match(list, n, hdr, sizeof(hdr));
        assert_non_null(m);
        assert_string_equal(m->name, "aaa-later-arm64");
        assert_int_equal(m->match_order, 0);
        free(list);
        assert_int_equal(xarch_binfmt_control(b, "aaa-later-arm64", XARCH_BINFMT_DISABLE, &err), 0);
        assert_int_equal(xarch_binfmt_list(b, &list, &n, &err), 0);
        m = xarch_binfmt_entries_match(list, n, hdr, sizeof(hdr));
        assert_non_null(m);
        assert_string_equal(m->name, "qemu-aarch64");
        make_header(hdr, 2, 2, 0x1234, 2, 0, false);
        assert_null(xarch_binfmt_entries_match(list, n, hdr, sizeof(hdr)));
        free(list);
        assert_int_equal(xarch_binfmt_control(b, "aaa-later-arm64", XARCH_BINFMT_REMOVE, &err), 0);

        /* kernel errors, explained */
        struct xarch_binfmt_entry dup;
        assert_int_equal(xarch_binfmt_entry_from_target(xarch_binfmt_target_lookup("s390x"),
                                         "/other", 0, &dup, &err),
                        0);
        assert_int_equal(xarch_binfmt_register(b, &dup, &err), -EEXIST);
        assert_non_null(strstr(err->msg, "already exists"));
        xarch_error_freep(&err);
        struct xarch_binfmt_entry missing = dup;
        strcpy(missing.name, "missing-f");
        strcpy(missing.interpreter, "/nonexistent/qemu");
        missing.flags = XARCH_BINFMT_FLAG_F;
        assert_int_equal(xarch_binfmt_register(b, &missing, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "flag F"));
        xarch_error_freep(&err);
        /* what the kernel itself says to lines we would never write */
        register_raw(":bad:X::ab::/x:", EINVAL);
        register_raw(":bad:M::\\x41\\x42:\\xff:/x:", EINVAL);
        register_raw(":bad:M::AB::/x:Z", EINVAL);
        register_raw(":register:M::AB::/x:", EEXIST);

        /* disable, enable, remove, and the status switch */
        assert_int_equal(xarch_binfmt_control(b, "qemu-s390x", XARCH_BINFMT_DISABLE, &err), 0);
        assert_int_equal(xarch_binfmt_get(b, "qemu-s390x", &got, &err), 0);
        assert_false(got.enabled);
        assert_int_equal(xarch_binfmt_control(b, "qemu-s390x", XARCH_BINFMT_ENABLE, &err), 0);
        assert_int_equal(xarch_binfmt_get(b, "qemu-s390x", &got, &err), 0);
        assert_true(got.enabled);
        assert_int_equal(xarch_binfmt_control(b, "qemu-s390x", XARCH_BINFMT_REMOVE, &err), 0);
        assert_int_equal(xarch_binfmt_get(b, "qemu-s390x", &got, &err), -ENOENT);
        assert_int_equal(xarch_binfmt_control(b, "qemu-s390x", XARCH_BINFMT_REMOVE, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "no such entry"));
        xarch_error_freep(&err);
        assert_int_equal(xarch_binfmt_control(b, "../x", XARCH_BINFMT_REMOVE, &err), -EINVAL);
        xarch_error_freep(&err);
        assert_int_equal(xarch_binfmt_control(b, NULL, XARCH_BINFMT_DISABLE, &err), 0);
        assert_int_equal(xarch_binfmt_info(b, &info, &err), 0);
        assert_false(info.status_enabled);
        assert_int_equal(xarch_binfmt_control(b, NULL, XARCH_BINFMT_ENABLE, &err), 0);
        assert_int_equal(xarch_binfmt_control(b, NULL, XARCH_BINFMT_REMOVE, &err), 0);
        assert_int_equal(xarch_binfmt_list(b, &list, &n, &err), 0);
        assert_int_equal(n, 0);
        free(list);
        assert_null(err);
        xarch_binfmt_close(b);
        unlink(interp);
}

static void test_unmounted_instance(void **state) {
        char dir[] = "/tmp/xarch-binfmt-empty-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct xarch_binfmt *b = NULL;
        struct xarch_binfmt_instance_info info;
        struct xarch_binfmt_entry *list = NULL, e;
        size_t n = 7;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_binfmt_open(dir, &b, &err), 0);
        assert_int_equal(xarch_binfmt_info(b, &info, &err), 0);
        assert_false(info.mounted);
        assert_false(info.private_instance);
        assert_string_equal(info.mount, dir);
        assert_int_equal(xarch_binfmt_list(b, &list, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_null(list);
        assert_int_equal(xarch_binfmt_get(b, "qemu-aarch64", &e, &err), -ENOENT);
        assert_int_equal(xarch_binfmt_entry_from_target(
                                         xarch_binfmt_target_lookup("arm64"), "/x", 0, &e, &err),
                        0);
        assert_int_equal(xarch_binfmt_register(b, &e, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "not mounted"));
        xarch_error_freep(&err);
        xarch_binfmt_close(b);
        rmdir(dir);
        /* the default mount point */
        assert_int_equal(xarch_binfmt_open(NULL, &b, &err), 0);
        assert_int_equal(xarch_binfmt_info(b, &info, &err), 0);
        assert_string_equal(info.mount, XARCH_BINFMT_DEFAULT_MOUNT);
        xarch_binfmt_close(b);
        assert_int_equal(xarch_binfmt_open("", &b, &err), -EINVAL);
        xarch_error_freep(&err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_table_self_check),
                        cmocka_unit_test(test_table_exact_strings),
                        cmocka_unit_test(test_lookup),
                        cmocka_unit_test(test_family),
                        cmocka_unit_test(test_parse_kernel_examples),
                        cmocka_unit_test(test_parse_hostile),
                        cmocka_unit_test(test_flags_format),
                        cmocka_unit_test(test_matches),
                        cmocka_unit_test(test_classify),
                        cmocka_unit_test(test_static_elf),
                        cmocka_unit_test(test_format_register),
                        cmocka_unit_test(test_entry_same),
                        cmocka_unit_test(test_find_emulator),
                        cmocka_unit_test(test_export),
                        cmocka_unit_test(test_unmounted_instance),
                        cmocka_unit_test(test_instance_round_trip),
        };
        /* the namespace is entered once, in the group setup; no test needs the host's view */
        return cmocka_run_group_tests(tests, setup_instance, teardown_instance);
}
