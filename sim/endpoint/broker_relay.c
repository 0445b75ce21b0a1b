/* broker -> device: CONNACK shaping, scenarios (withheld acknowledgements, a message to send),
 * DISCONNECT and the broker going away. */
#include "mqtt_session.h"
#include "lifecycle.h"
#include "wshared.h"
#include "common/strmap.h"
#include "common/err.h"
#include "common/jevents.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ms__lifecycle_reason(uint8_t v5_reason)
{
    switch (v5_reason) {
    case IOTC_MQTT_RC_SESSION_TAKEN_OVER:
        return "DUPLICATE_CLIENTID";
    case IOTC_MQTT_RC_KEEP_ALIVE_TIMEOUT:
        return "MQTT_KEEP_ALIVE_TIMEOUT";
    case IOTC_MQTT_RC_NOT_AUTHORIZED:
        return "FORBIDDEN_ACCESS";
    default:
        return "SERVER_INITIATED_DISCONNECT";
    }
}

static int ms__rewrite_connack(struct iotc_endpoint_mqtt_sess *s,
                               const struct iotc_mqtt_connack *in)
{
    struct iotc_buf props = {0};
    size_t cur = 0;
    struct iotc_mqtt_prop p;
    int rc;
    /* AWS IoT's CONNACK: max QoS 1, retain and wildcards on, subscription ids off, and the
     * front door's own Topic Alias Maximum (it resolves aliases; the broker never sees one). */
    static const uint8_t ours[] = {IOTC_MQTT_PROP_MAXIMUM_QOS,
                                   IOTC_MQTT_PROP_RETAIN_AVAILABLE,
                                   IOTC_MQTT_PROP_WILDCARD_SUB_AVAILABLE,
                                   IOTC_MQTT_PROP_SUB_ID_AVAILABLE,
                                   IOTC_MQTT_PROP_SERVER_KEEP_ALIVE,
                                   IOTC_MQTT_PROP_ASSIGNED_CLIENT_ID,
                                   IOTC_MQTT_PROP_TOPIC_ALIAS_MAXIMUM,
                                   IOTC_MQTT_PROP_RECEIVE_MAXIMUM,
                                   IOTC_MQTT_PROP_SESSION_EXPIRY};
    while ((rc = iotc_mqtt_props_next(in->props, &cur, &p)) == 1) {
        if (!memchr(ours, p.id, sizeof ours) && (rc = iotc_mqtt_props_put(&props, &p)))
            goto cleanup;
    }
    if (rc < 0)
        goto cleanup;
    if (in->code == IOTC_MQTT_RC_SUCCESS) {
        struct iotc_mqtt_prop add[] = {
            {.id = IOTC_MQTT_PROP_MAXIMUM_QOS, .u32 = 1},
            {.id = IOTC_MQTT_PROP_RETAIN_AVAILABLE, .u32 = 1},
            {.id = IOTC_MQTT_PROP_WILDCARD_SUB_AVAILABLE, .u32 = 1},
            {.id = IOTC_MQTT_PROP_SUB_ID_AVAILABLE, .u32 = 0},
        };
        for (size_t i = 0; i < sizeof add / sizeof add[0]; i++)
            if ((rc = iotc_mqtt_props_put(&props, &add[i])))
                goto cleanup;
        /* Absent means 0 (no aliases); what is advertised is what handle_publish.c accepts. */
        s->alias_max = (uint16_t)s->c->ep->profile.limits.topic_alias_max;
        if (s->alias_max) {
            struct iotc_mqtt_prop tam = {.id = IOTC_MQTT_PROP_TOPIC_ALIAS_MAXIMUM,
                                         .u32 = s->alias_max};
            if ((rc = iotc_mqtt_props_put(&props, &tam)))
                goto cleanup;
        }
        /* AWS's in-flight quota, enforced by the front door (mqtt_session.c); absent = 65535. */
        long long rmax = s->c->ep->profile.limits.inflight_qos1_max;
        if (rmax > 0 && rmax < 65535) {
            struct iotc_mqtt_prop rm = {.id = IOTC_MQTT_PROP_RECEIVE_MAXIMUM,
                                        .u32 = (uint32_t)rmax};
            if ((rc = iotc_mqtt_props_put(&props, &rm)))
                goto cleanup;
        }
        if (s->ka_effective != s->ka_requested) {
            struct iotc_mqtt_prop ka = {.id = IOTC_MQTT_PROP_SERVER_KEEP_ALIVE,
                                        .u32 = s->ka_effective};
            if ((rc = iotc_mqtt_props_put(&props, &ka)))
                goto cleanup;
        }
        if (s->session_expiry_cut >= 0) { /* handle_connect.c cut it to AWS's cap */
            struct iotc_mqtt_prop se = {.id = IOTC_MQTT_PROP_SESSION_EXPIRY,
                                        .u32 = (uint32_t)s->session_expiry_cut};
            if ((rc = iotc_mqtt_props_put(&props, &se)))
                goto cleanup;
        }
        if (s->assigned_id) {
            struct iotc_mqtt_prop id = {.id = IOTC_MQTT_PROP_ASSIGNED_CLIENT_ID,
                                        .data = iotc_span_str(s->client_id)};
            if ((rc = iotc_mqtt_props_put(&props, &id)))
                goto cleanup;
        }
    }
    struct iotc_mqtt_connack out = *in;
    out.props.p = props.p;
    out.props.n = props.len;
    iotc_buf_reset(&s->out);
    rc = iotc_mqtt_connack_encode(&s->out, IOTC_MQTT_V5, &out);
cleanup:
    iotc_buf_free(&props);
    return rc;
}

