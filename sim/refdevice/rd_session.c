/*
 * One MQTT 3.1.1 or MQTT 5 session of the reference device on the client layer's
 * session (client/mqtt_session.h, which reads packets and answers QoS 1 unless told
 * not to): CONNACK wait, SUBSCRIBE (unless the session was resumed), PUBLISH,
 * keep-alive, retransmissions. One connection at a time.
 *
 * Where the versions differ (each rule with its section):
 *  - session: 3.1.1 clean session 0 (3.1.2.4); MQTT 5 a Session Expiry Interval
 *    (3.1.2.11.2) with clean start 1 on the first connect, 0 on reconnects (3.1.2.4);
 *  - keep-alive: MQTT 5 uses the CONNACK's Server Keep Alive [MQTT-3.2.2-21];
 *  - resending: 3.1.1 may resend on the open connection (4.4); MQTT 5 only after a
 *    reconnect with the session kept [MQTT-4.4.0-2];
 *  - MQTT 5 CONNACK Receive Maximum (3.2.2.3.3) caps the QoS 1 messages in flight,
 *    Maximum QoS (3.2.2.3.4) 0 makes it publish at QoS 0; reason codes >= 0x80 in
 *    CONNACK, PUBACK, SUBACK and DISCONNECT are failures (2.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mqtt_session.h"
#include "common/err.h"
#include "mqtt/mqtt.h"
#include "refdevice.h"

#define SESS__MAX_INFLIGHT 16
#define SESS__MAX_PACKET   (512u * 1024u)

struct rd_inflight {
    bool used;
    uint16_t pid;
    double sent_at;
    unsigned n; /* message number, the payload */
};

struct rd_state {
    uint16_t last_pid;
    struct rd_inflight pubs[SESS__MAX_INFLIGHT];
    bool subscribed; /* the broker holds our subscription (persistent session) */
    bool ever_subscribed;
    bool sub_sent; /* a SUBSCRIBE went out (IOTC_REFDEVICE_NO_QOS1_RETRY never sends another) */
    bool ever_connected;
    unsigned published;
    uint16_t sub_pending; /* a SUBSCRIBE that never got its SUBACK (kept on resume) */
};

struct sess {
    iotc_mqtt_session m;
    const struct iotc_refdevice_opts *o;
    struct rd_state *st;
    struct iotc_buf out;
    double last_tx, last_rx, ping_at, connected_at, next_publish;
    bool ping_out, connected;
    uint16_t sub_pid; /* 0: no SUBSCRIBE outstanding */
    double sub_at;
    int ka;              /* keep-alive in force (s): CONNECT's, or MQTT 5 Server Keep Alive */
    unsigned max_flight; /* QoS 1 messages in flight (MQTT 5 Receive Maximum) */
    int qos;             /* publish QoS (MQTT 5 Maximum QoS may lower it) */
};

static bool sess__v5(const struct sess *s)
{
    return s->o->mqtt_version == IOTC_MQTT_V5;
}

struct rd_state *iotc_refdevice_state_new(void)
{
    return calloc(1, sizeof(struct rd_state));
}

void iotc_refdevice_state_free(struct rd_state *st)
{
    free(st);
}

/* Packet ids run on across reconnects: a retransmission keeps its id. */
static uint16_t sess__pid(struct rd_state *st)
{
    return iotc_mqtt_pid_next(&st->last_pid);
}

static int sess__send(struct sess *s)
{
    if (iotc_mqtt_session_send(&s->m, &s->out) != IOTC_OK)
        return -1;
    iotc_buf_reset(&s->out);
    s->last_tx = iotc_mono_ms();
    return 0;
}

/* MQTT 5: a persistent device asks for a Session Expiry Interval; clean start 1 on its
 * first connect creates the session, clean start 0 on a reconnect resumes it. */
