/* SPDX-License-Identifier: MIT */
/*
 * binfmt_misc instances: parsing entry files (the exact text of fs/binfmt_misc.c
 * entry_status()), the kernel's match rule, and register/control writes with the kernel's
 * errors explained. Every path is relative to the instance's mount point so tests can use a
 * private instance in a user namespace (Linux >= 6.7).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "host/binfmt-internal.h"
#include "macro.h"
#include "xarch/binfmt.h"

struct xarch_binfmt {
        char mount[4096];
};

void xarch_binfmt_flags_format(unsigned flags, char buf[static 5]) {
        char *p = buf;
        /* entry_status() order; C sets MISC_FMT_OPEN_BINARY too, so it always shows O */
        if (flags & XARCH_BINFMT_FLAG_P)
                *p++ = 'P';
        if (flags & (XARCH_BINFMT_FLAG_O | XARCH_BINFMT_FLAG_C))
                *p++ = 'O';
        if (flags & XARCH_BINFMT_FLAG_C)
                *p++ = 'C';
        if (flags & XARCH_BINFMT_FLAG_F)
                *p++ = 'F';
        *p = '\0';
}

/* ---- entry parsing ---- */

struct cursor {
        const char *p;
        const char *end;
        unsigned line_no;
};

/* The next '\n'-terminated line (without the newline); false at the end or when the last line
 * has no newline (the kernel always terminates them). */
static bool next_line(struct cursor *c, const char **ret, size_t *ret_len) {
        if (c->p >= c->end)
                return false;
        const char *nl = memchr(c->p, '\n', (size_t) (c->end - c->p));
        if (!nl)
                return false;
        *ret = c->p;
        *ret_len = (size_t) (nl - c->p);
        c->p = nl + 1;
        c->line_no++;
        return true;
}

static bool has_prefix(const char *s, size_t len, const char *prefix) {
        size_t n = strlen(prefix);
        return len >= n && memcmp(s, prefix, n) == 0;
}

static int hex_value(char ch) {
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        return -1; /* bin2hex() writes lower case only */
}

static int parse_hex(const char *s, size_t len, uint8_t *out, size_t max, size_t *ret_n) {
        if (len == 0 || len % 2 != 0 || len / 2 > max)
                return -EINVAL;
        for (size_t i = 0; i < len / 2; i++) {
                int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret_n = len / 2;
        return 0;
}

static bool name_is_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;
        return n > 0 && n < sizeof(((struct xarch_binfmt_entry *) NULL)->name) &&
               !streq(name, ".") && !streq(name, "..") && !strchr(name, '/') && !strchr(name, '\n');
}

int xarch_binfmt_entry_parse(const char *name, const char *text, size_t len,
                struct xarch_binfmt_entry *ret, struct xarch_error **err) {
        if (!name_is_valid(name))
                return xarch_error_set(err, EINVAL, "invalid binfmt_misc entry name");
        if (!text || !ret)
                return xarch_error_set(err, EINVAL, "entry '%s': no text", name);
        if (len > BINFMT_ENTRY_FILE_MAX || memchr(text, '\0', len))
                return xarch_error_set(err, EINVAL, "entry '%s': not an entry file", name);

        _cleanup_free_ struct xarch_binfmt_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return xarch_error_set(err, ENOMEM, "out of memory");
        strcpy(e->name, name);

        struct cursor c = {text, text + len, 0};
        const char *line;
        size_t n;

#define BAD(what) xarch_error_set(err, EINVAL, "entry '%s': line %u: %s", name, c.line_no, what)
        if (!next_line(&c, &line, &n))
                return BAD("missing 'enabled' or 'disabled'");
        if (n == 7 && memcmp(line, "enabled", 7) == 0)
                e->enabled = true;
        else if (!(n == 8 && memcmp(line, "disabled", 8) == 0))
                return BAD("expected 'enabled' or 'disabled'");

        if (!next_line(&c, &line, &n) || !has_prefix(line, n, "interpreter "))
                return BAD("expected 'interpreter PATH'");
        size_t ilen = n - strlen("interpreter ");
        if (ilen == 0 || ilen >= sizeof(e->interpreter))
                return BAD("interpreter path empty or too long");
        memcpy(e->interpreter, line + strlen("interpreter "), ilen);
        e->interpreter[ilen] = '\0';

        if (!next_line(&c, &line, &n) || !has_prefix(line, n, "flags: "))
                return BAD("expected 'flags: '");
        {
                static const struct {
                        char letter;
                        unsigned bit;
                } order[] = {
                                {'P', XARCH_BINFMT_FLAG_P},
                                {'O', XARCH_BINFMT_FLAG_O},
                                {'C', XARCH_BINFMT_FLAG_C},
                                {'F', XARCH_BINFMT_FLAG_F},
                };
                const char *f = line + strlen("flags: ");
                size_t flen = n - strlen("flags: "), k = 0;
                for (size_t i = 0; i < flen; i++) {
                        while (k < ELEMENTSOF(order) && order[k].letter != f[i])
                                k++;
                        if (k == ELEMENTSOF(order))
                                return BAD("flags are not a subset of POCF in that order");
                        e->flags |= order[k++].bit;
                }
        }

        if (!next_line(&c, &line, &n))
                return BAD("expected 'offset N' or 'extension .EXT'");
        if (has_prefix(line, n, "extension .")) {
                size_t elen = n - strlen("extension .");
                if (elen == 0 || elen >= sizeof(e->extension))
                        return BAD("extension empty or too long");
                e->is_extension = true;
                memcpy(e->extension, line + strlen("extension ."), elen);
                e->extension[elen] = '\0';
                memset(e->mask, 0xff, sizeof(e->mask));
        } else if (has_prefix(line, n, "offset ")) {
                const char *d = line + strlen("offset ");
                size_t dlen = n - strlen("offset ");
                unsigned long off = 0;
                if (dlen == 0 || dlen > 3 || (dlen > 1 && d[0] == '0'))
                        return BAD("bad offset");
                for (size_t i = 0; i < dlen; i++) {
                        if (d[i] < '0' || d[i] > '9')
                                return BAD("bad offset");
                        off = off * 10 + (unsigned long) (d[i] - '0');
                }
                if (off >= XARCH_BINFMT_MAGIC_MAX)
                        return BAD("offset beyond the 256 bytes the kernel reads");
                e->offset = (unsigned) off;

                if (!next_line(&c, &line, &n) || !has_prefix(line, n, "magic "))
                        return BAD("expected 'magic HEX'");
                if (parse_hex(line + strlen("magic "), n - strlen("magic "), e->magic,
                                    sizeof(e->magic), &e->magic_len) < 0)
                        return BAD("bad magic hex");
                if (e->offset + e->magic_len > XARCH_BINFMT_MAGIC_MAX)
                        return BAD("offset + magic length exceed 256 bytes");

                const char *save_p = c.p;
                unsigned save_no = c.line_no;
                if (next_line(&c, &line, &n)) {
                        size_t mlen = 0;
                        if (!has_prefix(line, n, "mask "))
                                return BAD("expected 'mask HEX' or the end");
                        if (parse_hex(line + strlen("mask "), n - strlen("mask "), e->mask,
                                            sizeof(e->mask), &mlen) < 0)
                                return BAD("bad mask hex");
                        if (mlen != e->magic_len)
                                return BAD("mask and magic differ in length");
                        e->has_mask = true;
                } else {
                        c.p = save_p;
                        c.line_no = save_no;
                        memset(e->mask, 0xff, sizeof(e->mask));
                }
        } else
                return BAD("expected 'offset N' or 'extension .EXT'");

        if (c.p != c.end)
                return BAD("trailing text");
#undef BAD

        *ret = *e;
        return 0;
}

