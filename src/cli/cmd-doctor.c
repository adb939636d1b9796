/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char doctor_usage[] =
                "Usage: xarch doctor [--json] [--platform P[,P...]] [--no-container] [--mount "
                "DIR]\n"
                "\n"
                "Tells what this host can run and how: natively, in a compatibility mode, "
                "emulated\n"
                "through a binfmt_misc handler (QEMU, Rosetta, ...) or not at all. Each answer is\n"
                "proved by executing a tiny probe program for that architecture, built in memory,\n"
                "once on the host and once in an empty mount namespace, as a container sees it\n"
                "(there an emulator registered without the F flag cannot be found).\n"
                "\n"
                "Options:\n"
                "  --json              machine-readable report\n"
                "  --platform LIST     probe only these platforms (comma-separated, e.g. "
                "arm64,arm/v7)\n"
                "  --no-container      skip the in-container probes\n"
                "  --mount DIR         read the binfmt_misc instance mounted at DIR\n"
                "  -h, --help          show this help\n"
                "\n"
                "Exit status: 0 when the probes ran (whatever they found), 1 when the doctor "
                "could\n"
                "not run, 2 for usage errors.\n";

static const char *how_label(enum xarch_run_how how, bool tested) {
        if (!tested)
                return "-";
        switch (how) {
        case XARCH_RUN_NATIVE:
        case XARCH_RUN_COMPATIBLE:
        case XARCH_RUN_EMULATED:
                return "yes";
        case XARCH_RUN_NO:
        case XARCH_RUN_BROKEN:
                return "no";
        default:
                return "?";
        }
}

static void print_human(const struct xarch_doctor_report *r) {
        char plat[XARCH_PLATFORM_STRING_MAX + 8];
        xarch_host_format_with_level(&r->host, plat, sizeof(plat));
        printf("Host:     %s", plat);
        if (r->host.amd64_level > 0)
                printf(" (x86-64-v%d)", r->host.amd64_level);
        printf(", kernel %s", r->kernel[0] ? r->kernel : "unknown");
        if (r->host.cpu_model[0])
                printf(", %s", r->host.cpu_model);
        printf("\n");

        /* which gzip inflater layers go through (verify/check speed): isa-l or zlib */
        printf("inflate:  %s\n", xarch_inflate_engine());
        const struct xarch_binfmt_instance_info *b = &r->binfmt;
        printf("binfmt:   %s: ", b->mount);
        if (!b->mounted)
                printf("not mounted");
        else
                printf("%s instance, %s, %zu entr%s",
                                b->private_instance
                                                ? "private user-namespace"
                                                : (b->initial_userns ? "host" : "user-namespace"),
                                b->status_enabled ? "enabled" : "disabled", r->n_entries,
                                r->n_entries == 1 ? "y" : "ies");
        printf("\n\n");

        printf("%-16s %-11s %-10s %s\n", "PLATFORM", "HOST", "CONTAINER", "HOW");
        for (size_t i = 0; i < r->n_platforms; i++) {
                const struct xarch_doctor_platform *p = &r->platforms[i];
                printf("%-16s %-11s %-10s %s\n", p->platform, xarch_run_how_name(p->host_how),
                                how_label(p->container_how, p->container_tested), p->detail);
        }
        if (r->n_warnings) {
                printf("\nWarnings:\n");
                for (size_t i = 0; i < r->n_warnings; i++)
                        printf("  ! %s\n    fix: %s\n", r->warnings[i].message, r->warnings[i].fix);
        }
}

static json_t *probe_json(const struct xarch_probe_result *res) {
        return json_pack("{s:b, s:i, s:i, s:i, s:b}", "ran", res->ran, "exec_errno",
                        res->exec_errno, "exit_status", res->exit_status, "signal",
                        res->term_signal, "timed_out", res->timed_out);
}

