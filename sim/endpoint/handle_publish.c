/* PUBLISH both ways: AWS topic and size rules, iot:Publish / iot:RetainPublish, iot:Receive. */
#include "mqtt_session.h"
#include "mqtt_rules.h"
#include "common/err.h"
#include "common/jevents.h"

#include <stdio.h>
#include <string.h>

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
bool iotc_ms_authorize_receive(struct mqtt_sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    struct mqtt_publish p;
    if (mqtt_publish_parse(pkt, f->total, s->version, &p) != IOTC_OK)
        return true;
    char topic[1024];
    snprintf(topic, sizeof topic, "%.*s", (int)p.topic.n, (const char *)p.topic.p);
    bool wildcard_retained = ms__retained_for_wildcard_only(s, &p, topic);
    if (wildcard_retained)
        iotc_conn_emit(s->c, IOTC_EV_MQTT_WITHHELD,
                       json_pack("{s:s, s:s}", "topic", topic, "reason",
                                 "retained message for a wildcard subscription"));
    if (!wildcard_retained &&
        iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_RECEIVE, topic, NULL, 0))
        return true;
    if (p.qos == 1) {
        struct mqtt_ack a = {.type = MQTT_PUBACK, .packet_id = p.packet_id};
        iotc_buf_reset(&s->out);
        if (mqtt_ack_encode(&s->out, s->version, &a) == IOTC_OK)
            iotc_ms_send_broker(s, s->out.p, s->out.len);
    }
    return false;
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
        iotc_ms_refuse(s, "policy", "iot:Publish not allowed by the principal's policies",
                       MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    if (p->qos == 1) {
        struct mqtt_ack a = {
            .type = MQTT_PUBACK, .packet_id = p->packet_id, .reason = MQTT_RC_NOT_AUTHORIZED};
        iotc_buf_reset(&s->out);
        if (mqtt_ack_encode(&s->out, MQTT_V5, &a) == IOTC_OK)
            iotc_ms_send_client(s, s->out.p, s->out.len);
    }
    return 2; /* answered here: not forwarded, the connection stays */
}

int iotc_ms_check_publish(struct mqtt_sess *s, const struct mqtt_frame *f, const uint8_t *pkt)
{
    const struct iotc_limits *lim = &s->c->ep->profile.limits;
    struct mqtt_publish p;
    if (mqtt_publish_parse(pkt, f->total, s->version, &p) != IOTC_OK) {
        iotc_ms_refuse(s, "malformed", "malformed PUBLISH", MQTT_RC_MALFORMED, 0);
        return 1;
    }
    const char *why;
    if (p.qos == 2) {
        iotc_ms_refuse(s, "qos2", "QoS 2 is not supported by AWS IoT", MQTT_RC_QOS_NOT_SUPPORTED,
                       0);
        return 1;
    }
    if ((why = iotc_rule_topic(lim, p.topic))) {
        iotc_ms_refuse(s, "topic", why, MQTT_RC_TOPIC_NAME_INVALID, 0);
        return 1;
    }
    if (p.topic.n >= 12 && memcmp(p.topic.p, "$aws/events/", 12) == 0) {
        iotc_ms_refuse(s, "reserved-topic", "lifecycle event topics are reserved for AWS IoT",
                       MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    if ((long long)p.payload.n > lim->max_payload_bytes) {
        iotc_ms_refuse(s, "payload-size", "payload larger than 128 KB", MQTT_RC_PACKET_TOO_LARGE,
                       0);
        return 1;
    }
    return ms__authorize_publish(s, &p);
}