bool xarch_binfmt_entry_matches(
                const struct xarch_binfmt_entry *e, const uint8_t *hdr, size_t len) {
        if (!e || !hdr || e->is_extension || e->magic_len == 0 ||
                        e->magic_len > XARCH_BINFMT_MAGIC_MAX || e->offset > len ||
                        e->magic_len > len - e->offset)
                return false;
        const uint8_t *s = hdr + e->offset;
        for (size_t i = 0; i < e->magic_len; i++)
                if ((s[i] ^ e->magic[i]) & e->mask[i])
                        return false;
        return true;
}

const struct xarch_binfmt_entry *xarch_binfmt_entries_match(
                const struct xarch_binfmt_entry *entries, size_t n, const uint8_t *hdr,
                size_t len) {
        const struct xarch_binfmt_entry *best = NULL;
        for (size_t i = 0; entries && i < n; i++) {
                const struct xarch_binfmt_entry *e = &entries[i];
                if (!e->enabled || !xarch_binfmt_entry_matches(e, hdr, len))
                        continue;
                if (!best || e->match_order < best->match_order)
                        best = e;
        }
        return best;
}

/* ---- derived facts ---- */

static uint64_t read_uint(const uint8_t *p, size_t n, bool big_endian) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t) p[big_endian ? n - 1 - i : i] << (8 * i);
        return v;
}

bool binfmt_fd_is_static_elf(int fd) {
        uint8_t eh[64];
        ssize_t got = pread(fd, eh, sizeof(eh), 0);
        if (got < 52 || memcmp(eh, "\177ELF", 4) != 0)
                return false;
        bool is64 = eh[4] == 2, be = eh[5] == 2;
        if ((eh[4] != 1 && eh[4] != 2) || (eh[5] != 1 && eh[5] != 2) || (is64 && got < 64))
                return false;
        uint64_t phoff = is64 ? read_uint(eh + 32, 8, be) : read_uint(eh + 28, 4, be);
        size_t phentsize = (size_t) read_uint(eh + (is64 ? 54 : 42), 2, be);
        size_t phnum = (size_t) read_uint(eh + (is64 ? 56 : 44), 2, be);
        size_t min_entsize = is64 ? 56 : 32;
        /* no program headers: not something exec runs; PN_XNUM and absurd counts: give up */
        if (phnum == 0 || phnum >= 0xffff || phentsize < min_entsize || phentsize > 1024 ||
                        phoff > (uint64_t) INT64_MAX / 2)
                return false;
        for (size_t i = 0; i < phnum; i++) {
                uint8_t type[4];
                if (pread(fd, type, sizeof(type), (off_t) (phoff + i * phentsize)) !=
                                (ssize_t) sizeof(type))
                        return false;
                if (read_uint(type, 4, be) == 3 /* PT_INTERP */)
                        return false;
        }
        return true;
}

