/*
 * Unit tests for sim/ws: opening handshake both sides, and sessions wired to
 * each other in memory. Bad frames are built by hand here on purpose: the
 * library never emits them, and the peer under test must refuse them.
 */
#include "ws/ws.h"
#include "http/http.h"
#include "common/err.h"

#include <CUnit/CUnit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U8(s) ((const uint8_t *)(s))

/* ---- helpers ---------------------------------------------------------- */

struct sink {
    struct iotc_buf data;
    int messages; /* on_data calls */
    int closes;
    uint16_t code;
    char reason[128];
};

static void sink_data(void *arg, const uint8_t *d, size_t n)
{
    struct sink *s = arg;
    CU_ASSERT_TRUE(n > 0);
    iotc_buf_append(&s->data, d, n);
    s->messages++;
}

static void sink_close(void *arg, uint16_t code, const char *reason)
{
    struct sink *s = arg;
    s->closes++;
    s->code = code;
    snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "");
}

static struct iotc_ws *server_for(struct sink *s, size_t max)
{
    memset(s, 0, sizeof *s);
    struct iotc_ws_cbs cbs = {sink_data, sink_close, s};
    return iotc_ws_new(&cbs, max);
}

static struct iotc_ws *client_for(struct sink *s, size_t max)
{
    memset(s, 0, sizeof *s);
    struct iotc_ws_cbs cbs = {sink_data, sink_close, s};
    return iotc_ws_client_new(&cbs, max);
}

/* Copies from's pending output into a buffer (and consumes it). */
static void take_pending(struct iotc_ws *from, struct iotc_buf *into)
{
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(from, &p, &n);
    if (n)
        iotc_buf_append(into, p, n);
    iotc_ws_consume(from, n);
}

/* Moves pending bytes between two sessions until both are quiet. */
static void pump(struct iotc_ws *a, struct iotc_ws *b)
{
    for (int round = 0; round < 16; round++) {
        struct iotc_buf ab = {0}, ba = {0};
        take_pending(a, &ab);
        take_pending(b, &ba);
        if (ab.len == 0 && ba.len == 0)
            return;
        if (ab.len)
            iotc_ws_feed(b, ab.p, ab.len);
        if (ba.len)
            iotc_ws_feed(a, ba.p, ba.len);
        iotc_buf_free(&ab);
        iotc_buf_free(&ba);
    }
    CU_FAIL("pump did not settle");
}

/* A raw frame as a (possibly misbehaving) client or server would send it. */
static void raw_frame(struct iotc_buf *b, int fin, int opcode, int masked, const void *payload,
                      size_t len)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    iotc_buf_u8(b, (uint8_t)((fin ? 0x80 : 0) | opcode));
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        iotc_buf_u8(b, (uint8_t)(m | len));
    } else if (len < 65536) {
        iotc_buf_u8(b, m | 126);
        iotc_buf_u16(b, (uint16_t)len);
    } else {
        iotc_buf_u8(b, m | 127);
        iotc_buf_u32(b, 0);
        iotc_buf_u32(b, (uint32_t)len);
    }
    if (masked)
        iotc_buf_append(b, key, 4);
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        iotc_buf_u8(b, masked ? (uint8_t)(p[i] ^ key[i % 4]) : p[i]);
}

/* ---- handshake -------------------------------------------------------- */

/* RFC 6455 section 1.3. (The value "...84kNs+M=" sometimes quoted is not the
 * digest of this key: `printf %s key+GUID | openssl sha1 -binary | base64`.) */
