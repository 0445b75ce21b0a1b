/* Session driver connections: open on a row or as a reference client, pump packets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "door_auth_case.h"
#include "mqtt/mqtt.h"
#include "sess.h"

sess_conn *sess_conn_get(sess *s, const char *name, int create)
{
    sess_conn *free_slot = NULL;
    for (size_t i = 0; i < SESS_MAX_CONNS; i++) {
        sess_conn *k = &s->conns[i];
        if (k->used && strcmp(k->name, name) == 0)
            return k;
        if (!k->used && !free_slot)
            free_slot = k;
    }
    if (!create || !free_slot || strlen(name) >= sizeof(free_slot->name))
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = 1;
    free_slot->w.fd = -1;
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    return free_slot;
}

static void sess__reset(sess_conn *k)
{
    for (size_t i = 0; i < k->n_inbox; i++)
        free(k->inbox[i].payload);
    k->n_inbox = 0;
    k->open = 0;
    k->connack_rc = -1;
    k->session_present = 0;
    k->server_keep_alive = -1;
    k->disconnect_reason = -1;
    k->opened_at = k->closed_at = 0;
    k->next_pid = 0;
    k->n_pubacks = k->n_pubrecs = 0;
    k->suback_pid = 0;
    k->suback_n = 0;
    k->pingresps = 0;
}

/* A reference client: device-02 (or the case's subscriber_cert) on 8883, standard TLS. */
static int sess__open_observer(sess *s, sess_conn *k, json_t *step_obs)
{
    const char *cert =
        json_string_value(json_object_get(iotc_case_client(s->c), "subscriber_cert"));
    iotc_tlsc_opts o;
    memset(&o, 0, sizeof(o));
    o.pki_dir = s->env->pki_dir;
    o.cert = cert ? cert : "device-02";
    o.tls = "any";
    o.sni = s->env->endpoint;
    iotc_env_tls_files(s->env, &o);
    return iotc_drv_wsc_open_to(&k->w, s->env, s->c->af, 8883, &o, step_obs,
                                iotc_drv_timeout_ms(s->c), s->out);
}

static int sess__open_wss(sess *s, sess_conn *k, json_t *obs)
{
    struct iotc_buf path = {0}, headers = {0};
    char host[300];
    int status = 0, rc;
    iotc_drv_wss_host(s->env, s->c, host, sizeof(host));
    rc = iotc_drv_wss_request(s->env, s->c, host, &path, &headers, s->out);
    if (rc == IOTC_OK && k->w.hs_ok)
        rc = iotc_wsc_upgrade(&k->w, host, (const char *)path.p,
                              headers.len ? (const char *)headers.p : "",
                              iotc_clock_ms() + iotc_drv_timeout_ms(s->c), &status, obs);
    if (rc == IOTC_ERR_DENIED || rc == IOTC_ERR_TIMEOUT || rc == IOTC_ERR_IO) {
        k->w.closed = 1; /* a refusal: the connection is observed as refused */
        rc = IOTC_OK;
    }
    iotc_buf_free(&path);
    iotc_buf_free(&headers);
    return rc;
}

int sess_conn_open(sess *s, sess_conn *k, int observer, char *username, size_t ulen,
                   json_t *step_obs)
{
    int rc;
    username[0] = '\0';
    sess_conn_free(k);
    sess__reset(k);
    if (observer) {
        rc = sess__open_observer(s, k, step_obs);
    } else {
        iotc_door_auth da;
        rc = iotc_door_auth_resolve(s->env, s->c, &da, s->out->error, sizeof(s->out->error));
        if (rc != IOTC_OK)
            return rc;
        if (da.kind == IOTC_DA_CUSTOM && s->c->row->proto == IOTC_PROTO_MQTT)
            iotc_door_auth_username(&da, IOTC_DOOR_AUTH_USER, username, ulen);
        rc = iotc_drv_wsc_open(&k->w, s->env, s->c, s->out);
        if (rc == IOTC_OK && s->c->row->proto == IOTC_PROTO_WSS)
            rc = sess__open_wss(s, k, step_obs);
    }
    iotc_drv_add_port(s->out, k->w.fd);
    iotc_drv_add_port_number(s->out, k->w.st.local_port);
    if (rc != IOTC_OK)
        return rc;
    k->w.raw = observer || s->c->row->proto != IOTC_PROTO_WSS;
    k->open = k->w.hs_ok && !k->w.closed;
    k->opened_at = iotc_clock_ms();
    if (!k->open)
        k->closed_at = k->opened_at;
    return IOTC_OK;
}

int sess_conn_send(sess_conn *k, struct iotc_buf *pkt)
{
    if (!k->open || k->w.closed)
        return IOTC_ERR_IO;
    int rc = iotc_wsc_send(&k->w, pkt);
    if (rc != IOTC_OK && !k->closed_at)
        k->closed_at = iotc_clock_ms();
    return rc;
}

int sess_conn_closed(const sess_conn *k)
{
    return !k->open || k->closed_at != 0;
}

