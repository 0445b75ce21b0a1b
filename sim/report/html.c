/*
 * The self-contained HTML report: assets/template.html with its {{slots}} filled.
 * The matrix is rendered here as plain elements (one square per case) so the
 * page is usable before any script runs; per-case details come from the embedded
 * JSON blob, read by assets/report.js only when a case is opened.
 */
#include "report_internal.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static const char *const html__sym[IOTC_REPORT_STATUS_COUNT] = {"✓", "✗", "–", "!"};

struct html_ctx {
    json_t *results;
    struct iotc_report_matrix m;
    size_t *order;     /* case indexes grouped by matrix cell */
    size_t *cell_from; /* rows*fams + 1 offsets into order */
};

/* Worst status in a cell decides its colour and symbol. */
static int html__cell_status(const struct iotc_report_counts *c)
{
    if (c->n[IOTC_REPORT_FAILED])
        return IOTC_REPORT_FAILED;
    if (c->n[IOTC_REPORT_ERROR])
        return IOTC_REPORT_ERROR;
    if (c->n[IOTC_REPORT_PASSED] == 0)
        return IOTC_REPORT_SKIPPED;
    return IOTC_REPORT_PASSED;
}

static int html__attr(struct iotc_buf *b, const char *name, const char *value)
{
    int rc = iotc_report_printf(b, " %s=\"", name);
    if (rc == IOTC_OK)
        rc = iotc_report_html_escape(b, value);
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(b, '"');
    return rc;
}

static int html__title(struct html_ctx *x, struct iotc_buf *b)
{
    const char *kind = iotc_report_str(json_object_get(x->results, "run"), "kind");
    int rc = iotc_report_puts(b, "iotconform ");
    if (rc == IOTC_OK)
        rc = iotc_report_html_escape(b, kind ? kind : "run");
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, " report");
    return rc;
}

/* The disjoint counts of the headline: status classes colour them, PASS_WITH_WARNINGS and
 * INCONCLUSIVE get their own (they are parts of passed and error). */
static int html__totals(struct html_ctx *x, struct iotc_buf *b)
{
    const struct iotc_report_counts *t = &x->m.totals;
    const struct {
        const char *cls, *sym, *label;
        size_t n;
        bool always;
    } parts[] = {
        {"passed", "✓", "passed", iotc_report_counts_passed(t), true},
        {"warned", "✓!", "passed with warnings", t->warned, false},
        {"failed", "✗", "failed", t->n[IOTC_REPORT_FAILED], true},
        {"skipped", "–", "skipped", t->n[IOTC_REPORT_SKIPPED], true},
        {"error", "!", "error", iotc_report_counts_errored(t), true},
        {"inconclusive", "?", "inconclusive", t->inconclusive, false},
    };
    size_t np = sizeof parts / sizeof parts[0];
    int rc = iotc_report_printf(b, "<div class=\"totals\"><span class=\"pill\"><b>%zu</b> cases</span>",
                        t->total);
    for (size_t s = 0; rc == IOTC_OK && s < np; s++)
        if (parts[s].always || parts[s].n)
            rc = iotc_report_printf(b, "<span class=\"pill st-%s\">%s <b>%zu</b> %s</span>", parts[s].cls,
                            parts[s].sym, parts[s].n, parts[s].label);
    double rate = iotc_report_pass_rate(t);
    if (rc == IOTC_OK) {
        if (rate >= 0)
            rc = iotc_report_printf(b,
                            "<span class=\"rate\" title=\"PASS over the cases that ran\">Pass "
                            "rate %.1f%%</span>",
                            rate);
        else
            rc = iotc_report_puts(b, "<span class=\"rate\">Pass rate n/a (nothing ran)</span>");
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</div>\n");
    /* Stacked bar: the share of each count at a glance. */
    if (rc == IOTC_OK && t->total) {
        rc = iotc_report_puts(b, "<div class=\"bar\" role=\"img\" aria-label=\"");
        for (size_t s = 0, k = 0; rc == IOTC_OK && s < np; s++)
            if (parts[s].always || parts[s].n)
                rc = iotc_report_printf(b, "%s%zu %s", k++ ? ", " : "", parts[s].n, parts[s].label);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "\">");
        for (size_t s = 0; rc == IOTC_OK && s < np; s++)
            if (parts[s].n)
                rc = iotc_report_printf(b, "<span class=\"st-%s\" style=\"width:%.3f%%\"></span>",
                                parts[s].cls, 100.0 * (double)parts[s].n / (double)t->total);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</div>\n");
    }
    return rc;
}

