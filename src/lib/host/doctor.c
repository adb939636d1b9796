/* SPDX-License-Identifier: MIT */
/*
 * xarch doctor: for each probe platform, execute the in-memory probe on the host and inside an
 * empty mount namespace (a container's view), find the binfmt_misc entry that claims it, and
 * name how it runs. Then derive warnings, each with its fix.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "macro.h"
#include "xarch/doctor.h"

const char *xarch_run_how_name(enum xarch_run_how how) {
        switch (how) {
        case XARCH_RUN_NO:
                return "no";
        case XARCH_RUN_NATIVE:
                return "native";
        case XARCH_RUN_COMPATIBLE:
                return "compatible";
        case XARCH_RUN_EMULATED:
                return "emulated";
        case XARCH_RUN_BROKEN:
                return "broken";
        case XARCH_RUN_UNTESTED:
                return "untested";
        }
        return "unknown";
}

static void add_warning(struct xarch_doctor_report *r, size_t *cap, const char *code,
                const char *fix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add_warning(struct xarch_doctor_report *r, size_t *cap, const char *code,
                const char *fix, const char *fmt, ...) {
        if (r->n_warnings == *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                struct xarch_doctor_warning *w = realloc(r->warnings, ncap * sizeof(*w));
                if (!w)
                        return; /* a warning lost to OOM is not worth failing the report */
                r->warnings = w;
                *cap = ncap;
        }
        struct xarch_doctor_warning *w = &r->warnings[r->n_warnings++];
        memset(w, 0, sizeof(*w));
        snprintf(w->code, sizeof(w->code), "%s", code);
        snprintf(w->fix, sizeof(w->fix), "%s", fix);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->message, sizeof(w->message), fmt, ap);
        va_end(ap);
}

/* The entry the kernel would use for these bytes (the enabled match earliest in its match
 * order, i.e. the most recent registration), how many enabled entries match, and the first
 * disabled entry that matches (to explain an exec format error). */
static int find_handler(const struct xarch_doctor_report *r, const uint8_t *hdr, size_t len,
                unsigned *n_matching, int *disabled_match) {
        *n_matching = 0;
        *disabled_match = -1;
        for (size_t i = 0; i < r->n_entries; i++) {
                const struct xarch_binfmt_entry *e = &r->entries[i];
                if (!xarch_binfmt_entry_matches(e, hdr, len))
                        continue;
                if (e->enabled)
                        (*n_matching)++;
                else if (*disabled_match < 0)
                        *disabled_match = (int) i;
        }
        const struct xarch_binfmt_entry *used =
                        xarch_binfmt_entries_match(r->entries, r->n_entries, hdr, len);
        return used ? (int) (used - r->entries) : -1;
}

static bool same_arch(const char *platform, const struct xarch_platform *host) {
        struct xarch_platform p;
        if (xarch_platform_parse(platform, &p, NULL) < 0)
                return false;
        return streq(p.arch, host->arch);
}

static void describe_failure(const struct xarch_probe_result *res, char *buf, size_t size) {
        if (res->timed_out)
                snprintf(buf, size, "the probe did not finish within 10 s and was killed");
        else if (res->term_signal == SIGILL)
                snprintf(buf, size,
                                "killed by SIGILL: the CPU (or emulated CPU) lacks an "
                                "instruction this variant needs");
        else if (res->term_signal)
                snprintf(buf, size, "killed by signal %d (%s)", res->term_signal,
                                strsignal(res->term_signal));
        else if (res->exit_status >= 0)
                snprintf(buf, size, "exited with status %d instead of %d", res->exit_status,
                                XARCH_PROBE_EXIT_CODE);
        else
                snprintf(buf, size, "exec failed: %s", strerror(res->exec_errno));
}

static enum xarch_run_how classify(const struct xarch_doctor_report *r, const char *platform,
                const struct xarch_probe_result *res, int handler, int disabled_match,
                bool container, char *detail, size_t size) {
        const struct xarch_binfmt_entry *e = handler >= 0 ? &r->entries[handler] : NULL;
        char flags[5];

        if (res->ran) {
                if (e) {
                        xarch_binfmt_flags_format(e->flags, flags);
                        snprintf(detail, size, "%s: %s (flags %s)", e->name, e->interpreter,
                                        flags[0] ? flags : "none");
                        return XARCH_RUN_EMULATED;
                }
                if (same_arch(platform, &r->host.platform)) {
                        snprintf(detail, size, "native: the CPU's own architecture");
                        return XARCH_RUN_NATIVE;
                }
                snprintf(detail, size, "compatible: the %s kernel runs it without emulation",
                                r->host.platform.arch);
                return XARCH_RUN_COMPATIBLE;
        }
        switch (res->exec_errno) {
        case 0:
                describe_failure(res, detail, size);
                return XARCH_RUN_BROKEN;
        case ENOEXEC:
                if (disabled_match >= 0)
                        snprintf(detail, size, "exec format error: handler %s is disabled",
                                        r->entries[disabled_match].name);
                else if (e)
                        snprintf(detail, size, "exec format error although %s matches", e->name);
                else if (r->binfmt.mounted && !r->binfmt.status_enabled)
                        snprintf(detail, size, "exec format error: binfmt_misc is disabled");
                else
                        snprintf(detail, size, "exec format error: no binfmt_misc handler");
                return XARCH_RUN_NO;
        case ENOENT:
                if (e && container && !(e->flags & XARCH_BINFMT_FLAG_F)) {
                        snprintf(detail, size,
                                        "%s is registered without F: %s does not exist in a "
                                        "container",
                                        e->name, e->interpreter);
                        return XARCH_RUN_BROKEN;
                }
                if (e) {
                        snprintf(detail, size, "%s matches but its interpreter %s is missing",
                                        e->name, e->interpreter);
                        return XARCH_RUN_BROKEN;
                }
                snprintf(detail, size, "exec failed: %s", strerror(res->exec_errno));
                return XARCH_RUN_UNTESTED;
        default:
                snprintf(detail, size, "could not execute the probe here: %s",
                                strerror(res->exec_errno));
                return XARCH_RUN_UNTESTED;
        }
}

