/* The runner's per-case result: status, observations, mismatches, journal window. */
#ifndef IOTC_RUNNER_RESULT_H
#define IOTC_RUNNER_RESULT_H

#include <jansson.h>
#include <stddef.h>

#include "cases/cases.h"
#include "harness/results.h"

typedef enum iotc_status {
    IOTC_ST_PASSED,
    IOTC_ST_FAILED,
    IOTC_ST_ERROR,
    IOTC_ST_SKIPPED,
} iotc_status;

typedef struct iotc_result {
    const iotc_case *c;
    iotc_status status;
    json_t *observed;
    json_t *mismatches;
    json_t *journal;
    char reason[2048];
    char started_at[32];
    long duration_ms;
    /* Journal correlation */
    int ports[8];
    size_t n_ports;
    size_t jstart, jend;
    int serve_index; /* which serve child ran it, -1 none */
} iotc_result;

const char *iotc_status_name(iotc_status s);
const char *iotc_status_verdict(iotc_status s);

/* The per-case object of the schema. New reference. */
json_t *iotc_result_case_json(const iotc_result *r);

#endif
