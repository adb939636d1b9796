/* SPDX-License-Identifier: MIT */
/*
 * xarch binfmt: QEMU user-mode emulators in binfmt_misc. status, install, uninstall, enable,
 * disable and export, on the host's instance or any other (--mount DIR). Every target, emulator
 * and register line is checked before the first write; each target gets one result line.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define VERB "binfmt"

struct options {
        const char *mount;
        const char *qemu_path;
        const char *format;
        bool json;
        bool dry_run;
        bool force;
        bool preserve_argv0;
        bool credential;
        bool ignore_family;
        bool watch;
        bool uninstall_on_exit;
        unsigned interval; /* seconds between checks for --watch */
        bool check;
};

static void usage(void) {
        fputs("Usage: xarch binfmt [status] [--json] [--mount DIR]\n"
              "       xarch binfmt status --check [--json] ARCH...\n"
              "       xarch binfmt install [OPTIONS] ARCH...|all\n"
              "       xarch binfmt install --watch [--interval S] [--uninstall-on-exit] ARCH...\n"
              "       xarch binfmt uninstall [--mount DIR] [--dry-run] ARCH...|NAME...|all\n"
              "       xarch binfmt enable|disable [--mount DIR] ARCH...|NAME...\n"
              "       xarch binfmt export --format systemd|debian DIR [ARCH...|all]\n"
              "       xarch binfmt daemonset [--arch ARCH,...] [--image REF] [--namespace NS]\n"
              "\n"
              "QEMU user-mode emulators in Linux binfmt_misc.\n"
              "\n"
              "  status     every entry: state, flags, interpreter (exists? static?), the\n"
              "             architecture its magic matches, QEMU or another handler; which\n"
              "             instance (host or user namespace), mounted, the global switch;\n"
              "             with --check: exit 0 when every ARCH runs here, proved by\n"
              "             executing a probe (for a readiness probe)\n"
              "  install    registers QEMU's magic/mask for each ARCH (arm64, riscv64, s390x,\n"
              "             linux/arm/v7, qemu-aarch64, ...); 'all' = every target whose emulator\n"
              "             is found. Never the host's own family. Flag F by default. Mounts\n"
              "             binfmt_misc when it is not mounted. An identical entry is left as is;\n"
              "             a different one is reported and left alone unless --force.\n"
              "             --watch: then keeps them registered, re-registering what vanishes\n"
              "             (checked every --interval seconds and on binfmt_misc changes),\n"
              "             never touching other entries; logs each change on stderr; skips\n"
              "             this node's family; on SIGTERM leaves the entries in place\n"
              "  uninstall  removes entries; 'all' removes QEMU entries only, other handlers\n"
              "             only when named exactly\n"
              "  enable, disable\n"
              "             switches entries on or off without removing them\n"
              "  export     writes boot-time files: systemd binfmt.d (qemu-ARCH.conf) or Debian\n"
              "             update-binfmts format files, atomically (default: all)\n"
              "  daemonset  prints a Namespace and a DaemonSet (YAML; --json: a List) that runs\n"
              "             'install --watch' on every Linux node (default --arch amd64,arm64)\n"
              "\n"
              "Options:\n"
              "  --mount DIR        the binfmt_misc instance (default /proc/sys/fs/binfmt_misc)\n"
              "  --qemu-path DIR    look for emulators here first\n"
              "  --preserve-argv0   flag P: pass the original argv[0] to the emulator\n"
              "  --credential       flag C: credentials from the binary; setuid binaries then\n"
              "                     run the emulator as root\n"
              "  --ignore-family    also targets of the host's family (not the host's own CPU)\n"
              "  --force            replace a different entry of the same name\n"
              "  --dry-run          print the register lines (or actions) instead of writing\n"
              "  --format FORMAT    export format: systemd or debian\n"
              "  --watch            install, then keep the entries registered until SIGTERM\n"
              "  --interval S       seconds between checks with --watch (default 5)\n"
              "  --uninstall-on-exit  with --watch: remove our entries on SIGTERM/SIGINT\n"
              "  --check            status: exit 0 only when every ARCH runs here\n"
              "  --arch LIST        daemonset: architectures to emulate (comma-separated)\n"
              "  --image REF        daemonset: the xarch node image (default xarch:VERSION)\n"
              "  --namespace NS     daemonset: its namespace (default xarch-system)\n"
              "  --json             machine-readable output\n"
              "  -h, --help         this help\n"
              "\n"
              "Exit status: 0 success, 1 when anything failed, 2 usage error.\n",
                        stdout);
}

static const char *kind_name(enum xarch_binfmt_kind kind) {
        switch (kind) {
        case XARCH_BINFMT_KIND_QEMU:
                return "qemu";
        case XARCH_BINFMT_KIND_ROSETTA:
                return "rosetta";
        default:
                return "other";
        }
}

static void hex_string(const uint8_t *bytes, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", bytes[i]);
        out[2 * n] = '\0';
}

static const char *instance_words(const struct xarch_binfmt_instance_info *info) {
        if (info->initial_userns)
                return "the host's instance (initial user namespace)";
        if (info->private_instance)
                return "a user-namespace instance (the host's entries are hidden from this "
                       "namespace)";
        return "a user namespace";
}

/* ---- status ---- */

static json_t *entry_json(const struct xarch_binfmt_entry *e) {
        char flags[5], hex[2 * XARCH_BINFMT_MAGIC_MAX + 1];
        xarch_binfmt_flags_format(e->flags, flags);
        json_t *o = json_object();
        json_object_set_new(o, "name", cli_json_bytes(e->name));
        json_object_set_new(o, "enabled", json_boolean(e->enabled));
        json_object_set_new(o, "kind", json_string(kind_name(e->kind)));
        json_object_set_new(o, "interpreter", cli_json_bytes(e->interpreter));
        json_object_set_new(o, "interpreter_exists", json_boolean(e->interpreter_exists));
        json_object_set_new(o, "interpreter_static", json_boolean(e->interpreter_static));
        json_object_set_new(o, "flags", json_string(flags));
        json_object_set_new(o, "pinned", json_boolean(e->flags & XARCH_BINFMT_FLAG_F));
        json_object_set_new(o, "match_order", json_integer(e->match_order));
        json_object_set_new(o, "type", json_string(e->is_extension ? "extension" : "magic"));
        if (e->is_extension)
                json_object_set_new(o, "extension", cli_json_bytes(e->extension));
        else {
                json_object_set_new(o, "offset", json_integer(e->offset));
                hex_string(e->magic, e->magic_len, hex);
                json_object_set_new(o, "magic", json_string(hex));
                if (e->has_mask) {
                        hex_string(e->mask, e->magic_len, hex);
                        json_object_set_new(o, "mask", json_string(hex));
                } else
                        json_object_set_new(o, "mask", json_null());
        }
        json_object_set_new(o, "arch", e->target ? json_string(e->target->qemu_name) : json_null());
        json_object_set_new(o, "oci_arch",
                        e->target && e->target->oci_arch ? json_string(e->target->oci_arch)
                                                         : json_null());
        return o;
}

