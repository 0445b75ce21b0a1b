/*
 * Unit tests for sim/client's MQTT session bookkeeping (packets from the server
 * recorded as the pump records them) and the TCP dial (connect, refusal, a
 * literal that is not one).
 */
#include "client/dial.h"
#include "client/mqtt_session.h"
#include "common/err.h"
#include "mqtt/mqtt.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Feeds one encoded packet to the session as the pump would. */
static void feed(iotc_mqtt_session *m, struct iotc_buf *b)
{
    struct iotc_mqtt_frame f;
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_frame_peek(b->p, b->len, 0, &f), IOTC_OK);
    iotc_mqtt_session_packet(m, b->p, &f);
    iotc_buf_free(b);
}

static void test_pid_wraps_past_zero(void)
{
    uint16_t last = 0;
    CU_ASSERT_EQUAL(iotc_mqtt_pid_next(&last), 1);
    CU_ASSERT_EQUAL(iotc_mqtt_pid_next(&last), 2);
    last = 65534;
    CU_ASSERT_EQUAL(iotc_mqtt_pid_next(&last), 65535);
    CU_ASSERT_EQUAL(iotc_mqtt_pid_next(&last), 1);
}

static void test_connack_v5_keep_alive(void)
{
    iotc_mqtt_session m;
    struct iotc_buf props = {0}, b = {0};
    struct iotc_mqtt_prop p = {IOTC_MQTT_PROP_SERVER_KEEP_ALIVE, 30, {NULL, 0}, {NULL, 0}};
    struct iotc_mqtt_connack ca = {true, 0, {NULL, 0}};

    iotc_mqtt_session_init(&m);
    m.version = IOTC_MQTT_V5;
    CU_ASSERT_EQUAL(m.connack_rc, -1);
    CU_ASSERT_EQUAL(m.server_keep_alive, -1);
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &p), IOTC_OK);
    ca.props = (struct iotc_span){props.p, props.len};
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connack_encode(&b, IOTC_MQTT_V5, &ca), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL(m.connack_rc, 0);
    CU_ASSERT_EQUAL(m.session_present, 1);
    CU_ASSERT_EQUAL(m.server_keep_alive, 30);
    CU_ASSERT_EQUAL(m.packets, 1);
    iotc_buf_free(&props);
    iotc_mqtt_session_free(&m);
}

/* MQTT 5: what the server's CONNACK advertised, a PUBACK's reason and a PUBLISH's
 * properties are kept (the session driver judges them); MQTT 3.1.1 keeps none. */
static void test_v5_properties_kept(void)
{
    iotc_mqtt_session m;
    struct iotc_buf props = {0}, b = {0};
    struct iotc_mqtt_prop mq = {IOTC_MQTT_PROP_MAXIMUM_QOS, 1, {NULL, 0}, {NULL, 0}};
    struct iotc_mqtt_prop up = {IOTC_MQTT_PROP_USER_PROPERTY, 0, IOTC_SPAN_LIT("k"),
                                IOTC_SPAN_LIT("v")};
    struct iotc_mqtt_connack ca = {false, 0, {NULL, 0}};
    struct iotc_mqtt_ack denied = {IOTC_MQTT_PUBACK, 5, IOTC_MQTT_RC_NOT_AUTHORIZED, {NULL, 0}};
    struct iotc_mqtt_publish pub;
    struct iotc_mqtt_prop got;

    iotc_mqtt_session_init(&m);
    m.version = IOTC_MQTT_V5;
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &mq), IOTC_OK);
    ca.props = (struct iotc_span){props.p, props.len};
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connack_encode(&b, IOTC_MQTT_V5, &ca), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find((struct iotc_span){m.connack_props.p, m.connack_props.len},
                                         IOTC_MQTT_PROP_MAXIMUM_QOS, &got),
                    1);
    CU_ASSERT_EQUAL(got.u32, 1);
    CU_ASSERT_EQUAL(iotc_mqtt_session_puback_rc(&m, 5), -1);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_ack_encode(&b, IOTC_MQTT_V5, &denied), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL(iotc_mqtt_session_puback_rc(&m, 5), IOTC_MQTT_RC_NOT_AUTHORIZED);
    iotc_buf_reset(&props);
    CU_ASSERT_EQUAL(iotc_mqtt_props_put(&props, &up), IOTC_OK);
    memset(&pub, 0, sizeof(pub));
    pub.topic = IOTC_SPAN_LIT("t");
    pub.payload = IOTC_SPAN_LIT("p");
    pub.props = (struct iotc_span){props.p, props.len};
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_publish_encode(&b, IOTC_MQTT_V5, &pub), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL_FATAL(m.n_inbox, 1);
    CU_ASSERT_EQUAL(iotc_mqtt_props_find((struct iotc_span){m.inbox[0].props, m.inbox[0].props_len},
                                         IOTC_MQTT_PROP_USER_PROPERTY, &got),
                    1);
    CU_ASSERT(got.value.n == 1 && got.value.p[0] == 'v');
    /* A reset (the connection is opened again) forgets them. */
    iotc_mqtt_session_reset(&m);
    CU_ASSERT_EQUAL(m.connack_props.len, 0);
    CU_ASSERT_EQUAL(m.n_inbox, 0);
    /* MQTT 3.1.1: a CONNACK has no properties to keep. */
    m.version = IOTC_MQTT_V311;
    ca.props = (struct iotc_span){NULL, 0};
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_connack_encode(&b, IOTC_MQTT_V311, &ca), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL(m.connack_rc, 0);
    CU_ASSERT_EQUAL(m.connack_props.len, 0);
    iotc_buf_free(&props);
    iotc_mqtt_session_free(&m);
}

