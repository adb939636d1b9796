/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 client for plain-HTTP registries; see http1.h for why it exists. What it
 * accepts is deliberately narrow: HTTP/1.0 or 1.1 status lines, header lines up to
 * HTTP1_LINE_MAX and HTTP1_HEADERS_MAX in all, bodies framed by Content-Length, chunked
 * encoding or the end of the connection. Anything ambiguous (both Content-Length and
 * Transfer-Encoding, differing Content-Lengths, folded header lines, unknown transfer codings)
 * is refused rather than guessed at, and the connection is not reused after it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "registry/http1.h"

#define CHUNK_LINE_MAX 1024

static bool is_tchar(unsigned char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool host_char_ok(unsigned char ch, bool ipv6) {
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '.' || ch == '-')
                return true;
        return ipv6 ? ch == ':' : ch == '_';
}

/* Splits an authority (no user info) into host and port; port 0 when absent. */
static int parse_authority(const char *a, size_t n, char *host, size_t hs, unsigned *port) {
        const char *h = a, *colon = NULL;
        size_t hn;
        bool ipv6 = n > 0 && a[0] == '[';
        if (ipv6) {
                const char *close = memchr(a, ']', n);
                if (!close)
                        return -EINVAL;
                h = a + 1;
                hn = (size_t) (close - h);
                if (close + 1 < a + n) {
                        if (close[1] != ':')
                                return -EINVAL;
                        colon = close + 1;
                }
        } else {
                colon = memchr(a, ':', n);
                hn = colon ? (size_t) (colon - a) : n;
        }
        if (hn == 0 || hn >= hs)
                return -EINVAL;
        for (size_t i = 0; i < hn; i++)
                if (!host_char_ok((unsigned char) h[i], ipv6))
                        return -EINVAL;
        for (size_t i = 0; i < hn; i++) {
                char ch = h[i];
                host[i] = (ch >= 'A' && ch <= 'Z') ? (char) (ch - 'A' + 'a') : ch;
        }
        host[hn] = '\0';
        *port = 0;
        if (colon) {
                const char *p = colon + 1, *end = a + n;
                unsigned v = 0;
                if (p == end || end - p > 5)
                        return -EINVAL;
                for (; p < end; p++) {
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        v = v * 10 + (unsigned) (*p - '0');
                }
                if (v == 0 || v > 65535)
                        return -EINVAL;
                *port = v;
        }
        return 0;
}

static bool url_bytes_ok(const char *url) {
        /* no spaces or control bytes: they would end or split the request line */
        for (const unsigned char *p = (const unsigned char *) url; *p; p++)
                if (*p <= 0x20 || *p == 0x7f)
                        return false;
        return true;
}

int http1_parse_url(const char *url, struct http1_url *ret) {
        if (strncasecmp(url, "http://", 7) != 0 || !url_bytes_ok(url) || strchr(url, '#'))
                return -EINVAL;
        const char *a = url + 7;
        size_t n = strcspn(a, "/?");
        if (n == 0 || n >= sizeof(ret->authority) || memchr(a, '@', n))
                return -EINVAL;
        if (parse_authority(a, n, ret->host, sizeof(ret->host), &ret->port) < 0)
                return -EINVAL;
        if (ret->port == 0)
                ret->port = 80;
        memcpy(ret->authority, a, n);
        ret->authority[n] = '\0';
        ret->target = a[n] ? a + n : "/";
        return 0;
}

bool http1_url_origin(
                const char *url, char *scheme, size_t ss, char *host, size_t hs, unsigned *port) {
        unsigned default_port;
        size_t sl;
        if (strncasecmp(url, "https://", 8) == 0) {
                sl = 5;
                default_port = 443;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                sl = 4;
                default_port = 80;
        } else {
                return false;
        }
        if (!url_bytes_ok(url) || ss <= sl)
                return false;
        const char *a = url + sl + 3;
        size_t n = strcspn(a, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < n; i++)
                if (a[i] == '@')
                        at = a + i;
        if (at) {
                n -= (size_t) (at + 1 - a);
                a = at + 1;
        }
        if (parse_authority(a, n, host, hs, port) < 0)
                return false;
        if (*port == 0)
                *port = default_port;
        for (size_t i = 0; i < sl; i++)
                scheme[i] = (char) (url[i] | 0x20);
        scheme[sl] = '\0';
        return true;
}