/* A counted scenario (withhold_connack N, disconnect_after_connack N): one more while
 * below limit (< 0: every time), counted across serve's workers (wshared.h). */
static bool ms__scenario_take(struct iotc_endpoint *ep, int which, long long limit,
                              long long *local)
{
    bool shared;
    long long total = 0;
    bool take = iotc_ep_shared_count(ep, which, limit, &total, &shared);
    if (shared) {
        if (take)
            *local = total; /* journaled as the count */
        return take;
    }
    if (limit >= 0 && *local >= limit)
        return false;
    (*local)++;
    return true;
}

/* Certification scenarios: acknowledgements the endpoint "forgets" to send. */
static bool ms__scenario_withholds(struct iotc_endpoint_mqtt_sess *s,
                                   const struct iotc_mqtt_frame *f)
{
    const struct iotc_scenario *sc = &s->c->ep->scenario;
    bool drop = (f->type == IOTC_MQTT_PUBACK && sc->withhold_puback) ||
                (f->type == IOTC_MQTT_SUBACK && sc->withhold_suback) ||
                (f->type == IOTC_MQTT_PINGRESP && sc->withhold_pingresp);
    if (!drop)
        return false;
    iotc_conn_emit(s->c, IOTC_EV_SCENARIO_WITHHELD,
                   json_pack("{s:s}", "type", iotc_mqtt_type_name(f->type)));
    if (sc->disconnect_after_withheld_ms > 0 && s->cut_at == 0 && f->type != IOTC_MQTT_PINGRESP) {
        double ms = (double)sc->disconnect_after_withheld_ms * s->c->ep->profile.time_scale;
        s->cut_at = iotc_mono_ms() + ms;
        iotc_ms_arm(s, ms); /* the keep-alive check re-arms itself from there */
    }
    return true;
}

/* After the first SUBACK: send the device the message the scenario asks for. */
static void ms__scenario_send(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                              const uint8_t *pkt)
{
    const struct iotc_scenario *sc = &s->c->ep->scenario;
    struct iotc_mqtt_suback sa;
    if (sc->send_bytes < 0 || s->scenario_sent ||
        iotc_mqtt_suback_parse(pkt, f->total, s->version, &sa) != IOTC_OK)
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
    iotc_conn_emit(s->c, IOTC_EV_SCENARIO_SEND,
                   json_pack("{s:s, s:I, s:I}", "topic", topic, "bytes", (json_int_t)sc->send_bytes,
                             "qos", (json_int_t)sc->send_qos));
    iotc_system_publish(s->c->ep->lifecycle, topic, payload, (size_t)sc->send_bytes,
                        (int)sc->send_qos);
    free(payload);
}

