/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit-html.h"
#include "cli.h"

extern char **environ;

static const char *const verb = "audit";

#define MAX_WHAT_IF   16
#define MAX_EMULATION 32

static void usage(void) {
        fputs("Usage: xarch audit (-f FILE | -f - | --kubectl [-- KUBECTL-ARGS...]) [OPTIONS]\n"
              "\n"
              "Audits a Kubernetes cluster for architecture problems: for every workload\n"
              "(Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, bare Pod) the\n"
              "nodes it can land on (nodeName, nodeSelector, required node affinity, taints and\n"
              "tolerations), and for each node platform among them the 'xarch check' verdict of\n"
              "each image: native, emulated, emulated-crash or fails, with the reason. Pods\n"
              "that crash-loop with an exec format error or a Go lfstack crash, or cannot pull\n"
              "for want of a matching manifest, make a workload 'broken'; one that runs today\n"
              "but could be scheduled on a node where it fails is 'at-risk'. Each such workload\n"
              "gets a patch adding kubernetes.io/arch In [the arches that run it] to every\n"
              "required node-affinity term.\n"
              "\n"
              "Input is what 'kubectl get nodes,pods,replicasets,deployments,statefulsets,\n"
              "daemonsets,jobs,cronjobs -A -o json' prints. As a kubectl plugin (the\n"
              "kubectl-xarch link): 'kubectl xarch audit ...'.\n"
              "\n"
              "Options:\n"
              "  -f, --filename FILE     read the cluster from FILE ('-' = standard input)\n"
              "      --kubectl           run that kubectl get itself; arguments after '--' go\n"
              "                          to kubectl (e.g. --context NAME)\n"
              "      --kubectl-timeout S seconds kubectl may take (default 120)\n"
              "  -w, --what-if PLATFORM  as if untainted nodes of PLATFORM (linux/arm64, ...)\n"
              "                          were added: what would run there; may be repeated\n"
              "      --emulation-on SEL=ARCH[,ARCH]  nodes whose labels match SEL (k=v,k2)\n"
              "                          emulate ARCH (else: nodes running a Ready pod of the\n"
              "                          xarch binfmt DaemonSet emulate the arches it installs)\n"
              "      --verify            read the layers that hold each entrypoint (knows Go and\n"
              "                          its version, mislabelled binaries); cached by digest\n"
              "  -j, --concurrency N     images inspected at once (default 16)\n"
              "      --json              machine-readable output\n"
              "      --html FILE         write a self-contained HTML report to FILE\n"
              "      --fix-dir DIR       write one JSON patch per workload to fix into DIR\n"
              "      --ca FILE           trust this CA bundle for registry TLS\n"
              "      --insecure          allow plain HTTP or unverified TLS to non-loopback "
              "registries\n"
              "      --authfile F        read registry credentials from F (docker/podman "
              "format)\n"
              "      --no-cache          neither read nor write the local manifest/blob cache\n"
              "  -h, --help              show this help\n"
              "\n"
              "Exit status: 0 when every workload runs wherever it can land; 1 when some\n"
              "workload is at-risk, broken or unknown (an image could not be inspected), or\n"
              "the input cannot be read; 2 for usage errors.\n",
                        stdout);
}

/* ---- input ---- */

static int read_all_fd(int fd, char **ret, size_t *ret_len) {
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap >= XARCH_AUDIT_INPUT_MAX + 1) {
                                free(buf);
                                return -EFBIG;
                        }
                        cap *= 2;
                        char *n = realloc(buf, cap);
                        if (!n) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = n;
                }
                ssize_t got = read(fd, buf + len, cap - len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0) {
                        int e = errno;
                        free(buf);
                        return -e;
                }
                if (got == 0)
                        break;
                len += (size_t) got;
                if (len > XARCH_AUDIT_INPUT_MAX) {
                        free(buf);
                        return -EFBIG;
                }
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs kubectl get ... -o json with the user's extra arguments: output bounded in size, the run
 * in time (the child is killed past the deadline). kubectl's own stderr passes through. */
