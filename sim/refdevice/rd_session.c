/*
 * One MQTT 3.1.1 session of the reference device, on the project's codec: CONNECT,
 * CONNACK wait, SUBSCRIBE (unless the session was resumed), PUBLISH, keep-alive,
 * retransmissions, PUBACKs. Blocking TLS with poll(); one connection at a time.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    uint16_t next_pid;
    struct rd_inflight pubs[SESS__MAX_INFLIGHT];
    bool subscribed; /* the broker holds our subscription (persistent session) */
    bool ever_subscribed;
    bool ever_connected;
    unsigned published;
};

struct sess {
    SSL *ssl;
    const struct rd_opts *o;
    struct rd_state *st;
    struct iotc_buf in, out;
    double last_tx, last_rx, ping_at, connected_at, next_publish;
    bool ping_out, connected;
    uint16_t sub_pid; /* 0: no SUBSCRIBE outstanding */
    double sub_at;
};

struct rd_state *rd_state_new(void)
{
    struct rd_state *st = calloc(1, sizeof(*st));
    if (st)
        st->next_pid = 1;
    return st;
}

void rd_state_free(struct rd_state *st)
{
    free(st);
}

static uint16_t sess__pid(struct rd_state *st)
{
    uint16_t p = st->next_pid++;
    if (st->next_pid == 0)
        st->next_pid = 1;
    return p;
}

static int sess__send(struct sess *s)
{
    size_t off = 0;
    while (off < s->out.len) {
        int n = SSL_write(s->ssl, s->out.p + off, (int)(s->out.len - off));
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    iotc_buf_reset(&s->out);
    s->last_tx = iotc_mono_ms();
    return 0;
}

static int sess__connect(struct sess *s)
{
    struct mqtt_connect c;
    bool clean =
        !s->o->persistent || ((s->o->misbehave & RD_CLEAN_ON_RECONNECT) && s->st->ever_connected);
    memset(&c, 0, sizeof(c));
    c.protocol_name = IOTC_SPAN_LIT("MQTT");
    c.version = MQTT_V311;
    c.clean_start = clean;
    c.keepalive = (s->o->misbehave & RD_KEEPALIVE_ZERO) ? 0 : (uint16_t)s->o->keepalive;
    c.client_id = iotc_span_str(s->o->client_id);
    if (mqtt_connect_encode(&s->out, &c) != IOTC_OK)
        return -1;
    rd_log(s->o, "CONNECT client_id=%s clean=%d keepalive=%u", s->o->client_id, clean, c.keepalive);
    return sess__send(s);
}

static int sess__subscribe(struct sess *s, bool retry)
{
    struct mqtt_subscribe sub;
    memset(&sub, 0, sizeof(sub));
    if (!retry || (s->o->misbehave & RD_RETRY_NEW_PACKET_ID))
        s->sub_pid = sess__pid(s->st);
    sub.packet_id = s->sub_pid;
    sub.count = 1;
    sub.filters[0].filter = iotc_span_str(s->o->sub_topic);
    sub.filters[0].options = 1;
    if (mqtt_subscribe_encode(&s->out, MQTT_V311, &sub) != IOTC_OK)
        return -1;
    s->sub_at = iotc_mono_ms();
    rd_log(s->o, "SUBSCRIBE %s pid=%u%s", s->o->sub_topic, sub.packet_id, retry ? " (retry)" : "");
    return sess__send(s);
}

static int sess__publish(struct sess *s, struct rd_inflight *f, bool dup, unsigned n)
{
    struct mqtt_publish p;
    char payload[64];
    memset(&p, 0, sizeof(p));
    snprintf(payload, sizeof(payload), "{\"device\":\"iotc_refdevice\",\"n\":%u}", n);
    p.qos = (uint8_t)s->o->qos;
    p.dup = dup;
    p.topic = iotc_span_str(s->o->pub_topic);
    p.payload = iotc_span_str(payload);
    p.packet_id = f ? f->pid : 0;
    if (mqtt_publish_encode(&s->out, MQTT_V311, &p) != IOTC_OK)
        return -1;
    if (f)
        f->sent_at = iotc_mono_ms();
    rd_log(s->o, "PUBLISH %s qos=%d pid=%u dup=%d", s->o->pub_topic, s->o->qos, p.packet_id, dup);
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
    if (s->o->misbehave & RD_RETRY_NEW_PACKET_ID) {
        f->pid = sess__pid(s->st);
        return sess__publish(s, f, false, f->n);
    }
    return sess__publish(s, f, true, f->n);
}

static int sess__on_connack(struct sess *s, const uint8_t *pkt, size_t len)
{
    struct mqtt_connack ca;
    bool resumed;
    if (mqtt_connack_parse(pkt, len, MQTT_V311, &ca) != IOTC_OK || ca.code != 0) {
        rd_log(s->o, "CONNACK refused or malformed");
        return -1;
    }
    s->connected = true;
    s->connected_at = iotc_mono_ms();
    s->st->ever_connected = true;
    resumed = ca.session_present && s->o->persistent;
    rd_log(s->o, "CONNACK session_present=%d", ca.session_present);
    if (!resumed) {
        s->st->subscribed = false;
        memset(s->st->pubs, 0, sizeof(s->st->pubs));
    }
    bool want_sub = !s->st->subscribed || (s->o->misbehave & RD_RESUBSCRIBE_ON_RESUME);
    if ((s->o->misbehave & RD_NO_SUBSCRIBE) ||
        ((s->o->misbehave & RD_NO_RESUBSCRIBE) && s->st->ever_subscribed))
        want_sub = false;
    if (want_sub && sess__subscribe(s, false))
        return -1;
    for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++)
        if (s->st->pubs[i].used && sess__retransmit(s, &s->st->pubs[i]))
            return -1;
    s->next_publish = (s->o->misbehave & RD_NO_PUBLISH) ? 0 : iotc_mono_ms();
    return 0;
}

