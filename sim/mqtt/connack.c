/* CONNACK (MQTT 3.1.1 3.2, MQTT 5 3.2). */
#include "mqtt_int.h"

#include <string.h>

int iotc_mqtt_connack_parse(const uint8_t *pkt, size_t len, uint8_t version, struct iotc_mqtt_connack *c)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    uint8_t flags;
    int rc;

    memset(c, 0, sizeof *c);
    rc = iotc_mqtt__open_v(pkt, len, version, IOTC_MQTT_CONNACK, IOTC_MQTT_CONNACK, &r, &fr);
    if (rc)
        return rc;
    if ((rc = iotc_mqtt__rd_u8(&r, &flags)) || (rc = iotc_mqtt__rd_u8(&r, &c->code)))
        return rc;
    if (flags & 0xFE)
        return IOTC_ERR_MALFORMED;
    c->session_present = flags & 1;
    /* unlike the acks, a v5 CONNACK has no short form: the property length is mandatory */
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__rd_props(&r, IOTC_MQTT_CONNACK, &c->props)))
        return rc;
    if (mqtt__rd_left(&r))
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

int iotc_mqtt_connack_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_connack *c)
{
    size_t mark = out->len, rem = 2, sz;
    int rc;

    if (!iotc_mqtt__version_ok(version))
        return IOTC_ERR_INVALID;
    if (version == IOTC_MQTT_V5) {
        if (!(sz = iotc_mqtt__props_size(c->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
    }
    if ((rc = iotc_mqtt__put_fixed(out, IOTC_MQTT_CONNACK << 4, rem)) ||
        (rc = iotc_buf_u8(out, c->session_present ? 1 : 0)) || (rc = iotc_buf_u8(out, c->code)))
        goto cleanup;
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__put_props(out, c->props)))
        goto cleanup;
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
