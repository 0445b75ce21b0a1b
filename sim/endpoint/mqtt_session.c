/*
 * MQTT over TLS: the relay between one device and mosquitto. The front door
 * parses every packet in both directions so it can apply AWS IoT's rules, stamp
 * the identity on CONNECT, shape CONNACK like AWS, own the keep-alive timer and
 * journal what happened. Bytes are forwarded unchanged unless a rule rewrites them.
 */
#include "broker_link.h"
#include "lifecycle.h"
#include "auth.h"
#include "ws/ws.h"
#include "http/http.h"
#include "endpoint.h"
#include "common/err.h"
#include "common/stamp.h"
#include "common/strmap.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_HIGH_WATER (1u << 20) /* pause the other side above this much queued output */
#define MS_LOW_WATER  (256u << 10)

enum ms_state { MS_WAIT_CONNECT, MS_AUTHORIZING, MS_WAIT_CONNACK, MS_LIVE, MS_DONE };

/* AWS closes an MQTT 3.1.1 connection it does not authorize without a CONNACK. */
#define MS_NO_CONNACK 0xFF

struct mqtt_sess {
    struct iotc_conn *c;
    enum ms_state state;
    uint8_t version;
    char *client_id;
    bool assigned_id;
    uint16_t ka_requested, ka_effective;
    struct iotc_blink *link;
    struct event *timer; /* CONNECT deadline, then keep-alive */
    bool taken_over;
    bool ka_armed;
    bool scenario_sent;
    bool ws_closed;
    double last_rx;        /* monotonic ms of the last client packet */
    bool announced;        /* a connected lifecycle event went out */
    const char *lc_reason; /* lifecycle disconnectReason, when known before the close */
    bool client_initiated;
    char session_id[37];
    json_t *pending_subs;        /* packet id -> filters, until the broker's SUBACK/UNSUBACK */
    json_t *subscriptions;       /* granted filters (a set), for the 50-per-connection limit */
    struct iotc_buf connect_pkt; /* the CONNECT, kept while a custom authorizer runs */
    struct iotc_ws *ws;          /* MQTT over WebSocket: framing between TLS and MQTT */
    struct evbuffer *ws_in;      /* = c->ws_in: MQTT bytes unwrapped from WebSocket messages */
    struct iotc_buf out;
};

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
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].rule, rule) == 0)
            return map[i].reason;
    return "CLIENT_ERROR";
}

static const char *ms__lifecycle_reason(uint8_t v5_reason)
{
    switch (v5_reason) {
    case MQTT_RC_SESSION_TAKEN_OVER:
        return "DUPLICATE_CLIENTID";
    case MQTT_RC_KEEP_ALIVE_TIMEOUT:
        return "MQTT_KEEP_ALIVE_TIMEOUT";
    case MQTT_RC_NOT_AUTHORIZED:
        return "FORBIDDEN_ACCESS";
    default:
        return "SERVER_INITIATED_DISCONNECT";
    }
}

static size_t ms__max_packet(const struct iotc_conn *c)
{
    /* Room for a maximum payload plus the largest topic and properties. */
    return (size_t)c->ep->profile.limits.max_payload_bytes + 65536 + 1024;
}

static const char *ms__ip(const struct iotc_conn *c)
{
    static char ip[64];
    const char *p = c->peer, *end;
    if (*p == '[') { /* [v6]:port */
        p++;
        end = strchr(p, ']');
    } else {
        end = strrchr(p, ':');
    }
    size_t n = end ? (size_t)(end - p) : strlen(p);
    snprintf(ip, sizeof ip, "%.*s", (int)n, p);
    return ip;
}

static void ms__arm(struct mqtt_sess *s, double ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((long long)ms % 1000 * 1000)};
    evtimer_add(s->timer, &tv);
}

static double ms__keepalive_window(const struct mqtt_sess *s)
{
    double ms = s->ka_effective * 1500.0 * s->c->ep->profile.time_scale;
    return ms < 1 ? 1 : ms;
}

/* Arms once per window; packets only stamp last_rx, so the hot path adds no timer work. */
static void ms__arm_keepalive(struct mqtt_sess *s)
{
    s->last_rx = iotc_mono_ms();
    if (!s->ka_armed) {
        s->ka_armed = true;
        ms__arm(s, ms__keepalive_window(s));
    }
}

static void ms__journal(struct mqtt_sess *s, const char *event, const struct mqtt_frame *f,
                        const uint8_t *pkt, bool always)
{
    struct iotc_conn *c = s->c;
    if ((!always && !c->ep->journal_packets) || !iotc_journal_enabled(c->ep->journal))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(mqtt_type_name(f->type)));
    json_object_set_new(o, "bytes", json_integer((json_int_t)f->total));
    if (s->client_id)
        json_object_set_new(o, "client_id", json_string(s->client_id));
    switch (f->type) {
    case MQTT_PUBLISH: {
        struct mqtt_publish p;
        if (mqtt_publish_parse(pkt, f->total, s->version, &p) == IOTC_OK) {
            json_object_set_new(o, "topic", json_stringn((const char *)p.topic.p, p.topic.n));
            json_object_set_new(o, "qos", json_integer(p.qos));
            json_object_set_new(o, "retain", json_boolean(p.retain));
            json_object_set_new(o, "dup", json_boolean(p.dup));
            json_object_set_new(o, "packet_id", json_integer(p.packet_id));
            json_object_set_new(o, "payload_bytes", json_integer((json_int_t)p.payload.n));
        }
        break;
    }
    case MQTT_PUBACK: {
        struct mqtt_ack a;
        if (mqtt_ack_parse(pkt, f->total, s->version, &a) == IOTC_OK) {
            json_object_set_new(o, "packet_id", json_integer(a.packet_id));
            json_object_set_new(o, "reason", json_integer(a.reason));
        }
        break;
    }
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: {
        struct mqtt_subscribe *sub = malloc(sizeof *sub);
        int rc = !sub ? IOTC_ERR_NOMEM
                 : f->type == MQTT_SUBSCRIBE
                     ? mqtt_subscribe_parse(pkt, f->total, s->version, sub)
                     : mqtt_unsubscribe_parse(pkt, f->total, s->version, sub);
        if (rc == IOTC_OK) {
            json_t *a = json_array();
            for (size_t i = 0; i < sub->count; i++)
                json_array_append_new(
                    a, json_pack("{s:s%, s:i}", "filter", (const char *)sub->filters[i].filter.p,
                                 sub->filters[i].filter.n, "options", sub->filters[i].options));
            json_object_set_new(o, "filters", a);
            json_object_set_new(o, "packet_id", json_integer(sub->packet_id));
        }
        free(sub);
        break;
    }
    case MQTT_SUBACK: {
        struct mqtt_suback *sa = malloc(sizeof *sa);
        if (sa && mqtt_suback_parse(pkt, f->total, s->version, sa) == IOTC_OK) {
            json_t *a = json_array();
            for (size_t i = 0; i < sa->count; i++)
                json_array_append_new(a, json_integer(sa->codes[i]));
            json_object_set_new(o, "codes", a);
            json_object_set_new(o, "packet_id", json_integer(sa->packet_id));
        }
        free(sa);
        break;
    }
    case MQTT_CONNACK: {
        struct mqtt_connack ca;
        if (mqtt_connack_parse(pkt, f->total, s->version, &ca) == IOTC_OK) {
            json_object_set_new(o, "code", json_integer(ca.code));
            json_object_set_new(o, "session_present", json_boolean(ca.session_present));
        }
        break;
    }
    case MQTT_DISCONNECT: {
        struct mqtt_disconnect d;
        if (mqtt_disconnect_parse(pkt, f->total, s->version, &d) == IOTC_OK)
            json_object_set_new(o, "reason", json_integer(d.reason));
        break;
    }
    default:
        break;
    }
    iotc_conn_emit(c, event, o);
}

