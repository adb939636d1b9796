/* SPDX-License-Identifier: MIT */
#ifndef XARCH_AUDIT_H
#define XARCH_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/check.h"
#include "xarch/error.h"
#include "xarch/image.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A cluster-wide `xarch check`: reads what `kubectl get nodes,pods,replicasets,deployments,
 * statefulsets,daemonsets,jobs,cronjobs -A -o json` prints, works out for every workload the nodes
 * it can land on (nodeName, nodeSelector, required node affinity, taints and tolerations), checks
 * each of its images against every node architecture among them, reads the evidence the pods
 * already carry (crash loops with exec format errors or Go lfstack crashes, pulls without a
 * matching manifest), and proposes the node-affinity patch that keeps each workload where it runs.
 *
 * The input is untrusted: at most XARCH_AUDIT_INPUT_MAX bytes, nested at most
 * XARCH_AUDIT_DEPTH_MAX deep, at most XARCH_AUDIT_OBJECTS_MAX objects; every string kept is
 * bounded and free of control bytes.
 */

#define XARCH_AUDIT_INPUT_MAX   (512u * 1024 * 1024)
#define XARCH_AUDIT_DEPTH_MAX   96
#define XARCH_AUDIT_OBJECTS_MAX 1000000
#define XARCH_AUDIT_STRING_MAX  1024 /* longer names, labels and messages are refused or cut */

/* The parsed cluster (nodes, pods, controllers), immutable once parsed. */
struct xarch_audit_input;

/* Parses one List (kind "List" or "*List", items of kinds Node, Pod, ReplicaSet, Deployment,
 * StatefulSet, DaemonSet, Job, CronJob; a List item that is itself a List is flattened). Objects
 * of other kinds are counted and skipped. Fails with -EBADMSG for malformed or truncated JSON or
 * a document that is not a List, -EFBIG beyond the limits. */
int xarch_audit_input_parse(const void *data, size_t len, struct xarch_audit_input **ret,
                struct xarch_error **err);
void xarch_audit_input_free(struct xarch_audit_input *in);
/* The same, but the parsed document's JSON values are left to the caller's jansson allocator
 * (json_set_alloc_funcs), which releases them wholesale: walking millions of values only to
 * free each is a measurable part of a large audit. Only for such an allocator. */
void xarch_audit_input_free_keep_values(struct xarch_audit_input *in);

struct xarch_audit_counts {
        size_t nodes, pods, controllers, skipped;
};
void xarch_audit_input_counts(const struct xarch_audit_input *in, struct xarch_audit_counts *ret);

/* A container runtime as the kubelet reports it: "containerd://1.7.22" -> "containerd",
 * "1.7.22". Fails with -EINVAL when there is no "NAME://VERSION". */
int xarch_audit_runtime_parse(
                const char *s, char *name, size_t name_size, char *version, size_t version_size);

/* Nodes whose labels match a selector ("key=value,key2" : every key=value equal, a bare key
 * present) emulate these architectures. */
struct xarch_audit_emulation_rule {
        const char *selector;
        char arches[8][XARCH_PLATFORM_FIELD_MAX];
        size_t n_arches;
};

/* Parses "SELECTOR=ARCH,ARCH": the last '=' separates the selector from the arches (so
 * "pool=arm=arm64" is the selector "pool=arm"). The rule points into s. */
int xarch_audit_emulation_rule_parse(
                char *s, struct xarch_audit_emulation_rule *ret, struct xarch_error **err);

struct xarch_audit_options {
        struct xarch_image_context *images;   /* required: registry client and cache */
        const struct xarch_platform *what_if; /* platforms added as untainted nodes */
        size_t n_what_if;
        const struct xarch_audit_emulation_rule *emulation; /* --emulation-on */
        size_t n_emulation;
        bool verify;          /* stream layers (xarch check's facts), else labels only */
        unsigned concurrency; /* images at once; 0 = 16 */
};

enum xarch_audit_risk {
        XARCH_AUDIT_OK = 0,  /* runs wherever it can land */
        XARCH_AUDIT_AT_RISK, /* runs today, but could land on a node where it fails */
        XARCH_AUDIT_UNKNOWN, /* an image could not be inspected */
        XARCH_AUDIT_BROKEN,  /* the pods show the failure now */
};

/* How bad a verdict is, for "the worst over nodes and images": native 0, emulated 1,
 * emulated-unknown 2 (may crash: a fact the binary did not give up), emulated-crash 3, fails 4. */
int xarch_audit_verdict_severity(enum xarch_check_verdict v);

/* "ok", "at-risk", "unknown", "broken". */
const char *xarch_audit_risk_name(enum xarch_audit_risk r);

struct xarch_audit_platform {
        char name[XARCH_PLATFORM_STRING_MAX]; /* "linux/arm64" */
        char arch[XARCH_PLATFORM_FIELD_MAX];
        bool what_if; /* added by --what-if */
        size_t n_nodes;
};

struct xarch_audit_node {
        char *name;
        int platform; /* index into the report's platforms */
        char runtime[32], runtime_version[32];
        bool ready, unschedulable;
        size_t n_taints;   /* NoSchedule/NoExecute taints */
        char emulates[96]; /* "arm64,s390x" or "" */
        bool what_if;
};

/* The verdict on the nodes of one platform that run one container runtime version. */
struct xarch_audit_runtime_cell {
        char runtime[72]; /* "containerd://1.7.22"; "" unknown (judged as the newest containerd) */
        size_t n_nodes;
        enum xarch_check_verdict verdict;
        char code[32];
};

/* One image (or a workload) on the nodes of one platform. */
struct xarch_audit_cell {
        size_t n_nodes; /* nodes of that platform the workload can land on (0: not reachable) */
        size_t n_pods;  /* pods on them now */
        bool known;     /* a verdict exists (reachable and the image could be inspected) */
        enum xarch_check_verdict verdict;
        bool emulated_somewhere; /* some nodes of the platform run it only through emulation */
        char code[32];
        char *reason;
        char *fix; /* the image's fixes joined by blank lines, or NULL */
        /* workloads: when its nodes of this platform disagree because their runtime versions
         * pull different manifests, the verdict per runtime version; NULL otherwise */
        struct xarch_audit_runtime_cell *by_runtime;
        size_t n_by_runtime;
};

struct xarch_audit_image {
        char *ref;      /* as the pod spec names it */
        char *resolved; /* what was inspected: ref, or repository@digest from a pod's imageID */
        char *error;    /* why it could not be inspected, or NULL */
        size_t n_pods, n_workloads;
        struct xarch_audit_cell *cells; /* verdicts per platform (not filtered by placement) */
};

struct xarch_audit_evidence {
        char *pod, *container, *node;
        char *state;     /* "CrashLoopBackOff", "ImagePullBackOff", "Error", ... */
        char *signature; /* diagnose's finding id */
        char *title;
        char *message; /* the status message, sanitised and cut */
};

struct xarch_audit_workload {
        char *kind, *namespace_, *name; /* kind "Deployment", "Pod" (bare), ... */
        size_t n_pods;
        size_t *images; /* indices into the report's images */
        size_t n_images;
        struct xarch_audit_cell *cells; /* per platform: the worst over its images */
        enum xarch_audit_risk risk;
        char *risk_reason;
        struct xarch_audit_evidence *evidence;
        size_t n_evidence;
        char runs_on[160]; /* arches where every image runs (native or emulated), "amd64,arm64" */
        /* the fix that keeps it there: a JSON patch (explicit full affinity), NULL when none */
        char *patch;
        char *patch_resource; /* "deployment/web" */
        char *patch_note;     /* why there is no patch, or what to do with it, or NULL */
};

struct xarch_audit_blocker {
        size_t image; /* index into the report's images */
        size_t n_pods, n_workloads;
        enum xarch_check_verdict verdict;
};

/* What --what-if PLATFORM predicts. */
struct xarch_audit_what_if {
        int platform;     /* index into the report's platforms */
        size_t workloads; /* workloads that could land on the added nodes */
        size_t native, emulated, uncertain, crash, fails, unknown; /* uncertain: emulated-unknown */
        size_t pods, pods_native;
        struct xarch_audit_blocker *blockers; /* images not native there, most pods first */
        size_t n_blockers;
};

struct xarch_audit_skipped {
        char *kind;
        size_t count;
};

struct xarch_audit_report {
        struct xarch_audit_platform *platforms;
        size_t n_platforms;
        struct xarch_audit_node *nodes;
        size_t n_nodes;
        struct xarch_audit_image *images;
        size_t n_images;
        struct xarch_audit_workload *workloads; /* namespace, kind, name order */
        size_t n_workloads;
        struct xarch_audit_what_if *what_if;
        size_t n_what_if;
        struct xarch_audit_skipped *skipped; /* objects of unknown kinds */
        size_t n_skipped;
        size_t n_pods;
        size_t count[4]; /* workloads per risk */
        bool verified;   /* --verify: verdicts rest on the binaries, not only labels */
};

/* Runs the audit. Images that cannot be inspected are reported per image (risk unknown), not
 * failures; a negative errno means the audit itself could not run. */
int xarch_audit_run(const struct xarch_audit_input *in, const struct xarch_audit_options *opts,
                struct xarch_audit_report **ret, struct xarch_error **err);
void xarch_audit_report_free(struct xarch_audit_report *r);

#ifdef __cplusplus
}
#endif

#endif
