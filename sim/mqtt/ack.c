/* PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 3.1.1 3.4-3.7, MQTT 5 3.4-3.7). */
#include "mqtt_int.h"

#include <string.h>

/* Reason codes each ack may carry (MQTT 5 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1). */
static bool mqtt__reason_ok(uint8_t type, uint8_t rc)
{
    if (type == IOTC_MQTT_PUBREL || type == IOTC_MQTT_PUBCOMP)
        return rc == 0x00 || rc == 0x92;
    switch (rc) {
    case 0x00:
    case 0x10:
    case 0x80:
    case 0x83:
    case 0x87:
    case 0x90:
    case 0x91:
    case 0x97:
    case 0x99:
        return true;
    default:
        return false;
    }
}

static uint8_t mqtt__byte0(uint8_t type)
{
    /* PUBREL is the one ack whose fixed-header flags are 0b0010 */
    return (uint8_t)(type << 4 | (type == IOTC_MQTT_PUBREL ? 0x2 : 0));
}

int iotc_mqtt_ack_parse(const uint8_t *pkt, size_t len, uint8_t version, struct iotc_mqtt_ack *a)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    int rc;

    memset(a, 0, sizeof *a);
    rc = iotc_mqtt__open_v(pkt, len, version, IOTC_MQTT_PUBACK, IOTC_MQTT_PUBCOMP, &r, &fr);
    if (rc)
        return rc;
    a->type = fr.type;
    if ((rc = iotc_mqtt__rd_u16(&r, &a->packet_id)))
        return rc;
    if (a->packet_id == 0)
        return IOTC_ERR_MALFORMED;
    /* v5 may drop the reason (then success) and the property length (then empty) */
    if (version == IOTC_MQTT_V5 && mqtt__rd_left(&r) > 0) {
        if ((rc = iotc_mqtt__rd_u8(&r, &a->reason)))
            return rc;
        if (!mqtt__reason_ok(a->type, a->reason))
            return IOTC_ERR_PROTOCOL;
        if (mqtt__rd_left(&r) > 0 && (rc = iotc_mqtt__rd_props(&r, a->type, &a->props)))
            return rc;
    }
    if (mqtt__rd_left(&r))
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

int iotc_mqtt_ack_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_ack *a)
{
    size_t mark = out->len, rem = 2, sz = 0;
    int rc;

    if (!iotc_mqtt__version_ok(version) || a->type < IOTC_MQTT_PUBACK || a->type > IOTC_MQTT_PUBCOMP ||
        a->packet_id == 0)
        return IOTC_ERR_INVALID;
    /* the shortest form the spec allows, as common brokers send it */
    if (version == IOTC_MQTT_V5 && (a->reason || a->props.n)) {
        rem++;
        if (a->props.n) {
            if (!(sz = iotc_mqtt__props_size(a->props)))
                return IOTC_ERR_TOO_LARGE;
            rem += sz;
        }
    }
    if ((rc = iotc_mqtt__put_fixed(out, mqtt__byte0(a->type), rem)) ||
        (rc = iotc_buf_u16(out, a->packet_id)))
        goto cleanup;
    if (rem > 2 && (rc = iotc_buf_u8(out, a->reason)))
        goto cleanup;
    if (sz && (rc = iotc_mqtt__put_props(out, a->props)))
        goto cleanup;
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
