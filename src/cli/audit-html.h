/* SPDX-License-Identifier: MIT */
#ifndef XARCH_CLI_AUDIT_HTML_H
#define XARCH_CLI_AUDIT_HTML_H

#include <stdio.h>

#include "xarch/audit.h"

/* Renders the audit as one self-contained HTML page (inline CSS and JS, no network): the
 * workload x platform matrix coloured by verdict, filters, each cell's reason and fix. Every
 * string from the cluster or a registry is HTML-escaped. patch_files may be NULL. Returns 0 or
 * -EIO. */
int audit_write_html(FILE *f, const struct xarch_audit_report *r, char **patch_files);

/* The `kubectl patch` command that applies w's affinity patch (from file when it is not NULL),
 * every word single-quoted for the shell. Shared by the text and HTML reports. */
void audit_print_patch_command(FILE *f, const struct xarch_audit_workload *w, const char *file);

#endif
