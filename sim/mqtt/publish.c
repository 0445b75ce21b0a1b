/* PUBLISH (MQTT 3.1.1 3.3, MQTT 5 3.3). */
#include "mqtt_int.h"

#include <string.h>

#define PF_RETAIN    0x01
#define PF_QOS_SHIFT 1
#define PF_DUP       0x08

int iotc_mqtt_publish_parse(const uint8_t *pkt, size_t len, uint8_t version, struct iotc_mqtt_publish *p)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    struct iotc_mqtt_prop alias;
    int rc;

    memset(p, 0, sizeof *p);
    rc = iotc_mqtt__open_v(pkt, len, version, IOTC_MQTT_PUBLISH, IOTC_MQTT_PUBLISH, &r, &fr);
    if (rc)
        return rc;
    p->dup = fr.flags & PF_DUP;
    p->qos = (fr.flags >> PF_QOS_SHIFT) & 3;
    p->retain = fr.flags & PF_RETAIN;
    /* [MQTT-3.3.1-2]: a QoS 0 message is never a redelivery */
    if (p->qos == 0 && p->dup)
        return IOTC_ERR_MALFORMED;
    if ((rc = iotc_mqtt__rd_utf8(&r, &p->topic)))
        return rc;
    if (p->qos > 0) {
        if ((rc = iotc_mqtt__rd_u16(&r, &p->packet_id)))
            return rc;
        if (p->packet_id == 0)
            return IOTC_ERR_MALFORMED;
    }
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__rd_props(&r, IOTC_MQTT_PUBLISH, &p->props)))
        return rc;
    /* MQTT 5 lets a topic alias stand in for an empty topic name */
    if (p->topic.n == 0 && version == IOTC_MQTT_V5) {
        rc = iotc_mqtt_props_find(p->props, IOTC_MQTT_PROP_TOPIC_ALIAS, &alias);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return IOTC_ERR_MALFORMED;
    } else if (!iotc_mqtt_topic_name_valid(p->topic)) {
        return IOTC_ERR_MALFORMED;
    }
    p->payload.p = r.p + r.pos;
    p->payload.n = mqtt__rd_left(&r);
    return IOTC_OK;
}

int iotc_mqtt_publish_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_publish *p)
{
    size_t mark = out->len, rem, sz;
    uint8_t byte0;
    int rc;

    if (!iotc_mqtt__version_ok(version) || p->qos > 2 || (p->qos > 0 && p->packet_id == 0) ||
        (p->qos == 0 && p->dup))
        return IOTC_ERR_INVALID;
    if (!(rem = iotc_mqtt__str_size(p->topic)))
        return IOTC_ERR_INVALID;
    if (p->qos > 0)
        rem += 2;
    if (version == IOTC_MQTT_V5) {
        if (!(sz = iotc_mqtt__props_size(p->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
    }
    if (p->payload.n > IOTC_MQTT_MAX_REMAINING)
        return IOTC_ERR_TOO_LARGE;
    rem += p->payload.n;
    byte0 = (uint8_t)(IOTC_MQTT_PUBLISH << 4 | (p->dup ? PF_DUP : 0) | p->qos << PF_QOS_SHIFT |
                      (p->retain ? PF_RETAIN : 0));

    if ((rc = iotc_mqtt__put_fixed(out, byte0, rem)) || (rc = iotc_mqtt__put_str(out, p->topic)))
        goto cleanup;
    if (p->qos > 0 && (rc = iotc_buf_u16(out, p->packet_id)))
        goto cleanup;
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__put_props(out, p->props)))
        goto cleanup;
    rc = iotc_buf_append(out, p->payload.p, p->payload.n);
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
