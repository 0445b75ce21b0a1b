/*
 * The event an authorizer receives (AWS custom-auth "request" shape): token,
 * signatureVerified, protocols, protocolData.{tls,http,mqtt},
 * connectionMetadata.id. Keys that do not apply are left out, as AWS does.
 */
#include "authz_int.h"
#include "common/err.h"

#include <jansson.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets key to a new value, failing on NULL (allocation) values. */
static int req__set(json_t *obj, const char *key, json_t *val)
{
    if (!val)
        return IOTC_ERR_NOMEM;
    return json_object_set_new(obj, key, val) == 0 ? IOTC_OK : IOTC_ERR_NOMEM;
}

static json_t *req__headers(const struct iotc_http_req *req)
{
    json_t *h = json_object();
    for (size_t i = 0; h && i < req->header_count; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        json_t *prev = json_object_get(h, name);
        if (!prev) {
            if (req__set(h, name, json_string(value)) != IOTC_OK)
                goto fail;
            continue;
        }
        /* Repeated field lines combine into one list value (RFC 9110 5.3). */
        size_t n = strlen(json_string_value(prev)) + 2 + strlen(value) + 1;
        char *joined = malloc(n);
        if (!joined)
            goto fail;
        snprintf(joined, n, "%s, %s", json_string_value(prev), value);
        int rc = req__set(h, name, json_string(joined));
        free(joined);
        if (rc != IOTC_OK)
            goto fail;
    }
    return h;
fail:
    json_decref(h);
    return NULL;
}

static json_t *req__b64(const uint8_t *p, size_t n)
{
    char *b = malloc((n + 2) / 3 * 4 + 1);
    if (!b)
        return NULL;
    EVP_EncodeBlock((unsigned char *)b, p, (int)n);
    json_t *s = json_string(b);
    free(b);
    return s;
}

static int req__protocol_data(const struct iotc_authz_request *r, json_t *pd)
{
    int rc = IOTC_OK;
    if (r->tls) {
        json_t *tls = json_object();
        rc = req__set(pd, "tls", tls);
        if (rc == IOTC_OK && r->server_name)
            rc = req__set(tls, "serverName", json_string(r->server_name));
    }
    if (rc == IOTC_OK && r->http && r->req) {
        json_t *http = json_object();
        rc = req__set(pd, "http", http);
        if (rc == IOTC_OK)
            rc = req__set(http, "headers", req__headers(r->req));
        if (rc == IOTC_OK && r->req->query) {
            size_t n = strlen(r->req->query) + 2;
            char *qs = malloc(n);
            if (!qs)
                return IOTC_ERR_NOMEM;
            snprintf(qs, n, "?%s", r->req->query);
            rc = req__set(http, "queryString", json_string(qs));
            free(qs);
        }
    }
    if (rc == IOTC_OK && r->mqtt) {
        json_t *mqtt = json_object();
        rc = req__set(pd, "mqtt", mqtt);
        if (rc == IOTC_OK && r->mqtt_username)
            rc = req__set(mqtt, "username", json_string(r->mqtt_username));
        if (rc == IOTC_OK && r->mqtt_password)
            rc = req__set(mqtt, "password", req__b64(r->mqtt_password, r->mqtt_password_len));
        if (rc == IOTC_OK && r->mqtt_client_id)
            rc = req__set(mqtt, "clientId", json_string(r->mqtt_client_id));
    }
    return rc;
}

char *iotc_authz_request_json(const struct iotc_authz_request *r)
{
    if (!r)
        return NULL;
    char *text = NULL;
    json_t *root = json_object(), *protocols = json_array(), *pd = json_object();
    int rc = (root && protocols && pd) ? IOTC_OK : IOTC_ERR_NOMEM;
    if (rc == IOTC_OK && r->token)
        rc = req__set(root, "token", json_string(r->token));
    if (rc == IOTC_OK)
        rc = req__set(root, "signatureVerified", json_boolean(r->signature_verified));
    const char *names[] = {"tls", "http", "mqtt"};
    const bool on[] = {r->tls, r->http, r->mqtt};
    for (size_t i = 0; rc == IOTC_OK && i < 3; i++)
        if (on[i] && json_array_append_new(protocols, json_string(names[i])) != 0)
            rc = IOTC_ERR_NOMEM;
    if (rc == IOTC_OK)
        rc = req__protocol_data(r, pd);
    if (rc == IOTC_OK) {
        rc = req__set(root, "protocols", protocols);
        protocols = NULL;
    }
    if (rc == IOTC_OK) {
        rc = req__set(root, "protocolData", pd);
        pd = NULL;
    }
    if (rc == IOTC_OK && r->connection_id) {
        json_t *meta = json_object();
        rc = req__set(root, "connectionMetadata", meta);
        if (rc == IOTC_OK)
            rc = req__set(meta, "id", json_string(r->connection_id));
    }
    if (rc == IOTC_OK)
        text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(protocols);
    json_decref(pd);
    json_decref(root);
    return text;
}
