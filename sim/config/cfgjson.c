#include "cfgjson.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int iotc_cfg_fail(iotc_errtext *err, const char *file, const char *path, const char *fmt,
                  ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof err->msg, "%s: %s: %s", file, path, detail);
    return IOTC_ERR_CONFIG;
}

json_t *iotc_cfg_load(const char *path, iotc_errtext *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err->msg, sizeof err->msg, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        iotc_cfg_fail(err, path, "$", "must be a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

int iotc_cfg_check_keys(const char *file, const char *path, json_t *obj, const char *const *allowed,
                        iotc_errtext *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                ok = true;
        if (!ok)
            return iotc_cfg_fail(err, file, path, "unknown key '%s'", key);
    }
    return IOTC_OK;
}

int iotc_cfg_read_ints(const char *file, const char *path, json_t *obj,
                       const struct iotc_cfg_int *table, size_t n, void *target,
                       iotc_errtext *err)
{
    for (size_t i = 0; i < n; i++)
        *(long long *)((char *)target + table[i].offset) = table[i].def;
    if (!obj)
        return IOTC_OK;
    if (!json_is_object(obj))
        return iotc_cfg_fail(err, file, path, "must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        const struct iotc_cfg_int *row = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(table[i].key, key) == 0)
                row = &table[i];
        if (!row)
            return iotc_cfg_fail(err, file, path, "unknown key '%s'", key);
        if (!json_is_integer(v) || json_integer_value(v) < row->min ||
            json_integer_value(v) > row->max)
            return iotc_cfg_fail(err, file, path, "%s: must be an integer in %lld..%lld", key,
                                 row->min, row->max);
        *(long long *)((char *)target + row->offset) = json_integer_value(v);
    }
    return IOTC_OK;
}

int iotc_cfg_string(const char *file, const char *path, json_t *obj, const char *key,
                    const char *def, char **out, iotc_errtext *err)
{
    json_t *v = json_object_get(obj, key);
    const char *s = def;
    if (v && !json_is_string(v))
        return iotc_cfg_fail(err, file, path, "%s: must be a string", key);
    if (v)
        s = json_string_value(v);
    *out = s ? strdup(s) : NULL;
    return (s && !*out) ? IOTC_ERR_NOMEM : IOTC_OK;
}

int iotc_cfg_strings(const char *file, const char *path, json_t *obj, const char *key, char ***out,
                     size_t *count, iotc_errtext *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *count = 0;
    if (!v)
        return IOTC_OK;
    if (!json_is_array(v))
        return iotc_cfg_fail(err, file, path, "%s: must be an array of strings", key);
    size_t n = json_array_size(v);
    char **arr = calloc(n ? n : 1, sizeof *arr);
    if (!arr)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            iotc_cfg_strings_free(arr, i);
            return iotc_cfg_fail(err, file, path, "%s[%zu]: must be a non-empty string", key, i);
        }
        arr[i] = strdup(json_string_value(s));
    }
    *out = arr;
    *count = n;
    return IOTC_OK;
}

void iotc_cfg_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
