/*
 * Unit tests for the MQTT 3.1.1 / 5 codec (sim/mqtt). Packets come from three
 * sources: bytes captured from mosquitto_pub / mosquitto_sub 2.0 against a socket
 * listener (so the codec is proven on what real clients send), hand-written hex
 * from the specs, and the codec's own encoders (round trips).
 */
#include <CUnit/CUnit.h>

#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- captured from mosquitto_pub / mosquitto_sub 2.0 (Debian 12) ---- */
static const uint8_t cap_pub311_connect[] = {
    0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04,
    0x02, 0x00, 0x3c, 0x00, 0x04, 0x70, 0x75, 0x62, 0x31,
};
static const uint8_t cap_pub311_publish[] = {
    0x32, 0x14, 0x00, 0x0c, 0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x73,
    0x2f, 0x74, 0x65, 0x6d, 0x70, 0x00, 0x01, 0x32, 0x31, 0x2e, 0x35,
};
static const uint8_t cap_disconnect[] = {
    0xe0,
    0x00,
};
static const uint8_t cap_sub311_connect[] = {
    0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04,
    0x02, 0x00, 0x3c, 0x00, 0x04, 0x73, 0x75, 0x62, 0x31,
};
static const uint8_t cap_sub311_subscribe[] = {
    0x82, 0x0e, 0x00, 0x01, 0x00, 0x09, 0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x73, 0x2f, 0x23, 0x01,
};
static const uint8_t cap_pub5_connect[] = {
    0x10, 0x19, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x3c, 0x08, 0x11,
    0x00, 0x00, 0x00, 0x3c, 0x21, 0x00, 0x14, 0x00, 0x04, 0x70, 0x75, 0x62, 0x35,
};
static const uint8_t cap_pub5_publish[] = {
    0x32, 0x11, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x01, 0x07,
    0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76, 0x68, 0x69,
};
static const uint8_t cap_sub5_connect[] = {
    0x10, 0x14, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00,
    0x3c, 0x03, 0x21, 0x00, 0x01, 0x00, 0x04, 0x73, 0x75, 0x62, 0x35,
};
static const uint8_t cap_sub5_subscribe[] = {
    0x82, 0x10, 0x00, 0x01, 0x07, 0x26, 0x00, 0x01, 0x73,
    0x00, 0x01, 0x74, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x01,
};
static const uint8_t cap_will311_connect[] = {
    0x10, 0x29, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0xee, 0x00, 0x3c, 0x00, 0x04, 0x70,
    0x75, 0x62, 0x77, 0x00, 0x06, 0x64, 0x65, 0x61, 0x64, 0x2f, 0x78, 0x00, 0x03, 0x62, 0x79,
    0x65, 0x00, 0x04, 0x75, 0x73, 0x65, 0x72, 0x00, 0x04, 0x70, 0x61, 0x73, 0x73,
};
static const uint8_t cap_pub31_connect[] = {
    0x10, 0x11, 0x00, 0x06, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70,
    0x03, 0x02, 0x00, 0x3c, 0x00, 0x03, 0x70, 0x33, 0x31,
};
static const uint8_t cap_will5_connect[] = {
    0x10, 0x32, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0xc6, 0x00, 0x3c, 0x03,
    0x21, 0x00, 0x14, 0x00, 0x02, 0x77, 0x35, 0x0e, 0x26, 0x00, 0x02, 0x77, 0x6b,
    0x00, 0x02, 0x77, 0x76, 0x18, 0x00, 0x00, 0x00, 0x05, 0x00, 0x03, 0x77, 0x2f,
    0x74, 0x00, 0x04, 0x67, 0x6f, 0x6e, 0x65, 0x00, 0x01, 0x75, 0x00, 0x01, 0x70,
};
static const uint8_t cap_pub5_publish_ct[] = {
    0x30, 0x14, 0x00, 0x03, 0x78, 0x2f, 0x79, 0x0d, 0x03, 0x00, 0x0a,
    0x74, 0x65, 0x78, 0x74, 0x2f, 0x70, 0x6c, 0x61, 0x69, 0x6e, 0x7a,
};

/* ---- helpers ---- */

static uint8_t pk[1024];
static size_t pk_len;
static struct iotc_buf out;

/* Hex (spaces allowed) into pk; the packet under test. */
static const uint8_t *hex(const char *s)
{
    pk_len = 0;
    while (*s) {
        unsigned v;
        if (*s == ' ') {
            s++;
            continue;
        }
        if (sscanf(s, "%2x", &v) != 1 || pk_len == sizeof pk)
            abort();
        pk[pk_len++] = (uint8_t)v;
        s += 2;
    }
    return pk;
}

static bool out_is(const uint8_t *p, size_t n)
{
    return out.len == n && memcmp(out.p, p, n) == 0;
}

static bool out_is_hex(const char *s)
{
    hex(s);
    return out_is(pk, pk_len);
}

static struct iotc_span S(const char *s) {
    return iotc_span_str(s);
}

static bool
span_is(struct iotc_span sp, const char *s)
{
    return iotc_span_eq_str(sp, s);
}

static int setup(void)
{
    return 0;
}

static int teardown(void)
{
    iotc_buf_free(&out);
    return 0;
}

/* ---- variable byte integer ---- */

static void test_varint_edges(void)
{
    static const struct {
        uint32_t v;
        const char *hex;
    } t[] = {
        {0, "00"},         {127, "7f"},         {128, "8001"},         {16383, "ff7f"},
        {16384, "808001"}, {2097151, "ffff7f"}, {2097152, "80808001"}, {268435455, "ffffff7f"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint32_t v = 1234;
        hex(t[i].hex);
        CU_ASSERT_EQUAL(iotc_mqtt_varint_decode(pk, pk_len, &v), (int)pk_len);
        CU_ASSERT_EQUAL(v, t[i].v);
        CU_ASSERT_EQUAL(iotc_mqtt_varint_size(t[i].v), pk_len);
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL(iotc_mqtt_varint_encode(&out, t[i].v), IOTC_OK);
        CU_ASSERT_TRUE(out_is(pk, pk_len));
        /* one byte short of the terminator: wait for more */
        CU_ASSERT_EQUAL(iotc_mqtt_varint_decode(pk, pk_len - 1, &v), IOTC_ERR_AGAIN);
    }
}

static void test_varint_malformed(void)
{
    uint32_t v;

    hex("ffffffff01"); /* a fifth byte */
    CU_ASSERT_EQUAL(iotc_mqtt_varint_decode(pk, pk_len, &v), IOTC_ERR_MALFORMED);
    hex("80808080");
    CU_ASSERT_EQUAL(iotc_mqtt_varint_decode(pk, pk_len, &v), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_mqtt_varint_decode(pk, 0, &v), IOTC_ERR_AGAIN);
    hex("8000"); /* non-minimal zero: accepted, two bytes */
    CU_ASSERT_EQUAL(iotc_mqtt_varint_decode(pk, pk_len, &v), 2);
    CU_ASSERT_EQUAL(v, 0);
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_varint_encode(&out, 268435456u), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(iotc_mqtt_varint_size(268435456u), 0);
}

/* ---- fixed header ---- */

static void test_frame_again(void)
{
    struct iotc_mqtt_frame f;

    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, 0, 0, &f), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(f.total, 0);
    hex("30");
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, 1, 0, &f), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(f.type, IOTC_MQTT_PUBLISH);
    CU_ASSERT_EQUAL(f.total, 0);
    hex("30 80");
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, 2, 0, &f), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(f.total, 0);
    hex("30 80 01 00 01 74"); /* 128-byte body, 4 present */
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 0, &f), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(f.header_len, 3);
    CU_ASSERT_EQUAL(f.remaining, 128);
    CU_ASSERT_EQUAL(f.total, 131);
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(cap_pub311_publish, sizeof cap_pub311_publish - 1, 0, &f),
                    IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(f.total, sizeof cap_pub311_publish);
}

static void test_frame_ok(void)
{
    struct iotc_mqtt_frame f;
    uint8_t two[sizeof cap_pub311_publish * 2];

    memcpy(two, cap_pub311_publish, sizeof cap_pub311_publish);
    memcpy(two + sizeof cap_pub311_publish, cap_pub311_publish, sizeof cap_pub311_publish);
    /* a stream holding more than one packet frames only the first */
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(two, sizeof two, 1000, &f), IOTC_OK);
    CU_ASSERT_EQUAL(f.type, IOTC_MQTT_PUBLISH);
    CU_ASSERT_EQUAL(f.flags, 0x2);
    CU_ASSERT_EQUAL(f.header_len, 2);
    CU_ASSERT_EQUAL(f.remaining, 20);
    CU_ASSERT_EQUAL(f.total, sizeof cap_pub311_publish);
    hex("f0 00"); /* AUTH */
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 0, &f), IOTC_OK);
    CU_ASSERT_EQUAL(f.type, IOTC_MQTT_AUTH);
    hex("c0 80 80 80 00"); /* non-minimal zero length: lenient */
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 0, &f), IOTC_OK);
    CU_ASSERT_EQUAL(f.header_len, 5);
    CU_ASSERT_EQUAL(f.total, 5);
    hex("3d 00"); /* PUBLISH dup+qos2+retain: flags are free at this layer */
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 0, &f), IOTC_OK);
}

