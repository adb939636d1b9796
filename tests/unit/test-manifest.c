/* SPDX-License-Identifier: MIT */
/* Manifest, index and config parsing (with hostile documents), source specs, and the local
 * sources end to end: an OCI layout written here, the same layout as an OCI archive written by
 * libarchive, and a legacy docker-archive. */
#include <archive.h>
#include <archive_entry.h>
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

#include "image/image.h"
#include "image/tar.h"
#include "xarch/digest.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static struct xarch_manifest *parse_ok(const char *json, const char *ct) {
        struct xarch_manifest *m = NULL;
        struct xarch_error *err = NULL;
        int r = xarch_manifest_parse(json, strlen(json), ct, &m, &err);
        if (r < 0)
                fail_msg("parse failed: %s", err ? err->msg : "?");
        return m;
}

static void parse_fails(
                const char *json, size_t len, const char *ct, int code, const char *msg_part) {
        struct xarch_manifest *m = NULL;
        struct xarch_error *err = NULL;
        int r = xarch_manifest_parse(json, len, ct, &m, &err);
        if (r != -code)
                fail_msg("expected %d, got %d (%s) for %.80s", -code, r, err ? err->msg : "-",
                                json);
        assert_null(m);
        assert_non_null(err);
        if (msg_part && !strstr(err->msg, msg_part))
                fail_msg("'%s' lacks '%s'", err->msg, msg_part);
        xarch_error_free(err);
}

static void test_index_kinds(void **state) {
        const char *json =
                        "{\"schemaVersion\":2,\"mediaType\":\"" XARCH_MEDIA_OCI_INDEX
                        "\",\"manifests\":["
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D1
                        "\",\"size\":10,"
                        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":"
                        "\"v8\"}},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D2
                        "\",\"size\":11,"
                        "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},"
                        "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\","
                        "\"vnd.docker.reference.digest\":\"" D1 "\"}},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D3
                        "\",\"size\":12,"
                        "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D1
                        "\",\"size\":1,"
                        "\"artifactType\":\"application/vnd.example.sbom\"},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_INDEX "\",\"digest\":\"" D2
                        "\",\"size\":2},"
                        "{\"mediaType\":\"application/x-future\",\"digest\":\"" D3 "\",\"size\":3},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D3
                        "\",\"size\":4,"
                        "\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\","
                        "\"os.version\":\"10.0.17763.1\"},\"annotations\":{\"org.opencontainers."
                        "image.ref.name\":\"t\"}}"
                        "]}";
        struct xarch_manifest *m = parse_ok(json, XARCH_MEDIA_OCI_INDEX);
        assert_int_equal(m->kind, XARCH_MANIFEST_INDEX);
        assert_int_equal(m->n_manifests, 7);
        assert_int_equal(m->manifests[0].kind, XARCH_ENTRY_IMAGE);
        assert_string_equal(m->manifests[0].platform.variant, "v8");
        assert_int_equal(m->manifests[0].size, 10);
        assert_int_equal(m->manifests[1].kind, XARCH_ENTRY_ATTESTATION);
        assert_string_equal(m->manifests[1].ref_digest, D1);
        assert_int_equal(m->manifests[2].kind, XARCH_ENTRY_ATTESTATION);
        assert_int_equal(m->manifests[3].kind, XARCH_ENTRY_ARTIFACT);
        assert_false(m->manifests[3].has_platform);
        assert_int_equal(m->manifests[4].kind, XARCH_ENTRY_INDEX);
        assert_int_equal(m->manifests[5].kind, XARCH_ENTRY_UNKNOWN);
        assert_string_equal(m->manifests[6].os_version, "10.0.17763.1");
        assert_string_equal(m->manifests[6].ref_name, "t");
        assert_string_equal(xarch_entry_kind_name(XARCH_ENTRY_ATTESTATION), "attestation");
        xarch_manifest_free(m);
}

static void test_docker_list_and_manifest(void **state) {
        const char *list = "{\"schemaVersion\":2,\"mediaType\":\"" XARCH_MEDIA_DOCKER_LIST
                           "\",\"manifests\":["
                           "{\"mediaType\":\"" XARCH_MEDIA_DOCKER_MANIFEST "\",\"digest\":\"" D1
                           "\",\"size\":5,"
                           "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":"
                           "\"v7\"}}]}";
        struct xarch_manifest *m = parse_ok(list,
                        "application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8");
        assert_int_equal(m->kind, XARCH_MANIFEST_INDEX);
        assert_string_equal(m->media_type, XARCH_MEDIA_DOCKER_LIST);
        xarch_manifest_free(m);

        const char *v2 = "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
                         "\"" XARCH_MEDIA_DOCKER_CONFIG "\",\"digest\":\"" D1
                         "\",\"size\":100},\"layers\":["
                         "{\"mediaType\":\"a\",\"digest\":\"" D2 "\",\"size\":1000},"
                         "{\"mediaType\":\"b\",\"digest\":\"" D3 "\",\"size\":24}]}";
        /* no mediaType field: the transport's type decides */
        m = parse_ok(v2, XARCH_MEDIA_DOCKER_MANIFEST);
        assert_int_equal(m->kind, XARCH_MANIFEST_IMAGE);
        assert_string_equal(m->media_type, XARCH_MEDIA_DOCKER_MANIFEST);
        assert_int_equal(m->n_layers, 2);
        assert_int_equal(m->layers_size, 1024);
        assert_string_equal(m->config.digest, D1);
        xarch_manifest_free(m);
        /* and without either, the structure */
        m = parse_ok(v2, NULL);
        assert_string_equal(m->media_type, XARCH_MEDIA_OCI_MANIFEST);
        xarch_manifest_free(m);
        m = parse_ok("{\"manifests\":[]}", "application/octet-stream");
        assert_int_equal(m->kind, XARCH_MANIFEST_INDEX);
        xarch_manifest_free(m);
}