enum xarch_binfmt_kind binfmt_classify(const struct xarch_binfmt_entry *e) {
        const char *base = strrchr(e->interpreter, '/');
        base = base ? base + 1 : e->interpreter;
        /* qemu-aarch64-static, qemu-aarch64, buildkit-qemu-*, Debian's .../qemu-binfmt/X-binfmt-P
         */
        if (strstr(base, "qemu") || strstr(e->interpreter, "/qemu-binfmt/"))
                return XARCH_BINFMT_KIND_QEMU;
        if (strncasecmp(base, "rosetta", 7) == 0 || strncasecmp(e->name, "rosetta", 7) == 0)
                return XARCH_BINFMT_KIND_ROSETTA;
        return XARCH_BINFMT_KIND_OTHER;
}

void binfmt_entry_derive(struct xarch_binfmt_entry *e) {
        e->kind = binfmt_classify(e);
        e->target = NULL;
        if (!e->is_extension && e->magic_len > 0 &&
                        e->offset + e->magic_len <= XARCH_BINFMT_MAGIC_MAX) {
                /* the smallest header this entry accepts: its magic at its offset */
                uint8_t hdr[XARCH_BINFMT_MAGIC_MAX] = {0};
                for (size_t i = 0; i < e->magic_len; i++)
                        hdr[e->offset + i] = e->magic[i] & e->mask[i];
                e->target = xarch_binfmt_target_for_header(hdr, sizeof(hdr));
        }
        struct stat st;
        e->interpreter_exists = stat(e->interpreter, &st) == 0;
        e->interpreter_static = false;
        if (e->interpreter_exists && S_ISREG(st.st_mode)) {
                _cleanup_close_ int fd = open(e->interpreter, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0)
                        e->interpreter_static = binfmt_fd_is_static_elf(fd);
        }
}

/* ---- instances ---- */

static bool path_is_binfmt_misc(const char *path) {
        struct statfs sf;
        return statfs(path, &sf) == 0 && (unsigned long) sf.f_type == BINFMT_FS_MAGIC;
}

static int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t total = 0;
        for (;;) {
                if (total == size)
                        return -EFBIG;
                ssize_t n = read(fd, buf + total, size - total);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                total += (size_t) n;
        }
        *ret_len = total;
        return 0;
}

static bool uid_map_is_identity(void) {
        char buf[256];
        size_t n = 0;
        if (read_small_file("/proc/self/uid_map", buf, sizeof(buf) - 1, &n) < 0)
                return true; /* no /proc or no user namespaces: nothing says otherwise */
        buf[n] = '\0';
        unsigned long inside, outside, count;
        char rest;
        return sscanf(buf, " %lu %lu %lu %c", &inside, &outside, &count, &rest) == 3 &&
               inside == 0 && outside == 0 && count == 4294967295UL;
}

bool binfmt_in_initial_userns(void) {
        if (!uid_map_is_identity())
                return false;
        /* PID 1 may be a container's init in the same namespace; only a difference is proof */
        struct stat self, init;
        if (stat("/proc/self/ns/user", &self) == 0 && stat("/proc/1/ns/user", &init) == 0)
                return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
        return true;
}

int xarch_binfmt_open(const char *mount, struct xarch_binfmt **ret, struct xarch_error **err) {
        if (!ret)
                return xarch_error_set(err, EINVAL, "no result pointer");
        if (!mount)
                mount = XARCH_BINFMT_DEFAULT_MOUNT;
        size_t n = strlen(mount);
        if (n == 0 || n >= sizeof(((struct xarch_binfmt *) NULL)->mount) - 300)
                return xarch_error_set(err, EINVAL, "binfmt_misc mount path empty or too long");
        struct xarch_binfmt *b = calloc(1, sizeof(*b));
        if (!b)
                return xarch_error_set(err, ENOMEM, "out of memory");
        memcpy(b->mount, mount, n + 1);
        while (n > 1 && b->mount[n - 1] == '/')
                b->mount[--n] = '\0';
        *ret = b;
        return 0;
}

void xarch_binfmt_close(struct xarch_binfmt *b) {
        free(b);
}

int xarch_binfmt_info(struct xarch_binfmt *b, struct xarch_binfmt_instance_info *ret,
                struct xarch_error **err) {
        if (!b || !ret)
                return xarch_error_set(err, EINVAL, "no instance");
        memset(ret, 0, sizeof(*ret));
        strcpy(ret->mount, b->mount);
        ret->mounted = path_is_binfmt_misc(b->mount);
        if (ret->mounted) {
                char path[4200], buf[32];
                size_t n = 0;
                snprintf(path, sizeof(path), "%s/status", b->mount);
                if (read_small_file(path, buf, sizeof(buf), &n) == 0)
                        ret->status_enabled = n == 8 && memcmp(buf, "enabled\n", 8) == 0;
        }
        ret->initial_userns = binfmt_in_initial_userns();
        /* Since Linux 6.7 a binfmt_misc mounted from a non-initial user namespace is that
         * namespace's own instance; a mount inherited from the host cannot be told apart here,
         * so this is the likely case, not a proof. */
        ret->private_instance = ret->mounted && !ret->initial_userns;
        return 0;
}

static bool is_control_file(const char *name) {
        return streq(name, "register") || streq(name, "status");
}

