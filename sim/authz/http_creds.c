/*
 * Custom-authorizer credentials on HTTPS and WSS: the same three values as in
 * an MQTT username, as request headers or query parameters (AWS accepts
 * either). A header and a query parameter that disagree are refused rather
 * than one silently winning.
 */
#include "authz_int.h"
#include "common/err.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Header value if present once; *dup set when repeated. */
static const char *http__header_once(const struct iotc_http_req *req, const char *lower, bool *dup)
{
    *dup = iotc_http_header_count(req, lower) > 1;
    return iotc_http_header_get(req, lower);
}

/* Merges the header form of key into the creds field (already set from the query). */
static int http__merge(const struct iotc_http_req *req, const char *key, char **field,
                       iotc_errtext *why)
{
    bool dup = false;
    const char *h = http__header_once(req, key, &dup);
    if (!h)
        return IOTC_OK;
    if (dup)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "header %s is repeated", key);
    if (!*h)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "header %s is empty", key);
    if (*field) {
        if (strcmp(*field, h) != 0)
            return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "%s differs between header and query",
                                    key);
        return IOTC_OK;
    }
    *field = strdup(h);
    return *field ? IOTC_OK : IOTC_ERR_NOMEM;
}

int iotc_authz_from_http(const struct iotc_http_req *req, struct iotc_authz_creds *out,
                         iotc_errtext *why)
{
    int rc = iotc_authz__begin(out, sizeof *out, req != NULL, why);
    if (rc != IOTC_OK)
        return rc;
    if (req->query) {
        rc = iotc_authz__parse_params(req->query, strlen(req->query), out, why);
        if (rc != IOTC_OK)
            goto cleanup;
    }
    rc = http__merge(req, IOTC_AUTHZ_NAME_KEY, &out->authorizer, why);
    if (rc == IOTC_OK)
        rc = http__merge(req, IOTC_AUTHZ_SIG_KEY, &out->signature, why);
cleanup:
    if (rc != IOTC_OK)
        iotc_authz_creds_free(out);
    return rc;
}

const char *iotc_authz_http_token(const struct iotc_http_req *req, const struct iotc_authz_creds *c,
                                  const char *token_key)
{
    if (!req || !token_key)
        return NULL;
    /* Header names are case-insensitive and the reader lower-cases them; the
     * authorizer's token key name may be configured in any case. */
    char lower[128];
    size_t n = strlen(token_key);
    if (n == 0 || n >= sizeof lower)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)token_key[i]);
    const char *h = iotc_http_header_get(req, lower);
    if (h && iotc_http_header_count(req, lower) == 1)
        return h;
    if (h)
        return NULL; /* repeated header: ambiguous */
    return iotc_authz_creds_get(c, token_key);
}
