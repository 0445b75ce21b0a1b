/*
 * Markdown for $GITHUB_STEP_SUMMARY: a totals line, the rows x families matrix
 * with symbols (readable without colour), then the failures with their reasons.
 */
#include "report_internal.h"
#include "common/err.h"

#include <string.h>

#define SUMMARY_MAX_FAILURES 50
#define SUMMARY_MAX_REASON   300 /* characters; the HTML report has the full text */

static const char *const summary__symbol[IOTC_REPORT_STATUS_COUNT] = {"✅", "❌", "⏭", "⚠️"};
#define SUMMARY__WARNED       "☑️" /* PASS_WITH_WARNINGS: passed, with something to fix */
#define SUMMARY__INCONCLUSIVE "❔"      /* ran, but the evidence supported no verdict */

/* One cell: the worst status decides the symbol; counts say how many passed. */
static int summary__cell(struct iotc_buf *b, const struct iotc_report_counts *c)
{
    if (c->total == 0)
        return iotc_report_puts(b, " · |");
    size_t ran = c->total - c->n[IOTC_REPORT_SKIPPED];
    if (ran == 0)
        return iotc_report_printf(b, " %s %zu |", summary__symbol[IOTC_REPORT_SKIPPED], c->total);
    const char *sym = c->warned ? SUMMARY__WARNED : summary__symbol[IOTC_REPORT_PASSED];
    if (c->n[IOTC_REPORT_FAILED] || c->n[IOTC_REPORT_ERROR])
        sym = summary__symbol[IOTC_REPORT_FAILED];
    int rc = iotc_report_printf(b, " %s %zu/%zu", sym, iotc_report_counts_passed(c), ran);
    if (rc == IOTC_OK && c->warned)
        rc = iotc_report_printf(b, " +%zu%s", c->warned, SUMMARY__WARNED);
    if (rc == IOTC_OK && iotc_report_counts_errored(c))
        rc = iotc_report_printf(b, " (%zu %s)", iotc_report_counts_errored(c), summary__symbol[IOTC_REPORT_ERROR]);
    if (rc == IOTC_OK && c->inconclusive)
        rc = iotc_report_printf(b, " (%zu %s)", c->inconclusive, SUMMARY__INCONCLUSIVE);
    if (rc == IOTC_OK && c->n[IOTC_REPORT_SKIPPED])
        rc = iotc_report_printf(b, " +%zu%s", c->n[IOTC_REPORT_SKIPPED], summary__symbol[IOTC_REPORT_SKIPPED]);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, " |");
    return rc;
}

static int summary__totals(json_t *results, const struct iotc_report_counts *t, struct iotc_buf *b)
{
    json_t *run = json_object_get(results, "run");
    const char *kind = iotc_report_str(run, "kind");
    int rc = iotc_report_puts(b, "## iotconform ");
    if (rc == IOTC_OK)
        rc = iotc_report_md_escape(b, kind ? kind : "run", 40);
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, "\n\n**%zu cases**: %s %zu passed", t->total,
                        summary__symbol[IOTC_REPORT_PASSED], iotc_report_counts_passed(t));
    /* Counts that only certification verdicts produce are shown when present. */
    if (rc == IOTC_OK && t->warned)
        rc = iotc_report_printf(b, " · %s %zu passed with warnings", SUMMARY__WARNED, t->warned);
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, " · %s %zu failed · %s %zu skipped · %s %zu error",
                        summary__symbol[IOTC_REPORT_FAILED], t->n[IOTC_REPORT_FAILED], summary__symbol[IOTC_REPORT_SKIPPED],
                        t->n[IOTC_REPORT_SKIPPED], summary__symbol[IOTC_REPORT_ERROR], iotc_report_counts_errored(t));
    if (rc == IOTC_OK && t->inconclusive)
        rc = iotc_report_printf(b, " · %s %zu inconclusive", SUMMARY__INCONCLUSIVE, t->inconclusive);
    double rate = iotc_report_pass_rate(t);
    if (rc == IOTC_OK && rate >= 0)
        rc = iotc_report_printf(b, " · pass rate %.1f%%", rate);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "\n\n");
    const char *ver = iotc_report_str(run, "tool_version");
    const char *rev = iotc_report_str(run, "git_revision");
    if (rc == IOTC_OK && ver) {
        rc = iotc_report_puts(b, "iotconform ");
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, ver, 40);
        if (rc == IOTC_OK && rev) {
            rc = iotc_report_puts(b, " (");
            if (rc == IOTC_OK)
                rc = iotc_report_md_escape(b, rev, 40);
            if (rc == IOTC_OK)
                rc = iotc_report_puts(b, ")");
        }
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "\n\n");
    }
    return rc;
}