int sess_conn_acked(const uint16_t *v, size_t n, uint16_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == pid)
            return 1;
    return 0;
}

static void sess__ack_add(uint16_t *v, size_t *n, uint16_t pid)
{
    if (*n < SESS_ACKS)
        v[(*n)++] = pid;
}

static void sess__publish(sess_conn *k, const uint8_t *pkt, size_t len)
{
    struct mqtt_publish p;
    if (mqtt_publish_parse(pkt, len, (uint8_t)k->version, &p) != IOTC_OK)
        return;
    if (p.qos == 1) {
        struct iotc_buf ack = {0};
        struct mqtt_ack a = {MQTT_PUBACK, p.packet_id, 0, {NULL, 0}};
        if (mqtt_ack_encode(&ack, (uint8_t)k->version, &a) == IOTC_OK)
            sess_conn_send(k, &ack);
        iotc_buf_free(&ack);
    }
    if (k->n_inbox >= SESS_INBOX)
        return;
    sess_msg *m = &k->inbox[k->n_inbox];
    m->payload = malloc(p.payload.n + 1);
    if (!m->payload)
        return;
    memcpy(m->payload, p.payload.p, p.payload.n);
    m->payload[p.payload.n] = '\0';
    m->len = p.payload.n;
    snprintf(m->topic, sizeof(m->topic), "%.*s", (int)p.topic.n, (const char *)p.topic.p);
    m->qos = p.qos;
    m->retain = p.retain;
    k->n_inbox++;
}

static void sess__packet(sess_conn *k, const uint8_t *pkt, const struct mqtt_frame *f)
{
    uint8_t v = (uint8_t)k->version;
    switch (f->type) {
    case MQTT_CONNACK: {
        struct mqtt_connack ca;
        struct mqtt_prop prop;
        if (mqtt_connack_parse(pkt, f->total, v, &ca) != IOTC_OK)
            break;
        k->connack_rc = ca.code;
        k->session_present = ca.session_present;
        if (v == MQTT_V5 && mqtt_props_find(ca.props, MQTT_PROP_SERVER_KEEP_ALIVE, &prop) == 1)
            k->server_keep_alive = (int)prop.u32;
        break;
    }
    case MQTT_PUBLISH:
        sess__publish(k, pkt, f->total);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC: {
        struct mqtt_ack a;
        if (mqtt_ack_parse(pkt, f->total, v, &a) != IOTC_OK)
            break;
        if (f->type == MQTT_PUBACK)
            sess__ack_add(k->pubacks, &k->n_pubacks, a.packet_id);
        else
            sess__ack_add(k->pubrecs, &k->n_pubrecs, a.packet_id);
        break;
    }
    case MQTT_SUBACK: {
        struct mqtt_suback sa;
        if (mqtt_suback_parse(pkt, f->total, v, &sa) != IOTC_OK)
            break;
        k->suback_pid = sa.packet_id;
        k->suback_n = (int)sa.count;
        memcpy(k->suback_codes, sa.codes, sa.count < 64 ? sa.count : 64);
        break;
    }
    case MQTT_PINGRESP:
        k->pingresps++;
        break;
    case MQTT_DISCONNECT: {
        struct mqtt_disconnect d;
        if (v == MQTT_V5 && mqtt_disconnect_parse(pkt, f->total, v, &d) == IOTC_OK)
            k->disconnect_reason = d.reason;
        break;
    }
    default:
        break;
    }
}

void sess_conn_pump(sess_conn *k, long deadline, sess_done_fn done, const void *arg)
{
    while (!sess_conn_closed(k) && !(done && done(k, arg))) {
        const uint8_t *pkt;
        struct mqtt_frame f;
        int rc = iotc_wsc_next(&k->w, deadline, &pkt, &f);
        if (rc == IOTC_ERR_TIMEOUT)
            return;
        if (rc != IOTC_OK) {
            k->closed_at = iotc_clock_ms();
            return;
        }
        sess__packet(k, pkt, &f);
        iotc_wsc_consume(&k->w, f.total);
    }
}

void sess_conn_disconnect(sess_conn *k)
{
    if (k->open && !k->closed_at) {
        struct iotc_buf b = {0};
        struct mqtt_disconnect d = {0, {NULL, 0}};
        if (mqtt_disconnect_encode(&b, (uint8_t)k->version, &d) == IOTC_OK)
            sess_conn_send(k, &b);
        iotc_buf_free(&b);
        /* Let the server see DISCONNECT before the close: read until it hangs up. */
        sess_conn_pump(k, iotc_clock_ms() + 300, NULL, NULL);
    }
    sess_conn_free(k);
}

void sess_conn_drop(sess_conn *k)
{
    iotc_wsc_drop(&k->w);
    sess_conn_free(k);
}

void sess_conn_free(sess_conn *k)
{
    if (k->w.ssl || k->w.ctx || k->w.fd >= 0)
        iotc_wsc_close(&k->w);
    if (k->open && !k->closed_at)
        k->closed_at = iotc_clock_ms();
    k->open = 0;
}