/* Hands what the WebSocket layer framed (messages, pongs, close) to TLS. */
static void ms__ws_flush(struct mqtt_sess *s)
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

static void ms__send_client(struct mqtt_sess *s, const void *data, size_t len)
{
    if (s->ws) {
        iotc_ws_send(s->ws, data, len);
        ms__ws_flush(s);
    } else {
        iotc_conn_write(s->c, data, len);
    }
    if (s->link && evbuffer_get_length(bufferevent_get_output(s->c->bev)) > MS_HIGH_WATER)
        bufferevent_disable(iotc_blink_bev(s->link), EV_READ);
}

static void ms__send_broker(struct mqtt_sess *s, const void *data, size_t len)
{
    if (!s->link)
        return;
    iotc_blink_send(s->link, data, len);
    if (evbuffer_get_length(bufferevent_get_output(iotc_blink_bev(s->link))) > MS_HIGH_WATER)
        bufferevent_disable(s->c->bev, EV_READ);
}

static void ms__finish(struct mqtt_sess *s, const char *by, const char *reason)
{
    if (s->state == MS_DONE)
        return;
    s->state = MS_DONE;
    iotc_conn_close(s->c, by, reason);
}

/*
 * Refuses per AWS: before CONNACK the device gets a CONNACK with the code
 * (MQTT 3: return code, MQTT 5: reason); after it, MQTT 5 gets a DISCONNECT with
 * the reason and MQTT 3 a plain close.
 */
static void ms__refuse(struct mqtt_sess *s, const char *rule, const char *reason, uint8_t v5,
                       uint8_t v3_connack)
{
    json_t *f = json_pack("{s:s, s:s, s:i}", "rule", rule, "reason", reason, "mqtt5_reason", v5);
    iotc_conn_emit(s->c, "mqtt.refused", f);
    if (!s->lc_reason)
        s->lc_reason = ms__rule_reason(rule);
    iotc_buf_reset(&s->out);
    if ((s->state == MS_WAIT_CONNECT || s->state == MS_AUTHORIZING) && s->version &&
        (s->version == MQTT_V5 || v3_connack != MS_NO_CONNACK)) {
        struct mqtt_connack ca = {.session_present = false,
                                  .code = s->version == MQTT_V5 ? v5 : v3_connack};
        if (mqtt_connack_encode(&s->out, s->version, &ca) == IOTC_OK)
            ms__send_client(s, s->out.p, s->out.len);
    } else if (s->version == MQTT_V5 && s->state != MS_WAIT_CONNECT && s->state != MS_AUTHORIZING) {
        struct mqtt_disconnect d = {.reason = v5};
        if (mqtt_disconnect_encode(&s->out, MQTT_V5, &d) == IOTC_OK)
            ms__send_client(s, s->out.p, s->out.len);
    }
    ms__finish(s, "endpoint", reason);
}

static void ms__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct mqtt_sess *s = arg;
    if (s->state == MS_WAIT_CONNECT) {
        iotc_conn_emit(s->c, "mqtt.refused",
                       json_pack("{s:s, s:s}", "rule", "connect-timeout", "reason",
                                 "no CONNECT after the TLS handshake"));
        ms__finish(s, "endpoint", "no CONNECT in time");
        return;
    }
    if (s->state == MS_AUTHORIZING)
        return; /* the authorizer's own timeout answers */
    if (s->state == MS_WAIT_CONNACK) {
        ms__refuse(s, "broker-timeout", "broker did not answer CONNECT", MQTT_RC_SERVER_UNAVAILABLE,
                   MQTT3_CONNACK_UNAVAILABLE);
        return;
    }
    double idle = iotc_mono_ms() - s->last_rx, window = ms__keepalive_window(s);
    if (idle < window) {
        ms__arm(s, window - idle);
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "no packet within 1.5 x keep-alive (%u s)", s->ka_effective);
    ms__refuse(s, "MQTT_KEEP_ALIVE_TIMEOUT", why, MQTT_RC_KEEP_ALIVE_TIMEOUT, 0);
}

/* ---- broker -> client ---- */

/*
 * iot:Receive: a message the device may not receive is not delivered. A QoS 1
 * one is acknowledged to the broker on the device's behalf so it is not redelivered.
 */
/*
 * AWS IoT sends no retained messages to wildcard subscriptions (reference section 3);
 * mosquitto does. A PUBLISH the broker flags retained is one sent because of a new
 * subscription: deliver it only when the session holds the exact topic as a filter.
 */
static bool ms__retained_for_wildcard_only(struct mqtt_sess *s, const struct mqtt_publish *p,
                                           const char *topic)
{
    if (!p->retain || json_object_get(s->subscriptions, topic))
        return false;
    const char *flt;
    json_t *v;
    json_object_foreach(s->subscriptions, flt, v)
    {
        if (mqtt_topic_matches(iotc_span_str(flt), p->topic))
            return true;
    }
    return false;
}

/*
 * Whether a broker PUBLISH reaches the device: iot:Receive must allow it, and a
 * retained message goes only to exact subscriptions. A QoS 1 message held back is
 * acknowledged to the broker on the device's behalf so it is not redelivered.
 */
