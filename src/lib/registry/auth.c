/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "registry/auth.h"
#include "macro.h"

extern char **environ;

/* ---- WWW-Authenticate (RFC 7235 / RFC 6750) ---- */

static bool is_tchar(char c) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token68_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static bool is_ows(char c) {
        return c == ' ' || c == '\t';
}

struct cursor {
        const char *s;
        size_t len;
        size_t pos;
};

static bool cur_end(const struct cursor *c) {
        return c->pos >= c->len;
}

static char cur_peek(const struct cursor *c) {
        return cur_end(c) ? '\0' : c->s[c->pos];
}

static void cur_skip_ows(struct cursor *c) {
        while (!cur_end(c) && is_ows(c->s[c->pos]))
                c->pos++;
}

/* Reads a token; returns its length (0 if none). */
static size_t cur_token(struct cursor *c, const char **start) {
        *start = c->s + c->pos;
        size_t n = 0;
        while (!cur_end(c) && is_tchar(c->s[c->pos])) {
                c->pos++;
                n++;
        }
        return n;
}

/* Reads a quoted-string or token value into out (NUL-terminated). -EINVAL when malformed or
 * longer than out_size - 1. */
static int cur_value(struct cursor *c, char *out, size_t out_size) {
        size_t n = 0;
        if (cur_peek(c) == '"') {
                c->pos++;
                for (;;) {
                        if (cur_end(c))
                                return -EINVAL; /* unterminated */
                        char ch = c->s[c->pos++];
                        if (ch == '"')
                                break;
                        if (ch == '\\') {
                                if (cur_end(c))
                                        return -EINVAL;
                                ch = c->s[c->pos++];
                        }
                        /* control characters (including NUL) are not allowed in qdtext */
                        if ((unsigned char) ch < 0x20 && ch != '\t')
                                return -EINVAL;
                        if (ch == 0x7f)
                                return -EINVAL;
                        if (n + 1 >= out_size)
                                return -EINVAL;
                        out[n++] = ch;
                }
        } else {
                const char *start;
                size_t t = cur_token(c, &start);
                if (t == 0)
                        return -EINVAL;
                if (t >= out_size)
                        return -EINVAL;
                memcpy(out, start, t);
                n = t;
        }
        out[n] = '\0';
        return 0;
}

static enum auth_scheme scheme_from(const char *s, size_t n) {
        if (n == 6 && strncasecmp(s, "bearer", 6) == 0)
                return AUTH_SCHEME_BEARER;
        if (n == 5 && strncasecmp(s, "basic", 5) == 0)
                return AUTH_SCHEME_BASIC;
        return AUTH_SCHEME_NONE;
}

