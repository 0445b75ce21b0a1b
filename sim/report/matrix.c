/* Aggregates cases into the rows x families grid that every renderer shows. */
#include "report_internal.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

struct iotc_report_counts *iotc_report_matrix_cell(const struct iotc_report_matrix *m, size_t row, size_t fam)
{
    return &m->cells[row * m->fams.n + fam];
}

int iotc_report_matrix_build(json_t *results, struct iotc_report_matrix *m)
{
    json_t *cases = json_object_get(results, "cases");
    size_t i;
    json_t *c;
    int rc = IOTC_OK;

    memset(m, 0, sizeof *m);
    /* Two passes: the grid size is known only after every row and family is seen. */
    json_array_foreach(cases, i, c)
    {
        const char *row = iotc_report_str(c, "row");
        const char *suite = iotc_report_str(c, "suite");
        if ((rc = iotc_report_list_add(&m->rows, row ? row : "?")) < 0 ||
            (rc = iotc_report_list_add(&m->fams, iotc_report_case_family(c))) < 0 ||
            (rc = iotc_report_list_add(&m->suites, suite ? suite : "?")) < 0)
            goto cleanup;
    }
    rc = IOTC_OK;
    if (m->rows.n && m->fams.n) {
        m->cells = calloc(m->rows.n * m->fams.n, sizeof *m->cells);
        if (!m->cells) {
            rc = IOTC_ERR_NOMEM;
            goto cleanup;
        }
    }
    json_array_foreach(cases, i, c)
    {
        const char *row = iotc_report_str(c, "row");
        int r = iotc_report_list_find(&m->rows, row ? row : "?");
        int f = iotc_report_list_find(&m->fams, iotc_report_case_family(c));
        iotc_report_counts_add(iotc_report_matrix_cell(m, (size_t)r, (size_t)f), c);
        iotc_report_counts_add(&m->totals, c);
    }
cleanup:
    if (rc != IOTC_OK)
        iotc_report_matrix_free(m);
    return rc;
}

void iotc_report_matrix_free(struct iotc_report_matrix *m)
{
    iotc_report_list_free(&m->rows);
    iotc_report_list_free(&m->fams);
    iotc_report_list_free(&m->suites);
    free(m->cells);
    m->cells = NULL;
}
