/* One MQTT client session: bookkeeping and the packet pump (see mqtt_session.h). */
#include "mqtt_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/clock.h"

uint16_t iotc_mqtt_pid_next(uint16_t *last)
{
    if (++*last == 0)
        *last = 1;
    return *last;
}

void iotc_mqtt_session_init(iotc_mqtt_session *m)
{
    memset(m, 0, sizeof(*m));
    m->w.fd = -1;
    m->connack_rc = -1;
    m->server_keep_alive = -1;
    m->disconnect_reason = -1;
}

static void session__inbox_free(iotc_mqtt_session *m)
{
    for (size_t i = 0; i < m->n_inbox; i++) {
        free(m->inbox[i].payload);
        free(m->inbox[i].props);
    }
    m->n_inbox = 0;
}

void iotc_mqtt_session_reset(iotc_mqtt_session *m)
{
    session__inbox_free(m);
    iotc_buf_free(&m->connack_props);
    iotc_buf_free(&m->disconnect_props);
    m->open = 0;
    m->connack_rc = -1;
    m->session_present = 0;
    m->server_keep_alive = -1;
    m->disconnect_reason = -1;
    m->opened_at = m->closed_at = 0;
    m->packets = 0;
    m->malformed = 0;
    m->next_pid = 0;
    m->n_pubacks = m->n_pubrecs = 0;
    m->suback_pid = 0;
    m->suback_n = 0;
    m->pingresps = 0;
}

void iotc_mqtt_session_start(iotc_mqtt_session *m)
{
    long now = (long)iotc_clock_ms();
    m->open = m->w.hs_ok && !m->w.closed;
    m->opened_at = now;
    if (!m->open)
        m->closed_at = now;
}

uint16_t iotc_mqtt_session_pid(iotc_mqtt_session *m)
{
    return iotc_mqtt_pid_next(&m->next_pid);
}

int iotc_mqtt_session_send(iotc_mqtt_session *m, const struct iotc_buf *pkt)
{
    if (!m->open || m->w.closed)
        return IOTC_ERR_IO;
    int rc = iotc_wsc_send(&m->w, pkt);
    if (rc != IOTC_OK && !m->closed_at)
        m->closed_at = (long)iotc_clock_ms();
    return rc;
}

int iotc_mqtt_session_closed(const iotc_mqtt_session *m)
{
    return !m->open || m->closed_at != 0;
}

int iotc_mqtt_session_acked(const uint16_t *v, size_t n, uint16_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == pid)
            return 1;
    return 0;
}

static void session__ack_add(uint16_t *v, size_t *n, uint16_t pid)
{
    if (*n < IOTC_MQTT_SESSION_ACKS)
        v[(*n)++] = pid;
}

/* Keeps a copy of a property block (a span into the packet, gone after the pump). */
static void session__keep_props(struct iotc_buf *b, struct iotc_span props)
{
    iotc_buf_reset(b);
    if (props.n)
        iotc_buf_append(b, props.p, props.n);
}

static void session__publish(iotc_mqtt_session *m, const uint8_t *pkt, size_t len)
{
    struct iotc_mqtt_publish p;
    if (iotc_mqtt_publish_parse(pkt, len, (uint8_t)m->version, &p) != IOTC_OK)
        return;
    if (p.qos == 1 && !(m->flags & IOTC_MQTT_SESSION_NO_PUBACK)) {
        struct iotc_buf ack = {0};
        struct iotc_mqtt_ack a = {IOTC_MQTT_PUBACK, p.packet_id, 0, {NULL, 0}};
        if (iotc_mqtt_ack_encode(&ack, (uint8_t)m->version, &a) == IOTC_OK)
            iotc_mqtt_session_send(m, &ack);
        iotc_buf_free(&ack);
    }
    if (m->n_inbox >= IOTC_MQTT_SESSION_INBOX || (m->flags & IOTC_MQTT_SESSION_NO_INBOX))
        return;
    iotc_mqtt_msg *msg = &m->inbox[m->n_inbox];
    msg->payload = malloc(p.payload.n + 1);
    if (!msg->payload)
        return;
    memcpy(msg->payload, p.payload.p, p.payload.n);
    msg->payload[p.payload.n] = '\0';
    msg->len = p.payload.n;
    snprintf(msg->topic, sizeof(msg->topic), "%.*s", (int)p.topic.n, (const char *)p.topic.p);
    msg->qos = p.qos;
    msg->retain = p.retain;
    msg->props = NULL;
    msg->props_len = 0;
    if (p.props.n && (msg->props = malloc(p.props.n))) {
        memcpy(msg->props, p.props.p, p.props.n);
        msg->props_len = p.props.n;
    }
    m->n_inbox++;
}