static void test_accept_key_rfc_example(void)
{
    char acc[IOTC_WS_ACCEPT_LEN];
    CU_ASSERT_EQUAL(iotc_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_key_valid(void)
{
    CU_ASSERT_TRUE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    CU_ASSERT_TRUE(iotc_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
    CU_ASSERT_FALSE(iotc_ws_key_valid(NULL));
    CU_ASSERT_FALSE(iotc_ws_key_valid(""));
    CU_ASSERT_FALSE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ"));     /* no padding */
    CU_ASSERT_FALSE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=x"));   /* bad padding */
    CU_ASSERT_FALSE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25jZR=="));   /* non-canonical */
    CU_ASSERT_FALSE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25j*Q=="));   /* not base64 */
    CU_ASSERT_FALSE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25jZSE="));   /* 17 bytes */
    CU_ASSERT_FALSE(iotc_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==AA")); /* too long */
}

/* Parses a request text with the project's reader; caller frees the reader. */
static const struct iotc_http_req *parse_req(const char *text, struct iotc_http_reader **rd)
{
    *rd = iotc_http_reader_new(NULL);
    size_t used = 0;
    int rc = iotc_http_reader_feed(*rd, U8(text), strlen(text), &used);
    CU_ASSERT_EQUAL_FATAL(rc, IOTC_OK);
    return iotc_http_reader_request(*rd);
}

#define REQ_HEAD "GET /mqtt HTTP/1.1\r\nHost: iot.example.test\r\n"
#define REQ_GOOD_REST                                                                              \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "                             \
    "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: "            \
    "mqtt\r\n\r\n"

static void test_accept_ok(void)
{
    struct iotc_http_reader *rd;
    const struct iotc_http_req *q = parse_req(REQ_HEAD REQ_GOOD_REST, &rd);
    struct iotc_buf out = {0};
    int status = 0;
    iotc_errtext why = {0};
    CU_ASSERT_EQUAL(iotc_ws_accept(q, &out, &status, &why), IOTC_OK);
    CU_ASSERT_EQUAL(status, 101);
    CU_ASSERT_STRING_EQUAL(why.msg, "");
    iotc_buf_u8(&out, 0);
    const char *s = (const char *)out.p;
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "HTTP/1.1 101 Switching Protocols\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\r\nSec-WebSocket-Protocol: mqtt\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\r\nUpgrade: websocket\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\r\nConnection: Upgrade\r\n"));
    CU_ASSERT_EQUAL(strcmp(s + strlen(s) - 4, "\r\n\r\n"), 0);
    iotc_buf_free(&out);
    iotc_http_reader_free(rd);
}

struct accept_row {
    const char *name;
    const char *request;
    int rc;
    int status;
    const char *header; /* expected in the error response, or NULL */
};

#define KEY  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER  "Sec-WebSocket-Version: 13\r\n"
#define PROT "Sec-WebSocket-Protocol: mqtt\r\n"
#define UPG  "Upgrade: websocket\r\nConnection: Upgrade\r\n"

static const struct accept_row accept_rows[] = {
    {"good", REQ_HEAD UPG KEY VER PROT "\r\n", IOTC_OK, 101,
     "\r\nSec-WebSocket-Protocol: mqtt\r\n"},
    {"protocol list", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: wamp, mqtt\r\n\r\n", IOTC_OK,
     101, NULL},
    {"protocol repeated lines",
     REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: wamp\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
     IOTC_OK, 101, NULL},
    {"connection list, case",
     REQ_HEAD "Upgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n" KEY VER PROT "\r\n",
     IOTC_OK, 101, NULL},
    {"missing key", REQ_HEAD UPG VER PROT "\r\n", IOTC_ERR_MALFORMED, 400, NULL},
    {"repeated key", REQ_HEAD UPG KEY KEY VER PROT "\r\n", IOTC_ERR_MALFORMED, 400, NULL},
    {"short key", REQ_HEAD UPG "Sec-WebSocket-Key: c2hvcnQ=\r\n" VER PROT "\r\n",
     IOTC_ERR_MALFORMED, 400, NULL},
    {"wrong version", REQ_HEAD UPG KEY "Sec-WebSocket-Version: 8\r\n" PROT "\r\n", IOTC_ERR_DENIED,
     426, "Sec-WebSocket-Version: 13\r\n"},
    {"version list", REQ_HEAD UPG KEY "Sec-WebSocket-Version: 13, 8\r\n" PROT "\r\n",
     IOTC_ERR_DENIED, 426, "Sec-WebSocket-Version: 13\r\n"},
    {"missing version", REQ_HEAD UPG KEY PROT "\r\n", IOTC_ERR_MALFORMED, 400, NULL},
    {"no subprotocol", REQ_HEAD UPG KEY VER "\r\n", IOTC_ERR_DENIED, 400, NULL},
    {"other subprotocol", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: wamp\r\n\r\n",
     IOTC_ERR_DENIED, 400, NULL},
    {"subprotocol case", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: MQTT\r\n\r\n",
     IOTC_ERR_DENIED, 400, NULL},
    {"subprotocol prefix", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: mqttv5\r\n\r\n",
     IOTC_ERR_DENIED, 400, NULL},
    /* aws-iot-device-sdk v1 (JavaScript) offers mqttv3.1; the answer echoes it */
    {"mqttv3.1", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: mqttv3.1\r\n\r\n", IOTC_OK, 101,
     "\r\nSec-WebSocket-Protocol: mqttv3.1\r\n"},
    {"both, mqttv3.1 first", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n\r\n",
     IOTC_OK, 101, "\r\nSec-WebSocket-Protocol: mqttv3.1\r\n"},
    {"both, mqtt first",
     REQ_HEAD UPG KEY VER
     "Sec-WebSocket-Protocol: wamp, mqtt\r\nSec-WebSocket-Protocol: mqttv3.1\r\n\r\n",
     IOTC_OK, 101, "\r\nSec-WebSocket-Protocol: mqtt\r\n"},
    {"mqttv3.1 case", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: MQTTv3.1\r\n\r\n",
     IOTC_ERR_DENIED, 400, NULL},
    {"mqttv3.1 longer", REQ_HEAD UPG KEY VER "Sec-WebSocket-Protocol: mqttv3.11\r\n\r\n",
     IOTC_ERR_DENIED, 400, NULL},
    {"POST", "POST /mqtt HTTP/1.1\r\nHost: h\r\n" UPG KEY VER PROT "Content-Length: 0\r\n\r\n",
     IOTC_ERR_MALFORMED, 405, "Allow: GET\r\n"},
    {"HTTP/1.0", "GET /mqtt HTTP/1.0\r\nHost: h\r\n" UPG KEY VER PROT "\r\n", IOTC_ERR_MALFORMED,
     400, NULL},
    {"no upgrade header", REQ_HEAD "Connection: Upgrade\r\n" KEY VER PROT "\r\n",
     IOTC_ERR_MALFORMED, 426, "Upgrade: websocket\r\n"},
    {"upgrade to h2c", REQ_HEAD "Upgrade: h2c\r\nConnection: Upgrade\r\n" KEY VER PROT "\r\n",
     IOTC_ERR_MALFORMED, 426, "Upgrade: websocket\r\n"},
    {"connection keep-alive only",
     REQ_HEAD "Upgrade: websocket\r\nConnection: keep-alive\r\n" KEY VER PROT "\r\n",
     IOTC_ERR_MALFORMED, 400, NULL},
    {"no host", "GET /mqtt HTTP/1.1\r\n" UPG KEY VER PROT "\r\n", IOTC_ERR_MALFORMED, 400, NULL},
};

static void test_accept_table(void)
{
    for (size_t i = 0; i < sizeof accept_rows / sizeof accept_rows[0]; i++) {
        const struct accept_row *r = &accept_rows[i];
        struct iotc_http_reader *rd;
        const struct iotc_http_req *q = parse_req(r->request, &rd);
        struct iotc_buf out = {0};
        int status = 0;
        iotc_errtext why = {0};
        int rc = iotc_ws_accept(q, &out, &status, &why);
        if (rc != r->rc || status != r->status)
            fprintf(stderr, "\n  row '%s': rc %d status %d (%s)\n", r->name, rc, status, why.msg);
        CU_ASSERT_EQUAL(rc, r->rc);
        CU_ASSERT_EQUAL(status, r->status);
        iotc_buf_u8(&out, 0);
        char line[32];
        snprintf(line, sizeof line, "HTTP/1.1 %d ", r->status);
        CU_ASSERT_EQUAL(strncmp((const char *)out.p, line, strlen(line)), 0);
        if (r->rc != IOTC_OK) {
            CU_ASSERT_TRUE(why.msg[0] != '\0');
            CU_ASSERT_PTR_NOT_NULL(strstr((const char *)out.p, "Connection: close\r\n"));
            CU_ASSERT_PTR_NOT_NULL(strstr((const char *)out.p, why.msg));
        }
        if (r->header)
            CU_ASSERT_PTR_NOT_NULL(strstr((const char *)out.p, r->header));
        iotc_buf_free(&out);
        iotc_http_reader_free(rd);
    }
}

static void test_client_handshake_roundtrip(void)
{
    struct iotc_buf req = {0};
    char key[IOTC_WS_KEY_LEN];
    CU_ASSERT_EQUAL(iotc_ws_client_request(&req, "iot.example.test",
                                           "/mqtt?x-amz-customauthorizer-name=a",
                                           "x-amz-customauthorizer-signature: abc\r\n", key),
                    IOTC_OK);
    CU_ASSERT_TRUE(iotc_ws_key_valid(key));
    iotc_buf_u8(&req, 0);
    struct iotc_http_reader *rd;
    const struct iotc_http_req *q = parse_req((const char *)req.p, &rd);
    CU_ASSERT_STRING_EQUAL(q->path, "/mqtt");
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "x-amz-customauthorizer-signature"), "abc");
    CU_ASSERT_TRUE(q->upgrade);
    struct iotc_buf resp = {0};
    int status = 0;
    CU_ASSERT_EQUAL(iotc_ws_accept(q, &resp, &status, NULL), IOTC_OK);
    size_t head = resp.len;
    iotc_buf_append(&resp, "\x82\x00", 2); /* first WebSocket bytes right behind */
    size_t used = 0;
    iotc_errtext why = {0};
    /* Every proper prefix of the head asks for more. */
    for (size_t n = 0; n < head; n++)
        CU_ASSERT_EQUAL(iotc_ws_client_response(resp.p, n, key, &used, &status, &why),
                        IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(iotc_ws_client_response(resp.p, resp.len, key, &used, &status, &why), IOTC_OK);
    CU_ASSERT_EQUAL(status, 101);
    CU_ASSERT_EQUAL(used, head);
    /* Another key: the accept value no longer matches. */
    char other[IOTC_WS_KEY_LEN] = "AAAAAAAAAAAAAAAAAAAAAA==";
    CU_ASSERT_EQUAL(iotc_ws_client_response(resp.p, resp.len, other, &used, &status, &why),
                    IOTC_ERR_DENIED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "Accept"));
    iotc_buf_free(&resp);
    iotc_buf_free(&req);
    iotc_http_reader_free(rd);

    /* Bad arguments are refused before anything is written. */
    struct iotc_buf b = {0};
    CU_ASSERT_EQUAL(iotc_ws_client_request(&b, "h", "/mqtt", "X: y", key), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_ws_client_request(&b, "h\r\nX: y", "/mqtt", NULL, key), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_ws_client_request(&b, "h", "mqtt", NULL, key), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(b.len, 0);
    iotc_buf_free(&b);
}

struct resp_row {
    const char *name;
    const char *text;
    int rc;
    int status;
};

static void test_client_response_table(void)
{
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
#define ACC "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
#define UC  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    static const struct resp_row rows[] = {
        {"good",
         "HTTP/1.1 101 Switching Protocols\r\n" UC ACC "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         IOTC_OK, 101},
        {"no reason phrase", "HTTP/1.1 101\r\n" UC ACC "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         IOTC_OK, 101},
        {"403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", IOTC_ERR_DENIED, 403},
        {"426", "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
         IOTC_ERR_DENIED, 426},
        {"no protocol", "HTTP/1.1 101 OK\r\n" UC ACC "\r\n", IOTC_ERR_DENIED, 101},
        {"no accept", "HTTP/1.1 101 OK\r\n" UC "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         IOTC_ERR_DENIED, 101},
        {"two accepts", "HTTP/1.1 101 OK\r\n" UC ACC ACC "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         IOTC_ERR_DENIED, 101},
        {"extension",
         "HTTP/1.1 101 OK\r\n" UC ACC
         "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Extensions: x\r\n\r\n",
         IOTC_ERR_DENIED, 101},
        {"no upgrade",
         "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n" ACC "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         IOTC_ERR_DENIED, 101},
        {"not http", "SSH-2.0-OpenSSH\r\n\r\n", IOTC_ERR_MALFORMED, 0},
        {"bad status", "HTTP/1.1 1x1 OK\r\n\r\n", IOTC_ERR_MALFORMED, 0},
        {"empty head", "\r\n\r\n", IOTC_ERR_MALFORMED, 0},
        {"header no colon", "HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n", IOTC_ERR_MALFORMED, 0},
        {"space before colon", "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n", IOTC_ERR_MALFORMED,
         0},
        {"bare LF", "HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n", IOTC_ERR_MALFORMED, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t used = 0;
        int status = -1;
        iotc_errtext why = {0};
        int rc = iotc_ws_client_response(U8(rows[i].text), strlen(rows[i].text), key, &used,
                                         &status, &why);
        if (rc != rows[i].rc || status != rows[i].status)
            fprintf(stderr, "\n  row '%s': rc %d status %d (%s)\n", rows[i].name, rc, status,
                    why.msg);
        CU_ASSERT_EQUAL(rc, rows[i].rc);
        CU_ASSERT_EQUAL(status, rows[i].status);
    }
    /* A head that never ends is cut off at the limit. */
    size_t big = IOTC_WS_MAX_RESPONSE_HEAD + 10;
    char *junk = malloc(big);
    memset(junk, 'a', big);
    size_t used;
    int status;
    CU_ASSERT_EQUAL(iotc_ws_client_response(U8(junk), big, key, &used, &status, NULL),
                    IOTC_ERR_TOO_LARGE);
    free(junk);
}

/* ---- sessions --------------------------------------------------------- */

static void test_roundtrip_masking(void)
{
    struct sink ss, cs;
    struct iotc_ws *srv = server_for(&ss, 0), *cli = client_for(&cs, 0);
    CU_ASSERT_EQUAL(iotc_ws_send(cli, U8("hello"), 5), IOTC_OK);
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(cli, &p, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2 + 4 + 5);
    CU_ASSERT_EQUAL(p[0], 0x82);     /* FIN + binary */
    CU_ASSERT_EQUAL(p[1], 0x80 | 5); /* client frames are masked */
    CU_ASSERT_EQUAL(iotc_ws_send(srv, U8("world!"), 6), IOTC_OK);
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2 + 6);
    CU_ASSERT_EQUAL(p[0], 0x82);
    CU_ASSERT_EQUAL(p[1], 6); /* server frames are not */
    CU_ASSERT_EQUAL(memcmp(p + 2, "world!", 6), 0);
    pump(cli, srv);
    CU_ASSERT_EQUAL(ss.data.len, 5);
    CU_ASSERT_EQUAL(memcmp(ss.data.p, "hello", 5), 0);
    CU_ASSERT_EQUAL(cs.data.len, 6);
    CU_ASSERT_EQUAL(memcmp(cs.data.p, "world!", 6), 0);
    CU_ASSERT_FALSE(iotc_ws_want_close(srv));
    CU_ASSERT_FALSE(iotc_ws_want_close(cli));
    CU_ASSERT_EQUAL(ss.closes + cs.closes, 0);
    iotc_ws_free(srv);
    iotc_ws_free(cli);
    iotc_buf_free(&ss.data);
    iotc_buf_free(&cs.data);
}

static void test_large_message_byte_at_a_time(void)
{
    struct sink ss, cs;
    struct iotc_ws *srv = server_for(&ss, 0), *cli = client_for(&cs, 0);
    size_t big = 70000; /* 64-bit length form */
    uint8_t *msg = malloc(big);
    for (size_t i = 0; i < big; i++)
        msg[i] = (uint8_t)(i * 7);
    CU_ASSERT_EQUAL(iotc_ws_send(cli, msg, big), IOTC_OK);
    struct iotc_buf wire = {0};
    take_pending(cli, &wire);
    CU_ASSERT_EQUAL(wire.len, 2 + 8 + 4 + big);
    for (size_t i = 0; i < wire.len; i++)
        CU_ASSERT_EQUAL_FATAL(iotc_ws_feed(srv, wire.p + i, 1), IOTC_OK);
    CU_ASSERT_EQUAL(ss.messages, 1);
    CU_ASSERT_EQUAL_FATAL(ss.data.len, big);
    CU_ASSERT_EQUAL(memcmp(ss.data.p, msg, big), 0);
    free(msg);
    iotc_buf_free(&wire);
    iotc_ws_free(srv);
    iotc_ws_free(cli);
    iotc_buf_free(&ss.data);
    iotc_buf_free(&cs.data);
}

static void test_fragmentation_with_ping(void)
{
    struct sink ss;
    struct iotc_ws *srv = server_for(&ss, 0);
    struct iotc_buf in = {0};
    raw_frame(&in, 0, 0x2, 1, "abc", 3);
    raw_frame(&in, 0, 0x0, 1, "def", 3);
    raw_frame(&in, 1, 0x9, 1, "p1", 2); /* control frames may come between fragments */
    raw_frame(&in, 1, 0x0, 1, "gh", 2);
    CU_ASSERT_EQUAL(iotc_ws_feed(srv, in.p, in.len), IOTC_OK);
    CU_ASSERT_EQUAL(ss.messages, 1);
    CU_ASSERT_EQUAL_FATAL(ss.data.len, 8);
    CU_ASSERT_EQUAL(memcmp(ss.data.p, "abcdefgh", 8), 0);
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(memcmp(p, "\x8a\x02p1", 4), 0); /* pong echoes the ping payload */
    iotc_buf_free(&in);
    iotc_ws_free(srv);
    iotc_buf_free(&ss.data);
}

static void test_ping_pong_client(void)
{
    /* The client side answers a server ping as well, masking its pong. */
    struct sink cs;
    struct iotc_ws *cli = client_for(&cs, 0);
    struct iotc_buf in = {0};
    raw_frame(&in, 1, 0x9, 0, "", 0);
    raw_frame(&in, 1, 0xA, 0, "unsolicited", 11); /* a lone pong is fine */
    CU_ASSERT_EQUAL(iotc_ws_feed(cli, in.p, in.len), IOTC_OK);
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(cli, &p, &n);
    CU_ASSERT_EQUAL_FATAL(n, 6);
    CU_ASSERT_EQUAL(p[0], 0x8A);
    CU_ASSERT_EQUAL(p[1], 0x80);
    CU_ASSERT_FALSE(iotc_ws_want_close(cli));
    iotc_buf_free(&in);
    iotc_ws_free(cli);
}

static void test_close_from_client(void)
{
    struct sink ss, cs;
    struct iotc_ws *srv = server_for(&ss, 0), *cli = client_for(&cs, 0);
    CU_ASSERT_EQUAL(iotc_ws_close(cli, IOTC_WS_NORMAL, "bye"), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_ws_code_sent(cli), IOTC_WS_NORMAL);
    CU_ASSERT_FALSE(iotc_ws_want_close(cli)); /* waits for the answer */
    CU_ASSERT_EQUAL(iotc_ws_send(cli, U8("x"), 1), IOTC_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(iotc_ws_close(cli, IOTC_WS_NORMAL, NULL), IOTC_ERR_PROTOCOL);
    pump(cli, srv);
    CU_ASSERT_EQUAL(ss.closes, 1);
    CU_ASSERT_EQUAL(ss.code, IOTC_WS_NORMAL);
    CU_ASSERT_STRING_EQUAL(ss.reason, "bye");
    CU_ASSERT_EQUAL(iotc_ws_code_received(srv), IOTC_WS_NORMAL);
    CU_ASSERT_EQUAL(iotc_ws_code_sent(srv), IOTC_WS_NORMAL); /* echoed */
    CU_ASSERT_TRUE(iotc_ws_want_close(srv));
    CU_ASSERT_EQUAL(cs.closes, 1);
    CU_ASSERT_EQUAL(cs.code, IOTC_WS_NORMAL);
    CU_ASSERT_TRUE(iotc_ws_want_close(cli));
    /* Late bytes are ignored. */
    CU_ASSERT_EQUAL(iotc_ws_feed(srv, U8("\x82\x80\0\0\0\0"), 6), IOTC_OK);
    CU_ASSERT_EQUAL(ss.messages, 0);
    iotc_ws_free(srv);
    iotc_ws_free(cli);
}

static void test_close_from_server(void)
{
    struct sink ss, cs;
    struct iotc_ws *srv = server_for(&ss, 0), *cli = client_for(&cs, 0);
    CU_ASSERT_EQUAL(iotc_ws_close(srv, 4000, "policy says go"), IOTC_OK);
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2 + 2 + 14);
    CU_ASSERT_EQUAL(memcmp(p, "\x88\x10\x0f\xa0", 4), 0);
    pump(srv, cli);
    CU_ASSERT_EQUAL(cs.closes, 1);
    CU_ASSERT_EQUAL(cs.code, 4000);
    CU_ASSERT_STRING_EQUAL(cs.reason, "policy says go");
    CU_ASSERT_EQUAL(ss.closes, 1);
    CU_ASSERT_EQUAL(ss.code, 4000);
    CU_ASSERT_TRUE(iotc_ws_want_close(srv));
    CU_ASSERT_TRUE(iotc_ws_want_close(cli));
    /* Codes that may not be sent. */
    struct iotc_ws *x = server_for(&ss, 0);
    CU_ASSERT_EQUAL(iotc_ws_close(x, IOTC_WS_NO_STATUS, NULL), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_ws_close(x, IOTC_WS_ABNORMAL, NULL), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_ws_close(x, 999, NULL), IOTC_ERR_INVALID);
    char longr[130];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    CU_ASSERT_EQUAL(iotc_ws_close(x, 1000, longr), IOTC_ERR_INVALID);
    iotc_ws_free(x);
    iotc_ws_free(srv);
    iotc_ws_free(cli);
}

static void test_close_without_code(void)
{
    struct sink ss;
    struct iotc_ws *srv = server_for(&ss, 0);
    struct iotc_buf in = {0};
    raw_frame(&in, 1, 0x8, 1, "", 0);
    CU_ASSERT_EQUAL(iotc_ws_feed(srv, in.p, in.len), IOTC_OK);
    CU_ASSERT_EQUAL(ss.closes, 1);
    CU_ASSERT_EQUAL(ss.code, IOTC_WS_NO_STATUS);
    CU_ASSERT_TRUE(iotc_ws_want_close(srv));
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL(n, 2); /* empty close echoed */
    iotc_buf_free(&in);
    iotc_ws_free(srv);
}

/* Feeds raw input to a fresh server and checks the close it sends. */
static void expect_failure(const struct iotc_buf *in, size_t max, int rc, uint16_t code)
{
    struct sink ss;
    struct iotc_ws *srv = server_for(&ss, max);
    CU_ASSERT_EQUAL(iotc_ws_feed(srv, in->p, in->len), rc);
    CU_ASSERT_EQUAL(ss.closes, 1);
    CU_ASSERT_EQUAL(ss.code, code);
    CU_ASSERT_TRUE(ss.reason[0] != '\0');
    CU_ASSERT_TRUE(iotc_ws_want_close(srv));
    CU_ASSERT_EQUAL(iotc_ws_code_sent(srv), code);
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_TRUE_FATAL(n >= 2);
    CU_ASSERT_EQUAL(p[0], 0x88);
    if (code != IOTC_WS_NO_STATUS) {
        CU_ASSERT_TRUE_FATAL(n >= 4);
        CU_ASSERT_EQUAL((p[2] << 8) | p[3], code);
    } else {
        CU_ASSERT_EQUAL(n, 2);
    }
    /* Nothing more is read or sent. */
    CU_ASSERT_EQUAL(iotc_ws_send(srv, U8("x"), 1), IOTC_ERR_PROTOCOL);
    iotc_ws_free(srv);
    iotc_buf_free(&ss.data);
}

static void test_unmasked_client_frame(void)
{
    struct iotc_buf in = {0};
    raw_frame(&in, 1, 0x2, 0, "mqtt", 4);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_PROTOCOL_ERROR);
    iotc_buf_free(&in);
}

static void test_masked_server_frame(void)
{
    struct sink cs;
    struct iotc_ws *cli = client_for(&cs, 0);
    struct iotc_buf in = {0};
    raw_frame(&in, 1, 0x2, 1, "mqtt", 4);
    CU_ASSERT_EQUAL(iotc_ws_feed(cli, in.p, in.len), IOTC_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(cs.code, IOTC_WS_PROTOCOL_ERROR);
    CU_ASSERT_EQUAL(cs.data.len, 0);
    iotc_buf_free(&in);
    iotc_ws_free(cli);
}

static void test_text_frame(void)
{
    struct iotc_buf in = {0};
    raw_frame(&in, 1, 0x1, 1, "{\"json\":1}", 10);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_UNSUPPORTED_DATA);
    iotc_buf_reset(&in);
    raw_frame(&in, 1, 0x1, 1, "\xff\xfe", 2); /* bad UTF-8 too: still 1003 */
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_UNSUPPORTED_DATA);
    iotc_buf_free(&in);
}

static void test_oversize(void)
{
    struct iotc_buf in = {0};
    raw_frame(&in, 1, 0x2, 1, "0123456789abcdefX", 17);
    expect_failure(&in, 16, IOTC_ERR_TOO_LARGE, IOTC_WS_MESSAGE_TOO_BIG);
    iotc_buf_reset(&in);
    /* Each fragment fits, the message does not. */
    raw_frame(&in, 0, 0x2, 1, "0123456789", 10);
    raw_frame(&in, 1, 0x0, 1, "0123456789", 10);
    expect_failure(&in, 16, IOTC_ERR_TOO_LARGE, IOTC_WS_MESSAGE_TOO_BIG);
    iotc_buf_reset(&in);
    /* A 4 GiB length in the header: refused at the first payload byte (wslay
     * looks at a frame once some payload is there), nothing is allocated. */
    static const uint8_t huge[] = {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 'x'};
    iotc_buf_append(&in, huge, sizeof huge);
    expect_failure(&in, 0, IOTC_ERR_TOO_LARGE, IOTC_WS_MESSAGE_TOO_BIG);
    iotc_buf_free(&in);

    /* Exactly at the limit is fine. */
    struct sink ss;
    struct iotc_ws *srv = server_for(&ss, 16);
    struct iotc_buf ok = {0};
    raw_frame(&ok, 1, 0x2, 1, "0123456789abcdef", 16);
    CU_ASSERT_EQUAL(iotc_ws_feed(srv, ok.p, ok.len), IOTC_OK);
    CU_ASSERT_EQUAL(ss.data.len, 16);
    iotc_buf_free(&ok);
    iotc_buf_free(&ss.data);
    iotc_ws_free(srv);
}

static void test_other_protocol_errors(void)
{
    struct iotc_buf in = {0};
    /* Continuation with nothing to continue. */
    raw_frame(&in, 1, 0x0, 1, "x", 1);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_PROTOCOL_ERROR);
    iotc_buf_reset(&in);
    /* Reserved opcode. */
    raw_frame(&in, 1, 0x3, 1, "x", 1);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_PROTOCOL_ERROR);
    iotc_buf_reset(&in);
    /* New data message while a fragmented one is open. */
    raw_frame(&in, 0, 0x2, 1, "a", 1);
    raw_frame(&in, 1, 0x2, 1, "b", 1);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_PROTOCOL_ERROR);
    iotc_buf_reset(&in);
    /* RSV1 without an extension. */
    iotc_buf_append(&in, "\xC2\x80\0\0\0\0", 6);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_PROTOCOL_ERROR);
    iotc_buf_reset(&in);
    /* Close code that may not appear on the wire. */
    raw_frame(&in, 1, 0x8, 1, "\x03\xed", 2); /* 1005 */
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_PROTOCOL_ERROR);
    iotc_buf_reset(&in);
    /* Close reason that is not UTF-8. */
    raw_frame(&in, 1, 0x8, 1, "\x03\xe8\xc3\x28", 4);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_INVALID_PAYLOAD);
    iotc_buf_reset(&in);
    /* Fragmented ping: refused by wslay's frame layer, which closes without a code. */
    raw_frame(&in, 0, 0x9, 1, "x", 1);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_NO_STATUS);
    iotc_buf_reset(&in);
    /* Length not minimally encoded. */
    iotc_buf_append(&in, "\x82\xFE\x00\x05\0\0\0\0hello", 13);
    expect_failure(&in, 0, IOTC_ERR_PROTOCOL, IOTC_WS_NO_STATUS);
    iotc_buf_free(&in);
}

