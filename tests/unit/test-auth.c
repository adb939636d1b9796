/* SPDX-License-Identifier: MIT */
/* Authentication helpers: WWW-Authenticate parsing, base64, token answers, credential lookup in
 * docker config.json / podman auth.json (with a real fake docker-credential-* helper on PATH),
 * and the registry client's small header parsers. */
#include <errno.h>
#include <limits.h>
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

#include "registry/auth.h"
#include "registry/registry.h"
#include "registry/secrets.h"

static char tmpdir[PATH_MAX];

static int setup(void **state) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/xarch-test-auth-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        setenv("HOME", tmpdir, 1);
        unsetenv("REGISTRY_AUTH_FILE");
        unsetenv("XDG_RUNTIME_DIR");
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("DOCKER_CONFIG");
        return 0;
}

static int teardown(void **state) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static int parse(const char *s, struct auth_challenge *c) {
        return auth_parse_www_authenticate(s, strlen(s), c);
}

static void test_www_authenticate_bearer(void **state) {
        struct auth_challenge c;
        assert_int_equal(parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry."
                               "docker.io\",scope=\"repository:samalba/my-app:pull,push\"",
                                         &c),
                        0);
        assert_int_equal(c.scheme, AUTH_SCHEME_BEARER);
        assert_string_equal(c.realm, "https://auth.docker.io/token");
        assert_string_equal(c.service, "registry.docker.io");
        assert_string_equal(c.scope, "repository:samalba/my-app:pull,push");

        /* case-insensitive scheme and names, spaces around '=', token values, escapes */
        assert_int_equal(parse("bEaReR  Realm = \"https://a/t\\\"x\" , SERVICE=svc,error="
                               "insufficient_scope",
                                         &c),
                        0);
        assert_string_equal(c.realm, "https://a/t\"x");
        assert_string_equal(c.service, "svc");
        assert_string_equal(c.error, "insufficient_scope");
        assert_string_equal(c.scope, "");

        /* several challenges: Bearer preferred over Basic, in either order */
        assert_int_equal(parse("Basic realm=\"r\", Bearer realm=\"https://t\",service=\"s\"", &c),
                        0);
        assert_int_equal(c.scheme, AUTH_SCHEME_BEARER);
        assert_string_equal(c.realm, "https://t");
        assert_int_equal(parse("Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
                               "Basic realm=\"simple\"",
                                         &c),
                        0);
        assert_int_equal(c.scheme, AUTH_SCHEME_BASIC);
        /* token68 challenges are skipped */
        assert_int_equal(parse("Negotiate abc/def+g==, Basic realm=\"x\"", &c), 0);
        assert_int_equal(c.scheme, AUTH_SCHEME_BASIC);
        assert_int_equal(parse("Basic", &c), 0);
        assert_int_equal(c.scheme, AUTH_SCHEME_BASIC);
        /* duplicate parameters: the first wins */
        assert_int_equal(parse("Bearer realm=\"https://one\",realm=\"https://two\"", &c), 0);
        assert_string_equal(c.realm, "https://one");
}

static void test_www_authenticate_hostile(void **state) {
        struct auth_challenge c;
        assert_int_equal(parse("", &c), -EOPNOTSUPP);
        assert_int_equal(parse("Negotiate", &c), -EOPNOTSUPP);
        assert_int_equal(parse("Bearer realm=\"unterminated", &c), -EINVAL);
        assert_int_equal(parse("Bearer realm=\"x\\", &c), -EINVAL);
        assert_int_equal(parse("Bearer service=\"no realm\"", &c), -EINVAL);
        assert_int_equal(parse("Bearer realm=\"a\x01b\"", &c), -EINVAL);
        assert_int_equal(parse("Bearer realm=\"x\" junk\"", &c), -EINVAL);
        assert_int_equal(parse("=", &c), -EINVAL);
        assert_int_equal(parse(",,,", &c), -EOPNOTSUPP);
        assert_int_equal(parse("Bearer realm=", &c), -EINVAL);
        /* over-long values are refused, not truncated */
        char *big = malloc(AUTH_REALM_MAX + 64);
        int n = snprintf(big, AUTH_REALM_MAX + 64, "Bearer realm=\"");
        memset(big + n, 'a', AUTH_REALM_MAX);
        strcpy(big + n + AUTH_REALM_MAX, "\"");
        assert_int_equal(parse(big, &c), -EINVAL);
        free(big);
        /* the parser never reads past len, even without a NUL */
        char buf[] = {'B', 'e', 'a', 'r', 'e', 'r', ' ', 'r', 'e', 'a', 'l', 'm', '=', '"', 'x'};
        assert_int_equal(auth_parse_www_authenticate(buf, sizeof(buf), &c), -EINVAL);
        assert_int_equal(auth_parse_www_authenticate("Bearer realm=\"x\"", 15, &c), -EINVAL);
}

