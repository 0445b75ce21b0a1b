/* Fixed header and variable byte integers (MQTT 3.1.1 2.2, MQTT 5 1.5.5 and 2.1). */
#include "mqtt_int.h"

int iotc_mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value)
{
    uint32_t v = 0;

    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return IOTC_ERR_AGAIN;
        v |= (uint32_t)(buf[i] & 0x7F) << (7 * i);
        if (!(buf[i] & 0x80)) {
            *value = v;
            return (int)(i + 1);
        }
    }
    /* a continuation bit on the fourth byte would need a fifth: never valid */
    return IOTC_ERR_MALFORMED;
}

size_t iotc_mqtt_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    if (value <= IOTC_MQTT_MAX_REMAINING)
        return 4;
    return 0;
}

int iotc_mqtt_varint_encode(struct iotc_buf *out, uint32_t value)
{
    uint8_t b[4];
    size_t n = 0;

    if (value > IOTC_MQTT_MAX_REMAINING)
        return IOTC_ERR_TOO_LARGE;
    do {
        b[n] = (uint8_t)(value & 0x7F);
        value >>= 7;
        if (value)
            b[n] |= 0x80;
        n++;
    } while (value);
    return iotc_buf_append(out, b, n);
}

/* Fixed-header flag rules of MQTT 3.1.1 2.2.2 / MQTT 5 2.1.3. */
static int mqtt__flags_ok(uint8_t type, uint8_t flags)
{
    switch (type) {
    case 0:
        return 0;
    case IOTC_MQTT_PUBLISH:
        return ((flags >> 1) & 3) != 3;
    case IOTC_MQTT_PUBREL:
    case IOTC_MQTT_SUBSCRIBE:
    case IOTC_MQTT_UNSUBSCRIBE:
        return flags == 0x2;
    default:
        return flags == 0;
    }
}

int iotc_mqtt_frame_peek(const uint8_t *buf, size_t len, size_t max_packet, struct iotc_mqtt_frame *frame)
{
    uint32_t remaining;
    int n;

    frame->type = frame->flags = 0;
    frame->header_len = frame->remaining = frame->total = 0;
    if (len < 1)
        return IOTC_ERR_AGAIN;
    frame->type = buf[0] >> 4;
    frame->flags = buf[0] & 0x0F;
    /* judged on the first byte alone so garbage is refused before waiting for more */
    if (!mqtt__flags_ok(frame->type, frame->flags))
        return IOTC_ERR_MALFORMED;

    /* non-minimal length encodings are accepted on purpose: some clients emit them */
    n = iotc_mqtt_varint_decode(buf + 1, len - 1, &remaining);
    if (n < 0)
        return n;
    frame->header_len = 1 + (size_t)n;
    frame->remaining = remaining;
    frame->total = frame->header_len + remaining;
    if (max_packet && frame->total > max_packet)
        return IOTC_ERR_TOO_LARGE;
    if (len < frame->total)
        return IOTC_ERR_AGAIN;
    return IOTC_OK;
}

int iotc_mqtt_frame_ready(const uint8_t *head, size_t hn, size_t avail, size_t max_packet,
                          struct iotc_mqtt_frame *frame)
{
    if (hn == 0)
        return 0;
    /* Only the fixed header is peeked: AGAIN with a known total is the normal case. */
    int rc = iotc_mqtt_frame_peek(head, hn, max_packet, frame);
    if (rc == IOTC_ERR_AGAIN && frame->total == 0)
        return 0;
    if (rc != IOTC_OK && rc != IOTC_ERR_AGAIN)
        return rc;
    return avail >= frame->total;
}

int iotc_mqtt__open(const uint8_t *pkt, size_t len, uint8_t type, uint8_t type_hi, struct iotc_mqtt__rd *r,
               struct iotc_mqtt_frame *frame)
{
    int rc;

    if (!pkt)
        return IOTC_ERR_INVALID;
    rc = iotc_mqtt_frame_peek(pkt, len, 0, frame);
    if (rc == IOTC_ERR_AGAIN)
        return IOTC_ERR_MALFORMED; /* the caller claims this is a whole packet */
    if (rc)
        return rc;
    if (frame->type < type || frame->type > type_hi)
        return IOTC_ERR_INVALID;
    if (frame->total != len)
        return IOTC_ERR_MALFORMED;
    r->p = pkt + frame->header_len;
    r->len = frame->remaining;
    r->pos = 0;
    return IOTC_OK;
}

bool iotc_mqtt__version_ok(uint8_t version)
{
    return version == IOTC_MQTT_V31 || version == IOTC_MQTT_V311 || version == IOTC_MQTT_V5;
}

int iotc_mqtt__open_v(const uint8_t *pkt, size_t len, uint8_t version, uint8_t type, uint8_t type_hi,
                 struct iotc_mqtt__rd *r, struct iotc_mqtt_frame *frame)
{
    if (!iotc_mqtt__version_ok(version))
        return IOTC_ERR_INVALID;
    return iotc_mqtt__open(pkt, len, type, type_hi, r, frame);
}
