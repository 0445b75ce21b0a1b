/* Unit tests for sim/report: validation, merging and the four outputs. */
#include "report/report.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA IOTC_SOURCE_DIR "/tests/unit/data/report/"
#define OUT  IOTC_BINARY_DIR "/test_report_out/"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static char *slurp2(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return slurp(path);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = hay; p && (p = strstr(p, needle)); p += l)
        n++;
    return n;
}

/* Value of attr="N" in the first element starting with tag. */
static long xml_attr(const char *xml, const char *tag, const char *attr)
{
    const char *t = strstr(xml, tag);
    if (!t)
        return -1;
    const char *end = strchr(t, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *a = strstr(t, key);
    if (!a || (end && a > end))
        return -1;
    return strtol(a + strlen(key), NULL, 10);
}

static bool have_xmllint(void)
{
    return system("command -v xmllint >/dev/null 2>&1") == 0;
}

static void check_xmllint(const char *dir)
{
    if (!have_xmllint())
        return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s/junit.xml'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* No external resource may be referenced by the page structure. */
static void check_self_contained(const char *html)
{
    static const char *const bad[] = {
        "src=\"http:", "src=\"https:", "href=\"http:", "href=\"https:", "src='http", "href='http",
        "url(http",    "url(\"http",   "@import",      "src=\"//",      "href=\"//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_NULL(strstr(html, bad[i]));
    /* and nothing outside the data blob mentions a URL at all */
    const char *blob = strstr(html, "id=\"results-data\">");
    CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
    char *head = strndup(html, (size_t)(blob - html));
    CU_ASSERT_PTR_NULL(strstr(head, "http://"));
    CU_ASSERT_PTR_NULL(strstr(head, "https://"));
    free(head);
}

static void test_render_one(void)
{
    const char *paths[] = {DATA "shard_a.json"};
    iotc_errtext err = {0};
    const char *dir = OUT "one";
    int rc = iotc_report_render(paths, 1, dir, &err);
    CU_ASSERT_EQUAL_FATAL(rc, IOTC_OK);
    CU_ASSERT_STRING_EQUAL(err.msg, "");

    char *junit = slurp2(dir, "junit.xml");
    CU_ASSERT_PTR_NOT_NULL_FATAL(junit);
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "tests"), 6);
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "failures"), 1);
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "errors"), 1);
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "skipped"), 1);
    CU_ASSERT_EQUAL(count(junit, "<testsuite "), 3); /* x509, alpn, https */
    CU_ASSERT_EQUAL(count(junit, "<testcase "), 6);
    CU_ASSERT_EQUAL(count(junit, "<failure "), 1);
    CU_ASSERT_EQUAL(count(junit, "<skipped "), 1);
    CU_ASSERT_EQUAL(count(junit, "<error "), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(junit, "classname=\"x509/mqtt-x509-8883\" "
                                         "name=\"x509.sni-missing.mqtt-x509-8883.ipv4.tls12\""));
    /* every mismatch is listed, escaped */
    CU_ASSERT_PTR_NOT_NULL(strstr(junit, "handshake: expected &quot;refused&quot;, observed "
                                         "&quot;accepted&quot;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(junit, "alert: expected &quot;handshake_failure&quot;, "
                                         "observed null"));
    CU_ASSERT_PTR_NOT_NULL(strstr(junit, "&lt;/script&gt;&lt;!-- x"));
    CU_ASSERT_PTR_NULL(strstr(junit, "\x01")); /* not representable in XML 1.0 */
    CU_ASSERT_PTR_NOT_NULL(strstr(junit, "driver crashed: \xEF\xBF\xBD control &amp; &lt;tag&gt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(junit, "<property name=\"openssl\""));
    check_xmllint(dir);

    char *html = slurp2(dir, "report.html");
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    CU_ASSERT_EQUAL(count(html, "class=\"case-cell "), 6);
    CU_ASSERT_EQUAL(count(html, "data-case-id=\""), 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "data-case-id=\"alpn.none.mqtt-x509-443.ipv6.tls13\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<script type=\"application/json\" id=\"results-data\">"));
    /* the blob cannot close its own element: only the two real </script> tags exist */
    CU_ASSERT_EQUAL(count(html, "</script>"), 2);
    CU_ASSERT_EQUAL(count(html, "<!--"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<\\/script>\\u003c!-- x"));
    CU_ASSERT_PTR_NULL(strstr(html, "{{"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Pass rate 60.0%")); /* 3 of 5 that ran */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "IoTSecurityPolicy_TLS13_1_2_2022_10"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"detail\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"f-status\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"f-row\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"f-suite\""));
    /* titles are escaped in attributes */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "&lt;b&gt;pipes&lt;/b&gt; &amp; &quot;quotes&quot;"));
    check_self_contained(html);
    /* the embedded blob is the merged results and parses back */
    const char *blob = strstr(html, "id=\"results-data\">") + strlen("id=\"results-data\">");
    const char *end = strstr(blob, "</script>");
    json_error_t je;
    json_t *j = json_loadb(blob, (size_t)(end - blob), 0, &je);
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "cases")), 6);
    json_decref(j);

    char *md = slurp2(dir, "summary.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(md, "**6 cases**: ✅ 3 passed · ❌ 1 failed · ⏭ 1 skipped · ⚠️ 1 error"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "pass rate 60.0%"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| row | sni | alpn | https |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| mqtt-x509-8883 | ❌ 1/2 | · | · |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| mqtt-x509-443 | · | ✅ 1/1 +1⏭ | · |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "### Failures (2)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "x509.sni-missing.mqtt-x509-8883.ipv4.tls12"));
    /* a pipe in a title must not split the table or list */
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "refused \\| &lt;b&gt;pipes&lt;/b&gt;"));

    char *res = slurp2(dir, "results.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    j = json_loads(res, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(iotc_report_validate(j, "merged", &err), IOTC_OK);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "totals"), "passed")), 3);
    CU_ASSERT_PTR_NULL(json_object_get(j, "shards"));
    json_decref(j);
    free(res);
    free(md);
    free(html);
    free(junit);
}