static int html__options(struct iotc_buf *b, const struct iotc_report_list *l)
{
    int rc = IOTC_OK;
    for (size_t i = 0; rc == IOTC_OK && i < l->n; i++) {
        rc = iotc_report_puts(b, "<option");
        if (rc == IOTC_OK)
            rc = html__attr(b, "value", l->v[i]);
        if (rc == IOTC_OK)
            rc = iotc_buf_u8(b, '>');
        if (rc == IOTC_OK)
            rc = iotc_report_html_escape(b, l->v[i]);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</option>");
    }
    return rc;
}

static int html__case_cell(struct iotc_buf *b, json_t *c)
{
    int st = iotc_report_status_parse(iotc_report_str(c, "status"));
    if (st < 0)
        st = IOTC_REPORT_ERROR;
    const char *id = iotc_report_str(c, "id");
    int rc =
        iotc_report_printf(b, "<button type=\"button\" class=\"case-cell st-%s\"", iotc_report_status_name(st));
    if (rc == IOTC_OK)
        rc = html__attr(b, "data-case-id", id);
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, " data-status=\"%s\"", iotc_report_status_name(st));
    if (rc == IOTC_OK)
        rc = html__attr(b, "data-row", iotc_report_str(c, "row"));
    if (rc == IOTC_OK)
        rc = html__attr(b, "data-suite", iotc_report_str(c, "suite"));
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, " title=\"");
    if (rc == IOTC_OK)
        rc = iotc_report_html_escape(b, id);
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, " (%s): ", iotc_report_status_name(st));
    if (rc == IOTC_OK)
        rc = iotc_report_html_escape(b, iotc_report_str(c, "title"));
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, "\">%s</button>", html__sym[st]);
    return rc;
}

static int html__agg_label(struct iotc_buf *b, const struct iotc_report_counts *c, int st)
{
    size_t ran = c->total - c->n[IOTC_REPORT_SKIPPED];
    int rc;
    if (st == IOTC_REPORT_SKIPPED)
        return iotc_report_printf(b, "<div class=\"agg-label\">%s %zu skipped</div>", html__sym[st],
                          c->total);
    rc = iotc_report_printf(b, "<div class=\"agg-label\">%s %zu/%zu passed", html__sym[st],
                    iotc_report_counts_passed(c), ran);
    if (rc == IOTC_OK && c->warned)
        rc = iotc_report_printf(b, ", %zu with warnings", c->warned);
    if (rc == IOTC_OK && c->inconclusive)
        rc = iotc_report_printf(b, ", %zu inconclusive", c->inconclusive);
    if (rc == IOTC_OK && c->n[IOTC_REPORT_SKIPPED])
        rc = iotc_report_printf(b, ", %zu skipped", c->n[IOTC_REPORT_SKIPPED]);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</div>");
    return rc;
}

static int html__matrix(struct html_ctx *x, struct iotc_buf *b)
{
    const struct iotc_report_matrix *m = &x->m;
    json_t *cases = json_object_get(x->results, "cases");
    if (m->rows.n == 0)
        return iotc_report_puts(b, "<p>No cases were run.</p>\n");
    int rc = iotc_report_puts(b, "<div class=\"matrix-wrap\"><table class=\"matrix\">\n<thead><tr>"
                         "<th scope=\"col\">row \\ family</th>");
    for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++) {
        rc = iotc_report_puts(b, "<th scope=\"col\">");
        if (rc == IOTC_OK)
            rc = iotc_report_html_escape(b, m->fams.v[f]);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</th>");
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; rc == IOTC_OK && r < m->rows.n; r++) {
        rc = iotc_report_puts(b, "<tr");
        if (rc == IOTC_OK)
            rc = html__attr(b, "data-row", m->rows.v[r]);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "><th scope=\"row\">");
        if (rc == IOTC_OK)
            rc = iotc_report_html_escape(b, m->rows.v[r]);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</th>");
        for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++) {
            const struct iotc_report_counts *c = iotc_report_matrix_cell(m, r, f);
            if (c->total == 0) {
                rc = iotc_report_puts(b, "<td class=\"agg empty\">·</td>");
                continue;
            }
            int st = html__cell_status(c);
            rc = iotc_report_printf(b, "<td class=\"agg st-%s\">", iotc_report_status_name(st));
            if (rc == IOTC_OK)
                rc = html__agg_label(b, c, st);
            if (rc == IOTC_OK)
                rc = iotc_report_puts(b, "<div class=\"cells\">");
            size_t cell = r * m->fams.n + f;
            for (size_t k = x->cell_from[cell]; rc == IOTC_OK && k < x->cell_from[cell + 1]; k++)
                rc = html__case_cell(b, json_array_get(cases, x->order[k]));
            if (rc == IOTC_OK)
                rc = iotc_report_puts(b, "</div></td>");
        }
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</tr>\n");
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</tbody></table></div>\n");
    return rc;
}