static void test_base64(void **state) {
        char out[64];
        assert_int_equal(auth_base64_encode("alice:s3cret", 12, out, sizeof(out)), 16);
        assert_string_equal(out, "YWxpY2U6czNjcmV0");
        assert_int_equal(auth_base64_decode("YWxpY2U6czNjcmV0", 16, out, sizeof(out)), 12);
        assert_string_equal(out, "alice:s3cret");
        assert_int_equal(auth_base64_encode("a", 1, out, sizeof(out)), 4);
        assert_string_equal(out, "YQ==");
        assert_int_equal(auth_base64_decode("YQ==", 4, out, sizeof(out)), 1);
        assert_int_equal(auth_base64_decode("YQ", 2, out, sizeof(out)), 1);
        assert_int_equal(auth_base64_decode("Y!==", 4, out, sizeof(out)), -EINVAL);
        assert_int_equal(auth_base64_decode("YQ==YQ", 6, out, sizeof(out)), -EINVAL);
        assert_int_equal(auth_base64_decode("YWxpY2U6czNjcmV0", 16, out, 4), -ENOBUFS);
        assert_int_equal(auth_base64_encode("alice", 5, out, 4), -ENOBUFS);
}

static void test_token_response(void **state) {
        char *tok = NULL;
        long exp = 0;
        const char *a = "{\"token\":\"abc.def\",\"expires_in\":300}";
        assert_int_equal(auth_parse_token_response(a, strlen(a), &tok, &exp), 0);
        assert_string_equal(tok, "abc.def");
        assert_int_equal(exp, 300);
        free(tok);
        const char *b = "{\"access_token\":\"xyz\"}";
        assert_int_equal(auth_parse_token_response(b, strlen(b), &tok, &exp), 0);
        assert_string_equal(tok, "xyz");
        assert_int_equal(exp, 60); /* default, never below 60 */
        free(tok);
        const char *c = "{\"token\":\"\",\"access_token\":\"q\",\"expires_in\":5}";
        assert_int_equal(auth_parse_token_response(c, strlen(c), &tok, &exp), 0);
        assert_string_equal(tok, "q");
        assert_int_equal(exp, 60);
        free(tok);
        const char *bad[] = {"", "[]", "{}", "{\"token\":1}", "{\"token\":\"a\\r\\nX: y\"}",
                        "{\"token\":\"a b\"}", "{\"token\":\"a\\u0000b\"}",
                        "{\"token\":\"x\",\"token\":\"y\"}", "{\"token\":\"x\""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(auth_parse_token_response(bad[i], strlen(bad[i]), &tok, &exp),
                                -EBADMSG);
}

static void write_file(const char *path, const char *content, mode_t mode) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        char cmd[PATH_MAX + 32];
        *strrchr(dir, '/') = '\0';
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
        assert_int_equal(system(cmd), 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        chmod(path, mode);
}

static void test_docker_config_auths(void **state) {
        char path[PATH_MAX];
        struct auth_credentials c;
        struct xarch_error *err = NULL;
        snprintf(path, sizeof(path), "%s/.docker/config.json", tmpdir);
        /* "alice:s3cret", "bob:pw:with:colons", "carol:repo-scoped" */
        write_file(path,
                        "{\"auths\":{"
                        "\"https://index.docker.io/v1/\":{\"auth\":\"YWxpY2U6czNjcmV0\"},"
                        "\"reg.example:5000\":{\"auth\":\"Ym9iOnB3OndpdGg6Y29sb25z\"},"
                        "\"reg.example:5000/team/app\":{\"auth\":\"Y2Fyb2w6cmVwby1zY29wZWQ=\"},"
                        "\"tok.example\":{\"identitytoken\":\"refresh-me\"},"
                        "\"broken.example\":{\"auth\":\"!!!\"}}}",
                        0600);
        assert_int_equal(auth_lookup(NULL, "docker.io", "library/alpine", &c, &err), 1);
        assert_string_equal(c.username, "alice");
        assert_string_equal(c.secret, "s3cret");
        assert_false(c.identity_token);
        assert_int_equal(auth_lookup(NULL, "reg.example:5000", "other", &c, &err), 1);
        assert_string_equal(c.username, "bob");
        assert_string_equal(c.secret, "pw:with:colons");
        assert_int_equal(auth_lookup(NULL, "reg.example:5000", "team/app", &c, &err), 1);
        assert_string_equal(c.username, "carol");
        assert_int_equal(auth_lookup(NULL, "reg.example:5000", "team/app/sub", &c, &err), 1);
        assert_string_equal(c.username, "carol");
        assert_int_equal(auth_lookup(NULL, "tok.example", "x", &c, &err), 1);
        assert_true(c.identity_token);
        assert_string_equal(c.secret, "refresh-me");
        assert_int_equal(auth_lookup(NULL, "nothing.example", "x", &c, &err), 0);
        assert_int_equal(auth_lookup(NULL, "broken.example", "x", &c, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "not valid base64"));
        xarch_error_freep(&err);

        /* DOCKER_CONFIG moves the file; an explicit auth file must exist */
        setenv("DOCKER_CONFIG", "/nonexistent-dir", 1);
        assert_int_equal(auth_lookup(NULL, "docker.io", "library/alpine", &c, &err), 0);
        unsetenv("DOCKER_CONFIG");
        assert_int_equal(
                        auth_lookup("/nonexistent/auth.json", "docker.io", "x", &c, &err), -ENOENT);
        xarch_error_freep(&err);
        auth_credentials_wipe(&c);
        assert_int_equal(c.secret[0], '\0');
}

static void test_podman_and_registry_auth_file(void **state) {
        char path[PATH_MAX], run[PATH_MAX];
        struct auth_credentials c;
        snprintf(run, sizeof(run), "%s/run", tmpdir);
        snprintf(path, sizeof(path), "%s/containers/auth.json", run);
        write_file(path, "{\"auths\":{\"quay.io\":{\"auth\":\"cG9kOm1hbg==\"}}}", 0600);
        setenv("XDG_RUNTIME_DIR", run, 1);
        assert_int_equal(auth_lookup(NULL, "quay.io", "a/b", &c, NULL), 1);
        assert_string_equal(c.username, "pod");
        assert_string_equal(c.secret, "man");

        snprintf(path, sizeof(path), "%s/explicit.json", tmpdir);
        write_file(path, "{\"auths\":{\"quay.io\":{\"auth\":\"ZW52OnZhcg==\"}}}", 0600);
        setenv("REGISTRY_AUTH_FILE", path, 1);
        assert_int_equal(auth_lookup(NULL, "quay.io", "a/b", &c, NULL), 1);
        assert_string_equal(c.username, "env");
        unsetenv("REGISTRY_AUTH_FILE");
        unsetenv("XDG_RUNTIME_DIR");

        write_file(path, "{\"auths\": {", 0600);
        struct xarch_error *err = NULL;
        assert_int_equal(auth_lookup(path, "quay.io", "a/b", &c, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "invalid JSON"));
        xarch_error_freep(&err);
}

static void test_credential_helper_timeout(void **state) {
        char bin[PATH_MAX], helper[PATH_MAX];
        snprintf(bin, sizeof(bin), "%s/slowbin", tmpdir);
        mkdir(bin, 0755);
        snprintf(helper, sizeof(helper), "%s/docker-credential-slow", bin);
        /* A helper stuck on a locked keychain: it never answers. */
        write_file(helper, "#!/bin/sh\nexec sleep 30\n", 0755);
        char newpath[PATH_MAX * 2];
        snprintf(newpath, sizeof(newpath), "%s:%s", bin, getenv("PATH"));
        setenv("PATH", newpath, 1);

        int saved = auth_helper_timeout_ms;
        auth_helper_timeout_ms = 300;
        struct auth_credentials c;
        struct xarch_error *err = NULL;
        assert_int_equal(auth_run_credential_helper("slow", "slow.example", &c, &err), -ETIMEDOUT);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "did not answer"));
        xarch_error_freep(&err);
        auth_helper_timeout_ms = saved;
}

