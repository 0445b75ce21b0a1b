/*
 * MQTT 5 properties for the session driver: what a step's "properties" asks a PUBLISH
 * to carry (user properties, request/response, message expiry, topic alias), and the
 * properties of received packets as observations (the CONNACK's advertised limits, a
 * PUBLISH's user properties, response topic, correlation data and remaining expiry).
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sess.h"

/* Every CONNACK property a case may judge, by its observation name. Absent ones are
 * observed as null: MQTT 5 gives absence a meaning (3.2.2.3: e.g. Shared Subscription
 * Available absent = available, Receive Maximum absent = 65535). */
static const struct {
    uint8_t id;
    const char *name;
} props__connack[] = {
    {IOTC_MQTT_PROP_SESSION_EXPIRY, "session_expiry"},
    {IOTC_MQTT_PROP_RECEIVE_MAXIMUM, "receive_maximum"},
    {IOTC_MQTT_PROP_MAXIMUM_QOS, "maximum_qos"},
    {IOTC_MQTT_PROP_RETAIN_AVAILABLE, "retain_available"},
    {IOTC_MQTT_PROP_MAXIMUM_PACKET_SIZE, "maximum_packet_size"},
    {IOTC_MQTT_PROP_TOPIC_ALIAS_MAXIMUM, "topic_alias_maximum"},
    {IOTC_MQTT_PROP_WILDCARD_SUB_AVAILABLE, "wildcard_subscription_available"},
    {IOTC_MQTT_PROP_SUB_ID_AVAILABLE, "subscription_identifiers_available"},
    {IOTC_MQTT_PROP_SHARED_SUB_AVAILABLE, "shared_subscription_available"},
    {IOTC_MQTT_PROP_SERVER_KEEP_ALIVE, "server_keep_alive"},
};

json_t *iotc_runner_sess_props_connack(const struct iotc_buf *props)
{
    json_t *o = json_object();
    struct iotc_span sp = {props->p, props->len};
    for (size_t i = 0; i < sizeof props__connack / sizeof props__connack[0]; i++) {
        struct iotc_mqtt_prop p;
        json_object_set_new(o, props__connack[i].name,
                            iotc_mqtt_props_find(sp, props__connack[i].id, &p) == 1
                                ? json_integer((json_int_t)p.u32)
                                : json_null());
    }
    return o;
}

static json_t *props__str(struct iotc_span s)
{
    return json_stringn((const char *)s.p, s.n);
}

void iotc_runner_sess_props_publish(const uint8_t *props, size_t len, json_t *o)
{
    struct iotc_span sp = {props, len};
    json_t *user = json_array();
    json_t *rt = json_null(), *cd = json_null(), *exp = json_null(), *ct = json_null();
    struct iotc_mqtt_prop p;
    size_t cur = 0;
    while (props && iotc_mqtt_props_next(sp, &cur, &p) == 1) {
        switch (p.id) {
        case IOTC_MQTT_PROP_USER_PROPERTY:
            json_array_append_new(user,
                                  json_pack("[o, o]", props__str(p.data), props__str(p.value)));
            break;
        case IOTC_MQTT_PROP_RESPONSE_TOPIC:
            json_decref(rt);
            rt = props__str(p.data);
            break;
        case IOTC_MQTT_PROP_CORRELATION_DATA:
            json_decref(cd);
            cd = props__str(p.data);
            break;
        case IOTC_MQTT_PROP_MESSAGE_EXPIRY:
            json_decref(exp);
            exp = json_integer((json_int_t)p.u32);
            break;
        case IOTC_MQTT_PROP_CONTENT_TYPE:
            json_decref(ct);
            ct = props__str(p.data);
            break;
        default:
            break;
        }
    }
    json_object_set_new(o, "user_properties", user);
    json_object_set_new(o, "response_topic", rt);
    json_object_set_new(o, "correlation_data", cd);
    json_object_set_new(o, "message_expiry", exp);
    json_object_set_new(o, "content_type", ct);
}

int iotc_runner_sess_props_build(iotc_runner_sess *s, json_t *spec, struct iotc_buf *out,
                                 char *topics, size_t tlen)
{
    const char *k;
    json_t *v;
    int rc = IOTC_OK;
    size_t used = 0;
    /* Strings are templates; each filled copy lives in topics until the packet is encoded. */
#define PROPS_FILL(src, dst)                                                                       \
    do {                                                                                           \
        if (used >= tlen)                                                                          \
            return IOTC_ERR_CONFIG;                                                                \
        dst = topics + used;                                                                       \
        iotc_runner_sess_fill(s, (src), dst, tlen - used);                                         \
        used += strlen(dst) + 1;                                                                   \
    } while (0)
    json_object_foreach(spec, k, v)
    {
        struct iotc_mqtt_prop p;
        memset(&p, 0, sizeof(p));
        char *a, *b;
        if (strcmp(k, "user") == 0) {
            const char *uk;
            json_t *uv;
            json_object_foreach(v, uk, uv)
            {
                PROPS_FILL(uk, a);
                PROPS_FILL(json_string_value(uv), b);
                p.id = IOTC_MQTT_PROP_USER_PROPERTY;
                p.data = iotc_span_str(a);
                p.value = iotc_span_str(b);
                if ((rc = iotc_mqtt_props_put(out, &p)))
                    return rc;
            }
            continue;
        }
        if (strcmp(k, "response_topic") == 0 || strcmp(k, "correlation_data") == 0 ||
            strcmp(k, "content_type") == 0) {
            PROPS_FILL(json_string_value(v), a);
            p.id = strcmp(k, "response_topic") == 0     ? IOTC_MQTT_PROP_RESPONSE_TOPIC
                   : strcmp(k, "correlation_data") == 0 ? IOTC_MQTT_PROP_CORRELATION_DATA
                                                        : IOTC_MQTT_PROP_CONTENT_TYPE;
            p.data = iotc_span_str(a);
        } else {
            p.id = strcmp(k, "message_expiry") == 0 ? IOTC_MQTT_PROP_MESSAGE_EXPIRY
                                                    : IOTC_MQTT_PROP_TOPIC_ALIAS;
            p.u32 = (uint32_t)json_integer_value(v);
        }
        if ((rc = iotc_mqtt_props_put(out, &p)))
            return rc;
    }
#undef PROPS_FILL
    return rc;
}

