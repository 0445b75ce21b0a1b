/* MQTT packets of a fleet device: CONNECT, SUBSCRIBE, PUBLISH and its acks, pings. */
#include "fleet_int.h"
#include "common/err.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

static int dm__flush(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    int rc;
    if (d->wss) /* one MQTT packet, one binary WebSocket message */
        rc = iotc_fleet_wss_write(d, fl->out.p, fl->out.len);
    else
        rc = d->bev && bufferevent_write(d->bev, fl->out.p, fl->out.len) == 0 ? IOTC_OK
                                                                              : IOTC_ERR_IO;
    iotc_buf_reset(&fl->out);
    return rc;
}

int iotc_fleet_mqtt_send_connect(struct iotc_fleet_dev *d)
{
    char user[2048];
    struct iotc_mqtt_connect cn = {
        .protocol_name = IOTC_SPAN_LIT("MQTT"),
        .version = IOTC_MQTT_V311,
        .clean_start = d->row->b.clean_session != 0,
        .keepalive = (uint16_t)d->row->b.keepalive_s,
        .client_id = iotc_span_str(d->client_id),
    };
    if (d->monitor && !d->sync)
        cn.clean_start = false; /* a monitor must not miss what arrives while it reconnects */
    /* ALPN mqtt: custom auth travels in the username (WSS carries it in the upgrade). */
    if (!d->monitor && d->row->def->proto == IOTC_PROTO_MQTT &&
        d->row->def->auth == IOTC_AUTH_CUSTOM) {
        int urc =
            iotc_fleet_ident_username(iotc_fleet_dev_ident(d), d->client_id, user, sizeof user);
        if (urc != IOTC_OK)
            return urc;
        cn.has_username = true;
        cn.username = iotc_span_str(user);
    }
    int rc = iotc_mqtt_connect_encode(&d->fl->out, &cn);
    return rc == IOTC_OK ? dm__flush(d) : rc;
}

int iotc_fleet_mqtt_send_disconnect(struct iotc_fleet_dev *d)
{
    struct iotc_mqtt_disconnect dc = {0};
    int rc = iotc_mqtt_disconnect_encode(&d->fl->out, IOTC_MQTT_V311, &dc);
    return rc == IOTC_OK ? dm__flush(d) : rc;
}

int iotc_fleet_mqtt_ping(struct iotc_fleet_dev *d)
{
    int rc = iotc_mqtt_ping_encode(&d->fl->out, IOTC_MQTT_PINGREQ);
    return rc == IOTC_OK ? dm__flush(d) : rc;
}

static uint16_t dm__pid(struct iotc_fleet_dev *d)
{
    uint16_t pid = d->next_pid++;
    if (d->next_pid == 0)
        d->next_pid = 1;
    return pid ? pid : dm__pid(d);
}

static int dm__publish(struct iotc_fleet_dev *d, uint8_t qos, uint16_t pid, bool dup, uint32_t seq,
                       uint64_t t_us)
{
    struct iotc_fleet *fl = d->fl;
    size_t size = (size_t)d->row->b.payload_bytes;
    if (iotc_fleet_payload_fill(fl->payload, size, d->idx, seq, t_us) == 0)
        return IOTC_ERR_TOO_LARGE;
    struct iotc_mqtt_publish p = {
        .dup = dup,
        .qos = qos,
        .topic = iotc_span_str(d->topic),
        .packet_id = pid,
        .payload = {(const uint8_t *)fl->payload, size},
    };
    int rc = iotc_mqtt_publish_encode(&fl->out, IOTC_MQTT_V311, &p);
    if (rc != IOTC_OK)
        return rc;
    fl->c.published_wire++;
    if (dup)
        fl->c.republished++;
    return dm__flush(d);
}

int iotc_fleet_mqtt_send_raw(struct iotc_fleet_dev *d, const char *topic, const void *payload,
                             size_t n, uint8_t qos, bool retain)
{
    struct iotc_mqtt_publish p = {
        .qos = qos,
        .retain = retain,
        .topic = iotc_span_str(topic),
        .packet_id = qos ? dm__pid(d) : 0,
        .payload = {(const uint8_t *)payload, n},
    };
    int rc = iotc_mqtt_publish_encode(&d->fl->out, IOTC_MQTT_V311, &p);
    return rc == IOTC_OK ? dm__flush(d) : rc;
}

