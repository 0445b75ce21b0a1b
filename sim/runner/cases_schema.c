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

static const schema_key sigv4_fields[] = {
    {"access_key", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"secret", T_STR, 0, NULL, 0, NULL, NULL},
    {"service", T_STR, 0, NULL, 0, NULL, NULL},
    {"region", T_STR, 0, NULL, 0, NULL, NULL},
    {"token", T_BOOL | T_STR, 0, NULL, 0, NULL, NULL},
    {"signer", T_STR, 0, NULL, 0, NULL, en_signer},
    {"tamper", T_STR, 0, NULL, 0, NULL, en_tamper},
    {"expires", T_INT, 0, NULL, 0, NULL, NULL},
    {"date_offset_s", T_INT, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key custom_fields[] = {
    {"authorizer", T_STR, 0, NULL, 0, NULL, NULL},
    {"token", T_STR, 0, NULL, 0, NULL, NULL},
    {"token_key", T_STR, 0, NULL, 0, NULL, NULL},
    {"sign", T_BOOL | T_STR, 0, NULL, 0, NULL, en_sign},
    {"via", T_STR, 0, NULL, 0, NULL, en_via},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key auth_fields[] = {
    {"sigv4", T_OBJ, 0, sigv4_fields, 0, NULL, NULL},
    {"custom", T_OBJ, 0, custom_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key will_fields[] = {
    {"topic", T_STR, 0, NULL, 0, NULL, NULL}, {"payload", T_STR, 0, NULL, 0, NULL, NULL},
    {"qos", T_INT, 0, NULL, 0, NULL, NULL},   {"retain", T_BOOL, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* One step of the session driver: exactly one operation key (checked at expansion). */
static const schema_key step_fields[] = {
    {"connect", T_STR, 0, NULL, 0, NULL, NULL},
    {"subscribe", T_STR, 0, NULL, 0, NULL, NULL},
    {"publish", T_STR, 0, NULL, 0, NULL, NULL},
    {"receive", T_STR, 0, NULL, 0, NULL, NULL},
    {"disconnect", T_STR, 0, NULL, 0, NULL, NULL},
    {"drop", T_STR, 0, NULL, 0, NULL, NULL},
    {"wait_closed", T_STR, 0, NULL, 0, NULL, NULL},
    {"ping", T_STR, 0, NULL, 0, NULL, NULL},
    {"sleep_ms", T_INT, 0, NULL, 0, NULL, NULL},
    {"http_publish", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"id", T_STR, 0, NULL, 0, NULL, NULL},
    {"as", T_STR, 0, NULL, 0, NULL, en_as},
    {"client_id", T_STR, 0, NULL, 0, NULL, NULL},
    {"client_id_len", T_INT, 0, NULL, 0, NULL, NULL},
    {"version", T_INT, 0, NULL, 0, NULL, NULL},
    {"keepalive", T_INT, 0, NULL, 0, NULL, NULL},
    {"clean", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"session_expiry", T_INT, 0, NULL, 0, NULL, NULL},
    {"will", T_OBJ, 0, will_fields, 0, NULL, NULL},
    {"filters", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"count", T_INT, 0, NULL, 0, NULL, NULL},
    {"per_packet", T_INT, 0, NULL, 0, NULL, NULL},
    {"qos", T_INT, 0, NULL, 0, NULL, NULL},
    {"topic", T_STR, 0, NULL, 0, NULL, NULL},
    {"topic_len", T_INT, 0, NULL, 0, NULL, NULL},
    {"payload", T_STR, 0, NULL, 0, NULL, NULL},
    {"payload_size", T_INT, 0, NULL, 0, NULL, NULL},
    {"retain", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"within_ms", T_INT, 0, NULL, 0, NULL, NULL},
    {"every_ms", T_INT, 0, NULL, 0, NULL, NULL},
    {"for_ms", T_INT, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key client_fields[] = {
    {"driver", T_STR, 0, NULL, 0, NULL, en_driver},
    {"action", T_STR, 0, NULL, 0, NULL, en_action},
    {"sni", T_STR, 0, NULL, 0, NULL, NULL},
    {"alpn", T_STR | T_NULL | T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"cipher", T_STR, 0, NULL, 0, NULL, NULL},
    {"ciphersuites", T_STR, 0, NULL, 0, NULL, NULL},
    {"sigalgs", T_STR, 0, NULL, 0, NULL, NULL},
    {"cert", T_STR | T_NULL, 0, NULL, 0, NULL, NULL},
    {"key", T_STR | T_NULL, 0, NULL, 0, NULL, NULL},
    {"qos", T_INT, 0, NULL, 0, NULL, NULL},
    {"retain", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"client_id", T_STR, 0, NULL, 0, NULL, NULL},
    {"query", T_STR, 0, NULL, 0, NULL, NULL},
    {"payload", T_STR, 0, NULL, 0, NULL, NULL},
    {"subscriber_cert", T_STR, 0, NULL, 0, NULL, NULL},
    {"timeout_ms", T_INT, 0, NULL, 0, NULL, NULL},
    {"port", T_INT, 0, NULL, 0, NULL, NULL},
    {"auth", T_OBJ, 0, auth_fields, 0, NULL, NULL},
    {"subscriber_auth", T_OBJ, 0, auth_fields, 0, NULL, NULL},
    {"auth_by_row", T_OBJ, K_ANYKEY, NULL, T_OBJ, auth_fields, NULL},
    {"steps", T_ARR, 0, NULL, T_OBJ, step_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key expect_fields[] = {
    {"handshake", T_STR, 0, NULL, 0, NULL, en_accept},
    {"alert", T_STR | T_NULL | T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"version", T_STR, 0, NULL, 0, NULL, en_version},
    {"cipher", T_STR, 0, NULL, 0, NULL, NULL},
    {"alpn", T_STR | T_NULL, 0, NULL, 0, NULL, NULL},
    {"server_key", T_STR, 0, NULL, 0, NULL, en_keytype},
    {"connect", T_STR, 0, NULL, 0, NULL, en_accept},
    {"connack_rc", T_INT, 0, NULL, 0, NULL, NULL},
    {"http_status", T_INT | T_STR, 0, NULL, 0, NULL, NULL},
    {"http_body", T_OBJ, K_FREEFORM, NULL, 0, NULL, NULL},
    {"delivered", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"delivered_qos", T_INT, 0, NULL, 0, NULL, NULL},
    {"retained", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"puback", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"upgrade", T_STR, 0, NULL, 0, NULL, en_accept},
    {"suback_rc", T_INT, 0, NULL, 0, NULL, NULL},
    {"disconnected", T_BOOL, 0, NULL, 0, NULL, NULL},
    {"journal_has", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"steps", T_OBJ, K_FREEFORM, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key requirement_fields[] = {
    {"source", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"text", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key variant_fields[] = {
    {"id", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"title", T_STR, 0, NULL, 0, NULL, NULL},
    {"rows", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"tls_versions", T_ARR, 0, NULL, T_STR, NULL, en_tls},
    {"labels", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"client", T_OBJ, 0, client_fields, 0, NULL, NULL},
    {"expect", T_OBJ, 0, expect_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key case_fields[] = {
    {"id", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"title", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"requirement", T_OBJ, K_REQUIRED, requirement_fields, 0, NULL, NULL},
    {"family", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"twin", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"comment", T_STR, 0, NULL, 0, NULL, NULL},
    {"rows", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"ip_families", T_ARR, 0, NULL, T_STR, NULL, en_family},
    {"tls_versions", T_ARR, 0, NULL, T_STR, NULL, en_tls},
    {"profile", T_STR, 0, NULL, 0, NULL, NULL},
    {"labels", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"client", T_OBJ, 0, client_fields, 0, NULL, NULL},
    {"expect", T_OBJ, K_REQUIRED, expect_fields, 0, NULL, NULL},
    {"variants", T_ARR, 0, NULL, T_OBJ, variant_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key defaults_fields[] = {
    {"rows", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"ip_families", T_ARR, 0, NULL, T_STR, NULL, en_family},
    {"tls_versions", T_ARR, 0, NULL, T_STR, NULL, en_tls},
    {"profile", T_STR, 0, NULL, 0, NULL, NULL},
    {"labels", T_ARR, 0, NULL, T_STR, NULL, NULL},
    {"client", T_OBJ, 0, client_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key na_fields[] = {
    {"family", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"rows", T_ARR, K_REQUIRED, NULL, T_STR, NULL, NULL},
    {"reason", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const schema_key top_fields[] = {
    {"format", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"suite", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"title", T_STR, K_REQUIRED, NULL, 0, NULL, NULL},
    {"comment", T_STR, 0, NULL, 0, NULL, NULL},
    {"defaults", T_OBJ, 0, defaults_fields, 0, NULL, NULL},
    {"cases", T_ARR, K_REQUIRED, NULL, T_OBJ, case_fields, NULL},
    {"not_applicable", T_ARR, 0, NULL, T_OBJ, na_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static unsigned schema__type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return T_STR;
    case JSON_INTEGER:
        return T_INT;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    case JSON_NULL:
        return T_NULL;
    case JSON_ARRAY:
        return T_ARR;
    case JSON_OBJECT:
        return T_OBJ;
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

static void schema__check_object(const json_t *obj, const schema_key *fields, const char *file,
                                 const char *path, iotc_diag *d);

static void schema__check_map(const json_t *obj, const schema_key *k, const char *file,
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

static void schema__check_value(const json_t *v, const schema_key *k, const char *file,
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
    if (json_is_object(v) && !(k->flags & K_FREEFORM) && k->fields)
        schema__check_object(v, k->fields, file, path, d);
    if (json_is_object(v) && (k->flags & K_ANYKEY))
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

static void schema__check_object(const json_t *obj, const schema_key *fields, const char *file,
                                 const char *path, iotc_diag *d)
{
    const char *key;
    const json_t *v;
    char sub[512];

    json_object_foreach((json_t *)obj, key, v)
    {
        const schema_key *k = fields;
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
    for (const schema_key *k = fields; k->key; k++)
        if ((k->flags & K_REQUIRED) && !json_object_get(obj, k->key))
            iotc_diag_add(d, "%s: %s.%s: missing required key", file, path, k->key);
}

void iotc_schema_check_object(const json_t *obj, const schema_key *fields, const char *file,
                              const char *path, iotc_diag *d)
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
