/*
 * Strict reading of configuration JSON: every error names the file and the key
 * path ("fixtures/profiles/x.json: $.limits.max_topic_bytes: ..."), unknown keys
 * are errors, and integers are read through bounds tables.
 */
#ifndef IOTC_CFGJSON_H
#define IOTC_CFGJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

iotc_errtext {
    char msg[512];
};

/* Loads a file as a JSON object; on failure fills err with file:line:column: text. */
json_t *iotc_cfg_load(const char *path, iotc_errtext *err);
/* Fails with "<file>: <path>: unknown key 'k'" when obj has a key not in allowed (NULL-terminated).
 */
int iotc_cfg_check_keys(const char *file, const char *path, json_t *obj, const char *const *allowed,
                        iotc_errtext *err);
int iotc_cfg_fail(iotc_errtext *err, const char *file, const char *path, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* One bounded integer setting: the table row is the documentation. */
struct iotc_cfg_int {
    const char *key;
    size_t offset; /* of a long long in the target struct */
    long long min, max, def;
};
/* Applies defaults, then reads every key of obj (which may be NULL) through the table. */
int iotc_cfg_read_ints(const char *file, const char *path, json_t *obj,
                       const struct iotc_cfg_int *table, size_t n, void *target,
                       iotc_errtext *err);
/* Optional string: missing -> def; wrong type -> error. */
int iotc_cfg_string(const char *file, const char *path, json_t *obj, const char *key,
                    const char *def, char **out, iotc_errtext *err);
/* Optional array of strings; missing -> empty (count 0). */
int iotc_cfg_strings(const char *file, const char *path, json_t *obj, const char *key, char ***out,
                     size_t *count, iotc_errtext *err);
void iotc_cfg_strings_free(char **v, size_t n);

#endif
