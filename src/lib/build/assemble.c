/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "xarch/build.h"
#include "xarch/file.h"
#include "xarch/layer.h"
#include "macro.h"
#include "base/jobs.h"
#include "build/sink.h"
#include "build/layer.h"
#include "image/image.h"
#include "image/rootfs.h"

#define MEDIA_OCI_LAYER_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD    "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson's own helper */

/* ---- --add specs and placeholders ---- */

void xarch_build_add_release(struct xarch_build_add *a) {
        if (!a)
                return;
        free(a->src);
        free(a->dest);
        *a = (struct xarch_build_add){0};
}

int xarch_build_add_parse(const char *spec, bool archive, struct xarch_build_add *ret,
                struct xarch_error **err) {
        const char *opt = archive ? "--add-archive" : "--add";
        struct xarch_build_add a = {.archive = archive};
        const char *rest = spec;
        const char *eq = strchr(spec, '=');
        if (eq && !memchr(spec, ':', (size_t) (eq - spec))) {
                char pl[XARCH_PLATFORM_STRING_MAX + 1];
                size_t n = (size_t) (eq - spec);
                bool looks = n < sizeof(pl) && memchr(spec, '/', n) && !memchr(spec, '.', n);
                if (looks) {
                        memcpy(pl, spec, n);
                        pl[n] = '\0';
                        struct xarch_error *e = NULL;
                        if (xarch_platform_parse(pl, &a.platform, &e) < 0 ||
                                        !xarch_arch_is_known(a.platform.arch)) {
                                int r = xarch_error_set(err, EINVAL, "%s %s: %s", opt, spec,
                                                e && e->msg ? e->msg : "unknown platform");
                                xarch_error_free(e);
                                return r;
                        }
                        a.has_platform = true;
                        rest = eq + 1;
                }
        }
        const char *sep = NULL;
        for (const char *p = rest; (p = strstr(p, ":/")); p++)
                sep = p;
        if (!sep || sep == rest)
                return xarch_error_set(err, EINVAL,
                                "%s %s: expected [PLATFORM=]SRC:DEST with an absolute DEST", opt,
                                spec);
        a.src = strndup(rest, (size_t) (sep - rest));
        a.dest = strdup(sep + 1);
        if (!a.src || !a.dest) {
                xarch_build_add_release(&a);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        for (const char *p = a.dest; *p;) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        xarch_build_add_release(&a);
                        return xarch_error_set(
                                        err, EINVAL, "%s %s: '..' in the destination", opt, spec);
                }
                p += n;
                while (*p == '/')
                        p++;
        }
        *ret = a;
        return 0;
}

struct arch_names {
        const char *arch, *variant; /* variant NULL = any */
        const char *uname_m, *debian;
};

static const struct arch_names arch_names[] = {
                {"amd64", NULL, "x86_64", "amd64"},
                {"arm64", NULL, "aarch64", "arm64"},
                {"arm", "v7", "armv7l", "armhf"},
                {"arm", "v8", "armv8l", "armhf"},
                {"arm", "v6", "armv6l", "armel"},
                {"arm", "v5", "armv5tel", "armel"},
                {"386", NULL, "i686", "i386"},
                {"ppc64le", NULL, "ppc64le", "ppc64el"},
                {"ppc64", NULL, "ppc64", "ppc64"},
                {"s390x", NULL, "s390x", "s390x"},
                {"riscv64", NULL, "riscv64", "riscv64"},
                {"mips64le", NULL, "mips64", "mips64el"},
                {"mips64", NULL, "mips64", "mips64"},
                {"mipsle", NULL, "mips", "mipsel"},
                {"mips", NULL, "mips", "mips"},
                {"loong64", NULL, "loongarch64", "loong64"},
};

static const struct arch_names *names_for(const struct xarch_platform *p) {
        struct xarch_platform n = *p;
        xarch_platform_normalize(&n);
        for (size_t i = 0; i < ELEMENTSOF(arch_names); i++)
                if (streq(arch_names[i].arch, n.arch) &&
                                (!arch_names[i].variant || streq(arch_names[i].variant, n.variant)))
                        return &arch_names[i];
        return NULL;
}

int xarch_build_expand(const char *src, const struct xarch_platform *p, char **ret,
                struct xarch_error **err) {
        struct xarch_platform n = *p;
        xarch_platform_normalize(&n);
        size_t cap = strlen(src) + 1, len = 0;
        for (const char *q = src; (q = strchr(q, '{')); q++)
                cap += 64;
        char *out = malloc(cap);
        if (!out)
                return xarch_error_set(err, ENOMEM, "out of memory");
        for (const char *q = src; *q;) {
                if (*q != '{') {
                        out[len++] = *q++;
                        continue;
                }
                const char *close = strchr(q, '}');
                size_t kl = close ? (size_t) (close - q - 1) : 0;
                const char *val = NULL;
                const struct arch_names *an = names_for(&n);
#define KEY(k) (close && kl == strlen(k) && strncmp(q + 1, k, kl) == 0)
                if (KEY("os"))
                        val = n.os;
                else if (KEY("arch"))
                        val = n.arch;
                else if (KEY("variant"))
                        val = n.variant;
                else if (KEY("uname_m") || KEY("debian_arch")) {
                        if (!an) {
                                char pb[XARCH_PLATFORM_STRING_MAX];
                                xarch_platform_format(&n, pb, sizeof(pb));
                                free(out);
                                return xarch_error_set(err, EINVAL,
                                                "%s: no %.*s name is known for %s", src, (int) kl,
                                                q + 1, pb);
                        }
                        val = KEY("uname_m") ? an->uname_m : an->debian;
                } else {
                        free(out);
                        return xarch_error_set(err, EINVAL,
                                        "%s: unknown placeholder %.*s (known: {os} {arch} "
                                        "{variant} {uname_m} {debian_arch})",
                                        src, close ? (int) kl + 2 : (int) strlen(q), q);
                }
#undef KEY
                size_t vl = strlen(val);
                memcpy(out + len, val, vl);
                len += vl;
                q = close + 1;
        }
        out[len] = '\0';
        *ret = out;
        return 0;
}

/* ---- the build ---- */

struct target {
        struct xarch_platform want; /* normalised */
        char base_digest[XARCH_DIGEST_MAX];
        json_t *base_manifest; /* NULL for scratch */
        struct xarch_manifest *base_m;
        bool docker;
        json_t *config;
        struct layer_tree *tree;
        bool has_layer;
        struct layer_result layer;
        /* the adds that made the tree ("K SRC\n" each, SRC expanded), and an earlier target
         * whose layer is therefore the same bytes (index + 1; 0 for none): written once */
        char *sources;
        size_t same_layer_as;
        /* written ahead, concurrently with other platforms' layers: the spool holding it for a
         * registry (-1 for none), and whether t->layer is already known (a dry run, or spooled) */
        int spool;
        bool layer_ready;
        char *added; /* what the history says was added */
        size_t n_checked;
        char *config_json;
        char config_digest[XARCH_DIGEST_MAX];
        char *manifest_json;
        char manifest_digest[XARCH_DIGEST_MAX];
        struct xarch_platform desc_platform;
        char *os_version;
};

struct build {
        const struct xarch_build_options *o;
        struct xarch_image_context *ctx;
        struct xarch_image *base;
        struct xarch_ref base_ref;
        const struct xarch_ref *mount_from; /* the base, when it is on a registry */
        bool base_is_index;
        bool base_docker_list;
        struct target *targets;
        size_t n_targets;
        char created[32];
};

static void progress(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct build *b, const char *fmt, ...) {
        if (!b->o->progress)
                return;
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        b->o->progress(b->o->progress_userdata, msg);
}

static const char *pfmt(const struct xarch_platform *p, char *buf, size_t size) {
        if (xarch_platform_format(p, buf, size) < 0)
                snprintf(buf, size, "?");
        return buf;
}

static void target_release(struct target *t) {
        json_decref(t->base_manifest);
        xarch_manifest_free(t->base_m);
        json_decref(t->config);
        layer_tree_free(t->tree);
        free(t->added);
        free(t->sources);
        if (t->spool >= 0)
                close(t->spool);
        free(t->config_json);
        free(t->manifest_json);
        free(t->os_version);
}

