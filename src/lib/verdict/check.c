/* SPDX-License-Identifier: MIT */
/*
 * `xarch check`: will this image run on a node of that platform? The image's facts come from
 * xarch_verify_image() (labels and the binary that really runs), the host's from
 * xarch_doctor_run() (platform, x86-64 level, registered emulators, proved by probes). The rules
 * (check_decide) are pure functions over small structs; failures.md §1.7 is the classification
 * they implement, containerd's matching (oci.md §3.5) decides which manifest a node pulls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xarch/binfmt.h"
#include "xarch/check.h"
#include "xarch/doctor.h"
#include "xarch/file.h"
#include "xarch/verify.h"

#include "verdict/check-internal.h"
#include "macro.h"

extern char **environ;

const char *xarch_check_verdict_name(enum xarch_check_verdict v) {
        switch (v) {
        case XARCH_VERDICT_NATIVE:
                return "native";
        case XARCH_VERDICT_EMULATED:
                return "emulated";
        case XARCH_VERDICT_EMULATED_CRASH:
                return "emulated-crash";
        case XARCH_VERDICT_FAILS:
                return "fails";
        case XARCH_VERDICT_EMULATED_UNKNOWN:
                return "emulated-unknown";
        }
        return "unknown";
}

const char *xarch_emulation_name(enum xarch_emulation e) {
        switch (e) {
        case XARCH_EMULATION_QEMU:
                return "qemu";
        case XARCH_EMULATION_ROSETTA:
                return "rosetta";
        case XARCH_EMULATION_NONE:
                return "none";
        }
        return "unknown";
}

int xarch_emulation_parse(const char *s, enum xarch_emulation *ret, struct xarch_error **err) {
        static const enum xarch_emulation all[] = {
                        XARCH_EMULATION_QEMU, XARCH_EMULATION_ROSETTA, XARCH_EMULATION_NONE};
        for (size_t i = 0; s && i < ELEMENTSOF(all); i++)
                if (streq(s, xarch_emulation_name(all[i]))) {
                        *ret = all[i];
                        return 0;
                }
        return xarch_error_set(
                        err, EINVAL, "unknown emulation '%s' (qemu, rosetta or none)", s ? s : "");
}

const char *xarch_check_fix_kind_name(enum xarch_check_fix_kind k) {
        switch (k) {
        case XARCH_FIX_MULTIPLATFORM_BUILD:
                return "multi-platform-build";
        case XARCH_FIX_CROSS_COMPILE:
                return "cross-compile";
        case XARCH_FIX_SCHEDULE:
                return "schedule";
        case XARCH_FIX_EMULATOR:
                return "emulator";
        case XARCH_FIX_REBUILD_GO:
                return "rebuild-go";
        case XARCH_FIX_LEVEL:
                return "level";
        case XARCH_FIX_LOADER:
                return "loader";
        case XARCH_FIX_RUNTIME:
                return "runtime";
        case XARCH_FIX_IMAGE:
                return "image";
        }
        return "unknown";
}

/* A decimal number of at most 4 digits at *s; advances *s. -1 when there is none. */
static int parse_small_number(const char **s) {
        int v = 0, digits = 0;
        while (**s >= '0' && **s <= '9') {
                if (++digits > 4)
                        return -1;
                v = v * 10 + (*(*s)++ - '0');
        }
        return digits ? v : -1;
}

int xarch_qemu_version_parse(
                const char *s, int *ret_major, int *ret_minor, struct xarch_error **err) {
        const char *p = s;
        int major = p ? parse_small_number(&p) : -1;
        int minor = -1;
        if (major > 0 && *p == '.') {
                p++;
                minor = parse_small_number(&p);
        }
        if (major <= 0 || minor < 0 || (*p != '\0' && *p != '.' && *p != ' ' && *p != '\n'))
                return xarch_error_set(err, EINVAL, "invalid QEMU version '%s' (want e.g. 7.2)",
                                s ? s : "");
        *ret_major = major;
        *ret_minor = minor;
        return 0;
}

int xarch_check_node_parse(
                const char *spec, struct xarch_check_node *ret, struct xarch_error **err) {
        struct xarch_check_node n = {0};
        if (!spec || !*spec)
                return xarch_error_set(err, EINVAL, "empty node platform");
        xarch_runtime_default(&n.runtime);
        char platform[4 * XARCH_PLATFORM_FIELD_MAX];
        const char *at = strchr(spec, '@');
        size_t len = at ? (size_t) (at - spec) : strlen(spec);
        if (len >= sizeof(platform))
                return xarch_error_set(err, EINVAL, "node platform too long");
        memcpy(platform, spec, len);
        platform[len] = '\0';
        if (at) {
                int r = xarch_runtime_parse(at + 1, &n.runtime, err);
                if (r < 0)
                        return r;
                n.runtime_set = true;
        }
        if (streq(platform, "host")) {
                n.host = true;
        } else {
                /* xarch_platform_parse reads "arm/v7" as arch/variant, as users write nodes */
                int r = xarch_runtime_parse_platform(&n.runtime, platform, &n.platform, err);
                if (r < 0)
                        return r;
        }
        *ret = n;
        return 0;
}

/* ---- small helpers ---- */

static void normalized(const struct xarch_platform *in, struct xarch_platform *out) {
        *out = *in;
        xarch_platform_normalize(out);
}

static void format_platform(const struct xarch_platform *p, char *buf, size_t size) {
        struct xarch_platform n;
        normalized(p, &n);
        if (xarch_platform_format(&n, buf, size) < 0)
                snprintf(buf, size, "%s/%s", p->os, p->arch);
}

static bool same_arch(const struct xarch_platform *a, const struct xarch_platform *b) {
        struct xarch_platform na, nb;
        normalized(a, &na);
        normalized(b, &nb);
        return streq(na.arch, nb.arch);
}

static int node_level(const struct check_node_facts *node) {
        if (node->amd64_level > 0)
                return node->amd64_level;
        const char *v = node->platform.variant;
        if (streq(node->platform.arch, "amd64") && v[0] == 'v' && v[1] >= '1' && v[1] <= '4' &&
                        v[2] == '\0')
                return v[1] - '0';
        return 0;
}

/* Parses "1.25.4" (after "go") into numbers; missing parts are 0. Returns the count parsed. */
static int parse_go_numbers(const char *s, int *major, int *minor, int *patch) {
        *major = *minor = *patch = 0;
        int n = 0;
        int *slots[] = {major, minor, patch};
        for (size_t i = 0; i < ELEMENTSOF(slots); i++) {
                if (*s < '0' || *s > '9')
                        break;
                long v = 0;
                while (*s >= '0' && *s <= '9' && v < 100000)
                        v = v * 10 + (*s++ - '0');
                *slots[i] = (int) v;
                n++;
                if (*s != '.')
                        break;
                s++;
        }
        return n;
}

