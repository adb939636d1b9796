/* SPDX-License-Identifier: MIT */
/* The binary analysis engine against real binaries (tests/fixtures/make-fixtures.sh: Go for
 * every GOARCH, Debian foreign packages, host and cross gcc, rustc) and against hostile ELF
 * headers built in memory, which must be reported as malformed without reading out of bounds. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "xarch/file.h"
#include "macro.h"
#include "binary/elf.h"
#include "binary/gobuild.h"

static const char *fixtures(void) {
        const char *d = getenv("XARCH_FIXTURES");
        return d && d[0] ? d : NULL;
}

/* Analyses a fixture; false (and a skip) when it is missing. */
static bool analyze_fixture(const char *rel, struct xarch_file_info *info) {
        char path[4096];
        if (!fixtures()) {
                print_message("XARCH_FIXTURES not set: run tests/fixtures/make-fixtures.sh\n");
                return false;
        }
        snprintf(path, sizeof(path), "%s/%s", fixtures(), rel);
        if (access(path, R_OK) < 0) {
                print_message("fixture %s missing (make-fixtures.sh skipped it)\n", rel);
                return false;
        }
        struct xarch_error *err = NULL;
        int r = xarch_file_analyze_path(NULL, path, info, &err);
        if (r < 0)
                fail_msg("%s: %s", rel, err ? err->msg : strerror(-r));
        return true;
}

static const char *platform_str(const struct xarch_file_info *info) {
        static char buf[XARCH_PLATFORM_STRING_MAX];
        snprintf(buf, sizeof(buf), "%s/%s%s%s", info->platform.os, info->platform.arch,
                        info->platform.variant[0] ? "/" : "", info->platform.variant);
        return buf;
}

struct expect {
        const char *path;
        const char *platform;
        enum xarch_file_linkage linkage;
        enum xarch_file_language language;
        const char *go_version; /* NULL: not checked */
        const char *goarch;
        int stripped;
        const char *interpreter; /* NULL: none expected */
};

/* Returns false when the fixture is missing (the caller skips if all are). */
static bool check_expect(const struct expect *e) {
        struct xarch_file_info info;
        if (!analyze_fixture(e->path, &info))
                return false;
        char desc[512];
        xarch_file_describe(&info, desc, sizeof(desc));
        print_message("%s: %s\n", e->path, desc);
        assert_int_equal(info.kind, XARCH_FILE_ELF);
        assert_true(info.platform_known);
        assert_string_equal(platform_str(&info), e->platform);
        assert_int_equal(info.linkage, e->linkage);
        assert_int_equal(info.language, e->language);
        assert_int_equal(info.stripped, e->stripped);
        assert_string_equal(info.problem, "");
        if (e->go_version) {
                assert_string_equal(info.go.version, e->go_version);
                assert_true(info.go.evidence & XARCH_GO_BUILDINFO);
                assert_true(info.go.evidence & XARCH_GO_NOTE);
                assert_true(info.go.evidence & XARCH_GO_PCLNTAB);
                assert_string_equal(info.go.version_range, "1.18-1.19");
                assert_string_equal(info.go.goarch, e->goarch);
                assert_string_equal(info.go.goos, "linux");
                assert_string_equal(info.go.path, "example.com/hello");
                assert_string_equal(info.go.module, "example.com/hello");
        }
        if (e->interpreter)
                assert_string_equal(info.interpreter, e->interpreter);
        else
                assert_string_equal(info.interpreter, "");
        return true;
}

static void check_all(const struct expect *list, size_t n) {
        size_t found = 0;
        for (size_t i = 0; i < n; i++)
                found += check_expect(&list[i]);
        if (found == 0)
                skip();
}

#define GO(name, plat, arch, strip)                                                                \
        { "go/" name, plat, XARCH_LINK_STATIC, XARCH_LANG_GO, "go1.19.8", arch, strip, NULL }

static const struct expect go_fixtures[] = {
                GO("hello-amd64", "linux/amd64", "amd64", 0),
                GO("hello-amd64-v3", "linux/amd64/v3", "amd64", 0),
                GO("hello-arm64", "linux/arm64", "arm64", 0),
                GO("hello-arm-v5", "linux/arm/v5", "arm", 0),
                GO("hello-arm-v6", "linux/arm/v6", "arm", 0),
                GO("hello-arm-v7", "linux/arm/v7", "arm", 0),
                GO("hello-386", "linux/386", "386", 0),
                GO("hello-riscv64", "linux/riscv64", "riscv64", 0),
                GO("hello-s390x", "linux/s390x", "s390x", 0),
                GO("hello-ppc64le", "linux/ppc64le", "ppc64le", 0),
                GO("hello-mips64le", "linux/mips64le", "mips64le", 0),
                GO("hello-loong64", "linux/loong64", "loong64", 0),
                GO("hello-arm64-stripped", "linux/arm64", "arm64", 1),
                GO("hello-amd64-stripped", "linux/amd64", "amd64", 1),
};