static int read_entry_at(const char *mount, const char *name, struct xarch_binfmt_entry *ret,
                struct xarch_error **err) {
        char path[4400];
        _cleanup_free_ char *text = malloc(BINFMT_ENTRY_FILE_MAX);
        size_t n = 0;
        if (!text)
                return xarch_error_set(err, ENOMEM, "out of memory");
        snprintf(path, sizeof(path), "%s/%s", mount, name);
        int r = read_small_file(path, text, BINFMT_ENTRY_FILE_MAX, &n);
        if (r == -EFBIG)
                return xarch_error_set(err, EINVAL, "entry '%s': file too large", name);
        if (r < 0)
                return r == -ENOENT ? -ENOENT
                                    : xarch_error_set(err, -r, "cannot read %s: %s", path,
                                                      strerror(-r));
        r = xarch_binfmt_entry_parse(name, text, n, ret, err);
        if (r < 0)
                return r;
        binfmt_entry_derive(ret);
        return 0;
}

static int compare_entries(const void *a, const void *b) {
        return strcmp(((const struct xarch_binfmt_entry *) a)->name,
                        ((const struct xarch_binfmt_entry *) b)->name);
}

int xarch_binfmt_list(struct xarch_binfmt *b, struct xarch_binfmt_entry **ret_entries,
                size_t *ret_n, struct xarch_error **err) {
        if (!b || !ret_entries || !ret_n)
                return xarch_error_set(err, EINVAL, "no instance");
        *ret_entries = NULL;
        *ret_n = 0;
        if (!path_is_binfmt_misc(b->mount))
                return 0;
        _cleanup_closedir_ DIR *d = opendir(b->mount);
        if (!d)
                return xarch_error_set(err, errno, "cannot list %s: %s", b->mount, strerror(errno));
        _cleanup_free_ struct xarch_binfmt_entry *entries = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.' || is_control_file(de->d_name))
                        continue;
                if (!name_is_valid(de->d_name))
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        struct xarch_binfmt_entry *p = realloc(entries, ncap * sizeof(*p));
                        if (!p)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        entries = p;
                        cap = ncap;
                }
                int r = read_entry_at(b->mount, de->d_name, &entries[n], err);
                if (r == -ENOENT)
                        continue; /* removed while we were listing */
                if (r < 0)
                        return r;
                /* binfmt_misc lists its directory newest first, the order exec tries them */
                entries[n].match_order = (unsigned) n;
                n++;
        }
        if (errno)
                return xarch_error_set(err, errno, "cannot list %s: %s", b->mount, strerror(errno));
        if (n > 0)
                qsort(entries, n, sizeof(*entries), compare_entries);
        *ret_entries = steal_ptr(entries);
        *ret_n = n;
        return 0;
}

int xarch_binfmt_get(struct xarch_binfmt *b, const char *name, struct xarch_binfmt_entry *ret,
                struct xarch_error **err) {
        if (!b || !ret)
                return xarch_error_set(err, EINVAL, "no instance");
        if (!name_is_valid(name) || is_control_file(name))
                return xarch_error_set(err, EINVAL, "invalid binfmt_misc entry name '%s'",
                                name ? name : "");
        if (!path_is_binfmt_misc(b->mount))
                return -ENOENT;
        return read_entry_at(b->mount, name, ret, err);
}

/* ---- registration ---- */

static int validate_for_register(const struct xarch_binfmt_entry *e, struct xarch_error **err) {
        const char *name = e->name;
        if (memchr(e->name, '\0', sizeof(e->name)) == NULL || !name_is_valid(name) ||
                        strchr(name, ':') || strchr(name, '\\'))
                return xarch_error_set(err, EINVAL,
                                "invalid entry name '%.64s': it must be non-empty, not '.' or "
                                "'..', and "
                                "contain no '/', ':', '\\' or newline",
                                memchr(e->name, '\0', sizeof(e->name)) ? name : "");
        if (is_control_file(name))
                return xarch_error_set(err, EINVAL,
                                "invalid entry name '%s': reserved by binfmt_misc", name);
        if (memchr(e->interpreter, '\0', sizeof(e->interpreter)) == NULL ||
                        e->interpreter[0] != '/' || strchr(e->interpreter, ':') ||
                        strchr(e->interpreter, '\n'))
                return xarch_error_set(err, EINVAL,
                                "%s: the interpreter must be an absolute path without ':' or "
                                "newline",
                                name);
        if (e->flags & ~(unsigned) (XARCH_BINFMT_FLAG_P | XARCH_BINFMT_FLAG_O |
                                       XARCH_BINFMT_FLAG_C | XARCH_BINFMT_FLAG_F))
                return xarch_error_set(err, EINVAL, "%s: unknown flag bits", name);
        if (e->is_extension) {
                size_t n = strnlen(e->extension, sizeof(e->extension));
                if (n == 0 || n == sizeof(e->extension) || strpbrk(e->extension, "/:\\\n"))
                        return xarch_error_set(err, EINVAL,
                                        "%s: the extension must be non-empty, without '/', ':', "
                                        "'\\' or "
                                        "newline",
                                        name);
        } else {
                if (e->magic_len == 0 || e->magic_len > XARCH_BINFMT_MAGIC_MAX ||
                                e->offset > XARCH_BINFMT_MAGIC_MAX - e->magic_len)
                        return xarch_error_set(err, EINVAL,
                                        "%s: offset %u + magic length %zu must be within the 256 "
                                        "bytes "
                                        "the kernel reads (and the magic non-empty)",
                                        name, e->offset, e->magic_len);
        }
        return 0;
}

struct appender {
        char *buf;
        size_t size;
        size_t len;
        bool overflow;
};

