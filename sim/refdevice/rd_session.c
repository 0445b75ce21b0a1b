/*
 * One MQTT 3.1.1 session of the reference device on the client layer's session
 * (client/mqtt_session.h, which reads packets and answers QoS 1 unless told not
 * to): CONNACK wait, SUBSCRIBE (unless the session was resumed), PUBLISH,
 * keep-alive, retransmissions. One connection at a time.
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
};

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

static int sess__connect(struct sess *s)
{
    struct iotc_mqtt_connect c;
    bool clean =
        !s->o->persistent || ((s->o->misbehave & IOTC_REFDEVICE_CLEAN_ON_RECONNECT) && s->st->ever_connected);
    memset(&c, 0, sizeof(c));
    c.protocol_name = IOTC_SPAN_LIT("MQTT");
    c.version = IOTC_MQTT_V311;
    c.clean_start = clean;
    c.keepalive = (s->o->misbehave & IOTC_REFDEVICE_KEEPALIVE_ZERO) ? 0 : (uint16_t)s->o->keepalive;
    c.client_id = iotc_span_str(s->o->client_id);
    if (iotc_mqtt_connect_encode(&s->out, &c) != IOTC_OK)
        return -1;
    iotc_refdevice_log(s->o, "CONNECT client_id=%s clean=%d keepalive=%u", s->o->client_id, clean, c.keepalive);
    return sess__send(s);
}

static int sess__subscribe(struct sess *s, bool retry)
{
    struct iotc_mqtt_subscribe sub;
    memset(&sub, 0, sizeof(sub));
    if (!retry || (s->o->misbehave & IOTC_REFDEVICE_RETRY_NEW_PACKET_ID))
        s->sub_pid = sess__pid(s->st);
    s->st->sub_sent = true;
    sub.packet_id = s->sub_pid;
    sub.count = 1;
    sub.filters[0].filter = iotc_span_str(s->o->sub_topic);
    sub.filters[0].options = 1;
    if (iotc_mqtt_subscribe_encode(&s->out, IOTC_MQTT_V311, &sub) != IOTC_OK)
        return -1;
    s->sub_at = iotc_mono_ms();
    iotc_refdevice_log(s->o, "SUBSCRIBE %s pid=%u%s", s->o->sub_topic, sub.packet_id, retry ? " (retry)" : "");
    return sess__send(s);
}

static int sess__publish(struct sess *s, struct rd_inflight *f, bool dup, unsigned n)
{
    struct iotc_mqtt_publish p;
    char payload[64];
    memset(&p, 0, sizeof(p));
    snprintf(payload, sizeof(payload), "{\"device\":\"iotc_refdevice\",\"n\":%u}", n);
    p.qos = (uint8_t)s->o->qos;
    p.dup = dup;
    p.topic = iotc_span_str(s->o->pub_topic);
    p.payload = iotc_span_str(payload);
    p.packet_id = f ? f->pid : 0;
    if (iotc_mqtt_publish_encode(&s->out, IOTC_MQTT_V311, &p) != IOTC_OK)
        return -1;
    if (f)
        f->sent_at = iotc_mono_ms();
    iotc_refdevice_log(s->o, "PUBLISH %s qos=%d pid=%u dup=%d", s->o->pub_topic, s->o->qos, p.packet_id, dup);
    return sess__send(s);
}

static int sess__publish_new(struct sess *s)
{
    struct rd_inflight *f = NULL;
    unsigned n = ++s->st->published;
    if (s->o->qos == 1) {
        for (size_t i = 0; i < SESS__MAX_INFLIGHT && !f; i++)
            if (!s->st->pubs[i].used)
                f = &s->st->pubs[i];
        if (!f)
            return 0; /* in-flight window full: wait for acknowledgements */
        f->used = true;
        f->pid = sess__pid(s->st);
        f->n = n;
    }
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

