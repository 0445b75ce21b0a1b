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

static const char *const html__sym[REP_STATUS_COUNT] = {"✓", "✗", "–", "!"};

struct html_ctx {
    json_t *results;
    struct rep_matrix m;
    size_t *order;     /* case indexes grouped by matrix cell */
    size_t *cell_from; /* rows*fams + 1 offsets into order */
};

/* Worst status in a cell decides its colour and symbol. */
static int html__cell_status(const struct rep_counts *c)
{
    if (c->n[REP_FAILED])
        return REP_FAILED;
    if (c->n[REP_ERROR])
        return REP_ERROR;
    if (c->n[REP_PASSED] == 0)
        return REP_SKIPPED;
    return REP_PASSED;
}

static int html__attr(struct iotc_buf *b, const char *name, const char *value)
{
    int rc = rep_printf(b, " %s=\"", name);
    if (rc == IOTC_OK)
        rc = rep_html_escape(b, value);
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(b, '"');
    return rc;
}

static int html__title(struct html_ctx *x, struct iotc_buf *b)
{
    const char *kind = rep_str(json_object_get(x->results, "run"), "kind");
    int rc = rep_puts(b, "iotconform ");
    if (rc == IOTC_OK)
        rc = rep_html_escape(b, kind ? kind : "run");
    if (rc == IOTC_OK)
        rc = rep_puts(b, " report");
    return rc;
}

/* The disjoint counts of the headline: status classes colour them, PASS_WITH_WARNINGS and
 * INCONCLUSIVE get their own (they are parts of passed and error). */
static int html__totals(struct html_ctx *x, struct iotc_buf *b)
{
    const struct rep_counts *t = &x->m.totals;
    const struct {
        const char *cls, *sym, *label;
        size_t n;
        bool always;
    } parts[] = {
        {"passed", "✓", "passed", rep_counts_passed(t), true},
        {"warned", "✓!", "passed with warnings", t->warned, false},
        {"failed", "✗", "failed", t->n[REP_FAILED], true},
        {"skipped", "–", "skipped", t->n[REP_SKIPPED], true},
        {"error", "!", "error", rep_counts_errored(t), true},
        {"inconclusive", "?", "inconclusive", t->inconclusive, false},
    };
    size_t np = sizeof parts / sizeof parts[0];
    int rc = rep_printf(b, "<div class=\"totals\"><span class=\"pill\"><b>%zu</b> cases</span>",
                        t->total);
    for (size_t s = 0; rc == IOTC_OK && s < np; s++)
        if (parts[s].always || parts[s].n)
            rc = rep_printf(b, "<span class=\"pill st-%s\">%s <b>%zu</b> %s</span>", parts[s].cls,
                            parts[s].sym, parts[s].n, parts[s].label);
    double rate = rep_pass_rate(t);
    if (rc == IOTC_OK) {
        if (rate >= 0)
            rc = rep_printf(b,
                            "<span class=\"rate\" title=\"PASS over the cases that ran\">Pass "
                            "rate %.1f%%</span>",
                            rate);
        else
            rc = rep_puts(b, "<span class=\"rate\">Pass rate n/a (nothing ran)</span>");
    }
    if (rc == IOTC_OK)
        rc = rep_puts(b, "</div>\n");
    /* Stacked bar: the share of each count at a glance. */
    if (rc == IOTC_OK && t->total) {
        rc = rep_puts(b, "<div class=\"bar\" role=\"img\" aria-label=\"");
        for (size_t s = 0, k = 0; rc == IOTC_OK && s < np; s++)
            if (parts[s].always || parts[s].n)
                rc = rep_printf(b, "%s%zu %s", k++ ? ", " : "", parts[s].n, parts[s].label);
        if (rc == IOTC_OK)
            rc = rep_puts(b, "\">");
        for (size_t s = 0; rc == IOTC_OK && s < np; s++)
            if (parts[s].n)
                rc = rep_printf(b, "<span class=\"st-%s\" style=\"width:%.3f%%\"></span>",
                                parts[s].cls, 100.0 * (double)parts[s].n / (double)t->total);
        if (rc == IOTC_OK)
            rc = rep_puts(b, "</div>\n");
    }
    return rc;
}

static int html__options(struct iotc_buf *b, const struct rep_list *l)
{
    int rc = IOTC_OK;
    for (size_t i = 0; rc == IOTC_OK && i < l->n; i++) {
        rc = rep_puts(b, "<option");
        if (rc == IOTC_OK)
            rc = html__attr(b, "value", l->v[i]);
        if (rc == IOTC_OK)
            rc = iotc_buf_u8(b, '>');
        if (rc == IOTC_OK)
            rc = rep_html_escape(b, l->v[i]);
        if (rc == IOTC_OK)
            rc = rep_puts(b, "</option>");
    }
    return rc;
}

static int html__case_cell(struct iotc_buf *b, json_t *c)
{
    int st = rep_status_parse(rep_str(c, "status"));
    if (st < 0)
        st = REP_ERROR;
    const char *id = rep_str(c, "id");
    int rc =
        rep_printf(b, "<button type=\"button\" class=\"case-cell st-%s\"", rep_status_name(st));
    if (rc == IOTC_OK)
        rc = html__attr(b, "data-case-id", id);
    if (rc == IOTC_OK)
        rc = rep_printf(b, " data-status=\"%s\"", rep_status_name(st));
    if (rc == IOTC_OK)
        rc = html__attr(b, "data-row", rep_str(c, "row"));
    if (rc == IOTC_OK)
        rc = html__attr(b, "data-suite", rep_str(c, "suite"));
    if (rc == IOTC_OK)
        rc = rep_puts(b, " title=\"");
    if (rc == IOTC_OK)
        rc = rep_html_escape(b, id);
    if (rc == IOTC_OK)
        rc = rep_printf(b, " (%s): ", rep_status_name(st));
    if (rc == IOTC_OK)
        rc = rep_html_escape(b, rep_str(c, "title"));
    if (rc == IOTC_OK)
        rc = rep_printf(b, "\">%s</button>", html__sym[st]);
    return rc;
}