/* Appends printf output at *o; IOTC_ERR_CONFIG when it does not fit. */
static int props__cat(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int props__cat(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *o)
        return IOTC_ERR_CONFIG;
    *o += (size_t)n;
    return IOTC_OK;
}

/* RFC 3986 unreserved characters stay, everything else is %XX (a query value). */
static int props__qval(char *buf, size_t len, size_t *o, const char *v)
{
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        int rc = isalnum(ch) || strchr("-._~", ch) ? props__cat(buf, len, o, "%c", ch)
                                                   : props__cat(buf, len, o, "%%%02X", ch);
        if (rc)
            return rc;
    }
    return IOTC_OK;
}

static int props__b64(char *buf, size_t len, size_t *o, const char *v)
{
    size_t n = strlen(v);
    if ((n + 2) / 3 * 4 + 1 > len - *o)
        return IOTC_ERR_CONFIG;
    *o += (size_t)EVP_EncodeBlock((unsigned char *)buf + *o, (const unsigned char *)v, (int)n);
    return IOTC_OK;
}

/* One query parameter: a template string, or the integer message expiry. */
static int props__param(iotc_runner_sess *s, json_t *spec, const char *key, const char *param,
                        char *query, size_t qlen, size_t *qo)
{
    char val[1024];
    json_t *v = json_object_get(spec, key);
    int rc = IOTC_OK;
    if (json_is_integer(v))
        rc = props__cat(query, qlen, qo, "&%s=%lld", param, (long long)json_integer_value(v));
    else if (json_is_string(v)) {
        iotc_runner_sess_fill(s, json_string_value(v), val, sizeof(val));
        rc = props__cat(query, qlen, qo, "&%s=", param);
        if (rc == IOTC_OK)
            rc = props__qval(query, qlen, qo, val);
    }
    return rc;
}

int iotc_runner_sess_props_http(iotc_runner_sess *s, json_t *spec, int qos, int retain, char *query,
                                size_t qlen, char *headers, size_t hlen)
{
    char val[1024];
    size_t qo = 0, ho = 0;
    /* Parameters in code-point order, as SigV4's canonical query has them: libcurl 7.88's
     * signer signs the query as written, so any other order fails its signature. */
    int rc = props__param(s, spec, "content_type", "contentType", query, qlen, &qo);
    if (rc == IOTC_OK)
        rc = props__param(s, spec, "message_expiry", "messageExpiry", query, qlen, &qo);
    if (rc == IOTC_OK)
        rc = props__cat(query, qlen, &qo, "&qos=%d", qos);
    if (rc == IOTC_OK)
        rc = props__param(s, spec, "response_topic", "responseTopic", query, qlen, &qo);
    if (rc == IOTC_OK && retain)
        rc = props__cat(query, qlen, &qo, "&retain=true");
    if (rc == IOTC_OK)
        memmove(query, query + 1, qo); /* the first '&' (and the NUL after the last byte) */
    headers[0] = '\0';
    json_t *user = json_object_get(spec, "user");
    if (rc == IOTC_OK && json_object_size(user)) {
        json_t *arr = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(user, k, v) json_array_append_new(arr, json_pack("{s:O}", k, v));
        char *text = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        rc =
            text ? props__cat(headers, hlen, &ho, "x-amz-mqtt5-user-properties: ") : IOTC_ERR_NOMEM;
        if (rc == IOTC_OK)
            rc = props__b64(headers, hlen, &ho, text);
        if (rc == IOTC_OK)
            rc = props__cat(headers, hlen, &ho, "\r\n");
        free(text);
    }
    const char *cd = json_string_value(json_object_get(spec, "correlation_data"));
    if (rc == IOTC_OK && cd) {
        iotc_runner_sess_fill(s, cd, val, sizeof(val));
        rc = props__cat(headers, hlen, &ho, "x-amz-mqtt5-correlation-data: ");
        if (rc == IOTC_OK)
            rc = props__b64(headers, hlen, &ho, val);
        if (rc == IOTC_OK)
            rc = props__cat(headers, hlen, &ho, "\r\n");
    }
    return rc;
}
