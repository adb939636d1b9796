/* SPDX-License-Identifier: MIT */
#include "registry/upload.h"

#include <errno.h>
#include <stdlib.h>

struct upload_target {
        int unused;
};

int upload_target_new(struct xarch_registry *r, const struct xarch_ref *ref,
                struct upload_target **ret, struct xarch_error **err) {
        (void) r;
        (void) ref;
        (void) ret;
        return xarch_error_set(err, ENOTSUP, "pushing to registries is not implemented yet");
}
void upload_target_free(struct upload_target *t) {
        free(t);
}
void upload_target_stats(struct upload_target *t, struct upload_stats *ret) {
        (void) t;
        *ret = (struct upload_stats){};
}
int upload_blob_exists(struct upload_target *t, const char *digest, uint64_t size,
                struct xarch_error **err) {
        (void) t, (void) digest, (void) size;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
int upload_manifest_exists(struct upload_target *t, const char *digest, struct xarch_error **err) {
        (void) t, (void) digest;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
int upload_blob_begin(struct upload_target *t, const char *digest, uint64_t size,
                const struct xarch_ref *mount_from, struct upload_blob **ret,
                struct xarch_error **err) {
        (void) t, (void) digest, (void) size, (void) mount_from, (void) ret;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
int upload_blob_write(struct upload_blob *b, const void *buf, size_t len) {
        (void) b, (void) buf, (void) len;
        return -ENOTSUP;
}
int upload_blob_error(struct upload_blob *b, struct xarch_error **err) {
        (void) b;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
int upload_blob_commit(struct upload_blob *b, const char *digest, uint64_t size,
                struct xarch_error **err) {
        (void) b, (void) digest, (void) size;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
void upload_blob_abort(struct upload_blob *b) {
        (void) b;
}
int upload_manifest_put(struct upload_target *t, const void *data, size_t len,
                const char *media_type, const char *digest, const char *reference,
                struct xarch_error **err) {
        (void) t, (void) data, (void) len, (void) media_type, (void) digest, (void) reference;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
int upload_tag(struct upload_target *t, const char *digest, const char *media_type,
                struct xarch_error **err) {
        (void) t, (void) digest, (void) media_type;
        return xarch_error_set(err, ENOTSUP, "not implemented");
}