static int sess__connect(struct sess *s)
{
    struct iotc_mqtt_connect c;
    struct iotc_buf props = {0};
    bool reconnect = s->st->ever_connected;
    bool clean =
        !s->o->persistent || ((s->o->misbehave & IOTC_REFDEVICE_CLEAN_ON_RECONNECT) && reconnect);
    uint32_t expiry = 0;
    int rc = -1;
    memset(&c, 0, sizeof(c));
    c.protocol_name = IOTC_SPAN_LIT("MQTT");
    c.version = (uint8_t)s->o->mqtt_version;
    c.keepalive = (s->o->misbehave & IOTC_REFDEVICE_KEEPALIVE_ZERO) ? 0 : (uint16_t)s->o->keepalive;
    c.client_id = iotc_span_str(s->o->client_id);
    if (sess__v5(s)) {
        clean = clean || !reconnect;
        if (s->o->persistent && !(s->o->misbehave & RD_NO_SESSION_EXPIRY)) {
            struct iotc_mqtt_prop p = {.id = IOTC_MQTT_PROP_SESSION_EXPIRY,
                                       .u32 = RD_SESSION_EXPIRY_S};
            expiry = RD_SESSION_EXPIRY_S;
            if (iotc_mqtt_props_put(&props, &p) != IOTC_OK)
                goto cleanup;
        }
        c.props.p = props.p;
        c.props.n = props.len;
    }
    c.clean_start = clean;
    if (iotc_mqtt_connect_encode(&s->out, &c) != IOTC_OK)
        goto cleanup;
    s->ka = c.keepalive;
    iotc_refdevice_log(s->o, "CONNECT MQTT %s client_id=%s clean=%d keepalive=%u session_expiry=%u",
                       sess__v5(s) ? "5" : "3.1.1", s->o->client_id, clean, c.keepalive, expiry);
    rc = sess__send(s);
cleanup:
    iotc_buf_free(&props);
    return rc;
}

static int sess__subscribe(struct sess *s, bool retry)
{
    struct iotc_mqtt_subscribe sub;
    memset(&sub, 0, sizeof(sub));
    if (!retry || (s->o->misbehave & IOTC_REFDEVICE_RETRY_NEW_PACKET_ID))
        s->sub_pid = sess__pid(s->st);
    s->st->sub_sent = true;
    s->st->sub_pending = s->sub_pid;
    sub.packet_id = s->sub_pid;
    sub.count = 1;
    sub.filters[0].filter = iotc_span_str(s->o->sub_topic);
    sub.filters[0].options = 1;
    if (iotc_mqtt_subscribe_encode(&s->out, (uint8_t)s->o->mqtt_version, &sub) != IOTC_OK)
        return -1;
    s->sub_at = iotc_mono_ms();
    iotc_refdevice_log(s->o, "SUBSCRIBE %s pid=%u%s", s->o->sub_topic, sub.packet_id,
                       retry ? " (retry)" : "");
    return sess__send(s);
}

static int sess__publish(struct sess *s, struct rd_inflight *f, bool dup, unsigned n)
{
    struct iotc_mqtt_publish p;
    char payload[64];
    memset(&p, 0, sizeof(p));
    snprintf(payload, sizeof(payload), "{\"device\":\"iotc_refdevice\",\"n\":%u}", n);
    p.qos = (uint8_t)s->qos;
    p.dup = dup;
    p.topic = iotc_span_str(s->o->pub_topic);
    p.payload = iotc_span_str(payload);
    p.packet_id = f ? f->pid : 0;
    if (iotc_mqtt_publish_encode(&s->out, (uint8_t)s->o->mqtt_version, &p) != IOTC_OK)
        return -1;
    if (f)
        f->sent_at = iotc_mono_ms();
    iotc_refdevice_log(s->o, "PUBLISH %s qos=%d pid=%u dup=%d n=%u", s->o->pub_topic, s->qos,
                       p.packet_id, dup, n);
    return sess__send(s);
}

static int sess__publish_new(struct sess *s)
{
    struct rd_inflight *f = NULL;
    unsigned n, flying = 0;
    if (s->qos == 1) {
        for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++) {
            if (s->st->pubs[i].used)
                flying++;
            else if (!f)
                f = &s->st->pubs[i];
        }
        if (!f || flying >= s->max_flight)
            return 0; /* in-flight window full: wait for acknowledgements */
        f->used = true;
        f->pid = sess__pid(s->st);
    }
    n = ++s->st->published;
    if (f)
        f->n = n;
    return sess__publish(s, f, false, n);
}