static int sess__on_connack(struct sess *s, const uint8_t *pkt, size_t len)
{
    struct iotc_mqtt_connack ca;
    bool resumed;
    if (iotc_mqtt_connack_parse(pkt, len, IOTC_MQTT_V311, &ca) != IOTC_OK || ca.code != 0) {
        iotc_refdevice_log(s->o, "CONNACK refused or malformed");
        return -1;
    }
    s->connected = true;
    s->connected_at = iotc_mono_ms();
    s->st->ever_connected = true;
    resumed = ca.session_present && s->o->persistent;
    iotc_refdevice_log(s->o, "CONNACK session_present=%d", ca.session_present);
    if (!resumed) {
        s->st->subscribed = false;
        memset(s->st->pubs, 0, sizeof(s->st->pubs));
    }
    bool want_sub = !s->st->subscribed || (s->o->misbehave & IOTC_REFDEVICE_RESUBSCRIBE_ON_RESUME);
    if ((s->o->misbehave & IOTC_REFDEVICE_NO_SUBSCRIBE) ||
        ((s->o->misbehave & IOTC_REFDEVICE_NO_RESUBSCRIBE) && s->st->ever_subscribed) ||
        ((s->o->misbehave & IOTC_REFDEVICE_NO_QOS1_RETRY) && s->st->sub_sent))
        want_sub = false;
    if (want_sub && sess__subscribe(s, false))
        return -1;
    for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++)
        if (s->st->pubs[i].used && sess__retransmit(s, &s->st->pubs[i]))
            return -1;
    s->next_publish = (s->o->misbehave & IOTC_REFDEVICE_NO_PUBLISH) ? 0 : iotc_mono_ms();
    return 0;
}

/* The session answers QoS 1 after this (unless IOTC_REFDEVICE_NO_PUBACK). */
static int sess__on_publish(struct sess *s, const uint8_t *pkt, size_t len)
{
    struct iotc_mqtt_publish p;
    if (iotc_mqtt_publish_parse(pkt, len, IOTC_MQTT_V311, &p) != IOTC_OK)
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
        if (iotc_mqtt_suback_parse(pkt, f->total, IOTC_MQTT_V311, &sa) == IOTC_OK &&
            sa.packet_id == s->sub_pid) {
            s->sub_pid = 0;
            s->st->subscribed = s->o->persistent;
            s->st->ever_subscribed = true;
            iotc_refdevice_log(s->o, "SUBACK pid=%u", sa.packet_id);
        }
        return 0;
    }
    case IOTC_MQTT_PUBACK: {
        struct iotc_mqtt_ack a;
        if (iotc_mqtt_ack_parse(pkt, f->total, IOTC_MQTT_V311, &a) == IOTC_OK)
            for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++)
                if (s->st->pubs[i].used && s->st->pubs[i].pid == a.packet_id)
                    s->st->pubs[i].used = false;
        return 0;
    }
    case IOTC_MQTT_PUBLISH:
        return sess__on_publish(s, pkt, f->total);
    case IOTC_MQTT_PINGRESP:
        s->ping_out = false;
        return 0;
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
    double ka = s->o->keepalive * 1000.0;
    bool retries = !(s->o->misbehave & IOTC_REFDEVICE_NO_QOS1_RETRY);

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
        iotc_refdevice_log(s->o, "no PINGRESP within %d s: closing", s->o->keepalive);
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

int iotc_refdevice_session_run(SSL *ssl, int fd, const struct iotc_refdevice_opts *o, struct rd_state *st, double *up_ms)
{
    struct sess s;
    int rc = 0;
    memset(&s, 0, sizeof(s));
    iotc_mqtt_session_init(&s.m);
    s.m.version = IOTC_MQTT_V311;
    s.m.flags = IOTC_MQTT_SESSION_NO_INBOX |
                ((o->misbehave & IOTC_REFDEVICE_NO_PUBACK) ? IOTC_MQTT_SESSION_NO_PUBACK : 0);
    s.m.hook = sess__packet;
    s.m.hook_arg = &s;
    iotc_wsc_borrow(&s.m.w, ssl, fd);
    s.m.w.max_packet = SESS__MAX_PACKET;
    iotc_mqtt_session_start(&s.m);
    s.o = o;
    s.st = st;
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
        if (iotc_mqtt_disconnect_encode(&s.out, IOTC_MQTT_V311, &d) == IOTC_OK)
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