static int load_json(const struct xarch_blob_buf *buf, json_t **ret, const char *what,
                struct xarch_error **err) {
        json_error_t je;
        json_t *j = json_loadb(buf->data, buf->len, JSON_REJECT_DUPLICATES, &je);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                return xarch_error_set(err, EBADMSG, "%s: %s", what, je.text);
        }
        *ret = j;
        return 0;
}

/* The base image for t: its manifest (raw and parsed) and config. */
static int load_base(struct build *b, struct target *t, const char *digest, const char *mt,
                struct xarch_error **err) {
        struct xarch_blob_buf buf = {0};
        int r = xarch_image_get_manifest(b->base, digest, mt, &buf, err);
        if (r < 0)
                return r;
        snprintf(t->base_digest, sizeof(t->base_digest), "%s", buf.digest[0] ? buf.digest : digest);
        r = xarch_manifest_parse(buf.data, buf.len, buf.media_type[0] ? buf.media_type : mt,
                        &t->base_m, err);
        if (r >= 0 && t->base_m->kind != XARCH_MANIFEST_IMAGE)
                r = xarch_error_set(err, EPROTONOSUPPORT, "%s: %.19s is not an image manifest",
                                xarch_image_name(b->base), digest);
        if (r >= 0)
                r = load_json(&buf, &t->base_manifest, "base manifest", err);
        xarch_blob_buf_release(&buf);
        if (r < 0)
                return r;
        t->docker = streq(t->base_m->media_type, XARCH_MEDIA_DOCKER_MANIFEST);
        r = xarch_image_get_blob_buf(b->base, t->base_m->config.digest,
                        xarch_descriptor_cap(&t->base_m->config, XARCH_CONFIG_MAX), &buf, err);
        if (r < 0)
                return r;
        r = load_json(&buf, &t->config, "base config", err);
        xarch_blob_buf_release(&buf);
        if (r < 0)
                return r;
        /* the result keeps the base's diff_ids: a runtime refuses it at unpack when they do not
         * pair up with the layers */
        json_t *ids = json_object_get(json_object_get(t->config, "rootfs"), "diff_ids");
        size_t n_ids = json_is_array(ids) ? json_array_size(ids) : 0;
        if (n_ids != t->base_m->n_layers)
                return xarch_error_set(err, EBADMSG,
                                "%s: the base config lists %zu diff_id%s for %zu layer%s",
                                xarch_image_name(b->base), n_ids, n_ids == 1 ? "" : "s",
                                t->base_m->n_layers, t->base_m->n_layers == 1 ? "" : "s");
        return 0;
}

static int add_target(
                struct build *b, const struct xarch_platform *want, struct xarch_error **err) {
        struct xarch_platform n = *want;
        xarch_platform_normalize(&n);
        for (size_t i = 0; i < b->n_targets; i++)
                if (xarch_platform_equal(&b->targets[i].want, &n)) {
                        char pb[XARCH_PLATFORM_STRING_MAX];
                        return xarch_error_set(err, EINVAL, "platform %s is given twice",
                                        pfmt(&n, pb, sizeof(pb)));
                }
        struct target *nt = realloc(b->targets, (b->n_targets + 1) * sizeof(*nt));
        if (!nt)
                return xarch_error_set(err, ENOMEM, "out of memory");
        b->targets = nt;
        b->targets[b->n_targets++] = (struct target){.want = n, .spool = -1};
        return 0;
}