static void test_frame_too_large(void)
{
    struct iotc_mqtt_frame f;

    hex("30 ff ff ff 7f");
    /* known to be too large before any of the body is here */
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 128 * 1024, &f), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(f.total, 5 + 268435455u);
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 0, &f), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(cap_pub311_publish, sizeof cap_pub311_publish,
                                    sizeof cap_pub311_publish - 1, &f),
                    IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(cap_pub311_publish, sizeof cap_pub311_publish,
                                    sizeof cap_pub311_publish, &f),
                    IOTC_OK);
}

static void test_frame_malformed(void)
{
    struct iotc_mqtt_frame f;
    uint8_t b[2];

    for (unsigned byte0 = 0; byte0 < 256; byte0++) {
        unsigned type = byte0 >> 4, flags = byte0 & 0xF;
        bool ok;

        if (type == 0)
            ok = false;
        else if (type == IOTC_MQTT_PUBLISH)
            ok = ((flags >> 1) & 3) != 3;
        else if (type == IOTC_MQTT_PUBREL || type == IOTC_MQTT_SUBSCRIBE || type == IOTC_MQTT_UNSUBSCRIBE)
            ok = flags == 2;
        else
            ok = flags == 0;
        b[0] = (uint8_t)byte0;
        b[1] = 0;
        /* judged on the first byte alone */
        CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(b, 1, 0, &f), ok ? IOTC_ERR_AGAIN : IOTC_ERR_MALFORMED);
        CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(b, 2, 0, &f), ok ? IOTC_OK : IOTC_ERR_MALFORMED);
    }
    hex("30 ff ff ff ff 01");
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, pk_len, 0, &f), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_mqtt_frame_peek(pk, 5, 0, &f), IOTC_ERR_MALFORMED);
}

/* ---- CONNECT ---- */

static void check_connect_roundtrip(const uint8_t *p, size_t n)
{
    struct iotc_mqtt_connect c;

    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(p, n, &c), IOTC_OK);
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_connect_encode(&out, &c), IOTC_OK);
    CU_ASSERT_TRUE(out_is(p, n));
}

static void test_connect_real_v311(void)
{
    struct iotc_mqtt_connect c;

    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(cap_pub311_connect, sizeof cap_pub311_connect, &c),
                          IOTC_OK);
    CU_ASSERT_TRUE(span_is(c.protocol_name, "MQTT"));
    CU_ASSERT_EQUAL(c.version, IOTC_MQTT_V311);
    CU_ASSERT_TRUE(c.clean_start);
    CU_ASSERT_EQUAL(c.keepalive, 60);
    CU_ASSERT_TRUE(span_is(c.client_id, "pub1"));
    CU_ASSERT_FALSE(c.will);
    CU_ASSERT_FALSE(c.has_username);
    CU_ASSERT_FALSE(c.has_password);
    check_connect_roundtrip(cap_pub311_connect, sizeof cap_pub311_connect);
    check_connect_roundtrip(cap_sub311_connect, sizeof cap_sub311_connect);

    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(cap_will311_connect, sizeof cap_will311_connect, &c),
                          IOTC_OK);
    CU_ASSERT_TRUE(c.will);
    CU_ASSERT_EQUAL(c.will_qos, 1);
    CU_ASSERT_TRUE(c.will_retain);
    CU_ASSERT_TRUE(span_is(c.will_topic, "dead/x"));
    CU_ASSERT_TRUE(span_is(c.will_payload, "bye"));
    CU_ASSERT_TRUE(c.has_username && span_is(c.username, "user"));
    CU_ASSERT_TRUE(c.has_password && span_is(c.password, "pass"));
    check_connect_roundtrip(cap_will311_connect, sizeof cap_will311_connect);
}

static void test_connect_real_v31(void)
{
    struct iotc_mqtt_connect c;

    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(cap_pub31_connect, sizeof cap_pub31_connect, &c),
                          IOTC_OK);
    CU_ASSERT_TRUE(span_is(c.protocol_name, "MQIsdp"));
    CU_ASSERT_EQUAL(c.version, IOTC_MQTT_V31);
    CU_ASSERT_TRUE(span_is(c.client_id, "p31"));
    check_connect_roundtrip(cap_pub31_connect, sizeof cap_pub31_connect);
    /* an empty protocol name is filled in from the version */
    c.protocol_name.n = 0;
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_connect_encode(&out, &c), IOTC_OK);
    CU_ASSERT_TRUE(out_is(cap_pub31_connect, sizeof cap_pub31_connect));
}

static void test_connect_real_v5(void)
{
    struct iotc_mqtt_connect c;
    struct iotc_mqtt_prop p;

    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(cap_pub5_connect, sizeof cap_pub5_connect, &c),
                          IOTC_OK);
    CU_ASSERT_EQUAL(c.version, IOTC_MQTT_V5);
    CU_ASSERT_EQUAL(c.props.n, 8);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(c.props, IOTC_MQTT_PROP_SESSION_EXPIRY, &p), 1);
    CU_ASSERT_EQUAL(p.u32, 60);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(c.props, IOTC_MQTT_PROP_RECEIVE_MAXIMUM, &p), 1);
    CU_ASSERT_EQUAL(p.u32, 20);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(c.props, IOTC_MQTT_PROP_USER_PROPERTY, &p), 0);
    CU_ASSERT_TRUE(span_is(c.client_id, "pub5"));
    check_connect_roundtrip(cap_pub5_connect, sizeof cap_pub5_connect);
    check_connect_roundtrip(cap_sub5_connect, sizeof cap_sub5_connect);

    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(cap_will5_connect, sizeof cap_will5_connect, &c),
                          IOTC_OK);
    CU_ASSERT_TRUE(c.will);
    CU_ASSERT_EQUAL(c.will_qos, 0);
    CU_ASSERT_FALSE(c.will_retain);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(c.will_props, IOTC_MQTT_PROP_USER_PROPERTY, &p), 1);
    CU_ASSERT_TRUE(span_is(p.data, "wk") && span_is(p.value, "wv"));
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(c.will_props, IOTC_MQTT_PROP_WILL_DELAY, &p), 1);
    CU_ASSERT_EQUAL(p.u32, 5);
    CU_ASSERT_TRUE(span_is(c.will_topic, "w/t"));
    CU_ASSERT_TRUE(span_is(c.will_payload, "gone"));
    CU_ASSERT_TRUE(span_is(c.username, "u"));
    CU_ASSERT_TRUE(span_is(c.password, "p"));
    check_connect_roundtrip(cap_will5_connect, sizeof cap_will5_connect);
}

/* Encodes a CONNECT from fields, then parses it back. */
static int connect_build(const struct iotc_mqtt_connect *c)
{
    struct iotc_mqtt_connect back;
    int rc;

    iotc_buf_reset(&out);
    rc = iotc_mqtt_connect_encode(&out, c);
    if (rc)
        return rc;
    return iotc_mqtt_connect_parse(out.p, out.len, &back);
}

static void test_connect_build_v5(void)
{
    struct iotc_buf props = {0}, wprops = {0};
    struct iotc_mqtt_prop p = {.id = IOTC_MQTT_PROP_USER_PROPERTY, .data = S("k\xC3\xA9"), .value = S("v")};
    struct iotc_mqtt_connect c = {.version = IOTC_MQTT_V5, .keepalive = 1200, .client_id = S("dev-1")};
    struct iotc_mqtt_connect back;

    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_MAXIMUM_PACKET_SIZE, .u32 = 131072};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_CONTENT_TYPE, .data = S("json")};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&wprops, &p), IOTC_OK);
    c.props = (struct iotc_span){props.p, props.len};
    c.will = true;
    c.will_qos = 1;
    c.will_props = (struct iotc_span){wprops.p, wprops.len};
    c.will_topic = S("lwt");
    c.will_payload = (struct iotc_span){(const uint8_t *)"\0\1\2", 3};
    c.has_password = true; /* MQTT 5 allows a password without a user name */
    c.password = S("token");
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_encode(&out, &c), IOTC_OK);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connect_parse(out.p, out.len, &back), IOTC_OK);
    CU_ASSERT_EQUAL(back.props.n, props.len);
    CU_ASSERT_EQUAL(memcmp(back.props.p, props.p, props.len), 0);
    CU_ASSERT_EQUAL(back.will_props.n, wprops.len);
    CU_ASSERT_EQUAL(back.will_payload.n, 3);
    CU_ASSERT_FALSE(back.has_username);
    CU_ASSERT_TRUE(span_is(back.password, "token"));
    CU_ASSERT_EQUAL(back.keepalive, 1200);
    CU_ASSERT_FALSE(back.clean_start);

    /* the same in 3.1.1 is refused by the encoder */
    c.version = IOTC_MQTT_V311;
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_ERR_INVALID);
    iotc_buf_free(&props);
    iotc_buf_free(&wprops);
}

