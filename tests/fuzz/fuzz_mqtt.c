/*
 * Fuzz harness for the MQTT codec. Input: one byte choosing the protocol level
 * (3, 4 or 5), then a byte stream. The stream is framed packet by packet, and
 * the whole stream is also handed to every parser (so parsers meet the wrong
 * packet types and trailing bytes too). Whatever parses is re-encoded; the
 * encoding must parse again and re-encode to the same bytes, otherwise abort().
 */
#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_mqtt: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct iotc_buf enc1, enc2;

static void fuzz__props(struct iotc_span props)
{
    struct iotc_mqtt_prop p;
    size_t cursor = 0;
    int rc;

    CHECK(iotc_mqtt_props_validate(props) == IOTC_OK);
    while ((rc = iotc_mqtt_props_next(props, &cursor, &p)) == 1)
        CHECK(cursor <= props.n);
    CHECK(rc == 0);
}

/* The two encodings of a parsed packet must agree byte for byte. */
static void fuzz__same(void)
{
    CHECK(enc1.len == enc2.len && memcmp(enc1.p, enc2.p, enc1.len) == 0);
}

static void fuzz__connect(const uint8_t *p, size_t n)
{
    struct iotc_mqtt_connect a, b;

    if (iotc_mqtt_connect_parse(p, n, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    fuzz__props(a.will_props);
    iotc_buf_reset(&enc1);
    CHECK(iotc_mqtt_connect_encode(&enc1, &a) == IOTC_OK);
    CHECK(iotc_mqtt_connect_parse(enc1.p, enc1.len, &b) == IOTC_OK);
    /* a minimal length encoding round-trips byte for byte */
    if (enc1.len == n)
        CHECK(memcmp(enc1.p, p, n) == 0);
    iotc_buf_reset(&enc2);
    CHECK(iotc_mqtt_connect_encode(&enc2, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__connack(const uint8_t *p, size_t n, uint8_t v)
{
    struct iotc_mqtt_connack a, b;

    if (iotc_mqtt_connack_parse(p, n, v, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    iotc_buf_reset(&enc1);
    CHECK(iotc_mqtt_connack_encode(&enc1, v, &a) == IOTC_OK);
    CHECK(iotc_mqtt_connack_parse(enc1.p, enc1.len, v, &b) == IOTC_OK);
    iotc_buf_reset(&enc2);
    CHECK(iotc_mqtt_connack_encode(&enc2, v, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__publish(const uint8_t *p, size_t n, uint8_t v)
{
    struct iotc_mqtt_publish a, b;

    if (iotc_mqtt_publish_parse(p, n, v, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    if (a.topic.n) {
        CHECK(iotc_mqtt_topic_name_valid(a.topic));
        CHECK(iotc_mqtt_topic_matches(IOTC_SPAN_LIT("#"), a.topic) == (a.topic.p[0] != '$'));
        CHECK(iotc_mqtt_topic_matches(a.topic, a.topic));
    }
    iotc_buf_reset(&enc1);
    CHECK(iotc_mqtt_publish_encode(&enc1, v, &a) == IOTC_OK);
    CHECK(iotc_mqtt_publish_parse(enc1.p, enc1.len, v, &b) == IOTC_OK);
    iotc_buf_reset(&enc2);
    CHECK(iotc_mqtt_publish_encode(&enc2, v, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__ack(const uint8_t *p, size_t n, uint8_t v)
{
    struct iotc_mqtt_ack a, b;

    if (iotc_mqtt_ack_parse(p, n, v, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    iotc_buf_reset(&enc1);
    CHECK(iotc_mqtt_ack_encode(&enc1, v, &a) == IOTC_OK);
    CHECK(iotc_mqtt_ack_parse(enc1.p, enc1.len, v, &b) == IOTC_OK);
    iotc_buf_reset(&enc2);
    CHECK(iotc_mqtt_ack_encode(&enc2, v, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__subscribe(const uint8_t *p, size_t n, uint8_t v, bool unsub)
{
    static struct iotc_mqtt_subscribe a, b;
    int (*parse)(const uint8_t *, size_t, uint8_t, struct iotc_mqtt_subscribe *) =
        unsub ? iotc_mqtt_unsubscribe_parse : iotc_mqtt_subscribe_parse;
    int (*encode)(struct iotc_buf *, uint8_t, const struct iotc_mqtt_subscribe *) =
        unsub ? iotc_mqtt_unsubscribe_encode : iotc_mqtt_subscribe_encode;

    if (parse(p, n, v, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    for (size_t i = 0; i < a.count; i++) {
        struct iotc_span f = a.filters[i].filter;

        CHECK(iotc_mqtt_utf8_valid(f));
        /* a valid filter with no wildcard is a topic name that it matches */
        if (iotc_mqtt_topic_filter_valid(f) && iotc_mqtt_topic_name_valid(f))
            CHECK(iotc_mqtt_topic_matches(f, f));
        if (i > 0)
            (void)iotc_mqtt_topic_matches(f, a.filters[i - 1].filter);
    }
    iotc_buf_reset(&enc1);
    CHECK(encode(&enc1, v, &a) == IOTC_OK);
    CHECK(parse(enc1.p, enc1.len, v, &b) == IOTC_OK);
    CHECK(b.count == a.count);
    iotc_buf_reset(&enc2);
    CHECK(encode(&enc2, v, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__suback(const uint8_t *p, size_t n, uint8_t v)
{
    static struct iotc_mqtt_suback a, b;

    if (iotc_mqtt_suback_parse(p, n, v, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    iotc_buf_reset(&enc1);
    CHECK(iotc_mqtt_suback_encode(&enc1, v, &a) == IOTC_OK);
    CHECK(iotc_mqtt_suback_parse(enc1.p, enc1.len, v, &b) == IOTC_OK);
    CHECK(b.count == a.count);
    iotc_buf_reset(&enc2);
    CHECK(iotc_mqtt_suback_encode(&enc2, v, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__disconnect(const uint8_t *p, size_t n, uint8_t v)
{
    struct iotc_mqtt_disconnect a, b;

    if (iotc_mqtt_disconnect_parse(p, n, v, &a) != IOTC_OK)
        return;
    fuzz__props(a.props);
    iotc_buf_reset(&enc1);
    CHECK(iotc_mqtt_disconnect_encode(&enc1, v, &a) == IOTC_OK);
    CHECK(iotc_mqtt_disconnect_parse(enc1.p, enc1.len, v, &b) == IOTC_OK);
    iotc_buf_reset(&enc2);
    CHECK(iotc_mqtt_disconnect_encode(&enc2, v, &b) == IOTC_OK);
    fuzz__same();
}

static void fuzz__all(const uint8_t *p, size_t n, uint8_t v)
{
    fuzz__connect(p, n);
    fuzz__connack(p, n, v);
    fuzz__publish(p, n, v);
    fuzz__ack(p, n, v);
    fuzz__subscribe(p, n, v, false);
    fuzz__subscribe(p, n, v, true);
    fuzz__suback(p, n, v);
    fuzz__disconnect(p, n, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {0, 2, 64, 128 * 1024};
    struct iotc_mqtt_frame f;
    size_t off = 0;
    uint8_t v;

    if (size < 1)
        return 0;
    v = (uint8_t)(IOTC_MQTT_V31 + data[0] % 3);
    data++;
    size--;

    /* every limit answers consistently with the unlimited frame */
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        int rc = iotc_mqtt_frame_peek(data, size, limits[i], &f);

        CHECK(rc == IOTC_OK || rc == IOTC_ERR_AGAIN || rc == IOTC_ERR_MALFORMED ||
              rc == IOTC_ERR_TOO_LARGE);
        if (rc == IOTC_OK)
            CHECK(f.total <= size && f.header_len + f.remaining == f.total);
        if (rc == IOTC_ERR_TOO_LARGE)
            CHECK(limits[i] && f.total > limits[i]);
    }

    fuzz__all(data, size, v);
    /* the stream as a client would send it: packet after packet */
    while (off < size && iotc_mqtt_frame_peek(data + off, size - off, 0, &f) == IOTC_OK) {
        CHECK(f.total > 0 && f.total <= size - off);
        (void)iotc_mqtt_type_name(f.type);
        fuzz__all(data + off, f.total, v);
        off += f.total;
    }
    {
        uint32_t val;
        int n = iotc_mqtt_varint_decode(data, size, &val);

        if (n > 0) {
            CHECK(val <= IOTC_MQTT_MAX_REMAINING && (size_t)n >= iotc_mqtt_varint_size(val));
        }
    }
    return 0;
}
