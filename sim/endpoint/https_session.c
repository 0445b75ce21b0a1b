/*
 * HTTPS publish (8443, and 443 with ALPN x-amzn-http-ca): POST /topics/<topic>?qos=0|1
 * [&retain=true]. Each HTTPS connection that publishes gets its own stamped MQTT
 * connection to the broker, so QoS 1 can answer 200 only after the broker's PUBACK.
 * The same reader serves the 443 door (no ALPN), which this build refuses clearly
 * until SigV4 and custom authorizers exist.
 */
#include "broker_link.h"
#include "session.h"
#include "mqtt_rules.h"
#include "mqtt/mqtt.h"
#include "broker_remote.h"
#include "common/err.h"
#include "common/stamp.h"
#include "http/http.h"
#include "auth.h"
#include "ws/ws.h"
#include "common/jevents.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HS_PUBLISH_TIMEOUT_MS 10000

enum hs_link { HS_LINK_NONE, HS_LINK_CONNECTING, HS_LINK_READY };

struct https_sess {
    struct iotc_conn *c;
    struct iotc_http_reader *rd;
    bool door;
    bool busy; /* a request is being answered; later ones wait in the input buffer */
    bool keep_alive;
    bool continued; /* 100 Continue sent for the current request */
    int qos;
    uint16_t wait_pid;
    uint16_t next_pid;
    struct iotc_blink *link;
    enum hs_link lstate;
    struct iotc_buf pending; /* PUBLISH waiting for the broker's CONNACK */
    struct iotc_buf out;
    struct event *timer; /* idle timeout between requests, publish timeout during one */
};

static void hs__process(struct https_sess *s);
static void hs__publish(struct https_sess *s, const struct iotc_http_req *q);

static void hs__arm(struct https_sess *s, long long ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(s->timer, &tv);
}

static void hs__respond(struct https_sess *s, int status, const char *message)
{
    struct iotc_conn *c = s->c;
    iotc_buf_reset(&s->out);
    bool keep = s->keep_alive && status < 500;
    char rid[37] = "";
    if (iotc_http_json_error(&s->out, status, message, keep, rid) == IOTC_OK)
        iotc_conn_write(c, s->out.p, s->out.len);
    iotc_conn_emit(c, IOTC_EV_HTTP_RESPONSE,
                   json_pack("{s:i, s:s, s:s, s:s?}", "status", status, "message", message,
                             "request_id", rid, "error_type", iotc_http_aws_error_type(status)));
    s->busy = false;
    if (!keep) {
        /* Lingering: a refused request's body may still be on its way. */
        iotc_conn_close_linger(c, "endpoint",
                               status < 400 ? "HTTP exchange done (Connection: close)"
                                            : "HTTP request refused");
        return;
    }
    iotc_http_reader_next(s->rd);
    s->continued = false;
    hs__arm(s, c->ep->profile.limits.http_idle_timeout_ms);
    hs__process(s);
}

static void hs__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct https_sess *s = arg;
    if (s->busy) {
        s->keep_alive = false;
        hs__respond(s, 500, "broker did not acknowledge the publish in time");
        return;
    }
    iotc_conn_close(s->c, "endpoint", "HTTP idle timeout");
}

static int hs__encode_publish(struct https_sess *s, const char *topic, const struct iotc_buf *body,
                              int qos, bool retain, const struct iotc_buf *props)
{
    struct iotc_mqtt_publish p = {.qos = (uint8_t)qos,
                                  .retain = retain,
                                  .topic = iotc_span_str(topic),
                                  .props = {props->p, props->len},
                                  .payload = {body->p, body->len}};
    if (qos) {
        if (++s->next_pid == 0)
            s->next_pid = 1;
        p.packet_id = s->next_pid;
        s->wait_pid = s->next_pid;
    }
    iotc_buf_reset(&s->pending);
    return iotc_mqtt_publish_encode(&s->pending, IOTC_MQTT_V5, &p);
}

static void hs__published(struct https_sess *s)
{
    hs__respond(s, 200, "OK");
}