/* Each case is a whole CONNECT that must be refused with `rc`. */
static void test_connect_malformed(void)
{
    static const struct {
        const char *why;
        const char *hex;
        int rc;
    } t[] = {
        {"reserved flag", "100f 00044d515454 04 03 003c 0003 616263", IOTC_ERR_MALFORMED},
        {"will qos without will", "100f 00044d515454 04 0a 003c 0003 616263", IOTC_ERR_MALFORMED},
        {"will retain without will", "100f 00044d515454 04 22 003c 0003 616263",
         IOTC_ERR_MALFORMED},
        {"will qos 3", "1015 00044d515454 04 1e 003c 0001 61 0001 74 0003 626f6f",
         IOTC_ERR_MALFORMED},
        {"password without user name 3.1.1", "1012 00044d515454 04 42 003c 0001 61 0003 707764",
         IOTC_ERR_MALFORMED},
        {"password without user name 3.1", "1012 00064d5149736470 03 42 003c 0001 61 0001 70",
         IOTC_ERR_MALFORMED},
        {"unknown protocol name", "100f 00044d515458 04 02 003c 0003 616263", IOTC_ERR_MALFORMED},
        {"MQTT with level 3", "100f 00044d515454 03 02 003c 0003 616263", IOTC_ERR_UNSUPPORTED},
        {"MQTT with level 6", "100f 00044d515454 06 02 003c 0003 616263", IOTC_ERR_UNSUPPORTED},
        {"MQIsdp with level 4", "1011 00064d5149736470 04 02 003c 0003 616263",
         IOTC_ERR_UNSUPPORTED},
        {"trailing byte", "1010 00044d515454 04 02 003c 0003 616263 00", IOTC_ERR_MALFORMED},
        {"client id past the end", "100f 00044d515454 04 02 003c 0004 616263", IOTC_ERR_MALFORMED},
        {"protocol name past the end", "1002 0004", IOTC_ERR_MALFORMED},
        {"no keep alive", "1008 00044d515454 04 02", IOTC_ERR_MALFORMED},
        {"no client id", "100a 00044d515454 04 02 003c", IOTC_ERR_MALFORMED},
        {"client id bad UTF-8", "100f 00044d515454 04 02 003c 0003 61ff63", IOTC_ERR_MALFORMED},
        {"client id with U+0000", "100f 00044d515454 04 02 003c 0003 610063", IOTC_ERR_MALFORMED},
        {"user name bad UTF-8", "1010 00044d515454 04 82 003c 0001 61 0001 c0", IOTC_ERR_MALFORMED},
        {"user name missing", "100e 00044d515454 04 82 003c 0001 61 00", IOTC_ERR_MALFORMED},
        {"password missing", "1010 00044d515454 04 c2 003c 0001 61 0001 75", IOTC_ERR_MALFORMED},
        {"will topic bad UTF-8", "1013 00044d515454 04 06 003c 0001 61 0002 eda0 0000",
         IOTC_ERR_MALFORMED},
        {"will topic with wildcard", "1012 00044d515454 04 06 003c 0001 61 0001 23 0000",
         IOTC_ERR_MALFORMED},
        {"will topic empty", "1011 00044d515454 04 06 003c 0001 61 0000 0000", IOTC_ERR_MALFORMED},
        {"will payload missing", "1010 00044d515454 04 06 003c 0001 61 0001 74",
         IOTC_ERR_MALFORMED},
        {"v5 no property length", "100d 00044d515454 05 02 003c 0001 61", IOTC_ERR_MALFORMED},
        {"v5 properties past the end", "100e 00044d515454 05 02 003c 05 0001 61",
         IOTC_ERR_MALFORMED},
        {"v5 unknown property", "1010 00044d515454 05 02 003c 02 7f00 0001 61", IOTC_ERR_MALFORMED},
        {"v5 topic alias in CONNECT", "1011 00044d515454 05 02 003c 03 230001 0001 61",
         IOTC_ERR_MALFORMED},
        {"v5 session expiry twice", "1018 00044d515454 05 02 003c 0a 110000003c 1100000000 0001 61",
         IOTC_ERR_PROTOCOL},
        {"v5 receive maximum 0", "1011 00044d515454 05 02 003c 03 210000 0001 61",
         IOTC_ERR_PROTOCOL},
        {"v5 request problem info 2", "1010 00044d515454 05 02 003c 02 1702 0001 61",
         IOTC_ERR_PROTOCOL},
        {"v5 will props carry session expiry",
         "1019 00044d515454 05 06 003c 00 0001 61 05 1100000001 0001 74 0000", IOTC_ERR_MALFORMED},
        {"v5 user property value missing", "1014 00044d515454 05 02 003c 06 2600016b0001 0001 61",
         IOTC_ERR_MALFORMED},
        {"v5 user property key bad UTF-8", "1015 00044d515454 05 02 003c 07 260001ff000176 0001 61",
         IOTC_ERR_MALFORMED},
        {"not a CONNECT", "e000", IOTC_ERR_INVALID},
        {"truncated", "100f 00044d515454 04 02 003c 0003 6162", IOTC_ERR_MALFORMED},
    };
    struct iotc_mqtt_connect c;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc;

        hex(t[i].hex);
        rc = iotc_mqtt_connect_parse(pk, pk_len, &c);
        if (rc != t[i].rc)
            fprintf(stderr, "\n  connect case '%s': got %d want %d\n", t[i].why, rc, t[i].rc);
        CU_ASSERT_EQUAL(rc, t[i].rc);
    }
    /* the twin of the unsupported-level cases still tells the caller what was asked */
    hex("100f 00044d515454 06 02 003c 0003 616263");
    CU_ASSERT_EQUAL(iotc_mqtt_connect_parse(pk, pk_len, &c), IOTC_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(c.version, 6);
    CU_ASSERT_TRUE(span_is(c.protocol_name, "MQTT"));
    /* and the positive twins of the flag cases parse */
    hex("1013 00044d515454 05 42 003c 00 0001 61 0003 707764");
    CU_ASSERT_EQUAL(iotc_mqtt_connect_parse(pk, pk_len, &c), IOTC_OK);
    hex("1015 00044d515454 04 36 003c 0001 61 0001 74 0003 626f6f");
    CU_ASSERT_EQUAL(iotc_mqtt_connect_parse(pk, pk_len, &c), IOTC_OK);
    CU_ASSERT_EQUAL(c.will_qos, 2);
    CU_ASSERT_TRUE(c.will_retain);
}

static void test_connect_encode_invalid(void)
{
    static uint8_t big[70000];
    struct iotc_mqtt_connect c = {.version = IOTC_MQTT_V311, .client_id = S("a")};

    c.will_qos = 1; /* without will */
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_ERR_INVALID);
    c.will = true;
    c.will_qos = 3;
    c.will_topic = S("t");
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_ERR_INVALID);
    c.will_qos = 0;
    c.client_id = (struct iotc_span){big, sizeof big};
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(out.len, 0);
    c.client_id = S("a");
    c.version = 7;
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_ERR_INVALID);
    c.version = IOTC_MQTT_V311;
    c.protocol_name = S("MQIsdp");
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_ERR_INVALID);
    c.protocol_name = S("MQTT");
    CU_ASSERT_EQUAL(connect_build(&c), IOTC_OK);
}

/* ---- CONNACK ---- */

static void test_connack(void)
{
    struct iotc_mqtt_connack a = {.session_present = true, .code = 0}, b;
    struct iotc_buf props = {0};
    struct iotc_mqtt_prop p;

    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_connack_encode(&out, IOTC_MQTT_V311, &a), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("20020100"));
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(out.p, out.len, IOTC_MQTT_V311, &b), IOTC_OK);
    CU_ASSERT_TRUE(b.session_present);
    hex("20020005");
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.code, IOTC_MQTT_V3_CONNACK_NOT_AUTHORIZED);
    CU_ASSERT_FALSE(b.session_present);

    /* v5: the AWS CONNACK properties, plus a user property */
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_MAXIMUM_QOS, .u32 = 1};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_SUB_ID_AVAILABLE, .u32 = 0};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_SERVER_KEEP_ALIVE, .u32 = 1200};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_USER_PROPERTY, .data = S("a"), .value = S("b")};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    a = (struct iotc_mqtt_connack){false, IOTC_MQTT_RC_NOT_AUTHORIZED, {props.p, props.len}};
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_connack_encode(&out, IOTC_MQTT_V5, &a), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("2011 00 87 0e 2401 2900 1304b0 26000161000162"));
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connack_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.code, IOTC_MQTT_RC_NOT_AUTHORIZED);
    CU_ASSERT_EQUAL(b.props.n, props.len);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(b.props, IOTC_MQTT_PROP_SERVER_KEEP_ALIVE, &p), 1);
    CU_ASSERT_EQUAL(p.u32, 1200);
    a.props.n = 0;
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_connack_encode(&out, IOTC_MQTT_V5, &a), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("2003008700"));
    iotc_buf_free(&props);

    hex("20020200"); /* reserved acknowledge flag */
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("2003000000"); /* v3 with a property length */
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("20020000"); /* v5 without the property length */
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("200100");
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("2005 0000 02 2402"); /* maximum QoS 2 is not a value it may take */
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_PROTOCOL);
    hex("200500000223ff"); /* topic alias is a PUBLISH property */
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_mqtt_connack_parse(pk, pk_len, 9, &b), IOTC_ERR_INVALID);
}