static int do_status(const struct options *o) {
        struct xarch_error *err = NULL;
        struct xarch_binfmt *b = NULL;
        struct xarch_binfmt_instance_info info;
        _cleanup_free_ struct xarch_binfmt_entry *entries = NULL;
        size_t n = 0;
        int r = xarch_binfmt_open(o->mount, &b, &err);
        if (r >= 0)
                r = xarch_binfmt_info(b, &info, &err);
        if (r >= 0)
                r = xarch_binfmt_list(b, &entries, &n, &err);
        xarch_binfmt_close(b);
        if (r < 0)
                return cli_report(&err, r);

        const struct xarch_binfmt_target *host = xarch_binfmt_host_target();
        if (o->json) {
                json_t *doc = json_object(), *arr = json_array();
                json_object_set_new(doc, "mount", cli_json_bytes(info.mount));
                json_object_set_new(doc, "mounted", json_boolean(info.mounted));
                json_object_set_new(doc, "status",
                                info.mounted ? json_string(info.status_enabled ? "enabled"
                                                                               : "disabled")
                                             : json_null());
                json_object_set_new(
                                doc, "initial_user_namespace", json_boolean(info.initial_userns));
                json_object_set_new(doc, "private_instance", json_boolean(info.private_instance));
                json_object_set_new(doc, "host_arch",
                                host ? json_string(host->qemu_name) : json_null());
                json_object_set_new(
                                doc, "host_family", host ? json_string(host->family) : json_null());
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(arr, entry_json(&entries[i]));
                json_object_set_new(doc, "entries", arr);
                return cli_print_json(doc);
        }

        printf("instance: %s, %s\n", info.mount, instance_words(&info));
        if (!info.mounted) {
                printf("binfmt_misc is not mounted there: no emulators are registered "
                       "('xarch binfmt install' mounts it)\n");
                return EXIT_OK;
        }
        printf("status:   %s%s\n", info.status_enabled ? "enabled" : "disabled",
                        info.status_enabled ? "" : " (no entry is used until it is enabled)");
        if (host)
                printf("host:     %s (family %s: not emulated)\n", host->qemu_name, host->family);
        if (n == 0) {
                printf("no entries\n");
                return EXIT_OK;
        }
        printf("\n%-16s %-8s %-5s %-12s %-8s %s\n", "NAME", "STATE", "FLAGS", "ARCH", "KIND",
                        "INTERPRETER");
        for (size_t i = 0; i < n; i++) {
                const struct xarch_binfmt_entry *e = &entries[i];
                char flags[5];
                xarch_binfmt_flags_format(e->flags, flags);
                const char *arch = e->target         ? e->target->qemu_name
                                   : e->is_extension ? "(ext)"
                                                     : "-";
                const char *note =
                                !e->interpreter_exists
                                                ? ((e->flags & XARCH_BINFMT_FLAG_F) ? " (gone, "
                                                                                      "pinned by F)"
                                                                                    : " (missing)")
                                : e->interpreter_static ? " (static)"
                                                        : "";
                printf("%-16s %-8s %-5s %-12s %-8s %s%s\n", e->name,
                                e->enabled ? "enabled" : "disabled", flags[0] ? flags : "-", arch,
                                kind_name(e->kind), e->interpreter, note);
        }
        return EXIT_OK;
}

/* ---- resolving targets ---- */

/* One timestamped log line on stderr, for install --watch (defined below). */
static void watch_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct planned {
        const struct xarch_binfmt_target *target;
        struct xarch_binfmt_entry entry;
        char line[XARCH_BINFMT_REGISTER_MAX + 1];
        bool implied_p;
        bool emulator_static;
};

/* Plans one registration: family rule, emulator, entry and line. Failures are printed (one line)
 * and counted by the caller. */
static int plan_one(
                const struct options *o, const struct xarch_binfmt_target *t, struct planned *p) {
        struct xarch_error *err = NULL;
        const struct xarch_binfmt_target *host = xarch_binfmt_host_target();
        char interpreter[4096];
        unsigned implied = 0;

        if (xarch_binfmt_target_is_host_family(t)) {
                if (!o->ignore_family)
                        return cli_error("qemu-%s: %s is in this host's family (%s); the kernel "
                                         "would hand native binaries to QEMU (--ignore-family "
                                         "registers other members of the family)",
                                        t->qemu_name, t->qemu_name, t->family);
                if (t == host || streq(xarch_binfmt_target_emulator(t),
                                                 xarch_binfmt_target_emulator(host)))
                        return cli_error("qemu-%s: %s is this host's own CPU; registering it "
                                         "would run every native binary under QEMU",
                                        t->qemu_name, t->qemu_name);
        }
        int r = xarch_binfmt_find_emulator(
                        t, o->qemu_path, interpreter, sizeof(interpreter), &implied, &err);
        unsigned flags = XARCH_BINFMT_FLAG_F | implied;
        if (o->preserve_argv0)
                flags |= XARCH_BINFMT_FLAG_P;
        if (o->credential)
                flags |= XARCH_BINFMT_FLAG_C;
        if (r >= 0)
                r = xarch_binfmt_entry_from_target(t, interpreter, flags, &p->entry, &err);
        if (r >= 0)
                r = xarch_binfmt_entry_format_register(&p->entry, p->line, sizeof(p->line), &err);
        if (r < 0)
                return cli_report(&err, r);
        p->target = t;
        p->implied_p = implied != 0 && !o->preserve_argv0;
        p->emulator_static = p->entry.interpreter_static;
        return EXIT_OK;
}

/* Resolves ARCH...|all into planned registrations. Returns EXIT_OK, EXIT_FAIL (something did
 * not validate; all of it printed) or EXIT_USAGE. */
static int plan_targets(const struct options *o, char **names, int n_names, bool default_all,
                struct planned **ret, size_t *ret_n) {
        size_t n_targets = 0;
        const struct xarch_binfmt_target *table = xarch_binfmt_targets(&n_targets);
        _cleanup_free_ struct planned *plan = calloc(n_targets, sizeof(*plan));
        size_t n = 0;
        int failed = 0;
        if (!plan)
                return cli_error("out of memory");

        bool all = n_names == 0 && default_all;
        for (int i = 0; i < n_names; i++)
                if (streq(names[i], "all")) {
                        if (n_names > 1)
                                return cli_usage_error(VERB, "'all' cannot be combined with "
                                                             "architectures");
                        all = true;
                }
        if (n_names == 0 && !all)
                return cli_usage_error(VERB, "no architecture given (ARCH... or all)");

        if (all) {
                const struct xarch_binfmt_target *host = xarch_binfmt_host_target();
                for (size_t i = 0; i < n_targets; i++) {
                        const struct xarch_binfmt_target *t = &table[i];
                        char path[4096];
                        if (xarch_binfmt_target_is_host_family(t) &&
                                        (!o->ignore_family || t == host ||
                                                        streq(xarch_binfmt_target_emulator(t),
                                                                        xarch_binfmt_target_emulator(
                                                                                        host))))
                                continue;
                        if (xarch_binfmt_find_emulator(
                                            t, o->qemu_path, path, sizeof(path), NULL, NULL) < 0)
                                continue;
                        if (plan_one(o, t, &plan[n]) == EXIT_OK)
                                n++;
                        else
                                failed++;
                }
        } else {
                _cleanup_free_ const struct xarch_binfmt_target **wanted =
                                calloc(n_targets, sizeof(*wanted));
                size_t n_wanted = 0;
                if (!wanted)
                        return cli_error("out of memory");
                for (int i = 0; i < n_names; i++) {
                        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(names[i]);
                        if (!t)
                                return cli_usage_error(VERB, "unknown architecture '%s'", names[i]);
                        bool dup = false;
                        for (size_t j = 0; j < n_wanted; j++)
                                dup = dup || wanted[j] == t;
                        if (!dup && n_wanted < n_targets)
                                wanted[n_wanted++] = t;
                }
                for (size_t i = 0; i < n_wanted; i++) {
                        /* One DaemonSet serves nodes of every architecture: there each node
                         * skips its own family instead of failing. */
                        if (o->watch && !o->ignore_family &&
                                        xarch_binfmt_target_is_host_family(wanted[i])) {
                                watch_log("qemu-%s: skipped, %s is this node's family (%s): it "
                                          "runs natively",
                                                wanted[i]->qemu_name, wanted[i]->qemu_name,
                                                wanted[i]->family);
                                continue;
                        }
                        if (plan_one(o, wanted[i], &plan[n]) == EXIT_OK)
                                n++;
                        else
                                failed++;
                }
        }
        if (failed)
                return EXIT_FAIL;
        *ret = steal_ptr(plan);
        *ret_n = n;
        return EXIT_OK;
}