static const struct expect other_fixtures[] = {
                {"debian/busybox-arm64", "linux/arm64", XARCH_LINK_STATIC, XARCH_LANG_C, NULL, NULL,
                                1, NULL},
                {"debian/hello-arm64", "linux/arm64", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL,
                                1, "/lib/ld-linux-aarch64.so.1"},
                {"debian/hello-armhf", "linux/arm/v7", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL,
                                1, "/lib/ld-linux-armhf.so.3"},
                {"debian/hello-s390x", "linux/s390x", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL,
                                1, "/lib/ld64.so.1"},
                {"debian/hello-riscv64", "linux/riscv64", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL,
                                NULL, 1, "/lib/ld-linux-riscv64-lp64d.so.1"},
                {"debian/hello-i386", "linux/386", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL, 1,
                                "/lib/ld-linux.so.2"},
                {"debian/hello-ppc64el", "linux/ppc64le", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL,
                                NULL, 1, "/lib64/ld64.so.2"},
                {"c/hello-dynamic", "linux/amd64", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL, 0,
                                "/lib64/ld-linux-x86-64.so.2"},
                {"c/hello-dynamic-stripped", "linux/amd64", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL,
                                NULL, 1, "/lib64/ld-linux-x86-64.so.2"},
                {"c/hello-static", "linux/amd64", XARCH_LINK_STATIC, XARCH_LANG_C, NULL, NULL, 0,
                                NULL},
                {"c/hello-static-pie", "linux/amd64", XARCH_LINK_STATIC_PIE, XARCH_LANG_C, NULL,
                                NULL, 0, NULL},
                {"c/hello-amd64-v3", "linux/amd64/v3", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL,
                                0, "/lib64/ld-linux-x86-64.so.2"},
                {"c/libhello.so", "linux/amd64", XARCH_LINK_SHARED_OBJECT, XARCH_LANG_C, NULL, NULL,
                                0, NULL},
                {"c/hello-arm64", "linux/arm64", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL, 0,
                                "/lib/ld-linux-aarch64.so.1"},
                {"c/hello-armhf", "linux/arm/v7", XARCH_LINK_DYNAMIC, XARCH_LANG_C, NULL, NULL, 0,
                                "/lib/ld-linux-armhf.so.3"},
                {"c/hello-armv6.o", "linux/arm/v6", XARCH_LINK_RELOCATABLE, XARCH_LANG_C, NULL,
                                NULL, 0, NULL},
                {"rust/hello", "linux/amd64", XARCH_LINK_DYNAMIC, XARCH_LANG_RUST, NULL, NULL, 0,
                                "/lib64/ld-linux-x86-64.so.2"},
                {"rust/hello-stripped", "linux/amd64", XARCH_LINK_DYNAMIC, XARCH_LANG_RUST, NULL,
                                NULL, 1, "/lib64/ld-linux-x86-64.so.2"},
};

static void test_go_fixtures(void **state) {
        check_all(go_fixtures, ELEMENTSOF(go_fixtures));
}

static void test_other_fixtures(void **state) {
        check_all(other_fixtures, ELEMENTSOF(other_fixtures));
}

static void test_go_details(void **state) {
        struct xarch_file_info info;
        if (!analyze_fixture("go/hello-amd64-v3", &info))
                skip();
        assert_string_equal(info.go.level_key, "GOAMD64");
        assert_string_equal(info.go.level, "v3");
        assert_int_equal(info.amd64_level, 3);
        assert_int_equal(info.go.cgo, 0);
        assert_string_equal(info.variant_source, "go");

        if (!analyze_fixture("go/hello-arm-v6", &info))
                skip();
        assert_string_equal(info.go.level_key, "GOARM");
        assert_string_equal(info.go.level, "6");
        assert_int_equal(info.flags, 0x5000002);
        assert_int_equal(info.arm.cpu_arch, -1); /* Go writes no .ARM.attributes */

        if (!analyze_fixture("go/hello-cgo-amd64", &info))
                skip();
        assert_int_equal(info.language, XARCH_LANG_GO);
        assert_int_equal(info.go.cgo, 1);
        assert_int_equal(info.linkage, XARCH_LINK_DYNAMIC);
        assert_string_equal(info.go.module, "example.com/hellocgo");
}

