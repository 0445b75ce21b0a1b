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

enum iotc_mqtt_type {
    IOTC_MQTT_CONNECT = 1,
    IOTC_MQTT_CONNACK = 2,
    IOTC_MQTT_PUBLISH = 3,
    IOTC_MQTT_PUBACK = 4,
    IOTC_MQTT_PUBREC = 5,
    IOTC_MQTT_PUBREL = 6,
    IOTC_MQTT_PUBCOMP = 7,
    IOTC_MQTT_SUBSCRIBE = 8,
    IOTC_MQTT_SUBACK = 9,
    IOTC_MQTT_UNSUBSCRIBE = 10,
    IOTC_MQTT_UNSUBACK = 11,
    IOTC_MQTT_PINGREQ = 12,
    IOTC_MQTT_PINGRESP = 13,
    IOTC_MQTT_DISCONNECT = 14,
    IOTC_MQTT_AUTH = 15,
};

/* protocol levels */
#define IOTC_MQTT_V31  3
#define IOTC_MQTT_V311 4
#define IOTC_MQTT_V5   5

#define IOTC_MQTT_MAX_REMAINING 268435455u /* largest encodable remaining length */
#define IOTC_MQTT_SUB_MAX_FILTERS                                                                  \
    64 /* parser capacity; AWS limit (8) is enforced by the caller                                 \
        */