/*
 * mosquitto answers an MQTT 5 PUBLISH nobody subscribes to with PUBACK 0x10 (No matching
 * subscribers). AWS IoT Core does not: its reason-code list for PUBACK has no 0x10 (a
 * message also goes to the rules engine, so "no subscriber" is not a failure there), so
 * the device gets 0x00. Rewrites into ack (4 bytes: header, packet id; reason 0x00 and no
 * properties may be left out, MQTT 5 3.4.2.1). True when it did.
 */
static bool ms__puback_as_aws(const struct iotc_endpoint_mqtt_sess *s,
                              const struct iotc_mqtt_frame *f, const uint8_t *pkt, uint8_t ack[4],
                              struct iotc_mqtt_frame *out)
{
    struct iotc_mqtt_ack a;
    if (f->type != IOTC_MQTT_PUBACK || s->version != IOTC_MQTT_V5 ||
        iotc_mqtt_ack_parse(pkt, f->total, s->version, &a) != IOTC_OK ||
        a.reason != MQTT_RC_NO_MATCHING_SUBSCRIBERS)
        return false;
    ack[0] = (uint8_t)(IOTC_MQTT_PUBACK << 4);
    ack[1] = 2;
    ack[2] = (uint8_t)(a.packet_id >> 8);
    ack[3] = (uint8_t)(a.packet_id & 0xff);
    return iotc_mqtt_frame_peek(ack, 4, 0, out) == IOTC_OK;
}

/* What a server may send a client once connected, without QoS 2 (AWS has none). */
static bool ms__server_to_client(uint8_t type)
{
    return type == IOTC_MQTT_PUBLISH || type == IOTC_MQTT_PUBACK || type == IOTC_MQTT_SUBACK ||
           type == IOTC_MQTT_UNSUBACK || type == IOTC_MQTT_PINGRESP || type == IOTC_MQTT_DISCONNECT;
}

