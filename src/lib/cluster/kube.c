/* SPDX-License-Identifier: MIT */
/*
 * The cluster document (a `kubectl get -o json` List) and the scheduling rules of the audit.
 * Semantics follow Kubernetes (k8s.io/api/core/v1 types and helpers, component-helpers'
 * nodeaffinity, kube-scheduler's filters):
 * - required node affinity: nodeSelectorTerms are ORed, a term's matchExpressions and
 *   matchFields are ANDed, a term with neither matches nothing, no terms match nothing;
 * - In/NotIn/Exists/DoesNotExist as label-selector operators (NotIn and DoesNotExist hold when
 *   the label is absent), Gt/Lt need the label and exactly one value, both parsed as integers;
 * - matchFields know only metadata.name (In/NotIn);
 * - a toleration with an empty effect matches every effect, an empty key (operator Exists)
 *   every key; operator Exists ignores the value, Equal (or empty) compares it;
 * - only NoSchedule and NoExecute taints stop scheduling (PreferNoSchedule is a preference);
 * - spec.unschedulable keeps pods off unless they tolerate node.kubernetes.io/unschedulable;
 * - the DaemonSet controller adds tolerations to its pods for not-ready, unreachable (NoExecute),
 *   disk-pressure, memory-pressure, pid-pressure, unschedulable and network-unavailable
 *   (NoSchedule).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kube.h"
#include "macro.h"

static const char *const kind_names[] = {
                [KUBE_NODE] = "Node",
                [KUBE_POD] = "Pod",
                [KUBE_REPLICASET] = "ReplicaSet",
                [KUBE_DEPLOYMENT] = "Deployment",
                [KUBE_STATEFULSET] = "StatefulSet",
                [KUBE_DAEMONSET] = "DaemonSet",
                [KUBE_JOB] = "Job",
                [KUBE_CRONJOB] = "CronJob",
                [KUBE_OTHER] = "Other",
};

const char *kube_kind_name(enum kube_kind k) {
        return k <= KUBE_OTHER ? kind_names[k] : "Other";
}

enum kube_kind kube_kind_from_name(const char *s) {
        for (int k = 0; k < KUBE_OTHER; k++)
                if (s && streq(s, kind_names[k]))
                        return (enum kube_kind) k;
        return KUBE_OTHER;
}

const char *kube_str(const json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        return s ? s : "";
}

json_t *kube_path(const json_t *obj, const char *path) {
        char part[64];
        const char *p = path;
        json_t *cur = (json_t *) obj;
        while (cur && *p) {
                size_t n = strcspn(p, ".");
                if (n >= sizeof(part))
                        return NULL;
                memcpy(part, p, n);
                part[n] = '\0';
                cur = json_object_get(cur, part);
                p += n;
                if (*p == '.')
                        p++;
        }
        return cur;
}

/* ---- parsing ---- */

/* Nesting depth of a JSON text, counted before jansson (which recurses) sees it. Returns false
 * beyond max. Strings are skipped whole (memchr to the next quote that is not escaped), so
 * brackets inside them do not count and their bytes are not looked at one by one. An
 * unterminated string ends the scan: jansson reports it. */
static bool depth_ok(const char *s, size_t len, unsigned max) {
        unsigned depth = 0;
        const char *p = s, *end = s + len;
        while (p < end) {
                char c = *p++;
                if (c == '"') {
                        for (;;) {
                                const char *q = memchr(p, '"', (size_t) (end - p));
                                if (!q)
                                        return true;
                                const char *b = q;
                                while (b > p && b[-1] == '\\')
                                        b--;
                                p = q + 1;
                                if (((q - b) & 1) == 0) /* not escaped: the string ends */
                                        break;
                        }
                } else if (c == '[' || c == '{') {
                        if (++depth > max)
                                return false;
                } else if ((c == ']' || c == '}') && depth > 0) {
                        depth--;
                }
        }
        return true;
}

