#include "profile.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const int iotc_lport_number[IOTC_PORT_COUNT] = {8883, 8443, 443};

#define LIMIT(key, min, max, def)                                                                  \
    {                                                                                              \
#key, offsetof(struct iotc_limits, key), min, max, def                                     \
    }
/* Defaults are AWS IoT Core's documented limits (reference section 3). */
static const struct iotc_cfg_int profile__limits[] = {
    LIMIT(max_client_id_bytes, 1, 65535, 128),
    LIMIT(max_topic_bytes, 1, 65535, 256),
    LIMIT(max_topic_slashes, 0, 1000, 7),
    LIMIT(max_payload_bytes, 1, 268435455, 128 * 1024),
    LIMIT(max_filters_per_subscribe, 1, 64, 8),
    LIMIT(max_subscriptions, 1, 100000, 50),
    LIMIT(topic_alias_max, 0, 65535, 8),
    LIMIT(keepalive_min_s, 1, 65535, 30),
    LIMIT(keepalive_max_s, 1, 65535, 1200),
    LIMIT(handshake_timeout_ms, 10, 600000, 10000),
    LIMIT(connect_timeout_ms, 10, 600000, 10000),
    LIMIT(http_idle_timeout_ms, 10, 3600000, 60000),
    LIMIT(max_connections, 1, 1000000, 100000),
    LIMIT(max_duration_x509_s, 0, 31536000, 1209600),
    LIMIT(max_duration_sigv4_s, 0, 31536000, 86400),
    LIMIT(sigv4_skew_s, 1, 86400, 900),
    /* Resource bounds of the emulator itself (not AWS quotas): see README "Resource limits". */
    LIMIT(journal_max_bytes, 0, 1LL << 50, 1LL << 30),
    LIMIT(authz_max_concurrent, 1, 10000, 16),
    LIMIT(authz_queue_max, 0, 100000, 256),
    LIMIT(authz_queue_wait_ms, 1, 600000, 5000),
    LIMIT(qos1_durable, 0, 1, 1),
    /* AWS IoT Core message-broker quotas, us-east-1 defaults; 0 disables one. */
    LIMIT(publish_per_s, 0, 1000000, 100),
    LIMIT(throughput_bytes_per_s, 0, 1LL << 40, 512 * 1024),
    LIMIT(connect_per_s_per_client_id, 0, 1000000, 1),
    LIMIT(account_connect_per_s, 0, 100000000, 500),
    LIMIT(account_publish_per_s, 0, 100000000, 20000),
};

static const struct {
    const char *name;
    enum iotc_tls_policy policy;
} profile__policies[] = {
    {"IoTSecurityPolicy_TLS13_1_2_2022_10", IOTC_POLICY_TLS13_1_2},
    {"IoTSecurityPolicy_TLS13_1_3_2022_10", IOTC_POLICY_TLS13_1_3},
    {"IoTSecurityPolicy_TLS12_1_2_2022_10", IOTC_POLICY_TLS12_1_2},
};

const char *iotc_tls_policy_name(enum iotc_tls_policy p)
{
    for (size_t i = 0; i < sizeof profile__policies / sizeof profile__policies[0]; i++)
        if (profile__policies[i].policy == p)
            return profile__policies[i].name;
    return "?";
}

static int profile__ports(const char *file, json_t *obj, struct iotc_profile *p,
                          iotc_errtext *err)
{
    for (int i = 0; i < IOTC_PORT_COUNT; i++)
        p->ports[i] = iotc_lport_number[i];
    if (!obj)
        return IOTC_OK;
    if (!json_is_object(obj))
        return iotc_cfg_fail(err, file, "$.ports", "must be an object like {\"8883\": 8883}");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int idx = -1;
        for (int i = 0; i < IOTC_PORT_COUNT; i++)
            if (atoi(key) == iotc_lport_number[i] && strlen(key) == (i == 2 ? 3 : 4))
                idx = i;
        if (idx < 0)
            return iotc_cfg_fail(err, file, "$.ports",
                                 "unknown logical port '%s' (8883, 8443, 443)", key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
            return iotc_cfg_fail(err, file, "$.ports", "%s: must be an integer in 0..65535", key);
        p->ports[idx] = (int)json_integer_value(v);
    }
    return IOTC_OK;
}

