/* SPDX-License-Identifier: MIT */
/* The scheduling rules of `xarch audit` (cluster/kube.c) as tables: node selectors, required
 * node affinity (OR of terms, AND of expressions, every operator), taints against tolerations,
 * the DaemonSet controller's own tolerations, and the affinity patch's merge. The semantics are
 * Kubernetes' (k8s.io/api/core/v1 docs, component-helpers nodeaffinity, kube-scheduler's
 * filters); the CLI tests run them over generated clusters. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/kube.h"
#include "macro.h"

static json_t *J(const char *text) {
        json_error_t e;
        json_t *v = json_loads(text, 0, &e);
        if (!v)
                fail_msg("bad test JSON: %s: %s", e.text, text);
        return v;
}

/* A node: labels as JSON, taints as "key=value:Effect;..." */
struct tnode {
        struct kube_node n;
        json_t *labels;
        struct kube_taint taints[8];
        char buf[8][3][64];
};

static void mknode(struct tnode *t, const char *name, const char *labels, const char *taints,
                bool unschedulable) {
        memset(t, 0, sizeof(*t));
        t->labels = J(labels);
        t->n.name = name;
        t->n.labels = t->labels;
        t->n.unschedulable = unschedulable;
        size_t n = 0;
        char copy[512];
        snprintf(copy, sizeof(copy), "%s", taints);
        char *save = NULL;
        for (char *tok = strtok_r(copy, ";", &save); tok && n < 8;
                        tok = strtok_r(NULL, ";", &save)) {
                char *colon = strrchr(tok, ':');
                assert_non_null(colon);
                *colon = '\0';
                char *eq = strchr(tok, '=');
                if (eq)
                        *eq = '\0';
                snprintf(t->buf[n][0], 64, "%s", tok);
                snprintf(t->buf[n][1], 64, "%s", eq ? eq + 1 : "");
                snprintf(t->buf[n][2], 64, "%s", colon + 1);
                t->taints[n] = (struct kube_taint){t->buf[n][0], t->buf[n][1], t->buf[n][2]};
                n++;
        }
        t->n.taints = t->taints;
        t->n.n_taints = n;
}

static void test_requirements(void **state) {
        (void) state;
        json_t *labels = J("{\"kubernetes.io/arch\":\"arm64\",\"cpus\":\"16\",\"zone\":\"a\","
                           "\"padded\":\" 16\"}");
        static const struct {
                const char *req;
                bool want;
        } rows[] = {
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"In\",\"values\":[\"amd64\",\"arm64\"]}",
                                        true},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"In\",\"values\":[\"amd64\"]}",
                                        false},
                        {"{\"key\":\"missing\",\"operator\":\"In\",\"values\":[\"x\"]}", false},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"NotIn\",\"values\":[\"amd64\"]}",
                                        true},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"NotIn\",\"values\":[\"arm64\"]}",
                                        false},
                        /* NotIn and DoesNotExist hold when the label is absent */
                        {"{\"key\":\"missing\",\"operator\":\"NotIn\",\"values\":[\"x\"]}", true},
                        {"{\"key\":\"zone\",\"operator\":\"Exists\"}", true},
                        {"{\"key\":\"missing\",\"operator\":\"Exists\"}", false},
                        {"{\"key\":\"missing\",\"operator\":\"DoesNotExist\"}", true},
                        {"{\"key\":\"zone\",\"operator\":\"DoesNotExist\"}", false},
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\"8\"]}", true},
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\"16\"]}", false},
                        {"{\"key\":\"cpus\",\"operator\":\"Lt\",\"values\":[\"17\"]}", true},
                        {"{\"key\":\"cpus\",\"operator\":\"Lt\",\"values\":[\"-3\"]}", false},
                        /* Gt/Lt: exactly one integer value, an integer label */
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\"1\",\"2\"]}", false},
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\"x\"]}", false},
                        {"{\"key\":\"zone\",\"operator\":\"Gt\",\"values\":[\"1\"]}", false},
                        {"{\"key\":\"missing\",\"operator\":\"Lt\",\"values\":[\"1\"]}", false},
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":["
                         "\"99999999999999999999\"]}",
                                        false},
                        /* as strconv.ParseInt(v, 10, 64): a sign, no spaces */
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\"+8\"]}", true},
                        {"{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\" 8\"]}", false},
                        {"{\"key\":\"cpus\",\"operator\":\"Lt\",\"values\":[\"\\n17\"]}", false},
                        {"{\"key\":\"cpus\",\"operator\":\"Lt\",\"values\":[\"\\t17\"]}", false},
                        {"{\"key\":\"padded\",\"operator\":\"Gt\",\"values\":[\"8\"]}", false},
                        {"{\"key\":\"zone\",\"operator\":\"Bogus\",\"values\":[\"a\"]}", false},
                        {"{\"operator\":\"Exists\"}", false},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                json_t *r = J(rows[i].req);
                if (kube_requirement_matches(r, labels) != rows[i].want)
                        fail_msg("%s: want %d", rows[i].req, rows[i].want);
                json_decref(r);
        }
        json_decref(labels);
}

