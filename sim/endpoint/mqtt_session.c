/*
 * MQTT over TLS: the relay between one device and mosquitto. The front door
 * parses every packet in both directions so it can apply AWS IoT's rules, stamp
 * the identity on CONNECT, shape CONNACK like AWS, own the keep-alive timer and
 * journal what happened. Bytes are forwarded unchanged unless a rule rewrites them.
 * This file: the session's life (start, read, dispatch by packet, close) and the
 * ways out (to the device, to the broker, refusals). Each packet has its handle_*.c.
 */
#include "mqtt_session.h"
#include "lifecycle.h"
#include "wshared.h"
#include "common/err.h"
#include "common/strmap.h"
#include "ws/ws.h"
#include "common/jevents.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lifecycle disconnectReason for a refusal rule (reference section 3). */
static const char *ms__rule_reason(const char *rule)
{
    static const struct {
        const char *rule, *reason;
    } map[] = {
        {"MQTT_KEEP_ALIVE_TIMEOUT", "MQTT_KEEP_ALIVE_TIMEOUT"},
        {"DUPLICATE_CLIENTID", "DUPLICATE_CLIENTID"},
        {"authentication", "AUTH_ERROR"},
        {"policy", "FORBIDDEN_ACCESS"},
        {"reserved-topic", "FORBIDDEN_ACCESS"},
        {"broker-unavailable", "SERVER_ERROR"},
        {"broker-timeout", "SERVER_ERROR"},
        {"throttled", "THROTTLED"},
        {"receive-maximum", "THROTTLED"}, /* AWS's in-flight quota, exceeded */
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].rule, rule) == 0)
            return map[i].reason;
    return "CLIENT_ERROR";
}

