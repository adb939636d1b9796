/* SPDX-License-Identifier: MIT */
/*
 * The front of the binary analysis engine: sources and scratch memory, the format sniffer
 * (ELF, PE, Mach-O thin and fat, #! scripts, everything else is data), the one-line
 * description, and the fd/path entry points. ELF details live in elf.c, Go in gobuild.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binary/elf.h"
#include "macro.h"

/* --- PE ---------------------------------------------------------------------------------- */

static void analyze_pe(struct file_src *s, struct xarch_file_info *info) {
        static const struct {
                uint16_t machine;
                const char *arch, *variant, *name;
        } machines[] = {
                        {0x014c, "386", "", "Intel 80386"},
                        {0x8664, "amd64", "", "x86-64"},
                        {0xaa64, "arm64", "", "Aarch64"},
                        {0x01c4, "arm", "v7", "ARMv7 Thumb"},
                        {0x01c0, "arm", "", "ARM"},
                        {0x5064, "riscv64", "", "RISC-V 64-bit"},
                        {0x6264, "loong64", "", "LoongArch 64-bit"},
        };
        uint8_t buf[26];

        info->kind = XARCH_FILE_PE;
        if (src_read(s, 0x3c, buf, 4) != 4) {
                file_problem(info, "truncated MS-DOS header");
                return;
        }
        uint32_t lfanew = rd32(buf, false);
        ssize_t n = src_read(s, lfanew, buf, sizeof(buf));
        if (n < 24 || memcmp(buf, "PE\0\0", 4) != 0) {
                file_problem(info, "MS-DOS executable without a PE header");
                return;
        }
        info->machine = rd16(buf + 4, false);
        uint16_t opt_size = rd16(buf + 20, false);
        if (n >= 26 && opt_size >= 2) {
                uint16_t magic = rd16(buf + 24, false);
                info->bits = magic == 0x20b ? 64 : magic == 0x10b ? 32 : 0;
        }
        snprintf(info->platform.os, sizeof(info->platform.os), "windows");
        snprintf(info->machine_name, sizeof(info->machine_name), "unknown machine 0x%x",
                        info->machine);
        for (size_t i = 0; i < ELEMENTSOF(machines); i++)
                if (machines[i].machine == info->machine) {
                        snprintf(info->platform.arch, sizeof(info->platform.arch), "%s",
                                        machines[i].arch);
                        snprintf(info->platform.variant, sizeof(info->platform.variant), "%s",
                                        machines[i].variant);
                        snprintf(info->machine_name, sizeof(info->machine_name), "%s",
                                        machines[i].name);
                        info->platform_known = true;
                }
}

/* --- Mach-O ------------------------------------------------------------------------------- */

static bool macho_platform(uint32_t cputype, struct xarch_platform *p, const char **ret_name) {
        static const struct {
                uint32_t cputype;
                const char *arch, *name;
        } cpus[] = {
                        {7, "386", "i386"},
                        {0x01000007, "amd64", "x86_64"},
                        {12, "arm", "arm"},
                        {0x0100000c, "arm64", "arm64"},
                        {0x0200000c, "arm64_32", "arm64_32"},
                        {18, "ppc", "ppc"},
                        {0x01000012, "ppc64", "ppc64"},
        };
        snprintf(p->os, sizeof(p->os), "darwin");
        for (size_t i = 0; i < ELEMENTSOF(cpus); i++)
                if (cpus[i].cputype == cputype) {
                        snprintf(p->arch, sizeof(p->arch), "%s", cpus[i].arch);
                        if (ret_name)
                                *ret_name = cpus[i].name;
                        return true;
                }
        return false;
}

static void analyze_macho(
                struct file_src *s, const uint8_t *hdr, size_t len, struct xarch_file_info *info) {
        info->kind = XARCH_FILE_MACHO;
        if (len < 16) {
                file_problem(info, "truncated Mach-O header");
                return;
        }
        bool be = hdr[0] == 0xfe;
        uint32_t magic = rd32(hdr, be);
        info->bits = magic == 0xfeedfacf ? 64 : 32;
        info->big_endian = be;
        uint32_t cputype = rd32(hdr + 4, be);
        info->machine = (uint16_t) cputype;
        info->elf_type = (uint16_t) rd32(hdr + 12, be); /* Mach-O filetype */
        const char *name = NULL;
        info->platform_known = macho_platform(cputype, &info->platform, &name);
        if (name)
                snprintf(info->machine_name, sizeof(info->machine_name), "%s", name);
        else
                snprintf(info->machine_name, sizeof(info->machine_name), "unknown cputype 0x%x",
                                cputype);
        (void) s;
}