/* ---- PUBLISH ---- */

static void test_publish_real(void)
{
    struct iotc_mqtt_publish p;
    struct iotc_mqtt_prop prop;

    CU_ASSERT_EQUAL_FATAL(
        iotc_mqtt_publish_parse(cap_pub311_publish, sizeof cap_pub311_publish, IOTC_MQTT_V311, &p), IOTC_OK);
    CU_ASSERT_EQUAL(p.qos, 1);
    CU_ASSERT_FALSE(p.dup);
    CU_ASSERT_FALSE(p.retain);
    CU_ASSERT_TRUE(span_is(p.topic, "sensors/temp"));
    CU_ASSERT_EQUAL(p.packet_id, 1);
    CU_ASSERT_TRUE(span_is(p.payload, "21.5"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V311, &p), IOTC_OK);
    CU_ASSERT_TRUE(out_is(cap_pub311_publish, sizeof cap_pub311_publish));

    CU_ASSERT_EQUAL_FATAL(
        iotc_mqtt_publish_parse(cap_pub5_publish, sizeof cap_pub5_publish, IOTC_MQTT_V5, &p), IOTC_OK);
    CU_ASSERT_TRUE(span_is(p.topic, "a/b"));
    CU_ASSERT_EQUAL(p.packet_id, 1);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(p.props, IOTC_MQTT_PROP_USER_PROPERTY, &prop), 1);
    CU_ASSERT_TRUE(span_is(prop.data, "k") && span_is(prop.value, "v"));
    CU_ASSERT_TRUE(span_is(p.payload, "hi"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_OK);
    CU_ASSERT_TRUE(out_is(cap_pub5_publish, sizeof cap_pub5_publish));

    CU_ASSERT_EQUAL_FATAL(
        iotc_mqtt_publish_parse(cap_pub5_publish_ct, sizeof cap_pub5_publish_ct, IOTC_MQTT_V5, &p), IOTC_OK);
    CU_ASSERT_EQUAL(p.qos, 0);
    CU_ASSERT_EQUAL(p.packet_id, 0);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(p.props, IOTC_MQTT_PROP_CONTENT_TYPE, &prop), 1);
    CU_ASSERT_TRUE(span_is(prop.data, "text/plain"));
    CU_ASSERT_TRUE(span_is(p.payload, "z"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_OK);
    CU_ASSERT_TRUE(out_is(cap_pub5_publish_ct, sizeof cap_pub5_publish_ct));
    /* the same bytes read as 3.1.1 are a topic followed by payload, not properties */
    CU_ASSERT_EQUAL(
        iotc_mqtt_publish_parse(cap_pub5_publish_ct, sizeof cap_pub5_publish_ct, IOTC_MQTT_V311, &p),
        IOTC_OK);
    CU_ASSERT_EQUAL(p.payload.n, 15);
}

static void test_publish_build(void)
{
    static uint8_t payload[200000];
    struct iotc_buf props = {0};
    struct iotc_mqtt_prop prop;
    struct iotc_mqtt_publish p = {.dup = true, .qos = 2, .retain = true, .topic = S("$aws/things/x")};
    struct iotc_mqtt_publish b;

    memset(payload, 'x', sizeof payload);
    p.packet_id = 65535;
    p.payload = (struct iotc_span){payload, sizeof payload};
    prop = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_SUBSCRIPTION_ID, .u32 = 268435455};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
    prop.u32 = 7; /* a PUBLISH may carry several subscription identifiers */
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
    prop = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_CORRELATION_DATA, .data = {payload, 16}};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
    p.props = (struct iotc_span){props.p, props.len};
    for (uint8_t v = IOTC_MQTT_V31; v <= IOTC_MQTT_V5; v++) {
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_publish_encode(&out, v, &p), IOTC_OK);
        CU_ASSERT_EQUAL(out.p[0], 0x3d);
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_publish_parse(out.p, out.len, v, &b), IOTC_OK);
        CU_ASSERT_TRUE(b.dup && b.retain);
        CU_ASSERT_EQUAL(b.qos, 2);
        CU_ASSERT_EQUAL(b.packet_id, 65535);
        CU_ASSERT_EQUAL(b.payload.n, sizeof payload);
        CU_ASSERT_EQUAL(b.props.n, v == IOTC_MQTT_V5 ? props.len : 0);
    }
    /* QoS 0 carries no packet id */
    p = (struct iotc_mqtt_publish){.topic = S("t"), .payload = S("")};
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V311, &p), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("3003000174"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("300400017400"));
    /* invalid requests leave out unchanged */
    p.qos = 1;
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_ERR_INVALID);
    p.qos = 3;
    p.packet_id = 1;
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_ERR_INVALID);
    p.qos = 0;
    p.dup = true;
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_ERR_INVALID);
    p.dup = false;
    p.topic = (struct iotc_span){payload, 65536};
    CU_ASSERT_EQUAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &p), IOTC_ERR_INVALID);
    CU_ASSERT_TRUE(out_is_hex("300400017400"));
    iotc_buf_free(&props);
}

static void test_publish_malformed(void)
{
    static const struct {
        const char *why;
        uint8_t version;
        const char *hex;
        int rc;
    } t[] = {
        {"QoS 1 with packet id 0", IOTC_MQTT_V311, "3205 0001 74 0000", IOTC_ERR_MALFORMED},
        {"QoS 2 with packet id 0", IOTC_MQTT_V5, "3406 0001 74 0000 00", IOTC_ERR_MALFORMED},
        {"QoS 1 without packet id", IOTC_MQTT_V311, "3203 0001 74", IOTC_ERR_MALFORMED},
        {"QoS 3", IOTC_MQTT_V311, "3605 0001 74 0001", IOTC_ERR_MALFORMED},
        {"QoS 0 with DUP", IOTC_MQTT_V311, "3803 0001 74", IOTC_ERR_MALFORMED},
        {"topic past the end", IOTC_MQTT_V311, "3003 0002 74", IOTC_ERR_MALFORMED},
        {"no topic length", IOTC_MQTT_V311, "3001 00", IOTC_ERR_MALFORMED},
        {"empty topic v3", IOTC_MQTT_V311, "3002 0000", IOTC_ERR_MALFORMED},
        {"topic with +", IOTC_MQTT_V311, "3005 0003 612f2b", IOTC_ERR_MALFORMED},
        {"topic with #", IOTC_MQTT_V5, "3006 0003 612f23 00", IOTC_ERR_MALFORMED},
        {"topic bad UTF-8", IOTC_MQTT_V311, "3004 0002 c0af", IOTC_ERR_MALFORMED},
        {"topic with U+0000", IOTC_MQTT_V311, "3004 0002 6100", IOTC_ERR_MALFORMED},
        {"empty topic v5 without alias", IOTC_MQTT_V5, "3003 0000 00", IOTC_ERR_MALFORMED},
        {"v5 no property length", IOTC_MQTT_V5, "3003 0001 74", IOTC_ERR_MALFORMED},
        {"v5 properties past the end", IOTC_MQTT_V5, "3005 0001 74 05 01", IOTC_ERR_MALFORMED},
        {"v5 subscription id 0", IOTC_MQTT_V5, "3006 0001 74 02 0b00", IOTC_ERR_PROTOCOL},
        {"v5 topic alias 0", IOTC_MQTT_V5, "3007 0001 74 03 230000", IOTC_ERR_PROTOCOL},
        {"v5 payload format 2", IOTC_MQTT_V5, "3006 0001 74 02 0102", IOTC_ERR_PROTOCOL},
        {"v5 content type twice", IOTC_MQTT_V5, "300c 0001 74 08 03000161 03000162", IOTC_ERR_PROTOCOL},
        {"v5 session expiry in PUBLISH", IOTC_MQTT_V5, "3009 0001 74 05 1100000001", IOTC_ERR_MALFORMED},
        {"v5 content type bad UTF-8", IOTC_MQTT_V5, "3008 0001 74 04 030001ff", IOTC_ERR_MALFORMED},
        {"v5 property id as 5-byte varint", IOTC_MQTT_V5, "3009 0001 74 05 ffffffff01",
         IOTC_ERR_MALFORMED},
        {"not a PUBLISH", IOTC_MQTT_V311, "40020001", IOTC_ERR_INVALID},
        {"bad version", 6, "3003000174", IOTC_ERR_INVALID},
    };
    struct iotc_mqtt_publish p;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc;

        hex(t[i].hex);
        rc = iotc_mqtt_publish_parse(pk, pk_len, t[i].version, &p);
        if (rc != t[i].rc)
            fprintf(stderr, "\n  publish case '%s': got %d want %d\n", t[i].why, rc, t[i].rc);
        CU_ASSERT_EQUAL(rc, t[i].rc);
    }
    /* positive twins */
    hex("3006 0000 03 230001"); /* empty topic with an alias */
    CU_ASSERT_EQUAL(iotc_mqtt_publish_parse(pk, pk_len, IOTC_MQTT_V5, &p), IOTC_OK);
    CU_ASSERT_EQUAL(p.topic.n, 0);
    hex("3a05 0001 74 0001"); /* DUP on QoS 1 */
    CU_ASSERT_EQUAL(iotc_mqtt_publish_parse(pk, pk_len, IOTC_MQTT_V311, &p), IOTC_OK);
    CU_ASSERT_TRUE(p.dup);
    hex("3004 0002 c3a9"); /* U+00E9 */
    CU_ASSERT_EQUAL(iotc_mqtt_publish_parse(pk, pk_len, IOTC_MQTT_V311, &p), IOTC_OK);
}