int auth_parse_www_authenticate(const char *value, size_t len, struct auth_challenge *ret) {
        struct cursor c = {.s = value, .len = len, .pos = 0};
        struct auth_challenge bearer = {}, basic = {};
        bool have_bearer = false, have_basic = false;
        char scratch[AUTH_REALM_MAX];

        if (!value || len > AUTH_HEADER_MAX)
                return -EINVAL;

        for (;;) {
                /* between challenges: whitespace and empty list elements */
                while (!cur_end(&c) && (is_ows(cur_peek(&c)) || cur_peek(&c) == ','))
                        c.pos++;
                if (cur_end(&c))
                        break;

                const char *scheme_start;
                size_t scheme_len = cur_token(&c, &scheme_start);
                if (scheme_len == 0)
                        return -EINVAL;
                enum auth_scheme scheme = scheme_from(scheme_start, scheme_len);
                struct auth_challenge cur = {.scheme = scheme};
                bool realm_seen = false, service_seen = false, scope_seen = false,
                     error_seen = false;

                /* auth-params (or a token68) until the next scheme or the end */
                for (;;) {
                        cur_skip_ows(&c);
                        while (!cur_end(&c) && (cur_peek(&c) == ',' || is_ows(cur_peek(&c))))
                                c.pos++;
                        if (cur_end(&c))
                                break;
                        size_t item_start = c.pos;
                        const char *name;
                        size_t name_len = cur_token(&c, &name);
                        if (name_len == 0) {
                                /* a token68 may contain '/', which is not a tchar */
                                while (!cur_end(&c) && is_token68_char(cur_peek(&c)))
                                        c.pos++;
                                if (c.pos == item_start)
                                        return -EINVAL;
                                while (!cur_end(&c) && cur_peek(&c) == '=')
                                        c.pos++;
                                continue;
                        }
                        cur_skip_ows(&c);
                        if (cur_peek(&c) != '=') {
                                if (!cur_end(&c) && is_token68_char(cur_peek(&c)) &&
                                                c.pos == item_start + name_len) {
                                        /* token68 with '/' inside */
                                        while (!cur_end(&c) && is_token68_char(cur_peek(&c)))
                                                c.pos++;
                                        while (!cur_end(&c) && cur_peek(&c) == '=')
                                                c.pos++;
                                        continue;
                                }
                                /* a bare token: the scheme of the next challenge */
                                c.pos = item_start;
                                break;
                        }
                        c.pos++; /* '=' */
                        size_t after_eq = c.pos;
                        cur_skip_ows(&c);
                        if (cur_end(&c) || cur_peek(&c) == '=' || cur_peek(&c) == ',') {
                                /* token68 padding ("abc==") */
                                c.pos = after_eq;
                                while (!cur_end(&c) && cur_peek(&c) == '=')
                                        c.pos++;
                                continue;
                        }

                        char *dest = scratch;
                        size_t dest_size = sizeof(scratch);
                        bool *seen = NULL;
                        if (name_len == 5 && strncasecmp(name, "realm", 5) == 0) {
                                dest = cur.realm, dest_size = sizeof(cur.realm), seen = &realm_seen;
                        } else if (name_len == 7 && strncasecmp(name, "service", 7) == 0) {
                                dest = cur.service, dest_size = sizeof(cur.service),
                                seen = &service_seen;
                        } else if (name_len == 5 && strncasecmp(name, "scope", 5) == 0) {
                                dest = cur.scope, dest_size = sizeof(cur.scope), seen = &scope_seen;
                        } else if (name_len == 5 && strncasecmp(name, "error", 5) == 0) {
                                dest = cur.error, dest_size = sizeof(cur.error), seen = &error_seen;
                        }
                        if (seen && *seen) {
                                /* duplicate parameter: keep the first */
                                dest = scratch;
                                dest_size = sizeof(scratch);
                        }
                        if (cur_value(&c, dest, dest_size) < 0)
                                return -EINVAL;
                        if (seen)
                                *seen = true;
                        cur_skip_ows(&c);
                        if (!cur_end(&c) && cur_peek(&c) != ',' && !is_tchar(cur_peek(&c)))
                                return -EINVAL;
                }

                if (scheme == AUTH_SCHEME_BEARER && !have_bearer) {
                        bearer = cur;
                        have_bearer = true;
                } else if (scheme == AUTH_SCHEME_BASIC && !have_basic) {
                        basic = cur;
                        have_basic = true;
                }
        }

        if (have_bearer) {
                if (!*bearer.realm)
                        return -EINVAL;
                *ret = bearer;
                return 0;
        }
        if (have_basic) {
                *ret = basic;
                return 0;
        }
        return -EOPNOTSUPP;
}

/* ---- base64 ---- */

static const char b64_alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c) {
        const char *p = c ? strchr(b64_alphabet, c) : NULL;
        return p ? (int) (p - b64_alphabet) : -1;
}

int auth_base64_decode(const char *in, size_t in_len, char *out, size_t out_size) {
        size_t n = 0;
        unsigned acc = 0;
        int bits = 0;
        size_t i;
        for (i = 0; i < in_len && in[i] != '='; i++) {
                if (in[i] == '\n' || in[i] == '\r')
                        continue;
                int v = b64_value(in[i]);
                if (v < 0)
                        return -EINVAL;
                acc = (acc << 6) | (unsigned) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n + 1 >= out_size)
                                return -ENOBUFS;
                        out[n++] = (char) ((acc >> bits) & 0xff);
                }
        }
        for (; i < in_len; i++)
                if (in[i] != '=' && in[i] != '\n' && in[i] != '\r')
                        return -EINVAL;
        if (out_size == 0)
                return -ENOBUFS;
        out[n] = '\0';
        return (int) n;
}

