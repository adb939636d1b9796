/* SPDX-License-Identifier: MIT */
/* The HTML report of `xarch audit`: rendered here (so the page reads without scripts, and a
 * headless browser's DOM holds every cell's text); a few lines of inline JS only filter rows and
 * open details. Nothing is fetched: no fonts, no scripts, no images. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "audit-html.h"
#include "cli.h"

static void esc(FILE *f, const char *s) {
        for (; s && *s; s++) {
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&#39;", f);
                        break;
                default:
                        if ((unsigned char) *s < 0x20 && *s != '\n' && *s != '\t')
                                fputc('?', f);
                        else
                                fputc(*s, f);
                }
        }
}

static const char *verdict_class(const struct xarch_audit_cell *c) {
        if (!c->n_nodes)
                return "none";
        if (!c->known)
                return "unknown";
        switch (c->verdict) {
        case XARCH_VERDICT_NATIVE:
                return "native";
        case XARCH_VERDICT_EMULATED:
                return "emulated";
        case XARCH_VERDICT_EMULATED_UNKNOWN:
                return "uncertain";
        case XARCH_VERDICT_EMULATED_CRASH:
                return "crash";
        case XARCH_VERDICT_FAILS:
                return "fails";
        }
        return "unknown";
}

static const char *verdict_label(const struct xarch_audit_cell *c) {
        const char *k = verdict_class(c);
        if (streq(k, "none"))
                return "\xc2\xb7"; /* middle dot: cannot land there */
        if (streq(k, "crash"))
                return "emulated-crash";
        if (streq(k, "uncertain"))
                return "emulated-unknown";
        return k;
}

/* A shell word: 'it'\''s' style quoting, safe for any bytes but NUL. */
static void sq(FILE *f, const char *s) {
        fputc('\'', f);
        for (; *s; s++) {
                if (*s == '\'')
                        fputs("'\\''", f);
                else
                        fputc(*s, f);
        }
        fputc('\'', f);
}

void audit_print_patch_command(FILE *f, const struct xarch_audit_workload *w, const char *file) {
        fputs("kubectl patch ", f);
        sq(f, w->patch_resource);
        fputs(" -n ", f);
        sq(f, w->namespace_[0] ? w->namespace_ : "default");
        fputs(" --type=json ", f);
        if (file) {
                fputs("--patch-file ", f);
                sq(f, file);
        } else {
                fputs("-p ", f);
                sq(f, w->patch);
        }
}

static void patch_command(FILE *f, const struct xarch_audit_workload *w, const char *file) {
        /* built into memory first, then escaped as a whole */
        char *cmd = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&cmd, &len);
        if (!m)
                return;
        audit_print_patch_command(m, w, file);
        fclose(m);
        esc(f, cmd);
        free(cmd);
}

