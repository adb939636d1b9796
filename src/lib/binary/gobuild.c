/* SPDX-License-Identifier: MIT */
/*
 * Go build information: the "\xff Go buildinf:" blob in both layouts (Go 1.13-1.17 pointers into
 * the data segment, Go 1.18+ inline strings), the modinfo text with its build settings, the
 * .gopclntab magic, and the version-string and Rust-path scans used when nothing better exists.
 * Layouts as written by cmd/link and read by debug/buildinfo (see docs/reference binaries.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "binary/gobuild.h"
#include "macro.h"

static const uint8_t buildinfo_magic[14] = {
                0xff, ' ', 'G', 'o', ' ', 'b', 'u', 'i', 'l', 'd', 'i', 'n', 'f', ':'};

#define BUILDINFO_HEADER 32u
#define MAX_GO_VERSION   64u

static void copy_field(char *dst, size_t size, const char *src, size_t len) {
        copy_printable(dst, size, (const uint8_t *) src, len);
}

/* Go quotes a build setting's value with strconv.Quote when it has spaces, quotes or control
 * characters; the values read here never need more than dropping the quotes and backslashes. */
static void copy_value(char *dst, size_t size, const char *v, size_t len) {
        if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
                size_t o = 0;
                for (size_t i = 1; i + 1 < len && o + 1 < size; i++) {
                        if (v[i] == '\\' && i + 2 < len)
                                i++;
                        /* hostile bytes stay out, as in copy_printable (terminal escapes) */
                        if ((uint8_t) v[i] >= 0x20 && (uint8_t) v[i] < 0x7f)
                                dst[o++] = v[i];
                }
                dst[o] = '\0';
                return;
        }
        copy_field(dst, size, v, len);
}

static void parse_build_setting(const char *kv, size_t len, struct xarch_go_info *go) {
        static const char *const level_keys[] = {"GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS",
                        "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM"};
        const char *eq = memchr(kv, '=', len);
        if (!eq)
                return;
        size_t klen = (size_t) (eq - kv);
        const char *val = eq + 1;
        size_t vlen = len - klen - 1;
#define KEY_IS(k) (klen == strlen(k) && memcmp(kv, k, klen) == 0)
        if (KEY_IS("GOARCH"))
                copy_value(go->goarch, sizeof(go->goarch), val, vlen);
        else if (KEY_IS("GOOS"))
                copy_value(go->goos, sizeof(go->goos), val, vlen);
        else if (KEY_IS("CGO_ENABLED"))
                go->cgo = vlen == 1 && val[0] == '1' ? 1 : vlen == 1 && val[0] == '0' ? 0 : -1;
        else if (KEY_IS("-buildmode"))
                copy_value(go->buildmode, sizeof(go->buildmode), val, vlen);
        else if (KEY_IS("-compiler"))
                copy_value(go->compiler, sizeof(go->compiler), val, vlen);
        else
                for (size_t i = 0; i < ELEMENTSOF(level_keys); i++)
                        if (KEY_IS(level_keys[i])) {
                                snprintf(go->level_key, sizeof(go->level_key), "%s", level_keys[i]);
                                copy_value(go->level, sizeof(go->level), val, vlen);
                        }
#undef KEY_IS
}

void go_modinfo_parse(const char *mod, size_t len, struct xarch_go_info *go) {
        /* Framed by 16-byte sentinels (cmd/go modload); debug/buildinfo strips them when the
         * byte 17 from the end is a newline. */
        if (len >= 33 && mod[len - 17] == '\n') {
                mod += 16;
                len -= 32;
        }
        size_t pos = 0;
        while (pos < len) {
                const char *line = mod + pos;
                const char *nl = memchr(line, '\n', len - pos);
                size_t llen = nl ? (size_t) (nl - line) : len - pos;
                pos += llen + 1;
                const char *tab = memchr(line, '\t', llen);
                if (!tab)
                        continue;
                size_t klen = (size_t) (tab - line);
                const char *rest = tab + 1;
                size_t rlen = llen - klen - 1;
                if (klen == 4 && memcmp(line, "path", 4) == 0)
                        copy_field(go->path, sizeof(go->path), rest, rlen);
                else if (klen == 3 && memcmp(line, "mod", 3) == 0) {
                        const char *t = memchr(rest, '\t', rlen);
                        copy_field(go->module, sizeof(go->module), rest,
                                        t ? (size_t) (t - rest) : rlen);
                } else if (klen == 5 && memcmp(line, "build", 5) == 0)
                        parse_build_setting(rest, rlen, go);
        }
}