static int resolve_base(struct build *b, struct xarch_error **err) {
        const struct xarch_build_options *o = b->o;
        char pb[XARCH_PLATFORM_STRING_MAX];
        int r;
        if (!o->from || streq(o->from, "scratch")) {
                if (o->n_platforms == 0) {
                        struct xarch_host host;
                        r = xarch_host_detect(&host, err);
                        if (r < 0)
                                return r;
                        r = add_target(b, &host.platform, err);
                        if (r < 0)
                                return r;
                }
                for (size_t i = 0; i < o->n_platforms; i++) {
                        r = add_target(b, &o->platforms[i], err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        r = xarch_image_open(b->ctx, o->from, &b->base, err);
        if (r < 0)
                return r;
        progress(b, "base %s", xarch_image_name(b->base));
        struct xarch_blob_buf root = {0};
        r = xarch_image_get_root(b->base, &root, NULL, err);
        if (r < 0)
                return r;
        struct xarch_manifest *m = NULL;
        r = xarch_manifest_parse(
                        root.data, root.len, root.media_type[0] ? root.media_type : NULL, &m, err);
        if (r < 0) {
                xarch_blob_buf_release(&root);
                return r;
        }
        if (m->kind == XARCH_MANIFEST_IMAGE) {
                /* a single image: every target must be what it is */
                struct target probe = {.spool = -1};
                r = load_base(b, &probe, root.digest, root.media_type, err);
                struct xarch_platform cp = {0};
                if (r >= 0) {
                        json_t *c = probe.config;
                        snprintf(cp.os, sizeof(cp.os), "%s",
                                        json_string_value(json_object_get(c, "os")) ?: "");
                        snprintf(cp.arch, sizeof(cp.arch), "%s",
                                        json_string_value(json_object_get(c, "architecture"))
                                                        ?: "");
                        snprintf(cp.variant, sizeof(cp.variant), "%s",
                                        json_string_value(json_object_get(c, "variant")) ?: "");
                }
                target_release(&probe);
                if (r >= 0 && o->n_platforms == 0)
                        r = add_target(b, &cp, err);
                for (size_t i = 0; r >= 0 && i < o->n_platforms; i++) {
                        if (xarch_platform_rank(&o->platforms[i], &cp, XARCH_MATCH_MODE_DEFAULT) <
                                        0) {
                                char cb[XARCH_PLATFORM_STRING_MAX];
                                r = xarch_error_set(err, ENOENT,
                                                "the base %s is a single %s image and has no "
                                                "image for %s",
                                                xarch_image_name(b->base),
                                                pfmt(&cp, cb, sizeof(cb)),
                                                pfmt(&o->platforms[i], pb, sizeof(pb)));
                                break;
                        }
                        r = add_target(b, &o->platforms[i], err);
                }
                for (size_t i = 0; r >= 0 && i < b->n_targets; i++)
                        r = load_base(b, &b->targets[i], root.digest, root.media_type, err);
        } else {
                b->base_is_index = true;
                b->base_docker_list = streq(m->media_type, XARCH_MEDIA_DOCKER_LIST);
                /* the runnable entries, as a containerd node chooses among them */
                struct xarch_platform *cands = calloc(m->n_manifests + 1, sizeof(*cands));
                size_t *map = calloc(m->n_manifests + 1, sizeof(*map));
                size_t nc = 0;
                if (!cands || !map)
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                for (size_t i = 0; r >= 0 && i < m->n_manifests; i++) {
                        const struct xarch_descriptor *d = &m->manifests[i];
                        if (d->kind != XARCH_ENTRY_IMAGE || !d->has_platform)
                                continue;
                        cands[nc] = d->platform;
                        map[nc++] = i;
                }
                if (r >= 0 && o->n_platforms == 0)
                        for (size_t i = 0; r >= 0 && i < nc; i++) {
                                struct xarch_platform n = cands[i];
                                xarch_platform_normalize(&n);
                                bool dup = false;
                                for (size_t k = 0; k < b->n_targets; k++)
                                        dup |= xarch_platform_equal(&b->targets[k].want, &n);
                                if (!dup)
                                        r = add_target(b, &cands[i], err);
                        }
                for (size_t i = 0; r >= 0 && i < o->n_platforms; i++)
                        r = add_target(b, &o->platforms[i], err);
                for (size_t i = 0; r >= 0 && i < b->n_targets; i++) {
                        struct target *t = &b->targets[i];
                        enum xarch_match_rule rule;
                        int k = xarch_platform_match(
                                        &t->want, cands, nc, XARCH_MATCH_MODE_DEFAULT, &rule);
                        if (k < 0) {
                                char have[512] = "";
                                size_t hl = 0;
                                for (size_t c = 0; c < nc && hl < sizeof(have) - 40; c++) {
                                        char cb[XARCH_PLATFORM_STRING_MAX];
                                        hl += (size_t) snprintf(have + hl, sizeof(have) - hl,
                                                        "%s%s", c ? ", " : "",
                                                        pfmt(&cands[c], cb, sizeof(cb)));
                                }
                                r = xarch_error_set(err, ENOENT,
                                                "the base %s has no image for %s (it has %s)",
                                                xarch_image_name(b->base),
                                                pfmt(&t->want, pb, sizeof(pb)), nc ? have : "none");
                                break;
                        }
                        const struct xarch_descriptor *d = &m->manifests[map[k]];
                        r = load_base(b, t, d->digest, d->media_type, err);
                }
                free(cands);
                free(map);
        }
        xarch_manifest_free(m);
        xarch_blob_buf_release(&root);
        return r;
}

/* ---- config editing ---- */

static json_t *scratch_config(const struct xarch_platform *p) {
        json_t *c = json_pack("{s:s, s:s}", "architecture", p->arch, "os", p->os);
        if (c && p->variant[0])
                json_object_set_new(c, "variant", json_string(p->variant));
        if (c)
                json_object_set_new(c, "config",
                                json_pack("{s:[s]}", "Env", "PATH=" ROOTFS_DEFAULT_PATH));
        if (c)
                json_object_set_new(c, "rootfs",
                                json_pack("{s:s, s:[]}", "type", "layers", "diff_ids"));
        return c;
}

/* "[...]" as a JSON array of strings, else words split at blanks; "" is NULL (cleared). */
static int parse_command(const char *s, const char *what, json_t **ret, struct xarch_error **err) {
        while (*s == ' ' || *s == '\t')
                s++;
        if (!*s) {
                *ret = json_null();
                return 0;
        }
        if (*s == '[') {
                json_error_t je;
                json_t *a = json_loads(s, 0, &je);
                bool ok = json_is_array(a);
                size_t i;
                json_t *v;
                json_array_foreach(a, i, v) ok &= json_is_string(v);
                if (!ok) {
                        json_decref(a);
                        return xarch_error_set(err, EINVAL, "%s: not a JSON array of strings: %s",
                                        what, s);
                }
                *ret = a;
                return 0;
        }
        json_t *a = json_array();
        _cleanup_free_ char *copy = strdup(s);
        if (!a || !copy) {
                json_decref(a);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        char *save = NULL;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
                json_array_append_new(a, json_string(w));
        *ret = a;
        return 0;
}

/* "$NAME" and "${NAME}" from env (a JSON array of "K=V"); unknown names expand to "". */
static char *expand_env(const char *v, json_t *env) {
        size_t cap = strlen(v) + 1, len = 0;
        char *out = malloc(cap);
        if (!out)
                return NULL;
        for (const char *p = v; *p;) {
                const char *name = NULL;
                size_t nl = 0;
                const char *next = p + 1;
                if (p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
                        name = p + 2;
                        nl = (size_t) (strchr(p, '}') - name);
                        next = name + nl + 1;
                } else if (p[0] == '$' && (p[1] == '_' || (p[1] >= 'A' && p[1] <= 'Z') ||
                                                          (p[1] >= 'a' && p[1] <= 'z'))) {
                        name = p + 1;
                        while (name[nl] == '_' || (name[nl] >= 'A' && name[nl] <= 'Z') ||
                                        (name[nl] >= 'a' && name[nl] <= 'z') ||
                                        (name[nl] >= '0' && name[nl] <= '9'))
                                nl++;
                        next = name + nl;
                }
                const char *val = NULL;
                size_t vl = 1;
                if (name) {
                        size_t i;
                        json_t *e;
                        val = "";
                        vl = 0;
                        json_array_foreach(env, i, e) {
                                const char *s = json_string_value(e);
                                if (s && strncmp(s, name, nl) == 0 && s[nl] == '=') {
                                        val = s + nl + 1;
                                        vl = strlen(val);
                                }
                        }
                } else {
                        val = p;
                }
                if (len + vl + 1 > cap) {
                        cap = (len + vl + 1) * 2;
                        char *n = realloc(out, cap);
                        if (!n) {
                                free(out);
                                return NULL;
                        }
                        out = n;
                }
                memcpy(out + len, val, vl);
                len += vl;
                p = name ? next : p + 1;
        }
        out[len] = '\0';
        return out;
}

static int kv_split(const char *kv, const char *what, char **k, const char **v,
                struct xarch_error **err) {
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
                return xarch_error_set(err, EINVAL, "%s %s: expected KEY=VALUE", what, kv);
        *k = strndup(kv, (size_t) (eq - kv));
        *v = eq + 1;
        return *k ? 0 : xarch_error_set(err, ENOMEM, "out of memory");
}

static json_t *object_child(json_t *parent, const char *key) {
        json_t *c = json_object_get(parent, key);
        if (!json_is_object(c)) {
                c = json_object();
                json_object_set_new(parent, key, c);
        }
        return c;
}

static int edit_config(struct build *b, struct target *t, struct xarch_error **err) {
        const struct xarch_build_options *o = b->o;
        if (!t->config)
                t->config = scratch_config(&t->want);
        if (!t->config)
                return xarch_error_set(err, ENOMEM, "out of memory");
        json_t *c = object_child(t->config, "config");
        int r;
        if (o->entrypoint) {
                json_t *ep = NULL;
                r = parse_command(o->entrypoint, "--entrypoint", &ep, err);
                if (r < 0)
                        return r;
                json_object_set_new(c, "Entrypoint", ep);
                /* as Docker does: a new entrypoint drops the base's cmd */
                if (!o->cmd)
                        json_object_set_new(c, "Cmd", json_null());
        }
        if (o->cmd) {
                json_t *cmd = NULL;
                r = parse_command(o->cmd, "--cmd", &cmd, err);
                if (r < 0)
                        return r;
                json_object_set_new(c, "Cmd", cmd);
        }
        if (o->n_env) {
                json_t *env = json_object_get(c, "Env");
                if (!json_is_array(env)) {
                        env = json_array();
                        json_object_set_new(c, "Env", env);
                }
                for (size_t i = 0; i < o->n_env; i++) {
                        _cleanup_free_ char *k = NULL;
                        const char *v;
                        r = kv_split(o->env[i], "--env", &k, &v, err);
                        if (r < 0)
                                return r;
                        _cleanup_free_ char *ev = expand_env(v, env);
                        size_t kl = strlen(k);
                        _cleanup_free_ char *kv = ev ? malloc(kl + strlen(ev) + 2) : NULL;
                        if (!kv)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        sprintf(kv, "%s=%s", k, ev);
                        size_t j;
                        json_t *e;
                        bool replaced = false;
                        json_array_foreach(env, j, e) {
                                const char *s = json_string_value(e);
                                if (s && strncmp(s, k, kl) == 0 && s[kl] == '=') {
                                        json_array_set_new(env, j, json_string(kv));
                                        replaced = true;
                                        break;
                                }
                        }
                        if (!replaced)
                                json_array_append_new(env, json_string(kv));
                }
        }
        if (o->workdir)
                json_object_set_new(c, "WorkingDir", json_string(o->workdir));
        if (o->user)
                json_object_set_new(c, "User", json_string(o->user));
        for (size_t i = 0; i < o->n_labels; i++) {
                _cleanup_free_ char *k = NULL;
                const char *v;
                r = kv_split(o->labels[i], "--label", &k, &v, err);
                if (r < 0)
                        return r;
                json_object_set_new(object_child(c, "Labels"), k, json_string(v));
        }
        for (size_t i = 0; i < o->n_expose; i++) {
                char port[64];
                const char *e = o->expose[i];
                size_t digits = strspn(e, "0123456789");
                if (digits == 0 || digits > 5 ||
                                (e[digits] && !streq(e + digits, "/tcp") &&
                                                !streq(e + digits, "/udp") &&
                                                !streq(e + digits, "/sctp")))
                        return xarch_error_set(err, EINVAL,
                                        "--expose %s: expected PORT or PORT/tcp|udp|sctp", e);
                snprintf(port, sizeof(port), "%s%s", e, e[digits] ? "" : "/tcp");
                json_object_set_new(object_child(c, "ExposedPorts"), port, json_object());
        }
        json_object_set_new(t->config, "created", json_string(b->created));
        return 0;
}

/* ---- the check ---- */

static bool foreign_allowed(const struct xarch_build_options *o, const char *image_path) {
        for (size_t i = 0; i < o->n_allow_foreign; i++)
                if (fnmatch(o->allow_foreign[i], image_path, 0) == 0)
                        return true;
        return false;
}

static int variant_number(const char *variant) {
        if (variant[0] == 'v')
                variant++;
        int n = 0;
        for (; *variant >= '0' && *variant <= '9'; variant++)
                n = n * 10 + (*variant - '0');
        return n;
}

/* What p needs that info is not, as a phrase; "" when info runs on p. */
static void elf_mismatch(const struct xarch_platform *p, const struct xarch_file_info *info,
                char *why, size_t size) {
        char pb[XARCH_PLATFORM_STRING_MAX], bb[XARCH_PLATFORM_STRING_MAX];
        why[0] = '\0';
        if (!info->platform_known) {
                snprintf(why, size, "its machine (%s) is no OCI platform; %s needs %s",
                                info->machine_name, pfmt(p, pb, sizeof(pb)), p->arch);
                return;
        }
        struct xarch_platform bp = info->platform;
        xarch_platform_normalize(&bp);
        if (!streq(bp.arch, p->arch)) {
                snprintf(why, size, "%s needs %s binaries", pfmt(p, pb, sizeof(pb)), p->arch);
                return;
        }
        if (info->go.goarch[0] && !streq(info->go.goarch, p->arch)) {
                snprintf(why, size, "built with GOARCH=%s; %s needs GOARCH=%s", info->go.goarch,
                                pfmt(p, pb, sizeof(pb)), p->arch);
                return;
        }
        if (streq(p->arch, "arm")) {
                int want = variant_number(p->variant[0] ? p->variant : "v7");
                if (bp.variant[0] && variant_number(bp.variant) > want) {
                        snprintf(why, size, "it needs arm/%s; %s allows arm/v%d at most",
                                        bp.variant, pfmt(p, pb, sizeof(pb)), want);
                        return;
                }
                if (want >= 7 && info->linkage == XARCH_LINK_DYNAMIC &&
                                strstr(info->abi, "soft-float")) {
                        snprintf(why, size,
                                        "it is soft-float (armel); %s needs hard-float (armhf) "
                                        "binaries",
                                        pfmt(p, pb, sizeof(pb)));
                        return;
                }
        }
        if (streq(p->arch, "amd64") && info->amd64_level > 1) {
                int allowed = p->variant[0] ? variant_number(p->variant) : 1;
                if (info->amd64_level > allowed) {
                        snprintf(why, size, "it needs x86-64-v%d; %s guarantees x86-64-v%d",
                                        info->amd64_level, pfmt(p, pb, sizeof(pb)), allowed);
                        return;
                }
        }
        if (streq(p->arch, "arm64") && bp.variant[0] && p->variant[0]) {
                /* v8.x / v9.x: compare as numbers */
                double need = strtod(bp.variant + 1, NULL), have = strtod(p->variant + 1, NULL);
                if (need > have)
                        snprintf(why, size, "it needs arm64/%s; %s is %s", bp.variant,
                                        pfmt(p, pb, sizeof(pb)), pfmt(p, bb, sizeof(bb)));
        }
}

struct check_state {
        struct build *b;
        struct target *t;
        struct rootfs *fs;
        struct xarch_layer **layers;
        size_t n_layers;
        char *path_env;
        char *workdir;
};

static void check_state_release(struct check_state *cs) {
        rootfs_free(cs->fs);
        for (size_t i = 0; i < cs->n_layers; i++)
                xarch_layer_free(cs->layers[i]);
        free(cs->layers);
        free(cs->path_env);
        free(cs->workdir);
}

static int push_layer(struct check_state *cs, struct xarch_layer *l) {
        struct xarch_layer **n = realloc(cs->layers, (cs->n_layers + 1) * sizeof(*n));
        if (!n) {
                xarch_layer_free(l);
                return -ENOMEM;
        }
        cs->layers = n;
        cs->layers[cs->n_layers++] = l;
        return 0;
}

/* The merged root: the base's layers (streamed and listed, never extracted) and the new one. */
static int build_rootfs(struct check_state *cs, struct xarch_layer *own, struct xarch_error **err) {
        struct target *t = cs->t;
        int r = rootfs_new(&cs->fs);
        if (r < 0) {
                xarch_layer_free(own);
                return xarch_error_set(err, -r, "out of memory");
        }
        for (size_t i = 0; t->base_m && i < t->base_m->n_layers; i++) {
                struct xarch_layer *l = NULL;
                char pb[XARCH_PLATFORM_STRING_MAX];
                progress(cs->b, "%s: reading base layer %zu/%zu", pfmt(&t->want, pb, sizeof(pb)),
                                i + 1, t->base_m->n_layers);
                r = xarch_layer_scan(cs->b->base, &t->base_m->layers[i], &l, err);
                if (r < 0) {
                        xarch_layer_free(own);
                        return r;
                }
                /* read to its end: its diff_id is known, and the result would keep a wrong one */
                json_t *ids = json_object_get(json_object_get(t->config, "rootfs"), "diff_ids");
                const char *want = json_string_value(json_array_get(ids, i));
                if (!want || !streq(want, l->diff_id)) {
                        r = xarch_error_set(err, EBADMSG,
                                        "base layer %zu of %zu (%s): the base config's diff_id is "
                                        "%s but the layer uncompressed is %s",
                                        i + 1, t->base_m->n_layers, t->base_m->layers[i].digest,
                                        want ? want : "missing", l->diff_id);
                        xarch_layer_free(l);
                        xarch_layer_free(own);
                        return r;
                }
                if (push_layer(cs, l) < 0) {
                        xarch_layer_free(own);
                        return xarch_error_set(err, ENOMEM, "out of memory");
                }
                r = rootfs_apply_layer(cs->fs, l, err);
                if (r < 0) {
                        xarch_layer_free(own);
                        return r;
                }
        }
        if (push_layer(cs, own) < 0)
                return xarch_error_set(err, ENOMEM, "out of memory");
        return rootfs_apply_layer(cs->fs, own, err);
}

static int check_interpreter(struct check_state *cs, const char *file, const char *line,
                bool script, struct xarch_error **err) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", line);
        char *save = NULL;
        char *interp = strtok_r(buf, " \t", &save);
        if (!interp)
                return xarch_error_set(err, ENOEXEC, "%s: empty #! line", file);
        char pb[XARCH_PLATFORM_STRING_MAX];
        const struct rootfs_node *node = NULL;
        struct xarch_error *e = NULL;
        int r = rootfs_resolve(cs->fs, interp, true, &node, NULL, &e);
        const char *base = strrchr(interp, '/');
        if (r >= 0 && script && base && streq(base, "/env")) {
                char *w;
                while ((w = strtok_r(NULL, " \t", &save)))
                        if (w[0] != '-' && !strchr(w, '='))
                                break;
                if (w) {
                        xarch_error_free(steal_ptr(e));
                        r = rootfs_find_command(
                                        cs->fs, w, cs->path_env, cs->workdir, &node, NULL, &e);
                        interp = w;
                }
        }
        xarch_error_free(e);
        if (r < 0)
                return xarch_error_set(err, ENOENT, "%s: its %s %s is not in the %s image", file,
                                script ? "#! interpreter" : "loader", interp,
                                pfmt(&cs->t->want, pb, sizeof(pb)));
        return 0;
}

static int config_strings(json_t *c, const char *key, json_t *argv) {
        json_t *a = json_object_get(c, key);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (json_is_string(v)) json_array_append(argv, v);
        return 0;
}

static int check_target(struct build *b, struct target *t, struct xarch_error **err) {
        const struct xarch_build_options *o = b->o;
        char pb[XARCH_PLATFORM_STRING_MAX];
        struct check_state cs = {.b = b, .t = t};
        struct xarch_file_analyzer *a = NULL;
        int r = xarch_file_analyzer_new(&a, err);
        if (r < 0)
                return r;
        size_t n = t->tree ? layer_tree_count(t->tree) : 0;
        struct xarch_layer *own = calloc(1, sizeof(*own));
        struct xarch_layer_entry *entries = calloc(n + 1, sizeof(*entries));
        bool needs_root = false;
        if (!own || !entries) {
                free(own);
                free(entries);
                xarch_file_analyzer_free(a);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        own->entries = entries;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const struct layer_entry *e = layer_tree_entry(t->tree, i);
                struct xarch_layer_entry *le = &entries[own->n_entries++];
                le->type = e->type;
                le->mode = e->mode;
                le->size = e->size;
                le->path = strdup(e->path);
                le->link = e->link ? strdup(e->link) : NULL;
                if (!le->path || (e->link && !le->link)) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        break;
                }
                if (e->type != XARCH_LAYER_FILE || e->size == 0)
                        continue;
                struct xarch_file_info info;
                r = layer_tree_analyze(t->tree, e, a, &info, err);
                if (r < 0)
                        break;
                if (info.kind == XARCH_FILE_DATA || info.kind == XARCH_FILE_EMPTY)
                        continue;
                le->info = malloc(sizeof(info));
                if (!le->info) {
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                        break;
                }
                *le->info = info;
                t->n_checked++;
                char image_path[4200];
                snprintf(image_path, sizeof(image_path), "/%s", e->path);
                if (foreign_allowed(o, image_path))
                        continue;
                char desc[256], why[256];
                xarch_file_describe(&info, desc, sizeof(desc));
                if (info.kind == XARCH_FILE_ELF) {
                        elf_mismatch(&t->want, &info, why, sizeof(why));
                        if (why[0]) {
                                r = xarch_error_set(err, ENOEXEC,
                                                "%s (%s) is %s, but %s (--allow-foreign to "
                                                "accept it)",
                                                e->origin, image_path, desc, why);
                                break;
                        }
                        if (info.linkage == XARCH_LINK_DYNAMIC && info.interpreter[0])
                                needs_root = true;
                } else if (info.kind == XARCH_FILE_SCRIPT) {
                        needs_root = true;
                } else if (streq(t->want.os, "linux")) {
                        /* PE and Mach-O executables never run on Linux */
                        r = xarch_error_set(err, ENOEXEC,
                                        "%s (%s) is %s, but %s needs ELF binaries "
                                        "(--allow-foreign to accept it)",
                                        e->origin, image_path, desc,
                                        pfmt(&t->want, pb, sizeof(pb)));
                        break;
                }
        }
        xarch_file_analyzer_free(a);
        if (r < 0) {
                xarch_layer_free(own);
                return r;
        }

        json_t *c = json_object_get(t->config, "config");
        _cleanup_json_ json_t *argv = json_array();
        config_strings(c, "Entrypoint", argv);
        config_strings(c, "Cmd", argv);
        if (json_array_size(argv) > 0)
                needs_root = true;
        if (!needs_root) {
                xarch_layer_free(own);
                return 0;
        }
        json_t *env = json_object_get(c, "Env");
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *s = json_string_value(v);
                if (s && strncmp(s, "PATH=", 5) == 0) {
                        free(cs.path_env);
                        cs.path_env = strdup(s + 5);
                }
        }
        const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
        if (wd && *wd)
                cs.workdir = strdup(wd);

        r = build_rootfs(&cs, own, err);
        for (size_t k = 0; r >= 0 && k < own->n_entries; k++) {
                const struct xarch_layer_entry *le = &own->entries[k];
                if (!le->info)
                        continue;
                char image_path[4200];
                snprintf(image_path, sizeof(image_path), "/%s", le->path);
                if (foreign_allowed(o, image_path))
                        continue;
                if (le->info->kind == XARCH_FILE_ELF && le->info->linkage == XARCH_LINK_DYNAMIC &&
                                le->info->interpreter[0])
                        r = check_interpreter(&cs, image_path, le->info->interpreter, false, err);
                else if (le->info->kind == XARCH_FILE_SCRIPT)
                        r = check_interpreter(&cs, image_path, le->info->interpreter, true, err);
        }
        if (r >= 0 && json_array_size(argv) > 0) {
                const char *prog = json_string_value(json_array_get(argv, 0));
                const struct rootfs_node *node = NULL;
                struct xarch_error *e = NULL;
                _cleanup_free_ char *found = NULL;
                int q = rootfs_find_command(
                                cs.fs, prog, cs.path_env, cs.workdir, &node, &found, &e);
                if (q < 0)
                        r = xarch_error_set(err, ENOENT,
                                        "the command %s is not a program in the %s image (%s)",
                                        prog, pfmt(&t->want, pb, sizeof(pb)),
                                        e && e->msg ? e->msg : strerror(-q));
                else if (node->entry && node->entry->size > 0 && node->entry->info == NULL &&
                                node->type == XARCH_LAYER_FILE && node->entry >= own->entries &&
                                node->entry < own->entries + own->n_entries)
                        r = xarch_error_set(err, ENOEXEC,
                                        "the command %s (%s) is neither a binary nor a script",
                                        prog, found);
                xarch_error_free(e);
        }
        check_state_release(&cs);
        return r;
}

/* ---- writing ---- */

static const char *layer_media_type(const struct build *b, const struct target *t) {
        if (b->o->compression == XARCH_COMPRESSION_ZSTD)
                return MEDIA_OCI_LAYER_ZSTD;
        return t->docker ? MEDIA_DOCKER_LAYER_GZIP : MEDIA_OCI_LAYER_GZIP;
}

static void compressor_name(const struct build *b, char *buf, size_t size) {
        if (b->o->compression == XARCH_COMPRESSION_ZSTD)
                snprintf(buf, size, "zstd:%d libzstd %s", b->o->level ? b->o->level : 3,
                                ZSTD_versionString());
        else
                snprintf(buf, size, "gzip:%d zlib %s", b->o->level ? b->o->level : 1,
                                zlibVersion());
}

static int discard_sink(void *userdata, const void *buf, size_t len) {
        (void) userdata;
        (void) buf;
        (void) len;
        return 0;
}

static int spool_write(void *userdata, const void *buf, size_t len) {
        int fd = *(int *) userdata;
        const char *p = buf;
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* A sink_feed_fn: the spool (ctx: its fd) from its first byte. */
static int spool_feed(void *ctx, struct sink_blob *w, struct xarch_error **err) {
        int fd = *(int *) ctx;
        _cleanup_free_ uint8_t *buf = malloc(256 * 1024);
        if (!buf)
                return xarch_error_set(err, ENOMEM, "out of memory");
        for (off_t off = 0;;) {
                ssize_t n = pread(fd, buf, 256 * 1024, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return xarch_error_set(
                                        err, errno, "reading the layer spool: %s", strerror(errno));
                if (n == 0)
                        return 0;
                int r = sink_blob_write(w, buf, (size_t) n);
                if (r < 0)
                        return r == -ERESTART ? r
                                              : xarch_error_set(err, -r, "writing the layer: %s",
                                                                strerror(-r));
                off += n;
        }
}

static int open_spool(const char *dir, struct xarch_error **err) {
        if (!dir || !*dir)
                dir = getenv("TMPDIR");
        if (!dir || !*dir)
                dir = "/tmp";
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                char tmpl[4096];
                snprintf(tmpl, sizeof(tmpl), "%s/xarch-layer-XXXXXX", dir);
                fd = mkostemp(tmpl, O_CLOEXEC);
                if (fd >= 0)
                        unlink(tmpl);
        }
        if (fd < 0)
                return xarch_error_set(err, errno, "spool file in %s: %s", dir, strerror(errno));
        return fd;
}

/* XARCH_BUILD_THREADS=1 writes a layer on one thread (files, tar and compression in turn) and
 * the layers one after the other, as a reference and for hosts where more threads are
 * unwelcome; otherwise the tar stage and the compressor overlap on two threads, and differing
 * layers for a registry or a dry run are compressed at once. The bytes are the same either way. */
static unsigned layer_threads(void) {
        const char *v = getenv("XARCH_BUILD_THREADS");
        return v && streq(v, "1") ? 1 : 2;
}

/* A new layer. Local destinations get it straight from the compressor; a registry gets it from
 * an unlinked spool file, so that its digest is known first: a layer the registry already holds
 * is not sent again, and an interrupted upload resumes from the spool. */
static void layer_options(struct build *b, struct layer_write_options *wo) {
        *wo = (struct layer_write_options){
                        .compression = b->o->compression == XARCH_COMPRESSION_ZSTD
                                                       ? XARCH_COMPRESSION_ZSTD
                                                       : XARCH_COMPRESSION_GZIP,
                        .level = b->o->level,
                        .mtime = b->o->epoch,
                        .threads = layer_threads(),
        };
}

/* Uploads a layer from its spool (the digest known: a blob the registry holds is skipped, an
 * interrupted upload resumes from the spool's first byte). */
static int upload_spool(struct target *t, struct sink *sink, int fd, struct xarch_error **err) {
        return sink_feed_blob(
                        sink, t->layer.digest, t->layer.size, NULL, spool_feed, &fd, false, err);
}

/* A new layer. Local destinations get it straight from the compressor; a registry gets it from
 * an unlinked spool file, so that its digest is known first: a layer the registry already holds
 * is not sent again, and an interrupted upload resumes from the spool. A layer written ahead
 * (write_layers_ahead) is only stored here. */
static int write_layer(
                struct build *b, struct target *t, struct sink *sink, struct xarch_error **err) {
        struct layer_write_options wo;
        layer_options(b, &wo);
        if (t->layer_ready)
                return sink && t->spool >= 0 ? upload_spool(t, sink, t->spool, err) : 0;
        if (!sink)
                return layer_tree_write_sink(t->tree, &wo, discard_sink, NULL, &t->layer, err);
        struct sink_blob *w = NULL;
        int r;
        if (sink_transport(sink) != XARCH_TRANSPORT_REGISTRY) {
                r = sink_blob_begin(sink, NULL, SINK_SIZE_UNKNOWN, NULL, &w, err);
                if (r != 0)
                        return r < 0 ? r : 0;
                r = layer_tree_write_sink(t->tree, &wo, sink_blob_write, w, &t->layer, err);
                if (r < 0) {
                        sink_blob_abort(w);
                        return r;
                }
                char digest[XARCH_DIGEST_MAX];
                r = sink_blob_commit(w, digest, err);
                if (r >= 0 && !streq(digest, t->layer.digest))
                        r = xarch_error_set(err, EIO, "the layer was stored as %s, not %s", digest,
                                        t->layer.digest);
                return r;
        }
        _cleanup_close_ int fd = open_spool(b->o->spool_dir, err);
        if (fd < 0)
                return fd;
        r = layer_tree_write_sink(t->tree, &wo, spool_write, &fd, &t->layer, err);
        if (r < 0)
                return r;
        return upload_spool(t, sink, fd, err);
}

/* Layers that differ per platform, compressed at once (at most LAYER_JOBS at a time, each on
 * its own two threads) before the per-platform loop stores them: for a registry into their
 * spools, for a dry run into nothing. Local destinations take one blob writer at a time and are
 * written in the loop as before. run_jobs() takes them in platform order, starts none after a
 * failure and returns the first platform's, as in the loop. */
#define LAYER_JOBS 2

struct layers_ahead {
        struct build *b;
        struct target **ts;
        bool *written;
        size_t n;
};

static int write_layer_ahead(void *ctx, size_t i, struct xarch_error **err) {
        struct layers_ahead *a = ctx;
        struct target *t = a->ts[i];
        struct layer_write_options wo;
        layer_options(a->b, &wo);
        int r = 0;
        if (t->spool >= 0)
                r = layer_tree_write_sink(t->tree, &wo, spool_write, &t->spool, &t->layer, err);
        else
                r = layer_tree_write_sink(t->tree, &wo, discard_sink, NULL, &t->layer, err);
        if (r >= 0)
                a->written[i] = true;
        return r;
}

static int write_layers_ahead(struct build *b, struct sink *sink, struct xarch_error **err) {
        if (layer_threads() == 1 || (sink && sink_transport(sink) != XARCH_TRANSPORT_REGISTRY))
                return 0;
        size_t n = 0;
        for (size_t i = 0; i < b->n_targets; i++)
                n += b->targets[i].has_layer && !b->targets[i].same_layer_as;
        if (n < 2)
                return 0;
        struct layers_ahead j = {.b = b};
        j.ts = calloc(n, sizeof(*j.ts));
        j.written = calloc(n, sizeof(*j.written));
        int r = 0;
        if (!j.ts || !j.written)
                r = xarch_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; r >= 0 && i < b->n_targets; i++) {
                struct target *t = &b->targets[i];
                if (!t->has_layer || t->same_layer_as)
                        continue;
                if (sink) {
                        t->spool = open_spool(b->o->spool_dir, err);
                        if (t->spool < 0) {
                                r = t->spool;
                                t->spool = -1;
                                break;
                        }
                }
                j.ts[j.n++] = t;
        }
        if (r >= 0) {
                progress(b, "writing %zu layers, %d at a time", j.n, LAYER_JOBS);
                r = run_jobs(0, j.n, LAYER_JOBS, write_layer_ahead, &j, err);
        }
        /* on a failure, the platforms before it (all written) are still ready */
        for (size_t i = 0; j.written && i < j.n && j.written[i]; i++) {
                char pb[XARCH_PLATFORM_STRING_MAX];
                j.ts[i]->layer_ready = true;
                progress(b, "%s: layer %.19s", pfmt(&j.ts[i]->want, pb, sizeof(pb)),
                                j.ts[i]->layer.digest);
        }
        free(j.ts);
        free(j.written);
        return r;
}

/* A base blob, mounted or skipped when the destination can, else streamed and verified. */
static int copy_base_blob(struct build *b, struct sink *sink, const struct xarch_descriptor *d,
                struct xarch_error **err) {
        int r = sink_copy_blob(sink, b->base, d->digest, d->size, b->mount_from, err);
        return r < 0 ? xarch_error_wrap(err, "base blob %s", d->digest) : 0;
}

static int put_blob(struct sink *sink, const char *digest, const char *data, size_t len,
                struct xarch_error **err) {
        struct sink_blob *w = NULL;
        int r = sink_blob_begin(sink, digest, len, NULL, &w, err);
        if (r != 0)
                return r < 0 ? r : 0;
        r = sink_blob_write(w, data, len);
        if (r < 0) {
                sink_blob_abort(w);
                return xarch_error_set(err, -r, "writing %s: %s", digest, strerror(-r));
        }
        return sink_blob_commit(w, NULL, err);
}

static int finish_config(struct build *b, struct target *t, struct xarch_error **err) {
        json_t *rootfs = object_child(t->config, "rootfs");
        json_object_set_new(rootfs, "type", json_string("layers"));
        json_t *ids = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(ids)) {
                ids = json_array();
                json_object_set_new(rootfs, "diff_ids", ids);
        }
        if (t->has_layer)
                json_array_append_new(ids, json_string(t->layer.diff_id));
        json_t *hist = json_object_get(t->config, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(t->config, "history", hist);
        }
        char by[1024];
        snprintf(by, sizeof(by), "xarch build: %s", t->added ? t->added : "config");
        json_t *h = json_pack("{s:s, s:s, s:s}", "created", b->created, "created_by", by, "comment",
                        "xarch build");
        if (h && !t->has_layer)
                json_object_set_new(h, "empty_layer", json_true());
        json_array_append_new(hist, h);

        t->config_json = json_dumps(t->config, JSON_COMPACT);
        if (!t->config_json)
                return xarch_error_set(err, ENOMEM, "out of memory");
        xarch_digest_buffer("sha256", t->config_json, strlen(t->config_json), t->config_digest);

        /* the descriptor's platform: what the config says */
        struct xarch_platform dp = {0};
        snprintf(dp.os, sizeof(dp.os), "%s",
                        json_string_value(json_object_get(t->config, "os")) ?: t->want.os);
        snprintf(dp.arch, sizeof(dp.arch), "%s",
                        json_string_value(json_object_get(t->config, "architecture"))
                                        ?: t->want.arch);
        snprintf(dp.variant, sizeof(dp.variant), "%s",
                        json_string_value(json_object_get(t->config, "variant")) ?: "");
        t->desc_platform = dp;
        const char *osv = json_string_value(json_object_get(t->config, "os.version"));
        if (osv)
                t->os_version = strdup(osv);
        return 0;
}

