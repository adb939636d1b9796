/* SPDX-License-Identifier: MIT */
/* The verdict rules of `xarch check` (check_decide) as tables over constructed facts: these
 * tables are the rules (failures.md §1.7, oci.md §3.5). The CLI tests run the same rules over
 * real images. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xarch/check.h"
#include "xarch/verify.h"
#include "verdict/check-internal.h"
#include "macro.h"

/* A candidate from "LABEL BINARY GO LEVEL FLAGS":
 *   LABEL   os/arch[/variant] as written in the index (or the config with flag C)
 *   BINARY  the analysed binary's arch[/variant], "-" when not analysed
 *   GO      "-" (not Go), "go?" (Go, version unknown), "r1.18-1.19" (pclntab range) or a version
 *   LEVEL   x86-64 level 0..4
 *   FLAGS   "-" or letters: C label from the config (in an index: an entry without a platform),
 *           N such an entry after another one without a platform, L loader missing,
 *           P no program, U unreadable */
static struct check_candidate cand(const char *spec) {
        struct check_candidate c = {0};
        char label[64], binary[64], go[32], flags[16];
        int level;
        assert_int_equal(sscanf(spec, "%63s %63s %31s %d %15s", label, binary, go, &level, flags),
                        5);
        assert_int_equal(xarch_platform_parse_raw(label, &c.label, NULL), 0);
        c.has_label = true;
        c.from_index = !strchr(flags, 'C');
        c.bare = !c.from_index; /* the rows with is_index false ignore it */
        c.bare_not_first = strchr(flags, 'N') != NULL;
        if (!streq(binary, "-")) {
                c.has_binary = true;
                assert_int_equal(xarch_platform_parse(binary, &c.binary, NULL), 0);
                snprintf(c.binary_desc, sizeof(c.binary_desc), "/app: ELF %s", binary);
                snprintf(c.binary_path, sizeof(c.binary_path), "/app");
        }
        if (!streq(go, "-")) {
                c.is_go = true;
                if (go[0] == 'r')
                        snprintf(c.go_range, sizeof(c.go_range), "%s", go + 1);
                else if (!streq(go, "go?"))
                        snprintf(c.go_version, sizeof(c.go_version), "%s", go);
        }
        c.amd64_level = level;
        if (strchr(flags, 'L')) {
                c.loader_missing = true;
                snprintf(c.loader, sizeof(c.loader), "/lib/ld-linux-aarch64.so.1");
        }
        if (strchr(flags, 'P')) {
                c.no_program = true;
                snprintf(c.program_problem, sizeof(c.program_problem), "/app is not in the image");
        }
        c.unreadable = strchr(flags, 'U') != NULL;
        return c;
}

struct row {
        const char *name;
        bool is_index;
        const char *cands[3];
        const char *node;      /* platform, as --node takes it */
        const char *emulation; /* qemu, rosetta, none */
        int qemu_major, qemu_minor;
        enum xarch_check_verdict verdict;
        const char *code;
        int platform_index;
        const char *fix_kinds; /* space-separated kinds that must be among the fixes, or "" */
        const char *in_reason; /* substring of the reason, or NULL */
};

#define GO_OLD_AMD64 "linux/amd64 amd64 go1.19.8 1 -"
#define C_AMD64      "linux/amd64 amd64 - 1 -"
#define C_ARM64      "linux/arm64 arm64 - 0 -"
#define C_ARMV7      "linux/arm/v7 linux/arm/v7 - 0 -"