static bool va_to_offset(const struct go_load_segment *segs, size_t n, uint64_t va,
                uint64_t *ret_off, uint64_t *ret_avail) {
        for (size_t i = 0; i < n; i++)
                if (va >= segs[i].vaddr && va - segs[i].vaddr < segs[i].filesz) {
                        *ret_off = segs[i].offset + (va - segs[i].vaddr);
                        *ret_avail = segs[i].filesz - (va - segs[i].vaddr);
                        return true;
                }
        return false;
}

/* Reads a uvarint-prefixed string at off; returns the offset after it, or 0 when malformed. */
static int read_inline_string(struct xarch_file_analyzer *a, struct file_src *s, uint64_t off,
                size_t max, const uint8_t **ret, size_t *ret_len, uint64_t *ret_next) {
        uint8_t hdr[10];
        ssize_t got = src_read(s, off, hdr, sizeof(hdr));
        if (got < 0)
                return (int) got;
        uint64_t len = 0;
        size_t i;
        for (i = 0; i < (size_t) got; i++) {
                len |= (uint64_t) (hdr[i] & 0x7f) << (7 * i);
                if (!(hdr[i] & 0x80))
                        break;
        }
        if (i == (size_t) got || len > max)
                return 0;
        int r = analyzer_reserve(a, len ? len : 1);
        if (r < 0)
                return r;
        got = src_read(s, off + i + 1, a->big, len);
        if (got < 0)
                return (int) got;
        if ((uint64_t) got != len)
                return 0;
        *ret = a->big;
        *ret_len = len;
        *ret_next = off + i + 1 + len;
        return 1;
}

/* Go 1.13-1.17: a pointer to a Go string header {data, len} somewhere in the data segment. */
static int read_pointer_string(struct xarch_file_analyzer *a, struct file_src *s,
                const struct go_load_segment *segs, size_t n_segs, uint64_t va, unsigned ptr,
                bool be, size_t max, const uint8_t **ret, size_t *ret_len) {
        uint8_t hdr[16];
        uint64_t off, avail;
        if (!va_to_offset(segs, n_segs, va, &off, &avail) || avail < 2u * ptr)
                return 0;
        ssize_t got = src_read(s, off, hdr, 2u * ptr);
        if (got < 0)
                return (int) got;
        if ((size_t) got != 2u * ptr)
                return 0;
        uint64_t data = ptr == 8 ? rd64(hdr, be) : rd32(hdr, be);
        uint64_t len = ptr == 8 ? rd64(hdr + 8, be) : rd32(hdr + 4, be);
        if (len > max || !va_to_offset(segs, n_segs, data, &off, &avail) || avail < len)
                return 0;
        int r = analyzer_reserve(a, len ? len : 1);
        if (r < 0)
                return r;
        got = src_read(s, off, a->big, len);
        if (got < 0)
                return (int) got;
        if ((uint64_t) got != len)
                return 0;
        *ret = a->big;
        *ret_len = len;
        return 1;
}

int go_buildinfo_find(struct xarch_file_analyzer *a, struct file_src *s, const uint8_t *window,
                size_t window_len, uint64_t window_off, const struct go_load_segment *segs,
                size_t n_segs, struct xarch_go_info *go) {
        size_t pos;
        for (pos = 0; pos + BUILDINFO_HEADER <= window_len; pos += 16)
                if (memcmp(window + pos, buildinfo_magic, sizeof(buildinfo_magic)) == 0)
                        break;
        if (pos + BUILDINFO_HEADER > window_len)
                return 0;

        const uint8_t *hdr = window + pos;
        unsigned ptr = hdr[14];
        bool be = hdr[15] & 1;
        const uint8_t *str;
        size_t len;
        int r;
        char version[MAX_GO_VERSION + 1];

        if (hdr[15] & 2) {
                uint64_t next;
                r = read_inline_string(a, s, window_off + pos + BUILDINFO_HEADER, MAX_GO_VERSION,
                                &str, &len, &next);
                if (r <= 0)
                        return r;
                copy_printable(version, sizeof(version), str, len);
                if (!version[0])
                        return 0; /* an empty version means "not a Go executable" */
                r = read_inline_string(a, s, next, FILE_MAX_MODINFO, &str, &len, &next);
                if (r < 0)
                        return r;
                if (r > 0)
                        go_modinfo_parse((const char *) str, len, go);
        } else {
                if (ptr != 4 && ptr != 8)
                        return 0;
                uint64_t va_vers = ptr == 8 ? rd64(hdr + 16, be) : rd32(hdr + 16, be);
                uint64_t va_mod = ptr == 8 ? rd64(hdr + 24, be) : rd32(hdr + 20, be);
                r = read_pointer_string(
                                a, s, segs, n_segs, va_vers, ptr, be, MAX_GO_VERSION, &str, &len);
                if (r <= 0)
                        return r;
                copy_printable(version, sizeof(version), str, len);
                if (!version[0])
                        return 0;
                r = read_pointer_string(
                                a, s, segs, n_segs, va_mod, ptr, be, FILE_MAX_MODINFO, &str, &len);
                if (r < 0)
                        return r;
                if (r > 0)
                        go_modinfo_parse((const char *) str, len, go);
        }
        snprintf(go->version, sizeof(go->version), "%s", version);
        go->evidence |= XARCH_GO_BUILDINFO;
        return 1;
}