/* Unacknowledged QoS 1: same packet id and DUP (MQTT 3.1.1 4.4), unless told otherwise. */
static int sess__retransmit(struct sess *s, struct rd_inflight *f)
{
    if (s->o->misbehave & IOTC_REFDEVICE_RETRY_NEW_PACKET_ID) {
        f->pid = sess__pid(s->st);
        return sess__publish(s, f, false, f->n);
    }
    return sess__publish(s, f, true, f->n);
}

/* MQTT 5 CONNACK properties the device must obey (section 3.2.2.3). */
static int sess__connack_props(struct sess *s, struct iotc_span props)
{
    struct iotc_mqtt_prop p;
    if (iotc_mqtt_props_find(props, IOTC_MQTT_PROP_SERVER_KEEP_ALIVE, &p) == 1) {
        iotc_refdevice_log(s->o, "CONNACK Server Keep Alive %u s%s", p.u32,
                           (s->o->misbehave & RD_IGNORE_SERVER_KEEPALIVE) ? " (ignored)" : "");
        if (!(s->o->misbehave & RD_IGNORE_SERVER_KEEPALIVE))
            s->ka = (int)p.u32;
    }
    if (iotc_mqtt_props_find(props, IOTC_MQTT_PROP_RECEIVE_MAXIMUM, &p) == 1 &&
        p.u32 < s->max_flight)
        s->max_flight = p.u32 ? p.u32 : 1;
    if (iotc_mqtt_props_find(props, IOTC_MQTT_PROP_MAXIMUM_QOS, &p) == 1 &&
        p.u32 < (uint32_t)s->qos)
        s->qos = (int)p.u32;
    return iotc_mqtt_props_validate(props) == IOTC_OK ? 0 : -1;
}

/* The session is resumed: resend what is in flight with the same packet id and DUP
 * (both versions, section 4.4). It is new: MQTT 5 sends unacknowledged messages again
 * as new ones so they are still delivered; 3.1.1 forgets them (its resend on the open
 * connection already happened). */
static int sess__resend_after_connack(struct sess *s, bool resumed)
{
    bool retries = !(s->o->misbehave & IOTC_REFDEVICE_NO_QOS1_RETRY);
    for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++) {
        struct rd_inflight *f = &s->st->pubs[i];
        if (!f->used)
            continue;
        if (!retries || (!resumed && !sess__v5(s))) {
            f->used = false;
            continue;
        }
        if (resumed) {
            if (sess__retransmit(s, f))
                return -1;
            continue;
        }
        f->pid = sess__pid(s->st);
        if (sess__publish(s, f, false, f->n))
            return -1;
    }
    return 0;
}

static int sess__on_connack(struct sess *s, const uint8_t *pkt, size_t len)
{
    struct iotc_mqtt_connack ca;
    bool resumed;
    if (iotc_mqtt_connack_parse(pkt, len, (uint8_t)s->o->mqtt_version, &ca) != IOTC_OK ||
        ca.code != 0) {
        iotc_refdevice_log(s->o, "CONNACK refused (code 0x%02x) or malformed", ca.code);
        return -1;
    }
    if (sess__v5(s) && sess__connack_props(s, ca.props)) {
        iotc_refdevice_log(s->o, "CONNACK properties malformed");
        return -1;
    }
    s->connected = true;
    s->connected_at = iotc_mono_ms();
    s->st->ever_connected = true;
    resumed = ca.session_present && s->o->persistent;
    iotc_refdevice_log(s->o, "CONNACK session_present=%d keepalive=%d", ca.session_present, s->ka);
    if (!resumed)
        s->st->subscribed = false;
    bool want_sub = !s->st->subscribed || (s->o->misbehave & IOTC_REFDEVICE_RESUBSCRIBE_ON_RESUME);
    if ((s->o->misbehave & IOTC_REFDEVICE_NO_SUBSCRIBE) ||
        ((s->o->misbehave & IOTC_REFDEVICE_NO_RESUBSCRIBE) && s->st->ever_subscribed) ||
        ((s->o->misbehave & IOTC_REFDEVICE_NO_QOS1_RETRY) && s->st->sub_sent))
        want_sub = false;
    if (want_sub) {
        /* A SUBSCRIBE that never got its SUBACK keeps its packet id on a resumed session. */
        bool again =
            resumed && s->st->sub_pending && !(s->o->misbehave & IOTC_REFDEVICE_NO_QOS1_RETRY);
        s->sub_pid = again ? s->st->sub_pending : 0;
        if (sess__subscribe(s, again))
            return -1;
    }
    if (sess__resend_after_connack(s, resumed))
        return -1;
    s->next_publish = (s->o->misbehave & IOTC_REFDEVICE_NO_PUBLISH) ? 0 : iotc_mono_ms();
    return 0;
}