static void analyze_macho_fat(
                struct file_src *s, const uint8_t *hdr, size_t len, struct xarch_file_info *info) {
        uint8_t entry[32];
        bool fat64 = hdr[3] == 0xbf;
        size_t entsize = fat64 ? 32 : 20;
        uint32_t n = rd32(hdr + 4, true);

        info->kind = XARCH_FILE_MACHO_FAT;
        for (uint32_t i = 0; i < n && info->n_slices < XARCH_FILE_MAX_SLICES; i++) {
                if (src_read(s, 8 + (uint64_t) i * entsize, entry, entsize) != (ssize_t) entsize) {
                        file_problem(info, "truncated universal Mach-O header");
                        break;
                }
                struct xarch_platform *p = &info->slices[info->n_slices++];
                if (!macho_platform(rd32(entry, true), p, NULL))
                        snprintf(p->arch, sizeof(p->arch), "cputype-0x%x", rd32(entry, true));
        }
        (void) len;
}

/* --- dispatch ----------------------------------------------------------------------------- */

/* The bytes of the #! line the kernel reads (BINPRM_BUF_SIZE since Linux 5.1). */
#define SCRIPT_BUF_SIZE 256

static bool spacetab(uint8_t c) {
        return c == ' ' || c == '\t';
}

/* The interpreter exactly as fs/binfmt_script.c finds it (Linux >= 5.1) in the file's first
 * 256 bytes, zero-padded: the line ends at the first newline, or, with no newline before a NUL
 * or the buffer's end, at the buffer's end, and then only when a space, tab or NUL ends the
 * interpreter path within it (else exec fails with ENOEXEC: the path would be cut). The name
 * ends at the first space, tab or NUL; one optional argument (spaces included) follows it up
 * to the end of the line or a NUL. Trailing spaces and tabs are dropped; a CR is not. */
static void analyze_script(const uint8_t *prefix, size_t len, struct xarch_file_info *info) {
        uint8_t buf[SCRIPT_BUF_SIZE] = {0};
        const size_t last = SCRIPT_BUF_SIZE - 1;
        memcpy(buf, prefix, len < sizeof(buf) ? len : sizeof(buf));
        info->kind = XARCH_FILE_SCRIPT;

        size_t end = 0; /* like the kernel's strnchr: a NUL stops the search for '\n' */
        while (end < sizeof(buf) && buf[end] && buf[end] != '\n')
                end++;
        if (end == sizeof(buf) || !buf[end]) {
                size_t first = 2;
                while (first <= last && spacetab(buf[first]))
                        first++;
                if (first > last) {
                        file_problem(info, "not runnable: the #! line names no interpreter");
                        return;
                }
                size_t term = first;
                while (term <= last && !spacetab(buf[term]) && buf[term])
                        term++;
                if (term > last) {
                        file_problem(info,
                                        "not runnable: the #! interpreter path runs past the "
                                        "%u bytes the kernel reads (ENOEXEC)",
                                        SCRIPT_BUF_SIZE);
                        return;
                }
                end = last;
        }
        while (end > 2 && spacetab(buf[end - 1]))
                end--;
        size_t name = 2;
        while (name < end && spacetab(buf[name]))
                name++;
        if (name >= end) {
                file_problem(info, "not runnable: the #! line names no interpreter");
                return;
        }
        size_t sep = name;
        while (sep < end && !spacetab(buf[sep]) && buf[sep])
                sep++;
        size_t o = 0;
        for (size_t i = name; i < sep && o + 1 < sizeof(info->interpreter); i++)
                info->interpreter[o++] = (char) buf[i];
        if (sep < end && buf[sep]) { /* the optional argument, up to the end or a NUL */
                size_t arg = sep;
                while (arg < end && spacetab(buf[arg]))
                        arg++;
                if (arg < end && buf[arg] && o + 2 < sizeof(info->interpreter)) {
                        info->interpreter[o++] = ' ';
                        for (size_t i = arg; i < end && buf[i] && o + 1 < sizeof(info->interpreter);
                                        i++)
                                info->interpreter[o++] = (char) buf[i];
                }
        }
        info->interpreter[o] = '\0';
        if (o == 0)
                file_problem(info, "not runnable: the #! interpreter is an empty name (a NUL)");
}