static void test_credential_helpers(void **state) {
        char bin[PATH_MAX], helper[PATH_MAX], path[PATH_MAX], log[PATH_MAX];
        struct auth_credentials c;
        struct xarch_error *err = NULL;
        snprintf(bin, sizeof(bin), "%s/bin", tmpdir);
        snprintf(log, sizeof(log), "%s/helper.log", tmpdir);
        /* A fake helper: records its argument and stdin, answers like docker's helpers. */
        char script[2048];
        snprintf(script, sizeof(script),
                        "#!/bin/sh\n"
                        "read -r url\n"
                        "echo \"$1 $url\" >> '%s'\n"
                        "case \"$url\" in\n"
                        "  https://index.docker.io/v1/) echo "
                        "'{\"ServerURL\":\"x\",\"Username\":\"hub\","
                        "\"Secret\":\"hubpw\"}' ;;\n"
                        "  helped.example) echo "
                        "'{\"ServerURL\":\"helped.example\",\"Username\":\"<token>\","
                        "\"Secret\":\"idtok\"}' ;;\n"
                        "  garbage.example) echo 'not json' ;;\n"
                        "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
                        "esac\n",
                        log);
        snprintf(helper, sizeof(helper), "%s/docker-credential-fake", bin);
        write_file(helper, script, 0755);
        char newpath[PATH_MAX * 2];
        snprintf(newpath, sizeof(newpath), "%s:%s", bin, getenv("PATH"));
        setenv("PATH", newpath, 1);

        snprintf(path, sizeof(path), "%s/helpers.json", tmpdir);
        write_file(path,
                        "{\"credHelpers\":{\"helped.example\":\"fake\",\"garbage.example\":"
                        "\"fake\","
                        "\"evil.example\":\"../../bin/sh\"},"
                        "\"auths\":{\"plain.example\":{\"auth\":\"cDpx\"}},"
                        "\"credsStore\":\"fake\"}",
                        0600);
        assert_int_equal(auth_lookup(path, "helped.example", "x", &c, &err), 1);
        assert_string_equal(c.username, "<token>");
        assert_string_equal(c.secret, "idtok");
        assert_true(c.identity_token);
        /* auths entries win over the credsStore */
        assert_int_equal(auth_lookup(path, "plain.example", "x", &c, &err), 1);
        assert_string_equal(c.username, "p");
        /* the credsStore serves Docker Hub with docker's server URL */
        assert_int_equal(auth_lookup(path, "docker.io", "library/x", &c, &err), 1);
        assert_string_equal(c.username, "hub");
        assert_string_equal(c.secret, "hubpw");
        /* "not found" is not an error */
        assert_int_equal(auth_lookup(path, "unknown.example", "x", &c, &err), 0);
        assert_null(err);
        assert_int_equal(auth_lookup(path, "garbage.example", "x", &c, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "malformed"));
        xarch_error_freep(&err);
        /* helper names cannot climb out of PATH */
        assert_int_equal(auth_lookup(path, "evil.example", "x", &c, &err), -EINVAL);
        xarch_error_freep(&err);
        /* a helper that does not exist */
        assert_int_equal(auth_run_credential_helper("does-not-exist", "h", &c, &err), -ENOENT);
        xarch_error_freep(&err);

        FILE *f = fopen(log, "r");
        assert_non_null(f);
        char line[256];
        assert_non_null(fgets(line, sizeof(line), f));
        assert_string_equal(line, "get helped.example\n");
        fclose(f);
}