/* RFC 3986 5.2.4: removes "." and ".." segments from path[0..n) in place; returns the new
 * length. The path starts with '/'. */
static size_t remove_dot_segments(char *path, size_t n) {
        size_t out = 0, i = 0;
        while (i < n) {
                /* one segment: "/name" up to the next '/' or the end */
                size_t j = i + 1;
                while (j < n && path[j] != '/')
                        j++;
                size_t len = j - i - 1;
                const char *seg = path + i + 1;
                bool last = j == n;
                if (len == 1 && seg[0] == '.') {
                        if (last)
                                path[out++] = '/';
                } else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
                        while (out > 0 && path[--out] != '/')
                                ;
                        if (last)
                                path[out++] = '/';
                } else {
                        memmove(path + out, path + i, j - i);
                        out += j - i;
                }
                i = j;
        }
        if (out == 0)
                path[out++] = '/';
        return out;
}

int http1_resolve_location(const char *base, const char *location, char *out, size_t out_size) {
        char loc[HTTP1_URL_MAX], buf[2 * HTTP1_URL_MAX];
        size_t ln = strcspn(location, "#"); /* a fragment is not sent */
        if (!url_bytes_ok(location) || ln == 0 || ln >= sizeof(loc))
                return -EINVAL;
        memcpy(loc, location, ln);
        loc[ln] = '\0';
        const char *sep = strstr(base, "://");
        if (!sep)
                return -EINVAL;
        const char *auth = sep + 3, *bpath = auth + strcspn(auth, "/?#");
        size_t bpath_len = strcspn(bpath, "?#");
        int n;
        if (strncasecmp(loc, "http://", 7) == 0 || strncasecmp(loc, "https://", 8) == 0)
                n = snprintf(buf, sizeof(buf), "%s", loc);
        else if (loc[0] == '/' && loc[1] == '/')
                n = snprintf(buf, sizeof(buf), "%.*s:%s", (int) (sep - base), base, loc);
        else if (loc[0] == '/')
                n = snprintf(buf, sizeof(buf), "%.*s%s", (int) (bpath - base), base, loc);
        else if (loc[0] == '?') /* same path, new query */
                n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (bpath - base + bpath_len), base,
                                bpath_len ? "" : "/", loc);
        else if (strcspn(loc, ":") < strcspn(loc, "/?"))
                return -EINVAL; /* another scheme */
        else {
                /* relative to the directory of the base path */
                size_t dir = bpath_len;
                while (dir > 0 && bpath[dir - 1] != '/')
                        dir--;
                n = snprintf(buf, sizeof(buf), "%.*s%s%.*s%s", (int) (bpath - base), base,
                                dir ? "" : "/", (int) dir, bpath, loc);
        }
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -ENOBUFS;
        /* normalise the path of the result */
        char *a = strstr(buf, "://");
        if (!a)
                return -EINVAL;
        char *path = a + 3 + strcspn(a + 3, "/?");
        if (*path == '/') {
                size_t plen = strcspn(path, "?");
                size_t nl = remove_dot_segments(path, plen);
                memmove(path + nl, path + plen, strlen(path + plen) + 1);
        }
        if (strlen(buf) >= out_size)
                return -ENOBUFS;
        memcpy(out, buf, strlen(buf) + 1);
        return 0;
}

/* ---- connections ---- */

void http1_conn_init(struct http1_conn *c, int fd, http1_read_fn read_fn, void *read_ud) {
        c->fd = fd;
        c->host[0] = '\0';
        c->port = 0;
        c->read = read_fn;
        c->read_ud = read_ud;
        c->timeout_ms = 60 * 1000;
        c->low_speed_ms = 60 * 1000;
        c->low_speed_bytes = 60;
        c->reused = false;
        c->pos = c->len = 0;
        c->deadline_start_ms = 0;
        c->deadline_base_ms = 0;
        c->deadline_rate = 0;
        c->deadline_bytes = 0;
}