static json_t *result_json(
                const char *name, const char *arch, const char *result, const char *detail) {
        json_t *o = json_object();
        json_object_set_new(o, "name", cli_json_bytes(name));
        json_object_set_new(o, "arch", arch ? json_string(arch) : json_null());
        json_object_set_new(o, "result", json_string(result));
        if (detail)
                json_object_set_new(o, "detail", cli_json_bytes(detail));
        return o;
}

static int finish_results(const struct options *o, json_t *results, int failed) {
        if (o->json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "results", results);
                json_object_set_new(doc, "failed", json_integer(failed));
                cli_print_json(doc);
        } else
                json_decref(results);
        return failed ? EXIT_FAIL : EXIT_OK;
}

static int open_instance(const struct options *o, struct xarch_binfmt **ret,
                struct xarch_binfmt_instance_info *info) {
        struct xarch_error *err = NULL;
        int r = xarch_binfmt_open(o->mount, ret, &err);
        if (r >= 0)
                r = xarch_binfmt_info(*ret, info, &err);
        if (r < 0) {
                xarch_binfmt_close(*ret);
                *ret = NULL;
                return cli_report(&err, r);
        }
        return EXIT_OK;
}

/* ---- install ---- */

static int do_watch(const struct options *o, struct planned *plan, size_t n);

/* For tests only, just before a register write: XARCH_TEST_UNLINK_BEFORE_REGISTER=PATH removes
 * PATH, so that the kernel refuses the write for real (flag F opens the interpreter then) after
 * --force removed the old entry; XARCH_TEST_REGISTER_BEFORE=LINE registers LINE first, as an
 * install running at the same time would. */
static void before_register_hook(const char *mount) {
        const char *path = getenv("XARCH_TEST_UNLINK_BEFORE_REGISTER");
        if (path && path[0])
                unlink(path);
        const char *line = getenv("XARCH_TEST_REGISTER_BEFORE");
        char reg[4096];
        if (line && line[0] &&
                        snprintf(reg, sizeof(reg), "%s/register", mount) < (int) sizeof(reg)) {
                FILE *f = fopen(reg, "we");
                if (f) {
                        fputs(line, f);
                        fclose(f);
                }
        }
}

/* After EEXIST: whether the entry now under e's name is e (a concurrent install of the same). */
static bool registered_meanwhile(struct xarch_binfmt *b, const struct xarch_binfmt_entry *e) {
        struct xarch_binfmt_entry now;
        struct xarch_error *err = NULL;
        bool same = xarch_binfmt_get(b, e->name, &now, &err) >= 0 &&
                    xarch_binfmt_entry_same(&now, e);
        xarch_error_free(err);
        return same;
}

/* --force removed old and the new registration failed (*err, r): register old again, and say
 * in one line what failed and what state is left. */
static void restore_entry(struct xarch_binfmt *b, const struct xarch_binfmt_entry *old,
                struct xarch_error **err, int r) {
        char why[1024], flags[5];
        snprintf(why, sizeof(why), "%s", *err && (*err)->msg ? (*err)->msg : strerror(-r));
        xarch_error_freep(err);
        xarch_binfmt_flags_format(old->flags, flags);
        struct xarch_error *e = NULL;
        int k = xarch_binfmt_register(b, old, &e);
        if (k >= 0 && !old->enabled)
                k = xarch_binfmt_control(b, old->name, XARCH_BINFMT_DISABLE, &e);
        if (k >= 0)
                cli_error("%s; the previous entry was restored (interpreter %s, flags %s%s)", why,
                                old->interpreter, flags[0] ? flags : "none",
                                old->enabled ? "" : ", disabled");
        else
                cli_error("%s; restoring the previous entry (interpreter %s, flags %s) failed too "
                          "(%s): no entry named %s is registered now",
                                why, old->interpreter, flags[0] ? flags : "none",
                                e && e->msg ? e->msg : strerror(-k), old->name);
        xarch_error_free(e);
}