int auth_base64_encode(const void *in, size_t in_len, char *out, size_t out_size) {
        const unsigned char *p = in;
        size_t need = 4 * ((in_len + 2) / 3) + 1;
        if (need > out_size || need > INT_MAX)
                return -ENOBUFS;
        size_t n = 0;
        for (size_t i = 0; i < in_len; i += 3) {
                unsigned v = (unsigned) p[i] << 16;
                if (i + 1 < in_len)
                        v |= (unsigned) p[i + 1] << 8;
                if (i + 2 < in_len)
                        v |= p[i + 2];
                out[n++] = b64_alphabet[(v >> 18) & 63];
                out[n++] = b64_alphabet[(v >> 12) & 63];
                out[n++] = i + 1 < in_len ? b64_alphabet[(v >> 6) & 63] : '=';
                out[n++] = i + 2 < in_len ? b64_alphabet[v & 63] : '=';
        }
        out[n] = '\0';
        return (int) n;
}

void auth_credentials_wipe(struct auth_credentials *c) {
        if (c)
                explicit_bzero(c, sizeof(*c));
}

/* ---- credential files ---- */

static int set_creds(struct auth_credentials *ret, const char *user, const char *secret,
                bool identity_token) {
        if (strlen(user) >= sizeof(ret->username) || strlen(secret) >= sizeof(ret->secret))
                return -ENOBUFS;
        snprintf(ret->username, sizeof(ret->username), "%s", user);
        snprintf(ret->secret, sizeof(ret->secret), "%s", secret);
        ret->identity_token = identity_token;
        return 0;
}

/* The key docker uses for Docker Hub in config.json and with credential helpers. */
#define DOCKER_HUB_SERVER_URL "https://index.docker.io/v1/"

static bool is_docker_hub(const char *host) {
        return streq(host, "docker.io") || streq(host, "index.docker.io") ||
               streq(host, "registry-1.docker.io");
}

/* Reduces an auths key ("https://host/v1/", "host", "host/ns/repo") to "host[/path]" without
 * scheme, trailing slashes and docker's /v1 /v2 suffixes; docker hub aliases become
 * "docker.io". */
static void normalize_key(const char *key, char *out, size_t out_size) {
        const char *k = key;
        if (strncmp(k, "https://", 8) == 0)
                k += 8;
        else if (strncmp(k, "http://", 7) == 0)
                k += 7;
        snprintf(out, out_size, "%s", k);
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '/')
                out[--n] = '\0';
        if (n >= 3 && (streq(out + n - 3, "/v1") || streq(out + n - 3, "/v2"))) {
                n -= 3;
                out[n] = '\0';
        }
        char host[256];
        const char *slash = strchr(out, '/');
        size_t hn = slash ? (size_t) (slash - out) : n;
        if (hn < sizeof(host)) {
                memcpy(host, out, hn);
                host[hn] = '\0';
                if (is_docker_hub(host)) {
                        char rest[1024];
                        snprintf(rest, sizeof(rest), "%s", slash ? slash : "");
                        snprintf(out, out_size, "docker.io%s", rest);
                }
        }
}