/* ---- PUBACK / PUBREC / PUBREL / PUBCOMP ---- */

static void test_ack(void)
{
    struct iotc_buf props = {0};
    struct iotc_mqtt_prop prop = {.id = IOTC_MQTT_PROP_REASON_STRING, .data = S("no")};
    struct iotc_mqtt_ack a, b;

    for (uint8_t type = IOTC_MQTT_PUBACK; type <= IOTC_MQTT_PUBCOMP; type++) {
        uint8_t byte0 = (uint8_t)(type << 4 | (type == IOTC_MQTT_PUBREL ? 2 : 0));

        a = (struct iotc_mqtt_ack){.type = type, .packet_id = 0x1234};
        for (uint8_t v = IOTC_MQTT_V31; v <= IOTC_MQTT_V5; v++) {
            iotc_buf_reset(&out);
            CU_ASSERT_EQUAL(iotc_mqtt_ack_encode(&out, v, &a), IOTC_OK);
            CU_ASSERT_EQUAL(out.len, 4);
            CU_ASSERT_EQUAL(out.p[0], byte0);
            CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(out.p, out.len, v, &b), IOTC_OK);
            CU_ASSERT_EQUAL(b.type, type);
            CU_ASSERT_EQUAL(b.packet_id, 0x1234);
            CU_ASSERT_EQUAL(b.reason, 0);
        }
        /* v5 reason without properties: 3 bytes of body */
        a.reason = type >= IOTC_MQTT_PUBREL ? 0x92 : 0x10;
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL(iotc_mqtt_ack_encode(&out, IOTC_MQTT_V5, &a), IOTC_OK);
        CU_ASSERT_EQUAL(out.len, 5);
        CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
        CU_ASSERT_EQUAL(b.reason, a.reason);
        /* and with a reason string */
        iotc_buf_reset(&props);
        CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
        a.props = (struct iotc_span){props.p, props.len};
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL(iotc_mqtt_ack_encode(&out, IOTC_MQTT_V5, &a), IOTC_OK);
        CU_ASSERT_EQUAL(out.len, 4 + 1 + 1 + 5);
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_ack_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
        CU_ASSERT_EQUAL(b.props.n, 5);
        /* v3 drops reason and properties */
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL(iotc_mqtt_ack_encode(&out, IOTC_MQTT_V311, &a), IOTC_OK);
        CU_ASSERT_EQUAL(out.len, 4);
    }
    hex("4004 0001 00 00"); /* success with an empty property block */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_OK);
    hex("40020000");
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("4003000100"); /* v3 has no reason byte */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("400100");
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("4003000192"); /* PUBACK cannot say "packet id not found" */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_PROTOCOL);
    hex("7003000110");
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_PROTOCOL);
    hex("4004 0001 00 05"); /* property block past the end */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("4007000100 03 230001"); /* topic alias is not an ack property */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("4005 0001 00 00 00"); /* trailing byte after the property block */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("60020001"); /* PUBREL with flags 0 */
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("90030001 00");
    CU_ASSERT_EQUAL(iotc_mqtt_ack_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_INVALID);
    a = (struct iotc_mqtt_ack){.type = IOTC_MQTT_SUBACK, .packet_id = 1};
    CU_ASSERT_EQUAL(iotc_mqtt_ack_encode(&out, IOTC_MQTT_V5, &a), IOTC_ERR_INVALID);
    a = (struct iotc_mqtt_ack){.type = IOTC_MQTT_PUBACK, .packet_id = 0};
    CU_ASSERT_EQUAL(iotc_mqtt_ack_encode(&out, IOTC_MQTT_V5, &a), IOTC_ERR_INVALID);
    iotc_buf_free(&props);
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ---- */

static void test_subscribe_real(void)
{
    struct iotc_mqtt_subscribe s;
    struct iotc_mqtt_prop prop;

    CU_ASSERT_EQUAL_FATAL(
        iotc_mqtt_subscribe_parse(cap_sub311_subscribe, sizeof cap_sub311_subscribe, IOTC_MQTT_V311, &s),
        IOTC_OK);
    CU_ASSERT_EQUAL(s.packet_id, 1);
    CU_ASSERT_EQUAL(s.count, 1);
    CU_ASSERT_TRUE(span_is(s.filters[0].filter, "sensors/#"));
    CU_ASSERT_EQUAL(s.filters[0].options, 1);
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V311, &s), IOTC_OK);
    CU_ASSERT_TRUE(out_is(cap_sub311_subscribe, sizeof cap_sub311_subscribe));

    CU_ASSERT_EQUAL_FATAL(
        iotc_mqtt_subscribe_parse(cap_sub5_subscribe, sizeof cap_sub5_subscribe, IOTC_MQTT_V5, &s), IOTC_OK);
    CU_ASSERT_EQUAL(s.count, 1);
    CU_ASSERT_TRUE(span_is(s.filters[0].filter, "a/+"));
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(s.props, IOTC_MQTT_PROP_USER_PROPERTY, &prop), 1);
    CU_ASSERT_TRUE(span_is(prop.data, "s") && span_is(prop.value, "t"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V5, &s), IOTC_OK);
    CU_ASSERT_TRUE(out_is(cap_sub5_subscribe, sizeof cap_sub5_subscribe));
}

static void test_subscribe_build(void)
{
    static struct iotc_mqtt_subscribe s, b;
    char names[IOTC_MQTT_SUB_MAX_FILTERS + 1][8];

    s.packet_id = 7;
    for (size_t i = 0; i <= IOTC_MQTT_SUB_MAX_FILTERS; i++) {
        snprintf(names[i], sizeof names[i], "f/%zu", i);
        s.filters[i % IOTC_MQTT_SUB_MAX_FILTERS].filter = S(names[i]);
        /* v5 options: QoS 1, no local, retain as published, retain handling 2 */
        s.filters[i % IOTC_MQTT_SUB_MAX_FILTERS].options = 0x2d;
    }
    s.count = IOTC_MQTT_SUB_MAX_FILTERS;
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V5, &s), IOTC_OK);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_subscribe_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.count, IOTC_MQTT_SUB_MAX_FILTERS);
    CU_ASSERT_EQUAL(b.filters[63].options, 0x2d);
    CU_ASSERT_TRUE(span_is(b.filters[63].filter, "f/63"));
    /* options 0x2d use bits reserved in 3.1.1 */
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V311, &s), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_parse(out.p, out.len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);

    /* one filter more than the parser holds */
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V5, &s), IOTC_OK);
    {
        uint8_t more[4096];
        size_t body = out.len - 3 + 7; /* remaining length is 2 bytes here */
        CU_ASSERT_EQUAL_FATAL(out.p[1] & 0x80, 0x80);
        memcpy(more, out.p, out.len);
        memcpy(more + out.len, "\x00\x04\x66\x2f\x36\x34\x2d", 7);
        more[1] = (uint8_t)(0x80 | (body & 0x7f));
        more[2] = (uint8_t)(body >> 7);
        CU_ASSERT_EQUAL(iotc_mqtt_subscribe_parse(more, out.len + 7, IOTC_MQTT_V5, &b), IOTC_ERR_TOO_LARGE);
    }

    s.count = 0;
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V5, &s), IOTC_ERR_INVALID);
    s.count = IOTC_MQTT_SUB_MAX_FILTERS + 1;
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V5, &s), IOTC_ERR_INVALID);

    /* UNSUBSCRIBE: same struct, no options */
    s.count = 2;
    for (uint8_t v = IOTC_MQTT_V31; v <= IOTC_MQTT_V5; v++) {
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_unsubscribe_encode(&out, v, &s), IOTC_OK);
        CU_ASSERT_EQUAL(out.p[0], 0xa2);
        CU_ASSERT_EQUAL(out.len, 2 + 2 + (v == IOTC_MQTT_V5) + 6 + 5); /* "f/64", "f/1" */
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_unsubscribe_parse(out.p, out.len, v, &b), IOTC_OK);
        CU_ASSERT_EQUAL(b.count, 2);
        CU_ASSERT_EQUAL(b.packet_id, 7);
        CU_ASSERT_EQUAL(b.filters[1].options, 0);
        CU_ASSERT_TRUE(span_is(b.filters[1].filter, "f/1"));
        CU_ASSERT_EQUAL(iotc_mqtt_subscribe_parse(out.p, out.len, v, &b), IOTC_ERR_INVALID);
    }
}