void iotc_mqtt_session_packet(iotc_mqtt_session *m, const uint8_t *pkt,
                              const struct iotc_mqtt_frame *f)
{
    uint8_t v = (uint8_t)m->version;
    m->packets++;
    switch (f->type) {
    case IOTC_MQTT_CONNACK: {
        struct iotc_mqtt_connack ca;
        struct iotc_mqtt_prop prop;
        if (iotc_mqtt_connack_parse(pkt, f->total, v, &ca) != IOTC_OK)
            break;
        m->connack_rc = ca.code;
        m->session_present = ca.session_present;
        session__keep_props(&m->connack_props,
                            v == IOTC_MQTT_V5 ? ca.props : (struct iotc_span){0});
        if (v == IOTC_MQTT_V5 &&
            iotc_mqtt_props_find(ca.props, IOTC_MQTT_PROP_SERVER_KEEP_ALIVE, &prop) == 1)
            m->server_keep_alive = (int)prop.u32;
        break;
    }
    case IOTC_MQTT_PUBLISH:
        session__publish(m, pkt, f->total);
        break;
    case IOTC_MQTT_PUBACK:
    case IOTC_MQTT_PUBREC: {
        struct iotc_mqtt_ack a;
        if (iotc_mqtt_ack_parse(pkt, f->total, v, &a) != IOTC_OK)
            break;
        if (f->type == IOTC_MQTT_PUBACK) {
            if (m->n_pubacks < IOTC_MQTT_SESSION_ACKS)
                m->puback_rcs[m->n_pubacks] = v == IOTC_MQTT_V5 ? a.reason : 0;
            session__ack_add(m->pubacks, &m->n_pubacks, a.packet_id);
        } else
            session__ack_add(m->pubrecs, &m->n_pubrecs, a.packet_id);
        break;
    }
    case IOTC_MQTT_SUBACK: {
        struct iotc_mqtt_suback sa;
        if (iotc_mqtt_suback_parse(pkt, f->total, v, &sa) != IOTC_OK)
            break;
        m->suback_pid = sa.packet_id;
        m->suback_n =
            (int)(sa.count < sizeof(m->suback_codes) ? sa.count : sizeof(m->suback_codes));
        memcpy(m->suback_codes, sa.codes, (size_t)m->suback_n);
        break;
    }
    case IOTC_MQTT_PINGRESP:
        m->pingresps++;
        break;
    case IOTC_MQTT_DISCONNECT: {
        struct iotc_mqtt_disconnect d;
        if (v == IOTC_MQTT_V5 && iotc_mqtt_disconnect_parse(pkt, f->total, v, &d) == IOTC_OK) {
            m->disconnect_reason = d.reason;
            session__keep_props(&m->disconnect_props, d.props);
        }
        break;
    }
    default:
        break;
    }
}

void iotc_mqtt_session_pump(iotc_mqtt_session *m, long deadline, iotc_mqtt_session_done done,
                            const void *arg)
{
    while (!iotc_mqtt_session_closed(m) && !(done && done(m, arg))) {
        const uint8_t *pkt;
        struct iotc_mqtt_frame f;
        int rc = iotc_wsc_next(&m->w, deadline, &pkt, &f);
        if (rc == IOTC_ERR_TIMEOUT)
            return;
        if (rc == IOTC_ERR_MALFORMED)
            m->malformed = 1;
        if (rc != IOTC_OK || (m->hook && m->hook(m, pkt, &f, m->hook_arg) != 0)) {
            m->closed_at = (long)iotc_clock_ms();
            return;
        }
        iotc_mqtt_session_packet(m, pkt, &f);
        iotc_wsc_consume(&m->w, f.total);
    }
}

static int session__done_connack(iotc_mqtt_session *m, const void *arg)
{
    (void)arg;
    return m->connack_rc >= 0;
}

static int session__done_suback(iotc_mqtt_session *m, const void *arg)
{
    return m->suback_pid == *(const uint16_t *)arg;
}

