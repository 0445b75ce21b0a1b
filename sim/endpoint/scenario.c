#include "scenario.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#define SC_INT(key, min, max, def)                                                                 \
    {                                                                                              \
#key, offsetof(struct iotc_scenario, key), min, max, def                                   \
    }
static const struct iotc_cfg_int scenario__ints[] = {
    SC_INT(withhold_connack, -1, 1000000, 0),
    SC_INT(disconnect_after_connack, -1, 1000000, 0),
    SC_INT(send_bytes, -1, 131072, -1),
    SC_INT(send_qos, 0, 1, 1),
    SC_INT(disconnect_after_withheld_ms, 0, 86400000, 0),
};
static const char *const scenario__bools[] = {"withhold_puback", "withhold_suback",
                                              "withhold_pingresp", "session_present_zero"};
static const char *const scenario__certs[] = {"server-untrusted", "server-wrongname",
                                              "server-expired", "server-large"};

void iotc_scenario_defaults(struct iotc_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->send_bytes = -1;
    s->send_qos = 1;
}

int iotc_scenario_parse(const char *arg, struct iotc_scenario *s, iotc_errtext *err)
{
    iotc_scenario_defaults(s);
    const char *file = arg[0] == '{' ? "--scenario" : arg;
    json_t *root = NULL, *ints = json_object();
    int rc = IOTC_ERR_CONFIG;
    if (arg[0] == '{') {
        json_error_t je;
        root = json_loads(arg, JSON_REJECT_DUPLICATES, &je);
        if (!root || !json_is_object(root)) {
            iotc_cfg_fail(err, file, "$", "not a JSON object: %s", root ? "" : je.text);
            goto cleanup;
        }
    } else if (!(root = iotc_cfg_load(arg, err))) {
        goto cleanup;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof scenario__ints / sizeof scenario__ints[0]; i++)
            if (strcmp(key, scenario__ints[i].key) == 0) {
                json_object_set(ints, key, v);
                known = true;
            }
        for (size_t i = 0; i < sizeof scenario__bools / sizeof scenario__bools[0]; i++)
            if (strcmp(key, scenario__bools[i]) == 0) {
                if (!json_is_boolean(v)) {
                    iotc_cfg_fail(err, file, "$", "%s: must be true or false", key);
                    goto cleanup;
                }
                bool b = json_is_true(v);
                if (i == 0)
                    s->withhold_puback = b;
                else if (i == 1)
                    s->withhold_suback = b;
                else if (i == 2)
                    s->withhold_pingresp = b;
                else
                    s->session_present_zero = b;
                known = true;
            }
        if (strcmp(key, "name") == 0 || strcmp(key, "server_cert") == 0 ||
            strcmp(key, "send_topic") == 0 || strcmp(key, "description") == 0)
            known = true;
        if (!known) {
            iotc_cfg_fail(err, file, "$", "unknown key '%s'", key);
            goto cleanup;
        }
    }
    if (iotc_cfg_read_ints(file, "$", ints, scenario__ints,
                           sizeof scenario__ints / sizeof scenario__ints[0], s, err) ||
        iotc_cfg_string(file, "$", root, "name", "custom", &s->name, err) ||
        iotc_cfg_string(file, "$", root, "server_cert", NULL, &s->server_cert, err) ||
        iotc_cfg_string(file, "$", root, "send_topic", NULL, &s->send_topic, err))
        goto cleanup;
    if (s->server_cert) {
        bool ok = false;
        for (size_t i = 0; i < sizeof scenario__certs / sizeof scenario__certs[0]; i++)
            ok |= strcmp(s->server_cert, scenario__certs[i]) == 0;
        if (!ok) {
            iotc_cfg_fail(err, file, "$.server_cert",
                          "must be server-untrusted, server-wrongname, server-expired or "
                          "server-large");
            goto cleanup;
        }
    }
    rc = IOTC_OK;
cleanup:
    json_decref(ints);
    json_decref(root);
    if (rc)
        iotc_scenario_free(s);
    return rc;
}

void iotc_scenario_free(struct iotc_scenario *s)
{
    free(s->name);
    free(s->server_cert);
    free(s->send_topic);
    iotc_scenario_defaults(s);
}
