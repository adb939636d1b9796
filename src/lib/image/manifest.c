/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "xarch/image.h"

#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson's own helper */

const char *xarch_entry_kind_name(enum xarch_entry_kind kind) {
        switch (kind) {
        case XARCH_ENTRY_IMAGE:
                return "image";
        case XARCH_ENTRY_INDEX:
                return "index";
        case XARCH_ENTRY_ATTESTATION:
                return "attestation";
        case XARCH_ENTRY_ARTIFACT:
                return "artifact";
        case XARCH_ENTRY_UNKNOWN:
                break;
        }
        return "unknown";
}

bool xarch_media_type_is_index(const char *mt) {
        return mt && (streq(mt, XARCH_MEDIA_OCI_INDEX) || streq(mt, XARCH_MEDIA_DOCKER_LIST));
}

static bool media_type_is_image_manifest(const char *mt) {
        return mt &&
               (streq(mt, XARCH_MEDIA_OCI_MANIFEST) || streq(mt, XARCH_MEDIA_DOCKER_MANIFEST));
}

bool xarch_media_type_is_manifest(const char *mt) {
        return xarch_media_type_is_index(mt) || media_type_is_image_manifest(mt);
}

/* Optional string member: NULL when absent; -EBADMSG when present but not a string, -EILSEQ
 * when it holds a NUL or control bytes (refused: these values end up on terminals). */
static int get_string(json_t *obj, const char *key, const char **ret) {
        json_t *v = json_object_get(obj, key);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return -EBADMSG;
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
                return -EILSEQ;
        /* C0, DEL, and C1 (U+0080..U+009F, 0xc2 0x80..0x9f in UTF-8: U+009B is CSI) */
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
                        return -EILSEQ;
        *ret = s;
        return 0;
}

/* What get_string() refused, in words. */
static const char *string_problem(int r) {
        return r == -EILSEQ ? "holds a NUL or control bytes" : "is not a string";
}