static bool is_java_class(const uint8_t *hdr) {
        /* 0xcafebabe is also Java's magic; its next word is a class-file version >= 45, while
         * a universal binary counts a handful of architectures. */
        return rd32(hdr + 4, true) >= 30;
}

int xarch_file_analyze(struct xarch_file_analyzer *a, const struct xarch_file_source *src,
                struct xarch_file_info *ret, struct xarch_error **err) {
        struct xarch_file_analyzer *tmp = NULL;
        uint8_t hdr[64];
        int r = 0;

        if (!src || !ret)
                return xarch_error_set(err, EINVAL, "no source or result");
        memset(ret, 0, sizeof(*ret));
        ret->size = src->size;
        ret->stripped = -1;
        ret->go.cgo = -1;
        ret->arm.cpu_arch = ret->arm.fp_arch = ret->arm.vfp_args = -1;

        struct file_src s = {
                        .prefix = src->prefix,
                        .prefix_len = src->prefix ? src->prefix_len : 0,
                        .size = src->size,
                        .read = src->read,
                        .userdata = src->userdata,
                        .scanned = src->scanned,
        };
        ssize_t n = src_read(&s, 0, hdr, sizeof(hdr));
        if (n < 0)
                return xarch_error_set(err, (int) -n, "cannot read: %s", strerror((int) -n));
        if (n == 0) {
                ret->kind = s.short_read ? XARCH_FILE_DATA : XARCH_FILE_EMPTY;
                return 0;
        }
        size_t len = (size_t) n;

        if (len >= 4 && memcmp(hdr,
                                        "\x7f"
                                        "ELF",
                                        4) == 0) {
                if (!a) {
                        r = xarch_file_analyzer_new(&tmp, err);
                        if (r < 0)
                                return r;
                        a = tmp;
                }
                s.cache = a->cache;
                r = elf_analyze(a, &s, ret, err);
                xarch_file_analyzer_free(tmp);
                return r;
        }
        if (len >= 2 && hdr[0] == '#' && hdr[1] == '!') {
                /* The interpreter line, from the prefix only. */
                const uint8_t *p = s.prefix_len ? s.prefix : hdr;
                size_t plen = s.prefix_len ? s.prefix_len : len;
                analyze_script(p, plen, ret);
                return 0;
        }
        if (len >= 64 && hdr[0] == 'M' && hdr[1] == 'Z') {
                analyze_pe(&s, ret);
                return 0;
        }
        if (len >= 4) {
                uint32_t le = rd32(hdr, false);
                if (le == 0xfeedface || le == 0xfeedfacf || rd32(hdr, true) == 0xfeedface ||
                                rd32(hdr, true) == 0xfeedfacf) {
                        analyze_macho(&s, hdr, len, ret);
                        return 0;
                }
                if (len >= 8 && (rd32(hdr, true) == 0xcafebabe || rd32(hdr, true) == 0xcafebabf) &&
                                !is_java_class(hdr)) {
                        analyze_macho_fat(&s, hdr, len, ret);
                        return 0;
                }
        }
        ret->kind = XARCH_FILE_DATA;
        return 0;
}

static ssize_t fd_read(void *userdata, uint64_t offset, void *buf, size_t len) {
        int fd = *(int *) userdata;
        ssize_t n = pread(fd, buf, len, (off_t) offset);
        return n < 0 ? -errno : n;
}

int xarch_file_analyze_fd(struct xarch_file_analyzer *a, int fd, struct xarch_file_info *ret,
                struct xarch_error **err) {
        struct xarch_file_analyzer *tmp = NULL;
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return xarch_error_set(err, errno, "cannot stat: %m");
        if (S_ISDIR(st.st_mode))
                return xarch_error_set(err, EISDIR, "is a directory");
        if (!a) {
                r = xarch_file_analyzer_new(&tmp, err);
                if (r < 0)
                        return r;
                a = tmp;
        }
        /* One read answers every non-ELF file: the fast path. */
        ssize_t n;
        do
                n = pread(fd, a->prefix, XARCH_FILE_PREFIX_SIZE, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                r = xarch_error_set(err, errno, "cannot read: %m");
                xarch_file_analyzer_free(tmp);
                return r;
        }
        struct xarch_file_source src = {
                        .prefix = a->prefix,
                        .prefix_len = (size_t) n,
                        .size = S_ISREG(st.st_mode) ? (uint64_t) st.st_size
                                                    : XARCH_FILE_SIZE_UNKNOWN,
                        .read = S_ISREG(st.st_mode) ? fd_read : NULL,
                        .userdata = &fd,
        };
        r = xarch_file_analyze(a, &src, ret, err);
        xarch_file_analyzer_free(tmp);
        return r;
}