static void append(struct appender *a, const char *s, size_t n) {
        if (a->overflow || n >= a->size - a->len) {
                a->overflow = true;
                return;
        }
        memcpy(a->buf + a->len, s, n);
        a->len += n;
        a->buf[a->len] = '\0';
}

static void append_str(struct appender *a, const char *s) {
        append(a, s, strlen(s));
}

static void append_escaped(struct appender *a, const uint8_t *bytes, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char hex[5];
                snprintf(hex, sizeof(hex), "\\x%02x", bytes[i]);
                append(a, hex, 4);
        }
}

static unsigned normalized_flags(unsigned flags) {
        return (flags & XARCH_BINFMT_FLAG_C) ? flags | XARCH_BINFMT_FLAG_O : flags;
}

int xarch_binfmt_entry_format_register(const struct xarch_binfmt_entry *e, char *buf, size_t size,
                struct xarch_error **err) {
        if (!e || !buf || size == 0)
                return xarch_error_set(err, EINVAL, "no entry or buffer");
        int r = validate_for_register(e, err);
        if (r < 0)
                return r;
        struct appender a = {buf, size, 0, false};
        buf[0] = '\0';
        char flags[5];
        append_str(&a, ":");
        append_str(&a, e->name);
        if (e->is_extension) {
                append_str(&a, ":E::");
                append_str(&a, e->extension);
                append_str(&a, "::");
        } else {
                append_str(&a, ":M:");
                if (e->offset) {
                        char off[16];
                        snprintf(off, sizeof(off), "%u", e->offset);
                        append_str(&a, off);
                }
                append_str(&a, ":");
                append_escaped(&a, e->magic, e->magic_len);
                append_str(&a, ":");
                if (e->has_mask)
                        append_escaped(&a, e->mask, e->magic_len);
                append_str(&a, ":");
        }
        append_str(&a, e->interpreter);
        append_str(&a, ":");
        xarch_binfmt_flags_format(e->flags, flags);
        append_str(&a, flags);
        if (a.overflow && size <= XARCH_BINFMT_REGISTER_MAX)
                return -ENOBUFS;
        if (a.overflow || a.len > XARCH_BINFMT_REGISTER_MAX)
                return xarch_error_set(err, EINVAL,
                                "%s: the register line is longer than the %d bytes the kernel "
                                "accepts",
                                e->name, XARCH_BINFMT_REGISTER_MAX);
        return (int) a.len;
}

bool xarch_binfmt_entry_same(
                const struct xarch_binfmt_entry *a, const struct xarch_binfmt_entry *b) {
        if (!a || !b || a->is_extension != b->is_extension ||
                        normalized_flags(a->flags) != normalized_flags(b->flags) ||
                        strcmp(a->interpreter, b->interpreter) != 0)
                return false;
        if (a->is_extension)
                return streq(a->extension, b->extension);
        if (a->offset != b->offset || a->magic_len != b->magic_len ||
                        a->magic_len > XARCH_BINFMT_MAGIC_MAX ||
                        memcmp(a->magic, b->magic, a->magic_len) != 0)
                return false;
        /* no mask and an all-ones mask register the same match */
        for (size_t i = 0; i < a->magic_len; i++) {
                uint8_t ma = a->has_mask ? a->mask[i] : 0xff, mb = b->has_mask ? b->mask[i] : 0xff;
                if (ma != mb)
                        return false;
        }
        return true;
}

int xarch_binfmt_entry_from_target(const struct xarch_binfmt_target *t, const char *interpreter,
                unsigned flags, struct xarch_binfmt_entry *ret, struct xarch_error **err) {
        if (!t || !ret)
                return xarch_error_set(err, EINVAL, "no target");
        if (!interpreter || strlen(interpreter) >= sizeof(ret->interpreter))
                return xarch_error_set(err, EINVAL, "qemu-%s: interpreter path missing or too long",
                                t->qemu_name);
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->name, sizeof(ret->name), "qemu-%s", t->qemu_name);
        ret->enabled = true;
        strcpy(ret->interpreter, interpreter);
        ret->flags = normalized_flags(flags);
        ret->magic_len = t->len;
        memcpy(ret->magic, t->magic, t->len);
        memset(ret->mask, 0xff, sizeof(ret->mask));
        memcpy(ret->mask, t->mask, t->len);
        ret->has_mask = true;
        binfmt_entry_derive(ret);
        ret->target = t; /* the row itself, even where its magic is ambiguous */
        return 0;
}

static int not_mounted_error(struct xarch_binfmt *b, struct xarch_error **err) {
        return xarch_error_set(err, ENOENT,
                        "binfmt_misc is not mounted at %s (mount it with 'mount -t binfmt_misc "
                        "binfmt_misc %s'; 'xarch binfmt install' does this)",
                        b->mount, b->mount);
}

static int permission_error(
                struct xarch_binfmt *b, int code, const char *what, struct xarch_error **err) {
        return xarch_error_set(err, code,
                        "%s in %s: permission denied (%s); run as root, or with CAP_SYS_ADMIN over "
                        "the "
                        "user namespace that owns this binfmt_misc instance",
                        what, b->mount, strerror(code));
}

static int open_control(struct xarch_binfmt *b, const char *file, const char *what,
                struct xarch_error **err) {
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", b->mount, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd >= 0)
                return fd;
        int e = errno;
        if (e == EACCES || e == EPERM)
                return permission_error(b, e, what, err);
        if (e == ENOENT && !path_is_binfmt_misc(b->mount))
                return not_mounted_error(b, err);
        if (e == ENOENT)
                return -ENOENT;
        return xarch_error_set(err, e, "%s: cannot open %s: %s", what, path, strerror(e));
}