static void test_mqtt_stream_across_messages(void)
{
    /* CONNECT (MQTT 3.1.1, client id "dev1") then PINGREQ, cut at odd places:
     * a packet split over messages, and two packets' pieces in one message. */
    static const uint8_t mqtt[] = {0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02,
                                   0x00, 0x3c, 0x00, 0x04, 'd', 'e', 'v', '1', 0xC0, 0x00};
    struct sink ss, cs;
    struct iotc_ws *srv = server_for(&ss, 0), *cli = client_for(&cs, 0);
    size_t cuts[] = {0, 1, 7, 19, sizeof mqtt};
    for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++)
        CU_ASSERT_EQUAL(iotc_ws_send(cli, mqtt + cuts[i], cuts[i + 1] - cuts[i]), IOTC_OK);
    struct iotc_buf wire = {0};
    take_pending(cli, &wire);
    /* Deliver the wire in 3-byte slices, unrelated to frame boundaries. */
    for (size_t off = 0; off < wire.len; off += 3) {
        size_t n = wire.len - off < 3 ? wire.len - off : 3;
        CU_ASSERT_EQUAL(iotc_ws_feed(srv, wire.p + off, n), IOTC_OK);
    }
    CU_ASSERT_EQUAL(ss.messages, 4);
    CU_ASSERT_EQUAL_FATAL(ss.data.len, sizeof mqtt);
    CU_ASSERT_EQUAL(memcmp(ss.data.p, mqtt, sizeof mqtt), 0);
    /* An empty binary message carries no bytes and is not reported. */
    iotc_buf_reset(&wire);
    CU_ASSERT_EQUAL(iotc_ws_send(cli, NULL, 0), IOTC_OK);
    take_pending(cli, &wire);
    CU_ASSERT_EQUAL(iotc_ws_feed(srv, wire.p, wire.len), IOTC_OK);
    CU_ASSERT_EQUAL(ss.messages, 4);
    iotc_buf_free(&wire);
    iotc_ws_free(srv);
    iotc_ws_free(cli);
    iotc_buf_free(&ss.data);
}

