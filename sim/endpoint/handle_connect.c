/* CONNECT: AWS rules, authentication (X.509 done in TLS, or a custom authorizer), iot:Connect, the
 * stamped CONNECT to the broker. */
#include "mqtt_session.h"
#include "auth.h"
#include "mqtt_rules.h"
#include "broker_remote.h"
#include "wshared.h"
#include "common/err.h"
#include "common/stamp.h"
#include "common/strmap.h"
#include "common/jevents.h"
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ms__connect_authorized(struct iotc_endpoint_mqtt_sess *s,
                                  const struct iotc_mqtt_connect *cnp);
static int ms__start_custom_auth(struct iotc_endpoint_mqtt_sess *s,
                                 const struct iotc_mqtt_connect *cn, const uint8_t *pkt,
                                 size_t len);
static void ms__custom_auth_done(struct iotc_conn *c, bool allowed, const char *why);

/*
 * AWS delivers at most limits.inflight_qos1_max unacknowledged QoS 1 messages to a device
 * (README "Throttling"). mosquitto applies max_inflight_messages to a client that states no
 * Receive Maximum and the client's own value otherwise, so a larger one is left out of the
 * CONNECT the broker sees (*props: the properties to relay; props_buf holds a rewrite).
 */
static int ms__cap_receive_max(const struct iotc_endpoint_mqtt_sess *s, struct iotc_span *props,
                               struct iotc_buf *props_buf)
{
    long long max = s->c->ep->profile.limits.inflight_qos1_max;
    struct iotc_mqtt_prop pr;
    if (s->version != IOTC_MQTT_V5 || max <= 0 ||
        iotc_mqtt_props_find(*props, IOTC_MQTT_PROP_RECEIVE_MAXIMUM, &pr) != 1 ||
        pr.u32 <= (uint32_t)max)
        return IOTC_OK;
    size_t cur = 0;
    int rc;
    while ((rc = iotc_mqtt_props_next(*props, &cur, &pr)) == 1)
        if (pr.id != IOTC_MQTT_PROP_RECEIVE_MAXIMUM && (rc = iotc_mqtt_props_put(props_buf, &pr)))
            return rc;
    if (rc < 0)
        return rc;
    props->p = props_buf->p;
    props->n = props_buf->len;
    return IOTC_OK;
}

/* Marks the older session of the same client ID: mosquitto takes it over. */
static void ms__mark_takeover(struct iotc_endpoint_mqtt_sess *s)
{
    struct iotc_strmap *sessions = s->c->ep->sessions;
    struct iotc_endpoint_mqtt_sess *old = iotc_strmap_get(sessions, s->client_id);
    if (old && old != s && old->state != IOTC_ENDPOINT_MS_DONE)
        old->taken_over = true;
    iotc_strmap_put(sessions, s->client_id, s);
    s->takeover_gen = iotc_ep_shared_claim(s->c->ep, s->client_id);
}

