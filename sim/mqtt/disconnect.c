/* DISCONNECT (MQTT 3.1.1 3.14, MQTT 5 3.14) and the body-less PINGREQ / PINGRESP. */
#include "mqtt_int.h"

#include <string.h>

/* MQTT 5 3.14.2.1 */
static bool mqtt__reason_ok(uint8_t rc)
{
    switch (rc) {
    case 0x00:
    case 0x04:
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0x87:
    case 0x89:
    case 0x8B:
    case 0x8D:
    case 0x8E:
    case 0x8F:
    case 0x90:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97:
    case 0x98:
    case 0x99:
    case 0x9A:
    case 0x9B:
    case 0x9C:
    case 0x9D:
    case 0x9E:
    case 0x9F:
    case 0xA0:
    case 0xA1:
    case 0xA2:
        return true;
    default:
        return false;
    }
}

int iotc_mqtt_disconnect_parse(const uint8_t *pkt, size_t len, uint8_t version,
                          struct iotc_mqtt_disconnect *d)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    int rc;

    memset(d, 0, sizeof *d);
    rc = iotc_mqtt__open_v(pkt, len, version, IOTC_MQTT_DISCONNECT, IOTC_MQTT_DISCONNECT, &r, &fr);
    if (rc)
        return rc;
    /* v5 may drop the reason (then normal disconnection) and the property length */
    if (version == IOTC_MQTT_V5 && mqtt__rd_left(&r) > 0) {
        if ((rc = iotc_mqtt__rd_u8(&r, &d->reason)))
            return rc;
        if (!mqtt__reason_ok(d->reason))
            return IOTC_ERR_PROTOCOL;
        if (mqtt__rd_left(&r) > 0 && (rc = iotc_mqtt__rd_props(&r, IOTC_MQTT_DISCONNECT, &d->props)))
            return rc;
    }
    if (mqtt__rd_left(&r))
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

int iotc_mqtt_disconnect_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_disconnect *d)
{
    size_t mark = out->len, rem = 0, sz = 0;
    int rc;

    if (!iotc_mqtt__version_ok(version))
        return IOTC_ERR_INVALID;
    if (version == IOTC_MQTT_V5 && (d->reason || d->props.n)) {
        rem = 1;
        if (d->props.n) {
            if (!(sz = iotc_mqtt__props_size(d->props)))
                return IOTC_ERR_TOO_LARGE;
            rem += sz;
        }
    }
    if ((rc = iotc_mqtt__put_fixed(out, IOTC_MQTT_DISCONNECT << 4, rem)))
        goto cleanup;
    if (rem && (rc = iotc_buf_u8(out, d->reason)))
        goto cleanup;
    if (sz && (rc = iotc_mqtt__put_props(out, d->props)))
        goto cleanup;
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}

int iotc_mqtt_ping_encode(struct iotc_buf *out, uint8_t type)
{
    uint8_t b[2] = {(uint8_t)(type << 4), 0};

    if (type != IOTC_MQTT_PINGREQ && type != IOTC_MQTT_PINGRESP)
        return IOTC_ERR_INVALID;
    return iotc_buf_append(out, b, sizeof b);
}