static void test_hostile_manifests(void **state) {
        parse_fails("not json", 8, NULL, EBADMSG, "malformed manifest");
        parse_fails("[1,2]", 5, NULL, EBADMSG, "not a JSON object");
        parse_fails("{\"a\":1,\"a\":2}", 13, NULL, EBADMSG, "duplicate");
        parse_fails("{\"schemaVersion\":1,\"fsLayers\":[]}", 33, NULL, EPROTONOSUPPORT, "schema 1");
        parse_fails("{\"schemaVersion\":\"2\"}", 21, NULL, EBADMSG, "schemaVersion");
        parse_fails("{\"schemaVersion\":2}", 19, NULL, EBADMSG, "not a manifest or index");
        const char *mismatch = "{\"mediaType\":\"" XARCH_MEDIA_OCI_INDEX "\",\"manifests\":[]}";
        parse_fails(mismatch, strlen(mismatch), XARCH_MEDIA_OCI_MANIFEST, EBADMSG, "contradicts");
        const char *bad_digest = "{\"manifests\":[{\"digest\":\"sha256:abc\",\"size\":1}]}";
        parse_fails(bad_digest, strlen(bad_digest), NULL, EBADMSG, "invalid digest");
        const char *traversal =
                        "{\"manifests\":[{\"digest\":\"sha256:../../etc/passwd\",\"size\":1}]}";
        parse_fails(traversal, strlen(traversal), NULL, EBADMSG, "invalid digest");
        const char *neg = "{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":-1}]}";
        parse_fails(neg, strlen(neg), NULL, EBADMSG, "negative size");
        const char *nosize = "{\"manifests\":[{\"digest\":\"" D1 "\"}]}";
        parse_fails(nosize, strlen(nosize), NULL, EBADMSG, "size");
        const char *bad_ann = "{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1,\"annotations\":"
                              "{\"vnd.docker.reference.type\":7}}]}";
        parse_fails(bad_ann, strlen(bad_ann), NULL, EBADMSG, "annotation");
        const char *not_array = "{\"manifests\":{}}";
        parse_fails(not_array, strlen(not_array), NULL, EBADMSG, "not an array");
        const char *no_layers = "{\"config\":{\"digest\":\"" D1 "\",\"size\":1}}";
        parse_fails(no_layers, strlen(no_layers), NULL, EBADMSG, "layers");
        /* terminal escapes in a media type never reach a terminal (platforms: test_odd_entries) */
        const char *esc_type =
                        "{\"mediaType\":\"application/\\u001b]0;x\\u0007\",\"manifests\":[]}";
        parse_fails(esc_type, strlen(esc_type), NULL, EBADMSG, "printable");
        const char *nul = "{\"manifests\":[{\"digest\":\"sha256:\\u0000\",\"size\":1}]}";
        parse_fails(nul, strlen(nul), NULL, EBADMSG, NULL);

        /* size caps: a document over 4 MiB, and too many descriptors */
        size_t big = XARCH_MANIFEST_MAX + 1;
        char *huge = malloc(big);
        memset(huge, ' ', big);
        huge[0] = '{';
        huge[big - 1] = '}';
        parse_fails(huge, big, NULL, EFBIG, "exceeds the limit");
        size_t off = (size_t) sprintf(huge, "{\"manifests\":[");
        const char *one = "{\"digest\":\"" D1 "\",\"size\":1},";
        for (int i = 0; i <= XARCH_DESCRIPTORS_MAX; i++)
                off += (size_t) sprintf(huge + off, "%s", one);
        huge[off - 1] = ']';
        huge[off++] = '}';
        parse_fails(huge, off, NULL, EFBIG, "more than the limit");
        /* deep nesting is refused by the JSON parser, not the stack */
        off = 0;
        off += (size_t) sprintf(huge, "{\"x\":");
        for (int i = 0; i < 100000; i++)
                huge[off++] = '[';
        parse_fails(huge, off, NULL, EBADMSG, NULL);
        free(huge);
}