static void test_merge_two(void)
{
    const char *paths[] = {DATA "shard_a.json", DATA "shard_b.json"};
    iotc_errtext err = {0};
    const char *dir = OUT "merged";
    CU_ASSERT_EQUAL_FATAL(iotc_report_render(paths, 2, dir, &err), IOTC_OK);
    char *res = slurp2(dir, "results.json");
    json_error_t je;
    json_t *j = json_loads(res, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    json_t *t = json_object_get(j, "totals");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "total")), 9);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "passed")), 5);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "failed")), 2);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "shards")), 2);
    json_t *run = json_object_get(j, "run");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(run, "started_at")),
                           "2026-11-22T01:59:00.000Z");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(run, "finished_at")),
                           "2026-11-22T02:00:09.000Z");
    CU_ASSERT_EQUAL(iotc_report_validate(j, "merged", &err), IOTC_OK);
    json_decref(j);
    char *junit = slurp2(dir, "junit.xml");
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "tests"), 9);
    CU_ASSERT_EQUAL(count(junit, "<testsuite "), 4);
    check_xmllint(dir);
    char *html = slurp2(dir, "report.html");
    CU_ASSERT_EQUAL(count(html, "class=\"case-cell "), 9);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Merged from"));
    free(html);
    free(junit);
    free(res);
}

/* Renders and expects failure; err must name every file in want. */
static void expect_fail(const char *const *paths, size_t n, int code, const char *want1,
                        const char *want2, const char *what)
{
    iotc_errtext err = {0};
    int rc = iotc_report_render(paths, n, OUT "fail", &err);
    CU_ASSERT_EQUAL(rc, code);
    if (want1)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want1));
    if (want2)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want2));
    if (what)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, what));
    if (rc != code || (want1 && !strstr(err.msg, want1)) || (want2 && !strstr(err.msg, want2)) ||
        (what && !strstr(err.msg, what)))
        fprintf(stderr, "\n  rc %d err: %s\n", rc, err.msg);
}

static void test_errors(void)
{
    const char *trunc[] = {DATA "truncated.json"};
    expect_fail(trunc, 1, IOTC_ERR_MALFORMED, "truncated.json", NULL, "not valid JSON");
    const char *empty[] = {DATA "empty.json"};
    expect_fail(empty, 1, IOTC_ERR_MALFORMED, "empty.json", NULL, "empty");
    const char *v2[] = {DATA "version2.json"};
    expect_fail(v2, 1, IOTC_ERR_UNSUPPORTED, "version2.json", NULL, "schema_version 2");
    const char *mixed[] = {DATA "shard_a.json", DATA "version2.json"};
    expect_fail(mixed, 2, IOTC_ERR_UNSUPPORTED, "version2.json", "shard_a.json",
                "different versions");
    const char *dup[] = {DATA "duplicate_ids.json"};
    expect_fail(dup, 1, IOTC_ERR_MALFORMED, "duplicate_ids.json", NULL,
                "duplicate case id \"x509.sni-present.mqtt-x509-8883.ipv4.tls12\"");
    const char *overlap[] = {DATA "shard_b.json", DATA "overlap_b.json"};
    expect_fail(overlap, 2, IOTC_ERR_MALFORMED, "overlap_b.json", "shard_b.json", "duplicate");
    const char *title[] = {DATA "missing_title.json"};
    expect_fail(title, 1, IOTC_ERR_MALFORMED, "missing_title.json", NULL, "\"title\"");
    const char *missing[] = {DATA "does_not_exist.json"};
    expect_fail(missing, 1, IOTC_ERR_IO, "does_not_exist.json", NULL, "cannot open");
}