static int do_install(const struct options *o, char **names, int n_names) {
        _cleanup_free_ struct planned *plan = NULL;
        size_t n = 0;
        int rc = plan_targets(o, names, n_names, false, &plan, &n);
        if (rc != EXIT_OK)
                return rc;
        if (n == 0 && !o->watch)
                return cli_error("no emulator found for any target; install qemu-user-static or "
                                 "pass --qemu-path DIR");

        if (o->dry_run) {
                json_t *results = json_array();
                for (size_t i = 0; i < n; i++) {
                        if (o->json)
                                json_array_append_new(results,
                                                result_json(plan[i].entry.name,
                                                                plan[i].target->qemu_name,
                                                                "would-register", plan[i].line));
                        else
                                printf("%s\n", plan[i].line);
                }
                return finish_results(o, results, 0);
        }

        if (o->credential)
                fprintf(stderr, "xarch: warning: flag C (--credential): setuid and setgid "
                                "foreign binaries will run the emulator as root\n");
        if (o->watch)
                return do_watch(o, plan, n);

        struct xarch_binfmt *b = NULL;
        struct xarch_binfmt_instance_info info;
        struct xarch_error *err = NULL;
        if (open_instance(o, &b, &info) != EXIT_OK)
                return EXIT_FAIL;
        if (!info.mounted) {
                int r = xarch_binfmt_mount(b, &err);
                if (r < 0) {
                        xarch_binfmt_close(b);
                        return cli_report(&err, r);
                }
                if (!o->json)
                        printf("mounted binfmt_misc on %s\n", info.mount);
        }

        if (info.mounted && !info.status_enabled)
                fprintf(stderr,
                                "xarch: warning: binfmt_misc is switched off in %s/status; no "
                                "entry is "
                                "used until 'echo 1 > %s/status'\n",
                                info.mount, info.mount);

        json_t *results = json_array();
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                struct planned *p = &plan[i];
                struct xarch_binfmt_entry existing;
                char flags[5], detail[4200];
                const char *result = NULL;
                xarch_binfmt_flags_format(p->entry.flags, flags);
                snprintf(detail, sizeof(detail), "%s, flags %s%s", p->entry.interpreter, flags,
                                p->implied_p ? "; P because Debian's -binfmt-P emulator expects it"
                                             : "");

                int r = xarch_binfmt_get(b, p->entry.name, &existing, &err);
                if (r >= 0 && xarch_binfmt_entry_same(&existing, &p->entry)) {
                        result = "already-installed";
                        if (!o->json)
                                printf("%s: already installed (%s)%s\n", p->entry.name, detail,
                                                existing.enabled ? ""
                                                                 : ", but disabled: 'xarch binfmt "
                                                                   "enable'");
                } else if (r >= 0 && !o->force) {
                        char eflags[5];
                        xarch_binfmt_flags_format(existing.flags, eflags);
                        cli_error("%s: a different entry is already registered (interpreter %s, "
                                  "flags %s); left alone, use --force to replace it",
                                        p->entry.name, existing.interpreter,
                                        eflags[0] ? eflags : "none");
                        result = "conflict";
                        failed++;
                } else if (r < 0 && r != -ENOENT) {
                        cli_report(&err, r);
                        result = "failed";
                        failed++;
                } else {
                        bool replacing = r >= 0, removed = false;
                        r = 0;
                        if (replacing) {
                                r = xarch_binfmt_control(
                                                b, p->entry.name, XARCH_BINFMT_REMOVE, &err);
                                removed = r >= 0;
                        }
                        if (r >= 0) {
                                before_register_hook(info.mount);
                                r = xarch_binfmt_register(b, &p->entry, &err);
                        }
                        if (r == -EEXIST && registered_meanwhile(b, &p->entry)) {
                                /* another install registered the same entry first: in place */
                                xarch_error_freep(&err);
                                result = "already-installed";
                                if (!o->json)
                                        printf("%s: already installed (%s)\n", p->entry.name,
                                                        detail);
                        } else if (r < 0) {
                                if (removed)
                                        restore_entry(b, &existing, &err, r);
                                else
                                        cli_report(&err, r);
                                result = "failed";
                                failed++;
                        } else {
                                result = replacing ? "replaced" : "installed";
                                if (!o->json)
                                        printf("%s: %s (%s)\n", p->entry.name, result, detail);
                                if (!p->emulator_static)
                                        fprintf(stderr,
                                                        "xarch: warning: %s: %s is not "
                                                        "statically linked; containers without "
                                                        "its libraries cannot use it\n",
                                                        p->entry.name, p->entry.interpreter);
                        }
                }
                json_array_append_new(results,
                                result_json(p->entry.name, p->target->qemu_name, result, detail));
        }
        xarch_binfmt_close(b);
        return finish_results(o, results, failed);
}

/* ---- install --watch: keep the registrations ---- */