static void test_partial_consume(void)
{
    struct sink ss;
    struct iotc_ws *srv = server_for(&ss, 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(iotc_ws_send(srv, U8("0123456789"), 10), IOTC_OK);
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL(n, 36);
    iotc_ws_consume(srv, 20); /* compacts: the rest must survive */
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL_FATAL(n, 16);
    CU_ASSERT_EQUAL(memcmp(p,
                           "6789\x82\x0a"
                           "0123456789",
                           16),
                    0);
    iotc_ws_consume(srv, 100); /* more than pending is clamped */
    iotc_ws_pending(srv, &p, &n);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(iotc_ws_feed(NULL, NULL, 0), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_ws_send(srv, NULL, 3), IOTC_ERR_INVALID);
    iotc_ws_free(srv);
    iotc_ws_free(NULL);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("ws", NULL, NULL);
    if (!s)
        return -1;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"accept key (RFC 6455 example)", test_accept_key_rfc_example},
        {"client key validity", test_key_valid},
        {"accept: 101 response", test_accept_ok},
        {"accept: request table", test_accept_table},
        {"client handshake round trip", test_client_handshake_roundtrip},
        {"client: response table", test_client_response_table},
        {"session: round trip and masking", test_roundtrip_masking},
        {"session: 70000-byte message fed byte by byte", test_large_message_byte_at_a_time},
        {"session: fragmentation with a ping inside", test_fragmentation_with_ping},
        {"session: client answers ping", test_ping_pong_client},
        {"session: close from client", test_close_from_client},
        {"session: close from server", test_close_from_server},
        {"session: close without code", test_close_without_code},
        {"session: unmasked client frame -> 1002", test_unmasked_client_frame},
        {"session: masked server frame -> 1002", test_masked_server_frame},
        {"session: text frame -> 1003", test_text_frame},
        {"session: oversize message -> 1009", test_oversize},
        {"session: other protocol errors", test_other_protocol_errors},
        {"session: MQTT stream across messages", test_mqtt_stream_across_messages},
        {"session: partial consume", test_partial_consume},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