/* Whether a space-separated list already holds this word. */
static bool has_word(const char *list, const char *word) {
        size_t n = strlen(word);
        for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return true;
        return false;
}

static void derive_warnings(struct xarch_doctor_report *r) {
        size_t cap = 0;
        char names[512] = "";
        size_t used = 0;

        if (!r->binfmt.initial_userns)
                add_warning(r, &cap, "userns-instance",
                                "run xarch as root in the host's initial namespace to see and "
                                "change the "
                                "host's table",
                                "this process runs in a user namespace: a binfmt_misc mounted here "
                                "is a "
                                "private instance that hides the host's entries (Linux >= 6.7)");
        if (!r->binfmt.mounted)
                add_warning(r, &cap, "binfmt-not-mounted",
                                "'xarch binfmt install ARCH' mounts it; or: mount -t binfmt_misc "
                                "binfmt_misc /proc/sys/fs/binfmt_misc",
                                "binfmt_misc is not mounted at %s: no foreign binary can run",
                                r->binfmt.mount);
        else if (!r->binfmt.status_enabled)
                add_warning(r, &cap, "binfmt-disabled", "echo 1 > /proc/sys/fs/binfmt_misc/status",
                                "binfmt_misc is disabled instance-wide: every handler is ignored");

        for (size_t i = 0; i < r->n_entries; i++) {
                const struct xarch_binfmt_entry *e = &r->entries[i];
                char fix[512];
                const char *arch = e->target && e->target->oci_arch ? e->target->oci_arch : e->name;
                if (!e->enabled) {
                        snprintf(fix, sizeof(fix), "xarch binfmt enable %s", e->name);
                        add_warning(r, &cap, "entry-disabled", fix, "%s is registered but disabled",
                                        e->name);
                }
                if (e->kind == XARCH_BINFMT_KIND_QEMU && !(e->flags & XARCH_BINFMT_FLAG_F)) {
                        snprintf(fix, sizeof(fix), "xarch binfmt install --force %s", arch);
                        add_warning(r, &cap, "emulator-not-pinned", fix,
                                        "%s is registered without F: containers fail with 'no such "
                                        "file "
                                        "or directory' because %s is not in their root",
                                        e->name, e->interpreter);
                }
                if (e->flags & XARCH_BINFMT_FLAG_C) {
                        snprintf(fix, sizeof(fix),
                                        "re-register without credentials: xarch binfmt install "
                                        "--force %s",
                                        arch);
                        add_warning(r, &cap, "credential-flag", fix,
                                        "%s has the C flag: a setuid foreign binary runs the "
                                        "emulator %s "
                                        "as root",
                                        e->name, e->interpreter);
                }
                if (e->enabled && !e->interpreter_exists && !(e->flags & XARCH_BINFMT_FLAG_F)) {
                        snprintf(fix, sizeof(fix),
                                        "apt-get install qemu-user-static, then "
                                        "xarch binfmt install --force %s",
                                        arch);
                        add_warning(r, &cap, "interpreter-missing", fix,
                                        "%s points to %s, which does not exist", e->name,
                                        e->interpreter);
                }
        }

        for (size_t i = 0; i < r->n_platforms; i++) {
                const struct xarch_doctor_platform *p = &r->platforms[i];
                if (p->n_handlers > 1)
                        add_warning(r, &cap, "overlapping-handlers",
                                        "uninstall the handler you do not want (xarch binfmt "
                                        "uninstall "
                                        "NAME)",
                                        "%u enabled handlers match %s; the most recently "
                                        "registered one "
                                        "runs it",
                                        p->n_handlers, p->platform);
                if (streq(p->platform, "linux/amd64") && p->host_how == XARCH_RUN_EMULATED &&
                                streq(r->host.platform.arch, "arm64") && p->handler >= 0 &&
                                r->entries[p->handler].kind == XARCH_BINFMT_KIND_QEMU)
                        add_warning(r, &cap, "amd64-go-under-qemu",
                                        "ship arm64 images (cross-compile with GOARCH=arm64, FROM "
                                        "--platform=$BUILDPLATFORM); or rebuild with Go >= 1.25.4; "
                                        "or "
                                        "use Rosetta where available",
                                        "amd64 runs here under QEMU: amd64 Go binaries built with "
                                        "Go "
                                        "older than 1.25.4 crash at their first garbage collection "
                                        "(runtime: lfstack.push invalid packing)");
                if (p->host_how == XARCH_RUN_NO) {
                        struct xarch_platform pl;
                        if (xarch_platform_parse(p->platform, &pl, NULL) == 0 &&
                                        !has_word(names, pl.arch)) {
                                int n = snprintf(
                                                names + used, sizeof(names) - used, " %s", pl.arch);
                                if (n > 0 && (size_t) n < sizeof(names) - used)
                                        used += (size_t) n;
                        }
                }
        }
        if (used > 0) {
                char fix[512];
                snprintf(fix, sizeof(fix), "xarch binfmt install%s (needs qemu-user-static)",
                                names);
                add_warning(r, &cap, "not-runnable", fix, "these architectures cannot run here:%s",
                                names);
        }
}