/* One odd entry never makes the index unusable: containerd parses it, never matches it (or, with
 * no os, reads it as the node's OS) and picks among the rest. These failed the whole parse
 * before. Wrong JSON types still fail: containerd's json.Unmarshal fails on them too. */
static void test_odd_entries(void **state) {
        (void) state;
#define ODD_INDEX(platform)                                                                        \
        "{\"manifests\":[{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D1         \
        "\",\"size\":1,\"platform\":" platform "},{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST      \
        "\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":"     \
        "\"amd64\"}}]}"
        static const struct {
                const char *doc;
                bool never_matches;
                const char *problem;
        } cases[] = {
                        {ODD_INDEX("{\"architecture\":\"amd64\"}"), false, "no os"},
                        {ODD_INDEX("{\"os\":null,\"architecture\":\"amd64\"}"), false, "no os"},
                        {ODD_INDEX("{\"os\":\"linux\"}"), true, "no architecture"},
                        {ODD_INDEX("{\"os\":\"linux\",\"architecture\":null}"), true,
                                        "no architecture"},
                        {ODD_INDEX("{}"), true, "no architecture"},
                        {ODD_INDEX("{\"os\":\"linux\",\"architecture\":"
                                   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"),
                                        true, "longer than"},
                        {ODD_INDEX("{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":"
                                   "\"v8.2aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"),
                                        true, "variant is longer"},
                        {ODD_INDEX("{\"os\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                                   "\"architecture\":\"amd64\"}"),
                                        true, "os is longer"},
                        {ODD_INDEX("{\"os\":\"linux\",\"architecture\":\"\\u001b[2Jamd64\"}"), true,
                                        "control bytes"},
                        {ODD_INDEX("{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":"
                                   "\"v8\\u009b2J\"}"),
                                        true, "control bytes"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct xarch_manifest *m = parse_ok(cases[i].doc, NULL);
                assert_int_equal(m->n_manifests, 2);
                assert_true(m->manifests[0].has_platform);
                assert_non_null(m->manifests[0].platform_problem);
                if (!strstr(m->manifests[0].platform_problem, cases[i].problem))
                        fail_msg("case %zu: '%s' lacks '%s'", i, m->manifests[0].platform_problem,
                                        cases[i].problem);
                assert_int_equal(m->manifests[0].never_matches, cases[i].never_matches);
                /* what a terminal sees stays printable */
                for (const char *c = m->manifests[0].platform.arch; *c; c++)
                        assert_true((unsigned char) *c >= 0x20);
                assert_null(m->manifests[1].platform_problem);
                xarch_manifest_free(m);
        }
        const char *wrong_type = ODD_INDEX("{\"os\":\"linux\",\"architecture\":7}");
        parse_fails(wrong_type, strlen(wrong_type), NULL, EBADMSG, "not a string");
        /* a descriptor string with control bytes is named as such, not as "not a string" */
#define ENTRY_INDEX(fields) "{\"manifests\":[{" fields ",\"digest\":\"" D1 "\",\"size\":1}]}"
        static const struct {
                const char *doc, *message;
        } refused[] = {
                        {ENTRY_INDEX("\"mediaType\":\"application/x\\u001b[2J\""),
                                        "mediaType holds a NUL or control bytes"},
                        {ENTRY_INDEX("\"mediaType\":7"), "mediaType is not a string"},
                        {ENTRY_INDEX("\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                                     "\",\"artifactType\":\"a\\u009bb\""),
                                        "artifactType holds a NUL or control bytes"},
                        {ENTRY_INDEX("\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                                     "\",\"annotations\":{\"vnd.docker.reference.type\":"
                                     "\"x\\u0007\"}"),
                                        "annotation vnd.docker.reference.type holds a NUL or "
                                        "control bytes"},
                        {ENTRY_INDEX("\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                                     "\",\"annotations\":{\"vnd.docker.reference.type\":1}"),
                                        "annotation vnd.docker.reference.type is not a string"},
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                parse_fails(refused[i].doc, strlen(refused[i].doc), NULL, EBADMSG,
                                refused[i].message);
        const char *features = ODD_INDEX("{\"os\":\"linux\",\"architecture\":\"amd64\","
                                         "\"os.features\":[\"sse4\",\"win32k\"]}");
        struct xarch_manifest *m = parse_ok(features, NULL);
        assert_int_equal(m->manifests[0].n_os_features, 2);
        assert_string_equal(m->manifests[0].os_features, "sse4,win32k");
        xarch_manifest_free(m);
        const char *bad_features = ODD_INDEX("{\"os\":\"linux\",\"architecture\":\"amd64\","
                                             "\"os.features\":\"sse4\"}");
        parse_fails(bad_features, strlen(bad_features), NULL, EBADMSG, "os.features");
#undef ODD_INDEX
}

static void test_layers_size_saturates(void **state) {
        /* Two layers of INT64_MAX bytes: the sum must not wrap (inspect prints it and puts it
         * in JSON as a signed integer). */
        const char *json = "{\"schemaVersion\":2,\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST "\","
                           "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                           "\"digest\":\"" D1 "\",\"size\":1},"
                           "\"layers\":[{\"digest\":\"" D2 "\",\"size\":9223372036854775807},"
                           "{\"digest\":\"" D3 "\",\"size\":9223372036854775807}]}";
        struct xarch_manifest *m = parse_ok(json, NULL);
        assert_non_null(m);
        assert_int_equal(m->n_layers, 2);
        assert_true(m->layers_size == (uint64_t) INT64_MAX);
        xarch_manifest_free(m);
}

static void test_config(void **state) {
        const char *json = "{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\","
                           "\"created\":\"2026-01-01T00:00:00Z\",\"config\":{\"User\":\"1000\","
                           "\"Entrypoint\":[\"/hello\"],\"Cmd\":null},"
                           "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";
        struct xarch_image_config *c = NULL;
        assert_int_equal(xarch_image_config_parse(json, strlen(json), &c, NULL), 0);
        assert_string_equal(c->platform.arch, "arm");
        assert_string_equal(c->platform.variant, "v7");
        assert_string_equal(c->user, "1000");
        assert_string_equal(c->entrypoint[0], "/hello");
        assert_null(c->entrypoint[1]);
        assert_null(c->cmd);
        assert_int_equal(c->n_diff_ids, 2);
        assert_string_equal(c->diff_ids[1], D2);
        xarch_image_config_free(c);

        struct xarch_error *err = NULL;
        const char *bad = "{\"architecture\":\"arm\",\"rootfs\":{\"diff_ids\":[\"nope\"]}}";
        assert_int_equal(xarch_image_config_parse(bad, strlen(bad), &c, &err), -EBADMSG);
        xarch_error_freep(&err);
        const char *bad2 = "{\"architecture\":5}";
        assert_int_equal(xarch_image_config_parse(bad2, strlen(bad2), &c, &err), -EBADMSG);
        xarch_error_freep(&err);
        const char *bad4 = "{\"architecture\":\"arm\\u007f\"}";
        assert_int_equal(xarch_image_config_parse(bad4, strlen(bad4), &c, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "printable"));
        xarch_error_freep(&err);
        const char *bad3 = "{\"config\":{\"Entrypoint\":[1]}}";
        assert_int_equal(xarch_image_config_parse(bad3, strlen(bad3), &c, &err), -EBADMSG);
        xarch_error_freep(&err);
}

static void test_spec_split(void **state) {
        enum xarch_transport t;
        char *path, *tag;
        struct xarch_error *err = NULL;

        assert_int_equal(image_spec_split("oci:/tmp/x:v1", &t, &path, &tag, NULL), 0);
        assert_int_equal(t, XARCH_TRANSPORT_OCI);
        assert_string_equal(path, "/tmp/x");
        assert_string_equal(tag, "v1");
        free(path);
        free(tag);
        assert_int_equal(image_spec_split("oci-archive:a.tar", &t, &path, &tag, NULL), 0);
        assert_int_equal(t, XARCH_TRANSPORT_OCI_ARCHIVE);
        assert_null(tag);
        free(path);
        assert_int_equal(image_spec_split("docker-archive:s.tar:localhost/app:1", &t, &path, &tag,
                                         NULL),
                        0);
        assert_int_equal(t, XARCH_TRANSPORT_DOCKER_ARCHIVE);
        assert_string_equal(tag, "localhost/app:1");
        free(path);
        free(tag);
        assert_int_equal(image_spec_split("docker://alpine", &t, &path, &tag, NULL), 0);
        assert_int_equal(t, XARCH_TRANSPORT_REGISTRY);
        assert_string_equal(path, "alpine");
        free(path);
        assert_int_equal(image_spec_split("oci:", &t, &path, &tag, &err), -EINVAL);
        xarch_error_freep(&err);
        assert_int_equal(image_spec_split("oci:/x:", &t, &path, &tag, &err), -EINVAL);
        xarch_error_freep(&err);
        assert_int_equal(image_spec_split("", &t, &path, &tag, &err), -EINVAL);
        xarch_error_freep(&err);

        char out[64];
        assert_true(image_archive_path_normalize("./blobs//sha256/./ab", out, sizeof(out)));
        assert_string_equal(out, "blobs/sha256/ab");
        assert_true(image_archive_path_normalize("/index.json", out, sizeof(out)));
        assert_string_equal(out, "index.json");
        assert_false(image_archive_path_normalize("a/../b", out, sizeof(out)));
        assert_false(image_archive_path_normalize("./", out, sizeof(out)));
        assert_false(image_archive_path_normalize(
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", out,
                        sizeof(out)));
}

/* ---- local sources, end to end ---- */

struct file {
        char path[128];
        char *data;
        size_t len;
};

struct layout {
        struct file files[16];
        size_t n;
};

static void add_file(struct layout *l, const char *path, const char *data, size_t len) {
        struct file *f = &l->files[l->n++];
        snprintf(f->path, sizeof(f->path), "%s", path);
        f->data = malloc(len + 1);
        memcpy(f->data, data, len);
        f->len = len;
}

/* Adds a blob and returns its digest in out. */
static void add_blob(struct layout *l, const char *data, char out[XARCH_DIGEST_MAX]) {
        char path[128];
        assert_int_equal(xarch_digest_buffer("sha256", data, strlen(data), out), 0);
        snprintf(path, sizeof(path), "blobs/sha256/%s", out + 7);
        add_file(l, path, data, strlen(data));
}

static void layout_free(struct layout *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->files[i].data);
}

static void write_dir(const struct layout *l, const char *dir) {
        char p[512];
        for (size_t i = 0; i < l->n; i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, l->files[i].path);
                for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
                        *s = '\0';
                        mkdir(p, 0755);
                        *s = '/';
                }
                FILE *f = fopen(p, "w");
                assert_non_null(f);
                fwrite(l->files[i].data, 1, l->files[i].len, f);
                fclose(f);
        }
}