static const char css[] =
                ":root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--mute:#667085;--line:#e4e7ec;"
                "--native:#1f9d55;--native-bg:#e3f6ea;--emulated:#b7791f;--emulated-bg:#fdf3dc;"
                "--crash:#c2410c;--crash-bg:#fde6d8;--fails:#c81e1e;--fails-bg:#fde2e2;"
                "--unknown:#6b7280;--unknown-bg:#eceef2}"
                "*{box-sizing:border-box}"
                "body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,"
                "-apple-system,'Segoe UI',Roboto,sans-serif}"
                "header{background:linear-gradient(120deg,#1e293b,#334155);color:#fff;padding:22px "
                "32px}"
                "header h1{margin:0;font-size:22px;font-weight:650;letter-spacing:.2px}"
                "header p{margin:4px 0 0;color:#cbd5e1}"
                "main{padding:20px 32px 40px;max-width:1600px}"
                ".cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}"
                ".card{background:var(--card);border:1px solid var(--line);border-radius:10px;"
                "padding:12px 16px;min-width:130px;box-shadow:0 1px 2px rgba(16,24,40,.04)}"
                ".card b{display:block;font-size:24px;line-height:1.1}"
                ".card span{color:var(--mute);font-size:12px;text-transform:uppercase;"
                "letter-spacing:.4px}"
                ".card.ok b{color:var(--native)}.card.at-risk b{color:var(--crash)}"
                ".card.broken b{color:var(--fails)}.card.unknown b{color:var(--unknown)}"
                ".filters{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin:8px 0 "
                "12px}"
                ".filters select,.filters input{font:inherit;padding:5px 8px;border:1px solid "
                "var(--line);border-radius:7px;background:#fff}"
                "table{border-collapse:separate;border-spacing:0;width:100%;background:var(--card);"
                "border:1px solid var(--line);border-radius:10px;overflow:hidden}"
                "th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;"
                "vertical-align:top}"
                "th{background:#f9fafb;font-size:12px;color:var(--mute);text-transform:uppercase;"
                "letter-spacing:.3px;position:sticky;top:0}"
                "tr.wl{cursor:pointer}tr.wl:hover td{background:#fafbff}"
                "td.cell{text-align:center;vertical-align:middle;font-weight:600;font-size:12.5px;"
                "white-space:nowrap}"
                ".v-native{color:var(--native);background:var(--native-bg)}"
                ".v-emulated{color:var(--emulated);background:var(--emulated-bg)}"
                ".v-crash{color:var(--crash);background:var(--crash-bg)}"
                ".v-uncertain{color:#9a5b00;background:#fcebd0}"
                ".v-fails{color:var(--fails);background:var(--fails-bg)}"
                ".v-unknown{color:var(--unknown);background:var(--unknown-bg)}"
                ".v-none{color:#c0c4cc}"
                ".risk{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;"
                "font-weight:600}"
                ".risk.ok{background:var(--native-bg);color:var(--native)}"
                ".risk.at-risk{background:var(--crash-bg);color:var(--crash)}"
                ".risk.broken{background:var(--fails-bg);color:var(--fails)}"
                ".risk.unknown{background:var(--unknown-bg);color:var(--unknown)}"
                ".ns{color:var(--mute);font-size:12px}.name{font-weight:600}"
                ".img{color:var(--mute);font-size:12px;word-break:break-all}"
                "tr.detail td{background:#fcfcfd}tr.detail[hidden]{display:none}"
                ".detail h4{margin:6px 0 4px;font-size:13px}"
                ".reason{margin:2px 0 8px}"
                "pre{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:8px;"
                "white-space:pre-wrap;word-break:break-all;font:12px/1.4 ui-monospace,"
                "SFMono-Regular,Menlo,monospace;margin:4px 0 10px}"
                "section{margin-top:26px}h2{font-size:17px;margin:0 0 10px}"
                ".bar{height:10px;border-radius:5px;background:var(--line);overflow:hidden;"
                "max-width:420px}.bar i{display:block;height:100%;background:var(--native)}"
                ".legend span{display:inline-block;margin-right:10px;padding:1px 8px;"
                "border-radius:6px;font-size:12px;font-weight:600}"
                "footer{color:var(--mute);font-size:12px;margin-top:30px}";

static const char js[] =
                "(function(){"
                "var ns=document.getElementById('f-ns'),v=document.getElementById('f-verdict'),"
                "q=document.getElementById('f-text');"
                "function apply(){var n=ns.value,vv=v.value,t=q.value.toLowerCase(),shown=0;"
                "document.querySelectorAll('tr.wl').forEach(function(r){"
                "var ok=(!n||r.dataset.ns===n)&&(!vv||(' '+r.dataset.verdicts+' ').indexOf(' "
                "'+vv+' "
                "')>=0||r.dataset.risk===vv)&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);"
                "r.hidden=!ok;var d=r.nextElementSibling;if(!ok&&d)d.hidden=true;if(ok)shown++;});"
                "document.getElementById('shown').textContent=shown;}"
                "[ns,v].forEach(function(e){e.addEventListener('change',apply)});"
                "q.addEventListener('input',apply);"
                "document.querySelectorAll('tr.wl').forEach(function(r){r.addEventListener('click',"
                "function(){var d=r.nextElementSibling;d.hidden=!d.hidden;})});apply();})();";