static json_t *annotations_object(const struct xarch_build_options *o, struct xarch_error **err) {
        json_t *a = json_object();
        for (size_t i = 0; a && i < o->n_annotations; i++) {
                _cleanup_free_ char *k = NULL;
                const char *v;
                if (kv_split(o->annotations[i], "--annotation", &k, &v, err) < 0) {
                        json_decref(a);
                        return NULL;
                }
                json_object_set_new(a, k, json_string(v));
        }
        return a;
}

static int make_manifest(struct build *b, struct target *t, struct xarch_error **err) {
        const char *mt = t->docker ? XARCH_MEDIA_DOCKER_MANIFEST : XARCH_MEDIA_OCI_MANIFEST;
        const char *cmt = t->docker ? XARCH_MEDIA_DOCKER_CONFIG : XARCH_MEDIA_OCI_CONFIG;
        json_t *layers = json_array();
        json_t *base_layers = t->base_manifest ? json_object_get(t->base_manifest, "layers") : NULL;
        size_t i;
        json_t *v;
        json_array_foreach(base_layers, i, v) json_array_append(layers, v);
        if (t->has_layer) {
                char comp[128];
                compressor_name(b, comp, sizeof(comp));
                json_array_append_new(layers,
                                json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType",
                                                layer_media_type(b, t), "digest", t->layer.digest,
                                                "size", (json_int_t) t->layer.size, "annotations",
                                                XARCH_ANNOTATION_COMPRESSOR, comp));
        }
        _cleanup_json_ json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion",
                        2, "mediaType", mt, "config", "mediaType", cmt, "digest", t->config_digest,
                        "size", (json_int_t) strlen(t->config_json), "layers", layers);
        if (!m)
                return xarch_error_set(err, ENOMEM, "out of memory");
        json_t *ann = annotations_object(b->o, err);
        if (!ann)
                return -EINVAL;
        /* the base, as ko does, when it has a name that means something elsewhere */
        if (b->base && xarch_image_transport(b->base) == XARCH_TRANSPORT_REGISTRY) {
                json_object_set_new(ann, "org.opencontainers.image.base.name",
                                json_string(xarch_image_name(b->base)));
                json_object_set_new(ann, "org.opencontainers.image.base.digest",
                                json_string(t->base_digest));
        }
        if (json_object_size(ann) && !t->docker)
                json_object_set_new(m, "annotations", ann);
        else
                json_decref(ann);
        t->manifest_json = json_dumps(m, JSON_COMPACT);
        if (!t->manifest_json)
                return xarch_error_set(err, ENOMEM, "out of memory");
        xarch_digest_buffer(
                        "sha256", t->manifest_json, strlen(t->manifest_json), t->manifest_digest);
        return 0;
}

