/* MQTT 5 properties (MQTT 5 2.2.2.2): iteration, validation, building. */
#include "mqtt_int.h"

enum mqtt__ptype {
    PT_NONE = 0,
    PT_BYTE,
    PT_U16,
    PT_U32,
    PT_VARINT,
    PT_UTF8,
    PT_BIN,
    PT_PAIR,
};

#define B(t) (1u << (t))
#define WILL B(IOTC_MQTT__PROPS_WILL)
#define ACKS (B(IOTC_MQTT_PUBACK) | B(IOTC_MQTT_PUBREC) | B(IOTC_MQTT_PUBREL) | B(IOTC_MQTT_PUBCOMP))

struct mqtt__pdef {
    uint8_t type;
    uint8_t boolean; /* value must be 0 or 1 */
    uint8_t nonzero; /* value 0 is a protocol error */
    uint16_t where;  /* packet types (bit 0: will properties) allowed to carry it */
};

/* Indexed by property id; MQTT 5 table 2-4. */
static const struct mqtt__pdef mqtt__pdefs[0x2B] = {
    [IOTC_MQTT_PROP_PAYLOAD_FORMAT] = {PT_BYTE, 1, 0, B(IOTC_MQTT_PUBLISH) | WILL},
    [IOTC_MQTT_PROP_MESSAGE_EXPIRY] = {PT_U32, 0, 0, B(IOTC_MQTT_PUBLISH) | WILL},
    [IOTC_MQTT_PROP_CONTENT_TYPE] = {PT_UTF8, 0, 0, B(IOTC_MQTT_PUBLISH) | WILL},
    [IOTC_MQTT_PROP_RESPONSE_TOPIC] = {PT_UTF8, 0, 0, B(IOTC_MQTT_PUBLISH) | WILL},
    [IOTC_MQTT_PROP_CORRELATION_DATA] = {PT_BIN, 0, 0, B(IOTC_MQTT_PUBLISH) | WILL},
    [IOTC_MQTT_PROP_SUBSCRIPTION_ID] = {PT_VARINT, 0, 1, B(IOTC_MQTT_PUBLISH) | B(IOTC_MQTT_SUBSCRIBE)},
    [IOTC_MQTT_PROP_SESSION_EXPIRY] = {PT_U32, 0, 0,
                                  B(IOTC_MQTT_CONNECT) | B(IOTC_MQTT_CONNACK) | B(IOTC_MQTT_DISCONNECT)},
    [IOTC_MQTT_PROP_ASSIGNED_CLIENT_ID] = {PT_UTF8, 0, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_SERVER_KEEP_ALIVE] = {PT_U16, 0, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_AUTH_METHOD] = {PT_UTF8, 0, 0, B(IOTC_MQTT_CONNECT) | B(IOTC_MQTT_CONNACK) | B(IOTC_MQTT_AUTH)},
    [IOTC_MQTT_PROP_AUTH_DATA] = {PT_BIN, 0, 0, B(IOTC_MQTT_CONNECT) | B(IOTC_MQTT_CONNACK) | B(IOTC_MQTT_AUTH)},
    [IOTC_MQTT_PROP_REQUEST_PROBLEM_INFO] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNECT)},
    [IOTC_MQTT_PROP_WILL_DELAY] = {PT_U32, 0, 0, WILL},
    [IOTC_MQTT_PROP_REQUEST_RESPONSE_INFO] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNECT)},
    [IOTC_MQTT_PROP_RESPONSE_INFO] = {PT_UTF8, 0, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_SERVER_REFERENCE] = {PT_UTF8, 0, 0, B(IOTC_MQTT_CONNACK) | B(IOTC_MQTT_DISCONNECT)},
    [IOTC_MQTT_PROP_REASON_STRING] = {PT_UTF8, 0, 0,
                                 B(IOTC_MQTT_CONNACK) | ACKS | B(IOTC_MQTT_SUBACK) | B(IOTC_MQTT_UNSUBACK) |
                                     B(IOTC_MQTT_DISCONNECT) | B(IOTC_MQTT_AUTH)},
    [IOTC_MQTT_PROP_RECEIVE_MAXIMUM] = {PT_U16, 0, 1, B(IOTC_MQTT_CONNECT) | B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_TOPIC_ALIAS_MAXIMUM] = {PT_U16, 0, 0, B(IOTC_MQTT_CONNECT) | B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_TOPIC_ALIAS] = {PT_U16, 0, 1, B(IOTC_MQTT_PUBLISH)},
    [IOTC_MQTT_PROP_MAXIMUM_QOS] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_RETAIN_AVAILABLE] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_USER_PROPERTY] = {PT_PAIR, 0, 0, 0xFFFF & ~B(IOTC_MQTT_PINGREQ) & ~B(IOTC_MQTT_PINGRESP)},
    [IOTC_MQTT_PROP_MAXIMUM_PACKET_SIZE] = {PT_U32, 0, 1, B(IOTC_MQTT_CONNECT) | B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_WILDCARD_SUB_AVAILABLE] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_SUB_ID_AVAILABLE] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNACK)},
    [IOTC_MQTT_PROP_SHARED_SUB_AVAILABLE] = {PT_BYTE, 1, 0, B(IOTC_MQTT_CONNACK)},
};

static const struct mqtt__pdef *mqtt__pdef(uint8_t id)
{
    if (id >= sizeof mqtt__pdefs / sizeof mqtt__pdefs[0] || mqtt__pdefs[id].type == PT_NONE)
        return NULL;
    return &mqtt__pdefs[id];
}