static const struct row rows[] = {
                /* native: containerd picks the node's entry and its binary agrees */
                {"multi on arm64", true, {C_AMD64, "linux/arm64/v8 arm64 - 0 -", C_ARMV7}, "arm64",
                                "qemu", 0, 0, XARCH_VERDICT_NATIVE, "native", 1, "",
                                "really is arm64"},
                {"multi on amd64", true, {C_AMD64, C_ARM64, C_ARMV7}, "linux/amd64", "qemu", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 0, "", "exact match"},
                {"multi on arm/v7", true, {C_AMD64, C_ARM64, C_ARMV7}, "arm/v7", "none", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 2, "", NULL},
                {"386 only on amd64 is a fallback", true, {"linux/386 386 - 0 -"}, "amd64", "none",
                                0, 0, XARCH_VERDICT_NATIVE, "native", 0, "multi-platform-build",
                                "fallback match"},
                {"arm/v7 only on arm64: compatibility mode", true, {C_ARMV7}, "arm64", "none", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 0, "", "compatibility mode"},
                {"label only (binary not analysed)", true, {"linux/arm64 - - 0 -"}, "arm64", "qemu",
                                0, 0, XARCH_VERDICT_NATIVE, "native", 0, "", "rests on the label"},
                {"single manifest of the node's arch", false, {"linux/arm64 arm64 - 0 C"}, "arm64",
                                "qemu", 0, 0, XARCH_VERDICT_NATIVE, "native", 0, "", NULL},
                {"entry without platform matched by its config, after labelled ones", true,
                                {C_AMD64, "linux/arm64 arm64 - 0 C"}, "arm64", "none", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 1, "", NULL},

                /* the Go lfstack crash: amd64 Go before go1.25.4 under QEMU on arm64 */
                {"amd64 Go 1.19 on arm64 under qemu", true, {GO_OLD_AMD64}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED_CRASH, "go-lfstack-crash", 0,
                                "rebuild-go cross-compile multi-platform-build schedule emulator",
                                "lfstack.push"},
                {"amd64 Go 1.25.3 is still affected", false, {"linux/amd64 amd64 go1.25.3 1 C"},
                                "arm64", "qemu", 0, 0, XARCH_VERDICT_EMULATED_CRASH,
                                "go-lfstack-crash", 0, "rebuild-go", "go1.25.4"},
                /* unknown Go version: neither a predicted crash nor a safe run */
                {"amd64 Go of unknown version: may crash, cannot tell", true,
                                {"linux/amd64 amd64 go? 1 -"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED_UNKNOWN, "go-version-unknown", 0,
                                "rebuild-go cross-compile multi-platform-build schedule",
                                "could not be read"},
                {"amd64 Go of unknown version names the go1.25.4 line", false,
                                {"linux/amd64 amd64 go? 1 C"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED_UNKNOWN, "go-version-unknown", 0,
                                "rebuild-go", "before go1.25.4"},
                {"amd64 Go with an open pclntab range (1.20+) is unknown too", true,
                                {"linux/amd64 amd64 r1.20+ 1 -"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED_UNKNOWN, "go-version-unknown", 0,
                                "rebuild-go", "1.20+"},
                /* the best candidate under emulation: "may crash" beats "does not run" */
                {"unknown-version Go preferred to an entry that fails", true,
                                {"linux/s390x s390x - 0 P", "linux/amd64 amd64 go? 1 -"}, "arm64",
                                "qemu", 0, 0, XARCH_VERDICT_EMULATED_UNKNOWN, "go-version-unknown",
                                1, "rebuild-go", NULL},
                {"amd64 Go of unknown version under Rosetta: not the QEMU crash", true,
                                {"linux/amd64 amd64 go? 1 -"}, "arm64", "rosetta", 0, 0,
                                XARCH_VERDICT_EMULATED, "emulated-rosetta", 0, "",
                                "does not apply to Rosetta"},
                {"amd64 Go of unknown version on amd64 runs natively", true,
                                {"linux/amd64 amd64 go? 1 -"}, "amd64", "qemu", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 0, "", NULL},
                {"amd64 Go from a pclntab range before 1.25", true,
                                {"linux/amd64 amd64 r1.18-1.19 1 -"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED_CRASH, "go-lfstack-crash", 0, "rebuild-go",
                                "1.18-1.19"},
                {"amd64 Go 1.25.4 has the fix", true, {"linux/amd64 amd64 go1.25.4 1 -"}, "arm64",
                                "qemu", 0, 0, XARCH_VERDICT_EMULATED, "emulated", 0, "emulator",
                                "has the lfstack fix"},
                {"amd64 Go 1.26.1 has the fix", true, {"linux/amd64 amd64 go1.26.1 1 -"}, "arm64",
                                "qemu", 0, 0, XARCH_VERDICT_EMULATED, "emulated", 0, "emulator",
                                NULL},
                {"amd64 Go under Rosetta does not crash", true, {GO_OLD_AMD64}, "arm64", "rosetta",
                                0, 0, XARCH_VERDICT_EMULATED, "emulated-rosetta", 0, "",
                                "does not apply to Rosetta"},
                {"arm64 Go under QEMU on amd64: the other direction is fine", true,
                                {"linux/arm64 arm64 go1.19.8 0 -"}, "amd64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED, "emulated", 0, "emulator", "qemu-aarch64"},
                {"amd64 Go on riscv64 under QEMU: not the arm64 crash", true, {GO_OLD_AMD64},
                                "riscv64", "qemu", 0, 0, XARCH_VERDICT_EMULATED, "emulated", 0, "",
                                NULL},

                /* emulated C */
                {"amd64 C on arm64 under qemu", true, {C_AMD64}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED, "emulated", 0,
                                "emulator runtime multi-platform-build",
                                "no match for platform in manifest"},
                {"single amd64 manifest on arm64 is pulled anyway", false,
                                {"linux/amd64 amd64 - 1 C"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED, "emulated", 0, "emulator", "pulls anyway"},

                /* x86-64 levels */
                {"GOAMD64=v3 under QEMU 7.1 crashes", true, {"linux/amd64 amd64 go1.26.0 3 -"},
                                "arm64", "qemu", 7, 1, XARCH_VERDICT_EMULATED_CRASH,
                                "amd64-level-qemu", 0, "level", "only since 7.2"},
                {"C x86-64-v4 under QEMU 6.2 crashes", true, {"linux/amd64 amd64 - 4 -"}, "s390x",
                                "qemu", 6, 2, XARCH_VERDICT_EMULATED_CRASH, "amd64-level-qemu", 0,
                                "level", NULL},
                {"GOAMD64=v3 under QEMU 7.2 runs", true, {"linux/amd64 amd64 go1.26.0 3 -"},
                                "arm64", "qemu", 7, 2, XARCH_VERDICT_EMULATED, "emulated", 0, "",
                                NULL},
                {"GOAMD64=v3 under QEMU of unknown version: runs, with a caveat", true,
                                {"linux/amd64 amd64 go1.26.0 3 -"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED, "emulated", 0, "", "QEMU older than 7.2"},
                {"GOAMD64=v3 on an x86-64-v2 node fails", true, {"linux/amd64 amd64 go1.26.0 3 -"},
                                "amd64/v2", "none", 0, 0, XARCH_VERDICT_FAILS, "amd64-level", 0,
                                "level", "microarchitecture support"},
                {"GOAMD64=v3 on an x86-64-v3 node is native", true,
                                {"linux/amd64 amd64 go1.26.0 3 -"}, "amd64/v3", "none", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 0, "", NULL},
                {"GOAMD64=v3 on an amd64 node of unknown level is native", true,
                                {"linux/amd64 amd64 go1.26.0 3 -"}, "amd64", "none", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 0, "", NULL},

                /* fails */
                {"amd64 only, no emulation: no match", true, {C_AMD64}, "arm64", "none", 0, 0,
                                XARCH_VERDICT_FAILS, "no-match", 0,
                                "multi-platform-build cross-compile schedule emulator",
                                "exec format error"},
                {"single amd64 manifest, no emulation: exec format error", false,
                                {"linux/amd64 amd64 - 1 C"}, "arm64", "none", 0, 0,
                                XARCH_VERDICT_FAILS, "exec-format-error", 0, "schedule",
                                "exec format error"},
                {"mislabelled arm64 entry holding x86-64", true,
                                {C_AMD64, "linux/arm64 amd64 - 1 -"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_FAILS, "mislabelled", 1,
                                "cross-compile multi-platform-build schedule", "exec format error"},
                {"mislabelled only-entry also fails under emulation", true,
                                {"linux/amd64 arm64 - 0 -"}, "s390x", "qemu", 0, 0,
                                XARCH_VERDICT_FAILS, "mislabelled", 0, "cross-compile", NULL},
                {"GOARM=7 binary in an arm/v6 entry on an ARMv6 node", true,
                                {"linux/arm/v6 linux/arm/v7 go1.19.8 0 -"}, "arm/v6", "qemu", 0, 0,
                                XARCH_VERDICT_FAILS, "variant-mismatch", 0, "cross-compile",
                                "Illegal instruction"},
                {"the same on an ARMv7 node is native", true,
                                {"linux/arm/v6 linux/arm/v7 go1.19.8 0 -"}, "arm/v7", "qemu", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 0, "", "fallback"},
                {"missing loader", true, {"linux/arm64 arm64 - 0 L"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_FAILS, "loader-missing", 0, "loader",
                                "ld-linux-aarch64"},
                {"missing loader under emulation", true, {"linux/arm64 arm64 - 0 L"}, "amd64",
                                "qemu", 0, 0, XARCH_VERDICT_FAILS, "loader-missing", 0, "loader",
                                NULL},
                {"no program", true, {"linux/arm64 arm64 - 0 P"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_FAILS, "no-program", 0, "image", "not in the image"},
                {"unreadable", true, {"linux/arm64 - - 0 U"}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_FAILS, "unreadable", 0, "", NULL},
                {"Rosetta cannot run arm64 on amd64", true, {C_ARM64}, "amd64", "rosetta", 0, 0,
                                XARCH_VERDICT_FAILS, "rosetta-unsupported", 0, "emulator",
                                "only amd64"},
                {"Rosetta cannot run s390x on arm64", true, {"linux/s390x s390x - 0 -"}, "arm64",
                                "rosetta", 0, 0, XARCH_VERDICT_FAILS, "rosetta-unsupported", 0, "",
                                NULL},

                /* with several foreign candidates, the best verdict wins, index order breaks ties
                 */
                {"best foreign candidate: C s390x beats crashing amd64 Go", true,
                                {GO_OLD_AMD64, "linux/s390x s390x go1.19.8 0 -"}, "arm64", "qemu",
                                0, 0, XARCH_VERDICT_EMULATED, "emulated", 1, "", NULL},
                {"ties keep index order", true, {"linux/s390x s390x - 0 -", C_AMD64}, "arm64",
                                "qemu", 0, 0, XARCH_VERDICT_EMULATED, "emulated", 0, "",
                                "qemu-s390x"},

                /* entries without a platform: containerd sorts them last and considers only the
                 * first (LimitManifests(…, 1)), checking its config; the second is never
                 * pulled, natively or with a --platform of its own (docs/runtimes.md) */
                {"only the first entry without a platform is considered", true,
                                {"linux/amd64 amd64 - 1 C", "linux/arm64 arm64 - 0 C"}, "arm64",
                                "none", 0, 0, XARCH_VERDICT_FAILS, "no-match", 0, "", NULL},
                {"emulated: a later entry without a platform is never a candidate", true,
                                {"linux/amd64 amd64 go1.19.8 1 C", "linux/s390x s390x - 0 C"},
                                "arm64", "qemu", 0, 0, XARCH_VERDICT_EMULATED_CRASH,
                                "go-lfstack-crash", 0, "", NULL},
                {"emulated: the index's first entry without a platform is not an image", true,
                                {"linux/s390x s390x - 0 CN", GO_OLD_AMD64}, "arm64", "qemu", 0, 0,
                                XARCH_VERDICT_EMULATED_CRASH, "go-lfstack-crash", 1, "", NULL},
                {"labelled entries still come before the first without a platform", true,
                                {"linux/arm64 arm64 - 0 C", C_ARM64}, "arm64", "none", 0, 0,
                                XARCH_VERDICT_NATIVE, "native", 1, "", NULL},
                /* containerd 1.6/1.7 read only os and architecture from that config */
                {"1.7 ignores the config's variant of an entry without a platform", true,
                                {"linux/arm/v8 arm/v7 - 0 C"}, "arm/v7@containerd-1.7", "none", 0,
                                0, XARCH_VERDICT_NATIVE, "native", 0, "", NULL},
                {"2.0 reads the config's variant of an entry without a platform", true,
                                {"linux/arm/v8 arm/v7 - 0 C"}, "arm/v7@containerd-2.0.4", "none", 0,
                                0, XARCH_VERDICT_FAILS, "no-match", 0, "", NULL},
};

static bool has_fix(const struct xarch_check_result *r, const char *kind) {
        for (size_t i = 0; i < r->n_fixes; i++)
                if (streq(xarch_check_fix_kind_name(r->fixes[i].kind), kind))
                        return true;
        return false;
}

static void run_row(const struct row *row, const struct check_emulator *emus, size_t n_emus,
                bool host, struct xarch_check_result *res) {
        struct check_candidate cands[3];
        size_t n = 0;
        for (; n < ELEMENTSOF(row->cands) && row->cands[n]; n++)
                cands[n] = cand(row->cands[n]);
        struct check_node_facts node = {.host = host, .emulators = emus, .n_emulators = n_emus};
        struct xarch_check_node parsed;
        assert_int_equal(xarch_check_node_parse(row->node, &parsed, NULL), 0);
        node.platform = parsed.platform;
        if (parsed.runtime_set)
                node.runtime = parsed.runtime;
        assert_int_equal(xarch_emulation_parse(row->emulation, &node.emulation, NULL), 0);
        node.qemu_major = row->qemu_major;
        node.qemu_minor = row->qemu_minor;
        assert_int_equal(check_decide("reg.example/app:1", row->is_index, cands, n, &node, res), 0);
}

static void test_table(void **state) {
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const struct row *row = &rows[i];
                struct xarch_check_result res;
                run_row(row, NULL, 0, false, &res);
                bool ok = res.verdict == row->verdict && streq(res.code, row->code) &&
                          res.platform_index == row->platform_index &&
                          (!row->in_reason || strstr(res.reason, row->in_reason));
                char kinds[128];
                snprintf(kinds, sizeof(kinds), "%s", row->fix_kinds);
                char *save = NULL;
                for (char *k = strtok_r(kinds, " ", &save); k; k = strtok_r(NULL, " ", &save))
                        if (!has_fix(&res, k)) {
                                print_error("row '%s': no fix of kind %s\n", row->name, k);
                                ok = false;
                        }
                if (!ok)
                        print_error("row '%s': got %s/%s index %d: %s\n", row->name,
                                        xarch_check_verdict_name(res.verdict), res.code,
                                        res.platform_index, res.reason);
                check_result_clear(&res);
                assert_true(ok);
        }
}

static const struct check_emulator *emu_for(
                const struct check_emulator *emus, size_t n, const char *arch) {
        for (size_t i = 0; i < n; i++)
                if (streq(emus[i].arch, arch))
                        return &emus[i];
        return NULL;
}

/* The host: what doctor found decides whether the emulator is registered, and Rosetta's entry
 * switches the verdict to Rosetta's rules. */
static void test_host(void **state) {
        (void) state;
        const struct row c_amd64 = {
                        "host", true, {C_AMD64}, "arm64", "qemu", 0, 0, 0, "", 0, "", NULL};
        struct check_emulator none = {.arch = "amd64", .how = XARCH_RUN_NO};
        struct xarch_check_result res;
        run_row(&c_amd64, &none, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_EMULATED);
        assert_true(res.emulator_known);
        assert_false(res.emulator_registered);
        assert_true(has_fix(&res, "emulator"));
        assert_non_null(strstr(res.reason, "no emulator for amd64 is registered"));
        bool found = false;
        for (size_t i = 0; i < res.n_fixes; i++)
                found = found || streq(res.fixes[i].text, "xarch binfmt install amd64");
        assert_true(found);
        check_result_clear(&res);

        struct check_emulator qemu = {.arch = "amd64",
                        .how = XARCH_RUN_EMULATED,
                        .registered = true,
                        .in_containers = true,
                        .entry = "qemu-x86_64",
                        .path = "/usr/bin/qemu-x86_64-static",
                        .qemu_major = 7,
                        .qemu_minor = 1};
        run_row(&c_amd64, &qemu, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_EMULATED);
        assert_true(res.emulator_registered);
        assert_true(res.emulator_in_containers);
        assert_string_equal(res.emulator_entry, "qemu-x86_64");
        assert_false(has_fix(&res, "emulator"));
        check_result_clear(&res);

        /* the host's QEMU version (7.1) applies to the level rule */
        const struct row v3 = {"host v3", true, {"linux/amd64 amd64 go1.26.0 3 -"}, "arm64", "qemu",
                        0, 0, 0, "", 0, "", NULL};
        run_row(&v3, &qemu, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_EMULATED_CRASH);
        assert_string_equal(res.code, "amd64-level-qemu");
        check_result_clear(&res);

        /* registered without F: runs on the host, not in containers */
        struct check_emulator no_f = qemu;
        no_f.containers_tested = true;
        no_f.in_containers = false;
        run_row(&c_amd64, &no_f, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_EMULATED);
        assert_non_null(strstr(res.reason, "without flag F"));
        assert_true(has_fix(&res, "emulator"));
        check_result_clear(&res);

        /* registered, but the probe did not run through it */
        struct check_emulator broken = qemu;
        broken.how = XARCH_RUN_BROKEN;
        run_row(&c_amd64, &broken, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_FAILS);
        assert_string_equal(res.code, "emulator-broken");
        check_result_clear(&res);

        struct check_emulator rosetta = {.arch = "amd64",
                        .how = XARCH_RUN_EMULATED,
                        .registered = true,
                        .rosetta = true,
                        .entry = "rosetta",
                        .path = "/mnt/lima-rosetta/rosetta"};
        const struct row go = {
                        "host go", true, {GO_OLD_AMD64}, "arm64", "qemu", 0, 0, 0, "", 0, "", NULL};
        run_row(&go, &rosetta, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_EMULATED);
        assert_string_equal(res.code, "emulated-rosetta");
        assert_int_equal(res.emulation, XARCH_EMULATION_ROSETTA);
        check_result_clear(&res);

        /* arm/v7 on an arm64 host whose CPU has no AArch32 and no qemu-arm */
        const struct row armv7 = {
                        "host armv7", true, {C_ARMV7}, "arm64", "qemu", 0, 0, 0, "", 0, "", NULL};
        struct check_emulator no_arm = {.arch = "arm", .how = XARCH_RUN_NO};
        run_row(&armv7, &no_arm, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_FAILS);
        assert_string_equal(res.code, "no-compat-mode");
        assert_true(has_fix(&res, "emulator"));
        check_result_clear(&res);
        struct check_emulator qemu_arm = {.arch = "arm",
                        .how = XARCH_RUN_EMULATED,
                        .registered = true,
                        .entry = "qemu-arm",
                        .path = "/usr/bin/qemu-arm-static"};
        run_row(&armv7, &qemu_arm, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_EMULATED);
        assert_string_equal(res.code, "emulated-fallback");
        check_result_clear(&res);
        struct check_emulator compat = {.arch = "arm", .how = XARCH_RUN_COMPATIBLE};
        run_row(&armv7, &compat, 1, true, &res);
        assert_int_equal(res.verdict, XARCH_VERDICT_NATIVE);
        check_result_clear(&res);
        assert_null(emu_for(&compat, 1, "amd64"));
}

/* The fixes are concrete: commands with the image's name and platforms, YAML with the arch. */
static void test_fix_texts(void **state) {
        (void) state;
        const struct row row = {
                        "fixes", true, {C_AMD64}, "arm64", "none", 0, 0, 0, "", 0, "", NULL};
        struct xarch_check_result res;
        run_row(&row, NULL, 0, false, &res);
        bool buildx = false, buildah = false, selector = false, cross = false;
        for (size_t i = 0; i < res.n_fixes; i++) {
                const char *t = res.fixes[i].text;
                buildx = buildx ||
                         strstr(t, "docker buildx build --platform linux/amd64,linux/arm64 "
                                   "-t reg.example/app:1 --push .");
                buildah = buildah || strstr(t, "buildah build --platform linux/amd64,linux/arm64 "
                                               "--manifest reg.example/app:1");
                selector = selector || strstr(t, "nodeSelector:\n  kubernetes.io/arch: amd64");
                cross = cross || strstr(t, "FROM --platform=$BUILDPLATFORM");
        }
        assert_true(buildx);
        assert_true(buildah);
        assert_true(selector);
        assert_true(cross);
        check_result_clear(&res);

        /* several arches: node affinity with In [...] */
        const struct row two = {"two", true, {C_AMD64, "linux/s390x s390x - 0 -"}, "arm64", "none",
                        0, 0, 0, "", 0, "", NULL};
        run_row(&two, NULL, 0, false, &res);
        bool affinity = false;
        for (size_t i = 0; i < res.n_fixes; i++)
                affinity = affinity ||
                           strstr(res.fixes[i].text, "key: kubernetes.io/arch\n"
                                                     "          operator: In\n"
                                                     "          values: [amd64, s390x]");
        assert_true(affinity);
        check_result_clear(&res);

        /* Go: GOARCH=$TARGETARCH cross-compilation */
        const struct row go = {
                        "go", true, {GO_OLD_AMD64}, "arm64", "qemu", 0, 0, 0, "", 0, "", NULL};
        run_row(&go, NULL, 0, false, &res);
        bool goarch = false;
        for (size_t i = 0; i < res.n_fixes; i++)
                goarch = goarch || strstr(res.fixes[i].text, "GOARCH=$TARGETARCH go build");
        assert_true(goarch);
        check_result_clear(&res);
}

static void test_go_fix_versions(void **state) {
        (void) state;
        static const struct {
                const char *version, *range;
                int want;
        } t[] = {
                        {"go1.25.4", "", 1},
                        {"go1.25.5", "", 1},
                        {"go1.26", "", 1},
                        {"go1.26rc1", "", 1},
                        {"go1.26.5", "", 1},
                        {"go1.30.0", "", 1},
                        {"go2.0", "", 1},
                        {"go1.25.3", "", 0},
                        {"go1.25.0", "", 0},
                        {"go1.25", "", 0},
                        {"go1.25rc2", "", 0},
                        {"go1.24.6", "", 0},
                        {"go1.19.8", "", 0},
                        {"go1.9", "", 0},
                        {"devel go1.27-abcdef", "", 1},
                        {"go", "", -1},
                        {"gox", "", -1},
                        {"1.25.4", "", -1},
                        {"", "", -1},
                        {"", "1.18-1.19", 0},
                        {"", "1.20+", -1},
                        {"", "1.2", -1},
                        {"", "1.16-1.30", -1},
                        {"", "-", -1},
                        {NULL, NULL, -1},
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                int got = check_go_has_lfstack_fix(t[i].version, t[i].range);
                if (got != t[i].want)
                        print_error("version '%s' range '%s': got %d, want %d\n",
                                        t[i].version ? t[i].version : "(null)",
                                        t[i].range ? t[i].range : "(null)", got, t[i].want);
                assert_int_equal(got, t[i].want);
        }
}

static void test_parse(void **state) {
        (void) state;
        struct xarch_check_node n;
        assert_int_equal(xarch_check_node_parse("host", &n, NULL), 0);
        assert_true(n.host);
        assert_int_equal(xarch_check_node_parse("aarch64", &n, NULL), 0);
        assert_false(n.host);
        assert_string_equal(n.platform.arch, "arm64");
        assert_int_equal(xarch_check_node_parse("linux/amd64/v3", &n, NULL), 0);
        assert_string_equal(n.platform.variant, "v3");
        assert_int_equal(xarch_check_node_parse("amd64/v2", &n, NULL), 0);
        assert_string_equal(n.platform.os, "linux");
        assert_string_equal(n.platform.arch, "amd64");
        assert_string_equal(n.platform.variant, "v2");
        assert_int_equal(xarch_check_node_parse("arm/v7", &n, NULL), 0);
        assert_string_equal(n.platform.arch, "arm");
        assert_string_equal(n.platform.variant, "v7");
        struct xarch_error *err = NULL;
        assert_int_equal(xarch_check_node_parse("nosucharch", &n, &err), -EINVAL);
        assert_non_null(err);
        xarch_error_free(err);
        assert_int_equal(xarch_check_node_parse("", &n, NULL), -EINVAL);
        assert_int_equal(xarch_check_node_parse(NULL, &n, NULL), -EINVAL);

        int ma, mi;
        assert_int_equal(xarch_qemu_version_parse("7.2", &ma, &mi, NULL), 0);
        assert_int_equal(ma, 7);
        assert_int_equal(mi, 2);
        assert_int_equal(xarch_qemu_version_parse("10.0.4", &ma, &mi, NULL), 0);
        assert_int_equal(ma, 10);
        const char *bad[] = {"", "7", "x.2", "7.x", "-1.2", "7.2x", "99999999999.1", "0.0", NULL};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(xarch_qemu_version_parse(bad[i], &ma, &mi, NULL), -EINVAL);

        enum xarch_emulation e;
        assert_int_equal(xarch_emulation_parse("rosetta", &e, NULL), 0);
        assert_int_equal(e, XARCH_EMULATION_ROSETTA);
        assert_int_equal(xarch_emulation_parse("QEMU", &e, NULL), -EINVAL);
        assert_int_equal(xarch_emulation_parse(NULL, &e, NULL), -EINVAL);
        assert_string_equal(
                        xarch_check_verdict_name(XARCH_VERDICT_EMULATED_CRASH), "emulated-crash");
        assert_string_equal(xarch_check_verdict_name(XARCH_VERDICT_EMULATED_UNKNOWN),
                        "emulated-unknown");
}

/* The facts from verify: its label is normalised, but each runtime normalises the entry's
 * platform its own way, so the candidate keeps it as written. An index entry arm64/v8.0: not
 * an arm64 node's before containerd 2.0 (normalizeArch maps only "8" and "v8"), from 2.0 it is;
 * CRI-O compares the strings. */
static void test_from_verify_raw_label(void **state) {
        (void) state;
        struct xarch_verify_platform vp[2] = {0};
        assert_int_equal(xarch_platform_parse_raw("linux/amd64", &vp[0].index_platform, NULL), 0);
        assert_int_equal(xarch_platform_parse_raw("linux/arm64/v8.0", &vp[1].index_platform, NULL),
                        0);
        for (size_t i = 0; i < 2; i++) {
                vp[i].has_index_platform = true;
                vp[i].config_platform = vp[i].index_platform;
                vp[i].has_config_platform = true;
                vp[i].label = vp[i].index_platform;
                xarch_platform_normalize(&vp[i].label); /* as xarch_verify_image fills it */
        }
        struct check_candidate cands[2];
        for (size_t i = 0; i < 2; i++)
                check_candidate_from_verify(&vp[i], true, &cands[i]);
        static const struct {
                const char *node;
                enum xarch_check_verdict verdict;
        } cases[] = {
                        {"arm64@containerd-1.7.22", XARCH_VERDICT_FAILS},
                        {"arm64@docker-24.0.7", XARCH_VERDICT_FAILS},
                        {"arm64@cri-o-1.30.1", XARCH_VERDICT_FAILS},
                        {"arm64@containerd-2.0.4", XARCH_VERDICT_NATIVE},
                        {"arm64@containerd-2.3", XARCH_VERDICT_NATIVE},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct xarch_check_node parsed;
                assert_int_equal(xarch_check_node_parse(cases[i].node, &parsed, NULL), 0);
                struct check_node_facts node = {.platform = parsed.platform,
                                .runtime = parsed.runtime,
                                .emulation = XARCH_EMULATION_NONE,
                                .emulation_set = true};
                struct xarch_check_result res;
                assert_int_equal(check_decide("reg.example/app:1", true, cands, 2, &node, &res), 0);
                if (res.verdict != cases[i].verdict)
                        print_error("%s: got %s/%s: %s\n", cases[i].node,
                                        xarch_check_verdict_name(res.verdict), res.code,
                                        res.reason);
                assert_int_equal(res.verdict, cases[i].verdict);
                if (res.verdict == XARCH_VERDICT_NATIVE)
                        assert_int_equal(res.platform_index, 1);
                check_result_clear(&res);
        }
}

/* Empty and degenerate inputs never crash and always give a verdict. */
static void test_degenerate(void **state) {
        (void) state;
        struct check_node_facts node = {0};
        assert_int_equal(xarch_platform_parse("arm64", &node.platform, NULL), 0);
        struct xarch_check_result res;
        assert_int_equal(check_decide(NULL, true, NULL, 0, &node, &res), 0);
        assert_int_equal(res.verdict, XARCH_VERDICT_FAILS);
        check_result_clear(&res);

        struct check_candidate blank = {0};
        assert_int_equal(check_decide("", true, &blank, 1, &node, &res), 0);
        assert_int_equal(res.verdict, XARCH_VERDICT_FAILS);
        check_result_clear(&res);

        /* an "unknown/unknown" label (attestation-like) never matches and has no emulator */
        struct check_candidate unk = {.has_label = true, .from_index = true};
        snprintf(unk.label.os, sizeof(unk.label.os), "unknown");
        snprintf(unk.label.arch, sizeof(unk.label.arch), "unknown");
        assert_int_equal(check_decide("img", true, &unk, 1, &node, &res), 0);
        assert_int_equal(res.verdict, XARCH_VERDICT_FAILS);
        check_result_clear(&res);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                        cmocka_unit_test(test_table),
                        cmocka_unit_test(test_host),
                        cmocka_unit_test(test_fix_texts),
                        cmocka_unit_test(test_go_fix_versions),
                        cmocka_unit_test(test_parse),
                        cmocka_unit_test(test_degenerate),
                        cmocka_unit_test(test_from_verify_raw_label),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