static bool index_docker(const struct build *b) {
        if (b->base_docker_list)
                return true;
        if (b->base_is_index || b->n_targets == 0)
                return false;
        for (size_t i = 0; i < b->n_targets; i++)
                if (!b->targets[i].docker)
                        return false;
        return b->base != NULL;
}

static int make_index(struct build *b, char **ret, struct xarch_error **err) {
        bool docker = index_docker(b);
        json_t *ms = json_array();
        for (size_t i = 0; ms && i < b->n_targets; i++) {
                struct target *t = &b->targets[i];
                json_t *p = json_pack("{s:s, s:s}", "architecture", t->desc_platform.arch, "os",
                                t->desc_platform.os);
                if (p && t->desc_platform.variant[0])
                        json_object_set_new(p, "variant", json_string(t->desc_platform.variant));
                if (p && t->os_version)
                        json_object_set_new(p, "os.version", json_string(t->os_version));
                json_array_append_new(ms, json_pack("{s:s, s:s, s:I, s:o}", "mediaType",
                                                          t->docker ? XARCH_MEDIA_DOCKER_MANIFEST
                                                                    : XARCH_MEDIA_OCI_MANIFEST,
                                                          "digest", t->manifest_digest, "size",
                                                          (json_int_t) strlen(t->manifest_json),
                                                          "platform", p));
        }
        _cleanup_json_ json_t *idx = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
                        docker ? XARCH_MEDIA_DOCKER_LIST : XARCH_MEDIA_OCI_INDEX, "manifests", ms);
        if (!idx)
                return xarch_error_set(err, ENOMEM, "out of memory");
        json_t *ann = annotations_object(b->o, err);
        if (!ann)
                return -EINVAL;
        if (json_object_size(ann) && !docker)
                json_object_set_new(idx, "annotations", ann);
        else
                json_decref(ann);
        *ret = json_dumps(idx, JSON_COMPACT);
        return *ret ? 0 : xarch_error_set(err, ENOMEM, "out of memory");
}