void http1_close(struct http1_conn *c) {
        if (c && c->fd >= 0) {
                close(c->fd);
                c->fd = -1;
        }
}

/* Monotonic clock in milliseconds: deadlines and windows are plain numbers. */
static int64_t now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long ms_left(int64_t deadline) {
        int64_t ms = deadline - now_ms();
        return ms > 0 ? (long) ms : 0;
}

void http1_deadline_start(struct http1_conn *c, int base_ms, unsigned rate) {
        c->deadline_start_ms = base_ms > 0 ? now_ms() : 0;
        c->deadline_base_ms = base_ms;
        c->deadline_rate = rate;
        c->deadline_bytes = 0;
}

/* Milliseconds the current request has left: INT_MAX without a deadline, 0 when past. */
static int deadline_left(const struct http1_conn *c) {
        if (!c->deadline_start_ms)
                return INT_MAX;
        int64_t allowed = c->deadline_base_ms;
        if (c->deadline_rate)
                allowed += (int64_t) (c->deadline_bytes / c->deadline_rate) * 1000 +
                           (int64_t) (c->deadline_bytes % c->deadline_rate) * 1000 /
                                           c->deadline_rate;
        int64_t left = c->deadline_start_ms + allowed - now_ms();
        return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
}

/* The wait for one read or write: the stall timeout, or less when the deadline is nearer. */
static int wait_ms(const struct http1_conn *c, bool *by_deadline) {
        int left = deadline_left(c);
        *by_deadline = left < c->timeout_ms;
        return *by_deadline ? left : c->timeout_ms;
}

static int connect_one(const struct addrinfo *ai, int64_t deadline, int *ret_fd) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        if (fd < 0)
                return -errno;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                if (errno != EINPROGRESS) {
                        int e = -errno;
                        close(fd);
                        return e;
                }
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int k;
                do
                        k = poll(&p, 1, (int) ms_left(deadline));
                while (k < 0 && errno == EINTR);
                int so = 0;
                socklen_t sl = sizeof(so);
                if (k == 0) {
                        close(fd);
                        return -ETIMEDOUT;
                }
                if (k < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0 || so) {
                        int e = k < 0 ? -errno : (so ? -so : -errno);
                        close(fd);
                        return e;
                }
        }
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        *ret_fd = fd;
        return 0;
}

int http1_connect(struct http1_conn *c, const char *host, unsigned port, int timeout_ms,
                char *errbuf, size_t errlen) {
        int64_t deadline = now_ms() + timeout_ms;
        /* an address literal needs no resolver (which would ask netlink and nscd first) */
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port)};
        struct addrinfo literal = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
        if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
                literal.ai_family = AF_INET;
                literal.ai_addr = (struct sockaddr *) &sin;
                literal.ai_addrlen = sizeof(sin);
        } else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
                literal.ai_family = AF_INET6;
                literal.ai_addr = (struct sockaddr *) &sin6;
                literal.ai_addrlen = sizeof(sin6);
        }
        int e = -ECONNREFUSED, fd = -1;
        if (literal.ai_addr) {
                e = connect_one(&literal, deadline, &fd);
                goto done;
        }

        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                        .ai_socktype = SOCK_STREAM,
                        .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
        struct addrinfo *res = NULL;
        char service[8];
        snprintf(service, sizeof(service), "%u", port);
        int g = getaddrinfo(host, service, &hints, &res);
        if (g == EAI_ADDRFAMILY || g == EAI_NONAME || g == EAI_NODATA) {
                /* AI_ADDRCONFIG hides ::1 on hosts whose only IPv6 address is loopback */
                hints.ai_flags = AI_NUMERICSERV;
                g = getaddrinfo(host, service, &hints, &res);
        }
        if (g != 0) {
                snprintf(errbuf, errlen, "cannot resolve '%s': %s", host, gai_strerror(g));
                return HTTP1_RESOLVE;
        }
        size_t n_addr = 0, i = 0;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
                n_addr++;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next, i++) {
                long left = ms_left(deadline);
                if (left == 0) {
                        e = -ETIMEDOUT;
                        break;
                }
                /* an even share of what is left, but at least a second */
                long slice = left / (long) (n_addr - i);
                if (slice < 1000)
                        slice = left < 1000 ? left : 1000;
                e = connect_one(ai, now_ms() + slice, &fd);
                if (e == 0)
                        break;
        }
        freeaddrinfo(res);
