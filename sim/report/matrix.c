/* Aggregates cases into the rows x families grid that every renderer shows. */
#include "report_internal.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

struct rep_counts *rep_matrix_cell(const struct rep_matrix *m, size_t row, size_t fam)
{
    return &m->cells[row * m->fams.n + fam];
}

int rep_matrix_build(json_t *results, struct rep_matrix *m)
{
    json_t *cases = json_object_get(results, "cases");
    size_t i;
    json_t *c;
    int rc = IOTC_OK;

    memset(m, 0, sizeof *m);
    /* Two passes: the grid size is known only after every row and family is seen. */
    json_array_foreach(cases, i, c)
    {
        const char *row = rep_str(c, "row");
        const char *suite = rep_str(c, "suite");
        if ((rc = rep_list_add(&m->rows, row ? row : "?")) < 0 ||
            (rc = rep_list_add(&m->fams, rep_case_family(c))) < 0 ||
            (rc = rep_list_add(&m->suites, suite ? suite : "?")) < 0)
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
        const char *row = rep_str(c, "row");
        int r = rep_list_find(&m->rows, row ? row : "?");
        int f = rep_list_find(&m->fams, rep_case_family(c));
        rep_counts_add(rep_matrix_cell(m, (size_t)r, (size_t)f), c);
        rep_counts_add(&m->totals, c);
    }
cleanup:
    if (rc != IOTC_OK)
        rep_matrix_free(m);
    return rc;
}

void rep_matrix_free(struct rep_matrix *m)
{
    rep_list_free(&m->rows);
    rep_list_free(&m->fams);
    rep_list_free(&m->suites);
    free(m->cells);
    m->cells = NULL;
}
