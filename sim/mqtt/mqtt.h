/*
 * MQTT 3.1.1 and 5 packet codec (no I/O). The front door relays MQTT between a
 * client and mosquitto and must inspect and rewrite packets on the way, which no
 * Debian library offers as a pure codec (libmosquitto hides its framing), so this
 * part is written here. Every parser bounds-checks before each read and never
 * reads past `len`; parsed spans point into the caller's packet buffer.
 */
#ifndef IOTC_MQTT_H
#define IOTC_MQTT_H

#include "../common/buf.h"
#include "../common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
    MQTT_AUTH = 15,
};

/* protocol levels */
#define MQTT_V31  3
#define MQTT_V311 4
#define MQTT_V5   5

#define MQTT_MAX_REMAINING   268435455u /* largest encodable remaining length */
#define MQTT_SUB_MAX_FILTERS 64 /* parser capacity; AWS limit (8) is enforced by the caller */

/* MQTT 5 property identifiers used here */
enum mqtt_prop_id {
    MQTT_PROP_PAYLOAD_FORMAT = 0x01,
    MQTT_PROP_MESSAGE_EXPIRY = 0x02,
    MQTT_PROP_CONTENT_TYPE = 0x03,
    MQTT_PROP_RESPONSE_TOPIC = 0x08,
    MQTT_PROP_CORRELATION_DATA = 0x09,
    MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
    MQTT_PROP_SESSION_EXPIRY = 0x11,
    MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
    MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
    MQTT_PROP_AUTH_METHOD = 0x15,
    MQTT_PROP_AUTH_DATA = 0x16,
    MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
    MQTT_PROP_WILL_DELAY = 0x18,
    MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
    MQTT_PROP_RESPONSE_INFO = 0x1A,
    MQTT_PROP_SERVER_REFERENCE = 0x1C,
    MQTT_PROP_REASON_STRING = 0x1F,
    MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
    MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    MQTT_PROP_TOPIC_ALIAS = 0x23,
    MQTT_PROP_MAXIMUM_QOS = 0x24,
    MQTT_PROP_RETAIN_AVAILABLE = 0x25,
    MQTT_PROP_USER_PROPERTY = 0x26,
    MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
    MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* MQTT 5 reason codes used by the endpoint */
enum mqtt_reason {
    MQTT_RC_SUCCESS = 0x00,
    MQTT_RC_GRANTED_QOS1 = 0x01,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTT_RC_UNSPECIFIED = 0x80,
    MQTT_RC_MALFORMED = 0x81,
    MQTT_RC_PROTOCOL_ERROR = 0x82,
    MQTT_RC_IMPL_SPECIFIC = 0x83,
    MQTT_RC_UNSUPPORTED_VERSION = 0x84,
    MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
    MQTT_RC_BAD_USER_OR_PASSWORD = 0x86,
    MQTT_RC_NOT_AUTHORIZED = 0x87,
    MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    MQTT_RC_SERVER_BUSY = 0x89,
    MQTT_RC_BANNED = 0x8A,
    MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTT_RC_PACKET_TOO_LARGE = 0x95,
    MQTT_RC_QUOTA_EXCEEDED = 0x97,
    MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTT_RC_MAX_CONNECT_TIME = 0xA0,
    MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* MQTT 3.1.1 CONNACK return codes */
enum mqtt3_connack {
    MQTT3_CONNACK_ACCEPTED = 0,
    MQTT3_CONNACK_BAD_VERSION = 1,
    MQTT3_CONNACK_ID_REJECTED = 2,
    MQTT3_CONNACK_UNAVAILABLE = 3,
    MQTT3_CONNACK_BAD_CREDENTIALS = 4,
    MQTT3_CONNACK_NOT_AUTHORIZED = 5,
};

/* Result of locating one packet at the start of a byte stream. */
struct mqtt_frame {
    uint8_t type;      /* upper nibble of the first byte */
    uint8_t flags;     /* lower nibble */
    size_t header_len; /* fixed header: 1 byte + 1..4 bytes of length */
    size_t remaining;  /* remaining length */
    size_t total;      /* header_len + remaining */
};

/*
 * Looks at the start of buf. Returns IOTC_OK when a whole packet is present,
 * IOTC_ERR_AGAIN when more bytes are needed (frame->total is filled in as soon as
 * the length is known, else 0), IOTC_ERR_MALFORMED for a bad type/flags
 * (judged on the first byte alone) or a length encoding over 4 bytes (non-minimal
 * encodings are accepted), IOTC_ERR_TOO_LARGE when total would exceed max_packet
 * (checked as soon as the length is known, before the body arrives; max_packet 0
 * means no limit). frame->type/flags are filled in as soon as one byte is present.
 */
int mqtt_frame_peek(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_frame *frame);

/*
 * For a reader of a buffered stream: head holds the first hn (at most 5) of the avail
 * bytes buffered. 1 when a whole packet (frame->total bytes) is buffered, 0 when more
 * bytes are needed, else the IOTC_ERR_* of mqtt_frame_peek (the stream is broken).
 */
int iotc_mqtt_frame_ready(const uint8_t *head, size_t hn, size_t avail, size_t max_packet,
                          struct mqtt_frame *frame);

/* Variable byte integer: returns bytes consumed (1..4), IOTC_ERR_AGAIN or IOTC_ERR_MALFORMED. */
int mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value);
int mqtt_varint_encode(struct iotc_buf *out, uint32_t value);
size_t mqtt_varint_size(uint32_t value);

/* ---- MQTT 5 properties ---- */
struct mqtt_prop {
    uint8_t id;
    uint32_t u32;           /* byte, two-byte, four-byte and varint values */
    struct iotc_span data;  /* UTF-8 strings and binary data; user property: key */
    struct iotc_span value; /* user property value */
};
/*
 * Iterates a property block (without its length prefix). *cursor starts at 0.
 * Returns 1 with *prop filled, 0 at the end, IOTC_ERR_MALFORMED on a bad property.
 */
int mqtt_props_next(struct iotc_span props, size_t *cursor, struct mqtt_prop *prop);
/* Validates a whole property block (every property well formed, ids known). */
int mqtt_props_validate(struct iotc_span props);
/* Appends one property (to a block being built; the caller adds the length prefix). */
int mqtt_props_put(struct iotc_buf *block, const struct mqtt_prop *prop);
/* Finds the first property with id; returns 1 if found, 0 if not, <0 if malformed. */
int mqtt_props_find(struct iotc_span props, uint8_t id, struct mqtt_prop *prop);

/* ---- CONNECT ---- */
struct mqtt_connect {
    struct iotc_span protocol_name; /* "MQTT" or "MQIsdp" */
    uint8_t version;                /* MQTT_V31, MQTT_V311, MQTT_V5 */
    bool clean_start;
    uint16_t keepalive;
    struct iotc_span props; /* v5 only */
    struct iotc_span client_id;
    bool will;
    uint8_t will_qos;
    bool will_retain;
    struct iotc_span will_props; /* v5 only */
    struct iotc_span will_topic;
    struct iotc_span will_payload;
    bool has_username;
    struct iotc_span username;
    bool has_password;
    struct iotc_span password;
};
/*
 * Parsers (all packet types): pkt/len is the whole packet including the fixed header.
 * Spans point into pkt. Errors: IOTC_ERR_INVALID when the packet is of another type
 * (or version is not 3/4/5), IOTC_ERR_MALFORMED for wire-format violations (truncation,
 * trailing bytes, bad UTF-8, reserved bits, packet id 0, properties not allowed in the
 * packet), IOTC_ERR_PROTOCOL for well-formed but forbidden content (duplicate v5
 * property, out-of-range property value, reason code the packet may not carry).
 * Encoders append a whole packet to out, leave out unchanged on failure, and return
 * IOTC_ERR_INVALID for fields that cannot be encoded (string over 65535 bytes,
 * QoS > 2, packet id 0 where one is needed), IOTC_ERR_TOO_LARGE past 268435455 bytes.
 *
 * mqtt_connect_parse: a known protocol name with an unknown level returns
 * IOTC_ERR_UNSUPPORTED with protocol_name and version filled in, so the caller can
 * answer "unacceptable protocol version" (v3 code 1 / v5 0x84).
 */
int mqtt_connect_parse(const uint8_t *pkt, size_t len, struct mqtt_connect *c);
/* Writes a whole packet (fixed header included), e.g. after rewriting fields. */
int mqtt_connect_encode(struct iotc_buf *out, const struct mqtt_connect *c);

/* ---- CONNACK ---- */
struct mqtt_connack {
    bool session_present;
    uint8_t code; /* v3 return code or v5 reason code */
    struct iotc_span props;
};
int mqtt_connack_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_connack *c);
int mqtt_connack_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_connack *c);