int audit_write_html(FILE *f, const struct xarch_audit_report *r, char **patch_files) {
        time_t now = time(NULL);
        char when[64] = "";
        struct tm tm;
        if (gmtime_r(&now, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
              "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
              "<title>xarch audit</title><style>",
                        f);
        fputs(css, f);
        fputs("</style></head><body><header><h1>Cluster architecture audit</h1><p>", f);
        fprintf(f,
                        "%zu nodes, %zu pods, %zu workloads, %zu images &middot; verdicts from %s "
                        "&middot; %s</p></header><main>",
                        r->n_nodes, r->n_pods, r->n_workloads, r->n_images,
                        r->verified ? "the binaries (--verify)" : "the image labels", when);

        fputs("<div class=\"cards\">", f);
        static const struct {
                enum xarch_audit_risk risk;
                const char *label;
        } cards[] = {
                        {XARCH_AUDIT_OK, "ok"},
                        {XARCH_AUDIT_AT_RISK, "at risk"},
                        {XARCH_AUDIT_BROKEN, "broken now"},
                        {XARCH_AUDIT_UNKNOWN, "unknown"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cards); i++)
                fprintf(f, "<div class=\"card %s\"><b>%zu</b><span>%s</span></div>",
                                xarch_audit_risk_name(cards[i].risk), r->count[cards[i].risk],
                                cards[i].label);
        for (size_t p = 0; p < r->n_platforms; p++) {
                fprintf(f, "<div class=\"card\"><b>%zu</b><span>", r->platforms[p].n_nodes);
                esc(f, r->platforms[p].name);
                fprintf(f, " nodes%s</span></div>", r->platforms[p].what_if ? " (what-if)" : "");
        }
        fputs("</div>", f);

        /* filters */
        fputs("<div class=\"filters\"><label>Namespace <select id=\"f-ns\"><option "
              "value=\"\">all</option>",
                        f);
        for (size_t i = 0; i < r->n_workloads; i++) {
                if (i && streq(r->workloads[i].namespace_, r->workloads[i - 1].namespace_))
                        continue;
                bool seen = false; /* sorted by namespace: a repeat is adjacent, but be sure */
                for (size_t j = 0; j + 1 < i && !seen; j++)
                        seen = streq(r->workloads[j].namespace_, r->workloads[i].namespace_);
                if (seen)
                        continue;
                fputs("<option value=\"", f);
                esc(f, r->workloads[i].namespace_);
                fputs("\">", f);
                esc(f, r->workloads[i].namespace_[0] ? r->workloads[i].namespace_ : "(none)");
                fputs("</option>", f);
        }
        fputs("</select></label><label>Verdict <select id=\"f-verdict\"><option "
              "value=\"\">any</option><option value=\"native\">native</option><option "
              "value=\"emulated\">emulated</option><option "
              "value=\"uncertain\">emulated-unknown</option>"
              "<option value=\"crash\">emulated-crash</option>"
              "<option value=\"fails\">fails</option><option value=\"unknown\">unknown</option>"
              "<option value=\"at-risk\">risk: at-risk</option><option value=\"broken\">risk: "
              "broken</option></select></label><label>Find <input id=\"f-text\" "
              "placeholder=\"name, image\"></label><span class=\"legend\"><span "
              "class=\"v-native\">native</span><span class=\"v-emulated\">emulated</span><span "
              "class=\"v-uncertain\">emulated-unknown</span><span "
              "class=\"v-crash\">emulated-crash</span><span class=\"v-fails\">fails</span><span "
              "class=\"v-unknown\">unknown</span><span class=\"v-none\">&middot; cannot land "
              "there</span></span><span><b id=\"shown\"></b> shown</span></div>",
                        f);

        /* the matrix */
        fputs("<table id=\"matrix\"><thead><tr><th>Workload</th><th>Pods</th><th>Runs on</th>", f);
        for (size_t p = 0; p < r->n_platforms; p++) {
                fputs("<th>", f);
                esc(f, r->platforms[p].name);
                if (r->platforms[p].what_if)
                        fputs(" <small>(what-if)</small>", f);
                fputs("</th>", f);
        }
        fputs("<th>Risk</th></tr></thead><tbody>", f);
        for (size_t i = 0; i < r->n_workloads; i++) {
                const struct xarch_audit_workload *w = &r->workloads[i];
                fputs("<tr class=\"wl\" data-ns=\"", f);
                esc(f, w->namespace_);
                fputs("\" data-verdicts=\"", f);
                for (size_t p = 0; p < r->n_platforms; p++)
                        fprintf(f, "%s ", verdict_class(&w->cells[p]));
                fprintf(f, "\" data-risk=\"%s\"><td><div class=\"ns\">",
                                xarch_audit_risk_name(w->risk));
                esc(f, w->namespace_);
                fputs("</div><div class=\"name\">", f);
                esc(f, w->kind);
                fputs("/", f);
                esc(f, w->name);
                fputs("</div>", f);
                for (size_t m = 0; m < w->n_images; m++) {
                        fputs("<div class=\"img\">", f);
                        esc(f, r->images[w->images[m]].ref);
                        fputs("</div>", f);
                }
                fprintf(f, "</td><td>%zu</td><td>", w->n_pods);
                esc(f, w->runs_on[0] ? w->runs_on : "none");
                fputs("</td>", f);
                for (size_t p = 0; p < r->n_platforms; p++) {
                        const struct xarch_audit_cell *c = &w->cells[p];
                        fprintf(f, "<td class=\"cell v-%s\" title=\"", verdict_class(c));
                        if (c->n_nodes)
                                fprintf(f, "%zu node%s, %zu pod%s now. ", c->n_nodes,
                                                c->n_nodes == 1 ? "" : "s", c->n_pods,
                                                c->n_pods == 1 ? "" : "s");
                        esc(f, c->reason ? c->reason
                                         : (c->n_nodes ? "no verdict" : "cannot land there"));
                        fputs("\">", f);
                        esc(f, verdict_label(c));
                        fputs("</td>", f);
                }
                fprintf(f, "<td><span class=\"risk %s\">%s</span></td></tr>",
                                xarch_audit_risk_name(w->risk), xarch_audit_risk_name(w->risk));

                /* details */
                fprintf(f,
                                "<tr class=\"detail\" hidden><td colspan=\"%zu\"><div "
                                "class=\"reason\">"
                                "<b>",
                                r->n_platforms + 4);
                esc(f, xarch_audit_risk_name(w->risk));
                fputs(":</b> ", f);
                esc(f, w->risk_reason);
                fputs("</div>", f);
                for (size_t p = 0; p < r->n_platforms; p++) {
                        const struct xarch_audit_cell *c = &w->cells[p];
                        if (!c->n_nodes || !c->known)
                                continue;
                        fputs("<h4>", f);
                        esc(f, r->platforms[p].name);
                        fprintf(f, "%s: <span class=\"v-%s\">",
                                        r->platforms[p].what_if ? " (what-if)" : "",
                                        verdict_class(c));
                        esc(f, verdict_label(c));
                        fputs("</span> (", f);
                        esc(f, c->code);
                        fprintf(f, ") &middot; %zu node%s, %zu pod%s</h4><div class=\"reason\">",
                                        c->n_nodes, c->n_nodes == 1 ? "" : "s", c->n_pods,
                                        c->n_pods == 1 ? "" : "s");
                        esc(f, c->reason);
                        fputs("</div>", f);
                        if (c->fix && xarch_audit_verdict_severity(c->verdict) >= 2) {
                                fputs("<pre>", f);
                                esc(f, c->fix);
                                fputs("</pre>", f);
                        }
                }
                for (size_t m = 0; m < w->n_images; m++) {
                        const struct xarch_audit_image *im = &r->images[w->images[m]];
                        if (!im->error)
                                continue;
                        fputs("<h4>cannot inspect ", f);
                        esc(f, im->ref);
                        fputs("</h4><div class=\"reason\">", f);
                        esc(f, im->error);
                        fputs("</div>", f);
                }
                if (w->n_evidence)
                        fputs("<h4>Evidence from the pods</h4>", f);
                for (size_t e = 0; e < w->n_evidence && e < 10; e++) {
                        const struct xarch_audit_evidence *ev = &w->evidence[e];
                        fputs("<div class=\"reason\">pod <b>", f);
                        esc(f, ev->pod);
                        fputs("</b>, container ", f);
                        esc(f, ev->container);
                        fputs(", node ", f);
                        esc(f, ev->node[0] ? ev->node : "-");
                        fputs(": ", f);
                        esc(f, ev->state);
                        fputs(" &mdash; ", f);
                        esc(f, ev->title);
                        fputs("<pre>", f);
                        esc(f, ev->message);
                        fputs("</pre></div>", f);
                }
                if (w->patch) {
                        fputs("<h4>Fix: keep it on the arches that run it</h4><pre>", f);
                        patch_command(f, w, patch_files ? patch_files[i] : NULL);
                        fputs("</pre>", f);
                }
                if (w->patch_note) {
                        fputs("<div class=\"reason\"><i>", f);
                        esc(f, w->patch_note);
                        fputs("</i></div>", f);
                }
                fputs("</td></tr>", f);
        }
        fputs("</tbody></table>", f);

        for (size_t i = 0; i < r->n_what_if; i++) {
                const struct xarch_audit_what_if *wi = &r->what_if[i];
                double pct = wi->workloads ? 100.0 * (double) wi->native / (double) wi->workloads
                                           : 100.0;
                double ppct = wi->pods ? 100.0 * (double) wi->pods_native / (double) wi->pods
                                       : 100.0;
                fputs("<section class=\"what-if\"><h2>What if ", f);
                esc(f, r->platforms[wi->platform].name);
                fprintf(f,
                                " nodes were added</h2><p>%zu workloads could land there: <span "
                                "class=\"v-native\">%zu native</span>, <span "
                                "class=\"v-emulated\">%zu "
                                "emulated</span>, <span class=\"v-uncertain\">%zu "
                                "emulated-unknown</span>, <span class=\"v-crash\">%zu "
                                "emulated-crash</span>, "
                                "<span class=\"v-fails\">%zu fail</span>, %zu unknown.</p>"
                                "<p>Readiness: <b>%.0f%%</b> of workloads (%zu/%zu) and "
                                "<b>%.0f%%</b> "
                                "of pods (%zu/%zu) run natively.</p><div class=\"bar\"><i "
                                "style=\"width:%.0f%%\"></i></div>",
                                wi->workloads, wi->native, wi->emulated, wi->uncertain, wi->crash,
                                wi->fails, wi->unknown, pct, wi->native, wi->workloads, ppct,
                                wi->pods_native, wi->pods, ppct);
                if (wi->n_blockers) {
                        fputs("<h2 style=\"margin-top:14px\">Blockers, by pods affected</h2><table>"
                              "<thead><tr><th>#</th><th>Image</th><th>Verdict</th><th>Pods</th>"
                              "<th>Workloads</th></tr></thead><tbody>",
                                        f);
                        for (size_t b = 0; b < wi->n_blockers && b < 50; b++) {
                                const struct xarch_audit_blocker *bl = &wi->blockers[b];
                                struct xarch_audit_cell tmp = {.n_nodes = 1,
                                                .known = true,
                                                .verdict = bl->verdict};
                                fprintf(f, "<tr><td>%zu</td><td class=\"img\">", b + 1);
                                esc(f, r->images[bl->image].ref);
                                fprintf(f,
                                                "</td><td class=\"cell "
                                                "v-%s\">%s</td><td>%zu</td><td>%zu"
                                                "</td></tr>",
                                                verdict_class(&tmp), verdict_label(&tmp),
                                                bl->n_pods, bl->n_workloads);
                        }
                        fputs("</tbody></table>", f);
                }
                fputs("</section>", f);
        }

        fputs("<section><details><summary><b>Nodes</b></summary><table><thead><tr><th>Node</th>"
              "<th>Platform</th><th>Runtime</th><th>Ready</th><th>Taints</th><th>Emulates</th>"
              "</tr></thead><tbody>",
                        f);
        for (size_t i = 0; i < r->n_nodes; i++) {
                const struct xarch_audit_node *n = &r->nodes[i];
                fputs("<tr><td>", f);
                esc(f, n->name);
                fputs("</td><td>", f);
                esc(f, r->platforms[n->platform].name);
                fputs("</td><td>", f);
                esc(f, n->runtime[0] ? n->runtime : "?");
                fputs(" ", f);
                esc(f, n->runtime_version);
                fprintf(f, "</td><td>%s%s</td><td>%zu</td><td>", n->ready ? "yes" : "no",
                                n->unschedulable ? " (cordoned)" : "", n->n_taints);
                esc(f, n->emulates[0] ? n->emulates : "-");
                fputs("</td></tr>", f);
        }
        fputs("</tbody></table></details></section>", f);
        if (r->n_skipped) {
                fputs("<section><h2>Skipped objects</h2><ul>", f);
                for (size_t i = 0; i < r->n_skipped; i++) {
                        fprintf(f, "<li>%zu of kind ", r->skipped[i].count);
                        esc(f, r->skipped[i].kind);
                        fputs("</li>", f);
                }
                fputs("</ul></section>", f);
        }
        fprintf(f,
                        "<footer>Made by xarch %s audit. Verdicts: native (the node pulls a "
                        "manifest of "
                        "its own platform), emulated (runs under the node's QEMU), emulated-crash "
                        "(starts under QEMU and crashes), fails (exec format error, no matching "
                        "manifest, mislabelled).</footer></main><script>",
                        xarch_version());
        fputs(js, f);
        fputs("</script></body></html>\n", f);
        return ferror(f) ? -EIO : 0;
}