/* One log line on stderr: UTC timestamp, then the message. */
static void watch_log(const char *fmt, ...) {
        char stamp[32], msg[1024], shown[1024];
        time_t now = time(NULL);
        struct tm tm;
        if (!gmtime_r(&now, &tm) || !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(stamp, sizeof(stamp), "-");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s xarch binfmt: %s\n", stamp, cli_printable(msg, shown, sizeof(shown)));
        fflush(stderr);
}

/* What the watcher last saw of one entry; a line is logged only when this changes. */
enum watch_seen {
        SEEN_NOTHING,
        SEEN_PRESENT,
        SEEN_DISABLED,
        SEEN_CONFLICT,
        SEEN_ERROR,
};

struct watch_state {
        struct xarch_binfmt *b;
        const char *mount;
        bool mounted;        /* as last seen */
        bool status_enabled; /* as last seen */
        bool first;
        int inotify_fd;
        int inotify_wd;
};

/* Watches the instance directory: binfmt_misc reports writes to register, status and entry
 * files (IN_MODIFY) and, on recent kernels, removed entries (IN_DELETE), but not every change
 * (entries appear without IN_CREATE; older kernels drop entries silently), so this only wakes
 * the watcher early: the periodic check is what guarantees the result. */
static void watch_inotify(struct watch_state *w) {
        if (w->inotify_fd < 0)
                return;
        if (w->inotify_wd >= 0)
                inotify_rm_watch(w->inotify_fd, w->inotify_wd);
        w->inotify_wd = inotify_add_watch(w->inotify_fd, w->mount,
                        IN_MODIFY | IN_DELETE | IN_DELETE_SELF | IN_UNMOUNT | IN_ATTRIB);
}

/* One pass over the instance and every planned entry. Returns the number of entries that are
 * registered as wanted and enabled. */
static size_t watch_pass(
                struct watch_state *w, struct planned *plan, enum watch_seen *seen, size_t n) {
        struct xarch_error *err = NULL;
        struct xarch_binfmt_instance_info info;
        int r = xarch_binfmt_info(w->b, &info, &err);
        if (r < 0) {
                watch_log("cannot read %s: %s", w->mount, err ? err->msg : strerror(-r));
                xarch_error_free(err);
                return 0;
        }
        if (!info.mounted) {
                r = xarch_binfmt_mount(w->b, &err);
                if (r < 0) {
                        if (w->mounted || w->first)
                                watch_log("binfmt_misc is not mounted on %s and cannot be: %s",
                                                w->mount, err ? err->msg : strerror(-r));
                        xarch_error_free(err);
                        w->mounted = false;
                        w->first = false;
                        return 0;
                }
                watch_log("binfmt_misc was not mounted on %s: mounted it", w->mount);
                watch_inotify(w);
                if (xarch_binfmt_info(w->b, &info, NULL) < 0)
                        info.status_enabled = true;
        }
        w->mounted = true;
        if (info.status_enabled != w->status_enabled || (w->first && !info.status_enabled))
                watch_log(info.status_enabled ? "binfmt_misc is switched on again in %s/status"
                                              : "binfmt_misc is switched off in %s/status: no "
                                                "entry is used; left so ('echo 1 > status')",
                                w->mount);
        w->status_enabled = info.status_enabled;

        size_t good = 0;
        _cleanup_free_ struct xarch_binfmt_entry *found = malloc(sizeof(*found));
        if (!found) {
                watch_log("out of memory");
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                struct planned *p = &plan[i];
                enum xarch_binfmt_keep_result kept;
                char flags[5];
                xarch_binfmt_flags_format(p->entry.flags, flags);
                r = xarch_binfmt_keep(w->b, &p->entry, &kept, found, &err);
                enum watch_seen now = r < 0                                ? SEEN_ERROR
                                      : kept == XARCH_BINFMT_CONFLICT      ? SEEN_CONFLICT
                                      : kept == XARCH_BINFMT_KEPT_DISABLED ? SEEN_DISABLED
                                                                           : SEEN_PRESENT;
                if (r < 0)
                        watch_log("%s: cannot register: %s", p->entry.name,
                                        err ? err->msg : strerror(-r));
                else if (kept == XARCH_BINFMT_REGISTERED)
                        watch_log("%s: %s (%s, flags %s)", p->entry.name,
                                        w->first ? "registered" : "was gone: registered again",
                                        p->entry.interpreter, flags);
                else if (now != seen[i]) {
                        char eflags[5];
                        xarch_binfmt_flags_format(found->flags, eflags);
                        if (now == SEEN_PRESENT)
                                watch_log("%s: %s (%s, flags %s)", p->entry.name,
                                                w->first ? "already registered" : "enabled again",
                                                p->entry.interpreter, flags);
                        else if (now == SEEN_DISABLED)
                                watch_log("%s: disabled by someone else; left disabled ('xarch "
                                          "binfmt enable %s')",
                                                p->entry.name, p->target->qemu_name);
                        else
                                watch_log("%s: a different entry holds the name (interpreter %s, "
                                          "flags %s); left alone",
                                                p->entry.name, found->interpreter,
                                                eflags[0] ? eflags : "none");
                }
                xarch_error_free(err);
                err = NULL;
                seen[i] = now;
                if (now == SEEN_PRESENT)
                        good++;
        }
        w->first = false;
        return good;
}

/* On SIGTERM/SIGINT with --uninstall-on-exit: removes the entries that are still ours (the same
 * registration), never one that someone replaced meanwhile. */
static void watch_uninstall(struct watch_state *w, struct planned *plan, size_t n) {
        _cleanup_free_ struct xarch_binfmt_entry *found = malloc(sizeof(*found));
        for (size_t i = 0; found && i < n; i++) {
                struct xarch_error *err = NULL;
                int r = xarch_binfmt_get(w->b, plan[i].entry.name, found, &err);
                if (r >= 0 && xarch_binfmt_entry_same(found, &plan[i].entry))
                        r = xarch_binfmt_control(
                                        w->b, plan[i].entry.name, XARCH_BINFMT_REMOVE, &err);
                else if (r >= 0) {
                        watch_log("%s: not ours any more; left alone", plan[i].entry.name);
                        continue;
                }
                if (r == -ENOENT)
                        watch_log("%s: already gone", plan[i].entry.name);
                else if (r < 0)
                        watch_log("%s: cannot remove: %s", plan[i].entry.name,
                                        err ? err->msg : strerror(-r));
                else
                        watch_log("%s: removed", plan[i].entry.name);
                xarch_error_free(err);
        }
}

static int do_watch(const struct options *o, struct planned *plan, size_t n) {
        struct xarch_binfmt *b = NULL;
        struct xarch_binfmt_instance_info info;
        if (open_instance(o, &b, &info) != EXIT_OK)
                return EXIT_FAIL;

        /* The signals arrive through a descriptor, so a check is never interrupted half-way. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0) {
                xarch_binfmt_close(b);
                return cli_error("cannot block signals: %s", strerror(errno));
        }
        _cleanup_close_ int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
        if (sfd < 0) {
                xarch_binfmt_close(b);
                return cli_error("signalfd: %s", strerror(errno));
        }
        _cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        struct watch_state w = {
                        .b = b,
                        .mount = info.mount,
                        .mounted = info.mounted,
                        .status_enabled = true,
                        .first = true,
                        .inotify_fd = ifd,
                        .inotify_wd = -1,
        };
        _cleanup_free_ enum watch_seen *seen = calloc(n, sizeof(*seen));
        if (!seen) {
                xarch_binfmt_close(b);
                return cli_error("out of memory");
        }

        /* Mount first, so the log names the instance the entries really go to. */
        if (!info.mounted) {
                struct xarch_error *err = NULL;
                int r = xarch_binfmt_mount(b, &err);
                if (r >= 0) {
                        watch_log("binfmt_misc was not mounted on %s: mounted it", info.mount);
                        xarch_binfmt_info(b, &info, NULL);
                        w.mounted = true;
                }
                xarch_error_free(err); /* else the first pass says why, and retries */
        }
        char names[1024] = "";
        for (size_t i = 0; i < n; i++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? " " : "",
                                plan[i].entry.name);
        if (n == 0)
                watch_log("nothing to register on this node (every architecture asked for runs "
                          "natively); waiting for SIGTERM");
        else
                watch_log("keeping %s in %s, %s; checked every %u s and when binfmt_misc "
                          "reports a change",
                                names, info.mount, instance_words(&info), o->interval);
        if (!info.initial_userns)
                watch_log("warning: this is not the host's user namespace: these registrations "
                          "serve this namespace only, not the host or its other containers");
        if (info.mounted)
                watch_inotify(&w);

        int rc = EXIT_OK;
        for (;;) {
                watch_pass(&w, plan, seen, n);
                if (w.inotify_wd < 0 && w.mounted)
                        watch_inotify(&w);
                struct pollfd fds[2] = {
                                {.fd = sfd, .events = POLLIN}, {.fd = ifd, .events = POLLIN}};
                int pr = poll(fds, ifd >= 0 ? 2 : 1, (int) o->interval * 1000);
                if (pr < 0 && errno != EINTR) {
                        rc = cli_error("poll: %s", strerror(errno));
                        break;
                }
                if (pr > 0 && (fds[0].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                                const char *sig = sigabbrev_np((int) si.ssi_signo);
                                if (o->uninstall_on_exit) {
                                        watch_log("SIG%s: removing our entries "
                                                  "(--uninstall-on-exit)",
                                                        sig ? sig : "?");
                                        watch_uninstall(&w, plan, n);
                                } else
                                        watch_log("SIG%s: leaving the entries registered; they "
                                                  "keep working (flag F) until removed or reboot",
                                                        sig ? sig : "?");
                                break;
                        }
                }
                if (pr > 0 && ifd >= 0 && (fds[1].revents & POLLIN)) {
                        /* Drain; the next pass looks at everything anyway. A gone watch
                         * (unmounted instance) is set up again after the next mount. */
                        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                        ssize_t len;
                        while ((len = read(ifd, buf, sizeof(buf))) > 0)
                                for (char *q = buf; q < buf + len;) {
                                        const struct inotify_event *ev =
                                                        (const struct inotify_event *) q;
                                        if (ev->mask & IN_IGNORED)
                                                w.inotify_wd = -1;
                                        q += sizeof(*ev) + ev->len;
                                }
                }
        }
        xarch_binfmt_close(b);
        return rc;
}

/* ---- status --check: do these architectures run here (a readiness probe) ---- */

static int do_status_check(const struct options *o, char **names, int n_names) {
        if (n_names == 0)
                return cli_usage_error(VERB, "status --check needs ARCH...");
        _cleanup_free_ const char **platforms = calloc((size_t) n_names, sizeof(*platforms));
        if (!platforms)
                return cli_error("out of memory");
        for (int i = 0; i < n_names; i++) {
                /* a probe for the name as given (arm64, linux/arm/v7), else for the OCI
                 * architecture of the QEMU target it names (aarch64, qemu-riscv64) */
                uint8_t elf[XARCH_PROBE_MAX_SIZE];
                const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(names[i]);
                if (xarch_probe_build(names[i], elf, sizeof(elf), NULL) >= 0)
                        platforms[i] = names[i];
                else if (t && t->oci_arch &&
                                xarch_probe_build(t->oci_arch, elf, sizeof(elf), NULL) >= 0)
                        platforms[i] = t->oci_arch;
                else
                        return cli_usage_error(VERB, "no probe for architecture '%s'", names[i]);
        }
        struct xarch_doctor_options opts = {
                        .mount = o->mount,
                        .platforms = platforms,
                        .n_platforms = (size_t) n_names,
        };
        struct xarch_doctor_report *report = NULL;
        struct xarch_error *err = NULL;
        int r = xarch_doctor_run(&opts, &report, &err);
        if (r < 0)
                return cli_report(&err, r);

        int failed = 0;
        json_t *arr = json_array();
        for (size_t i = 0; i < report->n_platforms; i++) {
                const struct xarch_doctor_platform *p = &report->platforms[i];
                bool host_ok = p->host_how == XARCH_RUN_NATIVE ||
                               p->host_how == XARCH_RUN_COMPATIBLE ||
                               p->host_how == XARCH_RUN_EMULATED;
                /* Containers matter most: an emulator without F runs on the host only. */
                bool container_ok = !p->container_tested || p->container_how == XARCH_RUN_NATIVE ||
                                    p->container_how == XARCH_RUN_COMPATIBLE ||
                                    p->container_how == XARCH_RUN_EMULATED;
                bool ok = host_ok && container_ok;
                if (!ok)
                        failed++;
                if (o->json) {
                        json_t *e = json_object();
                        json_object_set_new(e, "arch", json_string(names[i]));
                        json_object_set_new(e, "platform", json_string(p->platform));
                        json_object_set_new(e, "runs", json_boolean(ok));
                        json_object_set_new(
                                        e, "host", json_string(xarch_run_how_name(p->host_how)));
                        json_object_set_new(e, "container",
                                        p->container_tested ? json_string(xarch_run_how_name(
                                                                              p->container_how))
                                                            : json_null());
                        json_object_set_new(e, "detail", json_string(p->detail));
                        json_array_append_new(arr, e);
                } else
                        printf("%s: %s, %s (%s)\n", names[i], ok ? "runs" : "does not run",
                                        xarch_run_how_name(ok        ? p->host_how
                                                           : host_ok ? p->container_how
                                                                     : p->host_how),
                                        p->detail);
        }
        xarch_doctor_report_free(report);
        if (o->json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "ready", json_boolean(failed == 0));
                json_object_set_new(doc, "architectures", arr);
                cli_print_json(doc);
        } else
                json_decref(arr);
        return failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- uninstall, enable, disable ---- */

struct selected {
        char name[256];
        const char *arch;
        bool present;
};

static int do_control(const struct options *o, const char *verb, enum xarch_binfmt_action action,
                char **names, int n_names) {
        if (n_names == 0)
                return cli_usage_error(VERB, "%s needs ARCH..., NAME...%s", verb,
                                action == XARCH_BINFMT_REMOVE ? " or all" : "");
        struct xarch_binfmt *b = NULL;
        struct xarch_binfmt_instance_info info;
        struct xarch_error *err = NULL;
        _cleanup_free_ struct xarch_binfmt_entry *entries = NULL;
        size_t n_entries = 0;
        if (open_instance(o, &b, &info) != EXIT_OK)
                return EXIT_FAIL;
        int r = xarch_binfmt_list(b, &entries, &n_entries, &err);
        if (r < 0) {
                xarch_binfmt_close(b);
                return cli_report(&err, r);
        }

        _cleanup_free_ struct selected *sel = calloc(n_entries + (size_t) n_names, sizeof(*sel));
        size_t n_sel = 0;
        int failed = 0;
        if (!sel) {
                xarch_binfmt_close(b);
                return cli_error("out of memory");
        }
        bool all = false;
        for (int i = 0; i < n_names; i++)
                if (streq(names[i], "all")) {
                        if (action != XARCH_BINFMT_REMOVE || n_names > 1) {
                                xarch_binfmt_close(b);
                                return cli_usage_error(VERB, "'all' is only for uninstall, alone");
                        }
                        all = true;
                }
        if (all) {
                for (size_t i = 0; i < n_entries; i++)
                        if (entries[i].kind == XARCH_BINFMT_KIND_QEMU) {
                                snprintf(sel[n_sel].name, sizeof(sel[n_sel].name), "%s",
                                                entries[i].name);
                                sel[n_sel].arch = entries[i].target ? entries[i].target->qemu_name
                                                                    : NULL;
                                sel[n_sel++].present = true;
                        }
        } else
                for (int i = 0; i < n_names; i++) {
                        /* an exact entry name first (rosetta, WSLInterop, qemu-aarch64), then an
                         * architecture (arm64 -> qemu-aarch64) */
                        const struct xarch_binfmt_entry *hit = NULL;
                        for (size_t j = 0; j < n_entries && !hit; j++)
                                if (streq(entries[j].name, names[i]))
                                        hit = &entries[j];
                        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(names[i]);
                        struct selected s = {.present = hit != NULL};
                        if (hit) {
                                snprintf(s.name, sizeof(s.name), "%s", hit->name);
                                s.arch = hit->target ? hit->target->qemu_name : NULL;
                        } else if (t) {
                                snprintf(s.name, sizeof(s.name), "qemu-%s", t->qemu_name);
                                s.arch = t->qemu_name;
                                for (size_t j = 0; j < n_entries; j++)
                                        s.present = s.present || streq(entries[j].name, s.name);
                        } else {
                                cli_error("'%s': no such entry in %s, and not an architecture",
                                                names[i], info.mount);
                                failed++;
                                continue;
                        }
                        if (!s.present && action != XARCH_BINFMT_REMOVE) {
                                cli_error("%s: not installed in %s", s.name, info.mount);
                                failed++;
                                continue;
                        }
                        bool dup = false;
                        for (size_t j = 0; j < n_sel; j++)
                                dup = dup || streq(sel[j].name, s.name);
                        if (!dup)
                                sel[n_sel++] = s;
                }
        if (failed) { /* validated before the first write */
                xarch_binfmt_close(b);
                return EXIT_FAIL;
        }

        static const char *const values[] = {"0", "1", "-1"};
        static const char *const done[] = {"disabled", "enabled", "removed"};
        json_t *results = json_array();
        if (all && n_sel == 0 && !o->json)
                printf("no QEMU entries in %s\n", info.mount);
        for (size_t i = 0; i < n_sel; i++) {
                const char *result;
                if (!sel[i].present) {
                        result = "not-installed";
                        if (!o->json)
                                printf("%s: not installed\n", sel[i].name);
                } else if (o->dry_run) {
                        result = "would-write";
                        if (!o->json)
                                printf("echo %s > %s/%s\n", values[action], info.mount,
                                                sel[i].name);
                } else if ((r = xarch_binfmt_control(b, sel[i].name, action, &err)) < 0) {
                        cli_report(&err, r);
                        result = "failed";
                        failed++;
                } else {
                        result = done[action];
                        if (!o->json)
                                printf("%s: %s\n", sel[i].name, result);
                }
                json_array_append_new(results, result_json(sel[i].name, sel[i].arch, result, NULL));
        }
        xarch_binfmt_close(b);
        return finish_results(o, results, failed);
}

/* ---- export ---- */

static int do_export(const struct options *o, char **args, int n_args) {
        enum xarch_binfmt_export_format format;
        if (!o->format)
                return cli_usage_error(VERB, "export needs --format systemd|debian");
        if (streq(o->format, "systemd"))
                format = XARCH_BINFMT_EXPORT_SYSTEMD;
        else if (streq(o->format, "debian"))
                format = XARCH_BINFMT_EXPORT_DEBIAN;
        else
                return cli_usage_error(
                                VERB, "unknown export format '%s' (systemd or debian)", o->format);
        if (n_args < 1)
                return cli_usage_error(VERB, "export needs a directory");
        const char *dir = args[0];

        _cleanup_free_ struct planned *plan = NULL;
        size_t n = 0;
        int rc = plan_targets(o, args + 1, n_args - 1, true, &plan, &n);
        if (rc != EXIT_OK)
                return rc;
        if (n == 0)
                return cli_error("no emulator found for any target; install qemu-user-static or "
                                 "pass --qemu-path DIR");
        _cleanup_free_ struct xarch_binfmt_entry *entries = calloc(n, sizeof(*entries));
        if (!entries)
                return cli_error("out of memory");
        for (size_t i = 0; i < n; i++)
                entries[i] = plan[i].entry;

        struct xarch_error *err = NULL;
        json_t *results = json_array();
        if (o->dry_run) {
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *filename = NULL, *contents = NULL;
                        int r = xarch_binfmt_export_file(
                                        &entries[i], format, &filename, &contents, &err);
                        if (r < 0) {
                                json_decref(results);
                                return cli_report(&err, r);
                        }
                        if (!o->json)
                                printf("==> %s/%s <==\n%s", dir, filename, contents);
                        json_array_append_new(results,
                                        result_json(entries[i].name, plan[i].target->qemu_name,
                                                        "would-write", contents));
                }
                return finish_results(o, results, 0);
        }
        int r = xarch_binfmt_export(dir, entries, n, format, &err);
        if (r < 0) {
                json_decref(results);
                return cli_report(&err, r);
        }
        for (size_t i = 0; i < n; i++) {
                char path[4400];
                snprintf(path, sizeof(path), "%s/%s%s", dir, entries[i].name,
                                format == XARCH_BINFMT_EXPORT_SYSTEMD ? ".conf" : "");
                if (!o->json)
                        printf("%s: wrote %s\n", entries[i].name, path);
                json_array_append_new(
                                results, result_json(entries[i].name, plan[i].target->qemu_name,
                                                         "written", path));
        }
        return finish_results(o, results, 0);
}