int iotc_mqtt_props_next(struct iotc_span props, size_t *cursor, struct iotc_mqtt_prop *prop)
{
    struct iotc_mqtt__rd r = {props.p, props.n, *cursor};
    const struct mqtt__pdef *def;
    uint32_t id;
    uint8_t u8;
    uint16_t u16;
    int rc;

    if (*cursor >= props.n)
        return 0;
    prop->u32 = 0;
    prop->data = prop->value = (struct iotc_span){NULL, 0};
    /* identifiers are varints on the wire even though all defined ones fit one byte */
    rc = iotc_mqtt__rd_varint(&r, &id);
    if (rc)
        return rc;
    if (id > 0xFF || !(def = mqtt__pdef((uint8_t)id)))
        return IOTC_ERR_MALFORMED;
    prop->id = (uint8_t)id;
    switch (def->type) {
    case PT_BYTE:
        rc = iotc_mqtt__rd_u8(&r, &u8);
        prop->u32 = u8;
        break;
    case PT_U16:
        rc = iotc_mqtt__rd_u16(&r, &u16);
        prop->u32 = u16;
        break;
    case PT_U32:
        rc = iotc_mqtt__rd_u32(&r, &prop->u32);
        break;
    case PT_VARINT:
        rc = iotc_mqtt__rd_varint(&r, &prop->u32);
        break;
    case PT_UTF8:
        rc = iotc_mqtt__rd_utf8(&r, &prop->data);
        break;
    case PT_BIN:
        rc = iotc_mqtt__rd_bin(&r, &prop->data);
        break;
    case PT_PAIR:
        rc = iotc_mqtt__rd_utf8(&r, &prop->data);
        if (!rc)
            rc = iotc_mqtt__rd_utf8(&r, &prop->value);
        break;
    default:
        rc = IOTC_ERR_MALFORMED;
    }
    if (rc)
        return rc;
    *cursor = r.pos;
    return 1;
}

int iotc_mqtt_props_validate(struct iotc_span props)
{
    struct iotc_mqtt_prop prop;
    size_t cursor = 0;
    int rc;

    while ((rc = iotc_mqtt_props_next(props, &cursor, &prop)) == 1)
        ;
    return rc < 0 ? rc : IOTC_OK;
}

int iotc_mqtt__props_check(struct iotc_span props, uint8_t ctx)
{
    struct iotc_mqtt_prop prop;
    uint64_t seen = 0;
    size_t cursor = 0;
    int rc;

    while ((rc = iotc_mqtt_props_next(props, &cursor, &prop)) == 1) {
        const struct mqtt__pdef *def = mqtt__pdef(prop.id);
        bool repeatable = prop.id == IOTC_MQTT_PROP_USER_PROPERTY ||
                          (prop.id == IOTC_MQTT_PROP_SUBSCRIPTION_ID && ctx == IOTC_MQTT_PUBLISH);

        /* a property not valid for the packet type is a malformed packet (MQTT 5 2.2.2.2) */
        if (!def || !(def->where & B(ctx)))
            return IOTC_ERR_MALFORMED;
        if (!repeatable && (seen & ((uint64_t)1 << prop.id)))
            return IOTC_ERR_PROTOCOL;
        seen |= (uint64_t)1 << prop.id;
        if (def->boolean && prop.u32 > 1)
            return IOTC_ERR_PROTOCOL;
        if (def->nonzero && prop.u32 == 0)
            return IOTC_ERR_PROTOCOL;
    }
    return rc < 0 ? rc : IOTC_OK;
}

int iotc_mqtt_props_put(struct iotc_buf *block, const struct iotc_mqtt_prop *prop)
{
    const struct mqtt__pdef *def = mqtt__pdef(prop->id);
    size_t mark = block->len;
    int rc;

    if (!def)
        return IOTC_ERR_INVALID;
    rc = iotc_buf_u8(block, prop->id);
    if (rc)
        goto cleanup;
    switch (def->type) {
    case PT_BYTE:
        rc = prop->u32 > 0xFF ? IOTC_ERR_INVALID : iotc_buf_u8(block, (uint8_t)prop->u32);
        break;
    case PT_U16:
        rc = prop->u32 > 0xFFFF ? IOTC_ERR_INVALID : iotc_buf_u16(block, (uint16_t)prop->u32);
        break;
    case PT_U32:
        rc = iotc_buf_u32(block, prop->u32);
        break;
    case PT_VARINT:
        rc = iotc_mqtt_varint_encode(block, prop->u32);
        break;
    case PT_UTF8:
    case PT_BIN:
        rc = iotc_mqtt__put_str(block, prop->data);
        break;
    case PT_PAIR:
        rc = iotc_mqtt__put_str(block, prop->data);
        if (!rc)
            rc = iotc_mqtt__put_str(block, prop->value);
        break;
    default:
        rc = IOTC_ERR_INVALID;
    }
cleanup:
    if (rc)
        block->len = mark;
    return rc;
}

int iotc_mqtt_props_find(struct iotc_span props, uint8_t id, struct iotc_mqtt_prop *prop)
{
    size_t cursor = 0;
    int rc;

    while ((rc = iotc_mqtt_props_next(props, &cursor, prop)) == 1) {
        if (prop->id == id)
            return 1;
    }
    return rc;
}