int iotc_ms_on_connect(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                       const uint8_t *pkt)
{
    struct iotc_conn *c = s->c;
    const struct iotc_limits *lim = &c->ep->profile.limits;
    struct iotc_mqtt_connect cn;
    int rc = iotc_mqtt_connect_parse(pkt, f->total, &cn);
    if (rc == IOTC_ERR_UNSUPPORTED) {
        /* MQTT-3.1.2-2: answer an unknown protocol level with the 3.1.1 CONNACK code 1. */
        s->version = IOTC_MQTT_V311;
        iotc_ms_refuse(s, "protocol-version", "unsupported MQTT protocol level",
                       IOTC_MQTT_RC_UNSUPPORTED_VERSION, IOTC_MQTT_V3_CONNACK_BAD_VERSION);
        return 1;
    }
    if (rc != IOTC_OK) {
        iotc_ms_refuse(s, "malformed", "malformed CONNECT", IOTC_MQTT_RC_MALFORMED, 0);
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
    struct iotc_mqtt_prop sx;
    /* MQTT 5: whether the session outlives the connection is the expiry, not clean start */
    if (cn.version == IOTC_MQTT_V5 && jf)
        json_object_set_new(
            jf, IOTC_JF_SESSION_EXPIRY,
            json_integer(iotc_mqtt_props_find(cn.props, IOTC_MQTT_PROP_SESSION_EXPIRY, &sx) == 1
                             ? (json_int_t)sx.u32
                             : 0));
    iotc_conn_emit(c, IOTC_EV_MQTT_IN, jf);
    if (cn.version == IOTC_MQTT_V31) {
        iotc_ms_refuse(s, "protocol-version", "MQTT 3.1 is not supported (3.1.1 and 5 are)",
                       IOTC_MQTT_RC_UNSUPPORTED_VERSION, IOTC_MQTT_V3_CONNACK_BAD_VERSION);
        return 1;
    }
    const char *why = iotc_rule_client_id(lim, cn.client_id);
    if (why) {
        iotc_ms_refuse(s, "client-id", why, IOTC_MQTT_RC_CLIENT_ID_NOT_VALID,
                       IOTC_MQTT_V3_CONNACK_ID_REJECTED);
        return 1;
    }
    /* MQTT-3.1.3-8: an empty client ID cannot carry a session over (3.1.1, clean session 0) */
    if (cn.client_id.n == 0 && cn.version != IOTC_MQTT_V5 && !cn.clean_start) {
        iotc_ms_refuse(s, "client-id", "an empty client ID needs clean session 1",
                       IOTC_MQTT_RC_CLIENT_ID_NOT_VALID, IOTC_MQTT_V3_CONNACK_ID_REJECTED);
        return 1;
    }
    if (cn.will && ((why = iotc_rule_topic(lim, cn.will_topic)) ||
                    (long long)cn.will_payload.n > lim->max_payload_bytes || cn.will_qos > 1)) {
        iotc_ms_refuse(s, "will", why ? why : "will payload too large or QoS 2",
                       why ? IOTC_MQTT_RC_TOPIC_NAME_INVALID : IOTC_MQTT_RC_QOS_NOT_SUPPORTED,
                       IOTC_MQTT_V3_CONNACK_UNAVAILABLE);
        return 1;
    }
    if (!iotc_conn_principal(c)[0]) {
        if (c->tr.mode != IOTC_MODE_MQTT_CUSTOM) {
            iotc_ms_refuse(s, "authentication", "no authenticated principal",
                           IOTC_MQTT_RC_NOT_AUTHORIZED, IOTC_MQTT_V3_CONNACK_NOT_AUTHORIZED);
            return 1;
        }
        return ms__start_custom_auth(s, &cn, pkt, f->total);
    }
    return ms__connect_authorized(s, &cn);
}

/* iot:ConnectAttributes: LastWill when a will is set, PersistentConnect when the session
 * outlives the connection (3.1.1 clean session 0; MQTT 5 session expiry above 0). */
static void ms__connect_attributes(struct iotc_conn *c, const struct iotc_mqtt_connect *cn)
{
    bool persistent = !cn->clean_start;
    if (cn->version == IOTC_MQTT_V5) {
        struct iotc_mqtt_prop pr;
        persistent =
            iotc_mqtt_props_find(cn->props, IOTC_MQTT_PROP_SESSION_EXPIRY, &pr) == 1 && pr.u32 > 0;
    }
    c->auth.n_connect_attrs = 0;
    if (cn->will)
        c->auth.connect_attrs[c->auth.n_connect_attrs++] = "LastWill";
    if (persistent)
        c->auth.connect_attrs[c->auth.n_connect_attrs++] = "PersistentConnect";
}

/*
 * AWS authorizes the will at CONNECT, as part of the connect decision: the iot:Connect
 * statement must allow the LastWill attribute (checked by iot:Connect itself, through
 * iot:ConnectAttributes), the will topic must not be a reserved lifecycle topic, and it
 * needs iot:Publish (and iot:RetainPublish when retained). A refused will refuses the
 * connection the way a refused iot:Connect does. Returns NULL when allowed.
 */
static const char *ms__will_refusal(struct iotc_endpoint_mqtt_sess *s,
                                    const struct iotc_mqtt_connect *cn, const char *cid)
{
    if (!cn->will)
        return NULL;
    char topic[1024];
    snprintf(topic, sizeof topic, "%.*s", (int)cn->will_topic.n, (const char *)cn->will_topic.p);
    /* The same reserved-topic rule as a PUBLISH: a will is a publish the endpoint makes
     * for the device later. */
    const char *reserved = iotc_rule_reserved(cn->will_topic, IOTC_RESERVED_PUBLISH);
    if (reserved) {
        iotc_conn_emit(s->c, IOTC_EV_POLICY_DENY,
                       json_pack("{s:s, s:s, s:s?, s:s}", "action", "iot:Publish", "resource",
                                 topic, "client_id", cid, "reason", reserved));
        return "will topic is a reserved topic";
    }
    if (!iotc_conn_allowed(s->c, cid, IOTC_ACT_PUBLISH, topic, NULL))
        return "iot:Publish on the will topic not allowed by the principal's policies";
    if (cn->will_retain && !iotc_conn_allowed(s->c, cid, IOTC_ACT_RETAIN_PUBLISH, topic, NULL))
        return "iot:RetainPublish on the retained will's topic not allowed by the principal's "
               "policies";
    return NULL;
}

/*
 * AWS IoT Core keeps an MQTT 5 session at most 7 days (profile limits.max_session_expiry_s).
 * A longer Session Expiry Interval (0xFFFFFFFF = never) is cut to the cap before the broker
 * sees it, and the CONNACK returns the interval used (MQTT 5 3.2.2.3.2). Fills *props with
 * the rewritten block only when it cut; non-zero when the block cannot be rebuilt.
 */
static int ms__cap_session_expiry(struct iotc_endpoint_mqtt_sess *s,
                                  const struct iotc_mqtt_connect *cn, struct iotc_buf *props)
{
    long long cap = s->c->ep->profile.limits.max_session_expiry_s;
    struct iotc_mqtt_prop p;
    size_t cur = 0;
    int rc;
    s->session_expiry_cut = -1;
    if (cn->version != IOTC_MQTT_V5 ||
        iotc_mqtt_props_find(cn->props, IOTC_MQTT_PROP_SESSION_EXPIRY, &p) != 1 ||
        (long long)p.u32 <= cap)
        return 0;
    while ((rc = iotc_mqtt_props_next(cn->props, &cur, &p)) == 1) {
        if (p.id == IOTC_MQTT_PROP_SESSION_EXPIRY)
            p.u32 = (uint32_t)cap;
        if ((rc = iotc_mqtt_props_put(props, &p)))
            return rc;
    }
    if (rc < 0)
        return rc;
    if (!props->p && iotc_buf_reserve(props, 1))
        return IOTC_ERR_NOMEM;
    s->session_expiry_cut = cap;
    return 0;
}

/* The device is authenticated: authorize iot:Connect and open its broker session. */
static int ms__connect_authorized(struct iotc_endpoint_mqtt_sess *s,
                                  const struct iotc_mqtt_connect *cnp)
{
    struct iotc_conn *c = s->c;
    const struct iotc_limits *lim = &c->ep->profile.limits;
    struct iotc_mqtt_connect cn = *cnp;
    ms__connect_attributes(c, &cn);
    if (cn.client_id.n == 0) {
        /* The endpoint assigns the ID (MQTT 5 returns it in CONNACK). A UUID, never a
         * counter: a counter restarts with serve and would hand a new device the
         * persistent session of an old one. */
        char id[48], uuid[37];
        iotc_uuid4(uuid);
        snprintf(id, sizeof id, "iotconform-%s", uuid);
        s->client_id = strdup(id);
        s->assigned_id = true;
    } else {
        s->client_id = iotc_span_strdup(cn.client_id);
    }
    if (!s->client_id)
        return iotc_ms_finish(s, "endpoint", "out of memory"), 1;
    /* AWS IoT Core's CONNECT quotas (per client ID, per account), before authorization: a
     * throttled CONNECT gets CONNACK 0x97 on MQTT 5 and, like AWS's other 3.1.1 refusals,
     * a close without CONNACK on 3.1.1 (README "Throttling"). */
    if (iotc_throttle_connect(c, s->client_id)) {
        iotc_ms_refuse(s, "throttled", "CONNECT rate above the quota", IOTC_MQTT_RC_QUOTA_EXCEEDED,
                       IOTC_ENDPOINT_MS_NO_CONNACK);
        return 1;
    }
    /* iot:Connect is evaluated against the ID the session gets, assigned ones included. */
    if (!iotc_conn_allowed(c, s->client_id, IOTC_ACT_CONNECT, s->client_id, NULL)) {
        iotc_ms_refuse(s, "policy", "iot:Connect not allowed by the principal's policies",
                       IOTC_MQTT_RC_NOT_AUTHORIZED, IOTC_ENDPOINT_MS_NO_CONNACK);
        return 1;
    }
    const char *will_why = ms__will_refusal(s, &cn, s->client_id);
    if (will_why) {
        iotc_ms_refuse(s, "policy", will_why, IOTC_MQTT_RC_NOT_AUTHORIZED,
                       IOTC_ENDPOINT_MS_NO_CONNACK);
        return 1;
    }
    if (!iotc_ep_broker_ready(c->ep)) {
        iotc_ms_refuse(s, "broker-unavailable", "broker is restarting",
                       IOTC_MQTT_RC_SERVER_UNAVAILABLE, IOTC_MQTT_V3_CONNACK_UNAVAILABLE);
        return 1;
    }
    char stamp[IOTC_STAMP_LEN + 1];
    if (iotc_stamp_make(iotc_ep_broker_secret(c->ep), IOTC_STAMP_SECRET_LEN, s->client_id,
                        strlen(s->client_id), iotc_conn_principal(c),
                        strlen(iotc_conn_principal(c)), stamp)) {
        iotc_ms_finish(s, "endpoint", "cannot stamp identity");
        return 1;
    }
    struct iotc_mqtt_connect out = cn;
    struct iotc_buf props = {0};
    if (ms__cap_session_expiry(s, &cn, &props)) {
        iotc_buf_free(&props);
        iotc_ms_finish(s, "endpoint", "cannot rewrite the CONNECT's properties");
        return 1;
    }
    if (props.p)
        out.props = (struct iotc_span){props.p, props.len};
    out.client_id = iotc_span_str(s->client_id);
    out.has_username = true;
    out.username = iotc_span_str(iotc_conn_principal(c));
    out.has_password = true;
    out.password = iotc_span_str(stamp);
    /* The front door owns keep-alive; the broker's timer is a backstop set well beyond it. */
    out.keepalive = s->ka_effective > 32767 ? 65535 : (uint16_t)(s->ka_effective * 2);
    struct iotc_buf props_buf = {0};
    iotc_buf_reset(&s->out);
    int erc = ms__cap_receive_max(s, &out.props, &props_buf);
    if (erc == IOTC_OK)
        erc = iotc_mqtt_connect_encode(&s->out, &out);
    iotc_buf_free(&props_buf);
    iotc_buf_free(&props);
    if (erc != IOTC_OK) {
        iotc_ms_finish(s, "endpoint", "cannot encode CONNECT");
        return 1;
    }
    struct iotc_blink_cbs cbs = {iotc_ms_broker_packet, iotc_ms_broker_closed, iotc_ms_broker_drain,
                                 s};
    if (iotc_ep_blink_open(c->ep, &cbs, &s->link)) {
        iotc_ms_refuse(s, "broker-unavailable", "cannot reach the broker",
                       IOTC_MQTT_RC_SERVER_UNAVAILABLE, IOTC_MQTT_V3_CONNACK_UNAVAILABLE);
        return 1;
    }
    ms__mark_takeover(s);
    s->state = IOTC_ENDPOINT_MS_WAIT_CONNACK;
    iotc_ms_send_broker(s, s->out.p, s->out.len);
    iotc_ms_arm(s, (double)lim->connect_timeout_ms);
    return 0;
}

/*
 * MQTT with ALPN "mqtt" on 443: the username carries the authorizer's name, token and
 * signature. The authorizer runs as a child process, so the CONNECT is kept and
 * finished when it answers; anything the device sends meanwhile breaks the
 * "nothing before CONNACK" rule.
 */
static int ms__start_custom_auth(struct iotc_endpoint_mqtt_sess *s,
                                 const struct iotc_mqtt_connect *cn, const uint8_t *pkt, size_t len)
{
    iotc_errtext why; /* once per CONNECT: no 4 KB memset (the callee clears it) */
    iotc_errtext_clear(&why);
    char *user = cn->has_username ? iotc_span_strdup(cn->username) : NULL;
    char *cid = iotc_span_strdup(cn->client_id);
    struct iotc_auth_input in = {.mqtt_username = user,
                                 .mqtt_password = cn->password.p,
                                 .mqtt_password_len = cn->password.n,
                                 .has_password = cn->has_password,
                                 .mqtt_client_id = cid};
    iotc_buf_reset(&s->connect_pkt);
    int rc = iotc_buf_append(&s->connect_pkt, pkt, len);
    if (rc == IOTC_OK)
        rc = iotc_auth_custom_start(s->c, &in, ms__custom_auth_done, &why);
    free(user);
    free(cid);
    if (rc != IOTC_OK) {
        iotc_ms_refuse(s, "authentication", why.msg, IOTC_MQTT_RC_NOT_AUTHORIZED,
                       IOTC_MQTT_V3_CONNACK_NOT_AUTHORIZED);
        return 1;
    }
    s->state = IOTC_ENDPOINT_MS_AUTHORIZING;
    return 0;
}

static void ms__custom_auth_done(struct iotc_conn *c, bool allowed, const char *why)
{
    struct iotc_endpoint_mqtt_sess *s = c->sess.data;
    if (!s || s->state != IOTC_ENDPOINT_MS_AUTHORIZING)
        return;
    s->state = IOTC_ENDPOINT_MS_WAIT_CONNECT; /* refusals below still answer with a CONNACK */
    if (!allowed) {
        iotc_ms_refuse(s, "authentication", why, IOTC_MQTT_RC_NOT_AUTHORIZED,
                       IOTC_MQTT_V3_CONNACK_NOT_AUTHORIZED);
        return;
    }
    struct iotc_mqtt_connect cn;
    if (iotc_mqtt_connect_parse(s->connect_pkt.p, s->connect_pkt.len, &cn) != IOTC_OK) {
        iotc_ms_finish(s, "endpoint", "lost the CONNECT");
        return;
    }
    /* The username held the authorizer's credentials: the broker never sees them. */
    ms__connect_authorized(s, &cn);
}