static void hs__broker_packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct https_sess *s = arg;
    if (f->type == IOTC_MQTT_CONNACK && s->lstate == HS_LINK_CONNECTING) {
        struct iotc_mqtt_connack ca;
        if (iotc_mqtt_connack_parse(pkt, f->total, IOTC_MQTT_V5, &ca) != IOTC_OK || ca.code != 0) {
            s->keep_alive = false;
            hs__respond(s, 500, "broker refused the publishing session");
            return;
        }
        s->lstate = HS_LINK_READY;
        iotc_blink_send(s->link, s->pending.p, s->pending.len);
        if (s->qos == 0)
            hs__published(s);
        return;
    }
    if (f->type == IOTC_MQTT_PUBACK && s->busy && s->qos == 1) {
        struct iotc_mqtt_ack a;
        if (iotc_mqtt_ack_parse(pkt, f->total, IOTC_MQTT_V5, &a) == IOTC_OK &&
            a.packet_id == s->wait_pid) {
            if (a.reason >= 0x80)
                hs__respond(s, 500, "the broker refused the publish");
            else
                hs__published(s);
        }
    }
}

static void hs__broker_closed(void *arg, const char *reason)
{
    struct https_sess *s = arg;
    s->lstate = HS_LINK_NONE;
    iotc_blink_free(s->link);
    s->link = NULL;
    if (s->busy) {
        s->keep_alive = false;
        hs__respond(s, 500, "broker connection lost");
    }
}

static int hs__open_link(struct https_sess *s)
{
    struct iotc_conn *c = s->c;
    char id[64], stamp[IOTC_STAMP_LEN + 1];
    snprintf(id, sizeof id, "iotconform-https-%llu", (unsigned long long)c->id);
    if (!iotc_ep_broker_ready(c->ep))
        return IOTC_ERR_IO;
    if (iotc_stamp_make(iotc_ep_broker_secret(c->ep), IOTC_STAMP_SECRET_LEN, id, strlen(id),
                        iotc_conn_principal(c), strlen(iotc_conn_principal(c)), stamp))
        return IOTC_ERR_CRYPTO;
    /* MQTT 5, so HTTPS publishes can carry properties; a long keep-alive because mosquitto
     * refuses 0 when max_keepalive is set and the HTTP idle timeout ends the link anyway. */
    struct iotc_mqtt_connect cn = {.protocol_name = IOTC_SPAN_LIT("MQTT"),
                                   .version = IOTC_MQTT_V5,
                                   .clean_start = true,
                                   .keepalive = 65535,
                                   .client_id = iotc_span_str(id),
                                   .has_username = true,
                                   .username = iotc_span_str(iotc_conn_principal(c)),
                                   .has_password = true,
                                   .password = iotc_span_str(stamp)};
    iotc_buf_reset(&s->out);
    if (iotc_mqtt_connect_encode(&s->out, &cn) != IOTC_OK)
        return IOTC_ERR_NOMEM;
    struct iotc_blink_cbs cbs = {hs__broker_packet, hs__broker_closed, NULL, s};
    int rc = iotc_ep_blink_open(c->ep, &cbs, &s->link);
    if (rc)
        return rc;
    s->lstate = HS_LINK_CONNECTING;
    return iotc_blink_send(s->link, s->out.p, s->out.len);
}