int check_go_has_lfstack_fix(const char *version, const char *range) {
        int major, minor, patch;
        if (version && version[0]) {
                const char *p = strstr(version, "go1.");
                if (!p && strncmp(version, "go", 2) == 0)
                        p = version;
                if (!p)
                        return -1;
                p += 2;
                if (parse_go_numbers(p, &major, &minor, &patch) < 2)
                        return -1;
                if (major > 1 || minor > 25)
                        return 1;
                if (minor < 25)
                        return 0;
                /* go1.25 (== 1.25.0), release candidates and 1.25.0-1.25.3 lack the fix */
                return patch >= 4 ? 1 : 0;
        }
        if (range && range[0]) {
                const char *dash = strchr(range, '-');
                if (!dash || parse_go_numbers(dash + 1, &major, &minor, &patch) < 2)
                        return -1; /* "1.20+" says nothing about the upper end */
                if (major == 1 && minor < 25)
                        return 0;
                return -1;
        }
        return -1;
}

/* ---- fixes ---- */

static int add_fix(struct xarch_check_result *r, enum xarch_check_fix_kind kind, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

static int add_fix(struct xarch_check_result *r, enum xarch_check_fix_kind kind, const char *fmt,
                ...) {
        struct xarch_check_fix *f = realloc(r->fixes, (r->n_fixes + 1) * sizeof(*f));
        if (!f)
                return -ENOMEM;
        r->fixes = f;
        va_list ap;
        va_start(ap, fmt);
        char *text = NULL;
        int k = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        r->fixes[r->n_fixes++] = (struct xarch_check_fix){.kind = kind, .text = text};
        return 0;
}

void check_result_clear(struct xarch_check_result *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_fixes; i++)
                free(r->fixes[i].text);
        free(r->fixes);
        r->fixes = NULL;
        r->n_fixes = 0;
}

/* A comma-separated list of distinct architectures ("amd64,arm64") into buf. */
static void list_add(char *buf, size_t size, const char *item) {
        size_t len = strlen(item);
        for (const char *p = buf; (p = strstr(p, item)); p += len)
                if ((p == buf || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
                        return;
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", used ? "," : "", item);
}

/* The architectures the image really runs on: labels whose binary agrees (or is unknown). */
static void image_arches(const struct check_candidate *cands, size_t n, char *buf, size_t size) {
        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                const struct check_candidate *c = &cands[i];
                if (c->unreadable || c->diff_id_bad || c->no_program || c->loader_missing)
                        continue;
                struct xarch_platform p;
                if (c->has_binary)
                        p = c->binary;
                else if (c->has_label)
                        normalized(&c->label, &p);
                else
                        continue;
                if (c->has_label && c->has_binary && !same_arch(&c->label, &c->binary))
                        continue;
                if (p.arch[0] && !streq(p.arch, "unknown"))
                        list_add(buf, size, p.arch);
        }
}

/* The platforms a multi-platform build should produce: the image's and the node's. */
static void build_platforms(const struct check_candidate *cands, size_t n,
                const struct check_node_facts *node, char *buf, size_t size) {
        buf[0] = '\0';
        char one[XARCH_PLATFORM_STRING_MAX];
        for (size_t i = 0; i < n; i++) {
                if (!cands[i].has_label || streq(cands[i].label.arch, "unknown"))
                        continue;
                format_platform(&cands[i].label, one, sizeof(one));
                list_add(buf, size, one);
        }
        struct xarch_platform np = node->platform;
        if (streq(np.arch, "amd64"))
                np.variant[0] = '\0'; /* a build targets the baseline, not the node's level */
        format_platform(&np, one, sizeof(one));
        list_add(buf, size, one);
}

static int fix_multiplatform(struct xarch_check_result *r, const char *image,
                const struct check_candidate *cands, size_t n,
                const struct check_node_facts *node) {
        char plats[512];
        build_platforms(cands, n, node, plats, sizeof(plats));
        return add_fix(r, XARCH_FIX_MULTIPLATFORM_BUILD,
                        "docker buildx build --platform %s -t %s --push .\n"
                        "buildah build --platform %s --manifest %s . && buildah manifest push "
                        "--all %s docker://%s\n"
                        "# or from per-architecture binaries or release tarballs, no daemon:\n"
                        "xarch build --platform %s --add 'dist/app-{arch}:/usr/local/bin/app' "
                        "--entrypoint /usr/local/bin/app --tag %s",
                        plats, image, plats, image, image, image, plats, image);
}

static int fix_cross_compile(struct xarch_check_result *r, bool go, const char *go_image) {
        if (go)
                return add_fix(r, XARCH_FIX_CROSS_COMPILE,
                                "# build on the build machine's platform, compile for the "
                                "target's\n"
                                "FROM --platform=$BUILDPLATFORM %s AS build\n"
                                "ARG TARGETOS TARGETARCH\n"
                                "WORKDIR /src\n"
                                "COPY . .\n"
                                "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o "
                                "/out/app .\n"
                                "FROM scratch\n"
                                "COPY --from=build /out/app /app\n"
                                "ENTRYPOINT [\"/app\"]",
                                go_image);
        return add_fix(r, XARCH_FIX_CROSS_COMPILE,
                        "# compile for $TARGETARCH on the build machine instead of under "
                        "emulation\n"
                        "FROM --platform=$BUILDPLATFORM debian:bookworm AS build\n"
                        "ARG TARGETARCH\n"
                        "# install the cross toolchain for $TARGETARCH (e.g. "
                        "gcc-aarch64-linux-gnu) and build with it");
}

static int fix_schedule(struct xarch_check_result *r, const char *arches) {
        if (!arches[0])
                return 0;
        if (!strchr(arches, ','))
                return add_fix(r, XARCH_FIX_SCHEDULE,
                                "# run the pod only on nodes the image supports\n"
                                "nodeSelector:\n"
                                "  kubernetes.io/arch: %s",
                                arches);
        char values[256] = "";
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", arches);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t used = strlen(values);
                snprintf(values + used, sizeof(values) - used, "%s%s", used ? ", " : "", t);
        }
        return add_fix(r, XARCH_FIX_SCHEDULE,
                        "# run the pod only on nodes the image supports\n"
                        "affinity:\n"
                        "  nodeAffinity:\n"
                        "    requiredDuringSchedulingIgnoredDuringExecution:\n"
                        "      nodeSelectorTerms:\n"
                        "      - matchExpressions:\n"
                        "        - key: kubernetes.io/arch\n"
                        "          operator: In\n"
                        "          values: [%s]",
                        values);
}

static int fix_emulator(struct xarch_check_result *r, const char *arch) {
        return add_fix(r, XARCH_FIX_EMULATOR, "xarch binfmt install %s", arch);
}