static void test_acks_suback_pingresp(void)
{
    iotc_mqtt_session m;
    struct iotc_buf b = {0};
    struct iotc_mqtt_ack puback = {IOTC_MQTT_PUBACK, 7, 0, {NULL, 0}};
    struct iotc_mqtt_ack pubrec = {IOTC_MQTT_PUBREC, 9, 0, {NULL, 0}};
    struct iotc_mqtt_suback sa = {IOTC_MQTT_SUBACK, 3, {NULL, 0}, 2, {1, 0x80}};

    iotc_mqtt_session_init(&m);
    m.version = IOTC_MQTT_V311;
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_ack_encode(&b, IOTC_MQTT_V311, &puback), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_ack_encode(&b, IOTC_MQTT_V311, &pubrec), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_TRUE(iotc_mqtt_session_acked(m.pubacks, m.n_pubacks, 7));
    CU_ASSERT_FALSE(iotc_mqtt_session_acked(m.pubacks, m.n_pubacks, 9));
    CU_ASSERT_TRUE(iotc_mqtt_session_acked(m.pubrecs, m.n_pubrecs, 9));
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_suback_encode(&b, IOTC_MQTT_V311, &sa), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL(m.suback_pid, 3);
    CU_ASSERT_EQUAL(m.suback_n, 2);
    CU_ASSERT_EQUAL(m.suback_codes[0], 1);
    CU_ASSERT_EQUAL(m.suback_codes[1], 0x80);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_ping_encode(&b, IOTC_MQTT_PINGRESP), IOTC_OK);
    feed(&m, &b);
    CU_ASSERT_EQUAL(m.pingresps, 1);
    iotc_mqtt_session_reset(&m);
    CU_ASSERT_EQUAL(m.n_pubacks, 0);
    CU_ASSERT_EQUAL(m.pingresps, 0);
    CU_ASSERT_EQUAL(m.suback_pid, 0);
    iotc_mqtt_session_free(&m);
}

static void publish(iotc_mqtt_session *m, const char *topic, const char *payload, int retain)
{
    struct iotc_buf b = {0};
    struct iotc_mqtt_publish p;
    memset(&p, 0, sizeof(p));
    p.qos = 1;
    p.packet_id = 5;
    p.retain = retain;
    p.topic = iotc_span_str(topic);
    p.payload = iotc_span_str(payload);
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_publish_encode(&b, (uint8_t)m->version, &p), IOTC_OK);
    feed(m, &b);
}