/* ---- daemonset: the Kubernetes objects that keep emulators on every node ---- */

#define DAEMONSET_NAME "xarch-binfmt"

struct daemonset_options {
        const char *image;
        const char *namespace;
        const char *arches[64]; /* OCI names, as given or normalised */
        size_t n_arches;
        unsigned interval;
};

/* A DNS-1123 label, as Kubernetes wants namespace names. */
static bool dns_label_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

static json_t *string_array(const char *const *v, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static json_t *daemonset_labels(void) {
        return json_pack("{s:s, s:s}", "app.kubernetes.io/name", DAEMONSET_NAME,
                        "app.kubernetes.io/part-of", "xarch");
}

static json_t *daemonset_namespace(const struct daemonset_options *d) {
        json_t *labels = daemonset_labels();
        /* Pod Security Admission: a privileged pod is refused in baseline/restricted namespaces */
        json_object_set_new(
                        labels, "pod-security.kubernetes.io/enforce", json_string("privileged"));
        return json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind", "Namespace",
                        "metadata", "name", d->namespace, "labels", labels);
}

static json_t *daemonset_object(const struct daemonset_options *d) {
        char interval[16], arch_list[1024] = "";
        snprintf(interval, sizeof(interval), "%u", d->interval);
        for (size_t i = 0; i < d->n_arches; i++)
                snprintf(arch_list + strlen(arch_list), sizeof(arch_list) - strlen(arch_list),
                                "%s%s", i ? "," : "", d->arches[i]);

        const char *install[] = {"xarch", "binfmt", "install", "--watch", "--interval", interval};
        json_t *command = string_array(install, ELEMENTSOF(install));
        const char *check[] = {"xarch", "binfmt", "status", "--check"};
        json_t *probe = string_array(check, ELEMENTSOF(check));
        for (size_t i = 0; i < d->n_arches; i++) {
                json_array_append_new(command, json_string(d->arches[i]));
                json_array_append_new(probe, json_string(d->arches[i]));
        }

        json_t *container = json_pack(
                        "{s:s, s:s, s:s, s:o,"
                        /* privileged: mount(2) of binfmt_misc and writes to it need
                         * CAP_SYS_ADMIN and a writable /proc/sys, which runtimes give only to
                         * privileged containers (see xarch-binfmt(1)); nothing else is asked */
                        " s:{s:b, s:b, s:i},"
                        " s:{s:{s:o}, s:i, s:i, s:i, s:i},"
                        " s:{s:{s:s, s:s}, s:{s:s, s:s}}}",
                        "name", "binfmt", "image", d->image, "imagePullPolicy", "IfNotPresent",
                        "command", command, "securityContext", "privileged", 1,
                        "readOnlyRootFilesystem", 1, "runAsUser", 0, "readinessProbe", "exec",
                        "command", probe, "initialDelaySeconds", 2, "periodSeconds", 30,
                        "timeoutSeconds", 10, "failureThreshold", 2, "resources", "requests", "cpu",
                        "10m", "memory", "16Mi", "limits", "cpu", "200m", "memory", "128Mi");

        json_t *pod_spec = json_pack("{s:{s:s}, s:[{s:s}], s:b, s:b, s:i, s:[o]}", "nodeSelector",
                        "kubernetes.io/os", "linux",
                        /* every taint: control-plane, GPU, spot and dedicated nodes run
                         * emulated images too */
                        "tolerations", "operator", "Exists", "automountServiceAccountToken", 0,
                        "enableServiceLinks", 0, "terminationGracePeriodSeconds", 10, "containers",
                        container);

        json_t *template_labels = daemonset_labels();
        json_t *ds = json_pack("{s:s, s:s, s:{s:s, s:s, s:o},"
                               " s:{s:{s:o}, s:{s:s}, s:{s:{s:o, s:{s:s}}, s:o}}}",
                        "apiVersion", "apps/v1", "kind", "DaemonSet", "metadata", "name",
                        DAEMONSET_NAME, "namespace", d->namespace, "labels", daemonset_labels(),
                        "spec", "selector", "matchLabels",
                        json_pack("{s:s}", "app.kubernetes.io/name", DAEMONSET_NAME),
                        "updateStrategy", "type", "RollingUpdate", "template", "metadata", "labels",
                        template_labels, "annotations",
                        /* what a Ready pod of this DaemonSet can run, for 'xarch audit' */
                        "xarch/emulates", arch_list, "spec", pod_spec);
        return ds;
}

