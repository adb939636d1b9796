/* SPDX-License-Identifier: MIT */
#ifndef XARCH_IMAGE_H
#define XARCH_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/digest.h"
#include "xarch/error.h"
#include "xarch/platform.h"
#include "xarch/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Images: where they come from (a registry, an OCI layout directory, an OCI archive, a
 * docker/podman save tarball), their manifests (OCI index and manifest, Docker manifest list and
 * v2 manifest, image config) and what `xarch inspect` reports about them.
 *
 * Every document is bounded (XARCH_MANIFEST_MAX for manifests, XARCH_CONFIG_MAX for configs,
 * XARCH_DESCRIPTORS_MAX entries per list) and every blob is checked against its digest before it
 * is parsed.
 */

#define XARCH_MEDIA_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define XARCH_MEDIA_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define XARCH_MEDIA_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define XARCH_MEDIA_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define XARCH_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define XARCH_MEDIA_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define XARCH_MEDIA_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar"

/* The BuildKit annotation that marks attestation manifests, and its value. */
#define XARCH_ANNOTATION_REF_TYPE   "vnd.docker.reference.type"
#define XARCH_ANNOTATION_REF_DIGEST "vnd.docker.reference.digest"
#define XARCH_ANNOTATION_REF_NAME   "org.opencontainers.image.ref.name"
#define XARCH_REF_TYPE_ATTESTATION  "attestation-manifest"

/* Image configs larger than this are refused. */
#define XARCH_CONFIG_MAX (8u * 1024 * 1024)
/* Most descriptors (index entries or layers) one document may hold. */
#define XARCH_DESCRIPTORS_MAX 10000

enum xarch_manifest_kind {
        XARCH_MANIFEST_INDEX, /* OCI image index or Docker manifest list */
        XARCH_MANIFEST_IMAGE, /* OCI image manifest or Docker v2 manifest */
};

/* What an index entry is, so that "platforms" lists only runnable images. */
enum xarch_entry_kind {
        XARCH_ENTRY_IMAGE,       /* an image manifest with a real platform (or none given) */
        XARCH_ENTRY_INDEX,       /* a nested index */
        XARCH_ENTRY_ATTESTATION, /* BuildKit attestation: annotation or unknown/unknown */
        XARCH_ENTRY_ARTIFACT,    /* artifactType set: signatures, SBOMs, ... */
        XARCH_ENTRY_UNKNOWN,     /* a media type xarch does not know (kept, never fatal) */
};

const char *xarch_entry_kind_name(enum xarch_entry_kind kind);

struct xarch_descriptor {
        char *media_type; /* "" when absent */
        char digest[XARCH_DIGEST_MAX];
        uint64_t size;
        char *artifact_type; /* NULL when absent */
        bool has_platform;
        struct xarch_platform platform; /* as written, not normalised */
        char *os_version;               /* platform.os.version, NULL when absent */
        char *os_features;              /* platform.os.features joined by ',', NULL when none */
        size_t n_os_features;
        /* An odd platform that containerd still parses: no os ("" here; containerd reads it as
         * the node's OS), no architecture, a field over XARCH_PLATFORM_FIELD_MAX - 1 bytes or
         * with control bytes. Such entries are kept and shown; `platform_problem` says what is
         * odd, and `never_matches` is set when no node's platform can equal it. */
        char *platform_problem;
        bool never_matches;
        char *ref_type;   /* annotation vnd.docker.reference.type, or NULL */
        char *ref_digest; /* annotation vnd.docker.reference.digest, or NULL */
        char *ref_name;   /* annotation org.opencontainers.image.ref.name, or NULL */
        enum xarch_entry_kind kind;
};

struct xarch_manifest {
        enum xarch_manifest_kind kind;
        char *media_type; /* the effective type: the document's mediaType, else the transport's */
        unsigned schema_version;
        char *artifact_type; /* NULL when absent */
        /* XARCH_MANIFEST_INDEX */
        struct xarch_descriptor *manifests;
        size_t n_manifests;
        /* XARCH_MANIFEST_IMAGE */
        struct xarch_descriptor config;
        struct xarch_descriptor *layers;
        size_t n_layers;
        uint64_t layers_size; /* sum of layer sizes */
};