static void test_c_details(void **state) {
        struct xarch_file_info info;
        if (!analyze_fixture("c/hello-armhf", &info))
                skip();
        assert_int_equal(info.arm.cpu_arch, 10);
        assert_int_equal(info.arm.cpu_profile, 'A');
        assert_int_equal(info.arm.vfp_args, 1);
        assert_string_equal(info.variant_source, "arm-attributes");
        assert_non_null(strstr(info.abi, "hard-float"));
        assert_non_null(strstr(info.compiler, "GCC"));

        if (!analyze_fixture("c/hello-amd64-v3", &info))
                skip();
        assert_int_equal(info.amd64_level, 3);
        assert_string_equal(info.variant_source, "gnu-property");

        if (!analyze_fixture("c/hello-dynamic", &info))
                skip();
        assert_int_equal(info.amd64_level, 1); /* "x86-64-baseline" by default */
        assert_string_equal(info.platform.variant, "");
        assert_true(info.pie);
}

static void test_other_formats(void **state) {
        static const struct {
                const char *path;
                enum xarch_file_kind kind;
                const char *desc;
        } cases[] = {
                        {"misc/hello.sh", XARCH_FILE_SCRIPT, "script, interpreter /bin/sh"},
                        {"misc/hello.py", XARCH_FILE_SCRIPT,
                                        "script, interpreter /usr/bin/env python3"},
                        {"misc/text.txt", XARCH_FILE_DATA, "data"},
                        {"misc/empty", XARCH_FILE_EMPTY, "empty"},
                        {"misc/pe-arm64.exe", XARCH_FILE_PE, "PE32+, windows/arm64"},
                        {"misc/macho-arm64", XARCH_FILE_MACHO, "Mach-O 64-bit, darwin/arm64"},
                        {"misc/macho-fat", XARCH_FILE_MACHO_FAT,
                                        "Mach-O universal binary with 2 architectures: "
                                        "darwin/amd64, "
                                        "darwin/arm64"},
                        {"misc/elf32-mips-be", XARCH_FILE_ELF,
                                        "ELF 32-bit MSB, linux/mips (o32 mips32r2), static, C/C++, "
                                        "stripped"},
                        {"misc/elf64-ppc64-be", XARCH_FILE_ELF,
                                        "ELF 64-bit MSB, linux/ppc64 (ELFv1), static, C/C++, "
                                        "stripped"},
                        {"misc/elf-truncated", XARCH_FILE_ELF,
                                        "ELF 64-bit LSB, linux/amd64, malformed: truncated ELF "
                                        "header (24 of 64 "
                                        "bytes)"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct xarch_file_info info;
                char desc[512];
                if (!analyze_fixture(cases[i].path, &info)) {
                        skip();
                        return;
                }
                assert_int_equal(info.kind, cases[i].kind);
                xarch_file_describe(&info, desc, sizeof(desc));
                assert_string_equal(desc, cases[i].desc);
        }
}

/* --- in-memory sources ------------------------------------------------------------------- */

struct membuf {
        const uint8_t *data;
        size_t len;
        unsigned reads;
        uint64_t bytes;
};

static ssize_t mem_read(void *userdata, uint64_t off, void *buf, size_t len) {
        struct membuf *m = userdata;
        m->reads++;
        if (off >= m->len)
                return 0;
        if (len > m->len - off)
                len = m->len - (size_t) off;
        memcpy(buf, m->data + off, len);
        m->bytes += len;
        return (ssize_t) len;
}

static struct membuf m;

static int analyze_mem(const uint8_t *data, size_t len, size_t prefix, bool reader,
                struct xarch_file_info *info) {
        m = (struct membuf){.data = data, .len = len};
        struct xarch_file_source src = {
                        .prefix = data,
                        .prefix_len = prefix < len ? prefix : len,
                        .size = len,
                        .read = reader ? mem_read : NULL,
                        .userdata = &m,
        };
        struct xarch_error *err = NULL;
        int r = xarch_file_analyze(NULL, &src, info, &err);
        xarch_error_free(err);
        return r;
}

static uint8_t *read_whole(const char *rel, size_t *ret_len) {
        char path[4096];
        if (!fixtures())
                return NULL;
        snprintf(path, sizeof(path), "%s/%s", fixtures(), rel);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return NULL;
        uint8_t *buf = malloc((size_t) st.st_size);
        assert_non_null(buf);
        assert_int_equal(pread(fd, buf, (size_t) st.st_size, 0), st.st_size);
        *ret_len = (size_t) st.st_size;
        return buf;
}

static void test_prefix_only(void **state) {
        size_t len;
        _cleanup_free_ uint8_t *buf = read_whole("go/hello-arm64", &len);
        struct xarch_file_info info;
        if (!buf)
                skip();
        /* A tar stream hands over its first 4 KiB and nothing else: the header still answers. */
        assert_int_equal(analyze_mem(buf, len, XARCH_FILE_PREFIX_SIZE, false, &info), 0);
        assert_int_equal(info.kind, XARCH_FILE_ELF);
        assert_string_equal(platform_str(&info), "linux/arm64");
        assert_int_equal(info.linkage, XARCH_LINK_STATIC);
        assert_string_not_equal(info.problem, "");
        /* With a reader, the same source gives the full answer, in a few bounded reads. */
        assert_int_equal(analyze_mem(buf, len, XARCH_FILE_PREFIX_SIZE, true, &info), 0);
        assert_string_equal(info.go.version, "go1.19.8");
        assert_string_equal(info.problem, "");
}

static void test_go_without_buildinfo(void **state) {
        size_t len;
        _cleanup_free_ uint8_t *buf = read_whole("go/hello-amd64-stripped", &len);
        struct xarch_file_info info;
        if (!buf)
                skip();
        uint8_t *magic = memmem(buf, len, "\xff Go buildinf:", 14);
        assert_non_null(magic);
        memset(magic, 0, 32); /* as in go1.26 release builds: no build-info blob */
        assert_int_equal(analyze_mem(buf, len, XARCH_FILE_PREFIX_SIZE, true, &info), 0);
        assert_int_equal(info.language, XARCH_LANG_GO);
        assert_false(info.go.evidence & XARCH_GO_BUILDINFO);
        assert_true(info.go.evidence & XARCH_GO_NOTE);
        assert_true(info.go.evidence & XARCH_GO_PCLNTAB);
        assert_true(info.go.evidence & XARCH_GO_VERSION_SCAN);
        assert_string_equal(info.go.version, "go1.19.8");
        assert_string_equal(info.go.goarch, "");
}

/* A minimal ELF64 LSB executable: header, one RW PT_LOAD covering the file, no sections. */
#define MINI_SIZE 0x600
static void mini_elf(uint8_t *b, uint16_t machine) {
        memset(b, 0, MINI_SIZE);
        memcpy(b,
                        "\x7f"
                        "ELF\x02\x01\x01",
                        7);
        b[16] = 2; /* ET_EXEC */
        b[18] = (uint8_t) machine, b[19] = (uint8_t) (machine >> 8);
        b[20] = 1;
        b[32] = 64;            /* e_phoff */
        b[52] = 64;            /* e_ehsize */
        b[54] = 56, b[56] = 1; /* e_phentsize, e_phnum */
        b[58] = 64;            /* e_shentsize */
        uint8_t *ph = b + 64;
        ph[0] = 1;                                          /* PT_LOAD */
        ph[4] = 6;                                          /* PF_R | PF_W */
        ph[16 + 2] = 0x40;                                  /* p_vaddr 0x400000 */
        ph[32] = MINI_SIZE & 0xff, ph[33] = MINI_SIZE >> 8; /* p_filesz */
}

static void put64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void test_go_pointer_buildinfo(void **state) {
        /* Go 1.13-1.17 layout: the header points at Go string headers in the data segment. */
        uint8_t b[MINI_SIZE];
        struct xarch_file_info info;
        static const char mod[] =
                        "0w\xaf\x0c\x92t\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6"
                        "path\texample.com/old\nmod\texample.com/old\t(devel)\t\n"
                        "\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";
        mini_elf(b, 62);
        memcpy(b + 0x100, "\xff Go buildinf:", 14);
        b[0x10e] = 8, b[0x10f] = 0;
        put64(b + 0x110, 0x400200);
        put64(b + 0x118, 0x400210);
        put64(b + 0x200, 0x400300), put64(b + 0x208, 8);
        put64(b + 0x210, 0x400400), put64(b + 0x218, sizeof(mod) - 1);
        memcpy(b + 0x300, "go1.16.5", 8);
        memcpy(b + 0x400, mod, sizeof(mod) - 1);
        assert_int_equal(analyze_mem(b, sizeof(b), 64, true, &info), 0);
        assert_int_equal(info.language, XARCH_LANG_GO);
        assert_string_equal(info.go.version, "go1.16.5");
        assert_string_equal(info.go.path, "example.com/old");
        assert_string_equal(info.go.module, "example.com/old");
        assert_string_equal(info.go.goarch, ""); /* no build settings before 1.18 */

        /* Pointers that lead nowhere: not Go, and nothing read out of bounds. */
        put64(b + 0x200, 0xdeadbeef00);
        assert_int_equal(analyze_mem(b, sizeof(b), 64, true, &info), 0);
        assert_string_equal(info.go.version, "");
        put64(b + 0x200, 0x400300), put64(b + 0x208, UINT64_MAX);
        assert_int_equal(analyze_mem(b, sizeof(b), 64, true, &info), 0);
        assert_string_equal(info.go.version, "");
}

static void test_go_inline_hostile(void **state) {
        uint8_t b[MINI_SIZE];
        struct xarch_file_info info;
        mini_elf(b, 183);
        memcpy(b + 0x100, "\xff Go buildinf:", 14);
        b[0x10e] = 8, b[0x10f] = 2;
        /* A version length running past the end of the file. */
        memcpy(b + 0x120, "\xff\xff\xff\xff\x0f", 5);
        assert_int_equal(analyze_mem(b, sizeof(b), MINI_SIZE, true, &info), 0);
        assert_string_equal(info.go.version, "");
        /* A good version, then a modinfo length that is too long. */
        memcpy(b + 0x120, "\x08go1.22.3\xff\xff\x7f", 12);
        assert_int_equal(analyze_mem(b, sizeof(b), MINI_SIZE, true, &info), 0);
        assert_string_equal(info.go.version, "go1.22.3");
        assert_string_equal(info.go.path, "");
        /* Varint that never ends. */
        memset(b + 0x120, 0x80, 0x40);
        assert_int_equal(analyze_mem(b, sizeof(b), MINI_SIZE, true, &info), 0);
        assert_string_equal(info.go.version, "");
}

static void test_modinfo_parse(void **state) {
        struct xarch_go_info go = {.cgo = -1};
        static const char mod[] = "path\texample.com/cmd/x\n"
                                  "mod\texample.com\tv1.2.3\th1:abc=\n"
                                  "dep\tgolang.org/x/sys\tv0.1.0\th1:x=\n"
                                  "build\t-buildmode=pie\n"
                                  "build\t-ldflags=\"-s -w\"\n"
                                  "build\tCGO_ENABLED=1\n"
                                  "build\tGOARCH=arm64\n"
                                  "build\tGOOS=linux\n"
                                  "build\tGOARM64=\"v8.2,lse\"\n";
        go_modinfo_parse(mod, sizeof(mod) - 1, &go);
        assert_string_equal(go.path, "example.com/cmd/x");
        assert_string_equal(go.module, "example.com");
        assert_string_equal(go.buildmode, "pie");
        assert_int_equal(go.cgo, 1);
        assert_string_equal(go.goarch, "arm64");
        assert_string_equal(go.level_key, "GOARM64");
        assert_string_equal(go.level, "v8.2,lse");
        /* Garbage: no crash, nothing made up. */
        struct xarch_go_info g2 = {.cgo = -1};
        go_modinfo_parse("\t\t\n=\nbuild\t\nbuild\t=\n", 20, &g2);
        assert_string_equal(g2.goarch, "");
}

static void test_modinfo_quoted_control(void **state) {
        /* A quoted value is hostile text like any other: no control bytes (terminal escapes)
         * may reach the fields that `xarch file` prints. */
        struct xarch_go_info go = {.cgo = -1};
        static const char mod[] = "build\tGOARCH=\"\x1b]0;owned\x07"
                                  "arm64\"\n"
                                  "build\tGOAMD64=\"v3\x1b[2J\"\n";
        go_modinfo_parse(mod, sizeof(mod) - 1, &go);
        assert_null(strchr(go.goarch, '\x1b'));
        assert_null(strchr(go.goarch, '\x07'));
        assert_string_equal(go.goarch, "]0;ownedarm64");
        assert_string_equal(go.level, "v3[2J");
}

static void test_scans(void **state) {
        char out[64];
        static const uint8_t a[] = "xxgo1.26.5yy";
        assert_true(go_version_scan(a, sizeof(a) - 1, out, sizeof(out)));
        assert_string_equal(out, "go1.26.5");
        static const uint8_t b[] = "go1. go1.x go1.20 and more";
        assert_true(go_version_scan(b, sizeof(b) - 1, out, sizeof(out)));
        assert_string_equal(out, "go1.20");
        static const uint8_t c[] = "go1.21.";
        assert_false(go_version_scan(c, sizeof(c) - 1, out, sizeof(out)));
        static const uint8_t d[] = "/rustc/59807616e1234567890abcdef1234567890abcde/library/core";
        assert_true(rust_path_scan(d, sizeof(d) - 1, out, sizeof(out)));
        assert_string_equal(out, "rustc commit 59807616e1234567890abcdef1234567890abcde");
        static const uint8_t e[] = "/rustc/59807616e/library";
        assert_false(rust_path_scan(e, sizeof(e) - 1, out, sizeof(out)));

        static const uint8_t pcln119[] = {0xf0, 0xff, 0xff, 0xff, 0, 0, 4, 8};
        static const uint8_t pcln_be[] = {0xff, 0xff, 0xff, 0xf1, 0, 0, 2, 8};
        static const uint8_t bad_quantum[] = {0xf0, 0xff, 0xff, 0xff, 0, 0, 3, 8};
        assert_string_equal(go_pclntab_version(pcln119, 8), "1.18-1.19");
        assert_string_equal(go_pclntab_version(pcln_be, 8), "1.20+");
        assert_null(go_pclntab_version(bad_quantum, 8));
        assert_null(go_pclntab_version(pcln119, 7));
}

static void test_arm_attributes(void **state) {
        /* 'A', subsection (len 0x1c) "aeabi", Tag_File (len 0x12):
         * CPU_name "7-A", CPU_arch 10, profile 'A', ABI_VFP_args 1, FP_arch 4 */
        static const uint8_t good[] = {'A', 0x1c, 0, 0, 0, 'a', 'e', 'a', 'b', 'i', 0, 1, 0x12, 0,
                        0, 0, 5, '7', '-', 'A', 0, 6, 10, 7, 'A', 28, 1, 10, 4};
        struct xarch_arm_attributes attr = {-1, 0, -1, -1, ""};
        assert_int_equal(arm_attributes_parse(good, sizeof(good), false, &attr), 0);
        assert_int_equal(attr.cpu_arch, 10);
        assert_int_equal(attr.cpu_profile, 'A');
        assert_int_equal(attr.vfp_args, 1);
        assert_int_equal(attr.fp_arch, 4);
        assert_string_equal(attr.cpu_name, "7-A");
        assert_string_equal(arm_cpu_arch_variant(attr.cpu_arch, attr.cpu_profile), "v7");
        assert_string_equal(arm_cpu_arch_variant(6, 'A'), "v6");
        assert_string_equal(arm_cpu_arch_variant(4, 0), "v5");
        assert_string_equal(arm_cpu_arch_variant(14, 'A'), "v8");
        assert_null(arm_cpu_arch_variant(13, 'M'));

        /* Every truncation and a few corrupt lengths fail cleanly. */
        for (size_t n = 0; n < sizeof(good); n++) {
                struct xarch_arm_attributes t = {-1, 0, -1, -1, ""};
                (void) arm_attributes_parse(good, n, false, &t);
        }
        uint8_t bad[sizeof(good)];
        memcpy(bad, good, sizeof(good));
        bad[1] = 0xff; /* subsection longer than the section */
        assert_int_equal(arm_attributes_parse(bad, sizeof(bad), false, &attr), -EBADMSG);
        memcpy(bad, good, sizeof(good));
        bad[12] = 0x40; /* Tag_File longer than its subsection */
        assert_int_equal(arm_attributes_parse(bad, sizeof(bad), false, &attr), -EBADMSG);
        memcpy(bad, good, sizeof(good));
        bad[20] = 'x'; /* unterminated CPU_name runs into the end */
        memset(bad + 21, 0xff, sizeof(bad) - 21);
        assert_int_equal(arm_attributes_parse(bad, sizeof(bad), false, &attr), -EBADMSG);
}

static void test_notes(void **state) {
        /* NT_GNU_PROPERTY_TYPE_0 with X86_ISA_1_NEEDED = baseline|v2|v3, 8-byte aligned. */
        static const uint8_t note[] = {4, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0, 0x02,
                        0x80, 0x00, 0xc0, 4, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
        int level = 0;
        bool go = false;
        elf_notes_parse(note, sizeof(note), false, 8, &level, &go);
        assert_int_equal(level, 3);
        assert_false(go);
        for (size_t n = 0; n < sizeof(note); n++) {
                level = 0;
                elf_notes_parse(note, n, false, 8, &level, &go);
                assert_true(level == 0 || n == sizeof(note));
        }
        uint8_t huge[sizeof(note)];
        memcpy(huge, note, sizeof(note));
        huge[4] = 0xff, huge[5] = 0xff, huge[6] = 0xff, huge[7] = 0xff; /* descsz */
        level = 0;
        elf_notes_parse(huge, sizeof(huge), false, 8, &level, &go);
        assert_int_equal(level, 0);
}

/* --- hostile ELF headers ------------------------------------------------------------------ */

static void set16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8);
}