static void hs__publish(struct https_sess *s, const struct iotc_http_req *q)
{
    struct iotc_conn *c = s->c;
    const struct iotc_limits *lim = &c->ep->profile.limits;
    char *qos = NULL, *retain = NULL;
    const char *topic = q->path ? q->path + strlen("/topics/") : NULL;
    const char *why = NULL;
    int why_status = 400;
    bool retain_flag = false;
    int qrc = iotc_http_query_get(q->query, "qos", &qos);
    int rrc = iotc_http_query_get(q->query, "retain", &retain);
    s->qos = 0;
    if (!topic || !*topic)
        why = "topic missing or not URL-encoded correctly";
    else if ((why = iotc_rule_topic(lim, iotc_span_str(topic))))
        ;
    else if (qrc == IOTC_ERR_MALFORMED || (qrc == IOTC_OK && strcmp(qos, "0") && strcmp(qos, "1")))
        why = "qos must be 0 or 1";
    else if (rrc == IOTC_ERR_MALFORMED ||
             (rrc == IOTC_OK && strcmp(retain, "true") && strcmp(retain, "false")))
        why = "retain must be true or false";
    else if ((long long)q->body.len > lim->max_payload_bytes)
        why = "payload larger than 128 KB", why_status = 413;
    if (!why) {
        s->qos = qrc == IOTC_OK ? qos[0] - '0' : 0;
        retain_flag = rrc == IOTC_OK && strcmp(retain, "true") == 0;
    }
    iotc_conn_emit(c, IOTC_EV_HTTP_REQUEST,
                   json_pack("{s:s, s:s?, s:s?, s:i, s:b, s:I}", "method", q->method, "path",
                             q->path, "topic", topic, "qos", s->qos, "retain", retain_flag, "bytes",
                             (json_int_t)q->body.len));
    free(qos);
    free(retain);
    if (why) {
        hs__respond(s, why_status, why);
        return;
    }
    /* The same reserved-topic rule as MQTT: a device never publishes AWS IoT's own events. */
    if ((why = iotc_rule_reserved(iotc_span_str(topic), IOTC_RESERVED_PUBLISH))) {
        hs__respond(s, 403, why);
        return;
    }
    /* HTTPS has no client ID: ${iot:ClientId} stays unresolved, as in AWS IoT. */
    if (!iotc_conn_allowed(c, NULL, IOTC_ACT_PUBLISH, topic, NULL) ||
        (retain_flag && !iotc_conn_allowed(c, NULL, IOTC_ACT_RETAIN_PUBLISH, topic, NULL))) {
        hs__respond(s, 403, "Not authorized: the principal's policies do not allow this publish");
        return;
    }
    /* AWS IoT Core's publish quotas count HTTPS publishes too: 429 ThrottlingException. */
    if (iotc_throttle_publish(c, NULL, q->body.len)) {
        hs__respond(s, 429, "Rate exceeded");
        return;
    }
    struct iotc_buf props = {0};
    iotc_errtext pwhy; /* per publish: no 4 KB memset */
    iotc_errtext_clear(&pwhy);
    if (iotc_https_mqtt5_props(q, &props, &pwhy) != IOTC_OK) {
        iotc_buf_free(&props);
        hs__respond(s, 400, pwhy.msg);
        return;
    }
    int erc = hs__encode_publish(s, topic, &q->body, s->qos, retain_flag, &props);
    iotc_buf_free(&props);
    if (erc != IOTC_OK) {
        hs__respond(s, 500, "cannot encode publish");
        return;
    }
    hs__arm(s, HS_PUBLISH_TIMEOUT_MS);
    if (s->lstate == HS_LINK_NONE) {
        if (hs__open_link(s) != IOTC_OK) {
            s->keep_alive = false;
            hs__respond(s, 503, "broker unavailable");
        }
        return;
    }
    if (s->lstate == HS_LINK_READY) {
        iotc_blink_send(s->link, s->pending.p, s->pending.len);
        if (s->qos == 0)
            hs__published(s);
    }
}

/*
 * A WebSocket upgrade that authenticated: answer 101 and hand the connection to an
 * MQTT session that reads through the WebSocket layer. Frees this session.
 */
static void hs__upgrade(struct https_sess *s, const struct iotc_http_req *q)
{
    struct iotc_conn *c = s->c;
    int status = 0;
    iotc_errtext why; /* once per upgrade: no 4 KB memset */
    iotc_errtext_clear(&why);
    iotc_buf_reset(&s->out);
    if (iotc_ws_accept(q, &s->out, &status, &why) != IOTC_OK) {
        iotc_conn_emit(c, IOTC_EV_HTTP_RESPONSE,
                       json_pack("{s:i, s:s}", "status", status, "message", why.msg));
        iotc_conn_write(c, s->out.p, s->out.len);
        iotc_conn_close(c, "endpoint", "WebSocket upgrade refused");
        return;
    }
    iotc_conn_write(c, s->out.p, s->out.len);
    iotc_conn_emit(
        c, IOTC_EV_WS_UPGRADE,
        json_pack("{s:s, s:s}", "auth", c->auth.method, "principal", iotc_conn_principal(c)));
    c->sess.ops->on_close(c); /* this HTTPS session is done; s is gone */
    if (iotc_mqtt_session_start_wss(c) != IOTC_OK) {
        iotc_conn_close(c, "endpoint", "cannot start the MQTT session");
        return;
    }
    if (iotc_conn_input_len(c))
        c->sess.ops->on_read(c);
}