static void test_registry_parsers(void **state) {
        assert_int_equal(registry_parse_retry_after("1", 0), 1);
        assert_int_equal(registry_parse_retry_after(" 120 ", 0), 120);
        assert_int_equal(registry_parse_retry_after("", 0), -1);
        assert_int_equal(registry_parse_retry_after(NULL, 0), -1);
        assert_int_equal(registry_parse_retry_after("1x", 0), -1);
        assert_int_equal(registry_parse_retry_after("-5", 0), -1);
        assert_int_equal(registry_parse_retry_after("99999999999999999999999", 0), -1);
        /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
        assert_int_equal(registry_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470),
                        10);
        assert_int_equal(
                        registry_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);

        long w;
        assert_int_equal(registry_parse_ratelimit("20;w=21600", &w), 20);
        assert_int_equal(w, 21600);
        assert_int_equal(registry_parse_ratelimit("7", &w), 7);
        assert_int_equal(w, 0);
        assert_int_equal(registry_parse_ratelimit("x", &w), -1);
        assert_int_equal(registry_parse_ratelimit(NULL, &w), -1);

        char code[64], msg[256];
        const char *body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest\\n"
                           "unknown\",\"detail\":{}}]}";
        assert_int_equal(registry_parse_error_body(body, strlen(body), code, msg), 0);
        assert_string_equal(code, "MANIFEST_UNKNOWN");
        assert_string_equal(msg, "manifest?unknown");
        assert_int_equal(registry_parse_error_body("oops", 4, code, msg), -EBADMSG);
        assert_int_equal(registry_parse_error_body("{\"errors\":[]}", 13, code, msg), -EBADMSG);

        assert_true(registry_url_same_origin("https://a.io/v2/x", "https://a.io:443/other"));
        assert_true(registry_url_same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5000/b"));
        assert_false(registry_url_same_origin(
                        "http://127.0.0.1:5000/a", "http://127.0.0.1:5001/a"));
        assert_false(registry_url_same_origin("https://a.io/", "http://a.io/"));
        assert_false(registry_url_same_origin("https://a.io/", "https://b.a.io/"));
        assert_false(registry_url_same_origin("https://a.io/", "not a url"));

        char mt[256];
        const char *idx = "{\"manifests\":[]}";
        registry_media_type_from_body(idx, strlen(idx), mt);
        assert_string_equal(mt, "application/vnd.oci.image.index.v1+json");
        const char *dk = "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                         "\"layers\":[]}";
        registry_media_type_from_body(dk, strlen(dk), mt);
        assert_string_equal(mt, "application/vnd.docker.distribution.manifest.v2+json");
        registry_media_type_from_body("[]", 2, mt);
        assert_string_equal(mt, "");
}