/*
 * Parses a manifest or index. content_type is what the transport said (HTTP Content-Type, a
 * descriptor's mediaType) or NULL. Fails with -EBADMSG for malformed JSON, wrong field types,
 * invalid digests, duplicate keys or a mediaType that contradicts content_type; -EFBIG beyond
 * XARCH_MANIFEST_MAX or XARCH_DESCRIPTORS_MAX; -EPROTONOSUPPORT for Docker schema 1.
 */
int xarch_manifest_parse(const void *data, size_t len, const char *content_type,
                struct xarch_manifest **ret, struct xarch_error **err);
void xarch_manifest_free(struct xarch_manifest *m);

/* True for the four manifest/index media types xarch reads. */
bool xarch_media_type_is_manifest(const char *media_type);
bool xarch_media_type_is_index(const char *media_type);

struct xarch_image_config {
        struct xarch_platform platform; /* os/architecture/variant as written */
        char *os_version;               /* NULL when absent */
        size_t n_os_features;           /* entries of "os.features" */
        char *created;                  /* NULL when absent */
        char *user;                     /* NULL when absent */
        char **entrypoint;              /* NULL-terminated, NULL when absent */
        char **cmd;                     /* NULL-terminated, NULL when absent */
        char (*diff_ids)[XARCH_DIGEST_MAX];
        size_t n_diff_ids;
};

/* Parses an image config (capped at XARCH_CONFIG_MAX). */
int xarch_image_config_parse(const void *data, size_t len, struct xarch_image_config **ret,
                struct xarch_error **err);
void xarch_image_config_free(struct xarch_image_config *c);

/* ---- sources ---- */

enum xarch_transport {
        XARCH_TRANSPORT_REGISTRY,       /* [docker://]name[:tag][@digest] */
        XARCH_TRANSPORT_OCI,            /* oci:DIR[:TAG] */
        XARCH_TRANSPORT_OCI_ARCHIVE,    /* oci-archive:FILE[:TAG] */
        XARCH_TRANSPORT_DOCKER_ARCHIVE, /* docker-archive:FILE[:NAME:TAG | :@N] */
};

const char *xarch_transport_name(enum xarch_transport t);

struct xarch_image_options {
        const char *ca_file;       /* --ca */
        bool insecure;             /* --insecure */
        const char *auth_file;     /* --authfile */
        bool no_cache;             /* --no-cache */
        const char *cache_dir;     /* NULL = the registry client's default */
        unsigned max_per_registry; /* 0 = the registry client's default */
};

/* Shared state for opening many images from many threads: one registry client (created on
 * first use) with its connection pool, token cache and blob cache. Thread-safe. */
struct xarch_image_context;

int xarch_image_context_new(const struct xarch_image_options *opts,
                struct xarch_image_context **ret, struct xarch_error **err);
void xarch_image_context_free(struct xarch_image_context *ctx);

/* The registry client (created on first call); NULL with *err set when it cannot be made. */
struct xarch_registry *xarch_image_context_registry(
                struct xarch_image_context *ctx, struct xarch_error **err);

/* One opened image reference. Reads on it are thread-safe. */
struct xarch_image;

/* Opens "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE[:REF]" or a registry
 * reference (optionally "docker://REF"). Local sources are indexed here (archives are scanned
 * once, seeking over data); registry references are only parsed. */
int xarch_image_open(struct xarch_image_context *ctx, const char *spec, struct xarch_image **ret,
                struct xarch_error **err);
void xarch_image_free(struct xarch_image *img);

enum xarch_transport xarch_image_transport(const struct xarch_image *img);

/* The canonical display name: "docker.io/library/alpine:latest", "oci:/abs/dir:tag", ... */
const char *xarch_image_name(const struct xarch_image *img);

/* The manifest or index the reference names, verified; ret->media_type and ret->digest set.
 * A legacy docker-archive has no stored manifest: an equivalent Docker v2 manifest is
 * synthesised from manifest.json (layers by their diff IDs) and *synthesized set. */
int xarch_image_get_root(struct xarch_image *img, struct xarch_blob_buf *ret, bool *synthesized,
                struct xarch_error **err);

/* A child manifest by digest (capped at XARCH_MANIFEST_MAX), verified. media_type is the
 * hint from the referring descriptor (may be NULL) when the transport has none. */
int xarch_image_get_manifest(struct xarch_image *img, const char *digest, const char *media_type,
                struct xarch_blob_buf *ret, struct xarch_error **err);

