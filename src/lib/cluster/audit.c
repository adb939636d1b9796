/* SPDX-License-Identifier: MIT */
/*
 * The audit: workloads from the owner chains of pods (Pod -> ReplicaSet -> Deployment,
 * StatefulSet, DaemonSet, Job -> CronJob, bare pods), the nodes each can land on, the verdict of
 * `xarch check` for each image on each node platform (with or without the node's emulator),
 * the evidence pods carry (xarch diagnose on their status messages), the risk, the
 * node-affinity patch, and what --what-if nodes would change.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jobs.h"
#include "cluster/kube.h"
#include "macro.h"
#include "xarch/diagnose.h"
#include "xarch/verify.h"

const char *xarch_audit_risk_name(enum xarch_audit_risk r) {
        switch (r) {
        case XARCH_AUDIT_OK:
                return "ok";
        case XARCH_AUDIT_AT_RISK:
                return "at-risk";
        case XARCH_AUDIT_UNKNOWN:
                return "unknown";
        case XARCH_AUDIT_BROKEN:
                return "broken";
        }
        return "unknown";
}

int xarch_audit_verdict_severity(enum xarch_check_verdict v) {
        switch (v) {
        case XARCH_VERDICT_NATIVE:
                return 0;
        case XARCH_VERDICT_EMULATED:
                return 1;
        case XARCH_VERDICT_EMULATED_UNKNOWN:
                return 2;
        case XARCH_VERDICT_EMULATED_CRASH:
                return 3;
        case XARCH_VERDICT_FAILS:
                return 4;
        }
        return 4;
}

#define SEV(v)   xarch_audit_verdict_severity(v)
#define SEV_RISK 2 /* emulated-unknown and worse: may not run */

int xarch_audit_emulation_rule_parse(
                char *s, struct xarch_audit_emulation_rule *ret, struct xarch_error **err) {
        *ret = (struct xarch_audit_emulation_rule){0};
        char *eq = s ? strrchr(s, '=') : NULL;
        if (!eq || eq == s || !eq[1])
                return xarch_error_set(
                                err, EINVAL, "'%s' is not SELECTOR=ARCH[,ARCH...]", s ? s : "");
        *eq = '\0';
        ret->selector = s;
        char *save = NULL;
        for (char *a = strtok_r(eq + 1, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
                struct xarch_platform p;
                if (xarch_platform_parse(a, &p, NULL) < 0 || !xarch_arch_is_known(p.arch))
                        return xarch_error_set(err, EINVAL, "unknown architecture '%s'", a);
                if (ret->n_arches >= ELEMENTSOF(ret->arches))
                        return xarch_error_set(err, E2BIG, "too many architectures");
                snprintf(ret->arches[ret->n_arches++], XARCH_PLATFORM_FIELD_MAX, "%s", p.arch);
        }
        return 0;
}

/* ---- small helpers ---- */

/* A copy for reports: control bytes (C0, DEL, UTF-8 C1) as '?', cut at a character boundary. */
static char *clean_dup(const char *s, size_t max) {
        if (!s)
                s = "";
        size_t n = strlen(s);
        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
        }
        char *d = malloc(n + 1);
        if (!d)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == 0xc2 && i + 1 < n && (unsigned char) s[i + 1] >= 0x80 &&
                                (unsigned char) s[i + 1] <= 0x9f) {
                        d[i] = d[i + 1] = '?';
                        i++;
                        continue;
                }
                d[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        d[n] = '\0';
        return d;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

/* An open-addressing string map to indices (keys owned). */
struct strmap {
        char **keys;
        size_t *values;
        size_t cap, n;
};

static uint64_t hash_str(const char *s) {
        uint64_t h = 1469598103934665603ull;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ull;
        return h;
}

static int strmap_grow(struct strmap *m) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        char **keys = calloc(cap, sizeof(*keys));
        size_t *values = calloc(cap, sizeof(*values));
        if (!keys || !values) {
                free(keys);
                free(values);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++) {
                if (!m->keys[i])
                        continue;
                size_t j = hash_str(m->keys[i]) & (cap - 1);
                while (keys[j])
                        j = (j + 1) & (cap - 1);
                keys[j] = m->keys[i];
                values[j] = m->values[i];
        }
        free(m->keys);
        free(m->values);
        m->keys = keys;
        m->values = values;
        m->cap = cap;
        return 0;
}

static bool strmap_get(const struct strmap *m, const char *key, size_t *ret) {
        if (!m->cap)
                return false;
        for (size_t j = hash_str(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1))
                if (streq(m->keys[j], key)) {
                        *ret = m->values[j];
                        return true;
                }
        return false;
}

static int strmap_put(struct strmap *m, const char *key, size_t value) {
        if ((m->n + 1) * 2 > m->cap && strmap_grow(m) < 0)
                return -ENOMEM;
        size_t j = hash_str(key) & (m->cap - 1);
        while (m->keys[j]) {
                if (streq(m->keys[j], key)) {
                        m->values[j] = value;
                        return 0;
                }
                j = (j + 1) & (m->cap - 1);
        }
        if (!(m->keys[j] = strdup(key)))
                return -ENOMEM;
        m->values[j] = value;
        m->n++;
        return 0;
}

static void strmap_done(struct strmap *m) {
        for (size_t i = 0; i < m->cap; i++)
                free(m->keys[i]);
        free(m->keys);
        free(m->values);
        *m = (struct strmap){0};
}

/* ---- the audit's working state ---- */

/* A node as the audit sees it: a real node or a --what-if twin. */
struct anode {
        struct kube_node kn; /* for twins: labels owned (a copy), no taints */
        int platform;
        char emulates[16][XARCH_PLATFORM_FIELD_MAX];
        size_t n_emulates;
        bool what_if;
        int rt_class; /* index into state.classes: its platform and container runtime */
};

/* Nodes that pull alike: one platform, one container runtime version (the manifest a node
 * pulls follows its runtime's matcher, xarch_runtime_*). */
struct rt_class {
        int platform;
        char runtime[72]; /* "containerd://1.7.22", "" when unknown (the newest containerd) */
};

struct wl {
        enum kube_kind kind;
        const char *kind_name, *ns, *name;
        const json_t *spec; /* placement and patch source */
        bool from_pod;      /* the controller was not in the input: a pod's spec */
        bool daemonset;
        bool bare_pod;
        const struct kube_object *controller;
        size_t *pods; /* object indices */
        size_t n_pods, cap_pods;
        size_t *images;
        size_t n_images, cap_images;
        int placement; /* index of its memoised candidate set */
};

/* Per image: the check verdicts on each platform with (QEMU) and without an emulator. */
struct img {
        char *ref, *resolved;
        char *error;
        struct xarch_check_result *res; /* [platform * 2 + (emulated ? 1 : 0)] */
        bool have;
        size_t n_pods, n_workloads;
};

struct state {
        const struct xarch_audit_input *in;
        const struct xarch_audit_options *opts;
        struct anode *nodes;
        size_t n_nodes;
        struct xarch_audit_platform *plats;
        size_t n_plats;
        struct wl *wls;
        size_t n_wls, cap_wls;
        struct img *imgs;
        size_t n_imgs, cap_imgs;
        struct strmap wl_index, img_index, node_index, resolved_by_ref, placement_index;
        uint8_t **placements; /* candidate flags per node, per distinct placement */
        size_t n_placements;
        json_t **owned; /* values to release */
        size_t n_owned;
        /* what the image jobs share */
        struct xarch_check_node *check_nodes;
        size_t n_check_nodes;
        struct rt_class *classes;
        size_t n_classes;
        bool *class_emulates; /* some node of the class emulates an architecture */
        /* the nodes of platform p: plat_nodes[plat_first[p] .. plat_first[p + 1]) */
        size_t *plat_nodes, *plat_first;
};

