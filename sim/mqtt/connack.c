/* CONNACK (MQTT 3.1.1 3.2, MQTT 5 3.2). */
#include "mqtt_int.h"

#include <string.h>

int mqtt_connack_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_connack *c)
{
    struct mqtt_frame fr;
    struct mqtt__rd r;
    uint8_t flags;
    int rc;

    memset(c, 0, sizeof *c);
    rc = mqtt__open_v(pkt, len, version, MQTT_CONNACK, MQTT_CONNACK, &r, &fr);
    if (rc)
        return rc;
    if ((rc = mqtt__rd_u8(&r, &flags)) || (rc = mqtt__rd_u8(&r, &c->code)))
        return rc;
    if (flags & 0xFE)
        return IOTC_ERR_MALFORMED;
    c->session_present = flags & 1;
    /* unlike the acks, a v5 CONNACK has no short form: the property length is mandatory */
    if (version == MQTT_V5 && (rc = mqtt__rd_props(&r, MQTT_CONNACK, &c->props)))
        return rc;
    if (mqtt__rd_left(&r))
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

int mqtt_connack_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_connack *c)
{
    size_t mark = out->len, rem = 2, sz;
    int rc;

    if (!mqtt__version_ok(version))
        return IOTC_ERR_INVALID;
    if (version == MQTT_V5) {
        if (!(sz = mqtt__props_size(c->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
    }
    if ((rc = mqtt__put_fixed(out, MQTT_CONNACK << 4, rem)) ||
        (rc = iotc_buf_u8(out, c->session_present ? 1 : 0)) || (rc = iotc_buf_u8(out, c->code)))
        goto cleanup;
    if (version == MQTT_V5 && (rc = mqtt__put_props(out, c->props)))
        goto cleanup;
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
