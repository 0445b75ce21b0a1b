/* Field readers and writers shared by the packet files (MQTT 5 1.5 data types). */
#include "mqtt_int.h"

int iotc_mqtt__rd_u8(struct iotc_mqtt__rd *r, uint8_t *v)
{
    if (mqtt__rd_left(r) < 1)
        return IOTC_ERR_MALFORMED;
    *v = r->p[r->pos++];
    return IOTC_OK;
}

int iotc_mqtt__rd_u16(struct iotc_mqtt__rd *r, uint16_t *v)
{
    if (mqtt__rd_left(r) < 2)
        return IOTC_ERR_MALFORMED;
    *v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
    r->pos += 2;
    return IOTC_OK;
}

int iotc_mqtt__rd_u32(struct iotc_mqtt__rd *r, uint32_t *v)
{
    const uint8_t *b;

    if (mqtt__rd_left(r) < 4)
        return IOTC_ERR_MALFORMED;
    b = r->p + r->pos;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    r->pos += 4;
    return IOTC_OK;
}

int iotc_mqtt__rd_varint(struct iotc_mqtt__rd *r, uint32_t *v)
{
    int n = iotc_mqtt_varint_decode(r->p + r->pos, mqtt__rd_left(r), v);

    if (n < 0)
        return IOTC_ERR_MALFORMED;
    r->pos += (size_t)n;
    return IOTC_OK;
}

int iotc_mqtt__rd_bin(struct iotc_mqtt__rd *r, struct iotc_span *s)
{
    uint16_t n;
    int rc = iotc_mqtt__rd_u16(r, &n);

    if (rc)
        return rc;
    if (mqtt__rd_left(r) < n)
        return IOTC_ERR_MALFORMED;
    s->p = r->p + r->pos;
    s->n = n;
    r->pos += n;
    return IOTC_OK;
}

int iotc_mqtt__rd_utf8(struct iotc_mqtt__rd *r, struct iotc_span *s)
{
    int rc = iotc_mqtt__rd_bin(r, s);

    if (rc)
        return rc;
    return iotc_mqtt_utf8_valid(*s) ? IOTC_OK : IOTC_ERR_MALFORMED;
}

int iotc_mqtt__rd_props(struct iotc_mqtt__rd *r, uint8_t ctx, struct iotc_span *props)
{
    uint32_t n;
    int rc = iotc_mqtt__rd_varint(r, &n);

    if (rc)
        return rc;
    if (mqtt__rd_left(r) < n)
        return IOTC_ERR_MALFORMED;
    props->p = r->p + r->pos;
    props->n = n;
    r->pos += n;
    return iotc_mqtt__props_check(*props, ctx);
}

size_t iotc_mqtt__str_size(struct iotc_span s)
{
    if (s.n > 0xFFFF)
        return 0;
    return 2 + s.n;
}

size_t iotc_mqtt__props_size(struct iotc_span props)
{
    size_t v;

    if (props.n > IOTC_MQTT_MAX_REMAINING)
        return 0;
    v = iotc_mqtt_varint_size((uint32_t)props.n);
    return v ? v + props.n : 0;
}

int iotc_mqtt__put_fixed(struct iotc_buf *out, uint8_t byte0, size_t remaining)
{
    int rc;

    if (remaining > IOTC_MQTT_MAX_REMAINING)
        return IOTC_ERR_TOO_LARGE;
    /* one reservation for the whole packet keeps the body writes from reallocating */
    rc = iotc_buf_reserve(out, 1 + iotc_mqtt_varint_size((uint32_t)remaining) + remaining);
    if (rc)
        return rc;
    rc = iotc_buf_u8(out, byte0);
    if (rc)
        return rc;
    return iotc_mqtt_varint_encode(out, (uint32_t)remaining);
}

int iotc_mqtt__put_str(struct iotc_buf *out, struct iotc_span s)
{
    int rc;

    if (s.n > 0xFFFF)
        return IOTC_ERR_INVALID;
    rc = iotc_buf_u16(out, (uint16_t)s.n);
    if (rc)
        return rc;
    return iotc_buf_append(out, s.p, s.n);
}

int iotc_mqtt__put_props(struct iotc_buf *out, struct iotc_span props)
{
    int rc;

    if (props.n > IOTC_MQTT_MAX_REMAINING)
        return IOTC_ERR_TOO_LARGE;
    rc = iotc_mqtt_varint_encode(out, (uint32_t)props.n);
    if (rc)
        return rc;
    return iotc_buf_append(out, props.p, props.n);
}
