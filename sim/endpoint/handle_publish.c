/* PUBLISH both ways: AWS topic and size rules, iot:Publish / iot:RetainPublish, iot:Receive. */
#include "mqtt_session.h"
#include "mqtt_rules.h"
#include "common/err.h"
#include "common/jevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * AWS IoT sends no retained messages to wildcard subscriptions (reference section 3);
 * mosquitto does. The broker sets RETAIN on a PUBLISH only when it sends a retained
 * message because of a subscription (a live delivery or a queued one has RETAIN 0), and
 * it sends a SUBSCRIBE's retained messages right after that SUBSCRIBE's SUBACK. So a
 * retained message belongs to the SUBSCRIBE whose SUBACK came last, and reaches the
 * device only when that SUBSCRIBE named the topic itself: an earlier exact subscription
 * does not let a later wildcard one through. With no SUBACK yet on this connection (a
 * resumed persistent session), it is a redelivery for an earlier connection's SUBSCRIBE,
 * which this connection cannot tell apart from a wildcard one: it is withheld too.
 * A shared subscription ("$share/<group>/<topic>") never equals the topic either: AWS
 * sends no retained messages to shared subscriptions ("MQTT 5 supported features").
 */
static bool ms__retained_for_wildcard_only(struct iotc_endpoint_mqtt_sess *s,
                                           const struct iotc_mqtt_publish *p)
{
    if (!p->retain)
        return false;
    size_t i;
    json_t *flt;
    json_array_foreach(s->retain_filters, i, flt)
    {
        const char *f = json_string_value(flt);
        if (f && strlen(f) == p->topic.n && memcmp(f, p->topic.p, p->topic.n) == 0)
            return false;
    }
    return true;
}

/*
 * mosquitto follows MQTT, where "sport/#" also matches "sport"; AWS IoT's '#' is one or
 * more levels below the filter, never the parent. Counts the session's filters that
 * match the topic the MQTT way (*mqtt) and the AWS way (returned). Filters this endpoint
 * has not seen (a session from before this serve started) count in neither, and then
 * the message goes as the broker decided.
 */
static unsigned ms__matching_filters(const struct iotc_endpoint_mqtt_sess *s,
                                     struct iotc_span topic, unsigned *mqtt)
{
    unsigned aws = 0;
    const char *flt;
    json_t *v;
    *mqtt = 0;
    json_object_foreach(s->subscriptions, flt, v)
    {
        /* $share/<group>/<filter> matches as its filter does (AWS's shared subscriptions) */
        struct iotc_span f = iotc_rule_share_inner(iotc_span_str(flt));
        if (iotc_mqtt_topic_matches(f, topic)) {
            (*mqtt)++;
            aws += iotc_mqtt_topic_matches_aws(f, topic);
        }
    }
    return aws;
}

static uint64_t ms__fnv1a(uint64_t h, struct iotc_span b)
{
    for (size_t i = 0; i < b.n; i++)
        h = (h ^ b.p[i]) * 0x100000001b3ULL;
    return h;
}

/*
 * True when this copy exists only because a '#' matched its parent level. MQTT 3.1.1
 * sessions get one copy per message from mosquitto, so it is withheld when no filter
 * matches the AWS way. MQTT 5 sessions get one copy per matching filter, back to back:
 * of those N copies the first M (filters matching the AWS way) go through and the rest
 * are withheld, so "sport/#" + "sport" delivers "sport" once, as AWS does.
 */
static bool ms__parent_level_copy(struct iotc_endpoint_mqtt_sess *s,
                                  const struct iotc_mqtt_publish *p)
{
    unsigned n, m = ms__matching_filters(s, p->topic, &n);
    if (n == 0 || m == n)
        return false;
    if (s->version != IOTC_MQTT_V5)
        return m == 0;
    uint64_t key = ms__fnv1a(ms__fnv1a(0xcbf29ce484222325ULL, p->topic), p->payload) | 1;
    if (key != s->copies.key) {
        s->copies.key = key;
        s->copies.seen = 0;
    }
    bool withhold = ++s->copies.seen > m;
    if (s->copies.seen >= n)
        s->copies.key = 0; /* all N seen: the next identical message is a new one */
    return withhold;
}

/*
 * Whether a broker PUBLISH reaches the device: iot:Receive must allow it, a '#' filter
 * does not match its parent level, and a retained message goes only to exact subscriptions. A QoS 1
 * message held back is acknowledged to the broker on the device's behalf so it is not redelivered.
 */
