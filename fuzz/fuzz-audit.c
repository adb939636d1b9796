/* SPDX-License-Identifier: MIT */
/*
 * The cluster document parser of `xarch audit` (a kubectl List), then the scheduling rules and
 * the affinity patch over everything it kept: every pod or controller spec against every node,
 * and the merged affinity of each spec. Invariants: parsing returns 0 or a negative errno with
 * an error; kept objects have names; the patch is an object with at least one term.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kube.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool condition) {
        if (!condition)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct xarch_audit_input *in = NULL;
        struct xarch_error *err = NULL;
        int k = xarch_audit_input_parse(data, size, &in, &err);
        if (k < 0) {
                check(err && err->msg);
                xarch_error_free(err);
                return 0;
        }
        check(!err);
        size_t pairs = 0;
        for (size_t o = 0; o < in->n_objects; o++) {
                const struct kube_object *obj = &in->objects[o];
                check(obj->name && obj->name[0]);
                if (!obj->spec)
                        continue;
                for (size_t n = 0; n < in->n_nodes && pairs < 100000; n++, pairs++) {
                        (void) kube_fits(obj->spec, &in->nodes[n], obj->kind == KUBE_DAEMONSET,
                                        obj->kind == KUBE_POD, obj->kind == KUBE_POD);
                        (void) kube_selector_matches("a=b,c", in->nodes[n].labels);
                }
                const char *arches[] = {"amd64", "arm64"};
                json_t *aff = kube_affinity_with_arches(obj->spec, arches, 2, o % 2);
                check(json_is_object(aff));
                json_t *terms = kube_path(aff, "nodeAffinity."
                                               "requiredDuringSchedulingIgnoredDuringExecution."
                                               "nodeSelectorTerms");
                check(json_array_size(terms) >= 1);
                json_decref(aff);
        }
        for (size_t n = 0; n < in->n_nodes; n++)
                check(in->nodes[n].platform.arch[0] != '\0');
        xarch_audit_input_free(in);
        return 0;
}