/* The JSON blob sits inside <script>: "</" would end the element and "<!--"
 * changes how the HTML parser scans it; both only occur inside JSON strings,
 * where the replacements are valid escapes. */
static int html__data(struct html_ctx *x, struct iotc_buf *b)
{
    char *text = json_dumps(x->results, JSON_COMPACT);
    if (!text)
        return IOTC_ERR_NOMEM;
    int rc = IOTC_OK;
    const char *p = text;
    while (rc == IOTC_OK && *p) {
        const char *lt = strchr(p, '<');
        size_t n = lt ? (size_t)(lt - p) : strlen(p);
        rc = iotc_buf_append(b, p, n);
        p += n;
        if (!lt || rc != IOTC_OK)
            break;
        if (p[1] == '/') {
            rc = iotc_report_puts(b, "<\\/");
            p += 2;
        } else if (strncmp(p, "<!--", 4) == 0) {
            rc = iotc_report_puts(b, "\\u003c!--");
            p += 4;
        } else {
            rc = iotc_buf_u8(b, '<');
            p++;
        }
    }
    free(text);
    return rc;
}

static int html__slot(struct html_ctx *x, const char *name, size_t len, struct iotc_buf *b)
{
#define SLOT(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    json_t *run = json_object_get(x->results, "run");
    if (SLOT("title"))
        return html__title(x, b);
    if (SLOT("tool_version"))
        return iotc_report_html_escape(b, iotc_report_str(run, "tool_version"));
    if (SLOT("style"))
        return iotc_report_puts(b, iotc_report_asset("report.css"));
    if (SLOT("script"))
        return iotc_report_puts(b, iotc_report_asset("report.js"));
    if (SLOT("totals"))
        return html__totals(x, b);
    if (SLOT("meta"))
        return iotc_report_html_meta(x->results, b);
    if (SLOT("environment"))
        return iotc_report_html_environment(x->results, b);
    if (SLOT("certification"))
        return iotc_report_html_certification(x->results, b);
    if (SLOT("row_options"))
        return html__options(b, &x->m.rows);
    if (SLOT("suite_options"))
        return html__options(b, &x->m.suites);
    if (SLOT("matrix"))
        return html__matrix(x, b);
    if (SLOT("data"))
        return html__data(x, b);
#undef SLOT
    return IOTC_ERR_INVALID; /* a template slot nobody fills: a bug in the assets */
}

/* Groups case indexes by matrix cell (counting sort), keeping case order inside a cell. */
static int html__group(struct html_ctx *x)
{
    json_t *cases = json_object_get(x->results, "cases");
    size_t ncells = x->m.rows.n * x->m.fams.n, n = json_array_size(cases);
    x->cell_from = calloc(ncells + 1, sizeof *x->cell_from);
    x->order = calloc(n ? n : 1, sizeof *x->order);
    size_t *cell_of = calloc(n ? n : 1, sizeof *cell_of);
    size_t *fill = calloc(ncells + 1, sizeof *fill);
    int rc = IOTC_ERR_NOMEM;
    if (!x->cell_from || !x->order || !cell_of || !fill)
        goto cleanup;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *row = iotc_report_str(c, "row");
        int r = iotc_report_list_find(&x->m.rows, row ? row : "?");
        int f = iotc_report_list_find(&x->m.fams, iotc_report_case_family(c));
        cell_of[i] = (size_t)r * x->m.fams.n + (size_t)f;
        x->cell_from[cell_of[i] + 1]++;
    }
    for (size_t k = 0; k < ncells; k++)
        x->cell_from[k + 1] += x->cell_from[k];
    for (i = 0; i < n; i++)
        x->order[x->cell_from[cell_of[i]] + fill[cell_of[i]]++] = i;
    rc = IOTC_OK;
cleanup:
    free(cell_of);
    free(fill);
    return rc;
}

int iotc_report_html(json_t *results, struct iotc_buf *out)
{
    struct html_ctx x = {.results = results};
    const char *tpl = iotc_report_asset("template.html");
    if (!tpl || !iotc_report_asset("report.css") || !iotc_report_asset("report.js"))
        return IOTC_ERR_NOT_FOUND;
    int rc = iotc_report_matrix_build(results, &x.m);
    if (rc != IOTC_OK)
        return rc;
    if ((rc = html__group(&x)) != IOTC_OK)
        goto cleanup;
    const char *p = tpl;
    while (rc == IOTC_OK && *p) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !close) {
            rc = iotc_report_puts(out, p);
            break;
        }
        rc = iotc_buf_append(out, p, (size_t)(open - p));
        if (rc == IOTC_OK)
            rc = html__slot(&x, open + 2, (size_t)(close - open - 2), out);
        p = close + 2;
    }
cleanup:
    free(x.order);
    free(x.cell_from);
    iotc_report_matrix_free(&x.m);
    return rc;
}