static int dup_string(json_t *obj, const char *key, char **ret) {
        const char *s;
        int r = get_string(obj, key, &s);
        if (r < 0)
                return r;
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int copy_field(char *dst, const char *src) {
        size_t n = strlen(src);
        if (n >= XARCH_PLATFORM_FIELD_MAX)
                return -EBADMSG;
        memcpy(dst, src, n + 1);
        return 0;
}

static void descriptor_done(struct xarch_descriptor *d) {
        free(d->media_type);
        free(d->artifact_type);
        free(d->os_version);
        free(d->os_features);
        free(d->platform_problem);
        free(d->ref_type);
        free(d->ref_digest);
        free(d->ref_name);
        *d = (struct xarch_descriptor){0};
}

static enum xarch_entry_kind classify(const struct xarch_descriptor *d) {
        if (d->ref_type)
                return streq(d->ref_type, XARCH_REF_TYPE_ATTESTATION) ? XARCH_ENTRY_ATTESTATION
                                                                      : XARCH_ENTRY_ARTIFACT;
        if (d->has_platform && streq(d->platform.os, "unknown") &&
                        streq(d->platform.arch, "unknown"))
                return XARCH_ENTRY_ATTESTATION;
        if (d->artifact_type)
                return XARCH_ENTRY_ARTIFACT;
        if (xarch_media_type_is_index(d->media_type))
                return XARCH_ENTRY_INDEX;
        if (!d->media_type[0] || media_type_is_image_manifest(d->media_type))
                return XARCH_ENTRY_IMAGE;
        return XARCH_ENTRY_UNKNOWN;
}

/* One platform string field. Wrong JSON types fail: containerd's json.Unmarshal of the whole
 * index fails on them too. Control bytes and overlong values are odd, not fatal. */
static int platform_field(json_t *p, const char *key, char *dst, const char **problem) {
        json_t *v = json_object_get(p, key);
        dst[0] = '\0';
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return -EBADMSG;
        const char *s;
        if (get_string(p, key, &s) < 0) {
                *problem = "has control bytes";
                return 1;
        }
        if (copy_field(dst, s) < 0) {
                *problem = "is longer than 31 bytes";
                return 1;
        }
        return 0;
}

static int parse_os_features(json_t *p, struct xarch_descriptor *d) {
        json_t *f = json_object_get(p, "os.features");
        if (!f || json_is_null(f))
                return 0;
        if (!json_is_array(f))
                return -EBADMSG;
        char joined[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < json_array_size(f); i++) {
                json_t *v = json_array_get(f, i);
                if (!json_is_string(v))
                        return -EBADMSG;
                const char *s = json_string_value(v);
                bool printable = strlen(s) == json_string_length(v);
                for (const unsigned char *c = (const unsigned char *) s; printable && *c; c++)
                        printable = *c >= 0x20 && *c != 0x7f;
                int n = snprintf(joined + used, sizeof(joined) - used, "%s%s", used ? "," : "",
                                printable ? s : "?");
                if (n > 0)
                        used = used + (size_t) n < sizeof(joined) ? used + (size_t) n
                                                                  : sizeof(joined) - 1;
                d->n_os_features++;
        }
        if (d->n_os_features > 0 && !(d->os_features = strdup(joined)))
                return -ENOMEM;
        return 0;
}

static int parse_platform(json_t *p, struct xarch_descriptor *d, const char *where,
                struct xarch_error **err) {
        const char *os_version;
        if (!json_is_object(p))
                return xarch_error_set(err, EBADMSG, "%s: platform is not an object", where);
        const char *problem = NULL, *bad_key = NULL;
        static const char *const keys[] = {"os", "architecture", "variant"};
        char *dst[] = {d->platform.os, d->platform.arch, d->platform.variant};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                int r = platform_field(p, keys[i], dst[i], &problem);
                if (r < 0)
                        return xarch_error_set(err, EBADMSG, "%s: platform %s is not a string",
                                        where, keys[i]);
                if (r > 0 && !bad_key)
                        bad_key = keys[i];
        }
        json_t *ov = json_object_get(p, "os.version");
        if (ov && !json_is_null(ov) && !json_is_string(ov))
                return xarch_error_set(
                                err, EBADMSG, "%s: platform os.version is not a string", where);
        if (get_string(p, "os.version", &os_version) == 0 && os_version) {
                d->os_version = strdup(os_version);
                if (!d->os_version)
                        return xarch_error_set(err, ENOMEM, "out of memory");
        }
        int r = parse_os_features(p, d);
        if (r == -ENOMEM)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (r < 0)
                return xarch_error_set(err, EBADMSG,
                                "%s: platform os.features is not a list of strings", where);

        char why[128] = "";
        if (bad_key) {
                snprintf(why, sizeof(why), "platform %s %s: no node matches it", bad_key, problem);
                d->never_matches = true;
        } else if (!d->platform.arch[0]) {
                snprintf(why, sizeof(why), "platform has no architecture: no node matches it");
                d->never_matches = true;
        } else if (!d->platform.os[0]) {
                snprintf(why, sizeof(why),
                                "platform has no os: containerd reads it as the node's OS");
        }
        if (why[0] && !(d->platform_problem = strdup(why)))
                return xarch_error_set(err, ENOMEM, "out of memory");
        d->has_platform = true;
        return 0;
}

