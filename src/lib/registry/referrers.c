/* SPDX-License-Identifier: MIT */
#include "registry/referrers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/membuf.h"
#include "macro.h"
#include "registry/client.h"
#include "registry/request.h"
#include "registry/secrets.h"
#include "registry/transport.h"

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"

void referrers_tag(const char *digest, char out[XARCH_DIGEST_MAX]) {
        snprintf(out, XARCH_DIGEST_MAX, "%s", digest);
        char *colon = strchr(out, ':');
        if (colon)
                *colon = '-';
}

int registry_referrers(struct xarch_registry *r, const struct xarch_ref *ref, const char *digest,
                struct xarch_blob_buf *ret, bool *from_api, struct xarch_error **err) {
        *ret = (struct xarch_blob_buf){};
        *from_api = false;
        if (!xarch_digest_valid(digest))
                return xarch_error_set(err, EINVAL, "invalid digest '%.80s'", digest);
        _cleanup_free_ struct http_req *q = calloc(1, sizeof(*q));
        if (!q)
                return xarch_error_set(err, ENOMEM, "out of memory");
        struct membuf body = {.max = XARCH_MANIFEST_MAX};
        char path[XARCH_DIGEST_MAX + 16];
        snprintf(path, sizeof(path), "referrers/%s", digest);
        q->method = "GET";
        q->accept = OCI_INDEX;
        q->max_total = XARCH_MANIFEST_MAX;
        q->on_body = membuf_append;
        q->ud = &body;
        bool sent = false;
        int rc = registry_request(r, ref, path, q, 0, &sent, err);
        if (rc < 0) {
                if (q->abort_code)
                        rc = fail_abort(q, "referrers", ref, XARCH_MANIFEST_MAX, err);
                free(body.data);
                return rc;
        }
        if (status_ok(q->status) && body.data && strstr(body.data, "\"manifests\"")) {
                /* no digest vouches for this list, and copy merges its descriptors into the
                 * destination's fallback tag: an echo of what we sent must not travel on */
                if (secrets_in_json(&r->secrets, body.data, body.len)) {
                        free(body.data);
                        return xarch_error_set(err, EBADMSG,
                                        "referrers of %s from '%s/%s' hold a credential that was "
                                        "sent to the registry (an echo); refused",
                                        digest, ref->registry, ref->repository);
                }
                ret->data = body.data;
                ret->len = body.len;
                snprintf(ret->media_type, sizeof(ret->media_type), "%s", OCI_INDEX);
                *from_api = true;
                return 0;
        }
        free(body.data);
        if (q->status == 401 || q->status == 403)
                return status_error(q, ref, "referrers", sent, err);

        /* no API: the fallback tag */
        char tag[XARCH_DIGEST_MAX];
        referrers_tag(digest, tag);
        struct xarch_error *e = NULL;
        rc = xarch_registry_get_manifest(r, ref, tag, ret, &e);
        if (rc == -ENOENT) {
                xarch_error_free(e);
                *ret = (struct xarch_blob_buf){};
                return 0;
        }
        if (rc < 0 && err && !*err)
                *err = e;
        else
                xarch_error_free(e);
        return rc;
}