#define FOR_PLATFORM_NODES(st, p, n)                                                               \
        for (size_t _i = (st)->plat_first[p], n;                                                   \
                        _i < (st)->plat_first[(p) + 1] && ((n) = (st)->plat_nodes[_i], true);      \
                        _i++)

static int own(struct state *st, json_t *v) {
        json_t **o = realloc(st->owned, (st->n_owned + 1) * sizeof(*o));
        if (!o) {
                json_decref(v);
                return -ENOMEM;
        }
        st->owned = o;
        o[st->n_owned++] = v;
        return 0;
}

static int platform_index(struct state *st, const struct xarch_platform *p, bool what_if) {
        char name[XARCH_PLATFORM_STRING_MAX];
        if (xarch_platform_format(p, name, sizeof(name)) < 0)
                snprintf(name, sizeof(name), "%s/%s", p->os, p->arch);
        for (size_t i = 0; i < st->n_plats; i++)
                if (st->plats[i].what_if == what_if && streq(st->plats[i].name, name))
                        return (int) i;
        struct xarch_audit_platform *n = realloc(st->plats, (st->n_plats + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        st->plats = n;
        n[st->n_plats] = (struct xarch_audit_platform){.what_if = what_if};
        snprintf(n[st->n_plats].name, sizeof(n[st->n_plats].name), "%s", name);
        snprintf(n[st->n_plats].arch, sizeof(n[st->n_plats].arch), "%s", p->arch);
        return (int) st->n_plats++;
}

static void add_emulated(struct anode *n, const char *arch) {
        if (streq(arch, n->kn.platform.arch) || n->n_emulates >= ELEMENTSOF(n->emulates))
                return;
        for (size_t i = 0; i < n->n_emulates; i++)
                if (streq(n->emulates[i], arch))
                        return;
        snprintf(n->emulates[n->n_emulates++], XARCH_PLATFORM_FIELD_MAX, "%s", arch);
}

static bool emulates(const struct anode *n, const char *arch) {
        for (size_t i = 0; i < n->n_emulates; i++)
                if (streq(n->emulates[i], arch))
                        return true;
        return false;
}

static void add_arch_list(struct anode *n, const char *s) {
        char copy[257];
        snprintf(copy, sizeof(copy), "%s", s);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                struct xarch_platform p;
                if (xarch_arch_is_known(t) && xarch_platform_parse(t, &p, NULL) >= 0)
                        add_emulated(n, p.arch);
        }
}

/* The architectures a binfmt pod installs: its annotation xarch/emulates ("amd64,arm64", what
 * `xarch binfmt daemonset` writes), else the arches its command line names ("install --watch
 * arm64 s390x", "--arch=arm64,riscv64"). A node's own architecture is never counted. */
static void binfmt_pod_arches(const json_t *pod, const json_t *spec, struct anode *n) {
        const char *annotated = kube_str(kube_path(pod, "metadata.annotations"), "xarch/emulates");
        if (annotated[0] && strlen(annotated) <= 256) {
                add_arch_list(n, annotated);
                return;
        }
        json_t *c;
        size_t i;
        json_array_foreach(json_object_get(spec, "containers"), i, c) {
                const char *lists[] = {"command", "args"};
                for (size_t l = 0; l < 2; l++) {
                        json_t *a;
                        size_t j;
                        json_array_foreach(json_object_get(c, lists[l]), j, a) {
                                const char *s = json_string_value(a);
                                if (!s || strlen(s) > 256)
                                        continue;
                                if (strncmp(s, "--arch=", 7) == 0)
                                        s += 7;
                                add_arch_list(n, s);
                        }
                }
        }
}

static bool pod_ready(const json_t *pod) {
        json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions"), *c;
        size_t i;
        json_array_foreach(conds, i, c) if (streq(kube_str(c, "type"), "Ready")) return streq(
                        kube_str(c, "status"), "True");
        return false;
}

static int build_nodes(struct state *st) {
        const struct xarch_audit_input *in = st->in;
        size_t twins = in->n_nodes * st->opts->n_what_if;
        st->nodes = calloc(in->n_nodes + twins + 1, sizeof(*st->nodes));
        if (!st->nodes)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_nodes; i++) {
                struct anode *n = &st->nodes[st->n_nodes++];
                n->kn = in->nodes[i];
                int p = platform_index(st, &n->kn.platform, false);
                if (p < 0)
                        return p;
                n->platform = p;
                st->plats[p].n_nodes++;
                if (strmap_put(&st->node_index, n->kn.name, i) < 0)
                        return -ENOMEM;
                for (size_t r = 0; r < st->opts->n_emulation; r++) {
                        const struct xarch_audit_emulation_rule *rule = &st->opts->emulation[r];
                        if (kube_selector_matches(rule->selector, n->kn.labels))
                                for (size_t a = 0; a < rule->n_arches; a++)
                                        add_emulated(n, rule->arches[a]);
                }
        }
        /* Nodes running a Ready pod of the xarch binfmt DaemonSet emulate what it installs. */
        for (size_t i = 0; i < in->n_objects; i++) {
                const struct kube_object *o = &in->objects[i];
                if (o->kind != KUBE_POD || !o->spec)
                        continue;
                json_t *labels = kube_path(o->obj, "metadata.labels");
                if (!streq(kube_str(labels, "app.kubernetes.io/name"), "xarch-binfmt") ||
                                !pod_ready(o->obj))
                        continue;
                size_t ni;
                if (strmap_get(&st->node_index, kube_str(o->spec, "nodeName"), &ni))
                        binfmt_pod_arches(o->obj, o->spec, &st->nodes[ni]);
        }
        /* --what-if: a twin of every node with the new platform, untainted. */
        for (size_t w = 0; w < st->opts->n_what_if; w++) {
                struct xarch_platform wp = st->opts->what_if[w];
                xarch_platform_normalize(&wp);
                int p = platform_index(st, &wp, true);
                if (p < 0)
                        return p;
                for (size_t i = 0; i < in->n_nodes; i++) {
                        struct anode *src = &st->nodes[i];
                        struct anode *n = &st->nodes[st->n_nodes++];
                        *n = *src;
                        n->what_if = true;
                        n->platform = p;
                        n->kn.platform = wp;
                        n->kn.taints = NULL;
                        n->kn.n_taints = 0;
                        n->kn.unschedulable = false;
                        n->kn.ready = true;
                        n->kn.name = "(what-if)";
                        json_t *labels = src->kn.labels ? json_deep_copy(src->kn.labels)
                                                        : json_object();
                        if (!labels || own(st, labels) < 0)
                                return -ENOMEM;
                        json_object_set_new(labels, "kubernetes.io/arch", json_string(wp.arch));
                        json_object_set_new(labels, "kubernetes.io/os", json_string(wp.os));
                        if (json_object_get(labels, "beta.kubernetes.io/arch"))
                                json_object_set_new(labels, "beta.kubernetes.io/arch",
                                                json_string(wp.arch));
                        json_object_del(labels, "kubernetes.io/hostname");
                        n->kn.labels = labels;
                        /* new nodes have no emulator yet, unless --emulation-on says so */
                        n->n_emulates = 0;
                        for (size_t r = 0; r < st->opts->n_emulation; r++) {
                                const struct xarch_audit_emulation_rule *rule =
                                                &st->opts->emulation[r];
                                if (kube_selector_matches(rule->selector, labels))
                                        for (size_t a = 0; a < rule->n_arches; a++)
                                                add_emulated(n, rule->arches[a]);
                        }
                        st->plats[p].n_nodes++;
                }
        }
        st->plat_nodes = calloc(st->n_nodes + 1, sizeof(*st->plat_nodes));
        st->plat_first = calloc(st->n_plats + 2, sizeof(*st->plat_first));
        if (!st->plat_nodes || !st->plat_first)
                return -ENOMEM;
        for (size_t i = 0; i < st->n_nodes; i++)
                st->plat_first[st->nodes[i].platform + 1]++;
        for (size_t p = 0; p < st->n_plats; p++)
                st->plat_first[p + 1] += st->plat_first[p];
        {
                _cleanup_free_ size_t *fill = calloc(st->n_plats + 1, sizeof(*fill));
                if (!fill)
                        return -ENOMEM;
                for (size_t i = 0; i < st->n_nodes; i++) {
                        size_t p = (size_t) st->nodes[i].platform;
                        st->plat_nodes[st->plat_first[p] + fill[p]++] = i;
                }
        }
        st->classes = calloc(st->n_nodes + 1, sizeof(*st->classes));
        if (!st->classes)
                return -ENOMEM;
        for (size_t i = 0; i < st->n_nodes; i++) {
                struct anode *n = &st->nodes[i];
                char rt[72] = "";
                if (n->kn.runtime[0])
                        snprintf(rt, sizeof(rt), "%s://%s", n->kn.runtime, n->kn.runtime_version);
                size_t c = 0;
                while (c < st->n_classes && !(st->classes[c].platform == n->platform &&
                                                            streq(st->classes[c].runtime, rt)))
                        c++;
                if (c == st->n_classes) {
                        st->classes[c].platform = n->platform;
                        snprintf(st->classes[c].runtime, sizeof(st->classes[c].runtime), "%s", rt);
                        st->n_classes++;
                }
                n->rt_class = (int) c;
        }
        return 0;
}