done:
        if (e < 0) {
                snprintf(errbuf, errlen, "cannot connect to %s port %u: %s", host, port,
                                e == -ETIMEDOUT ? "timed out" : strerror(-e));
                return e == -ETIMEDOUT ? HTTP1_TIMEOUT : HTTP1_CONNECT;
        }
        http1_conn_init(c, fd, NULL, NULL);
        snprintf(c->host, sizeof(c->host), "%s", host);
        c->port = port;
        return HTTP1_OK;
}

int http1_send(struct http1_conn *c, const char *req, size_t len, char *errbuf, size_t errlen) {
        while (len > 0) {
                if (deadline_left(c) == 0) {
                        snprintf(errbuf, errlen, "the request took longer than its deadline");
                        return HTTP1_DEADLINE;
                }
                ssize_t k = send(c->fd, req, len, MSG_NOSIGNAL);
                if (k > 0) {
                        req += k;
                        len -= (size_t) k;
                        c->deadline_bytes += (uint64_t) k;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
                        bool by_deadline;
                        int w = poll(&p, 1, wait_ms(c, &by_deadline));
                        if (w == 0 && by_deadline) {
                                snprintf(errbuf, errlen,
                                                "the request took longer than its deadline");
                                return HTTP1_DEADLINE;
                        }
                        if (w == 0) {
                                snprintf(errbuf, errlen, "sending the request timed out");
                                return HTTP1_TIMEOUT;
                        }
                        if (w > 0 || errno == EINTR)
                                continue;
                }
                snprintf(errbuf, errlen, "sending the request failed: %s",
                                k < 0 ? strerror(errno) : "nothing written");
                return HTTP1_SEND;
        }
        return HTTP1_OK;
}

/* ---- reading ---- */

struct reader {
        struct http1_conn *c;
        struct http1_response *resp;
        char *errbuf;
        size_t errlen;
        int64_t window_start;  /* low-speed check: when the current window began (ms) */
        uint64_t window_bytes; /* bytes read since */
};

/* >0 bytes read, 0 end of stream, <0 negative errno (-ETIMEDOUT for a stall, -ETIME past the
 * request's deadline) */
static ssize_t raw_read(struct http1_conn *c, void *buf, size_t len) {
        bool by_deadline;
        if (deadline_left(c) == 0)
                return -ETIME;
        if (c->read) {
                ssize_t k = c->read(c->read_ud, buf, len, wait_ms(c, &by_deadline));
                return k == -ETIMEDOUT && by_deadline ? -ETIME : k;
        }
        for (;;) {
                ssize_t k = read(c->fd, buf, len);
                if (k >= 0)
                        return k;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                struct pollfd p = {.fd = c->fd, .events = POLLIN};
                int w = poll(&p, 1, wait_ms(c, &by_deadline));
                if (w == 0)
                        return by_deadline ? -ETIME : -ETIMEDOUT;
                if (w < 0 && errno != EINTR)
                        return -errno;
        }
}

static int read_failed(struct reader *rd, ssize_t k, int on_eof, const char *where) {
        if (k == 0) {
                snprintf(rd->errbuf, rd->errlen, "connection closed %s", where);
                return on_eof;
        }
        if (k == -ETIME) {
                snprintf(rd->errbuf, rd->errlen, "the response took longer than its deadline (%s)",
                                where);
                return HTTP1_DEADLINE;
        }
        snprintf(rd->errbuf, rd->errlen, "reading %s failed: %s", where,
                        k == -ETIMEDOUT ? "the transfer stalled" : strerror((int) -k));
        return k == -ETIMEDOUT ? HTTP1_TIMEOUT : HTTP1_RECV;
}