int iotc_profile_load(const char *path, struct iotc_profile *p, iotc_errtext *err)
{
    static const char *const keys[] = {
        "name",   "security_policy", "sni",    "endpoint_names", "domain_names",
        "bind",   "ports",           "region", "account",        "time_scale",
        "limits", "description",     NULL};
    memset(p, 0, sizeof *p);
    int rc = IOTC_ERR_CONFIG;
    char *policy = NULL, *sni = NULL;
    json_t *root = iotc_cfg_load(path, err);
    if (!root)
        return IOTC_ERR_CONFIG;
    p->file = strdup(path);
    if ((rc = iotc_cfg_check_keys(path, "$", root, keys, err)))
        goto cleanup;
    if ((rc = iotc_cfg_string(path, "$", root, "name", "default", &p->name, err)) ||
        (rc = iotc_cfg_string(path, "$", root, "security_policy",
                              "IoTSecurityPolicy_TLS13_1_2_2022_10", &policy, err)) ||
        (rc = iotc_cfg_string(path, "$", root, "sni", "required", &sni, err)) ||
        (rc = iotc_cfg_string(path, "$", root, "region", "us-east-1", &p->region, err)) ||
        (rc = iotc_cfg_string(path, "$", root, "account", "123456789012", &p->account, err)) ||
        (rc = iotc_cfg_strings(path, "$", root, "endpoint_names", &p->endpoint_names,
                               &p->endpoint_name_count, err)) ||
        (rc = iotc_cfg_strings(path, "$", root, "domain_names", &p->domain_names,
                               &p->domain_name_count, err)) ||
        (rc = iotc_cfg_strings(path, "$", root, "bind", &p->bind, &p->bind_count, err)))
        goto cleanup;
    rc = iotc_cfg_fail(err, path, "$.security_policy", "unknown policy '%s'", policy);
    for (size_t i = 0; i < sizeof profile__policies / sizeof profile__policies[0]; i++)
        if (strcmp(profile__policies[i].name, policy) == 0) {
            p->policy = profile__policies[i].policy;
            rc = IOTC_OK;
        }
    if (rc)
        goto cleanup;
    p->policy_name = policy;
    policy = NULL;
    if (strcmp(sni, "required") == 0) {
        p->sni_required = true;
    } else if (strcmp(sni, "optional") == 0) {
        p->sni_required = false;
    } else {
        rc = iotc_cfg_fail(err, path, "$.sni", "must be \"required\" or \"optional\"");
        goto cleanup;
    }
    if (p->endpoint_name_count == 0) {
        rc = iotc_cfg_fail(err, path, "$.endpoint_names", "at least one endpoint name is needed");
        goto cleanup;
    }
    if (p->bind_count == 0) {
        p->bind = calloc(2, sizeof *p->bind);
        p->bind[0] = strdup("127.0.0.1");
        p->bind[1] = strdup("::1");
        p->bind_count = 2;
    }
    json_t *ts = json_object_get(root, "time_scale");
    p->time_scale = 1.0;
    if (ts) {
        if (!json_is_number(ts) || json_number_value(ts) <= 0 || json_number_value(ts) > 1000) {
            rc = iotc_cfg_fail(err, path, "$.time_scale", "must be a number in (0, 1000]");
            goto cleanup;
        }
        p->time_scale = json_number_value(ts);
    }
    if ((rc = profile__ports(path, json_object_get(root, "ports"), p, err)))
        goto cleanup;
    rc = iotc_cfg_read_ints(path, "$.limits", json_object_get(root, "limits"), profile__limits,
                            sizeof profile__limits / sizeof profile__limits[0], &p->limits, err);
    if (!rc && p->limits.keepalive_min_s > p->limits.keepalive_max_s)
        rc = iotc_cfg_fail(err, path, "$.limits", "keepalive_min_s exceeds keepalive_max_s");
cleanup:
    free(policy);
    free(sni);
    json_decref(root);
    if (rc)
        iotc_profile_free(p);
    return rc;
}

void iotc_profile_free(struct iotc_profile *p)
{
    free(p->file);
    free(p->name);
    free(p->policy_name);
    free(p->region);
    free(p->account);
    iotc_cfg_strings_free(p->endpoint_names, p->endpoint_name_count);
    iotc_cfg_strings_free(p->domain_names, p->domain_name_count);
    iotc_cfg_strings_free(p->bind, p->bind_count);
    memset(p, 0, sizeof *p);
}

bool iotc_profile_name_known(const struct iotc_profile *p, const char *name)
{
    if (!name)
        return false;
    for (size_t i = 0; i < p->endpoint_name_count; i++)
        if (strcasecmp(p->endpoint_names[i], name) == 0)
            return true;
    for (size_t i = 0; i < p->domain_name_count; i++)
        if (strcasecmp(p->domain_names[i], name) == 0)
            return true;
    return false;
}
