/* results.json (reports/SCHEMA.md, version 1): building, writing, rendering. */
#ifndef IOTC_RUNNER_RESULTS_H
#define IOTC_RUNNER_RESULTS_H

#include <jansson.h>
#include <stddef.h>

#include "cases.h"

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
void iotc_now_iso(char *out, size_t len);

/* Run identifiers (shared by `run` and `certify`): 2*bytes hex digits (bytes <= 16)
 * into out, and a random UUID v4 (out holds 37 bytes). */
void iotc_random_hex(char *out, size_t bytes);
void iotc_uuid_v4(char *out);

/* mkdir -p. */
int iotc_mkdirs(const char *dir);

/* The per-case object of the schema. New reference. */
json_t *iotc_result_case_json(const iotc_result *r);

/* Writes <out_dir>/results.json (atomically) and, when the report renderers are
 * linked, JUnit / Markdown / HTML next to it. *report gets the path to print. */
int iotc_results_write(json_t *doc, const char *out_dir, char *report, size_t rlen, char *err,
                       size_t errlen);

#endif
