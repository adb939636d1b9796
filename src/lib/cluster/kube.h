/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_CLUSTER_KUBE_H
#define XARCH_LIB_CLUSTER_KUBE_H

/*
 * Internal: the cluster as `kubectl get -o json` prints it, parsed once and kept as jansson
 * values (borrowed pointers into the document), plus the scheduling rules the audit needs:
 * nodeName, nodeSelector, required node affinity (OR of terms, AND of expressions) and taints
 * against tolerations, as kube-scheduler's NodeName, NodeAffinity, NodeUnschedulable and
 * TaintToleration filters decide them.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "xarch/audit.h"
#include "xarch/platform.h"

enum kube_kind {
        KUBE_NODE,
        KUBE_POD,
        KUBE_REPLICASET,
        KUBE_DEPLOYMENT,
        KUBE_STATEFULSET,
        KUBE_DAEMONSET,
        KUBE_JOB,
        KUBE_CRONJOB,
        KUBE_OTHER,
};

const char *kube_kind_name(enum kube_kind k);
enum kube_kind kube_kind_from_name(const char *s);

struct kube_taint {
        const char *key, *value, *effect; /* never NULL ("" when absent) */
};

struct kube_node {
        const char *name;
        json_t *labels; /* object (possibly empty) */
        struct kube_taint *taints;
        size_t n_taints;
        bool unschedulable, ready;
        struct xarch_platform platform; /* normalised */
        char runtime[32], runtime_version[32];
};

struct kube_object {
        enum kube_kind kind;
        const char *ns, *name, *uid;
        json_t *obj;
        json_t *spec; /* the pod spec: a pod's own, a controller's template spec; NULL if none */
        /* the controlling owner (ownerReferences[controller=true]), kind OTHER when none */
        enum kube_kind owner_kind;
        const char *owner_kind_name, *owner_name, *owner_uid;
};

struct xarch_audit_input {
        json_t *root;
        struct kube_node *nodes;
        size_t n_nodes;
        struct kube_object *objects; /* pods and controllers */
        size_t n_objects;
        size_t n_pods, n_controllers;
        struct xarch_audit_skipped *skipped;
        size_t n_skipped;
};

/* Reads a string member, "" when absent or not a string. */
const char *kube_str(const json_t *obj, const char *key);
/* Walks "a.b.c" through objects; NULL when a step is missing. */
json_t *kube_path(const json_t *obj, const char *path);

/* Does a pod with this spec fit the node (labels, name, taints, unschedulable)?
 * daemonset: add the tolerations the DaemonSet controller adds to its pods;
 * honour_node_name: a set spec.nodeName pins it (bare pods; templates rarely set it);
 * skip_node_name_fields: ignore matchFields on metadata.name (what the DaemonSet controller adds
 * to each pod for its node). */
bool kube_fits(const json_t *spec, const struct kube_node *node, bool daemonset,
                bool honour_node_name, bool skip_node_name_fields);

/* One node selector requirement against labels (In, NotIn, Exists, DoesNotExist, Gt, Lt). */
bool kube_requirement_matches(const json_t *req, const json_t *labels);

/* Does a toleration tolerate a taint (k8s.io/api/core/v1 Toleration.ToleratesTaint)? */
bool kube_tolerates(const json_t *toleration, const struct kube_taint *taint);

/* A label selector "k=v,k2" against labels. */
bool kube_selector_matches(const char *selector, const json_t *labels);

/* The pod spec's affinity with `kubernetes.io/arch In [arches]` added to every required node
 * selector term (never to an empty term, which matches nothing), or one new term when there is
 * no required affinity; everything else kept. Returns a new reference. strip_node_name: drop
 * matchFields on metadata.name (a DaemonSet pod's spec). */
json_t *kube_affinity_with_arches(const json_t *spec, const char *const *arches, size_t n_arches,
                bool strip_node_name);

#endif