static int add_skipped(struct xarch_audit_input *in, const char *kind) {
        char clean[64];
        size_t n = 0;
        for (const char *p = kind; *p && n < sizeof(clean) - 1; p++)
                clean[n++] = ((unsigned char) *p < 0x20 || *p == 0x7f) ? '?' : *p;
        clean[n] = '\0';
        if (!n)
                snprintf(clean, sizeof(clean), "(no kind)");
        for (size_t i = 0; i < in->n_skipped; i++)
                if (streq(in->skipped[i].kind, clean)) {
                        in->skipped[i].count++;
                        return 0;
                }
        if (in->n_skipped >= 256) /* a hostile list of distinct kinds: count them in one row */
                return add_skipped(in, "(other kinds)");
        struct xarch_audit_skipped *s = realloc(in->skipped, (in->n_skipped + 1) * sizeof(*s));
        if (!s)
                return -ENOMEM;
        in->skipped = s;
        if (!(s[in->n_skipped].kind = strdup(clean)))
                return -ENOMEM;
        s[in->n_skipped++].count = 1;
        return 0;
}

static bool condition_true(const json_t *obj, const char *type) {
        json_t *conds = kube_path(obj, "status.conditions"), *c;
        size_t i;
        json_array_foreach(conds, i, c) if (streq(kube_str(c, "type"), type)) return streq(
                        kube_str(c, "status"), "True");
        return false;
}

static int parse_node(struct xarch_audit_input *in, json_t *obj, struct xarch_error **err) {
        struct kube_node *n = &in->nodes[in->n_nodes];
        *n = (struct kube_node){0};
        n->name = kube_str(kube_path(obj, "metadata"), "name");
        n->labels = kube_path(obj, "metadata.labels");
        if (!json_is_object(n->labels))
                n->labels = NULL;
        n->unschedulable = json_is_true(kube_path(obj, "spec.unschedulable"));
        n->ready = condition_true(obj, "Ready");
        json_t *taints = kube_path(obj, "spec.taints"), *t;
        size_t i;
        if (json_array_size(taints)) {
                n->taints = calloc(json_array_size(taints), sizeof(*n->taints));
                if (!n->taints)
                        return xarch_error_set(err, ENOMEM, "out of memory");
                json_array_foreach(taints, i, t) {
                        n->taints[n->n_taints++] = (struct kube_taint){kube_str(t, "key"),
                                        kube_str(t, "value"), kube_str(t, "effect")};
                }
        }
        const char *os = kube_str(n->labels, "kubernetes.io/os");
        if (!os[0])
                os = kube_str(kube_path(obj, "status.nodeInfo"), "operatingSystem");
        const char *arch = kube_str(n->labels, "kubernetes.io/arch");
        if (!arch[0])
                arch = kube_str(kube_path(obj, "status.nodeInfo"), "architecture");
        if (!arch[0])
                arch = kube_str(n->labels, "beta.kubernetes.io/arch");
        char spec[XARCH_PLATFORM_STRING_MAX * 2];
        snprintf(spec, sizeof(spec), "%s/%s", os[0] ? os : "linux", arch[0] ? arch : "unknown");
        if (xarch_platform_parse(spec, &n->platform, NULL) < 0)
                snprintf(n->platform.arch, sizeof(n->platform.arch), "unknown");
        else
                xarch_platform_normalize(&n->platform);
        if (!n->platform.os[0])
                snprintf(n->platform.os, sizeof(n->platform.os), "linux");
        (void) xarch_audit_runtime_parse(
                        kube_str(kube_path(obj, "status.nodeInfo"), "containerRuntimeVersion"),
                        n->runtime, sizeof(n->runtime), n->runtime_version,
                        sizeof(n->runtime_version));
        in->n_nodes++;
        return 0;
}