static void test_subscribe_malformed(void)
{
    static const struct {
        const char *why;
        uint8_t version;
        const char *hex;
        int rc;
    } t[] = {
        {"zero filters v3", IOTC_MQTT_V311, "82020001", IOTC_ERR_MALFORMED},
        {"zero filters v5", IOTC_MQTT_V5, "8203000100", IOTC_ERR_MALFORMED},
        {"packet id 0", IOTC_MQTT_V311, "8206 0000 0001 61 00", IOTC_ERR_MALFORMED},
        {"v3 reserved option bits", IOTC_MQTT_V311, "8206 0001 0001 61 04", IOTC_ERR_MALFORMED},
        {"v3 option QoS 3", IOTC_MQTT_V311, "8206 0001 0001 61 03", IOTC_ERR_MALFORMED},
        {"v5 reserved option bits", IOTC_MQTT_V5, "8207 0001 00 0001 61 40", IOTC_ERR_MALFORMED},
        {"v5 retain handling 3", IOTC_MQTT_V5, "8207 0001 00 0001 61 30", IOTC_ERR_MALFORMED},
        {"v5 option QoS 3", IOTC_MQTT_V5, "8207 0001 00 0001 61 03", IOTC_ERR_MALFORMED},
        {"missing options byte", IOTC_MQTT_V311, "8205 0001 0001 61", IOTC_ERR_MALFORMED},
        {"filter past the end", IOTC_MQTT_V311, "8206 0001 0005 61 00", IOTC_ERR_MALFORMED},
        {"empty filter", IOTC_MQTT_V311, "8205 0001 0000 00", IOTC_ERR_MALFORMED},
        {"filter bad UTF-8", IOTC_MQTT_V311, "8207 0001 0002 e282 00", IOTC_ERR_MALFORMED},
        {"filter with U+0000", IOTC_MQTT_V311, "8206 0001 0001 00 00", IOTC_ERR_MALFORMED},
        {"second filter truncated", IOTC_MQTT_V311, "8207 0001 0001 61 00 00", IOTC_ERR_MALFORMED},
        {"fixed header flags 0", IOTC_MQTT_V311, "8006 0001 0001 61 00", IOTC_ERR_MALFORMED},
        {"v5 no property length", IOTC_MQTT_V5, "8202 0001", IOTC_ERR_MALFORMED},
        {"v5 subscription id 0", IOTC_MQTT_V5, "8209 0001 02 0b00 0001 61 00", IOTC_ERR_PROTOCOL},
        {"v5 subscription id twice", IOTC_MQTT_V5, "820b 0001 04 0b01 0b02 0001 61 00",
         IOTC_ERR_PROTOCOL},
        {"v5 reason string in SUBSCRIBE", IOTC_MQTT_V5, "820b 0001 04 1f000178 0001 61 00",
         IOTC_ERR_MALFORMED},
    };
    struct iotc_mqtt_subscribe s;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc;

        hex(t[i].hex);
        rc = iotc_mqtt_subscribe_parse(pk, pk_len, t[i].version, &s);
        if (rc != t[i].rc)
            fprintf(stderr, "\n  subscribe case '%s': got %d want %d\n", t[i].why, rc, t[i].rc);
        CU_ASSERT_EQUAL(rc, t[i].rc);
    }
    /* filter syntax is the caller's: the parser accepts it, the validator refuses it */
    hex("8208 0001 0003 232f62 00"); /* "#/b" */
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_parse(pk, pk_len, IOTC_MQTT_V311, &s), IOTC_OK);
    CU_ASSERT_FALSE(iotc_mqtt_topic_filter_valid(s.filters[0].filter));
    /* positive twin: v5 options with every defined bit */
    hex("8207 0001 00 0001 61 2e");
    CU_ASSERT_EQUAL(iotc_mqtt_subscribe_parse(pk, pk_len, IOTC_MQTT_V5, &s), IOTC_OK);
    CU_ASSERT_EQUAL(s.filters[0].options, 0x2e);

    hex("a2020001"); /* UNSUBSCRIBE without filters */
    CU_ASSERT_EQUAL(iotc_mqtt_unsubscribe_parse(pk, pk_len, IOTC_MQTT_V311, &s), IOTC_ERR_MALFORMED);
    hex("a2040001 0000");
    CU_ASSERT_EQUAL(iotc_mqtt_unsubscribe_parse(pk, pk_len, IOTC_MQTT_V311, &s), IOTC_ERR_MALFORMED);
    hex("a2040001 0001"); /* filter runs past the end */
    CU_ASSERT_EQUAL(iotc_mqtt_unsubscribe_parse(pk, pk_len, IOTC_MQTT_V311, &s), IOTC_ERR_MALFORMED);
    hex("a0050001 000161");
    CU_ASSERT_EQUAL(iotc_mqtt_unsubscribe_parse(pk, pk_len, IOTC_MQTT_V311, &s), IOTC_ERR_MALFORMED);
    hex("a2080001 02 0b01 000161"); /* subscription id is not an UNSUBSCRIBE property */
    CU_ASSERT_EQUAL(iotc_mqtt_unsubscribe_parse(pk, pk_len, IOTC_MQTT_V5, &s), IOTC_ERR_MALFORMED);
    hex("a2060001 00 000161");
    CU_ASSERT_EQUAL(iotc_mqtt_unsubscribe_parse(pk, pk_len, IOTC_MQTT_V5, &s), IOTC_OK);
}

/* ---- SUBACK / UNSUBACK ---- */

static void test_suback(void)
{
    struct iotc_buf props = {0};
    struct iotc_mqtt_prop prop = {.id = IOTC_MQTT_PROP_USER_PROPERTY, .data = S("x"), .value = S("")};
    struct iotc_mqtt_suback s = {.type = IOTC_MQTT_SUBACK, .packet_id = 9, .count = 4}, b;

    memcpy(s.codes, "\x00\x01\x02\x80", 4);
    for (uint8_t v = IOTC_MQTT_V31; v <= IOTC_MQTT_V5; v++) {
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_suback_encode(&out, v, &s), IOTC_OK);
        CU_ASSERT_TRUE(out_is_hex(v == IOTC_MQTT_V5 ? "9007 0009 00 00010280" : "9006 0009 00010280"));
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_suback_parse(out.p, out.len, v, &b), IOTC_OK);
        CU_ASSERT_EQUAL(b.type, IOTC_MQTT_SUBACK);
        CU_ASSERT_EQUAL(b.count, 4);
        CU_ASSERT_EQUAL(memcmp(b.codes, s.codes, 4), 0);
    }
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
    s.props = (struct iotc_span){props.p, props.len};
    s.codes[1] = IOTC_MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED;
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_suback_encode(&out, IOTC_MQTT_V5, &s), IOTC_OK);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_suback_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.props.n, props.len);
    CU_ASSERT_EQUAL(b.codes[1], 0xa2);
    /* 0xA2 does not exist in 3.1.1 */
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_suback_encode(&out, IOTC_MQTT_V311, &s), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(out.p, out.len, IOTC_MQTT_V311, &b), IOTC_ERR_PROTOCOL);

    /* UNSUBACK: bare packet id in v3, codes in v5 */
    s = (struct iotc_mqtt_suback){.type = IOTC_MQTT_UNSUBACK, .packet_id = 9, .count = 2};
    s.codes[1] = 0x11;
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_suback_encode(&out, IOTC_MQTT_V311, &s), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("b0020009"));
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(out.p, out.len, IOTC_MQTT_V311, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.type, IOTC_MQTT_UNSUBACK);
    CU_ASSERT_EQUAL(b.count, 0);
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_suback_encode(&out, IOTC_MQTT_V5, &s), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("b0050009000011"));
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.count, 2);

    hex("90020009"); /* SUBACK without codes */
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("9003000900");
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("9003000903");
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_PROTOCOL);
    hex("900400090011"); /* 0x11 is an UNSUBACK code */
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_PROTOCOL);
    hex("9003000000");
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("b003000900"); /* v3 UNSUBACK with a trailing byte */
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("b003000900"); /* v5 UNSUBACK with no codes */
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("9006 0009 02 0b01 00"); /* subscription id is not a SUBACK property */
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("a0020009");
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("a2020009");
    CU_ASSERT_EQUAL(iotc_mqtt_suback_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_INVALID);
    s = (struct iotc_mqtt_suback){.type = IOTC_MQTT_SUBACK, .packet_id = 9, .count = 0};
    CU_ASSERT_EQUAL(iotc_mqtt_suback_encode(&out, IOTC_MQTT_V311, &s), IOTC_ERR_INVALID);
    s.type = IOTC_MQTT_PUBACK;
    s.count = 1;
    CU_ASSERT_EQUAL(iotc_mqtt_suback_encode(&out, IOTC_MQTT_V311, &s), IOTC_ERR_INVALID);
    iotc_buf_free(&props);
}

