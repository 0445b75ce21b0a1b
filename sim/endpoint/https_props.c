/*
 * HTTPS publish carries MQTT 5 properties (reference section 5): query parameters
 * contentType, responseTopic, messageExpiry, and headers x-amz-mqtt5-user-properties
 * (base64 of a JSON array of {"key":"value"} objects),
 * x-amz-mqtt5-payload-format-indicator (UNSPECIFIED_BYTES | UTF8_DATA) and
 * x-amz-mqtt5-correlation-data (base64). They become the PUBLISH's property block.
 */
#include "session.h"
#include "mqtt/mqtt.h"
#include "common/err.h"
#include "http/http.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strict base64 via OpenSSL: length a multiple of 4, padding trimmed from the result. */
static int props__b64(const char *in, struct iotc_buf *out)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 != 0 || iotc_buf_reserve(out, n / 4 * 3 + 1) != IOTC_OK)
        return IOTC_ERR_MALFORMED;
    int len = EVP_DecodeBlock(out->p, (const unsigned char *)in, (int)n);
    if (len < 0)
        return IOTC_ERR_MALFORMED;
    len -= (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
    out->len = (size_t)len;
    return IOTC_OK;
}

static int props__user(const char *b64, struct iotc_buf *block, iotc_errtext *why)
{
    struct iotc_buf raw = {0};
    json_t *arr = NULL;
    int rc = IOTC_ERR_MALFORMED;
    if (props__b64(b64, &raw) != IOTC_OK) {
        iotc_errtext_set(why, 0, "x-amz-mqtt5-user-properties: not base64");
        goto cleanup;
    }
    arr = json_loadb((const char *)raw.p, raw.len, 0, NULL);
    if (!json_is_array(arr)) {
        iotc_errtext_set(why, 0, "x-amz-mqtt5-user-properties: not a JSON array of objects");
        goto cleanup;
    }
    size_t i;
    json_t *obj;
    json_array_foreach(arr, i, obj)
    {
        const char *key;
        json_t *val;
        if (!json_is_object(obj))
            goto bad;
        json_object_foreach(obj, key, val)
        {
            if (!json_is_string(val))
                goto bad;
            struct iotc_mqtt_prop p = {.id = IOTC_MQTT_PROP_USER_PROPERTY,
                                       .data = iotc_span_str(key),
                                       .value = iotc_span_str(json_string_value(val))};
            if (iotc_mqtt_props_put(block, &p) != IOTC_OK)
                goto bad;
        }
    }
    rc = IOTC_OK;
    goto cleanup;
bad:
    iotc_errtext_set(why, 0, "x-amz-mqtt5-user-properties: entries must be {\"key\":\"value\"}");
cleanup:
    json_decref(arr);
    iotc_buf_free(&raw);
    return rc;
}

int iotc_https_mqtt5_props(const struct iotc_http_req *q, struct iotc_buf *block, iotc_errtext *why)
{
    char *v = NULL;
    int rc = IOTC_OK;
    struct iotc_mqtt_prop p;
    if (iotc_http_query_get(q->query, "contentType", &v) == IOTC_OK) {
        p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_CONTENT_TYPE, .data = iotc_span_str(v)};
        rc = iotc_mqtt_props_put(block, &p);
    }
    free(v);
    v = NULL;
    if (!rc && iotc_http_query_get(q->query, "responseTopic", &v) == IOTC_OK) {
        if (!iotc_mqtt_topic_name_valid(iotc_span_str(v))) {
            iotc_errtext_set(why, 0, "responseTopic is not a valid topic name");
            rc = IOTC_ERR_MALFORMED;
        } else {
            p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_RESPONSE_TOPIC,
                                        .data = iotc_span_str(v)};
            rc = iotc_mqtt_props_put(block, &p);
        }
    }
    free(v);
    v = NULL;
    if (!rc && iotc_http_query_get(q->query, "messageExpiry", &v) == IOTC_OK) {
        char *end;
        unsigned long long secs = strtoull(v, &end, 10);
        if (!*v || *end || v[0] == '-' || secs > UINT32_MAX) {
            iotc_errtext_set(why, 0, "messageExpiry must be whole seconds (0..4294967295)");
            rc = IOTC_ERR_MALFORMED;
        } else {
            p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_MESSAGE_EXPIRY, .u32 = (uint32_t)secs};
            rc = iotc_mqtt_props_put(block, &p);
        }
    }
    free(v);
    const char *h;
    if (!rc && (h = iotc_http_header_get(q, "x-amz-mqtt5-payload-format-indicator"))) {
        bool utf8 = strcmp(h, "UTF8_DATA") == 0;
        if (!utf8 && strcmp(h, "UNSPECIFIED_BYTES") != 0) {
            iotc_errtext_set(why, 0,
                             "x-amz-mqtt5-payload-format-indicator: UNSPECIFIED_BYTES or "
                             "UTF8_DATA");
            rc = IOTC_ERR_MALFORMED;
        } else if (utf8 && !iotc_mqtt_utf8_valid((struct iotc_span){q->body.p, q->body.len})) {
            iotc_errtext_set(why, 0, "payload is not UTF-8 although UTF8_DATA was declared");
            rc = IOTC_ERR_MALFORMED;
        } else {
            p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_PAYLOAD_FORMAT, .u32 = utf8};
            rc = iotc_mqtt_props_put(block, &p);
        }
    }
    if (!rc && (h = iotc_http_header_get(q, "x-amz-mqtt5-correlation-data"))) {
        struct iotc_buf raw = {0};
        if (props__b64(h, &raw) != IOTC_OK) {
            iotc_errtext_set(why, 0, "x-amz-mqtt5-correlation-data: not base64");
            rc = IOTC_ERR_MALFORMED;
        } else {
            p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_CORRELATION_DATA,
                                        .data = {raw.p, raw.len}};
            rc = iotc_mqtt_props_put(block, &p);
        }
        iotc_buf_free(&raw);
    }
    if (!rc && (h = iotc_http_header_get(q, "x-amz-mqtt5-user-properties")))
        rc = props__user(h, block, why);
    if (rc && !iotc_errtext_msg(why)[0])
        iotc_errtext_set(why, 0, "invalid MQTT 5 property");
    return rc;
}