static int append_added(struct target *t, const char *what, const char *dest) {
        size_t cur = t->added ? strlen(t->added) : 0;
        if (cur > 600)
                return 0; /* the history line stays short */
        size_t need = cur + strlen(what) + strlen(dest) + 8;
        char *n = realloc(t->added, need);
        if (!n)
                return -ENOMEM;
        snprintf(n + cur, need - cur, "%s%s %s", cur ? ", " : "", what, dest);
        t->added = n;
        return 0;
}

static int append_source(struct target *t, size_t k, const char *src) {
        size_t cur = t->sources ? strlen(t->sources) : 0;
        size_t need = cur + strlen(src) + 32;
        char *n = realloc(t->sources, need);
        if (!n)
                return -ENOMEM;
        snprintf(n + cur, need - cur, "%zu %s\n", k, src);
        t->sources = n;
        return 0;
}

static int build_trees(struct build *b, struct xarch_error **err) {
        const struct xarch_build_options *o = b->o;
        struct layer_add_options lo = {
                        .chown = o->chown,
                        .uid = o->uid,
                        .gid = o->gid,
                        .chmod = o->chmod,
                        .mode = o->mode,
                        .strip_components = o->strip_components,
                        .archive_max = o->archive_max,
                        .spool_dir = o->spool_dir,
        };
        for (size_t k = 0; k < o->n_adds; k++) {
                bool used = !o->adds[k].has_platform;
                for (size_t i = 0; !used && i < b->n_targets; i++)
                        used = xarch_platform_equal(&o->adds[k].platform, &b->targets[i].want);
                if (!used) {
                        char pb[XARCH_PLATFORM_STRING_MAX];
                        return xarch_error_set(err, EINVAL,
                                        "%s for %s: that platform is not being built",
                                        o->adds[k].archive ? "--add-archive" : "--add",
                                        pfmt(&o->adds[k].platform, pb, sizeof(pb)));
                }
        }
        for (size_t i = 0; i < b->n_targets; i++) {
                struct target *t = &b->targets[i];
                char pb[XARCH_PLATFORM_STRING_MAX];
                for (size_t k = 0; k < o->n_adds; k++) {
                        const struct xarch_build_add *a = &o->adds[k];
                        if (a->has_platform && !xarch_platform_equal(&a->platform, &t->want))
                                continue;
                        if (!t->tree && layer_tree_new(&t->tree) < 0)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        _cleanup_free_ char *src = NULL;
                        int r = xarch_build_expand(a->src, &t->want, &src, err);
                        if (r < 0)
                                return r;
                        progress(b, "%s: adding %s", pfmt(&t->want, pb, sizeof(pb)), src);
                        r = a->archive ? layer_tree_add_archive(t->tree, src, a->dest, &lo, err)
                                       : layer_tree_add_path(t->tree, src, a->dest, &lo, err);
                        if (r < 0)
                                return xarch_error_wrap(err, "%s", pfmt(&t->want, pb, sizeof(pb)));
                        if (append_added(t, a->archive ? "archive to" : "files to", a->dest) < 0 ||
                                        append_source(t, k, src) < 0)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                }
                if (t->tree) {
                        int r = layer_tree_finish(t->tree, err);
                        if (r < 0)
                                return xarch_error_wrap(err, "%s", pfmt(&t->want, pb, sizeof(pb)));
                        t->has_layer = true;
                        /* the same adds from the same files (no placeholder told the platforms
                         * apart): the same tree, so the same layer */
                        for (size_t j = 0; j < i && !t->same_layer_as; j++)
                                if (b->targets[j].has_layer && !b->targets[j].same_layer_as &&
                                                streq(b->targets[j].sources, t->sources))
                                        t->same_layer_as = j + 1;
                }
        }
        return 0;
}