static int do_daemonset(
                const struct options *o, struct daemonset_options *d, char **args, int n_args) {
        if (n_args > 0)
                return cli_usage_error(VERB, "daemonset takes no arguments (use --arch ARCH)");
        if (!dns_label_ok(d->namespace))
                return cli_usage_error(VERB,
                                "invalid namespace '%s': lower-case letters, digits and '-', at "
                                "most 63",
                                d->namespace);
        if (!*d->image || strlen(d->image) > 512)
                return cli_usage_error(VERB, "invalid image reference");
        for (const char *p = d->image; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return cli_usage_error(VERB, "invalid image reference (spaces or control "
                                                     "characters)");
        if (d->n_arches == 0) {
                d->arches[d->n_arches++] = "amd64";
                d->arches[d->n_arches++] = "arm64";
        }
        json_t *ns = daemonset_namespace(d), *ds = daemonset_object(d);
        if (!ns || !ds) {
                json_decref(ns);
                json_decref(ds);
                return cli_error("out of memory");
        }
        if (o->json) /* one document kubectl applies as is */
                return cli_print_json(json_pack("{s:s, s:s, s:[o, o]}", "apiVersion", "v1", "kind",
                                "List", "items", ns, ds));
        fputs("# xarch binfmt daemonset: QEMU emulators on every Linux node, kept registered.\n"
              "# Apply with 'kubectl apply -f -'; remove the entries with 'xarch binfmt "
              "uninstall'\n"
              "# on the nodes (deleting the DaemonSet leaves them, as SIGTERM does).\n",
                        stdout);
        cli_print_yaml(ns, false);
        return cli_print_yaml(ds, true);
}

int cmd_binfmt(int argc, char **argv) {
        enum {
                OPT_MOUNT = 0x100,
                OPT_QEMU_PATH,
                OPT_FORMAT,
                OPT_JSON,
                OPT_DRY_RUN,
                OPT_FORCE,
                OPT_PRESERVE,
                OPT_CREDENTIAL,
                OPT_IGNORE_FAMILY,
                OPT_WATCH,
                OPT_UNINSTALL_ON_EXIT,
                OPT_INTERVAL,
                OPT_CHECK,
                OPT_ARCH,
                OPT_IMAGE,
                OPT_NAMESPACE,
        };
        static const struct option longopts[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"mount", required_argument, NULL, OPT_MOUNT},
                        {"qemu-path", required_argument, NULL, OPT_QEMU_PATH},
                        {"format", required_argument, NULL, OPT_FORMAT},
                        {"json", no_argument, NULL, OPT_JSON},
                        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                        {"force", no_argument, NULL, OPT_FORCE},
                        {"preserve-argv0", no_argument, NULL, OPT_PRESERVE},
                        {"credential", no_argument, NULL, OPT_CREDENTIAL},
                        {"ignore-family", no_argument, NULL, OPT_IGNORE_FAMILY},
                        {"watch", no_argument, NULL, OPT_WATCH},
                        {"uninstall-on-exit", no_argument, NULL, OPT_UNINSTALL_ON_EXIT},
                        {"interval", required_argument, NULL, OPT_INTERVAL},
                        {"check", no_argument, NULL, OPT_CHECK},
                        {"arch", required_argument, NULL, OPT_ARCH},
                        {"image", required_argument, NULL, OPT_IMAGE},
                        {"namespace", required_argument, NULL, OPT_NAMESPACE},
                        {},
        };
        struct options o = {.interval = 5};
        char image_default[64];
        snprintf(image_default, sizeof(image_default), "xarch:%s", xarch_version());
        struct daemonset_options ds = {.image = image_default, .namespace = "xarch-system"};
        bool interval_set = false, ds_options = false;
        int c;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        usage();
                        return EXIT_OK;
                case OPT_MOUNT:
                        o.mount = optarg;
                        break;
                case OPT_QEMU_PATH:
                        o.qemu_path = optarg;
                        break;
                case OPT_FORMAT:
                        o.format = optarg;
                        break;
                case OPT_JSON:
                        o.json = true;
                        cli_json_requested();
                        break;
                case OPT_DRY_RUN:
                        o.dry_run = true;
                        break;
                case OPT_FORCE:
                        o.force = true;
                        break;
                case OPT_PRESERVE:
                        o.preserve_argv0 = true;
                        break;
                case OPT_CREDENTIAL:
                        o.credential = true;
                        break;
                case OPT_IGNORE_FAMILY:
                        o.ignore_family = true;
                        break;
                case OPT_WATCH:
                        o.watch = true;
                        break;
                case OPT_UNINSTALL_ON_EXIT:
                        o.uninstall_on_exit = true;
                        break;
                case OPT_INTERVAL: {
                        char *end;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 1 || v > 3600 || optarg[0] == '-')
                                return cli_usage_error(VERB,
                                                "invalid --interval '%s': seconds, 1 to 3600",
                                                optarg);
                        o.interval = (unsigned) v;
                        interval_set = true;
                        break;
                }
                case OPT_CHECK:
                        o.check = true;
                        break;
                case OPT_ARCH: {
                        /* comma-separated, may be repeated; kept as OCI names */
                        _cleanup_free_ char *copy = strdup(optarg);
                        if (!copy)
                                return cli_error("out of memory");
                        char *save = NULL;
                        for (char *a = strtok_r(copy, ",", &save); a;
                                        a = strtok_r(NULL, ",", &save)) {
                                const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(a);
                                if (!t)
                                        return cli_usage_error(
                                                        VERB, "unknown architecture '%s'", a);
                                const char *name = t->oci_arch ? t->oci_arch : t->qemu_name;
                                bool dup = false;
                                for (size_t i = 0; i < ds.n_arches; i++)
                                        dup = dup || streq(ds.arches[i], name);
                                if (dup)
                                        continue;
                                if (ds.n_arches >= ELEMENTSOF(ds.arches))
                                        return cli_usage_error(VERB, "too many architectures");
                                ds.arches[ds.n_arches++] = name;
                        }
                        ds_options = true;
                        break;
                }
                case OPT_IMAGE:
                        ds.image = optarg;
                        ds_options = true;
                        break;
                case OPT_NAMESPACE:
                        ds.namespace = optarg;
                        ds_options = true;
                        break;
                case ':':
                        return cli_option_error(VERB, c, argc, argv);
                default:
                        return cli_option_error(VERB, c, argc, argv);
                }
        }
        char **args = argv + optind;
        int n_args = argc - optind;
        const char *sub = n_args > 0 ? args[0] : "status";
        if (n_args > 0) {
                args++;
                n_args--;
        }
        if (o.format && !streq(sub, "export"))
                return cli_usage_error(VERB, "--format is only for export");
        if ((o.watch || o.uninstall_on_exit) && !streq(sub, "install"))
                return cli_usage_error(VERB, "--watch and --uninstall-on-exit are for install");
        if (o.uninstall_on_exit && !o.watch)
                return cli_usage_error(VERB, "--uninstall-on-exit needs --watch");
        if (interval_set && !o.watch && !streq(sub, "daemonset"))
                return cli_usage_error(VERB, "--interval is for install --watch and daemonset");
        if (o.watch && (o.force || o.dry_run))
                return cli_usage_error(VERB, "--watch never replaces entries: no --force or "
                                             "--dry-run with it");
        if (o.check && !streq(sub, "status"))
                return cli_usage_error(VERB, "--check is for status");
        if (ds_options && !streq(sub, "daemonset"))
                return cli_usage_error(VERB, "--arch, --image and --namespace are for daemonset");
        ds.interval = o.interval;

        if (streq(sub, "status")) {
                if (o.check)
                        return do_status_check(&o, args, n_args);
                if (n_args > 0)
                        return cli_usage_error(VERB, "status takes no arguments");
                return do_status(&o);
        }
        if (streq(sub, "install"))
                return do_install(&o, args, n_args);
        if (streq(sub, "uninstall"))
                return do_control(&o, sub, XARCH_BINFMT_REMOVE, args, n_args);
        if (streq(sub, "enable"))
                return do_control(&o, sub, XARCH_BINFMT_ENABLE, args, n_args);
        if (streq(sub, "disable"))
                return do_control(&o, sub, XARCH_BINFMT_DISABLE, args, n_args);
        if (streq(sub, "export"))
                return do_export(&o, args, n_args);
        if (streq(sub, "daemonset"))
                return do_daemonset(&o, &ds, args, n_args);
        return cli_usage_error(VERB, "unknown command '%s'", sub);
}