/* Refills the buffer after what is left; returns raw_read's result. */
static ssize_t fill(struct reader *rd) {
        struct http1_conn *c = rd->c;
        if (c->pos > 0) {
                memmove(c->buf, c->buf + c->pos, c->len - c->pos);
                c->len -= c->pos;
                c->pos = 0;
        }
        if (c->len == sizeof(c->buf))
                return -ENOBUFS;
        ssize_t k = raw_read(c, c->buf + c->len, sizeof(c->buf) - c->len);
        if (k > 0) {
                c->len += (size_t) k;
                rd->resp->got_bytes = true;
                rd->window_bytes += (uint64_t) k;
                c->deadline_bytes += (uint64_t) k;
        }
        /* a server dripping a byte now and then, each within the read timeout, must still
         * end: fewer than low_speed_bytes in a low_speed_ms window is a stall */
        if (k > 0 && now_ms() - rd->window_start >= c->low_speed_ms) {
                if (rd->window_bytes < c->low_speed_bytes)
                        return -ETIMEDOUT;
                rd->window_start = now_ms();
                rd->window_bytes = 0;
        }
        return k;
}

/* One line ending in LF, within the buffer; *line and *n include the line end. */
static int read_line(struct reader *rd, char **line, size_t *n, int on_eof, const char *where) {
        struct http1_conn *c = rd->c;
        for (;;) {
                char *lf = memchr(c->buf + c->pos, '\n', c->len - c->pos);
                if (lf) {
                        *line = c->buf + c->pos;
                        *n = (size_t) (lf + 1 - *line);
                        c->pos += *n;
                        return HTTP1_OK;
                }
                ssize_t k = fill(rd);
                if (k == -ENOBUFS) {
                        snprintf(rd->errbuf, rd->errlen, "a line %s is longer than %zu bytes",
                                        where, sizeof(c->buf));
                        return HTTP1_MALFORMED;
                }
                if (k <= 0)
                        return read_failed(rd, k, on_eof, where);
        }
}

static size_t line_len_without_eol(const char *line, size_t n) {
        if (n > 0 && line[n - 1] == '\n')
                n--;
        if (n > 0 && line[n - 1] == '\r')
                n--;
        return n;
}

/* Hands up to `want` body bytes (UINT64_MAX: until the end of the stream) to on_body. */
static int deliver(struct reader *rd, uint64_t want, const struct http1_callbacks *cb,
                bool until_eof) {
        struct http1_conn *c = rd->c;
        while (want > 0) {
                if (c->pos == c->len) {
                        c->pos = c->len = 0;
                        ssize_t k = fill(rd);
                        if (k == 0 && until_eof)
                                return HTTP1_OK;
                        if (k <= 0)
                                return read_failed(rd, k, HTTP1_PARTIAL, "inside the body");
                }
                size_t avail = c->len - c->pos;
                size_t take = (uint64_t) avail < want ? avail : (size_t) want;
                if (cb->on_body && cb->on_body(c->buf + c->pos, 1, take, cb->ud) != take) {
                        snprintf(rd->errbuf, rd->errlen, "the body was refused");
                        return HTTP1_ABORTED;
                }
                c->pos += take;
                want -= take;
                rd->resp->body_bytes += take;
        }
        return HTTP1_OK;
}