/* ---- the rules ---- */

static const struct check_emulator *find_emulator(
                const struct check_node_facts *node, const char *arch) {
        for (size_t i = 0; i < node->n_emulators; i++)
                if (streq(node->emulators[i].arch, arch))
                        return &node->emulators[i];
        return NULL;
}

/* The one index entry without a platform a runtime ever looks at: containerd sorts those
 * entries last and keeps only the first (LimitManifests(…, 1)), as inspect's selection does
 * (first_considered in image/inspect.c; docs/runtimes.md). -1 when there is none. */
static int first_bare(bool is_index, const struct check_candidate *cands, size_t n) {
        if (!is_index)
                return -1;
        for (size_t i = 0; i < n && i < INT_MAX; i++)
                if (cands[i].bare)
                        return cands[i].bare_not_first ? -1 : (int) i;
        return -1;
}

/* The manifest a containerd node pulls (oci.md §3.5): entries with a platform by their rank in
 * the node's vector, index order breaking ties; else the first entry without one, by its
 * config (os and architecture only before containerd 2.0; CRI-O does not read it). A single
 * manifest is pulled whatever it says; -1 when nothing matches. */
static int select_native(bool is_index, const struct check_candidate *cands, size_t n,
                const struct check_node_facts *node, enum xarch_match_rule *rule) {
        *rule = XARCH_MATCH_NONE;
        int best = -1, best_rank = INT_MAX;
        struct xarch_platform label = {0}; /* the best one's, as the runtime reads it */
        struct xarch_runtime runtime = node->runtime;
        if (runtime.major == 0) /* a node made without xarch_check_node_parse */
                xarch_runtime_default(&runtime);
        for (size_t i = 0; i < n; i++) {
                const struct check_candidate *c = &cands[i];
                if ((is_index && !c->from_index) || !c->has_label)
                        continue;
                /* the node's runtime decides (xarch_runtime_rank; docs/runtimes.md) */
                int rank = xarch_runtime_rank(&runtime, &node->platform, &c->label, 0);
                if (rank >= 0 && rank < best_rank) {
                        best = (int) i;
                        best_rank = rank;
                        label = c->label;
                }
        }
        int bare = best < 0 ? first_bare(is_index, cands, n) : -1;
        if (bare >= 0) {
                const struct check_candidate *c = &cands[bare];
                if (xarch_runtime_matcher(&runtime) == XARCH_MATCHER_CONTAINERS_IMAGE) {
                        /* containers/image takes it without reading its config */
                        *rule = XARCH_MATCH_FALLBACK;
                        return bare;
                }
                if (!c->has_label)
                        return -1; /* its config could not be read: the pull fails */
                label = c->label;
                if (!xarch_runtime_config_variant(&runtime))
                        label.variant[0] = '\0';
                int rank = xarch_runtime_rank(&runtime, &node->platform, &label, 0);
                if (rank < 0)
                        return -1; /* "no match for platform in manifest" */
                best = bare;
                best_rank = rank;
        }
        if (best >= 0 && (best_rank > 0 || xarch_platform_match(&node->platform, &label, 1,
                                                           XARCH_MATCH_MODE_DEFAULT, rule) < 0))
                *rule = XARCH_MATCH_FALLBACK;
        return best;
}

static void set_reason(struct xarch_check_result *r, enum xarch_check_verdict v, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_reason(struct xarch_check_result *r, enum xarch_check_verdict v, const char *code,
                const char *fmt, ...) {
        r->verdict = v;
        snprintf(r->code, sizeof(r->code), "%s", code);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
        va_end(ap);
}

static void append_reason(struct xarch_check_result *r, const char *fmt, ...)
                __attribute__((format(printf, 2, 3)));

static void append_reason(struct xarch_check_result *r, const char *fmt, ...) {
        size_t used = strlen(r->reason);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->reason + used, sizeof(r->reason) - used, fmt, ap);
        va_end(ap);
}

/* The binary in one short phrase for reasons: "/hello (amd64)". */
static const char *short_binary(const struct check_candidate *c, char *buf, size_t size) {
        if (c->binary_path[0] && c->has_binary)
                snprintf(buf, size, "%s (%s)", c->binary_path, c->binary.arch);
        else if (c->binary_path[0])
                snprintf(buf, size, "%s", c->binary_path);
        else
                snprintf(buf, size, "the program");
        return buf;
}

static void describe_candidate(
                const struct check_candidate *c, int index, struct xarch_check_result *r) {
        r->platform_index = index;
        if (c->has_label)
                format_platform(&c->label, r->image_platform, sizeof(r->image_platform));
        snprintf(r->binary, sizeof(r->binary), "%s", c->binary_desc);
}

/* Problems that stop the container whatever runs it. Returns true when one applied. */
static bool content_fails(const struct check_candidate *c, struct xarch_check_result *r) {
        char sb[320];
        if (c->unreadable) {
                set_reason(r, XARCH_VERDICT_FAILS, "unreadable",
                                "the %s image could not be read completely, so its binaries "
                                "are unknown",
                                r->image_platform);
                return true;
        }
        if (c->diff_id_bad) {
                set_reason(r, XARCH_VERDICT_FAILS, "diff-id-mismatch",
                                "the %s image cannot be unpacked on any node: %s (containerd "
                                "stops the pull with 'wrong diff id calculated on extraction')",
                                r->image_platform,
                                c->diff_id_why[0]
                                                ? c->diff_id_why
                                                : "its config's diff_ids do not match its layers");
                add_fix(r, XARCH_FIX_IMAGE,
                                "rebuild the image: its config must list the SHA-256 of each "
                                "layer uncompressed, in layer order");
                return true;
        }
        if (c->no_program) {
                set_reason(r, XARCH_VERDICT_FAILS, "no-program",
                                "the %s image cannot start anywhere: %s", r->image_platform,
                                c->program_problem[0] ? c->program_problem
                                                      : "its command is not a program");
                add_fix(r, XARCH_FIX_IMAGE,
                                "set ENTRYPOINT/CMD to a program that exists in the image");
                return true;
        }
        if (c->loader_missing) {
                set_reason(r, XARCH_VERDICT_FAILS, "loader-missing",
                                "%s is dynamically linked but its loader %s is not in the "
                                "image: the start fails with 'no such file or directory' "
                                "although the architecture is right",
                                short_binary(c, sb, sizeof(sb)),
                                c->loader[0] ? c->loader : "(its interpreter)");
                add_fix(r, XARCH_FIX_LOADER,
                                "link statically (Go: CGO_ENABLED=0; C: -static), or build the "
                                "final stage FROM an image whose libc provides %s",
                                c->loader[0] ? c->loader : "the interpreter");
                return true;
        }
        return false;
}