/* The reason codes an MQTT 5 CONNACK may carry (MQTT 5.0 section 3.2.2.2). */
static bool ms__connack_reason(uint8_t rc)
{
    static const uint8_t ok[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
    return memchr(ok, rc, sizeof ok) != NULL;
}

static size_t ms__max_packet(const struct iotc_conn *c)
{
    /* Room for a maximum payload plus the largest topic and properties. */
    return (size_t)c->ep->profile.limits.max_payload_bytes + 65536 + 1024;
}

/* Hands what the WebSocket layer framed (messages, pongs, close) to TLS. */
static void ms__ws_flush(struct iotc_endpoint_mqtt_sess *s)
{
    const uint8_t *d;
    size_t n;
    for (;;) {
        iotc_ws_pending(s->ws, &d, &n);
        if (n == 0)
            break;
        iotc_conn_write(s->c, d, n);
        iotc_ws_consume(s->ws, n);
    }
}

/*
 * AWS's inbound in-flight quota (limits.inflight_qos1_max; README "Throttling"): a device
 * may have that many QoS 1 PUBLISHes unanswered. Every PUBACK the device gets answers one
 * (the broker's, relayed; or the front door's own refusal 0x87 / 0x97). One more is a
 * protocol violation on MQTT 5 (its CONNACK stated Receive Maximum): DISCONNECT 0x93. MQTT
 * 3.1.1 has no such signal; AWS's quota page says no new messages are accepted from the
 * client until an ACK is returned, so its input is left unread until a PUBACK goes out:
 * nothing is lost, the device is slowed. Returns 0 to go on, 1 when refused, or
 * IOTC_READ_KEEP to leave the PUBLISH unread for now.
 */
static int ms__inflight_admit(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f)
{
    long long max = s->c->ep->profile.limits.inflight_qos1_max;
    if (((f->flags >> 1) & 3) != 1)
        return 0;
    if (max > 0 && s->inflight.n >= (unsigned long long)max) {
        if (s->version == IOTC_MQTT_V5) {
            iotc_ms_refuse(s, "receive-maximum",
                           "more unacknowledged QoS 1 PUBLISHes than the Receive Maximum",
                           MQTT_RC_RECEIVE_MAX_EXCEEDED, 0);
            return 1;
        }
        if (!s->inflight.paused)
            iotc_conn_emit(s->c, IOTC_EV_MQTT_THROTTLED,
                           json_pack("{s:s, s:I, s:s}", IOTC_JF_LIMIT, "inflight_qos1_max",
                                     "in_flight", (json_int_t)s->inflight.n, "client_id",
                                     s->client_id));
        s->inflight.paused = true;
        iotc_conn_read_enable(s->c, false);
        return IOTC_READ_KEEP;
    }
    s->inflight.n++;
    return 0;
}

static void ms__inflight_resume(evutil_socket_t fd, short what, void *arg);

/* A PUBACK to the device answers one of its QoS 1 PUBLISHes. */
static void ms__inflight_acked(struct iotc_endpoint_mqtt_sess *s)
{
    if (s->inflight.n > 0)
        s->inflight.n--;
    if (!s->inflight.paused)
        return;
    if (!s->inflight.resume &&
        !(s->inflight.resume = event_new(s->c->ep->base, -1, 0, ms__inflight_resume, s)))
        return; /* no memory: the next read event retries */
    event_active(s->inflight.resume, EV_TIMEOUT, 0);
}

/* The device's answer that a PUBLISH of its own was dropped without one (3.1.1 throttled). */
void iotc_ms_inflight_forget(struct iotc_endpoint_mqtt_sess *s)
{
    if (s->inflight.n > 0)
        s->inflight.n--;
}

void iotc_ms_send_client(struct iotc_endpoint_mqtt_sess *s, const void *data, size_t len)
{
    if (len >= 2 && ((const uint8_t *)data)[0] >> 4 == IOTC_MQTT_PUBACK)
        ms__inflight_acked(s);
    if (s->ws) {
        iotc_ws_send(s->ws, data, len);
        ms__ws_flush(s);
    } else {
        iotc_conn_write(s->c, data, len);
    }
    if (s->link && iotc_conn_output_len(s->c) > IOTC_ENDPOINT_MS_HIGH_WATER)
        iotc_blink_pause(s->link, true);
}

void iotc_ms_send_broker(struct iotc_endpoint_mqtt_sess *s, const void *data, size_t len)
{
    if (!s->link)
        return;
    iotc_blink_send(s->link, data, len);
    if (iotc_blink_queued(s->link) > IOTC_ENDPOINT_MS_HIGH_WATER)
        iotc_conn_read_enable(s->c, false);
}

void iotc_ms_finish(struct iotc_endpoint_mqtt_sess *s, const char *by, const char *reason)
{
    if (s->state == IOTC_ENDPOINT_MS_DONE)
        return;
    s->state = IOTC_ENDPOINT_MS_DONE;
    iotc_conn_close(s->c, by, reason);
}

/*
 * Refuses per AWS: before CONNACK the device gets a CONNACK with the code
 * (MQTT 3: return code, MQTT 5: reason); after it, MQTT 5 gets a DISCONNECT with
 * the reason and MQTT 3 a plain close. "Before CONNACK" includes waiting for the
 * broker's: MQTT 5 forbids a DISCONNECT before the CONNACK (MQTT-3.14.0-1), so a
 * refusal there is a CONNACK too (none when the reason is not a CONNACK reason). A
 * 3.1.1 code of 0 would accept the connection: callers pass it for "no CONNACK".
 */
void iotc_ms_refuse(struct iotc_endpoint_mqtt_sess *s, const char *rule, const char *reason,
                    uint8_t v5, uint8_t v3_connack)
{
    json_t *f = json_pack("{s:s, s:s, s:i}", "rule", rule, "reason", reason, "mqtt5_reason", v5);
    iotc_conn_emit(s->c, IOTC_EV_MQTT_REFUSED, f);
    if (!s->lc_reason)
        s->lc_reason = ms__rule_reason(rule);
    iotc_buf_reset(&s->out);
    bool before_connack = s->state == IOTC_ENDPOINT_MS_WAIT_CONNECT ||
                          s->state == IOTC_ENDPOINT_MS_AUTHORIZING ||
                          s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK;
    if (before_connack && s->version &&
        (s->version == IOTC_MQTT_V5
             ? ms__connack_reason(v5)
             : v3_connack != IOTC_ENDPOINT_MS_NO_CONNACK && v3_connack != 0)) {
        struct iotc_mqtt_connack ca = {.session_present = false,
                                       .code = s->version == IOTC_MQTT_V5 ? v5 : v3_connack};
        if (iotc_mqtt_connack_encode(&s->out, s->version, &ca) == IOTC_OK)
            iotc_ms_send_client(s, s->out.p, s->out.len);
    } else if (s->version == IOTC_MQTT_V5 && !before_connack) {
        struct iotc_mqtt_disconnect d = {.reason = v5};
        if (iotc_mqtt_disconnect_encode(&s->out, IOTC_MQTT_V5, &d) == IOTC_OK)
            iotc_ms_send_client(s, s->out.p, s->out.len);
    }
    iotc_ms_finish(s, "endpoint", reason);
}

/* Packets relayed as they are (PUBACK, PINGREQ, DISCONNECT) must parse: a malformed one
 * is the front door's refusal (as AWS's), not the broker's. */
static bool ms__relayable(const struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                          const uint8_t *pkt)
{
    switch (f->type) {
    case IOTC_MQTT_PUBACK: {
        struct iotc_mqtt_ack a;
        return iotc_mqtt_ack_parse(pkt, f->total, s->version, &a) == IOTC_OK;
    }
    case IOTC_MQTT_PINGREQ:
        return f->remaining == 0;
    case IOTC_MQTT_DISCONNECT: {
        struct iotc_mqtt_disconnect d;
        return iotc_mqtt_disconnect_parse(pkt, f->total, s->version, &d) == IOTC_OK;
    }
    default:
        return true;
    }
}

static int ms__client_packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    if (s->state == IOTC_ENDPOINT_MS_DONE)
        return 1;
    if (s->state == IOTC_ENDPOINT_MS_WAIT_CONNECT) {
        if (f->type != IOTC_MQTT_CONNECT) {
            iotc_conn_emit(s->c, IOTC_EV_MQTT_REFUSED,
                           json_pack("{s:s, s:s, s:s}", "rule", "connect-first", "reason",
                                     "first packet must be CONNECT", "type",
                                     iotc_mqtt_type_name(f->type)));
            iotc_ms_finish(s, "endpoint", "first packet was not CONNECT");
            return 1;
        }
        return iotc_ms_on_connect(s, f, pkt);
    }
    if (s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK || s->state == IOTC_ENDPOINT_MS_AUTHORIZING) {
        iotc_ms_journal(s, IOTC_EV_MQTT_IN, f, pkt, true);
        iotc_ms_refuse(s, "wait-connack", "packet sent before CONNACK", IOTC_MQTT_RC_PROTOCOL_ERROR,
                       0);
        return 1;
    }
    if (f->type == IOTC_MQTT_PUBLISH) {
        int q = ms__inflight_admit(s, f); /* before anything counts the packet as read */
        if (q)
            return q;
    }
    iotc_ms_arm_keepalive(s);
    iotc_ms_journal(s, IOTC_EV_MQTT_IN, f, pkt,
                    f->type != IOTC_MQTT_PUBLISH && f->type != IOTC_MQTT_PUBACK &&
                        f->type != IOTC_MQTT_PINGREQ);
    if (!ms__relayable(s, f, pkt)) {
        iotc_ms_refuse(s, "malformed", "malformed packet", IOTC_MQTT_RC_MALFORMED, 0);
        return 1;
    }
    switch (f->type) {
    case IOTC_MQTT_CONNECT:
        iotc_ms_refuse(s, "second-connect", "second CONNECT on a connection",
                       IOTC_MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    case IOTC_MQTT_PUBLISH: {
        int rc = iotc_ms_check_publish(s, f, pkt);
        if (rc == 2)
            return 0; /* answered without forwarding */
        if (rc)
            return 1;
        break;
    }
    case IOTC_MQTT_SUBSCRIBE: {
        int rc = iotc_ms_check_subscribe(s, f, pkt);
        if (rc == 2)
            return 0; /* answered, or a rewritten SUBSCRIBE went out instead */
        if (rc)
            return 1;
        break;
    }
    case IOTC_MQTT_UNSUBSCRIBE: {
        /* Refused here like a malformed SUBSCRIBE, never relayed: mosquitto would drop the
         * connection as a broker error, and the session's filter set would drift. */
        struct iotc_mqtt_subscribe *sub = malloc(sizeof *sub);
        if (!sub) {
            iotc_ms_finish(s, "endpoint", "out of memory");
            return 1;
        }
        int rc = iotc_mqtt_unsubscribe_parse(pkt, f->total, s->version, sub);
        if (rc == IOTC_OK)
            iotc_ms_remember_filters(s, sub, NULL);
        free(sub);
        if (rc != IOTC_OK) {
            iotc_ms_refuse(s, "malformed",
                           rc == IOTC_ERR_TOO_LARGE
                               ? "more than 64 topic filters in one UNSUBSCRIBE"
                               : "malformed UNSUBSCRIBE",
                           IOTC_MQTT_RC_MALFORMED, 0);
            return 1;
        }
        break;
    }
    case IOTC_MQTT_PUBREC:
    case IOTC_MQTT_PUBREL:
    case IOTC_MQTT_PUBCOMP:
        iotc_ms_refuse(s, "qos2", "QoS 2 flow is not supported by AWS IoT",
                       IOTC_MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    case IOTC_MQTT_AUTH:
        iotc_ms_refuse(s, "auth-packet", "enhanced authentication is not supported",
                       IOTC_MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    case IOTC_MQTT_CONNACK:
    case IOTC_MQTT_SUBACK:
    case IOTC_MQTT_UNSUBACK:
    case IOTC_MQTT_PINGRESP:
        iotc_ms_refuse(s, "server-packet", "client sent a server-only packet",
                       IOTC_MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    case IOTC_MQTT_PINGREQ:
        if (!iotc_ms_da_device_ping(s)) {
            static const uint8_t pingresp[2] = {0xD0, 0x00};
            iotc_ms_send_client(s, pingresp, sizeof pingresp);
            return 0;
        }
        break;
    default:
        break;
    }
    iotc_ms_send_broker(s, pkt, f->total);
    if (f->type == IOTC_MQTT_DISCONNECT) {
        s->lc_reason = "CLIENT_INITIATED_DISCONNECT";
        s->client_initiated = true;
        iotc_ms_finish(s, "client", "CLIENT_INITIATED_DISCONNECT");
        return 1;
    }
    return 0;
}

static void ms__process(struct iotc_endpoint_mqtt_sess *s, struct evbuffer *in)
{
    struct iotc_conn *c = s->c;
    int rc = iotc_read_packets(in, ms__max_packet(c), ms__client_packet, s,
                               s->ws ? NULL : &c->tr.bytes_in);
    if (rc == IOTC_ERR_TOO_LARGE)
        iotc_ms_refuse(s, "packet-size", "packet larger than the endpoint accepts",
                       IOTC_MQTT_RC_PACKET_TOO_LARGE, 0);
    else if (rc != IOTC_OK)
        iotc_ms_refuse(s, "malformed", "malformed MQTT packet framing", IOTC_MQTT_RC_MALFORMED, 0);
}

static void ms__ws_data(void *arg, const uint8_t *data, size_t len)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    evbuffer_add(s->ws_in, data, len);
}

static void ms__ws_closed(void *arg, uint16_t code, const char *reason)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    iotc_conn_emit(s->c, IOTC_EV_WS_CLOSE, json_pack("{s:i, s:s}", "code", code, "reason", reason));
    s->ws_closed = true;
}

static void ms__on_read(struct iotc_conn *c)
{
    struct iotc_endpoint_mqtt_sess *s = c->sess.data;
    if (!s->ws) {
        ms__process(s, iotc_conn_input(c));
        return;
    }
    struct evbuffer *in = iotc_conn_input(c);
    size_t n = in ? evbuffer_get_length(in) : 0;
    if (n) {
        c->tr.bytes_in += n;
        int rc = iotc_ws_feed(s->ws, evbuffer_pullup(in, -1), n);
        evbuffer_drain(in, n);
        ms__ws_flush(s);
        if (rc != IOTC_OK || s->ws_closed) {
            if (!s->lc_reason)
                s->lc_reason = s->ws_closed ? "CLIENT_INITIATED_DISCONNECT" : "CLIENT_ERROR";
            iotc_ms_finish(s, "client",
                           s->ws_closed ? "WebSocket closed" : "WebSocket protocol error");
            return;
        }
    }
    if (evbuffer_get_length(s->ws_in))
        ms__process(s, s->ws_in);
}

/* Below the quota again: read what waited, then the socket. */
static void ms__inflight_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct iotc_endpoint_mqtt_sess *s = arg;
    if (s->state == IOTC_ENDPOINT_MS_DONE || !s->inflight.paused || s->takeover_wait)
        return; /* waiting to learn why the broker closed: the device's input waits too */
    struct iotc_conn *c = s->c; /* outlives this turn; s does not once the session closes */
    s->inflight.paused = false;
    ms__process(s, s->ws ? s->ws_in : iotc_conn_input(c));
    if (!c->closing && c->sess.data == s && !s->inflight.paused)
        iotc_conn_read_enable(c, true);
}

static void ms__on_drain(struct iotc_conn *c)
{
    struct iotc_endpoint_mqtt_sess *s = c->sess.data;
    if (s && s->link && s->state != IOTC_ENDPOINT_MS_DONE && !s->takeover_wait)
        iotc_blink_pause(s->link, false);
}

static int ms__start(struct iotc_conn *c)
{
    struct iotc_endpoint_mqtt_sess *s = calloc(1, sizeof *s);
    if (!s)
        return IOTC_ERR_NOMEM;
    s->c = c;
    s->session_expiry_cut = -1;
    s->timer.fire = iotc_ms_on_timer; /* the CONNECT deadline */
    if (iotc_deadline_set(&c->ep->deadlines, &s->timer,
                          (double)c->ep->profile.limits.connect_timeout_ms) != IOTC_OK) {
        free(s);
        return IOTC_ERR_NOMEM;
    }
    /* pending_subs and subscriptions are made by the first SUBSCRIBE: most devices never
     * send one. */
    iotc_uuid4(s->session_id);
    c->sess.data = s;
    iotc_conn_set_low_water(c, IOTC_ENDPOINT_MS_LOW_WATER);
    return IOTC_OK;
}

static void ms__on_close(struct iotc_conn *c)
{
    struct iotc_endpoint_mqtt_sess *s = c->sess.data;
    if (!s)
        return;
    s->state = IOTC_ENDPOINT_MS_DONE;
    if (s->announced) {
        const char *reason = s->lc_reason;
        if (!reason)
            reason = !c->close_by || strcmp(c->close_by, "client") == 0 ? "CONNECTION_LOST"
                     : strcmp(c->close_by, "broker") == 0               ? "SERVER_ERROR"
                                                          : "SERVER_INITIATED_DISCONNECT";
        iotc_lifecycle_disconnected(c->ep->lifecycle, s->client_id, s->session_id,
                                    iotc_conn_principal(c), reason, s->client_initiated);
        iotc_ep_shared_release(c->ep, s->client_id, s->takeover_gen);
        iotc_conn_emit(c, IOTC_EV_MQTT_DISCONNECT,
                       json_pack("{s:s, s:s, s:b}", "client_id", s->client_id, "reason", reason,
                                 "client_initiated", s->client_initiated));
    }
    if (s->client_id)
        iotc_strmap_del_if(c->ep->sessions, s->client_id, s);
    /* The link flushes what the device sent before it went: a PUBLISH read in the same
     * turn as the device's EOF was dropped with the link (integration.stream row 2). After
     * a clean DISCONNECT the broker must receive that too (or it publishes the will); any
     * other end closes the link without one, so mosquitto still sees a lost client. */
    if (s->link)
        iotc_blink_linger(s->link, NULL, 0);
    json_decref(s->pending_subs);
    iotc_ms_subs_release(s);
    json_decref(s->subscriptions);
    json_decref(s->retain_filters);
    iotc_buf_free(&s->connect_pkt);
    if (s->ws) {
        iotc_ws_close(s->ws, 1000, "closing");
        ms__ws_flush(s);
        iotc_ws_free(s->ws);
    }
    if (s->aliases)
        for (size_t i = 0; i <= s->alias_max; i++)
            free(s->aliases[i]);
    free(s->aliases);
    iotc_deadline_clear(&c->ep->deadlines, &s->timer);
    if (s->takeover_wait)
        event_free(s->takeover_wait);
    if (s->inflight.resume)
        event_free(s->inflight.resume);
    iotc_buf_free(&s->out);
    iotc_ms_da_free(s);
    free(s->client_id);
    free(s);
    c->sess.data = NULL;
}

/* Connection-duration limit: MQTT 5 learns why (0xA0 Maximum connect time). */
static void ms__on_expire(struct iotc_conn *c, const char *reason)
{
    struct iotc_endpoint_mqtt_sess *s = c->sess.data;
    if (!s || s->state == IOTC_ENDPOINT_MS_DONE)
        return;
    s->lc_reason = reason;
    iotc_ms_refuse(s, "duration-limit", reason, IOTC_MQTT_RC_MAX_CONNECT_TIME, 0);
}

int iotc_mqtt_session_start_wss(struct iotc_conn *c)
{
    c->sess.ops = &iotc_mqtt_session_ops;
    if (ms__start(c) != IOTC_OK)
        return IOTC_ERR_NOMEM;
    struct iotc_endpoint_mqtt_sess *s = c->sess.data;
    struct iotc_ws_cbs cbs = {ms__ws_data, ms__ws_closed, s};
    s->ws = iotc_ws_new(&cbs, (size_t)c->ep->profile.limits.max_payload_bytes + 65536 + 1024);
    s->ws_in = c->tr.ws_in = evbuffer_new();
    if (!s->ws || !s->ws_in)
        return IOTC_ERR_NOMEM;
    return IOTC_OK;
}

const struct iotc_session_ops iotc_mqtt_session_ops = {
    .name = "mqtt",
    .start = ms__start,
    .on_read = ms__on_read,
    .on_close = ms__on_close,
    .on_drain = ms__on_drain,
    .on_expire = ms__on_expire,
};