/* An auth file that is not a file says so (not "invalid JSON"), and a FIFO does not hang. */
static void test_auth_file_not_a_file(void **state) {
        struct auth_credentials c;
        struct xarch_error *err = NULL;
        assert_int_equal(auth_lookup(tmpdir, "quay.io", "a/b", &c, &err), -EISDIR);
        assert_non_null(strstr(err->msg, "is a directory"));
        assert_null(strstr(err->msg, "JSON"));
        xarch_error_freep(&err);
        char fifo[PATH_MAX];
        snprintf(fifo, sizeof(fifo), "%s/fifo.json", tmpdir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_true(auth_lookup(fifo, "quay.io", "a/b", &c, &err) < 0);
        assert_non_null(strstr(err->msg, "not a regular file"));
        xarch_error_freep(&err);
        unlink(fifo);
}

/* The echo checks: every form of a secret, split across stream pieces, \u-escaped in JSON. */
static void test_secrets(void **state) {
        struct secret_list s;
        secrets_init(&s);
        assert_false(secrets_in(&s, "anything", strlen("anything")));
        secrets_add(&s, NULL, "abc", 3); /* too short to look for */
        secrets_add(&s, NULL, "p\"ss/word", 9);
        secrets_add(&s, NULL, "alice:p\"ss/word", 15);
        assert_true(secrets_in(&s, "x p\"ss/word y", strlen("x p\"ss/word y")));
        assert_true(secrets_in_json(
                        &s, "{\"m\":\"p\\\"ss\\/word\"}", strlen("{\"m\":\"p\\\"ss\\/word\"}")));
        assert_true(secrets_in_json(&s, "{\"m\":\"p\\u0022ss\\u002fword\"}",
                        strlen("{\"m\":\"p\\u0022ss\\u002fword\"}")));
        assert_true(secrets_in_json(
                        &s, "{\"p\\u0022ss/word\":1}", strlen("{\"p\\u0022ss/word\":1}")));
        assert_false(secrets_in_json(
                        &s, "{\"m\":\"abc password\"}", strlen("{\"m\":\"abc password\"}")));
        char b64[64];
        int n = auth_base64_encode("alice:p\"ss/word", 15, b64, sizeof(b64));
        assert_true(n > 0);
        assert_true(secrets_in(&s, b64, (size_t) n));
        assert_true(secrets_in(&s, "p%22ss%2Fword", strlen("p%22ss%2Fword")));
        /* the searches look only for forms no other form is part of: the longer ones are
         * found through the shorter they hold */
        assert_true(secrets_in(&s, "alice%3Ap%22ss%2Fword", strlen("alice%3Ap%22ss%2Fword")));
        assert_true(secrets_in(&s, "alice:p\"ss/word", strlen("alice:p\"ss/word")));
        assert_false(secrets_in(&s, "alice:p\"ss/wor", strlen("alice:p\"ss/wor")));

        char *msg = strdup("denied: Basic YWxpY2U6cCJzcy93b3Jk for p\"ss/word, abc");
        assert_string_equal(b64, "YWxpY2U6cCJzcy93b3Jk");
        secrets_redact(&s, &msg);
        assert_string_equal(msg, "denied: Basic <redacted> for <redacted>, abc");
        free(msg);

        /* a stream: the secret split at every position between two pieces, and one byte at a
         * time */
        const char *text = "....p\"ss/word....";
        size_t len = strlen(text);
        for (size_t cut = 0; cut <= len; cut++) {
                struct secret_scan scan = {};
                secrets_scan_feed(&s, &scan, text, cut);
                secrets_scan_feed(&s, &scan, text + cut, len - cut);
                assert_true(scan.found);
                secrets_scan_release(&scan);
        }
        struct secret_scan scan = {};
        for (size_t i = 0; i < len; i++)
                secrets_scan_feed(&s, &scan, text + i, 1);
        assert_true(scan.found);
        secrets_scan_release(&scan);
        scan = (struct secret_scan){};
        secrets_scan_feed(&s, &scan, "p\"ss/wor", 8);
        secrets_scan_feed(&s, &scan, "x word", 6);
        assert_false(scan.found);
        secrets_scan_release(&scan);
        /* a secret that is part of the mark itself is replaced once, not forever */
        secrets_add(&s, NULL, "edac", 4);
        msg = strdup("an edac here");
        secrets_redact(&s, &msg);
        assert_string_equal(msg, "an <redacted> here");
        free(msg);
        secrets_free(&s);
}

/* A stream is searched only for a registry some secret was sent on behalf of; a secret sent
 * to that registry while its stream runs is still found across the seam. */
static void test_secrets_per_registry(void **state) {
        (void) state;
        struct secret_list s;
        secrets_init(&s);
        secrets_add(&s, "a.test:5000", "s3cret-a", 8);

        struct secret_scan from_b = {.registry = "b.test"};
        secrets_scan_feed(&s, &from_b, "x s3cret-a y", 12);
        assert_false(from_b.found); /* b was never sent it: it cannot echo it */
        secrets_scan_release(&from_b);

        struct secret_scan from_a = {.registry = "a.test:5000"};
        secrets_scan_feed(&s, &from_a, "x s3cret-a y", 12);
        assert_true(from_a.found);
        secrets_scan_release(&from_a);

        struct secret_scan unknown = {.registry = NULL};
        secrets_scan_feed(&s, &unknown, "x s3cret-a y", 12);
        assert_true(unknown.found);
        secrets_scan_release(&unknown);

        /* b's stream began before anything was sent to b; then b gets a token */
        struct secret_scan late = {.registry = "b.test"};
        secrets_scan_feed(&s, &late, "prefix tok-", 11);
        assert_false(late.found);
        secrets_add(&s, "b.test", "tok-for-b", 9);
        secrets_scan_feed(&s, &late, "for-b suffix", 12);
        assert_true(late.found);
        secrets_scan_release(&late);

        /* a secret added for no registry in particular makes every stream searched */
        secrets_add(&s, NULL, "anywhere", 8);
        struct secret_scan from_c = {.registry = "c.test"};
        secrets_scan_feed(&s, &from_c, "is s3cret-a here", 16);
        assert_true(from_c.found);
        secrets_scan_release(&from_c);
        secrets_free(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_www_authenticate_bearer),
                        cmocka_unit_test(test_www_authenticate_hostile),
                        cmocka_unit_test(test_base64),
                        cmocka_unit_test(test_token_response),
                        cmocka_unit_test(test_docker_config_auths),
                        cmocka_unit_test(test_podman_and_registry_auth_file),
                        cmocka_unit_test(test_credential_helpers),
                        cmocka_unit_test(test_credential_helper_timeout),
                        cmocka_unit_test(test_registry_parsers),
                        cmocka_unit_test(test_auth_file_not_a_file),
                        cmocka_unit_test(test_secrets),
                        cmocka_unit_test(test_secrets_per_registry),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