static int html__agg_label(struct iotc_buf *b, const struct rep_counts *c, int st)
{
    size_t ran = c->total - c->n[REP_SKIPPED];
    int rc;
    if (st == REP_SKIPPED)
        return rep_printf(b, "<div class=\"agg-label\">%s %zu skipped</div>", html__sym[st],
                          c->total);
    rc = rep_printf(b, "<div class=\"agg-label\">%s %zu/%zu passed", html__sym[st],
                    rep_counts_passed(c), ran);
    if (rc == IOTC_OK && c->warned)
        rc = rep_printf(b, ", %zu with warnings", c->warned);
    if (rc == IOTC_OK && c->inconclusive)
        rc = rep_printf(b, ", %zu inconclusive", c->inconclusive);
    if (rc == IOTC_OK && c->n[REP_SKIPPED])
        rc = rep_printf(b, ", %zu skipped", c->n[REP_SKIPPED]);
    if (rc == IOTC_OK)
        rc = rep_puts(b, "</div>");
    return rc;
}

static int html__matrix(struct html_ctx *x, struct iotc_buf *b)
{
    const struct rep_matrix *m = &x->m;
    json_t *cases = json_object_get(x->results, "cases");
    if (m->rows.n == 0)
        return rep_puts(b, "<p>No cases were run.</p>\n");
    int rc = rep_puts(b, "<div class=\"matrix-wrap\"><table class=\"matrix\">\n<thead><tr>"
                         "<th scope=\"col\">row \\ family</th>");
    for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++) {
        rc = rep_puts(b, "<th scope=\"col\">");
        if (rc == IOTC_OK)
            rc = rep_html_escape(b, m->fams.v[f]);
        if (rc == IOTC_OK)
            rc = rep_puts(b, "</th>");
    }
    if (rc == IOTC_OK)
        rc = rep_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; rc == IOTC_OK && r < m->rows.n; r++) {
        rc = rep_puts(b, "<tr");
        if (rc == IOTC_OK)
            rc = html__attr(b, "data-row", m->rows.v[r]);
        if (rc == IOTC_OK)
            rc = rep_puts(b, "><th scope=\"row\">");
        if (rc == IOTC_OK)
            rc = rep_html_escape(b, m->rows.v[r]);
        if (rc == IOTC_OK)
            rc = rep_puts(b, "</th>");
        for (size_t f = 0; rc == IOTC_OK && f < m->fams.n; f++) {
            const struct rep_counts *c = rep_matrix_cell(m, r, f);
            const char *na = rep_matrix_na(m, r, f);
            if (c->total == 0 && na) {
                /* Not a gap: the tables say why this family cannot apply to this row. */
                rc = rep_puts(b, "<td class=\"agg na\"");
                if (rc == IOTC_OK)
                    rc = html__attr(b, "title", na);
                if (rc == IOTC_OK)
                    rc = rep_puts(b, ">N/A</td>");
                continue;
            }
            if (c->total == 0) {
                rc = rep_puts(b, "<td class=\"agg empty\">·</td>");
                continue;
            }
            int st = html__cell_status(c);
            rc = rep_printf(b, "<td class=\"agg st-%s\">", rep_status_name(st));
            if (rc == IOTC_OK)
                rc = html__agg_label(b, c, st);
            if (rc == IOTC_OK)
                rc = rep_puts(b, "<div class=\"cells\">");
            size_t cell = r * m->fams.n + f;
            for (size_t k = x->cell_from[cell]; rc == IOTC_OK && k < x->cell_from[cell + 1]; k++)
                rc = html__case_cell(b, json_array_get(cases, x->order[k]));
            if (rc == IOTC_OK)
                rc = rep_puts(b, "</div></td>");
        }
        if (rc == IOTC_OK)
            rc = rep_puts(b, "</tr>\n");
    }
    if (rc == IOTC_OK)
        rc = rep_puts(b, "</tbody></table></div>\n");
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
            rc = rep_puts(b, "<\\/");
            p += 2;
        } else if (strncmp(p, "<!--", 4) == 0) {
            rc = rep_puts(b, "\\u003c!--");
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
        return rep_html_escape(b, rep_str(run, "tool_version"));
    if (SLOT("style"))
        return rep_puts(b, rep_asset("report.css"));
    if (SLOT("script"))
        return rep_puts(b, rep_asset("report.js"));
    if (SLOT("totals"))
        return html__totals(x, b);
    if (SLOT("meta"))
        return rep_html_meta(x->results, b);
    if (SLOT("environment"))
        return rep_html_environment(x->results, b);
    if (SLOT("certification"))
        return rep_html_certification(x->results, b);
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
        const char *row = rep_str(c, "row");
        int r = rep_list_find(&x->m.rows, row ? row : "?");
        int f = rep_list_find(&x->m.fams, rep_case_family(c));
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
    const char *tpl = rep_asset("template.html");
    if (!tpl || !rep_asset("report.css") || !rep_asset("report.js"))
        return IOTC_ERR_NOT_FOUND;
    int rc = rep_matrix_build(results, &x.m);
    if (rc != IOTC_OK)
        return rc;
    if ((rc = html__group(&x)) != IOTC_OK)
        goto cleanup;
    const char *p = tpl;
    while (rc == IOTC_OK && *p) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !close) {
            rc = rep_puts(out, p);
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
    rep_matrix_free(&x.m);
    return rc;
}
