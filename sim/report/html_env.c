/*
 * The "what ran where" parts of the HTML report: a one-line summary under the
 * title (so a screenshot or a glance tells which build and target it was) and the
 * run / target / environment tables. Values may be any JSON: nested objects (ports,
 * per-profile settings) become nested tables instead of one long line of JSON.
 */
#include "report_internal.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper values are shown as JSON text: the tables stay readable. */
#define ENV_MAX_DEPTH 2

static int env__value(struct iotc_buf *b, json_t *v, int depth);

static int env__rows(struct iotc_buf *b, json_t *obj, int depth)
{
    const char *key;
    json_t *v;
    int rc = IOTC_OK;
    json_object_foreach(obj, key, v)
    {
        rc = iotc_report_puts(b, "<tr><th>");
        if (rc == IOTC_OK)
            rc = iotc_report_html_escape(b, key);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</th><td>");
        if (rc == IOTC_OK)
            rc = env__value(b, v, depth);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</td></tr>\n");
        if (rc != IOTC_OK)
            break;
    }
    return rc;
}

static int env__value(struct iotc_buf *b, json_t *v, int depth)
{
    if (json_is_string(v))
        return iotc_report_html_escape(b, json_string_value(v));
    if (json_is_object(v) && json_object_size(v) && depth < ENV_MAX_DEPTH) {
        int rc = iotc_report_puts(b, "<table class=\"kv sub\">");
        if (rc == IOTC_OK)
            rc = env__rows(b, v, depth + 1);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</table>");
        return rc;
    }
    char *text = iotc_report_json_text(v);
    if (!text)
        return IOTC_ERR_NOMEM;
    int rc = iotc_report_html_escape(b, text);
    free(text);
    return rc;
}

static int env__group(struct iotc_buf *b, const char *title, json_t *obj)
{
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return IOTC_OK;
    int rc = iotc_report_printf(b, "<div class=\"env-group\"><h3>%s</h3><table class=\"kv\">\n", title);
    if (rc == IOTC_OK)
        rc = env__rows(b, obj, 0);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</table></div>\n");
    return rc;
}

static int env__shards(struct iotc_buf *b, json_t *shards)
{
    if (json_array_size(shards) == 0)
        return IOTC_OK;
    int rc = iotc_report_puts(b, "<div class=\"env-group\"><h3>Merged from</h3><table class=\"kv\">\n");
    size_t i;
    json_t *s;
    json_array_foreach(shards, i, s)
    {
        if (rc == IOTC_OK)
            rc = iotc_report_printf(b, "<tr><th>shard %zu</th><td>", i + 1);
        if (rc == IOTC_OK)
            rc = env__value(b, s, 0);
        if (rc == IOTC_OK)
            rc = iotc_report_puts(b, "</td></tr>\n");
        if (rc != IOTC_OK)
            break;
    }
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</table></div>\n");
    return rc;
}

int iotc_report_html_environment(json_t *results, struct iotc_buf *b)
{
    int rc = iotc_report_puts(b, "<div class=\"env\">\n");
    if (rc == IOTC_OK)
        rc = env__group(b, "Run", json_object_get(results, "run"));
    if (rc == IOTC_OK)
        rc = env__group(b, "Target", json_object_get(results, "target"));
    if (rc == IOTC_OK)
        rc = env__group(b, "Environment", json_object_get(results, "environment"));
    if (rc == IOTC_OK)
        rc = env__shards(b, json_object_get(results, "shards"));
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</div>\n");
    return rc;
}

/* One "label value" item of the summary line; absent values are left out. */
static int env__item(struct iotc_buf *b, const char *label, const char *value, bool *first)
{
    if (!value || !*value)
        return IOTC_OK;
    int rc = iotc_report_puts(b, *first ? "<span>" : "<span class=\"sep\">·</span><span>");
    if (rc == IOTC_OK && label)
        rc = iotc_report_printf(b, "<span class=\"k\">%s</span> ", label);
    if (rc == IOTC_OK)
        rc = iotc_report_html_escape(b, value);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</span>");
    *first = false;
    return rc;
}

int iotc_report_html_meta(json_t *results, struct iotc_buf *b)
{
    json_t *run = json_object_get(results, "run");
    json_t *target = json_object_get(results, "target");
    json_t *env = json_object_get(results, "environment");
    char started[32] = "", duration[32] = "", tool[96] = "", where[160] = "";
    const char *s = iotc_report_str(run, "started_at");
    /* "2026-11-22T02:00:00.000Z" -> "2026-11-22 02:00:00 UTC" */
    if (s && strlen(s) >= 19)
        snprintf(started, sizeof started, "%.10s %.8s UTC", s, s + 11);
    json_t *d = json_object_get(run, "duration_ms");
    if (json_is_number(d) && json_number_value(d) >= 0)
        snprintf(duration, sizeof duration, "%.1f s", json_number_value(d) / 1000.0);
    const char *ver = iotc_report_str(run, "tool_version"), *rev = iotc_report_str(run, "git_revision");
    if (ver)
        snprintf(tool, sizeof tool, "%.40s%s%.40s%s", ver, rev ? " (" : "", rev ? rev : "",
                 rev ? ")" : "");
    const char *tk = iotc_report_str(target, "kind"), *th = iotc_report_str(target, "host");
    if (tk)
        snprintf(where, sizeof where, "%.40s%s%.100s", tk, th ? " " : "", th ? th : "");

    bool first = true;
    int rc = iotc_report_puts(b, "<p class=\"meta\">");
    if (rc == IOTC_OK)
        rc = env__item(b, "target", where, &first);
    if (rc == IOTC_OK)
        rc = env__item(b, "started", started, &first);
    if (rc == IOTC_OK)
        rc = env__item(b, "took", duration, &first);
    if (rc == IOTC_OK)
        rc = env__item(b, "iotconform", tool, &first);
    if (rc == IOTC_OK)
        rc = env__item(b, "policy", iotc_report_str(env, "security_policy"), &first);
    if (rc == IOTC_OK)
        rc = env__item(b, NULL, iotc_report_str(env, "openssl"), &first);
    if (rc == IOTC_OK)
        rc = env__item(b, "mosquitto", iotc_report_str(env, "mosquitto"), &first);
    if (rc == IOTC_OK)
        rc = iotc_report_puts(b, "</p>\n");
    return rc;
}
