/* SPDX-License-Identifier: MIT */
/*
 * The verdict rules of `xarch check` over arbitrary facts, plus the node, emulation and QEMU
 * version parsers. Input lines: NODE, EMULATION, QEMU-VERSION, "index" or "single", then one
 * candidate per line: "LABEL BINARY GO LEVEL FLAGS" (BINARY "-" = not analysed, GO "-" = not
 * Go, "rX" = pclntab range X; FLAGS letters C L P U as in tests/unit/test-check.c). Invariants:
 * a verdict always comes out, within the enum, with a code and a bounded reason; native has a
 * manifest and a rule; without emulation nothing is emulated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xarch/check.h"
#include "verdict/check-internal.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANDIDATES_MAX 8

static void check(bool condition) {
        if (!condition)
                abort();
}

static void parse_candidate(char *line, struct check_candidate *c) {
        *c = (struct check_candidate){0};
        char *save = NULL;
        char *label = strtok_r(line, " ", &save);
        char *binary = strtok_r(NULL, " ", &save);
        char *go = strtok_r(NULL, " ", &save);
        char *level = strtok_r(NULL, " ", &save);
        char *flags = strtok_r(NULL, " ", &save);
        if (label && xarch_platform_parse_raw(label, &c->label, NULL) >= 0)
                c->has_label = true;
        c->from_index = !(flags && strchr(flags, 'C'));
        if (binary && !streq(binary, "-") && xarch_platform_parse(binary, &c->binary, NULL) >= 0) {
                c->has_binary = true;
                snprintf(c->binary_path, sizeof(c->binary_path), "/%s", binary);
                snprintf(c->binary_desc, sizeof(c->binary_desc), "/%s: fuzz", binary);
        }
        if (go && !streq(go, "-")) {
                c->is_go = true;
                if (go[0] == 'r')
                        snprintf(c->go_range, sizeof(c->go_range), "%s", go + 1);
                else
                        snprintf(c->go_version, sizeof(c->go_version), "%s", go);
        }
        if (level)
                c->amd64_level = atoi(level) & 7;
        if (flags) {
                c->loader_missing = strchr(flags, 'L') != NULL;
                c->no_program = strchr(flags, 'P') != NULL;
                c->unreadable = strchr(flags, 'U') != NULL;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        char *save = NULL;
        char *lines[4 + CANDIDATES_MAX] = {0};
        size_t n_lines = 0;
        for (char *l = strtok_r(text, "\n", &save); l && n_lines < ELEMENTSOF(lines);
                        l = strtok_r(NULL, "\n", &save))
                lines[n_lines++] = l;

        struct xarch_check_node node;
        struct check_node_facts facts = {0};
        if (n_lines < 1 || xarch_check_node_parse(lines[0], &node, NULL) < 0 || node.host)
                goto out;
        facts.platform = node.platform;
        if (n_lines > 1 && xarch_emulation_parse(lines[1], &facts.emulation, NULL) < 0)
                facts.emulation = XARCH_EMULATION_QEMU;
        if (n_lines > 2)
                xarch_qemu_version_parse(lines[2], &facts.qemu_major, &facts.qemu_minor, NULL);
        bool is_index = n_lines > 3 && streq(lines[3], "index");

        struct check_candidate cands[CANDIDATES_MAX];
        size_t n = 0;
        for (size_t i = 4; i < n_lines; i++)
                parse_candidate(lines[i], &cands[n++]);

        struct xarch_check_result r;
        check(check_decide("fuzz/image:1", is_index, cands, n, &facts, &r) == 0);
        check(r.verdict <= XARCH_VERDICT_FAILS);
        check(r.code[0] != '\0');
        check(strlen(r.reason) < sizeof(r.reason));
        check(r.platform_index >= -1 && r.platform_index < (int) n);
        if (r.verdict == XARCH_VERDICT_NATIVE)
                check(r.platform_index >= 0 && r.rule != XARCH_MATCH_NONE);
        if (facts.emulation == XARCH_EMULATION_NONE)
                check(r.verdict == XARCH_VERDICT_NATIVE || r.verdict == XARCH_VERDICT_FAILS);
        for (size_t i = 0; i < r.n_fixes; i++)
                check(r.fixes[i].text != NULL);
        check_result_clear(&r);
out:
        free(text);
        return 0;
}
