/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_CHECK_INTERNAL_H
#define XARCH_LIB_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/check.h"
#include "xarch/doctor.h"

/*
 * The verdict engine of `xarch check` (internal): pure rules over small fact structs, so that
 * the rules can be table-tested on constructed inputs. check.c fills the facts from a verify
 * report (the image) and a doctor report (the host).
 */

/* One image manifest, as the rules see it. */
struct check_candidate {
        bool from_index;     /* the label is the index entry's platform (else the config's) */
        bool bare;           /* an index entry without a platform (its label is the config's) */
        bool bare_not_first; /* and not the index's first such entry: never considered */
        bool has_label;
        struct xarch_platform label; /* raw, as written */

        bool has_binary;              /* the binary that would run was analysed */
        struct xarch_platform binary; /* its platform (normalised) */
        char binary_desc[512];        /* "/hello: ELF 64-bit LSB, ..." */
        char binary_path[256];        /* "/hello", for reasons; "" when unknown */
        bool is_go;
        char go_version[32]; /* "go1.19.8", "" when unknown */
        char go_range[16];   /* "1.18-1.19" from the pclntab when the version is unknown */
        int amd64_level;     /* 1..4, 0 unknown */

        bool loader_missing;
        char loader[256];
        bool no_program; /* no command, not found, not executable, symlink loop */
        char program_problem[256];
        bool unreadable;
        char unreadable_why[256]; /* verify's message: what could not be read */
        /* a config diff_id disagrees with its layer: the runtime refuses to unpack the image */
        bool diff_id_bad;
        char diff_id_why[256];
};

/* What a host has for one architecture (from xarch_doctor_run). */
struct check_emulator {
        char arch[XARCH_PLATFORM_FIELD_MAX]; /* OCI arch, "arm64" */
        enum xarch_run_how how;              /* how a probe of that arch ran on the host */
        bool registered;                     /* an enabled entry matches */
        bool rosetta;                        /* that entry is Rosetta */
        bool containers_tested;              /* the in-container probe was tried */
        bool in_containers;                  /* and it ran */
        char entry[256];
        char path[256];
        int qemu_major, qemu_minor; /* 0.0 when unknown */
};

struct check_node_facts {
        struct xarch_platform platform; /* normalised */
        int amd64_level;                /* the CPU's x86-64 level, 0 unknown */
        bool host;
        enum xarch_emulation emulation;
        bool emulation_set;
        int qemu_major, qemu_minor;
        struct xarch_runtime runtime;           /* whose matcher picks the manifest */
        const struct check_emulator *emulators; /* host only */
        size_t n_emulators;
};

/* Decides one node's verdict over the image's candidates (index order). image_name is used in
 * the fixes' commands. ret->fixes is allocated (free with check_result_clear). */
int check_decide(const char *image_name, bool is_index, const struct check_candidate *cands,
                size_t n_cands, const struct check_node_facts *node,
                struct xarch_check_result *ret);

void check_result_clear(struct xarch_check_result *r);

/* Go releases with the lfstack fix (go1.25.4+, go1.26+): 1 fixed, 0 affected, -1 unknown.
 * range is the pclntab-derived range ("1.18-1.19", "1.20+") used when version is "". */
int check_go_has_lfstack_fix(const char *version, const char *range);

/* Fills a candidate from one platform of a verify report. */
void check_candidate_from_verify(
                const struct xarch_verify_platform *p, bool is_index, struct check_candidate *ret);

#endif