/* ---- workloads ---- */

static const struct kube_object *find_object(
                struct state *st, enum kube_kind kind, const char *ns, const char *name) {
        char key[3 * XARCH_AUDIT_STRING_MAX];
        snprintf(key, sizeof(key), "o\x1f%s\x1f%d\x1f%s", ns, (int) kind, name);
        size_t i;
        return strmap_get(&st->wl_index, key, &i) ? &st->in->objects[i] : NULL;
}

static int index_objects(struct state *st) {
        for (size_t i = 0; i < st->in->n_objects; i++) {
                const struct kube_object *o = &st->in->objects[i];
                if (o->kind == KUBE_POD)
                        continue;
                char key[3 * XARCH_AUDIT_STRING_MAX];
                snprintf(key, sizeof(key), "o\x1f%s\x1f%d\x1f%s", o->ns, (int) o->kind, o->name);
                if (strmap_put(&st->wl_index, key, i) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static struct wl *workload(struct state *st, enum kube_kind kind, const char *kind_name,
                const char *ns, const char *name) {
        char key[3 * XARCH_AUDIT_STRING_MAX + 64];
        snprintf(key, sizeof(key), "w\x1f%s\x1f%s\x1f%s", ns, kind_name, name);
        size_t i;
        if (strmap_get(&st->wl_index, key, &i))
                return &st->wls[i];
        if (st->n_wls == st->cap_wls) {
                size_t cap = st->cap_wls ? st->cap_wls * 2 : 64;
                struct wl *n = realloc(st->wls, cap * sizeof(*n));
                if (!n)
                        return NULL;
                st->wls = n;
                st->cap_wls = cap;
        }
        if (strmap_put(&st->wl_index, key, st->n_wls) < 0)
                return NULL;
        struct wl *w = &st->wls[st->n_wls++];
        *w = (struct wl){.kind = kind,
                        .kind_name = kind_name,
                        .ns = ns,
                        .name = name,
                        .daemonset = kind == KUBE_DAEMONSET,
                        .bare_pod = kind == KUBE_POD,
                        .placement = -1};
        w->controller = kind == KUBE_OTHER ? NULL : find_object(st, kind, ns, name);
        if (w->controller && w->controller->spec)
                w->spec = w->controller->spec;
        return w;
}

/* The workload a controller (or pod) belongs to, following controlling owners upwards. */
static struct wl *workload_of(struct state *st, const struct kube_object *o) {
        enum kube_kind kind = o->kind;
        const char *kind_name = kube_kind_name(kind), *name = o->name;
        const struct kube_object *cur = o;
        for (int hops = 0; hops < 3 && cur && cur->owner_name && cur->owner_name[0]; hops++) {
                kind = cur->owner_kind;
                kind_name = kind == KUBE_OTHER ? cur->owner_kind_name : kube_kind_name(kind);
                name = cur->owner_name;
                if (kind != KUBE_REPLICASET && kind != KUBE_JOB)
                        break;
                cur = find_object(st, kind, o->ns, name);
        }
        if (!kind_name || !kind_name[0] || strlen(kind_name) > 64)
                kind_name = "Other";
        return workload(st, kind, kind_name, o->ns, name);
}

static int add_index(size_t **v, size_t *n, size_t *cap, size_t x, bool unique) {
        if (unique)
                for (size_t i = 0; i < *n; i++)
                        if ((*v)[i] == x)
                                return 0;
        if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 4;
                size_t *nv = realloc(*v, c * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                *v = nv;
                *cap = c;
        }
        (*v)[(*n)++] = x;
        return 0;
}

/* "host:5000/app:1.0@sha256:..." -> "host:5000/app" */
static void image_repo(const char *ref, char *buf, size_t size) {
        snprintf(buf, size, "%s", ref);
        char *at = strchr(buf, '@');
        if (at)
                *at = '\0';
        char *slash = strrchr(buf, '/');
        char *colon = strchr(slash ? slash : buf, ':');
        if (colon)
                *colon = '\0';
}

/* The digest in a container status' imageID ("docker.io/library/x@sha256:...",
 * "docker-pullable://x@sha256:..."), or NULL. */
static const char *image_id_digest(const char *id) {
        const char *at = strrchr(id, '@');
        if (!at || (strncmp(at + 1, "sha256:", 7) != 0 && strncmp(at + 1, "sha512:", 7) != 0))
                return NULL;
        size_t n = strlen(at + 8);
        if (n != 64 && n != 128)
                return NULL;
        for (const char *p = at + 8; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return NULL;
        return at + 1;
}

static const char *const container_lists[] = {
                "containers", "initContainers", "ephemeralContainers"};
static const char *const status_lists[] = {
                "containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"};

/* Learns ref -> repository@digest from the pods that run an image. */
static int learn_resolved(struct state *st) {
        for (size_t i = 0; i < st->in->n_objects; i++) {
                const struct kube_object *o = &st->in->objects[i];
                if (o->kind != KUBE_POD || !o->spec)
                        continue;
                for (size_t l = 0; l < 3; l++) {
                        json_t *c;
                        size_t j;
                        json_array_foreach(json_object_get(o->spec, container_lists[l]), j, c) {
                                const char *image = kube_str(c, "image");
                                if (!image[0] || strlen(image) > 512 || strchr(image, '@'))
                                        continue;
                                json_t *s;
                                size_t k;
                                json_t *statuses = json_object_get(
                                                json_object_get(o->obj, "status"), status_lists[l]);
                                json_array_foreach(statuses, k, s) {
                                        if (!streq(kube_str(s, "name"), kube_str(c, "name")))
                                                continue;
                                        const char *d = image_id_digest(kube_str(s, "imageID"));
                                        size_t ignored;
                                        if (!d || strmap_get(&st->resolved_by_ref, image, &ignored))
                                                break;
                                        char repo[600], full[800];
                                        image_repo(image, repo, sizeof(repo));
                                        snprintf(full, sizeof(full), "%s@%s", repo, d);
                                        /* the value indexes a resolved string kept in imgs later:
                                         * store it as an image entry right away */
                                        if (st->n_imgs == st->cap_imgs) {
                                                size_t cap = st->cap_imgs ? st->cap_imgs * 2 : 64;
                                                struct img *n = realloc(st->imgs, cap * sizeof(*n));
                                                if (!n)
                                                        return -ENOMEM;
                                                st->imgs = n;
                                                st->cap_imgs = cap;
                                        }
                                        size_t idx;
                                        if (!strmap_get(&st->img_index, full, &idx)) {
                                                idx = st->n_imgs++;
                                                st->imgs[idx] = (struct img){
                                                                .ref = clean_dup(image, 512),
                                                                .resolved = strdup(full)};
                                                if (!st->imgs[idx].ref || !st->imgs[idx].resolved ||
                                                                strmap_put(&st->img_index, full,
                                                                                idx) < 0)
                                                        return -ENOMEM;
                                        }
                                        if (strmap_put(&st->resolved_by_ref, image, idx) < 0)
                                                return -ENOMEM;
                                        break;
                                }
                        }
                }
        }
        return 0;
}

static int image_of(struct state *st, const char *image, size_t *ret) {
        if (strmap_get(&st->resolved_by_ref, image, ret))
                return 0;
        if (strmap_get(&st->img_index, image, ret))
                return 0;
        if (st->n_imgs == st->cap_imgs) {
                size_t cap = st->cap_imgs ? st->cap_imgs * 2 : 64;
                struct img *n = realloc(st->imgs, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                st->imgs = n;
                st->cap_imgs = cap;
        }
        size_t idx = st->n_imgs++;
        st->imgs[idx] = (struct img){.ref = clean_dup(image, 512), .resolved = strdup(image)};
        if (!st->imgs[idx].ref || !st->imgs[idx].resolved ||
                        strmap_put(&st->img_index, image, idx) < 0)
                return -ENOMEM;
        *ret = idx;
        return 0;
}

static int add_spec_images(struct state *st, struct wl *w, const json_t *spec) {
        for (size_t l = 0; l < 3; l++) {
                json_t *c;
                size_t j;
                json_array_foreach(json_object_get(spec, container_lists[l]), j, c) {
                        const char *image = kube_str(c, "image");
                        if (!image[0] || strlen(image) > 512)
                                continue;
                        size_t idx;
                        if (image_of(st, image, &idx) < 0 ||
                                        add_index(&w->images, &w->n_images, &w->cap_images, idx,
                                                        true) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int build_workloads(struct state *st) {
        int k = index_objects(st);
        if (k < 0)
                return k;
        k = learn_resolved(st);
        if (k < 0)
                return k;
        for (size_t i = 0; i < st->in->n_objects; i++) {
                const struct kube_object *o = &st->in->objects[i];
                struct wl *w = workload_of(st, o);
                if (!w)
                        return -ENOMEM;
                if (o->kind == KUBE_POD) {
                        if (add_index(&w->pods, &w->n_pods, &w->cap_pods, i, false) < 0)
                                return -ENOMEM;
                        if (!w->spec && o->spec) {
                                w->spec = o->spec;
                                w->from_pod = !w->bare_pod;
                        }
                        if (o->owner_kind == KUBE_DAEMONSET)
                                w->daemonset = true;
                }
        }
        /* Images: the template's, and every pod's (a rollout runs two templates). */
        for (size_t i = 0; i < st->n_wls; i++) {
                struct wl *w = &st->wls[i];
                if (w->controller && w->controller->spec &&
                                add_spec_images(st, w, w->controller->spec) < 0)
                        return -ENOMEM;
                for (size_t p = 0; p < w->n_pods; p++)
                        if (add_spec_images(st, w, st->in->objects[w->pods[p]].spec) < 0)
                                return -ENOMEM;
                for (size_t m = 0; m < w->n_images; m++) {
                        struct img *im = &st->imgs[w->images[m]];
                        im->n_workloads++;
                        im->n_pods += w->n_pods;
                }
        }
        return 0;
}

/* The nodes a workload can land on, memoised by what decides it. */
static int place(struct state *st, struct wl *w) {
        static const char *const keys[] = {"nodeSelector", "affinity", "tolerations", "nodeName"};
        json_t *sub = json_object();
        if (!sub)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (i == 3 && !w->bare_pod)
                        continue; /* a controller's pods are placed by the scheduler */
                json_t *v = json_object_get(w->spec, keys[i]);
                if (v)
                        json_object_set(sub, keys[i], v);
        }
        json_object_set_new(sub, "_ds", json_boolean(w->daemonset));
        json_object_set_new(sub, "_pod", json_boolean(w->from_pod));
        _cleanup_free_ char *key = json_dumps(sub, JSON_SORT_KEYS | JSON_COMPACT);
        if (!key) {
                json_decref(sub);
                return -ENOMEM;
        }
        size_t idx;
        if (strmap_get(&st->placement_index, key, &idx)) {
                json_decref(sub);
                w->placement = (int) idx;
                return 0;
        }
        uint8_t *flags = calloc(st->n_nodes ? st->n_nodes : 1, 1);
        uint8_t **np = realloc(st->placements, (st->n_placements + 1) * sizeof(*np));
        if (!flags || !np) {
                free(flags);
                if (np)
                        st->placements = np;
                json_decref(sub);
                return -ENOMEM;
        }
        st->placements = np;
        for (size_t n = 0; n < st->n_nodes; n++)
                flags[n] = w->spec && kube_fits(sub, &st->nodes[n].kn, w->daemonset, w->bare_pod,
                                                      w->from_pod && w->daemonset);
        json_decref(sub);
        np[st->n_placements] = flags;
        w->placement = (int) st->n_placements;
        if (strmap_put(&st->placement_index, key, st->n_placements++) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- images ---- */

/* The check verdicts of one image: without an emulator for every class of nodes, then with
 * one only where a node of the class emulates something and the image is not native there
 * (node_result uses the emulated verdict only then; a result left zeroed reads as native, so
 * the verdict without an emulator stands). Halves the decisions of a cluster that runs its
 * images natively. */
static int decide_image(struct state *st, const struct xarch_verify_report *v, struct img *im,
                struct xarch_error **err) {
        size_t n = st->n_classes;
        _cleanup_free_ struct xarch_check_node *nodes = calloc(n + 1, sizeof(*nodes));
        _cleanup_free_ struct xarch_check_result *res = calloc(n + 1, sizeof(*res));
        _cleanup_free_ size_t *slot = calloc(n + 1, sizeof(*slot));
        if (!nodes || !res || !slot)
                return xarch_error_set(err, ENOMEM, "out of memory");
        for (size_t cl = 0; cl < n; cl++)
                nodes[cl] = st->check_nodes[cl * 2];
        int k = xarch_check_decide(v, im->ref, nodes, n, res, err);
        if (k < 0)
                return k;
        size_t m = 0;
        for (size_t cl = 0; cl < n; cl++) {
                im->res[cl * 2] = res[cl];
                if (st->class_emulates[cl] && res[cl].verdict != XARCH_VERDICT_NATIVE) {
                        nodes[m] = st->check_nodes[cl * 2 + 1];
                        slot[m++] = cl * 2 + 1;
                }
        }
        if (!m)
                return 0;
        memset(res, 0, (n + 1) * sizeof(*res));
        k = xarch_check_decide(v, im->ref, nodes, m, res, err);
        if (k < 0)
                return k;
        for (size_t i = 0; i < m; i++)
                im->res[slot[i]] = res[i];
        return 0;
}

static void inspect_one(struct state *st, struct img *im) {
        struct xarch_error *e = NULL;
        struct xarch_image *img = NULL;
        struct xarch_verify_report *v = NULL;
        int k = xarch_image_open(st->opts->images, im->resolved, &img, &e);
        if (k >= 0 && st->opts->verify) {
                struct xarch_verify_options vo = {.concurrency = 2};
                k = xarch_verify_image(img, &vo, &v, &e);
        } else if (k >= 0) {
                struct xarch_inspect_options io = {.skip_children = true, .concurrency = 4};
                struct xarch_inspect *ins = NULL;
                k = xarch_image_inspect(img, &io, &ins, &e);
                if (k >= 0)
                        k = xarch_verify_report_from_inspect(ins, &v, &e);
                xarch_inspect_free(ins);
        }
        if (k >= 0) {
                im->res = calloc(st->n_check_nodes ? st->n_check_nodes : 1, sizeof(*im->res));
                if (!im->res)
                        k = xarch_error_set(&e, ENOMEM, "out of memory");
                else
                        k = decide_image(st, v, im, &e);
                if (k >= 0)
                        im->have = true;
                else {
                        for (size_t r = 0; im->res && r < st->n_check_nodes; r++)
                                xarch_check_result_clear(&im->res[r]);
                        free(im->res);
                        im->res = NULL;
                }
        }
        if (k < 0)
                im->error = clean_dup(e && e->msg ? e->msg : strerror(-k), 512);
        xarch_error_free(e);
        xarch_verify_report_free(v);
        xarch_image_free(img);
}

/* An image that cannot be judged keeps its error; the others are still inspected. */
static void inspect_image_job(void *ctx, size_t i) {
        struct state *st = ctx;
        inspect_one(st, &st->imgs[i]);
}

static int inspect_images(struct state *st) {
        st->class_emulates = calloc(st->n_classes + 1, sizeof(*st->class_emulates));
        if (!st->class_emulates)
                return -ENOMEM;
        for (size_t i = 0; i < st->n_nodes; i++)
                if (st->nodes[i].n_emulates)
                        st->class_emulates[st->nodes[i].rt_class] = true;
        st->n_check_nodes = st->n_classes * 2;
        st->check_nodes =
                        calloc(st->n_check_nodes ? st->n_check_nodes : 1, sizeof(*st->check_nodes));
        if (!st->check_nodes)
                return -ENOMEM;
        for (size_t cl = 0; cl < st->n_classes; cl++) {
                size_t p = (size_t) st->classes[cl].platform;
                for (int e = 0; e < 2; e++) {
                        struct xarch_check_node *n = &st->check_nodes[cl * 2 + (size_t) e];
                        /* the node's runtime decides which manifest it pulls; an unknown one
                         * is judged as the newest containerd */
                        xarch_runtime_default(&n->runtime);
                        if (st->classes[cl].runtime[0] &&
                                        xarch_runtime_parse(st->classes[cl].runtime, &n->runtime,
                                                        NULL) >= 0)
                                n->runtime_set = true;
                        if (xarch_platform_parse(st->plats[p].name, &n->platform, NULL) < 0)
                                snprintf(n->platform.arch, sizeof(n->platform.arch), "%s",
                                                st->plats[p].arch);
                        n->emulation = e ? XARCH_EMULATION_QEMU : XARCH_EMULATION_NONE;
                        n->emulation_set = true;
                }
        }
        unsigned jobs = st->opts->concurrency ? st->opts->concurrency : 16;
        if (jobs > 64)
                jobs = 64;
        run_all_jobs(0, st->n_imgs, jobs, inspect_image_job, st);
        return 0;
}

/* The verdict of image im on node n: with the node's emulator when it has one for the
 * architecture the emulated verdict needs, else without. */
static const struct xarch_check_result *node_result(
                const struct state *st, const struct img *im, const struct anode *n) {
        const struct xarch_check_result *with = &im->res[n->rt_class * 2 + 1];
        const struct xarch_check_result *without = &im->res[n->rt_class * 2];
        if (with->verdict == XARCH_VERDICT_EMULATED ||
                        with->verdict == XARCH_VERDICT_EMULATED_UNKNOWN ||
                        with->verdict == XARCH_VERDICT_EMULATED_CRASH) {
                struct xarch_platform p;
                if (with->image_platform[0] &&
                                xarch_platform_parse(with->image_platform, &p, NULL) >= 0 &&
                                emulates(n, p.arch))
                        return with;
        }
        return without;
}

static char *join_fixes(const struct xarch_check_result *r) {
        if (!r->n_fixes)
                return NULL;
        size_t len = 1;
        for (size_t i = 0; i < r->n_fixes; i++)
                len += strlen(r->fixes[i].text) + 2;
        char *s = malloc(len);
        if (!s)
                return NULL;
        s[0] = '\0';
        for (size_t i = 0; i < r->n_fixes; i++) {
                if (i)
                        strcat(s, "\n\n");
                strcat(s, r->fixes[i].text);
        }
        return s;
}

static int fill_cell(struct xarch_audit_cell *c, const struct xarch_check_result *r,
                const char *prefix) {
        c->known = true;
        c->verdict = r->verdict;
        snprintf(c->code, sizeof(c->code), "%s", r->code);
        free(c->reason);
        free(c->fix);
        c->reason = prefix ? xasprintf("%s: %s", prefix, r->reason) : strdup(r->reason);
        c->fix = join_fixes(r);
        return c->reason ? 0 : -ENOMEM;
}

static void cell_clear(struct xarch_audit_cell *c) {
        free(c->reason);
        free(c->fix);
        free(c->by_runtime);
}

/* The worst verdict per runtime version over a workload's candidate nodes of platform p and
 * its images; kept in the cell only when the runtime versions disagree. */
static int runtime_split(const struct state *st, const struct wl *w, const uint8_t *cand, size_t p,
                struct xarch_audit_cell *c) {
        _cleanup_free_ struct xarch_audit_runtime_cell *rc = calloc(st->n_classes + 1, sizeof(*rc));
        _cleanup_free_ bool *seen = calloc(st->n_classes + 1, sizeof(*seen));
        if (!rc || !seen)
                return -ENOMEM;
        FOR_PLATFORM_NODES(st, p, n) {
                const struct anode *node = &st->nodes[n];
                if (!cand[n])
                        continue;
                size_t cl = (size_t) node->rt_class;
                struct xarch_audit_runtime_cell *o = &rc[cl];
                o->n_nodes++;
                for (size_t m = 0; m < w->n_images; m++) {
                        const struct img *im = &st->imgs[w->images[m]];
                        if (!im->have)
                                continue;
                        const struct xarch_check_result *r = node_result(st, im, node);
                        if (!seen[cl] || SEV(r->verdict) > SEV(o->verdict)) {
                                seen[cl] = true;
                                o->verdict = r->verdict;
                                snprintf(o->code, sizeof(o->code), "%s", r->code);
                        }
                }
        }
        size_t n_seen = 0;
        bool differ = false;
        enum xarch_check_verdict first = XARCH_VERDICT_NATIVE;
        for (size_t cl = 0; cl < st->n_classes; cl++) {
                if (!seen[cl])
                        continue;
                if (n_seen++ == 0)
                        first = rc[cl].verdict;
                else if (rc[cl].verdict != first)
                        differ = true;
        }
        if (!differ)
                return 0;
        c->by_runtime = calloc(n_seen, sizeof(*c->by_runtime));
        if (!c->by_runtime)
                return -ENOMEM;
        for (size_t cl = 0; cl < st->n_classes; cl++) {
                if (!seen[cl])
                        continue;
                struct xarch_audit_runtime_cell *o = &c->by_runtime[c->n_by_runtime++];
                *o = rc[cl];
                snprintf(o->runtime, sizeof(o->runtime), "%s", st->classes[cl].runtime);
        }
        return 0;
}

/* ---- evidence ---- */

static int add_evidence(struct xarch_audit_workload *w, const struct kube_object *pod,
                const char *container, const char *state, const struct xarch_diagnose_finding *f,
                const char *message) {
        if (w->n_evidence >= 64)
                return 0; /* enough to show; the pods count says the rest */
        struct xarch_audit_evidence *n = realloc(w->evidence, (w->n_evidence + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        w->evidence = n;
        struct xarch_audit_evidence *e = &n[w->n_evidence++];
        *e = (struct xarch_audit_evidence){
                        .pod = clean_dup(pod->name, 256),
                        .container = clean_dup(container, 256),
                        .node = clean_dup(kube_str(pod->spec, "nodeName"), 256),
                        .state = clean_dup(state, 64),
                        .signature = clean_dup(f->id, 64),
                        .title = clean_dup(f->title, 256),
                        .message = clean_dup(message, 400),
        };
        if (!e->pod || !e->container || !e->node || !e->state || !e->signature || !e->title ||
                        !e->message)
                return -ENOMEM;
        return 0;
}

/* Reads one container status: its waiting/terminated reasons and messages, through diagnose. */
static int status_evidence(struct xarch_audit_workload *w, const struct kube_object *pod,
                const json_t *s, bool *broken) {
        const json_t *parts[] = {kube_path(s, "state.waiting"), kube_path(s, "state.terminated"),
                        kube_path(s, "lastState.terminated")};
        char text[4096];
        size_t used = 0;
        const char *state = "";
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                const char *reason = kube_str(parts[i], "reason");
                const char *message = kube_str(parts[i], "message");
                if (!reason[0] && !message[0])
                        continue;
                if (!state[0] && reason[0])
                        state = reason;
                int n = snprintf(
                                text + used, sizeof(text) - used, "%s: %.2000s\n", reason, message);
                if (n > 0)
                        used = used + (size_t) n < sizeof(text) ? used + (size_t) n
                                                                : sizeof(text) - 1;
        }
        if (!used)
                return 0;
        struct xarch_diagnose *d = NULL;
        if (xarch_diagnose_new(&d, NULL) < 0)
                return -ENOMEM;
        int k = xarch_diagnose_feed(d, text, used, NULL);
        if (k >= 0)
                k = xarch_diagnose_finish(d, NULL);
        size_t n = 0;
        const struct xarch_diagnose_finding *f = k >= 0 ? xarch_diagnose_findings(d, &n) : NULL;
        for (size_t i = 0; i < n && k >= 0; i++) {
                if (f[i].kind != XARCH_DIAGNOSE_FAILURE)
                        continue;
                *broken = true;
                const char *line = f[i].n_matches ? f[i].matches[0].text : text;
                k = add_evidence(w, pod, kube_str(s, "name"), state, &f[i], line);
        }
        xarch_diagnose_free(d);
        return k < 0 ? k : 0;
}

/* ---- the report ---- */

static int verdict_rank(const struct xarch_audit_cell *c) {
        return c->known ? SEV(c->verdict) : -1;
}

static int workload_cmp(const void *a, const void *b) {
        const struct xarch_audit_workload *x = a, *y = b;
        int c = strcmp(x->namespace_, y->namespace_);
        if (!c)
                c = strcmp(x->kind, y->kind);
        return c ? c : strcmp(x->name, y->name);
}

static const char *patch_prefix(enum kube_kind k) {
        switch (k) {
        case KUBE_DEPLOYMENT:
        case KUBE_STATEFULSET:
        case KUBE_DAEMONSET:
        case KUBE_REPLICASET:
        case KUBE_JOB:
                return "/spec/template/spec";
        case KUBE_CRONJOB:
                return "/spec/jobTemplate/spec/template/spec";
        default:
                return NULL;
        }
}

static int make_patch(struct state *st, const struct wl *w, struct xarch_audit_workload *out,
                const char *const *arches, size_t n_arches) {
        const char *prefix = patch_prefix(w->kind);
        if (!prefix || !w->spec) {
                out->patch_note = strdup(
                                w->bare_pod ? "a bare pod's affinity cannot be changed: recreate "
                                              "it with kubernetes.io/arch In the arches it runs "
                                              "on, or give it a controller"
                                            : "not a workload kind kubectl can patch here: pin "
                                              "its pods' template to the arches it runs on");
                return out->patch_note ? 0 : -ENOMEM;
        }
        json_t *aff = kube_affinity_with_arches(
                        w->spec, arches, n_arches, w->daemonset && w->from_pod);
        if (!aff)
                return -ENOMEM;
        char path[96];
        snprintf(path, sizeof(path), "%s/affinity", prefix);
        /* "add" on an existing member replaces it: the value is the whole merged affinity */
        json_t *patch = json_pack("[{s:s, s:s, s:o}]", "op", "add", "path", path, "value", aff);
        if (!patch)
                return -ENOMEM;
        out->patch = json_dumps(patch, JSON_COMPACT);
        json_decref(patch);
        char kind_lower[32];
        snprintf(kind_lower, sizeof(kind_lower), "%s", kube_kind_name(w->kind));
        for (char *p = kind_lower; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        out->patch_resource = xasprintf("%s/%s", kind_lower, out->name);
        if (w->kind == KUBE_JOB)
                out->patch_note = strdup("a Job's template is immutable unless the Job is "
                                         "suspended: apply to a suspended Job or recreate it");
        else if (w->from_pod)
                out->patch_note = xasprintf("built from a pod's spec (the %s was not in the "
                                            "input): compare with its template first",
                                kube_kind_name(w->kind));
        (void) st;
        return out->patch && out->patch_resource ? 0 : -ENOMEM;
}

static int build_workload_report(
                struct state *st, const struct wl *w, struct xarch_audit_workload *out) {
        *out = (struct xarch_audit_workload){0};
        out->kind = clean_dup(w->kind_name, 64);
        out->namespace_ = clean_dup(w->ns, 256);
        out->name = clean_dup(w->name, 256);
        out->n_pods = w->n_pods;
        out->images = calloc(w->n_images ? w->n_images : 1, sizeof(*out->images));
        out->cells = calloc(st->n_plats ? st->n_plats : 1, sizeof(*out->cells));
        if (!out->kind || !out->namespace_ || !out->name || !out->images || !out->cells)
                return -ENOMEM;
        if (w->n_images)
                memcpy(out->images, w->images, w->n_images * sizeof(*w->images));
        out->n_images = w->n_images;

        const uint8_t *cand = w->placement >= 0 ? st->placements[w->placement] : NULL;
        for (size_t n = 0; cand && n < st->n_nodes; n++)
                if (cand[n])
                        out->cells[st->nodes[n].platform].n_nodes++;
        for (size_t p = 0; p < w->n_pods; p++) {
                size_t ni;
                const struct kube_object *pod = &st->in->objects[w->pods[p]];
                if (pod->spec && strmap_get(&st->node_index, kube_str(pod->spec, "nodeName"), &ni))
                        out->cells[st->nodes[ni].platform].n_pods++;
        }
        bool unknown = false;
        for (size_t m = 0; m < w->n_images; m++)
                if (!st->imgs[w->images[m]].have)
                        unknown = true;

        /* per platform: the worst verdict over the candidate nodes and the images */
        for (size_t p = 0; p < st->n_plats; p++) {
                struct xarch_audit_cell *c = &out->cells[p];
                if (!c->n_nodes)
                        continue;
                for (size_t m = 0; m < w->n_images; m++) {
                        const struct img *im = &st->imgs[w->images[m]];
                        if (!im->have)
                                continue;
                        const struct xarch_check_result *worst = NULL;
                        FOR_PLATFORM_NODES(st, p, n) {
                                if (!cand[n])
                                        continue;
                                const struct xarch_check_result *r =
                                                node_result(st, im, &st->nodes[n]);
                                if (r->verdict == XARCH_VERDICT_EMULATED)
                                        c->emulated_somewhere = true;
                                if (!worst || SEV(r->verdict) > SEV(worst->verdict))
                                        worst = r;
                        }
                        if (worst && (!c->known || SEV(worst->verdict) > verdict_rank(c)) &&
                                        fill_cell(c, worst, w->n_images > 1 ? im->ref : NULL) < 0)
                                return -ENOMEM;
                }
                if (st->n_classes > 1 && runtime_split(st, w, cand, p, c) < 0)
                        return -ENOMEM;
        }

        /* evidence from the pods */
        bool broken = false;
        for (size_t p = 0; p < w->n_pods; p++) {
                const struct kube_object *pod = &st->in->objects[w->pods[p]];
                json_t *status = json_object_get(pod->obj, "status");
                for (size_t l = 0; l < 3; l++) {
                        json_t *s;
                        size_t j;
                        json_array_foreach(json_object_get(status, status_lists[l]), j, s) {
                                if (status_evidence(out, pod, s, &broken) < 0)
                                        return -ENOMEM;
                        }
                }
        }

        /* the arches that run every image on every node of theirs */
        const char *arches[32];
        size_t n_arches = 0;
        bool all_run = w->n_images > 0 && !unknown;
        for (size_t p = 0; all_run && p < st->n_plats; p++) {
                const char *arch = st->plats[p].arch;
                bool dup = false;
                for (size_t a = 0; a < n_arches; a++)
                        dup = dup || streq(arches[a], arch);
                if (dup)
                        continue;
                bool runs = true;
                for (size_t q = p; q < st->n_plats && runs; q++) {
                        if (!streq(st->plats[q].arch, arch))
                                continue;
                        FOR_PLATFORM_NODES(st, q, n) {
                                if (!runs)
                                        break;
                                for (size_t m = 0; m < w->n_images && runs; m++) {
                                        const struct xarch_check_result *r = node_result(
                                                        st, &st->imgs[w->images[m]], &st->nodes[n]);
                                        runs = SEV(r->verdict) <= SEV(XARCH_VERDICT_EMULATED);
                                }
                        }
                }
                if (runs && n_arches < ELEMENTSOF(arches))
                        arches[n_arches++] = arch;
        }
        for (size_t a = 0; a < n_arches; a++) {
                size_t used = strlen(out->runs_on);
                snprintf(out->runs_on + used, sizeof(out->runs_on) - used, "%s%s", a ? "," : "",
                                arches[a]);
        }

        /* risk */
        bool reach_fail = false, reach_fail_now = false;
        for (size_t p = 0; p < st->n_plats; p++) {
                const struct xarch_audit_cell *c = &out->cells[p];
                if (c->n_nodes && c->known && SEV(c->verdict) >= SEV_RISK) {
                        reach_fail = true;
                        if (!st->plats[p].what_if)
                                reach_fail_now = true;
                }
        }
        if (broken) {
                out->risk = XARCH_AUDIT_BROKEN;
                out->risk_reason =
                                xasprintf("%s: %s", out->evidence[0].pod, out->evidence[0].title);
        } else if (unknown) {
                out->risk = XARCH_AUDIT_UNKNOWN;
                for (size_t m = 0; m < w->n_images && !out->risk_reason; m++)
                        if (!st->imgs[w->images[m]].have)
                                out->risk_reason = xasprintf("%s: %s", st->imgs[w->images[m]].ref,
                                                st->imgs[w->images[m]].error
                                                                ? st->imgs[w->images[m]].error
                                                                : "not inspected");
        } else if (reach_fail_now) {
                out->risk = XARCH_AUDIT_AT_RISK;
                for (size_t p = 0; p < st->n_plats && !out->risk_reason; p++) {
                        const struct xarch_audit_cell *c = &out->cells[p];
                        if (c->n_nodes && c->known && SEV(c->verdict) >= SEV_RISK &&
                                        !st->plats[p].what_if)
                                out->risk_reason = xasprintf(
                                                "can be scheduled on %zu %s node%s where it %s "
                                                "(%s)",
                                                c->n_nodes, st->plats[p].name,
                                                c->n_nodes == 1 ? "" : "s",
                                                c->verdict == XARCH_VERDICT_FAILS ? "fails"
                                                : c->verdict == XARCH_VERDICT_EMULATED_CRASH
                                                                ? "crashes under emulation"
                                                                : "may crash under emulation",
                                                c->code);
                }
        } else {
                out->risk = XARCH_AUDIT_OK;
                bool anywhere = false;
                for (size_t p = 0; p < st->n_plats; p++)
                        anywhere = anywhere || (out->cells[p].n_nodes && !st->plats[p].what_if);
                out->risk_reason = strdup(anywhere ? "runs on every node it can land on"
                                                   : "no node matches its placement");
        }
        if (!out->risk_reason)
                return -ENOMEM;

        if ((reach_fail || broken) && !unknown) {
                if (n_arches)
                        return make_patch(st, w, out, arches, n_arches);
                out->patch_note = strdup("no architecture in the cluster runs all its images: "
                                         "rebuild the image for them (see the cells' fixes)");
                return out->patch_note ? 0 : -ENOMEM;
        }
        return 0;
}

static int blocker_cmp(const void *a, const void *b) {
        const struct xarch_audit_blocker *x = a, *y = b;
        if (x->n_pods != y->n_pods)
                return x->n_pods < y->n_pods ? 1 : -1;
        if (x->n_workloads != y->n_workloads)
                return x->n_workloads < y->n_workloads ? 1 : -1;
        return x->image < y->image ? -1 : x->image > y->image;
}

static int build_what_if(struct state *st, struct xarch_audit_report *rep) {
        rep->what_if = calloc(st->opts->n_what_if + 1, sizeof(*rep->what_if));
        if (!rep->what_if)
                return -ENOMEM;
        for (size_t p = 0; p < st->n_plats; p++) {
                if (!st->plats[p].what_if)
                        continue;
                struct xarch_audit_what_if *wi = &rep->what_if[rep->n_what_if++];
                wi->platform = (int) p;
                size_t *pods_by_image = calloc(st->n_imgs + 1, sizeof(size_t));
                size_t *wls_by_image = calloc(st->n_imgs + 1, sizeof(size_t));
                int *verdict_by_image = calloc(st->n_imgs + 1, sizeof(int));
                if (!pods_by_image || !wls_by_image || !verdict_by_image) {
                        free(pods_by_image);
                        free(wls_by_image);
                        free(verdict_by_image);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < rep->n_workloads; i++) {
                        const struct xarch_audit_workload *w = &rep->workloads[i];
                        const struct xarch_audit_cell *c = &w->cells[p];
                        if (!c->n_nodes)
                                continue;
                        wi->workloads++;
                        wi->pods += w->n_pods;
                        if (!c->known) {
                                wi->unknown++;
                                continue;
                        }
                        switch (c->verdict) {
                        case XARCH_VERDICT_NATIVE:
                                wi->native++;
                                wi->pods_native += w->n_pods;
                                break;
                        case XARCH_VERDICT_EMULATED:
                                wi->emulated++;
                                break;
                        case XARCH_VERDICT_EMULATED_UNKNOWN:
                                wi->uncertain++;
                                break;
                        case XARCH_VERDICT_EMULATED_CRASH:
                                wi->crash++;
                                break;
                        case XARCH_VERDICT_FAILS:
                                wi->fails++;
                                break;
                        }
                        for (size_t m = 0; m < w->n_images; m++) {
                                const struct xarch_audit_cell *ic =
                                                &rep->images[w->images[m]].cells[p];
                                if (!ic->known || ic->verdict == XARCH_VERDICT_NATIVE)
                                        continue;
                                pods_by_image[w->images[m]] += w->n_pods;
                                wls_by_image[w->images[m]]++;
                                verdict_by_image[w->images[m]] = (int) ic->verdict;
                        }
                }
                size_t nb = 0;
                for (size_t m = 0; m < st->n_imgs; m++)
                        nb += wls_by_image[m] > 0;
                wi->blockers = calloc(nb + 1, sizeof(*wi->blockers));
                if (!wi->blockers) {
                        free(pods_by_image);
                        free(wls_by_image);
                        free(verdict_by_image);
                        return -ENOMEM;
                }
                for (size_t m = 0; m < st->n_imgs; m++)
                        if (wls_by_image[m])
                                wi->blockers[wi->n_blockers++] = (struct xarch_audit_blocker){
                                                .image = m,
                                                .n_pods = pods_by_image[m],
                                                .n_workloads = wls_by_image[m],
                                                .verdict = (enum xarch_check_verdict)
                                                                verdict_by_image[m]};
                if (wi->n_blockers)
                        qsort(wi->blockers, wi->n_blockers, sizeof(*wi->blockers), blocker_cmp);
                free(pods_by_image);
                free(wls_by_image);
                free(verdict_by_image);
        }
        return 0;
}

static int build_report(struct state *st, struct xarch_audit_report *rep) {
        rep->verified = st->opts->verify;
        rep->n_pods = st->in->n_pods;
        rep->platforms = calloc(st->n_plats + 1, sizeof(*rep->platforms));
        rep->nodes = calloc(st->n_nodes + 1, sizeof(*rep->nodes));
        rep->images = calloc(st->n_imgs + 1, sizeof(*rep->images));
        rep->workloads = calloc(st->n_wls + 1, sizeof(*rep->workloads));
        rep->skipped = calloc(st->in->n_skipped + 1, sizeof(*rep->skipped));
        if (!rep->platforms || !rep->nodes || !rep->images || !rep->workloads || !rep->skipped)
                return -ENOMEM;
        if (st->n_plats) /* an empty cluster has no platforms, and st->plats is NULL */
                memcpy(rep->platforms, st->plats, st->n_plats * sizeof(*st->plats));
        rep->n_platforms = st->n_plats;
        for (size_t i = 0; i < st->in->n_skipped; i++) {
                rep->skipped[i].count = st->in->skipped[i].count;
                if (!(rep->skipped[i].kind = strdup(st->in->skipped[i].kind)))
                        return -ENOMEM;
                rep->n_skipped++;
        }
        for (size_t i = 0; i < st->n_nodes; i++) {
                const struct anode *n = &st->nodes[i];
                if (n->what_if)
                        continue;
                struct xarch_audit_node *o = &rep->nodes[rep->n_nodes++];
                if (!(o->name = clean_dup(n->kn.name, 256)))
                        return -ENOMEM;
                o->platform = n->platform;
                snprintf(o->runtime, sizeof(o->runtime), "%s", n->kn.runtime);
                snprintf(o->runtime_version, sizeof(o->runtime_version), "%s",
                                n->kn.runtime_version);
                o->ready = n->kn.ready;
                o->unschedulable = n->kn.unschedulable;
                for (size_t t = 0; t < n->kn.n_taints; t++)
                        o->n_taints += streq(n->kn.taints[t].effect, "NoSchedule") ||
                                       streq(n->kn.taints[t].effect, "NoExecute");
                for (size_t e = 0; e < n->n_emulates; e++) {
                        size_t used = strlen(o->emulates);
                        snprintf(o->emulates + used, sizeof(o->emulates) - used, "%s%s",
                                        e ? "," : "", n->emulates[e]);
                }
        }
        for (size_t i = 0; i < st->n_imgs; i++) {
                struct img *im = &st->imgs[i];
                struct xarch_audit_image *o = &rep->images[rep->n_images++];
                o->ref = steal_ptr(im->ref);
                o->resolved = clean_dup(im->resolved, 700);
                o->error = steal_ptr(im->error);
                o->n_pods = im->n_pods;
                o->n_workloads = im->n_workloads;
                o->cells = calloc(st->n_plats + 1, sizeof(*o->cells));
                if (!o->resolved || !o->cells)
                        return -ENOMEM;
                for (size_t p = 0; im->have && p < st->n_plats; p++) {
                        const struct xarch_check_result *worst = NULL;
                        FOR_PLATFORM_NODES(st, p, n) {
                                o->cells[p].n_nodes++;
                                const struct xarch_check_result *r =
                                                node_result(st, im, &st->nodes[n]);
                                if (r->verdict == XARCH_VERDICT_EMULATED)
                                        o->cells[p].emulated_somewhere = true;
                                if (!worst || SEV(r->verdict) > SEV(worst->verdict))
                                        worst = r;
                        }
                        if (!worst) /* a platform without nodes: no verdict */
                                continue;
                        if (fill_cell(&o->cells[p], worst, NULL) < 0)
                                return -ENOMEM;
                }
        }
        for (size_t i = 0; i < st->n_wls; i++) {
                int k = place(st, &st->wls[i]);
                if (k < 0)
                        return k;
                k = build_workload_report(st, &st->wls[i], &rep->workloads[rep->n_workloads++]);
                if (k < 0)
                        return k;
        }
        qsort(rep->workloads, rep->n_workloads, sizeof(*rep->workloads), workload_cmp);
        for (size_t i = 0; i < rep->n_workloads; i++)
                rep->count[rep->workloads[i].risk]++;
        return build_what_if(st, rep);
}

static void state_done(struct state *st) {
        for (size_t i = 0; i < st->n_wls; i++) {
                free(st->wls[i].pods);
                free(st->wls[i].images);
        }
        free(st->wls);
        for (size_t i = 0; i < st->n_imgs; i++) {
                struct img *im = &st->imgs[i];
                free(im->ref);
                free(im->resolved);
                free(im->error);
                for (size_t r = 0; im->res && r < st->n_check_nodes; r++)
                        xarch_check_result_clear(&im->res[r]);
                free(im->res);
        }
        free(st->imgs);
        for (size_t i = 0; i < st->n_placements; i++)
                free(st->placements[i]);
        free(st->placements);
        for (size_t i = 0; i < st->n_owned; i++)
                json_decref(st->owned[i]);
        free(st->owned);
        free(st->nodes);
        free(st->plats);
        free(st->check_nodes);
        free(st->classes);
        free(st->class_emulates);
        free(st->plat_nodes);
        free(st->plat_first);
        strmap_done(&st->wl_index);
        strmap_done(&st->img_index);
        strmap_done(&st->node_index);
        strmap_done(&st->resolved_by_ref);
        strmap_done(&st->placement_index);
}

int xarch_audit_run(const struct xarch_audit_input *in, const struct xarch_audit_options *opts,
                struct xarch_audit_report **ret, struct xarch_error **err) {
        if (!in || !opts || !opts->images || !ret)
                return xarch_error_set(err, EINVAL, "invalid arguments");
        struct state st = {.in = in, .opts = opts};
        struct xarch_audit_report *rep = calloc(1, sizeof(*rep));
        int k = rep ? 0 : -ENOMEM;
        if (k >= 0)
                k = build_nodes(&st);
        if (k >= 0)
                k = build_workloads(&st);
        if (k >= 0)
                k = inspect_images(&st);
        if (k >= 0)
                k = build_report(&st, rep);
        state_done(&st);
        if (k < 0) {
                xarch_audit_report_free(rep);
                return xarch_error_set(err, -k, "audit: %s", strerror(-k));
        }
        *ret = rep;
        return 0;
}

void xarch_audit_report_free(struct xarch_audit_report *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_nodes; i++)
                free(r->nodes[i].name);
        free(r->nodes);
        for (size_t i = 0; i < r->n_images; i++) {
                struct xarch_audit_image *im = &r->images[i];
                free(im->ref);
                free(im->resolved);
                free(im->error);
                for (size_t p = 0; im->cells && p < r->n_platforms; p++)
                        cell_clear(&im->cells[p]);
                free(im->cells);
        }
        free(r->images);
        for (size_t i = 0; i < r->n_workloads; i++) {
                struct xarch_audit_workload *w = &r->workloads[i];
                free(w->kind);
                free(w->namespace_);
                free(w->name);
                free(w->images);
                for (size_t p = 0; w->cells && p < r->n_platforms; p++)
                        cell_clear(&w->cells[p]);
                free(w->cells);
                free(w->risk_reason);
                for (size_t e = 0; e < w->n_evidence; e++) {
                        struct xarch_audit_evidence *ev = &w->evidence[e];
                        free(ev->pod);
                        free(ev->container);
                        free(ev->node);
                        free(ev->state);
                        free(ev->signature);
                        free(ev->title);
                        free(ev->message);
                }
                free(w->evidence);
                free(w->patch);
                free(w->patch_resource);
                free(w->patch_note);
        }
        free(r->workloads);
        for (size_t i = 0; i < r->n_what_if; i++)
                free(r->what_if[i].blockers);
        free(r->what_if);
        for (size_t i = 0; i < r->n_skipped; i++)
                free(r->skipped[i].kind);
        free(r->skipped);
        free(r->platforms);
        free(r);
}
