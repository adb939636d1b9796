/* SPDX-License-Identifier: MIT */
#ifndef XARCH_CHECK_H
#define XARCH_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"
#include "xarch/image.h"
#include "xarch/platform.h"
#include "xarch/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Will this image run on a node of that platform? The decision operators make by hand, from
 * the facts `xarch verify` establishes (labels and the binary that really runs) and what the
 * node has (its platform, its x86-64 level, its emulator): one verdict per node, with the
 * reason and concrete fixes.
 */

/* Ordered by severity: a smaller value is a better outcome (check picks the lowest). */
enum xarch_check_verdict {
        XARCH_VERDICT_NATIVE = 0, /* a matching manifest whose binaries really match */
        XARCH_VERDICT_EMULATED,   /* no native manifest; runs under the emulator */
        /* starts under the emulator; whether it then crashes rests on a fact the binary did not
         * give up (amd64 Go of unknown version under QEMU on arm64): neither crash nor safety */
        XARCH_VERDICT_EMULATED_UNKNOWN,
        XARCH_VERDICT_EMULATED_CRASH, /* starts under the emulator and crashes (known failure) */
        XARCH_VERDICT_FAILS,          /* does not run: exec format error, no match, mislabelled */
};

/* "native", "emulated", "emulated-crash", "fails", "emulated-unknown". */
const char *xarch_check_verdict_name(enum xarch_check_verdict v);

enum xarch_emulation {
        XARCH_EMULATION_QEMU = 0, /* QEMU user mode through binfmt_misc */
        XARCH_EMULATION_ROSETTA,  /* Apple's Rosetta in a Linux VM: amd64 on arm64 only */
        XARCH_EMULATION_NONE,     /* no binfmt handler: foreign binaries fail with ENOEXEC */
};

/* "qemu", "rosetta", "none". */
const char *xarch_emulation_name(enum xarch_emulation e);
/* Parses those names; -EINVAL otherwise. */
int xarch_emulation_parse(const char *s, enum xarch_emulation *ret, struct xarch_error **err);

/* A node to check. */
struct xarch_check_node {
        bool host; /* this host: platform, level and emulators come from xarch_doctor_run() */
        struct xarch_platform platform; /* normalised; amd64 variant v2..v4 = the CPU's level */
        enum xarch_emulation emulation;
        bool emulation_set;           /* emulation was given (for the host: overrides detection) */
        int qemu_major, qemu_minor;   /* the node's QEMU version, 0.0 when unknown */
        struct xarch_runtime runtime; /* its container runtime (docs/runtimes.md) */
        bool runtime_set;             /* given with "@RUNTIME"; else the caller's default */
};

/* Parses "host" or a platform ("arm64", "linux/amd64/v3", "arm/v7"), optionally followed by
 * "@RUNTIME" ("arm64@containerd-1.7", "amd64@cri-o-1.30", "host@containerd://1.7.22"; see
 * xarch_runtime_parse). Without one the runtime is the newest containerd and runtime_set is
 * false. Emulation QEMU, version unknown. */
int xarch_check_node_parse(
                const char *spec, struct xarch_check_node *ret, struct xarch_error **err);

/* Parses "7.2" or "7.2.22" into major and minor. */
int xarch_qemu_version_parse(
                const char *s, int *ret_major, int *ret_minor, struct xarch_error **err);

enum xarch_check_fix_kind {
        XARCH_FIX_MULTIPLATFORM_BUILD = 0, /* build and push an index with the node's platform */
        XARCH_FIX_CROSS_COMPILE,           /* FROM --platform=$BUILDPLATFORM + GOARCH/TARGETARCH */
        XARCH_FIX_SCHEDULE,                /* nodeSelector / node affinity on kubernetes.io/arch */
        XARCH_FIX_EMULATOR,                /* xarch binfmt install ARCH */
        XARCH_FIX_REBUILD_GO,              /* rebuild with Go >= 1.25.4 */
        XARCH_FIX_LEVEL,                   /* lower GOAMD64 / -march, or newer QEMU */
        XARCH_FIX_LOADER,                  /* ship the loader, or link statically */
        XARCH_FIX_RUNTIME,                 /* how to ask the runtime for that platform */
        XARCH_FIX_IMAGE,                   /* fix the image's command */
};