void iotc_ms_broker_packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    if (s->state == IOTC_ENDPOINT_MS_DONE)
        return;
    /* A second CONNACK, a packet before the CONNACK, or one only a client sends would be
     * relayed to a device that must never see it (MQTT 3.1.1 3.2, 5.0 3.2: one CONNACK,
     * first): the link is not speaking MQTT as a broker does (the session fuzzer found a
     * second CONNACK relayed), so the session ends as if the broker had closed it. */
    if (f->type != IOTC_MQTT_CONNACK
            ? s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK || !ms__server_to_client(f->type)
            : s->state != IOTC_ENDPOINT_MS_WAIT_CONNACK) {
        if (s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK)
            iotc_ms_refuse(s, "broker-unavailable", "unexpected packet from broker",
                           IOTC_MQTT_RC_SERVER_UNAVAILABLE, IOTC_MQTT_V3_CONNACK_UNAVAILABLE);
        else
            iotc_ms_finish(s, "broker", "unexpected packet from broker");
        return;
    }
    if (f->type == IOTC_MQTT_CONNACK && s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK) {
        struct iotc_mqtt_connack ca;
        if (iotc_mqtt_connack_parse(pkt, f->total, s->version, &ca) != IOTC_OK) {
            iotc_ms_finish(s, "broker", "malformed CONNACK from broker");
            return;
        }
        struct iotc_endpoint *ep = s->c->ep;
        const struct iotc_scenario *sc = &ep->scenario;
        if (ca.code == 0 && sc->withhold_connack &&
            ms__scenario_take(ep, IOTC_EP_SHARED_CONNACKS_WITHHELD, sc->withhold_connack,
                              &ep->connacks_withheld)) {
            iotc_conn_emit(s->c, IOTC_EV_SCENARIO_WITHHELD,
                           json_pack("{s:s, s:I}", "type", "CONNACK", "count",
                                     (json_int_t)ep->connacks_withheld));
            s->state =
                IOTC_ENDPOINT_MS_LIVE; /* silent: the device must give up and retry by itself */
            iotc_ms_arm_keepalive(s);
            return;
        }
        bool resumed = ca.code == 0 && ca.session_present; /* the broker's, not a scenario's */
        if (sc->session_present_zero)
            ca.session_present = false;
        const uint8_t *sent = pkt;
        struct iotc_mqtt_frame sent_frame = *f;
        if (s->version == IOTC_MQTT_V5 || sc->session_present_zero) {
            int erc =
                s->version == IOTC_MQTT_V5
                    ? ms__rewrite_connack(s, &ca)
                    : (iotc_buf_reset(&s->out), iotc_mqtt_connack_encode(&s->out, s->version, &ca));
            if (erc != IOTC_OK || iotc_mqtt_frame_peek(s->out.p, s->out.len, 0, &sent_frame)) {
                iotc_ms_finish(s, "endpoint", "cannot build CONNACK");
                return;
            }
            sent = s->out.p;
        }
        iotc_ms_send_client(s, sent, sent_frame.total);
        /* Journal what the device received, not what the broker said. */
        iotc_ms_journal(s, IOTC_EV_MQTT_OUT, &sent_frame, sent, true);
        /* The CONNECT and CONNACK were the last packets built here for most devices: an idle
         * one should not keep the buffer (the next packet allocates it again). */
        iotc_buf_free(&s->out);
        if (ca.code != 0) {
            iotc_ms_finish(s, "broker", "broker refused CONNECT");
            return;
        }
        s->state = IOTC_ENDPOINT_MS_LIVE;
        s->announced = true;
        iotc_ms_subs_bind(s, resumed);
        char ip[IOTC_CONN_PEER_LEN];
        iotc_lifecycle_connected(s->c->ep->lifecycle, s->client_id, s->session_id,
                                 iotc_conn_principal(s->c),
                                 iotc_conn_peer_host(s->c, ip, sizeof ip));
        iotc_ep_shared_hold(ep, s->client_id, s->takeover_gen, s->session_id,
                            iotc_conn_principal(s->c));
        if (sc->disconnect_after_connack &&
            ms__scenario_take(ep, IOTC_EP_SHARED_SESSIONS_CUT, sc->disconnect_after_connack,
                              &ep->sessions_cut)) {
            iotc_conn_emit(
                s->c, IOTC_EV_SCENARIO_DISCONNECT,
                json_pack("{s:s, s:I}", "after", "CONNACK", "count", (json_int_t)ep->sessions_cut));
            s->lc_reason = "SERVER_INITIATED_DISCONNECT";
            iotc_ms_finish(s, "endpoint", "scenario: disconnect right after CONNACK");
            return;
        }
        iotc_ms_arm_keepalive(s);
        return;
    }
    if (f->type == IOTC_MQTT_DISCONNECT) {
        struct iotc_mqtt_disconnect d = {0};
        iotc_mqtt_disconnect_parse(pkt, f->total, s->version, &d);
        iotc_ms_journal(s, IOTC_EV_MQTT_OUT, f, pkt, true);
        iotc_ms_send_client(s, pkt, f->total);
        if (d.reason == IOTC_MQTT_RC_SESSION_TAKEN_OVER)
            s->taken_over = true;
        iotc_ms_finish(s, "endpoint", ms__lifecycle_reason(d.reason));
        return;
    }
    if (f->type == IOTC_MQTT_PINGRESP && iotc_ms_da_pingresp(s))
        return; /* the answer to the front door's own barrier ping (durable_ack.c) */
    if (ms__scenario_withholds(s, f))
        return;
    uint8_t ack[4];
    struct iotc_mqtt_frame ack_frame;
    if (ms__puback_as_aws(s, f, pkt, ack, &ack_frame)) {
        f = &ack_frame;
        pkt = ack;
    }
    if (f->type == IOTC_MQTT_PUBACK && iotc_ms_da_hold_puback(s, pkt, f->total))
        return; /* relayed once the broker has saved (durable_ack.c) */
    if (f->type == IOTC_MQTT_SUBACK || f->type == IOTC_MQTT_UNSUBACK) {
        iotc_ms_journal(s, IOTC_EV_MQTT_OUT, f, pkt, false);
        if (f->type == IOTC_MQTT_SUBACK)
            ms__scenario_send(s, f, pkt);
        if (!iotc_ms_subscription_event(s, f, pkt))
            iotc_ms_send_client(s, pkt, f->total);
        return;
    }
    if (f->type == IOTC_MQTT_PUBLISH && !iotc_ms_authorize_receive(s, f, pkt))
        return;
    iotc_ms_journal(s, IOTC_EV_MQTT_OUT, f, pkt, false);
    iotc_ms_send_client(s, pkt, f->total);
}