void xarch_build_result_free(struct xarch_build_result *r) {
        if (!r)
                return;
        free(r->dest);
        free(r->root_media_type);
        free(r->platforms);
        free(r);
}

int xarch_build(struct xarch_image_context *ctx, const struct xarch_build_options *opts,
                struct xarch_build_result **ret, struct xarch_error **err) {
        struct build b = {.o = opts, .ctx = ctx};
        struct sink *store = NULL;
        struct xarch_build_result *res = NULL;
        _cleanup_free_ char *index_json = NULL;
        int r = 0;

        if (!opts->dest)
                return xarch_error_set(err, EINVAL, "no destination (--tag)");
        if (opts->compression != XARCH_COMPRESSION_AUTO &&
                        opts->compression != XARCH_COMPRESSION_GZIP &&
                        opts->compression != XARCH_COMPRESSION_ZSTD)
                return xarch_error_set(err, EINVAL, "layers are compressed with gzip or zstd");
        {
                /* the destination's form, before any work */
                enum xarch_transport tr;
                _cleanup_free_ char *p = NULL, *tag = NULL;
                r = image_spec_split(opts->dest, &tr, &p, &tag, err);
                if (r < 0)
                        return r;
        }
        time_t ep = (time_t) (opts->epoch > 0 ? opts->epoch : 0);
        struct tm tm;
        gmtime_r(&ep, &tm);
        strftime(b.created, sizeof(b.created), "%Y-%m-%dT%H:%M:%SZ", &tm);

        r = resolve_base(&b, err);
        if (r >= 0 && b.base && xarch_image_transport(b.base) == XARCH_TRANSPORT_REGISTRY &&
                        xarch_ref_parse(xarch_image_name(b.base), &b.base_ref, NULL) == 0)
                b.mount_from = &b.base_ref;
        if (r >= 0 && opts->compression == XARCH_COMPRESSION_ZSTD)
                for (size_t i = 0; i < b.n_targets; i++)
                        if (b.targets[i].docker) {
                                r = xarch_error_set(err, EINVAL,
                                                "zstd layers need an OCI base; %s is a Docker "
                                                "image",
                                                opts->from);
                                break;
                        }
        for (size_t i = 0; r >= 0 && i < b.n_targets; i++)
                r = edit_config(&b, &b.targets[i], err);
        if (r >= 0)
                r = build_trees(&b, err);
        /* every platform is checked before anything is written */
        for (size_t i = 0; r >= 0 && i < b.n_targets; i++) {
                char pb[XARCH_PLATFORM_STRING_MAX];
                progress(&b, "%s: checking", pfmt(&b.targets[i].want, pb, sizeof(pb)));
                r = check_target(&b, &b.targets[i], err);
        }
        if (r >= 0 && !opts->dry_run) {
                r = sink_open(ctx, opts->dest, &store, err);
                if (r >= 0 && sink_transport(store) == XARCH_TRANSPORT_DOCKER_ARCHIVE &&
                                b.n_targets != 1)
                        r = xarch_error_set(err, EINVAL,
                                        "docker-archive holds one platform, not %zu; choose one "
                                        "with --platform",
                                        b.n_targets);
        }
        if (r >= 0)
                r = write_layers_ahead(&b, store, err);
        for (size_t i = 0; r >= 0 && i < b.n_targets; i++) {
                struct target *t = &b.targets[i];
                char pb[XARCH_PLATFORM_STRING_MAX];
                if (t->has_layer && t->same_layer_as) {
                        /* written (and stored) with the earlier platform's */
                        t->layer = b.targets[t->same_layer_as - 1].layer;
                } else if (t->has_layer) {
                        progress(&b, "%s: writing the layer", pfmt(&t->want, pb, sizeof(pb)));
                        r = write_layer(&b, t, store, err);
                        if (r < 0)
                                break;
                }
                r = finish_config(&b, t, err);
                if (r >= 0)
                        r = make_manifest(&b, t, err);
                if (r < 0 || !store)
                        continue;
                for (size_t k = 0; r >= 0 && t->base_m && k < t->base_m->n_layers; k++) {
                        progress(&b, "%s: copying base layer %zu/%zu",
                                        pfmt(&t->want, pb, sizeof(pb)), k + 1, t->base_m->n_layers);
                        r = copy_base_blob(&b, store, &t->base_m->layers[k], err);
                }
                if (r >= 0)
                        r = put_blob(store, t->config_digest, t->config_json,
                                        strlen(t->config_json), err);
                /* one platform: this manifest is the root, which the tag writes */
                if (r >= 0)
                        r = (b.n_targets == 1 ? sink_put_root : sink_put_manifest)(store,
                                        t->manifest_json, strlen(t->manifest_json),
                                        t->docker ? XARCH_MEDIA_DOCKER_MANIFEST
                                                  : XARCH_MEDIA_OCI_MANIFEST,
                                        NULL, err);
        }
        bool is_index = b.n_targets > 1;
        char root_digest[XARCH_DIGEST_MAX] = "";
        const char *root_mt = NULL;
        uint64_t root_size = 0;
        if (r >= 0 && is_index) {
                r = make_index(&b, &index_json, err);
                if (r >= 0) {
                        xarch_digest_buffer("sha256", index_json, strlen(index_json), root_digest);
                        root_mt = index_docker(&b) ? XARCH_MEDIA_DOCKER_LIST
                                                   : XARCH_MEDIA_OCI_INDEX;
                        root_size = strlen(index_json);
                }
                if (r >= 0 && store)
                        r = sink_put_root(
                                        store, index_json, strlen(index_json), root_mt, NULL, err);
        } else if (r >= 0 && b.n_targets == 1) {
                snprintf(root_digest, sizeof(root_digest), "%s", b.targets[0].manifest_digest);
                root_mt = b.targets[0].docker ? XARCH_MEDIA_DOCKER_MANIFEST
                                              : XARCH_MEDIA_OCI_MANIFEST;
                root_size = strlen(b.targets[0].manifest_json);
        }
        if (r >= 0 && store) {
                progress(&b, "tagging %s", sink_name(store));
                r = sink_set_tag(store, root_digest, root_mt, root_size, err);
                if (r >= 0)
                        r = sink_commit(store, err);
        }
        if (r >= 0) {
                res = calloc(1, sizeof(*res));
                if (res)
                        res->platforms = calloc(b.n_targets + 1, sizeof(*res->platforms));
                if (res)
                        res->dest = strdup(opts->dest);
                if (res)
                        res->root_media_type = strdup(root_mt ? root_mt : "");
                if (!res || !res->platforms || !res->dest || !res->root_media_type) {
                        xarch_build_result_free(res);
                        res = NULL;
                        r = xarch_error_set(err, ENOMEM, "out of memory");
                }
        }
        if (r >= 0) {
                res->is_index = is_index;
                snprintf(res->root_digest, sizeof(res->root_digest), "%s", root_digest);
                res->n_platforms = b.n_targets;
                for (size_t i = 0; i < b.n_targets; i++) {
                        struct target *t = &b.targets[i];
                        struct xarch_build_platform *p = &res->platforms[i];
                        p->platform = t->desc_platform;
                        snprintf(p->base_digest, sizeof(p->base_digest), "%s", t->base_digest);
                        snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s",
                                        t->manifest_digest);
                        p->manifest_size = strlen(t->manifest_json);
                        snprintf(p->config_digest, sizeof(p->config_digest), "%s",
                                        t->config_digest);
                        p->has_layer = t->has_layer;
                        snprintf(p->layer_digest, sizeof(p->layer_digest), "%s", t->layer.digest);
                        snprintf(p->diff_id, sizeof(p->diff_id), "%s", t->layer.diff_id);
                        p->layer_size = t->layer.size;
                        p->n_entries = t->tree ? layer_tree_count(t->tree) : 0;
                        p->n_base_layers = t->base_m ? t->base_m->n_layers : 0;
                        p->n_checked = t->n_checked;
                }
                if (store) {
                        struct sink_stats st;
                        sink_get_stats(store, &st);
                        res->blobs_written = st.blobs_written;
                        res->blobs_skipped = st.blobs_skipped;
                        res->blobs_mounted = st.blobs_mounted;
                        res->uploads_resumed = st.uploads_resumed;
                }
                *ret = res;
        }
        sink_free(store);
        for (size_t i = 0; i < b.n_targets; i++)
                target_release(&b.targets[i]);
        free(b.targets);
        xarch_image_free(b.base);
        return r < 0 ? r : 0;
}