static int parse_object(struct xarch_audit_input *in, enum kube_kind kind, json_t *obj) {
        struct kube_object *o = &in->objects[in->n_objects];
        *o = (struct kube_object){.kind = kind, .obj = obj, .owner_kind = KUBE_OTHER};
        json_t *meta = json_object_get(obj, "metadata");
        o->ns = kube_str(meta, "namespace");
        o->name = kube_str(meta, "name");
        o->uid = kube_str(meta, "uid");
        switch (kind) {
        case KUBE_POD:
                o->spec = json_object_get(obj, "spec");
                break;
        case KUBE_CRONJOB:
                o->spec = kube_path(obj, "spec.jobTemplate.spec.template.spec");
                break;
        default:
                o->spec = kube_path(obj, "spec.template.spec");
                break;
        }
        if (!json_is_object(o->spec))
                o->spec = NULL;
        json_t *owners = json_object_get(meta, "ownerReferences"), *ref;
        size_t i;
        json_array_foreach(owners, i, ref) {
                if (!json_is_true(json_object_get(ref, "controller")))
                        continue;
                /* names are bounded like the object's own (workloads are keyed by them: two
                 * owners cut to one prefix would be one workload) */
                if (strlen(kube_str(ref, "name")) > XARCH_AUDIT_STRING_MAX ||
                                strlen(kube_str(ref, "kind")) > XARCH_AUDIT_STRING_MAX)
                        break;
                o->owner_kind_name = kube_str(ref, "kind");
                o->owner_kind = kube_kind_from_name(o->owner_kind_name);
                o->owner_name = kube_str(ref, "name");
                o->owner_uid = kube_str(ref, "uid");
                break;
        }
        in->n_objects++;
        if (kind == KUBE_POD)
                in->n_pods++;
        else
                in->n_controllers++;
        return 0;
}

static size_t count_items(json_t *list, unsigned depth) {
        size_t n = 0;
        json_t *it;
        size_t i;
        json_array_foreach(json_object_get(list, "items"), i, it) {
                const char *kind = kube_str(it, "kind");
                size_t l = strlen(kind);
                if (depth < 4 && l >= 4 && streq(kind + l - 4, "List"))
                        n += count_items(it, depth + 1);
                else
                        n++;
        }
        return n;
}

static int walk_items(struct xarch_audit_input *in, json_t *list, unsigned depth,
                struct xarch_error **err) {
        json_t *it;
        size_t i;
        json_array_foreach(json_object_get(list, "items"), i, it) {
                if (!json_is_object(it)) {
                        int k = add_skipped(in, "(not an object)");
                        if (k < 0)
                                return xarch_error_set(err, -k, "out of memory");
                        continue;
                }
                const char *kind = kube_str(it, "kind");
                size_t l = strlen(kind);
                if (depth < 4 && l >= 4 && streq(kind + l - 4, "List")) {
                        int k = walk_items(in, it, depth + 1, err);
                        if (k < 0)
                                return k;
                        continue;
                }
                enum kube_kind kk = kube_kind_from_name(kind);
                json_t *meta = json_object_get(it, "metadata");
                /* every object we keep has a name; strings stay bounded */
                const char *name = kube_str(meta, "name");
                bool bad = !name[0] || strlen(name) > XARCH_AUDIT_STRING_MAX ||
                           strlen(kube_str(meta, "namespace")) > XARCH_AUDIT_STRING_MAX;
                if (kk == KUBE_OTHER || bad) {
                        int k = add_skipped(
                                        in, bad && kk != KUBE_OTHER ? "(unnamed object)" : kind);
                        if (k < 0)
                                return xarch_error_set(err, -k, "out of memory");
                        continue;
                }
                int k = kk == KUBE_NODE ? parse_node(in, it, err) : parse_object(in, kk, it);
                if (k < 0)
                        return k;
        }
        return 0;
}