static int parse_descriptor(json_t *j, struct xarch_descriptor *d, const char *where,
                struct xarch_error **err) {
        const char *digest;
        int r;

        *d = (struct xarch_descriptor){0};
        if (!json_is_object(j))
                return xarch_error_set(err, EBADMSG, "%s: descriptor is not an object", where);
        const char *field = "mediaType";
        r = dup_string(j, field, &d->media_type);
        if (r == 0 && !d->media_type)
                r = (d->media_type = strdup("")) ? 0 : -ENOMEM;
        if (r == 0) {
                field = "artifactType";
                r = dup_string(j, field, &d->artifact_type);
        }
        if (r == -ENOMEM)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if (r < 0)
                return xarch_error_set(err, EBADMSG, "%s: %s %s", where, field, string_problem(r));

        if (get_string(j, "digest", &digest) < 0 || !digest)
                return xarch_error_set(err, EBADMSG, "%s: missing digest", where);
        if (!xarch_digest_valid(digest))
                return xarch_error_set(err, EBADMSG, "%s: invalid digest '%.80s'", where, digest);
        snprintf(d->digest, sizeof(d->digest), "%s", digest);

        json_t *size = json_object_get(j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return xarch_error_set(err, EBADMSG, "%s: missing or negative size", where);
        d->size = (uint64_t) json_integer_value(size);

        json_t *platform = json_object_get(j, "platform");
        if (platform && !json_is_null(platform)) {
                r = parse_platform(platform, d, where, err);
                if (r < 0)
                        return r;
        }

        json_t *ann = json_object_get(j, "annotations");
        if (ann && !json_is_null(ann)) {
                if (!json_is_object(ann))
                        return xarch_error_set(
                                        err, EBADMSG, "%s: annotations is not an object", where);
                static const char *const keys[] = {XARCH_ANNOTATION_REF_TYPE,
                                XARCH_ANNOTATION_REF_DIGEST, XARCH_ANNOTATION_REF_NAME};
                char **dst[] = {&d->ref_type, &d->ref_digest, &d->ref_name};
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        r = dup_string(ann, keys[k], dst[k]);
                        if (r == -ENOMEM)
                                return xarch_error_set(err, ENOMEM, "out of memory");
                        if (r < 0)
                                return xarch_error_set(err, EBADMSG, "%s: annotation %s %s", where,
                                                keys[k], string_problem(r));
                }
        }
        d->kind = classify(d);
        return 0;
}

static int parse_descriptor_array(json_t *arr, const char *what, struct xarch_descriptor **ret,
                size_t *ret_n, struct xarch_error **err) {
        if (!json_is_array(arr))
                return xarch_error_set(err, EBADMSG, "%s is not an array", what);
        size_t n = json_array_size(arr);
        if (n > XARCH_DESCRIPTORS_MAX)
                return xarch_error_set(err, EFBIG, "%zu %s, more than the limit of %d", n, what,
                                XARCH_DESCRIPTORS_MAX);
        struct xarch_descriptor *ds = calloc(n ? n : 1, sizeof(*ds));
        if (!ds)
                return xarch_error_set(err, ENOMEM, "out of memory");
        *ret = ds;
        *ret_n = 0;
        for (size_t i = 0; i < n; i++) {
                char where[64];
                snprintf(where, sizeof(where), "%s[%zu]", what, i);
                int r = parse_descriptor(json_array_get(arr, i), &ds[i], where, err);
                if (r < 0) {
                        descriptor_done(&ds[i]);
                        return r;
                }
                *ret_n = i + 1;
        }
        return 0;
}

void xarch_manifest_free(struct xarch_manifest *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_manifests; i++)
                descriptor_done(&m->manifests[i]);
        free(m->manifests);
        for (size_t i = 0; i < m->n_layers; i++)
                descriptor_done(&m->layers[i]);
        free(m->layers);
        descriptor_done(&m->config);
        free(m->media_type);
        free(m->artifact_type);
        free(m);
}

/* "application/json; charset=utf-8" -> "application/json" */
static void strip_parameters(const char *in, char *out, size_t size) {
        size_t n = strcspn(in, "; \t");
        if (n >= size)
                n = size - 1;
        memcpy(out, in, n);
        out[n] = '\0';
}

static int load_json(const void *data, size_t len, size_t max, const char *what, json_t **ret,
                struct xarch_error **err) {
        json_error_t jerr;
        if (len > max)
                return xarch_error_set(err, EFBIG, "%s of %zu bytes exceeds the limit of %zu", what,
                                len, max);
        json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return xarch_error_set(err, EBADMSG, "malformed %s: %s (line %d, column %d)", what,
                                jerr.text, jerr.line, jerr.column);
        if (!json_is_object(j)) {
                json_decref(j);
                return xarch_error_set(err, EBADMSG, "malformed %s: not a JSON object", what);
        }
        *ret = j;
        return 0;
}