static void write_tar(const struct layout *l, const char *file, const char *prefix) {
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
        for (size_t i = 0; i < l->n; i++) {
                char p[256];
                snprintf(p, sizeof(p), "%s%s", prefix, l->files[i].path);
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, p);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t) l->files[i].len);
                archive_write_header(a, e);
                archive_write_data(a, l->files[i].data, l->files[i].len);
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
}

struct fixture {
        char dir[64];
        struct layout layout;
        char index_digest[XARCH_DIGEST_MAX];
        char arm_digest[XARCH_DIGEST_MAX];
        char amd_digest[XARCH_DIGEST_MAX];
        char arm_config[XARCH_DIGEST_MAX];
};

static void image_blobs(struct layout *l, const char *arch, const char *variant,
                char manifest_digest[XARCH_DIGEST_MAX], char config_digest[XARCH_DIGEST_MAX],
                int n_layers) {
        char layer[XARCH_DIGEST_MAX], config[512], manifest[2048], layer_data[64];
        snprintf(layer_data, sizeof(layer_data), "layer of %s", arch);
        add_blob(l, layer_data, layer);
        snprintf(config, sizeof(config),
                        "{\"architecture\":\"%s\",\"os\":\"linux\"%s%s%s,\"rootfs\":{\"type\":"
                        "\"layers\","
                        "\"diff_ids\":[\"%s\"]}}",
                        arch, variant ? ",\"variant\":\"" : "", variant ? variant : "",
                        variant ? "\"" : "", layer);
        add_blob(l, config, config_digest);
        size_t off = (size_t) snprintf(manifest, sizeof(manifest),
                        "{\"schemaVersion\":2,\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                        "\",\"config\":"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_CONFIG
                        "\",\"digest\":\"%s\",\"size\":%zu},"
                        "\"layers\":[",
                        config_digest, strlen(config));
        for (int i = 0; i < n_layers; i++)
                off += (size_t) snprintf(manifest + off, sizeof(manifest) - off,
                                "%s{\"mediaType\":\"application/"
                                "vnd.oci.image.layer.v1.tar\",\"digest\":"
                                "\"%s\",\"size\":%zu}",
                                i ? "," : "", layer, strlen(layer_data));
        snprintf(manifest + off, sizeof(manifest) - off, "]}");
        add_blob(l, manifest, manifest_digest);
}