int xarch_audit_input_parse(const void *data, size_t len, struct xarch_audit_input **ret,
                struct xarch_error **err) {
        if (!data || !ret)
                return xarch_error_set(err, EINVAL, "invalid arguments");
        if (len > XARCH_AUDIT_INPUT_MAX)
                return xarch_error_set(err, EFBIG, "the cluster document is larger than %u MiB",
                                XARCH_AUDIT_INPUT_MAX >> 20);
        if (!depth_ok(data, len, XARCH_AUDIT_DEPTH_MAX))
                return xarch_error_set(err, EFBIG, "the cluster document nests deeper than %u",
                                XARCH_AUDIT_DEPTH_MAX);
        json_error_t je;
        json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return xarch_error_set(err, EBADMSG,
                                "not a kubectl JSON document: %s (line %d, column %d)", je.text,
                                je.line, je.column);
        const char *kind = kube_str(root, "kind");
        size_t kl = strlen(kind);
        if (!json_is_object(root) || kl < 4 || !streq(kind + kl - 4, "List") ||
                        !json_is_array(json_object_get(root, "items"))) {
                int k = xarch_error_set(err, EBADMSG,
                                "not a List: kind '%s' (want the output of 'kubectl get "
                                "nodes,pods,... -A -o json')",
                                !json_is_object(root) ? "(not an object)"
                                : kl > 40             ? "(long)"
                                : kl == 0             ? "(none)"
                                                      : kind);
                json_decref(root);
                return k;
        }
        struct xarch_audit_input *in = calloc(1, sizeof(*in));
        if (!in) {
                json_decref(root);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        in->root = root;
        size_t n = count_items(root, 0);
        if (n > XARCH_AUDIT_OBJECTS_MAX) {
                xarch_audit_input_free(in);
                return xarch_error_set(err, EFBIG,
                                "the cluster document holds %zu objects (at "
                                "most %u)",
                                n, XARCH_AUDIT_OBJECTS_MAX);
        }
        in->nodes = calloc(n ? n : 1, sizeof(*in->nodes));
        in->objects = calloc(n ? n : 1, sizeof(*in->objects));
        if (!in->nodes || !in->objects) {
                xarch_audit_input_free(in);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        int k = walk_items(in, root, 0, err);
        if (k < 0) {
                xarch_audit_input_free(in);
                return k;
        }
        *ret = in;
        return 0;
}

static void input_free(struct xarch_audit_input *in, bool values) {
        if (!in)
                return;
        for (size_t i = 0; i < in->n_nodes; i++)
                free(in->nodes[i].taints);
        free(in->nodes);
        free(in->objects);
        for (size_t i = 0; i < in->n_skipped; i++)
                free(in->skipped[i].kind);
        free(in->skipped);
        if (values)
                json_decref(in->root);
        free(in);
}

void xarch_audit_input_free(struct xarch_audit_input *in) {
        input_free(in, true);
}

void xarch_audit_input_free_keep_values(struct xarch_audit_input *in) {
        input_free(in, false);
}

void xarch_audit_input_counts(const struct xarch_audit_input *in, struct xarch_audit_counts *ret) {
        *ret = (struct xarch_audit_counts){0};
        if (!in)
                return;
        ret->nodes = in->n_nodes;
        ret->pods = in->n_pods;
        ret->controllers = in->n_controllers;
        for (size_t i = 0; i < in->n_skipped; i++)
                ret->skipped += in->skipped[i].count;
}

int xarch_audit_runtime_parse(
                const char *s, char *name, size_t name_size, char *version, size_t version_size) {
        if (name_size)
                name[0] = '\0';
        if (version_size)
                version[0] = '\0';
        const char *sep = s ? strstr(s, "://") : NULL;
        if (!sep || sep == s || !sep[3])
                return -EINVAL;
        size_t n = (size_t) (sep - s);
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return -EINVAL;
        const char *v = sep + 3;
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p <= 0x20 || *p == 0x7f || (unsigned char) *p >= 0x80)
                        return -EINVAL;
        if (n >= name_size || strlen(v) >= version_size)
                return -ENOBUFS;
        memcpy(name, s, n);
        name[n] = '\0';
        snprintf(version, version_size, "%s", v);
        return 0;
}

/* ---- scheduling ---- */

static bool values_contain(const json_t *values, const char *s) {
        json_t *v;
        size_t i;
        json_array_foreach(values, i,
                        v) if (json_is_string(v) && streq(json_string_value(v), s)) return true;
        return false;
}

/* As Kubernetes' strconv.ParseInt(s, 10, 64): an optional sign, then digits only (strtoll
 * alone would skip leading white space, which the scheduler refuses). */
static bool parse_int64(const char *s, long long *ret) {
        if (!s || !((*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
                return false;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

bool kube_requirement_matches(const json_t *req, const json_t *labels) {
        const char *key = kube_str(req, "key");
        const char *op = kube_str(req, "operator");
        json_t *values = json_object_get(req, "values");
        json_t *lv = key[0] ? json_object_get(labels, key) : NULL;
        const char *value = json_string_value(lv);
        bool present = value != NULL;
        if (streq(op, "In"))
                return present && values_contain(values, value);
        if (streq(op, "NotIn"))
                return !present || !values_contain(values, value);
        if (streq(op, "Exists"))
                return present;
        if (streq(op, "DoesNotExist"))
                return !present;
        if (streq(op, "Gt") || streq(op, "Lt")) {
                long long have, want;
                if (!present || json_array_size(values) != 1 || !parse_int64(value, &have) ||
                                !parse_int64(json_string_value(json_array_get(values, 0)), &want))
                        return false;
                return streq(op, "Gt") ? have > want : have < want;
        }
        return false; /* an operator the API does not have */
}

static bool field_matches(const json_t *req, const char *node_name) {
        if (!streq(kube_str(req, "key"), "metadata.name"))
                return false;
        const char *op = kube_str(req, "operator");
        json_t *values = json_object_get(req, "values");
        if (streq(op, "In"))
                return values_contain(values, node_name);
        if (streq(op, "NotIn"))
                return !values_contain(values, node_name);
        return false;
}

static bool term_matches(const json_t *term, const struct kube_node *node, bool skip_fields) {
        json_t *exprs = json_object_get(term, "matchExpressions");
        json_t *fields = json_object_get(term, "matchFields");
        size_t n_fields = skip_fields ? 0 : json_array_size(fields);
        if (json_array_size(exprs) == 0 && n_fields == 0)
                return skip_fields && json_array_size(fields) > 0;
        json_t *r;
        size_t i;
        json_array_foreach(
                        exprs, i, r) if (!kube_requirement_matches(r, node->labels)) return false;
        if (!skip_fields)
                json_array_foreach(fields, i, r) if (!field_matches(r, node->name)) return false;
        return true;
}

bool kube_tolerates(const json_t *tol, const struct kube_taint *taint) {
        const char *effect = kube_str(tol, "effect");
        if (effect[0] && !streq(effect, taint->effect))
                return false;
        const char *key = kube_str(tol, "key");
        if (key[0] && !streq(key, taint->key))
                return false;
        const char *op = kube_str(tol, "operator");
        if (streq(op, "Exists"))
                return true;
        if (!op[0] || streq(op, "Equal"))
                return streq(kube_str(tol, "value"), taint->value);
        return false;
}

/* What the DaemonSet controller adds to every pod it makes (util.AddOrUpdateDaemonPodTolerations).
 */
static bool daemonset_tolerates(const struct kube_taint *t) {
        static const char *const no_execute[] = {
                        "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"};
        static const char *const no_schedule[] = {"node.kubernetes.io/disk-pressure",
                        "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure",
                        "node.kubernetes.io/unschedulable",
                        "node.kubernetes.io/network-unavailable"};
        for (size_t i = 0; i < ELEMENTSOF(no_execute); i++)
                if (streq(t->key, no_execute[i]) && streq(t->effect, "NoExecute"))
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(no_schedule); i++)
                if (streq(t->key, no_schedule[i]) && streq(t->effect, "NoSchedule"))
                        return true;
        return false;
}

static bool taint_tolerated(const json_t *tolerations, const struct kube_taint *t, bool daemonset) {
        if (daemonset && daemonset_tolerates(t))
                return true;
        json_t *tol;
        size_t i;
        json_array_foreach(tolerations, i, tol) if (kube_tolerates(tol, t)) return true;
        return false;
}

bool kube_fits(const json_t *spec, const struct kube_node *node, bool daemonset,
                bool honour_node_name, bool skip_node_name_fields) {
        if (honour_node_name) {
                const char *pinned = kube_str(spec, "nodeName");
                if (pinned[0] && !streq(pinned, node->name))
                        return false;
        }
        const char *key;
        json_t *v;
        json_object_foreach((json_t *) json_object_get(spec, "nodeSelector"), key, v) {
                const char *have = json_string_value(json_object_get(node->labels, key));
                if (!have || !json_is_string(v) || !streq(have, json_string_value(v)))
                        return false;
        }
        json_t *required = kube_path(spec,
                        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
        if (required && !json_is_null(required)) {
                json_t *terms = json_object_get(required, "nodeSelectorTerms"), *t;
                size_t i;
                bool any = false;
                json_array_foreach(terms, i, t) if (term_matches(t, node, skip_node_name_fields)) {
                        any = true;
                        break;
                }
                if (!any)
                        return false;
        }
        json_t *tolerations = json_object_get(spec, "tolerations");
        if (node->unschedulable) {
                struct kube_taint u = {"node.kubernetes.io/unschedulable", "", "NoSchedule"};
                if (!taint_tolerated(tolerations, &u, daemonset))
                        return false;
        }
        for (size_t i = 0; i < node->n_taints; i++) {
                const struct kube_taint *t = &node->taints[i];
                if (!streq(t->effect, "NoSchedule") && !streq(t->effect, "NoExecute"))
                        continue;
                if (!taint_tolerated(tolerations, t, daemonset))
                        return false;
        }
        return true;
}

bool kube_selector_matches(const char *selector, const json_t *labels) {
        const char *p = selector;
        while (*p) {
                size_t n = strcspn(p, ",");
                char part[512];
                if (n >= sizeof(part))
                        return false;
                memcpy(part, p, n);
                part[n] = '\0';
                p += n + (p[n] == ',');
                if (!part[0])
                        continue;
                char *eq = strchr(part, '=');
                if (eq) {
                        *eq = '\0';
                        const char *have = json_string_value(json_object_get(labels, part));
                        if (!have || !streq(have, eq + 1))
                                return false;
                } else if (!json_is_string(json_object_get(labels, part))) {
                        return false;
                }
        }
        return true;
}

/* ---- the affinity fix ---- */

static json_t *arch_requirement(const char *const *arches, size_t n) {
        json_t *values = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(values, json_string(arches[i]));
        return json_pack("{s:s, s:s, s:o}", "key", "kubernetes.io/arch", "operator", "In", "values",
                        values);
}

json_t *kube_affinity_with_arches(const json_t *spec, const char *const *arches, size_t n_arches,
                bool strip_node_name) {
        json_t *old = json_object_get(spec, "affinity");
        json_t *aff = json_is_object(old) ? json_deep_copy(old) : json_object();
        if (!aff)
                return NULL;
        json_t *na = json_object_get(aff, "nodeAffinity");
        if (!json_is_object(na)) {
                na = json_object();
                json_object_set_new(aff, "nodeAffinity", na);
        }
        const char *rkey = "requiredDuringSchedulingIgnoredDuringExecution";
        json_t *req = json_object_get(na, rkey);
        if (!json_is_object(req)) {
                req = json_object();
                json_object_set_new(na, rkey, req);
        }
        json_t *terms = json_object_get(req, "nodeSelectorTerms");
        if (!json_is_array(terms)) {
                terms = json_array();
                json_object_set_new(req, "nodeSelectorTerms", terms);
        }
        json_t *t;
        size_t i;
        json_array_foreach(terms, i, t) {
                if (!json_is_object(t))
                        continue;
                json_t *fields = json_object_get(t, "matchFields");
                bool stripped = false;
                if (strip_node_name && json_is_array(fields)) {
                        for (size_t f = json_array_size(fields); f-- > 0;)
                                if (streq(kube_str(json_array_get(fields, f), "key"),
                                                    "metadata.name")) {
                                        json_array_remove(fields, f);
                                        stripped = true;
                                }
                        if (json_array_size(fields) == 0)
                                json_object_del(t, "matchFields"); /* frees fields */
                }
                json_t *exprs = json_object_get(t, "matchExpressions");
                bool empty = json_array_size(exprs) == 0 &&
                             json_array_size(json_object_get(t, "matchFields")) == 0;
                if (empty && !stripped)
                        continue; /* an empty term matches nothing; keep it so */
                if (!json_is_array(exprs)) {
                        exprs = json_array();
                        json_object_set_new(t, "matchExpressions", exprs);
                }
                json_array_append_new(exprs, arch_requirement(arches, n_arches));
        }
        if (json_array_size(terms) == 0)
                json_array_append_new(terms, json_pack("{s:[o]}", "matchExpressions",
                                                             arch_requirement(arches, n_arches)));
        return aff;
}