/* ---- PUBLISH ---- */
struct mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    struct iotc_span topic;
    uint16_t packet_id; /* 0 for QoS 0 */
    struct iotc_span props;
    struct iotc_span payload;
};
/* QoS 3 is malformed; QoS 2 parses (the caller refuses it per AWS rules). */
int mqtt_publish_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_publish *p);
int mqtt_publish_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_publish *p);

/* ---- PUBACK / PUBREC / PUBREL / PUBCOMP / UNSUBACK-less acks ---- */
struct mqtt_ack {
    uint8_t type; /* MQTT_PUBACK .. MQTT_PUBCOMP */
    uint16_t packet_id;
    uint8_t reason; /* v5; 0 when absent */
    struct iotc_span props;
};
int mqtt_ack_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_ack *a);
int mqtt_ack_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_ack *a);

/* ---- SUBSCRIBE / UNSUBSCRIBE ---- */
struct mqtt_sub_filter {
    struct iotc_span filter;
    uint8_t options; /* v3: requested QoS; v5: QoS | NL<<2 | RAP<<3 | RH<<4 */
};
struct mqtt_subscribe {
    uint16_t packet_id;
    struct iotc_span props;
    size_t count; /* number of filters in the packet */
    struct mqtt_sub_filter filters[MQTT_SUB_MAX_FILTERS];
};
/*
 * More than MQTT_SUB_MAX_FILTERS filters: IOTC_ERR_TOO_LARGE. Zero filters: malformed.
 * Empty or non-UTF-8 filters are malformed; wildcard placement is NOT checked here
 * (use mqtt_topic_filter_valid per filter, so a failure code can be answered).
 */