/* ---- DISCONNECT, PING ---- */

static void test_disconnect(void)
{
    struct iotc_buf props = {0};
    struct iotc_mqtt_prop prop = {.id = IOTC_MQTT_PROP_REASON_STRING, .data = S("dup")};
    struct iotc_mqtt_disconnect d = {0}, b;

    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(cap_disconnect, sizeof cap_disconnect, IOTC_MQTT_V311, &b),
                    IOTC_OK);
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(cap_disconnect, sizeof cap_disconnect, IOTC_MQTT_V5, &b),
                    IOTC_OK);
    CU_ASSERT_EQUAL(b.reason, 0);
    for (uint8_t v = IOTC_MQTT_V31; v <= IOTC_MQTT_V5; v++) {
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL(iotc_mqtt_disconnect_encode(&out, v, &d), IOTC_OK);
        CU_ASSERT_TRUE(out_is_hex("e000"));
    }
    d.reason = IOTC_MQTT_RC_SESSION_TAKEN_OVER;
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_encode(&out, IOTC_MQTT_V311, &d), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("e000"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_encode(&out, IOTC_MQTT_V5, &d), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("e0018e"));
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.reason, 0x8e);
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
    prop = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_SERVER_REFERENCE, .data = S("other")};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &prop), IOTC_OK);
    d.props = (struct iotc_span){props.p, props.len};
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_encode(&out, IOTC_MQTT_V5, &d), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("e0 10 8e 0e 1f0003647570 1c00056f74686572"));
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_disconnect_parse(out.p, out.len, IOTC_MQTT_V5, &b), IOTC_OK);
    CU_ASSERT_EQUAL(b.props.n, props.len);
    iotc_buf_free(&props);

    hex("e00100"); /* v3 DISCONNECT has no body */
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V311, &b), IOTC_ERR_MALFORMED);
    hex("e00203"); /* 0x03 is not a DISCONNECT reason; also truncated */
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("e00103");
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_PROTOCOL);
    hex("e002 00 04"); /* property length past the end */
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("e004 00 02 0000"); /* property id 0 does not exist */
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("e007 00 05 1100000000");
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_OK);
    hex("e001 00");
    pk[0] = 0xe1; /* flags must be 0 */
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_MALFORMED);
    hex("c000");
    CU_ASSERT_EQUAL(iotc_mqtt_disconnect_parse(pk, pk_len, IOTC_MQTT_V5, &b), IOTC_ERR_INVALID);

    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_mqtt_ping_encode(&out, IOTC_MQTT_PINGREQ), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_mqtt_ping_encode(&out, IOTC_MQTT_PINGRESP), IOTC_OK);
    CU_ASSERT_TRUE(out_is_hex("c000d000"));
    CU_ASSERT_EQUAL(iotc_mqtt_ping_encode(&out, IOTC_MQTT_DISCONNECT), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(out.len, 4);
}

/* ---- properties ---- */

static void test_props(void)
{
    static const struct iotc_mqtt_prop in[] = {
        {.id = IOTC_MQTT_PROP_PAYLOAD_FORMAT, .u32 = 1},
        {.id = IOTC_MQTT_PROP_MESSAGE_EXPIRY, .u32 = 0xdeadbeef},
        {.id = IOTC_MQTT_PROP_TOPIC_ALIAS, .u32 = 0xffff},
        {.id = IOTC_MQTT_PROP_SUBSCRIPTION_ID, .u32 = 16384},
        {.id = IOTC_MQTT_PROP_RESPONSE_TOPIC, .data = {(const uint8_t *)"r/t", 3}},
        {.id = IOTC_MQTT_PROP_CORRELATION_DATA, .data = {(const uint8_t *)"\xff\x00", 2}},
        {.id = IOTC_MQTT_PROP_USER_PROPERTY,
         .data = {(const uint8_t *)"k", 1},
         .value = {(const uint8_t *)"v1", 2}},
        {.id = IOTC_MQTT_PROP_USER_PROPERTY,
         .data = {(const uint8_t *)"k", 1},
         .value = {(const uint8_t *)"v2", 2}},
    };
    struct iotc_buf blk = {0};
    struct iotc_span sp;
    struct iotc_mqtt_prop p;
    size_t cur = 0, n = 0;
    int rc;

    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        CU_ASSERT_EQUAL(iotc_mqtt_props_put(&blk, &in[i]), IOTC_OK);
    sp = (struct iotc_span){blk.p, blk.len};
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate(sp), IOTC_OK);
    while ((rc = iotc_mqtt_props_next(sp, &cur, &p)) == 1) {
        CU_ASSERT_EQUAL(p.id, in[n].id);
        CU_ASSERT_EQUAL(p.u32, in[n].u32);
        CU_ASSERT_EQUAL(p.data.n, in[n].data.n);
        CU_ASSERT_EQUAL(p.value.n, in[n].value.n);
        if (p.value.n)
            CU_ASSERT_EQUAL(memcmp(p.value.p, in[n].value.p, p.value.n), 0);
        n++;
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(n, sizeof in / sizeof in[0]);
    CU_ASSERT_EQUAL(cur, blk.len);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(sp, IOTC_MQTT_PROP_USER_PROPERTY, &p), 1);
    CU_ASSERT_TRUE(span_is(p.value, "v1"));
    CU_ASSERT_EQUAL(iotc_mqtt_props_find(sp, IOTC_MQTT_PROP_AUTH_METHOD, &p), 0);

    /* a PUBLISH carrying the block parses; two user properties are fine */
    {
        struct iotc_mqtt_publish pub = {.topic = S("t"), .props = sp}, back;
        iotc_buf_reset(&out);
        CU_ASSERT_EQUAL_FATAL(iotc_mqtt_publish_encode(&out, IOTC_MQTT_V5, &pub), IOTC_OK);
        CU_ASSERT_EQUAL(iotc_mqtt_publish_parse(out.p, out.len, IOTC_MQTT_V5, &back), IOTC_OK);
    }

    p = (struct iotc_mqtt_prop){.id = 0x7f};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&blk, &p), IOTC_ERR_INVALID);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_PAYLOAD_FORMAT, .u32 = 256};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&blk, &p), IOTC_ERR_INVALID);
    p = (struct iotc_mqtt_prop){.id = IOTC_MQTT_PROP_SUBSCRIPTION_ID, .u32 = 268435456u};
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&blk, &p), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(blk.len, sp.n);

    hex("0b80808080"); /* varint value with five bytes */
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){pk, pk_len}), IOTC_ERR_MALFORMED);
    hex("0200"); /* four-byte value cut short */
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){pk, pk_len}), IOTC_ERR_MALFORMED);
    hex("00");
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){pk, pk_len}), IOTC_ERR_MALFORMED);
    hex("03 0002 eda080"); /* surrogate in a UTF-8 property */
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){pk, pk_len}), IOTC_ERR_MALFORMED);
    hex("09 0003 ed a0 80"); /* the same bytes are fine as binary data */
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){pk, pk_len}), IOTC_OK);
    hex("01 01 0101"); /* duplicates are well formed; packets refuse them */
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){pk, pk_len}), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_mqtt_props_validate((struct iotc_span){NULL, 0}), IOTC_OK);
    cur = 0;
    hex("26 0001 61");
    CU_ASSERT_EQUAL(iotc_mqtt_props_next((struct iotc_span){pk, pk_len}, &cur, &p), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(cur, 0);
    iotc_buf_free(&blk);
}

/* ---- topics and UTF-8 ---- */

static void test_utf8(void)
{
    static const struct {
        const char *hex;
        bool ok;
    } t[] = {
        {"", true},          {"61", true},
        {"7f", true},        {"c280", true},  /* U+0080 */
        {"dfbf", true},                       /* U+07FF */
        {"e0a080", true},                     /* U+0800 */
        {"ed9fbf", true},                     /* U+D7FF */
        {"ee8080", true},                     /* U+E000 */
        {"efbfbf", true},                     /* U+FFFF (non-character, allowed) */
        {"f0908080", true},                   /* U+10000 */
        {"f48fbfbf", true},                   /* U+10FFFF */
        {"efbbbf", true},                     /* BOM (U+FEFF) must not be skipped or stripped */
        {"00", false},                        /* U+0000 */
        {"6100", false},     {"c0af", false}, /* overlong '/' */
        {"c180", false},                      /* overlong */
        {"e080af", false},                    /* overlong */
        {"f08080af", false},                  /* overlong */
        {"eda080", false},                    /* U+D800 */
        {"edbfbf", false},                    /* U+DFFF */
        {"f4908080", false},                  /* U+110000 */
        {"f5808080", false}, {"ff", false},
        {"80", false},                                  /* stray continuation */
        {"c2", false},                                  /* truncated */
        {"e282", false},                                /* truncated */
        {"f09080", false},                              /* truncated */
        {"c241", false},                                /* bad continuation */
        {"e2 82 41", false}, {"f8 88 80 80 80", false}, /* 5-byte form */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        hex(t[i].hex);
        if (iotc_mqtt_utf8_valid((struct iotc_span){pk, pk_len}) != t[i].ok)
            fprintf(stderr, "\n  utf8 case %s\n", t[i].hex);
        CU_ASSERT_EQUAL(iotc_mqtt_utf8_valid((struct iotc_span){pk, pk_len}), t[i].ok);
    }
}