static int read_chunked(struct reader *rd, const struct http1_callbacks *cb) {
        char *line;
        size_t n;
        for (;;) {
                int r = read_line(rd, &line, &n, HTTP1_PARTIAL, "in a chunk size");
                if (r)
                        return r;
                size_t len = line_len_without_eol(line, n), i = 0;
                uint64_t size = 0;
                for (; i < len && i < 16; i++) {
                        char ch = line[i];
                        int d = (ch >= '0' && ch <= '9')   ? ch - '0'
                                : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                                : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                                           : -1;
                        if (d < 0)
                                break;
                        size = size * 16 + (uint64_t) d;
                }
                /* 15 hex digits at most (no overflow), then nothing or an extension */
                if (i == 0 || i > 15 || len > CHUNK_LINE_MAX ||
                                (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
                        snprintf(rd->errbuf, rd->errlen, "malformed chunk size");
                        return HTTP1_MALFORMED;
                }
                if (size == 0)
                        break;
                r = deliver(rd, size, cb, false);
                if (r)
                        return r;
                r = read_line(rd, &line, &n, HTTP1_PARTIAL, "after a chunk");
                if (r)
                        return r;
                if (line_len_without_eol(line, n) != 0) {
                        snprintf(rd->errbuf, rd->errlen, "a chunk is longer than its size");
                        return HTTP1_MALFORMED;
                }
        }
        /* trailer fields, ignored, up to the empty line */
        size_t total = 0;
        for (;;) {
                int r = read_line(rd, &line, &n, HTTP1_PARTIAL, "in the trailer");
                if (r)
                        return r;
                total += n;
                if (total > HTTP1_HEADERS_MAX) {
                        snprintf(rd->errbuf, rd->errlen, "trailer larger than %d bytes",
                                        HTTP1_HEADERS_MAX);
                        return HTTP1_MALFORMED;
                }
                if (line_len_without_eol(line, n) == 0)
                        return HTTP1_OK;
        }
}

/* Whether the comma-separated list in v (length n) holds token (case-insensitive). */
static bool list_has(const char *v, size_t n, const char *token) {
        size_t tl = strlen(token);
        bool found = false;
        size_t i = 0;
        while (i < n) {
                while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
                        i++;
                size_t s = i;
                while (i < n && v[i] != ',')
                        i++;
                size_t e = i;
                while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
                        e--;
                if (e == s)
                        continue;
                found |= e - s == tl && strncasecmp(v + s, token, tl) == 0;
        }
        return found;
}

struct framing {
        int64_t content_length; /* -1 absent */
        bool has_te, chunked, close, keep_alive;
};

static int header_field(struct reader *rd, const char *line, size_t n, struct framing *f) {
        size_t len = line_len_without_eol(line, n);
        const char *colon = memchr(line, ':', len);
        if (line[0] == ' ' || line[0] == '\t' || !colon || colon == line) {
                snprintf(rd->errbuf, rd->errlen, "malformed header line");
                return HTTP1_MALFORMED;
        }
        for (const char *p = line; p < colon; p++)
                if (!is_tchar((unsigned char) *p)) {
                        snprintf(rd->errbuf, rd->errlen, "malformed header name");
                        return HTTP1_MALFORMED;
                }
        size_t nl = (size_t) (colon - line);
        const char *v = colon + 1;
        size_t vn = len - nl - 1;
        while (vn > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vn--;
        }
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
        if (nl == 14 && strncasecmp(line, "content-length", nl) == 0) {
                int64_t cl = 0;
                if (vn == 0 || vn > 18)
                        goto bad_length;
                for (size_t i = 0; i < vn; i++) {
                        if (v[i] < '0' || v[i] > '9')
                                goto bad_length;
                        cl = cl * 10 + (v[i] - '0');
                }
                if (f->content_length >= 0 && f->content_length != cl)
                        goto bad_length;
                f->content_length = cl;
        } else if (nl == 17 && strncasecmp(line, "transfer-encoding", nl) == 0) {
                /* only plain "chunked": other codings would need decoding we do not do */
                f->has_te = true;
                if (vn == 7 && strncasecmp(v, "chunked", 7) == 0)
                        f->chunked = true;
                else {
                        snprintf(rd->errbuf, rd->errlen, "unsupported transfer coding");
                        return HTTP1_MALFORMED;
                }
        } else if (nl == 10 && strncasecmp(line, "connection", nl) == 0) {
                if (list_has(v, vn, "close"))
                        f->close = true;
                if (list_has(v, vn, "keep-alive"))
                        f->keep_alive = true;
        }
        return HTTP1_OK;
bad_length:
        snprintf(rd->errbuf, rd->errlen, "malformed Content-Length");
        return HTTP1_MALFORMED;
}

/* "HTTP/1.x NNN ..." -> status and minor version */
static int status_line(struct reader *rd, const char *line, size_t n, int *status, int *minor) {
        size_t len = line_len_without_eol(line, n);
        if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
                        line[8] != ' ' || (len > 12 && line[12] != ' ')) {
                snprintf(rd->errbuf, rd->errlen, "not an HTTP/1.x response");
                return HTTP1_MALFORMED;
        }
        int s = 0;
        for (int i = 9; i < 12; i++) {
                if (line[i] < '0' || line[i] > '9') {
                        snprintf(rd->errbuf, rd->errlen, "malformed status code");
                        return HTTP1_MALFORMED;
                }
                s = s * 10 + (line[i] - '0');
        }
        if (s < 100 || s > 599) {
                snprintf(rd->errbuf, rd->errlen, "status code %d out of range", s);
                return HTTP1_MALFORMED;
        }
        *status = s;
        *minor = line[7] - '0';
        return HTTP1_OK;
}

