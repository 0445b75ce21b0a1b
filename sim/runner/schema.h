/*
 * Strict JSON checking from a table of keys: unknown keys, wrong types and
 * unknown enum values are reported with their JSON path (case tables, target files).
 */
#ifndef IOTC_RUNNER_SCHEMA_H
#define IOTC_RUNNER_SCHEMA_H

#include <jansson.h>

#include "harness/diag.h"

enum {
    IOTC_CASES_T_STR = 1 << 0,
    IOTC_CASES_T_INT = 1 << 1,
    IOTC_CASES_T_BOOL = 1 << 2,
    IOTC_CASES_T_NULL = 1 << 3,
    IOTC_CASES_T_ARR = 1 << 4,
    IOTC_CASES_T_OBJ = 1 << 5,
};

enum {
    IOTC_CASES_K_REQUIRED = 1 << 0,
    IOTC_CASES_K_FREEFORM = 1 << 1, /* object whose members are not checked */
    IOTC_CASES_K_ANYKEY = 1 << 2,   /* object whose every member is checked against item_* (a map) */
};

typedef struct iotc_cases_schema_key {
    const char *key;
    unsigned types;
    unsigned flags;
    const struct iotc_cases_schema_key *fields; /* members when the value is an object */
    unsigned item_types;             /* element types of an array, or member types of a map */
    const struct iotc_cases_schema_key *item_fields;
    const char *const *enums; /* allowed strings, for the value or its elements */
} iotc_cases_schema_key;

/* Checks obj's members against fields; every problem goes to d as "file: path: ...". */
void iotc_schema_check_object(const json_t *obj, const iotc_cases_schema_key *fields, const char *file,
                              const char *path, iotc_diag *d);

#endif
