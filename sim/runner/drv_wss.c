/*
 * MQTT over WebSocket on the 443 door: TLS without a client certificate,
 * GET /mqtt upgraded with a presigned SigV4 query (signed here by sigv4c, the
 * session token appended after signing as AWS IoT wants) or custom-authorizer
 * headers / query, then MQTT 3.1.1 in binary frames on the one connection:
 * CONNECT, SUBSCRIBE, PUBLISH and its own message back (roundtrip), or a
 * reference X.509 publisher's message (subscribe).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mqtt_session.h"
#include "common/err.h"
#include "cases/door_auth_case.h"
#include "driver.h"
#include "mqtt/mqtt.h"
#include "wsc_case.h"

typedef struct wss_run {
    iotc_mqtt_session m;
    json_t *obs;
    long deadline;
    uint16_t sub_pid, pub_pid;
    const char *want_topic;
    long got; /* inbox index of the first message on want_topic, -1 none yet */
} wss_run;

/* After a pump: bytes that are not MQTT ended the connection. */
static void wss__check(wss_run *r)
{
    if (r->m.malformed) {
        json_object_set_new(r->obs, "unexpected_reply", json_string("not MQTT"));
        r->m.w.closed = 1;
    }
}

/* Reads packets until done(r), the connection ends or the deadline passes. */
static void wss__pump(wss_run *r, long deadline, iotc_mqtt_session_done done)
{
    iotc_mqtt_session_pump(&r->m, deadline, done, r);
    wss__check(r);
}

static int wss__done_suback(iotc_mqtt_session *m, const void *arg)
{
    return m->suback_pid == ((const wss_run *)arg)->sub_pid && m->suback_n >= 1;
}

static int wss__done_puback(iotc_mqtt_session *m, const void *arg)
{
    return iotc_mqtt_session_acked(m->pubacks, m->n_pubacks, ((const wss_run *)arg)->pub_pid);
}

static int wss__done_msg(iotc_mqtt_session *m, const void *arg)
{
    wss_run *r = (wss_run *)arg;
    for (size_t i = 0; r->got < 0 && i < m->n_inbox; i++)
        if (strcmp(m->inbox[i].topic, r->want_topic) == 0)
            r->got = (long)i;
    return r->got >= 0 && (!r->pub_pid || wss__done_puback(m, arg));
}

static int wss__send_subscribe(wss_run *r, const char *topic, int qos)
{
    struct iotc_mqtt_subscribe *s = calloc(1, sizeof(*s)); /* 64 filters: too big for the stack */
    int rc = IOTC_ERR_NOMEM;

    if (!s)
        return rc;
    r->sub_pid = iotc_mqtt_session_pid(&r->m);
    s->packet_id = r->sub_pid;
    s->count = 1;
    s->filters[0].filter = iotc_span_str(topic);
    s->filters[0].options = (uint8_t)qos;
    rc = iotc_mqtt_session_subscribe(&r->m, s, r->deadline);
    free(s);
    return rc;
}

/* Sent only: the wait for PUBACK and the message back is one. */
static int wss__send_publish(wss_run *r, const char *topic, int qos, int retain,
                             const char *payload)
{
    struct iotc_buf b = {0};
    struct iotc_mqtt_publish p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.qos = (uint8_t)qos;
    p.retain = retain;
    p.topic = iotc_span_str(topic);
    p.payload = iotc_span_str(payload);
    if (qos) {
        r->pub_pid = iotc_mqtt_session_pid(&r->m);
        p.packet_id = r->pub_pid;
    }
    rc = iotc_mqtt_publish_encode(&b, IOTC_MQTT_V311, &p);
    if (rc == IOTC_OK)
        rc = iotc_mqtt_session_send(&r->m, &b);
    iotc_buf_free(&b);
    return rc;
}

void iotc_drv_wss_host(const iotc_env *env, const iotc_case *c, char *out, size_t len)
{
    int port = iotc_env_port(env, iotc_drv_logical_port(c));
    if (port == 443)
        snprintf(out, len, "%s", env->endpoint); /* the default port is implied */
    else
        snprintf(out, len, "%s:%d", env->endpoint, port);
}

