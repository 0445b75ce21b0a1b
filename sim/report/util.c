/* Escaping, formatting and small lookups shared by the renderers. */
#include "report_internal.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

static const char *const util__status_names[IOTC_REPORT_STATUS_COUNT] = {"passed", "failed",
                                                                         "skipped", "error"};

int iotc_report_status_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < IOTC_REPORT_STATUS_COUNT; i++)
        if (strcmp(s, util__status_names[i]) == 0)
            return i;
    return -1;
}

const char *iotc_report_status_name(enum iotc_report_status s)
{
    return (unsigned)s < IOTC_REPORT_STATUS_COUNT ? util__status_names[s] : "error";
}

int iotc_report_list_find(const struct iotc_report_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return (int)i;
    return -1;
}

int iotc_report_list_add(struct iotc_report_list *l, const char *s)
{
    int i = iotc_report_list_find(l, s);
    if (i >= 0)
        return i;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        const char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return IOTC_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = s;
    return (int)l->n++;
}

void iotc_report_list_free(struct iotc_report_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

const char *iotc_report_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

const char *iotc_report_case_family(json_t *c)
{
    const char *f = iotc_report_str(c, "family");
    return f && *f ? f : "other";
}

static bool util__verdict_is(json_t *c, const char *status, const char *verdict)
{
    const char *st = iotc_report_str(c, "status"), *v = iotc_report_str(c, "verdict");
    return st && v && strcmp(st, status) == 0 && strcmp(v, verdict) == 0;
}

bool iotc_report_case_warned(json_t *kase)
{
    return util__verdict_is(kase, "passed", "PASS_WITH_WARNINGS");
}

bool iotc_report_case_inconclusive(json_t *kase)
{
    return util__verdict_is(kase, "error", "INCONCLUSIVE");
}

void iotc_report_counts_add(struct iotc_report_counts *c, json_t *kase)
{
    int st = iotc_report_status_parse(iotc_report_str(kase, "status"));
    c->n[st < 0 ? IOTC_REPORT_ERROR : st]++;
    c->warned += iotc_report_case_warned(kase);
    c->inconclusive += iotc_report_case_inconclusive(kase);
    c->total++;
    c->ms += json_number_value(json_object_get(kase, "duration_ms"));
}

size_t iotc_report_counts_passed(const struct iotc_report_counts *c)
{
    return c->n[IOTC_REPORT_PASSED] - c->warned;
}

size_t iotc_report_counts_errored(const struct iotc_report_counts *c)
{
    return c->n[IOTC_REPORT_ERROR] - c->inconclusive;
}

double iotc_report_pass_rate(const struct iotc_report_counts *c)
{
    size_t ran = c->total - c->n[IOTC_REPORT_SKIPPED];
    if (ran == 0)
        return -1.0;
    return 100.0 * (double)iotc_report_counts_passed(c) / (double)ran;
}

char *iotc_report_json_text(json_t *v)
{
    if (!v)
        return strdup("null");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *iotc_report_totals_json(const struct iotc_report_counts *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)c->total, "passed",
                     (json_int_t)iotc_report_counts_passed(c), "passed_with_warnings",
                     (json_int_t)c->warned, "failed", (json_int_t)c->n[IOTC_REPORT_FAILED],
                     "skipped", (json_int_t)c->n[IOTC_REPORT_SKIPPED], "errored",
                     (json_int_t)iotc_report_counts_errored(c), "inconclusive",
                     (json_int_t)c->inconclusive);
}

int iotc_report_printf(struct iotc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = iotc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int iotc_report_puts(struct iotc_buf *b, const char *s)
{
    return iotc_buf_append(b, s, strlen(s));
}

/* The five markup characters; XML names the apostrophe, HTML 4 readers need the number. */
static const char *util__entity(unsigned char c, bool xml)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return xml ? "&apos;" : "&#39;";
    default:
        return NULL;
    }
}

int iotc_report_xml_escape(struct iotc_buf *b, const char *s)
{
    int rc = IOTC_OK;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (; *p && rc == IOTC_OK; p++) {
        const char *ent = util__entity(*p, true);
        if (ent) {
            rc = iotc_report_puts(b, ent);
            continue;
        }
        switch (*p) {
        /* Character references keep line breaks intact inside attributes. */
        case '\n':
            rc = iotc_report_puts(b, "&#10;");
            break;
        case '\r':
            rc = iotc_report_puts(b, "&#13;");
            break;
        case '\t':
            rc = iotc_report_puts(b, "&#9;");
            break;
        default:
            if (*p < 0x20) {
                /* Not allowed in XML 1.0 at all, not even as a reference. */
                rc = iotc_report_puts(b, "\xEF\xBF\xBD");
            } else if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
                rc = iotc_report_puts(b, "\xEF\xBF\xBD"); /* U+FFFE / U+FFFF */
                p += 2;
            } else {
                rc = iotc_buf_u8(b, *p);
            }
        }
    }
    return rc;
}

int iotc_report_html_escape(struct iotc_buf *b, const char *s)
{
    int rc = IOTC_OK;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (; *p && rc == IOTC_OK; p++) {
        const char *ent = util__entity(*p, false);
        rc = ent ? iotc_report_puts(b, ent) : iotc_buf_u8(b, *p);
    }
    return rc;
}

int iotc_report_md_escape(struct iotc_buf *b, const char *s, size_t max_chars)
{
    int rc = IOTC_OK;
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (; *p && rc == IOTC_OK; p++) {
        /* count code points, not bytes, so a cut never splits a UTF-8 sequence */
        if ((*p & 0xC0) != 0x80 && max_chars && ++chars > max_chars) {
            rc = iotc_report_puts(b, "…");
            break;
        }
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            rc = iotc_buf_u8(b, ' ');
        } else if (*p < 0x20) {
            continue;
        } else if (strchr("\\|`*_[]<>#~&", *p)) {
            /* '<' and '&' are escaped as HTML since GitHub renders inline HTML */
            if (*p == '<')
                rc = iotc_report_puts(b, "&lt;");
            else if (*p == '>')
                rc = iotc_report_puts(b, "&gt;");
            else if (*p == '&')
                rc = iotc_report_puts(b, "&amp;");
            else {
                rc = iotc_buf_u8(b, '\\');
                if (rc == IOTC_OK)
                    rc = iotc_buf_u8(b, *p);
            }
        } else {
            rc = iotc_buf_u8(b, *p);
        }
    }
    return rc;
}

void iotc_report_err(iotc_errtext *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    iotc_errtext_vset(err, 0, fmt, ap);
    va_end(ap);
}