/* The verdict for running candidate c under the node's emulator. */
static void decide_emulated(const char *image, bool is_index, const struct check_candidate *cands,
                size_t n, int index, const struct check_node_facts *node,
                struct xarch_check_result *r) {
        const struct check_candidate *c = &cands[index];
        char sb[320];
        char arches[256];
        image_arches(cands, n, arches, sizeof(arches));
        char node_str[XARCH_PLATFORM_STRING_MAX];
        format_platform(&node->platform, node_str, sizeof(node_str));
        describe_candidate(c, index, r);
        r->rule = XARCH_MATCH_NONE;

        struct xarch_platform target;
        if (c->has_binary)
                target = c->binary;
        else
                normalized(&c->label, &target);

        if (content_fails(c, r))
                return;
        if (c->has_binary && c->has_label && !same_arch(&c->label, &c->binary)) {
                set_reason(r, XARCH_VERDICT_FAILS, "mislabelled",
                                "the %s image holds %s: a %s binary under a %s label",
                                r->image_platform, short_binary(c, sb, sizeof(sb)), target.arch,
                                c->label.arch);
                fix_cross_compile(r, c->is_go, "golang:1.26");
                fix_multiplatform(r, image, cands, n, node);
                return;
        }

        enum xarch_emulation emu = node->emulation;
        const struct check_emulator *host_emu = NULL;
        if (node->host) {
                host_emu = find_emulator(node, target.arch);
                if (host_emu && host_emu->registered && host_emu->rosetta && !node->emulation_set)
                        emu = XARCH_EMULATION_ROSETTA;
        }
        r->emulation = emu;

        char how_pulled[512];
        if (is_index)
                snprintf(how_pulled, sizeof(how_pulled),
                                "the index has no manifest for %s; containerd (Kubernetes) "
                                "fails the pull with 'no match for platform in manifest', "
                                "a runtime asked for --platform %s runs it",
                                node_str, r->image_platform);
        else
                snprintf(how_pulled, sizeof(how_pulled),
                                "the image is a single %s manifest, which a %s node pulls "
                                "anyway",
                                r->image_platform, node_str);

        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(target.arch);
        if (emu == XARCH_EMULATION_NONE) {
                if (is_index)
                        set_reason(r, XARCH_VERDICT_FAILS, "no-match",
                                        "the index has no manifest for %s (it offers %s): "
                                        "containerd fails the pull with 'no match for platform "
                                        "in manifest', and forcing --platform %s fails with "
                                        "'exec format error' without an emulator",
                                        node_str, arches[0] ? arches : "nothing runnable",
                                        r->image_platform);
                else
                        set_reason(r, XARCH_VERDICT_FAILS, "exec-format-error",
                                        "%s; without an emulator for %s the start fails with "
                                        "'exec %s: exec format error'",
                                        how_pulled, target.arch,
                                        c->binary_path[0] ? c->binary_path : "...");
                fix_multiplatform(r, image, cands, n, node);
                fix_cross_compile(r, c->is_go, "golang:1.26");
                fix_schedule(r, arches);
                if (t)
                        fix_emulator(r, target.arch);
                return;
        }
        if (emu == XARCH_EMULATION_ROSETTA) {
                snprintf(r->emulator, sizeof(r->emulator), "rosetta");
                if (!streq(node->platform.arch, "arm64") || !streq(target.arch, "amd64")) {
                        set_reason(r, XARCH_VERDICT_FAILS, "rosetta-unsupported",
                                        "Rosetta runs only amd64 binaries on arm64 nodes; this "
                                        "is %s on %s",
                                        target.arch, node_str);
                        fix_multiplatform(r, image, cands, n, node);
                        fix_schedule(r, arches);
                        if (t)
                                fix_emulator(r, target.arch);
                        return;
                }
                set_reason(r, XARCH_VERDICT_EMULATED, "emulated-rosetta",
                                "%s; Rosetta translates its amd64 binary", how_pulled);
                if (c->is_go)
                        append_reason(r, "; the Go lfstack crash of amd64 Go under QEMU does "
                                         "not apply to Rosetta");
        } else {
                if (!t) {
                        set_reason(r, XARCH_VERDICT_FAILS, "no-emulator",
                                        "%s, but QEMU has no user-mode emulator for %s", how_pulled,
                                        target.arch);
                        fix_multiplatform(r, image, cands, n, node);
                        fix_schedule(r, arches);
                        return;
                }
                snprintf(r->emulator, sizeof(r->emulator), "%s", t->qemu_name);
                int qmaj = node->qemu_major, qmin = node->qemu_minor;
                if (host_emu && host_emu->qemu_major > 0) {
                        qmaj = host_emu->qemu_major;
                        qmin = host_emu->qemu_minor;
                }
                int fixed = c->is_go ? check_go_has_lfstack_fix(c->go_version, c->go_range) : 1;
                if (c->is_go && streq(target.arch, "amd64") &&
                                streq(node->platform.arch, "arm64") && fixed < 0) {
                        /* Go, but which Go the binary does not say: the crash is neither
                         * predicted nor ruled out. */
                        set_reason(r, XARCH_VERDICT_EMULATED_UNKNOWN, "go-version-unknown",
                                        "%s; its amd64 Go binary starts under qemu-x86_64 on "
                                        "arm64, but its Go version could not be read (%s). Go "
                                        "before go1.25.4 (go1.25.0-1.25.3 and all earlier) "
                                        "crashes there with 'fatal error: lfstack.push' (Go "
                                        "1.25: 'taggedPointerPack'), usually at the first GC; "
                                        "go1.25.4+ and go1.26+ do not. So this binary may crash "
                                        "or may run: xarch cannot tell; run it once under the "
                                        "node's emulator, or read its version with 'go version "
                                        "FILE'",
                                        how_pulled,
                                        c->go_range[0] ? c->go_range
                                                       : "no build info or version string");
                        add_fix(r, XARCH_FIX_REBUILD_GO,
                                        "rebuild with Go >= 1.25.4 (go1.25.4 or any go1.26+) so "
                                        "the version is known and fixed");
                        fix_cross_compile(r, true, "golang:1.26");
                        fix_multiplatform(r, image, cands, n, node);
                        fix_schedule(r, arches);
                        goto emulator;
                }
                if (c->is_go && streq(target.arch, "amd64") &&
                                streq(node->platform.arch, "arm64") && fixed == 0) {
                        set_reason(r, XARCH_VERDICT_EMULATED_CRASH, "go-lfstack-crash",
                                        "%s; its amd64 Go binary (%s) starts under "
                                        "qemu-x86_64 on arm64 and crashes with 'fatal error: "
                                        "lfstack.push' (Go 1.25: 'taggedPointerPack'), usually "
                                        "at the first GC: every Go release before go1.25.4 "
                                        "(go1.25.0-1.25.3 and all earlier) is affected, "
                                        "go1.25.4+ and go1.26+ are fixed",
                                        how_pulled, c->go_version[0] ? c->go_version : c->go_range);
                        add_fix(r, XARCH_FIX_REBUILD_GO,
                                        "rebuild with Go >= 1.25.4 (go1.25.4 or any go1.26+); "
                                        "stopgap for short-lived tools: GOGC=off");
                        fix_cross_compile(r, true, "golang:1.26");
                        fix_multiplatform(r, image, cands, n, node);
                        fix_schedule(r, arches);
                        goto emulator;
                }
                if (streq(target.arch, "amd64") && c->amd64_level >= 3 && qmaj > 0 &&
                                (qmaj < 7 || (qmaj == 7 && qmin < 2))) {
                        set_reason(r, XARCH_VERDICT_EMULATED_CRASH, "amd64-level-qemu",
                                        "%s; %s needs x86-64-v%d (AVX/AVX2), which QEMU "
                                        "emulates only since 7.2: QEMU %d.%d stops it with "
                                        "'This program can only be run on AMD64 processors "
                                        "with v%d microarchitecture support' or SIGILL",
                                        how_pulled, short_binary(c, sb, sizeof(sb)), c->amd64_level,
                                        qmaj, qmin, c->amd64_level);
                        add_fix(r, XARCH_FIX_LEVEL,
                                        "rebuild with GOAMD64=v1 (C: -march=x86-64), or use QEMU "
                                        ">= 7.2 on the node");
                        fix_multiplatform(r, image, cands, n, node);
                        fix_schedule(r, arches);
                        goto emulator;
                }
                set_reason(r, XARCH_VERDICT_EMULATED, "emulated",
                                "%s; qemu-%s runs its %s binary (slowly)", how_pulled, t->qemu_name,
                                target.arch);
                if (c->is_go && streq(target.arch, "amd64") && streq(node->platform.arch, "arm64"))
                        append_reason(r, "; its Go (%s) has the lfstack fix", c->go_version);
                if (streq(target.arch, "amd64") && c->amd64_level >= 2 && qmaj == 0)
                        append_reason(r,
                                        "; it needs x86-64-v%d: QEMU older than 7.2 lacks "
                                        "AVX/AVX2 and crashes on v3/v4",
                                        c->amd64_level);
        }
        if (!c->has_binary)
                append_reason(r, " (its binary was not analysed: judged from the label)");
        fix_multiplatform(r, image, cands, n, node);
emulator:
        if (host_emu) {
                r->emulator_known = true;
                r->emulator_registered = host_emu->registered;
                snprintf(r->emulator_entry, sizeof(r->emulator_entry), "%s", host_emu->entry);
                snprintf(r->emulator_path, sizeof(r->emulator_path), "%s", host_emu->path);
                r->emulator_in_containers = host_emu->in_containers;
                if (host_emu->qemu_major > 0)
                        snprintf(r->emulator_version, sizeof(r->emulator_version), "%d.%d",
                                        host_emu->qemu_major, host_emu->qemu_minor);
                if (host_emu->registered && host_emu->how == XARCH_RUN_BROKEN) {
                        /* registered, but a probe of that architecture did not run */
                        set_reason(r, XARCH_VERDICT_FAILS, "emulator-broken",
                                        "%s is registered here (%s) but a %s probe program "
                                        "does not run through it (missing or broken "
                                        "emulator)",
                                        host_emu->entry, host_emu->path, target.arch);
                        add_fix(r, XARCH_FIX_EMULATOR,
                                        "xarch binfmt uninstall %s && xarch binfmt install %s",
                                        target.arch, target.arch);
                } else if (host_emu->registered) {
                        append_reason(r, "; %s is registered here (%s)", host_emu->entry,
                                        host_emu->path);
                        if (host_emu->containers_tested && !host_emu->in_containers) {
                                append_reason(r, ", but without flag F: inside containers the "
                                                 "emulator is not found ('no such file or "
                                                 "directory')");
                                add_fix(r, XARCH_FIX_EMULATOR,
                                                "xarch binfmt uninstall %s && xarch binfmt "
                                                "install %s   # registers with F",
                                                target.arch, target.arch);
                        }
                } else
                        append_reason(r, "; no emulator for %s is registered on this host yet",
                                        target.arch);
        }
        if (emu == XARCH_EMULATION_QEMU && t && (!host_emu || !host_emu->registered))
                fix_emulator(r, target.arch);
        if (is_index)
                add_fix(r, XARCH_FIX_RUNTIME, "podman run --platform %s %s", r->image_platform,
                                image);
}