static int run_kubectl(char **extra, int n_extra, int timeout_s, char **ret, size_t *ret_len) {
        const char *kubectl = getenv("XARCH_KUBECTL");
        if (!kubectl || !kubectl[0])
                kubectl = "kubectl";
        char **argv = calloc((size_t) n_extra + 8, sizeof(*argv));
        if (!argv)
                return cli_error("out of memory");
        int n = 0;
        argv[n++] = (char *) kubectl;
        argv[n++] = (char *) "get";
        argv[n++] = (char *) "nodes,pods,replicasets,deployments,statefulsets,daemonsets,jobs,"
                             "cronjobs";
        argv[n++] = (char *) "-A";
        argv[n++] = (char *) "-o";
        argv[n++] = (char *) "json";
        for (int i = 0; i < n_extra; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
                free(argv);
                return cli_error("cannot run kubectl: %s", strerror(errno));
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        pid_t pid;
        int k = posix_spawnp(&pid, kubectl, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        free(argv);
        close(fds[1]);
        if (k != 0) {
                close(fds[0]);
                return cli_error("cannot run %s: %s", kubectl, strerror(k));
        }
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        long long deadline = now_ms() + (long long) timeout_s * 1000;
        const char *why = NULL;
        while (buf && !why) {
                long long left = deadline - now_ms();
                if (left <= 0) {
                        why = "timed out";
                        break;
                }
                struct pollfd p = {.fd = fds[0], .events = POLLIN};
                int pr = poll(&p, 1, left > 1000 ? 1000 : (int) left);
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0)
                        continue;
                if (len == cap) {
                        char *nb = cap > XARCH_AUDIT_INPUT_MAX ? NULL : realloc(buf, cap * 2);
                        if (!nb) {
                                why = "printed too much";
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t got = read(fds[0], buf + len, cap - len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        break;
                len += (size_t) got;
        }
        close(fds[0]);
        if (why || !buf)
                kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!buf)
                return cli_error("out of memory");
        if (why) {
                free(buf);
                return cli_error("kubectl %s (limit %d s, %u MiB)", why, timeout_s,
                                XARCH_AUDIT_INPUT_MAX >> 20);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                free(buf);
                return cli_error("kubectl get failed (%s %d); its message is above",
                                WIFEXITED(status) ? "exit" : "signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
        *ret = buf;
        *ret_len = len;
        return EXIT_OK;
}

/* ---- text ---- */

static const char *cell_word(const struct xarch_audit_cell *c) {
        if (!c->n_nodes)
                return "-";
        if (!c->known)
                return "?";
        switch (c->verdict) {
        case XARCH_VERDICT_NATIVE:
                return "native";
        case XARCH_VERDICT_EMULATED:
                return "emulated";
        case XARCH_VERDICT_EMULATED_UNKNOWN:
                return "emu-unknown";
        case XARCH_VERDICT_EMULATED_CRASH:
                return "crash";
        case XARCH_VERDICT_FAILS:
                return "fails";
        }
        return "?";
}

static void print_indented(const char *indent, const char *text) {
        fputs(indent, stdout);
        for (const char *p = text; *p; p++) {
                putchar(*p);
                if (*p == '\n' && p[1])
                        fputs(indent, stdout);
        }
        putchar('\n');
}

static void print_human(const struct xarch_audit_report *r, char **patch_files) {
        size_t width_name = 8, width_ns = 9;
        for (size_t i = 0; i < r->n_workloads; i++) {
                const struct xarch_audit_workload *w = &r->workloads[i];
                size_t n = strlen(w->kind) + 1 + strlen(w->name);
                if (n > width_name)
                        width_name = n > 60 ? 60 : n;
                if (strlen(w->namespace_) > width_ns)
                        width_ns = strlen(w->namespace_) > 30 ? 30 : strlen(w->namespace_);
        }
        printf("Cluster: %zu nodes (", r->n_nodes);
        bool first = true;
        for (size_t p = 0; p < r->n_platforms; p++) {
                if (r->platforms[p].what_if)
                        continue;
                printf("%s%s x%zu", first ? "" : ", ", r->platforms[p].name,
                                r->platforms[p].n_nodes);
                first = false;
        }
        printf("), %zu pods, %zu workloads, %zu images; verdicts from %s\n\n", r->n_pods,
                        r->n_workloads, r->n_images,
                        r->verified ? "the binaries (--verify)" : "the image labels");
        printf("%-*s  %-*s  %5s  %-13s", (int) width_ns, "NAMESPACE", (int) width_name, "WORKLOAD",
                        "PODS", "RUNS ON");
        for (size_t p = 0; p < r->n_platforms; p++) {
                char h[XARCH_PLATFORM_STRING_MAX + 8];
                snprintf(h, sizeof(h), "%s%s", r->platforms[p].name,
                                r->platforms[p].what_if ? "?" : "");
                printf("  %-*s", (int) (strlen(h) > 9 ? strlen(h) : 9), h);
        }
        printf("  RISK\n");
        for (size_t i = 0; i < r->n_workloads; i++) {
                const struct xarch_audit_workload *w = &r->workloads[i];
                char kn[600];
                snprintf(kn, sizeof(kn), "%s/%s", w->kind, w->name);
                printf("%-*s  %-*s  %5zu  %-13s", (int) width_ns, w->namespace_, (int) width_name,
                                kn, w->n_pods, w->runs_on[0] ? w->runs_on : "-");
                for (size_t p = 0; p < r->n_platforms; p++) {
                        size_t hl = strlen(r->platforms[p].name) +
                                    (r->platforms[p].what_if ? 1 : 0);
                        printf("  %-*s", (int) (hl > 9 ? hl : 9), cell_word(&w->cells[p]));
                }
                printf("  %s\n", xarch_audit_risk_name(w->risk));
        }

        bool header = false;
        for (size_t i = 0; i < r->n_workloads; i++) {
                const struct xarch_audit_workload *w = &r->workloads[i];
                bool show = w->risk != XARCH_AUDIT_OK || w->patch || w->patch_note;
                if (!show)
                        continue;
                if (!header) {
                        printf("\nFindings:\n");
                        header = true;
                }
                printf("\n%s/%s/%s: %s: %s\n", w->namespace_[0] ? w->namespace_ : "-", w->kind,
                                w->name, xarch_audit_risk_name(w->risk), w->risk_reason);
                for (size_t m = 0; m < w->n_images; m++) {
                        const struct xarch_audit_image *im = &r->images[w->images[m]];
                        if (im->error) {
                                printf("  image %s: cannot inspect: %s\n", im->ref, im->error);
                                continue;
                        }
                        for (size_t p = 0; p < r->n_platforms; p++) {
                                const struct xarch_audit_cell *c = &im->cells[p];
                                if (!w->cells[p].n_nodes || !c->known ||
                                                xarch_audit_verdict_severity(c->verdict) < 2)
                                        continue;
                                printf("  image %s on %s%s: %s (%s)\n", im->ref,
                                                r->platforms[p].name,
                                                r->platforms[p].what_if ? " (what-if)" : "",
                                                xarch_check_verdict_name(c->verdict), c->code);
                                print_indented("    ", c->reason);
                        }
                }
                for (size_t e = 0; e < w->n_evidence && e < 5; e++) {
                        const struct xarch_audit_evidence *ev = &w->evidence[e];
                        printf("  evidence: pod %s, container %s, node %s: %s: %s\n", ev->pod,
                                        ev->container, ev->node[0] ? ev->node : "-", ev->state,
                                        ev->title);
                        printf("    %s\n", ev->message);
                }
                if (w->n_evidence > 5)
                        printf("  ... and %zu more\n", w->n_evidence - 5);
                if (w->patch) {
                        printf("  fix: ");
                        audit_print_patch_command(stdout, w, patch_files ? patch_files[i] : NULL);
                        putchar('\n');
                }
                if (w->patch_note)
                        printf("  note: %s\n", w->patch_note);
        }
        for (size_t i = 0; i < r->n_what_if; i++) {
                const struct xarch_audit_what_if *wi = &r->what_if[i];
                const char *pn = r->platforms[wi->platform].name;
                printf("\nWhat if %s nodes were added: %zu workloads could land there: %zu native, "
                       "%zu emulated, %zu emulated-unknown, %zu crash, %zu fail, %zu unknown\n",
                                pn, wi->workloads, wi->native, wi->emulated, wi->uncertain,
                                wi->crash, wi->fails, wi->unknown);
                printf("  readiness: %zu/%zu workloads (%.0f%%), %zu/%zu pods (%.0f%%) run "
                       "natively\n",
                                wi->native, wi->workloads,
                                wi->workloads ? 100.0 * (double) wi->native / (double) wi->workloads
                                              : 100.0,
                                wi->pods_native, wi->pods,
                                wi->pods ? 100.0 * (double) wi->pods_native / (double) wi->pods
                                         : 100.0);
                for (size_t b = 0; b < wi->n_blockers && b < 20; b++) {
                        const struct xarch_audit_blocker *bl = &wi->blockers[b];
                        printf("  blocker %zu: %s: %s, %zu pods in %zu workloads\n", b + 1,
                                        r->images[bl->image].ref,
                                        xarch_check_verdict_name(bl->verdict), bl->n_pods,
                                        bl->n_workloads);
                }
                if (wi->n_blockers > 20)
                        printf("  ... and %zu more blockers\n", wi->n_blockers - 20);
        }
        for (size_t i = 0; i < r->n_skipped; i++)
                printf("%sskipped %zu object%s of kind %s\n", i ? "" : "\n", r->skipped[i].count,
                                r->skipped[i].count == 1 ? "" : "s", r->skipped[i].kind);
        printf("\nSummary: %zu ok, %zu at-risk, %zu broken, %zu unknown\n",
                        r->count[XARCH_AUDIT_OK], r->count[XARCH_AUDIT_AT_RISK],
                        r->count[XARCH_AUDIT_BROKEN], r->count[XARCH_AUDIT_UNKNOWN]);
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

static json_t *cell_json(
                const struct xarch_audit_report *r, const struct xarch_audit_cell *c, size_t p) {
        json_t *o = json_pack("{s:s, s:b, s:I, s:I}", "platform", r->platforms[p].name, "what_if",
                        r->platforms[p].what_if, "nodes", (json_int_t) c->n_nodes, "pods",
                        (json_int_t) c->n_pods);
        if (c->known) {
                json_object_set_new(
                                o, "verdict", json_string(xarch_check_verdict_name(c->verdict)));
                json_object_set_new(o, "code", json_string(c->code));
                json_object_set_new(o, "reason", str_or_null(c->reason));
                json_object_set_new(o, "fix", str_or_null(c->fix));
                json_object_set_new(o, "emulated_somewhere", json_boolean(c->emulated_somewhere));
                if (c->n_by_runtime) {
                        json_t *a = json_array();
                        for (size_t i = 0; i < c->n_by_runtime; i++) {
                                const struct xarch_audit_runtime_cell *rc = &c->by_runtime[i];
                                json_array_append_new(a,
                                                json_pack("{s:s, s:I, s:s, s:s}", "runtime",
                                                                rc->runtime, "nodes",
                                                                (json_int_t) rc->n_nodes, "verdict",
                                                                xarch_check_verdict_name(
                                                                                rc->verdict),
                                                                "code", rc->code));
                        }
                        json_object_set_new(o, "by_runtime", a);
                }
        } else {
                json_object_set_new(o, "verdict", json_null());
        }
        return o;
}

static json_t *report_json(const struct xarch_audit_report *r, char **patch_files) {
        json_t *plats = json_array(), *nodes = json_array(), *images = json_array(),
               *wls = json_array(), *wifs = json_array(), *skipped = json_array();
        for (size_t p = 0; p < r->n_platforms; p++)
                json_array_append_new(plats,
                                json_pack("{s:s, s:s, s:b, s:I}", "platform", r->platforms[p].name,
                                                "architecture", r->platforms[p].arch, "what_if",
                                                r->platforms[p].what_if, "nodes",
                                                (json_int_t) r->platforms[p].n_nodes));
        for (size_t i = 0; i < r->n_nodes; i++) {
                const struct xarch_audit_node *n = &r->nodes[i];
                json_array_append_new(nodes,
                                json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:s}", "name",
                                                n->name, "platform", r->platforms[n->platform].name,
                                                "runtime", n->runtime, "runtime_version",
                                                n->runtime_version, "ready", n->ready,
                                                "unschedulable", n->unschedulable, "taints",
                                                (json_int_t) n->n_taints, "emulates", n->emulates));
        }
        for (size_t i = 0; i < r->n_images; i++) {
                const struct xarch_audit_image *im = &r->images[i];
                json_t *cells = json_array();
                for (size_t p = 0; !im->error && p < r->n_platforms; p++)
                        json_array_append_new(cells, cell_json(r, &im->cells[p], p));
                json_array_append_new(images,
                                json_pack("{s:s, s:s, s:o, s:I, s:I, s:o}", "image", im->ref,
                                                "resolved", im->resolved, "error",
                                                str_or_null(im->error), "pods",
                                                (json_int_t) im->n_pods, "workloads",
                                                (json_int_t) im->n_workloads, "platforms", cells));
        }
        for (size_t i = 0; i < r->n_workloads; i++) {
                const struct xarch_audit_workload *w = &r->workloads[i];
                json_t *imgs = json_array(), *cells = json_array(), *ev = json_array();
                for (size_t m = 0; m < w->n_images; m++)
                        json_array_append_new(imgs, json_string(r->images[w->images[m]].ref));
                for (size_t p = 0; p < r->n_platforms; p++)
                        json_array_append_new(cells, cell_json(r, &w->cells[p], p));
                for (size_t e = 0; e < w->n_evidence; e++) {
                        const struct xarch_audit_evidence *x = &w->evidence[e];
                        json_array_append_new(
                                        ev, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "pod",
                                                            x->pod, "container", x->container,
                                                            "node", x->node, "state", x->state,
                                                            "signature", x->signature, "title",
                                                            x->title, "message", x->message));
                }
                json_t *fix = json_null();
                if (w->patch) {
                        json_error_t je;
                        char *cmd = NULL;
                        size_t cmd_len = 0;
                        FILE *mf = open_memstream(&cmd, &cmd_len);
                        if (mf) {
                                audit_print_patch_command(
                                                mf, w, patch_files ? patch_files[i] : NULL);
                                fclose(mf);
                        }
                        fix = json_pack("{s:s, s:o, s:s, s:o}", "resource", w->patch_resource,
                                        "json_patch", json_loads(w->patch, 0, &je), "command",
                                        cmd ? cmd : "", "file",
                                        str_or_null(patch_files ? patch_files[i] : NULL));
                        free(cmd);
                }
                json_array_append_new(wls,
                                json_pack("{s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:s, s:o, s:o, "
                                          "s:o, s:o}",
                                                "namespace", w->namespace_, "kind", w->kind, "name",
                                                w->name, "pods", (json_int_t) w->n_pods, "images",
                                                imgs, "runs_on", w->runs_on, "risk",
                                                xarch_audit_risk_name(w->risk), "risk_reason",
                                                w->risk_reason, "platforms", cells, "evidence", ev,
                                                "fix", fix, "note", str_or_null(w->patch_note)));
        }
        for (size_t i = 0; i < r->n_what_if; i++) {
                const struct xarch_audit_what_if *wi = &r->what_if[i];
                json_t *bl = json_array();
                for (size_t b = 0; b < wi->n_blockers; b++)
                        json_array_append_new(bl,
                                        json_pack("{s:s, s:s, s:I, s:I}", "image",
                                                        r->images[wi->blockers[b].image].ref,
                                                        "verdict",
                                                        xarch_check_verdict_name(
                                                                        wi->blockers[b].verdict),
                                                        "pods", (json_int_t) wi->blockers[b].n_pods,
                                                        "workloads",
                                                        (json_int_t) wi->blockers[b].n_workloads));
                json_array_append_new(wifs,
                                json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                                                "platform", r->platforms[wi->platform].name,
                                                "workloads", (json_int_t) wi->workloads, "native",
                                                (json_int_t) wi->native, "emulated",
                                                (json_int_t) wi->emulated, "emulated_unknown",
                                                (json_int_t) wi->uncertain, "emulated_crash",
                                                (json_int_t) wi->crash, "fails",
                                                (json_int_t) wi->fails, "unknown",
                                                (json_int_t) wi->unknown, "pods",
                                                (json_int_t) wi->pods, "pods_native",
                                                (json_int_t) wi->pods_native, "blockers", bl));
        }
        for (size_t i = 0; i < r->n_skipped; i++)
                json_array_append_new(skipped,
                                json_pack("{s:s, s:I}", "kind", r->skipped[i].kind, "count",
                                                (json_int_t) r->skipped[i].count));
        return json_pack("{s:b, s:I, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:o, s:o, s:o}",
                        "verified", r->verified, "pods", (json_int_t) r->n_pods, "summary", "ok",
                        (json_int_t) r->count[XARCH_AUDIT_OK], "at_risk",
                        (json_int_t) r->count[XARCH_AUDIT_AT_RISK], "broken",
                        (json_int_t) r->count[XARCH_AUDIT_BROKEN], "unknown",
                        (json_int_t) r->count[XARCH_AUDIT_UNKNOWN], "platforms", plats, "nodes",
                        nodes, "images", images, "workloads", wls, "what_if", wifs, "skipped",
                        skipped);
}

/* ---- files ---- */

/* Writes a file whole or not at all (temp + rename). */
static int write_atomic(const char *path, const char *data, size_t len) {
        char tmp[PATH_MAX];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = mkstemp(tmp);
        if (fd < 0)
                return -errno;
        size_t off = 0;
        while (off < len) {
                ssize_t w = write(fd, data + off, len - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        int e = w < 0 ? errno : EIO;
                        close(fd);
                        unlink(tmp);
                        return -e;
                }
                off += (size_t) w;
        }
        if (fchmod(fd, 0644) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return -e;
        }
        return 0;
}

static int write_fix_dir(const char *dir, const struct xarch_audit_report *r, char **files) {
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return cli_error("cannot create %s: %s", dir, strerror(errno));
        for (size_t i = 0; i < r->n_workloads; i++) {
                const struct xarch_audit_workload *w = &r->workloads[i];
                if (!w->patch)
                        continue;
                /* names are DNS labels in a real cluster; anything else becomes '_' */
                char base[200];
                snprintf(base, sizeof(base), "%s.%s.%s", w->namespace_[0] ? w->namespace_ : "-",
                                w->kind, w->name);
                for (char *p = base; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                                *p = '_';
                if (base[0] == '.')
                        base[0] = '_';
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s.json", dir, base);
                for (size_t j = 0; j < i; j++)
                        if (files[j] && streq(files[j], path))
                                snprintf(path, sizeof(path), "%s/%s-%zu.json", dir, base, i);
                json_error_t je;
                json_t *doc = json_loads(w->patch, 0, &je);
                char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
                json_decref(doc);
                if (!text)
                        return cli_error("out of memory");
                size_t len = strlen(text);
                char *with_nl = realloc(text, len + 2);
                if (!with_nl) {
                        free(text);
                        return cli_error("out of memory");
                }
                with_nl[len] = '\n';
                with_nl[len + 1] = '\0';
                int k = write_atomic(path, with_nl, len + 1);
                free(with_nl);
                if (k < 0)
                        return cli_error("cannot write %s: %s", path, strerror(-k));
                if (!(files[i] = strdup(path)))
                        return cli_error("out of memory");
        }
        return EXIT_OK;
}

static int write_html_file(
                const char *path, const struct xarch_audit_report *r, char **patch_files) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&buf, &len);
        if (!mf)
                return cli_error("out of memory");
        int k = audit_write_html(mf, r, patch_files);
        if (fclose(mf) != 0 || k < 0) {
                free(buf);
                return cli_error("cannot render the HTML report");
        }
        k = write_atomic(path, buf, len);
        free(buf);
        if (k < 0)
                return cli_error("cannot write %s: %s", path, strerror(-k));
        return EXIT_OK;
}

/* ---- the parse arena ----
 * A cluster document is millions of small JSON values that live until the process ends:
 * jansson's malloc/free per value was over a third of a warm audit's CPU (glibc's allocator
 * and first-touch page faults). During the parse, jansson allocates from large mappings
 * instead (huge pages where the kernel gives them), bump-style; freeing a value that lives in
 * them is a no-op. Everything else (the registry client's manifests, from many threads) keeps
 * malloc/free: the arena is only filled by this thread while `arena_on`, and after the parse it
 * is only read (the range check in arena_free). */
#define ARENA_CHUNK  (64u << 20)
#define ARENA_CHUNKS 32 /* at most 2 GiB; beyond that, plain malloc */

static struct {
        char *base[ARENA_CHUNKS];
        size_t n, used;
        bool on;
} arena;

static void *arena_malloc(size_t size) {
        if (!arena.on || size > ARENA_CHUNK / 4)
                return malloc(size);
        size = (size + 15) & ~(size_t) 15;
        if (arena.n == 0 || arena.used + size > ARENA_CHUNK) {
                if (arena.n == ARENA_CHUNKS)
                        return malloc(size);
                void *m = mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED)
                        return malloc(size);
                (void) madvise(m, ARENA_CHUNK, MADV_HUGEPAGE);
                arena.base[arena.n++] = m;
                arena.used = 0;
        }
        void *p = arena.base[arena.n - 1] + arena.used;
        arena.used += size;
        return p;
}