static void ms__taken_over(struct iotc_endpoint_mqtt_sess *s)
{
    /* mosquitto 2.0 closes the old socket without a DISCONNECT; AWS sends 0x8E on MQTT 5. */
    iotc_ms_refuse(s, "DUPLICATE_CLIENTID", "DUPLICATE_CLIENTID", IOTC_MQTT_RC_SESSION_TAKEN_OVER,
                   0);
}

static void ms__takeover_wait_end(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    iotc_ms_finish(s, "broker", s->takeover_wait_reason);
}

void iotc_ms_connected_elsewhere(struct iotc_endpoint *ep, const char *client_id,
                                 const char *session_id)
{
    struct iotc_endpoint_mqtt_sess *s = iotc_strmap_get(ep->sessions, client_id);
    if (!s || s->state == IOTC_ENDPOINT_MS_DONE || strcmp(s->session_id, session_id) == 0)
        return; /* not held here, or our own event */
    if (s->takeover_wait)
        ms__taken_over(s);
    else
        s->elsewhere_ms = iotc_mono_ms();
}

/* With doors sharing a broker, mosquitto's close of a 3.1.1 link does not say that another
 * door's connect took the session over; that door's presence/connected event says it,
 * shortly after (it is published once the new CONNACK is in). So an unexplained close of a
 * live 3.1.1 session waits for such an event before it is called a broker close. */
static bool ms__await_takeover(struct iotc_endpoint_mqtt_sess *s, const char *reason)
{
    struct iotc_endpoint *ep = s->c->ep;
    if (s->state != IOTC_ENDPOINT_MS_LIVE || s->version == IOTC_MQTT_V5 ||
        !iotc_lifecycle_watches_takeovers(ep->lifecycle))
        return false;
    if (s->elsewhere_ms > 0 && iotc_mono_ms() - s->elsewhere_ms < IOTC_MS_TAKEOVER_WAIT_MS) {
        ms__taken_over(s);
        return true;
    }
    struct timeval tv = {IOTC_MS_TAKEOVER_WAIT_MS / 1000, (IOTC_MS_TAKEOVER_WAIT_MS % 1000) * 1000};
    s->takeover_wait = evtimer_new(ep->base, ms__takeover_wait_end, s);
    if (!s->takeover_wait || evtimer_add(s->takeover_wait, &tv) != 0)
        return false;
    s->takeover_wait_reason = reason;
    iotc_conn_read_enable(s->c, false); /* nothing more reaches the broker */
    return true;
}

void iotc_ms_broker_closed(void *arg, const char *reason)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    if (s->state == IOTC_ENDPOINT_MS_DONE || s->takeover_wait)
        return;
    if (s->taken_over || iotc_ep_shared_lost(s->c->ep, s->client_id, s->takeover_gen)) {
        ms__taken_over(s);
        return;
    }
    if (ms__await_takeover(s, reason))
        return;
    if (s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK) {
        iotc_ms_refuse(s, "broker-unavailable", reason, IOTC_MQTT_RC_SERVER_UNAVAILABLE,
                       IOTC_MQTT_V3_CONNACK_UNAVAILABLE);
        return;
    }
    iotc_ms_finish(s, "broker", reason);
}

void iotc_ms_broker_drain(void *arg)
{
    struct iotc_endpoint_mqtt_sess *s = arg;
    if (s->state != IOTC_ENDPOINT_MS_DONE && !s->inflight.paused && !s->takeover_wait)
        iotc_conn_read_enable(s->c, true);
}