int http1_read_response(struct http1_conn *c, bool head, const struct http1_callbacks *cb,
                struct http1_response *resp, char *errbuf, size_t errlen) {
        struct reader rd = {.c = c, .resp = resp, .errbuf = errbuf, .errlen = errlen};
        rd.window_start = now_ms();
        *resp = (struct http1_response){};
        errbuf[0] = '\0';
        struct framing f;
        size_t total = 0; /* header bytes, interim responses' included */
        int minor = 1, r;
        char *line;
        size_t n;

        for (;;) {
                /* the status line: nothing at all here is a stale or refusing connection */
                r = read_line(&rd, &line, &n, HTTP1_RECV, "before the status line");
                if (r == HTTP1_RECV && !resp->got_bytes && c->pos == c->len &&
                                strstr(errbuf, "closed"))
                        r = HTTP1_NOTHING;
                if (r)
                        return r;
                if ((r = status_line(&rd, line, n, &resp->status, &minor)))
                        return r;
                if (cb->on_header && cb->on_header(line, 1, n, cb->ud) != n) {
                        snprintf(errbuf, errlen, "the headers were refused");
                        return HTTP1_ABORTED;
                }
                f = (struct framing){.content_length = -1};
                total += n;
                for (;;) {
                        r = read_line(&rd, &line, &n, HTTP1_RECV, "inside the headers");
                        if (r)
                                return r;
                        total += n;
                        if (total > HTTP1_HEADERS_MAX) {
                                snprintf(errbuf, errlen, "headers larger than %d bytes",
                                                HTTP1_HEADERS_MAX);
                                return HTTP1_MALFORMED;
                        }
                        bool end = line_len_without_eol(line, n) == 0;
                        if (!end && (r = header_field(&rd, line, n, &f)))
                                return r;
                        if (cb->on_header && cb->on_header(line, 1, n, cb->ud) != n) {
                                snprintf(errbuf, errlen, "the headers were refused");
                                return HTTP1_ABORTED;
                        }
                        if (end)
                                break;
                }
                if (resp->status >= 200)
                        break;
                if (resp->status == 101) {
                        snprintf(errbuf, errlen, "unexpected protocol switch");
                        return HTTP1_MALFORMED;
                }
                /* 1xx interim response: the real one follows */
        }
        if (f.has_te && f.content_length >= 0) {
                snprintf(errbuf, errlen, "both Content-Length and Transfer-Encoding");
                return HTTP1_MALFORMED;
        }
        bool persistent = minor >= 1 ? !f.close : (f.keep_alive && !f.close);
        if (head || resp->status == 204 || resp->status == 304)
                r = HTTP1_OK;
        else if (f.chunked)
                r = read_chunked(&rd, cb);
        else if (f.content_length >= 0)
                r = deliver(&rd, (uint64_t) f.content_length, cb, false);
        else {
                r = deliver(&rd, UINT64_MAX, cb, true);
                persistent = false;
        }
        /* bytes beyond the response (a pipelining or confused server) make it unusable */
        resp->keep_alive = r == HTTP1_OK && persistent && c->pos == c->len;
        if (resp->keep_alive)
                c->pos = c->len = 0;
        return r;
}