const char *go_pclntab_version(const uint8_t *hdr, size_t len) {
        static const struct {
                uint32_t magic;
                const char *range;
        } magics[] = {
                        {0xfffffffbu, "1.2-1.15"},
                        {0xfffffffau, "1.16-1.17"},
                        {0xfffffff0u, "1.18-1.19"},
                        {0xfffffff1u, "1.20+"},
        };
        if (len < 8 || hdr[4] != 0 || hdr[5] != 0)
                return NULL;
        if (hdr[6] != 1 && hdr[6] != 2 && hdr[6] != 4)
                return NULL;
        if (hdr[7] != 4 && hdr[7] != 8)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(magics); i++)
                if (rd32(hdr, false) == magics[i].magic || rd32(hdr, true) == magics[i].magic)
                        return magics[i].range;
        return NULL;
}

static bool is_digit(uint8_t c) {
        return c >= '0' && c <= '9';
}

static size_t digits(const uint8_t *p, size_t avail) {
        size_t n = 0;
        while (n < avail && n < 4 && is_digit(p[n]))
                n++;
        return n;
}

bool go_version_scan(const uint8_t *buf, size_t len, char *ret, size_t size) {
        const uint8_t *p = buf, *end = buf + len;
        const uint8_t *two = NULL;
        size_t two_len = 0;
        while (p < end) {
                p = memmem(p, (size_t) (end - p), "go1.", 4);
                if (!p)
                        break;
                const uint8_t *q = p + 4;
                size_t minor = digits(q, (size_t) (end - q));
                if (minor == 0 || minor == 4) {
                        p++;
                        continue;
                }
                q += minor;
                if (q + 1 < end && q[0] == '.' && is_digit(q[1])) {
                        size_t patch = digits(q + 1, (size_t) (end - q - 1));
                        if (patch < 4 && q + 1 + patch < end) {
                                copy_printable(ret, size, p, (size_t) (q + 1 + patch - p));
                                return true;
                        }
                } else if (!two && q < end && (q[0] < '0' || q[0] > '9') && q[0] != '.') {
                        two = p;
                        two_len = (size_t) (q - p);
                }
                p++;
        }
        if (two) {
                copy_printable(ret, size, two, two_len);
                return true;
        }
        return false;
}

static bool is_hex(uint8_t c) {
        return is_digit(c) || (c >= 'a' && c <= 'f');
}

bool rust_path_scan(const uint8_t *buf, size_t len, char *ret, size_t size) {
        const uint8_t *p = buf, *end = buf + len;
        while (p < end) {
                p = memmem(p, (size_t) (end - p), "/rustc/", 7);
                if (!p)
                        break;
                const uint8_t *h = p + 7;
                if (end - h > 40 && h[40] == '/') {
                        size_t i;
                        for (i = 0; i < 40 && is_hex(h[i]); i++)
                                ;
                        if (i == 40) {
                                char tmp[48];
                                memcpy(tmp, h, 40);
                                tmp[40] = '\0';
                                snprintf(ret, size, "rustc commit %s", tmp);
                                return true;
                        }
                }
                p++;
        }
        /* Toolchains built from source (Debian's rustc) keep their own library paths. */
        if (memmem(buf, len, "library/std/src/", 16) || memmem(buf, len, "library/core/src/", 17)) {
                snprintf(ret, size, "rustc");
                return true;
        }
        return false;
}