static void test_topic_valid(void)
{
    static const struct {
        const char *s;
        bool name, filter;
    } t[] = {
        {"a", true, true},
        {"a/b/c", true, true},
        {"/", true, true},
        {"//", true, true},
        {"$aws/things/x/shadow/update", true, true},
        {"a b", true, true},
        {"#", false, true},
        {"+", false, true},
        {"a/#", false, true},
        {"a/+/b", false, true},
        {"+/+/#", false, true},
        {"/#", false, true},
        {"$share/g/a/+", false, true},
        {"a#", false, false},
        {"a/#/b", false, false},
        {"a/b#", false, false},
        {"a+", false, false},
        {"a/+b", false, false},
        {"#/", false, false},
        {"##", false, false},
        {"", false, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (iotc_mqtt_topic_name_valid(S(t[i].s)) != t[i].name ||
            iotc_mqtt_topic_filter_valid(S(t[i].s)) != t[i].filter)
            fprintf(stderr, "\n  topic case '%s'\n", t[i].s);
        CU_ASSERT_EQUAL(iotc_mqtt_topic_name_valid(S(t[i].s)), t[i].name);
        CU_ASSERT_EQUAL(iotc_mqtt_topic_filter_valid(S(t[i].s)), t[i].filter);
    }
    hex("612f00");
    CU_ASSERT_FALSE(iotc_mqtt_topic_name_valid((struct iotc_span){pk, pk_len}));
    CU_ASSERT_FALSE(iotc_mqtt_topic_filter_valid((struct iotc_span){pk, pk_len}));
    hex("612fc0af");
    CU_ASSERT_FALSE(iotc_mqtt_topic_name_valid((struct iotc_span){pk, pk_len}));
    CU_ASSERT_FALSE(iotc_mqtt_topic_filter_valid((struct iotc_span){pk, pk_len}));
}

static void test_topic_matches(void)
{
    static const struct {
        const char *filter, *topic;
        bool match;
    } t[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},
        {"a/b", "a/bc", false},
        {"a/bc", "a/b", false},
        {"#", "a", true},
        {"#", "a/b/c", true},
        {"#", "/", true},
        {"a/#", "a", true}, /* '#' matches the parent level */
        {"a/#", "a/", true},
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"a/#", "b/a", false},
        {"a/b/#", "a", false},
        {"+", "a", true},
        {"+", "a/b", false},
        {"+", "/a", false},
        {"+/+", "/a", true},
        {"/+", "/a", true},
        {"+", "", false},
        {"a/+", "a/b", true},
        {"a/+", "a/", true},
        {"a/+", "a", false},
        {"a/+", "a/b/c", false},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a/b/d", false},
        {"+/+/#", "a/b", true},
        {"+/#", "a", true},
        {"a/", "a/", true},
        {"a/", "a", false},
        {"a", "a/", false},
        {"#", "$SYS/x", false},
        {"+/x", "$SYS/x", false},
        {"$SYS/#", "$SYS/x", true},
        {"$SYS/+", "$SYS/x", true},
        {"$aws/things/+/shadow/#", "$aws/things/t1/shadow/update/accepted", true},
        {"a/$x", "a/$x", true},
        {"+/$x", "a/$x", true},
        {"", "a", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool got = iotc_mqtt_topic_matches(S(t[i].filter), S(t[i].topic));
        if (got != t[i].match)
            fprintf(stderr, "\n  match case '%s' vs '%s'\n", t[i].filter, t[i].topic);
        CU_ASSERT_EQUAL(got, t[i].match);
    }
    /* AWS IoT: '#' is one or more levels below, not the parent */
    static const struct {
        const char *filter, *topic;
        bool match;
    } aws[] = {
        {"sport/#", "sport", false},
        {"sport/#", "sport/tennis", true},
        {"sport/#", "sport/a/b", true},
        {"sport/#", "sport/", true},
        {"+/#", "a", false},
        {"+/#", "a/b", true},
        {"sport/+/#", "sport/x", false},
        {"sport/+/#", "sport/x/y", true},
        {"#", "sport", true},
        {"sport", "sport", true},
        {"sport/+", "sport", false},
        {"/#", "", false},
        {"sport/#", "other/x", false},
    };
    for (size_t i = 0; i < sizeof aws / sizeof aws[0]; i++) {
        bool got = iotc_mqtt_topic_matches_aws(S(aws[i].filter), S(aws[i].topic));
        if (got != aws[i].match)
            fprintf(stderr, "\n  AWS match case '%s' vs '%s'\n", aws[i].filter, aws[i].topic);
        CU_ASSERT_EQUAL(got, aws[i].match);
    }
}

static void test_type_names(void)
{
    CU_ASSERT_STRING_EQUAL(iotc_mqtt_type_name(IOTC_MQTT_CONNECT), "CONNECT");
    CU_ASSERT_STRING_EQUAL(iotc_mqtt_type_name(IOTC_MQTT_UNSUBACK), "UNSUBACK");
    CU_ASSERT_STRING_EQUAL(iotc_mqtt_type_name(IOTC_MQTT_AUTH), "AUTH");
    CU_ASSERT_STRING_EQUAL(iotc_mqtt_type_name(0), "RESERVED");
    CU_ASSERT_STRING_EQUAL(iotc_mqtt_type_name(16), "UNKNOWN");
}

/* Every parser sees every truncation of every captured packet and never succeeds. */
static void test_truncations(void)
{
    static const struct {
        const uint8_t *p;
        size_t n;
        uint8_t v;
    } t[] = {
        {cap_will311_connect, sizeof cap_will311_connect, IOTC_MQTT_V311},
        {cap_will5_connect, sizeof cap_will5_connect, IOTC_MQTT_V5},
        {cap_pub5_publish, sizeof cap_pub5_publish, IOTC_MQTT_V5},
        {cap_sub5_subscribe, sizeof cap_sub5_subscribe, IOTC_MQTT_V5},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (size_t n = 0; n < t[i].n; n++) {
            struct iotc_mqtt_connect c;
            struct iotc_mqtt_publish p;
            static struct iotc_mqtt_subscribe s;
            uint8_t *copy = malloc(n ? n : 1); /* so ASan sees any read past n */

            memcpy(copy, t[i].p, n);
            CU_ASSERT_NOT_EQUAL(iotc_mqtt_connect_parse(copy, n, &c), IOTC_OK);
            CU_ASSERT_NOT_EQUAL(iotc_mqtt_publish_parse(copy, n, t[i].v, &p), IOTC_OK);
            CU_ASSERT_NOT_EQUAL(iotc_mqtt_subscribe_parse(copy, n, t[i].v, &s), IOTC_OK);
            free(copy);
        }
    }
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("mqtt", setup, teardown);

    if (!s)
        return -1;
    if (!CU_add_test(s, "varint edges", test_varint_edges) ||
        !CU_add_test(s, "varint malformed", test_varint_malformed) ||
        !CU_add_test(s, "frame again", test_frame_again) ||
        !CU_add_test(s, "frame ok", test_frame_ok) ||
        !CU_add_test(s, "frame too large", test_frame_too_large) ||
        !CU_add_test(s, "frame malformed", test_frame_malformed) ||
        !CU_add_test(s, "connect real 3.1.1", test_connect_real_v311) ||
        !CU_add_test(s, "connect real 3.1", test_connect_real_v31) ||
        !CU_add_test(s, "connect real 5", test_connect_real_v5) ||
        !CU_add_test(s, "connect build 5", test_connect_build_v5) ||
        !CU_add_test(s, "connect malformed", test_connect_malformed) ||
        !CU_add_test(s, "connect encode invalid", test_connect_encode_invalid) ||
        !CU_add_test(s, "connack", test_connack) ||
        !CU_add_test(s, "publish real", test_publish_real) ||
        !CU_add_test(s, "publish build", test_publish_build) ||
        !CU_add_test(s, "publish malformed", test_publish_malformed) ||
        !CU_add_test(s, "acks", test_ack) ||
        !CU_add_test(s, "subscribe real", test_subscribe_real) ||
        !CU_add_test(s, "subscribe build", test_subscribe_build) ||
        !CU_add_test(s, "subscribe malformed", test_subscribe_malformed) ||
        !CU_add_test(s, "suback", test_suback) ||
        !CU_add_test(s, "disconnect and ping", test_disconnect) ||
        !CU_add_test(s, "properties", test_props) || !CU_add_test(s, "utf8", test_utf8) ||
        !CU_add_test(s, "topic validity", test_topic_valid) ||
        !CU_add_test(s, "topic matching", test_topic_matches) ||
        !CU_add_test(s, "type names", test_type_names) ||
        !CU_add_test(s, "truncations", test_truncations))
        return -1;
    return 0;
}
