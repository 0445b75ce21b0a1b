/* PUBLISH (MQTT 3.1.1 3.3, MQTT 5 3.3). */
#include "mqtt_int.h"

#include <string.h>

#define PF_RETAIN    0x01
#define PF_QOS_SHIFT 1
#define PF_DUP       0x08

int mqtt_publish_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_publish *p)
{
    struct mqtt_frame fr;
    struct mqtt__rd r;
    struct mqtt_prop alias;
    int rc;

    memset(p, 0, sizeof *p);
    rc = mqtt__open_v(pkt, len, version, MQTT_PUBLISH, MQTT_PUBLISH, &r, &fr);
    if (rc)
        return rc;
    p->dup = fr.flags & PF_DUP;
    p->qos = (fr.flags >> PF_QOS_SHIFT) & 3;
    p->retain = fr.flags & PF_RETAIN;
    /* [MQTT-3.3.1-2]: a QoS 0 message is never a redelivery */
    if (p->qos == 0 && p->dup)
        return IOTC_ERR_MALFORMED;
    if ((rc = mqtt__rd_utf8(&r, &p->topic)))
        return rc;
    if (p->qos > 0) {
        if ((rc = mqtt__rd_u16(&r, &p->packet_id)))
            return rc;
        if (p->packet_id == 0)
            return IOTC_ERR_MALFORMED;
    }
    if (version == MQTT_V5 && (rc = mqtt__rd_props(&r, MQTT_PUBLISH, &p->props)))
        return rc;
    /* MQTT 5 lets a topic alias stand in for an empty topic name */
    if (p->topic.n == 0 && version == MQTT_V5) {
        rc = mqtt_props_find(p->props, MQTT_PROP_TOPIC_ALIAS, &alias);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return IOTC_ERR_MALFORMED;
    } else if (!mqtt_topic_name_valid(p->topic)) {
        return IOTC_ERR_MALFORMED;
    }
    p->payload.p = r.p + r.pos;
    p->payload.n = mqtt__rd_left(&r);
    return IOTC_OK;
}

int mqtt_publish_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_publish *p)
{
    size_t mark = out->len, rem, sz;
    uint8_t byte0;
    int rc;

    if (!mqtt__version_ok(version) || p->qos > 2 || (p->qos > 0 && p->packet_id == 0) ||
        (p->qos == 0 && p->dup))
        return IOTC_ERR_INVALID;
    if (!(rem = mqtt__str_size(p->topic)))
        return IOTC_ERR_INVALID;
    if (p->qos > 0)
        rem += 2;
    if (version == MQTT_V5) {
        if (!(sz = mqtt__props_size(p->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
    }
    if (p->payload.n > MQTT_MAX_REMAINING)
        return IOTC_ERR_TOO_LARGE;
    rem += p->payload.n;
    byte0 = (uint8_t)(MQTT_PUBLISH << 4 | (p->dup ? PF_DUP : 0) | p->qos << PF_QOS_SHIFT |
                      (p->retain ? PF_RETAIN : 0));

    if ((rc = mqtt__put_fixed(out, byte0, rem)) || (rc = mqtt__put_str(out, p->topic)))
        goto cleanup;
    if (p->qos > 0 && (rc = iotc_buf_u16(out, p->packet_id)))
        goto cleanup;
    if (version == MQTT_V5 && (rc = mqtt__put_props(out, p->props)))
        goto cleanup;
    rc = iotc_buf_append(out, p->payload.p, p->payload.n);
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
