/*
 * A table's "not_applicable" declarations: the (family, row) cells the table
 * cannot express, each with a one-line reason, so the report shows "N/A" and
 * why instead of an empty cell that reads like a gap.
 */
#include "cases.h"

#include <string.h>

#include "common/err.h"

#define NA_REASON_MAX 200 /* one line in the summary's footnotes */

/* A declared cell the same table also fills with cases contradicts itself. */
static int na__has_cases(const iotc_caseset *set, size_t from, const char *family, const char *row)
{
    for (size_t i = from; i < set->n; i++) {
        const char *f = iotc_case_str(&set->v[i], "family");
        if (f && strcmp(f, family) == 0 && strcmp(set->v[i].row->id, row) == 0)
            return 1;
    }
    return 0;
}

int iotc_cases_na_collect(json_t *table, const char *file, iotc_caseset *set, size_t from,
                          iotc_diag *d)
{
    json_t *decl = json_object_get(table, "not_applicable");
    const char *suite = json_string_value(json_object_get(table, "suite"));
    int before = d->count;
    size_t i, j;
    json_t *e, *rowv;

    json_array_foreach(decl, i, e)
    {
        const char *family = json_string_value(json_object_get(e, "family"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        if (!family || !*family)
            iotc_diag_add(d, "%s: $.not_applicable[%zu].family: must not be empty", file, i);
        if (!reason || !*reason || strchr(reason, '\n') || strlen(reason) > NA_REASON_MAX)
            iotc_diag_add(d, "%s: $.not_applicable[%zu].reason: one line of 1..%d characters", file,
                          i, NA_REASON_MAX);
        json_array_foreach(json_object_get(e, "rows"), j, rowv)
        {
            const char *row = json_string_value(rowv);
            if (!iotc_row_find(row))
                iotc_diag_add(d, "%s: $.not_applicable[%zu].rows[%zu]: unknown row \"%s\"", file, i,
                              j, row ? row : "");
            else if (family && na__has_cases(set, from, family, row))
                iotc_diag_add(d,
                              "%s: $.not_applicable[%zu]: family \"%s\" on row %s is declared "
                              "not applicable but this table has cases for it",
                              file, i, family, row);
        }
    }
    if (d->count != before)
        return IOTC_ERR_CONFIG;
    if (!set->not_applicable && json_array_size(decl))
        set->not_applicable = json_array();
    json_array_foreach(decl, i, e)
    {
        json_array_foreach(json_object_get(e, "rows"), j, rowv)
        {
            json_t *na = json_pack("{s:s, s:O, s:O, s:O}", "suite", suite ? suite : "?", "family",
                                   json_object_get(e, "family"), "row", rowv, "reason",
                                   json_object_get(e, "reason"));
            if (!na || json_array_append_new(set->not_applicable, na) != 0)
                return IOTC_ERR_NOMEM;
        }
    }
    return IOTC_OK;
}
