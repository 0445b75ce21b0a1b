/* Device adapters (fixtures/adapters/NAME.json): a command template and the cases the
 * device can take part in, so a user certifies an SDK sample with a few lines. */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/err.h"

static const char *const adapter__keys[] = {"name",  "description", "command",    "commands",
                                            "cases", "skip",        "time_scale", NULL};

int iotc_certify_adapter_load(const char *name_or_path, const char *dir, iotc_certify_adapter *a,
                              iotc_errtext *err)
{
    char path[2048];
    json_error_t jerr;
    const char *k;
    json_t *v;

    memset(a, 0, sizeof(*a));
    if (strchr(name_or_path, '/') || strstr(name_or_path, ".json"))
        snprintf(path, sizeof(path), "%s", name_or_path);
    else
        snprintf(path, sizeof(path), "%s/%s.json", dir, name_or_path);
    a->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!a->root) {
        return iotc_errtext_set(err, IOTC_ERR_CONFIG, "adapter %s: %s (line %d)", path, jerr.text,
                                jerr.line);
    }
    json_object_foreach(a->root, k, v)
    {
        size_t i = 0;
        while (adapter__keys[i] && strcmp(adapter__keys[i], k) != 0)
            i++;
        if (!adapter__keys[i]) {
            iotc_errtext_set(err, 0, "adapter %s: unknown key \"%s\"", path, k);
            goto fail;
        }
    }
    a->name = json_string_value(json_object_get(a->root, "name"));
    a->command = json_string_value(json_object_get(a->root, "command"));
    a->commands = json_object_get(a->root, "commands");
    a->cases = json_object_get(a->root, "cases");
    a->skip_reasons = json_object_get(a->root, "skip");
    a->time_scale = json_is_true(json_object_get(a->root, "time_scale"));
    if (!a->name || !a->command || !*a->command) {
        iotc_errtext_set(err, 0, "adapter %s: \"name\" and \"command\" are required strings", path);
        goto fail;
    }
    if ((a->commands && !json_is_object(a->commands)) || (a->cases && !json_is_array(a->cases)) ||
        (a->skip_reasons && !json_is_object(a->skip_reasons))) {
        iotc_errtext_set(
            err, 0, "adapter %s: \"commands\"/\"skip\" must be objects, \"cases\" an array", path);
        goto fail;
    }
    v = json_object_get(a->root, "time_scale");
    if (v && !json_is_boolean(v)) {
        iotc_errtext_set(err, 0, "adapter %s: \"time_scale\" must be true or false", path);
        goto fail;
    }
    return IOTC_OK;
fail:
    iotc_certify_adapter_free(a);
    return IOTC_ERR_CONFIG;
}

void iotc_certify_adapter_free(iotc_certify_adapter *a)
{
    json_decref(a->root);
    memset(a, 0, sizeof(*a));
}

const char *iotc_certify_adapter_excludes(const iotc_certify_adapter *a, const char *case_id,
                                          char *buf, size_t len)
{
    size_t i;
    json_t *id;
    const char *why;
    if (!a->root)
        return NULL;
    why = json_string_value(json_object_get(a->skip_reasons, case_id));
    if (why) {
        snprintf(buf, len, "adapter %s does not take part: %s", a->name, why);
        return buf;
    }
    if (!a->cases)
        return NULL;
    json_array_foreach(a->cases, i, id)
    {
        if (json_is_string(id) && strcmp(json_string_value(id), case_id) == 0)
            return NULL;
    }
    snprintf(buf, len, "adapter %s does not list this case in \"cases\"", a->name);
    return buf;
}