int xarch_binfmt_register(struct xarch_binfmt *b, const struct xarch_binfmt_entry *e,
                struct xarch_error **err) {
        if (!b || !e)
                return xarch_error_set(err, EINVAL, "no instance or entry");
        char line[XARCH_BINFMT_REGISTER_MAX + 1];
        int len = xarch_binfmt_entry_format_register(e, line, sizeof(line), err);
        if (len < 0)
                return len;
        char what[300];
        snprintf(what, sizeof(what), "registering '%s'", e->name);
        _cleanup_close_ int fd = open_control(b, "register", what, err);
        if (fd == -ENOENT)
                return not_mounted_error(b, err);
        if (fd < 0)
                return fd;
        ssize_t n = write(fd, line, (size_t) len);
        if (n == len)
                return 0;
        int code = n < 0 ? errno : EIO;
        switch (code) {
        case EEXIST:
                return xarch_error_set(err, EEXIST,
                                "%s: an entry with this name already exists in %s (remove it first "
                                "by "
                                "writing -1 to it, e.g. 'xarch binfmt uninstall %s', or replace it "
                                "with "
                                "--force)",
                                what, b->mount, e->name);
        case EINVAL:
                return xarch_error_set(err, EINVAL,
                                "%s: the kernel rejected the line as invalid: a malformed line, a "
                                "flag "
                                "this kernel does not know (F needs Linux >= 4.8) or a mask whose "
                                "length "
                                "differs from the magic's",
                                what);
        case ENOENT:
                if (e->flags & XARCH_BINFMT_FLAG_F)
                        return xarch_error_set(err, ENOENT,
                                        "%s: the interpreter %s does not exist (flag F opens it at "
                                        "registration); install qemu-user-static or point "
                                        "--qemu-path "
                                        "at the emulators",
                                        what, e->interpreter);
                return not_mounted_error(b, err);
        case EACCES:
                if (e->flags & XARCH_BINFMT_FLAG_F)
                        return xarch_error_set(err, EACCES,
                                        "%s: the kernel cannot open the interpreter %s for "
                                        "execution "
                                        "(flag F opens it at registration): is it executable, and "
                                        "readable by whoever registers?",
                                        what, e->interpreter);
                return permission_error(b, code, what, err);
        case EPERM:
                return permission_error(b, code, what, err);
        default:
                return xarch_error_set(err, code, "%s: writing %s/register failed: %s", what,
                                b->mount, strerror(code));
        }
}

int xarch_binfmt_control(struct xarch_binfmt *b, const char *name, enum xarch_binfmt_action action,
                struct xarch_error **err) {
        if (!b)
                return xarch_error_set(err, EINVAL, "no instance");
        if (name && (!name_is_valid(name) || is_control_file(name)))
                return xarch_error_set(err, EINVAL, "invalid binfmt_misc entry name '%s'", name);
        const char *value, *verb;
        switch (action) {
        case XARCH_BINFMT_DISABLE:
                value = "0", verb = "disabling";
                break;
        case XARCH_BINFMT_ENABLE:
                value = "1", verb = "enabling";
                break;
        case XARCH_BINFMT_REMOVE:
                value = "-1", verb = "removing";
                break;
        default:
                return xarch_error_set(err, EINVAL, "unknown binfmt_misc action");
        }
        char what[300];
        snprintf(what, sizeof(what), "%s '%s'", verb, name ? name : "status");
        _cleanup_close_ int fd = open_control(b, name ? name : "status", what, err);
        if (fd == -ENOENT)
                return xarch_error_set(err, ENOENT, "%s: no such entry in %s", what, b->mount);
        if (fd < 0)
                return fd;
        ssize_t n = write(fd, value, strlen(value));
        if (n == (ssize_t) strlen(value))
                return 0;
        int code = n < 0 ? errno : EIO;
        if (code == EACCES || code == EPERM)
                return permission_error(b, code, what, err);
        if (code == ENOENT)
                return xarch_error_set(err, ENOENT, "%s: no such entry in %s", what, b->mount);
        return xarch_error_set(err, code, "%s: write failed: %s", what, strerror(code));
}

/* Classifies the entry found under e's name. */
static enum xarch_binfmt_keep_result keep_classify(
                const struct xarch_binfmt_entry *e, const struct xarch_binfmt_entry *found) {
        if (!xarch_binfmt_entry_same(found, e))
                return XARCH_BINFMT_CONFLICT;
        return found->enabled ? XARCH_BINFMT_KEPT : XARCH_BINFMT_KEPT_DISABLED;
}