static json_t *report_json(const struct xarch_doctor_report *r) {
        char plat[XARCH_PLATFORM_STRING_MAX + 8];
        xarch_host_format_with_level(&r->host, plat, sizeof(plat));
        json_t *host = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i}", "platform", plat, "os",
                        r->host.platform.os, "architecture", r->host.platform.arch, "amd64_level",
                        r->host.amd64_level, "machine", r->host.machine, "kernel", r->kernel,
                        "page_size", (int) r->host.page_size);
        if (host && r->host.platform.variant[0])
                json_object_set_new(host, "variant", json_string(r->host.platform.variant));
        if (host && r->host.cpu_model[0])
                json_object_set_new(host, "cpu_model", json_string(r->host.cpu_model));
        if (host)
                json_object_set_new(host, "inflate", json_string(xarch_inflate_engine()));

        json_t *entries = json_array();
        for (size_t i = 0; i < r->n_entries; i++) {
                const struct xarch_binfmt_entry *e = &r->entries[i];
                char flags[5];
                xarch_binfmt_flags_format(e->flags, flags);
                json_t *o = json_pack("{s:o, s:b, s:o, s:s, s:s, s:b, s:b}", "name",
                                cli_json_bytes(e->name), "enabled", e->enabled, "interpreter",
                                cli_json_bytes(e->interpreter), "flags", flags, "kind",
                                e->kind == XARCH_BINFMT_KIND_QEMU
                                                ? "qemu"
                                                : (e->kind == XARCH_BINFMT_KIND_ROSETTA ? "rosetta"
                                                                                        : "other"),
                                "interpreter_exists", e->interpreter_exists, "interpreter_static",
                                e->interpreter_static);
                if (o && e->target && e->target->oci_arch)
                        json_object_set_new(o, "architecture", json_string(e->target->oci_arch));
                json_array_append_new(entries, o);
        }
        const struct xarch_binfmt_instance_info *b = &r->binfmt;
        json_t *binfmt = json_pack("{s:o, s:b, s:b, s:b, s:b, s:o}", "mount",
                        cli_json_bytes(b->mount), "mounted", b->mounted, "enabled",
                        b->status_enabled, "initial_userns", b->initial_userns, "private_instance",
                        b->private_instance, "entries", entries);

        json_t *plats = json_array();
        for (size_t i = 0; i < r->n_platforms; i++) {
                const struct xarch_doctor_platform *p = &r->platforms[i];
                json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:o}", "platform", p->platform, "host",
                                xarch_run_how_name(p->host_how), "host_probe", probe_json(&p->host),
                                "container",
                                p->container_tested ? xarch_run_how_name(p->container_how)
                                                    : "untested",
                                "detail", cli_json_bytes(p->detail));
                if (o && p->container_tested)
                        json_object_set_new(o, "container_probe", probe_json(&p->container));
                if (o && p->handler >= 0)
                        json_object_set_new(
                                        o, "handler", cli_json_bytes(r->entries[p->handler].name));
                json_array_append_new(plats, o);
        }
        json_t *warns = json_array();
        for (size_t i = 0; i < r->n_warnings; i++)
                json_array_append_new(warns,
                                json_pack("{s:s, s:o, s:o}", "code", r->warnings[i].code, "message",
                                                cli_json_bytes(r->warnings[i].message), "fix",
                                                cli_json_bytes(r->warnings[i].fix)));
        return json_pack("{s:o, s:o, s:o, s:o}", "host", host, "binfmt", binfmt, "platforms", plats,
                        "warnings", warns);
}

int cmd_doctor(int argc, char **argv) {
        static const struct option longopts[] = {
                        {"json", no_argument, NULL, 'j'},
                        {"platform", required_argument, NULL, 'p'},
                        {"no-container", no_argument, NULL, 'n'},
                        {"mount", required_argument, NULL, 'm'},
                        {"help", no_argument, NULL, 'h'},
                        {},
        };
        struct xarch_doctor_options opts = {0};
        bool json = false;
        _cleanup_free_ char *platform_list = NULL;
        const char *platforms[32];
        int c;

        while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        cli_json_requested();
                        break;
                case 'p':
                        free(platform_list);
                        platform_list = strdup(optarg);
                        if (!platform_list)
                                return cli_error("out of memory");
                        break;
                case 'n':
                        opts.skip_container = true;
                        break;
                case 'm':
                        opts.mount = optarg;
                        break;
                case 'h':
                        fputs(doctor_usage, stdout);
                        return EXIT_OK;
                case ':':
                        return cli_option_error("doctor", c, argc, argv);
                default:
                        return cli_option_error("doctor", c, argc, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error("doctor", "unexpected argument '%s'", argv[optind]);

        if (platform_list) {
                size_t n = 0;
                char *save = NULL;
                for (char *tok = strtok_r(platform_list, ",", &save); tok;
                                tok = strtok_r(NULL, ",", &save)) {
                        if (n == ELEMENTSOF(platforms))
                                return cli_usage_error("doctor", "too many platforms");
                        uint8_t buf[XARCH_PROBE_MAX_SIZE];
                        if (xarch_probe_build(tok, buf, sizeof(buf), NULL) < 0)
                                return cli_usage_error("doctor",
                                                "no probe for platform '%s' (known: amd64, 386, "
                                                "arm64, "
                                                "arm/v7, arm/v6, riscv64, ppc64le, s390x, "
                                                "mips64le, "
                                                "loong64)",
                                                tok);
                        platforms[n++] = tok;
                }
                if (n == 0)
                        return cli_usage_error("doctor", "--platform needs at least one platform");
                opts.platforms = platforms;
                opts.n_platforms = n;
        }

        struct xarch_error *err = NULL;
        struct xarch_doctor_report *report = NULL;
        int r = xarch_doctor_run(&opts, &report, &err);
        if (r < 0)
                return cli_report(&err, r);
        int rc = EXIT_OK;
        if (json)
                rc = cli_print_json(report_json(report));
        else
                print_human(report);
        xarch_doctor_report_free(report);
        return rc;
}