/* Path and headers of the upgrade request for the case's credentials. */
int iotc_drv_wss_request(const iotc_env *env, const iotc_case *c, const char *host,
                         struct iotc_buf *path, struct iotc_buf *headers, iotc_drv_out *out)
{
    iotc_door_auth da;
    struct iotc_buf q = {0};
    const char *extra = c->client.query;
    iotc_errtext e = {0};
    int rc = iotc_door_auth_resolve(env, c, &da, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));

    if (rc != IOTC_OK)
        return rc;
    iotc_door_req req = {"GET", "/mqtt", host, NULL, 0, NULL, 0, 1, 0};
    rc = iotc_door_auth_http(&da, &req, &q, headers, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    if (rc == IOTC_OK && extra) /* raw parameters a case adds after signing */
        rc = iotc_buf_printf(&q, "%s%s", q.len ? "&" : "", extra);
    if (rc == IOTC_OK)
        rc = iotc_buf_printf(path, "/mqtt%s%s", q.len ? "?" : "", q.len ? (char *)q.p : "");
    iotc_buf_free(&q);
    return rc;
}

static void wss__observe(wss_run *r, const char *payload)
{
    json_t *o = r->obs;
    const iotc_mqtt_session *m = &r->m;
    char got[256] = "";
    int same;

    /* The first 255 bytes of what came back are compared and shown. */
    if (r->got >= 0)
        snprintf(got, sizeof(got), "%s", m->inbox[r->got].payload);
    same = r->got >= 0 && strcmp(got, payload) == 0;
    if (m->connack_rc >= 0)
        json_object_set_new(o, "connack_rc", json_integer(m->connack_rc));
    json_object_set_new(o, "connect", json_string(m->connack_rc == 0 ? "accepted" : "refused"));
    if (r->sub_pid && m->suback_pid == r->sub_pid && m->suback_n >= 1)
        json_object_set_new(o, "suback_rc", json_integer(m->suback_codes[0]));
    if (r->pub_pid)
        json_object_set_new(o, "puback", json_boolean(wss__done_puback(&r->m, r)));
    json_object_set_new(o, "delivered", json_boolean(same));
    if (r->got >= 0) {
        json_object_set_new(o, "delivered_qos", json_integer(m->inbox[r->got].qos));
        if (!same)
            json_object_set_new(o, "delivered_payload", json_string(got));
    }
    json_object_set_new(o, "disconnected", json_boolean(m->w.closed));
    if (m->w.end)
        json_object_set_new(o, "transport_end", json_string(m->w.end));
}

/* CONNECT (clean, keep-alive 60 s), then the wait for CONNACK. */
static void wss__connect(wss_run *r, const char *client_id)
{
    struct iotc_mqtt_connect cn;

    memset(&cn, 0, sizeof(cn));
    cn.protocol_name = IOTC_SPAN_LIT("MQTT");
    cn.version = IOTC_MQTT_V311;
    cn.clean_start = true;
    cn.keepalive = 60;
    cn.client_id = iotc_span_str(client_id);
    iotc_mqtt_session_start(&r->m);
    iotc_mqtt_session_connect(&r->m, &cn, r->deadline);
    wss__check(r);
}