/* MQTT 5 property identifiers used here */
enum iotc_mqtt_prop_id {
    IOTC_MQTT_PROP_PAYLOAD_FORMAT = 0x01,
    IOTC_MQTT_PROP_MESSAGE_EXPIRY = 0x02,
    IOTC_MQTT_PROP_CONTENT_TYPE = 0x03,
    IOTC_MQTT_PROP_RESPONSE_TOPIC = 0x08,
    IOTC_MQTT_PROP_CORRELATION_DATA = 0x09,
    IOTC_MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
    IOTC_MQTT_PROP_SESSION_EXPIRY = 0x11,
    IOTC_MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
    IOTC_MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
    IOTC_MQTT_PROP_AUTH_METHOD = 0x15,
    IOTC_MQTT_PROP_AUTH_DATA = 0x16,
    IOTC_MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
    IOTC_MQTT_PROP_WILL_DELAY = 0x18,
    IOTC_MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
    IOTC_MQTT_PROP_RESPONSE_INFO = 0x1A,
    IOTC_MQTT_PROP_SERVER_REFERENCE = 0x1C,
    IOTC_MQTT_PROP_REASON_STRING = 0x1F,
    IOTC_MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
    IOTC_MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    IOTC_MQTT_PROP_TOPIC_ALIAS = 0x23,
    IOTC_MQTT_PROP_MAXIMUM_QOS = 0x24,
    IOTC_MQTT_PROP_RETAIN_AVAILABLE = 0x25,
    IOTC_MQTT_PROP_USER_PROPERTY = 0x26,
    IOTC_MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    IOTC_MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    IOTC_MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
    IOTC_MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* MQTT 5 reason codes used by the endpoint */
enum iotc_mqtt_reason {
    IOTC_MQTT_RC_SUCCESS = 0x00,
    IOTC_MQTT_RC_GRANTED_QOS1 = 0x01,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    IOTC_MQTT_RC_UNSPECIFIED = 0x80,
    IOTC_MQTT_RC_MALFORMED = 0x81,
    IOTC_MQTT_RC_PROTOCOL_ERROR = 0x82,
    IOTC_MQTT_RC_IMPL_SPECIFIC = 0x83,
    IOTC_MQTT_RC_UNSUPPORTED_VERSION = 0x84,
    IOTC_MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
    IOTC_MQTT_RC_BAD_USER_OR_PASSWORD = 0x86,
    IOTC_MQTT_RC_NOT_AUTHORIZED = 0x87,
    IOTC_MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    IOTC_MQTT_RC_SERVER_BUSY = 0x89,
    IOTC_MQTT_RC_BANNED = 0x8A,
    IOTC_MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    IOTC_MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    IOTC_MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    IOTC_MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    IOTC_MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
    IOTC_MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    IOTC_MQTT_RC_PACKET_TOO_LARGE = 0x95,
    IOTC_MQTT_RC_QUOTA_EXCEEDED = 0x97,
    IOTC_MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    IOTC_MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    IOTC_MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    IOTC_MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    IOTC_MQTT_RC_MAX_CONNECT_TIME = 0xA0,
    IOTC_MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    IOTC_MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* MQTT 3.1.1 CONNACK return codes */
enum iotc_mqtt_v3_connack {
    IOTC_MQTT_V3_CONNACK_ACCEPTED = 0,
    IOTC_MQTT_V3_CONNACK_BAD_VERSION = 1,
    IOTC_MQTT_V3_CONNACK_ID_REJECTED = 2,
    IOTC_MQTT_V3_CONNACK_UNAVAILABLE = 3,
    IOTC_MQTT_V3_CONNACK_BAD_CREDENTIALS = 4,
    IOTC_MQTT_V3_CONNACK_NOT_AUTHORIZED = 5,
};

/* Result of locating one packet at the start of a byte stream. */
struct iotc_mqtt_frame {
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
int iotc_mqtt_frame_peek(const uint8_t *buf, size_t len, size_t max_packet,
                         struct iotc_mqtt_frame *frame);

/*
 * For a reader of a buffered stream: head holds the first hn (at most 5) of the avail
 * bytes buffered. 1 when a whole packet (frame->total bytes) is buffered, 0 when more
 * bytes are needed, else the IOTC_ERR_* of iotc_mqtt_frame_peek (the stream is broken).
 */
int iotc_mqtt_frame_ready(const uint8_t *head, size_t hn, size_t avail, size_t max_packet,
                          struct iotc_mqtt_frame *frame);

/* Variable byte integer: returns bytes consumed (1..4), IOTC_ERR_AGAIN or IOTC_ERR_MALFORMED. */
int iotc_mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value);
int iotc_mqtt_varint_encode(struct iotc_buf *out, uint32_t value);
size_t iotc_mqtt_varint_size(uint32_t value);

/* ---- MQTT 5 properties ---- */
struct iotc_mqtt_prop {
    uint8_t id;
    uint32_t u32;           /* byte, two-byte, four-byte and varint values */
    struct iotc_span data;  /* UTF-8 strings and binary data; user property: key */
    struct iotc_span value; /* user property value */
};
/*
 * Iterates a property block (without its length prefix). *cursor starts at 0.
 * Returns 1 with *prop filled, 0 at the end, IOTC_ERR_MALFORMED on a bad property.
 */
int iotc_mqtt_props_next(struct iotc_span props, size_t *cursor, struct iotc_mqtt_prop *prop);
/* Validates a whole property block (every property well formed, ids known). */
int iotc_mqtt_props_validate(struct iotc_span props);
/* Appends one property (to a block being built; the caller adds the length prefix). */
int iotc_mqtt_props_put(struct iotc_buf *block, const struct iotc_mqtt_prop *prop);
/* Finds the first property with id; returns 1 if found, 0 if not, <0 if malformed. */
int iotc_mqtt_props_find(struct iotc_span props, uint8_t id, struct iotc_mqtt_prop *prop);

/* ---- CONNECT ---- */
struct iotc_mqtt_connect {
    struct iotc_span protocol_name; /* "MQTT" or "MQIsdp" */
    uint8_t version;                /* IOTC_MQTT_V31, IOTC_MQTT_V311, IOTC_MQTT_V5 */
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
 * iotc_mqtt_connect_parse: a known protocol name with an unknown level returns
 * IOTC_ERR_UNSUPPORTED with protocol_name and version filled in, so the caller can
 * answer "unacceptable protocol version" (v3 code 1 / v5 0x84).
 */
int iotc_mqtt_connect_parse(const uint8_t *pkt, size_t len, struct iotc_mqtt_connect *c);
/* Writes a whole packet (fixed header included), e.g. after rewriting fields. */
int iotc_mqtt_connect_encode(struct iotc_buf *out, const struct iotc_mqtt_connect *c);

/* ---- CONNACK ---- */
struct iotc_mqtt_connack {
    bool session_present;
    uint8_t code; /* v3 return code or v5 reason code */
    struct iotc_span props;
};
int iotc_mqtt_connack_parse(const uint8_t *pkt, size_t len, uint8_t version,
                            struct iotc_mqtt_connack *c);
int iotc_mqtt_connack_encode(struct iotc_buf *out, uint8_t version,
                             const struct iotc_mqtt_connack *c);

/* ---- PUBLISH ---- */
struct iotc_mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    struct iotc_span topic;
    uint16_t packet_id; /* 0 for QoS 0 */
    struct iotc_span props;
    struct iotc_span payload;
};
/* QoS 3 is malformed; QoS 2 parses (the caller refuses it per AWS rules). */
int iotc_mqtt_publish_parse(const uint8_t *pkt, size_t len, uint8_t version,
                            struct iotc_mqtt_publish *p);
int iotc_mqtt_publish_encode(struct iotc_buf *out, uint8_t version,
                             const struct iotc_mqtt_publish *p);

/* ---- PUBACK / PUBREC / PUBREL / PUBCOMP / UNSUBACK-less acks ---- */
struct iotc_mqtt_ack {
    uint8_t type; /* IOTC_MQTT_PUBACK .. IOTC_MQTT_PUBCOMP */
    uint16_t packet_id;
    uint8_t reason; /* v5; 0 when absent */
    struct iotc_span props;
};
int iotc_mqtt_ack_parse(const uint8_t *pkt, size_t len, uint8_t version, struct iotc_mqtt_ack *a);
int iotc_mqtt_ack_encode(struct iotc_buf *out, uint8_t version, const struct iotc_mqtt_ack *a);

/* ---- SUBSCRIBE / UNSUBSCRIBE ---- */
struct iotc_mqtt_sub_filter {
    struct iotc_span filter;
    uint8_t options; /* v3: requested QoS; v5: QoS | NL<<2 | RAP<<3 | RH<<4 */
};
struct iotc_mqtt_subscribe {
    uint16_t packet_id;
    struct iotc_span props;
    size_t count; /* number of filters in the packet */
    struct iotc_mqtt_sub_filter filters[IOTC_MQTT_SUB_MAX_FILTERS];
};
/*
 * More than IOTC_MQTT_SUB_MAX_FILTERS filters: IOTC_ERR_TOO_LARGE. Zero filters: malformed.
 * Empty or non-UTF-8 filters are malformed; wildcard placement is NOT checked here
 * (use iotc_mqtt_topic_filter_valid per filter, so a failure code can be answered).
 */
int iotc_mqtt_subscribe_parse(const uint8_t *pkt, size_t len, uint8_t version,
                              struct iotc_mqtt_subscribe *s);
int iotc_mqtt_subscribe_encode(struct iotc_buf *out, uint8_t version,
                               const struct iotc_mqtt_subscribe *s);
/* UNSUBSCRIBE reuses the struct; options are 0. */
int iotc_mqtt_unsubscribe_parse(const uint8_t *pkt, size_t len, uint8_t version,
                                struct iotc_mqtt_subscribe *s);
int iotc_mqtt_unsubscribe_encode(struct iotc_buf *out, uint8_t version,
                                 const struct iotc_mqtt_subscribe *s);

/* ---- SUBACK / UNSUBACK ---- */
struct iotc_mqtt_suback {
    uint8_t type; /* IOTC_MQTT_SUBACK or IOTC_MQTT_UNSUBACK */
    uint16_t packet_id;
    struct iotc_span props;
    size_t count;
    uint8_t codes[IOTC_MQTT_SUB_MAX_FILTERS];
};
int iotc_mqtt_suback_parse(const uint8_t *pkt, size_t len, uint8_t version,
                           struct iotc_mqtt_suback *s);
int iotc_mqtt_suback_encode(struct iotc_buf *out, uint8_t version,
                            const struct iotc_mqtt_suback *s);

/* ---- DISCONNECT (and the body-less PINGREQ/PINGRESP) ---- */
struct iotc_mqtt_disconnect {
    uint8_t reason; /* v5; 0 for v3 */
    struct iotc_span props;
};
int iotc_mqtt_disconnect_parse(const uint8_t *pkt, size_t len, uint8_t version,
                               struct iotc_mqtt_disconnect *d);
int iotc_mqtt_disconnect_encode(struct iotc_buf *out, uint8_t version,
                                const struct iotc_mqtt_disconnect *d);
int iotc_mqtt_ping_encode(struct iotc_buf *out,
                          uint8_t type); /* IOTC_MQTT_PINGREQ or IOTC_MQTT_PINGRESP */

/* ---- topic rules ---- */
/* Valid topic name: non-empty, valid UTF-8, no NUL, no '+' or '#'. */
bool iotc_mqtt_topic_name_valid(struct iotc_span topic);
/* Valid topic filter: '#' only last and alone in its level, '+' alone in its level. */
bool iotc_mqtt_topic_filter_valid(struct iotc_span filter);
/* MQTT matching of a topic name against a filter ($-topics not matched by leading wildcards). */
bool iotc_mqtt_topic_matches(struct iotc_span filter, struct iotc_span topic);
/* The same as AWS IoT Core matches: a trailing '#' does not match the parent level. */
bool iotc_mqtt_topic_matches_aws(struct iotc_span filter, struct iotc_span topic);
/* Strict UTF-8 as MQTT requires (no surrogates, no overlongs, no U+0000). */
bool iotc_mqtt_utf8_valid(struct iotc_span s);

const char *iotc_mqtt_type_name(uint8_t type);

#endif