static void hostile(uint8_t *b, size_t len, const char *what, bool expect_problem) {
        struct xarch_file_info info;
        assert_int_equal(analyze_mem(b, len, 64, true, &info), 0);
        char desc[512];
        xarch_file_describe(&info, desc, sizeof(desc));
        print_message("%s: %s\n", what, desc);
        assert_int_equal(info.kind, XARCH_FILE_ELF);
        if (expect_problem)
                assert_string_not_equal(info.problem, "");
}

static void test_hostile_headers(void **state) {
        uint8_t b[MINI_SIZE];
        struct xarch_file_info info;

        /* Truncated at every length: never a failure, never a read past the end. */
        mini_elf(b, 62);
        for (size_t n = 4; n < 64; n++) {
                uint8_t *copy = malloc(n); /* exact size so ASan sees any overrun */
                memcpy(copy, b, n);
                assert_int_equal(analyze_mem(copy, n, n, true, &info), 0);
                assert_int_equal(info.kind, XARCH_FILE_ELF);
                assert_string_not_equal(info.problem, "");
                free(copy);
        }

        mini_elf(b, 62);
        b[4] = 3;
        hostile(b, sizeof(b), "bad class", true);

        mini_elf(b, 62);
        put64(b + 40, 0xffffffffff00); /* e_shoff beyond EOF */
        set16(b + 60, 30);
        hostile(b, sizeof(b), "e_shoff beyond EOF", true);

        mini_elf(b, 62);
        put64(b + 40, UINT64_MAX - 10); /* e_shoff + size overflows */
        set16(b + 60, 0xffff);
        hostile(b, sizeof(b), "e_shoff overflow", true);

        mini_elf(b, 62);
        set16(b + 56, 0xffff); /* e_phnum huge */
        hostile(b, sizeof(b), "huge phnum", true);

        mini_elf(b, 62);
        set16(b + 54, 8); /* e_phentsize too small */
        hostile(b, sizeof(b), "small phentsize", true);

        mini_elf(b, 62);
        put64(b + 32, UINT64_MAX - 8); /* e_phoff overflow */
        hostile(b, sizeof(b), "phoff overflow", true);

        /* Section headers overlapping the ELF header, a string table index out of range. */
        mini_elf(b, 62);
        put64(b + 40, 0); /* e_shoff 0 = no table */
        put64(b + 40, 64);
        set16(b + 60, 3);
        set16(b + 62, 200);
        hostile(b, sizeof(b), "bad shstrndx", true);

        /* Extended numbering with a huge count in section 0. */
        mini_elf(b, 62);
        put64(b + 40, 0x200);
        set16(b + 60, 0);
        set16(b + 62, 0xffff);
        put64(b + 0x200 + 32, 1000000);
        hostile(b, sizeof(b), "extended shnum", true);

        /* A section table whose names point outside the string table, a PT_INTERP that runs past
         * the end, and a string table that is not NUL-terminated. */
        mini_elf(b, 62);
        put64(b + 40, 0x200);
        set16(b + 60, 3);
        set16(b + 62, 1);
        uint8_t *sh1 = b + 0x200 + 64, *sh2 = b + 0x200 + 128;
        sh1[4] = 3;                   /* SHT_STRTAB */
        put64(sh1 + 24, 0x300);       /* offset */
        put64(sh1 + 32, 4);           /* size */
        memcpy(b + 0x300, "abcd", 4); /* unterminated */
        put64(sh2, 0x7fffffff);       /* name far outside */
        sh2[4] = 1;
        put64(sh2 + 24, 0x10), put64(sh2 + 32, 0x10);
        uint8_t *ph = b + 64;
        ph[0] = 3; /* PT_INTERP */
        put64(ph + 8, 0x5f0), put64(ph + 32, 0x1000);
        hostile(b, sizeof(b), "bad names and interp", true);

        /* PT_INTERP exactly at the end without a NUL; PT_DYNAMIC on an ET_DYN full of junk. */
        mini_elf(b, 62);
        b[16] = 3; /* ET_DYN */
        set16(b + 56, 2);
        memset(b + 0x5f0, 'x', 0x10);
        ph = b + 64 + 56;
        ph[0] = 2; /* PT_DYNAMIC */
        put64(ph + 8, 0x5f8), put64(ph + 32, 0x8);
        hostile(b, sizeof(b), "junk dynamic", false);

        /* PT_NOTE segments with absurd sizes. */
        mini_elf(b, 62);
        ph = b + 64;
        ph[0] = 4;
        put64(ph + 8, 0x100), put64(ph + 32, 0x500), put64(ph + 48, 8);
        memset(b + 0x100, 0xff, 0x500);
        hostile(b, sizeof(b), "junk notes", false);
}

