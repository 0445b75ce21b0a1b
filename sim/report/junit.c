/*
 * JUnit XML in the shape CI systems read (Jenkins/GitLab/GitHub test reporters):
 * one <testsuite> per suite, classname "suite/row" so the row shows up as the
 * class, every mismatch listed in the failure text.
 */
#include "report_internal.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Appends "<tag message="..." type="...">text</tag>" with everything escaped. */
static int junit__element(struct iotc_buf *b, const char *tag, const char *message,
                          const char *type, const char *text)
{
    int rc = iotc_report_printf(b, "      <%s message=\"", tag);
    if (rc == IOTC_OK)
        rc = iotc_report_xml_escape(b, message);
    if (rc == IOTC_OK && type)
        rc = iotc_report_printf(b, "\" type=\"%s", type);
    if (rc == IOTC_OK && !text)
        return iotc_report_puts(b, "\"/>\n");
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "\">");
    if (rc == IOTC_OK)
        rc = iotc_report_xml_escape(b, text);
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, "</%s>\n", tag);
    return rc;
}

/* "field: expected X, observed Y" per mismatch, then the requirement it checks. */
static int junit__failure_text(json_t *c, struct iotc_buf *t)
{
    int rc = IOTC_OK;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "mismatches"), i, m)
    {
        char *e = iotc_report_json_text(json_object_get(m, "expected"));
        char *o = iotc_report_json_text(json_object_get(m, "observed"));
        rc = iotc_report_printf(t, "%s: expected %s, observed %s\n", iotc_report_str(m, "field"), e ? e : "?",
                        o ? o : "?");
        free(e);
        free(o);
        if (rc != IOTC_OK)
            return rc;
    }
    if (json_array_size(json_object_get(c, "mismatches")) == 0 && iotc_report_str(c, "reason"))
        rc = iotc_report_printf(t, "%s\n", iotc_report_str(c, "reason"));
    json_t *req = json_object_get(c, "requirement");
    if (rc == IOTC_OK && req)
        rc = iotc_report_printf(t, "requirement (%s): %s\n",
                        iotc_report_str(req, "source") ? iotc_report_str(req, "source") : "?",
                        iotc_report_str(req, "text") ? iotc_report_str(req, "text") : "");
    return rc;
}

/* Journal excerpt as one line per event, for failed and errored cases. */
static int junit__journal(json_t *c, struct iotc_buf *b)
{
    json_t *j = json_object_get(c, "journal");
    if (json_array_size(j) == 0)
        return IOTC_OK;
    struct iotc_buf t = {0};
    size_t i;
    json_t *e;
    int rc = IOTC_OK;
    json_array_foreach(j, i, e)
    {
        char *line = iotc_report_json_text(e);
        rc = line ? iotc_report_printf(&t, "%s\n", line) : IOTC_ERR_NOMEM;
        free(line);
        if (rc != IOTC_OK)
            goto cleanup;
    }
    if ((rc = iotc_buf_u8(&t, 0)) != IOTC_OK)
        goto cleanup;
    rc = iotc_report_puts(b, "      <system-out>");
    if (rc == IOTC_OK)
        rc = iotc_report_xml_escape(b, (const char *)t.p);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</system-out>\n");
cleanup:
    iotc_buf_free(&t);
    return rc;
}