static bool ms__authorize_receive(struct mqtt_sess *s, const struct mqtt_frame *f,
                                  const uint8_t *pkt)
{
    struct mqtt_publish p;
    if (mqtt_publish_parse(pkt, f->total, s->version, &p) != IOTC_OK)
        return true;
    char topic[1024];
    snprintf(topic, sizeof topic, "%.*s", (int)p.topic.n, (const char *)p.topic.p);
    bool wildcard_retained = ms__retained_for_wildcard_only(s, &p, topic);
    if (wildcard_retained)
        iotc_conn_emit(s->c, "mqtt.withheld",
                       json_pack("{s:s, s:s}", "topic", topic, "reason",
                                 "retained message for a wildcard subscription"));
    if (!wildcard_retained &&
        iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_RECEIVE, topic, NULL, 0))
        return true;
    if (p.qos == 1) {
        struct mqtt_ack a = {.type = MQTT_PUBACK, .packet_id = p.packet_id};
        iotc_buf_reset(&s->out);
        if (mqtt_ack_encode(&s->out, s->version, &a) == IOTC_OK)
            ms__send_broker(s, s->out.p, s->out.len);
    }
    return false;
}

static bool ms__subscription_event(struct mqtt_sess *s, const struct mqtt_frame *f,
                                   const uint8_t *pkt);

static int ms__rewrite_connack(struct mqtt_sess *s, const struct mqtt_connack *in)
{
    struct iotc_buf props = {0};
    size_t cur = 0;
    struct mqtt_prop p;
    int rc;
    /* AWS IoT's CONNACK: max QoS 1, retain and wildcards on, subscription ids off. */
    static const uint8_t ours[] = {
        MQTT_PROP_MAXIMUM_QOS,      MQTT_PROP_RETAIN_AVAILABLE,  MQTT_PROP_WILDCARD_SUB_AVAILABLE,
        MQTT_PROP_SUB_ID_AVAILABLE, MQTT_PROP_SERVER_KEEP_ALIVE, MQTT_PROP_ASSIGNED_CLIENT_ID};
    while ((rc = mqtt_props_next(in->props, &cur, &p)) == 1) {
        if (!memchr(ours, p.id, sizeof ours) && (rc = mqtt_props_put(&props, &p)))
            goto cleanup;
    }
    if (rc < 0)
        goto cleanup;
    if (in->code == MQTT_RC_SUCCESS) {
        struct mqtt_prop add[] = {
            {.id = MQTT_PROP_MAXIMUM_QOS, .u32 = 1},
            {.id = MQTT_PROP_RETAIN_AVAILABLE, .u32 = 1},
            {.id = MQTT_PROP_WILDCARD_SUB_AVAILABLE, .u32 = 1},
            {.id = MQTT_PROP_SUB_ID_AVAILABLE, .u32 = 0},
        };
        for (size_t i = 0; i < sizeof add / sizeof add[0]; i++)
            if ((rc = mqtt_props_put(&props, &add[i])))
                goto cleanup;
        if (s->ka_effective != s->ka_requested) {
            struct mqtt_prop ka = {.id = MQTT_PROP_SERVER_KEEP_ALIVE, .u32 = s->ka_effective};
            if ((rc = mqtt_props_put(&props, &ka)))
                goto cleanup;
        }
        if (s->assigned_id) {
            struct mqtt_prop id = {.id = MQTT_PROP_ASSIGNED_CLIENT_ID,
                                   .data = iotc_span_str(s->client_id)};
            if ((rc = mqtt_props_put(&props, &id)))
                goto cleanup;
        }
    }
    struct mqtt_connack out = *in;
    out.props.p = props.p;
    out.props.n = props.len;
    iotc_buf_reset(&s->out);
    rc = mqtt_connack_encode(&s->out, MQTT_V5, &out);
cleanup:
    iotc_buf_free(&props);
    return rc;
}

/* Certification scenarios: acknowledgements the endpoint "forgets" to send. */
static bool ms__scenario_withholds(struct mqtt_sess *s, const struct mqtt_frame *f)
{
    const struct iotc_scenario *sc = &s->c->ep->scenario;
    bool drop = (f->type == MQTT_PUBACK && sc->withhold_puback) ||
                (f->type == MQTT_SUBACK && sc->withhold_suback) ||
                (f->type == MQTT_PINGRESP && sc->withhold_pingresp);
    if (drop)
        iotc_conn_emit(s->c, "scenario.withheld",
                       json_pack("{s:s}", "type", mqtt_type_name(f->type)));
    return drop;
}