/* The verdict for a manifest the node pulls as its own platform. */
static void decide_native(const char *image, const struct check_candidate *cands, size_t n,
                int index, enum xarch_match_rule rule, const struct check_node_facts *node,
                struct xarch_check_result *r) {
        const struct check_candidate *c = &cands[index];
        char sb[320];
        char arches[256];
        image_arches(cands, n, arches, sizeof(arches));
        char node_str[XARCH_PLATFORM_STRING_MAX];
        format_platform(&node->platform, node_str, sizeof(node_str));
        describe_candidate(c, index, r);
        r->rule = rule;

        if (content_fails(c, r))
                return;
        if (c->has_binary && streq(c->binary.arch, node->platform.arch) &&
                        xarch_platform_rank(&node->platform, &c->binary, XARCH_MATCH_MODE_DEFAULT) <
                                        0) {
                char need[XARCH_PLATFORM_STRING_MAX];
                format_platform(&c->binary, need, sizeof(need));
                set_reason(r, XARCH_VERDICT_FAILS, "variant-mismatch",
                                "the node pulls the %s image (%s match), but %s needs %s, which "
                                "a %s CPU lacks: it stops with 'Illegal instruction' (SIGILL)",
                                r->image_platform, xarch_match_rule_name(rule),
                                c->binary_path[0] ? c->binary_path : "its binary", need, node_str);
                add_fix(r, XARCH_FIX_CROSS_COMPILE,
                                "rebuild each variant for its own target (Go: GOARM from "
                                "$TARGETVARIANT, e.g. GOARM=%s for %s)",
                                node->platform.variant[0] == 'v' ? node->platform.variant + 1
                                                                 : node->platform.variant,
                                node_str);
                fix_multiplatform(r, image, cands, n, node);
                return;
        }
        if (c->has_binary && xarch_platform_rank(&node->platform, &c->binary,
                                             XARCH_MATCH_MODE_DEFAULT) < 0) {
                set_reason(r, XARCH_VERDICT_FAILS, "mislabelled",
                                "the node pulls the %s image (%s match), but it holds %s: the "
                                "start fails with 'exec format error' (or runs under an "
                                "emulator for %s, if the node has one)",
                                r->image_platform, xarch_match_rule_name(rule),
                                short_binary(c, sb, sizeof(sb)), c->binary.arch);
                fix_cross_compile(r, c->is_go, "golang:1.26");
                fix_multiplatform(r, image, cands, n, node);
                fix_schedule(r, arches);
                return;
        }
        int level = node_level(node);
        if (c->has_binary && c->amd64_level > 1 && level > 0 && c->amd64_level > level) {
                set_reason(r, XARCH_VERDICT_FAILS, "amd64-level",
                                "%s needs x86-64-v%d but the node's CPU is x86-64-v%d: it stops "
                                "with 'This program can only be run on AMD64 processors with "
                                "v%d microarchitecture support' (glibc: 'CPU does not support "
                                "x86-64-v%d')",
                                short_binary(c, sb, sizeof(sb)), c->amd64_level, level,
                                c->amd64_level, c->amd64_level);
                add_fix(r, XARCH_FIX_LEVEL, "rebuild with GOAMD64=v%d (C: -march=x86-64%s)", level,
                                level > 1 ? (level == 2 ? "-v2" : "-v3") : "");
                return;
        }

        struct xarch_platform runs;
        if (c->has_binary)
                runs = c->binary;
        else
                normalized(&c->label, &runs);
        if (!streq(runs.arch, node->platform.arch)) {
                /* A compatibility mode (386 on amd64, arm on arm64) that not every CPU has. */
                const struct check_emulator *e = node->host ? find_emulator(node, runs.arch) : NULL;
                if (e && (e->how == XARCH_RUN_NO || e->how == XARCH_RUN_BROKEN)) {
                        set_reason(r, XARCH_VERDICT_FAILS, "no-compat-mode",
                                        "the node pulls the %s image (fallback), but this host "
                                        "cannot run %s binaries: the start fails with 'exec "
                                        "format error'",
                                        r->image_platform, runs.arch);
                        fix_multiplatform(r, image, cands, n, node);
                        if (xarch_binfmt_target_lookup(runs.arch))
                                fix_emulator(r, runs.arch);
                        return;
                }
                if (e && e->how == XARCH_RUN_EMULATED) {
                        set_reason(r, XARCH_VERDICT_EMULATED, "emulated-fallback",
                                        "the node pulls the %s image (fallback) and this host "
                                        "runs %s binaries through %s",
                                        r->image_platform, runs.arch, e->entry);
                        r->emulator_known = r->emulator_registered = true;
                        snprintf(r->emulator, sizeof(r->emulator), "%s", runs.arch);
                        snprintf(r->emulator_entry, sizeof(r->emulator_entry), "%s", e->entry);
                        snprintf(r->emulator_path, sizeof(r->emulator_path), "%s", e->path);
                        r->emulator_in_containers = e->in_containers;
                        fix_multiplatform(r, image, cands, n, node);
                        return;
                }
        }

        set_reason(r, XARCH_VERDICT_NATIVE, "native", "the node pulls the %s image (%s match)",
                        r->image_platform, xarch_match_rule_name(rule));
        if (c->has_binary)
                append_reason(r, " and %s really is %s",
                                c->binary_path[0] ? c->binary_path : "its binary", runs.arch);
        else
                append_reason(r, "; its binary was not analysed, so this rests on the label");
        if (!streq(runs.arch, node->platform.arch) && !node->host)
                append_reason(r,
                                "; %s binaries run in the CPU's compatibility mode, which some "
                                "%s CPUs lack (then they need an emulator)",
                                runs.arch, node->platform.arch);
        if (rule == XARCH_MATCH_FALLBACK && !streq(runs.arch, node->platform.arch))
                fix_multiplatform(r, image, cands, n, node);
}