static void test_inbox_and_take(void)
{
    iotc_mqtt_session m;
    iotc_mqtt_session_init(&m);
    m.version = IOTC_MQTT_V311;
    publish(&m, "a/b", "one", 0);
    publish(&m, "a/c", "two", 1);
    CU_ASSERT_EQUAL_FATAL(m.n_inbox, 2);
    CU_ASSERT_STRING_EQUAL(m.inbox[0].topic, "a/b");
    CU_ASSERT_STRING_EQUAL(m.inbox[0].payload, "one");
    CU_ASSERT_EQUAL(m.inbox[0].len, 3);
    CU_ASSERT_EQUAL(m.inbox[1].retain, 1);
    CU_ASSERT_EQUAL(m.inbox[1].qos, 1);
    iotc_mqtt_session_take(&m, 0);
    CU_ASSERT_EQUAL_FATAL(m.n_inbox, 1);
    CU_ASSERT_STRING_EQUAL(m.inbox[0].payload, "two");
    iotc_mqtt_session_take(&m, 5); /* out of range: nothing */
    CU_ASSERT_EQUAL(m.n_inbox, 1);
    iotc_mqtt_session_free(&m);
    CU_ASSERT_EQUAL(m.n_inbox, 0);
}

static void test_no_inbox_flag(void)
{
    iotc_mqtt_session m;
    iotc_mqtt_session_init(&m);
    m.version = IOTC_MQTT_V311;
    m.flags = IOTC_MQTT_SESSION_NO_INBOX;
    publish(&m, "a/b", "one", 0);
    CU_ASSERT_EQUAL(m.n_inbox, 0);
    CU_ASSERT_EQUAL(m.packets, 1);
    /* Never opened: closed, and nothing can be sent. */
    CU_ASSERT_TRUE(iotc_mqtt_session_closed(&m));
    struct iotc_buf b = {0};
    CU_ASSERT_EQUAL_FATAL(iotc_mqtt_ping_encode(&b, IOTC_MQTT_PINGREQ), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_mqtt_session_send(&m, &b), IOTC_ERR_IO);
    iotc_buf_free(&b);
    iotc_mqtt_session_free(&m);
}

/* A listening loopback socket; its port in *port. */
static int listener(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_dial_connects_and_refuses(void)
{
    int port = 0, fd = -1;
    iotc_errtext err = {0};
    int lfd = listener(&port);
    CU_ASSERT_TRUE_FATAL(lfd >= 0);
    iotc_dial_opts d = {.host = "127.0.0.1",
                        .port = port,
                        .family = AF_INET,
                        .numeric = 1,
                        .connect_timeout_ms = 2000,
                        .io_timeout_ms = 2000,
                        .nodelay = 1};
    CU_ASSERT_EQUAL(iotc_client_dial(&d, &fd, &err), IOTC_OK);
    CU_ASSERT_TRUE(fd >= 0);
    if (fd >= 0)
        close(fd);
    /* Closed now: the same port refuses. */
    close(lfd);
    CU_ASSERT_EQUAL(iotc_client_dial(&d, &fd, &err), IOTC_ERR_IO);
    CU_ASSERT_EQUAL(fd, -1);
    char want[64];
    snprintf(want, sizeof(want), "connect to 127.0.0.1 port %d: ", port);
    CU_ASSERT_EQUAL(strncmp(err.msg, want, strlen(want)), 0);
}

static void test_dial_not_a_literal(void)
{
    int fd = 5;
    iotc_errtext err = {0};
    iotc_dial_opts d = {.host = "", .port = 1, .family = AF_INET6, .numeric = 1};
    CU_ASSERT_EQUAL(iotc_client_dial(&d, &fd, &err), IOTC_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fd, -1);
    CU_ASSERT_STRING_EQUAL(err.msg, "no IPv6 address to dial (\"\")");
    d.host = "localhost"; /* a name, but only literals are allowed */
    d.family = AF_INET;
    CU_ASSERT_EQUAL(iotc_client_dial(&d, &fd, &err), IOTC_ERR_NOT_FOUND);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("client", NULL, NULL);
    if (!s)
        return -1;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"packet ids wrap past zero", test_pid_wraps_past_zero},
        {"session: MQTT 5 CONNACK with server keep-alive", test_connack_v5_keep_alive},
        {"session: PUBACK, PUBREC, SUBACK, PINGRESP recorded", test_acks_suback_pingresp},
        {"session: MQTT 5 CONNACK, PUBACK and PUBLISH properties kept", test_v5_properties_kept},
        {"session: inbox and take", test_inbox_and_take},
        {"session: no-inbox flag, never opened", test_no_inbox_flag},
        {"dial: connects, then is refused", test_dial_connects_and_refuses},
        {"dial: not a literal address", test_dial_not_a_literal},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