static size_t blob_size(const struct layout *l, const char *digest) {
        for (size_t i = 0; i < l->n; i++)
                if (strstr(l->files[i].path, digest + 7))
                        return l->files[i].len;
        fail_msg("no blob %s", digest);
        return 0;
}

static int fixture_setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        char att[XARCH_DIGEST_MAX], att_config[XARCH_DIGEST_MAX], amd_config[XARCH_DIGEST_MAX];
        char index[4096], top[1024];

        snprintf(f->dir, sizeof(f->dir), "/tmp/xarch-test-manifest-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        struct layout *l = &f->layout;
        image_blobs(l, "arm64", NULL, f->arm_digest, f->arm_config, 2);
        image_blobs(l, "amd64", NULL, f->amd_digest, amd_config, 1);
        image_blobs(l, "unknown", NULL, att, att_config, 1);
        snprintf(index, sizeof(index),
                        "{\"schemaVersion\":2,\"mediaType\":\"" XARCH_MEDIA_OCI_INDEX
                        "\",\"manifests\":["
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                        "\",\"digest\":\"%s\",\"size\":%zu,"
                        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                        "\",\"digest\":\"%s\",\"size\":%zu,"
                        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
                        "{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                        "\",\"digest\":\"%s\",\"size\":%zu,"
                        "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},"
                        "\"annotations\":"
                        "{\"vnd.docker.reference.type\":\"attestation-manifest\"}}]}",
                        f->amd_digest, blob_size(l, f->amd_digest), f->arm_digest,
                        blob_size(l, f->arm_digest), att, blob_size(l, att));
        add_blob(l, index, f->index_digest);
        snprintf(top, sizeof(top),
                        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                        "\"" XARCH_MEDIA_OCI_INDEX "\",\"digest\":\"%s\",\"size\":%zu,"
                        "\"annotations\":{\"org.opencontainers.image."
                        "ref.name\":\"v1\"}},{\"mediaType\":\"" XARCH_MEDIA_OCI_MANIFEST
                        "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers."
                        "image."
                        "ref.name\":\"arm\"}}]}",
                        f->index_digest, strlen(index), f->arm_digest, blob_size(l, f->arm_digest));
        add_file(l, "index.json", top, strlen(top));
        add_file(l, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        char sub[128];
        snprintf(sub, sizeof(sub), "%s/layout", f->dir);
        mkdir(sub, 0755);
        write_dir(l, sub);
        snprintf(sub, sizeof(sub), "%s/layout.tar", f->dir);
        write_tar(l, sub, "./");
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        struct fixture *f = *state;
        char cmd[256];
        layout_free(&f->layout);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static struct xarch_inspect *inspect(const char *spec, const struct xarch_platform *want,
                const char *spelled, bool want_config) {
        struct xarch_image_context *ctx = NULL;
        struct xarch_image *img = NULL;
        struct xarch_inspect *res = NULL;
        struct xarch_error *err = NULL;
        struct xarch_inspect_options opts = {.platform = want, .want_config = want_config};
        struct xarch_platform spelling;
        /* the request as written ("linux/arm64/v8"), so that rules say "normalized" */
        if (want && xarch_platform_parse_raw(spelled, &spelling, NULL) >= 0)
                opts.spelling = &spelling;

        assert_int_equal(xarch_image_context_new(NULL, &ctx, NULL), 0);
        if (xarch_image_open(ctx, spec, &img, &err) < 0 ||
                        xarch_image_inspect(img, &opts, &res, &err) < 0)
                fail_msg("%s: %s", spec, err ? err->msg : "?");
        xarch_image_free(img);
        xarch_image_context_free(ctx);
        return res;
}

static void check_index_result(const struct fixture *f, const struct xarch_inspect *res) {
        assert_string_equal(res->root.digest, f->index_digest);
        assert_string_equal(res->root.media_type, XARCH_MEDIA_OCI_INDEX);
        assert_int_equal(res->n_entries, 3);
        assert_string_equal(res->entries[1].desc->platform.arch, "arm64");
        assert_int_equal(res->entries[0].n_layers, 1);
        assert_int_equal(res->entries[1].n_layers, 2);
        assert_true(res->entries[2].hidden);
        assert_int_equal(res->entries[2].n_layers, -1); /* attestations not fetched by default */
        assert_true(res->selection_done);
        assert_int_equal(res->selected, 1);
        /* the entry is spelled like the normalised request (arm64, no variant) */
        assert_int_equal(res->rule, XARCH_MATCH_EXACT);
        assert_string_equal(res->selected_digest, f->arm_digest);
        assert_non_null(strstr(res->config.data, "\"arm64\""));
}

static void test_oci_layout(void **state) {
        struct fixture *f = *state;
        char spec[256];
        struct xarch_platform want;
        assert_int_equal(xarch_platform_parse("linux/arm64/v8", &want, NULL), 0);

        snprintf(spec, sizeof(spec), "oci:%s/layout:v1", f->dir);
        struct xarch_inspect *res = inspect(spec, &want, "linux/arm64/v8", true);
        check_index_result(f, res);
        xarch_inspect_free(res);

        /* the same layout inside an OCI archive (members named ./blobs/...) */
        snprintf(spec, sizeof(spec), "oci-archive:%s/layout.tar:v1", f->dir);
        res = inspect(spec, &want, "linux/arm64/v8", true);
        check_index_result(f, res);
        xarch_inspect_free(res);

        /* a single image: platform from its config; s390x matches nothing */
        struct xarch_platform s390x;
        assert_int_equal(xarch_platform_parse("linux/s390x", &s390x, NULL), 0);
        snprintf(spec, sizeof(spec), "oci:%s/layout:arm", f->dir);
        res = inspect(spec, &s390x, "linux/s390x", false);
        assert_int_equal(res->manifest->kind, XARCH_MANIFEST_IMAGE);
        assert_true(res->has_config_platform);
        assert_string_equal(res->config_platform.arch, "arm64");
        assert_int_equal(res->selected, -1);
        xarch_inspect_free(res);
}

static void expect_open_error(const char *spec, int code, const char *msg_part) {
        struct xarch_image_context *ctx = NULL;
        struct xarch_image *img = NULL;
        struct xarch_inspect *res = NULL;
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_image_context_new(NULL, &ctx, NULL), 0);
        int r = xarch_image_open(ctx, spec, &img, &err);
        if (r >= 0)
                r = xarch_image_inspect(img, NULL, &res, &err);
        if (r != -code || !err || !strstr(err->msg, msg_part))
                fail_msg("%s: got %d '%s', wanted %d '%s'", spec, r, err ? err->msg : "", -code,
                                msg_part);
        xarch_error_free(err);
        xarch_inspect_free(res);
        xarch_image_free(img);
        xarch_image_context_free(ctx);
}

static void test_local_errors(void **state) {
        struct fixture *f = *state;
        char spec[256], path[256];

        snprintf(spec, sizeof(spec), "oci:%s/layout", f->dir);
        expect_open_error(spec, EINVAL, "holds 2 images; name one with :TAG (tags: v1, arm)");
        snprintf(spec, sizeof(spec), "oci:%s/layout:nope", f->dir);
        expect_open_error(spec, ENOENT, "no image tagged 'nope'");
        snprintf(spec, sizeof(spec), "oci:%s/missing", f->dir);
        expect_open_error(spec, ENOENT, "No such file");
        snprintf(spec, sizeof(spec), "oci:%s", f->dir);
        expect_open_error(spec, ENOENT, "not an OCI image layout");
        snprintf(spec, sizeof(spec), "oci-archive:%s/layout/oci-layout", f->dir);
        expect_open_error(spec, EBADMSG, "malformed tar archive");

        /* a corrupted blob is caught by its digest */
        snprintf(path, sizeof(path), "%s/layout/blobs/sha256/%s", f->dir, f->index_digest + 7);
        FILE *fp = fopen(path, "r+");
        assert_non_null(fp);
        fputc(' ', fp);
        fclose(fp);
        snprintf(spec, sizeof(spec), "oci:%s/layout:v1", f->dir);
        expect_open_error(spec, EBADMSG, "digest mismatch");
        /* restore */
        fp = fopen(path, "r+");
        fputc('{', fp);
        fclose(fp);
}

static void test_docker_archive(void **state) {
        struct fixture *f = *state;
        struct layout l = {0};
        char config[512], path[256], spec[300], config_digest[XARCH_DIGEST_MAX];
        char layer_digest[XARCH_DIGEST_MAX];
        const char layer[] = "not really a tar, but digested as one";

        assert_int_equal(xarch_digest_buffer("sha256", layer, strlen(layer), layer_digest), 0);
        snprintf(config, sizeof(config),
                        "{\"architecture\":\"riscv64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                        "\"layers\","
                        "\"diff_ids\":[\"%s\"]}}",
                        layer_digest);
        assert_int_equal(xarch_digest_buffer("sha256", config, strlen(config), config_digest), 0);
        snprintf(path, sizeof(path), "%s.json", config_digest + 7);
        add_file(&l, path, config, strlen(config));
        add_file(&l, "abc/layer.tar", layer, strlen(layer));
        char manifest[1024];
        snprintf(manifest, sizeof(manifest),
                        "[{\"Config\":\"%s\",\"RepoTags\":[\"localhost/hello:1\"],\"Layers\":"
                        "[\"abc/layer.tar\"]}]",
                        path);
        add_file(&l, "manifest.json", manifest, strlen(manifest));
        snprintf(path, sizeof(path), "%s/docker.tar", f->dir);
        write_tar(&l, path, "");
        layout_free(&l);

        static const char *const tags[] = {"", ":localhost/hello:1", ":@0"};
        for (size_t i = 0; i < 3; i++) {
                snprintf(spec, sizeof(spec), "docker-archive:%s%s", path, tags[i]);
                struct xarch_inspect *res = inspect(spec, NULL, NULL, true);
                assert_true(res->synthesized);
                assert_int_equal(res->manifest->kind, XARCH_MANIFEST_IMAGE);
                assert_string_equal(res->config_platform.arch, "riscv64");
                assert_string_equal(res->manifest->config.digest, config_digest);
                assert_string_equal(res->manifest->layers[0].digest, layer_digest);
                assert_string_equal(res->config.data, config);
                xarch_inspect_free(res);
        }
        snprintf(spec, sizeof(spec), "docker-archive:%s:other:2", path);
        expect_open_error(spec, ENOENT, "no image tagged 'other:2'");
        snprintf(spec, sizeof(spec), "docker-archive:%s:@3", path);
        expect_open_error(spec, ENOENT, "no image at index 3");
}

/* Docker >= 25 saves name files by digest (blobs/sha256/...); two images need a tag. */
static int count_sink(void *userdata, const void *buf, size_t len) {
        *(size_t *) userdata += len;
        return 0;
}

static void test_docker_archive_blobs(void **state) {
        struct fixture *f = *state;
        struct layout l = {0};
        char config[512], path[256], spec[300], config_digest[XARCH_DIGEST_MAX];
        char layer_digest[XARCH_DIGEST_MAX], manifest[1024];
        const char layer[] = "layer bytes named by their digest";

        add_blob(&l, layer, layer_digest);
        snprintf(config, sizeof(config),
                        "{\"architecture\":\"s390x\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                        "\"layers\",\"diff_ids\":[\"%s\"]}}",
                        layer_digest);
        add_blob(&l, config, config_digest);
        snprintf(manifest, sizeof(manifest),
                        "[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"a:1\"],\"Layers\":"
                        "[\"blobs/sha256/%s\"]},{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":"
                        "[\"docker.io/library/b:2\"],\"Layers\":[\"blobs/sha256/%s\"]}]",
                        config_digest + 7, layer_digest + 7, config_digest + 7, layer_digest + 7);
        add_file(&l, "manifest.json", manifest, strlen(manifest));
        snprintf(path, sizeof(path), "%s/docker25.tar", f->dir);
        write_tar(&l, path, "./");
        layout_free(&l);

        snprintf(spec, sizeof(spec), "docker-archive:%s", path);
        expect_open_error(spec, EINVAL, "holds 2 images");
        /* "b:2" normalises to docker.io/library/b:2 */
        snprintf(spec, sizeof(spec), "docker-archive:%s:b:2", path);
        struct xarch_inspect *res = inspect(spec, NULL, NULL, false);
        assert_string_equal(res->config_platform.arch, "s390x");
        assert_string_equal(res->manifest->layers[0].digest, layer_digest);
        xarch_inspect_free(res);

        /* the layer streams, verified against its digest */
        struct xarch_image_context *ctx = NULL;
        struct xarch_image *img = NULL;
        size_t n = 0;
        assert_int_equal(xarch_image_context_new(NULL, &ctx, NULL), 0);
        assert_int_equal(xarch_image_open(ctx, spec, &img, NULL), 0);
        assert_int_equal(xarch_image_get_blob(img, layer_digest, 0, count_sink, &n, NULL), 0);
        assert_int_equal(n, strlen(layer));
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_image_get_blob(img, layer_digest, 3, count_sink, &n, &err), -EFBIG);
        xarch_error_freep(&err);
        assert_int_equal(xarch_image_get_blob(img, D1, 0, count_sink, &n, &err), -ENOENT);
        xarch_error_freep(&err);
        xarch_image_free(img);
        xarch_image_context_free(ctx);
}

