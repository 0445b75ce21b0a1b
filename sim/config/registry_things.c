/*
 * $.things: each a name, or {"name", "type", "attributes": {name: value}} for the
 * thing policy variables and condition keys (iot:Connection.Thing.ThingTypeName,
 * iot:Connection.Thing.Attributes[name]). Bounds are AWS's: names [a-zA-Z0-9_.,@/:#-]
 * up to 128 characters, values up to 800, 50 attributes a thing.
 */
#include "registry.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THINGS__NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,@/:#-"

static int things__attrs(const char *file, const char *path, json_t *obj, struct iotc_reg_thing *t,
                         iotc_errtext *err)
{
    if (!json_is_object(obj))
        return iotc_cfg_fail(err, file, path, "must be an object of name: string value");
    size_t n = json_object_size(obj);
    if (n > IOTC_THING_MAX_ATTRS)
        return iotc_cfg_fail(err, file, path, "%zu attributes, more than AWS's %d", n,
                             IOTC_THING_MAX_ATTRS);
    t->attr_names = calloc(n ? n : 1, sizeof *t->attr_names);
    t->attr_values = calloc(n ? n : 1, sizeof *t->attr_values);
    t->attr_keys = calloc(n ? n : 1, sizeof *t->attr_keys);
    if (!t->attr_names || !t->attr_values || !t->attr_keys)
        return IOTC_ERR_NOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t kl = strlen(k);
        if (kl == 0 || kl > 128 || strspn(k, THINGS__NAME_CHARS) != kl)
            return iotc_cfg_fail(err, file, path,
                                 "attribute name '%.60s' is not [a-zA-Z0-9_.,@/:#-]{1,128}", k);
        if (!json_is_string(v) || json_string_length(v) > 800)
            return iotc_cfg_fail(err, file, path, "%.60s: must be a string of at most 800 bytes",
                                 k);
        t->attr_names[t->nattr] = strdup(k);
        t->attr_values[t->nattr] = strdup(json_string_value(v));
        char key[200];
        snprintf(key, sizeof key, "iot:Connection.Thing.Attributes[%s]", k);
        t->attr_keys[t->nattr] = strdup(key);
        t->nattr++;
        if (!t->attr_names[t->nattr - 1] || !t->attr_values[t->nattr - 1] ||
            !t->attr_keys[t->nattr - 1])
            return IOTC_ERR_NOMEM;
    }
    return IOTC_OK;
}

static int things__one(const char *file, const char *path, json_t *e, struct iotc_reg_thing *t,
                       iotc_errtext *err)
{
    static const char *const keys[] = {"name", "type", "attributes", "description", NULL};
    json_t *name = e;
    if (json_is_object(e)) {
        int rc = iotc_cfg_check_keys(file, path, e, keys, err);
        if (rc)
            return rc;
        name = json_object_get(e, "name");
    }
    if (!json_is_string(name) || json_string_length(name) == 0)
        return iotc_cfg_fail(err, file, path, "must be a thing name or an object with \"name\"");
    t->name = strdup(json_string_value(name));
    if (!t->name)
        return IOTC_ERR_NOMEM;
    if (!json_is_object(e))
        return IOTC_OK;
    json_t *type = json_object_get(e, "type");
    if (type && (!json_is_string(type) || json_string_length(type) == 0))
        return iotc_cfg_fail(err, file, path, "type: must be a non-empty string");
    if (type && !(t->type = strdup(json_string_value(type))))
        return IOTC_ERR_NOMEM;
    json_t *attrs = json_object_get(e, "attributes");
    if (!attrs)
        return IOTC_OK;
    char sub[64];
    snprintf(sub, sizeof sub, "%s.attributes", path);
    return things__attrs(file, sub, attrs, t, err);
}

int iotc_registry__things(const char *file, json_t *arr, struct iotc_registry *r,
                          iotc_errtext *err)
{
    if (!arr)
        return IOTC_OK;
    if (!json_is_array(arr))
        return iotc_cfg_fail(err, file, "$.things", "must be an array");
    size_t n = json_array_size(arr);
    r->thing_info = calloc(n ? n : 1, sizeof *r->thing_info);
    r->things = calloc(n ? n : 1, sizeof *r->things);
    if (!r->thing_info || !r->things)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char path[48];
        snprintf(path, sizeof path, "$.things[%zu]", i);
        r->thing_count = i + 1;
        int rc = things__one(file, path, json_array_get(arr, i), &r->thing_info[i], err);
        if (rc)
            return rc;
        r->things[i] = strdup(r->thing_info[i].name);
        if (!r->things[i])
            return IOTC_ERR_NOMEM;
    }
    return IOTC_OK;
}

void iotc_registry__free_things(struct iotc_registry *r)
{
    for (size_t i = 0; r->thing_info && i < r->thing_count; i++) {
        struct iotc_reg_thing *t = &r->thing_info[i];
        for (size_t j = 0; j < t->nattr; j++) {
            free(t->attr_names[j]);
            free(t->attr_values[j]);
            free(t->attr_keys[j]);
        }
        free(t->attr_keys);
        free(t->attr_names);
        free(t->attr_values);
        free(t->name);
        free(t->type);
    }
    free(r->thing_info);
    r->thing_info = NULL;
}

const struct iotc_reg_thing *iotc_registry_find_thing(const struct iotc_registry *r,
                                                      const char *name)
{
    for (size_t i = 0; name && r->thing_info && i < r->thing_count; i++)
        if (strcmp(r->thing_info[i].name, name) == 0)
            return &r->thing_info[i];
    return NULL;
}