/* A virtual 1 TiB file: an ELF header, zeros elsewhere; records the largest read asked for. */
struct huge_file {
        uint8_t hdr[64];
        size_t max_read;
};

static ssize_t huge_read(void *userdata, uint64_t offset, void *buf, size_t len) {
        struct huge_file *h = userdata;
        if (len > h->max_read)
                h->max_read = len;
        if (len > 64u * 1024 * 1024)
                return -EFBIG; /* the engine should never ask for this much */
        memset(buf, 0, len);
        if (offset < sizeof(h->hdr)) {
                size_t n = sizeof(h->hdr) - (size_t) offset;
                memcpy(buf, h->hdr + offset, n < len ? n : len);
        }
        return (ssize_t) len;
}

static void test_section_table_budget(void **state) {
        /* 65535 section headers of 65535 bytes each claim 4 GiB: the count alone is under
         * FILE_MAX_SHDRS, so the table's byte size must be bounded too. */
        struct huge_file h = {.max_read = 0};
        uint8_t b[MINI_SIZE];
        mini_elf(b, 62);
        put64(b + 40, 0x1000); /* e_shoff */
        set16(b + 58, 0xffff); /* e_shentsize */
        set16(b + 60, 0xffff); /* e_shnum */
        memcpy(h.hdr, b, sizeof(h.hdr));
        struct xarch_file_source src = {
                        .size = 1ull << 40,
                        .read = huge_read,
                        .userdata = &h,
        };
        struct xarch_file_analyzer *a = NULL;
        struct xarch_file_info info;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_file_analyzer_new(&a, NULL), 0);
        int r = xarch_file_analyze(a, &src, &info, &err);
        if (err)
                print_message("%s\n", err->msg);
        assert_int_equal(r, 0);
        xarch_error_free(err);
        print_message("largest read %zu, scratch %zu\n", h.max_read, a->big_size);
        assert_true(h.max_read <= (size_t) FILE_MAX_SHDRS * 64);
        assert_true(a->big_size <= 2 * (size_t) (FILE_MAX_SHDRS * 64 + FILE_MAX_SHSTRTAB + 1));
        assert_string_not_equal(info.problem, "");
        xarch_file_analyzer_free(a);
}