int xarch_binfmt_keep(struct xarch_binfmt *b, const struct xarch_binfmt_entry *e,
                enum xarch_binfmt_keep_result *ret, struct xarch_binfmt_entry *ret_existing,
                struct xarch_error **err) {
        if (!b || !e || !ret)
                return xarch_error_set(err, EINVAL, "no instance or entry");
        _cleanup_free_ struct xarch_binfmt_entry *found = malloc(sizeof(*found));
        if (!found)
                return xarch_error_set(err, ENOMEM, "out of memory");
        /* Two rounds at most: a registration racing ours makes the write fail with EEXIST, and
         * the entry it left is then classified like any other. */
        for (int round = 0; round < 2; round++) {
                int r = xarch_binfmt_get(b, e->name, found, err);
                if (r >= 0) {
                        *ret = keep_classify(e, found);
                        if (ret_existing)
                                *ret_existing = *found;
                        return 0;
                }
                if (r != -ENOENT)
                        return r;
                struct xarch_error *reg_err = NULL;
                r = xarch_binfmt_register(b, e, &reg_err);
                if (r >= 0) {
                        *ret = XARCH_BINFMT_REGISTERED;
                        return 0;
                }
                if (r != -EEXIST || round > 0) {
                        if (err && !*err)
                                *err = reg_err;
                        else
                                xarch_error_free(reg_err);
                        return r;
                }
                xarch_error_free(reg_err);
        }
        return xarch_error_set(
                        err, EAGAIN, "%s: registered and removed again while checking", e->name);
}

int xarch_binfmt_mount(struct xarch_binfmt *b, struct xarch_error **err) {
        if (!b)
                return xarch_error_set(err, EINVAL, "no instance");
        if (path_is_binfmt_misc(b->mount))
                return 0;
        if (mount("binfmt_misc", b->mount, "binfmt_misc", MS_NODEV | MS_NOEXEC | MS_NOSUID, NULL) ==
                        0)
                return 1;
        int e = errno;
        switch (e) {
        case ENODEV:
                return xarch_error_set(err, ENODEV,
                                "cannot mount binfmt_misc on %s: this kernel has no binfmt_misc "
                                "(run "
                                "'modprobe binfmt_misc', or use a kernel with CONFIG_BINFMT_MISC)",
                                b->mount);
        case ENOENT:
                return xarch_error_set(err, ENOENT,
                                "cannot mount binfmt_misc on %s: the directory does not exist%s",
                                b->mount,
                                streq(b->mount, XARCH_BINFMT_DEFAULT_MOUNT)
                                                ? " (is the binfmt_misc module loaded? 'modprobe "
                                                  "binfmt_misc')"
                                                : "");
        case EPERM:
        case EACCES:
        case EINVAL:
                return xarch_error_set(err, e,
                                "cannot mount binfmt_misc on %s: %s; mounting needs root or "
                                "CAP_SYS_ADMIN, and inside a user namespace Linux >= 6.7",
                                b->mount, strerror(e));
        default:
                return xarch_error_set(err, e, "cannot mount binfmt_misc on %s: %s", b->mount,
                                strerror(e));
        }
}

/* ---- emulators ---- */