int check_decide(const char *image_name, bool is_index, const struct check_candidate *cands,
                size_t n_cands, const struct check_node_facts *node,
                struct xarch_check_result *ret) {
        struct xarch_check_result *r = ret;
        *r = (struct xarch_check_result){.platform_index = -1, .host = node->host};
        format_platform(&node->platform, r->node, sizeof(r->node));
        struct xarch_runtime runtime = node->runtime;
        if (runtime.major == 0)
                xarch_runtime_default(&runtime);
        if (xarch_runtime_format(&runtime, r->runtime, sizeof(r->runtime)) < 0)
                r->runtime[0] = '\0';
        r->emulation = node->emulation;
        const char *image = image_name && image_name[0] ? image_name : "IMAGE";

        if (n_cands == 0) {
                set_reason(r, XARCH_VERDICT_FAILS, "no-image",
                                "the image holds no runnable "
                                "image manifest");
                return 0;
        }
        enum xarch_match_rule rule;
        int sel = select_native(is_index, cands, n_cands, node, &rule);
        if (sel >= 0) {
                decide_native(image, cands, n_cands, sel, rule, node, r);
                return 0;
        }

        /* No native manifest: the best candidate under emulation (index order breaks ties). */
        struct xarch_check_result best = {0};
        bool have_best = false;
        int bare = first_bare(is_index, cands, n_cands);
        for (size_t i = 0; i < n_cands; i++) {
                if (!cands[i].has_label && !cands[i].has_binary)
                        continue;
                /* whatever platform a runtime is asked for, it never looks past the first
                 * entry without a platform */
                if (is_index && cands[i].bare && (int) i != bare)
                        continue;
                struct xarch_check_result one = {.platform_index = -1, .host = node->host};
                snprintf(one.node, sizeof(one.node), "%s", r->node);
                snprintf(one.runtime, sizeof(one.runtime), "%s", r->runtime);
                decide_emulated(image, is_index, cands, n_cands, (int) i, node, &one);
                if (!have_best || one.verdict < best.verdict) {
                        check_result_clear(&best);
                        best = one;
                        have_best = true;
                } else {
                        check_result_clear(&one);
                }
        }
        if (!have_best) {
                /* an image whose config cannot be read has neither: it is unreadable, as
                 * verify says, not an image of no platform */
                for (size_t i = 0; i < n_cands; i++)
                        if (cands[i].unreadable) {
                                set_reason(r, XARCH_VERDICT_FAILS, "unreadable",
                                                "the image could not be read: %s",
                                                cands[i].unreadable_why[0] ? cands[i].unreadable_why
                                                                           : "unknown reason");
                                return 0;
                        }
                set_reason(r, XARCH_VERDICT_FAILS, "no-match",
                                "no manifest of the image has a platform or an analysed binary");
                return 0;
        }
        *r = best;
        return 0;
}

/* ---- facts from verify ---- */