static int session__done_ack(iotc_mqtt_session *m, const void *arg)
{
    uint16_t pid = *(const uint16_t *)arg;
    return iotc_mqtt_session_acked(m->pubacks, m->n_pubacks, pid) ||
           iotc_mqtt_session_acked(m->pubrecs, m->n_pubrecs, pid);
}

/* Sends b (already encoded when rc is IOTC_OK), then pumps until done. */
static int session__exchange(iotc_mqtt_session *m, struct iotc_buf *b, int rc, long deadline,
                             iotc_mqtt_session_done done, const void *arg)
{
    if (rc == IOTC_OK) {
        rc = iotc_mqtt_session_send(m, b);
        if (rc == IOTC_OK)
            iotc_mqtt_session_pump(m, deadline, done, arg);
    }
    iotc_buf_free(b);
    return rc;
}

int iotc_mqtt_session_connect(iotc_mqtt_session *m, const struct iotc_mqtt_connect *cn,
                              long deadline)
{
    struct iotc_buf b = {0};
    int rc = iotc_mqtt_connect_encode(&b, cn);
    return session__exchange(m, &b, rc, deadline, session__done_connack, NULL);
}

int iotc_mqtt_session_subscribe(iotc_mqtt_session *m, const struct iotc_mqtt_subscribe *sub,
                                long deadline)
{
    struct iotc_buf b = {0};
    int rc = iotc_mqtt_subscribe_encode(&b, (uint8_t)m->version, sub);
    return session__exchange(m, &b, rc, deadline, session__done_suback, &sub->packet_id);
}

int iotc_mqtt_session_publish(iotc_mqtt_session *m, const struct iotc_mqtt_publish *p,
                              long deadline)
{
    struct iotc_buf b = {0};
    int rc = iotc_mqtt_publish_encode(&b, (uint8_t)m->version, p);
    return session__exchange(m, &b, rc, deadline, p->qos > 0 ? session__done_ack : NULL,
                             &p->packet_id);
}

void iotc_mqtt_session_take(iotc_mqtt_session *m, size_t i)
{
    if (i >= m->n_inbox)
        return;
    free(m->inbox[i].payload);
    free(m->inbox[i].props);
    memmove(&m->inbox[i], &m->inbox[i + 1], (m->n_inbox - i - 1) * sizeof(m->inbox[0]));
    m->n_inbox--;
}

void iotc_mqtt_session_disconnect(iotc_mqtt_session *m)
{
    if (m->open && !m->closed_at) {
        struct iotc_buf b = {0};
        struct iotc_mqtt_disconnect d = {0, {NULL, 0}};
        if (iotc_mqtt_disconnect_encode(&b, (uint8_t)m->version, &d) == IOTC_OK)
            iotc_mqtt_session_send(m, &b);
        iotc_buf_free(&b);
        /* Let the server see DISCONNECT before the close: read until it hangs up. */
        iotc_mqtt_session_pump(m, (long)iotc_clock_ms() + 300, NULL, NULL);
    }
    iotc_mqtt_session_close(m);
}

void iotc_mqtt_session_drop(iotc_mqtt_session *m)
{
    iotc_wsc_drop(&m->w);
    iotc_mqtt_session_close(m);
}

void iotc_mqtt_session_close(iotc_mqtt_session *m)
{
    if (m->w.ssl || m->w.ctx || m->w.fd >= 0)
        iotc_wsc_close(&m->w);
    if (m->open && !m->closed_at)
        m->closed_at = (long)iotc_clock_ms();
    m->open = 0;
}

void iotc_mqtt_session_free(iotc_mqtt_session *m)
{
    iotc_mqtt_session_close(m);
    session__inbox_free(m);
    iotc_buf_free(&m->connack_props);
    iotc_buf_free(&m->disconnect_props);
}

int iotc_mqtt_session_puback_rc(const iotc_mqtt_session *m, uint16_t pid)
{
    /* The latest PUBACK for pid: packet ids are reused after 65535. */
    for (size_t i = m->n_pubacks; i-- > 0;)
        if (m->pubacks[i] == pid)
            return m->puback_rcs[i];
    return -1;
}

void iotc_mqtt_session_forget_acks(iotc_mqtt_session *m)
{
    m->n_pubacks = m->n_pubrecs = 0;
}