static void test_tolerations(void **state) {
        (void) state;
        struct kube_taint t = {"kubernetes.io/arch", "arm64", "NoSchedule"};
        static const struct {
                const char *tol;
                bool want;
        } rows[] = {
                        {"{\"operator\":\"Exists\"}", true}, /* empty key + Exists: everything */
                        {"{\"key\":\"kubernetes.io/arch\",\"operator\":\"Exists\"}", true},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"Equal\",\"value\":\"arm64\"}",
                                        true},
                        {"{\"key\":\"kubernetes.io/arch\",\"value\":\"arm64\"}", true}, /* Equal */
                        {"{\"key\":\"kubernetes.io/arch\",\"value\":\"amd64\"}", false},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"}",
                                        false},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}",
                                        true},
                        {"{\"key\":\"other\",\"operator\":\"Exists\"}", false},
                        {"{\"operator\":\"Exists\",\"effect\":\"NoExecute\"}", false},
                        {"{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"Weird\",\"value\":\"arm64\"}",
                                        false},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                json_t *r = J(rows[i].tol);
                if (kube_tolerates(r, &t) != rows[i].want)
                        fail_msg("%s: want %d", rows[i].tol, rows[i].want);
                json_decref(r);
        }
}

static void test_fits(void **state) {
        (void) state;
        struct tnode amd, arm, armt, cordoned, notready;
        mknode(&amd, "amd-1", "{\"kubernetes.io/arch\":\"amd64\",\"disk\":\"ssd\"}", "", false);
        mknode(&arm, "arm-1", "{\"kubernetes.io/arch\":\"arm64\",\"disk\":\"hdd\"}",
                        "dedicated=ml:PreferNoSchedule", false);
        mknode(&armt, "arm-2", "{\"kubernetes.io/arch\":\"arm64\"}",
                        "kubernetes.io/arch=arm64:NoSchedule", false);
        mknode(&cordoned, "amd-2", "{\"kubernetes.io/arch\":\"amd64\"}", "", true);
        mknode(&notready, "amd-3", "{\"kubernetes.io/arch\":\"amd64\"}",
                        "node.kubernetes.io/not-ready:NoExecute", false);
        static const struct {
                const char *spec;
                bool daemonset;
                const char *want; /* fits on amd, arm, armt, cordoned, notready: 1/0 */
        } rows[] = {
                        {"{}", false, "11000"},
                        {"{}", true, "11011"}, /* DaemonSet pods tolerate unschedulable, not-ready
                                                */
                        {"{\"nodeSelector\":{\"kubernetes.io/arch\":\"arm64\"}}", false, "01000"},
                        {"{\"nodeSelector\":{\"disk\":\"ssd\",\"kubernetes.io/arch\":\"amd64\"}}",
                                        false, "10000"},
                        {"{\"tolerations\":[{\"operator\":\"Exists\"}]}", false, "11111"},
                        {"{\"tolerations\":[{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"Exists\"}]}",
                                        false, "11100"},
                        /* terms are ORed, expressions ANDed */
                        {"{\"affinity\":{\"nodeAffinity\":{"
                         "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                         "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"disk\","
                         "\"operator\":"
                         "\"In\",\"values\":[\"hdd\"]}]},{\"matchExpressions\":[{\"key\":\"disk\","
                         "\"operator\":\"In\",\"values\":[\"ssd\"]}]}]}}}}",
                                        false, "11000"},
                        {"{\"affinity\":{\"nodeAffinity\":{"
                         "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                         "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"disk\","
                         "\"operator\":"
                         "\"Exists\"},{\"key\":\"kubernetes.io/"
                         "arch\",\"operator\":\"NotIn\",\"values\":"
                         "[\"amd64\"]}]}]}}},\"tolerations\":[{\"operator\":\"Exists\"}]}",
                                        false, "01000"},
                        /* an empty term, or no terms, match nothing */
                        {"{\"affinity\":{\"nodeAffinity\":{"
                         "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                         "{\"nodeSelectorTerms\":[{}]}}}}",
                                        false, "00000"},
                        {"{\"affinity\":{\"nodeAffinity\":{"
                         "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                         "{\"nodeSelectorTerms\":[]}}}}",
                                        false, "00000"},
                        /* matchFields on metadata.name */
                        {"{\"affinity\":{\"nodeAffinity\":{"
                         "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                         "{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\","
                         "\"operator\":"
                         "\"In\",\"values\":[\"arm-1\"]}]}]}}}}",
                                        false, "01000"},
                        /* preferred terms do not filter */
                        {"{\"affinity\":{\"nodeAffinity\":{"
                         "\"preferredDuringSchedulingIgnoredDuringExecution\":"
                         "[{\"weight\":1,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\","
                         "\"operator\":\"In\",\"values\":[\"nvme\"]}]}}]}}}",
                                        false, "11000"},
                        {"{\"nodeName\":\"arm-2\"}", false, "00000"}, /* pinned, but tainted */
                        {"{\"nodeName\":\"arm-2\",\"tolerations\":[{\"operator\":\"Exists\"}]}",
                                        false, "00100"},
        };
        const struct kube_node *nodes[] = {&amd.n, &arm.n, &armt.n, &cordoned.n, &notready.n};
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                json_t *spec = J(rows[i].spec);
                char got[8] = "";
                for (size_t n = 0; n < ELEMENTSOF(nodes); n++)
                        got[n] = kube_fits(spec, nodes[n], rows[i].daemonset, true, false) ? '1'
                                                                                           : '0';
                if (!streq(got, rows[i].want))
                        fail_msg("%s (daemonset %d): got %s, want %s", rows[i].spec,
                                        rows[i].daemonset, got, rows[i].want);
                json_decref(spec);
        }
        /* a DaemonSet pod's matchFields are ignored when asked (its template has none) */
        json_t *ds = J("{\"affinity\":{\"nodeAffinity\":{"
                       "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                       "{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\","
                       "\"operator\":\"In\",\"values\":[\"amd-1\"]}]}]}}}}");
        assert_true(kube_fits(ds, &arm.n, true, false, true));
        assert_false(kube_fits(ds, &arm.n, true, false, false));
        json_decref(ds);
        struct tnode *all[] = {&amd, &arm, &armt, &cordoned, &notready};
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                json_decref(all[i]->labels);
}

static void test_selector(void **state) {
        (void) state;
        json_t *labels = J("{\"pool\":\"arm\",\"emu\":\"\"}");
        assert_true(kube_selector_matches("pool=arm", labels));
        assert_true(kube_selector_matches("pool=arm,emu", labels));
        assert_false(kube_selector_matches("pool=amd", labels));
        assert_false(kube_selector_matches("pool=arm,gpu", labels));
        assert_true(kube_selector_matches("", labels));
        json_decref(labels);
}

/* the patch: every non-empty required term gains the arch expression, nothing is replaced */
static void expect_affinity(const char *spec_text, bool strip, const char *want_text) {
        json_t *spec = J(spec_text);
        const char *arches[] = {"amd64", "arm64"};
        json_t *got = kube_affinity_with_arches(spec, arches, 2, strip);
        json_t *want = J(want_text);
        if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_SORT_KEYS);
                fail_msg("%s:\n got %s\nwant %s", spec_text, g, want_text);
        }
        json_decref(got);
        json_decref(want);
        json_decref(spec);
}

#define ARCH "{\"key\":\"kubernetes.io/arch\",\"operator\":\"In\",\"values\":[\"amd64\",\"arm64\"]}"
#define REQ  "\"requiredDuringSchedulingIgnoredDuringExecution\""

static void test_affinity_patch(void **state) {
        (void) state;
        /* none: created */
        expect_affinity("{}", false,
                        "{\"nodeAffinity\":{" REQ ":{\"nodeSelectorTerms\":[{\"matchExpressions\":"
                        "[" ARCH "]}]}}}");
        /* two terms: both gain it (OR of (A and arch), (B and arch)); preferred and pod
         * affinity kept */
        expect_affinity("{\"affinity\":{\"podAntiAffinity\":{\"x\":1},\"nodeAffinity\":{"
                        "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":1}]," REQ
                        ":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"a\","
                        "\"operator\":\"Exists\"}]},{\"matchFields\":[{\"key\":\"metadata.name\","
                        "\"operator\":\"In\",\"values\":[\"n1\"]}]}]}}}}",
                        false,
                        "{\"podAntiAffinity\":{\"x\":1},\"nodeAffinity\":{"
                        "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":1}]," REQ
                        ":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"a\","
                        "\"operator\":\"Exists\"}," ARCH "]},{\"matchFields\":[{\"key\":"
                        "\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}],"
                        "\"matchExpressions\":[" ARCH "]}]}}}");
        /* an empty term matches nothing and stays empty */
        expect_affinity("{\"affinity\":{\"nodeAffinity\":{" REQ ":{\"nodeSelectorTerms\":[{},"
                        "{\"matchExpressions\":[]}]}}}}",
                        false,
                        "{\"nodeAffinity\":{" REQ
                        ":{\"nodeSelectorTerms\":[{},{\"matchExpressions\":"
                        "[]}]}}}");
        /* a DaemonSet pod's per-node matchFields are dropped (its template has none) */
        expect_affinity("{\"affinity\":{\"nodeAffinity\":{" REQ ":{\"nodeSelectorTerms\":[{"
                        "\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
                        "\"values\":[\"n1\"]}]}]}}}}",
                        true,
                        "{\"nodeAffinity\":{" REQ ":{\"nodeSelectorTerms\":[{\"matchExpressions\":"
                        "[" ARCH "]}]}}}");
        /* an existing arch expression is ANDed with, not replaced */
        expect_affinity("{\"affinity\":{\"nodeAffinity\":{" REQ ":{\"nodeSelectorTerms\":[{"
                        "\"matchExpressions\":[{\"key\":\"kubernetes.io/arch\",\"operator\":"
                        "\"NotIn\",\"values\":[\"s390x\"]}]}]}}}}",
                        false,
                        "{\"nodeAffinity\":{" REQ ":{\"nodeSelectorTerms\":[{\"matchExpressions\":"
                        "[{\"key\":\"kubernetes.io/arch\",\"operator\":\"NotIn\",\"values\":"
                        "[\"s390x\"]}," ARCH "]}]}}}");
}

