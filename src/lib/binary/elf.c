/* SPDX-License-Identifier: MIT */
/*
 * ELF analysis: header, program headers, section headers and the few sections that answer a
 * question (notes, .comment, .ARM.attributes, Go's sections). Every offset from the file is
 * checked against the file size and every table against a fixed budget before it is read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "binary/elf.h"
#include "binary/gobuild.h"
#include "macro.h"

#define ET_REL  1
#define ET_EXEC 2
#define ET_DYN  3
#define ET_CORE 4

#define PT_LOAD    1
#define PT_DYNAMIC 2
#define PT_INTERP  3
#define PT_NOTE    4
#define PF_X       1
#define PF_W       2

#define SHT_NOBITS         8
#define SHT_ARM_ATTRIBUTES 0x70000003u
#define SHN_XINDEX         0xffffu

#define DT_NEEDED  1
#define DT_FLAGS_1 0x6ffffffbu
#define DF_1_PIE   0x08000000u

#define EM_386       3
#define EM_MIPS      8
#define EM_ARM       40
#define EM_X86_64    62
#define EM_AARCH64   183
#define EM_RISCV     243
#define EM_LOONGARCH 258
#define EM_PPC64     21

#define NT_GNU_PROPERTY_TYPE_0        5
#define GNU_PROPERTY_X86_ISA_1_NEEDED 0xc0008002u
#define NT_GO_BUILDID                 4

#define MAX_NOTE_BYTES 4096u
#define MAX_DYNAMIC    (16u * 1024u)
#define MAX_COMMENT    4096u
#define MAX_ATTRIBUTES 4096u
#define MAX_SEGMENTS   16u
#define MAX_INTERP     255u

struct section {
        bool present;
        uint32_t type;
        uint64_t addr, offset, size;
};

struct elf_sections {
        bool table_read; /* the section header table was read and made sense */
        struct section symtab, debug_info, go_buildinfo, gopclntab, go_module, go_fipsinfo,
                        go_buildid, comment, arm_attributes, rodata;
};

struct elf_segments {
        bool has_interp, has_dynamic;
        uint64_t interp_off, interp_size, dynamic_off, dynamic_size;
        struct {
                uint64_t off, size, align;
        } notes[MAX_SEGMENTS];
        size_t n_notes;
        struct go_load_segment loads[MAX_SEGMENTS];
        size_t n_loads;
        int first_rw_load; /* index into loads of the first writable, non-executable one */
};

static bool range_ok(uint64_t off, uint64_t len, uint64_t size) {
        return off <= size && len <= size - off;
}

bool elf_machine_platform(uint16_t machine, int bits, bool be, uint32_t flags,
                const char **ret_arch, const char **ret_name) {
        const char *arch = NULL, *name = NULL;
        switch (machine) {
        case 0:
                name = "no machine";
                break;
        case 2:
                arch = "sparc", name = "SPARC";
                break;
        case EM_386:
                arch = "386", name = "Intel 80386";
                break;
        case 4:
                arch = "m68k", name = "Motorola m68k, 68020";
                break;
        case EM_MIPS:
                if (bits == 64)
                        arch = be ? "mips64" : "mips64le";
                else
                        arch = be ? "mips" : "mipsle";
                name = "MIPS";
                break;
        case 10:
                arch = "mipsle", name = "MIPS";
                break;
        case 15:
                arch = "hppa", name = "PA-RISC";
                break;
        case 20:
                arch = "ppc", name = "PowerPC or cisco 4500";
                break;
        case EM_PPC64:
                arch = be ? "ppc64" : "ppc64le", name = "64-bit PowerPC or cisco 7500";
                break;
        case 22:
                arch = bits == 64 ? "s390x" : "s390", name = "IBM S/390";
                break;
        case EM_ARM:
                arch = "arm", name = "ARM";
                break;
        case 42:
                arch = "sh4", name = "Renesas SH";
                break;
        case 43:
                arch = "sparc64", name = "SPARC V9";
                break;
        case 50:
                arch = "ia64", name = "IA-64";
                break;
        case EM_X86_64:
                arch = "amd64", name = "x86-64";
                break;
        case EM_AARCH64:
                arch = "arm64", name = "ARM aarch64";
                break;
        case 247:
                name = "eBPF";
                break;
        case EM_RISCV:
                arch = bits == 64 ? "riscv64" : "riscv32", name = "UCB RISC-V";
                break;
        case EM_LOONGARCH:
                arch = bits == 64 ? "loong64" : "loong32", name = "LoongArch";
                break;
        case 0x9026:
                arch = "alpha", name = "Alpha";
                break;
        default:
                break;
        }
        (void) flags;
        if (ret_arch)
                *ret_arch = arch;
        if (ret_name)
                *ret_name = name;
        return arch != NULL;
}

static void append(char *buf, size_t size, const char *word) {
        size_t len = strlen(buf);
        if (len >= size - 1)
                return;
        snprintf(buf + len, size - len, "%s%s", len ? " " : "", word);
}