/* After CONNACK 0: the action's MQTT exchange. */
static int wss__exchange(wss_run *r, const iotc_env *env, const iotc_case *c, size_t idx,
                         const char *payload, iotc_drv_out *out)
{
    int qos = c->client.qos;
    int retain = c->client.retain;
    int subscribe_only = c->client.action == IOTC_CASE_ACT_SUBSCRIBE;
    int timeout = iotc_drv_timeout_ms(c);
    char topic[128], pub_id[128];
    long wait;

    iotc_drv_topic(env, idx, topic, sizeof(topic));
    r->want_topic = topic;
    if (wss__send_subscribe(r, topic, qos > 1 ? 1 : qos) != IOTC_OK)
        return IOTC_OK; /* the connection is gone: observed as disconnected */
    wss__check(r);
    if (!wss__done_suback(&r->m, r) || r->m.suback_codes[0] > 2)
        return IOTC_OK;
    if (subscribe_only) {
        iotc_drv_client_id(env, idx, "ref", c, pub_id, sizeof(pub_id));
        if (iotc_pub_once(env, c, topic, qos, payload, pub_id, out) != IOTC_OK)
            return IOTC_ERR_IO;
    } else if (wss__send_publish(r, topic, qos, retain, payload) != IOTC_OK) {
        return IOTC_OK;
    }
    /* Local delivery takes milliseconds; absence is judged after half a second. */
    wait = json_is_false(json_object_get(iotc_case_expect(c), "delivered")) && timeout > 500
               ? 500
               : timeout;
    wss__pump(r, iotc_clock_ms() + wait, wss__done_msg);
    if (r->pub_pid && !wss__done_puback(&r->m, r))
        wss__pump(r, iotc_clock_ms() + 100, wss__done_puback);
    return IOTC_OK;
}

int iotc_drv_wss(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    iotc_case_action action = c->client.action;
    struct iotc_buf path = {0}, headers = {0};
    char host[300], client_id[128], payload[320];
    wss_run r;
    int rc, status = 0;

    memset(&r, 0, sizeof(r));
    iotc_mqtt_session_init(&r.m);
    r.m.version = IOTC_MQTT_V311;
    r.obs = out->observed;
    r.got = -1;
    r.deadline = iotc_clock_ms() + iotc_drv_timeout_ms(c);
    if (c->row->proto != IOTC_PROTO_WSS) {
        snprintf(out->error, sizeof(out->error), "the wss driver needs a WSS row");
        return IOTC_ERR_INVALID;
    }
    if (action == IOTC_CASE_ACT_PUBLISH_THEN_SUBSCRIBE) {
        snprintf(out->error, sizeof(out->error), "the wss driver has no publish-then-subscribe");
        return IOTC_ERR_CONFIG;
    }
    snprintf(payload, sizeof(payload), "%s", c->client.payload ? c->client.payload : c->id);
    /* Host as a browser or SDK sends it: name:port (the presigned URL signs it). */
    iotc_drv_wss_host(env, c, host, sizeof(host));
    rc = iotc_drv_wss_request(env, c, host, &path, &headers, out);
    if (rc != IOTC_OK)
        goto cleanup;
    rc = iotc_drv_wsc_open(&r.m.w, env, c, out);
    if (rc != IOTC_OK)
        goto cleanup;
    if (r.m.w.hs_ok) {
        rc = iotc_wsc_upgrade(&r.m.w, host, (char *)path.p, headers.len ? (char *)headers.p : NULL,
                              r.deadline, &status, out->observed);
        if (status)
            json_object_set_new(out->observed, "http_status", json_integer(status));
        json_object_set_new(out->observed, "upgrade",
                            json_string(rc == IOTC_OK ? "accepted" : "refused"));
        if (rc == IOTC_OK) {
            iotc_drv_client_id(env, idx, "pub", c, client_id, sizeof(client_id));
            wss__connect(&r, client_id);
            if (r.m.connack_rc == 0 && action != IOTC_CASE_ACT_CONNECT)
                rc = wss__exchange(&r, env, c, idx, payload, out);
            else
                rc = IOTC_OK;
            wss__observe(&r, payload);
        } else {
            json_object_set_new(out->observed, "connect", json_string("refused"));
            json_object_set_new(out->observed, "delivered", json_false());
            rc = IOTC_OK;
        }
    } else {
        json_object_set_new(out->observed, "upgrade", json_string("refused"));
        json_object_set_new(out->observed, "connect", json_string("refused"));
        json_object_set_new(out->observed, "delivered", json_false());
    }
    iotc_tlsc_observe_state(&r.m.w.st, r.m.w.hs_ok, out->observed);
cleanup:
    iotc_mqtt_session_free(&r.m);
    iotc_buf_free(&path);
    iotc_buf_free(&headers);
    return rc;
}
