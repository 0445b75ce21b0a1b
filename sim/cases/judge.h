/* Compares a case's expect object with what a driver observed: every field, every mismatch. */
#ifndef IOTC_CASES_JUDGE_H
#define IOTC_CASES_JUDGE_H

#include <jansson.h>

/* Appends {field, expected, observed} objects to mismatches (an array) and returns
 * how many were added. observed may hold "journal_events" for journal_has. */
int iotc_judge(json_t *expect, json_t *observed, json_t *mismatches);

/* "field: expected X, observed Y; ..." for the report's reason. Caller frees. */
char *iotc_judge_reason(json_t *mismatches);

#endif