static void describe_flags(struct xarch_file_info *info) {
        uint32_t f = info->flags;
        char *abi = info->abi;
        size_t size = sizeof(info->abi);
        char tmp[32];

        abi[0] = '\0';
        switch (info->machine) {
        case EM_ARM:
                if (f >> 24) {
                        snprintf(tmp, sizeof(tmp), "EABI%u", f >> 24);
                        append(abi, size, tmp);
                }
                if (f & 0x400 || info->arm.vfp_args == 1)
                        append(abi, size, "hard-float");
                else if (f & 0x200 || (info->arm.cpu_arch >= 0 && info->arm.vfp_args <= 0))
                        append(abi, size, "soft-float");
                if (f & 0x00800000)
                        append(abi, size, "BE8");
                break;
        case EM_MIPS: {
                static const char *const levels[] = {"mips1", "mips2", "mips3", "mips4", "mips5",
                                "mips32", "mips64", "mips32r2", "mips64r2", "mips32r6", "mips64r6"};
                if (f & 0x20)
                        append(abi, size, "n32");
                else if ((f & 0xf000) == 0x1000)
                        append(abi, size, "o32");
                else if ((f & 0xf000) == 0x2000)
                        append(abi, size, "o64");
                else if (info->bits == 64)
                        append(abi, size, "n64");
                if ((f >> 28) < ELEMENTSOF(levels))
                        append(abi, size, levels[f >> 28]);
                if (f & 0x400)
                        append(abi, size, "nan2008");
                if (f & 0x200)
                        append(abi, size, "fp64");
                break;
        }
        case EM_RISCV: {
                static const char *const fabi[] = {
                                "soft-float", "single-float", "double-float", "quad-float"};
                if (f & 0x1)
                        append(abi, size, "RVC");
                append(abi, size, fabi[(f & 0x6) >> 1]);
                if (f & 0x8)
                        append(abi, size, "RVE");
                if (f & 0x10)
                        append(abi, size, "TSO");
                break;
        }
        case EM_LOONGARCH: {
                static const char *const fabi[] = {
                                "", "soft-float", "single-float", "double-float"};
                if ((f & 0x7) && (f & 0x7) < ELEMENTSOF(fabi))
                        append(abi, size, fabi[f & 0x7]);
                if ((f & 0xc0) == 0x40)
                        append(abi, size, "objABI-v1");
                break;
        }
        case EM_PPC64:
                if ((f & 3) == 1)
                        append(abi, size, "ELFv1");
                else if ((f & 3) == 2)
                        append(abi, size, "ELFv2");
                break;
        case EM_X86_64:
                if (info->bits == 32)
                        append(abi, size, "x32");
                break;
        default:
                break;
        }
}

/* --- .ARM.attributes ------------------------------------------------------------------------ */