/* Writes queued QoS 1 messages while the in-flight window has room, oldest first. */
void iotc_fleet_mqtt_pump(struct iotc_fleet_dev *d)
{
    uint32_t max = (uint32_t)d->row->b.max_inflight;
    for (uint32_t i = 0; i < d->q_len && d->inflight < max && d->state == IOTC_FLEET_DEV_UP; i++) {
        struct iotc_fleet_pending *m = &d->q[i];
        if (m->sent)
            continue;
        if (!m->pid)
            m->pid = dm__pid(d);
        /* DUP on a message the broker may have seen: a re-send after a reconnect. */
        if (dm__publish(d, 1, m->pid, m->ever_sent, m->seq, m->t_us) != IOTC_OK) {
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
            return;
        }
        m->sent = m->ever_sent = true;
        d->inflight++;
    }
}

void iotc_fleet_dev_publish_tick(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_ledger *l = &fl->ledger[d->idx];
    uint64_t now = iotc_clock_us();
    if (d->row->b.qos == 0) {
        /* QoS 0 while offline is dropped by any real client: not counted as sent. */
        if (d->state != IOTC_FLEET_DEV_UP) {
            fl->c.qos0_skipped++;
            return;
        }
        uint32_t seq = l->sent++;
        fl->c.qos0_sent++;
        if (dm__publish(d, 0, 0, false, seq, now) != IOTC_OK)
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
        return;
    }
    uint32_t seq = l->sent++;
    fl->c.qos1_sent++;
    if (!iotc_fleet_dev_enqueue(d, seq, now))
        return;
    if (d->state == IOTC_FLEET_DEV_UP)
        iotc_fleet_mqtt_pump(d);
}

void iotc_fleet_record_delivery(struct iotc_fleet *fl, const uint8_t *payload, size_t n, int qos)
{
    uint32_t dev, seq;
    uint64_t t_us;
    fl->c.received++;
    if (iotc_fleet_payload_parse(payload, n, &dev, &seq, &t_us) != IOTC_OK || dev >= fl->n_global) {
        fl->c.protocol_errors++;
        return;
    }
    if (iotc_fleet_ledger_mark(&fl->ledger[dev], seq) == 1) {
        uint64_t now = iotc_clock_us();
        iotc_fleet_hist_add(&fl->deliver_lat, now > t_us ? now - t_us : 0);
        /* The ramp's handshakes load the CPU: steady-state latency is reported apart. */
        if (fl->t_pub_start_us && t_us >= fl->t_pub_start_us)
            iotc_fleet_hist_add(&fl->deliver_steady, now > t_us ? now - t_us : 0);
    }
}

static void dm__on_puback(struct iotc_fleet_dev *d, uint16_t pid)
{
    for (uint32_t i = 0; i < d->q_len; i++) {
        if (d->q[i].pid != pid || !d->q[i].sent)
            continue;
        memmove(&d->q[i], &d->q[i + 1], (d->q_len - i - 1) * sizeof d->q[0]);
        d->q_len--;
        d->inflight--;
        d->fl->c.puback++;
        iotc_fleet_mqtt_pump(d);
        return;
    }
}

static int dm__subscribe(struct iotc_fleet_dev *d)
{
    struct iotc_mqtt_subscribe sub = {.packet_id = dm__pid(d), .count = 1};
    sub.filters[0].filter = iotc_span_str(d->sub_topic);
    sub.filters[0].options = 1;
    d->sub_pid = sub.packet_id;
    int rc = iotc_mqtt_subscribe_encode(&d->fl->out, IOTC_MQTT_V311, &sub);
    return rc == IOTC_OK ? dm__flush(d) : rc;
}