/* The session answers QoS 1 after this (unless IOTC_REFDEVICE_NO_PUBACK). */
static int sess__on_publish(struct sess *s, const uint8_t *pkt, size_t len)
{
    struct iotc_mqtt_publish p;
    if (iotc_mqtt_publish_parse(pkt, len, (uint8_t)s->o->mqtt_version, &p) != IOTC_OK)
        return -1;
    printf("received %.*s %zu bytes qos %u\n", (int)p.topic.n, (const char *)p.topic.p, p.payload.n,
           p.qos);
    fflush(stdout);
    /* The PUBACK goes out next: it counts as traffic for the keep-alive. */
    if (p.qos == 1 && !(s->o->misbehave & IOTC_REFDEVICE_NO_PUBACK))
        s->last_tx = iotc_mono_ms();
    return 0;
}

/* The session's hook: every packet, before the session records (and acknowledges) it. */
static int sess__packet(iotc_mqtt_session *m, const uint8_t *pkt, const struct iotc_mqtt_frame *f,
                        void *arg)
{
    struct sess *s = arg;
    (void)m;
    s->last_rx = iotc_mono_ms();
    switch (f->type) {
    case IOTC_MQTT_CONNACK:
        return s->connected ? -1 : sess__on_connack(s, pkt, f->total);
    case IOTC_MQTT_SUBACK: {
        struct iotc_mqtt_suback sa;
        if (iotc_mqtt_suback_parse(pkt, f->total, (uint8_t)s->o->mqtt_version, &sa) == IOTC_OK &&
            sa.packet_id == s->sub_pid) {
            /* 0x80 (3.1.1) and MQTT 5 reason codes >= 0x80: the subscription failed. */
            bool ok = sa.count > 0 && sa.codes[0] < 0x80;
            s->sub_pid = 0;
            s->st->sub_pending = 0;
            s->st->subscribed = ok && s->o->persistent;
            s->st->ever_subscribed = true;
            iotc_refdevice_log(s->o, "SUBACK pid=%u code=0x%02x%s", sa.packet_id,
                               sa.count ? sa.codes[0] : 0, ok ? "" : " (refused)");
        }
        return 0;
    }
    case IOTC_MQTT_PUBACK: {
        struct iotc_mqtt_ack a;
        /* MQTT 5: a PUBACK with a failure reason still ends the exchange (4.3.2). */
        if (iotc_mqtt_ack_parse(pkt, f->total, (uint8_t)s->o->mqtt_version, &a) == IOTC_OK)
            for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++)
                if (s->st->pubs[i].used && s->st->pubs[i].pid == a.packet_id) {
                    s->st->pubs[i].used = false;
                    if (a.reason >= 0x80)
                        iotc_refdevice_log(s->o, "PUBACK pid=%u refused (reason 0x%02x)",
                                           a.packet_id, a.reason);
                }
        return 0;
    }
    case IOTC_MQTT_PUBLISH:
        return sess__on_publish(s, pkt, f->total);
    case IOTC_MQTT_PINGRESP:
        s->ping_out = false;
        return 0;
    case IOTC_MQTT_DISCONNECT: {
        struct iotc_mqtt_disconnect d = {0};
        if (sess__v5(s) && iotc_mqtt_disconnect_parse(pkt, f->total, IOTC_MQTT_V5, &d) == IOTC_OK)
            iotc_refdevice_log(s->o, "DISCONNECT from the server (reason 0x%02x)", d.reason);
        return -1;
    }
    default:
        iotc_refdevice_log(s->o, "unexpected packet type %u", f->type);
        return -1;
    }
}

/* The pump stops once what arrived together is handled: timers run between reads. */
static int sess__done_read(iotc_mqtt_session *m, const void *arg)
{
    return m->packets != *(const unsigned long *)arg && !iotc_wsc_buffered(&m->w);
}