/* A minimal valid document with n cases; status cycles through the list. */
static json_t *synth(size_t n, const char *const *statuses, size_t nst)
{
    json_t *cases = json_array();
    for (size_t i = 0; i < n; i++) {
        char id[64], row[32], fam[32], suite[32];
        snprintf(suite, sizeof suite, "s%zu", i % 7);
        snprintf(id, sizeof id, "%s.case-%05zu", suite, i);
        snprintf(row, sizeof row, "row-%zu", i % 9);
        snprintf(fam, sizeof fam, "fam-%zu", i % 11);
        json_array_append_new(cases, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "id", id,
                                               "title", "synthetic", "suite", suite, "row", row,
                                               "family", fam, "status", statuses[i % nst], "reason",
                                               "synthetic reason", "duration_ms", 1.0));
    }
    return json_pack("{s:s, s:i, s:{s:s, s:s, s:s}, s:o}", "schema", "iotconform-results",
                     "schema_version", 1, "run", "id", "synthetic", "kind", "conformance",
                     "tool_version", "0.1.0", "cases", cases);
}

static void test_render_json_in_memory(void)
{
    static const char *const st[] = {"passed", "failed", "skipped", "error"};
    json_t *doc = synth(8, st, 4);
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL(iotc_report_render_json(doc, OUT "memory", &err), IOTC_OK);
    /* the caller's object is left alone */
    CU_ASSERT_PTR_NULL(json_object_get(doc, "totals"));
    char *junit = slurp2(OUT "memory", "junit.xml");
    CU_ASSERT_PTR_NOT_NULL_FATAL(junit);
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "tests"), 8);
    CU_ASSERT_EQUAL(xml_attr(junit, "<testsuites", "failures"), 2);
    free(junit);
    /* invalid in-memory input is refused with a name */
    json_object_set_new(doc, "schema_version", json_integer(7));
    CU_ASSERT_EQUAL(iotc_report_render_json(doc, OUT "memory", &err), IOTC_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "<in-memory results>"));
    json_decref(doc);
}

static void test_validation_details(void)
{
    static const char *const st[] = {"passed"};
    iotc_errtext err = {0};
    json_t *doc = synth(2, st, 1);
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "x.json", &err), IOTC_OK);
    json_object_set_new(json_array_get(json_object_get(doc, "cases"), 1), "status",
                        json_string("PASS"));
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "x.json", &err), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "x.json: cases[1]"));
    json_decref(doc);

    doc = synth(2, st, 1);
    json_object_set_new(doc, "totals", json_pack("{s:i, s:i}", "total", 2, "passed", 1));
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "x.json", &err), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "totals.passed"));
    json_decref(doc);

    doc = synth(1, st, 1);
    json_t *journal = json_array();
    for (int i = 0; i < 51; i++)
        json_array_append_new(journal, json_pack("{s:f, s:s}", "t_ms", (double)i, "event", "x"));
    json_object_set_new(json_array_get(json_object_get(doc, "cases"), 0), "journal", journal);
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "x.json", &err), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "journal"));
    json_decref(doc);

    doc = synth(1, st, 1);
    json_object_set_new(doc, "schema", json_string("something-else"));
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "x.json", &err), IOTC_ERR_MALFORMED);
    json_decref(doc);
    json_t *arr = json_array();
    CU_ASSERT_EQUAL(iotc_report_validate(arr, "arr.json", &err), IOTC_ERR_MALFORMED);
    json_decref(arr);
}

static void test_summary_caps_failures(void)
{
    static const char *const st[] = {"failed"};
    json_t *doc = synth(60, st, 1);
    struct iotc_buf b = {0};
    CU_ASSERT_EQUAL(iotc_report_summary_md(doc, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    const char *md = (const char *)b.p;
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "### Failures (60)"));
    CU_ASSERT_EQUAL(count(md, "\n- ❌ **"), 50);
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "and 10 more"));
    iotc_buf_free(&b);
    json_decref(doc);
}