static int parse_auths_entry(json_t *entry, struct auth_credentials *ret, const char *path,
                const char *key, struct xarch_error **err) {
        if (!json_is_object(entry))
                return xarch_error_set(
                                err, EBADMSG, "'%s': entry '%s' is not an object", path, key);
        json_t *identity = json_object_get(entry, "identitytoken");
        json_t *auth = json_object_get(entry, "auth");
        if (json_is_string(identity) && json_string_length(identity) > 0) {
                if (set_creds(ret, "<token>", json_string_value(identity), true) < 0)
                        return xarch_error_set(err, ENOBUFS,
                                        "'%s': identity token for '%s' too long", path, key);
                return 1;
        }
        if (json_is_string(auth) && json_string_length(auth) > 0) {
                char decoded[AUTH_USERNAME_MAX + AUTH_SECRET_MAX];
                int n = auth_base64_decode(json_string_value(auth), json_string_length(auth),
                                decoded, sizeof(decoded));
                if (n < 0)
                        return xarch_error_set(err, EBADMSG,
                                        "'%s': the auth field for '%s' is not valid base64", path,
                                        key);
                char *colon = memchr(decoded, ':', (size_t) n);
                if (!colon || (size_t) n != strlen(decoded)) {
                        explicit_bzero(decoded, sizeof(decoded));
                        return xarch_error_set(err, EBADMSG,
                                        "'%s': the auth field for '%s' is not 'user:password'",
                                        path, key);
                }
                *colon = '\0';
                int r = set_creds(ret, decoded, colon + 1, false);
                explicit_bzero(decoded, sizeof(decoded));
                if (r < 0)
                        return xarch_error_set(err, ENOBUFS, "'%s': credentials for '%s' too long",
                                        path, key);
                return 1;
        }
        /* "username"/"password" fields appear in some hand-written files */
        json_t *user = json_object_get(entry, "username");
        json_t *pass = json_object_get(entry, "password");
        if (json_is_string(user) && json_is_string(pass)) {
                if (set_creds(ret, json_string_value(user), json_string_value(pass), false) < 0)
                        return xarch_error_set(err, ENOBUFS, "'%s': credentials for '%s' too long",
                                        path, key);
                return 1;
        }
        return 0;
}

#define AUTH_FILE_MAX (4 * 1024 * 1024)

static int lookup_in_file(const char *path, bool required, const char *registry,
                const char *repository, struct auth_credentials *ret, struct xarch_error **err) {
        json_error_t jerr;
        /* O_NONBLOCK: a FIFO planted in its place must not hang the open */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && !required)
                        return 0;
                return xarch_error_set(err, errno, "cannot open auth file '%s': %s", path,
                                strerror(errno));
        }
        struct stat st = {};
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                int saved = S_ISREG(st.st_mode) ? errno : 0;
                close(fd);
                if (S_ISDIR(st.st_mode))
                        return xarch_error_set(err, EISDIR,
                                        "auth file '%s' is a directory, not a file", path);
                return xarch_error_set(err, saved ? saved : EINVAL,
                                "auth file '%s' is not a regular file", path);
        }
        if (st.st_size > AUTH_FILE_MAX) {
                close(fd);
                return xarch_error_set(err, EFBIG, "auth file '%s' is larger than %d bytes", path,
                                AUTH_FILE_MAX);
        }
        _cleanup_fclose_ FILE *f = fdopen(fd, "re");
        if (!f) {
                int saved = errno;
                close(fd);
                return xarch_error_set(err, saved, "cannot read auth file '%s': %s", path,
                                strerror(saved));
        }
        json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return xarch_error_set(err, EBADMSG, "auth file '%s': invalid JSON at line %d",
                                path, jerr.line);
        int r = 0;
        const char *host = is_docker_hub(registry) ? "docker.io" : registry;
        const char *helper_url = is_docker_hub(registry) ? DOCKER_HUB_SERVER_URL : registry;

        /* 1. a credential helper for this host */
        json_t *helpers = json_object_get(root, "credHelpers");
        if (json_is_object(helpers)) {
                const char *key;
                json_t *v;
                json_object_foreach(helpers, key, v) {
                        char norm[1024];
                        normalize_key(key, norm, sizeof(norm));
                        if (streq(norm, host) && json_is_string(v)) {
                                r = auth_run_credential_helper(
                                                json_string_value(v), helper_url, ret, err);
                                goto out;
                        }
                }
        }

        /* 2. auths: the most specific key wins ("host/ns/repo" before "host") */
        json_t *auths = json_object_get(root, "auths");
        if (json_is_object(auths)) {
                char want[1024];
                snprintf(want, sizeof(want), "%s/%s", host, repository ? repository : "");
                if (!repository || !*repository)
                        snprintf(want, sizeof(want), "%s", host);
                for (;;) {
                        const char *key;
                        json_t *v;
                        json_object_foreach(auths, key, v) {
                                char norm[1024];
                                normalize_key(key, norm, sizeof(norm));
                                if (streq(norm, want)) {
                                        r = parse_auths_entry(v, ret, path, key, err);
                                        if (r != 0)
                                                goto out;
                                }
                        }
                        char *slash = strrchr(want, '/');
                        if (!slash)
                                break;
                        *slash = '\0';
                }
        }

        /* 3. the default credential store */
        json_t *store = json_object_get(root, "credsStore");
        if (json_is_string(store) && json_string_length(store) > 0)
                r = auth_run_credential_helper(json_string_value(store), helper_url, ret, err);