void check_candidate_from_verify(
                const struct xarch_verify_platform *p, bool is_index, struct check_candidate *ret) {
        struct check_candidate *c = ret;
        *c = (struct check_candidate){0};
        c->from_index = is_index && p->has_index_platform;
        c->bare = is_index && !p->has_index_platform;
        c->bare_not_first = c->bare && p->bare_not_first;
        c->has_label = p->has_index_platform || p->has_config_platform;
        /* as written: each runtime normalises it its own way (containerd 1.7 does not read
         * arm64 "v8.0" as "v8", 2.0 does; CRI-O normalises nothing), and verify's label is
         * normalised already */
        if (p->has_index_platform)
                c->label = p->index_platform;
        else if (p->has_config_platform)
                c->label = p->config_platform;
        else
                c->label = p->label;
        /* an odd entry no node matches is never pulled natively (it stays an index entry
         * without a label, so the platform-less pass skips it too) */
        if (p->index_platform_never_matches)
                c->has_label = false;
        c->unreadable = p->unreadable;

        if (p->has_binary_platform) {
                c->has_binary = true;
                normalized(&p->binary_platform, &c->binary);
                /* an amd64 "variant" is the x86-64 level, judged by amd64_level, not by
                 * containerd's vector (an amd64 node of unknown level runs v3 binaries, maybe) */
                if (streq(c->binary.arch, "amd64"))
                        c->binary.variant[0] = '\0';
        }
        if (p->has_binary_info) {
                const struct xarch_file_info *b = &p->binary_info;
                char desc[384];
                if (xarch_file_describe(b, desc, sizeof(desc)) < 0)
                        desc[0] = '\0';
                const char *path = p->interpreter ? p->interpreter : p->program;
                snprintf(c->binary_path, sizeof(c->binary_path), "%s", path ? path : "");
                if (p->interpreter && p->program)
                        snprintf(c->binary_desc, sizeof(c->binary_desc), "%s (via %s): %s", path,
                                        p->program, desc);
                else
                        snprintf(c->binary_desc, sizeof(c->binary_desc), "%s: %s",
                                        path ? path : "the program", desc);
                c->is_go = b->language == XARCH_LANG_GO || b->go.evidence != 0;
                snprintf(c->go_version, sizeof(c->go_version), "%s", b->go.version);
                snprintf(c->go_range, sizeof(c->go_range), "%s", b->go.version_range);
                c->amd64_level = b->amd64_level;
        } else if (p->program) {
                snprintf(c->binary_desc, sizeof(c->binary_desc), "%s", p->program);
        }
        if (p->loader_needed && !p->loader_present) {
                c->loader_missing = true;
                snprintf(c->loader, sizeof(c->loader), "%s", p->loader);
        }
        for (size_t i = 0; i < p->n_problems; i++) {
                const struct xarch_verify_problem *pr = &p->problems[i];
                switch (pr->kind) {
                case XARCH_PROBLEM_NO_COMMAND:
                case XARCH_PROBLEM_NOT_FOUND:
                case XARCH_PROBLEM_SYMLINK_LOOP:
                case XARCH_PROBLEM_NOT_EXECUTABLE:
                        if (!c->no_program)
                                snprintf(c->program_problem, sizeof(c->program_problem), "%s",
                                                pr->message ? pr->message : "");
                        c->no_program = true;
                        break;
                case XARCH_PROBLEM_LOADER_MISSING:
                        if (!c->loader_missing && !c->loader[0] && pr->message)
                                snprintf(c->loader, sizeof(c->loader), "%s", pr->message);
                        c->loader_missing = true;
                        break;
                case XARCH_PROBLEM_DIFF_ID:
                        if (!c->diff_id_why[0] && pr->message)
                                snprintf(c->diff_id_why, sizeof(c->diff_id_why), "%s", pr->message);
                        c->diff_id_bad = true;
                        break;
                case XARCH_PROBLEM_UNREADABLE:
                        if (!c->unreadable_why[0] && pr->message)
                                snprintf(c->unreadable_why, sizeof(c->unreadable_why), "%s",
                                                pr->message);
                        c->unreadable = true;
                        break;
                default:
                        break;
                }
        }
}

/* ---- the host: doctor ---- */