/* A declared N/A cell shows "N/A" and its reason where the cell is empty; a cell with
 * cases, or a row/family the run does not have, ignores the declaration. */
static void test_not_applicable_cells(void)
{
    static const char *const st[] = {"passed"};
    json_t *doc = synth(2, st, 1); /* (row-0, fam-0) and (row-1, fam-1) */
    json_object_set_new(
        doc, "not_applicable",
        json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "suite",
                  "s0", "family", "fam-1", "row", "row-0", "reason", "fam-1 cannot apply to row-0",
                  "suite", "s0", "family", "fam-0", "row", "row-0", "reason",
                  "ignored: the cell has a case", "suite", "s0", "family", "fam-0", "row", "row-99",
                  "reason", "ignored: no such row in the run"));
    struct iotc_buf b = {0};
    CU_ASSERT_EQUAL(iotc_report_summary_md(doc, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    const char *md = (const char *)b.p;
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| row-0 | ✅ 1/1 | N/A (1) |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| row-1 | · | ✅ 1/1 |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "1. fam-1 cannot apply to row-0\n"));
    CU_ASSERT_PTR_NULL(strstr(md, "ignored"));
    CU_ASSERT_PTR_NULL(strstr(md, "row-99"));
    iotc_buf_free(&b);
    memset(&b, 0, sizeof b);
    CU_ASSERT_EQUAL(iotc_report_html(doc, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(
        (const char *)b.p, "<td class=\"agg na\" title=\"fam-1 cannot apply to row-0\">N/A"));
    iotc_buf_free(&b);
    json_decref(doc);
}

static void test_many_cases(void)
{
    static const char *const st[] = {"passed", "passed", "passed", "failed", "skipped"};
    json_t *doc = synth(5000, st, 5);
    struct iotc_buf b = {0};
    CU_ASSERT_EQUAL(iotc_report_html(doc, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    CU_ASSERT_EQUAL(count((const char *)b.p, "class=\"case-cell "), 5000);
    /* simple DOM: about one element per case, so the page stays light */
    CU_ASSERT(b.len < 5000 * 600);
    iotc_buf_free(&b);
    json_decref(doc);
}

/* A certification document: 20 PASS, 2 PASS_WITH_WARNINGS, 1 FAIL, 1 INCONCLUSIVE, in two
 * suites (the observed bug: "22 passed" and "pass rate 100%" with warnings inside). */
static json_t *cert_doc(void)
{
    json_t *cases = json_array();
    for (int i = 0; i < 24; i++) {
        const char *v = i < 20   ? "PASS"
                        : i < 22 ? "PASS_WITH_WARNINGS"
                        : i < 23 ? "FAIL"
                                 : "INCONCLUSIVE";
        const char *st = i < 22 ? "passed" : i < 23 ? "failed" : "error";
        char id[64], reason[128];
        snprintf(id, sizeof id, "dev.Case_%02d", i);
        snprintf(reason, sizeof reason, "%s reason %d", v, i);
        json_array_append_new(cases, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f}",
                                               "id", id, "title", "t", "suite",
                                               i % 2 ? "qualification" : "certification", "row",
                                               "dev", "family", "mqtt", "status", st, "verdict", v,
                                               "reason", reason, "duration_ms", 1.0));
    }
    return json_pack("{s:s, s:i, s:{s:s, s:s, s:s}, s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:o}",
                     "schema", "iotconform-results", "schema_version", 1, "run", "id", "c", "kind",
                     "certification", "tool_version", "0.1.0", "verdicts", "PASS", 22,
                     "PASS_WITH_WARNINGS", 0, "FAIL", 1, "ERROR", 0, "SKIPPED", 0, "INCONCLUSIVE",
                     0, "cases", cases);
}