static int sess__on_publish(struct sess *s, const uint8_t *pkt, size_t len)
{
    struct mqtt_publish p;
    struct mqtt_ack a = {MQTT_PUBACK, 0, 0, {0}};
    if (mqtt_publish_parse(pkt, len, MQTT_V311, &p) != IOTC_OK)
        return -1;
    printf("received %.*s %zu bytes qos %u\n", (int)p.topic.n, (const char *)p.topic.p, p.payload.n,
           p.qos);
    fflush(stdout);
    if (p.qos != 1 || (s->o->misbehave & RD_NO_PUBACK))
        return 0;
    a.packet_id = p.packet_id;
    if (mqtt_ack_encode(&s->out, MQTT_V311, &a) != IOTC_OK)
        return -1;
    return sess__send(s);
}

static int sess__packet(struct sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    switch (f->type) {
    case MQTT_CONNACK:
        return s->connected ? -1 : sess__on_connack(s, pkt, f->total);
    case MQTT_SUBACK: {
        struct mqtt_suback sa;
        if (mqtt_suback_parse(pkt, f->total, MQTT_V311, &sa) == IOTC_OK &&
            sa.packet_id == s->sub_pid) {
            s->sub_pid = 0;
            s->st->subscribed = s->o->persistent;
            s->st->ever_subscribed = true;
            rd_log(s->o, "SUBACK pid=%u", sa.packet_id);
        }
        return 0;
    }
    case MQTT_PUBACK: {
        struct mqtt_ack a;
        if (mqtt_ack_parse(pkt, f->total, MQTT_V311, &a) == IOTC_OK)
            for (size_t i = 0; i < SESS__MAX_INFLIGHT; i++)
                if (s->st->pubs[i].used && s->st->pubs[i].pid == a.packet_id)
                    s->st->pubs[i].used = false;
        return 0;
    }
    case MQTT_PUBLISH:
        return sess__on_publish(s, pkt, f->total);
    case MQTT_PINGRESP:
        s->ping_out = false;
        return 0;
    default:
        rd_log(s->o, "unexpected packet type %u", f->type);
        return -1;
    }
}

/* Reads what is there and handles every whole packet; -1 when the link is gone. */
static int sess__read(struct sess *s)
{
    uint8_t buf[16384];
    do {
        int n = SSL_read(s->ssl, buf, sizeof(buf));
        if (n <= 0)
            return -1;
        if (iotc_buf_append(&s->in, buf, (size_t)n) != IOTC_OK)
            return -1;
        s->last_rx = iotc_mono_ms();
    } while (SSL_pending(s->ssl) > 0);
    for (;;) {
        struct mqtt_frame f;
        int rc = mqtt_frame_peek(s->in.p, s->in.len, SESS__MAX_PACKET, &f);
        if (rc == IOTC_ERR_AGAIN)
            return 0;
        if (rc != IOTC_OK || sess__packet(s, &f, s->in.p) != 0)
            return -1;
        memmove(s->in.p, s->in.p + f.total, s->in.len - f.total);
        s->in.len -= f.total;
    }
}

/* Timers: CONNACK wait, retransmissions, keep-alive, periodic publish. -1 ends the session. */
static int sess__tick(struct sess *s, double now)
{
    double retry = RD_ACK_RETRY_MS * s->o->time_scale;
    double ka = s->o->keepalive * 1000.0;
    bool retries = !(s->o->misbehave & RD_NO_QOS1_RETRY);

    if (!s->connected)
        return now - s->last_tx >= RD_CONNACK_TIMEOUT_MS * s->o->time_scale ? -1 : 0;
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
        !(s->o->misbehave & RD_IGNORE_MISSING_PINGRESP)) {
        rd_log(s->o, "no PINGRESP within %d s: closing", s->o->keepalive);
        return -1;
    }
    /* Like Paho: ping when either direction was idle, so retransmissions alone cannot
     * hide a server that stopped answering. */
    if (ka > 0 && !s->ping_out && (now - s->last_tx >= ka || now - s->last_rx >= ka)) {
        if (mqtt_ping_encode(&s->out, MQTT_PINGREQ) != IOTC_OK || sess__send(s))
            return -1;
        s->ping_out = true;
        s->ping_at = iotc_mono_ms();
    }
    return 0;
}

int rd_session_run(SSL *ssl, int fd, const struct rd_opts *o, struct rd_state *st, double *up_ms)
{
    struct sess s;
    int rc = 0;
    memset(&s, 0, sizeof(s));
    s.ssl = ssl;
    s.o = o;
    s.st = st;
    s.last_rx = iotc_mono_ms();
    if (sess__connect(&s))
        goto cleanup;
    while (!rd_stop) {
        struct pollfd p = {fd, POLLIN, 0};
        int pr = SSL_pending(ssl) > 0 ? 1 : poll(&p, 1, 20);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0 && sess__read(&s))
            break;
        if (sess__tick(&s, iotc_mono_ms()))
            break;
    }
    if (rd_stop && s.connected) {
        struct mqtt_disconnect d = {0};
        if (mqtt_disconnect_encode(&s.out, MQTT_V311, &d) == IOTC_OK)
            sess__send(&s);
    }
cleanup:
    rc = s.connected;
    *up_ms = s.connected ? iotc_mono_ms() - s.connected_at : 0;
    iotc_buf_free(&s.in);
    iotc_buf_free(&s.out);
    return rc;
}