static void test_runtime(void **state) {
        (void) state;
        char n[32], v[32];
        assert_int_equal(xarch_audit_runtime_parse(
                                         "containerd://1.7.22", n, sizeof(n), v, sizeof(v)),
                        0);
        assert_string_equal(n, "containerd");
        assert_string_equal(v, "1.7.22");
        assert_int_equal(
                        xarch_audit_runtime_parse("cri-o://1.30.1", n, sizeof(n), v, sizeof(v)), 0);
        assert_string_equal(n, "cri-o");
        assert_int_equal(xarch_audit_runtime_parse("docker://24.0.7", n, sizeof(n), v, sizeof(v)),
                        0);
        assert_string_equal(v, "24.0.7");
        assert_int_equal(xarch_audit_runtime_parse("containerd", n, sizeof(n), v, sizeof(v)),
                        -EINVAL);
        assert_int_equal(xarch_audit_runtime_parse("://1", n, sizeof(n), v, sizeof(v)), -EINVAL);
        assert_int_equal(xarch_audit_runtime_parse("x://1 2", n, sizeof(n), v, sizeof(v)), -EINVAL);
        assert_int_equal(xarch_audit_runtime_parse("X://1", n, sizeof(n), v, sizeof(v)), -EINVAL);
        assert_int_equal(xarch_audit_runtime_parse(NULL, n, sizeof(n), v, sizeof(v)), -EINVAL);
}

