/* SPDX-License-Identifier: MIT */
#ifndef XARCH_DOCTOR_H
#define XARCH_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xarch/binfmt.h"
#include "xarch/error.h"
#include "xarch/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What this host can run, proved by executing a tiny probe program per architecture. Each probe
 * is a minimal static ELF executable built in memory (no files shipped) whose only job is the
 * exit system call with status XARCH_PROBE_EXIT_CODE.
 */

#define XARCH_PROBE_EXIT_CODE 42
#define XARCH_PROBE_MAX_SIZE  256

/* The platforms `xarch doctor` probes by default, in display order. */
const char *const *xarch_probe_platforms(size_t *ret_n);

/* Writes the probe for a platform ("linux/arm64", "arm/v7", "riscv64", ...) into buf; returns
 * its length, -ENOTSUP for a platform without a probe, -ENOBUFS when buf is too small. */
int xarch_probe_build(const char *platform, uint8_t *buf, size_t size, struct xarch_error **err);

struct xarch_probe_result {
        bool ran;        /* exited with XARCH_PROBE_EXIT_CODE */
        int exec_errno;  /* errno of execve when it failed (ENOEXEC: no handler), else 0 */
        int exit_status; /* exit status when it exited, else -1 */
        int term_signal; /* signal that killed it, else 0 */
        bool timed_out;
};

/* Executes a probe on this host from a memory file (in_container = false), or inside a new mount
 * namespace chrooted into an empty tmpfs holding only the probe (in_container = true): that is
 * how a container sees it, so an emulator registered without F is not found there. */
int xarch_probe_exec(const uint8_t *elf, size_t len, bool in_container,
                struct xarch_probe_result *ret, struct xarch_error **err);

enum xarch_run_how {
        XARCH_RUN_NO = 0,     /* exec format error: nothing can run it */
        XARCH_RUN_NATIVE,     /* the CPU's own architecture */
        XARCH_RUN_COMPATIBLE, /* a compatibility mode of the CPU/kernel (386 on amd64, arm on arm64)
                               */
        XARCH_RUN_EMULATED,   /* a binfmt_misc handler (QEMU, Rosetta, ...) ran it */
        XARCH_RUN_BROKEN,     /* a handler matched but the run failed (missing emulator, crash) */
        XARCH_RUN_UNTESTED,   /* the probe could not be executed here (sandbox refused, say) */
};

const char *xarch_run_how_name(enum xarch_run_how how);

struct xarch_doctor_platform {
        char platform[XARCH_PLATFORM_STRING_MAX];
        enum xarch_run_how host_how;
        struct xarch_probe_result host;
        enum xarch_run_how container_how;
        struct xarch_probe_result container;
        bool container_tested;
        int handler; /* index into the report's entries of the binfmt entry that matches, or -1 */
        unsigned n_handlers; /* how many enabled entries match (more than one: order decides) */
        char detail[256];    /* one line saying how, or why not */
};

struct xarch_doctor_warning {
        char code[32]; /* stable identifier, e.g. "amd64-go-under-qemu" */
        char message[512];
        char fix[512];
};

struct xarch_doctor_report {
        struct xarch_host host;
        char kernel[65];
        struct xarch_binfmt_instance_info binfmt;
        struct xarch_binfmt_entry *entries;
        size_t n_entries;
        struct xarch_doctor_platform *platforms;
        size_t n_platforms;
        struct xarch_doctor_warning *warnings;
        size_t n_warnings;
};

struct xarch_doctor_options {
        const char *mount;            /* binfmt_misc instance to read, NULL for the default */
        const char *const *platforms; /* NULL: xarch_probe_platforms() */
        size_t n_platforms;
        bool skip_container; /* do not run the in-container probes */
};

int xarch_doctor_run(const struct xarch_doctor_options *opts, struct xarch_doctor_report **ret,
                struct xarch_error **err);
void xarch_doctor_report_free(struct xarch_doctor_report *report);

#ifdef __cplusplus
}
#endif

#endif