static bool uleb(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret) {
        uint64_t v = 0;
        for (unsigned shift = 0; *pos < len && shift < 64; shift += 7) {
                uint8_t b = buf[(*pos)++];
                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static bool skip_ntbs(
                const uint8_t *buf, size_t len, size_t *pos, const uint8_t **ret, size_t *ret_len) {
        const uint8_t *nul = memchr(buf + *pos, 0, len - *pos);
        if (!nul)
                return false;
        if (ret)
                *ret = buf + *pos;
        if (ret_len)
                *ret_len = (size_t) (nul - (buf + *pos));
        *pos = (size_t) (nul - buf) + 1;
        return true;
}

static int parse_aeabi_attributes(
                const uint8_t *buf, size_t len, struct xarch_arm_attributes *ret) {
        size_t pos = 0;
        while (pos < len) {
                uint64_t tag, value = 0;
                const uint8_t *str = NULL;
                size_t str_len = 0;
                if (!uleb(buf, len, &pos, &tag))
                        return -EBADMSG;
                if (tag == 4 || tag == 5 || tag == 67 || (tag > 32 && (tag & 1))) {
                        if (!skip_ntbs(buf, len, &pos, &str, &str_len))
                                return -EBADMSG;
                } else if (tag == 32) {
                        if (!uleb(buf, len, &pos, &value) || !skip_ntbs(buf, len, &pos, NULL, NULL))
                                return -EBADMSG;
                } else if (!uleb(buf, len, &pos, &value))
                        return -EBADMSG;

                switch (tag) {
                case 5:
                        copy_printable(ret->cpu_name, sizeof(ret->cpu_name), str, str_len);
                        break;
                case 6:
                        ret->cpu_arch = value > 255 ? 255 : (int) value;
                        break;
                case 7:
                        ret->cpu_profile = value > 255 ? 255 : (int) value;
                        break;
                case 10:
                        ret->fp_arch = value > 255 ? 255 : (int) value;
                        break;
                case 28:
                        ret->vfp_args = value > 255 ? 255 : (int) value;
                        break;
                default:
                        break;
                }
        }
        return 0;
}

int arm_attributes_parse(
                const uint8_t *buf, size_t len, bool be, struct xarch_arm_attributes *ret) {
        size_t pos = 1;
        if (len < 1 || buf[0] != 'A')
                return -EBADMSG;
        while (pos < len) {
                if (len - pos < 4)
                        return -EBADMSG;
                uint32_t sublen = rd32(buf + pos, be);
                if (sublen < 5 || sublen > len - pos)
                        return -EBADMSG;
                const uint8_t *sub = buf + pos;
                size_t q = 4;
                const uint8_t *vendor;
                size_t vendor_len;
                if (!skip_ntbs(sub, sublen, &q, &vendor, &vendor_len))
                        return -EBADMSG;
                if (vendor_len == 5 && memcmp(vendor, "aeabi", 5) == 0) {
                        while (q < sublen) {
                                if (sublen - q < 5)
                                        return -EBADMSG;
                                uint8_t tag = sub[q];
                                uint32_t size = rd32(sub + q + 1, be);
                                if (size < 5 || size > sublen - q)
                                        return -EBADMSG;
                                if (tag == 1) { /* Tag_File: attributes of the whole file */
                                        int r = parse_aeabi_attributes(sub + q + 5, size - 5, ret);
                                        if (r < 0)
                                                return r;
                                }
                                q += size;
                        }
                }
                pos += sublen;
        }
        return 0;
}

const char *arm_cpu_arch_variant(int cpu_arch, int profile) {
        if (profile == 'M' || profile == 'R')
                return NULL; /* not a Linux userland */
        if (cpu_arch >= 1 && cpu_arch <= 5)
                return "v5";
        if (cpu_arch >= 6 && cpu_arch <= 9)
                return "v6";
        if (cpu_arch == 10)
                return "v7";
        if (cpu_arch == 14 || (cpu_arch >= 18 && cpu_arch <= 20) || cpu_arch == 22)
                return "v8";
        return NULL;
}

/* --- notes -------------------------------------------------------------------------------- */

static size_t align_up(size_t v, size_t a) {
        return (v + a - 1) & ~(a - 1);
}

static int x86_level_from_property(const uint8_t *desc, size_t len, bool be, size_t align) {
        size_t pos = 0;
        int level = 0;
        while (len - pos >= 8) {
                uint32_t type = rd32(desc + pos, be), datasz = rd32(desc + pos + 4, be);
                pos += 8;
                if (datasz > len - pos)
                        break;
                if (type == GNU_PROPERTY_X86_ISA_1_NEEDED && datasz >= 4) {
                        uint32_t bits = rd32(desc + pos, be);
                        for (int i = 3; i >= 0; i--)
                                if (bits & (1u << i)) {
                                        level = i + 1;
                                        break;
                                }
                }
                pos = align_up(pos + datasz, align);
                if (pos > len)
                        break;
        }
        return level;
}

void elf_notes_parse(const uint8_t *buf, size_t len, bool be, size_t align, int *ret_x86_level,
                bool *ret_go_note) {
        size_t pos = 0;
        if (align != 8)
                align = 4;
        while (len - pos >= 12) {
                uint32_t namesz = rd32(buf + pos, be), descsz = rd32(buf + pos + 4, be);
                uint32_t type = rd32(buf + pos + 8, be);
                pos += 12;
                if (namesz > len - pos)
                        return;
                const uint8_t *name = buf + pos;
                size_t desc_pos = align_up(pos + namesz, align);
                if (desc_pos > len || descsz > len - desc_pos)
                        return;
                const uint8_t *desc = buf + desc_pos;
                if (namesz == 4 && memcmp(name, "GNU", 4) == 0 && type == NT_GNU_PROPERTY_TYPE_0) {
                        int level = x86_level_from_property(desc, descsz, be, align);
                        if (level > *ret_x86_level)
                                *ret_x86_level = level;
                } else if (namesz == 4 && memcmp(name, "Go\0\0", 4) == 0 && type == NT_GO_BUILDID)
                        *ret_go_note = true;
                pos = align_up(desc_pos + descsz, align);
                if (pos > len)
                        return;
        }
}

/* --- tables ------------------------------------------------------------------------------- */

static int read_exact(struct file_src *s, uint64_t off, void *buf, size_t len) {
        ssize_t n = src_read(s, off, buf, len);
        if (n < 0)
                return (int) n;
        return (size_t) n == len ? 1 : 0;
}

static int read_segments(struct xarch_file_analyzer *a, struct file_src *s, bool be, int bits,
                uint64_t phoff, unsigned phnum, unsigned phentsize, struct elf_segments *seg,
                struct xarch_file_info *info) {
        unsigned want = bits == 64 ? 56 : 32;
        seg->first_rw_load = -1;
        if (phnum == 0)
                return 0;
        if (phentsize < want) {
                file_problem(info, "program header size %u is too small", phentsize);
                return 0;
        }
        if (phnum > FILE_MAX_PHDRS || (size_t) phnum * phentsize > FILE_SCRATCH_SIZE) {
                file_problem(info, "too many program headers (%u)", phnum);
                return 0;
        }
        size_t total = (size_t) phnum * phentsize;
        if (!range_ok(phoff, total, s->size)) {
                file_problem(info, "program headers beyond the end of the file");
                return 0;
        }
        int r = read_exact(s, phoff, a->scratch, total);
        if (r <= 0) {
                if (r == 0)
                        file_problem(info, "program headers could not be read in full");
                return r;
        }
        for (unsigned i = 0; i < phnum; i++) {
                const uint8_t *p = a->scratch + (size_t) i * phentsize;
                uint32_t type = rd32(p, be), flags;
                uint64_t off, vaddr, filesz, align;
                if (bits == 64) {
                        flags = rd32(p + 4, be);
                        off = rd64(p + 8, be), vaddr = rd64(p + 16, be);
                        filesz = rd64(p + 32, be), align = rd64(p + 48, be);
                } else {
                        off = rd32(p + 4, be), vaddr = rd32(p + 8, be);
                        filesz = rd32(p + 16, be), flags = rd32(p + 24, be);
                        align = rd32(p + 28, be);
                }
                switch (type) {
                case PT_INTERP:
                        seg->has_interp = true;
                        seg->interp_off = off, seg->interp_size = filesz;
                        break;
                case PT_DYNAMIC:
                        seg->has_dynamic = true;
                        seg->dynamic_off = off, seg->dynamic_size = filesz;
                        break;
                case PT_NOTE:
                        if (seg->n_notes < MAX_SEGMENTS) {
                                seg->notes[seg->n_notes].off = off;
                                seg->notes[seg->n_notes].size = filesz;
                                seg->notes[seg->n_notes].align = align;
                                seg->n_notes++;
                        }
                        break;
                case PT_LOAD:
                        if (seg->n_loads < MAX_SEGMENTS) {
                                if (seg->first_rw_load < 0 && (flags & PF_W) && !(flags & PF_X))
                                        seg->first_rw_load = (int) seg->n_loads;
                                seg->loads[seg->n_loads].vaddr = vaddr;
                                seg->loads[seg->n_loads].offset = off;
                                seg->loads[seg->n_loads].filesz = filesz;
                                seg->n_loads++;
                        }
                        break;
                default:
                        break;
                }
        }
        return 0;
}

static void note_section(struct elf_sections *sec, const char *name, uint32_t type, uint64_t addr,
                uint64_t off, uint64_t size) {
        static const struct {
                const char *name;
                size_t offset;
        } wanted[] = {
                        {".symtab", offsetof(struct elf_sections, symtab)},
                        {".debug_info", offsetof(struct elf_sections, debug_info)},
                        {".zdebug_info", offsetof(struct elf_sections, debug_info)},
                        {".go.buildinfo", offsetof(struct elf_sections, go_buildinfo)},
                        {".gopclntab", offsetof(struct elf_sections, gopclntab)},
                        {".data.rel.ro.gopclntab", offsetof(struct elf_sections, gopclntab)},
                        {".go.module", offsetof(struct elf_sections, go_module)},
                        {".go.fipsinfo", offsetof(struct elf_sections, go_fipsinfo)},
                        {".note.go.buildid", offsetof(struct elf_sections, go_buildid)},
                        {".comment", offsetof(struct elf_sections, comment)},
                        {".ARM.attributes", offsetof(struct elf_sections, arm_attributes)},
                        {".rodata", offsetof(struct elf_sections, rodata)},
        };
        for (size_t i = 0; i < ELEMENTSOF(wanted); i++) {
                if (!streq(name, wanted[i].name))
                        continue;
                struct section *s = (struct section *) ((char *) sec + wanted[i].offset);
                if (s->present)
                        return;
                s->present = true;
                s->type = type, s->addr = addr, s->offset = off, s->size = size;
                return;
        }
}

static int read_sections(struct xarch_file_analyzer *a, struct file_src *s, bool be, int bits,
                uint64_t shoff, unsigned shnum, unsigned shentsize, unsigned shstrndx,
                struct elf_sections *sec, struct xarch_file_info *info) {
        unsigned want = bits == 64 ? 64 : 40;
        uint8_t first[64];
        int r;

        if (shoff == 0)
                return 0;
        if (shentsize < want) {
                file_problem(info, "section header size %u is too small", shentsize);
                return 0;
        }
        if (!range_ok(shoff, want, s->size)) {
                file_problem(info, "section header table beyond the end of the file");
                return 0;
        }
        /* Extended numbering: the real count and string table index live in section 0. */
        if (shnum == 0 || shstrndx == SHN_XINDEX) {
                r = read_exact(s, shoff, first, want);
                if (r <= 0)
                        return r;
                if (shnum == 0)
                        shnum = (unsigned) (bits == 64 ? rd64(first + 32, be)
                                                       : rd32(first + 20, be));
                if (shstrndx == SHN_XINDEX)
                        shstrndx = rd32(first + (bits == 64 ? 40 : 24), be);
                if (shnum == 0)
                        return 0;
        }
        if (shnum > FILE_MAX_SHDRS) {
                file_problem(info, "too many sections (%u) to analyse", shnum);
                return 0;
        }
        size_t total = (size_t) shnum * shentsize;
        /* e_shentsize is 16 bits: bound the bytes too, not only the count (65535 entries of
         * 65535 bytes would otherwise be a 4 GiB read). */
        if (total > (size_t) FILE_MAX_SHDRS * 64) {
                file_problem(info, "section header table of %zu bytes is too large", total);
                return 0;
        }
        if (!range_ok(shoff, total, s->size)) {
                file_problem(info, "section header table beyond the end of the file");
                return 0;
        }
        r = analyzer_reserve(a, total);
        if (r < 0)
                return r;
        /* The table usually ends the file, right after the section-name table and (when
         * stripped) .comment: one read of the tail answers all three. */
        if (total <= FILE_CACHE_SIZE) {
                uint64_t end = shoff + total;
                src_prime(s, end > FILE_CACHE_SIZE ? end - FILE_CACHE_SIZE : 0,
                                end > FILE_CACHE_SIZE ? FILE_CACHE_SIZE : (size_t) end);
        }
        r = read_exact(s, shoff, a->big, total);
        if (r <= 0) {
                if (r == 0)
                        file_problem(info, "section headers could not be read in full");
                return r;
        }

        /* The section-name string table, after the headers in the same buffer (bounded: object
         * files with thousands of sections have large ones). */
        size_t strtab_len = 0;
        uint64_t strtab_size = 0;
        uint8_t *names;
        if (shstrndx < shnum) {
                const uint8_t *h = a->big + (size_t) shstrndx * shentsize;
                uint64_t off = bits == 64 ? rd64(h + 24, be) : rd32(h + 16, be);
                uint64_t size = bits == 64 ? rd64(h + 32, be) : rd32(h + 20, be);
                if (!range_ok(off, size, s->size))
                        file_problem(info, "section name table beyond the end of the file");
                else {
                        size_t n = size > FILE_MAX_SHSTRTAB ? FILE_MAX_SHSTRTAB : (size_t) size;
                        r = analyzer_reserve(a, total + n + 1);
                        if (r < 0)
                                return r;
                        ssize_t got = src_read(s, off, a->big + total, n);
                        if (got < 0)
                                return (int) got;
                        strtab_len = (size_t) got;
                        strtab_size = size;
                }
        } else if (shstrndx != 0)
                file_problem(info, "section name table index %u out of range", shstrndx);
        r = analyzer_reserve(a, total + strtab_len + 1);
        if (r < 0)
                return r;
        names = a->big + total;
        names[strtab_len] = '\0';

        bool bad_name = false;
        for (unsigned i = 1; i < shnum; i++) {
                const uint8_t *h = a->big + (size_t) i * shentsize;
                uint32_t name = rd32(h, be), type = rd32(h + 4, be);
                uint64_t addr, off, size;
                if (bits == 64)
                        addr = rd64(h + 16, be), off = rd64(h + 24, be), size = rd64(h + 32, be);
                else
                        addr = rd32(h + 12, be), off = rd32(h + 16, be), size = rd32(h + 20, be);
                if (type == SHT_NOBITS)
                        continue;
                if (name >= strtab_len) {
                        bad_name = bad_name || (strtab_len > 0 && name >= strtab_size);
                        continue;
                }
                if (!range_ok(off, size, s->size))
                        continue; /* a section that claims bytes the file does not have */
                note_section(sec, (const char *) names + name, type, addr, off, size);
                if (type == SHT_ARM_ATTRIBUTES && !sec->arm_attributes.present)
                        note_section(sec, ".ARM.attributes", type, addr, off, size);
        }
        if (bad_name)
                file_problem(info, "section name index out of range");
        sec->table_read = strtab_len > 0;
        return 0;
}

/* Reads up to max bytes of a section into the scratch buffer; returns the count or -errno. */
static ssize_t read_section(struct xarch_file_analyzer *a, struct file_src *s,
                const struct section *sec, size_t max) {
        size_t n = sec->size > max ? max : sec->size;
        if (n > FILE_SCRATCH_SIZE)
                n = FILE_SCRATCH_SIZE;
        return src_read(s, sec->offset, a->scratch, n);
}

static void read_interp(struct xarch_file_analyzer *a, struct file_src *s,
                const struct elf_segments *seg, struct xarch_file_info *info) {
        if (!range_ok(seg->interp_off, seg->interp_size, s->size)) {
                file_problem(info, "PT_INTERP beyond the end of the file");
                return;
        }
        size_t n = seg->interp_size > MAX_INTERP ? MAX_INTERP : seg->interp_size;
        ssize_t got = src_read(s, seg->interp_off, a->scratch, n);
        if (got <= 0)
                return;
        size_t len = strnlen((const char *) a->scratch, (size_t) got);
        copy_printable(info->interpreter, sizeof(info->interpreter), a->scratch, len);
}

/* DT_FLAGS_1 says whether an ET_DYN without an interpreter is a static PIE or a library. */
static int read_dynamic(struct xarch_file_analyzer *a, struct file_src *s, bool be, int bits,
                const struct elf_segments *seg, bool *ret_pie, bool *ret_needed) {
        size_t entsize = bits == 64 ? 16 : 8;
        if (!range_ok(seg->dynamic_off, seg->dynamic_size, s->size))
                return 0;
        size_t n = seg->dynamic_size > MAX_DYNAMIC ? MAX_DYNAMIC : seg->dynamic_size;
        ssize_t got = src_read(s, seg->dynamic_off, a->scratch, n);
        if (got < 0)
                return (int) got;
        for (size_t pos = 0; pos + entsize <= (size_t) got; pos += entsize) {
                uint64_t tag = bits == 64 ? rd64(a->scratch + pos, be) : rd32(a->scratch + pos, be);
                uint64_t val = bits == 64 ? rd64(a->scratch + pos + 8, be)
                                          : rd32(a->scratch + pos + 4, be);
                if (tag == 0)
                        break;
                if (tag == DT_NEEDED)
                        *ret_needed = true;
                if (tag == DT_FLAGS_1 && (val & DF_1_PIE))
                        *ret_pie = true;
        }
        return 0;
}

static void read_comment(struct xarch_file_analyzer *a, struct file_src *s,
                const struct section *sec, struct xarch_file_info *info) {
        ssize_t got = read_section(a, s, sec, MAX_COMMENT);
        if (got <= 0)
                return;
        size_t pos = 0, len = (size_t) got;
        while (pos < len) {
                const uint8_t *entry = a->scratch + pos;
                const uint8_t *nul = memchr(entry, 0, len - pos);
                size_t elen = nul ? (size_t) (nul - entry) : len - pos;
                if (elen > 0) {
                        if (elen >= 13 && memcmp(entry, "rustc version", 13) == 0) {
                                if (!info->rust_version[0])
                                        copy_printable(info->rust_version,
                                                        sizeof(info->rust_version), entry, elen);
                        } else if (!info->compiler[0])
                                copy_printable(info->compiler, sizeof(info->compiler), entry, elen);
                }
                pos += elen + 1;
        }
}

/* Scans [off, off+len) in chunks for a pattern (range_scan in reader.h makes the same chunks
 * from a stream); at most the kind's budget is read. A source that saw the range stream past
 * answers from its own scan. */
static int scan_range(struct xarch_file_analyzer *a, struct file_src *s, uint64_t off, uint64_t len,
                enum xarch_file_scan_kind kind, char *ret, size_t size) {
        const size_t overlap = RANGE_SCAN_OVERLAP;
        range_scan_fn scan = range_scan_function(kind);
        if (len > range_scan_budget(kind))
                len = range_scan_budget(kind);
        if (s->scanned) {
                uint64_t cut = len;
                if (s->size != XARCH_FILE_SIZE_UNKNOWN)
                        cut = off >= s->size ? 0 : cut > s->size - off ? s->size - off : cut;
                int r = s->scanned(s->userdata, kind, off, cut, ret, size);
                if (r != -ENODATA)
                        return r < 0 ? r : r > 0;
        }
        uint64_t done = 0;
        while (done < len) {
                size_t n = len - done > FILE_SCRATCH_SIZE ? FILE_SCRATCH_SIZE : len - done;
                ssize_t got = src_read(s, off + done, a->scratch, n);
                if (got < 0)
                        return (int) got;
                if (got == 0)
                        break;
                if (scan(a->scratch, (size_t) got, ret, size))
                        return 1;
                if ((size_t) got < n || (size_t) got <= overlap || done + (size_t) got >= len)
                        break;
                done += (size_t) got - overlap;
        }
        return 0;
}

static void go_platform_variant(struct xarch_file_info *info) {
        const char *key = info->go.level_key, *val = info->go.level;
        char *variant = info->platform.variant;
        size_t size = sizeof(info->platform.variant);
        if (!val[0])
                return;
        if (streq(key, "GOAMD64") && val[0] == 'v' && val[1] >= '1' && val[1] <= '4') {
                info->amd64_level = val[1] - '0';
                if (info->amd64_level >= 2) {
                        snprintf(variant, size, "v%d", info->amd64_level);
                        info->variant_source = "go";
                }
        } else if (streq(key, "GOARM") && val[0] >= '5' && val[0] <= '7') {
                snprintf(variant, size, "v%c", val[0]);
                info->variant_source = "go";
        } else if (streq(key, "GOARM64") && val[0] == 'v') {
                size_t n = strcspn(val, ",");
                if (!(n == 4 && strncmp(val, "v8.0", 4) == 0) && n < size) {
                        memcpy(variant, val, n);
                        variant[n] = '\0';
                        info->variant_source = "go";
                }
        } else if ((streq(key, "GOPPC64") && !streq(val, "power8")) ||
                        (streq(key, "GORISCV64") && !streq(val, "rva20u64"))) {
                snprintf(variant, size, "%s", val);
                info->variant_source = "go";
        }
}

static int analyze_go(struct xarch_file_analyzer *a, struct file_src *s,
                const struct elf_sections *sec, const struct elf_segments *seg, bool go_note,
                struct xarch_file_info *info) {
        struct xarch_go_info *go = &info->go;
        int r;

        if (go_note || sec->go_buildid.present)
                go->evidence |= XARCH_GO_NOTE;
        if (sec->go_buildinfo.present || sec->go_module.present || sec->go_fipsinfo.present)
                go->evidence |= XARCH_GO_SECTIONS;
        if (sec->gopclntab.present) {
                uint8_t hdr[8];
                r = read_exact(s, sec->gopclntab.offset, hdr, sizeof(hdr));
                if (r < 0)
                        return r;
                const char *range = r > 0 ? go_pclntab_version(hdr, sizeof(hdr)) : NULL;
                if (range) {
                        go->evidence |= XARCH_GO_PCLNTAB;
                        snprintf(go->version_range, sizeof(go->version_range), "%s", range);
                }
        }

        /* The build-info blob: its section, else (as debug/buildinfo does) the first writable
         * segment; the latter only when something else says Go, so C binaries cost nothing. */
        uint64_t off = 0, len = 0;
        if (sec->go_buildinfo.present)
                off = sec->go_buildinfo.offset, len = sec->go_buildinfo.size;
        else if ((go->evidence || !sec->table_read) && seg->first_rw_load >= 0)
                off = seg->loads[seg->first_rw_load].offset,
                len = seg->loads[seg->first_rw_load].filesz;
        if (len > 0) {
                if (len > FILE_SCRATCH_SIZE)
                        len = FILE_SCRATCH_SIZE;
                ssize_t got = src_read(s, off, a->scratch, len);
                if (got < 0)
                        return (int) got;
                r = go_buildinfo_find(
                                a, s, a->scratch, (size_t) got, off, seg->loads, seg->n_loads, go);
                if (r < 0)
                        return r;
        }

        /* No build info (Go 1.26 release builds, say): look for the version string. */
        if (go->evidence && !go->version[0] && sec->rodata.present) {
                r = scan_range(a, s, sec->rodata.offset, sec->rodata.size,
                                XARCH_FILE_SCAN_GO_VERSION, go->version, sizeof(go->version));
                if (r < 0)
                        return r;
                if (r > 0)
                        go->evidence |= XARCH_GO_VERSION_SCAN;
        }
        return 0;
}

int elf_analyze(struct xarch_file_analyzer *a, struct file_src *s, struct xarch_file_info *info,
                struct xarch_error **err) {
        uint8_t eh[64];
        struct elf_segments seg = {.first_rw_load = -1};
        struct elf_sections sec = {};
        int r;

        info->kind = XARCH_FILE_ELF;
        info->stripped = -1;
        info->arm.cpu_arch = info->arm.cpu_profile = info->arm.fp_arch = info->arm.vfp_args = -1;
        info->arm.cpu_profile = 0;

        ssize_t n = src_read(s, 0, eh, sizeof(eh));
        if (n < 0)
                return xarch_error_set(err, (int) -n, "cannot read ELF header");
        if (n < 20) {
                file_problem(info, "truncated ELF header (%zd bytes)", n);
                return 0;
        }
        if (eh[4] != 1 && eh[4] != 2) {
                file_problem(info, "invalid ELF class %u", eh[4]);
                return 0;
        }
        if (eh[5] != 1 && eh[5] != 2) {
                file_problem(info, "invalid ELF byte order %u", eh[5]);
                return 0;
        }
        int bits = eh[4] == 2 ? 64 : 32;
        bool be = eh[5] == 2;
        info->bits = bits;
        info->big_endian = be;
        info->osabi = eh[7];
        info->elf_type = rd16(eh + 16, be);
        info->machine = rd16(eh + 18, be);

        const char *arch, *name;
        info->platform_known = elf_machine_platform(info->machine, bits, be, 0, &arch, &name);
        if (name)
                snprintf(info->machine_name, sizeof(info->machine_name), "%s", name);
        else
                snprintf(info->machine_name, sizeof(info->machine_name), "unknown machine %u",
                                info->machine);
        static const struct {
                uint8_t osabi;
                const char *os;
        } oses[] = {{2, "netbsd"}, {6, "solaris"}, {9, "freebsd"}, {12, "openbsd"}};
        const char *os = "linux";
        for (size_t i = 0; i < ELEMENTSOF(oses); i++)
                if (oses[i].osabi == info->osabi)
                        os = oses[i].os;
        snprintf(info->platform.os, sizeof(info->platform.os), "%s", os);
        if (arch)
                snprintf(info->platform.arch, sizeof(info->platform.arch), "%s", arch);

        switch (info->elf_type) {
        case ET_REL:
                info->linkage = XARCH_LINK_RELOCATABLE;
                break;
        case ET_CORE:
                info->linkage = XARCH_LINK_CORE;
                break;
        default:
                break;
        }

        size_t hdr_size = bits == 64 ? 64 : 52;
        if ((size_t) n < hdr_size) {
                file_problem(info, "truncated ELF header (%zd of %zu bytes)", n, hdr_size);
                describe_flags(info);
                return 0;
        }
        uint64_t phoff, shoff;
        unsigned phentsize, phnum, shentsize, shnum, shstrndx;
        if (bits == 64) {
                phoff = rd64(eh + 32, be), shoff = rd64(eh + 40, be);
                info->flags = rd32(eh + 48, be);
                phentsize = rd16(eh + 54, be), phnum = rd16(eh + 56, be);
                shentsize = rd16(eh + 58, be), shnum = rd16(eh + 60, be);
                shstrndx = rd16(eh + 62, be);
        } else {
                phoff = rd32(eh + 28, be), shoff = rd32(eh + 32, be);
                info->flags = rd32(eh + 36, be);
                phentsize = rd16(eh + 42, be), phnum = rd16(eh + 44, be);
                shentsize = rd16(eh + 46, be), shnum = rd16(eh + 48, be);
                shstrndx = rd16(eh + 50, be);
        }

        r = read_segments(a, s, be, bits, phoff, phnum, phentsize, &seg, info);
        if (r < 0)
                return xarch_error_set(err, -r, "cannot read program headers: %s", strerror(-r));
        r = read_sections(a, s, be, bits, shoff, shnum, shentsize, shstrndx, &sec, info);
        if (r < 0)
                return xarch_error_set(err, -r, "cannot read section headers: %s", strerror(-r));

        /* Linkage and loader. */
        if (seg.has_interp)
                read_interp(a, s, &seg, info);
        if (info->linkage == XARCH_LINK_UNKNOWN) {
                if (seg.has_interp) {
                        info->linkage = XARCH_LINK_DYNAMIC;
                        info->pie = info->elf_type == ET_DYN;
                } else if (info->elf_type == ET_EXEC)
                        info->linkage = XARCH_LINK_STATIC;
                else if (info->elf_type == ET_DYN) {
                        bool pie = false, needed = false;
                        if (seg.has_dynamic) {
                                r = read_dynamic(a, s, be, bits, &seg, &pie, &needed);
                                if (r < 0)
                                        return xarch_error_set(err, -r, "cannot read PT_DYNAMIC");
                        }
                        info->pie = pie;
                        info->linkage = pie ? XARCH_LINK_STATIC_PIE : XARCH_LINK_SHARED_OBJECT;
                }
        }

        /* Notes: the x86 ISA level and Go's build ID, from PT_NOTE segments. */
        int x86_level = 0;
        bool go_note = false;
        for (size_t i = 0; i < seg.n_notes; i++) {
                if (!range_ok(seg.notes[i].off, seg.notes[i].size, s->size))
                        continue;
                size_t len = seg.notes[i].size > MAX_NOTE_BYTES ? MAX_NOTE_BYTES
                                                                : seg.notes[i].size;
                ssize_t got = src_read(s, seg.notes[i].off, a->scratch, len);
                if (got < 0)
                        return xarch_error_set(err, (int) -got, "cannot read notes");
                elf_notes_parse(a->scratch, (size_t) got, be, seg.notes[i].align, &x86_level,
                                &go_note);
        }

        /* Section facts. */
        if (sec.table_read) {
                info->stripped = sec.symtab.present ? 0 : 1;
                info->debug_info = sec.debug_info.present;
        } else if (shoff == 0 || shnum == 0)
                info->stripped = 1; /* no section header table at all */
        if (sec.comment.present)
                read_comment(a, s, &sec.comment, info);
        if (info->machine == EM_ARM && sec.arm_attributes.present) {
                ssize_t got = read_section(a, s, &sec.arm_attributes, MAX_ATTRIBUTES);
                if (got < 0)
                        return xarch_error_set(err, (int) -got, "cannot read .ARM.attributes");
                if (arm_attributes_parse(a->scratch, (size_t) got, be, &info->arm) < 0)
                        file_problem(info, "malformed .ARM.attributes");
        }

        r = analyze_go(a, s, &sec, &seg, go_note, info);
        if (r < 0)
                return xarch_error_set(
                                err, -r, "cannot read Go build information: %s", strerror(-r));

        /* Language. */
        if (info->go.evidence)
                info->language = XARCH_LANG_GO;
        else {
                if (!info->rust_version[0] && !sec.comment.present && sec.rodata.present) {
                        r = scan_range(a, s, sec.rodata.offset, sec.rodata.size,
                                        XARCH_FILE_SCAN_RUST_PATH, info->rust_version,
                                        sizeof(info->rust_version));
                        if (r < 0)
                                return xarch_error_set(err, -r, "cannot read .rodata");
                }
                if (info->rust_version[0])
                        info->language = XARCH_LANG_RUST;
                else if (info->elf_type == ET_EXEC || info->elf_type == ET_DYN ||
                                info->elf_type == ET_REL)
                        info->language = XARCH_LANG_C;
        }

        /* Variant and level. */
        if (info->language == XARCH_LANG_GO) {
                go_platform_variant(info);
                if (info->go.goarch[0] && arch && !streq(info->go.goarch, arch))
                        file_problem(info, "Go GOARCH=%s but the ELF machine is %s",
                                        info->go.goarch, arch);
        }
        if (info->machine == EM_ARM && !info->platform.variant[0]) {
                const char *v = arm_cpu_arch_variant(info->arm.cpu_arch, info->arm.cpu_profile);
                if (v) {
                        snprintf(info->platform.variant, sizeof(info->platform.variant), "%s", v);
                        info->variant_source = "arm-attributes";
                }
        }
        if (info->machine == EM_X86_64 && info->amd64_level == 0 && x86_level > 0) {
                info->amd64_level = x86_level;
                if (x86_level >= 2) {
                        snprintf(info->platform.variant, sizeof(info->platform.variant), "v%d",
                                        x86_level);
                        info->variant_source = "gnu-property";
                }
        }
        describe_flags(info);
        if (s->unreached)
                info->incomplete = true; /* a stream kept parts of it: not a defect */
        if (s->short_read && !info->problem[0])
                file_problem(info, "only part of the file could be read");
        return 0;
}
