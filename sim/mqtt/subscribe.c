/* SUBSCRIBE and UNSUBSCRIBE (MQTT 3.1.1 3.8 / 3.10, MQTT 5 3.8 / 3.10). */
#include "mqtt_int.h"

#include <string.h>

/* Subscription options: bits 2-7 reserved in v3; in v5 bits 6-7 and retain handling 3. */
static bool mqtt__options_ok(uint8_t version, uint8_t o)
{
    if ((o & 3) == 3)
        return false;
    if (version != IOTC_MQTT_V5)
        return (o & 0xFC) == 0;
    return (o & 0xC0) == 0 && ((o >> 4) & 3) != 3;
}

/*
 * Filter syntax (wildcard placement) is left to the caller through
 * iotc_mqtt_topic_filter_valid, so an endpoint can answer a per-filter failure code
 * (0x80 / 0x8F) instead of dropping the connection; only the wire format is judged here.
 */
static int mqtt__parse(const uint8_t *pkt, size_t len, uint8_t version, uint8_t type,
                       struct iotc_mqtt_subscribe *s)
{
    struct iotc_mqtt_frame fr;
    struct iotc_mqtt__rd r;
    int rc;

    memset(s, 0, sizeof *s);
    rc = iotc_mqtt__open_v(pkt, len, version, type, type, &r, &fr);
    if (rc)
        return rc;
    if ((rc = iotc_mqtt__rd_u16(&r, &s->packet_id)))
        return rc;
    if (s->packet_id == 0)
        return IOTC_ERR_MALFORMED;
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__rd_props(&r, type, &s->props)))
        return rc;
    while (mqtt__rd_left(&r)) {
        struct iotc_mqtt_sub_filter f = {{NULL, 0}, 0};

        if ((rc = iotc_mqtt__rd_utf8(&r, &f.filter)))
            return rc;
        if (f.filter.n == 0) /* [MQTT-4.7.3-1] */
            return IOTC_ERR_MALFORMED;
        if (type == IOTC_MQTT_SUBSCRIBE) {
            if ((rc = iotc_mqtt__rd_u8(&r, &f.options)))
                return rc;
            if (!mqtt__options_ok(version, f.options))
                return IOTC_ERR_MALFORMED;
        }
        if (s->count == IOTC_MQTT_SUB_MAX_FILTERS)
            return IOTC_ERR_TOO_LARGE;
        s->filters[s->count++] = f;
    }
    if (s->count == 0) /* [MQTT-3.8.3-3], [MQTT-3.10.3-2] */
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

static int mqtt__encode(struct iotc_buf *out, uint8_t version, uint8_t type,
                        const struct iotc_mqtt_subscribe *s)
{
    size_t mark = out->len, rem = 2, sz;
    bool sub = type == IOTC_MQTT_SUBSCRIBE;
    int rc;

    if (!iotc_mqtt__version_ok(version) || s->packet_id == 0 || s->count == 0 ||
        s->count > IOTC_MQTT_SUB_MAX_FILTERS)
        return IOTC_ERR_INVALID;
    if (version == IOTC_MQTT_V5) {
        if (!(sz = iotc_mqtt__props_size(s->props)))
            return IOTC_ERR_TOO_LARGE;
        rem += sz;
    }
    for (size_t i = 0; i < s->count; i++) {
        if (!(sz = iotc_mqtt__str_size(s->filters[i].filter)))
            return IOTC_ERR_INVALID;
        rem += sz + (sub ? 1 : 0);
    }
    if ((rc = iotc_mqtt__put_fixed(out, (uint8_t)(type << 4 | 0x2), rem)) ||
        (rc = iotc_buf_u16(out, s->packet_id)))
        goto cleanup;
    if (version == IOTC_MQTT_V5 && (rc = iotc_mqtt__put_props(out, s->props)))
        goto cleanup;
    for (size_t i = 0; i < s->count; i++) {
        if ((rc = iotc_mqtt__put_str(out, s->filters[i].filter)))
            goto cleanup;
        if (sub && (rc = iotc_buf_u8(out, s->filters[i].options)))
            goto cleanup;
    }
cleanup:
    if (rc)
        out->len = mark;
    return rc;
}

int iotc_mqtt_subscribe_parse(const uint8_t *pkt, size_t len, uint8_t version, struct iotc_mqtt_subscribe *s)
{
    return mqtt__parse(pkt, len, version, IOTC_MQTT_SUBSCRIBE, s);
}

int iotc_mqtt_subscribe_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_subscribe *s)
{
    return mqtt__encode(out, version, IOTC_MQTT_SUBSCRIBE, s);
}

int iotc_mqtt_unsubscribe_parse(const uint8_t *pkt, size_t len, uint8_t version,
                           struct iotc_mqtt_subscribe *s)
{
    return mqtt__parse(pkt, len, version, IOTC_MQTT_UNSUBSCRIBE, s);
}

int iotc_mqtt_unsubscribe_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_subscribe *s)
{
    return mqtt__encode(out, version, IOTC_MQTT_UNSUBSCRIBE, s);
}