/* Returns a cause when the connection must go, IOTC_FLEET_CAUSE_NONE otherwise. */
static int dm__packet(struct iotc_fleet_dev *d, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    switch (f->type) {
    case IOTC_MQTT_CONNACK: {
        struct iotc_mqtt_connack ca;
        if (d->state != IOTC_FLEET_DEV_MQTT_WAIT ||
            iotc_mqtt_connack_parse(pkt, f->total, IOTC_MQTT_V311, &ca))
            return IOTC_FLEET_CAUSE_PROTOCOL;
        if (ca.code != 0)
            return IOTC_FLEET_CAUSE_CONNACK;
        iotc_fleet_dev_up(d);
        /* Subscribe on every connection: after a broker restart the session is gone.
         * SUBSCRIBE goes first, so a re-sent message finds the subscription. */
        if (dm__subscribe(d) != IOTC_OK)
            return IOTC_FLEET_CAUSE_SOCKET;
        for (uint32_t i = 0; i < d->q_len; i++)
            d->q[i].sent = false;
        d->inflight = 0;
        iotc_fleet_mqtt_pump(d);
        return IOTC_FLEET_CAUSE_NONE;
    }
    case IOTC_MQTT_SUBACK: {
        struct iotc_mqtt_suback sa;
        if (iotc_mqtt_suback_parse(pkt, f->total, IOTC_MQTT_V311, &sa) || sa.count != 1)
            return IOTC_FLEET_CAUSE_PROTOCOL;
        if (sa.codes[0] >= 0x80)
            return IOTC_FLEET_CAUSE_SUBACK;
        d->subscribed = true;
        if (d->sync)
            iotc_fleet_sync_on_suback(d);
        return IOTC_FLEET_CAUSE_NONE;
    }
    case IOTC_MQTT_PUBLISH: {
        struct iotc_mqtt_publish p;
        if (iotc_mqtt_publish_parse(pkt, f->total, IOTC_MQTT_V311, &p))
            return IOTC_FLEET_CAUSE_PROTOCOL;
        if (d->sync)
            iotc_fleet_sync_on_publish(d, &p);
        else
            iotc_fleet_record_delivery(d->fl, p.payload.p, p.payload.n, p.qos);
        if (p.qos == 1) {
            struct iotc_mqtt_ack a = {.type = IOTC_MQTT_PUBACK, .packet_id = p.packet_id};
            if (iotc_mqtt_ack_encode(&d->fl->out, IOTC_MQTT_V311, &a) != IOTC_OK || dm__flush(d))
                return IOTC_FLEET_CAUSE_SOCKET;
        }
        return IOTC_FLEET_CAUSE_NONE;
    }
    case IOTC_MQTT_PUBACK: {
        struct iotc_mqtt_ack a;
        if (iotc_mqtt_ack_parse(pkt, f->total, IOTC_MQTT_V311, &a))
            return IOTC_FLEET_CAUSE_PROTOCOL;
        dm__on_puback(d, a.packet_id);
        return IOTC_FLEET_CAUSE_NONE;
    }
    case IOTC_MQTT_PINGRESP:
        d->ping_out = false;
        return IOTC_FLEET_CAUSE_NONE;
    default:
        return IOTC_FLEET_CAUSE_PROTOCOL;
    }
}

void iotc_fleet_mqtt_on_read(struct bufferevent *bev, void *arg)
{
    iotc_fleet_mqtt_on_stream(arg, bev, bufferevent_get_input(bev));
}

void iotc_fleet_mqtt_on_stream(struct iotc_fleet_dev *d, struct bufferevent *bev,
                               struct evbuffer *in)
{
    while (d->bev == bev) {
        size_t avail = evbuffer_get_length(in);
        uint8_t head[5];
        size_t hn = avail < sizeof head ? avail : sizeof head;
        evbuffer_copyout(in, head, hn);
        struct iotc_mqtt_frame f;
        int rc = iotc_mqtt_frame_ready(head, hn, avail, IOTC_FLEET_PAYLOAD_MAX + 1024, &f);
        if (rc < 0) {
            d->fl->c.protocol_errors++;
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_PROTOCOL);
            return;
        }
        if (rc == 0)
            return;
        const uint8_t *pkt = evbuffer_pullup(in, (ev_ssize_t)f.total);
        if (!pkt) {
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
            return;
        }
        int cause = dm__packet(d, &f, pkt);
        if (d->bev == bev)
            evbuffer_drain(in, f.total);
        if (cause != IOTC_FLEET_CAUSE_NONE) {
            if (cause == IOTC_FLEET_CAUSE_PROTOCOL)
                d->fl->c.protocol_errors++;
            iotc_fleet_dev_lost(d, cause);
            return;
        }
    }
}
