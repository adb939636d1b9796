/* SPDX-License-Identifier: MIT */
/*
 * Image references and digests: every line is parsed; accepted references must format, parse
 * back to the same fields, and respect their bounds. Also exercises the docker config.json
 * "auths" decoding (base64) and the registry's small header parsers on the same bytes, the
 * secret checks (a JSON document, a stream in two pieces, redaction) and URL checks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/auth.h"
#include "macro.h"
#include "registry/registry.h"
#include "registry/secrets.h"
#include "registry/transport.h"
#include "xarch/digest.h"
#include "xarch/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

static void check_ref(const char *s) {
        struct xarch_ref r, again;
        struct xarch_error *err = NULL;
        int rc = xarch_ref_parse(s, &r, &err);
        if (rc < 0) {
                check(rc == -EINVAL && err && err->msg);
                xarch_error_free(err);
                return;
        }
        check(!err);
        check(*r.registry && *r.repository && (*r.tag || *r.digest));
        check(!*r.digest || xarch_digest_valid(r.digest));
        check(strlen(r.registry) + 1 + strlen(r.repository) <= 255);
        char buf[XARCH_REF_STRING_MAX];
        int n = xarch_ref_format(&r, buf, sizeof(buf));
        check(n > 0 && (size_t) n == strlen(buf));
        check(xarch_ref_parse(buf, &again, NULL) == 0);
        check(streq(r.registry, again.registry) && streq(r.repository, again.repository) &&
                        streq(r.tag, again.tag) && streq(r.digest, again.digest));
        check(xarch_ref_format(&r, buf, (size_t) n) == -ENOBUFS);
        const char *reference = xarch_ref_reference(&r);
        check(reference == r.digest || reference == r.tag);
        (void) xarch_ref_registry_is_loopback(r.registry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 16 * 1024)
                return 0;
        _cleanup_free_ char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        /* the whole input through the byte-oriented parsers */
        char out[512];
        int n = auth_base64_decode((const char *) data, size, out, sizeof(out));
        check(n < 0 || (size_t) n < sizeof(out));
        char code[64], msg[256];
        if (registry_parse_error_body((const char *) data, size, code, msg) == 0)
                check(strlen(code) < 64 && strlen(msg) < 256);
        char *tok = NULL;
        long expires = 0;
        if (auth_parse_token_response((const char *) data, size, &tok, &expires) == 0) {
                check(expires >= 60 && strlen(tok) > 0);
                for (const char *p = tok; *p; p++)
                        check(*p > 0x20 && *p < 0x7f);
                free(tok);
        }

        /* echoed credentials: the whole input as a document, as a stream cut in two, and as a
         * message; a redacted message holds no secret any more */
        static struct secret_list secrets;
        static bool secrets_ready;
        if (!secrets_ready) {
                secrets_init(&secrets);
                secrets_add(&secrets, NULL, "s3cret", 6);
                secrets_add(&secrets, NULL, "alice:s3cret", 12);
                secrets_add(&secrets, NULL, "tok\"en/1", 9);
                secrets_ready = true;
        }
        bool found = secrets_in_json(&secrets, (const char *) data, size);
        check(found || !secrets_in(&secrets, data, size));
        struct secret_scan scan = {};
        secrets_scan_feed(&secrets, &scan, data, size / 2);
        secrets_scan_feed(&secrets, &scan, data + size / 2, size - size / 2);
        check(scan.found == secrets_in(&secrets, data, size));
        secrets_scan_release(&scan);
        char *message = strdup(text);
        if (message) {
                secrets_redact(&secrets, &message);
                check(!secrets_in(&secrets, message, strlen(message)));
                free(message);
        }
        (void) url_problem(text);

        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                check_ref(line);
                bool valid = xarch_digest_valid(line);
                if (valid) {
                        char d[XARCH_DIGEST_MAX];
                        check(xarch_digest_buffer(line, line, strlen(line), d) == 0);
                        check(xarch_digest_valid(d) && strncmp(d, line, 6) == 0);
                }
                long w;
                (void) registry_parse_ratelimit(line, &w);
                check(registry_parse_retry_after(line, time(NULL)) >= -1);
        }
        return 0;
}
