/*
 * Certification runs (run.kind "certification"): a verdict page per device above the
 * matrix. Each device (the case's row) gets its verdict counts and a table of case,
 * verdict (PASS / PASS_WITH_WARNINGS / FAIL / ERROR / INCONCLUSIVE / SKIPPED, as text and
 * colour) and
 * reason; a case button opens the same detail panel as the matrix (data-case-id).
 * Conformance runs render nothing here.
 */
#include <string.h>

#include "common/err.h"
#include "report_internal.h"

static const char *cert__s(json_t *o, const char *k)
{
    const char *s = iotc_report_str(o, k);
    return s ? s : "";
}

static const char *cert__class(const char *v)
{
    if (strcmp(v, "PASS") == 0)
        return "v-pass";
    if (strcmp(v, "PASS_WITH_WARNINGS") == 0)
        return "v-warn";
    if (strcmp(v, "FAIL") == 0)
        return "v-fail";
    if (strcmp(v, "SKIPPED") == 0)
        return "v-skip";
    if (strcmp(v, "INCONCLUSIVE") == 0)
        return "v-inconclusive";
    return "v-error";
}

static int cert__device(json_t *cases, const char *device, struct iotc_buf *b)
{
    static const char *const verdicts[] = {"PASS",  "PASS_WITH_WARNINGS", "FAIL",
                                           "ERROR", "INCONCLUSIVE",       "SKIPPED"};
    enum { NV = sizeof verdicts / sizeof verdicts[0] };
    size_t i, counts[NV] = {0};
    json_t *c;
    int rc = 0;
    json_array_foreach(cases, i, c)
    {
        const char *v = iotc_report_str(c, "verdict");
        if (strcmp(cert__s(c, "row"), device) != 0)
            continue;
        for (size_t k = 0; k < NV; k++)
            counts[k] += v && strcmp(v, verdicts[k]) == 0;
    }
    rc |= iotc_report_puts(b, "<h3>");
    rc |= iotc_report_html_escape(b, device);
    rc |= iotc_report_puts(b, "</h3>\n<p class=\"cert-counts\">");
    for (size_t k = 0; k < NV; k++) {
        if (!counts[k])
            continue;
        rc |= iotc_report_printf(b, "<span class=\"verdict %s\">%zu %s</span> ", cert__class(verdicts[k]),
                         counts[k], verdicts[k]);
    }
    rc |= iotc_report_puts(b, "</p>\n<table class=\"cert\"><thead><tr><th>Case</th><th>Verdict</th>"
                      "<th>Reason</th></tr></thead><tbody>\n");
    json_array_foreach(cases, i, c)
    {
        const char *v = iotc_report_str(c, "verdict");
        if (strcmp(cert__s(c, "row"), device) != 0)
            continue;
        if (!v || !*v)
            v = "ERROR";
        rc |= iotc_report_puts(b, "<tr><td><button type=\"button\" class=\"cert-case\" data-case-id=\"");
        rc |= iotc_report_html_escape(b, cert__s(c, "id"));
        rc |= iotc_report_puts(b, "\">");
        rc |=
            iotc_report_html_escape(b, *cert__s(c, "template") ? cert__s(c, "template") : cert__s(c, "id"));
        rc |= iotc_report_puts(b, "</button></td><td><span class=\"verdict ");
        rc |= iotc_report_puts(b, cert__class(v));
        rc |= iotc_report_puts(b, "\">");
        rc |= iotc_report_html_escape(b, v);
        rc |= iotc_report_puts(b, "</span></td><td>");
        rc |= iotc_report_html_escape(b, cert__s(c, "reason"));
        rc |= iotc_report_puts(b, "</td></tr>\n");
    }
    rc |= iotc_report_puts(b, "</tbody></table>\n");
    return rc ? IOTC_ERR_NOMEM : IOTC_OK;
}

int iotc_report_html_certification(json_t *results, struct iotc_buf *b)
{
    json_t *cases = json_object_get(results, "cases"), *c, *seen;
    size_t i;
    int rc = IOTC_OK;
    if (strcmp(cert__s(json_object_get(results, "run"), "kind"), "certification") != 0)
        return IOTC_OK;
    seen = json_object();
    rc |= iotc_report_puts(b, "<section id=\"certification\" aria-labelledby=\"cert-h\">\n"
                      "<h2 id=\"cert-h\">Certification verdicts</h2>\n");
    json_array_foreach(cases, i, c)
    {
        const char *device = cert__s(c, "row");
        if (json_object_get(seen, device))
            continue;
        json_object_set_new(seen, device, json_true());
        rc |= cert__device(cases, device, b);
    }
    rc |= iotc_report_puts(b, "</section>\n");
    json_decref(seen);
    return rc ? IOTC_ERR_NOMEM : IOTC_OK;
}