/* Timers: CONNACK wait, retransmissions, keep-alive, periodic publish. -1 ends the session. */
static int sess__tick(struct sess *s, double now)
{
    double retry = IOTC_REFDEVICE_ACK_RETRY_MS * s->o->time_scale;
    double ka = s->ka * 1000.0;
    /* MQTT 5 never resends on the open connection [MQTT-4.4.0-2]. */
    bool retries = !(s->o->misbehave & IOTC_REFDEVICE_NO_QOS1_RETRY) &&
                   (!sess__v5(s) || (s->o->misbehave & RD_RETRY_ON_OPEN_CONNECTION));

    if (!s->connected)
        return now - s->last_tx >= IOTC_REFDEVICE_CONNACK_TIMEOUT_MS * s->o->time_scale ? -1 : 0;
    if (s->sub_pid && retries && now - s->sub_at >= retry && sess__subscribe(s, true))
        return -1;
    for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++) {
        struct rd_inflight *f = &s->st->pubs[i];
        if (f->used && retries && now - f->sent_at >= retry && sess__retransmit(s, f))
            return -1;
    }
    if (s->next_publish > 0 && now >= s->next_publish) {
        if (sess__publish_new(s))
            return -1;
        s->next_publish = s->o->publish_every_ms > 0 ? now + (double)s->o->publish_every_ms : 0;
    }
    if (ka > 0 && s->ping_out && now - s->ping_at >= ka &&
        !(s->o->misbehave & IOTC_REFDEVICE_IGNORE_MISSING_PINGRESP)) {
        iotc_refdevice_log(s->o, "no PINGRESP within %d s: closing", s->ka);
        return -1;
    }
    /* Like Paho: ping when either direction was idle, so retransmissions alone cannot
     * hide a server that stopped answering. */
    if (ka > 0 && !s->ping_out && (now - s->last_tx >= ka || now - s->last_rx >= ka)) {
        if (iotc_mqtt_ping_encode(&s->out, IOTC_MQTT_PINGREQ) != IOTC_OK || sess__send(s))
            return -1;
        s->ping_out = true;
        s->ping_at = iotc_mono_ms();
    }
    return 0;
}

int iotc_refdevice_session_run(SSL *ssl, int fd, const struct iotc_refdevice_opts *o,
                               struct rd_state *st, double *up_ms)
{
    struct sess s;
    int rc = 0;
    memset(&s, 0, sizeof(s));
    iotc_mqtt_session_init(&s.m);
    s.m.version = o->mqtt_version;
    s.m.flags = IOTC_MQTT_SESSION_NO_INBOX |
                ((o->misbehave & IOTC_REFDEVICE_NO_PUBACK) ? IOTC_MQTT_SESSION_NO_PUBACK : 0);
    s.m.hook = sess__packet;
    s.m.hook_arg = &s;
    iotc_wsc_borrow(&s.m.w, ssl, fd);
    s.m.w.max_packet = SESS__MAX_PACKET;
    iotc_mqtt_session_start(&s.m);
    s.o = o;
    s.st = st;
    s.qos = o->qos;
    s.max_flight = SESS__MAX_INFLIGHT;
    s.last_rx = iotc_mono_ms();
    if (sess__connect(&s))
        goto cleanup;
    while (!iotc_refdevice_stop) {
        unsigned long seen = s.m.packets;
        iotc_mqtt_session_pump(&s.m, (long)iotc_clock_ms() + 20, sess__done_read, &seen);
        if (iotc_mqtt_session_closed(&s.m))
            break;
        if (sess__tick(&s, iotc_mono_ms()))
            break;
    }
    if (iotc_refdevice_stop && s.connected) {
        struct iotc_mqtt_disconnect d = {0};
        if (iotc_mqtt_disconnect_encode(&s.out, (uint8_t)o->mqtt_version, &d) == IOTC_OK)
            sess__send(&s);
    }
cleanup:
    rc = s.connected;
    *up_ms = s.connected ? iotc_mono_ms() - s.connected_at : 0;
    /* The caller closes the TLS connection it opened. */
    iotc_wsc_release(&s.m.w);
    iotc_mqtt_session_free(&s.m);
    iotc_buf_free(&s.out);
    return rc;
}