/* Only headers and a few small sections are read, not the file. */
static void check_budget(const char *rel, unsigned max_reads, uint64_t max_bytes) {
        size_t len;
        _cleanup_free_ uint8_t *buf = read_whole(rel, &len);
        struct xarch_file_info info;
        if (!buf)
                skip();
        assert_int_equal(analyze_mem(buf, len, XARCH_FILE_PREFIX_SIZE, true, &info), 0);
        print_message("%s: %u reads, %llu bytes of %zu\n", rel, m.reads,
                        (unsigned long long) m.bytes, len);
        assert_true(m.reads <= max_reads);
        assert_true(m.bytes <= max_bytes);
}

static void test_budget(void **state) {
        check_budget("c/hello-dynamic", 4, 64 * 1024);
        check_budget("go/hello-arm64", 6, 128 * 1024);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_go_fixtures),
                        cmocka_unit_test(test_other_fixtures),
                        cmocka_unit_test(test_go_details),
                        cmocka_unit_test(test_c_details),
                        cmocka_unit_test(test_other_formats),
                        cmocka_unit_test(test_prefix_only),
                        cmocka_unit_test(test_go_without_buildinfo),
                        cmocka_unit_test(test_go_pointer_buildinfo),
                        cmocka_unit_test(test_go_inline_hostile),
                        cmocka_unit_test(test_modinfo_parse),
                        cmocka_unit_test(test_modinfo_quoted_control),
                        cmocka_unit_test(test_scans),
                        cmocka_unit_test(test_arm_attributes),
                        cmocka_unit_test(test_notes),
                        cmocka_unit_test(test_hostile_headers),
                        cmocka_unit_test(test_section_table_budget),
                        cmocka_unit_test(test_budget),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