int mqtt_subscribe_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_subscribe *s);
int mqtt_subscribe_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_subscribe *s);
/* UNSUBSCRIBE reuses the struct; options are 0. */
int mqtt_unsubscribe_parse(const uint8_t *pkt, size_t len, uint8_t version,
                           struct mqtt_subscribe *s);
int mqtt_unsubscribe_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_subscribe *s);

/* ---- SUBACK / UNSUBACK ---- */
struct mqtt_suback {
    uint8_t type; /* MQTT_SUBACK or MQTT_UNSUBACK */
    uint16_t packet_id;
    struct iotc_span props;
    size_t count;
    uint8_t codes[MQTT_SUB_MAX_FILTERS];
};
int mqtt_suback_parse(const uint8_t *pkt, size_t len, uint8_t version, struct mqtt_suback *s);
int mqtt_suback_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_suback *s);

/* ---- DISCONNECT (and the body-less PINGREQ/PINGRESP) ---- */
struct mqtt_disconnect {
    uint8_t reason; /* v5; 0 for v3 */
    struct iotc_span props;
};
int mqtt_disconnect_parse(const uint8_t *pkt, size_t len, uint8_t version,
                          struct mqtt_disconnect *d);
int mqtt_disconnect_encode(struct iotc_buf *out, uint8_t version, const struct mqtt_disconnect *d);
int mqtt_ping_encode(struct iotc_buf *out, uint8_t type); /* MQTT_PINGREQ or MQTT_PINGRESP */

/* ---- topic rules ---- */
/* Valid topic name: non-empty, valid UTF-8, no NUL, no '+' or '#'. */
bool mqtt_topic_name_valid(struct iotc_span topic);
/* Valid topic filter: '#' only last and alone in its level, '+' alone in its level. */
bool mqtt_topic_filter_valid(struct iotc_span filter);
/* MQTT matching of a topic name against a filter ($-topics not matched by leading wildcards). */
bool mqtt_topic_matches(struct iotc_span filter, struct iotc_span topic);
/* The same as AWS IoT Core matches: a trailing '#' does not match the parent level. */
bool mqtt_topic_matches_aws(struct iotc_span filter, struct iotc_span topic);
/* Strict UTF-8 as MQTT requires (no surrogates, no overlongs, no U+0000). */
bool mqtt_utf8_valid(struct iotc_span s);

const char *mqtt_type_name(uint8_t type);

#endif