int xarch_doctor_run(const struct xarch_doctor_options *opts, struct xarch_doctor_report **ret,
                struct xarch_error **err) {
        struct xarch_doctor_options defaults = {0};
        if (!opts)
                opts = &defaults;
        struct xarch_doctor_report *r = calloc(1, sizeof(*r));
        if (!r)
                return xarch_error_set(err, ENOMEM, "out of memory");

        int k = xarch_host_detect(&r->host, err);
        if (k < 0) {
                xarch_doctor_report_free(r);
                return k;
        }
        struct utsname u;
        if (uname(&u) == 0)
                snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);

        struct xarch_binfmt *b = NULL;
        k = xarch_binfmt_open(opts->mount, &b, err);
        if (k >= 0)
                k = xarch_binfmt_info(b, &r->binfmt, err);
        if (k >= 0 && r->binfmt.mounted)
                k = xarch_binfmt_list(b, &r->entries, &r->n_entries, err);
        xarch_binfmt_close(b);
        if (k < 0) {
                xarch_doctor_report_free(r);
                return xarch_error_wrap(err, "read binfmt_misc");
        }

        size_t n = opts->n_platforms;
        const char *const *names = opts->platforms;
        if (!names)
                names = xarch_probe_platforms(&n);
        r->platforms = calloc(n ? n : 1, sizeof(*r->platforms));
        if (!r->platforms) {
                xarch_doctor_report_free(r);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                struct xarch_doctor_platform *p = &r->platforms[r->n_platforms];
                uint8_t elf[XARCH_PROBE_MAX_SIZE];
                k = xarch_probe_build(names[i], elf, sizeof(elf), err);
                if (k < 0) {
                        xarch_doctor_report_free(r);
                        return k;
                }
                size_t len = (size_t) k;
                struct xarch_platform pl;
                if (xarch_platform_parse(names[i], &pl, NULL) < 0 ||
                                xarch_platform_format(&pl, p->platform, sizeof(p->platform)) < 0)
                        snprintf(p->platform, sizeof(p->platform), "%s", names[i]);
                r->n_platforms++;

                int disabled_match;
                p->handler = find_handler(r, elf, len, &p->n_handlers, &disabled_match);

                k = xarch_probe_exec(elf, len, false, &p->host, err);
                if (k < 0) {
                        xarch_doctor_report_free(r);
                        return xarch_error_wrap(err, "probe %s", p->platform);
                }
                p->host_how = classify(r, p->platform, &p->host, p->handler, disabled_match, false,
                                p->detail, sizeof(p->detail));

                if (!opts->skip_container) {
                        char cdetail[256];
                        k = xarch_probe_exec(elf, len, true, &p->container, NULL);
                        p->container_tested = k >= 0;
                        p->container_how = k < 0 ? XARCH_RUN_UNTESTED
                                                 : classify(r, p->platform, &p->container,
                                                                   p->handler, disabled_match, true,
                                                                   cdetail, sizeof(cdetail));
                        /* The container view only adds news when it differs from the host's. */
                        if (p->container_how != p->host_how &&
                                        p->container_how != XARCH_RUN_UNTESTED)
                                snprintf(p->detail, sizeof(p->detail), "%s", cdetail);
                } else {
                        p->container_how = XARCH_RUN_UNTESTED;
                }
        }
        derive_warnings(r);
        *ret = r;
        return 0;
}

void xarch_doctor_report_free(struct xarch_doctor_report *report) {
        if (!report)
                return;
        free(report->entries);
        free(report->platforms);
        free(report->warnings);
        free(report);
}
