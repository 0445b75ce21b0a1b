/* SUBACK and UNSUBACK (MQTT 3.1.1 3.9 / 3.11, MQTT 5 3.9 / 3.11). */
#include "mqtt_int.h"

#include <string.h>

/* Codes each ack may carry (MQTT 3.1.1 3.9.3, MQTT 5 3.9.3 and 3.11.3). */
static bool mqtt__code_ok(uint8_t version, uint8_t type, uint8_t c)
{
    if (version != IOTC_MQTT_V5)
        return c <= 2 || c == 0x80;
    if (type == IOTC_MQTT_SUBACK) {
        switch (c) {
        case 0x00:
        case 0x01:
        case 0x02:
        case 0x80:
        case 0x83:
        case 0x87:
        case 0x8F:
        case 0x91:
        case 0x97:
        case 0x9E:
        case 0xA1:
        case 0xA2:
            return true;
        default:
            return false;
        }
    }
    switch (c) {
    case 0x00:
    case 0x11:
    case 0x80:
    case 0x83:
    case 0x87:
    case 0x8F:
    case 0x91:
        return true;
    default:
        return false;
    }
}

int iotc_mqtt_suback_parse(const uint8_t *pkt, size_t len, uint8_t version, struct iotc_mqtt_suback *s)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    uint8_t code;
    int rc;

    memset(s, 0, sizeof *s);
    rc = iotc_mqtt__open_v(pkt, len, version, IOTC_MQTT_SUBACK, IOTC_MQTT_UNSUBACK, &r, &fr);
    if (rc)
        return rc;
    if (fr.type != IOTC_MQTT_SUBACK && fr.type != IOTC_MQTT_UNSUBACK)
        return IOTC_ERR_INVALID;
    s->type = fr.type;
    if ((rc = iotc_mqtt__rd_u16(&r, &s->packet_id)))
        return rc;
    if (s->packet_id == 0)
        return IOTC_ERR_MALFORMED;
    /* a v3 UNSUBACK is nothing but the packet id */
    if (version != IOTC_MQTT_V5 && s->type == IOTC_MQTT_UNSUBACK)
        return mqtt__rd_left(&r) ? IOTC_ERR_MALFORMED : IOTC_OK;
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__rd_props(&r, s->type, &s->props)))
        return rc;
    while (mqtt__rd_left(&r)) {
        if ((rc = iotc_mqtt__rd_u8(&r, &code)))
            return rc;
        if (!mqtt__code_ok(version, s->type, code))
            return IOTC_ERR_PROTOCOL;
        if (s->count == IOTC_MQTT_SUB_MAX_FILTERS)
            return IOTC_ERR_TOO_LARGE;
        s->codes[s->count++] = code;
    }
    if (s->count == 0)
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

int iotc_mqtt_suback_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_suback *s)
{
    size_t mark = out->len, rem = 2, sz;
    bool codes;
    int rc;

    if (!iotc_mqtt__version_ok(version) || (s->type != IOTC_MQTT_SUBACK && s->type != IOTC_MQTT_UNSUBACK) ||
        s->packet_id == 0 || s->count > IOTC_MQTT_SUB_MAX_FILTERS)
        return IOTC_ERR_INVALID;
    codes = version == IOTC_MQTT_V5 || s->type == IOTC_MQTT_SUBACK;
    if (codes && s->count == 0)
        return IOTC_ERR_INVALID;
    if (version == IOTC_MQTT_V5) {
        if (!(sz = iotc_mqtt__props_size(s->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
    }
    if (codes)
        rem += s->count;
    if ((rc = iotc_mqtt__put_fixed(out, (uint8_t)(s->type << 4), rem)) ||
        (rc = iotc_buf_u16(out, s->packet_id)))
        goto cleanup;
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__put_props(out, s->props)))
        goto cleanup;
    if (codes)
        rc = iotc_buf_append(out, s->codes, s->count);
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}