/* The cap for reading the blob a descriptor names: its own size (a registry that sends more
 * is cut off there), and at most `limit` (0 = none). A size of 0 gives 1: 0 would mean "no
 * cap" to the readers below, and an empty blob fits in one byte as well. */
static inline uint64_t xarch_descriptor_cap(const struct xarch_descriptor *d, uint64_t limit) {
        uint64_t cap = d->size ? d->size : 1;
        return limit && cap > limit ? limit : cap;
}

/* A small blob (a config) into memory, verified; max_size 0 = XARCH_CONFIG_MAX. */
int xarch_image_get_blob_buf(struct xarch_image *img, const char *digest, uint64_t max_size,
                struct xarch_blob_buf *ret, struct xarch_error **err);

/* Streams a blob through sink, then verifies it (-EBADMSG on mismatch: the sink must treat
 * the data as untrusted until this returns 0). max_size 0 = no cap. */
int xarch_image_get_blob(struct xarch_image *img, const char *digest, uint64_t max_size,
                xarch_sink_fn sink, void *userdata, struct xarch_error **err);

/* ---- inspect ---- */

struct xarch_inspect_options {
        const struct xarch_platform *platform; /* select for this node platform; NULL = don't */
        const struct xarch_platform *spelling; /* platform as the user wrote it (raw), or NULL */
        enum xarch_match_mode mode;
        const struct xarch_runtime *runtime; /* the node's runtime; NULL = the newest containerd */
        bool want_config;                    /* fetch the config of the selected (or only) image */
        bool skip_children;                  /* don't fetch child manifests (no layer counts) */
        bool include_hidden;                 /* also fetch attestation children (for --all) */
        unsigned concurrency;                /* child manifests fetched at once; 0 = 8 */
};

struct xarch_inspect_entry {
        const struct xarch_descriptor *desc; /* points into the result's manifest */
        bool hidden;                         /* not a runnable image (shown with --all) */
        int n_layers;                        /* -1 when unknown */
        uint64_t layers_size;
        bool has_config_platform; /* entries without a platform: the child's config platform */
        struct xarch_platform config_platform;
        char *error; /* why the child manifest could not be read, NULL if fine */
};

struct xarch_inspect {
        char *name;
        enum xarch_transport transport;
        struct xarch_blob_buf root; /* exact bytes, media type and digest */
        bool synthesized;           /* root made up for a legacy docker-archive */
        struct xarch_manifest *manifest;

        /* index: one entry per descriptor, in index order */
        struct xarch_inspect_entry *entries;
        size_t n_entries;

        /* single image: the platform from its config */
        bool has_config_platform;
        struct xarch_platform config_platform;

        /* selection, when options->platform was given */
        bool selection_done;
        int selected; /* entry index (index), 0 (single image that matches) or -1: no match */
        enum xarch_match_rule rule;
        char selected_digest[XARCH_DIGEST_MAX]; /* the image manifest a node would pull */
        int selected_depth; /* 0: an entry of the root; 1+: inside that many nested indexes */
        /* The runtime commits to an entry and then fails (a nested index with nothing that
         * matches inside, a media type it cannot pull, ...): why; selected is then -1. */
        char *selection_error;
        /* The pulled manifest is not a runnable image (artifactType, a signature or other
         * reference type, an attestation): what it is. The node pulls it all the same. */
        char *selection_warning;

        /* options->want_config: the selected (or only) image's config, exact bytes */
        struct xarch_blob_buf config;
};

/*
 * Reads the root document, then (for an index) every child manifest concurrently for layer
 * counts, and selects for options->platform as options->runtime's image pull does
 * (docs/runtimes.md): containerd (images.Manifest with LimitManifests(1)) sorts the entries
 * whose platform matches by vector rank, index order breaking ties, entries without a
 * platform last; it considers only the first: one without a platform must match by its
 * config, a nested index is descended into and, once chosen, must hold a match. Artifacts
 * and signatures are not skipped (selection_warning says so). Odd entries are kept and never
 * fail the index. A failing child is recorded in its entry, not fatal. want_config with an
 * index and no platform fails with -EINVAL.
 */
int xarch_image_inspect(struct xarch_image *img, const struct xarch_inspect_options *opts,
                struct xarch_inspect **ret, struct xarch_error **err);
void xarch_inspect_free(struct xarch_inspect *r);

#ifdef __cplusplus
}
#endif

#endif