/* After the first SUBACK: send the device the message the scenario asks for. */
static void ms__scenario_send(struct mqtt_sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    const struct iotc_scenario *sc = &s->c->ep->scenario;
    struct mqtt_suback sa;
    if (sc->send_bytes < 0 || s->scenario_sent ||
        mqtt_suback_parse(pkt, f->total, s->version, &sa) != IOTC_OK)
        return;
    char topic[512] = "", key[8];
    if (sc->send_topic) {
        snprintf(topic, sizeof topic, "%s", sc->send_topic);
    } else {
        snprintf(key, sizeof key, "%u", sa.packet_id);
        json_t *filters = json_object_get(json_object_get(s->pending_subs, key), "filters");
        const char *flt = json_string_value(json_array_get(filters, 0));
        if (!flt || strpbrk(flt, "+#"))
            return;
        snprintf(topic, sizeof topic, "%s", flt);
    }
    s->scenario_sent = true;
    uint8_t *payload = malloc((size_t)sc->send_bytes + 1);
    if (!payload)
        return;
    for (long long i = 0; i < sc->send_bytes; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    iotc_conn_emit(s->c, "scenario.send",
                   json_pack("{s:s, s:I, s:I}", "topic", topic, "bytes", (json_int_t)sc->send_bytes,
                             "qos", (json_int_t)sc->send_qos));
    iotc_system_publish(s->c->ep->lifecycle, topic, payload, (size_t)sc->send_bytes,
                        (int)sc->send_qos);
    free(payload);
}

static void ms__broker_packet(void *arg, const struct mqtt_frame *f, const uint8_t *pkt)
{
    struct mqtt_sess *s = arg;
    if (s->state == MS_DONE)
        return;
    if (f->type == MQTT_CONNACK && s->state == MS_WAIT_CONNACK) {
        struct mqtt_connack ca;
        if (mqtt_connack_parse(pkt, f->total, s->version, &ca) != IOTC_OK) {
            ms__finish(s, "broker", "malformed CONNACK from broker");
            return;
        }
        struct iotc_endpoint *ep = s->c->ep;
        const struct iotc_scenario *sc = &ep->scenario;
        if (ca.code == 0 && sc->withhold_connack &&
            (sc->withhold_connack < 0 || ep->connacks_withheld < sc->withhold_connack)) {
            ep->connacks_withheld++;
            iotc_conn_emit(s->c, "scenario.withheld",
                           json_pack("{s:s, s:I}", "type", "CONNACK", "count",
                                     (json_int_t)ep->connacks_withheld));
            s->state = MS_LIVE; /* silent: the device must give up and retry by itself */
            ms__arm_keepalive(s);
            return;
        }
        if (sc->session_present_zero)
            ca.session_present = false;
        const uint8_t *sent = pkt;
        struct mqtt_frame sent_frame = *f;
        if (s->version == MQTT_V5 || sc->session_present_zero) {
            int erc = s->version == MQTT_V5 ? ms__rewrite_connack(s, &ca)
                                            : (iotc_buf_reset(&s->out),
                                               mqtt_connack_encode(&s->out, s->version, &ca));
            if (erc != IOTC_OK || mqtt_frame_peek(s->out.p, s->out.len, 0, &sent_frame)) {
                ms__finish(s, "endpoint", "cannot build CONNACK");
                return;
            }
            sent = s->out.p;
        }
        ms__send_client(s, sent, sent_frame.total);
        /* Journal what the device received, not what the broker said. */
        ms__journal(s, "mqtt.out", &sent_frame, sent, true);
        if (ca.code != 0) {
            ms__finish(s, "broker", "broker refused CONNECT");
            return;
        }
        s->state = MS_LIVE;
        s->announced = true;
        iotc_lifecycle_connected(s->c->ep->lifecycle, s->client_id, s->session_id, s->c->principal,
                                 ms__ip(s->c));
        if (sc->disconnect_after_connack &&
            (sc->disconnect_after_connack < 0 || ep->sessions_cut < sc->disconnect_after_connack)) {
            ep->sessions_cut++;
            iotc_conn_emit(
                s->c, "scenario.disconnect",
                json_pack("{s:s, s:I}", "after", "CONNACK", "count", (json_int_t)ep->sessions_cut));
            s->lc_reason = "SERVER_INITIATED_DISCONNECT";
            ms__finish(s, "endpoint", "scenario: disconnect right after CONNACK");
            return;
        }
        ms__arm_keepalive(s);
        return;
    }
    if (f->type == MQTT_DISCONNECT) {
        struct mqtt_disconnect d = {0};
        mqtt_disconnect_parse(pkt, f->total, s->version, &d);
        ms__journal(s, "mqtt.out", f, pkt, true);
        ms__send_client(s, pkt, f->total);
        if (d.reason == MQTT_RC_SESSION_TAKEN_OVER)
            s->taken_over = true;
        ms__finish(s, "endpoint", ms__lifecycle_reason(d.reason));
        return;
    }
    if (ms__scenario_withholds(s, f))
        return;
    if (f->type == MQTT_SUBACK || f->type == MQTT_UNSUBACK) {
        ms__journal(s, "mqtt.out", f, pkt, false);
        if (f->type == MQTT_SUBACK)
            ms__scenario_send(s, f, pkt);
        if (!ms__subscription_event(s, f, pkt))
            ms__send_client(s, pkt, f->total);
        return;
    }
    if (f->type == MQTT_PUBLISH && !ms__authorize_receive(s, f, pkt))
        return;
    ms__journal(s, "mqtt.out", f, pkt, false);
    ms__send_client(s, pkt, f->total);
}

/* Subscription lifecycle events follow the broker's answer, as AWS reports granted filters. */
/*
 * Lifecycle subscription events follow the broker's answer (AWS reports granted
 * filters). When the policy denied some filters of an MQTT 5 SUBSCRIBE, the broker
 * only saw the others: splice 0x87 back in at the denied positions and send that
 * SUBACK instead. Returns true when it sent the (spliced) SUBACK itself.
 */
static bool ms__subscription_event(struct mqtt_sess *s, const struct mqtt_frame *f,
                                   const uint8_t *pkt)
{
    struct mqtt_suback *sa = malloc(sizeof *sa), *full = NULL;
    bool sent = false;
    if (!sa || mqtt_suback_parse(pkt, f->total, s->version, sa) != IOTC_OK)
        goto cleanup;
    char key[8];
    snprintf(key, sizeof key, "%u", sa->packet_id);
    json_t *entry = json_object_get(s->pending_subs, key);
    if (!entry)
        goto cleanup;
    json_t *filters = json_object_get(entry, "filters"),
           *refused = json_object_get(entry, "refused");
    json_t *granted = json_array();
    bool spliced = false;
    full = malloc(sizeof *full);
    if (full) {
        *full = *sa;
        full->count = 0;
    }
    /* A 3.1.1 UNSUBACK has no codes: every filter of the UNSUBSCRIBE counts. */
    bool all = f->type == MQTT_UNSUBACK && sa->count == 0;
    for (size_t i = 0, b = 0; i < json_array_size(filters) && i < MQTT_SUB_MAX_FILTERS; i++) {
        uint8_t code;
        json_int_t own = json_integer_value(json_array_get(refused, i));
        if (own) {
            code = (uint8_t)own;
            spliced = true;
        } else {
            code = b < sa->count ? sa->codes[b++] : 0;
            if (all || code < 0x80) {
                json_t *flt = json_array_get(filters, i);
                json_array_append(granted, flt);
                if (f->type == MQTT_SUBACK)
                    json_object_set_new(s->subscriptions, json_string_value(flt), json_true());
                else
                    json_object_del(s->subscriptions, json_string_value(flt));
            }
        }
        if (full)
            full->codes[full->count++] = code;
    }
    if (json_array_size(granted))
        iotc_lifecycle_subscriptions(s->c->ep->lifecycle, f->type == MQTT_SUBACK, s->client_id,
                                     s->session_id, s->c->principal, granted);
    json_decref(granted);
    json_object_del(s->pending_subs, key);
    if (spliced && full && f->type == MQTT_SUBACK) {
        iotc_buf_reset(&s->out);
        if (mqtt_suback_encode(&s->out, s->version, full) == IOTC_OK) {
            ms__send_client(s, s->out.p, s->out.len);
            sent = true;
        }
    }
cleanup:
    free(full);
    free(sa);
    return sent;
}

static void ms__broker_closed(void *arg, const char *reason)
{
    struct mqtt_sess *s = arg;
    if (s->state == MS_DONE)
        return;
    if (s->taken_over) {
        /* mosquitto 2.0 closes the old socket without a DISCONNECT; AWS sends 0x8E on MQTT 5. */
        ms__refuse(s, "DUPLICATE_CLIENTID", "DUPLICATE_CLIENTID", MQTT_RC_SESSION_TAKEN_OVER, 0);
        return;
    }
    if (s->state == MS_WAIT_CONNACK) {
        ms__refuse(s, "broker-unavailable", reason, MQTT_RC_SERVER_UNAVAILABLE,
                   MQTT3_CONNACK_UNAVAILABLE);
        return;
    }
    ms__finish(s, "broker", reason);
}

static void ms__broker_drain(void *arg)
{
    struct mqtt_sess *s = arg;
    if (s->state != MS_DONE)
        bufferevent_enable(s->c->bev, EV_READ);
}

/* ---- client -> broker ---- */

/* Marks the older session of the same client ID: mosquitto takes it over. */
static void ms__mark_takeover(struct mqtt_sess *s)
{
    struct iotc_strmap *sessions = s->c->ep->sessions;
    struct mqtt_sess *old = iotc_strmap_get(sessions, s->client_id);
    if (old && old != s && old->state != MS_DONE)
        old->taken_over = true;
    iotc_strmap_put(sessions, s->client_id, s);
}

static void ms__custom_auth_done(struct iotc_conn *c, bool allowed, const char *why);

static int ms__connect_authorized(struct mqtt_sess *s, const struct mqtt_connect *cn);
static int ms__start_custom_auth(struct mqtt_sess *s, const struct mqtt_connect *cn,
                                 const uint8_t *pkt, size_t len);

static int ms__on_connect(struct mqtt_sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    struct iotc_conn *c = s->c;
    const struct iotc_limits *lim = &c->ep->profile.limits;
    struct mqtt_connect cn;
    int rc = mqtt_connect_parse(pkt, f->total, &cn);
    if (rc == IOTC_ERR_UNSUPPORTED) {
        /* MQTT-3.1.2-2: answer an unknown protocol level with the 3.1.1 CONNACK code 1. */
        s->version = MQTT_V311;
        ms__refuse(s, "protocol-version", "unsupported MQTT protocol level",
                   MQTT_RC_UNSUPPORTED_VERSION, MQTT3_CONNACK_BAD_VERSION);
        return 1;
    }
    if (rc != IOTC_OK) {
        ms__refuse(s, "malformed", "malformed CONNECT", MQTT_RC_MALFORMED, 0);
        return 1;
    }
    s->version = cn.version;
    s->ka_requested = cn.keepalive;
    s->ka_effective = iotc_rule_keepalive(lim, cn.keepalive);
    json_t *jf =
        json_pack("{s:s, s:s%, s:i, s:b, s:i, s:i, s:b, s:b}", "type", "CONNECT", "client_id",
                  (const char *)cn.client_id.p, cn.client_id.n, "version", cn.version, "clean",
                  cn.clean_start, "keepalive", cn.keepalive, "keepalive_effective", s->ka_effective,
                  "will", cn.will, "username", cn.has_username);
    iotc_conn_emit(c, "mqtt.in", jf);
    if (cn.version == MQTT_V31) {
        ms__refuse(s, "protocol-version", "MQTT 3.1 is not supported (3.1.1 and 5 are)",
                   MQTT_RC_UNSUPPORTED_VERSION, MQTT3_CONNACK_BAD_VERSION);
        return 1;
    }
    const char *why = iotc_rule_client_id(lim, cn.client_id);
    if (why) {
        ms__refuse(s, "client-id", why, MQTT_RC_CLIENT_ID_NOT_VALID, MQTT3_CONNACK_ID_REJECTED);
        return 1;
    }
    if (cn.will && ((why = iotc_rule_topic(lim, cn.will_topic)) ||
                    (long long)cn.will_payload.n > lim->max_payload_bytes || cn.will_qos > 1)) {
        ms__refuse(s, "will", why ? why : "will payload too large or QoS 2",
                   why ? MQTT_RC_TOPIC_NAME_INVALID : MQTT_RC_QOS_NOT_SUPPORTED,
                   MQTT3_CONNACK_UNAVAILABLE);
        return 1;
    }
    if (!c->principal[0]) {
        if (c->mode != IOTC_MODE_MQTT_CUSTOM) {
            ms__refuse(s, "authentication", "no authenticated principal", MQTT_RC_NOT_AUTHORIZED,
                       MQTT3_CONNACK_NOT_AUTHORIZED);
            return 1;
        }
        return ms__start_custom_auth(s, &cn, pkt, f->total);
    }
    return ms__connect_authorized(s, &cn);
}

/* The device is authenticated: authorize iot:Connect and open its broker session. */
static int ms__connect_authorized(struct mqtt_sess *s, const struct mqtt_connect *cnp)
{
    struct iotc_conn *c = s->c;
    const struct iotc_limits *lim = &c->ep->profile.limits;
    struct mqtt_connect cn = *cnp;
    if (cn.client_id.n > 0) {
        char *cid = iotc_span_strdup(cn.client_id), why_pol[160];
        bool ok = cid && iotc_conn_allowed(c, cid, IOTC_ACT_CONNECT, cid, why_pol, sizeof why_pol);
        free(cid);
        if (!ok) {
            ms__refuse(s, "policy", "iot:Connect not allowed by the principal's policies",
                       MQTT_RC_NOT_AUTHORIZED, MS_NO_CONNACK);
            return 1;
        }
    }
    if (cn.client_id.n == 0) {
        char id[48];
        snprintf(id, sizeof id, "iotconform-%llu", (unsigned long long)c->id);
        s->client_id = strdup(id);
        s->assigned_id = true;
    } else {
        s->client_id = iotc_span_strdup(cn.client_id);
    }
    if (!s->client_id)
        return ms__finish(s, "endpoint", "out of memory"), 1;
    if (!iotc_broker_is_ready(c->ep->broker)) {
        ms__refuse(s, "broker-unavailable", "broker is restarting", MQTT_RC_SERVER_UNAVAILABLE,
                   MQTT3_CONNACK_UNAVAILABLE);
        return 1;
    }
    char stamp[IOTC_STAMP_LEN + 1];
    if (iotc_stamp_make(iotc_broker_secret(c->ep->broker), IOTC_STAMP_SECRET_LEN, s->client_id,
                        strlen(s->client_id), c->principal, strlen(c->principal), stamp)) {
        ms__finish(s, "endpoint", "cannot stamp identity");
        return 1;
    }
    struct mqtt_connect out = cn;
    out.client_id = iotc_span_str(s->client_id);
    out.has_username = true;
    out.username = iotc_span_str(c->principal);
    out.has_password = true;
    out.password = iotc_span_str(stamp);
    /* The front door owns keep-alive; the broker's timer is a backstop set well beyond it. */
    out.keepalive = s->ka_effective > 32767 ? 65535 : (uint16_t)(s->ka_effective * 2);
    iotc_buf_reset(&s->out);
    if (mqtt_connect_encode(&s->out, &out) != IOTC_OK) {
        ms__finish(s, "endpoint", "cannot encode CONNECT");
        return 1;
    }
    struct iotc_blink_cbs cbs = {ms__broker_packet, ms__broker_closed, ms__broker_drain, s};
    if (iotc_blink_open(c->ep->base, iotc_broker_socket_path(c->ep->broker), &cbs, &s->link)) {
        ms__refuse(s, "broker-unavailable", "cannot reach the broker", MQTT_RC_SERVER_UNAVAILABLE,
                   MQTT3_CONNACK_UNAVAILABLE);
        return 1;
    }
    ms__mark_takeover(s);
    s->state = MS_WAIT_CONNACK;
    ms__send_broker(s, s->out.p, s->out.len);
    ms__arm(s, (double)lim->connect_timeout_ms);
    return 0;
}

/*
 * MQTT with ALPN "mqtt" on 443: the username carries the authorizer's name, token and
 * signature. The authorizer runs as a child process, so the CONNECT is kept and
 * finished when it answers; anything the device sends meanwhile breaks the
 * "nothing before CONNACK" rule.
 */
static int ms__start_custom_auth(struct mqtt_sess *s, const struct mqtt_connect *cn,
                                 const uint8_t *pkt, size_t len)
{
    char why[256], *user = cn->has_username ? iotc_span_strdup(cn->username) : NULL;
    char *cid = iotc_span_strdup(cn->client_id);
    struct iotc_auth_input in = {.mqtt_username = user,
                                 .mqtt_password = cn->password.p,
                                 .mqtt_password_len = cn->password.n,
                                 .has_password = cn->has_password,
                                 .mqtt_client_id = cid};
    iotc_buf_reset(&s->connect_pkt);
    int rc = iotc_buf_append(&s->connect_pkt, pkt, len);
    if (rc == IOTC_OK)
        rc = iotc_auth_custom_start(s->c, &in, ms__custom_auth_done, why, sizeof why);
    free(user);
    free(cid);
    if (rc != IOTC_OK) {
        ms__refuse(s, "authentication", why, MQTT_RC_NOT_AUTHORIZED, MQTT3_CONNACK_NOT_AUTHORIZED);
        return 1;
    }
    s->state = MS_AUTHORIZING;
    return 0;
}

static void ms__custom_auth_done(struct iotc_conn *c, bool allowed, const char *why)
{
    struct mqtt_sess *s = c->session;
    if (!s || s->state != MS_AUTHORIZING)
        return;
    s->state = MS_WAIT_CONNECT; /* refusals below still answer with a CONNACK */
    if (!allowed) {
        ms__refuse(s, "authentication", why, MQTT_RC_NOT_AUTHORIZED, MQTT3_CONNACK_NOT_AUTHORIZED);
        return;
    }
    struct mqtt_connect cn;
    if (mqtt_connect_parse(s->connect_pkt.p, s->connect_pkt.len, &cn) != IOTC_OK) {
        ms__finish(s, "endpoint", "lost the CONNECT");
        return;
    }
    /* The username held the authorizer's credentials: the broker never sees them. */
    ms__connect_authorized(s, &cn);
}

/*
 * iot:Publish (and iot:RetainPublish for retained messages). Denied: MQTT 3.1.1 is
 * disconnected; MQTT 5 QoS 1 gets PUBACK 0x87 and the connection stays; MQTT 5 QoS 0
 * is dropped (there is nothing to answer with). Returns 0 to forward, 1 when the connection was
 * closed, 2 when answered here.
 */
static int ms__authorize_publish(struct mqtt_sess *s, const struct mqtt_publish *p)
{
    char topic[1024];
    snprintf(topic, sizeof topic, "%.*s", (int)p->topic.n, (const char *)p->topic.p);
    bool ok = iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_PUBLISH, topic, NULL, 0) &&
              (!p->retain ||
               iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_RETAIN_PUBLISH, topic, NULL, 0));
    if (ok)
        return 0;
    if (s->version != MQTT_V5) {
        ms__refuse(s, "policy", "iot:Publish not allowed by the principal's policies",
                   MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    if (p->qos == 1) {
        struct mqtt_ack a = {
            .type = MQTT_PUBACK, .packet_id = p->packet_id, .reason = MQTT_RC_NOT_AUTHORIZED};
        iotc_buf_reset(&s->out);
        if (mqtt_ack_encode(&s->out, MQTT_V5, &a) == IOTC_OK)
            ms__send_client(s, s->out.p, s->out.len);
    }
    return 2; /* answered here: not forwarded, the connection stays */
}

static int ms__check_publish(struct mqtt_sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    const struct iotc_limits *lim = &s->c->ep->profile.limits;
    struct mqtt_publish p;
    if (mqtt_publish_parse(pkt, f->total, s->version, &p) != IOTC_OK) {
        ms__refuse(s, "malformed", "malformed PUBLISH", MQTT_RC_MALFORMED, 0);
        return 1;
    }
    const char *why;
    if (p.qos == 2) {
        ms__refuse(s, "qos2", "QoS 2 is not supported by AWS IoT", MQTT_RC_QOS_NOT_SUPPORTED, 0);
        return 1;
    }
    if ((why = iotc_rule_topic(lim, p.topic))) {
        ms__refuse(s, "topic", why, MQTT_RC_TOPIC_NAME_INVALID, 0);
        return 1;
    }
    if (p.topic.n >= 12 && memcmp(p.topic.p, "$aws/events/", 12) == 0) {
        ms__refuse(s, "reserved-topic", "lifecycle event topics are reserved for AWS IoT",
                   MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    if ((long long)p.payload.n > lim->max_payload_bytes) {
        ms__refuse(s, "payload-size", "payload larger than 128 KB", MQTT_RC_PACKET_TOO_LARGE, 0);
        return 1;
    }
    return ms__authorize_publish(s, &p);
}

static void ms__remember_filters(struct mqtt_sess *s, const struct mqtt_subscribe *sub,
                                 const uint8_t *refused)
{
    char key[8];
    json_t *filters = json_array(), *mask = json_array();
    for (size_t i = 0; i < sub->count; i++) {
        json_array_append_new(filters, json_stringn((const char *)sub->filters[i].filter.p,
                                                    sub->filters[i].filter.n));
        json_array_append_new(mask, json_integer(refused ? refused[i] : 0));
    }
    snprintf(key, sizeof key, "%u", sub->packet_id);
    /* Bounded: a client that never gets answers cannot grow this without limit. */
    if (json_object_size(s->pending_subs) < 128)
        json_object_set_new(s->pending_subs, key,
                            json_pack("{s:o, s:o}", "filters", filters, "refused", mask));
    else
        json_decref(filters), json_decref(mask);
}

/*
 * iot:Subscribe per filter. MQTT 3.1.1: any denied filter disconnects. MQTT 5: denied
 * filters get SUBACK 0x87 while allowed ones go to the broker; the broker's SUBACK is
 * spliced back together with the denials (ms__subscription_event).
 * Returns 0 to forward, 1 when the connection was closed, 2 when handled here.
 */
static int ms__authorize_subscribe(struct mqtt_sess *s, struct mqtt_subscribe *sub)
{
    /* Per filter: 0 = goes to the broker, else the SUBACK code the front door answers. */
    uint8_t refused[MQTT_SUB_MAX_FILTERS] = {0};
    size_t n_refused = 0, adding = 0;
    bool policy_denied = false;
    long long cap = s->c->ep->profile.limits.max_subscriptions;
    for (size_t i = 0; i < sub->count; i++) {
        char filter[1024];
        snprintf(filter, sizeof filter, "%.*s", (int)sub->filters[i].filter.n,
                 (const char *)sub->filters[i].filter.p);
        if (!iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_SUBSCRIBE, filter, NULL, 0)) {
            refused[i] = MQTT_RC_NOT_AUTHORIZED;
            policy_denied = true;
        } else if (!json_object_get(s->subscriptions, filter) &&
                   (long long)(json_object_size(s->subscriptions) + adding) >= cap) {
            /* AWS: at most 50 subscriptions per connection; the rest get a failure code. */
            refused[i] = s->version == MQTT_V5 ? MQTT_RC_QUOTA_EXCEEDED : 0x80;
            iotc_conn_emit(s->c, "mqtt.refused",
                           json_pack("{s:s, s:s, s:s}", "rule", "max-subscriptions", "reason",
                                     "more than 50 subscriptions on one connection", "filter",
                                     filter));
        } else if (!json_object_get(s->subscriptions, filter)) {
            adding++;
        }
        n_refused += refused[i] != 0;
    }
    ms__remember_filters(s, sub, refused);
    if (n_refused == 0)
        return 0;
    if (policy_denied && s->version != MQTT_V5) {
        ms__refuse(s, "policy", "iot:Subscribe not allowed by the principal's policies",
                   MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    iotc_buf_reset(&s->out);
    if (n_refused == sub->count) {
        struct mqtt_suback sa = {
            .type = MQTT_SUBACK, .packet_id = sub->packet_id, .count = sub->count};
        memcpy(sa.codes, refused, sub->count);
        char key[8];
        snprintf(key, sizeof key, "%u", sub->packet_id);
        json_object_del(s->pending_subs, key);
        if (mqtt_suback_encode(&s->out, s->version, &sa) == IOTC_OK)
            ms__send_client(s, s->out.p, s->out.len);
        return 2;
    }
    struct mqtt_subscribe *allowed = malloc(sizeof *allowed);
    if (!allowed) {
        ms__finish(s, "endpoint", "out of memory");
        return 1;
    }
    *allowed = *sub;
    allowed->count = 0;
    for (size_t i = 0; i < sub->count; i++)
        if (!refused[i])
            allowed->filters[allowed->count++] = sub->filters[i];
    if (mqtt_subscribe_encode(&s->out, s->version, allowed) == IOTC_OK)
        ms__send_broker(s, s->out.p, s->out.len);
    free(allowed);
    return 2; /* handled: the rewritten SUBSCRIBE went out */
}

static int ms__check_subscribe(struct mqtt_sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    const struct iotc_limits *lim = &s->c->ep->profile.limits;
    struct mqtt_subscribe *sub = malloc(sizeof *sub);
    int stop = 1;
    if (!sub) {
        ms__finish(s, "endpoint", "out of memory");
        return 1;
    }
    int rc = mqtt_subscribe_parse(pkt, f->total, s->version, sub);
    if (rc == IOTC_ERR_TOO_LARGE ||
        (rc == IOTC_OK && (long long)sub->count > lim->max_filters_per_subscribe)) {
        ms__refuse(s, "subscribe-filters", "more than 8 topic filters in one SUBSCRIBE",
                   MQTT_RC_QUOTA_EXCEEDED, 0);
        goto cleanup;
    }
    if (rc != IOTC_OK) {
        ms__refuse(s, "malformed", "malformed SUBSCRIBE", MQTT_RC_MALFORMED, 0);
        goto cleanup;
    }
    for (size_t i = 0; i < sub->count; i++) {
        const char *why = iotc_rule_filter(lim, sub->filters[i].filter);
        if (why) {
            ms__refuse(s, "topic-filter", why, MQTT_RC_TOPIC_FILTER_INVALID, 0);
            goto cleanup;
        }
        if ((sub->filters[i].options & 3) == 2) {
            ms__refuse(s, "qos2", "QoS 2 subscriptions are not supported by AWS IoT",
                       MQTT_RC_QOS_NOT_SUPPORTED, 0);
            goto cleanup;
        }
    }
    stop = ms__authorize_subscribe(s, sub);
cleanup:
    free(sub);
    return stop;
}

static int ms__client_packet(void *arg, const struct mqtt_frame *f, const uint8_t *pkt)
{
    struct mqtt_sess *s = arg;
    if (s->state == MS_DONE)
        return 1;
    if (s->state == MS_WAIT_CONNECT) {
        if (f->type != MQTT_CONNECT) {
            iotc_conn_emit(s->c, "mqtt.refused",
                           json_pack("{s:s, s:s, s:s}", "rule", "connect-first", "reason",
                                     "first packet must be CONNECT", "type",
                                     mqtt_type_name(f->type)));
            ms__finish(s, "endpoint", "first packet was not CONNECT");
            return 1;
        }
        return ms__on_connect(s, f, pkt);
    }
    if (s->state == MS_WAIT_CONNACK || s->state == MS_AUTHORIZING) {
        ms__journal(s, "mqtt.in", f, pkt, true);
        ms__refuse(s, "wait-connack", "packet sent before CONNACK", MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    }
    ms__arm_keepalive(s);
    ms__journal(s, "mqtt.in", f, pkt,
                f->type != MQTT_PUBLISH && f->type != MQTT_PUBACK && f->type != MQTT_PINGREQ);
    switch (f->type) {
    case MQTT_CONNECT:
        ms__refuse(s, "second-connect", "second CONNECT on a connection", MQTT_RC_PROTOCOL_ERROR,
                   0);
        return 1;
    case MQTT_PUBLISH: {
        int rc = ms__check_publish(s, f, pkt);
        if (rc == 2)
            return 0; /* answered without forwarding */
        if (rc)
            return 1;
        break;
    }
    case MQTT_SUBSCRIBE: {
        int rc = ms__check_subscribe(s, f, pkt);
        if (rc == 2)
            return 0; /* answered, or a rewritten SUBSCRIBE went out instead */
        if (rc)
            return 1;
        break;
    }
    case MQTT_UNSUBSCRIBE: {
        struct mqtt_subscribe *sub = malloc(sizeof *sub);
        if (sub && mqtt_unsubscribe_parse(pkt, f->total, s->version, sub) == IOTC_OK)
            ms__remember_filters(s, sub, NULL);
        free(sub);
        break;
    }
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        ms__refuse(s, "qos2", "QoS 2 flow is not supported by AWS IoT", MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    case MQTT_AUTH:
        ms__refuse(s, "auth-packet", "enhanced authentication is not supported",
                   MQTT_RC_PROTOCOL_ERROR, 0);
        return 1;
    case MQTT_CONNACK:
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
    case MQTT_PINGRESP:
        ms__refuse(s, "server-packet", "client sent a server-only packet", MQTT_RC_PROTOCOL_ERROR,
                   0);
        return 1;
    default:
        break;
    }
    ms__send_broker(s, pkt, f->total);
    if (f->type == MQTT_DISCONNECT) {
        s->lc_reason = "CLIENT_INITIATED_DISCONNECT";
        s->client_initiated = true;
        ms__finish(s, "client", "CLIENT_INITIATED_DISCONNECT");
        return 1;
    }
    return 0;
}

static void ms__process(struct mqtt_sess *s, struct evbuffer *in)
{
    struct iotc_conn *c = s->c;
    int rc =
        iotc_read_packets(in, ms__max_packet(c), ms__client_packet, s, s->ws ? NULL : &c->bytes_in);
    if (rc == IOTC_ERR_TOO_LARGE)
        ms__refuse(s, "packet-size", "packet larger than the endpoint accepts",
                   MQTT_RC_PACKET_TOO_LARGE, 0);
    else if (rc != IOTC_OK)
        ms__refuse(s, "malformed", "malformed MQTT packet framing", MQTT_RC_MALFORMED, 0);
}

static void ms__ws_data(void *arg, const uint8_t *data, size_t len)
{
    struct mqtt_sess *s = arg;
    evbuffer_add(s->ws_in, data, len);
}

static void ms__ws_closed(void *arg, uint16_t code, const char *reason)
{
    struct mqtt_sess *s = arg;
    iotc_conn_emit(s->c, "ws.close", json_pack("{s:i, s:s}", "code", code, "reason", reason));
    s->ws_closed = true;
}

static void ms__on_read(struct iotc_conn *c)
{
    struct mqtt_sess *s = c->session;
    if (!s->ws) {
        ms__process(s, bufferevent_get_input(c->bev));
        return;
    }
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = evbuffer_get_length(in);
    if (n) {
        c->bytes_in += n;
        int rc = iotc_ws_feed(s->ws, evbuffer_pullup(in, -1), n);
        evbuffer_drain(in, n);
        ms__ws_flush(s);
        if (rc != IOTC_OK || s->ws_closed) {
            if (!s->lc_reason)
                s->lc_reason = s->ws_closed ? "CLIENT_INITIATED_DISCONNECT" : "CLIENT_ERROR";
            ms__finish(s, "client", s->ws_closed ? "WebSocket closed" : "WebSocket protocol error");
            return;
        }
    }
    if (evbuffer_get_length(s->ws_in))
        ms__process(s, s->ws_in);
}

static void ms__on_drain(struct iotc_conn *c)
{
    struct mqtt_sess *s = c->session;
    if (s && s->link && s->state != MS_DONE)
        bufferevent_enable(iotc_blink_bev(s->link), EV_READ);
}

static int ms__start(struct iotc_conn *c)
{
    struct mqtt_sess *s = calloc(1, sizeof *s);
    if (!s)
        return IOTC_ERR_NOMEM;
    s->c = c;
    s->timer = evtimer_new(c->ep->base, ms__on_timer, s);
    if (!s->timer) {
        free(s);
        return IOTC_ERR_NOMEM;
    }
    s->pending_subs = json_object();
    s->subscriptions = json_object();
    iotc_uuid4(s->session_id);
    c->session = s;
    bufferevent_setwatermark(c->bev, EV_WRITE, MS_LOW_WATER, 0);
    ms__arm(s, (double)c->ep->profile.limits.connect_timeout_ms);
    return IOTC_OK;
}

static void ms__on_close(struct iotc_conn *c)
{
    struct mqtt_sess *s = c->session;
    if (!s)
        return;
    s->state = MS_DONE;
    if (s->announced) {
        const char *reason = s->lc_reason;
        if (!reason)
            reason = !c->close_by || strcmp(c->close_by, "client") == 0 ? "CONNECTION_LOST"
                     : strcmp(c->close_by, "broker") == 0               ? "SERVER_ERROR"
                                                          : "SERVER_INITIATED_DISCONNECT";
        iotc_lifecycle_disconnected(c->ep->lifecycle, s->client_id, s->session_id, c->principal,
                                    reason, s->client_initiated);
        iotc_conn_emit(c, "mqtt.disconnect",
                       json_pack("{s:s, s:s, s:b}", "client_id", s->client_id, "reason", reason,
                                 "client_initiated", s->client_initiated));
    }
    if (s->client_id)
        iotc_strmap_del_if(c->ep->sessions, s->client_id, s);
    /* After a clean DISCONNECT the broker must receive it (or it publishes the will):
     * let the link flush; any other end drops the link so mosquitto sees a lost client. */
    if (s->link && s->client_initiated)
        iotc_blink_linger(s->link, NULL, 0);
    else if (s->link)
        iotc_blink_free(s->link);
    json_decref(s->pending_subs);
    json_decref(s->subscriptions);
    iotc_buf_free(&s->connect_pkt);
    if (s->ws) {
        iotc_ws_close(s->ws, 1000, "closing");
        ms__ws_flush(s);
        iotc_ws_free(s->ws);
    }
    event_free(s->timer);
    iotc_buf_free(&s->out);
    free(s->client_id);
    free(s);
    c->session = NULL;
}

/* Connection-duration limit: MQTT 5 learns why (0xA0 Maximum connect time). */
static void ms__on_expire(struct iotc_conn *c, const char *reason)
{
    struct mqtt_sess *s = c->session;
    if (!s || s->state == MS_DONE)
        return;
    s->lc_reason = reason;
    ms__refuse(s, "duration-limit", reason, MQTT_RC_MAX_CONNECT_TIME, 0);
}

int iotc_mqtt_session_start_wss(struct iotc_conn *c)
{
    c->ops = &iotc_mqtt_session_ops;
    if (ms__start(c) != IOTC_OK)
        return IOTC_ERR_NOMEM;
    struct mqtt_sess *s = c->session;
    struct iotc_ws_cbs cbs = {ms__ws_data, ms__ws_closed, s};
    s->ws = iotc_ws_new(&cbs, (size_t)c->ep->profile.limits.max_payload_bytes + 65536 + 1024);
    s->ws_in = c->ws_in = evbuffer_new();
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
