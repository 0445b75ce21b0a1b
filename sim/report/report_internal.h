/* Shared helpers of the report renderers (not part of the public API). */
#ifndef IOTC_REPORT_INTERNAL_H
#define IOTC_REPORT_INTERNAL_H

#include "report.h"

#include <stdbool.h>
#include <stddef.h>

enum rep_status { REP_PASSED, REP_FAILED, REP_SKIPPED, REP_ERROR, REP_STATUS_COUNT };

/* -1 for a string that is not a status. */
int rep_status_parse(const char *s);
const char *rep_status_name(enum rep_status s);

/* n[] counts statuses; warned (status passed, verdict PASS_WITH_WARNINGS) and inconclusive
 * (status error, verdict INCONCLUSIVE) are the parts of n[REP_PASSED] and n[REP_ERROR] that
 * every output shows as counts of their own. */
struct rep_counts {
    size_t n[REP_STATUS_COUNT];
    size_t warned, inconclusive;
    size_t total;
    double ms;
};

/* Counts one case (its status, verdict and duration). */
void rep_counts_add(struct rep_counts *c, json_t *kase);
size_t rep_counts_passed(const struct rep_counts *c);  /* PASS only */
size_t rep_counts_errored(const struct rep_counts *c); /* errors without INCONCLUSIVE */
bool rep_case_warned(json_t *kase);
bool rep_case_inconclusive(json_t *kase);

/* Distinct strings in first-appearance order (tables are small: rows, families, suites). */
struct rep_list {
    const char **v;
    size_t n, cap;
};
int rep_list_add(struct rep_list *l, const char *s); /* index, or negative error */
int rep_list_find(const struct rep_list *l, const char *s);
void rep_list_free(struct rep_list *l);

/* rows x families, each cell counting its cases. */
struct rep_matrix {
    struct rep_list rows, fams, suites;
    struct rep_counts *cells; /* rows.n * fams.n */
    /* rows.n * fams.n: the reason an empty cell does not apply (results.json
     * not_applicable, borrowed from the results), NULL when none was declared. */
    const char **na;
    struct rep_counts totals;
};
int rep_matrix_build(json_t *results, struct rep_matrix *m);
void rep_matrix_free(struct rep_matrix *m);
struct rep_counts *rep_matrix_cell(const struct rep_matrix *m, size_t row, size_t fam);
const char *rep_matrix_na(const struct rep_matrix *m, size_t row, size_t fam);

/* Case field accessors with the schema's defaults. */
const char *rep_str(json_t *obj, const char *key); /* NULL if absent or not a string */
const char *rep_case_family(json_t *c);            /* "other" if absent */
/* Pass rate in percent: PASS (not PASS_WITH_WARNINGS) over the cases that ran (skips
 * excluded); < 0 if none ran. */
double rep_pass_rate(const struct rep_counts *c);
/* Compact JSON text of any value (malloc'ed; NULL on failure). */
char *rep_json_text(json_t *v);
/* New totals object from the counts: disjoint counts that add up to total. */
json_t *rep_totals_json(const struct rep_counts *c);

int rep_printf(struct iotc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rep_puts(struct iotc_buf *b, const char *s);
/* XML 1.0 text or attribute: escapes markup, replaces characters XML cannot hold. */
int rep_xml_escape(struct iotc_buf *b, const char *s);
int rep_html_escape(struct iotc_buf *b, const char *s);
/* Markdown inline text inside a table cell: no pipes, no line breaks, no markup. */
int rep_md_escape(struct iotc_buf *b, const char *s, size_t max_chars);

void rep_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* HTML report parts (html_env.c): the summary line under the title and the
 * run / target / environment tables. */
int rep_html_meta(json_t *results, struct iotc_buf *b);
int rep_html_environment(json_t *results, struct iotc_buf *b);
/* Certification runs: the per-device verdict page (html_cert.c); nothing otherwise. */
int rep_html_certification(json_t *results, struct iotc_buf *b);

/* Asset access (generated header, see assets/embed.cmake). */
const char *rep_asset(const char *name);

#endif