static int summary__matrix(const struct iotc_report_matrix *m, struct iotc_buf *b)
{
    if (m->rows.n == 0)
        return iotc_report_puts(b, "_No cases were run._\n\n");
    int rc = iotc_report_puts(b, "| row |");
    for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++) {
        rc = iotc_buf_u8(b, ' ');
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, m->fams.v[f], 60);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, " |");
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "\n|---|");
    for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++)
        rc = iotc_report_puts(b, ":---:|");
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(b, '\n');
    for (size_t r = 0; rc == IOTC_OK && r < m->rows.n; r++) {
        rc = iotc_report_puts(b, "| ");
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, m->rows.v[r], 60);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, " |");
        for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++)
            rc = summary__cell(b, iotc_report_matrix_cell(m, r, f));
        if (rc == IOTC_OK)
            rc = iotc_buf_u8(b, '\n');
    }
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b,
                        "\n%s all passed · %s passed with warnings · %s a case failed · %s "
                        "skipped · %s error · %s inconclusive · `n/m` passed/ran\n\n",
                        summary__symbol[IOTC_REPORT_PASSED], SUMMARY__WARNED, summary__symbol[IOTC_REPORT_FAILED],
                        summary__symbol[IOTC_REPORT_SKIPPED], summary__symbol[IOTC_REPORT_ERROR],
                        SUMMARY__INCONCLUSIVE);
    return rc;
}

static int summary__failures(json_t *results, const struct iotc_report_counts *t, struct iotc_buf *b)
{
    size_t bad = t->n[IOTC_REPORT_FAILED] + t->n[IOTC_REPORT_ERROR];
    if (bad == 0)
        return IOTC_OK;
    int rc = iotc_report_printf(b, "### Failures (%zu)\n\n", bad);
    size_t listed = 0, i;
    json_t *c;
    json_array_foreach(json_object_get(results, "cases"), i, c)
    {
        int st = iotc_report_status_parse(iotc_report_str(c, "status"));
        if (rc != IOTC_OK || listed >= SUMMARY_MAX_FAILURES)
            break;
        if (st != IOTC_REPORT_FAILED && st != IOTC_REPORT_ERROR)
            continue;
        listed++;
        rc = iotc_report_printf(b, "- %s **",
                        iotc_report_case_inconclusive(c) ? SUMMARY__INCONCLUSIVE : summary__symbol[st]);
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, iotc_report_str(c, "id"), 200);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "**: ");
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, iotc_report_str(c, "title"), 200);
        if (rc == IOTC_OK && iotc_report_str(c, "reason")) {
            rc = iotc_report_puts(b, " — ");
            if (rc == IOTC_OK)
                rc = iotc_report_md_escape(b, iotc_report_str(c, "reason"), SUMMARY_MAX_REASON);
        }
        if (rc == IOTC_OK)
            rc = iotc_buf_u8(b, '\n');
    }
    if (rc == IOTC_OK && bad > listed)
        rc = iotc_report_printf(b, "- … and %zu more (see report.html or junit.xml)\n", bad - listed);
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(b, '\n');
    return rc;
}

/* Certification runs: the verdict of every case, warnings included (a PASS_WITH_WARNINGS
 * has status "passed" and is not in the failures list). */
static int summary__verdicts(json_t *results, struct iotc_buf *b)
{
    const char *kind = iotc_report_str(json_object_get(results, "run"), "kind");
    size_t i;
    json_t *c;
    int rc;
    if (!kind || strcmp(kind, "certification") != 0)
        return IOTC_OK;
    rc = iotc_report_puts(b, "| device | case | verdict | reason |\n|---|---|---|---|\n");
    json_array_foreach(json_object_get(results, "cases"), i, c)
    {
        const char *v = iotc_report_str(c, "verdict");
        const char *tpl = iotc_report_str(c, "template");
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "| ");
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, iotc_report_str(c, "row"), 100);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, " | ");
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, tpl ? tpl : iotc_report_str(c, "id"), 200);
        if (rc == IOTC_OK)
            rc = iotc_report_printf(b, " | %s%s%s | ", v && strcmp(v, "PASS") ? "**" : "", v ? v : "?",
                            v && strcmp(v, "PASS") ? "**" : "");
        if (rc == IOTC_OK)
            rc = iotc_report_md_escape(b, iotc_report_str(c, "reason"), SUMMARY_MAX_REASON);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, " |\n");
    }
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(b, '\n');
    return rc;
}

int iotc_report_summary_md(json_t *results, struct iotc_buf *out)
{
    struct iotc_report_matrix m;
    int rc = iotc_report_matrix_build(results, &m);
    if (rc != IOTC_OK)
        return rc;
    rc = summary__totals(results, &m.totals, out);
    if (rc == IOTC_OK)
        rc = summary__verdicts(results, out);
    if (rc == IOTC_OK)
        rc = summary__matrix(&m, out);
    if (rc == IOTC_OK)
        rc = summary__failures(results, &m.totals, out);
    iotc_report_matrix_free(&m);
    return rc;
}