bool iotc_ms_authorize_receive(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                               const uint8_t *pkt)
{
    struct iotc_mqtt_publish p;
    if (iotc_mqtt_publish_parse(pkt, f->total, s->version, &p) != IOTC_OK)
        return true;
    char topic[1024];
    snprintf(topic, sizeof topic, "%.*s", (int)p.topic.n, (const char *)p.topic.p);
    /* A '$' topic AWS does not define (the broker's $SYS tree) never reaches a device. */
    const char *withheld = iotc_rule_reserved(p.topic, IOTC_RESERVED_SUBSCRIBE);
    if (!withheld && ms__parent_level_copy(s, &p))
        withheld = "'#' does not match the parent level in AWS IoT";
    if (!withheld && ms__retained_for_wildcard_only(s, &p))
        withheld = "retained message for a wildcard subscription";
    if (withheld)
        iotc_conn_emit(s->c, IOTC_EV_MQTT_WITHHELD,
                       json_pack("{s:s, s:s}", "topic", topic, "reason", withheld));
    if (!withheld && iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_RECEIVE, topic, NULL))
        return true;
    if (p.qos == 1) {
        struct iotc_mqtt_ack a = {.type = IOTC_MQTT_PUBACK, .packet_id = p.packet_id};
        iotc_buf_reset(&s->out);
        if (iotc_mqtt_ack_encode(&s->out, s->version, &a) == IOTC_OK)
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
static int ms__authorize_publish(struct iotc_endpoint_mqtt_sess *s,
                                 const struct iotc_mqtt_publish *p)
{
    char topic[1024];
    snprintf(topic, sizeof topic, "%.*s", (int)p->topic.n, (const char *)p->topic.p);
    bool ok =
        iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_PUBLISH, topic, NULL) &&
        (!p->retain || iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_RETAIN_PUBLISH, topic, NULL));
    if (ok)
        return 0;
    if (s->version != IOTC_MQTT_V5) {
        iotc_ms_refuse(s, "policy", "iot:Publish not allowed by the principal's policies",
                       IOTC_MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    if (p->qos == 1) {
        struct iotc_mqtt_ack a = {.type = IOTC_MQTT_PUBACK,
                                  .packet_id = p->packet_id,
                                  .reason = IOTC_MQTT_RC_NOT_AUTHORIZED};
        iotc_buf_reset(&s->out);
        if (iotc_mqtt_ack_encode(&s->out, IOTC_MQTT_V5, &a) == IOTC_OK)
            iotc_ms_send_client(s, s->out.p, s->out.len);
    }
    return 2; /* answered here: not forwarded, the connection stays */
}

/*
 * AWS IoT Core's publish quotas (throttle.h): a PUBLISH over the connection's requests or
 * bytes per second, or the account's publishes per second, is not forwarded. MQTT 5 QoS 1
 * gets PUBACK 0x97 (Quota exceeded); QoS 0, and MQTT 3.1.1 QoS 1 (no reason code to send),
 * get nothing: the device's own retry delays the message. The connection stays (README
 * "Throttling"). A device that goes on publishing over its own quota persistently is
 * closed (THROTTLED; MQTT 5 gets DISCONNECT 0x97 first). Returns 0 (not throttled), 1 (the
 * connection was closed) or 2 (answered here).
 */
static int ms__throttled(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_publish *p,
                         size_t bytes)
{
    const char *limit = iotc_throttle_publish(s->c, s->client_id, bytes);
    if (!limit)
        return 0;
    if (s->version == IOTC_MQTT_V5 && p->qos == 1) {
        struct iotc_mqtt_ack a = {.type = IOTC_MQTT_PUBACK,
                                  .packet_id = p->packet_id,
                                  .reason = IOTC_MQTT_RC_QUOTA_EXCEEDED};
        iotc_buf_reset(&s->out);
        if (iotc_mqtt_ack_encode(&s->out, IOTC_MQTT_V5, &a) == IOTC_OK)
            iotc_ms_send_client(s, s->out.p, s->out.len);
    } else if (p->qos == 1) {
        iotc_ms_inflight_forget(s); /* never answered: the device's retry is a new one */
    }
    if (iotc_throttle_closes(s->c, limit)) {
        iotc_ms_refuse(s, "throttled", "publishing above the quota persistently",
                       IOTC_MQTT_RC_QUOTA_EXCEEDED, 0);
        return 1;
    }
    return 2;
}

/*
 * The Topic Alias property of a PUBLISH the codec refused, read without its checks:
 * the codec calls alias 0 a protocol error, MQTT 5 wants 0x94 for it. -1 when absent.
 */
static long ms__raw_alias(const uint8_t *pkt, const struct iotc_mqtt_frame *f)
{
    size_t i = f->header_len, end = f->total;
    if (end - i < 2)
        return -1;
    i += 2 + ((size_t)pkt[i] << 8 | pkt[i + 1]);
    if (((f->flags >> 1) & 3) > 0)
        i += 2;
    if (i >= end)
        return -1;
    uint32_t plen;
    int n = iotc_mqtt_varint_decode(pkt + i, end - i, &plen);
    if (n < 0 || plen > end - i - (size_t)n)
        return -1;
    struct iotc_span props = {pkt + i + n, plen};
    struct iotc_mqtt_prop pr;
    size_t cur = 0;
    while (iotc_mqtt_props_next(props, &cur, &pr) == 1)
        if (pr.id == IOTC_MQTT_PROP_TOPIC_ALIAS)
            return (long)pr.u32;
    return -1;
}

/*
 * MQTT 5 inbound topic aliases, per connection, up to the Topic Alias Maximum the
 * CONNACK advertised: a PUBLISH with a topic and an alias sets the mapping, one with an
 * empty topic uses it. Resolved here, before any rule or policy looks at the topic.
 * Returns 0 (p->topic is the real topic; *aliased says whether an alias was used) or 1
 * when the connection was refused.
 */
static int ms__resolve_alias(struct iotc_endpoint_mqtt_sess *s, struct iotc_mqtt_publish *p,
                             bool *aliased)
{
    struct iotc_mqtt_prop a;
    *aliased = false;
    if (s->version != IOTC_MQTT_V5 ||
        iotc_mqtt_props_find(p->props, IOTC_MQTT_PROP_TOPIC_ALIAS, &a) != 1)
        return 0;
    if (a.u32 == 0 || a.u32 > s->alias_max) {
        iotc_ms_refuse(s, "topic-alias", "Topic Alias 0 or above the Topic Alias Maximum",
                       IOTC_MQTT_RC_TOPIC_ALIAS_INVALID, 0);
        return 1;
    }
    if (!s->aliases && !(s->aliases = calloc((size_t)s->alias_max + 1, sizeof *s->aliases))) {
        iotc_ms_finish(s, "endpoint", "out of memory");
        return 1;
    }
    char **slot = &s->aliases[a.u32];
    if (p->topic.n == 0) {
        if (!*slot) {
            iotc_ms_refuse(s, "topic-alias", "Topic Alias used before it was set",
                           IOTC_MQTT_RC_PROTOCOL_ERROR, 0);
            return 1;
        }
        p->topic = iotc_span_str(*slot);
    } else {
        char *t = iotc_span_strdup(p->topic);
        if (!t) {
            iotc_ms_finish(s, "endpoint", "out of memory");
            return 1;
        }
        free(*slot);
        *slot = t;
    }
    *aliased = true;
    return 0;
}

/* The broker never sees an alias: the PUBLISH goes on with its topic and without it. */
static int ms__forward_resolved(struct iotc_endpoint_mqtt_sess *s,
                                const struct iotc_mqtt_publish *p)
{
    struct iotc_buf props = {0};
    struct iotc_mqtt_prop pr;
    size_t cur = 0;
    int rc;
    while ((rc = iotc_mqtt_props_next(p->props, &cur, &pr)) == 1)
        if (pr.id != IOTC_MQTT_PROP_TOPIC_ALIAS && (rc = iotc_mqtt_props_put(&props, &pr)))
            break;
    struct iotc_mqtt_publish out = *p;
    out.props.p = props.p;
    out.props.n = props.len;
    iotc_buf_reset(&s->out);
    if (rc == 0)
        rc = iotc_mqtt_publish_encode(&s->out, IOTC_MQTT_V5, &out);
    iotc_buf_free(&props);
    if (rc != IOTC_OK) {
        iotc_ms_finish(s, "endpoint", "cannot re-encode an aliased PUBLISH");
        return 1;
    }
    iotc_ms_send_broker(s, s->out.p, s->out.len);
    return 2;
}

int iotc_ms_check_publish(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                          const uint8_t *pkt)
{
    const struct iotc_limits *lim = &s->c->ep->profile.limits;
    struct iotc_mqtt_publish p;
    int prc = iotc_mqtt_publish_parse(pkt, f->total, s->version, &p);
    if (prc != IOTC_OK) {
        if (s->version == IOTC_MQTT_V5 && prc == IOTC_ERR_PROTOCOL && ms__raw_alias(pkt, f) == 0)
            iotc_ms_refuse(s, "topic-alias", "Topic Alias 0", IOTC_MQTT_RC_TOPIC_ALIAS_INVALID, 0);
        else
            iotc_ms_refuse(s, "malformed", "malformed PUBLISH", IOTC_MQTT_RC_MALFORMED, 0);
        return 1;
    }
    bool aliased;
    if (ms__resolve_alias(s, &p, &aliased))
        return 1;
    const char *why;
    if (p.qos == 2) {
        iotc_ms_refuse(s, "qos2", "QoS 2 is not supported by AWS IoT",
                       IOTC_MQTT_RC_QOS_NOT_SUPPORTED, 0);
        return 1;
    }
    if ((why = iotc_rule_topic(lim, p.topic))) {
        iotc_ms_refuse(s, "topic", why, IOTC_MQTT_RC_TOPIC_NAME_INVALID, 0);
        return 1;
    }
    if ((why = iotc_rule_reserved(p.topic, IOTC_RESERVED_PUBLISH))) {
        iotc_ms_refuse(s, "reserved-topic", why, IOTC_MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    if ((long long)p.payload.n > lim->max_payload_bytes) {
        iotc_ms_refuse(s, "payload-size", "payload larger than 128 KB",
                       IOTC_MQTT_RC_PACKET_TOO_LARGE, 0);
        return 1;
    }
    int trc = ms__throttled(s, &p, f->total);
    if (trc)
        return trc;
    int rc = ms__authorize_publish(s, &p);
    return rc == 0 && aliased ? ms__forward_resolved(s, &p) : rc;
}