static void test_warnings_counted_apart(void)
{
    json_t *doc = cert_doc(), *merged = NULL;
    iotc_errtext err = {0};
    struct iotc_buf b = {0};

    /* summary.md (and so the GitHub step summary): its own count, pass rate PASS only */
    CU_ASSERT_EQUAL(iotc_report_summary_md(doc, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    const char *md = (const char *)b.p;
    CU_ASSERT_PTR_NOT_NULL(
        strstr(md, "**24 cases**: ✅ 20 passed · ☑️ 2 passed with warnings · "
                   "❌ 1 failed · ⏭ 0 skipped · ⚠️ 0 error · ❔ 1 inconclusive"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "pass rate 83.3%")); /* 20 / 24 */
    CU_ASSERT_PTR_NULL(strstr(md, "22 passed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| dev | ❌ 20/24 +2☑️ (1 ❔) |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "- ❔ **dev.Case\\_23**"));
    iotc_buf_free(&b);

    /* totals: disjoint counts; the stale "verdicts" of the writer is recounted */
    const char *name = "c.json";
    CU_ASSERT_EQUAL_FATAL(iotc_report_merge(&doc, &name, 1, &merged, &err), IOTC_OK);
    json_t *t = json_object_get(merged, "totals");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "passed")), 20);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "passed_with_warnings")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "errored")), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t, "inconclusive")), 1);
    json_t *v = json_object_get(merged, "verdicts");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "PASS")), 20);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "PASS_WITH_WARNINGS")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "INCONCLUSIVE")), 1);
    /* the merged document validates; totals from an older writer (warnings inside passed,
     * no split keys) still do, and split totals that lump warnings into passed do not */
    CU_ASSERT_EQUAL(iotc_report_validate(merged, "m.json", &err), IOTC_OK);
    json_object_set_new(doc, "totals",
                        json_pack("{s:i, s:i, s:i}", "total", 24, "passed", 22, "errored", 1));
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "old.json", &err), IOTC_OK);
    json_object_set_new(
        doc, "totals",
        json_pack("{s:i, s:i, s:i}", "total", 24, "passed", 22, "passed_with_warnings", 2));
    CU_ASSERT_EQUAL(iotc_report_validate(doc, "new.json", &err), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err.msg, "totals.passed does not match the cases (they count 20)"));
    json_object_del(doc, "totals");

    /* HTML headline: pills of their own, pass rate PASS only */
    CU_ASSERT_EQUAL(iotc_report_html(merged, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    const char *html = (const char *)b.p;
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "st-passed\">✓ <b>20</b> passed</span>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "st-warned\">✓! <b>2</b> passed with warnings</span>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "st-inconclusive\">? <b>1</b> inconclusive</span>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Pass rate 83.3%"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "1 INCONCLUSIVE</span>"));
    iotc_buf_free(&b);

    /* JUnit: suite properties count apart; a warning is a passing case that says so; an
     * INCONCLUSIVE is an <error type="inconclusive"> (never passed, never skipped) */
    CU_ASSERT_EQUAL(iotc_report_junit(merged, &b), IOTC_OK);
    iotc_buf_u8(&b, 0);
    const char *xml = (const char *)b.p;
    CU_ASSERT_EQUAL(xml_attr(xml, "<testsuites", "errors"), 1);
    CU_ASSERT_EQUAL(xml_attr(xml, "<testsuites", "skipped"), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(xml, "<property name=\"totals.passed_with_warnings\" value=\"1\"/>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<property name=\"totals.passed\" value=\"10\"/>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<property name=\"totals.inconclusive\" value=\"1\"/>"));
    CU_ASSERT_EQUAL(count(xml, "<property name=\"verdict\" value=\"PASS_WITH_WARNINGS\"/>"), 2);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(xml, "<system-out>PASS_WITH_WARNINGS: PASS_WITH_WARNINGS reason 21</system-out>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        xml, "<error message=\"INCONCLUSIVE: INCONCLUSIVE reason 23\" type=\"inconclusive\">"));
    iotc_buf_free(&b);
    json_decref(merged);
    json_decref(doc);
}

static void test_main(void)
{
    char *ok[] = {"report", "-o", OUT "cli", DATA "shard_a.json", NULL};
    CU_ASSERT_EQUAL(iotc_report_main(4, ok), 0);
    struct stat s;
    CU_ASSERT_EQUAL(stat(OUT "cli/report.html", &s), 0);
    char *none[] = {"report", NULL};
    CU_ASSERT_EQUAL(iotc_report_main(1, none), 2);
    char *bad[] = {"report", "-o", OUT "cli", DATA "empty.json", NULL};
    CU_ASSERT_EQUAL(iotc_report_main(4, bad), 1);
    char *opt[] = {"report", "--bogus", NULL};
    CU_ASSERT_EQUAL(iotc_report_main(2, opt), 2);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("report", NULL, NULL);
    if (!s)
        return -1;
    struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"render one shard", test_render_one},
        {"merge two shards", test_merge_two},
        {"errors name the file", test_errors},
        {"render in-memory results", test_render_json_in_memory},
        {"validation details", test_validation_details},
        {"summary caps failures at 50", test_summary_caps_failures},
        {"not applicable cells", test_not_applicable_cells},
        {"5000 cases", test_many_cases},
        {"warnings and inconclusive counted apart", test_warnings_counted_apart},
        {"report command", test_main},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
