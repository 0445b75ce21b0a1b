/*
 * Codec internals shared by the per-packet files (not part of the contract).
 * Readers never move past `len`; every reader returns IOTC_ERR_MALFORMED when
 * the field would run past the end, because inside a complete packet a short
 * field is a wire-format error, not a reason to wait for more bytes.
 */
#ifndef IOTC_MQTT_INT_H
#define IOTC_MQTT_INT_H

#include "mqtt.h"

struct iotc_mqtt__rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static inline size_t mqtt__rd_left(const struct iotc_mqtt__rd *r)
{
    return r->len - r->pos;
}

int iotc_mqtt__rd_u8(struct iotc_mqtt__rd *r, uint8_t *v);
int iotc_mqtt__rd_u16(struct iotc_mqtt__rd *r, uint16_t *v);
int iotc_mqtt__rd_u32(struct iotc_mqtt__rd *r, uint32_t *v);
int iotc_mqtt__rd_varint(struct iotc_mqtt__rd *r, uint32_t *v);
/* Two-byte length prefixed binary data. */
int iotc_mqtt__rd_bin(struct iotc_mqtt__rd *r, struct iotc_span *s);
/* Two-byte length prefixed string, checked with iotc_mqtt_utf8_valid. */
int iotc_mqtt__rd_utf8(struct iotc_mqtt__rd *r, struct iotc_span *s);
/* A v5 property block (varint length + properties), checked for packet context ctx. */
int iotc_mqtt__rd_props(struct iotc_mqtt__rd *r, uint8_t ctx, struct iotc_span *props);

/*
 * Opens a whole packet: the fixed header must be valid, of type `type` (or of a
 * type in [type, type_hi]) and describe exactly `len` bytes. On success the reader
 * covers the body and *frame describes the packet.
 */
int iotc_mqtt__open(const uint8_t *pkt, size_t len, uint8_t type, uint8_t type_hi, struct iotc_mqtt__rd *r,
               struct iotc_mqtt_frame *frame);

bool iotc_mqtt__version_ok(uint8_t version);
/* iotc_mqtt__open for a parser of protocol `version`: IOTC_ERR_INVALID for an unknown version,
 * before the packet is looked at. */
int iotc_mqtt__open_v(const uint8_t *pkt, size_t len, uint8_t version, uint8_t type, uint8_t type_hi,
                 struct iotc_mqtt__rd *r, struct iotc_mqtt_frame *frame);

/* Property context for the will properties of CONNECT (no packet type is 0). */
#define IOTC_MQTT__PROPS_WILL 0
/* Checks a property block for a packet context: ids allowed there, no illegal duplicates,
 * values in range. IOTC_ERR_MALFORMED or IOTC_ERR_PROTOCOL on failure. */
int iotc_mqtt__props_check(struct iotc_span props, uint8_t ctx);

/* ---- writers: callers reserve space first and roll back `out->len` on failure ---- */
/* Size of a two-byte length prefixed field; 0 when it cannot be encoded. */
size_t iotc_mqtt__str_size(struct iotc_span s);
/* Size of a property block with its varint length prefix; 0 when it cannot be encoded. */
size_t iotc_mqtt__props_size(struct iotc_span props);
int iotc_mqtt__put_fixed(struct iotc_buf *out, uint8_t byte0, size_t remaining);
int iotc_mqtt__put_str(struct iotc_buf *out, struct iotc_span s);
int iotc_mqtt__put_props(struct iotc_buf *out, struct iotc_span props);

#endif