static int junit__case(json_t *c, struct iotc_buf *b)
{
    const char *reason = iotc_report_str(c, "reason") ? iotc_report_str(c, "reason") : "";
    int st = iotc_report_status_parse(iotc_report_str(c, "status"));
    double secs = json_number_value(json_object_get(c, "duration_ms")) / 1000.0;
    int rc = iotc_report_puts(b, "    <testcase classname=\"");
    if (rc == IOTC_OK)
        rc = iotc_report_xml_escape(b, iotc_report_str(c, "suite"));
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(b, '/');
    if (rc == IOTC_OK)
        rc = iotc_report_xml_escape(b, iotc_report_str(c, "row"));
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "\" name=\"");
    if (rc == IOTC_OK)
        rc = iotc_report_xml_escape(b, iotc_report_str(c, "id"));
    if (rc == IOTC_OK)
        rc = iotc_report_printf(b, "\" time=\"%.3f\"", secs);
    if (rc != IOTC_OK)
        return rc;
    if (st == IOTC_REPORT_PASSED && !iotc_report_case_warned(c))
        return iotc_report_puts(b, "/>\n");
    if ((rc = iotc_report_puts(b, ">\n")) != IOTC_OK)
        return rc;

    struct iotc_buf text = {0}, msg = {0};
    if (st == IOTC_REPORT_PASSED) {
        /* JUnit has no "passed with warnings": a passing test case whose verdict property
         * and output say what to fix. */
        rc = iotc_report_puts(b, "      <properties>\n        <property name=\"verdict\" "
                         "value=\"PASS_WITH_WARNINGS\"/>\n      </properties>\n"
                         "      <system-out>PASS_WITH_WARNINGS: ");
        if (rc == IOTC_OK)
            rc = iotc_report_xml_escape(b, reason);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</system-out>\n");
    } else if (st == IOTC_REPORT_SKIPPED) {
        rc = junit__element(b, "skipped", reason, NULL, NULL);
    } else {
        bool inconclusive = iotc_report_case_inconclusive(c);
        rc = junit__failure_text(c, &text);
        if (rc == IOTC_OK)
            rc = iotc_buf_u8(&text, 0);
        /* INCONCLUSIVE is an <error>: the case ran and showed nothing that passes, so CI must
         * not count it as passed or skipped; the type and message tell it from a crash. */
        if (rc == IOTC_OK && inconclusive)
            rc = iotc_report_printf(&msg, "INCONCLUSIVE: %s", reason);
        if (rc == IOTC_OK)
            rc = iotc_buf_u8(&msg, 0);
        if (rc == IOTC_OK)
            rc =
                st == IOTC_REPORT_FAILED
                    ? junit__element(b, "failure", reason, "mismatch", (const char *)text.p)
                    : junit__element(b, "error", inconclusive ? (const char *)msg.p : reason,
                                     inconclusive ? "inconclusive" : "error", (const char *)text.p);
        if (rc == IOTC_OK)
            rc = junit__journal(c, b);
    }
    iotc_buf_free(&text);
    iotc_buf_free(&msg);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "    </testcase>\n");
    return rc;
}

static int junit__counts_attrs(struct iotc_buf *b, const struct iotc_report_counts *c)
{
    return iotc_report_printf(
        b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"", c->total,
        c->n[IOTC_REPORT_FAILED], c->n[IOTC_REPORT_ERROR], c->n[IOTC_REPORT_SKIPPED], c->ms / 1000.0);
}

static int junit__properties(json_t *results, const struct iotc_report_counts *c, struct iotc_buf *b)
{
    json_t *run = json_object_get(results, "run");
    json_t *env = json_object_get(results, "environment");
    const char *key;
    json_t *v;
    int rc = iotc_report_puts(b, "    <properties>\n");
    /* The suite's counts as results.json totals has them: JUnit's own attributes cannot
     * tell PASS_WITH_WARNINGS from PASS, nor INCONCLUSIVE from an error. */
    const struct {
        const char *name;
        size_t n;
    } counts[] = {
        {"passed", iotc_report_counts_passed(c)},   {"passed_with_warnings", c->warned},
        {"failed", c->n[IOTC_REPORT_FAILED]},       {"skipped", c->n[IOTC_REPORT_SKIPPED]},
        {"errored", iotc_report_counts_errored(c)}, {"inconclusive", c->inconclusive},
    };
    for (size_t i = 0; rc == IOTC_OK && i < sizeof counts / sizeof counts[0]; i++)
        rc = iotc_report_printf(b, "      <property name=\"totals.%s\" value=\"%zu\"/>\n", counts[i].name,
                        counts[i].n);
    static const char *const run_keys[] = {"id", "kind", "tool_version", "git_revision", "command"};
    for (size_t i = 0; rc == IOTC_OK && i < sizeof run_keys / sizeof run_keys[0]; i++) {
        const char *s = iotc_report_str(run, run_keys[i]);
        if (!s)
            continue;
        rc = iotc_report_printf(b, "      <property name=\"run.%s\" value=\"", run_keys[i]);
        if (rc == IOTC_OK)
            rc = iotc_report_xml_escape(b, s);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "\"/>\n");
    }
    json_object_foreach(env, key, v)
    {
        if (rc != IOTC_OK)
            break;
        char *text = json_is_string(v) ? strdup(json_string_value(v)) : iotc_report_json_text(v);
        if (!text)
            return IOTC_ERR_NOMEM;
        rc = iotc_report_puts(b, "      <property name=\"");
        if (rc == IOTC_OK)
            rc = iotc_report_xml_escape(b, key);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "\" value=\"");
        if (rc == IOTC_OK)
            rc = iotc_report_xml_escape(b, text);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "\"/>\n");
        free(text);
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "    </properties>\n");
    return rc;
}