static void test_parse_hostile(void **state) {
        (void) state;
        static const char *const bad[] = {
                        "",
                        "{",
                        "[]",
                        "null",
                        "{\"kind\":\"Pod\"}",
                        "{\"kind\":\"List\"}",
                        "{\"kind\":\"List\",\"items\":{}}",
                        "{\"kind\":\"List\",\"items\":[",
                        "{\"kind\":\"List\",\"items\":[],\"items\":[]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct xarch_audit_input *in = NULL;
                struct xarch_error *err = NULL;
                int k = xarch_audit_input_parse(bad[i], strlen(bad[i]), &in, &err);
                if (k != -EBADMSG)
                        fail_msg("'%s': %d", bad[i], k);
                assert_non_null(err);
                xarch_error_free(err);
        }
        /* nesting beyond the limit is refused before jansson recurses */
        size_t depth = XARCH_AUDIT_DEPTH_MAX + 5;
        char *deep = malloc(depth * 2 + 64);
        size_t n = 0;
        n += (size_t) sprintf(deep, "{\"kind\":\"List\",\"items\":");
        for (size_t i = 0; i < depth; i++)
                deep[n++] = '[';
        for (size_t i = 0; i < depth; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        struct xarch_audit_input *in = NULL;
        assert_int_equal(xarch_audit_input_parse(deep, n, &in, NULL), -EFBIG);
        free(deep);
        /* brackets inside strings do not nest, whatever the escapes before a quote: \" stays
         * in the string, \\" ends it */
        for (int ends = 0; ends < 2; ends++) {
                char *s = malloc(depth * 2 + 128);
                n = (size_t) sprintf(s, "{\"kind\":\"List\",\"items\":[],\"x\":\"%s",
                                ends ? "a\\\\\"," : "a\\\"");
                if (ends) { /* the string ended: these brackets are real, and too deep */
                        for (size_t i = 0; i < depth; i++)
                                s[n++] = '[';
                        for (size_t i = 0; i < depth; i++)
                                s[n++] = ']';
                        n += (size_t) sprintf(s + n, "}");
                } else {
                        for (size_t i = 0; i < depth; i++)
                                s[n++] = '[';
                        n += (size_t) sprintf(s + n, "\"}");
                }
                in = NULL;
                int k = xarch_audit_input_parse(s, n, &in, NULL);
                if (ends)
                        assert_int_equal(k, -EFBIG);
                else
                        assert_int_equal(k, 0);
                xarch_audit_input_free(in);
                free(s);
        }
        /* unknown kinds are counted and skipped; nested lists flattened; nameless objects
         * skipped */
        const char *doc = "{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":"
                          "{\"name\":\"s\"}},{\"kind\":\"Service\"},{\"kind\":\"PodList\","
                          "\"items\":[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}},"
                          "{\"kind\":\"Pod\",\"metadata\":{}}]},7,{\"kind\":\"Node\","
                          "\"metadata\":{\"name\":\"n\",\"labels\":{\"kubernetes.io/arch\":"
                          "\"arm64\"}}}]}";
        assert_int_equal(xarch_audit_input_parse(doc, strlen(doc), &in, NULL), 0);
        struct xarch_audit_counts c;
        xarch_audit_input_counts(in, &c);
        assert_int_equal(c.nodes, 1);
        assert_int_equal(c.pods, 1);
        assert_int_equal(c.skipped, 4);
        assert_string_equal(in->nodes[0].platform.arch, "arm64");
        xarch_audit_input_free(in);

        /* a controlling owner with an overlong name is no owner: workloads are keyed by owner
         * names, and two cut to the same prefix would have been one workload */
        size_t long_name = 3 * XARCH_AUDIT_STRING_MAX;
        char *owned = malloc(long_name + 512);
        n = (size_t) sprintf(owned, "{\"kind\":\"List\",\"items\":[{\"kind\":\"Pod\",\"metadata\":"
                                    "{\"name\":\"p\",\"ownerReferences\":[{\"kind\":"
                                    "\"ReplicaSet\",\"controller\":true,\"name\":\"");
        memset(owned + n, 'r', long_name);
        n += long_name;
        n += (size_t) sprintf(owned + n, "\"}]}}]}");
        assert_int_equal(xarch_audit_input_parse(owned, n, &in, NULL), 0);
        assert_int_equal(in->n_objects, 1);
        assert_null(in->objects[0].owner_name);
        assert_int_equal(in->objects[0].owner_kind, KUBE_OTHER);
        xarch_audit_input_free(in);
        free(owned);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_requirements),
                        cmocka_unit_test(test_tolerations),
                        cmocka_unit_test(test_fits),
                        cmocka_unit_test(test_selector),
                        cmocka_unit_test(test_affinity_patch),
                        cmocka_unit_test(test_runtime),
                        cmocka_unit_test(test_parse_hostile),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