int xarch_file_analyze_path(struct xarch_file_analyzer *a, const char *path,
                struct xarch_file_info *ret, struct xarch_error **err) {
        /* O_NONBLOCK: a FIFO must not hang the caller. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return xarch_error_set(err, errno, "cannot open '%s': %m", path);
        int r = xarch_file_analyze_fd(a, fd, ret, err);
        if (r < 0)
                return xarch_error_wrap(err, "'%s'", path);
        return r;
}

/* --- names and description ------------------------------------------------------------------ */

const char *xarch_file_kind_name(enum xarch_file_kind kind) {
        static const char *const names[] = {
                        [XARCH_FILE_DATA] = "data",
                        [XARCH_FILE_EMPTY] = "empty",
                        [XARCH_FILE_ELF] = "elf",
                        [XARCH_FILE_PE] = "pe",
                        [XARCH_FILE_MACHO] = "macho",
                        [XARCH_FILE_MACHO_FAT] = "macho-fat",
                        [XARCH_FILE_SCRIPT] = "script",
        };
        return (unsigned) kind < ELEMENTSOF(names) ? names[kind] : "unknown";
}

const char *xarch_file_linkage_name(enum xarch_file_linkage linkage) {
        static const char *const names[] = {
                        [XARCH_LINK_UNKNOWN] = "unknown",
                        [XARCH_LINK_STATIC] = "static",
                        [XARCH_LINK_STATIC_PIE] = "static-pie",
                        [XARCH_LINK_DYNAMIC] = "dynamic",
                        [XARCH_LINK_SHARED_OBJECT] = "shared-object",
                        [XARCH_LINK_RELOCATABLE] = "relocatable",
                        [XARCH_LINK_CORE] = "core",
        };
        return (unsigned) linkage < ELEMENTSOF(names) ? names[linkage] : "unknown";
}

const char *xarch_file_language_name(enum xarch_file_language language) {
        static const char *const names[] = {
                        [XARCH_LANG_UNKNOWN] = "unknown",
                        [XARCH_LANG_C] = "c",
                        [XARCH_LANG_GO] = "go",
                        [XARCH_LANG_RUST] = "rust",
        };
        return (unsigned) language < ELEMENTSOF(names) ? names[language] : "unknown";
}

struct out {
        char *buf;
        size_t size, len;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...) {
        va_list ap;
        if (o->len >= o->size)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                o->len = (size_t) n >= o->size - o->len ? o->size - 1 : o->len + (size_t) n;
}

/* A name as is, or quoted with C escapes when it holds a control byte ("/bin/sh\r", the classic
 * CRLF script whose interpreter is not found). */
static void out_name(struct out *o, const char *name) {
        bool plain = true;
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                plain = plain && *p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\';
        if (plain) {
                outf(o, "%s", name);
                return;
        }
        outf(o, "\"");
        for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
                if (*p == '\r')
                        outf(o, "\\r");
                else if (*p == '\n')
                        outf(o, "\\n");
                else if (*p == '\t')
                        outf(o, "\\t");
                else if (*p == '"' || *p == '\\')
                        outf(o, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        outf(o, "\\x%02x", *p);
                else
                        outf(o, "%c", *p);
        }
        outf(o, "\"");
}

static void out_platform(struct out *o, const struct xarch_platform *p) {
        outf(o, "%s/%s", p->os, p->arch[0] ? p->arch : "?");
        if (p->variant[0])
                outf(o, "/%s", p->variant);
}

static void describe_go(struct out *o, const struct xarch_go_info *go) {
        char parts[160] = "";
        struct out p = {.buf = parts, .size = sizeof(parts)};

        outf(o, ", Go");
        if (go->version[0])
                outf(o, " %s", go->version);
        else if (go->version_range[0])
                outf(o, " %s", go->version_range);
        if (!(go->evidence & XARCH_GO_BUILDINFO)) {
                outf(o, " (no build info)");
                return;
        }
        if (go->goarch[0])
                outf(&p, "%sGOARCH=%s", p.len ? ", " : "", go->goarch);
        if (go->level_key[0])
                outf(&p, "%s%s=%s", p.len ? ", " : "", go->level_key, go->level);
        if (go->cgo == 1)
                outf(&p, "%sCGO_ENABLED=1", p.len ? ", " : "");
        if (go->buildmode[0] && !streq(go->buildmode, "exe"))
                outf(&p, "%s-buildmode=%s", p.len ? ", " : "", go->buildmode);
        if (p.len)
                outf(o, " (%s)", parts);
}

int xarch_file_describe(const struct xarch_file_info *info, char *buf, size_t size) {
        if (!info || !buf || size == 0)
                return -EINVAL;
        struct out o = {.buf = buf, .size = size};
        buf[0] = '\0';

        switch (info->kind) {
        case XARCH_FILE_DATA:
                outf(&o, "data");
                break;
        case XARCH_FILE_EMPTY:
                outf(&o, "empty");
                break;
        case XARCH_FILE_SCRIPT:
                if (info->problem[0]) { /* "not runnable: why" */
                        outf(&o, "script, %s", info->problem);
                        break;
                }
                outf(&o, "script, interpreter ");
                out_name(&o, info->interpreter);
                break;
        case XARCH_FILE_PE:
                outf(&o, "PE%s", info->bits == 64 ? "32+" : info->bits == 32 ? "32" : "");
                if (info->platform.arch[0]) {
                        outf(&o, ", ");
                        out_platform(&o, &info->platform);
                } else if (info->machine_name[0])
                        outf(&o, ", %s", info->machine_name);
                break;
        case XARCH_FILE_MACHO:
                outf(&o, "Mach-O %d-bit, ", info->bits);
                if (info->platform.arch[0])
                        out_platform(&o, &info->platform);
                else
                        outf(&o, "%s", info->machine_name);
                break;
        case XARCH_FILE_MACHO_FAT:
                outf(&o, "Mach-O universal binary with %u architectures", info->n_slices);
                for (unsigned i = 0; i < info->n_slices; i++) {
                        outf(&o, i ? ", " : ": ");
                        out_platform(&o, &info->slices[i]);
                }
                break;
        case XARCH_FILE_ELF:
                if (info->bits == 0) {
                        outf(&o, "ELF");
                        break;
                }
                outf(&o, "ELF %d-bit %s, ", info->bits, info->big_endian ? "MSB" : "LSB");
                if (info->platform.arch[0])
                        out_platform(&o, &info->platform);
                else
                        outf(&o, "%s", info->machine_name);
                if (info->abi[0])
                        outf(&o, " (%s)", info->abi);
                switch (info->linkage) {
                case XARCH_LINK_DYNAMIC:
                        outf(&o, ", dynamic%s", info->pie ? " pie" : "");
                        if (info->interpreter[0])
                                outf(&o, " (interpreter %s)", info->interpreter);
                        break;
                case XARCH_LINK_UNKNOWN:
                        break;
                default:
                        outf(&o, ", %s", xarch_file_linkage_name(info->linkage));
                        break;
                }
                if (info->language == XARCH_LANG_GO)
                        describe_go(&o, &info->go);
                else if (info->language == XARCH_LANG_RUST)
                        outf(&o, ", Rust (%s)", info->rust_version);
                else if (info->language == XARCH_LANG_C) {
                        outf(&o, ", C/C++");
                        if (info->compiler[0])
                                outf(&o, " (%s)", info->compiler);
                }
                if (info->stripped == 1)
                        outf(&o, ", stripped");
                else if (info->stripped == 0)
                        outf(&o, ", not stripped%s", info->debug_info ? ", with debug_info" : "");
                break;
        }
        if (info->problem[0] && info->kind != XARCH_FILE_SCRIPT)
                outf(&o, ", malformed: %s", info->problem);
        if (info->incomplete)
                outf(&o, ", read in part (a large file streamed from a layer: some ranges were not "
                         "kept)");
        return (int) o.len;
}