out:
        json_decref(root);
        return r;
}

int auth_lookup(const char *auth_file, const char *registry, const char *repository,
                struct auth_credentials *ret, struct xarch_error **err) {
        char paths[4][PATH_MAX];
        size_t n = 0;
        const char *home = getenv("HOME");
        const char *v;

        if (auth_file)
                return lookup_in_file(auth_file, true, registry, repository, ret, err);

        if ((v = getenv("REGISTRY_AUTH_FILE")) && *v)
                snprintf(paths[n++], PATH_MAX, "%s", v);
        if ((v = getenv("XDG_RUNTIME_DIR")) && *v)
                snprintf(paths[n++], PATH_MAX, "%s/containers/auth.json", v);
        if ((v = getenv("XDG_CONFIG_HOME")) && *v)
                snprintf(paths[n++], PATH_MAX, "%s/containers/auth.json", v);
        else if (home && *home)
                snprintf(paths[n++], PATH_MAX, "%s/.config/containers/auth.json", home);
        if ((v = getenv("DOCKER_CONFIG")) && *v)
                snprintf(paths[n++], PATH_MAX, "%s/config.json", v);
        else if (home && *home)
                snprintf(paths[n++], PATH_MAX, "%s/.docker/config.json", home);

        for (size_t i = 0; i < n; i++) {
                int r = lookup_in_file(paths[i], false, registry, repository, ret, err);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* ---- docker-credential-* helpers ---- */

static bool helper_name_valid(const char *s) {
        if (!*s || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
                                    *s == '.'))
                        return false;
        return true;
}

#define HELPER_OUTPUT_MAX (64 * 1024)

/* A helper may wait for a keychain to unlock, but never forever. */
int auth_helper_timeout_ms = 30000;

int auth_run_credential_helper(const char *helper, const char *server_url,
                struct auth_credentials *ret, struct xarch_error **err) {
        char prog[128];
        if (!helper_name_valid(helper))
                return xarch_error_set(err, EINVAL, "invalid credential helper name '%s'", helper);
        snprintf(prog, sizeof(prog), "docker-credential-%s", helper);

        int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
        if (pipe2(in_pipe, O_CLOEXEC) < 0)
                return xarch_error_set(err, errno, "pipe: %s", strerror(errno));
        if (pipe2(out_pipe, O_CLOEXEC) < 0) {
                int e = errno;
                close(in_pipe[0]);
                close(in_pipe[1]);
                return xarch_error_set(err, e, "pipe: %s", strerror(e));
        }

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        char *argv[] = {prog, (char *) "get", NULL};
        pid_t pid;
        int sr = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(in_pipe[0]);
        close(out_pipe[1]);
        if (sr != 0) {
                close(in_pipe[1]);
                close(out_pipe[0]);
                return xarch_error_set(err, sr, "cannot run credential helper '%s': %s", prog,
                                strerror(sr));
        }

        /* The URL is short, so one write cannot block on a full pipe. A helper that exited
         * early gives EPIPE, which must not kill us. */
        sigset_t pipe_set, old_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
        ssize_t w = write(in_pipe[1], server_url, strlen(server_url));
        (void) w;
        close(in_pipe[1]);
        struct timespec zero = {0, 0};
        (void) sigtimedwait(&pipe_set, NULL, &zero);
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);

        _cleanup_free_ char *out = malloc(HELPER_OUTPUT_MAX + 1);
        size_t len = 0;
        bool too_big = false;
        bool timed_out = false;
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                if (!out)
                        break;
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 +
                                  (now.tv_nsec - start.tv_nsec) / 1000000;
                struct pollfd pfd = {.fd = out_pipe[0], .events = POLLIN};
                int pr = elapsed_ms >= auth_helper_timeout_ms
                                         ? 0
                                         : poll(&pfd, 1,
                                                           (int) (auth_helper_timeout_ms -
                                                                           elapsed_ms));
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr == 0) {
                        timed_out = true;
                        kill(pid, SIGKILL);
                        break;
                }
                ssize_t n = read(out_pipe[0], out + len, HELPER_OUTPUT_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len == HELPER_OUTPUT_MAX) {
                        too_big = true;
                        break;
                }
        }
        close(out_pipe[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!out)
                return -ENOMEM;
        out[len] = '\0';

        int r;
        if (timed_out) {
                r = xarch_error_set(err, ETIMEDOUT,
                                "credential helper '%s' did not answer within %d ms", prog,
                                auth_helper_timeout_ms);
        } else if (too_big) {
                r = xarch_error_set(err, EFBIG, "credential helper '%s': answer too large", prog);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* "credentials not found in native keychain" means: none */
                if (strstr(out, "credentials not found"))
                        r = 0;
                else
                        r = xarch_error_set(err, EACCES, "credential helper '%s' failed (%s %d)",
                                        prog, WIFEXITED(status) ? "exit status" : "signal",
                                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        } else {
                json_error_t jerr;
                json_t *root = json_loadb(out, len, JSON_REJECT_DUPLICATES, &jerr);
                const char *user = json_string_value(json_object_get(root, "Username"));
                const char *secret = json_string_value(json_object_get(root, "Secret"));
                if (!root || !user || !secret) {
                        r = xarch_error_set(err, EBADMSG,
                                        "credential helper '%s' gave a malformed answer", prog);
                } else {
                        bool identity = streq(user, "<token>");
                        if (set_creds(ret, user, secret, identity) < 0)
                                r = xarch_error_set(err, ENOBUFS,
                                                "credential helper '%s': credentials too long",
                                                prog);
                        else
                                r = 1;
                }
                json_decref(root);
        }
        explicit_bzero(out, len);
        return r;
}

/* ---- token responses ---- */

int auth_parse_token_response(
                const char *body, size_t len, char **ret_token, long *ret_expires_in) {
        json_error_t jerr;
        json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(root)) {
                json_decref(root);
                return -EBADMSG;
        }
        json_t *t = json_object_get(root, "token");
        if (!json_is_string(t) || json_string_length(t) == 0)
                t = json_object_get(root, "access_token");
        if (!json_is_string(t) || json_string_length(t) == 0 ||
                        strlen(json_string_value(t)) != json_string_length(t)) {
                json_decref(root);
                return -EBADMSG;
        }
        /* the token ends up in a header line: refuse anything that could split it */
        for (const char *p = json_string_value(t); *p; p++)
                if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e) {
                        json_decref(root);
                        return -EBADMSG;
                }
        long expires = 60;
        json_t *e = json_object_get(root, "expires_in");
        if (json_is_integer(e) && json_integer_value(e) > 60 &&
                        json_integer_value(e) < 365L * 24 * 3600)
                expires = (long) json_integer_value(e);
        char *token = strdup(json_string_value(t));
        json_decref(root);
        if (!token)
                return -ENOMEM;
        *ret_token = token;
        *ret_expires_in = expires;
        return 0;
}