int iotc_report_junit(json_t *results, struct iotc_buf *out)
{
    struct iotc_report_matrix m;
    json_t *cases = json_object_get(results, "cases");
    json_t *run = json_object_get(results, "run");
    int rc = iotc_report_matrix_build(results, &m);
    if (rc != IOTC_OK)
        return rc;
    struct iotc_report_counts *per_suite = calloc(m.suites.n ? m.suites.n : 1, sizeof *per_suite);
    if (!per_suite) {
        rc = IOTC_ERR_NOMEM;
        goto cleanup;
    }
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *cs = iotc_report_str(c, "suite");
        int s = iotc_report_list_find(&m.suites, cs ? cs : "?");
        iotc_report_counts_add(&per_suite[s], c);
    }

    rc = iotc_report_puts(out,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"iotconform\"");
    if (rc == IOTC_OK)
        rc = junit__counts_attrs(out, &m.totals);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(out, ">\n");
    /* Suites are few (tens): one pass over the cases per suite keeps case order. */
    for (size_t s = 0; rc == IOTC_OK && s < m.suites.n; s++) {
        rc = iotc_report_puts(out, "  <testsuite name=\"");
        if (rc == IOTC_OK)
            rc = iotc_report_xml_escape(out, m.suites.v[s]);
        if (rc == IOTC_OK)
            rc = iotc_report_printf(out, "\" id=\"%zu\"", s);
        if (rc == IOTC_OK)
            rc = junit__counts_attrs(out, &per_suite[s]);
        if (rc == IOTC_OK && iotc_report_str(run, "started_at")) {
            rc = iotc_report_puts(out, " timestamp=\"");
            if (rc == IOTC_OK)
                rc = iotc_report_xml_escape(out, iotc_report_str(run, "started_at"));
            if (rc == IOTC_OK)
                rc = iotc_buf_u8(out, '"');
        }
        if (rc == IOTC_OK && iotc_report_str(run, "host")) {
            rc = iotc_report_puts(out, " hostname=\"");
            if (rc == IOTC_OK)
                rc = iotc_report_xml_escape(out, iotc_report_str(run, "host"));
            if (rc == IOTC_OK)
                rc = iotc_buf_u8(out, '"');
        }
        if (rc == IOTC_OK)
            rc = iotc_report_puts(out, ">\n");
        if (rc == IOTC_OK)
            rc = junit__properties(results, &per_suite[s], out);
        json_array_foreach(cases, i, c)
        {
            if (rc != IOTC_OK)
                break;
            const char *cs = iotc_report_str(c, "suite");
            if (strcmp(cs ? cs : "?", m.suites.v[s]) == 0)
                rc = junit__case(c, out);
        }
        if (rc == IOTC_OK)
            rc = iotc_report_puts(out, "  </testsuite>\n");
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(out, "</testsuites>\n");
cleanup:
    free(per_suite);
    iotc_report_matrix_free(&m);
    return rc;
}
