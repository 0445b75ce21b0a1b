/* CONNECT (MQTT 3.1 / 3.1.1 3.1, MQTT 5 3.1). */
#include "mqtt_int.h"

#include <string.h>

#define CF_RESERVED       0x01
#define CF_CLEAN          0x02
#define CF_WILL           0x04
#define CF_WILL_QOS_SHIFT 3
#define CF_WILL_RETAIN    0x20
#define CF_PASSWORD       0x40
#define CF_USERNAME       0x80

/*
 * Name and level must agree; an unknown level under a known name is reported as
 * IOTC_ERR_UNSUPPORTED (not malformed) so the endpoint can still answer with the
 * "unacceptable protocol version" CONNACK the specs ask for.
 */
static int mqtt__protocol(struct iotc_span name, uint8_t level)
{
    if (iotc_span_eq_str(name, "MQTT"))
        return level == IOTC_MQTT_V311 || level == IOTC_MQTT_V5 ? IOTC_OK : IOTC_ERR_UNSUPPORTED;
    if (iotc_span_eq_str(name, "MQIsdp"))
        return level == IOTC_MQTT_V31 ? IOTC_OK : IOTC_ERR_UNSUPPORTED;
    return IOTC_ERR_MALFORMED;
}

int iotc_mqtt_connect_parse(const uint8_t *pkt, size_t len, struct iotc_mqtt_connect *c)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    uint8_t flags;
    int rc;

    memset(c, 0, sizeof *c);
    rc = iotc_mqtt__open(pkt, len, IOTC_MQTT_CONNECT, IOTC_MQTT_CONNECT, &r, &fr);
    if (rc)
        return rc;
    if ((rc = iotc_mqtt__rd_bin(&r, &c->protocol_name)) || (rc = iotc_mqtt__rd_u8(&r, &c->version)))
        return rc;
    rc = mqtt__protocol(c->protocol_name, c->version);
    if (rc)
        return rc;
    if ((rc = iotc_mqtt__rd_u8(&r, &flags)) || (rc = iotc_mqtt__rd_u16(&r, &c->keepalive)))
        return rc;

    if (flags & CF_RESERVED)
        return IOTC_ERR_MALFORMED;
    c->clean_start = flags & CF_CLEAN;
    c->will = flags & CF_WILL;
    c->will_qos = (flags >> CF_WILL_QOS_SHIFT) & 3;
    c->will_retain = flags & CF_WILL_RETAIN;
    c->has_username = flags & CF_USERNAME;
    c->has_password = flags & CF_PASSWORD;
    if (c->will_qos == 3)
        return IOTC_ERR_MALFORMED;
    if (!c->will && (c->will_qos || c->will_retain))
        return IOTC_ERR_MALFORMED;
    /* MQTT 3.1.1 [MQTT-3.1.2-22]; MQTT 5 dropped the rule to allow token-only auth */
    if (c->version != IOTC_MQTT_V5 && c->has_password && !c->has_username)
        return IOTC_ERR_MALFORMED;

    if (c->version == IOTC_MQTT_V5 && (rc = iotc_mqtt__rd_props(&r, IOTC_MQTT_CONNECT, &c->props)))
        return rc;
    if ((rc = iotc_mqtt__rd_utf8(&r, &c->client_id)))
        return rc;
    if (c->will) {
        if (c->version == IOTC_MQTT_V5 && (rc = iotc_mqtt__rd_props(&r, IOTC_MQTT__PROPS_WILL, &c->will_props)))
            return rc;
        if ((rc = iotc_mqtt__rd_utf8(&r, &c->will_topic)) || (rc = iotc_mqtt__rd_bin(&r, &c->will_payload)))
            return rc;
        if (!iotc_mqtt_topic_name_valid(c->will_topic))
            return IOTC_ERR_MALFORMED;
    }
    if (c->has_username && (rc = iotc_mqtt__rd_utf8(&r, &c->username)))
        return rc;
    if (c->has_password && (rc = iotc_mqtt__rd_bin(&r, &c->password)))
        return rc;
    if (mqtt__rd_left(&r))
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

int iotc_mqtt_connect_encode(struct iotc_buf *out, const struct iotc_mqtt_connect *c)
{
    struct iotc_span name = c->protocol_name;
    size_t mark = out->len, rem, sz;
    uint8_t flags = 0;
    bool v5 = c->version == IOTC_MQTT_V5;
    int rc = IOTC_ERR_INVALID;

    if (!name.n)
        name = c->version == IOTC_MQTT_V31 ? IOTC_SPAN_LIT("MQIsdp") : IOTC_SPAN_LIT("MQTT");
    if (mqtt__protocol(name, c->version) != IOTC_OK)
        return IOTC_ERR_INVALID;
    if (c->will_qos > 2 || (!c->will && (c->will_qos || c->will_retain)))
        return IOTC_ERR_INVALID;
    if (!v5 && c->has_password && !c->has_username)
        return IOTC_ERR_INVALID;

    flags = (c->clean_start ? CF_CLEAN : 0) | (c->will ? CF_WILL : 0) |
            (uint8_t)(c->will_qos << CF_WILL_QOS_SHIFT) | (c->will_retain ? CF_WILL_RETAIN : 0) |
            (c->has_password ? CF_PASSWORD : 0) | (c->has_username ? CF_USERNAME : 0);

    /* every part is sized first so an unencodable field fails before anything is written */
    struct iotc_span parts[6] = {name, c->client_id};
    size_t nparts = 2;
    if (c->will) {
        parts[nparts++] = c->will_topic;
        parts[nparts++] = c->will_payload;
    }
    if (c->has_username)
        parts[nparts++] = c->username;
    if (c->has_password)
        parts[nparts++] = c->password;
    rem = 1 + 1 + 2; /* level, flags, keep alive */
    for (size_t i = 0; i < nparts; i++) {
        if (!(sz = iotc_mqtt__str_size(parts[i])))
            return IOTC_ERR_INVALID;
        rem += sz;
    }
    if (v5) {
        if (!(sz = iotc_mqtt__props_size(c->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
        if (c->will) {
            if (!(sz = iotc_mqtt__props_size(c->will_props)))
                return IOTC_ERR_TOO_LARGE;
            rem += sz;
        }
    }

    if ((rc = iotc_mqtt__put_fixed(out, IOTC_MQTT_CONNECT << 4, rem)) || (rc = iotc_mqtt__put_str(out, name)) ||
        (rc = iotc_buf_u8(out, c->version)) || (rc = iotc_buf_u8(out, flags)) ||
        (rc = iotc_buf_u16(out, c->keepalive)))
        goto cleanup;
    if (v5 && (rc = iotc_mqtt__put_props(out, c->props)))
        goto cleanup;
    if ((rc = iotc_mqtt__put_str(out, c->client_id)))
        goto cleanup;
    if (c->will) {
        if (v5 && (rc = iotc_mqtt__put_props(out, c->will_props)))
            goto cleanup;
        if ((rc = iotc_mqtt__put_str(out, c->will_topic)) || (rc = iotc_mqtt__put_str(out, c->will_payload)))
            goto cleanup;
    }
    if (c->has_username && (rc = iotc_mqtt__put_str(out, c->username)))
        goto cleanup;
    if (c->has_password && (rc = iotc_mqtt__put_str(out, c->password)))
        goto cleanup;
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