int xarch_manifest_parse(const void *data, size_t len, const char *content_type,
                struct xarch_manifest **ret, struct xarch_error **err) {
        _cleanup_json_ json_t *j = NULL;
        char ct[256] = "";
        const char *field_type;
        int r;

        r = load_json(data, len, XARCH_MANIFEST_MAX, "manifest", &j, err);
        if (r < 0)
                return r;
        if (content_type)
                strip_parameters(content_type, ct, sizeof(ct));

        json_t *sv = json_object_get(j, "schemaVersion");
        if (sv && !json_is_integer(sv))
                return xarch_error_set(err, EBADMSG,
                                "malformed manifest: schemaVersion is not a "
                                "number");
        if (sv && json_integer_value(sv) == 1)
                return xarch_error_set(err, EPROTONOSUPPORT,
                                "Docker schema 1 manifests are not supported");
        if (sv && json_integer_value(sv) != 2)
                return xarch_error_set(err, EBADMSG, "unsupported schemaVersion %lld",
                                (long long) json_integer_value(sv));
        if (get_string(j, "mediaType", &field_type) < 0)
                return xarch_error_set(err, EBADMSG,
                                "malformed manifest: mediaType is not a "
                                "printable string");

        /* The registry's Content-Type and the document's own mediaType must agree (distribution
         * spec: clients SHOULD reject a mismatch). */
        if (field_type && xarch_media_type_is_manifest(field_type) &&
                        xarch_media_type_is_manifest(ct) && !streq(field_type, ct))
                return xarch_error_set(err, EBADMSG,
                                "manifest mediaType '%s' contradicts its content type '%s'",
                                field_type, ct);

        const char *type = NULL;
        if (field_type && xarch_media_type_is_manifest(field_type))
                type = field_type;
        else if (xarch_media_type_is_manifest(ct))
                type = ct;
        else if (json_object_get(j, "manifests"))
                type = XARCH_MEDIA_OCI_INDEX;
        else if (json_object_get(j, "config"))
                type = XARCH_MEDIA_OCI_MANIFEST;
        else
                return xarch_error_set(err, EBADMSG,
                                "not a manifest or index (media type '%s', no manifests or config)",
                                field_type ? field_type : (ct[0] ? ct : "none"));

        struct xarch_manifest *m = calloc(1, sizeof(*m));
        if (!m)
                return xarch_error_set(err, ENOMEM, "out of memory");
        m->schema_version = sv ? 2 : 0;
        m->media_type = strdup(type);
        if (!m->media_type || dup_string(j, "artifactType", &m->artifact_type) == -ENOMEM) {
                xarch_manifest_free(m);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }

        if (xarch_media_type_is_index(type)) {
                m->kind = XARCH_MANIFEST_INDEX;
                json_t *arr = json_object_get(j, "manifests");
                if (!arr) {
                        xarch_manifest_free(m);
                        return xarch_error_set(err, EBADMSG, "index without a manifests list");
                }
                r = parse_descriptor_array(arr, "manifests", &m->manifests, &m->n_manifests, err);
        } else {
                m->kind = XARCH_MANIFEST_IMAGE;
                json_t *config = json_object_get(j, "config");
                if (!config) {
                        xarch_manifest_free(m);
                        return xarch_error_set(err, EBADMSG, "image manifest without a config");
                }
                r = parse_descriptor(config, &m->config, "config", err);
                if (r >= 0) {
                        json_t *layers = json_object_get(j, "layers");
                        if (!layers)
                                r = xarch_error_set(err, EBADMSG,
                                                "image manifest without a layers list");
                        else
                                r = parse_descriptor_array(
                                                layers, "layers", &m->layers, &m->n_layers, err);
                }
                /* Saturated: hostile sizes (each up to INT64_MAX) must not wrap the sum, which
                 * is printed and put in JSON as a signed integer. */
                for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
                        m->layers_size = m->layers[i].size > INT64_MAX - m->layers_size
                                                         ? INT64_MAX
                                                         : m->layers_size + m->layers[i].size;
        }
        if (r < 0) {
                xarch_manifest_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

void xarch_image_config_free(struct xarch_image_config *c) {
        if (!c)
                return;
        free(c->os_version);
        free(c->created);
        free(c->user);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        free(c->diff_ids);
        free(c);
}

static int parse_strv(json_t *j, char ***ret) {
        *ret = NULL;
        if (!j || json_is_null(j))
                return 0;
        if (!json_is_array(j))
                return -EBADMSG;
        size_t n = json_array_size(j);
        if (n > XARCH_DESCRIPTORS_MAX)
                return -EBADMSG;
        char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(j, i);
                if (!json_is_string(s)) {
                        strv_free(v);
                        return -EBADMSG;
                }
                v[i] = strdup(json_string_value(s));
                if (!v[i]) {
                        strv_free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        return 0;
}

int xarch_image_config_parse(const void *data, size_t len, struct xarch_image_config **ret,
                struct xarch_error **err) {
        _cleanup_json_ json_t *j = NULL;
        const char *os, *arch, *variant;
        int r;

        r = load_json(data, len, XARCH_CONFIG_MAX, "image config", &j, err);
        if (r < 0)
                return r;
        if (get_string(j, "os", &os) < 0 || get_string(j, "architecture", &arch) < 0 ||
                        get_string(j, "variant", &variant) < 0)
                return xarch_error_set(err, EBADMSG,
                                "image config: os, architecture or variant "
                                "is not a printable string");
        struct xarch_image_config *c = calloc(1, sizeof(*c));
        if (!c)
                return xarch_error_set(err, ENOMEM, "out of memory");
        if ((os && copy_field(c->platform.os, os) < 0) ||
                        (arch && copy_field(c->platform.arch, arch) < 0) ||
                        (variant && copy_field(c->platform.variant, variant) < 0)) {
                xarch_image_config_free(c);
                return xarch_error_set(err, EBADMSG,
                                "image config: platform field longer than %d "
                                "bytes",
                                XARCH_PLATFORM_FIELD_MAX - 1);
        }
        r = dup_string(j, "os.version", &c->os_version);
        json_t *features = json_object_get(j, "os.features");
        if (r == 0 && features && !json_is_null(features)) {
                if (!json_is_array(features))
                        r = -EBADMSG;
                else
                        c->n_os_features = json_array_size(features);
        }
        if (r == 0)
                r = dup_string(j, "created", &c->created);
        json_t *cfg = json_object_get(j, "config");
        if (r == 0 && cfg && !json_is_null(cfg)) {
                if (!json_is_object(cfg))
                        r = -EBADMSG;
                if (r == 0)
                        r = dup_string(cfg, "User", &c->user);
                if (r == 0)
                        r = parse_strv(json_object_get(cfg, "Entrypoint"), &c->entrypoint);
                if (r == 0)
                        r = parse_strv(json_object_get(cfg, "Cmd"), &c->cmd);
        }
        json_t *rootfs = json_object_get(j, "rootfs");
        json_t *diff_ids = json_is_object(rootfs) ? json_object_get(rootfs, "diff_ids") : NULL;
        if (r == 0 && diff_ids) {
                size_t n = json_is_array(diff_ids) ? json_array_size(diff_ids) : 0;
                if (!json_is_array(diff_ids) || n > XARCH_DESCRIPTORS_MAX)
                        r = -EBADMSG;
                else if (n > 0 && !(c->diff_ids = calloc(n, sizeof(*c->diff_ids))))
                        r = -ENOMEM;
                for (size_t i = 0; r == 0 && i < n; i++) {
                        const char *d = json_string_value(json_array_get(diff_ids, i));
                        if (!d || !xarch_digest_valid(d))
                                r = -EBADMSG;
                        else
                                snprintf(c->diff_ids[c->n_diff_ids++], XARCH_DIGEST_MAX, "%s", d);
                }
        }
        if (r < 0) {
                xarch_image_config_free(c);
                if (r == -ENOMEM)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                return xarch_error_set(err, EBADMSG, "malformed image config");
        }
        *ret = c;
        return 0;
}