/* An index entry without a platform counts only through its config's platform, after every
 * entry that has one (containerd's nil-platform rule). */
static void test_platformless_entry(void **state) {
        struct fixture *f = *state;
        struct layout l = {0};
        char rv[XARCH_DIGEST_MAX], rv_config[XARCH_DIGEST_MAX], index[1024], top[512];
        char dir[128], spec[160];

        image_blobs(&l, "riscv64", NULL, rv, rv_config, 3);
        snprintf(index, sizeof(index),
                        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                        "\"" XARCH_MEDIA_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu}]}",
                        rv, blob_size(&l, rv));
        char index_digest[XARCH_DIGEST_MAX];
        add_blob(&l, index, index_digest);
        snprintf(top, sizeof(top),
                        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                        "\"" XARCH_MEDIA_OCI_INDEX "\",\"digest\":\"%s\",\"size\":%zu}]}",
                        index_digest, strlen(index));
        add_file(&l, "index.json", top, strlen(top));
        add_file(&l, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        snprintf(dir, sizeof(dir), "%s/noplatform", f->dir);
        mkdir(dir, 0755);
        write_dir(&l, dir);
        layout_free(&l);

        struct xarch_platform want;
        snprintf(spec, sizeof(spec), "oci:%s", dir);
        assert_int_equal(xarch_platform_parse("linux/riscv64", &want, NULL), 0);
        struct xarch_inspect *res = inspect(spec, &want, "linux/riscv64", false);
        assert_int_equal(res->n_entries, 1);
        assert_false(res->entries[0].desc->has_platform);
        assert_false(res->entries[0].hidden);
        assert_true(res->entries[0].has_config_platform);
        assert_string_equal(res->entries[0].config_platform.arch, "riscv64");
        assert_int_equal(res->entries[0].n_layers, 3);
        assert_int_equal(res->selected, 0);
        assert_string_equal(res->selected_digest, rv);
        xarch_inspect_free(res);

        assert_int_equal(xarch_platform_parse("linux/amd64", &want, NULL), 0);
        res = inspect(spec, &want, "linux/amd64", false);
        assert_true(res->selection_done);
        assert_int_equal(res->selected, -1);
        xarch_inspect_free(res);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_index_kinds),
                        cmocka_unit_test(test_docker_list_and_manifest),
                        cmocka_unit_test(test_hostile_manifests),
                        cmocka_unit_test(test_layers_size_saturates),
                        cmocka_unit_test(test_config),
                        cmocka_unit_test(test_spec_split),
                        cmocka_unit_test(test_oci_layout),
                        cmocka_unit_test(test_local_errors),
                        cmocka_unit_test(test_docker_archive),
                        cmocka_unit_test(test_docker_archive_blobs),
                        cmocka_unit_test(test_platformless_entry),
                        cmocka_unit_test(test_odd_entries),
        };
        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
