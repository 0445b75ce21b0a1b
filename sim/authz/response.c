/*
 * Strict check of an authorizer's answer (AWS custom-auth "response" shape).
 * Every refusal names the field and the rule, because the reason ends up in
 * the journal and in conformance reports about someone's authorizer.
 */
#include "authz_int.h"
#include "common/err.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

static const char *const resp__known[] = {"isAuthenticated", "principalId", "policyDocuments",
                                          "disconnectAfterInSeconds", "refreshAfterInSeconds"};

static bool resp__known_key(const char *k)
{
    for (size_t i = 0; i < sizeof resp__known / sizeof resp__known[0]; i++)
        if (strcmp(k, resp__known[i]) == 0)
            return true;
    return false;
}

/* UTF-8 characters (code points) in a valid UTF-8 string: continuation bytes
 * are not counted. */
static size_t resp__chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static int resp__principal(json_t *v, struct iotc_authz_response *out, iotc_errtext *why)
{
    if (!json_is_string(v))
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "principalId must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 1 || n > 128)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                "principalId must be 1 to 128 characters (got %zu)", n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                    "principalId may only hold [a-zA-Z0-9] (bad character at %zu)",
                                    i);
    }
    memcpy(out->principal_id, s, n + 1);
    return IOTC_OK;
}

static int resp__policies(json_t *v, struct iotc_authz_response *out, iotc_errtext *why)
{
    if (!json_is_array(v))
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "policyDocuments must be an array");
    size_t n = json_array_size(v);
    if (n > IOTC_AUTHZ_MAX_POLICIES)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                "policyDocuments has %zu entries, at most %d allowed", n,
                                IOTC_AUTHZ_MAX_POLICIES);
    out->policies = calloc(n ? n : 1, sizeof *out->policies);
    if (!out->policies)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *doc = json_array_get(v, i);
        if (!json_is_string(doc))
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                    "policyDocuments[%zu] must be a string (a JSON text)", i);
        const char *text = json_string_value(doc);
        size_t len = json_string_length(doc);
        size_t chars = resp__chars(text, len);
        if (chars > IOTC_AUTHZ_MAX_POLICY_CHARS)
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                    "policyDocuments[%zu] has %zu characters, at most %d allowed",
                                    i, chars, IOTC_AUTHZ_MAX_POLICY_CHARS);
        json_error_t err;
        json_t *policy = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
        if (!policy)
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                    "policyDocuments[%zu] is not valid JSON: %s", i, err.text);
        bool obj = json_is_object(policy);
        json_decref(policy);
        if (!obj)
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                    "policyDocuments[%zu] must be a JSON object", i);
        if (!(out->policies[i] = strdup(text)))
            return IOTC_ERR_NOMEM;
        out->policy_count++;
    }
    return IOTC_OK;
}

static int resp__ttl(json_t *v, const char *name, int *out, iotc_errtext *why)
{
    if (!json_is_integer(v))
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "%s must be an integer", name);
    json_int_t s = json_integer_value(v);
    if (s < IOTC_AUTHZ_MIN_TTL || s > IOTC_AUTHZ_MAX_TTL)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "%s must be %d..%d (got %lld)", name,
                                IOTC_AUTHZ_MIN_TTL, IOTC_AUTHZ_MAX_TTL, (long long)s);
    *out = (int)s;
    return IOTC_OK;
}

static int resp__check(json_t *root, struct iotc_authz_response *out, iotc_errtext *why)
{
    if (!json_is_object(root))
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "response must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (!resp__known_key(key))
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "unknown key \"%.40s\"", key);
    }
    json_t *auth = json_object_get(root, "isAuthenticated");
    if (!auth)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "isAuthenticated is required");
    if (!json_is_boolean(auth))
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "isAuthenticated must be true or false");
    out->authenticated = json_is_true(auth);
    /* Only a positive answer needs the rest: a refusal sets nothing up. */
    for (size_t i = 1; out->authenticated && i < sizeof resp__known / sizeof resp__known[0]; i++)
        if (!json_object_get(root, resp__known[i]))
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why,
                                    "%s is required when isAuthenticated is true", resp__known[i]);
    int rc = IOTC_OK;
    if ((val = json_object_get(root, "principalId")))
        rc = resp__principal(val, out, why);
    if (rc == IOTC_OK && (val = json_object_get(root, "policyDocuments")))
        rc = resp__policies(val, out, why);
    if (rc == IOTC_OK && (val = json_object_get(root, "disconnectAfterInSeconds")))
        rc = resp__ttl(val, "disconnectAfterInSeconds", &out->disconnect_after, why);
    if (rc == IOTC_OK && (val = json_object_get(root, "refreshAfterInSeconds")))
        rc = resp__ttl(val, "refreshAfterInSeconds", &out->refresh_after, why);
    return rc;
}

int iotc_authz_response_parse(const char *text, size_t len, struct iotc_authz_response *out,
                              iotc_errtext *why)
{
    int rc = iotc_authz__begin(out, sizeof *out, text || !len, why);
    if (rc != IOTC_OK)
        return rc;
    if (len == 0)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "empty response");
    json_error_t err;
    /* JSON_REJECT_DUPLICATES: two isAuthenticated keys must not be read as
     * whichever came last. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "not valid JSON (line %d: %s)", err.line,
                                err.text);
    rc = resp__check(root, out, why);
    json_decref(root);
    if (rc != IOTC_OK)
        iotc_authz_response_free(out);
    return rc;
}

void iotc_authz_response_free(struct iotc_authz_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->policy_count; i++)
        free(r->policies[i]);
    free(r->policies);
    memset(r, 0, sizeof *r);
}
