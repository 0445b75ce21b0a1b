/*
 * Case tables (suites/<name>.json, format "iotconform-cases/1"): loading, validation
 * (unknown keys are errors, reported with file and JSON path) and expansion of
 * templates over rows x IP family x TLS version (x variants).
 */
#ifndef IOTC_RUNNER_CASES_H
#define IOTC_RUNNER_CASES_H

#include <jansson.h>
#include <stddef.h>

#include "harness/diag.h"
#include "common/rows.h"

#define IOTC_CASES_FORMAT "iotconform-cases/1"

typedef struct iotc_case {
    char id[256];       /* <suite>.<case>[.<variant>].<row>.<ipv4|ipv6>.<tls12|tls13|...> */
    char template[160]; /* <suite>.<case>[.<variant>] */
    const iotc_row *row;
    int af;      /* AF_INET or AF_INET6 */
    char tls[8]; /* "1.0" "1.1" "1.2" "1.3" or "any" */
    /* Resolved definition: suite, title, requirement, family, profile, labels,
     * client, expect, twin, file. Owned. */
    json_t *def;
} iotc_case;

typedef struct iotc_caseset {
    iotc_case *v;
    size_t n, cap;
} iotc_caseset;

void iotc_caseset_free(iotc_caseset *set);

/* Validate one table and append its expanded cases; every problem goes to d.
 * Returns IOTC_OK or IOTC_ERR_CONFIG (nothing is appended then). */
int iotc_cases_load_file(const char *path, iotc_caseset *set, iotc_diag *d);

/* Validate a parsed table against the schema (exposed for the unit test). */
int iotc_cases_validate(json_t *table, const char *file, iotc_diag *d);

/* Expand a validated table. */
int iotc_cases_expand(json_t *table, const char *file, iotc_caseset *set, iotc_diag *d);

/* "x509" -> <dir>/x509.json, or *.json in <dir> whose "suite" is x509; a path is kept. */
int iotc_cases_resolve_suite(const char *name, const char *dir, char *out, size_t outlen);

/* 0 for a JSON document in the suites directory that says it is something else
 * (a top-level "schema" and no "format", e.g. the certification catalogue);
 * 1 otherwise, unreadable files included, so their errors are still reported. */
int iotc_cases_is_table(const char *path);

/* Every *.json table in dir, sorted. Caller frees the array and strings. */
int iotc_cases_list_dir(const char *dir, char ***paths, size_t *n);

/* GLOB against the id and each of its dot-suffixes ("mqtt-x509-8883*" matches
 * "x509.sni-missing.mqtt-x509-8883.ipv4.tls12"). */
int iotc_case_matches(const iotc_case *c, const char *glob);
int iotc_case_has_label(const iotc_case *c, const char *label);

const char *iotc_case_str(const iotc_case *c, const char *key);
json_t *iotc_case_client(const iotc_case *c);
json_t *iotc_case_expect(const iotc_case *c);
const char *iotc_af_name(int af);

#endif