/* "multi-platform-build", "cross-compile", "schedule", "emulator", "rebuild-go", "level",
 * "loader", "runtime", "image". */
const char *xarch_check_fix_kind_name(enum xarch_check_fix_kind k);

struct xarch_check_fix {
        enum xarch_check_fix_kind kind;
        char *text; /* a command, Dockerfile lines or a YAML snippet (may span lines) */
};

/* The verdict for one node. */
struct xarch_check_result {
        char node[XARCH_PLATFORM_STRING_MAX];   /* the node's platform, "linux/arm64" */
        char runtime[XARCH_RUNTIME_STRING_MAX]; /* its runtime, "containerd-2.3" */
        bool host;
        enum xarch_emulation emulation; /* what the verdict assumed */
        enum xarch_check_verdict verdict;
        char code[32]; /* stable reason: "native", "go-lfstack-crash", "mislabelled", ... */
        char reason[1024];
        struct xarch_check_fix *fixes;
        size_t n_fixes;

        /* the image manifest the verdict is about, -1 when none (the report's platforms) */
        int platform_index;
        char image_platform[XARCH_PLATFORM_STRING_MAX]; /* its label, "" when none */
        enum xarch_match_rule rule; /* how the node's runtime matched it (NONE: emulated) */
        char binary[512];           /* "/hello: ELF 64-bit LSB, linux/amd64, static, Go ..." */

        /* the emulator the verdict needs ("" when none is needed) */
        char emulator[32];           /* QEMU target name ("aarch64") or "rosetta" */
        bool emulator_known;         /* registered is known (the host) */
        bool emulator_registered;    /* an enabled binfmt_misc entry handles it */
        char emulator_entry[256];    /* its entry name */
        char emulator_path[256];     /* its interpreter */
        bool emulator_in_containers; /* proved to work in an empty mount namespace (F flag) */
        char emulator_version[16];   /* the registered QEMU's "7.2", "" when unknown */
};

struct xarch_check_report {
        char *name;                         /* the image's display name */
        struct xarch_verify_report *verify; /* the facts the verdicts rest on */
        struct xarch_check_result *results; /* one per node, in the order given */
        size_t n_results;
        bool all_run;    /* every node got native or emulated */
        bool unreadable; /* a verdict rests on a platform that could not be read */
};

struct xarch_check_options {
        const char *binfmt_mount; /* for host nodes: the binfmt_misc instance, NULL = default */
        unsigned concurrency;     /* passed to verify */
};

/* Verifies the image (xarch_verify_image) and decides a verdict per node. Problems of the image
 * are verdicts, not failures; a negative errno means the image could not be read at all. */
int xarch_check_image(struct xarch_image *img, const struct xarch_check_node *nodes, size_t n_nodes,
                const struct xarch_check_options *opts, struct xarch_check_report **ret,
                struct xarch_error **err);

void xarch_check_report_free(struct xarch_check_report *r);

/* The verdicts for nodes from facts already established: a report of xarch_verify_image(), or
 * one of xarch_verify_report_from_inspect() (then they rest on the labels). image_name is used
 * in the fixes. Host nodes are refused (-EINVAL). results[n_nodes] are filled; clear each with
 * xarch_check_result_clear(). */
int xarch_check_decide(const struct xarch_verify_report *v, const char *image_name,
                const struct xarch_check_node *nodes, size_t n_nodes,
                struct xarch_check_result *results, struct xarch_error **err);
void xarch_check_result_clear(struct xarch_check_result *r);

#ifdef __cplusplus
}
#endif

#endif