/* "qemu-aarch64 version 7.2.22 (Debian ...)" from `EMULATOR --version`, bounded. */
static void qemu_version_of(const char *path, int *major, int *minor) {
        *major = *minor = 0;
        int fds[2];
        if (!path[0] || pipe2(fds, O_CLOEXEC) < 0)
                return;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        char *argv[] = {(char *) path, (char *) "--version", NULL};
        pid_t pid;
        int k = posix_spawn(&pid, path, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (k != 0) {
                close(fds[0]);
                return;
        }
        char buf[512];
        size_t used = 0;
        ssize_t got;
        while (used < sizeof(buf) - 1 &&
                        (got = read(fds[0], buf + used, sizeof(buf) - 1 - used)) > 0)
                used += (size_t) got;
        buf[used] = '\0';
        close(fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        const char *v = strstr(buf, " version ");
        if (v)
                xarch_qemu_version_parse(v + 9, major, minor, NULL);
}

/* Probes the architectures the candidates need on this host. */
static int host_facts(const struct xarch_check_options *opts, const struct check_candidate *cands,
                size_t n, struct check_node_facts *node, struct check_emulator **ret_emus,
                struct xarch_error **err) {
        const char *names[16];
        char storage[16][XARCH_PLATFORM_STRING_MAX];
        size_t n_names = 0;
        for (size_t i = 0; i < n && n_names < ELEMENTSOF(names); i++) {
                struct xarch_platform p;
                if (cands[i].has_binary)
                        p = cands[i].binary;
                else if (cands[i].has_label)
                        normalized(&cands[i].label, &p);
                else
                        continue;
                char one[XARCH_PLATFORM_STRING_MAX];
                snprintf(one, sizeof(one), "linux/%s%s%s", p.arch, streq(p.arch, "arm") ? "/" : "",
                                streq(p.arch, "arm") ? (p.variant[0] ? p.variant : "v7") : "");
                uint8_t probe[XARCH_PROBE_MAX_SIZE];
                if (xarch_probe_build(one, probe, sizeof(probe), NULL) < 0)
                        continue;
                bool dup = false;
                for (size_t j = 0; j < n_names; j++)
                        dup = dup || streq(names[j], one);
                if (dup)
                        continue;
                snprintf(storage[n_names], sizeof(storage[n_names]), "%s", one);
                names[n_names] = storage[n_names];
                n_names++;
        }
        struct xarch_doctor_options dopts = {
                        .mount = opts ? opts->binfmt_mount : NULL,
                        .platforms = names,
                        .n_platforms = n_names,
        };
        struct xarch_doctor_report *d = NULL;
        int k = xarch_doctor_run(&dopts, &d, err);
        if (k < 0)
                return xarch_error_wrap(err, "examine this host");
        node->platform = d->host.platform;
        xarch_platform_normalize(&node->platform);
        node->amd64_level = d->host.amd64_level;

        struct check_emulator *emus = calloc(d->n_platforms ? d->n_platforms : 1, sizeof(*emus));
        if (!emus) {
                xarch_doctor_report_free(d);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < d->n_platforms; i++) {
                const struct xarch_doctor_platform *dp = &d->platforms[i];
                struct check_emulator *e = &emus[i];
                struct xarch_platform p;
                if (xarch_platform_parse(dp->platform, &p, NULL) < 0)
                        continue;
                snprintf(e->arch, sizeof(e->arch), "%s", p.arch);
                e->how = dp->host_how;
                e->containers_tested = dp->container_tested;
                e->in_containers = dp->container_tested &&
                                   (dp->container_how == XARCH_RUN_EMULATED ||
                                                   dp->container_how == XARCH_RUN_NATIVE ||
                                                   dp->container_how == XARCH_RUN_COMPATIBLE);
                if (dp->handler >= 0 && (size_t) dp->handler < d->n_entries) {
                        const struct xarch_binfmt_entry *be = &d->entries[dp->handler];
                        e->registered = be->enabled && d->binfmt.status_enabled;
                        e->rosetta = be->kind == XARCH_BINFMT_KIND_ROSETTA;
                        snprintf(e->entry, sizeof(e->entry), "%s", be->name);
                        snprintf(e->path, sizeof(e->path), "%s", be->interpreter);
                        if (be->kind == XARCH_BINFMT_KIND_QEMU && be->interpreter_exists)
                                qemu_version_of(be->interpreter, &e->qemu_major, &e->qemu_minor);
                }
        }
        node->emulators = emus;
        node->n_emulators = d->n_platforms;
        *ret_emus = emus;
        xarch_doctor_report_free(d);
        return 0;
}

/* ---- the whole check ---- */

int xarch_check_image(struct xarch_image *img, const struct xarch_check_node *nodes, size_t n_nodes,
                const struct xarch_check_options *opts, struct xarch_check_report **ret,
                struct xarch_error **err) {
        if (!img || (!nodes && n_nodes) || !ret)
                return xarch_error_set(err, EINVAL, "invalid arguments");
        struct xarch_verify_options vopts = {.concurrency = opts ? opts->concurrency : 0};
        struct xarch_verify_report *v = NULL;
        int k = xarch_verify_image(img, &vopts, &v, err);
        if (k < 0)
                return k;

        struct xarch_check_report *rep = calloc(1, sizeof(*rep));
        struct check_candidate *cands = calloc(v->n_platforms ? v->n_platforms : 1, sizeof(*cands));
        if (!rep || !cands ||
                        !(rep->results = calloc(n_nodes ? n_nodes : 1, sizeof(*rep->results))) ||
                        !(rep->name = strdup(v->name ? v->name : xarch_image_name(img)))) {
                free(cands);
                xarch_verify_report_free(v);
                xarch_check_report_free(rep);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        rep->verify = v;
        for (size_t i = 0; i < v->n_platforms; i++)
                check_candidate_from_verify(&v->platforms[i], v->is_index, &cands[i]);

        /* Image names in fix commands: the repository without the transport's decoration. */
        const char *image = rep->name;
        if (strncmp(image, "docker://", 9) == 0)
                image += 9;
        else if (xarch_image_transport(img) != XARCH_TRANSPORT_REGISTRY)
                image = "IMAGE"; /* a local layout or archive has no name to push to */

        rep->all_run = true;
        for (size_t i = 0; i < n_nodes; i++) {
                struct check_node_facts node = {
                                .platform = nodes[i].platform,
                                .host = nodes[i].host,
                                .emulation = nodes[i].emulation,
                                .emulation_set = nodes[i].emulation_set,
                                .qemu_major = nodes[i].qemu_major,
                                .qemu_minor = nodes[i].qemu_minor,
                                .runtime = nodes[i].runtime,
                };
                _cleanup_free_ struct check_emulator *emus = NULL;
                if (node.host) {
                        k = host_facts(opts, cands, v->n_platforms, &node, &emus, err);
                        if (k < 0)
                                goto fail;
                } else {
                        xarch_platform_normalize(&node.platform);
                }
                k = check_decide(
                                image, v->is_index, cands, v->n_platforms, &node, &rep->results[i]);
                rep->n_results = i + 1;
                if (k < 0) {
                        xarch_error_set(err, -k, "out of memory");
                        goto fail;
                }
                const struct xarch_check_result *res = &rep->results[i];
                if (res->verdict != XARCH_VERDICT_NATIVE && res->verdict != XARCH_VERDICT_EMULATED)
                        rep->all_run = false;
                if (streq(res->code, "unreadable"))
                        rep->unreadable = true;
        }
        free(cands);
        *ret = rep;
        return 0;
fail:
        free(cands);
        xarch_check_report_free(rep);
        return k;
}

void xarch_check_report_free(struct xarch_check_report *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_results; i++)
                check_result_clear(&r->results[i]);
        free(r->results);
        xarch_verify_report_free(r->verify);
        free(r->name);
        free(r);
}

void xarch_check_result_clear(struct xarch_check_result *r) {
        if (r)
                check_result_clear(r);
}

int xarch_check_decide(const struct xarch_verify_report *v, const char *image_name,
                const struct xarch_check_node *nodes, size_t n_nodes,
                struct xarch_check_result *results, struct xarch_error **err) {
        if (!v || (!nodes && n_nodes) || (!results && n_nodes))
                return xarch_error_set(err, EINVAL, "invalid arguments");
        for (size_t i = 0; i < n_nodes; i++)
                if (nodes[i].host)
                        return xarch_error_set(err, EINVAL,
                                        "a host node needs xarch_check_image (it probes)");
        _cleanup_free_ struct check_candidate *cands =
                        calloc(v->n_platforms ? v->n_platforms : 1, sizeof(*cands));
        if (!cands)
                return xarch_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < v->n_platforms; i++)
                check_candidate_from_verify(&v->platforms[i], v->is_index, &cands[i]);
        for (size_t i = 0; i < n_nodes; i++) {
                struct check_node_facts node = {
                                .platform = nodes[i].platform,
                                .emulation = nodes[i].emulation,
                                .emulation_set = nodes[i].emulation_set,
                                .qemu_major = nodes[i].qemu_major,
                                .qemu_minor = nodes[i].qemu_minor,
                                .runtime = nodes[i].runtime,
                };
                xarch_platform_normalize(&node.platform);
                int k = check_decide(
                                image_name, v->is_index, cands, v->n_platforms, &node, &results[i]);
                if (k < 0) {
                        for (size_t j = 0; j < i; j++)
                                check_result_clear(&results[j]);
                        return xarch_error_set(err, -k, "out of memory");
                }
        }
        return 0;
}
