/* SPDX-License-Identifier: MIT */
/*
 * xarch binfmt: QEMU user-mode emulators in binfmt_misc. status, install, uninstall, enable,
 * disable and export, on the host's instance or any other (--mount DIR). Every target, emulator
 * and register line is checked before the first write; each target gets one result line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

static void usage(void) {
        fputs("Usage: xarch binfmt [status] [--json] [--mount DIR]\n"
              "       xarch binfmt install [OPTIONS] ARCH...|all\n"
              "       xarch binfmt uninstall [--mount DIR] [--dry-run] ARCH...|NAME...|all\n"
              "       xarch binfmt enable|disable [--mount DIR] ARCH...|NAME...\n"
              "       xarch binfmt export --format systemd|debian DIR [ARCH...|all]\n"
              "\n"
              "QEMU user-mode emulators in Linux binfmt_misc.\n"
              "\n"
              "  status     every entry: state, flags, interpreter (exists? static?), the\n"
              "             architecture its magic matches, QEMU or another handler; which\n"
              "             instance (host or user namespace), mounted, the global switch\n"
              "  install    registers QEMU's magic/mask for each ARCH (arm64, riscv64, s390x,\n"
              "             linux/arm/v7, qemu-aarch64, ...); 'all' = every target whose emulator\n"
              "             is found. Never the host's own family. Flag F by default. Mounts\n"
              "             binfmt_misc when it is not mounted. An identical entry is left as is;\n"
              "             a different one is reported and left alone unless --force\n"
              "  uninstall  removes entries; 'all' removes QEMU entries only, other handlers\n"
              "             only when named exactly\n"
              "  enable, disable\n"
              "             switches entries on or off without removing them\n"
              "  export     writes boot-time files: systemd binfmt.d (qemu-ARCH.conf) or Debian\n"
              "             update-binfmts format files, atomically (default: all)\n"
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

static int do_install(const struct options *o, char **names, int n_names) {
        _cleanup_free_ struct planned *plan = NULL;
        size_t n = 0;
        int rc = plan_targets(o, names, n_names, false, &plan, &n);
        if (rc != EXIT_OK)
                return rc;
        if (n == 0)
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
                        bool replacing = r >= 0;
                        r = 0;
                        if (replacing)
                                r = xarch_binfmt_control(
                                                b, p->entry.name, XARCH_BINFMT_REMOVE, &err);
                        if (r >= 0)
                                r = xarch_binfmt_register(b, &p->entry, &err);
                        if (r < 0) {
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
                        {},
        };
        struct options o = {0};
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

        if (streq(sub, "status")) {
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
        return cli_usage_error(VERB, "unknown command '%s'", sub);
}
