/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "xarch/digest.h"
#include "xarch/ref.h"

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t n) {
        size_t i = 0;
        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                /* a separator run: ".", "_", "__" or "-+", always followed by alnum */
                if (s[i] == '.') {
                        i++;
                } else if (s[i] == '_') {
                        i++;
                        if (i < n && s[i] == '_')
                                i++;
                } else if (s[i] == '-') {
                        while (i < n && s[i] == '-')
                                i++;
                } else {
                        return false;
                }
                if (i >= n || !is_lower_alnum(s[i]))
                        return false;
        }
        return true;
}

/* host[:port] where host is a DNS name or a bracketed IPv6 address. */
static bool domain_valid(const char *s, size_t n) {
        size_t i = 0;
        if (n == 0)
                return false;
        if (s[0] == '[') {
                for (i = 1; i < n && s[i] != ']'; i++)
                        if (!isxdigit((unsigned char) s[i]) && s[i] != ':')
                                return false;
                if (i >= n || i == 1)
                        return false;
                i++;
        } else {
                /* labels: alnum, inner '-', separated by '.' */
                size_t label = 0;
                for (; i < n && s[i] != ':'; i++) {
                        if (s[i] == '.') {
                                if (label == 0 || s[i - 1] == '-')
                                        return false;
                                label = 0;
                        } else if (is_alnum(s[i])) {
                                label++;
                        } else if (s[i] == '-' && label > 0) {
                                label++;
                        } else {
                                return false;
                        }
                }
                if (label == 0 || s[i - 1] == '-')
                        return false;
        }
        if (i == n)
                return true;
        if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
                return false;
        for (i++; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 128 || !(is_alnum(s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
                        return false;
        return true;
}

static bool is_hex64(const char *s, size_t n) {
        if (n != 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int xarch_ref_parse(const char *s, struct xarch_ref *ret, struct xarch_error **err) {
        struct xarch_ref r = {};
        char name[XARCH_REF_STRING_MAX];

        if (!s || !*s)
                return xarch_error_set(err, EINVAL, "invalid reference: empty");
        size_t len = strlen(s);
        if (len >= sizeof(name))
                return xarch_error_set(err, EINVAL, "invalid reference: too long (%zu bytes)", len);
        memcpy(name, s, len + 1);

        char *at = strchr(name, '@');
        if (at) {
                *at = '\0';
                const char *digest = at + 1;
                if (!xarch_digest_valid(digest))
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': bad digest '%s' (want sha256:<64 "
                                        "hex> "
                                        "or sha512:<128 hex>)",
                                        s, digest);
                snprintf(r.digest, sizeof(r.digest), "%s", digest);
        }

        /* A tag follows the last ':' that comes after the last '/'. */
        char *slash = strrchr(name, '/');
        char *colon = strrchr(slash ? slash : name, ':');
        if (colon) {
                *colon = '\0';
                const char *tag = colon + 1;
                if (!tag_valid(tag))
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': bad tag '%s' (want "
                                        "[A-Za-z0-9_][A-Za-z0-9_.-], "
                                        "at most 128 characters)",
                                        s, tag);
                snprintf(r.tag, sizeof(r.tag), "%s", tag);
        }

        if (!*name)
                return xarch_error_set(
                                err, EINVAL, "invalid reference '%s': no repository name", s);

        /* The first component is a registry when it looks like a host. */
        const char *path = name;
        char *first_slash = strchr(name, '/');
        if (first_slash) {
                size_t n = (size_t) (first_slash - name);
                bool has_upper = false;
                for (size_t i = 0; i < n; i++)
                        if (name[i] >= 'A' && name[i] <= 'Z')
                                has_upper = true;
                if (memchr(name, '.', n) || memchr(name, ':', n) || has_upper ||
                                (n == 9 && strncmp(name, "localhost", 9) == 0)) {
                        if (!domain_valid(name, n))
                                return xarch_error_set(err, EINVAL,
                                                "invalid reference '%s': bad registry host '%.*s'",
                                                s, (int) n, name);
                        if (n >= sizeof(r.registry))
                                return xarch_error_set(err, EINVAL,
                                                "invalid reference '%s': registry host too long",
                                                s);
                        memcpy(r.registry, name, n);
                        r.registry[n] = '\0';
                        path = first_slash + 1;
                }
        }
        if (!*r.registry || streq(r.registry, "index.docker.io")) {
                memset(r.registry, 0, sizeof(r.registry));
                snprintf(r.registry, sizeof(r.registry), "%s", XARCH_REF_DOCKER_HUB);
        }

        /* Validate each path component. */
        if (!*path)
                return xarch_error_set(
                                err, EINVAL, "invalid reference '%s': no repository name", s);
        for (const char *p = path;;) {
                const char *end = strchr(p, '/');
                size_t n = end ? (size_t) (end - p) : strlen(p);
                bool upper = false;
                for (size_t i = 0; i < n; i++)
                        if (p[i] >= 'A' && p[i] <= 'Z')
                                upper = true;
                if (upper)
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': repository name must be lowercase",
                                        s);
                if (!path_component_valid(p, n))
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': bad repository name component "
                                        "'%.*s'",
                                        s, (int) n, p);
                if (!end)
                        break;
                p = end + 1;
        }
        if (streq(r.registry, XARCH_REF_DOCKER_HUB) && !strchr(path, '/')) {
                if (is_hex64(path, strlen(path)))
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': a 64-character hexadecimal string "
                                        "is "
                                        "an image ID, not a repository name",
                                        s);
                int n = snprintf(r.repository, sizeof(r.repository), "library/%s", path);
                if (n < 0 || (size_t) n >= sizeof(r.repository))
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': repository name too long", s);
        } else {
                int n = snprintf(r.repository, sizeof(r.repository), "%s", path);
                if (n < 0 || (size_t) n >= sizeof(r.repository))
                        return xarch_error_set(err, EINVAL,
                                        "invalid reference '%s': repository name too long", s);
        }
        /* distribution caps host + '/' + path at 255 characters */
        if (strlen(r.registry) + 1 + strlen(r.repository) > 255)
                return xarch_error_set(err, EINVAL,
                                "invalid reference '%s': name longer than 255 characters", s);

        if (!*r.tag && !*r.digest)
                snprintf(r.tag, sizeof(r.tag), "latest");
        *ret = r;
        return 0;
}

int xarch_ref_format(const struct xarch_ref *r, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/%s%s%s%s%s", r->registry, r->repository, *r->tag ? ":" : "",
                        r->tag, *r->digest ? "@" : "", r->digest);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

const char *xarch_ref_reference(const struct xarch_ref *r) {
        return *r->digest ? r->digest : r->tag;
}

const char *xarch_ref_api_host(const struct xarch_ref *r) {
        return streq(r->registry, XARCH_REF_DOCKER_HUB) ? XARCH_REF_DOCKER_HUB_API : r->registry;
}

bool xarch_ref_registry_is_loopback(const char *registry) {
        char host[XARCH_REF_REGISTRY_MAX];
        if (!registry || strlen(registry) >= sizeof(host))
                return false;
        if (registry[0] == '[') {
                const char *close = strchr(registry, ']');
                if (!close)
                        return false;
                size_t n = (size_t) (close - registry - 1);
                memcpy(host, registry + 1, n);
                host[n] = '\0';
                struct in6_addr a6;
                return inet_pton(AF_INET6, host, &a6) == 1 &&
                       memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
        }
        snprintf(host, sizeof(host), "%s", registry);
        char *colon = strchr(host, ':');
        if (colon)
                *colon = '\0';
        if (strcasecmp(host, "localhost") == 0)
                return true;
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        return false;
}
