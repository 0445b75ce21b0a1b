/* Shared helpers of the report renderers (not part of the public API). */
#ifndef IOTC_REPORT_INTERNAL_H
#define IOTC_REPORT_INTERNAL_H

#include "report.h"
#include "common/errtext.h"

#include <stdbool.h>
#include <stddef.h>

enum iotc_report_status {
    IOTC_REPORT_PASSED,
    IOTC_REPORT_FAILED,
    IOTC_REPORT_SKIPPED,
    IOTC_REPORT_ERROR,
    IOTC_REPORT_STATUS_COUNT
};

/* -1 for a string that is not a status. */
int iotc_report_status_parse(const char *s);
const char *iotc_report_status_name(enum iotc_report_status s);

/* n[] counts statuses; warned (status passed, verdict PASS_WITH_WARNINGS) and inconclusive
 * (status error, verdict INCONCLUSIVE) are the parts of n[IOTC_REPORT_PASSED] and
 * n[IOTC_REPORT_ERROR] that every output shows as counts of their own. */
struct iotc_report_counts {
    size_t n[IOTC_REPORT_STATUS_COUNT];
    size_t warned, inconclusive;
    size_t total;
    double ms;
};

/* Counts one case (its status, verdict and duration). */
void iotc_report_counts_add(struct iotc_report_counts *c, json_t *kase);
size_t iotc_report_counts_passed(const struct iotc_report_counts *c); /* PASS only */
size_t
iotc_report_counts_errored(const struct iotc_report_counts *c); /* errors without INCONCLUSIVE */
bool iotc_report_case_warned(json_t *kase);
bool iotc_report_case_inconclusive(json_t *kase);

/* Distinct strings in first-appearance order (tables are small: rows, families, suites). */
struct iotc_report_list {
    const char **v;
    size_t n, cap;
};
int iotc_report_list_add(struct iotc_report_list *l, const char *s); /* index, or negative error */
int iotc_report_list_find(const struct iotc_report_list *l, const char *s);
void iotc_report_list_free(struct iotc_report_list *l);

/* rows x families, each cell counting its cases. */
struct iotc_report_matrix {
    struct iotc_report_list rows, fams, suites;
    struct iotc_report_counts *cells; /* rows.n * fams.n */
    /* rows.n * fams.n: the reason an empty cell does not apply (results.json
     * not_applicable, borrowed from the results), NULL when none was declared. */
    const char **na;
    struct iotc_report_counts totals;
};
int iotc_report_matrix_build(json_t *results, struct iotc_report_matrix *m);
void iotc_report_matrix_free(struct iotc_report_matrix *m);
struct iotc_report_counts *iotc_report_matrix_cell(const struct iotc_report_matrix *m, size_t row,
                                                   size_t fam);
const char *iotc_report_matrix_na(const struct iotc_report_matrix *m, size_t row, size_t fam);

/* Case field accessors with the schema's defaults. */
const char *iotc_report_str(json_t *obj, const char *key); /* NULL if absent or not a string */
const char *iotc_report_case_family(json_t *c);            /* "other" if absent */
/* Pass rate in percent: PASS (not PASS_WITH_WARNINGS) over the cases that ran (skips
 * excluded); < 0 if none ran. */
double iotc_report_pass_rate(const struct iotc_report_counts *c);
/* Compact JSON text of any value (malloc'ed; NULL on failure). */
char *iotc_report_json_text(json_t *v);
/* New totals object from the counts: disjoint counts that add up to total. */
json_t *iotc_report_totals_json(const struct iotc_report_counts *c);

int iotc_report_printf(struct iotc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int iotc_report_puts(struct iotc_buf *b, const char *s);
/* XML 1.0 text or attribute: escapes markup, replaces characters XML cannot hold. */
int iotc_report_xml_escape(struct iotc_buf *b, const char *s);
int iotc_report_html_escape(struct iotc_buf *b, const char *s);
/* Markdown inline text inside a table cell: no pipes, no line breaks, no markup. */
int iotc_report_md_escape(struct iotc_buf *b, const char *s, size_t max_chars);

void iotc_report_err(iotc_errtext *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* HTML report parts (html_env.c): the summary line under the title and the
 * run / target / environment tables. */
int iotc_report_html_meta(json_t *results, struct iotc_buf *b);
int iotc_report_html_environment(json_t *results, struct iotc_buf *b);
/* Certification runs: the per-device verdict page (html_cert.c); nothing otherwise. */
int iotc_report_html_certification(json_t *results, struct iotc_buf *b);

/* Asset access (generated header, see assets/embed.cmake). */
const char *iotc_report_asset(const char *name);

#endif