/* Routing after authentication. Returns true when the session was replaced (WSS). */
static bool hs__route(struct https_sess *s, const struct iotc_http_req *q)
{
    bool wss = strcmp(q->method, "GET") == 0 && q->path && strcmp(q->path, "/mqtt") == 0;
    if (wss && s->door) {
        hs__upgrade(s, q);
        return true;
    }
    if (strcmp(q->method, "POST") != 0) {
        iotc_conn_emit(s->c, IOTC_EV_HTTP_REQUEST,
                       json_pack("{s:s, s:s?}", "method", q->method, "path", q->path));
        hs__respond(s, 405, "HTTPS is publish-only: use POST /topics/<topic>");
        return false;
    }
    if (!q->path || strncmp(q->path, "/topics/", 8) != 0) {
        iotc_conn_emit(s->c, IOTC_EV_HTTP_REQUEST,
                       json_pack("{s:s, s:s?}", "method", q->method, "path", q->path));
        hs__respond(s, 404, "unknown path: use POST /topics/<url-encoded topic>?qos=0|1");
        return false;
    }
    hs__publish(s, q);
    return false;
}

static void hs__custom_done(struct iotc_conn *c, bool allowed, const char *why)
{
    struct https_sess *s = c->sess.data;
    if (!s || c->closing)
        return;
    const struct iotc_http_req *q = iotc_http_reader_request(s->rd);
    if (!allowed) {
        s->keep_alive = false;
        hs__respond(s, 403, why ? why : "custom authorizer denied the request");
        return;
    }
    if (!hs__route(s, q) && !c->closing && c->sess.data == s && !s->busy)
        hs__process(s);
}

/*
 * The 443 door authenticates every request: SigV4 (Authorization header, or the
 * presigned query of a WSS upgrade) or a custom authorizer. Returns true when the
 * session was replaced or the answer is pending (the caller must not touch s).
 */
static bool hs__door_request(struct https_sess *s, const struct iotc_http_req *q)
{
    struct iotc_conn *c = s->c;
    bool wss = strcmp(q->method, "GET") == 0 && q->path && strcmp(q->path, "/mqtt") == 0;
    iotc_errtext why; /* once per request: no 4 KB memset (the callees clear it) */
    iotc_conn_emit(
        c, IOTC_EV_HTTP_REQUEST,
        json_pack("{s:s, s:s?, s:b}", "method", q->method, "path", q->path, "websocket", wss));
    int rc = iotc_auth_sigv4(c, q, wss, &why);
    if (rc == IOTC_OK)
        return hs__route(s, q);
    if (rc != IOTC_ERR_NOT_FOUND) {
        s->keep_alive = false;
        hs__respond(s, 403, why.msg);
        return false;
    }
    if (!iotc_auth_custom_wanted(c, q)) {
        s->keep_alive = false;
        hs__respond(s, 403,
                    "no credentials: sign the request with SigV4 or use a custom "
                    "authorizer");
        return false;
    }
    struct iotc_auth_input in = {.http = q, .connection = wss};
    if (iotc_auth_custom_start(c, &in, hs__custom_done, &why) != IOTC_OK) {
        s->keep_alive = false;
        hs__respond(s, 403, why.msg);
        return false;
    }
    return true; /* hs__custom_done continues */
}

/* Returns true when the caller must stop (session replaced or answer pending). */
static bool hs__request(struct https_sess *s, const struct iotc_http_req *q)
{
    s->busy = true;
    s->keep_alive = q->keep_alive;
    if (s->door)
        return hs__door_request(s, q);
    if (strcmp(q->method, "GET") == 0 && q->path && strcmp(q->path, "/mqtt") == 0) {
        iotc_conn_emit(s->c, IOTC_EV_HTTP_REQUEST,
                       json_pack("{s:s, s:s?}", "method", q->method, "path", q->path));
        hs__respond(s, 405,
                    "MQTT over WebSocket is served on 443 without ALPN (SigV4 or "
                    "custom authentication), not on X.509 HTTPS ports");
        return false;
    }
    return hs__route(s, q);
}

