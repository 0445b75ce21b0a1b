/*
 * The case table schema as data, and one recursive checker. Every unknown key,
 * wrong type and unknown enum value is reported with its JSON path, so a typo
 * ("snii") never silently becomes a default.
 */
#include "cases.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "schema.h"

static const char *const en_family[] = {"ipv4", "ipv6", NULL};
static const char *const en_tls[] = {"1.0", "1.1", "1.2", "1.3", "any", NULL};
static const char *const en_driver[] = {"auto",  "probe", "hello",   "mqtt",
                                        "https", "wss",   "session", NULL};
static const char *const en_as[] = {"row", "observer", NULL};
static const char *const en_action[] = {"connect", "roundtrip", "publish-then-subscribe",
                                        "subscribe", NULL};
static const char *const en_signer[] = {"curl", "own", NULL};
static const char *const en_tamper[] = {"signature", "date", "payload", NULL};
static const char *const en_sign[] = {"bad", NULL};
static const char *const en_via[] = {"headers", "query", NULL};
static const char *const en_accept[] = {"accepted", "refused", NULL};
static const char *const en_keytype[] = {"rsa", "ec", NULL};
static const char *const en_version[] = {"1.0", "1.1", "1.2", "1.3", NULL};

static const iotc_cases_schema_key sigv4_fields[] = {
    {"access_key", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"secret", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"service", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"region", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"token", IOTC_CASES_T_BOOL | IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"signer", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_signer},
    {"tamper", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_tamper},
    {"expires", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"date_offset_s", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key custom_fields[] = {
    {"authorizer", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"token", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"token_key", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"sign", IOTC_CASES_T_BOOL | IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_sign},
    {"via", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_via},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key auth_fields[] = {
    {"sigv4", IOTC_CASES_T_OBJ, 0, sigv4_fields, 0, NULL, NULL},
    {"custom", IOTC_CASES_T_OBJ, 0, custom_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key will_fields[] = {
    {"topic", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"payload", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"qos", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"retain", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* MQTT 5 properties a session step's PUBLISH carries (strings are templates). */
static const iotc_cases_schema_key props_fields[] = {
    {"user", IOTC_CASES_T_OBJ, IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"response_topic", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"correlation_data", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"content_type", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"message_expiry", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"topic_alias", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* One step of the session driver: exactly one operation key (checked at expansion). */
static const iotc_cases_schema_key step_fields[] = {
    {"connect", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"subscribe", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"publish", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"receive", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"disconnect", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"drop", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"wait_closed", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"ping", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"sleep_ms", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"http_publish", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"id", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"as", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_as},
    {"client_id", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"client_id_len", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"version", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"keepalive", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"clean", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"pace", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"session_expiry", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"will", IOTC_CASES_T_OBJ, 0, will_fields, 0, NULL, NULL},
    {"filters", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"count", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"per_packet", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"qos", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"topic", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"topic_len", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"payload", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"payload_size", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"retain", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"within_ms", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"every_ms", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"for_ms", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"properties", IOTC_CASES_T_OBJ, 0, props_fields, 0, NULL, NULL},
    {"subscription_id", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"window", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"over_rate", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key client_fields[] = {
    {"driver", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_driver},
    {"action", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_action},
    {"sni", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"alpn", IOTC_CASES_T_STR | IOTC_CASES_T_NULL | IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR,
     NULL, NULL},
    {"cipher", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"ciphersuites", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"sigalgs", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"cert", IOTC_CASES_T_STR | IOTC_CASES_T_NULL, 0, NULL, 0, NULL, NULL},
    {"key", IOTC_CASES_T_STR | IOTC_CASES_T_NULL, 0, NULL, 0, NULL, NULL},
    {"qos", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"retain", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"client_id", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"query", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"payload", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"subscriber_cert", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"timeout_ms", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"port", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"repeat", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"keep_alive", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"auth", IOTC_CASES_T_OBJ, 0, auth_fields, 0, NULL, NULL},
    {"subscriber_auth", IOTC_CASES_T_OBJ, 0, auth_fields, 0, NULL, NULL},
    {"auth_by_row", IOTC_CASES_T_OBJ, IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_OBJ, auth_fields,
     NULL},
    {"steps", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_OBJ, step_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key expect_fields[] = {
    {"handshake", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_accept},
    {"alert", IOTC_CASES_T_STR | IOTC_CASES_T_NULL | IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR,
     NULL, NULL},
    {"version", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_version},
    {"cipher", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"alpn", IOTC_CASES_T_STR | IOTC_CASES_T_NULL, 0, NULL, 0, NULL, NULL},
    {"server_key", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_keytype},
    {"connect", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_accept},
    {"connack_rc", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"http_status", IOTC_CASES_T_INT | IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"http_body", IOTC_CASES_T_OBJ, IOTC_CASES_K_FREEFORM, NULL, 0, NULL, NULL},
    {"delivered", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"delivered_qos", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"retained", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"puback", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"upgrade", IOTC_CASES_T_STR, 0, NULL, 0, NULL, en_accept},
    {"suback_rc", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"disconnected", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"journal_has", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"steps", IOTC_CASES_T_OBJ, IOTC_CASES_K_FREEFORM, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key requirement_fields[] = {
    {"source", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"text", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key variant_fields[] = {
    {"id", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"title", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"rows", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"tls_versions", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, en_tls},
    {"labels", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"client", IOTC_CASES_T_OBJ, 0, client_fields, 0, NULL, NULL},
    {"expect", IOTC_CASES_T_OBJ, 0, expect_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key case_fields[] = {
    {"id", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"title", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"requirement", IOTC_CASES_T_OBJ, IOTC_CASES_K_REQUIRED, requirement_fields, 0, NULL, NULL},
    {"family", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"twin", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"comment", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"rows", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"ip_families", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, en_family},
    {"tls_versions", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, en_tls},
    {"profile", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"labels", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"client", IOTC_CASES_T_OBJ, 0, client_fields, 0, NULL, NULL},
    {"expect", IOTC_CASES_T_OBJ, IOTC_CASES_K_REQUIRED, expect_fields, 0, NULL, NULL},
    {"variants", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_OBJ, variant_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key defaults_fields[] = {
    {"rows", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"ip_families", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, en_family},
    {"tls_versions", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, en_tls},
    {"profile", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"labels", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"client", IOTC_CASES_T_OBJ, 0, client_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key na_fields[] = {
    {"family", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"rows", IOTC_CASES_T_ARR, IOTC_CASES_K_REQUIRED, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"reason", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key top_fields[] = {
    {"format", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"suite", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"title", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"comment", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"defaults", IOTC_CASES_T_OBJ, 0, defaults_fields, 0, NULL, NULL},
    {"cases", IOTC_CASES_T_ARR, IOTC_CASES_K_REQUIRED, NULL, IOTC_CASES_T_OBJ, case_fields, NULL},
    {"not_applicable", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_OBJ, na_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static unsigned schema__type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return IOTC_CASES_T_STR;
    case JSON_INTEGER:
        return IOTC_CASES_T_INT;
    case JSON_TRUE:
    case JSON_FALSE:
        return IOTC_CASES_T_BOOL;
    case JSON_NULL:
        return IOTC_CASES_T_NULL;
    case JSON_ARRAY:
        return IOTC_CASES_T_ARR;
    case JSON_OBJECT:
        return IOTC_CASES_T_OBJ;
    default:
        return 0; /* reals are never valid in a table */
    }
}

static void schema__types_str(unsigned t, char *out, size_t len)
{
    static const char *const names[] = {"string", "integer", "boolean", "null", "array", "object"};
    size_t used = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < 6; i++) {
        if (!(t & (1u << i)))
            continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? " or " : "", names[i]);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

static void schema__check_enum(const json_t *v, const char *const *enums, const char *file,
                               const char *path, iotc_diag *d)
{
    if (!enums || !json_is_string(v))
        return;
    for (const char *const *e = enums; *e; e++)
        if (strcmp(*e, json_string_value(v)) == 0)
            return;
    iotc_diag_add(d, "%s: %s: unknown value \"%s\"", file, path, json_string_value(v));
}

static void schema__check_object(const json_t *obj, const iotc_cases_schema_key *fields,
                                 const char *file, const char *path, iotc_diag *d);

static void schema__check_map(const json_t *obj, const iotc_cases_schema_key *k, const char *file,
                              const char *path, iotc_diag *d)
{
    const char *key;
    const json_t *item;
    char sub[512], want[64];

    json_object_foreach((json_t *)obj, key, item)
    {
        if (snprintf(sub, sizeof(sub), "%s.%s", path, key) >= (int)sizeof(sub))
            continue;
        if (!(schema__type_of(item) & k->item_types)) {
            schema__types_str(k->item_types, want, sizeof(want));
            iotc_diag_add(d, "%s: %s: expected %s", file, sub, want);
            continue;
        }
        if (json_is_object(item) && k->item_fields)
            schema__check_object(item, k->item_fields, file, sub, d);
    }
}

static void schema__check_value(const json_t *v, const iotc_cases_schema_key *k, const char *file,
                                const char *path, iotc_diag *d)
{
    char want[64];
    char sub[512];

    if (!(schema__type_of(v) & k->types)) {
        schema__types_str(k->types, want, sizeof(want));
        iotc_diag_add(d, "%s: %s: expected %s", file, path, want);
        return;
    }
    schema__check_enum(v, k->enums, file, path, d);
    if (json_is_object(v) && !(k->flags & IOTC_CASES_K_FREEFORM) && k->fields)
        schema__check_object(v, k->fields, file, path, d);
    if (json_is_object(v) && (k->flags & IOTC_CASES_K_ANYKEY))
        schema__check_map(v, k, file, path, d);
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) >= (int)sizeof(sub))
                continue;
            if (!(schema__type_of(item) & k->item_types)) {
                schema__types_str(k->item_types, want, sizeof(want));
                iotc_diag_add(d, "%s: %s: expected %s", file, sub, want);
                continue;
            }
            schema__check_enum(item, k->enums, file, sub, d);
            if (json_is_object(item) && k->item_fields)
                schema__check_object(item, k->item_fields, file, sub, d);
        }
    }
}

static void schema__check_object(const json_t *obj, const iotc_cases_schema_key *fields,
                                 const char *file, const char *path, iotc_diag *d)
{
    const char *key;
    const json_t *v;
    char sub[512];

    json_object_foreach((json_t *)obj, key, v)
    {
        const iotc_cases_schema_key *k = fields;
        while (k->key && strcmp(k->key, key) != 0)
            k++;
        if (snprintf(sub, sizeof(sub), "%s.%s", path, key) >= (int)sizeof(sub))
            continue;
        if (!k->key) {
            iotc_diag_add(d, "%s: %s: unknown key", file, sub);
            continue;
        }
        schema__check_value(v, k, file, sub, d);
    }
    for (const iotc_cases_schema_key *k = fields; k->key; k++)
        if ((k->flags & IOTC_CASES_K_REQUIRED) && !json_object_get(obj, k->key))
            iotc_diag_add(d, "%s: %s.%s: missing required key", file, path, k->key);
}

void iotc_schema_check_object(const json_t *obj, const iotc_cases_schema_key *fields,
                              const char *file, const char *path, iotc_diag *d)
{
    schema__check_object(obj, fields, file, path, d);
}

int iotc_cases_validate(json_t *table, const char *file, iotc_diag *d)
{
    int before = d->count;
    const char *fmt;

    if (!json_is_object(table)) {
        iotc_diag_add(d, "%s: $: expected an object", file);
        return IOTC_ERR_CONFIG;
    }
    schema__check_object(table, top_fields, file, "$", d);
    fmt = json_string_value(json_object_get(table, "format"));
    if (fmt && strcmp(fmt, IOTC_CASES_FORMAT) != 0)
        iotc_diag_add(d, "%s: $.format: \"%s\" is not \"%s\"", file, fmt, IOTC_CASES_FORMAT);
    return d->count == before ? IOTC_OK : IOTC_ERR_CONFIG;
}