static void arena_free(void *p) {
        /* newest chunk first: what the parser frees (its temporary keys) was just allocated */
        for (size_t i = arena.n; i-- > 0;)
                if ((char *) p >= arena.base[i] && (char *) p < arena.base[i] + ARENA_CHUNK)
                        return;
        free(p);
}

/* ---- main ---- */

enum {
        OPT_JSON = 0x100,
        OPT_HTML,
        OPT_FIX_DIR,
        OPT_KUBECTL,
        OPT_KUBECTL_TIMEOUT,
        OPT_EMULATION_ON,
        OPT_VERIFY,
};

int cmd_audit(int argc, char **argv) {
        static const struct option longopts[] = {
                        {"filename", required_argument, NULL, 'f'},
                        {"kubectl", no_argument, NULL, OPT_KUBECTL},
                        {"kubectl-timeout", required_argument, NULL, OPT_KUBECTL_TIMEOUT},
                        {"what-if", required_argument, NULL, 'w'},
                        {"emulation-on", required_argument, NULL, OPT_EMULATION_ON},
                        {"verify", no_argument, NULL, OPT_VERIFY},
                        {"concurrency", required_argument, NULL, 'j'},
                        {"json", no_argument, NULL, OPT_JSON},
                        {"html", required_argument, NULL, OPT_HTML},
                        {"fix-dir", required_argument, NULL, OPT_FIX_DIR},
                        {"help", no_argument, NULL, 'h'},
                        CLI_IMAGE_LONGOPTS,
                        {0},
        };
        const char *file = NULL, *html = NULL, *fix_dir = NULL;
        bool json = false, use_kubectl = false;
        int kubectl_timeout = 120;
        struct xarch_platform what_if[MAX_WHAT_IF];
        struct xarch_audit_emulation_rule rules[MAX_EMULATION];
        struct xarch_audit_options opts = {.what_if = what_if, .emulation = rules};
        struct xarch_image_options image_opts = {0};
        int c;
        while ((c = getopt_long(argc, argv, ":f:w:j:h", longopts, NULL)) != -1) {
                if (cli_image_option(c, optarg, &image_opts))
                        continue;
                switch (c) {
                case 'f':
                        file = optarg;
                        break;
                case OPT_KUBECTL:
                        use_kubectl = true;
                        break;
                case OPT_KUBECTL_TIMEOUT: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 1 || v > 3600)
                                return cli_usage_error(
                                                verb, "invalid --kubectl-timeout '%s'", optarg);
                        kubectl_timeout = (int) v;
                        break;
                }
                case 'w': {
                        if (opts.n_what_if >= MAX_WHAT_IF)
                                return cli_usage_error(verb, "at most %d --what-if", MAX_WHAT_IF);
                        struct xarch_platform *p = &what_if[opts.n_what_if];
                        if (xarch_platform_parse(optarg, p, NULL) < 0 ||
                                        !xarch_arch_is_known(p->arch))
                                return cli_usage_error(verb, "invalid platform '%s'", optarg);
                        opts.n_what_if++;
                        break;
                }
                case OPT_EMULATION_ON: {
                        if (opts.n_emulation >= MAX_EMULATION)
                                return cli_usage_error(
                                                verb, "at most %d --emulation-on", MAX_EMULATION);
                        struct xarch_error *err = NULL;
                        if (xarch_audit_emulation_rule_parse(
                                            optarg, &rules[opts.n_emulation], &err) < 0) {
                                int rc = cli_usage_error(verb, "--emulation-on: %s", err->msg);
                                xarch_error_free(err);
                                return rc;
                        }
                        opts.n_emulation++;
                        break;
                }
                case OPT_VERIFY:
                        opts.verify = true;
                        break;
                case 'j': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 1 || v > 64)
                                return cli_usage_error(
                                                verb, "invalid --concurrency '%s' (1-64)", optarg);
                        opts.concurrency = (unsigned) v;
                        break;
                }
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_HTML:
                        html = optarg;
                        break;
                case OPT_FIX_DIR:
                        fix_dir = optarg;
                        break;
                case 'h':
                        usage();
                        return EXIT_OK;
                default:
                        return cli_option_error(verb, c, argc, argv);
                }
        }
        if (use_kubectl && file)
                return cli_usage_error(verb, "-f and --kubectl exclude each other");
        if (!use_kubectl && !file)
                return cli_usage_error(verb, "missing -f FILE (or -f -, or --kubectl)");
        if (!use_kubectl && optind < argc)
                return cli_usage_error(verb, "unexpected argument '%s'", argv[optind]);

        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (use_kubectl) {
                int rc = run_kubectl(argv + optind, argc - optind, kubectl_timeout, &data, &len);
                if (rc != EXIT_OK)
                        return rc;
        } else {
                int fd = streq(file, "-") ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return cli_error("cannot open %s: %s", file, strerror(errno));
                int k = read_all_fd(fd, &data, &len);
                if (fd != STDIN_FILENO)
                        close(fd);
                if (k == -EFBIG)
                        return cli_error("%s: larger than %u MiB", file,
                                        XARCH_AUDIT_INPUT_MAX >> 20);
                if (k < 0)
                        return cli_error("cannot read %s: %s", file, strerror(-k));
        }

        struct xarch_error *err = NULL;
        struct xarch_audit_input *in = NULL;
        /* before any other jansson call of this process (see the arena above) */
        json_set_alloc_funcs(arena_malloc, arena_free);
        arena.on = true;
        int k = xarch_audit_input_parse(data, len, &in, &err);
        arena.on = false;
        if (k < 0) {
                int rc = cli_error("%s: %s", use_kubectl ? "kubectl" : file,
                                err ? err->msg : strerror(-k));
                xarch_error_free(err);
                return rc;
        }
        struct xarch_image_context *ctx = NULL;
        k = xarch_image_context_new(&image_opts, &ctx, &err);
        if (k < 0) {
                xarch_audit_input_free(in);
                return cli_report(&err, k);
        }
        opts.images = ctx;
        struct xarch_audit_report *rep = NULL;
        k = xarch_audit_run(in, &opts, &rep, &err);
        if (k < 0) {
                xarch_image_context_free(ctx);
                xarch_audit_input_free(in);
                return cli_report(&err, k);
        }

        int rc = EXIT_OK;
        char **patch_files = calloc(rep->n_workloads + 1, sizeof(char *));
        if (!patch_files)
                rc = cli_error("out of memory");
        if (rc == EXIT_OK && fix_dir)
                rc = write_fix_dir(fix_dir, rep, patch_files);
        if (rc == EXIT_OK && html)
                rc = write_html_file(html, rep, fix_dir ? patch_files : NULL);
        if (rc == EXIT_OK) {
                if (json)
                        cli_print_json(report_json(rep, fix_dir ? patch_files : NULL));
                else
                        print_human(rep, fix_dir ? patch_files : NULL);
                if (rep->count[XARCH_AUDIT_AT_RISK] || rep->count[XARCH_AUDIT_BROKEN] ||
                                rep->count[XARCH_AUDIT_UNKNOWN])
                        rc = EXIT_FAIL;
        }
        for (size_t i = 0; patch_files && i < rep->n_workloads; i++)
                free(patch_files[i]);
        free(patch_files);
        xarch_audit_report_free(rep);
        xarch_image_context_free(ctx);
        /* the document's values live in the parse arena, released at exit */
        xarch_audit_input_free_keep_values(in);
        return rc;
}