static bool is_executable_file(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int xarch_binfmt_find_emulator(const struct xarch_binfmt_target *t, const char *qemu_path,
                char *buf, size_t size, unsigned *ret_implied_flags, struct xarch_error **err) {
        if (!t || !buf || size == 0)
                return xarch_error_set(err, EINVAL, "no target or buffer");
        const char *emu = xarch_binfmt_target_emulator(t);
        const char *dirs[] = {qemu_path, "/usr/bin", "/usr/local/bin"};
        const char *suffixes[] = {"-static", ""};
        char path[PATH_MAX];

        if (ret_implied_flags)
                *ret_implied_flags = 0;
        /* --qemu-path is searched first and completely; then static builds before dynamic ones,
         * because a dynamic emulator needs its libraries inside every container it serves */
        for (size_t pass = qemu_path ? 0 : 1; pass < 2; pass++)
                for (size_t s = 0; s < ELEMENTSOF(suffixes); s++)
                        for (size_t d = pass == 0 ? 0 : 1; d < (pass == 0 ? 1 : ELEMENTSOF(dirs));
                                        d++) {
                                int n = snprintf(path, sizeof(path), "%s/qemu-%s%s", dirs[d], emu,
                                                suffixes[s]);
                                if (n < 0 || (size_t) n >= sizeof(path) ||
                                                !is_executable_file(path))
                                        continue;
                                if ((size_t) n >= size)
                                        return -ENOBUFS;
                                memcpy(buf, path, (size_t) n + 1);
                                return 0;
                        }
        int n = snprintf(path, sizeof(path), "/usr/libexec/qemu-binfmt/%s-binfmt-P", emu);
        if (n > 0 && (size_t) n < sizeof(path) && is_executable_file(path)) {
                if ((size_t) n >= size)
                        return -ENOBUFS;
                memcpy(buf, path, (size_t) n + 1);
                if (ret_implied_flags)
                        *ret_implied_flags = XARCH_BINFMT_FLAG_P;
                return 0;
        }
        return xarch_error_set(err, ENOENT,
                        "qemu-%s: no emulator found (looked for qemu-%s-static and qemu-%s in "
                        "%s%s/usr/bin "
                        "and /usr/local/bin, and /usr/libexec/qemu-binfmt/%s-binfmt-P); install "
                        "qemu-user-static or pass --qemu-path DIR",
                        t->qemu_name, emu, emu, qemu_path ? qemu_path : "", qemu_path ? ", " : "",
                        emu);
}

/* ---- persistence files ---- */

int xarch_binfmt_export_file(const struct xarch_binfmt_entry *e,
                enum xarch_binfmt_export_format format, char **ret_filename, char **ret_contents,
                struct xarch_error **err) {
        if (!e || !ret_filename || !ret_contents)
                return xarch_error_set(err, EINVAL, "no entry");
        char line[XARCH_BINFMT_REGISTER_MAX + 1];
        int r = xarch_binfmt_entry_format_register(e, line, sizeof(line), err);
        if (r < 0)
                return r;
        _cleanup_free_ char *filename = NULL, *contents = NULL;
        if (format == XARCH_BINFMT_EXPORT_SYSTEMD) {
                if (asprintf(&filename, "%s.conf", e->name) < 0 ||
                                asprintf(&contents,
                                                "# %s: written by xarch binfmt export, applied at "
                                                "boot "
                                                "by systemd-binfmt\n%s\n",
                                                e->name, line) < 0)
                        return xarch_error_set(err, ENOMEM, "out of memory");
        } else if (format == XARCH_BINFMT_EXPORT_DEBIAN) {
                /* update-binfmts format file: "key value" lines (binfmt-support's format.c) */
                size_t size = 4096 + 8 * XARCH_BINFMT_MAGIC_MAX + sizeof(e->interpreter);
                contents = malloc(size);
                if (!contents || asprintf(&filename, "%s", e->name) < 0) {
                        filename = NULL;
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                struct appender a = {contents, size, 0, false};
                unsigned f = normalized_flags(e->flags);
                contents[0] = '\0';
                append_str(&a, "package xarch\ninterpreter ");
                append_str(&a, e->interpreter);
                if (e->is_extension) {
                        append_str(&a, "\nextension ");
                        append_str(&a, e->extension);
                } else {
                        char off[32];
                        append_str(&a, "\nmagic ");
                        append_escaped(&a, e->magic, e->magic_len);
                        snprintf(off, sizeof(off), "\noffset %u", e->offset);
                        append_str(&a, off);
                        if (e->has_mask) {
                                append_str(&a, "\nmask ");
                                append_escaped(&a, e->mask, e->magic_len);
                        }
                }
                append_str(&a, "\ncredentials ");
                append_str(&a, (f & XARCH_BINFMT_FLAG_C) ? "yes" : "no");
                append_str(&a, "\npreserve ");
                append_str(&a, (f & XARCH_BINFMT_FLAG_P) ? "yes" : "no");
                append_str(&a, "\nfix_binary ");
                append_str(&a, (f & XARCH_BINFMT_FLAG_F) ? "yes" : "no");
                append_str(&a, "\n");
                if (a.overflow)
                        return -ENOBUFS;
        } else
                return xarch_error_set(err, EINVAL, "unknown export format");
        *ret_filename = steal_ptr(filename);
        *ret_contents = steal_ptr(contents);
        return 0;
}

static int write_all(int fd, const char *s, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, s, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                s += w;
                n -= (size_t) w;
        }
        return 0;
}

int xarch_binfmt_export(const char *dir, const struct xarch_binfmt_entry *entries, size_t n,
                enum xarch_binfmt_export_format format, struct xarch_error **err) {
        if (!dir || (n > 0 && !entries))
                return xarch_error_set(err, EINVAL, "no directory or entries");
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return xarch_error_set(err, ENOTDIR, "export directory %s does not exist", dir);

        /* Everything is formatted before the first write. */
        char **names = calloc(n + 1, sizeof(char *)), **contents = calloc(n + 1, sizeof(char *));
        char **temps = calloc(n + 1, sizeof(char *));
        size_t n_temps = 0, renamed = 0;
        int r = 0;
        if (!names || !contents || !temps) {
                r = xarch_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                r = xarch_binfmt_export_file(&entries[i], format, &names[i], &contents[i], err);
        if (r < 0)
                goto out;

        /* Then written to temporary files in the same directory, so rename() is atomic. */
        for (size_t i = 0; i < n; i++) {
                if (asprintf(&temps[i], "%s/.%s.XXXXXX", dir, names[i]) < 0) {
                        temps[i] = NULL;
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        goto out;
                }
                int fd = mkostemp(temps[i], O_CLOEXEC);
                if (fd < 0) {
                        r = xarch_error_set(err, errno, "cannot create a file in %s: %s", dir,
                                        strerror(errno));
                        free(temps[i]);
                        temps[i] = NULL;
                        goto out;
                }
                n_temps = i + 1;
                r = write_all(fd, contents[i], strlen(contents[i]));
                if (r >= 0 && fchmod(fd, 0644) < 0)
                        r = -errno;
                if (r >= 0 && fsync(fd) < 0)
                        r = -errno;
                if (close(fd) < 0 && r >= 0)
                        r = -errno;
                if (r < 0) {
                        r = xarch_error_set(err, -r, "cannot write %s: %s", temps[i], strerror(-r));
                        goto out;
                }
        }
        for (; renamed < n; renamed++) {
                char final[PATH_MAX];
                snprintf(final, sizeof(final), "%s/%s", dir, names[renamed]);
                if (rename(temps[renamed], final) < 0) {
                        r = xarch_error_set(err, errno, "cannot rename %s to %s: %s",
                                        temps[renamed], final, strerror(errno));
                        goto out;
                }
        }
        {
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                        (void) fsync(dfd);
        }
out:
        for (size_t i = 0; temps && i < n_temps; i++) {
                if (i >= renamed && temps[i])
                        (void) unlink(temps[i]);
                free(temps[i]);
        }
        for (size_t i = 0; i < n && names && contents; i++) {
                free(names[i]);
                free(contents[i]);
        }
        free(temps);
        free(names);
        free(contents);
        return r < 0 ? r : (int) n;
}