/* curl sends "Expect: 100-continue" for bodies over 1 KiB and otherwise stalls a second. */
static void hs__maybe_continue(struct https_sess *s)
{
    const struct iotc_http_req *q = iotc_http_reader_request(s->rd);
    if (s->continued || !q || !q->head_complete)
        return;
    const char *expect = iotc_http_header_get(q, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        iotc_conn_write(s->c, cont, sizeof cont - 1);
        s->continued = true;
    }
}

static void hs__process(struct https_sess *s)
{
    struct iotc_conn *c = s->c;
    while (!c->closing && !s->busy) {
        struct evbuffer *in = iotc_conn_input(c);
        size_t len = in ? evbuffer_get_length(in) : 0;
        if (len == 0)
            return;
        const uint8_t *data = evbuffer_pullup(in, -1);
        size_t used = 0;
        int rc = iotc_http_reader_feed(s->rd, data, len, &used);
        evbuffer_drain(in, used);
        c->tr.bytes_in += used;
        if (rc == IOTC_ERR_AGAIN) {
            hs__maybe_continue(s);
            return;
        }
        if (rc != IOTC_OK) {
            char why[160];
            snprintf(why, sizeof why, "malformed HTTP request: %s", iotc_http_reader_error(s->rd));
            iotc_conn_emit(c, IOTC_EV_HTTP_REFUSED, json_pack("{s:s}", "reason", why));
            s->busy = true;
            s->keep_alive = false;
            /* A body over the payload limit is AWS's 413, not a malformed request. */
            hs__respond(
                s, rc == IOTC_ERR_TOO_LARGE && iotc_http_reader_body_too_large(s->rd) ? 413 : 400,
                why);
            return;
        }
        if (hs__request(s, iotc_http_reader_request(s->rd)))
            return; /* replaced by a WSS session, or waiting for an authorizer */
    }
}

static void hs__on_read(struct iotc_conn *c)
{
    hs__process(c->sess.data);
}

static int hs__start_common(struct iotc_conn *c, bool door)
{
    struct https_sess *s = calloc(1, sizeof *s);
    if (!s)
        return IOTC_ERR_NOMEM;
    struct iotc_http_limits lim = {0};
    lim.max_body = (size_t)c->ep->profile.limits.max_payload_bytes + 1;
    s->c = c;
    s->door = door;
    s->rd = iotc_http_reader_new(&lim);
    s->timer = evtimer_new(c->ep->base, hs__on_timer, s);
    if (!s->rd || !s->timer) {
        iotc_http_reader_free(s->rd);
        if (s->timer)
            event_free(s->timer);
        free(s);
        return IOTC_ERR_NOMEM;
    }
    c->sess.data = s;
    hs__arm(s, c->ep->profile.limits.http_idle_timeout_ms);
    return IOTC_OK;
}

static int hs__start(struct iotc_conn *c)
{
    return hs__start_common(c, false);
}

static int hs__start_door(struct iotc_conn *c)
{
    return hs__start_common(c, true);
}

static void hs__on_close(struct iotc_conn *c)
{
    struct https_sess *s = c->sess.data;
    if (!s)
        return;
    /* A QoS 0 publish may still be queued for the broker: let it go out, then disconnect. */
    static const uint8_t disconnect[] = {0xE0, 0x00};
    if (s->lstate == HS_LINK_READY)
        iotc_blink_linger(s->link, disconnect, sizeof disconnect);
    else
        iotc_blink_free(s->link);
    iotc_http_reader_free(s->rd);
    event_free(s->timer);
    iotc_buf_free(&s->pending);
    iotc_buf_free(&s->out);
    free(s);
    c->sess.data = NULL;
}

const struct iotc_session_ops iotc_https_session_ops = {
    .name = "https",
    .start = hs__start,
    .on_read = hs__on_read,
    .on_close = hs__on_close,
};

const struct iotc_session_ops iotc_door_session_ops = {
    .name = "door-443",
    .start = hs__start_door,
    .on_read = hs__on_read,
    .on_close = hs__on_close,
};
